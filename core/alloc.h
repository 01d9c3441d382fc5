/*
 * alloc.h - the allocator's internal entry points, and its fast paths.
 *
 * malloc of a small size:  size -> class, thread's CPU -> slot (rseq),
 *   pop the thread's bin for (slot, class). No lock, no atomic.
 * free of a small block:   address -> segment header -> page tag (class and
 *   shard); the address must be a block's start (is_block_start: a multiply
 *   and a compare) and the block not marked free (na_free_block_key); address
 *   -> owning slot, push onto the thread's bin for (slot, class) if the
 *   block's slab is of the thread's shard. Anything else goes to free_slow,
 *   which tells a large or huge block from an invalid pointer and aborts on
 *   the latter: an interior pointer never enters a bin.
 * Everything else (empty or full bins, large and huge objects, foreign
 * pointers, first use) goes to the slow paths in alloc.c, which call into
 * thread_cache.c for the small blocks.
 */
#ifndef NUMA_ALLOC_ALLOC_H
#define NUMA_ALLOC_ALLOC_H

#include "base/compiler.h"
#include "core/layout.h"
#include "core/size_class.h"
#include "core/thread_cache.h"
#include "policy/current_node.h"

#include <stdbool.h>
#include <stddef.h>

/*
 * Initialises on first use (one attempt, ever); true when the allocator is
 * ready. False for good when the start failed: then every call is the C
 * library's (alloc_start_failed) and alloc_start_failure() says why.
 */
bool alloc_ensure_init(void);
bool alloc_start_failed(void);
/* Why the start failed, for the statistics; NULL unless it did. */
const char *alloc_start_failure(void);

/*
 * General paths: any size, alignment, zeroing. NULL + errno on failure.
 * alloc_on_slot: exactly that slot, no fallback.
 * alloc_on_node: that slot, then the fallbacks (numa_malloc & co, realloc).
 * alloc_placed:  the slot the policy gives the calling thread, then fallbacks.
 */
void *alloc_on_slot(unsigned slot, size_t size, size_t alignment, bool zero);
void *alloc_on_node(unsigned slot, size_t size, size_t alignment, bool zero);
void *alloc_placed(size_t size, size_t alignment, bool zero);
/* The fast paths' exits, cold where they are defined (base/compiler.h). */
void *alloc_slow(size_t size);
void free_slow(void *ptr);
/*
 * The small blocks' slow paths (a miss in the thread's bin, a free the bin
 * does not take): start the allocator (alloc), tick the live statistics,
 * then the thread cache's slow path. A pointer in the region implies a
 * started allocator (init_once publishes na_region.size last).
 */
void *alloc_small_slow(unsigned slot, unsigned cls);
void free_small_slow(void *ptr, unsigned slot, unsigned tag);
void *alloc_realloc(void *ptr, size_t size);
/*
 * Usable bytes of a block of ours; 0 for NULL, foreign pointers and pointers
 * that are no block's start (interior, a slab's tail), where glibc's result
 * is undefined: 0 is the answer no caller can overrun.
 */
size_t alloc_usable_size(const void *ptr);
/* Slot owning ptr, or -1 when it is not a live block of ours. */
int alloc_owner_slot(const void *ptr);
/* malloc_trim: flush this thread's caches and purge every heap; true if memory was released. */
bool alloc_trim(void);
/*
 * The program set its own address-space limit to `limit` bytes (RLIMIT_AS,
 * interpose/rlimit.c; SIZE_MAX: none): the heaps give back what they hold
 * reserved and do not use, and reserve as they grow from then on; a limit
 * raised (or removed) past what keeps the kernel out of the ranges given
 * back has them reserved again. When a limit is too large to give back
 * for, one line, once, if what stays reserved leaves the program less than
 * glibc's malloc would (with `say`: RLIMIT_AS's own; mlockall's caller says
 * its own).
 */
void alloc_address_limit_set(size_t limit, bool say);
/*
 * RLIMIT_MEMLOCK in bytes while mlockall(MCL_FUTURE) binds the process
 * (interpose/rlimit.c), which counts every later mapping against it; SIZE_MAX
 * when nothing does. A fork's child is not locked (the kernel does not pass
 * MCL_FUTURE on): its heaps then follow RLIMIT_AS alone.
 */
