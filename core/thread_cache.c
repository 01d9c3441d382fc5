/* thread_cache.c - cache creation, refill, flush and thread exit; see thread_cache.h. */
#include "core/thread_cache.h"

#include "base/report.h"
#include "core/node_heap.h"
#include "core/prof.h"
#include "policy/current_node.h"
#include "policy/options.h"

#include <stdbool.h>
#include <string.h>

#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

__thread struct thread_state na_thread_state __attribute__((tls_model("initial-exec")));

static pthread_key_t thread_exit_key NA_HOT_BSS;
uintptr_t na_free_block_key NA_HOT_BSS;

/* Live threads, for statistics; and what exited threads counted. */
static na_lock_t registry_lock NA_THREADS_BSS = NA_LOCK_INIT;
static struct list registry NA_THREADS_BSS; /* thread_state.registry_link */
NA_COLD_BSS static struct retired_threads retired;

static void sample_peak(struct thread_state *ts);
static void note_peak(struct thread_state *ts, uint64_t live);
static uint64_t large_live(const struct thread_state *ts);

/*
 * The registry lock, marked in the taking thread's state (registry_held)
 * from before it is taken until after it is released: a signal handler
 * that interrupted its own thread there must not wait for it
 * (thread_cache_walk refuses instead of deadlocking).
 */
static void registry_take(void)
{
    __atomic_store_n(&na_thread_state.registry_held, 1, __ATOMIC_RELAXED);
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    na_lock(&registry_lock);
}

static void registry_drop(void)
{
    na_unlock(&registry_lock);
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    __atomic_store_n(&na_thread_state.registry_held, 0, __ATOMIC_RELAXED);
}

/*
 * A bin's first refill asks for few blocks, and for blocks of at most
 * CACHE_FIRST_FILL_BYTES in all (at least one): a thread that allocates a
 * handful of some class (short-lived threads, rare sizes, a server's
 * thousands of connection threads) then holds and touches little memory;
 * each further refill doubles, up to half the bin. Four blocks of each class
 * from 1 KiB up were three pages a thread that allocated one of 1 KiB and
 * one of 2 KiB never used (footprint_probe many-threads: 17.5 -> 8.5 KiB a
 * thread; 2000 threads holding 8 blocks of 16 B..2 KiB: 30.9 -> 20.8 KiB
 * resident a thread, glibc's 13.1, tcmalloc's 16.5); the few more refills
 * of a young bin's first blocks moved no workload (docs/benchmarks.md,
 * session 36).
 */
#define CACHE_FIRST_FILL       4
#define CACHE_FIRST_FILL_BYTES 1024u

/*
 * Live threads per bin shard (written under registry_lock; away_flush reads
 * it without). A new thread takes the
 * shard with the fewest, so concurrent threads get different shards while
 * there are enough, and a program that keeps starting short-lived threads
 * keeps using the same few shards (and their slabs) instead of all of them.
 */
static uint32_t shard_threads[HEAP_SHARDS] NA_THREADS_BSS;

/* Their sum: threads that allocated and have not exited (written under registry_lock). */
uint32_t na_live_threads NA_THREADS_BSS;

/*
 * Shards whose last thread left, and when (os_now_ms), written under
 * registry_lock. Each class_slabs keeps one spare empty slab (struct
 * class_slabs), kept resident for the shard's next refill; a shard without
 * threads has none, so after a burst of threads every shard they used kept
 * a spare of every class they used: 2000 threads holding 8 blocks each, 12
 * MiB resident after they exited, while the program went on
 * (bench/threads_footprint.sh, docs/benchmarks.md, session 36). Given back
 * when the last thread left, the next short-lived thread made them again:
 * short-threads 1.19x the time, 1.47x the peak RSS. So a shard's spares go
 * back once it has been without threads for the purge delay
 * (sweep_idle_shards, on the visit of a live thread's bins); a thread that
 * takes the shard first takes it off the list.
 * Invariant: a shard in idle_shards has no live thread.
 */
static uint32_t idle_shards NA_THREADS_BSS;
static uint64_t shard_idle_since_ms[HEAP_SHARDS] NA_THREADS_BSS;

uint32_t na_shards_used = 1;

static unsigned least_used_shard(void)
{
    unsigned best = 0;
    for (unsigned shard = 1; shard < HEAP_SHARDS; shard++)
        if (shard_threads[shard] < shard_threads[best])
            best = shard;
    return best;
}

static unsigned node_cache_class(void)
{
    return size_class_of(sizeof(struct node_cache));
}

/* A node cache's away lists (node_cache.away): their small class. */
static unsigned away_table_class(void)
{
    return size_class_of(sizeof(struct away_list) * (NUM_SMALL_CLASSES + 1));
}

/*
 * The thread's first free of another shard's block on this node: its away
 * lists, from the node's heap like the cache. NULL if the heap has no room.
 */
static NA_NOINLINE NA_COLD struct away_list *away_table_create(struct node_cache *nc)
{
    void *block = NULL;
    if (heap_refill(node_heap_of(nc->slot), na_thread_state.shard, away_table_class(), 1, &block) !=
        1)
        return NULL;
    memset(block, 0, sizeof(struct away_list) * (NUM_SMALL_CLASSES + 1));
    nc->away = block;
    return block;
}

