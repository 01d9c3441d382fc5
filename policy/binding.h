/*
 * binding.h - memory policy on address ranges, through the raw mbind(2)
 * system call (libnuma's wrapper is not allowed inside the allocator, and it
 * exports the same name).
 *
 * Errors follow the os layer's convention (docs/architecture.md): 0 or
 * -errno, errno preserved. Every refused call is also counted against the
 * nodes it was for (placement_fault_count, FAULT_BIND): the range keeps
 * whatever policy it had, or none (first-touch), and the caller goes on.
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
 * Sets [addr, addr+len) to prefer `node` again after a cpuset change, and
 * moves the range's resident pages that lie elsewhere to it (MPOL_MF_MOVE):
 * the kernel remaps a preferred node that leaves the cpuset (and does not
 * map it back), and migrates the pages of a node that leaves a cgroup v2
 * cpuset; both are undone here when the node returns. 0 or -errno, a
 * refusal counted as for binding_prefer_node.
 */
int binding_prefer_node_again(void *addr, size_t len, int node);

/*
 * Spreads the pages of [addr, addr+len) over the slots with a non-zero
 * weight in `page_weight` (indexed by slot): MPOL_INTERLEAVE when all weights
 * are equal, otherwise consecutive chunks preferring each node in turn, as
 * many chunks as its weight. Before any page is touched. 0 or -errno.
 */
int binding_spread(void *addr, size_t len, const uint8_t *page_weight);

/*
 * The start-up probe's question (capabilities.h): does a preferred policy
 * on [addr, addr+len) take? Sets it again (the same policy: nothing moves,
 * nothing is counted) and reads it back with get_mempolicy. 0; the mbind
 * -errno; or -EOPNOTSUPP when the call succeeded but the policy reads back
 * otherwise. A refused get_mempolicy is no answer: mbind's word is taken.
 */
int binding_probe(void *addr, size_t len, int node);

#endif
