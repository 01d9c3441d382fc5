/*
 * placement_check.c - placement as the kernel sees it, for the multi-node guest.
 *
 * Every check allocates through numa-alloc (linked in), touches the memory,
 * then asks the kernel where each page of each object lies (move_pages in
 * query mode, through libnuma: independent of the allocator). Exit status 0
 * when every expectation holds, 1 otherwise, with one line per finding.
 *
 *   placement_check explicit     numa_malloc on every node, from threads on every node
 *   placement_check local [N]    default policy, pinned threads: >= 99% on the thread's node
 *                                (N objects a round, live together: 4000, ~400 MiB)
 *   placement_check remote-free  node-A blocks freed on node B never reach node-B threads
 *   placement_check bind N       every object on node N (run with NUMA_ALLOC_POLICY=bind ...)
 *   placement_check every N pinned|unpinned  every page of small, large and huge objects from
 *                                threads on every CPU node (pinned), or from threads left where
 *                                the scheduler (numactl --cpunodebind) puts them, on node N
 *   placement_check nearest FROM EXPECT  bind to several nodes: a thread on FROM gets EXPECT
 *   placement_check interleave   objects and a 64 MiB object's pages balanced within 10%
 *   placement_check weighted W0 W1  node 0 : node 1 share of objects and pages = W0 : W1
 *   placement_check exhaust NODE none|nearest  fill the small node NODE
 *   placement_check tier-fallback NODE WANT  fill NODE (fallback nearest): the rest goes to
 *                                WANT, of the same memory tier, never to another tier
 *   placement_check nearest-fill NODE WANT  fill NODE and 16 MiB more (fallback nearest): the
 *                                rest goes to WANT, the nearest node
 *   placement_check each-node    numa_malloc of a small, a large and a huge object on every
 *                                node, from a thread on every CPU node: every page on it
 *   placement_check interleave-all  (interleave) objects and a 64 MiB object's pages on every
 *                                node with memory, each within 20% of even
 *   placement_check stats-nodes [NODE...]  numa_malloc on each NODE: the JSON lists exactly the
 *                                nodes with a count, the text a line each and one folded line
 *   placement_check tight-calloc NODE  big untouched callocs on the small node NODE (fallback
 *                                none): the node check makes no more than a sample resident
 *   placement_check tight-grow NODE  (fallback none, a long purge delay) a dirty free run at
 *                                the heap's frontier grows into fresh space for a huge
 *                                calloc: the fresh part is checked against the small node
 *                                NODE (512 MiB refused), the old part zeroed
 *   placement_check tight-reuse NODE  (fallback none, a long purge delay) a sparse huge object
 *                                freed on the small node NODE is a dirty run mostly absent:
 *                                with the node nearly full, a calloc from it larger than
 *                                what the node has free is refused, a small one served
 *   placement_check tight-pages NODE  (fallback none, a long purge delay) 1 MiB callocs only
 *                                read, then freed on the small node NODE, are dirty page runs
 *                                of zero pages: with the node nearly full, reusing them ends
 *                                in ENOMEM, and nothing served lies off the node
 *   placement_check migrate      a thread that moves allocates on its new node
 *   placement_check migrate-back a thread that leaves its node (a free there notices the move)
 *                                and comes back to the same CPU: both moves counted, nothing
 *                                it allocates back home booked remote
 *   placement_check cpuless NODE numa_malloc on a node without CPUs
 *   placement_check cpuset NODE  NODE is outside the cpuset: EINVAL, and malloc avoids it
 *   placement_check hold MIB FILE  malloc and touch MIB MiB, create FILE, wait until it is
 *                                  removed (for numastat -p from outside)
 *   placement_check cpuset-change NODE DIR [local|bind:B|interleave]  NODE leaves the cpuset
 *                                while threads allocate and comes back (cpuset_change.sh rewrites
 *                                cpuset.mems when DIR/ready and DIR/shrunk appear): nothing new on
 *                                NODE while it is out; once it is back, new memory where the
 *                                policy (run under it) puts it: the thread's node (local), B, or
 *                                some on NODE again (interleave)
 */
#define _GNU_SOURCE
#include "numa_alloc.h"

#include "guest_check.h"

#include <dirent.h>
#include <errno.h>
#include <numa.h>
#include <numaif.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static int nodes_with_cpus(int *out)
{
    int n = 0;
    struct bitmask *cpus = numa_allocate_cpumask();
    for (int node = 0; node <= numa_max_node(); node++)
        if (numa_bitmask_isbitset(numa_all_nodes_ptr, node) && numa_node_to_cpus(node, cpus) == 0 &&
            numa_bitmask_weight(cpus) > 0)
            out[n++] = node;
    numa_free_cpumask(cpus);
    return n;
}

/* At least two nodes with CPUs into out (nodes_with_cpus); otherwise a failure of `check`. */
static bool two_nodes_with_cpus(int *out, const char *check)
{
    if (nodes_with_cpus(out) >= 2)
        return true;
    printf("FAIL %s needs two nodes with CPUs\n", check);
    failures++;
    return false;
}

static int nodes_with_memory(int *out)
{
    int n = 0;
    for (int node = 0; node <= numa_max_node(); node++) {
        long long free_bytes;
        if (numa_bitmask_isbitset(numa_all_nodes_ptr, node) &&
            numa_node_size64(node, &free_bytes) > 0)
            out[n++] = node;
    }
    return n;
}

static void pin_to_node(int node)
{
    run_on_node(node);
}

static const size_t mix[] = {24, 64, 200, 1000, 4096, 20000, 100000, 700000, 3 << 20};
#define MIX (sizeof mix / sizeof mix[0])

/* ---- explicit: numa_malloc(N) from a thread on node C, for every N and C ---- */

struct explicit_job {
    int cpu_node, mem_node;
};

static void *explicit_thread(void *arg)
{
    struct explicit_job *job = arg;
    pin_to_node(job->cpu_node);
    for (size_t i = 0; i < MIX; i++) {
        for (int rep = 0; rep < 20; rep++) {
            char *p = numa_malloc(job->mem_node, mix[i]);
            EXPECT(p, "numa_malloc(%d, %zu) failed: %s", job->mem_node, mix[i], strerror(errno));
            if (!p)
                continue;
            touch(p, mix[i]);
            size_t wrong = page_census(p, mix[i], job->mem_node, NULL);
            EXPECT(wrong == 0, "numa_malloc(%d, %zu) from node %d: %zu pages elsewhere",
                   job->mem_node, mix[i], job->cpu_node, wrong);
            EXPECT(numa_ptr_node(p) == job->mem_node, "numa_ptr_node says %d, want %d",
                   numa_ptr_node(p), job->mem_node);
            if (rep % 2)
                free(p); /* half are freed and reused, half stay live */
        }
    }
    return NULL;
}

static void check_explicit(void)
{
    int cpu_nodes[MAX_NODES], mem_nodes[MAX_NODES];
    int ncpu = nodes_with_cpus(cpu_nodes), nmem = nodes_with_memory(mem_nodes);
    for (int c = 0; c < ncpu; c++)
        for (int m = 0; m < nmem; m++) {
            struct explicit_job job = {cpu_nodes[c], mem_nodes[m]};
            pthread_t t;
            pthread_create(&t, NULL, explicit_thread, &job);
            pthread_join(t, NULL);
        }
    printf("explicit: %d CPU nodes x %d memory nodes checked\n", ncpu, nmem);
}

/* ---- local: default policy with pinned threads ---- */

struct local_job {
    int node;
    size_t objects, local_objects;
};

static int local_objects = 4000; /* per round; `local N` takes fewer (small nodes) */

static void *local_thread(void *arg)
{
    struct local_job *job = arg;
    pin_to_node(job->node);
    enum { N = 4000 };
    static __thread void *live[N];
    const int n = local_objects < N ? local_objects : N;
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < n; i++) {
            size_t size = mix[(i * 7 + round) % (MIX - 1)]; /* all but the 3 MiB one */
            live[i] = malloc(size);
            touch(live[i], size);
            job->objects++;
            if (page_census(live[i], size, job->node, NULL) == 0)
                job->local_objects++;
        }
        for (int i = 0; i < N; i++)
            free(live[i]);
    }
    return NULL;
}

