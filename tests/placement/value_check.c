/*
 * value_check.c - values that can only be wrong on several nodes, checked in the
 * multi-node guest (tests/guest/guest-run): the statistics by value, realloc and
 * the numa_* calls keeping a block's node, what each fallback mode chooses, and
 * the rebinding of a freed page-interleaved huge object. Pages are asked of the
 * kernel (move_pages through libnuma), independent of the allocator.
 *
 * The statistics checks write numa_alloc_stats_write's JSON before and after a
 * known piece of work (DIR/before.json, DIR/after.json) and what the work must
 * have added (DIR/expect.txt: `KEY OP VALUE` lines, KEY nodeN.field or
 * thread.TID.field, OP == or >=, the difference after - before); stats_expect.py
 * compares them. Differences, because the program's own start-up (libnuma, stdio)
 * allocates too: nothing but the known work runs between the two snapshots, and
 * writing a snapshot never allocates. Exit status 0 when every expectation
 * holds, 1 otherwise, one line per finding.
 *
 *   value_check stats DIR       two threads pinned to nodes 0 and 1 allocate known
 *                               blocks (small, large, huge, numa_malloc on the other
 *                               node) and free some of the other thread's
 *   value_check keep-node       blocks on node 1 (numa_malloc, numa_calloc,
 *                               numa_aligned_alloc; malloc, calloc, aligned_alloc,
 *                               posix_memalign, memalign, valloc from a node-1 thread),
 *                               grown and shrunk by realloc from a node-0 thread
 *                               through every size class: every page stays on node 1
 *   value_check rebind          (NUMA_ALLOC_POLICY=interleave) a freed spread huge
 *                               object's range, reused by numa_malloc on its owner:
 *                               every page on the owner; one shrunk by realloc stays
 *                               in place, and its tail, reused so, is the owner's too;
 *                               grown by realloc, it stays in place, its new pages spread
 *   value_check decommit        node 1's huge object and large blocks, freed and purged
 *                               (decommitted) from a node-0 thread, their ranges reused
 *                               by numa_malloc(1): every page on node 1
 *   value_check grow-out DIR    a huge object of node 1 with no room after it, grown by
 *                               realloc from a node-0 thread: moved out of the region
 *                               with its pages (mremap), every page of it, old and new,
 *                               on node 1; the statistics' census counts its pages
 *   value_check grow-spread     (NUMA_ALLOC_POLICY=interleave) a spread huge object grown
 *                               in place inside its last segment, then with no room after
 *                               it (moved out by mremap): its new pages spread too
 *   value_check grow-tight NODE (NUMA_ALLOC_FALLBACK=none) a huge object of NODE with
 *                               no room after it, grown by realloc past what NODE has:
 *                               ENOMEM, the block intact (not moved out and grown on
 *                               pages NODE cannot supply), in the region and once moved out
 *   value_check own-mapping     (run under ulimit -v) huge blocks of 64 MiB made under
 *                               the limit, numa_malloc(1) from a node-0 thread and malloc
 *                               from a node-1 thread, each before a live one: every page
 *                               on node 1, and each freed block's range unmapped
 *   value_check own-mapping-spread (NUMA_ALLOC_POLICY=interleave, under ulimit -v) the
 *                               same malloc: its pages spread over both nodes, unmapped
 *                               after its free
 *   value_check fill explicit|policy NODE EXPECT DIR
 *                               a thread on NODE fills NODE with 1 MiB objects
 *                               (numa_malloc(NODE) or malloc) until 32 fell back:
 *                               every fallback on node EXPECT, or with EXPECT -1 the
 *                               fill ends in ENOMEM with no fallback; the statistics
 *                               count the fallbacks (out, in, per thread) and the
 *                               exhaustion
 */
#define _GNU_SOURCE
#include "numa_alloc.h"

#include "guest_check.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <numa.h>
#include <numaif.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define EXPECT_MAX 64

static void pin_to_node(int node)
{
    run_on_node(node);
    /* The thread's home node is set by a malloc on it (volatile: the compiler drops a
     * free(malloc()) pair). */
    void *volatile first = malloc(16);
    free(first);
}

static long gettid_(void)
{
    return syscall(SYS_gettid);
}

/* ---- statistics snapshots and what the work between them must add ---- */

static const char *stats_dir;

static void snapshot(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s.json", stats_dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || numa_alloc_stats_write(fd, 1) != 0) {
        printf("FAIL cannot write the statistics to %s: %s\n", path, strerror(errno));
        failures++;
    }
    if (fd >= 0)
        close(fd);
}

struct expectation {
    char key[64];
    const char *op;
    unsigned long value;
};
static struct expectation expected[EXPECT_MAX];
static int nexpected;

static void expect_node(int node, const char *field, const char *op, unsigned long value)
{
    struct expectation *e = &expected[nexpected++];
    snprintf(e->key, sizeof e->key, "node%d.%s", node, field);
    e->op = op;
    e->value = value;
}

