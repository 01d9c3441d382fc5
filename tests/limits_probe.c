/*
 * limits_probe.c MODE [ARG] - the malloc family under address-space and data
 * limits; run by test_limits.sh, with and without the preload (not linked
 * with numapreload). Exits 0 and prints one line when MODE's checks hold.
 *
 *   vmsize        malloc(64) and free 100 times, then prints the process's
 *                 VmSize in KiB without malloc; exits 3 if a malloc failed
 *   vmdata        the same with VmData
 *   basic         every entry point once: results, contents, alignment, usable size
 *                 (numa_malloc too when the library is preloaded)
 *   fill MB       one block of MB megabytes (10^6), filled, checked, freed
 *   exhaust MIB   1 MiB blocks, then 64-byte blocks, until malloc returns NULL:
 *                 errno must be ENOMEM, at least MIB MiB must have come first,
 *                 and after freeing them malloc works again
 *   share PCT ORDER BASE  of the address space the limit leaves a program of
 *                 VmSize BASE KiB (the probe without the library: what glibc
 *                 leaves), less 8 MiB for the library's own mappings, PCT
 *                 percent mapped by the program itself (mmap) and
 *                 100 - PCT - 15 percent taken from malloc in 128 KiB blocks,
 *                 each written; ORDER "map" maps first, "malloc" mallocs first.
 *                 Under glibc both share what is left as they come.
 *   lower MIB setrlimit|prlimit  sets its own RLIMIT_AS to MIB MiB after the
 *                 start (as Python's resource.setrlimit does), then starts a
 *                 thread, maps 64 MiB and mallocs 64 MiB in 1 MiB blocks, one
 *                 block of 100 MB, a 4 MiB-aligned block of 16 MiB and a block
 *                 of 32 MiB, each written, and grows the last two by realloc
 *   lower-busy MIB  the same limit set while 4 threads allocate, write, check
 *                 and free blocks of 16 B to 8 MiB (some aligned up to 4 MiB)
 *   charge KIB    KIB KiB in small blocks (16 B to 4 KiB) and a quarter more in
 *                 large ones (64 KiB), each written, checked and freed: a small
 *                 program's heap, run under `ulimit -d` to find its commit charge
 *   huge-charge N N blocks of 4200 KiB (huge: two segments), written, then each grown
 *                 by realloc to 7000 KiB (in place) and written again: prints how
 *                 much VmData grew in KiB after each step ("allocated A grown G")
 *   huge-maps N   N blocks of 3 MiB (huge: one segment each), not written: prints how
 *                 many mappings /proc/self/maps gained ("mappings M")
 *   shard-reuse   the heap's memory spent (RLIMIT_DATA lowered, then the probe's
 *                 own mappings until refused) while 18750 blocks of 64 B that a
 *                 live thread freed lie in its slabs and an exited thread left
 *                 empty slabs of 8 KiB and 2 KiB blocks: then 15000 mallocs of
 *                 64 B, one of 8 KiB and one of 3000 B must all succeed, as
 *                 under glibc
 *   large-reuse   an exited thread left an empty slab of each class of 16 to
 *                 32 KiB (1.8 MiB of pages); the data limit then spent by the
 *                 probe's own mappings: a malloc of 1 MiB must succeed (the
 *                 spare slabs give their pages back, as glibc's freed chunks
 *                 coalesce)
 *   away-spent    a thread frees another live thread's block of 64 B, its first
 *                 such free, while no block of 1-2 KiB can be had (the data
 *                 limit spent, then malloc of 2048 down to 1024 B until NULL):
 *                 without room for its away lists the block goes back to its
 *                 slab, which the owner's mallocs until NULL must hand out again
 *   names         glibc's other names (__libc_malloc, __libc_free, cfree, ...)
 *                 crossed with the public ones; prints which object defines
 *                 __libc_malloc and malloc(1)'s usable size (whose heap served)
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "limits_probe: FAIL: " __VA_ARGS__);                                       \
        fputc('\n', stderr);                                                                       \
        exit(1);                                                                                   \
    } while (0)

/*
 * Tries malloc(64) 100 times, then prints a field of /proc/self/statm in KiB
 * (0: address space, VmSize; 5: data, VmData) with read and write only, as
 * malloc may not work; exits 3 if a malloc failed.
 */
static int statm_field(int index)
{
    int failed = 0;
    for (int i = 0; i < 100; i++) {
        void *p = malloc(64);
        failed |= p == NULL;
        free(p);
    }
    char buf[256] = {0}, line[32];
    int fd = open("/proc/self/statm", O_RDONLY);
    if (fd < 0 || read(fd, buf, sizeof buf - 1) <= 0)
        return 1;
    close(fd);
    char *at = buf;
    for (; index > 0; index--)
        at = strchr(at, ' ') + 1;
    int len = snprintf(line, sizeof line, "%ld\n", strtol(at, NULL, 10) * 4);
    if (write(1, line, (size_t)len) != len)
        return 1;
    return failed ? 3 : 0;
}

static void check_block(void *p, size_t n, size_t alignment, const char *what)
{
    if (!p)
        FAIL("%s(%zu) returned NULL: %s", what, n, strerror(errno));
    if ((uintptr_t)p % alignment)
        FAIL("%s: %p not aligned to %zu", what, p, alignment);
    if (malloc_usable_size(p) < n)
        FAIL("%s: usable size %zu < %zu", what, malloc_usable_size(p), n);
    memset(p, 0x5a, n);
}

