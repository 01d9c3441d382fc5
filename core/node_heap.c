/*
 * node_heap.c - small blocks (each class's slabs, struct class_slabs) and
 * large objects (page runs) of one node heap; see node_heap.h.
 *
 * A slab is a page run of na_size_classes[cls].slab_pages pages cut into
 * blocks, its free ones in the segment header's bitmap (segment.free_map,
 * core/layout.h), so a new slab touches only the pages it serves. A slab
 * whose blocks are all back is empty and returns its pages (keeping one
 * spare per class_slabs).
 */
#include "base/bitmap.h"
#include "base/debug.h"
#include "base/report.h"
#include "core/node_heap.h"
#include "core/race_points.h"
#include "core/thread_cache.h"

#include <string.h>

void node_heap_init(struct node_heap *heap, unsigned slot, int node, uintptr_t slot_end)
{
    /* No memset: the rest is zero already (an empty heap), and writing it would make it resident.
     */
    heap->node = node;
    heap->slot = slot;
    heap->next_purge_ms = UINT64_MAX;
    heap->seg_next = slot_base(slot) + SEGMENT_SIZE;
    heap->seg_end = slot_end;
}

static void partial_push(struct class_slabs *slabs, struct span *slab)
{
    NA_ASSERT_HELD(&slabs->lock);
    NA_ASSERT(slab->state == SPAN_SLAB && !slab->in_partial);
    list_push_front(&slabs->partial, &slab->link);
    slab->in_partial = 1;
}

static void partial_remove(struct class_slabs *slabs, struct span *slab)
{
    NA_ASSERT_HELD(&slabs->lock);
    NA_ASSERT(slab->in_partial);
    list_remove(&slabs->partial, &slab->link);
    slab->in_partial = 0;
}

/* Blocks whose bit is set in the slab's free_map: slab_blocks - used, always (NA_ASSERT only). */
static inline unsigned slab_free_blocks(struct segment *seg, const struct span *slab)
{
    const uint64_t *map = slab_map(seg, slab);
    unsigned free_blocks = 0;
    for (unsigned w = 0; w < BITMAP_WORDS(na_size_classes[slab->cls].slab_blocks); w++)
        free_blocks += (unsigned)__builtin_popcountll(map[w]);
    return free_blocks;
}

static struct span *slab_create(struct node_heap *heap, unsigned cls, unsigned shard)
{
    unsigned words = BITMAP_WORDS(na_size_classes[cls].slab_blocks);
    na_lock(&heap->pages_lock);
    struct span *slab = page_run_alloc(heap, na_size_classes[cls].slab_pages, 1, false);
    if (slab)
        slab_map_place(segment_of(slab), slab, shard, words);
    purge_maybe(heap);
    na_unlock(&heap->pages_lock);
    if (!slab)
        return NULL;
    struct segment *seg = segment_of(slab);
    unsigned first = slab->first;
    slab->state = SPAN_SLAB;
    slab->cls = (uint8_t)cls;
    slab->shard = (uint8_t)shard;
    slab->used = 0;
    heap->class_slabs[shard][cls].slabs++;
    slab->map_hint = 0;
    uint64_t *map = slab_map(seg, slab);
    unsigned blocks = na_size_classes[cls].slab_blocks;
    for (unsigned w = 0; w < blocks / BITMAP_WORD_BITS; w++)
        map[w] = ~(uint64_t)0;
    if (blocks % BITMAP_WORD_BITS)
        map[blocks / 64] = ((uint64_t)1 << (blocks % 64)) - 1;
    for (unsigned page = first; page < first + slab->npages; page++)
        seg->pages[page].tag = PAGE_TAG(cls, shard);
    return slab;
}

static void slab_destroy(struct node_heap *heap, struct span *slab)
{
    heap->class_slabs[slab->shard][slab->cls].slabs--;
    struct segment *seg = segment_of(slab);
    unsigned first = slab->first;
    NA_ASSERT(slab->state == SPAN_SLAB && slab->used == 0 && !slab->in_partial);
    NA_ASSERT(slab_free_blocks(seg, slab) == na_size_classes[slab->cls].slab_blocks);
    for (unsigned page = first; page < first + slab->npages; page++)
        seg->pages[page].tag = 0; /* the heads stay: page_run_free reads them */
    na_lock(&heap->pages_lock);
    uint64_t now = os_now_ms(); /* under the lock: the dirty runs' list stays in time order */
    slab_map_release(seg, slab, BITMAP_WORDS(na_size_classes[slab->cls].slab_blocks));
    page_run_free(heap, slab, true, now);
    purge_maybe_at(heap, now);
    na_unlock(&heap->pages_lock);
}

