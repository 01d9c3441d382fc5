/*
 * test_options.c - NUMA_ALLOC_* variables: a bad value gets exactly one
 * warning line on stderr naming the variable, what it accepts and what is
 * used instead, and the program runs on; good values give no warning and
 * take effect: the statistics show the policy, fallback and format asked
 * for, a purge delay of 0 purges at once and one of an hour not at all, and
 * NUMA_ALLOC_STATS_LIVE=1 publishes the live files.
 */
#include "test_util.h"
#include <criterion/criterion.h>

#include <sys/wait.h>

/* Runs the probe with `env` prepended and `args`; returns its exit status, output in out. */
static int run_probe_args(const char *env, const char *args, char *out, size_t cap)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "env %s %s %s 2>&1", env, OPTIONS_PROBE_PATH, args);
    int status = test_command_output(cmd, out, cap);
    cr_assert_neq(status, -1, "popen %s", cmd);
    return status;
}

static int run_probe(const char *env, char *out, size_t cap)
{
    return run_probe_args(env, "", out, cap);
}

static int count_lines_with(const char *text, const char *needle)
{
    int n = 0;
    for (const char *at = text; (at = strstr(at, needle)); at += strlen(needle))
        n++;
    return n;
}

static void expect_one_warning(const char *env, const char *variable, const char *accepted)
{
    char out[4096];
    int status = run_probe(env, out, sizeof out);
    cr_assert_eq(status, 0, "%s: the program must run on; output:\n%s", env, out);
    cr_assert(strstr(out, "ok node="), "%s: no output from the program:\n%s", env, out);
    cr_assert_eq(count_lines_with(out, "numa-alloc:"), 1, "%s: want one warning line:\n%s", env,
                 out);
    cr_assert(strstr(out, variable), "%s: the warning must name %s:\n%s", env, variable, out);
    cr_assert(strstr(out, accepted), "%s: the warning must list '%s':\n%s", env, accepted, out);
}

Test(options, bad_policy_warns_once_and_runs)
{
    expect_one_warning("NUMA_ALLOC_POLICY=bnid", "NUMA_ALLOC_POLICY", "local, bind, preferred");
}

Test(options, bad_fallback_warns_once_and_runs)
{
    expect_one_warning("NUMA_ALLOC_FALLBACK=nearst", "NUMA_ALLOC_FALLBACK", "none, nearest, any");
}

Test(options, bad_node_list_warns_once_and_runs)
{
    expect_one_warning("NUMA_ALLOC_POLICY=bind NUMA_ALLOC_NODES=0-x", "NUMA_ALLOC_NODES", "0-2,5");
}

Test(options, unknown_node_warns_once_and_runs)
{
    expect_one_warning("NUMA_ALLOC_POLICY=bind NUMA_ALLOC_NODES=0,999", "999", "not available");
}

Test(options, bad_weights_and_delay_warn)
{
    expect_one_warning("NUMA_ALLOC_WEIGHTS=0:0", "NUMA_ALLOC_WEIGHTS", "node:weight");
    expect_one_warning("NUMA_ALLOC_PURGE_DELAY_MS=soon", "NUMA_ALLOC_PURGE_DELAY_MS",
                       "using 1000 (the default)");
}

Test(options, bad_hugepages_warns_once_and_runs)
{
    expect_one_warning("NUMA_ALLOC_HUGEPAGES=always", "NUMA_ALLOC_HUGEPAGES",
                       "(accepted: never, thp, auto); using never (the default)");
}

Test(options, bad_hugetlb_size_warns_once_and_runs)
{
    static const char *const bad[] = {"NUMA_ALLOC_HUGETLB=lots", "NUMA_ALLOC_HUGETLB=64mb",
                                      "NUMA_ALLOC_HUGETLB=2048g", "NUMA_ALLOC_HUGETLB=-1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_one_warning(bad[i], "NUMA_ALLOC_HUGETLB",
                           "(accepted: bytes per node, with an optional k, m or g suffix, up to "
                           "1024g); no hugetlbfs pages (the default)");
}

/*
 * A policy that can honour nothing, with no fallback allowed: an error the
 * user sees (numactl --membind=5 refuses to run), not local memory under a
 * bind policy. We do not stop the program: the start fails, one line says
 * why, and the C library serves it (numa_ptr_node then knows no block: -1).
 */
