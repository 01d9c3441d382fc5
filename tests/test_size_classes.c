/*
 * test_size_classes.c - size-class mapping and the waste bound.
 *
 * For every request size 1..40000 and a sample of larger sizes (large page
 * runs and huge mappings up to 64 MiB): malloc_usable_size >= size, the
 * waste bound holds (< 12.5% of the usable size from 128 bytes on, < 16 bytes
 * below), and usable sizes never decrease as the request grows.  The exact
 * classes of the design are checked too.
 */
#include "test_util.h"

#include <criterion/criterion.h>
#include <malloc.h>

#include "numa_alloc.h"

#define DENSE_MAX ((size_t)40000)

/* Allocates `size` bytes, returns the usable size, frees the block. */
static size_t usable_of(size_t size)
{
    void *p = test_launder(malloc(size));
    cr_assert_not_null(p, "malloc(%zu) returned NULL", size);
    size_t u = malloc_usable_size(p);
    /* Touch both ends: the usable size must be real memory. */
    ((volatile unsigned char *)p)[0] = 1;
    ((volatile unsigned char *)p)[u - 1] = 1;
    free(p);
    return u;
}

static void check_bound(size_t size, size_t usable)
{
    cr_assert_geq(usable, size, "malloc_usable_size %zu < request %zu", usable, size);
    if (size >= 128)
        cr_assert_lt((usable - size) * 8, usable,
                     "request %zu: usable %zu wastes %zu bytes (>= 12.5%%)", size, usable,
                     usable - size);
    else
        cr_assert_lt(usable - size, 16, "request %zu: usable %zu wastes %zu bytes (>= 16)", size,
                     usable, usable - size);
}

Test(size_classes, dense_1_to_40000, .timeout = 60.)
{
    size_t prev = 0;
    for (size_t size = 1; size <= DENSE_MAX; size++) {
        size_t u = usable_of(size);
        check_bound(size, u);
        cr_assert_geq(u, prev, "usable size went down: request %zu -> %zu, request %zu -> %zu",
                      size - 1, prev, size, u);
        prev = u;
    }
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

/* Sizes above the dense range: boundaries around every class step of the
 * 8-per-doubling scheme, page boundaries, the 2 MiB large/huge border and
 * log-uniform random sizes, up to 64 MiB. */
static size_t large_sample(size_t *out, size_t cap)
{
    size_t n = 0;
    for (size_t base = 32768; base <= 32 * MiB && n + 40 < cap; base *= 2) {
        for (size_t k = 0; k <= 8; k++) {
            size_t c = base + k * (base / 8);
            out[n++] = c - 1;
            out[n++] = c;
            out[n++] = c + 1;
            out[n++] = c + 4095;
        }
    }
    out[n++] = 2 * MiB - 4096;
    out[n++] = 2 * MiB + 4096;
    out[n++] = 2 * MiB + 4097;
    out[n++] = 64 * MiB;
    test_rng rng = {0x5eed5eedull};
    while (n < cap) {
        /* log-uniform in (40000, 64 MiB] */
        unsigned bits = (unsigned)test_rng_range(&rng, 15, 25);
        size_t s = ((size_t)1 << bits) + test_rng_range(&rng, 0, ((size_t)1 << bits) - 1);
        out[n++] = s;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (out[i] > DENSE_MAX && out[i] <= 64 * MiB)
            out[m++] = out[i];
    qsort(out, m, sizeof out[0], cmp_size);
    return m;
}

Test(size_classes, sampled_large_and_huge, .timeout = 60.)
{
    static size_t sizes[3000];
    size_t n = large_sample(sizes, sizeof sizes / sizeof sizes[0]);
    cr_assert_gt(n, 1000);
    size_t prev = usable_of(DENSE_MAX);
    for (size_t i = 0; i < n; i++) {
        size_t size = sizes[i];
        size_t u = usable_of(size);
        check_bound(size, u);
        cr_assert_geq(u, prev, "usable size went down: request %zu -> %zu (previous %zu)", size, u,
                      prev);
        cr_assert_eq(u % 4096, 0, "request %zu above 32 KiB: usable %zu is not whole pages", size,
                     u);
        if (size > TEST_LARGE_MAX)
            cr_assert_lt(u - size, 4096, "huge request %zu: usable %zu not rounded to a page", size,
                         u);
        prev = u;
    }
}

/* The small classes of the design are exactly the usable sizes. */
Test(size_classes, exact_small_classes)
{
    size_t classes[128];
    size_t n = test_small_classes(classes, 128);
    cr_assert_eq(n, 8 + 8 * 8, "class table has %zu entries", n);
    cr_assert_eq(classes[n - 1], TEST_SMALL_MAX);
    size_t prev = 0;
    for (size_t i = 0; i < n; i++) {
        size_t c = classes[i];
        cr_assert_eq(usable_of(c), c, "malloc(%zu): usable %zu, expected the class size", c,
                     usable_of(c));
        /* One byte more than the previous class lands in this class. */
        cr_assert_eq(usable_of(prev + 1), c, "malloc(%zu): usable %zu, expected class %zu",
                     prev + 1, usable_of(prev + 1), c);
        prev = c;
    }
}

/* Every request maps to the class the design gives it, small and large. */
Test(size_classes, mapping_matches_design, .timeout = 60.)
{
    for (size_t size = 1; size <= DENSE_MAX; size++) {
        size_t u = usable_of(size);
        cr_assert_eq(u, test_expected_usable(size), "malloc(%zu): usable %zu, design says %zu",
                     size, u, test_expected_usable(size));
    }
    static size_t sizes[3000];
    size_t n = large_sample(sizes, sizeof sizes / sizeof sizes[0]);
    for (size_t i = 0; i < n; i++) {
        size_t u = usable_of(sizes[i]);
        cr_assert_eq(u, test_expected_usable(sizes[i]), "malloc(%zu): usable %zu, design says %zu",
                     sizes[i], u, test_expected_usable(sizes[i]));
    }
}
