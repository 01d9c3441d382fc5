/*
 * test_realloc.c - realloc growing and shrinking across small, large and
 * huge sizes keeps the content; realloc(NULL, n) behaves as malloc(n);
 * realloc of a numa_malloc block keeps its node.
 */
#include "test_util.h"

#include <criterion/criterion.h>
#include <malloc.h>

#include "numa_alloc.h"

/* Small, large (page runs, > 32 KiB) and huge (> 2 MiB) sizes. */
static const size_t ladder[] = {
    1,     7,     8,     9,      24,  100,     128,         129,     1000,          4096,    20000,
    32768, 32769, 40000, 200000, MiB, 2 * MiB, 2 * MiB + 1, 3 * MiB, 5 * MiB + 123, 16 * MiB};
#define NLADDER (sizeof ladder / sizeof ladder[0])

/*
 * Reallocs `p` (holding the pattern for `seed` over `have` bytes) to `want`
 * bytes, checks that min(have, want) bytes survived, then writes the pattern
 * over the new usable size. Returns the new block.
 */
static void *step(void *p, size_t *have, size_t want, uint64_t seed, const char *what)
{
    void *q = test_launder(realloc(p, want));
    cr_assert_not_null(q, "%s: realloc(%p, %zu) returned NULL", what, p, want);
    size_t keep = *have < want ? *have : want;
    long bad = test_pattern_check(q, keep, seed);
    cr_assert_eq(bad, -1, "%s: realloc %zu -> %zu lost content at offset %ld", what, *have, want,
                 bad);
    size_t u = malloc_usable_size(q);
    cr_assert_geq(u, want, "%s: realloc to %zu: usable %zu", what, want, u);
    test_pattern_fill(q, u, seed);
    *have = u;
    return q;
}

static void ladder_up_and_down(void *p, uint64_t seed, int node)
{
    size_t have = malloc_usable_size(p);
    test_pattern_fill(p, have, seed);
    for (size_t i = 0; i < NLADDER; i++) {
        p = step(p, &have, ladder[i], seed, "grow");
        if (node >= 0)
            cr_assert_eq(numa_ptr_node(p), node, "realloc to %zu moved the block to node %d",
                         ladder[i], numa_ptr_node(p));
    }
    for (size_t i = NLADDER; i-- > 0;) {
        p = step(p, &have, ladder[i], seed, "shrink");
        if (node >= 0)
            cr_assert_eq(numa_ptr_node(p), node, "realloc to %zu moved the block to node %d",
                         ladder[i], numa_ptr_node(p));
    }
    free(p);
}

Test(realloc, ladder_keeps_content, .timeout = 60.)
{
    /* Start from each rung and walk the whole ladder up and down, so every
     * kind of transition (small<->large<->huge, both directions) is hit. */
    for (size_t i = 0; i < NLADDER; i++) {
        void *p = test_launder(malloc(ladder[i]));
        cr_assert_not_null(p);
        ladder_up_and_down(p, test_pattern_seed(1, i, ladder[i]), -1);
    }
}

Test(realloc, jumps_between_kinds, .timeout = 60.)
{
    /* Direct jumps between every pair of rungs, with other live blocks
     * around whose content must not change. */
    void *other[NLADDER];
    for (size_t i = 0; i < NLADDER; i++) {
        other[i] = test_launder(malloc(ladder[i]));
        cr_assert_not_null(other[i]);
        test_pattern_fill(other[i], ladder[i], test_pattern_seed(2, i, ladder[i]));
    }
    for (size_t a = 0; a < NLADDER; a++) {
        for (size_t b = 0; b < NLADDER; b++) {
            void *p = test_launder(malloc(ladder[a]));
            cr_assert_not_null(p);
            size_t have = ladder[a];
            uint64_t seed = test_pattern_seed(3, a, b);
            test_pattern_fill(p, have, seed);
            p = step(p, &have, ladder[b], seed, "jump");
            p = step(p, &have, ladder[a], seed, "jump back");
            free(p);
        }
    }
    for (size_t i = 0; i < NLADDER; i++) {
        long bad = test_pattern_check(other[i], ladder[i], test_pattern_seed(2, i, ladder[i]));
        cr_assert_eq(bad, -1, "unrelated block of %zu bytes corrupted at %ld", ladder[i], bad);
        free(other[i]);
    }
}

Test(realloc, small_steps_keep_content, .timeout = 60.)
{
    /* Byte-by-byte growth through all small classes, then shrinking. */
    size_t have = 1;
    void *p = test_launder(malloc(1));
    cr_assert_not_null(p);
    uint64_t seed = test_pattern_seed(4, 0, 0);
    test_pattern_fill(p, 1, seed);
    have = malloc_usable_size(p);
    test_pattern_fill(p, have, seed);
    for (size_t n = 2; n <= 40000; n += 1 + n / 64)
        p = step(p, &have, n, seed, "step up");
    for (size_t n = 40000; n >= 1; n -= 1 + n / 64)
        p = step(p, &have, n, seed, "step down");
    free(p);
}

