/*
 * page_runs.c - runs of pages inside SEG_PAGES segments: the memory of
 * slabs and large objects. Free runs are found by length (node_heap.free_runs
 * and its bitmap), split on allocation and coalesced with both neighbours on
 * free. Called with pages_lock held.
 */
#include "base/bitmap.h"
#include "base/debug.h"
#include "core/hugepages.h"
#include "core/node_heap.h"
#include "policy/capabilities.h"
#include "policy/verify.h"

#include <string.h>

static void bin_insert(struct node_heap *heap, struct span *span)
{
    unsigned idx = free_run_list_of(span->npages);
    list_push_front(&heap->free_runs[idx], &span->link);
    bitmap_set(heap->free_run_bitmap, idx);
}

static void bin_remove(struct node_heap *heap, struct span *span)
{
    unsigned idx = free_run_list_of(span->npages);
    list_remove(&heap->free_runs[idx], &span->link);
    if (list_empty(&heap->free_runs[idx]))
        bitmap_clear(heap->free_run_bitmap, idx);
}

/*
 * A descriptor for the span that starts at `first`, which has none: the one
 * handed back last, else the lowest never used (layout.h, span_index).
 * Cleared, but for its first page.
 */
static struct span *span_bind(struct segment *seg, unsigned first)
{
    NA_ASSERT(seg->span_index[first] == 0);
    unsigned index = seg->idle_spans;
    if (index) {
        seg->idle_spans = (uint16_t)seg->spans[index].next_idle;
    } else {
        if (seg->spans_touched == 0)
            seg->spans_touched = 1; /* spans[0] is no span's */
        index = seg->spans_touched++;
    }
    /* A segment has fewer spans than pages: more descriptors than that is a leak of them. */
    if (unlikely(index >= PAGES_PER_SEGMENT))
        report_invalid_pointer("internal error: a segment ran out of span descriptors", seg);
    struct span *span = &seg->spans[index];
    memset(span, 0, sizeof *span);
    span->first = (uint16_t)first;
    seg->span_index[first] = (uint16_t)index;
    return span;
}

/* The descriptor of the span starting at `first`: its own if it has one, else a new one. */
static struct span *span_claim(struct segment *seg, unsigned first)
{
    return seg->span_index[first] ? span_at(seg, first) : span_bind(seg, first);
}

/* A span that is no more (merged into its left neighbour, or pages of another): its descriptor
 * idles. */
static void span_unbind(struct segment *seg, struct span *span)
{
    unsigned index = (unsigned)(span - seg->spans);
    NA_ASSERT(index > 0 && seg->span_index[span->first] == index);
    seg->span_index[span->first] = 0;
    memset(span, 0, sizeof *span);
    span->next_idle = seg->idle_spans;
    seg->idle_spans = (uint16_t)index;
}

/* Turns pages [first, first+npages) of seg into one free run. */
static struct span *make_free_run(struct node_heap *heap, struct segment *seg, unsigned first,
                                  unsigned npages, bool dirty, uint64_t freed_ms, bool emptied)
{
    NA_ASSERT(npages > 0 && first >= SEGMENT_HEADER_PAGES && first + npages <= PAGES_PER_SEGMENT);
    struct span *span = span_claim(seg, first);
    span->state = SPAN_FREE;
    span->npages = (uint16_t)npages;
    span->dirty = dirty;
    span->emptied = dirty && emptied;
    span->freed_ms = freed_ms;
    seg->pages[first].head = (uint16_t)first;
    seg->pages[first + npages - 1].head = (uint16_t)first;
    bin_insert(heap, span);
    if (dirty)
        purge_note_dirty(heap, span);
    return span;
}

/* Takes a free run out of circulation (free-run list, dirty list). */
static void take_free_run(struct node_heap *heap, struct span *span)
{
    bin_remove(heap, span);
    if (span->dirty)
        purge_forget_dirty(heap, span);
}

static void release_run(struct node_heap *heap, struct span *span, bool dirty, bool emptied,
                        uint64_t now_ms);

