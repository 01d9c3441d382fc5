/*
 * workloads_synthetic.c - the allocation patterns numa_bench times inside its
 * own process: working-set churn (small, large, huge), producer-consumer,
 * realloc chains, larson, cache-scratch, short-lived threads, a NUMA-shaped
 * build-walk-free, and the current-node lookup. Each wl_* function returns ns
 * per op (per thread, in wall time, for the multi-thread ones) and the total
 * ops; sizes and seeds are fixed, so every allocator gets the same requests in
 * the same order.
 */
#define _GNU_SOURCE
#include "bench.h"
#include "harness.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ------------------------------------------------------------------------ */
/* Working-set churn: shared by small-churn-*, large and huge.               */
/* A fixed number of live slots; each step frees a random slot and           */
/* allocates a new random size into it, then touches it.                     */
/* ------------------------------------------------------------------------ */

typedef struct {
    size_t live, steps, lo, hi;
    int shape;    /* rng_size shape */
    size_t head;  /* bytes memset at the start of each block */
    int per_page; /* also touch one byte per page */
    uint64_t seed;
    void **slot;
} churn_t;

static void churn_fill(churn_t *c, rng_t *r)
{
    c->slot = xmalloc(c->live * sizeof *c->slot);
    for (size_t i = 0; i < c->live; i++) {
        size_t sz = rng_size(r, c->lo, c->hi, c->shape);
        c->slot[i] = xmalloc(sz);
        touch(c->slot[i], sz, c->head, c->per_page);
    }
}

static void churn_setup(void *arg)
{
    churn_t *c = arg;
    rng_t r = rng_seed(c->seed);
    churn_fill(c, &r);
    c->seed = r.s; /* continue the same stream in work() */
}

static void churn_work(void *arg)
{
    churn_t *c = arg;
    rng_t r = {c->seed};
    uint64_t acc = 0;
    for (size_t s = 0; s < c->steps; s++) {
        size_t i = rng_below(&r, c->live);
        size_t sz = rng_size(&r, c->lo, c->hi, c->shape);
        acc += *(unsigned char *)c->slot[i];
        free(c->slot[i]);
        void *p = xmalloc(sz);
        touch(p, sz, c->head, c->per_page);
        c->slot[i] = p;
    }
    sink_add(acc);
}

static void churn_teardown(void *arg)
{
    churn_t *c = arg;
    for (size_t i = 0; i < c->live; i++)
        free(c->slot[i]);
    free(c->slot);
    c->slot = NULL;
}

/* Runs `n` independent churn threads built from the template; ns per step per thread. */
static double churn_run(const churn_t *tmpl, int n, uint64_t *ops)
{
    churn_t c[n];
    hthread_t th[n];
    for (int i = 0; i < n; i++) {
        c[i] = *tmpl;
        c[i].seed = tmpl->seed + (uint64_t)i * 1000003u;
        th[i] = (hthread_t){
            .setup = churn_setup, .work = churn_work, .teardown = churn_teardown, .arg = &c[i]};
    }
    uint64_t ns = harness_run(th, n);
    *ops = tmpl->steps * (uint64_t)n;
    return (double)ns / (double)tmpl->steps;
}

/* ------------------------------------------------------------------------ */
/* Producer-consumer: SPSC ring of batches per pair, cross-thread frees.     */
/* ------------------------------------------------------------------------ */

#define PC_BATCH 64
#define PC_RING  64 /* batches in flight per pair (power of two) */

typedef struct {
    void *obj[PC_BATCH];
} pc_batch_t;

typedef struct {
    _Alignas(64) _Atomic size_t head; /* written by the producer */
    _Alignas(64) _Atomic size_t tail; /* written by the consumer */
    _Alignas(64) pc_batch_t ring[PC_RING];
    size_t batches;
    uint64_t seed;
} pc_pair_t;

