/*
 * test_contract.c - the size, alignment and errno contract of every
 * allocating entry point, swept as mimalloc's test-api does: alignments
 * (every power of two from 1 to 1 GiB, and odd ones) x sizes (0, small,
 * class boundaries, large, huge, near and above the largest request,
 * SIZE_MAX) x entry points (the malloc family and numa_*). A result is
 * aligned, its usable size covers the request, the block can be written
 * whole, a failure is NULL with glibc's errno.
 *
 * The oracle for the malloc family is the C library's own allocator, looked
 * up in libc.so.6 with dlsym and called side by side: failure, errno and
 * posix_memalign's code must be the same as this glibc's for every case.
 *
 * Regressions of issue 10:
 *   finding 1 - an alignment of 4 MiB or more put the object on a segment
 *               boundary: usable size 0, free() aborted or died of SIGFPE;
 *   finding 2 - realloc(huge, SIZE_MAX) wrapped to 0 bytes in place;
 *   finding 9 - memalign(24, n) failed with EINVAL where glibc rounds up.
 */
#include "test_util.h"

#include <criterion/criterion.h>
#include <dlfcn.h>
#include <malloc.h>
#include <pthread.h>
#include <sys/wait.h>

#include "numa_alloc.h"

#define GiB            ((size_t)1 << 30)
#define SENTINEL_ERRNO 4242

/* ---- the C library's allocator, as oracle ------------------------------ */

static struct {
    void *(*malloc)(size_t);
    void *(*calloc)(size_t, size_t);
    void *(*memalign)(size_t, size_t);
    void *(*aligned_alloc)(size_t, size_t);
    int (*posix_memalign)(void **, size_t, size_t);
    void *(*valloc)(size_t);
    void *(*pvalloc)(size_t);
    void (*free)(void *);
} libc;

static void *libc_symbol(void *handle, const char *name)
{
    void *sym = dlsym(handle, name);
    cr_assert_not_null(sym, "libc.so.6 has no %s", name);
    return sym;
}

static void load_libc(void)
{
    void *handle = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
    cr_assert_not_null(handle, "libc.so.6 is not loaded");
    *(void **)&libc.malloc = libc_symbol(handle, "malloc");
    *(void **)&libc.calloc = libc_symbol(handle, "calloc");
    *(void **)&libc.memalign = libc_symbol(handle, "memalign");
    *(void **)&libc.aligned_alloc = libc_symbol(handle, "aligned_alloc");
    *(void **)&libc.posix_memalign = libc_symbol(handle, "posix_memalign");
    *(void **)&libc.valloc = libc_symbol(handle, "valloc");
    *(void **)&libc.pvalloc = libc_symbol(handle, "pvalloc");
    *(void **)&libc.free = libc_symbol(handle, "free");
    /* Make sure these are glibc's, not ours reached through the interposition. */
    cr_assert_neq((void *)libc.malloc, (void *)malloc, "dlsym gave numa-alloc's malloc");
}

/* ---- entry points ------------------------------------------------------- */

enum entry {
    E_MALLOC,
    E_CALLOC,
    E_VALLOC,
    E_PVALLOC,
    E_NUMA_MALLOC,
    E_NUMA_CALLOC,
    E_UNALIGNED_COUNT, /* the entries above take no alignment */
    E_MEMALIGN = E_UNALIGNED_COUNT,
    E_ALIGNED_ALLOC,
    E_POSIX_MEMALIGN,
    E_NUMA_ALIGNED,
    E_COUNT
};

static const char *const entry_name[E_COUNT] = {
    "malloc",      "calloc",   "valloc",        "pvalloc",        "numa_malloc",
    "numa_calloc", "memalign", "aligned_alloc", "posix_memalign", "numa_aligned_alloc"};

/* What a call gave: the block, or 0 and the error (errno, or posix_memalign's code). */
struct outcome {
    void *ptr;
    int err;
};

