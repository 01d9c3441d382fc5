/*
 * report.c - turns the runner's measurements into what a reader sees: the
 * medians over the reps, the markdown report (time tables with ratios to
 * glibc, jemalloc, mimalloc and the best peer, geometric means, peak RSS,
 * every allocator by issue 17's yardstick,
 * run-to-run spread, the allocators, current-node, the machine and the
 * command), the --data file (tab-separated medians) and the --chart (a PNG
 * drawn by gnuplot from the --data file).
 */
#define _GNU_SOURCE
#include "bench.h"

#include <errno.h>
#include <gnu/libc-version.h>
#include <math.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(const double *v, int n)
{
    if (n <= 0)
        return NAN;
    double tmp[MAX_REPS];
    memcpy(tmp, v, sizeof(double) * (size_t)n);
    qsort(tmp, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2;
}

/*
 * The report as it grows: buf holds len bytes of text and a NUL in cap bytes;
 * {0} is empty (buf is NULL until the first sb_printf).
 */
typedef struct {
    char *buf;
    size_t len, cap;
} sbuf_t;

__attribute__((format(printf, 2, 3))) static void sb_printf(sbuf_t *s, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(s->buf + s->len, s->cap - s->len, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if (s->len + (size_t)n < s->cap) {
            s->len += (size_t)n;
            return;
        }
        s->cap = (s->cap + (size_t)n + 1) * 2;
        s->buf = realloc(s->buf, s->cap);
        if (!s->buf)
            exit(2);
    }
}

static void fmt_ns(char *b, size_t n, double v)
{
    if (isnan(v))
        snprintf(b, n, "FAIL");
    else if (v < 10)
        snprintf(b, n, "%.2f", v);
    else if (v < 1000)
        snprintf(b, n, "%.1f", v);
    else
        snprintf(b, n, "%.0f", v);
}

static void read_cpu_model(char *buf, size_t n)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];
    snprintf(buf, n, "unknown");
    if (!f)
        return;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0) {
            char *c = strchr(line, ':');
            if (c) {
                c++;
                while (*c == ' ' || *c == '\t')
                    c++;
                c[strcspn(c, "\n")] = 0;
                snprintf(buf, n, "%s", c);
            }
            break;
        }
    }
    fclose(f);
}

static int count_numa_nodes(void)
{
    int n = 0;
    char p[64];
    for (int i = 0; i < 1024; i++) {
        snprintf(p, sizeof p, "/sys/devices/system/node/node%d", i);
        if (access(p, F_OK) == 0)
            n++;
    }
    return n;
}

double loadavg1(void)
{
    double l[1];
    return getloadavg(l, 1) == 1 ? l[0] : NAN;
}

static int is_prog_name(const char *name)
{
    return strncmp(name, "prog-", 5) == 0;
}

/* The peers: every allocator but glibc and numa-alloc, now, before or a variant (jemalloc,
 * mimalloc, tcmalloc). */
static int is_peer(const medians_t *m, int a)
{
    return a != 0 && a != m->numa && a != m->before && a != m->variant;
}

/* The peer with the lowest peak RSS on workload w, or -1. */
static int leanest_peer(const medians_t *m, int w)
{
    int best = -1;
    for (int a = 0; a < m->na; a++)
        if (is_peer(m, a) && !isnan(m->rss[w][a]) && (best < 0 || m->rss[w][a] < m->rss[w][best]))
            best = a;
    return best;
}

void medians_fill(medians_t *m, cell_t cells[][MAX_ALLOCS])
{
    for (int w = 0; w < m->nw; w++) {
        m->best[w] = -1;
        for (int a = 0; a < m->na; a++) {
            const cell_t *c = &cells[w][a];
            int bad = c->failed || c->n == 0;
            m->med[w][a] = bad ? NAN : median(c->ns, c->n);
            m->cpu[w][a] = bad ? NAN : median(c->extra1, c->n);
            m->rss[w][a] = bad ? NAN : median(c->rss_kib, c->n) / 1024.0;
            if (is_peer(m, a) && !isnan(m->med[w][a]) &&
                (m->best[w] < 0 || m->med[w][a] < m->med[w][m->best[w]]))
                m->best[w] = a;
        }
    }
}

