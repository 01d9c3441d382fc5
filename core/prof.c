/* prof.c - the sampling allocation-site profile; see prof.h. */
#define _GNU_SOURCE
#include "core/prof.h"

#include "base/lock.h"
#include "base/os.h"
#include "base/textbuf.h"
#include "base/vdso.h"
#include "core/alloc.h"
#include "core/thread_cache.h"
#include "policy/capabilities.h"
#include "policy/current_node.h"
#include "policy/options.h"
#include "policy/topology.h"

#include <dlfcn.h>
#include <link.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <unwind.h>

bool na_prof_on NA_HOT_BSS;
static uint64_t rate; /* mean bytes between samples */

/* ---- arithmetic without libm ------------------------------------------- */

/* ln(x) for x > 0: x = m * 2^e with m in [sqrt(1/2), sqrt(2)), ln m by atanh's series. */
static double ln(double x)
{
    int e = 0;
    while (x >= 1.4142135623730951) {
        x *= 0.5;
        e++;
    }
    while (x < 0.7071067811865476) {
        x *= 2;
        e--;
    }
    double t = (x - 1) / (x + 1), t2 = t * t, sum = 0, power = t;
    for (int k = 1; k <= 19; k += 2) { /* |t| < 0.172: t^21 / 21 is below 1e-17 */
        sum += power / k;
        power *= t2;
    }
    return 2 * sum + e * 0.6931471805599453;
}

/* 1 - exp(-x) for x >= 0, accurate for small x too (the chance that s << rate bytes are sampled).
 */
static double one_minus_exp_neg(double x)
{
    if (x > 40)
        return 1;
    if (x <= 0.5) { /* x - x^2/2! + x^3/3! - ...: no cancellation */
        double term = x, sum = 0;
        for (int k = 1; k <= 20; k++) {
            sum += term;
            term *= -x / (k + 1);
        }
        return sum;
    }
    int halvings = 0;
    while (x > 0.5) {
        x *= 0.5;
        halvings++;
    }
    double term = 1, e = 0; /* exp(-x), then squared back */
    for (int k = 1; k <= 20; k++) {
        e += term;
        term *= -x / k;
    }
    while (halvings--)
        e *= e;
    return 1 - e;
}

/* ---- per-thread state --------------------------------------------------- */

/*
 * Initial-exec TLS, small (thread_cache.h says why). `seed`: xorshift64*
 * state, 0 until the thread's first draw. `large_left`: bytes of large
 * allocations until the next sample (exponential). `busy`: the thread is
 * inside the profiler (unwinding, recording): an allocation then is served
 * unsampled, so the profiler never re-enters itself.
 */
static __thread struct {
    uint64_t seed;
    int64_t large_left;
    uint8_t busy;
    uint8_t decision;
    uint8_t large_armed;
    uint8_t stacks; /* stacks this thread took, up to FAST_AFTER (prof_note_alloc) */
} me __attribute__((tls_model("initial-exec")));

static uint64_t next_random(void)
{
    if (me.seed == 0) {
        struct timespec ts;
        vdso_clock_gettime(CLOCK_MONOTONIC, &ts);
        me.seed = ((uint64_t)syscall(SYS_gettid) * 0x9e3779b97f4a7c15ull) ^
                  ((uint64_t)ts.tv_nsec << 20) ^ (uintptr_t)&me;
        me.seed |= 1;
    }
    me.seed ^= me.seed >> 12;
    me.seed ^= me.seed << 25;
    me.seed ^= me.seed >> 27;
    return me.seed * 0x2545f4914f6cdd1dull;
}

/* An exponential draw of mean 1: -ln(u), u uniform in (0, 1]. */
static double exponential(void)
{
    double u = (double)((next_random() >> 11) + 1) * (1.0 / 9007199254740992.0);
    return -ln(u);
}

/* Pops to the next sample of a class of `size` bytes: geometric, P(sampled) = 1 - exp(-size/rate).
 */
static uint64_t draw_pops(size_t size)
{
    double pops = exponential() * (double)rate / (double)size;
    return pops >= 1e18 ? (uint64_t)1e18 : (uint64_t)pops + 1;
}

static int64_t draw_bytes(void)
{
    double bytes = exponential() * (double)rate;
    return bytes >= 9e18 ? INT64_MAX : (int64_t)bytes;
}

