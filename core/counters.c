/* counters.c - the counters read in place; see counters.h. */
#include "core/counters.h"

#include "core/layout.h"
#include "core/node_heap.h"
#include "core/thread_cache.h"
#include "policy/capabilities.h"
#include "policy/topology.h"

#include <errno.h>
#include <string.h>

struct node_pass {
    int slot; /* or COUNTERS_ALL_SLOTS */
    struct node_stats *out;
};

static void add_cache(const struct node_cache *nc, unsigned home, struct node_stats *out)
{
    struct alloc_counts counts;
    node_cache_counts(nc, home, &counts);
    alloc_counts_add(&out->counts, &counts);
    out->explicit_allocs += __atomic_load_n(&nc->explicit_allocs, __ATOMIC_RELAXED);
}

static bool in_pass(const struct node_pass *pass, unsigned slot)
{
    return pass->slot == COUNTERS_ALL_SLOTS || (unsigned)pass->slot == slot;
}

static void visit_node(const struct thread_state *ts, void *arg)
{
    const struct node_pass *pass = arg;
    for (const struct node_cache *nc = thread_cache_first(ts); nc; nc = nc->next)
        if (in_pass(pass, nc->slot))
            add_cache(nc, ts->home, pass->out);
}

static void visit_node_retired(const struct retired_threads *retired, void *arg)
{
    const struct node_pass *pass = arg;
    for (unsigned slot = 0; slot < na_region.num_slots; slot++) {
        if (!in_pass(pass, slot))
            continue;
        alloc_counts_add(&pass->out->counts, &retired->per_slot[slot]);
        pass->out->explicit_allocs += retired->explicit_allocs[slot];
    }
}

#define LOAD(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

/*
 * What the heap keeps under its page lock, read without it: a signal handler
 * may have interrupted this thread inside that lock. Each value is whole; two
 * values may come from either side of one change (active and dirty bytes of
 * one commit), which the monitoring this serves can bear.
 */
static void add_heap(unsigned slot, struct node_stats *out)
{
    if (!heap_is_ready(slot))
        return;
    struct node_heap *heap = node_heap_of(slot);
    out->fallbacks_in += LOAD(heap->fallbacks_in);
    out->fallbacks_out += LOAD(heap->fallbacks_out);
    out->tight_commits += LOAD(heap->memory.tight_commits);
    out->exhaustions += LOAD(heap->memory.exhaustions);
    out->bind_failures += placement_faults_of(slot, FAULT_BIND);
    out->purge_failures += placement_faults_of(slot, FAULT_PURGE);
    out->verify_failures += placement_faults_of(slot, FAULT_VERIFY);
    out->active_bytes += LOAD(heap->active_bytes);
    out->peak_active_bytes += LOAD(heap->peak_active_bytes);
    out->dirty_bytes += LOAD(heap->dirty_bytes);
    out->purged_bytes += LOAD(heap->purged_bytes) + LOAD(heap->young.purged_bytes);
    out->huge_objects += LOAD(heap->huge_count);
    out->huge_bytes += LOAD(heap->huge_bytes);
}

int counters_node(int slot, struct node_stats *out)
{
    struct node_pass pass = {.slot = slot, .out = out};
    memset(out, 0, sizeof *out);
    if (thread_cache_walk(visit_node, visit_node_retired, &pass) < 0) {
        errno = EAGAIN;
        return -1;
    }
    for (unsigned s = 0; s < na_region.num_slots; s++)
        if (in_pass(&pass, s))
            add_heap(s, out);
    return 0;
}

static void thread_counts(const struct thread_state *ts, struct thread_stats *t)
{
    unsigned home = LOAD(ts->home);
    memset(t, 0, sizeof *t);
    t->tid = ts->tid;
    t->node = (int)home < na_topo.num_slots ? na_topo.slot_node[home] : -1;
    t->migrations = LOAD(ts->migrations);
    t->fallbacks = LOAD(ts->fallbacks);
    t->peak_live_bytes = LOAD(ts->peak_live_bytes);
    for (const struct node_cache *nc = thread_cache_first(ts); nc; nc = nc->next) {
        struct alloc_counts counts;
        node_cache_counts(nc, home, &counts);
        alloc_counts_add(&t->counts, &counts);
    }
}

void counters_current_thread(struct thread_stats *out)
{
    const struct thread_state *ts = &na_thread_state;
    if (LOAD(ts->status) != THREAD_LIVE) { /* no cache yet, or its caches are gone */
        memset(out, 0, sizeof *out);
        out->tid = ts->tid;
        out->node = -1;
        return;
    }
    thread_counts(ts, out);
}

struct thread_pass {
    void (*emit)(const struct thread_stats *t, void *arg);
    void *arg;
    int live;
    uint64_t exited;
};

static void visit_thread(const struct thread_state *ts, void *arg)
{
    struct thread_pass *pass = arg;
    struct thread_stats t;
    thread_counts(ts, &t);
    pass->emit(&t, pass->arg);
    pass->live++;
}

static void visit_thread_retired(const struct retired_threads *retired, void *arg)
{
    ((struct thread_pass *)arg)->exited = retired->threads;
}

int counters_threads(void (*emit)(const struct thread_stats *t, void *arg), void *arg,
                     uint64_t *exited)
{
    struct thread_pass pass = {.emit = emit, .arg = arg};
    if (thread_cache_walk(visit_thread, visit_thread_retired, &pass) < 0) {
        errno = EAGAIN;
        return -1;
    }
    *exited = pass.exited;
    return pass.live;
}
