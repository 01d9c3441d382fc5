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
 *   (24 flushes and 24 refills a batch; 1.56x mimalloc's time on this
 *   pattern, issue 17).
 * - growth_stays_within_budget: one thread does the same with 12 classes at
 *   once, each of which could grow by 112..128 KiB: what the bins hold
 *   beyond their starting bound stays within the per-thread budget
 *   (CACHE_THREAD_GROWTH, 256 KiB), and some bin did grow (the last
 *   class's: 64 bytes, bounded at 128 blocks before it grew; checked
 *   first).
 * - freeing_only_does_not_grow: a thread frees 2100 blocks another thread
 *   allocated (of its own heap shard: that thread has exited) and never
 *   refilled that bin: it keeps at most its bound (128 blocks), as before.
 * - idle_blocks_go_back: a thread allocates 100k blocks of 48 B and frees
 *   them in a random order (a program dropping a big structure); its bin
 *   grows and ends up holding some 1000-2000 of them, of every one of their
 *   74 slabs. Then it allocates 2 MiB of 1 KiB blocks: the bin's blocks sat
 *   idle all along and went back (struct bin_growth), so the 48 B slabs
 *   emptied and their pages were reused. Before, the bin kept all 74 slabs
 *   (4.6 MiB) live for at most 96 KiB of blocks, as in sqlite3's run
 *   (docs/benchmarks.md, Round two).
 * - busy_bins_keep_their_blocks: the batches of the first test, while the
 *   thread also allocates enough of another class, between each batch's
 *   frees and its mallocs, for many visits of its bins: a bin in use loses
 *   nothing to them.
 *
 * - young_bin_keeps_little: a fresh thread's bins are young (8 KiB of
 *   blocks: 16 of 512 B, against 64 once grown up): a thread that allocates
 *   30 blocks of 512 B and frees them, not as a batch, keeps few in its bin
 *   (it used to keep all 30). numa_bench's short-threads: each thread's
 *   bins kept their frees idle while its refills touched new pages.
 * - busy_young_bin_matures: the same after 300 mallocs and frees of the
 *   class (150 KiB, above CACHE_YOUNG_TRAFFIC): the bin took the class's
 *   bound when the frees filled it, and keeps all 30.
 *
 * - a_few_large_objects_leave_the_bins_alone: 100 blocks of 64 B freed into
 *   the bin, two objects of 1 MiB allocated and freed, the 100 allocated
 *   again: all come back from the bin. A large object used to count its size
 *   (up to 256 KiB) toward the next visit of the bins, so each one walked
 *   every bin (and again for the peak of live bytes), and two flushed the
 *   idle blocks: numa_bench's `large` spent 10 % of its samples there.
 * - many_large_objects_visit_the_bins: after 48 such objects (16 KiB each
 *   toward the visits) the bin's idle blocks did go back: a thread that
 *   stopped using small blocks still has them visited.
 *
 * Each runs in a fresh thread: a fresh cache, a fresh budget.
 */
#include "test_util.h"

#include <criterion/criterion.h>
#include <malloc.h>
#include <numa_alloc.h>
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

/* A young bin's bound (core/size_class.c, CACHE_YOUNG_BYTES). */
static size_t cache_young(size_t class_size)
{
    size_t n = 8192 / class_size;
    n = n < 4 ? 4 : n;
    return n < cache_max(class_size) ? n : cache_max(class_size);
}

/*
 * How many of the blocks freed[0..n-1] (in the order of the frees) the bin
 * kept, seen in the blocks malloc gave next, again[0..n-1]: the run that
 * comes first, each of the batch and freed before the one before it (a bin
 * is a stack: a flush takes blocks off its top, and what stays below keeps
 * its order). A refill's blocks end the run but for chance (a block of the
 * batch freed earlier, flushed: a few at most), hence a slack of 16 blocks.
 */
static size_t kept_run(void *const *freed, void *const *again, int n)
{
    size_t kept = 0;
    int last = n;
    for (int k = 0; k < n; k++) {
        int at = last - 1;
        while (at >= 0 && freed[at] != again[k])
            at--;
        if (at < 0)
            break;
        kept++;
        last = at;
    }
    return kept;
}

