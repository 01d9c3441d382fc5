/*
 * topology.h - the machine's NUMA nodes, read once from sysfs and procfs.
 *
 * Node ids may be sparse (0, 2, 8, ...). Every online node gets a dense
 * index; every node that has memory and is allowed to this process
 * (cpuset Mems_allowed) also gets a "slot": the slot owns one region of
 * address space and one node heap. CPU-less nodes get slots too (they are
 * valid targets for explicit placement), memory-less nodes do not (their
 * CPUs allocate from the nearest slot by SLIT distance).
 *
 * Parsing uses stack buffers and raw reads only: this runs inside malloc.
 */
#ifndef NUMA_ALLOC_TOPOLOGY_H
#define NUMA_ALLOC_TOPOLOGY_H

#include "base/compiler.h"

#include <stdint.h>

/*
 * Every node Linux can have (MAX_NUMNODES, CONFIG_NODES_SHIFT=10) is served.
 * The tables below are sized for all of them but only their first
 * num_nodes / num_slots entries (rows) are ever written or read: the pages of
 * the rest are never touched and cost no memory.
 */
#define TOPO_MAX_NODE_ID 1024 /* node ids 0..1023: Linux's MAX_NUMNODES limit */
#define TOPO_MAX_NODES   1024 /* online nodes supported: every id can be online */
#define TOPO_MAX_SLOTS   1024 /* nodes with memory, allowed to us */
#define TOPO_MAX_CPUS    4096

/*
 * Slots a route names directly: the thread caches' table of the first slots
 * (core/thread_cache.h) has this many entries and one more that stays NULL.
 * A route to a higher slot names that entry, which sends the thread to the
 * slow path, where topology's cpu_slot has the slot itself.
 */
#define TOPO_DIRECT_SLOTS 64
#define ROUTE_SLOW        TOPO_DIRECT_SLOTS

#define CPU_HOME_NONE 0xffff /* the CPU's node has no memory (or none is allowed) */

/*
 * Where a thread running on a CPU allocates, and which node it is on: one
 * load on the malloc fast path (slot and home). What the slow paths read of
 * the CPU shares the entry, so that the start-up, which writes the entries of
 * the CPUs present, touches one table's first pages rather than three
 * (docs/architecture.md, *Footprint*).
 */
struct cpu_route {
    uint16_t slot; /* the slot the policy gives it if below TOPO_DIRECT_SLOTS, else ROUTE_SLOW */
    uint16_t home; /* the slot of the CPU's own node, or CPU_HOME_NONE */
    /*
     * The slot the policy gives it, any slot, or PLACEMENT_PER_ALLOCATION
     * (placement.h): what the slow paths read. Written before `slot`
     * (topology_route_cpu); a reader may see the two from either side of a
     * change for a moment, as placement.h allows.
     */
    uint16_t policy_slot;
    uint16_t node_index; /* dense index of its node, CPU_NODE_UNKNOWN */
};

/*
 * The per-node tables below (by node id, dense index or slot) are sized for
 * every node Linux can have, but a machine's node ids are nearly always
 * small: while every online id is below TOPO_FEW_IDS they point into a small
 * store (a few hundred bytes on one or two pages of .bss), else into one
 * sized for TOPO_MAX_NODE_ID ids (NA_COLD_BSS, base/compiler.h), so that
 * start-up, which resets the id maps whole, writes a few hundred bytes rather
 * than a dozen pages (docs/architecture.md, *Footprint*). `id_limit` is the
 * store's id count: node_index and node_slot hold that many entries, and an
 * id at or above it is not online. Both stores hold at least as many dense
 * indexes and slots as ids (each online id has at most one of each). Set by
 * topology_init, before any reader; 0 before it (every table NULL: no node
 * known, the counts 0).
 */
#define TOPO_FEW_IDS 64

