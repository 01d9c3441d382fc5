/* huge_remap.c - huge objects grown out of the region with mremap; see huge_remap.h. */
#include "core/huge_remap.h"

#include "base/debug.h"
#include "base/report.h"
#include "core/aligned_huge.h"
#include "core/hugepages.h"
#include "core/node_heap.h"
#include "policy/binding.h"

#include <errno.h>
#include <string.h>

/* Set once the kernel refuses every such move (no MREMAP_DONTUNMAP, a sandbox): not tried again. */
static bool move_out_refused;

/*
 * The object's pages, moved out to `out`, return to `home` (the region range
 * they left, still mapped, empty). The move back replaces it in one step; a
 * kernel before 6.16 unmaps it before it checks the move, so a refusal (out
 * of kernel memory) may leave a hole there: it is mapped again and the bytes
 * copied back. False only when not even that could be done (reported).
 */
static bool put_back(void *out, void *home, size_t size, int node)
{
    if (os_move_mapping(out, size, home) == 0)
        return true;
    int err = os_reserve_at(home, size);
    if (err == 0) { /* a hole: ours again, as the slot has it */
        err = os_commit(home, size);
        (void)binding_prefer_node(home, size, node);
        hugepages_restore(home, size);
    } else if (err == -EEXIST) { /* still mapped: the refusal came first */
        err = 0;
    }
    if (err != 0) {
        report_warning("realloc(): a huge block moved by mremap could not be put back: its "
                       "bytes are lost");
        return false;
    }
    memcpy(home, out, size);
    (void)os_release(out, size);
    return true;
}

/*
 * Where the object should land: a free range of `bytes` (its size grown, so
 * that the growth is in place) at the same offset in a 2 MiB page as `from`
 * (the kernel moves a transparent huge page whole only between alike
 * offsets: else it splits it into 4 KiB mappings). A hint only: the range is
 * given back at once, and the kernel picks elsewhere if it is taken meanwhile.
 */
static void *landing_hint(const void *from, size_t bytes)
{
    char *range = os_reserve(bytes + HUGE_PAGE_SIZE);
    if (!range)
        return NULL;
    (void)os_release(range, bytes + HUGE_PAGE_SIZE);
    return range + (((uintptr_t)from - (uintptr_t)range) & (HUGE_PAGE_SIZE - 1));
}

void *huge_grow_out(unsigned slot, struct segment *seg, size_t size)
{
    struct node_heap *heap = node_heap_of(slot);
    void *home = seg->huge_ptr;
    size_t old = seg->huge_size, bytes = os_page_round_up(size);
    bool spread = seg->interleaved;
    NA_ASSERT(seg->kind == SEG_HUGE && bytes > old);
    if (__atomic_load_n(&move_out_refused, __ATOMIC_RELAXED) || seg->huge_sample != 0 ||
        hugetlb_covers((uintptr_t)seg))
        return NULL;
    /*
     * A node short of memory checks the growth's pages as it would a new
     * object's; a size that objects grown out and freed reached is copied
     * (grow_out_floor: aligned_huge_free says why).
     */
    na_lock(&heap->pages_lock);
    bool plenty = bytes > heap->grow_out_floor &&
                  (spread || node_memory_plenty(&heap->memory, heap->node, bytes - old));
    na_unlock(&heap->pages_lock);
    if (!plenty || !aligned_huge_reserve())
        return NULL;
    void *out, *grown;
    int err = os_move_out(home, old, landing_hint(home, bytes), &out);
    if (err != 0) {
        if (err == -EINVAL || err == -EPERM || err == -ENOSYS)
            __atomic_store_n(&move_out_refused, true, __ATOMIC_RELAXED);
        aligned_huge_unreserve();
        return NULL;
    }
    if (os_resize_mapping(out, old, bytes, &grown) != 0) { /* ulimit -v, say */
        aligned_huge_unreserve();
        put_back(out, home, old, heap->node);
        return NULL;
    }
    aligned_huge_adopt(slot, grown, bytes, spread);
    heap_free_huge(heap, seg); /* its run is free now, what stays resident its header */
    return grown;
}
