/*
 * test_refill_pages.c - a refill leaves no page that a block handed out
 * shares with a free block unwritten (slab_take, core/node_heap.c).
 *
 * A program that reads its block before writing all of it (shared-pool-Tt
 * reads a block's last byte) makes the kernel map its zero page wherever the
 * block's tail lies on a page nobody wrote yet. When that page also starts
 * the next free block, the refill that hands that block out writes its
 * link there: a second fault, which replaces the zero page and, in a
 * process running on several CPUs, flushes the TLB of each of them (an
 * interrupt to every other CPU: 8 % of shared-pool-2t's time). So a refill
 * whose last block ends inside a page writes the free block that starts
 * there, while other threads are alive (a lone thread's refills do not:
 * tests/test_footprint.sh, lone-tails).
 *
 * - tail_read_first_faults_once_a_page: a fresh thread takes 96 blocks of
 *   6 KiB (a page and a half each, so every other block ends inside a page
 *   that the next block starts) one at a time, and reads each block's last
 *   byte before writing its first 16 bytes. The thread's minor faults stay
 *   within the pages the blocks cover, plus a few for the heap's own
 *   pages. Without the write, every refill ending inside a page cost one
 *   fault more: 48 more here (young bins hand out one such block a refill).
 *   Each block still holds the 16 bytes written into it: the refills'
 *   writes went into free blocks only.
 * - refill_between_held_blocks_writes_none: the thread then frees every
 *   other block and gives them back to their slabs (malloc_trim), and takes
 *   them again: each refill's last block is followed by a block the thread
 *   holds, which no refill may write into.
 */
#include "test_util.h"

#include <criterion/criterion.h>
#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>

#define NBLOCKS 96
#define SIZE    (6 * KiB)
#define PAGE    4096u
#define HEAD    16 /* bytes written into each block, as shared-pool-Tt does */

struct run {
    long faults;
    size_t pages;
    unsigned char *blk[NBLOCKS];
};

/* Distinct pages covered by the blocks (they come from slabs in address order). */
static size_t pages_covered(unsigned char *const *blk, size_t n, size_t size)
{
    uintptr_t pages[NBLOCKS * 3];
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        for (uintptr_t p = (uintptr_t)blk[i] / PAGE; p <= ((uintptr_t)blk[i] + size - 1) / PAGE;
             p++) {
            size_t j = 0;
            while (j < count && pages[j] != p)
                j++;
            if (j == count)
                pages[count++] = p;
        }
    return count;
}

static void *tail_read_first(void *arg)
{
    struct run *run = arg;
    /* The first block sets up the thread's cache and the class's slab. */
    void *first = test_launder(malloc(SIZE));
    long before = test_thread_minor_faults();
    for (size_t i = 0; i < NBLOCKS; i++) {
        unsigned char *b = test_launder(malloc(SIZE));
        if (!b)
            return NULL;
        (void)*(volatile unsigned char *)(b + SIZE - 1);
        test_pattern_fill(b, HEAD, test_pattern_seed(SIZE, i, HEAD));
        run->blk[i] = b;
    }
    run->faults = test_thread_minor_faults() - before;
    run->pages = pages_covered(run->blk, NBLOCKS, SIZE);
    free(first);
    return run;
}

/* Runs body in a fresh thread (a fresh cache: young bins, one block a refill) on `run`. */
static void run_in_thread(void *(*body)(void *), struct run *run)
{
    /* This thread allocates too: the refills' thread is not alone (threads_beside_this_one). */
    free(test_launder(malloc(16)));
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, body, run), 0);
    void *ret;
    cr_assert_eq(pthread_join(t, &ret), 0);
    cr_assert_not_null(ret, "malloc(%zu) failed", SIZE);
    for (size_t i = 0; i < NBLOCKS; i++)
        test_assert_ours(run->blk[i]);
}

/* Each block still holds the bytes written into its head; then it is freed. */
static void check_heads_and_free(struct run *run)
{
    for (size_t i = 0; i < NBLOCKS; i++) {
        long at = test_pattern_check(run->blk[i], HEAD, test_pattern_seed(SIZE, i, HEAD));
        cr_assert_eq(at, -1, "block %zu of %zu B overwritten at byte %ld", i, SIZE, at);
        free(run->blk[i]);
    }
}

Test(refill_pages, tail_read_first_faults_once_a_page)
{
    static struct run run;
    run_in_thread(tail_read_first, &run);
    /* A few faults of the heap's own (a new slab's descriptor, bitmap and page map). */
    cr_expect_leq(run.faults, (long)run.pages + 8,
                  "%ld minor faults for %d blocks of %zu B reading their tails first, covering "
                  "%zu pages: a refill left a page shared with a free block unwritten",
                  run.faults, NBLOCKS, SIZE, run.pages);
    check_heads_and_free(&run);
}

/* Blocks 0, step, 2 * step, ... of the run, their heads written; false if a malloc failed. */
static bool take_every(struct run *run, size_t step)
{
    for (size_t i = 0; i < NBLOCKS; i += step) {
        run->blk[i] = test_launder(malloc(SIZE));
        if (!run->blk[i])
            return false;
        test_pattern_fill(run->blk[i], HEAD, test_pattern_seed(SIZE, i, HEAD));
    }
    return true;
}

static void *holes_refilled(void *arg)
{
    struct run *run = arg;
    if (!take_every(run, 1))
        return NULL;
    for (size_t i = 0; i < NBLOCKS; i += 2)
        free(run->blk[i]);
    malloc_trim(0); /* the thread's bins back into the slabs' bitmaps */
    return take_every(run, 2) ? run : NULL;
}

Test(refill_pages, refill_between_held_blocks_writes_none)
{
    static struct run run;
    run_in_thread(holes_refilled, &run);
    check_heads_and_free(&run);
}
