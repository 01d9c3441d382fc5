/*
 * workloads_programs.c - the prog-* workloads: unmodified python3, git and
 * sqlite3 run as subprocesses. The child that runs one of these workloads
 * already has the allocator in LD_PRELOAD (set by the runner); the program is
 * started with posix_spawn and our environment, so it inherits the preload.
 * Before the timed run, an untimed run of the same program dumps its own
 * /proc/<pid>/maps (python: /proc/self/maps; sqlite3: ".system cat
 * /proc/$PPID/maps"; git: a shell alias "!cat /proc/$PPID/maps"), and the
 * child checks that the expected allocator is mapped in the program (or, for
 * glibc, that none is). The timed run's stdout must hash to a known value and
 * every command must exit 0; otherwise the child prints the output and fails
 * (exit 4). One op = one run of the program (git: the whole command
 * sequence); the peak RSS is the program's own ru_maxrss from wait4 (git: the
 * largest of its commands, each including the processes it waited for).
 */
#define _GNU_SOURCE
#include "bench.h"
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PYTHON3 "/usr/bin/python3"
#define GIT     "/usr/bin/git"
#define SQLITE3 "/usr/bin/sqlite3"

long g_prog_maxrss_kib = -1; /* set by prog-* workloads */
uint64_t g_prog_cpu_ns;      /* user + system CPU time of the timed commands */
static volatile pid_t g_prog_pid;

static void prog_on_alarm(int sig)
{
    (void)sig;
    static const char m[] = "numa_bench: program timed out, killed\n";
    if (g_prog_pid > 0)
        kill(g_prog_pid, SIGKILL);
    if (write(STDERR_FILENO, m, sizeof m - 1) < 0)
        _exit(5);
    _exit(5);
}

typedef struct {
    const char *name; /* workload name, for messages */
    char dir[PATH_MAX];
    char out[PATH_MAX + 16], err[PATH_MAX + 16], maps[PATH_MAX + 16];
    uint64_t ns;     /* sum of the timed commands' wall times */
    uint64_t cpu_ns; /* and of their user + system CPU times (with their children) */
    long maxrss_kib; /* largest ru_maxrss of the timed commands */
} prog_t;

static void prog_die(prog_t *pr, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));

static void show_file(const char *label, const char *path, size_t max)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1 < max ? sizeof buf - 1 : max, f);
    buf[n] = 0;
    fclose(f);
    fprintf(stderr, "---- %s (first %zu bytes) ----\n%s\n----\n", label, n, buf);
}

static void prog_die(prog_t *pr, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "numa_bench: %s: FAIL: ", pr->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n  LD_PRELOAD=%s\n  work directory kept: %s\n",
            getenv("LD_PRELOAD") ? getenv("LD_PRELOAD") : "(unset)", pr->dir);
    show_file("program stderr", pr->err, 2048);
    exit(4);
}

static void write_file(prog_t *pr, const char *path, const char *data, size_t n)
{
    FILE *f = fopen(path, "w");
    if (!f || fwrite(data, 1, n, f) != n || fclose(f))
        prog_die(pr, "cannot write %s: %s", path, strerror(errno));
}

