/*
 * stats_fold.h - the text statistics' one line for the nodes with nothing to
 * show (stats_node_used false), so that a program on a machine of many nodes
 * gets a line per node it used and one for all the others:
 *
 *   Nodes 2-63, 65 (63 nodes): nothing allocated
 *   Node 5: nothing allocated                        (one node)
 *
 * Kept apart from stats.c, header only, so that a unit test can run it on a
 * synthetic list of nodes (tests/test_stats_fold.c).
 */
#ifndef NUMA_ALLOC_STATS_FOLD_H
#define NUMA_ALLOC_STATS_FOLD_H

#include "base/textbuf.h"

#include <stdbool.h>
#include <stdint.h>

/*
 * ids[0..n) are node ids in increasing order (slot order); used[i] says
 * whether node ids[i] has a line of its own. Writes the folded line for the
 * others, ranges of consecutive ids as "A-B"; nothing when every node is used.
 */
static inline void stats_fold_line(struct textbuf *tb, const int *ids, const bool *used, unsigned n)
{
    unsigned folded = 0;
    for (unsigned i = 0; i < n; i++)
        folded += !used[i];
    if (!folded)
        return;
    tb_str(tb, folded == 1 ? "Node " : "Nodes ");
    bool first = true;
    for (unsigned i = 0; i < n; i++) {
        if (used[i])
            continue;
        unsigned last = i; /* the run of consecutive unused ids that starts at i */
        while (last + 1 < n && !used[last + 1] && ids[last + 1] == ids[last] + 1)
            last++;
        tb_str(tb, first ? "" : ", ");
        tb_u64(tb, (uint64_t)ids[i]);
        if (last > i) {
            tb_str(tb, "-");
            tb_u64(tb, (uint64_t)ids[last]);
        }
        first = false;
        i = last;
    }
    if (folded > 1) {
        tb_str(tb, " (");
        tb_u64(tb, folded);
        tb_str(tb, " nodes)");
    }
    tb_str(tb, ": nothing allocated\n");
}

#endif