/* The node cache lives in its own node's heap, like the blocks it holds. */
static NA_NOINLINE NA_COLD struct node_cache *node_cache_create(unsigned slot)
{
    void *block = NULL;
    if (heap_refill(node_heap_of(slot), na_thread_state.shard, node_cache_class(), 1, &block) != 1)
        return NULL;
    struct node_cache *nc = block;
    memset(nc, 0, sizeof *nc);
    for (unsigned cls = 1; cls <= NUM_SMALL_CLASSES; cls++) {
        struct cache_bin *bin = &nc->bins[cls];
        bin->max = na_cache_young[cls];
        /* The first fill as the class's bound would have it, within the young bound. */
        uint32_t fill = na_size_classes[cls].cache_max / 2u;
        fill = fill < CACHE_FIRST_FILL ? fill : CACHE_FIRST_FILL;
        uint32_t fill_by_bytes = CACHE_FIRST_FILL_BYTES / na_size_classes[cls].size;
        fill_by_bytes = fill_by_bytes ? fill_by_bytes : 1;
        fill = fill < fill_by_bytes ? fill : fill_by_bytes;
        bin->fill = (uint16_t)(fill < bin->max ? fill : bin->max);
        bin->countdown = nc->nalloc_base[cls] = prof_first_pops(cls);
    }
    nc->slot = slot;
    return nc;
}

/* The table of the caches of slots past the direct ones: bytes, and their small class. */
static size_t far_table_bytes(void)
{
    return ((size_t)na_region.num_slots - TOPO_DIRECT_SLOTS) * sizeof(struct node_cache *);
}

static unsigned far_table_class(void)
{
    return size_class_of(far_table_bytes());
}

/*
 * The thread's first slot past the direct ones: its table of those caches,
 * from that slot's node heap (no malloc: this is malloc), like a node cache.
 */
static NA_NOINLINE NA_COLD bool far_table_create(struct thread_state *ts, unsigned slot)
{
    void *block = NULL;
    if (heap_refill(node_heap_of(slot), ts->shard, far_table_class(), 1, &block) != 1)
        return false;
    memset(block, 0, far_table_bytes());
    ts->far_slot = (uint16_t)slot;
    ts->far = block;
    return true;
}

/* The count-th block of a bin's list from `first` (count >= 1, at most what the bin holds). */
static void *bin_block_at(void *first, uint32_t count)
{
    void *last = first;
    for (uint32_t i = 1; i < count; i++) {
        /*
         * Shorter than its count: a block freed here was freed by another
         * thread too, whose away list's hand-back relinked it (heap_hand_back
         * writes the chain's last link).
         */
        if (!last || !*(void **)last)
            report_invalid_pointer("free(): double free detected", last ? last : first);
        last = *(void **)last;
    }
    return last;
}

/* Blocks at the bottom of a bin untouched since the last cache_gc (struct bin_growth). */
static uint32_t bin_untouched(const struct node_cache *nc, unsigned cls)
{
    int32_t n = (int32_t)(nc->growth[cls].gc_mark - (uint32_t)bin_nalloc(nc, cls));
    if (n <= 0)
        return 0;
    return (uint32_t)n < nc->bins[cls].count ? (uint32_t)n : nc->bins[cls].count;
}

/* Detaches the first `count` blocks of a bin (its top) and gives them to the heap. */
static void bin_flush(struct node_cache *nc, unsigned cls, uint32_t count)
{
    if (count == 0)
        return;
    struct cache_bin *bin = &nc->bins[cls];
    uint32_t untouched = bin_untouched(nc, cls);
    void *rest = heap_flush_some(node_heap_of(nc->slot), cls, bin->head, count);
    bin->head = rest;
    bin->count -= count;
    /* The bottom block's link is NULL, unless a double free relinked it (bin_block_at). */
    if ((bin->count == 0) != (rest == NULL))
        report_invalid_pointer("free(): double free detected", rest ? rest : (void *)bin);
    if (untouched > bin->count)
        untouched = bin->count;
    nc->growth[cls].gc_mark = untouched + (uint32_t)bin_nalloc(nc, cls);
}

/* What a bound of `max` blocks of class cls may hold beyond its cache_max, in bytes. */
static uint32_t growth_bytes(unsigned cls, uint32_t max)
{
    uint32_t base = na_size_classes[cls].cache_max;
    return max > base ? (max - base) * na_size_classes[cls].size : 0;
}

/* What a bin holds beyond its class's cache_max, in bytes (struct cache_bin); 0 when young. */
static uint32_t bin_growth_bytes(const struct cache_bin *bin, unsigned cls)
{
    return growth_bytes(cls, bin->max);
}

/* Debug builds: struct cache_bin's and bin_growth's invariants over all the thread's bins. */
static void check_growth(const struct thread_state *ts)
{
#ifdef NUMA_ALLOC_DEBUG
    uint64_t sum = 0;
    for (const struct node_cache *nc = ts->cache_list; nc; nc = nc->next) {
        for (unsigned cls = 1; cls <= NUM_SMALL_CLASSES; cls++) {
            const struct cache_bin *bin = &nc->bins[cls];
            NA_ASSERT(bin->count <= bin->max);
            NA_ASSERT(bin->max >= na_cache_young[cls]);
            NA_ASSERT(bin->max <= na_size_classes[cls].cache_grown);
            NA_ASSERT((int32_t)(nc->growth[cls].gc_mark - (uint32_t)bin_nalloc(nc, cls)) <=
                      (int32_t)bin->count); /* struct bin_growth */
            sum += bin_growth_bytes(bin, cls);
        }
    }
    NA_ASSERT(sum == ts->cache_growth && sum <= CACHE_THREAD_GROWTH);
#else
    (void)ts;
#endif
}

/* A young bin takes its class's cache_max after this many bytes of its class (struct cache_bin). */
#define CACHE_YOUNG_TRAFFIC ((uint64_t)128 << 10)

/*
 * A young bin (struct cache_bin) whose class has seen CACHE_YOUNG_TRAFFIC
 * bytes of mallocs and frees on this node takes its class's cache_max: true
 * if it did.
 */