/* numa-alloc's time (or CPU time, or RSS) over allocator b's; NAN if either is missing. */
static double ratio(const double *v, int numa, int b)
{
    return numa < 0 || b < 0 ? NAN : v[numa] / v[b];
}

/* Sums of log(ratio) for geometric means. */
enum { G_GLIBC, G_JEM, G_MIM, G_BEST, G_RSS_JEM, G_RSS_GLIBC, G_RSS_LEANEST, G_KINDS };

typedef struct {
    double sum[G_KINDS];
    int n[G_KINDS];
} geo_t;

static void geo_add(geo_t *g, int k, double r)
{
    if (!isnan(r) && r > 0) {
        g->sum[k] += log(r);
        g->n[k]++;
    }
}

static void geo_print(sbuf_t *s, const geo_t *g, int k)
{
    if (g->n[k])
        sb_printf(s, "%.3f", exp(g->sum[k] / g->n[k]));
    else
        sb_printf(s, "-");
}

static void geo_line(sbuf_t *s, const char *one, const char *many, const geo_t *g)
{
    static const char *const label[] = {"numa-alloc/glibc", "numa-alloc/jemalloc",
                                        "numa-alloc/mimalloc", "numa-alloc/best peer"};
    sb_printf(s, "Geometric mean of the time ratios over %d %s: ", g->n[G_GLIBC],
              g->n[G_GLIBC] == 1 ? one : many);
    for (int k = G_GLIBC; k <= G_BEST; k++) {
        sb_printf(s, "%s%s = ", k ? ", " : "", label[k]);
        geo_print(s, g, k);
    }
    sb_printf(s, ".\n\n");
}

static void ratio_cell(sbuf_t *s, double r)
{
    if (isnan(r))
        sb_printf(s, " - |");
    else
        sb_printf(s, " %.2f |", r);
}

/*
 * One results table: the allocator workloads (prog = 0, ns/op) or the real
 * programs (prog = 1, ms per run, plus CPU-time ratios).
 */
static void report_table(sbuf_t *s, const medians_t *m, int prog, geo_t *g)
{
    char b[64];
    sb_printf(s, "| %s |", prog ? "program" : "workload");
    for (int a = 0; a < m->na; a++)
        sb_printf(s, " %s %s |", m->al[a].name, prog ? "ms/run" : "ns/op");
    sb_printf(s, " numa-alloc/glibc | numa-alloc/jemalloc | numa-alloc/mimalloc | best peer | "
                 "numa-alloc/best peer |");
    if (prog)
        sb_printf(s, " CPU numa-alloc/glibc | CPU numa-alloc/jemalloc |");
    sb_printf(s, "\n|---|");
    for (int a = 0; a < m->na + 5 + 2 * prog; a++)
        sb_printf(s, "%s|", a == m->na + 3 ? "---" : "---:");
    sb_printf(s, "\n");

    for (int w = 0; w < m->nw; w++) {
        if (is_prog_name(m->wl[w]) != prog)
            continue;
        const double *med = m->med[w];
        sb_printf(s, "| %s |", m->wl[w]);
        for (int a = 0; a < m->na; a++) {
            fmt_ns(b, sizeof b, prog ? med[a] / 1e6 : med[a]);
            sb_printf(s, " %s |", b);
        }
        double r[4] = {ratio(med, m->numa, 0), ratio(med, m->numa, m->jem),
                       ratio(med, m->numa, m->mim), ratio(med, m->numa, m->best[w])};
        for (int k = 0; k < 4; k++) {
            geo_add(g, k, r[k]);
            if (k == G_BEST)
                sb_printf(s, " %s |", m->best[w] >= 0 ? m->al[m->best[w]].name : "-");
            ratio_cell(s, r[k]);
        }
        geo_add(g, G_RSS_JEM, ratio(m->rss[w], m->numa, m->jem));
        geo_add(g, G_RSS_GLIBC, ratio(m->rss[w], m->numa, 0));
        geo_add(g, G_RSS_LEANEST, ratio(m->rss[w], m->numa, leanest_peer(m, w)));
        if (prog) {
            ratio_cell(s, ratio(m->cpu[w], m->numa, 0));
            ratio_cell(s, ratio(m->cpu[w], m->numa, m->jem));
        }
        sb_printf(s, "\n");
    }
}

