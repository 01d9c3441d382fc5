/*
 * test_util.h - helpers shared by the numa-alloc tests: RSS measurement,
 * byte patterns, a small PRNG, the size-class table from the design, and the
 * NUMA node sets read from sysfs.
 *
 * Everything is static inline so that every test file can include it; none of
 * it is allowed to hide allocator behaviour (no caching of results, no
 * allocation through anything but the functions under test).
 */
#ifndef NUMA_ALLOC_TEST_UTIL_H
#define NUMA_ALLOC_TEST_UTIL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "numa_alloc.h"

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

/* Keeps the compiler from reasoning about (and eliding) allocations. */
/*
 * Runs fn(arg) in a forked child whose stderr goes to `text` (NUL-ended, at
 * most cap - 1 bytes); the child exits 0 if fn returns. Returns its wait
 * status, or -1 if the pipe, the fork or the wait failed.
 */
static inline int test_run_child(void (*fn)(void *), void *arg, char *text, size_t cap)
{
    int out[2];
    text[0] = '\0';
    if (pipe(out) != 0)
        return -1;
    pid_t child = fork();
    if (child < 0)
        return -1;
    if (child == 0) {
        dup2(out[1], 2);
        fn(arg);
        _exit(0);
    }
    close(out[1]);
    size_t len = 0;
    ssize_t n;
    while (len < cap - 1 && (n = read(out[0], text + len, cap - 1 - len)) > 0)
        len += (size_t)n;
    text[len] = '\0';
    close(out[0]);
    int status = 0;
    return waitpid(child, &status, 0) == child ? status : -1;
}

static inline void *test_launder(void *p)
{
    __asm__ volatile("" : "+r"(p) : : "memory");
    return p;
}

/* ---- resident set size ------------------------------------------------- */

/* /proc/self/statm's address space (resident: false) or RSS (true) in bytes; 0 if unknown.
 * Uses open/read so that measuring does not itself call the allocator. */
static inline size_t test_statm_bytes(bool resident_set)
{
    char buf[256];
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    unsigned long size = 0, resident = 0;
    if (sscanf(buf, "%lu %lu", &size, &resident) != 2)
        return 0;
    return (size_t)(resident_set ? resident : size) * (size_t)sysconf(_SC_PAGESIZE);
}

/* RSS of this process in bytes (statm's second field). */
static inline size_t test_rss_bytes(void)
{
    return test_statm_bytes(true);
}

/* Minor page faults the calling thread has taken; -1 when getrusage refuses. */
static inline long test_thread_minor_faults(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_THREAD, &ru) != 0)
        return -1;
    return ru.ru_minflt;
}

/* ---- PRNG -------------------------------------------------------------- */