static void run_in_thread(void *(*body)(void *))
{
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, body, NULL), 0);
    void *failed = NULL;
    cr_assert_eq(pthread_join(t, &failed), 0);
    cr_assert_null(failed, "%s", (const char *)failed);
}

/* Blocks of another class, allocated between a batch's frees and mallocs (busy_body). */
struct busy {
    void **other;
    int used, step;
};

static void *batch_body(void *arg)
{
    struct busy *busy = arg;
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
        for (int i = 0; busy && i < busy->step; i++)
            busy->other[busy->used++] = test_launder(malloc(KiB));
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
    size_t extra = 0, most = 0;
    /*
     * Last freed, first checked: the refills of each class's mallocs visit
     * the bins for idle blocks (struct bin_growth), which would empty the
     * bins of the classes still to check.
     */
    for (int c = CLASSES - 1; c >= 0; c--) {
        for (int k = 0; k < PER; k++)
            again[c][k] = test_launder(malloc(sizes[c]));
        size_t usable = malloc_usable_size(again[c][0]);
        size_t kept = kept_run(blocks[c], again[c], PER);
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
    if (most < 1000) { /* 64 bytes, freed last: 2048 at most, flushed down to 1024 (+ 52) */
        snprintf(why, sizeof why, "no bin grew: at most %zu blocks kept", most);
        return why;
    }
    return NULL;
}

Test(cache_bins, growth_stays_within_budget)
{
    run_in_thread(budget_body);
}

static void *handed[PER];

static void *allocate_body(void *arg)
{
    (void)arg;
    for (int i = 0; i < PER; i++)
        handed[i] = test_launder(malloc(64));
    return NULL;
}

static void *free_only_body(void *arg)
{
    (void)arg;
    static char why[128];
    static void *again[PER];
    for (int i = 0; i < PER; i++)
        free(handed[i]);
    for (int k = 0; k < PER; k++)
        again[k] = test_launder(malloc(64));
    size_t kept = kept_run(handed, again, PER);
    for (int k = 0; k < PER; k++)
        free(again[k]);
    if (kept > 128 + 16) {
        snprintf(why, sizeof why, "a bin that was never refilled kept %zu blocks", kept);
        return why;
    }
    if (kept == 0) { /* else the blocks went to an away list: the test saw nothing */
        snprintf(why, sizeof why, "the freeing thread did not get the allocator's shard");
        return why;
    }
    return NULL;
}

Test(cache_bins, freeing_only_does_not_grow)
{
    /* A thread exits and leaves its shard to the next (least_used_shard): same slabs, same bin. */
    run_in_thread(allocate_body);
    run_in_thread(free_only_body);
}

#define DROPPED 100000 /* blocks of 48 B: 74 slabs of 64 KiB */
#define OTHER   2048   /* blocks of 1 KiB: 2 MiB, eight visits of the bins (CACHE_GC_BYTES) */

static uint64_t active_bytes(void)
{
    uint64_t value = 0;
    return numa_alloc_counter("total.active_bytes", &value) == 0 ? value : UINT64_MAX;
}

static void *idle_body(void *arg)
{
    (void)arg;
    static void *dropped[DROPPED], *other[OTHER];
    static char why[160];
    test_rng rng = {0x1d1e};
    uint64_t before = active_bytes();
    for (int i = 0; i < DROPPED; i++)
        dropped[i] = test_launder(malloc(48));
    for (int i = DROPPED - 1; i > 0; i--) {
        size_t j = test_rng_range(&rng, 0, (size_t)i);
        void *swap = dropped[i];
        dropped[i] = dropped[j];
        dropped[j] = swap;
    }
    for (int i = 0; i < DROPPED; i++)
        free(dropped[i]);
    for (int i = 0; i < OTHER; i++)
        other[i] = test_launder(malloc(KiB));
    uint64_t after = active_bytes();
    for (int i = 0; i < OTHER; i++)
        free(other[i]);
    /*
     * The 1 KiB blocks, and 1 MiB for the rest: the 48 B class's spare and
     * partial slabs, the 1 KiB one's partial slab (2.2 MiB in all here;
     * 6.8 MiB when the bin kept its blocks).
     */
    uint64_t bound = OTHER * KiB + MiB;
    if (before == UINT64_MAX || after == UINT64_MAX || after - before > bound) {
        snprintf(why, sizeof why, "active bytes grew by %llu KiB, above %llu KiB",
                 (unsigned long long)((after - before) >> 10), (unsigned long long)(bound >> 10));
        return why;
    }
    return NULL;
}

Test(cache_bins, idle_blocks_go_back)
{
    run_in_thread(idle_body);
}

/*
 * 64 KiB of 1 KiB blocks between each batch's frees and its mallocs, 10
 * rounds of three sizes: the visits of the bins (one per 256 KiB) come
 * while a bin holds the batch it will hand out next, and find it was
 * emptied by mallocs since the previous visit (struct bin_growth).
 */
static void *busy_body(void *arg)
{
    (void)arg;
    static void *other[OTHER];
    struct busy busy = {other, 0, 64};
    void *failed = NULL;
    for (int round = 0; round < 10 && !failed; round++)
        failed = batch_body(&busy);
    for (int i = 0; i < busy.used; i++)
        free(other[i]);
    return failed;
}

Test(cache_bins, busy_bins_keep_their_blocks)
{
    run_in_thread(busy_body);
}

/*
 * 124 blocks of 64 B: five refills (4, 8, 16, 32, 64 blocks; 64 is half the
 * bin's bound of 128, and the next asks as many), all freed in the order
 * they came, then 1 MiB of 1 KiB blocks: some visits of the bins. The bin,
 * not grown, is above its refill size by 60 blocks: those go back, the
 * other 64 stay (a refill would fetch them again: struct bin_growth). Its
 * next mallocs give the 64 in reverse, then the flushed ones from their
 * slab, lowest first: kept_run finds 65. Before, the visits emptied the bin
 * and a refill handed the blocks out again lowest first (kept_run: 1); kept
 * whole, 124. (64 B: a class whose young bound is its cache_max, struct
 * cache_bin; the test had 28 blocks of 640 B, whose young bin now refills
 * 4, 6, 6, ... and keeps 6.)
 */
#define REFILLED      124
#define REFILLED_SIZE 64
#define REFILLED_FILL 64

static void *refill_sized_body(void *arg)
{
    (void)arg;
    static void *blocks[REFILLED], *again[REFILLED], *other[MiB / KiB];
    static char why[160];
    /* The young arena closed (core/young_arena.h): the 1 KiB blocks below refill their bin. */
    malloc_trim(0);
    for (int i = 0; i < REFILLED; i++)
        blocks[i] = test_launder(malloc(REFILLED_SIZE));
    for (int i = 0; i < REFILLED; i++)
        free(blocks[i]);
    for (size_t i = 0; i < MiB / KiB; i++)
        other[i] = test_launder(malloc(KiB));
    for (int i = 0; i < REFILLED; i++)
        again[i] = test_launder(malloc(REFILLED_SIZE));
    size_t kept = kept_run(blocks, again, REFILLED);
    for (int i = 0; i < REFILLED; i++)
        free(again[i]);
    for (size_t i = 0; i < MiB / KiB; i++)
        free(other[i]);
    if (kept < REFILLED_FILL * 5 / 8 || kept >= REFILLED) {
        snprintf(why, sizeof why, "the bin kept %zu of %d idle blocks (%d to %d expected)", kept,
                 REFILLED, REFILLED_FILL * 5 / 8, REFILLED - 1);
        return why;
    }
    return NULL;
}

Test(cache_bins, idle_bins_keep_a_refill)
{
    run_in_thread(refill_sized_body);
}

/*
 * YOUNG_BLOCKS blocks of 512 B, then `pairs` mallocs and frees of one more
 * (from the bin: no slow path, and the bin's last refill is long past, so
 * the frees that follow are no batch that would grow it), then the blocks
 * freed and allocated again: how many came back from the bin (kept_run).
 */
#define YOUNG_BLOCKS 30
#define YOUNG_SIZE   512

static size_t young_kept(int pairs)
{
    void *blocks[YOUNG_BLOCKS], *again[YOUNG_BLOCKS];
    for (int i = 0; i < YOUNG_BLOCKS; i++)
        blocks[i] = test_launder(malloc(YOUNG_SIZE));
    for (int i = 0; i < pairs; i++)
        free(test_launder(malloc(YOUNG_SIZE)));
    for (int i = 0; i < YOUNG_BLOCKS; i++)
        free(blocks[i]);
    for (int i = 0; i < YOUNG_BLOCKS; i++)
        again[i] = test_launder(malloc(YOUNG_SIZE));
    size_t kept = kept_run(blocks, again, YOUNG_BLOCKS);
    for (int i = 0; i < YOUNG_BLOCKS; i++)
        free(again[i]);
    return kept;
}

static void *young_body(void *arg)
{
    (void)arg;
    static char why[128];
    size_t kept = young_kept(40); /* 55 KiB of the class in all: young */
    if (kept > cache_young(YOUNG_SIZE)) {
        snprintf(why, sizeof why, "a young bin kept %zu of %d blocks, above its bound %zu", kept,
                 YOUNG_BLOCKS, cache_young(YOUNG_SIZE));
        return why;
    }
    return NULL;
}

Test(cache_bins, young_bin_keeps_little)
{
    run_in_thread(young_body);
}

static void *matures_body(void *arg)
{
    (void)arg;
    static char why[128];
    size_t kept = young_kept(150); /* 150 KiB of the class before the frees */
    if (kept < YOUNG_BLOCKS) {
        snprintf(why, sizeof why, "a bin in use kept %zu of %d blocks: it stayed young", kept,
                 YOUNG_BLOCKS);
        return why;
    }
    return NULL;
}

Test(cache_bins, busy_young_bin_matures)
{
    run_in_thread(matures_body);
}

/*
 * N blocks of 64 B freed into a fresh thread's bin, then `large` objects of
 * 1 MiB allocated and freed, then N blocks of 64 B again: how many came back
 * from the bin (kept_run). A large object counts 16 KiB toward the next
 * visit of the bins (core/thread_cache.c, LARGE_GC_BYTES), not its size.
 */
#define VISIT_BLOCKS 100

static size_t kept_after_large(int large)
{
    static void *blocks[VISIT_BLOCKS], *again[VISIT_BLOCKS];
    for (int i = 0; i < VISIT_BLOCKS; i++)
        blocks[i] = test_launder(malloc(64));
    for (int i = 0; i < VISIT_BLOCKS; i++)
        free(blocks[i]);
    for (int i = 0; i < large; i++) {
        char *big = test_launder(malloc(MiB));
        big[0] = 1;
        free(big);
    }
    for (int i = 0; i < VISIT_BLOCKS; i++)
        again[i] = test_launder(malloc(64));
    size_t kept = kept_run(blocks, again, VISIT_BLOCKS);
    for (int i = 0; i < VISIT_BLOCKS; i++)
        free(again[i]);
    return kept;
}

static void *few_large_body(void *arg)
{
    (void)arg;
    static char why[128];
    size_t kept = kept_after_large(2);
    if (kept < VISIT_BLOCKS) {
        snprintf(why, sizeof why, "2 large objects: the bin kept %zu of %d blocks", kept,
                 VISIT_BLOCKS);
        return why;
    }
    return NULL;
}

static void *many_large_body(void *arg)
{
    (void)arg;
    static char why[128];
    size_t kept = kept_after_large(48);
    if (kept >= VISIT_BLOCKS) {
        snprintf(why, sizeof why, "48 large objects: the bin kept all %d blocks", VISIT_BLOCKS);
        return why;
    }
    return NULL;
}

Test(cache_bins, a_few_large_objects_leave_the_bins_alone)
{
    run_in_thread(few_large_body);
}

Test(cache_bins, many_large_objects_visit_the_bins)
{
    run_in_thread(many_large_body);
}