/* Peak RSS of every workload (both tables), MiB. */
static void report_rss(sbuf_t *s, const medians_t *m)
{
    sb_printf(s, "| workload |");
    for (int a = 0; a < m->na; a++)
        sb_printf(s, " %s |", m->al[a].name);
    sb_printf(s, " numa-alloc/jemalloc | numa-alloc/glibc | leanest peer | numa-alloc/leanest peer "
                 "|\n|---|");
    for (int a = 0; a < m->na + 4; a++)
        sb_printf(s, "%s|", a == m->na + 2 ? "---" : "---:");
    sb_printf(s, "\n");
    for (int w = 0; w < m->nw; w++) {
        sb_printf(s, "| %s |", m->wl[w]);
        for (int a = 0; a < m->na; a++) {
            if (isnan(m->rss[w][a]))
                sb_printf(s, " FAIL |");
            else
                sb_printf(s, " %.1f |", m->rss[w][a]);
        }
        int lean = leanest_peer(m, w);
        ratio_cell(s, ratio(m->rss[w], m->numa, m->jem));
        ratio_cell(s, ratio(m->rss[w], m->numa, 0));
        sb_printf(s, " %s |", lean >= 0 ? m->al[lean].name : "-");
        ratio_cell(s, ratio(m->rss[w], m->numa, lean));
        sb_printf(s, "\n");
    }
}

/*
 * Issue 17's goals held against every allocator, not numa-alloc alone: each
 * of numa-alloc and the peers over the fastest (and the leanest) of the
 * others in that set. Whether a goal is a bar numa-alloc misses or one that
 * no allocator here clears is the owner's question when it is not met; this
 * table answers it from the same run. glibc is the RSS goal's reference
 * only (it is no peer: issue 17 names the three).
 */
static void report_yardstick(sbuf_t *s, const medians_t *m)
{
    int who[MAX_ALLOCS], n = 0;
    for (int a = 0; a < m->na; a++)
        if (a == m->numa || is_peer(m, a))
            who[n++] = a;
    if (n < 2)
        return;
    sb_printf(s, "Every allocator by issue 17's yardstick: its time over the fastest of the "
                 "others in this table, on the allocator workloads (goal for numa-alloc: "
                 "geometric mean <= 0.95, none above 1.10); its peak RSS over glibc's (goal: "
                 "<= 1.0) and over the leanest of the others (goal: none above 1.3), on all "
                 "workloads:\n\n");
    sb_printf(s, "| allocator | time over the fastest other | workloads above 1.10 | peak RSS "
                 "over glibc | workloads above 1.3 of the leanest other |\n"
                 "|---|---:|---:|---:|---:|\n");
    for (int i = 0; i < n; i++) {
        int a = who[i], slow = 0, fat = 0;
        double tsum = 0, rsum = 0;
        int tn = 0, rn = 0;
        for (int w = 0; w < m->nw; w++) {
            int fast = -1, lean = -1;
            for (int j = 0; j < n; j++) {
                int b = who[j];
                if (b == a)
                    continue;
                if (!isnan(m->med[w][b]) && (fast < 0 || m->med[w][b] < m->med[w][fast]))
                    fast = b;
                if (!isnan(m->rss[w][b]) && (lean < 0 || m->rss[w][b] < m->rss[w][lean]))
                    lean = b;
            }
            double t = ratio(m->med[w], a, fast), r = ratio(m->rss[w], a, lean),
                   g = ratio(m->rss[w], a, 0);
            if (!is_prog_name(m->wl[w]) && !isnan(t) && t > 0) {
                tsum += log(t);
                tn++;
                slow += t > 1.10;
            }
            if (!isnan(g) && g > 0) {
                rsum += log(g);
                rn++;
            }
            fat += !isnan(r) && r > 1.3;
        }
        sb_printf(s, "| %s |", m->al[a].name);
        if (tn)
            sb_printf(s, " %.3f (%d) | %d |", exp(tsum / tn), tn, slow);
        else
            sb_printf(s, " - | - |");
        if (rn)
            sb_printf(s, " %.3f (%d) | %d |\n", exp(rsum / rn), rn, fat);
        else
            sb_printf(s, " - | %d |\n", fat);
    }
    sb_printf(s, "\n");
}