uint64_t prof_first_pops(unsigned cls)
{
    return na_prof_on ? draw_pops(na_size_classes[cls].size) : UINT64_MAX;
}

void prof_set_decision(enum prof_decision decision)
{
    me.decision = (uint8_t)decision;
}

enum prof_decision prof_decision(void)
{
    return (enum prof_decision)me.decision;
}

enum prof_decision prof_policy_decision(void)
{
    if (na_placement_caps.bind_error != 0)
        return PROF_UNBOUND;
    switch (na_options.policy) {
    case POLICY_BIND:
        return PROF_BIND;
    case POLICY_PREFERRED:
        return PROF_PREFERRED;
    case POLICY_INTERLEAVE:
    case POLICY_WEIGHTED_INTERLEAVE:
        return PROF_INTERLEAVE;
    default:
        return PROF_LOCAL;
    }
}

bool prof_small_due(void *node_cache, unsigned cls, bool taken)
{
    thread_cache_rearm(node_cache, cls, draw_pops(na_size_classes[cls].size), taken);
    return !me.busy;
}

bool prof_large_due(size_t bytes)
{
    if (!me.large_armed) {
        me.large_left = draw_bytes();
        me.large_armed = 1;
    }
    me.large_left -= (int64_t)(bytes < INT64_MAX ? bytes : INT64_MAX);
    if (me.large_left >= 0)
        return false;
    me.large_left = draw_bytes(); /* memoryless: the overshoot is forgotten */
    return !me.busy;
}

/* ---- tables ------------------------------------------------------------- */

#define STACKS_MAX  8192u  /* distinct stacks */
#define STACK_INDEX 16384u /* open addressing, a power of two above twice STACKS_MAX */
#define SITES_MAX   16384u /* distinct (stack, node, thread_node, decision) */
#define SITE_INDEX  32768u
#define LIVE_MAX    262144u /* sampled blocks not yet freed */
#define NO_NODE     0xffff

struct stack {
    uint64_t hash;
    uint32_t depth;
    uintptr_t pc[PROF_DEPTH];
};

/* Counters scaled by the samples' weights (estimates), but samples and lifetimes raw. */
struct site {
    uint64_t key; /* stack id << 32 | node << 20 | thread_node << 8 | decision (0: unused) */
    uint32_t stack;
    uint16_t node, thread_node; /* node ids; NO_NODE: unknown */
    uint8_t decision;
    uint64_t samples, lifetime_ns, lifetime_samples;
    double objects, bytes, freed_objects, freed_bytes, freed_other_thread_bytes,
        freed_other_node_bytes;
};

/* A sampled block not freed yet; free ones are linked through `site` (ids from 1). */
struct live_sample {
    uint32_t site; /* its site's index + 1; free: the next free entry's index + 1 (0: none) */
    int tid;
    uint64_t born_ns;
    double objects, bytes;
};

/*
 * Invariants, under `lock` (or in a fork child, alone): the tables are
 * mappings made at the first sample (`ready`), never freed; stacks[0..n_stacks)
 * are distinct stacks (by frames), each indexed once in stack_index (id + 1;
 * 0 empty); likewise sites and site_index; every live entry (site != 0 and
 * not on the free list) is a sampled block whose span or segment holds its
 * id, and its site's live_objects is the sum of such entries' objects;
 * `lost` counts samples not recorded (a table full, no mapping).
 */
static struct {
    bool ready, failed;
    uint32_t n_stacks, n_sites, live_used, live_free, live_count;
    uint64_t lost, samples;
    struct stack *stacks;
    uint32_t *stack_index;
    struct site *sites;
    uint32_t *site_index;
    struct live_sample *live;
    uintptr_t own_start, own_end; /* our library's mapping: its frames are dropped */
    uint64_t start_ms;            /* wall clock when the profile started */
} tab;

static na_lock_t lock = NA_LOCK_INIT;

