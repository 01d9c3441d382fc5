/*
 * fork_stress.c - fork while other threads allocate (real-program tests;
 * run-fork_stress.sh runs it with and without LD_PRELOAD=libnumapreload.so).
 *
 * 4 worker threads allocate, fill, check and free blocks (malloc, calloc,
 * realloc, posix_memalign; small, medium and large sizes) through shared slot
 * tables, without pause. Meanwhile the main thread forks NFORKS times. Each child:
 *   - checks every block it inherited in the slot tables (allocated by the
 *     parent's workers, which do not exist in the child) and frees half of them;
 *   - starts a thread of its own; the child's main thread and that thread
 *     allocate, fill and free blocks, and each frees blocks the other allocated;
 *   - compares the sum of what it read back with the sum computed without
 *     memory, writes its checksum to a pipe and exits 0 - or exits non-zero
 *     (1: a check failed, 2: out of memory, killed by SIGALRM: it hung).
 * The parent checks that every child exited 0, then stops its workers, checks
 * and frees every block. It prints only data-derived results (the checksum of
 * all children), so the output is the same with any correct allocator.
 *
 * Usage: fork_stress [nforks]   (default 200)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NWORKERS          4
#define NSLOTS            128
#define MAX_LIVE_CHILDREN 6
#define CHILD_TIMEOUT_S   60

struct block {
    uint64_t seed;
    size_t size; /* bytes of data[] */
    unsigned char data[];
};

static _Atomic(struct block *) slots[NWORKERS][NSLOTS];
static atomic_int stop_workers;
static atomic_ulong worker_ops[NWORKERS];
static atomic_int worker_failed;

static inline uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static inline unsigned char pattern(uint64_t seed, size_t i)
{
    return (unsigned char)(seed * 31 + i * 7 + (i >> 8));
}

static size_t pick_size(uint64_t r)
{
    switch (r % 32) {
    case 0:
        if ((r >> 5) % 16 == 0)
            return 200000 + (r >> 9) % 400000; /* large, now and then */
        return 16384 + (r >> 9) % 50000;       /* medium */
    case 1:
    case 2:
        return 1024 + (r >> 9) % 16384;
    default:
        return 1 + (r >> 9) % 1024; /* small */
    }
}

/* The bytes of a block that carry the pattern: all of a small block; of a
 * big one the first and last 256 bytes and one byte in 512 (every page). */
static inline size_t next_pos(size_t i, size_t size)
{
    return (size <= 4096 || i < 256 || i + 256 + 512 >= size) ? i + 1 : i + 512;
}

static void fill(struct block *b, uint64_t seed, size_t size)
{
    b->seed = seed;
    b->size = size;
    for (size_t i = 0; i < size; i = next_pos(i, size))
        b->data[i] = pattern(seed, i);
}

/* 1 if the block holds the pattern of its seed. */
static int check(const struct block *b)
{
    for (size_t i = 0; i < b->size; i = next_pos(i, b->size))
        if (b->data[i] != pattern(b->seed, i))
            return 0;
    return 1;
}

static struct block *new_block(uint64_t *rng)
{
    uint64_t r = rng_next(rng);
    size_t size = pick_size(r);
    struct block *b = NULL;
    switch ((r >> 40) % 4) {
    case 0:
        b = malloc(sizeof *b + size);
        break;
    case 1:
        b = calloc(1, sizeof *b + size);
        if (b) {
            for (size_t i = 0; i < size; i = next_pos(i, size))
                if (b->data[i] != 0) {
                    fprintf(stderr, "fork_stress: calloc memory not zero\n");
                    atomic_store(&worker_failed, 1);
                    break;
                }
        }
        break;
    case 2: {
        void *p = NULL;
        size_t align = (size_t)64 << ((r >> 50) % 7); /* 64 .. 4096 */
        if (posix_memalign(&p, align, sizeof *b + size) == 0)
            b = p;
        if (b && (uintptr_t)b % align != 0) {
            fprintf(stderr, "fork_stress: posix_memalign(%zu) misaligned\n", align);
            atomic_store(&worker_failed, 1);
        }
        break;
    }
    default: /* grown by realloc from a small block */
        b = malloc(sizeof *b + 8);
        if (b) {
            struct block *g = realloc(b, sizeof *b + size);
            if (!g)
                free(b);
            b = g;
        }
        break;
    }
    if (!b)
        return NULL;
    fill(b, r, size);
    return b;
}

