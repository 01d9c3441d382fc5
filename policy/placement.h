/*
 * placement.h - which node heap serves an allocation, under NUMA_ALLOC_POLICY,
 * NUMA_ALLOC_NODES, NUMA_ALLOC_WEIGHTS and NUMA_ALLOC_FALLBACK.
 *
 * The policy is folded into tables at start-up (and again over the nodes
 * still allowed when the cpuset changes: mems_watch.h) so that the malloc
 * fast path stays one table load: topo.cpu[cpu].slot is the slot a thread
 * running on `cpu` allocates from.
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

#include "base/compiler.h"

#include "policy/topology.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PLACEMENT_PER_ALLOCATION TOPO_MAX_SLOTS /* no slot: cpu_slot's "ask the sequence" */
#define PLACEMENT_SEQUENCE_MAX   4096

/*
 * Built at start-up over every slot, and rebuilt over the usable ones when
 * the cpuset changes (placement_apply, from policy/mems_watch.c, one thread
 * at a time) while other threads read them without a lock:
 *  - every array is written with relaxed atomic stores and read with relaxed
 *    loads (or plain byte loads: topo.cpu[cpu].slot on the fast path);
 *  - a reader may see a mix of the old and the new tables for a moment, so
 *    whoever is about to allocate in a slot the tables gave it checks
 *    slot_usable on the slow path (alloc_with_fallback), and a slot that is
 *    not usable is never allocated in;
 *  - sequence_len is never 0, and the entries below a new length are written
 *    before it: a reader with either length reads a slot that was in the
 *    sequence at some point;
 *  - by_distance is fixed (distances do not change), but each row is only
 *    sorted when first needed (a fallback from that slot), by whichever
 *    thread needs it: the sort runs on the stack and only its result is
 *    stored (the same values, whoever stores them), then row_ready (release).
 *    A row is num_slots entries long, the rows back to back (num_slots^2
 *    entries, not TOPO_MAX_SLOTS^2: static storage for up to
 *    TOPO_DIRECT_SLOTS slots, a mapping beyond, made by placement_init; NULL
 *    if it could not be had: each fallback then sorts its row anew).
 */
/*
 * The order is the footprint's (docs/architecture.md, *Footprint*): start-up
 * writes the small fields and the first entries of each per-slot array, which
 * lie together on one or two pages; the interleave sequence (8 KiB), which
 * only an interleave policy writes, comes last.
 */
struct placement {
    bool per_allocation;                       /* an interleave policy is in force */
    unsigned sequence_len;                     /* entries of sequence in use */
    uint16_t *by_distance;                     /* rows of slots, nearest first */
    uint8_t slot_usable[TOPO_MAX_SLOTS];       /* its node is in Mems_allowed now */
    uint8_t candidate[TOPO_MAX_SLOTS];         /* may serve policy-placed memory */
    uint8_t row_ready[TOPO_MAX_SLOTS];         /* by_distance's row of that slot is sorted */
    uint8_t page_weight[TOPO_MAX_SLOTS];       /* huge objects: pages per slot per round */
    uint16_t sequence[PLACEMENT_SEQUENCE_MAX]; /* interleave: slots in turn */
};

extern NA_HIDDEN struct placement na_placement;

/*
 * Applies `options` to the tables; warns about what it cannot honour. -1
 * (the reason in `why`) when it can honour nothing and the fallback allows
 * no other node: the start then fails, loudly, and glibc serves.
 */
int placement_init(char *why, size_t why_size);

/*
 * Rebuilds the tables for the slots marked in `usable` (at least one): the
 * policy's nodes that are still usable serve as at start-up; when none of
 * them is, every usable slot does. No warning: the policy was judged at
 * start-up. One caller at a time.
 */
void placement_apply(const uint8_t *usable);

/* May `slot` get new memory now (its node is in the cpuset)? */
static inline bool placement_slot_usable(unsigned slot)
{
    return slot < TOPO_MAX_SLOTS &&
           __atomic_load_n(&na_placement.slot_usable[slot], __ATOMIC_RELAXED);
}

/*
 * The slots to try, in order, for memory wanted on `slot`: `slot` first, then
 * its fallbacks, usable slots only. `explicit_node` (numa_malloc): every
 * usable node is a candidate whatever the policy. When `slot` itself is not
 * usable (its node left the cpuset) the fallbacks are listed whatever
 * NUMA_ALLOC_FALLBACK says: `none` refuses a full node, not one that is gone.
 * Returns the count written to `order` (room for num_slots entries).
 */
unsigned placement_fallbacks(unsigned slot, bool explicit_node, uint16_t *order);

#endif
