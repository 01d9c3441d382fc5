/*
 * numa_alloc_demo - allocate through numa-alloc from pinned threads, check
 * with the kernel where every page went, and print per-node locality.
 *
 *   numa_alloc_demo --threads=N --policy=local|bind|preferred|interleave --seed=S
 *                   [--node=N] [--total=SIZE] [--verbose] [--pause-before-verify]
 *
 * What it does:
 *  1. Parses and checks the flags (exit 1 on anything wrong).
 *  2. Sets NUMA_ALLOC_POLICY / NUMA_ALLOC_NODES for the library and, when
 *     they were not already so, re-executes itself (/proc/self/exe): the
 *     library reads its environment once, when it is loaded.
 *  3. Starts N threads, pinned round-robin over the nodes that have CPUs
 *     (libnuma). Each draws a deterministic mix of sizes (xorshift64*,
 *     seeded from --seed and its index; the stream is specified in
 *     tests/demo/README.md, and tests/demo/demo_oracle.py predicts this
 *     program's stdout from it) until its share of --total is
 *     spent, allocates each block through the library (malloc, calloc,
 *     posix_memalign; with --policy=local --node=N: numa_malloc, numa_calloc,
 *     numa_aligned_alloc on N) and writes every page of it. A NULL is an
 *     allocation failure (exit 2).
 *  4. Asks the kernel where every page of every block is (numa_move_pages,
 *     query mode) and compares with the node the block should be on: the
 *     node numa_ptr_node() names (bind: also the --node), any interleave
 *     node for the page-interleaved huge blocks of --policy=interleave.
 *     Any page elsewhere is a misplacement (exit 3, after the report).
 *     Where the kernel refuses move_pages (EPERM or ENOSYS: a container's
 *     seccomp profile, a kernel without NUMA), nothing can be verified:
 *     each page is counted on the node numa_ptr_node() names - the
 *     allocator's intent - the lines say "(intended, not verified)", one
 *     line on stderr says why, and the exit status is 4.
 *  5. Prints, per node with memory that has CPUs or got any block:
 *        Node 0: 3.2 GB allocated, 98.1% local
 *     one line for the other nodes with memory, if any (memory-only nodes
 *     the run never touched: 126 of a 128-node machine with CPUs on two):
 *        Nodes 2-127 (126 nodes): nothing allocated
 *     and then
 *        Remote allocations: 2.1%
 *     "GB" is GiB (2^30 bytes), as in the library's own statistics.
 *     Bytes are requested bytes, counted on the node where their page lies.
 *     "% local" is by bytes: the share of the bytes on that node that were
 *     allocated by threads pinned to that node (0.0 when the node got none).
 *     "Remote allocations" is by blocks: blocks whose node (numa_ptr_node)
 *     is not the node of the thread that allocated them.
 *
 * Nothing printed on stdout depends on timing: the same seed, threads, total
 * and policy give the same output on the same topology. Bookkeeping lives in
 * mmap'd memory, not in the heaps under test.
 *
 * This is a tool, not the allocator: stdio and libnuma are fine here.
 */
#define _GNU_SOURCE
#include "numa_alloc.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <numa.h>
#include <numaif.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define EXIT_OK         0
#define EXIT_USAGE      1
#define EXIT_ALLOC      2
#define EXIT_PLACEMENT  3
#define EXIT_UNVERIFIED 4

#define PAGE          4096UL
#define MAX_NODES     1024
#define MAX_THREADS   4096
#define DEFAULT_TOTAL ((uint64_t)256 << 20)
/* Objects above this are huge; under interleave their pages are spread over the nodes. */
#define HUGE_MIN       ((size_t)2 << 20)
#define REEXEC_GUARD   "NUMA_ALLOC_DEMO_REEXEC"
#define MAX_MISSES     16 /* sizes in a row that do not fit the budget: the thread is done */
#define BATCH_PAGES    4096
#define PROGRESS_AFTER 1.0 /* seconds before progress lines start */

enum policy { POL_LOCAL, POL_BIND, POL_PREFERRED, POL_INTERLEAVE };
static const char *const policy_names[] = {"local", "bind", "preferred", "interleave"};

