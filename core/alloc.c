/* alloc.c - initialisation and the general (slow) paths; see alloc.h. */
#define _GNU_SOURCE
#include "core/alloc.h"

#include "core/node_heap.h"
#include "core/report.h"
#include "core/stats.h"
#include "policy/binding.h"
#include "policy/options.h"
#include "policy/placement.h"
#include "policy/binding.h"
#include "policy/topology.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct region region;

/* ---- initialisation ------------------------------------------------------ */

#define MAX_TOTAL_RESERVATION ((size_t)1 << 44) /* 16 TiB of address space, all slots */
#define MAX_SLOT_SHIFT        40                /* 1 TiB per node */
#define MIN_SLOT_SHIFT        30                /* 1 GiB per node when address space is tight */

static na_lock_t init_lock = NA_LOCK_INIT;
static volatile int initialized;

static void fork_prepare(void);
static void fork_parent(void);
static void fork_child(void);

/* Reserves one aligned region holding every slot, as large as the address space allows. */
static int reserve_region(unsigned num_slots)
{
    unsigned shift = MAX_SLOT_SHIFT;
    while (shift > MIN_SLOT_SHIFT && ((size_t)num_slots << shift) > MAX_TOTAL_RESERVATION)
        shift--;
    for (; shift >= MIN_SLOT_SHIFT; shift--) {
        size_t size = (size_t)num_slots << shift;
        char *raw = os_reserve(size + SEGMENT_SIZE);
        if (!raw)
            continue;
        uintptr_t base = ((uintptr_t)raw + SEGMENT_MASK) & ~(uintptr_t)SEGMENT_MASK;
        if (base > (uintptr_t)raw)
            os_release(raw, base - (uintptr_t)raw);
        os_release((char *)base + size, (uintptr_t)raw + SEGMENT_SIZE - base);
        region.base = base;
        region.slot_shift = shift;
        region.num_slots = num_slots;
        return 0;
    }
    return -1;
}

static bool init_once(void)
{
    size_classes_init();
    topology_init();
    options_init();
    placement_init();
    current_node_init();
    if (reserve_region((unsigned)topo.num_slots) < 0)
        return false;
    for (unsigned slot = 0; slot < region.num_slots; slot++) {
        char *base = (char *)slot_base(slot);
        int node = topo.slot_node[slot];
        /* Policy first, pages later: nothing in the slot is touched before this. */
        binding_prefer_node(base, (size_t)1 << region.slot_shift, node);
        if (os_commit(base, SEGMENT_SIZE) != 0)
            return false;
        node_heap_init(node_heap_of(slot), slot, node);
    }
    if (thread_cache_init() != 0)
        return false;
    /* Publishing the size makes the region (and the free fast path) live. */
    __atomic_store_n(&region.size, (size_t)region.num_slots << region.slot_shift, __ATOMIC_RELEASE);
    return true;
}

bool alloc_ensure_init(void)
{
    if (likely(__atomic_load_n(&initialized, __ATOMIC_ACQUIRE)))
        return true;
    bool first = false;
    na_lock(&init_lock);
    if (!initialized && init_once()) {
        __atomic_store_n(&initialized, 1, __ATOMIC_RELEASE);
        first = true;
    }
    na_unlock(&init_lock);
    if (first)
        pthread_atfork(fork_prepare, fork_parent, fork_child);
    return initialized;
}

/*
 * Usually the first malloc initialises us, from whichever thread or library
 * gets there first; this makes sure a program that never allocates still
 * gets its warnings about bad NUMA_ALLOC_* values.
 */
__attribute__((constructor)) static void init_at_load(void)
{
    alloc_ensure_init();
}

/* ---- fork: no lock may be held by a thread that the child lacks ---------- */

static void for_each_lock(void (*op)(na_lock_t *))
{
    for (unsigned slot = 0; slot < region.num_slots; slot++) {
        struct node_heap *heap = node_heap_of(slot);
        for (unsigned shard = 0; shard < HEAP_SHARDS; shard++)
            for (unsigned cls = 1; cls <= NUM_SMALL_CLASSES; cls++)
                op(&heap->bins[shard][cls].lock);
        op(&heap->pages_lock);
    }
}

