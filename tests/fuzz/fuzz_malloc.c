/*
 * fuzz_malloc.c - libFuzzer target: the malloc family and the numa_* API
 * against a shadow model (docs/testing.md).
 *
 * The allocator is linked into this executable (tests/fuzz/CMakeLists.txt),
 * so it is the process's malloc; its sources are built with
 * -fsanitize=fuzzer-no-link (coverage guides the fuzzer through them) and
 * NUMA_ALLOC_DEBUG (assertions, numa_alloc_debug_check).
 *
 * The input is a program: each operation is one byte (the opcode) followed
 * by its operands (slot, size, alignment, node), all read from the input;
 * a short input reads zeros. The model keeps up to MAX_LIVE blocks, each
 * with its request, usable size and an id that seeds a byte pattern written
 * into it. Checked on every operation:
 *   - a block's pattern is intact before it is freed, reallocated or handed
 *     to another thread; realloc keeps the prefix;
 *   - no two live blocks overlap; usable size >= request; alignment holds
 *     (16 for malloc & co, the requested one for the aligned family);
 *   - calloc's memory reads zero; a failed realloc leaves the block intact;
 *   - a failure is glibc's: NULL and ENOMEM above PTRDIFF_MAX, EINVAL for an
 *     alignment glibc rejects (posix_memalign returns it), never a failure
 *     for a request the cap allows;
 *   - numa_ptr_node of every block is a node (0 on a one-node machine);
 *   - numa_alloc_debug_check() (whole heap) at the end of every input, and
 *     with the statistics (a whole document into a file, EPIPE and no
 *     SIGPIPE into a closed pipe, mallinfo2 in use >= the live blocks)
 *     as an operation;
 * A trim whose pad byte is 0xff first lowers RLIMIT_AS to 64 GiB, or raises
 * it again to unlimited when it is lowered (toggle_address_limit): the region
 * is given back but for what the heaps use and reserved as they grow, then
 * reserved again, then given back again.
 * A remote batch (an operation) has a short-lived thread free up to 300 of
 * this thread's blocks of one size, handed back in batches, and takes them
 * again (remote_batch).
 * A race refill (an operation) hands blocks back, as another thread's remote
 * frees, at the instant a refill is about to take a new slab (race_refill).
 * A realloc of an empty slot 2 apart from 4 first takes a block from glibc's
 * own malloc, which numa-alloc's realloc must take over (glibc_block_into).
 * A churn thread (an operation, four at most an input) also allocates and frees batches of up to
 * 2560 blocks of three sizes, so thread cache bins grow, scavenge and shrink
 * under the debug build's assertions (struct cache_bin), and an object
 * aligned to a segment, while this thread runs the heap check over and over.
 * Live memory is capped at LIVE_CAP_BYTES: a request above what is left
 * under the cap is only made when it must fail (above PTRDIFF_MAX) or as a
 * "probe" that is freed at once and never written beyond two bytes, so the
 * fuzzer never needs more than a few hundred MiB.
 *
 * FUZZ_GLIBC_MODEL: build against glibc instead (no numa_* calls, no heap
 * check): the model must hold for glibc too, which keeps it honest.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/*
 * glibc's header declares memalign and aligned_alloc with alloc_align, so
 * UBSan checks the result's alignment against the argument as given: for
 * the odd alignments glibc accepts (0, 24: plain malloc, rounded up) that is
 * a false alarm of the caller's. Called through pointers without the attribute.
 */
static void *(*volatile memalign_call)(size_t, size_t) = memalign;
static void *(*volatile aligned_alloc_call)(size_t, size_t) = aligned_alloc;

/*
 * glibc's other names for malloc, calloc, realloc and free (GLIBC_2.2.5,
 * undeclared): numa-alloc's too (interpose/malloc.c). Blocks of odd slots are
 * allocated, reallocated and freed under them, so that every block crosses
 * names; cfree (a compatibility symbol, which only numa-alloc lets a program
 * link) frees the blocks of slots 3 apart.
 */
extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *ptr, size_t size);
extern void __libc_free(void *ptr);
#ifndef FUZZ_GLIBC_MODEL
extern void cfree(void *ptr);
#else
#define cfree free
#endif

#ifndef FUZZ_GLIBC_MODEL
#include "numa_alloc.h"
size_t numa_alloc_debug_check(void);
unsigned numa_alloc_debug_young_reopen(void);
void numa_alloc_debug_on_race(void (*hook)(int point, size_t class_size));
unsigned numa_alloc_debug_hand_back(void **blocks, unsigned count);
void free_sized(void *ptr, size_t size);
void free_aligned_sized(void *ptr, size_t alignment, size_t size);
#endif

#define MAX_LIVE       64
#define LIVE_CAP_BYTES ((size_t)256 << 20)
#define PATTERN_HEAD   ((size_t)64 << 10) /* pattern bytes at a block's start */
#define PATTERN_TAIL   ((size_t)4 << 10)  /* and at its end */
#define MIN_ALIGN      16                 /* glibc's MALLOC_ALIGNMENT on 64-bit */
#define PAGE           ((size_t)4096)
#define MAX_OPS        256

struct block {
    unsigned char *ptr; /* NULL: free slot */
    size_t size;        /* request */
    size_t usable;
    size_t align;
    uint64_t id;
};

static struct block live[MAX_LIVE];
static size_t live_bytes;
static uint64_t next_id;
static int one_node; /* the machine has one NUMA node: every block is on node 0 */
static int trace;    /* FUZZ_TRACE set: one line per operation on stderr */
static int profiled; /* NUMA_ALLOC_PROF set (tools/fuzz.sh's profile run) */

/* ---- failure ------------------------------------------------------------ */

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "fuzz_malloc: " __VA_ARGS__);                                              \
        fputc('\n', stderr);                                                                       \
        abort();                                                                                   \
    } while (0)

/* ---- input -------------------------------------------------------------- */

struct input {
    const uint8_t *data;
    size_t size, pos;
};

static uint8_t byte(struct input *in)
{
    return in->pos < in->size ? in->data[in->pos++] : 0;
}

static uint64_t bytes(struct input *in, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)byte(in) << (8 * i);
    return v;
}

