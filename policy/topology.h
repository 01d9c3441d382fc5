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

#include <stdint.h>

#define TOPO_MAX_NODE_ID 1024 /* node ids 0..1023: Linux's MAX_NUMNODES limit */
#define TOPO_MAX_NODES   64   /* online nodes supported */
#define TOPO_MAX_SLOTS   64   /* nodes with memory, allowed to us */
#define TOPO_MAX_CPUS    4096

#define CPU_HOME_NONE 0xff /* the CPU's node has no memory (or none is allowed) */

/* Where a thread running on a CPU allocates, and which node it is on: one 16-bit load. */
struct cpu_route {
    uint8_t slot; /* the slot the policy gives it (see placement.h) */
    uint8_t home; /* the slot of the CPU's own node, or CPU_HOME_NONE */
};

struct topology {
    int num_nodes;               /* online nodes */
    int num_slots;               /* nodes with memory we may use */
    int num_cpus;                /* entries used in cpu */
    int node_id[TOPO_MAX_NODES]; /* dense index -> node id */
    uint8_t has_cpu[TOPO_MAX_NODES];
    uint8_t has_memory[TOPO_MAX_NODES];
    /*
     * In Mems_allowed now: set at start-up, then rewritten (relaxed byte
     * stores, policy/mems_watch.c) when the cpuset changes. Slots stay those
     * of the nodes allowed at start-up; na_placement.slot_usable says which of
     * them may serve now.
     */
    uint8_t allowed[TOPO_MAX_NODES];
    uint8_t distance[TOPO_MAX_NODES][TOPO_MAX_NODES]; /* SLIT, 10 = local */
    int tier[TOPO_MAX_NODES];      /* memory tier id (memory_tier<N>, lower = faster), -1 unknown */
    int slot_node[TOPO_MAX_SLOTS]; /* slot -> node id */
    int16_t node_slot[TOPO_MAX_NODE_ID];   /* node id -> slot, -1 if none */
    struct cpu_route cpu[TOPO_MAX_CPUS];   /* cpu -> where its threads allocate */
    uint8_t cpu_node_index[TOPO_MAX_CPUS]; /* cpu -> dense node index, 0xff unknown */
};

extern struct topology na_topo;

/* Fills `na_topo`; never fails: without sysfs NUMA information, one node 0. */
void topology_init(void);

#ifdef NA_TESTING
/* Test builds only: read sysfs and /proc/self/status under `root` (a synthetic tree). */
void topology_set_root(const char *root);
#endif

/*
 * This process's Mems_allowed (/proc/self/status) into `allowed`, a bitmap of
 * TOPO_MAX_NODE_ID bits indexed by node id; 0, or -1 when it cannot be read.
 */
int topology_read_mems_allowed(uint64_t *allowed);

/* "/sys/devices/system/node/node<id>/<leaf>" into buf (at least 64 bytes + leaf). */
void topology_node_path(char *buf, int id, const char *leaf);

/* Slot of node id `node`, or -1 if the node cannot be used. */
static inline int topology_slot_of_node(int node)
{
    if (node < 0 || node >= TOPO_MAX_NODE_ID)
        return -1;
    return na_topo.node_slot[node];
}

#endif
