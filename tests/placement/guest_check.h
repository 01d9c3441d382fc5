/*
 * guest_check.h - what the guest's placement programs (placement_check.c,
 * value_check.c) share: a failure counter with its EXPECT, touching an
 * object's pages, and asking the kernel where they lie (move_pages in query
 * mode, through libnuma: independent of the allocator).
 */
#ifndef NUMA_ALLOC_GUEST_CHECK_H
#define NUMA_ALLOC_GUEST_CHECK_H

#include <errno.h>
#include <numa.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PAGE      4096UL
#define MAX_NODES 1024 /* node ids: Linux's MAX_NUMNODES (CONFIG_NODES_SHIFT=10) */

static int failures;

#define EXPECT(cond, ...)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            printf("FAIL %s:%d: ", __func__, __LINE__);                                            \
            printf(__VA_ARGS__);                                                                   \
            printf("\n");                                                                          \
            __atomic_add_fetch(&failures, 1, __ATOMIC_RELAXED);                                    \
        }                                                                                          \
    } while (0)

/* Writes every page of the object, so that each exists. */
static inline void touch(void *p, size_t size)
{
    char *c = p;
    for (size_t off = 0; off < size; off += PAGE)
        c[off] = 1;
    c[size - 1] = 1;
}

#define CENSUS_BATCH 512 /* pages per move_pages call: on the stack, so it never allocates */

/*
 * A page the kernel is migrating (compaction moves pages within their node,
 * and kcompactd runs on a node that fills up) has a migration entry for a
 * moment, which move_pages reports as -ENOENT, as if it were not there
 * (Linux 6.1 do_pages_stat_array; an untouched page reads -EFAULT). Asks
 * again for those, up to about 50 ms per batch, so that the census counts
 * where the page lies, not that it was in flight (seen in CI: one page of a
 * full node, with forced compaction reproduced in a few runs).
 */
static inline void settle_migrating(void **pages, int *status, size_t n)
{
    for (int round = 0; round < 50; round++) {
        void *again[CENSUS_BATCH];
        int again_status[CENSUS_BATCH];
        size_t where[CENSUS_BATCH], m = 0;
        for (size_t i = 0; i < n; i++)
            if (status[i] == -ENOENT) {
                where[m] = i;
                again[m++] = pages[i];
            }
        if (m == 0)
            return;
        struct timespec pause = {0, 1000000};
        nanosleep(&pause, NULL);
        if (numa_move_pages(0, m, again, NULL, again_status, 0) != 0)
            return;
        for (size_t j = 0; j < m; j++)
            status[where[j]] = again_status[j];
    }
}

/*
 * Nodes of the pages of [p, p + size) into counts[node] (counts may be NULL);
 * returns how many are not on `want` (want < 0: 0). It never allocates, so it
 * can run while a node is full or between two statistics snapshots, and from
 * any thread.
 */
static inline size_t page_census(const void *p, size_t size, int want, size_t *counts)
{
    void *pages[CENSUS_BATCH];
    int status[CENSUS_BATCH];
    uintptr_t at = (uintptr_t)p & ~(PAGE - 1), end = (uintptr_t)p + size;
    size_t wrong = 0;
    while (at < end) {
        size_t n = 0;
        for (; n < CENSUS_BATCH && at < end; n++, at += PAGE)
            pages[n] = (void *)at;
        if (numa_move_pages(0, n, pages, NULL, status, 0) != 0) {
            printf("FAIL move_pages: %s\n", strerror(errno));
            __atomic_add_fetch(&failures, 1, __ATOMIC_RELAXED);
            return wrong + n;
        }
        settle_migrating(pages, status, n);
        for (size_t i = 0; i < n; i++) {
            if (want >= 0 && status[i] < 0 && wrong < 4)
                printf("census: page %p: %s %d (wanted node %d)\n", pages[i],
                       status[i] < 0 ? "status" : "node", status[i], want);
            if (counts && status[i] >= 0 && status[i] < MAX_NODES)
                counts[status[i]]++;
            wrong += want >= 0 && status[i] != want;
        }
    }
    return wrong;
}

/* Moves the calling thread onto node's CPUs; a failure ends the program (the check is void). */
static inline void run_on_node(int node)
{
    if (numa_run_on_node(node) != 0) {
        printf("FAIL cannot run on node %d: %s\n", node, strerror(errno));
        exit(1);
    }
    sched_yield();
}

#endif
