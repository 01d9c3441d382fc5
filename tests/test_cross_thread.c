/*
 * test_cross_thread.c - cross-thread frees.
 *
 * NTHREADS threads each allocate OBJS_PER_THREAD blocks of random sizes,
 * write a pattern encoding (thread, index, size) over the whole usable size
 * and pass them through a queue to the next thread, which checks that the
 * pattern is intact and frees them. Every live block is also kept in a
 * global ordered set of [start, end) ranges: inserting a range that overlaps
 * a live one (two live blocks sharing memory) fails the test, and so does a
 * block numa-alloc did not serve (numa_ptr_node).
 */
#include "test_util.h"

#include <criterion/criterion.h>
#include <malloc.h>
#include <pthread.h>
#include <search.h>
#include <stdatomic.h>
#include <stdint.h>

#include "numa_alloc.h"

#define NTHREADS        4
#define OBJS_PER_THREAD 40000 /* 160k objects in total */
#define QCAP            512

typedef struct {
    void *ptr;
    size_t size;   /* requested size */
    size_t usable; /* usable size seen by the producer */
    uint32_t thread;
    uint32_t index;
} msg;

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t nonempty;
    size_t head, tail; /* tail - head = number of queued messages */
    msg slot[QCAP];
} queue;

static queue queues[NTHREADS];

/* ---- the live-range set (a tsearch tree, ordered by address) ----------- */

typedef struct {
    uintptr_t start, end;
} range;

static pthread_mutex_t ranges_lock = PTHREAD_MUTEX_INITIALIZER;
static void *ranges_root;
static atomic_int overlap_found;
static range overlap_a, overlap_b;
static atomic_int stop; /* set on the first failure: every worker quits */

/* Overlapping ranges compare equal, so a lookup of a new block finds any
 * live block that shares a byte with it. */
static int range_cmp(const void *a, const void *b)
{
    const range *x = a, *y = b;
    if (x->end <= y->start)
        return -1;
    if (y->end <= x->start)
        return 1;
    return 0;
}

/* Records a new live block; 0 on success, -1 (overlap or no memory). */
static int ranges_insert(void *p, size_t usable)
{
    range *r = malloc(sizeof *r);
    if (!r)
        return -1;
    r->start = (uintptr_t)p;
    r->end = (uintptr_t)p + usable;
    pthread_mutex_lock(&ranges_lock);
    range **found = tsearch(r, &ranges_root, range_cmp);
    int ret = 0;
    if (!found) {
        ret = -1;
        free(r);
    } else if (*found != r) {
        overlap_a = **found;
        overlap_b = *r;
        atomic_store(&overlap_found, 1);
        free(r);
        ret = -1;
    }
    pthread_mutex_unlock(&ranges_lock);
    return ret;
}

/* Forgets a live block before it is freed; -1 if it was not recorded. */
static int ranges_remove(void *p, size_t usable)
{
    range key = {(uintptr_t)p, (uintptr_t)p + usable};
    pthread_mutex_lock(&ranges_lock);
    range **found = tfind(&key, &ranges_root, range_cmp);
    range *r = found ? *found : NULL;
    if (r && r->start == key.start && r->end == key.end)
        tdelete(&key, &ranges_root, range_cmp);
    else
        r = NULL;
    pthread_mutex_unlock(&ranges_lock);
    free(r);
    return r ? 0 : -1;
}

/* ---- queues ----------------------------------------------------------- */

static int queue_push(queue *q, const msg *m)
{
    int ok = 0;
    pthread_mutex_lock(&q->lock);
    if (q->tail - q->head < QCAP) {
        q->slot[q->tail % QCAP] = *m;
        q->tail++;
        ok = 1;
        pthread_cond_signal(&q->nonempty);
    }
    pthread_mutex_unlock(&q->lock);
    return ok;
}

static int queue_pop(queue *q, msg *m)
{
    int ok = 0;
    pthread_mutex_lock(&q->lock);
    if (q->tail != q->head) {
        *m = q->slot[q->head % QCAP];
        q->head++;
        ok = 1;
    }
    pthread_mutex_unlock(&q->lock);
    return ok;
}

