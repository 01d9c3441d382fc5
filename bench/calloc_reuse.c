/*
 * calloc_reuse.c [MIB [TOUCH_ALL]] - a huge calloc over memory just freed:
 * a block of MIB MiB (default 48) written whole and freed, then 30 times:
 * calloc the same size, write all of it (TOUCH_ALL 1, default) or two bytes
 * (0), free it, malloc it again, write all of it, free it. Prints the best
 * time of one such round in ms (docs/benchmarks.md, round thirteen: zeroing
 * by hand what is resident, by purging what is not).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int main(int argc, char **argv)
{
    size_t size = (size_t)(argc > 1 ? atol(argv[1]) : 48) << 20;
    int touch_all = argc > 2 ? atoi(argv[2]) : 1;
    unsigned char *volatile block = malloc(size);
    if (!block || size == 0)
        return 1;
    memset(block, 1, size);
    free(block);
    double best = 1e18;
    for (int rep = 0; rep < 30; rep++) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        unsigned char *volatile zeroed = calloc(1, size);
        if (!zeroed)
            return 1;
        if (touch_all) {
            memset(zeroed, 2, size);
        } else {
            zeroed[0] = 1;
            zeroed[size - 1] = 1;
        }
        free(zeroed);
        block = malloc(size);
        if (!block)
            return 1;
        memset(block, 3, size);
        free(block);
        clock_gettime(CLOCK_MONOTONIC, &b);
        double ns = (double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec);
        if (ns < best)
            best = ns;
    }
    printf("%.2f ms\n", best / 1e6);
    return 0;
}
