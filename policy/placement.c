/* placement.c - policies folded into tables; see placement.h. */
#include "policy/placement.h"

#include "base/bitmap.h"
#include "base/bytes.h"
#include "base/debug.h"
#include "base/os.h"
#include "base/textbuf.h"
#include "policy/node_memory.h"
#include "policy/options.h"

#include <string.h>

struct placement na_placement NA_HOT_HEAD_BSS;

static int node_index(int node)
{
    return node >= 0 && node < na_topo.id_limit ? na_topo.node_index[node] : -1;
}

static int slot_distance(int from_index, unsigned slot)
{
    return (int)topology_distance(from_index, na_topo.slot_index[slot]);
}

/*
 * Marks in `chosen` the usable slots among the node ids of `map`. The nodes
 * that cannot be used go to `bad` ("1,7"; "all" names every possible id:
 * only those that exist are listed). Returns how many slots were chosen.
 */
static int choose_slots(const uint64_t *map, bool all, uint8_t *chosen, struct textbuf *bad)
{
    int usable = 0, unusable = 0;
    for (int node = 0; node < TOPO_MAX_NODE_ID; node++) {
        if (!bitmap_test(map, (size_t)node))
            continue;
        int slot = topology_slot_of_node(node);
        if (slot >= 0) {
            chosen[slot] = 1;
            usable++;
        } else if (!all || node_index(node) >= 0) {
            tb_str(bad, unusable++ ? "," : "");
            tb_u64(bad, (uint64_t)node);
        }
    }
    return usable;
}

/*
 * The one line about the nodes of `variable` that cannot be used, with what
 * follows: the rest are used, or (none left) the policy falls back to local.
 */
static void warn_unusable(enum option_variable variable, const char *bad, int nchosen)
{
    char msg[512];
    struct textbuf line;
    tb_init(&line, msg, sizeof msg);
    tb_str(&line, variable == OPTION_WEIGHTS ? "NUMA_ALLOC_WEIGHTS" : "NUMA_ALLOC_NODES");
    tb_str(&line, ": node(s) ");
    tb_str(&line, bad);
    tb_str(&line, " not available (no such node, no memory, or not in this process's "
                  "Mems_allowed); ");
    tb_str(&line, nchosen ? "ignored" : "no usable node left: using NUMA_ALLOC_POLICY=local");
    options_warn(variable, msg);
}

/* The chosen slot nearest to node index `from`. */
static int find_nearest_chosen(int from, const uint8_t *chosen)
{
    int best = -1, best_dist = 1 << 30;
    for (int slot = 0; slot < na_topo.num_slots; slot++) {
        if (chosen[slot] && slot_distance(from, (unsigned)slot) < best_dist) {
            best_dist = slot_distance(from, (unsigned)slot);
            best = slot;
        }
    }
    return best;
}

/*
 * How far `slot` is, as a fallback, for memory wanted on node index `from`:
 * first whether it lies in another memory tier (a CXL or other slower
 * expander behind DRAM, or DRAM behind it), then the SLIT distance. Tiers
 * come first because SLIT distances of a CPU-less expander are often smaller
 * than those of the other socket (firmware reports latency, not bandwidth).
 */
#define TIER_RANK 256 /* above every SLIT distance (one byte) */

static int fallback_rank(int from, unsigned slot)
{
    int tier_from = na_topo.tier[from], tier_to = na_topo.tier[na_topo.slot_index[slot]];
    bool other_tier = tier_from >= 0 && tier_to >= 0 && tier_from != tier_to;
    return (other_tier ? TIER_RANK : 0) + slot_distance(from, slot);
}

/*
 * The row of `slot` in by_distance: every slot by fallback rank from the
 * slot's node (stable: ties by slot number), sorted on first use
 * (placement.h); into `scratch` (num_slots entries) when there is no table.
 */