Test(options, bind_to_no_usable_node_without_fallback_is_refused)
{
    char out[4096];
    const char *env = "NUMA_ALLOC_POLICY=bind NUMA_ALLOC_NODES=999 NUMA_ALLOC_FALLBACK=none";
    cr_assert_eq(run_probe(env, out, sizeof out), 0, "%s: the program must run on:\n%s", env, out);
    cr_assert_eq(count_lines_with(out, "numa-alloc:"), 1, "%s: want one line:\n%s", env, out);
    cr_assert(strstr(out, "numa-alloc: not active: NUMA_ALLOC_NODES: node(s) 999 not available and "
                          "NUMA_ALLOC_FALLBACK=none allows no other node"),
              "%s:\n%s", env, out);
    cr_assert(strstr(out, "ok node=-1"), "%s: the C library must serve it:\n%s", env, out);
    /* With a fallback allowed, the nearest node serves, after one line. */
    expect_one_warning("NUMA_ALLOC_POLICY=bind NUMA_ALLOC_NODES=999 NUMA_ALLOC_FALLBACK=nearest",
                       "NUMA_ALLOC_NODES", "not available");
}

/* The one line says what happens in the end, however many steps notice the variable. */
Test(options, one_line_says_the_outcome)
{
    expect_one_warning("NUMA_ALLOC_POLICY=bnid", "NUMA_ALLOC_POLICY", "using local (the default)");
    expect_one_warning("NUMA_ALLOC_NODES=0-x", "NUMA_ALLOC_NODES",
                       "ignored under NUMA_ALLOC_POLICY=local");
    expect_one_warning("NUMA_ALLOC_POLICY=bind NUMA_ALLOC_NODES=999", "NUMA_ALLOC_NODES",
                       "no usable node left: using NUMA_ALLOC_POLICY=local");
    expect_one_warning("NUMA_ALLOC_POLICY=weighted-interleave NUMA_ALLOC_WEIGHTS=1", "0:3,1:1",
                       "using the kernel's weights, or 1 for every node");
    expect_one_warning("NUMA_ALLOC_WEIGHTS=1", "NUMA_ALLOC_WEIGHTS",
                       "ignored (only NUMA_ALLOC_POLICY=weighted-interleave uses them)");
}

Test(options, good_values_are_silent)
{
    static const char *const good[] = {
        "NUMA_ALLOC_POLICY=local",
        "NUMA_ALLOC_POLICY=bind NUMA_ALLOC_NODES=0",
        "NUMA_ALLOC_POLICY=preferred NUMA_ALLOC_NODES=all",
        "NUMA_ALLOC_FALLBACK=none",
        "NUMA_ALLOC_PURGE_DELAY_MS=0",
        "NUMA_ALLOC_STATS_FORMAT=text",
        "NUMA_ALLOC_HUGEPAGES=never",
        "NUMA_ALLOC_HUGEPAGES=thp",
        "NUMA_ALLOC_HUGEPAGES=auto",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char out[4096];
        cr_assert_eq(run_probe(good[i], out, sizeof out), 0, "%s:\n%s", good[i], out);
        cr_assert_null(strstr(out, "numa-alloc:"), "%s: unexpected warning:\n%s", good[i], out);
        cr_assert(strstr(out, "ok node=0"), "%s:\n%s", good[i], out);
    }
}

Test(options, very_long_value_is_harmless)
{
    char env[900] = "NUMA_ALLOC_POLICY=";
    memset(env + strlen(env), 'x', 800);
    char out[4096];
    cr_assert_eq(run_probe(env, out, sizeof out), 0, "%s", out);
    cr_assert_eq(count_lines_with(out, "numa-alloc:"), 1, "%s", out);
}

/* ---- good values take effect ------------------------------------------ */

static char big_out[1 << 16];

/* Runs the probe with `env` and `args`; it must run, silently (no "numa-alloc:" line). */
static const char *run_good(const char *env, const char *args)
{
    cr_assert_eq(run_probe_args(env, args, big_out, sizeof big_out), 0, "%s:\n%s", env, big_out);
    cr_assert_null(strstr(big_out, "numa-alloc:"), "%s: unexpected warning:\n%s", env, big_out);
    cr_assert(strstr(big_out, "ok node=0"), "%s:\n%s", env, big_out);
    return big_out;
}

/* The statistics at exit (NUMA_ALLOC_STATS=stderr) under `env` contain every one of `want`. */
static void expect_statistics(const char *env, const char *const *want, size_t n)
{
    char full[512];
    snprintf(full, sizeof full, "NUMA_ALLOC_STATS=stderr %s", env);
    const char *out = run_good(full, "");
    for (size_t i = 0; i < n; i++)
        cr_assert(strstr(out, want[i]), "%s: the statistics lack '%s':\n%s", env, want[i], out);
}

#define EXPECT_STATISTICS(env, ...)                                                                \
    do {                                                                                           \
        static const char *const want_[] = {__VA_ARGS__};                                          \
        expect_statistics(env, want_, sizeof want_ / sizeof want_[0]);                             \
    } while (0)