/* Sizes: mostly small, then large, huge, and the edges past every maximum. */
static size_t decode_size(struct input *in)
{
    static const size_t special[] = {
        0,
        1,
        16,
        32768,
        32769,
        (size_t)2 << 20,
        ((size_t)2 << 20) + 1,
        (size_t)4 << 20,
        ((size_t)4 << 20) - 4096,
        ((size_t)4 << 20) - 65536, /* a huge object filling one segment, a pages one's once */
        LIVE_CAP_BYTES + 1,
        (size_t)1 << 40,
        (size_t)1 << 47,
        (size_t)PTRDIFF_MAX - 4096,
        (size_t)PTRDIFF_MAX,
        (size_t)PTRDIFF_MAX + 1,
        SIZE_MAX - 4096,
        SIZE_MAX - 4095,
        SIZE_MAX - 1,
        SIZE_MAX,
    };
    uint8_t kind = byte(in);
    switch (kind % 8) {
    case 0:
    case 1:
    case 2:
        return bytes(in, 1) + (kind & 0x80 ? 256 : 0); /* tiny: 0..511 */
    case 3:
        return bytes(in, 2) % 40000; /* small, past SMALL_MAX */
    case 4:
    case 5:
        return bytes(in, 3) % (3u << 20); /* large, past LARGE_MAX */
    case 6:
        return (size_t)(bytes(in, 2) << 8) % (16u << 20); /* huge, up to 16 MiB */
    default:
        return special[bytes(in, 1) % (sizeof special / sizeof special[0])];
    }
}

/* Alignments: powers of two up to 1 GiB and beyond, and ones glibc rounds or rejects. */
static size_t decode_align(struct input *in)
{
    static const size_t odd[] = {0,
                                 1,
                                 2,
                                 3,
                                 4,
                                 8,
                                 24,
                                 48,
                                 1000,
                                 4097,
                                 (size_t)1 << 40,
                                 ((size_t)1 << 63) + 1,
                                 (size_t)1 << 63,
                                 SIZE_MAX};
    uint8_t a = byte(in);
    size_t align = a % 4 == 0 ? odd[(a / 4) % (sizeof odd / sizeof odd[0])]
                              : (size_t)1 << (a / 4 % 31); /* 1 .. 1 GiB */
    return align;
}

/* ---- patterns ----------------------------------------------------------- */

static inline unsigned char pattern_byte(uint64_t id, size_t i)
{
    uint64_t x = (id * 0x9E3779B97F4A7C15ull) ^ (uint64_t)(i >> 3) * 0xBF58476D1CE4E5B9ull;
    return (unsigned char)((x >> ((i & 7) * 8)) ^ (x >> 56));
}

/* The bytes of a block of `size` that carry the pattern: its head and its tail. */
static void pattern_ranges(size_t size, size_t r[2][2])
{
    r[0][0] = 0;
    r[0][1] = size < PATTERN_HEAD ? size : PATTERN_HEAD;
    r[1][0] = size > PATTERN_TAIL && size - PATTERN_TAIL > r[0][1] ? size - PATTERN_TAIL : r[0][1];
    r[1][1] = size;
}

static void pattern_fill(const struct block *b)
{
    size_t r[2][2];
    pattern_ranges(b->size, r);
    for (int k = 0; k < 2; k++)
        for (size_t i = r[k][0]; i < r[k][1]; i++)
            b->ptr[i] = pattern_byte(b->id, i);
}

/* Checks the pattern of the first `limit` bytes (realloc's kept prefix: all of them). */
static void pattern_check(const struct block *b, size_t limit, const char *when)
{
    size_t r[2][2];
    pattern_ranges(b->size, r);
    for (int k = 0; k < 2; k++)
        for (size_t i = r[k][0]; i < r[k][1] && i < limit; i++)
            if (b->ptr[i] != pattern_byte(b->id, i))
                FAIL("%s: block %p (id %llu, size %zu): byte %zu is %#x, not %#x", when,
                     (void *)b->ptr, (unsigned long long)b->id, b->size, i, b->ptr[i],
                     pattern_byte(b->id, i));
}

static void zero_check(const unsigned char *p, size_t size, const char *what)
{
    size_t r[2][2];
    pattern_ranges(size, r);
    for (int k = 0; k < 2; k++)
        for (size_t i = r[k][0]; i < r[k][1]; i++)
            if (p[i] != 0)
                FAIL("%s(%zu) = %p: byte %zu is %#x, not 0", what, size, (const void *)p, i, p[i]);
}

/* ---- the model ---------------------------------------------------------- */

static size_t usable_size(void *p)
{
    return malloc_usable_size(p);
}

static void check_node(const void *p, const char *what)
{
#ifndef FUZZ_GLIBC_MODEL
    int node = numa_ptr_node(p);
    if (node < 0 || (one_node && node != 0))
        FAIL("%s = %p: numa_ptr_node says %d", what, p, node);
#else
    (void)p;
    (void)what;
#endif
}

/* A new block: usable size, alignment, no overlap with any live block. */
static void check_new(unsigned char *p, size_t size, size_t align, const char *what)
{
    size_t usable = usable_size(p);
    if (usable < size)
        FAIL("%s(%zu): usable size %zu of %p is below the request", what, size, usable, (void *)p);
    if ((uintptr_t)p % align != 0)
        FAIL("%s(%zu): %p is not aligned to %zu", what, size, (void *)p, align);
    uintptr_t start = (uintptr_t)p, end = start + (usable ? usable : 1);
    for (int i = 0; i < MAX_LIVE; i++) {
        if (!live[i].ptr)
            continue;
        uintptr_t s = (uintptr_t)live[i].ptr, e = s + (live[i].usable ? live[i].usable : 1);
        if (start < e && s < end)
            FAIL("%s(%zu) = %p (+%zu) overlaps live block %p (+%zu)", what, size, (void *)p, usable,
                 (void *)live[i].ptr, live[i].usable);
    }
    check_node(p, what);
}

static void adopt(int slot, unsigned char *p, size_t size, size_t align)
{
    struct block *b = &live[slot];
    b->ptr = p;
    b->size = size;
    b->usable = usable_size(p);
    b->align = align;
    b->id = ++next_id;
    live_bytes += b->usable;
    pattern_fill(b);
}

static void forget(int slot)
{
    live_bytes -= live[slot].usable;
    live[slot].ptr = NULL;
}