static void expect_thread(long tid, const char *field, unsigned long value)
{
    struct expectation *e = &expected[nexpected++];
    snprintf(e->key, sizeof e->key, "thread.%ld.%s", tid, field);
    e->op = "==";
    e->value = value;
}

static void write_expectations(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/expect.txt", stats_dir);
    FILE *f = fopen(path, "w");
    EXPECT(f != NULL, "cannot create %s", path);
    if (!f)
        return;
    for (int i = 0; i < nexpected; i++)
        fprintf(f, "%s %s %lu\n", expected[i].key, expected[i].op, expected[i].value);
    fclose(f);
}

/* ---- stats: known work on known nodes ---- */

enum {
    SMALL = 1000,    /* per thread: malloc(48) */
    LARGE = 10,      /* malloc(100000) */
    HUGE = 3,        /* malloc(3 MiB) */
    EXPLICIT = 200,  /* numa_malloc(other node, 64), freed by the allocating thread */
    OWN_NODE = 50,   /* numa_malloc(own node, 64): local, not explicit */
    OWN_FREES = 100, /* small blocks freed by the thread that allocated them */
    CROSS_SMALL = 300,
    CROSS_LARGE = 5,
    CROSS_HUGE = 1 /* freed by the other thread */
};

struct stats_worker {
    int node, other;
    long tid;
    void *small[SMALL], *large[LARGE], *huge[HUGE], *explicit_blocks[EXPLICIT];
    void *own_node[OWN_NODE];
    size_t off_node; /* blocks not where they should be (numa_ptr_node) */
};

static struct stats_worker workers[2];
static pthread_barrier_t stats_barrier;

static void *stats_thread(void *arg)
{
    struct stats_worker *w = arg, *peer = &workers[w == &workers[0] ? 1 : 0];
    pin_to_node(w->node);
    w->tid = gettid_();
    pthread_barrier_wait(&stats_barrier);
    if (w == &workers[0])
        snapshot("before");
    pthread_barrier_wait(&stats_barrier);

    /* Nothing but the counted work until the "after" snapshot: no stdio. */
    for (int i = 0; i < SMALL; i++)
        w->small[i] = malloc(48);
    for (int i = 0; i < LARGE; i++)
        w->large[i] = malloc(100000);
    for (int i = 0; i < HUGE; i++)
        w->huge[i] = malloc(3 << 20);
    for (int i = 0; i < EXPLICIT; i++)
        w->explicit_blocks[i] = numa_malloc(w->other, 64);
    for (int i = 0; i < OWN_NODE; i++)
        w->own_node[i] = numa_malloc(w->node, 64);
    pthread_barrier_wait(&stats_barrier);

    for (int i = 0; i < OWN_FREES; i++)
        free(w->small[SMALL - 1 - i]);
    for (int i = 0; i < EXPLICIT; i++)
        free(w->explicit_blocks[i]);
    for (int i = 0; i < CROSS_SMALL; i++)
        free(peer->small[i]);
    for (int i = 0; i < CROSS_LARGE; i++)
        free(peer->large[i]);
    for (int i = 0; i < CROSS_HUGE; i++)
        free(peer->huge[i]);
    pthread_barrier_wait(&stats_barrier);
    if (w == &workers[0])
        snapshot("after");
    pthread_barrier_wait(&stats_barrier);
    return NULL;
}