/* The largest free run (highest list), for an object expected to grow in place. */
static struct span *find_roomy_run(struct node_heap *heap, size_t npages)
{
    struct span *span;
    for (unsigned idx = FREE_RUN_LISTS; idx-- > free_run_list_of(npages);)
        list_for_each_entry(span, &heap->free_runs[idx], struct span,
                            link) if (span->npages >= npages) return span;
    return NULL;
}

/*
 * Runs of one list a search compares: it bounds the time under pages_lock
 * however many segments a heap has. A segment holds at most 15 runs past 64
 * pages, so a list is this long only in a heap of many fragmented segments.
 */
#define FIT_SCAN 32

/*
 * The best fit in a list of lengths past the exact ones: the shortest run of
 * at least npages, the lowest address among equals. Address-ordered best
 * fit fragments least (Johnstone and Wilson, 1998): the most recently freed
 * run of the list, taken before, cut a long run for a short request when one
 * that fitted better was free, and a later long request found only pieces
 * and took a fresh segment (the `large` benchmark: 997 more page faults,
 * docs/benchmarks.md). Runs of an exact list are all alike: its first, the
 * most recently freed (in cache), is taken as before.
 */
static struct span *best_fit_in(struct list *runs, size_t npages)
{
    struct span *span, *best = NULL;
    unsigned seen = 0;
    list_for_each_entry(span, runs, struct span, link)
    {
        if (span->npages >= npages &&
            (!best || span->npages < best->npages ||
             (span->npages == best->npages && (uintptr_t)span < (uintptr_t)best)))
            best = span;
        if (++seen == FIT_SCAN)
            break;
    }
    return best;
}

static struct span *find_free_run(struct node_heap *heap, size_t npages)
{
    for (unsigned idx = free_run_list_of(npages); idx < FREE_RUN_LISTS; idx++) {
        uint64_t word = heap->free_run_bitmap[idx / BITMAP_WORD_BITS] >> (idx % BITMAP_WORD_BITS);
        if (!word) {
            idx =
                (idx / BITMAP_WORD_BITS + 1) * BITMAP_WORD_BITS - 1; /* nothing more in this word */
            continue;
        }
        idx += (unsigned)__builtin_ctzl(word);
        if (idx >= FREE_RUN_LISTS)
            break;
        if (idx < FREE_RUN_EXACT_LISTS) /* every run here is long enough */
            return list_entry(heap->free_runs[idx].first, struct span, link);
        struct span *best = best_fit_in(&heap->free_runs[idx], npages);
        if (best)
            return best;
    }
    return NULL;
}

bool heap_commit_check(struct node_heap *heap, void *addr, size_t bytes)
{
    NA_ASSERT_HELD(&heap->pages_lock);
    uintptr_t start = (uintptr_t)addr, end = start + bytes;
    /* Resident on the node already (hugepages.h); aligned_huge's objects lie outside the region. */
    if (region_contains(addr) && hugetlb_covers(start)) {
        uintptr_t past = slot_base(heap->slot) + SEGMENT_SIZE + na_hugetlb_len[heap->slot];
        if (end <= past)
            return true;
        addr = (void *)past;
        bytes = end - past;
    }
    return node_memory_commit(&heap->memory, heap->node, addr, bytes);
}

/*
 * A dirty run may be resident anywhere from wholly to hardly at all (a
 * sparse object freed): only its absent pages need the node. With plenty
 * free, nothing is counted; on a tight node the pages no page of ours backs
 * are counted (verify_absent: move_pages, not mincore, which calls the
 * shared zero page resident) and checked as untouched pages from the first
 * of them. Objects carved from sparse dirty runs skipped the check before,
 * and their pages went to another node.
 */
bool heap_commit_check_dirty(struct node_heap *heap, void *addr, size_t bytes)
{
    NA_ASSERT_HELD(&heap->pages_lock);
    if (node_memory_plenty(&heap->memory, heap->node, bytes))
        return true;
    void *first_absent = NULL;
    size_t absent = 0;
    if (verify_absent(addr, bytes, &first_absent, &absent) != 0) /* refused: as if untouched */
        return heap_commit_check(heap, addr, bytes);
    return absent == 0 || heap_commit_check(heap, first_absent, absent << OS_PAGE_SHIFT);
}