static int basic(void)
{
    /* calloc over a freed, dirtied block (the C library reuses it) still reads zero; above
     * 32 KiB, where calloc is not a malloc and a memset of ours but the C library's calloc. */
    enum { REUSED = 100000 };
    char *dirty = malloc(REUSED), *guard = malloc(16);
    check_block(dirty, REUSED, 16, "malloc");
    free(dirty);
    char *again = calloc(REUSED, 1);
    check_block(again, 0, 16, "calloc");
    for (size_t i = 0; i < REUSED; i++)
        if (again[i])
            FAIL("calloc over a freed block: byte %zu not zero", i);
    free(again);
    free(guard);
    void *p = malloc(100);
    check_block(p, 100, 16, "malloc");
    char *z = calloc(1000, 10);
    check_block(z, 0, 16, "calloc");
    for (size_t i = 0; i < 10000; i++)
        if (z[i])
            FAIL("calloc: byte %zu not zero", i);
    char *r = realloc(p, 50000);
    if (!r || r[0] != 0x5a || r[99] != 0x5a)
        FAIL("realloc lost the contents");
    check_block(r, 50000, 16, "realloc");
    r = reallocarray(r, 100, 3);
    check_block(r, 300, 16, "reallocarray");
    void *a = NULL;
    if (posix_memalign(&a, 256, 1000) != 0)
        FAIL("posix_memalign failed");
    check_block(a, 1000, 256, "posix_memalign");
    void *b = aligned_alloc(4096, 8192);
    check_block(b, 8192, 4096, "aligned_alloc");
    void *m = memalign(64, 100);
    check_block(m, 100, 64, "memalign");
    void *v = valloc(10);
    check_block(v, 10, 4096, "valloc");
    /* pvalloc rounds up to whole pages: glibc's memalign(4096, 4097) has fewer */
    void *pv = pvalloc(4097);
    check_block(pv, 8192, 4096, "pvalloc");
    void *big = malloc(3 << 20);
    check_block(big, 3 << 20, 16, "malloc (3 MiB)");
    if (realloc(z, 0) != NULL)
        FAIL("realloc(p, 0) did not free");
    free(r);
    free(a);
    free(b);
    free(m);
    free(v);
    free(pv);
    free(big);
    free(NULL);
    free(realloc(NULL, 10));
    malloc_trim(0);
    /* The explicit API, when numa-alloc is preloaded: served even after a failed start. */
    void *(*numa_malloc)(int, size_t) = (void *(*)(int, size_t))dlsym(RTLD_DEFAULT, "numa_malloc");
    if (numa_malloc) {
        void *n = numa_malloc(0, 5000);
        check_block(n, 5000, 16, "numa_malloc");
        free(n);
    }
    printf("basic ok%s\n", numa_malloc ? " (numa_malloc too)" : "");
    return 0;
}

static int fill(long mb)
{
    size_t n = (size_t)mb * 1000 * 1000;
    unsigned char *p = malloc(n);
    if (!p)
        FAIL("malloc(%zu) returned NULL: %s", n, strerror(errno));
    memset(p, 0xa5, n);
    for (size_t i = 0; i < n; i += 4096)
        if (p[i] != 0xa5)
            FAIL("byte %zu lost", i);
    free(p);
    printf("filled %ld MB\n", mb);
    return 0;
}

struct block {
    struct block *next;
};

static long vmdata_kib(void)
{
    char buf[4096] = {0};
    int fd = open("/proc/self/status", O_RDONLY);
    if (fd < 0 || read(fd, buf, sizeof buf - 1) <= 0)
        FAIL("cannot read /proc/self/status");
    close(fd);
    const char *at = strstr(buf, "VmData:");
    return at ? strtol(at + 7, NULL, 10) : -1;
}

static long count_mappings(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f)
        FAIL("cannot open /proc/self/maps");
    long lines = 0;
    for (int c; (c = fgetc(f)) != EOF;)
        lines += c == '\n';
    fclose(f);
    return lines;
}

static int huge_maps(long n)
{
    enum { MAX = 4096 };
    static void *blocks[MAX];
    if (n < 1 || n > MAX)
        FAIL("huge-maps: 1 to %d blocks", MAX);
    long before = count_mappings();
    for (long i = 0; i < n; i++)
        if (!(blocks[i] = malloc((size_t)3 << 20)))
            FAIL("malloc(3 MiB) #%ld returned NULL: %s", i, strerror(errno));
    long after = count_mappings();
    for (long i = 0; i < n; i++)
        free(blocks[i]);
    printf("mappings %ld\n", after - before);
    return 0;
}

static int huge_charge(long n)
{
    enum { MAX = 64 };
    unsigned char *blocks[MAX];
    size_t first = (size_t)4200 << 10, grown = (size_t)7000 << 10;
    if (n < 1 || n > MAX)
        FAIL("huge-charge: 1 to %d blocks", MAX);
    long before = vmdata_kib();
    for (long i = 0; i < n; i++) {
        if (!(blocks[i] = malloc(first)))
            FAIL("malloc(%zu) returned NULL: %s", first, strerror(errno));
        memset(blocks[i], 0x68, first);
    }
    long allocated = vmdata_kib();
    for (long i = 0; i < n; i++) {
        unsigned char *p = realloc(blocks[i], grown);
        if (!p)
            FAIL("realloc(%zu) returned NULL: %s", grown, strerror(errno));
        if (p[first - 1] != 0x68)
            FAIL("realloc lost the block's bytes");
        memset(p, 0x69, grown);
        blocks[i] = p;
    }
    long after = vmdata_kib();
    for (long i = 0; i < n; i++)
        free(blocks[i]);
    printf("allocated %ld grown %ld\n", allocated - before, after - before);
    return 0;
}

/*
 * n blocks of 4200 KiB, written, grown out of place by realloc (a block
 * allocated after each stands in the way) to 9000 KiB, freed; then, the purge
 * delay past, one more huge block made and freed (purging rides on a heap's
 * slow paths). VmData (and the mappings) after the frees and after the purge,
 * against before: glibc unmaps the blocks at free.
 */
static int freed_charge(long n)
{
    enum { MAX = 64 };
    unsigned char *blocks[MAX], *walls[MAX];
    size_t first = (size_t)4200 << 10, grown = (size_t)9000 << 10;
    if (n < 1 || n > MAX)
        FAIL("freed-charge: 1 to %d blocks", MAX);
    long before = vmdata_kib(), maps_before = count_mappings();
    for (long i = 0; i < n; i++) {
        if (!(blocks[i] = malloc(first)) || !(walls[i] = malloc(first)))
            FAIL("malloc(%zu) returned NULL: %s", first, strerror(errno));
        memset(blocks[i], 0x70, first);
        memset(walls[i], 0x71, first);
    }
    for (long i = 0; i < n; i++) {
        unsigned char *p = realloc(blocks[i], grown);
        if (!p)
            FAIL("realloc(%zu) returned NULL: %s", grown, strerror(errno));
        if (p[first - 1] != 0x70)
            FAIL("realloc lost the block's bytes");
        memset(p, 0x72, grown);
        blocks[i] = p;
    }
    long peak = vmdata_kib();
    for (long i = 0; i < n; i++) {
        if (walls[i][first - 1] != 0x71)
            FAIL("a block lost its bytes");
        free(blocks[i]);
        free(walls[i]);
    }
    long freed = vmdata_kib();
    struct timespec pause = {1, 300 * 1000 * 1000}; /* past the default purge delay (1 s) */
    nanosleep(&pause, NULL);
    unsigned char *last = malloc(first);
    if (!last)
        FAIL("malloc(%zu) returned NULL: %s", first, strerror(errno));
    memset(last, 0x73, first);
    free(last);
    printf("peak %ld freed %ld purged %ld mappings %ld\n", peak - before, freed - before,
           vmdata_kib() - before, count_mappings() - maps_before);
    return 0;
}