static void pc_produce(void *arg)
{
    pc_pair_t *q = arg;
    rng_t r = rng_seed(q->seed);
    for (size_t b = 0; b < q->batches; b++) {
        size_t h = atomic_load_explicit(&q->head, memory_order_relaxed);
        while (h - atomic_load_explicit(&q->tail, memory_order_acquire) >= PC_RING)
            sched_yield();
        pc_batch_t *bt = &q->ring[h % PC_RING];
        for (int i = 0; i < PC_BATCH; i++) {
            size_t sz = rng_size(&r, 16, 1024, 2);
            bt->obj[i] = xmalloc(sz);
            touch(bt->obj[i], sz, 16, 0);
        }
        atomic_store_explicit(&q->head, h + 1, memory_order_release);
    }
}

static void pc_consume(void *arg)
{
    pc_pair_t *q = arg;
    uint64_t acc = 0;
    for (size_t b = 0; b < q->batches; b++) {
        size_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
        while (atomic_load_explicit(&q->head, memory_order_acquire) == t)
            sched_yield();
        pc_batch_t *bt = &q->ring[t % PC_RING];
        for (int i = 0; i < PC_BATCH; i++) {
            acc += *(unsigned char *)bt->obj[i];
            free(bt->obj[i]);
        }
        atomic_store_explicit(&q->tail, t + 1, memory_order_release);
    }
    sink_add(acc);
}

/* ------------------------------------------------------------------------ */
/* realloc-chain: grow a buffer 16 B -> 1 MiB by x1.5 steps, many times.     */
/* ------------------------------------------------------------------------ */

typedef struct {
    size_t chains;
    uint64_t reallocs;
} rc_t;

static void rc_work(void *arg)
{
    rc_t *c = arg;
    uint64_t n = 0, acc = 0;
    for (size_t k = 0; k < c->chains; k++) {
        size_t sz = 16;
        unsigned char *p = xmalloc(sz);
        memset(p, 1, sz);
        while (sz < MIB) {
            size_t nsz = sz + sz / 2;
            if (nsz > MIB)
                nsz = MIB;
            unsigned char *q = realloc(p, nsz);
            if (!q) {
                fprintf(stderr, "numa_bench: realloc(%zu) failed\n", nsz);
                exit(2);
            }
            acc += q[sz - 1]; /* old contents must survive */
            for (size_t off = sz; off < nsz; off += PAGE)
                q[off] = 1; /* write the grown part, one byte per page */
            q[nsz - 1] = 1;
            p = q;
            sz = nsz;
            n++;
        }
        free(p);
    }
    c->reallocs = n;
    sink_add(acc);
}

/* ------------------------------------------------------------------------ */
/* larson: a server-like pattern (Larson & Krishnan). T threads, T slot     */
/* arrays of small objects; in round r thread i works on array (i + r) % T, */
/* so the objects one thread allocated are freed by another in the next     */
/* round. Each array carries its own PRNG: the sequence of requests does    */
/* not depend on the scheduling.                                             */
/* ------------------------------------------------------------------------ */

typedef struct {
    void **slot;
    rng_t r;
} larson_arr_t;

typedef struct {
    larson_arr_t *arr;
    pthread_barrier_t *round;
    int idx, n;
    size_t live, rounds, steps; /* steps per round */
    size_t lo, hi;              /* object sizes, uniform in [lo, hi] */
} larson_t;

static void larson_setup(void *arg)
{
    larson_t *l = arg;
    larson_arr_t *a = &l->arr[l->idx];
    a->r = rng_seed(11 + (uint64_t)l->idx * 7919u);
    a->slot = xmalloc(l->live * sizeof *a->slot);
    for (size_t i = 0; i < l->live; i++) {
        size_t sz = rng_size(&a->r, l->lo, l->hi, 1);
        a->slot[i] = xmalloc(sz);
        memset(a->slot[i], 0x5a, 8);
    }
}