bool heap_commit_check_run(struct node_heap *heap, void *addr, size_t bytes, bool dirty)
{
    return dirty ? heap_commit_check_dirty(heap, addr, bytes)
                 : heap_commit_check(heap, addr, bytes);
}

/* What a SEG_PAGES segment's committed part grows by, at least (pages). */
#define COMMIT_STEP_PAGES 64

/*
 * Commits a SEG_PAGES segment's pages up to `end` (invariant 12), rounded up
 * to 256 KiB: at most 16 calls for a segment, each a page-table-free
 * mprotect, and at most 252 KiB committed and never used; exactly to `end`
 * when the kernel refuses that (vm.overcommit_memory=2, ulimit -d).
 */
bool segment_commit_through(struct segment *seg, unsigned end)
{
    unsigned have = seg->committed_pages;
    NA_ASSERT(have >= SEGMENT_HEADER_PAGES && end <= PAGES_PER_SEGMENT);
    if (end <= have)
        return true;
    unsigned to = (end + COMMIT_STEP_PAGES - 1) / COMMIT_STEP_PAGES * COMMIT_STEP_PAGES;
    if (to > PAGES_PER_SEGMENT)
        to = PAGES_PER_SEGMENT;
    char *from = (char *)seg + ((size_t)have << OS_PAGE_SHIFT);
    if (os_commit(from, (size_t)(to - have) << OS_PAGE_SHIFT) != 0) {
        to = end;
        if (os_commit(from, (size_t)(to - have) << OS_PAGE_SHIFT) != 0)
            return false;
    }
    seg->committed_pages = (uint16_t)to;
    return true;
}

/* A fresh SEG_PAGES segment: its usable pages form one free run. */
static bool add_segment(struct node_heap *heap)
{
    size_t dirty_prefix, committed;
    struct segment *seg =
        segment_run_alloc(heap, 1, SEGMENT_SIZE, &dirty_prefix, SEGMENT_RUN_PAGES, &committed);
    if (!seg)
        return false;
    bool dirty = dirty_prefix > 0; /* not seg->dirty: a read of fresh space maps a zero page */
    if (!heap_commit_check_run(heap, seg, SEGMENT_HEADER_PAGES << OS_PAGE_SHIFT, dirty)) {
        segment_run_free(heap, seg, 1, dirty, committed < SEGMENT_SIZE);
        return false;
    }
    /*
     * Stale metadata from an earlier life. A clean run is zero beyond its
     * first page only: that page held the run's header, and before that
     * whatever was there (a huge object's bytes when the run is the tail of
     * one shrunk in place), which would read as page tags.
     */
    memset(seg, 0, dirty ? sizeof *seg : OS_PAGE_SIZE);
    seg->magic = SEGMENT_MAGIC;
    seg->kind = SEG_PAGES;
    seg->slot = (uint16_t)heap->slot;
    seg->cache_index = (uint8_t)(heap->slot < TOPO_DIRECT_SLOTS ? heap->slot : TOPO_DIRECT_SLOTS);
    seg->nsegments = 1;
    seg->committed_pages = (uint16_t)(committed >> OS_PAGE_SHIFT);
    make_free_run(heap, seg, SEGMENT_HEADER_PAGES, SEGMENT_USABLE_PAGES, dirty, os_now_ms(), false);
    return true;
}

/*
 * Pages [from, from + count) of a free run join the span that starts at page
 * `head`: each entry is written whole, its tag 0 as every page's outside a
 * slab is (layout.h), so that on x86-64 one `rep stosl` writes them all. A
 * field store per page was 5 instructions a page, 1280 for a 1 MiB object
 * (callgrind: a third of numa_bench's `large` run); the compiler's vector
 * loop for the same stores took 432 bytes more of the text's window.
 */
_Static_assert(sizeof(struct page_entry) == sizeof(uint32_t), "a page entry is one stosl");