/*
 * n blocks of 3 MiB (a segment each), every other one freed, then
 * malloc_trim: n / 2 free runs, each decommitted (three mappings where there
 * was one) until UNCOMMITTED_RUNS_MAX of them. The mappings added.
 */
static int freed_maps(long n)
{
    enum { MAX = 4096 };
    static void *blocks[MAX];
    if (n < 2 || n > MAX)
        FAIL("freed-maps: 2 to %d blocks", MAX);
    long before = count_mappings();
    for (long i = 0; i < n; i++)
        if (!(blocks[i] = malloc((size_t)3 << 20)))
            FAIL("malloc(3 MiB) #%ld returned NULL: %s", i, strerror(errno));
    for (long i = 0; i < n; i += 2)
        free(blocks[i]);
    malloc_trim(0);
    long after = count_mappings();
    for (long i = 1; i < n; i += 2)
        free(blocks[i]);
    printf("mappings %ld\n", after - before);
    return 0;
}

/*
 * `mib` MiB made after a small block (its segment first, as in most
 * programs), written and freed, then mapped by the program itself: glibc
 * unmapped the blocks at their free, and so must numa-alloc have given their
 * address space, or their charge, back. `held` (run under `ulimit -v`): in
 * blocks of 24 MiB, below the size that gets a mapping of its own under a
 * limit (OWN_MAPPING_UNDER_LIMIT), freed in turn: one free run that ends the
 * heap. `inside`: one block, with an 8 MiB one made after it and kept, so
 * that its run would not end the heap. `charged` (run under
 * vm.overcommit_memory=2): one block, and the program's mapping charged and
 * written. `lower`: one block, not written; RLIMIT_AS then set to 1.5 times
 * its size.
 */
static int freed_space(long mib, const char *how)
{
    enum { MAX_PIECES = 1024 };
    static char *piece[MAX_PIECES];
    size_t bytes = (size_t)mib << 20, piece_bytes = bytes, pieces = 1;
    bool lower = strcmp(how, "lower") == 0, charged = strcmp(how, "charged") == 0;
    bool inside = strcmp(how, "inside") == 0, held = strcmp(how, "held") == 0;
    if (mib < 1 || (!lower && !charged && !inside && !held))
        FAIL("freed-space: MIB held|inside|lower|charged");
    if (held) {
        piece_bytes = (size_t)24 << 20;
        pieces = (bytes + piece_bytes - 1) / piece_bytes;
        if (pieces > MAX_PIECES)
            FAIL("freed-space: at most %d MiB held", MAX_PIECES * 24);
    }
    char *small = malloc(100);
    if (!small)
        FAIL("malloc(100) returned NULL: %s", strerror(errno));
    for (size_t i = 0; i < pieces; i++) {
        if (!(piece[i] = lower ? calloc(1, piece_bytes) : malloc(piece_bytes)))
            FAIL("malloc(%zu MiB) #%zu returned NULL: %s", piece_bytes >> 20, i, strerror(errno));
        if (!lower)
            memset(piece[i], 0x5a, piece_bytes);
    }
    char *after = inside ? malloc((size_t)8 << 20) : NULL;
    if (inside && !after)
        FAIL("malloc(8 MiB) returned NULL: %s", strerror(errno));
    if (after)
        memset(after, 0x5c, (size_t)8 << 20);
    for (size_t i = 0; i < pieces; i++)
        free(piece[i]);
    if (lower) {
        struct rlimit limit = {(rlim_t)bytes / 2 * 3, RLIM_INFINITY};
        if (setrlimit(RLIMIT_AS, &limit) != 0)
            FAIL("setrlimit(RLIMIT_AS, %zu MiB): %s", (bytes / 2 * 3) >> 20, strerror(errno));
    }
    void *own = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | (charged ? 0 : MAP_NORESERVE), -1, 0);
    if (own == MAP_FAILED)
        FAIL("mmap(%ld MiB) after the blocks' free: %s", mib, strerror(errno));
    if (charged)
        memset(own, 0x5b, bytes);
    munmap(own, bytes);
    free(after);
    free(small);
    printf("mapped %ld MiB after the free\n", mib);
    return 0;
}

