/* aligned_huge.c - objects aligned to a segment or more, in their own mappings; see aligned_huge.h.
 */
#include "core/aligned_huge.h"

#include "base/lock.h"
#include "base/report.h"
#include "core/hugepages.h"
#include "core/node_heap.h"
#include "core/size_class.h"
#include "policy/binding.h"
#include "policy/verify.h"

#include <string.h>

#define FIRST_CAPACITY 64

/*
 * The most a freed object grown out raises its heap's grow_out_floor to, as
 * glibc caps its dynamic mmap threshold (32 MiB on 64-bit systems).
 */
#define GROW_OUT_FLOOR_MAX ((size_t)32 << 20)

/*
 * The live objects, sorted by start address. The table starts in static
 * storage and moves to a mapping twice its size when full (never malloc).
 * `reserved` entries are promised to objects on their way in (a huge object
 * moving out of the region, an object being remapped): count + reserved <=
 * capacity, so that their entry never fails once their pages have moved.
 * `live` mirrors `count` so that a foreign pointer is told apart without
 * the lock while no object exists. All else is guarded by `lock`.
 */
NA_COLD_BSS static struct aligned_huge first_table[FIRST_CAPACITY];
static struct {
    na_lock_t lock;
    struct aligned_huge *table;
    size_t count, reserved, capacity;
    size_t live; /* atomic */
} registry = {NA_LOCK_INIT, first_table, 0, 0, FIRST_CAPACITY, 0};

static size_t round_to_pages(size_t bytes)
{
    CONTRACT_ASSERT(bytes <= ALLOC_MAX_REQUEST);
    return bytes == 0 ? OS_PAGE_SIZE : os_page_round_up(bytes);
}