/*
 * After a refill whose last block ends inside a page, writes the free block
 * that starts there. The program may read its block's tail before writing
 * it (a page nobody wrote: the kernel maps its zero page), and the refill
 * that hands out the next block would then write its link into that page: a
 * second fault, which swaps the zero page for a page of its own and, with
 * the process on several CPUs, interrupts each of them to flush its TLB (8 %
 * of shared-pool-2t's time). The page is the slab's next to be written
 * anyway, if the class is ever refilled again: a program that never comes
 * back for more of the class keeps one page more resident (Python's
 * start-up: 48 KiB at exit). Hence only with other threads alive, where the
 * second fault interrupts other CPUs; a lone thread's costs its own time
 * only. A block already handed out (its bit clear) wrote that page itself.
 */
static inline void touch_next_page(const uint64_t *map, const char *start, char *last,
                                   const struct size_class_info *info)
{
    uintptr_t end = (uintptr_t)last + info->size;
    if ((end & OS_PAGE_MASK) == 0 || (end >> OS_PAGE_SHIFT) == ((uintptr_t)last >> OS_PAGE_SHIFT))
        return; /* no page shared with the next block, or one the last block's link wrote */
    size_t next = (end - (uintptr_t)start) / info->size;
    NA_ASSERT(next * info->size == end - (uintptr_t)start); /* blocks lie back to back */
    if (next < info->slab_blocks && bitmap_test(map, next))
        *(volatile char *)end = 0;
}

/*
 * Moves up to `want` blocks from a slab to the front of *list, lowest
 * address first, in the order they will be handed out: consecutive
 * allocations of a class lie next to each other (a walk in allocation order
 * streams) and a slab's pages are touched only as they are needed.
 */
static unsigned slab_take(struct span *slab, unsigned want, void **list)
{
    const struct size_class_info *info = &na_size_classes[slab->cls];
    struct segment *seg = segment_of(slab);
    uint64_t *map = slab_map(seg, slab);
    char *start = span_start(seg, slab);
    unsigned words = BITMAP_WORDS(info->slab_blocks), w = slab->map_hint, taken = 0;
    void *first = NULL, **link = &first; /* the chain taken, and where its end links */
    for (; w < words; w++) {
        uint64_t bits = map[w];
        while (bits && taken < want) {
            char *block = start + (size_t)(w * BITMAP_WORD_BITS + (unsigned)__builtin_ctzll(bits)) *
                                      info->size;
            bits &= bits - 1;
            *link = block;
            link = (void **)block;
            taken++;
        }
        map[w] = bits;
        if (taken == want)
            break;
    }
    slab->map_hint = w;
    if (taken && threads_beside_this_one())
        touch_next_page(map, start, (char *)link, info);
    NA_ASSERT(slab->used + taken <= info->slab_blocks);
    *link = *list;
    *list = first;
    slab->used += taken;
    return taken;
}

/* Moves the first `count` blocks of a chain to the front of *list; returns what followed them. */
static void *chain_cut(void *first, unsigned count, void **list)
{
    void *last = first;
    for (unsigned i = 1; i < count; i++)
        last = *(void **)last;
    void *rest = *(void **)last;
    *(void **)last = *list;
    *list = first;
    return rest;
}

/*
 * Is this the head of a batch of the locked class_slabs (struct
 * parked_batch)? Its words past the link are the program's after a write
 * to a freed block, and a refill must not follow them anywhere else.
 */
static bool batch_is_sound(unsigned tag, const struct parked_batch *batch)
{
    const void **last = batch->last;
    /* An away list is handed back at half a bin (away_push): a batch is never longer. */
    if (batch->count == 0 || batch->count > na_size_classes[tag_class(tag)].cache_max ||
        !region_contains(last))
        return false;
    const struct page_entry *page = page_entry_at(segment_of(last), last);
    return page->tag == tag && is_block_start(segment_of(last), last, page) &&
           last[1] == (void *)na_free_block_key;
}

static void parked_drain(struct node_heap *heap, struct class_slabs *slabs, unsigned cls);