static void check_stats(void)
{
    pthread_barrier_init(&stats_barrier, NULL, 2);
    workers[0] = (struct stats_worker){.node = 0, .other = 1};
    workers[1] = (struct stats_worker){.node = 1, .other = 0};
    printf("stats: two threads on nodes 0 and 1\n"); /* stdout's buffer exists from here */
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, stats_thread, &workers[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);

    /* Where the blocks were served, by the allocator's own answer: checked apart. */
    for (int i = 0; i < 2; i++) {
        struct stats_worker *w = &workers[i];
        for (int k = CROSS_SMALL; k < SMALL - OWN_FREES; k++) /* neither freed */
            w->off_node += numa_ptr_node(w->small[k]) != w->node;
        for (int k = CROSS_LARGE; k < LARGE; k++)
            w->off_node += numa_ptr_node(w->large[k]) != w->node;
        for (int k = CROSS_HUGE; k < HUGE; k++)
            w->off_node += numa_ptr_node(w->huge[k]) != w->node;
        for (int k = 0; k < OWN_NODE; k++)
            w->off_node += numa_ptr_node(w->own_node[k]) != w->node;
        EXPECT(w->off_node == 0, "thread on node %d: %zu blocks off its node", w->node,
               w->off_node);
    }
    /* Usable sizes (the statistics count small blocks by class size, the same). */
    size_t small_usable = 0, large_usable = 0, huge_usable = 0, explicit_usable = 0;
    {
        void *p = malloc(48), *q = malloc(100000), *r = malloc(3 << 20), *s = numa_malloc(1, 64);
        small_usable = malloc_usable_size(p);
        large_usable = malloc_usable_size(q);
        huge_usable = malloc_usable_size(r);
        explicit_usable = malloc_usable_size(s);
        free(p), free(q), free(r), free(s);
    }

    unsigned long own = SMALL + LARGE + HUGE + OWN_NODE;
    unsigned long cross = CROSS_SMALL + CROSS_LARGE + CROSS_HUGE;
    for (int node = 0; node < 2; node++) {
        struct stats_worker *w = &workers[node];
        /* the node's heap served its thread's blocks and the other thread's numa_malloc */
        expect_node(node, "allocations", "==", own + EXPLICIT);
        expect_node(node, "local_allocations", "==", own);
        expect_node(node, "remote_allocations", "==", EXPLICIT);
        expect_node(node, "explicit_allocations", "==", EXPLICIT);
        expect_node(node, "frees", "==", OWN_FREES + EXPLICIT + cross);
        expect_node(node, "remote_frees", "==", EXPLICIT + cross);
        expect_node(node, "bytes_allocated", "==",
                    SMALL * small_usable + LARGE * large_usable + HUGE * huge_usable +
                        (EXPLICIT + OWN_NODE) * explicit_usable);
        expect_node(node, "bytes_freed", "==",
                    (OWN_FREES + CROSS_SMALL) * small_usable + CROSS_LARGE * large_usable +
                        CROSS_HUGE * huge_usable + EXPLICIT * explicit_usable);
        expect_node(node, "fallbacks_in", "==", 0);
        expect_node(node, "fallbacks_out", "==", 0);
        /* the thread: its own blocks local, the numa_malloc on the other node remote */
        expect_thread(w->tid, "allocations", own + EXPLICIT);
        expect_thread(w->tid, "local_allocations", own);
        expect_thread(w->tid, "remote_allocations", EXPLICIT);
        expect_thread(w->tid, "frees", OWN_FREES + EXPLICIT + cross);
        expect_thread(w->tid, "remote_frees", EXPLICIT + cross);
        expect_thread(w->tid, "migrations", 0);
        expect_thread(w->tid, "fallbacks", 0);
    }
    write_expectations();
    printf("stats: per thread %d small, %d large, %d huge, %d numa_malloc on its node, %d on the "
           "other node; %lu freed across; %d expectations written\n",
           SMALL, LARGE, HUGE, OWN_NODE, EXPLICIT, cross, nexpected);
}

/* ---- keep-node: realloc and the numa_* calls keep a block on node 1 ---- */

static const size_t chain[] = {24, 200, 3000, 20000, 100000, 700000, 3u << 20, 9u << 20, 50000, 40};
#define CHAIN (sizeof chain / sizeof chain[0])

enum { KEEP_BLOCKS = 16 };
struct kept {
    const char *how;
    void *p;
    size_t size;
};
static struct kept kept[KEEP_BLOCKS];
static int nkept;

static void keep(const char *how, void *p, size_t size)
{
    EXPECT(p != NULL, "%s failed: %s", how, strerror(errno));
    if (!p)
        return;
    memset(p, 0x5a, size);
    kept[nkept++] = (struct kept){how, p, size};
}

/* A thread on node 1 allocates by policy (local): node 1. */
static void *keep_on_node1(void *arg)
{
    (void)arg;
    pin_to_node(1);
    void *p = NULL;
    keep("malloc(24) on node 1", malloc(24), 24);
    keep("calloc(1000, 100) on node 1", calloc(1000, 100), 100000);
    keep("aligned_alloc(256, 512) on node 1", aligned_alloc(256, 512), 512);
    keep("posix_memalign(4096, 8192) on node 1", posix_memalign(&p, 4096, 8192) == 0 ? p : NULL,
         8192);
    keep("memalign(2 MiB, 100000) on node 1", memalign(2u << 20, 100000), 100000);
    keep("valloc(5000) on node 1", valloc(5000), 5000);
    return NULL;
}

