/* heap_check.c - the whole-heap consistency check; see heap_check.h. */
#include "core/heap_check.h"

#include "base/bitmap.h"
#include "base/report.h"
#include "core/aligned_huge.h"
#include "core/node_heap.h"
#include "core/thread_cache.h"

static void check_failed(const char *what, const void *where, int line, const char *cond)
    __attribute__((noreturn));

static void check_failed(const char *what, const void *where, int line, const char *cond)
{
    report_pointer(what, where);
    report_assert_failed("core/heap_check.c", line, cond);
}

/* `what` names the broken invariant, `where` the address of the structure that breaks it. */
#define CHECK(cond, what, where)                                                                   \
    ((cond) ? (void)0 : check_failed("heap check failed: " what, (where), __LINE__, #cond))

/* What a walk of one heap adds up, compared with the heap's own totals at the end. */
struct tally {
    size_t segments;
    size_t active_bytes;     /* spans in use and huge runs */
    size_t dirty_bytes;      /* dirty free page runs and dirty free segment runs */
    size_t uncommitted_runs; /* free segment runs marked uncommitted */
    size_t huge_count, huge_bytes;
    size_t free_page_runs, dirty_page_runs, partial_slabs, spare_slabs;
    uint32_t slabs[HEAP_SHARDS][NUM_SMALL_CLASSES + 1]; /* per class_slabs, their `slabs` */
    uint32_t shards; /* na_shards_used as the locks were taken (check_heap): those locked */
};

/*
 * Invariant 13: a slab's bitmap is its head page's words of free_map, or a
 * run of map_pool's words marked used, no other slab's, on lines of its
 * shard (`pool_seen`: the pool words of the slabs walked so far).
 */
static void check_slab_map(struct segment *seg, const struct span *slab, unsigned words,
                           uint64_t *pool_seen)
{
    size_t own = offsetof(struct segment, free_map) +
                 (size_t)(slab->first - MAP_FIRST_PAGE) * MAP_WORDS_PER_PAGE * sizeof(uint64_t);
    if (slab->map_at == own)
        return;
    size_t pool = offsetof(struct segment, map_pool),
           from = (slab->map_at - pool) / sizeof(uint64_t);
    CHECK(slab->map_at >= pool && (slab->map_at - pool) % sizeof(uint64_t) == 0 &&
              words <= MAP_POOL_SLAB_WORDS && from + words <= MAP_POOL_WORDS,
          "slab bitmap neither its head page's nor in the pool", slab);
    for (size_t w = from; w < from + words; w++) {
        CHECK(bitmap_test(seg->map_pool_used, w), "slab bitmap on pool words marked free", slab);
        CHECK(!bitmap_test(pool_seen, w), "two slabs' bitmaps share pool words", slab);
        CHECK(seg->map_line_shard[w / MAP_LINE_WORDS] == slab->shard + 1,
              "slab bitmap on a pool line of another shard", slab);
        bitmap_set(pool_seen, w);
    }
}

/* used (blocks out) + bits set (blocks free in the slab) = slab_blocks; no bit past the end. */
static void check_slab(struct node_heap *heap, struct segment *seg, struct span *slab,
                       struct tally *t, uint64_t *pool_seen)
{
    CHECK(slab->cls >= 1 && slab->cls <= NUM_SMALL_CLASSES, "slab of no small class", slab);
    const struct size_class_info *info = &na_size_classes[slab->cls];
    CHECK(slab->npages == info->slab_pages, "slab length is not its class's", slab);
    CHECK(slab->shard < HEAP_SHARDS, "slab shard out of range", slab);
    CHECK(t->shards >> slab->shard & 1, "slab of a shard no thread was given", slab);
    unsigned words = BITMAP_WORDS(info->slab_blocks), free_blocks = 0;
    check_slab_map(seg, slab, words, pool_seen);
    const uint64_t *map = slab_map(seg, slab);
    for (unsigned w = 0; w < words; w++)
        free_blocks += (unsigned)__builtin_popcountll(map[w]);
    if (info->slab_blocks % BITMAP_WORD_BITS)
        CHECK((map[words - 1] >> (info->slab_blocks % BITMAP_WORD_BITS)) == 0,
              "free bit past the slab's last block", slab);
    CHECK(slab->used + free_blocks == info->slab_blocks, "slab used count != blocks - free bits",
          slab);
    for (unsigned w = 0; w < slab->map_hint && w < words; w++)
        CHECK(map[w] == 0, "free bit below the slab's map_hint", slab);
    struct class_slabs *slabs = &heap->class_slabs[slab->shard][slab->cls];
    t->slabs[slab->shard][slab->cls]++;
    if (slab->in_partial) {
        CHECK(slab->used < info->slab_blocks, "full slab on a partial list", slab);
        t->partial_slabs++;
    }
    if (slabs->spare == slab) {
        CHECK(slab->used == 0 && !slab->in_partial, "spare slab in use or on a partial list", slab);
        t->spare_slabs++;
    } else {
        CHECK(slab->used > 0, "empty slab that is not its class_slabs' spare", slab);
        CHECK(slab->in_partial == (slab->used < info->slab_blocks),
              "slab with free blocks off its partial list", slab);
    }
}

/*
 * Invariant 5, the descriptors: spans[0] is no span's; every other one below
 * spans_touched is a span's (named by the span_index of its first page,
 * counted in `bound` by the page walk) or idle, on idle_spans, cleared.
 */
static void check_descriptors(struct segment *seg, unsigned bound)
{
    CHECK(seg->spans[0].state == SPAN_NONE && seg->spans[0].npages == 0,
          "descriptor 0 describes a span", seg);
    unsigned idle = 0;
    for (unsigned index = seg->idle_spans; index; index = seg->spans[index].next_idle) {
        CHECK(index < seg->spans_touched && idle < PAGES_PER_SEGMENT,
              "idle descriptor list runs past the descriptors used", seg);
        const struct span *span = &seg->spans[index];
        CHECK(span->state == SPAN_NONE && span->npages == 0 &&
                  seg->span_index[span->first] != index,
              "idle descriptor still describes a span", seg);
        idle++;
    }
    CHECK(bound + idle + (seg->spans_touched > 0) == seg->spans_touched,
          "descriptors neither a span's nor idle", seg);
}

/* Invariants 4, 5, 6 and 12 of docs/architecture.md over one SEG_PAGES segment. */
static void check_pages_segment(struct node_heap *heap, struct segment *seg, struct tally *t)
{
    unsigned committed = seg->committed_pages;
    CHECK(committed >= SEGMENT_HEADER_PAGES && committed <= PAGES_PER_SEGMENT,
          "pages segment's committed part out of bounds", seg);
    CHECK(committed == PAGES_PER_SEGMENT ||
              (uintptr_t)seg - slot_base(heap->slot) < PARTIAL_COMMIT_SPAN,
          "pages segment committed in part past the young span", seg);
    for (unsigned page = 0; page < SEGMENT_HEADER_PAGES; page++)
        CHECK(seg->pages[page].tag == 0 && seg->span_index[page] == 0,
              "header page with a tag or a span", seg);
    bool left_free = false;
    unsigned bound = 0;
    uint64_t pool_seen[MAP_POOL_WORDS / BITMAP_WORD_BITS] = {0};
    for (unsigned page = SEGMENT_HEADER_PAGES; page < PAGES_PER_SEGMENT;) {
        struct span *span = span_at(seg, page);
        char *start = (char *)seg + ((size_t)page << OS_PAGE_SHIFT);
        CHECK(seg->span_index[page] < seg->spans_touched, "span descriptor never handed out",
              start);
        CHECK(span->state == SPAN_FREE || span->state == SPAN_SLAB || span->state == SPAN_LARGE,
              "page that starts no span", start);
        CHECK(span->first == page, "span descriptor names another first page", start);
        CHECK(span->npages >= 1 && span->npages <= PAGES_PER_SEGMENT - page,
              "span length out of the segment", start);
        CHECK(seg->pages[page].head == page, "span head page not its own head", start);
        bound++;
        unsigned end = page + span->npages;
        for (unsigned p = page + 1; p < end; p++)
            CHECK(seg->span_index[p] == 0, "page inside a span names a descriptor",
                  (char *)seg + ((size_t)p << OS_PAGE_SHIFT));
        unsigned tag = span->state == SPAN_SLAB ? PAGE_TAG(span->cls, span->shard) : 0;
        for (unsigned p = page; p < end; p++)
            CHECK(seg->pages[p].tag == tag, "page tag does not match its span",
                  (char *)seg + ((size_t)p << OS_PAGE_SHIFT));
        if (span->state == SPAN_FREE) {
            CHECK(!left_free, "two free page runs touch", start);
            CHECK(seg->pages[end - 1].head == page, "free run's last page not headed", start);
            CHECK(span->dirty || !span->emptied, "clean free run marked an emptied slab's", start);
            t->free_page_runs++;
            if (span->dirty) {
                t->dirty_page_runs++;
                t->dirty_bytes += (size_t)span->npages << OS_PAGE_SHIFT;
            }
        } else {
            CHECK(end <= committed, "span in use past the segment's committed part", start);
            for (unsigned p = page; p < end; p++)
                CHECK(seg->pages[p].head == page, "page of a span not headed by it",
                      (char *)seg + ((size_t)p << OS_PAGE_SHIFT));
            t->active_bytes += (size_t)span->npages << OS_PAGE_SHIFT;
            if (span->state == SPAN_SLAB)
                check_slab(heap, seg, span, t, pool_seen);
        }
        left_free = span->state == SPAN_FREE;
        page = end;
    }
    for (unsigned w = 0; w < MAP_POOL_WORDS / BITMAP_WORD_BITS; w++)
        CHECK(seg->map_pool_used[w] == pool_seen[w], "pool bitmap words marked used by no slab",
              seg);
    for (unsigned line = 0; line < MAP_POOL_WORDS / MAP_LINE_WORDS; line++) {
        unsigned first = line * MAP_LINE_WORDS, used = 0;
        for (unsigned w = first; w < first + MAP_LINE_WORDS; w++)
            used += bitmap_test(seg->map_pool_used, w);
        CHECK((used == 0) == (seg->map_line_shard[line] == 0),
              "pool line's shard set without slabs, or slabs' without its shard", seg);
    }
    check_descriptors(seg, bound);
}

/* Segments from the slot's first to the bump frontier: every one starts a run or lies in one. */
static void walk_segments(struct node_heap *heap, struct tally *t)
{
    uintptr_t at = slot_base(heap->slot) + SEGMENT_SIZE;
    CHECK(list_well_linked(&heap->free_segments), "free segment list badly linked",
          &heap->free_segments);
    struct segment *next_free = list_entry(heap->free_segments.first, struct segment, run_link);
    struct segment *prev_free = NULL, *prev = NULL;
    while (at < heap->seg_next) {
        struct segment *seg = (struct segment *)at;
        if (seg->magic != SEGMENT_MAGIC && prev) /* where the walk came from tells what overran */
            report_pointer(prev->kind == SEG_HUGE ? "heap check: after the huge run at"
                           : prev->kind == SEG_FREE_RUN
                               ? "heap check: after the free segment run at"
                               : "heap check: after the pages segment at",
                           prev);
        CHECK(seg->magic == SEGMENT_MAGIC, "segment without a header", seg);
        CHECK(seg->slot == heap->slot, "segment of another slot", seg);
        CHECK(seg->nsegments >= 1 && seg->nsegments <= (heap->seg_next - at) / SEGMENT_SIZE,
              "segment run past the bump frontier", seg);
        switch (seg->kind) {
        case SEG_PAGES:
            CHECK(seg->nsegments == 1, "pages segment longer than one", seg);
            CHECK(seg->cache_index ==
                      (heap->slot < TOPO_DIRECT_SLOTS ? heap->slot : TOPO_DIRECT_SLOTS),
                  "pages segment whose cache_index is not its slot's", seg);
            check_pages_segment(heap, seg, t);
            break;
        case SEG_HUGE: {
            size_t offset = (size_t)((char *)seg->huge_ptr - (char *)seg);
            CHECK(offset >= SEGMENT_MAP_END && offset < seg->nsegments * SEGMENT_SIZE &&
                      seg->huge_size <= seg->nsegments * SEGMENT_SIZE - offset,
                  "huge object outside its run", seg);
            CHECK(seg->huge_committed >= offset + seg->huge_size &&
                      seg->huge_committed <= seg->nsegments * SEGMENT_SIZE,
                  "huge object past its run's writable part (invariant 12)", seg);
            for (unsigned page = 0; page < PAGES_PER_SEGMENT; page++)
                CHECK(seg->pages[page].tag == 0, "huge segment with a page tag", seg);
            t->active_bytes += seg->nsegments * SEGMENT_SIZE;
            t->huge_count++;
            t->huge_bytes += seg->huge_size;
            break;
        }
        case SEG_FREE_RUN:
            CHECK(seg == next_free, "free segment run missing from the free list (or out of order)",
                  seg);
            CHECK(!prev_free || (uintptr_t)prev_free + prev_free->nsegments * SEGMENT_SIZE < at,
                  "two free segment runs touch", seg);
            if (seg->dirty)
                t->dirty_bytes += seg->nsegments * SEGMENT_SIZE;
            t->uncommitted_runs += seg->uncommitted;
            prev_free = seg;
            next_free = list_entry(seg->run_link.next, struct segment, run_link);
            break;
        default:
            CHECK(0, "segment of unknown kind", seg);
        }
        t->segments++;
        prev = seg;
        at += seg->nsegments * SEGMENT_SIZE;
    }
    CHECK(at == heap->seg_next, "segment runs overrun the bump frontier", (void *)at);
    CHECK(heap->seg_next <= heap->seg_mapped && heap->seg_mapped <= heap->seg_end &&
              heap->seg_mapped % SEGMENT_SIZE == 0,
          "the bump frontier beyond the slot's reserved part", (void *)heap->seg_mapped);
    CHECK(heap->seg_mapped - na_region.base <= __atomic_load_n(&na_region.size, __ATOMIC_ACQUIRE),
          "the slot's reserved part beyond the region's end", (void *)heap->seg_mapped);
    CHECK(next_free == NULL, "free segment list has runs beyond the frontier", next_free);
}

static void check_cached_block(unsigned slot, unsigned cls, void *block);

/*
 * The remote frees parked on a class_slabs (struct class_slabs): blocks of
 * its class and shard, out of their slabs like a cached block, a finite list.
 * Its lock is held, so `handed` can only grow meanwhile: walking it is safe.
 */
static void check_parked(struct node_heap *heap, struct class_slabs *slabs, unsigned shard,
                         unsigned cls)
{
    size_t limit = (size_t)1 << 32; /* past it, the list has a cycle */
    for (int list = 0; list < 2; list++) {
        void *block = list ? __atomic_load_n(&slabs->handed, __ATOMIC_ACQUIRE) : slabs->parked;
        const struct parked_batch *batch = NULL; /* the batch `block` is in, and its blocks left */
        uintptr_t left = 0;
        for (size_t n = 0; block; block = *(void **)block) {
            CHECK(n++ < limit, "parked remote frees in a cycle", slabs);
            check_cached_block(heap->slot, cls, block);
            CHECK(span_of_ptr(segment_of(block), block)->shard == shard,
                  "parked remote free of another shard", block);
            if (!class_has_batches(cls))
                continue;
            if (left == 0) {
                batch = block;
                left = batch->count;
                CHECK(left >= 1, "parked batch of no blocks", block);
            }
            CHECK(--left > 0 || batch->last == block, "parked batch's last block misnamed", batch);
        }
        CHECK(left == 0, "parked batch longer than its list", batch);
    }
}

/* The free page run lists, the dirty list and the partial lists (of the shards locked) agree with
 * the walk. */
static void check_lists(struct node_heap *heap, const struct tally *t)
{
    size_t runs = 0, dirty_runs = 0, partial = 0;
    struct span *span;
    for (unsigned b = 0; b < FREE_RUN_LISTS; b++) {
        bool bit = bitmap_test(heap->free_run_bitmap, b);
        CHECK(bit == !list_empty(&heap->free_runs[b]), "free-run bitmap disagrees with its list",
              &heap->free_runs[b]);
        CHECK(list_well_linked(&heap->free_runs[b]), "free-run list badly linked",
              &heap->free_runs[b]);
        list_for_each_entry(span, &heap->free_runs[b], struct span, link)
        {
            CHECK(span->state == SPAN_FREE && free_run_list_of(span->npages) == b,
                  "span in the wrong free-run list", span);
            CHECK(slot_of_ptr(span) == heap->slot, "free run of another slot in a list", span);
            runs++;
        }
    }
    CHECK(runs == t->free_page_runs, "free page runs listed != free runs in segments", heap);
    CHECK(list_well_linked(&heap->dirty_runs), "dirty list badly linked", &heap->dirty_runs);
    list_for_each_entry(span, &heap->dirty_runs, struct span, lru)
    {
        CHECK(span->state == SPAN_FREE && span->dirty, "clean or used span on the dirty list",
              span);
        dirty_runs++;
    }
    CHECK(dirty_runs == t->dirty_page_runs, "dirty page runs listed != dirty runs in segments",
          heap);
    CHECK(heap->dirty_bytes == t->dirty_bytes, "dirty_bytes != sum of the dirty runs", heap);
    CHECK(heap->uncommitted_runs == t->uncommitted_runs,
          "uncommitted_runs != the free segment runs marked uncommitted", heap);
    CHECK(heap->active_bytes == t->active_bytes, "active_bytes != spans and huge runs in use",
          heap);
    CHECK(heap->huge_count == t->huge_count && heap->huge_bytes == t->huge_bytes,
          "huge totals != huge segments", heap);
    /* Only the shards given to threads: the others have no slab (check_slab) and are
     * not read: class_slabs unused are PROT_NONE, the rest need not become resident. */
    for (unsigned shard = 0; shard < HEAP_SHARDS; shard++) {
        for (unsigned cls = 1; (t->shards >> shard & 1) && cls <= NUM_SMALL_CLASSES; cls++) {
            struct class_slabs *slabs = &heap->class_slabs[shard][cls];
            CHECK(list_well_linked(&slabs->partial), "partial list badly linked", slabs);
            struct span *slab;
            list_for_each_entry(slab, &slabs->partial, struct span, link)
            {
                CHECK(slab->state == SPAN_SLAB && slab->cls == cls && slab->shard == shard &&
                          slab->in_partial,
                      "partial list holds a slab of another class or shard", slab);
                partial++;
            }
            CHECK(!slabs->spare || (slabs->spare->state == SPAN_SLAB && slabs->spare->cls == cls &&
                                    slabs->spare->shard == shard),
                  "spare is not a slab of its class and shard", slabs->spare);
            CHECK(slabs->slabs == t->slabs[shard][cls],
                  "class_slabs' slab count != its slabs in the segments", slabs);
            check_parked(heap, slabs, shard, cls);
        }
    }
    CHECK(partial == t->partial_slabs, "slabs on partial lists != slabs marked in_partial", heap);
}

/* A cached block is the start of a block of a live slab of its class, and out of its slab. */
static void check_cached_block(unsigned slot, unsigned cls, void *block)
{
    CHECK(region_contains(block) && slot_of_ptr(block) == slot, "cached block of another node",
          block);
    struct segment *seg = segment_of(block);
    CHECK(seg->magic == SEGMENT_MAGIC && seg->kind == SEG_PAGES, "cached block outside a slab",
          block);
    unsigned tag = seg->pages[page_in_segment(block)].tag;
    CHECK(tag_class(tag) == cls, "cached block in a bin of another class", block);
    struct span *slab = span_of_ptr(seg, block);
    CHECK(slab->state == SPAN_SLAB && slab->cls == cls, "cached block not in a slab", block);
    size_t offset = (size_t)((char *)block - span_start(seg, slab));
    CHECK(offset % na_size_classes[cls].size == 0, "cached block is not a block start (interior)",
          block);
    size_t index = offset / na_size_classes[cls].size;
    CHECK(index < na_size_classes[cls].slab_blocks, "cached block past its slab", block);
    CHECK(!bitmap_test(slab_map(seg, slab), index),
          "cached block also free in its slab (double free)", block);
}

/* The calling thread's own bins and away lists (other threads' caches are theirs alone). */
static void check_own_cache(unsigned slot)
{
    struct node_cache *nc = thread_cache_of(slot);
    if (!nc)
        return;
    for (unsigned cls = 1; cls <= NUM_SMALL_CLASSES; cls++) {
        uint32_t n = 0;
        for (void *block = nc->bins[cls].head; block; block = *(void **)block) {
            CHECK(n++ < nc->bins[cls].count, "cache bin longer than its count", block);
            check_cached_block(slot, cls, block);
        }
        CHECK(n == nc->bins[cls].count, "cache bin shorter than its count", &nc->bins[cls]);
        CHECK(n <= nc->bins[cls].max, "cache bin above its bound", &nc->bins[cls]);
        CHECK(nc->bins[cls].max >= na_cache_young[cls] &&
                  nc->bins[cls].max <= na_size_classes[cls].cache_grown,
              "cache bin bound outside its class's range", &nc->bins[cls]);
        CHECK((int32_t)(nc->growth[cls].gc_mark - (uint32_t)bin_nalloc(nc, cls)) <= (int32_t)n,
              "cache bin's untouched bottom above its count (struct bin_growth)", &nc->growth[cls]);
        n = 0;
        for (void *block = nc->away ? nc->away[cls].head : NULL; block; block = *(void **)block) {
            CHECK(n++ < nc->away[cls].count, "away list longer than its count", block);
            check_cached_block(slot, cls, block);
        }
    }
}

/*
 * struct thread_state's route_key: a key of the routes' current generation
 * names the cache its CPU's route gives, of a thread at home there. (A key
 * of an older generation is stale by design: the next malloc misses.)
 */
static void check_own_route(void)
{
    const struct thread_state *ts = &na_thread_state;
    uint64_t key = ts->route_key;
    uint64_t generation = __atomic_load_n(&na_route_generation, __ATOMIC_ACQUIRE);
    if (key == 0 || (key & ~(uint64_t)UINT32_MAX) != generation)
        return;
    unsigned cpu = (uint32_t)key;
    CHECK(cpu < (unsigned)na_topo.num_cpus, "thread's route key names no CPU", &ts->route_key);
    CHECK(ts->status == THREAD_LIVE, "route key of a thread that is not live", &ts->route_key);
    const struct cpu_route route = na_topo.cpu[cpu];
    CHECK(ts->route_cache != NULL && ts->route_cache == ts->caches[route.slot],
          "thread's route cache is not the cache its route gives", &ts->route_cache);
    CHECK(route.home == ts->home, "thread's route key outlived a move", &ts->route_key);
}

/* struct cache_bin: the thread's growth is its bins' and within its budget. */
static void check_own_growth(void)
{
    const struct thread_state *ts = &na_thread_state;
    uint64_t sum = 0;
    for (const struct node_cache *nc = ts->cache_list; nc; nc = nc->next)
        for (unsigned cls = 1; cls <= NUM_SMALL_CLASSES; cls++)
            if (nc->bins[cls].max > na_size_classes[cls].cache_max) /* young: none */
                sum += (uint64_t)(nc->bins[cls].max - na_size_classes[cls].cache_max) *
                       na_size_classes[cls].size;
    CHECK(sum == ts->cache_growth, "thread's cache growth is not its bins'", &ts->cache_growth);
    CHECK(sum <= CACHE_THREAD_GROWTH, "thread's cache growth above its budget", &ts->cache_growth);
}

/* Takes or drops the class_slabs locks of the shards in `shards`. */
static void lock_shards(struct node_heap *heap, uint32_t shards, void (*op)(na_lock_t *))
{
    for (unsigned shard = 0; shard < HEAP_SHARDS; shard++)
        for (unsigned cls = 1; (shards >> shard & 1) && cls <= NUM_SMALL_CLASSES; cls++)
            op(&heap->class_slabs[shard][cls].lock);
}

static uint32_t shards_given(void)
{
    return __atomic_load_n(&na_shards_used, __ATOMIC_RELAXED);
}

/*
 * One heap, the class_slabs of the shards given to threads and its pages
 * locked; the segments it has. Only those shards: locking all 32 made the
 * heap's class_slabs resident, and a shard no thread was given has no slab.
 * The shards given are read again once the pages lock is held: a thread
 * given a shard meanwhile may be setting up a slab under that shard's lock
 * alone (slab_create), so the locks are taken again with it. Once they
 * agree, a shard given later makes no slab before the check ends (the pages
 * lock), and every slab's shard is among those locked (check_slab).
 * Lock order: class_slabs, then pages; a heap's first refill waits for the
 * pages lock to make a slab: a heap unused now has no slab until the check
 * is done.
 */
/* The young arena: a page run of its heap, its chunks as core/young_arena.c states. */
static void check_young(struct node_heap *heap)
{
    char *base = __atomic_load_n(&heap->young.base, __ATOMIC_ACQUIRE);
    if (base) {
        struct segment *seg = segment_of(base);
        CHECK(region_contains(base) && slot_of_ptr(base) == heap->slot && seg->kind == SEG_PAGES,
              "young arena outside its heap", base);
        struct span *span = span_of_ptr(seg, base);
        CHECK(span->state == SPAN_LARGE && span_start(seg, span) == base &&
                  ((size_t)span->npages << OS_PAGE_SHIFT) == YOUNG_ARENA_BYTES,
              "young arena is not a page run of its own", base);
    }
    const void *where = heap;
    const char *wrong = young_check(heap, &where);
    if (wrong)
        check_failed(wrong, where, __LINE__, "young_check(heap, &where) == NULL");
}

static size_t check_heap(unsigned slot)
{
    struct node_heap *heap = node_heap_of(slot);
    uint32_t locked;
    for (;;) {
        locked = heap_slabs_used(heap) ? shards_given() : 0;
        lock_shards(heap, locked, na_lock);
        na_lock(&heap->pages_lock);
        if (!heap_slabs_used(heap) || shards_given() == locked)
            break;
        na_unlock(&heap->pages_lock);
        lock_shards(heap, locked, na_unlock);
    }
    struct tally t = {.shards = locked};
    CHECK(heap->slot == slot, "node heap of another slot", heap);
    walk_segments(heap, &t);
    check_young(heap);
    size_t aligned_objects, aligned_bytes; /* counted by this heap, mapped outside it */
    aligned_huge_tally(slot, &aligned_objects, &aligned_bytes);
    t.active_bytes += aligned_bytes;
    t.huge_count += aligned_objects;
    t.huge_bytes += aligned_bytes;
    check_lists(heap, &t);
    check_own_cache(slot);
    na_unlock(&heap->pages_lock);
    lock_shards(heap, locked, na_unlock);
    return t.segments;
}

size_t heap_check_all(void)
{
    size_t segments = 0;
    for (unsigned slot = 0; slot < na_region.num_slots; slot++)
        if (heap_is_ready(slot))
            segments += check_heap(slot);
    check_own_growth();
    check_own_route();
    return segments;
}
