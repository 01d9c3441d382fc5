/*
 * test_misuse.c - what happens to bad frees.
 *
 * A double free or a free of a pointer into the middle of one of our blocks
 * is reported and aborts (like glibc's "free(): double free detected"); a
 * pointer that was never ours (stack, static, mmap) is left alone and the
 * program goes on with its heap intact.
 *
 * The death tests that say "at once" run the bad call in a forked child that
 * exits normally right after it: the abort must come from the call itself
 * (before the memory could be handed out again), with glibc's message.
 */
#include "test_util.h"
#include <criterion/criterion.h>
#include <malloc.h>

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "numa_alloc.h"

/*
 * Runs misuse(arg) in a child whose stderr is captured; the child must die
 * of SIGABRT inside that call (it exits 0 if the call returns) and print
 * `message`. Other exits are the misuse's own: 3, numa-alloc did not serve
 * the block; 4, its slab was given back before the second free (so the test
 * did not reach the check it is about); 5 and 6, its threads or pipes failed.
 */
static void expect_abort_at_once(void (*misuse)(void *), void *arg, const char *message)
{
    char text[4096];
    int status = test_run_child(misuse, arg, text, sizeof text);
    cr_assert_neq(status, -1, "the child could not be run");
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
              "expected an abort in the bad call; child status %#x, stderr: \"%s\"", status, text);
    cr_assert(strstr(text, message) != NULL, "expected \"%s\" on stderr, got \"%s\"", message,
              text);
}

static void free_it(void *p)
{
    free(p);
}

static void realloc_to_128(void *p)
{
    test_launder(realloc(p, 128));
}

/* The block must be ours: glibc would abort too. */
static void *ours(size_t size)
{
    void *p = malloc(size);
    test_assert_ours(p);
    return p;
}

Test(misuse, interior_free_of_64_byte_block_aborts_at_once)
{
    char *p = malloc(64);
    cr_assert_geq(numa_ptr_node(p), 0, "numa-alloc did not serve the block");
    expect_abort_at_once(free_it, p + 16, "free(): invalid pointer");
    /* In the parent the heap is intact: the next 64-byte block does not overlap p. */
    char *q = malloc(64);
    cr_assert(q + 64 <= p || q >= p + 64, "malloc(64) = %p overlaps the live block %p", q, p);
    free(q);
    free(p);
}

Test(misuse, interior_free_of_16_byte_block_aborts_at_once)
{
    char *p = malloc(16), *neighbour = malloc(16);
    cr_assert_geq(numa_ptr_node(p), 0);
    expect_abort_at_once(free_it, p + 8, "free(): invalid pointer");
    free(neighbour);
    free(p);
}

Test(misuse, realloc_of_interior_pointer_aborts_at_once)
{
    char *p = malloc(64);
    cr_assert_geq(numa_ptr_node(p), 0);
    expect_abort_at_once(realloc_to_128, p + 16, "realloc(): invalid pointer");
    free(p);
}

Test(misuse, realloc_of_freed_small_block_aborts_at_once)
{
    char *p = malloc(64);
    cr_assert_geq(numa_ptr_node(p), 0);
    free(p);
    expect_abort_at_once(realloc_to_128, p, "realloc(): invalid pointer");
}

/*
 * Just past a slab's last block: 16 pages of 144-byte blocks leave a 16-byte
 * tail at the slab's end. A block there would run into the next span.
 */
Test(misuse, free_of_a_slab_tail_aborts_at_once)
{
    enum { N = 1000 };
    static char *blocks[N];
    for (size_t i = 0; i < N; i++)
        blocks[i] = ours(144);
    char *tail = NULL;
    for (size_t i = 0; i < N && !tail; i++) {
        char *t = blocks[i] + 144;
        bool is_block = false;
        for (size_t j = 0; j < N; j++)
            is_block |= blocks[j] == t;
        if (((uintptr_t)t + 16) % 4096 == 0 && !is_block)
            tail = t;
    }
    cr_assert_not_null(tail, "no slab end among 1000 blocks of 144 bytes");
    cr_assert_eq(malloc_usable_size(tail), 0);
    expect_abort_at_once(free_it, tail, "free(): invalid pointer");
    for (size_t i = 0; i < N; i++)
        free(blocks[i]);
}

