/* alloc.c - initialisation and the general (slow) paths; see alloc.h. */
#define _GNU_SOURCE
#include "core/alloc.h"

#include "base/report.h"
#include "base/textbuf.h"
#include "core/aligned_huge.h"
#include "core/huge_remap.h"
#include "core/hugepages.h"
#include "core/libc_heap.h"
#include "core/node_heap.h"
#include "core/prof.h"
#include "core/race_points.h"
#include "core/stats.h"
#include "core/stats_live.h"
#include "core/stats_file.h"
#include "policy/binding.h"
#include "policy/capabilities.h"
#include "policy/kernel_policy.h"
#include "policy/mems_watch.h"
#include "policy/options.h"
#include "policy/placement.h"
#include "policy/topology.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

struct region na_region NA_HOT_BSS;

/* ---- initialisation ------------------------------------------------------ */

#define MAX_TOTAL_RESERVATION ((size_t)1 << 44) /* 16 TiB of address space, all slots */
#define MAX_SLOT_SHIFT        40                /* 1 TiB per node */
/*
 * The smallest slot: the node heap's segment and three to allocate from.
 * Two segments would do for the layout, but a heap that small fails
 * programs that glibc runs in the same space (python3 -c pass peaks at
 * 4 MiB): below this, not starting and leaving the program to glibc is better.
 */
#define MIN_SLOT_SIZE  (4 * SEGMENT_SIZE)
#define MIN_SLOT_SHIFT (SEGMENT_SHIFT + 2)
/*
 * Under an address-space limit (RLIMIT_AS, ulimit -v) the heaps must leave
 * room for what the program maps itself (thread stacks, files, shared
 * libraries it loads, arenas of its own such as Python's; a JVM maps 1.3 GiB
 * at start-up). Under glibc both kinds share what the limit leaves as they
 * come, and so do ours where they can: the slots are laid out in the middle
 * of the largest unmapped range and reserved as the heaps grow
 * (reserve_as_needed). Where they cannot, the heaps take this share of what
 * is left when the library starts: half each runs every program that needs
 * at most half of it of either kind. The start needs that share either way.
 */
#define LIMITED_SHARE_DIVISOR 2

/*
 * One attempt, ever: the first caller (the load-time constructor or the
 * first allocation, whichever comes first) moves NOT_STARTED to RUNNING under
 * init_lock and leaves READY or FAILED for good. Other threads wait on the
 * lock. A call from inside the initialisation on the initialising thread
 * (nothing in init_once allocates, so only a bug could make one) is told
 * "not ready" instead of deadlocking. FAILED: nothing is reserved
 * (na_region.size == 0, so no pointer is ours) and the C library's allocator
 * serves every call (libc_heap.h).
 */
enum init_state { INIT_NOT_STARTED, INIT_RUNNING, INIT_READY, INIT_FAILED };

static na_lock_t init_lock NA_HOT_BSS = NA_LOCK_INIT;
static int init_state NA_HOT_BSS;
static int init_tid NA_HOT_BSS; /* the thread running init_once */
/* FAILED: why, for the statistics (the one line on stderr says the same). */
static char start_failure[160];

static NA_COLD void fork_prepare(void);
static NA_COLD void fork_parent(void);
static NA_COLD void fork_child(void);

/* Slot layout of a reservation: slots of 2^shift bytes, the last maybe cut short. */
struct region_plan {
    unsigned shift;
    size_t size; /* 0: the budget is too small for any layout */
};

/*
 * The largest layout within `budget` bytes: the largest slot size (up to
 * MAX_SLOT_SHIFT) for which every slot but the last is whole and the last
 * still holds half a slot and at least MIN_SLOT_SIZE; the last gets the rest
 * of the budget up to a whole slot. So one node uses all of a budget, not
 * the power of two below it.
 */
static struct region_plan plan_region(size_t budget, unsigned num_slots)
{
    for (unsigned shift = MAX_SLOT_SHIFT; shift >= MIN_SLOT_SHIFT; shift--) {
        size_t slot = (size_t)1 << shift, whole = (size_t)(num_slots - 1) << shift;
        size_t last_min = slot / 2 > MIN_SLOT_SIZE ? slot / 2 : MIN_SLOT_SIZE;
        if (whole > budget || budget - whole < last_min)
            continue;
        size_t last = budget - whole < slot ? budget - whole : slot;
        return (struct region_plan){shift, whole + (last & ~SEGMENT_MASK)};
    }
    return (struct region_plan){0, 0};
}

/*
 * Address space the reservation may take, alignment slack included: all we
 * could want without a limit; under RLIMIT_AS our share of what is left.
 */
static size_t reservation_budget(size_t *left_under_limit)
{
    size_t limit = os_address_space_limit();
    *left_under_limit = SIZE_MAX;
    if (limit == SIZE_MAX)
        return MAX_TOTAL_RESERVATION + SEGMENT_SIZE;
    size_t used = os_address_space_used(); /* 0 if unknown: the mmap failures then tell */
    *left_under_limit = limit > used ? limit - used : 0;
    size_t share = *left_under_limit / LIMITED_SHARE_DIVISOR;
    return share < MAX_TOTAL_RESERVATION + SEGMENT_SIZE ? share
                                                        : MAX_TOTAL_RESERVATION + SEGMENT_SIZE;
}

/* Records why the start failed: what, then (if any) bytes in MiB rounded up, then rest. */
static void note_failure(const char *what, size_t bytes, const char *rest)
{
    struct textbuf tb;
    tb_init(&tb, start_failure, sizeof start_failure);
    tb_str(&tb, what);
    if (bytes) {
        tb_u64(&tb, (bytes + ((size_t)1 << 20) - 1) >> 20);
        tb_str(&tb, " MiB");
    }
    tb_str(&tb, rest);
}

/*
 * True: the region's slots are reserved as their heaps grow (under an
 * address-space limit: reserve_as_needed, give_back_region); false: reserved
 * whole at start-up.
 */
static bool region_lazy NA_HOT_BSS;

/*
 * The region's unreserved ranges (holes_open) are safe while the program's
 * address-space limit keeps the kernel's mappings out of them: while it is
 * at most holes_safe_limit. A limit raised past that (or removed) has them
 * reserved again (retake_region); one lowered again gives them back. Both
 * change under heap_setup_lock.
 */
static bool holes_open NA_HOT_BSS;
static size_t holes_safe_limit NA_HOT_BSS;

/*
 * Per slot not set up yet, in a lazy region: the end of the range of it
 * reserved already (retake_region), or 0 when none is: setup_slot reserves
 * its start then. Under heap_setup_lock.
 */
static uintptr_t slot_reserved_to[TOPO_MAX_SLOTS] NA_HOT_HEAD_BSS;

/*
 * Under an address-space limit that leaves `left` bytes: lays the slots out
 * without reserving them (each may grow to `left`, as glibc's heap may),
 * where nothing maps and nothing will. The kernel puts new mappings below
 * the highest ones (top-down), and under the limit the program can map no
 * more than `left` bytes in all; so the layout goes in the middle of the
 * largest unmapped range, with `left` bytes free on either side of it (an
 * sbrk heap grows up into the range below). Each slot's start is reserved
 * when its heap is set up (setup_slot), the rest as the heap grows
 * (segment.c, map_more), with MAP_FIXED_NOREPLACE: a kernel that ignores
 * that flag (before 4.17) fails the probe, and the share is reserved whole.
 * The layout's size, or 0.
 */
