/*
 * test_purge.c - freed memory goes back to the OS.
 *
 * ~256 MiB is allocated and touched in small (1 KiB) and large (256 KiB)
 * blocks, then freed. With malloc_trim(0) the RSS must fall at once by at
 * least 75% of what the allocation added; without it, the time decay must do
 * the same about 1 s after the last free, on later allocator activity.
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
            memset(w->small[i], 0x5C, SMALL_SIZE);
        }
        if (j < NLARGE) {
            w->large[j] = test_launder(malloc(LARGE_SIZE));
            cr_assert_not_null(w->large[j], "malloc(%zu) #%zu failed", (size_t)LARGE_SIZE, j);
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