static void *worker(void *arg)
{
    int id = (int)(intptr_t)arg;
    uint64_t rng = 0x9e3779b97f4a7c15ULL * (uint64_t)(id + 1);
    while (!atomic_load_explicit(&stop_workers, memory_order_relaxed)) {
        size_t i = rng_next(&rng) % NSLOTS;
        struct block *b = new_block(&rng);
        if (!b) {
            fprintf(stderr, "fork_stress: worker %d: out of memory\n", id);
            atomic_store(&worker_failed, 1);
            break;
        }
        /* Publish the filled block; the slot always holds a live block, so
         * a child forked at any instant inherits only valid blocks. */
        struct block *old = atomic_exchange_explicit(&slots[id][i], b, memory_order_acq_rel);
        if (old) {
            if (!check(old)) {
                fprintf(stderr, "fork_stress: worker %d: block corrupted\n", id);
                atomic_store(&worker_failed, 1);
            }
            free(old);
        }
        /* Bursts with short pauses: the workers allocate most of the time
         * without taking all the CPU time from the forking thread and the
         * children (2 CPUs are enough for this test). */
        if (atomic_fetch_add_explicit(&worker_ops[id], 1, memory_order_relaxed) % 8 == 7)
            nanosleep(&(struct timespec){.tv_nsec = 500000}, NULL);
    }
    return NULL;
}

/* ---- the child ---------------------------------------------------------- */

#define CHILD_BLOCKS 200

struct child_work {
    int k;                  /* child number */
    int part;               /* 0: main thread, 1: the child's thread */
    unsigned char **mine;   /* blocks this part allocated */
    unsigned char **theirs; /* blocks the other part allocated, freed here */
    uint64_t sum;           /* read back from memory */
    uint64_t expected;      /* computed without memory */
    int failed;
    pthread_barrier_t *barrier; /* both parts allocated */
};

static size_t child_size(int k, int part, int j)
{
    uint64_t x = (uint64_t)k * 1000003u + (uint64_t)part * 7919u + (uint64_t)j * 104729u;
    x ^= x >> 11;
    return 1 + (size_t)(j % 50 == 0 ? x % 300000 : x % 2000);
}

static unsigned char child_byte(int k, int part, int j, size_t i)
{
    return (unsigned char)(k * 7 + part * 3 + j * 13 + (int)i);
}

static void child_alloc(struct child_work *w)
{
    for (int j = 0; j < CHILD_BLOCKS; j++) {
        size_t size = child_size(w->k, w->part, j);
        unsigned char *p = (j % 3 == 0) ? calloc(size, 1) : malloc(size);
        if (!p)
            exit(2);
        if (j % 3 == 0 && (p[0] != 0 || p[size - 1] != 0))
            w->failed = 1;
        for (size_t i = 0; i < size; i++)
            p[i] = child_byte(w->k, w->part, j, i);
        if (j % 5 == 0) { /* grow it by realloc; the prefix must survive */
            unsigned char *q = realloc(p, size * 2 + 100);
            if (!q)
                exit(2);
            p = q;
            memset(p + size, 0xee, size + 100);
        }
        w->mine[j] = p;
        /* Expected: the bytes of the prefix, without reading memory. */
        for (size_t i = 0; i < size; i++)
            w->expected += child_byte(w->k, w->part, j, i);
    }
}

static void child_read_and_free_theirs(struct child_work *w)
{
    for (int j = 0; j < CHILD_BLOCKS; j++) {
        size_t size = child_size(w->k, 1 - w->part, j);
        const unsigned char *p = w->theirs[j];
        for (size_t i = 0; i < size; i++)
            w->sum += p[i];
        free(w->theirs[j]);
        w->theirs[j] = NULL;
    }
}