static void check_local(void)
{
    int nodes[MAX_NODES];
    int n = nodes_with_cpus(nodes);
    struct local_job jobs[MAX_NODES];
    pthread_t threads[MAX_NODES];
    for (int i = 0; i < n; i++) {
        jobs[i] = (struct local_job){.node = nodes[i]};
        pthread_create(&threads[i], NULL, local_thread, &jobs[i]);
    }
    for (int i = 0; i < n; i++) {
        pthread_join(threads[i], NULL);
        double pct = 100.0 * (double)jobs[i].local_objects / (double)jobs[i].objects;
        printf("local: node %d: %zu objects, %.2f%% with every page local\n", nodes[i],
               jobs[i].objects, pct);
        EXPECT(pct >= 99.0, "node %d: only %.2f%% local", nodes[i], pct);
    }
}

/* ---- remote-free: blocks of node A freed by a thread on node B ---- */

enum { REMOTE_BLOCKS = 20000 };
static void *remote_blocks[REMOTE_BLOCKS];
static int node_a, node_b;

static void *remote_alloc_on_a(void *arg)
{
    (void)arg;
    pin_to_node(node_a);
    for (int i = 0; i < REMOTE_BLOCKS; i++) {
        remote_blocks[i] = malloc(16 + (size_t)(i % 32) * 16);
        memset(remote_blocks[i], 0xa, 16);
    }
    return NULL;
}

static void *remote_free_then_alloc_on_b(void *arg)
{
    (void)arg;
    pin_to_node(node_b);
    for (int i = 0; i < REMOTE_BLOCKS; i++)
        free(remote_blocks[i]);
    size_t on_a = 0, reused = 0;
    for (int i = 0; i < REMOTE_BLOCKS; i++) {
        char *p = malloc(16 + (size_t)(i % 32) * 16);
        touch(p, 16);
        if (numa_ptr_node(p) != node_b || page_census(p, 16, node_b, NULL) != 0)
            on_a++;
        for (int j = i % 97; j < REMOTE_BLOCKS; j += 97) /* a sample of old addresses */
            if (remote_blocks[j] == p)
                reused++;
    }
    printf("remote-free: %d node-%d blocks freed on node %d; node-%d thread then got %zu "
           "blocks off its node, %zu old node-%d addresses\n",
           REMOTE_BLOCKS, node_a, node_b, node_b, on_a, reused, node_a);
    EXPECT(on_a == 0, "%zu blocks handed to a node-%d thread are not on node %d", on_a, node_b,
           node_b);
    EXPECT(reused == 0, "%zu node-%d blocks were handed to a node-%d thread", reused, node_a,
           node_b);
    return NULL;
}

static void check_remote_free(void)
{
    int nodes[MAX_NODES];
    if (!two_nodes_with_cpus(nodes, "remote-free"))
        return;
    node_a = nodes[0];
    node_b = nodes[1];
    pthread_t t;
    pthread_create(&t, NULL, remote_alloc_on_a, NULL);
    pthread_join(t, NULL);
    pthread_create(&t, NULL, remote_free_then_alloc_on_b, NULL);
    pthread_join(t, NULL);
}

/* The statistics as JSON (numa_alloc_stats_write into a memfd); one caller at a time. */
static const char *stats_json(void)
{
    static char json[1 << 16];
    int fd = memfd_create("stats", 0);
    EXPECT(fd >= 0 && numa_alloc_stats_write(fd, 1) == 0, "numa_alloc_stats_write failed");
    ssize_t len = fd >= 0 ? pread(fd, json, sizeof json - 1, 0) : -1;
    if (fd >= 0)
        close(fd);
    json[len > 0 ? len : 0] = '\0';
    return json;
}

/* Sums a numeric field over the JSON's thread entries (after "threads"). */
static unsigned long sum_thread_field(const char *json, const char *field)
{
    char key[64];
    snprintf(key, sizeof key, "\"%s\": ", field);
    unsigned long sum = 0;
    const char *at = strstr(json, "\"threads\"");
    for (; at && (at = strstr(at, key));)
        sum += strtoul(at += strlen(key), NULL, 10);
    return sum;
}

/* ---- policies: every object of threads on every node where the policy says ---- */

static void *alloc_objects_on(int cpu_node, size_t count, size_t size, size_t *counts)
{
    pin_to_node(cpu_node);
    for (size_t i = 0; i < count; i++) {
        char *p = malloc(size);
        touch(p, size);
        page_census(p, size, -1, counts);
        /* kept live: the point is where new memory comes from */
    }
    return NULL;
}

static void check_bind(int want)
{
    int nodes[MAX_NODES];
    int n = nodes_with_cpus(nodes);
    for (int i = 0; i < n; i++) {
        size_t counts[MAX_NODES] = {0};
        alloc_objects_on(nodes[i], 300, 20000, counts);
        size_t total = 0;
        for (int node = 0; node < MAX_NODES; node++)
            total += counts[node];
        printf("bind: thread on node %d: %zu of %zu pages on node %d\n", nodes[i], counts[want],
               total, want);
        EXPECT(counts[want] == total, "thread on node %d: %zu of %zu pages off node %d", nodes[i],
               total - counts[want], total, want);
    }
}

struct every_job {
    int cpu_node; /* -1: not pinned */
    size_t counts[MAX_NODES];
};

static void *every_thread(void *arg)
{
    struct every_job *job = arg;
    if (job->cpu_node >= 0)
        pin_to_node(job->cpu_node);
    for (int rep = 0; rep < 10; rep++)
        for (size_t i = 0; i < MIX; i++) {
            char *p = malloc(mix[i]);
            EXPECT(p, "malloc(%zu) failed: %s", mix[i], strerror(errno));
            if (!p)
                continue;
            touch(p, mix[i]);
            page_census(p, mix[i], -1, job->counts);
            if (rep % 2)
                free(p); /* half freed and reused: reuse must not move them either */
        }
    return NULL;
}

static void check_every(int want, bool pinned)
{
    int nodes[MAX_NODES];
    int n = pinned ? nodes_with_cpus(nodes) : 2;
    static struct every_job jobs[MAX_NODES]; /* 8 KiB each: not on the stack */
    pthread_t threads[MAX_NODES];
    for (int i = 0; i < n; i++) {
        jobs[i] = (struct every_job){.cpu_node = pinned ? nodes[i] : -1};
        pthread_create(&threads[i], NULL, every_thread, &jobs[i]);
    }
    for (int i = 0; i < n; i++) {
        pthread_join(threads[i], NULL);
        size_t total = 0;
        for (int node = 0; node < MAX_NODES; node++)
            total += jobs[i].counts[node];
        printf("every: thread %d (%s %d): %zu of %zu pages on node %d\n", i,
               pinned ? "pinned to node" : "unpinned, cpu node", pinned ? nodes[i] : -1,
               jobs[i].counts[want], total, want);
        EXPECT(total > 0 && jobs[i].counts[want] == total,
               "thread %d: %zu of %zu pages off node %d", i, total - jobs[i].counts[want], total,
               want);
    }
}

static void check_nearest(int from, int expect)
{
    size_t counts[MAX_NODES] = {0};
    alloc_objects_on(from, 200, 8192, counts);
    size_t total = 0;
    for (int node = 0; node < MAX_NODES; node++)
        total += counts[node];
    printf("nearest: thread on node %d: %zu of %zu pages on node %d\n", from, counts[expect], total,
           expect);
    EXPECT(counts[expect] == total, "thread on node %d: want every page on node %d", from, expect);
}

/* Share of node 0 among nodes 0 and 1, for objects (by numa_ptr_node) and pages. */
static void check_balance(double want_share, const char *label)
{
    size_t objects[MAX_NODES] = {0}, pages[MAX_NODES] = {0};
    for (int i = 0; i < 400; i++) {
        char *p = malloc(64 << 10);
        touch(p, 64 << 10);
        int node = numa_ptr_node(p);
        if (node >= 0 && node < MAX_NODES)
            objects[node]++;
    }
    char *big = malloc(64 << 20);
    touch(big, 64 << 20);
    page_census(big, 64 << 20, -1, pages);
    double object_share = (double)objects[0] / (double)(objects[0] + objects[1]);
    double page_share = (double)pages[0] / (double)(pages[0] + pages[1]);
    printf("%s: 400 x 64 KiB: node0 %zu node1 %zu; 64 MiB: node0 %zu node1 %zu pages\n", label,
           objects[0], objects[1], pages[0], pages[1]);
    EXPECT(object_share > want_share - 0.1 * want_share &&
               object_share < want_share + 0.1 * want_share,
           "objects: node 0 share %.3f, want %.3f +-10%%", object_share, want_share);
    EXPECT(page_share > want_share - 0.1 * want_share && page_share < want_share + 0.1 * want_share,
           "pages: node 0 share %.3f, want %.3f +-10%%", page_share, want_share);
    free(big);
}

