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
#include <sys/mman.h>
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
    else /* glibc's answers are the oracle, so a block of glibc's would pass all the rest */
        cr_expect_geq(numa_ptr_node(ours.ptr), 0,
                      "%s(align %zu, size %zu) = %p: not a block of numa-alloc's", name, align,
                      size, ours.ptr);
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

/* ---- each entry point's contract, by value (issue 13) --------------------- */

/*
 * The sweep above takes glibc's answers as its oracle; these state the
 * contract as numbers, so that a rule both could break (a wrapped product, a
 * missing rounding) is caught whatever glibc says. Every block must be
 * numa-alloc's (numa_ptr_node >= 0): run against plain glibc, these fail.
 */

/* C23 (glibc 2.39 and later declare them; this glibc may not). */
void free_sized(void *ptr, size_t size);
void free_aligned_sized(void *ptr, size_t alignment, size_t size);

/* Keeps constant arguments from compile-time checks (-Walloc-size-larger-than). */
static size_t opaque(size_t v)
{
    __asm__ volatile("" : "+r"(v));
    return v;
}

/* p must be a block of numa-alloc's, `align`-aligned, with at least `need` usable bytes. */
static void check_served(const void *p, size_t need, size_t align, const char *what, size_t arg)
{
    cr_assert_not_null(p, "%s(%zu) failed: errno %d", what, arg, errno);
    cr_assert_eq((uintptr_t)p % align, 0, "%s(%zu) = %p: not %zu-aligned", what, arg, p, align);
    size_t usable = malloc_usable_size((void *)p);
    cr_assert_geq(usable, need, "%s(%zu): usable %zu < %zu", what, arg, usable, need);
    cr_assert_geq(numa_ptr_node(p), 0, "%s(%zu) = %p: not a block of numa-alloc's", what, arg, p);
}

/* Pairs whose product overflows; what it wraps to is in the comment: a reallocarray or a
 * calloc that multiplied without checking would serve a block of that size. */
#define MAX_DIV(n) (SIZE_MAX / (n) + 2)
static const struct {
    size_t count, size;
} overflowing[] = {
    {MAX_DIV(16), 16},                        /* 16 */
    {16, MAX_DIV(16)},                        /* 16 */
    {MAX_DIV(4096), 4096},                    /* 4096 */
    {MAX_DIV(40000), 40000},                  /* below 80000 */
    {3, (SIZE_MAX / 3) + 2},                  /* 5 */
    {SIZE_MAX, SIZE_MAX},                     /* 1 */
    {(size_t)1 << 32, ((size_t)1 << 32) + 1}, /* 4 GiB */
    {2, (size_t)1 << 63},                     /* 0 */
    {(size_t)1 << 62, (size_t)1 << 62},       /* 0 */
};
#define NOVERFLOWING (sizeof overflowing / sizeof overflowing[0])

/*
 * While numa-alloc serves, every page-aligned block already is whole pages (a
 * small class that is a multiple of the page, a page run, a huge object), so
 * a pvalloc that forgot to round would show the same usable size here: the
 * rounding itself is checked where glibc serves it, after a failed start
 * (limits_probe basic, test_limits). This checks the promise either way.
 */
