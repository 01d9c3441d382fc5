/*
 * test_class_blocks.c - alignment and usable size of every size class.
 *
 * For each small class (and a few large and huge sizes), many blocks are
 * allocated side by side; each must be 16-byte aligned (like glibc's; there is no 8-byte
 * class), and its whole usable size must be writable without touching any
 * neighbour: every block is filled with its own pattern over its full usable
 * size, then every other block is memset over its full usable size, and all
 * blocks are checked. Every block must be numa-alloc's (numa_ptr_node), so
 * that the test cannot pass on another malloc.
 */
#include "test_util.h"

#include <criterion/criterion.h>
#include <malloc.h>
#include <stdint.h>

#include "numa_alloc.h"

#define BLOCKS 96

static void check_blocks_of_size(size_t size, size_t nblocks)
{
    void *blk[BLOCKS];
    size_t use[BLOCKS];
    size_t align = 16;
    cr_assert_leq(nblocks, BLOCKS);

    for (size_t i = 0; i < nblocks; i++) {
        blk[i] = test_launder(malloc(size));
        cr_assert_not_null(blk[i], "malloc(%zu) #%zu returned NULL", size, i);
        test_assert_ours(blk[i]);
        cr_assert_eq((uintptr_t)blk[i] % align, 0, "malloc(%zu) = %p is not %zu-byte aligned", size,
                     blk[i], align);
        use[i] = malloc_usable_size(blk[i]);
        cr_assert_geq(use[i], size, "malloc(%zu): usable size %zu", size, use[i]);
        test_pattern_fill(blk[i], use[i], test_pattern_seed(size, i, use[i]));
    }
    /* Every block still holds its own pattern: no two blocks overlap and
     * no block's usable size reaches into another. */
    for (size_t i = 0; i < nblocks; i++) {
        long bad = test_pattern_check(blk[i], use[i], test_pattern_seed(size, i, use[i]));
        cr_assert_eq(bad, -1, "size %zu: block #%zu (%p, usable %zu) corrupted at offset %ld", size,
                     i, blk[i], use[i], bad);
    }
    /* memset the full usable size of every other block. */
    for (size_t i = 0; i < nblocks; i += 2)
        memset(blk[i], 0xC5, use[i]);
    for (size_t i = 0; i < nblocks; i++) {
        long bad = (i % 2 == 0)
                       ? test_bytes_check(blk[i], use[i], 0xC5)
                       : test_pattern_check(blk[i], use[i], test_pattern_seed(size, i, use[i]));
        cr_assert_eq(bad, -1,
                     "size %zu: after memset of the even blocks, block #%zu (%p, usable %zu) "
                     "differs at offset %ld",
                     size, i, blk[i], use[i], bad);
    }
    /* Free in an interleaved order and reallocate: the recycled blocks
     * must be as good as the fresh ones. */
    for (size_t i = 1; i < nblocks; i += 2)
        free(blk[i]);
    for (size_t i = 1; i < nblocks; i += 2) {
        blk[i] = test_launder(malloc(size));
        cr_assert_not_null(blk[i]);
        test_assert_ours(blk[i]);
        cr_assert_eq((uintptr_t)blk[i] % align, 0, "recycled malloc(%zu) = %p not aligned", size,
                     blk[i]);
        use[i] = malloc_usable_size(blk[i]);
        cr_assert_geq(use[i], size);
        memset(blk[i], 0x3A, use[i]);
    }
    for (size_t i = 0; i < nblocks; i++) {
        long bad = test_bytes_check(blk[i], use[i], (i % 2 == 0) ? 0xC5 : 0x3A);
        cr_assert_eq(bad, -1, "size %zu: block #%zu (%p) corrupted at offset %ld after reuse", size,
                     i, blk[i], bad);
    }
    for (size_t i = 0; i < nblocks; i++)
        free(blk[i]);
}

Test(class_blocks, every_small_class, .timeout = 60.)
{
    size_t classes[128];
    size_t n = test_small_classes(classes, 128);
    for (size_t i = 0; i < n; i++) {
        /* The class size itself and the smallest request of the class. */
        size_t lo = i == 0 ? 1 : classes[i - 1] + 1;
        check_blocks_of_size(classes[i], BLOCKS);
        check_blocks_of_size(lo, BLOCKS / 2);
    }
}