/*
 * Two numa-alloc columns against each other, per workload (time, peak RSS and,
 * for the prog-* rows, whose times are ms per run, CPU time: `now` over `base`,
 * labelled as such), with
 * the geometric means: the same interleaved reps, so both saw the same load.
 * The caller writes the paragraph that introduces the table.
 */
static void report_versus(sbuf_t *s, const medians_t *m, int now, int base, const char *now_l,
                          const char *base_l)
{
    char b1[64], b2[64];
    geo_t g = {0};
    int nprog = 0;
    for (int w = 0; w < m->nw; w++)
        nprog += is_prog_name(m->wl[w]);
    sb_printf(s,
              "| workload | %s ns/op | %s ns/op | time %s/%s | %s MiB | %s MiB "
              "| peak RSS %s/%s |",
              base_l, now_l, now_l, base_l, base_l, now_l, now_l, base_l);
    if (nprog)
        sb_printf(s, " CPU time %s/%s |", now_l, base_l);
    sb_printf(s, "\n|---|---:|---:|---:|---:|---:|---:|%s\n", nprog ? "---:|" : "");
    for (int w = 0; w < m->nw; w++) {
        const double *med = m->med[w];
        int prog = is_prog_name(m->wl[w]);
        fmt_ns(b1, sizeof b1, prog ? med[base] / 1e6 : med[base]);
        fmt_ns(b2, sizeof b2, prog ? med[now] / 1e6 : med[now]);
        sb_printf(s, "| %s | %s%s | %s%s |", m->wl[w], b1, prog ? " ms" : "", b2,
                  prog ? " ms" : "");
        double t = ratio(med, now, base), r = ratio(m->rss[w], now, base);
        geo_add(&g, G_GLIBC, t);
        geo_add(&g, G_RSS_GLIBC, r);
        ratio_cell(s, t);
        sb_printf(s, " %.1f | %.1f |", m->rss[w][base], m->rss[w][now]);
        ratio_cell(s, r);
        if (nprog)
            ratio_cell(s, prog ? ratio(m->cpu[w], now, base) : NAN);
        sb_printf(s, "\n");
    }
    sb_printf(s, "\nGeometric mean over %d workload%s, %s/%s: time ", g.n[G_GLIBC],
              g.n[G_GLIBC] == 1 ? "" : "s", now_l, base_l);
    geo_print(s, &g, G_GLIBC);
    sb_printf(s, ", peak RSS ");
    geo_print(s, &g, G_RSS_GLIBC);
    sb_printf(s, ".\n\n");
}

/* --before: the older numa-alloc against the current one. */
static void report_before(sbuf_t *s, const medians_t *m)
{
    sb_printf(s,
              "Before and after: numa-alloc (%s) against numa-alloc-before (%s), in the same "
              "runs (median; ratios are after over before, below 1: the current library is "
              "faster or smaller):\n\n",
              m->al[m->numa].path, m->al[m->before].path);
    report_versus(s, m, m->numa, m->before, "after", "before");
}

/* --variant: numa-alloc with more environment against numa-alloc. */
static void report_variant(sbuf_t *s, const medians_t *m)
{
    const alloc_t *v = &m->al[m->variant];
    sb_printf(s, "Variant: %s (numa-alloc with", v->name);
    for (char *const *e = v->env; *e; e++)
        sb_printf(s, " `%s`", *e);
    sb_printf(s,
              ") against numa-alloc, the same library in the same runs (median; ratios are "
              "%s over numa-alloc, above 1: the variant is slower or larger)",
              v->name);
    if (m->variant_files >= 0)
        sb_printf(s, "; its children wrote %ld file%s, %.1f MiB, in {dir} (removed since)",
                  m->variant_files, m->variant_files == 1 ? "" : "s", m->variant_mib);
    sb_printf(s, ":\n\n");
    report_versus(s, m, m->variant, m->numa, v->name, "numa-alloc");
}

