/* hugepages.c - transparent huge pages for the node heaps; see hugepages.h. */
#define _GNU_SOURCE
#include "core/hugepages.h"

#include "base/debug.h"
#include "base/os.h"
#include "base/parse.h"
#include "policy/options.h"

#include <string.h>
#include <sys/mman.h>

size_t na_thp_from = SIZE_MAX;

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

void hugepages_restore(void *addr, size_t len)
{
    uintptr_t start = (uintptr_t)addr, end = start + len;
    uintptr_t from = (start & ~(((uintptr_t)1 << na_region.slot_shift) - 1)) + na_thp_from;
    if (na_thp_from == SIZE_MAX || end <= from)
        return;
    if (start < from)
        start = from;
    (void)os_advise((void *)start, end - start, MADV_HUGEPAGE);
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

/* The part [start, end) of a run inside one 2 MiB page that the run does not fill. */
static int purge_edge(uintptr_t start, uintptr_t end)
{
    if (start >= end)
        return 0;
    uintptr_t huge = start & ~(uintptr_t)(HUGE_PAGE_SIZE - 1);
    NA_ASSERT(end <= huge + HUGE_PAGE_SIZE);
    if (!wholly_resident(huge))
        return os_purge((void *)start, end - start);
    memset((void *)start, 0, end - start); /* resident anyway, with the rest of its page */
    return 0;
}

long hugepages_purge(char *addr, size_t len)
{
    uintptr_t start = (uintptr_t)addr, end = start + len;
    uintptr_t first = (start + HUGE_PAGE_SIZE - 1) & ~(uintptr_t)(HUGE_PAGE_SIZE - 1);
    uintptr_t last = end & ~(uintptr_t)(HUGE_PAGE_SIZE - 1);
    NA_ASSERT(slot_of_ptr(addr) == slot_of_ptr(addr + len - 1)); /* never across nodes */
    if (first >= last) { /* no whole 2 MiB page: one or two partial ones */
        uintptr_t split = first < end ? first : end;
        int err = purge_edge(start, split);
        return err ? err : purge_edge(split, end);
    }
    int err = os_purge((void *)first, last - first);
    if (!err)
        err = purge_edge(start, first);
    if (!err)
        err = purge_edge(last, end);
    return err ? err : (long)(last - first);
}

struct smaps_walk {
    uint64_t *per_slot;
    int slot; /* of the mapping whose lines follow; -1: not in the region */
};

static bool smaps_line(const char *text, void *arg)
{
    struct smaps_walk *walk = arg;
    static const char key[] = "AnonHugePages:";
    if (strncmp(text, key, sizeof key - 1) == 0) {
        const char *at = text + sizeof key - 1;
        while (*at == ' ')
            at++;
        uint64_t kib;
        if (walk->slot >= 0 && parse_decimal(at, UINT64_MAX >> 10, &kib))
            walk->per_slot[walk->slot] += kib << 10;
        return false;
    }
    /* A mapping's first line: "start-end perms ..."; its fields are "Name:   value". */
    uint64_t start = 0;
    const char *c = text;
    for (; (*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f'); c++)
        start = start * 16 + (uint64_t)(*c <= '9' ? *c - '0' : *c - 'a' + 10);
    if (*c == '-' && c > text)
        walk->slot = region_contains((void *)start) ? (int)slot_of_ptr((void *)start) : -1;
    return false;
}

int hugepages_per_slot(uint64_t *per_slot)
{
    struct smaps_walk walk = {per_slot, -1};
    return os_each_line("/proc/self/smaps", smaps_line, &walk) < 0 ? -1 : 0;
}