/* ---- exhaustion of a small node ---- */

static void check_exhaust(int node, const char *fallback)
{
    size_t chunk = 1 << 20, got = 0, elsewhere = 0, misplaced = 0;
    void *held[4096];
    size_t nheld = 0;
    int first_failure_errno = 0;
    long long node_size = numa_node_size64(node, NULL);
    size_t limit = (size_t)node_size * 2 / chunk + 64; /* well past the node */
    for (size_t i = 0; i < limit && nheld < 4096; i++) {
        char *p = numa_malloc(node, chunk);
        if (!p) {
            first_failure_errno = errno;
            break;
        }
        touch(p, chunk);
        held[nheld++] = p;
        int owner = numa_ptr_node(p);
        if (owner == node)
            got++;
        else
            elsewhere++;
        if (page_census(p, chunk, owner, NULL) != 0)
            misplaced++;
    }
    printf("exhaust(%s): %zu MiB on node %d, %zu MiB elsewhere, %zu misplaced, stopped with %s\n",
           fallback, got, node, elsewhere, misplaced,
           first_failure_errno ? strerror(first_failure_errno) : "no failure");
    EXPECT(misplaced == 0, "%zu objects have pages off the node that owns them", misplaced);
    EXPECT(got > 0, "nothing was placed on node %d", node);
    if (strcmp(fallback, "none") == 0) {
        EXPECT(first_failure_errno == ENOMEM, "fallback none must end with ENOMEM, got %s",
               strerror(first_failure_errno));
        EXPECT(elsewhere == 0, "fallback none placed %zu MiB elsewhere", elsewhere);
    } else {
        EXPECT(elsewhere > 0, "fallback nearest never went to another node");
    }
    for (size_t i = 0; i < nheld; i++)
        free(held[i]);
    /* The process is alive and can still allocate. */
    void *after = malloc(1 << 20);
    EXPECT(after != NULL, "malloc after exhaustion failed");
    free(after);
}

/*
 * Fills NODE past its size with NUMA_ALLOC_FALLBACK=nearest: what does not fit
 * must go to WANT (a node of the same memory tier), never to a node of another
 * tier, even one the SLIT calls nearer (the cxl topology: 1-2 is 17, 1-0 21).
 */
static void check_tier_fallback(int node, int want, size_t past_mib)
{
    size_t chunk = 1 << 20, on_node = 0, on_want = 0, other = 0, misplaced = 0;
    static void *held[4096];
    size_t nheld = 0;
    long long node_size = numa_node_size64(node, NULL);
    size_t limit = (size_t)node_size / chunk + past_mib; /* past the node */
    for (size_t i = 0; i < limit && nheld < 4096; i++) {
        char *p = numa_malloc(node, chunk);
        EXPECT(p != NULL, "numa_malloc(%d) failed after %zu MiB: %s", node, i, strerror(errno));
        if (!p)
            break;
        touch(p, chunk);
        held[nheld++] = p;
        int owner = numa_ptr_node(p);
        on_node += owner == node;
        on_want += owner == want;
        other += owner != node && owner != want;
        size_t where[MAX_NODES] = {0};
        size_t wrong = page_census(p, chunk, owner, where);
        if (wrong != 0) { /* say where, for the next one who reads a failure */
            misplaced++;
            printf("misplaced: object %zu at %p (owner node %d): %zu of %zu pages off it; "
                   "nodes 0/1/2 hold %zu/%zu/%zu\n",
                   i, p, owner, wrong, chunk / PAGE, where[0], where[1], where[2]);
        }
    }
    printf("fill: %zu MiB on node %d, %zu MiB on node %d (wanted), %zu MiB elsewhere, "
           "%zu misplaced\n",
           on_node, node, on_want, want, other, misplaced);
    EXPECT(misplaced == 0, "%zu objects have pages off the node that owns them", misplaced);
    EXPECT(on_node > 0 && on_want > 0, "want memory on node %d, then on node %d", node, want);
    EXPECT(other == 0, "%zu MiB fell back to a node other than %d", other, want);
    for (size_t i = 0; i < nheld; i++)
        free(held[i]);
}

/* ---- a tight node: the check populates a sample, never the whole request ---- */

/* The process's peak resident set (VmHWM) in bytes. */
static size_t peak_rss_bytes(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    size_t kib = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %zu kB", &kib) == 1)
            break;
    if (f)
        fclose(f);
    return kib << 10;
}

#define TIGHT_RSS_BOUND ((size_t)64 << 20)

static void check_tight_calloc(int node)
{
    /* What the node has free, less 16 MiB: tight (within 32 MiB), yet it fits. */
    long long free_bytes = 0;
    numa_node_size64(node, &free_bytes);
    size_t size = ((size_t)free_bytes - ((size_t)16 << 20)) & ~((size_t)(1 << 20) - 1);
    size_t before = peak_rss_bytes();
    char *sparse = numa_calloc(node, 1, size);
    size_t grew = peak_rss_bytes() - before;
    printf("tight-calloc: %zu MiB of %lld MiB free on node %d: %s, peak RSS grew %zu MiB\n",
           size >> 20, free_bytes >> 20, node, sparse ? "served" : strerror(errno), grew >> 20);
    EXPECT(sparse != NULL, "%zu MiB on node %d with %lld MiB free", size >> 20, node,
           free_bytes >> 20);
    EXPECT(grew < TIGHT_RSS_BOUND, "an untouched calloc of %zu MiB made %zu MiB resident",
           size >> 20, grew >> 20);
    if (sparse) {
        EXPECT(numa_ptr_node(sparse) == node, "owned by node %d", numa_ptr_node(sparse));
        /* Sparse use: one page per MiB, zero as calloc promised, and on the node. */
        size_t wrong = 0, nonzero = 0;
        for (size_t off = 0; off < size; off += 1 << 20) {
            nonzero += sparse[off] != 0;
            sparse[off] = 1;
            wrong += page_census(sparse + off, 1, node, NULL);
        }
        EXPECT(nonzero == 0, "%zu pages of the calloc were not zero", nonzero);
        EXPECT(wrong == 0, "%zu touched pages are off node %d", wrong, node);
        free(sparse);
    }

    /* Far more than the node has: refused, without populating it first (measured second: VmHWM only
     * grows). */
    before = peak_rss_bytes();
    errno = 0;
    char *big = numa_calloc(node, 1, (size_t)512 << 20);
    size_t grew_big = peak_rss_bytes() - before;
    printf("tight-calloc: 512 MiB on node %d: %s, peak RSS grew %zu MiB\n", node,
           big ? "served" : strerror(errno), grew_big >> 20);
    EXPECT(big == NULL && errno == ENOMEM, "512 MiB on the small node %d with fallback none", node);
    EXPECT(grew_big < TIGHT_RSS_BOUND, "refusing 512 MiB made %zu MiB resident", grew_big >> 20);
    free(big);
}

/*
 * A huge object freed at the heap's frontier stays resident for the purge
 * delay (a dirty free run); a larger request grows that run into fresh space
 * (core/segment.c) instead of mapping more. The fresh part must be checked
 * against the node as a fresh run is, or a request far above what the small
 * node holds was served, and touching it meant the OOM killer (it was, before
 * core/huge.c checked the fresh part). Run with NUMA_ALLOC_PURGE_DELAY_MS long.
 */