/*
 * Moves up to `want` parked blocks (remote frees, handed back) to the front
 * of *list, lock held; returns how many. Their slabs count them used
 * already: nothing else changes. Whole batches go without a walk (struct
 * parked_batch); a batch cut short is walked to the cut and its rest
 * becomes a batch. A batch head that is not sound drains what is parked
 * into the slabs, whose walk checks every block.
 */
static unsigned parked_take(struct node_heap *heap, struct class_slabs *slabs, unsigned shard,
                            unsigned cls, unsigned want, void **list)
{
    NA_ASSERT_HELD(&slabs->lock);
    if (!slabs->parked)
        slabs->parked = __atomic_exchange_n(&slabs->handed, NULL, __ATOMIC_ACQUIRE);
    unsigned taken = 0;
    if (!class_has_batches(cls)) {
        for (void *block = slabs->parked; block && taken < want; block = *(void **)block)
            taken++;
        if (taken)
            slabs->parked = chain_cut(slabs->parked, taken, list);
    }
    while (slabs->parked && taken < want) {
        struct parked_batch *batch = slabs->parked;
        if (unlikely(!batch_is_sound(PAGE_TAG(cls, shard), batch))) {
            __atomic_sub_fetch(&slabs->parked_count, taken, __ATOMIC_RELAXED);
            parked_drain(heap, slabs, cls);
            return taken;
        }
        if (batch->count <= want - taken) {
            void **last = batch->last;
            taken += (unsigned)batch->count;
            slabs->parked = last[0];
            last[0] = *list;
            *list = batch;
        } else {
            unsigned cut = want - taken;
            void *last = batch->last;
            uintptr_t left = batch->count - cut;
            struct parked_batch *rest = chain_cut(batch, cut, list);
            rest->last = last;
            rest->count = left;
            slabs->parked = rest;
            taken += cut;
        }
    }
    __atomic_sub_fetch(&slabs->parked_count, taken, __ATOMIC_RELAXED);
    return taken;
}

/*
 * The heap's first refill: class_slabs is committed (another thread may do
 * the same meanwhile: committing twice is harmless). False if the kernel
 * refuses (vm.overcommit_memory=2): the refill gets nothing, ENOMEM.
 */
static NA_NOINLINE NA_COLD bool slabs_commit(struct node_heap *heap)
{
    uintptr_t start = (uintptr_t)heap->class_slabs & ~(uintptr_t)OS_PAGE_MASK;
    uintptr_t end = os_page_round_up((uintptr_t)(heap + 1));
    if (os_commit((void *)start, end - start) != 0)
        return false;
    __atomic_store_n(&heap->slabs_used, 1, __ATOMIC_RELEASE);
    return true;
}

/* Parked remote frees, as many as there are up to `want` (lock held); how many. */
static unsigned take_parked(struct node_heap *heap, struct class_slabs *slabs, unsigned shard,
                            unsigned cls, unsigned want, void **list)
{
    unsigned got = 0;
    while (got < want && (slabs->parked || __atomic_load_n(&slabs->handed, __ATOMIC_RELAXED))) {
        unsigned taken = parked_take(heap, slabs, shard, cls, want - got, list);
        got += taken;
        if (!taken)
            break;
    }
    return got;
}

/*
 * What a class_slabs has to hand out without a new slab (lock held): its
 * parked remote frees first (handing them out again is all they need: see
 * struct class_slabs), then its partial slabs' lowest free blocks.
 */
static unsigned take_held(struct node_heap *heap, struct class_slabs *slabs, unsigned shard,
                          unsigned cls, unsigned want, void **list)
{
    unsigned got = take_parked(heap, slabs, shard, cls, want, list);
    while (got < want) {
        struct span *slab = list_entry(slabs->partial.first, struct span, link);
        if (!slab)
            break;
        got += slab_take(slab, want - got, list);
        if (slab->used == na_size_classes[cls].slab_blocks)
            partial_remove(slabs, slab);
    }
    return got;
}

