/*
 * purge.c - giving free memory back to the OS.
 *
 * Freed page runs and segment runs stay resident ("dirty") for a while so
 * that a program which frees and reallocates does not refault every page
 * (the page-fault storms of eager purging). They are purged with
 * MADV_DONTNEED (segment runs decommitted: purge_run_pages) when older than
 * na_options.purge_delay_ms, or at once, oldest first,
 * when a heap's dirty memory passes its limit; malloc_trim purges all.
 * Checks ride on the heap's own slow paths: there is no background thread.
 * All functions except purge_all and purge_init run with pages_lock held.
 *
 * A young heap purges at once (delay 0): for the first PURGE_YOUNG_MS of the
 * process and its first PURGE_YOUNG_BYTES freed (page runs, huge objects: a
 * block larger than PURGE_YOUNG_BLOCK_MAX ends it, purge_note_free), unless
 * NUMA_ALLOC_PURGE_DELAY_MS or NUMA_ALLOC_PROF was set (purge_init says why). Start-up frees
 * transient buffers of ever new sizes (Python reads each module into a buffer
 * of the file's size): the free runs they leave between slabs do not fit the
 * next requests, so kept resident they raise the peak without being reused.
 * The byte budget bounds what a program that frees and reallocates big blocks
 * from its first millisecond (a benchmark) pays in refaults; a fork child
 * inherits its parent's age and budget (docs/architecture.md, *Back to the OS*).
 *
 * Except an emptied slab's pages (layout.h, struct span, emptied): they wait
 * the delay, young or not, and spend no budget. A program that frees across
 * threads (a server's connections, a shared pool, a producer/consumer ring)
 * empties slabs and refills them at once; purged young, each refill
 * refaulted them (larson-server-2t, 4104 page faults against 3684 kept;
 * docs/benchmarks.md, round four, second pass). Start-up buffers are large
 * objects, so the window still serves them, also where one is freed beside
 * an emptied slab's run (purge_young_pages).
 */
#include "base/debug.h"
#include "base/os.h"
#include "core/hugepages.h"
#include "core/node_heap.h"
#include "policy/binding.h"
#include "policy/capabilities.h"
#include "policy/options.h"

#include <errno.h>

/* Until then (os_now_ms) a heap may be young; set once at start-up, read-only after. */
static uint64_t young_until_ms NA_HOT_BSS;

/*
 * Not with the profile on either: its sampled small blocks are page runs of
 * their own (one page each, alloc.c), freed and made again all along; purged
 * at once they were refaulted, 465 more page faults in the benchmark's batch-1t
 * (perf stat), much of what the profile cost a process that short.
 */
void purge_init(void)
{
    if (!na_options.purge_delay_set && !na_options.prof) /* a delay the user chose holds */
        young_until_ms = os_now_ms() + PURGE_YOUNG_MS;
}

static bool young(const struct node_heap *heap, uint64_t now_ms)
{
    return heap->young_freed < PURGE_YOUNG_BYTES && now_ms < young_until_ms;
}

/*
 * young() where the caller has no clock reading: the clock is read only while
 * the budget lasts, and a window found closed spends it, so that a grown-up
 * heap's frees read no clock for this (some 5 ns each).
 */
static bool young_unclocked(struct node_heap *heap)
{
    if (heap->young_freed >= PURGE_YOUNG_BYTES)
        return false;
    if (os_now_ms() < young_until_ms)
        return true;
    heap->young_freed = PURGE_YOUNG_BYTES;
    return false;
}

/*
 * A block larger than PURGE_YOUNG_BLOCK_MAX spends the budget at once: it is
 * no start-up buffer (those of `python3 -c pass` are 160 KiB at most), and a
 * program that frees blocks that big this early frees and reallocates them
 * (the `large` benchmark: its first two frees, purged, cost 282 page faults,
 * and realloc-chain's 254 of its 650; docs/benchmarks.md, round four).
 */
void purge_note_free(struct node_heap *heap, size_t bytes)
{
    NA_ASSERT_HELD(&heap->pages_lock);
    if (young_unclocked(heap))
        heap->young_freed += bytes > PURGE_YOUNG_BLOCK_MAX ? PURGE_YOUNG_BYTES : bytes;
}

/* The delay that applies at `now_ms` to runs other than emptied slabs. */
static uint64_t delay_at(const struct node_heap *heap, uint64_t now_ms)
{
    return young(heap, now_ms) ? 0 : na_options.purge_delay_ms;
}

/* A dirty page run's delay, where runs of other kinds wait `delay`. */
static uint64_t run_delay(const struct span *span, uint64_t delay)
{
    return span->emptied ? na_options.purge_delay_ms : delay;
}

/* The latest freed_ms that a run waiting `delay` may have to be purged at `now` (none: 0). */
static uint64_t cutoff(uint64_t now, uint64_t delay)
{
    return now > delay ? now - delay : 0;
}