/* Each part allocates its blocks, waits for the other part, then reads and
 * frees the other part's blocks: every block is freed by the other thread. */
static void *child_part(void *arg)
{
    struct child_work *w = arg;
    child_alloc(w);
    pthread_barrier_wait(w->barrier);
    child_read_and_free_theirs(w);
    return NULL;
}

static void child_main(int k, int out_fd)
{
    alarm(CHILD_TIMEOUT_S); /* a hang becomes a SIGALRM death */
    int failed = 0;
    uint64_t inherited = 0;

    /* 1. The inherited blocks: all intact; free every other one. */
    for (int t = 0; t < NWORKERS; t++)
        for (int i = 0; i < NSLOTS; i++) {
            struct block *b = atomic_load_explicit(&slots[t][i], memory_order_acquire);
            if (!b)
                continue;
            if (!check(b))
                failed = 1;
            inherited++;
            if (i % 2 == 0) {
                free(b);
                atomic_store_explicit(&slots[t][i], NULL, memory_order_relaxed);
            }
        }

    /* 2. Two threads of the child, each freeing what the other allocated. */
    unsigned char **a = calloc(CHILD_BLOCKS, sizeof *a);
    unsigned char **b = calloc(CHILD_BLOCKS, sizeof *b);
    if (!a || !b)
        exit(2);
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, 2);
    struct child_work w0 = {.k = k, .part = 0, .mine = a, .theirs = b, .barrier = &barrier};
    struct child_work w1 = {.k = k, .part = 1, .mine = b, .theirs = a, .barrier = &barrier};
    pthread_t th;
    if (pthread_create(&th, NULL, child_part, &w1) != 0)
        exit(1);
    child_part(&w0);
    pthread_join(th, NULL);
    pthread_barrier_destroy(&barrier);
    free(a);
    free(b);
    if (w0.failed || w1.failed)
        failed = 1;
    if (w0.sum + w1.sum != w0.expected + w1.expected) {
        fprintf(stderr, "fork_stress: child %d: read back %llu, expected %llu\n", k,
                (unsigned long long)(w0.sum + w1.sum),
                (unsigned long long)(w0.expected + w1.expected));
        failed = 1;
    }

    /* 3. Free the rest of the inherited blocks. */
    for (int t = 0; t < NWORKERS; t++)
        for (int i = 1; i < NSLOTS; i += 2) {
            struct block *blk = atomic_load_explicit(&slots[t][i], memory_order_relaxed);
            if (blk && !check(blk))
                failed = 1;
            free(blk);
        }
    if (failed) {
        fprintf(stderr, "fork_stress: child %d: corrupted memory (%llu inherited blocks)\n", k,
                (unsigned long long)inherited);
        exit(1);
    }
    uint64_t record[2] = {(uint64_t)k, w0.sum + w1.sum};
    if (write(out_fd, record, sizeof record) != (ssize_t)sizeof record)
        exit(1);
    exit(0); /* exit(), not _exit(): atexit handlers and stdio run too */
}

/* ---- the parent --------------------------------------------------------- */

static int reap(pid_t pid, int k, int *bad)
{
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            perror("fork_stress: waitpid");
            return -1;
        }
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (WIFEXITED(status))
        fprintf(stderr, "fork_stress: child %d exited with status %d\n", k, WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        fprintf(stderr, "fork_stress: child %d killed by signal %d (%s)%s\n", k, WTERMSIG(status),
                strsignal(WTERMSIG(status)), WTERMSIG(status) == SIGALRM ? " - it hung" : "");
    (*bad)++;
    return 0;
}