/* May a block of `size` (plus alignment slack) be kept live under the cap? */
static int fits_cap(size_t size, size_t align)
{
    size_t left = LIVE_CAP_BYTES - live_bytes;
    return size <= left && align <= left - size;
}

/*
 * A request glibc must refuse with ENOMEM whatever the memory: more than
 * PTRDIFF_MAX (with the alignment's slack).
 */
static int must_fail(size_t size, size_t align)
{
    return size > (size_t)PTRDIFF_MAX || align > (size_t)PTRDIFF_MAX ||
           (align > MIN_ALIGN && size > (size_t)PTRDIFF_MAX - align);
}

/*
 * The outcome of an allocation that was made: `slot` >= 0 keeps a success
 * in the model. A request that must fail must fail with ENOMEM; one within
 * the cap must succeed; between the two either is fine (address space), and
 * a success there is freed at once.
 */
static void settle(int slot, unsigned char *p, size_t size, size_t align, int err, int zeroed,
                   const char *what)
{
    if (must_fail(size, align)) {
        if (p)
            FAIL("%s(size %zu, align %zu) = %p: must fail (above PTRDIFF_MAX)", what, size, align,
                 (void *)p);
        if (err != ENOMEM)
            FAIL("%s(size %zu, align %zu) failed with errno %d, not ENOMEM", what, size, align,
                 err);
        return;
    }
    if (!p) {
        if (fits_cap(size, align))
            FAIL("%s(size %zu, align %zu) failed (errno %d) with %zu bytes live", what, size, align,
                 err, live_bytes);
        if (err != ENOMEM)
            FAIL("%s(size %zu, align %zu) failed with errno %d, not ENOMEM", what, size, align,
                 err);
        return;
    }
    check_new(p, size, align, what);
    if (zeroed)
        zero_check(p, size < PAGE ? size : PAGE, what);
    if (slot < 0 || !fits_cap(size, align)) { /* a probe: touch two bytes, give it back */
        if (size) {
            p[0] = 1;
            p[size - 1] = 1;
        }
        free(p);
        return;
    }
    if (zeroed)
        zero_check(p, size, what);
    adopt(slot, p, size, align);
}

/* Whether to make a request at all: within the cap, or one that must fail. */
static int worth_asking(size_t size, size_t align)
{
    if (must_fail(size, align) || fits_cap(size, align))
        return 1;
    /* A probe of address space only: never written beyond two bytes. */
    return size > LIVE_CAP_BYTES || align > LIVE_CAP_BYTES;
}

static void release(int slot, int how)
{
    struct block *b = &live[slot];
    pattern_check(b, SIZE_MAX, "before free");
    unsigned char *p = b->ptr;
    size_t size = b->size, align = b->align;
    forget(slot);
#ifndef FUZZ_GLIBC_MODEL
    if (how == 1) {
        free_sized(p, size);
        return;
    }
    if (how == 2) {
        free_aligned_sized(p, align, size);
        return;
    }
#else
    (void)how;
    (void)size;
    (void)align;
#endif
    if (slot % 3 == 0)
        cfree(p);
    else if (slot & 1)
        __libc_free(p);
    else
        free(p);
}

/* ---- the second thread: frees what it is handed ------------------------- */

static pthread_mutex_t handoff_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t handoff_cond = PTHREAD_COND_INITIALIZER;
static void *handoff_block; /* set by the fuzzer, cleared by the freer once freed */
static pthread_t freer;
static int freer_started;

static void *freer_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&handoff_lock);
    for (;;) {
        while (!handoff_block)
            pthread_cond_wait(&handoff_cond, &handoff_lock);
        free(handoff_block);
        void *mine = malloc(48); /* and allocates on its own, so its cache churns too */
        free(mine);
        handoff_block = NULL;
        pthread_cond_broadcast(&handoff_cond);
    }
    return NULL;
}

/* Hands a block to the freer thread and waits until it is freed (deterministic). */
static void hand_off(int slot)
{
    pattern_check(&live[slot], SIZE_MAX, "before hand-off");
    void *p = live[slot].ptr;
    forget(slot);
    if (!freer_started) {
        if (pthread_create(&freer, NULL, freer_main, NULL) != 0)
            FAIL("pthread_create failed");
        freer_started = 1;
    }
    pthread_mutex_lock(&handoff_lock);
    handoff_block = p;
    pthread_cond_broadcast(&handoff_cond);
    while (handoff_block)
        pthread_cond_wait(&handoff_cond, &handoff_lock);
    pthread_mutex_unlock(&handoff_lock);
}

/* A short-lived thread: allocates, frees one of ours, exits (its cache goes back). */
struct churn {
    void *handed; /* a block of the main thread's, freed here (or NULL) */
    int slot;
    _Atomic int done; /* set by the churn thread as it ends: the main thread's checks stop */
};

/*
 * Batches of one size, allocated, written and freed half first-in first-out,
 * half last-in first-out, twice: past 128 blocks a bin grows instead of
 * flushing (struct cache_bin); three sizes whose growth together exceeds the
 * thread's budget, so idle bins shrink back. n = 40 .. 2560 by the slot byte;
 * the thread's exit shrinks what grew.
 */
static void churn_batches(int slot)
{
    void *batch[2560];
    int n = 40 * (slot % 64 + 1);
    for (int round = 0; round < 6; round++) {
        size_t size = (size_t)64 << (round % 3);
        for (int i = 0; i < n; i++) {
            batch[i] = malloc(size);
            if (!batch[i])
                FAIL("malloc(%zu) failed in a batch", size);
            memset(batch[i], i, 16);
        }
        for (int i = 0; i < n / 2; i++)
            free(batch[i]);
        for (int i = n - 1; i >= n / 2; i--)
            free(batch[i]);
    }
}

static void *churn_main(void *arg)
{
    struct churn *c = arg;
    /* An object aligned to a segment, in a mapping of its own (core/aligned_huge.c). */
    void *aligned = NULL;
    if (posix_memalign(&aligned, (size_t)4 << 20, (size_t)4 << 20) == 0) {
        *(volatile char *)aligned = 1;
        free(aligned);
    }
    void *blocks[8];
    for (int i = 0; i < 8; i++)
        blocks[i] = malloc((size_t)16 << i);
    free(c->handed);
    for (int i = 0; i < 8; i += 2)
        free(blocks[i]);
    for (int i = 1; i < 8; i += 2)
        free(blocks[i]);
    churn_batches(c->slot);
    atomic_store(&c->done, 1);
    return NULL;
}

