/*
 * test_topology.c - the topology parser (policy/topology.c) on synthetic sysfs
 * and procfs trees: what QEMU cannot make (node ids must be contiguous there)
 * and no machine at hand has. Sparse ids up to 1000, a memory-less node with
 * CPUs, a CPU-less node, an offline node, a node outside Mems_allowed,
 * distances, memory tiers; and more nodes than 64 and slots than 255; and
 * both stores of the per-node tables (ids below 64, and above).
 *
 * Built from policy/topology.c and base/os.c with NA_TESTING (its
 * topology_set_root seam), not linked to the library.
 */
#define _GNU_SOURCE
#include "policy/topology.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char root[PATH_MAX];

/* Writes root/PATH (directories made as needed) from a format. */
static void put(const char *path, const char *fmt, ...)
{
    char full[PATH_MAX];
    snprintf(full, sizeof full, "%s%s", root, path);
    for (char *slash = strchr(full + strlen(root) + 1, '/'); slash;
         slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        cr_assert(mkdir(full, 0755) == 0 || errno == EEXIST, "mkdir %s: %s", full, strerror(errno));
        *slash = '/';
    }
    FILE *f = fopen(full, "w");
    cr_assert(f, "%s: %s", full, strerror(errno));
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fclose(f);
}

static void new_root(void)
{
    snprintf(root, sizeof root, "/tmp/test_topology.XXXXXX");
    cr_assert(mkdtemp(root), "mkdtemp: %s", strerror(errno));
    topology_set_root(root);
}

static void remove_root(void)
{
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    cr_assert(system(cmd) == 0);
}

#define NODE "/sys/devices/system/node/"
#define TIER "/sys/devices/virtual/memory_tiering/"

/* Mems_allowed as the kernel writes it for 1024 node ids: 32 words, the highest first. */
static void put_mems_allowed(const int *ids, int n)
{
    unsigned words[32] = {0};
    for (int i = 0; i < n; i++)
        words[ids[i] / 32] |= 1u << (ids[i] % 32);
    char text[32 * 9 + 1] = "";
    for (int w = 31; w >= 0; w--)
        snprintf(text + strlen(text), sizeof text - strlen(text), w ? "%08x," : "%08x", words[w]);
    put("/proc/self/status",
        "Name:\ttest\nCpus_allowed_list:\t0-5\nMems_allowed:\t%s\nMems_allowed_list:\t...\n", text);
}

/*
 * Online nodes 0, 2, 8, 100, 1000 (dense indices 0..4); node 3 exists but is
 * offline. Node 8 has CPUs and no memory, 100 and 1000 memory and no CPUs,
 * 1000 lies in a slower memory tier. `allowed` lists Mems_allowed.
 */
static void sparse_tree(const int *allowed, int nallowed)
{
    new_root();
    put(NODE "possible", "0-1023\n");
    put(NODE "online", "0,2,8,100,1000\n");
    put(NODE "has_memory", "0,2,100,1000\n");
    put(NODE "has_normal_memory", "0,2,100,1000\n");
    put(NODE "has_cpu", "0,2,8\n");
    put(NODE "node0/cpulist", "0-1\n");
    put(NODE "node2/cpulist", "2-3\n");
    put(NODE "node8/cpulist", "4-5\n");
    put(NODE "node100/cpulist", "\n");
    put(NODE "node1000/cpulist", "\n");
    put(NODE "node3/cpulist", "6-7\n"); /* offline: never read */
    put(NODE "node0/distance", "10 20 15 30 40\n");
    put(NODE "node2/distance", "20 10 25 30 40\n");
    put(NODE "node8/distance", "15 25 10 35 40\n");
    put(NODE "node100/distance", "30 30 35 10 50\n");
    put(NODE "node1000/distance", "40 40 40 50 10\n");
    put(TIER "memory_tier4/nodelist", "0,2,100\n");
    put(TIER "memory_tier22/nodelist", "1000\n");
    put_mems_allowed(allowed, nallowed);
}