static const uint16_t *by_distance_row(unsigned slot, uint16_t *scratch)
{
    unsigned n = (unsigned)na_topo.num_slots;
    uint16_t *row =
        na_placement.by_distance ? &na_placement.by_distance[(size_t)slot * n] : scratch;
    if (row != scratch && __atomic_load_n(&na_placement.row_ready[slot], __ATOMIC_ACQUIRE))
        return row;
    int from = na_topo.slot_index[slot];
    uint16_t *order = scratch;
    for (unsigned i = 0; i < n; i++)
        order[i] = (uint16_t)i;
    for (unsigned i = 1; i < n; i++) {
        uint16_t s = order[i];
        unsigned j = i;
        while (j > 0 && fallback_rank(from, order[j - 1]) > fallback_rank(from, s)) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = s;
    }
    if (row == scratch)
        return row;
    for (unsigned i = 0; i < n; i++)
        __atomic_store_n(&row[i], order[i], __ATOMIC_RELAXED);
    __atomic_store_n(&na_placement.row_ready[slot], 1, __ATOMIC_RELEASE);
    return row;
}

/* by_distance's storage for num_slots^2 entries (placement.h), or NULL. */
static uint16_t *by_distance_table(void)
{
    /* Cold: rows are sorted on a thread's first fallback from its slot, never at start-up. */
    NA_COLD_BSS static uint16_t few[TOPO_DIRECT_SLOTS * TOPO_DIRECT_SLOTS];
    size_t entries = (size_t)na_topo.num_slots * (size_t)na_topo.num_slots;
    return entries <= sizeof few / sizeof few[0] ? few : os_map(entries * sizeof few[0]);
}

/*
 * What the policy asks for, settled once at start-up (with its warnings):
 * placement_apply intersects it with the usable slots, then and at every
 * cpuset change.
 */
enum wanted_kind { WANT_LOCAL, WANT_NEAREST, WANT_INTERLEAVE };
static struct {
    enum wanted_kind kind;
    bool bind;                      /* candidates are the chosen slots only */
    uint8_t chosen[TOPO_MAX_SLOTS]; /* the policy's slots (NEAREST, INTERLEAVE) */
    uint8_t weight[TOPO_MAX_SLOTS]; /* interleave turns per slot */
} wanted NA_HOT_BSS;

static void store_u8(uint8_t *at, unsigned value)
{
    __atomic_store_n(at, (uint8_t)value, __ATOMIC_RELAXED);
}

static void store_u16(uint16_t *at, unsigned value)
{
    __atomic_store_n(at, (uint16_t)value, __ATOMIC_RELAXED);
}

/* Interleave: the chosen slots in turn, each as often as its weight (1 without weights). */
static void build_sequence(const uint8_t *chosen, const uint8_t *weight_of_slot)
{
    unsigned total = 0, len = 0;
    for (int slot = 0; slot < na_topo.num_slots; slot++)
        total += chosen[slot] ? weight_of_slot[slot] : 0u;
    /* Spread each slot's turns evenly (like the kernel's weighted interleave rounds). */
    for (unsigned round = 0; len < total && len < PLACEMENT_SEQUENCE_MAX; round++)
        for (int slot = 0; slot < na_topo.num_slots && len < PLACEMENT_SEQUENCE_MAX; slot++)
            if (chosen[slot] && round < weight_of_slot[slot])
                store_u16(&na_placement.sequence[len++], (unsigned)slot);
    /* Entries first, then the length (never 0: the caller chose at least one slot). */
    __atomic_store_n(&na_placement.sequence_len, len, __ATOMIC_RELEASE);
    /* Raised weights before lowered ones: a reader never sees every weight at 0. */
    for (int pass = 0; pass < 2; pass++)
        for (int slot = 0; slot < na_topo.num_slots; slot++)
            if ((pass == 0) == (chosen[slot] != 0))
                store_u8(&na_placement.page_weight[slot], chosen[slot] ? weight_of_slot[slot] : 0u);
}

