/*
 * huge.c - objects above LARGE_MAX: each gets its own run of segments.
 *
 * The first segment's page 0 holds the header (kind SEG_HUGE); the object
 * starts at max(page, alignment), inside that first segment (larger
 * alignments are aligned_huge.c's), and only its own pages are ever touched,
 * so the rest of the run costs address space, not memory. Freed runs stay
 * committed and are reused before they are purged: a program that frees
 * and allocates big buffers in a loop does not refault every page.
 */
#include "base/debug.h"
#include "base/report.h"
#include "core/aligned_huge.h"
#include "core/hugepages.h"
#include "core/node_heap.h"
#include "policy/binding.h"
#include "policy/capabilities.h"

#include <string.h>

/*
 * Where the object starts in its run: never on a segment boundary (see
 * aligned_huge.h), and past the header's page map, which free() reads for
 * any pointer into the segment (a page's tag must be 0 there, not object
 * bytes).
 */
static size_t huge_offset(size_t alignment)
{
    CONTRACT_ASSERT(alignment < ALIGNED_HUGE_MIN);
    return alignment > SEGMENT_MAP_END ? alignment : SEGMENT_MAP_END;
}

/*
 * `bytes` in whole pages. The entry points refuse requests above
 * ALLOC_MAX_REQUEST, so neither this nor segments_for can wrap (a wrapped
 * size once made realloc(p, SIZE_MAX) shrink p to 0 bytes in place).
 */
static size_t huge_pages_of(size_t bytes)
{
    CONTRACT_ASSERT(bytes <= ALLOC_MAX_REQUEST);
    return os_page_round_up(bytes);
}

/* Segments needed for `bytes` (whole pages) at `offset` within the first segment. */
static size_t segments_for(size_t offset, size_t bytes)
{
    return (offset + bytes + SEGMENT_SIZE - 1) >> SEGMENT_SHIFT;
}

/*
 * Segments [from, to) of a huge object's run are interior: a stale header
 * left there by an earlier life must not look like a segment to a lookup
 * that walks back from an interior pointer. Only a dirty run can hold one: a
 * clean run is zero beyond its first page (segment_run_free zeroes the headers
 * it merges). A clean run is not even read: under transparent huge pages a
 * read fault maps a whole 2 MiB page (measured on Linux 6.18 with the huge
 * zero page on), which made an untouched 23 GB calloc 11 GB resident.
 * Nor is a header page of a dirty run that is not resident: a dirty run may
 * be mostly untouched (a huge object written in one place, or a free run
 * that grew into fresh space), and reading each of its headers made 2 MiB of
 * each 4 MiB segment resident (a fuzzer input: 240 MiB for one calloc). Not
 * resident, the page is untouched (zero) or swapped out (a header perhaps):
 * purging it drops either. A hugetlb page is never swapped: not resident, it
 * is untouched.
 */
static void forget_interior_headers(struct segment *seg, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++) {
        struct segment *interior = (struct segment *)((char *)seg + i * SEGMENT_SIZE);
        unsigned char resident;
        if (os_resident(interior, OS_PAGE_SIZE, &resident) == 0 && !(resident & 1) &&
            (hugetlb_covers((uintptr_t)interior) || os_purge(interior, OS_PAGE_SIZE) == 0))
            continue;
        if (interior->magic != 0)
            interior->magic = 0;
    }
}

/*
 * Gives the run past the object's offset the spread policy: its pages, and
 * the rest of its last segment, which a growth in place takes without a new
 * policy (it was the node's: realloc grew a spread object onto its owner).
 * False when the kernel refused (counted): the run is then an ordinary one
 * of this node, first-touch where mbind is refused altogether.
 */
