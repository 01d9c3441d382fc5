/*
 * test_calloc.c - calloc returns zeroed memory even when it reuses blocks
 * that were dirtied and freed (small, large and huge sizes), and rejects
 * count * size overflow with NULL / ENOMEM.
 */
#include "test_util.h"

#include <criterion/criterion.h>
#include <malloc.h>
#include <stdint.h>

#include "numa_alloc.h"

#define BATCH 32

/*
 * Round after round: malloc BATCH blocks of `size`, fill their whole usable
 * size with 0xAA, free them, then calloc BATCH blocks of the same size
 * (which reuse that memory) and check every usable byte is zero.
 */
static void dirty_then_calloc(size_t size, int rounds, size_t batch)
{
    void *blk[BATCH];
    cr_assert_leq(batch, BATCH);
    for (int r = 0; r < rounds; r++) {
        for (size_t i = 0; i < batch; i++) {
            blk[i] = test_launder(malloc(size));
            cr_assert_not_null(blk[i], "malloc(%zu) returned NULL", size);
            memset(blk[i], 0xAA, malloc_usable_size(blk[i]));
        }
        for (size_t i = 0; i < batch; i++)
            free(blk[i]);
        for (size_t i = 0; i < batch; i++) {
            /* Alternate the factorisation of the byte count. */
            void *p = (i % 2) ? calloc(1, size) : calloc(size, 1);
            blk[i] = test_launder(p);
            cr_assert_not_null(blk[i], "calloc(%zu) returned NULL", size);
            /* The requested bytes must be zero; the rest of the usable
             * size may be read by the caller too (it is its memory). */
            long bad = test_bytes_check(blk[i], size, 0);
            cr_assert_eq(bad, -1,
                         "round %d: calloc(%zu) block #%zu (%p) has a non-zero byte at "
                         "offset %ld",
                         r, size, i, blk[i], bad);
            /* Dirty it for the next round. */
            memset(blk[i], 0xAA, malloc_usable_size(blk[i]));
        }
        for (size_t i = 0; i < batch; i++)
            free(blk[i]);
    }
}

Test(calloc, small_sizes_zeroed, .timeout = 60.)
{
    size_t classes[128];
    size_t n = test_small_classes(classes, 128);
    for (size_t i = 0; i < n; i++) {
        dirty_then_calloc(classes[i], 8, BATCH);
        dirty_then_calloc(classes[i] - (classes[i] > 8 ? 3 : 1), 4, BATCH);
    }
}

Test(calloc, large_sizes_zeroed, .timeout = 60.)
{
    static const size_t sizes[] = {32769, 40000, 65536, 100000, 262144, 1000000, 2 * MiB};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        dirty_then_calloc(sizes[i], 6, 16);
}

Test(calloc, huge_sizes_zeroed, .timeout = 60.)
{
    static const size_t sizes[] = {2 * MiB + 1, 3 * MiB, 5 * MiB + 4097, 16 * MiB};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        dirty_then_calloc(sizes[i], 6, 4);
}

Test(calloc, numa_calloc_zeroed, .timeout = 60.)
{
    static unsigned char usable[TEST_MAX_NODES];
    cr_assert_gt(test_usable_nodes(usable), 0);
    static const size_t sizes[] = {16, 1000, 32768, 100000, 3 * MiB};
    for (int node = 0; node < TEST_MAX_NODES; node++) {
        if (!usable[node])
            continue;
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            for (int r = 0; r < 8; r++) {
                void *d = test_launder(numa_malloc(node, sizes[s]));
                cr_assert_not_null(d);
                memset(d, 0xAA, malloc_usable_size(d));
                free(d);
                void *z = test_launder(numa_calloc(node, sizes[s], 1));
                cr_assert_not_null(z, "numa_calloc(%d, %zu, 1) returned NULL", node, sizes[s]);
                cr_assert_eq(numa_ptr_node(z), node);
                long bad = test_bytes_check(z, sizes[s], 0);
                cr_assert_eq(bad, -1, "numa_calloc(%d, %zu, 1): non-zero byte at offset %ld", node,
                             sizes[s], bad);
                free(z);
            }
        }
    }
}

Test(calloc, overflow_enomem)
{
    static const size_t cases[][2] = {
        {SIZE_MAX / 2, 3},
        {3, SIZE_MAX / 2},
        {SIZE_MAX, SIZE_MAX},
        {(SIZE_MAX >> 16) + 2, (size_t)1 << 16},
        {(size_t)1 << 32, (size_t)1 << 32},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        errno = 0;
        void *p = calloc(cases[i][0], cases[i][1]);
        cr_assert_null(p, "calloc(%zu, %zu) = %p, expected NULL", cases[i][0], cases[i][1], p);
        cr_assert_eq(errno, ENOMEM, "calloc(%zu, %zu): errno %d, expected ENOMEM", cases[i][0],
                     cases[i][1], errno);
    }
    /* The allocator still works afterwards. */
    void *p = test_launder(calloc(4, 4));
    cr_assert_not_null(p);
    cr_assert_eq(test_bytes_check(p, 16, 0), -1);
    free(p);
}

/* MemFree of `node` from sysfs, in bytes (0 if unreadable). */
static size_t node_free_bytes(int node)
{
    char path[96], line[256];
    snprintf(path, sizeof path, "/sys/devices/system/node/node%d/meminfo", node);
    FILE *f = fopen(path, "r");
    size_t kib = 0;
    while (f && fgets(line, sizeof line, f)) {
        const char *at = strstr(line, "MemFree:");
        if (at) {
            kib = strtoull(at + strlen("MemFree:"), NULL, 10);
            break;
        }
    }
    if (f)
        fclose(f);
    return kib * KiB;
}

