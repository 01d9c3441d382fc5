/*
 * test_numa_api.c - the explicit API: invalid nodes give EINVAL, impossible
 * sizes give ENOMEM, numa_malloc(node, 0) gives a freeable unique block, and
 * numa_ptr_node reports the node of our blocks and -1 for anything else.
 */
#include "test_util.h"

#include <criterion/criterion.h>
#include <malloc.h>
#include <stdint.h>
#include <sys/mman.h>

#include "numa_alloc.h"

static unsigned char usable[TEST_MAX_NODES];
static unsigned char online[TEST_MAX_NODES];

static void read_nodes(void)
{
    cr_assert_gt(test_usable_nodes(usable), 0, "no usable NUMA node found");
    if (test_read_node_file("/sys/devices/system/node/online", online, TEST_MAX_NODES) < 0)
        online[0] = 1;
}

/* Node ids numa_malloc must refuse: outside the online set (including
 * negative and absurd ids), or online but without memory / not allowed. */
static size_t invalid_nodes(int *out, size_t cap)
{
    static const int fixed[] = {
        -1, -2, 64, 100000, INT_MAX, INT_MIN, TEST_MAX_NODES, TEST_MAX_NODES + 1};
    size_t n = 0;
    int highest = 0;
    for (int i = 0; i < TEST_MAX_NODES; i++)
        if (online[i])
            highest = i;
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0] && n < cap; i++)
        if (fixed[i] < 0 || fixed[i] >= TEST_MAX_NODES || !online[fixed[i]])
            out[n++] = fixed[i];
    /* The first ids past the highest online node, and any hole below it. */
    for (int i = 0; i < TEST_MAX_NODES && i <= highest + 3 && n < cap; i++)
        if (!usable[i])
            out[n++] = i;
    return n;
}

static void expect_einval(void *p, int err, const char *call, int node)
{
    cr_assert_null(p, "%s on node %d returned %p, expected NULL", call, node, p);
    cr_assert_eq(err, EINVAL, "%s on node %d: errno %d, expected EINVAL (%d)", call, node, err,
                 EINVAL);
}

Test(numa_api, invalid_nodes_einval)
{
    read_nodes();
    int bad[64];
    size_t n = invalid_nodes(bad, 64);
    cr_assert_geq(n, 5);
    for (size_t i = 0; i < n; i++) {
        int node = bad[i];
        static const size_t sizes[] = {1, 100, 40000, 3 * MiB};
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            errno = 0;
            void *p = numa_malloc(node, sizes[s]);
            expect_einval(p, errno, "numa_malloc", node);
            errno = 0;
            p = numa_calloc(node, 1, sizes[s]);
            expect_einval(p, errno, "numa_calloc", node);
            errno = 0;
            p = numa_aligned_alloc(node, 64, sizes[s]);
            expect_einval(p, errno, "numa_aligned_alloc", node);
        }
        errno = 0;
        void *p = numa_malloc(node, 0);
        expect_einval(p, errno, "numa_malloc(size 0)", node);
    }
}

Test(numa_api, impossible_sizes_enomem)
{
    read_nodes();
    static const size_t sizes[] = {SIZE_MAX, SIZE_MAX - 1, SIZE_MAX - 4096,
                                   SIZE_MAX / 2 + 1 /* PTRDIFF_MAX + 1 */,
                                   SIZE_MAX / 2 /* PTRDIFF_MAX */};
    for (int node = 0; node < TEST_MAX_NODES; node++) {
        if (!usable[node])
            continue;
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            errno = 0;
            void *p = numa_malloc(node, sizes[i]);
            cr_assert_null(p, "numa_malloc(%d, %zu) = %p, expected NULL", node, sizes[i], p);
            cr_assert_eq(errno, ENOMEM, "numa_malloc(%d, %zu): errno %d, expected ENOMEM", node,
                         sizes[i], errno);
            errno = 0;
            p = numa_aligned_alloc(node, 4096, sizes[i]);
            cr_assert_null(p, "numa_aligned_alloc(%d, 4096, %zu) = %p, expected NULL", node,
                           sizes[i], p);
            cr_assert_eq(errno, ENOMEM,
                         "numa_aligned_alloc(%d, 4096, %zu): errno %d, expected ENOMEM", node,
                         sizes[i], errno);
        }
        static const size_t ovf[][2] = {{SIZE_MAX / 2, 3}, {3, SIZE_MAX / 2}, {SIZE_MAX, 2}};
        for (size_t i = 0; i < sizeof ovf / sizeof ovf[0]; i++) {
            errno = 0;
            void *p = numa_calloc(node, ovf[i][0], ovf[i][1]);
            cr_assert_null(p, "numa_calloc(%d, %zu, %zu) = %p, expected NULL", node, ovf[i][0],
                           ovf[i][1], p);
            cr_assert_eq(errno, ENOMEM, "numa_calloc(%d, %zu, %zu): errno %d, expected ENOMEM",
                         node, ovf[i][0], ovf[i][1], errno);
        }
        /* Still working after the failures. */
        void *p = test_launder(numa_malloc(node, 100));
        cr_assert_not_null(p);
        free(p);
    }
}

