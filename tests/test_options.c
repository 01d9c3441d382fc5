/*
 * test_options.c - NUMA_ALLOC_* variables: a bad value gets exactly one
 * warning line on stderr naming the variable, what it accepts and what is
 * used instead, and the program runs on; good values give no warning.
 */
#include "test_util.h"
#include <criterion/criterion.h>

#include <sys/wait.h>

/* Runs the probe with `env` prepended; returns its exit status, output in out. */
static int run_probe(const char *env, char *out, size_t cap)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "env %s %s 2>&1", env, OPTIONS_PROBE_PATH);
    FILE *p = popen(cmd, "r");
    cr_assert(p, "popen %s", cmd);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
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