struct options {
    unsigned threads;
    enum policy policy;
    uint64_t seed;
    int node; /* -1: not given */
    uint64_t total;
    bool total_given;
    bool verbose;
    bool pause;
};

struct block {
    char *ptr;
    size_t size;
};

struct worker {
    pthread_t thread;
    unsigned index;
    int node; /* where it is pinned */
    uint64_t rng;
    uint64_t budget;
    uint64_t allocated;
    struct block *blocks; /* mmap'd, grown with mremap */
    size_t count, capacity;
    /* failure */
    int failed; /* 0, or 1: allocation NULL, 2: bookkeeping, 3: pinning */
    int fail_errno;
    size_t fail_size;
};

static struct options opt = {.threads = 4, .policy = POL_LOCAL, .seed = 42, .node = -1};
static struct worker *workers;
static int cpu_nodes[MAX_NODES], num_cpu_nodes;
static int mem_nodes[MAX_NODES], num_mem_nodes;

static atomic_uint_fast64_t progress_bytes;
static atomic_int progress_step;
static struct timespec start_time;

/* ---- helpers ------------------------------------------------------------- */

static void die_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("ERROR: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\nTry 'numa_alloc_demo --help'.\n", stderr);
    va_end(ap);
    exit(EXIT_USAGE);
}

static double elapsed_s(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start_time.tv_sec) + (now.tv_nsec - start_time.tv_nsec) / 1e9;
}

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* xorshift64* (Vigna): state never 0. */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545f4914f6cdd1dULL;
}

static uint64_t rng_below(uint64_t *s, uint64_t n)
{
    return rng_next(s) % n;
}

static bool parse_u64(const char *s, uint64_t *out)
{
    if (!*s || *s == '-' || *s == '+')
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

/* 123, 64K, 32M, 1.5G, 2GiB, 512MB: binary units. */
static bool parse_size(const char *s, uint64_t *out)
{
    if (!*s || *s == '-' || *s == '+')
        return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || v < 0)
        return false;
    double mult = 1;
    switch (*end) {
    case 'k':
    case 'K':
        mult = 1024.0;
        end++;
        break;
    case 'm':
    case 'M':
        mult = 1024.0 * 1024;
        end++;
        break;
    case 'g':
    case 'G':
        mult = 1024.0 * 1024 * 1024;
        end++;
        break;
    case 't':
    case 'T':
        mult = 1024.0 * 1024 * 1024 * 1024;
        end++;
        break;
    default:
        break;
    }
    if (mult > 1 && (!strcmp(end, "iB") || !strcmp(end, "B")))
        end += strlen(end);
    else if (mult == 1 && !strcmp(end, "B"))
        end++;
    if (*end)
        return false;
    v *= mult;
    if (v > 1e18)
        return false;
    *out = (uint64_t)v;
    return true;
}

static void usage(void)
{
    fputs("Usage: numa_alloc_demo [--threads=N] [--policy=POLICY] [--seed=S] [--node=N]\n"
          "                       [--total=SIZE] [--verbose] [--pause-before-verify]\n"
          "\n"
          "Allocates a deterministic mix of block sizes through numa-alloc from N threads\n"
          "pinned round-robin over the NUMA nodes that have CPUs, writes every page, asks\n"
          "the kernel (move_pages) where every page of every block is, and prints:\n"
          "\n"
          "  Node 0: 0.1 GB allocated, 100.0% local     (each node with memory and CPUs,\n"
          "                                              or that got a block)\n"
          "  Nodes 2-127 (126 nodes): nothing allocated (the other nodes, if any)\n"
          "  Remote allocations: 0.0%\n"
          "\n"
          "GB = 2^30 bytes of requested sizes, counted on the node holding their page.\n"
          "'% local' (by bytes): share of the node's bytes allocated by threads pinned to\n"
          "that node. 'Remote allocations' (by blocks): blocks that numa_ptr_node() puts\n"
          "on another node than their thread's.\n"
          "\n"
          "Options:\n"
          "  --threads=N            allocating threads, 1-4096 (default 4)\n"
          "  --policy=POLICY        local (default), bind, preferred, interleave: sets\n"
          "                         NUMA_ALLOC_POLICY (the demo re-executes itself with it)\n"
          "  --node=N               bind/preferred: the node (NUMA_ALLOC_NODES, default 0);\n"
          "                         local: allocate with numa_malloc(N, ...) and friends;\n"
          "                         not with interleave (which uses all nodes)\n"
          "  --seed=S               seed of the size sequence (default 42)\n"
          "  --total=SIZE           bytes to allocate over all threads, e.g. 32M, 1G\n"
          "                         (default 256M, less when free memory is short)\n"
          "  --verbose              also print exact byte and block counts\n"
          "  --pause-before-verify  after allocating, wait for SIGUSR1 before verifying\n"
          "  -h, --help             show this help\n"
          "\n"
          "Exit status: 0 success, 1 invalid node or arguments, 2 allocation failure,\n"
          "3 placement verification failure (pages not where they should be),\n"
          "4 placement not verified: the kernel refused move_pages (e.g. a container's\n"
          "  seccomp profile); the figures are then the allocator's intent.\n",
          stdout);
}