static bool spread_pages(struct node_heap *heap, struct segment *seg, size_t nsegments,
                         size_t offset, const uint8_t *spread, size_t *dirty_prefix)
{
    size_t len = nsegments * SEGMENT_SIZE;
    if (hugetlb_covers((uintptr_t)seg)) /* its pages are placed for good (hugepages.h) */
        return false;
    if (*dirty_prefix) { /* spread pages must be faulted afresh under their new policy */
        if (region_purge((char *)seg + OS_PAGE_SIZE, len - OS_PAGE_SIZE) < 0) {
            placement_fault_count(heap->node, FAULT_PURGE);
            return false;
        }
        seg->dirty = 0;
        *dirty_prefix = 0; /* clean now */
    }
    if (binding_spread((char *)seg + offset, len - offset, spread) == 0)
        return true;
    binding_prefer_node(seg, len, heap->node); /* undo what part of the spread took */
    hugepages_restore(seg, len);
    return false;
}

/*
 * The node check (page_runs.c) for the object [offset, end) of seg's run:
 * its part in the dirty prefix (below dirty_end) for its absent pages only
 * (a sparse object freed left most of a run absent), the rest as fresh (a
 * dirty free run at the frontier grows into fresh space: segment_run_alloc).
 */
static bool node_supplies(struct node_heap *heap, struct segment *seg, size_t offset, size_t end,
                          size_t dirty_end)
{
    char *base = (char *)seg;
    if (dirty_end > offset && !heap_commit_check_dirty(heap, base + offset, dirty_end - offset))
        return false;
    size_t fresh = dirty_end > offset ? dirty_end : 0; /* a run wholly fresh: its header too */
    return fresh >= end || heap_commit_check(heap, base + fresh, end - fresh);
}

/* Counts seg in na_partial_huge_runs if its run is writable in part now, and `was` not. */
static void count_partial(const struct segment *seg, bool was)
{
    bool is = seg->huge_committed < seg->nsegments * SEGMENT_SIZE;
    if (is != was)
        __atomic_add_fetch(&na_partial_huge_runs, is ? 1 : (size_t)-1, __ATOMIC_RELAXED);
}

void *heap_alloc_huge(struct node_heap *heap, size_t bytes, size_t alignment, size_t *old_bytes,
                      const uint8_t *spread)
{
    size_t offset = huge_offset(alignment);
    bytes = huge_pages_of(bytes);
    size_t nsegments = segments_for(offset, bytes);
    na_lock(&heap->pages_lock);
    size_t dirty_prefix; /* segments that may be resident; beyond them the run is fresh */
    size_t committed;    /* writable from seg: the object's end at least (invariant 12) */
    struct segment *seg =
        segment_run_alloc(heap, nsegments, alignment, &dirty_prefix, offset + bytes, &committed);
    if (seg && spread && !spread_pages(heap, seg, nsegments, offset, spread, &dirty_prefix))
        spread = NULL; /* not spread, but served: a sandbox must not turn this into ENOMEM */
    /* From seg: where the run's fresh part starts. */
    size_t dirty_end = dirty_prefix * SEGMENT_SIZE;
    if (dirty_end > offset + bytes)
        dirty_end = offset + bytes;
    if (seg && !spread && !node_supplies(heap, seg, offset, offset + bytes, dirty_end)) {
        /* the node is exhausted */
        segment_run_free(heap, seg, nsegments, dirty_prefix > 0,
                         committed < nsegments * SEGMENT_SIZE);
        seg = NULL;
    }
    if (seg) {
        *old_bytes = dirty_end > offset ? dirty_end - offset : 0;
        forget_interior_headers(seg, 1, dirty_prefix);
        memset(seg->pages, 0, sizeof seg->pages);
        seg->magic = SEGMENT_MAGIC;
        seg->kind = SEG_HUGE;
        seg->slot = (uint16_t)heap->slot;
        seg->nsegments = nsegments;
        seg->huge_ptr = (char *)seg + offset;
        seg->huge_sample = 0;
        seg->huge_size = bytes;
        seg->huge_committed = committed;
        count_partial(seg, false);
        seg->interleaved = spread != NULL;
        heap->active_bytes += nsegments * SEGMENT_SIZE;
        heap_note_peak(heap);
        heap->huge_count++;
        heap->huge_bytes += bytes;
    }
    purge_maybe(heap);
    na_unlock(&heap->pages_lock);
    return seg ? seg->huge_ptr : NULL;
}

