/*
 * options.h - the NUMA_ALLOC_* environment variables, read once at start-up.
 *
 * The environment is scanned from `environ` (or /proc/self/environ when libc
 * has not set it up yet) without allocating: no getenv-with-malloc, no stdio.
 * A value that does not parse gets one warning line (options_warn) naming
 * the variable, its value, what it accepts and what is used instead: a typo
 * never stops the host program.
 */
#ifndef NUMA_ALLOC_OPTIONS_H
#define NUMA_ALLOC_OPTIONS_H

#include "base/compiler.h"

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

/* Where the policy in force came from (the statistics say it). */
enum policy_source {
    POLICY_SOURCE_DEFAULT = 0, /* nothing set, nothing inherited: local */
    POLICY_SOURCE_ENVIRONMENT, /* NUMA_ALLOC_POLICY */
    POLICY_SOURCE_INHERITED,   /* the task policy numactl (or a parent) set: kernel_policy.h */
};

/* Where weighted interleave's weights came from. */
enum weights_source {
    WEIGHTS_NONE = 0,    /* not a weighted policy */
    WEIGHTS_ENVIRONMENT, /* NUMA_ALLOC_WEIGHTS */
    WEIGHTS_KERNEL,      /* /sys/kernel/mm/mempolicy/weighted_interleave */
    WEIGHTS_EQUAL,       /* neither: every node 1 */
};

/* Which processes write NUMA_ALLOC_STATS at exit (docs/stats.md, "Which processes"). */
enum stats_scope {
    STATS_SCOPE_ALL = 0, /* every process that ran numa-alloc */
    STATS_SCOPE_TOP,     /* the top one only: NUMA_ALLOC_STATS_TOP_PID, else core/stats_file.c */
};

/*
 * NUMA_ALLOC_HUGEPAGES: which of a slot's segments are advised for transparent
 * huge pages (policy/hugepages.h says which ranges and why).
 */
enum hugepages_mode {
    HUGEPAGES_NEVER = 0, /* the default: MADV_NOHUGEPAGE on every slot, whatever the system */
    HUGEPAGES_AUTO,      /* a node heap's space past its first 64 MiB */
    HUGEPAGES_THP,       /* every segment but the node heap's own */
};

#define OPTIONS_PATH_MAX 4096
/* Which unwinder takes a sample's stack: auto tries libunwind, then libgcc. */
enum prof_unwinder { PROF_UNWINDER_AUTO = 0, PROF_UNWINDER_LIBUNWIND, PROF_UNWINDER_LIBGCC };

#define PROF_RATE_DEFAULT 524288              /* tcmalloc's 512 KiB */
#define PROF_RATE_MAX     ((uint64_t)1 << 40) /* PATH_MAX: core/stats_file.c checks the real length */

