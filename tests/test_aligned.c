/*
 * test_aligned.c - aligned_alloc, posix_memalign, memalign and
 * numa_aligned_alloc for every power-of-two alignment from 8 to 1 MiB and
 * many sizes (small, large, huge, and around the alignment): the result is
 * aligned, its whole usable size is writable without disturbing the other
 * live blocks, free() releases it; bad alignments fail with EINVAL where
 * they must (numa_aligned_alloc, posix_memalign). aligned_alloc and memalign
 * round an odd alignment up as glibc 2.36 does: test_contract.c.
 */
#include "test_util.h"

#include <criterion/criterion.h>
#include <malloc.h>
#include <stdint.h>

#include "numa_alloc.h"

enum { F_ALIGNED_ALLOC, F_POSIX_MEMALIGN, F_MEMALIGN, F_NUMA_ALIGNED, F_COUNT };
static const char *const fname[F_COUNT] = {"aligned_alloc", "posix_memalign", "memalign",
                                           "numa_aligned_alloc"};

static int valid_node(void)
{
    int node = test_first_usable_node();
    cr_assert_geq(node, 0, "no usable NUMA node found");
    return node;
}

static void *alloc_with(int f, int node, size_t align, size_t size)
{
    void *p = NULL;
    switch (f) {
    case F_ALIGNED_ALLOC:
        p = aligned_alloc(align, size);
        break;
    case F_POSIX_MEMALIGN: {
        int r = posix_memalign(&p, align, size);
        cr_assert_eq(r, 0, "posix_memalign(%zu, %zu) returned %d", align, size, r);
        break;
    }
    case F_MEMALIGN:
        p = memalign(align, size);
        break;
    default:
        p = numa_aligned_alloc(node, align, size);
        break;
    }
    return test_launder(p);
}

#define MAX_LIVE 256

Test(aligned, all_functions_all_alignments, .timeout = 90.)
{
    int node = valid_node();
    static const size_t fixed[] = {1,    4,    8,     16,    24,     100,        1000,
                                   4096, 5000, 32768, 40000, 300000, 2 * MiB + 1};
    void *live[MAX_LIVE];
    size_t live_use[MAX_LIVE];
    uint64_t live_seed[MAX_LIVE];

    for (size_t align = 8; align <= MiB; align *= 2) {
        size_t sizes[32], ns = 0;
        for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
            sizes[ns++] = fixed[i];
        sizes[ns++] = align - 1;
        sizes[ns++] = align;
        sizes[ns++] = align + 1;
        sizes[ns++] = 3 * align;
        size_t nlive = 0;
        /* Two blocks of each kind, so that a result that is only aligned
         * by luck (e.g. every other 8-byte block is 16-aligned) shows. */
        for (int f = 0; f < F_COUNT; f++) {
            for (size_t i = 0; i < 2 * ns; i++) {
                size_t size = sizes[i / 2];
                void *p = alloc_with(f, node, align, size);
                cr_assert_not_null(p, "%s(align %zu, size %zu) returned NULL", fname[f], align,
                                   size);
                /* cr_expect: report every misaligned combination, not
                 * just the first (the block is still usable memory). */
                cr_expect_eq((uintptr_t)p % align, 0, "%s(align %zu, size %zu) = %p not aligned",
                             fname[f], align, size, p);
                size_t u = malloc_usable_size(p);
                cr_assert_geq(u, size, "%s(align %zu, size %zu): usable %zu", fname[f], align, size,
                              u);
                if (f == F_NUMA_ALIGNED)
                    cr_assert_eq(numa_ptr_node(p), node,
                                 "numa_aligned_alloc(%d, %zu, %zu): numa_ptr_node = %d", node,
                                 align, size, numa_ptr_node(p));
                uint64_t seed = test_pattern_seed((uint64_t)f, align, i);
                test_pattern_fill(p, u, seed);
                cr_assert_lt(nlive, MAX_LIVE);
                live[nlive] = p;
                live_use[nlive] = u;
                live_seed[nlive] = seed;
                nlive++;
            }
        }
        for (size_t i = 0; i < nlive; i++) {
            long bad = test_pattern_check(live[i], live_use[i], live_seed[i]);
            cr_assert_eq(bad, -1,
                         "alignment %zu: live block #%zu (%p, usable %zu) corrupted at "
                         "offset %ld",
                         align, i, live[i], live_use[i], bad);
        }
        for (size_t i = 0; i < nlive; i++)
            free(live[i]);
    }
}