static void check_tight_grow(int node)
{
    size_t old = (size_t)32 << 20, grown = (size_t)48 << 20;
    /* The node heap's first small and large blocks first: their segment is not to land after p. */
    free(numa_malloc(node, 64));
    free(numa_malloc(node, (size_t)300 << 10));
    unsigned char *p = numa_malloc(node, old);
    EXPECT(p != NULL, "32 MiB on node %d", node);
    if (!p)
        return;
    memset(p, 0x5a, old);
    uintptr_t freed = (uintptr_t)p;
    free(p);
    /* Grown from p's run: its 32 MiB written before, zeroed by calloc; the rest fresh. */
    unsigned char *q = numa_calloc(node, 1, grown);
    EXPECT((uintptr_t)q == freed,
           "the calloc of 48 MiB is at %p, not at the freed run %#lx: nothing tested", (void *)q,
           (unsigned long)freed);
    if (!q)
        return;
    size_t nonzero = 0;
    for (size_t at = 0; at < grown; at++)
        nonzero += q[at] != 0;
    EXPECT(nonzero == 0, "%zu bytes of the calloc grown from a written run are not zero", nonzero);
    memset(q, 1, grown);
    EXPECT(page_census(q, grown, node, NULL) == 0, "the calloc's pages are off node %d", node);
    free(q);
    errno = 0;
    void *big = numa_calloc(node, 1, (size_t)512 << 20);
    printf("tight-grow: 48 MiB over a written 32 MiB run: zero, on node %d; 512 MiB grown from "
           "it: %s\n",
           node, big ? "served" : strerror(errno));
    EXPECT(big == NULL && errno == ENOMEM,
           "512 MiB on the small node %d with fallback none, grown from a dirty run", node);
    free(big);
}

/*
 * A huge object written in one page and freed is a dirty run (kept for the
 * purge delay) whose pages are nearly all absent: carving an object from it
 * needs the node as much as a fresh run does. The check skipped dirty runs,
 * so with the node nearly full a calloc from such a run far larger than the
 * node's free memory was served, and its pages went to another node. Run
 * with NUMA_ALLOC_PURGE_DELAY_MS long, on a node of about 192 MiB.
 */
static void check_tight_reuse(int node)
{
    size_t held = (size_t)96 << 20, sparse = (size_t)120 << 20, big = (size_t)112 << 20;
    free(numa_malloc(node, 64)); /* the heap's first segments before the objects */
    free(numa_malloc(node, (size_t)300 << 10));
    /* Held first, untouched, so that the sparse run stays dirty: the dirty limit is 64 MiB plus
     * what is in use (core/purge.c). */
    unsigned char *hold = numa_malloc(node, held);
    unsigned char *p = numa_malloc(node, sparse);
    EXPECT(hold && p, "%zu and %zu MiB on node %d", held >> 20, sparse >> 20, node);
    if (!hold || !p)
        return;
    p[0] = 1;
    uintptr_t freed = (uintptr_t)p;
    free(p);
    memset(hold, 0x33, held); /* the node nearly full now */
    long long free_bytes = 0;
    numa_node_size64(node, &free_bytes);
    errno = 0;
    unsigned char *q = numa_calloc(node, 1, big);
    printf("tight-reuse: %zu MiB from a freed %zu MiB object written in one page, %lld MiB free "
           "on node %d: %s\n",
           big >> 20, sparse >> 20, free_bytes >> 20, node, q ? "served" : strerror(errno));
    EXPECT(free_bytes < (long long)big, "node %d has %lld MiB free: nothing tested", node,
           free_bytes >> 20);
    EXPECT(q == NULL && errno == ENOMEM,
           "%zu MiB on the small node %d with fallback none, from a dirty run mostly absent",
           big >> 20, node);
    free(q);
    unsigned char *small = numa_calloc(node, 1, (size_t)8 << 20);
    EXPECT((uintptr_t)small == freed, "8 MiB at %p, not at the freed run %#lx", (void *)small,
           (unsigned long)freed);
    if (small) {
        memset(small, 1, (size_t)8 << 20);
        EXPECT(page_census(small, (size_t)8 << 20, node, NULL) == 0, "8 MiB off node %d", node);
        /* Grown in place into the rest of the dirty run (core/huge.c, heap_resize_huge): its
         * absent pages are checked too, and elsewhere there is no room either. */
        errno = 0;
        unsigned char *grown = realloc(small, sparse);
        printf("tight-reuse: the 8 MiB grown to %zu MiB over the rest of the run: %s\n",
               sparse >> 20, grown ? "served" : strerror(errno));
        EXPECT(grown == NULL && errno == ENOMEM, "realloc to %zu MiB on the small node %d",
               sparse >> 20, node);
        if (grown)
            small = grown;
    }
    free(small);
    free(hold);
}

/*
 * The same for large objects: a 1 MiB block taken with calloc and only read
 * before it is freed leaves a page run dirty (kept for the purge delay) whose
 * pages are the shared zero page (under thp: the huge zero page where a whole
 * 2 MiB page was untouched), which mincore calls resident and move_pages
 * absent. Page runs from dirty spans skipped the node check, so with the node
 * nearly full every one was handed out again, and writing it took pages of
 * another node. Now the node's free memory runs out first: ENOMEM (fallback
 * none), and all that was served lies on the node. Run with
 * NUMA_ALLOC_PURGE_DELAY_MS long.
 */
static void check_tight_pages(int node)
{
    enum { RUNS = 96 };
    size_t run = (size_t)1 << 20;
    static unsigned char *runs[RUNS];
    free(numa_malloc(node, 64)); /* the heap's first segments before the objects */
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    unsigned zero_sum = 0;
    for (int i = 0; i < RUNS; i++) {
        runs[i] = numa_calloc(node, 1, run);
        EXPECT(runs[i] != NULL, "run %d of %d (1 MiB) on node %d", i, RUNS, node);
        if (!runs[i])
            continue;
        for (size_t at = 0; at < run; at += PAGE) /* read, not written: the zero page */
            zero_sum += ((volatile unsigned char *)runs[i])[at];
        lo = (uintptr_t)runs[i] < lo ? (uintptr_t)runs[i] : lo;
        hi = (uintptr_t)runs[i] > hi ? (uintptr_t)runs[i] : hi;
    }
    /* What of the runs no page backs: move_pages' -ENOENT and -EFAULT (the zero page). Under thp
     * a 2 MiB page that held a segment's header is a huge page, so about half is absent. */
    size_t resident[MAX_NODES] = {0}, absent = (size_t)RUNS * (run / PAGE);
    for (int i = 0; i < RUNS; i++)
        if (runs[i])
            page_census(runs[i], run, -1, resident);
    for (int n = 0; n < MAX_NODES; n++)
        absent -= resident[n];
    /* Held in use (the dirty limit grows with it, so the runs stay dirty) and sized to leave
     * less free than the runs' absent pages (at most 40 MiB) once written. */
    size_t left_free =
        absent * PAGE * 3 / 4 < ((size_t)40 << 20) ? absent * PAGE * 3 / 4 : (size_t)40 << 20;
    long long start_free = 0;
    numa_node_size64(node, &start_free);
    size_t held = (size_t)start_free > left_free + ((size_t)16 << 20)
                      ? (size_t)start_free - left_free
                      : (size_t)16 << 20;
    unsigned char *hold = numa_malloc(node, held);
    EXPECT(hold != NULL, "%zu MiB on node %d", held >> 20, node);
    for (int i = 0; i < RUNS; i++)
        free(runs[i]);
    if (!hold)
        return;
    memset(hold, 0x33, held); /* the node nearly full now */
    /* Past the allocator's refresh of the node's free memory (policy/node_memory.c, REFRESH_MS):
     * the check of the dirty runs is tested, not how fresh that number is. */
    usleep(300 * 1000);
    long long free_bytes = 0;
    numa_node_size64(node, &free_bytes);
    int served = 0, reused = 0;
    size_t misplaced = 0;
    errno = 0;
    for (; served < RUNS; served++) {
        runs[served] = numa_malloc(node, run);
        if (!runs[served])
            break;
        reused += (uintptr_t)runs[served] >= lo && (uintptr_t)runs[served] <= hi;
        memset(runs[served], 0x44, run);
        misplaced += page_census(runs[served], run, node, NULL);
    }
    int err = errno;
    printf("tight-pages: %d of %d MiB served (%d from the freed runs, %zu MiB of them absent), "
           "%lld MiB free on node %d, then %s; %zu pages off the node\n",
           served, RUNS, reused, absent * PAGE >> 20, free_bytes >> 20, node,
           served < RUNS ? strerror(err) : "-", misplaced);
    EXPECT(free_bytes < (long long)(absent * PAGE),
           "node %d has %lld MiB free, more than the runs' absent pages: nothing tested", node,
           free_bytes >> 20);
    EXPECT(reused > 0, "no 1 MiB block came from the freed runs: nothing tested");
    EXPECT(zero_sum == 0, "the 1 MiB callocs read %u, not zero", zero_sum);
    EXPECT(served < RUNS && err == ENOMEM, "%d MiB served on the small node %d with fallback none",
           served, node);
    EXPECT(misplaced == 0, "%zu pages of the 1 MiB blocks are off node %d", misplaced, node);
    for (int i = 0; i < served; i++)
        free(runs[i]);
    free(hold);
}