Test(contract, pvalloc_rounds_up_to_whole_pages)
{
    static const struct {
        size_t size, pages;
    } cases[] = {{0, 1},    {1, 1},      {4095, 1},   {4096, 1},         {4097, 2},
                 {8193, 3}, {40000, 10}, {40961, 11}, {3 * MiB + 1, 769}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t size = cases[i].size, rounded = cases[i].pages * 4096;
        char *p = test_launder(pvalloc(opaque(size)));
        check_served(p, rounded, 4096, "pvalloc", size);
        /* pvalloc promises the whole pages: they must be writable, and the block's own */
        memset(p, 0xa5, rounded);
        cr_assert_eq(numa_ptr_node(p + rounded - 1), numa_ptr_node(p));
        free(p);
    }
    /* Sizes whose rounding to a page wraps, and the largest: ENOMEM, as glibc. */
    static const size_t too_big[] = {SIZE_MAX - 4095, SIZE_MAX - 1, SIZE_MAX, PTRDIFF_MAX};
    for (size_t i = 0; i < sizeof too_big / sizeof too_big[0]; i++) {
        errno = 0;
        void *p = test_launder(pvalloc(opaque(too_big[i])));
        cr_assert_null(p, "pvalloc(%zu) = %p", too_big[i], p);
        cr_assert_eq(errno, ENOMEM, "pvalloc(%zu): errno %d", too_big[i], errno);
    }
}

Test(contract, valloc_is_page_aligned)
{
    static const size_t sizes[] = {0, 1, 100, 4096, 4097, 40000, 3 * MiB + 1};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char *p = test_launder(valloc(opaque(sizes[i])));
        check_served(p, sizes[i], 4096, "valloc", sizes[i]);
        memset(p, 0x5a, sizes[i]);
        free(p);
    }
    errno = 0;
    cr_assert_null(test_launder(valloc(opaque(SIZE_MAX))));
    cr_assert_eq(errno, ENOMEM);
}

/* reallocarray of a live block with an overflowing count x size: NULL, ENOMEM, and the block
 * exactly as it was (size, node, bytes), still the caller's. */
static void reallocarray_overflow_case(size_t start)
{
    char *p = test_launder(malloc(start));
    check_served(p, start, 16, "malloc", start);
    size_t usable = malloc_usable_size(p);
    int node = numa_ptr_node(p);
    uint64_t seed = test_pattern_seed(13, start, 0);
    test_pattern_fill(p, start, seed);
    for (size_t i = 0; i < NOVERFLOWING; i++) {
        size_t count = opaque(overflowing[i].count), size = opaque(overflowing[i].size);
        errno = 0;
        void *q = test_launder(reallocarray(test_launder(p), count, size));
        cr_assert_null(q,
                       "reallocarray(%p (%zu bytes), %zu, %zu) = %p (usable %zu): the product "
                       "overflows",
                       p, start, count, size, q, q ? malloc_usable_size(q) : 0);
        cr_assert_eq(errno, ENOMEM, "reallocarray(%zu, %zu): errno %d", count, size, errno);
        cr_assert_eq(malloc_usable_size(p), usable, "a refused reallocarray resized the block");
        cr_assert_eq(numa_ptr_node(p), node);
        cr_assert_eq(test_pattern_check(p, start, seed), -1,
                     "a refused reallocarray(%zu, %zu) changed the block", count, size);
    }
    /* and a product that fits is a realloc: content and node kept */
    char *q = test_launder(reallocarray(p, opaque(3), opaque(start)));
    check_served(q, 3 * start, 16, "reallocarray(3 x)", start);
    cr_assert_eq(test_pattern_check(q, start, seed), -1, "reallocarray lost the content");
    cr_assert_eq(numa_ptr_node(q), node);
    free(q);
}

Test(contract, reallocarray_overflow_fails_and_leaves_the_block)
{
    static const size_t starts[] = {40, 5000, 100000, 3 * MiB};
    for (size_t i = 0; i < sizeof starts / sizeof starts[0]; i++)
        reallocarray_overflow_case(starts[i]);
    /* reallocarray(NULL, ...) is malloc of the product: no block for an overflow either */
    for (size_t i = 0; i < NOVERFLOWING; i++) {
        errno = 0;
        void *q = test_launder(
            reallocarray(NULL, opaque(overflowing[i].count), opaque(overflowing[i].size)));
        cr_assert_null(q, "reallocarray(NULL, %zu, %zu) = %p", overflowing[i].count,
                       overflowing[i].size, q);
        cr_assert_eq(errno, ENOMEM);
    }
}