static bool bin_mature(struct node_cache *nc, unsigned cls)
{
    struct cache_bin *bin = &nc->bins[cls];
    const struct size_class_info *info = &na_size_classes[cls];
    if (bin->max >= info->cache_max ||
        (bin_nalloc(nc, cls) + bin->nfree) * info->size < CACHE_YOUNG_TRAFFIC)
        return false;
    bin->max = info->cache_max;
    return true;
}

/*
 * How much a thread takes from its node heaps (bytes of refills, and of
 * large objects as large_tick counts them) between two visits of its bins
 * for idle blocks (struct bin_growth). A block idle at a bin's bottom goes
 * back after one to two such periods; a bin in use (a batch, a churn)
 * reaches its bottom far more often than that, and loses nothing.
 */
#define CACHE_GC_BYTES ((uint32_t)256 << 10)

/*
 * Idle blocks of bin cls to give back: all of a grown bin's; a bin at its
 * base bound keeps up to its refill size (fill). Sent back, those came back
 * at its next refill: shared-pool-2t's bins of its many classes each see a
 * few mallocs per period, so the visits flushed their refills' blocks and
 * the next refills fetched as many again, 2x the instructions of all other
 * slow paths (docs/benchmarks.md, Round four). A bin that only takes frees
 * has a fill of CACHE_FIRST_FILL; a grown bin keeps nothing idle, whatever
 * its fill (sqlite3's 1325 blocks of 48 B: struct bin_growth).
 */
static uint32_t bin_idle_to_flush(const struct node_cache *nc, unsigned cls)
{
    const struct cache_bin *bin = &nc->bins[cls];
    uint32_t idle = bin_untouched(nc, cls);
    if (bin->max > na_size_classes[cls].cache_max)
        return idle;
    if (bin->count <= bin->fill)
        return 0;
    uint32_t above_fill = bin->count - bin->fill;
    return idle < above_fill ? idle : above_fill;
}

/*
 * Gives back the spare slabs of the shards without threads for the purge
 * delay or longer (idle_shards). A thread that takes such a shard meanwhile
 * makes a slab where it would have found the spare: nothing else is shared.
 */
static NA_NOINLINE NA_COLD void sweep_idle_shards(void)
{
    uint64_t now = os_now_ms();
    uint32_t due = 0;
    registry_take();
    for (uint32_t left = idle_shards; left; left &= left - 1) {
        unsigned shard = (unsigned)__builtin_ctz(left);
        NA_ASSERT(shard_threads[shard] == 0); /* idle_shards' invariant */
        if (now - shard_idle_since_ms[shard] >= na_options.purge_delay_ms)
            due |= 1u << shard;
    }
    __atomic_store_n(&idle_shards, idle_shards & ~due, __ATOMIC_RELAXED);
    registry_drop();
    for (; due; due &= due - 1)
        for (unsigned slot = 0; slot < na_region.num_slots; slot++)
            if (heap_is_ready(slot))
                heap_release_shard_spares(node_heap_of(slot), (unsigned)__builtin_ctz(due));
}

/*
 * Gives the heap every bin's bottom blocks that no malloc reached since the
 * last visit, but what a bin's next refill would bring back (struct
 * bin_growth), and starts the next period; and the idle shards' spares.
 */
static NA_NOINLINE NA_COLD void cache_gc(struct thread_state *ts)
{
    ts->gc_bytes = 0;
    if (__atomic_load_n(&idle_shards, __ATOMIC_RELAXED))
        sweep_idle_shards();
    for (struct node_cache *nc = ts->cache_list; nc; nc = nc->next) {
        for (unsigned cls = 1; cls <= NUM_SMALL_CLASSES; cls++) {
            struct cache_bin *bin = &nc->bins[cls];
            bin_mature(nc, cls);
            uint32_t idle = bin_idle_to_flush(nc, cls);
            if (idle == bin->count) {
                bin_flush(nc, cls, idle);
            } else if (idle) {
                void *keep = bin_block_at(bin->head, bin->count - idle); /* the last one kept */
                void *first = *(void **)keep;
                /* The bottom ends with a NULL link, unless a double free relinked it (above). */
                if (!first || *(void **)bin_block_at(first, idle))
                    report_invalid_pointer("free(): double free detected", first ? first : keep);
                *(void **)keep = NULL;
                bin->count -= idle;
                heap_flush(node_heap_of(nc->slot), cls, first);
            }
            nc->growth[cls].gc_mark = bin->count + (uint32_t)bin_nalloc(nc, cls);
        }
    }
    check_growth(ts);
}

/*
 * The thread's peak of live bytes is sampled on slow paths (sample_peak walks
 * every bin): every PEAK_SAMPLE_BYTES it takes from its heaps, and at the
 * first flush after it took PEAK_FLUSH_KIB or more since the last sample (a
 * peak lies between the last refill and the first flush). At every refill
 * and flush, as before, the walk was 13% of the instructions of the
 * benchmark's shared-pool (callgrind); the peak may now read up to about
 * PEAK_SAMPLE_BYTES low.
 */
#define PEAK_SAMPLE_BYTES ((uint32_t)64 << 10)
#define PEAK_FLUSH_KIB    16

/* The thread took `bytes` from a node heap: time for a visit of its bins, or a peak sample? */
static inline void gc_tick(struct thread_state *ts, uint32_t bytes)
{
    uint32_t before = ts->gc_bytes;
    ts->gc_bytes += bytes;
    uint32_t kib = ts->peak_kib + (bytes >> 10);
    ts->peak_kib = (uint8_t)(kib > UINT8_MAX ? UINT8_MAX : kib);
    if (before / PEAK_SAMPLE_BYTES != ts->gc_bytes / PEAK_SAMPLE_BYTES)
        sample_peak(ts);
    if (ts->gc_bytes >= CACHE_GC_BYTES)
        cache_gc(ts);
}