static struct outcome call_ours(enum entry e, int node, size_t align, size_t size)
{
    struct outcome o = {NULL, 0};
    errno = SENTINEL_ERRNO;
    switch (e) {
    case E_MALLOC:
        o.ptr = malloc(size);
        break;
    case E_CALLOC:
        o.ptr = calloc(1, size);
        break;
    case E_VALLOC:
        o.ptr = valloc(size);
        break;
    case E_PVALLOC:
        o.ptr = pvalloc(size);
        break;
    case E_NUMA_MALLOC:
        o.ptr = numa_malloc(node, size);
        break;
    case E_NUMA_CALLOC:
        o.ptr = numa_calloc(node, 1, size);
        break;
    case E_MEMALIGN:
        o.ptr = memalign(align, size);
        break;
    case E_ALIGNED_ALLOC:
        o.ptr = aligned_alloc(align, size);
        break;
    case E_POSIX_MEMALIGN: {
        int rc = posix_memalign(&o.ptr, align, size);
        if (rc != 0) {
            cr_expect_null(o.ptr, "posix_memalign(%zu, %zu) stored a pointer but failed", align,
                           size);
            o.ptr = NULL;
            o.err = rc;
        }
        /* glibc leaves errno alone on EINVAL and sets ENOMEM with ENOMEM: compared below. */
        return o;
    }
    default:
        o.ptr = numa_aligned_alloc(node, align, size);
        break;
    }
    o.ptr = test_launder(o.ptr);
    if (!o.ptr)
        o.err = errno;
    return o;
}

/* The same call to glibc; false when the entry has no glibc counterpart. */
static bool call_glibc(enum entry e, size_t align, size_t size, struct outcome *o, int *errno_out)
{
    *o = (struct outcome){NULL, 0};
    errno = SENTINEL_ERRNO;
    switch (e) {
    case E_MALLOC:
        o->ptr = libc.malloc(size);
        break;
    case E_CALLOC:
        o->ptr = libc.calloc(1, size);
        break;
    case E_VALLOC:
        o->ptr = libc.valloc(size);
        break;
    case E_PVALLOC:
        o->ptr = libc.pvalloc(size);
        break;
    case E_MEMALIGN:
        o->ptr = libc.memalign(align, size);
        break;
    case E_ALIGNED_ALLOC:
        o->ptr = libc.aligned_alloc(align, size);
        break;
    case E_POSIX_MEMALIGN:
        o->err = libc.posix_memalign(&o->ptr, align, size);
        if (o->err)
            o->ptr = NULL;
        *errno_out = errno;
        if (o->ptr)
            libc.free(o->ptr);
        return true;
    default:
        return false;
    }
    *errno_out = errno;
    if (!o->ptr)
        o->err = errno;
    libc.free(o->ptr);
    return true;
}

static bool is_power_of_two(size_t x)
{
    return x != 0 && (x & (x - 1)) == 0;
}

/* The alignment a successful call must honour (glibc's rule for the memalign family). */
static size_t required_alignment(enum entry e, size_t align)
{
    if (e == E_VALLOC || e == E_PVALLOC)
        return 4096;
    if (e < E_UNALIGNED_COUNT || align <= 16)
        return 16;
    if (e == E_NUMA_ALIGNED || is_power_of_two(align))
        return align;
    size_t rounded = 32;
    while (rounded < align)
        rounded <<= 1;
    return rounded;
}

/* numa_* have no glibc twin: their documented outcome. */
static int numa_expected_err(enum entry e, size_t align, size_t size)
{
    if (e == E_NUMA_ALIGNED && !is_power_of_two(align))
        return EINVAL;
    return size > 64 * MiB || align > GiB ? ENOMEM : 0;
}

/* ---- checking a block --------------------------------------------------- */

/* Byte ranges of a block that a check writes: all of it, or its first and last page. */
#define WRITE_WHOLE_MAX (4 * MiB)

static void for_each_checked_range(size_t usable, void (*fn)(size_t off, size_t len, void *arg),
                                   void *arg)
{
    if (usable <= WRITE_WHOLE_MAX) {
        fn(0, usable, arg);
        return;
    }
    fn(0, 4096, arg);
    fn(usable - 4096, 4096, arg);
}

struct block {
    char *ptr;
    size_t usable;
    uint64_t seed;
};

