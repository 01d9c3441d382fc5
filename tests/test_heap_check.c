/*
 * test_heap_check.c - the whole-heap check of debug builds (built only with
 * -DNUMA_ALLOC_DEBUG=ON; see docs/testing.md).
 *
 * Workloads of every kind (small, large, huge, aligned, realloc chains,
 * cross-thread frees, malloc_trim) must leave a heap that passes
 * numa_alloc_debug_check(), also while other threads allocate; and the check
 * must fail (abort) on a heap whose metadata was deliberately corrupted, or it
 * proves nothing.
 */
#include "test_util.h"
#include <criterion/criterion.h>
#include <malloc.h>

#include "core/layout.h"
#include "core/node_heap.h"

#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <unistd.h>

/* Exported by debug builds of the library only; not in the public header. */
size_t numa_alloc_debug_check(void);
void numa_alloc_debug_on_race(void (*hook)(int point, size_t class_size));
unsigned numa_alloc_debug_hand_back(void **blocks, unsigned count);
unsigned numa_alloc_debug_young_reopen(void);

#define LIVE 512

/* One round of mixed traffic: allocates, frees half in random order, reallocs
 * the rest. */
static void mixed_round(test_rng *rng, void **live, size_t nlive)
{
    for (size_t i = 0; i < nlive; i++) {
        size_t kind = test_rng_range(rng, 0, 99), size;
        if (kind < 70)
            size = test_rng_range(rng, 0, 1024);
        else if (kind < 90)
            size = test_rng_range(rng, 1025, 64 * KiB);
        else if (kind < 98)
            size = test_rng_range(rng, 64 * KiB, 2 * MiB);
        else
            size = test_rng_range(rng, 2 * MiB, 12 * MiB);
        free(live[i]);
        if (kind % 7 == 0) {
            size_t align = (size_t)1 << test_rng_range(rng, 4, 16);
            live[i] = aligned_alloc(align, (size + align - 1) / align * align);
        } else {
            live[i] = malloc(size);
        }
        cr_assert(size == 0 || live[i] != NULL, "allocation of %zu failed", size);
        if (live[i])
            memset(live[i], (int)i, size < 4096 ? size : 4096);
    }
    for (size_t i = 0; i < nlive; i += 2) {
        size_t j = test_rng_range(rng, 0, nlive - 1);
        free(live[j]);
        live[j] = NULL;
    }
    for (size_t i = 1; i < nlive; i += 3) {
        void *grown = realloc(live[i], test_rng_range(rng, 1, 300 * KiB));
        cr_assert(grown != NULL);
        live[i] = grown;
    }
}

Test(heap_check, passes_after_mixed_workloads)
{
    cr_assert_gt(numa_alloc_debug_check(), 0, "the check walked no segment");
    test_rng rng = {42};
    static void *live[LIVE];
    for (int round = 0; round < 20; round++) {
        mixed_round(&rng, live, LIVE);
        numa_alloc_debug_check();
    }
    for (size_t i = 0; i < LIVE; i++)
        free(live[i]);
    numa_alloc_debug_check();
    malloc_trim(0);
    cr_assert_gt(numa_alloc_debug_check(), 0);
}

Test(heap_check, passes_after_realloc_chains)
{
    void *p = NULL;
    for (size_t size = 1; size < 16 * MiB; size = size * 5 / 4 + 1) {
        p = realloc(p, size);
        cr_assert(p != NULL);
        ((char *)p)[size - 1] = 1;
    }
    numa_alloc_debug_check();
    for (size_t size = 16 * MiB; size > 1; size = size * 3 / 4) {
        p = realloc(p, size);
        cr_assert(p != NULL);
    }
    free(p);
    numa_alloc_debug_check();
}

static void *free_all(void *arg)
{
    void **blocks = arg;
    for (size_t i = 0; i < LIVE; i++)
        free(blocks[i]);
    return NULL;
}

static void *churn(void *arg)
{
    test_rng rng = {(uint64_t)(uintptr_t)arg};
    void *live[64] = {0};
    for (int round = 0; round < 200; round++)
        mixed_round(&rng, live, 64);
    for (size_t i = 0; i < 64; i++)
        free(live[i]);
    return NULL;
}

