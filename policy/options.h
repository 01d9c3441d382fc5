/*
 * options.h - the NUMA_ALLOC_* environment variables, read once at start-up.
 *
 * The environment is scanned from `environ` (or /proc/self/environ when libc
 * has not set it up yet) without allocating: no getenv-with-malloc, no stdio.
 * A value that does not parse gets one warning line on stderr naming the
 * variable and what it accepts, and the default is used: a typo never stops
 * the host program.
 */
#ifndef NUMA_ALLOC_OPTIONS_H
#define NUMA_ALLOC_OPTIONS_H

#include "policy/topology.h"

#include <stdbool.h>
#include <stdint.h>

enum placement_policy {
    POLICY_LOCAL = 0,
    POLICY_BIND,
    POLICY_PREFERRED,
    POLICY_INTERLEAVE,
    POLICY_WEIGHTED_INTERLEAVE,
};

enum fallback_mode {
    FALLBACK_NEAREST = 0,
    FALLBACK_NONE,
    FALLBACK_ANY,
};

#define OPTIONS_PATH_MAX 4096 /* PATH_MAX: core/stats_file.c checks the real length */

struct options {
    enum placement_policy policy;          /* NUMA_ALLOC_POLICY, default local */
    uint64_t nodes[TOPO_MAX_NODE_ID / 64]; /* NUMA_ALLOC_NODES as given (node ids) */
    bool nodes_given;
    bool nodes_all;                    /* NUMA_ALLOC_NODES=all */
    uint8_t weights[TOPO_MAX_NODE_ID]; /* NUMA_ALLOC_WEIGHTS, 0 = not given */
    bool weights_given;
    enum fallback_mode fallback;  /* NUMA_ALLOC_FALLBACK, default nearest */
    char stats[OPTIONS_PATH_MAX]; /* NUMA_ALLOC_STATS: "", "stderr" or a path */
    bool stats_json;              /* NUMA_ALLOC_STATS_FORMAT, default json */
    uint32_t stats_mode;          /* NUMA_ALLOC_STATS_MODE, 0 to 0666, default 0600 */
    bool stats_live;              /* NUMA_ALLOC_STATS_LIVE=1: publish for numa-alloc stat */
    uint32_t purge_delay_ms;      /* NUMA_ALLOC_PURGE_DELAY_MS, default 1000 */
};

extern struct options options;

/* Reads the environment into `options`; warns about bad values. */
void options_init(void);

/*
 * Parses a node list in numactl's syntax ("0-2,5", "all") into a bitmap of
 * TOPO_MAX_NODE_ID bits; "all" sets every bit. 0 on success, -1 if malformed.
 * Exposed for the tests of the parser.
 */
int options_parse_node_list(const char *text, uint64_t *bitmap);

#endif
