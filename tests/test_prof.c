/*
 * test_prof.c - the sampling allocation-site profile (NUMA_ALLOC_PROF, issue 18).
 *
 * Each test runs this program again as a child (TEST_PROF_CHILD=<workload>,
 * caught by a constructor before Criterion starts) with NUMA_ALLOC_PROF set,
 * then reads the profile the child wrote at exit: it must parse as the
 * format says (header, node, map, stack, site, lost, end), and the sites
 * are found by name: a stack's frames are mapped back into this program's
 * own text (the `map` lines give the child's load address) and named with
 * dladdr (the program exports its functions: ENABLE_EXPORTS).
 *
 * Checked: the sampled totals of a site are within 10% of what it allocated
 * (small blocks promoted to page runs, and large objects); blocks freed by
 * another thread count as freed_other_thread; realloc and free of sampled
 * blocks keep the data and the heap sound at a tiny rate (nearly every block
 * sampled); a profile that is off writes nothing; fork children of a
 * sampling process exit and write their own profiles; a bad rate gets one
 * warning line and the default.
 */
#include "test_util.h"

#include <criterion/criterion.h>
#include <dlfcn.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

/* ---- the child's workloads ------------------------------------------------ */

#define SMALL_SIZE   100
#define SMALL_COUNT  2500000 /* 250 MB of requests: sampled totals within 10% at 64 KiB */
#define LARGE_SIZE   (48 * KiB)
#define LARGE_COUNT  5000 /* 240 MB */
#define HANDED_SIZE  64
#define HANDED_COUNT 1600000 /* 100 MB: the estimate's deviation 2.5% at 64 KiB */
#define TOTALS_RATE  "65536"

__attribute__((noinline)) void prof_site_small(void)
{
    for (size_t i = 0; i < SMALL_COUNT; i++)
        free(test_launder(malloc(SMALL_SIZE)));
}

__attribute__((noinline)) void prof_site_large(void)
{
    for (size_t i = 0; i < LARGE_COUNT; i++) {
        char *p = test_launder(malloc(LARGE_SIZE));
        p[0] = 1;
        free(p);
    }
}

static void **handed;

static void *free_handed(void *arg)
{
    (void)arg;
    for (size_t i = 0; i < HANDED_COUNT; i++)
        free(handed[i]);
    return NULL;
}

__attribute__((noinline)) void prof_site_handed(void)
{
    for (size_t i = 0; i < HANDED_COUNT; i++)
        handed[i] = test_launder(malloc(HANDED_SIZE));
}

/* A few large blocks, sampled at a small rate, through the slow paths (which tick the live files).
 */
__attribute__((noinline)) void prof_site_handed_few(void)
{
    for (int i = 0; i < 64; i++)
        free(test_launder(malloc(40000)));
}

static void child_totals(void)
{
    prof_site_small();
    prof_site_large();
    handed = mmap(NULL, HANDED_COUNT * sizeof(void *), PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    prof_site_handed();
    pthread_t t;
    if (pthread_create(&t, NULL, free_handed, NULL) != 0 || pthread_join(t, NULL) != 0)
        _exit(3);
}

/* Realloc chains and frees at a rate that samples nearly every block; the data must survive. */
__attribute__((noinline)) void prof_site_realloc(void)
{
    test_rng rng = {42};
    enum { SLOTS = 256 };
    static unsigned char *blocks[SLOTS];
    static size_t sizes[SLOTS];
    for (unsigned round = 0; round < 20000; round++) {
        unsigned i = (unsigned)test_rng_range(&rng, 0, SLOTS - 1);
        size_t size = test_rng_range(&rng, 1, test_rng_range(&rng, 0, 3) ? 600 : 70000);
        if (blocks[i] &&
            test_bytes_check(blocks[i], sizes[i] < size ? sizes[i] : size, (unsigned char)i) >= 0)
            _exit(4);
        unsigned char *p =
            test_rng_range(&rng, 0, 9) == 0 ? (free(blocks[i]), NULL) : realloc(blocks[i], size);
        if (!p) {
            blocks[i] = NULL;
            sizes[i] = 0;
            continue;
        }
        memset(p, (unsigned char)i, size);
        blocks[i] = p;
        sizes[i] = size;
        void *q = test_launder(calloc(1, size));
        if (test_bytes_check(q, size, 0) >= 0)
            _exit(5);
        free(q);
    }
    for (unsigned i = 0; i < SLOTS; i++)
        free(blocks[i]);
    void *a = NULL;
    if (posix_memalign(&a, 256, 1000) != 0 || ((uintptr_t)a & 255) != 0)
        _exit(6);
    free(a);
    free(test_launder(aligned_alloc(4096, 5000)));
    /* A huge object (its sample in the segment's header), resized, then freed. */
    unsigned char *h = malloc(3 * MiB);
    if (!h)
        _exit(7);
    memset(h, 7, 3 * MiB);
    h = realloc(h, 5 * MiB);
    if (!h || test_bytes_check(h, 3 * MiB, 7) >= 0)
        _exit(8);
    free(h);
}

static volatile bool stop;

static void *churn(void *arg)
{
    (void)arg;
    while (!stop)
        free(test_launder(malloc(200)));
    return NULL;
}

/* Forks while another thread samples: every child must exit (and write its own profile). */
static void child_forks(void)
{
    pthread_t t;
    if (pthread_create(&t, NULL, churn, NULL) != 0)
        _exit(3);
    for (int i = 0; i < 40; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            free(test_launder(malloc(100)));
            exit(0);
        }
        int status;
        if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
            WEXITSTATUS(status) != 0)
            _exit(4);
    }
    stop = true;
    pthread_join(t, NULL);
}

