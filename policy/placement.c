/* placement.c - the policy folded into the cpu -> slot table; see placement.h. */
#include "policy/placement.h"

#include "core/report.h"
#include "core/textbuf.h"
#include "policy/options.h"
#include "policy/topology.h"

static int node_index(int node)
{
    for (int i = 0; i < topo.num_nodes; i++)
        if (topo.node_id[i] == node)
            return i;
    return -1;
}

static int in_bitmap(const uint64_t *map, int node)
{
    return (int)((map[node / 64] >> (node % 64)) & 1u);
}

/*
 * Keeps the usable nodes of NUMA_ALLOC_NODES in `chosen` (slot flags);
 * warns once naming the others. Returns how many are usable.
 */
static int choose_slots(uint8_t *chosen)
{
    char buf[512];
    struct textbuf tb;
    tb_init(&tb, buf, sizeof buf);
    int usable = 0, unusable = 0;
    for (int node = 0; node < TOPO_MAX_NODE_ID; node++) {
        if (!in_bitmap(options.nodes, node))
            continue;
        int slot = topology_slot_of_node(node);
        if (slot >= 0) {
            chosen[slot] = 1;
            usable++;
        } else if (!options.nodes_all || node_index(node) >= 0) {
            /* ("all" names every possible id: only complain about nodes that exist) */
            tb_str(&tb, unusable++ ? "," : "");
            tb_u64(&tb, (uint64_t)node);
        }
    }
    if (unusable) {
        char msg[640];
        struct textbuf line;
        tb_init(&line, msg, sizeof msg);
        tb_str(&line, "NUMA_ALLOC_NODES: node(s) ");
        tb_str(&line, buf);
        tb_str(&line, " not available (no such node, no memory, or not in this process's "
                      "Mems_allowed); ignored");
        report_warning(msg);
    }
    return usable;
}

/* The chosen slot nearest to node index `from`. */
static int nearest_chosen(int from, const uint8_t *chosen)
{
    int best = -1, best_dist = 1 << 30;
    for (int slot = 0; slot < topo.num_slots; slot++) {
        if (!chosen[slot])
            continue;
        int dist = topo.distance[from][node_index(topo.slot_node[slot])];
        if (dist < best_dist) {
            best_dist = dist;
            best = slot;
        }
    }
    return best;
}

void placement_init(void)
{
    if (options.stats[0])
        report_warning("NUMA_ALLOC_STATS: statistics at exit are not implemented yet in this "
                       "version; ignored");
    if (options.policy == POLICY_INTERLEAVE || options.policy == POLICY_WEIGHTED_INTERLEAVE) {
        report_warning("NUMA_ALLOC_POLICY: interleave policies are not implemented yet in this "
                       "version; using local");
        options.policy = POLICY_LOCAL;
    }
    if (options.policy == POLICY_LOCAL) {
        if (options.nodes_given)
            report_warning("NUMA_ALLOC_NODES is ignored under NUMA_ALLOC_POLICY=local");
        return;
    }
    if (!options.nodes_given) {
        report_warning("NUMA_ALLOC_POLICY=bind and =preferred need NUMA_ALLOC_NODES (e.g. 0-1); "
                       "using local");
        options.policy = POLICY_LOCAL;
        return;
    }
    uint8_t chosen[TOPO_MAX_SLOTS] = {0};
    if (choose_slots(chosen) == 0) {
        report_warning("NUMA_ALLOC_NODES names no usable node; using local");
        options.policy = POLICY_LOCAL;
        return;
    }
    /* Every CPU allocates from the chosen node nearest to its own node. */
    for (int cpu = 0; cpu < topo.num_cpus; cpu++) {
        int from = topo.cpu_node_index[cpu] < topo.num_nodes ? topo.cpu_node_index[cpu] : 0;
        topo.cpu_slot[cpu] = (uint8_t)nearest_chosen(from, chosen);
    }
}