void prof_init(void)
{
    tab.start_ms = os_wall_ms();
    if (!na_options.prof)
        return;
    rate = na_options.prof_rate;
    na_prof_on = true;
    struct dl_find_object obj;
    /* In a static program the library is the program: no frame can be told ours then. */
    if (_dl_find_object((void *)&prof_init, &obj) == 0 && obj.dlfo_link_map &&
        obj.dlfo_link_map->l_name && obj.dlfo_link_map->l_name[0]) {
        tab.own_start = (uintptr_t)obj.dlfo_map_start;
        tab.own_end = (uintptr_t)obj.dlfo_map_end;
    }
}

static bool tables_ready(void)
{
    if (tab.ready || tab.failed)
        return tab.ready;
    tab.stacks = os_map(STACKS_MAX * sizeof(struct stack));
    tab.stack_index = os_map(STACK_INDEX * sizeof(uint32_t));
    tab.sites = os_map(SITES_MAX * sizeof(struct site));
    tab.site_index = os_map(SITE_INDEX * sizeof(uint32_t));
    tab.live = os_map(LIVE_MAX * sizeof(struct live_sample));
    tab.ready = tab.stacks && tab.stack_index && tab.sites && tab.site_index && tab.live;
    tab.failed = !tab.ready;
    return tab.ready;
}

static uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    return h * 0xff51afd7ed558ccdull;
}

/*
 * Open addressing over index[] (`size` a power of two, never full: twice its
 * table's capacity): the entry holding an id that `same` accepts, or the
 * empty entry (0) where it goes.
 */
static uint32_t *probe(uint32_t *index, uint32_t size, uint64_t hash,
                       bool (*same)(uint32_t id, const void *key), const void *key)
{
    for (uint32_t at = (uint32_t)hash & (size - 1);; at = (at + 1) & (size - 1))
        if (index[at] == 0 || same(index[at], key))
            return &index[at];
}

struct stack_key {
    uint64_t hash;
    const uintptr_t *pc;
    uint32_t depth;
};

static bool same_stack(uint32_t id, const void *key)
{
    const struct stack_key *k = key;
    const struct stack *s = &tab.stacks[id - 1];
    return s->hash == k->hash && s->depth == k->depth &&
           memcmp(s->pc, k->pc, k->depth * sizeof k->pc[0]) == 0;
}

static bool same_site(uint32_t id, const void *key)
{
    return tab.sites[id - 1].key == *(const uint64_t *)key;
}

/* The stack's id (from 1), added if new; 0 when the table is full. */
static uint32_t stack_id(const uintptr_t *pc, uint32_t depth)
{
    struct stack_key k = {depth, pc, depth};
    for (uint32_t i = 0; i < depth; i++)
        k.hash = mix(k.hash, pc[i]);
    uint32_t *entry = probe(tab.stack_index, STACK_INDEX, k.hash, same_stack, &k);
    if (*entry || tab.n_stacks == STACKS_MAX)
        return *entry;
    struct stack *s = &tab.stacks[tab.n_stacks];
    s->hash = k.hash;
    s->depth = depth;
    memcpy(s->pc, pc, depth * sizeof pc[0]);
    return *entry = ++tab.n_stacks;
}

/* The site's index + 1, added if new; 0 when the table is full. */
static uint32_t site_id(uint32_t stack, unsigned node, unsigned thread_node, unsigned decision)
{
    uint64_t key = (uint64_t)stack << 32 | (uint64_t)(node & 0xfff) << 20 |
                   (uint64_t)(thread_node & 0xfff) << 8 | decision;
    uint32_t *entry = probe(tab.site_index, SITE_INDEX, mix(0, key), same_site, &key);
    if (*entry || tab.n_sites == SITES_MAX)
        return *entry;
    struct site *s = &tab.sites[tab.n_sites];
    s->key = key;
    s->stack = stack;
    s->node = (uint16_t)node;
    s->thread_node = (uint16_t)thread_node;
    s->decision = (uint8_t)decision;
    return *entry = ++tab.n_sites;
}

/* ---- unwinding ---------------------------------------------------------- */

/*
 * libgcc_s's unwinder, loaded by prof_load_unwinder (with NUMA_ALLOC_PROF
 * only: linked, libgcc_s would cost every process its pages, 84 KiB of RSS
 * on /bin/true). NULL until then, or for good in a static program or when
 * it cannot be loaded: samples then have an empty stack. Written once
 * (release), read with acquire.
 */