/*
 * A large object or huge object taken. Its bytes go into the peak at once,
 * with the small blocks' part as the last sample_peak found it (what the bins
 * moved since is within what they hold, the bound sample_peak's comment
 * gives). Toward the next visit of the bins it counts LARGE_GC_BYTES, not its
 * size: counted as its size (up to CACHE_GC_BYTES), every object of 256 KiB
 * or more walked every bin twice (the visit and the peak's walk), 10 % of
 * the samples of numa_bench's `large` run ten times as long; a thread that
 * stopped using small blocks still has them visited, after 16 large objects.
 */
#define LARGE_GC_BYTES (CACHE_GC_BYTES / 16)

_Static_assert(LARGE_GC_BYTES <= SMALL_MAX, "a large object counts no more than its size");

static void large_tick(struct thread_state *ts)
{
    note_peak(ts, (uint64_t)ts->small_live_sampled + large_live(ts));
    ts->gc_bytes += LARGE_GC_BYTES;
    if (ts->gc_bytes >= CACHE_GC_BYTES)
        cache_gc(ts);
}

/* A bin back to its class's bound, what it holds beyond half of that to the heap. */
static void bin_shrink(struct thread_state *ts, struct node_cache *nc, unsigned cls)
{
    struct cache_bin *bin = &nc->bins[cls];
    uint32_t base = na_size_classes[cls].cache_max;
    if (bin->max <= base) /* not grown; a young bin stays young */
        return;
    ts->cache_growth -= bin_growth_bytes(bin, cls);
    if (bin->count > base)
        bin_flush(nc, cls, bin->count - base / 2);
    bin->max = (uint16_t)base;
    if (bin->fill > base / 2)
        bin->fill = (uint16_t)(base / 2);
}

/*
 * The thread ran out of growth budget: its grown bins idle since the last
 * scavenge (no malloc or free of their class on their node) shrink back;
 * the others are marked, to be idle or not at the next one.
 */
static void scavenge(struct thread_state *ts)
{
    for (struct node_cache *nc = ts->cache_list; nc; nc = nc->next) {
        for (unsigned cls = 1; cls <= NUM_SMALL_CLASSES; cls++) {
            const struct cache_bin *bin = &nc->bins[cls];
            if (bin->max <= na_size_classes[cls].cache_max)
                continue; /* not grown (or young): nothing to give back */
            uint32_t mark = (uint32_t)(bin_nalloc(nc, cls) + bin->nfree);
            if (mark == nc->growth[cls].idle_mark)
                bin_shrink(ts, nc, cls);
            else
                nc->growth[cls].idle_mark = mark;
        }
    }
}

/* A bin grows only if it filled within this many times its bound of its last refill. */
#define CACHE_BATCH_WINDOW 4u

/*
 * A free found the bin full. If the bin was refilled since its last flush,
 * and not long before (a batch: struct cache_bin), it grows (doubles, up to
 * cache_grown) rather than flush: true if it did. The budget short, idle
 * bins give theirs back first.
 */
static bool bin_grow(struct thread_state *ts, struct node_cache *nc, unsigned cls)
{
    struct cache_bin *bin = &nc->bins[cls];
    const struct size_class_info *info = &na_size_classes[cls];
    if (bin_mature(nc, cls))
        return true;
    if (!nc->refilled[cls] || bin->max >= info->cache_grown)
        return false;
    uint32_t since_refill =
        (uint32_t)(bin_nalloc(nc, cls) + bin->nfree) - nc->growth[cls].refill_mark;
    if (since_refill > CACHE_BATCH_WINDOW * bin->max)
        return false;
    uint32_t max = bin->max * 2u < info->cache_grown ? bin->max * 2u : info->cache_grown;
    uint32_t more = growth_bytes(cls, max) - bin_growth_bytes(bin, cls); /* 0 below cache_max */
    if (ts->cache_growth + more > CACHE_THREAD_GROWTH)
        scavenge(ts);
    if (ts->cache_growth + more > CACHE_THREAD_GROWTH)
        return false;
    ts->cache_growth += more;
    bin->max = (uint16_t)max;
    check_growth(ts);
    return true;
}

static struct node_cache *cache_for(unsigned slot)
{
    struct thread_state *ts = &na_thread_state;
    if (ts->status == THREAD_DEAD)
        return NULL;
    if (ts->status == THREAD_NEW) {
        /* Any non-NULL value makes pthread call the exit hook for this thread. */
        pthread_setspecific(thread_exit_key, ts);
        ts->status = THREAD_LIVE;
        ts->tid = (int)syscall(SYS_gettid);
        ts->home = current_route().home;
        registry_take();
        ts->shard = (uint8_t)least_used_shard();
        /* Stored whole: away_flush reads it without the lock. */
        __atomic_store_n(&shard_threads[ts->shard], shard_threads[ts->shard] + 1, __ATOMIC_RELAXED);
        __atomic_store_n(&idle_shards, idle_shards & ~(1u << ts->shard), __ATOMIC_RELAXED);
        __atomic_store_n(&na_shards_used, na_shards_used | 1u << ts->shard, __ATOMIC_RELAXED);
        __atomic_store_n(&na_live_threads, na_live_threads + 1, __ATOMIC_RELAXED);
        list_push_front(&registry, &ts->registry_link);
        registry_drop();
    }
    struct node_cache *nc = thread_cache_of(slot);
    if (nc)
        return nc;
    struct node_cache **entry;
    if (slot < TOPO_DIRECT_SLOTS) {
        entry = &ts->caches[slot];
    } else {
        if (!ts->far && !far_table_create(ts, slot))
            return NULL;
        entry = &ts->far[slot - TOPO_DIRECT_SLOTS];
    }
    nc = node_cache_create(slot);
    if (nc) {
        *entry = nc;
        nc->next = ts->cache_list;
        __atomic_store_n(&ts->cache_list, nc, __ATOMIC_RELEASE);
    }
    return nc;
}

