/*
 * stats.h - the statistics: collected from the per-thread counters (merged
 * when read), the node heaps, and the kernel (verified placement), and
 * written as JSON or as a table without stdio or malloc.
 *
 * Definitions (docs/stats.md has the full list):
 *   an allocation is *local* when it was served from the node the calling
 *   thread was running on, *remote* otherwise (bind/preferred elsewhere,
 *   interleave, explicit requests for another node, fallbacks, memory-less
 *   CPU nodes); a free is remote when the freeing thread ran on another node
 *   than the block's. Bytes of small blocks are counted at their class size,
 *   large and huge objects at their usable size.
 */
#ifndef NUMA_ALLOC_STATS_H
#define NUMA_ALLOC_STATS_H

#include "base/lock.h"
#include "core/thread_cache.h"
#include "policy/topology.h"
#include "policy/verify.h"

#include <stdbool.h>
#include <stdint.h>

#define STATS_MAX_THREADS 256 /* listed one by one; the rest are summed */

struct node_stats {
    struct alloc_counts counts; /* of every thread, live or exited */
    uint64_t explicit_allocs;
    uint64_t fallbacks_in, fallbacks_out;
    uint64_t active_bytes, peak_active_bytes, dirty_bytes, purged_bytes;
    uint64_t huge_objects, huge_bytes, tight_commits, exhaustions;
    uint64_t thp_bytes;     /* the slot's memory backed by transparent huge pages (smaps) */
    uint64_t hugetlb_bytes; /* ... by hugetlbfs pages (smaps; on the node: hugepages.h) */
    uint64_t bind_failures, purge_failures, verify_failures; /* capabilities.h */
    struct page_census verified;
    int verify_error; /* 0: `verified` is the kernel's answer; else move_pages' -errno */
};

/*
 * Whether a node has anything to show: any count at all, pages the census
 * verified included (a census walks committed memory only, so those come
 * with active or peak bytes anyway). The JSON and OpenMetrics forms leave a
 * node without one out, the text form folds such nodes into one line
 * (docs/stats.md, "Nodes without counts"). verify_error is no count: it is
 * the kernel's answer for every node alike.
 */
static inline bool stats_node_used(const struct node_stats *n)
{
    const struct alloc_counts *c = &n->counts;
    return (c->allocs | c->frees | c->bytes_allocated | c->bytes_freed | c->remote_allocs |
            c->remote_frees | n->explicit_allocs | n->fallbacks_in | n->fallbacks_out |
            n->active_bytes | n->peak_active_bytes | n->dirty_bytes | n->purged_bytes |
            n->huge_objects | n->huge_bytes | n->tight_commits | n->exhaustions | n->bind_failures |
            n->purge_failures | n->verify_failures | n->thp_bytes | n->hugetlb_bytes |
            n->verified.checked) != 0;
}

struct thread_stats {
    int tid;
    int node;                   /* where it last allocated (-1: a node without memory) */
    struct alloc_counts counts; /* on every node */
    uint64_t migrations, fallbacks;
    uint64_t peak_live_bytes; /* sampled on the thread's slow paths; for sums: the largest */
};

struct stats_snapshot {
    /* By slot; only the first num_slots are written (stats_collect: it must come first). */
    struct node_stats nodes[TOPO_MAX_SLOTS];
    struct thread_stats threads[STATS_MAX_THREADS];
    unsigned num_threads;       /* listed */
    struct thread_stats others; /* live threads beyond the list, summed */
    unsigned num_others;
    struct thread_stats exited; /* threads that have exited, summed */
    uint64_t num_exited;
    bool verified;    /* a census was asked for (each node's verify_error says if it was had) */
    uint64_t time_ms; /* when it was collected: ms since the epoch (CLOCK_REALTIME) */
};

/*
 * What a statistics writer works in, with the writing lock held (one writer
 * at a time): the snapshot, a copy of the exited threads' counts and the
 * output buffer, some 320 KiB. In .bss they were writable memory of every
 * process, which ulimit -d and vm.overcommit_memory=2 count, for statistics
 * most processes never write: stats_workspace maps it at the first write and
 * keeps it, or returns NULL (errno ENOMEM) when the kernel refuses, and one
 * line says so, once.
 */
struct stats_workspace {
    struct stats_snapshot snap;
    struct retired_threads retired;
    uint64_t thp[TOPO_MAX_SLOTS], hugetlb[TOPO_MAX_SLOTS]; /* bytes by slot, from smaps */
    char buf[8192];
};
struct stats_workspace *stats_workspace(void);
/*
 * Maps it now, silently (a refusal is tried again at the first write): at
 * start-up, when the process is to write statistics (at exit, or live), so
 * that a limit set later (RLIMIT_AS lowered under the heaps' reservation)
 * does not cost them. Takes the writing lock.
 */
void stats_workspace_prepare(void);

/* Collects everything into ws->snap; `verify`: also ask the kernel where a sample of pages lies. */
void stats_collect(struct stats_workspace *ws, bool verify);

/* Writes a snapshot to fd; 0, or -1 with errno. */
int stats_write(int fd, bool json, bool verify);

/*
 * The writing lock, for fork only: held across it, taken after the live
 * publishing lock (stats_live.h) and before every allocator lock (a writer
 * takes the registry and heap locks while it holds it); the child resets it.
 */
na_lock_t *stats_lock(void);
/* Takes it to write, after any fork waiting for it (fork_prepare: stats_lock_for_fork). */
void stats_lock_writer(void);
void stats_lock_for_fork(void);
/* In the fork child: the lock free, no fork waiting (another thread's was copied mid-wait). */
void stats_lock_fork_child(void);

#endif
