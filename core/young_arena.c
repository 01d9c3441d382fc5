/* young_arena.c - a young program's mid-size blocks, sharing pages; see young_arena.h. */
#include "core/young_arena.h"

#include "base/bitmap.h"
#include "base/debug.h"
#include "base/os.h"
#include "base/report.h"
#include "core/hugepages.h"
#include "core/layout.h"
#include "core/node_heap.h"
#include "core/size_class.h"
#include "policy/capabilities.h"

#include <string.h>

/*
 * A chunk: a block in use or a free stretch, its size a multiple of
 * CHUNK_ALIGN. The block a caller gets starts CHUNK_OVERHEAD bytes in and
 * runs to the next chunk. Invariants (young_check): the chunks tile the
 * arena from its first to `top`, where a header of size 0 stands (the rest
 * is untouched, or purged); PREV_INUSE of each is the INUSE of the one
 * before (the first's is set); a free chunk's size is also in its next
 * chunk's prev_size, it is on the bin of its size, and no two free chunks
 * are neighbours (nor is one just below top); a chunk is in use exactly
 * when its block's bit is set in `starts`.
 */
struct chunk {
    size_t prev_size;      /* the previous chunk's size, when that one is free */
    size_t head;           /* size | INUSE | PREV_INUSE */
    struct chunk *fd, *bk; /* free chunks only: its bin's list */
};

#define INUSE          ((size_t)1)
#define PREV_INUSE     ((size_t)2)
#define CHUNK_OVERHEAD (2 * sizeof(size_t))
#define CHUNK_ALIGN    16u
#define MIN_CHUNK      ((size_t)sizeof(struct chunk))
#define NBINS          128u
#define START_BITS     (YOUNG_ARENA_BYTES / CHUNK_ALIGN)

/*
 * The arena's own fields, at the start of its page run. Free chunks are
 * listed by size: 16-byte steps to 1 KiB, then four bins per doubling
 * (bin_of); `nonempty` says which lists hold any. `starts`: one bit per
 * CHUNK_ALIGN bytes of the arena, set where a block in use starts, so that
 * free and realloc tell a block from any other pointer into the arena (a
 * freed one, an interior one) without trusting the bytes before it.
 */
struct young_arena {
    char *top;     /* the first byte past the chunks: a size-0 header is there */
    char *high;    /* the highest top was: the pages past it were never touched */
    size_t served; /* bytes requested so far */
    struct chunk *bins[NBINS];
    uint64_t nonempty[BITMAP_WORDS(NBINS)];
    uint64_t starts[BITMAP_WORDS(START_BITS)];
};

#define YOUNG_HEADER_BYTES                                                                         \
    ((sizeof(struct young_arena) + OS_PAGE_SIZE - 1) & ~(size_t)(OS_PAGE_SIZE - 1))
_Static_assert(YOUNG_ARENA_BYTES <= LARGE_MAX && YOUNG_ARENA_BYTES % OS_PAGE_SIZE == 0,
               "the arena is one page run");

static struct young_arena *arena_of(struct node_heap *heap)
{
    return (struct young_arena *)heap->young.base;
}

static char *first_chunk(struct young_arena *arena)
{
    return (char *)arena + YOUNG_HEADER_BYTES;
}

static char *arena_end(struct young_arena *arena)
{
    return (char *)arena + YOUNG_ARENA_BYTES;
}

static size_t chunk_size(const struct chunk *c)
{
    return c->head & ~(INUSE | PREV_INUSE);
}

static struct chunk *next_chunk(struct chunk *c)
{
    return (struct chunk *)((char *)c + chunk_size(c));
}

static struct chunk *chunk_of_block(const void *block)
{
    return (struct chunk *)((uintptr_t)block - CHUNK_OVERHEAD);
}

/*
 * A block's usable bytes: its class's size. The chunk may be CHUNK_ALIGN
 * bigger (a free chunk's rest too small to split off), never a class more.
 */
static size_t block_usable(const struct chunk *c)
{
    size_t room = chunk_size(c) - CHUNK_OVERHEAD;
    if (room > SMALL_MAX)
        return SMALL_MAX;
    unsigned cls = size_class_of(room);
    return na_size_classes[cls].size == room ? room : na_size_classes[cls - 1].size;
}

