/* options.c - NUMA_ALLOC_* environment variables; see options.h. */
#include "policy/options.h"

#include "base/bitmap.h"
#include "base/os.h"
#include "base/parse.h"
#include "base/report.h"
#include "base/textbuf.h"

#include <string.h>

extern char **environ;

struct options na_options = {
    .purge_delay_ms = 1000, .stats_json = true, .stats_mode = 0600, .prof_rate = PROF_RATE_DEFAULT};
NA_COLD_BSS char na_stats_path[OPTIONS_PATH_MAX];
NA_COLD_BSS char na_prof_path[OPTIONS_PATH_MAX];

#define ENVIRON_FILE_MAX 65536

/* The value of `entry` ("NAME=value") if it names `name`, else NULL. */
static const char *value_of(const char *entry, const char *name)
{
    const char *end = parse_skip(entry, name);
    return end && *end == '=' ? end + 1 : NULL;
}

/* Finds NAME's value in the environment, without allocating. */
static const char *env_lookup(const char *name)
{
    NA_COLD_BSS static char from_proc[ENVIRON_FILE_MAX];
    static long proc_len = -1;
    const char *value;
    if (environ) {
        for (char **entry = environ; *entry; entry++)
            if ((value = value_of(*entry, name)))
                return value;
        return NULL;
    }
    /* Too early for libc's environ: the kernel's copy of the initial environment. */
    if (proc_len < 0)
        proc_len = os_read_file("/proc/self/environ", from_proc, sizeof from_proc);
    for (long at = 0; at < proc_len; at++) {
        if ((value = value_of(from_proc + at, name)))
            return value;
        while (at < proc_len && from_proc[at]) /* to the entry's end */
            at++;
    }
    return NULL;
}

/* Bit (1 << variable): that variable has had its warning line. Set once, never cleared. */
static uint32_t warned;

void options_warn(enum option_variable variable, const char *msg)
{
    uint32_t bit = (uint32_t)1 << variable;
    if (!(__atomic_fetch_or(&warned, bit, __ATOMIC_RELAXED) & bit))
        report_warning(msg);
}

static void warn_value(enum option_variable variable, const char *name, const char *value,
                       const char *accepted, const char *outcome)
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
    options_warn(variable, buf);
}

int options_parse_size(const char *text, uint64_t max, uint64_t *out)
{
    uint64_t value;
    const char *end = parse_decimal(text, max, &value);
    if (!end)
        return -1;
    static const char suffixes[] = "kmg"; /* 2^10, 2^20, 2^30 */
    unsigned shift = 0;
    const char *suffix = *end ? strchr(suffixes, *end | 0x20) : NULL; /* either case */
    if (suffix) {
        shift = 10u * (unsigned)(suffix - suffixes + 1);
        end++;
    }
    if (*end != '\0' || value > (max >> shift))
        return -1;
    *out = value << shift;
    return 0;
}

int options_parse_node_list(const char *text, uint64_t *bitmap)
{
    memset(bitmap, 0, BITMAP_WORDS(TOPO_MAX_NODE_ID) * sizeof *bitmap);
    if (strcmp(text, "all") == 0) {
        memset(bitmap, 0xff, BITMAP_WORDS(TOPO_MAX_NODE_ID) * sizeof *bitmap);
        return 0;
    }
    const char *s = text;
    do {
        uint64_t lo, hi;
        if (!(s = parse_decimal(s, TOPO_MAX_NODE_ID - 1, &lo)))
            return -1;
        hi = lo;
        if (*s == '-' && (!(s = parse_decimal(s + 1, TOPO_MAX_NODE_ID - 1, &hi)) || hi < lo))
            return -1;
        for (uint64_t node = lo; node <= hi; node++)
            bitmap_set(bitmap, node);
    } while (*s == ',' && *++s);
    return *s == '\0' ? 0 : -1;
}

/* "0:3,1:1": node:weight pairs, weights 1..255. */
static int parse_weights(const char *text, uint8_t *weights)
{
    memset(weights, 0, TOPO_MAX_NODE_ID);
    const char *s = text;
    do {
        uint64_t node, weight;
        if (!(s = parse_decimal(s, TOPO_MAX_NODE_ID - 1, &node)) || *s++ != ':' ||
            !(s = parse_decimal(s, 255, &weight)) || weight == 0)
            return -1;
        weights[node] = (uint8_t)weight;
    } while (*s == ',' && *++s);
    return *s == '\0' ? 0 : -1;
}

struct keyword {
    const char *word;
    int value;
};

static bool is_keyword(const struct keyword *words, const char *value)
{
    for (const struct keyword *k = words; k->word; k++)
        if (strcmp(value, k->word) == 0)
            return true;
    return false;
}