Test(contract, calloc_overflow_fails)
{
    int node = test_first_usable_node();
    cr_assert_geq(node, 0);
    for (size_t i = 0; i < NOVERFLOWING; i++) {
        size_t count = opaque(overflowing[i].count), size = opaque(overflowing[i].size);
        errno = 0;
        void *p = test_launder(calloc(count, size));
        cr_assert_null(p, "calloc(%zu, %zu) = %p: the product overflows", count, size, p);
        cr_assert_eq(errno, ENOMEM, "calloc(%zu, %zu): errno %d", count, size, errno);
        errno = 0;
        p = test_launder(numa_calloc(node, count, size));
        cr_assert_null(p, "numa_calloc(%d, %zu, %zu) = %p", node, count, size, p);
        cr_assert_eq(errno, ENOMEM);
    }
    /* A zero factor is no overflow: a minimum block, zeroed. */
    void *p = test_launder(calloc(opaque(0), opaque(SIZE_MAX)));
    check_served(p, 0, 16, "calloc(0, SIZE_MAX)", 0);
    free(p);
    char *z = test_launder(calloc(opaque(1000), opaque(41)));
    check_served(z, 41000, 16, "calloc(1000, 41)", 41000);
    cr_assert_eq(test_bytes_check(z, 41000, 0), -1);
    free(z);
}

/* aligned_alloc is memalign in glibc 2.36: both follow its rules, by value. */
Test(contract, aligned_alloc_and_memalign_alignment_rules, .timeout = 30.)
{
    static const struct {
        size_t align, honoured; /* honoured: the alignment the block must have */
    } good[] = {{0, 16},           {1, 16},      {3, 16},      {8, 16},      {16, 16},
                {17, 32},          {24, 32},     {32, 32},     {33, 64},     {48, 64},
                {100, 128},        {1000, 1024}, {4096, 4096}, {4097, 8192}, {3 * MiB, 4 * MiB},
                {5 * MiB, 8 * MiB}};
    static const size_t sizes[] = {1, 100, 5000, 100000};
    /* above 2^63: no power of two can honour it */
    static const size_t einval[] = {((size_t)1 << 63) + 1, ((size_t)1 << 63) + ((size_t)1 << 62),
                                    SIZE_MAX - 1, SIZE_MAX};
    for (int way = 0; way < 2; way++) {
        const char *what = way ? "memalign" : "aligned_alloc";
        for (size_t a = 0; a < sizeof good / sizeof good[0]; a++) {
            for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
                size_t align = opaque(good[a].align), size = opaque(sizes[s]);
                char *p = test_launder(way ? memalign(align, size) : aligned_alloc(align, size));
                check_served(p, size, good[a].honoured, what, align);
                memset(p, 0x33, size);
                free(p);
            }
        }
        for (size_t a = 0; a < sizeof einval / sizeof einval[0]; a++) {
            size_t align = opaque(einval[a]);
            errno = 0;
            void *p = test_launder(way ? memalign(align, 16) : aligned_alloc(align, 16));
            cr_assert_null(p, "%s(%zu, 16) = %p", what, align, p);
            cr_assert_eq(errno, EINVAL, "%s(%zu, 16): errno %d, expected EINVAL", what, align,
                         errno);
        }
        /* powers of two the address space cannot honour, and sizes past the limit: ENOMEM */
        static const size_t nomem[][2] = {
            {(size_t)1 << 63, 16}, {64, SIZE_MAX}, {4096, ((size_t)1 << 62) + 1}, {24, SIZE_MAX}};
        for (size_t i = 0; i < sizeof nomem / sizeof nomem[0]; i++) {
            size_t align = opaque(nomem[i][0]), size = opaque(nomem[i][1]);
            errno = 0;
            void *p = test_launder(way ? memalign(align, size) : aligned_alloc(align, size));
            cr_assert_null(p, "%s(%zu, %zu) = %p", what, align, size, p);
            cr_assert_eq(errno, ENOMEM, "%s(%zu, %zu): errno %d", what, align, size, errno);
        }
    }
}

