/*
 * footprint_probe.c [BLOCKS] - what the preloaded library keeps resident in
 * its own mappings, for test_footprint.sh (not linked with numapreload).
 * Mallocs BLOCKS blocks of a few sizes first (default 0: a program that
 * allocates nothing but what the C library's start-up does), then reads
 * /proc/self/smaps without allocating and prints one line:
 *
 *   dirty KIB rss KIB text KIB rodata KIB data KIB head KIB
 *
 * dirty: anonymous pages (smaps' Anonymous) of the library's file mappings
 * (.data, RELRO: copied on write) and its own pages (pagemap) in the anonymous
 * mapping that follows them, up to the end of its segment (its .bss): pages
 * it wrote, the same on every run. Not Private_Dirty,
 * which also counts file pages still dirty in the page cache (a library just
 * built). rss: Rss of those mappings and its file pages. text: Rss of its
 * executable mapping alone, which depends on the load address through the
 * kernel's fault-around (docs/architecture.md, *Footprint*). rodata: the
 * file pages resident in the read-only mappings after the executable one
 * (the segment of .eh_frame and the reporting files' constants; RELRO's page
 * is anonymous, written by the loader): 0 when start-up read no constant
 * outside the text's window (cmake/startup-text.ld, .rodata.na_early).
 * data: Rss of the writable mappings of the library's file (.data), written
 * or only read: 4 KiB when start-up's initialised variables share a page
 * (policy/options.h, na_stats_path).
 * head: Rss of the read-only mappings before the executable one: the ELF
 * headers, the dynamic symbols and the relocations, which the loader reads in
 * every process (8 KiB with the relative relocations packed, CMakeLists.txt).
 * Exit 2 when the library is not mapped, 3 when /proc/self/pagemap cannot be read.
 * footprint_probe thread: the same line after a thread that mallocs and frees
 * a few blocks has exited (its counts merged into the library's `retired`).
 *
 * footprint_probe young: a young heap gives freed page runs back at once,
 * up to its budget (core/purge.c, PURGE_YOUNG_MS, PURGE_YOUNG_BYTES: 2 MiB).
 * Touches YOUNG_BLOCKS large blocks (8 MiB), frees 1.5 MiB of them,
 * takes a slow path (a large block), frees the rest, takes another, and
 * prints one line:
 *
 *   young freed KIB fell KIB then KIB fell KIB ms MS
 *
 * fell: how much the resident set fell over each part; ms: from the start of
 * main to the last reading, which must be inside the young window.
 *
 * footprint_probe young-huge: a huge object freed spends the young budget at
 * once (a program that frees and reallocates huge blocks keeps them resident
 * for the delay). Touches a 16 MiB block, frees it, takes a slow path:
 *
 *   young-huge freed KIB fell KIB ms MS
 *
 * footprint_probe young-large: so does a page run larger than 256 KiB
 * (PURGE_YOUNG_BLOCK_MAX): touches a 1 MiB block, frees it, takes a slow path:
 *
 *   young-large freed KIB fell KIB ms MS
 *
 * footprint_probe short-threads: rounds of SHORT_THREADS threads, each of which
 * mallocs SHORT_OBJS blocks of 16..2048 B (as numa_bench's short-threads: many
 * small, few large), frees and remallocs a random half, and frees all but
 * SHORT_KEEP, which main frees after the join (blocks outliving their thread).
 * Then counts the pages resident (mincore) in the 4 MiB segments that held
 * the threads' blocks, from the lowest block seen in each (the segment's
 * header lies below), and prints
 *
 *   short-threads resident KIB segments N
 *
 * What it measures is how many pages each (shard, class) of the heap ever had
 * in use at once: the threads' bins (their young bound, struct cache_bin)
 * and blocks of exited threads held back by main's away lists set it.
 *
 * footprint_probe young-slabs: an emptied slab freed young stays resident for
 * the delay, and spends no young budget (layout.h, struct span, emptied).
 * Touches 1.5 MiB of large blocks, then SLAB_BLOCKS small blocks (4 MiB),
 * with a BESIDE_SIZE block between their halves, in address order (a fresh
 * heap cuts its runs in order); frees the small ones (their slabs empty),
 * takes a slow path; frees the block between the slabs (purged at once,
 * though it joins the emptied slabs' run), takes a slow path; frees the
 * large ones (still young, purged at once), takes another:
 *
 *   young-slabs freed KIB fell KIB beside KIB fell KIB then KIB fell KIB ms MS
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <malloc.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char smaps[1 << 20];

static unsigned long field(const char *line, const char *name)
{
    size_t n = strlen(name);
    if (strncmp(line, name, n) != 0)
        return (unsigned long)-1;
    return strtoul(line + n, NULL, 10);
}

#define YOUNG_BLOCKS 32
#define YOUNG_SIZE   (256 << 10) /* 8 MiB in all: far under the dirty limit (64 MiB) */

