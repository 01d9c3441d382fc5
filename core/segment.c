/*
 * segment.c - runs of whole segments in a slot: bump allocation from the
 * slot's reserved space (reserved as it grows under an address-space
 * limit: map_more), then reuse of freed runs (address-ordered,
 * best fit, coalesced on free; a free run is a SEG_FREE_RUN header in its
 * first segment, core/layout.h). Called with pages_lock held.
 */
#include "base/debug.h"
#include "base/os.h"
#include "core/hugepages.h"
#include "core/node_heap.h"
#include "policy/binding.h"
#include "policy/capabilities.h"
#include "policy/options.h"

#include <string.h>

/* The free run after or before `run` in address order; NULL at the ends. */
static struct segment *run_next(struct segment *run)
{
    return list_entry(run->run_link.next, struct segment, run_link);
}

static struct segment *run_prev(struct segment *run)
{
    return list_entry(run->run_link.prev, struct segment, run_link);
}

static struct segment *first_run(struct node_heap *heap)
{
    return list_entry(heap->free_segments.first, struct segment, run_link);
}

size_t na_uncommitted_runs;

/* Counts a free run marked uncommitted in its heap and in the process (+1 or -1). */
static void count_uncommitted(struct node_heap *heap, size_t one)
{
    heap->uncommitted_runs += one;
    __atomic_add_fetch(&na_uncommitted_runs, one, __ATOMIC_RELAXED);
}

static void run_unlink(struct node_heap *heap, struct segment *run)
{
    list_remove(&heap->free_segments, &run->run_link);
    if (run->dirty)
        heap->dirty_bytes -= run->nsegments * SEGMENT_SIZE;
    if (run->uncommitted)
        count_uncommitted(heap, (size_t)-1);
}

void segment_run_decommitted(struct node_heap *heap, struct segment *run)
{
    NA_ASSERT_HELD(&heap->pages_lock);
    NA_ASSERT(run->kind == SEG_FREE_RUN && !run->dirty);
    if (!run->uncommitted)
        count_uncommitted(heap, 1);
    run->uncommitted = 1;
}

/* Writes a free-run header at `at` and links it after `prev` (NULL: at the front). */
static struct segment *run_make(struct node_heap *heap, uintptr_t at, size_t nsegments, bool dirty,
                                bool uncommitted, uint64_t freed_ms, struct segment *prev)
{
    struct segment *run = (struct segment *)at;
    NA_ASSERT_HELD(&heap->pages_lock);
    NA_ASSERT(at % SEGMENT_SIZE == 0 && nsegments > 0);
    /* Address order, and invariant 6: free segment runs never touch (they are coalesced). */
    NA_ASSERT(!prev || (uintptr_t)prev + prev->nsegments * SEGMENT_SIZE < at);
    NA_ASSERT(!(prev ? run_next(prev) : first_run(heap)) ||
              at + nsegments * SEGMENT_SIZE < (uintptr_t)(prev ? run_next(prev) : first_run(heap)));
    run->magic = SEGMENT_MAGIC;
    run->kind = SEG_FREE_RUN;
    run->slot = (uint16_t)heap->slot;
    run->nsegments = nsegments;
    run->dirty = dirty;
    run->uncommitted = uncommitted;
    if (uncommitted)
        count_uncommitted(heap, 1);
    run->freed_ms = freed_ms;
    list_insert_after(&heap->free_segments, prev ? &prev->run_link : NULL, &run->run_link);
    if (dirty) {
        heap->dirty_bytes += nsegments * SEGMENT_SIZE;
        if (freed_ms + na_options.purge_delay_ms < heap->next_purge_ms)
            heap->next_purge_ms = freed_ms + na_options.purge_delay_ms;
    }
    return run;
}

