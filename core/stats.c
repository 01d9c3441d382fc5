/* stats.c - collecting and writing the statistics; see stats.h. */
#define _GNU_SOURCE
#include "core/stats.h"

#include "core/stats_fold.h"

#include "base/lock.h"
#include "base/os.h"
#include "base/report.h"
#include "base/textbuf.h"
#include "core/aligned_huge.h"
#include "core/alloc.h"
#include "core/hugepages.h"
#include "core/node_heap.h"
#include "core/prof.h"
#include "core/thread_cache.h"
#include "policy/capabilities.h"
#include "policy/kernel_policy.h"
#include "policy/mems_watch.h"
#include "policy/options.h"
#include "policy/placement.h"
#include "policy/topology.h"

#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Pages asked about per node when verifying: bounded cost (~25 ms/GB for move_pages). */
#define VERIFY_MAX_PAGES 16384

/*
 * The JSON's "format": raised when a key is removed or renamed or a value
 * changes its meaning or type; keys added beside the others keep it.
 */
#define STATS_FORMAT 1

/* /proc/self/cmdline shown at most: more is cut and marked ("args_truncated"). */
#define ARGS_MAX 4096

#ifndef NA_VERSION_STRING /* set by CMake; a build outside it (the fuzzer's) has none */
#define NA_VERSION_STRING "unknown"
#endif

/* ---- collecting ---------------------------------------------------------- */

/* Counts of one node cache, with the unsettled ones booked as the thread's home says. */
static void cache_counts(const struct node_cache *nc, unsigned home, struct thread_stats *t,
                         struct node_stats *n)
{
    struct alloc_counts counts;
    node_cache_counts(nc, home, &counts);
    alloc_counts_add(&t->counts, &counts);
    alloc_counts_add(&n->counts, &counts);
    n->explicit_allocs += nc->explicit_allocs;
}

static void add_thread(struct thread_stats *to, const struct thread_stats *from)
{
    alloc_counts_add(&to->counts, &from->counts);
    to->migrations += from->migrations;
    to->fallbacks += from->fallbacks;
    if (from->peak_live_bytes > to->peak_live_bytes)
        to->peak_live_bytes = from->peak_live_bytes;
}

static void visit_thread(const struct thread_state *ts, void *arg)
{
    struct stats_snapshot *snap = arg;
    struct thread_stats t = {.tid = ts->tid,
                             .node =
                                 ts->home < na_topo.num_slots ? na_topo.slot_node[ts->home] : -1,
                             .migrations = ts->migrations,
                             .fallbacks = ts->fallbacks,
                             .peak_live_bytes = ts->peak_live_bytes};
    for (const struct node_cache *nc = thread_cache_first(ts); nc; nc = nc->next)
        cache_counts(nc, ts->home, &t, &snap->nodes[nc->slot]);
    if (snap->num_threads < STATS_MAX_THREADS) {
        snap->threads[snap->num_threads++] = t;
    } else {
        add_thread(&snap->others, &t);
        snap->num_others++;
    }
}

/*
 * Asks the kernel where a sample of the slot's resident pages lie, and of its
 * objects in mappings of their own (core/aligned_huge.h: huge objects realloc
 * moved out of the region among them); 0 or move_pages' -errno.
 */
static int verify_slot(unsigned slot, struct page_census *census)
{
    struct node_heap *heap = node_heap_of(slot);
    int node = na_topo.slot_node[slot];
    na_lock(&heap->pages_lock);
    size_t own_objects, own_bytes;
    aligned_huge_tally(slot, &own_objects, &own_bytes);
    uintptr_t first = slot_base(slot) + SEGMENT_SIZE, end = heap->seg_next;
    size_t pages = (end - first + own_bytes) >> OS_PAGE_SHIFT;
    size_t stride = pages / VERIFY_MAX_PAGES + 1;
    int err = 0;
    for (uintptr_t at = first; at < end && !err;) {
        struct segment *seg = (struct segment *)at;
        size_t nsegments = seg->nsegments ? seg->nsegments : 1;
        /* Page-spread (interleaved) objects lie on several nodes by design. */
        if (!(seg->kind == SEG_HUGE && seg->interleaved))
            err = verify_pages(seg, nsegments * SEGMENT_SIZE, node, stride, census);
        at += nsegments * SEGMENT_SIZE;
    }
    if (!err && own_objects)
        err = aligned_huge_verify(slot, node, stride, census);
    na_unlock(&heap->pages_lock);
    return err;
}

/* One writer at a time: they share one workspace (too big for a stack). */
static na_lock_t write_lock = NA_LOCK_INIT;
static struct stats_workspace *workspace; /* under write_lock; kept once mapped */

void stats_workspace_prepare(void)
{
    stats_lock_writer();
    if (!workspace)
        workspace = os_map(sizeof *workspace);
    na_unlock(&write_lock);
}

