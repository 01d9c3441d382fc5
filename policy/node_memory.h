/*
 * node_memory.h - whether a node can still supply memory, decided when pages
 * are committed (handed out untouched), so that exhaustion is found before
 * a page fault could land elsewhere.
 *
 * Slots are bound MPOL_PREFERRED, never MPOL_BIND: on a full node BIND gets
 * the process OOM-killed at fault time (measured), PREFERRED silently puts
 * the page on another node. So before untouched pages are handed out:
 *   - plenty of free memory on the node (sysfs MemFree, re-read when our own
 *     estimate runs low or is old): hand them out, they will fault locally;
 *   - otherwise ("tight"): populate a sample of them now (the first 16 MiB,
 *     MADV_POPULATE_WRITE) and ask the kernel where it went (move_pages).
 *     Any page elsewhere, or a rest beyond the sample that is larger than
 *     the node's free memory read after it: give the sample back and report
 *     the node exhausted, so that the configured fallback (or ENOMEM)
 *     applies instead of a misplaced block. The rest is never populated by
 *     the check: a sparse calloc stays sparse however tight the node.
 * Where the kernel refuses (capabilities.h): unbound, every commit is handed
 * out (first-touch: no node to hold it to); unverified, a tight commit is
 * handed out unchecked and counted (FAULT_VERIFY).
 */
#ifndef NUMA_ALLOC_NODE_MEMORY_H
#define NUMA_ALLOC_NODE_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Per-node bookkeeping, kept in the node heap. Guarded by its pages_lock. */
struct node_memory {
    uint64_t free_estimate; /* bytes we believe the node can still give */
    uint64_t refreshed_ms;  /* when free_estimate was last read from sysfs */
    uint64_t tight_commits; /* commits that had to be populated and verified */
    uint64_t exhaustions;   /* commits refused: the node could not supply */
};

/* MemFree of `node` in bytes from sysfs, or UINT64_MAX when unknown. */
uint64_t node_free_bytes(int node);

/*
 * Has `node` plenty of free memory for `bytes` more (then counted as taken)?
 * The first step of node_memory_commit, alone: no page is touched. False
 * means tight, not exhausted.
 */
bool node_memory_plenty(struct node_memory *mem, int node, size_t bytes);

/*
 * May the untouched pages [addr, addr + bytes) be handed out as memory of
 * `node`? False means the node is exhausted; the pages are then released.
 */
bool node_memory_commit(struct node_memory *mem, int node, void *addr, size_t bytes);

#endif