static size_t reserve_as_needed(unsigned num_slots, size_t left)
{
    uintptr_t gap;
    size_t gap_len = os_largest_gap(&gap);
    size_t most =
        left > MAX_TOTAL_RESERVATION / num_slots ? MAX_TOTAL_RESERVATION : left * num_slots;
    for (struct region_plan plan = plan_region(most, num_slots); plan.size != 0;
         plan = plan_region(plan.size / 2, num_slots)) {
        if (gap_len < plan.size || gap_len - plan.size < 2 * left + 2 * SEGMENT_SIZE)
            continue;
        uintptr_t base = (gap + (gap_len - plan.size) / 2) & ~(uintptr_t)SEGMENT_MASK;
        if (os_reserve_at((void *)base, SEGMENT_SIZE) != 0)
            return 0;
        os_release((void *)base, SEGMENT_SIZE);
        na_region.base = base;
        na_region.slot_shift = plan.shift;
        na_region.num_slots = num_slots;
        region_lazy = true;
        holes_open = true;
        size_t below = base - gap, above = gap + gap_len - (base + plan.size);
        holes_safe_limit = below < above ? below : above; /* >= left: the kernel maps no more */
        return plan.size;
    }
    return 0;
}

/*
 * Reserves one segment-aligned region holding every slot, as large as the
 * address space (and its limit) allows, halving on refusal; under a limit
 * only lays it out where it can (reserve_as_needed). na_region.size stays 0:
 * publishing it is what makes the region live.
 */
static size_t reserve_region(unsigned num_slots)
{
    size_t left = SIZE_MAX;
    size_t budget = reservation_budget(&left);
    struct region_plan plan =
        plan_region(budget > SEGMENT_SIZE ? budget - SEGMENT_SIZE : 0, num_slots);
    if (left != SIZE_MAX && plan.size != 0) {
        size_t laid_out = reserve_as_needed(num_slots, left);
        if (laid_out)
            return laid_out;
    }
    for (; plan.size != 0; plan = plan_region(plan.size / 2, num_slots)) {
        char *raw = os_reserve(plan.size + SEGMENT_SIZE);
        if (!raw)
            continue;
        uintptr_t base = ((uintptr_t)raw + SEGMENT_MASK) & ~(uintptr_t)SEGMENT_MASK;
        if (base > (uintptr_t)raw)
            os_release(raw, base - (uintptr_t)raw);
        os_release((char *)base + plan.size, (uintptr_t)raw + SEGMENT_SIZE - base);
        na_region.base = base;
        na_region.slot_shift = plan.shift;
        na_region.num_slots = num_slots;
        return plan.size;
    }
    size_t least = (size_t)num_slots * MIN_SLOT_SIZE + SEGMENT_SIZE;
    if (left != SIZE_MAX)
        note_failure("ulimit -v leaves ", left,
                     least * LIMITED_SHARE_DIVISOR > left
                         ? " of address space, too little for the node heaps"
                         : " of address space, and mmap refused the heaps' share of it");
    else
        note_failure("mmap refused even ", least, " of address space");
    return 0;
}

/*
 * Bytes of a slot's first segment committed at start-up: the untouched first
 * page and the node heap up to its class_slabs, committed on first use (node_heap.h).
 */
#define NODE_HEAP_COMMIT ((OS_PAGE_SIZE + NODE_HEAP_FRONT + OS_PAGE_MASK) & ~OS_PAGE_MASK)

/*
 * Per slot: 1 (release) once its node heap is set up (heap_setup), never 0
 * again. Set under heap_setup_lock, read without it (heap_is_ready).
 */
uint8_t na_heap_ready[TOPO_MAX_SLOTS] NA_HOT_BSS;
static na_lock_t heap_setup_lock = NA_LOCK_INIT;
/* What reserve_region got: the last slot may be cut short. */
static size_t region_reserved NA_HOT_BSS;

/* The bytes slot `slot` spans (the last one may be cut short: region_reserved). */
static size_t slot_len(unsigned slot)
{
    size_t len = (size_t)1 << na_region.slot_shift;
    size_t from = (size_t)slot << na_region.slot_shift;
    return len < region_reserved - from ? len : region_reserved - from;
}

/*
 * Binds the slot and sets its heap up; false if the kernel refused the commit
 * (or, laid out under a limit, the reservation of its start: the node heap's
 * segment and the hugetlb range).
 */
static bool setup_slot(unsigned slot)
{
    char *base = (char *)slot_base(slot);
    size_t len = slot_len(slot);
    uintptr_t have = slot_reserved_to[slot]; /* retake_region's */
    size_t mapped = !region_lazy ? len
                    : have       ? have - (uintptr_t)base
                                 : SEGMENT_SIZE + hugetlb_slot_want(len);
    if (region_lazy && !have && os_reserve_at(base, mapped) != 0)
        return false;
    int node = na_topo.slot_node[slot];
    /* Policy first, pages later: nothing in the slot is touched before this. */
    binding_prefer_node(base, mapped, node);
    hugepages_advise_slot((uintptr_t)base, mapped);
    hugetlb_reserve_slot(slot, (uintptr_t)base, len, node);
    if (os_commit(base, NODE_HEAP_COMMIT) != 0) {
        if (region_lazy)
            os_release(base, mapped);
        slot_reserved_to[slot] = 0;
        return false;
    }
    struct node_heap *heap = node_heap_of(slot);
    node_heap_init(heap, slot, node, (uintptr_t)base + len);
    heap->seg_mapped = (uintptr_t)base + mapped;
    __atomic_store_n(&na_heap_ready[slot], 1, __ATOMIC_RELEASE);
    return true;
}

static NA_NOINLINE NA_COLD struct node_heap *heap_setup(unsigned slot)
{
    na_lock(&heap_setup_lock);
    bool ready = heap_is_ready(slot) || setup_slot(slot);
    na_unlock(&heap_setup_lock);
    if (!ready)
        errno = ENOMEM;
    return ready ? node_heap_of(slot) : NULL;
}

struct node_heap *heap_ready(unsigned slot)
{
    if (likely(heap_is_ready(slot)))
        return node_heap_of(slot);
    return heap_setup(slot);
}

unsigned heaps_ready_count(void)
{
    unsigned n = 0;
    for (unsigned slot = 0; slot < na_region.num_slots; slot++)
        n += heap_is_ready(slot);
    return n;
}

/*
 * Sets up the heap of the starting thread's node only (the first allocation
 * will use it; the others wait for theirs, heap_ready), so that a refused
 * commit still fails the start rather than a later allocation. False:
 * start_failure says why.
 */
static bool init_heaps(size_t reserved)
{
    region_reserved = reserved;
    unsigned home = current_route().home;
    if (!setup_slot(home < na_region.num_slots ? home : 0)) {
        note_failure("the kernel refused to commit ", NODE_HEAP_COMMIT,
                     os_overcommit_mode() == 2 ? " for a node heap (vm.overcommit_memory=2)"
                                               : " for a node heap (ulimit -d?)");
        return false;
    }
    if (thread_cache_init() != 0) {
        note_failure("no pthread key left for the thread caches", 0, "");
        return false;
    }
    return true;
}

/*
 * mems_watch's callback: the slot's node is back in the cpuset. The kernel
 * remapped the slot's preferred node while it was gone (and does not map it
 * back), and a cgroup v2 cpuset migrated its pages away: bind the slot and
 * its own mappings to the node again and bring those pages back, so that
 * no block is handed out as this node's memory from another node. (Huge
 * objects spread by an interleave policy lost their spread to the change
 * already: the kernel shrank their node set and migrated their pages.)
 */
static void rebind_slot(unsigned slot)
{
    /* A heap not set up yet gets its binding then; none may be set up meanwhile. */
    na_lock(&heap_setup_lock);
    if (heap_is_ready(slot)) {
        char *base = (char *)slot_base(slot);
        size_t len =
            __atomic_load_n(&node_heap_of(slot)->seg_mapped, __ATOMIC_ACQUIRE) - (uintptr_t)base;
        (void)binding_prefer_node_again(base, len, na_topo.slot_node[slot]);
        aligned_huge_rebind(slot, na_topo.slot_node[slot]);
    }
    na_unlock(&heap_setup_lock);
}

