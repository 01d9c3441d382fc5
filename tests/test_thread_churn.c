/*
 * test_thread_churn.c - creating and exiting many threads does not grow the
 * heap.
 *
 * 10,000 threads, BATCH at a time, each allocate a few hundred blocks of
 * mixed sizes, free most of them and hand the rest to the main thread, which
 * frees them after the thread has exited (so those frees land on blocks of a
 * dead thread's cache/heap). Every block is freed, so a thread's exit must
 * give back everything it held: its cached blocks and its node cache. What
 * the heap holds is measured after a warm-up of 2,000 threads and at the end,
 * with the allocator's own figures (statistics: active_bytes, the memory in
 * use by the heap, slabs counted whole, and dirty_bytes, freed but resident),
 * after malloc_trim(0) has emptied the main thread's cache: the growth must
 * stay under HEAP_GROWTH_LIMIT. One node cache or one cached block leaked
 * per thread would be 8,000 of them. RSS is only logged: it also counts
 * glibc's cache of thread stacks and whatever else the process maps, which
 * made an RSS bound fail under load (9 MiB against 8 MiB) without a leak.
 */
#include "test_util.h"

#include <criterion/criterion.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>

#include "numa_alloc.h"

#define TOTAL_THREADS     10000
#define WARMUP_THREADS    2000 /* all 8 bin shards have had their threads */
#define BATCH             4
#define BLOCKS_PER_THREAD 300
#define HANDED_OVER       40 /* blocks per thread freed by the main thread */
#define HEAP_GROWTH_LIMIT (2 * MiB)

typedef struct {
    unsigned seq;
    void *handed[HANDED_OVER];
    size_t handed_size[HANDED_OVER];
    int failed;
} churn_arg;

static size_t churn_size(test_rng *rng)
{
    uint64_t r = test_rng_next(rng) % 100;
    if (r < 75)
        return test_rng_range(rng, 1, 512);
    if (r < 95)
        return test_rng_range(rng, 513, 16384);
    if (r < 99)
        return test_rng_range(rng, 16385, 128 * KiB);
    return test_rng_range(rng, 128 * KiB + 1, 512 * KiB);
}

static void *churn_thread(void *p)
{
    churn_arg *a = p;
    test_rng rng = {0xABCDull + a->seq};
    void *blk[BLOCKS_PER_THREAD];
    size_t sz[BLOCKS_PER_THREAD];
    for (int i = 0; i < BLOCKS_PER_THREAD; i++) {
        sz[i] = churn_size(&rng);
        blk[i] = malloc(sz[i]);
        if (!blk[i] || numa_ptr_node(blk[i]) < 0) {
            a->failed = 1;
            sz[i] = 0;
            continue;
        }
        /* Touch the first and last bytes (and a stamp the main thread
         * verifies for the blocks it frees). */
        memset(blk[i], (int)(a->seq + (unsigned)i), sz[i] < 64 ? sz[i] : 64);
        ((unsigned char *)blk[i])[sz[i] - 1] = (unsigned char)(a->seq + (unsigned)i);
    }
    /* Free in a scattered order, keeping HANDED_OVER for the main thread. */
    for (int i = 0; i < BLOCKS_PER_THREAD; i++) {
        int j = (i * 7) % BLOCKS_PER_THREAD; /* 7 is coprime with 300 */
        if (j < HANDED_OVER) {
            a->handed[j] = blk[j];
            a->handed_size[j] = sz[j];
        } else {
            free(blk[j]);
        }
    }
    return NULL;
}

static void run_threads(unsigned first, unsigned count, churn_arg *args)
{
    for (unsigned t = 0; t < count; t += BATCH) {
        pthread_t tid[BATCH];
        unsigned n = count - t < BATCH ? count - t : BATCH;
        for (unsigned k = 0; k < n; k++) {
            memset(&args[k], 0, sizeof args[k]);
            args[k].seq = first + t + k;
            int r = pthread_create(&tid[k], NULL, churn_thread, &args[k]);
            cr_assert_eq(r, 0, "pthread_create #%u failed: %d", first + t + k, r);
        }
        for (unsigned k = 0; k < n; k++)
            pthread_join(tid[k], NULL);
        /* The threads are gone: free what they handed over. */
        for (unsigned k = 0; k < n; k++) {
            cr_assert_eq(args[k].failed, 0,
                         "thread #%u: malloc failed or was not served by numa-alloc", args[k].seq);
            for (int i = 0; i < HANDED_OVER; i++) {
                unsigned char *b = args[k].handed[i];
                size_t s = args[k].handed_size[i];
                cr_assert_not_null(b);
                cr_assert_eq(b[0], (unsigned char)(args[k].seq + (unsigned)i),
                             "block handed over by thread #%u corrupted", args[k].seq);
                cr_assert_eq(b[s - 1], (unsigned char)(args[k].seq + (unsigned)i));
                free(b);
            }
        }
    }
}