struct stats_workspace *stats_workspace(void)
{
    static bool said;
    struct stats_workspace *ws = workspace ? workspace : (workspace = os_map(sizeof *workspace));
    if (!ws && !said) {
        said = true;
        report_warning("statistics not written: the kernel refused the memory they are built in "
                       "(ulimit -d, ulimit -v or vm.overcommit_memory=2)");
    }
    if (!ws)
        errno = ENOMEM;
    return ws;
}

void stats_collect(struct stats_workspace *ws, bool verify)
{
    struct stats_snapshot *snap = &ws->snap;
    struct retired_threads *retired = &ws->retired;
    /* The nodes in use only: the rest of the table stays untouched (no memory). */
    _Static_assert(offsetof(struct stats_snapshot, nodes) == 0, "nodes come first");
    memset(snap->nodes, 0, na_region.num_slots * sizeof snap->nodes[0]);
    memset((char *)snap + sizeof snap->nodes, 0, sizeof *snap - sizeof snap->nodes);
    snap->time_ms = os_wall_ms();
    thread_cache_visit(visit_thread, snap, retired);
    snap->num_exited = retired->threads;
    snap->exited.migrations = retired->migrations;
    snap->exited.fallbacks = retired->fallbacks;
    snap->exited.peak_live_bytes = retired->peak_live_bytes;
    for (unsigned slot = 0; slot < na_region.num_slots; slot++) {
        struct node_stats *n = &snap->nodes[slot];
        alloc_counts_add(&snap->exited.counts, &retired->per_slot[slot]);
        alloc_counts_add(&n->counts, &retired->per_slot[slot]);
        n->explicit_allocs += retired->explicit_allocs[slot];
        n->bind_failures = placement_faults_of(slot, FAULT_BIND);
        n->purge_failures = placement_faults_of(slot, FAULT_PURGE);
        n->verify_failures = placement_faults_of(slot, FAULT_VERIFY);
        if (!heap_is_ready(slot)) /* never used: nothing on it, nothing to verify */
            continue;
        struct node_heap *heap = node_heap_of(slot);
        struct heap_totals totals;
        heap_totals(heap, &totals);
        n->active_bytes = totals.active;
        n->peak_active_bytes = totals.peak_active;
        n->dirty_bytes = totals.dirty;
        n->purged_bytes = totals.purged;
        n->huge_objects = totals.huge_count;
        n->huge_bytes = totals.huge_bytes;
        n->fallbacks_in = __atomic_load_n(&heap->fallbacks_in, __ATOMIC_RELAXED);
        n->fallbacks_out = __atomic_load_n(&heap->fallbacks_out, __ATOMIC_RELAXED);
        n->tight_commits = heap->memory.tight_commits;
        n->exhaustions = heap->memory.exhaustions;
        if (verify && na_placement_caps.verify_error)
            n->verify_error = na_placement_caps.verify_error; /* refused at start: do not ask */
        else if (verify)
            n->verify_error = verify_slot(slot, &n->verified);
    }
    snap->verified = verify;
    /* Huge pages are the kernel's business: /proc/self/smaps says which we got. */
    uint64_t *thp = ws->thp, *hugetlb = ws->hugetlb;
    memset(thp, 0, na_region.num_slots * sizeof thp[0]);
    memset(hugetlb, 0, na_region.num_slots * sizeof hugetlb[0]);
    if (na_region.size && hugepages_per_slot(thp, hugetlb) == 0)
        for (unsigned slot = 0; slot < na_region.num_slots; slot++) {
            snap->nodes[slot].thp_bytes = thp[slot];
            snap->nodes[slot].hugetlb_bytes = hugetlb[slot];
        }
}

/* ---- writing ------------------------------------------------------------- */

static const char *const policy_names[] = {"local", "bind", "preferred", "interleave",
                                           "weighted-interleave"};
static const char *const fallback_names[] = {"nearest", "none", "any"};
static const char *const source_names[] = {"default", "environment", "inherited"};
static const char *const weights_names[] = {"", "environment", "kernel", "equal"};

static void json_field(struct textbuf *tb, const char *name, uint64_t value, bool comma)
{
    tb_str(tb, "\"");
    tb_str(tb, name);
    tb_str(tb, "\": ");
    tb_u64(tb, value);
    if (comma)
        tb_str(tb, ", ");
}

/* part / all in percent, one decimal; 0.0 of nothing. */
static void write_percent(struct textbuf *tb, uint64_t part, uint64_t all)
{
    tb_ratio1(tb, part, all ? all : 1, 100);
}

/* What a node served, in `unit`s, then `between`, then the local share in percent. */
static void write_size_and_local_pct(struct textbuf *tb, const struct node_stats *n, uint64_t unit,
                                     const char *between)
{
    tb_ratio1(tb, n->counts.bytes_allocated, unit, 1);
    tb_str(tb, between);
    write_percent(tb, n->counts.allocs - n->counts.remote_allocs, n->counts.allocs);
}