static void set_run_heads(struct segment *seg, unsigned from, unsigned head, unsigned count)
{
    struct page_entry entry = {.tag = 0, .head = (uint16_t)head};
    struct page_entry *at = &seg->pages[from];
    for (unsigned i = 0; i < count; i++)
        NA_ASSERT(at[i].tag == 0);
#if defined(__x86_64__)
    uint32_t word;
    memcpy(&word, &entry, sizeof word);
    size_t n = count;
    __asm__ volatile("rep stosl" : "+D"(at), "+c"(n) : "a"(word) : "memory");
#else
    for (unsigned i = 0; i < count; i++)
        at[i] = entry;
#endif
}

struct span *page_run_alloc(struct node_heap *heap, size_t npages, size_t align_pages, bool roomy)
{
    NA_ASSERT_HELD(&heap->pages_lock);
    size_t need = npages + (align_pages > 1 ? align_pages - 1 : 0);
    if (need > SEGMENT_USABLE_PAGES)
        return NULL;
    struct span *run = roomy ? find_roomy_run(heap, need) : find_free_run(heap, need);
    if (!run || (roomy && run->npages < 2 * need)) {
        if (!add_segment(heap) && !run)
            return NULL;
        run = roomy ? find_roomy_run(heap, need) : find_free_run(heap, need);
    }
    struct segment *seg = segment_of(run);
    unsigned first = run->first, total = run->npages;
    NA_ASSERT(run->state == SPAN_FREE && run->npages >= need && seg->pages[first].head == first);
    bool dirty = run->dirty, emptied = run->emptied;
    uint64_t freed_ms = run->freed_ms;
    take_free_run(heap, run);

    unsigned lead = 0;
    if (align_pages > 1) {
        uintptr_t addr = (uintptr_t)span_start(seg, run);
        uintptr_t align = align_pages << OS_PAGE_SHIFT;
        lead = (unsigned)((((addr + align - 1) & ~(align - 1)) - addr) >> OS_PAGE_SHIFT);
    }
    unsigned tail = total - lead - (unsigned)npages;
    run->state = SPAN_NONE;
    if (lead)
        make_free_run(heap, seg, first, lead, dirty, freed_ms, emptied);
    if (tail)
        make_free_run(heap, seg, first + lead + (unsigned)npages, tail, dirty, freed_ms, emptied);

    first += lead;
    struct span *span = span_claim(seg, first); /* the run's own when there is no lead */
    memset(span, 0, sizeof *span);
    span->first = (uint16_t)first;
    span->npages = (uint16_t)npages;
    span->dirty = dirty; /* tells the caller whether the pages may be non-zero */
    set_run_heads(seg, first, first, (unsigned)npages);
    heap->active_bytes += npages << OS_PAGE_SHIFT;
    heap_note_peak(heap);
    /* A dirty run's pages may be absent too (a large object written in one page and freed). */
    if (!segment_commit_through(seg, first + (unsigned)npages) ||
        !heap_commit_check_run(heap, span_start(seg, span), npages << OS_PAGE_SHIFT, dirty)) {
        release_run(heap, span, dirty, false, os_now_ms()); /* the node is exhausted: none kept */
        return NULL;
    }
    return span;
}

/*
 * If a released run's neighbour is free, takes it out of circulation to be
 * merged: the merged run is dirty if either part is, and its freed_ms is the
 * latest of its dirty parts' (purging waits for the youngest); it is an
 * emptied slab's if either part is (layout.h, struct span, emptied).
 */
static bool absorb_free_run(struct node_heap *heap, struct span *neighbour, bool *dirty,
                            uint64_t *freed_ms, bool *emptied)
{
    if (neighbour->state != SPAN_FREE)
        return false;
    take_free_run(heap, neighbour);
    neighbour->state = SPAN_NONE;
    if (neighbour->dirty && (!*dirty || neighbour->freed_ms > *freed_ms))
        *freed_ms = neighbour->freed_ms;
    *emptied |= neighbour->emptied; /* 0 unless dirty */
    *dirty |= neighbour->dirty;
    return true;
}