/* ---- topology -------------------------------------------------------------- */

static bool node_has_memory(int node)
{
    long long free_bytes;
    return node >= 0 && node <= numa_max_node() &&
           numa_bitmask_isbitset(numa_all_nodes_ptr, node) &&
           numa_node_size64(node, &free_bytes) > 0;
}

static void discover_nodes(void)
{
    struct bitmask *cpus = numa_allocate_cpumask();
    for (int node = 0; node <= numa_max_node() && node < MAX_NODES; node++) {
        if (node_has_memory(node))
            mem_nodes[num_mem_nodes++] = node;
        if (numa_node_to_cpus(node, cpus) != 0)
            continue;
        for (unsigned cpu = 0; cpu < cpus->size; cpu++) {
            if (numa_bitmask_isbitset(cpus, cpu) && numa_bitmask_isbitset(numa_all_cpus_ptr, cpu)) {
                cpu_nodes[num_cpu_nodes++] = node;
                break;
            }
        }
    }
    numa_free_cpumask(cpus);
}

static uint64_t free_memory_of(int node)
{
    long long free_bytes = 0;
    if (numa_node_size64(node, &free_bytes) < 0 || free_bytes < 0)
        return 0;
    return (uint64_t)free_bytes;
}

/* Free memory of the nodes this run allocates from. */
static uint64_t target_free_memory(void)
{
    if (opt.node >= 0)
        return free_memory_of(opt.node);
    if (opt.policy == POL_BIND || opt.policy == POL_PREFERRED)
        return free_memory_of(0);
    uint64_t sum = 0;
    for (int i = 0; i < num_mem_nodes; i++)
        sum += free_memory_of(mem_nodes[i]);
    return sum;
}

/* ---- flags and environment ------------------------------------------------- */

static void parse_args(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *eq = strchr(arg, '=');
        size_t name_len = eq ? (size_t)(eq - arg) : strlen(arg);
        const char *value = eq ? eq + 1 : NULL;
#define IS(name) (name_len == strlen(name) && !strncmp(arg, name, name_len))
        if (IS("-h") || IS("--help")) {
            usage();
            exit(EXIT_OK);
        } else if (IS("--verbose") || IS("--pause-before-verify")) {
            if (value)
                die_usage("%.*s takes no value", (int)name_len, arg);
            if (IS("--verbose"))
                opt.verbose = true;
            else
                opt.pause = true;
        } else if (IS("--threads") || IS("--policy") || IS("--seed") || IS("--node") ||
                   IS("--total")) {
            if (!value || !*value)
                die_usage("%.*s needs a value: %.*s=VALUE", (int)name_len, arg, (int)name_len, arg);
            uint64_t v;
            if (IS("--threads")) {
                if (!parse_u64(value, &v) || v < 1 || v > MAX_THREADS)
                    die_usage("--threads must be a number from 1 to %d, not '%s'", MAX_THREADS,
                              value);
                opt.threads = (unsigned)v;
            } else if (IS("--policy")) {
                int found = -1;
                for (int p = 0; p < 4; p++)
                    if (!strcmp(value, policy_names[p]))
                        found = p;
                if (found < 0)
                    die_usage("invalid --policy=%s (accepted: local, bind, preferred, interleave)",
                              value);
                opt.policy = (enum policy)found;
            } else if (IS("--seed")) {
                if (!parse_u64(value, &v))
                    die_usage("--seed must be a non-negative integer, not '%s'", value);
                opt.seed = v;
            } else if (IS("--node")) {
                if (!parse_u64(value, &v) || v > INT_MAX)
                    die_usage("--node must be a node number, not '%s'", value);
                opt.node = (int)v;
            } else {
                if (!parse_size(value, &v) || v < PAGE)
                    die_usage("--total must be a size of at least 4K (e.g. 32M, 1G), not '%s'",
                              value);
                opt.total = v;
                opt.total_given = true;
            }
        } else {
            die_usage("unknown option '%s'", arg);
        }
#undef IS
    }
}

