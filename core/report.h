/*
 * report.h - messages about misuse (double free, invalid pointer), written
 * with write(2): they may be raised from inside malloc, so no stdio.
 */
#ifndef NUMA_ALLOC_REPORT_H
#define NUMA_ALLOC_REPORT_H

/* "numa-alloc: <what>: 0x<ptr>" on stderr. */
void report_pointer(const char *what, const void *ptr);

/* The same, then abort(): like glibc, a corrupted heap must not run on. */
void report_invalid_pointer(const char *what, const void *ptr) __attribute__((noreturn));

/* "numa-alloc: assertion failed: file:line: expr", then abort() (NA_ASSERT, core/debug.h). */
void report_assert_failed(const char *file, int line, const char *expr) __attribute__((noreturn));

/* "numa-alloc: <msg>" on stderr. */
void report_warning(const char *msg);

#endif