Test(options, policy_and_nodes_take_effect)
{
    EXPECT_STATISTICS("", "\"policy\": {\"name\": \"local\", \"source\": \"default\", "
                          "\"fallback\": \"nearest\"");
    EXPECT_STATISTICS("NUMA_ALLOC_POLICY=bind NUMA_ALLOC_NODES=0",
                      "\"policy\": {\"name\": \"bind\", \"source\": \"environment\", "
                      "\"fallback\": \"nearest\", \"nodes\": [0]}");
    EXPECT_STATISTICS("NUMA_ALLOC_POLICY=preferred NUMA_ALLOC_NODES=all",
                      "\"policy\": {\"name\": \"preferred\", \"source\": \"environment\"");
    EXPECT_STATISTICS("NUMA_ALLOC_POLICY=interleave",
                      "\"policy\": {\"name\": \"interleave\", \"source\": \"environment\"");
}

Test(options, fallback_takes_effect)
{
    EXPECT_STATISTICS("NUMA_ALLOC_FALLBACK=none",
                      "\"source\": \"default\", \"fallback\": \"none\"");
    EXPECT_STATISTICS("NUMA_ALLOC_FALLBACK=any", "\"source\": \"default\", \"fallback\": \"any\"");
    EXPECT_STATISTICS("NUMA_ALLOC_POLICY=bind NUMA_ALLOC_NODES=0 NUMA_ALLOC_FALLBACK=none",
                      "\"name\": \"bind\", \"source\": \"environment\", \"fallback\": \"none\"");
}

Test(options, stats_format_takes_effect)
{
    const char *out = run_good("NUMA_ALLOC_STATS=stderr NUMA_ALLOC_STATS_FORMAT=text", "");
    cr_assert(strstr(out, "numa-alloc statistics: pid "), "no table:\n%s", out);
    cr_assert(strstr(out, "Remote allocations: "), "no table:\n%s", out);
    cr_assert_null(strstr(out, "\"remote_pct\""), "JSON instead of text:\n%s", out);
    out = run_good("NUMA_ALLOC_STATS=stderr NUMA_ALLOC_STATS_FORMAT=json", "");
    cr_assert(strstr(out, "\"remote_pct\": "), "no JSON:\n%s", out);
    cr_assert_null(strstr(out, "numa-alloc statistics: pid "), "text instead of JSON:\n%s", out);
}

/* purged= and dirty= printed by the probe's purge mode, under `env`. */
static void purge_outcome(const char *env, long long *purged, long long *dirty)
{
    const char *out = run_good(env, "purge");
    const char *at = strstr(out, "purged=");
    cr_assert(at && sscanf(at, "purged=%lld dirty=%lld", purged, dirty) == 2, "%s:\n%s", env, out);
    cr_assert(*purged >= 0 && *dirty >= 0, "%s: no statistics:\n%s", env, out);
}

/*
 * 8 MiB freed, under the dirty limit: with a delay of 0 the next slow path
 * purges it; with an hour it stays resident (the probe takes well under an
 * hour). The default (1 s) is test_purge's.
 */
Test(options, purge_delay_takes_effect)
{
    long long purged, dirty;
    purge_outcome("NUMA_ALLOC_PURGE_DELAY_MS=0", &purged, &dirty);
    cr_assert_geq(purged, 6 * (long long)MiB, "delay 0: only %lld KiB purged, %lld KiB dirty",
                  purged / 1024, dirty / 1024);
    purge_outcome("NUMA_ALLOC_PURGE_DELAY_MS=3600000", &purged, &dirty);
    cr_assert_eq(purged, 0, "delay of an hour: %lld KiB purged at once", purged / 1024);
    cr_assert_geq(dirty, 8 * (long long)MiB, "delay of an hour: only %lld KiB dirty", dirty / 1024);
}

Test(options, stats_live_takes_effect)
{
    const char *out = run_good("NUMA_ALLOC_STATS_LIVE=1", "live");
    cr_assert(strstr(out, "live=yes"), "NUMA_ALLOC_STATS_LIVE=1: no live file:\n%s", out);
    int pid = 0;
    cr_assert(sscanf(strstr(out, "pid="), "pid=%d", &pid) == 1 && pid > 0, "%s", out);
    char path[128];
    snprintf(path, sizeof path, "/dev/shm/numa-alloc-%u/%d.json", (unsigned)geteuid(), pid);
    cr_assert_neq(access(path, F_OK), 0, "%s is left after the program's exit", path);
    out = run_good("NUMA_ALLOC_STATS_LIVE=0", "live");
    cr_assert(strstr(out, "live=no"), "NUMA_ALLOC_STATS_LIVE=0: a live file:\n%s", out);
}
