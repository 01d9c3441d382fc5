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

/*
 * Blocks that outlive their thread: the thread exits, another (here the
 * test's) frees the blocks. Their shard has no live thread, so they go
 * straight back into their slab, with what the freeing thread's away list
 * held of that shard (the first block, freed while the thread lived),
 * where the shard's next thread (the same shard: least_used_shard) finds
 * them first, lowest address first. Before, they waited in the freeing
 * thread's away list until that list filled (half a bin's bound) or took a
 * block of another shard: the next threads carved around them, and each
 * raised what the shard's slabs keep resident (numa_bench short-threads: 4
 * blocks a thread outlive it).
 */
#define OUTLIVED 10 /* fewer than an away list holds (half of 34 for 960 B) */
/*
 * A class no other test of this process uses (a fresh slab), and below
 * KEEP_ANY_SHARD_MIN (core/thread_cache.h): a bigger block freed by this
 * thread while its own thread lives stays in this thread's bin once this
 * thread has allocated its class, and does not go back to its slab. With
 * 1400 B it did: the test process's main thread had allocated that class
 * before the test began.
 */
#define OUTLIVED_SIZE 960

static void *outlived[OUTLIVED], *next_ones[OUTLIVED];
static pthread_barrier_t allocated, first_freed;

static void *allocate_outlived(void *unused)
{
    (void)unused;
    for (size_t i = 0; i < OUTLIVED; i++)
        outlived[i] = malloc(OUTLIVED_SIZE);
    pthread_barrier_wait(&allocated);
    pthread_barrier_wait(&first_freed); /* lives while the test frees the first block */
    return NULL;
}

static void *allocate_next(void *unused)
{
    (void)unused;
    for (size_t i = 0; i < OUTLIVED; i++)
        next_ones[i] = malloc(OUTLIVED_SIZE);
    return NULL;
}

Test(cross_thread_reuse, blocks_outliving_their_thread_are_free_at_once)
{
    free(test_launder(malloc(16))); /* this thread has its shard before the others start */
    cr_assert_eq(pthread_barrier_init(&allocated, NULL, 2), 0);
    cr_assert_eq(pthread_barrier_init(&first_freed, NULL, 2), 0);
    pthread_t thread;
    cr_assert_eq(pthread_create(&thread, NULL, allocate_outlived, NULL), 0);
    pthread_barrier_wait(&allocated);
    for (size_t i = 0; i < OUTLIVED; i++) {
        cr_assert_not_null(outlived[i]);
        test_assert_ours(outlived[i]);
    }
    free(outlived[0]); /* its shard has a thread: the block waits in an away list */
    pthread_barrier_wait(&first_freed);
    cr_assert_eq(pthread_join(thread, NULL), 0);
    for (size_t i = 1; i < OUTLIVED; i++)
        free(outlived[i]);
    cr_assert_eq(pthread_create(&thread, NULL, allocate_next, NULL), 0);
    cr_assert_eq(pthread_join(thread, NULL), 0);
    size_t reused = 0;
    for (size_t i = 0; i < OUTLIVED; i++) {
        for (size_t k = 0; k < OUTLIVED; k++)
            reused += next_ones[i] == outlived[k];
        free(next_ones[i]);
    }
    cr_expect_eq(reused, OUTLIVED,
                 "the next thread got %zu of the %d blocks that outlived their thread, "
                 "expected all (lowest first, back in their slab)",
                 reused, OUTLIVED);
}

/*
 * A batch of remote frees (struct parked_batch in core/node_heap.h): the
 * other thread's away list, handed back in one CAS at its exit, names its
 * last block and its length in its head's third and fourth words, so the
 * refill takes it whole without walking down blocks whose lines are in
 * another core's cache; a refill that wants fewer cuts it, and the rest is
 * a batch again. The test reads the words of freed blocks: it knows the
 * layout, which is the point.
 */
#define BATCH      48  /* fewer than an away list holds: half of 128 blocks of 64 B */
#define BATCH_SIZE 112 /* a class no other test of this process uses: a fresh bin */

static void *batch[BATCH];

