/* hugepages.c - transparent huge pages for the node heaps; see hugepages.h. */
#define _GNU_SOURCE
#include "core/hugepages.h"

#include "base/debug.h"
#include "base/os.h"
#include "base/parse.h"
#include "base/report.h"
#include "base/textbuf.h"
#include "core/aligned_huge.h"
#include "core/node_heap.h"
#include "policy/binding.h"
#include "policy/options.h"
#include "policy/verify.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14; older kernels refuse it (EINVAL) */
#endif

size_t na_thp_from = SIZE_MAX;
size_t na_hugetlb_len[TOPO_MAX_SLOTS] NA_HOT_HEAD_BSS;

void hugepages_init(void)
{
    na_thp_from = na_options.hugepages == HUGEPAGES_THP    ? SEGMENT_SIZE
                  : na_options.hugepages == HUGEPAGES_AUTO ? HUGEPAGES_AUTO_FROM
                                                           : SIZE_MAX;
}

void hugepages_advise_slot(uintptr_t base, size_t len)
{
    /* No 2 MiB page may hold two slots: aligned base, slots of whole 2 MiB pages. */
    NA_ASSERT(na_region.base % HUGE_PAGE_SIZE == 0 && base % SEGMENT_SIZE == 0);
    NA_ASSERT(((size_t)1 << na_region.slot_shift) % HUGE_PAGE_SIZE == 0 && len % SEGMENT_SIZE == 0);
    NA_ASSERT(len <= ((size_t)1 << na_region.slot_shift));
    if (na_options.hugepages == HUGEPAGES_NEVER)
        (void)os_advise((void *)base, len, MADV_NOHUGEPAGE);
    else if (na_thp_from < len)
        (void)os_advise((void *)(base + na_thp_from), len - na_thp_from, MADV_HUGEPAGE);
}

void hugepages_advise_range(uintptr_t start, size_t len)
{
    if (na_options.hugepages == HUGEPAGES_NEVER)
        (void)os_advise((void *)start, len, MADV_NOHUGEPAGE);
    else
        hugepages_restore((void *)start, len);
}

void hugepages_advise_own(uintptr_t start, size_t len, bool spread)
{
    if (na_options.hugepages == HUGEPAGES_NEVER || spread)
        (void)os_advise((void *)start, len, MADV_NOHUGEPAGE);
    else if (len >= na_thp_from)
        (void)os_advise((void *)start, len, MADV_HUGEPAGE);
}

void hugepages_restore(void *addr, size_t len)
{
    if (na_thp_from == SIZE_MAX)
        return;
    uintptr_t start = (uintptr_t)addr, end = start + len;
    /* The slot's base: the region is segment aligned, not slot aligned. */
    uintptr_t slot_mask = ((uintptr_t)1 << na_region.slot_shift) - 1;
    uintptr_t from = start - ((start - na_region.base) & slot_mask) + na_thp_from;
    if (end <= from)
        return;
    if (start < from)
        start = from;
    (void)os_advise((void *)start, end - start, MADV_HUGEPAGE);
}

/* The one line for a slot left with normal pages: what was refused, and the kernel's errno. */
static NA_COLD void hugetlb_refused(int node, size_t bytes, const char *why, int err)
{
    char buf[320];
    struct textbuf tb;
    tb_init(&tb, buf, sizeof buf);
    tb_str(&tb, "NUMA_ALLOC_HUGETLB: no hugetlbfs pages reserved on node ");
    tb_u64(&tb, (uint64_t)node);
    tb_str(&tb, " (");
    tb_u64(&tb, bytes >> 20);
    tb_str(&tb, " MiB: ");
    tb_str(&tb, why);
    if (err) {
        tb_str(&tb, ", errno ");
        tb_u64(&tb, (uint64_t)-err);
    }
    tb_str(&tb, "); using normal pages");
    report_warning(buf);
}

size_t hugetlb_slot_want(size_t len)
{
    size_t want = (size_t)na_options.hugetlb_bytes;
    if (want == 0 || len <= SEGMENT_SIZE)
        return 0;
    want = (want + SEGMENT_MASK) & ~SEGMENT_MASK;
    return want > len - SEGMENT_SIZE ? len - SEGMENT_SIZE : want; /* at most every segment */
}