static void check_nodes(void)
{
    if (opt.node >= 0 && !node_has_memory(opt.node)) {
        fprintf(stderr, "ERROR: node %d not available\n", opt.node);
        exit(EXIT_USAGE);
    }
    if (opt.node >= 0 && opt.policy == POL_INTERLEAVE)
        die_usage("--node cannot be used with --policy=interleave (it interleaves over all nodes)");
    if (num_cpu_nodes == 0 || num_mem_nodes == 0) {
        fprintf(stderr, "ERROR: no NUMA node with CPUs and memory is available\n");
        exit(EXIT_USAGE);
    }
    if ((opt.policy == POL_BIND || opt.policy == POL_PREFERRED) && opt.node < 0 &&
        !node_has_memory(0)) {
        fprintf(stderr, "ERROR: node 0 not available (give --node)\n");
        exit(EXIT_USAGE);
    }
}

/*
 * The library reads NUMA_ALLOC_* once, when it is loaded: set them, and run
 * this program again when they were not what this run needs.
 */
static void apply_policy_environment(char **argv)
{
    /* NULL: unset (local ignores the node list, and says so when it is set). */
    char nodes_buf[32];
    const char *nodes = NULL;
    if (opt.policy == POL_BIND || opt.policy == POL_PREFERRED) {
        snprintf(nodes_buf, sizeof nodes_buf, "%d", opt.node >= 0 ? opt.node : 0);
        nodes = nodes_buf;
    } else if (opt.policy == POL_INTERLEAVE) {
        nodes = "all";
    }
    const char *want_policy = policy_names[opt.policy];
    const char *have_policy = getenv("NUMA_ALLOC_POLICY");
    const char *have_nodes = getenv("NUMA_ALLOC_NODES");
    bool nodes_ok = nodes ? have_nodes && !strcmp(have_nodes, nodes) : !have_nodes;
    if (have_policy && !strcmp(have_policy, want_policy) && nodes_ok) {
        unsetenv(REEXEC_GUARD);
        return;
    }
    if (getenv(REEXEC_GUARD)) {
        fprintf(stderr, "ERROR: NUMA_ALLOC_POLICY/NUMA_ALLOC_NODES not applied after re-exec\n");
        exit(EXIT_USAGE);
    }
    if (setenv("NUMA_ALLOC_POLICY", want_policy, 1) ||
        (nodes ? setenv("NUMA_ALLOC_NODES", nodes, 1) : unsetenv("NUMA_ALLOC_NODES")) ||
        setenv(REEXEC_GUARD, "1", 1)) {
        fprintf(stderr, "ERROR: cannot set the environment: %s\n", strerror(errno));
        exit(EXIT_USAGE);
    }
    fflush(NULL);
    execv("/proc/self/exe", argv);
    fprintf(stderr, "ERROR: cannot re-execute /proc/self/exe: %s\n", strerror(errno));
    exit(EXIT_USAGE);
}

/* ---- allocating threads ----------------------------------------------------- */