/*
 * Every lock the library owns, in the order they nest: statistics (a writer
 * then takes the registry and heap locks), init, registry, bins, pages.
 */
static void fork_prepare(void)
{
    stats_fork_prepare();
    na_lock(&init_lock);
    thread_cache_fork_prepare();
    for_each_lock(na_lock);
}

static void fork_parent(void)
{
    for_each_lock(na_unlock);
    thread_cache_fork_parent();
    na_unlock(&init_lock);
    stats_fork_parent();
}

static void fork_child(void)
{
    for_each_lock(na_lock_reset);
    thread_cache_after_fork_child();
    na_lock_reset(&init_lock);
    stats_fork_child();
}

/* ---- allocation ---------------------------------------------------------- */

/* Smallest small class >= size whose blocks are all aligned to `alignment` (<= page). */
static unsigned aligned_small_class(size_t size, size_t alignment)
{
    unsigned cls = size_class_of(size < alignment ? alignment : size);
    while (cls <= NUM_SMALL_CLASSES && size_classes[cls].size % alignment != 0)
        cls++;
    return cls;
}

static void *alloc_huge_or_large(unsigned slot, size_t size, size_t alignment, bool zero)
{
    struct node_heap *heap = node_heap_of(slot);
    bool zeroed = false;
    void *ptr = NULL;
    size_t align_pages = alignment > OS_PAGE_SIZE ? alignment / OS_PAGE_SIZE : 1;
    if (size <= LARGE_MAX &&
        large_size_of(size) / OS_PAGE_SIZE + align_pages - 1 <= SEGMENT_USABLE_PAGES) {
        ptr = heap_alloc_large(heap, large_size_of(size), alignment, &zeroed, false);
        size = large_size_of(size);
    } else {
        ptr = heap_alloc_huge(heap, size, alignment, &zeroed, NULL);
    }
    if (!ptr) {
        errno = ENOMEM;
        return NULL;
    }
    if (zero && !zeroed)
        memset(ptr, 0, size);
    return ptr;
}

void *alloc_on_slot(unsigned slot, size_t size, size_t alignment, bool zero)
{
    if (unlikely(size > PTRDIFF_MAX - SEGMENT_SIZE)) {
        errno = ENOMEM;
        return NULL;
    }
    if (unlikely(!alloc_ensure_init())) {
        errno = ENOMEM;
        return NULL;
    }
    if (size <= SMALL_MAX && alignment <= OS_PAGE_SIZE) {
        /* Every class is 16-byte aligned. */
        unsigned cls = alignment <= 16 ? size_class_of(size) : aligned_small_class(size, alignment);
        if (cls <= NUM_SMALL_CLASSES) {
            void *ptr = alloc_small(slot, cls);
            if (!ptr)
                errno = ENOMEM;
            else if (zero)
                memset(ptr, 0, size);
            return ptr;
        }
    }
    if (size <= SMALL_MAX)
        size = SMALL_MAX + 1; /* a large run is the smallest that honours the alignment */
    return alloc_huge_or_large(slot, size, alignment, zero);
}

/* The slot the policy gives this allocation (interleave: the next in turn). */
static unsigned policy_slot(void)
{
    unsigned slot = current_slot();
    if (slot == PLACEMENT_PER_ALLOCATION)
        slot = placement.sequence[thread_state.sequence_cursor++ % placement.sequence_len];
    return slot;
}

/* alloc_on_slot, then, if the node could not supply it, the fallbacks in order. */
/* Counts an allocation made on a slow path (the fast paths count their own). */
static void *counted(void *ptr, bool explicit_node)
{
    if (ptr) {
        size_t usable = alloc_usable_size(ptr);
        thread_cache_count_alloc(slot_of_ptr(ptr), usable > SMALL_MAX ? usable : 0, explicit_node);
    }
    return ptr;
}

