/*
 * test_page_runs.c - which free page run a large request takes
 * (core/page_runs.c): the best fit, the lowest address among equals, not the
 * most recently freed run that is long enough.
 *
 * Regression: the most recently freed run of a length list was taken, so a
 * short request cut a long run while a shorter one was free; in the `large`
 * benchmark a later long request then found only pieces and took a fresh
 * segment: 997 more page faults (docs/benchmarks.md, round four).
 *
 * Each test lays out rounds of a fence, the two sizes under test and a
 * block that fills the rest of a segment's 1000 usable pages (after its
 * 24 header pages, docs/architecture.md), all held, and frees blocks of different rounds
 * whose neighbours are held blocks (or the segment's header or end): their
 * runs touch no free run, so they stay as they were (nothing is coalesced).
 * Where the rounds fall in their segments depends on what the process
 * allocated before (the test runner's blocks, the node cache's size): with
 * a node cache of 4 KiB every SHORT block lay at a segment's end. A round
 * that does not fill a fresh segment (the first may go into what is left of
 * one) is not used.
 */
#include "test_util.h"
#include <criterion/criterion.h>
#include <malloc.h>

#define ROUNDS  6
#define COLUMNS 4
#define PAGE    4096
#define SEGMENT (4 * MiB)
#define HEADER  (24 * (size_t)PAGE) /* a segment's first usable page: nothing free before it */
#define USABLE  (1000 * (size_t)PAGE)
#define FENCE   (160 * KiB) /* 40 pages: with the sizes below, the rest is a large class */

/* Sizes of large classes that are whole pages: the run is exactly that long. */
#define SHORT (1280 * KiB) /* 320 pages */
#define LONG  (1536 * KiB) /* 384 pages, in the same free-run list (256..511 pages) */

/* fence, a, b, the rest, ROUNDS times over: every block stays held until the test ends. */
static char *held[ROUNDS * COLUMNS];

static void lay_out(size_t a, size_t b)
{
    const size_t size[COLUMNS] = {FENCE, a, b, USABLE - FENCE - a - b};
    for (int i = 0; i < ROUNDS * COLUMNS; i++) {
        held[i] = malloc(size[i % COLUMNS]);
        cr_assert(held[i] != NULL);
        test_assert_ours(held[i]);
    }
}

/*
 * Is block i's run between two held blocks (but `other`), or a segment's
 * header or end, so that freeing it merges nothing? (Runs never merge across
 * segments.)
 */
static bool isolated(int i, int other)
{
    char *start = held[i], *end = start + malloc_usable_size(start);
    bool left = (uintptr_t)start % SEGMENT == HEADER, right = (uintptr_t)end % SEGMENT == 0;
    for (int j = 0; j < ROUNDS * COLUMNS; j++) {
        if (j == i || j == other)
            continue;
        left |= held[j] + malloc_usable_size(held[j]) == start;
        right |= held[j] == end;
    }
    return left && right;
}

/* Two isolated blocks of different rounds, of columns ca and cb. */
static void pick(int ca, int cb, int *ia, int *ib)
{
    for (int i = ca; i < ROUNDS * COLUMNS; i += COLUMNS)
        for (int j = cb; j < ROUNDS * COLUMNS; j += COLUMNS)
            if (i / COLUMNS != j / COLUMNS && isolated(i, j) && isolated(j, i)) {
                *ia = i;
                *ib = j;
                return;
            }
    for (int i = 0; i < ROUNDS * COLUMNS; i++)
        fprintf(stderr, "held[%d] %p: segment page %zu, %zu pages\n", i, (void *)held[i],
                (size_t)((uintptr_t)held[i] % SEGMENT / PAGE), malloc_usable_size(held[i]) / PAGE);
    cr_assert_fail("no two blocks of %d rounds lie between held blocks", ROUNDS);
}

Test(page_runs, best_fit_before_the_most_recently_freed)
{
    int ia, ib;
    lay_out(SHORT, LONG);
    pick(1, 2, &ia, &ib);
    char *a = held[ia], *b = held[ib];
    free(a);
    free(b); /* now the most recently freed run of the list, and long enough */
    char *p = malloc(SHORT);
    cr_assert(p != NULL);
    cr_assert_neq(p, b, "a %zu KiB request cut the %zu KiB run while one of %zu KiB was free",
                  SHORT / KiB, LONG / KiB, SHORT / KiB);
    cr_assert_eq(p, a, "%p: not the free %zu KiB run at %p", (void *)p, SHORT / KiB, (void *)a);
}

Test(page_runs, lowest_address_among_equal_fits)
{
    int ia, ib;
    lay_out(SHORT, SHORT);
    pick(1, 2, &ia, &ib);
    char *low = held[ia] < held[ib] ? held[ia] : held[ib];
    char *high = held[ia] < held[ib] ? held[ib] : held[ia];
    free(low);
    free(high); /* freed last */
    char *p = malloc(SHORT);
    cr_assert(p != NULL);
    cr_assert_eq(p, low, "%p: not the lower of the two free runs (%p, %p)", (void *)p, (void *)low,
                 (void *)high);
}

/*
 * Descriptors are reused (core/layout.h, span_index): a segment has fewer
 * spans than pages, but every split of a run needs a descriptor for its new
 * piece, and one that took a fresh descriptor each time ran out of them (the
 * library stops with "ran out of span descriptors") after a thousand. Each
 * round splits the free rest of a segment twice and merges it back.
 */
Test(page_runs, splits_and_merges_reuse_descriptors)
{
    for (int round = 0; round < 5000; round++) {
        char *first = malloc(40 * KiB), *second = malloc(40 * KiB);
        cr_assert(first && second);
        first[0] = second[0] = 1;
        free(second);
        free(first);
    }
}

/*
 * A large free reads the clock once: its run's time, which the purge check
 * after it uses too. It read it three times (the young budget's check, the
 * run's time, the purge check), some 5 ns each: 3 % of the `large`
 * benchmark's instructions (docs/benchmarks.md, session 42). Debug builds
 * count the readings (interpose/debug_api.c). A large object's malloc and
 * free visit the thread's bins every 16 objects (core/thread_cache.c,
 * LARGE_GC_BYTES), and a visit may read it again (an emptied slab, an idle
 * shard): so most frees, not all, must read it once.
 */
uint64_t numa_alloc_debug_clock_reads(void) __attribute__((weak));

Test(page_runs, a_large_free_reads_the_clock_once)
{
    if (!numa_alloc_debug_clock_reads)
        cr_skip_test("a release build: debug builds count the clock's readings");
    enum { FREES = 64 };
    static char *block[FREES];
    /* Spends the young budget (a block over PURGE_YOUNG_BLOCK_MAX) and leaves a run dirty. */
    free(test_launder(malloc(SHORT)));
    int once = 0;
    uint64_t reads = 0;
    for (int i = 0; i < FREES; i++) {
        block[i] = test_launder(malloc(SHORT));
        cr_assert_not_null(block[i]);
        test_assert_ours(block[i]);
        memset(block[i], 0x5A, PAGE);
        uint64_t before = numa_alloc_debug_clock_reads();
        free(block[i]);
        uint64_t n = numa_alloc_debug_clock_reads() - before;
        reads += n;
        once += n == 1;
    }
    cr_log_info("%d frees of %zu KiB read the clock %llu times, %d of them once", FREES,
                SHORT / KiB, (unsigned long long)reads, once);
    cr_assert_geq(once, FREES * 3 / 4,
                  "only %d of %d large frees read the clock once (%llu in all)", once, FREES,
                  (unsigned long long)reads);
}
