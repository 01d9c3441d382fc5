/*
 * test_libnuma_compat.c - a program may include <numa.h> and "numa_alloc.h",
 * link -lnuma and this library, and use both: libnuma's own allocator
 * (numa_alloc_onnode / numa_realloc / numa_free, which are mmap based),
 * libnuma's bitmask API (which uses malloc/free, i.e. ours) and our
 * numa_malloc / free, all in the same process.
 *
 * That this file compiles and links with -Wall -Wextra -Werror against both
 * is the first half of the test.
 */
#include "test_util.h"

#include <criterion/criterion.h>
#include <malloc.h>
#include <numa.h>

#include "numa_alloc.h"

Test(libnuma_compat, both_allocators_side_by_side, .timeout = 60.)
{
    cr_assert_geq(numa_available(), 0, "libnuma reports NUMA unavailable");
    int node = test_first_usable_node();
    cr_assert_geq(node, 0, "no usable NUMA node found");
    cr_assert_leq(node, numa_max_node());

    /* libnuma's allocator: page-granular mmap memory, not ours. */
    size_t len = 1 * MiB;
    unsigned char *ln = numa_alloc_onnode(len, node);
    cr_assert_not_null(ln, "numa_alloc_onnode(%zu, %d) failed", len, node);
    test_pattern_fill(ln, len, 0x1111);
    cr_assert_eq(numa_ptr_node(ln), -1, "numa_ptr_node of libnuma memory = %d", numa_ptr_node(ln));

    /* Ours, interleaved with libnuma's. */
    void *ours[64];
    for (int i = 0; i < 64; i++) {
        size_t s = (size_t)(i + 1) * 1000;
        ours[i] = test_launder(numa_malloc(node, s));
        cr_assert_not_null(ours[i], "numa_malloc(%d, %zu) failed", node, s);
        cr_assert_eq(numa_ptr_node(ours[i]), node);
        test_pattern_fill(ours[i], s, test_pattern_seed(7, (uint64_t)i, s));
    }

    /* numa_realloc grows libnuma's block (mremap); content survives. */
    unsigned char *ln2 = numa_realloc(ln, len, 4 * len);
    cr_assert_not_null(ln2, "numa_realloc failed");
    cr_assert_eq(test_pattern_check(ln2, len, 0x1111), -1, "numa_realloc lost content");
    memset(ln2 + len, 0x77, 3 * len);
    cr_assert_eq(numa_ptr_node(ln2), -1);

    /* libnuma's bitmask API allocates with malloc (ours) and frees with
     * free (ours). */
    for (int r = 0; r < 100; r++) {
        struct bitmask *bm = numa_allocate_nodemask();
        cr_assert_not_null(bm);
        numa_bitmask_setbit(bm, (unsigned)node);
        cr_assert(numa_bitmask_isbitset(bm, (unsigned)node));
        numa_bitmask_free(bm);
        struct bitmask *cpus = numa_allocate_cpumask();
        cr_assert_not_null(cpus);
        cr_assert_eq(numa_node_to_cpus(node, cpus), 0);
        numa_bitmask_free(cpus);
    }
    struct bitmask *all = numa_parse_nodestring("all");
    cr_assert_not_null(all);
    cr_assert(numa_bitmask_isbitset(all, (unsigned)node));
    numa_bitmask_free(all);

    /* Our blocks are intact, then freed with plain free(). */
    for (int i = 0; i < 64; i++) {
        size_t s = (size_t)(i + 1) * 1000;
        cr_assert_eq(test_pattern_check(ours[i], s, test_pattern_seed(7, (uint64_t)i, s)), -1,
                     "numa_malloc block #%d corrupted next to libnuma allocations", i);
        free(ours[i]);
    }
    cr_assert_eq(test_bytes_check(ln2 + len, 3 * len, 0x77), -1);
    numa_free(ln2, 4 * len);

    /* And malloc still is ours after all this. */
    void *m = test_launder(malloc(100));
    cr_assert_not_null(m);
    cr_assert_neq(numa_ptr_node(m), -1, "malloc is not served by numa-alloc");
    free(m);
}

Test(libnuma_compat, numa_realloc_shrink_and_other_node_calls)
{
    cr_assert_geq(numa_available(), 0);
    int node = test_first_usable_node();
    cr_assert_geq(node, 0, "no usable NUMA node found");
    size_t len = 8 * MiB;
    unsigned char *p = numa_alloc_onnode(len, node);
    cr_assert_not_null(p);
    test_pattern_fill(p, len, 0x2222);
    unsigned char *q = numa_realloc(p, len, len / 8);
    cr_assert_not_null(q);
    cr_assert_eq(test_pattern_check(q, len / 8, 0x2222), -1);
    void *z = test_launder(numa_calloc(node, 1000, 10));
    cr_assert_not_null(z);
    cr_assert_eq(test_bytes_check(z, 10000, 0), -1);
    cr_assert_eq(numa_ptr_node(z), node);
    numa_free(q, len / 8);
    free(z);
    void *a = numa_alloc_local(12345);
    cr_assert_not_null(a);
    memset(a, 1, 12345);
    numa_free(a, 12345);
}