Test(misuse, usable_size_is_zero_inside_every_small_class)
{
    size_t classes[128];
    size_t n = test_small_classes(classes, 128);
    for (size_t i = 0; i < n; i++) {
        size_t size = classes[i];
        char *p = test_launder(malloc(size));
        cr_assert_geq(numa_ptr_node(p), 0);
        cr_assert_eq(malloc_usable_size(p), size);
        for (size_t off = 1; off < size; off += off < 64 ? 1 : 61)
            cr_assert_eq(malloc_usable_size(p + off), 0, "usable size of %p + %zu in a %zu block",
                         (void *)p, off, size);
        free(p);
    }
}

/*
 * The double frees below are caught after the block left the thread's cache,
 * so only its slab can tell (thread_cache_block_is_free's bitmap check, or
 * heap_flush's when the second copy reaches the slab). Each keeps KEEP live
 * blocks of the class around it, so that its slab stays a slab with the
 * block's bit set (an emptied slab may be given back, and then free_slow's
 * span check would catch it instead); the child checks that it did stay
 * (malloc_usable_size still sees the class) and exits 4 if not.
 */
#define KEEP 64

static void *keepers[KEEP];

/* Allocates KEEP blocks of `size`; returns the middle one, whose neighbours stay live. */
static void *block_among_keepers(size_t size)
{
    malloc_trim(
        0); /* the young arena closed (core/young_arena.h): a slab's block, even above 512 B */
    for (size_t i = 0; i < KEEP; i++)
        keepers[i] = malloc(size);
    if (numa_ptr_node(keepers[KEEP / 2]) < 0)
        _exit(3); /* not numa-alloc's: glibc would abort too */
    return keepers[KEEP / 2];
}

/* p, freed, must still be a block of a live slab: its usable size is its class's. */
static void expect_slab_kept(void *p, size_t usable)
{
    if (malloc_usable_size(p) != usable)
        _exit(4);
}

static void double_free_after_trim(void *size)
{
    void *p = block_among_keepers((size_t)size);
    size_t usable = malloc_usable_size(p);
    free(p);
    malloc_trim(0); /* p leaves the thread cache for its slab */
    expect_slab_kept(p, usable);
    free(p);
}

Test(misuse, double_free_of_block_back_in_its_slab_aborts_at_once)
{
    expect_abort_at_once(double_free_after_trim, (void *)(size_t)48,
                         "free(): double free detected");
    expect_abort_at_once(double_free_after_trim, (void *)(size_t)3000,
                         "free(): double free detected");
}

static void *free_in_a_thread(void *p)
{
    free(p);
    return NULL; /* the thread's exit returns its cached blocks to their slabs */
}

static void double_free_after_thread_exit(void *unused)
{
    (void)unused;
    void *p = block_among_keepers(80);
    size_t usable = malloc_usable_size(p);
    pthread_t thread;
    pthread_create(&thread, NULL, free_in_a_thread, p);
    pthread_join(thread, NULL);
    expect_slab_kept(p, usable);
    free(p);
}

Test(misuse, double_free_after_the_freeing_thread_exited_aborts_at_once)
{
    expect_abort_at_once(double_free_after_thread_exit, NULL, "free(): double free detected");
}

/*
 * The first free's copy sits in another thread's cache, where no check can
 * see it, when the second free comes: that one is taken. The block is of
 * this thread's shard, so the other thread holds it on an away list (struct
 * away_list), as its last block; this thread's push relinks it, and the
 * away list's hand-back at the holder's exit finds its last link no longer
 * NULL (away_flush). The flush's own bitmap check, for copies that reach
 * the slab twice through two bins: the next test.
 */