static void check_zero_range(size_t off, size_t len, void *arg)
{
    struct block *b = arg;
    long bad = test_bytes_check(b->ptr + off, len, 0);
    cr_assert_eq(bad, -1, "calloc block %p not zero at offset %zu", b->ptr, off + (size_t)bad);
}

static void fill_range(size_t off, size_t len, void *arg)
{
    struct block *b = arg;
    test_pattern_fill(b->ptr + off, len, b->seed ^ off);
}

static void check_range(size_t off, size_t len, void *arg)
{
    struct block *b = arg;
    long bad = test_pattern_check(b->ptr + off, len, b->seed ^ off);
    cr_assert_eq(bad, -1, "block %p (usable %zu) overwritten at offset %zu", b->ptr, b->usable,
                 off + (size_t)bad);
}

/* ---- the sweep ---------------------------------------------------------- */

static const size_t sweep_sizes[] = {
    0,
    1,
    15,
    16,
    17,
    100,
    128,
    129,
    1024,
    1025,
    4095,
    4096,
    4097,
    32768,           /* the largest small class */
    32769,           /* the smallest large object */
    100000,          /* large */
    2 * MiB,         /* the largest large object */
    2 * MiB + 1,     /* the smallest huge object */
    5 * MiB + 123,   /* huge, over a segment */
    64 * MiB,        /* huge */
    (size_t)1 << 61, /* near the largest request: no memory */
    ((size_t)1 << 62) - 1,
    (size_t)1 << 62, /* the largest request numa-alloc accepts */
    ((size_t)1 << 62) + 1,
    PTRDIFF_MAX, /* glibc's limit */
    (size_t)PTRDIFF_MAX + 1,
    SIZE_MAX - 4096,
    SIZE_MAX - 4095, /* rounding to a page wraps from here */
    SIZE_MAX - 1,
    SIZE_MAX,
};
#define NSIZES (sizeof sweep_sizes / sizeof sweep_sizes[0])

/* Alignments beside the powers of two: glibc rounds these up, or refuses them. */
static const size_t odd_alignments[] = {0,
                                        3,
                                        24,
                                        48,
                                        1000,
                                        4095,
                                        4097,
                                        3 * MiB,
                                        4 * MiB + 1,
                                        GiB - 1,
                                        ((size_t)1 << 62) + 1,
                                        (size_t)1 << 63,
                                        ((size_t)1 << 63) + 1,
                                        SIZE_MAX};

#define MAX_SWEEP_LIVE (E_COUNT * NSIZES)

/* Runs one (entry, alignment, size) case; a successful block is filled and kept in `live`. */
static void sweep_case(enum entry e, int node, size_t align, size_t size, struct block *live,
                       size_t *nlive)
{
    struct outcome ours = call_ours(e, node, align, size);
    int ours_errno = errno;
    struct outcome ref;
    int ref_errno = 0;
    const char *name = entry_name[e];
    if (call_glibc(e, align, size, &ref, &ref_errno)) {
        cr_expect_eq(ours.ptr != NULL, ref.ptr != NULL,
                     "%s(align %zu, size %zu): numa-alloc %s, glibc %s", name, align, size,
                     ours.ptr ? "succeeds" : "fails", ref.ptr ? "succeeds" : "fails");
        cr_expect_eq(ours.err, ref.err, "%s(align %zu, size %zu): error %d, glibc %d", name, align,
                     size, ours.err, ref.err);
        if (e == E_POSIX_MEMALIGN && !ours.ptr)
            cr_expect_eq(ours_errno, ref_errno, "posix_memalign(%zu, %zu): errno %d, glibc's %d",
                         align, size, ours_errno, ref_errno);
    } else {
        int want = numa_expected_err(e, align, size);
        cr_expect_eq(ours.err, want, "%s(node %d, align %zu, size %zu): error %d, expected %d",
                     name, node, align, size, ours.err, want);
    }
    if (!ours.ptr)
        return;
    size_t required = required_alignment(e, align);
    cr_expect_eq((uintptr_t)ours.ptr % required, 0, "%s(align %zu, size %zu) = %p: not %zu-aligned",
                 name, align, size, ours.ptr, required);
    size_t usable = malloc_usable_size(ours.ptr);
    size_t need = e == E_PVALLOC ? (size + 4095) & ~(size_t)4095 : size;
    cr_assert_geq(usable, need, "%s(align %zu, size %zu): usable %zu < %zu", name, align, size,
                  usable, need);
    if (e == E_NUMA_MALLOC || e == E_NUMA_CALLOC || e == E_NUMA_ALIGNED)
        cr_expect_eq(numa_ptr_node(ours.ptr), node, "%s(node %d, align %zu, size %zu): node %d",
                     name, node, align, size, numa_ptr_node(ours.ptr));
    struct block b = {ours.ptr, usable, test_pattern_seed((uint64_t)e, align, size)};
    if (e == E_CALLOC || e == E_NUMA_CALLOC)
        for_each_checked_range(size, check_zero_range, &b); /* the request, not the slack */
    for_each_checked_range(usable, fill_range, &b);
    cr_assert_lt(*nlive, (size_t)MAX_SWEEP_LIVE);
    live[(*nlive)++] = b;
}

