/*
 * workloads_shapes.c - the allocation shapes of issue 17, where peers beat
 * numa-alloc: batch-1t (batches of one small size freed half FIFO, half
 * LIFO), bulk-free-1t (big batches of mixed small sizes freed in a random
 * order), ring-Tt (one shared multi-producer multi-consumer ring of 64-byte
 * blocks), shared-pool-Tt (random sizes and lifetimes through a pool of
 * slots shared by all threads) and int-churn-1t (small bignums, a new block
 * for every intermediate). larson-server-Tt and false-sharing-Tt are
 * variants of larson and cache-scratch and live beside them in
 * workloads_synthetic.c. As there, every wl_* returns ns per op (per thread,
 * in wall time, for the multi-thread ones) and the total ops.
 */
#define _GNU_SOURCE
#include "bench.h"
#include "harness.h"

#include <sched.h>
#include <stdatomic.h>

/* ------------------------------------------------------------------------ */
/* batch-1t: for each size (16, 32, 64 B) and batch length n (25, 100, 400, */
/* 1600): allocate n blocks, write 8 bytes of each, free the older half     */
/* oldest first, then the newer half newest first. The same number of       */
/* blocks for each n, so long batches (which overflow a bounded thread      */
/* cache) weigh as much as short ones.                                       */
/* ------------------------------------------------------------------------ */

#define BT_MAXN 1600

static const size_t bt_size[] = {16, 32, 64};
static const size_t bt_n[] = {25, 100, 400, BT_MAXN};
#define BT_NSIZES (sizeof bt_size / sizeof bt_size[0])
#define BT_NNS    (sizeof bt_n / sizeof bt_n[0])

typedef struct {
    size_t per_size; /* blocks per size, split evenly over the batch lengths */
    uint64_t blocks;
} bt_t;

static void bt_work(void *arg)
{
    bt_t *b = arg;
    unsigned char *blk[BT_MAXN];
    uint64_t acc = 0, blocks = 0;
    for (size_t si = 0; si < BT_NSIZES; si++) {
        for (size_t ni = 0; ni < BT_NNS; ni++) {
            size_t n = bt_n[ni], sz = bt_size[si];
            size_t batches = b->per_size / BT_NNS / n;
            if (batches == 0)
                batches = 1;
            for (size_t k = 0; k < batches; k++) {
                for (size_t i = 0; i < n; i++) {
                    blk[i] = xmalloc(sz);
                    memset(blk[i], (int)((i ^ k) & 0xff), 8);
                }
                for (size_t i = 0; i < n / 2; i++) {
                    acc += blk[i][0];
                    free(blk[i]);
                }
                for (size_t i = n; i-- > n / 2;) {
                    acc += blk[i][7];
                    free(blk[i]);
                }
            }
            blocks += (uint64_t)batches * n;
        }
    }
    b->blocks = blocks;
    sink_add(acc);
}

double wl_batch_1t(const params_t *p, uint64_t *ops)
{
    bt_t b = {.per_size = qsz(p, 2000000, 8000)};
    hthread_t th = {.work = bt_work, .arg = &b};
    uint64_t ns = harness_run(&th, 1);
    *ops = b.blocks;
    return (double)ns / (double)b.blocks;
}

/* ------------------------------------------------------------------------ */
/* bulk-free-1t: a data structure built and torn down whole. For each batch */
/* length n (4096, 16384, 65536): allocate n blocks of 16..256 B (uniform,  */
/* so a dozen classes), write 8 bytes of each, then free them all in a      */
/* random order (a shuffled index, as a hash table or tree frees its        */
/* nodes). Batches far past any thread cache's bound: what a free costs     */
/* when the freed blocks must go back to their slabs, and what the mallocs  */
/* after it cost when they come back.                                       */
/* ------------------------------------------------------------------------ */

#define BF_MAXN 65536

static const size_t bf_n[] = {4096, 16384, BF_MAXN};
#define BF_NNS (sizeof bf_n / sizeof bf_n[0])

typedef struct {
    size_t per_n; /* blocks per batch length */
    uint64_t blocks;
} bf_t;