typedef _Unwind_Reason_Code (*backtrace_fn)(_Unwind_Trace_Fn, void *);
typedef _Unwind_Ptr (*get_ip_fn)(struct _Unwind_Context *);
typedef int (*unw_backtrace_fn)(void **, int);
static backtrace_fn unwind_backtrace;
static get_ip_fn unwind_get_ip;
/*
 * libunwind's unw_backtrace, preferred when libunwind.so.8 is installed: it
 * caches each return address's frame rule, so a stack costs some hundred
 * instructions where libgcc's interprets the unwind tables again at every
 * frame (10 000 for 13 frames: 5% of a malloc-bound loop at the default rate).
 * Local unwinding allocates nothing (its caches are mappings of its own).
 */
static unw_backtrace_fn unwind_fast;

/* Weak: a static program has no dlopen to call (and libc.a's would warn at its link). */
extern void *dlopen(const char *file, int mode) __attribute__((weak));
extern void *dlsym(void *handle, const char *name) __attribute__((weak));

void prof_load_unwinder(void)
{
    if (!na_prof_on || !dlopen || !dlsym || unwind_backtrace || unwind_fast)
        return;
    me.busy = 1; /* the loader allocates: not sampled, nothing to unwind with yet */
    /* NUMA_ALLOC_PROF_UNWINDER: auto tries libunwind first; a named one only that one. */
    enum prof_unwinder choice = na_options.prof_unwinder;
    void *fast =
        choice != PROF_UNWINDER_LIBGCC ? dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL) : NULL;
    unw_backtrace_fn trace = fast ? (unw_backtrace_fn)dlsym(fast, "unw_backtrace") : NULL;
    if (trace)
        __atomic_store_n(&unwind_fast, trace, __ATOMIC_RELEASE);
    /* auto loads libgcc_s too, for each thread's first stacks (FAST_AFTER). */
    if (choice == PROF_UNWINDER_LIBUNWIND) {
        me.busy = 0;
        return;
    }
    void *lib = dlopen("libgcc_s.so.1", RTLD_NOW | RTLD_LOCAL);
    get_ip_fn get_ip = lib ? (get_ip_fn)dlsym(lib, "_Unwind_GetIP") : NULL;
    backtrace_fn backtrace = lib ? (backtrace_fn)dlsym(lib, "_Unwind_Backtrace") : NULL;
    if (get_ip && backtrace) {
        __atomic_store_n(&unwind_get_ip, get_ip, __ATOMIC_RELEASE);
        __atomic_store_n(&unwind_backtrace, backtrace, __ATOMIC_RELEASE);
    }
    me.busy = 0;
}

struct unwind_state {
    uintptr_t *pc;
    uint32_t depth;
    bool ours; /* still in the allocator's own leading frames */
};

static _Unwind_Reason_Code unwind_one(struct _Unwind_Context *context, void *arg)
{
    struct unwind_state *st = arg;
    uintptr_t pc = __atomic_load_n(&unwind_get_ip, __ATOMIC_ACQUIRE)(context);
    if (pc == 0)
        return _URC_END_OF_STACK;
    if (st->ours && pc >= tab.own_start && pc < tab.own_end)
        return _URC_NO_REASON;
    st->ours = false;
    st->pc[st->depth++] = pc;
    return st->depth == PROF_DEPTH ? _URC_END_OF_STACK : _URC_NO_REASON;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    vdso_clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The calling thread's node (its CPU's), NO_NODE if unknown. */
static unsigned thread_node(void)
{
    struct cpu_route route = current_route();
    return route.node_index == CPU_NODE_UNKNOWN ? NO_NODE
                                                : (unsigned)na_topo.node_id[route.node_index];
}

static int thread_id(void)
{
    return na_thread_state.tid ? na_thread_state.tid : (int)syscall(SYS_gettid);
}

/* ---- samples ------------------------------------------------------------ */

/* The stack by libunwind, less our own leading frames: frames kept. */
static uint32_t fast_stack(unw_backtrace_fn trace, uintptr_t *pc)
{
    enum { OWN_MAX = 8 }; /* frames of ours above the caller's: room for them */
    void *raw[PROF_DEPTH + OWN_MAX];
    int n = trace(raw, PROF_DEPTH + OWN_MAX), first = 0;
    while (first < n && (uintptr_t)raw[first] >= tab.own_start &&
           (uintptr_t)raw[first] < tab.own_end)
        first++;
    uint32_t depth = 0;
    for (int i = first; i < n && depth < PROF_DEPTH; i++)
        pc[depth++] = (uintptr_t)raw[i];
    return depth;
}