static int charge(long kib)
{
    enum { MAX_BLOCKS = 1 << 16 };
    static unsigned char *blocks[MAX_BLOCKS];
    static size_t sizes[MAX_BLOCKS];
    size_t small = 0, large = 0, n = 0, size = 16;
    while (n < MAX_BLOCKS && (small < (size_t)kib * 1024 || large < (size_t)kib * 256)) {
        bool is_small = small < (size_t)kib * 1024;
        size_t want = is_small ? size : 65536;
        if (!(blocks[n] = malloc(want)))
            FAIL("malloc(%zu) returned NULL after %zu bytes: %s", want, small + large,
                 strerror(errno));
        memset(blocks[n], (int)(n & 0xff), want);
        sizes[n++] = want;
        if (is_small) {
            small += want;
            size = size * 2 > 4096 ? 16 : size * 2;
        } else {
            large += want;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (blocks[i][0] != (i & 0xff) || blocks[i][sizes[i] - 1] != (i & 0xff))
            FAIL("block %zu (%zu bytes) lost its bytes", i, sizes[i]);
        free(blocks[i]);
    }
    printf("charged %zu small and %zu large bytes\n", small, large);
    return 0;
}

/* Takes blocks of `size` until NULL (or `max`); they stay linked from *list. */
static size_t take_until_null(struct block **list, size_t size, size_t max)
{
    size_t n = 0;
    errno = 0;
    for (; n < max; n++) {
        struct block *b = malloc(size);
        if (!b)
            break;
        memset(b, 1, size < 4096 ? size : 4096); /* commits the first page at least */
        b->next = *list;
        *list = b;
    }
    if (n == max)
        FAIL("%zu blocks of %zu bytes and still no NULL", n, size);
    if (errno != ENOMEM)
        FAIL("malloc(%zu) returned NULL with errno %d, not ENOMEM", size, errno);
    return n;
}

static void release(struct block *list)
{
    while (list) {
        struct block *next = list->next;
        free(list);
        list = next;
    }
}

static int exhaust(long min_mib)
{
    struct block *large = NULL, *small = NULL;
    size_t mib = take_until_null(&large, 1 << 20, (size_t)1 << 22);
    if (mib < (size_t)min_mib)
        FAIL("only %zu MiB before NULL (want %ld)", mib, min_mib);
    errno = 0;
    if (realloc(large, 64 << 20) != NULL || errno != ENOMEM)
        FAIL("realloc at the limit did not fail with ENOMEM");
    if (calloc(1, 64 << 20) != NULL || errno != ENOMEM)
        FAIL("calloc at the limit did not fail with ENOMEM");
    take_until_null(&small, 64, (size_t)1 << 26);
    release(small);
    release(large);
    void *again = malloc(1 << 20);
    if (!again)
        FAIL("no memory after freeing everything");
    free(again);
    printf("exhausted after %zu MiB with ENOMEM\n", mib);
    return 0;
}

static void *map_share(size_t bytes)
{
    char *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        FAIL("mmap of %zu MiB of the program's own refused: %s", bytes >> 20, strerror(errno));
    p[0] = p[bytes - 1] = 1;
    return p;
}

/*
 * Blocks of 128 KiB: 31 fill a 4 MiB segment's 1000 usable pages. (1 MiB blocks
 * take a third more address space than their bytes, three to a segment: under
 * a limit that is memory the program loses; docs/architecture.md.)
 */
#define SHARE_BLOCK ((size_t)128 << 10)

static struct block *malloc_share(size_t bytes)
{
    struct block *list = NULL;
    for (size_t got = 0; got < bytes; got += SHARE_BLOCK) {
        struct block *b = malloc(SHARE_BLOCK);
        if (!b)
            FAIL("malloc refused after %zu of %zu MiB: %s", got >> 20, bytes >> 20,
                 strerror(errno));
        memset(b, 7, SHARE_BLOCK);
        b->next = list;
        list = b;
    }
    return list;
}

static int share(long pct, const char *order, long base_kib)
{
    struct rlimit limit;
    if (getrlimit(RLIMIT_AS, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY)
        FAIL("share needs ulimit -v");
    size_t used = (size_t)base_kib * 1024 + ((size_t)8 << 20);
    if (pct < 1 || pct > 84 || base_kib <= 0 || limit.rlim_cur <= used)
        FAIL("share %ld: nothing to share", pct);
    size_t left = (size_t)limit.rlim_cur - used;
    size_t mapped = left / 100 * (size_t)pct, heap = left / 100 * (size_t)(100 - pct - 15);
    void *own;
    struct block *blocks;
    if (strcmp(order, "map") == 0) {
        own = map_share(mapped);
        blocks = malloc_share(heap);
    } else {
        blocks = malloc_share(heap);
        own = map_share(mapped);
    }
    release(blocks);
    munmap(own, mapped);
    printf("shared %zu MiB: %zu mapped, %zu from malloc\n", left >> 20, mapped >> 20, heap >> 20);
    return 0;
}

static void *thread_mallocs(void *arg)
{
    (void)arg;
    void *p = malloc(100000);
    if (p)
        memset(p, 3, 100000);
    return p;
}

static int lower(long mib, const char *how)
{
    struct rlimit limit = {(rlim_t)mib << 20, (rlim_t)mib << 20};
    int rc = strcmp(how, "prlimit") == 0 ? prlimit(0, RLIMIT_AS, &limit, NULL)
                                         : setrlimit(RLIMIT_AS, &limit);
    if (rc != 0)
        FAIL("%s(RLIMIT_AS, %ld MiB): %s", how, mib, strerror(errno));
    pthread_t thread;
    void *from_thread = NULL;
    if ((errno = pthread_create(&thread, NULL, thread_mallocs, NULL)) != 0)
        FAIL("no thread under the lowered limit: %s", strerror(errno));
    pthread_join(thread, &from_thread);
    if (!from_thread)
        FAIL("the thread's malloc failed");
    size_t own_bytes = (size_t)64 << 20;
    void *own = map_share(own_bytes);
    struct block *blocks = NULL;
    for (int i = 0; i < 64; i++) {
        struct block *b = malloc(1 << 20);
        if (!b)
            FAIL("malloc of 1 MiB block %d under the lowered limit: %s", i, strerror(errno));
        memset(b, 5, 1 << 20);
        b->next = blocks;
        blocks = b;
    }
    fill(100);
    /*
     * Blocks with mappings of their own, which the kernel places: an aligned
     * one, and a huge one grown out by realloc. Each must be what it was
     * asked to be (a mapping placed inside the heaps' range was read as a
     * segment of theirs: a usable size of 0).
     */
    size_t mib16 = (size_t)16 << 20;
    void *aligned = NULL;
    if ((errno = posix_memalign(&aligned, (size_t)4 << 20, mib16)) != 0)
        FAIL("posix_memalign(4 MiB, 16 MiB) under the lowered limit: %s", strerror(errno));
    char *grown = malloc(2 * mib16);
    if (!grown)
        FAIL("malloc(32 MiB) under the lowered limit: %s", strerror(errno));
    memset(aligned, 7, mib16);
    memset(grown, 9, 2 * mib16);
    if (malloc_usable_size(aligned) < mib16)
        FAIL("posix_memalign's 16 MiB block: usable size %zu", malloc_usable_size(aligned));
    aligned = realloc(aligned, 3 * mib16);
    grown = realloc(grown, 6 * mib16);
    if (!aligned || !grown)
        FAIL("realloc of a huge block under the lowered limit: %s", strerror(errno));
    if (malloc_usable_size(aligned) < 3 * mib16 || malloc_usable_size(grown) < 6 * mib16)
        FAIL("huge blocks grown by realloc: usable sizes %zu and %zu", malloc_usable_size(aligned),
             malloc_usable_size(grown));
    for (size_t at = 0; at < mib16; at += 4096)
        if (((char *)aligned)[at] != 7 || grown[2 * at] != 9)
            FAIL("a huge block's bytes changed at %zu when realloc grew it", at);
    free(aligned);
    free(grown);
    release(blocks);
    free(from_thread);
    munmap(own, own_bytes);
    printf("lowered to %ld MiB by %s: a thread, 64 MiB mapped, 64 MiB and 100 MB from malloc, "
           "huge blocks aligned and grown\n",
           mib, how);
    return 0;
}

/*
 * lower-busy: threads allocate, write, check and free blocks of every size
 * (16 B to 8 MiB, so that the heaps grow past their frontier and aligned
 * blocks get mappings of their own) while the main thread lowers the limit:
 * the give-back meets heaps in use. Each thread stops at its deadline; a
 * block whose bytes changed, or a NULL under the generous limit, fails.
 */
#define BUSY_THREADS 4
#define BUSY_LIVE    64

static volatile int busy_stop;

static size_t busy_size(unsigned *seed)
{
    *seed = *seed * 1103515245u + 12345u;
    unsigned r = *seed >> 8;
    switch (r % 4) {
    case 0:
        return 16 + r % 512;
    case 1:
        return 1024 + r % 65536;
    case 2:
        return (size_t)1 << 20 | (r % 4096);
    default:
        return ((size_t)2 << 20) + (r % (6u << 20));
    }
}

static void *busy_thread(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg * 2654435761u;
    unsigned char *live[BUSY_LIVE] = {0};
    size_t sizes[BUSY_LIVE] = {0};
    long failures = 0;
    for (unsigned round = 0; !busy_stop || round < 4 * BUSY_LIVE; round++) {
        unsigned i = round % BUSY_LIVE;
        if (live[i]) {
            unsigned char want = (unsigned char)(i + (uintptr_t)arg);
            if (live[i][0] != want || live[i][sizes[i] / 2] != want ||
                live[i][sizes[i] - 1] != want) {
                fprintf(stderr, "limits_probe: block %p of %zu bytes changed\n", (void *)live[i],
                        sizes[i]);
                failures++;
            }
            free(live[i]);
            live[i] = NULL;
        }
        size_t size = busy_size(&seed);
        void *p = NULL;
        if (seed & 0x100) {
            int rc = posix_memalign(&p, (size_t)4096 << (seed % 11), size);
            if (rc != 0) {
                p = NULL;
                errno = rc;
            }
        } else {
            p = malloc(size);
        }
        if (!p) {
            fprintf(stderr, "limits_probe: %s(%zu) failed: %s\n",
                    seed & 0x100 ? "posix_memalign" : "malloc", size, strerror(errno));
            failures++;
            continue;
        }
        live[i] = p;
        sizes[i] = size;
        memset(p, (int)(i + (uintptr_t)arg), size);
    }
    for (unsigned i = 0; i < BUSY_LIVE; i++)
        free(live[i]);
    return (void *)failures;
}

static int lower_busy(long mib)
{
    pthread_t threads[BUSY_THREADS];
    for (uintptr_t t = 0; t < BUSY_THREADS; t++)
        if ((errno = pthread_create(&threads[t], NULL, busy_thread, (void *)(t + 1))) != 0)
            FAIL("pthread_create: %s", strerror(errno));
    usleep(100000);
    struct rlimit limit = {(rlim_t)mib << 20, RLIM_INFINITY};
    if (setrlimit(RLIMIT_AS, &limit) != 0)
        FAIL("setrlimit(RLIMIT_AS, %ld MiB): %s", mib, strerror(errno));
    usleep(300000);
    busy_stop = 1;
    long failures = 0;
    for (int t = 0; t < BUSY_THREADS; t++) {
        void *f;
        pthread_join(threads[t], &f);
        failures += (long)f;
    }
    if (failures)
        FAIL("%ld blocks failed or changed while the limit was lowered", failures);
    printf("lowered to %ld MiB while %d threads allocated: every block intact\n", mib,
           BUSY_THREADS);
    return 0;
}

/*
 * raise-fill [MIB]: (MIB: the limit first lowered to MIB MiB after the start)
 * the soft limit raised to the hard one, unlimited, then the address space
 * filled with reservations of the program's own (PROT_NONE), 1 TiB at a
 * time, then halves down to 4 MiB, so that the kernel's next mappings can
 * only go into what is left, the heaps' unreserved ranges if any. After every
 * reservation an aligned block (4 MiB, 16 MiB: a mapping of its own) is asked
 * for, checked and grown by realloc. Last, the program's reservations within
 * the 1 GiB above a block of the heaps are given back, and an aligned block asked
 * for once more: the kernel puts it there, the only room left, and if that
 * room was the heaps' (a hole they left open) free() would take the block
 * for theirs. Each block must be what it was asked to be, or NULL (ENOMEM).
 */
static int check_own_mapping(size_t step)
{
    size_t mib16 = (size_t)16 << 20;
    void *p = NULL;
    int err = posix_memalign(&p, (size_t)4 << 20, mib16);
    if (err != 0) {
        if (err != ENOMEM)
            FAIL("posix_memalign(4 MiB, 16 MiB) at step %zu: %s", step, strerror(err));
        return 0;
    }
    ((char *)p)[0] = 1;
    ((char *)p)[mib16 - 1] = 1;
    if (malloc_usable_size(p) < mib16)
        FAIL("step %zu: an aligned block of 16 MiB at %p: usable size %zu", step, p,
             malloc_usable_size(p));
    void *q = realloc(p, 3 * mib16);
    if (q) {
        if (malloc_usable_size(q) < 3 * mib16 || ((char *)q)[0] != 1 || ((char *)q)[mib16 - 1] != 1)
            FAIL("step %zu: the aligned block grown to 48 MiB at %p: usable size %zu", step, q,
                 malloc_usable_size(q));
        p = q;
    }
    free(p);
    return 1;
}

#define FILL_MAX 8192

static int raise_fill(long mib)
{
    struct rlimit limit;
    if (mib > 0) {
        struct rlimit lowered = {(rlim_t)mib << 20, RLIM_INFINITY};
        if (setrlimit(RLIMIT_AS, &lowered) != 0)
            FAIL("setrlimit(RLIMIT_AS, %ld MiB): %s", mib, strerror(errno));
    }
    if (getrlimit(RLIMIT_AS, &limit) != 0 || limit.rlim_max != RLIM_INFINITY)
        FAIL("raise-fill needs a soft limit under an unlimited hard one (ulimit -Sv)");
    char *heap_block = malloc(64);
    if (!heap_block)
        FAIL("malloc(64): %s", strerror(errno));
    limit.rlim_cur = RLIM_INFINITY;
    if (setrlimit(RLIMIT_AS, &limit) != 0)
        FAIL("setrlimit(RLIMIT_AS, unlimited): %s", strerror(errno));
    static char *fill[FILL_MAX];
    static size_t fill_len[FILL_MAX];
    size_t steps = 0, served = 0, reserved = 0;
    for (size_t chunk = (size_t)1 << 40; chunk >= ((size_t)4 << 20); chunk /= 2) {
        void *p;
        while (steps < FILL_MAX &&
               (p = mmap(NULL, chunk, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1,
                         0)) != MAP_FAILED) {
            fill[steps] = p;
            fill_len[steps] = chunk;
            reserved += chunk;
            served += (size_t)check_own_mapping(steps++);
        }
    }
    size_t near = 0;
    for (size_t i = 0; i < steps; i++)
        if (fill[i] > heap_block && fill[i] + fill_len[i] <= heap_block + ((size_t)1 << 30)) {
            munmap(fill[i], fill_len[i]);
            near += fill_len[i];
        }
    served += (size_t)check_own_mapping(steps);
    printf("raised, %zu GiB reserved in %zu steps (%zu MiB of it above the heaps given back): "
           "%zu aligned blocks served, each right\n",
           reserved >> 30, steps, near >> 20, served);
    free(heap_block);
    return 0;
}

/* glibc's __libc_ names, looked up: cfree is a compatibility symbol the linker does not bind. */
static void *named(const char *name)
{
    void *fn = dlsym(RTLD_DEFAULT, name);
    if (!fn)
        FAIL("%s not found", name);
    return fn;
}

static int names(void)
{
    void *(*libc_malloc)(size_t) = (void *(*)(size_t))named("__libc_malloc");
    void (*libc_free)(void *) = (void (*)(void *))named("__libc_free");
    void *(*libc_calloc)(size_t, size_t) = (void *(*)(size_t, size_t))named("__libc_calloc");
    void *(*libc_realloc)(void *, size_t) = (void *(*)(void *, size_t))named("__libc_realloc");
    void *(*libc_memalign)(size_t, size_t) = (void *(*)(size_t, size_t))named("__libc_memalign");
    void (*old_free)(void *) = (void (*)(void *))dlsym(RTLD_DEFAULT, "cfree"); /* glibc: none */
    char *p = malloc(100);
    check_block(p, 100, 16, "malloc");
    libc_free(p);
    char *q = libc_malloc(100);
    check_block(q, 100, 16, "__libc_malloc");
    q = realloc(q, 5000);
    if (!q || q[0] != 0x5a || q[99] != 0x5a)
        FAIL("realloc of __libc_malloc's block lost its contents");
    free(q);
    char *r = malloc(50);
    check_block(r, 50, 16, "malloc");
    r = libc_realloc(r, 70000);
    if (!r || r[0] != 0x5a || r[49] != 0x5a)
        FAIL("__libc_realloc of malloc's block lost its contents");
    (old_free ? old_free : libc_free)(r);
    char *z = libc_calloc(1000, 10);
    check_block(z, 0, 16, "__libc_calloc");
    for (size_t i = 0; i < 10000; i++)
        if (z[i])
            FAIL("__libc_calloc: byte %zu not zero", i);
    free(z);
    void *m = libc_memalign(4096, 100);
    check_block(m, 100, 4096, "__libc_memalign");
    libc_free(m);
    Dl_info where;
    if (!dladdr((void *)libc_malloc, &where) || !where.dli_fname)
        FAIL("dladdr(__libc_malloc) failed");
    const char *slash = strrchr(where.dli_fname, '/');
    void *one = malloc(1);
    size_t usable = malloc_usable_size(one);
    free(one);
    printf("names ok: __libc_malloc from %s, malloc(1) usable %zu\n",
           slash ? slash + 1 : where.dli_fname, usable);
    return 0;
}

/*
 * lock current|future: mlockall (MCL_CURRENT, or with MCL_FUTURE too) under
 * the RLIMIT_MEMLOCK the caller set, as a user without CAP_IPC_LOCK: it must
 * pass where glibc's malloc passes (the heaps' reservation counted against
 * the limit and failed it). Then a thread, 32 MiB of blocks and huge blocks
 * aligned and grown, all locked (VmLck); then munlockall and 100 MB more,
 * and after MCL_FUTURE the address space filled (raise-fill), by a child
 * forked while locked and by the process after munlockall.
 */
static long status_kib(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    size_t len = strlen(field);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, field, len) == 0 && line[len] == ':')
            kib = strtol(line + len + 1, NULL, 10);
    if (f)
        fclose(f);
    return kib;
}