static void check_keep_node(void)
{
    pin_to_node(0);
    keep("numa_malloc(1, 24)", numa_malloc(1, 24), 24);
    keep("numa_calloc(1, 1, 24)", numa_calloc(1, 1, 24), 24);
    keep("numa_calloc(1, 100, 1000)", numa_calloc(1, 100, 1000), 100000);
    keep("numa_calloc(1, 1, 5 MiB)", numa_calloc(1, 1, 5u << 20), 5u << 20);
    keep("numa_aligned_alloc(1, 64, 24)", numa_aligned_alloc(1, 64, 24), 24);
    keep("numa_aligned_alloc(1, 4096, 10000)", numa_aligned_alloc(1, 4096, 10000), 10000);
    keep("numa_aligned_alloc(1, 1 MiB, 3 MiB)", numa_aligned_alloc(1, 1u << 20, 3u << 20),
         3u << 20);
    keep("numa_aligned_alloc(1, 4 MiB, 5 MiB)", numa_aligned_alloc(1, 4u << 20, 5u << 20),
         5u << 20);
    pthread_t t;
    pthread_create(&t, NULL, keep_on_node1, NULL);
    pthread_join(t, NULL);

    /* From node 0 now: every step keeps the block on node 1 (local policy says node 0). */
    size_t steps = 0;
    for (int b = 0; b < nkept; b++) {
        struct kept *k = &kept[b];
        char *p = k->p;
        size_t size = k->size;
        EXPECT(numa_ptr_node(p) == 1 && page_census(p, size, 1, NULL) == 0,
               "%s: not on node 1 (numa_ptr_node %d)", k->how, numa_ptr_node(p));
        for (size_t c = 0; c < CHAIN; c++) {
            char *q = realloc(p, chain[c]);
            EXPECT(q != NULL, "%s: realloc to %zu failed: %s", k->how, chain[c], strerror(errno));
            if (!q)
                break;
            size_t kept_bytes = size < chain[c] ? size : chain[c];
            EXPECT(q[0] == 0x5a && q[kept_bytes - 1] == 0x5a, "%s: realloc to %zu lost the data",
                   k->how, chain[c]);
            memset(q, 0x5a, chain[c]);
            size_t counts[MAX_NODES] = {0};
            size_t wrong = page_census(q, chain[c], 1, counts);
            EXPECT(numa_ptr_node(q) == 1 && wrong == 0,
                   "%s: realloc to %zu from node 0: numa_ptr_node %d, %zu of %zu pages off node 1 "
                   "(%zu on node 0)",
                   k->how, chain[c], numa_ptr_node(q), wrong, counts[0] + counts[1], counts[0]);
            p = q;
            size = chain[c];
            steps++;
        }
        free(p);
    }
    printf("keep-node: %d blocks on node 1, %zu reallocs from node 0 (24 B .. 9 MiB .. 40 B)\n",
           nkept, steps);
}

/* ---- rebind: a freed spread huge object is given back to its owner ---- */

static void check_rebind(void)
{
    pin_to_node(0);
    const size_t size = 8u << 20;
    for (int round = 0; round < 2; round++) {
        char *p = malloc(size);
        EXPECT(p != NULL, "malloc(8 MiB): %s", strerror(errno));
        if (!p)
            return;
        touch(p, size);
        int owner = numa_ptr_node(p);
        size_t counts[MAX_NODES] = {0};
        page_census(p, size, -1, counts);
        printf("rebind: round %d: 8 MiB object of node %d spread %zu:%zu pages over nodes 0:1\n",
               round, owner, counts[0], counts[1]);
        EXPECT(owner >= 0 && counts[0] > 0 && counts[1] > 0,
               "the object was not spread (run under NUMA_ALLOC_POLICY=interleave)");
        uintptr_t old = (uintptr_t)p;
        free(p);
        char *q = numa_malloc(owner, size);
        EXPECT(q != NULL, "numa_malloc(%d, 8 MiB): %s", owner, strerror(errno));
        if (!q)
            return;
        bool reused = (uintptr_t)q < old + size && old < (uintptr_t)q + size;
        EXPECT(reused, "numa_malloc(%d) did not reuse the freed range: nothing to check", owner);
        touch(q, size);
        size_t after[MAX_NODES] = {0};
        size_t wrong = page_census(q, size, owner, after);
        printf("rebind: round %d: numa_malloc(%d, 8 MiB) %s the range: %zu of %zu pages off "
               "node %d\n",
               round, owner, reused ? "reused" : "did not reuse", wrong, after[0] + after[1],
               owner);
        EXPECT(wrong == 0, "%zu pages of the reused range are off node %d", wrong, owner);
        free(q);
    }
    /*
     * A spread object shrunk by realloc stays where it is (it moved on every
     * shrink, a copy and a fault of every page each time); its tail goes back
     * to the owner's policy, as a freed object does.
     */
    const size_t big = 24u << 20, small = 4u << 20;
    char *p = malloc(big);
    EXPECT(p != NULL, "malloc(24 MiB): %s", strerror(errno));
    if (!p)
        return;
    memset(p, 0x3c, big);
    int owner = numa_ptr_node(p);
    uintptr_t before = (uintptr_t)p, tail_end = before + big;
    char *r = realloc(p, small);
    EXPECT((uintptr_t)r == before,
           "realloc(24 MiB -> 4 MiB) of a spread object moved it (%#lx -> %p)",
           (unsigned long)before, (void *)r);
    if (!r)
        return;
    EXPECT(r[0] == 0x3c && r[small - 1] == 0x3c, "realloc(24 MiB -> 4 MiB) lost the data");
    uintptr_t tail = (uintptr_t)r + small;
    char *q = numa_malloc(owner, 16u << 20);
    EXPECT(q != NULL, "numa_malloc(%d, 16 MiB): %s", owner, strerror(errno));
    if (!q) {
        free(r);
        return;
    }
    bool reused = (uintptr_t)q < tail_end && tail < (uintptr_t)q + (16u << 20);
    touch(q, 16u << 20);
    size_t after[MAX_NODES] = {0};
    size_t wrong = page_census(q, 16u << 20, owner, after);
    printf("rebind: shrunk in place: %s; numa_malloc(%d, 16 MiB) %s the tail: %zu of %zu pages off "
           "node %d\n",
           (uintptr_t)r == before ? "yes" : "no", owner, reused ? "reused" : "did not reuse", wrong,
           after[0] + after[1], owner);
    EXPECT(reused, "numa_malloc(%d, 16 MiB) did not reuse the shrunk object's tail", owner);
    EXPECT(wrong == 0, "%zu pages of the reused tail are off node %d", wrong, owner);
    free(q);
    /* Grown in place (the run after it is free: q was just freed), its new pages spread too. */
    const size_t grown = 20u << 20;
    char *g = realloc(r, grown);
    EXPECT(g != NULL, "realloc(4 MiB -> 20 MiB): %s", strerror(errno));
    if (!g) {
        free(r);
        return;
    }
    EXPECT(g[0] == 0x3c && g[small - 1] == 0x3c, "realloc(4 MiB -> 20 MiB) lost the data");
    touch(g + small, grown - small);
    /* The segments it grew into: from the first 4 MiB boundary past its old end (the rest of
     * its last segment was spread with it). */
    const uintptr_t segment = 4u << 20;
    char *fresh = (char *)(((uintptr_t)g + small + segment - 1) & ~(segment - 1));
    size_t added[MAX_NODES] = {0};
    page_census(fresh, (size_t)(g + grown - fresh), -1, added);
    printf("rebind: grown to 20 MiB %s; the segments it grew into spread %zu:%zu pages over "
           "nodes 0:1\n",
           (uintptr_t)g == before ? "in place" : "elsewhere", added[0], added[1]);
    EXPECT((uintptr_t)g == before, "realloc(4 MiB -> 20 MiB) of a spread object moved it");
    size_t pages = added[0] + added[1];
    EXPECT(added[0] >= pages / 4 && added[1] >= pages / 4,
           "the segments a spread object grew into are not spread");
    free(g);
}