/* A size people read: exact bytes below 1 KiB, else the largest unit (1024-based) that keeps at
 * least 1.0 of it, with one decimal, so the number always shows two significant digits or more. */
static void text_size(struct textbuf *tb, uint64_t bytes)
{
    static const char *const units[] = {" B", " KB", " MB", " GB", " TB"};
    unsigned unit = 0;
    while (unit < 4 && bytes >= (uint64_t)1 << (10 * (unit + 1)))
        unit++;
    if (unit == 0)
        tb_u64(tb, bytes);
    else
        tb_ratio1(tb, bytes, (uint64_t)1 << (10 * unit), 1);
    tb_str(tb, units[unit]);
}

/* ---- who, when, what (the header of both forms) -------------------------- */

/* Days since 1970-01-01 as a civil date (proleptic Gregorian; H. Hinnant's algorithm). */
static void civil_date(uint64_t days, uint64_t *year, unsigned *month, unsigned *day)
{
    uint64_t z = days + 719468, era = z / 146097, doe = z - era * 146097;
    uint64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    uint64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
    *day = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    *month = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    *year = yoe + era * 400 + (*month <= 2);
}

static void two_digits(struct textbuf *tb, uint64_t v, const char *after)
{
    char out[4] = {(char)('0' + v / 10 % 10), (char)('0' + v % 10), '\0', '\0'};
    tb_str(tb, out);
    tb_str(tb, after);
}

/* RFC 3339 in UTC with milliseconds: 2026-11-30T10:31:51.123Z (no locale, no time zone file). */
static void rfc3339(struct textbuf *tb, uint64_t ms)
{
    uint64_t s = ms / 1000, year;
    unsigned month, day;
    civil_date(s / 86400, &year, &month, &day);
    tb_u64(tb, year);
    tb_str(tb, "-");
    two_digits(tb, month, "-");
    two_digits(tb, day, "T");
    two_digits(tb, s % 86400 / 3600, ":");
    two_digits(tb, s % 3600 / 60, ":");
    two_digits(tb, s % 60, ".");
    char frac[4] = {(char)('0' + ms % 1000 / 100), (char)('0' + ms % 100 / 10),
                    (char)('0' + ms % 10), '\0'};
    tb_str(tb, frac);
    tb_str(tb, "Z");
}

/* The length of the valid UTF-8 sequence at s (n bytes left), or 0 (RFC 3629: no overlongs,
 * no surrogates, nothing above U+10FFFF). */
static size_t utf8_sequence(const unsigned char *s, size_t n)
{
    unsigned char lo = 0x80, hi = 0xbf;
    size_t len;
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        len = 2;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        len = 3;
        lo = s[0] == 0xe0 ? 0xa0 : lo;
        hi = s[0] == 0xed ? 0x9f : hi;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        len = 4;
        lo = s[0] == 0xf0 ? 0x90 : lo;
        hi = s[0] == 0xf4 ? 0x8f : hi;
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    return len;
}

/*
 * Any bytes as a JSON string, quotes included: valid UTF-8 as it is, `"`,
 * `\` and control characters escaped, every byte that is not part of valid
 * UTF-8 as U+FFFD (JSON text must be Unicode).
 */
static void json_string(struct textbuf *tb, const char *bytes, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)bytes;
    tb_str(tb, "\"");
    for (size_t i = 0; i < n;) {
        char out[8] = {0};
        size_t len = 1;
        if (s[i] == '"' || s[i] == '\\') {
            out[0] = '\\';
            out[1] = (char)s[i];
        } else if (s[i] == '\n' || s[i] == '\t') {
            out[0] = '\\';
            out[1] = s[i] == '\n' ? 'n' : 't';
        } else if (s[i] < 0x20) {
            memcpy(out, "\\u00", 4);
            out[4] = hex[s[i] >> 4];
            out[5] = hex[s[i] & 15];
        } else if (s[i] < 0x80) {
            out[0] = (char)s[i];
        } else if ((len = utf8_sequence(s + i, n - i)) != 0) {
            memcpy(out, s + i, len);
        } else {
            memcpy(out, "\\ufffd", 6);
            len = 1;
        }
        tb_str(tb, out);
        i += len;
    }
    tb_str(tb, "\"");
}

/* The command line (argv) as a JSON array, from /proc/self/cmdline as it is now (what ps shows). */
static void json_args(struct textbuf *tb)
{
    /* under the writing lock; one more byte tells a cut */
    NA_COLD_BSS static char cmdline[ARGS_MAX + 2];
    long n = os_read_file("/proc/self/cmdline", cmdline, sizeof cmdline);
    bool cut = n > ARGS_MAX;
    size_t len = n < 0 ? 0 : cut ? ARGS_MAX : (size_t)n;
    tb_str(tb, "\"args\": [");
    for (size_t at = 0; at < len;) {
        size_t arg = strnlen(cmdline + at, len - at);
        tb_str(tb, at ? ", " : "");
        json_string(tb, cmdline + at, arg);
        at += arg + 1;
    }
    tb_str(tb, cut ? "], \"args_truncated\": true" : "], \"args_truncated\": false");
}

