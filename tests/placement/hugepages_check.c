/*
 * hugepages_check - huge pages per node, checked in the 2-node guest
 * (placement_hugepages, tests/placement/CMakeLists.txt).
 *
 *   hugepages_check thp|never
 *
 * Allocates 48 MiB on node 1, then on node 0 (numa_malloc: 64-byte blocks,
 * 256 KiB page runs and one 16 MiB huge object per node), writes every byte,
 * and for each node:
 *   - finds the mapping (smaps) that holds the node's blocks; under thp its
 *     AnonHugePages must be > 0 (under never: 0, for every mapping), and
 *     every 2 MiB page that the 64-byte blocks fill a huge page (pagemap and
 *     kpageflags: the guest runs as root);
 *   - asks move_pages about every 4 KiB page of every 2 MiB page of that
 *     mapping that the node's blocks cover: each resident one must be on the
 *     node, and every page of the huge object's whole 2 MiB pages must be
 *     resident and on the node (a huge page's 4 KiB pages report its node);
 *   - an 8 MiB object aligned to 4 MiB (numa_aligned_alloc: a mapping of its
 *     own, outside the slots), written whole: under thp its mapping's
 *     AnonHugePages must be > 0, under never 0, and every page on the node;
 *   - the statistics' thp_bytes of the node (numa_alloc_stats_write) must
 *     equal the two mappings' AnonHugePages (the slot's other mapping, the
 *     node heap's own segment, is not advised; under never nothing is, and
 *     MADV_NOHUGEPAGE holds even with the guest kernel's THP set to always,
 *     as the never run has it: tests/placement/CMakeLists.txt).
 * Prints the kernel's THP setting first. Exit status 0 when all hold.
 */
#define _GNU_SOURCE
#include <numa_alloc.h>
#include <fcntl.h>
#include <numaif.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../test_util.h"

#define HUGE ((uintptr_t)2 << 20)
#define MiB  ((size_t)1 << 20)

static int failures;

#define EXPECT(cond, ...)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            printf("FAIL: " __VA_ARGS__);                                                          \
            printf("\n");                                                                          \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

struct mapping {
    uintptr_t start, end;
    long long anon_huge; /* bytes */
};

/* The smaps mapping that holds addr; anon_huge -1 when none. */
static struct mapping mapping_of(uintptr_t addr)
{
    struct mapping m = {0, 0, -1}, cur = {0, 0, -1};
    FILE *f = fopen("/proc/self/smaps", "r");
    char line[512];
    bool inside = false;
    while (f && fgets(line, sizeof line, f)) {
        unsigned long long a, b;
        if (sscanf(line, "%llx-%llx ", &a, &b) == 2 && strchr(line, '-') < strchr(line, ' ')) {
            inside = addr >= a && addr < b;
            cur = (struct mapping){a, b, -1};
        } else if (inside && strncmp(line, "AnonHugePages:", 14) == 0) {
            cur.anon_huge = strtoll(line + 14, NULL, 10) * 1024;
            m = cur;
        }
    }
    if (f)
        fclose(f);
    return m;
}

/* move_pages on every 4 KiB page of [start, end): how many on `node`, elsewhere, absent. */
struct census {
    long on_node, elsewhere, absent;
};

static int census_of(uintptr_t start, uintptr_t end, int node, struct census *c)
{
    enum { BATCH = 512 };
    *c = (struct census){0, 0, 0};
    for (uintptr_t at = start; at < end; at += BATCH * 4096) {
        void *pages[BATCH];
        int status[BATCH];
        unsigned long count = 0;
        for (; count < BATCH && at + count * 4096 < end; count++)
            pages[count] = (void *)(at + count * 4096);
        if (move_pages(0, count, pages, NULL, status, 0) != 0)
            return -1;
        for (unsigned long i = 0; i < count; i++) {
            if (status[i] < 0)
                c->absent++;
            else if (status[i] == node)
                c->on_node++;
            else
                c->elsewhere++;
        }
    }
    return 0;
}

/*
 * Of the 2 MiB pages wholly inside [start, end): how many (*total), and how
 * many the kernel backs with a transparent huge page (*huge: /proc/kpageflags'
 * THP bit of each 4 KiB page's frame, all 512 set). -1 when the kernel will
 * not say (no frame numbers without CAP_SYS_ADMIN).
 */