/* Sleeps until `q` has a message or about a millisecond has passed (our own
 * push may be waiting for the next thread to drain its queue). */
static void queue_wait(queue *q)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 1000000;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&q->lock);
    if (q->tail == q->head)
        pthread_cond_timedwait(&q->nonempty, &q->lock, &ts);
    pthread_mutex_unlock(&q->lock);
}

/* ---- workers ---------------------------------------------------------- */

typedef struct {
    uint32_t id;
    char error[256];
} worker;

static size_t random_size(test_rng *rng)
{
    uint64_t r = test_rng_next(rng) % 10000;
    if (r < 7000)
        return test_rng_range(rng, 1, 256);
    if (r < 9000)
        return test_rng_range(rng, 257, 4096);
    if (r < 9800)
        return test_rng_range(rng, 4097, 65536);
    if (r < 9995)
        return test_rng_range(rng, 65537, 512 * KiB);
    return test_rng_range(rng, 2 * MiB + 1, 3 * MiB); /* huge */
}

#define FAIL(w, ...)                                                                               \
    do {                                                                                           \
        snprintf((w)->error, sizeof(w)->error, __VA_ARGS__);                                       \
        atomic_store(&stop, 1);                                                                    \
        return -1;                                                                                 \
    } while (0)

/* Checks and frees one received block; 0 if the block was intact. */
static int consume(worker *w, const msg *m)
{
    size_t u = malloc_usable_size(m->ptr);
    if (u != m->usable)
        FAIL(w, "thread %u: block %u of thread %u (%p): usable %zu, producer saw %zu", w->id,
             m->index, m->thread, m->ptr, u, m->usable);
    long bad =
        test_pattern_check(m->ptr, m->usable, test_pattern_seed(m->thread, m->index, m->size));
    if (bad != -1)
        FAIL(w,
             "thread %u: block %u of thread %u (%p, size %zu, usable %zu) corrupted at "
             "offset %ld",
             w->id, m->index, m->thread, m->ptr, m->size, m->usable, bad);
    if (ranges_remove(m->ptr, m->usable) != 0)
        FAIL(w, "thread %u: block %p of thread %u missing from the live-range set", w->id, m->ptr,
             m->thread);
    free(m->ptr);
    return 0;
}

/* Allocates, records and fills one block; 0 on success. */
static int produce(worker *w, test_rng *rng, uint32_t index, msg *out)
{
    size_t size = random_size(rng);
    void *p = malloc(size);
    if (!p)
        FAIL(w, "thread %u: malloc(%zu) failed", w->id, size);
    if (numa_ptr_node(p) < 0)
        FAIL(w, "thread %u: malloc(%zu) = %p was not served by numa-alloc", w->id, size, p);
    size_t u = malloc_usable_size(p);
    if (u < size)
        FAIL(w, "thread %u: malloc(%zu) usable %zu", w->id, size, u);
    if (ranges_insert(p, u) != 0)
        FAIL(w, "thread %u: block %p (usable %zu) overlaps a live block (or tsearch failed)", w->id,
             p, u);
    test_pattern_fill(p, u, test_pattern_seed(w->id, index, size));
    *out = (msg){p, size, u, w->id, index};
    return 0;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    test_rng rng = {0xC0FFEEull * (w->id + 1)};
    queue *out = &queues[(w->id + 1) % NTHREADS];
    queue *in = &queues[w->id];
    uint32_t produced = 0, consumed = 0;
    msg pending;
    int have_pending = 0;

    /* have_pending: the last block may be made but not yet pushed (the next queue
     * full): leaving then would leave the next thread waiting for it forever. */
    while (produced < OBJS_PER_THREAD || have_pending || consumed < OBJS_PER_THREAD) {
        int progress = 0;
        if (!have_pending && produced < OBJS_PER_THREAD) {
            if (produce(w, &rng, produced, &pending) != 0)
                return NULL;
            have_pending = 1;
            produced++;
        }
        if (have_pending && queue_push(out, &pending)) {
            have_pending = 0;
            progress = 1;
        }
        /* Drain what is waiting for us. */
        msg m;
        for (int k = 0; k < 64 && queue_pop(in, &m); k++) {
            if (consume(w, &m) != 0)
                return NULL;
            consumed++;
            progress = 1;
        }
        if (atomic_load(&stop))
            return NULL;
        if (!progress)
            queue_wait(in);
    }
    return NULL;
}