static void larson_work(void *arg)
{
    larson_t *l = arg;
    uint64_t acc = 0;
    for (size_t r = 0; r < l->rounds; r++) {
        if (r)
            pthread_barrier_wait(l->round);
        larson_arr_t *a = &l->arr[((size_t)l->idx + r) % (size_t)l->n];
        rng_t rr = a->r;
        for (size_t s = 0; s < l->steps; s++) {
            size_t i = rng_below(&rr, l->live);
            size_t sz = rng_size(&rr, l->lo, l->hi, 1);
            acc += *(unsigned char *)a->slot[i];
            free(a->slot[i]);
            unsigned char *p = xmalloc(sz);
            memset(p, (int)(s & 0xff), 8);
            a->slot[i] = p;
        }
        a->r = rr;
    }
    sink_add(acc);
}

static void larson_teardown(void *arg)
{
    larson_t *l = arg; /* the array this thread worked on in the last round */
    larson_arr_t *a = &l->arr[((size_t)l->idx + l->rounds - 1) % (size_t)l->n];
    for (size_t i = 0; i < l->live; i++)
        free(a->slot[i]);
    free(a->slot);
}

/* ------------------------------------------------------------------------ */
/* cache-scratch (Hoard): passive false sharing. The main thread mallocs T  */
/* small objects back to back and hands one to each thread; each frees it,  */
/* then repeatedly mallocs an object of the same size, writes every byte    */
/* many times and frees it. An allocator that hands a freed neighbour back  */
/* to another thread puts two threads' writes in one cache line.            */
/* ------------------------------------------------------------------------ */

#define CS_SIZE 8

typedef struct {
    _Alignas(64) void *first; /* from the main thread */
    size_t iters, writes;
    uint64_t acc;
} cs_t;

static void cs_work(void *arg)
{
    cs_t *c = arg;
    free(c->first); /* NULL in false-sharing */
    uint64_t acc = 0;
    for (size_t it = 0; it < c->iters; it++) {
        volatile unsigned char *p = xmalloc(CS_SIZE);
        for (size_t w = 0; w < c->writes; w++)
            for (size_t j = 0; j < CS_SIZE; j++)
                p[j] = (unsigned char)(p[j] + 1);
        acc += p[0];
        free((void *)p);
    }
    c->acc = acc;
}

/* ------------------------------------------------------------------------ */
/* short-threads: many short-lived threads. Rounds of T threads (create T,  */
/* join T); each thread mallocs 256 objects of 8..2048 B, frees and         */
/* reallocates a random half, frees all but 4, which the main thread frees  */
/* after the join (objects outliving their thread).                          */
/* ------------------------------------------------------------------------ */

#define ST_OBJS 256
#define ST_KEEP 4

typedef struct {
    uint64_t seed;
    void *keep[ST_KEEP];
    uint64_t acc;
} st_t;