/* "jemalloc, mimalloc and tcmalloc": the peers present. */
static void peer_list(sbuf_t *s, const medians_t *m)
{
    int np = 0, k = 0;
    for (int a = 0; a < m->na; a++)
        np += is_peer(m, a);
    for (int a = 0; a < m->na; a++)
        if (is_peer(m, a)) {
            k++;
            sb_printf(s, "%s%s", k == 1 ? "" : k == np ? " and " : ", ", m->al[a].name);
        }
    if (!np)
        sb_printf(s, "(none present)");
}

static void report(sbuf_t *s, double load_before, const medians_t *m, cell_t cells[][MAX_ALLOCS],
                   const cell_t *cn, const params_t *p, int reps, int argc, char **argv)
{
    sb_printf(s,
              "Median of %d run%s; ns per operation (lower is better); each cell is a "
              "fresh process with the allocator in LD_PRELOAD. Multi-thread workloads "
              "use %d thread%s. Ratios are numa-alloc's time over the other allocator's "
              "(below 1: numa-alloc is faster); the best peer is the fastest of ",
              reps, reps == 1 ? "" : "s", p->threads, p->threads == 1 ? "" : "s");
    peer_list(s, m);
    sb_printf(s, " on that workload.\n\n");
    geo_t gm = {0}, gp = {0};
    int nmicro = 0, nprog = 0;
    for (int w = 0; w < m->nw; w++)
        is_prog_name(m->wl[w]) ? nprog++ : nmicro++;
    if (nmicro)
        report_table(s, m, 0, &gm);
    if (nprog) {
        sb_printf(s,
                  "%sReal programs, run as subprocesses of a child with the allocator in "
                  "LD_PRELOAD (the program is checked to have it mapped, and its output must "
                  "be the expected one). Median of %d run%s; milliseconds of wall time per run "
                  "of the program (for prog-git: the sum over its commands); the CPU columns "
                  "compare user + system CPU time instead, which the load of the machine "
                  "disturbs less.\n\n",
                  nmicro ? "\n" : "", reps, reps == 1 ? "" : "s");
        report_table(s, m, 1, &gp);
    }
    sb_printf(s, "\n");
    if (nmicro)
        geo_line(s, "allocator workload", "allocator workloads", &gm);
    if (nprog)
        geo_line(s, "program", "programs", &gp);
    geo_t ga = gm;
    for (int k = 0; k < G_KINDS; k++) {
        ga.sum[k] += gp.sum[k];
        ga.n[k] += gp.n[k];
    }
    if (nmicro && nprog)
        geo_line(s, "workload", "workloads (both tables)", &ga);
    sb_printf(s, "(Below 1 means numa-alloc is faster.)\n\n");

    sb_printf(s,
              "Peak RSS in MiB, median of %d run%s (ru_maxrss of the child; prog-*: of the "
              "program, for prog-git the largest of its commands):\n\n",
              reps, reps == 1 ? "" : "s");
    report_rss(s, m);
    sb_printf(s,
              "\nGeometric mean of the peak RSS ratios over %d workload%s: numa-alloc/jemalloc = ",
              ga.n[G_RSS_JEM], ga.n[G_RSS_JEM] == 1 ? "" : "s");
    geo_print(s, &ga, G_RSS_JEM);
    sb_printf(s, ", numa-alloc/glibc = ");
    geo_print(s, &ga, G_RSS_GLIBC);
    sb_printf(s, ", numa-alloc/leanest peer = ");
    geo_print(s, &ga, G_RSS_LEANEST);
    sb_printf(s, ".\n\n");
    report_yardstick(s, m);
    if (m->before >= 0)
        report_before(s, m);
    if (m->variant >= 0)
        report_variant(s, m);

    if (reps > 1) {
        sb_printf(s,
                  "Run-to-run spread of the time, (max - min) / median over the %d runs, in "
                  "%%:\n\n| workload |",
                  reps);
        for (int a = 0; a < m->na; a++)
            sb_printf(s, " %s |", m->al[a].name);
        sb_printf(s, "\n|---|");
        for (int a = 0; a < m->na; a++)
            sb_printf(s, "---:|");
        sb_printf(s, "\n");
        for (int w = 0; w < m->nw; w++) {
            sb_printf(s, "| %s |", m->wl[w]);
            for (int a = 0; a < m->na; a++) {
                const cell_t *c = &cells[w][a];
                double lo = INFINITY, hi = 0;
                for (int i = 0; i < c->n; i++) {
                    lo = fmin(lo, c->ns[i]);
                    hi = fmax(hi, c->ns[i]);
                }
                if (c->failed || c->n == 0)
                    sb_printf(s, " FAIL |");
                else
                    sb_printf(s, " %.0f |", 100.0 * (hi - lo) / median(c->ns, c->n));
            }
            sb_printf(s, "\n");
        }
        sb_printf(s, "\n");
    }

    sb_printf(s, "Allocators:\n\n");
    for (int a = 0; a < m->na; a++) {
        sb_printf(s, "- %s: %s", m->al[a].name,
                  m->al[a].path[0] ? m->al[a].path : "glibc malloc (no LD_PRELOAD)");
        for (char *const *e = m->al[a].env; *e; e++)
            sb_printf(s, "%s%s", e == m->al[a].env ? ", with " : " ", *e);
        sb_printf(s, "\n");
    }

    if (cn) {
        sb_printf(s, "\nCurrent-node lookup (informational, glibc, no preload, median of %d):\n\n",
                  cn->n);
        if (cn->failed) {
            sb_printf(s, "- FAIL\n");
        } else {
            double rs = median(cn->extra1, cn->n);
            sb_printf(s, "| method | ns/call |\n|---|---:|\n");
            sb_printf(s, "| sched_getcpu() | %.2f |\n", median(cn->ns, cn->n));
            if (rs >= 0)
                sb_printf(s, "| rseq cpu_id load (__rseq_offset) | %.2f |\n", rs);
            else
                sb_printf(s, "| rseq cpu_id load (__rseq_offset) | n/a (rseq not registered) |\n");
            sb_printf(s, "| syscall(SYS_getcpu) | %.1f |\n", median(cn->extra2, cn->n));
        }
    }

    struct utsname u;
    uname(&u);
    char cpu[256];
    read_cpu_model(cpu, sizeof cpu);
    sb_printf(s,
              "\nMachine: %ld CPUs online, CPU \"%s\", %d NUMA node%s, kernel %s %s, glibc %s; "
              "1-min load average %.2f before the runs, %.2f after.\n",
              sysconf(_SC_NPROCESSORS_ONLN), cpu, count_numa_nodes(),
              count_numa_nodes() == 1 ? "" : "s", u.sysname, u.release, gnu_get_libc_version(),
              load_before, loadavg1());
    sb_printf(s, "\nCommand:\n\n    ");
    for (int i = 0; i < argc; i++)
        sb_printf(s, "%s%s", i ? " " : "", argv[i]);
    sb_printf(s, "\n");
}