/* "format", "version", "time", "time_unix", "pid", "program", "args": one line of the JSON. */
static void json_identity(struct textbuf *tb, uint64_t now_ms)
{
    char name[OS_COMM_SIZE];
    os_program_name(name);
    tb_str(tb, "  \"format\": ");
    tb_u64(tb, STATS_FORMAT);
    tb_str(tb, ", \"version\": \"" NA_VERSION_STRING "\", \"time\": \"");
    rfc3339(tb, now_ms);
    tb_str(tb, "\", \"time_unix\": ");
    tb_u64(tb, now_ms / 1000);
    char frac[5] = {'.', (char)('0' + now_ms % 1000 / 100), (char)('0' + now_ms % 100 / 10),
                    (char)('0' + now_ms % 10), '\0'};
    tb_str(tb, frac);
    tb_str(tb, ",\n  \"pid\": ");
    tb_u64(tb, (uint64_t)syscall(SYS_getpid));
    tb_str(tb, ", \"program\": ");
    json_string(tb, name, strlen(name));
    tb_str(tb, ", ");
    json_args(tb);
    tb_str(tb, ",\n");
}

/* ---- what placement the numbers rest on (docs/stats.md, "Placement") ------- */

static bool census_taken(const struct stats_snapshot *snap, const struct node_stats *n)
{
    return snap->verified && n->verify_error == 0;
}

/*
 * What a node's local_pct means: "verified" (memory bound to the node and
 * every page the census found is there), "bound" (bound, but not shown:
 * no census, nothing resident, or pages found elsewhere), "intended" (mbind
 * refused: the count of the heap the allocator chose, pages are first-touch).
 */
static const char *local_basis(const struct stats_snapshot *snap, const struct node_stats *n)
{
    if (na_placement_caps.bind_error)
        return "intended";
    if (census_taken(snap, n) && n->verified.checked > 0 && n->verified.misplaced == 0)
        return "verified";
    return "bound";
}

/* "verified" (census taken on every node), "unverified" (refused), "not requested". */
static const char *verification_state(const struct stats_snapshot *snap, int *error)
{
    *error = 0;
    if (!snap->verified)
        return "not requested";
    for (unsigned slot = 0; slot < na_region.num_slots; slot++)
        if (snap->nodes[slot].verify_error)
            *error = snap->nodes[slot].verify_error;
    return *error ? "unverified" : "verified";
}

static void json_placement(struct textbuf *tb, const struct stats_snapshot *snap)
{
    char name[ERRNO_NAME_SIZE];
    int verify_error;
    const char *verification = verification_state(snap, &verify_error);
    if (alloc_start_failed()) { /* glibc served: nothing bound, nothing to verify */
        tb_str(tb, "  \"placement\": {\"binding\": \"unbound\", \"binding_error\": \"not active\", "
                   "\"verification\": \"unverified\", \"verification_error\": \"not active\"},\n");
        return;
    }
    tb_str(tb, "  \"placement\": {\"binding\": \"");
    tb_str(tb, na_placement_caps.bind_error ? "unbound" : "bound");
    if (na_placement_caps.bind_error) {
        tb_str(tb, "\", \"binding_error\": \"");
        tb_str(tb, errno_name(na_placement_caps.bind_error, name));
    }
    tb_str(tb, "\", \"verification\": \"");
    tb_str(tb, verification);
    if (verify_error) {
        tb_str(tb, "\", \"verification_error\": \"");
        tb_str(tb, errno_name(verify_error, name));
    }
    tb_str(tb, "\"},\n");
}

static void text_placement(struct textbuf *tb, const struct stats_snapshot *snap)
{
    char name[ERRNO_NAME_SIZE];
    int verify_error;
    const char *verification = verification_state(snap, &verify_error);
    tb_str(tb, "placement: ");
    if (na_placement_caps.bind_error) {
        tb_str(tb, "unbound (mbind ");
        tb_str(tb, errno_name(na_placement_caps.bind_error, name));
        tb_str(tb, ": pages lie where first touched)");
    } else {
        tb_str(tb, "bound");
    }
    tb_str(tb, ", ");
    tb_str(tb, snap->verified ? verification : "not verified (no census asked for)");
    if (verify_error) {
        tb_str(tb, " (move_pages ");
        tb_str(tb, errno_name(verify_error, name));
        tb_str(tb, ")");
    }
    tb_str(tb, "\n");
}

