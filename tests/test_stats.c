/*
 * test_stats.c - the statistics count exactly what happened: N allocations
 * of size S show up as N allocations and N * class-size bytes on the node,
 * a thread's counts survive its exit, and NUMA_ALLOC_STATS writes at exit.
 */
#define _GNU_SOURCE
#include "test_util.h"
#include <criterion/criterion.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>

#include "numa_alloc.h"

static char json[1 << 20];

/* The statistics as JSON, through a memfd (nothing here allocates). */
/* The statistics written into `buf` (json or the table); `buf` returned. */
static const char *stats_into(char *buf, size_t cap, int as_json)
{
    int fd = memfd_create("stats", 0);
    cr_assert_geq(fd, 0);
    cr_assert_eq(numa_alloc_stats_write(fd, as_json), 0);
    ssize_t n = pread(fd, buf, cap - 1, 0);
    close(fd);
    cr_assert_gt(n, 0);
    buf[n] = '\0';
    return buf;
}

static const char *snapshot(void)
{
    return stats_into(json, sizeof json, 1);
}

/* The text table. */
static const char *table(void)
{
    static char text[1 << 16];
    return stats_into(text, sizeof text, 0);
}

/* The number after "key": inside the object that starts at `section` (e.g. "\"node0\""). */
static unsigned long long field(const char *text, const char *section, const char *key)
{
    const char *at = strstr(text, section);
    cr_assert(at, "no %s in:\n%s", section, text);
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\": ", key);
    at = strstr(at, pattern);
    cr_assert(at, "no %s after %s", key, section);
    return strtoull(at + strlen(pattern), NULL, 10);
}

struct counts {
    unsigned long long allocs, frees, bytes_alloc, bytes_freed;
};

static struct counts node0(void)
{
    const char *s = snapshot();
    return (struct counts){field(s, "\"node0\"", "allocations"), field(s, "\"node0\"", "frees"),
                           field(s, "\"node0\"", "bytes_allocated"),
                           field(s, "\"node0\"", "bytes_freed")};
}

Test(stats, exact_counts_of_small_blocks)
{
    static void *blocks[1000];
    free(malloc(100)); /* this thread has its cache */
    struct counts before = node0();
    for (int i = 0; i < 1000; i++)
        blocks[i] = malloc(100);
    for (int i = 0; i < 400; i++)
        free(blocks[i]);
    struct counts after = node0();
    cr_assert_eq(after.allocs - before.allocs, 1000);
    cr_assert_eq(after.frees - before.frees, 400);
    cr_assert_eq(after.bytes_alloc - before.bytes_alloc, 1000 * 112, "class of 100 B is 112 B");
    cr_assert_eq(after.bytes_freed - before.bytes_freed, 400 * 112);
    for (int i = 400; i < 1000; i++)
        free(blocks[i]);
}

Test(stats, exact_counts_of_large_and_huge_objects)
{
    free(malloc(100));
    struct counts before = node0();
    void *large[10], *huge[3];
    for (int i = 0; i < 10; i++)
        large[i] = malloc(100000);
    for (int i = 0; i < 3; i++)
        huge[i] = malloc(5 * MiB);
    size_t large_usable = malloc_usable_size(large[0]), huge_usable = malloc_usable_size(huge[0]);
    cr_assert_eq(large_usable, 106496, "100000 B rounds to the 64K + 5 * 8K class");
    cr_assert_eq(huge_usable, 5 * MiB);
    for (int i = 0; i < 10; i++)
        free(large[i]);
    struct counts after = node0();
    cr_assert_eq(after.allocs - before.allocs, 13);
    cr_assert_eq(after.frees - before.frees, 10);
    cr_assert_eq(after.bytes_alloc - before.bytes_alloc, 10 * large_usable + 3 * huge_usable);
    cr_assert_eq(after.bytes_freed - before.bytes_freed, 10 * large_usable);
    for (int i = 0; i < 3; i++)
        free(huge[i]);
}

static void *short_lived(void *arg)
{
    (void)arg;
    void *blocks[500];
    for (int i = 0; i < 500; i++)
        blocks[i] = malloc(48);
    for (int i = 0; i < 200; i++)
        free(blocks[i]);
    return NULL; /* 300 blocks outlive the thread */
}