static unsigned long resident_kib(void)
{
    char buf[128];
    int fd = open("/proc/self/statm", O_RDONLY);
    ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
    if (fd >= 0)
        close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    unsigned long size, pages;
    if (sscanf(buf, "%lu %lu", &size, &pages) != 2)
        return 0;
    return pages * (unsigned long)(sysconf(_SC_PAGESIZE) / 1024);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Frees blocks [from, to) and takes a slow path; how much the resident set fell, in KiB. */
static long free_blocks(char **blk, int from, int to)
{
    unsigned long before = resident_kib();
    for (int i = from; i < to; i++)
        free(blk[i]);
    free(malloc(100000)); /* a slow path of the heap, where purges happen */
    return (long)before - (long)resident_kib();
}

static int young(void)
{
    double start = now_ms();
    static char *blk[YOUNG_BLOCKS];
    for (int i = 0; i < YOUNG_BLOCKS; i++) {
        blk[i] = malloc(YOUNG_SIZE);
        if (!blk[i])
            return 1;
        memset(blk[i], 0x5A, YOUNG_SIZE);
    }
    int part = YOUNG_BLOCKS * 3 / 16; /* 1.5 MiB: inside the budget, whichever free spends it */
    long fell = free_blocks(blk, 0, part);
    long then = free_blocks(blk, part, YOUNG_BLOCKS);
    printf("young freed %d fell %ld then %d fell %ld ms %.0f\n", part * (YOUNG_SIZE >> 10), fell,
           (YOUNG_BLOCKS - part) * (YOUNG_SIZE >> 10), then, now_ms() - start);
    return 0;
}

/* Touches a block of `size`, frees it, takes a slow path; prints NAME freed KIB fell KIB ms MS. */
static int young_block(const char *name, size_t size)
{
    double start = now_ms();
    char *block = malloc(size);
    if (!block)
        return 1;
    memset(block, 0x5A, size);
    unsigned long before = resident_kib();
    free(block);
    free(malloc(100000)); /* a slow path of the heap, where purges happen */
    long fell = (long)before - (long)resident_kib();
    printf("%s freed %zu fell %ld ms %.0f\n", name, size >> 10, fell, now_ms() - start);
    return 0;
}

#define SLAB_BLOCKS (1 << 16)
#define SLAB_SIZE   64
#define BESIDE_SIZE (128 << 10)

/* Mallocs and touches n blocks of `size` into blk; 0, or 1 when one failed. */
static int touch_blocks(char **blk, int n, size_t size)
{
    for (int i = 0; i < n; i++) {
        blk[i] = malloc(size);
        if (!blk[i])
            return 1;
        memset(blk[i], 0x5A, size);
    }
    return 0;
}

static int young_slabs(void)
{
    double start = now_ms();
    static char *small[SLAB_BLOCKS], *large[YOUNG_BLOCKS], *beside[1];
    int part = YOUNG_BLOCKS * 3 / 16; /* 1.5 MiB: inside the budget, if slabs spent none */
    if (touch_blocks(large, part, YOUNG_SIZE) || touch_blocks(small, SLAB_BLOCKS / 2, SLAB_SIZE) ||
        touch_blocks(beside, 1, BESIDE_SIZE) ||
        touch_blocks(small + SLAB_BLOCKS / 2, SLAB_BLOCKS / 2, SLAB_SIZE))
        return 1;
    long fell = free_blocks(small, 0, SLAB_BLOCKS);
    long beside_fell = free_blocks(beside, 0, 1);
    long then = free_blocks(large, 0, part);
    printf("young-slabs freed %d fell %ld beside %d fell %ld then %d fell %ld ms %.0f\n",
           SLAB_BLOCKS * SLAB_SIZE >> 10, fell, BESIDE_SIZE >> 10, beside_fell,
           part * (YOUNG_SIZE >> 10), then, now_ms() - start);
    return 0;
}

#define SHORT_THREADS  2
#define SHORT_ROUNDS   500
#define SHORT_OBJS     256
#define SHORT_KEEP     4
#define SHORT_SEGMENT  ((uintptr_t)4 << 20) /* core/layout.h, SEGMENT_SIZE */
#define SHORT_SEGMENTS 16

struct short_thread {
    uint64_t seed;
    void *keep[SHORT_KEEP];
};

/* The segments that held the threads' blocks, each with the lowest block seen in it. */
static struct {
    pthread_mutex_t lock;
    int count;
    uintptr_t base[SHORT_SEGMENTS], lowest[SHORT_SEGMENTS];
} short_seen = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void short_note(void *const *blocks, int n)
{
    pthread_mutex_lock(&short_seen.lock);
    for (int i = 0; i < n; i++) {
        uintptr_t block = (uintptr_t)blocks[i], base = block & ~(SHORT_SEGMENT - 1);
        int s = 0;
        while (s < short_seen.count && short_seen.base[s] != base)
            s++;
        if (s == short_seen.count) {
            if (s == SHORT_SEGMENTS)
                continue;
            short_seen.count++;
            short_seen.base[s] = base;
            short_seen.lowest[s] = block;
        }
        if (block < short_seen.lowest[s])
            short_seen.lowest[s] = block;
    }
    pthread_mutex_unlock(&short_seen.lock);
}

/* KiB resident (mincore) in the segments short_note saw, from the lowest block in each; -1 on
 * error. */
static long seen_resident_kib(void)
{
    static unsigned char vec[SHORT_SEGMENT / 4096];
    long page = sysconf(_SC_PAGESIZE);
    long resident = 0;
    for (int s = 0; s < short_seen.count; s++) {
        if (mincore((void *)short_seen.base[s], SHORT_SEGMENT, vec))
            return -1;
        for (size_t i = (short_seen.lowest[s] - short_seen.base[s]) / (size_t)page;
             i < SHORT_SEGMENT / (size_t)page; i++)
            resident += vec[i] & 1;
    }
    return resident * page >> 10;
}

static uint64_t short_next(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* 16..2048 B, the cube of a uniform number: as many below 280 B as above (rng_size's shape 3). */
static size_t short_size(uint64_t *x)
{
    double u = (double)(short_next(x) >> 11) / 9007199254740992.0;
    return 16 + (size_t)(2032.0 * u * u * u);
}

/*
 * Each thread waits here after its first malloc, which gave it its heap shard:
 * the threads of a round all live then, so they take different shards
 * (however the machine schedules them) and each round uses as many.
 */
static pthread_barrier_t short_started;

static void *short_body(void *arg)
{
    struct short_thread *t = arg;
    void *p[SHORT_OBJS];
    for (int i = 0; i < SHORT_OBJS; i++) {
        size_t size = short_size(&t->seed);
        p[i] = malloc(size);
        if (!p[i])
            abort();
        memset(p[i], i, 16);
        if (i == 0)
            pthread_barrier_wait(&short_started);
    }
    short_note(p, SHORT_OBJS);
    for (int k = 0; k < SHORT_OBJS / 2; k++) {
        size_t i = short_next(&t->seed) % SHORT_OBJS;
        free(p[i]);
        p[i] = malloc(short_size(&t->seed));
        if (!p[i])
            abort();
        memset(p[i], k, 16);
    }
    short_note(p, SHORT_OBJS);
    for (int i = 0; i < SHORT_OBJS; i++) {
        if (i % (SHORT_OBJS / SHORT_KEEP) == 0)
            t->keep[i / (SHORT_OBJS / SHORT_KEEP)] = p[i];
        else
            free(p[i]);
    }
    return NULL;
}

static int short_threads(void)
{
    if (pthread_barrier_init(&short_started, NULL, SHORT_THREADS))
        return 1;
    for (int round = 0; round < SHORT_ROUNDS; round++) {
        struct short_thread t[SHORT_THREADS];
        pthread_t tid[SHORT_THREADS];
        for (int i = 0; i < SHORT_THREADS; i++) {
            t[i] =
                (struct short_thread){.seed = 0x9e3779b97f4a7c15u * (uint64_t)(round * 8 + i + 1)};
            if (pthread_create(&tid[i], NULL, short_body, &t[i]))
                return 1;
        }
        for (int i = 0; i < SHORT_THREADS; i++) {
            pthread_join(tid[i], NULL);
            for (int k = 0; k < SHORT_KEEP; k++)
                free(t[i].keep[k]);
        }
    }
    long kib = seen_resident_kib();
    if (kib < 0)
        return 1;
    printf("short-threads resident %ld segments %d\n", kib, short_seen.count);
    return 0;
}

/*
 * footprint_probe many-threads: MANY_THREADS threads live at once, each of
 * which mallocs one block of 1 KiB and one of 2 KiB and holds them; while all
 * hold theirs, counts the pages resident (mincore) in the segments that held
 * the blocks, from the lowest block seen in each (as short-threads), and prints
 *
 *   many-threads resident KIB threads N
 *
 * What a thread that allocates a few blocks costs: its node caches (they lie
 * in the same node heap) and its bins' first refills (struct cache_bin).
 */
#define MANY_THREADS 256

static pthread_barrier_t many_holding, many_counted;

static void *many_body(void *arg)
{
    (void)arg;
    void *p[2] = {malloc(1024), malloc(2048)};
    if (!p[0] || !p[1])
        abort();
    memset(p[0], 1, 16);
    memset(p[1], 2, 16);
    short_note(p, 2);
    pthread_barrier_wait(&many_holding);
    pthread_barrier_wait(&many_counted);
    free(p[0]);
    free(p[1]);
    return NULL;
}

static int many_threads(void)
{
    if (pthread_barrier_init(&many_holding, NULL, MANY_THREADS + 1) ||
        pthread_barrier_init(&many_counted, NULL, MANY_THREADS + 1))
        return 1;
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) || pthread_attr_setstacksize(&attr, 64 << 10))
        return 1;
    static pthread_t tid[MANY_THREADS];
    for (int i = 0; i < MANY_THREADS; i++)
        if (pthread_create(&tid[i], &attr, many_body, NULL))
            return 1;
    pthread_barrier_wait(&many_holding);
    long kib = seen_resident_kib();
    pthread_barrier_wait(&many_counted);
    for (int i = 0; i < MANY_THREADS; i++)
        pthread_join(tid[i], NULL);
    if (kib < 0)
        return 1;
    printf("many-threads resident %ld threads %d\n", kib, MANY_THREADS);
    return 0;
}

/*
 * footprint_probe idle-shards: IDLE_THREADS threads live at once, each of
 * which mallocs IDLE_BLOCKS blocks of each of 8 classes (16 B..2 KiB) and
 * frees them; after the join, the main thread waits out the purge delay
 * (run with NUMA_ALLOC_PURGE_DELAY_MS=50) and takes 1 MiB of large blocks (a
 * visit of its bins), and prints the heaps' active bytes (total.active_bytes:
 * slabs and large blocks in use, spare slabs included) at the join and after:
 *
 *   idle-shards active-at-join KIB after KIB threads N
 *
 * Each shard the threads used kept a spare slab of each class; without
 * threads for the delay, they go back (sweep_idle_shards, core/thread_cache.c).
 */
#define IDLE_THREADS 16
#define IDLE_BLOCKS  64

static pthread_barrier_t idle_started, idle_freed, idle_forked;
static bool idle_hold;

static void *idle_body(void *arg)
{
    (void)arg;
    void *p[8 * IDLE_BLOCKS];
    for (int i = 0; i < 8 * IDLE_BLOCKS; i++) {
        /* Held alive, the bins keep a thread's last blocks: slabs of big blocks empty past them. */
        size_t size = idle_hold ? (size_t)1024 << (i % 4) : (size_t)16 << (i % 8);
        p[i] = malloc(size);
        if (!p[i])
            abort();
        memset(p[i], 1, 16);
        if (i == 0)
            pthread_barrier_wait(&idle_started); /* all live at once: each its own shard */
    }
    for (int i = 0; i < 8 * IDLE_BLOCKS; i++)
        free(p[i]);
    if (idle_hold) { /* live while the main thread forks */
        pthread_barrier_wait(&idle_freed);
        pthread_barrier_wait(&idle_forked);
    }
    return NULL;
}

static pthread_barrier_t idle_taken, idle_swept;

static void *idle_taker(void *arg)
{
    (void)arg;
    void *block = malloc(16);
    pthread_barrier_wait(&idle_taken);
    pthread_barrier_wait(&idle_swept);
    free(block);
    return NULL;
}

/*
 * 150 ms, then 16 large blocks (a visit of the bins: each counts 16 KiB of its
 * 256 KiB, core/thread_cache.c, LARGE_GC_BYTES): the heaps' active bytes then.
 */
static int idle_after_delay(int (*counter)(const char *, uint64_t *), uint64_t *after)
{
    nanosleep(&(struct timespec){.tv_nsec = 150 * 1000 * 1000}, NULL);
    for (int i = 0; i < 16; i++) {
        void *volatile big = malloc(128 << 10);
        free(big);
    }
    return counter("total.active_bytes", after);
}

/*
 * footprint_probe idle-shards-fork: the same threads, with blocks of 1 to
 * 8 KiB, alive (their blocks freed) when the main thread forks; the child, whose shards but its own
 * have no thread, prints its active bytes at the fork and after the delay:
 *
 *   idle-shards-fork active-at-fork KIB after KIB threads N
 */
static int idle_shards_fork(void)
{
    int (*counter)(const char *, uint64_t *) =
        (int (*)(const char *, uint64_t *))dlsym(RTLD_DEFAULT, "numa_alloc_counter");
    idle_hold = true;
    if (!counter || pthread_barrier_init(&idle_started, NULL, IDLE_THREADS) ||
        pthread_barrier_init(&idle_freed, NULL, IDLE_THREADS + 1) ||
        pthread_barrier_init(&idle_forked, NULL, IDLE_THREADS + 1))
        return 1;
    free(malloc(16));
    pthread_t tid[IDLE_THREADS];
    for (int i = 0; i < IDLE_THREADS; i++)
        if (pthread_create(&tid[i], NULL, idle_body, NULL))
            return 1;
    pthread_barrier_wait(&idle_freed);
    fflush(stdout);
    pid_t child = fork();
    if (child == 0) {
        uint64_t at_fork = 0, after = 0;
        if (counter("total.active_bytes", &at_fork) || idle_after_delay(counter, &after))
            _exit(1);
        printf("idle-shards-fork active-at-fork %llu after %llu threads %d\n",
               (unsigned long long)(at_fork >> 10), (unsigned long long)(after >> 10),
               IDLE_THREADS);
        fflush(stdout);
        _exit(0);
    }
    int status = 1;
    if (child < 0 || waitpid(child, &status, 0) != child)
        return 1;
    pthread_barrier_wait(&idle_forked);
    for (int i = 0; i < IDLE_THREADS; i++)
        pthread_join(tid[i], NULL);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

static int idle_shards(void)
{
    int (*counter)(const char *, uint64_t *) =
        (int (*)(const char *, uint64_t *))dlsym(RTLD_DEFAULT, "numa_alloc_counter");
    uint64_t at_join = 0, after = 0;
    if (!counter || pthread_barrier_init(&idle_started, NULL, IDLE_THREADS))
        return 1;
    free(malloc(16)); /* the main thread's cache first: its shard is not one of theirs */
    pthread_t tid[IDLE_THREADS];
    for (int i = 0; i < IDLE_THREADS; i++)
        if (pthread_create(&tid[i], NULL, idle_body, NULL))
            return 1;
    for (int i = 0; i < IDLE_THREADS; i++)
        pthread_join(tid[i], NULL);
    if (counter("total.active_bytes", &at_join))
        return 1;
    /* One more thread takes one of the idle shards and lives across the sweep (not swept). */
    pthread_t taker;
    if (pthread_barrier_init(&idle_taken, NULL, 2) || pthread_barrier_init(&idle_swept, NULL, 2) ||
        pthread_create(&taker, NULL, idle_taker, NULL))
        return 1;
    pthread_barrier_wait(&idle_taken);
    if (idle_after_delay(counter, &after))
        return 1;
    pthread_barrier_wait(&idle_swept);
    pthread_join(taker, NULL);
    printf("idle-shards active-at-join %llu after %llu threads %d\n",
           (unsigned long long)(at_join >> 10), (unsigned long long)(after >> 10), IDLE_THREADS);
    return 0;
}

/*
 * footprint_probe spread-slabs: one block of each class from 1 to 8 KiB (25
 * classes, each in a slab of its own, 16 pages or more apart) in a fresh
 * heap's first segment, and how much of the segment's header is resident
 * (mincore):
 *
 *   spread-slabs header KIB classes N
 *
 * The span descriptors are handed out lowest first (core/layout.h,
 * span_index): indexed by page, the 25 slabs wrote 56 bytes on each of 6
 * pages of descriptors. Their bitmaps come from the segment's map_pool
 * (core/layout.h): at their head pages' words of free_map, they wrote 3
 * pages of it. Exit 3 when a block is not in the first one's
 * segment or lies in what this probe takes for the header.
 */
#define SPREAD_SEGMENT      ((uintptr_t)4 << 20) /* core/layout.h, SEGMENT_SIZE */
#define SPREAD_HEADER_PAGES 24                   /* core/layout.h, SEGMENT_HEADER_PAGES */

/*
 * One block of each class from 1 to 8 KiB (25 classes, each in a slab of its
 * own), 16 bytes written into each; how many, or -1 when a malloc failed.
 */
static int one_block_per_class(void *block[32])
{
    int n = 0;
    for (size_t size = 1024; size <= 8192 && n < 32; n++) {
        block[n] = malloc(size);
        if (!block[n])
            return -1;
        memset(block[n], 1, 16);
        size += size < 2048 ? 128 : size < 4096 ? 256 : 512; /* the next class */
    }
    return n;
}

static int spread_slabs(void)
{
    void *block[32];
    int n = one_block_per_class(block);
    if (n < 0)
        return 1;
    uintptr_t segment = (uintptr_t)block[0] & ~(SPREAD_SEGMENT - 1);
    long page = sysconf(_SC_PAGESIZE);
    for (int i = 0; i < n; i++)
        if (((uintptr_t)block[i] & ~(SPREAD_SEGMENT - 1)) != segment ||
            (uintptr_t)block[i] - segment < SPREAD_HEADER_PAGES * (uintptr_t)page)
            return 3;
    unsigned char vec[SPREAD_HEADER_PAGES];
    if (mincore((void *)segment, SPREAD_HEADER_PAGES * (size_t)page, vec))
        return 1;
    unsigned long resident = 0;
    for (int i = 0; i < SPREAD_HEADER_PAGES; i++)
        resident += vec[i] & 1;
    printf("spread-slabs header %lu classes %d\n", resident * (unsigned long)page >> 10, n);
    for (int i = 0; i < n; i++)
        free(block[i]);
    return 0;
}

/*
 * footprint_probe lone-tails: a lone thread writes nothing ahead of what it
 * allocates. One block of each class from 1 to 8 KiB (25 classes, as
 * spread-slabs), 16 bytes written into each; then the pages resident
 * (mincore) from each block's page through the 16 pages of a slab,
 * summed:
 *
 *   lone-tails resident KIB classes N
 *
 * A refill ending inside a page writes the next free block when other
 * threads are alive (touch_next_page, core/node_heap.c); a lone thread's
 * refill must not: a program that never comes back for more of the class
 * (Python's start-up) would keep that page resident for nothing.
 *
 * footprint_probe lone-tails-after-thread: the same once a thread that
 * allocated has exited: the main thread is alone again.
 */
static void *allocate_and_exit(void *unused)
{
    (void)unused;
    free(malloc(64));
    return NULL;
}

static int lone_tails(bool after_thread)
{
    pthread_t thread;
    if (after_thread &&
        (pthread_create(&thread, NULL, allocate_and_exit, NULL) || pthread_join(thread, NULL)))
        return 1;
    malloc_trim(0); /* the young arena closed (core/young_arena.h): these blocks are slabs' */
    void *block[32];
    int n = one_block_per_class(block);
    if (n < 0)
        return 1;
    unsigned long resident = 0;
    long page = sysconf(_SC_PAGESIZE);
    for (int i = 0; i < n; i++) {
        uintptr_t first = (uintptr_t)block[i] & ~(uintptr_t)(page - 1);
        unsigned char vec[16];
        if (mincore((void *)first, 16 * (size_t)page, vec))
            return 1;
        for (int p = 0; p < 16; p++)
            resident += vec[p] & 1;
    }
    printf("%s resident %lu classes %d\n", after_thread ? "lone-tails-after-thread" : "lone-tails",
           resident * (unsigned long)page >> 10, n);
    for (int i = 0; i < n; i++)
        free(block[i]);
    return 0;
}

/*
 * footprint_probe heap-struct: 256 KiB of blocks of every size from 64 B to
 * 8 KiB in steps of 64 (every class of whole cache lines up to 8 KiB, past its
 * first slab: a refill that makes a class's second slab looks for remote
 * frees parked on other shards first, take_from_other_shards in
 * core/node_heap.c), then how much of the node
 * heap's own mapping is resident (mincore):
 *
 *   heap-struct resident KIB of KIB
 *
 * The heap is the small anonymous mapping at a 4 MiB boundary below the
 * blocks' segments (core/node_heap.h, node_heap_of: its class_slabs, 32
 * shards of 73 classes, some 146 KiB). A lone thread uses one shard: reading
 * every other shard's class_slabs on each new slab made all of them resident
 * on a kernel without the zero page. Exit 3 when the mapping is not found.
 *
 * footprint_probe heap-struct-fork, heap-struct-trim: the same after a fork
 * (the child exits at once) or malloc_trim(0): locking every shard's
 * class_slabs made all of them resident (core/thread_cache.h,
 * na_shards_used). heap-struct-check: after the debug build's whole-heap
 * check (numa_alloc_debug_check, interpose/debug_api.c), which did the same;
 * exit 4 when the preloaded library does not export it (a release build).
 */
#define HEAP_STRUCT_ALIGN    ((uintptr_t)4 << 20)
#define HEAP_STRUCT_PER_SIZE ((size_t)256 << 10) /* of each size: past a class's first slab */

static int heap_struct(const char *then)
{
    static void *block[1 << 16];
    int n = 0;
    for (size_t size = 64; size <= 8192; size += 64)
        for (size_t bytes = 0;
             bytes < HEAP_STRUCT_PER_SIZE && n < (int)(sizeof block / sizeof *block);
             bytes += size, n++)
            if (!(block[n] = malloc(size)))
                return 1;
    if (strcmp(then, "fork") == 0) {
        pid_t child = fork();
        if (child == 0)
            _exit(0);
        if (child < 0 || waitpid(child, NULL, 0) != child)
            return 1;
    } else if (strcmp(then, "trim") == 0) {
        malloc_trim(0);
    } else if (strcmp(then, "check") == 0) {
        size_t (*check)(void) = (size_t(*)(void))dlsym(RTLD_DEFAULT, "numa_alloc_debug_check");
        if (!check)
            return 4;
        check();
    }
    static char maps[1 << 16];
    int fd = open("/proc/self/maps", O_RDONLY);
    ssize_t len = 0, got;
    while (fd >= 0 && len < (ssize_t)sizeof maps - 1 &&
           (got = read(fd, maps + len, sizeof maps - 1 - (size_t)len)) > 0)
        len += got;
    if (fd >= 0)
        close(fd);
    maps[len] = '\0';
    uintptr_t heap = 0, heap_end = 0;
    for (char *line = maps; *line;) {
        char *end;
        uintptr_t start = strtoul(line, &end, 16), stop = strtoul(end + 1, &end, 16);
        bool anonymous_rw =
            strncmp(end, " rw-p 00000000 00:00 0", 22) == 0 && (end[22] == '\n' || end[22] == ' ');
        if (anonymous_rw && start % HEAP_STRUCT_ALIGN == 0 && stop - start < ((uintptr_t)1 << 20) &&
            start < (uintptr_t)block[0] && start > heap) {
            heap = start;
            heap_end = stop;
        }
        char *next = strchr(line, '\n');
        if (!next)
            break;
        line = next + 1;
    }
    if (!heap)
        return 3;
    long page = sysconf(_SC_PAGESIZE);
    size_t pages = (heap_end - heap) / (size_t)page;
    static unsigned char vec[256];
    if (pages > sizeof vec || mincore((void *)heap, pages * (size_t)page, vec))
        return 1;
    unsigned long resident = 0;
    for (size_t i = 0; i < pages; i++)
        resident += vec[i] & 1;
    printf("heap-struct%s%s resident %lu of %lu\n", *then ? "-" : "", then,
           resident * (unsigned long)page >> 10, (unsigned long)(heap_end - heap) >> 10);
    for (int i = 0; i < n; i++)
        free(block[i]);
    return 0;
}

/* footprint_probe thread: a thread that mallocs and frees a few blocks, then exits. */
static void *exiting_thread(void *arg)
{
    for (int i = 0; i < 64; i++)
        free(malloc((size_t)(16 << (i % 8))));
    return arg;
}

/* dl_iterate_phdr: the end of the library's writable segment (its .bss) in `data`. */
static int find_bss_end(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    if (!info->dlpi_name || !strstr(info->dlpi_name, "libnumapreload"))
        return 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_W))
            *(unsigned long *)data = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
    }
    return 1;
}

