/*
 * test_purge.c - freed memory goes back to the OS.
 *
 * ~256 MiB is allocated and touched in small (1 KiB) and large (256 KiB)
 * blocks, then freed. With malloc_trim(0) the RSS must fall at once by at
 * least 75% of what the allocation added; without it, the time decay must do
 * the same about 1 s after the last free, on later allocator activity.
 *
 * NUMA_ALLOC_PURGE_DELAY_MS is in milliseconds: with the dirty limit out of
 * the way (32 MiB freed, under the 64 MiB limit) the freed memory must stay
 * resident for the delay and be purged soon after it, on the slow paths
 * (docs/architecture.md, *Back to the OS*). ctest runs that test twice: with
 * the default (1000) and as test_purge_delay_ms with 200. With the default
 * a young process purges at once (core/purge.c, PURGE_YOUNG_MS, 1 s), so
 * that test first waits until the process is past it.
 */
#include "test_util.h"

#include <criterion/criterion.h>
#include <malloc.h>
#include <sys/mman.h>

#include "numa_alloc.h"

#define SMALL_SIZE  KiB
#define LARGE_SIZE  (256 * KiB)
#define SMALL_TOTAL (128 * MiB)
#define LARGE_TOTAL (128 * MiB)
#define NSMALL      (SMALL_TOTAL / SMALL_SIZE)
#define NLARGE      (LARGE_TOTAL / LARGE_SIZE)

typedef struct {
    size_t before, peak;
    void **small, **large; /* pointer arrays live in test-owned mmap memory */
} workload;

