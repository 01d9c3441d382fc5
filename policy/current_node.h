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

#include "base/compiler.h"

#include "policy/topology.h"

#include <stddef.h>

/*
 * Where the thread's CPU number lies, as an offset from the thread pointer
 * (the same for every thread: initial-exec TLS): rseq's cpu_id, which the
 * kernel keeps current (glibc 2.35+ registers rseq), or, without rseq, that
 * of a thread variable that always reads -1. 0 until current_node_init: the
 * word there (the thread control block's self pointer) is then no CPU the
 * table has, as none has any entry yet (na_topo.num_cpus is 0 until
 * topology_init, which runs first).
 */
extern NA_HIDDEN ptrdiff_t na_current_cpu_offset;

int current_cpu_slow(void);
void current_node_init(void);

/*
 * The word at na_current_cpu_offset: the CPU, when it is below
 * na_topo.num_cpus; anything else (-1 without rseq or before the start, a CPU
 * hot-plugged since) needs current_cpu. One load on x86-64 (%fs-relative).
 */
/* Not in the debug build: UBSan takes a %fs-relative address below 4 KiB for a null pointer. */
static inline unsigned current_cpu_word(void)
{
#if defined(__x86_64__) && defined(__SEG_FS) && !defined(NUMA_ALLOC_DEBUG)
    return *(volatile const unsigned __seg_fs *)na_current_cpu_offset;
#else
    return *(volatile const unsigned *)((char *)__builtin_thread_pointer() + na_current_cpu_offset);
#endif
}

static inline int current_cpu(void)
{
    if (__builtin_expect(na_current_cpu_offset != 0, 1)) {
        int cpu = (int)current_cpu_word();
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
