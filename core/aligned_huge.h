/*
 * aligned_huge.h - objects aligned to a segment (4 MiB) or more.
 *
 * Such an object cannot live in a slot. It would start on a segment
 * boundary, so segment_of(ptr) == ptr: the free fast path, usable size and
 * every lookup would read the object's first bytes (user data) as a segment
 * header and page tags. So each gets its own mapping outside the region:
 * an oversized PROT_NONE reservation trimmed to the alignment, bound to its
 * node with mbind (MPOL_PREFERRED, or spread under the interleave policy)
 * before any page is touched, checked against the node's free memory as slot
 * pages are, and entered in a registry here. free_fast sends every pointer
 * outside the region to free_slow, which asks the registry; so do realloc,
 * malloc_usable_size and numa_ptr_node. Each object counts as a huge object
 * of its node heap (statistics, mallinfo).
 *
 * Three other kinds of object live here, in a mapping of their own: one
 * larger than its slot can ever hold; a huge object that realloc grew where
 * the region had no room after it (core/huge_remap.h), whose pages mremap
 * moved out with their node; and, under an address-space limit, one of
 * OWN_MAPPING_UNDER_LIMIT or more, so that its free gives its address space
 * back (core/alloc.c, alloc_own_mapping). realloc grows any of them
 * with mremap, as glibc does its mmapped chunks.
 *
 * Invariants:
 *  - every pointer handed out here lies outside the region, so the page-tag
 *    fast paths never see one;
 *  - the registry holds exactly the live objects, sorted by address, never
 *    overlapping; an object is [start, start + size), whole pages, all
 *    mapped and readable.
 *
 * Costs: an mmap and munmap per object (alignments this large are rare:
 * page-table-aware code, DMA buffers), the registry lock on their slow paths
 * only, and one relaxed load when a foreign pointer is freed.
 */
#ifndef NUMA_ALLOC_ALIGNED_HUGE_H
#define NUMA_ALLOC_ALIGNED_HUGE_H

#include "base/compiler.h"
#include "base/lock.h"
#include "core/layout.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Alignments from this one up are served here. */
#define ALIGNED_HUGE_MIN SEGMENT_SIZE

/* Under an address-space limit, huge objects from this size up too (glibc's top mmap threshold). */
#define OWN_MAPPING_UNDER_LIMIT ((size_t)32 << 20)

/* A registry entry: one live object. */
struct aligned_huge {
    uintptr_t start; /* the object, aligned as requested */
    size_t size;     /* its usable bytes, whole pages, all mapped */
    unsigned slot;   /* the node heap it is bound to and counted in */
    bool spread;     /* pages spread over nodes (interleave policy) */
    bool grown_out;  /* a huge object realloc moved out of the region (huge_remap.h) */
};

/*
 * A zeroed object of `size` bytes (<= ALLOC_MAX_REQUEST) aligned to
 * `alignment` (a power of two from ALIGNED_HUGE_MIN to ALLOC_MAX_REQUEST)
 * for slot `slot`; `spread`: per-slot page weights (interleave) or NULL.
 * NULL when the address space or the node cannot supply it.
 */
NA_COLD void *aligned_huge_alloc(unsigned slot, size_t size, size_t alignment,
                                 const uint8_t *spread);

/* The live object containing ptr, copied to *out; false when there is none. */
bool aligned_huge_find(const void *ptr, struct aligned_huge *out);

/*
 * Frees the object that starts at ptr and copies its entry to *out: 1.
 * 0: no object contains ptr (foreign memory). -1: ptr lies inside an object
 * but is not its start (nothing is done).
 */
NA_COLD int aligned_huge_free(const void *ptr, struct aligned_huge *out);

/*
 * Shrinks the object that starts at ptr to `size` (0 < size <= its usable
 * size) in place, returning its tail pages; the new usable size, or 0 when
 * ptr is no such object.
 */
NA_COLD size_t aligned_huge_shrink(const void *ptr, size_t size);

/*
 * How many live objects of `slot` and their bytes: what its node heap counts
 * for them (active and huge totals), for the heap check. Exact while no other
 * thread allocates or frees such an object (the heap's totals are updated
 * just after the registry).
 */
void aligned_huge_tally(unsigned slot, size_t *objects, size_t *bytes);

/*
 * One entry kept for an object on its way in (aligned_huge_adopt), so that
 * entering it cannot fail once its pages have moved; false when the table
 * cannot grow. aligned_huge_unreserve gives it back unused.
 */
bool aligned_huge_reserve(void);
void aligned_huge_unreserve(void);

/*
 * Enters the mapping [start, start + size) (whole pages, mapped, bound as
 * `spread` says), a huge object grown out of the region, as a live object of
 * `slot`, counted in its node heap; uses the entry aligned_huge_reserve kept.
 */
void aligned_huge_adopt(unsigned slot, void *start, size_t size, bool spread);

/*
 * Grows the object that starts at ptr to `size` bytes (> its usable size)
 * with mremap, moving it if it must: its address after, or NULL when ptr is
 * no such object, its node is short of memory for the growth, or the kernel
 * refused (the object then unchanged, where it was).
 */
NA_COLD void *aligned_huge_grow(const void *ptr, size_t size);

/*
 * Adds where the pages of `slot`'s live objects that are not spread lie (a
 * page in `stride`) to *census, as verify_pages does; 0 or -errno.
 */
struct page_census;
int aligned_huge_verify(unsigned slot, int node, size_t stride, struct page_census *census);

/*
 * Binds every live object of `slot` that is not spread to `node` again
 * (binding_prefer_node_again): its node came back into the cpuset.
 */
void aligned_huge_rebind(unsigned slot, int node);

/* The registry lock, for fork only: held across it (core/alloc.c). */
na_lock_t *aligned_huge_lock(void);
/*
 * In a fork's child: the lock reset, and the entries kept for objects on
 * their way in dropped (those objects were other threads', which the child
 * does not have: their pages stay mapped, unused).
 */
void aligned_huge_fork_child(void);

#endif
