/*
 * runner.c - runner mode (numa_bench --all): finds the allocators (glibc,
 * jemalloc, numa-alloc, mimalloc, tcmalloc), re-executes /proc/self/exe as a
 * child once per (rep, workload, allocator), interleaved so that a change in
 * the machine's load spreads over every allocator, collects the children's
 * RESULT lines, and hands them to the report. A failed child is reported with
 * the command that reproduces it, and its cell is not run again. --before and
 * --variant add numa-alloc columns that are compared but never peers: an
 * older library, and the same library with more environment.
 */
#define _GNU_SOURCE
#include "bench.h"
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int file_exists(const char *p)
{
    return access(p, R_OK) == 0;
}

/* Reads `key=` as a double from a RESULT line; NAN if absent. */
static double field(const char *line, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, " %s=", key);
    const char *s = strstr(line, pat);
    return s ? strtod(s + strlen(pat), NULL) : NAN;
}

/* Is environment entry `e` (VAR=VALUE) one of a's own VARs? */
static int env_replaced(const alloc_t *a, const char *e)
{
    for (char *const *v = a->env; *v; v++) {
        size_t n = (size_t)(strchr(*v, '=') - *v) + 1;
        if (!strncmp(e, *v, n))
            return 1;
    }
    return 0;
}

/* Shell-ish rendering of the child command, for reproduction. */
static void child_cmdline(char *buf, size_t n, const alloc_t *a, const char *exe,
                          char *const argv[])
{
    int k = 0;
    for (char *const *v = a->env; *v && (size_t)k < n; v++)
        k += snprintf(buf + k, n - (size_t)k, "%s ", *v);
    k += snprintf(buf + k, n - (size_t)k, "NUMA_BENCH_EXPECT=%s ", a->path[0] ? a->path : "glibc");
    if (a->path[0])
        k += snprintf(buf + k, n - (size_t)k, "LD_PRELOAD=%s ", a->path);
    k += snprintf(buf + k, n - (size_t)k, "%s", exe);
    for (int i = 1; argv[i] && (size_t)k < n; i++)
        k += snprintf(buf + k, n - (size_t)k, " %s", argv[i]);
}

/*
 * Runs one child; returns 0 and fills `line` with its RESULT line, or -1
 * (after printing why and how to reproduce).
 */
