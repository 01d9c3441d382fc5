/*
 * huge_remap.h - a huge object that cannot grow where it lies moves out of
 * the region, its pages with it.
 *
 * realloc grows a huge object in place into the free segments after it
 * (heap_resize_huge). Where they are in use (in a fresh program: the slab
 * taken just after the first huge object), it used to copy the object to a
 * new run and fault every page of the copy: 27 to 81 ms for 8 MiB on this
 * VM, against glibc's 0.2 (docs/benchmarks.md, round eighteen). glibc
 * mremaps its mmapped chunks instead, and so do we: the object's page tables
 * move to a mapping of its own outside the region (mremap
 * MREMAP_DONTUNMAP, so its old range stays mapped and the region whole),
 * which then grows by mremap; from then on it is one of aligned_huge.h's
 * objects, grown by mremap again at each realloc. Its pages are never
 * copied or faulted again and never change node; the growth's pages follow
 * the policy the mapping took with it (the node's, or the spread).
 *
 * Not moved, copied as before: a growth to a size that blocks grown out
 * and then cut back or freed reached (the heap's grow_out_floor, up to 32
 * MiB, as glibc's dynamic mmap threshold: a program that does it once will
 * again, and the region's runs stay resident from one round to the next,
 * where a mapping of its own is unmapped each time), a sampled object (the
 * profile keeps its samples in the region's headers), one in the hugetlbfs
 * pages, any growth a node short of memory must check page by page
 * (node_memory.h), and whatever the kernel refuses (no MREMAP_DONTUNMAP
 * before Linux 5.7, a sandbox refusing mremap, a range that is not one
 * mapping).
 */
#ifndef NUMA_ALLOC_HUGE_REMAP_H
#define NUMA_ALLOC_HUGE_REMAP_H

#include "base/compiler.h"
#include "core/layout.h"

#include <stddef.h>

/*
 * Grows the huge object of `seg` (in `slot`'s heap) to `size` bytes by
 * moving it out of the region: its new address, or NULL when it was not
 * moved (the object then unchanged, where it was; the caller copies).
 */
NA_COLD void *huge_grow_out(unsigned slot, struct segment *seg, size_t size);

#endif
