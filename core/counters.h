/*
 * counters.h - the counters one at a time (include/numa_alloc.h's counter
 * API): read in place, with no snapshot buffer, no allocation and no lock
 * but the thread registry's, so any thread and a signal handler may ask.
 *
 * Every value is read whole (COUNT in thread_cache.h, relaxed loads of the
 * heaps' fields); a pass over the threads is one hold of the registry lock,
 * so no thread's counts are seen twice or lost while it exits, but threads
 * that keep allocating are read one after another, not at one instant.
 */
#ifndef NUMA_ALLOC_COUNTERS_H
#define NUMA_ALLOC_COUNTERS_H

#include "core/stats.h"

#include <stdint.h>

/*
 * The counts of one slot (slot < na_region.num_slots), or of every slot
 * summed (COUNTERS_ALL_SLOTS; peaks are then the sum of the nodes' peaks),
 * without a census (`verified` stays 0). 0, or -1 with errno = EAGAIN when
 * the calling thread holds the registry lock (a signal handler interrupted
 * it there).
 */
#define COUNTERS_ALL_SLOTS (-1)
int counters_node(int slot, struct node_stats *out);

/* The calling thread's own counts, from its thread-local state: no lock. */
void counters_current_thread(struct thread_stats *out);

/*
 * Calls emit(t, arg) for every live thread, in one hold of the registry
 * lock; *exited: the threads that have exited. The number of live threads,
 * or -1 as counters_node.
 */
int counters_threads(void (*emit)(const struct thread_stats *t, void *arg), void *arg,
                     uint64_t *exited);

#endif
