/*
 * placement.h - which node heap serves an allocation that names no node.
 *
 * The policy (NUMA_ALLOC_POLICY and NUMA_ALLOC_NODES) is folded into one
 * table at start-up: topo.cpu_slot[cpu] is the slot a thread running on
 * `cpu` allocates from, so the malloc fast path stays one table load.
 *   local      the CPU's own node, or the nearest node with memory;
 *   bind       the nearest (SLIT distance) of the given nodes;
 *   preferred  the nearest of the given nodes.
 * numa_malloc(node, ...) ignores the policy.
 */
#ifndef NUMA_ALLOC_PLACEMENT_H
#define NUMA_ALLOC_PLACEMENT_H

/* Applies `options` to the topology's cpu -> slot table; warns about what it cannot honour. */
void placement_init(void);

#endif
