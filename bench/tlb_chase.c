/*
 * tlb_chase - a TLB-bound workload: random pointer chasing over many small
 * blocks, each from malloc (so the allocator decides how they are packed and
 * what pages back them). bench/hugepages.sh runs it under each allocator.
 *
 *   tlb_chase [--bytes=N] [--block=B] [--hops=H] [--seed=S]
 *
 * Allocates N/B blocks of B bytes (default 1 GiB of 64-byte blocks), links
 * them into one cycle in a random order, walks H hops (default: 4 per
 * block, at least 20 M) and prints one line:
 *   ns_per_hop=... blocks=... hops=... rss_peak_kib=... anon_huge_kib=...
 * (VmHWM from /proc/self/status, AnonHugePages from /proc/self/smaps_rollup,
 * both read at the end of the walk). The pointer table used to build the
 * cycle is freed before the walk.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rng(void) /* xorshift64* */
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1du;
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* The number after `key` in the first line of `path` that starts with it; -1 if none. */
static long field_kib(const char *path, const char *key)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[256];
    long value = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, strlen(key)) == 0) {
            value = strtol(line + strlen(key), NULL, 10);
            break;
        }
    fclose(f);
    return value;
}

static uint64_t size_arg(const char *text)
{
    char *end;
    uint64_t v = strtoull(text, &end, 10);
    switch (*end) {
    case 'k':
    case 'K':
        v <<= 10;
        break;
    case 'm':
    case 'M':
        v <<= 20;
        break;
    case 'g':
    case 'G':
        v <<= 30;
        break;
    default:
        break;
    }
    return v;
}

int main(int argc, char **argv)
{
    uint64_t bytes = (uint64_t)1 << 30, block = 64, hops = 0;
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--bytes=", 8) == 0)
            bytes = size_arg(argv[i] + 8);
        else if (strncmp(argv[i], "--block=", 8) == 0)
            block = size_arg(argv[i] + 8);
        else if (strncmp(argv[i], "--hops=", 7) == 0)
            hops = size_arg(argv[i] + 7);
        else if (strncmp(argv[i], "--seed=", 7) == 0)
            rng_state = size_arg(argv[i] + 7) | 1;
        else {
            fprintf(stderr,
                    "usage: tlb_chase [--bytes=N[kmg]] [--block=B] [--hops=H] [--seed=S]\n");
            return 2;
        }
    }
    if (block < sizeof(void *))
        block = sizeof(void *);
    size_t n = (size_t)(bytes / block);
    if (n < 2) {
        fprintf(stderr, "tlb_chase: fewer than 2 blocks\n");
        return 2;
    }
    if (!hops)
        hops = 4 * (uint64_t)n > 20000000 ? 4 * (uint64_t)n : 20000000;
    void **table = malloc(n * sizeof *table);
    if (!table)
        return 1;
    for (size_t i = 0; i < n; i++) {
        if (!(table[i] = malloc(block))) {
            fprintf(stderr, "tlb_chase: out of memory after %zu blocks\n", i);
            return 1;
        }
        memset(table[i], 0, block);
    }
    for (size_t i = n - 1; i > 0; i--) { /* a random cycle: Fisher-Yates */
        size_t j = (size_t)(rng() % (i + 1));
        void *t = table[i];
        table[i] = table[j];
        table[j] = t;
    }
    for (size_t i = 0; i < n; i++)
        *(void **)table[i] = table[(i + 1) % n];
    void *p = table[0];
    free(table);
    for (uint64_t i = 0; i < n; i++) /* warm: one lap */
        p = *(void **)p;
    double t0 = now_ns();
    for (uint64_t i = 0; i < hops; i++)
        p = *(void **)p;
    double t1 = now_ns();
    printf("ns_per_hop=%.2f blocks=%zu hops=%llu rss_peak_kib=%ld anon_huge_kib=%ld end=%p\n",
           (t1 - t0) / (double)hops, n, (unsigned long long)hops,
           field_kib("/proc/self/status", "VmHWM:"),
           field_kib("/proc/self/smaps_rollup", "AnonHugePages:"), p);
    return 0;
}