/* Looks `value` up among `words`; warns and keeps the default (words[0]) if it is not there. */
static int parse_keyword(enum option_variable variable, const char *name, const char *value,
                         const struct keyword *words, const char *accepted)
{
    for (const struct keyword *k = words; k->word; k++)
        if (strcmp(value, k->word) == 0)
            return k->value;
    char outcome[64];
    struct textbuf tb;
    tb_init(&tb, outcome, sizeof outcome);
    tb_str(&tb, "using ");
    tb_str(&tb, words[0].word);
    tb_str(&tb, " (the default)");
    warn_value(variable, name, value, accepted, outcome);
    return words[0].value;
}

/*
 * A path option into out[OPTIONS_PATH_MAX]; one too long is refused (`off`
 * says what then). Returns out, or NULL for an empty or refused value.
 */
static const char *copy_path(char *out, enum option_variable variable, const char *name,
                             const char *value, const char *off)
{
    if (strlen(value) < OPTIONS_PATH_MAX) {
        strcpy(out, value);
        return value[0] ? out : NULL;
    }
    enum { SHOWN = 32 }; /* the beginning of the value: enough to recognise it */
    char start[SHOWN + sizeof "..."];
    memcpy(start, value, SHOWN);
    memcpy(start + SHOWN, "...", sizeof "...");
    warn_value(variable, name, start, "stderr or a path shorter than 4096 bytes", off);
    return NULL;
}