/* Live statistics on: <pid>.prof is published beside the others, a snapshot (complete 0). */
static void child_live(void)
{
    char path[128], buf[1 << 16];
    snprintf(path, sizeof path, "/dev/shm/numa-alloc-%u/%d.prof", (unsigned)geteuid(), getpid());
    for (int i = 0; i < 100; i++) {
        prof_site_handed_few();
        test_sleep_ms(10);
        int fd = open(path, O_RDONLY);
        if (fd < 0)
            continue;
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        buf[n > 0 ? n : 0] = '\0';
        if (strstr(buf, "\ncomplete 0\n") && strstr(buf, "\nsite ") && strstr(buf, "\nend\n"))
            return;
    }
    _exit(7);
}

__attribute__((constructor)) static void run_child(void)
{
    const char *mode = getenv("TEST_PROF_CHILD");
    if (!mode)
        return;
    if (strcmp(mode, "totals") == 0)
        child_totals();
    else if (strcmp(mode, "realloc") == 0)
        prof_site_realloc();
    else if (strcmp(mode, "forks") == 0)
        child_forks();
    else if (strcmp(mode, "live") == 0)
        child_live();
    else if (strcmp(mode, "stats") == 0) {
        prof_site_handed_few();
        if (numa_alloc_stats_write(1, 1) != 0)
            _exit(8);
    } else if (strcmp(mode, "small") == 0)
        free(test_launder(malloc(100)));
    exit(0);
}

/* ---- running a child ------------------------------------------------------ */

static char dir[64];

static void remove_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (dir[0] && system(cmd) != 0)
        fprintf(stderr, "test_prof: could not remove %s\n", dir);
}

