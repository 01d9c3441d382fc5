/*
 * bench.h - what the files of numa_bench share: the parameters of one run,
 * the workload table (workloads.c) and the workloads it names
 * (workloads_synthetic.c, workloads_shapes.c, workloads_programs.c), the two modes (child.c runs
 * one workload, runner.c re-executes the binary once per workload and
 * allocator) and the report the runner hands its measurements to (report.c).
 * The building blocks of the workloads are in harness.h.
 */
#ifndef NUMA_BENCH_BENCH_H
#define NUMA_BENCH_BENCH_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

/* Where the peers (jemalloc, mimalloc, tcmalloc) are; NUMA_BENCH_PEER_DIR overrides. */
#define PEER_DIR_DEFAULT "/usr/lib/x86_64-linux-gnu"

#ifndef NUMA_BENCH_DEFAULT_LIB
#define NUMA_BENCH_DEFAULT_LIB "build/libnumapreload.so"
#endif

extern char **environ;

/* What every workload is run with: --quick (tiny sizes, a smoke test) and --threads. */
typedef struct {
    int quick;
    int threads;
} params_t;

/* Picks the full-size or the --quick count. */
static inline size_t qsz(const params_t *p, size_t full, size_t quick)
{
    return p->quick ? quick : full;
}

/* ---- workloads.c: the table of workloads ---- */

typedef struct {
    const char *name; /* "%d" is replaced by the thread count */
    double (*fn)(const params_t *, uint64_t *ops);
    const char *unit; /* what one "op" is */
    int prog;         /* a real program: one op = one run, reported in ms */
} workload_t;

/*
 * Entries in workloads[]. A constant, not a sizeof, because the runner's
 * and the report's arrays are sized by it; workloads.c checks it against the
 * table at compile time.
 */
#define NWORKLOADS 19
extern const workload_t workloads[];
#define CURRENT_NODE "current-node" /* run by the child, not in the table */

/* The display name: "%d" in the table's name is replaced by the thread count. */
void workload_name(const workload_t *w, int threads, char *buf, size_t n);
/*
 * Finds a workload by display name; a name like small-churn-4t or larson-8t
 * sets the thread count (exact names, e.g. small-churn-1t, win).
 */
const workload_t *workload_find(const char *name, int *threads);

/* ---- workloads_synthetic.c: allocation patterns, timed in this process ---- */

double wl_small_churn_1t(const params_t *p, uint64_t *ops);
double wl_small_churn_mt(const params_t *p, uint64_t *ops);
double wl_producer_consumer(const params_t *p, uint64_t *ops);
double wl_large(const params_t *p, uint64_t *ops);
double wl_huge(const params_t *p, uint64_t *ops);
double wl_realloc_chain(const params_t *p, uint64_t *ops);
double wl_larson(const params_t *p, uint64_t *ops);
double wl_larson_server(const params_t *p, uint64_t *ops);
double wl_cache_scratch(const params_t *p, uint64_t *ops);
double wl_false_sharing(const params_t *p, uint64_t *ops);
double wl_short_threads(const params_t *p, uint64_t *ops);
double wl_numa_shaped(const params_t *p, uint64_t *ops);

/* ---- workloads_shapes.c: the shapes of issue 17 ---- */

double wl_batch_1t(const params_t *p, uint64_t *ops);
double wl_ring(const params_t *p, uint64_t *ops);
double wl_shared_pool(const params_t *p, uint64_t *ops);
double wl_int_churn_1t(const params_t *p, uint64_t *ops);

/* current-node: ns per call of each way to find the calling thread's CPU. */
typedef struct {
    double getcpu_ns, rseq_ns, syscall_ns;
} cn_result_t;
cn_result_t current_node(size_t iters);

/* ---- workloads_programs.c: unmodified programs, timed as subprocesses ---- */

double wl_prog_python(const params_t *p, uint64_t *ops);
double wl_prog_git(const params_t *p, uint64_t *ops);
double wl_prog_sqlite3(const params_t *p, uint64_t *ops);
/*
 * What the last prog-* workload measured besides its time, for the child's
 * RESULT line: the program's peak RSS (not this process's) and its CPU time.
 */
extern long g_prog_maxrss_kib;
extern uint64_t g_prog_cpu_ns;

/* ---- child.c and runner.c: the two modes ---- */

/* Runs workload `name` once in this process and prints its RESULT line. */
int child_main(const char *name, const params_t *p0);
/* Runs the suite in children and reports the medians; the options as main parsed them. */
int runner_main(int argc, char **argv, const params_t *p, int reps, const char *lib,
                const char *before, const char *variant, const char *out, const char *only,
                const char *data, const char *chart);

#define MAX_ALLOCS      8
#define MAX_REPS        101
#define MAX_VARIANT_ENV 8

/*
 * An allocator under test: its column name, the library the child preloads
 * and the environment the child gets besides the runner's: NULL-terminated
 * VAR=VALUE strings that replace the runner's own VARs (all NULL but for a
 * --variant).
 */
typedef struct {
    const char *name;
    char path[PATH_MAX]; /* "" = glibc (no preload) */
    char *env[MAX_VARIANT_ENV + 1];
} alloc_t;

/* The measurements of one (workload, allocator) in every rep; a failed cell is not run again. */
typedef struct {
    int n;
    double ns[MAX_REPS];
    double rss_kib[MAX_REPS];
    double extra1[MAX_REPS], extra2[MAX_REPS]; /* prog-*: cpu_ns, -; current-node: rseq, syscall */
    int failed;
} cell_t;

/* ---- report.c: the markdown report, the --data file and the --chart ---- */

/*
 * The medians of one run of the suite, shared by the markdown report, the
 * --data file and the --chart. Times are ns per op (prog-*: ns per run).
 */
typedef struct {
    const alloc_t *al;
    int na, numa, jem, mim; /* indices into al; -1: absent */
    int before;             /* --before: an older numa-alloc, compared but never a peer; or -1 */
    int variant;            /* --variant: numa-alloc with more environment, the same; or -1 */
    /* What the variant's children left in its {dir}: files and MiB; files -1: no {dir}. */
    long variant_files;
    double variant_mib;
    const char **wl;
    int nw;
    double med[NWORKLOADS][MAX_ALLOCS], cpu[NWORKLOADS][MAX_ALLOCS], rss[NWORKLOADS][MAX_ALLOCS];
    int best[NWORKLOADS]; /* the fastest peer, or -1 */
} medians_t;

/* Fills med, cpu, rss and best of m (al..nw set) from the cells[nw][na]. */
void medians_fill(medians_t *m, cell_t cells[][MAX_ALLOCS]);
/* The markdown report (malloc'd; the caller frees it); cn: current-node, or NULL. */
char *report_markdown(double load_before, const medians_t *m, cell_t cells[][MAX_ALLOCS],
                      const cell_t *cn, const params_t *p, int reps, int argc, char **argv);
/* --data and --chart; 0 or -1 (after saying why on stderr). */
int write_data(const char *path, const medians_t *m);
int make_chart(const char *png, const char *data, const medians_t *m, const params_t *p, int reps);
/* The 1-minute load average; NAN if unknown. */
double loadavg1(void);

#endif
