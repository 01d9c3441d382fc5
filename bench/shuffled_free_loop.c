/*
 * shuffled_free_loop.c N SIZE REPS - REPS times: malloc N blocks of SIZE
 * bytes (writing a byte of each), then free them all in one shuffled order;
 * prints the best time per malloc+free pair in ns. The best of many reps is
 * what a busy machine disturbs least (docs/benchmarks.md, *Round six*);
 * bulk-free-1t is the same shape with mixed sizes, in the suite.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)atol(argv[1]) : 8192;
    size_t size = argc > 2 ? (size_t)atol(argv[2]) : 48;
    long reps = argc > 3 ? atol(argv[3]) : 300;
    char **blocks = malloc(n * sizeof *blocks);
    size_t *order = malloc(n * sizeof *order);
    if (n == 0 || !blocks || !order) {
        fprintf(stderr, "usage: shuffled_free_loop N SIZE REPS\n");
        return 2;
    }
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    uint64_t x = 88172645463325252u; /* xorshift64 */
    for (size_t i = n - 1; i > 0; i--) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        size_t j = (size_t)(x % (i + 1)), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    double best = 1e30;
    for (long r = 0; r < reps; r++) {
        uint64_t start = now_ns();
        for (size_t i = 0; i < n; i++) {
            blocks[i] = malloc(size);
            if (!blocks[i])
                return 1;
            blocks[i][0] = 1;
        }
        for (size_t i = 0; i < n; i++)
            free(blocks[order[i]]);
        double per_pair = (double)(now_ns() - start) / (double)n;
        if (per_pair < best)
            best = per_pair;
    }
    printf("%.2f\n", best);
    free(order);
    free(blocks);
    return 0;
}