static int run_child(const char *exe, const alloc_t *a, const char *wl, const params_t *p,
                     char *line, size_t linesz)
{
    char arg_run[96], arg_thr[32];
    snprintf(arg_run, sizeof arg_run, "--run=%s", wl);
    snprintf(arg_thr, sizeof arg_thr, "--threads=%d", p->threads);
    char *argv[] = {(char *)exe, arg_run, arg_thr, p->quick ? "--quick" : NULL, NULL};

    /* Environment: ours minus LD_PRELOAD / NUMA_BENCH_EXPECT / a's VARs, plus the new ones. */
    size_t ne = 0;
    while (environ[ne])
        ne++;
    char **envp = xmalloc((ne + 3 + MAX_VARIANT_ENV) * sizeof *envp);
    size_t k = 0;
    for (size_t i = 0; i < ne; i++)
        if (strncmp(environ[i], "LD_PRELOAD=", 11) &&
            strncmp(environ[i], "NUMA_BENCH_EXPECT=", 18) && !env_replaced(a, environ[i]))
            envp[k++] = environ[i];
    for (char *const *v = a->env; *v; v++)
        envp[k++] = *v;
    char env_pre[PATH_MAX + 16], env_exp[PATH_MAX + 32];
    snprintf(env_exp, sizeof env_exp, "NUMA_BENCH_EXPECT=%s", a->path[0] ? a->path : "glibc");
    envp[k++] = env_exp;
    if (a->path[0]) {
        snprintf(env_pre, sizeof env_pre, "LD_PRELOAD=%s", a->path);
        envp[k++] = env_pre;
    }
    envp[k] = NULL;

    int fd[2];
    if (pipe(fd)) {
        perror("numa_bench: pipe");
        exit(2);
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fd[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&fa, fd[0]);
    posix_spawn_file_actions_addclose(&fa, fd[1]);
    pid_t pid;
    int e = posix_spawn(&pid, exe, &fa, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    close(fd[1]);
    free(envp);
    if (e) {
        fprintf(stderr, "numa_bench: posix_spawn %s: %s\n", exe, strerror(e));
        close(fd[0]);
        return -1;
    }

    /* Keep the last 8 KiB of the child's stdout (the RESULT line is last). */
    char out[8192], chunk[4096];
    size_t got = 0;
    ssize_t r;
    while ((r = read(fd[0], chunk, sizeof chunk)) > 0 || (r < 0 && errno == EINTR)) {
        if (r <= 0)
            continue;
        if (got + (size_t)r > sizeof out - 1) {
            size_t drop = got + (size_t)r - (sizeof out - 1);
            drop = drop < got ? drop : got;
            memmove(out, out + drop, got - drop);
            got -= drop;
        }
        memcpy(out + got, chunk, (size_t)r);
        got += (size_t)r;
    }
    out[got] = 0;
    close(fd[0]);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;

    char *res = strstr(out, "RESULT ");
    int ok = WIFEXITED(st) && WEXITSTATUS(st) == 0 && res;
    if (!ok) {
        char cmd[PATH_MAX * 3];
        child_cmdline(cmd, sizeof cmd, a, exe, argv);
        if (WIFSIGNALED(st))
            fprintf(stderr, "\nnuma_bench: FAIL %s/%s: killed by signal %d (%s)\n", a->name, wl,
                    WTERMSIG(st), strsignal(WTERMSIG(st)));
        else
            fprintf(stderr, "\nnuma_bench: FAIL %s/%s: exit status %d%s\n", a->name, wl,
                    WIFEXITED(st) ? WEXITSTATUS(st) : -1, res ? "" : ", no RESULT line");
        fprintf(stderr, "  reproduce: %s\n", cmd);
        if (got)
            fprintf(stderr, "  stdout: %s\n", out);
        return -1;
    }
    char *nl = strchr(res, '\n');
    if (nl)
        *nl = 0;
    snprintf(line, linesz, "%s", res);
    return 0;
}

/* A copy of `v` with every "{dir}" replaced by `dir` (malloc'd). */
static char *expand_dir(const char *v, size_t len, const char *dir)
{
    size_t nd = 0;
    for (const char *q = v; (q = strstr(q, "{dir}")) && q < v + len; q += 5)
        nd++;
    char *out = xmalloc(len + nd * strlen(dir) + 1), *o = out;
    for (const char *q = v; q < v + len;) {
        if (!strncmp(q, "{dir}", 5) && q + 5 <= v + len) {
            o = stpcpy(o, dir);
            q += 5;
        } else {
            *o++ = *q++;
        }
    }
    *o = 0;
    return out;
}

/*
 * --variant=NAME:VAR=VALUE[,VAR=VALUE...]: fills a (name, env; the caller
 * sets the path) and, if a VALUE names {dir}, creates the scratch directory
 * `dir` it stands for (else dir is ""). 0, or -1 after saying why.
 */
static int variant_parse(const char *spec, alloc_t *a, char *dir, size_t dirsz)
{
    const char *colon = strchr(spec, ':');
    if (!colon || colon == spec || !colon[1]) {
        fprintf(stderr, "numa_bench: --variant=NAME:VAR=VALUE[,VAR=VALUE...], not %s\n", spec);
        return -1;
    }
    a->name = strndup(spec, (size_t)(colon - spec));
    dir[0] = 0;
    if (strstr(colon, "{dir}")) {
        const char *tmp = getenv("TMPDIR");
        snprintf(dir, dirsz, "%s/numa_bench-variant.XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(dir)) {
            fprintf(stderr, "numa_bench: cannot create %s: %s\n", dir, strerror(errno));
            return -1;
        }
    }
    int nv = 0;
    for (const char *v = colon + 1; *v;) {
        size_t len = strcspn(v, ",");
        const char *eq = memchr(v, '=', len);
        if (!eq || eq == v || nv == MAX_VARIANT_ENV || !strncmp(v, "LD_PRELOAD=", 11) ||
            !strncmp(v, "NUMA_BENCH_EXPECT=", 18)) {
            fprintf(stderr,
                    "numa_bench: --variant: \"%.*s\": want VAR=VALUE, at most %d, not "
                    "LD_PRELOAD or NUMA_BENCH_EXPECT\n",
                    (int)len, v, MAX_VARIANT_ENV);
            return -1;
        }
        a->env[nv++] = expand_dir(v, len, dir);
        v += len + (v[len] == ',');
    }
    a->env[nv] = NULL;
    return 0;
}

/*
 * Removes the scratch directory of a --variant and the files its children
 * wrote there, counting them (files -1 if there is no directory).
 */
static void scratch_remove(const char *dir, long *files, double *mib)
{
    *files = -1;
    *mib = 0;
    if (!dir[0])
        return;
    DIR *d = opendir(dir);
    *files = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        char f[PATH_MAX];
        struct stat st;
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(f, sizeof f, "%s/%s", dir, e->d_name);
        if (!stat(f, &st))
            *mib += (double)st.st_size / (1 << 20);
        (*files)++;
        unlink(f);
    }
    if (d)
        closedir(d);
    if (rmdir(dir))
        fprintf(stderr, "numa_bench: cannot remove %s: %s\n", dir, strerror(errno));
}

int runner_main(int argc, char **argv, const params_t *p, int reps, const char *lib,
                const char *before, const char *variant, const char *out, const char *only,
                const char *data, const char *chart)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        perror("numa_bench: readlink /proc/self/exe");
        return 2;
    }
    exe[n] = 0;

    static alloc_t al[MAX_ALLOCS]; /* static: zeroed, every env empty */
    int na = 0;
    al[na++] = (alloc_t){.name = "glibc"};
    static const struct {
        const char *name, *file; /* file: in the peer directory; NULL: --lib */
        int required;
    } known[] = {
        {"jemalloc", "libjemalloc.so.2", 1},
        {"numa-alloc", NULL, 1},
        {"mimalloc", "libmimalloc.so.2", 0},
        {"tcmalloc", "libtcmalloc_minimal.so.4", 0},
    };
    const char *peer_dir = getenv("NUMA_BENCH_PEER_DIR");
    if (!peer_dir || !*peer_dir)
        peer_dir = PEER_DIR_DEFAULT;
    int numa_idx = -1, jem_idx = -1, mim_idx = -1;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        char peer[PATH_MAX];
        snprintf(peer, sizeof peer, "%s/%s", peer_dir, known[i].file ? known[i].file : "");
        const char *path = known[i].file ? peer : lib;
        if (!file_exists(path)) {
            /* jemalloc is only required for real measurements. */
            if (known[i].required && (!known[i].file || !p->quick)) {
                fprintf(stderr, "numa_bench: %s library not found at %s%s\n", known[i].name, path,
                        known[i].file ? " (set NUMA_BENCH_PEER_DIR=DIR or pass --quick)"
                                      : " (build the numapreload target or pass --lib=PATH)");
                return 2;
            }
            fprintf(stderr, "numa_bench: note: %s not found at %s, column skipped\n", known[i].name,
                    path);
            continue;
        }
        alloc_t *a = &al[na];
        a->name = known[i].name;
        if (!realpath(path, a->path))
            snprintf(a->path, sizeof a->path, "%s", path);
        if (!strcmp(a->name, "numa-alloc"))
            numa_idx = na;
        if (!strcmp(a->name, "jemalloc"))
            jem_idx = na;
        if (!strcmp(a->name, "mimalloc"))
            mim_idx = na;
        na++;
    }
    int before_idx = -1;
    if (before) {
        if (!file_exists(before)) {
            fprintf(stderr, "numa_bench: --before library not found at %s\n", before);
            return 2;
        }
        alloc_t *a = &al[na];
        a->name = "numa-alloc-before";
        if (!realpath(before, a->path))
            snprintf(a->path, sizeof a->path, "%s", before);
        before_idx = na++;
    }
    int variant_idx = -1;
    char scratch[PATH_MAX] = "";
    if (variant) {
        if (variant_parse(variant, &al[na], scratch, sizeof scratch)) {
            if (scratch[0])
                rmdir(scratch);
            return 2;
        }
        memcpy(al[na].path, al[numa_idx].path, sizeof al[na].path);
        variant_idx = na++;
    }

    /* Workload list (display names), optionally filtered by --workloads. */
    char names[NWORKLOADS][64];
    const char *wl[NWORKLOADS];
    int nw = 0, want_cn = !only;
    if (only && strstr(only, CURRENT_NODE))
        want_cn = 1;
    for (size_t i = 0; i < NWORKLOADS; i++) {
        workload_name(&workloads[i], p->threads, names[nw], sizeof names[nw]);
        if (only) {
            /* match whole comma-separated items */
            char tmp[1024];
            snprintf(tmp, sizeof tmp, ",%s,", only);
            char key[80];
            snprintf(key, sizeof key, ",%s,", names[nw]);
            if (!strstr(tmp, key))
                continue;
        }
        wl[nw] = names[nw];
        nw++;
    }
    if (!nw && !want_cn) {
        fprintf(stderr, "numa_bench: --workloads matched nothing\n");
        if (scratch[0])
            rmdir(scratch);
        return 2;
    }

    static cell_t cells[NWORKLOADS][MAX_ALLOCS];
    static cell_t cn;
    memset(cells, 0, sizeof cells);
    memset(&cn, 0, sizeof cn);
    int failures = 0;
    char line[1024];
    int tty = isatty(STDERR_FILENO);
    double load_before = loadavg1();

    for (int r = 0; r < reps; r++) {
        if (!tty)
            fprintf(stderr, "numa_bench: rep %d/%d\n", r + 1, reps);
        for (int w = 0; w < nw; w++) {
            for (int a = 0; a < na; a++) {
                if (tty)
                    fprintf(stderr, "\r[rep %d/%d] %-20s %-12s", r + 1, reps, wl[w], al[a].name);
                cell_t *c = &cells[w][a];
                if (c->failed)
                    continue;
                if (run_child(exe, &al[a], wl[w], p, line, sizeof line)) {
                    c->failed = 1;
                    failures++;
                    continue;
                }
                c->ns[c->n] = field(line, "ns_per_op");
                c->rss_kib[c->n] = field(line, "maxrss_kib");
                c->extra1[c->n] = field(line, "cpu_ns"); /* prog-* only */
                c->n++;
            }
        }
        if (want_cn && !cn.failed) {
            if (tty)
                fprintf(stderr, "\r[rep %d/%d] %-20s %-12s", r + 1, reps, CURRENT_NODE, "glibc");
            if (run_child(exe, &al[0], CURRENT_NODE, p, line, sizeof line)) {
                cn.failed = 1;
                failures++;
            } else {
                cn.ns[cn.n] = field(line, "ns_per_op");
                cn.extra1[cn.n] = field(line, "rseq_ns");
                cn.extra2[cn.n] = field(line, "syscall_ns");
                cn.n++;
            }
        }
    }
    if (tty)
        fprintf(stderr, "\r%60s\r", "");

    static medians_t m;
    m = (medians_t){.al = al,
                    .na = na,
                    .numa = numa_idx,
                    .jem = jem_idx,
                    .mim = mim_idx,
                    .before = before_idx,
                    .variant = variant_idx,
                    .wl = wl,
                    .nw = nw};
    scratch_remove(scratch, &m.variant_files, &m.variant_mib);
    medians_fill(&m, cells);
    char *md = report_markdown(load_before, &m, cells, want_cn ? &cn : NULL, p, reps, argc, argv);
    fputs(md, stdout);
    if (out) {
        FILE *f = fopen(out, "w");
        if (!f || fputs(md, f) < 0 || fclose(f)) {
            fprintf(stderr, "numa_bench: cannot write %s: %s\n", out, strerror(errno));
            free(md);
            return 2;
        }
    }
    free(md);
    char tmp_data[PATH_MAX] = "";
    if (chart && !data) { /* the chart needs a data file: a temporary one */
        const char *tmp = getenv("TMPDIR");
        snprintf(tmp_data, sizeof tmp_data, "%s/numa_bench-data.XXXXXX",
                 tmp && *tmp ? tmp : "/tmp");
        int fd = mkstemp(tmp_data);
        if (fd < 0) {
            fprintf(stderr, "numa_bench: cannot create %s: %s\n", tmp_data, strerror(errno));
            return 2;
        }
        close(fd);
        data = tmp_data;
    }
    if (data && write_data(data, &m)) {
        if (tmp_data[0])
            unlink(tmp_data);
        return 2;
    }
    if (chart) {
        int bad = make_chart(chart, data, &m, p, reps);
        if (tmp_data[0])
            unlink(tmp_data);
        if (bad)
            return 2;
    }
    if (failures) {
        fprintf(stderr, "numa_bench: %d run%s FAILED (see above)\n", failures,
                failures == 1 ? "" : "s");
        return 1;
    }
    return 0;
}