Test(heap_check, passes_with_cross_thread_frees_and_concurrent_traffic)
{
    static void *blocks[LIVE];
    for (size_t i = 0; i < LIVE; i++)
        blocks[i] = malloc(16 + i * 24);
    pthread_t freer, workers[2];
    for (uintptr_t t = 0; t < 2; t++)
        cr_assert_eq(pthread_create(&workers[t], NULL, churn, (void *)(t + 7)), 0);
    cr_assert_eq(pthread_create(&freer, NULL, free_all, blocks), 0);
    for (int i = 0; i < 20; i++) /* the check locks each heap: it may run while others allocate */
        numa_alloc_debug_check();
    pthread_join(freer, NULL);
    for (int t = 0; t < 2; t++)
        pthread_join(workers[t], NULL);
    numa_alloc_debug_check();
}

/* Objects aligned to a segment (core/aligned_huge.c), made, shrunk and freed until told to stop. */
static void *aligned_huge_churn(void *arg)
{
    _Atomic int *stop = arg;
    while (!atomic_load(stop)) {
        void *p = NULL;
        cr_assert_eq(posix_memalign(&p, 4 * MiB, 8 * MiB), 0);
        void *q = realloc(p, 5 * MiB); /* shrunk in place */
        cr_assert(q != NULL);
        free(q);
    }
    return NULL;
}

/*
 * Regression: an object aligned to a segment was registered and counted in
 * its heap's totals under two locks, one after the other, so a check between
 * the two found the heap's active_bytes apart from what the registry held
 * and failed (core/aligned_huge.c, account_added).
 */
Test(heap_check, passes_while_aligned_huge_objects_come_and_go)
{
    _Atomic int stop = 0;
    pthread_t churner;
    cr_assert_eq(pthread_create(&churner, NULL, aligned_huge_churn, &stop), 0);
    for (int i = 0; i < 2000; i++)
        numa_alloc_debug_check();
    atomic_store(&stop, 1);
    pthread_join(churner, NULL);
    numa_alloc_debug_check();
}

/* Threads that free each other's blocks: a pool of slots swapped at random (shared-pool-Tt). */
#define POOL 4096
static _Atomic(void *) pool[POOL];

static void *swap_into_pool(void *arg)
{
    test_rng rng = {(uint64_t)(uintptr_t)arg};
    for (int step = 0; step < 200000; step++) {
        size_t size = test_rng_range(&rng, 8, 1024);
        char *p = malloc(size);
        cr_assert(p != NULL);
        p[0] = (char)step;
        free(atomic_exchange(&pool[test_rng_range(&rng, 0, POOL - 1)], p));
    }
    return NULL;
}

/* Four threads swap blocks through the pool while this one checks the heap, until they end. */
static void threads_swap_blocks(uintptr_t round)
{
    pthread_t threads[4];
    for (uintptr_t t = 0; t < 4; t++)
        cr_assert_eq(pthread_create(&threads[t], NULL, swap_into_pool, (void *)(round * 4 + t + 3)),
                     0);
    int running = 4;
    bool joined[4] = {false};
    while (running) { /* the check locks each heap: it runs while the threads allocate */
        numa_alloc_debug_check();
        /*
         * A breath between checks: a thread woken for a lock the check held
         * must get it before the next check takes it again (futex locks are
         * not fair). Run back to back, the checks starved the threads: the
         * test took 19 s on main (session 44), and with the young arena's
         * check added a round did not end in minutes; 1 s with the breath.
         * The race it was written for has a test of its own, without luck
         * (the next one).
         */
        usleep(100);
        for (int t = 0; t < 4; t++)
            if (!joined[t] && pthread_tryjoin_np(threads[t], NULL) == 0) {
                joined[t] = true;
                running--;
            }
    }
    for (size_t i = 0; i < POOL; i++)
        free(atomic_exchange(&pool[i], NULL));
    numa_alloc_debug_check();
}