/* ---- decommit: a run purged is given its node's policy again ---- */

/*
 * A freed run, once purged, is decommitted (core/purge.c, purge_run_pages): a
 * new mapping over it, without the slot's policy until it is set again. From a
 * thread on node 0, node 1's huge object and large blocks are freed, purged
 * (malloc_trim), and the ranges reused by numa_malloc(1): every page on node 1
 * (first touch would put them on node 0).
 */
static void check_decommit(void)
{
    pin_to_node(0);
    const size_t huge = 12u << 20, large = 1u << 20;
    enum { LARGE = 8 };
    char *p = numa_malloc(1, huge), *blocks[LARGE];
    EXPECT(p != NULL, "numa_malloc(1, 12 MiB): %s", strerror(errno));
    if (!p)
        return;
    touch(p, huge);
    uintptr_t old = (uintptr_t)p;
    free(p);
    malloc_trim(0);
    char *q = numa_malloc(1, huge);
    EXPECT(q != NULL, "numa_malloc(1, 12 MiB) again: %s", strerror(errno));
    if (!q)
        return;
    bool reused = (uintptr_t)q < old + huge && old < (uintptr_t)q + huge;
    touch(q, huge);
    size_t counts[MAX_NODES] = {0};
    size_t wrong = page_census(q, huge, 1, counts);
    printf("decommit: numa_malloc(1, 12 MiB) %s the purged range: %zu of %zu pages off node 1\n",
           reused ? "reused" : "did not reuse", wrong, counts[0] + counts[1]);
    EXPECT(reused, "numa_malloc(1, 12 MiB) did not reuse the purged range: nothing to check");
    EXPECT(wrong == 0, "%zu pages of the reused huge range are off node 1", wrong);
    free(q);
    for (int i = 0; i < LARGE; i++) {
        blocks[i] = numa_malloc(1, large);
        EXPECT(blocks[i] != NULL, "numa_malloc(1, 1 MiB): %s", strerror(errno));
        if (!blocks[i])
            return;
        touch(blocks[i], large);
    }
    for (int i = 0; i < LARGE; i++)
        free(blocks[i]);
    malloc_trim(0); /* the emptied segments go back, decommitted */
    size_t total = 0;
    wrong = 0;
    for (int i = 0; i < LARGE; i++) {
        blocks[i] = numa_malloc(1, large);
        EXPECT(blocks[i] != NULL, "numa_malloc(1, 1 MiB) again: %s", strerror(errno));
        if (!blocks[i])
            return;
        touch(blocks[i], large);
        size_t c[MAX_NODES] = {0};
        wrong += page_census(blocks[i], large, 1, c);
        total += c[0] + c[1];
    }
    printf("decommit: 8 blocks of 1 MiB of node 1 after a purge: %zu of %zu pages off node 1\n",
           wrong, total);
    EXPECT(wrong == 0, "%zu pages of the large blocks are off node 1", wrong);
    for (int i = 0; i < LARGE; i++)
        free(blocks[i]);
}

/* ---- own-mapping: under an address-space limit a huge block is mapped alone ---- */