/* ---- migration ---- */

static void check_migrate(void)
{
    int nodes[MAX_NODES];
    if (!two_nodes_with_cpus(nodes, "migrate"))
        return;
    enum { N = 2000 };
    static void *old[N];
    pin_to_node(nodes[0]);
    for (int i = 0; i < N; i++) {
        old[i] = malloc(64);
        touch(old[i], 64);
    }
    for (int i = 0; i < N; i++)
        free(old[i]); /* now cached for node nodes[0] in this thread */
    pin_to_node(nodes[1]);
    size_t off_node = 0, reused = 0;
    for (int i = 0; i < N; i++) {
        char *p = malloc(64);
        touch(p, 64);
        if (numa_ptr_node(p) != nodes[1] || page_census(p, 64, nodes[1], NULL))
            off_node++;
        for (int j = i % 37; j < N; j += 37)
            if (old[j] == p)
                reused++;
    }
    /* The move is counted in the statistics (JSON of numa_alloc_stats_write). */
    const char *json = stats_json();
    unsigned long migrations = sum_thread_field(json, "migrations");
    printf("migrate: after moving from node %d to %d: %zu of %d blocks off node %d, %zu reused, "
           "%lu migration(s) counted\n",
           nodes[0], nodes[1], off_node, N, nodes[1], reused, migrations);
    EXPECT(migrations >= 1, "the move was not counted: %s", json);
    EXPECT(off_node == 0, "%zu blocks off the new node", off_node);
    EXPECT(reused == 0, "%zu blocks cached on the old node were handed out", reused);
}

/* The lowest CPU of `node`, -1 if none. */
static int first_cpu_of(int node)
{
    struct bitmask *cpus = numa_allocate_cpumask();
    int found = -1;
    if (numa_node_to_cpus(node, cpus) == 0)
        for (unsigned cpu = 0; found < 0 && cpu < cpus->size; cpu++)
            if (numa_bitmask_isbitset(cpus, cpu))
                found = (int)cpu;
    numa_free_cpumask(cpus);
    return found;
}

/* The calling thread on `cpu` alone, without allocating (numa_run_on_node mallocs). */
static void pin_to_cpu(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) {
        printf("FAIL cannot run on CPU %d: %s\n", cpu, strerror(errno));
        exit(1);
    }
    sched_yield();
}

/*
 * ---- migrate-back: a thread leaves its node, a free there notices the move,
 * and it comes back to the very CPU it left: the return is a move too ----
 * malloc's fast path keeps the cache of the route it last read, keyed by the
 * CPU (struct thread_state: route_key). A move noticed elsewhere (a free's
 * slow path) changes the thread's home; the key must go with it, or the
 * thread back on that CPU takes its old cache without the return being
 * noted, and its local allocations are booked as remote.
 */
static void check_migrate_back(void)
{
    int nodes[MAX_NODES];
    if (!two_nodes_with_cpus(nodes, "migrate-back"))
        return;
    /*
     * Pinned with sched_setaffinity to one CPU of each node, found first:
     * numa_run_on_node mallocs its mask on the CPU it leaves, a malloc whose
     * slow path would read the route again there.
     */
    int cpus[2];
    for (int i = 0; i < 2; i++) {
        cpus[i] = first_cpu_of(nodes[i]);
        if (cpus[i] < 0) {
            printf("FAIL migrate-back: no CPU of node %d\n", nodes[i]);
            failures++;
            return;
        }
    }
    enum { N = 2000 };
    static void *blocks[N];
    pin_to_cpu(cpus[0]);
    void *volatile first = malloc(64); /* the route read on this CPU (volatile: kept) */
    free(first);
    const char *json = stats_json();
    unsigned long migrations = sum_thread_field(json, "migrations");
    unsigned long remote = sum_thread_field(json, "remote_allocations");
    for (int i = 0; i < N; i++) {
        blocks[i] = malloc(64);
        touch(blocks[i], 64);
    }
    pin_to_cpu(cpus[1]);
    for (int i = 0; i < N; i++)
        free(blocks[i]); /* past the bin's bound: the slow path notices the move */
    pin_to_cpu(cpus[0]); /* the CPU it left */
    size_t off_node = 0;
    for (int i = 0; i < N; i++) {
        blocks[i] = malloc(64);
        touch(blocks[i], 64);
        off_node += numa_ptr_node(blocks[i]) != nodes[0];
    }
    json = stats_json();
    unsigned long moves = sum_thread_field(json, "migrations") - migrations;
    unsigned long remote_after = sum_thread_field(json, "remote_allocations") - remote;
    printf("migrate-back: node %d -> %d -> %d: %lu move(s) counted, %lu remote allocation(s), "
           "%zu of %d blocks off node %d\n",
           nodes[0], nodes[1], nodes[0], moves, remote_after, off_node, N, nodes[0]);
    EXPECT(moves == 2, "%lu moves counted, not 2: %s", moves, json);
    EXPECT(remote_after == 0, "%lu allocations on node %d booked remote: %s", remote_after,
           nodes[0], json);
    EXPECT(off_node == 0, "%zu blocks off node %d", off_node, nodes[0]);
    for (int i = 0; i < N; i++)
        free(blocks[i]);
}

static void check_cpuless(int node)
{
    for (size_t i = 0; i < MIX; i++) {
        char *p = numa_malloc(node, mix[i]);
        EXPECT(p, "numa_malloc(%d, %zu): %s", node, mix[i], strerror(errno));
        if (!p)
            continue;
        touch(p, mix[i]);
        EXPECT(page_census(p, mix[i], node, NULL) == 0, "numa_malloc(%d, %zu): pages elsewhere",
               node, mix[i]);
    }
    /* local never picks a node without CPUs */
    int cpu_nodes[MAX_NODES];
    int n = nodes_with_cpus(cpu_nodes);
    for (int i = 0; i < n; i++) {
        pin_to_node(cpu_nodes[i]);
        char *p = malloc(5000);
        touch(p, 5000);
        EXPECT(numa_ptr_node(p) != node, "local placement chose the CPU-less node %d", node);
    }
    printf("cpuless: node %d served numa_malloc; local never chose it\n", node);
}

static void check_cpuset(int node)
{
    errno = 0;
    void *p = numa_malloc(node, 100);
    EXPECT(p == NULL && errno == EINVAL, "numa_malloc(%d) outside the cpuset: %p, %s", node, p,
           strerror(errno));
    int cpu_nodes[MAX_NODES];
    int n = nodes_with_cpus(cpu_nodes);
    for (int i = 0; i < n; i++) {
        pin_to_node(cpu_nodes[i]);
        for (size_t k = 0; k < MIX; k++) {
            char *q = malloc(mix[k]);
            touch(q, mix[k]);
            size_t counts[MAX_NODES] = {0};
            page_census(q, mix[k], -1, counts);
            EXPECT(counts[node] == 0 && numa_ptr_node(q) != node,
                   "thread on node %d got memory on the forbidden node %d", cpu_nodes[i], node);
        }
    }
    printf("cpuset: node %d refused (EINVAL) and never used\n", node);
}

/* ---- cpuset-change: cpuset.mems rewritten under a running, allocating process ---- */

/* policy/mems_watch.h: MEMS_WATCH_INTERVAL_MS, the documented bound. */
#define WATCH_BOUND_MS 100

struct change_worker {
    pthread_t thread;
    int cpu_node;
    void *keep; /* a block from before the change, grown by realloc after it */
    size_t off_node, foreign_owner, pages;
    size_t
        owned_by_leaving; /* want < 0 (interleave): objects of the node that left and came back */
    int want;             /* the node of every page and object; -1: any */
};

static int change_leaving;
static int change_policy_node = -1; /* bind:B: B; -1 local; -2 interleave */

static pthread_barrier_t change_barrier;
static volatile int change_phase; /* 0 before, 1 NODE out, 2 NODE back, 3 done */

