/*
 * test_hugetlb.c - NUMA_ALLOC_HUGETLB: hugetlbfs pages per node
 * (core/hugepages.h). Each test runs hugetlb_probe with the variable set,
 * under a pool (vm.nr_hugepages) it sets up and puts back afterwards, so it
 * needs root; without it the tests fail, saying so (CI runs as root).
 *   - with 32 pages more in the pool and NUMA_ALLOC_HUGETLB=64m, the heap's
 *     memory is a 2 MiB page mapping with 64 MiB of Private_Hugetlb, the
 *     statistics' hugetlb_bytes say 64 MiB; a fork child writes to the whole
 *     heap and allocates with no free huge page in the pool (it copies the
 *     range into normal pages first: without, SIGBUS); after the heap was
 *     freed, churned and trimmed (with no purge delay) the pages are all
 *     still there: HugePages_Free as it was, the mapping and the statistics
 *     unchanged, no purge was refused (MADV_DONTNEED refuses most of such a
 *     range: it would be a slip), and calloc's memory (from the range,
 *     zeroed in place instead of purged) reads as zero;
 *   - with an empty pool, the program runs as usual, one line says that no
 *     hugetlbfs pages were reserved on the node, and hugetlb_bytes is 0;
 *   - with pages in the pool but a step refused by a seccomp filter
 *     (madvise: no MADV_POPULATE_WRITE; move_pages: no verification; mremap:
 *     no move into the slot), the same, the line names the step, and the
 *     pages went back to the pool at once (HugePages_Free while it runs).
 */
#include "test_util.h"

#include <criterion/criterion.h>
#include <sys/wait.h>
#include <unistd.h>

#define POOL_PATH "/proc/sys/vm/nr_hugepages"

static long read_pool(void)
{
    FILE *f = fopen(POOL_PATH, "r");
    cr_assert_not_null(f, "cannot read %s", POOL_PATH);
    long pages = -1;
    cr_assert_eq(fscanf(f, "%ld", &pages), 1);
    fclose(f);
    return pages;
}

static void write_pool(long pages)
{
    FILE *f = fopen(POOL_PATH, "w");
    cr_assert_not_null(f, "cannot write %s (root needed)", POOL_PATH);
    fprintf(f, "%ld\n", pages);
    cr_assert_eq(fclose(f), 0, "writing %ld to %s failed", pages, POOL_PATH);
}

static long meminfo(const char *key)
{
    FILE *f = fopen("/proc/meminfo", "r");
    cr_assert_not_null(f);
    char line[256];
    long value = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, strlen(key)) == 0)
            value = strtol(line + strlen(key), NULL, 10);
    fclose(f);
    cr_assert_geq(value, 0, "no %s in /proc/meminfo", key);
    return value;
}

static void need_root(void)
{
    cr_assert_eq(geteuid(), 0,
                 "test_hugetlb sets vm.nr_hugepages, which needs root: run it as root (CI does)");
    cr_assert_eq(meminfo("Hugepagesize:"), 2048, "the tests assume 2 MiB huge pages");
}

/*
 * Runs the probe with `env`, under `wrapper` (a command and its arguments, or
 * ""); its exit status (128: killed), output in out. No assertion: the caller
 * puts the pool back first.
 */
static int run_probe_in(const char *env, const char *wrapper, char *out, size_t cap)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "env %s %s %s 2>&1", env, wrapper, HUGETLB_PROBE_PATH);
    return test_command_output(cmd, out, cap);
}

static int run_probe(const char *env, char *out, size_t cap)
{
    return run_probe_in(env, "", out, cap);
}

static void expect_finished(int status, const char *env, const char *out)
{
    cr_assert_eq(status, 0, "%s: the program must run to its end (status %d); output:\n%s", env,
                 status, out);
    cr_assert(strstr(out, "\nok\n"), "%s: the program did not finish:\n%s", env, out);
}

static long long value_of(const char *out, const char *key)
{
    char pattern[64];
    snprintf(pattern, sizeof pattern, "%s ", key);
    const char *at = out;
    while ((at = strstr(at, pattern)) && at != out && at[-1] != '\n')
        at++;
    cr_assert_not_null(at, "no %s in the probe's output:\n%s", key, out);
    return strtoll(at + strlen(pattern), NULL, 10);
}

#define WANT_PAGES 32 /* NUMA_ALLOC_HUGETLB=64m */