static void *free_batch(void *unused)
{
    (void)unused;
    for (size_t i = 0; i < BATCH; i++)
        free(batch[i]); /* batch[BATCH - 1] is the away list's head, batch[0] its last */
    return NULL;
}

static void hand_back_a_batch(void)
{
    for (size_t i = 0; i < BATCH; i++) {
        cr_assert_not_null(batch[i] = malloc(BATCH_SIZE));
        test_assert_ours(batch[i]);
        memset(batch[i], 0, BATCH_SIZE); /* no word of ours is left in them */
    }
    malloc_trim(0); /* this thread's bins are empty: its next malloc of the class refills */
    pthread_t thread;
    cr_assert_eq(pthread_create(&thread, NULL, free_batch, NULL), 0);
    cr_assert_eq(pthread_join(thread, NULL), 0);
}

Test(cross_thread_reuse, remote_frees_come_back_as_a_batch_a_refill_takes_whole_or_cuts)
{
    free(test_launder(malloc(16))); /* this thread has its shard before the other starts */
    hand_back_a_batch();
    void **head = batch[BATCH - 1];
    cr_assert_eq(head[2], batch[0], "the batch's head names its last block");
    cr_assert_eq((uintptr_t)head[3], BATCH, "the batch's head holds its length");
    /* A young bin's first refill wants fewer than the batch: it is cut. */
    void *first = malloc(BATCH_SIZE);
    cr_assert_eq(first, head, "the first block out is the batch's head");
    size_t rest = BATCH, found = 0;
    for (size_t j = 0; j + 1 < BATCH; j++) {
        void **block = batch[j];
        if (block[2] == batch[0] && (uintptr_t)block[3] == j + 1) {
            rest = j;
            found++;
        }
    }
    cr_assert_eq(found, 1, "%zu blocks are the head of the batch's rest, expected one", found);
    /* The refill's blocks come out in the chain's order: BATCH - 2 down to the rest's head. */
    for (size_t j = BATCH - 1; --j > rest;) {
        void *p = malloc(BATCH_SIZE);
        cr_assert_eq(p, batch[j], "block %zu of the batch (the rest begins at %zu)", j, rest);
    }
    /* The next refill takes the rest whole (with blocks of a slab before it). */
    void *more[2 * BATCH];
    size_t back = 0;
    for (size_t i = 0; i < 2 * BATCH; i++) {
        cr_assert_not_null(more[i] = malloc(BATCH_SIZE));
        for (size_t j = 0; j <= rest; j++)
            back += more[i] == batch[j];
    }
    cr_assert_eq(back, rest + 1, "%zu of the rest's %zu blocks handed out again", back, rest + 1);
    for (size_t i = 0; i < 2 * BATCH; i++)
        free(more[i]);
    free(first);
    for (size_t j = rest + 1; j + 1 < BATCH; j++)
        free(batch[j]);
}

Test(cross_thread_reuse, a_write_to_a_parked_block_does_not_lead_the_refill_astray)
{
    free(test_launder(malloc(16)));
    hand_back_a_batch();
    /* Use after free: the program writes over the batch head's words past the link. */
    void **head = batch[BATCH - 1];
    head[2] = (void *)(uintptr_t)0x1000;
    head[3] = (void *)(uintptr_t)3;
    void *again[BATCH];
    for (size_t i = 0; i < BATCH; i++) {
        cr_assert_not_null(again[i] = malloc(BATCH_SIZE));
        memset(again[i], 0x5a, BATCH_SIZE);
        for (size_t k = 0; k < i; k++)
            cr_assert_neq(again[i], again[k], "block handed out twice");
    }
    for (size_t i = 0; i < BATCH; i++)
        free(again[i]);
}

/*
 * The same with a pointer that looks right: the program wrote the address
 * of one of its live blocks of the class over the head's word that names
 * the batch's last block. That block is not free (no free-block key), so
 * the refill must neither write into it nor hand it out.
 */
