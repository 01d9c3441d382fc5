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
 * Purging (core/purge.c) keeps huge pages of a segment in use whole while
 * they are used: hugepages_purge gives back the whole 2 MiB pages of a free
 * run, and zeroes in place the rest where it lies in a 2 MiB page that is
 * wholly resident (a huge page, or as good as one) and at least half in use
 * (HUGE_PAGE_KEEP_USED). Less used than that, the page is split: the rest
 * goes back, and so do the clean runs beside it in the page, zeroed and kept
 * by earlier purges. So a segment's few live blocks never keep its 4 MiB
 * resident, and the mode's memory beyond glibc's stays within twice what is
 * in use in its 2 MiB pages (jemalloc's HPA splits a huge page once a fifth
 * of it is free, hpa_dehugification_threshold).
 *
 * hugetlbfs pages (NUMA_ALLOC_HUGETLB=<bytes per node>): when a slot is set
 * up, the administrator's pool (vm.nr_hugepages, per node under
 * /sys/devices/system/node/nodeN/hugepages) may back the start of its
 * segment space: the hugetlb range, [SEGMENT_SIZE, SEGMENT_SIZE +
 * na_hugetlb_len[slot]) of the slot, never its first segment (the node
 * heap's metadata). hugetlb_reserve_slot maps it MAP_HUGETLB elsewhere,
 * binds it to the node, populates it (MADV_POPULATE_WRITE), checks with
 * move_pages that every page is on the node, and only then moves it into
 * the slot (mremap: the slot's reservation is replaced in one step, never
 * left a hole). Any refusal on the way (no pool, too small a pool, kernel
 * before 5.14, seccomp, pages on another node) unmaps it and leaves the
 * slot as it was, with one line of message: normal pages. Invariants:
 *   - na_hugetlb_len[slot] is written once, before the slot's heap is ready
 *     (heap_setup_lock, then na_heap_ready's release), and never changes; a
 *     multiple of SEGMENT_SIZE (so of 2 MiB), 0 where there is none.
 *   - Every page of the range is resident from the start, on the slot's
 *     node, and stays so: nothing ever faults there, so no fault can find
 *     the pool empty (SIGBUS). No MADV_DONTNEED reaches it (region_purge:
 *     it would give the page back to the pool, and its next fault could
 *     find none): "purging" there zeroes in place, which is all a clean run
 *     promises (asserted in the debug build).
 *   - No node_memory check (heap_commit_check) and no spread policy
 *     (interleave: huge.c) applies there: its pages are placed already.
 * Segments are handed out lowest address first, so the heap uses the range
 * before any normal page. A fork child gets normal pages instead
 * (hugetlb_fork_child); what is left: another thread of the parent writing
 * to the range while the child copies it, with no free huge page in the
 * pool, takes the page from the child, which the kernel then kills
 * (docs/policies.md).
 */
#ifndef NUMA_ALLOC_HUGEPAGES_H
#define NUMA_ALLOC_HUGEPAGES_H

#include "base/compiler.h"

#include "core/layout.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HUGE_PAGE_SIZE ((size_t)2 << 20)
/* A 2 MiB page with this many 4 KiB pages in use (not in free runs) stays whole in a purge. */
#define HUGE_PAGE_KEEP_USED (HUGE_PAGE_SIZE / OS_PAGE_SIZE / 2)
#define HUGEPAGES_AUTO_FROM ((size_t)64 << 20)

/* Offset in every slot from which it is advised MADV_HUGEPAGE; SIZE_MAX: nowhere. */
extern NA_HIDDEN size_t na_thp_from;

/* Sets na_thp_from from na_options.hugepages; before any slot is set up. */
void hugepages_init(void);

/* Advises a slot of `len` bytes at `base` as the mode says; errors are ignored (no THP). */
void hugepages_advise_slot(uintptr_t base, size_t len);
/* The same for [start, start + len), part of one slot: a slot's range reserved later. */
void hugepages_advise_range(uintptr_t start, size_t len);
/*
 * The same for an object's own mapping (core/aligned_huge.h), as if it were a slot's
 * space at an offset of its length: never, or spread over nodes, MADV_NOHUGEPAGE;
 * otherwise advised when it is at least na_thp_from long.
 */
void hugepages_advise_own(uintptr_t start, size_t len, bool spread);

/* Per slot: the length of its hugetlb range, from SEGMENT_SIZE into the slot (see above). */
extern NA_HIDDEN size_t na_hugetlb_len[TOPO_MAX_SLOTS];

/* True when `addr` (in the region) lies in its slot's hugetlb range. */
static inline bool hugetlb_covers(uintptr_t addr)
{
    unsigned slot = slot_of_ptr((const void *)addr);
    return addr - slot_base(slot) - SEGMENT_SIZE < na_hugetlb_len[slot];
}

/*
 * With NUMA_ALLOC_HUGETLB set, backs the slot's hugetlb range (slot of `len`
 * bytes at `base`, its policy and advice set, nothing in it touched yet)
 * with hugetlbfs pages of `node`; on any refusal one line says why and the
 * slot keeps normal pages. Called once per slot, before its heap is ready.
 */
void hugetlb_reserve_slot(unsigned slot, uintptr_t base, size_t len, int node);
/* The bytes of hugetlb range hugetlb_reserve_slot will ask for in a slot of `len` bytes. */
size_t hugetlb_slot_want(size_t len);

/*
 * fork (core/alloc.c's handlers). The child would share the hugetlb pages
 * copy-on-write, and its first write to one needs a free huge page, which
 * the pool may not have (the kernel kills the child then): so the child
 * copies each hugetlb range's used part (up to the bump frontier) into
 * normal pages of the node, moves them over the range (mremap) and has no
 * hugetlb range any more, before anything of it runs. The parent's forking
 * thread waits for that (a pipe), so that its own writes do not take the
 * pages from the child mid-copy (a parent's copy-on-write with an empty pool
 * unmaps the page from the child). Nothing happens without a hugetlb range.
 */
void hugetlb_fork_prepare(void);
void hugetlb_fork_parent(void);
void hugetlb_fork_child(void);

/*
 * os_purge for memory of a slot: the part of [addr, addr + len) in a
 * hugetlb range is zeroed in place instead (its pages stay, see above).
 * Returns the bytes given back to the OS, or -errno when the kernel refused
 * (the pages keep their contents).
 */
long region_purge(void *addr, size_t len);

/* True when `addr` (in the region) lies where huge pages were asked for. */
static inline bool hugepages_covers(uintptr_t addr)
{
    return ((addr - na_region.base) & (((uintptr_t)1 << na_region.slot_shift) - 1)) >= na_thp_from;
}

/* MADV_HUGEPAGE again on the part of [addr, addr + len) that hugepages_covers. */
void hugepages_restore(void *addr, size_t len);

/*
 * Purges the free run [addr, addr + len) of a segment in use without
 * splitting a huge page still half in use: whole 2 MiB pages are given back
 * (MADV_DONTNEED); the rest is zeroed in place where its 2 MiB page is wholly
 * resident and half in use, and purged where it is not (no huge page to
 * split there, or one too empty to keep), with the clean runs beside it in
 * that page. Returns the bytes given back, or -errno when the kernel refused
 * (the run keeps its contents).
 */
long hugepages_purge(char *addr, size_t len);

/*
 * Adds to thp[slot] the bytes of the region's anonymous memory backed by
 * transparent huge pages (AnonHugePages of /proc/self/smaps), and to
 * hugetlb[slot] those backed by hugetlbfs pages (Private_Hugetlb and
 * Shared_Hugetlb), each mapping counted in the slot its start lies in: a
 * mapping never spans two slots, their policies differ. An object in a
 * mapping of its own (core/aligned_huge.h) counts in its slot. 0, or -1 when
 * smaps cannot be read.
 */
int hugepages_per_slot(uint64_t *thp, uint64_t *hugetlb);

#endif
