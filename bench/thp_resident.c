/*
 * thp_resident.c [N [KIB [WAIT_MS]]] - what an allocator keeps resident as a
 * program frees, with huge pages or without: N blocks of KIB KiB (default 400
 * of 300) written whole; every other one freed; after WAIT_MS (default 2000,
 * past numa-alloc's purge delay) one malloc and free as the slow path that
 * purges; the rest freed, the same wait; malloc_trim(0). Prints the RSS in
 * MiB after each step: "alloc A half H all F trim T" (docs/benchmarks.md,
 * round thirteen: NUMA_ALLOC_HUGEPAGES=thp kept 2 MiB pages whole however
 * little of them was in use).
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double rss_mib(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f || fscanf(f, "%ld %ld", &pages, &resident) != 2)
        resident = -1;
    if (f)
        fclose(f);
    return (double)resident * 4096 / (1 << 20);
}

/* The wait, then a malloc and free the compiler cannot drop: the allocator's slow path. */
static void wait_then_poke(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&t, NULL);
    void *volatile poke = malloc(100000);
    free(poke);
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)atol(argv[1]) : 400;
    size_t bytes = (argc > 2 ? (size_t)atol(argv[2]) : 300) << 10;
    long wait_ms = argc > 3 ? atol(argv[3]) : 2000;
    char **blocks = calloc(n, sizeof *blocks);
    if (!blocks || n == 0 || bytes == 0)
        return 2;
    for (size_t i = 0; i < n; i++) {
        if (!(blocks[i] = malloc(bytes)))
            return 1;
        memset(blocks[i], 1, bytes);
    }
    printf("alloc %.1f", rss_mib());
    for (size_t i = 0; i < n; i += 2)
        free(blocks[i]);
    wait_then_poke(wait_ms);
    printf(" half %.1f", rss_mib());
    for (size_t i = 1; i < n; i += 2)
        free(blocks[i]);
    wait_then_poke(wait_ms);
    printf(" all %.1f", rss_mib());
    malloc_trim(0);
    printf(" trim %.1f\n", rss_mib());
    free(blocks);
    return 0;
}
