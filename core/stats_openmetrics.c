/*
 * stats_openmetrics.c - the OpenMetrics form of the statistics; see
 * stats_openmetrics.h and docs/stats.md, "OpenMetrics".
 *
 * Written here, by the library, rather than converted from the JSON by the
 * launcher: the exit file (NUMA_ALLOC_STATS_FORMAT=openmetrics) then needs no
 * tool at all, which is what node_exporter's textfile collector and scrape
 * scripts want; the launcher only merges the families of several processes
 * (numa-alloc stat --all), and needs no JSON parser (no python or jq) for it.
 */
#define _GNU_SOURCE
#include "core/stats_openmetrics.h"

#include "base/lock.h"
#include "base/os.h"
#include "base/report.h"
#include "base/textbuf.h"
#include "base/vdso.h"
#include "core/alloc.h"
#include "core/layout.h"
#include "core/stats.h"
#include "policy/topology.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/*
 * One family of per-node samples: its name (without "_total"), type, unit
 * ("" for none), help, and where its value lies in struct node_stats; for
 * the values the JSON derives (live bytes, local allocations), `minus` is
 * subtracted.
 */
struct family {
    const char *name, *type, *unit, *help;
    size_t offset, minus;
};

#define AT(field) offsetof(struct node_stats, field)
#define NONE      ((size_t)-1)
#define COUNTER   "counter"
#define GAUGE     "gauge"
#define BYTES     "bytes"

static const struct family families[] = {
    {"numa_alloc_allocations", COUNTER, "", "Blocks handed out from the node's heap, all sizes.",
     AT(counts.allocs), NONE},
    {"numa_alloc_frees", COUNTER, "", "Blocks of the node's heap given back.", AT(counts.frees),
     NONE},
    {"numa_alloc_allocated_bytes", COUNTER, BYTES,
     "Bytes handed out (small blocks at their class size).", AT(counts.bytes_allocated), NONE},
    {"numa_alloc_freed_bytes", COUNTER, BYTES, "Bytes given back.", AT(counts.bytes_freed), NONE},
    {"numa_alloc_live_bytes", GAUGE, BYTES, "Bytes allocated and not freed.",
     AT(counts.bytes_allocated), AT(counts.bytes_freed)},
    {"numa_alloc_local_allocations", COUNTER, "",
     "Allocations served from the node the calling thread ran on.", AT(counts.allocs),
     AT(counts.remote_allocs)},
    {"numa_alloc_remote_allocations", COUNTER, "",
     "Allocations served from this node for a thread on another node.", AT(counts.remote_allocs),
     NONE},
    {"numa_alloc_explicit_allocations", COUNTER, "",
     "numa_malloc and co naming this node from a thread on another node.", AT(explicit_allocs),
     NONE},
    {"numa_alloc_remote_frees", COUNTER, "",
     "Blocks of this node freed by a thread on another node.", AT(counts.remote_frees), NONE},
    {"numa_alloc_fallbacks_in", COUNTER, "", "Requests for another node served here.",
     AT(fallbacks_in), NONE},
    {"numa_alloc_fallbacks_out", COUNTER, "", "Requests for this node served elsewhere.",
     AT(fallbacks_out), NONE},
    {"numa_alloc_tight_commits", COUNTER, "", "Commits made when the node was nearly full.",
     AT(tight_commits), NONE},
    {"numa_alloc_exhaustions", COUNTER, "", "Commits refused: the node could not supply them.",
     AT(exhaustions), NONE},
    {"numa_alloc_bind_failures", COUNTER, "", "mbind calls the kernel refused.", AT(bind_failures),
     NONE},
    {"numa_alloc_purge_failures", COUNTER, "", "madvise(MADV_DONTNEED) calls refused.",
     AT(purge_failures), NONE},
    {"numa_alloc_verify_failures", COUNTER, "", "move_pages queries refused.", AT(verify_failures),
     NONE},
    {"numa_alloc_active_bytes", GAUGE, BYTES, "Memory the node's heap has in use.",
     AT(active_bytes), NONE},
    {"numa_alloc_peak_active_bytes", GAUGE, BYTES, "The most memory the node's heap had in use.",
     AT(peak_active_bytes), NONE},
    {"numa_alloc_dirty_bytes", GAUGE, BYTES, "Free memory still resident, kept for reuse.",
     AT(dirty_bytes), NONE},
    {"numa_alloc_purged_bytes", COUNTER, BYTES, "Memory given back to the OS.", AT(purged_bytes),
     NONE},
    {"numa_alloc_huge_objects", GAUGE, "", "Live objects above 2 MiB.", AT(huge_objects), NONE},
    {"numa_alloc_huge_bytes", GAUGE, BYTES, "Bytes of the live objects above 2 MiB.",
     AT(huge_bytes), NONE},
    {"numa_alloc_thp_bytes", GAUGE, BYTES,
     "Memory of the node's heap backed by transparent huge pages (smaps).", AT(thp_bytes), NONE},
    {"numa_alloc_hugetlb_bytes", GAUGE, BYTES,
     "Memory of the node's heap backed by hugetlbfs pages (smaps).", AT(hugetlb_bytes), NONE},
};

