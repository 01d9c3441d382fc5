/*
 * test_cross_thread_reuse.c - what becomes of blocks freed by a thread of
 * another shard (remote frees, struct class_slabs in core/node_heap.h).
 *
 * They are handed back to the allocating shard and are the next blocks its
 * refills give out, before any block of its slabs, even lower ones: reused
 * while their cache lines may still be warm, and without the round trip
 * through the slab's bitmap. (Before, they went back to the bitmap, and the
 * refill took the slab's lowest free blocks first.)
 */
#include "test_util.h"

#include <criterion/criterion.h>
#include <malloc.h>
#include <pthread.h>

#include "numa_alloc.h"

#define HALF 128 /* blocks freed by each side: two refills' worth at most */

static void *blocks[2 * HALF];

static void *free_upper_half(void *unused)
{
    (void)unused;
    for (size_t i = HALF; i < 2 * HALF; i++)
        free(blocks[i]);
    return NULL;
}

static int was_upper(const void *p)
{
    for (size_t i = HALF; i < 2 * HALF; i++)
        if (blocks[i] == p)
            return 1;
    return 0;
}

Test(cross_thread_reuse, blocks_another_thread_freed_are_the_next_ones_handed_out)
{
    /* Fresh blocks of one 64-byte slab of this thread's shard, lowest first. */
    malloc_trim(0);
    for (size_t i = 0; i < 2 * HALF; i++) {
        cr_assert_not_null(blocks[i] = malloc(64));
        test_assert_ours(blocks[i]);
    }
    /* The lower half back to the slab, by this thread: free blocks below the others. */
    for (size_t i = 0; i < HALF; i++)
        free(blocks[i]);
    malloc_trim(0); /* the bins are empty now */
    pthread_t thread;
    cr_assert_eq(pthread_create(&thread, NULL, free_upper_half, NULL), 0);
    cr_assert_eq(pthread_join(thread, NULL), 0);
    size_t upper = 0;
    void *again[HALF];
    for (size_t i = 0; i < HALF; i++) {
        cr_assert_not_null(again[i] = malloc(64));
        upper += (size_t)was_upper(again[i]);
    }
    cr_expect_eq(upper, HALF,
                 "%zu of the next %d blocks are the ones the other thread freed, expected all",
                 upper, HALF);
    for (size_t i = 0; i < HALF; i++)
        free(again[i]);
}

/*
 * A shard whose threads have all exited has no refill to take blocks handed
 * back to it: they must go back into their slabs, or each would pin its
 * slab. The blocks are freed in strides, so that the last ones freed lie
 * in every slab; once all are free, the heap's active memory is back near
 * where it was (a spare slab and a little more), not the 2 MiB they took.
 */
#define ORPHANS (32 * 1024) /* 64-byte blocks: 2 MiB, 32 slabs */
#define STRIDE  16

static void *orphans[ORPHANS];

static void *allocate_orphans(void *unused)
{
    (void)unused;
    for (size_t i = 0; i < ORPHANS; i++)
        orphans[i] = malloc(64);
    return NULL; /* and exits: its shard has no live thread left */
}

static uint64_t active_bytes(void)
{
    uint64_t value = 0;
    cr_assert_eq(numa_alloc_counter("total.active_bytes", &value), 0);
    return value;
}

Test(cross_thread_reuse, blocks_freed_for_a_shard_without_threads_do_not_pin_their_slabs)
{
    malloc_trim(0);
    uint64_t before = active_bytes();
    pthread_t thread;
    cr_assert_eq(pthread_create(&thread, NULL, allocate_orphans, NULL), 0);
    cr_assert_eq(pthread_join(thread, NULL), 0);
    for (size_t i = 0; i < ORPHANS; i++)
        cr_assert_not_null(orphans[i]);
    uint64_t full = active_bytes();
    cr_assert_geq(full, before + ORPHANS * 64, "active %llu before, %llu with the blocks",
                  (unsigned long long)before, (unsigned long long)full);
    for (size_t k = 0; k < STRIDE; k++)
        for (size_t i = k; i < ORPHANS; i += STRIDE)
            free(orphans[i]);
    uint64_t after = active_bytes();
    cr_expect_leq(after, before + 256 * KiB,
                  "active %llu before, %llu with the blocks, %llu after they were freed",
                  (unsigned long long)before, (unsigned long long)full, (unsigned long long)after);
}