static int thp_backed(uintptr_t start, uintptr_t end, long *huge, long *total)
{
    enum { KPF_THP = 22 };
    int pagemap = open("/proc/self/pagemap", O_RDONLY), flags = open("/proc/kpageflags", O_RDONLY);
    int err = pagemap < 0 || flags < 0 ? -1 : 0;
    *huge = *total = 0;
    for (uintptr_t page = (start + HUGE - 1) & ~(HUGE - 1); !err && page + HUGE <= end;
         page += HUGE) {
        static uint64_t entries[HUGE / 4096];
        long backed = 0;
        if (pread(pagemap, entries, sizeof entries, (off_t)(page / 4096 * 8)) != sizeof entries)
            err = -1;
        for (size_t i = 0; !err && i < HUGE / 4096; i++) {
            uint64_t pfn = entries[i] & ((1ull << 55) - 1), kflags = 0;
            if (!(entries[i] >> 63))
                continue; /* not present */
            if (pfn == 0 || pread(flags, &kflags, 8, (off_t)(pfn * 8)) != 8)
                err = -1;
            backed += kflags >> KPF_THP & 1;
        }
        (*total)++;
        *huge += backed == HUGE / 4096;
    }
    if (pagemap >= 0)
        close(pagemap);
    if (flags >= 0)
        close(flags);
    return err;
}

struct node_blocks {
    uintptr_t lo, hi;             /* the blocks' extent */
    uintptr_t small_lo, small_hi; /* the 64-byte blocks', all written */
    uintptr_t huge, size;         /* the huge object, written whole */
    uintptr_t own;                /* the 8 MiB object in a mapping of its own, written whole */
};

#define OWN_SIZE (8 * MiB)

static void note(struct node_blocks *b, void *p, size_t size)
{
    if (!p) {
        printf("FAIL: numa_malloc(%zu) on a node returned NULL\n", size);
        exit(1);
    }
    uintptr_t a = (uintptr_t)p;
    if (!b->lo || a < b->lo)
        b->lo = a;
    if (a + size > b->hi)
        b->hi = a + size;
}

static struct node_blocks allocate(int node)
{
    struct node_blocks b = {0, 0, 0, 0, 0, 0, 0};
    for (size_t i = 0; i < 16 * MiB / 64; i++) {
        char *p = numa_malloc(node, 64);
        note(&b, p, 64);
        memset(p, 1, 64);
    }
    b.small_lo = b.lo;
    b.small_hi = b.hi;
    for (size_t i = 0; i < 64; i++) {
        char *p = numa_malloc(node, 256 << 10);
        note(&b, p, 256 << 10);
        memset(p, 2, 256 << 10);
    }
    char *p = numa_malloc(node, 16 * MiB);
    note(&b, p, 16 * MiB);
    memset(p, 3, 16 * MiB);
    b.huge = (uintptr_t)p;
    b.size = 16 * MiB;
    char *own = numa_aligned_alloc(node, 4 * MiB, OWN_SIZE);
    if (!own) {
        printf("FAIL: numa_aligned_alloc(%d, 4 MiB, 8 MiB) returned NULL\n", node);
        exit(1);
    }
    memset(own, 4, OWN_SIZE);
    b.own = (uintptr_t)own;
    return b;
}