/*
 * A refill that would make a new slab first takes remote frees parked on
 * another shard, blocks that shard's refills have not come back for. Two
 * threads that free each other's blocks hand them back through away lists;
 * while one of them does not run (a 2-CPU machine, a preempted thread), the
 * other's shard gets nothing back and made slab after slab, while its own
 * frees piled up, parked, on the other's shard (larson-server-2t: 10 to 15
 * MiB peak RSS from run to run). Not the free blocks of another shard's
 * slabs: those are what its own threads allocate from next, and a thread
 * whose batch outgrew its slab would take them and free each of them back
 * through an away list (test_cache_bins). Only for classes of whole cache
 * lines: such a block shares no line with its neighbours, so a thread given
 * another shard's block writes no line the other shard's thread writes
 * (Hoard's passive false sharing, what shards are for). Only for a shard
 * that has slabs of the class already: a thread's first blocks of a class
 * come from a slab of its own, so that its frees of them stay local. The
 * other shard's lock is only tried: the refill holds its own.
 */
static unsigned take_from_other_shards(struct node_heap *heap, unsigned shard, unsigned cls,
                                       unsigned want, void **list)
{
    if (na_size_classes[cls].size % NA_CACHE_LINE)
        return 0;
    if (!heap->class_slabs[shard][cls].slabs)
        return 0;
    uint32_t *parked_shards = &heap->parked_shards[cls];
    uint32_t maybe = __atomic_load_n(parked_shards, __ATOMIC_SEQ_CST);
    for (unsigned i = 1; i < HEAP_SHARDS; i++) {
        unsigned other = (shard + i) & (HEAP_SHARDS - 1);
        if (!(maybe & (1u << other)))
            continue; /* nothing parked there: its class_slabs is not even read */
        struct class_slabs *slabs = &heap->class_slabs[other][cls];
        if (!__atomic_load_n(&slabs->parked_count, __ATOMIC_SEQ_CST)) {
            __atomic_fetch_and(parked_shards, ~(1u << other), __ATOMIC_SEQ_CST);
            if (__atomic_load_n(&slabs->parked_count, __ATOMIC_SEQ_CST)) /* a hand-back came */
                __atomic_fetch_or(parked_shards, 1u << other, __ATOMIC_SEQ_CST);
            continue;
        }
        if (!na_trylock(&slabs->lock))
            continue;
        unsigned got = take_parked(heap, slabs, other, cls, want, list);
        na_unlock(&slabs->lock);
        if (got)
            return got;
    }
    return 0;
}

/*
 * The heap could make no slab (its node's memory is spent, or a limit: `ulimit
 * -d`, a cgroup, a full node under bind): before the refill fails, the free
 * blocks of the other shards' slabs of the class serve it, and their parked
 * blocks, where false sharing matters less than an ENOMEM: with 18750 blocks
 * of 64 B that a thread freed in its shard's slabs, another thread's first
 * malloc of 64 B failed (limits_probe shard-reuse; glibc's 52nd, the blocks
 * in another arena). Then every spare slab gives its pages back
 * (release_other_spares) and the slab is made again. Their locks are only
 * tried: the refill holds its own.
 */
static unsigned take_from_any_shard(struct node_heap *heap, unsigned shard, unsigned cls,
                                    unsigned want, void **list)
{
    unsigned got = 0;
    for (unsigned i = 1; i < HEAP_SHARDS && got < want; i++) {
        struct class_slabs *slabs = &heap->class_slabs[(shard + i) & (HEAP_SHARDS - 1)][cls];
        if (!__atomic_load_n(&slabs->slabs, __ATOMIC_RELAXED) || !na_trylock(&slabs->lock))
            continue;
        got += take_held(heap, slabs, (shard + i) & (HEAP_SHARDS - 1), cls, want - got, list);
        na_unlock(&slabs->lock);
    }
    return got;
}

/* Gives the spare slab's pages back (its class_slabs' lock held): true if there was one. */
static bool spare_release(struct node_heap *heap, struct class_slabs *slabs)
{
    struct span *spare = slabs->spare;
    if (!spare)
        return false;
    slabs->spare = NULL;
    slab_destroy(heap, spare);
    return true;
}

/*
 * No slab could be made: the spare slabs of every other class_slabs give
 * their pages back, so that one can (their locks only tried). True if any did.
 */
static bool release_other_spares(struct node_heap *heap, const struct class_slabs *held)
{
    bool released = false;
    for (unsigned i = 0; i < HEAP_SHARDS * (NUM_SMALL_CLASSES + 1); i++) {
        struct class_slabs *slabs = &heap->class_slabs[0][0] + i;
        if (slabs == held || !__atomic_load_n(&slabs->spare, __ATOMIC_RELAXED) ||
            !na_trylock(&slabs->lock))
            continue;
        released |= spare_release(heap, slabs);
        na_unlock(&slabs->lock);
    }
    return released;
}