/* Carves [start, start + nsegments) out of free run `run`; the pieces around it stay free. */
static struct segment *run_carve(struct node_heap *heap, struct segment *run, uintptr_t start,
                                 size_t nsegments)
{
    size_t lead = (start - (uintptr_t)run) / SEGMENT_SIZE;
    NA_ASSERT(run->magic == SEGMENT_MAGIC && run->kind == SEG_FREE_RUN);
    NA_ASSERT(start >= (uintptr_t)run && lead + nsegments <= run->nsegments);
    size_t tail = run->nsegments - lead - nsegments;
    struct segment *prev = run_prev(run);
    bool dirty = run->dirty, uncommitted = run->uncommitted;
    uint64_t freed_ms = run->freed_ms;
    run_unlink(heap, run);
    if (lead)
        prev = run_make(heap, (uintptr_t)run, lead, dirty, uncommitted, freed_ms, prev);
    if (tail)
        run_make(heap, start + nsegments * SEGMENT_SIZE, tail, dirty, uncommitted, freed_ms, prev);
    struct segment *seg = (struct segment *)start;
    /*
     * A clean run is zero beyond its header page (which the caller rewrites):
     * there it is not even read. Under THP a read of an untouched 2 MiB page
     * maps the huge zero page, and the caller's first write splits it: the
     * page stays 4 KiB pages for good (the first 2 MiB of every segment did).
     */
    if (dirty || start == (uintptr_t)run)
        seg->dirty = dirty;
    return seg;
}

static uintptr_t align_up(uintptr_t x, size_t align)
{
    return (x + align - 1) & ~(uintptr_t)(align - 1);
}

/* The most a slot's reservation grows by at a time beyond what is asked (see map_more). */
#define MAP_MORE_SLACK_MAX (8 * SEGMENT_SIZE)

int heap_reserve_to(struct node_heap *heap, uintptr_t to)
{
    uintptr_t from = heap->seg_mapped;
    NA_ASSERT(from < to && to <= heap->seg_end);
    if (os_reserve_at((void *)from, to - from) != 0)
        return -1;
    (void)binding_prefer_node((void *)from, to - from, heap->node); /* a refusal is counted */
    hugepages_advise_range(from, to - from);
    /* The last slot after a limit set later: the region ends with its heap (give_back_region). */
    if (to - na_region.base > na_region.size)
        __atomic_store_n(&na_region.size, to - na_region.base, __ATOMIC_RELEASE);
    __atomic_store_n(&heap->seg_mapped, to, __ATOMIC_RELEASE);
    return 0;
}

/*
 * Reserves the slot up to `end` at least (heap->seg_mapped < end <= seg_end);
 * 0, or -1 when the address-space limit or a mapping of the program's in the
 * way refuses it (the heap is then as full as a node out of memory). Under
 * the limit every byte reserved is the program's no more: a little ahead (an
 * eighth of what the slot holds, at most 32 MiB) keeps the calls few, and
 * when even that is refused, exactly what is asked.
 */
static int map_more(struct node_heap *heap, uintptr_t end)
{
    uintptr_t from = heap->seg_mapped, base = slot_base(heap->slot);
    size_t slack = (from - base) / 8 & ~(size_t)SEGMENT_MASK;
    if (slack > MAP_MORE_SLACK_MAX)
        slack = MAP_MORE_SLACK_MAX;
    uintptr_t to = heap->seg_end - end > slack ? end + slack : heap->seg_end;
    if (heap_reserve_to(heap, to) == 0)
        return 0;
    return to != end ? heap_reserve_to(heap, end) : -1;
}

/*
 * Extends the bump frontier by nsegments and makes the first `commit` bytes
 * of them writable (commit_length: all of them, or a pages segment's header,
 * or a huge object's pages); 0 on success.
 */
static int bump(struct node_heap *heap, size_t nsegments, size_t commit)
{
    if (nsegments > (heap->seg_end - heap->seg_next) / SEGMENT_SIZE)
        return -1;
    uintptr_t end = heap->seg_next + nsegments * SEGMENT_SIZE;
    NA_ASSERT(commit <= nsegments * SEGMENT_SIZE);
    if ((end > heap->seg_mapped && map_more(heap, end) != 0) ||
        (commit && os_commit((void *)heap->seg_next, commit) != 0))
        return -1;
    heap->seg_next = end;
    NA_ASSERT(heap->seg_next <= heap->seg_mapped && heap->seg_mapped <= heap->seg_end);
    return 0;
}

