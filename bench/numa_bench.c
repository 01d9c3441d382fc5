/*
 * numa_bench.c - allocator benchmark for numa-alloc.
 *
 * The binary is NOT linked against any allocator: the allocator under test is
 * chosen with LD_PRELOAD. Two modes:
 *
 *   numa_bench --run=WORKLOAD [--quick] [--threads=T]
 *       Child mode: runs one workload once in this process and prints one
 *       machine-readable line:
 *         RESULT workload=W ns_per_op=X ops=N maxrss_kib=K malloc_from=PATH
 *       If NUMA_BENCH_EXPECT is set ("glibc" or a .so path) the child checks,
 *       via dladdr(malloc) and /proc/self/maps, that malloc really comes from
 *       that allocator and exits 3 if not.
 *
 *   numa_bench --all [--reps=N] [--quick] [--threads=T] [--out=FILE.md]
 *                    [--lib=PATH] [--workloads=a,b,...] [--data=F.tsv] [--chart=F.png]
 *       Runner mode: re-executes /proc/self/exe once per (rep, workload,
 *       allocator), interleaved (for each rep, for each workload, every
 *       allocator in turn), takes medians over reps and prints a markdown
 *       table (also written to FILE.md with --out), with ratios to glibc,
 *       jemalloc, mimalloc and the best peer (the fastest of jemalloc,
 *       mimalloc, tcmalloc) and their geometric means. --data writes the
 *       medians as tab-separated text, --chart a PNG bar chart (gnuplot).
 *       The peers are looked for in /usr/lib/x86_64-linux-gnu, or in
 *       $NUMA_BENCH_PEER_DIR.
 *
 * Every workload is deterministic: a seeded xorshift64* PRNG, fixed sizes.
 *
 * The prog-* workloads time unmodified programs (python3, git, sqlite3): the
 * child starts the program with its own environment (so the program inherits
 * LD_PRELOAD), checks in the program's /proc/<pid>/maps that the allocator
 * is really there, checks the program's exit status and output, and reports
 * the wall time of one run and the program's peak RSS (see "Real programs").
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <gnu/libc-version.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Where the peers (jemalloc, mimalloc, tcmalloc) are; NUMA_BENCH_PEER_DIR overrides. */
#define PEER_DIR_DEFAULT "/usr/lib/x86_64-linux-gnu"

#ifndef NUMA_BENCH_DEFAULT_LIB
#define NUMA_BENCH_DEFAULT_LIB "build/libnumapreload.so"
#endif

#define PAGE 4096u
#define KIB  ((size_t)1 << 10)
#define MIB  ((size_t)1 << 20)

extern char **environ;

/* ------------------------------------------------------------------------ */
/* Shared helpers: PRNG, clock, page touching, sink.                          */
/* ------------------------------------------------------------------------ */

typedef struct {
    uint64_t s;
} rng_t;

static rng_t rng_seed(uint64_t seed)
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

/* Keeps reads observable so nothing is optimised away. */
static _Atomic uint64_t g_sink;

static void sink_add(uint64_t v)
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

static void *xmalloc(size_t n)
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

struct harness {
    pthread_barrier_t start;
};

static void *harness_thread(void *v)
{
    hthread_t *t = v;
    if (t->setup)
        t->setup(t->arg);
    pthread_barrier_wait(&t->h->start);
    t->t0 = now_ns();
    t->work(t->arg);
    t->t1 = now_ns();
    if (t->teardown)
        t->teardown(t->arg);
    return NULL;
}

/* Runs the threads (thread 0 on the calling thread); returns wall ns. */
static uint64_t harness_run(hthread_t *th, int n)
{
    harness_t h;
    pthread_t tid[n > 0 ? n : 1];
    pthread_barrier_init(&h.start, NULL, (unsigned)n);
    for (int i = 0; i < n; i++)
        th[i].h = &h;
    for (int i = 1; i < n; i++) {
        int e = pthread_create(&tid[i], NULL, harness_thread, &th[i]);
        if (e) {
            fprintf(stderr, "numa_bench: pthread_create: %s\n", strerror(e));
            exit(2);
        }
    }
    harness_thread(&th[0]);
    for (int i = 1; i < n; i++)
        pthread_join(tid[i], NULL);
    pthread_barrier_destroy(&h.start);
    uint64_t t0 = UINT64_MAX, t1 = 0;
    for (int i = 0; i < n; i++) {
        if (th[i].t0 < t0)
            t0 = th[i].t0;
        if (th[i].t1 > t1)
            t1 = th[i].t1;
    }
    return t1 - t0;
}

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
} larson_t;

#define LARSON_LO 16
#define LARSON_HI 256

static void larson_setup(void *arg)
{
    larson_t *l = arg;
    larson_arr_t *a = &l->arr[l->idx];
    a->r = rng_seed(11 + (uint64_t)l->idx * 7919u);
    a->slot = xmalloc(l->live * sizeof *a->slot);
    for (size_t i = 0; i < l->live; i++) {
        size_t sz = rng_size(&a->r, LARSON_LO, LARSON_HI, 1);
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
            size_t sz = rng_size(&rr, LARSON_LO, LARSON_HI, 1);
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
    free(c->first);
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
        /* free, in bucket order */
        for (size_t b = 0; b < nb; b++)
            for (ns_node_t *n = bucket[b], *next; n; n = next) {
                next = n->next;
                free(n);
            }
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

typedef struct {
    double getcpu_ns, rseq_ns, syscall_ns;
} cn_result_t;

static cn_result_t current_node(size_t iters)
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
/* Workload table.                                                           */
/* ------------------------------------------------------------------------ */

typedef struct {
    int quick;
    int threads;
} params_t;

/* Picks the full-size or the --quick count. */
static size_t qsz(const params_t *p, size_t full, size_t quick)
{
    return p->quick ? quick : full;
}

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

static double wl_small_churn_1t(const params_t *p, uint64_t *ops)
{
    return wl_small_churn(p, 1, ops);
}

static double wl_small_churn_mt(const params_t *p, uint64_t *ops)
{
    return wl_small_churn(p, p->threads, ops);
}

static double wl_producer_consumer(const params_t *p, uint64_t *ops)
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

static double wl_large(const params_t *p, uint64_t *ops)
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

static double wl_huge(const params_t *p, uint64_t *ops)
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

static double wl_realloc_chain(const params_t *p, uint64_t *ops)
{
    rc_t c = {.chains = qsz(p, 120000, 50)};
    hthread_t th = {.work = rc_work, .arg = &c};
    uint64_t ns = harness_run(&th, 1);
    *ops = c.reallocs;
    return (double)ns / (double)c.reallocs;
}

static double wl_larson(const params_t *p, uint64_t *ops)
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
                          .steps = steps};
        th[i] = (hthread_t){
            .setup = larson_setup, .work = larson_work, .teardown = larson_teardown, .arg = &l[i]};
    }
    uint64_t ns = harness_run(th, n);
    pthread_barrier_destroy(&round);
    uint64_t per_thread = (uint64_t)rounds * steps;
    *ops = per_thread * (uint64_t)n;
    return (double)ns / (double)per_thread;
}

static double wl_cache_scratch(const params_t *p, uint64_t *ops)
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
        c[i] = (cs_t){.first = xmalloc(CS_SIZE), .iters = iters, .writes = qsz(p, 100, 20)};
    for (int i = 0; i < n; i++)
        th[i] = (hthread_t){.work = cs_work, .arg = &c[i]};
    uint64_t ns = harness_run(th, n);
    for (int i = 0; i < n; i++)
        sink_add(c[i].acc);
    free(c);
    *ops = iters * (uint64_t)n;
    return (double)ns / (double)iters;
}

static double wl_short_threads(const params_t *p, uint64_t *ops)
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

static double wl_numa_shaped(const params_t *p, uint64_t *ops)
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
    *ops = per_thread * (uint64_t)n;
    return (double)ns / (double)per_thread;
}

/* ------------------------------------------------------------------------ */
/* Real programs (prog-*): python3, git and sqlite3 run as subprocesses.     */
/*                                                                           */
/* The child that runs one of these workloads already has the allocator in  */
/* LD_PRELOAD (set by the runner); the program is started with posix_spawn   */
/* and our environment, so it inherits the preload. Before the timed run, an */
/* untimed run of the same program dumps its own /proc/<pid>/maps (python:   */
/* /proc/self/maps; sqlite3: ".system cat /proc/$PPID/maps"; git: a shell    */
/* alias "!cat /proc/$PPID/maps"), and the child checks that the expected    */
/* allocator is mapped in the program (or, for glibc, that none is). The     */
/* timed run's stdout must hash to a known value and every command must exit */
/* 0; otherwise the child prints the output and fails (exit 4).              */
/* One op = one run of the program (git: the whole command sequence); the   */
/* peak RSS is the program's own ru_maxrss from wait4 (git: the largest of   */
/* its commands, each including the processes it waited for).               */
/* ------------------------------------------------------------------------ */