static void fall_back_to_local(enum option_variable variable, const char *why)
{
    options_warn(variable, why);
    na_options.policy = POLICY_LOCAL;
}

/*
 * Settles `wanted` from the options: 1, or 0 when the policy is (or became)
 * local, or -1 (why in `why`) when it can honour no node and no fallback is allowed.
 */
static int settle_policy(char *why, size_t why_size)
{
    if (na_options.policy == POLICY_LOCAL) {
        if (na_options.nodes_given) /* (a bad NODES has had its line, saying the same) */
            options_warn(OPTION_NODES, "NUMA_ALLOC_NODES is ignored under NUMA_ALLOC_POLICY=local");
        return 0;
    }
    na_fill(wanted.weight, 1, (size_t)na_topo.num_slots);
    char bad[256];
    struct textbuf bad_nodes;
    tb_init(&bad_nodes, bad, sizeof bad);
    enum option_variable naming_nodes = OPTION_NODES;
    int nchosen;
    if (na_options.policy == POLICY_WEIGHTED_INTERLEAVE) {
        /* (kernel_policy_apply gave it the kernel's or equal weights if it had none) */
        naming_nodes = OPTION_WEIGHTS;
        uint64_t weighted[TOPO_MAX_NODE_ID / 64] = {0};
        for (int node = 0; node < TOPO_MAX_NODE_ID; node++)
            if (na_options.weights[node])
                bitmap_set(weighted, (size_t)node);
        nchosen = choose_slots(weighted, false, wanted.chosen, &bad_nodes);
        for (int slot = 0; slot < na_topo.num_slots; slot++)
            wanted.weight[slot] = na_options.weights[na_topo.slot_node[slot]];
    } else if (na_options.nodes_given) {
        nchosen = choose_slots(na_options.nodes, na_options.nodes_all, wanted.chosen, &bad_nodes);
    } else if (na_options.policy == POLICY_INTERLEAVE) {
        nchosen = na_topo.num_slots; /* interleave over every usable node, like numactl -i all */
        na_fill(wanted.chosen, 1, (size_t)nchosen);
    } else {
        fall_back_to_local(OPTION_NODES, na_options.policy == POLICY_BIND
                                             ? "NUMA_ALLOC_POLICY=bind needs NUMA_ALLOC_NODES "
                                               "(e.g. 0-1); using local"
                                             : "NUMA_ALLOC_POLICY=preferred needs "
                                               "NUMA_ALLOC_NODES (e.g. 0-1); using local");
        return 0;
    }
    if (nchosen == 0 && na_options.fallback == FALLBACK_NONE) {
        /* Nothing to honour and no other node allowed: like numactl --membind=5, refuse,
         * rather than serve local memory under a policy that says otherwise. */
        struct textbuf reason;
        tb_init(&reason, why, why_size);
        tb_str(&reason, naming_nodes == OPTION_WEIGHTS ? "NUMA_ALLOC_WEIGHTS" : "NUMA_ALLOC_NODES");
        tb_str(&reason, ": node(s) ");
        tb_str(&reason, bad);
        tb_str(&reason, " not available and NUMA_ALLOC_FALLBACK=none allows no other node");
        return -1;
    }
    if (bad[0])
        warn_unusable(naming_nodes, bad, nchosen);
    if (nchosen == 0) { /* (a list names a node, so warn_unusable has said so) */
        na_options.policy = POLICY_LOCAL;
        return 0;
    }
    wanted.bind = na_options.policy == POLICY_BIND;
    wanted.kind =
        na_options.policy == POLICY_INTERLEAVE || na_options.policy == POLICY_WEIGHTED_INTERLEAVE
            ? WANT_INTERLEAVE
            : WANT_NEAREST;
    return 1;
}