/* After "N% local": what that figure rests on, unless the census showed it. */
static void text_local_basis(struct textbuf *tb, const struct stats_snapshot *snap,
                             const struct node_stats *n)
{
    const char *basis = local_basis(snap, n);
    if (basis[0] == 'i') {
        tb_str(tb, census_taken(snap, n) ? " (intended: memory not bound)"
                                         : " (intended: memory not bound, not verified)");
    } else if (basis[0] == 'b' && census_taken(snap, n) && n->verified.misplaced) {
        tb_str(tb, " (bound; ");
        tb_u64(tb, n->verified.misplaced);
        tb_str(tb, " pages found on another node)");
    } else if (basis[0] == 'b') {
        tb_str(tb, " (bound, not verified)");
    }
}

/* ---- writing, continued -------------------------------------------------- */

static void json_thread(struct textbuf *tb, const struct thread_stats *t)
{
    json_field(tb, "allocations", t->counts.allocs, true);
    json_field(tb, "frees", t->counts.frees, true);
    json_field(tb, "bytes_allocated", t->counts.bytes_allocated, true);
    json_field(tb, "bytes_freed", t->counts.bytes_freed, true);
    /*
     * Signed: a thread that frees blocks other threads made (a consumer, a
     * pool's sweeper) frees more than it allocates. Unsigned, -2960 read
     * 18446744073709548656, past what many JSON readers take (int64).
     */
    tb_str(tb, "\"bytes_live\": ");
    tb_i64(tb, (int64_t)(t->counts.bytes_allocated - t->counts.bytes_freed));
    tb_str(tb, ", ");
    json_field(tb, "peak_bytes_live", t->peak_live_bytes, true);
    json_field(tb, "local_allocations", t->counts.allocs - t->counts.remote_allocs, true);
    json_field(tb, "remote_allocations", t->counts.remote_allocs, true);
    json_field(tb, "remote_frees", t->counts.remote_frees, true);
    json_field(tb, "migrations", t->migrations, true);
    json_field(tb, "fallbacks", t->fallbacks, false);
}