/* Allocates and touches small, large and huge objects; every page must be on job->want. */
static void change_batch(struct change_worker *w, bool check)
{
    for (int rep = 0; rep < 6; rep++)
        for (size_t i = 0; i < MIX; i++) {
            char *p = malloc(mix[i]);
            if (!p) {
                printf("FAIL cpuset-change: malloc(%zu): %s\n", mix[i], strerror(errno));
                failures++;
                continue;
            }
            touch(p, mix[i]);
            if (check && w->want < 0) {
                /* interleave: any node, but an object up to 2 MiB lies on its owner's */
                int owner = numa_ptr_node(p);
                size_t counts[MAX_NODES] = {0};
                size_t off = page_census(p, mix[i], owner, counts);
                for (int n = 0; n < MAX_NODES; n++)
                    w->pages += counts[n];
                w->off_node += mix[i] <= (2u << 20) ? off : 0;
                w->owned_by_leaving += owner == change_leaving;
            } else if (check) {
                size_t counts[MAX_NODES] = {0};
                w->off_node += page_census(p, mix[i], w->want, counts);
                for (int n = 0; n < MAX_NODES; n++)
                    w->pages += counts[n];
                w->foreign_owner += numa_ptr_node(p) != w->want;
            }
            if (rep % 2)
                free(p); /* freed blocks are reused by the next phase */
        }
}

static void *change_thread(void *arg)
{
    struct change_worker *w = arg;
    pin_to_node(w->cpu_node);
    change_batch(w, false);
    w->keep = malloc(20000);
    touch(w->keep, 20000);
    for (;;) {
        pthread_barrier_wait(&change_barrier); /* main set the phase and w->want */
        if (change_phase == 3)
            return NULL;
        w->off_node = w->foreign_owner = w->pages = w->owned_by_leaving = 0;
        /*
         * One slow-path allocation on every thread: the change is noticed on
         * one of them, and applied when that call returns (a thread that
         * finds another one applying it goes on with the tables as they are).
         */
        free(malloc(100000));
        pthread_barrier_wait(&change_barrier);
        if (change_phase == 1 && w->keep) {
            /* realloc keeps the node, unless the node left: then it moves */
            w->keep = realloc(w->keep, 300000);
            touch(w->keep, 300000);
            w->foreign_owner += numa_ptr_node(w->keep) != w->want;
            w->off_node += page_census(w->keep, 300000, w->want, NULL);
        }
        change_batch(w, true);
        pthread_barrier_wait(&change_barrier);
    }
}

/* Whether the Mems_allowed_list line of the status file `path` reads `want`. */
static bool status_mems_is(const char *path, const char *want)
{
    char line[256];
    bool same = false;
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "Mems_allowed_list:", 18) == 0) {
            char *v = line + 18;
            v += strspn(v, " \t");
            v[strcspn(v, "\n")] = '\0';
            same = strcmp(v, want) == 0;
        }
    if (f)
        fclose(f);
    return same;
}