/* Whether an emptied slab's dirty run touches pages [first, first + npages) of seg. */
static bool emptied_beside(struct segment *seg, unsigned first, unsigned npages)
{
    if (first > SEGMENT_HEADER_PAGES) {
        const struct span *left = span_at(seg, seg->pages[first - 1].head);
        if (left->state == SPAN_FREE && left->emptied)
            return true;
    }
    if (first + npages == PAGES_PER_SEGMENT)
        return false;
    const struct span *right = span_at(seg, first + npages);
    return right->state == SPAN_FREE && right->emptied;
}

/*
 * Returns a span's pages to the free runs, coalescing; `dirty`: they may be
 * resident, freed at now_ms (os_now_ms); `emptied`: they are an emptied
 * slab's (struct span, emptied).
 * Freed young beside an emptied slab's run, other pages are purged first, as
 * they would be alone, and join it clean.
 */
static void release_run(struct node_heap *heap, struct span *span, bool dirty, bool emptied,
                        uint64_t now_ms)
{
    struct segment *seg = segment_of(span);
    unsigned first = span->first, npages = span->npages;
    uint64_t freed_ms = dirty ? now_ms : 0;
    NA_ASSERT_HELD(&heap->pages_lock);
    NA_ASSERT(span->state != SPAN_FREE); /* SPAN_NONE: a run page_run_alloc gives back */
    NA_ASSERT(seg->magic == SEGMENT_MAGIC && seg->kind == SEG_PAGES);
    NA_ASSERT(heap->active_bytes >= (size_t)npages << OS_PAGE_SHIFT);
    for (unsigned page = first; page < first + npages; page++) /* invariant 4: tags cleared first */
        NA_ASSERT(seg->pages[page].tag == 0);
    heap->active_bytes -= (size_t)npages << OS_PAGE_SHIFT;
    span->state = SPAN_NONE;
    if (dirty && !emptied && emptied_beside(seg, first, npages) &&
        purge_young_pages(heap, span_start(seg, span), (size_t)npages << OS_PAGE_SHIFT)) {
        dirty = false; /* the merged run is the slab's: it waits the delay */
        freed_ms = 0;
    }

    if (first > SEGMENT_HEADER_PAGES) {
        struct span *left = span_at(seg, seg->pages[first - 1].head);
        if (absorb_free_run(heap, left, &dirty, &freed_ms, &emptied)) {
            npages += left->npages;
            first = left->first; /* the merged run keeps the left one's descriptor */
            span_unbind(seg, span);
        }
    }
    if (first + npages < PAGES_PER_SEGMENT) {
        struct span *right = span_at(seg, first + npages);
        if (absorb_free_run(heap, right, &dirty, &freed_ms, &emptied)) {
            npages += right->npages;
            span_unbind(seg, right);
        }
    }
    make_free_run(heap, seg, first, npages, dirty, freed_ms, emptied);
    /* Invariant 6: coalesced, so no free run touches this one. */
    NA_ASSERT(first == SEGMENT_HEADER_PAGES ||
              span_at(seg, seg->pages[first - 1].head)->state != SPAN_FREE);
    NA_ASSERT(first + npages == PAGES_PER_SEGMENT ||
              span_at(seg, first + npages)->state != SPAN_FREE);
}

/* The part of free run `span` in [lo, hi), given back when it is clean and `release_clean`. */
static unsigned free_part(struct segment *seg, const struct span *span, unsigned lo, unsigned hi,
                          bool release_clean)
{
    unsigned from = span->first > lo ? span->first : lo;
    unsigned to = span->first + span->npages < hi ? span->first + span->npages : hi;
    if (release_clean && !span->dirty) /* refused: the pages stay zero, nothing is lost */
        (void)os_purge((char *)seg + ((size_t)from << OS_PAGE_SHIFT), (size_t)(to - from)
                                                                          << OS_PAGE_SHIFT);
    return to - from;
}

/*
 * Walks out from the run both ways, span by span: pages[p - 1].head names the
 * span that ends before page p (layout.h), span_index the one that starts at p.
 */