/*
 * At most this many churn threads per input: each costs about 0.4 s under the
 * heap check it races (UBSan, coverage), and an input of 25 of them (found by
 * a 60 s run) took 10 s alone and passed libFuzzer's 30 s limit on a busy
 * machine. More of them in a row add nothing a single one does not.
 */
#define CHURNS_PER_INPUT 4
static int churns_left;

static void churn_thread(int slot)
{
    struct churn c = {.slot = slot};
    if (live[slot].ptr) {
        pattern_check(&live[slot], SIZE_MAX, "before thread hand-off");
        c.handed = live[slot].ptr;
        forget(slot);
    }
    pthread_t t;
    if (pthread_create(&t, NULL, churn_main, &c) != 0)
        FAIL("pthread_create failed");
#ifndef FUZZ_GLIBC_MODEL
    /*
     * The heap check may run while another thread allocates (core/heap_check.h).
     * A pause between checks: run back to back, they held the pages lock nearly
     * all the time, and a thread that needs it on every allocation (the profile
     * samples most blocks as page runs) crawled: one input took 18-60 s, and
     * libFuzzer's timeout alarm, landing in a check, deadlocked in its handler's
     * malloc (CI's fuzz run would hang).
     */
    while (!atomic_load(&c.done)) {
        numa_alloc_debug_check();
        nanosleep(&(struct timespec){0, 200000}, NULL);
    }
#endif
    pthread_join(t, NULL);
}

/*
 * Blocks of this thread freed by another come back to its shard as batches
 * (struct parked_batch, core/node_heap.h) that refills take whole or cut:
 * n blocks of one size (16 B to 1 KiB: the 16-byte class, which walks
 * instead, too) are freed by a short-lived thread, whose exit hands them
 * back, in batches of up to half a bin; n + 16 mallocs of the size then
 * take them, and a slab's blocks with them. Each block out must be
 * distinct and whole (a pattern per block, checked after all are written),
 * and the model's blocks untouched. With `steal` the short-lived thread
 * first takes a slab's worth of the size and, after its frees, n blocks
 * and a slab's worth more: once its slabs are used up, its refills take
 * the blocks its frees parked on this thread's shard (take_from_other_shards, classes of
 * whole cache lines), which it writes, checks and frees back.
 */
#define REMOTE_MAX 300

#define SLAB_BLOCKS_MAX (65536 / 16 + 1) /* a 64 KiB slab of the smallest class, and one */

struct remote {
    void **blocks;
    int n;
    size_t size;
    int steal;
};

static void *remote_free_main(void *arg)
{
    const struct remote *r = arg;
    static void *own[SLAB_BLOCKS_MAX], *taken[REMOTE_MAX + SLAB_BLOCKS_MAX];
    int slab = (int)(65536 / r->size), owned = r->steal ? slab : 0;
    int more = r->steal ? r->n + slab : 0; /* what is left of its slabs, then the parked blocks */
    for (int i = 0; i < owned; i++)
        if (!(own[i] = malloc(r->size)))
            FAIL("malloc(%zu) failed for a slab of the freeing thread", r->size);
    for (int i = 0; i < r->n; i++)
        free(r->blocks[i]);
    for (int i = 0; i < more; i++) {
        if (!(taken[i] = malloc(r->size)))
            FAIL("malloc(%zu) failed after the remote frees", r->size);
        memset(taken[i], (i * 7) & 0xff, r->size);
    }
    for (int i = 0; i < more; i++) {
        const unsigned char *p = taken[i];
        unsigned char want = (unsigned char)((i * 7) & 0xff);
        if (p[0] != want || p[r->size / 2] != want || p[r->size - 1] != want)
            FAIL("block %d of %d taken by the freeing thread (%zu B): overwritten (%p)", i, more,
                 r->size, (void *)p);
    }
    for (int i = 0; i < more; i++)
        free(taken[i]);
    for (int i = 0; i < owned; i++)
        free(own[i]);
    return NULL;
}

static void remote_batch(int slot, int n, size_t size, int steal)
{
    static void *blocks[REMOTE_MAX], *again[REMOTE_MAX + 16];
    for (int i = 0; i < n; i++)
        if (!(blocks[i] = malloc(size)))
            FAIL("malloc(%zu) failed for a remote batch", size);
    struct remote r = {blocks, n, size, steal};
    pthread_t t;
    if (pthread_create(&t, NULL, remote_free_main, &r) != 0)
        FAIL("pthread_create failed");
    pthread_join(t, NULL);
    for (int i = 0; i < n + 16; i++) {
        if (!(again[i] = malloc(size)))
            FAIL("malloc(%zu) failed after a remote batch", size);
        memset(again[i], (i + slot) & 0xff, size);
    }
    for (int i = 0; i < n + 16; i++) {
        const unsigned char *p = again[i];
        unsigned char want = (unsigned char)((i + slot) & 0xff);
        if (p[0] != want || p[size / 2] != want || p[size - 1] != want)
            FAIL("block %d of %d after a remote batch of %zu B: overwritten (%p)", i, n + 16, size,
                 (void *)p);
    }
    for (int i = 0; i < n + 16; i++)
        free(again[i]);
    for (int i = 0; i < MAX_LIVE; i++)
        if (live[i].ptr)
            pattern_check(&live[i], SIZE_MAX, "after a remote batch");
}

/*
 * Another thread's remote frees landing inside a refill (core/race_points.h):
 * n blocks of one size (16 B to 1 KiB) are held back, then mallocs of the
 * size run until a refill of their class, its lock held, finds what its
 * shard holds short and turns to its spare or a new slab: the race hook
 * hands the held blocks back there, one CAS as a remote free's away list
 * would, and the refill must still take its slab's blocks (invariant 9 of
 * docs/architecture.md: no slab on the partial list without a block out).
 * The heap check runs as that malloc returns (the next refill would hide
 * the bug: it takes blocks of the slab left without); n + 16 more mallocs
 * take the blocks handed back;
 * every block out is checked distinct and whole, as in remote_batch.
 * Round ten's refill bug (docs/testing.md) broke exactly this, and only a
 * four-thread stress run found it: the scheduler seldom lands a hand-back
 * in that window. Under FUZZ_GLIBC_MODEL the held blocks are freed instead.
 */