/* A refill out of memory: blocks taken from other shards, or -1: make the slab again. */
static NA_NOINLINE NA_COLD int refill_spent(struct node_heap *heap, struct class_slabs *slabs,
                                            unsigned shard, unsigned cls, unsigned want,
                                            void **list)
{
    unsigned taken = take_from_any_shard(heap, shard, cls, want, list);
    if (taken)
        return (int)taken;
    return release_other_spares(heap, slabs) ? -1 : 0;
}

unsigned heap_refill(struct node_heap *heap, unsigned shard, unsigned cls, unsigned want,
                     void **list)
{
    if (unlikely(!heap_slabs_used(heap)) && !slabs_commit(heap))
        return 0;
    shard &= HEAP_SHARDS - 1;
    struct class_slabs *slabs = &heap->class_slabs[shard][cls];
    bool retried = false;
    na_lock(&slabs->lock);
    unsigned got = take_held(heap, slabs, shard, cls, want, list);
    while (got < want) {
        race_point(RACE_REFILL_NEW_SLAB, na_size_classes[cls].size);
        /* A spare slab was these class_slabs', so it is tagged with this shard. */
        struct span *slab = slabs->spare;
        slabs->spare = NULL;
        if (!slab) {
            unsigned taken = take_from_other_shards(heap, shard, cls, want - got, list);
            got += taken;
            if (taken)
                break;
            slab = slab_create(heap, cls, shard);
            if (!slab) { /* out of memory: what the other class_slabs hold, once */
                int spent = retried ? 0 : refill_spent(heap, slabs, shard, cls, want - got, list);
                retried = true;
                if (spent < 0)
                    continue; /* the spares gave their pages back: make the slab again */
                got += (unsigned)spent;
                break;
            }
        }
        /* From this slab only: blocks handed back meanwhile would leave it empty on the list. */
        partial_push(slabs, slab);
        got += slab_take(slab, want - got, list);
        if (slab->used == na_size_classes[cls].slab_blocks)
            partial_remove(slabs, slab);
    }
    na_unlock(&slabs->lock);
    return got;
}

/*
 * What slab_return_block leaves out of the flush's loop: a slab that the
 * block emptied becomes spare or goes; one that was full goes back on its
 * class's partial list. Out of line, the loop's registers hold the class's
 * constants (below).
 */
static NA_NOINLINE void slab_emptied_or_partial(struct node_heap *heap, struct class_slabs *slabs,
                                                struct span *slab)
{
    if (slab->used == 0) {
        NA_ASSERT(slab_free_blocks(segment_of(slab), slab) ==
                  na_size_classes[slab->cls].slab_blocks);
        if (slab->in_partial)
            partial_remove(slabs, slab);
        if (!slabs->spare) {
            slabs->spare = slab;
        } else {
            slab_destroy(heap, slab);
        }
    } else {
        partial_push(slabs, slab);
    }
}

/*
 * Sets a block's bit in its slab (class_slabs lock held). `page` is the
 * block's page entry, whose tag the caller found to be PAGE_TAG(cls, the
 * slabs' shard): a slab page of the class (the invariant in core/layout.h).
 * Its head locates the slab, its bitmap and its start with shifts: span_start
 * and slab_map divide a pointer difference by sizeof(struct span), and the
 * block's index took a div by the class size (slab_block_index does
 * without). `magic` is the class's entry of na_slab_index_magic, read once
 * by the caller: read here, after the bitmap's store (which may alias it, as
 * far as the compiler knows), it was loaded again for every block. Inlined
 * into the loops that call it: called once per block, it cost heap_flush a
 * quarter more instructions (callgrind, short-threads: each thread's exit
 * flushes its bins). With the constants read once, the slab's address
 * computed once and the rare cases out of line, a flushed block costs 60
 * instructions instead of 72 (callgrind, bulk-free-1t's shape: docs/benchmarks.md,
 * round twelve).
 */