static void meta(struct textbuf *tb, const char *name, const char *type, const char *unit,
                 const char *help)
{
    tb_str(tb, "# HELP ");
    tb_str(tb, name);
    tb_str(tb, " ");
    tb_str(tb, help);
    tb_str(tb, "\n# TYPE ");
    tb_str(tb, name);
    tb_str(tb, " ");
    tb_str(tb, type);
    tb_str(tb, "\n");
    if (unit[0]) {
        tb_str(tb, "# UNIT ");
        tb_str(tb, name);
        tb_str(tb, " ");
        tb_str(tb, unit);
        tb_str(tb, "\n");
    }
}

/* A label value, with the escapes OpenMetrics asks for (\\, \", \n). */
static void label_value(struct textbuf *tb, const char *value)
{
    for (const char *c = value; *c; c++) {
        char one[2] = {*c, '\0'};
        tb_str(tb, *c == '\\' ? "\\\\" : *c == '"' ? "\\\"" : *c == '\n' ? "\\n" : one);
    }
}

/* A sample's name and labels, up to the value: NAME{[node="N",]pid="P",program="X"}. */
static void sample(struct textbuf *tb, const char *name, const char *suffix, int node,
                   const char *labels)
{
    tb_str(tb, name);
    tb_str(tb, suffix);
    tb_str(tb, "{");
    if (node >= 0) {
        tb_str(tb, "node=\"");
        tb_u64(tb, (uint64_t)node);
        tb_str(tb, "\",");
    }
    tb_str(tb, labels);
    tb_str(tb, "} ");
}