static void bf_work(void *arg)
{
    bf_t *b = arg;
    unsigned char **blk = xmalloc(BF_MAXN * sizeof *blk);
    uint32_t *order = xmalloc(BF_MAXN * sizeof *order);
    rng_t r = rng_seed(17);
    uint64_t acc = 0, blocks = 0;
    for (size_t ni = 0; ni < BF_NNS; ni++) {
        size_t n = bf_n[ni];
        /* One shuffle per length, made before the clock matters little: the same for all. */
        for (size_t i = 0; i < n; i++)
            order[i] = (uint32_t)i;
        for (size_t i = n - 1; i > 0; i--) {
            size_t j = rng_below(&r, i + 1);
            uint32_t t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        size_t batches = b->per_n / n ? b->per_n / n : 1;
        for (size_t k = 0; k < batches; k++) {
            for (size_t i = 0; i < n; i++) {
                blk[i] = xmalloc(rng_size(&r, 16, 256, 1));
                memset(blk[i], (int)((i ^ k) & 0xff), 8);
            }
            for (size_t i = 0; i < n; i++) {
                acc += blk[order[i]][0];
                free(blk[order[i]]);
            }
        }
        blocks += (uint64_t)batches * n;
    }
    free(order);
    free(blk);
    b->blocks = blocks;
    sink_add(acc);
}

double wl_bulk_free_1t(const params_t *p, uint64_t *ops)
{
    bf_t b = {.per_n = qsz(p, 2000000, BF_MAXN)};
    hthread_t th = {.work = bf_work, .arg = &b};
    uint64_t ns = harness_run(&th, 1);
    *ops = b.blocks;
    return (double)ns / (double)b.blocks;
}

/* ------------------------------------------------------------------------ */
/* ring-Tt: T/2 producers malloc 64-byte blocks and push them, one by one,  */
/* into one shared bounded ring; T/2 consumers pop and free them. The ring  */
/* is lock-free (Vyukov's bounded MPMC scheme: each cell's sequence number  */
/* says whose turn it is), so the allocator's cross-thread free is what the */
/* time shows, not a lock of the benchmark's.                                */
/* ------------------------------------------------------------------------ */

#define RING_CAP  1024 /* cells, a power of two */
#define RING_SIZE 64

/*
 * Cell i holds item pos (pos % RING_CAP == i) when seq == pos + 1; it is free
 * for the producer of pos when seq == pos. A consumer that takes item pos sets
 * seq = pos + RING_CAP, handing the cell to the producer of the next lap.
 */
typedef struct {
    _Atomic size_t seq;
    void *v;
} ring_cell_t;

typedef struct {
    _Alignas(64) _Atomic size_t head;     /* next position to push */
    _Alignas(64) _Atomic size_t tail;     /* next position to pop */
    _Alignas(64) _Atomic uint64_t ticket; /* blocks claimed by consumers so far */
    _Alignas(64) ring_cell_t cell[RING_CAP];
} ring_t;

typedef struct {
    ring_t *q;
    size_t count;   /* producer: blocks to make */
    uint64_t total; /* consumer: blocks all producers make together */
    uint64_t seed;
} ring_arg_t;

static void ring_push(ring_t *q, void *v)
{
    size_t pos = atomic_load_explicit(&q->head, memory_order_relaxed);
    ring_cell_t *c;
    for (;;) {
        c = &q->cell[pos & (RING_CAP - 1)];
        size_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
        if (seq == pos) {
            if (atomic_compare_exchange_weak_explicit(&q->head, &pos, pos + 1, memory_order_relaxed,
                                                      memory_order_relaxed))
                break;
        } else {
            if ((ptrdiff_t)(seq - pos) < 0) /* full: the consumers are a lap behind */
                sched_yield();
            pos = atomic_load_explicit(&q->head, memory_order_relaxed);
        }
    }
    c->v = v;
    atomic_store_explicit(&c->seq, pos + 1, memory_order_release);
}

static void *ring_pop(ring_t *q)
{
    size_t pos = atomic_load_explicit(&q->tail, memory_order_relaxed);
    ring_cell_t *c;
    for (;;) {
        c = &q->cell[pos & (RING_CAP - 1)];
        size_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
        if (seq == pos + 1) {
            if (atomic_compare_exchange_weak_explicit(&q->tail, &pos, pos + 1, memory_order_relaxed,
                                                      memory_order_relaxed))
                break;
        } else {
            if ((ptrdiff_t)(seq - (pos + 1)) < 0) /* empty */
                sched_yield();
            pos = atomic_load_explicit(&q->tail, memory_order_relaxed);
        }
    }
    void *v = c->v;
    atomic_store_explicit(&c->seq, pos + RING_CAP, memory_order_release);
    return v;
}

static void ring_produce(void *arg)
{
    ring_arg_t *a = arg;
    rng_t r = rng_seed(a->seed);
    for (size_t i = 0; i < a->count; i++) {
        uint64_t v = rng_next(&r);
        unsigned char *b = xmalloc(RING_SIZE);
        memcpy(b, &v, sizeof v);
        ring_push(a->q, b);
    }
}

static void ring_consume(void *arg)
{
    ring_arg_t *a = arg;
    uint64_t acc = 0;
    /* A ticket below total is a promise of one block: the producers make exactly total. */
    while (atomic_fetch_add_explicit(&a->q->ticket, 1, memory_order_relaxed) < a->total) {
        unsigned char *b = ring_pop(a->q);
        acc += b[0];
        free(b);
    }
    sink_add(acc);
}

double wl_ring(const params_t *p, uint64_t *ops)
{
    int half = p->threads / 2 > 0 ? p->threads / 2 : 1; /* producers, and as many consumers */
    size_t per = qsz(p, 3000000, 20000) / (size_t)half;
    uint64_t total = (uint64_t)per * (uint64_t)half;
    ring_t *q = aligned_alloc(64, sizeof *q);
    if (!q) {
        fprintf(stderr, "numa_bench: aligned_alloc failed\n");
        exit(2);
    }
    atomic_init(&q->head, 0);
    atomic_init(&q->tail, 0);
    atomic_init(&q->ticket, 0);
    for (size_t i = 0; i < RING_CAP; i++) {
        atomic_init(&q->cell[i].seq, i);
        q->cell[i].v = NULL;
    }
    ring_arg_t a[2 * half];
    hthread_t th[2 * half];
    for (int i = 0; i < half; i++) {
        a[2 * i] = (ring_arg_t){.q = q, .count = per, .seed = 91 + (uint64_t)i};
        a[2 * i + 1] = (ring_arg_t){.q = q, .total = total};
        th[2 * i] = (hthread_t){.work = ring_produce, .arg = &a[2 * i]};
        th[2 * i + 1] = (hthread_t){.work = ring_consume, .arg = &a[2 * i + 1]};
    }
    uint64_t ns = harness_run(th, 2 * half);
    free(q);
    *ops = total;
    return (double)ns / (double)total;
}

/* ------------------------------------------------------------------------ */
/* shared-pool-Tt: T threads share one pool of slots. Each step mallocs a    */
/* random size (8 B..8 KiB, cubic skew to small) and writes its first 16 B;  */
/* a quarter of the blocks are freed at once, the rest are swapped          */
/* (atomic exchange) into a slot, and whatever block was there (made by any */
/* thread) is freed. Three quarters of the swaps go to the first SP_HOT     */
/* slots (lifetimes of a few hundred steps), the rest anywhere in the pool  */
/* (lifetimes of tens of thousands): lifetimes from immediate to long.      */
/* ------------------------------------------------------------------------ */

#define SP_HOT 256

/* One thread's view of the pool: slot[] (nslots, NULL = empty) is shared by all threads. */
typedef struct {
    _Atomic(void *) *slot;
    size_t nslots, hot, steps; /* hot <= nslots: slot[0..hot) take 3/4 of the swaps */
    uint64_t seed;
    uint64_t acc;
} sp_t;

static void sp_work(void *arg)
{
    sp_t *t = arg;
    rng_t r = rng_seed(t->seed);
    uint64_t acc = 0;
    for (size_t s = 0; s < t->steps; s++) {
        uint64_t x = rng_next(&r);
        size_t sz = rng_size(&r, 8, 8 * KIB, 3);
        unsigned char *b = xmalloc(sz);
        touch(b, sz, 16, 0);
        if ((x & 3) == 0) {
            acc += b[sz - 1];
            free(b);
            continue;
        }
        size_t i = (size_t)(x >> 8) % (((x >> 2) & 3) ? t->hot : t->nslots);
        unsigned char *old = atomic_exchange_explicit(&t->slot[i], b, memory_order_acq_rel);
        if (old) {
            acc += old[0];
            free(old);
        }
    }
    t->acc = acc;
}

double wl_shared_pool(const params_t *p, uint64_t *ops)
{
    int n = p->threads;
    size_t nslots = qsz(p, 20000, 1000), steps = qsz(p, 1000000, 5000);
    _Atomic(void *) *slot = xmalloc(nslots * sizeof *slot);
    for (size_t i = 0; i < nslots; i++)
        atomic_init(&slot[i], NULL);
    sp_t t[n];
    hthread_t th[n];
    for (int i = 0; i < n; i++) {
        t[i] = (sp_t){.slot = slot,
                      .nslots = nslots,
                      .hot = SP_HOT < nslots ? SP_HOT : nslots,
                      .steps = steps,
                      .seed = 53 + (uint64_t)i};
        th[i] = (hthread_t){.work = sp_work, .arg = &t[i]};
    }
    uint64_t ns = harness_run(th, n);
    for (int i = 0; i < n; i++)
        sink_add(t[i].acc);
    for (size_t i = 0; i < nslots; i++)
        free(atomic_load(&slot[i]));
    free(slot);
    *ops = steps * (uint64_t)n;
    return (double)ns / (double)steps;
}

/* ------------------------------------------------------------------------ */
/* int-churn-1t: integer work with small-object churn, in the spirit of     */
/* cfrac. For each non-square N from 61 up: the continued fraction of       */
/* sqrt(N) (small integers) and its convergents p/q as bignums, each new    */
/* number a fresh malloc (16..256 B); every step checks the identity         */
/* p_k^2 - N q_k^2 = (-1)^(k+1) d_(k+1) with bignum products, whose          */
/* intermediates die at once. Every 16th p lives until N is done; the       */
/* solutions of Pell's equation (d = 1) live to the end. The first one for  */
/* N = 61 must be x = 1766319049 (the textbook value).                       */
/* ------------------------------------------------------------------------ */

/* A natural number: n limbs of 32 bits, least significant first, d[n-1] != 0 (0: n = 0). */
typedef struct big {
    uint32_t n, pad;
    uint32_t d[];
} big_t;

#define BIG_MAXLIMBS 28 /* p, q stop growing here: p^2 has at most 56 limbs (232 B) */

typedef struct {
    size_t nvals;   /* how many N */
    uint64_t nums;  /* bignums allocated */
    uint64_t check; /* a checksum of the numbers kept */
} ic_t;

static big_t *big_new(ic_t *c, uint32_t n)
{
    c->nums++;
    big_t *b = xmalloc(sizeof *b + 4 * (size_t)(n < 2 ? 2 : n));
    b->n = n;
    b->pad = 0;
    return b;
}

static big_t *big_trim(big_t *b)
{
    while (b->n && b->d[b->n - 1] == 0)
        b->n--;
    return b;
}

static big_t *big_small(ic_t *c, uint64_t v)
{
    big_t *b = big_new(c, 2);
    b->d[0] = (uint32_t)v;
    b->d[1] = (uint32_t)(v >> 32);
    return big_trim(b);
}

static int big_cmp(const big_t *a, const big_t *b)
{
    if (a->n != b->n)
        return a->n < b->n ? -1 : 1;
    for (uint32_t i = a->n; i-- > 0;)
        if (a->d[i] != b->d[i])
            return a->d[i] < b->d[i] ? -1 : 1;
    return 0;
}

static big_t *big_add(ic_t *c, const big_t *a, const big_t *b)
{
    if (a->n < b->n) {
        const big_t *t = a;
        a = b;
        b = t;
    }
    big_t *r = big_new(c, a->n + 1);
    uint64_t carry = 0;
    for (uint32_t i = 0; i < a->n; i++) {
        carry += (uint64_t)a->d[i] + (i < b->n ? b->d[i] : 0);
        r->d[i] = (uint32_t)carry;
        carry >>= 32;
    }
    r->d[a->n] = (uint32_t)carry;
    return big_trim(r);
}

/* a - b, for a >= b. */
static big_t *big_sub(ic_t *c, const big_t *a, const big_t *b)
{
    big_t *r = big_new(c, a->n);
    int64_t borrow = 0;
    for (uint32_t i = 0; i < a->n; i++) {
        int64_t v = (int64_t)a->d[i] - (i < b->n ? b->d[i] : 0) - borrow;
        borrow = v < 0;
        r->d[i] = (uint32_t)(v + (borrow << 32));
    }
    return big_trim(r);
}

static big_t *big_mul_small(ic_t *c, const big_t *a, uint32_t m)
{
    big_t *r = big_new(c, a->n + 1);
    uint64_t carry = 0;
    for (uint32_t i = 0; i < a->n; i++) {
        carry += (uint64_t)a->d[i] * m;
        r->d[i] = (uint32_t)carry;
        carry >>= 32;
    }
    r->d[a->n] = (uint32_t)carry;
    return big_trim(r);
}

static big_t *big_mul(ic_t *c, const big_t *a, const big_t *b)
{
    big_t *r = big_new(c, a->n + b->n);
    memset(r->d, 0, 4 * (size_t)r->n);
    for (uint32_t i = 0; i < a->n; i++) {
        uint64_t carry = 0;
        for (uint32_t j = 0; j < b->n; j++) {
            carry += (uint64_t)a->d[i] * b->d[j] + r->d[i + j];
            r->d[i + j] = (uint32_t)carry;
            carry >>= 32;
        }
        r->d[i + b->n] = (uint32_t)carry;
    }
    return big_trim(r);
}

/* a * m + b: the convergent recurrence; the product is an intermediate that dies at once. */
static big_t *big_mul_add(ic_t *c, const big_t *a, uint32_t m, const big_t *b)
{
    big_t *t = big_mul_small(c, a, m);
    big_t *r = big_add(c, t, b);
    free(t);
    return r;
}

static uint64_t big_hash(const big_t *b)
{
    uint64_t h = 1469598103934665603ull;
    for (uint32_t i = 0; i < b->n; i++)
        h = (h ^ b->d[i]) * 1099511628211ull;
    return h;
}

__attribute__((noreturn)) static void ic_fail(uint32_t N, size_t k, const char *what)
{
    fprintf(stderr, "numa_bench: int-churn: N = %u, k = %zu: %s\n", N, k, what);
    exit(2);
}

/* Checks p^2 - N q^2 = (-1)^(k+1) d with bignums; every intermediate is freed at once. */
static void ic_check(ic_t *c, uint32_t N, size_t k, const big_t *p, const big_t *q, uint32_t d)
{
    big_t *pp = big_mul(c, p, p), *qq = big_mul(c, q, q);
    big_t *nqq = big_mul_small(c, qq, N);
    free(qq);
    big_t *dd = big_small(c, d);
    int neg = (k & 1) == 0;                                     /* (-1)^(k+1) */
    big_t *lhs = neg ? big_add(c, pp, dd) : big_sub(c, pp, dd); /* p^2 -+ d must be N q^2 */
    if (!neg && big_cmp(pp, dd) < 0)
        ic_fail(N, k, "p^2 < d");
    if (big_cmp(lhs, nqq) != 0)
        ic_fail(N, k, "p^2 - N q^2 != (-1)^(k+1) d");
    free(lhs);
    free(dd);
    free(nqq);
    free(pp);
}

static void ic_work(void *arg)
{
    ic_t *c = arg;
    big_t *pell[64]; /* solutions of p^2 - N q^2 = +-1, kept to the end */
    size_t npell = 0;
    int seen61 = 0;
    uint32_t N = 61;
    for (size_t v = 0; v < c->nvals; v++, N++) {
        uint32_t a0 = 0;
        while ((a0 + 1) * (a0 + 1) <= N)
            a0++;
        if (a0 * a0 == N) {
            v--;
            continue;
        }
        big_t *kept[128]; /* every 16th p; p grows by at least 0.69 bits a step */
        size_t nkept = 0;
        /* p_(-1) = 1, p_(-2) = 0; q_(-1) = 0, q_(-2) = 1 */
        big_t *p1 = big_small(c, 1), *p2 = big_small(c, 0);
        big_t *q1 = big_small(c, 0), *q2 = big_small(c, 1);
        uint32_t m = 0, d = 1, a = a0;
        for (size_t k = 0;; k++) {
            big_t *p = big_mul_add(c, p1, a, p2), *q = big_mul_add(c, q1, a, q2);
            free(p2);
            free(q2);
            p2 = p1;
            q2 = q1;
            p1 = p;
            q1 = q;
            m = d * a - m;
            d = (N - m * m) / d;
            a = (a0 + m) / d;
            ic_check(c, N, k, p, q, d);
            if (d == 1 && npell < sizeof pell / sizeof pell[0]) {
                big_t *y = big_mul_small(c, p, 1);   /* a copy */
                if (N == 61 && !seen61 && (k & 1)) { /* the first +1 solution */
                    seen61 = 1;
                    if (y->n != 1 || y->d[0] != 1766319049u)
                        ic_fail(N, k, "x^2 - 61 y^2 = 1: x is not 1766319049");
                }
                pell[npell++] = y;
            }
            if (k % 16 == 0 && nkept < sizeof kept / sizeof kept[0])
                kept[nkept++] = big_mul_small(c, p, 1);
            if (p->n >= BIG_MAXLIMBS || q->n >= BIG_MAXLIMBS)
                break;
        }
        for (size_t i = 0; i < nkept; i++) {
            c->check += big_hash(kept[i]);
            free(kept[i]);
        }
        free(p1);
        free(p2);
        free(q1);
        free(q2);
    }
    if (c->nvals && !seen61)
        ic_fail(61, 0, "no solution of x^2 - 61 y^2 = 1 found");
    for (size_t i = 0; i < npell; i++) {
        c->check += big_hash(pell[i]);
        free(pell[i]);
    }
}

double wl_int_churn_1t(const params_t *p, uint64_t *ops)
{
    ic_t c = {.nvals = qsz(p, 1000, 2)};
    hthread_t th = {.work = ic_work, .arg = &c};
    uint64_t ns = harness_run(&th, 1);
    sink_add(c.check);
    *ops = c.nums;
    return (double)ns / (double)c.nums;
}