Test(topology, sparse_ids_memoryless_and_offline_nodes)
{
    sparse_tree((const int[]){0, 2, 100, 1000}, 4);
    topology_init();
    remove_root();

    cr_assert_eq(na_topo.num_nodes, 5);
    const int ids[] = {0, 2, 8, 100, 1000};
    const uint8_t cpu[] = {1, 1, 1, 0, 0}, memory[] = {1, 1, 0, 1, 1};
    const int tier[] = {4, 4, -1, 4, 22};
    for (int i = 0; i < 5; i++) {
        cr_expect_eq(na_topo.node_id[i], ids[i], "index %d", i);
        cr_expect_eq(na_topo.has_cpu[i], cpu[i], "node %d", ids[i]);
        cr_expect_eq(na_topo.has_memory[i], memory[i], "node %d", ids[i]);
        cr_expect_eq(na_topo.allowed[i], memory[i], "node %d", ids[i]);
        cr_expect_eq(na_topo.tier[i], tier[i], "node %d", ids[i]);
    }
    /* Slots: the nodes with memory, in id order; the memory-less and offline nodes get none. */
    cr_assert_eq(na_topo.num_slots, 4);
    const int slot_node[] = {0, 2, 100, 1000};
    for (int s = 0; s < 4; s++) {
        cr_expect_eq(na_topo.slot_node[s], slot_node[s], "slot %d", s);
        cr_expect_eq(topology_slot_of_node(slot_node[s]), s, "node %d", slot_node[s]);
    }
    for (int id = 0; id < TOPO_MAX_NODE_ID; id++)
        if (id != 0 && id != 2 && id != 100 && id != 1000)
            cr_expect_eq(topology_slot_of_node(id), -1, "node %d has no slot", id);
    cr_expect_eq(topology_slot_of_node(-1), -1);
    cr_expect_eq(topology_slot_of_node(TOPO_MAX_NODE_ID), -1);

    /* The SLIT, by dense index. */
    const uint8_t want[5][5] = {{10, 20, 15, 30, 40},
                                {20, 10, 25, 30, 40},
                                {15, 25, 10, 35, 40},
                                {30, 30, 35, 10, 50},
                                {40, 40, 40, 50, 10}};
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++)
            cr_expect_eq(topology_distance(i, j), want[i][j], "distance %d-%d", ids[i], ids[j]);

    /* CPUs: their own node's slot; node 8's (no memory) the nearest, node 0 (15). */
    cr_expect_eq(na_topo.num_cpus, 6);
    const int route_slot[] = {0, 0, 1, 1, 0, 0},
              home[] = {0, 0, 1, 1, CPU_HOME_NONE, CPU_HOME_NONE};
    const int index[] = {0, 0, 1, 1, 2, 2};
    for (int c = 0; c < 6; c++) {
        cr_expect_eq(na_topo.cpu[c].policy_slot, route_slot[c], "cpu %d", c);
        cr_expect_eq(na_topo.cpu[c].slot, route_slot[c], "cpu %d: the route names it", c);
        cr_expect_eq(na_topo.cpu[c].home, home[c], "cpu %d", c);
        cr_expect_eq(na_topo.cpu[c].node_index, index[c], "cpu %d", c);
    }
    /* (CPUs past num_cpus allocate as CPU 0: current_route) */
    cr_expect(6 >= na_topo.num_cpus || na_topo.cpu[6].node_index == CPU_NODE_UNKNOWN,
              "cpu 6 (offline node 3) is unknown");
}

/* Node 2 outside the cpuset: no slot; its CPUs go to the nearest allowed slot (node 0, 20). */
Test(topology, node_outside_mems_allowed)
{
    sparse_tree((const int[]){0, 100, 1000}, 3);
    topology_init();
    remove_root();

    cr_assert_eq(na_topo.num_nodes, 5);
    cr_expect_eq(na_topo.allowed[1], 0, "node 2 is not allowed");
    cr_assert_eq(na_topo.num_slots, 3);
    cr_expect_eq(na_topo.slot_node[1], 100);
    cr_expect_eq(na_topo.slot_node[2], 1000);
    cr_expect_eq(topology_slot_of_node(2), -1);
    cr_expect_eq(topology_slot_of_node(1000), 2);
    cr_expect_eq(na_topo.cpu[2].policy_slot, 0, "node 2's CPU goes to node 0");
    cr_expect_eq(na_topo.cpu[2].home, CPU_HOME_NONE);
}

/* Mems_allowed read straight: every id up to 1023, from the kernel's 32 words. */
Test(topology, mems_allowed_high_ids)
{
    new_root();
    put_mems_allowed((const int[]){0, 31, 32, 100, 1000, 1023}, 6);
    uint64_t allowed[TOPO_MAX_NODE_ID / 64];
    cr_assert_eq(topology_read_mems_allowed(allowed), 0);
    remove_root();
    for (int id = 0; id < TOPO_MAX_NODE_ID; id++) {
        bool want = id == 0 || id == 31 || id == 32 || id == 100 || id == 1000 || id == 1023;
        cr_expect_eq((allowed[id / 64] >> (id % 64)) & 1, want, "node %d", id);
    }
}