#define RACE_HELD_MAX 64
#define RACE_TAKE_MAX (SLAB_BLOCKS_MAX * 2 + RACE_HELD_MAX + 16)

static struct {
    void *held[RACE_HELD_MAX];
    unsigned n;        /* blocks held for the hand-back */
    size_t class_size; /* their usable size: the class the hook waits for */
    unsigned handed;   /* how many the hook handed back (from the front of held) */
    int fired;
} race;

#ifndef FUZZ_GLIBC_MODEL
static void race_hook(int point, size_t class_size)
{
    if (point != 1 /* RACE_REFILL_NEW_SLAB */ || race.fired || class_size != race.class_size)
        return;
    race.fired = 1;
    race.handed = numa_alloc_debug_hand_back(race.held, race.n);
}
#endif

static void race_refill(int slot, unsigned n, size_t size)
{
    static void *taken[RACE_TAKE_MAX];
    /*
     * Profiled at tools/fuzz.sh's tiny rate, nearly every block is sampled and
     * made a page run: no refill to race, and thousands of page runs an op.
     */
    if (profiled)
        return;
    memset(&race, 0, sizeof race);
    for (unsigned i = 0; i < n; i++)
        if (!(race.held[i] = malloc(size)))
            FAIL("malloc(%zu) failed for a race refill", size);
    race.n = n;
    race.class_size = usable_size(race.held[0]);
#ifndef FUZZ_GLIBC_MODEL
    numa_alloc_debug_on_race(race_hook);
#endif
    int m = 0, after = 0;
    while (m < RACE_TAKE_MAX && after < (int)n + 16) {
        if (!(taken[m] = malloc(size)))
            FAIL("malloc(%zu) failed in a race refill", size);
        memset(taken[m], (m + slot) & 0xff, size);
        m++;
#ifndef FUZZ_GLIBC_MODEL
        if (race.fired && !after)
            numa_alloc_debug_check(); /* the refill the hook ran in has just returned */
#endif
        after += race.fired;
    }
#ifndef FUZZ_GLIBC_MODEL
    numa_alloc_debug_on_race(NULL);
    if (trace)
        fprintf(stderr, "race refill: %s, %u of %u blocks of %zu B handed back, %d mallocs\n",
                race.fired ? "fired" : "never fired", race.handed, n, race.class_size, m);
    numa_alloc_debug_check();
#endif
    for (int i = 0; i < m; i++) {
        const unsigned char *p = taken[i];
        unsigned char want = (unsigned char)((i + slot) & 0xff);
        if (p[0] != want || p[size / 2] != want || p[size - 1] != want)
            FAIL("block %d of %d of a race refill (%zu B, %u handed back): overwritten (%p)", i, m,
                 size, race.handed, (void *)p);
    }
    for (int i = 0; i < m; i++)
        free(taken[i]);
    for (unsigned i = race.handed; i < n; i++)
        free(race.held[i]);
    for (int i = 0; i < MAX_LIVE; i++)
        if (live[i].ptr)
            pattern_check(&live[i], SIZE_MAX, "after a race refill");
}

/* ---- statistics --------------------------------------------------------- */

#ifndef FUZZ_GLIBC_MODEL
/*
 * The statistics of whatever state the heap is in: numa_alloc_stats_write
 * succeeds into a file and gives a whole document; into a pipe nobody reads
 * it fails with EPIPE and leaves no SIGPIPE behind (the program's own
 * disposition must never see our writes: docs/stats.md); mallinfo2 counts
 * every live block of the model as in use, and its fields add up as glibc's.
 */
static void check_statistics(int json)
{
    int fd = memfd_create("fuzz-stats", MFD_CLOEXEC);
    if (fd < 0)
        FAIL("memfd_create failed (errno %d)", errno);
    if (numa_alloc_stats_write(fd, json) != 0)
        FAIL("numa_alloc_stats_write(file, json=%d) failed (errno %d)", json, errno);
    static char doc[1 << 16];
    ssize_t n = pread(fd, doc, sizeof doc - 1, 0);
    close(fd);
    if (n <= 0)
        FAIL("numa_alloc_stats_write(file, json=%d) wrote nothing", json);
    doc[n] = 0;
    if (json && (doc[0] != '{' || n < 2 || strcmp(doc + n - 2, "}\n") != 0))
        FAIL("the JSON statistics are not one object: %.80s ... %s", doc,
             doc + (n > 40 ? n - 40 : 0));

    int ends[2];
    if (pipe2(ends, O_CLOEXEC) != 0)
        FAIL("pipe2 failed (errno %d)", errno);
    close(ends[0]);
    errno = 0;
    if (numa_alloc_stats_write(ends[1], json) != -1 || errno != EPIPE)
        FAIL("numa_alloc_stats_write to a closed pipe: not -1 with EPIPE (errno %d)", errno);
    close(ends[1]);
    sigset_t pending;
    sigpending(&pending);
    if (sigismember(&pending, SIGPIPE))
        FAIL("a statistics write to a closed pipe left SIGPIPE pending");

    size_t model = 0;
    for (int i = 0; i < MAX_LIVE; i++)
        model += live[i].ptr ? live[i].usable : 0;
    struct mallinfo2 info = mallinfo2();
    /* uordblks: small and large blocks; hblkhd: huge objects (glibc's mmapped chunks). */
    if (info.uordblks + info.hblkhd < model)
        FAIL("mallinfo2: %zu + %zu bytes in use, but the live blocks hold %zu", info.uordblks,
             info.hblkhd, model);
    if (info.arena != info.uordblks + info.fordblks || info.keepcost > info.fordblks)
        FAIL("mallinfo2: arena %zu is not uordblks %zu + fordblks %zu, or keepcost %zu > fordblks",
             info.arena, info.uordblks, info.fordblks, info.keepcost);
}
#endif

/* ---- operations --------------------------------------------------------- */