Test(cross_thread_reuse, a_live_block_named_by_a_parked_block_is_left_alone)
{
    free(test_launder(malloc(16)));
    unsigned char *live = malloc(BATCH_SIZE);
    cr_assert_not_null(live);
    memset(live, 0x3c, BATCH_SIZE);
    hand_back_a_batch();
    void **head = batch[BATCH - 1];
    head[2] = live;
    head[3] = (void *)(uintptr_t)2;
    void *again[BATCH + 16];
    for (size_t i = 0; i < BATCH + 16; i++) {
        cr_assert_not_null(again[i] = malloc(BATCH_SIZE));
        cr_assert_neq(again[i], (void *)live, "a live block handed out");
    }
    for (size_t i = 0; i < BATCH_SIZE; i++)
        cr_assert_eq(live[i], 0x3c, "byte %zu of a live block overwritten", i);
    for (size_t i = 0; i < BATCH + 16; i++)
        free(again[i]);
    free(live);
}

/*
 * A refill that finds nothing in its own shard takes another shard's idle
 * blocks before it makes a new slab (take_from_other_shards,
 * core/node_heap.c), in classes of whole cache lines only. An owner thread
 * allocates OWNED blocks and then waits (a preempted thread); this thread
 * frees them (they are handed back to the owner's shard, where nobody takes
 * them) and allocates as many again, after a slab of its own ran full: it
 * gets the owner's idle blocks back instead of new slabs. Before, it made
 * new slabs while the owner's blocks sat idle (larson-server-2t: 10 to 15
 * MiB peak RSS from run to run). Blocks of 48 B share cache lines with
 * their neighbours: those stay with their shard (Hoard's passive false
 * sharing), and the same steps give none of the owner's blocks. And a
 * thread's first blocks of a class come from a slab of its own, not from
 * another shard's parked blocks, which it would free back through an away
 * list refill after refill.
 */
#define OWNED 200

static void *owned[OWNED];
static size_t owned_size;
static pthread_barrier_t owner_done, test_done;

static void *owner(void *unused)
{
    (void)unused;
    for (size_t i = 0; i < OWNED; i++)
        owned[i] = malloc(owned_size);
    pthread_barrier_wait(&owner_done);
    pthread_barrier_wait(&test_done); /* alive, but idle: its shard's refills take nothing */
    return NULL;
}

static int was_owned(const void *p)
{
    for (size_t i = 0; i < OWNED; i++)
        if (owned[i] == p)
            return 1;
    return 0;
}

/*
 * How many of the blocks this thread allocates next are the owner's, once
 * this thread freed them: as many as two 64 KiB slabs of `size` hold and
 * OWNED more, so that this thread's own slabs run out first.
 */
static size_t owned_blocks_reused(size_t size)
{
    owned_size = size;
    pthread_barrier_init(&owner_done, NULL, 2);
    pthread_barrier_init(&test_done, NULL, 2);
    malloc_trim(0);
    size_t n = 2 * 65536 / size + OWNED;
    void **mine = calloc(n, sizeof *mine), **again = calloc(n, sizeof *again);
    cr_assert(mine && again);
    /* This thread's shard has slabs of the class, all but the last full. */
    for (size_t i = 0; i < n; i++)
        cr_assert_not_null(mine[i] = malloc(size));
    pthread_t thread;
    cr_assert_eq(pthread_create(&thread, NULL, owner, NULL), 0);
    pthread_barrier_wait(&owner_done);
    for (size_t i = 0; i < OWNED; i++) {
        test_assert_ours(owned[i]);
        free(owned[i]);
    }
    size_t reused = 0;
    for (size_t i = 0; i < n; i++) {
        cr_assert_not_null(again[i] = malloc(size));
        memset(again[i], 0x5a, size);
        reused += (size_t)was_owned(again[i]);
    }
    pthread_barrier_wait(&test_done);
    cr_assert_eq(pthread_join(thread, NULL), 0);
    for (size_t i = 0; i < n; i++) {
        free(again[i]);
        free(mine[i]);
    }
    free(again);
    free(mine);
    return reused;
}

Test(cross_thread_reuse, idle_blocks_of_another_shard_before_a_new_slab)
{
    size_t reused = owned_blocks_reused(512);
    cr_expect_geq(reused, OWNED / 2,
                  "%zu of the %d blocks of 512 B parked on the idle shard came back to this "
                  "thread, expected most: its refills made new slabs instead",
                  reused, OWNED);
}