int placement_init(char *why, size_t why_size)
{
    na_fill(na_placement.row_ready, 0, (size_t)na_topo.num_slots);
    na_placement.by_distance = by_distance_table();
    int settled = settle_policy(why, why_size);
    if (settled < 0)
        return -1;
    wanted.kind = settled ? wanted.kind : WANT_LOCAL;
    uint8_t all[TOPO_MAX_SLOTS];
    na_fill(all, 0, sizeof all);
    na_fill(all, 1, (size_t)na_topo.num_slots);
    placement_apply(all);
    return 0;
}

/*
 * The slot among `chosen` nearest to node index `from`, remembered per node
 * for one placement_apply (most CPUs share their node with others).
 */
static uint16_t nearest_memo[TOPO_MAX_NODES] NA_HOT_BSS; /* slot + 1; 0: not looked up yet */

static void forget_nearest(void)
{
    na_fill(nearest_memo, 0, (size_t)na_topo.num_nodes * sizeof nearest_memo[0]);
}

static unsigned nearest_chosen(int from, const uint8_t *chosen)
{
    if (!nearest_memo[from])
        nearest_memo[from] = (uint16_t)(find_nearest_chosen(from, chosen) + 1);
    return nearest_memo[from] - 1u;
}

/* The dense node index of `cpu`'s node; CPUs of no known node count as on the first. */
static int cpu_node(int cpu)
{
    unsigned i = na_topo.cpu[cpu].node_index;
    return i < (unsigned)na_topo.num_nodes ? (int)i : 0;
}

/* Local: the CPU's own slot when usable (as topology_init routed it), else the nearest usable. */
static void route_local(const uint8_t *usable)
{
    forget_nearest();
    for (int cpu = 0; cpu < na_topo.num_cpus; cpu++) {
        const struct cpu_route *route = &na_topo.cpu[cpu];
        bool has_home = route->home != CPU_HOME_NONE;
        unsigned slot = has_home ? route->home : 0;
        /* A memory-less node's CPU (or one whose slot left): the nearest usable slot. */
        if (!has_home || !usable[slot])
            slot = nearest_chosen(cpu_node(cpu), usable);
        topology_route_cpu((unsigned)cpu, slot);
    }
}

/*
 * Debug builds: the tables placement_apply just built keep the promises of
 * struct placement (placement.h) for the slots in `usable`: routes, candidates
 * and the interleave sequence lead only to usable slots, and each
 * by_distance row holds every slot once, in fallback order.
 */
static void assert_tables(const uint8_t *usable)
{
    int nusable = 0, ncandidates = 0;
    for (int slot = 0; slot < na_topo.num_slots; slot++) {
        nusable += usable[slot] != 0;
        ncandidates += na_placement.candidate[slot] != 0;
        NA_ASSERT(!na_placement.candidate[slot] || usable[slot]);
        NA_ASSERT(!na_placement.page_weight[slot] || usable[slot]);
        NA_ASSERT(!na_placement.slot_usable[slot] == !usable[slot]);
        if (!na_placement.row_ready[slot])
            continue;
        uint8_t seen[TOPO_MAX_SLOTS] = {0};
        int from = na_topo.slot_index[slot];
        uint16_t scratch[na_topo.num_slots];
        const uint16_t *row = by_distance_row((unsigned)slot, scratch);
        for (int i = 0; i < na_topo.num_slots; i++) {
            unsigned other = row[i];
            NA_ASSERT(other < (unsigned)na_topo.num_slots && !seen[other]);
            seen[other] = 1;
            NA_ASSERT(i == 0 || fallback_rank(from, row[i - 1]) <= fallback_rank(from, other));
        }
    }
    NA_ASSERT(nusable > 0 && ncandidates > 0);
    if (na_placement.per_allocation) {
        NA_ASSERT(na_placement.sequence_len > 0 &&
                  na_placement.sequence_len <= PLACEMENT_SEQUENCE_MAX);
        for (unsigned i = 0; i < na_placement.sequence_len; i++)
            NA_ASSERT(na_placement.sequence[i] < na_topo.num_slots &&
                      usable[na_placement.sequence[i]]);
    }
    for (int cpu = 0; cpu < na_topo.num_cpus; cpu++) {
        unsigned slot = na_topo.cpu[cpu].policy_slot;
        NA_ASSERT(na_placement.per_allocation ? slot == PLACEMENT_PER_ALLOCATION
                                              : slot < (unsigned)na_topo.num_slots && usable[slot]);
        NA_ASSERT(na_topo.cpu[cpu].slot == (slot < TOPO_DIRECT_SLOTS ? slot : ROUTE_SLOW));
    }
}