static size_t start_bit(struct young_arena *arena, const void *block)
{
    return (size_t)((const char *)block - (const char *)arena) / CHUNK_ALIGN;
}

/* Is `block` the start of a block in use? Anything else in the arena is not. */
static bool is_live_block(struct young_arena *arena, const void *block)
{
    return (uintptr_t)block % CHUNK_ALIGN == 0 &&
           (const char *)block >= first_chunk(arena) + CHUNK_OVERHEAD &&
           (const char *)block < arena->top && bitmap_test(arena->starts, start_bit(arena, block));
}

/*
 * For the message of a free that is no live block's: does ptr lie in free
 * space (a free chunk, or past top), as a block freed before does? A walk of
 * the chunks: that free aborts anyway.
 */
static bool in_free_space(struct young_arena *arena, const void *ptr)
{
    const char *p = ptr;
    if (p < first_chunk(arena) || p >= arena_end(arena))
        return false;
    if (p >= arena->top)
        return true;
    char *at = first_chunk(arena);
    while (at + chunk_size((struct chunk *)at) <= p)
        at += chunk_size((struct chunk *)at);
    return !(((struct chunk *)at)->head & INUSE);
}

static unsigned bin_of(size_t size)
{
    if (size <= 1024)
        return (unsigned)(size >> 4); /* MIN_CHUNK / 16 = 2 .. 64 */
    unsigned log = 63u - (unsigned)__builtin_clzll(size);
    unsigned bin = 65u + (log - 10u) * 4u + (unsigned)((size >> (log - 2)) & 3u);
    return bin < NBINS ? bin : NBINS - 1;
}

static void bin_push(struct young_arena *arena, struct chunk *c)
{
    unsigned bin = bin_of(chunk_size(c));
    c->bk = NULL;
    c->fd = arena->bins[bin];
    if (c->fd)
        c->fd->bk = c;
    arena->bins[bin] = c;
    bitmap_set(arena->nonempty, bin);
}

static void bin_unlink(struct young_arena *arena, struct chunk *c)
{
    unsigned bin = bin_of(chunk_size(c));
    if (c->bk)
        c->bk->fd = c->fd;
    else
        arena->bins[bin] = c->fd;
    if (c->fd)
        c->fd->bk = c->bk;
    if (!arena->bins[bin])
        bitmap_clear(arena->nonempty, bin);
}

/*
 * A free chunk of at least `need` bytes, unlinked; NULL if none. Its own bin
 * is searched first fit; any chunk of a higher bin is big enough.
 */
static struct chunk *bin_take(struct young_arena *arena, size_t need)
{
    unsigned bin = bin_of(need);
    for (struct chunk *c = arena->bins[bin]; c; c = c->fd)
        if (chunk_size(c) >= need) {
            bin_unlink(arena, c);
            return c;
        }
    for (bin++; bin < NBINS; bin++) {
        uint64_t word = arena->nonempty[bin / 64] >> (bin % 64);
        if (!word) {
            bin = (bin / 64 + 1) * 64 - 1; /* the next word */
            continue;
        }
        bin += (unsigned)__builtin_ctzll(word);
        struct chunk *c = arena->bins[bin];
        bin_unlink(arena, c);
        return c;
    }
    return NULL;
}

/*
 * Gives back the whole pages inside [from, to); counts those of them inside
 * [own_from, own_to), the bytes just freed (the rest was given back with an
 * earlier free, or at the close).
 */
static void purge_inside(struct node_heap *heap, char *from, char *to, char *own_from, char *own_to)
{
    uintptr_t lo = ((uintptr_t)from + OS_PAGE_SIZE - 1) & ~(uintptr_t)(OS_PAGE_SIZE - 1);
    uintptr_t hi = (uintptr_t)to & ~(uintptr_t)(OS_PAGE_SIZE - 1);
    if (hi <= lo)
        return;
    if (os_purge((void *)lo, hi - lo) != 0) {
        placement_fault_count(heap->node, FAULT_PURGE);
        return;
    }
    uintptr_t own_lo = lo > (uintptr_t)own_from ? lo : (uintptr_t)own_from;
    uintptr_t own_hi = hi < (uintptr_t)own_to ? hi : (uintptr_t)own_to;
    if (own_hi > own_lo)
        __atomic_store_n(&heap->young.purged_bytes,
                         heap->young.purged_bytes + ((own_hi - own_lo) & ~(OS_PAGE_SIZE - 1)),
                         __ATOMIC_RELAXED);
}