/*
 * Bytes of a run of nsegments at `at` made writable when it is handed out,
 * for a caller that needs `want` of them (SEGMENT_RUN_PAGES: a pages
 * segment). Writable private memory is what vm.overcommit_memory=2 charges
 * and RLIMIT_DATA counts, page by page, and glibc's malloc takes it a page
 * at a time: so a huge object's pages only (not the rest of its last
 * segment), and a pages segment's header only, the rest as spans reach it
 * (page_runs.c, segment_commit_through); a small program needed 4 MiB of
 * commit for its first few blocks, and a 4.1 MiB block 8 MiB. The whole run
 * where a huge page is asked for (a 2 MiB page needs its whole range
 * writable) or placed (hugetlb pages are resident already), and a whole
 * pages segment past the slot's first PARTIAL_COMMIT_SPAN, where the 4 MiB
 * are little beside the heap, and a whole huge run past PARTIAL_HUGE_MAX
 * others in part, so that the mappings the slots split into stay few (a
 * segment committed in part is two).
 */
size_t na_partial_huge_runs;

static size_t commit_length(const struct node_heap *heap, uintptr_t at, size_t nsegments,
                            size_t want)
{
    size_t whole = nsegments * SEGMENT_SIZE;
    if (hugepages_covers(at + whole - 1) || hugetlb_covers(at))
        return whole;
    if (want != SEGMENT_RUN_PAGES &&
        __atomic_load_n(&na_partial_huge_runs, __ATOMIC_RELAXED) >= PARTIAL_HUGE_MAX)
        return whole;
    if (want == SEGMENT_RUN_PAGES)
        return at - slot_base(heap->slot) < PARTIAL_COMMIT_SPAN
                   ? SEGMENT_HEADER_PAGES << OS_PAGE_SHIFT
                   : whole;
    return want < whole ? want : whole;
}

/*
 * Makes [start, start + length) of uncommitted free run `run` writable, and
 * the header page of the piece a carve of nsegments there leaves after them
 * (invariant 12: a purge may have decommitted it); 0 or -errno.
 */
static int commit_taken(const struct segment *run, uintptr_t start, size_t nsegments, size_t length)
{
    uintptr_t tail = start + nsegments * SEGMENT_SIZE;
    if (tail == (uintptr_t)run + run->nsegments * SEGMENT_SIZE)
        return os_commit((void *)start, length);
    if (start + length == tail) /* one call: one split of the mapping the less */
        return os_commit((void *)start, length + OS_PAGE_SIZE);
    int err = os_commit((void *)tail, OS_PAGE_SIZE);
    return err ? err : os_commit((void *)start, length);
}

/*
 * Best fit among the free runs (fewest segments wasted, then lowest address);
 * failing that, the free run that ends at the bump frontier grows into fresh
 * space, so its resident pages are reused (like glibc's top chunk); failing
 * that, fresh space. What the caller wants writable (commit_length) is
 * made so: of fresh space, that only; of a run marked uncommitted, that
 * again (some of it may be PROT_NONE); a run not so marked is writable whole.
 */