static void write_openmetrics(struct textbuf *tb, const struct stats_snapshot *snap,
                              const char *labels)
{
    struct timespec now;
    vdso_clock_gettime(CLOCK_REALTIME, &now);
    meta(tb, "numa_alloc_snapshot_timestamp_seconds", GAUGE, "seconds",
         "When these statistics were taken (Unix time).");
    sample(tb, "numa_alloc_snapshot_timestamp_seconds", "", -1, labels);
    tb_u64(tb, (uint64_t)now.tv_sec);
    char ms[5] = {'.', (char)('0' + now.tv_nsec / 100000000),
                  (char)('0' + now.tv_nsec / 10000000 % 10),
                  (char)('0' + now.tv_nsec / 1000000 % 10), '\0'};
    tb_str(tb, ms);
    tb_str(tb, "\n");
    meta(tb, "numa_alloc_active", GAUGE, "",
         "1 while numa-alloc serves the program, 0 when its start failed.");
    sample(tb, "numa_alloc_active", "", -1, labels);
    tb_str(tb, alloc_start_failed() ? "0\n" : "1\n");
    if (alloc_start_failed()) /* no heap, no node: glibc served */
        return;
    for (size_t f = 0; f < sizeof families / sizeof families[0]; f++) {
        const struct family *fam = &families[f];
        bool counter = fam->type[0] == 'c';
        meta(tb, fam->name, fam->type, fam->unit, fam->help);
        for (unsigned slot = 0; slot < na_region.num_slots; slot++) {
            if (!stats_node_used(&snap->nodes[slot]))
                continue; /* no series for a node without counts (absent reads as 0) */
            const char *n = (const char *)&snap->nodes[slot];
            uint64_t value = *(const uint64_t *)(n + fam->offset);
            if (fam->minus != NONE)
                value -= *(const uint64_t *)(n + fam->minus);
            sample(tb, fam->name, counter ? "_total" : "", na_topo.slot_node[slot], labels);
            tb_u64(tb, value);
            tb_str(tb, "\n");
        }
    }
    bool census = false;
    for (unsigned slot = 0; slot < na_region.num_slots; slot++)
        census |= snap->verified && snap->nodes[slot].verify_error == 0;
    if (census) {
        meta(tb, "numa_alloc_verified_pages", GAUGE, "",
             "Resident pages of the heap the kernel was asked about, by where they lie.");
        for (unsigned slot = 0; slot < na_region.num_slots; slot++) {
            const struct node_stats *n = &snap->nodes[slot];
            if (n->verify_error || !stats_node_used(n))
                continue;
            for (int misplaced = 0; misplaced < 2; misplaced++) {
                tb_str(tb, "numa_alloc_verified_pages{node=\"");
                tb_u64(tb, (uint64_t)na_topo.slot_node[slot]);
                tb_str(tb, misplaced ? "\",where=\"elsewhere\"," : "\",where=\"on_node\",");
                tb_str(tb, labels);
                tb_str(tb, "} ");
                tb_u64(tb, misplaced ? n->verified.misplaced : n->verified.on_node);
                tb_str(tb, "\n");
            }
        }
    }
    meta(tb, "numa_alloc_threads", GAUGE, "", "Threads that have allocated and still run.");
    sample(tb, "numa_alloc_threads", "", -1, labels);
    tb_u64(tb, snap->num_threads + snap->num_others);
    tb_str(tb, "\n");
    meta(tb, "numa_alloc_exited_threads", COUNTER, "", "Threads that allocated and have exited.");
    sample(tb, "numa_alloc_exited_threads", "_total", -1, labels);
    tb_u64(tb, snap->num_exited);
    tb_str(tb, "\n");
}

int stats_write_openmetrics(int fd, bool verify)
{
    if (!na_region.size && !alloc_start_failed()) {
        errno = EINVAL;
        return -1;
    }
    char comm[OS_COMM_SIZE];
    os_program_name(comm); /* the name pidof and ps show */
    char labels[128];
    struct textbuf lb;
    tb_init(&lb, labels, sizeof labels);
    tb_str(&lb, "pid=\"");
    tb_u64(&lb, (uint64_t)syscall(SYS_getpid));
    tb_str(&lb, "\",program=\"");
    label_value(&lb, comm);
    tb_str(&lb, "\"");
    stats_lock_writer();
    struct stats_workspace *ws = stats_workspace();
    if (!ws) {
        na_unlock(stats_lock());
        return -1;
    }
    if (!alloc_start_failed()) /* failed: nothing was ever collected, the mapping reads zero */
        stats_collect(ws, verify);
    struct textbuf tb;
    tb_init_fd(&tb, ws->buf, sizeof ws->buf, fd);
    write_openmetrics(&tb, &ws->snap, labels);
    tb_str(&tb, "# EOF\n");
    tb_flush(&tb);
    int failed = tb.failed;
    if (failed)
        report_failed_write();
    na_unlock(stats_lock());
    if (failed) {
        errno = failed;
        return -1;
    }
    return 0;
}
