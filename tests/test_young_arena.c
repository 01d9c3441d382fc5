/*
 * test_young_arena.c - a young program's mid-size blocks (513 B to 32 KiB)
 * come from its node heap's young arena (core/young_arena.h): carved end to
 * end, coalesced on free, closed by its cap or malloc_trim, its free pages
 * given back once closed; a freed or interior pointer is refused.
 *
 * Each test runs in a process of its own, where the arena is open until the
 * test closes it. Carved from the arena's untouched end, two blocks lie end
 * to end, a 16-byte header apart; blocks of two classes never do in slabs
 * (each class has its own): that is how these tests tell the arena is
 * serving. The sizes are large enough (8 KiB and up) that no free chunk
 * left by the test runner's own allocations can serve them.
 */
#include "test_util.h"

#include <criterion/criterion.h>
#include <malloc.h>
#include <numa_alloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define HEADER 16 /* a chunk's boundary tags before its block */

static bool end_to_end(const void *first, const void *second)
{
    return (const char *)second == (const char *)first + malloc_usable_size((void *)first) + HEADER;
}

Test(young_arena, blocks_of_different_classes_lie_end_to_end)
{
    char *a = test_launder(malloc(20000)), *b = test_launder(malloc(9000));
    cr_assert(end_to_end(a, b), "mid-size blocks not carved end to end: %p (+%zu) %p", (void *)a,
              malloc_usable_size(a), (void *)b);
    cr_assert_eq(malloc_usable_size(b), test_expected_usable(9000), "usable size not the class's");
    cr_assert_eq(numa_ptr_node(a), numa_ptr_node(b));
    cr_assert_neq(numa_ptr_node(a), -1);
    free(a);
    free(b);
}

/* Two blocks of 8 KiB freed side by side, in either order, make room for one of 16 KiB. */
static void coalesce(bool later_first)
{
    char *a = test_launder(malloc(8000)), *b = test_launder(malloc(8000));
    char *guard = test_launder(malloc(8000));
    cr_assert(end_to_end(a, b) && end_to_end(b, guard));
    free(later_first ? b : a);
    free(later_first ? a : b);                /* one free chunk of 2 * (8 KiB + 16) */
    char *both = test_launder(malloc(16000)); /* 16 KiB + 16 bytes: only a + b hold it */
    cr_assert_eq(both, a, "a block of 16 KiB did not take the two freed 8 KiB blocks' place (%s)",
                 later_first ? "the later freed first" : "the earlier freed first");
    free(both);
    free(guard);
}

Test(young_arena, freed_neighbours_coalesce)
{
    coalesce(false); /* the block freed second merges with the one before it */
    coalesce(true);  /* ... with the one after it */
}

Test(young_arena, calloc_zeroes_a_reused_chunk)
{
    unsigned char *p = test_launder(malloc(3000));
    char *guard = test_launder(malloc(3000));
    memset(p, 0xa5, 3000);
    free(p);
    unsigned char *q = test_launder(calloc(1, 3000));
    cr_assert_eq(q, p, "calloc did not reuse the chunk just freed");
    cr_assert_eq(test_bytes_check(q, 3000, 0), -1, "calloc's block not zeroed");
    free(q);
    free(guard);
}

Test(young_arena, realloc_keeps_the_bytes_in_place_and_moved)
{
    char *p = test_launder(malloc(3000));
    test_pattern_fill(p, 3000, 7);
    char *same = test_launder(realloc(p, 2000)); /* shrinks by less than half: in place */
    cr_assert_eq(same, p);
    char *grown = test_launder(realloc(same, 10000));
    cr_assert_eq(test_pattern_check(grown, 2000, 7), -1, "bytes lost growing");
    char *shrunk = test_launder(realloc(grown, 600));
    cr_assert_neq(shrunk, grown, "a block shrunk to a fifth stayed in its chunk");
    cr_assert_eq(test_pattern_check(shrunk, 600, 7), -1, "bytes lost shrinking");
    cr_assert_eq(malloc_usable_size(shrunk), test_expected_usable(600));
    free(shrunk);
}

/* Pages resident in [p, p + len), whole pages only. */
static size_t resident_pages(const char *p, size_t len)
{
    long page = sysconf(_SC_PAGESIZE);
    uintptr_t lo = ((uintptr_t)p + (uintptr_t)page - 1) & ~(uintptr_t)(page - 1);
    uintptr_t hi = ((uintptr_t)p + len) & ~(uintptr_t)(page - 1);
    size_t n = 0;
    for (uintptr_t at = lo; at < hi; at += (uintptr_t)page) {
        unsigned char vec;
        cr_assert_eq(mincore((void *)at, (size_t)page, &vec), 0);
        n += vec & 1;
    }
    return n;
}