/* Checks that no live block was overwritten by another, then frees them all. */
static void check_and_free(struct block *live, size_t *nlive)
{
    for (size_t i = 0; i < *nlive; i++)
        for_each_checked_range(live[i].usable, check_range, &live[i]);
    for (size_t i = 0; i < *nlive; i++)
        free(live[i].ptr);
    *nlive = 0;
}

Test(contract, sweep_alignments_sizes_entry_points, .timeout = 60.)
{
    load_libc();
    int node = test_first_usable_node();
    cr_assert_geq(node, 0);
    static struct block live[MAX_SWEEP_LIVE];
    size_t nlive = 0;
    double t0 = test_now_s();
    for (size_t s = 0; s < NSIZES; s++)
        for (int e = 0; e < E_UNALIGNED_COUNT; e++)
            sweep_case((enum entry)e, node, 0, sweep_sizes[s], live, &nlive);
    check_and_free(live, &nlive);
    size_t nodd = sizeof odd_alignments / sizeof odd_alignments[0];
    for (size_t a = 0; a <= 30 + nodd; a++) {
        size_t align = a <= 30 ? (size_t)1 << a : odd_alignments[a - 31];
        for (size_t s = 0; s < NSIZES; s++)
            for (int e = E_UNALIGNED_COUNT; e < E_COUNT; e++)
                sweep_case((enum entry)e, node, align, sweep_sizes[s], live, &nlive);
        check_and_free(live, &nlive);
    }
    double took = test_now_s() - t0;
    cr_log_info("sweep: %.2f s", took);
    cr_expect_lt(took, 20.0, "the sweep took %.1f s", took);
}

/* ---- realloc of aligned blocks ------------------------------------------ */

/* Reallocs p (pattern `seed` over *have bytes) to `want`; content and node must stay. */
static char *realloc_step(char *p, size_t *have, size_t want, uint64_t seed, int node)
{
    char *q = test_launder(realloc(p, want));
    cr_assert_not_null(q, "realloc(%p, %zu) failed", p, want);
    size_t keep = *have < want ? *have : want;
    long bad = test_pattern_check(q, keep, seed);
    cr_assert_eq(bad, -1, "realloc %zu -> %zu lost content at %ld", *have, want, bad);
    size_t usable = malloc_usable_size(q);
    cr_assert_geq(usable, want);
    cr_assert_eq(numa_ptr_node(q), node, "realloc to %zu moved the block from node %d to %d", want,
                 node, numa_ptr_node(q));
    size_t fill = usable < 16 * MiB ? usable : 16 * MiB;
    test_pattern_fill(q, fill, seed);
    *have = fill;
    return q;
}