Test(realloc, null_is_malloc)
{
    for (size_t i = 0; i < NLADDER; i++) {
        size_t n = ladder[i];
        void *r = test_launder(realloc(NULL, n));
        cr_assert_not_null(r, "realloc(NULL, %zu) returned NULL", n);
        void *m = test_launder(malloc(n));
        cr_assert_not_null(m);
        cr_assert_neq(r, m);
        cr_assert_eq(malloc_usable_size(r), malloc_usable_size(m),
                     "realloc(NULL, %zu) usable %zu, malloc(%zu) usable %zu", n,
                     malloc_usable_size(r), n, malloc_usable_size(m));
        cr_assert_eq(numa_ptr_node(r), numa_ptr_node(m));
        cr_assert_neq(numa_ptr_node(r), -1, "realloc(NULL, %zu) is not a numa-alloc block", n);
        memset(r, 0x11, malloc_usable_size(r));
        free(r);
        free(m);
    }
}

Test(realloc, numa_malloc_block_keeps_node, .timeout = 60.)
{
    static unsigned char usable[TEST_MAX_NODES];
    cr_assert_gt(test_usable_nodes(usable), 0);
    for (int node = 0; node < TEST_MAX_NODES; node++) {
        if (!usable[node])
            continue;
        for (size_t i = 0; i < NLADDER; i += 3) {
            void *p = test_launder(numa_malloc(node, ladder[i]));
            cr_assert_not_null(p, "numa_malloc(%d, %zu) returned NULL", node, ladder[i]);
            cr_assert_eq(numa_ptr_node(p), node);
            ladder_up_and_down(p, test_pattern_seed(5, (uint64_t)node, i), node);
        }
    }
}

/*
 * A block that realloc grows past 4 KiB becomes a page run with room after
 * it, so growing it further (still below the large threshold) happens in
 * place instead of a copy per step: a chain of x1.25 steps from 5 KiB to
 * 30 KiB must keep its address at least once, and keep its content always.
 */
Test(realloc, small_block_grown_past_a_page_grows_in_place, .timeout = 60.)
{
    size_t have = 0, size = 64, in_place = 0, steps = 0;
    char *p = test_launder(malloc(size));
    cr_assert_not_null(p);
    have = malloc_usable_size(p);
    test_pattern_fill(p, have, 77);
    while (size < 30000) {
        size += size / 4;
        char *before = p;
        p = step(p, &have, size, 77, "grow past a page");
        if (size > 5000) {
            steps++;
            in_place += p == before;
        }
    }
    cr_expect_gt(in_place, 0, "none of %zu realloc steps between 5 KiB and 30 KiB was in place",
                 steps);
    while (size > 16) { /* and back down, through page runs and size classes */
        size /= 3;
        p = step(p, &have, size, 77, "shrink");
    }
    free(p);
}

static uint64_t thread_counter(const char *name)
{
    uint64_t value = 0;
    cr_assert_eq(numa_alloc_counter(name, &value), 0, "numa_alloc_counter(%s)", name);
    return value;
}

/*
 * A small block moved to another class by realloc counts one allocation and
 * one free, at class size, for the calling thread (the thread's bin serves
 * the new block: core/alloc.c, alloc_realloc). 64 -> 128 -> ... 2048 bytes:
 * five moves, none in place (every size another class).
 */
Test(realloc, small_moves_are_counted)
{
    void *p = test_launder(malloc(64));
    cr_assert_not_null(p);
    uint64_t allocs = thread_counter("thread.current.allocations");
    uint64_t frees = thread_counter("thread.current.frees");
    uint64_t bytes = thread_counter("thread.current.bytes_allocated");
    size_t moved = 0, grown_bytes = 0;
    for (size_t size = 128; size <= 2048; size *= 2) {
        void *q = test_launder(realloc(p, size));
        cr_assert_not_null(q);
        moved += q != p;
        grown_bytes += malloc_usable_size(q);
        p = q;
    }
    cr_assert_eq(moved, 5, "%zu of 5 small reallocs moved the block", moved);
    cr_expect_eq(thread_counter("thread.current.allocations") - allocs, 5);
    cr_expect_eq(thread_counter("thread.current.frees") - frees, 5);
    cr_expect_eq(thread_counter("thread.current.bytes_allocated") - bytes, grown_bytes);
    free(p);
}