#define OUT_UNTOUCHED ((void *)0x5ca1ab1e)

Test(contract, posix_memalign_return_values)
{
    /* EINVAL: not a power-of-two multiple of sizeof(void *); errno and *out untouched
     * (POSIX.1-2008 TC2: memptr is not modified on failure) */
    static const size_t bad[] = {0,       1, 2, 4, 12, 24, 48, 1000, 4097, ((size_t)1 << 63) + 8,
                                 SIZE_MAX};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        void *out = OUT_UNTOUCHED;
        errno = SENTINEL_ERRNO;
        int rc = posix_memalign(&out, opaque(bad[i]), opaque(64));
        cr_assert_eq(rc, EINVAL, "posix_memalign(%zu, 64) = %d, expected EINVAL", bad[i], rc);
        cr_assert_eq(errno, SENTINEL_ERRNO, "posix_memalign(%zu) changed errno", bad[i]);
        cr_assert_eq(out, OUT_UNTOUCHED, "posix_memalign(%zu) wrote %p on failure", bad[i], out);
    }
    /* ENOMEM: returned, errno ENOMEM too (as glibc), *out untouched */
    static const size_t nomem[][2] = {
        {16, SIZE_MAX}, {4096, ((size_t)1 << 62) + 1}, {(size_t)1 << 63, 16}, {64, PTRDIFF_MAX}};
    for (size_t i = 0; i < sizeof nomem / sizeof nomem[0]; i++) {
        void *out = OUT_UNTOUCHED;
        errno = 0;
        int rc = posix_memalign(&out, opaque(nomem[i][0]), opaque(nomem[i][1]));
        cr_assert_eq(rc, ENOMEM, "posix_memalign(%zu, %zu) = %d, expected ENOMEM", nomem[i][0],
                     nomem[i][1], rc);
        cr_assert_eq(errno, ENOMEM);
        cr_assert_eq(out, OUT_UNTOUCHED, "posix_memalign(%zu, %zu) wrote %p on failure",
                     nomem[i][0], nomem[i][1], out);
    }
    /* 0 and an aligned block of ours */
    static const size_t good[] = {8, 16, 32, 256, 4096, 64 * KiB, 2 * MiB, 4 * MiB};
    static const size_t sizes[] = {0, 1, 5000, 3 * MiB};
    for (size_t a = 0; a < sizeof good / sizeof good[0]; a++) {
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            void *out = OUT_UNTOUCHED;
            int rc = posix_memalign(&out, opaque(good[a]), opaque(sizes[s]));
            cr_assert_eq(rc, 0, "posix_memalign(%zu, %zu) = %d", good[a], sizes[s], rc);
            check_served(out, sizes[s], good[a] < 16 ? 16 : good[a], "posix_memalign", good[a]);
            memset(out, 0x44, sizes[s]);
            free(out);
        }
    }
}

/* Huge objects (and objects aligned to a segment) are counted in mallinfo2's hblks and
 * hblkhd, page runs in uordblks: a free_sized that did not free, or freed the wrong
 * amount, shows there. */
static void check_freed(struct mallinfo2 before, const char *what, size_t hint)
{
    struct mallinfo2 after = mallinfo2();
    cr_assert_eq(after.hblks, before.hblks, "%s(hint %zu): %zu huge objects, %zu before", what,
                 hint, after.hblks, before.hblks);
    cr_assert_eq(after.hblkhd, before.hblkhd, "%s(hint %zu): %zu huge bytes, %zu before", what,
                 hint, after.hblkhd, before.hblkhd);
    cr_assert_eq(after.uordblks, before.uordblks, "%s(hint %zu): %zu bytes in use, %zu before",
                 what, hint, after.uordblks, before.uordblks);
}