static void prog_init(prog_t *pr, const char *name)
{
    memset(pr, 0, sizeof *pr);
    pr->name = name;
    const char *tmp = getenv("TMPDIR");
    snprintf(pr->dir, sizeof pr->dir, "%s/numa_bench-%s.XXXXXX", tmp && *tmp ? tmp : "/tmp", name);
    if (!mkdtemp(pr->dir)) {
        fprintf(stderr, "numa_bench: mkdtemp %s: %s\n", pr->dir, strerror(errno));
        exit(2);
    }
    snprintf(pr->out, sizeof pr->out, "%s/.stdout", pr->dir);
    snprintf(pr->err, sizeof pr->err, "%s/.stderr", pr->dir);
    snprintf(pr->maps, sizeof pr->maps, "%s/.maps", pr->dir);
    /* The same locale, time zone and hash seed under every allocator. */
    setenv("LC_ALL", "C", 1);
    setenv("TZ", "UTC", 1);
    signal(SIGALRM, prog_on_alarm);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void prog_cleanup(prog_t *pr)
{
    nftw(pr->dir, rm_entry, 32, FTW_DEPTH | FTW_PHYS);
}

/*
 * Runs argv (argv[0]: absolute path) in `cwd` with our environment, stdin
 * from `in` (NULL: /dev/null), stdout appended to `out`, stderr appended to
 * pr->err. Fails the workload unless it exits 0. Timed runs add to pr->ns
 * and pr->maxrss_kib.
 */
static void prog_exec(prog_t *pr, const char *cwd, const char *in, const char *out,
                      char *const argv[], int timed)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, in ? in : "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, out, O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, pr->err, O_WRONLY | O_CREAT | O_APPEND,
                                     0644);
    if (cwd)
        posix_spawn_file_actions_addchdir_np(&fa, cwd);
    pid_t pid;
    struct rusage ru;
    int st;
    uint64_t t0 = now_ns();
    int e = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (e)
        prog_die(pr, "cannot start %s: %s (is it installed? see tools/packages.txt)", argv[0],
                 strerror(e));
    g_prog_pid = pid;
    while (wait4(pid, &st, 0, &ru) < 0)
        if (errno != EINTR)
            prog_die(pr, "wait4: %s", strerror(errno));
    uint64_t t1 = now_ns();
    g_prog_pid = 0;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        char cmd[2048];
        int k = 0;
        for (int i = 0; argv[i] && k < (int)sizeof cmd - 1; i++)
            k += snprintf(cmd + k, sizeof cmd - (size_t)k, "%s'%s'", i ? " " : "", argv[i]);
        if (WIFSIGNALED(st))
            prog_die(pr, "%s killed by signal %d (%s)", cmd, WTERMSIG(st), strsignal(WTERMSIG(st)));
        prog_die(pr, "%s exited with status %d", cmd, WEXITSTATUS(st));
    }
    if (timed) {
        pr->ns += t1 - t0;
        pr->cpu_ns += (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000ull +
                      (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000ull;
        if (ru.ru_maxrss > pr->maxrss_kib)
            pr->maxrss_kib = ru.ru_maxrss;
    }
}

/*
 * Runs `argv`, which must print the program's own /proc/<pid>/maps, and
 * checks that the expected allocator is mapped in it (glibc: that none of
 * the known malloc replacements is).
 */
static void prog_check_maps(prog_t *pr, const char *cwd, char *const argv[])
{
    remove(pr->maps);
    prog_exec(pr, cwd, NULL, pr->maps, argv, 0);
    FILE *f = fopen(pr->maps, "r");
    if (!f)
        prog_die(pr, "no maps output from %s", argv[0]);
    const char *exp = getenv("NUMA_BENCH_EXPECT");
    char want[PATH_MAX] = "";
    if (exp && *exp && strcmp(exp, "glibc") != 0 && !realpath(exp, want))
        prog_die(pr, "expected allocator %s: %s", exp, strerror(errno));
    if (!exp || !*exp) { /* manual --run: whatever LD_PRELOAD names */
        const char *lp = getenv("LD_PRELOAD");
        char first[PATH_MAX];
        if (lp && *lp) {
            snprintf(first, sizeof first, "%.*s", (int)strcspn(lp, ": "), lp);
            if (!realpath(first, want))
                snprintf(want, sizeof want, "%s", first);
        }
    }
    static const char *const others[] = {"libjemalloc", "libmimalloc", "libtcmalloc",
                                         "libnumapreload"};
    char line[4096], foreign[4096] = "";
    int found = 0, libc = 0;
    while (fgets(line, sizeof line, f)) {
        libc |= strstr(line, "/libc.so") != NULL;
        if (want[0] && strstr(line, want))
            found = 1;
        for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
            if (!foreign[0] && strstr(line, others[i]) && !(want[0] && strstr(line, want)))
                snprintf(foreign, sizeof foreign, "%s", line);
    }
    fclose(f);
    if (!libc)
        prog_die(pr, "%s did not print its /proc/<pid>/maps (see %s)", argv[0], pr->maps);
    if (want[0] && !found)
        prog_die(pr, "%s is NOT mapped in %s (see %s): the preload did not reach the program", want,
                 argv[0], pr->maps);
    if (foreign[0])
        prog_die(pr, "%s has another allocator mapped: %s", argv[0], foreign);
    remove(pr->maps);
}

static uint64_t fnv1a_file(prog_t *pr, const char *path, size_t *len)
{
    FILE *f = fopen(path, "r");
    if (!f)
        prog_die(pr, "cannot read %s: %s", path, strerror(errno));
    uint64_t h = 0xcbf29ce484222325ull;
    int c;
    *len = 0;
    while ((c = getc(f)) != EOF) {
        h = (h ^ (unsigned char)c) * 0x100000001b3ull;
        (*len)++;
    }
    fclose(f);
    return h;
}

/* The timed run's stdout must be exactly the expected output. */
static void prog_check_output(prog_t *pr, uint64_t want)
{
    size_t len;
    uint64_t h = fnv1a_file(pr, pr->out, &len);
    if (h != want) {
        show_file("program stdout", pr->out, 3000);
        prog_die(pr, "WRONG OUTPUT: %zu bytes with FNV-1a hash %016llx, expected %016llx", len,
                 (unsigned long long)h, (unsigned long long)want);
    }
}

static double prog_finish(prog_t *pr, uint64_t *ops)
{
    prog_cleanup(pr);
    g_prog_maxrss_kib = pr->maxrss_kib;
    g_prog_cpu_ns = pr->cpu_ns;
    *ops = 1;
    return (double)pr->ns;
}

/* ---- prog-python: python3 with PYTHONMALLOC=malloc (objects from malloc) ---- */

static const char py_script[] =
    "import hashlib, json, random, sys\n"
    "n = int(sys.argv[1])\n"
    "rng = random.Random(12345)\n"
    "recs = []\n"
    "for i in range(n):\n"
    "    recs.append({'id': i, 'name': 'user%07d' % ((i * 7919) % n),\n"
    "                 'tags': ['t%d' % (i % 13), 'g%d' % (i % 7)],\n"
    "                 'score': ((i * 104729) % 1000003) / 8.0,\n"
    "                 'note': 'x' * (i % 40)})\n"
    "by_name = {}\n"
    "for r in recs:\n"
    "    by_name.setdefault(r['name'], []).append(r['id'])\n"
    "words = ['%08x' % rng.getrandbits(32) * (1 + i % 4) for i in range(n)]\n"
    "words.sort()\n"
    "assert all(words[i] <= words[i + 1] for i in range(len(words) - 1))\n"
    "recs.sort(key=lambda r: (r['score'], r['id']))\n"
    "s = json.dumps(recs, sort_keys=True)\n"
    "back = json.loads(s)\n"
    "assert back == recs\n"
    "groups = {}\n"
    "for r in back:\n"
    "    groups.setdefault(r['tags'][0], []).append(r['score'])\n"
    "churn = {}\n"
    "for i in range(n):\n"
    "    churn[words[i]] = [i] * (i % 5)\n"
    "    if i % 3 == 0:\n"
    "        churn.pop(words[i // 2], None)\n"
    "summary = sorted((k, len(v), sum(v)) for k, v in groups.items())\n"
    "print(len(recs), len(by_name), len(s), len(churn), words[0], words[-1])\n"
    "print(hashlib.sha256(s.encode()).hexdigest())\n"
    "print(hashlib.sha256(repr(summary).encode()).hexdigest())\n";

double wl_prog_python(const params_t *p, uint64_t *ops)
{
    prog_t pr;
    prog_init(&pr, "prog-python");
    setenv("PYTHONMALLOC", "malloc", 1); /* no pymalloc arenas: every object is a malloc */
    setenv("PYTHONHASHSEED", "0", 1);
    setenv("PYTHONDONTWRITEBYTECODE", "1", 1);
    unsetenv("PYTHONPATH");
    unsetenv("PYTHONHOME");
    unsetenv("PYTHONSTARTUP");
    char script[PATH_MAX + 16], n[32];
    snprintf(script, sizeof script, "%s/w.py", pr.dir);
    write_file(&pr, script, py_script, sizeof py_script - 1);
    snprintf(n, sizeof n, "%zu", qsz(p, 40000, 2000));

    char *check[] = {PYTHON3, "-s", "-c", "print(open('/proc/self/maps').read())", NULL};
    prog_check_maps(&pr, pr.dir, check);
    char *argv[] = {PYTHON3, "-s", script, n, NULL};
    prog_exec(&pr, pr.dir, NULL, pr.out, argv, 1);
    prog_check_output(&pr, p->quick ? 0x8728a04e2fd84349ull : 0xf1e2a9c8a0eeecacull);
    return prog_finish(&pr, ops);
}

/* ---- prog-sqlite3: the sqlite3 shell on an in-memory database ---- */

static const char sql_script[] =
    "PRAGMA temp_store = MEMORY;\n"
    "CREATE TABLE t(id INTEGER PRIMARY KEY, a INTEGER, b TEXT, c REAL);\n"
    "WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM s WHERE x < %zu)\n"
    "INSERT INTO t SELECT x, (x * 7919) %% 1000, printf('k%%08d', (x * 104729) %% 1000003), "
    "x * 0.5 FROM s;\n"
    "CREATE INDEX t_b ON t(b);\n"
    "CREATE INDEX t_ac ON t(a, c);\n"
    "SELECT count(*), sum(a), min(b), max(b), sum(c) FROM t;\n"
    "SELECT a, count(*), sum(c) FROM t GROUP BY a ORDER BY sum(c) DESC, a LIMIT 5;\n"
    "SELECT b FROM t ORDER BY b DESC LIMIT 3;\n"
    "SELECT count(DISTINCT b), count(DISTINCT substr(b, 1, 6)) FROM t;\n"
    "SELECT group_concat(id) FROM (SELECT id FROM t WHERE a = 7 ORDER BY c DESC LIMIT 5);\n"
    "SELECT sum(length(k)), min(k), max(k) FROM (SELECT b || '-' || a AS k FROM t "
    "ORDER BY (id * 31) %% 1009, b LIMIT %zu);\n"
    "SELECT count(*) FROM t x JOIN t y ON y.id = x.a + 1 WHERE x.c > 1000;\n";

double wl_prog_sqlite3(const params_t *p, uint64_t *ops)
{
    size_t rows = qsz(p, 200000, 2000);
    prog_t pr;
    prog_init(&pr, "prog-sqlite3");
    char script[PATH_MAX + 16], sql[4096];
    snprintf(script, sizeof script, "%s/w.sql", pr.dir);
    int n = snprintf(sql, sizeof sql, sql_script, rows, rows * 3 / 4);
    write_file(&pr, script, sql, (size_t)n);

    char *check[] = {SQLITE3, ":memory:", ".system cat /proc/$PPID/maps", NULL};
    prog_check_maps(&pr, pr.dir, check);
    char *argv[] = {SQLITE3, "-batch", "-bail", ":memory:", NULL};
    prog_exec(&pr, pr.dir, script, pr.out, argv, 1);
    prog_check_output(&pr, p->quick ? 0x7d7fd9262dfda1ddull : 0x9c053d96f02c095bull);
    return prog_finish(&pr, ops);
}

/* ---- prog-git: init, add and commit ~2000 files, modify, commit, gc, log, fsck ---- */

static void git_write_tree(prog_t *pr, const char *repo, size_t nfiles, int round)
{
    rng_t r = rng_seed(1000 + (uint64_t)round);
    char path[PATH_MAX + 64], buf[8192];
    for (size_t i = 0; i < nfiles; i++) {
        /* round 0 writes every file; round 1 rewrites every 10th, adds 2 %, deletes 0.5 % */
        int del = round == 1 && i % 200 == 7;
        if (round == 1 && i % 10 != 0 && !del)
            continue;
        snprintf(path, sizeof path, "%s/d%02zu", repo, i / 50);
        mkdir(path, 0755);
        snprintf(path, sizeof path, "%s/d%02zu/f%05zu.txt", repo, i / 50, i);
        if (del) {
            if (remove(path))
                prog_die(pr, "remove %s: %s", path, strerror(errno));
            continue;
        }
        size_t lines = 20 + rng_below(&r, 80), k = 0;
        for (size_t l = 0; l < lines && k < sizeof buf - 64; l++)
            k += (size_t)snprintf(buf + k, sizeof buf - k, "file %zu line %zu round %d %016llx\n",
                                  i, l, round, (unsigned long long)rng_next(&r));
        write_file(pr, path, buf, k);
    }
    if (round == 1)
        for (size_t i = nfiles; i < nfiles + nfiles / 50; i++) {
            snprintf(path, sizeof path, "%s/new", repo);
            mkdir(path, 0755);
            snprintf(path, sizeof path, "%s/new/n%05zu.txt", repo, i);
            int k = snprintf(buf, sizeof buf, "new file %zu %016llx\n", i,
                             (unsigned long long)rng_next(&r));
            write_file(pr, path, buf, (size_t)k);
        }
}

double wl_prog_git(const params_t *p, uint64_t *ops)
{
    prog_t pr;
    prog_init(&pr, "prog-git");
    size_t nfiles = qsz(p, 2000, 100);
    char repo[PATH_MAX + 16];
    snprintf(repo, sizeof repo, "%s/repo", pr.dir);
    if (mkdir(repo, 0755))
        prog_die(&pr, "mkdir %s: %s", repo, strerror(errno));
    /* Fixed identity and dates: the commit ids are the same on every run. */
    setenv("HOME", pr.dir, 1);
    setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
    setenv("GIT_CONFIG_GLOBAL", "/dev/null", 1);
    setenv("GIT_AUTHOR_NAME", "numa bench", 1);
    setenv("GIT_AUTHOR_EMAIL", "bench@example.invalid", 1);
    setenv("GIT_COMMITTER_NAME", "numa bench", 1);
    setenv("GIT_COMMITTER_EMAIL", "bench@example.invalid", 1);
    setenv("GIT_AUTHOR_DATE", "2001-02-03T04:05:06Z", 1);
    setenv("GIT_COMMITTER_DATE", "2001-02-03T04:05:06Z", 1);
    unsetenv("GIT_DIR");
    unsetenv("GIT_WORK_TREE");
    unsetenv("GIT_INDEX_FILE");
    /* no background gc/maintenance, no fsync (we measure the allocator, not the disk) */
#define GITC                                                                                       \
    "-c", "gc.auto=0", "-c", "maintenance.auto=false", "-c", "core.fsync=none", "-c",              \
        "init.defaultBranch=main", "-c", "gc.autoDetach=false"

    char *check[] = {GIT, "-c", "alias.nbmaps=!cat /proc/$PPID/maps", "nbmaps", NULL};
    prog_check_maps(&pr, repo, check);

    git_write_tree(&pr, repo, nfiles, 0);
    char *init[] = {GIT, GITC, "init", "-q", NULL};
    char *add[] = {GIT, GITC, "add", "-A", NULL};
    char *commit1[] = {GIT, GITC, "commit", "-q", "-m", "first", NULL};
    char *commit2[] = {GIT, GITC, "commit", "-q", "-m", "second", NULL};
    char *gc[] = {GIT, GITC, "gc", "-q", NULL};
    char *log[] = {GIT, GITC, "log", "--format=%H %T %s", NULL};
    char *diff[] = {GIT, GITC, "diff", "--shortstat", "HEAD~1", "HEAD", NULL};
    char *revlist[] = {GIT, GITC, "rev-list", "--objects", "--all", NULL};
    char *fsck[] = {GIT, GITC, "fsck", "--full", "--strict", "--no-progress", NULL};
    prog_exec(&pr, repo, NULL, pr.out, init, 1);
    prog_exec(&pr, repo, NULL, pr.out, add, 1);
    prog_exec(&pr, repo, NULL, pr.out, commit1, 1);
    git_write_tree(&pr, repo, nfiles, 1); /* untimed */
    prog_exec(&pr, repo, NULL, pr.out, add, 1);
    prog_exec(&pr, repo, NULL, pr.out, commit2, 1);
    prog_exec(&pr, repo, NULL, pr.out, gc, 1);
    prog_exec(&pr, repo, NULL, pr.out, log, 1);
    prog_exec(&pr, repo, NULL, pr.out, diff, 1);
    prog_exec(&pr, repo, NULL, pr.out, revlist, 1);
    prog_exec(&pr, repo, NULL, pr.out, fsck, 1);
#undef GITC
    prog_check_output(&pr, p->quick ? 0x7aeca3d6d00a07d9ull : 0x170a0097c5ecc7a2ull);
    return prog_finish(&pr, ops);
}