void hugetlb_reserve_slot(unsigned slot, uintptr_t base, size_t len, int node)
{
    size_t want = hugetlb_slot_want(len);
    if (want == 0)
        return;
    NA_ASSERT(na_hugetlb_len[slot] == 0 && base == slot_base(slot));
    void *pages;
    int err = os_map_hugetlb(want, &pages);
    if (err) {
        hugetlb_refused(node, want,
                        err == -ENOMEM ? "the pool (vm.nr_hugepages) has too few free 2 MiB pages"
                                       : "mmap MAP_HUGETLB refused",
                        err);
        return;
    }
    const char *why = NULL;
    struct page_census census = {0, 0, 0, 0};
    /* Bound before the first fault; populated now, so that no later fault can find the pool
     * empty (SIGBUS): the kernel fails the call instead. */
    if ((err = binding_prefer_node(pages, want, node)) != 0)
        why = "mbind refused";
    else if ((err = os_advise(pages, want, MADV_POPULATE_WRITE)) != 0)
        why = "MADV_POPULATE_WRITE refused (Linux 5.14 or later needed)";
    else if ((err = verify_pages(pages, want, node, HUGE_PAGE_SIZE / OS_PAGE_SIZE, &census)) != 0)
        why = "move_pages refused: placement unverified";
    else if (census.on_node != want / HUGE_PAGE_SIZE)
        why = "the node has too few free 2 MiB pages: some came from another node";
    else if ((err = os_move_mapping(pages, want, (void *)(base + SEGMENT_SIZE))) != 0)
        why = "mremap refused";
    if (why) {
        (void)os_release(pages, want); /* its pages go back to the pool */
        /* mremap tried: an old kernel's unmapped the slot's range before refusing. Put it
         * back, with its policy and advice (-EEXIST, the usual case: it is still there). */
        bool moving = census.on_node == want / HUGE_PAGE_SIZE;
        if (moving && os_reserve_at((void *)(base + SEGMENT_SIZE), want) == 0) {
            binding_prefer_node((void *)(base + SEGMENT_SIZE), want, node);
            hugepages_advise_slot(base, len);
        }
        hugetlb_refused(node, want, why, err);
        return;
    }
    na_hugetlb_len[slot] = want;
}

/* The pipe of the fork under way: the child writes a byte when its ranges are its own. */
static int fork_pipe[2] = {-1, -1};

static bool any_hugetlb(void)
{
    for (unsigned slot = 0; slot < na_region.num_slots; slot++)
        if (na_hugetlb_len[slot])
            return true;
    return false;
}

void hugetlb_fork_prepare(void)
{
    if (any_hugetlb() && os_pipe(fork_pipe) != 0)
        fork_pipe[0] = fork_pipe[1] = -1; /* no wait then: the child copies all the same */
}

void hugetlb_fork_parent(void)
{
    if (fork_pipe[0] < 0)
        return;
    os_close(fork_pipe[1]); /* so that a child gone (or no child: fork failed) reads as EOF */
    os_wait_byte(fork_pipe[0]);
    os_close(fork_pipe[0]);
    fork_pipe[0] = fork_pipe[1] = -1;
}

void hugetlb_fork_child(void)
{
    for (unsigned slot = 0; slot < na_region.num_slots; slot++) {
        size_t len = na_hugetlb_len[slot];
        if (!len)
            continue;
        struct node_heap *heap = node_heap_of(slot);
        uintptr_t start = slot_base(slot) + SEGMENT_SIZE;
        size_t used = heap_is_ready(slot) ? heap->seg_next - start : 0; /* the rest is zero */
        if (used > len)
            used = len;
        void *copy = os_map(len);
        if (copy) {
            binding_prefer_node(copy, len, heap->node);
            memcpy(copy, (void *)start, used); /* reads: no copy-on-write */
        }
        if (!copy || os_move_mapping(copy, len, (void *)start) != 0) {
            if (copy)
                (void)os_release(copy, len);
            report_warning("NUMA_ALLOC_HUGETLB: this fork child shares its parent's hugetlbfs "
                           "pages; a write to one needs a free huge page");
            continue;
        }
        hugepages_advise_slot(slot_base(slot), heap->seg_mapped - slot_base(slot));
        na_hugetlb_len[slot] = 0;
    }
    if (fork_pipe[1] >= 0) {
        (void)os_write_all(fork_pipe[1], "", 1);
        os_close(fork_pipe[1]);
        os_close(fork_pipe[0]);
        fork_pipe[0] = fork_pipe[1] = -1;
    }
}

long region_purge(void *addr, size_t len)
{
    uintptr_t start = (uintptr_t)addr, end = start + len;
    unsigned slot = slot_of_ptr(addr);
    uintptr_t low = slot_base(slot) + SEGMENT_SIZE, high = low + na_hugetlb_len[slot];
    uintptr_t zero_from = start > low ? start : low, zero_to = end < high ? end : high;
    NA_ASSERT(region_contains(addr) && slot == slot_of_ptr((char *)addr + len - 1));
    if (zero_from >= zero_to) {
        /* The invariant of hugepages.h: MADV_DONTNEED never reaches a hugetlb page. */
        NA_ASSERT(!hugetlb_covers(start) && !hugetlb_covers(end - 1));
        int err = os_purge(addr, len);
        return err ? err : (long)len;
    }
    memset((void *)zero_from, 0, zero_to - zero_from); /* resident for good: clean is zero */
    int err = 0;
    if (start < zero_from)
        err = os_purge(addr, zero_from - start);
    if (!err && zero_to < end)
        err = os_purge((void *)zero_to, end - zero_to);
    return err ? err : (long)(len - (zero_to - zero_from));
}