/*
 * Issue 10, finding 8: on a machine with one usable node, an untouched calloc
 * larger than the node's free memory is what glibc grants (overcommit) and
 * keeps sparse. The tight-node check once populated all of it (an OOM kill),
 * then refused it; with no other node a page could go to, it checks nothing.
 */
Test(calloc, sparse_beyond_free_memory_on_one_node, .timeout = 60.)
{
    unsigned char usable[TEST_MAX_NODES];
    if (test_usable_nodes(usable) != 1)
        cr_skip_test("needs exactly one usable node (multi-node: the guest's placement checks)");
    int node = test_first_usable_node();
    size_t free_bytes = node_free_bytes(node);
    cr_assert_gt(free_bytes, 0, "MemFree of node %d unreadable", node);
    /* Between the node's free and total memory: what heuristic overcommit grants. */
    size_t total = (size_t)sysconf(_SC_PHYS_PAGES) * (size_t)sysconf(_SC_PAGESIZE);
    if (total < free_bytes + 64 * MiB)
        cr_skip_test("node %d: %zu of %zu bytes free, no room above free memory", node, free_bytes,
                     total);
    size_t above = (total - free_bytes) / 2 < 256 * MiB ? (total - free_bytes) / 2 : 256 * MiB;
    size_t size = free_bytes + above;
    size_t rss_before = test_rss_bytes();
    unsigned char *p = test_launder(calloc(size, 1));
    cr_assert_not_null(p, "calloc(%zu) with %zu bytes free on the only node: NULL, errno %d", size,
                       free_bytes, errno);
    cr_assert_eq(p[0], 0);
    cr_assert_eq(p[size - 1], 0);
    p[0] = 1;
    p[size - 1] = 1;
    size_t grown = test_rss_bytes() - rss_before;
    cr_assert_lt(grown, 64 * MiB, "an untouched calloc of %zu bytes made %zu bytes resident", size,
                 grown);
    free(p);
}

/*
 * A huge calloc served from a dirty run of freed segments that is mostly not
 * resident (a huge block written at one byte a MiB, then freed: not purged
 * yet): its resident pages must read zero, and the others must stay absent,
 * as in a fresh mapping. memset made all 48 MiB resident; the fuzzer's
 * address-space probes so reached 1 GB and more (docs/benchmarks.md, round
 * thirteen).
 */
Test(calloc, huge_calloc_over_a_sparse_dirty_run_stays_sparse, .timeout = 60.)
{
    const size_t size = 48 * MiB; /* under the dirty limit (64 MiB): kept dirty for the delay */
    /* A block past the young heap's largest spends its budget: frees wait the delay now. */
    free(test_launder(malloc(4 * MiB)));
    size_t rss_before = test_rss_bytes();
    unsigned char *dirty = test_launder(malloc(size));
    cr_assert_not_null(dirty);
    test_assert_ours(dirty);
    for (size_t off = 0; off < size; off += MiB)
        dirty[off] = 0xAA;
    dirty[size - 1] = 0xAA;
    free(dirty);
    unsigned char *p = test_launder(calloc(1, size));
    cr_assert_not_null(p);
    for (size_t off = 0; off < size; off += MiB / 2)
        cr_assert_eq(p[off], 0, "calloc'd byte %zu is %#x", off, p[off]);
    cr_assert_eq(p[size - 1], 0);
    size_t rss = test_rss_bytes();
    cr_assert_lt(rss, rss_before + 8 * MiB,
                 "a calloc of %zu MiB over freed memory, 49 pages of it resident: RSS %zu MiB "
                 "before that memory was, %zu MiB now",
                 size / MiB, rss_before / MiB, rss / MiB);
    free(p);
}

/*
 * A huge calloc larger than the dirty free run at the heap's frontier grows
 * that run into fresh space (core/segment.c, segment_run_alloc): the run's old
 * bytes must read zero, the fresh part too, and only the old part is zeroed
 * (the fresh part stays untouched).
 */
Test(calloc, huge_calloc_grown_from_a_dirty_run_is_zero, .timeout = 60.)
{
    const size_t old = 24 * MiB, grown = 40 * MiB; /* under the dirty limit (64 MiB) */
    free(test_launder(malloc(4 * MiB))); /* spends the young budget: frees wait the delay */
    unsigned char *p = test_launder(malloc(old));
    cr_assert_not_null(p);
    memset(p, 0xAA, old);
    uintptr_t freed = (uintptr_t)p;
    free(p);
    size_t rss_before = test_rss_bytes();
    unsigned char *q = test_launder(calloc(1, grown));
    cr_assert_not_null(q);
    size_t rss = test_rss_bytes();
    cr_assert_eq((uintptr_t)q, freed,
                 "the calloc is at %p, not at the freed run %#lx: nothing tested", (void *)q,
                 (unsigned long)freed);
    cr_assert_lt(rss, rss_before + 4 * MiB,
                 "the calloc made %zu MiB resident: it touched the fresh part",
                 (rss - rss_before) / MiB);
    cr_assert_eq(test_bytes_check(q, grown, 0), -1,
                 "the calloc grown from a written run is not zero");
    free(q);
}