Test(numa_api, zero_size_is_unique_and_freeable)
{
    read_nodes();
    for (int node = 0; node < TEST_MAX_NODES; node++) {
        if (!usable[node])
            continue;
        void *a = test_launder(numa_malloc(node, 0));
        void *b = test_launder(numa_malloc(node, 0));
        cr_assert_not_null(a, "numa_malloc(%d, 0) returned NULL", node);
        cr_assert_not_null(b, "numa_malloc(%d, 0) returned NULL", node);
        cr_assert_neq(a, b, "two numa_malloc(%d, 0) returned the same pointer", node);
        cr_assert_eq(numa_ptr_node(a), node);
        cr_assert_eq(numa_ptr_node(b), node);
        free(a);
        free(b);
        void *c = test_launder(numa_calloc(node, 0, 0));
        cr_assert_not_null(c, "numa_calloc(%d, 0, 0) returned NULL", node);
        free(c);
    }
}

static int static_data[64];
static int static_init[4] = {1, 2, 3, 4};
static const char static_rodata[] = "not an allocator block";

Test(numa_api, ptr_node_foreign_memory_is_minus_one)
{
    int stack_var[16] = {0};
    cr_assert_eq(numa_ptr_node(NULL), -1);
    cr_assert_eq(numa_ptr_node(stack_var), -1, "numa_ptr_node(stack) = %d",
                 numa_ptr_node(stack_var));
    cr_assert_eq(numa_ptr_node(static_data), -1, "numa_ptr_node(.bss) = %d",
                 numa_ptr_node(static_data));
    cr_assert_eq(numa_ptr_node(static_rodata), -1, "numa_ptr_node(.rodata) = %d",
                 numa_ptr_node(static_rodata));
    cr_assert_eq(numa_ptr_node(static_init), -1, "numa_ptr_node(.data) = %d",
                 numa_ptr_node(static_init));

    /* Anonymous mappings of several sizes, touched and untouched. */
    static const size_t lens[] = {4096, 64 * KiB, 4 * MiB, 64 * MiB};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        unsigned char *m =
            mmap(NULL, lens[i], PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        cr_assert_neq(m, MAP_FAILED);
        m[0] = 1;
        for (size_t off = 0; off<lens[i]; off += lens[i] / 8> 4096 ? lens[i] / 8 : 4096)
            cr_assert_eq(numa_ptr_node(m + off), -1, "numa_ptr_node(mmap %zu + %zu) = %d", lens[i],
                         off, numa_ptr_node(m + off));
        cr_assert_eq(numa_ptr_node(m + lens[i] - 1), -1);
        munmap(m, lens[i]);
    }
}

Test(numa_api, ptr_node_of_our_blocks)
{
    read_nodes();
    static const size_t sizes[] = {1, 8, 16, 100, 1000, 32768, 40000, 300000, 2 * MiB + 1, 8 * MiB};
    /* malloc: the node of the CPU we run on (pinned for the check). */
    int here = test_pin_current_node();
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        unsigned char *p = test_launder(malloc(sizes[i]));
        cr_assert_not_null(p);
        size_t u = malloc_usable_size(p);
        cr_assert_eq(numa_ptr_node(p), here, "numa_ptr_node(malloc(%zu)) = %d, current node %d",
                     sizes[i], numa_ptr_node(p), here);
        memset(p, 0x42, u);
        free(p);
    }
    for (int node = 0; node < TEST_MAX_NODES; node++) {
        if (!usable[node])
            continue;
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            unsigned char *a = test_launder(numa_malloc(node, sizes[i]));
            unsigned char *c = test_launder(numa_calloc(node, 1, sizes[i]));
            unsigned char *l = test_launder(numa_aligned_alloc(node, 4096, sizes[i]));
            cr_assert(a && c && l, "node %d size %zu: %p %p %p", node, sizes[i], a, c, l);
            cr_assert_eq(numa_ptr_node(a), node, "numa_ptr_node(numa_malloc(%d, %zu)) = %d", node,
                         sizes[i], numa_ptr_node(a));
            cr_assert_eq(numa_ptr_node(c), node, "numa_ptr_node(numa_calloc(%d, 1, %zu)) = %d",
                         node, sizes[i], numa_ptr_node(c));
            cr_assert_eq(numa_ptr_node(l), node,
                         "numa_ptr_node(numa_aligned_alloc(%d, 4096, %zu)) = %d", node, sizes[i],
                         numa_ptr_node(l));
            /* free / malloc_usable_size work on numa_* pointers. */
            cr_assert_geq(malloc_usable_size(a), sizes[i]);
            cr_assert_geq(malloc_usable_size(c), sizes[i]);
            cr_assert_geq(malloc_usable_size(l), sizes[i]);
            memset(a, 1, malloc_usable_size(a));
            memset(c, 2, malloc_usable_size(c));
            memset(l, 3, malloc_usable_size(l));
            free(a);
            free(c);
            free(l);
        }
    }
}

/* numa_ptr_node looks up "the block containing ptr": any address inside a
 * block, not just its start, gives the block's node. */
Test(numa_api, ptr_node_of_interior_pointers)
{
    read_nodes();
    static const size_t sizes[] = {1,     8,      16,      100,         1000,   32768,
                                   40000, 300000, 2 * MiB, 2 * MiB + 1, 8 * MiB};
    for (int node = 0; node < TEST_MAX_NODES; node++) {
        if (!usable[node])
            continue;
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            unsigned char *p = test_launder(numa_malloc(node, sizes[i]));
            cr_assert_not_null(p);
            size_t u = malloc_usable_size(p);
            size_t offs[] = {0, 1, u / 2, u - 1};
            for (size_t k = 0; k < sizeof offs / sizeof offs[0]; k++)
                cr_expect_eq(numa_ptr_node(p + offs[k]), node,
                             "numa_malloc(%d, %zu) = %p (usable %zu): numa_ptr_node(p + %zu) = %d",
                             node, sizes[i], p, u, offs[k], numa_ptr_node(p + offs[k]));
            free(p);
        }
    }
}