static void write_json(struct textbuf *tb, const struct stats_snapshot *snap)
{
    uint64_t all = 0, remote = 0;
    tb_str(tb, "{\n");
    json_identity(tb, snap->time_ms);
    for (unsigned slot = 0; slot < na_region.num_slots; slot++) {
        const struct node_stats *n = &snap->nodes[slot];
        all += n->counts.allocs;
        remote += n->counts.remote_allocs;
        if (!stats_node_used(n))
            continue; /* nothing to say: a reader takes a node left out as all zeros */
        tb_str(tb, "  \"node");
        tb_u64(tb, (uint64_t)na_topo.slot_node[slot]);
        tb_str(tb, "\": {\"allocated_mb\": ");
        write_size_and_local_pct(tb, n, (uint64_t)1 << 20, ", \"local_pct\": ");
        tb_str(tb, ", \"local_pct_basis\": \"");
        tb_str(tb, local_basis(snap, n));
        tb_str(tb, "\",\n    ");
        json_field(tb, "allocations", n->counts.allocs, true);
        json_field(tb, "frees", n->counts.frees, true);
        json_field(tb, "bytes_allocated", n->counts.bytes_allocated, true);
        json_field(tb, "bytes_freed", n->counts.bytes_freed, true);
        json_field(tb, "bytes_live", n->counts.bytes_allocated - n->counts.bytes_freed, true);
        tb_str(tb, "\n    ");
        json_field(tb, "local_allocations", n->counts.allocs - n->counts.remote_allocs, true);
        json_field(tb, "remote_allocations", n->counts.remote_allocs, true);
        json_field(tb, "explicit_allocations", n->explicit_allocs, true);
        json_field(tb, "remote_frees", n->counts.remote_frees, true);
        tb_str(tb, "\n    ");
        json_field(tb, "fallbacks_in", n->fallbacks_in, true);
        json_field(tb, "fallbacks_out", n->fallbacks_out, true);
        json_field(tb, "tight_commits", n->tight_commits, true);
        json_field(tb, "exhaustions", n->exhaustions, true);
        tb_str(tb, "\n    ");
        json_field(tb, "bind_failures", n->bind_failures, true);
        json_field(tb, "purge_failures", n->purge_failures, true);
        json_field(tb, "verify_failures", n->verify_failures, true);
        tb_str(tb, "\n    ");
        json_field(tb, "active_bytes", n->active_bytes, true);
        json_field(tb, "peak_active_bytes", n->peak_active_bytes, true);
        json_field(tb, "dirty_bytes", n->dirty_bytes, true);
        json_field(tb, "purged_bytes", n->purged_bytes, true);
        json_field(tb, "huge_objects", n->huge_objects, true);
        json_field(tb, "huge_bytes", n->huge_bytes, true);
        json_field(tb, "thp_bytes", n->thp_bytes, true);
        json_field(tb, "hugetlb_bytes", n->hugetlb_bytes, false);
        if (census_taken(snap, n)) {
            tb_str(tb, ",\n    \"verified\": {");
            json_field(tb, "pages_checked", n->verified.checked, true);
            json_field(tb, "on_node", n->verified.on_node, true);
            json_field(tb, "misplaced", n->verified.misplaced, false);
            tb_str(tb, "}");
        }
        tb_str(tb, "},\n");
    }
    tb_str(tb, "  \"remote_pct\": ");
    write_percent(tb, remote, all);
    /* The reasons are our own fixed words and numbers: nothing to escape. */
    const char *inactive = alloc_start_failure();
    tb_str(tb, inactive ? ", \"active\": false, \"inactive_reason\": \"" : ", \"active\": true");
    if (inactive) {
        tb_str(tb, inactive);
        tb_str(tb, "\"");
    }
    tb_str(tb, ",\n  \"output\": {\"failed_writes\": ");
    tb_u64(tb, report_failed_writes());
    tb_str(tb, "}");
    if (na_prof_on) {
        struct prof_counts pc;
        prof_counts(&pc);
        tb_str(tb, ",\n  \"profile\": {");
        json_field(tb, "rate", pc.rate, true);
        json_field(tb, "samples", pc.samples, true);
        json_field(tb, "live_samples", pc.live_samples, true);
        json_field(tb, "lost", pc.lost, false);
        tb_str(tb, "}");
    }
    tb_str(tb, ",\n  \"policy\": {\"name\": \"");
    tb_str(tb, policy_names[na_options.policy]);
    tb_str(tb, "\", \"source\": \"");
    tb_str(tb, source_names[na_options.policy_source]);
    if (na_inherited_policy.read_error || kernel_policy_inherited()) {
        tb_str(tb, "\", \"inherited\": \""); /* numactl's words and node numbers */
        tb_str(tb, na_inherited_policy.text);
    }
    if (na_options.weights_source != WEIGHTS_NONE) {
        tb_str(tb, "\", \"weights\": \"");
        tb_str(tb, weights_names[na_options.weights_source]);
    }
    tb_str(tb, "\", \"fallback\": \"");
    tb_str(tb, fallback_names[na_options.fallback]);
    tb_str(tb, "\", \"nodes\": [");
    for (unsigned slot = 0, first = 1; slot < (unsigned)na_topo.num_slots; slot++) {
        if (!__atomic_load_n(&na_placement.candidate[slot], __ATOMIC_RELAXED))
            continue; /* (rewritten when the cpuset changes) */
        tb_str(tb, first ? "" : ", ");
        tb_u64(tb, (uint64_t)na_topo.slot_node[slot]);
        first = 0;
    }
    tb_str(tb, "]},\n");
    json_placement(tb, snap);
    tb_str(tb, "  \"topology\": {\"nodes\": [");
    for (int i = 0; i < na_topo.num_nodes; i++) {
        tb_str(tb, i ? ", " : "");
        tb_str(tb, "{\"id\": ");
        tb_u64(tb, (uint64_t)na_topo.node_id[i]);
        tb_str(tb, na_topo.has_cpu[i] ? ", \"cpus\": true" : ", \"cpus\": false");
        tb_str(tb, na_topo.has_memory[i] ? ", \"memory\": true" : ", \"memory\": false");
        tb_str(tb, __atomic_load_n(&na_topo.allowed[i], __ATOMIC_RELAXED) ? ", \"allowed\": true"
                                                                          : ", \"allowed\": false");
        if (na_topo.tier[i] >= 0) { /* memory tiers: Linux 6.1+ */
            tb_str(tb, ", \"tier\": ");
            tb_u64(tb, (uint64_t)na_topo.tier[i]);
        }
        tb_str(tb, "}");
    }
    tb_str(tb, "], \"distances\": [");
    for (int i = 0; i < na_topo.num_nodes; i++) {
        tb_str(tb, i ? ", [" : "[");
        for (int j = 0; j < na_topo.num_nodes; j++) {
            tb_str(tb, j ? ", " : "");
            tb_u64(tb, topology_distance(i, j));
        }
        tb_str(tb, "]");
    }
    tb_str(tb, "],\n    ");
    json_field(tb, "mems_allowed_changes", mems_watch_changes(), true);
    json_field(tb, "unserved_node_joins", mems_watch_unserved_joins(), false);
    tb_str(tb, "},\n  \"threads\": [");
    for (unsigned i = 0; i < snap->num_threads; i++) {
        const struct thread_stats *t = &snap->threads[i];
        tb_str(tb, i ? ",\n    {" : "\n    {");
        json_field(tb, "tid", (uint64_t)t->tid, true);
        tb_str(tb, "\"node\": ");
        tb_i64(tb, t->node);
        tb_str(tb, ", ");
        json_thread(tb, t);
        tb_str(tb, "}");
    }
    tb_str(tb, "],\n  \"more_threads\": {");
    json_field(tb, "count", snap->num_others, true);
    json_thread(tb, &snap->others);
    tb_str(tb, "},\n  \"exited_threads\": {");
    json_field(tb, "count", snap->num_exited, true);
    json_thread(tb, &snap->exited);
    tb_str(tb, "}\n}\n");
}