/*
 * The layout (page tags, slab bitmaps, segment headers, every page round-up)
 * is built for OS_PAGE_SIZE pages: on a kernel with other pages (arm64 and
 * ppc64 can have 16 or 64 KiB) the start fails. False: start_failure says why.
 */
static bool check_page_size(void)
{
    size_t page = os_page_size();
    if (page == OS_PAGE_SIZE || page == 0) /* 0: no auxiliary vector entry; assume ours */
        return true;
    _Static_assert(OS_PAGE_SIZE == 4096, "the message names the page size");
    struct textbuf tb;
    tb_init(&tb, start_failure, sizeof start_failure);
    tb_str(&tb, "the kernel's pages are ");
    tb_u64(&tb, page);
    tb_str(&tb, " bytes, this build needs 4096");
    return false;
}

/*
 * What slot `slot` keeps reserved once the region is given back: its heap's
 * segments up to the bump frontier, or the start setup_slot reserves (the
 * node heap's segment and the hugetlb range) for a slot not set up yet.
 */
static uintptr_t slot_kept_end(unsigned slot)
{
    uintptr_t base = slot_base(slot);
    if (!heap_is_ready(slot))
        return base + SEGMENT_SIZE + hugetlb_slot_want(slot_len(slot));
    uintptr_t keep = base + SEGMENT_SIZE + na_hugetlb_len[slot];
    uintptr_t next = node_heap_of(slot)->seg_next;
    return next > keep ? next : keep;
}

/*
 * A limit lowered after the start (interpose/rlimit.c): every slot gives back
 * what its heap does not use and reserves as it grows from then on, as under
 * a limit present at the start (map_more). The holes open inside the region,
 * where the kernel would put the next mappings, the program's and ours (an
 * aligned block's own mapping read as a segment of the region: the r23
 * prototype's failure); so the region ends where the last slot's heap does
 * (na_region.size shrinks, and grows with that heap: map_more), and the last
 * slot's free end, the highest hole, is outside it: the kernel maps top-down
 * into it and, the limit being at most half of it, never below it. False
 * (nothing given back) when the limit is more than that. Called with
 * heap_setup_lock held (no slot set up meanwhile), the holes closed.
 */
static bool give_back_region(size_t limit)
{
    unsigned last = na_region.num_slots - 1;
    uintptr_t top = na_region.base + region_reserved;
    struct node_heap *last_heap = heap_is_ready(last) ? node_heap_of(last) : NULL;
    if (last_heap)
        na_lock(&last_heap->pages_lock);
    uintptr_t last_kept = slot_kept_end(last);
    if (last_heap)
        na_unlock(&last_heap->pages_lock);
    if (limit > (top - last_kept) / 2)
        return false;
    for (unsigned slot = 0; slot <= last; slot++) {
        uintptr_t base = slot_base(slot);
        if (!heap_is_ready(slot)) {
            uintptr_t to = region_lazy ? slot_reserved_to[slot] : base + slot_len(slot);
            if (to)
                os_release((void *)base, to - base);
            slot_reserved_to[slot] = 0;
            continue;
        }
        struct node_heap *heap = node_heap_of(slot);
        na_lock(&heap->pages_lock);            /* the frontier stays put */
        (void)segment_run_drop_trailing(heap); /* a free run at the frontier goes too */
        uintptr_t keep = slot_kept_end(slot);
        if (keep < heap->seg_mapped)
            os_release((void *)keep, heap->seg_mapped - keep);
        __atomic_store_n(&heap->seg_mapped, keep, __ATOMIC_RELEASE);
        if (slot == last)
            __atomic_store_n(&na_region.size, keep - na_region.base, __ATOMIC_RELEASE);
        na_unlock(&heap->pages_lock);
    }
    if (!last_heap)
        __atomic_store_n(&na_region.size, last_kept - na_region.base, __ATOMIC_RELEASE);
    region_lazy = true;
    holes_open = true;
    holes_safe_limit = (top - last_kept) / 2;
    return true;
}

bool heap_give_back_begin(struct node_heap *heap, uintptr_t from)
{
    NA_ASSERT_HELD(&heap->pages_lock);
    if (!__atomic_load_n(&holes_open, __ATOMIC_RELAXED) || !na_trylock(&heap_setup_lock))
        return false;
    uintptr_t kept = slot_base(heap->slot) + SEGMENT_SIZE + na_hugetlb_len[heap->slot];
    if (holes_open && from >= kept && from % SEGMENT_SIZE == 0 && from <= heap->seg_mapped)
        return true;
    na_unlock(&heap_setup_lock);
    return false;
}

void heap_give_back_end(struct node_heap *heap, uintptr_t from)
{
    NA_ASSERT_HELD(&heap->pages_lock);
    NA_ASSERT(from >= heap->seg_next && from <= heap->seg_mapped);
    /* The region ends where the last slot's heap does (give_back_region): first, before
     * the kernel may map into what is released. */
    if (na_region.base + na_region.size == heap->seg_mapped && from > na_region.base)
        __atomic_store_n(&na_region.size, from - na_region.base, __ATOMIC_RELEASE);
    if (from < heap->seg_mapped)
        os_release((void *)from, heap->seg_mapped - from);
    __atomic_store_n(&heap->seg_mapped, from, __ATOMIC_RELEASE);
    na_unlock(&heap_setup_lock);
}

/*
 * A limit raised past what keeps the kernel out of the region's holes, or
 * removed: they are reserved again (bound like the rest of their slot),
 * so that no mapping, the program's or an aligned block's own, ever lands
 * inside the region's range (layout.h). A hole something else took
 * meanwhile stays as it is. Called with heap_setup_lock held, the holes open.
 */
static void retake_region(void)
{
    uintptr_t region_end = na_region.base + na_region.size;
    for (unsigned slot = 0; slot < na_region.num_slots; slot++) {
        uintptr_t base = slot_base(slot), end = base + slot_len(slot);
        if (end > region_end)
            end = region_end; /* the last slot's free end, outside the region */
        if (!heap_is_ready(slot)) {
            if (!slot_reserved_to[slot] && os_reserve_at((void *)base, end - base) == 0)
                slot_reserved_to[slot] = end;
            continue;
        }
        struct node_heap *heap = node_heap_of(slot);
        na_lock(&heap->pages_lock);
        if (heap->seg_mapped < end)
            (void)heap_reserve_to(heap, end);
        na_unlock(&heap->pages_lock);
    }
    holes_open = false;
}

void alloc_address_limit_set(size_t limit, bool say)
{
    race_point(RACE_ADDRESS_LIMIT_SET, 0);
    static int said;
    size_t reserved = __atomic_load_n(&na_region.size, __ATOMIC_ACQUIRE);
    if (!reserved)
        return; /* not started (the start reads the limit), or failed: nothing reserved */
    na_lock(&heap_setup_lock);
    bool kept = false;
    if (holes_open) {
        if (limit > holes_safe_limit)
            retake_region();
    } else {
        kept = !give_back_region(limit);
    }
    na_unlock(&heap_setup_lock);
    if (!say || !kept || reserved < limit / 2 || __atomic_exchange_n(&said, 1, __ATOMIC_RELAXED))
        return;
    char line[320];
    struct textbuf tb;
    tb_init(&tb, line, sizeof line);
    tb_str(&tb, "RLIMIT_AS set to ");
    tb_u64(&tb, (limit + ((size_t)1 << 20) - 1) >> 20);
    tb_str(&tb, " MiB after the start: the heaps' reservation (");
    tb_u64(&tb, reserved >> 20);
    tb_str(&tb, " MiB of address space, not memory) counts against it, and the program's own "
                "mappings (threads, files) will fail; set it before the program starts "
                "(ulimit -v, prlimit --as), where the heaps share it as they grow");
    report_warning(line);
}

static size_t future_lock_limit = SIZE_MAX; /* alloc_future_lock_set */

void alloc_future_lock_set(size_t limit)
{
    __atomic_store_n(&future_lock_limit, limit, __ATOMIC_RELAXED);
}