static void check_own_mapping(bool spread)
{
    const size_t size = 64u << 20, after_size = 8u << 20;
    for (int how = spread ? 1 : 0; how < 2; how++) {
        pin_to_node(how == 0 ? 0 : 1);
        const char *what = how == 0  ? "numa_malloc(1, 64 MiB) from node 0"
                           : !spread ? "malloc(64 MiB) from node 1"
                                     : "malloc(64 MiB) under interleave";
        char *p = how == 0 ? numa_malloc(1, size) : malloc(size);
        char *after = how == 0 ? numa_malloc(1, after_size) : malloc(after_size);
        /* Interleave takes the slots in turn: one more, so that one lies after p in its slot. */
        char *after2 = spread ? malloc(after_size) : NULL;
        EXPECT(p != NULL && after != NULL, "%s: %s", what, strerror(errno));
        if (!p || !after)
            return;
        touch(p, size);
        touch(after, after_size);
        if (after2)
            touch(after2, after_size);
        size_t counts[MAX_NODES] = {0};
        size_t wrong = page_census(p, size, spread ? -1 : 1, counts);
        if (spread) {
            printf("own-mapping: %s: spread %zu:%zu pages over nodes 0:1\n", what, counts[0],
                   counts[1]);
            EXPECT(counts[0] > 0 && counts[1] > 0, "%s: not spread over both nodes", what);
        }
        unsigned char resident;
        volatile uintptr_t range = (uintptr_t)p; /* its address only, read after the free */
        free(p);
        errno = 0;
        bool unmapped = mincore((void *)range, 4096, &resident) != 0 && errno == ENOMEM;
        if (!spread)
            printf("own-mapping: %s: %zu of %zu pages off node 1\n", what, wrong,
                   counts[0] + counts[1]);
        printf("own-mapping: %s: freed, its range %s\n", what,
               unmapped ? "unmapped" : "still mapped");
        EXPECT(wrong == 0, "%s: %zu pages off node 1", what, wrong);
        EXPECT(unmapped, "%s: freed under ulimit -v, its range is still mapped", what);
        free(after);
        free(after2);
    }
}

/* ---- grow-out: a huge object grown with no room after it keeps its node ---- */

static void check_grow_out(const char *dir)
{
    stats_dir = dir;
    pin_to_node(0);
    const size_t size = 8u << 20, grown = 72u << 20;
    char *p = numa_malloc(1, size);
    EXPECT(p != NULL, "numa_malloc(1, 8 MiB): %s", strerror(errno));
    if (!p)
        return;
    memset(p, 0x6b, size);
    /* Huge objects of node 1 until one lies within 64 MiB after p: p cannot grow in place. */
    void *blockers[16];
    int nblockers = 0;
    bool blocked = false;
    while (nblockers < 16 && !blocked) {
        char *b = numa_malloc(1, 4u << 20);
        EXPECT(b != NULL, "numa_malloc(1, 4 MiB): %s", strerror(errno));
        if (!b)
            break;
        blockers[nblockers++] = b;
        blocked = b > p && b < p + grown;
    }
    EXPECT(blocked, "no huge object of node 1 lies after the 8 MiB one: nothing to check");
    snapshot("before");
    char *q = realloc(p, grown); /* from node 0: the block keeps node 1 */
    EXPECT(q != NULL, "realloc(8 MiB -> 72 MiB): %s", strerror(errno));
    if (q) {
        EXPECT(q[0] == 0x6b && q[size - 1] == 0x6b, "realloc(8 MiB -> 72 MiB) lost the data");
        memset(q + size, 0x6b, grown - size);
    }
    snapshot("after");
    if (!q)
        return;
    size_t counts[MAX_NODES] = {0};
    size_t wrong = page_census(q, grown, 1, counts);
    printf("grow-out: 8 MiB of node 1 grown to 72 MiB from node 0: %s, numa_ptr_node %d, %zu of "
           "%zu pages off node 1\n",
           q == p ? "in place" : "moved", numa_ptr_node(q), wrong, counts[0] + counts[1]);
    EXPECT(q != p, "realloc grew the object in place: the blocker did not block");
    EXPECT(numa_ptr_node(q) == 1 && wrong == 0, "the grown object is not all on node 1");
    /* Its 18432 pages counted (one in two: the census samples past 16384 pages), less the
     * 2048 it no longer has in the region; not counted, the difference is negative. */
    expect_node(1, "verified.pages_checked", ">=", 4096);
    expect_node(1, "verified.misplaced", "==", 0);
    write_expectations();
    free(q);
    for (int i = 0; i < nblockers; i++)
        free(blockers[i]);
}

/* ---- grow-spread: a spread object's growth is spread, in place and moved out ---- */

/* Whether [p, p + size) lies on both nodes, a quarter of its pages at least on each. */
static bool spread_over_two(const char *what, const char *p, size_t size)
{
    size_t counts[MAX_NODES] = {0};
    page_census(p, size, -1, counts);
    size_t pages = counts[0] + counts[1];
    printf("grow-spread: %s: %zu:%zu pages over nodes 0:1\n", what, counts[0], counts[1]);
    return counts[0] >= pages / 4 && counts[1] >= pages / 4 && pages == size >> 12;
}

