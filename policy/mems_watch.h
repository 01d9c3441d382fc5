/*
 * mems_watch.h - noticing that the cpuset's memory nodes changed while the
 * program runs (cgroup v2 cpuset.mems rewritten, as container orchestrators
 * do), and re-folding the placement tables over the nodes that are left.
 *
 * Noticed on the allocator's slow paths, at most MEMS_WATCH_INTERVAL_MS
 * after the change once any thread takes one: each call reads the clock and,
 * when a check is due and no other thread is checking (a try-lock: nobody
 * waits), re-reads the calling thread's Mems_allowed (get_mempolicy, else
 * /proc/self/status). "After the change" is after the kernel changed that
 * thread's set: a write to cpuset.mems rewrites the threads' sets one after
 * another, and under cgroup v2 moves the pages between two of them, so a
 * thread can see the old set well after another sees the new one
 * (placement_cpuset_change waits for every thread's). On a change:
 *  - it is counted (mems_watch_changes, the statistics);
 *  - na_topo.allowed[] shows the new set;
 *  - a slot whose node left gets no new memory: placement_apply routes
 *    every CPU, the interleave sequence and the fallbacks over the slots
 *    that are left, and alloc_with_fallback sends what still names it
 *    (realloc, numa_malloc racing the change) to the fallbacks;
 *  - a slot whose node came back has its range and its own mappings bound
 *    to the node again (the `rebind` callback, given at init) before any
 *    route leads to it;
 *  - a node that joins without a slot (it was outside the set at start-up,
 *    so no address range was reserved for it) cannot be served until the
 *    program restarts: counted in mems_watch_unserved_joins.
 * When no slot is left usable (cgroups refuse an empty cpuset.mems; a node
 * that lost its memory might) the tables stay as they were.
 */
#ifndef NUMA_ALLOC_MEMS_WATCH_H
#define NUMA_ALLOC_MEMS_WATCH_H

#include "base/lock.h"

#include <stdint.h>

/* The documented bound: a change is acted on this long after it, on the next slow path. */
#define MEMS_WATCH_INTERVAL_MS 100

/*
 * After placement_init, at start-up. `rebind(slot)`: bind the slot's memory
 * to its node again (called with the watch lock held and no other).
 * Without a readable Mems_allowed there is nothing to watch.
 */
void mems_watch_init(void (*rebind)(unsigned slot));

/* From a slow path, with no allocator lock held; never waits, never changes errno. */
void mems_watch_tick(void);

/* Checks made so far (whether or not anything changed); for the tests and statistics. */
uint64_t mems_watch_checks(void);
/* Changes of Mems_allowed seen. */
uint64_t mems_watch_changes(void);
/* Nodes with memory that joined the set without a slot (not served until restart). */
uint64_t mems_watch_unserved_joins(void);

/* The watch lock, for fork only: held across it (core/alloc.c), reset in the child. */
na_lock_t *mems_watch_lock(void);

#endif
