/*
 * heap_check.h - the whole-heap consistency check (debug builds and tests).
 *
 * heap_check_all walks every node heap: its segments from the slot's first
 * to the bump frontier, every span of every SEG_PAGES segment, every slab's
 * bitmap, the free-run lists, the dirty list, the free segment runs, the
 * class_slabs' partial lists and spares, and the calling thread's own caches, and checks
 * the invariants of core/layout.h, core/node_heap.h and docs/architecture.md
 * against each other. On the first violation it prints what is wrong, where
 * (the address) and which check (file:line), and aborts. It takes every lock
 * of a heap while it checks it, so it may run while other threads allocate.
 *
 * Cost: proportional to the committed address space (every segment header is
 * read): a test and debugging tool, never called by the allocator itself.
 * Exported as numa_alloc_debug_check() in NUMA_ALLOC_DEBUG builds only
 * (interpose/debug_api.c); in Release it is a hidden symbol nobody calls.
 */
#ifndef NUMA_ALLOC_HEAP_CHECK_H
#define NUMA_ALLOC_HEAP_CHECK_H

#include <stddef.h>

/* Returns the number of segments checked (0 before initialisation); aborts on a violation. */
size_t heap_check_all(void);

#endif
