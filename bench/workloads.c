/*
 * workloads.c - the table of workloads: name, function, what one op is, and
 * whether it is a real program. A name with "%d" is a multi-thread workload
 * whose display name carries the thread count (larson-%dt runs as larson-2t);
 * the child finds a workload by that display name, the runner lists them.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const workload_t workloads[] = {
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
    {"batch-1t", wl_batch_1t,
     "malloc+free pair: batches of n = 25..1600 blocks of 16, 32, 64 B, freed half FIFO, half "
     "LIFO",
     0},
    {"ring-%dt", wl_ring, "64 B block malloc'd by a producer, freed by a consumer (wall)", 0},
    {"larson-server-%dt", wl_larson_server,
     "free+malloc pair per thread (8..1000 B, 5k live; arrays move to another thread each round) "
     "(wall)",
     0},
    {"shared-pool-%dt", wl_shared_pool,
     "malloc (8 B..8 KiB) and free of an immediate or pooled block, per thread (wall)", 0},
    {"false-sharing-%dt", wl_false_sharing,
     "malloc(8), 100 writes per byte, free; per thread, no object from main (wall)", 0},
    {"int-churn-1t", wl_int_churn_1t,
     "bignum (16..232 B) malloc'd and freed (time includes the arithmetic)", 0},
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
_Static_assert(sizeof workloads / sizeof workloads[0] == NWORKLOADS,
               "NWORKLOADS in bench.h must count the entries of workloads[]");

void workload_name(const workload_t *w, int threads, char *buf, size_t n)
{
    const char *d = strstr(w->name, "%d");
    if (d)
        snprintf(buf, n, "%.*s%d%s", (int)(d - w->name), w->name, threads, d + 2);
    else
        snprintf(buf, n, "%s", w->name);
}

const workload_t *workload_find(const char *name, int *threads)
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
