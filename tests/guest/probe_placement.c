/* probe_placement - checks that the kernel places memory where mbind() says.
 *
 * Harness self-test for the multi-node guest (tests/guest), independent of the
 * allocator. For every node with memory (or only --node=N): mmap a region,
 * mbind(MPOL_BIND) it to that node, touch every page, then ask the kernel where
 * each page lies, twice: move_pages() (query only) and
 * get_mempolicy(MPOL_F_NODE | MPOL_F_ADDR). Every page must be on the expected
 * node: the bound node, or --expect-node=M (a deliberately wrong expectation
 * proves that the probe can fail).
 *
 *   probe_placement [--node=N] [--expect-node=M] [--min-nodes=K] [--pages=P]
 *
 * Exit status: 0 every page where expected; 1 some page elsewhere (misplaced);
 * 2 usage or setup error (no NUMA, fewer than K memory nodes, a call failed).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <numa.h>
#include <numaif.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MASK_BITS  1024
#define ULONG_BITS (8 * sizeof(unsigned long))

static int parse_int(const char *arg, const char *prefix, int *out)
{
    size_t n = strlen(prefix);
    char *end;
    long v;

    if (strncmp(arg, prefix, n) != 0)
        return 0;
    errno = 0;
    v = strtol(arg + n, &end, 10);
    if (errno || end == arg + n || *end || v < 0 || v >= MASK_BITS) {
        fprintf(stderr, "probe_placement: bad value in %s\n", arg);
        exit(2);
    }
    *out = (int)v;
    return 1;
}

/* Binds `pages` fresh pages to `node`, touches them, and counts the pages that
 * move_pages() or get_mempolicy() place elsewhere than `expect`. Returns the
 * number of misplaced pages, or -1 if a call failed. */
static long probe_node(int node, int expect, long pages, long page_size)
{
    unsigned long mask[MASK_BITS / ULONG_BITS] = {0};
    size_t len = (size_t)pages * (size_t)page_size;
    long bad_mp = 0, bad_gm = 0, shown = 0;
    char *p;
    void **addrs;
    int *status;

    p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        perror("probe_placement: mmap");
        return -1;
    }
    mask[node / ULONG_BITS] |= 1UL << (node % ULONG_BITS);
    if (mbind(p, len, MPOL_BIND, mask, MASK_BITS + 1, MPOL_MF_STRICT) != 0) {
        fprintf(stderr, "probe_placement: mbind(MPOL_BIND, node %d): %s\n", node, strerror(errno));
        munmap(p, len);
        return -1;
    }
    for (long i = 0; i < pages; i++)
        p[i * page_size] = (char)i;

    addrs = calloc((size_t)pages, sizeof *addrs);
    status = calloc((size_t)pages, sizeof *status);
    if (!addrs || !status) {
        perror("probe_placement: calloc");
        return -1;
    }
    for (long i = 0; i < pages; i++) {
        addrs[i] = p + i * page_size;
        status[i] = -1000;
    }
    if (move_pages(0, (unsigned long)pages, addrs, NULL, status, 0) != 0) {
        fprintf(stderr, "probe_placement: move_pages(query): %s\n", strerror(errno));
        free(addrs);
        free(status);
        munmap(p, len);
        return -1;
    }
    for (long i = 0; i < pages; i++) {
        int where = -1;

        if (get_mempolicy(&where, NULL, 0, addrs[i], MPOL_F_NODE | MPOL_F_ADDR) != 0) {
            fprintf(stderr, "probe_placement: get_mempolicy(MPOL_F_NODE|MPOL_F_ADDR): %s\n",
                    strerror(errno));
            free(addrs);
            free(status);
            munmap(p, len);
            return -1;
        }
        if (status[i] != expect)
            bad_mp++;
        if (where != expect)
            bad_gm++;
        if ((status[i] != expect || where != expect) && shown++ < 5)
            fprintf(stderr,
                    "probe_placement: page %ld bound to node %d: move_pages says %d, "
                    "get_mempolicy says %d, expected %d\n",
                    i, node, status[i], where, expect);
    }
    printf("node %d: %ld pages bound (MPOL_BIND) and touched; expected on node %d: "
           "%ld by move_pages, %ld by get_mempolicy\n",
           node, pages, expect, pages - bad_mp, pages - bad_gm);
    free(addrs);
    free(status);
    munmap(p, len);
    return bad_mp > bad_gm ? bad_mp : bad_gm;
}

int main(int argc, char **argv)
{
    int only_node = -1, expect_node = -1, min_nodes = 1, pages = 256;
    long page_size = sysconf(_SC_PAGESIZE);
    int nodes[MASK_BITS], nnodes = 0, max_node;
    long misplaced = 0;
    struct bitmask *mems;

    for (int i = 1; i < argc; i++) {
        if (parse_int(argv[i], "--node=", &only_node) ||
            parse_int(argv[i], "--expect-node=", &expect_node) ||
            parse_int(argv[i], "--min-nodes=", &min_nodes) ||
            parse_int(argv[i], "--pages=", &pages))
            continue;
        fprintf(stderr, "usage: probe_placement [--node=N] [--expect-node=M] [--min-nodes=K] "
                        "[--pages=P]\n");
        return 2;
    }
    if (pages < 1) {
        fprintf(stderr, "probe_placement: --pages must be at least 1\n");
        return 2;
    }
    if (numa_available() < 0) {
        fprintf(stderr, "probe_placement: no NUMA support in this kernel\n");
        return 2;
    }

    /* Nodes with memory that this process may use. */
    mems = numa_get_mems_allowed();
    max_node = numa_max_node();
    for (int n = 0; n <= max_node && n < MASK_BITS; n++)
        if (numa_bitmask_isbitset(mems, (unsigned)n) && numa_node_size64(n, NULL) > 0)
            nodes[nnodes++] = n;
    numa_bitmask_free(mems);

    printf("probe_placement: %d node(s) with memory:", nnodes);
    for (int i = 0; i < nnodes; i++)
        printf(" %d", nodes[i]);
    printf("\n");
    if (nnodes < min_nodes) {
        fprintf(stderr, "probe_placement: %d node(s) with memory, --min-nodes=%d wanted\n", nnodes,
                min_nodes);
        return 2;
    }
    if (only_node >= 0) {
        int found = 0;

        for (int i = 0; i < nnodes; i++)
            found |= nodes[i] == only_node;
        if (!found) {
            fprintf(stderr, "probe_placement: node %d has no memory (or is not allowed)\n",
                    only_node);
            return 2;
        }
        nodes[0] = only_node;
        nnodes = 1;
    }

    for (int i = 0; i < nnodes; i++) {
        long bad =
            probe_node(nodes[i], expect_node >= 0 ? expect_node : nodes[i], pages, page_size);

        if (bad < 0)
            return 2;
        misplaced += bad;
    }
    if (misplaced) {
        printf("probe_placement: FAIL, %ld page(s) not on the expected node\n", misplaced);
        return 1;
    }
    printf("probe_placement: OK, every page on its expected node\n");
    return 0;
}