static void check_grow_spread(void)
{
    pin_to_node(0);
    const size_t size = 8u << 20, inside = 10u << 20, grown = 40u << 20;
    char *p = malloc(size);
    EXPECT(p != NULL, "malloc(8 MiB): %s", strerror(errno));
    if (!p)
        return;
    memset(p, 0x2e, size);
    EXPECT(spread_over_two("8 MiB object", p, size), "the object was not spread (run under "
                                                     "NUMA_ALLOC_POLICY=interleave)");
    /* 8 MiB from 8 KiB into its run take three segments: 10 MiB fits in the last one. */
    char *q = realloc(p, inside);
    EXPECT(q == p, "realloc(8 MiB -> 10 MiB) moved the object");
    if (!q)
        return;
    memset(q + size, 0x2e, inside - size);
    EXPECT(spread_over_two("grown in its last segment", q + size, inside - size),
           "the pages a spread object grew into in its last segment are not spread");
    void *blockers[16];
    int nblockers = 0;
    bool blocked = false;
    while (nblockers < 16 && !blocked) {
        char *b = malloc(4u << 20);
        if (!b)
            break;
        blockers[nblockers++] = b;
        blocked = b > q && b < q + grown;
    }
    EXPECT(blocked, "no huge object lies after the 10 MiB one: nothing to check");
    char *r = realloc(q, grown);
    EXPECT(r != NULL && r != q, "realloc(10 MiB -> 40 MiB) with no room after it: %s",
           r ? "in place" : strerror(errno));
    if (r) {
        EXPECT(r[0] == 0x2e && r[inside - 1] == 0x2e, "realloc(10 MiB -> 40 MiB) lost the data");
        memset(r + inside, 0x2e, grown - inside);
        EXPECT(spread_over_two("moved out, its old pages", r, inside),
               "a spread object moved out left its pages' nodes");
        EXPECT(spread_over_two("moved out, its growth", r + inside, grown - inside),
               "the pages a spread object grew into once moved out are not spread");
    }
    free(r ? r : q);
    for (int i = 0; i < nblockers; i++)
        free(blockers[i]);
}

/* ---- grow-tight: growing out never outruns the node ---- */

/* A huge object of `node` holding 0x4d with one of `node` after it (0 blockers: none lies). */
static char *blocked_object(int node, size_t size, void **blockers, int *nblockers)
{
    char *p = numa_malloc(node, size);
    EXPECT(p != NULL, "numa_malloc(%d, %zu MiB): %s", node, size >> 20, strerror(errno));
    if (!p)
        return NULL;
    memset(p, 0x4d, size);
    bool blocked = false;
    for (*nblockers = 0; *nblockers < 16 && !blocked;) {
        char *b = numa_malloc(node, 4u << 20);
        if (!b)
            break;
        blockers[(*nblockers)++] = b;
        blocked = b > p && b < p + size + (64u << 20);
    }
    EXPECT(blocked, "no huge object of node %d lies after the %zu MiB one", node, size >> 20);
    return p;
}

static void check_grow_tight(int node)
{
    pin_to_node(node);
    const size_t size = 8u << 20, grown = 16u << 20;
    const size_t over = (size_t)numa_node_size64(node, NULL) * 2; /* more than the node has */
    void *blockers[16];
    int nblockers = 0;
    char *p = blocked_object(node, size, blockers, &nblockers);
    if (!p)
        return;
    errno = 0;
    char *r = realloc(p, over);
    EXPECT(r == NULL && errno == ENOMEM, "realloc(8 MiB -> %zu MiB) on node %d: %s", over >> 20,
           node, r ? "served" : strerror(errno));
    if (!r)
        EXPECT(p[0] == 0x4d && p[size - 1] == 0x4d, "the refused realloc touched the block");
    else
        p = r;
    char *q = realloc(p, grown); /* room on the node: out, by mremap */
    EXPECT(q != NULL, "realloc(8 MiB -> 16 MiB): %s", strerror(errno));
    if (!q)
        return;
    memset(q + size, 0x4d, grown - size);
    size_t wrong = page_census(q, grown, node, NULL);
    printf("grow-tight: realloc to %zu MiB on node %d: %s; to 16 MiB: %s, %zu pages off node %d\n",
           over >> 20, node, r ? "served" : "ENOMEM", q == p ? "in place" : "moved", wrong, node);
    EXPECT(q != p && wrong == 0, "grown to 16 MiB: %s, %zu pages off node %d",
           q == p ? "in place" : "moved", wrong, node);
    errno = 0;
    r = realloc(q, over); /* now a mapping of its own */
    EXPECT(r == NULL && errno == ENOMEM, "realloc(16 MiB -> %zu MiB) of the moved block: %s",
           over >> 20, r ? "served" : strerror(errno));
    if (!r)
        EXPECT(q[0] == 0x4d && q[grown - 1] == 0x4d, "the refused realloc touched the moved block");
    free(r ? r : q);
    for (int i = 0; i < nblockers; i++)
        free(blockers[i]);
}