/*
 * The pages of a free chunk, past its own header, go back: those of it
 * within a page of [own_from, own_to), the bytes just freed; the rest of it
 * went back before (the close purged every free chunk, and each free since
 * its own pages).
 */
static void purge_free_chunk(struct node_heap *heap, struct chunk *c, char *own_from, char *own_to)
{
    char *from = (char *)c + sizeof(struct chunk), *to = (char *)c + chunk_size(c);
    if (own_from - OS_PAGE_SIZE > from)
        from = own_from - OS_PAGE_SIZE;
    if (own_to + OS_PAGE_SIZE < to)
        to = own_to + OS_PAGE_SIZE;
    purge_inside(heap, from, to, own_from, own_to);
}

static void close_arena(struct node_heap *heap, struct young_arena *arena)
{
    NA_ASSERT_HELD(&heap->young.lock);
    __atomic_store_n(&heap->young.state, YOUNG_CLOSED, __ATOMIC_RELAXED);
    for (unsigned bin = 0; bin < NBINS; bin++)
        for (struct chunk *c = arena->bins[bin]; c; c = c->fd)
            purge_free_chunk(heap, c, (char *)c, (char *)c + chunk_size(c));
    purge_inside(heap, arena->top + sizeof(struct chunk), arena_end(arena), arena->top,
                 arena->high + sizeof(struct chunk));
}

/*
 * Makes heap's arena, a page run of its own heap; false (for good: NEVER)
 * when there is no memory for it or it would lie in huge pages. Called
 * by the one thread that moved the state to MAKING.
 */
static bool make_arena(struct node_heap *heap)
{
    bool zeroed;
    char *base = heap_alloc_large(heap, YOUNG_ARENA_BYTES, 0, &zeroed, false);
    if (!base)
        return false;
    if (hugetlb_covers((uintptr_t)base) || hugepages_covers((uintptr_t)base)) {
        struct segment *seg = segment_of(base);
        heap_free_large(heap, seg, span_of_ptr(seg, base));
        return false;
    }
    struct young_arena *arena = (struct young_arena *)base;
    if (!zeroed)
        memset(arena, 0, sizeof *arena);
    arena->top = arena->high = first_chunk(arena);
    ((struct chunk *)arena->top)->head = PREV_INUSE;
    __atomic_store_n(&heap->young.base, base, __ATOMIC_RELEASE);
    return true;
}

/*
 * Is the arena open? Makes it first if none was: outside the lock, which
 * stays a leaf (the page run is taken under pages_lock); the state keeps
 * other threads out meanwhile.
 */