/* One row of the text table: a label, then a column per node with a count. */
static void text_row(struct textbuf *tb, const char *label, const struct stats_snapshot *snap,
                     size_t offset)
{
    tb_str(tb, label);
    for (size_t pad = strlen(label); pad < 22; pad++)
        tb_str(tb, " ");
    for (unsigned slot = 0; slot < na_region.num_slots; slot++)
        if (stats_node_used(&snap->nodes[slot]))
            tb_pad_u64(tb, *(const uint64_t *)((const char *)&snap->nodes[slot] + offset), 16);
    tb_str(tb, "\n");
}

/* The table: a column per node with a count (stats_node_used), a row per count. */
static void text_table(struct textbuf *tb, const struct stats_snapshot *snap)
{
    tb_str(tb, "                      ");
    for (unsigned slot = 0; slot < na_region.num_slots; slot++) {
        if (!stats_node_used(&snap->nodes[slot]))
            continue;
        char name[24] = "node";
        struct textbuf nb;
        tb_init(&nb, name + 4, sizeof name - 4);
        tb_u64(&nb, (uint64_t)na_topo.slot_node[slot]);
        for (size_t pad = strlen(name); pad < 16; pad++)
            tb_str(tb, " ");
        tb_str(tb, name);
    }
    tb_str(tb, "\n");
#define ROW(label, field) text_row(tb, label, snap, offsetof(struct node_stats, field))
    ROW("allocations", counts.allocs);
    ROW("frees", counts.frees);
    ROW("bytes allocated", counts.bytes_allocated);
    ROW("bytes freed", counts.bytes_freed);
    ROW("remote allocations", counts.remote_allocs);
    ROW("explicit allocations", explicit_allocs);
    ROW("remote frees", counts.remote_frees);
    ROW("fallbacks in", fallbacks_in);
    ROW("fallbacks out", fallbacks_out);
    ROW("active bytes", active_bytes);
    ROW("peak active bytes", peak_active_bytes);
    ROW("dirty bytes", dirty_bytes);
    ROW("purged bytes", purged_bytes);
    ROW("huge objects", huge_objects);
    bool thp = false;
    for (unsigned slot = 0; slot < na_region.num_slots; slot++)
        thp |= snap->nodes[slot].thp_bytes != 0;
    if (thp)
        ROW("THP bytes", thp_bytes);
    bool hugetlb = false;
    for (unsigned slot = 0; slot < na_region.num_slots; slot++)
        hugetlb |= snap->nodes[slot].hugetlb_bytes != 0;
    if (hugetlb)
        ROW("hugetlb bytes", hugetlb_bytes);
    ROW("bind failures", bind_failures);
    ROW("purge failures", purge_failures);
    ROW("verify failures", verify_failures);
    int verify_error;
    verification_state(snap, &verify_error);
    if (snap->verified && !verify_error) {
        ROW("pages verified", verified.checked);
        ROW("pages misplaced", verified.misplaced);
    }
#undef ROW
}

/* "cpuset: Mems_allowed changed N time(s), now nodes ..." */
static void text_cpuset(struct textbuf *tb)
{
    tb_str(tb, "cpuset: Mems_allowed changed ");
    tb_u64(tb, mems_watch_changes());
    tb_str(tb, " time(s), now nodes ");
    for (int i = 0, first = 1; i < na_topo.num_nodes; i++) {
        if (!__atomic_load_n(&na_topo.allowed[i], __ATOMIC_RELAXED))
            continue;
        tb_str(tb, first ? "" : ",");
        tb_u64(tb, (uint64_t)na_topo.node_id[i]);
        first = 0;
    }
    if (mems_watch_unserved_joins()) {
        tb_str(tb, "; ");
        tb_u64(tb, mems_watch_unserved_joins());
        tb_str(tb, " node(s) joined that have no heap (served after a restart)");
    }
    tb_str(tb, "\n");
}