enum op {
    OP_MALLOC,
    OP_CALLOC,
    OP_REALLOC,
    OP_REALLOCARRAY,
    OP_FREE,
    OP_FREE_SIZED,
    OP_POSIX_MEMALIGN,
    OP_ALIGNED_ALLOC,
    OP_MEMALIGN,
    OP_VALLOC,
    OP_PVALLOC,
    OP_NUMA_MALLOC,
    OP_NUMA_CALLOC,
    OP_NUMA_ALIGNED_ALLOC,
    OP_USABLE_SIZE,
    OP_HAND_OFF,
    OP_CHURN_THREAD,
    OP_TRIM,
    OP_REALLOC_CHAIN,
    OP_HEAP_CHECK,
    OP_REMOTE_BATCH,
    OP_RACE_REFILL,
    NUM_OPS
};

/* glibc 2.36's memalign: the alignment it really uses, or 0 for EINVAL. */
static size_t glibc_memalign_align(size_t align)
{
    if (align <= MIN_ALIGN)
        return MIN_ALIGN;
    if (align > SIZE_MAX / 2 + 1)
        return 0;
    size_t a = 32; /* MINSIZE * 2 */
    while (a < align)
        a <<= 1;
    return a;
}

#ifndef FUZZ_GLIBC_MODEL
/*
 * realloc(NULL, n) of slots 2 apart from 4: first a block of glibc's own
 * malloc (as a library bound to glibc's hands one over), which realloc must
 * take over, its bytes kept: from its main arena, or a block it mapped on its
 * own (128 KiB and up, while glibc's threshold has not risen), or, on slots 6
 * apart from 8, from a thread arena (a thread's malloc).
 */
#define GLIBC_BLOCK_MAX ((size_t)1 << 20)

static void *(*glibc_malloc)(size_t);

static void *glibc_malloc_in_thread(void *size)
{
    return glibc_malloc((size_t)(uintptr_t)size);
}

static void glibc_block_into(int slot, size_t size)
{
    if (!glibc_malloc) {
        void *found = dlvsym(RTLD_NEXT, "__libc_malloc", "GLIBC_2.2.5");
        memcpy(&glibc_malloc, &found, sizeof found);
        if (!glibc_malloc)
            return;
    }
    void *p = NULL;
    pthread_t thread;
    if (slot % 8 != 6)
        p = glibc_malloc(size);
    else if (pthread_create(&thread, NULL, glibc_malloc_in_thread, (void *)(uintptr_t)size) == 0 &&
             pthread_join(thread, &p) != 0)
        FAIL("pthread_join failed");
    if (p)
        adopt(slot, p, size, MIN_ALIGN);
}
#endif

static void op_realloc(int slot, size_t size, int array, size_t count)
{
    struct block *b = &live[slot];
    size_t old_size = b->ptr ? b->size : 0;
    size_t bytes = size;
    int overflow = array && __builtin_mul_overflow(count, size, &bytes);
    if (b->ptr)
        pattern_check(b, SIZE_MAX, "before realloc");
    if (!overflow && !must_fail(bytes, MIN_ALIGN) && bytes > old_size &&
        !fits_cap(bytes - old_size, 0))
        return; /* would pass the cap: not asked (a probe makes no sense for realloc) */
    if (b->ptr && !overflow && bytes == 0) {
        /* glibc: realloc(p, 0) (and reallocarray's zero product) frees p and returns NULL. */
        unsigned char *p = b->ptr;
        forget(slot);
        errno = 0;
        void *q = array ? reallocarray(p, count, size) : realloc(p, 0);
        if (q != NULL)
            FAIL("realloc(%p, 0) = %p, not NULL (glibc frees)", (void *)p, q);
        return;
    }
#ifndef FUZZ_GLIBC_MODEL
    if (!b->ptr && !array && slot % 4 == 2 && bytes > 0 && bytes <= GLIBC_BLOCK_MAX &&
        !must_fail(bytes, MIN_ALIGN))
        glibc_block_into(slot, bytes / 2 + 1); /* realloc takes it over */
#endif
    errno = 0;
    unsigned char *p = array ? reallocarray(b->ptr, count, size)
                             : (slot & 1 ? __libc_realloc : realloc)(b->ptr, bytes);
    int err = errno;
    const char *what = array ? "reallocarray" : "realloc";
    if (overflow || must_fail(bytes, MIN_ALIGN)) {
        if (p)
            FAIL("%s(%p, %zu%s) = %p: must fail", what, (void *)b->ptr, bytes,
                 overflow ? " (overflow)" : "", (void *)p);
        if (err != ENOMEM)
            FAIL("%s(%zu) failed with errno %d, not ENOMEM", what, bytes, err);
        if (b->ptr)
            pattern_check(b, SIZE_MAX, "after a failed realloc");
        return;
    }
    if (!p)
        FAIL("%s(%p, %zu) failed (errno %d) with %zu bytes live", what, (void *)b->ptr, bytes, err,
             live_bytes);
    if (!b->ptr) {
        check_new(p, bytes, MIN_ALIGN, what);
        adopt(slot, p, bytes, MIN_ALIGN);
        return;
    }
    struct block moved = *b;
    moved.ptr = p;
    forget(slot);
    pattern_check(&moved, bytes, "the prefix realloc keeps");
    check_new(p, bytes, MIN_ALIGN, what);
    adopt(slot, p, bytes, MIN_ALIGN);
}

/*
 * A trim whose pad byte is 0xff: RLIMIT_AS set to 64 GiB, far above what the
 * model maps, as a program that limits itself after the start does, or back
 * to unlimited when it was so set. The allocator gives back the region's
 * unused part and reserves it as the heaps grow (interpose/rlimit.c), and
 * retakes it when the limit goes; every block stays live and intact, and
 * later requests must still succeed. Under a hard limit (the limited run)
 * nothing changes. No thread of the target's is alive here (churn and batch
 * threads are joined in their operation), so no mapping of theirs can meet
 * the moment before the region is given back.
 */
static void toggle_address_limit(void)
{
    struct rlimit limit;
    if (getrlimit(RLIMIT_AS, &limit) != 0 || limit.rlim_max != RLIM_INFINITY)
        return;
    limit.rlim_cur = limit.rlim_cur == RLIM_INFINITY ? (rlim_t)64 << 30 : RLIM_INFINITY;
    if (setrlimit(RLIMIT_AS, &limit) != 0)
        FAIL("setrlimit(RLIMIT_AS, %llu): %s", (unsigned long long)limit.rlim_cur, strerror(errno));
}

