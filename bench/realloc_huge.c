/*
 * realloc_huge.c START_MIB STEP_KIB STEPS [ROUNDS] - a huge block resized by
 * realloc step by step, as a growing buffer or a shrinking one is: malloc
 * START_MIB, write it, grow it STEPS times by STEP_KIB (writing the new last
 * byte each time), then shrink it back the same way and free it; ROUNDS times
 * (default 1), as a program that builds such a buffer per request does. Prints
 * the mean microseconds per realloc of each half and how many moved the block:
 * "grow X us (M moved) shrink Y us (N moved)", and with ROUNDS > 1 the mean
 * microseconds of a whole round, its malloc and first write included:
 * " round Z us". glibc remaps its mmapped
 * chunks (mremap: never a copy); an allocator that moves a block copies it
 * and faults its pages anew at every step (docs/benchmarks.md, Round
 * seventeen: spread huge objects under NUMA_ALLOC_POLICY=interleave).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* One half: STEPS reallocs of *p by `delta` bytes (negative: shrink); mean ns per call. */
static double resize_steps(char **p, size_t *size, long delta, long steps, long *moved)
{
    uint64_t start = now_ns();
    for (long i = 0; i < steps; i++) {
        size_t want = (size_t)((long)*size + delta);
        char *q = realloc(*p, want);
        if (!q) {
            fprintf(stderr, "realloc_huge: realloc(%zu) failed\n", want);
            exit(1);
        }
        *moved += q != *p;
        *p = q;
        *size = want;
        q[want - 1] = (char)i;
    }
    return (double)(now_ns() - start) / (double)steps;
}

int main(int argc, char **argv)
{
    size_t start_mib = argc > 1 ? (size_t)atol(argv[1]) : 16;
    long step_kib = argc > 2 ? atol(argv[2]) : 4096;
    long steps = argc > 3 ? atol(argv[3]) : 32;
    long rounds = argc > 4 ? atol(argv[4]) : 1;
    if (start_mib < 4 || step_kib < 1 || steps < 1 || rounds < 1) {
        fprintf(stderr, "usage: realloc_huge START_MIB STEP_KIB STEPS [ROUNDS] (START_MIB >= 4)\n");
        return 2;
    }
    long grew_moved = 0, shrank_moved = 0;
    double grow = 0, shrink = 0;
    uint64_t start = now_ns();
    for (long round = 0; round < rounds; round++) {
        size_t size = start_mib << 20;
        char *p = malloc(size);
        if (!p)
            return 1;
        memset(p, 0x5a, size);
        grow += resize_steps(&p, &size, step_kib << 10, steps, &grew_moved);
        shrink += resize_steps(&p, &size, -(step_kib << 10), steps, &shrank_moved);
        if (p[0] != 0x5a || size != start_mib << 20) {
            fprintf(stderr, "realloc_huge: the block lost its data\n");
            return 1;
        }
        free(p);
    }
    double round_ns = (double)(now_ns() - start) / (double)rounds;
    printf("grow %.1f us (%ld moved) shrink %.1f us (%ld moved)", grow / (double)rounds / 1000,
           grew_moved, shrink / (double)rounds / 1000, shrank_moved);
    if (rounds > 1)
        printf(" round %.1f us", round_ns / 1000);
    printf("\n");
    return 0;
}