Test(cross_thread, free_on_other_thread_patterns_and_no_overlap, .timeout = 120.)
{
    pthread_t tid[NTHREADS];
    static worker w[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        pthread_mutex_init(&queues[i].lock, NULL);
        pthread_cond_init(&queues[i].nonempty, NULL);
        w[i].id = (uint32_t)i;
        w[i].error[0] = '\0';
    }
    for (int i = 0; i < NTHREADS; i++)
        cr_assert_eq(pthread_create(&tid[i], NULL, worker_main, &w[i]), 0);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(tid[i], NULL);

    cr_assert_eq(atomic_load(&overlap_found), 0,
                 "two live blocks overlap: [%#lx, %#lx) and [%#lx, %#lx)",
                 (unsigned long)overlap_a.start, (unsigned long)overlap_a.end,
                 (unsigned long)overlap_b.start, (unsigned long)overlap_b.end);
    for (int i = 0; i < NTHREADS; i++)
        cr_assert_eq(w[i].error[0], '\0', "%s", w[i].error);
    /* Every block was received and freed: the range set is empty. */
    cr_assert_null(ranges_root, "live ranges left after all frees");
}

/*
 * Passive false sharing (Hoard's cache-scratch): blocks the main thread
 * allocated back to back are freed by other threads, which then allocate the
 * same size over and over. A thread that got one of those blocks back would
 * write to a cache line the main thread's other blocks live in.
 */
#define SCRATCH_THREADS 4
#define SCRATCH_ROUNDS  2000

static char *scratch_blocks[SCRATCH_THREADS * 4];

typedef struct {
    int index;
    void *shared_line_hit; /* first block this thread got within a main-thread line */
} scratch_worker;

static int same_line_as_main(const void *p)
{
    for (size_t i = 0; i < sizeof scratch_blocks / sizeof scratch_blocks[0]; i++)
        if ((uintptr_t)p >> 6 == (uintptr_t)scratch_blocks[i] >> 6)
            return 1;
    return 0;
}

static void *scratch_main(void *arg)
{
    scratch_worker *w = arg;
    free(scratch_blocks[w->index]);
    for (int r = 0; r < SCRATCH_ROUNDS && !w->shared_line_hit; r++) {
        char *p = malloc(16);
        if (same_line_as_main(p))
            w->shared_line_hit = p;
        p[0] = (char)r;
        free(p);
    }
    return NULL;
}

Test(cross_thread, freed_blocks_of_another_thread_are_not_reused_by_the_freeing_thread)
{
    for (size_t i = 0; i < sizeof scratch_blocks / sizeof scratch_blocks[0]; i++) {
        cr_assert_not_null(scratch_blocks[i] = malloc(16));
        test_assert_ours(scratch_blocks[i]);
    }
    pthread_t tid[SCRATCH_THREADS];
    scratch_worker w[SCRATCH_THREADS];
    for (int i = 0; i < SCRATCH_THREADS; i++) {
        w[i] = (scratch_worker){.index = i * 4, .shared_line_hit = NULL};
        cr_assert_eq(pthread_create(&tid[i], NULL, scratch_main, &w[i]), 0);
    }
    for (int i = 0; i < SCRATCH_THREADS; i++)
        pthread_join(tid[i], NULL);
    for (int i = 0; i < SCRATCH_THREADS; i++)
        cr_expect_null(w[i].shared_line_hit,
                       "thread %d got %p, in a cache line of the main thread's blocks", i,
                       w[i].shared_line_hit);
    for (int i = 0; i < SCRATCH_THREADS; i++)
        for (int k = 1; k < 4; k++)
            free(scratch_blocks[i * 4 + k]);
}