void options_init(void)
{
    /* The default first: parse_keyword falls back to words[0]. */
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
    static const struct keyword formats[] = {
        {"json", 1}, {"text", 0}, {"openmetrics", 2}, {NULL, 0}};
    static const struct keyword switches[] = {{"0", 0}, {"1", 1}, {NULL, 0}};
    const char *value;

    /* The policy first: what a bad NODES or WEIGHTS leads to depends on it. */
    if ((value = env_lookup("NUMA_ALLOC_POLICY"))) {
        na_options.policy = (enum placement_policy)parse_keyword(
            OPTION_POLICY, "NUMA_ALLOC_POLICY", value, policies,
            "local, bind, preferred, interleave, weighted-interleave");
        na_options.policy_given = is_keyword(policies, value);
        if (na_options.policy_given)
            na_options.policy_source = POLICY_SOURCE_ENVIRONMENT;
    }
    if ((value = env_lookup("NUMA_ALLOC_NODES"))) {
        na_options.nodes_given = true;
        na_options.nodes_all = strcmp(value, "all") == 0;
        if (options_parse_node_list(value, na_options.nodes) != 0) {
            /* placement.c would say "ignored" again under these policies: say it here, once. */
            const char *outcome = na_options.policy == POLICY_LOCAL
                                      ? "ignored under NUMA_ALLOC_POLICY=local"
                                  : na_options.policy == POLICY_WEIGHTED_INTERLEAVE
                                      ? "ignored under NUMA_ALLOC_POLICY=weighted-interleave"
                                      : "using all nodes";
            warn_value(OPTION_NODES, "NUMA_ALLOC_NODES", value, "a node list such as 0-2,5 or all",
                       outcome);
            options_parse_node_list("all", na_options.nodes);
            na_options.nodes_all = true;
        }
    }
    if ((value = env_lookup("NUMA_ALLOC_WEIGHTS"))) {
        na_options.weights_given = parse_weights(value, na_options.weights) == 0;
        na_options.weights_source = na_options.weights_given ? WEIGHTS_ENVIRONMENT : WEIGHTS_NONE;
        if (!na_options.weights_given)
            warn_value(OPTION_WEIGHTS, "NUMA_ALLOC_WEIGHTS", value,
                       "node:weight pairs such as 0:3,1:1, weights 1-255",
                       na_options.policy == POLICY_WEIGHTED_INTERLEAVE
                           ? "using the kernel's weights, or 1 for every node"
                           : "ignored (only NUMA_ALLOC_POLICY=weighted-interleave uses them)");
    }
    if ((value = env_lookup("NUMA_ALLOC_FALLBACK"))) {
        na_options.fallback = (enum fallback_mode)parse_keyword(
            OPTION_FALLBACK, "NUMA_ALLOC_FALLBACK", value, fallbacks, "none, nearest, any");
        na_options.fallback_given = is_keyword(fallbacks, value);
    }
    if ((value = env_lookup("NUMA_ALLOC_STATS")))
        na_options.stats =
            copy_path(na_stats_path, OPTION_STATS, "NUMA_ALLOC_STATS", value, "statistics are off");
    if ((value = env_lookup("NUMA_ALLOC_STATS_FORMAT"))) {
        int format = parse_keyword(OPTION_STATS_FORMAT, "NUMA_ALLOC_STATS_FORMAT", value, formats,
                                   "json, text, openmetrics");
        na_options.stats_json = format != 0;
        na_options.stats_openmetrics = format == 2;
    }
    if ((value = env_lookup("NUMA_ALLOC_STATS_MODE"))) {
        unsigned long mode = 0;
        const char *s = value;
        while (*s >= '0' && *s <= '7' && mode <= 0666)
            mode = mode * 8u + (unsigned long)(*s++ - '0');
        if (s != value && *s == '\0' && (mode & ~0666ul) == 0)
            na_options.stats_mode = (uint32_t)mode;
        else
            warn_value(OPTION_STATS_MODE, "NUMA_ALLOC_STATS_MODE", value,
                       "an octal mode, 0 to 0666", "using 0600");
    }
    if ((value = env_lookup("NUMA_ALLOC_STATS_LIVE")))
        na_options.stats_live =
            parse_keyword(OPTION_STATS_LIVE, "NUMA_ALLOC_STATS_LIVE", value, switches, "0, 1") != 0;
    static const struct keyword scopes[] = {
        {"all", STATS_SCOPE_ALL}, {"top", STATS_SCOPE_TOP}, {NULL, 0}};
    if ((value = env_lookup("NUMA_ALLOC_STATS_SCOPE")))
        na_options.stats_scope = (enum stats_scope)parse_keyword(
            OPTION_STATS_SCOPE, "NUMA_ALLOC_STATS_SCOPE", value, scopes, "all, top");
    /* Read under scope top only: the launcher's --stats-scope=top sets both. */
    if (na_options.stats_scope == STATS_SCOPE_TOP &&
        (value = env_lookup("NUMA_ALLOC_STATS_TOP_PID"))) {
        uint64_t pid;
        const char *end = parse_decimal(value, 0x7fffffff, &pid);
        if (end && *end == '\0' && pid > 0)
            na_options.stats_top_pid = (int)pid;
        else
            warn_value(OPTION_STATS_TOP_PID, "NUMA_ALLOC_STATS_TOP_PID", value, "a process id",
                       "the top process is found without it");
    }
    if ((value = env_lookup("NUMA_ALLOC_PURGE_DELAY_MS"))) {
        uint64_t ms;
        const char *end = parse_decimal(value, 3600000, &ms);
        if (end && *end == '\0') {
            na_options.purge_delay_ms = (uint32_t)ms;
            na_options.purge_delay_set = true;
        } else
            warn_value(OPTION_PURGE_DELAY_MS, "NUMA_ALLOC_PURGE_DELAY_MS", value,
                       "milliseconds, 0 to 3600000", "using 1000 (the default)");
    }
    static const struct keyword hugepages[] = {
        {"never", HUGEPAGES_NEVER}, {"thp", HUGEPAGES_THP}, {"auto", HUGEPAGES_AUTO}, {NULL, 0}};
    if ((value = env_lookup("NUMA_ALLOC_HUGEPAGES")))
        na_options.hugepages = (enum hugepages_mode)parse_keyword(
            OPTION_HUGEPAGES, "NUMA_ALLOC_HUGEPAGES", value, hugepages, "never, thp, auto");
    if ((value = env_lookup("NUMA_ALLOC_HUGETLB")) &&
        options_parse_size(value, OPTIONS_HUGETLB_MAX, &na_options.hugetlb_bytes) != 0) {
        na_options.hugetlb_bytes = 0;
        warn_value(OPTION_HUGETLB, "NUMA_ALLOC_HUGETLB", value,
                   "bytes per node, with an optional k, m or g suffix, up to 1024g",
                   "no hugetlbfs pages (the default)");
    }
    if ((value = env_lookup("NUMA_ALLOC_PROF")))
        na_options.prof =
            copy_path(na_prof_path, OPTION_PROF, "NUMA_ALLOC_PROF", value, "the profile is off");
    if ((value = env_lookup("NUMA_ALLOC_PROF_RATE"))) {
        uint64_t bytes;
        const char *end = parse_decimal(value, PROF_RATE_MAX, &bytes);
        if (end && *end == '\0' && bytes > 0)
            na_options.prof_rate = bytes;
        else
            warn_value(OPTION_PROF_RATE, "NUMA_ALLOC_PROF_RATE", value,
                       "bytes between samples, 1 to 1099511627776", "using 524288 (the default)");
    }
    static const struct keyword unwinders[] = {{"auto", PROF_UNWINDER_AUTO},
                                               {"libunwind", PROF_UNWINDER_LIBUNWIND},
                                               {"libgcc", PROF_UNWINDER_LIBGCC},
                                               {NULL, 0}};
    if ((value = env_lookup("NUMA_ALLOC_PROF_UNWINDER")))
        na_options.prof_unwinder =
            (enum prof_unwinder)parse_keyword(OPTION_PROF_UNWINDER, "NUMA_ALLOC_PROF_UNWINDER",
                                              value, unwinders, "auto, libunwind, libgcc");
}
