/* topology.c - sysfs/procfs parsing without malloc; see topology.h. */
#include "policy/topology.h"

#include "base/bitmap.h"
#include "base/bytes.h"
#include "base/os.h"
#include "base/parse.h"
#include "base/textbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

struct topology na_topo NA_HOT_HEAD_BSS;
uint64_t na_route_generation = (uint64_t)1 << 32;

#define NODE_DIR "/sys/devices/system/node/"

typedef uint64_t node_bitmap[BITMAP_WORDS(TOPO_MAX_NODE_ID)];
typedef uint64_t cpu_bitmap[BITMAP_WORDS(TOPO_MAX_CPUS)];

/* The kernel's numbers (ids, distances) fit an unsigned; a larger one is refused, not wrapped. */
#define SYSFS_NUMBER_MAX UINT_MAX

#ifdef NA_TESTING
/*
 * Test builds only (tests/test_topology.c, never the library): every path
 * this file reads lies under `test_root`, a synthetic sysfs and procfs tree,
 * so that the parser meets what no machine at hand has (sparse node ids,
 * memory-less and offline nodes, more nodes than QEMU makes).
 */
static char test_root[512];

void topology_set_root(const char *root)
{
    size_t len = strlen(root);
    if (len >= sizeof test_root)
        len = sizeof test_root - 1;
    memcpy(test_root, root, len);
    test_root[len] = '\0';
}

/* `path` under the test root, in `out` (PATH_MAX bytes). */
static const char *rooted(const char *path, char *out)
{
    size_t root_len = strlen(test_root), len = strlen(path);
    if (root_len + len >= PATH_MAX)
        return path;
    memcpy(out, test_root, root_len);
    memcpy(out + root_len, path, len + 1);
    return out;
}
#define ROOTED(path, out) rooted(path, out)
#define ROOT_BUF          PATH_MAX
#else
#define ROOTED(path, out) ((void)(out), (path))
#define ROOT_BUF          1
#endif

/* os_read_file of a path this file knows (under the test root in test builds). */
static long read_file(const char *path, char *buf, size_t size)
{
    char full[ROOT_BUF];
    return os_read_file(ROOTED(path, full), buf, size);
}

/* Parses the kernel's list format ("0-3,8,10-11") into a bitmap of `bits` bits. */
static int parse_list(const char *s, uint64_t *map, unsigned bits)
{
    memset(map, 0, BITMAP_WORDS(bits) * sizeof(uint64_t));
    while (*s == ' ' || *s == '\n')
        s++;
    while (*s && *s != '\n') {
        uint64_t lo, hi;
        s = parse_decimal(s, SYSFS_NUMBER_MAX, &lo);
        if (!s)
            return -1;
        hi = lo;
        if (*s == '-' && !(s = parse_decimal(s + 1, SYSFS_NUMBER_MAX, &hi)))
            return -1;
        for (uint64_t b = lo; b <= hi && b < bits; b++)
            bitmap_set(map, b);
        if (*s == ',')
            s++;
    }
    return 0;
}

static int read_list(const char *path, uint64_t *map, unsigned bits)
{
    char buf[4096];
    if (read_file(path, buf, sizeof buf) < 0)
        return -1;
    return parse_list(buf, map, bits);
}