unsigned page_run_free_beside(struct segment *seg, unsigned first, unsigned npages, unsigned lo,
                              unsigned hi, bool release_clean)
{
    unsigned free = 0;
    for (unsigned page = first; page > lo && page > SEGMENT_HEADER_PAGES;) {
        const struct span *left = span_at(seg, seg->pages[page - 1].head);
        NA_ASSERT(left->first < page && left->first + left->npages == page);
        if (left->state == SPAN_FREE)
            free += free_part(seg, left, lo, hi, release_clean);
        page = left->first;
    }
    for (unsigned page = first + npages; page < hi && page < PAGES_PER_SEGMENT;) {
        const struct span *right = span_at(seg, page);
        /* SPAN_NONE too: a run page_run_alloc handed out, its kind not set yet (slab_create). */
        NA_ASSERT(right->first == page && right->npages > 0);
        if (right->state == SPAN_FREE)
            free += free_part(seg, right, lo, hi, release_clean);
        page += right->npages;
    }
    return free;
}

/* An emptied slab's pages wait the purge delay, young or not, and spend no young budget. */
void page_run_free(struct node_heap *heap, struct span *span, bool emptied_slab, uint64_t now_ms)
{
    if (!emptied_slab)
        purge_note_free(heap, (size_t)span->npages << OS_PAGE_SHIFT);
    release_run(heap, span, true, emptied_slab, now_ms);
}

/*
 * Called by purging for a dirty run that covers a whole segment: the segment
 * goes back, a free run, its pages past the first purged (purge_run_pages:
 * decommitted where it may), header pages and all; the bytes purged. Refused
 * (counted), they keep their contents: the run is dirty.
 */
size_t page_run_release_segment(struct node_heap *heap, struct span *span)
{
    struct segment *seg = segment_of(span);
    NA_ASSERT_HELD(&heap->pages_lock);
    NA_ASSERT(span->state == SPAN_FREE && span->npages == SEGMENT_USABLE_PAGES);
    bool partial = seg->committed_pages < PAGES_PER_SEGMENT; /* read while the header is ours */
    take_free_run(heap, span);
    span->state = SPAN_NONE;
    bool decommitted;
    long purged = purge_run_pages(heap, seg, 1, &decommitted);
    if (purged < 0)
        placement_fault_count(heap->node, FAULT_PURGE);
    segment_run_free(heap, seg, 1, purged < 0, decommitted || partial);
    return purged < 0 ? 0 : (size_t)purged;
}

bool page_run_resize(struct node_heap *heap, struct span *span, size_t npages)
{
    struct segment *seg = segment_of(span);
    unsigned first = span->first, old = span->npages;
    NA_ASSERT_HELD(&heap->pages_lock);
    NA_ASSERT(span->state == SPAN_LARGE && seg->pages[first].head == first && npages > 0);
    if (npages < old) { /* the tail becomes a free run, merged with what follows */
        struct span *tail = span_bind(seg, first + (unsigned)npages);
        tail->npages = (uint16_t)(old - (unsigned)npages);
        tail->state = SPAN_LARGE;
        span->npages = (uint16_t)npages;
        release_run(heap, tail, true, false, os_now_ms());
        return true;
    }
    unsigned extra = (unsigned)npages - old, next = first + old;
    if (extra == 0)
        return true;
    if (next >= PAGES_PER_SEGMENT)
        return false;
    struct span *right = span_at(seg, next);
    if (right->state != SPAN_FREE || right->npages < extra)
        return false;
    bool dirty = right->dirty, emptied = right->emptied;
    uint64_t freed_ms = right->freed_ms;
    unsigned rest = right->npages - extra;
    take_free_run(heap, right);
    right->state = SPAN_NONE;
    if (!segment_commit_through(seg, next + extra) ||
        !heap_commit_check_run(heap, span_start(seg, right), (size_t)extra << OS_PAGE_SHIFT,
                               dirty)) {
        make_free_run(heap, seg, next, right->npages, dirty, freed_ms, emptied); /* exhausted */
        return false;
    }
    span_unbind(seg, right); /* its first page is the span's now */
    if (rest)
        make_free_run(heap, seg, next + extra, rest, dirty, freed_ms, emptied);
    set_run_heads(seg, next, first, extra);
    span->npages = (uint16_t)npages;
    heap->active_bytes += (size_t)extra << OS_PAGE_SHIFT;
    heap_note_peak(heap);
    return true;
}