size_t alloc_future_lock(void)
{
    return __atomic_load_n(&future_lock_limit, __ATOMIC_RELAXED);
}

/* A start that failed after reserve_region: what it reserved goes back. */
static void release_region(size_t reserved)
{
    if (!region_lazy) {
        os_release((void *)na_region.base, reserved);
    } else {
        /* Only the reserved starts: the rest of the layout may be the program's by now. */
        for (unsigned slot = 0; slot < na_region.num_slots; slot++)
            if (heap_is_ready(slot))
                os_release((void *)slot_base(slot),
                           node_heap_of(slot)->seg_mapped - slot_base(slot));
    }
    na_region = (struct region){0};
}

/* The slot init_heaps set up (a reserved range to probe the kernel's calls on). */
static unsigned first_ready_slot(void)
{
    unsigned slot = 0;
    while (slot + 1 < na_region.num_slots && !heap_is_ready(slot))
        slot++;
    return slot;
}

static NA_NOINLINE NA_COLD bool init_once(void)
{
    report_output_init(); /* before anything can warn: the options, a failed start */
    size_classes_init();
    topology_init();
    options_init();
    if (na_options.prof) /* before any thread cache: their bins' countdowns */
        prof_init();
    purge_init();
    hugepages_init();
    kernel_policy_apply();
    stats_file_init(); /* the path made absolute before the program can chdir() */
    if (placement_init(start_failure, sizeof start_failure) != 0)
        return false;
    current_node_init();
    if (!check_page_size()) /* before anything is mapped; the statistics say why */
        return false;
    size_t reserved = reserve_region((unsigned)na_topo.num_slots);
    if (reserved == 0)
        return false;
    if (!init_heaps(reserved)) {
        release_region(reserved);
        return false;
    }
    /* Before the region goes live: what the kernel lets us do (a sandbox may refuse). */
    unsigned probed = first_ready_slot();
    capabilities_probe((void *)slot_base(probed),
                       node_heap_of(probed)->seg_mapped - slot_base(probed),
                       na_topo.slot_node[probed]);
    mems_watch_init(rebind_slot);
    /* Publishing the size makes the region (and the free fast path) live. */
    __atomic_store_n(&na_region.size, reserved, __ATOMIC_RELEASE);
    /* Only once we serve: a lock taken by a failed start would claim statistics forever. */
    stats_live_init();
    return true;
}

/* The one line a failed start prints; the program runs on, on glibc's malloc. */
static NA_NOINLINE NA_COLD void report_start_failure(void)
{
    char line[sizeof start_failure + 80];
    struct textbuf tb;
    tb_init(&tb, line, sizeof line);
    tb_str(&tb, "not active: ");
    tb_str(&tb, start_failure);
    tb_str(&tb, "; the C library's malloc serves this program");
    report_warning(line);
}

/*
 * pthread_atfork without its stub: the stub comes from libc_nonshared.a, which
 * the linker puts after all of our text, and calling it at start-up would make
 * the text's cold tail resident (docs/architecture.md, *Footprint*).
 * __dso_handle unregisters the handlers if the library is unloaded, as the
 * stub does.
 */
extern int __register_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void),
                             void *dso_handle);
extern void *__dso_handle;

bool alloc_ensure_init(void)
{
    int state = __atomic_load_n(&init_state, __ATOMIC_ACQUIRE);
    if (likely(state == INIT_READY))
        return true;
    if (state == INIT_FAILED)
        return false;
    int tid = (int)syscall(SYS_gettid);
    if (state == INIT_RUNNING && __atomic_load_n(&init_tid, __ATOMIC_RELAXED) == tid)
        return false; /* re-entered from init_once itself */
    bool first = false;
    na_lock(&init_lock);
    if (init_state == INIT_NOT_STARTED) {
        int saved = errno; /* the attempts' failed system calls are not the caller's */
        __atomic_store_n(&init_tid, tid, __ATOMIC_RELAXED);
        __atomic_store_n(&init_state, INIT_RUNNING, __ATOMIC_RELEASE);
        state = init_once() ? INIT_READY : INIT_FAILED;
        if (state == INIT_FAILED)
            libc_heap_init(); /* before any thread can see FAILED and call it */
        __atomic_store_n(&init_state, state, __ATOMIC_RELEASE);
        errno = saved;
        first = true;
    }
    state = init_state;
    na_unlock(&init_lock);
    if (first && state == INIT_READY)
        __register_atfork(fork_prepare, fork_parent, fork_child, &__dso_handle);
    if (first && state == INIT_FAILED)
        report_start_failure();
    return state == INIT_READY;
}

bool alloc_start_failed(void)
{
    return __atomic_load_n(&init_state, __ATOMIC_ACQUIRE) == INIT_FAILED;
}

const char *alloc_start_failure(void)
{
    return alloc_start_failed() ? start_failure : NULL;
}

/*
 * Usually the first malloc initialises us, from whichever thread or library
 * gets there first; this makes sure a program that never allocates still
 * gets its warnings about bad NUMA_ALLOC_* values. With the profile on, it
 * also loads the unwinder (core/prof.h).
 */
__attribute__((constructor)) static void init_at_load(void)
{
    if (alloc_ensure_init() && na_prof_on)
        prof_load_unwinder(); /* here, not in malloc: the loader allocates and takes its lock */
}

/* ---- fork: no lock may be held by a thread that the child lacks ---------- */

/*
 * Which heaps' class_slabs locks fork_prepare took: those used then. The
 * parent releases exactly those (a heap may see its first refill meanwhile,
 * and its locks are then another thread's); the child resets those of every
 * heap used by then, whoever took them.
 */
static uint64_t fork_slabs_locked[BITMAP_WORDS(TOPO_MAX_SLOTS)];
enum fork_step { FORK_PREPARE, FORK_PARENT, FORK_CHILD };

/* Every node heap's locks; class_slabs' of the heaps that have used them (node_heap.h). */
static void for_each_lock(void (*op)(na_lock_t *), enum fork_step step)
{
    for (unsigned slot = 0; slot < na_region.num_slots; slot++) {
        if (!heap_is_ready(slot)) /* none is set up while heap_setup_lock is held */
            continue;
        struct node_heap *heap = node_heap_of(slot);
        bool slabs =
            step == FORK_PARENT ? bitmap_test(fork_slabs_locked, slot) : heap_slabs_used(heap);
        if (step == FORK_PREPARE && slabs)
            bitmap_set(fork_slabs_locked, slot);
        else if (step == FORK_PREPARE)
            bitmap_clear(fork_slabs_locked, slot);
        /* Unchanged from prepare to parent or child: fork holds registry_lock meanwhile. */
        op(&heap->young.lock); /* a leaf: first or last, any order will do */
        uint32_t shards = __atomic_load_n(&na_shards_used, __ATOMIC_RELAXED);
        for (unsigned shard = 0; slabs && shard < HEAP_SHARDS; shard++)
            for (unsigned cls = 1; (shards >> shard & 1) && cls <= NUM_SMALL_CLASSES; cls++)
                op(&heap->class_slabs[shard][cls].lock);
        op(&heap->pages_lock);
    }
}

/*
 * Every lock the library owns, taken in the order they nest: live publishing,
 * statistics (a writer then takes the registry and heap locks), init,
 * cpuset watch, heap set-up, registry, class_slabs, pages, segment-aligned
 * objects, the profile's tables.
 * The parent releases them and the child resets them in the reverse order.
 */
static void fork_prepare(void)
{
    stats_live_fork_prepare();
    stats_lock_for_fork();
    na_lock(&init_lock);
    na_lock(mems_watch_lock());
    na_lock(&heap_setup_lock);
    thread_cache_fork_prepare();
    for_each_lock(na_lock, FORK_PREPARE);
    na_lock(aligned_huge_lock());
    prof_fork_prepare();
    hugetlb_fork_prepare();
}