char *report_markdown(double load_before, const medians_t *m, cell_t cells[][MAX_ALLOCS],
                      const cell_t *cn, const params_t *p, int reps, int argc, char **argv)
{
    sbuf_t s = {0};
    report(&s, load_before, m, cells, cn, p, reps, argc, argv);
    return s.buf;
}

/* ---- --data (tab-separated medians) and --chart (PNG via gnuplot) ---- */

static void tsv_num(FILE *f, double v, int decimals)
{
    fputc('\t', f);
    if (isnan(v))
        fputc('-', f);
    else
        fprintf(f, "%.*f", decimals, v);
}

/*
 * One line per workload: workload, unit, then per allocator (in the order of
 * the report) the median time, the time over glibc's, then the best peer's
 * name, then per allocator the time over the best peer's, then per allocator
 * the peak RSS in MiB. "-" marks a missing value.
 */
int write_data(const char *path, const medians_t *m)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "numa_bench: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    fprintf(f, "workload\tunit");
    for (int a = 0; a < m->na; a++)
        fprintf(f, "\t%s ns", m->al[a].name);
    for (int a = 0; a < m->na; a++)
        fprintf(f, "\t%s/glibc", m->al[a].name);
    fprintf(f, "\tbest peer");
    for (int a = 0; a < m->na; a++)
        fprintf(f, "\t%s/best peer", m->al[a].name);
    for (int a = 0; a < m->na; a++)
        fprintf(f, "\t%s peak RSS MiB", m->al[a].name);
    fprintf(f, "\n");
    for (int w = 0; w < m->nw; w++) {
        const double *med = m->med[w];
        fprintf(f, "%s\t%s", m->wl[w], is_prog_name(m->wl[w]) ? "ns/run" : "ns/op");
        for (int a = 0; a < m->na; a++)
            tsv_num(f, med[a], 3);
        for (int a = 0; a < m->na; a++)
            tsv_num(f, med[a] / med[0], 4);
        fprintf(f, "\t%s", m->best[w] >= 0 ? m->al[m->best[w]].name : "-");
        for (int a = 0; a < m->na; a++)
            tsv_num(f, m->best[w] >= 0 ? med[a] / med[m->best[w]] : NAN, 4);
        for (int a = 0; a < m->na; a++)
            tsv_num(f, m->rss[w][a], 3); /* KiB: tests/test_bench_yardstick.sh */
        fprintf(f, "\n");
    }
    if (fclose(f)) {
        fprintf(stderr, "numa_bench: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

/*
 * Draws the --data file `data` as a PNG bar chart with gnuplot: per
 * workload, one bar per allocator but glibc, its time relative to glibc's
 * (log scale; glibc is the dashed line at 1).
 */
int make_chart(const char *png, const char *data, const medians_t *m, const params_t *p, int reps)
{
    if (strchr(png, '\'') || strchr(data, '\'')) {
        fprintf(stderr, "numa_bench: --chart/--data paths must not contain a quote\n");
        return -1;
    }
    const char *tmp = getenv("TMPDIR");
    char script[PATH_MAX];
    snprintf(script, sizeof script, "%s/numa_bench-chart.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    int fd = mkstemp(script);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        fprintf(stderr, "numa_bench: cannot create %s: %s\n", script, strerror(errno));
        return -1;
    }
    fprintf(f,
            "set terminal pngcairo size %d,640 font 'sans,10'\n"
            "set output '%s'\n"
            "set datafile separator '\\t'\n"
            "set datafile missing '-'\n"
            "set datafile columnheaders\n"
            "set title 'numa\\_bench: time relative to glibc (lower is better), median of %d "
            "run%s, %d thread%s%s'\n"
            "set ylabel 'time / glibc time (log scale)'\n"
            "set logscale y\n"
            "set grid ytics mytics\n"
            "set style data histograms\n"
            "set style histogram clustered gap 1\n"
            "set style fill solid 0.85 border -1\n"
            "set boxwidth 0.9\n"
            "set xtics rotate by -35 left nomirror\n"
            "set key top left horizontal\n"
            "set bmargin 8\n"
            "set arrow from graph 0, first 1 to graph 1, first 1 nohead dt 2 lw 1.5 lc 'black'\n"
            "plot NaN with lines dt 2 lw 1.5 lc 'black' title 'glibc = 1', \\\n     ",
            m->nw < 8 ? 1040 : 320 + 90 * m->nw, png, reps, reps == 1 ? "" : "s", p->threads,
            p->threads == 1 ? "" : "s", p->quick ? " (--quick: smoke test)" : "");
    for (int a = 1; a < m->na; a++) /* a/glibc is column 3 + na + a (1-based) */
        fprintf(f, "%s'%s' using %d%s title '%s'", a > 1 ? ", \\\n     " : "", data, 3 + m->na + a,
                a == 1 ? ":xtic(1)" : "", m->al[a].name);
    fprintf(f, "\n");
    if (fclose(f)) {
        fprintf(stderr, "numa_bench: cannot write %s: %s\n", script, strerror(errno));
        unlink(script);
        return -1;
    }
    char *argv[] = {"gnuplot", script, NULL};
    pid_t pid;
    int st, e = posix_spawnp(&pid, "gnuplot", NULL, NULL, argv, environ);
    if (e) {
        fprintf(stderr,
                "numa_bench: cannot run gnuplot: %s (Debian package gnuplot-nox, see "
                "tools/packages.txt)\n",
                strerror(e));
        unlink(script);
        return -1;
    }
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "numa_bench: gnuplot failed; script kept: %s\n", script);
        return -1;
    }
    unlink(script);
    fprintf(stderr, "numa_bench: chart written to %s\n", png);
    return 0;
}
