/*
 * young_arena.h - a young program's mid-size blocks, sharing pages.
 *
 * Size classes keep each class's blocks in slabs of their own. A program
 * that starts by allocating a few blocks of many mid-size classes (above
 * YOUNG_MIN bytes: Python's start-up makes and frees them by the hundred) so
 * holds a partly used slab per class, about 250 KiB more than glibc's one
 * heap (docs/benchmarks.md, session 43). So the first YOUNG_CAP bytes of
 * such requests a node heap serves come from one arena of YOUNG_ARENA_BYTES,
 * a page run of that heap, carved with boundary tags and coalesced on free
 * (glibc's way): blocks of every size share its pages. Once the arena is
 * full or has served its YOUNG_CAP, it closes: later requests go to the size
 * classes, its free chunks' pages go back to the system (and each block
 * freed later, once its neighbours are merged), and it stays only for the
 * frees of the blocks it still holds.
 *
 * Placement: the arena is a page run of its node's heap, so its blocks lie
 * where that heap's do; a request reaches it only for the slot the policy
 * chose (core/alloc.c, alloc_placed), never for a named node, an aligned
 * request, a sampled one (the profile) or a heap with huge pages (purging
 * inside it would split them).
 *
 * Concurrency: one lock per arena (struct young_slot). malloc only tries
 * it: a thread that finds it held is served by the size classes, so threads
 * that start together do not queue on it. free takes it. It is a leaf: no
 * other lock is taken under it.
 */
#ifndef NUMA_ALLOC_YOUNG_ARENA_H
#define NUMA_ALLOC_YOUNG_ARENA_H

#include "base/lock.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Requests of more than this many bytes (and at most SMALL_MAX) go to an open arena. */
#define YOUNG_MIN 512u
/* An arena's page run; its first YOUNG_HEADER_BYTES are its own (struct young_arena). */
#define YOUNG_ARENA_BYTES ((size_t)1 << 20)
/* Bytes of requests an arena serves in all before it closes. */
#define YOUNG_CAP ((size_t)1 << 20)

enum young_state {
    YOUNG_UNBORN = 0, /* no arena yet: the first request that may use one makes it */
    YOUNG_MAKING,     /* one thread is making it; the others go to the size classes */
    YOUNG_OPEN,       /* serving */
    YOUNG_CLOSED,     /* full, or served its YOUNG_CAP: frees only */
    YOUNG_NEVER,      /* none was made (no memory, huge pages) and none will be */
};

/*
 * A node heap's arena (struct node_heap: young). Invariants: `base` is NULL
 * until state first leaves YOUNG_MAKING for YOUNG_OPEN, then set for good
 * (stored before the state, release); state only moves forward, UNBORN ->
 * MAKING -> OPEN -> CLOSED, or to NEVER from UNBORN or MAKING. The arena's
 * own fields (struct young_arena, in young_arena.c) change only under lock.
 */
struct young_slot {
    na_lock_t lock;
    uint8_t state;         /* enum young_state; read without the lock (atomic) */
    char *base;            /* the arena's page run */
    uint64_t purged_bytes; /* given back to the system since it closed (atomic reads) */
};

struct node_heap;

/* Is ptr inside heap's arena (a block of it, or not)? The caller knows heap is ready. */
static inline bool young_holds(const struct young_slot *young, const void *ptr)
{
    const char *base = __atomic_load_n(&young->base, __ATOMIC_ACQUIRE);
    return base && (const char *)ptr >= base && (const char *)ptr < base + YOUNG_ARENA_BYTES;
}

/* May a request of `size` bytes try heap's arena? (alignment 0: malloc's own.) */
static inline bool young_may_serve(const struct young_slot *young, size_t size)
{
    return size > YOUNG_MIN && __atomic_load_n(&young->state, __ATOMIC_RELAXED) <= YOUNG_OPEN;
}

/* A block of `size` bytes from heap's arena, or NULL: closed, busy, no room. *usable: its bytes. */
void *young_alloc(struct node_heap *heap, size_t size, size_t *usable);
/*
 * Frees a block of heap's arena (young_holds) and returns its usable bytes;
 * reports a pointer that is no live block (freed, or not a block's start).
 */
size_t young_free(struct node_heap *heap, void *ptr);
/* The usable bytes of a live block of heap's arena; 0 for anything else inside it. */
size_t young_usable_size(struct node_heap *heap, const void *ptr);
/*
 * malloc_trim: heap's arena closes, if open (its free chunks' pages go back);
 * if none was made, none will be.
 */
void young_close(struct node_heap *heap);
#ifdef NUMA_ALLOC_DEBUG
/*
 * Debug builds (interpose/debug_api.c, for the fuzzer): every ready heap's
 * arena serves again, as if young: one closed is reopened with nothing
 * served (its blocks and free chunks as they are: closed or open, an arena
 * keeps the same invariants); where none was made (or none would be after
 * malloc_trim), one is made on the next request. Returns how many changed.
 */
unsigned young_reopen_all(void);
#endif

/*
 * The heap check (core/heap_check.c): walks heap's arena, under its lock, and
 * returns what is wrong, or NULL; *where is set to where it is wrong.
 */
const char *young_check(struct node_heap *heap, const void **where);

#endif