void placement_apply(const uint8_t *usable)
{
    /* A slot that joins is marked before routes lead to it; one that left, after. */
    for (int slot = 0; slot < na_topo.num_slots; slot++)
        if (usable[slot])
            store_u8(&na_placement.slot_usable[slot], 1);
    uint8_t chosen[TOPO_MAX_SLOTS];
    na_fill(chosen, 0, sizeof chosen);
    int nchosen = 0;
    for (int slot = 0; slot < na_topo.num_slots; slot++) {
        chosen[slot] = (uint8_t)(usable[slot] && wanted.chosen[slot]);
        nchosen += chosen[slot];
    }
    if (nchosen == 0) /* every node the policy named left: the nodes that are left serve */
        na_copy(chosen, usable, (size_t)na_topo.num_slots);
    for (int slot = 0; slot < na_topo.num_slots; slot++)
        store_u8(&na_placement.candidate[slot],
                 wanted.kind != WANT_LOCAL && wanted.bind ? chosen[slot] : usable[slot]);

    if (wanted.kind == WANT_LOCAL) {
        route_local(usable);
    } else if (wanted.kind == WANT_INTERLEAVE) {
        build_sequence(chosen, wanted.weight);
        na_placement.per_allocation = true;
        for (int cpu = 0; cpu < na_topo.num_cpus; cpu++)
            topology_route_cpu((unsigned)cpu, PLACEMENT_PER_ALLOCATION);
    } else {
        /* bind, preferred: every CPU allocates from the chosen node nearest to its own node. */
        forget_nearest();
        for (int cpu = 0; cpu < na_topo.num_cpus; cpu++)
            topology_route_cpu((unsigned)cpu, nearest_chosen(cpu_node(cpu), chosen));
    }
    for (int slot = 0; slot < na_topo.num_slots; slot++)
        if (!usable[slot])
            store_u8(&na_placement.slot_usable[slot], 0);
    topology_routes_changed();
    assert_tables(usable);
}

unsigned placement_fallbacks(unsigned slot, bool explicit_node, uint16_t *order)
{
    unsigned n = 0;
    order[n++] = (uint16_t)slot;
    if (na_options.fallback == FALLBACK_NONE && placement_slot_usable(slot))
        return n;
    uint16_t scratch[na_topo.num_slots];
    const uint16_t *row = by_distance_row(slot, scratch);
    for (int i = 0; i < na_topo.num_slots; i++) {
        unsigned other = __atomic_load_n(&row[i], __ATOMIC_RELAXED);
        if (other != slot && placement_slot_usable(other) &&
            (explicit_node || __atomic_load_n(&na_placement.candidate[other], __ATOMIC_RELAXED)))
            order[n++] = (uint16_t)other;
    }
    if (na_options.fallback == FALLBACK_ANY) {
        /* Most free memory first, among the fallbacks (the wanted slot stays first). */
        uint64_t free_bytes[n];
        for (unsigned i = 1; i < n; i++)
            free_bytes[i] = node_free_bytes(na_topo.slot_node[order[i]]);
        for (unsigned i = 2; i < n; i++) {
            uint16_t s = order[i];
            uint64_t f = free_bytes[i];
            unsigned j = i;
            while (j > 1 && free_bytes[j - 1] < f) {
                order[j] = order[j - 1];
                free_bytes[j] = free_bytes[j - 1];
                j--;
            }
            order[j] = s;
            free_bytes[j] = f;
        }
    }
    return n;
}