Test(class_blocks, large_and_huge_sizes, .timeout = 60.)
{
    static const size_t sizes[] = {32769,       40000,          65536,      100000,
                                   262144,      262144 + 4096,  1048576,    2 * MiB,
                                   2 * MiB + 1, 3 * MiB + 1234, 8 * MiB - 1};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        check_blocks_of_size(sizes[i], sizes[i] > MiB ? 8 : 24);
}

/* n blocks of `size`, each numa-alloc's. */
static void malloc_ours(char **blk, size_t n, size_t size)
{
    for (size_t i = 0; i < n; i++) {
        cr_assert_not_null(blk[i] = malloc(size));
        test_assert_ours(blk[i]);
    }
}

/*
 * Blocks freed in random order come back lowest address first: a program
 * that frees a structure and builds the next one gets it laid out in
 * allocation order again (walks stream), not in the order it freed. One
 * block per 64 stays live so that no slab empties (an empty slab would be
 * carved afresh anyway); malloc_trim flushes this thread's cache to the heap.
 */
#define REUSE_BLOCKS 8192

Test(class_blocks, freed_blocks_are_reused_in_address_order, .timeout = 60.)
{
    static char *blk[REUSE_BLOCKS], *again[REUSE_BLOCKS];
    malloc_ours(blk, REUSE_BLOCKS, 48);
    uint64_t rng = 88172645463325252ull;
    for (size_t i = REUSE_BLOCKS - 1; i > 0; i--) { /* shuffle */
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        size_t j = (size_t)(rng % (i + 1));
        char *t = blk[i];
        blk[i] = blk[j];
        blk[j] = t;
    }
    size_t kept = 0;
    for (size_t i = 0; i < REUSE_BLOCKS; i++) {
        if (i % 64 == 0)
            blk[kept++] = blk[i];
        else
            free(blk[i]);
    }
    malloc_trim(0);
    size_t n = REUSE_BLOCKS - kept, next_is_adjacent = 0;
    for (size_t i = 0; i < n; i++) {
        cr_assert_not_null(again[i] = malloc(48));
        test_assert_ours(again[i]);
        if (i > 0 && again[i] > again[i - 1] && again[i] - again[i - 1] <= 2 * 48)
            next_is_adjacent++;
    }
    cr_expect_geq(next_is_adjacent * 10, (n - 1) * 9,
                  "only %zu of %zu consecutive allocations are the next block up", next_is_adjacent,
                  n - 1);
    for (size_t i = 0; i < n; i++)
        free(again[i]);
    for (size_t i = 0; i < kept; i++)
        free(blk[i]);
}

/*
 * A block freed into a full slab puts that slab back on its class's partial
 * list, through the flush of a thread cache (malloc_trim here): the next
 * refills hand the block out again, before any new slab's. The blocks
 * allocated first lie in slabs that later allocations left full.
 */
#define FULL_BLOCKS 8192

Test(class_blocks, a_block_freed_into_a_full_slab_is_handed_out_again, .timeout = 60.)
{
    static char *blk[FULL_BLOCKS], *again[FULL_BLOCKS];
    malloc_ours(blk, FULL_BLOCKS, 48);
    char *freed = blk[100];
    free(freed);
    malloc_trim(0);
    size_t n = 0, found = FULL_BLOCKS;
    while (n < FULL_BLOCKS && found == FULL_BLOCKS) {
        cr_assert_not_null(again[n] = test_launder(malloc(48)));
        if (again[n] == freed)
            found = n;
        n++;
    }
    cr_expect_lt(found, 256, "the block freed into a full slab came back after %zu mallocs", found);
    if (found == FULL_BLOCKS)
        blk[100] = NULL; /* freed already */
    for (size_t i = 0; i < n; i++)
        if (again[i] != freed)
            free(again[i]);
    for (size_t i = 0; i < FULL_BLOCKS; i++)
        free(blk[i]);
}