static int lock(const char *which)
{
    int flags = strcmp(which, "future") == 0 ? MCL_CURRENT | MCL_FUTURE : MCL_CURRENT;
    if (mlockall(flags) != 0)
        FAIL("mlockall(%s): %s (VmSize %ld KiB)", which, strerror(errno), status_kib("VmSize"));
    pthread_t thread;
    void *from_thread = NULL;
    if ((errno = pthread_create(&thread, NULL, thread_mallocs, NULL)) != 0)
        FAIL("no thread after mlockall: %s", strerror(errno));
    pthread_join(thread, &from_thread);
    if (!from_thread)
        FAIL("the thread's malloc failed after mlockall");
    struct block *blocks = NULL;
    for (int i = 0; i < 32; i++) {
        struct block *b = malloc(1 << 20);
        if (!b)
            FAIL("malloc of 1 MiB block %d after mlockall(%s): %s", i, which, strerror(errno));
        memset(b, 5, 1 << 20);
        b->next = blocks;
        blocks = b;
    }
    size_t mib8 = (size_t)8 << 20;
    void *aligned = NULL;
    if ((errno = posix_memalign(&aligned, (size_t)4 << 20, mib8)) != 0)
        FAIL("posix_memalign(4 MiB, 8 MiB) after mlockall: %s", strerror(errno));
    char *grown = malloc(mib8);
    if (!grown)
        FAIL("malloc(8 MiB) after mlockall: %s", strerror(errno));
    grown = realloc(grown, 3 * mib8);
    if (!grown || malloc_usable_size(aligned) < mib8 || malloc_usable_size(grown) < 3 * mib8)
        FAIL("huge blocks after mlockall: %s", strerror(errno));
    memset(aligned, 7, mib8);
    memset(grown, 9, 3 * mib8);
    long locked = status_kib("VmLck");
    if (flags & MCL_FUTURE) {
        /* A fork's child is not locked: its heaps' ranges given back are theirs again. */
        fflush(stdout);
        pid_t child = fork();
        if (child == 0)
            _exit(raise_fill(0) | fflush(stdout));
        int status;
        if (child < 0 || waitpid(child, &status, 0) != child || !WIFEXITED(status) ||
            WEXITSTATUS(status) != 0)
            FAIL("the locked parent's child filling the address space failed (status %d)", status);
    }
    free(aligned);
    free(grown);
    release(blocks);
    free(from_thread);
    if (munlockall() != 0)
        FAIL("munlockall: %s", strerror(errno));
    fill(100);
    printf("mlockall(%s): a thread, 32 MiB of blocks, huge blocks aligned and grown, %ld MiB "
           "locked; after munlockall 100 MB\n",
           which, locked >> 10);
    /* Unlocked, the heaps' ranges given back are theirs again: the kernel maps none inside. */
    return flags & MCL_FUTURE ? raise_fill(0) : 0;
}

