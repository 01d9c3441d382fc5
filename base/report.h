/*
 * report.h - messages about misuse (double free, invalid pointer), written
 * with write(2): they may be raised from inside malloc, so no stdio.
 */
#ifndef NUMA_ALLOC_REPORT_H
#define NUMA_ALLOC_REPORT_H

#include "base/compiler.h"

#include <stdint.h>
#include <stdlib.h>

/* "numa-alloc: <what>: 0x<ptr>" on report_output_fd (the start-up stderr). */
NA_COLD void report_pointer(const char *what, const void *ptr);

/* The same, then abort(): like glibc, a corrupted heap must not run on. */
NA_COLD void report_invalid_pointer(const char *what, const void *ptr) __attribute__((noreturn));

/* "numa-alloc: assertion failed: file:line: expr", then abort() (NA_ASSERT, base/debug.h). */
NA_COLD void report_assert_failed(const char *file, int line, const char *expr)
    __attribute__((noreturn));

/*
 * Remembers what fd 2 refers to at start-up: our output goes there. Called
 * first thing at start-up, so that even the warnings about options use it;
 * again (the first time does the work) by report_output_fd if a message
 * comes earlier.
 */
void report_output_init(void);

/*
 * Output at exit is to go to stderr (NUMA_ALLOC_STATS=stderr, a profile to
 * stderr): duplicates fd 2, if it is still the start-up stderr, at a high
 * number and close-on-exec, so that the output reaches it after the
 * program closed fd 2 (coreutils' close_stdout). The only descriptor the
 * library keeps open, and only then.
 */
void report_output_keep(void);

/*
 * The descriptor our messages and NUMA_ALLOC_STATS=stderr go to: fd 2 while
 * it is a stderr (open, not close-on-exec: the start-up one or the program's
 * redirection); once the program has closed it, our duplicate of the
 * start-up stderr. -1 when there is none: fd 2 was not open at start-up, or
 * both are gone (the duplicate's number now holds a file of the program's,
 * which we must not write into).
 */
int report_output_fd(void);

/* "numa-alloc: <msg>" on report_output_fd, in one write (cut at 640 bytes). */
NA_COLD void report_warning(const char *msg);

/*
 * Output of ours that could not be written (a message, the statistics, a
 * live-statistics file): dropped quietly, never retried, never a signal;
 * counted here and shown as output.failed_writes in the statistics.
 */
void report_failed_write(void);
uint64_t report_failed_writes(void);

/*
 * An internal contract (a caller's duty, such as ALLOC_MAX_REQUEST) broken:
 * a bug of ours, reported and aborted on rather than turned into memory
 * corruption. For slow paths only; the check is one compare.
 */
#define CONTRACT_ASSERT(cond)                                                                      \
    do {                                                                                           \
        if (__builtin_expect(!(cond), 0)) {                                                        \
            report_warning("internal error: " __FILE__ ": " #cond);                                \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#endif