/*
 * With both unwinders (auto), a thread's first FAST_AFTER stacks are taken by
 * libgcc's: libunwind's fast trace makes a cache of its own for each thread
 * (256 KiB mapped, faulted in, unmapped at its exit), which a thread that
 * takes a few samples and ends never pays back: short-threads in the
 * benchmark ran 5x slower with it. A thread that samples on is worth it.
 */
#define FAST_AFTER 16

uint32_t prof_note_alloc(size_t request, size_t counted, unsigned slot)
{
    me.busy = 1;
    uintptr_t pc[PROF_DEPTH];
    struct unwind_state st = {pc, 0, true};
    unw_backtrace_fn trace = __atomic_load_n(&unwind_fast, __ATOMIC_ACQUIRE);
    backtrace_fn backtrace = __atomic_load_n(&unwind_backtrace, __ATOMIC_ACQUIRE);
    if (backtrace && me.stacks < FAST_AFTER) {
        me.stacks++;
        trace = NULL;
    }
    if (trace)
        st.depth = fast_stack(trace, pc);
    else if (backtrace)
        backtrace(unwind_one, &st); /* outside the lock: it may take libgcc's */
    double p = one_minus_exp_neg((double)counted / (double)rate);
    unsigned tnode = thread_node(), decision = me.decision;
    uint64_t born = now_ns();
    int tid = thread_id();
    uint32_t id = 0;
    na_lock(&lock);
    __atomic_store_n(&tab.samples, tab.samples + 1, __ATOMIC_RELAXED);
    uint32_t stack = tables_ready() ? stack_id(pc, st.depth) : 0;
    uint32_t site = stack ? site_id(stack, (unsigned)na_topo.slot_node[slot], tnode, decision) : 0;
    if (site && (tab.live_free || tab.live_used < LIVE_MAX)) {
        if (tab.live_free) {
            id = tab.live_free;
            tab.live_free = tab.live[id - 1].site;
        } else {
            id = ++tab.live_used;
        }
        tab.live[id - 1] = (struct live_sample){site, tid, born, 1 / p, (double)request / p};
        __atomic_store_n(&tab.live_count, tab.live_count + 1, __ATOMIC_RELAXED);
        struct site *s = &tab.sites[site - 1];
        s->samples++;
        s->objects += 1 / p;
        s->bytes += (double)request / p;
    } else {
        __atomic_store_n(&tab.lost, tab.lost + 1, __ATOMIC_RELAXED);
    }
    na_unlock(&lock);
    me.busy = 0;
    return id;
}

void prof_note_free(uint32_t id)
{
    unsigned tnode = thread_node();
    int tid = thread_id();
    uint64_t died = now_ns();
    na_lock(&lock);
    struct live_sample *ls = &tab.live[id - 1];
    struct site *s = &tab.sites[ls->site - 1];
    s->freed_objects += ls->objects;
    s->freed_bytes += ls->bytes;
    if (tid != ls->tid)
        s->freed_other_thread_bytes += ls->bytes;
    if (tnode != s->node)
        s->freed_other_node_bytes += ls->bytes;
    s->lifetime_ns += died > ls->born_ns ? died - ls->born_ns : 0;
    s->lifetime_samples++;
    ls->site = tab.live_free;
    tab.live_free = id;
    __atomic_store_n(&tab.live_count, tab.live_count - 1, __ATOMIC_RELAXED);
    na_unlock(&lock);
}

/* ---- the file ----------------------------------------------------------- */

static void put_hex(struct textbuf *tb, uint64_t v)
{
    char out[19] = "0x";
    int n = 2;
    for (int shift = 60; shift >= 0; shift -= 4)
        if ((v >> shift) || shift == 0 || n > 2)
            out[n++] = "0123456789abcdef"[(v >> shift) & 15];
    out[n] = '\0';
    tb_str(tb, out);
}