/* Whether every thread of this process has `want` as its Mems_allowed_list. */
static bool all_threads_mems_are(const char *want)
{
    DIR *tasks = opendir("/proc/self/task");
    if (!tasks)
        return status_mems_is("/proc/self/status", want);
    bool all = true;
    struct dirent *e;
    while (all && (e = readdir(tasks)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[300];
        snprintf(path, sizeof path, "/proc/self/task/%s/status", e->d_name);
        all = status_mems_is(path, want);
    }
    closedir(tasks);
    return all;
}

/*
 * Waits (bounded) until every thread's Mems_allowed_list reads `want`. Each
 * thread, not the process: the kernel rewrites the threads' sets one after
 * another, moving the pages between them (cgroup v2 migrates), and a thread
 * checks its own set (mems_watch.h). Under TCG the last thread's set can
 * change well after the first's (a CI run saw the phase start before that).
 */
static bool wait_mems(const char *want)
{
    struct timespec first = {0}, now;
    for (int i = 0; i < 6000; i++) {
        if (!first.tv_sec && status_mems_is("/proc/self/status", want))
            clock_gettime(CLOCK_MONOTONIC, &first);
        if (all_threads_mems_are(want)) {
            clock_gettime(CLOCK_MONOTONIC, &now);
            printf("cpuset-change: every thread's set reads %s, %ld ms after the first's\n", want,
                   first.tv_sec ? (now.tv_sec - first.tv_sec) * 1000 +
                                      (now.tv_nsec - first.tv_nsec) / 1000000
                                : 0L);
            return true;
        }
        usleep(10000);
    }
    printf("FAIL cpuset-change: Mems_allowed_list never became %s\n", want);
    failures++;
    return false;
}

static void make_file(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    EXPECT(f != NULL, "cannot create %s", path);
    if (f)
        fclose(f);
}

/* The statistics' count of cpuset changes and whether `node` is allowed now. */
static unsigned long stats_changes(int node, int *allowed)
{
    const char *json = stats_json();
    char key[64];
    snprintf(key, sizeof key, "{\"id\": %d,", node);
    const char *n = strstr(json, key);
    const char *a = n ? strstr(n, "\"allowed\": ") : NULL;
    *allowed = a ? strncmp(a + strlen("\"allowed\": "), "true", 4) == 0 : -1;
    const char *c = strstr(json, "\"mems_allowed_changes\": ");
    return c ? strtoul(c + strlen("\"mems_allowed_changes\": "), NULL, 10) : 0;
}

/* Runs one phase on every worker and reports what it found. */
static void change_phase_run(struct change_worker *w, int n, int phase, int leaving,
                             const char *label)
{
    change_phase = phase;
    int other = leaving == 0 ? 1 : 0;
    for (int i = 0; i < n; i++) {
        int want = change_policy_node == -1 ? w[i].cpu_node : change_policy_node;
        if (phase == 1 && (want == leaving || want == -2))
            want = other; /* everything on the node that is left */
        w[i].want = want < 0 ? -1 : want;
    }
    for (int b = 0; b < 3; b++) /* start, slow paths passed, batch done */
        pthread_barrier_wait(&change_barrier);
    for (int i = 0; i < n; i++) {
        printf("cpuset-change %s: thread on node %d: %zu of %zu pages off node %d, %zu objects "
               "owned by another node\n",
               label, w[i].cpu_node, w[i].off_node, w[i].pages, w[i].want, w[i].foreign_owner);
        EXPECT(w[i].pages > 0 && w[i].off_node == 0 && w[i].foreign_owner == 0,
               "%s: thread on node %d: %zu pages off node %d, %zu objects of another node", label,
               w[i].cpu_node, w[i].off_node, w[i].want, w[i].foreign_owner);
        if (w[i].want < 0) {
            printf("cpuset-change %s: thread on node %d: %zu objects of node %d\n", label,
                   w[i].cpu_node, w[i].owned_by_leaving, leaving);
            EXPECT(w[i].owned_by_leaving > 0, "%s: thread on node %d: nothing on node %d", label,
                   w[i].cpu_node, leaving);
        }
    }
}

static void check_cpuset_change(int leaving, const char *dir, const char *policy)
{
    change_leaving = leaving;
    if (strncmp(policy, "bind:", 5) == 0)
        change_policy_node = atoi(policy + 5);
    else if (strcmp(policy, "interleave") == 0)
        change_policy_node = -2;
    int nodes[MAX_NODES];
    int n = nodes_with_cpus(nodes);
    if (n != 2 || leaving < 0 || leaving > 1) {
        printf("FAIL cpuset-change needs the 2node topology and NODE 0 or 1\n");
        failures++;
        return;
    }
    char full[16], left[16];
    snprintf(full, sizeof full, "%d-%d", nodes[0], nodes[1]);
    snprintf(left, sizeof left, "%d", leaving == 0 ? 1 : 0);
    if (!wait_mems(full))
        return;
    struct change_worker w[MAX_NODES];
    pthread_barrier_init(&change_barrier, NULL, (unsigned)n + 1);
    for (int i = 0; i < n; i++) {
        w[i] = (struct change_worker){.cpu_node = nodes[i]};
        pthread_create(&w[i].thread, NULL, change_thread, &w[i]);
    }
    int allowed;
    EXPECT(stats_changes(leaving, &allowed) == 0 && allowed == 1,
           "before any change: statistics say %d change(s), node %d allowed %d",
           (int)stats_changes(leaving, &allowed), leaving, allowed);

    make_file(dir, "ready"); /* the script writes the smaller set into cpuset.mems */
    if (wait_mems(left)) {
        usleep(2 * WATCH_BOUND_MS * 1000);
        change_phase_run(w, n, 1, leaving, "out");
        errno = 0;
        void *p = numa_malloc(leaving, 100);
        EXPECT(p == NULL && errno == EINVAL, "numa_malloc(%d, 100) after it left: %p, %s", leaving,
               p, strerror(errno));
        errno = 0;
        p = numa_malloc(leaving, 1 << 20);
        EXPECT(p == NULL && errno == EINVAL, "numa_malloc(%d, 1 MiB) after it left: %p, %s",
               leaving, p, strerror(errno));
        unsigned long changes = stats_changes(leaving, &allowed);
        printf("cpuset-change out: statistics: %lu change(s), node %d allowed: %d\n", changes,
               leaving, allowed);
        EXPECT(changes >= 1 && allowed == 0, "statistics: %lu change(s), node %d allowed %d",
               changes, leaving, allowed);
        int fd = memfd_create("text", 0);
        static char text[1 << 16];
        ssize_t len = fd >= 0 && numa_alloc_stats_write(fd, 0) == 0
                          ? pread(fd, text, sizeof text - 1, 0)
                          : -1;
        close(fd);
        text[len > 0 ? len : 0] = '\0';
        EXPECT(strstr(text, "cpuset: Mems_allowed changed "), "the table names no change: %s",
               text);
    }
    make_file(dir, "shrunk"); /* the script writes the whole set back */
    if (wait_mems(full)) {
        usleep(2 * WATCH_BOUND_MS * 1000);
        change_phase_run(w, n, 2, leaving, "back");
        for (size_t i = 0; i < MIX; i++) {
            char *p = numa_malloc(leaving, mix[i]);
            EXPECT(p != NULL, "numa_malloc(%d, %zu) once it is back: %s", leaving, mix[i],
                   strerror(errno));
            if (!p)
                continue;
            touch(p, mix[i]);
            EXPECT(page_census(p, mix[i], leaving, NULL) == 0,
                   "numa_malloc(%d, %zu) once it is back: pages elsewhere", leaving, mix[i]);
        }
        unsigned long changes = stats_changes(leaving, &allowed);
        printf("cpuset-change back: statistics: %lu change(s), node %d allowed: %d\n", changes,
               leaving, allowed);
        EXPECT(changes >= 2 && allowed == 1, "statistics: %lu change(s), node %d allowed %d",
               changes, leaving, allowed);
    }
    change_phase = 3;
    pthread_barrier_wait(&change_barrier);
    for (int i = 0; i < n; i++)
        pthread_join(w[i].thread, NULL);
}

/* ---- many nodes (issue 16): every node, interleave over all, the statistics' nodes ---- */

/* One of each kind, freed at once: light enough for 128 nodes under TCG. */
static const size_t each_sizes[] = {64, 100000, 3 << 20};
#define EACH (sizeof each_sizes / sizeof each_sizes[0])

static void *each_node_thread(void *arg)
{
    int cpu_node = *(const int *)arg, mem_nodes[MAX_NODES];
    int nmem = nodes_with_memory(mem_nodes);
    size_t objects = 0, pages = 0;
    pin_to_node(cpu_node);
    for (int m = 0; m < nmem; m++)
        for (size_t i = 0; i < EACH; i++) {
            char *p = numa_malloc(mem_nodes[m], each_sizes[i]);
            EXPECT(p, "numa_malloc(%d, %zu) from node %d failed: %s", mem_nodes[m], each_sizes[i],
                   cpu_node, strerror(errno));
            if (!p)
                continue;
            touch(p, each_sizes[i]);
            size_t wrong = page_census(p, each_sizes[i], mem_nodes[m], NULL);
            EXPECT(wrong == 0, "numa_malloc(%d, %zu) from node %d: %zu pages elsewhere",
                   mem_nodes[m], each_sizes[i], cpu_node, wrong);
            EXPECT(numa_ptr_node(p) == mem_nodes[m], "numa_ptr_node says %d, want %d",
                   numa_ptr_node(p), mem_nodes[m]);
            objects++;
            pages += (each_sizes[i] + PAGE - 1) / PAGE;
            free(p);
        }
    printf("each-node: from node %d: %zu objects on %d nodes (%zu pages asked about)\n", cpu_node,
           objects, nmem, pages);
    EXPECT(objects == (size_t)nmem * EACH, "from node %d: %zu of %zu objects", cpu_node, objects,
           (size_t)nmem * EACH);
    return NULL;
}

static void check_each_node(void)
{
    int cpu_nodes[MAX_NODES];
    int ncpu = nodes_with_cpus(cpu_nodes);
    for (int c = 0; c < ncpu; c++) {
        pthread_t t;
        pthread_create(&t, NULL, each_node_thread, &cpu_nodes[c]);
        pthread_join(t, NULL);
    }
}

/* Every node's share within 20% of even; the extremes printed. */
static void expect_even(const char *what, const size_t *count, const int *nodes, int n)
{
    size_t total = 0, min = SIZE_MAX, max = 0;
    int min_node = -1, max_node = -1;
    for (int i = 0; i < n; i++) {
        total += count[nodes[i]];
        if (count[nodes[i]] < min)
            min = count[nodes[i]], min_node = nodes[i];
        if (count[nodes[i]] > max)
            max = count[nodes[i]], max_node = nodes[i];
    }
    double even = (double)total / n;
    printf("interleave-all: %s: %zu over %d nodes, %.1f each if even; fewest %zu (node %d), most "
           "%zu (node %d)\n",
           what, total, n, even, min, min_node, max, max_node);
    int off = 0, first_off = -1;
    for (int i = 0; i < n; i++)
        if (count[nodes[i]] < 0.8 * even || count[nodes[i]] > 1.2 * even)
            first_off = off++ ? first_off : i;
    EXPECT(off == 0, "%s: %d nodes off by more than 20%%, the first node %d with %zu", what, off,
           first_off >= 0 ? nodes[first_off] : -1, first_off >= 0 ? count[nodes[first_off]] : 0);
}

static void check_interleave_all(void)
{
    int nodes[MAX_NODES];
    int n = nodes_with_memory(nodes);
    static size_t objects[MAX_NODES], pages[MAX_NODES];
    size_t count = 32 * (size_t)n, misplaced = 0; /* 32 a node: 20% is 6 objects */
    for (size_t i = 0; i < count; i++) {
        char *p = malloc(64 << 10); /* kept: the point is where new memory comes from */
        EXPECT(p, "malloc(64 KiB) failed: %s", strerror(errno));
        if (!p)
            continue;
        p[0] = 1; /* one page: its node is the object's */
        int node = numa_ptr_node(p);
        if (node >= 0 && node < MAX_NODES)
            objects[node]++;
        misplaced += page_census(p, 1, node, NULL);
    }
    char *big = malloc(64 << 20);
    EXPECT(big, "malloc(64 MiB) failed: %s", strerror(errno));
    if (big) {
        touch(big, 64 << 20);
        page_census(big, 64 << 20, -1, pages);
    }
    EXPECT(misplaced == 0, "%zu objects' first page is not on their node", misplaced);
    expect_even("64 KiB objects", objects, nodes, n);
    expect_even("pages of a 64 MiB object", pages, nodes, n);
    free(big);
}

/* Any count of node `node` in numa_alloc_counter's names (docs/stats.md, "Counters"). */
static bool node_has_a_count(int node)
{
    static const char *const fields[] = {"allocations",        "frees",
                                         "bytes_allocated",    "bytes_freed",
                                         "remote_allocations", "explicit_allocations",
                                         "remote_frees",       "fallbacks_in",
                                         "fallbacks_out",      "tight_commits",
                                         "exhaustions",        "bind_failures",
                                         "purge_failures",     "verify_failures",
                                         "active_bytes",       "peak_active_bytes",
                                         "dirty_bytes",        "purged_bytes",
                                         "huge_objects",       "huge_bytes"};
    for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
        char name[96];
        uint64_t value = 0;
        snprintf(name, sizeof name, "node.%d.%s", node, fields[f]);
        EXPECT(numa_alloc_counter(name, &value) == 0, "numa_alloc_counter(%s): %s", name,
               strerror(errno));
        if (value)
            return true;
    }
    return false;
}