/* A fresh directory for the test's files, removed when the test ends (passed or not). */
static void make_dir(void)
{
    strcpy(dir, "/tmp/test_prof.XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

TestSuite(prof, .fini = remove_dir);

/* Runs the workload with the given NUMA_ALLOC_PROF (NULL: unset) and rate; its exit status. */
static int run(const char *mode, const char *prof, const char *rate, const char *err_path)
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        setenv("TEST_PROF_CHILD", mode, 1);
        if (prof)
            setenv("NUMA_ALLOC_PROF", prof, 1);
        else
            unsetenv("NUMA_ALLOC_PROF");
        if (rate)
            setenv("NUMA_ALLOC_PROF_RATE", rate, 1);
        if (err_path) {
            int fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
            dup2(fd, 2);
        }
        execl("/proc/self/exe", "test_prof", (char *)NULL);
        _exit(127);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* ---- reading a profile ---------------------------------------------------- */

#define MAX_STACKS 4096
#define MAX_FRAMES 48
#define MAX_MAPS   256

struct map {
    uintptr_t start, end, offset;
    char path[256];
};

struct profile {
    char rate[32], unwinder[32];
    int complete, nodes, n_maps, n_stacks, sites;
    struct map maps[MAX_MAPS];
    int depth[MAX_STACKS + 1];
    uintptr_t pc[MAX_STACKS + 1][MAX_FRAMES];
};

struct site_total {
    double samples, objects, bytes, freed_bytes, freed_other_thread_bytes, live_bytes;
};

/* Where this program's own text lies, to map a child's pc back into it. */
static bool own_map(const char *path, uintptr_t off, uintptr_t *addr)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    bool found = false;
    while (!found && fgets(line, sizeof line, f)) {
        unsigned long s, e, o;
        char perms[8], p[300] = "";
        if (sscanf(line, "%lx-%lx %7s %lx %*s %*s %299s", &s, &e, perms, &o, p) == 5 &&
            strcmp(p, path) == 0 && off >= o && off < o + (e - s)) {
            *addr = s + (off - o);
            found = true;
        }
    }
    fclose(f);
    return found;
}

/* The name of the function of the child's pc, when it lies in this program; NULL otherwise. */
static const char *name_of(const struct profile *prof, uintptr_t pc)
{
    char self[256];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    cr_assert_gt(n, 0);
    self[n] = '\0';
    for (int i = 0; i < prof->n_maps; i++) {
        const struct map *m = &prof->maps[i];
        uintptr_t addr;
        if (pc >= m->start && pc < m->end && strcmp(m->path, self) == 0 &&
            own_map(self, pc - m->start + m->offset, &addr)) {
            Dl_info info;
            if (dladdr((void *)(addr - 1), &info) && info.dli_sname)
                return info.dli_sname;
        }
    }
    return NULL;
}

static double field(const char *line, const char *key)
{
    const char *at = strstr(line, key);
    cr_assert_not_null(at, "no %s in: %s", key, line);
    return strtod(at + strlen(key), NULL);
}

/*
 * Parses the file (asserting its form) and sums the sites whose stack
 * reaches a function named `site`; returns the total of those sites.
 */
static struct site_total read_profile(const char *path, const char *site, struct profile *prof)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "no profile at %s", path);
    static char line[16384];
    struct site_total total = {0};
    int lineno = 0;
    bool ended = false;
    memset(prof, 0, sizeof *prof);
    while (fgets(line, sizeof line, f)) {
        cr_assert(!ended, "a line after end: %s", line);
        size_t len = strlen(line);
        cr_assert(len > 0 && line[len - 1] == '\n', "a line without its newline");
        line[--len] = '\0';
        lineno++;
        if (lineno == 1) {
            cr_assert_str_eq(line, "numa-alloc-profile 1");
            continue;
        }
        for (const char *c = line; *c; c++)
            cr_assert(*c >= 0x20 && *c <= 0x7e, "not printable ASCII: %s", line);
        char kind[32];
        cr_assert_eq(sscanf(line, "%31s", kind), 1);
        if (strcmp(kind, "rate") == 0) {
            sscanf(line, "rate %31s", prof->rate);
        } else if (strcmp(kind, "unwinder") == 0) {
            sscanf(line, "unwinder %31s", prof->unwinder);
        } else if (strcmp(kind, "complete") == 0) {
            prof->complete = atoi(line + 9);
        } else if (strcmp(kind, "node") == 0) {
            prof->nodes++;
        } else if (strcmp(kind, "map") == 0) {
            cr_assert_lt(prof->n_maps, MAX_MAPS);
            struct map *m = &prof->maps[prof->n_maps++];
            char perms[8];
            cr_assert_eq(sscanf(line, "map %lx %lx %7s %lx %255s", &m->start, &m->end, perms,
                                &m->offset, m->path),
                         5, "bad map line: %s", line);
            cr_assert_eq(perms[2], 'x', "a map line not executable: %s", line);
        } else if (strcmp(kind, "stack") == 0) {
            char *p = line + 6, *end;
            long id = strtol(p, &end, 10);
            cr_assert(id == prof->n_stacks + 1 && id <= MAX_STACKS, "stack ids from 1 in order");
            prof->n_stacks++;
            for (p = end; *p == ' ';) {
                cr_assert_lt(prof->depth[id], MAX_FRAMES);
                prof->pc[id][prof->depth[id]++] = strtoull(p + 1, &end, 16);
                cr_assert(end > p + 1, "bad frame in: %s", line);
                p = end;
            }
        } else if (strcmp(kind, "site") == 0) {
            long id = strtol(line + 5, NULL, 10);
            cr_assert(id >= 1 && id <= prof->n_stacks, "site of an unknown stack: %s", line);
            cr_assert_not_null(strstr(line, " decision="));
            prof->sites++;
            bool ours = false;
            for (int i = 0; i < prof->depth[id] && !ours; i++) {
                const char *name = name_of(prof, prof->pc[id][i]);
                ours = name && strcmp(name, site) == 0;
            }
            if (!ours)
                continue;
            total.samples += field(line, " samples=");
            total.objects += field(line, " objects=");
            total.bytes += field(line, " bytes=");
            total.freed_bytes += field(line, " freed_bytes=");
            total.freed_other_thread_bytes += field(line, " freed_other_thread_bytes=");
            total.live_bytes += field(line, " live_bytes=");
            field(line, " lifetime_ns=");
            field(line, " freed_other_node_bytes=");
        } else if (strcmp(kind, "end") == 0) {
            ended = true;
        }
    }
    fclose(f);
    cr_assert(ended, "%s: no end line (truncated)", path);
    cr_assert_geq(prof->nodes, 1);
    cr_assert_gt(prof->n_maps, 0);
    return total;
}