static void *st_thread(void *arg)
{
    st_t *t = arg;
    rng_t r = rng_seed(t->seed);
    void *p[ST_OBJS];
    uint64_t acc = 0;
    for (int i = 0; i < ST_OBJS; i++) {
        size_t sz = rng_size(&r, 8, 2048, 3);
        p[i] = xmalloc(sz);
        memset(p[i], i, sz < 16 ? sz : 16);
    }
    for (int k = 0; k < ST_OBJS / 2; k++) {
        size_t i = rng_below(&r, ST_OBJS);
        size_t sz = rng_size(&r, 8, 2048, 3);
        acc += *(unsigned char *)p[i];
        free(p[i]);
        p[i] = xmalloc(sz);
        memset(p[i], k, sz < 16 ? sz : 16);
    }
    for (int i = 0; i < ST_OBJS; i++) {
        acc += *(unsigned char *)p[i];
        if (i % (ST_OBJS / ST_KEEP) == 0)
            t->keep[i / (ST_OBJS / ST_KEEP)] = p[i];
        else
            free(p[i]);
    }
    t->acc = acc;
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* numa-shaped: each thread builds its own data, walks it, frees it.        */
/* Per round: a chained hash table of 32..128 B nodes (also linked in       */
/* insertion order) plus a 256 B..16 KiB array every 512 nodes; then WALKS  */
/* passes, each a walk of the insertion-order list and a lookup of every    */
/* key in insertion order (hash-chain chasing), summing payloads and the    */
/* arrays; then everything is freed in bucket order. The time includes the  */
/* walks: an allocator that keeps a thread's blocks together (and, on a     */
/* NUMA machine, on its node) wins.                                          */
/* ------------------------------------------------------------------------ */

typedef struct ns_node {
    struct ns_node *next; /* in its bucket */
    struct ns_node *all;  /* insertion order */
    uint64_t key;
    uint32_t size, pad;
    unsigned char payload[]; /* size - 32 bytes */
} ns_node_t;

#define NS_LO          32
#define NS_HI          128
#define NS_ARRAY_EVERY 512
#define NS_WALKS       4

typedef struct {
    size_t nodes, rounds;
    uint64_t seed;
    uint64_t acc;
    uint64_t phase_ns[3]; /* build, walk, free: summed over the rounds */
} ns_t;

static inline size_t ns_bucket(uint64_t key, size_t nb)
{
    return (size_t)((key * 0x9E3779B97F4A7C15ull) >> 32) & (nb - 1);
}

static void ns_work(void *arg)
{
    ns_t *t = arg;
    size_t nb = 1;
    while (nb * 4 < t->nodes)
        nb <<= 1;
    size_t narr = t->nodes / NS_ARRAY_EVERY + 1;
    uint64_t acc = 0;
    for (size_t round = 0; round < t->rounds; round++) {
        uint64_t kseed = t->seed * 1000 + round;
        rng_t kr = rng_seed(kseed), sr = rng_seed(kseed + 500);
        ns_node_t **bucket = xmalloc(nb * sizeof *bucket);
        memset(bucket, 0, nb * sizeof *bucket);
        uint32_t **arr = xmalloc(narr * sizeof *arr);
        size_t *arrlen = xmalloc(narr * sizeof *arrlen);
        size_t na = 0;
        ns_node_t *head = NULL, **tail = &head;
        uint64_t t0 = now_ns();
        /* build */
        for (size_t i = 0; i < t->nodes; i++) {
            size_t sz = rng_size(&sr, NS_LO, NS_HI, 1);
            ns_node_t *n = xmalloc(sz);
            n->key = rng_next(&kr);
            n->size = (uint32_t)sz;
            n->pad = 0;
            memset(n->payload, (int)(n->key & 0xff), sz - sizeof *n);
            size_t b = ns_bucket(n->key, nb);
            n->next = bucket[b];
            bucket[b] = n;
            n->all = NULL;
            *tail = n;
            tail = &n->all;
            if (i % NS_ARRAY_EVERY == 0) {
                size_t len = rng_size(&sr, 64, 4096, 1);
                uint32_t *a = xmalloc(len * sizeof *a);
                for (size_t k = 0; k < len; k++)
                    a[k] = (uint32_t)(k * 2654435761u);
                arr[na] = a;
                arrlen[na++] = len;
            }
        }
        uint64_t t1 = now_ns();
        /* walk */
        for (int w = 0; w < NS_WALKS; w++) {
            for (ns_node_t *n = head; n; n = n->all)
                acc += n->key + (n->size > sizeof *n ? n->payload[n->size - sizeof *n - 1] : 0);
            rng_t lr = rng_seed(kseed);
            for (size_t i = 0; i < t->nodes; i++) {
                uint64_t key = rng_next(&lr);
                ns_node_t *n = bucket[ns_bucket(key, nb)];
                while (n && n->key != key)
                    n = n->next;
                if (!n) {
                    fprintf(stderr, "numa_bench: numa-shaped: key not found\n");
                    exit(2);
                }
                acc += n->size > sizeof *n ? n->payload[0] : n->size;
            }
            for (size_t k = 0; k < na; k++)
                for (size_t j = 0; j < arrlen[k]; j += 4)
                    acc += arr[k][j];
        }
        uint64_t t2 = now_ns();
        /* free, in bucket order */
        for (size_t b = 0; b < nb; b++)
            for (ns_node_t *n = bucket[b], *next; n; n = next) {
                next = n->next;
                free(n);
            }
        t->phase_ns[0] += t1 - t0;
        t->phase_ns[1] += t2 - t1;
        t->phase_ns[2] += now_ns() - t2;
        for (size_t k = 0; k < na; k++)
            free(arr[k]);
        free(arrlen);
        free(arr);
        free(bucket);
    }
    t->acc = acc;
}

/* ------------------------------------------------------------------------ */
/* current-node: the cost of finding the calling thread's CPU.               */
/* ------------------------------------------------------------------------ */

extern const ptrdiff_t __rseq_offset __attribute__((weak));
extern const unsigned int __rseq_size __attribute__((weak));

static inline const volatile uint32_t *rseq_cpu_id_ptr(void)
{
    if (&__rseq_size == NULL || &__rseq_offset == NULL || __rseq_size == 0)
        return NULL;
    const volatile uint32_t *p =
        (const volatile uint32_t *)((char *)__builtin_thread_pointer() + __rseq_offset + 4);
    if ((int32_t)*p < 0) /* -1: not registered yet, -2: registration failed */
        return NULL;
    for (int i = 0; i < 100; i++) /* sanity: agrees with the kernel (allowing migrations) */
        if ((int)*p == sched_getcpu())
            return p;
    return NULL;
}

cn_result_t current_node(size_t iters)
{
    cn_result_t res = {0, -1, 0};
    uint64_t acc = 0, t0, t1;

    t0 = now_ns();
    for (size_t i = 0; i < iters; i++)
        acc += (unsigned)sched_getcpu();
    t1 = now_ns();
    res.getcpu_ns = (double)(t1 - t0) / (double)iters;

    const volatile uint32_t *p = rseq_cpu_id_ptr();
    if (p) {
        t0 = now_ns();
        for (size_t i = 0; i < iters; i++)
            acc += *p;
        t1 = now_ns();
        res.rseq_ns = (double)(t1 - t0) / (double)iters;
    }

    size_t sys_iters = iters / 1000 + 1; /* a real syscall is ~1000x slower */
    t0 = now_ns();
    for (size_t i = 0; i < sys_iters; i++) {
        unsigned cpu = 0;
        syscall(SYS_getcpu, &cpu, NULL, NULL);
        acc += cpu;
    }
    t1 = now_ns();
    res.syscall_ns = (double)(t1 - t0) / (double)sys_iters;
    sink_add(acc);
    return res;
}

/* ------------------------------------------------------------------------ */
/* The entries of the table (workloads.c): sizes, seeds and thread counts.   */
/* ------------------------------------------------------------------------ */

static double wl_small_churn(const params_t *p, int nthreads, uint64_t *ops)
{
    churn_t t = {.live = qsz(p, 10000, 1000),
                 .steps = qsz(p, 12000000, 20000),
                 .lo = 8,
                 .hi = 512,
                 .shape = 3,
                 .head = 16,
                 .per_page = 0,
                 .seed = 1};
    return churn_run(&t, nthreads, ops);
}

double wl_small_churn_1t(const params_t *p, uint64_t *ops)
{
    return wl_small_churn(p, 1, ops);
}

double wl_small_churn_mt(const params_t *p, uint64_t *ops)
{
    return wl_small_churn(p, p->threads, ops);
}

double wl_producer_consumer(const params_t *p, uint64_t *ops)
{
    int pairs = p->threads / 2 > 0 ? p->threads / 2 : 1;
    size_t batches = qsz(p, 15000, 200);
    pc_pair_t *q = aligned_alloc(64, sizeof(pc_pair_t) * (size_t)pairs);
    hthread_t th[2 * pairs];
    if (!q) {
        fprintf(stderr, "numa_bench: aligned_alloc failed\n");
        exit(2);
    }
    for (int i = 0; i < pairs; i++) {
        memset(&q[i], 0, sizeof q[i]);
        q[i].batches = batches;
        q[i].seed = 7 + (uint64_t)i;
        th[2 * i] = (hthread_t){.work = pc_produce, .arg = &q[i]};
        th[2 * i + 1] = (hthread_t){.work = pc_consume, .arg = &q[i]};
    }
    uint64_t ns = harness_run(th, 2 * pairs);
    free(q);
    uint64_t per_pair = (uint64_t)batches * PC_BATCH;
    *ops = per_pair * (uint64_t)pairs;
    return (double)ns / (double)per_pair;
}

double wl_large(const params_t *p, uint64_t *ops)
{
    churn_t t = {.live = 8,
                 .steps = qsz(p, 2000, 200),
                 .lo = 64 * KIB,
                 .hi = 2 * MIB,
                 .shape = 1,
                 .head = 64,
                 .per_page = 1,
                 .seed = 3};
    return churn_run(&t, 1, ops);
}

double wl_huge(const params_t *p, uint64_t *ops)
{
    churn_t t = {.live = qsz(p, 20, 4),
                 .steps = qsz(p, 60, 8),
                 .lo = 5 * MIB,
                 .hi = 25 * MIB,
                 .shape = 1,
                 .head = PAGE,
                 .per_page = 1,
                 .seed = 5};
    return churn_run(&t, 1, ops);
}

double wl_realloc_chain(const params_t *p, uint64_t *ops)
{
    rc_t c = {.chains = qsz(p, 120000, 50)};
    hthread_t th = {.work = rc_work, .arg = &c};
    uint64_t ns = harness_run(&th, 1);
    *ops = c.reallocs;
    return (double)ns / (double)c.reallocs;
}

/* larson-Tt (16..256 B) and larson-server-Tt (8..1000 B): the same pattern, other sizes. */
static double larson_run(const params_t *p, size_t lo, size_t hi, uint64_t *ops)
{
    int n = p->threads;
    larson_arr_t arr[n];
    larson_t l[n];
    hthread_t th[n];
    pthread_barrier_t round;
    size_t rounds = qsz(p, 40, 4), steps = qsz(p, 200000, 2000);
    pthread_barrier_init(&round, NULL, (unsigned)n);
    for (int i = 0; i < n; i++) {
        l[i] = (larson_t){.arr = arr,
                          .round = &round,
                          .idx = i,
                          .n = n,
                          .live = qsz(p, 5000, 500),
                          .rounds = rounds,
                          .steps = steps,
                          .lo = lo,
                          .hi = hi};
        th[i] = (hthread_t){
            .setup = larson_setup, .work = larson_work, .teardown = larson_teardown, .arg = &l[i]};
    }
    uint64_t ns = harness_run(th, n);
    pthread_barrier_destroy(&round);
    uint64_t per_thread = (uint64_t)rounds * steps;
    *ops = per_thread * (uint64_t)n;
    return (double)ns / (double)per_thread;
}

double wl_larson(const params_t *p, uint64_t *ops)
{
    return larson_run(p, 16, 256, ops);
}

double wl_larson_server(const params_t *p, uint64_t *ops)
{
    return larson_run(p, 8, 1000, ops);
}

/*
 * cache-scratch-Tt (passive: each thread's first object was malloc'd by the
 * main thread, next to the others') and false-sharing-Tt (active, Hoard's
 * cache-thrash: the threads allocate their own objects from the start, at the
 * same time, so an allocator that carves one cache line for two threads makes
 * their writes ping-pong).
 */
static double cs_run(const params_t *p, int passive, uint64_t *ops)
{
    int n = p->threads;
    cs_t *c = aligned_alloc(64, sizeof(cs_t) * (size_t)n);
    hthread_t th[n];
    if (!c) {
        fprintf(stderr, "numa_bench: aligned_alloc failed\n");
        exit(2);
    }
    size_t iters = qsz(p, 400000, 2000);
    for (int i = 0; i < n; i++) /* back to back, from the main thread */
        c[i] = (cs_t){
            .first = passive ? xmalloc(CS_SIZE) : NULL, .iters = iters, .writes = qsz(p, 100, 20)};
    for (int i = 0; i < n; i++)
        th[i] = (hthread_t){.work = cs_work, .arg = &c[i]};
    uint64_t ns = harness_run(th, n);
    for (int i = 0; i < n; i++)
        sink_add(c[i].acc);
    free(c);
    *ops = iters * (uint64_t)n;
    return (double)ns / (double)iters;
}

double wl_cache_scratch(const params_t *p, uint64_t *ops)
{
    return cs_run(p, 1, ops);
}

double wl_false_sharing(const params_t *p, uint64_t *ops)
{
    return cs_run(p, 0, ops);
}

double wl_short_threads(const params_t *p, uint64_t *ops)
{
    int n = p->threads;
    size_t total = qsz(p, 4000, 64);
    size_t rounds = (total + (size_t)n - 1) / (size_t)n;
    st_t t[n];
    pthread_t tid[n];
    uint64_t t0 = now_ns();
    for (size_t r = 0; r < rounds; r++) {
        for (int i = 0; i < n; i++) {
            t[i] = (st_t){.seed = 77 + r * (size_t)n + (size_t)i};
            int e = pthread_create(&tid[i], NULL, st_thread, &t[i]);
            if (e) {
                fprintf(stderr, "numa_bench: pthread_create: %s\n", strerror(e));
                exit(2);
            }
        }
        for (int i = 0; i < n; i++) {
            pthread_join(tid[i], NULL);
            sink_add(t[i].acc);
            for (int k = 0; k < ST_KEEP; k++)
                free(t[i].keep[k]);
        }
    }
    uint64_t ns = now_ns() - t0;
    *ops = rounds * (uint64_t)n;
    return (double)ns / (double)*ops;
}

/* Nodes per thread: 200k, fewer above 4 threads (at most 800k in all, ~100 MiB). */
static size_t ns_nodes(const params_t *p)
{
    size_t per = 800000 / (size_t)p->threads;
    return qsz(p, per < 200000 ? per : 200000, 5000);
}

double wl_numa_shaped(const params_t *p, uint64_t *ops)
{
    int n = p->threads;
    ns_t t[n];
    hthread_t th[n];
    size_t nodes = ns_nodes(p), rounds = qsz(p, 3, 1);
    for (int i = 0; i < n; i++) {
        t[i] = (ns_t){.nodes = nodes, .rounds = rounds, .seed = 31 + (uint64_t)i};
        th[i] = (hthread_t){.work = ns_work, .arg = &t[i]};
    }
    uint64_t ns = harness_run(th, n);
    for (int i = 0; i < n; i++)
        sink_add(t[i].acc);
    uint64_t per_thread = (uint64_t)nodes * rounds;
    /* Which phase an allocator loses (docs/benchmarks.md, session 42): ns per node, thread 0. */
    if (getenv("NUMA_BENCH_PHASES"))
        fprintf(stderr, "numa-shaped phases: build %.1f walk %.1f free %.1f ns/node\n",
                (double)t[0].phase_ns[0] / (double)per_thread,
                (double)t[0].phase_ns[1] / (double)per_thread,
                (double)t[0].phase_ns[2] / (double)per_thread);
    *ops = per_thread * (uint64_t)n;
    return (double)ns / (double)per_thread;
}
