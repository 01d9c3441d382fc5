/*
 * bulk_free_phases.c N MIN MAX REPS - bulk-free-1t's shape, its two halves
 * timed apart: REPS times, malloc N blocks of MIN..MAX bytes (uniform, the
 * same sizes every rep) writing 8 bytes of each, then read a byte of each and
 * free it, in one shuffled order. Prints the best ns per block of each half:
 * "malloc X free Y". Which half an allocator loses shows where its cost is
 * (docs/benchmarks.md, Round twelve): a free that only links the block into
 * its page's list, or one whose bin, once full, is flushed into the slabs.
 *
 * bulk_free_phases N MIN MAX REPS K [KIND] - the free half calls a stand-in
 * instead of free: K steps and a store into the block, which is freed after
 * the timing. KIND says what a step is: `serial` (the default), an add that
 * waits for the one before it (about a cycle each); `nop`, a nop; `load`, an
 * independent load from a line in L1 (K a multiple of 8 for those two). What
 * a free's work alone costs in this loop, where each block's line is a miss
 * and the next blocks' misses overlap with it only as far as the core can
 * hold the steps behind it: a nop costs next to nothing, a load and a step
 * that waits for another do (docs/benchmarks.md, sessions 42 and 43).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile unsigned sink;

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static int stand_in_steps = -1; /* K, or -1: the real free */
static enum { STEP_SERIAL, STEP_NOP, STEP_LOAD } stand_in_kind;
static uint64_t hot_line[8];

#define TIMES8(x) x x x x x x x x

__attribute__((noinline)) static void stand_in_free(void *block)
{
    uint64_t v = (uintptr_t)block;
    if (stand_in_kind == STEP_SERIAL) {
        for (int i = 0; i < stand_in_steps; i++)
            __asm__("lea 1(%0,%0,2), %0" : "+r"(v)); /* serial: each step waits for the last */
    } else if (stand_in_kind == STEP_NOP) {
        for (int i = 0; i < stand_in_steps; i += 8)
            __asm__ volatile(TIMES8("nop\n"));
    } else {
        for (int i = 0; i < stand_in_steps; i += 8) /* each load on its own: none waits */
            __asm__ volatile(TIMES8("mov (%0), %%r8\n") : : "r"(hot_line) : "r8");
    }
    *(uint64_t *)block = v;
}

static uint64_t xorshift(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)atol(argv[1]) : 65536;
    size_t lo = argc > 2 ? (size_t)atol(argv[2]) : 16;
    size_t hi = argc > 3 ? (size_t)atol(argv[3]) : 256;
    long reps = argc > 4 ? atol(argv[4]) : 30;
    stand_in_steps = argc > 5 ? atoi(argv[5]) : -1;
    const char *kind = argc > 6 ? argv[6] : "serial";
    stand_in_kind = strcmp(kind, "nop") == 0    ? STEP_NOP
                    : strcmp(kind, "load") == 0 ? STEP_LOAD
                                                : STEP_SERIAL;
    bool kind_ok = stand_in_kind != STEP_SERIAL || strcmp(kind, "serial") == 0;
    unsigned char **blocks = malloc(n * sizeof *blocks);
    size_t *size = malloc(n * sizeof *size), *order = malloc(n * sizeof *order);
    if (n == 0 || lo == 0 || hi < lo || reps < 1 || !blocks || !size || !order || !kind_ok ||
        (stand_in_kind != STEP_SERIAL && stand_in_steps % 8 != 0)) {
        fprintf(stderr, "usage: bulk_free_phases N MIN MAX REPS [K [serial|nop|load]]\n");
        return 2;
    }
    uint64_t x = 88172645463325252u;
    for (size_t i = 0; i < n; i++) {
        size[i] = lo + (size_t)(xorshift(&x) % (hi - lo + 1));
        order[i] = i;
    }
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = (size_t)(xorshift(&x) % (i + 1)), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    uint64_t best_malloc = UINT64_MAX, best_free = UINT64_MAX;
    unsigned sum = 0;
    for (long r = 0; r < reps; r++) {
        uint64_t start = now_ns();
        for (size_t i = 0; i < n; i++) {
            blocks[i] = malloc(size[i]);
            if (!blocks[i])
                return 1;
            memset(blocks[i], (int)i, 8);
        }
        uint64_t mid = now_ns();
        for (size_t i = 0; i < n; i++) {
            sum += blocks[order[i]][0];
            if (stand_in_steps < 0)
                free(blocks[order[i]]);
            else
                stand_in_free(blocks[order[i]]);
        }
        uint64_t end = now_ns();
        if (stand_in_steps >= 0)
            for (size_t i = 0; i < n; i++)
                free(blocks[i]);
        if (mid - start < best_malloc)
            best_malloc = mid - start;
        if (end - mid < best_free)
            best_free = end - mid;
    }
    printf("malloc %.2f free %.2f\n", (double)best_malloc / (double)n,
           (double)best_free / (double)n);
    free(order);
    free(size);
    free(blocks);
    sink = sum; /* the reads must happen */
    return 0;
}