Test(contract, free_sized_and_free_aligned_sized_ignore_their_hints)
{
    static const size_t sizes[] = {100000, 3 * MiB + 5, 9 * MiB};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t size = sizes[s];
        /* the right size, then wrong ones: 0, smaller, larger, impossible */
        size_t hints[] = {size, 0, size / 2, size * 3, SIZE_MAX};
        for (size_t h = 0; h < sizeof hints / sizeof hints[0]; h++) {
            struct mallinfo2 before = mallinfo2();
            void *p = test_launder(malloc(opaque(size)));
            check_served(p, size, 16, "malloc", size);
            memset(p, 1, size);
            free_sized(p, opaque(hints[h]));
            check_freed(before, "free_sized", hints[h]);

            before = mallinfo2();
            size_t align = h % 2 ? 4 * MiB : 4096; /* a mapping of its own, a slot's block */
            p = test_launder(aligned_alloc(opaque(align), opaque(size)));
            check_served(p, size, align, "aligned_alloc", size);
            memset(p, 2, size);
            size_t wrong_align = h == 0 ? align : align * 2;
            free_aligned_sized(p, opaque(wrong_align), opaque(hints[h]));
            check_freed(before, "free_aligned_sized", hints[h]);
        }
    }
    /* A small block goes back to its thread cache: the next request of its class gets it. */
    static const size_t small[] = {16, 100, 5000, 32768};
    for (size_t s = 0; s < sizeof small / sizeof small[0]; s++) {
        void *p = test_launder(malloc(opaque(small[s])));
        check_served(p, small[s], 16, "malloc", small[s]);
        free_sized(p, opaque(small[s] * 7 + 1));
        void *again = test_launder(malloc(opaque(small[s])));
        cr_assert_eq(again, p, "free_sized(%p, wrong size) did not free the %zu-byte block", p,
                     small[s]);
        free_aligned_sized(again, opaque(64), opaque(1));
        void *third = test_launder(malloc(opaque(small[s])));
        cr_assert_eq(third, p, "free_aligned_sized did not free the %zu-byte block", small[s]);
        free_sized(third, opaque(small[s]));
    }
    free_sized(NULL, 10); /* as free(NULL) */
    free_aligned_sized(NULL, 64, 10);
}

/* Runs realloc(ptr, size) with fd 2 sent to a memory file; returns what was written there. */
static void *realloc_capturing_stderr(void *ptr, size_t size, int *err, char *said, size_t cap)
{
    int mem = memfd_create("stderr", 0);
    cr_assert_geq(mem, 0);
    int saved = dup(2);
    cr_assert_geq(saved, 0);
    cr_assert_eq(dup2(mem, 2), 2);
    errno = 0;
    void *q = test_launder(realloc(test_launder(ptr), opaque(size)));
    *err = errno;
    dup2(saved, 2);
    close(saved);
    ssize_t n = pread(mem, said, cap - 1, 0);
    said[n > 0 ? n : 0] = '\0';
    close(mem);
    return q;
}

/*
 * README, "Limits of preloading": realloc() of memory numa-alloc did not hand
 * out is refused with a message and NULL/ENOMEM (free() of it is ignored:
 * test_misuse). The memory stays as it was, and the owner's.
 */
Test(contract, realloc_of_foreign_memory_is_refused)
{
    load_libc();
    char said[512];
    int err;
    /* a mapping of the program's own */
    char *mapped = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(mapped, MAP_FAILED);
    test_pattern_fill(mapped, 8192, 77);
    cr_assert_eq(numa_ptr_node(mapped), -1);
    void *q = realloc_capturing_stderr(mapped, 100, &err, said, sizeof said);
    cr_assert_null(q, "realloc of an mmap'd page = %p", q);
    cr_assert_eq(err, ENOMEM, "realloc of an mmap'd page: errno %d", err);
    cr_assert_eq(test_pattern_check(mapped, 8192, 77), -1, "the mapping was changed");
    char want[128]; /* one line, the address in 16 hex digits */
    snprintf(want, sizeof want,
             "numa-alloc: realloc(): pointer not from numa-alloc, refused: 0x%016lx\n",
             (unsigned long)(uintptr_t)mapped);
    cr_assert_str_eq(said, want, "stderr: \"%s\", expected \"%s\"", said, want);
    cr_assert_eq(munmap(mapped, 8192), 0);
}