static void op_aligned(int slot, enum op op, size_t align, size_t size)
{
    const char *what;
    size_t want; /* the alignment the result must have; 0: must fail with EINVAL */
    switch (op) {
    case OP_POSIX_MEMALIGN:
        what = "posix_memalign";
        want = align && align % sizeof(void *) == 0 && (align & (align - 1)) == 0 ? align : 0;
        break;
    case OP_ALIGNED_ALLOC:
        /* glibc 2.36 treats it as memalign; 2.38 rejects a non-power of two. */
        what = "aligned_alloc";
        want = glibc_memalign_align(align);
        break;
    case OP_VALLOC:
        what = "valloc";
        want = PAGE;
        break;
    case OP_PVALLOC:
        what = "pvalloc";
        want = PAGE;
        if (size > SIZE_MAX - PAGE) {
            errno = 0;
            void *p = pvalloc(size);
            if (p || errno != ENOMEM)
                FAIL("pvalloc(%zu) = %p errno %d: must fail with ENOMEM", size, p, errno);
            return;
        }
        size = (size + PAGE - 1) & ~(PAGE - 1);
        break;
    default:
        what = "memalign";
        want = glibc_memalign_align(align);
        break;
    }
    if (want != 0 && !worth_asking(size, want))
        return;
    errno = 0;
    unsigned char *p = NULL;
    int err;
    if (op == OP_POSIX_MEMALIGN) {
        void *out = (void *)1;
        err = posix_memalign(&out, align, size);
        if (err == 0)
            p = out;
        else if (out != (void *)1)
            FAIL("posix_memalign(%zu, %zu) failed (%d) and wrote its result", align, size, err);
    } else if (op == OP_ALIGNED_ALLOC) {
        p = aligned_alloc_call(align, size);
        err = errno;
        if (!p && err == EINVAL && (align == 0 || (align & (align - 1)) != 0) && want != 0)
            return; /* glibc >= 2.38 (C17): a non-power-of-two alignment is refused */
    } else if (op == OP_MEMALIGN) {
        p = memalign_call(align, size);
        err = errno;
    } else if (op == OP_VALLOC) {
        p = valloc(size);
        err = errno;
    } else {
        p = pvalloc(size);
        err = errno;
    }
    if (want == 0) {
        if (p || err != EINVAL)
            FAIL("%s(%zu, %zu) = %p, error %d: the alignment must be refused with EINVAL", what,
                 align, size, (void *)p, err);
        return;
    }
    settle(slot, p, size, want, err, 0, what);
}

#ifndef FUZZ_GLIBC_MODEL
static int decode_node(struct input *in)
{
    static const int nodes[] = {0, 0, 0, 0, 1, -1, 63, 64, 1024, -2147483647 - 1};
    return nodes[byte(in) % (sizeof nodes / sizeof nodes[0])];
}

static void op_numa(int slot, enum op op, struct input *in)
{
    int node = decode_node(in);
    size_t size = decode_size(in), align = MIN_ALIGN, count = 1;
    const char *what = op == OP_NUMA_MALLOC   ? "numa_malloc"
                       : op == OP_NUMA_CALLOC ? "numa_calloc"
                                              : "numa_aligned_alloc";
    if (op == OP_NUMA_CALLOC)
        count = bytes(in, 1);
    if (op == OP_NUMA_ALIGNED_ALLOC)
        align = decode_align(in);
    int bad_node = node < 0 || (one_node && node != 0);
    int maybe_bad_node = !one_node && node != 0; /* several nodes: node may or may not exist */
    size_t total;
    int overflow = __builtin_mul_overflow(count, size, &total);
    int bad_align = align == 0 || (align & (align - 1)) != 0;
    if (!bad_node && !overflow && !bad_align && !worth_asking(total, align))
        return;
    errno = 0;
    unsigned char *p = op == OP_NUMA_MALLOC   ? numa_malloc(node, size)
                       : op == OP_NUMA_CALLOC ? numa_calloc(node, count, size)
                                              : numa_aligned_alloc(node, align, size);
    int err = errno;
    if (maybe_bad_node && !p && err == EINVAL)
        return;
    if (bad_node || bad_align) {
        if (p || err != EINVAL)
            FAIL("%s(node %d, %zu, align %zu) = %p errno %d: must fail with EINVAL", what, node,
                 size, align, (void *)p, err);
        return;
    }
    if (overflow) {
        if (p || err != ENOMEM)
            FAIL("numa_calloc(%d, %zu, %zu) = %p errno %d: overflow must fail with ENOMEM", node,
                 count, size, (void *)p, err);
        return;
    }
    if (p && one_node && numa_ptr_node(p) != node)
        FAIL("%s(node %d) = %p is on node %d", what, node, (void *)p, numa_ptr_node(p));
    settle(slot, p, total, align < MIN_ALIGN ? MIN_ALIGN : align, err, op == OP_NUMA_CALLOC, what);
}
#endif