struct holder {
    size_t size; /* of the block freed twice */
    /*
     * The holder allocates the class first, so that it keeps the block in its
     * own bin (a block of 1 KiB or more), and both threads empty their bins
     * before their free (next test).
     */
    bool keep;
    void *p;
    int go[2]; /* the main thread writes a byte when the holder may exit */
    int freed[2];
};

static void *free_and_hold(void *arg)
{
    struct holder *h = arg;
    char c = 0;
    void *own = NULL;
    if (h->keep) {
        own = malloc(h->size);
        malloc_trim(0);
    }
    free(h->p);
    if (write(h->freed[1], &c, 1) != 1 || read(h->go[0], &c, 1) != 1)
        _exit(5);
    free(own);
    return NULL;
}

/* The holder frees a block, this thread frees it again, then both copies go back. */
static void double_free_through_a_holder(void *arg)
{
    struct holder *h = arg;
    h->p = block_among_keepers(h->size);
    size_t usable = malloc_usable_size(h->p);
    char c = 0;
    if (pipe(h->go) != 0 || pipe(h->freed) != 0)
        _exit(6);
    pthread_t thread;
    pthread_create(&thread, NULL, free_and_hold, h);
    if (read(h->freed[0], &c, 1) != 1)
        _exit(5);
    if (h->keep)
        malloc_trim(0);
    free(h->p); /* the other copy is in the holder's cache: not seen */
    if (write(h->go[1], &c, 1) != 1)
        _exit(5);
    pthread_join(thread, NULL); /* the holder's copy goes back to the slab */
    expect_slab_kept(h->p, usable);
    malloc_trim(0); /* and this one follows it */
}

Test(misuse, double_free_reaching_the_slab_twice_aborts_at_once)
{
    static struct holder h = {.size = 48};
    expect_abort_at_once(double_free_through_a_holder, &h, "free(): double free detected");
}

/*
 * The same with a block of 1 KiB or more, which the other thread keeps in its
 * own bin (core/thread_cache.h, KEEP_ANY_SHARD_MIN) instead of handing it
 * back: no check at the second free can see the first copy. Both bins are
 * emptied first (malloc_trim flushes the calling thread's cache), so that
 * each copy is its bin's last block and both lists stay well formed: the
 * copies leave through two flushes (the holder's exit, then this thread's
 * trim), and only the second flush's bitmap check can catch the block.
 */
Test(misuse, double_free_of_a_block_kept_by_another_thread_aborts_in_the_flush)
{
    static struct holder h = {.size = 2048, .keep = true};
    expect_abort_at_once(double_free_through_a_holder, &h, "free(): double free detected");
}

/* Frees `p` twice with other traffic in between, as real double frees happen. */
static void double_free(void *p)
{
    free(p);
    void *other = malloc(24);
    free(other);
    free(p);
}

Test(misuse, double_free_small_aborts, .signal = SIGABRT)
{
    double_free(ours(32));
}

/*
 * The first free's block leaves the thread cache in a flush before the
 * second free: a thread cache flushes the most recently freed half of a
 * full bin, so p is freed last, onto a bin of others that is one short of
 * full, and the next free flushes it. No malloc in between may take p back.
 * Only the slab's bitmap can tell then.
 */
static void double_free_after_bin_flush(void *unused)
{
    (void)unused;
    static void *blocks[256];
    for (size_t i = 0; i < 256; i++)
        blocks[i] = malloc(48);
    void *p = block_among_keepers(48);
    size_t usable = malloc_usable_size(p);
    malloc_trim(0);                                   /* the bin starts empty */
    size_t max = 32768 / 48 < 128 ? 32768 / 48 : 128; /* the design's bin bound for 48 bytes */
    for (size_t i = 0; i < max - 1; i++)
        free(blocks[i]);
    free(p);
    free(blocks[max - 1]); /* bin full: p is flushed to its slab */
    expect_slab_kept(p, usable);
    free(p);
}

