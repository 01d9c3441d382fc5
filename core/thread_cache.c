/* thread_cache.c - cache creation, refill, flush and thread exit; see thread_cache.h. */
#include "core/thread_cache.h"

#include "core/alloc.h"
#include "core/node_heap.h"
#include "core/report.h"

#include <stdbool.h>

#include <pthread.h>

__thread struct thread_state thread_state __attribute__((tls_model("initial-exec")));

static pthread_key_t thread_exit_key;
uintptr_t free_block_key;

static unsigned node_cache_class(void)
{
    return size_class_of(sizeof(struct node_cache));
}

/* The node cache lives in its own node's heap, like the blocks it holds. */
static struct node_cache *node_cache_create(unsigned slot)
{
    void *block = NULL;
    if (heap_refill(node_heap_of(slot), node_cache_class(), 1, &block) != 1)
        return NULL;
    struct node_cache *nc = block;
    for (unsigned cls = 1; cls <= NUM_SMALL_CLASSES; cls++) {
        nc->bins[cls].head = NULL;
        nc->bins[cls].count = 0;
        nc->bins[cls].max = size_classes[cls].cache_max;
    }
    nc->slot = slot;
    return nc;
}

/* Detaches the first `count` blocks of a bin and gives them to the heap. */
static void bin_flush(struct cache_bin *bin, unsigned slot, unsigned cls, uint32_t count)
{
    if (count == 0)
        return;
    void *first = bin->head, *last = first;
    for (uint32_t i = 1; i < count; i++)
        last = *(void **)last;
    bin->head = *(void **)last;
    bin->count -= count;
    *(void **)last = NULL;
    heap_flush(node_heap_of(slot), cls, first);
}

static struct node_cache *cache_for(unsigned slot)
{
    struct thread_state *ts = &thread_state;
    if (ts->status == THREAD_DEAD || !alloc_ensure_init())
        return NULL;
    if (ts->status == THREAD_NEW) {
        /* Any non-NULL value makes pthread call the exit hook for this thread. */
        pthread_setspecific(thread_exit_key, ts);
        ts->status = THREAD_LIVE;
    }
    if (!ts->caches[slot])
        ts->caches[slot] = node_cache_create(slot);
    return ts->caches[slot];
}

void *thread_cache_alloc_slow(unsigned slot, unsigned cls)
{
    struct node_cache *nc = cache_for(slot);
    if (!nc) {
        /* Before init failed or after the thread's exit hook: no cache, one block. */
        void **block = NULL;
        if (!alloc_ensure_init() || heap_refill(node_heap_of(slot), cls, 1, (void **)&block) != 1)
            return NULL;
        block[1] = NULL;
        return block;
    }
    struct cache_bin *bin = &nc->bins[cls];
    if (!bin->head) {
        unsigned want = bin->max / 2 ? bin->max / 2 : 1;
        void *list = NULL;
        unsigned got = heap_refill(node_heap_of(slot), cls, want, &list);
        if (got == 0)
            return NULL;
        bin->head = list;
        bin->count = got;
    }
    return cache_bin_pop(bin);
}

static bool bin_contains(const struct cache_bin *bin, const void *ptr)
{
    for (void *block = bin->head; block; block = *(void **)block)
        if (block == ptr)
            return true;
    return false;
}

void thread_cache_free_slow(void *block, unsigned slot, unsigned cls)
{
    struct node_cache *nc = cache_for(slot);
    if (((void **)block)[1] == (void *)free_block_key && nc && bin_contains(&nc->bins[cls], block))
        report_invalid_pointer("free(): double free detected", block);
    if (!nc) {
        *(void **)block = NULL;
        heap_flush(node_heap_of(slot), cls, block);
        return;
    }
    struct cache_bin *bin = &nc->bins[cls];
    if (bin->count >= bin->max)
        bin_flush(bin, slot, cls, bin->count - bin->max / 2);
    cache_bin_push(bin, block);
}

static void node_cache_flush(struct node_cache *nc)
{
    for (unsigned cls = 1; cls <= NUM_SMALL_CLASSES; cls++)
        bin_flush(&nc->bins[cls], nc->slot, cls, nc->bins[cls].count);
}

void thread_cache_flush_all(void)
{
    struct thread_state *ts = &thread_state;
    for (unsigned slot = 0; slot < TOPO_MAX_SLOTS; slot++)
        if (ts->caches[slot])
            node_cache_flush(ts->caches[slot]);
}

static void thread_exit_hook(void *arg)
{
    struct thread_state *ts = arg;
    /* From now on this thread allocates and frees without a cache. */
    ts->status = THREAD_DEAD;
    for (unsigned slot = 0; slot < TOPO_MAX_SLOTS; slot++) {
        struct node_cache *nc = ts->caches[slot];
        if (!nc)
            continue;
        ts->caches[slot] = NULL;
        node_cache_flush(nc);
        *(void **)nc = NULL;
        heap_flush(node_heap_of(slot), node_cache_class(), nc);
    }
}

int thread_cache_init(void)
{
    /* Any value unlikely to be user data will do; mix in the address space layout. */
    free_block_key =
        ((uintptr_t)&free_block_key * 0x9e3779b97f4a7c15u) ^ os_now_ms() ^ 0x5a5aa5a5f00dcafeu;
    return pthread_key_create(&thread_exit_key, thread_exit_hook);
}
