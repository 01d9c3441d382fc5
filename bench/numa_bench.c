/*
 * numa_bench.c - allocator benchmark for numa-alloc: main, which parses the
 * options and picks the mode. The other files, one job each: child.c and
 * runner.c (the two modes below), workloads.c (the table of workloads),
 * workloads_synthetic.c and workloads_programs.c (the workloads), harness.c/.h
 * (PRNG, clock, thread harness), report.c (markdown, --data, --chart), and
 * bench.h (what they share).
 *
 * The binary is NOT linked against any allocator: the allocator under test is
 * chosen with LD_PRELOAD. Two modes:
 *
 *   numa_bench --run=WORKLOAD [--quick] [--threads=T]
 *       Child mode: runs one workload once in this process and prints one
 *       machine-readable line:
 *         RESULT workload=W ns_per_op=X ops=N maxrss_kib=K malloc_from=PATH
 *       If NUMA_BENCH_EXPECT is set ("glibc" or a .so path) the child checks,
 *       via dladdr(malloc) and /proc/self/maps, that malloc really comes from
 *       that allocator and exits 3 if not. With NUMA_BENCH_PHASES set,
 *       numa-shaped-Tt also prints its three phases (build, walk, free) in ns
 *       per node to stderr.
 *
 *   numa_bench --all [--reps=N] [--quick] [--threads=T] [--out=FILE.md]
 *                    [--lib=PATH] [--before=PATH] [--variant=NAME:VAR=VALUE[,...]]
 *                    [--workloads=a,b,...] [--data=F.tsv] [--chart=F.png]
 *       Runner mode: re-executes /proc/self/exe once per (rep, workload,
 *       allocator), interleaved (for each rep, for each workload, every
 *       allocator in turn), takes medians over reps and prints a markdown
 *       table (also written to FILE.md with --out), with ratios to glibc,
 *       jemalloc, mimalloc and the best peer (the fastest of jemalloc,
 *       mimalloc, tcmalloc) and their geometric means. --data writes the
 *       medians as tab-separated text, --chart a PNG bar chart (gnuplot).
 *       The peers are looked for in /usr/lib/x86_64-linux-gnu, or in
 *       $NUMA_BENCH_PEER_DIR. --before adds an older numa-alloc library as a
 *       column of its own (never a peer) and a before/after table; --variant
 *       adds the same numa-alloc library with more environment (e.g. the
 *       profile on) the same way, with a variant/numa-alloc table.
 *
 * Every workload is deterministic: a seeded xorshift64* PRNG, fixed sizes.
 *
 * The prog-* workloads time unmodified programs (python3, git, sqlite3): the
 * child starts the program with its own environment (so the program inherits
 * LD_PRELOAD), checks in the program's /proc/<pid>/maps that the allocator
 * is really there, checks the program's exit status and output, and reports
 * the wall time of one run and the program's peak RSS (see workloads_programs.c).
 */
#define _GNU_SOURCE
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(void)
{
    fprintf(stderr,
            "usage: numa_bench --all [--reps=N] [--quick] [--threads=T] [--out=FILE.md]\n"
            "                        [--lib=PATH] [--before=PATH] [--workloads=a,b,...]\n"
            "                        [--variant=NAME:VAR=VALUE[,VAR=VALUE...]]\n"
            "                        [--data=FILE.tsv] [--chart=FILE.png]\n"
            "       numa_bench --run=WORKLOAD [--quick] [--threads=T]\n"
            "       numa_bench [--threads=T] --list\n"
            "--threads=T: threads of the *-Tt workloads and of short-threads (default 2)\n"
            "--data: the medians and ratios as tab-separated text; --chart: a PNG bar chart\n"
            "  of the times relative to glibc, drawn by gnuplot (package gnuplot-nox)\n"
            "--before=PATH: an older numa-alloc library, run in the same interleaved reps:\n"
            "  a column of its own (never a peer) and a before/after table\n"
            "--variant=NAME:VAR=VALUE[,VAR=VALUE...]: the numa-alloc library again, as column\n"
            "  NAME, with the VARs in its children's environment: a column of its own (never\n"
            "  a peer) and a NAME/numa-alloc table. {dir} in a VALUE is a scratch directory\n"
            "  numa_bench creates and removes; %%p is left to the library (its pid), e.g.\n"
            "  --variant=numa-alloc+prof:NUMA_ALLOC_PROF={dir}/prof.%%p\n"
            "default --lib: %s\n"
            "environment: NUMA_BENCH_PEER_DIR=DIR: look for libjemalloc.so.2,\n"
            "  libmimalloc.so.2 and libtcmalloc_minimal.so.4 in DIR (default %s)\n",
            NUMA_BENCH_DEFAULT_LIB, PEER_DIR_DEFAULT);
}

int main(int argc, char **argv)
{
    params_t p = {.quick = 0, .threads = 2};
    int all = 0, reps = -1;
    const char *run = NULL, *lib = NUMA_BENCH_DEFAULT_LIB, *out = NULL, *only = NULL;
    const char *data = NULL, *chart = NULL, *before = NULL, *variant = NULL;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--all"))
            all = 1;
        else if (!strcmp(a, "--quick"))
            p.quick = 1;
        else if (!strncmp(a, "--reps=", 7))
            reps = atoi(a + 7);
        else if (!strncmp(a, "--threads=", 10))
            p.threads = atoi(a + 10);
        else if (!strncmp(a, "--out=", 6))
            out = a + 6;
        else if (!strncmp(a, "--lib=", 6))
            lib = a + 6;
        else if (!strncmp(a, "--before=", 9))
            before = a + 9;
        else if (!strncmp(a, "--variant=", 10))
            variant = a + 10;
        else if (!strncmp(a, "--run=", 6))
            run = a + 6;
        else if (!strncmp(a, "--workloads=", 12))
            only = a + 12;
        else if (!strncmp(a, "--data=", 7))
            data = a + 7;
        else if (!strncmp(a, "--chart=", 8))
            chart = a + 8;
        else if (!strcmp(a, "--list")) {
            for (size_t w = 0; w < NWORKLOADS; w++) {
                char b[64];
                workload_name(&workloads[w], p.threads, b, sizeof b);
                printf("%-20s %s\n", b, workloads[w].unit);
            }
            printf("%-20s %s\n", CURRENT_NODE,
                   "sched_getcpu / rseq cpu_id / getcpu syscall (informational)");
            return 0;
        } else {
            usage();
            return 2;
        }
    }
    if (p.threads < 1 || p.threads > 256) {
        fprintf(stderr, "numa_bench: --threads must be 1..256\n");
        return 2;
    }
    if (reps < 0)
        reps = p.quick ? 1 : 5;
    if (reps < 1 || reps > MAX_REPS) {
        fprintf(stderr, "numa_bench: --reps must be 1..%d\n", MAX_REPS);
        return 2;
    }
    if (run && !all)
        return child_main(run, &p);
    if (all && !run)
        return runner_main(argc, argv, &p, reps, lib, before, variant, out, only, data, chart);
    usage();
    return 2;
}
