/*
 * debug.h - assertions on the allocator's invariants, for debug builds.
 *
 * NA_ASSERT(expr) checks expr only when the library is built with
 * -DNUMA_ALLOC_DEBUG=ON (cmake option of that name): a failure prints
 * "numa-alloc: assertion failed: file:line: expr" with write(2) and aborts.
 * In other builds it compiles to nothing (the expression is not evaluated),
 * so an assertion may be as expensive as it needs to be. The invariants it
 * checks are the ones stated beside each structure (core/layout.h,
 * core/node_heap.h); heap_check_all (core/heap_check.h) checks them all.
 */
#ifndef NUMA_ALLOC_DEBUG_H
#define NUMA_ALLOC_DEBUG_H

#include "base/report.h"

#ifdef NUMA_ALLOC_DEBUG
#define NA_ASSERT(expr)                                                                            \
    (__builtin_expect(!!(expr), 1) ? (void)0 : report_assert_failed(__FILE__, __LINE__, #expr))
#else
/* sizeof: the expression is type-checked but never evaluated, and its variables count as used. */
#define NA_ASSERT(expr) ((void)sizeof(!(expr)))
#endif

#endif