int main(int argc, char **argv)
{
    int nforks = argc > 1 ? atoi(argv[1]) : 200;
    if (nforks <= 0 || nforks > 4000) { /* 4000 records fill the pipe */
        fprintf(stderr, "usage: fork_stress [nforks]\n");
        return 2;
    }
    int fds[2];
    if (pipe(fds) != 0) {
        perror("fork_stress: pipe");
        return 1;
    }
    pthread_t th[NWORKERS];
    for (int i = 0; i < NWORKERS; i++)
        if (pthread_create(&th[i], NULL, worker, (void *)(intptr_t)i) != 0) {
            fprintf(stderr, "fork_stress: pthread_create failed\n");
            return 1;
        }
    /* Let the workers fill their slot tables before the first fork. */
    for (;;) {
        unsigned long least = ~0UL;
        for (int i = 0; i < NWORKERS; i++) {
            unsigned long n = atomic_load(&worker_ops[i]);
            least = n < least ? n : least;
        }
        if (least >= 2 * NSLOTS || atomic_load(&worker_failed))
            break;
        nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
    }

    pid_t live_pid[MAX_LIVE_CHILDREN];
    int live_k[MAX_LIVE_CHILDREN];
    int nlive = 0, bad = 0;
    for (int k = 0; k < nforks; k++) {
        if (nlive == MAX_LIVE_CHILDREN) { /* oldest first */
            if (reap(live_pid[0], live_k[0], &bad) < 0)
                return 1;
            memmove(live_pid, live_pid + 1, sizeof live_pid[0] * (MAX_LIVE_CHILDREN - 1));
            memmove(live_k, live_k + 1, sizeof live_k[0] * (MAX_LIVE_CHILDREN - 1));
            nlive--;
        }
        /* Allocate in the main thread too, right before forking. */
        char *tmp = malloc(100 + (size_t)k * 37);
        if (!tmp)
            return 1;
        memset(tmp, k, 100 + (size_t)k * 37);
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork_stress: fork");
            return 1;
        }
        if (pid == 0) {
            close(fds[0]);
            free(tmp);
            child_main(k, fds[1]);
        }
        free(tmp);
        live_pid[nlive] = pid;
        live_k[nlive] = k;
        nlive++;
    }
    for (int i = 0; i < nlive; i++)
        if (reap(live_pid[i], live_k[i], &bad) < 0)
            return 1;
    close(fds[1]);

    atomic_store(&stop_workers, 1);
    unsigned long ops = 0;
    for (int i = 0; i < NWORKERS; i++) {
        pthread_join(th[i], NULL);
        ops += atomic_load(&worker_ops[i]);
    }
    int corrupted = 0;
    for (int t = 0; t < NWORKERS; t++)
        for (int i = 0; i < NSLOTS; i++) {
            struct block *b = atomic_load(&slots[t][i]);
            if (b && !check(b))
                corrupted++;
            free(b);
        }

    /* The children's checksums, in child order. */
    uint64_t *sums = calloc((size_t)nforks, sizeof *sums);
    unsigned char *seen = calloc((size_t)nforks, 1);
    if (!sums || !seen)
        return 1;
    uint64_t record[2];
    ssize_t n;
    int records = 0;
    while ((n = read(fds[0], record, sizeof record)) == (ssize_t)sizeof record) {
        if (record[0] < (uint64_t)nforks && !seen[record[0]]) {
            seen[record[0]] = 1;
            sums[record[0]] = record[1];
            records++;
        }
    }
    uint64_t total = 1469598103934665603ULL;
    for (int k = 0; k < nforks; k++)
        total = (total ^ sums[k]) * 1099511628211ULL;
    free(sums);
    free(seen);

    fprintf(stderr, "fork_stress: %lu worker operations, %d forks\n", ops, nforks);
    if (bad || corrupted || atomic_load(&worker_failed) || records != nforks) {
        fprintf(stderr,
                "fork_stress: FAILED: %d children failed, %d parent blocks corrupted, "
                "worker failure %d, %d of %d child checksums received\n",
                bad, corrupted, atomic_load(&worker_failed), records, nforks);
        return 1;
    }
    printf("forks %d: all children exited 0; children checksum %016llx\n", nforks,
           (unsigned long long)total);
    return 0;
}