int main(int argc, char **argv)
{
    if (argc != 2 || (strcmp(argv[1], "thp") && strcmp(argv[1], "never"))) {
        fprintf(stderr, "usage: hugepages_check thp|never\n");
        return 2;
    }
    bool thp = strcmp(argv[1], "thp") == 0;
    char setting[128] = "?";
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    if (f && !fgets(setting, sizeof setting, f))
        strcpy(setting, "?\n");
    if (f)
        fclose(f);
    printf("transparent_hugepage/enabled: %s", setting);
    const char *env = getenv("NUMA_ALLOC_HUGEPAGES");
    EXPECT(env && strcmp(env, argv[1]) == 0, "NUMA_ALLOC_HUGEPAGES=%s, want %s", env ? env : "",
           argv[1]);
    const int order[] = {1, 0};
    struct node_blocks blocks[2];
    for (int i = 0; i < 2; i++)
        blocks[order[i]] = allocate(order[i]);
    for (int node = 0; node < 2; node++) {
        struct node_blocks *b = &blocks[node];
        EXPECT(numa_ptr_node((void *)b->lo) == node, "node %d: a block of node %d", node,
               numa_ptr_node((void *)b->lo));
        struct mapping m = mapping_of(b->hi - 1);
        printf("node %d: blocks %#lx-%#lx, mapping %#lx-%#lx, AnonHugePages %lld kB\n", node,
               (unsigned long)b->lo, (unsigned long)b->hi, (unsigned long)m.start,
               (unsigned long)m.end, m.anon_huge / 1024);
        if (thp)
            EXPECT(m.anon_huge > 0, "node %d: no huge page in its mapping", node);
        else
            EXPECT(m.anon_huge == 0, "node %d: %lld bytes in huge pages", node, m.anon_huge);
        /* Every 4 KiB page of the 2 MiB pages the blocks cover: the resident ones on the node. */
        uintptr_t start = b->lo & ~(HUGE - 1), end = (b->hi + HUGE - 1) & ~(HUGE - 1);
        start = start < m.start ? m.start : start;
        end = end > m.end ? m.end : end;
        struct census all, whole;
        EXPECT(census_of(start, end, node, &all) == 0, "node %d: move_pages refused", node);
        printf("node %d: %ld pages on the node, %ld elsewhere, %ld absent\n", node, all.on_node,
               all.elsewhere, all.absent);
        EXPECT(all.elsewhere == 0 && all.on_node > 0, "node %d: %ld pages elsewhere", node,
               all.elsewhere);
        /* The huge object's whole 2 MiB pages: every 4 KiB page there, on the node. */
        uintptr_t hs = (b->huge + HUGE - 1) & ~(HUGE - 1), he = (b->huge + b->size) & ~(HUGE - 1);
        EXPECT(census_of(hs, he, node, &whole) == 0, "node %d: move_pages refused", node);
        EXPECT(whole.on_node == (long)((he - hs) / 4096) && whole.on_node > 0,
               "node %d: huge object: %ld of %lu pages on the node (%ld elsewhere, %ld absent)",
               node, whole.on_node, (unsigned long)((he - hs) / 4096), whole.elsewhere,
               whole.absent);
        /* The 2 MiB pages the 64-byte blocks fill: each one a huge page (the first of every
         * segment was not: a read of the fresh segment's header mapped the huge zero page, and
         * the header's first write split it into 4 KiB pages). */
        long backed, pages;
        if (thp) {
            EXPECT(thp_backed(b->small_lo, b->small_hi, &backed, &pages) == 0,
                   "node %d: pagemap or kpageflags refused", node);
            printf("node %d: %ld of the %ld 2 MiB pages the 64-byte blocks fill are huge pages\n",
                   node, backed, pages);
            EXPECT(pages > 0 && backed == pages, "node %d: %ld of %ld 2 MiB pages are huge pages",
                   node, backed, pages);
        }
        /* The object in a mapping of its own: advised as the mode says, on the node. */
        struct mapping own = mapping_of(b->own);
        struct census own_pages;
        EXPECT(census_of(b->own, b->own + OWN_SIZE, node, &own_pages) == 0,
               "node %d: move_pages refused", node);
        printf("node %d: own mapping %#lx-%#lx, AnonHugePages %lld kB, %ld pages on the node, %ld "
               "elsewhere, %ld absent\n",
               node, (unsigned long)own.start, (unsigned long)own.end, own.anon_huge / 1024,
               own_pages.on_node, own_pages.elsewhere, own_pages.absent);
        EXPECT(own.start <= b->own && own.end >= b->own + OWN_SIZE &&
                   (own.end <= m.start || own.start >= m.end),
               "node %d: the aligned object is not in a mapping of its own", node);
        if (thp)
            EXPECT(own.anon_huge > 0, "node %d: no huge page in its own mapping", node);
        else
            EXPECT(own.anon_huge == 0, "node %d: %lld bytes of its own mapping in huge pages", node,
                   own.anon_huge);
        EXPECT(own_pages.on_node == (long)(OWN_SIZE / 4096),
               "node %d: own mapping: %ld of %zu pages on the node", node, own_pages.on_node,
               OWN_SIZE / 4096);
        long long stats = test_stats_node_field(node, "thp_bytes");
        printf("node %d: statistics thp_bytes %lld\n", node, stats);
        EXPECT(stats == m.anon_huge + own.anon_huge,
               "node %d: statistics say %lld bytes, smaps %lld + %lld", node, stats, m.anon_huge,
               own.anon_huge);
    }
    printf("%s\n", failures ? "FAILED" : "OK");
    return failures ? 1 : 0;
}