Test(stats, counts_survive_thread_exit)
{
    free(malloc(100));
    const char *s = snapshot();
    const char *exited = "\"exited_threads\"";
    unsigned long long count = field(s, exited, "count"), allocs = field(s, exited, "allocations"),
                       frees = field(s, exited, "frees"),
                       bytes = field(s, exited, "bytes_allocated");
    pthread_t t;
    pthread_create(&t, NULL, short_lived, NULL);
    pthread_join(t, NULL);
    s = snapshot();
    /* The thread's own counts, kept after it exited (pthread_create's own
     * allocations, made by this thread, are not among them). */
    cr_assert_eq(field(s, exited, "count"), count + 1);
    cr_assert_eq(field(s, exited, "allocations") - allocs, 500);
    cr_assert_eq(field(s, exited, "frees") - frees, 200);
    cr_assert_eq(field(s, exited, "bytes_allocated") - bytes, 500 * 48);
}

Test(stats, json_has_the_seed_schema_and_verification)
{
    free(malloc(100));
    const char *s = snapshot();
    cr_assert(strstr(s, "\"node0\": {\"allocated_mb\": "), "%s", s);
    cr_assert(strstr(s, "\"local_pct\": "), "%s", s);
    cr_assert(strstr(s, "\"remote_pct\": "), "%s", s);
    cr_assert_gt(field(s, "\"verified\"", "pages_checked"), 0, "placement was verified");
    cr_assert_eq(field(s, "\"verified\"", "misplaced"), 0, "one node: nothing can be misplaced");
}

/* Runs the probe with the given environment; returns its exit status. */
static int run_probe(const char *env)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "env %s %s >/dev/null 2>/tmp/numa-alloc-test-stats.err", env,
             OPTIONS_PROBE_PATH);
    int status = system(cmd);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static size_t read_file(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    fclose(f);
    return n;
}

Test(stats, written_at_exit_to_a_file_with_the_pid)
{
    system("rm -f /tmp/numa-alloc-test-stats.*.json");
    cr_assert_eq(run_probe("NUMA_ALLOC_STATS=/tmp/numa-alloc-test-stats.%p.json"), 0);
    FILE *ls = popen("ls /tmp/numa-alloc-test-stats.*.json", "r");
    char path[256] = {0};
    cr_assert(fgets(path, sizeof path, ls), "no statistics file was written");
    pclose(ls);
    path[strcspn(path, "\n")] = '\0';
    cr_assert(strstr(path, ".json") && !strstr(path, "%p"), "%%p must become the pid: %s", path);
    static char text[1 << 16];
    cr_assert_gt(read_file(path, text, sizeof text), 0);
    cr_assert(strstr(text, "\"remote_pct\""), "%s", text);
    cr_assert_geq(field(text, "\"node0\"", "allocations"), 2, "the probe's mallocs: %s", text);
    unlink(path);
}

Test(stats, text_format_at_exit_on_stderr)
{
    cr_assert_eq(run_probe("NUMA_ALLOC_STATS=stderr NUMA_ALLOC_STATS_FORMAT=text"), 0);
    static char text[1 << 16];
    cr_assert_gt(read_file("/tmp/numa-alloc-test-stats.err", text, sizeof text), 0);
    cr_assert(strstr(text, "Node 0: "), "%s", text);
    cr_assert(strstr(text, "% local"), "%s", text);
    cr_assert(strstr(text, "Remote allocations: "), "%s", text);
    cr_assert(strstr(text, "pages verified"), "%s", text);
}

/* The table shows the numbers the JSON has. */
Test(stats, text_and_json_agree)
{
    free(malloc(100));
    unsigned long long allocs = field(snapshot(), "\"node0\"", "allocations");
    unsigned long long bytes = field(json, "\"node0\"", "bytes_allocated");
    const char *text = table();
    unsigned long long table_allocs = 0, table_bytes = 0;
    const char *row = strstr(text, "\nallocations ");
    cr_assert(row, "%s", text);
    table_allocs = strtoull(row + strlen("\nallocations "), NULL, 10);
    row = strstr(text, "\nbytes allocated ");
    cr_assert(row, "%s", text);
    table_bytes = strtoull(row + strlen("\nbytes allocated "), NULL, 10);
    cr_assert_eq(table_allocs, allocs, "text %llu, json %llu", table_allocs, allocs);
    cr_assert_eq(table_bytes, bytes, "text %llu, json %llu", table_bytes, bytes);
}

/* realloc in place changes bytes, not blocks: allocated - freed stays the live size. */
Test(stats, realloc_in_place_keeps_bytes_balanced)
{
    free(malloc(100));
    struct counts before = node0();
    char *p = malloc(40000);
    for (size_t size = 40000; size < 1500000; size += size / 3)
        p = realloc(p, size); /* large objects grow in place where they can */
    size_t usable = malloc_usable_size(p);
    struct counts during = node0();
    cr_assert_eq(during.bytes_alloc - before.bytes_alloc -
                     (during.bytes_freed - before.bytes_freed),
                 usable, "live bytes must be the block's usable size");
    free(p);
    struct counts after = node0();
    cr_assert_eq(after.bytes_alloc - before.bytes_alloc, after.bytes_freed - before.bytes_freed);
}