/* Maps private writable memory (which RLIMIT_DATA counts) until refused: the KiB mapped. */
static size_t map_until_refused(void)
{
    size_t kib = 0;
    for (size_t chunk = (size_t)1 << 20; chunk >= 4096; chunk >>= 1)
        while (mmap(NULL, chunk, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) !=
               MAP_FAILED)
            kib += chunk >> 10;
    return kib;
}

#define REUSE_BLOCKS 20000 /* 1.25 MiB: more than the empty slabs' pages could make */
#define REUSE_TAKEN  15000 /* of the 18750 freed */

static pthread_barrier_t reuse_freed, reuse_done;

/*
 * Allocates the 64-byte blocks and frees them itself but every 16th, which
 * keeps each slab from emptying, and lives until the end: its bins keep a
 * few of the freed blocks, its shard's slabs the others (not parked).
 */
static void *reuse_owner(void *arg)
{
    (void)arg;
    static void *blocks[REUSE_BLOCKS];
    for (int i = 0; i < REUSE_BLOCKS; i++)
        if (!(blocks[i] = malloc(64)))
            FAIL("shard-reuse: malloc(64) before the limit");
    for (int i = 0; i < REUSE_BLOCKS; i++)
        if (i % 16)
            free(blocks[i]);
    pthread_barrier_wait(&reuse_freed);
    pthread_barrier_wait(&reuse_done);
    return NULL;
}