/*
 * KiB of [start, end) that are pages of this process's own (pagemap: present
 * and exclusively mapped; the shared zero page is neither). The .bss mapping
 * is counted this way, up to the end of the library's segment: the kernel
 * merges it with an anonymous mapping that follows when their ends meet (the
 * loader's, at some load addresses: 2 runs in 30 counted 16 KiB more), whose
 * pages are not the library's.
 */
static unsigned long written_kib(unsigned long start, unsigned long end)
{
    long page = sysconf(_SC_PAGESIZE);
    int fd = open("/proc/self/pagemap", O_RDONLY);
    if (fd < 0) {
        fprintf(stderr, "footprint_probe: /proc/self/pagemap: cannot read it\n");
        exit(3);
    }
    unsigned long kib = 0;
    for (unsigned long at = start; at < end; at += (unsigned long)page) {
        uint64_t entry;
        if (pread(fd, &entry, sizeof entry, (off_t)(at / (unsigned long)page * sizeof entry)) !=
            (ssize_t)sizeof entry) {
            fprintf(stderr, "footprint_probe: /proc/self/pagemap: short read\n");
            exit(3);
        }
        if ((entry >> 63 & 1) && (entry >> 56 & 1))
            kib += (unsigned long)page / 1024;
    }
    close(fd);
    return kib;
}

