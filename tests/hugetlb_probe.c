/*
 * hugetlb_probe.c - run by test_hugetlb with NUMA_ALLOC_HUGETLB set, under a
 * pool the test arranged. Prints what it saw, one "key value" a line, and
 * "ok" last when the program ran to its end:
 *   heap_page_kb     KernelPageSize of the mapping holding the first block
 *   heap_hugetlb     Private_Hugetlb of that mapping, bytes
 *   stats_hugetlb    the statistics' hugetlb_bytes of the block's node
 *   fork_child_status how a fork child that writes to every block and allocates ended: its
 *                    exit status (0: it read back what it wrote), 128 + the signal
 *   pool_free_before HugePages_Free with the heap full
 *   pool_free_after  ... after everything was freed, churned and trimmed
 *   heap_hugetlb_after, stats_hugetlb_after: the same after the churn
 *   purge_failures   the statistics' purge_failures of the node (none: the range is
 *                    zeroed in place, never given to MADV_DONTNEED, which refuses it)
 *   nonzero          bytes of calloc'd memory that did not read as zero
 */
#define _GNU_SOURCE /* test_util.h: sched_setaffinity */
#include "numa_alloc.h"
#include "test_util.h"

#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define BLOCK   (256 * 1024)
#define NBLOCKS 192 /* 48 MiB: inside a 64 MiB hugetlb range */

/* KernelPageSize (kB) and Private_Hugetlb (bytes) of the smaps mapping that holds p. */
static void smaps_of(const void *p, long long *page_kb, long long *hugetlb)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    char line[512];
    int inside = 0;
    *page_kb = *hugetlb = -1;
    while (f && fgets(line, sizeof line, f)) {
        unsigned long start, end;
        if (sscanf(line, "%lx-%lx ", &start, &end) == 2) { /* a mapping's first line */
            inside = (uintptr_t)p >= start && (uintptr_t)p < end;
            continue;
        }
        if (inside && strncmp(line, "KernelPageSize:", 15) == 0)
            *page_kb = strtoll(line + 15, NULL, 10);
        if (inside && strncmp(line, "Private_Hugetlb:", 16) == 0)
            *hugetlb = strtoll(line + 16, NULL, 10) * 1024;
    }
    if (f)
        fclose(f);
}

static long long pool_free(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    long long value = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "HugePages_Free:", 15) == 0)
            value = strtoll(line + 15, NULL, 10);
    if (f)
        fclose(f);
    return value;
}

int main(void)
{
    static void *blocks[NBLOCKS];
    for (int i = 0; i < NBLOCKS; i++) {
        blocks[i] = malloc(BLOCK);
        if (!blocks[i])
            return 1;
        memset(blocks[i], 0x5a, BLOCK);
    }
    int node = numa_ptr_node(blocks[0]);
    long long page_kb, hugetlb;
    smaps_of(blocks[0], &page_kb, &hugetlb);
    printf("node %d\nheap_page_kb %lld\nheap_hugetlb %lld\nstats_hugetlb %lld\n", node, page_kb,
           hugetlb, test_stats_node_field(node, "hugetlb_bytes"));
    /* The child writes where the parent's hugetlb pages were; the parent writes too. */
    pid_t child = fork();
    if (child == 0) {
        for (int i = 0; i < NBLOCKS; i++)
            memset(blocks[i], 0x77, BLOCK);
        void *more = malloc(8 << 20);
        if (more)
            memset(more, 0x11, 8 << 20);
        free(more);
        int bad = 0;
        for (int i = 0; i < NBLOCKS; i++)
            bad |= ((unsigned char *)blocks[i])[BLOCK - 1] != 0x77;
        _exit(bad);
    }
    memset(blocks[0], 0x5b, BLOCK);
    int status = -1;
    if (child > 0 && waitpid(child, &status, 0) == child)
        status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    printf("fork_child_status %d\n", status);
    printf("pool_free_before %lld\n", pool_free());
    /* What purges: everything freed (NUMA_ALLOC_PURGE_DELAY_MS=0: at once), big buffers
     * allocated and freed, then malloc_trim. */
    for (int i = 0; i < NBLOCKS; i++)
        free(blocks[i]);
    for (int round = 0; round < 8; round++) {
        void *big[6];
        for (int i = 0; i < 6; i++) {
            big[i] = malloc((size_t)(i + 1) << 20 | 4096);
            if (big[i])
                memset(big[i], 0x33, (size_t)(i + 1) << 20);
        }
        for (int i = 0; i < 6; i++)
            free(big[i]);
        malloc_trim(0);
    }
    long long nonzero = 0;
    unsigned char *zeroed = calloc(1, 40 << 20);
    for (size_t i = 0; zeroed && i < (40u << 20); i++)
        nonzero += zeroed[i] != 0;
    free(zeroed);
    for (int i = 0; i < NBLOCKS; i++) {
        unsigned char *b = calloc(1, BLOCK);
        for (size_t j = 0; b && j < BLOCK; j++)
            nonzero += b[j] != 0;
        blocks[i] = b;
    }
    for (int i = 0; i < NBLOCKS; i++)
        free(blocks[i]);
    malloc_trim(0);
    printf("pool_free_after %lld\n", pool_free());
    smaps_of(blocks[0], &page_kb, &hugetlb);
    printf("heap_hugetlb_after %lld\nstats_hugetlb_after %lld\n", hugetlb,
           test_stats_node_field(node, "hugetlb_bytes"));
    printf("purge_failures %lld\n", test_stats_node_field(node, "purge_failures"));
    printf("nonzero %lld\nok\n", nonzero);
    return 0;
}