static void within_10_percent(double sampled, double truth, const char *what)
{
    cr_assert(sampled > truth * 0.9 && sampled < truth * 1.1, "%s: sampled %.0f, true %.0f", what,
              sampled, truth);
}

/* ---- the tests ------------------------------------------------------------ */

Test(prof, sampled_totals_within_10_percent_and_other_thread_frees, .timeout = 170)
{
    make_dir();
    char path[128];
    snprintf(path, sizeof path, "%s/p.%%p", dir);
    cr_assert_eq(run("totals", path, TOTALS_RATE, NULL), 0);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "ls %s/p.* > %s/list", dir, dir);
    cr_assert_eq(system(cmd), 0);
    char list[128], file[128];
    snprintf(list, sizeof list, "%s/list", dir);
    FILE *l = fopen(list, "r");
    cr_assert(fscanf(l, "%127s", file) == 1, "no profile written");
    fclose(l);

    static struct profile prof;
    struct site_total small = read_profile(file, "prof_site_small", &prof);
    cr_assert_str_eq(prof.rate, TOTALS_RATE);
    cr_assert_eq(prof.complete, 1);
    within_10_percent(small.bytes, (double)SMALL_SIZE * SMALL_COUNT, "prof_site_small bytes");
    within_10_percent(small.objects, SMALL_COUNT, "prof_site_small objects");
    within_10_percent(small.freed_bytes, (double)SMALL_SIZE * SMALL_COUNT, "small freed");
    cr_assert_lt(small.freed_other_thread_bytes, small.bytes * 0.01);

    struct site_total large = read_profile(file, "prof_site_large", &prof);
    within_10_percent(large.bytes, (double)LARGE_SIZE * LARGE_COUNT, "prof_site_large bytes");
    within_10_percent(large.objects, LARGE_COUNT, "prof_site_large objects");

    struct site_total handed = read_profile(file, "prof_site_handed", &prof);
    cr_assert_gt(handed.samples, 50);
    within_10_percent(handed.bytes, (double)HANDED_SIZE * HANDED_COUNT, "prof_site_handed bytes");
    cr_assert_eq(handed.freed_other_thread_bytes, handed.freed_bytes,
                 "every sampled block of the site was freed by the other thread");
    cr_assert_gt(handed.freed_bytes, 0);
    cr_assert_lt(handed.live_bytes, 1);
}

Test(prof, realloc_and_free_of_sampled_blocks_are_sound, .timeout = 170)
{
    make_dir();
    char path[128];
    snprintf(path, sizeof path, "%s/realloc.prof", dir);
    cr_assert_eq(run("realloc", path, "64", NULL), 0, "the child found its data changed");
    static struct profile prof;
    struct site_total t = read_profile(path, "prof_site_realloc", &prof);
    cr_assert_gt(t.samples, 1000, "at rate 64 nearly every block is sampled");
    cr_assert_lt(t.live_bytes, 1, "every block was freed");
}

Test(prof, off_writes_nothing)
{
    make_dir();
    char path[128];
    snprintf(path, sizeof path, "%s/never.prof", dir);
    cr_assert_eq(run("small", NULL, NULL, NULL), 0);
    struct stat st;
    cr_assert_neq(stat(path, &st), 0);
    /* And this very process (no NUMA_ALLOC_PROF): nothing sampled, every block a slab's. */
    cr_assert_eq(malloc_usable_size(test_launder(malloc(100))), test_expected_usable(100));
}

