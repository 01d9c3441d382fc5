/*
 * harness.h - what every workload is built from: the seeded xorshift64* PRNG
 * (so each run asks for the same sizes in the same order), the monotonic
 * clock, page touching, the sink that keeps reads observable, xmalloc, and
 * the thread harness (barrier-synchronised start; wall time from the first
 * thread's start to the last thread's end). The PRNG, the clock, touch(),
 * sink_add() and xmalloc() are static inline here because the workloads call
 * them inside the timed region: a call into another file would be measured as
 * well, and the workloads compile to the same code as when they were one file.
 */
#ifndef NUMA_BENCH_HARNESS_H
#define NUMA_BENCH_HARNESS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PAGE 4096u
#define KIB  ((size_t)1 << 10)
#define MIB  ((size_t)1 << 20)

typedef struct {
    uint64_t s;
} rng_t;

static inline rng_t rng_seed(uint64_t seed)
{
    rng_t r = {seed * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull};
    if (r.s == 0)
        r.s = 1;
    return r;
}

static inline uint64_t rng_next(rng_t *r) /* xorshift64* */
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 0x2545F4914F6CDD1Dull;
}

static inline size_t rng_below(rng_t *r, size_t n)
{
    return (size_t)(rng_next(r) % n);
}

/*
 * A size in [lo, hi]. shape 1 = uniform; shape 3 = lo + (hi-lo)*u^3, which
 * is skewed towards small sizes (median ~ lo + (hi-lo)/8).
 */
static inline size_t rng_size(rng_t *r, size_t lo, size_t hi, int shape)
{
    double u = (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
    double f = u;
    for (int i = 1; i < shape; i++)
        f *= u;
    return lo + (size_t)((double)(hi - lo) * f + 0.5);
}

static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Keeps reads observable so nothing is optimised away (defined in harness.c). */
extern _Atomic uint64_t g_sink;

static inline void sink_add(uint64_t v)
{
    atomic_fetch_add_explicit(&g_sink, v, memory_order_relaxed);
}

/*
 * Writes to a fresh block: memset of the first `head` bytes, then one byte
 * per 4 KiB page after that (per_page = 0: only the head).
 */
static inline void touch(void *p, size_t size, size_t head, int per_page)
{
    unsigned char *c = p;
    size_t h = head < size ? head : size;
    memset(c, 0x5a, h);
    if (per_page)
        for (size_t off = h; off < size; off += PAGE)
            c[off] = (unsigned char)off;
}

static inline void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (!p) {
        fprintf(stderr, "numa_bench: malloc(%zu) failed\n", n);
        exit(2);
    }
    return p;
}

/* ------------------------------------------------------------------------ */
/* Thread harness: n threads, barrier-synchronised start, wall time measured */
/* from the first thread's start to the last thread's end (setup and         */
/* teardown of each thread are outside the timed region).                    */
/* ------------------------------------------------------------------------ */

typedef struct harness harness_t;
typedef struct {
    harness_t *h;
    void (*setup)(void *arg);
    void (*work)(void *arg);
    void (*teardown)(void *arg);
    void *arg;
    uint64_t t0, t1;
} hthread_t;

/* Runs the threads (thread 0 on the calling thread); returns wall ns. */
uint64_t harness_run(hthread_t *th, int n);

#endif