void purge_note_dirty(struct node_heap *heap, struct span *span)
{
    NA_ASSERT_HELD(&heap->pages_lock);
    NA_ASSERT(span->state == SPAN_FREE && span->dirty);
    list_push_back(&heap->dirty_runs, &span->lru);
    heap->dirty_bytes += (size_t)span->npages << OS_PAGE_SHIFT;
    uint64_t due = span->freed_ms + run_delay(span, delay_at(heap, span->freed_ms));
    if (due < heap->next_purge_ms)
        heap->next_purge_ms = due;
}

void purge_forget_dirty(struct node_heap *heap, struct span *span)
{
    NA_ASSERT_HELD(&heap->pages_lock);
    /* dirty_bytes is the sum of the dirty runs, so it covers this one. */
    NA_ASSERT(span->state == SPAN_FREE && span->dirty);
    NA_ASSERT(heap->dirty_bytes >= (size_t)span->npages << OS_PAGE_SHIFT);
    list_remove(&heap->dirty_runs, &span->lru);
    heap->dirty_bytes -= (size_t)span->npages << OS_PAGE_SHIFT;
}

/*
 * Counts a purge the kernel refused: the pages keep their contents, so the
 * run stays dirty; its clock restarts, so it is tried again when next due.
 */
static void note_refused_purge(struct node_heap *heap, uint64_t *freed_ms)
{
    placement_fault_count(heap->node, FAULT_PURGE);
    *freed_ms = os_now_ms();
}

/*
 * Gives a free page run back; the bytes given back, or -errno. In a huge-page
 * range of a segment still in use, whole 2 MiB pages go, and part of one only
 * when less than half of it is in use (hugepages.h): MADV_DONTNEED on part of
 * one splits it, and the kernel frees the rest of the huge page only under
 * memory pressure.
 */
static long purge_range(char *start, size_t bytes)
{
    if (hugetlb_covers((uintptr_t)start)) /* all of a page run is, or none: zeroed in place */
        return region_purge(start, bytes);
    if (bytes != SEGMENT_USABLE_PAGES << OS_PAGE_SHIFT && hugepages_covers((uintptr_t)start))
        return hugepages_purge(start, bytes);
    int err = os_purge(start, bytes);
    return err ? err : (long)bytes;
}

static long purge_pages(struct span *span)
{
    return purge_range(span_start(segment_of(span), span), (size_t)span->npages << OS_PAGE_SHIFT);
}

bool purge_young_pages(struct node_heap *heap, char *start, size_t bytes)
{
    NA_ASSERT_HELD(&heap->pages_lock);
    if (!young_unclocked(heap))
        return false;
    long purged = purge_range(start, bytes);
    if (purged < 0) {
        placement_fault_count(heap->node, FAULT_PURGE);
        return false;
    }
    heap->purged_bytes += (size_t)purged;
    return true;
}

/* False when the kernel refused: the span stays dirty, now the youngest. */
static bool purge_span(struct node_heap *heap, struct span *span)
{
    if (span->npages == SEGMENT_USABLE_PAGES) { /* purged there, with the header's pages */
        heap->purged_bytes += page_run_release_segment(heap, span);
        return true;
    }
    long purged = purge_pages(span);
    if (purged < 0) {
        purge_forget_dirty(heap, span);
        note_refused_purge(heap, &span->freed_ms);
        purge_note_dirty(heap, span);
        return false;
    }
    heap->purged_bytes += (size_t)purged;
    purge_forget_dirty(heap, span);
    span->dirty = 0;
    span->emptied = 0;
    return true;
}

/* Set when the kernel refused a decommit outright (a seccomp filter): not tried again. */
static bool decommit_refused;

/*
 * MADV_DONTNEED leaves the pages writable, so charged under
 * vm.overcommit_memory=2 and counted by RLIMIT_DATA until exit: a program
 * that freed its big blocks held their charge where glibc, which unmaps
 * them, gave it back (ten blocks grown out of place to 9000 KiB and freed:
 * 124656 KiB of VmData against glibc's 4332). A free segment run's pages
 * past its header are decommitted instead; its header page stays writable,
 * the run's own (invariant 12). Not in hugetlb pages, which a new mapping
 * would lose.
 */
long purge_run_pages(struct node_heap *heap, struct segment *run, size_t nsegments,
                     bool *decommitted)
{
    char *from = (char *)run + OS_PAGE_SIZE;
    size_t len = nsegments * SEGMENT_SIZE - OS_PAGE_SIZE;
    NA_ASSERT_HELD(&heap->pages_lock);
    *decommitted = false;
    if (!__atomic_load_n(&decommit_refused, __ATOMIC_RELAXED) && !hugetlb_covers((uintptr_t)from) &&
        !hugetlb_covers((uintptr_t)from + len - 1) &&
        __atomic_load_n(&na_uncommitted_runs, __ATOMIC_RELAXED) < UNCOMMITTED_RUNS_MAX) {
        int err = os_decommit(from, len);
        if (err == 0) {
            (void)binding_prefer_node(from, len, heap->node); /* a refusal is counted */
            hugepages_advise_range((uintptr_t)from, len);
            *decommitted = true;
            return (long)len;
        }
        if (err != -ENOMEM) /* -ENOMEM: the map count, perhaps for a while only */
            __atomic_store_n(&decommit_refused, true, __ATOMIC_RELAXED);
    }
    return region_purge(from, len);
}