Test(misuse, double_free_small_after_flush_aborts_at_once)
{
    expect_abort_at_once(double_free_after_bin_flush, NULL, "free(): double free detected");
}

Test(misuse, double_free_large_aborts, .signal = SIGABRT)
{
    double_free(ours(100 * KiB));
}

Test(misuse, double_free_huge_aborts, .signal = SIGABRT)
{
    double_free(ours(8 * MiB));
}

/*
 * Purged by malloc_trim, a freed huge object's run is decommitted past its
 * header page (core/purge.c, purge_run_pages): read-only, not PROT_NONE, so
 * the second free still reads the run's header and aborts with the message,
 * not a SIGSEGV.
 */
static void double_free_of_a_purged_huge_object(void *unused)
{
    (void)unused;
    void *p = ours(12 * MiB);
    free(p);
    malloc_trim(0);
    free(p);
}

Test(misuse, double_free_of_a_purged_huge_object_aborts_at_once)
{
    expect_abort_at_once(double_free_of_a_purged_huge_object, NULL, "free(): ");
}

Test(misuse, interior_free_large_aborts, .signal = SIGABRT)
{
    char *p = ours(200 * KiB);
    free(p + 8192);
}

Test(misuse, interior_free_huge_aborts, .signal = SIGABRT)
{
    char *p = ours(9 * MiB);
    free(p + 5 * MiB);
}

/*
 * The last pages of a huge object's first segment have their page entries on
 * the header's second page (tag and head side by side fill 4 KiB): the object
 * must start past them, or free would read the object's own bytes as a tag.
 * The object's first 8 KiB are filled with an entry that reads as a 16-byte
 * slab (class 1, shard 0) starting at page 1008: were those bytes the map,
 * free of a block's start on pages 1008..1023 would take it into a bin.
 */
Test(misuse, interior_free_at_the_end_of_a_huge_objects_first_segment_aborts_at_once)
{
    char *p = ours(9 * MiB);
    uint32_t fake_entry = 1u | 1008u << 16;
    for (size_t i = 0; i < 8192 / sizeof fake_entry; i++)
        memcpy(p + i * sizeof fake_entry, &fake_entry, sizeof fake_entry);
    uintptr_t segment = (uintptr_t)p & ~(uintptr_t)(4 * MiB - 1);
    for (uintptr_t page = 1008; page < 1024; page += 5)
        expect_abort_at_once(free_it, (char *)(segment + page * 4096 + 64),
                             "free(): invalid pointer");
    free(p);
}

Test(misuse, interior_free_small_aborts, .signal = SIGABRT)
{
    /* Detected by free itself: the offset in the slab is no multiple of 96. */
    char *p = ours(96);
    free(p + 16);
}

Test(misuse, foreign_pointers_are_left_alone)
{
    static char in_bss[64];
    char on_stack[64];
    char *mapped = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(mapped, MAP_FAILED);
    mapped[0] = 42;
    char *live = ours(64);
    memset(live, 7, 64);
    free(in_bss);
    free(on_stack);
    free(mapped);
    cr_assert_eq(mapped[0], 42, "memory that is not ours must stay untouched");
    cr_assert_eq(malloc_usable_size(mapped), 0);
    for (size_t i = 0; i < 64; i++)
        cr_assert_eq(live[i], 7);
    free(live);
    munmap(mapped, 4096);
}

Test(misuse, key_lookalike_user_data_is_not_a_double_free)
{
    /* User data may hold anything in the second word: a freshly allocated block
     * whose second word equals the one of a freed block must free normally. */
    void **freed = ours(32);
    free(freed);
    void *lookalike = freed[1];
    void **p = ours(32);
    p[1] = lookalike;
    free(p);
    free(malloc(32));
}