/*
 * Pages the blocks of one of each class from 513 B to 4 KiB (the young
 * arena's sizes, core/young_arena.h), 16 bytes written into each, lie on:
 * the union of the pages of [block, block + usable). *bytes: their usable
 * bytes; returns the classes, or -1.
 */
static int mid_size_pages(unsigned long *pages, unsigned long *bytes)
{
    enum { MAX_BLOCKS = 64 };
    static uintptr_t first[MAX_BLOCKS], last[MAX_BLOCKS];
    void *block[MAX_BLOCKS];
    long page = sysconf(_SC_PAGESIZE);
    int n = 0;
    *bytes = 0;
    for (size_t size = 513; size <= 4096 && n < MAX_BLOCKS; n++) {
        if (!(block[n] = malloc(size)))
            return -1;
        memset(block[n], 1, 16);
        size_t usable = malloc_usable_size(block[n]);
        first[n] = (uintptr_t)block[n] / (uintptr_t)page;
        last[n] = ((uintptr_t)block[n] + usable - 1) / (uintptr_t)page;
        *bytes += usable;
        size = usable + 1; /* the next class */
    }
    *pages = 0;
    for (int i = 0; i < n; i++) /* each page once: those no earlier block covered */
        for (uintptr_t p = first[i]; p <= last[i]; p++) {
            bool seen = false;
            for (int j = 0; j < i && !seen; j++)
                seen = p >= first[j] && p <= last[j];
            *pages += !seen;
        }
    for (int i = 0; i < n; i++)
        free(block[i]);
    return n;
}