/*
 * The check locks the class_slabs of the shards threads were given only
 * (na_shards_used), and holds the registry so that no thread is given one
 * meanwhile: a thread given a new shard during a check made slabs whose
 * class_slabs the check had not locked, half set up when the walk met them
 * ("page that starts no span", "slab of a shard no thread was given").
 * Threads that stay alive each get a shard of their own, the check running.
 */
#define NEW_SHARD_THREADS 24

static pthread_barrier_t all_started;

static void *allocate_and_wait(void *arg)
{
    (void)arg;
    void *held[64];
    for (int i = 0; i < 64; i++) /* a slab of each of many classes: new slabs of its shard */
        cr_assert_not_null(held[i] = malloc((size_t)(16 + 48 * i)));
    pthread_barrier_wait(&all_started);
    for (int i = 0; i < 64; i++)
        free(held[i]);
    return NULL;
}

static void *check_until_stopped(void *arg)
{
    _Atomic int *stop = arg;
    while (!atomic_load(stop))
        numa_alloc_debug_check();
    return NULL;
}

Test(heap_check, passes_while_threads_are_given_new_shards)
{
    _Atomic int stop = 0;
    pthread_t checker, threads[NEW_SHARD_THREADS];
    cr_assert_eq(pthread_barrier_init(&all_started, NULL, NEW_SHARD_THREADS + 1), 0);
    cr_assert_eq(pthread_create(&checker, NULL, check_until_stopped, &stop), 0);
    for (int t = 0; t < NEW_SHARD_THREADS; t++) {
        cr_assert_eq(pthread_create(&threads[t], NULL, allocate_and_wait, NULL), 0);
        usleep(2000); /* one at a time, each while a check runs */
    }
    pthread_barrier_wait(&all_started);
    for (int t = 0; t < NEW_SHARD_THREADS; t++)
        pthread_join(threads[t], NULL);
    atomic_store(&stop, 1);
    pthread_join(checker, NULL);
    pthread_barrier_destroy(&all_started);
    numa_alloc_debug_check();
}

/*
 * Regression: a refill that had nothing but a new slab (or its spare) put the
 * slab on the partial list and then took parked blocks first, which another
 * thread had handed back meanwhile: the slab stayed on the list with no block
 * out, neither spare nor given back, and the check failed ("empty slab that
 * is not its class_slabs' spare"; a stress run of larson-2t at 4 threads).
 */
Test(heap_check, passes_while_threads_free_each_others_blocks)
{
    for (uintptr_t round = 0; round < 5; round++) /* each round caught it 2 times in 5 */
        threads_swap_blocks(round);
}

/*
 * The same bug without a scheduler's luck (core/race_points.h): blocks of
 * this thread are handed back, as another thread's remote frees, at the
 * instant a refill turns to its spare or a new slab, its lock held. The
 * check right after that malloc finds the slab left with no block out.
 */
#define HELD 32
static struct {
    void *held[HELD];
    unsigned handed;
    int fired;
} race;

static void hand_back_at_new_slab(int point, size_t class_size)
{
    if (point == 1 /* RACE_REFILL_NEW_SLAB */ && class_size == 128 && !race.fired) {
        race.fired = 1;
        race.handed = numa_alloc_debug_hand_back(race.held, HELD);
    }
}

Test(heap_check, passes_when_blocks_are_handed_back_as_a_refill_takes_a_new_slab)
{
    static void *taken[4096];
    for (int i = 0; i < HELD; i++)
        cr_assert_not_null(race.held[i] = malloc(128));
    numa_alloc_debug_on_race(hand_back_at_new_slab);
    int n = 0;
    while (!race.fired && n < 4096) {
        cr_assert_not_null(taken[n] = malloc(128));
        memset(taken[n++], 0x5a, 128);
    }
    numa_alloc_debug_on_race(NULL);
    cr_assert(race.fired, "no refill of 128 B reached its new slab in %d mallocs", n);
    cr_assert_eq(race.handed, HELD, "%u of %d blocks handed back", race.handed, HELD);
    numa_alloc_debug_check(); /* before another refill takes the slab's blocks */
    for (int more = 0; more < HELD + 16; more++) { /* the handed-back blocks come out again */
        cr_assert_not_null(taken[n] = malloc(128));
        memset(taken[n++], 0x5a, 128);
    }
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            cr_assert_neq(taken[i], taken[j], "block %p handed out twice", taken[i]);
    for (int i = 0; i < n; i++)
        free(taken[i]);
    numa_alloc_debug_check();
}