/*
 * Without a synthetic tree the kernel answers (get_mempolicy): the same nodes
 * as this process's Mems_allowed line, read here the plain way.
 */
Test(topology, mems_allowed_from_the_kernel_as_in_proc_status)
{
    topology_set_root("");
    uint64_t allowed[TOPO_MAX_NODE_ID / 64];
    memset(allowed, 0xa5, sizeof allowed); /* every bit must be written */
    cr_assert_eq(topology_read_mems_allowed(allowed), 0);

    FILE *f = fopen("/proc/self/status", "r");
    cr_assert(f);
    char line[4096], *hex = NULL;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "Mems_allowed:", 13) == 0) {
            hex = line + 13;
            break;
        }
    fclose(f);
    cr_assert(hex, "no Mems_allowed line");
    uint64_t want[TOPO_MAX_NODE_ID / 64] = {0};
    unsigned words = 0, word[TOPO_MAX_NODE_ID / 32];
    for (char *tok = strtok(hex, ", \t\n"); tok && words < TOPO_MAX_NODE_ID / 32;
         tok = strtok(NULL, ", \t\n"))
        word[words++] = (unsigned)strtoul(tok, NULL, 16);
    cr_assert_gt(words, 0);
    for (unsigned w = 0; w < words; w++) { /* the last word holds nodes 0..31 */
        unsigned base = (words - 1 - w) * 32;
        for (unsigned b = 0; b < 32 && base + b < TOPO_MAX_NODE_ID; b++)
            if (word[w] & (1u << b))
                want[(base + b) / 64] |= 1ull << ((base + b) % 64);
    }
    for (int id = 0; id < TOPO_MAX_NODE_ID; id++)
        cr_expect_eq((allowed[id / 64] >> (id % 64)) & 1, (want[id / 64] >> (id % 64)) & 1,
                     "node %d", id);
}

/*
 * The per-node tables live in a small store while every online id is below
 * TOPO_FEW_IDS (63 the highest), in the large one as soon as one is not (64),
 * and in the small one again for a later topology: the id maps of the large
 * one must not answer for it (node 64 is not online there).
 */
static void ids_tree(const char *online, const int *ids, int n)
{
    new_root();
    put(NODE "online", "%s\n", online);
    put(NODE "has_memory", "%s\n", online);
    put(NODE "has_cpu", "%d\n", ids[0]);
    for (int i = 0; i < n; i++) {
        char path[64];
        snprintf(path, sizeof path, NODE "node%d/cpulist", ids[i]);
        put(path, i == 0 ? "0-1\n" : "\n");
        snprintf(path, sizeof path, NODE "node%d/distance", ids[i]);
        put(path, n == 2 ? (i == 0 ? "10 21\n" : "21 10\n") : "10 20 30\n");
    }
    put_mems_allowed(ids, n);
    topology_init();
    remove_root();
}

static void expect_ids(const int *ids, int n)
{
    cr_assert_eq(na_topo.num_nodes, n);
    cr_assert_eq(na_topo.num_slots, n);
    for (int i = 0; i < n; i++) {
        cr_expect_eq(na_topo.node_id[i], ids[i], "index %d", i);
        cr_expect_eq(na_topo.slot_node[i], ids[i], "slot %d", i);
        cr_expect_eq(topology_slot_of_node(ids[i]), i, "node %d", ids[i]);
        cr_expect_eq(na_topo.has_memory[i], 1, "node %d", ids[i]);
        cr_expect_eq(na_topo.allowed[i], 1, "node %d", ids[i]);
    }
    cr_expect_eq(na_topo.cpu[1].home, 0);
}

Test(topology, small_and_large_node_ids)
{
    const int small[] = {0, 63};
    ids_tree("0,63", small, 2);
    cr_expect_eq(na_topo.id_limit, TOPO_FEW_IDS, "ids up to 63: the small store");
    expect_ids(small, 2);
    cr_expect_eq(topology_distance(0, 1), 21);
    cr_expect_eq(topology_slot_of_node(64), -1);
    const int16_t *small_slots = na_topo.node_slot;

    const int large[] = {0, 5, 64};
    ids_tree("0,5,64", large, 3);
    cr_expect_eq(na_topo.id_limit, TOPO_MAX_NODE_ID, "id 64: the large store");
    cr_expect_neq(na_topo.node_slot, small_slots);
    expect_ids(large, 3);
    cr_expect_eq(topology_distance(0, 2), 30);
    cr_expect_eq(topology_slot_of_node(63), -1);
    cr_expect_eq(topology_slot_of_node(TOPO_MAX_NODE_ID - 1), -1);

    ids_tree("0,63", small, 2);
    cr_expect_eq(na_topo.id_limit, TOPO_FEW_IDS);
    expect_ids(small, 2);
    cr_expect_eq(topology_slot_of_node(64), -1, "node 64 is not online now");
    cr_expect_eq(topology_slot_of_node(5), -1, "nor is node 5");
}