void topology_node_path(char *buf, int id, const char *leaf)
{
    char digits[12];
    int n = 0;
    unsigned v = (unsigned)id;
    do {
        digits[n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v);
    size_t len = sizeof(NODE_DIR "node") - 1;
    na_copy(buf, NODE_DIR "node", len);
    while (n)
        buf[len++] = digits[--n];
    buf[len++] = '/';
    na_copy_string(buf + len, leaf);
}

/* Mems_allowed from /proc/self/status: comma-separated 32-bit hex words, most significant first. */
#define MEMS_WORD_BITS 32

/* get_mempolicy's flag (uapi/linux/mempolicy.h): the nodes the cpuset allows, not a policy. */
#define MEMS_F_ALLOWED (1ul << 2)

/*
 * Mems_allowed from the kernel in one system call. Reading /proc/self/status
 * had the kernel format the whole file (about 1.4 KB, 40 fields) and us parse
 * it out of an 8 KiB stack buffer: 15-20 us of the 180 us the library added
 * to `true` (perf, docs/benchmarks.md, round seven), on every start and at
 * every cpuset check. -1 where the call is refused (a sandbox): then the file.
 */
static int mems_allowed_from_kernel(uint64_t *allowed)
{
    int saved = errno;
    long rc = syscall(SYS_get_mempolicy, NULL, allowed, (unsigned long)TOPO_MAX_NODE_ID + 1, NULL,
                      MEMS_F_ALLOWED);
    errno = saved;
    return rc == 0 ? 0 : -1;
}

static int mems_allowed_from_status(uint64_t *allowed)
{
    char buf[8192];
    if (read_file("/proc/self/status", buf, sizeof buf) <= 0)
        return -1;
    const char *s = NULL; /* not strstr: see base/bytes.h */
    for (const char *line = buf; line && !(s = parse_skip(line, "Mems_allowed:"));) {
        while (*line && *line != '\n')
            line++;
        line = *line ? line + 1 : NULL;
    }
    if (!s)
        return -1;
    while (*s == ' ' || *s == '\t')
        s++;

    uint32_t words[TOPO_MAX_NODE_ID / MEMS_WORD_BITS + 1];
    unsigned nwords = 0;
    while (nwords < sizeof words / sizeof words[0]) {
        uint32_t word = 0;
        int digits = 0;
        for (;; s++, digits++) {
            unsigned d;
            if (*s >= '0' && *s <= '9')
                d = (unsigned)(*s - '0');
            else if (*s >= 'a' && *s <= 'f')
                d = (unsigned)(*s - 'a' + 10);
            else
                break;
            word = (word << 4) | d;
        }
        if (!digits)
            break;
        words[nwords++] = word;
        if (*s != ',')
            break;
        s++;
    }
    if (nwords == 0)
        return -1;
    memset(allowed, 0, sizeof(node_bitmap));
    for (unsigned w = 0; w < nwords; w++) {
        unsigned base = (nwords - 1 - w) * MEMS_WORD_BITS; /* the last word holds nodes 0..31 */
        for (unsigned b = 0; b < MEMS_WORD_BITS && base + b < TOPO_MAX_NODE_ID; b++)
            if (words[w] & (1u << b))
                bitmap_set(allowed, base + b);
    }
    return 0;
}

int topology_read_mems_allowed(uint64_t *allowed)
{
#ifdef NA_TESTING
    if (test_root[0]) /* a synthetic tree: its status file is the answer */
        return mems_allowed_from_status(allowed);
#endif
    return mems_allowed_from_kernel(allowed) == 0 ? 0 : mems_allowed_from_status(allowed);
}

/* The per-node tables for `ids` node ids (topology.h): indexes and slots as many. */
#define NODE_STORE(ids)                                                                            \
    struct {                                                                                       \
        int node_id[ids], tier[ids], slot_node[ids];                                               \
        int16_t node_index[ids], node_slot[ids];                                                   \
        uint16_t slot_index[ids];                                                                  \
        uint8_t has_cpu[ids], has_memory[ids], allowed[ids];                                       \
    }
_Static_assert(TOPO_MAX_NODES <= TOPO_MAX_NODE_ID && TOPO_MAX_SLOTS <= TOPO_MAX_NODE_ID,
               "the large store's tables are sized by ids");
static NODE_STORE(TOPO_FEW_IDS) few_ids NA_HOT_BSS;
NA_COLD_BSS static NODE_STORE(TOPO_MAX_NODE_ID) many_ids;

#define POINT_AT(store)                                                                            \
    do {                                                                                           \
        na_topo.id_limit = (int)(sizeof(store).node_slot / sizeof(store).node_slot[0]);            \
        na_topo.node_id = (store).node_id;                                                         \
        na_topo.tier = (store).tier;                                                               \
        na_topo.slot_node = (store).slot_node;                                                     \
        na_topo.node_index = (store).node_index;                                                   \
        na_topo.node_slot = (store).node_slot;                                                     \
        na_topo.slot_index = (store).slot_index;                                                   \
        na_topo.has_cpu = (store).has_cpu;                                                         \
        na_topo.has_memory = (store).has_memory;                                                   \
        na_topo.allowed = (store).allowed;                                                         \
    } while (0)

/*
 * Empties the tables for node ids below `id_end` (the highest online one + 1),
 * in the store that holds them: only what a later fill reads without writing
 * first (the id maps, every count); the rest is written as nodes are found,
 * and nothing past the counts is read, so its pages stay untouched.
 */
static void reset(unsigned id_end)
{
    if (id_end <= TOPO_FEW_IDS)
        POINT_AT(few_ids);
    else
        POINT_AT(many_ids);
    na_topo.num_nodes = na_topo.num_slots = na_topo.num_cpus = 0;
    size_t ids = (size_t)na_topo.id_limit;
    na_fill(na_topo.node_slot, 0xff, ids * sizeof na_topo.node_slot[0]);
    na_fill(na_topo.node_index, 0xff, ids * sizeof na_topo.node_index[0]);
}

/* CPUs below `cpu` not met yet belong to no known node, and allocate as CPU 0 would. */
static void grow_cpus(int cpu)
{
    for (int c = na_topo.num_cpus; c < cpu; c++) {
        na_topo.cpu[c] = (struct cpu_route){0, 0, 0, CPU_NODE_UNKNOWN};
    }
    if (cpu > na_topo.num_cpus)
        na_topo.num_cpus = cpu;
}

static int add_node(unsigned id, int has_memory, int has_cpu, int allowed)
{
    int i = na_topo.num_nodes++;
    na_topo.node_id[i] = (int)id;
    na_topo.node_index[id] = (int16_t)i;
    na_topo.has_memory[i] = (uint8_t)has_memory;
    na_topo.has_cpu[i] = (uint8_t)has_cpu;
    na_topo.allowed[i] = (uint8_t)allowed;
    if (has_memory && allowed) {
        na_topo.slot_node[na_topo.num_slots] = (int)id;
        na_topo.slot_index[na_topo.num_slots] = (uint16_t)i;
        na_topo.node_slot[id] = (int16_t)na_topo.num_slots++;
    }
    return i;
}

/* One node 0 with every CPU on it: CPU 0's route serves every CPU (current_route). */
static void single_node_fallback(void)
{
    reset(1);
    add_node(0, 1, 1, 1);
    na_topo.distance = NULL; /* 10 */
    na_topo.tier[0] = -1;
    grow_cpus(1);
    na_topo.cpu[0].node_index = 0;
}

/*
 * Nodes whose distance table fits the static store (table_of) and whose
 * sysfs distance line the stack holds (read_distances): 16 nodes, 256 bytes
 * of table, lines of up to 128 bytes (4 a node, some slack). Both are
 * start-up's, so small enough to lie among the variables it writes
 * (base/compiler.h, NA_HOT_BSS) instead of a page each.
 */
#define TOPO_FEW_DISTANCES 16
#define DISTANCE_LINE_FEW  (TOPO_FEW_DISTANCES * 4 + 64)

/*
 * Room for `bytes`: static storage for the usual few nodes, else a
 * mapping, kept for a later call (tests read several topologies).
 */
static uint8_t *table_of(size_t bytes)
{
    static uint8_t few[TOPO_FEW_DISTANCES * TOPO_FEW_DISTANCES] NA_HOT_BSS;
    static uint8_t *mapped;
    static size_t mapped_bytes;
    if (bytes <= sizeof few)
        return few;
    if (bytes <= mapped_bytes)
        return mapped;
    uint8_t *at = os_map(bytes);
    if (!at)
        return NULL;
    mapped = at;
    mapped_bytes = bytes;
    return at;
}

static void read_distances(void)
{
    /*
     * A node's line: "10 21 ..." for every online node, up to 4 bytes each (4 KiB at
     * 1024 nodes): on the stack while it is short, else in a static buffer (start-up
     * only), which a process then keeps a page of.
     */
    static char many[TOPO_MAX_NODE_ID * 4 + 64] NA_COLD_BSS;
    char few_line[DISTANCE_LINE_FEW];
    char *buf = (size_t)na_topo.num_nodes * 4 + 64 <= sizeof few_line ? few_line : many;
    size_t buf_size = buf == many ? sizeof many : sizeof few_line;
    char path[128];
    na_topo.distance = table_of((size_t)na_topo.num_nodes * (size_t)na_topo.num_nodes);
    if (!na_topo.distance)
        return;
    for (int i = 0; i < na_topo.num_nodes; i++) {
        uint8_t *row = na_topo.distance + (size_t)i * (size_t)na_topo.num_nodes;
        for (int j = 0; j < na_topo.num_nodes; j++)
            row[j] = i == j ? 10 : 20;
        topology_node_path(path, na_topo.node_id[i], "distance");
        if (read_file(path, buf, buf_size) <= 0)
            continue;
        const char *s = buf;
        for (int j = 0; j < na_topo.num_nodes; j++) {
            uint64_t d;
            while (*s == ' ')
                s++;
            if (!(s = parse_decimal(s, SYSFS_NUMBER_MAX, &d)))
                break;
            row[j] = (uint8_t)(d > 255 ? 255 : d);
        }
    }
}

/* The slot nearest (by distance) to node index `from`; ties go to the lower slot. */
static int nearest_slot(int from)
{
    int best = 0, best_dist = 1 << 30;
    for (int slot = 0; slot < na_topo.num_slots; slot++) {
        int dist = (int)topology_distance(from, na_topo.slot_index[slot]);
        if (dist < best_dist) {
            best_dist = dist;
            best = slot;
        }
    }
    return best;
}

/*
 * Memory tiers (Linux 6.1+): /sys/devices/virtual/memory_tiering/memory_tier<N>/nodelist.
 * A lower N is a faster tier (DRAM is 4; memory onlined through dax kmem, such
 * as CXL expanders and persistent memory, lies in higher ones). Directory
 * entries are read with getdents64: no opendir, which allocates.
 */
#define TIER_DIR "/sys/devices/virtual/memory_tiering/"
static void read_tiers(void)
{
    static node_bitmap members NA_HOT_BSS;
    na_fill(na_topo.tier, 0xff, (size_t)na_topo.num_nodes * sizeof na_topo.tier[0]); /* -1 */
    int saved = errno;
    char full[ROOT_BUF];
    int dir = (int)syscall(SYS_openat, AT_FDCWD, ROOTED(TIER_DIR, full),
                           O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    errno = saved;
    if (dir < 0)
        return;
    char entries[2048];
    long n;
    while ((n = syscall(SYS_getdents64, dir, entries, sizeof entries)) > 0) {
        for (long at = 0; at < n;) {
            const char *name = entries + at + 19;               /* struct linux_dirent64: d_name */
            at += *(const unsigned short *)(entries + at + 16); /* d_reclen */
            uint64_t id;
            const char *end;
            if (!(end = parse_skip(name, "memory_tier")) ||
                !(end = parse_decimal(end, SYSFS_NUMBER_MAX, &id)) || *end != '\0')
                continue;
            char path[96];
            struct textbuf tb; /* not memcpy: see base/bytes.h */
            tb_init(&tb, path, sizeof path);
            tb_str(&tb, TIER_DIR);
            tb_str(&tb, name);
            tb_str(&tb, "/nodelist");
            if (tb.len + 1 >= sizeof path) /* perhaps cut short */
                continue;
            if (read_list(path, members, TOPO_MAX_NODE_ID) < 0)
                continue;
            for (int i = 0; i < na_topo.num_nodes; i++)
                if (bitmap_test(members, (unsigned)na_topo.node_id[i]))
                    na_topo.tier[i] = (int)id;
        }
    }
    syscall(SYS_close, dir);
    errno = saved;
}

void topology_init(void)
{
    static node_bitmap online NA_HOT_BSS, memory NA_HOT_BSS, cpus NA_HOT_BSS, allowed NA_HOT_BSS;
    static cpu_bitmap node_cpus NA_HOT_BSS;

    if (read_list(NODE_DIR "online", online, TOPO_MAX_NODE_ID) < 0) {
        single_node_fallback();
        return;
    }
    int have_memory_file = read_list(NODE_DIR "has_memory", memory, TOPO_MAX_NODE_ID) == 0;
    int have_cpu_file = read_list(NODE_DIR "has_cpu", cpus, TOPO_MAX_NODE_ID) == 0;
    int have_allowed = topology_read_mems_allowed(allowed) == 0;

    unsigned id_end = TOPO_MAX_NODE_ID;
    while (id_end > 0 && !bitmap_test(online, id_end - 1))
        id_end--;
    reset(id_end);
    for (unsigned id = 0; id < id_end; id++)
        if (bitmap_test(online, id))
            add_node(id, !have_memory_file || bitmap_test(memory, id),
                     !have_cpu_file || bitmap_test(cpus, id),
                     !have_allowed || bitmap_test(allowed, id));
    if (na_topo.num_slots == 0) {
        single_node_fallback();
        return;
    }
    read_distances();
    read_tiers();

    /* Each CPU allocates from the slot of its own node, or the nearest one. */
    char path[128];
    for (int i = 0; i < na_topo.num_nodes; i++) {
        if (!na_topo.has_cpu[i])
            continue;
        topology_node_path(path, na_topo.node_id[i], "cpulist");
        if (read_list(path, node_cpus, TOPO_MAX_CPUS) < 0)
            continue;
        int slot = na_topo.node_slot[na_topo.node_id[i]] >= 0
                       ? na_topo.node_slot[na_topo.node_id[i]]
                       : nearest_slot(i);
        int home = na_topo.node_slot[na_topo.node_id[i]];
        for (unsigned cpu = 0; cpu < TOPO_MAX_CPUS; cpu++) {
            if (!node_cpus[cpu / BITMAP_WORD_BITS]) { /* a word without CPUs (most of them) */
                cpu |= BITMAP_WORD_BITS - 1;
                continue;
            }
            if (!bitmap_test(node_cpus, cpu))
                continue;
            grow_cpus((int)cpu + 1);
            na_topo.cpu[cpu] =
                (struct cpu_route){0, home >= 0 ? (uint16_t)home : CPU_HOME_NONE, 0, (uint16_t)i};
            topology_route_cpu(cpu, (unsigned)slot);
        }
    }
    if (na_topo.num_cpus == 0) /* no cpulist: every CPU as CPU 0, on the first node */
        grow_cpus(1);
}