static inline __attribute__((always_inline)) void
slab_return_block(struct node_heap *heap, struct class_slabs *slabs, unsigned cls, void *block,
                  struct segment *seg, struct page_entry page, struct slab_index_magic magic)
{
    NA_ASSERT_HELD(&slabs->lock);
    NA_ASSERT(page.cls == cls && page.tag == seg->pages[page_in_segment(block)].tag);
    struct span *slab = span_at(seg, page.head);
    /* Computed once (GCC 12 recomputed its address for each field: 9 instructions a block). */
    __asm__("" : "+r"(slab));
    NA_ASSERT(slab->state == SPAN_SLAB && slab->cls == cls && slab->shard == page.shard);
    NA_ASSERT(slabs == &heap->class_slabs[slab->shard & (HEAP_SHARDS - 1)][cls]);
    uintptr_t start = (uintptr_t)seg + ((uintptr_t)page.head << OS_PAGE_SHIFT);
    uint64_t x = ((uintptr_t)block - start) * magic.odd_inverse;
    uint64_t index = x >> magic.shift | x << (-magic.shift & 63u);
    if (index >= magic.blocks)
        report_invalid_pointer("free(): invalid pointer or double free", block);
    uint64_t *word = slab_map(seg, slab) + index / BITMAP_WORD_BITS;
    uint64_t bit = (uint64_t)1 << (index % BITMAP_WORD_BITS);
    uint64_t bits = *word;
    /* A slab with no block out has every bit set: this catches used == 0 too. */
    if (bits & bit)
        report_invalid_pointer("free(): double free detected", block);
    NA_ASSERT(slab->used > 0);
    *word = bits | bit;
    if (index / BITMAP_WORD_BITS < slab->map_hint)
        slab->map_hint = (uint32_t)(index / BITMAP_WORD_BITS);
    uint32_t used = slab->used - 1;
    slab->used = used;
    if (unlikely(used == 0) || unlikely(!slab->in_partial))
        slab_emptied_or_partial(heap, slabs, slab);
}

/*
 * The walk of heap_flush and heap_flush_some: gives back up to `*count`
 * blocks, leaves in `*count` how many it did not reach (the list ended), and
 * returns what follows the last one given back. A list rarely mixes shards,
 * so a block whose page tag is the locked shard's needs no other lookup.
 * Each link is read before its block goes back (an emptied slab may be
 * purged).
 */
static inline __attribute__((always_inline)) void *flush_walk(struct node_heap *heap, unsigned cls,
                                                              void *list, uint32_t *count)
{
    struct class_slabs *slabs = NULL;
    uint32_t locked_tag = UINT32_MAX; /* no page's tag */
    const struct slab_index_magic magic = na_slab_index_magic[cls & 0xffu];
    uint32_t left = *count;
    for (; left && list; left--) {
        void *block = list;
        list = *(void **)block;
        struct segment *seg = segment_of(block);
        struct page_entry page = *page_entry_at(seg, block);
        if (unlikely(page.tag != locked_tag)) {
            if (page.cls != cls)
                report_invalid_pointer("free(): invalid pointer or double free", block);
            if (slabs)
                na_unlock(&slabs->lock);
            slabs = &heap->class_slabs[page.shard & (HEAP_SHARDS - 1)][cls];
            locked_tag = page.tag;
            na_lock(&slabs->lock);
        }
        slab_return_block(heap, slabs, cls, block, seg, page, magic);
    }
    if (slabs)
        na_unlock(&slabs->lock);
    *count = left;
    return list;
}

void heap_flush(struct node_heap *heap, unsigned cls, void *list)
{
    uint32_t all = UINT32_MAX;
    flush_walk(heap, cls, list, &all);
}

void *heap_flush_some(struct node_heap *heap, unsigned cls, void *list, uint32_t count)
{
    void *rest = flush_walk(heap, cls, list, &count);
    /*
     * The list ended early: a block of it was freed by another thread too,
     * whose away list's hand-back relinked it (heap_hand_back writes the
     * chain's last link).
     */
    if (count)
        report_invalid_pointer("free(): double free detected", list);
    return rest;
}

/*
 * How many remote frees a class_slabs may hold parked before they are
 * drained into their slabs: PARKED_BYTES of blocks, at least a bin's worth.
 * While the shard allocates the class, its refills take them first and they
 * cost no memory; the bound is what a shard that stopped may pin. A ring of
 * 4096 64-byte blocks (256 KiB in flight) on a busy machine, where a thread
 * is descheduled for a while and the other runs on: with a bound of 8 or
 * 32 KiB, 97-98% of the blocks were drained before the producer's refill
 * came; with 128 KiB, 10-50%.
 */