/*
 * footprint_probe young-arena: a young program's mid-size blocks share
 * pages (core/young_arena.h): one block of each class from 513 B to 4 KiB,
 * the pages they lie on; then the same once malloc_trim(0) closed the
 * arena, where each class has a slab of its own:
 *
 *   young-arena pages P bytes KIB closed-pages Q classes N
 */
static int young_arena(void)
{
    unsigned long pages, bytes, closed_pages, closed_bytes;
    int n = mid_size_pages(&pages, &bytes);
    malloc_trim(0);
    if (n < 0 || mid_size_pages(&closed_pages, &closed_bytes) != n)
        return 1;
    printf("young-arena pages %lu bytes %lu closed-pages %lu classes %d\n", pages, bytes >> 10,
           closed_pages, n);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "young-arena") == 0)
        return young_arena();
    if (argc > 1 && strcmp(argv[1], "heap-struct") == 0)
        return heap_struct("");
    if (argc > 1 && strcmp(argv[1], "heap-struct-fork") == 0)
        return heap_struct("fork");
    if (argc > 1 && strcmp(argv[1], "heap-struct-trim") == 0)
        return heap_struct("trim");
    if (argc > 1 && strcmp(argv[1], "heap-struct-check") == 0)
        return heap_struct("check");
    if (argc > 1 && strcmp(argv[1], "spread-slabs") == 0)
        return spread_slabs();
    if (argc > 1 && strcmp(argv[1], "lone-tails") == 0)
        return lone_tails(false);
    if (argc > 1 && strcmp(argv[1], "lone-tails-after-thread") == 0)
        return lone_tails(true);
    if (argc > 1 && strcmp(argv[1], "idle-shards-fork") == 0)
        return idle_shards_fork();
    if (argc > 1 && strcmp(argv[1], "idle-shards") == 0)
        return idle_shards();
    if (argc > 1 && strcmp(argv[1], "many-threads") == 0)
        return many_threads();
    if (argc > 1 && strcmp(argv[1], "short-threads") == 0)
        return short_threads();
    if (argc > 1 && strcmp(argv[1], "young") == 0)
        return young();
    if (argc > 1 && strcmp(argv[1], "young-huge") == 0)
        return young_block("young-huge", (size_t)16 << 20);
    if (argc > 1 && strcmp(argv[1], "young-large") == 0)
        return young_block("young-large", (size_t)1 << 20);
    if (argc > 1 && strcmp(argv[1], "young-slabs") == 0)
        return young_slabs();
    int blocks = argc > 1 ? atoi(argv[1]) : 0;
    if (argc > 1 && strcmp(argv[1], "thread") == 0) {
        pthread_t thread;
        if (pthread_create(&thread, NULL, exiting_thread, NULL) != 0 ||
            pthread_join(thread, NULL) != 0)
            return 1;
    }
    for (int i = 0; i < blocks; i++) {
        volatile char *p = malloc((size_t)(16 << (i % 8)));
        if (p)
            p[0] = 1; /* kept: a live program's blocks */
    }
    unsigned long bss_end = 0;
    dl_iterate_phdr(find_bss_end, &bss_end);
    int fd = open("/proc/self/smaps", O_RDONLY);
    if (fd < 0)
        return 2;
    size_t len = 0;
    ssize_t got;
    while (len < sizeof smaps - 1 && (got = read(fd, smaps + len, sizeof smaps - 1 - len)) > 0)
        len += (size_t)got;
    close(fd);
    smaps[len] = '\0';

    /* A mapping's header line: "start-end perms offset dev inode [path]". */
    unsigned long dirty = 0, rss = 0, text = 0, rodata = 0, data = 0, head = 0, prev_end = 0,
                  lib_end = 0;
    unsigned long map_rss = 0;
    int ours = 0, exec = 0, seen = 0, past_exec = 0, read_only = 0, writable = 0, bss = 0,
        before_exec = 0;
    for (char *line = smaps, *next; *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        else
            next = line + strlen(line);
        char *dash = strchr(line, '-'), *space = strchr(line, ' ');
        if (dash && space && dash < space && line[0] != ' ' &&
            strchr("0123456789abcdef", line[0])) {
            unsigned long start = strtoul(line, NULL, 16), end = strtoul(dash + 1, NULL, 16);
            int named = strchr(line, '/') != NULL;
            ours = strstr(line, "libnumapreload") != NULL;
            exec = ours && space[3] == 'x';
            past_exec |= exec;
            read_only = ours && !exec && past_exec && space[2] != 'w';
            before_exec = ours && !past_exec;
            writable = ours && space[2] == 'w';
            bss = 0;
            if (ours) {
                seen = 1;
                lib_end = end;
            } else if (!named && lib_end && start == lib_end && prev_end == lib_end) {
                ours = 1; /* .bss: the anonymous mapping right after the library's last one */
                lib_end = 0;
                bss = 1;
                dirty += written_kib(start, bss_end && bss_end < end ? bss_end : end);
            } else {
                lib_end = 0;
            }
            prev_end = end;
            continue;
        }
        unsigned long v;
        if (!ours)
            continue;
        if ((v = field(line, "Anonymous:")) != (unsigned long)-1) {
            dirty += bss ? 0 : v; /* .bss: counted by written_kib */
            if (read_only)
                rodata += map_rss - v; /* smaps gives Rss before Anonymous */
        } else if ((v = field(line, "Rss:")) != (unsigned long)-1) {
            rss += v;
            map_rss = v;
            if (exec)
                text += v;
            if (writable)
                data += v;
            if (before_exec)
                head += v;
        }
    }
    if (!seen)
        return 2;
    printf("dirty %lu rss %lu text %lu rodata %lu data %lu head %lu\n", dirty, rss, text, rodata,
           data, head);
    return 0;
}