NA_NOINLINE NA_COLD void *thread_cache_alloc_slow(unsigned slot, unsigned cls)
{
    if (!heap_ready(slot)) /* the slot's first use: no cache of it exists yet */
        return NULL;
    struct node_cache *nc = cache_for(slot);
    if (!nc) {
        /* After the thread's exit hook (or no memory for a cache): no cache, one block. */
        void **block = NULL;
        if (heap_refill(node_heap_of(slot), na_thread_state.shard, cls, 1, (void **)&block) != 1)
            return NULL;
        block[1] = NULL;
        return block;
    }
    struct cache_bin *bin = &nc->bins[cls];
    if (!bin->head) {
        unsigned want = bin->fill;
        if (bin->fill < bin->max / 2) /* a class in steady use earns bigger refills */
            bin->fill = (uint16_t)(bin->fill * 2 < bin->max / 2 ? bin->fill * 2 : bin->max / 2);
        void *list = NULL;
        unsigned got = heap_refill(node_heap_of(slot), na_thread_state.shard, cls, want, &list);
        if (got == 0)
            return NULL;
        /* Before the blocks go in: a visit finds this bin empty. */
        gc_tick(&na_thread_state, got * na_size_classes[cls].size);
        bin->head = list;
        bin->count = got;
        nc->refilled[cls] = 1;
        nc->growth[cls].refill_mark = (uint32_t)(bin_nalloc(nc, cls) + bin->nfree);
    }
    if (bin->countdown > 1) /* a sample due waits for the next pop (struct cache_bin) */
        COUNT(bin->countdown, -1);
    else
        COUNT(nc->nalloc_base[cls], 1);
    return cache_bin_pop(bin);
}

uint64_t node_cache_allocs(const struct node_cache *nc)
{
    uint64_t n = nc->large_allocs;
    for (unsigned cls = 1; cls <= NUM_SMALL_CLASSES; cls++)
        n += bin_nalloc(nc, cls);
    return n;
}

uint64_t node_cache_frees(const struct node_cache *nc)
{
    uint64_t n = nc->large_frees;
    for (unsigned cls = 1; cls <= NUM_SMALL_CLASSES; cls++)
        n += nc->bins[cls].nfree;
    return n;
}

/* Books the counts since the last settling as local or remote for `home`. */
static void settle(struct thread_state *ts, unsigned home)
{
    for (struct node_cache *nc = ts->cache_list; nc; nc = nc->next) {
        uint64_t allocs = node_cache_allocs(nc), frees = node_cache_frees(nc);
        if (home != nc->slot) {
            COUNT(nc->remote_allocs, allocs - nc->settled_allocs);
            COUNT(nc->remote_frees, frees - nc->settled_frees);
        }
        COUNT(nc->settled_allocs, allocs - nc->settled_allocs);
        COUNT(nc->settled_frees, frees - nc->settled_frees);
    }
}

void thread_cache_note_move(unsigned home)
{
    struct thread_state *ts = &na_thread_state;
    ts->route_key = 0; /* its route named the old home (struct thread_state) */
    if (ts->status == THREAD_LIVE) {
        /* Under the registry lock: a reader sees the counts before or after, whole. */
        registry_take();
        settle(ts, ts->home);
        COUNT(ts->migrations, 1);
        ts->home = (uint16_t)home;
        registry_drop();
        return;
    }
    ts->home = (uint16_t)home;
}

void thread_cache_route_refresh(void)
{
    struct thread_state *ts = &na_thread_state;
    /* The generation before the route (acquire): a route read after it is that generation's or
     * newer. */
    uint64_t generation = __atomic_load_n(&na_route_generation, __ATOMIC_ACQUIRE);
    unsigned cpu = current_cpu_word();
    /*
     * Cleared first, set last, with the cache between: a malloc in a signal
     * handler that interrupts this sees the key 0 or a key with its cache.
     */
    ts->route_key = 0;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    if (cpu >= (unsigned)na_topo.num_cpus || ts->status != THREAD_LIVE)
        return;
    unsigned slot = __atomic_load_n(&na_topo.cpu[cpu].slot, __ATOMIC_RELAXED);
    unsigned home = __atomic_load_n(&na_topo.cpu[cpu].home, __ATOMIC_RELAXED);
    struct node_cache *nc = ts->caches[slot]; /* ROUTE_SLOW's entry is NULL */
    if (nc == NULL || home != ts->home)
        return;
    ts->route_cache = nc;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    ts->route_key = generation | cpu;
}

/* A new high of the thread's live bytes becomes its peak. */
static void note_peak(struct thread_state *ts, uint64_t live)
{
    if ((int64_t)live > 0 && live > ts->peak_live_bytes)
        COUNT(ts->peak_live_bytes, live - ts->peak_live_bytes);
}

/* The thread's large and huge objects' bytes live, over all its node caches. */
static uint64_t large_live(const struct thread_state *ts)
{
    uint64_t live = 0;
    for (const struct node_cache *nc = ts->cache_list; nc; nc = nc->next)
        live += nc->large_bytes_alloc - nc->large_bytes_freed;
    return live;
}