/*
 * `named_node`: the caller named the node (numa_malloc, realloc), so every
 * usable node is a fallback candidate whatever the policy; `explicit_request`:
 * count it as an explicit request (numa_malloc & co, not realloc).
 */
static void *alloc_with_fallback(unsigned slot, size_t size, size_t alignment, bool zero,
                                 bool named_node, bool explicit_request)
{
    void *ptr = alloc_on_slot(slot, size, alignment, zero);
    if (likely(ptr != NULL) || size > PTRDIFF_MAX - SEGMENT_SIZE)
        return counted(ptr, explicit_request);
    uint8_t order[TOPO_MAX_SLOTS];
    unsigned n = placement_fallbacks(slot, named_node, order);
    for (unsigned i = 1; i < n; i++) {
        ptr = alloc_on_slot(order[i], size, alignment, zero);
        if (ptr) {
            __atomic_fetch_add(&node_heap_of(slot)->fallbacks_out, 1, __ATOMIC_RELAXED);
            __atomic_fetch_add(&node_heap_of(order[i])->fallbacks_in, 1, __ATOMIC_RELAXED);
            if (thread_state.status == THREAD_LIVE)
                COUNT(thread_state.fallbacks, 1);
            return counted(ptr, explicit_request);
        }
    }
    errno = ENOMEM;
    return NULL;
}

/* Huge objects under an interleave policy: one object, its pages spread over the nodes. */
static void *alloc_spread(unsigned slot, size_t size, size_t alignment, bool zero)
{
    for (unsigned tries = 0; tries < region.num_slots; tries++) {
        unsigned s = (slot + tries) % region.num_slots;
        bool zeroed = false;
        void *ptr =
            heap_alloc_huge(node_heap_of(s), size, alignment, &zeroed, placement.page_weight);
        if (ptr) {
            if (zero && !zeroed)
                memset(ptr, 0, size);
            return counted(ptr, false);
        }
    }
    errno = ENOMEM;
    return NULL;
}

void *alloc_placed(size_t size, size_t alignment, bool zero)
{
    if (unlikely(!alloc_ensure_init())) {
        errno = ENOMEM;
        return NULL;
    }
    if (options.stats_live)
        stats_live_tick();
    struct cpu_route route = current_route();
    if (route.home != thread_state.home)
        thread_cache_moved(route.home);
    unsigned slot = policy_slot();
    if (placement.per_allocation && size > LARGE_MAX && size <= PTRDIFF_MAX - SEGMENT_SIZE)
        return alloc_spread(slot, size, alignment, zero);
    return alloc_with_fallback(slot, size, alignment, zero, false, false);
}

void *alloc_on_node(unsigned slot, size_t size, size_t alignment, bool zero)
{
    return alloc_with_fallback(slot, size, alignment, zero, true, true);
}

static void *alloc_keeping_node(unsigned slot, size_t size)
{
    return alloc_with_fallback(slot, size, 0, false, true, false);
}

void *alloc_slow(size_t size)
{
    return alloc_placed(size, 0, false);
}

/* ---- free ---------------------------------------------------------------- */

