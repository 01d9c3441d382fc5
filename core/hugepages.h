/*
 * hugepages.h - transparent huge pages for the node heaps (NUMA_ALLOC_HUGEPAGES).
 *
 * Each slot is advised once, when its heap is set up (heap_setup, after the
 * slot got its policy and before any page of it is touched): from offset
 * na_thp_from to its end MADV_HUGEPAGE, so that a fault there takes a 2 MiB
 * page from the slot's node (the policy applies to huge pages as to small
 * ones). Which part:
 *   - thp:   everything but the slot's first segment, which holds the node
 *            heap (a huge page there would cost 2 MiB for a few KiB of metadata);
 *   - auto:  past the slot's first 64 MiB. Segments are handed
 *            out lowest address first, so a heap gets huge pages once it has
 *            grown past 64 MiB: a small program keeps its small footprint, a
 *            big heap (where TLB misses cost) gets huge pages for the rest;
 *   - never: the default: none, and MADV_NOHUGEPAGE on the whole slot, so that a
 *            system set to THP "always" does not give the heaps any either. A
 *            huge-page fault in an advised range may take a whole 2 MiB page
 *            from another node when the slot's node has no free 2 MiB block
 *            (defrag "madvise": the kernel retries without __GFP_THISNODE),
 *            which the placement promise cannot allow by default.
 * A huge page never holds two nodes' memory: the region base and every slot
 * are segment (4 MiB) aligned and slots are 2^k >= 16 MiB long, so every
 * 2 MiB page lies in one slot (asserted in the debug build).
 * Objects spread by the interleave policies are MADV_NOHUGEPAGE
 * (policy/binding.c says why); hugepages_restore advises their range again
 * when it returns to its node.
 * Purging (core/purge.c) keeps huge pages of a segment in use whole:
 * hugepages_purge gives back the whole 2 MiB pages of a free run, and zeroes
 * in place the rest where it lies in a 2 MiB page that is wholly resident
 * (a huge page, or as good as one).
 */
#ifndef NUMA_ALLOC_HUGEPAGES_H
#define NUMA_ALLOC_HUGEPAGES_H

#include "base/compiler.h"

#include "core/layout.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HUGE_PAGE_SIZE      ((size_t)2 << 20)
#define HUGEPAGES_AUTO_FROM ((size_t)64 << 20)

/* Offset in every slot from which it is advised MADV_HUGEPAGE; SIZE_MAX: nowhere. */
extern NA_HIDDEN size_t na_thp_from;

/* Sets na_thp_from from na_options.hugepages; before any slot is set up. */
void hugepages_init(void);

/* Advises a slot of `len` bytes at `base` as the mode says; errors are ignored (no THP). */
void hugepages_advise_slot(uintptr_t base, size_t len);

/* True when `addr` (in the region) lies where huge pages were asked for. */
static inline bool hugepages_covers(uintptr_t addr)
{
    return ((addr - na_region.base) & (((uintptr_t)1 << na_region.slot_shift) - 1)) >= na_thp_from;
}

/* MADV_HUGEPAGE again on the part of [addr, addr + len) that hugepages_covers. */
void hugepages_restore(void *addr, size_t len);

/*
 * Purges the free run [addr, addr + len) of a segment in use without
 * splitting a huge page: whole 2 MiB pages are given back (MADV_DONTNEED);
 * the rest is zeroed in place where its 2 MiB page is wholly resident, and
 * purged where it is not (no huge page to split there). Returns the bytes
 * given back, or -errno when the kernel refused (the run keeps its contents).
 */
long hugepages_purge(char *addr, size_t len);

/*
 * Adds to per_slot[slot] the bytes of the region's anonymous memory backed
 * by transparent huge pages (AnonHugePages of /proc/self/smaps, each mapping
 * counted in the slot its start lies in: a mapping never spans two slots,
 * their policies differ). 0, or -1 when smaps cannot be read.
 */
int hugepages_per_slot(uint64_t *per_slot);

#endif
