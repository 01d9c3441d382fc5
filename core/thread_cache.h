/*
 * thread_cache.h - per-thread, per-node caches of small blocks.
 *
 * Each thread has, for every node it has touched, a node_cache: one bin
 * (a singly linked list threaded through the free blocks) per small class.
 * A bin only ever holds blocks of its node: malloc takes from the bin of
 * the node it wants, free puts a block into the bin of the node that owns
 * it (from the address), so a remote free can never feed another node.
 *
 * The fast paths touch only the calling thread's own bins: no lock, no
 * atomic instruction. Bins are bounded (cache_max per class); past the
 * bound half the bin goes back to the node heap in one locked batch.
 * When the thread exits, everything goes back and the node caches are freed.
 */
#ifndef NUMA_ALLOC_THREAD_CACHE_H
#define NUMA_ALLOC_THREAD_CACHE_H

#include "core/size_class.h"
#include "policy/topology.h"

#include <stdint.h>

struct cache_bin {
    void *head;     /* free blocks, linked through their first word */
    uint32_t count; /* blocks in the list */
    uint32_t max;   /* bound: size_classes[cls].cache_max */
};

struct node_cache {
    struct cache_bin bins[NUM_SMALL_CLASSES + 1]; /* bins[0] unused */
    unsigned slot;
};

enum thread_status { THREAD_NEW = 0, THREAD_LIVE, THREAD_DEAD };

struct thread_state {
    /*
     * NULL until the thread uses that node. The extra last entry stays NULL:
     * it is the slot the cpu table names when the policy picks a slot per
     * allocation (interleave), which sends every allocation to the slow path.
     */
    struct node_cache *caches[TOPO_MAX_SLOTS + 1];
    uint32_t sequence_cursor; /* interleave: next position in placement.sequence */
    uint8_t status;           /* enum thread_status */
};

extern __thread struct thread_state thread_state __attribute__((tls_model("initial-exec")));

/*
 * A free block carries the cache link in its first word and this per-process
 * key in its second (every class is at least 16 bytes). free() of a block
 * whose second word is the key is a double free unless the word is user data
 * that happens to match; the slow path tells the two apart by searching the
 * bin. Blocks handed out get the word cleared, so the check costs one load.
 */
extern uintptr_t free_block_key;

static inline void *cache_bin_pop(struct cache_bin *bin)
{
    void **block = bin->head;
    bin->head = block[0];
    bin->count--;
    block[1] = NULL;
    return block;
}

static inline void cache_bin_push(struct cache_bin *bin, void *ptr)
{
    void **block = ptr;
    block[0] = bin->head;
    block[1] = (void *)free_block_key;
    bin->head = block;
    bin->count++;
}

/* Slow paths of the inline fast paths in alloc.h. */
void *thread_cache_alloc_slow(unsigned slot, unsigned cls);
void thread_cache_free_slow(void *block, unsigned slot, unsigned cls);

/* Returns every cached block of the calling thread to the node heaps. */
void thread_cache_flush_all(void);

/* Registers the thread-exit hook; called once from alloc_init. */
int thread_cache_init(void);

#endif