/* A thread's blocks: `small` of 100 B (the 112-byte class), then `large` of 1 MiB. */
struct peak_job {
    int small, large;
};

static void *peak_then_nothing(void *arg)
{
    const struct peak_job *job = arg;
    static void *blocks[20000], *large[8];
    for (int i = 0; i < job->small; i++)
        blocks[i] = malloc(100);
    for (int i = 0; i < job->large; i++)
        large[i] = malloc(1 << 20);
    for (int i = 0; i < job->large; i++)
        free(large[i]);
    for (int i = 0; i < job->small; i++)
        free(blocks[i]);
    return NULL;
}

/* The peak of live bytes the statistics keep for such a thread once it has exited. */
static unsigned long long exited_peak(int small, int large)
{
    struct peak_job job = {small, large};
    pthread_t t;
    pthread_create(&t, NULL, peak_then_nothing, &job);
    pthread_join(t, NULL);
    return field(snapshot(), "\"exited_threads\"", "peak_bytes_live");
}

/* A thread's peak of live bytes is kept after its memory is freed and it exits. */
Test(stats, thread_peak_of_live_bytes)
{
    unsigned long long peak = exited_peak(20000, 0); /* 2.24 MB live at the peak */
    cr_assert_geq(peak, 20000ULL * 112 * 9 / 10, "peak %llu", peak);
    cr_assert_leq(peak, 20000ULL * 112 + 65536, "peak %llu", peak);
}

/*
 * Large objects count in the peak at once, on top of the small blocks' live
 * bytes as last sampled (core/thread_cache.c, large_tick: no walk of the bins
 * for each large object).
 */
Test(stats, thread_peak_with_large_objects)
{
    unsigned long long peak = exited_peak(10000, 8); /* 1.12 MB, then 8 MiB */
    cr_assert_geq(peak, 10000ULL * 112 * 9 / 10 + (8ULL << 20), "peak %llu", peak);
    cr_assert_leq(peak, 10000ULL * 112 + (8ULL << 20), "peak %llu", peak);
}

/* A thread that frees blocks another thread made: its live bytes go below zero. */
struct sweeper {
    void **blocks;
    int count;
    pid_t tid;
    pthread_barrier_t swept, read;
};

static void *sweep(void *arg)
{
    struct sweeper *s = arg;
    s->tid = gettid();
    free(malloc(16)); /* its own first allocation, so that it is listed */
    for (int i = 0; i < s->count; i++)
        free(s->blocks[i]);
    pthread_barrier_wait(&s->swept);
    pthread_barrier_wait(&s->read); /* alive while the main thread reads the statistics */
    return NULL;
}

/*
 * The JSON prints it signed: unsigned, the difference wrapped to near 2^64
 * (18446744073709548656 for -2960), past what JSON readers that parse into
 * int64 take.
 */
Test(stats, a_thread_that_frees_others_blocks_has_negative_live_bytes)
{
    static void *blocks[1000];
    struct sweeper s = {.blocks = blocks, .count = 1000};
    for (int i = 0; i < s.count; i++)
        blocks[i] = malloc(1024);
    pthread_barrier_init(&s.swept, NULL, 2);
    pthread_barrier_init(&s.read, NULL, 2);
    pthread_t t;
    pthread_create(&t, NULL, sweep, &s);
    pthread_barrier_wait(&s.swept);
    const char *text = snapshot();
    char entry[64];
    snprintf(entry, sizeof entry, "{\"tid\": %d,", (int)s.tid);
    const char *at = strstr(text, entry);
    cr_assert(at, "no thread %d in:\n%s", (int)s.tid, text);
    at = strstr(at, "\"bytes_live\": ");
    cr_assert(at);
    long long live = strtoll(at + strlen("\"bytes_live\": "), NULL, 10);
    pthread_barrier_wait(&s.read);
    pthread_join(t, NULL);
    cr_assert_leq(live, -1000LL * 1024 + 64, "bytes_live %lld", live);
    cr_assert_geq(live, -1000LL * 1024, "bytes_live %lld", live);
}

/*
 * The cpuset watch (policy/mems_watch.h) re-reads Mems_allowed on slow paths
 * at most every 100 ms: here, where the cpuset never changes, several checks
 * find nothing to count, and the topology says node 0 is allowed. (The
 * change itself is checked in the 2-node guest: placement_cpuset_change.)
 */