/*
 * A block of glibc's, which a library bound to glibc's malloc hands over
 * (RTLD_DEEPBIND's constructors run before dlopen points them at ours): free
 * gives it back to glibc, realloc takes it over, malloc_usable_size reads
 * glibc's. Each of glibc's three kinds of chunk: the main arena's (its brk
 * heap), one it mapped on its own (over its mmap threshold), a thread
 * arena's.
 */
static void glibc_block_is_taken_over(char *theirs, size_t size, unsigned char seed)
{
    cr_assert_not_null(theirs);
    cr_assert_eq(numa_ptr_node(theirs), -1);
    cr_assert_geq(malloc_usable_size(theirs), size, "usable %zu of glibc's %zu-byte block",
                  malloc_usable_size(theirs), size);
    test_pattern_fill(theirs, size, seed);
    char *ours = test_launder(realloc(theirs, size + 5000));
    cr_assert_not_null(ours, "realloc of glibc's %zu-byte block refused", size);
    cr_assert_geq(numa_ptr_node(ours), 0, "realloc of glibc's block did not make it ours");
    cr_assert_eq(test_pattern_check(ours, size, seed), -1, "realloc of glibc's block lost it");
    free(ours);
}

static bool mapped(const void *ptr, size_t size)
{
    uintptr_t page = (uintptr_t)ptr & ~(uintptr_t)4095;
    return msync((void *)page, (uintptr_t)ptr + size - page, MS_ASYNC) == 0;
}

static void *glibc_block_of_a_thread(void *size)
{
    return libc.malloc((size_t)(uintptr_t)size);
}

static char *glibc_thread_arena_block(size_t size)
{
    pthread_t thread;
    void *block;
    cr_assert_eq(pthread_create(&thread, NULL, glibc_block_of_a_thread, (void *)(uintptr_t)size),
                 0);
    cr_assert_eq(pthread_join(thread, &block), 0);
    return test_launder(block);
}

Test(contract, glibc_blocks_go_back_to_glibc_or_become_ours)
{
    load_libc();
    glibc_block_is_taken_over(test_launder(libc.malloc(300)), 300, 79);
    glibc_block_is_taken_over(test_launder(libc.malloc(MiB)), MiB, 80);
    glibc_block_is_taken_over(test_launder(libc.memalign(4096, MiB)), MiB, 81);
    glibc_block_is_taken_over(glibc_thread_arena_block(1000), 1000, 82);

    /* freed by glibc: its next malloc of that size takes it again (its tcache is LIFO) */
    char *gone = test_launder(libc.malloc(100));
    free(gone);
    cr_assert_eq(test_launder(libc.malloc(100)), gone, "free did not give glibc's block back");
    cr_assert_null(realloc(gone, 0));
    cr_assert_eq(test_launder(libc.malloc(100)), gone, "realloc(p, 0) did not give it back");
    libc.free(gone);
    /* a thread arena's block freed here goes to this thread's tcache */
    gone = glibc_thread_arena_block(1000);
    free(gone);
    cr_assert_eq(test_launder(libc.malloc(1000)), gone,
                 "free did not give a thread arena's block back");
    libc.free(gone);
    /* glibc's own mappings: free unmaps them */
    char *big = test_launder(libc.malloc(3 * MiB));
    char *aligned = test_launder(libc.memalign(64 * 1024, MiB));
    cr_assert(mapped(big, 3 * MiB) && mapped(aligned, MiB));
    free(big);
    free(aligned);
    cr_assert(!mapped(big, 3 * MiB), "free did not give glibc's mapping back");
    cr_assert(!mapped(aligned, MiB), "free did not give glibc's aligned mapping back");
}