/* Every realloc above the largest request fails with ENOMEM and leaves the block as it was. */
static void refused_reallocs_leave_block(char *p, size_t have, uint64_t seed)
{
    static const size_t too_big[] = {((size_t)1 << 62) + 1,
                                     PTRDIFF_MAX,
                                     (size_t)PTRDIFF_MAX + 1,
                                     SIZE_MAX - 4096,
                                     SIZE_MAX - 4095,
                                     SIZE_MAX - 1,
                                     SIZE_MAX};
    size_t usable = malloc_usable_size(p);
    int node = numa_ptr_node(p);
    for (size_t i = 0; i < sizeof too_big / sizeof too_big[0]; i++) {
        errno = 0;
        /* laundered: the compiler must not assume p is gone after a realloc */
        void *q = realloc(test_launder(p), too_big[i]);
        cr_assert_null(q, "realloc(%p (usable %zu), %zu) = %p, expected NULL", p, usable,
                       too_big[i], q);
        cr_assert_eq(errno, ENOMEM, "realloc(%p, %zu): errno %d", p, too_big[i], errno);
        cr_assert_eq(malloc_usable_size(p), usable, "a refused realloc(%p, %zu) resized the block",
                     p, too_big[i]);
        cr_assert_eq(numa_ptr_node(p), node);
        errno = 0;
        q = reallocarray(test_launder(p), 2, too_big[i] / 2 + 1);
        cr_assert_null(q, "reallocarray(%p, 2, %zu) = %p", p, too_big[i] / 2 + 1, q);
        cr_assert_eq(errno, ENOMEM);
    }
    cr_assert_eq(test_pattern_check(p, have, seed), -1, "a refused realloc changed the content");
}

Test(contract, realloc_of_aligned_blocks_up_and_down, .timeout = 60.)
{
    static const size_t aligns[] = {16, 64, 4096, 2 * MiB, 4 * MiB, 8 * MiB, 256 * MiB, GiB};
    static const size_t starts[] = {1, 5000, 3 * MiB};
    static const size_t ladder[] = {100, 40000, 3 * MiB, 9 * MiB, 200, 7, 5 * MiB, 1};
    static unsigned char usable_nodes[TEST_MAX_NODES];
    cr_assert_gt(test_usable_nodes(usable_nodes), 0);
    for (int node = 0; node < TEST_MAX_NODES; node++) {
        if (!usable_nodes[node])
            continue;
        for (size_t a = 0; a < sizeof aligns / sizeof aligns[0]; a++) {
            for (size_t s = 0; s < sizeof starts / sizeof starts[0]; s++) {
                for (int via_memalign = 0; via_memalign < 2; via_memalign++) {
                    char *p = via_memalign ? memalign(aligns[a], starts[s])
                                           : numa_aligned_alloc(node, aligns[a], starts[s]);
                    p = test_launder(p);
                    cr_assert_not_null(p, "align %zu size %zu", aligns[a], starts[s]);
                    cr_assert_eq((uintptr_t)p % aligns[a], 0);
                    int home = via_memalign ? numa_ptr_node(p) : node;
                    cr_assert_eq(numa_ptr_node(p), home);
                    uint64_t seed = test_pattern_seed(aligns[a], starts[s], (uint64_t)node);
                    size_t have = starts[s];
                    test_pattern_fill(p, have, seed);
                    refused_reallocs_leave_block(p, have, seed);
                    for (size_t i = 0; i < sizeof ladder / sizeof ladder[0]; i++)
                        p = realloc_step(p, &have, ladder[i], seed, home);
                    refused_reallocs_leave_block(p, have, seed);
                    free(p);
                }
            }
        }
    }
}

/* ---- finding 2: realloc to a size whose rounding wraps ------------------ */

Test(contract, realloc_to_size_max_of_a_huge_block_fails_untouched)
{
    static const size_t huge_sizes[] = {2 * MiB + 1, 5 * MiB, 64 * MiB};
    for (size_t i = 0; i < sizeof huge_sizes / sizeof huge_sizes[0]; i++) {
        char *p = test_launder(malloc(huge_sizes[i]));
        cr_assert_not_null(p);
        uint64_t seed = test_pattern_seed(9, i, huge_sizes[i]);
        test_pattern_fill(p, huge_sizes[i], seed);
        refused_reallocs_leave_block(p, huge_sizes[i], seed);
        free(p);
    }
    /* Small and large blocks too. */
    char *small = test_launder(malloc(40)), *large = test_launder(malloc(100000));
    cr_assert(small && large);
    test_pattern_fill(small, 40, 1);
    test_pattern_fill(large, 100000, 2);
    refused_reallocs_leave_block(small, 40, 1);
    refused_reallocs_leave_block(large, 100000, 2);
    free(small);
    free(large);
}