/* Leaves its shard an empty slab of 8 KiB blocks and one of 2 KiB blocks, and exits. */
static void *reuse_spares(void *arg)
{
    (void)arg;
    void *p[40];
    for (int i = 0; i < 40; i++)
        if (!(p[i] = malloc(i < 8 ? 8192 : 2048)))
            FAIL("shard-reuse: malloc before the limit");
    for (int i = 0; i < 40; i++)
        free(p[i]);
    return NULL;
}

static int shard_reuse(void)
{
    pthread_t owner, spares;
    if (pthread_barrier_init(&reuse_freed, NULL, 2) || pthread_barrier_init(&reuse_done, NULL, 2) ||
        pthread_create(&spares, NULL, reuse_spares, NULL) || pthread_join(spares, NULL) ||
        pthread_create(&owner, NULL, reuse_owner, NULL))
        FAIL("shard-reuse: threads");
    pthread_barrier_wait(&reuse_freed);
    long data = vmdata_kib();
    struct rlimit limit = {(rlim_t)(data + 1024) << 10, (rlim_t)(data + 1024) << 10};
    if (data <= 0 || setrlimit(RLIMIT_DATA, &limit))
        FAIL("shard-reuse: setrlimit(RLIMIT_DATA)");
    size_t mapped = map_until_refused(); /* not by malloc, whose failure releases the spares */
    for (int i = 0; i < REUSE_TAKEN; i++)
        if (!malloc(64))
            FAIL("shard-reuse: malloc(64) number %d refused (errno %d) with %d free in another "
                 "thread's slabs",
                 i + 1, errno, REUSE_BLOCKS - REUSE_BLOCKS / 16);
    if (!malloc(8192))
        FAIL("shard-reuse: malloc(8192) refused beside another shard's empty slab of its class");
    if (!malloc(3000))
        FAIL("shard-reuse: malloc(3000) refused beside another shard's empty slab of 2 KiB");
    pthread_barrier_wait(&reuse_done);
    pthread_join(owner, NULL);
    printf("shard-reuse: %d blocks of 64 B, one of 8 KiB and one of 3000 B after %zu KiB "
           "mapped to the limit\n",
           REUSE_TAKEN, mapped);
    return 0;
}

/* Leaves its shard an empty slab of each class of 16 to 32 KiB blocks (8 blocks a slab), and exits.
 */
static void *large_reuse_spares(void *arg)
{
    (void)arg;
    void *p[9][8];
    for (int c = 0; c < 9; c++)
        for (int i = 0; i < 8; i++)
            if (!(p[c][i] = malloc((size_t)(16 + 2 * c) << 10)))
                FAIL("large-reuse: malloc before the limit");
    for (int c = 0; c < 9; c++)
        for (int i = 0; i < 8; i++)
            free(p[c][i]);
    return NULL;
}