/* Rounded to a whole number (the estimates are doubles). */
static void put_count(struct textbuf *tb, const char *key, double v)
{
    tb_str(tb, key);
    tb_u64(tb, v <= 0 ? 0 : (uint64_t)(v + 0.5));
}

/* Bytes < 0x21, > 0x7e and '\' as \xHH; `len` bytes. */
static void put_escaped(struct textbuf *tb, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        char one[5] = {(char)c, '\0'};
        if (c < 0x21 || c > 0x7e || c == '\\') {
            one[0] = '\\';
            one[1] = 'x';
            one[2] = "0123456789abcdef"[c >> 4];
            one[3] = "0123456789abcdef"[c & 15];
            one[4] = '\0';
        }
        tb_str(tb, one);
    }
}

static void put_seconds(struct textbuf *tb, const char *key, uint64_t ms)
{
    char frac[4] = {(char)('0' + ms % 1000 / 100), (char)('0' + ms % 100 / 10),
                    (char)('0' + ms % 10), '\0'};
    tb_str(tb, key);
    tb_u64(tb, ms / 1000);
    tb_str(tb, ".");
    tb_str(tb, frac);
    tb_str(tb, "\n");
}

static const char *const decision_names[PROF_DECISIONS] = {
    "local",         "bind",          "preferred",         "interleave",     "explicit",
    "fallback-full", "fallback-slot", "fallback-unusable", "fallback-other", "unbound",
};

/* /proc/self/maps: the executable lines with a path, as "map <start> <end> <perms> <offset>
 * <path>". */
static bool put_map(const char *line, void *arg)
{
    struct textbuf *tb = arg;
    const char *field[6] = {line};
    int n = 1;
    for (const char *c = line; *c && n < 6; c++)
        if (*c == ' ' && c[1] != ' ') {
            field[n++] = c + 1;
        }
    if (n < 6 || field[1][2] != 'x')
        return false;
    const char *path = field[5];
    while (*path == ' ')
        path++;
    size_t len = strlen(path);
    while (len && (path[len - 1] == '\n' || path[len - 1] == ' '))
        len--;
    if (len == 0)
        return false;
    const char *dash = strchr(line, '-');
    tb_str(tb, "map 0x");
    char part[64];
    size_t start_len = (size_t)(dash - line), end_len = (size_t)(field[1] - 1 - (dash + 1));
    size_t off_len = (size_t)(field[3] - 1 - field[2]);
    if (start_len >= sizeof part || end_len >= sizeof part || off_len >= sizeof part)
        return false;
    memcpy(part, line, start_len);
    part[start_len] = '\0';
    tb_str(tb, part);
    tb_str(tb, " 0x");
    memcpy(part, dash + 1, end_len);
    part[end_len] = '\0';
    tb_str(tb, part);
    tb_str(tb, " ");
    memcpy(part, field[1], 4);
    part[4] = '\0';
    tb_str(tb, part);
    tb_str(tb, " 0x");
    memcpy(part, field[2], off_len);
    part[off_len] = '\0';
    tb_str(tb, part);
    tb_str(tb, " ");
    put_escaped(tb, path, len);
    tb_str(tb, "\n");
    return false;
}

static void put_header(struct textbuf *tb, bool complete)
{
    NA_COLD_BSS static char buf[4096]; /* under the lock: one writer at a time */
    tb_str(tb, "numa-alloc-profile 1\nversion " NA_VERSION_STRING "\npid ");
    tb_u64(tb, (uint64_t)syscall(SYS_getpid));
    tb_str(tb, "\nprogram ");
    long n = syscall(SYS_readlink, "/proc/self/exe", buf, sizeof buf - 1);
    put_escaped(tb, buf, n > 0 ? (size_t)n : 0);
    tb_str(tb, "\nargs");
    n = os_read_file("/proc/self/cmdline", buf, sizeof buf);
    for (long at = 0; at < n;) {
        size_t len = strnlen(buf + at, (size_t)(n - at));
        tb_str(tb, " ");
        put_escaped(tb, buf + at, len);
        at += (long)len + 1;
    }
    if (n >= (long)sizeof buf - 1)
        tb_str(tb, " ...");
    tb_str(tb, "\n");
    put_seconds(tb, "time_unix ", os_wall_ms());
    put_seconds(tb, "start_unix ", tab.start_ms);
    tb_str(tb, "rate ");
    tb_u64(tb, rate);
    tb_str(tb, "\ndepth ");
    tb_u64(tb, PROF_DEPTH);
    bool fast = __atomic_load_n(&unwind_fast, __ATOMIC_ACQUIRE) != NULL;
    bool slow = __atomic_load_n(&unwind_backtrace, __ATOMIC_ACQUIRE) != NULL;
    tb_str(tb, fast && slow ? "\nunwinder libgcc+libunwind"
               : fast       ? "\nunwinder libunwind"
               : slow       ? "\nunwinder libgcc"
                            : "\nunwinder none");
    tb_str(tb, "\ncomplete ");
    tb_str(tb, complete ? "1" : "0");
    tb_str(tb, "\n");
    for (int slot = 0; slot < na_topo.num_slots; slot++) {
        tb_str(tb, "node ");
        tb_u64(tb, (uint64_t)na_topo.slot_node[slot]);
        tb_str(tb, " ");
        tb_u64(tb, (uint64_t)slot);
        tb_str(tb, "\n");
    }
}