void alloc_future_lock_set(size_t limit);
size_t alloc_future_lock(void);

/* From the thread's cache for `slot`, any slot (numa_malloc: no policy, no route). */
static inline void *alloc_small(unsigned slot, unsigned cls)
{
    struct node_cache *nc = thread_cache_of(slot);
    if (likely(nc != NULL)) {
        struct cache_bin *bin = &nc->bins[cls];
        /* Never to 0 here: a sample due goes to the slow path first (alloc_on_slot). */
        if (likely(bin->head != NULL && bin->countdown > 1)) {
            COUNT(bin->countdown, -1);
            return cache_bin_pop(bin);
        }
    }
    return alloc_small_slow(slot, cls);
}

/*
 * The pop of malloc's fast path, for a thread on a CPU of `route`: NULL for
 * anything but a hit. A thread with a cache implies an initialised
 * allocator, so the class tables are valid. A thread found on another node
 * than at its last allocation misses too (thread_cache_note_move books the
 * move on the slow path).
 */
static inline void *alloc_small_routed(struct cpu_route route, size_t size)
{
    struct thread_state *ts = &na_thread_state;
    struct node_cache *nc = ts->caches[route.slot];
    if (likely(nc != NULL && route.home == ts->home)) {
        struct cache_bin *bin = &nc->bins[size_class_of(size)];
        void **block = bin->head;
        /* A pop that makes the countdown 0 is sampled: alloc_slow (struct cache_bin). */
        if (likely(block != NULL) && likely(cache_bin_take(bin)))
            return cache_bin_pop_head(bin, block);
    }
    return NULL;
}

/*
 * Every exit that is not a cache hit is a tail call to alloc_slow: no
 * registers to save on the hit. The CPU is rseq's word, taken as is, and
 * with the routes' generation it must make the key of the thread's route
 * (struct thread_state: route_key), which names the cache its route gave:
 * one compare where the route table, the cache table and the home were
 * read (malloc 35 -> 28 instructions). Anything else (another CPU, a move, new
 * routes, a CPU no entry of the table has: no rseq, a CPU hot-plugged since
 * the start) goes to alloc_slow, which finds the route the slow way and
 * refreshes the key (thread_cache_route_refresh).
 */
static inline void *alloc_fast(size_t size)
{
    if (likely(size <= SMALL_MAX)) {
        const struct thread_state *ts = &na_thread_state;
        uint64_t key = __atomic_load_n(&na_route_generation, __ATOMIC_RELAXED) | current_cpu_word();
        if (likely(key == ts->route_key)) {
            NA_ASSERT(ts->route_cache != NULL && ts->status == THREAD_LIVE);
            struct cache_bin *bin = &ts->route_cache->bins[size_class_of(size)];
            void **block = bin->head;
            /* A pop that makes the countdown 0 is sampled: alloc_slow (struct cache_bin). */
            if (likely(block != NULL) && likely(cache_bin_take(bin)))
                return cache_bin_pop_head(bin, block);
        }
    }
    return alloc_slow(size);
}

static inline void free_fast(void *ptr)
{
    if (likely(region_contains(ptr))) {
        struct segment *seg = segment_of(ptr);
        const struct page_entry *page = page_entry_at(seg, ptr);
        unsigned cls = page->cls;
        /* Never true for class 0 (no slab's page): its magic has no block. */
        if (likely(is_block_start(seg, ptr, page))) {
            /* A slab page, so a SEG_PAGES segment: no cache here for slots past the table. */
            struct node_cache *nc = na_thread_state.caches[seg->cache_index];
            if (likely(nc != NULL)) {
                struct cache_bin *bin = &nc->bins[cls];
                if (likely(bin->count < bin->max && page->shard == na_thread_state.shard &&
                           ((void **)ptr)[1] != (void *)na_free_block_key)) {
                    count_one(&bin->nfree);
                    cache_bin_push(bin, ptr);
                    return;
                }
            }
            free_small_slow(ptr, slot_of_ptr(ptr), page->tag);
            return;
        }
    }
    free_slow(ptr);
}

#endif