void free_slow(void *ptr)
{
    if (!ptr)
        return;
    if (!region_contains(ptr)) {
        /* Not ours (e.g. memory from before we were loaded): leave it alone. */
        return;
    }
    struct segment *seg = segment_of(ptr);
    struct node_heap *heap = node_heap_of(slot_of_ptr(ptr));
    if (seg->magic != SEGMENT_MAGIC)
        report_invalid_pointer("free(): invalid pointer", ptr);
    unsigned tag = seg->page_tag[page_in_segment(ptr)];
    if (tag != 0 && seg->kind == SEG_PAGES) {
        /* free_fast sends a slab's pointer here when it is no block's start. */
        if (!is_block_start(seg, ptr, tag_class(tag)))
            report_invalid_pointer("free(): invalid pointer", ptr);
        thread_cache_free_slow(ptr, slot_of_ptr(ptr), tag);
        return;
    }
    if (seg->kind == SEG_HUGE) {
        if (ptr != seg->huge_ptr)
            report_invalid_pointer("free(): invalid pointer", ptr);
        thread_cache_count_free(slot_of_ptr(ptr), seg->huge_size);
        heap_free_huge(heap, seg);
        return;
    }
    if (seg->kind != SEG_PAGES)
        report_invalid_pointer("free(): double free or invalid pointer", ptr);
    unsigned page = page_in_segment(ptr);
    unsigned head = seg->page_head[page];
    if (page < SEGMENT_HEADER_PAGES || head >= PAGES_PER_SEGMENT)
        report_invalid_pointer("free(): invalid pointer", ptr);
    struct span *span = &seg->spans[head];
    if (span->state == SPAN_LARGE && ptr == span_start(seg, span) && head <= page &&
        page < head + span->npages) {
        thread_cache_count_free(slot_of_ptr(ptr), (size_t)span->npages << OS_PAGE_SHIFT);
        heap_free_large(heap, seg, span);
        return;
    }
    if (span->state == SPAN_FREE || span->state == SPAN_NONE)
        report_invalid_pointer("free(): double free detected", ptr);
    report_invalid_pointer("free(): invalid pointer", ptr);
}

/* ---- queries ------------------------------------------------------------- */

size_t alloc_usable_size(const void *ptr)
{
    if (!ptr || !region_contains(ptr))
        return 0;
    struct segment *seg = segment_of(ptr);
    if (seg->magic != SEGMENT_MAGIC)
        return 0;
    unsigned cls = tag_class(seg->page_tag[page_in_segment(ptr)]);
    if (cls && seg->kind == SEG_PAGES)
        return is_block_start(seg, ptr, cls) ? size_classes[cls].size : 0;
    if (seg->kind == SEG_HUGE)
        return ptr == seg->huge_ptr ? seg->huge_size : 0;
    if (seg->kind != SEG_PAGES || seg->page_head[page_in_segment(ptr)] >= PAGES_PER_SEGMENT)
        return 0;
    struct span *span = span_of_ptr(seg, ptr);
    if (span->state != SPAN_LARGE || ptr != span_start(seg, span))
        return 0;
    return (size_t)span->npages << OS_PAGE_SHIFT;
}

/* Does the live span or huge object described by seg's header contain ptr? */
static bool header_covers(struct segment *seg, const void *ptr)
{
    if (seg->kind == SEG_HUGE)
        return (const char *)ptr >= (const char *)seg->huge_ptr &&
               (const char *)ptr < (const char *)seg->huge_ptr + seg->huge_size;
    if (seg->kind != SEG_PAGES || segment_of(ptr) != seg)
        return false;
    unsigned page = page_in_segment(ptr), head = seg->page_head[page];
    if (page < SEGMENT_HEADER_PAGES || head >= PAGES_PER_SEGMENT)
        return false;
    const struct span *span = &seg->spans[head];
    return (span->state == SPAN_SLAB || span->state == SPAN_LARGE) && head <= page &&
           page < head + span->npages;
}

int alloc_owner_slot(const void *ptr)
{
    if (!region_contains(ptr))
        return -1;
    unsigned slot = slot_of_ptr(ptr);
    uintptr_t first = slot_base(slot) + SEGMENT_SIZE;
    uintptr_t end = __atomic_load_n(&node_heap_of(slot)->seg_next, __ATOMIC_RELAXED);
    if ((uintptr_t)ptr < first || (uintptr_t)ptr >= end)
        return -1; /* the heap itself, or address space never handed out */
    /* Walk back over the interior segments of a huge object (their magic is cleared). */
    for (uintptr_t at = (uintptr_t)segment_of(ptr); at >= first; at -= SEGMENT_SIZE) {
        struct segment *seg = (struct segment *)at;
        if (seg->magic == SEGMENT_MAGIC)
            return header_covers(seg, ptr) ? (int)slot : -1;
    }
    return -1;
}