struct segment *segment_run_alloc(struct node_heap *heap, size_t nsegments, size_t align,
                                  size_t *dirty_prefix, size_t want, size_t *committed)
{
    NA_ASSERT_HELD(&heap->pages_lock);
    NA_ASSERT(want == SEGMENT_RUN_PAGES ? nsegments == 1 && align <= SEGMENT_SIZE : want > 0);
    size_t ignored;
    if (!dirty_prefix)
        dirty_prefix = &ignored;
    if (align < SEGMENT_SIZE)
        align = SEGMENT_SIZE;
    size_t whole = nsegments * SEGMENT_SIZE;
    struct segment *best = NULL, *run;
    struct segment *last = list_entry(heap->free_segments.last, struct segment, run_link);
    size_t best_waste = SIZE_MAX;
    list_for_each_entry(run, &heap->free_segments, struct segment, run_link)
    {
        uintptr_t start = align_up((uintptr_t)run, align);
        size_t lead = (start - (uintptr_t)run) / SEGMENT_SIZE;
        if (lead + nsegments > run->nsegments || run->nsegments - nsegments >= best_waste)
            continue;
        best = run;
        best_waste = run->nsegments - nsegments;
    }
    if (best) {
        uintptr_t start = align_up((uintptr_t)best, align);
        size_t length = commit_length(heap, start, nsegments, want);
        if (best->uncommitted && commit_taken(best, start, nsegments, length) != 0)
            return NULL;
        *committed = best->uncommitted ? length : whole;
        *dirty_prefix = best->dirty ? nsegments : 0;
        return run_carve(heap, best, start, nsegments);
    }
    if (last && (uintptr_t)last + last->nsegments * SEGMENT_SIZE == heap->seg_next &&
        align_up((uintptr_t)last, align) == (uintptr_t)last) {
        /* A pages segment alone is a best fit: this run is shorter than nsegments. */
        size_t have = last->nsegments * SEGMENT_SIZE;
        size_t length = commit_length(heap, (uintptr_t)last, nsegments, want);
        NA_ASSERT(want != SEGMENT_RUN_PAGES && have < whole);
        if ((!last->uncommitted || os_commit(last, length < have ? length : have) == 0) &&
            bump(heap, nsegments - last->nsegments, length > have ? length - have : 0) == 0) {
            size_t grown = nsegments - last->nsegments; /* fresh: zero */
            *committed = last->uncommitted || length > have ? length : have;
            *dirty_prefix = last->dirty ? last->nsegments : 0;
            if (last->dirty)
                heap->dirty_bytes += grown * SEGMENT_SIZE;
            last->nsegments = nsegments;
            return run_carve(heap, last, (uintptr_t)last, nsegments);
        }
    }
    uintptr_t start = align_up(heap->seg_next, align);
    if (start < heap->seg_next || start > heap->seg_end)
        return NULL;
    uintptr_t gap = heap->seg_next;
    size_t length = commit_length(heap, start, nsegments, want);
    /* The alignment gap becomes a free run: its first page is its header (invariant 12). */
    if (bump(heap, (start - gap) / SEGMENT_SIZE + nsegments, (start - gap) + length) != 0)
        return NULL;
    if (start > gap)
        segment_run_free(heap, (struct segment *)gap, (start - gap) / SEGMENT_SIZE, false, false);
    *committed = length;
    *dirty_prefix = 0; /* fresh space reads 0, seg->dirty too: untouched, not even read */
    return (struct segment *)start;
}

/*
 * A free run's header page that becomes interior must read as zero again for
 * the merged run to stay clean; false when the kernel refused (counted).
 */
static bool zero_header(struct node_heap *heap, struct segment *header)
{
    if (region_purge(header, OS_PAGE_SIZE) >= 0)
        return true;
    placement_fault_count(heap->node, FAULT_PURGE);
    return false;
}