static int large_reuse(void)
{
    pthread_t spares;
    if (pthread_create(&spares, NULL, large_reuse_spares, NULL) || pthread_join(spares, NULL))
        FAIL("large-reuse: thread");
    long data = vmdata_kib();
    struct rlimit limit = {(rlim_t)(data + 4096) << 10, (rlim_t)(data + 4096) << 10};
    if (data <= 0 || setrlimit(RLIMIT_DATA, &limit))
        FAIL("large-reuse: setrlimit(RLIMIT_DATA)");
    size_t mapped = map_until_refused();
    char *block = malloc((size_t)1 << 20);
    if (!block)
        FAIL("large-reuse: malloc(1 MiB) refused (errno %d) beside 9 empty slabs of 16-32 KiB "
             "blocks, the limit spent by %zu KiB of the probe's mappings",
             errno, mapped);
    memset(block, 1, (size_t)1 << 20);
    printf("large-reuse: 1 MiB after %zu KiB mapped to the limit\n", mapped);
    return 0;
}

#define AWAY_BLOCKS 256

static void *away_blocks[AWAY_BLOCKS];
static pthread_barrier_t away_step;
static bool away_found;
static size_t away_taken;

/* Allocates blocks of 64 B, then after the other thread's free takes blocks until NULL. */
static void *away_owner(void *arg)
{
    (void)arg;
    for (int i = 0; i < AWAY_BLOCKS; i++)
        if (!(away_blocks[i] = malloc(64)))
            FAIL("away-spent: malloc(64) before the limit");
    pthread_barrier_wait(&away_step); /* 1: made */
    pthread_barrier_wait(&away_step); /* 2: the memory spent */
    pthread_barrier_wait(&away_step); /* 3: one freed by the other thread */
    for (void *p; (p = malloc(64)) != NULL && away_taken < ((size_t)1 << 24); away_taken++)
        away_found |= p == away_blocks[0];
    pthread_barrier_wait(&away_step); /* 4: taken */
    return NULL;
}

/* Has its own cache (one malloc), then frees one of the owner's blocks: its first such free. */
static void *away_freer(void *arg)
{
    (void)arg;
    void *own = malloc(16);
    pthread_barrier_wait(&away_step); /* 1 */
    pthread_barrier_wait(&away_step); /* 2 */
    free(away_blocks[0]);
    pthread_barrier_wait(&away_step); /* 3 */
    pthread_barrier_wait(&away_step); /* 4 */
    free(own);
    return NULL;
}

static int away_spent(void)
{
    pthread_t owner, freer;
    if (pthread_barrier_init(&away_step, NULL, 3) ||
        pthread_create(&owner, NULL, away_owner, NULL) ||
        pthread_create(&freer, NULL, away_freer, NULL))
        FAIL("away-spent: threads");
    pthread_barrier_wait(&away_step); /* 1 */
    long data = vmdata_kib();
    struct rlimit limit = {(rlim_t)(data + 1024) << 10, (rlim_t)(data + 1024) << 10};
    if (data <= 0 || setrlimit(RLIMIT_DATA, &limit))
        FAIL("away-spent: setrlimit(RLIMIT_DATA)");
    size_t mapped = map_until_refused();
    size_t held = 0;
    for (size_t size = 2048; size >= 1024; size -= 128)
        for (void *p; (p = malloc(size)) != NULL; held++)
            if (held > ((size_t)1 << 20))
                FAIL("away-spent: malloc(%zu) never refused under the limit", size);
    pthread_barrier_wait(&away_step); /* 2 */
    pthread_barrier_wait(&away_step); /* 3 */
    pthread_barrier_wait(&away_step); /* 4 */
    pthread_join(owner, NULL);
    pthread_join(freer, NULL);
    if (!away_found)
        FAIL("away-spent: the block freed by another thread without room for its away lists "
             "was not handed out again (%zu blocks of 64 B taken after it)",
             away_taken);
    printf("away-spent: the block came back among %zu of 64 B (%zu KiB mapped, %zu blocks of 1-2 "
           "KiB held)\n",
           away_taken, mapped, held);
    return 0;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    long arg = argc > 2 ? strtol(argv[2], NULL, 10) : 0;
    if (strcmp(mode, "vmsize") == 0)
        return statm_field(0);
    if (strcmp(mode, "vmdata") == 0)
        return statm_field(5);
    if (strcmp(mode, "basic") == 0)
        return basic();
    if (strcmp(mode, "fill") == 0)
        return fill(arg);
    if (strcmp(mode, "exhaust") == 0)
        return exhaust(arg);
    if (strcmp(mode, "lower") == 0 && argc == 4)
        return lower(arg, argv[3]);
    if (strcmp(mode, "lower-busy") == 0)
        return lower_busy(arg);
    if (strcmp(mode, "raise-fill") == 0)
        return raise_fill(arg);
    if (strcmp(mode, "shard-reuse") == 0)
        return shard_reuse();
    if (strcmp(mode, "large-reuse") == 0)
        return large_reuse();
    if (strcmp(mode, "away-spent") == 0)
        return away_spent();
    if (strcmp(mode, "names") == 0)
        return names();
    if (strcmp(mode, "charge") == 0)
        return charge(arg);
    if (strcmp(mode, "huge-charge") == 0)
        return huge_charge(arg);
    if (strcmp(mode, "huge-maps") == 0)
        return huge_maps(arg);
    if (strcmp(mode, "freed-charge") == 0)
        return freed_charge(arg);
    if (strcmp(mode, "freed-maps") == 0)
        return freed_maps(arg);
    if (strcmp(mode, "freed-space") == 0 && argc == 4)
        return freed_space(arg, argv[3]);
    if (strcmp(mode, "lock") == 0 && argc == 3)
        return lock(argv[2]);
    if (strcmp(mode, "share") == 0 && argc == 5)
        return share(arg, argv[3], strtol(argv[4], NULL, 10));
    fprintf(stderr,
            "usage: limits_probe vmsize|vmdata|basic|fill MB|exhaust MIB|share PCT "
            "map|malloc BASE_KIB|charge KIB|huge-charge N|huge-maps N|freed-charge N|freed-maps N|"
            "freed-space MIB held|inside|lower|charged|"
            "lower MIB "
            "setrlimit|prlimit|lower-busy "
            "MIB|raise-fill [MIB]|names|shard-reuse|large-reuse|away-spent|"
            "lock current|future\n");
    return 2;
}