struct options {
    enum placement_policy policy; /* NUMA_ALLOC_POLICY, default local (or inherited) */
    bool policy_given;            /* NUMA_ALLOC_POLICY set to a valid value */
    enum policy_source policy_source;
    uint64_t nodes[TOPO_MAX_NODE_ID / 64]; /* NUMA_ALLOC_NODES as given (node ids) */
    bool nodes_given;
    bool nodes_all;                    /* NUMA_ALLOC_NODES=all */
    uint8_t weights[TOPO_MAX_NODE_ID]; /* NUMA_ALLOC_WEIGHTS, 0 = not given */
    bool weights_given;
    enum weights_source weights_source;
    enum fallback_mode fallback;  /* NUMA_ALLOC_FALLBACK, default nearest */
    bool fallback_given;          /* NUMA_ALLOC_FALLBACK set to a valid value */
    const char *stats;            /* NUMA_ALLOC_STATS: NULL (unset, empty), else na_stats_path */
    bool stats_json;              /* NUMA_ALLOC_STATS_FORMAT, default json */
    bool stats_openmetrics;       /* NUMA_ALLOC_STATS_FORMAT=openmetrics (stats_json is true too) */
    uint32_t stats_mode;          /* NUMA_ALLOC_STATS_MODE, 0 to 0666, default 0600 */
    bool stats_live;              /* NUMA_ALLOC_STATS_LIVE=1: publish for numa-alloc stat */
    enum stats_scope stats_scope; /* NUMA_ALLOC_STATS_SCOPE, default all */
    int stats_top_pid;            /* NUMA_ALLOC_STATS_TOP_PID under scope top; 0: not given */
    uint32_t purge_delay_ms;      /* NUMA_ALLOC_PURGE_DELAY_MS, default 1000 */
    bool purge_delay_set;         /* ... set by the user: no young window (core/purge.c) */
    enum hugepages_mode hugepages; /* NUMA_ALLOC_HUGEPAGES, default never (docs/policies.md) */
    uint64_t
        hugetlb_bytes;  /* NUMA_ALLOC_HUGETLB: hugetlbfs pages per node, 0 = off (hugepages.h) */
    const char *prof;   /* NUMA_ALLOC_PROF: NULL (off), else na_prof_path */
    uint64_t prof_rate; /* NUMA_ALLOC_PROF_RATE: mean bytes between samples */
    enum prof_unwinder prof_unwinder; /* NUMA_ALLOC_PROF_UNWINDER, default auto (core/prof.c) */
};

extern NA_HIDDEN struct options na_options;

/*
 * The two path options' values: "stderr" or a path (a profile's: a path,
 * core/prof.h), apart from na_options (NA_COLD_BSS), and read only through
 * its pointers, which are NULL while a variable is unset. 4 KiB each inside
 * na_options, they spread the few bytes of it that every start-up touches
 * over three pages of .data (`true`: VmHWM 1356 -> 1348 KiB;
 * docs/benchmarks.md, round twenty).
 */
extern NA_HIDDEN char na_stats_path[OPTIONS_PATH_MAX];
extern NA_HIDDEN char na_prof_path[OPTIONS_PATH_MAX];

/* The variables, for options_warn. */
enum option_variable {
    OPTION_POLICY,
    OPTION_NODES,
    OPTION_WEIGHTS,
    OPTION_FALLBACK,
    OPTION_STATS,
    OPTION_STATS_FORMAT,
    OPTION_STATS_LIVE,
    OPTION_STATS_MODE,
    OPTION_STATS_SCOPE,
    OPTION_STATS_TOP_PID,
    OPTION_PURGE_DELAY_MS,
    OPTION_HUGEPAGES,
    OPTION_HUGETLB,
    OPTION_PROF,
    OPTION_PROF_RATE,
    OPTION_PROF_UNWINDER,
};

/*
 * One warning line about `variable` (which `msg` names, with its value and
 * what is used instead), unless it has had one already: a bad variable gets
 * one line, ever, however many places notice what it leads to (options.c
 * parsing it, placement.c applying it). The first place to notice must
 * therefore say the final outcome.
 */
void options_warn(enum option_variable variable, const char *msg);

/* Reads the environment into `options`; warns about bad values. */
void options_init(void);

/*
 * Parses a node list in numactl's syntax ("0-2,5", "all") into a bitmap of
 * TOPO_MAX_NODE_ID bits; "all" sets every bit. 0 on success, -1 if malformed.
 * Exposed for the tests of the parser.
 */
int options_parse_node_list(const char *text, uint64_t *bitmap);

/* The most NUMA_ALLOC_HUGETLB takes: 1 TiB a node (a slot is never larger). */
#define OPTIONS_HUGETLB_MAX ((uint64_t)1 << 40)

/*
 * Parses a size in bytes with an optional k, m or g suffix (powers of 1024,
 * either case) into *out; 0 on success, -1 if malformed or above `max`.
 * Exposed for the tests of the parser.
 */
int options_parse_size(const char *text, uint64_t max, uint64_t *out);

#endif