/* Index of the first entry starting above `addr`. Called with the lock held. */
static size_t first_above(uintptr_t addr)
{
    size_t lo = 0, hi = registry.count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (registry.table[mid].start <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Index of the entry containing `addr`, or -1. Called with the lock held. */
static long containing(uintptr_t addr)
{
    size_t i = first_above(addr);
    if (i == 0 || addr - registry.table[i - 1].start >= registry.table[i - 1].size)
        return -1;
    return (long)(i - 1);
}

/* Room for one more entry; false when no memory for a larger table. Lock held. */
static bool make_room(void)
{
    if (registry.count + registry.reserved < registry.capacity)
        return true;
    size_t capacity = registry.capacity * 2, bytes = capacity * sizeof(struct aligned_huge);
    struct aligned_huge *table = os_reserve(bytes);
    if (!table)
        return false;
    if (os_commit(table, bytes) != 0) {
        os_release(table, bytes);
        return false;
    }
    memcpy(table, registry.table, registry.count * sizeof *table);
    if (registry.table != first_table)
        os_release(registry.table, registry.capacity * sizeof *table);
    registry.table = table;
    registry.capacity = capacity;
    return true;
}

/* Enters obj in its place, where there is room. Lock held. */
static void place(const struct aligned_huge *obj)
{
    size_t i = first_above(obj->start);
    NA_ASSERT(registry.count < registry.capacity);
    /* Outside the region, all of it (layout.h): else free() would read it as a segment. */
    NA_ASSERT(obj->start + obj->size <= na_region.base ||
              obj->start >= na_region.base + na_region.size);
    memmove(&registry.table[i + 1], &registry.table[i],
            (registry.count - i) * sizeof registry.table[0]);
    registry.table[i] = *obj;
    registry.count++;
    __atomic_store_n(&registry.live, registry.count, __ATOMIC_RELAXED);
}

/* Removes entry i. Lock held. */
static void remove_at(size_t i)
{
    registry.count--;
    memmove(&registry.table[i], &registry.table[i + 1],
            (registry.count - i) * sizeof registry.table[0]);
    __atomic_store_n(&registry.live, registry.count, __ATOMIC_RELAXED);
}

static bool insert(const struct aligned_huge *obj)
{
    na_lock(&registry.lock);
    bool room = make_room();
    if (room)
        place(obj);
    na_unlock(&registry.lock);
    return room;
}

/*
 * The node heap's totals of huge objects (statistics, mallinfo, its dirty
 * limit), with its pages lock held: the registry changes under the same
 * lock (taken first, then the registry's, the order of the heap check and of
 * fork), so that what the heap counts and what the registry holds agree
 * whenever that lock is free. Counted after the registry changed, another
 * thread's heap check found them apart and failed (active_bytes).
 */
static void account_added(struct node_heap *heap, size_t bytes, size_t objects)
{
    heap->active_bytes += bytes;
    heap->huge_bytes += bytes;
    heap->huge_count += objects;
    heap_note_peak(heap);
}

static void account_removed(struct node_heap *heap, size_t bytes, size_t objects)
{
    heap->active_bytes -= bytes;
    heap->huge_bytes -= bytes;
    heap->huge_count -= objects;
}

/* Reserves `bytes` aligned to `alignment`: the reservation is cut down to them. */
static char *reserve_aligned(size_t bytes, size_t alignment)
{
    size_t reach = bytes + alignment - OS_PAGE_SIZE; /* < 2^63: both <= ALLOC_MAX_REQUEST */
    char *raw = os_reserve(reach);
    if (!raw)
        return NULL;
    uintptr_t start = ((uintptr_t)raw + alignment - 1) & ~(uintptr_t)(alignment - 1);
    uintptr_t end = start + bytes, raw_end = (uintptr_t)raw + reach;
    if (start > (uintptr_t)raw)
        os_release(raw, start - (uintptr_t)raw);
    if (raw_end > end)
        os_release((void *)end, raw_end - end);
    return (char *)start;
}

void *aligned_huge_alloc(unsigned slot, size_t size, size_t alignment, const uint8_t *spread)
{
    CONTRACT_ASSERT(alignment >= ALIGNED_HUGE_MIN && alignment <= ALLOC_MAX_REQUEST &&
                    (alignment & (alignment - 1)) == 0);
    size_t bytes = round_to_pages(size);
    char *start = reserve_aligned(bytes, alignment);
    if (!start)
        return NULL;
    struct node_heap *heap = node_heap_of(slot);
    /*
     * Policy first, pages later. A refused mbind (a sandbox) leaves first-touch
     * placement, as it does for the slots; a refused spread falls back to the node.
     */
    bool spread_done = spread && binding_spread(start, bytes, spread) == 0;
    if (!spread_done)
        (void)binding_prefer_node(start, bytes, heap->node);
    hugepages_advise_own((uintptr_t)start, bytes, spread_done);
    bool usable = os_commit(start, bytes) == 0;
    struct aligned_huge obj = {(uintptr_t)start, bytes, slot, spread != NULL, false};
    na_lock(&heap->pages_lock);
    if (usable && !spread)
        usable = heap_commit_check(heap, start, bytes); /* false: the node is exhausted */
    usable = usable && insert(&obj);
    if (usable)
        account_added(heap, bytes, 1);
    na_unlock(&heap->pages_lock);
    if (!usable) {
        os_release(start, bytes);
        return NULL;
    }
    return start;
}

bool aligned_huge_find(const void *ptr, struct aligned_huge *out)
{
    if (__atomic_load_n(&registry.live, __ATOMIC_RELAXED) == 0)
        return false;
    na_lock(&registry.lock);
    long i = containing((uintptr_t)ptr);
    if (i >= 0)
        *out = registry.table[i];
    na_unlock(&registry.lock);
    return i >= 0;
}

/*
 * The entry that starts at ptr, locked for a change with its heap's pages
 * lock and then the registry's (account_added): its index, or -1 (nothing
 * locked) when no entry contains ptr, -2 when one does but starts elsewhere.
 * The slot is read first without the heap's lock: the entry is looked up
 * again under both, and one gone meanwhile (freed by another thread: a
 * double free) counts as none.
 */
static long lock_entry(const void *ptr, struct node_heap **heap)
{
    struct aligned_huge seen;
    if (!aligned_huge_find(ptr, &seen))
        return -1;
    if (seen.start != (uintptr_t)ptr)
        return -2;
    *heap = node_heap_of(seen.slot);
    na_lock(&(*heap)->pages_lock);
    na_lock(&registry.lock);
    long i = containing((uintptr_t)ptr);
    if (i >= 0 && registry.table[i].start == (uintptr_t)ptr && registry.table[i].slot == seen.slot)
        return i;
    na_unlock(&registry.lock);
    na_unlock(&(*heap)->pages_lock);
    return -1;
}

/*
 * A block grown out of the region that shrinks or is freed, at `size`: a
 * program that does so will likely grow such a block again, and the next
 * ones up to that size grow by a copy inside the region, whose runs stay
 * resident from one to the next (glibc raises its mmap threshold on a free
 * the same way; a shrink counts too, as a buffer is often cut back before it
 * is freed). Moved out each time, each round faulted all its pages anew: 8
 * MiB grown to 16, cut back and freed, 50 times, took 40 ms a round against
 * 1.7 with the copy. Pages lock held.
 */
static void note_grown_out(struct node_heap *heap, const struct aligned_huge *obj, size_t size)
{
    if (obj->grown_out && size <= GROW_OUT_FLOOR_MAX && size > heap->grow_out_floor)
        heap->grow_out_floor = size;
}

int aligned_huge_free(const void *ptr, struct aligned_huge *out)
{
    struct node_heap *heap;
    long i = lock_entry(ptr, &heap);
    if (i < 0)
        return i == -2 ? -1 : 0;
    *out = registry.table[i];
    remove_at((size_t)i);
    na_unlock(&registry.lock);
    note_grown_out(heap, out, out->size);
    account_removed(heap, out->size, 1);
    na_unlock(&heap->pages_lock);
    os_release((void *)out->start, out->size);
    return 1;
}

void aligned_huge_tally(unsigned slot, size_t *objects, size_t *bytes)
{
    *objects = *bytes = 0;
    na_lock(&registry.lock);
    for (size_t i = 0; i < registry.count; i++) {
        if (registry.table[i].slot == slot) {
            ++*objects;
            *bytes += registry.table[i].size;
        }
    }
    na_unlock(&registry.lock);
}

size_t aligned_huge_shrink(const void *ptr, size_t size)
{
    size_t bytes = round_to_pages(size);
    struct node_heap *heap;
    long i = lock_entry(ptr, &heap);
    if (i < 0)
        return 0;
    struct aligned_huge *obj = &registry.table[i];
    CONTRACT_ASSERT(bytes <= obj->size);
    size_t old = obj->size;
    obj->size = bytes;
    note_grown_out(heap, obj, old);
    na_unlock(&registry.lock);
    account_removed(heap, old - bytes, 0);
    na_unlock(&heap->pages_lock);
    if (old > bytes) /* still mapped until here: no other mapping can take the tail meanwhile */
        os_release((char *)ptr + bytes, old - bytes);
    return bytes;
}

bool aligned_huge_reserve(void)
{
    na_lock(&registry.lock);
    bool room = make_room();
    if (room)
        registry.reserved++;
    na_unlock(&registry.lock);
    return room;
}

void aligned_huge_unreserve(void)
{
    na_lock(&registry.lock);
    NA_ASSERT(registry.reserved > 0);
    registry.reserved--;
    na_unlock(&registry.lock);
}

void aligned_huge_adopt(unsigned slot, void *start, size_t size, bool spread)
{
    struct node_heap *heap = node_heap_of(slot);
    struct aligned_huge obj = {(uintptr_t)start, size, slot, spread, true};
    na_lock(&heap->pages_lock);
    na_lock(&registry.lock);
    NA_ASSERT(registry.reserved > 0 && size % OS_PAGE_SIZE == 0);
    registry.reserved--;
    place(&obj);
    na_unlock(&registry.lock);
    account_added(heap, size, 1);
    na_unlock(&heap->pages_lock);
}

/*
 * The object is taken out of the registry while the kernel remaps it, its
 * entry kept in reserve: its old range, unmapped by the move, may meanwhile
 * become another object's, which must not find a stale entry there. It is
 * the caller's: no other thread may use it meanwhile. A node short of memory
 * refuses (the growth's pages are checked as a new object's are, by the
 * caller's fallback: a copy).
 */
void *aligned_huge_grow(const void *ptr, size_t size)
{
    size_t bytes = round_to_pages(size);
    struct node_heap *heap;
    long i = lock_entry(ptr, &heap);
    if (i < 0)
        return NULL;
    struct aligned_huge obj = registry.table[i];
    CONTRACT_ASSERT(bytes > obj.size);
    bool plenty = obj.spread || node_memory_plenty(&heap->memory, heap->node, bytes - obj.size);
    if (plenty) {
        remove_at((size_t)i);
        registry.reserved++;
    }
    na_unlock(&registry.lock);
    if (plenty)
        account_removed(heap, obj.size, 1);
    na_unlock(&heap->pages_lock);
    if (!plenty)
        return NULL;
    void *grown = NULL;
    if (os_resize_mapping((void *)obj.start, obj.size, bytes, &grown) == 0) {
        obj.start = (uintptr_t)grown;
        obj.size = bytes;
    }
    aligned_huge_adopt(obj.slot, (void *)obj.start, obj.size, obj.spread);
    return grown;
}

int aligned_huge_verify(unsigned slot, int node, size_t stride, struct page_census *census)
{
    int err = 0;
    na_lock(&registry.lock);
    for (size_t i = 0; i < registry.count && !err; i++)
        if (registry.table[i].slot == slot && !registry.table[i].spread)
            err = verify_pages((void *)registry.table[i].start, registry.table[i].size, node,
                               stride, census);
    na_unlock(&registry.lock);
    return err;
}

void aligned_huge_rebind(unsigned slot, int node)
{
    if (__atomic_load_n(&registry.live, __ATOMIC_RELAXED) == 0)
        return;
    /* Under the lock every entry is mapped (frees unmap after removing it). */
    na_lock(&registry.lock);
    for (size_t i = 0; i < registry.count; i++)
        if (registry.table[i].slot == slot && !registry.table[i].spread)
            (void)binding_prefer_node_again((void *)registry.table[i].start, registry.table[i].size,
                                            node);
    na_unlock(&registry.lock);
}

na_lock_t *aligned_huge_lock(void)
{
    return &registry.lock;
}

void aligned_huge_fork_child(void)
{
    na_lock_reset(&registry.lock);
    registry.reserved = 0; /* the threads that kept them are the parent's */
}