void segment_run_free(struct node_heap *heap, struct segment *seg, size_t nsegments, bool dirty,
                      bool uncommitted)
{
    uintptr_t start = (uintptr_t)seg, end = start + nsegments * SEGMENT_SIZE;
    uint64_t now = dirty ? os_now_ms() : 0;
    bool mixed = false; /* a piece uncommitted and one not: see below */
    NA_ASSERT_HELD(&heap->pages_lock);
    NA_ASSERT(start % SEGMENT_SIZE == 0 && nsegments > 0 && end <= heap->seg_next);
    struct segment *prev = NULL, *next = first_run(heap);
    while (next && (uintptr_t)next < start) {
        prev = next;
        next = run_next(next);
    }
    if (prev && (uintptr_t)prev + prev->nsegments * SEGMENT_SIZE == start) {
        /* Merge into prev: our header page becomes interior. Keep a clean run clean. */
        if (!dirty && !prev->dirty)
            dirty = !zero_header(heap, seg);
        dirty |= prev->dirty;
        mixed |= prev->uncommitted != uncommitted;
        uncommitted |= prev->uncommitted;
        if (prev->dirty && prev->freed_ms > now)
            now = prev->freed_ms;
        start = (uintptr_t)prev;
        nsegments += prev->nsegments;
        struct segment *before = run_prev(prev);
        run_unlink(heap, prev);
        prev = before;
    }
    if (next && (uintptr_t)next == end) {
        /* next's header becomes interior: purged only after it was read (and unlinked). */
        bool purge_header = !dirty && !next->dirty;
        dirty |= next->dirty;
        mixed |= next->uncommitted != uncommitted;
        uncommitted |= next->uncommitted;
        if (next->dirty && next->freed_ms > now)
            now = next->freed_ms;
        nsegments += next->nsegments;
        run_unlink(heap, next);
        if (purge_header)
            dirty = !zero_header(heap, next);
    }
    /*
     * A run merged of decommitted pieces and writable ones is purged when due
     * as a dirty one is: decommitted again whole, its mappings one again
     * (each decommitted piece was its own: UNCOMMITTED_RUNS_MAX bounds the
     * pieces, not what merges leave of them).
     */
    if (mixed && !dirty) {
        dirty = true;
        now = os_now_ms();
    }
    struct segment *run =
        run_make(heap, start, nsegments, dirty, uncommitted, dirty ? now : 0, prev);
    if (!dirty) /* a dirty one when it is purged (purge.c) */
        (void)segment_run_trim(heap, run);
}

bool segment_run_drop_trailing(struct node_heap *heap)
{
    NA_ASSERT_HELD(&heap->pages_lock);
    struct segment *last = list_entry(heap->free_segments.last, struct segment, run_link);
    if (!last || (uintptr_t)last + last->nsegments * SEGMENT_SIZE != heap->seg_next)
        return false;
    if (last->dirty)
        heap->purged_bytes += last->nsegments * SEGMENT_SIZE;
    run_unlink(heap, last);
    heap->seg_next = (uintptr_t)last;
    return true;
}

/*
 * Under an address-space limit (`ulimit -v`), a free run at the bump
 * frontier goes back to the kernel whole, address space and all, and the
 * frontier moves back to its start, as glibc unmaps a freed chunk: kept, a
 * program that freed a 1800 MiB block could map no more than while it held
 * it (glibc could). Only at the frontier: a hole inside the slot would be
 * reserved again only by a frontier that passes it. Released, the space is
 * fresh again for the bump.
 */
bool segment_run_trim(struct node_heap *heap, struct segment *run)
{
    uintptr_t start = (uintptr_t)run;
    NA_ASSERT_HELD(&heap->pages_lock);
    if (start + run->nsegments * SEGMENT_SIZE != heap->seg_next ||
        !heap_give_back_begin(heap, start))
        return false;
    bool dropped = segment_run_drop_trailing(heap);
    NA_ASSERT(dropped && heap->seg_next == start);
    (void)dropped;
    heap_give_back_end(heap, start);
    return true;
}

int segment_run_take_at(struct node_heap *heap, uintptr_t at, size_t nsegments, size_t commit)
{
    NA_ASSERT_HELD(&heap->pages_lock);
    NA_ASSERT(commit > 0 && commit <= nsegments * SEGMENT_SIZE);
    if (at == heap->seg_next)
        return bump(heap, nsegments, commit) == 0 ? 0 : -1;
    struct segment *run = first_run(heap);
    while (run && (uintptr_t)run < at)
        run = run_next(run);
    if (!run || (uintptr_t)run != at || run->nsegments < nsegments ||
        (run->uncommitted && commit_taken(run, at, nsegments, commit) != 0))
        return -1;
    return run_carve(heap, run, at, nsegments)->dirty ? 1 : 0;
}
