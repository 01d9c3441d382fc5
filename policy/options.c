/* options.c - NUMA_ALLOC_* environment variables; see options.h. */
#include "policy/options.h"

#include "core/os.h"
#include "core/report.h"
#include "core/textbuf.h"

#include <string.h>

extern char **environ;

struct options options = {.purge_delay_ms = 1000, .stats_json = true, .stats_mode = 0600};

#define ENVIRON_FILE_MAX 65536

/* Finds NAME's value in the environment, without allocating. */
static const char *env_lookup(const char *name)
{
    static char from_proc[ENVIRON_FILE_MAX];
    static long proc_len = -1;
    size_t name_len = strlen(name);
    if (environ) {
        for (char **entry = environ; *entry; entry++)
            if (strncmp(*entry, name, name_len) == 0 && (*entry)[name_len] == '=')
                return *entry + name_len + 1;
        return NULL;
    }
    /* Too early for libc's environ: the kernel's copy of the initial environment. */
    if (proc_len < 0)
        proc_len = os_read_file("/proc/self/environ", from_proc, sizeof from_proc);
    for (long at = 0; at < proc_len; at += (long)strlen(from_proc + at) + 1)
        if (strncmp(from_proc + at, name, name_len) == 0 && from_proc[at + name_len] == '=')
            return from_proc + at + name_len + 1;
    return NULL;
}

static void warn_value(const char *name, const char *value, const char *accepted,
                       const char *outcome)
{
    char buf[512];
    struct textbuf tb;
    tb_init(&tb, buf, sizeof buf);
    tb_str(&tb, "invalid ");
    tb_str(&tb, name);
    tb_str(&tb, "=\"");
    tb_str(&tb, value);
    tb_str(&tb, "\" (accepted: ");
    tb_str(&tb, accepted);
    tb_str(&tb, "); ");
    tb_str(&tb, outcome);
    report_warning(buf);
}

static const char *parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    unsigned long v = 0;
    if (*s < '0' || *s > '9')
        return NULL;
    while (*s >= '0' && *s <= '9') {
        v = v * 10u + (unsigned long)(*s++ - '0');
        if (v > max)
            return NULL;
    }
    *out = v;
    return s;
}

int options_parse_node_list(const char *text, uint64_t *bitmap)
{
    memset(bitmap, 0, TOPO_MAX_NODE_ID / 8);
    if (strcmp(text, "all") == 0) {
        memset(bitmap, 0xff, TOPO_MAX_NODE_ID / 8);
        return 0;
    }
    const char *s = text;
    do {
        unsigned long lo, hi;
        if (!(s = parse_uint(s, TOPO_MAX_NODE_ID - 1, &lo)))
            return -1;
        hi = lo;
        if (*s == '-' && (!(s = parse_uint(s + 1, TOPO_MAX_NODE_ID - 1, &hi)) || hi < lo))
            return -1;
        for (unsigned long node = lo; node <= hi; node++)
            bitmap[node / 64] |= (uint64_t)1 << (node % 64);
    } while (*s == ',' && *++s);
    return *s == '\0' ? 0 : -1;
}

/* "0:3,1:1": node:weight pairs, weights 1..255. */
static int parse_weights(const char *text, uint8_t *weights)
{
    memset(weights, 0, TOPO_MAX_NODE_ID);
    const char *s = text;
    do {
        unsigned long node, weight;
        if (!(s = parse_uint(s, TOPO_MAX_NODE_ID - 1, &node)) || *s++ != ':' ||
            !(s = parse_uint(s, 255, &weight)) || weight == 0)
            return -1;
        weights[node] = (uint8_t)weight;
    } while (*s == ',' && *++s);
    return *s == '\0' ? 0 : -1;
}

struct keyword {
    const char *word;
    int value;
};

/* Looks `value` up among `words`; warns and keeps the default if it is not there. */
static int parse_keyword(const char *name, const char *value, const struct keyword *words,
                         const char *accepted, int default_value)
{
    for (const struct keyword *k = words; k->word; k++)
        if (strcmp(value, k->word) == 0)
            return k->value;
    warn_value(name, value, accepted, "using the default");
    return default_value;
}