#define PYTHON3 "/usr/bin/python3"
#define GIT     "/usr/bin/git"
#define SQLITE3 "/usr/bin/sqlite3"

static long g_prog_maxrss_kib = -1; /* set by prog-* workloads */
static uint64_t g_prog_cpu_ns;      /* user + system CPU time of the timed commands */
static volatile pid_t g_prog_pid;

static void prog_on_alarm(int sig)
{
    (void)sig;
    static const char m[] = "numa_bench: program timed out, killed\n";
    if (g_prog_pid > 0)
        kill(g_prog_pid, SIGKILL);
    if (write(STDERR_FILENO, m, sizeof m - 1) < 0)
        _exit(5);
    _exit(5);
}

typedef struct {
    const char *name; /* workload name, for messages */
    char dir[PATH_MAX];
    char out[PATH_MAX + 16], err[PATH_MAX + 16], maps[PATH_MAX + 16];
    uint64_t ns;     /* sum of the timed commands' wall times */
    uint64_t cpu_ns; /* and of their user + system CPU times (with their children) */
    long maxrss_kib; /* largest ru_maxrss of the timed commands */
} prog_t;

static void prog_die(prog_t *pr, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));

static void show_file(const char *label, const char *path, size_t max)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1 < max ? sizeof buf - 1 : max, f);
    buf[n] = 0;
    fclose(f);
    fprintf(stderr, "---- %s (first %zu bytes) ----\n%s\n----\n", label, n, buf);
}

static void prog_die(prog_t *pr, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "numa_bench: %s: FAIL: ", pr->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n  LD_PRELOAD=%s\n  work directory kept: %s\n",
            getenv("LD_PRELOAD") ? getenv("LD_PRELOAD") : "(unset)", pr->dir);
    show_file("program stderr", pr->err, 2048);
    exit(4);
}

static void write_file(prog_t *pr, const char *path, const char *data, size_t n)
{
    FILE *f = fopen(path, "w");
    if (!f || fwrite(data, 1, n, f) != n || fclose(f))
        prog_die(pr, "cannot write %s: %s", path, strerror(errno));
}