static inline uint64_t test_mix64(uint64_t x)
{
    /* splitmix64 finaliser */
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

typedef struct {
    uint64_t s;
} test_rng;

static inline uint64_t test_rng_next(test_rng *r)
{
    r->s += 0x9E3779B97F4A7C15ull;
    return test_mix64(r->s);
}

/* Uniform in [lo, hi]. */
static inline size_t test_rng_range(test_rng *r, size_t lo, size_t hi)
{
    return lo + (size_t)(test_rng_next(r) % (uint64_t)(hi - lo + 1));
}

/* ---- patterns ---------------------------------------------------------- */

/* A seed that encodes who wrote a block: (owner, index, size). */
static inline uint64_t test_pattern_seed(uint64_t owner, uint64_t index, uint64_t size)
{
    return test_mix64(test_mix64(test_mix64(owner) ^ index) ^ size);
}

/* The 64-bit word at word offset w of the pattern for `seed`. */
static inline uint64_t test_pattern_word(uint64_t seed, size_t w)
{
    return seed ^ ((uint64_t)w * 0xD6E8FEB86659FD93ull) ^ ((uint64_t)w << 40);
}

/* Writes the pattern for `seed` over [p, p + n). */
static inline void test_pattern_fill(void *p, size_t n, uint64_t seed)
{
    unsigned char *b = p;
    size_t w = 0;
    for (; (w + 1) * 8 <= n; w++) {
        uint64_t v = test_pattern_word(seed, w);
        memcpy(b + w * 8, &v, 8);
    }
    if (w * 8 < n) {
        uint64_t v = test_pattern_word(seed, w);
        memcpy(b + w * 8, &v, n - w * 8);
    }
}

/* Offset of the first byte of [p, p + n) that differs from the pattern for
 * `seed`, or -1 when the whole range is intact. */
static inline long test_pattern_check(const void *p, size_t n, uint64_t seed)
{
    const unsigned char *b = p;
    size_t w = 0;
    for (; (w + 1) * 8 <= n; w++) {
        uint64_t v = test_pattern_word(seed, w), got;
        memcpy(&got, b + w * 8, 8);
        if (got != v) {
            for (size_t i = 0; i < 8; i++)
                if (((const unsigned char *)&got)[i] != ((const unsigned char *)&v)[i])
                    return (long)(w * 8 + i);
        }
    }
    if (w * 8 < n) {
        uint64_t v = test_pattern_word(seed, w);
        const unsigned char *e = (const unsigned char *)&v;
        for (size_t i = 0; w * 8 + i < n; i++)
            if (b[w * 8 + i] != e[i])
                return (long)(w * 8 + i);
    }
    return -1;
}

/* Offset of the first byte of [p, p + n) that is not `byte`, or -1. */
static inline long test_bytes_check(const void *p, size_t n, unsigned char byte)
{
    const unsigned char *b = p;
    size_t i = 0;
    uint64_t word;
    memset(&word, byte, sizeof word);
    for (; i + 8 <= n; i += 8) {
        uint64_t got;
        memcpy(&got, b + i, 8);
        if (got != word)
            break;
    }
    for (; i < n; i++)
        if (b[i] != byte)
            return (long)i;
    return -1;
}

/* ---- size classes from the design ------------------------------------ */

#define TEST_SMALL_MAX ((size_t)32768)
#define TEST_LARGE_MAX ((size_t)2 * MiB)

/*
 * Fills `out` with the small size classes of the design in increasing order:
 * 16, 32, 48, ..., 128, then 8 classes per doubling up to 32768.
 * Returns the number of classes (at most `cap`).
 */
static inline size_t test_small_classes(size_t *out, size_t cap)
{
    size_t n = 0;
    static const size_t tiny[] = {16, 32, 48, 64, 80, 96, 112, 128};
    for (size_t i = 0; i < sizeof tiny / sizeof tiny[0] && n < cap; i++)
        out[n++] = tiny[i];
    for (size_t base = 128; base < TEST_SMALL_MAX; base *= 2)
        for (size_t k = 1; k <= 8 && n < cap; k++)
            out[n++] = base + k * (base / 8);
    return n;
}

/*
 * The usable size the design gives a request of `size` (> 0) bytes:
 * small classes up to 32 KiB, the same 8-per-doubling rounding for large
 * runs up to 2 MiB (which makes them whole 4 KiB pages), whole pages above.
 */
static inline size_t test_expected_usable(size_t size)
{
    if (size <= 128)
        return (size + 15) & ~(size_t)15;
    if (size <= TEST_LARGE_MAX) {
        size_t base = 128;
        while (size > base * 2)
            base *= 2;
        size_t step = base / 8;
        return (size + step - 1) / step * step;
    }
    return (size + 4095) & ~(size_t)4095;
}

/* ---- NUMA nodes -------------------------------------------------------- */

#define TEST_MAX_NODES 1024

/* Parses a sysfs/proc node list ("0", "0-3,6") into a membership array. */
static inline int test_parse_node_list(const char *s, unsigned char *set, int max)
{
    int count = 0;
    while (*s) {
        while (*s == ',' || *s == ' ' || *s == '\n' || *s == '\t')
            s++;
        if (!*s)
            break;
        char *end;
        long a = strtol(s, &end, 10);
        if (end == s)
            return -1;
        long b = a;
        s = end;
        if (*s == '-') {
            b = strtol(s + 1, &end, 10);
            if (end == s + 1)
                return -1;
            s = end;
        }
        for (long i = a; i <= b; i++)
            if (i >= 0 && i < max && !set[i]) {
                set[i] = 1;
                count++;
            }
    }
    return count;
}

/* Reads a node list file; returns the number of nodes or -1. */
static inline int test_read_node_file(const char *path, unsigned char *set, int max)
{
    char buf[4096];
    FILE *f = fopen(path, "r");
    memset(set, 0, (size_t)max);
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return test_parse_node_list(buf, set, max);
}

/* Reads Mems_allowed_list from /proc/self/status. */
static inline int test_read_mems_allowed(unsigned char *set, int max)
{
    char line[4096];
    FILE *f = fopen("/proc/self/status", "r");
    int r = -1;
    memset(set, 0, (size_t)max);
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "Mems_allowed_list:", 18) == 0) {
            r = test_parse_node_list(line + 18, set, max);
            break;
        }
    }
    fclose(f);
    return r;
}

/*
 * Nodes a numa_malloc may use: online, with memory, and allowed by the
 * cpuset. `usable[i]` is set for those; returns how many there are.
 */