/*
 * The thread's live bytes (allocated - freed, all its node caches), sampled on
 * its refill and flush paths: the peak it records can miss a short-lived high
 * by at most what its bins can hold.
 */
static void sample_peak(struct thread_state *ts)
{
    ts->peak_kib = 0;
    uint64_t small = 0;
    for (const struct node_cache *nc = ts->cache_list; nc; nc = nc->next)
        for (unsigned cls = 1; cls <= NUM_SMALL_CLASSES; cls++)
            small += (bin_nalloc(nc, cls) - nc->bins[cls].nfree) * na_size_classes[cls].size;
    ts->small_live_sampled = (int64_t)small;
    note_peak(ts, small + large_live(ts));
}

/* Slow paths notice moves too, so frees after a move are booked where they happen. */
static void notice_move(void)
{
    struct cpu_route route = current_route();
    if (route.home != na_thread_state.home)
        thread_cache_note_move(route.home);
}

static bool list_contains(const void *head, const void *ptr)
{
    for (const void *block = head; block; block = *(void *const *)block)
        if (block == ptr)
            return true;
    return false;
}

/* Hands an away list back to its shard's class_slabs (one CAS, no lock). */
static void away_flush(struct away_list *away, unsigned slot, unsigned cls)
{
    if (!away->head)
        return;
    NA_ASSERT(away->count > 0);
    /* The last block's link was NULL: another free of it (a double free) relinked it. */
    if (*(void **)away->tail != NULL)
        report_invalid_pointer("free(): double free detected", away->tail);
    /*
     * A shard without a live thread has no refill to take parked blocks:
     * they would pin their slabs, so they go back into them (a thread that
     * takes the shard meanwhile just finds them there).
     */
    if (__atomic_load_n(&shard_threads[away->shard], __ATOMIC_RELAXED) == 0)
        heap_flush(node_heap_of(slot), cls, away->head);
    else
        heap_hand_back(node_heap_of(slot), away->shard, cls, away->head, away->tail, away->count);
    away->head = away->tail = NULL;
    away->count = 0;
}

bool thread_cache_block_is_free(void *block, unsigned slot, unsigned cls)
{
    if (((void **)block)[1] != (void *)na_free_block_key)
        return false; /* handed out blocks have it cleared */
    struct node_cache *nc = thread_cache_of(slot);
    if (nc && (list_contains(nc->bins[cls].head, block) ||
               (nc->away && list_contains(nc->away[cls].head, block))))
        return true;
    /* Flushed back to its slab (the key stays): the slab's bitmap knows. */
    return heap_block_is_free(node_heap_of(slot), cls, block);
}

/*
 * A free of a block of another shard onto the away list of its class
 * (struct away_list). The list's fields are read once into locals and
 * written once: the stores into the block could alias them, and the
 * compiler reloaded each.
 */
static void away_push(struct away_list *away, void *block, unsigned slot, unsigned cls,
                      unsigned shard)
{
    if (away->head && away->shard != shard)
        away_flush(away, slot, cls); /* one shard per list: handed back in one CAS */
    void *head = away->head;
    uint32_t count = away->count + 1;
    ((void **)block)[0] = head;
    ((void **)block)[1] = (void *)na_free_block_key;
    if (!head) {
        away->tail = block;
        away->shard = shard;
    }
    away->head = block;
    away->count = count;
    /* No sample_peak here: these frees lowered the thread's live bytes. */
    /*
     * Not grown: struct cache_bin. A list of a shard without a live thread
     * (its threads exited: blocks that outlived their thread) goes back at
     * once: kept here its blocks would pin their slots in the shard's slabs,
     * and its next thread would carve around them. Asked at every push, not
     * only of a new list: numa_bench's short-threads frees a thread's blocks
     * after the join, onto lists started while their shard still had a
     * thread, which kept up to half a bin per class (faults 520 -> 437).
     */
    if (count >= na_size_classes[cls].cache_max / 2u ||
        !__atomic_load_n(&shard_threads[shard], __ATOMIC_RELAXED))
        away_flush(away, slot, cls);
}

/* A block of another shard freed here stays in its bin (KEEP_ANY_SHARD_MIN). */
static bool keeps_other_shards_block(const struct node_cache *nc, unsigned cls)
{
    const struct cache_bin *bin = &nc->bins[cls];
    return na_size_classes[cls].size >= KEEP_ANY_SHARD_MIN && bin->count < bin->max &&
           bin_nalloc(nc, cls) != 0;
}

NA_NOINLINE NA_COLD void thread_cache_free_slow(void *block, unsigned slot, unsigned tag)
{
    unsigned cls = tag_class(tag);
    /* A cache implies a live thread: cache_for's checks only for the first free. */
    struct node_cache *nc = thread_cache_of(slot);
    if (unlikely(!nc))
        nc = cache_for(slot);
    notice_move();
    /* The key's test inline, before the call: a block without it is not free (the common case). */
    if (((void **)block)[1] == (void *)na_free_block_key &&
        thread_cache_block_is_free(block, slot, cls))
        report_invalid_pointer("free(): double free detected", block);
    if (!nc) {
        *(void **)block = NULL;
        heap_flush(node_heap_of(slot), cls, block);
        return;
    }
    struct cache_bin *bin = &nc->bins[cls];
    COUNT(bin->nfree, 1);
    if (tag_shard(tag) != na_thread_state.shard) {
        struct away_list *away;
        if (keeps_other_shards_block(nc, cls)) {
            cache_bin_push(bin, block);
        } else if ((away = nc->away ? nc->away : away_table_create(nc))) {
            away_push(&away[cls], block, slot, cls, tag_shard(tag));
        } else { /* no room for the lists: straight back to its slab, marked free */
            ((void **)block)[0] = NULL;
            ((void **)block)[1] = (void *)na_free_block_key;
            heap_flush(node_heap_of(slot), cls, block);
        }
        return;
    }
    if (bin->count >= bin->max && !bin_grow(&na_thread_state, nc, cls)) {
        if (na_thread_state.peak_kib >= PEAK_FLUSH_KIB)
            sample_peak(&na_thread_state);
        bin_flush(nc, cls, bin->count - bin->max / 2);
        nc->refilled[cls] = 0;
    }
    cache_bin_push(bin, block);
}

