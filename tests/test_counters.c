/*
 * test_counters.c - the counter API (numa_alloc_counter, the snapshots):
 * known allocations change the named counters by exactly what they did,
 * snapshots agree with single reads and with numa_alloc_stats_write's JSON,
 * readers in other threads and in signal handlers see whole, growing
 * counts, unknown names and bad arguments fail as documented, and a failed
 * start answers "not active".
 */
#define _GNU_SOURCE
#include "test_util.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "numa_alloc.h"

static uint64_t counter(const char *name)
{
    uint64_t value = 0;
    int rc = numa_alloc_counter(name, &value);
    cr_assert_eq(rc, 0, "numa_alloc_counter(%s): %s", name, strerror(errno));
    return value;
}

static uint64_t node_counter(int node, const char *field)
{
    char name[64];
    snprintf(name, sizeof name, "node.%d.%s", node, field);
    return counter(name);
}

#define BLOCKS 100
#define BLOCK  64 /* a size class of its own: counted at exactly 64 bytes */

Test(counters, known_allocations_change_counters_exactly)
{
    int node = test_pin_current_node();
    if (node < 0)
        cr_skip_test("cannot pin this thread to a node");
    void *blocks[BLOCKS];
    free(numa_malloc(node, BLOCK)); /* caches made, the node's heap started */
    const char *fields[] = {"allocations",        "frees",
                            "bytes_allocated",    "bytes_freed",
                            "bytes_live",         "local_allocations",
                            "remote_allocations", "explicit_allocations"};
    enum { N = sizeof fields / sizeof fields[0] };
    uint64_t before[N], total_before = counter("total.allocations");
    uint64_t self_before = counter("thread.current.allocations");
    uint64_t self_bytes = counter("thread.current.bytes_allocated");
    for (int i = 0; i < N; i++)
        before[i] = node_counter(node, fields[i]);
    for (int i = 0; i < BLOCKS; i++)
        blocks[i] = numa_malloc(node, BLOCK);
    uint64_t expect_alloc[N] = {BLOCKS, 0, BLOCKS * BLOCK, 0, BLOCKS * BLOCK, BLOCKS, 0, 0};
    for (int i = 0; i < N; i++)
        cr_expect_eq(node_counter(node, fields[i]) - before[i], expect_alloc[i],
                     "%s changed by %llu", fields[i],
                     (unsigned long long)(node_counter(node, fields[i]) - before[i]));
    cr_expect_eq(counter("total.allocations") - total_before, BLOCKS);
    cr_expect_eq(counter("thread.current.allocations") - self_before, BLOCKS);
    cr_expect_eq(counter("thread.current.bytes_allocated") - self_bytes, BLOCKS * BLOCK);
    cr_expect_eq(counter("thread.current.tid"), (uint64_t)gettid());
    cr_expect_eq(counter("thread.current.node"), (uint64_t)node);
    for (int i = 0; i < BLOCKS; i++)
        free(blocks[i]);
    uint64_t expect_all[N] = {BLOCKS, BLOCKS, BLOCKS * BLOCK, BLOCKS * BLOCK, 0, BLOCKS, 0, 0};
    for (int i = 0; i < N; i++)
        cr_expect_eq(node_counter(node, fields[i]) - before[i], expect_all[i], "%s", fields[i]);
}

Test(counters, large_blocks_move_active_bytes)
{
    int node = test_pin_current_node();
    if (node < 0)
        cr_skip_test("cannot pin this thread to a node");
    uint64_t active = node_counter(node, "active_bytes");
    void *big = numa_malloc(node, 1 << 20);
    memset(big, 1, 1 << 20);
    cr_expect_geq(node_counter(node, "active_bytes") - active, 1 << 20);
    free(big);
}

/* The JSON's value of `field` in the object of "node<N>". */
static uint64_t json_node_value(const char *json, int node, const char *field)
{
    char key[64];
    snprintf(key, sizeof key, "\"node%d\": {", node);
    const char *at = strstr(json, key);
    cr_assert(at, "no %s in the JSON", key);
    snprintf(key, sizeof key, "\"%s\": ", field);
    at = strstr(at, key);
    cr_assert(at, "no %s", key);
    return strtoull(at + strlen(key), NULL, 10);
}