/* ---- realloc ------------------------------------------------------------- */

/*
 * A small block that realloc grows past this many bytes moves to a page run
 * (with room after it), as large objects do: a block that grows by realloc
 * tends to grow again, and a page run grows in place where a size-class
 * block must be copied every step. It costs at most a page of slack.
 */
#define REALLOC_PAGE_RUN_MIN ((size_t)4096)

/* Bytes of the page run realloc gives `size` bytes (small sizes in whole pages). */
static size_t page_run_size_of(size_t size)
{
    return size > SMALL_MAX ? large_size_of(size)
                            : (size + OS_PAGE_SIZE - 1) & ~(size_t)(OS_PAGE_SIZE - 1);
}

/*
 * True when a block of `usable` bytes already is the right home for `size`
 * bytes. page_run: the block is a page run (a large object, or a small size
 * that realloc grew).
 */
static bool fits_in_place(size_t usable, size_t size, bool page_run)
{
    if (page_run)
        return size > REALLOC_PAGE_RUN_MIN && page_run_size_of(size) == usable;
    if (usable <= SMALL_MAX)
        return size <= SMALL_MAX && size_classes[size_class_of(size)].size == usable;
    return false;
}

/* A block resized in place: its bytes change, the number of blocks does not. */
static void *resized(void *ptr, unsigned slot, size_t old_usable)
{
    thread_cache_count_resize(slot, old_usable, alloc_usable_size(ptr));
    return ptr;
}

void *alloc_realloc(void *ptr, size_t size)
{
    if (!ptr)
        return alloc_fast(size);
    if (size == 0) { /* glibc: realloc(p, 0) frees p and returns NULL */
        free_fast(ptr);
        return NULL;
    }
    size_t usable = alloc_usable_size(ptr);
    if (usable == 0) {
        if (region_contains(ptr))
            report_invalid_pointer("realloc(): invalid pointer", ptr);
        report_pointer("realloc(): pointer not from numa-alloc, refused", ptr);
        errno = ENOMEM;
        return NULL;
    }
    unsigned slot = slot_of_ptr(ptr);
    struct segment *seg = segment_of(ptr);
    unsigned tag = seg->page_tag[page_in_segment(ptr)];
    if (tag != 0 && thread_cache_block_is_free(ptr, slot, tag_class(tag)))
        report_invalid_pointer("realloc(): invalid pointer", ptr);
    bool page_run = usable <= LARGE_MAX && tag == 0;
    if (fits_in_place(usable, size, page_run))
        return ptr;
    if (usable > LARGE_MAX && size > LARGE_MAX && heap_resize_huge(node_heap_of(slot), seg, size))
        return resized(ptr, slot, usable);
    void *fresh = NULL;
    bool wants_page_run =
        size > SMALL_MAX || (size > REALLOC_PAGE_RUN_MIN && (page_run || size > usable));
    if (size <= LARGE_MAX && wants_page_run) {
        if (page_run &&
            heap_resize_large(node_heap_of(slot), span_of_ptr(seg, ptr), page_run_size_of(size)))
            return resized(ptr, slot, usable);
        /* A block that grows by realloc will likely grow again: give it room. */
        bool zeroed;
        if (size > usable)
            fresh = counted(
                heap_alloc_large(node_heap_of(slot), page_run_size_of(size), 0, &zeroed, true),
                false);
    }
    /* realloc keeps the node, or the spread of a page-interleaved object */
    if (!fresh)
        fresh = seg->kind == SEG_HUGE && seg->interleaved ? alloc_placed(size, 0, false)
                                                          : alloc_keeping_node(slot, size);
    if (!fresh)
        return NULL;
    memcpy(fresh, ptr, usable < size ? usable : size);
    free_fast(ptr);
    return fresh;
}

/* ---- trim ---------------------------------------------------------------- */

bool alloc_trim(void)
{
    if (!initialized)
        return false;
    thread_cache_flush_all();
    return purge_all();
}