void alloc_counts_add(struct alloc_counts *to, const struct alloc_counts *from)
{
    to->allocs += from->allocs;
    to->frees += from->frees;
    to->bytes_allocated += from->bytes_allocated;
    to->bytes_freed += from->bytes_freed;
    to->remote_allocs += from->remote_allocs;
    to->remote_frees += from->remote_frees;
}

void node_cache_counts(const struct node_cache *nc, unsigned home, struct alloc_counts *out)
{
    *out = (struct alloc_counts){.allocs = nc->large_allocs,
                                 .frees = nc->large_frees,
                                 .bytes_allocated = nc->large_bytes_alloc,
                                 .bytes_freed = nc->large_bytes_freed,
                                 .remote_allocs = nc->remote_allocs,
                                 .remote_frees = nc->remote_frees};
    for (unsigned cls = 1; cls <= NUM_SMALL_CLASSES; cls++) {
        uint64_t nalloc = bin_nalloc(nc, cls);
        uint64_t nfree = __atomic_load_n(&nc->bins[cls].nfree, __ATOMIC_RELAXED);
        out->allocs += nalloc;
        out->frees += nfree;
        out->bytes_allocated += nalloc * na_size_classes[cls].size;
        out->bytes_freed += nfree * na_size_classes[cls].size;
    }
    if (nc->slot != home) {
        out->remote_allocs += out->allocs - nc->settled_allocs;
        out->remote_frees += out->frees - nc->settled_frees;
    }
}

void thread_cache_visit(void (*visit)(const struct thread_state *ts, void *arg), void *arg,
                        struct retired_threads *out)
{
    registry_take();
    struct thread_state *ts;
    list_for_each_entry(ts, &registry, struct thread_state, registry_link) visit(ts, arg);
    /* The slots in use only: the rest of the arrays stays untouched (no memory). */
    size_t slots = na_region.num_slots;
    memcpy(out->per_slot, retired.per_slot, slots * sizeof retired.per_slot[0]);
    memcpy(out->explicit_allocs, retired.explicit_allocs,
           slots * sizeof retired.explicit_allocs[0]);
    out->threads = retired.threads;
    out->migrations = retired.migrations;
    out->fallbacks = retired.fallbacks;
    out->peak_live_bytes = retired.peak_live_bytes;
    registry_drop();
}

int thread_cache_walk(void (*visit)(const struct thread_state *ts, void *arg),
                      void (*visit_retired)(const struct retired_threads *retired, void *arg),
                      void *arg)
{
    if (__atomic_load_n(&na_thread_state.registry_held, __ATOMIC_RELAXED))
        return -1;
    registry_take();
    struct thread_state *ts;
    list_for_each_entry(ts, &registry, struct thread_state, registry_link) visit(ts, arg);
    visit_retired(&retired, arg);
    registry_drop();
    return 0;
}

void thread_cache_live_bytes(unsigned first, unsigned count, uint64_t *live)
{
    registry_take();
    for (unsigned i = 0; i < count; i++)
        live[i] =
            retired.per_slot[first + i].bytes_allocated - retired.per_slot[first + i].bytes_freed;
    struct thread_state *ts;
    list_for_each_entry(ts, &registry, struct thread_state, registry_link)
    {
        for (const struct node_cache *nc = thread_cache_first(ts); nc; nc = nc->next) {
            if (nc->slot - first >= count)
                continue;
            struct alloc_counts counts;
            node_cache_counts(nc, ts->home, &counts);
            /* Modulo 2^64: a thread may free more than it allocated; the sum is right. */
            live[nc->slot - first] += counts.bytes_allocated - counts.bytes_freed;
        }
    }
    registry_drop();
}

void thread_cache_fork_prepare(void)
{
    registry_take();
}

void thread_cache_fork_parent(void)
{
    registry_drop();
}

void thread_cache_after_fork_child(void)
{
    struct thread_state *self = &na_thread_state;
    na_lock_reset(&registry_lock);
    self->registry_held = 0;
    registry = (struct list){NULL, NULL};
    memset(shard_threads, 0, sizeof shard_threads);
    na_live_threads = 0;
    /* The parent's other threads are gone here: their shards' spares go back after the delay. */
    idle_shards = na_shards_used;
    for (unsigned shard = 0; shard < HEAP_SHARDS; shard++)
        shard_idle_since_ms[shard] = os_now_ms();
    if (self->status == THREAD_LIVE) {
        list_push_front(&registry, &self->registry_link);
        shard_threads[self->shard] = 1;
        na_live_threads = 1;
        idle_shards &= ~(1u << self->shard);
    }
}

/* Empties a node cache; its bins shrink back to cache_max (ts's budget given back). */
static void node_cache_flush(struct thread_state *ts, struct node_cache *nc)
{
    for (unsigned cls = 1; cls <= NUM_SMALL_CLASSES; cls++) {
        bin_flush(nc, cls, nc->bins[cls].count);
        bin_shrink(ts, nc, cls);
        if (nc->away)
            away_flush(&nc->away[cls], nc->slot, cls);
    }
}