Test(counters, snapshot_agrees_with_reads_and_json)
{
    free(malloc(100));
    struct numa_alloc_node_counters nodes[64];
    int n = numa_alloc_snapshot_nodes(nodes, 64, sizeof nodes[0]);
    cr_assert_gt(n, 0, "%s", strerror(errno));
    int pipefd[2];
    cr_assert_eq(pipe(pipefd), 0);
    cr_assert_eq(numa_alloc_stats_write(pipefd[1], 1), 0);
    close(pipefd[1]);
    char buf[1 << 16];
    ssize_t got, len = 0;
    while ((got = read(pipefd[0], buf + len, sizeof buf - 1 - (size_t)len)) > 0)
        len += got;
    buf[len] = '\0';
    close(pipefd[0]);
    /* Nothing allocated since the snapshot: snprintf, strstr and reads allocate nothing. */
    uint64_t total = 0;
    for (int i = 0; i < n; i++) {
        struct numa_alloc_node_counters *c = &nodes[i];
        cr_expect_eq(c->allocations, node_counter(c->node, "allocations"));
        cr_expect_eq(c->bytes_live, node_counter(c->node, "bytes_live"));
        cr_expect_eq(c->active_bytes, node_counter(c->node, "active_bytes"));
        cr_expect_eq(c->allocations, json_node_value(buf, c->node, "allocations"));
        cr_expect_eq(c->frees, json_node_value(buf, c->node, "frees"));
        cr_expect_eq(c->bytes_allocated, json_node_value(buf, c->node, "bytes_allocated"));
        cr_expect_eq(c->local_allocations, json_node_value(buf, c->node, "local_allocations"));
        cr_expect_eq(c->remote_frees, json_node_value(buf, c->node, "remote_frees"));
        cr_expect_eq(c->fallbacks_out, json_node_value(buf, c->node, "fallbacks_out"));
        cr_expect_eq(c->active_bytes, json_node_value(buf, c->node, "active_bytes"));
        total += c->allocations;
    }
    cr_expect_eq(total, counter("total.allocations"));
    struct numa_alloc_thread_counters threads[8];
    int live = numa_alloc_snapshot_threads(threads, 8, sizeof threads[0]);
    cr_assert_geq(live, 1);
    cr_expect_eq((uint64_t)live, counter("threads.live"));
    int self = -1;
    for (int i = 0; i < live && i < 8; i++)
        if (threads[i].tid == gettid())
            self = i;
    cr_assert_geq(self, 0, "the calling thread is not in the snapshot");
    cr_expect_eq(threads[self].allocations, counter("thread.current.allocations"));
    cr_expect_eq(threads[self].bytes_live, counter("thread.current.bytes_live"));
}

/* A caller compiled against a later, larger structure: the extra bytes are zeroed. */
Test(counters, snapshot_struct_size)
{
    struct bigger {
        struct numa_alloc_node_counters c;
        uint64_t later[3];
    } big[2];
    memset(big, 0xab, sizeof big);
    int n = numa_alloc_snapshot_nodes(&big[0].c, 2, sizeof big[0]);
    cr_assert_gt(n, 0);
    cr_expect_eq(big[0].later[0] | big[0].later[2], 0);
    cr_expect_gt(big[0].c.allocations, 0);
    if (n == 1)
        cr_expect_eq(big[1].later[0], 0xababababababababull, "written past the count");
    errno = 0;
    cr_expect_eq(numa_alloc_snapshot_nodes(&big[0].c, 2, sizeof big[0].c - 8), -1);
    cr_expect_eq(errno, EINVAL);
    cr_expect_eq(numa_alloc_snapshot_nodes(NULL, 0, sizeof big[0].c), n, "a count only");
    errno = 0;
    cr_expect_eq(numa_alloc_snapshot_threads(NULL, 3, sizeof(struct numa_alloc_thread_counters)),
                 -1);
    cr_expect_eq(errno, EINVAL);
}