/* A closed arena gives back the pages of its free chunks, and of each block freed later. */
Test(young_arena, trim_closes_it_and_its_free_pages_go_back)
{
    enum { N = 32 };
    char *block[N];
    for (int i = 0; i < N; i++) {
        block[i] = test_launder(malloc(8000));
        memset(block[i], 1, 8000);
        cr_assert(i == 0 || end_to_end(block[i - 1], block[i]));
    }
    char *first = block[0];
    size_t span = (size_t)(block[N - 1] - first) + 8192;
    for (int i = 0; i < N / 2; i++) /* the first half: one free chunk */
        free(block[i]);
    size_t before = resident_pages(first, span / 2);
    malloc_trim(0);
    size_t after = resident_pages(first, span / 2);
    cr_assert(before >= 30 && after <= 1, "freed half: %zu pages resident before trim, %zu after",
              before, after);
    char *a = test_launder(malloc(20000)), *b = test_launder(malloc(9000));
    cr_assert(!end_to_end(a, b), "the arena still serves after malloc_trim");
    free(a);
    free(b);
    for (int i = N / 2; i < N - 1; i++) /* freed into the closed arena: given back at once */
        free(block[i]);
    size_t rest = resident_pages(block[N / 2], (size_t)(block[N - 1] - block[N / 2]));
    cr_assert(rest <= 2, "%zu pages of blocks freed into the closed arena stayed resident", rest);
    free(block[N - 1]);
}

/* It counts what it served, freed or not: a block made and freed 200 times closes it too. */
Test(young_arena, closes_once_it_served_a_mebibyte)
{
    char *first = test_launder(malloc(8000));
    for (int i = 0; i < 200; i++) /* 200 * 8 KiB served, never more than 16 KiB in use */
        free(test_launder(malloc(8000)));
    char *a = test_launder(malloc(20000)), *b = test_launder(malloc(9000));
    cr_assert(!end_to_end(a, b), "the arena still serves after 1.6 MiB");
    free(first);
    free(a);
    free(b);
}

/* The misuse, in a child: it must abort with `message` on stderr. */
static void expect_abort(void (*misuse)(void *), const char *message)
{
    char text[1024];
    int status = test_run_child(misuse, NULL, text, sizeof text);
    cr_assert_neq(status, -1, "the child could not be run");
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
              "expected an abort; child status %#x, stderr: \"%s\"", status, text);
    cr_assert(strstr(text, message), "expected \"%s\", got \"%s\"", message, text);
}

static char *arena_block(void)
{
    char *p = test_launder(malloc(20000)), *next = test_launder(malloc(9000));
    if (!end_to_end(p, next))
        _exit(3); /* not the arena's: the test is moot */
    return p;
}

static void double_free(void *unused)
{
    (void)unused;
    char *p = arena_block();
    free(p);
    free(p);
}

static void interior_free(void *unused)
{
    (void)unused;
    free(arena_block() + 64);
}

static void realloc_freed(void *unused)
{
    (void)unused;
    char *p = arena_block();
    free(p);
    free(test_launder(realloc(p, 30000)));
}

Test(young_arena, a_double_free_or_an_interior_pointer_aborts)
{
    expect_abort(double_free, "free(): double free detected");
    expect_abort(interior_free, "free(): invalid pointer");
    expect_abort(realloc_freed, "realloc(): invalid pointer");
    char *p = arena_block();
    cr_assert_eq(malloc_usable_size(p + 16), 0, "an interior pointer has a usable size");
    free(p);
    cr_assert_eq(malloc_usable_size(p), 0, "a freed block has a usable size");
}

/* Two threads allocate, write, check and free mid-size blocks, the arena open, then closed. */
static void *churn(void *arg)
{
    test_rng rng = {(uint64_t)(uintptr_t)arg};
    enum { LIVE = 64 };
    char *live[LIVE] = {0};
    size_t size[LIVE] = {0};
    for (int step = 0; step < 20000; step++) {
        size_t at = test_rng_range(&rng, 0, LIVE - 1);
        if (live[at]) {
            if (test_pattern_check(live[at], size[at], (uintptr_t)live[at]) != -1)
                return "a block's bytes changed";
            free(live[at]);
        }
        size[at] = test_rng_range(&rng, 513, 12000);
        live[at] = malloc(size[at]);
        if (!live[at])
            return "malloc failed";
        test_pattern_fill(live[at], size[at], (uintptr_t)live[at]);
    }
    for (size_t at = 0; at < LIVE; at++)
        free(live[at]);
    return NULL;
}

Test(young_arena, threads_share_it_without_losing_a_byte)
{
    pthread_t t[2];
    for (uintptr_t i = 0; i < 2; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, churn, (void *)(i + 1)), 0);
    for (int i = 0; i < 2; i++) {
        void *failed;
        cr_assert_eq(pthread_join(t[i], &failed), 0);
        cr_assert_null(failed, "%s", (const char *)failed);
    }
}
