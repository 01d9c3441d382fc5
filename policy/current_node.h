/*
 * current_node.h - which slot (node heap) the calling thread should use now.
 *
 * The CPU comes from the thread's rseq area, which glibc 2.35+ registers and
 * the kernel keeps current on every migration: one TLS load, no system call.
 * Without rseq (older glibc, glibc.pthread.rseq=0) sched_getcpu() is used.
 * The CPU then maps to a slot through a table built from sysfs.
 */
#ifndef NUMA_ALLOC_CURRENT_NODE_H
#define NUMA_ALLOC_CURRENT_NODE_H

#include "policy/topology.h"

#include <stddef.h>

/* Offset of rseq's cpu_id from the thread pointer, or 0 when rseq is unusable. */
extern ptrdiff_t na_current_rseq_cpu_offset;

int current_cpu_slow(void);
void current_node_init(void);

static inline int current_cpu(void)
{
    ptrdiff_t off = na_current_rseq_cpu_offset;
    if (__builtin_expect(off != 0, 1)) {
        int cpu = *(volatile int *)((char *)__builtin_thread_pointer() + off);
        if (__builtin_expect(cpu >= 0, 1))
            return cpu;
    }
    return current_cpu_slow();
}

static inline struct cpu_route current_route(void)
{
    unsigned cpu = (unsigned)current_cpu();
    /* A CPU no node listed at start-up (hot-plugged since) allocates as CPU 0. */
    return na_topo.cpu[cpu < (unsigned)na_topo.num_cpus ? cpu : 0];
}

/* The slot the policy gives the calling thread (any slot: for the slow paths). */
static inline unsigned current_slot(void)
{
    unsigned cpu = (unsigned)current_cpu();
    return __atomic_load_n(&na_topo.cpu[cpu < (unsigned)na_topo.num_cpus ? cpu : 0].policy_slot,
                           __ATOMIC_RELAXED);
}

#endif