/*
 * A limit lowered on the address space (setrlimit of RLIMIT_AS) while another
 * thread maps: the heaps give their reservation back before the kernel
 * applies the limit, so that a mapping made meanwhile (here: at the race
 * point, before and after the system call) fits under it. Set first, the
 * reservation (1 TiB a node) failed every mapping until the give-back
 * (test_limits' lower-busy, once in a loaded CI run).
 */
static struct {
    int calls, refused;
} limit_race;

static void map_while_the_limit_is_set(int point, size_t class_size)
{
    (void)class_size;
    if (point != 2 /* RACE_ADDRESS_LIMIT_SET */)
        return;
    limit_race.calls++;
    size_t bytes = (size_t)64 << 20;
    void *p = mmap(NULL, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        limit_race.refused++;
    else
        munmap(p, bytes);
}

Test(heap_check, a_mapping_fits_while_the_address_space_limit_is_lowered)
{
    free(malloc(100)); /* started */
    numa_alloc_debug_on_race(map_while_the_limit_is_set);
    struct rlimit limit = {(rlim_t)8 << 30, RLIM_INFINITY};
    cr_assert_eq(setrlimit(RLIMIT_AS, &limit), 0);
    numa_alloc_debug_on_race(NULL);
    cr_assert_geq(limit_race.calls, 1, "the race point was not reached");
    cr_assert_eq(limit_race.refused, 0, "%d of %d mappings refused while the limit was set",
                 limit_race.refused, limit_race.calls);
    void *after = malloc((size_t)100 << 20);
    cr_assert_not_null(after, "malloc(100 MiB) under the lowered limit");
    free(after);
}

/*
 * The hand-back a race hook performs (core/race_points.h) takes blocks the
 * program holds, of the first block's class and shard only, and nothing
 * that is no block of ours or is free already.
 */
Test(heap_check, hand_back_takes_held_blocks_of_one_class_only)
{
    char on_stack[64];
    void *foreign[1] = {on_stack};
    cr_assert_eq(numa_alloc_debug_hand_back(foreign, 1), 0, "a stack address was handed back");
    void *freed[1] = {malloc(128)};
    free(freed[0]);
    cr_assert_eq(numa_alloc_debug_hand_back(freed, 1), 0, "a free block was handed back");

    void *mixed[3] = {malloc(128), malloc(128), malloc(256)};
    cr_assert_eq(numa_alloc_debug_hand_back(mixed, 3), 2, "not the two blocks of 128 B alone");
    numa_alloc_debug_check(); /* the two are parked, the third is still out */
    free(mixed[2]);
    void *again[2] = {malloc(128), malloc(128)}; /* a refill takes parked blocks first */
    numa_alloc_debug_check();
    free(again[0]);
    free(again[1]);
}

/* The slab of a small block: found the way free() finds it. */
static struct span *slab_of(void *p)
{
    struct segment *seg = segment_of(p);
    cr_assert_eq(seg->magic, SEGMENT_MAGIC);
    return span_at(seg, seg->pages[page_in_segment(p)].head);
}

/*
 * Bins that grew for batches of frees (struct cache_bin), several classes at
 * once so that the thread's budget runs short and idle bins shrink back,
 * then malloc_trim, which shrinks them all.
 */
Test(heap_check, passes_with_grown_bins)
{
    static void *blocks[2100];
    for (int round = 0; round < 3; round++) {
        for (size_t size = 16; size <= 512; size += size / 2) {
            for (int i = 0; i < 2100; i++)
                blocks[i] = malloc(size);
            for (int i = 0; i < 2100; i++)
                free(blocks[(i * 11) % 2100]); /* 11: prime to 2100 */
            numa_alloc_debug_check();
        }
    }
    malloc_trim(0);
    numa_alloc_debug_check();
}

Test(heap_check, catches_a_slab_count_off_by_one, .signal = SIGABRT)
{
    void *p = malloc(64);
    numa_alloc_debug_check();
    slab_of(p)->used++; /* one block more out than the bitmap says */
    numa_alloc_debug_check();
}

Test(heap_check, catches_a_slab_that_lost_a_block, .signal = SIGABRT)
{
    void *p = malloc(64);
    numa_alloc_debug_check();
    slab_of(p)->used--; /* a block neither out nor free: lost */
    numa_alloc_debug_check();
}

Test(heap_check, catches_a_wrong_page_tag, .signal = SIGABRT)
{
    void *p = malloc(100 * KiB); /* a large object: its pages carry tag 0 */
    numa_alloc_debug_check();
    segment_of(p)->pages[page_in_segment(p) + 1].tag = PAGE_TAG(3, 0);
    numa_alloc_debug_check();
}

Test(heap_check, catches_a_broken_span_head, .signal = SIGABRT)
{
    char *p = malloc(100 * KiB);
    numa_alloc_debug_check();
    segment_of(p)->pages[page_in_segment(p + 8 * KiB)].head++;
    numa_alloc_debug_check();
}

/*
 * The header of p's segment, which the compiler must not take for part of
 * the block malloc returned: a store to it through p's bits, never read
 * again in the test, was dropped as dead (GCC, -O2).
 */
static struct segment *header_of(void *p)
{
    struct segment *seg = segment_of(p);
    __asm__ volatile("" : "+r"(seg));
    return seg;
}

/* Is the slab of `p` keeping its bitmap in its segment's pool (core/layout.h, map_pool)? */
static bool bitmap_in_pool(void *p)
{
    size_t at = slab_of(p)->map_at;
    return at >= offsetof(struct segment, map_pool) &&
           at < offsetof(struct segment, map_pool) + sizeof(((struct segment *)0)->map_pool);
}

/*
 * Slabs of 64 B blocks take 16 words of the pool each: the 17th of a
 * segment finds it full and takes its head page's words of free_map; slabs
 * destroyed give their words back, and slabs of 128 B (8 words) fill the
 * holes. The check passes at each step (invariant 13: no word two slabs').
 */
/*
 * The young arena (core/young_arena.h): its chunks walked, its bins and its
 * bitmap of block starts agreeing. A block of 20000 bytes is the arena's
 * while it is open (test_young_arena.c); a chunk's size is the word before
 * its block, with two flag bits.
 */
static char *young_block_and_guard(void)
{
    char *p = malloc(20000), *guard = malloc(20000);
    cr_assert(guard == p + malloc_usable_size(p) + 16, "not the young arena's blocks");
    numa_alloc_debug_check();
    return p;
}

Test(heap_check, passes_with_the_young_arena_in_use_and_closed)
{
    static void *block[300];
    for (int i = 0; i < 300; i++) /* sizes of every class from 513 B up; past its 1 MiB */
        block[i] = malloc(513 + (size_t)i * 97);
    for (int i = 0; i < 300; i += 2)
        free(block[i]);
    numa_alloc_debug_check();
    for (int i = 1; i < 300; i += 2)
        free(block[i]);
    numa_alloc_debug_check();
}

/* The fuzzer's reset: a closed arena serves again, its blocks kept. */
Test(heap_check, a_closed_young_arena_reopens_for_the_fuzzer)
{
    char *held = young_block_and_guard();
    malloc_trim(0); /* closed, with blocks in it */
    char *a = malloc(20000), *b = malloc(9000);
    cr_assert(b != a + malloc_usable_size(a) + 16, "the closed arena served");
    free(a);
    free(b);
    malloc_trim(0); /* a and b leave the thread's bins: the next requests miss them */
    cr_assert_eq(numa_alloc_debug_young_reopen(), 1, "the closed arena did not reopen");
    cr_assert_eq(numa_alloc_debug_young_reopen(), 0, "an open arena reopened");
    young_block_and_guard(); /* end to end again: it serves */
    free(held);
    numa_alloc_debug_check();
}

Test(heap_check, catches_a_young_chunk_of_a_wrong_size, .signal = SIGABRT)
{
    char *p = young_block_and_guard();
    ((size_t *)p)[-1] += 16;
    numa_alloc_debug_check();
}

Test(heap_check, catches_a_binned_young_chunk_marked_in_use, .signal = SIGABRT)
{
    char *p = young_block_and_guard();
    free(p);
    ((size_t *)p)[-1] |= 1; /* marked in use again, on its bin, without a start bit */
    numa_alloc_debug_check();
}

Test(heap_check, catches_a_free_young_chunk_off_its_bin, .signal = SIGABRT)
{
    char *p = young_block_and_guard();
    free(p);
    ((size_t *)p)[-1] += 16; /* its size now names another bin's sizes */
    numa_alloc_debug_check();
}

Test(heap_check, passes_when_the_bitmap_pool_fills_and_is_reused)
{
    enum { SLAB_64 = 1024, SLABS = 24 }; /* blocks of 64 B a slab (16 pages), slabs */
    static void *blocks[SLABS * SLAB_64];
    for (size_t i = 0; i < SLABS * SLAB_64; i++) {
        blocks[i] = malloc(64);
        cr_assert(blocks[i] != NULL);
        memset(blocks[i], 1, 64);
    }
    numa_alloc_debug_check();
    size_t pooled = 0, own = 0;
    for (size_t i = 0; i < SLABS * SLAB_64; i += SLAB_64 / 4)
        bitmap_in_pool(blocks[i]) ? pooled++ : own++;
    cr_assert(pooled > 0 && own > 0, "64 B slabs' bitmaps: %zu samples in the pool, %zu not",
              pooled, own);
    for (size_t i = 0; i < SLABS * SLAB_64; i++)
        if (i / SLAB_64 % 2 == 0) { /* the blocks of about every other slab */
            free(blocks[i]);
            blocks[i] = NULL;
        }
    malloc_trim(0); /* empty slabs and spares go */
    numa_alloc_debug_check();
    static void *more[8 * 512];
    for (size_t i = 0; i < 8 * 512; i++) {
        more[i] = malloc(128);
        cr_assert(more[i] != NULL);
        memset(more[i], 2, 128);
    }
    numa_alloc_debug_check();
    for (size_t i = 0; i < 8 * 512; i++)
        free(more[i]);
    for (size_t i = 0; i < SLABS * SLAB_64; i++)
        free(blocks[i]);
    malloc_trim(0);
    numa_alloc_debug_check();
}

/* The 64-word group of the pool that holds the bitmap of p's slab. */
static size_t pool_group_of(void *p)
{
    cr_assert(bitmap_in_pool(p));
    return (slab_of(p)->map_at - offsetof(struct segment, map_pool)) / sizeof(uint64_t) /
           BITMAP_WORD_BITS;
}

/*
 * `n` threads alive at once (so of `n` shards), each with a block of 1 KiB,
 * which `block` receives; the threads have exited when it returns.
 */
static pthread_barrier_t all_allocated;

static void *malloc_1k(void *arg)
{
    (void)arg;
    void *block = malloc(1024);
    pthread_barrier_wait(&all_allocated);
    return block;
}

static void blocks_of_threads_alive_together(int n, void **block)
{
    pthread_t thread[16];
    cr_assert(n <= 16);
    cr_assert_eq(pthread_barrier_init(&all_allocated, NULL, (unsigned)n), 0);
    for (int i = 0; i < n; i++)
        cr_assert_eq(pthread_create(&thread[i], NULL, malloc_1k, NULL), 0);
    for (int i = 0; i < n; i++) {
        cr_assert_eq(pthread_join(thread[i], &block[i]), 0);
        cr_assert(block[i] != NULL);
    }
    pthread_barrier_destroy(&all_allocated);
}

/*
 * Threads of different shards write their slabs' bitmaps under different
 * locks: each shard takes its pool words from its own 64-word group first
 * (shard modulo the groups: core/slab_map.c, slab_map_place), not from the cache
 * lines the others write. The groups from the third on are the threads'
 * alone here (the main thread's classes fill the first, or two).
 */
Test(heap_check, shards_take_bitmap_words_from_groups_of_their_own)
{
    enum { THREADS = 3, GROUPS = MAP_POOL_WORDS / BITMAP_WORD_BITS };
    malloc_trim(0); /* the young arena closed (core/young_arena.h): 1 KiB blocks are slabs' */
    void *mine = malloc(1024), *theirs[THREADS];
    blocks_of_threads_alive_together(THREADS, theirs);
    int checked = 0;
    for (int i = 0; i < THREADS; i++) {
        cr_assert(segment_of(theirs[i]) == segment_of(mine), "a thread's slab in another segment");
        unsigned shard = slab_of(theirs[i])->shard;
        if (shard % GROUPS >= 2) {
            cr_assert_eq(pool_group_of(theirs[i]), shard % GROUPS,
                         "shard %u's bitmap outside its own group", shard);
            checked++;
        }
    }
    cr_assert(checked > 0, "no thread had a shard of the third group or later");
    numa_alloc_debug_check();
    free(mine);
    for (int i = 0; i < THREADS; i++)
        free(theirs[i]);
}

enum { MANY = 12 }; /* more shards than groups */

/*
 * With more shards than groups, shards share a group but never a cache line
 * of it: no two slabs of different shards have bitmap words on one line
 * (segment.map_line_shard).
 */
Test(heap_check, no_pool_line_holds_two_shards_bitmaps)
{
    void *block[MANY + 1];
    malloc_trim(0); /* the young arena closed (core/young_arena.h): 1 KiB blocks are slabs' */
    block[MANY] = malloc(1024);
    blocks_of_threads_alive_together(MANY, block);
    size_t pool = offsetof(struct segment, map_pool);
    int pairs = 0;
    for (int i = 0; i <= MANY; i++)
        for (int j = 0; j < i; j++) {
            struct span *a = slab_of(block[i]), *b = slab_of(block[j]);
            if (segment_of(block[i]) != segment_of(block[j]) || a->shard == b->shard ||
                !bitmap_in_pool(block[i]) || !bitmap_in_pool(block[j]))
                continue;
            /* A 1 KiB slab's bitmap is one word: its line is the word's. */
            cr_assert_neq((a->map_at - pool) / NA_CACHE_LINE, (b->map_at - pool) / NA_CACHE_LINE,
                          "shards %u and %u have bitmaps on one cache line", a->shard, b->shard);
            pairs++;
        }
    cr_assert(pairs > 0, "no two shards' slabs with bitmaps in one pool");
    numa_alloc_debug_check();
    for (int i = 0; i <= MANY; i++)
        free(block[i]);
}

Test(heap_check, catches_a_pool_word_marked_used_by_no_slab, .signal = SIGABRT)
{
    void *p = malloc(1024);
    numa_alloc_debug_check();
    cr_assert(bitmap_in_pool(p));
    header_of(p)->map_pool_used[MAP_POOL_WORDS / BITMAP_WORD_BITS - 1] |= (uint64_t)1 << 63;
    numa_alloc_debug_check();
}

Test(heap_check, catches_a_page_inside_a_span_naming_a_descriptor, .signal = SIGABRT)
{
    char *p = malloc(100 * KiB);
    numa_alloc_debug_check();
    struct segment *seg = header_of(p);
    /* What a merge that kept the absorbed run's descriptor leaves (core/page_runs.c). */
    seg->span_index[page_in_segment(p + 8 * KiB)] = seg->span_index[page_in_segment(p)];
    numa_alloc_debug_check();
}

Test(heap_check, catches_a_descriptor_neither_a_spans_nor_idle, .signal = SIGABRT)
{
    void *p = malloc(100 * KiB);
    numa_alloc_debug_check();
    header_of(p)->spans_touched++; /* one more handed out than spans and idle ones account for */
    numa_alloc_debug_check();
}

Test(heap_check, catches_a_block_cached_twice, .signal = SIGABRT)
{
    /* Marks a live block as free in its slab while the thread still holds it out.
     */
    void *p = malloc(48), *q = malloc(48);
    free(q); /* q is in this thread's cache: out of its slab */
    numa_alloc_debug_check();
    struct segment *seg = segment_of(q);
    struct span *slab = slab_of(q);
    size_t index = (size_t)((char *)q - span_start(seg, slab)) / malloc_usable_size(p);
    seg->free_map[(size_t)slab->first * MAP_WORDS_PER_PAGE + index / 64] |= (uint64_t)1
                                                                            << (index % 64);
    slab->used--;
    numa_alloc_debug_check();
}

static void *free_one(void *p)
{
    free(p);
    return NULL; /* at exit its away list is handed back to p's shard (one CAS) */
}

static void *free_two(void *blocks)
{
    free(((void **)blocks)[0]);
    free(((void **)blocks)[1]);
    return NULL;
}

Test(heap_check, catches_a_parked_remote_free_also_free_in_its_slab, .signal = SIGABRT)
{
    /* q, freed by another thread, waits parked for this thread's shard: out of its slab. */
    void *p = malloc(48), *q = malloc(48);
    pthread_t thread;
    cr_assert_eq(pthread_create(&thread, NULL, free_one, q), 0);
    cr_assert_eq(pthread_join(thread, NULL), 0);
    numa_alloc_debug_check();
    struct segment *seg = segment_of(q);
    struct span *slab = slab_of(q);
    size_t index = (size_t)((char *)q - span_start(seg, slab)) / malloc_usable_size(p);
    uint64_t *word = &seg->free_map[(size_t)slab->first * MAP_WORDS_PER_PAGE + index / 64];
    cr_assert_eq(*word & (uint64_t)1 << (index % 64), 0, "q went back to its slab, not parked");
    *word |= (uint64_t)1 << (index % 64);
    slab->used--;
    numa_alloc_debug_check();
}

Test(heap_check, catches_a_parked_batch_with_a_wrong_length, .signal = SIGABRT)
{
    /* p and q, freed by another thread, wait parked as one batch (struct parked_batch). */
    void *blocks[2] = {malloc(48), malloc(48)};
    malloc_trim(0);
    pthread_t thread;
    cr_assert_eq(pthread_create(&thread, NULL, free_two, blocks), 0);
    cr_assert_eq(pthread_join(thread, NULL), 0);
    numa_alloc_debug_check();
    struct parked_batch *batch = blocks[1]; /* freed last: the away list's head */
    cr_assert_eq(batch->count, 2, "the two blocks went back as one batch");
    batch->count = 3;
    numa_alloc_debug_check();
}

/*
 * Regression (found by this check): a clean segment given back next to a
 * clean free segment run purged that run's header before reading it, so the
 * merged run lost the run's length and the free list lost its links (the
 * segments after it were leaked, the walk found a segment without a header).
 * Two large objects fill one fresh pages segment, a huge object follows it;
 * both are freed and purged so that the segment, when it goes back, meets a
 * clean run.
 */
Test(heap_check, clean_segment_merges_with_following_clean_run)
{
    malloc_trim(0);
    char *a = malloc(1900 * KiB), *b = malloc(1900 * KiB), *huge = malloc(8 * MiB);
    cr_assert(a && b && huge);
    cr_assert_eq(segment_of(a), segment_of(b), "the two large objects share no segment");
    cr_assert_eq((uintptr_t)segment_of(huge), (uintptr_t)segment_of(a) + SEGMENT_SIZE,
                 "the huge object does not follow the pages segment");
    a[0] = b[0] = huge[0] = 1;
    free(huge);
    malloc_trim(0); /* the huge run is now a clean free run */
    numa_alloc_debug_check();
    free(a);
    free(b);
    malloc_trim(0); /* the emptied pages segment goes back, clean, and merges */
    numa_alloc_debug_check();
}