struct topology {
    int num_nodes;        /* online nodes */
    int num_slots;        /* nodes with memory we may use */
    int num_cpus;         /* entries used in cpu */
    int id_limit;         /* TOPO_FEW_IDS or TOPO_MAX_NODE_ID: see above */
    int *node_id;         /* dense index -> node id */
    int16_t *node_index;  /* node id -> dense index, -1 if not online */
    uint16_t *slot_index; /* slot -> dense index of its node */
    uint8_t *has_cpu;     /* by dense index */
    uint8_t *has_memory;
    /*
     * In Mems_allowed now: set at start-up, then rewritten (relaxed byte
     * stores, policy/mems_watch.c) when the cpuset changes. Slots stay those
     * of the nodes allowed at start-up; na_placement.slot_usable says which of
     * them may serve now.
     */
    uint8_t *allowed;
    /*
     * SLIT (10 = local) between dense indexes i and j at [i * num_nodes + j]
     * (topology_distance): num_nodes^2 bytes, static storage up to
     * TOPO_DIRECT_SLOTS nodes, a mapping of that size beyond (NULL if it
     * could not be had: every distance is then 10 or 20, as without sysfs).
     */
    uint8_t *distance;
    int *tier;          /* memory tier id (memory_tier<N>, lower = faster), -1 unknown */
    int *slot_node;     /* slot -> node id */
    int16_t *node_slot; /* node id -> slot, -1 if none */
    struct cpu_route cpu[TOPO_MAX_CPUS]; /* cpu -> where its threads allocate, its node */
};

#define CPU_NODE_UNKNOWN 0xffff

extern NA_HIDDEN struct topology na_topo;

/* Fills `na_topo`; never fails: without sysfs NUMA information, one node 0. */
void topology_init(void);

#ifdef NA_TESTING
/* Test builds only: read sysfs and /proc/self/status under `root` (a synthetic tree). */
void topology_set_root(const char *root);
#endif

/*
 * This process's Mems_allowed (get_mempolicy's MPOL_F_MEMS_ALLOWED; where the
 * call is refused, /proc/self/status) into `allowed`, a bitmap of
 * TOPO_MAX_NODE_ID bits indexed by node id; 0, or -1 when it cannot be read.
 */
int topology_read_mems_allowed(uint64_t *allowed);

/* "/sys/devices/system/node/node<id>/<leaf>" into buf (at least 64 bytes + leaf). */
void topology_node_path(char *buf, int id, const char *leaf);

/* SLIT distance between the nodes of dense indexes i and j. */
static inline unsigned topology_distance(int i, int j)
{
    if (!na_topo.distance)
        return i == j ? 10 : 20;
    return na_topo.distance[i * na_topo.num_nodes + j];
}

/*
 * The routes' generation, shifted left by 32 bits (a CPU number fills the
 * low half of a key: struct thread_state's route_key). Starts at 1 << 32 and
 * is never 0 (a wrap skips it: 0 | CPU 0 is the key "none");
 * topology_routes_changed adds 1 << 32 (release) after every rewrite of the
 * routes once threads may be reading them, so that a thread's route read in
 * an older generation no longer matches. One writer at a time (placement.h).
 */
extern NA_HIDDEN uint64_t na_route_generation;

/* After topology_route_cpu calls that threads may have read the old routes of. */
static inline void topology_routes_changed(void)
{
    uint64_t next = na_route_generation + ((uint64_t)1 << 32);
    __atomic_store_n(&na_route_generation, next ? next : (uint64_t)1 << 32, __ATOMIC_RELEASE);
}

/* Routes threads on `cpu` to `slot` (relaxed stores: readers run meanwhile). */
static inline void topology_route_cpu(unsigned cpu, unsigned slot)
{
    __atomic_store_n(&na_topo.cpu[cpu].policy_slot, (uint16_t)slot, __ATOMIC_RELAXED);
    __atomic_store_n(&na_topo.cpu[cpu].slot,
                     (uint16_t)(slot < TOPO_DIRECT_SLOTS ? slot : ROUTE_SLOW), __ATOMIC_RELAXED);
}

/* Slot of node id `node`, or -1 if the node cannot be used. */
static inline int topology_slot_of_node(int node)
{
    if (node < 0 || node >= na_topo.id_limit)
        return -1;
    return na_topo.node_slot[node];
}

#endif