/* False when the kernel refused: the run stays dirty. */
static bool purge_segment_run(struct node_heap *heap, struct segment *run)
{
    NA_ASSERT(run->kind == SEG_FREE_RUN && run->dirty);
    NA_ASSERT(heap->dirty_bytes >= run->nsegments * SEGMENT_SIZE);
    if (segment_run_trim(heap, run)) /* at the frontier under a limit: given back whole */
        return true;
    bool decommitted;
    long purged = purge_run_pages(heap, run, run->nsegments, &decommitted);
    if (purged < 0) {
        note_refused_purge(heap, &run->freed_ms);
        return false;
    }
    heap->purged_bytes += (size_t)purged;
    heap->dirty_bytes -= run->nsegments * SEGMENT_SIZE;
    run->dirty = 0;
    if (decommitted)
        segment_run_decommitted(heap, run);
    return true;
}

static struct span *dirty_oldest(struct node_heap *heap)
{
    return list_entry(heap->dirty_runs.first, struct span, lru);
}

/*
 * Purges the runs due at `now` (UINT64_MAX: all), those freed `delay` ago
 * or more (emptied slabs: run_delay), until dirty memory is at most
 * `target`. Returns when the next run left dirty is due (UINT64_MAX: none).
 * When every run waits alike, the dirty list (oldest first) is walked only
 * to the first run not purged; a young heap's emptied slabs wait longer than
 * its other runs, so then the whole list is, for its first PURGE_YOUNG_MS only.
 */
static uint64_t purge_runs(struct node_heap *heap, uint64_t now, uint64_t delay, size_t target)
{
    uint64_t next_due = UINT64_MAX;
    bool refused = false; /* a refusal ends the round: the next purge would be refused too */
    struct segment *run, *next_run;
    /* The next run read first: a run purged may be given back whole (segment_run_trim). */
    for (run = list_entry(heap->free_segments.first, struct segment, run_link); run;
         run = next_run) {
        next_run = list_entry(run->run_link.next, struct segment, run_link);
        if (!run->dirty)
            continue;
        if (!refused && run->freed_ms <= cutoff(now, delay) && heap->dirty_bytes > target) {
            if (purge_segment_run(heap, run))
                continue;
            refused = true;
        }
        if (run->freed_ms + delay < next_due)
            next_due = run->freed_ms + delay;
    }
    bool alike = delay == na_options.purge_delay_ms || now == UINT64_MAX;
    struct span *span, *next;
    for (span = dirty_oldest(heap); span; span = next) {
        next = list_entry(span->lru.next, struct span, lru);
        uint64_t wait = run_delay(span, delay);
        if (!refused && heap->dirty_bytes > target && span->freed_ms <= cutoff(now, wait)) {
            if (purge_span(heap, span))
                continue;
            refused = true; /* the span went to the back, its clock restarted */
        }
        if (alike)
            break;
        if (span->freed_ms + wait < next_due)
            next_due = span->freed_ms + wait;
    }
    if (alike && (span = dirty_oldest(heap)) && span->freed_ms + delay < next_due)
        next_due = span->freed_ms + delay;
    return next_due;
}

/* now_ms: the clock as the caller read it, or PURGE_CLOCK_UNREAD (read here if needed). */
void purge_maybe_at(struct node_heap *heap, uint64_t now_ms)
{
    NA_ASSERT_HELD(&heap->pages_lock);
    size_t limit = DIRTY_LIMIT_MIN + heap->active_bytes;
    if (heap->dirty_bytes > limit)
        purge_runs(heap, UINT64_MAX, 0, limit / 4 * 3);
    if (heap->next_purge_ms == UINT64_MAX)
        return;
    if (now_ms == PURGE_CLOCK_UNREAD)
        now_ms = os_now_ms();
    if (now_ms < heap->next_purge_ms)
        return;
    heap->next_purge_ms = purge_runs(heap, now_ms, delay_at(heap, now_ms), 0);
}

void purge_maybe(struct node_heap *heap)
{
    purge_maybe_at(heap, PURGE_CLOCK_UNREAD);
}

bool purge_all(void)
{
    bool released = false;
    for (unsigned slot = 0; slot < na_region.num_slots; slot++) {
        if (!heap_is_ready(slot))
            continue;
        struct node_heap *heap = node_heap_of(slot);
        heap_release_spares(heap);
        young_close(heap); /* its free chunks' pages go back */
        na_lock(&heap->pages_lock);
        released |= heap->dirty_bytes > 0;
        purge_runs(heap, UINT64_MAX, 0, 0);
        heap->next_purge_ms = UINT64_MAX;
        na_unlock(&heap->pages_lock);
    }
    return released;
}