/* ---- finding 1: alignments of a segment (4 MiB) and more ------------------ */

/* The node the kernel put the (touched) page holding `addr` on. */
static int page_node(void *addr)
{
    void *page = (void *)((uintptr_t)addr & ~(uintptr_t)4095);
    int status = -1;
    long rc = syscall(SYS_move_pages, 0, 1UL, &page, NULL, &status, 0);
    cr_assert_eq(rc, 0, "move_pages: %s", strerror(errno));
    return status;
}

Test(contract, segment_aligned_objects_are_whole_blocks, .timeout = 60.)
{
    static const size_t aligns[] = {4 * MiB, 8 * MiB, 64 * MiB, GiB};
    static const size_t sizes[] = {1, 4096, 5 * MiB};
    static unsigned char usable_nodes[TEST_MAX_NODES];
    cr_assert_gt(test_usable_nodes(usable_nodes), 0);
    for (size_t a = 0; a < sizeof aligns / sizeof aligns[0]; a++) {
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            for (int f = 0; f < 3 + TEST_MAX_NODES; f++) {
                size_t align = aligns[a], size = sizes[s];
                void *p = NULL;
                int node = f - 3;
                if (f == 0)
                    p = aligned_alloc(align, size);
                else if (f == 1)
                    p = memalign(align, size);
                else if (f == 2)
                    cr_assert_eq(posix_memalign(&p, align, size), 0);
                else if (usable_nodes[node])
                    p = numa_aligned_alloc(node, align, size);
                else
                    continue;
                p = test_launder(p);
                cr_assert_not_null(p, "align %zu size %zu (way %d) failed", align, size, f);
                cr_assert_eq((uintptr_t)p % align, 0);
                size_t usable = malloc_usable_size(p);
                cr_assert_geq(usable, size, "align %zu size %zu: usable %zu", align, size, usable);
                /* 0xff in the first page once read as a page tag of 255 (SIGFPE at free). */
                memset(p, 0xff, usable);
                int owner = numa_ptr_node(p);
                cr_assert_geq(owner, 0, "numa_ptr_node of a %zu-aligned block: %d", align, owner);
                cr_assert_eq(numa_ptr_node((char *)p + usable - 1), owner);
                if (node >= 0)
                    cr_assert_eq(owner, node, "numa_aligned_alloc(%d, %zu, %zu): node %d", node,
                                 align, size, owner);
                int first = page_node(p), last = page_node((char *)p + usable - 1);
                cr_assert(first == owner && last == owner,
                          "align %zu size %zu: pages on nodes %d and %d, numa_ptr_node says %d",
                          align, size, first, last, owner);
                free(p);
            }
        }
    }
}

Test(contract, segment_aligned_interior_free_aborts, .signal = SIGABRT)
{
    char *p = test_launder(aligned_alloc(4 * MiB, 3 * 4096));
    cr_assert_not_null(p);
    cr_assert_geq(malloc_usable_size(p), 3 * 4096);
    memset(p, 0, 3 * 4096);
    free(p + 4096);
}

/* Many live at once (the registry grows), counted in mallinfo2 as huge objects. */
Test(contract, many_segment_aligned_objects, .timeout = 60.)
{
    enum { N = 300 };
    static char *obj[N];
    struct mallinfo2 before = mallinfo2();
    for (size_t i = 0; i < N; i++) {
        size_t align = (size_t)4 * MiB << (i % 3);
        obj[i] = test_launder(memalign(align, 100 + i));
        cr_assert_not_null(obj[i], "object %zu", i);
        cr_assert_eq((uintptr_t)obj[i] % align, 0);
        test_pattern_fill(obj[i], 100 + i, i);
    }
    struct mallinfo2 during = mallinfo2();
    cr_expect_eq(during.hblks - before.hblks, N, "huge objects counted: %zu, expected %d",
                 during.hblks - before.hblks, N);
    cr_expect_geq(during.hblkhd - before.hblkhd, (size_t)N * 4096);
    test_rng rng = {42};
    for (size_t i = N; i > 1; i--) { /* free in random order */
        size_t j = test_rng_range(&rng, 0, i - 1);
        char *t = obj[j];
        obj[j] = obj[i - 1];
        obj[i - 1] = t;
    }
    for (size_t i = 0; i < N; i++) {
        size_t usable = malloc_usable_size(obj[i]);
        cr_assert_geq(usable, 100);
        free(obj[i]);
    }
    struct mallinfo2 after = mallinfo2();
    cr_expect_eq(after.hblks, before.hblks);
    cr_expect_eq(after.hblkhd, before.hblkhd);
}