Test(counters, unknown_names)
{
    const char *bad[] = {"",
                         "nope",
                         "total",
                         "total.",
                         "total.nope",
                         "node.0",
                         "node.0.",
                         "node.0.nope",
                         "node.99999.allocations",
                         "node.-1.allocations",
                         "node.+0.allocations",
                         "node.x.allocations",
                         "node..allocations",
                         "node.1234567.allocations",
                         "thread.current.",
                         "thread.current.nope",
                         "thread.1.allocations",
                         "threads.nope",
                         "active.x",
                         "total.allocations "};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t value = 42;
        errno = 0;
        cr_expect_eq(numa_alloc_counter(bad[i], &value), -1, "'%s' accepted", bad[i]);
        cr_expect_eq(errno, ENOENT, "'%s': %s", bad[i], strerror(errno));
        cr_expect_eq(value, 42, "'%s' wrote a value", bad[i]);
    }
    uint64_t value;
    errno = 0;
    cr_expect_eq(numa_alloc_counter(NULL, &value), -1);
    cr_expect_eq(errno, EINVAL);
    errno = 0;
    cr_expect_eq(numa_alloc_counter("total.allocations", NULL), -1);
    cr_expect_eq(errno, EINVAL);
    cr_expect_eq(counter("active"), 1);
}

/* ---- readers beside writers ---------------------------------------------- */

static volatile int stop;

static void *short_lived(void *arg)
{
    return malloc((size_t)arg);
}

static void *allocator(void *arg)
{
    (void)arg;
    void *keep[64] = {0};
    for (unsigned i = 0; !__atomic_load_n(&stop, __ATOMIC_RELAXED); i++) {
        free(keep[i % 64]);
        keep[i % 64] = malloc(16 + (i % 2000));
        if (i % 5000 == 0) { /* threads come and go: their counts move to the exited sums */
            pthread_t t;
            void *got = NULL;
            if (pthread_create(&t, NULL, short_lived, (void *)100) == 0)
                pthread_join(t, &got);
            free(got);
        }
    }
    for (int i = 0; i < 64; i++)
        free(keep[i]);
    return NULL;
}

static void *reader(void *arg)
{
    (void)arg;
    uint64_t last_allocs = 0, last_frees = 0, last_exited = 0;
    struct numa_alloc_thread_counters threads[16];
    for (int i = 0; i < 3000; i++) {
        uint64_t allocs = counter("total.allocations"), frees = counter("total.frees");
        uint64_t exited = counter("threads.exited");
        cr_assert_geq(allocs, last_allocs, "total.allocations went back");
        cr_assert_geq(frees, last_frees, "total.frees went back");
        cr_assert_geq(exited, last_exited);
        last_allocs = allocs, last_frees = frees, last_exited = exited;
        cr_assert_geq(numa_alloc_snapshot_threads(threads, 16, sizeof threads[0]), 1);
    }
    return NULL;
}