Test(stats, unchanged_cpuset_counts_no_change)
{
    for (int i = 0; i < 4; i++) {
        free(malloc(1 << 20)); /* a slow path: where the watch looks */
        usleep(150 * 1000);    /* past the watch's interval, so each call checks */
    }
    const char *s = snapshot();
    cr_assert_eq(field(s, "\"topology\"", "mems_allowed_changes"), 0, "%s", s);
    cr_assert_eq(field(s, "\"topology\"", "unserved_node_joins"), 0, "%s", s);
    cr_assert(strstr(s, "{\"id\": 0, \"cpus\": true, \"memory\": true, \"allowed\": true"), "%s",
              s);
    const char *text = table();
    cr_assert(!strstr(text, "cpuset:"), "the table names no change: %s", text);
}

/*
 * A failed write reports write(2)'s own cause, as the header promises: EPIPE
 * for a pipe nobody reads (and no SIGPIPE: its default would kill this test),
 * EBADF for a descriptor not open for writing. Found by the fuzzer's
 * statistics check: every failure used to read EIO.
 */
Test(stats, a_failed_write_gives_the_cause_in_errno)
{
    int ends[2];
    cr_assert_eq(pipe(ends), 0);
    close(ends[0]);
    errno = 0;
    cr_assert_eq(numa_alloc_stats_write(ends[1], 1), -1);
    cr_assert_eq(errno, EPIPE, "closed pipe: errno %d, not EPIPE", errno);
    close(ends[1]);

    int ro = open("/dev/null", O_RDONLY);
    cr_assert_geq(ro, 0);
    errno = 0;
    cr_assert_eq(numa_alloc_stats_write(ro, 0), -1);
    cr_assert_eq(errno, EBADF, "read-only descriptor: errno %d, not EBADF", errno);
    close(ro);
}

/*
 * Who wrote the statistics, when, for what: the JSON's format, the library's
 * version, the time (RFC 3339 and seconds, the wall clock), the program and
 * its command line; the table's first line has the same.
 */
Test(stats, json_and_text_say_version_time_and_program)
{
    free(malloc(100));
    /* The wall clock as the library reads it: glibc's time() reads the coarse clock, up to a
     * tick behind, and was a second behind the statistics' time once (a flake). */
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    time_t before = now.tv_sec;
    const char *s = snapshot();
    clock_gettime(CLOCK_REALTIME, &now);
    time_t after = now.tv_sec;
    cr_assert(strstr(s, "\"format\": 1, \"version\": \"" NUMA_ALLOC_EXPECTED_VERSION "\""), "%s",
              s);
    cr_assert(strstr(s, "\"program\": \"test_stats\""), "%s", s);
    cr_assert(strstr(s, "\"args\": [\""), "%s", s);
    unsigned long long unix_s = field(s, "{", "time_unix");
    cr_assert(unix_s >= (unsigned long long)before && unix_s <= (unsigned long long)after,
              "time_unix %llu, not between %lld and %lld", unix_s, (long long)before,
              (long long)after);
    struct tm tm;
    gmtime_r(&(time_t){(time_t)unix_s}, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "\"time\": \"%Y-%m-%dT%H:%M:%S.", &tm);
    cr_assert(strstr(s, stamp), "no %s in %s", stamp, s);

    const char *text = table();
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:", &tm); /* a minute may pass: rarely */
    char first[256];
    snprintf(first, sizeof first, "numa-alloc %s, %s", NUMA_ALLOC_EXPECTED_VERSION, stamp);
    cr_assert(strncmp(text, first, strlen(first)) == 0, "the first line is not \"%s...\":\n%s",
              first, text);
    cr_assert(strstr(text, ", program test_stats\nnuma-alloc statistics: pid "), "%s", text);
}

/* 16 MB allocated is shown as 16.x MB, not "0.0 GB": a unit that shows the number. */
Test(stats, text_sizes_in_a_unit_that_shows_them)
{
    unsigned long long bytes = field(snapshot(), "\"node0\"", "bytes_allocated");
    cr_assert_lt(bytes, 1 * MiB, "the test starts small: %llu", bytes);
    void *block = malloc(16 * MiB);
    cr_assert_not_null(block);
    const char *text = table();
    free(block);
    const char *line = strstr(text, "\nNode 0: ");
    cr_assert(line, "%s", text);
    double value = 0;
    char unit[8] = "";
    cr_assert_eq(sscanf(line, "\nNode 0: %lf %7s allocated", &value, unit), 2, "%s", line);
    cr_assert_str_eq(unit, "MB", "%s", line);
    /* What was there before (under 1 MiB, more in a debug build) plus 16 MiB, to 0.1. */
    double want = (double)(bytes + 16 * MiB) / MiB;
    cr_assert(value >= 16.0 && value > want - 0.1 && value < want + 0.1, "want %.2f: %s", want,
              line);
}