/*
 * What looks like glibc's header but is not one of its chunks stays the
 * program's: free leaves it, realloc refuses it (test_misuse: other foreign
 * memory).
 */
Test(contract, lookalikes_of_glibc_chunks_are_left_alone)
{
    load_libc();
    size_t page = 4096;
    char *area = mmap(NULL, 8 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(area, MAP_FAILED);
    cr_assert_eq(munmap(area + 6 * page, page), 0); /* a hole */
    size_t *header = (size_t *)(area + page);       /* a block at area + page + 16 */
    char *block = area + page + 16;
    struct {
        size_t prev_size, size;
        const char *what;
    } fakes[] = {
        {0, 4 * page | 2, "a mapped chunk, mapped"}, /* taken: the control */
        {0, 6 * page | 2, "a mapped chunk over a hole"},
        {8, 4 * page | 2, "a mapped chunk not at a page"},
        {0, 4 * page | 2 | 4, "a mapped chunk of a thread arena"},
        {0, 64 | 4 | 1, "a thread arena's chunk outside any heap"},
    };
    char said[512];
    int err;
    for (size_t i = 0; i < sizeof fakes / sizeof fakes[0]; i++) {
        header[0] = fakes[i].prev_size;
        header[1] = fakes[i].size;
        memset(block, 7, 64);
        bool taken = i == 0;
        cr_assert_eq(malloc_usable_size(block) != 0, taken, "%s: usable %zu", fakes[i].what,
                     malloc_usable_size(block));
        if (taken)
            continue; /* glibc's free would unmap area's pages: not called */
        void *q = realloc_capturing_stderr(block, 100, &err, said, sizeof said);
        cr_assert_null(q, "%s: realloc took it", fakes[i].what);
        cr_assert_eq(err, ENOMEM);
        free(block);
        cr_assert(mapped(area, 6 * page), "%s: free unmapped it", fakes[i].what);
        cr_assert_eq(block[63], 7, "%s: free changed it", fakes[i].what);
    }
    /* a thread arena's chunk in a heap whose arena is not where glibc puts it */
    size_t reserve = 128 * MiB;
    char *span = mmap(NULL, reserve, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    cr_assert_neq(span, MAP_FAILED);
    uintptr_t heap = ((uintptr_t)span + 64 * MiB - 1) & ~(uintptr_t)(64 * MiB - 1);
    cr_assert_eq(mprotect((void *)heap, 2 * page, PROT_READ | PROT_WRITE), 0);
    uintptr_t *info = (uintptr_t *)heap; /* arena, prev, size */
    size_t *chunk = (size_t *)(heap + 64);
    chunk[1] = 64 | 4 | 1; /* 64 bytes, a thread arena's */
    chunk[8 + 1] = 64 | 1; /* the next chunk: this one in use */
    for (int arena_right = 1; arena_right >= 0; arena_right--) {
        info[0] = heap + (arena_right ? 48 : 2 * page);
        info[1] = 0;
        info[2] = 2 * page;
        cr_assert_eq(malloc_usable_size(chunk + 2) != 0, arena_right,
                     "fake heap, arena %s: usable %zu", arena_right ? "right" : "wrong",
                     malloc_usable_size(chunk + 2));
    }
    void *q = realloc_capturing_stderr(chunk + 2, 100, &err, said, sizeof said);
    cr_assert_null(q, "a fake heap's chunk: realloc took it");
    free(chunk + 2);
    cr_assert_eq(chunk[8 + 1], 64 | 1, "a fake heap's chunk: free changed it");
    cr_assert_eq(munmap(span, reserve), 0);

    /* one whose header is on a page that is not there */
    cr_assert_eq(munmap(area, page), 0);
    free(area + page);
    cr_assert_eq(malloc_usable_size(area + page), 0);
    cr_assert_eq(munmap(area + page, 7 * page), 0);
}

/*
 * glibc's __libc_ names (and cfree, glibc's old name for free) are numa-alloc's
 * too: a program that frees with __libc_free a block malloc handed out (or the
 * other way round) aborted in glibc's free, or left a foreign block to us.
 */
extern void *__libc_malloc(size_t size);
extern void __libc_free(void *ptr);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *ptr, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);
extern void *__libc_valloc(size_t size);
extern void *__libc_pvalloc(size_t size);
extern int __libc_mallopt(int param, int value);
extern struct mallinfo __libc_mallinfo(void);

Test(contract, glibc_names_are_ours)
{
    static const struct {
        const char *name, *same_as;
    } names[] = {{"__libc_malloc", "malloc"},
                 {"__libc_free", "free"},
                 {"cfree", "free"},
                 {"__libc_calloc", "calloc"},
                 {"__libc_realloc", "realloc"},
                 {"__libc_memalign", "memalign"},
                 {"__libc_valloc", "valloc"},
                 {"__libc_pvalloc", "pvalloc"},
                 {"__libc_mallopt", "mallopt"},
                 {"__libc_mallinfo", "mallinfo"}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        void *found = dlsym(RTLD_DEFAULT, names[i].name);
        cr_assert_not_null(found, "%s not found", names[i].name);
        cr_assert_eq(found, dlsym(RTLD_DEFAULT, names[i].same_as), "%s is not numa-alloc's %s",
                     names[i].name, names[i].same_as);
    }

    char *p = test_launder(malloc(100));
    cr_assert_not_null(p);
    test_pattern_fill(p, 100, 1);
    __libc_free(p);

    char *q = test_launder(__libc_malloc(100));
    cr_assert_not_null(q);
    cr_assert_geq(numa_ptr_node(q), 0, "__libc_malloc's block is not numa-alloc's");
    test_pattern_fill(q, 100, 2);
    q = realloc(q, 5000);
    cr_assert_not_null(q);
    cr_assert_eq(test_pattern_check(q, 100, 2), -1, "realloc of __libc_malloc's block lost it");
    free(q);

    char *r = test_launder(malloc(50));
    cr_assert_not_null(r);
    test_pattern_fill(r, 50, 3);
    r = __libc_realloc(r, 70000);
    cr_assert_not_null(r);
    cr_assert_eq(test_pattern_check(r, 50, 3), -1, "__libc_realloc lost the contents");
    cr_assert_geq(malloc_usable_size(r), 70000);
    void (*cfree_fn)(void *) = (void (*)(void *))dlsym(RTLD_DEFAULT, "cfree");
    cfree_fn(r);

    unsigned char *z = test_launder(__libc_calloc(1000, 10));
    cr_assert_not_null(z);
    for (size_t i = 0; i < 10000; i++)
        cr_assert_eq(z[i], 0, "__libc_calloc: byte %zu not zero", i);
    free(z);

    void *m = __libc_memalign(4096, 100);
    cr_assert_not_null(m);
    cr_assert_eq((uintptr_t)m % 4096, 0);
    cr_assert_geq(numa_ptr_node(m), 0);
    __libc_free(m);
    void *v = __libc_valloc(10);
    cr_assert_not_null(v);
    cr_assert_eq((uintptr_t)v % 4096, 0);
    free(v);
    void *pv = __libc_pvalloc(4097);
    cr_assert_not_null(pv);
    cr_assert_geq(malloc_usable_size(pv), 8192);
    free(pv);

    cr_assert_eq(__libc_mallopt(M_ARENA_MAX, 2), 1);
    void *held = malloc(100000);
    cr_assert_gt(__libc_mallinfo().uordblks, 0);
    free(held);
}