Test(hugetlb, reserved_pages_back_the_heap_and_are_never_purged)
{
    need_root();
    long old = read_pool();
    long spare = meminfo("HugePages_Free:");
    write_pool(old + WANT_PAGES);
    long got = meminfo("HugePages_Free:") - spare;
    char out[8192] = "";
    const char *env = "NUMA_ALLOC_HUGETLB=64m NUMA_ALLOC_PURGE_DELAY_MS=0";
    int status = got >= WANT_PAGES ? run_probe(env, out, sizeof out) : -1;
    write_pool(old); /* before any assertion can end the test */
    cr_assert_geq(got, WANT_PAGES,
                  "the kernel gave %ld of %d more huge pages (memory too fragmented?)", got,
                  WANT_PAGES);
    expect_finished(status, env, out);
    cr_assert_null(strstr(out, "numa-alloc:"), "no message expected:\n%s", out);
    cr_assert_eq(value_of(out, "heap_page_kb"), 2048, "the heap is not on huge pages:\n%s", out);
    cr_assert_eq(value_of(out, "heap_hugetlb"), 64LL << 20, "%s", out);
    cr_assert_eq(value_of(out, "fork_child_status"), 0,
                 "a fork child writing to the heap did not end well (128 + 7: SIGBUS):\n%s", out);
    cr_assert_eq(value_of(out, "fork_child_status"), 0,
                 "a fork child writing to the heap did not end well (128 + 7: SIGBUS):\n%s", out);
    cr_assert_eq(value_of(out, "stats_hugetlb"), 64LL << 20, "%s", out);
    cr_assert_eq(value_of(out, "pool_free_after"), value_of(out, "pool_free_before"),
                 "purging gave hugetlb pages back to the pool:\n%s", out);
    cr_assert_eq(value_of(out, "heap_hugetlb_after"), 64LL << 20, "%s", out);
    cr_assert_eq(value_of(out, "stats_hugetlb_after"), 64LL << 20, "%s", out);
    cr_assert_eq(value_of(out, "nonzero"), 0, "calloc's memory was not zero:\n%s", out);
    cr_assert_eq(value_of(out, "purge_failures"), 0, "purges of the range refused:\n%s", out);
}

Test(hugetlb, an_empty_pool_falls_back_to_normal_pages_with_one_line)
{
    need_root();
    long old = read_pool();
    char out[8192] = "";
    const char *env = "NUMA_ALLOC_HUGETLB=64m";
    write_pool(0);
    long total = meminfo("HugePages_Total:");
    int status = total == 0 ? run_probe(env, out, sizeof out) : -1;
    write_pool(old);
    cr_assert_eq(total, 0, "%ld huge pages still in use elsewhere: the pool cannot be emptied",
                 total);
    expect_finished(status, env, out);
    int lines = 0;
    for (const char *at = out; (at = strstr(at, "numa-alloc:")); at++)
        lines++;
    cr_assert_eq(lines, 1, "want one line:\n%s", out);
    cr_assert(strstr(out, "numa-alloc: NUMA_ALLOC_HUGETLB: no hugetlbfs pages reserved on node "),
              "%s", out);
    cr_assert(strstr(out, "using normal pages"), "%s", out);
    cr_assert_eq(value_of(out, "heap_page_kb"), 4, "%s", out);
    cr_assert_leq(value_of(out, "heap_hugetlb"), 0, "%s", out);
    cr_assert_eq(value_of(out, "stats_hugetlb"), 0, "%s", out);
    cr_assert_eq(value_of(out, "nonzero"), 0, "%s", out);
}

Test(hugetlb, a_refused_step_falls_back_and_gives_the_pages_back)
{
    static const struct {
        const char *calls, *why;
    } steps[] = {
        {"madvise", "MADV_POPULATE_WRITE refused"},
        {"move_pages", "move_pages refused"},
        {"mremap", "mremap refused"},
    };
    enum { STEPS = sizeof steps / sizeof steps[0] };
    need_root();
    long old = read_pool();
    long spare = meminfo("HugePages_Free:");
    write_pool(old + WANT_PAGES);
    long got = meminfo("HugePages_Free:") - spare;
    static char out[STEPS][8192];
    int status[STEPS];
    long free_after[STEPS];
    const char *env = "NUMA_ALLOC_HUGETLB=64m";
    for (size_t i = 0; i < STEPS; i++) {
        char wrapper[512];
        snprintf(wrapper, sizeof wrapper, "%s --calls=%s --", SECCOMP_DENY_PATH, steps[i].calls);
        out[i][0] = '\0';
        status[i] = got >= WANT_PAGES ? run_probe_in(env, wrapper, out[i], sizeof out[i]) : -1;
        free_after[i] = meminfo("HugePages_Free:");
    }
    write_pool(old);
    cr_assert_geq(got, WANT_PAGES,
                  "the kernel gave %ld of %d more huge pages (memory too fragmented?)", got,
                  WANT_PAGES);
    for (size_t i = 0; i < STEPS; i++) {
        expect_finished(status[i], steps[i].calls, out[i]);
        int lines = 0;
        for (const char *at = out[i]; (at = strstr(at, "NUMA_ALLOC_HUGETLB:")); at++)
            lines++; /* (a refused move_pages has its own line too: capabilities.c) */
        cr_assert_eq(lines, 1, "%s refused: want one line:\n%s", steps[i].calls, out[i]);
        cr_assert(strstr(out[i], steps[i].why), "%s refused: the line must say '%s':\n%s",
                  steps[i].calls, steps[i].why, out[i]);
        cr_assert_eq(value_of(out[i], "heap_page_kb"), 4, "%s", out[i]);
        cr_assert_eq(value_of(out[i], "stats_hugetlb"), 0, "%s", out[i]);
        cr_assert_eq(value_of(out[i], "nonzero"), 0, "%s", out[i]);
        /* Given back at once, not when the program ends. */
        cr_assert_eq(value_of(out[i], "pool_free_before"), spare + got,
                     "%s refused: the program holds huge pages it does not use:\n%s",
                     steps[i].calls, out[i]);
        cr_assert_eq(free_after[i], spare + got, "%s refused: %ld of %ld pages back in the pool",
                     steps[i].calls, free_after[i] - spare, got);
    }
}