static void fill_and_free(workload *w)
{
    w->small = mmap(NULL, NSMALL * sizeof(void *), PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    w->large = mmap(NULL, NLARGE * sizeof(void *), PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    cr_assert_neq(w->small, MAP_FAILED);
    cr_assert_neq(w->large, MAP_FAILED);

    w->before = test_rss_bytes();
    cr_assert_gt(w->before, 0, "cannot read /proc/self/statm");
    /* Interleave the two kinds so both heaps grow together. */
    for (size_t i = 0, j = 0; i < NSMALL || j < NLARGE;) {
        for (int k = 0; k < (int)(NSMALL / NLARGE) && i < NSMALL; k++, i++) {
            w->small[i] = test_launder(malloc(SMALL_SIZE));
            cr_assert_not_null(w->small[i], "malloc(%zu) #%zu failed", (size_t)SMALL_SIZE, i);
            if (i == 0)
                test_assert_ours(w->small[i]);
            memset(w->small[i], 0x5C, SMALL_SIZE);
        }
        if (j < NLARGE) {
            w->large[j] = test_launder(malloc(LARGE_SIZE));
            cr_assert_not_null(w->large[j], "malloc(%zu) #%zu failed", (size_t)LARGE_SIZE, j);
            if (j == 0)
                test_assert_ours(w->large[j]);
            memset(w->large[j], 0x6D, LARGE_SIZE);
            j++;
        }
    }
    w->peak = test_rss_bytes();
    cr_assert_geq(w->peak, w->before + (SMALL_TOTAL + LARGE_TOTAL) * 9 / 10,
                  "touching 256 MiB added only %zu KiB of RSS", (w->peak - w->before) / KiB);
    for (size_t i = 0; i < NSMALL; i++)
        free(w->small[i]);
    for (size_t j = 0; j < NLARGE; j++)
        free(w->large[j]);
}

static void check_dropped(const workload *w, size_t after, const char *how)
{
    size_t added = w->peak - w->before;
    size_t dropped = w->peak > after ? w->peak - after : 0;
    cr_log_info("%s: RSS before %zu KiB, peak %zu KiB, after %zu KiB", how, w->before / KiB,
                w->peak / KiB, after / KiB);
    cr_assert_geq(dropped, added / 4 * 3,
                  "%s: RSS dropped by %zu KiB of the %zu KiB added (less than 75%%): before %zu "
                  "KiB, peak %zu KiB, after %zu KiB",
                  how, dropped / KiB, added / KiB, w->before / KiB, w->peak / KiB, after / KiB);
}

Test(purge, malloc_trim_returns_memory, .timeout = 60.)
{
    workload w;
    fill_and_free(&w);
    malloc_trim(0);
    check_dropped(&w, test_rss_bytes(), "after free + malloc_trim(0)");
}

Test(purge, decay_returns_memory, .timeout = 60.)
{
    workload w;
    fill_and_free(&w);
    /* No trim: wait past the ~1 s decay, then give the allocator a little
     * activity to notice it on. */
    test_sleep_ms(1500);
    for (int i = 0; i < 16; i++) {
        void *p = test_launder(malloc(64));
        cr_assert_not_null(p);
        free(p);
    }
    for (int i = 0; i < 4; i++) {
        void *p = test_launder(malloc(100000));
        cr_assert_not_null(p);
        free(p);
    }
    check_dropped(&w, test_rss_bytes(), "1.5 s after free, then malloc/free");
}

/* ---- the purge delay -------------------------------------------------- */

#define DELAY_SIZE  (256 * KiB)
#define DELAY_TOTAL (32 * MiB) /* half the dirty limit: only the delay can purge it */
#define DELAY_N     (DELAY_TOTAL / DELAY_SIZE)
#define DELAY_WAIT  5.0 /* seconds we wait for a purge due after 0.1 to 1 s */

static char stats_buf[1 << 20];

/* purged_bytes and dirty_bytes of node `node`'s heap, now. */
static void purge_counts(int node, long long *purged, long long *dirty)
{
    char section[32];
    snprintf(section, sizeof section, "\"node%d\"", node);
    const char *json = test_stats_json(stats_buf, sizeof stats_buf);
    cr_assert_not_null(json, "numa_alloc_stats_write failed");
    *purged = test_stats_field(json, section, "purged_bytes");
    *dirty = test_stats_field(json, section, "dirty_bytes");
    cr_assert(*purged >= 0 && *dirty >= 0, "no purged_bytes/dirty_bytes in %s of:\n%s", section,
              json);
}

/* A slow path of the heap (a page run taken and given back): where due purges happen. */
static void page_run_slow_path(void)
{
    void *p = test_launder(malloc(100000));
    cr_assert_not_null(p);
    free(p);
}

/*
 * The purge delay the tests run with (NUMA_ALLOC_PURGE_DELAY_MS, else 1000),
 * once the process is past the young window (1 s, with the default delay),
 * which the runner's start began.
 */
static long purge_delay_ms_past_young(void)
{
    const char *env = getenv("NUMA_ALLOC_PURGE_DELAY_MS");
    long delay_ms = env ? strtol(env, NULL, 10) : 1000;
    cr_assert(delay_ms >= 100 && delay_ms <= 1000,
              "this test wants NUMA_ALLOC_PURGE_DELAY_MS between 100 and 1000, not %ld", delay_ms);
    if (!env)
        test_sleep_ms(1000);
    return delay_ms;
}

/* DELAY_N blocks of DELAY_SIZE, written whole (resident); returns their node. */
static int malloc_delay_blocks(void **blk, int fill)
{
    for (size_t i = 0; i < DELAY_N; i++) {
        blk[i] = test_launder(malloc(DELAY_SIZE));
        cr_assert_not_null(blk[i]);
        memset(blk[i], fill, DELAY_SIZE);
    }
    int node = numa_ptr_node(blk[0]);
    cr_assert_geq(node, 0, "%p was not served by numa-alloc", blk[0]);
    return node;
}

Test(purge, delay_is_in_milliseconds, .timeout = 60.)
{
    long delay_ms = purge_delay_ms_past_young();
    double delay = (double)delay_ms / 1000;
    static void *blk[DELAY_N];
    int node = malloc_delay_blocks(blk, 0x7E);
    long long purged0, dirty0, purged, dirty;
    purge_counts(node, &purged0, &dirty0);

    double first_free = test_now_s();
    for (size_t i = 0; i < DELAY_N; i++)
        free(blk[i]);
    /* A quarter of the delay later, a slow path: nothing is due yet. */
    test_sleep_ms(delay_ms / 4);
    page_run_slow_path();
    purge_counts(node, &purged, &dirty);
    double early = test_now_s() - first_free;
    cr_log_info("%.3f s after the first free: dirty %lld KiB, purged %lld KiB", early, dirty / 1024,
                (purged - purged0) / 1024);
    /* Only when the machine did not stall us past the delay: then the purge was too early. */
    if (early < delay * 0.9) {
        cr_assert_lt(purged - purged0, (long long)DELAY_TOTAL / 4,
                     "%lld KiB purged %.3f s after the free, before the %ld ms delay",
                     (purged - purged0) / 1024, early, delay_ms);
        cr_assert_geq(dirty, (long long)DELAY_TOTAL * 3 / 4,
                      "only %lld KiB dirty %.3f s after freeing %zu KiB (delay %ld ms)",
                      dirty / 1024, early, DELAY_TOTAL / KiB, delay_ms);
    }

    /* Then slow paths every 10 ms until the freed memory is purged. */
    double seen = 0;
    do {
        test_sleep_ms(10);
        page_run_slow_path();
        purge_counts(node, &purged, &dirty);
        seen = test_now_s() - first_free;
    } while (purged - purged0 < (long long)DELAY_TOTAL * 3 / 4 && seen < DELAY_WAIT);
    cr_log_info("purged %lld KiB after %.3f s (delay %ld ms)", (purged - purged0) / 1024, seen,
                delay_ms);
    cr_assert_geq(purged - purged0, (long long)DELAY_TOTAL * 3 / 4,
                  "%.1f s after freeing %zu KiB (delay %ld ms) only %lld KiB purged, %lld KiB "
                  "dirty",
                  seen, DELAY_TOTAL / KiB, delay_ms, (purged - purged0) / 1024, dirty / 1024);
    /* Not before the delay (10 ms: the library's clock is CLOCK_MONOTONIC_COARSE). */
    cr_assert_geq(seen, delay - 0.010,
                  "purged %.3f s after the first free, before the %ld ms delay", seen, delay_ms);
}

/*
 * A purge that comes due purges only what is due: memory freed half a delay
 * after the first free stays resident until its own delay has passed, also
 * when the first memory's purge runs (mutant purge-ignores-age: every dirty
 * run was purged then). Adjacent free runs merge and take the later free's
 * time, so the first half may wait too; only the second half is checked.
 */
Test(purge, memory_freed_later_waits_its_own_delay, .timeout = 60.)
{
    long delay_ms = purge_delay_ms_past_young();
    double delay = (double)delay_ms / 1000;
    static void *blk[DELAY_N];
    int node = malloc_delay_blocks(blk, 0x3C);
    for (size_t i = 0; i < DELAY_N / 2; i++)
        free(blk[i]);
    test_sleep_ms(delay_ms / 2);
    double second_free = test_now_s();
    for (size_t i = DELAY_N / 2; i < DELAY_N; i++)
        free(blk[i]);
    /* The first half is due now, the second in some 0.3 delays. */
    test_sleep_ms(delay_ms * 7 / 10);
    page_run_slow_path();
    long long purged, dirty;
    purge_counts(node, &purged, &dirty);
    double since = test_now_s() - second_free;
    cr_log_info("%.3f s after the second free: dirty %lld KiB", since, dirty / 1024);
    if (since < delay * 0.9) /* else the machine stalled us past the second half's delay */
        cr_assert_geq(dirty, (long long)DELAY_TOTAL / 2 * 3 / 4,
                      "only %lld KiB dirty %.3f s after freeing %zu KiB (delay %ld ms)",
                      dirty / 1024, since, DELAY_TOTAL / 2 / KiB, delay_ms);
}

/* ---- a clean segment run merged into a dirty one ------------------------ */

#define SEGMENT (4 * MiB) /* core/layout.h's SEGMENT_SIZE */

/*
 * When purging gives a whole pages segment back, it becomes a clean free run
 * (its pages read zero). If the run just before it in the heap is dirty (a
 * huge object freed moments ago, too young to purge), the two merge, and the
 * merged run must stay dirty: a huge calloc carved from it must clear the
 * old object's bytes. (Mutant segment-merge-loses-dirty: the merged run was
 * recorded as clean and calloc returned the old bytes.)
 */
Test(purge, clean_segment_merged_into_a_dirty_run_stays_dirty, .timeout = 60.)
{
    const char *env = getenv("NUMA_ALLOC_PURGE_DELAY_MS");
    long delay_ms = env ? strtol(env, NULL, 10) : 1000;
    cr_assert(delay_ms >= 100 && delay_ms <= 1000,
              "this test wants NUMA_ALLOC_PURGE_DELAY_MS between 100 and 1000, not %ld", delay_ms);

    /* The dirty run: a huge object, the last segments taken from fresh space. */
    size_t huge_size = 6 * MiB;
    unsigned char *huge = test_launder(malloc(huge_size));
    cr_assert_not_null(huge);
    test_assert_ours(huge);
    memset(huge, 0x5A, huge_size);
    uintptr_t after_huge = ((uintptr_t)huge + huge_size + SEGMENT - 1) & ~(uintptr_t)(SEGMENT - 1);

    /* The clean run to be: large objects until one lands in a pages segment
     * right after the huge object (the next segment taken from fresh space). */
    enum { MAX_LARGE = 64 };
    void *large[MAX_LARGE];
    int nlarge = 0;
    bool next_to_huge = false;
    while (nlarge < MAX_LARGE && !next_to_huge) {
        large[nlarge] = test_launder(malloc(MiB));
        cr_assert_not_null(large[nlarge]);
        memset(large[nlarge], 0x6B, MiB);
        next_to_huge = ((uintptr_t)large[nlarge] & ~(uintptr_t)(SEGMENT - 1)) == after_huge;
        nlarge++;
    }
    cr_assert(next_to_huge,
              "no pages segment was made right after the huge object (%p, %zu bytes) in %d "
              "large blocks: the layout this test relies on changed",
              (void *)huge, huge_size, MAX_LARGE);
    for (int i = 0; i < nlarge; i++)
        free(large[i]);

    /* Once the large blocks are due for purging, free the huge object: it is
     * young (dirty), the purge on that free gives the pages segment back clean,
     * and the two runs merge. */
    test_sleep_ms(delay_ms + delay_ms / 2);
    free(huge);

    /* The merged run is the best fit for the same huge size again. */
    unsigned char *again = test_launder(calloc(1, huge_size));
    cr_assert_not_null(again);
    cr_assert_eq((void *)again, (void *)huge,
                 "calloc(%zu) did not reuse the freed huge object's run (%p, not %p): the "
                 "layout this test relies on changed",
                 huge_size, (void *)again, (void *)huge);
    long bad = test_bytes_check(again, huge_size, 0);
    cr_assert_eq(bad, -1, "calloc(%zu) over a merged dirty run has old bytes at offset %ld",
                 huge_size, bad);
    free(again);
}

/*
 * A young heap's pages segment is committed only as far as its spans reach
 * (core/segment.c, commit_length). Emptied and given back by malloc_trim, it
 * becomes a free segment run marked uncommitted (decommitted too: core/purge.c,
 * purge_run_pages), and a huge object carved from it later must be made
 * writable first: written whole here.
 */
static void emptied_segments_serve_huge_objects(void)
{
    enum { EMPTIED_LARGE = 8, LATER_HUGE = 8 };
    /* Two to a segment, committed 3.25 MiB of 4; one to a segment, past that. */
    size_t large_size = 1536 * KiB, huge_size = SEGMENT - 64 * KiB;
    void *large[EMPTIED_LARGE], *huge[LATER_HUGE];
    for (int i = 0; i < EMPTIED_LARGE; i++) {
        large[i] = test_launder(malloc(large_size));
        cr_assert_not_null(large[i]);
        test_assert_ours(large[i]);
        memset(large[i], 0x4c, large_size);
    }
    for (int i = 0; i < EMPTIED_LARGE; i++)
        free(large[i]);
    malloc_trim(0);
    int reused = 0;
    for (int i = 0; i < LATER_HUGE; i++) {
        huge[i] = test_launder(malloc(huge_size));
        cr_assert_not_null(huge[i]);
        memset(huge[i], 0x48, huge_size);
        uintptr_t seg = (uintptr_t)huge[i] & ~(uintptr_t)(SEGMENT - 1);
        for (int j = 0; j < EMPTIED_LARGE; j++)
            reused += ((uintptr_t)large[j] & ~(uintptr_t)(SEGMENT - 1)) == seg;
    }
    for (int i = 0; i < LATER_HUGE; i++) {
        long bad = test_bytes_check(huge[i], huge_size, 0x48);
        cr_assert_eq(bad, -1, "huge object %d lost its byte at offset %ld", i, bad);
        free(huge[i]);
    }
    cr_assert_gt(reused, 0,
                 "no huge object reused a segment the large blocks emptied: the layout this "
                 "test relies on changed");
}

Test(purge, a_segment_committed_in_part_serves_a_huge_object_later, .timeout = 60.)
{
    emptied_segments_serve_huge_objects();
}

/*
 * The same past the slot's first 64 MiB (PARTIAL_COMMIT_SPAN), where pages
 * segments are committed whole: given back, they are decommitted all the
 * same (core/page_runs.c, page_run_release_segment), and their free run must
 * say so. (Mutant uncommitted-run-forgotten: SIGSEGV.)
 */
Test(purge, a_segment_committed_whole_then_decommitted_serves_a_huge_object_later, .timeout = 60.)
{
    void *past_the_span = test_launder(malloc(72 * MiB)); /* never written: not resident */
    cr_assert_not_null(past_the_span);
    emptied_segments_serve_huge_objects();
    free(past_the_span);
}

/*
 * A free segment run purged is decommitted (core/purge.c, purge_run_pages):
 * its pages past the header read-only, charged nothing. Objects carved from
 * it later make what they take writable, and the header page of the piece
 * left after them, which the carve writes (core/segment.c, commit_taken):
 * huge objects one after the other from a 40 MiB block's run, then large
 * blocks (pages segments) from the run again, all written whole. (Mutants
 * decommitted-run-unmarked, tail-header-uncommitted: SIGSEGV.)
 */
Test(purge, a_decommitted_run_serves_objects_and_keeps_the_rest, .timeout = 60.)
{
    enum { HUGE = 6, LARGE = 24 };
    /* It starts 8 KiB into its run (core/huge.c) and fills it: writable whole, not marked. */
    size_t first_size = 40 * MiB - 8 * KiB, huge_size = 6 * MiB, large_size = MiB;
    char *first = test_launder(malloc(first_size));
    cr_assert_not_null(first);
    test_assert_ours(first);
    cr_assert_eq(((uintptr_t)first + first_size) % SEGMENT, 0,
                 "the block does not end its run: the layout this test relies on changed");
    memset(first, 0x44, first_size);
    free(first);
    malloc_trim(0);
    void *huge[HUGE], *large[LARGE];
    int reused = 0;
    for (int i = 0; i < HUGE; i++) {
        huge[i] = test_launder(malloc(huge_size));
        cr_assert_not_null(huge[i]);
        memset(huge[i], 0x50 + i, huge_size);
        reused += (char *)huge[i] >= first && (char *)huge[i] < first + first_size;
    }
    cr_assert_gt(reused, 1,
                 "the huge objects did not reuse the freed block's run: the layout this test "
                 "relies on changed");
    for (int i = 0; i < HUGE; i++) {
        long bad = test_bytes_check(huge[i], huge_size, 0x50 + i);
        cr_assert_eq(bad, -1, "huge object %d lost its byte at offset %ld", i, bad);
        free(huge[i]);
    }
    malloc_trim(0);
    for (int i = 0; i < LARGE; i++) {
        large[i] = test_launder(malloc(large_size));
        cr_assert_not_null(large[i]);
        memset(large[i], 0x60 + i, large_size);
    }
    for (int i = 0; i < LARGE; i++) {
        long bad = test_bytes_check(large[i], large_size, 0x60 + i);
        cr_assert_eq(bad, -1, "large block %d lost its byte at offset %ld", i, bad);
        free(large[i]);
    }
}

/* ---- emptied slabs while the heap is young ----------------------------- */

#define SLAB_BLOCK 64
#define SLAB_TOTAL (2 * MiB) /* the young budget: as much would have spent it all */
#define SLAB_N     (SLAB_TOTAL / SLAB_BLOCK)

/*
 * The life cycle of struct span's `emptied` mark (core/layout.h): set when
 * a slab empties, its run waits the delay though the heap is young
 * (core/purge.c) and spends none of the young budget; malloc_trim purges it
 * all the same, and the run, clean, loses the mark (the debug build's heap
 * check). Its own suite, named to run first: the young window is the
 * runner's first second (PURGE_YOUNG_MS), and the test is skipped past it.
 * (Mutants young-purges-emptied-slabs, young-emptied-slabs-spend-budget,
 * purged-run-keeps-emptied-mark.)
 */
/* Debug builds export the heap check (interpose/debug_api.c): it aborts on a broken heap. */
size_t numa_alloc_debug_check(void) __attribute__((weak));

Test(emptied_slabs, wait_the_delay_while_young, .timeout = 60.)
{
    static void *blk[SLAB_N];
    void *probe = test_launder(malloc(SLAB_BLOCK));
    cr_assert_not_null(probe);
    int node = numa_ptr_node(probe);
    cr_assert_geq(node, 0, "%p was not served by numa-alloc", probe);
    free(probe);

    long long purged0, dirty0, purged, dirty;
    purge_counts(node, &purged0, &dirty0);
    page_run_slow_path();
    purge_counts(node, &purged, &dirty);
    if (purged == purged0)
        cr_skip_test("the heap is not young (past its first second, or a delay was set): "
                     "nothing to test");

    for (size_t i = 0; i < SLAB_N; i++) {
        blk[i] = test_launder(malloc(SLAB_BLOCK));
        cr_assert_not_null(blk[i]);
        memset(blk[i], 0x3C, SLAB_BLOCK);
    }
    purge_counts(node, &purged0, &dirty0);
    for (size_t i = 0; i < SLAB_N; i++)
        free(blk[i]);
    page_run_slow_path();
    purge_counts(node, &purged, &dirty);
    cr_log_info("%zu KiB of slabs emptied young: dirty %lld -> %lld KiB, purged %lld KiB",
                SLAB_TOTAL / KiB, dirty0 / 1024, dirty / 1024, (purged - purged0) / 1024);
    /* The slow path's own block may go at once, beside them (256 KiB is room for it). */
    cr_assert_lt(purged - purged0, 256 * KiB,
                 "%lld KiB purged when %zu KiB of slabs emptied young: they wait the delay",
                 (purged - purged0) / 1024, SLAB_TOTAL / KiB);
    cr_assert_geq(dirty - dirty0, (long long)SLAB_TOTAL / 2,
                  "only %lld KiB more dirty after %zu KiB of slabs emptied",
                  (dirty - dirty0) / 1024, SLAB_TOTAL / KiB);

    /* The budget is unspent: a page run freed now still goes at once. */
    purge_counts(node, &purged0, &dirty0);
    page_run_slow_path();
    purge_counts(node, &purged, &dirty);
    cr_assert_gt(purged, purged0, "emptied slabs spent the young budget: a page run stays dirty");

    malloc_trim(0);
    purge_counts(node, &purged, &dirty);
    cr_assert_eq(dirty, 0, "%lld KiB still dirty after malloc_trim", dirty / 1024);
    if (numa_alloc_debug_check)
        numa_alloc_debug_check();
}
