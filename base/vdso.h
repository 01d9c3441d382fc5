/*
 * vdso.h - the kernel's clock_gettime, called in the vDSO without the C
 * library's wrapper.
 *
 * The wrapper is a few instructions that call the same vDSO function, but on
 * Debian 12's libc it lies in a stretch of libc's text that a program such as
 * `true` never runs: start-up's first clock reading made 128 KiB of libc's
 * text resident (docs/benchmarks.md, round seven). The vDSO is an ELF image
 * the kernel maps into every process (getauxval(AT_SYSINFO_EHDR)); its
 * dynamic symbol table names the function. Where there is none (a kernel
 * booted with vdso=0, valgrind, an architecture not named in vdso.c), the C
 * library's clock_gettime is used.
 */
#ifndef NUMA_ALLOC_VDSO_H
#define NUMA_ALLOC_VDSO_H

#include <time.h>

/* clock_gettime(id, ts) through the vDSO when it has it: 0, or -errno (not errno). */
int vdso_clock_gettime(clockid_t id, struct timespec *ts);

/* Whether vdso_clock_gettime calls the vDSO (found on first use); for tests. */
int vdso_clock_found(void);

#endif
