/*
 * test_stats_fold.c - the text statistics' folded line for nodes without
 * counts (core/stats_fold.h) and which nodes count as used (core/stats.h),
 * on synthetic node lists: a one-node host cannot show several folded nodes
 * (tests/placement/stats_nodes.sh shows them in a 16-node guest).
 *
 * Built from the library's headers and base/os.c, not linked to the library.
 */
#include "core/stats.h"
#include "core/stats_fold.h"

#include <criterion/criterion.h>
#include <stddef.h>
#include <string.h>

/* The folded line for nodes ids[0..n) where used[] says which have a line of their own. */
static const char *fold(const int *ids, const bool *used, unsigned n)
{
    static char out[4096];
    struct textbuf tb;
    tb_init(&tb, out, sizeof out);
    stats_fold_line(&tb, ids, used, n);
    return out;
}

Test(stats_fold, many_nodes_two_used)
{
    int ids[66];
    bool used[66] = {0};
    for (int i = 0; i < 66; i++)
        ids[i] = i;
    used[0] = used[1] = used[64] = true;
    cr_assert_str_eq(fold(ids, used, 66), "Nodes 2-63, 65 (63 nodes): nothing allocated\n");
}

Test(stats_fold, every_node_used_no_line)
{
    int ids[] = {0, 1, 2};
    bool used[] = {true, true, true};
    cr_assert_str_eq(fold(ids, used, 3), "");
}

Test(stats_fold, one_node_folded)
{
    int ids[] = {0, 1, 2};
    bool used[] = {true, false, true};
    cr_assert_str_eq(fold(ids, used, 3), "Node 1: nothing allocated\n");
}

Test(stats_fold, nothing_used_at_all)
{
    int ids[] = {0, 1, 2, 3};
    bool used[4] = {0};
    cr_assert_str_eq(fold(ids, used, 4), "Nodes 0-3 (4 nodes): nothing allocated\n");
}

/* Sparse ids: a range needs consecutive ids, not consecutive slots. */
Test(stats_fold, sparse_ids)
{
    int ids[] = {0, 2, 3, 8, 100, 101, 102, 1000, 1023};
    bool used[] = {true, false, false, false, false, false, false, false, true};
    cr_assert_str_eq(fold(ids, used, 9),
                     "Nodes 2-3, 8, 100-102, 1000 (7 nodes): nothing allocated\n");
}

/* A used node splits a run of consecutive ids. */
Test(stats_fold, used_node_splits_a_run)
{
    int ids[] = {0, 1, 2, 3, 4, 5};
    bool used[] = {false, false, true, false, true, false};
    cr_assert_str_eq(fold(ids, used, 6), "Nodes 0-1, 3, 5 (4 nodes): nothing allocated\n");
}

/* 1024 nodes, the design's limit, every other one used: the line holds them all. */
Test(stats_fold, thousand_nodes)
{
    static int ids[1024];
    static bool used[1024];
    for (int i = 0; i < 1024; i++) {
        ids[i] = i;
        used[i] = i % 2 == 0;
    }
    const char *line = fold(ids, used, 1024);
    cr_assert(strncmp(line, "Nodes 1, 3, 5, ", 15) == 0, "%s", line);
    cr_assert(strstr(line, ", 1021, 1023 (512 nodes): nothing allocated\n"), "%s", line);
}

/* Every count makes a node used; a node all zeros (or with only a census error) is not. */
Test(stats_fold, any_count_makes_a_node_used)
{
    static const size_t fields[] = {
        offsetof(struct node_stats, counts.allocs),
        offsetof(struct node_stats, counts.frees),
        offsetof(struct node_stats, counts.bytes_allocated),
        offsetof(struct node_stats, counts.bytes_freed),
        offsetof(struct node_stats, counts.remote_allocs),
        offsetof(struct node_stats, counts.remote_frees),
        offsetof(struct node_stats, explicit_allocs),
        offsetof(struct node_stats, fallbacks_in),
        offsetof(struct node_stats, fallbacks_out),
        offsetof(struct node_stats, active_bytes),
        offsetof(struct node_stats, peak_active_bytes),
        offsetof(struct node_stats, dirty_bytes),
        offsetof(struct node_stats, purged_bytes),
        offsetof(struct node_stats, huge_objects),
        offsetof(struct node_stats, huge_bytes),
        offsetof(struct node_stats, thp_bytes),
        offsetof(struct node_stats, hugetlb_bytes),
        offsetof(struct node_stats, tight_commits),
        offsetof(struct node_stats, exhaustions),
        offsetof(struct node_stats, bind_failures),
        offsetof(struct node_stats, purge_failures),
        offsetof(struct node_stats, verify_failures),
        offsetof(struct node_stats, verified.checked),
    };
    struct node_stats n;
    memset(&n, 0, sizeof n);
    cr_assert_not(stats_node_used(&n));
    n.verify_error = -1; /* EPERM: the same for every node, no count */
    cr_assert_not(stats_node_used(&n));
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        memset(&n, 0, sizeof n);
        *(uint64_t *)((char *)&n + fields[i]) = 1;
        cr_assert(stats_node_used(&n), "field at offset %zu", fields[i]);
    }
}