static void fork_parent(void)
{
    hugetlb_fork_parent(); /* first: the child copies the hugetlb ranges meanwhile */
    prof_fork_parent();
    na_unlock(aligned_huge_lock());
    for_each_lock(na_unlock, FORK_PARENT);
    thread_cache_fork_parent();
    na_unlock(&heap_setup_lock);
    na_unlock(mems_watch_lock());
    na_unlock(&init_lock);
    na_unlock(stats_lock());
    stats_live_fork_parent();
}

static void fork_child(void)
{
    hugetlb_fork_child(); /* first: nothing may write to a hugetlb page before it */
    prof_fork_child();
    aligned_huge_fork_child();
    for_each_lock(na_lock_reset, FORK_CHILD);
    thread_cache_after_fork_child();
    na_lock_reset(&heap_setup_lock);
    na_lock_reset(mems_watch_lock());
    na_lock_reset(&init_lock);
    stats_lock_fork_child();
    stats_file_fork_child();
    stats_live_fork_child();
    if (future_lock_limit != SIZE_MAX) { /* the child is not locked: its heaps take their holes */
        future_lock_limit = SIZE_MAX;
        alloc_address_limit_set(os_address_space_limit(), false);
    }
}

/* ---- allocation ---------------------------------------------------------- */

/* Smallest small class >= size whose blocks are all aligned to `alignment` (<= page). */
static unsigned aligned_small_class(size_t size, size_t alignment)
{
    unsigned cls = size_class_of(size < alignment ? alignment : size);
    while (cls <= NUM_SMALL_CLASSES && na_size_classes[cls].size % alignment != 0)
        cls++;
    return cls;
}

/*
 * Under an address-space limit (holes_open), a huge object of
 * OWN_MAPPING_UNDER_LIMIT bytes or more gets a mapping of its own, unmapped
 * at its free, as glibc maps every block past its mmap threshold (32 MiB at
 * most): in the slot its run would keep its address space after the free
 * unless it lay at the bump frontier (segment_run_trim), and the program's
 * own mappings (thread stacks, files) may need that space. NULL: not such an
 * object, or refused (its slot serves it then, as without a limit).
 */
static void *alloc_own_mapping(unsigned slot, size_t size, size_t alignment, const uint8_t *spread)
{
    if (size < OWN_MAPPING_UNDER_LIMIT || !__atomic_load_n(&holes_open, __ATOMIC_RELAXED))
        return NULL;
    return aligned_huge_alloc(slot, size,
                              alignment > ALIGNED_HUGE_MIN ? alignment : ALIGNED_HUGE_MIN, spread);
}

static void *huge_or_large_once(unsigned slot, size_t size, size_t alignment, bool zero)
{
    struct node_heap *heap = node_heap_of(slot);
    bool zeroed = false;
    void *ptr = NULL;
    size_t align_pages = alignment > OS_PAGE_SIZE ? alignment / OS_PAGE_SIZE : 1;
    if (size <= LARGE_MAX &&
        large_size_of(size) / OS_PAGE_SIZE + align_pages - 1 <= SEGMENT_USABLE_PAGES) {
        ptr = heap_alloc_large(heap, large_size_of(size), alignment, &zeroed, false);
        size = large_size_of(size);
    } else if (size > heap->seg_end - slot_base(slot) - 2 * SEGMENT_SIZE) {
        /*
         * More than the slot can ever hold (slots are small under ulimit -v,
         * split among the nodes): a mapping of its own, bound to the node as
         * the slot is, as objects aligned to a segment are. Fresh: zeroed.
         */
        ptr = aligned_huge_alloc(slot, size, ALIGNED_HUGE_MIN, NULL);
        zeroed = true;
    } else if ((ptr = alloc_own_mapping(slot, size, alignment, NULL)) != NULL) {
        zeroed = true; /* fresh */
    } else {
        size_t old_bytes;
        ptr = heap_alloc_huge(heap, size, alignment, &old_bytes, NULL);
        if (ptr && zero && old_bytes)
            huge_zero(heap->node, ptr, old_bytes);
        zeroed = true;
    }
    if (ptr && zero && !zeroed)
        memset(ptr, 0, size);
    return ptr;
}

/*
 * Out of memory (a limit, a full node under bind), the heap's spare slabs
 * give their pages back and the allocation is tried once more, as a small
 * refill does (refill_spent): glibc's freed chunks coalesce into room for a
 * large block, and so must the empty slabs each class and shard keeps.
 */
static void *alloc_huge_or_large(unsigned slot, size_t size, size_t alignment, bool zero)
{
    void *ptr = huge_or_large_once(slot, size, alignment, zero);
    if (unlikely(!ptr) && heap_release_spares(node_heap_of(slot)))
        ptr = huge_or_large_once(slot, size, alignment, zero);
    if (!ptr)
        errno = ENOMEM;
    return ptr;
}

/* ---- profile: sampled blocks (core/prof.h) ------------------------------- */

/* Where a page run or huge object keeps its sample id; NULL for a slab's block or foreign memory.
 */
static uint32_t *sample_id_of(void *ptr)
{
    if (!region_contains(ptr))
        return NULL; /* segment-aligned objects are not sampled */
    struct segment *seg = segment_of(ptr);
    if (seg->kind == SEG_HUGE)
        return &seg->huge_sample;
    if (seg->pages[page_in_segment(ptr)].tag != 0)
        return NULL;
    return &span_of_ptr(seg, ptr)->sample;
}

/*
 * A small request of class cls on `slot` whose bin's sample is due (its
 * countdown 0 or 1): served as a page run of the same heap, so that its
 * free reaches free_slow; NULL when it is not taken (not due, the profiler
 * itself allocating, no pages): the caller serves it from the bin.
 */
static NA_NOINLINE NA_COLD void *alloc_sampled_small(unsigned slot, unsigned cls, size_t size,
                                                     bool zero)
{
    struct node_cache *nc = thread_cache_of(slot);
    if (!nc || nc->bins[cls].countdown > 1 ||
        !prof_small_due(nc, cls, nc->bins[cls].countdown == 0))
        return NULL;
    bool zeroed;
    size_t bytes = os_page_round_up(size ? size : 1);
    void *ptr = heap_alloc_large(node_heap_of(slot), bytes, 0, &zeroed, false);
    if (!ptr)
        return NULL;
    if (zero && !zeroed)
        memset(ptr, 0, size);
    thread_cache_count_alloc(slot, bytes, false); /* a page run now, counted as one */
    span_of_ptr(segment_of(ptr), ptr)->sample =
        prof_note_alloc(size, na_size_classes[cls].size, slot);
    return ptr;
}

/* A page run or huge object just allocated on a slow path: sampled by the bytes. */
static NA_NOINLINE NA_COLD void sample_slow_alloc(void *ptr, size_t size, unsigned slot)
{
    uint32_t *id = sample_id_of(ptr);
    if (id && *id == 0 && prof_large_due(size))
        *id = prof_note_alloc(size, size, slot);
}