static void prog_init(prog_t *pr, const char *name)
{
    memset(pr, 0, sizeof *pr);
    pr->name = name;
    const char *tmp = getenv("TMPDIR");
    snprintf(pr->dir, sizeof pr->dir, "%s/numa_bench-%s.XXXXXX", tmp && *tmp ? tmp : "/tmp", name);
    if (!mkdtemp(pr->dir)) {
        fprintf(stderr, "numa_bench: mkdtemp %s: %s\n", pr->dir, strerror(errno));
        exit(2);
    }
    snprintf(pr->out, sizeof pr->out, "%s/.stdout", pr->dir);
    snprintf(pr->err, sizeof pr->err, "%s/.stderr", pr->dir);
    snprintf(pr->maps, sizeof pr->maps, "%s/.maps", pr->dir);
    /* The same locale, time zone and hash seed under every allocator. */
    setenv("LC_ALL", "C", 1);
    setenv("TZ", "UTC", 1);
    signal(SIGALRM, prog_on_alarm);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void prog_cleanup(prog_t *pr)
{
    nftw(pr->dir, rm_entry, 32, FTW_DEPTH | FTW_PHYS);
}

/*
 * Runs argv (argv[0]: absolute path) in `cwd` with our environment, stdin
 * from `in` (NULL: /dev/null), stdout appended to `out`, stderr appended to
 * pr->err. Fails the workload unless it exits 0. Timed runs add to pr->ns
 * and pr->maxrss_kib.
 */
static void prog_exec(prog_t *pr, const char *cwd, const char *in, const char *out,
                      char *const argv[], int timed)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, in ? in : "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, out, O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, pr->err, O_WRONLY | O_CREAT | O_APPEND,
                                     0644);
    if (cwd)
        posix_spawn_file_actions_addchdir_np(&fa, cwd);
    pid_t pid;
    struct rusage ru;
    int st;
    uint64_t t0 = now_ns();
    int e = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (e)
        prog_die(pr, "cannot start %s: %s (is it installed? see tools/packages.txt)", argv[0],
                 strerror(e));
    g_prog_pid = pid;
    while (wait4(pid, &st, 0, &ru) < 0)
        if (errno != EINTR)
            prog_die(pr, "wait4: %s", strerror(errno));
    uint64_t t1 = now_ns();
    g_prog_pid = 0;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        char cmd[2048];
        int k = 0;
        for (int i = 0; argv[i] && k < (int)sizeof cmd - 1; i++)
            k += snprintf(cmd + k, sizeof cmd - (size_t)k, "%s'%s'", i ? " " : "", argv[i]);
        if (WIFSIGNALED(st))
            prog_die(pr, "%s killed by signal %d (%s)", cmd, WTERMSIG(st), strsignal(WTERMSIG(st)));
        prog_die(pr, "%s exited with status %d", cmd, WEXITSTATUS(st));
    }
    if (timed) {
        pr->ns += t1 - t0;
        pr->cpu_ns += (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000ull +
                      (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000ull;
        if (ru.ru_maxrss > pr->maxrss_kib)
            pr->maxrss_kib = ru.ru_maxrss;
    }
}

/*
 * Runs `argv`, which must print the program's own /proc/<pid>/maps, and
 * checks that the expected allocator is mapped in it (glibc: that none of
 * the known malloc replacements is).
 */
static void prog_check_maps(prog_t *pr, const char *cwd, char *const argv[])
{
    remove(pr->maps);
    prog_exec(pr, cwd, NULL, pr->maps, argv, 0);
    FILE *f = fopen(pr->maps, "r");
    if (!f)
        prog_die(pr, "no maps output from %s", argv[0]);
    const char *exp = getenv("NUMA_BENCH_EXPECT");
    char want[PATH_MAX] = "";
    if (exp && *exp && strcmp(exp, "glibc") != 0 && !realpath(exp, want))
        prog_die(pr, "expected allocator %s: %s", exp, strerror(errno));
    if (!exp || !*exp) { /* manual --run: whatever LD_PRELOAD names */
        const char *lp = getenv("LD_PRELOAD");
        char first[PATH_MAX];
        if (lp && *lp) {
            snprintf(first, sizeof first, "%.*s", (int)strcspn(lp, ": "), lp);
            if (!realpath(first, want))
                snprintf(want, sizeof want, "%s", first);
        }
    }
    static const char *const others[] = {"libjemalloc", "libmimalloc", "libtcmalloc",
                                         "libnumapreload"};
    char line[4096], foreign[4096] = "";
    int found = 0, libc = 0;
    while (fgets(line, sizeof line, f)) {
        libc |= strstr(line, "/libc.so") != NULL;
        if (want[0] && strstr(line, want))
            found = 1;
        for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
            if (!foreign[0] && strstr(line, others[i]) && !(want[0] && strstr(line, want)))
                snprintf(foreign, sizeof foreign, "%s", line);
    }
    fclose(f);
    if (!libc)
        prog_die(pr, "%s did not print its /proc/<pid>/maps (see %s)", argv[0], pr->maps);
    if (want[0] && !found)
        prog_die(pr, "%s is NOT mapped in %s (see %s): the preload did not reach the program", want,
                 argv[0], pr->maps);
    if (foreign[0])
        prog_die(pr, "%s has another allocator mapped: %s", argv[0], foreign);
    remove(pr->maps);
}

static uint64_t fnv1a_file(prog_t *pr, const char *path, size_t *len)
{
    FILE *f = fopen(path, "r");
    if (!f)
        prog_die(pr, "cannot read %s: %s", path, strerror(errno));
    uint64_t h = 0xcbf29ce484222325ull;
    int c;
    *len = 0;
    while ((c = getc(f)) != EOF) {
        h = (h ^ (unsigned char)c) * 0x100000001b3ull;
        (*len)++;
    }
    fclose(f);
    return h;
}

/* The timed run's stdout must be exactly the expected output. */
static void prog_check_output(prog_t *pr, uint64_t want)
{
    size_t len;
    uint64_t h = fnv1a_file(pr, pr->out, &len);
    if (h != want) {
        show_file("program stdout", pr->out, 3000);
        prog_die(pr, "WRONG OUTPUT: %zu bytes with FNV-1a hash %016llx, expected %016llx", len,
                 (unsigned long long)h, (unsigned long long)want);
    }
}

static double prog_finish(prog_t *pr, uint64_t *ops)
{
    prog_cleanup(pr);
    g_prog_maxrss_kib = pr->maxrss_kib;
    g_prog_cpu_ns = pr->cpu_ns;
    *ops = 1;
    return (double)pr->ns;
}

/* ---- prog-python: python3 with PYTHONMALLOC=malloc (objects from malloc) ---- */

static const char py_script[] =
    "import hashlib, json, random, sys\n"
    "n = int(sys.argv[1])\n"
    "rng = random.Random(12345)\n"
    "recs = []\n"
    "for i in range(n):\n"
    "    recs.append({'id': i, 'name': 'user%07d' % ((i * 7919) % n),\n"
    "                 'tags': ['t%d' % (i % 13), 'g%d' % (i % 7)],\n"
    "                 'score': ((i * 104729) % 1000003) / 8.0,\n"
    "                 'note': 'x' * (i % 40)})\n"
    "by_name = {}\n"
    "for r in recs:\n"
    "    by_name.setdefault(r['name'], []).append(r['id'])\n"
    "words = ['%08x' % rng.getrandbits(32) * (1 + i % 4) for i in range(n)]\n"
    "words.sort()\n"
    "assert all(words[i] <= words[i + 1] for i in range(len(words) - 1))\n"
    "recs.sort(key=lambda r: (r['score'], r['id']))\n"
    "s = json.dumps(recs, sort_keys=True)\n"
    "back = json.loads(s)\n"
    "assert back == recs\n"
    "groups = {}\n"
    "for r in back:\n"
    "    groups.setdefault(r['tags'][0], []).append(r['score'])\n"
    "churn = {}\n"
    "for i in range(n):\n"
    "    churn[words[i]] = [i] * (i % 5)\n"
    "    if i % 3 == 0:\n"
    "        churn.pop(words[i // 2], None)\n"
    "summary = sorted((k, len(v), sum(v)) for k, v in groups.items())\n"
    "print(len(recs), len(by_name), len(s), len(churn), words[0], words[-1])\n"
    "print(hashlib.sha256(s.encode()).hexdigest())\n"
    "print(hashlib.sha256(repr(summary).encode()).hexdigest())\n";

static double wl_prog_python(const params_t *p, uint64_t *ops)
{
    prog_t pr;
    prog_init(&pr, "prog-python");
    setenv("PYTHONMALLOC", "malloc", 1); /* no pymalloc arenas: every object is a malloc */
    setenv("PYTHONHASHSEED", "0", 1);
    setenv("PYTHONDONTWRITEBYTECODE", "1", 1);
    unsetenv("PYTHONPATH");
    unsetenv("PYTHONHOME");
    unsetenv("PYTHONSTARTUP");
    char script[PATH_MAX + 16], n[32];
    snprintf(script, sizeof script, "%s/w.py", pr.dir);
    write_file(&pr, script, py_script, sizeof py_script - 1);
    snprintf(n, sizeof n, "%zu", qsz(p, 40000, 2000));

    char *check[] = {PYTHON3, "-s", "-c", "print(open('/proc/self/maps').read())", NULL};
    prog_check_maps(&pr, pr.dir, check);
    char *argv[] = {PYTHON3, "-s", script, n, NULL};
    prog_exec(&pr, pr.dir, NULL, pr.out, argv, 1);
    prog_check_output(&pr, p->quick ? 0x8728a04e2fd84349ull : 0xf1e2a9c8a0eeecacull);
    return prog_finish(&pr, ops);
}

/* ---- prog-sqlite3: the sqlite3 shell on an in-memory database ---- */

static const char sql_script[] =
    "PRAGMA temp_store = MEMORY;\n"
    "CREATE TABLE t(id INTEGER PRIMARY KEY, a INTEGER, b TEXT, c REAL);\n"
    "WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM s WHERE x < %zu)\n"
    "INSERT INTO t SELECT x, (x * 7919) %% 1000, printf('k%%08d', (x * 104729) %% 1000003), "
    "x * 0.5 FROM s;\n"
    "CREATE INDEX t_b ON t(b);\n"
    "CREATE INDEX t_ac ON t(a, c);\n"
    "SELECT count(*), sum(a), min(b), max(b), sum(c) FROM t;\n"
    "SELECT a, count(*), sum(c) FROM t GROUP BY a ORDER BY sum(c) DESC, a LIMIT 5;\n"
    "SELECT b FROM t ORDER BY b DESC LIMIT 3;\n"
    "SELECT count(DISTINCT b), count(DISTINCT substr(b, 1, 6)) FROM t;\n"
    "SELECT group_concat(id) FROM (SELECT id FROM t WHERE a = 7 ORDER BY c DESC LIMIT 5);\n"
    "SELECT sum(length(k)), min(k), max(k) FROM (SELECT b || '-' || a AS k FROM t "
    "ORDER BY (id * 31) %% 1009, b LIMIT %zu);\n"
    "SELECT count(*) FROM t x JOIN t y ON y.id = x.a + 1 WHERE x.c > 1000;\n";

static double wl_prog_sqlite3(const params_t *p, uint64_t *ops)
{
    prog_t pr;
    prog_init(&pr, "prog-sqlite3");
    size_t rows = qsz(p, 200000, 2000);
    char script[PATH_MAX + 16], sql[4096];
    snprintf(script, sizeof script, "%s/w.sql", pr.dir);
    int n = snprintf(sql, sizeof sql, sql_script, rows, rows * 3 / 4);
    write_file(&pr, script, sql, (size_t)n);

    char *check[] = {SQLITE3, ":memory:", ".system cat /proc/$PPID/maps", NULL};
    prog_check_maps(&pr, pr.dir, check);
    char *argv[] = {SQLITE3, "-batch", "-bail", ":memory:", NULL};
    prog_exec(&pr, pr.dir, script, pr.out, argv, 1);
    prog_check_output(&pr, p->quick ? 0x7d7fd9262dfda1ddull : 0x9c053d96f02c095bull);
    return prog_finish(&pr, ops);
}

/* ---- prog-git: init, add and commit ~2000 files, modify, commit, gc, log, fsck ---- */

static void git_write_tree(prog_t *pr, const char *repo, size_t nfiles, int round)
{
    rng_t r = rng_seed(1000 + (uint64_t)round);
    char path[PATH_MAX + 64], buf[8192];
    for (size_t i = 0; i < nfiles; i++) {
        /* round 0 writes every file; round 1 rewrites every 10th, adds 2 %, deletes 0.5 % */
        int del = round == 1 && i % 200 == 7;
        if (round == 1 && i % 10 != 0 && !del)
            continue;
        snprintf(path, sizeof path, "%s/d%02zu", repo, i / 50);
        mkdir(path, 0755);
        snprintf(path, sizeof path, "%s/d%02zu/f%05zu.txt", repo, i / 50, i);
        if (del) {
            if (remove(path))
                prog_die(pr, "remove %s: %s", path, strerror(errno));
            continue;
        }
        size_t lines = 20 + rng_below(&r, 80), k = 0;
        for (size_t l = 0; l < lines && k < sizeof buf - 64; l++)
            k += (size_t)snprintf(buf + k, sizeof buf - k, "file %zu line %zu round %d %016llx\n",
                                  i, l, round, (unsigned long long)rng_next(&r));
        write_file(pr, path, buf, k);
    }
    if (round == 1)
        for (size_t i = nfiles; i < nfiles + nfiles / 50; i++) {
            snprintf(path, sizeof path, "%s/new", repo);
            mkdir(path, 0755);
            snprintf(path, sizeof path, "%s/new/n%05zu.txt", repo, i);
            int k = snprintf(buf, sizeof buf, "new file %zu %016llx\n", i,
                             (unsigned long long)rng_next(&r));
            write_file(pr, path, buf, (size_t)k);
        }
}

static double wl_prog_git(const params_t *p, uint64_t *ops)
{
    prog_t pr;
    prog_init(&pr, "prog-git");
    size_t nfiles = qsz(p, 2000, 100);
    char repo[PATH_MAX + 16];
    snprintf(repo, sizeof repo, "%s/repo", pr.dir);
    if (mkdir(repo, 0755))
        prog_die(&pr, "mkdir %s: %s", repo, strerror(errno));
    /* Fixed identity and dates: the commit ids are the same on every run. */
    setenv("HOME", pr.dir, 1);
    setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
    setenv("GIT_CONFIG_GLOBAL", "/dev/null", 1);
    setenv("GIT_AUTHOR_NAME", "numa bench", 1);
    setenv("GIT_AUTHOR_EMAIL", "bench@example.invalid", 1);
    setenv("GIT_COMMITTER_NAME", "numa bench", 1);
    setenv("GIT_COMMITTER_EMAIL", "bench@example.invalid", 1);
    setenv("GIT_AUTHOR_DATE", "2001-02-03T04:05:06Z", 1);
    setenv("GIT_COMMITTER_DATE", "2001-02-03T04:05:06Z", 1);
    unsetenv("GIT_DIR");
    unsetenv("GIT_WORK_TREE");
    unsetenv("GIT_INDEX_FILE");
    /* no background gc/maintenance, no fsync (we measure the allocator, not the disk) */
#define GITC                                                                                       \
    "-c", "gc.auto=0", "-c", "maintenance.auto=false", "-c", "core.fsync=none", "-c",              \
        "init.defaultBranch=main", "-c", "gc.autoDetach=false"

    char *check[] = {GIT, "-c", "alias.nbmaps=!cat /proc/$PPID/maps", "nbmaps", NULL};
    prog_check_maps(&pr, repo, check);

    git_write_tree(&pr, repo, nfiles, 0);
    char *init[] = {GIT, GITC, "init", "-q", NULL};
    char *add[] = {GIT, GITC, "add", "-A", NULL};
    char *commit1[] = {GIT, GITC, "commit", "-q", "-m", "first", NULL};
    char *commit2[] = {GIT, GITC, "commit", "-q", "-m", "second", NULL};
    char *gc[] = {GIT, GITC, "gc", "-q", NULL};
    char *log[] = {GIT, GITC, "log", "--format=%H %T %s", NULL};
    char *diff[] = {GIT, GITC, "diff", "--shortstat", "HEAD~1", "HEAD", NULL};
    char *revlist[] = {GIT, GITC, "rev-list", "--objects", "--all", NULL};
    char *fsck[] = {GIT, GITC, "fsck", "--full", "--strict", "--no-progress", NULL};
    prog_exec(&pr, repo, NULL, pr.out, init, 1);
    prog_exec(&pr, repo, NULL, pr.out, add, 1);
    prog_exec(&pr, repo, NULL, pr.out, commit1, 1);
    git_write_tree(&pr, repo, nfiles, 1); /* untimed */
    prog_exec(&pr, repo, NULL, pr.out, add, 1);
    prog_exec(&pr, repo, NULL, pr.out, commit2, 1);
    prog_exec(&pr, repo, NULL, pr.out, gc, 1);
    prog_exec(&pr, repo, NULL, pr.out, log, 1);
    prog_exec(&pr, repo, NULL, pr.out, diff, 1);
    prog_exec(&pr, repo, NULL, pr.out, revlist, 1);
    prog_exec(&pr, repo, NULL, pr.out, fsck, 1);
#undef GITC
    prog_check_output(&pr, p->quick ? 0x7aeca3d6d00a07d9ull : 0x170a0097c5ecc7a2ull);
    return prog_finish(&pr, ops);
}

typedef struct {
    const char *name; /* "%d" is replaced by the thread count */
    double (*fn)(const params_t *, uint64_t *ops);
    const char *unit; /* what one "op" is */
    int prog;         /* a real program: one op = one run, reported in ms */
} workload_t;

static const workload_t workloads[] = {
    {"small-churn-1t", wl_small_churn_1t, "free+malloc pair (8..512 B, 10k live)", 0},
    {"small-churn-%dt", wl_small_churn_mt, "free+malloc pair per thread (wall)", 0},
    {"producer-consumer", wl_producer_consumer,
     "object (16..1024 B) malloc'd in A, freed in B (wall, per pair)", 0},
    {"large", wl_large, "free+malloc+touch (64 KiB..2 MiB, 8 live)", 0},
    {"huge", wl_huge, "free+malloc+touch (5..25 MiB, 20 live)", 0},
    {"realloc-chain", wl_realloc_chain, "realloc step (x1.5, 16 B..1 MiB)", 0},
    {"larson-%dt", wl_larson,
     "free+malloc pair per thread (16..256 B, 5k live; arrays move to another thread each round) "
     "(wall)",
     0},
    {"cache-scratch-%dt", wl_cache_scratch,
     "malloc(8), 100 writes per byte, free; per thread (wall)", 0},
    {"short-threads", wl_short_threads,
     "thread lifetime: create, 384 mallocs (8..2048 B), exit, join", 0},
    {"numa-shaped-%dt", wl_numa_shaped,
     "node (32..128 B) built, walked 4x, looked up 4x, freed; per thread (wall)", 0},
    {"prog-python", wl_prog_python,
     "one run of python3 (PYTHONMALLOC=malloc): 40k dicts, sort, json dumps/loads", 1},
    {"prog-git", wl_prog_git,
     "one run of git init/add/commit 2000 files, modify, add/commit, gc, log, diff, rev-list, "
     "fsck",
     1},
    {"prog-sqlite3", wl_prog_sqlite3,
     "one run of sqlite3 :memory:, 200k-row insert (recursive CTE), 2 indexes, aggregates, "
     "ORDER BY",
     1},
};
#define NWORKLOADS   (sizeof workloads / sizeof workloads[0])
#define CURRENT_NODE "current-node"

/* The display name: "%d" in the table's name is replaced by the thread count. */
static void workload_name(const workload_t *w, int threads, char *buf, size_t n)
{
    const char *d = strstr(w->name, "%d");
    if (d)
        snprintf(buf, n, "%.*s%d%s", (int)(d - w->name), w->name, threads, d + 2);
    else
        snprintf(buf, n, "%s", w->name);
}

/*
 * Finds a workload by display name; a name like small-churn-4t or larson-8t
 * sets the thread count (exact names, e.g. small-churn-1t, win).
 */
static const workload_t *workload_find(const char *name, int *threads)
{
    for (size_t i = 0; i < NWORKLOADS; i++) {
        char buf[64];
        workload_name(&workloads[i], *threads, buf, sizeof buf);
        if (strcmp(buf, name) == 0)
            return &workloads[i];
    }
    for (size_t i = 0; i < NWORKLOADS; i++) {
        const char *d = strstr(workloads[i].name, "%d");
        size_t pre = d ? (size_t)(d - workloads[i].name) : 0;
        if (!d || strncmp(name, workloads[i].name, pre) != 0)
            continue;
        const char *s = name + pre;
        if (*s < '1' || *s > '9')
            continue;
        char *end;
        long t = strtol(s, &end, 10);
        if (t >= 1 && t <= 256 && strcmp(end, d + 2) == 0) {
            *threads = (int)t;
            return &workloads[i];
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Child mode.                                                               */
/* ------------------------------------------------------------------------ */

static int maps_contains(const char *path)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[4096];
    int found = 0;
    if (!f)
        return 0;
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, path) != NULL;
    fclose(f);
    return found;
}

/*
 * Which object does malloc resolve to? Checked against NUMA_BENCH_EXPECT.
 * Writes the object's path to `from`; returns 0 if it matches (or nothing
 * is expected).
 */
static int check_allocator(char *from, size_t n)
{
    void *(*volatile m)(size_t) = malloc;
    Dl_info info;
    char real_from[PATH_MAX], real_exp[PATH_MAX];
    if (!dladdr((void *)m, &info) || !info.dli_fname) {
        snprintf(from, n, "unknown");
        fprintf(stderr, "numa_bench: dladdr(malloc) failed\n");
        return -1;
    }
    if (!realpath(info.dli_fname, real_from))
        snprintf(real_from, sizeof real_from, "%s", info.dli_fname);
    snprintf(from, n, "%s", real_from);

    const char *exp = getenv("NUMA_BENCH_EXPECT");
    if (!exp || !*exp)
        return 0;
    if (strcmp(exp, "glibc") == 0) {
        const char *base = strrchr(real_from, '/');
        base = base ? base + 1 : real_from;
        if (strncmp(base, "libc.so", 7) == 0 || strncmp(base, "libc-", 5) == 0)
            return 0;
        fprintf(stderr, "numa_bench: expected glibc malloc, but malloc comes from %s\n", real_from);
        return -1;
    }
    if (!realpath(exp, real_exp)) {
        fprintf(stderr, "numa_bench: expected allocator %s: %s\n", exp, strerror(errno));
        return -1;
    }
    if (!maps_contains(real_exp)) {
        fprintf(stderr, "numa_bench: %s is not mapped (check LD_PRELOAD)\n", real_exp);
        return -1;
    }
    if (strcmp(real_exp, real_from) != 0) {
        fprintf(stderr, "numa_bench: %s is mapped but malloc comes from %s\n", real_exp, real_from);
        return -1;
    }
    return 0;
}

static int child_main(const char *name, const params_t *p0)
{
    params_t p = *p0;
    char from[PATH_MAX];
    int bad = check_allocator(from, sizeof from);
    if (bad)
        return 3;
    /* A deadlocked allocator must not hang the runner. */
    alarm(p.quick ? 60 : 300);

    struct rusage ru;
    if (strcmp(name, CURRENT_NODE) == 0) {
        cn_result_t r = current_node(p.quick ? 100000 : 50000000);
        getrusage(RUSAGE_SELF, &ru);
        printf("RESULT workload=%s ns_per_op=%.3f rseq_ns=%.3f syscall_ns=%.3f "
               "maxrss_kib=%ld malloc_from=%s\n",
               name, r.getcpu_ns, r.rseq_ns, r.syscall_ns, ru.ru_maxrss, from);
        return 0;
    }
    const workload_t *w = workload_find(name, &p.threads);
    if (!w) {
        fprintf(stderr, "numa_bench: unknown workload '%s'\n", name);
        return 2;
    }
    uint64_t ops = 0;
    double ns = w->fn(&p, &ops);
    getrusage(RUSAGE_SELF, &ru);
    /* prog-*: the peak RSS of the program, not of this process */
    long rss = w->prog ? g_prog_maxrss_kib : ru.ru_maxrss;
    printf("RESULT workload=%s ns_per_op=%.3f ops=%llu maxrss_kib=%ld malloc_from=%s", name, ns,
           (unsigned long long)ops, rss, from);
    if (w->prog)
        printf(" cpu_ns=%llu program_maps=ok output=ok", (unsigned long long)g_prog_cpu_ns);
    printf("\n");
    fflush(stdout);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Runner mode.                                                              */
/* ------------------------------------------------------------------------ */

#define MAX_ALLOCS 8
#define MAX_REPS   101

typedef struct {
    const char *name;
    char path[PATH_MAX]; /* "" = glibc (no preload) */
} alloc_t;

typedef struct {
    int n;
    double ns[MAX_REPS];
    double rss_kib[MAX_REPS];
    double extra1[MAX_REPS], extra2[MAX_REPS];
    int failed;
} cell_t;

static int file_exists(const char *p)
{
    return access(p, R_OK) == 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(const double *v, int n)
{
    if (n <= 0)
        return NAN;
    double tmp[MAX_REPS];
    memcpy(tmp, v, sizeof(double) * (size_t)n);
    qsort(tmp, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2;
}

/* Reads `key=` as a double from a RESULT line; NAN if absent. */
static double field(const char *line, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, " %s=", key);
    const char *s = strstr(line, pat);
    return s ? strtod(s + strlen(pat), NULL) : NAN;
}

/* Shell-ish rendering of the child command, for reproduction. */
static void child_cmdline(char *buf, size_t n, const alloc_t *a, const char *exe,
                          char *const argv[])
{
    int k = snprintf(buf, n, "NUMA_BENCH_EXPECT=%s ", a->path[0] ? a->path : "glibc");
    if (a->path[0])
        k += snprintf(buf + k, n - (size_t)k, "LD_PRELOAD=%s ", a->path);
    k += snprintf(buf + k, n - (size_t)k, "%s", exe);
    for (int i = 1; argv[i] && (size_t)k < n; i++)
        k += snprintf(buf + k, n - (size_t)k, " %s", argv[i]);
}

/*
 * Runs one child; returns 0 and fills `line` with its RESULT line, or -1
 * (after printing why and how to reproduce).
 */
static int run_child(const char *exe, const alloc_t *a, const char *wl, const params_t *p,
                     char *line, size_t linesz)
{
    char arg_run[96], arg_thr[32];
    snprintf(arg_run, sizeof arg_run, "--run=%s", wl);
    snprintf(arg_thr, sizeof arg_thr, "--threads=%d", p->threads);
    char *argv[] = {(char *)exe, arg_run, arg_thr, p->quick ? "--quick" : NULL, NULL};

    /* Environment: ours minus LD_PRELOAD / NUMA_BENCH_EXPECT, plus the new ones. */
    size_t ne = 0;
    while (environ[ne])
        ne++;
    char **envp = xmalloc((ne + 3) * sizeof *envp);
    size_t k = 0;
    for (size_t i = 0; i < ne; i++)
        if (strncmp(environ[i], "LD_PRELOAD=", 11) && strncmp(environ[i], "NUMA_BENCH_EXPECT=", 18))
            envp[k++] = environ[i];
    char env_pre[PATH_MAX + 16], env_exp[PATH_MAX + 32];
    snprintf(env_exp, sizeof env_exp, "NUMA_BENCH_EXPECT=%s", a->path[0] ? a->path : "glibc");
    envp[k++] = env_exp;
    if (a->path[0]) {
        snprintf(env_pre, sizeof env_pre, "LD_PRELOAD=%s", a->path);
        envp[k++] = env_pre;
    }
    envp[k] = NULL;

    int fd[2];
    if (pipe(fd)) {
        perror("numa_bench: pipe");
        exit(2);
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fd[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&fa, fd[0]);
    posix_spawn_file_actions_addclose(&fa, fd[1]);
    pid_t pid;
    int e = posix_spawn(&pid, exe, &fa, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    close(fd[1]);
    free(envp);
    if (e) {
        fprintf(stderr, "numa_bench: posix_spawn %s: %s\n", exe, strerror(e));
        close(fd[0]);
        return -1;
    }

    /* Keep the last 8 KiB of the child's stdout (the RESULT line is last). */
    char out[8192], chunk[4096];
    size_t got = 0;
    ssize_t r;
    while ((r = read(fd[0], chunk, sizeof chunk)) > 0 || (r < 0 && errno == EINTR)) {
        if (r <= 0)
            continue;
        if (got + (size_t)r > sizeof out - 1) {
            size_t drop = got + (size_t)r - (sizeof out - 1);
            drop = drop < got ? drop : got;
            memmove(out, out + drop, got - drop);
            got -= drop;
        }
        memcpy(out + got, chunk, (size_t)r);
        got += (size_t)r;
    }
    out[got] = 0;
    close(fd[0]);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;

    char *res = strstr(out, "RESULT ");
    int ok = WIFEXITED(st) && WEXITSTATUS(st) == 0 && res;
    if (!ok) {
        char cmd[PATH_MAX * 3];
        child_cmdline(cmd, sizeof cmd, a, exe, argv);
        if (WIFSIGNALED(st))
            fprintf(stderr, "\nnuma_bench: FAIL %s/%s: killed by signal %d (%s)\n", a->name, wl,
                    WTERMSIG(st), strsignal(WTERMSIG(st)));
        else
            fprintf(stderr, "\nnuma_bench: FAIL %s/%s: exit status %d%s\n", a->name, wl,
                    WIFEXITED(st) ? WEXITSTATUS(st) : -1, res ? "" : ", no RESULT line");
        fprintf(stderr, "  reproduce: %s\n", cmd);
        if (got)
            fprintf(stderr, "  stdout: %s\n", out);
        return -1;
    }
    char *nl = strchr(res, '\n');
    if (nl)
        *nl = 0;
    snprintf(line, linesz, "%s", res);
    return 0;
}

/* ---- report ---- */

typedef struct {
    char *buf;
    size_t len, cap;
} sbuf_t;

__attribute__((format(printf, 2, 3))) static void sb_printf(sbuf_t *s, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(s->buf + s->len, s->cap - s->len, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if (s->len + (size_t)n < s->cap) {
            s->len += (size_t)n;
            return;
        }
        s->cap = (s->cap + (size_t)n + 1) * 2;
        s->buf = realloc(s->buf, s->cap);
        if (!s->buf)
            exit(2);
    }
}

static void fmt_ns(char *b, size_t n, double v)
{
    if (isnan(v))
        snprintf(b, n, "FAIL");
    else if (v < 10)
        snprintf(b, n, "%.2f", v);
    else if (v < 1000)
        snprintf(b, n, "%.1f", v);
    else
        snprintf(b, n, "%.0f", v);
}

static void read_cpu_model(char *buf, size_t n)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];
    snprintf(buf, n, "unknown");
    if (!f)
        return;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0) {
            char *c = strchr(line, ':');
            if (c) {
                c++;
                while (*c == ' ' || *c == '\t')
                    c++;
                c[strcspn(c, "\n")] = 0;
                snprintf(buf, n, "%s", c);
            }
            break;
        }
    }
    fclose(f);
}

static int count_numa_nodes(void)
{
    int n = 0;
    char p[64];
    for (int i = 0; i < 1024; i++) {
        snprintf(p, sizeof p, "/sys/devices/system/node/node%d", i);
        if (access(p, F_OK) == 0)
            n++;
    }
    return n;
}

static double loadavg1(void)
{
    double l[1];
    return getloadavg(l, 1) == 1 ? l[0] : NAN;
}

static int is_prog_name(const char *name)
{
    return strncmp(name, "prog-", 5) == 0;
}

/*
 * The medians of one run of the suite, shared by the markdown report, the
 * --data file and the --chart. Times are ns per op (prog-*: ns per run).
 */
typedef struct {
    const alloc_t *al;
    int na, numa, jem, mim; /* indices into al; -1: absent */
    const char **wl;
    int nw;
    double med[NWORKLOADS][MAX_ALLOCS], cpu[NWORKLOADS][MAX_ALLOCS], rss[NWORKLOADS][MAX_ALLOCS];
    int best[NWORKLOADS]; /* the fastest peer, or -1 */
} medians_t;

/* The peers: every allocator but glibc and numa-alloc (jemalloc, mimalloc, tcmalloc). */
static int is_peer(const medians_t *m, int a)
{
    return a != 0 && a != m->numa;
}

static void medians_fill(medians_t *m, cell_t cells[][MAX_ALLOCS])
{
    for (int w = 0; w < m->nw; w++) {
        m->best[w] = -1;
        for (int a = 0; a < m->na; a++) {
            const cell_t *c = &cells[w][a];
            int bad = c->failed || c->n == 0;
            m->med[w][a] = bad ? NAN : median(c->ns, c->n);
            m->cpu[w][a] = bad ? NAN : median(c->extra1, c->n);
            m->rss[w][a] = bad ? NAN : median(c->rss_kib, c->n) / 1024.0;
            if (is_peer(m, a) && !isnan(m->med[w][a]) &&
                (m->best[w] < 0 || m->med[w][a] < m->med[w][m->best[w]]))
                m->best[w] = a;
        }
    }
}

/* numa-alloc's time (or CPU time, or RSS) over allocator b's; NAN if either is missing. */
static double ratio(const double *v, int numa, int b)
{
    return numa < 0 || b < 0 ? NAN : v[numa] / v[b];
}

/* Sums of log(ratio) for geometric means. */
typedef struct {
    double sum[5];
    int n[5];
} geo_t;

enum { G_GLIBC, G_JEM, G_MIM, G_BEST, G_RSS_JEM };

static void geo_add(geo_t *g, int k, double r)
{
    if (!isnan(r) && r > 0) {
        g->sum[k] += log(r);
        g->n[k]++;
    }
}

static void geo_print(sbuf_t *s, const geo_t *g, int k)
{
    if (g->n[k])
        sb_printf(s, "%.3f", exp(g->sum[k] / g->n[k]));
    else
        sb_printf(s, "-");
}

static void geo_line(sbuf_t *s, const char *one, const char *many, const geo_t *g)
{
    static const char *const label[] = {"numa-alloc/glibc", "numa-alloc/jemalloc",
                                        "numa-alloc/mimalloc", "numa-alloc/best peer"};
    sb_printf(s, "Geometric mean of the time ratios over %d %s: ", g->n[G_GLIBC],
              g->n[G_GLIBC] == 1 ? one : many);
    for (int k = G_GLIBC; k <= G_BEST; k++) {
        sb_printf(s, "%s%s = ", k ? ", " : "", label[k]);
        geo_print(s, g, k);
    }
    sb_printf(s, ".\n\n");
}

static void ratio_cell(sbuf_t *s, double r)
{
    if (isnan(r))
        sb_printf(s, " - |");
    else
        sb_printf(s, " %.2f |", r);
}

/*
 * One results table: the allocator workloads (prog = 0, ns/op) or the real
 * programs (prog = 1, ms per run, plus CPU-time ratios).
 */
static void report_table(sbuf_t *s, const medians_t *m, int prog, geo_t *g)
{
    char b[64];
    sb_printf(s, "| %s |", prog ? "program" : "workload");
    for (int a = 0; a < m->na; a++)
        sb_printf(s, " %s %s |", m->al[a].name, prog ? "ms/run" : "ns/op");
    sb_printf(s, " numa-alloc/glibc | numa-alloc/jemalloc | numa-alloc/mimalloc | best peer | "
                 "numa-alloc/best peer |");
    if (prog)
        sb_printf(s, " CPU numa-alloc/glibc | CPU numa-alloc/jemalloc |");
    sb_printf(s, "\n|---|");
    for (int a = 0; a < m->na + 5 + 2 * prog; a++)
        sb_printf(s, "%s|", a == m->na + 3 ? "---" : "---:");
    sb_printf(s, "\n");

    for (int w = 0; w < m->nw; w++) {
        if (is_prog_name(m->wl[w]) != prog)
            continue;
        const double *med = m->med[w];
        sb_printf(s, "| %s |", m->wl[w]);
        for (int a = 0; a < m->na; a++) {
            fmt_ns(b, sizeof b, prog ? med[a] / 1e6 : med[a]);
            sb_printf(s, " %s |", b);
        }
        double r[4] = {ratio(med, m->numa, 0), ratio(med, m->numa, m->jem),
                       ratio(med, m->numa, m->mim), ratio(med, m->numa, m->best[w])};
        for (int k = 0; k < 4; k++) {
            geo_add(g, k, r[k]);
            if (k == G_BEST)
                sb_printf(s, " %s |", m->best[w] >= 0 ? m->al[m->best[w]].name : "-");
            ratio_cell(s, r[k]);
        }
        geo_add(g, G_RSS_JEM, ratio(m->rss[w], m->numa, m->jem));
        if (prog) {
            ratio_cell(s, ratio(m->cpu[w], m->numa, 0));
            ratio_cell(s, ratio(m->cpu[w], m->numa, m->jem));
        }
        sb_printf(s, "\n");
    }
}

/* Peak RSS of every workload (both tables), MiB. */
static void report_rss(sbuf_t *s, const medians_t *m)
{
    sb_printf(s, "| workload |");
    for (int a = 0; a < m->na; a++)
        sb_printf(s, " %s |", m->al[a].name);
    sb_printf(s, " numa-alloc/jemalloc |\n|---|");
    for (int a = 0; a <= m->na; a++)
        sb_printf(s, "---:|");
    sb_printf(s, "\n");
    for (int w = 0; w < m->nw; w++) {
        sb_printf(s, "| %s |", m->wl[w]);
        for (int a = 0; a < m->na; a++) {
            if (isnan(m->rss[w][a]))
                sb_printf(s, " FAIL |");
            else
                sb_printf(s, " %.1f |", m->rss[w][a]);
        }
        ratio_cell(s, ratio(m->rss[w], m->numa, m->jem));
        sb_printf(s, "\n");
    }
}

/* "jemalloc, mimalloc and tcmalloc": the peers present. */
static void peer_list(sbuf_t *s, const medians_t *m)
{
    int np = 0, k = 0;
    for (int a = 0; a < m->na; a++)
        np += is_peer(m, a);
    for (int a = 0; a < m->na; a++)
        if (is_peer(m, a)) {
            k++;
            sb_printf(s, "%s%s", k == 1 ? "" : k == np ? " and " : ", ", m->al[a].name);
        }
    if (!np)
        sb_printf(s, "(none present)");
}

static void report(sbuf_t *s, double load_before, const medians_t *m, cell_t cells[][MAX_ALLOCS],
                   const cell_t *cn, const params_t *p, int reps, int argc, char **argv)
{
    sb_printf(s,
              "Median of %d run%s; ns per operation (lower is better); each cell is a "
              "fresh process with the allocator in LD_PRELOAD. Multi-thread workloads "
              "use %d thread%s. Ratios are numa-alloc's time over the other allocator's "
              "(below 1: numa-alloc is faster); the best peer is the fastest of ",
              reps, reps == 1 ? "" : "s", p->threads, p->threads == 1 ? "" : "s");
    peer_list(s, m);
    sb_printf(s, " on that workload.\n\n");
    geo_t gm = {0}, gp = {0};
    int nmicro = 0, nprog = 0;
    for (int w = 0; w < m->nw; w++)
        is_prog_name(m->wl[w]) ? nprog++ : nmicro++;
    if (nmicro)
        report_table(s, m, 0, &gm);
    if (nprog) {
        sb_printf(s,
                  "%sReal programs, run as subprocesses of a child with the allocator in "
                  "LD_PRELOAD (the program is checked to have it mapped, and its output must "
                  "be the expected one). Median of %d run%s; milliseconds of wall time per run "
                  "of the program (for prog-git: the sum over its commands); the CPU columns "
                  "compare user + system CPU time instead, which the load of the machine "
                  "disturbs less.\n\n",
                  nmicro ? "\n" : "", reps, reps == 1 ? "" : "s");
        report_table(s, m, 1, &gp);
    }
    sb_printf(s, "\n");
    if (nmicro)
        geo_line(s, "allocator workload", "allocator workloads", &gm);
    if (nprog)
        geo_line(s, "program", "programs", &gp);
    geo_t ga = gm;
    for (int k = 0; k < 5; k++) {
        ga.sum[k] += gp.sum[k];
        ga.n[k] += gp.n[k];
    }
    if (nmicro && nprog)
        geo_line(s, "workload", "workloads (both tables)", &ga);
    sb_printf(s, "(Below 1 means numa-alloc is faster.)\n\n");

    sb_printf(s,
              "Peak RSS in MiB, median of %d run%s (ru_maxrss of the child; prog-*: of the "
              "program, for prog-git the largest of its commands):\n\n",
              reps, reps == 1 ? "" : "s");
    report_rss(s, m);
    sb_printf(s,
              "\nGeometric mean of the peak RSS ratios over %d workload%s: numa-alloc/jemalloc = ",
              ga.n[G_RSS_JEM], ga.n[G_RSS_JEM] == 1 ? "" : "s");
    geo_print(s, &ga, G_RSS_JEM);
    sb_printf(s, ".\n\n");

    if (reps > 1) {
        sb_printf(s,
                  "Run-to-run spread of the time, (max - min) / median over the %d runs, in "
                  "%%:\n\n| workload |",
                  reps);
        for (int a = 0; a < m->na; a++)
            sb_printf(s, " %s |", m->al[a].name);
        sb_printf(s, "\n|---|");
        for (int a = 0; a < m->na; a++)
            sb_printf(s, "---:|");
        sb_printf(s, "\n");
        for (int w = 0; w < m->nw; w++) {
            sb_printf(s, "| %s |", m->wl[w]);
            for (int a = 0; a < m->na; a++) {
                const cell_t *c = &cells[w][a];
                double lo = INFINITY, hi = 0;
                for (int i = 0; i < c->n; i++) {
                    lo = fmin(lo, c->ns[i]);
                    hi = fmax(hi, c->ns[i]);
                }
                if (c->failed || c->n == 0)
                    sb_printf(s, " FAIL |");
                else
                    sb_printf(s, " %.0f |", 100.0 * (hi - lo) / median(c->ns, c->n));
            }
            sb_printf(s, "\n");
        }
        sb_printf(s, "\n");
    }

    sb_printf(s, "Allocators:\n\n");
    for (int a = 0; a < m->na; a++)
        sb_printf(s, "- %s: %s\n", m->al[a].name,
                  m->al[a].path[0] ? m->al[a].path : "glibc malloc (no LD_PRELOAD)");

    if (cn) {
        sb_printf(s, "\nCurrent-node lookup (informational, glibc, no preload, median of %d):\n\n",
                  cn->n);
        if (cn->failed) {
            sb_printf(s, "- FAIL\n");
        } else {
            double rs = median(cn->extra1, cn->n);
            sb_printf(s, "| method | ns/call |\n|---|---:|\n");
            sb_printf(s, "| sched_getcpu() | %.2f |\n", median(cn->ns, cn->n));
            if (rs >= 0)
                sb_printf(s, "| rseq cpu_id load (__rseq_offset) | %.2f |\n", rs);
            else
                sb_printf(s, "| rseq cpu_id load (__rseq_offset) | n/a (rseq not registered) |\n");
            sb_printf(s, "| syscall(SYS_getcpu) | %.1f |\n", median(cn->extra2, cn->n));
        }
    }

    struct utsname u;
    uname(&u);
    char cpu[256];
    read_cpu_model(cpu, sizeof cpu);
    sb_printf(s,
              "\nMachine: %ld CPUs online, CPU \"%s\", %d NUMA node%s, kernel %s %s, glibc %s; "
              "1-min load average %.2f before the runs, %.2f after.\n",
              sysconf(_SC_NPROCESSORS_ONLN), cpu, count_numa_nodes(),
              count_numa_nodes() == 1 ? "" : "s", u.sysname, u.release, gnu_get_libc_version(),
              load_before, loadavg1());
    sb_printf(s, "\nCommand:\n\n    ");
    for (int i = 0; i < argc; i++)
        sb_printf(s, "%s%s", i ? " " : "", argv[i]);
    sb_printf(s, "\n");
}

/* ---- --data (tab-separated medians) and --chart (PNG via gnuplot) ---- */

static void tsv_num(FILE *f, double v, int decimals)
{
    fputc('\t', f);
    if (isnan(v))
        fputc('-', f);
    else
        fprintf(f, "%.*f", decimals, v);
}

/*
 * One line per workload: workload, unit, then per allocator (in the order of
 * the report) the median time, the time over glibc's, then the best peer's
 * name, then per allocator the time over the best peer's, then per allocator
 * the peak RSS in MiB. "-" marks a missing value.
 */
static int write_data(const char *path, const medians_t *m)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "numa_bench: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    fprintf(f, "workload\tunit");
    for (int a = 0; a < m->na; a++)
        fprintf(f, "\t%s ns", m->al[a].name);
    for (int a = 0; a < m->na; a++)
        fprintf(f, "\t%s/glibc", m->al[a].name);
    fprintf(f, "\tbest peer");
    for (int a = 0; a < m->na; a++)
        fprintf(f, "\t%s/best peer", m->al[a].name);
    for (int a = 0; a < m->na; a++)
        fprintf(f, "\t%s peak RSS MiB", m->al[a].name);
    fprintf(f, "\n");
    for (int w = 0; w < m->nw; w++) {
        const double *med = m->med[w];
        fprintf(f, "%s\t%s", m->wl[w], is_prog_name(m->wl[w]) ? "ns/run" : "ns/op");
        for (int a = 0; a < m->na; a++)
            tsv_num(f, med[a], 3);
        for (int a = 0; a < m->na; a++)
            tsv_num(f, med[a] / med[0], 4);
        fprintf(f, "\t%s", m->best[w] >= 0 ? m->al[m->best[w]].name : "-");
        for (int a = 0; a < m->na; a++)
            tsv_num(f, m->best[w] >= 0 ? med[a] / med[m->best[w]] : NAN, 4);
        for (int a = 0; a < m->na; a++)
            tsv_num(f, m->rss[w][a], 1);
        fprintf(f, "\n");
    }
    if (fclose(f)) {
        fprintf(stderr, "numa_bench: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

/*
 * Draws the --data file `data` as a PNG bar chart with gnuplot: per
 * workload, one bar per allocator but glibc, its time relative to glibc's
 * (log scale; glibc is the dashed line at 1).
 */
static int make_chart(const char *png, const char *data, const medians_t *m, const params_t *p,
                      int reps)
{
    if (strchr(png, '\'') || strchr(data, '\'')) {
        fprintf(stderr, "numa_bench: --chart/--data paths must not contain a quote\n");
        return -1;
    }
    const char *tmp = getenv("TMPDIR");
    char script[PATH_MAX];
    snprintf(script, sizeof script, "%s/numa_bench-chart.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    int fd = mkstemp(script);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        fprintf(stderr, "numa_bench: cannot create %s: %s\n", script, strerror(errno));
        return -1;
    }
    fprintf(f,
            "set terminal pngcairo size %d,640 font 'sans,10'\n"
            "set output '%s'\n"
            "set datafile separator '\\t'\n"
            "set datafile missing '-'\n"
            "set datafile columnheaders\n"
            "set title 'numa\\_bench: time relative to glibc (lower is better), median of %d "
            "run%s, %d thread%s%s'\n"
            "set ylabel 'time / glibc time (log scale)'\n"
            "set logscale y\n"
            "set grid ytics mytics\n"
            "set style data histograms\n"
            "set style histogram clustered gap 1\n"
            "set style fill solid 0.85 border -1\n"
            "set boxwidth 0.9\n"
            "set xtics rotate by -35 left nomirror\n"
            "set key top left horizontal\n"
            "set bmargin 8\n"
            "set arrow from graph 0, first 1 to graph 1, first 1 nohead dt 2 lw 1.5 lc 'black'\n"
            "plot NaN with lines dt 2 lw 1.5 lc 'black' title 'glibc = 1', \\\n     ",
            m->nw < 8 ? 1040 : 320 + 90 * m->nw, png, reps, reps == 1 ? "" : "s", p->threads,
            p->threads == 1 ? "" : "s", p->quick ? " (--quick: smoke test)" : "");
    for (int a = 1; a < m->na; a++) /* a/glibc is column 3 + na + a (1-based) */
        fprintf(f, "%s'%s' using %d%s title '%s'", a > 1 ? ", \\\n     " : "", data, 3 + m->na + a,
                a == 1 ? ":xtic(1)" : "", m->al[a].name);
    fprintf(f, "\n");
    if (fclose(f)) {
        fprintf(stderr, "numa_bench: cannot write %s: %s\n", script, strerror(errno));
        unlink(script);
        return -1;
    }
    char *argv[] = {"gnuplot", script, NULL};
    pid_t pid;
    int st, e = posix_spawnp(&pid, "gnuplot", NULL, NULL, argv, environ);
    if (e) {
        fprintf(stderr,
                "numa_bench: cannot run gnuplot: %s (Debian package gnuplot-nox, see "
                "tools/packages.txt)\n",
                strerror(e));
        unlink(script);
        return -1;
    }
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "numa_bench: gnuplot failed; script kept: %s\n", script);
        return -1;
    }
    unlink(script);
    fprintf(stderr, "numa_bench: chart written to %s\n", png);
    return 0;
}

static int runner_main(int argc, char **argv, const params_t *p, int reps, const char *lib,
                       const char *out, const char *only, const char *data, const char *chart)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        perror("numa_bench: readlink /proc/self/exe");
        return 2;
    }
    exe[n] = 0;

    alloc_t al[MAX_ALLOCS];
    int na = 0;
    al[na++] = (alloc_t){.name = "glibc"};
    static const struct {
        const char *name, *file; /* file: in the peer directory; NULL: --lib */
        int required;
    } known[] = {
        {"jemalloc", "libjemalloc.so.2", 1},
        {"numa-alloc", NULL, 1},
        {"mimalloc", "libmimalloc.so.2", 0},
        {"tcmalloc", "libtcmalloc_minimal.so.4", 0},
    };
    const char *peer_dir = getenv("NUMA_BENCH_PEER_DIR");
    if (!peer_dir || !*peer_dir)
        peer_dir = PEER_DIR_DEFAULT;
    int numa_idx = -1, jem_idx = -1, mim_idx = -1;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        char peer[PATH_MAX];
        snprintf(peer, sizeof peer, "%s/%s", peer_dir, known[i].file ? known[i].file : "");
        const char *path = known[i].file ? peer : lib;
        if (!file_exists(path)) {
            /* jemalloc is only required for real measurements. */
            if (known[i].required && (!known[i].file || !p->quick)) {
                fprintf(stderr, "numa_bench: %s library not found at %s%s\n", known[i].name, path,
                        known[i].file ? " (set NUMA_BENCH_PEER_DIR=DIR or pass --quick)"
                                      : " (build the numapreload target or pass --lib=PATH)");
                return 2;
            }
            fprintf(stderr, "numa_bench: note: %s not found at %s, column skipped\n", known[i].name,
                    path);
            continue;
        }
        alloc_t *a = &al[na];
        a->name = known[i].name;
        if (!realpath(path, a->path))
            snprintf(a->path, sizeof a->path, "%s", path);
        if (!strcmp(a->name, "numa-alloc"))
            numa_idx = na;
        if (!strcmp(a->name, "jemalloc"))
            jem_idx = na;
        if (!strcmp(a->name, "mimalloc"))
            mim_idx = na;
        na++;
    }

    /* Workload list (display names), optionally filtered by --workloads. */
    char names[NWORKLOADS][64];
    const char *wl[NWORKLOADS];
    int nw = 0, want_cn = !only;
    if (only && strstr(only, CURRENT_NODE))
        want_cn = 1;
    for (size_t i = 0; i < NWORKLOADS; i++) {
        workload_name(&workloads[i], p->threads, names[nw], sizeof names[nw]);
        if (only) {
            /* match whole comma-separated items */
            char tmp[1024];
            snprintf(tmp, sizeof tmp, ",%s,", only);
            char key[80];
            snprintf(key, sizeof key, ",%s,", names[nw]);
            if (!strstr(tmp, key))
                continue;
        }
        wl[nw] = names[nw];
        nw++;
    }
    if (!nw && !want_cn) {
        fprintf(stderr, "numa_bench: --workloads matched nothing\n");
        return 2;
    }

    static cell_t cells[NWORKLOADS][MAX_ALLOCS];
    static cell_t cn;
    memset(cells, 0, sizeof cells);
    memset(&cn, 0, sizeof cn);
    int failures = 0;
    char line[1024];
    int tty = isatty(STDERR_FILENO);
    double load_before = loadavg1();

    for (int r = 0; r < reps; r++) {
        if (!tty)
            fprintf(stderr, "numa_bench: rep %d/%d\n", r + 1, reps);
        for (int w = 0; w < nw; w++) {
            for (int a = 0; a < na; a++) {
                if (tty)
                    fprintf(stderr, "\r[rep %d/%d] %-20s %-12s", r + 1, reps, wl[w], al[a].name);
                cell_t *c = &cells[w][a];
                if (c->failed)
                    continue;
                if (run_child(exe, &al[a], wl[w], p, line, sizeof line)) {
                    c->failed = 1;
                    failures++;
                    continue;
                }
                c->ns[c->n] = field(line, "ns_per_op");
                c->rss_kib[c->n] = field(line, "maxrss_kib");
                c->extra1[c->n] = field(line, "cpu_ns"); /* prog-* only */
                c->n++;
            }
        }
        if (want_cn && !cn.failed) {
            if (tty)
                fprintf(stderr, "\r[rep %d/%d] %-20s %-12s", r + 1, reps, CURRENT_NODE, "glibc");
            if (run_child(exe, &al[0], CURRENT_NODE, p, line, sizeof line)) {
                cn.failed = 1;
                failures++;
            } else {
                cn.ns[cn.n] = field(line, "ns_per_op");
                cn.extra1[cn.n] = field(line, "rseq_ns");
                cn.extra2[cn.n] = field(line, "syscall_ns");
                cn.n++;
            }
        }
    }
    if (tty)
        fprintf(stderr, "\r%60s\r", "");

    sbuf_t s = {0};
    static medians_t m;
    m = (medians_t){
        .al = al, .na = na, .numa = numa_idx, .jem = jem_idx, .mim = mim_idx, .wl = wl, .nw = nw};
    medians_fill(&m, cells);
    report(&s, load_before, &m, cells, want_cn ? &cn : NULL, p, reps, argc, argv);
    fputs(s.buf, stdout);
    if (out) {
        FILE *f = fopen(out, "w");
        if (!f || fputs(s.buf, f) < 0 || fclose(f)) {
            fprintf(stderr, "numa_bench: cannot write %s: %s\n", out, strerror(errno));
            free(s.buf);
            return 2;
        }
    }
    free(s.buf);
    char tmp_data[PATH_MAX] = "";
    if (chart && !data) { /* the chart needs a data file: a temporary one */
        const char *tmp = getenv("TMPDIR");
        snprintf(tmp_data, sizeof tmp_data, "%s/numa_bench-data.XXXXXX",
                 tmp && *tmp ? tmp : "/tmp");
        int fd = mkstemp(tmp_data);
        if (fd < 0) {
            fprintf(stderr, "numa_bench: cannot create %s: %s\n", tmp_data, strerror(errno));
            return 2;
        }
        close(fd);
        data = tmp_data;
    }
    if (data && write_data(data, &m)) {
        if (tmp_data[0])
            unlink(tmp_data);
        return 2;
    }
    if (chart) {
        int bad = make_chart(chart, data, &m, p, reps);
        if (tmp_data[0])
            unlink(tmp_data);
        if (bad)
            return 2;
    }
    if (failures) {
        fprintf(stderr, "numa_bench: %d run%s FAILED (see above)\n", failures,
                failures == 1 ? "" : "s");
        return 1;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */

static void usage(void)
{
    fprintf(stderr,
            "usage: numa_bench --all [--reps=N] [--quick] [--threads=T] [--out=FILE.md]\n"
            "                        [--lib=PATH] [--workloads=a,b,...]\n"
            "                        [--data=FILE.tsv] [--chart=FILE.png]\n"
            "       numa_bench --run=WORKLOAD [--quick] [--threads=T]\n"
            "       numa_bench [--threads=T] --list\n"
            "--threads=T: threads of the *-Tt workloads and of short-threads (default 2)\n"
            "--data: the medians and ratios as tab-separated text; --chart: a PNG bar chart\n"
            "  of the times relative to glibc, drawn by gnuplot (package gnuplot-nox)\n"
            "default --lib: %s\n"
            "environment: NUMA_BENCH_PEER_DIR=DIR: look for libjemalloc.so.2,\n"
            "  libmimalloc.so.2 and libtcmalloc_minimal.so.4 in DIR (default %s)\n",
            NUMA_BENCH_DEFAULT_LIB, PEER_DIR_DEFAULT);
}

int main(int argc, char **argv)
{
    params_t p = {.quick = 0, .threads = 2};
    int all = 0, reps = -1;
    const char *run = NULL, *lib = NUMA_BENCH_DEFAULT_LIB, *out = NULL, *only = NULL;
    const char *data = NULL, *chart = NULL;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--all"))
            all = 1;
        else if (!strcmp(a, "--quick"))
            p.quick = 1;
        else if (!strncmp(a, "--reps=", 7))
            reps = atoi(a + 7);
        else if (!strncmp(a, "--threads=", 10))
            p.threads = atoi(a + 10);
        else if (!strncmp(a, "--out=", 6))
            out = a + 6;
        else if (!strncmp(a, "--lib=", 6))
            lib = a + 6;
        else if (!strncmp(a, "--run=", 6))
            run = a + 6;
        else if (!strncmp(a, "--workloads=", 12))
            only = a + 12;
        else if (!strncmp(a, "--data=", 7))
            data = a + 7;
        else if (!strncmp(a, "--chart=", 8))
            chart = a + 8;
        else if (!strcmp(a, "--list")) {
            for (size_t w = 0; w < NWORKLOADS; w++) {
                char b[64];
                workload_name(&workloads[w], p.threads, b, sizeof b);
                printf("%-20s %s\n", b, workloads[w].unit);
            }
            printf("%-20s %s\n", CURRENT_NODE,
                   "sched_getcpu / rseq cpu_id / getcpu syscall (informational)");
            return 0;
        } else {
            usage();
            return 2;
        }
    }
    if (p.threads < 1 || p.threads > 256) {
        fprintf(stderr, "numa_bench: --threads must be 1..256\n");
        return 2;
    }
    if (reps < 0)
        reps = p.quick ? 1 : 5;
    if (reps < 1 || reps > MAX_REPS) {
        fprintf(stderr, "numa_bench: --reps must be 1..%d\n", MAX_REPS);
        return 2;
    }
    if (run && !all)
        return child_main(run, &p);
    if (all && !run)
        return runner_main(argc, argv, &p, reps, lib, out, only, data, chart);
    usage();
    return 2;
}