/* ---- fill: what a full node falls back to, and what the statistics count ---- */

static void check_fill(bool explicit_call, int node, int expect, const char *dir)
{
    stats_dir = dir;
    pin_to_node(node);
    long tid = gettid_();
    const size_t chunk = 1u << 20;
    static void *held[8192];
    size_t nheld = 0, on_node = 0, fallen = 0, misplaced = 0, elsewhere[MAX_NODES] = {0};
    int err = 0;
    long long node_size = numa_node_size64(node, NULL);
    size_t limit = (size_t)node_size * 2 / chunk + 64;
    printf("fill: %s 1 MiB objects on node %d from a thread there\n",
           explicit_call ? "numa_malloc" : "malloc", node);
    snapshot("before");
    /* No stdio and no other allocation until the "after" snapshot. */
    for (size_t i = 0; i < limit && nheld < 8192 && fallen < 32; i++) {
        char *p = explicit_call ? numa_malloc(node, chunk) : malloc(chunk);
        if (!p) {
            err = errno;
            break;
        }
        touch(p, chunk);
        held[nheld++] = p;
        int owner = numa_ptr_node(p);
        if (owner == node) {
            on_node++;
        } else {
            fallen++;
            if (owner >= 0 && owner < MAX_NODES)
                elsewhere[owner]++;
        }
        misplaced += page_census(p, chunk, owner, NULL) != 0;
    }
    snapshot("after");
    printf("fill: %zu MiB on node %d, then %zu fell back:", on_node, node, fallen);
    for (int n = 0; n < MAX_NODES; n++)
        if (elsewhere[n])
            printf(" %zu to node %d", elsewhere[n], n);
    printf("; stopped with %s\n", err ? strerror(err) : "no failure");
    EXPECT(on_node > 0, "nothing on node %d", node);
    EXPECT(misplaced == 0, "%zu objects have pages off the node that owns them", misplaced);
    expect_node(node, "exhaustions", ">=", 1);
    expect_node(node, "fallbacks_in", "==", 0);
    expect_node(node, "explicit_allocations", "==", 0); /* named by a thread on it */
    expect_thread(tid, "fallbacks", fallen);
    if (expect < 0) {
        EXPECT(err == ENOMEM && fallen == 0, "want ENOMEM and no fallback: %zu fell back, %s",
               fallen, err ? strerror(err) : "no failure");
        expect_node(node, "fallbacks_out", "==", 0);
    } else {
        EXPECT(fallen == 32 && elsewhere[expect] == fallen,
               "want 32 fallbacks, every one on node %d: %zu of %zu there", expect,
               elsewhere[expect], fallen);
        expect_node(node, "fallbacks_out", "==", fallen);
        for (int n = 0; n <= numa_max_node(); n++)
            if (n != node && numa_bitmask_isbitset(numa_all_nodes_ptr, n))
                expect_node(n, "fallbacks_in", "==", elsewhere[n]);
    }
    write_expectations();
    for (size_t i = 0; i < nheld; i++)
        free(held[i]);
}

int main(int argc, char **argv)
{
    if (numa_available() < 0 || argc < 2) {
        fprintf(stderr, "usage: value_check CHECK [ARGS] (needs NUMA)\n");
        return 2;
    }
    const char *check = argv[1];
    if (strcmp(check, "stats") == 0 && argc == 3) {
        stats_dir = argv[2];
        check_stats();
    } else if (strcmp(check, "keep-node") == 0 && argc == 2) {
        check_keep_node();
    } else if (strcmp(check, "rebind") == 0 && argc == 2) {
        check_rebind();
    } else if (strcmp(check, "decommit") == 0 && argc == 2) {
        check_decommit();
    } else if (strcmp(check, "own-mapping") == 0 && argc == 2) {
        check_own_mapping(false);
    } else if (strcmp(check, "own-mapping-spread") == 0 && argc == 2) {
        check_own_mapping(true);
    } else if (strcmp(check, "grow-out") == 0 && argc == 3) {
        check_grow_out(argv[2]);
    } else if (strcmp(check, "grow-spread") == 0 && argc == 2) {
        check_grow_spread();
    } else if (strcmp(check, "grow-tight") == 0 && argc == 3) {
        check_grow_tight(atoi(argv[2]));
    } else if (strcmp(check, "fill") == 0 && argc == 6 &&
               (strcmp(argv[2], "explicit") == 0 || strcmp(argv[2], "policy") == 0)) {
        check_fill(strcmp(argv[2], "explicit") == 0, atoi(argv[3]), atoi(argv[4]), argv[5]);
    } else {
        fprintf(stderr, "value_check: unknown check or arguments: %s\n", check);
        return 2;
    }
    printf("%s: %s\n", check, failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}