/*
 * The spread run [run, run + nsegments) leaves the object (freed, or the
 * tail of a shrink): back to this node's policy, and dropped (purge_run_pages:
 * decommitted where it may, *decommitted), its header page too when
 * `header` (the tail's, spread), as they must not be reused as this node's.
 * True when dropped; a refusal is counted (a run left spread, or pages left
 * on other nodes).
 */
static bool unspread(struct node_heap *heap, char *run, size_t nsegments, bool header,
                     bool *decommitted)
{
    size_t len = nsegments * SEGMENT_SIZE;
    *decommitted = false;
    binding_prefer_node(run, len, heap->node);
    hugepages_restore(run, len);
    if ((!header || region_purge(run, OS_PAGE_SIZE) >= 0) &&
        purge_run_pages(heap, (struct segment *)run, nsegments, decommitted) >= 0)
        return true;
    placement_fault_count(heap->node, FAULT_PURGE);
    return false;
}

void heap_free_huge(struct node_heap *heap, struct segment *seg)
{
    na_lock(&heap->pages_lock);
    NA_ASSERT(seg->magic == SEGMENT_MAGIC && seg->kind == SEG_HUGE && heap->huge_count > 0);
    NA_ASSERT(heap->active_bytes >= seg->nsegments * SEGMENT_SIZE);
    heap->active_bytes -= seg->nsegments * SEGMENT_SIZE;
    heap->huge_count--;
    heap->huge_bytes -= seg->huge_size;
    purge_note_free(heap, seg->nsegments * SEGMENT_SIZE); /* spends the young budget at once */
    seg->huge_ptr = NULL;
    bool uncommitted = seg->huge_committed < seg->nsegments * SEGMENT_SIZE;
    if (uncommitted)
        __atomic_sub_fetch(&na_partial_huge_runs, 1, __ATOMIC_RELAXED);
    if (seg->interleaved) {
        bool decommitted;
        bool purged = unspread(heap, (char *)seg, seg->nsegments, false, &decommitted);
        seg->interleaved = 0;
        segment_run_free(heap, seg, seg->nsegments, !purged, uncommitted || decommitted);
    } else {
        segment_run_free(heap, seg, seg->nsegments, true, uncommitted);
    }
    purge_maybe(heap);
    na_unlock(&heap->pages_lock);
}

/*
 * The run [added, added + len) a spread object grows into gets the spread
 * (a dirty one is purged first: its pages must fault afresh under the new
 * policy). Its pages need no node check: they go to every node the spread
 * names, as heap_alloc_huge's do. False when refused (counted), the run
 * given this node's policy back; *dirty says whether it may be resident.
 */
static bool spread_growth(struct node_heap *heap, char *added, size_t len, const uint8_t *spread,
                          bool *dirty)
{
    if (hugetlb_covers((uintptr_t)added))
        return false;
    if (*dirty && region_purge(added, len) < 0) {
        placement_fault_count(heap->node, FAULT_PURGE);
        return false;
    }
    *dirty = false;
    if (binding_spread(added, len, spread) == 0)
        return true;
    binding_prefer_node(added, len, heap->node);
    hugepages_restore(added, len);
    return false;
}