/* Power-of-two alignments below 8 are valid for everything but
 * posix_memalign (which needs a multiple of sizeof(void *)). */
Test(aligned, small_power_of_two_alignments)
{
    int node = valid_node();
    for (size_t align = 1; align < 8; align *= 2) {
        for (size_t size = 1; size <= 200; size += 7) {
            void *a = test_launder(aligned_alloc(align, size));
            void *m = test_launder(memalign(align, size));
            void *n = test_launder(numa_aligned_alloc(node, align, size));
            cr_assert(a && m && n, "align %zu size %zu: %p %p %p", align, size, a, m, n);
            cr_assert_geq(malloc_usable_size(a), size);
            cr_assert_geq(malloc_usable_size(m), size);
            cr_assert_geq(malloc_usable_size(n), size);
            memset(a, 1, malloc_usable_size(a));
            memset(m, 2, malloc_usable_size(m));
            memset(n, 3, malloc_usable_size(n));
            cr_assert_eq(test_bytes_check(a, malloc_usable_size(a), 1), -1);
            cr_assert_eq(test_bytes_check(m, malloc_usable_size(m), 2), -1);
            cr_assert_eq(test_bytes_check(n, malloc_usable_size(n), 3), -1);
            free(a);
            free(m);
            free(n);
        }
    }
}

static const size_t bad_align[] = {
    3,       5, 6, 7, 12, 24, 48, 100, 4095, 4097, 3 * 4096, MiB + 1, 3 * MiB, (SIZE_MAX / 2) + 2,
    SIZE_MAX};

Test(aligned, bad_alignment_einval)
{
    int node = valid_node();
    for (size_t i = 0; i < sizeof bad_align / sizeof bad_align[0]; i++) {
        size_t a = bad_align[i];
        errno = 0;
        void *p = numa_aligned_alloc(node, a, 64);
        cr_assert_null(p, "numa_aligned_alloc(%d, %zu, 64) = %p, expected NULL", node, a, p);
        cr_assert_eq(errno, EINVAL, "numa_aligned_alloc(%d, %zu, 64): errno %d, expected EINVAL",
                     node, a, errno);

        p = NULL;
        int r = posix_memalign(&p, a, 64);
        cr_assert_eq(r, EINVAL, "posix_memalign(%zu, 64) returned %d, expected EINVAL", a, r);
        cr_assert_null(p, "posix_memalign(%zu, 64) stored %p on failure", a, p);
    }
    /* Zero is not a power of two. */
    errno = 0;
    cr_assert_null(numa_aligned_alloc(node, 0, 64));
    cr_assert_eq(errno, EINVAL, "numa_aligned_alloc(%d, 0, 64): errno %d", node, errno);
    void *p = NULL;
    cr_assert_eq(posix_memalign(&p, 0, 64), EINVAL);
}

Test(aligned, posix_memalign_below_pointer_size_einval)
{
    for (size_t a = 1; a < sizeof(void *); a *= 2) {
        void *p = NULL;
        int r = posix_memalign(&p, a, 64);
        cr_assert_eq(r, EINVAL, "posix_memalign(%zu, 64) returned %d, expected EINVAL", a, r);
        cr_assert_null(p);
    }
    /* sizeof(void *) itself is fine. */
    void *p = NULL;
    cr_assert_eq(posix_memalign(&p, sizeof(void *), 64), 0);
    cr_assert_not_null(p);
    free(p);
}