static void put_site(struct textbuf *tb, const struct site *s)
{
    tb_str(tb, "site ");
    tb_u64(tb, s->stack);
    tb_str(tb, " node=");
    tb_i64(tb, s->node == NO_NODE ? -1 : s->node);
    tb_str(tb, " thread_node=");
    tb_i64(tb, s->thread_node == NO_NODE ? -1 : s->thread_node);
    tb_str(tb, " decision=");
    tb_str(tb, decision_names[s->decision]);
    tb_str(tb, " samples=");
    tb_u64(tb, s->samples);
    put_count(tb, " objects=", s->objects);
    put_count(tb, " bytes=", s->bytes);
    put_count(tb, " freed_objects=", s->freed_objects);
    put_count(tb, " freed_bytes=", s->freed_bytes);
    put_count(tb, " freed_other_thread_bytes=", s->freed_other_thread_bytes);
    put_count(tb, " freed_other_node_bytes=", s->freed_other_node_bytes);
    put_count(tb, " live_objects=", s->objects - s->freed_objects);
    put_count(tb, " live_bytes=", s->bytes - s->freed_bytes);
    tb_str(tb, " lifetime_ns=");
    tb_u64(tb, s->lifetime_ns);
    tb_str(tb, " lifetime_samples=");
    tb_u64(tb, s->lifetime_samples);
    tb_str(tb, "\n");
}

int prof_write(int fd, bool complete)
{
    NA_COLD_BSS static char buf[8192];
    struct textbuf tb;
    me.busy = 1;
    na_lock(&lock);
    tb_init_fd(&tb, buf, sizeof buf, fd);
    put_header(&tb, complete);
    os_each_line("/proc/self/maps", put_map, &tb);
    for (uint32_t i = 0; tab.ready && i < tab.n_stacks; i++) {
        tb_str(&tb, "stack ");
        tb_u64(&tb, i + 1);
        for (uint32_t f = 0; f < tab.stacks[i].depth; f++) {
            tb_str(&tb, " ");
            put_hex(&tb, tab.stacks[i].pc[f]);
        }
        tb_str(&tb, "\n");
    }
    for (uint32_t i = 0; tab.ready && i < tab.n_sites; i++)
        put_site(&tb, &tab.sites[i]);
    tb_str(&tb, "lost ");
    tb_u64(&tb, tab.lost);
    tb_str(&tb, "\nend\n");
    tb_flush(&tb);
    na_unlock(&lock);
    me.busy = 0;
    return -tb.failed;
}

void prof_counts(struct prof_counts *out)
{
    out->rate = rate;
    out->samples = __atomic_load_n(&tab.samples, __ATOMIC_RELAXED);
    out->live_samples = __atomic_load_n(&tab.live_count, __ATOMIC_RELAXED);
    out->lost = __atomic_load_n(&tab.lost, __ATOMIC_RELAXED);
}

void prof_fork_prepare(void)
{
    na_lock(&lock);
}

void prof_fork_parent(void)
{
    na_unlock(&lock);
}

/* The child's profile goes on from the parent's (its file is its own: %p). */
void prof_fork_child(void)
{
    na_lock_reset(&lock);
}