#define PARKED_BYTES ((uint32_t)128 << 10)

static uint32_t class_parked_max(unsigned cls)
{
    uint32_t blocks = PARKED_BYTES / na_size_classes[cls].size;
    return blocks > na_size_classes[cls].cache_max ? blocks : na_size_classes[cls].cache_max;
}

/* Every parked and handed block back into its slab (lock held); the slabs emptied go. */
static void parked_drain(struct node_heap *heap, struct class_slabs *slabs, unsigned cls)
{
    NA_ASSERT_HELD(&slabs->lock);
    void *list = slabs->parked;
    slabs->parked = NULL;
    uint32_t drained = 0;
    for (int round = 0; round < 2; round++) {
        while (list) {
            void *block = list;
            list = *(void **)block;
            struct segment *seg = segment_of(block);
            struct page_entry page = *page_entry_at(seg, block);
            if (page.cls != cls)
                report_invalid_pointer("free(): invalid pointer or double free", block);
            slab_return_block(heap, slabs, cls, block, seg, page, na_slab_index_magic[cls]);
            drained++;
        }
        list = __atomic_exchange_n(&slabs->handed, NULL, __ATOMIC_ACQUIRE);
    }
    __atomic_sub_fetch(&slabs->parked_count, drained, __ATOMIC_RELAXED);
}

void heap_drain_parked(struct node_heap *heap, unsigned shard)
{
    if (!heap_slabs_used(heap))
        return;
    for (unsigned cls = 1; cls <= NUM_SMALL_CLASSES; cls++) {
        struct class_slabs *slabs = &heap->class_slabs[shard & (HEAP_SHARDS - 1)][cls];
        if (!__atomic_load_n(&slabs->parked_count, __ATOMIC_RELAXED))
            continue;
        na_lock(&slabs->lock);
        parked_drain(heap, slabs, cls);
        na_unlock(&slabs->lock);
    }
}

void heap_release_shard_spares(struct node_heap *heap, unsigned shard)
{
    if (!heap_slabs_used(heap))
        return;
    for (unsigned cls = 1; cls <= NUM_SMALL_CLASSES; cls++) {
        struct class_slabs *slabs = &heap->class_slabs[shard & (HEAP_SHARDS - 1)][cls];
        if (!__atomic_load_n(&slabs->spare, __ATOMIC_RELAXED))
            continue;
        na_lock(&slabs->lock);
        (void)spare_release(heap, slabs);
        na_unlock(&slabs->lock);
    }
}

/* Debug builds: a chain handed back is `count` blocks of this class and shard, last the last. */
static bool chain_is_of(unsigned shard, unsigned cls, void *first, const void *last, uint32_t count)
{
    for (void *block = first; block; block = *(void **)block) {
        const struct span *slab = span_of_ptr(segment_of(block), block);
        if (slab->state != SPAN_SLAB || slab->cls != cls || slab->shard != shard)
            return false;
        if (--count == 0)
            return block == last;
    }
    return false;
}

void heap_hand_back(struct node_heap *heap, unsigned shard, unsigned cls, void *first, void *last,
                    uint32_t count)
{
    NA_ASSERT(heap_slabs_used(heap) && count > 0);
    NA_ASSERT(chain_is_of(shard, cls, first, last, count));
    struct class_slabs *slabs = &heap->class_slabs[shard & (HEAP_SHARDS - 1)][cls];
    if (class_has_batches(cls)) {
        struct parked_batch *batch = first;
        batch->last = last;
        batch->count = count;
    }
    void *head = __atomic_load_n(&slabs->handed, __ATOMIC_RELAXED);
    do {
        *(void **)last = head;
    } while (!__atomic_compare_exchange_n(&slabs->handed, &head, first, true, __ATOMIC_RELEASE,
                                          __ATOMIC_RELAXED));
    uint32_t parked = __atomic_add_fetch(&slabs->parked_count, count, __ATOMIC_SEQ_CST);
    uint32_t bit = 1u << (shard & (HEAP_SHARDS - 1));
    if (!(__atomic_load_n(&heap->parked_shards[cls], __ATOMIC_SEQ_CST) & bit)) /* mostly set */
        __atomic_fetch_or(&heap->parked_shards[cls], bit, __ATOMIC_SEQ_CST);
    if (parked <= class_parked_max(cls))
        return;
    na_lock(&slabs->lock);
    parked_drain(heap, slabs, cls);
    na_unlock(&slabs->lock);
}