static inline int test_usable_nodes(unsigned char *usable)
{
    static unsigned char online[TEST_MAX_NODES], mem[TEST_MAX_NODES], allowed[TEST_MAX_NODES];
    int n = 0;
    if (test_read_node_file("/sys/devices/system/node/online", online, TEST_MAX_NODES) < 0) {
        memset(online, 0, sizeof online);
        online[0] = 1; /* no sysfs node directory: a single node 0 */
    }
    if (test_read_node_file("/sys/devices/system/node/has_memory", mem, TEST_MAX_NODES) < 0)
        memcpy(mem, online, sizeof mem);
    if (test_read_mems_allowed(allowed, TEST_MAX_NODES) < 0)
        memcpy(allowed, online, sizeof allowed);
    for (int i = 0; i < TEST_MAX_NODES; i++) {
        usable[i] = online[i] && mem[i] && allowed[i];
        n += usable[i];
    }
    return n;
}

/* The lowest usable node id (see test_usable_nodes), or -1 if none. */
static inline int test_first_usable_node(void)
{
    static unsigned char usable[TEST_MAX_NODES];
    if (test_usable_nodes(usable) <= 0)
        return -1;
    for (int i = 0; i < TEST_MAX_NODES; i++)
        if (usable[i])
            return i;
    return -1;
}

/* Node of the CPU this thread runs on now (getcpu); 0 if unknown. */
static inline int test_current_node(void)
{
    unsigned cpu = 0, node = 0;
    if (syscall(SYS_getcpu, &cpu, &node, NULL) != 0)
        return 0;
    return (int)node;
}

/* Pins the calling thread to the CPU it runs on now, so that "the current
 * node" stays the same across a check; returns that node. */
static inline int test_pin_current_node(void)
{
    unsigned cpu = 0, node = 0;
    if (syscall(SYS_getcpu, &cpu, &node, NULL) != 0)
        return 0;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    sched_setaffinity(0, sizeof set, &set);
    return test_current_node();
}

/* ---- the kernel ---------------------------------------------------------- */

/* Transparent huge pages where asked for (madvise) or everywhere. */
static inline int test_kernel_has_thp(void)
{
    char buf[128] = "";
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    if (f) {
        if (!fgets(buf, sizeof buf, f))
            buf[0] = '\0';
        fclose(f);
    }
    return strstr(buf, "[madvise]") || strstr(buf, "[always]");
}

/* ---- time -------------------------------------------------------------- */

static inline void test_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static inline double test_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- numa-alloc served it -------------------------------------------- */

/*
 * Asserts that numa-alloc served `p`: numa_ptr_node knows the block. A test
 * built against another malloc (numa_ptr_node is then -1 for everything, see
 * numa_alloc.h) fails here instead of passing on that malloc's behaviour.
 * Criterion's assertions must run on the test's own thread.
 */
#define test_assert_ours(p)                                                                        \
    cr_assert_geq(numa_ptr_node(p), 0, "%p was not served by numa-alloc (numa_ptr_node %d)",       \
                  (const void *)(p), numa_ptr_node(p))

/*
 * The statistics as JSON (numa_alloc_stats_write through a memfd, so reading
 * them allocates nothing) into buf; NULL if they cannot be had.
 */
static inline const char *test_stats_json(char *buf, size_t cap)
{
    int fd = (int)syscall(SYS_memfd_create, "stats", 0);
    if (fd < 0)
        return NULL;
    ssize_t n = -1;
    if (numa_alloc_stats_write(fd, 1) == 0)
        n = pread(fd, buf, cap - 1, 0);
    close(fd);
    if (n <= 0)
        return NULL;
    buf[n] = '\0';
    return buf;
}

/*
 * The number after "key": in the object that starts at `section` (e.g.
 * "\"node0\""), or -1 when either is missing.
 */
static inline long long test_stats_field(const char *json, const char *section, const char *key)
{
    const char *at = json ? strstr(json, section) : NULL;
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\": ", key);
    if (!at || !(at = strstr(at, pattern)))
        return -1;
    return strtoll(at + strlen(pattern), NULL, 10);
}

/*
 * Runs a shell command line; its stdout (and whatever it redirects there) in
 * out, cut to cap - 1 bytes. Returns its exit status, 128 if a signal ended
 * it, -1 if it could not be started.
 */
static inline int test_command_output(const char *cmd, char *out, size_t cap)
{
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* A field of node `node`'s object in this process's statistics now; -1 if missing. */
static inline long long test_stats_node_field(int node, const char *key)
{
    static char json[1 << 20];
    char section[32];
    snprintf(section, sizeof section, "\"node%d\"", node);
    return test_stats_field(test_stats_json(json, sizeof json), section, key);
}

#endif /* NUMA_ALLOC_TEST_UTIL_H */