void options_init(void)
{
    static const struct keyword policies[] = {
        {"local", POLICY_LOCAL},
        {"bind", POLICY_BIND},
        {"preferred", POLICY_PREFERRED},
        {"interleave", POLICY_INTERLEAVE},
        {"weighted-interleave", POLICY_WEIGHTED_INTERLEAVE},
        {NULL, 0},
    };
    static const struct keyword fallbacks[] = {
        {"nearest", FALLBACK_NEAREST},
        {"none", FALLBACK_NONE},
        {"any", FALLBACK_ANY},
        {NULL, 0},
    };
    static const struct keyword formats[] = {{"json", 1}, {"text", 0}, {NULL, 0}};
    const char *value;

    if ((value = env_lookup("NUMA_ALLOC_POLICY")))
        options.policy = (enum placement_policy)parse_keyword(
            "NUMA_ALLOC_POLICY", value, policies,
            "local, bind, preferred, interleave, weighted-interleave", POLICY_LOCAL);
    if ((value = env_lookup("NUMA_ALLOC_NODES"))) {
        options.nodes_given = true;
        options.nodes_all = strcmp(value, "all") == 0;
        if (options_parse_node_list(value, options.nodes) != 0) {
            warn_value("NUMA_ALLOC_NODES", value, "a node list such as 0-2,5 or all",
                       "using all nodes");
            options_parse_node_list("all", options.nodes);
            options.nodes_all = true;
        }
    }
    if ((value = env_lookup("NUMA_ALLOC_WEIGHTS"))) {
        options.weights_given = parse_weights(value, options.weights) == 0;
        if (!options.weights_given)
            warn_value("NUMA_ALLOC_WEIGHTS", value,
                       "node:weight pairs such as 0:3,1:1, weights 1-255", "using equal weights");
    }
    if ((value = env_lookup("NUMA_ALLOC_FALLBACK")))
        options.fallback = (enum fallback_mode)parse_keyword(
            "NUMA_ALLOC_FALLBACK", value, fallbacks, "none, nearest, any", FALLBACK_NEAREST);
    if ((value = env_lookup("NUMA_ALLOC_STATS"))) {
        if (strlen(value) < OPTIONS_PATH_MAX)
            strcpy(options.stats, value);
        else
            warn_value("NUMA_ALLOC_STATS", "...", "stderr or a path shorter than 4096 bytes",
                       "statistics are off");
    }
    if ((value = env_lookup("NUMA_ALLOC_STATS_FORMAT")))
        options.stats_json =
            parse_keyword("NUMA_ALLOC_STATS_FORMAT", value, formats, "json, text", 1) != 0;
    if ((value = env_lookup("NUMA_ALLOC_STATS_MODE"))) {
        unsigned long mode = 0;
        const char *s = value;
        while (*s >= '0' && *s <= '7' && mode <= 0666)
            mode = mode * 8u + (unsigned long)(*s++ - '0');
        if (s != value && *s == '\0' && (mode & ~0666ul) == 0)
            options.stats_mode = (uint32_t)mode;
        else
            warn_value("NUMA_ALLOC_STATS_MODE", value, "an octal mode, 0 to 0666", "using 0600");
    }
    static const struct keyword switches[] = {{"1", 1}, {"0", 0}, {NULL, 0}};
    if ((value = env_lookup("NUMA_ALLOC_STATS_LIVE")))
        options.stats_live =
            parse_keyword("NUMA_ALLOC_STATS_LIVE", value, switches, "0, 1", 0) != 0;
    if ((value = env_lookup("NUMA_ALLOC_PURGE_DELAY_MS"))) {
        unsigned long ms;
        const char *end = parse_uint(value, 3600000, &ms);
        if (end && *end == '\0')
            options.purge_delay_ms = (uint32_t)ms;
        else
            warn_value("NUMA_ALLOC_PURGE_DELAY_MS", value, "milliseconds, 0 to 3600000",
                       "using 1000");
    }
}
