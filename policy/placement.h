/*
 * placement.h - which node heap serves an allocation, under NUMA_ALLOC_POLICY,
 * NUMA_ALLOC_NODES, NUMA_ALLOC_WEIGHTS and NUMA_ALLOC_FALLBACK.
 *
 * The policy is folded into tables at start-up so that the malloc fast path
 * stays one table load: topo.cpu[cpu].slot is the slot a thread running on
 * `cpu` allocates from.
 *   local       the CPU's own node, or the nearest node with memory;
 *   bind        the nearest (SLIT distance) of the given nodes;
 *   preferred   the nearest of the given nodes;
 *   interleave, weighted-interleave: the table holds PLACEMENT_PER_ALLOCATION,
 *               a slot no thread has a cache for, so every allocation takes
 *               the slow path, which picks the next slot of the sequence;
 *               huge objects are page-interleaved instead.
 * When a node cannot supply memory, the fallback order says where to go:
 * none -> ENOMEM; nearest -> the other candidates by distance; any -> the
 * candidate with the most free memory first. Under bind the candidates are
 * the bound nodes; otherwise every usable node. numa_malloc(node, ...)
 * ignores the policy but follows the fallback over every usable node.
 */
#ifndef NUMA_ALLOC_PLACEMENT_H
#define NUMA_ALLOC_PLACEMENT_H

#include "policy/topology.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PLACEMENT_PER_ALLOCATION TOPO_MAX_SLOTS
#define PLACEMENT_SEQUENCE_MAX   1024

struct placement {
    bool per_allocation;                                 /* an interleave policy is in force */
    uint8_t candidate[TOPO_MAX_SLOTS];                   /* may serve policy-placed memory */
    uint8_t by_distance[TOPO_MAX_SLOTS][TOPO_MAX_SLOTS]; /* slots, nearest first */
    uint8_t sequence[PLACEMENT_SEQUENCE_MAX];            /* interleave: slots in turn */
    unsigned sequence_len;
    uint8_t page_weight[TOPO_MAX_SLOTS]; /* huge objects: pages per slot per round */
};

extern struct placement placement;

/*
 * Applies `options` to the tables; warns about what it cannot honour. -1
 * (the reason in `why`) when it can honour nothing and the fallback allows
 * no other node: the start then fails, loudly, and glibc serves.
 */
int placement_init(char *why, size_t why_size);

/*
 * The slots to try, in order, for memory wanted on `slot`: `slot` first, then
 * its fallbacks. `explicit_node` (numa_malloc): every usable node is a
 * candidate whatever the policy. Returns the count written to `order`.
 */
unsigned placement_fallbacks(unsigned slot, bool explicit_node, uint8_t *order);

#endif