bool heap_block_is_free(struct node_heap *heap, unsigned cls, const void *block)
{
    struct segment *seg = segment_of(block);
    struct span *slab = span_of_ptr(seg, block);
    if (!heap_slabs_used(heap)) /* no slab was ever made here */
        return false;
    struct class_slabs *slabs = &heap->class_slabs[slab->shard & (HEAP_SHARDS - 1)][cls];
    na_lock(&slabs->lock);
    uint64_t index = slab_block_index(cls, (uint64_t)((const char *)block - span_start(seg, slab)));
    bool is_free = slab->state == SPAN_SLAB && slab->cls == cls &&
                   index < na_size_classes[cls].slab_blocks &&
                   bitmap_test(slab_map(seg, slab), index);
    /* Or handed back by another shard's thread: free, though its bit is clear. Safe under
     * the lock: handed loses nodes only under it (struct class_slabs). */
    for (int list = 0; list < 2 && !is_free; list++) {
        const void *b = list ? __atomic_load_n(&slabs->handed, __ATOMIC_ACQUIRE) : slabs->parked;
        for (; b && !is_free; b = *(void *const *)b)
            is_free = b == block;
    }
    na_unlock(&slabs->lock);
    return is_free;
}

bool heap_release_spares(struct node_heap *heap)
{
    if (!heap_slabs_used(heap))
        return false;
    bool released = false;
    uint32_t shards = __atomic_load_n(&na_shards_used, __ATOMIC_RELAXED);
    for (unsigned i = 0; i < HEAP_SHARDS * (NUM_SMALL_CLASSES + 1); i++) {
        if (!(shards >> (i / (NUM_SMALL_CLASSES + 1)) & 1))
            continue; /* a shard no thread ever had: nothing to give back */
        struct class_slabs *slabs = &heap->class_slabs[0][0] + i;
        na_lock(&slabs->lock);
        if (i % (NUM_SMALL_CLASSES + 1) != 0)
            parked_drain(heap, slabs, i % (NUM_SMALL_CLASSES + 1));
        released |= spare_release(heap, slabs);
        na_unlock(&slabs->lock);
    }
    return released;
}

void *heap_alloc_large(struct node_heap *heap, size_t bytes, size_t alignment, bool *zeroed,
                       bool roomy)
{
    size_t align_pages = alignment > OS_PAGE_SIZE ? alignment >> OS_PAGE_SHIFT : 1;
    na_lock(&heap->pages_lock);
    struct span *span = page_run_alloc(heap, bytes >> OS_PAGE_SHIFT, align_pages, roomy);
    if (span) {
        span->state = SPAN_LARGE;
        span->sample = 0;
        *zeroed = !span->dirty;
    }
    purge_maybe(heap);
    na_unlock(&heap->pages_lock);
    return span ? span_start(segment_of(span), span) : NULL;
}

bool heap_resize_large(struct node_heap *heap, struct span *span, size_t bytes)
{
    na_lock(&heap->pages_lock);
    bool done = page_run_resize(heap, span, bytes >> OS_PAGE_SHIFT);
    purge_maybe(heap);
    na_unlock(&heap->pages_lock);
    return done;
}

void heap_free_large(struct node_heap *heap, struct segment *seg, struct span *span)
{
    (void)seg;
    na_lock(&heap->pages_lock);
    uint64_t now = os_now_ms(); /* this free's one reading, under the lock (slab_destroy) */
    page_run_free(heap, span, false, now);
    purge_maybe_at(heap, now);
    na_unlock(&heap->pages_lock);
}

void heap_totals(struct node_heap *heap, struct heap_totals *out)
{
    na_lock(&heap->pages_lock);
    out->committed = heap->seg_next - (slot_base(heap->slot) + SEGMENT_SIZE);
    out->active = heap->active_bytes;
    out->dirty = heap->dirty_bytes;
    out->huge_count = heap->huge_count;
    out->huge_bytes = heap->huge_bytes;
    out->peak_active = heap->peak_active_bytes;
    out->purged = heap->purged_bytes + __atomic_load_n(&heap->young.purged_bytes, __ATOMIC_RELAXED);
    na_unlock(&heap->pages_lock);
}
