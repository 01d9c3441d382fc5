/*
 * thp_walk_probe.c - run by ctest with LD_PRELOAD=libnumapreload.so,
 * NUMA_ALLOC_HUGEPAGES=thp and NUMA_ALLOC_PURGE_DELAY_MS=100
 * (test_thp_walk_beside_a_new_slab). A purge of part of a 2 MiB page walks
 * the spans beside the run (page_run_free_beside, core/page_runs.c); a slab
 * being made is one of them, its kind not set yet: slab_create purges between
 * page_run_alloc and setting it. The debug build's assertion there once took
 * that for a corrupt span map (the fuzzer's find, docs/benchmarks.md, round
 * thirteen). Here, in a fresh process: 14 runs of 256 KiB fill the first
 * segment but its tail, the 12th and 13th are freed (one run of 128 pages),
 * and after the delay a block of a class never used takes its slab from the
 * tail, which is the best fit, and purges the freed run, so the walk passes
 * over the new slab. The probe checks that layout and that the 2 MiB page is
 * wholly resident (a huge page): exit 2 if either is not what the test needs
 * (say so, never pass for nothing), 77 (skipped) without transparent huge
 * pages, 0 when all went well; the debug build aborts if the walk rejects
 * the slab.
 */
#include "test_util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define RUN       (256u << 10)
#define NRUNS     14
#define SEGMENT   ((uintptr_t)4 << 20)
#define HUGE_PAGE ((uintptr_t)2 << 20)

static uintptr_t huge_page_of(const void *p)
{
    return (uintptr_t)p & ~(HUGE_PAGE - 1);
}

static int wholly_resident(uintptr_t huge)
{
    static unsigned char vec[HUGE_PAGE / 4096];
    if (mincore((void *)huge, HUGE_PAGE, vec) != 0)
        return 0;
    for (size_t i = 0; i < sizeof vec; i++)
        if (!(vec[i] & 1))
            return 0;
    return 1;
}

int main(void)
{
    if (!test_kernel_has_thp()) {
        fprintf(stderr, "thp_walk_probe: no transparent huge pages in this kernel: skipped\n");
        return 77;
    }
    static char *run[NRUNS];
    for (int k = 0; k < NRUNS; k++) {
        run[k] = malloc(RUN);
        if (!run[k])
            return 1;
        memset(run[k], 1, RUN);
    }
    free(run[11]);
    free(run[12]);
    struct timespec delay = {0, 300 * 1000000}; /* past NUMA_ALLOC_PURGE_DELAY_MS=100 */
    nanosleep(&delay, NULL);
    /* Only a wholly resident 2 MiB page is walked (hugepages.c, purge_edge). */
    if (!wholly_resident(huge_page_of(run[12]))) {
        fprintf(stderr, "thp_walk_probe: the freed run's 2 MiB page is not wholly resident\n");
        return 2;
    }
    char *volatile small = malloc(3000); /* a class never used: slab_create, then the purge */
    if (!small)
        return 1;
    /* The layout the walk needs: the slab right of the freed run, in its 2 MiB page. */
    int laid_out = (uintptr_t)run[0] / SEGMENT == (uintptr_t)run[NRUNS - 1] / SEGMENT &&
                   (char *)small > run[NRUNS - 1] && huge_page_of(small) == huge_page_of(run[12]) &&
                   huge_page_of(small) == huge_page_of(run[11] + RUN);
    if (!laid_out) {
        fprintf(stderr,
                "thp_walk_probe: layout not as needed: runs %p..%p, freed %p, slab block %p\n",
                (void *)run[0], (void *)run[NRUNS - 1], (void *)run[11], (void *)small);
        return 2;
    }
    printf("thp_walk_probe: the purge walked over a slab being made at %p\n", (void *)small);
    return 0;
}