/* The folded line the text should hold for the nodes not used, as docs/stats.md words it. */
static void folded_line(char *out, size_t size, const int *nodes, const bool *used, int n)
{
    int folded = 0, len = 0;
    for (int i = 0; i < n; i++)
        folded += !used[i];
    out[0] = '\0';
    if (!folded)
        return;
    len += snprintf(out + len, size - (size_t)len, folded == 1 ? "Node " : "Nodes ");
    for (int i = 0, first = 1; i < n; i++) {
        if (used[i])
            continue;
        int last = i;
        while (last + 1 < n && !used[last + 1] && nodes[last + 1] == nodes[last] + 1)
            last++;
        len += snprintf(out + len, size - (size_t)len, last > i ? "%s%d-%d" : "%s%d",
                        first ? "" : ", ", nodes[i], nodes[last]);
        first = 0;
        i = last;
    }
    if (folded > 1)
        len += snprintf(out + len, size - (size_t)len, " (%d nodes)", folded);
    snprintf(out + len, size - (size_t)len, ": nothing allocated\n");
}

static void check_stats_nodes(int argc, char **argv)
{
    static void *kept[MAX_NODES];
    int nodes[MAX_NODES], shown = 0;
    int n = nodes_with_memory(nodes);
    /* On node 0 from here: what libnuma and stdio allocate later lands on a node already used. */
    pin_to_node(0);
    kept[MAX_NODES - 1] = malloc(100);
    for (int i = 0; i < argc; i++) {
        kept[i] = numa_malloc(atoi(argv[i]), 1000);
        EXPECT(kept[i], "numa_malloc(%s, 1000): %s", argv[i], strerror(errno));
    }
    static char json[1 << 20], text[1 << 20];
    for (int form = 0; form < 2; form++) { /* the JSON, then the text */
        char *out = form ? text : json;
        int fd = memfd_create("stats", 0);
        EXPECT(fd >= 0 && numa_alloc_stats_write(fd, !form) == 0, "numa_alloc_stats_write failed");
        ssize_t len = fd >= 0 ? pread(fd, out, sizeof json - 1, 0) : -1;
        out[len > 0 ? len : 0] = '\0';
        if (fd >= 0)
            close(fd);
    }
    /* The counters now read what the statistics saw, but for node 0's (used already). */
    static bool used[MAX_NODES];
    for (int i = 0; i < n; i++) {
        char key[32], line[32];
        snprintf(key, sizeof key, "\"node%d\": {", nodes[i]);
        snprintf(line, sizeof line, "\nNode %d: ", nodes[i]);
        bool in_json = strstr(json, key) != NULL, in_text = strstr(text, line) != NULL;
        used[i] = node_has_a_count(nodes[i]);
        shown += used[i];
        for (int a = 0; a < argc; a++)
            EXPECT(atoi(argv[a]) != nodes[i] || (used[i] && in_json),
                   "node %d was used: it must have counts and appear in the JSON", nodes[i]);
        EXPECT(in_json == used[i], "node %d: %s the JSON, %s count", nodes[i],
               in_json ? "in" : "not in", used[i] ? "has a" : "has no");
        EXPECT(in_text == used[i], "node %d: %s a line in the text, %s count", nodes[i],
               in_text ? "has" : "has no", used[i] ? "has a" : "has no");
    }
    char want[8192];
    folded_line(want, sizeof want, nodes, used, n);
    int folded_lines = 0;
    for (const char *line = text; *line;) {
        const char *end = strchr(line, '\n');
        size_t line_len = end ? (size_t)(end - line) + 1 : strlen(line);
        char copy[8192];
        snprintf(copy, sizeof copy, "%.*s", (int)line_len, line);
        if (strstr(copy, "nothing allocated")) {
            folded_lines++;
            EXPECT(strcmp(copy, want) == 0, "folded line: '%s', want '%s'", copy, want);
        }
        line += line_len;
    }
    EXPECT(folded_lines == (want[0] ? 1 : 0), "%d folded lines, want %d; the text:\n%s",
           folded_lines, want[0] ? 1 : 0, text);
    printf("stats-nodes: %d of %d nodes used, in the JSON and the text; folded: %s", shown, n,
           want[0] ? want : "(none)\n");
    for (int i = 0; i < MAX_NODES; i++)
        free(kept[i]);
}

static void hold(size_t mib, const char *ready)
{
    for (size_t i = 0; i < mib; i++) {
        char *p = malloc(1 << 20); /* kept: what numastat sees */
        touch(p, 1 << 20);
    }
    FILE *f = fopen(ready, "w");
    EXPECT(f != NULL, "cannot create %s", ready);
    if (f)
        fclose(f);
    for (int i = 0; i < 600 && access(ready, F_OK) == 0; i++)
        usleep(100000);
}

int main(int argc, char **argv)
{
    if (numa_available() < 0 || argc < 2) {
        fprintf(stderr, "usage: placement_check CHECK [ARGS] (needs NUMA)\n");
        return 2;
    }
    const char *check = argv[1];
    /*
     * PLACEMENT_CHECK_LOWER_AS_MIB: the address-space limit lowered by the
     * program itself, after the start (the heaps give back what they do not
     * use, and reserve as they grow from then on: core/alloc.c).
     */
    const char *lower = getenv("PLACEMENT_CHECK_LOWER_AS_MIB");
    if (lower) {
        struct rlimit limit = {(rlim_t)atol(lower) << 20, RLIM_INFINITY};
        if (setrlimit(RLIMIT_AS, &limit) != 0) {
            fprintf(stderr, "setrlimit(RLIMIT_AS, %s MiB): %s\n", lower, strerror(errno));
            return 1;
        }
    }
    if (strcmp(check, "explicit") == 0)
        check_explicit();
    else if (strcmp(check, "local") == 0 && argc <= 3) {
        local_objects = argc == 3 ? atoi(argv[2]) : local_objects;
        check_local();
    } else if (strcmp(check, "remote-free") == 0)
        check_remote_free();
    else if (strcmp(check, "bind") == 0 && argc == 3)
        check_bind(atoi(argv[2]));
    else if (strcmp(check, "every") == 0 && argc == 4)
        check_every(atoi(argv[2]), strcmp(argv[3], "pinned") == 0);
    else if (strcmp(check, "nearest") == 0 && argc == 4)
        check_nearest(atoi(argv[2]), atoi(argv[3]));
    else if (strcmp(check, "interleave") == 0)
        check_balance(0.5, "interleave");
    else if (strcmp(check, "weighted") == 0 && argc == 4)
        check_balance(atof(argv[2]) / (atof(argv[2]) + atof(argv[3])), "weighted");
    else if (strcmp(check, "tier-fallback") == 0 && argc == 4)
        check_tier_fallback(atoi(argv[2]), atoi(argv[3]), 128);
    else if (strcmp(check, "nearest-fill") == 0 && argc == 4)
        check_tier_fallback(atoi(argv[2]), atoi(argv[3]), 16);
    else if (strcmp(check, "each-node") == 0)
        check_each_node();
    else if (strcmp(check, "interleave-all") == 0)
        check_interleave_all();
    else if (strcmp(check, "stats-nodes") == 0)
        check_stats_nodes(argc - 2, argv + 2);
    else if (strcmp(check, "exhaust") == 0 && argc == 4)
        check_exhaust(atoi(argv[2]), argv[3]);
    else if (strcmp(check, "tight-calloc") == 0 && argc == 3)
        check_tight_calloc(atoi(argv[2]));
    else if (strcmp(check, "tight-grow") == 0 && argc == 3)
        check_tight_grow(atoi(argv[2]));
    else if (strcmp(check, "tight-reuse") == 0 && argc == 3)
        check_tight_reuse(atoi(argv[2]));
    else if (strcmp(check, "tight-pages") == 0 && argc == 3)
        check_tight_pages(atoi(argv[2]));
    else if (strcmp(check, "migrate") == 0)
        check_migrate();
    else if (strcmp(check, "migrate-back") == 0)
        check_migrate_back();
    else if (strcmp(check, "hold") == 0 && argc == 4)
        hold((size_t)atol(argv[2]), argv[3]);
    else if (strcmp(check, "cpuset") == 0 && argc == 3)
        check_cpuset(atoi(argv[2]));
    else if (strcmp(check, "cpuset-change") == 0 && (argc == 4 || argc == 5))
        check_cpuset_change(atoi(argv[2]), argv[3], argc == 5 ? argv[4] : "local");
    else if (strcmp(check, "cpuless") == 0 && argc == 3)
        check_cpuless(atoi(argv[2]));
    else {
        fprintf(stderr, "placement_check: unknown check or arguments: %s\n", check);
        return 2;
    }
    printf("%s: %s\n", check, failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}