static void *aligned_churn(void *arg)
{
    uint64_t seed = (uint64_t)(uintptr_t)arg;
    for (int i = 0; i < 500; i++) {
        size_t size = 1 + (size_t)(test_mix64(seed + (uint64_t)i) % 20000);
        char *p = test_launder(aligned_alloc(8 * MiB, size));
        if (!p || (uintptr_t)p % (8 * MiB) != 0 || malloc_usable_size(p) < size)
            return (void *)1;
        test_pattern_fill(p, size, seed + (uint64_t)i);
        char *q = test_launder(malloc(size));
        if (!q)
            return (void *)1;
        free(q);
        if (test_pattern_check(p, size, seed + (uint64_t)i) != -1)
            return (void *)1;
        free(p);
    }
    return NULL;
}

Test(contract, segment_aligned_objects_from_threads_and_fork, .timeout = 60.)
{
    pthread_t t[4];
    for (uintptr_t i = 0; i < 4; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, aligned_churn, (void *)(i + 1)), 0);
    char *kept = test_launder(aligned_alloc(4 * MiB, 100));
    cr_assert_not_null(kept);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) { /* the child owns a copy and frees it, then allocates */
        free(kept);
        char *p = aligned_alloc(16 * MiB, 10);
        _exit(p && malloc_usable_size(p) >= 10 && aligned_churn((void *)9) == NULL ? 0 : 1);
    }
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
    for (int i = 0; i < 4; i++) {
        void *r = (void *)1;
        pthread_join(t[i], &r);
        cr_assert_null(r, "thread %d saw a bad aligned block", i);
    }
    free(kept);
}

/* ---- finding 9: glibc rounds odd alignments up ---------------------------- */

Test(contract, memalign_rounds_odd_alignments_up)
{
    static const size_t odd[] = {0, 3, 24, 48, 1000};
    static const size_t sizes[] = {1, 24, 100, 5000, 100000};
    for (size_t a = 0; a < sizeof odd / sizeof odd[0]; a++) {
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            size_t want = required_alignment(E_MEMALIGN, odd[a]);
            errno = 0;
            void *m = test_launder(memalign(odd[a], sizes[s]));
            cr_assert_not_null(m, "memalign(%zu, %zu): errno %d", odd[a], sizes[s], errno);
            void *al = test_launder(aligned_alloc(odd[a], sizes[s]));
            cr_assert_not_null(al, "aligned_alloc(%zu, %zu): errno %d", odd[a], sizes[s], errno);
            cr_assert_eq((uintptr_t)m % want, 0, "memalign(%zu): %p", odd[a], m);
            cr_assert_eq((uintptr_t)al % want, 0, "aligned_alloc(%zu): %p", odd[a], al);
            cr_assert_geq(malloc_usable_size(m), sizes[s]);
            cr_assert_geq(malloc_usable_size(al), sizes[s]);
            memset(m, 1, sizes[s]);
            memset(al, 2, sizes[s]);
            free(m);
            free(al);
        }
    }
    /* Non-powers of two stay refused by posix_memalign, errno untouched. */
    for (size_t a = 0; a < sizeof odd / sizeof odd[0]; a++) {
        void *p = NULL;
        errno = 77;
        cr_assert_eq(posix_memalign(&p, odd[a], 16), EINVAL);
        cr_assert_eq(errno, 77);
        cr_assert_null(p);
    }
}