static bool record(struct worker *w, char *p, size_t size)
{
    if (w->count == w->capacity) {
        size_t old_bytes = w->capacity * sizeof *w->blocks;
        size_t new_cap = w->capacity ? w->capacity * 2 : 1024;
        void *q = w->blocks
                      ? mremap(w->blocks, old_bytes, new_cap * sizeof *w->blocks, MREMAP_MAYMOVE)
                      : mmap(NULL, new_cap * sizeof *w->blocks, PROT_READ | PROT_WRITE,
                             MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (q == MAP_FAILED)
            return false;
        w->blocks = q;
        w->capacity = new_cap;
    }
    w->blocks[w->count++] = (struct block){p, size};
    return true;
}

/* Next block size: mostly small, a few large, now and then a huge one. */
static size_t next_size(uint64_t *rng)
{
    uint64_t r = rng_below(rng, 100);
    if (r < 50)
        return 8 + rng_below(rng, 504); /* 8 B .. 511 B */
    if (r < 80)
        return 512 + rng_below(rng, (16 << 10) - 512); /* .. 16 KiB */
    if (r < 95)
        return (16 << 10) + rng_below(rng, 240 << 10); /* .. 256 KiB */
    if (r < 99)
        return (256 << 10) + rng_below(rng, (2 << 20) - (256 << 10) - 4096); /* large */
    return HUGE_MIN + 1 + rng_below(rng, 6 << 20);                           /* huge */
}

static void *allocate(size_t size, unsigned how, size_t alignment)
{
    void *p = NULL;
    if (opt.node >= 0 && opt.policy == POL_LOCAL) {
        if (how == 0)
            p = numa_malloc(opt.node, size);
        else if (how == 1)
            p = numa_calloc(opt.node, 1, size);
        else
            p = numa_aligned_alloc(opt.node, alignment, size);
        return p;
    }
    if (how == 0)
        return malloc(size);
    if (how == 1)
        return calloc(1, size);
    int rc = posix_memalign(&p, alignment, size);
    if (rc) {
        errno = rc;
        return NULL;
    }
    return p;
}

static void touch(char *p, size_t size, unsigned char value)
{
    p[0] = (char)value;
    for (size_t off = PAGE - ((uintptr_t)p & (PAGE - 1)); off < size; off += PAGE)
        p[off] = (char)value;
    p[size - 1] = (char)value;
}

static void report_progress(uint64_t size)
{
    uint64_t done = atomic_fetch_add(&progress_bytes, size) + size;
    int step = (int)(done * 10 / opt.total);
    int last = atomic_load(&progress_step);
    while (step > last) {
        if (atomic_compare_exchange_weak(&progress_step, &last, step)) {
            if (elapsed_s() >= PROGRESS_AFTER)
                fprintf(stderr, "numa_alloc_demo: %d%% allocated (%" PRIu64 " MiB)\n", step * 10,
                        done >> 20);
            break;
        }
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    if (numa_run_on_node(w->node) != 0) {
        w->failed = 3;
        w->fail_errno = errno;
        return NULL;
    }
    sched_yield();
    unsigned misses = 0;
    while (misses < MAX_MISSES) {
        size_t size = next_size(&w->rng);
        unsigned how = (unsigned)rng_below(&w->rng, 10); /* 0-7 malloc, 8 calloc, 9 aligned */
        size_t alignment = (size_t)16 << rng_below(&w->rng, 9);
        how = how < 8 ? 0 : how - 7;
        if (w->allocated + size > w->budget) {
            misses++;
            continue;
        }
        misses = 0;
        errno = 0;
        char *p = allocate(size, how, alignment);
        if (!p) {
            w->failed = 1;
            w->fail_errno = errno;
            w->fail_size = size;
            return NULL;
        }
        touch(p, size, (unsigned char)(w->index + 1));
        if (!record(w, p, size)) {
            w->failed = 2;
            w->fail_errno = errno;
            w->fail_size = size;
            return NULL;
        }
        w->allocated += size;
        report_progress(size);
    }
    return NULL;
}

/* ---- verification and report ------------------------------------------------ */

struct node_count {
    uint64_t bytes;       /* requested bytes whose page is on this node */
    uint64_t local_bytes; /* ... allocated by a thread pinned to this node */
    uint64_t blocks;      /* blocks numa_ptr_node() puts here */
};

static struct node_count counts[MAX_NODES];
static uint64_t total_blocks, remote_blocks, pages_checked, pages_misplaced;
static int verify_refused; /* errno of a move_pages the kernel refused (EPERM, ENOSYS), or 0 */
static bool first_noted;
static char first_note[256];

static bool is_interleave_node(int node)
{
    for (int i = 0; i < num_mem_nodes; i++)
        if (mem_nodes[i] == node)
            return true;
    return false;
}

static void note_misplaced(const struct block *b, uintptr_t page, int status, int expect)
{
    if (first_noted)
        return;
    first_noted = true;
    char where[64];
    if (status >= 0)
        snprintf(where, sizeof where, "on node %d", status);
    else
        snprintf(where, sizeof where, "not resident (%s)", strerror(-status));
    if (expect >= 0)
        snprintf(first_note, sizeof first_note,
                 "first: page %#" PRIxPTR " of the %zu-byte block at %p is %s, expected node %d",
                 page, b->size, (void *)b->ptr, where, expect);
    else
        snprintf(first_note, sizeof first_note,
                 "first: page %#" PRIxPTR " of the %zu-byte block at %p is %s, expected one of "
                 "the interleave nodes",
                 page, b->size, (void *)b->ptr, where);
}

static void verify_block(const struct worker *w, const struct block *b, void **pages, int *status)
{
    int owner = numa_ptr_node(b->ptr);
    bool spread = opt.policy == POL_INTERLEAVE && b->size > HUGE_MIN - PAGE;
    int expect = owner; /* -1 with spread: any interleave node */
    if (opt.policy == POL_BIND)
        expect = opt.node >= 0 ? opt.node : 0;
    if (owner < 0 && !first_noted) {
        first_noted = true;
        snprintf(first_note, sizeof first_note,
                 "first: numa_ptr_node() does not know the %zu-byte block at %p", b->size,
                 (void *)b->ptr);
    }
    total_blocks++;
    if (owner >= 0 && owner < MAX_NODES)
        counts[owner].blocks++;
    if (owner != w->node)
        remote_blocks++;

    uintptr_t first = (uintptr_t)b->ptr & ~(PAGE - 1);
    uintptr_t end = (uintptr_t)b->ptr + b->size;
    size_t n_pages = (end - first + PAGE - 1) / PAGE;
    for (size_t done = 0; done < n_pages; done += BATCH_PAGES) {
        size_t n = n_pages - done < BATCH_PAGES ? n_pages - done : BATCH_PAGES;
        for (size_t i = 0; i < n; i++)
            pages[i] = (void *)(first + (done + i) * PAGE);
        if (numa_move_pages(0, (unsigned long)n, pages, NULL, status, 0) != 0) {
            int err = errno;
            if (err == EPERM || err == ENOSYS)
                verify_refused = err;
            for (size_t i = 0; i < n; i++)
                status[i] = verify_refused ? owner : -err; /* refused: the intended node */
        }
        for (size_t i = 0; i < n; i++) {
            uintptr_t page = first + (done + i) * PAGE;
            uintptr_t lo = page > (uintptr_t)b->ptr ? page : (uintptr_t)b->ptr;
            uintptr_t hi = page + PAGE < end ? page + PAGE : end;
            int node = status[i];
            pages_checked += !verify_refused;
            bool ok;
            if (verify_refused)
                ok = true; /* unknown, not misplaced: the report says so */
            else if (spread)
                ok = node >= 0 && is_interleave_node(node);
            else
                ok = owner >= 0 && node == expect;
            if (!ok) {
                pages_misplaced++;
                note_misplaced(b, page, node, spread ? -1 : expect);
            }
            if (node >= 0 && node < MAX_NODES) {
                counts[node].bytes += hi - lo;
                if (node == w->node)
                    counts[node].local_bytes += hi - lo;
            }
        }
    }
}

static void verify_all(void)
{
    void **pages = malloc(BATCH_PAGES * sizeof *pages);
    int *status = malloc(BATCH_PAGES * sizeof *status);
    if (!pages || !status) {
        fprintf(stderr, "ERROR: allocation failed: %zu bytes for the verification buffers\n",
                BATCH_PAGES * sizeof *pages);
        exit(EXIT_ALLOC);
    }
    for (unsigned t = 0; t < opt.threads; t++)
        for (size_t i = 0; i < workers[t].count; i++)
            verify_block(&workers[t], &workers[t].blocks[i], pages, status);
    free(pages);
    free(status);
}

static double pct(uint64_t part, uint64_t whole)
{
    return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

static bool is_cpu_node(int node)
{
    for (int i = 0; i < num_cpu_nodes; i++)
        if (cpu_nodes[i] == node)
            return true;
    return false;
}

/*
 * Whether node `node` (with memory) gets a line of its own: it has CPUs (the
 * demo's threads run there, round-robin) or it got something. On a machine
 * whose nodes all have CPUs that is every node, as in the seed; the others
 * (memory-only nodes the run never touched: 126 in a 128-node guest with CPUs
 * on two) share one line.
 */
static bool node_shown(int node)
{
    return is_cpu_node(node) || counts[node].bytes || counts[node].blocks;
}

/* "Nodes 2-63, 65 (63 nodes): nothing allocated" for the nodes not shown, as the library's
 * statistics fold them (docs/stats.md); nothing when every node is shown. */
static void print_folded(void)
{
    int folded = 0;
    for (int i = 0; i < num_mem_nodes; i++)
        folded += !node_shown(mem_nodes[i]);
    if (!folded)
        return;
    printf(folded == 1 ? "Node " : "Nodes ");
    for (int i = 0, first = 1; i < num_mem_nodes; i++) {
        if (node_shown(mem_nodes[i]))
            continue;
        int last = i;
        while (last + 1 < num_mem_nodes && !node_shown(mem_nodes[last + 1]) &&
               mem_nodes[last + 1] == mem_nodes[last] + 1)
            last++;
        printf(last > i ? "%s%d-%d" : "%s%d", first ? "" : ", ", mem_nodes[i], mem_nodes[last]);
        first = 0;
        i = last;
    }
    if (folded > 1)
        printf(" (%d nodes)", folded);
    printf(": nothing allocated\n");
}

static void print_report(void)
{
    for (int i = 0; i < num_mem_nodes; i++) {
        const struct node_count *c = &counts[mem_nodes[i]];
        if (!node_shown(mem_nodes[i]))
            continue;
        printf("Node %d: %.1f GB allocated, %.1f%% local%s\n", mem_nodes[i],
               (double)c->bytes / (double)(1ULL << 30), pct(c->local_bytes, c->bytes),
               verify_refused ? " (intended, not verified)" : "");
    }
    print_folded();
    printf("Remote allocations: %.1f%%\n", pct(remote_blocks, total_blocks));
    if (!opt.verbose)
        return;
    uint64_t bytes = 0;
    for (int i = 0; i < num_mem_nodes; i++) {
        const struct node_count *c = &counts[mem_nodes[i]];
        bytes += c->bytes;
        if (!node_shown(mem_nodes[i]))
            continue;
        printf("node %d: bytes %" PRIu64 ", local bytes %" PRIu64 ", blocks %" PRIu64 "\n",
               mem_nodes[i], c->bytes, c->local_bytes, c->blocks);
    }
    printf("total: bytes %" PRIu64 ", blocks %" PRIu64 ", remote blocks %" PRIu64
           ", misplaced pages %" PRIu64 "\n",
           bytes, total_blocks, remote_blocks, pages_misplaced);
    printf("run: policy %s, threads %u, seed %" PRIu64 ", total %" PRIu64 "\n",
           policy_names[opt.policy], opt.threads, opt.seed, opt.total);
}

/* ---- main ------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    parse_args(argc, argv);
    if (numa_available() < 0) {
        fprintf(stderr, "ERROR: NUMA is not available (libnuma: numa_available() < 0)\n");
        return EXIT_USAGE;
    }
    discover_nodes();
    check_nodes();
    apply_policy_environment(argv);

    uint64_t free_bytes = target_free_memory();
    if (!opt.total_given) {
        opt.total = DEFAULT_TOTAL;
        if (free_bytes && opt.total > free_bytes / 2) {
            opt.total = (free_bytes / 2) & ~(uint64_t)((1 << 20) - 1);
            if (opt.total < PAGE)
                opt.total = PAGE;
            fprintf(stderr, "numa_alloc_demo: free memory is short: --total=%" PRIu64 "M\n",
                    opt.total >> 20);
        }
    } else if (free_bytes && opt.total > free_bytes) {
        fprintf(stderr,
                "numa_alloc_demo: warning: --total (%" PRIu64 " MiB) exceeds the free memory "
                "(%" PRIu64 " MiB) of the nodes it uses; allocations may fail\n",
                opt.total >> 20, free_bytes >> 20);
    }

    workers = calloc(opt.threads, sizeof *workers);
    if (!workers) {
        fprintf(stderr, "ERROR: allocation failed: %u worker records\n", opt.threads);
        return EXIT_ALLOC;
    }
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    if (opt.pause)
        pthread_sigmask(SIG_BLOCK, &usr1, NULL); /* inherited by the workers */

    clock_gettime(CLOCK_MONOTONIC, &start_time);
    for (unsigned t = 0; t < opt.threads; t++) {
        struct worker *w = &workers[t];
        w->index = t;
        w->node = cpu_nodes[t % (unsigned)num_cpu_nodes];
        uint64_t mix = opt.seed ^ ((uint64_t)t * 0xd1b54a32d192ed03ULL);
        w->rng = splitmix64(&mix) | 1;
        w->budget = opt.total / opt.threads + (t < opt.total % opt.threads ? 1 : 0);
        int rc = pthread_create(&w->thread, NULL, worker_main, w);
        if (rc) {
            fprintf(stderr, "ERROR: allocation failed: cannot start thread %u: %s\n", t,
                    strerror(rc));
            return EXIT_ALLOC;
        }
    }
    for (unsigned t = 0; t < opt.threads; t++)
        pthread_join(workers[t].thread, NULL);

    for (unsigned t = 0; t < opt.threads; t++) {
        struct worker *w = &workers[t];
        if (w->failed == 3) {
            fprintf(stderr, "ERROR: cannot pin thread %u to node %d: %s\n", t, w->node,
                    strerror(w->fail_errno));
            return EXIT_USAGE;
        }
    }
    int failed = 0;
    for (unsigned t = 0; t < opt.threads; t++) {
        struct worker *w = &workers[t];
        if (!w->failed)
            continue;
        failed++;
        if (w->failed == 1)
            fprintf(stderr,
                    "ERROR: allocation failed: thread %u (node %d) got NULL for %zu bytes after "
                    "%" PRIu64 " bytes: %s\n",
                    t, w->node, w->fail_size, w->allocated, strerror(w->fail_errno));
        else
            fprintf(stderr,
                    "ERROR: allocation failed: thread %u (node %d): no memory for its block "
                    "list: %s\n",
                    t, w->node, strerror(w->fail_errno));
    }
    if (failed)
        return EXIT_ALLOC;

    if (opt.pause) {
        fprintf(stderr,
                "numa_alloc_demo: paused before verification, pid %d: send SIGUSR1 to go on\n",
                (int)getpid());
        int sig;
        sigwait(&usr1, &sig);
    }
    if (elapsed_s() >= PROGRESS_AFTER)
        fprintf(stderr, "numa_alloc_demo: verifying %" PRIu64 " MiB\n",
                atomic_load(&progress_bytes) >> 20);
    verify_all();
    print_report();
    fflush(stdout);
    if (opt.verbose)
        fprintf(stderr, "numa_alloc_demo: %" PRIu64 " pages checked, %" PRIu64 " misplaced\n",
                pages_checked, pages_misplaced);
    if (verify_refused) {
        fprintf(stderr,
                "numa_alloc_demo: move_pages refused (%s): placement not verified; the figures "
                "are where numa-alloc meant each block to be\n",
                strerror(verify_refused));
        return EXIT_UNVERIFIED;
    }
    if (pages_misplaced) {
        fprintf(stderr, "ERROR: %" PRIu64 " pages misplaced (of %" PRIu64 " checked); %s\n",
                pages_misplaced, pages_checked, first_note);
        return EXIT_PLACEMENT;
    }
    return EXIT_OK;
}