void thread_cache_flush_all(void)
{
    struct thread_state *ts = &na_thread_state;
    for (struct node_cache *nc = ts->cache_list; nc; nc = nc->next)
        node_cache_flush(ts, nc);
    check_growth(ts);
}

/*
 * The thread's counters outlive it: merged into `retired`, and it leaves the
 * registry. True if it was its shard's last live thread.
 */
static NA_COLD bool retire_thread(struct thread_state *ts)
{
    registry_take();
    settle(ts, ts->home);
    for (const struct node_cache *nc = ts->cache_list; nc; nc = nc->next) {
        struct alloc_counts counts;
        node_cache_counts(nc, ts->home, &counts); /* all settled just now */
        alloc_counts_add(&retired.per_slot[nc->slot], &counts);
        if (nc->explicit_allocs) /* most programs make none: their page stays untouched */
            retired.explicit_allocs[nc->slot] += nc->explicit_allocs;
    }
    retired.threads++;
    retired.migrations += ts->migrations;
    sample_peak(ts);
    if (ts->peak_live_bytes > retired.peak_live_bytes)
        retired.peak_live_bytes = ts->peak_live_bytes;
    retired.fallbacks += ts->fallbacks;
    uint32_t left = shard_threads[ts->shard] - 1;
    __atomic_store_n(&shard_threads[ts->shard], left, __ATOMIC_RELAXED);
    __atomic_store_n(&na_live_threads, na_live_threads - 1, __ATOMIC_RELAXED);
    bool last = left == 0;
    if (last) {
        shard_idle_since_ms[ts->shard] = os_now_ms();
        __atomic_store_n(&idle_shards, idle_shards | 1u << ts->shard, __ATOMIC_RELAXED);
    }
    list_remove(&registry, &ts->registry_link);
    registry_drop();
    return last;
}

static NA_COLD void thread_exit_hook(void *arg)
{
    struct thread_state *ts = arg;
    bool last_of_shard = retire_thread(ts);
    /* From now on this thread allocates and frees without a cache. */
    ts->status = THREAD_DEAD;
    ts->route_key = 0;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    struct node_cache *nc = ts->cache_list;
    ts->cache_list = NULL;
    memset(ts->caches, 0, sizeof ts->caches);
    if (ts->far) {
        void *far = ts->far;
        ts->far = NULL;
        *(void **)far = NULL;
        heap_flush(node_heap_of(ts->far_slot), far_table_class(), far);
    }
    while (nc) {
        struct node_cache *next = nc->next;
        unsigned slot = nc->slot;
        node_cache_flush(ts, nc);
        if (nc->away) {
            *(void **)nc->away = NULL;
            heap_flush(node_heap_of(slot), away_table_class(), nc->away);
        }
        *(void **)nc = NULL;
        heap_flush(node_heap_of(slot), node_cache_class(), nc);
        nc = next;
    }
    /* No refill of the shard is left to take what other threads handed back to it. */
    for (unsigned slot = 0; last_of_shard && slot < na_region.num_slots; slot++)
        if (heap_is_ready(slot))
            heap_drain_parked(node_heap_of(slot), ts->shard);
}

int thread_cache_init(void)
{
    /* Any value unlikely to be user data will do; mix in the address space layout. */
    na_free_block_key =
        ((uintptr_t)&na_free_block_key * 0x9e3779b97f4a7c15u) ^ os_now_ms() ^ 0x5a5aa5a5f00dcafeu;
    return pthread_key_create(&thread_exit_key, thread_exit_hook);
}

void thread_cache_count_alloc(unsigned slot, size_t bytes, bool explicit_node)
{
    struct node_cache *nc = cache_for(slot);
    if (!nc)
        return;
    COUNT(nc->explicit_allocs, explicit_node && slot != na_thread_state.home);
    if (bytes) {
        COUNT(nc->large_allocs, 1);
        COUNT(nc->large_bytes_alloc, bytes);
        large_tick(&na_thread_state);
    }
}

void thread_cache_rearm(struct node_cache *nc, unsigned cls, uint64_t pops, bool taken)
{
    NA_ASSERT(pops >= 1);
    /* Two fields change: under the lock the readers of node_cache_counts hold. */
    registry_take();
    uint64_t nalloc = bin_nalloc(nc, cls) - taken;
    __atomic_store_n(&nc->bins[cls].countdown, pops, __ATOMIC_RELAXED);
    __atomic_store_n(&nc->nalloc_base[cls], nalloc + pops, __ATOMIC_RELAXED);
    registry_drop();
}

void thread_cache_count_free(unsigned slot, size_t bytes)
{
    struct node_cache *nc = cache_for(slot);
    if (!nc)
        return;
    COUNT(nc->large_frees, 1);
    COUNT(nc->large_bytes_freed, bytes);
}

void thread_cache_count_young(unsigned slot, unsigned cls, bool alloc)
{
    struct node_cache *nc = cache_for(slot);
    if (!nc)
        return;
    if (alloc) /* the count of a pop that took no sample (struct cache_bin, countdown) */
        COUNT(nc->nalloc_base[cls], 1);
    else
        COUNT(nc->bins[cls].nfree, 1);
}

void thread_cache_count_resize(unsigned slot, size_t old_bytes, size_t new_bytes)
{
    struct node_cache *nc = cache_for(slot);
    if (!nc)
        return;
    if (new_bytes > old_bytes)
        COUNT(nc->large_bytes_alloc, new_bytes - old_bytes);
    else
        COUNT(nc->large_bytes_freed, old_bytes - new_bytes);
}
