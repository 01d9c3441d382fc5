/*
 * large_seeds.c PREAMBLE SEED - the `large` workload's shape (numa_bench: 8 live
 * blocks of 64 KiB to 2 MiB, log-uniform, every page written; 2000 steps of free
 * one at random and allocate another), its sizes drawn from SEED; with PREAMBLE
 * 1 the program first reads /proc/self/maps through stdio, as numa_bench's
 * child does to check its allocator. Prints the peak resident set in KiB.
 *
 * One seed's peak depends on where the blocks happen to fall (a 2 MiB block
 * that fits nowhere takes a fresh segment): bench/large_seeds.sh averages many
 * (docs/benchmarks.md, session 37).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#define LIVE  8
#define STEPS 2000

static uint64_t state;

static uint64_t next_random(void)
{
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
}

static size_t next_size(void)
{
    const double lo = log(64 << 10), hi = log(2 << 20);
    return (size_t)exp(lo + (hi - lo) * (double)(next_random() % 10000) / 10000.0);
}

static void *written(size_t size)
{
    char *block = malloc(size);
    if (!block) {
        perror("large_seeds: malloc");
        exit(1);
    }
    for (size_t at = 0; at < size; at += 4096)
        block[at] = 1;
    return block;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: large_seeds PREAMBLE SEED\n");
        return 2;
    }
    state = strtoull(argv[2], NULL, 10) * 2654435761u + 1;
    if (atoi(argv[1])) {
        FILE *maps = fopen("/proc/self/maps", "r");
        char line[4096];
        while (maps && fgets(line, sizeof line, maps))
            ;
        if (maps)
            fclose(maps);
    }
    void *slot[LIVE];
    for (int i = 0; i < LIVE; i++)
        slot[i] = written(next_size());
    for (int step = 0; step < STEPS; step++) {
        unsigned i = (unsigned)(next_random() % LIVE);
        size_t size = next_size();
        free(slot[i]);
        slot[i] = written(size);
    }
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    printf("%ld\n", usage.ru_maxrss);
    return 0;
}