void *alloc_on_slot(unsigned slot, size_t size, size_t alignment, bool zero)
{
    CONTRACT_ASSERT(request_within_limit(size, alignment));
    if (unlikely(!alloc_ensure_init()) || !heap_ready(slot)) {
        errno = ENOMEM;
        return NULL;
    }
    if (alignment >= ALIGNED_HUGE_MIN) { /* fresh mappings: zeroed */
        void *ptr = aligned_huge_alloc(slot, size, alignment, NULL);
        if (!ptr)
            errno = ENOMEM;
        return ptr;
    }
    if (size <= SMALL_MAX && alignment <= OS_PAGE_SIZE) {
        /* Every class is 16-byte aligned. */
        unsigned cls = alignment <= 16 ? size_class_of(size) : aligned_small_class(size, alignment);
        if (cls <= NUM_SMALL_CLASSES) {
            void *ptr = unlikely(na_prof_on) ? alloc_sampled_small(slot, cls, size, zero) : NULL;
            if (ptr)
                return ptr;
            ptr = alloc_small(slot, cls);
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
    if (slot == PLACEMENT_PER_ALLOCATION) {
        /* (the sequence may be rebuilt meanwhile: one length, never 0, and entries once each) */
        unsigned len = __atomic_load_n(&na_placement.sequence_len, __ATOMIC_ACQUIRE);
        slot = __atomic_load_n(&na_placement.sequence[na_thread_state.sequence_cursor++ % len],
                               __ATOMIC_RELAXED);
    }
    return slot;
}

/*
 * Counts an allocation of `size` bytes made on a slow path in `slot` (the
 * fast paths count their own); a page run or huge object may be sampled.
 */
static void *count_slow_alloc(void *ptr, size_t size, unsigned slot, bool explicit_node)
{
    if (ptr) {
        size_t usable = alloc_usable_size(ptr);
        thread_cache_count_alloc(slot, usable > SMALL_MAX ? usable : 0, explicit_node);
        if (unlikely(na_prof_on))
            sample_slow_alloc(ptr, size, slot);
    }
    return ptr;
}

/* Has the slot's bump pointer reached its end (its address space is used up)? */
static bool slot_full(unsigned slot)
{
    if (!heap_is_ready(slot))
        return false;
    const struct node_heap *heap = node_heap_of(slot);
    return __atomic_load_n(&heap->seg_next, __ATOMIC_RELAXED) + SEGMENT_SIZE > heap->seg_end;
}

/* `slot` could not serve: the other nodes in fallback order (cold: a node out of memory). */
static NA_NOINLINE NA_COLD void *alloc_fallback(unsigned slot, size_t size, size_t alignment,
                                                bool zero, bool named_node)
{
    uint16_t order[na_region.num_slots];
    unsigned n = placement_fallbacks(slot, named_node, order);
    if (na_prof_on)
        prof_set_decision(!placement_slot_usable(slot) ? PROF_FALLBACK_UNUSABLE
                          : slot_full(slot)            ? PROF_FALLBACK_SLOT
                                                       : PROF_FALLBACK_FULL);
    for (unsigned i = 1; i < n; i++) {
        void *ptr = alloc_on_slot(order[i], size, alignment, zero);
        if (ptr) {
            struct node_heap *named = heap_ready(slot); /* not yet if its node left the cpuset */
            if (named)
                __atomic_fetch_add(&named->fallbacks_out, 1, __ATOMIC_RELAXED);
            __atomic_fetch_add(&node_heap_of(order[i])->fallbacks_in, 1, __ATOMIC_RELAXED);
            if (na_thread_state.status == THREAD_LIVE)
                COUNT(na_thread_state.fallbacks, 1);
            return count_slow_alloc(ptr, size, order[i], false); /* not the node it named */
        }
    }
    errno = ENOMEM;
    return NULL;
}

/*
 * `named_node`: the caller named the node (numa_malloc, realloc), so every
 * usable node is a fallback candidate whatever the policy; `explicit_request`:
 * count it as an explicit request (numa_malloc & co, not realloc). A slot
 * whose node left the cpuset gets nothing: straight to the fallbacks.
 */
static void *alloc_with_fallback(unsigned slot, size_t size, size_t alignment, bool zero,
                                 bool named_node, bool explicit_request)
{
    void *ptr = placement_slot_usable(slot) ? alloc_on_slot(slot, size, alignment, zero) : NULL;
    if (likely(ptr != NULL))
        return count_slow_alloc(ptr, size, slot, explicit_request);
    return alloc_fallback(slot, size, alignment, zero, named_node);
}

/* One reading of the spread's weights, by slot (a cpuset change may rewrite them meanwhile). */
static void read_page_weights(uint8_t *weight)
{
    for (unsigned s = 0; s < na_region.num_slots; s++)
        weight[s] = __atomic_load_n(&na_placement.page_weight[s], __ATOMIC_RELAXED);
}

/* Huge objects under an interleave policy: one object, its pages spread over the nodes. */
static NA_NOINLINE NA_COLD void *alloc_spread(unsigned slot, size_t size, size_t alignment,
                                              bool zero)
{
    uint8_t weight[na_region.num_slots];
    read_page_weights(weight);
    for (unsigned tries = 0; tries < na_region.num_slots; tries++) {
        unsigned s = (slot + tries) % na_region.num_slots;
        if (!placement_slot_usable(s) || !heap_ready(s))
            continue;
        size_t old_bytes = 0; /* an object aligned to a segment or more: a fresh mapping */
        void *ptr;
        if (alignment >= ALIGNED_HUGE_MIN)
            ptr = aligned_huge_alloc(s, size, alignment, weight);
        else if (!(ptr = alloc_own_mapping(s, size, alignment, weight)))
            ptr = heap_alloc_huge(node_heap_of(s), size, alignment, &old_bytes, weight);
        if (ptr) {
            if (zero && old_bytes)
                huge_zero(node_heap_of(s)->node, ptr, old_bytes);
            return count_slow_alloc(ptr, size, s, false);
        }
    }
    errno = ENOMEM;
    return NULL;
}

/* A mid-size request while the slot's heap is young: its arena (core/young_arena.h), or NULL. */
static NA_NOINLINE NA_COLD void *alloc_young(unsigned slot, size_t size, bool zero)
{
    struct node_heap *heap = placement_slot_usable(slot) ? heap_ready(slot) : NULL;
    size_t usable;
    void *ptr = heap ? young_alloc(heap, size, &usable) : NULL;
    if (ptr) {
        thread_cache_count_young(slot, size_class_of(usable), true);
        if (zero)
            memset(ptr, 0, size);
    }
    return ptr;
}

/* Could a request go to the young arena of slot's heap? (alloc_young says whether it does.) */
static bool young_wanted(unsigned slot, size_t size, size_t alignment)
{
    if (alignment != 0 || size <= YOUNG_MIN || size > SMALL_MAX || na_prof_on)
        return false;
    return !heap_is_ready(slot) || young_may_serve(&node_heap_of(slot)->young, size);
}

/* The heap whose young arena holds ptr, a pointer into the region; NULL if none does. */
static struct node_heap *young_heap_of(const void *ptr)
{
    unsigned slot = slot_of_ptr(ptr);
    if (!heap_is_ready(slot) || !young_holds(&node_heap_of(slot)->young, ptr))
        return NULL;
    return node_heap_of(slot);
}

static void free_young(struct node_heap *heap, void *ptr)
{
    thread_cache_count_young(heap->slot, size_class_of(young_free(heap, ptr)), false);
}

/* Not initialised: the C library serves when the start failed (else: only a re-entry). */
static NA_NOINLINE NA_COLD void *alloc_not_ready(size_t size, size_t alignment, bool zero)
{
    if (alloc_start_failed())
        return libc_heap_alloc(size, alignment, zero);
    errno = ENOMEM;
    return NULL;
}

void *alloc_placed(size_t size, size_t alignment, bool zero)
{
    if (unlikely(!request_within_limit(size, alignment))) {
        errno = ENOMEM;
        return NULL;
    }
    if (unlikely(!alloc_ensure_init()))
        return alloc_not_ready(size, alignment, zero);
    if (na_options.stats_live)
        stats_live_tick();
    mems_watch_tick(); /* before the route is read: a change applies to this call */
    struct cpu_route route = current_route();
    if (route.home != na_thread_state.home)
        thread_cache_note_move(route.home);
    thread_cache_route_refresh();
    unsigned slot = policy_slot();
    if (young_wanted(slot, size, alignment)) {
        void *ptr = alloc_young(slot, size, zero);
        if (ptr)
            return ptr;
    }
    if (na_prof_on)
        prof_set_decision(prof_policy_decision());
    if (na_placement.per_allocation && size > LARGE_MAX)
        return alloc_spread(slot, size, alignment, zero);
    return alloc_with_fallback(slot, size, alignment, zero, false, false);
}

void *alloc_on_node(unsigned slot, size_t size, size_t alignment, bool zero)
{
    if (unlikely(!request_within_limit(size, alignment))) {
        errno = ENOMEM;
        return NULL;
    }
    if (unlikely(!alloc_ensure_init()))
        return alloc_not_ready(size, alignment, zero);
    if (na_prof_on)
        prof_set_decision(PROF_EXPLICIT);
    return alloc_with_fallback(slot, size, alignment, zero, true, true);
}

/* realloc: the block's node kept, which the policy chose (or named) for the block. */
static void *alloc_keeping_node(unsigned slot, size_t size)
{
    if (na_prof_on)
        prof_set_decision(prof_policy_decision());
    return alloc_with_fallback(slot, size, 0, false, true, false);
}

/*
 * The fast path's exit. Profile on, a pop that took its bin's countdown to
 * 0 came here: that request is the sample (struct cache_bin).
 */
NA_NOINLINE NA_COLD void *alloc_slow(size_t size)
{
    if (size <= SMALL_MAX && current_cpu_word() >= (unsigned)na_topo.num_cpus) {
        /* The fast path could not read the CPU (no rseq): the same pop, with getcpu. */
        void *ptr = alloc_small_routed(current_route(), size);
        if (ptr)
            return ptr;
    }
    if (unlikely(na_prof_on) && size <= SMALL_MAX && alloc_ensure_init()) {
        /*
         * The bin is looked for among the thread's caches rather than by
         * its route: the thread may have moved since its fast path read it,
         * and a countdown left at 0 would wrap on the next pop.
         */
        unsigned cls = size_class_of(size);
        for (struct node_cache *nc = na_thread_state.cache_list; nc; nc = nc->next) {
            if (nc->bins[cls].countdown != 0)
                continue;
            prof_set_decision(prof_policy_decision());
            void *ptr = alloc_sampled_small(nc->slot, cls, size, false);
            if (ptr)
                return ptr;
            break;
        }
    }
    return alloc_placed(size, 0, false);
}

NA_NOINLINE NA_COLD void *alloc_small_slow(unsigned slot, unsigned cls)
{
    if (unlikely(!alloc_ensure_init()))
        return NULL; /* numa_malloc after a failed start: the caller falls back */
    if (na_options.stats_live)
        stats_live_tick();
    void *ptr = thread_cache_alloc_slow(slot, cls);
    thread_cache_route_refresh(); /* a first refill of the slot made its cache */
    return ptr;
}

/* ---- free ---------------------------------------------------------------- */

/*
 * Outside the region: an object aligned to a segment or more (aligned_huge.h),
 * or foreign memory (e.g. from before we were loaded), which is left alone.
 */
static NA_NOINLINE NA_COLD void free_outside_region(void *ptr)
{
    if (alloc_start_failed()) { /* every block is glibc's */
        libc_heap_free(ptr);
        return;
    }
    struct aligned_huge obj;
    int found = aligned_huge_free(ptr, &obj);
    if (found < 0)
        report_invalid_pointer("free(): invalid pointer", ptr);
    if (found > 0)
        thread_cache_count_free(obj.slot, obj.size);
    else if (libc_heap_owns(ptr)) /* glibc's: back to glibc */
        libc_heap_free(ptr);
}

NA_NOINLINE NA_COLD void free_small_slow(void *ptr, unsigned slot, unsigned tag)
{
    if (na_options.stats_live)
        stats_live_tick();
    thread_cache_free_slow(ptr, slot, tag);
}

NA_NOINLINE NA_COLD void free_slow(void *ptr)
{
    if (!ptr)
        return;
    if (!region_contains(ptr)) {
        free_outside_region(ptr);
        return;
    }
    if (!heap_is_ready(slot_of_ptr(ptr))) /* never set up, so nothing of ours is there */
        report_invalid_pointer("free(): invalid pointer", ptr);
    struct segment *seg = segment_of(ptr);
    struct node_heap *heap = node_heap_of(slot_of_ptr(ptr));
    if (young_holds(&heap->young, ptr)) {
        free_young(heap, ptr);
        return;
    }
    if (seg->magic != SEGMENT_MAGIC)
        report_invalid_pointer("free(): invalid pointer", ptr);
    const struct page_entry *entry = page_entry_at(seg, ptr);
    unsigned tag = entry->tag;
    if (tag != 0 && seg->kind == SEG_PAGES) {
        /* free_fast sends a slab's pointer here when it is no block's start. */
        if (!is_block_start(seg, ptr, entry))
            report_invalid_pointer("free(): invalid pointer", ptr);
        free_small_slow(ptr, slot_of_ptr(ptr), tag);
        return;
    }
    if (seg->kind == SEG_HUGE) {
        if (ptr != seg->huge_ptr)
            report_invalid_pointer("free(): invalid pointer", ptr);
        thread_cache_count_free(slot_of_ptr(ptr), seg->huge_size);
        if (seg->huge_sample)
            prof_note_free(seg->huge_sample);
        heap_free_huge(heap, seg);
        return;
    }
    if (seg->kind != SEG_PAGES)
        report_invalid_pointer("free(): double free or invalid pointer", ptr);
    unsigned page = page_in_segment(ptr);
    unsigned head = seg->pages[page].head;
    if (page < SEGMENT_HEADER_PAGES || head >= PAGES_PER_SEGMENT)
        report_invalid_pointer("free(): invalid pointer", ptr);
    struct span *span = span_at(seg, head);
    if (span->state == SPAN_LARGE && ptr == span_start(seg, span) && head <= page &&
        page < head + span->npages) {
        thread_cache_count_free(slot_of_ptr(ptr), (size_t)span->npages << OS_PAGE_SHIFT);
        if (span->sample)
            prof_note_free(span->sample);
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
    if (!ptr)
        return 0;
    if (!region_contains(ptr)) {
        struct aligned_huge obj;
        return aligned_huge_find(ptr, &obj) && obj.start == (uintptr_t)ptr ? obj.size : 0;
    }
    struct segment *seg = segment_of(ptr);
    if (seg->magic != SEGMENT_MAGIC)
        return 0;
    const struct page_entry *page = page_entry_at(seg, ptr);
    unsigned cls = tag_class(page->tag);
    if (cls && seg->kind == SEG_PAGES)
        return is_block_start(seg, ptr, page) ? na_size_classes[cls].size : 0;
    struct node_heap *young = young_heap_of(ptr); /* its page run's pages have no class */
    if (young)
        return young_usable_size(young, ptr);
    if (seg->kind == SEG_HUGE)
        return ptr == seg->huge_ptr ? seg->huge_size : 0;
    if (seg->kind != SEG_PAGES || seg->pages[page_in_segment(ptr)].head >= PAGES_PER_SEGMENT)
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
    unsigned page = page_in_segment(ptr), head = seg->pages[page].head;
    if (page < SEGMENT_HEADER_PAGES || head >= PAGES_PER_SEGMENT)
        return false;
    const struct span *span = span_at(seg, head);
    return (span->state == SPAN_SLAB || span->state == SPAN_LARGE) && head <= page &&
           page < head + span->npages;
}

int alloc_owner_slot(const void *ptr)
{
    if (!region_contains(ptr)) {
        struct aligned_huge obj;
        return aligned_huge_find(ptr, &obj) ? (int)obj.slot : -1;
    }
    unsigned slot = slot_of_ptr(ptr);
    if (!heap_is_ready(slot))
        return -1; /* nothing was ever handed out there */
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
#define REALLOC_PAGE_RUN_MIN OS_PAGE_SIZE

/* Bytes of the page run realloc gives `size` bytes (small sizes in whole pages). */
static size_t page_run_size_of(size_t size)
{
    CONTRACT_ASSERT(size <= ALLOC_MAX_REQUEST);
    return size > SMALL_MAX ? large_size_of(size) : os_page_round_up(size);
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
        return size <= SMALL_MAX && na_size_classes[size_class_of(size)].size == usable;
    return false;
}

/* Counts a resize in place to new_usable bytes: the bytes change, the number of blocks not. */
static void *count_resize_in_place(void *ptr, unsigned slot, size_t old_usable, size_t new_usable)
{
    NA_ASSERT(new_usable == alloc_usable_size(ptr));
    thread_cache_count_resize(slot, old_usable, new_usable);
    return ptr;
}

/*
 * realloc of a block of glibc's (libc_heap_owns): it becomes ours, placed as
 * any new block, its bytes copied; glibc's is freed. realloc(p, 0) frees it
 * as glibc does. On failure it stays glibc's, untouched.
 */
static NA_NOINLINE NA_COLD void *realloc_from_libc(void *ptr, size_t size)
{
    if (size == 0) {
        libc_heap_free(ptr);
        return NULL;
    }
    void *fresh = alloc_placed(size, 0, false);
    if (!fresh)
        return NULL;
    size_t old = libc_heap_usable_size(ptr);
    memcpy(fresh, ptr, old < size ? old : size);
    libc_heap_free(ptr);
    return fresh;
}

/* realloc of an object aligned to a segment or more, a block of glibc's, or foreign memory
 * (refused). */
static NA_NOINLINE NA_COLD void *realloc_outside_region(void *ptr, size_t size)
{
    if (alloc_start_failed()) /* every block is glibc's */
        return libc_heap_realloc(ptr, size);
    struct aligned_huge obj;
    if (!aligned_huge_find(ptr, &obj)) {
        if (libc_heap_owns(ptr))
            return realloc_from_libc(ptr, size);
        report_pointer("realloc(): pointer not from numa-alloc, refused", ptr);
        errno = ENOMEM;
        return NULL;
    }
    if (obj.start != (uintptr_t)ptr)
        report_invalid_pointer("realloc(): invalid pointer", ptr);
    if (!request_within_limit(size, 0)) {
        errno = ENOMEM;
        return NULL;
    }
    if (size <= obj.size) { /* in place, its tail pages returned */
        size_t usable = aligned_huge_shrink(ptr, size);
        if (usable)
            return count_resize_in_place(ptr, obj.slot, obj.size, usable);
    } else if (placement_slot_usable(obj.slot) && (!obj.spread || na_placement.per_allocation)) {
        void *grown = aligned_huge_grow(ptr, size); /* mremap: its pages keep their node */
        if (grown)
            return count_resize_in_place(grown, obj.slot, obj.size, alloc_usable_size(grown));
    }
    /* As any block, it keeps its node (or its spread); realloc never promised the alignment. */
    void *fresh = obj.spread ? alloc_placed(size, 0, false) : alloc_keeping_node(obj.slot, size);
    if (!fresh)
        return NULL;
    memcpy(fresh, ptr, obj.size < size ? obj.size : size);
    free_slow(ptr);
    return fresh;
}

/*
 * A huge object resized where it lies; a spread one grows with the weights
 * its new pages take, while the policy still spreads (else it moves, to
 * wherever the policy now puts it).
 */
static bool resize_huge_in_place(unsigned slot, struct segment *seg, size_t size)
{
    uint8_t weight[na_region.num_slots];
    const uint8_t *spread = NULL;
    if (seg->interleaved && na_placement.per_allocation) {
        read_page_weights(weight);
        spread = weight;
    }
    return heap_resize_huge(node_heap_of(slot), seg, size, spread);
}

/*
 * realloc of a block of a young arena: in place if it fits and shrinks by
 * less than half, else moved (to the arena while it serves), keeping its node.
 */
static NA_NOINLINE NA_COLD void *realloc_young(struct node_heap *heap, void *ptr, size_t size)
{
    size_t usable = young_usable_size(heap, ptr);
    if (usable == 0)
        report_invalid_pointer("realloc(): invalid pointer", ptr);
    if (!request_within_limit(size, 0)) { /* glibc: NULL, ENOMEM, the block untouched */
        errno = ENOMEM;
        return NULL;
    }
    if (size <= usable && size > usable / 2)
        return ptr;
    void *fresh = young_wanted(heap->slot, size, 0) ? alloc_young(heap->slot, size, false) : NULL;
    if (!fresh)
        fresh = alloc_keeping_node(heap->slot, size);
    if (!fresh)
        return NULL;
    memcpy(fresh, ptr, usable < size ? usable : size);
    free_young(heap, ptr);
    return fresh;
}

void *alloc_realloc(void *ptr, size_t size)
{
    if (!ptr)
        return alloc_fast(size);
    if (size == 0) { /* glibc: realloc(p, 0) frees p and returns NULL */
        free_fast(ptr);
        return NULL;
    }
    if (!region_contains(ptr))
        return realloc_outside_region(ptr, size);
    size_t usable = alloc_usable_size(ptr);
    if (usable == 0)
        report_invalid_pointer("realloc(): invalid pointer", ptr);
    if (!request_within_limit(size, 0)) { /* glibc: NULL, ENOMEM, the block untouched */
        errno = ENOMEM;
        return NULL;
    }
    unsigned slot = slot_of_ptr(ptr);
    struct segment *seg = segment_of(ptr);
    unsigned tag = seg->pages[page_in_segment(ptr)].tag;
    if (tag != 0 && thread_cache_block_is_free(ptr, slot, tag_class(tag)))
        report_invalid_pointer("realloc(): invalid pointer", ptr);
    if (tag == 0 && young_holds(&node_heap_of(slot)->young, ptr)) /* a block: usable > 0 */
        return realloc_young(node_heap_of(slot), ptr, size);
    /* Not a huge object as small as a page run (aligned to 2 MiB, say): it has no span. */
    bool page_run = usable <= LARGE_MAX && tag == 0 && seg->kind == SEG_PAGES;
    if (fits_in_place(usable, size, page_run))
        return ptr;
    /* Its node left the cpuset: shrink in place, but new memory comes from elsewhere. */
    bool may_grow_here = size <= usable || placement_slot_usable(slot);
    if (usable > LARGE_MAX && size > LARGE_MAX && may_grow_here &&
        resize_huge_in_place(slot, seg, size))
        return count_resize_in_place(ptr, slot, usable, alloc_usable_size(ptr));
    if (seg->kind == SEG_HUGE && size > usable && size > LARGE_MAX && may_grow_here &&
        (!seg->interleaved || na_placement.per_allocation)) {
        void *grown = huge_grow_out(slot, seg, size); /* no room after it: out, by mremap */
        if (grown)
            return count_resize_in_place(grown, slot, usable, alloc_usable_size(grown));
    }
    void *fresh = NULL;
    bool wants_page_run =
        size > SMALL_MAX || (size > REALLOC_PAGE_RUN_MIN && (page_run || size > usable));
    if (tag != 0 && !wants_page_run && likely(!na_prof_on) && placement_slot_usable(slot)) {
        /*
         * Small to small: the thread's bin for the block's slot, which
         * counts the pop (a miss, or a node out of memory, goes the general
         * route below, alloc_keeping_node, which cost realloc-chain a third
         * more instructions per small step: callgrind).
         */
        fresh = alloc_small(slot, size_class_of(size));
    }
    if (size <= LARGE_MAX && wants_page_run && may_grow_here) {
        size_t resized = page_run_size_of(size);
        if (page_run && heap_resize_large(node_heap_of(slot), span_of_ptr(seg, ptr), resized))
            return count_resize_in_place(ptr, slot, usable, resized);
        /* A block that grows by realloc will likely grow again: give it room. */
        bool zeroed;
        if (size > usable)
            fresh = count_slow_alloc(
                heap_alloc_large(node_heap_of(slot), page_run_size_of(size), 0, &zeroed, true),
                size, slot, false);
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
    if (__atomic_load_n(&init_state, __ATOMIC_ACQUIRE) != INIT_READY)
        return false;
    thread_cache_flush_all();
    return purge_all();
}
