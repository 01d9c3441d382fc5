/*
 * harness.c - the out-of-line half of harness.h: the sink's counter and the
 * thread harness, which starts the workload threads, releases them together from a
 * barrier and joins them. Only work() runs between a thread's two clock reads:
 * setup, teardown, thread creation and joining are outside the timed region.
 */
#define _GNU_SOURCE
#include "harness.h"

#include <pthread.h>

_Atomic uint64_t g_sink;

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

uint64_t harness_run(hthread_t *th, int n)
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