Test(counters, readers_while_others_allocate)
{
    pthread_t writers[3], readers[2];
    for (int i = 0; i < 3; i++)
        cr_assert_eq(pthread_create(&writers[i], NULL, allocator, NULL), 0);
    for (int i = 0; i < 2; i++)
        cr_assert_eq(pthread_create(&readers[i], NULL, reader, NULL), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(readers[i], NULL);
    __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
    for (int i = 0; i < 3; i++)
        pthread_join(writers[i], NULL);
}

/* ---- signal handlers ------------------------------------------------------- */

static volatile sig_atomic_t handled, handler_failed, handler_refused;
static uint64_t handler_value;

static void on_signal(int sig)
{
    (void)sig;
    int saved = errno;
    uint64_t value;
    if (numa_alloc_counter("thread.current.allocations", &value) != 0)
        handler_failed = 1;
    /* EAGAIN only when this thread was inside the thread registry. */
    if (numa_alloc_counter("total.allocations", &value) == 0)
        handler_value = value;
    else if (errno == EAGAIN)
        handler_refused++;
    else
        handler_failed = 1;
    handled++;
    errno = saved;
}

/*
 * Allocates, reads counters and writes the statistics, which hold the thread
 * registry lock for a while: a signal taken there must not wait for the lock its own
 * thread holds.
 */
static void *signalled_allocator(void *arg)
{
    int fd = *(int *)arg;
    void *keep[32] = {0};
    for (unsigned i = 0; !__atomic_load_n(&stop, __ATOMIC_RELAXED); i++) {
        free(keep[i % 32]);
        keep[i % 32] = malloc(16 + (i % 5000));
        if (i % 256 == 0)
            numa_alloc_stats_write(fd, 1);
        uint64_t value;
        numa_alloc_counter("total.allocations", &value); /* in the registry most of the time */
    }
    for (int i = 0; i < 32; i++)
        free(keep[i]);
    return NULL;
}

Test(counters, read_from_signal_handlers)
{
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    cr_assert_eq(sigaction(SIGUSR1, &sa, NULL), 0);
    free(malloc(10));
    raise(SIGUSR1);
    cr_assert_eq(handled, 1);
    cr_assert_eq(handler_failed, 0);
    cr_expect_gt(handler_value, 0);
    stop = 0;
    pthread_t t;
    int fd = open("/dev/null", O_WRONLY);
    cr_assert_geq(fd, 0);
    cr_assert_eq(pthread_create(&t, NULL, signalled_allocator, &fd), 0);
    for (int i = 0; i < 2000; i++) {
        pthread_kill(t, SIGUSR1);
        usleep(50);
    }
    __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
    pthread_join(t, NULL);
    close(fd);
    cr_log_info("%d signals handled, %d found their thread in the registry", (int)handled,
                (int)handler_refused);
    cr_expect_gt(handled, 1);
    cr_expect_eq(handler_failed, 0);
}

/* ---- a failed start -------------------------------------------------------- */

Test(counters, failed_start_says_not_active)
{
    char cmd[1024], out[512] = "";
    snprintf(
        cmd, sizeof cmd,
        "env NUMA_ALLOC_POLICY=bind NUMA_ALLOC_NODES=999 NUMA_ALLOC_FALLBACK=none %s 2>/dev/null",
        COUNTERS_PROBE_PATH);
    FILE *p = popen(cmd, "r");
    cr_assert(p);
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    pclose(p);
    char expect[128];
    snprintf(expect, sizeof expect, "active 0 0\ntotal -1 %d\nnodes -1 %d\n", ENOTSUP, ENOTSUP);
    cr_expect_str_eq(out, expect);
    snprintf(cmd, sizeof cmd, "%s", COUNTERS_PROBE_PATH);
    p = popen(cmd, "r");
    cr_assert(p);
    n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    pclose(p);
    cr_expect(strncmp(out, "active 0 1\ntotal 0 0\nnodes ", 27) == 0, "started: %s", out);
}

/*
 * A node heap is set up when its node is first used: after start-up and a
 * block on the starting thread's node one heap is (two if the thread moved
 * to another node meanwhile), whatever the node count; then one per node.
 */
Test(counters, heaps_set_up_on_first_use)
{
    char cmd[1024], out[512] = "";
    snprintf(cmd, sizeof cmd, "%s heaps", COUNTERS_PROBE_PATH);
    FILE *p = popen(cmd, "r");
    cr_assert(p);
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    pclose(p);
    int rc1 = -1, rc2 = -1, served = -1;
    unsigned long long first = 0, after = 0;
    cr_assert_eq(
        sscanf(out, "heaps %d %llu\nheaps %d %llu of %d", &rc1, &first, &rc2, &after, &served), 5,
        "probe said: %s", out);
    cr_assert_eq(rc1, 0, "heaps.ready unknown: %s", out);
    cr_expect(first >= 1 && first <= 2, "after start-up %llu heaps are set up", first);
    cr_expect(served >= 1);
    cr_expect_eq(after, (unsigned long long)served, "%llu heaps for %d nodes used", after, served);
}