/* True when every 4 KiB page of the 2 MiB page at `huge` is resident. */
static bool wholly_resident(uintptr_t huge)
{
    unsigned char vec[HUGE_PAGE_SIZE / OS_PAGE_SIZE];
    if (os_resident((void *)huge, HUGE_PAGE_SIZE, vec) != 0)
        return false;
    for (size_t i = 0; i < sizeof vec; i++)
        if (!(vec[i] & 1))
            return false;
    return true;
}

/*
 * The part [start, end) of the free run [first, first + npages) of seg that
 * lies in one 2 MiB page without filling it. A huge page stays whole while
 * at least half of it is in use: the part is zeroed in place. Less than that,
 * and it is split: the part and the clean runs beside it in the page go back
 * (HUGE_PAGE_KEEP_USED). The bytes given back, or -errno.
 */
static long purge_edge(struct segment *seg, unsigned first, unsigned npages, uintptr_t start,
                       uintptr_t end)
{
    if (start >= end)
        return 0;
    uintptr_t huge = start & ~(uintptr_t)(HUGE_PAGE_SIZE - 1);
    NA_ASSERT(end <= huge + HUGE_PAGE_SIZE && segment_of((void *)huge) == seg);
    size_t bytes = end - start;
    if (wholly_resident(huge)) {
        unsigned lo = page_in_segment((void *)huge), hi = lo + HUGE_PAGE_SIZE / OS_PAGE_SIZE;
        unsigned free = (unsigned)(bytes >> OS_PAGE_SHIFT) +
                        page_run_free_beside(seg, first, npages, lo, hi, false);
        if (hi - lo - free >= HUGE_PAGE_KEEP_USED) {
            memset((void *)start, 0, bytes); /* resident anyway, with the rest of its page */
            return 0;
        }
        bytes += (size_t)page_run_free_beside(seg, first, npages, lo, hi, true) << OS_PAGE_SHIFT;
    }
    int err = os_purge((void *)start, end - start);
    return err ? err : (long)bytes;
}

long hugepages_purge(char *addr, size_t len)
{
    uintptr_t start = (uintptr_t)addr, end = start + len;
    uintptr_t first = (start + HUGE_PAGE_SIZE - 1) & ~(uintptr_t)(HUGE_PAGE_SIZE - 1);
    uintptr_t last = end & ~(uintptr_t)(HUGE_PAGE_SIZE - 1);
    struct segment *seg = segment_of(addr);
    unsigned run_first = page_in_segment(addr), run_pages = (unsigned)(len >> OS_PAGE_SHIFT);
    NA_ASSERT(slot_of_ptr(addr) == slot_of_ptr(addr + len - 1)); /* never across nodes */
    NA_ASSERT(segment_of(addr + len - 1) == seg);
    long whole = 0;
    if (first >= last) { /* no whole 2 MiB page: one or two partial ones */
        first = last = first < end ? first : end;
    } else {
        int err = os_purge((void *)first, last - first);
        if (err)
            return err;
        whole = (long)(last - first);
    }
    long head = purge_edge(seg, run_first, run_pages, start, first);
    if (head < 0)
        return head;
    long tail = purge_edge(seg, run_first, run_pages, last, end);
    return tail < 0 ? tail : whole + head + tail;
}

struct smaps_walk {
    uint64_t *thp, *hugetlb;
    int slot; /* of the mapping whose lines follow; -1: not in the region */
};

/* Adds the kB value of the line to per_slot[slot] when the line is `key`'s; true if it was. */
static bool smaps_field(const char *text, const char *key, const struct smaps_walk *walk,
                        uint64_t *per_slot)
{
    size_t key_len = strlen(key);
    if (strncmp(text, key, key_len) != 0)
        return false;
    const char *at = text + key_len;
    while (*at == ' ')
        at++;
    uint64_t kib;
    if (walk->slot >= 0 && parse_decimal(at, UINT64_MAX >> 10, &kib))
        per_slot[walk->slot] += kib << 10;
    return true;
}

static bool smaps_line(const char *text, void *arg)
{
    struct smaps_walk *walk = arg;
    if (smaps_field(text, "AnonHugePages:", walk, walk->thp) ||
        smaps_field(text, "Private_Hugetlb:", walk, walk->hugetlb) ||
        smaps_field(text, "Shared_Hugetlb:", walk, walk->hugetlb))
        return false;
    /* A mapping's first line: "start-end perms ..."; its fields are "Name:   value". */
    uint64_t start = 0;
    const char *c = text;
    for (; (*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f'); c++)
        start = start * 16 + (uint64_t)(*c <= '9' ? *c - '0' : *c - 'a' + 10);
    if (*c == '-' && c > text) {
        /* Outside the region: an object in a mapping of its own counts for its slot. */
        struct aligned_huge obj;
        walk->slot = region_contains((void *)start)           ? (int)slot_of_ptr((void *)start)
                     : aligned_huge_find((void *)start, &obj) ? (int)obj.slot
                                                              : -1;
    }
    return false;
}

int hugepages_per_slot(uint64_t *thp, uint64_t *hugetlb)
{
    struct smaps_walk walk = {thp, hugetlb, -1};
    return os_each_line("/proc/self/smaps", smaps_line, &walk) < 0 ? -1 : 0;
}