/*
 * Regression (the fuzzer, session 17): posix_memalign(2 MiB, 1967716) gives a
 * huge object (its own segment run, starting 2 MiB in) whose usable size,
 * 481 pages, is no more than a page run's. realloc took it for a page run and
 * resized the span its page names, which in a huge segment is no span
 * (descriptor 0): debug builds failed page_run_resize's assertion, release
 * builds were saved by that descriptor's state. Both ways the content must
 * survive.
 */
Test(realloc, a_huge_object_as_small_as_a_page_run_is_no_page_run)
{
    static const size_t sizes[] = {1967716, 1968486, 1900000, 2 * MiB + 4096, 1967716, 40000};
    void *p = NULL;
    cr_assert_eq(posix_memalign(&p, 2 * MiB, sizes[0]), 0);
    cr_assert_eq((uintptr_t)p % (2 * MiB), 0);
    size_t have = malloc_usable_size(p);
    test_pattern_fill(p, have, 17);
    for (size_t i = 1; i < sizeof sizes / sizeof sizes[0]; i++)
        p = step(p, &have, sizes[i], 17, "aligned huge");
    free(p);
}

/*
 * A huge object of `from` bytes (its first `from` written) resized by realloc
 * `steps` times, alternately by 256 KiB and by 4 MiB + 256 KiB (`sign`: +1
 * grows, -1 shrinks), staying above 4 MiB; how many steps moved it. Its data
 * must stay.
 */
static int resize_huge_in_steps(size_t from, int sign, int steps, uint64_t seed)
{
    size_t size = from;
    char *p = malloc(size);
    cr_assert_not_null(p);
    test_pattern_fill(p, size, seed);
    int moved = 0;
    for (int i = 0; i < steps; i++) {
        size_t delta = 256 * KiB + (i % 2 ? 4 * MiB : 0);
        size_t next = sign > 0 ? size + delta : size - delta;
        if (sign < 0 && (delta > size || next < 4 * MiB))
            break; /* huge to the end */
        char *q = realloc(p, next);
        cr_assert_not_null(q, "realloc(%zu -> %zu): NULL", size, next);
        moved += q != p;
        p = q;
        size = next;
    }
    size_t kept = size < from ? size : from;
    cr_assert_eq(test_pattern_check(p, kept, seed), -1, "realloc lost the data");
    free(p);
    return moved;
}

/*
 * A huge object shrunk by realloc stays where it is, also when its pages
 * are spread (NUMA_ALLOC_POLICY=interleave: test_realloc_interleave runs
 * this test so): a spread object moved on every shrink, a copy and a fault
 * of every page each time (a shrinking chain of 64 steps of a 32 MiB object
 * took 7.6 s against glibc's 5 ms; the fuzzer's timeout).
 */
Test(realloc, huge_object_shrinks_in_place, .timeout = 60.)
{
    int moved = resize_huge_in_steps(32 * MiB, -1, 64, 23);
    cr_assert_eq(moved, 0, "%d shrinking reallocs of a huge object moved it", moved);
}

/*
 * And grows in place while the run after it is free, also when its pages are
 * spread (test_realloc_interleave): a spread object moved on every growth
 * (a chain of 64 steps of 4 MiB from 4 MiB took 52 s against glibc's 9 ms).
 */
Test(realloc, huge_object_grows_in_place, .timeout = 60.)
{
    int moved = resize_huge_in_steps(4 * MiB, +1, 16, 29);
    cr_assert_leq(moved, 2, "%d of 16 growing reallocs of a huge object moved it", moved);
}

/*
 * A huge object of 8 MiB (its pattern written) with a huge object of `slot`
 * lying within `reach` bytes after it, so that growing it by less than that
 * cannot happen in place: in a fresh process the first 4 MiB object comes
 * next. The blockers are kept in blockers[0..*nblockers).
 */
static char *huge_object_with_no_room(size_t reach, void **blockers, int *nblockers)
{
    const size_t size = 8 * MiB;
    char *p = malloc(size);
    cr_assert_not_null(p);
    test_pattern_fill(p, size, 37);
    bool blocked = false;
    for (*nblockers = 0; *nblockers < 16 && !blocked; ++*nblockers) {
        char *b = malloc(4 * MiB);
        cr_assert_not_null(b);
        blockers[*nblockers] = b;
        blocked = b > p && b < p + size + reach;
    }
    cr_assert(blocked, "no huge object lies within %zu MiB after %p: nothing to test", reach / MiB,
              (void *)p);
    return p;
}

static void free_all(void **blocks, int n)
{
    for (int i = 0; i < n; i++)
        free(blocks[i]);
}

/*
 * Growing a huge object with no free run after it moves its pages with
 * mremap instead of copying them (core/huge_remap.h): it copied 8 MiB and
 * faulted every page of the copy (2048 faults; 27-81 ms in realloc_huge
 * against glibc's 0.2). From then on it is a mapping of its own, which grows
 * by mremap again. Its data, its node and its usable size must follow.
 */
