/*
 * binding.h - memory policy on address ranges, through the raw mbind(2)
 * system call (libnuma's wrapper is not allowed inside the allocator, and it
 * exports the same name).
 */
#ifndef NUMA_ALLOC_BINDING_H
#define NUMA_ALLOC_BINDING_H

#include <stddef.h>
#include <stdint.h>

/*
 * Sets [addr, addr+len) to prefer `node` (MPOL_PREFERRED) before any page is
 * touched; 0 or -errno. Not MPOL_BIND: a full node would get the process
 * OOM-killed at fault time. Exhaustion is found at commit time instead
 * (node_memory.h), so no block is ever handed out on another node.
 */
int binding_prefer_node(void *addr, size_t len, int node);

/*
 * Spreads the pages of [addr, addr+len) over the slots with a non-zero
 * weight in `page_weight` (indexed by slot): MPOL_INTERLEAVE when all weights
 * are equal, otherwise consecutive chunks preferring each node in turn, as
 * many chunks as its weight. Before any page is touched. 0 or -errno.
 */
int binding_spread(void *addr, size_t len, const uint8_t *page_weight);

#endif