static void write_text(struct textbuf *tb, const struct stats_snapshot *snap)
{
    uint64_t all = 0, remote = 0;
    char name[OS_COMM_SIZE];
    os_program_name(name);
    tb_str(tb, "numa-alloc " NA_VERSION_STRING ", ");
    rfc3339(tb, snap->time_ms);
    tb_str(tb, ", program ");
    for (char *c = name; *c; c++) /* comm may hold any byte: keep the line one line */
        *c = (unsigned char)*c < 0x20 || *c == 0x7f ? '?' : *c;
    tb_str(tb, name); /* the kernel's comm: at most 15 bytes, as ps shows it */
    tb_str(tb, "\nnuma-alloc statistics: pid ");
    tb_u64(tb, (uint64_t)syscall(SYS_getpid));
    tb_str(tb, ", policy ");
    tb_str(tb, policy_names[na_options.policy]);
    tb_str(tb, " (");
    tb_str(tb, source_names[na_options.policy_source]);
    tb_str(tb, ")");
    tb_str(tb, ", fallback ");
    tb_str(tb, fallback_names[na_options.fallback]);
    if (alloc_start_failure()) {
        tb_str(tb, "\nnuma-alloc was not active: ");
        tb_str(tb, alloc_start_failure());
        tb_str(tb, "; the C library's malloc served this program\n"
                   "placement: none (nothing bound, nothing verified)\n");
        return;
    }
    tb_str(tb, "\n");
    text_placement(tb, snap);
    NA_COLD_BSS static int ids[TOPO_MAX_SLOTS]; /* under the writing lock */
    NA_COLD_BSS static bool used[TOPO_MAX_SLOTS];
    unsigned shown = 0;
    for (unsigned slot = 0; slot < na_region.num_slots; slot++) {
        ids[slot] = na_topo.slot_node[slot];
        used[slot] = stats_node_used(&snap->nodes[slot]);
        shown += used[slot];
        all += snap->nodes[slot].counts.allocs;
        remote += snap->nodes[slot].counts.remote_allocs;
    }
    if (shown)
        text_table(tb, snap);
    for (unsigned slot = 0; slot < na_region.num_slots; slot++) {
        const struct node_stats *n = &snap->nodes[slot];
        if (!used[slot])
            continue;
        tb_str(tb, "Node ");
        tb_u64(tb, (uint64_t)na_topo.slot_node[slot]);
        tb_str(tb, ": ");
        text_size(tb, n->counts.bytes_allocated);
        tb_str(tb, " allocated, ");
        write_percent(tb, n->counts.allocs - n->counts.remote_allocs, n->counts.allocs);
        tb_str(tb, "% local");
        text_local_basis(tb, snap, n);
        tb_str(tb, "\n");
    }
    stats_fold_line(tb, ids, used, na_region.num_slots);
    tb_str(tb, "Remote allocations: ");
    write_percent(tb, remote, all);
    tb_str(tb, na_placement_caps.bind_error ? "% (intended)\nthreads: " : "%\nthreads: ");
    tb_u64(tb, snap->num_threads + snap->num_others);
    tb_str(tb, " live, ");
    tb_u64(tb, snap->num_exited);
    tb_str(tb, " exited; migrations ");
    uint64_t migrations = snap->exited.migrations + snap->others.migrations;
    for (unsigned i = 0; i < snap->num_threads; i++)
        migrations += snap->threads[i].migrations;
    tb_u64(tb, migrations);
    tb_str(tb, "\n");
    if (mems_watch_changes())
        text_cpuset(tb);
}

static int stats_write_locked(int fd, bool json, bool verify);

na_lock_t *stats_lock(void)
{
    return &write_lock;
}

/*
 * Forks waiting for write_lock (fork_prepare). The futex lock is not fair:
 * a thread that writes statistics in a loop took it back before the woken
 * fork ran on the other CPU, and fork() waited 150 ms on average, 800 at
 * worst (2 vCPUs, test_fork: its 1000 forks passed the test's 170 s). A
 * writer lets a waiting fork in first.
 */
static int forks_waiting;

void stats_lock_writer(void)
{
    while (__atomic_load_n(&forks_waiting, __ATOMIC_ACQUIRE))
        os_yield();
    na_lock(&write_lock);
}

void stats_lock_for_fork(void)
{
    __atomic_add_fetch(&forks_waiting, 1, __ATOMIC_ACQ_REL);
    na_lock(&write_lock);
    __atomic_sub_fetch(&forks_waiting, 1, __ATOMIC_ACQ_REL);
}

/* The child's only thread: no fork of another thread waits in it. */
void stats_lock_fork_child(void)
{
    __atomic_store_n(&forks_waiting, 0, __ATOMIC_RELAXED);
    na_lock_reset(&write_lock);
}

int stats_write(int fd, bool json, bool verify)
{
    if (!na_region.size && !alloc_start_failed()) {
        errno = EINVAL;
        return -1;
    }
    stats_lock_writer();
    return stats_write_locked(fd, json, verify);
}

/* With write_lock held; releases it. */
static int stats_write_locked(int fd, bool json, bool verify)
{
    struct stats_workspace *ws = stats_workspace();
    if (!ws) {
        na_unlock(&write_lock);
        return -1;
    }
    stats_collect(ws, verify);
    struct textbuf tb;
    tb_init_fd(&tb, ws->buf, sizeof ws->buf, fd);
    if (json)
        write_json(&tb, &ws->snap);
    else
        write_text(&tb, &ws->snap);
    tb_flush(&tb);
    int failed = tb.failed;
    if (failed)
        report_failed_write();
    na_unlock(&write_lock);
    if (failed) {
        errno = failed; /* the cause (EPIPE, ENOSPC, EBADF...), as write(2) gave it */
        return -1;
    }
    return 0;
}