static void run_op(struct input *in)
{
    enum op op = (enum op)(byte(in) % NUM_OPS);
    int slot = byte(in) % MAX_LIVE;
    struct block *b = &live[slot];
    if (trace)
        fprintf(stderr, "%ld op %d slot %d at byte %zu, %zu bytes live\n",
                clock() * 1000 / CLOCKS_PER_SEC, (int)op, slot, in->pos, live_bytes);
    switch (op) {
    case OP_MALLOC:
    case OP_CALLOC: {
        size_t size = decode_size(in), count = 1, total;
        if (op == OP_CALLOC)
            count = bytes(in, 1) ? bytes(in, 1) : SIZE_MAX / 2; /* 0: the product overflows */
        if (b->ptr)
            release(slot, 0);
        int overflow = __builtin_mul_overflow(count, size, &total);
        if (!overflow && !worth_asking(total, MIN_ALIGN))
            return;
        errno = 0;
        unsigned char *p = op == OP_CALLOC ? (slot & 1 ? __libc_calloc : calloc)(count, size)
                                           : (slot & 1 ? __libc_malloc : malloc)(size);
        if (overflow) {
            if (p || errno != ENOMEM)
                FAIL("calloc(%zu, %zu) = %p errno %d: overflow must fail with ENOMEM", count, size,
                     (void *)p, errno);
            return;
        }
        settle(slot, p, total, MIN_ALIGN, errno, op == OP_CALLOC,
               op == OP_CALLOC ? "calloc" : "malloc");
        return;
    }
    case OP_REALLOC:
        op_realloc(slot, decode_size(in), 0, 1);
        return;
    case OP_REALLOCARRAY: {
        uint8_t c = byte(in);
        size_t count = c ? c : SIZE_MAX / 3; /* 0: the product overflows */
        op_realloc(slot, decode_size(in), 1, count);
        return;
    }
    case OP_REALLOC_CHAIN: { /* grows (or shrinks) one block step by step */
        size_t step = bytes(in, 2) + 1, n = byte(in) % 32;
        int shrink = step & 1;
        for (size_t i = 0; i < n; i++) {
            size_t cur = b->ptr ? b->size : 0;
            op_realloc(slot, shrink ? (cur > step ? cur - step : 1) : cur + step * (i + 1), 0, 1);
        }
        return;
    }
    case OP_FREE:
        if (b->ptr)
            release(slot, 0);
        else
            free(NULL);
        return;
    case OP_FREE_SIZED:
        if (b->ptr)
            release(slot, b->align > MIN_ALIGN ? 2 : 1);
        return;
    case OP_POSIX_MEMALIGN:
    case OP_ALIGNED_ALLOC:
    case OP_MEMALIGN:
    case OP_VALLOC:
    case OP_PVALLOC: {
        size_t align = op == OP_VALLOC || op == OP_PVALLOC ? PAGE : decode_align(in);
        size_t size = decode_size(in);
        if (b->ptr)
            release(slot, 0);
        op_aligned(slot, op, align, size);
        return;
    }
    case OP_NUMA_MALLOC:
    case OP_NUMA_CALLOC:
    case OP_NUMA_ALIGNED_ALLOC:
#ifndef FUZZ_GLIBC_MODEL
        if (b->ptr)
            release(slot, 0);
        op_numa(slot, op, in);
#endif
        return;
    case OP_USABLE_SIZE:
        if (usable_size(NULL) != 0)
            FAIL("malloc_usable_size(NULL) != 0");
        if (b->ptr && usable_size(b->ptr) != b->usable)
            FAIL("malloc_usable_size(%p) changed from %zu to %zu", (void *)b->ptr, b->usable,
                 usable_size(b->ptr));
        return;
    case OP_HAND_OFF:
        if (b->ptr)
            hand_off(slot);
        return;
    case OP_CHURN_THREAD:
        if (churns_left > 0) {
            churns_left--;
            churn_thread(slot);
        }
        return;
    case OP_TRIM: {
        unsigned pad = bytes(in, 1);
        if (pad == 0xff)
            toggle_address_limit();
        malloc_trim(pad);
        return;
    }
    case OP_HEAP_CHECK: /* the slot byte's parity picks JSON or text statistics */
#ifndef FUZZ_GLIBC_MODEL
        numa_alloc_debug_check();
        check_statistics(slot & 1);
#endif
        return;
    case OP_REMOTE_BATCH:
        remote_batch(slot, 1 + (int)(bytes(in, 2) % REMOTE_MAX), (size_t)16 << (slot % 7),
                     (slot / 7) & 1);
        return;
    case OP_RACE_REFILL:
        race_refill(slot, 1 + byte(in) % RACE_HELD_MAX, (size_t)16 << (slot % 7));
        return;
    case NUM_OPS:
        return;
    }
}

/*
 * A fatal signal inside the allocator (an assertion, the heap check, a misuse
 * report) may come with its locks held: libFuzzer's crash handler allocates
 * to write the input out and would hang on them. So when fuzzing with an
 * -artifact_prefix (tools/fuzz.sh), this handler writes the input itself with
 * write(2), to <prefix>crash-signal-<pid>, and dies of the signal.
 */
static const uint8_t *current_data;
static size_t current_size;
static char crash_path[4096];

static void write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n <= 0)
            return;
        p += n;
        len -= (size_t)n;
    }
}

static void on_fatal_signal(int sig)
{
    static const char msg[] = "fuzz_malloc: fatal signal";
    write_all(2, msg, sizeof msg - 1);
    int fd = crash_path[0] ? open(crash_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644) : -1;
    if (fd >= 0) {
        write_all(fd, current_data, current_size);
        close(fd);
        static const char where[] = ", the input is in ";
        write_all(2, where, sizeof where - 1);
        write_all(2, crash_path, strlen(crash_path));
    }
    write_all(2, "\n", 1);
    signal(sig, SIG_DFL);
    raise(sig);
}

/*
 * libFuzzer installs its handlers after LLVMFuzzerInitialize: ours replace them
 * at the first input, also when an input is replayed (no artifact prefix):
 * libFuzzer's prints a stack trace, which calls malloc, and after an
 * assertion failed with a heap's lock held that malloc waited on it forever.
 */
static void install_crash_handler(void)
{
    static int installed;
    if (installed)
        return;
    installed = 1;
    static const int fatal[] = {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL};
    for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_fatal_signal;
        sigaction(fatal[i], &sa, NULL);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const char flag[] = "-artifact_prefix=";
    for (int i = 1; i < *argc; i++)
        if (strncmp((*argv)[i], flag, sizeof flag - 1) == 0)
            snprintf(crash_path, sizeof crash_path, "%scrash-signal-%d",
                     (*argv)[i] + sizeof flag - 1, (int)getpid());
    one_node = access("/sys/devices/system/node/node1", F_OK) != 0;
    trace = getenv("FUZZ_TRACE") != NULL;
    profiled = getenv("NUMA_ALLOC_PROF") != NULL;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct input in = {data, size, 0};
    current_data = data;
    current_size = size;
    install_crash_handler();
    churns_left = CHURNS_PER_INPUT;
    for (int n = 0; n < MAX_OPS && in.pos < in.size; n++)
        run_op(&in);
    for (int i = 0; i < MAX_LIVE; i++)
        if (live[i].ptr)
            release(i, 0);
    if (live_bytes != 0)
        FAIL("model: %zu bytes left live", live_bytes);
#ifndef FUZZ_GLIBC_MODEL
    numa_alloc_debug_check();
    /* Every input meets a young arena (core/young_arena.h), not only the first MiB's. */
    numa_alloc_debug_young_reopen();
#endif
    return 0;
}