bool heap_resize_huge(struct node_heap *heap, struct segment *seg, size_t bytes,
                      const uint8_t *spread)
{
    size_t offset = (size_t)((char *)seg->huge_ptr - (char *)seg);
    bytes = huge_pages_of(bytes);
    size_t need = segments_for(offset, bytes);
    if (seg->interleaved && need > seg->nsegments && !spread)
        return false; /* its new pages would need the spread */
    bool done = false;
    size_t end = offset + bytes, whole = seg->nsegments * SEGMENT_SIZE;
    bool was_partial = seg->huge_committed < whole;
    na_lock(&heap->pages_lock);
    if (need <= seg->nsegments) {
        /* Grown within its run: the pages it reaches made writable first (invariant 12). */
        if (end > seg->huge_committed) {
            if (os_commit((char *)seg + seg->huge_committed, end - seg->huge_committed) != 0)
                goto out; /* vm.overcommit_memory=2, ulimit -d: realloc says ENOMEM */
            seg->huge_committed = end;
        }
        size_t spare = seg->nsegments - need;
        if (spare) { /* shrink: the tail segments become a free run */
            char *tail = (char *)seg + need * SEGMENT_SIZE;
            bool decommitted = false;
            bool purged = seg->interleaved && unspread(heap, tail, spare, true, &decommitted);
            segment_run_free(heap, (struct segment *)tail, spare, !purged,
                             decommitted || seg->huge_committed < whole);
            heap->active_bytes -= spare * SEGMENT_SIZE;
            seg->nsegments = need;
            if (seg->huge_committed > need * SEGMENT_SIZE)
                seg->huge_committed = need * SEGMENT_SIZE;
        }
        done = true;
    } else {
        size_t more = need - seg->nsegments;
        char *added = (char *)seg + seg->nsegments * SEGMENT_SIZE;
        size_t touched = (size_t)((char *)seg + end - added);
        /* The rest of its own run first: the object stays one writable range. */
        if (seg->huge_committed < whole &&
            os_commit((char *)seg + seg->huge_committed, whole - seg->huge_committed) == 0)
            seg->huge_committed = whole;
        int taken = seg->huge_committed == whole
                        ? segment_run_take_at(heap, (uintptr_t)added, more, touched)
                        : -1;
        bool dirty = taken > 0;
        bool served =
            taken >= 0 &&
            (seg->interleaved ? spread_growth(heap, added, more * SEGMENT_SIZE, spread, &dirty)
                              : heap_commit_check_run(heap, added, touched, taken));
        if (taken >= 0 && !served) {
            segment_run_free(heap, (struct segment *)added, more, dirty,
                             touched < more * SEGMENT_SIZE); /* node exhausted */
        } else if (taken >= 0) {
            heap->active_bytes += more * SEGMENT_SIZE;
            heap_note_peak(heap);
            /* The run's own header is on its first page; beyond it a clean run is zero. */
            forget_interior_headers(seg, seg->nsegments, dirty ? need : seg->nsegments + 1);
            seg->nsegments = need;
            seg->huge_committed = end;
            done = true;
        }
    }
    if (done) {
        heap->huge_bytes += bytes - seg->huge_size;
        seg->huge_size = bytes;
    }
out:
    count_partial(seg, was_partial);
    purge_maybe(heap);
    na_unlock(&heap->pages_lock);
    return done;
}

/*
 * Zeroes [start, end) of a huge object (whole pages): by hand where its pages
 * are resident, else by purging them (refused: by hand too, counted).
 */
static void zero_pages(int node, uintptr_t start, uintptr_t end, bool resident)
{
    if (start >= end)
        return;
    if (!resident && region_purge((void *)start, end - start) >= 0)
        return;
    if (!resident)
        placement_fault_count(node, FAULT_PURGE);
    memset((void *)start, 0, end - start);
}

/*
 * Walks the object's residency (mincore) a 2 MiB page at a time and zeroes
 * each range of pages alike in one call: a dense object costs one memset, a
 * sparse one a purge per gap.
 */
void huge_zero(int node, void *ptr, size_t size)
{
    uintptr_t start = (uintptr_t)ptr, end = os_page_round_up(start + size);
    uintptr_t from = start; /* the range of pages alike not zeroed yet: [from, at) */
    bool resident = false;
    unsigned char vec[HUGE_PAGE_SIZE / OS_PAGE_SIZE];
    NA_ASSERT(start % OS_PAGE_SIZE == 0);
    for (uintptr_t at = start; at < end;) {
        size_t len = end - at < HUGE_PAGE_SIZE ? end - at : HUGE_PAGE_SIZE;
        if (os_resident((void *)at, len, vec) != 0) { /* refused: the rest by hand */
            zero_pages(node, from, at, resident);
            zero_pages(node, at, end, true);
            return;
        }
        for (size_t page = 0; page < len / OS_PAGE_SIZE; page++, at += OS_PAGE_SIZE) {
            bool here = vec[page] & 1;
            if (here == resident || at == from) {
                resident = here;
                continue;
            }
            zero_pages(node, from, at, resident);
            from = at;
            resident = here;
        }
    }
    zero_pages(node, from, end, resident);
}
