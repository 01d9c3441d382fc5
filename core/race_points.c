/* race_points.c - the race points' hook and hand-back (debug builds); see race_points.h. */
#include "core/race_points.h"

#ifdef NUMA_ALLOC_DEBUG
#include "core/layout.h"
#include "core/node_heap.h"
#include "core/size_class.h"
#include "core/thread_cache.h"

race_hook_fn na_race_hook;

/* The (class, shard) tag of a block start of ours; 0 for anything else. */
static unsigned block_tag(void *block)
{
    if (!block || !region_contains(block))
        return 0;
    const struct segment *seg = segment_of(block);
    const struct page_entry *page = page_entry_at(seg, block);
    if (!page->tag || !is_block_start(seg, block, page))
        return 0;
    return ((void **)block)[1] != (void *)na_free_block_key ? page->tag : 0; /* not free already */
}

unsigned race_hand_back(void **blocks, unsigned count)
{
    unsigned tag = count ? block_tag(blocks[0]) : 0;
    if (!tag)
        return 0;
    unsigned cls = tag & PAGE_TAG_CLASS_MASK, shard = tag >> PAGE_TAG_SHARD_SHIFT;
    unsigned slot = slot_of_ptr(blocks[0]);
    struct node_heap *heap = node_heap_of(slot);
    if (__atomic_load_n(&heap->class_slabs[shard][cls].parked_count, __ATOMIC_RELAXED))
        return 0;
    unsigned n = 0;
    while (n < count && n < na_size_classes[cls].cache_max && block_tag(blocks[n]) == tag &&
           slot_of_ptr(blocks[n]) == slot)
        n++;
    for (unsigned i = 0; i < n; i++) {
        ((void **)blocks[i])[0] = i + 1 < n ? blocks[i + 1] : NULL;
        ((void **)blocks[i])[1] = (void *)na_free_block_key;
    }
    heap_hand_back(heap, shard, cls, blocks[0], blocks[n - 1], n);
    return n;
}
#endif