Test(realloc, huge_object_with_no_room_after_it_grows_without_a_copy, .timeout = 60.)
{
    void *blockers[16];
    int nblockers;
    char *p = huge_object_with_no_room(64 * MiB, blockers, &nblockers);
    int node = numa_ptr_node(p);
    size_t want = 8 * MiB;
    for (int step = 0; step < 3; step++) { /* out of the region, then twice as its own mapping */
        want += 32 * MiB;
        long before = test_thread_minor_faults();
        char *q = test_launder(realloc(p, want));
        long faults = test_thread_minor_faults() - before;
        cr_assert_not_null(q, "realloc(%p, %zu MiB): NULL", (void *)p, want / MiB);
        cr_assert_lt(faults, 64, "growing to %zu MiB took %ld page faults: a copy", want / MiB,
                     faults);
        cr_assert_eq(test_pattern_check(q, 8 * MiB, 37), -1, "realloc lost the data");
        cr_assert_geq(malloc_usable_size(q), want);
        cr_assert_eq(numa_ptr_node(q), node);
        q[want - 1] = 1; /* its new pages are usable */
        p = q;
    }
    p = test_launder(realloc(p, 6 * MiB)); /* and shrinks in place, as such a mapping does */
    cr_assert_not_null(p);
    cr_assert_eq(test_pattern_check(p, 6 * MiB, 37), -1, "realloc lost the data");
    cr_assert_eq(malloc_usable_size(p), 6 * MiB);
    free(p);
    free_all(blockers, nblockers);
}

/*
 * When the kernel moves the object out but refuses to grow it there (here:
 * an address-space limit with room for the move, not for the growth), its
 * pages go back where they were and realloc copies it as before: its data
 * must survive.
 */
Test(realloc, huge_object_moved_out_but_not_grown_goes_back, .timeout = 60.)
{
    void *blockers[16];
    int nblockers;
    char *p = huge_object_with_no_room(64 * MiB, blockers, &nblockers);
    struct rlimit saved;
    cr_assert_eq(getrlimit(RLIMIT_AS, &saved), 0);
    size_t used = test_statm_bytes(false);
    cr_assert_gt(used, 0);
    struct rlimit tight = {used + 16 * MiB, saved.rlim_max};
    cr_assert_eq(setrlimit(RLIMIT_AS, &tight), 0);
    char *q = test_launder(realloc(p, 72 * MiB)); /* no system call may allocate meanwhile */
    cr_assert_eq(setrlimit(RLIMIT_AS, &saved), 0);
    cr_assert_not_null(q, "realloc(8 -> 72 MiB): NULL");
    cr_assert_eq(test_pattern_check(q, 8 * MiB, 37), -1, "realloc lost the data");
    q[72 * MiB - 1] = 1;
    free(q);
    free_all(blockers, nblockers);
}

/*
 * But a program that grows a block out and frees it (`cut_back`: after
 * shrinking it back, as a buffer often is), round after round, gets the copy
 * from the second round on (grow_out_floor, as glibc raises its mmap
 * threshold): moved out each time, each round faulted all its pages anew (8
 * MiB grown to 16 and freed: 4096 faults a round, 30-40 ms here, against none
 * and 1.8 ms with the copy, whose runs stay resident for the next round).
 */
static void grow_out_and_free_in_a_loop(bool cut_back)
{
    void *blockers[16];
    int nblockers;
    char *p = huge_object_with_no_room(64 * MiB, blockers, &nblockers);
    long late_faults = 0;
    for (int round = 0; round < 8; round++) {
        long before = test_thread_minor_faults();
        if (round > 0) {
            p = test_launder(malloc(8 * MiB));
            cr_assert_not_null(p);
            memset(p, round, 8 * MiB);
        }
        char *q = test_launder(realloc(p, 16 * MiB));
        cr_assert_not_null(q);
        memset(q + 8 * MiB, round, 8 * MiB);
        if (cut_back)
            q = test_launder(realloc(q, 8 * MiB));
        cr_assert_not_null(q);
        free(q);
        if (round >= 4)
            late_faults += test_thread_minor_faults() - before;
    }
    cr_assert_lt(late_faults, 1024,
                 "rounds 4 to 7 took %ld page faults: the block's pages are not reused",
                 late_faults);
    free_all(blockers, nblockers);
}

Test(realloc, huge_blocks_grown_out_and_freed_in_a_loop_stay_resident, .timeout = 60.)
{
    grow_out_and_free_in_a_loop(false);
}

Test(realloc, huge_blocks_grown_out_cut_back_and_freed_in_a_loop_stay_resident, .timeout = 60.)
{
    grow_out_and_free_in_a_loop(true);
}