Test(cross_thread_reuse, blocks_sharing_cache_lines_stay_with_their_shard)
{
    size_t reused = owned_blocks_reused(48);
    cr_expect_eq(reused, 0,
                 "%zu of the %d blocks of 48 B parked on the idle shard came back to this "
                 "thread: they share cache lines with blocks that shard's thread may write",
                 reused, OWNED);
}

static void *first_blocks_of_a_new_thread(void *arg)
{
    size_t *reused = arg;
    for (size_t i = 0; i < 16; i++) {
        void *p = malloc(512);
        *reused += (size_t)was_owned(p);
        free(p);
    }
    return NULL;
}

Test(cross_thread_reuse, a_new_threads_first_blocks_are_its_own)
{
    owned_size = 512;
    pthread_barrier_init(&owner_done, NULL, 2);
    pthread_barrier_init(&test_done, NULL, 2);
    pthread_t thread;
    cr_assert_eq(pthread_create(&thread, NULL, owner, NULL), 0);
    pthread_barrier_wait(&owner_done);
    for (size_t i = 0; i < OWNED; i++)
        free(owned[i]); /* parked on the owner's shard */
    size_t reused = 0;
    pthread_t fresh;
    cr_assert_eq(pthread_create(&fresh, NULL, first_blocks_of_a_new_thread, &reused), 0);
    cr_assert_eq(pthread_join(fresh, NULL), 0);
    pthread_barrier_wait(&test_done);
    cr_assert_eq(pthread_join(thread, NULL), 0);
    cr_expect_eq(reused, 0,
                 "%zu of a new thread's first 16 blocks of 512 B were another shard's parked "
                 "blocks: its frees of them go back through an away list",
                 reused);
}

/*
 * Big blocks (KEEP_ANY_SHARD_MIN, core/thread_cache.h) of another shard stay
 * in the bin of a thread that frees them and allocates their class too: its
 * next malloc of the class is the block it has just freed. Whether it is:
 * the owner allocates, this thread frees one of its blocks, then mallocs.
 */
static int next_malloc_is_the_freed_block(size_t size, int allocates_the_class)
{
    owned_size = size;
    pthread_barrier_init(&owner_done, NULL, 2);
    pthread_barrier_init(&test_done, NULL, 2);
    /*
     * Many out, one back: the bin has room (a refill past the first brings
     * at most half the bin's bound, and pops took what it left).
     */
    void *mine[40] = {NULL};
    if (allocates_the_class) {
        for (size_t i = 0; i < 40; i++)
            cr_assert_not_null(mine[i] = malloc(size));
        free(mine[39]);
        mine[39] = NULL;
    }
    pthread_t thread;
    cr_assert_eq(pthread_create(&thread, NULL, owner, NULL), 0);
    pthread_barrier_wait(&owner_done);
    test_assert_ours(owned[0]);
    free(owned[0]);
    void *next = malloc(size);
    cr_assert_not_null(next);
    memset(next, 0x5a, size);
    int same = next == owned[0];
    for (size_t i = 1; i < OWNED; i++)
        free(owned[i]);
    pthread_barrier_wait(&test_done);
    cr_assert_eq(pthread_join(thread, NULL), 0);
    free(next);
    for (size_t i = 0; i < 40; i++)
        free(mine[i]);
    return same;
}

Test(cross_thread_reuse, big_blocks_of_another_shard_are_reused_by_the_thread_freeing_them)
{
    cr_expect(next_malloc_is_the_freed_block(2048, 1),
              "a block of 2 KiB of another thread, freed by one that allocates 2 KiB blocks "
              "too, was not its next block of 2 KiB: it went back to its shard");
}

Test(cross_thread_reuse, small_blocks_of_another_shard_go_back_to_it)
{
    cr_expect(!next_malloc_is_the_freed_block(256, 1),
              "a block of 256 B of another thread was the next block of the thread that freed "
              "it: it lies beside that shard's blocks");
}

Test(cross_thread_reuse, a_thread_that_only_frees_a_class_hands_its_blocks_back)
{
    cr_expect(!next_malloc_is_the_freed_block(3072, 0),
              "a block of 3 KiB of another thread stayed with a thread that had never allocated "
              "3 KiB blocks");
}