/*
 * 301 nodes with memory, sparse (ids 0, 3, 6, ..., 897 and 1023), CPUs on the
 * first two and the last: more online nodes than 64 and more slots than 255
 * (a slot number in a byte wraps), distance lines longer than 1 KiB (at 1024
 * nodes the kernel's are 4 KiB). Needs the library's node limits raised
 * (issue 16): fails with TOPO_MAX_NODES 64.
 */
#define MANY 301
#if TOPO_MAX_NODES >= MANY && TOPO_MAX_SLOTS >= MANY
static int many_id(int i)
{
    return i == MANY - 1 ? 1023 : 3 * i;
}

static int many_distance(int i, int j)
{
    return i == j ? 10 : 100 + abs(i - j) % 150; /* 3 digits: a line of 1204 bytes */
}

Test(topology, more_than_64_nodes)
{
    new_root();
    static char list[MANY * 6], line[MANY * 5];
    list[0] = '\0';
    for (int i = 0; i < MANY; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), i ? ",%d" : "%d", many_id(i));
    put(NODE "online", "%s\n", list);
    put(NODE "has_memory", "%s\n", list);
    put(NODE "has_cpu", "0,3,1023\n");
    int ids[MANY];
    for (int i = 0; i < MANY; i++) {
        char path[64];
        ids[i] = many_id(i);
        line[0] = '\0';
        for (int j = 0; j < MANY; j++)
            snprintf(line + strlen(line), sizeof line - strlen(line), j ? " %d" : "%d",
                     many_distance(i, j));
        snprintf(path, sizeof path, NODE "node%d/distance", many_id(i));
        put(path, "%s\n", line);
        snprintf(path, sizeof path, NODE "node%d/cpulist", many_id(i));
        put(path, i == 0 ? "0-1\n" : i == 1 ? "2-3\n" : i == MANY - 1 ? "4-5\n" : "\n");
    }
    put_mems_allowed(ids, MANY);
    topology_init();
    remove_root();

    cr_assert_eq(na_topo.num_nodes, MANY, "online nodes: %d", na_topo.num_nodes);
    cr_assert_eq(na_topo.num_slots, MANY, "slots: %d", na_topo.num_slots);
    for (int i = 0; i < MANY; i++) {
        cr_expect_eq(na_topo.node_id[i], many_id(i), "index %d", i);
        cr_expect_eq(na_topo.slot_node[i], many_id(i), "slot %d", i);
        cr_expect_eq(topology_slot_of_node(many_id(i)), i, "node %d", many_id(i));
    }
    for (int i = 0; i < MANY; i += 50)
        for (int j = 0; j < MANY; j++)
            cr_expect_eq(topology_distance(i, j), many_distance(i, j), "distance %d-%d", many_id(i),
                         many_id(j));
    cr_expect_eq(topology_distance(MANY - 1, 0), many_distance(MANY - 1, 0));
    cr_expect_eq(na_topo.cpu[2].policy_slot, 1, "node 3's CPU");
    /* A slot past the thread caches' direct ones: the route sends the thread to the slow path. */
    cr_expect_eq(na_topo.cpu[4].slot, ROUTE_SLOW, "node 1023's CPU: its route");
    int slot = na_topo.cpu[4].policy_slot, home = na_topo.cpu[4].home; /* whatever their width */
    cr_expect_eq(slot, MANY - 1, "node 1023's CPU: slot %d", slot);
    cr_expect_eq(home, MANY - 1, "node 1023's CPU: home %d", home);
}
#else
Test(topology, more_than_64_nodes)
{
    cr_assert_fail(
        "TOPO_MAX_NODES %d, TOPO_MAX_SLOTS %d: the topology cannot hold %d nodes (issue 16)",
        TOPO_MAX_NODES, TOPO_MAX_SLOTS, MANY);
}
#endif
