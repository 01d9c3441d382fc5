/*
 * test_cache_bins.c - a thread cache bin grows for a thread that frees in
 * batches, within the thread's budget (struct cache_bin, core/thread_cache.h).
 *
 * What a bin holds is seen from outside through the order blocks come back:
 * a bin is a stack, so the blocks a batch of frees left in it come back
 * first, in the reverse order of the frees; blocks the bin flushed to the
 * node heap come back later, from their slabs, lowest address first.
 *
 * - batch_stays_in_the_cache: a thread allocates 1600 blocks, frees them
 *   (half first-in first-out, half last-in first-out) and allocates 1600
 *   again: all 1600 come back from its bin, in reverse. With bins bounded at
 *   128 blocks, all but the last 64..128 went through the locked node heap
 *   (1.56x mimalloc's time on this pattern, issue 17).
 * - growth_stays_within_budget: one thread does the same with 12 classes at
 *   once, each of which could grow by 112..128 KiB: what the bins hold
 *   beyond their starting bound stays within the per-thread budget
 *   (CACHE_THREAD_GROWTH, 256 KiB), and some bin did grow (the last
 *   class's: 64 bytes, bounded at 128 blocks before it grew).
 *
 * Each runs in a fresh thread: a fresh cache, a fresh budget.
 */
#include "test_util.h"

#include <criterion/criterion.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>

#define BATCH 1600
/* core/size_class.[ch]: CACHE_THREAD_GROWTH, and a bin's starting bound (cache_max). */
#define THREAD_GROWTH (256 * KiB)
static size_t cache_max(size_t class_size)
{
    size_t n = 32768 / class_size;
    return n < 4 ? 4 : n > 128 ? 128 : n;
}

static void run_in_thread(void *(*body)(void *))
{
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, body, NULL), 0);
    void *failed = NULL;
    cr_assert_eq(pthread_join(t, &failed), 0);
    cr_assert_null(failed, "%s", (const char *)failed);
}

static void *batch_body(void *arg)
{
    (void)arg;
    static void *blocks[BATCH], *freed[BATCH];
    static const size_t sizes[] = {16, 32, 64};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        for (int i = 0; i < BATCH; i++) {
            blocks[i] = test_launder(malloc(sizes[s]));
            memset(blocks[i], i, sizes[s]);
        }
        int n = 0;
        for (int i = 0; i < BATCH / 2; i++)
            free(freed[n++] = blocks[i]);
        for (int i = BATCH - 1; i >= BATCH / 2; i--)
            free(freed[n++] = blocks[i]);
        int back = 0; /* blocks that came back from the bin, in reverse order of the frees */
        for (int i = 0; i < BATCH; i++) {
            blocks[i] = test_launder(malloc(sizes[s]));
            back += back == i && blocks[i] == freed[BATCH - 1 - i];
        }
        for (int i = 0; i < BATCH; i++)
            free(blocks[i]);
        if (back != BATCH) {
            static char why[128];
            snprintf(why, sizeof why, "%zu bytes: %d of %d blocks came back from the cache",
                     sizes[s], back, BATCH);
            return why;
        }
    }
    return NULL;
}

Test(cache_bins, batch_stays_in_the_cache)
{
    run_in_thread(batch_body);
}

#define CLASSES 12
#define PER     2100 /* more than a fully grown bin (2048) holds */

static void *budget_body(void *arg)
{
    (void)arg;
    static const size_t sizes[CLASSES] = {448, 384, 320, 256, 224, 192, 160, 128, 112, 96, 80, 64};
    static void *blocks[CLASSES][PER]; /* then in the order they were freed */
    static void *again[CLASSES][PER];
    static char why[160];
    test_rng rng = {0x5eed};
    /* Each class: a batch allocated (the bin refills), then all batches freed, shuffled. */
    for (int c = 0; c < CLASSES; c++)
        for (int i = 0; i < PER; i++)
            blocks[c][i] = test_launder(malloc(sizes[c]));
    for (int c = 0; c < CLASSES; c++) {
        for (int i = PER - 1; i > 0; i--) {
            size_t j = test_rng_range(&rng, 0, (size_t)i);
            void *swap = blocks[c][i];
            blocks[c][i] = blocks[c][j];
            blocks[c][j] = swap;
        }
        for (int i = 0; i < PER; i++)
            free(blocks[c][i]);
    }
    /*
     * What each bin kept: the run of blocks that comes back first, each of
     * the batch and freed before the one before it. A refill's blocks end the
     * run but for chance (a block of the batch that was freed earlier: a few
     * at most with shuffled frees), hence the slack of 16 blocks a class.
     */
    size_t extra = 0, most = 0;
    for (int c = 0; c < CLASSES; c++) {
        size_t usable = 0, kept = 0;
        int last = PER;
        for (int k = 0; k < PER; k++) {
            void *p = again[c][k] = test_launder(malloc(sizes[c]));
            usable = malloc_usable_size(p);
            if (kept < (size_t)k)
                continue; /* the run has ended */
            int at = last - 1;
            while (at >= 0 && blocks[c][at] != p)
                at--;
            if (at >= 0) {
                kept++;
                last = at;
            }
        }
        if (kept > 2048 + 16) {
            snprintf(why, sizeof why, "%zu bytes: a bin kept %zu blocks, above 2048", sizes[c],
                     kept);
            return why;
        }
        if (kept > cache_max(usable) + 16)
            extra += (kept - cache_max(usable) - 16) * usable;
        most = kept > most ? kept : most;
    }
    for (int c = 0; c < CLASSES; c++)
        for (int i = 0; i < PER; i++)
            free(again[c][i]);
    if (extra > THREAD_GROWTH) {
        snprintf(why, sizeof why, "bins kept %zu bytes beyond their bound, above %zu", extra,
                 THREAD_GROWTH);
        return why;
    }
    if (most < 1000) { /* 64 bytes, last: 2048 at most, flushed down to 1024 (+ 52) */
        snprintf(why, sizeof why, "no bin grew: at most %zu blocks kept", most);
        return why;
    }
    return NULL;
}

Test(cache_bins, growth_stays_within_budget)
{
    run_in_thread(budget_body);
}
