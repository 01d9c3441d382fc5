/*
 * child.c - child mode (numa_bench --run=WORKLOAD): checks that malloc comes
 * from the allocator the runner put in LD_PRELOAD (NUMA_BENCH_EXPECT), runs
 * the workload once under an alarm, so that a deadlocked allocator cannot hang
 * the runner, and prints the one RESULT line the runner parses.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static int maps_contains(const char *path)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[4096];
    int found = 0;
    if (!f)
        return 0;
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, path) != NULL;
    fclose(f);
    return found;
}

/*
 * Which object does malloc resolve to? Checked against NUMA_BENCH_EXPECT.
 * Writes the object's path to `from`; returns 0 if it matches (or nothing
 * is expected).
 */
static int check_allocator(char *from, size_t n)
{
    void *(*volatile m)(size_t) = malloc;
    Dl_info info;
    char real_from[PATH_MAX], real_exp[PATH_MAX];
    if (!dladdr((void *)m, &info) || !info.dli_fname) {
        snprintf(from, n, "unknown");
        fprintf(stderr, "numa_bench: dladdr(malloc) failed\n");
        return -1;
    }
    if (!realpath(info.dli_fname, real_from))
        snprintf(real_from, sizeof real_from, "%s", info.dli_fname);
    snprintf(from, n, "%s", real_from);

    const char *exp = getenv("NUMA_BENCH_EXPECT");
    if (!exp || !*exp)
        return 0;
    if (strcmp(exp, "glibc") == 0) {
        const char *base = strrchr(real_from, '/');
        base = base ? base + 1 : real_from;
        if (strncmp(base, "libc.so", 7) == 0 || strncmp(base, "libc-", 5) == 0)
            return 0;
        fprintf(stderr, "numa_bench: expected glibc malloc, but malloc comes from %s\n", real_from);
        return -1;
    }
    if (!realpath(exp, real_exp)) {
        fprintf(stderr, "numa_bench: expected allocator %s: %s\n", exp, strerror(errno));
        return -1;
    }
    if (!maps_contains(real_exp)) {
        fprintf(stderr, "numa_bench: %s is not mapped (check LD_PRELOAD)\n", real_exp);
        return -1;
    }
    if (strcmp(real_exp, real_from) != 0) {
        fprintf(stderr, "numa_bench: %s is mapped but malloc comes from %s\n", real_exp, real_from);
        return -1;
    }
    return 0;
}

int child_main(const char *name, const params_t *p0)
{
    params_t p = *p0;
    char from[PATH_MAX];
    int bad = check_allocator(from, sizeof from);
    if (bad)
        return 3;
    /* A deadlocked allocator must not hang the runner. */
    alarm(p.quick ? 60 : 300);

    struct rusage ru;
    if (strcmp(name, CURRENT_NODE) == 0) {
        cn_result_t r = current_node(p.quick ? 100000 : 50000000);
        getrusage(RUSAGE_SELF, &ru);
        printf("RESULT workload=%s ns_per_op=%.3f rseq_ns=%.3f syscall_ns=%.3f "
               "maxrss_kib=%ld malloc_from=%s\n",
               name, r.getcpu_ns, r.rseq_ns, r.syscall_ns, ru.ru_maxrss, from);
        return 0;
    }
    const workload_t *w = workload_find(name, &p.threads);
    if (!w) {
        fprintf(stderr, "numa_bench: unknown workload '%s'\n", name);
        return 2;
    }
    uint64_t ops = 0;
    double ns = w->fn(&p, &ops);
    getrusage(RUSAGE_SELF, &ru);
    /* prog-*: the peak RSS of the program, not of this process */
    long rss = w->prog ? g_prog_maxrss_kib : ru.ru_maxrss;
    printf("RESULT workload=%s ns_per_op=%.3f ops=%llu maxrss_kib=%ld malloc_from=%s", name, ns,
           (unsigned long long)ops, rss, from);
    if (w->prog)
        printf(" cpu_ns=%llu program_maps=ok output=ok", (unsigned long long)g_prog_cpu_ns);
    printf("\n");
    fflush(stdout);
    return 0;
}