static char stats_buf[1 << 20];

/*
 * What node `node`'s heap holds (active + dirty bytes) once this thread's
 * cache is empty and the free memory given back: the memory the threads'
 * blocks and caches still occupy.
 */
static long long heap_held(int node)
{
    malloc_trim(0);
    char section[32];
    snprintf(section, sizeof section, "\"node%d\"", node);
    const char *json = test_stats_json(stats_buf, sizeof stats_buf);
    cr_assert_not_null(json, "numa_alloc_stats_write failed");
    long long active = test_stats_field(json, section, "active_bytes");
    long long dirty = test_stats_field(json, section, "dirty_bytes");
    cr_assert(active >= 0 && dirty >= 0, "no active_bytes/dirty_bytes in %s of:\n%s", section,
              json);
    return active + dirty;
}

Test(thread_churn, heap_does_not_grow, .timeout = 120.)
{
    static churn_arg args[BATCH];
    void *probe = malloc(64);
    test_assert_ours(probe);
    int node = numa_ptr_node(probe);
    free(probe);
    run_threads(0, WARMUP_THREADS, args);
    long long after_warmup = heap_held(node);
    size_t rss_after_warmup = test_rss_bytes();
    double t0 = test_now_s();
    run_threads(WARMUP_THREADS, TOTAL_THREADS - WARMUP_THREADS, args);
    long long at_end = heap_held(node);
    double secs = test_now_s() - t0;
    long long growth = at_end - after_warmup;
    cr_log_info("node %d heap after %d threads: %lld KiB, after %d threads: %lld KiB (%.1f s); "
                "RSS %zu -> %zu KiB",
                node, WARMUP_THREADS, after_warmup / 1024, TOTAL_THREADS, at_end / 1024, secs,
                rss_after_warmup / KiB, test_rss_bytes() / KiB);
    cr_assert_lt(growth, (long long)HEAP_GROWTH_LIMIT,
                 "the heap grew by %lld KiB over %d thread lifetimes (limit %zu KiB): %lld -> "
                 "%lld KiB",
                 growth / 1024, TOTAL_THREADS - WARMUP_THREADS, HEAP_GROWTH_LIMIT / KiB,
                 after_warmup / 1024, at_end / 1024);
}

/*
 * A thread's exit hook gives back its caches; a key destructor that runs after
 * it (a key created later: destructors run in key order) still mallocs. Its
 * blocks must be real, separate blocks, and the thread must not reach its
 * old caches through malloc's fast path (struct thread_state: route_key, which
 * the exit clears; a debug build asserts it on the fast path).
 */
#define LATE_BLOCKS 64
static pthread_key_t late_key;
static unsigned char *late_blocks[LATE_BLOCKS];

static void late_destructor(void *arg)
{
    (void)arg;
    for (int i = 0; i < LATE_BLOCKS; i++) {
        late_blocks[i] = malloc(48 + (size_t)i % 3 * 16);
        if (late_blocks[i])
            memset(late_blocks[i], i, 48);
    }
}

static void *late_thread(void *arg)
{
    (void)arg;
    void *volatile blocks[32];
    for (int i = 0; i < 32; i++)
        blocks[i] = malloc(48 + (size_t)i % 3 * 16); /* the classes the destructor takes */
    for (int i = 0; i < 32; i += 2)
        free(blocks[i]); /* some left in the thread's bins */
    for (int i = 1; i < 32; i += 2)
        free(blocks[i]);
    pthread_setspecific(late_key, &late_key);
    return NULL;
}

Test(thread_churn, malloc_in_a_key_destructor_after_the_exit_hook)
{
    void *volatile warm = malloc(16); /* the allocator started: its key is the earlier one */
    free(warm);
    cr_assert_eq(pthread_key_create(&late_key, late_destructor), 0);
    for (int round = 0; round < 20; round++) {
        pthread_t thread;
        cr_assert_eq(pthread_create(&thread, NULL, late_thread, NULL), 0);
        cr_assert_eq(pthread_join(thread, NULL), 0);
        for (int i = 0; i < LATE_BLOCKS; i++) {
            cr_assert_not_null(late_blocks[i], "round %d: malloc %d in the destructor failed",
                               round, i);
            for (int j = 0; j < 48; j++)
                cr_assert_eq(late_blocks[i][j], (unsigned char)i,
                             "round %d: block %d overwritten (shared with another)", round, i);
        }
        for (int i = 0; i < LATE_BLOCKS; i++)
            free(late_blocks[i]);
    }
    pthread_key_delete(late_key);
}