static bool arena_open(struct node_heap *heap)
{
    uint8_t state = __atomic_load_n(&heap->young.state, __ATOMIC_ACQUIRE);
    if (state == YOUNG_UNBORN) {
        if (!__atomic_compare_exchange_n(&heap->young.state, &state, YOUNG_MAKING, false,
                                         __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
            return NULL;
        state = make_arena(heap) ? YOUNG_OPEN : YOUNG_NEVER;
        __atomic_store_n(&heap->young.state, state, __ATOMIC_RELEASE);
    }
    return state == YOUNG_OPEN;
}

/* Carves `need` bytes for a block: from a free chunk (split if the rest is a chunk), or top. */
static struct chunk *carve(struct young_arena *arena, size_t need)
{
    struct chunk *c = bin_take(arena, need);
    if (c) {
        size_t have = chunk_size(c);
        if (have - need >= MIN_CHUNK) { /* split: the rest stays free */
            struct chunk *rest = (struct chunk *)((char *)c + need);
            rest->head = (have - need) | PREV_INUSE;
            next_chunk(rest)->prev_size = have - need;
            bin_push(arena, rest);
            c->head = need | INUSE | (c->head & PREV_INUSE);
        } else {
            c->head |= INUSE;
            next_chunk(c)->head |= PREV_INUSE;
        }
        return c;
    }
    if (arena->top + need + sizeof(struct chunk) > arena_end(arena))
        return NULL;
    c = (struct chunk *)arena->top;
    c->head = need | INUSE | PREV_INUSE; /* no free chunk lies just below top */
    arena->top += need;
    ((struct chunk *)arena->top)->head = PREV_INUSE;
    if (arena->top > arena->high)
        arena->high = arena->top;
    return c;
}

void *young_alloc(struct node_heap *heap, size_t size, size_t *usable)
{
    NA_ASSERT(size > YOUNG_MIN);
    if (!arena_open(heap) || !na_trylock(&heap->young.lock))
        return NULL; /* none, or another thread is in it: the size classes serve */
    struct young_arena *arena = arena_of(heap);
    if (__atomic_load_n(&heap->young.state, __ATOMIC_RELAXED) != YOUNG_OPEN) {
        na_unlock(&heap->young.lock); /* closed meanwhile */
        return NULL;
    }
    /*
     * A block's usable size is its class's, here as in a slab: realloc,
     * malloc_usable_size and the statistics (mallinfo2's exact bytes) read
     * the same wherever it was served.
     */
    size_t need = na_size_classes[size_class_of(size)].size + CHUNK_OVERHEAD;
    struct chunk *c = arena->served + size <= YOUNG_CAP ? carve(arena, need) : NULL;
    if (!c) {
        close_arena(heap, arena);
        na_unlock(&heap->young.lock);
        return NULL;
    }
    arena->served += size;
    *usable = block_usable(c);
    void *block = (char *)c + CHUNK_OVERHEAD;
    bitmap_set(arena->starts, start_bit(arena, block));
    na_unlock(&heap->young.lock);
    return block;
}

size_t young_free(struct node_heap *heap, void *ptr)
{
    na_lock(&heap->young.lock);
    struct young_arena *arena = arena_of(heap);
    if (!is_live_block(arena, ptr)) {
        bool freed = in_free_space(arena, ptr);
        na_unlock(&heap->young.lock);
        report_invalid_pointer(freed ? "free(): double free detected" : "free(): invalid pointer",
                               ptr);
    }
    bitmap_clear(arena->starts, start_bit(arena, ptr));
    struct chunk *c = chunk_of_block(ptr);
    char *own_from = (char *)c, *own_to = (char *)c + chunk_size(c);
    size_t size = chunk_size(c), usable = block_usable(c);
    struct chunk *next = next_chunk(c);
    if (!(c->head & PREV_INUSE)) { /* the chunk before is free: they merge */
        struct chunk *prev = (struct chunk *)((char *)c - c->prev_size);
        bin_unlink(arena, prev);
        size += chunk_size(prev);
        c = prev;
    }
    bool closed = __atomic_load_n(&heap->young.state, __ATOMIC_RELAXED) == YOUNG_CLOSED;
    if ((char *)next == arena->top) { /* into top, which stays untouched (or purged) */
        char *old_top = arena->top;
        arena->top = (char *)c;
        ((struct chunk *)arena->top)->head = PREV_INUSE;
        /* Past the old top's header, the pages went back when it closed. */
        char *purged_from = old_top + sizeof(struct chunk) + OS_PAGE_SIZE;
        char *from = arena->top + sizeof(struct chunk);
        if (own_from - OS_PAGE_SIZE > from) /* below it, the pages went back before */
            from = own_from - OS_PAGE_SIZE;
        if (closed)
            purge_inside(heap, from,
                         purged_from < arena_end(arena) ? purged_from : arena_end(arena), own_from,
                         own_to);
        na_unlock(&heap->young.lock);
        return usable;
    }
    if (!(next->head & INUSE)) {
        bin_unlink(arena, next);
        size += chunk_size(next);
    }
    c->head = size | PREV_INUSE;
    next = next_chunk(c);
    next->prev_size = size;
    next->head &= ~PREV_INUSE;
    bin_push(arena, c);
    if (closed)
        purge_free_chunk(heap, c, own_from, own_to);
    na_unlock(&heap->young.lock);
    return usable;
}

size_t young_usable_size(struct node_heap *heap, const void *ptr)
{
    na_lock(&heap->young.lock);
    struct young_arena *arena = arena_of(heap);
    size_t usable = is_live_block(arena, ptr) ? block_usable(chunk_of_block(ptr)) : 0;
    na_unlock(&heap->young.lock);
    return usable;
}

void young_close(struct node_heap *heap)
{
    uint8_t unborn = YOUNG_UNBORN;
    if (__atomic_compare_exchange_n(&heap->young.state, &unborn, YOUNG_NEVER, false,
                                    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        return;
    if (__atomic_load_n(&heap->young.state, __ATOMIC_ACQUIRE) != YOUNG_OPEN)
        return;
    na_lock(&heap->young.lock);
    if (__atomic_load_n(&heap->young.state, __ATOMIC_RELAXED) == YOUNG_OPEN)
        close_arena(heap, arena_of(heap));
    na_unlock(&heap->young.lock);
}

#ifdef NUMA_ALLOC_DEBUG
unsigned young_reopen_all(void)
{
    unsigned reopened = 0;
    for (unsigned slot = 0; slot < na_region.num_slots; slot++) {
        if (!heap_is_ready(slot))
            continue;
        struct node_heap *heap = node_heap_of(slot);
        na_lock(&heap->young.lock);
        uint8_t state = __atomic_load_n(&heap->young.state, __ATOMIC_ACQUIRE);
        if (state == YOUNG_CLOSED) { /* its chunks and bins are as they would be open */
            arena_of(heap)->served = 0;
            __atomic_store_n(&heap->young.state, YOUNG_OPEN, __ATOMIC_RELEASE);
            reopened++;
        } else if (state == YOUNG_NEVER && !heap->young.base) {
            __atomic_store_n(&heap->young.state, YOUNG_UNBORN, __ATOMIC_RELEASE);
            reopened++;
        }
        na_unlock(&heap->young.lock);
    }
    return reopened;
}
#endif

/* ---- the heap check -------------------------------------------------------- */

#define YOUNG_CHECK(cond, what, at)                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            *where = (at);                                                                         \
            return (what);                                                                         \
        }                                                                                          \
    } while (0)

/* The first set bit of `map` in [from, to), or `to` if none: a word at a time. */
static size_t first_set_bit(const uint64_t *map, size_t from, size_t to)
{
    while (from < to) {
        uint64_t word = map[from / 64] >> (from % 64);
        if (word) {
            size_t bit = from + (size_t)__builtin_ctzll(word);
            return bit < to ? bit : to;
        }
        from = (from / 64 + 1) * 64;
    }
    return to;
}

/*
 * Every bin's list: free chunks of its sizes, linked both ways, `nonempty`
 * agreeing. Each listed chunk's block bit is set meanwhile (it has none: it
 * is free), so that the walk of the chunks (check_chunks) finds every free
 * chunk listed, and none listed twice, in one pass; the walk clears them.
 */
static const char *check_bins(struct young_arena *arena, const void **where)
{
    size_t listed = 0;
    for (unsigned bin = 0; bin < NBINS; bin++) {
        YOUNG_CHECK(!arena->bins[bin] == !bitmap_test(arena->nonempty, bin),
                    "young arena: nonempty bit disagrees with its bin", &arena->bins[bin]);
        const struct chunk *before = NULL;
        for (struct chunk *c = arena->bins[bin]; c; before = c, c = c->fd) {
            YOUNG_CHECK((char *)c >= first_chunk(arena) && (char *)c < arena->top &&
                            (uintptr_t)c % CHUNK_ALIGN == 0,
                        "young arena: binned chunk outside the chunks", c);
            YOUNG_CHECK(!(c->head & INUSE) && bin_of(chunk_size(c)) == bin,
                        "young arena: binned chunk in use or in another size's bin", c);
            YOUNG_CHECK(c->bk == before, "young arena: bin list's back link broken", c);
            size_t bit = start_bit(arena, (char *)c + CHUNK_OVERHEAD);
            YOUNG_CHECK(!bitmap_test(arena->starts, bit),
                        "young arena: binned chunk listed twice, or a block's start", c);
            bitmap_set(arena->starts, bit);
            YOUNG_CHECK(++listed <= START_BITS, "young arena: bin list loops", c);
        }
    }
    return NULL;
}

/*
 * Walks the chunks from the first to top (struct chunk's invariants), after
 * check_bins marked the listed ones: every chunk's block bit is set, and no
 * other bit inside it.
 */
static const char *check_chunks(struct young_arena *arena, const void **where)
{
    char *at = first_chunk(arena);
    bool prev_in_use = true;
    while (at < arena->top) {
        struct chunk *c = (struct chunk *)at;
        size_t size = chunk_size(c);
        bool in_use = c->head & INUSE;
        YOUNG_CHECK(size >= MIN_CHUNK && size % CHUNK_ALIGN == 0 && at + size <= arena->top,
                    "young arena: chunk size out of bounds", c);
        YOUNG_CHECK(!(c->head & PREV_INUSE) == !prev_in_use,
                    "young arena: PREV_INUSE disagrees with the chunk before", c);
        size_t bit = start_bit(arena, at + CHUNK_OVERHEAD);
        YOUNG_CHECK(bitmap_test(arena->starts, bit),
                    in_use ? "young arena: block in use without its start bit"
                           : "young arena: free chunk not on its bin",
                    c);
        size_t inside = first_set_bit(arena->starts, bit + 1, bit + size / CHUNK_ALIGN);
        YOUNG_CHECK(inside == bit + size / CHUNK_ALIGN,
                    "young arena: block start bit inside a chunk, or a chunk binned there",
                    (char *)arena + inside * CHUNK_ALIGN);
        if (!in_use) {
            YOUNG_CHECK(prev_in_use, "young arena: two free chunks side by side", c);
            YOUNG_CHECK(next_chunk(c)->prev_size == size,
                        "young arena: free chunk's size not in its next chunk's prev_size", c);
            bitmap_clear(arena->starts, bit); /* check_bins' mark */
        }
        prev_in_use = in_use;
        at += size;
    }
    YOUNG_CHECK(at == arena->top, "young arena: chunks overrun top", at);
    YOUNG_CHECK(prev_in_use, "young arena: free chunk just below top", at);
    YOUNG_CHECK(chunk_size((struct chunk *)at) == 0 && (((struct chunk *)at)->head & PREV_INUSE),
                "young arena: top's header is not a size-0 chunk after one in use", at);
    size_t past = first_set_bit(arena->starts, start_bit(arena, at + CHUNK_OVERHEAD), START_BITS);
    YOUNG_CHECK(past == START_BITS, "young arena: block start bit past top",
                (char *)arena + past * CHUNK_ALIGN);
    return NULL;
}

const char *young_check(struct node_heap *heap, const void **where)
{
    uint8_t state = __atomic_load_n(&heap->young.state, __ATOMIC_ACQUIRE);
    YOUNG_CHECK(state <= YOUNG_NEVER, "young arena: state out of range", &heap->young);
    YOUNG_CHECK((heap->young.base != NULL) == (state == YOUNG_OPEN || state == YOUNG_CLOSED) ||
                    state == YOUNG_MAKING,
                "young arena: base set without an arena, or missing", &heap->young);
    if (state != YOUNG_OPEN && state != YOUNG_CLOSED)
        return NULL;
    na_lock(&heap->young.lock);
    struct young_arena *arena = arena_of(heap);
    const char *wrong = NULL;
    *where = arena;
    if (arena->top < first_chunk(arena) || arena->top > arena->high ||
        arena->high + sizeof(struct chunk) > arena_end(arena))
        wrong = "young arena: top or its highest outside the arena";
    else if (arena->served > YOUNG_CAP)
        wrong = "young arena: served past its cap";
    if (!wrong)
        wrong = check_bins(arena, where);
    if (!wrong)
        wrong = check_chunks(arena, where);
    na_unlock(&heap->young.lock);
    return wrong;
}