Test(prof, fork_children_exit_and_write_their_own, .timeout = 170)
{
    make_dir();
    char path[128], cmd[200];
    snprintf(path, sizeof path, "%s/f.%%p", dir);
    cr_assert_eq(run("forks", path, "256", NULL), 0, "a fork child failed or hung");
    snprintf(cmd, sizeof cmd, "test $(ls %s | wc -l) -eq 41", dir);
    cr_assert_eq(system(cmd), 0, "41 profiles: the process and its 40 children");
    snprintf(cmd, sizeof cmd, "for f in %s/f.*; do tail -n1 $f | grep -qx end || exit 1; done",
             dir);
    cr_assert_eq(system(cmd), 0, "every profile ends with end");
}

Test(prof, live_statistics_publish_the_profile, .timeout = 60)
{
    make_dir();
    char path[128];
    snprintf(path, sizeof path, "%s/live.prof", dir);
    setenv("NUMA_ALLOC_STATS_LIVE", "1", 1);
    int rc = run("live", path, "4096", NULL);
    unsetenv("NUMA_ALLOC_STATS_LIVE");
    cr_assert_eq(rc, 0, "no <pid>.prof with complete 0 in the live directory");
}

Test(prof, json_statistics_have_a_profile_object_only_when_on)
{
    make_dir();
    char path[128], out[128], cmd[512];
    snprintf(path, sizeof path, "%s/s.prof", dir);
    snprintf(out, sizeof out, "%s/stats.json", dir);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fd, 1);
        _exit(run("stats", path, "4096", NULL));
    }
    int status;
    waitpid(pid, &status, 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    snprintf(cmd, sizeof cmd,
             "python3 -c 'import json,sys; p=json.load(open(sys.argv[1]))[\"profile\"]; "
             "sys.exit(0 if p[\"rate\"] == 4096 and p[\"samples\"] > 0 and p[\"lost\"] == 0 "
             "else 1)' %s",
             out);
    cr_assert_eq(system(cmd), 0, "no profile object, or not as expected, in %s", out);
    static char here[1 << 20];
    const char *json = test_stats_json(here, sizeof here);
    cr_assert_not_null(json);
    cr_assert_null(strstr(json, "\"profile\""), "a profile object with the profile off");
}

/*
 * NUMA_ALLOC_PROF_UNWINDER names the unwinder: each gives stacks that name the
 * site (the fallback libgcc is what runs where libunwind is not installed).
 */
static void unwinder_names_the_site(const char *unwinder, const char *expect)
{
    make_dir();
    char path[128];
    snprintf(path, sizeof path, "%s/u.%s", dir, unwinder);
    setenv("NUMA_ALLOC_PROF_UNWINDER", unwinder, 1);
    cr_assert_eq(run("realloc", path, "256", NULL), 0);
    unsetenv("NUMA_ALLOC_PROF_UNWINDER");
    static struct profile prof;
    struct site_total site = read_profile(path, "prof_site_realloc", &prof);
    cr_assert_str_eq(prof.unwinder, expect);
    cr_assert_gt(site.samples, 10, "%s: %.0f samples named prof_site_realloc", unwinder,
                 site.samples);
}

Test(prof, libgcc_unwinder_names_the_site, .timeout = 120)
{
    unwinder_names_the_site("libgcc", "libgcc");
}

Test(prof, libunwind_unwinder_names_the_site, .timeout = 120)
{
    unwinder_names_the_site("libunwind", "libunwind");
}

/* Both, a thread's first stacks by libgcc (core/prof.c, FAST_AFTER): the site named across the
 * switch. */
Test(prof, auto_unwinder_takes_both_and_names_the_site, .timeout = 120)
{
    unwinder_names_the_site("auto", "libgcc+libunwind");
}

Test(prof, bad_rate_warns_once_and_uses_the_default)
{
    make_dir();
    char path[128], err[128];
    snprintf(path, sizeof path, "%s/r.prof", dir);
    snprintf(err, sizeof err, "%s/stderr", dir);
    cr_assert_eq(run("small", path, "12k", err), 0);
    static struct profile prof;
    read_profile(path, "none", &prof);
    cr_assert_str_eq(prof.rate, "524288");
    char cmd[256];
    snprintf(cmd, sizeof cmd, "test $(grep -c 'invalid NUMA_ALLOC_PROF_RATE=\"12k\"' %s) -eq 1",
             err);
    cr_assert_eq(system(cmd), 0, "one warning line");
}
