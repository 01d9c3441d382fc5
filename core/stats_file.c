/* stats_file.c - NUMA_ALLOC_STATS written at exit, safely; see stats_file.h. */
#define _GNU_SOURCE
#include "core/stats_file.h"

#include "base/os.h"
#include "base/report.h"
#include "base/textbuf.h"
#include "core/alloc.h"
#include "core/prof.h"
#include "core/stats.h"
#include "core/stats_openmetrics.h"
#include "policy/capabilities.h"
#include "policy/options.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define PID_DIGITS_MAX    10 /* what one %p can become */
#define NAME_CHARS_MAX    15 /* what one %e can become: comm's limit (TASK_COMM_LEN - 1) */
#define TIME_DIGITS_MAX   20 /* what one %t can become: any uint64_t */
#define TMP_RANDOM_DIGITS 16 /* hex digits of 64 random bits */
/* ".<pid>.<16 hex digits>.tmp" after the final name */
#define TMP_SUFFIX_MAX (1 + PID_DIGITS_MAX + 1 + TMP_RANDOM_DIGITS + 4)
#define TMP_TRIES      8

/*
 * Where the statistics go, set once by stats_file_init() and only read after.
 * Invariants for TO_FILE: its pattern (pattern_of) is absolute (starts with '/'); its longest
 * expansion (each %p as PID_DIGITS_MAX digits, %e NAME_CHARS_MAX, %t
 * TIME_DIGITS_MAX) plus TMP_SUFFIX_MAX fits
 * PATH_MAX with the NUL, and its last component's longest expansion plus
 * TMP_SUFFIX_MAX fits NAME_MAX, so expand() and the temporary name never cut.
 * `refused_pid`: the process whose target start-up found unsafe (it said so
 * then, and writes nothing); a forked child, with another pid, tries its own.
 * `top_pid`: under NUMA_ALLOC_STATS_SCOPE=top, the one process that writes
 * (0: none here); a fork child has another pid, so it never does.
 * `started_s`: %t, the wall-clock second this process started (the library's
 * start-up, or the fork that made it), whatever the target.
 * `dir_dev`, `dir_ino`: the directory checked at start-up, when its path has
 * no %p, %e or %t (`dir_known`); at exit the directory opened must be that
 * one, so that one swapped for a link elsewhere meanwhile (by a user who can
 * write into its parent) cannot send the file there.
 */
struct out_target {
    enum { TO_NOWHERE, TO_OUTPUT_FD, TO_FILE } kind;
    long refused_pid;
    long top_pid;
    bool dir_known;
    dev_t dir_dev;
    ino_t dir_ino;
};

/* What a target is: its variable, its value, the words of its messages. */
struct out_desc {
    const char *variable;
    const char *const *value; /* na_options' pointer: NULL while the variable is unset */
    enum option_variable option;
    const char *off, *not_written, *will_not; /* "statistics are off", ... */
};

static uint64_t started_s NA_HOT_BSS; /* %t, for every target */

/*
 * NUMA_ALLOC_STATS, and NUMA_ALLOC_PROF (the profile, core/prof.h), the same
 * way. The targets are zero (.bss: no page written unless used); what they
 * are is read-only beside them, by index. So are their patterns (the values
 * made absolute), apart (NA_COLD_BSS): 4 KiB each and written only when the
 * variable is set, inside the targets they would spread the few bytes that
 * start-up and exit touch here over pages of their own (docs/architecture.md,
 * *Footprint*).
 */
enum { STATS_TARGET, PROF_TARGET };
static struct out_target targets[2] NA_HOT_BSS;
NA_COLD_BSS static char patterns[2][PATH_MAX];
static const struct out_desc descs[2] = {
    {"NUMA_ALLOC_STATS=", &na_options.stats, OPTION_STATS, "statistics are off",
     "statistics not written", "statistics will not be written"},
    {"NUMA_ALLOC_PROF=", &na_options.prof, OPTION_PROF, "the profile is off",
     "the profile not written", "the profile will not be written"},
};
#define target      targets[STATS_TARGET]
#define prof_target targets[PROF_TARGET]

static const struct out_desc *desc_of(const struct out_target *t)
{
    return &descs[t - targets];
}

static char *pattern_of(const struct out_target *t)
{
    return patterns[t - targets];
}

/* "NUMA_ALLOC_STATS=<value>: <parts...>", once per process, ever (a child inherits that); the value
 * is cut, the line must stay whole. */
static void say_parts(const struct out_target *target_, const char *const *parts)
{
    const struct out_desc *t = desc_of(target_);
    char line[600];
    struct textbuf tb;
    tb_init(&tb, line, sizeof line);
    tb_str(&tb, t->variable);
    const char *value = *t->value ? *t->value : "";
    size_t len = strlen(value);
    if (len > 160) {
        char head[161];
        memcpy(head, value, 160);
        head[160] = '\0';
        tb_str(&tb, head);
        tb_str(&tb, "...");
    } else {
        tb_str(&tb, value);
    }
    tb_str(&tb, ": ");
    for (; *parts; parts++)
        tb_str(&tb, *parts);
    options_warn(t->option, line); /* one line per variable, ever (a fork child too) */
}
#define say(t, ...) say_parts(t, (const char *const[]){__VA_ARGS__, NULL})

/* Why a directory or file cannot be used, in words. */
static const char *reason(int err, char buf[ERRNO_NAME_SIZE])
{
    switch (err) {
    case ENOENT:
        return "no such directory";
    case EACCES:
    case EPERM:
        return "permission denied";
    case ENOTDIR:
        return "not a directory";
    case EROFS:
        return "read-only file system";
    case ENAMETOOLONG:
        return "name too long";
    case ELOOP:
        return "too many symbolic links";
    default:
        return errno_name(err, buf);
    }
}

/* Why an existing final name must not be replaced; NULL: a regular file of our own. */
static const char *unsafe_target(const struct stat *st)
{
    if (S_ISLNK(st->st_mode))
        return " is a symbolic link";
    if (S_ISFIFO(st->st_mode))
        return " is a FIFO";
    if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode))
        return " is a device";
    if (S_ISDIR(st->st_mode))
        return " is a directory";
    if (!S_ISREG(st->st_mode))
        return " is not a regular file";
    if (st->st_uid != (uid_t)syscall(SYS_geteuid))
        return " belongs to another user";
    return NULL;
}

/*
 * %e: the program's name (comm) as a safe file name: letters, digits and
 * `.` `_` `-` `+` are kept, every other byte (a `/`, a space, a byte of a
 * UTF-8 character) becomes `_`, as does a name made only of dots (`.`, `..`
 * would name a directory) and an empty one.
 */
static void program_file_name(char out[OS_COMM_SIZE])
{
    os_program_name(out);
    bool only_dots = true;
    for (char *c = out; *c; c++) {
        bool safe = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                    (*c >= '0' && *c <= '9') || *c == '.' || *c == '_' || *c == '-' || *c == '+';
        *c = safe ? *c : '_';
        only_dots &= *c == '.';
    }
    if (only_dots) {
        size_t len = strlen(out);
        memset(out, '_', len ? len : 1);
    }
}

/*
 * The pattern with %p as `pid`, %e as the program's name, %t as the start
 * second and %% as %, into out[PATH_MAX]; -1 if it would not fit.
 */
static int expand(const char *pattern, long pid, char *out)
{
    char name[OS_COMM_SIZE];
    program_file_name(name);
    struct textbuf tb;
    tb_init(&tb, out, PATH_MAX);
    for (const char *c = pattern; *c; c++) {
        if (c[0] == '%' && (c[1] == 'p' || c[1] == 't')) {
            tb_u64(&tb, c[1] == 'p' ? (uint64_t)pid : started_s);
            c++;
        } else if (c[0] == '%' && c[1] == 'e') {
            tb_str(&tb, name);
            c++;
        } else {
            char one[2] = {c[0], '\0'};
            c += c[0] == '%' && c[1] == '%';
            tb_str(&tb, one);
        }
        if (tb.len + 1 >= PATH_MAX)
            return -1;
    }
    return 0;
}

/*
 * The longest expansion of the whole pattern, and of its last component;
 * `varies`: whether a %p, %e or %t lies before the last component (the
 * directory may then differ between start-up and exit, or in a fork child).
 */
static void longest(const char *pattern, size_t *whole, size_t *last, bool *varies)
{
    bool in_last = false; /* the component being read holds a %p, %e or %t */
    *whole = *last = 0;
    *varies = false;
    for (const char *c = pattern; *c; c++) {
        size_t n = 1;
        if (c[0] == '%' && (c[1] == 'p' || c[1] == 'e' || c[1] == 't' || c[1] == '%')) {
            c++;
            n = *c == 'p'   ? PID_DIGITS_MAX
                : *c == 'e' ? NAME_CHARS_MAX
                : *c == 't' ? TIME_DIGITS_MAX
                            : 1;
            in_last |= *c != '%';
        } else if (*c == '/') {
            *varies |= in_last;
            in_last = false;
        }
        *whole += n;
        *last = *c == '/' ? 0 : *last + n;
    }
}

static int stat_nofollow(int dirfd, const char *path, struct stat *st)
{
    return (int)syscall(SYS_newfstatat, dirfd, path, st, AT_SYMLINK_NOFOLLOW);
}

/* W_OK | X_OK for the effective ids; faccessat without flags where faccessat2 is refused. */
static int dir_writable(const char *dir)
{
#ifdef SYS_faccessat2
    if (syscall(SYS_faccessat2, AT_FDCWD, dir, W_OK | X_OK, AT_EACCESS) == 0)
        return 0;
    if (errno != ENOSYS && errno != EPERM) /* old seccomp profiles answer EPERM */
        return -1;
#endif
    return (int)syscall(SYS_faccessat, AT_FDCWD, dir, W_OK | X_OK);
}

/* Makes the value absolute into pattern_of(t); false (said why) if it cannot. */
static bool make_absolute(struct out_target *t)
{
    const char *value = *desc_of(t)->value; /* set: target_init returned early otherwise */
    size_t len = strlen(value), at = 0;
    char *pattern = pattern_of(t);
    if (value[0] != '/') {
        long n = syscall(SYS_getcwd, pattern, PATH_MAX);
        if (n <= 1 || pattern[0] != '/') {
            char name[ERRNO_NAME_SIZE];
            say(t, "a relative path, and the current directory is unknown (",
                n < 0 ? reason(errno, name) : "unreachable", "); ", desc_of(t)->off);
            return false;
        }
        at = (size_t)n - 1; /* n counts the NUL; the kernel's answer fits */
        if (pattern[at - 1] != '/' && at + 1 < PATH_MAX)
            pattern[at++] = '/';
    }
    if (at + len >= PATH_MAX) {
        say(t, "too long; ", desc_of(t)->off);
        return false;
    }
    memcpy(pattern + at, value, len + 1);
    return true;
}

/*
 * NUMA_ALLOC_STATS_SCOPE=top without the launcher's NUMA_ALLOC_STATS_TOP_PID:
 * this process is the top unless its parent process runs numa-alloc too (it
 * maps the file our code came from). A fork child is not the top either: it
 * inherits `top_pid`, its parent's. Said without allocating; a parent whose
 * maps cannot be read (another user's) counts as not running numa-alloc.
 */
static long find_top_pid(long pid)
{
    if (na_options.stats_top_pid)
        return na_options.stats_top_pid;
    char id[OS_FILE_ID_SIZE];
    if (!os_mapped_file_of((const void *)&find_top_pid, id))
        return pid; /* cannot tell what to look for: write, as scope all would */
    return os_process_maps(syscall(SYS_getppid), id) == 1 ? 0 : pid;
}

/* Checks t's value and makes it ready for the exit (see stats_file.h). */
static void target_init(struct out_target *t)
{
    NA_COLD_BSS static char path[PATH_MAX]; /* not on the stack: init may run on a small one */
    const char *value = *desc_of(t)->value;
    /*
     * 0 and 1 are the switches of mimalloc's and jemalloc's users
     * (MIMALLOC_SHOW_STATS=1): off and stderr, never files of those names
     * in whatever directory the program runs in.
     */
    if (!value || strcmp(value, "0") == 0)
        return;
    if (strcmp(value, "stderr") == 0 || strcmp(value, "/dev/stderr") == 0 ||
        strcmp(value, "1") == 0) {
        t->kind = TO_OUTPUT_FD;
        report_output_keep();
        return;
    }
    int saved = errno;
    if (!make_absolute(t))
        goto out;
    size_t whole, last;
    bool varies;
    longest(pattern_of(t), &whole, &last, &varies);
    if (whole + TMP_SUFFIX_MAX >= PATH_MAX || last + TMP_SUFFIX_MAX > NAME_MAX) {
        say(t, whole + TMP_SUFFIX_MAX >= PATH_MAX ? "too long" : "file name too long",
            " (with %p as 10 digits, %e as 15 characters, %t as 20 digits); ", desc_of(t)->off);
        goto out;
    }
    if (last == 0) {
        say(t, "not a file name; ", desc_of(t)->off);
        goto out;
    }
    long pid = syscall(SYS_getpid);
    if (expand(pattern_of(t), pid, path) != 0)
        goto out; /* cannot happen: the length was checked */
    char *slash = strrchr(path, '/');
    *slash = '\0';
    const char *dir = slash == path ? "/" : path;
    struct stat st;
    int err = 0;
    if (syscall(SYS_newfstatat, AT_FDCWD, dir, &st, 0) != 0)
        err = errno;
    else if (!S_ISDIR(st.st_mode))
        err = ENOTDIR;
    else if (dir_writable(dir) != 0)
        err = errno;
    if (err) {
        char name[ERRNO_NAME_SIZE];
        say(t, "cannot write into ", dir, " (", reason(err, name), "); ", desc_of(t)->off);
        goto out;
    }
    *slash = '/';
    t->dir_known = !varies;
    t->dir_dev = st.st_dev;
    t->dir_ino = st.st_ino;
    const char *why;
    if (stat_nofollow(AT_FDCWD, path, &st) == 0 && (why = unsafe_target(&st))) {
        say(t, path, why, "; ", desc_of(t)->will_not);
        t->refused_pid = pid;
    }
    t->kind = TO_FILE;
out:
    errno = saved;
}

void stats_file_init(void)
{
    started_s = os_wall_ms() / 1000;
    target_init(&prof_target); /* the profile ignores the scope: every process writes its own */
    if (!na_options.stats)
        return;
    if (na_options.stats_scope == STATS_SCOPE_TOP &&
        (target.top_pid = find_top_pid(syscall(SYS_getpid))) != syscall(SYS_getpid))
        return; /* not the top: nothing to check, nothing to write (fork children neither) */
    target_init(&target);
    stats_workspace_prepare();
}

/* A fresh temporary file beside the final name: never a name that exists, never a link. */
static int create_temp(int dirfd, const char *name, long pid, char tmp[NAME_MAX + 1])
{
    static const char hex[] = "0123456789abcdef";
    for (unsigned attempt = 0; attempt < TMP_TRIES; attempt++) {
        uint64_t r;
        if (syscall(SYS_getrandom, &r, sizeof r, GRND_NONBLOCK) != (long)sizeof r)
            r = (os_now_ms() * 0x9e3779b97f4a7c15ull) ^ (uintptr_t)&r ^ attempt;
        struct textbuf tb;
        tb_init(&tb, tmp, NAME_MAX + 1);
        tb_str(&tb, name);
        tb_str(&tb, ".");
        tb_u64(&tb, (uint64_t)pid);
        tb_str(&tb, ".");
        char digits[TMP_RANDOM_DIGITS + 1];
        for (int i = 0; i < TMP_RANDOM_DIGITS; i++)
            digits[i] = hex[(r >> (4 * i)) & 15u];
        digits[TMP_RANDOM_DIGITS] = '\0';
        tb_str(&tb, digits);
        tb_str(&tb, ".tmp");
        int fd = (int)syscall(SYS_openat, dirfd, tmp,
                              O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    return -1;
}

static int rename_in(int dirfd, const char *from, const char *to)
{
#ifdef SYS_renameat
    return (int)syscall(SYS_renameat, dirfd, from, dirfd, to);
#else
    return (int)syscall(SYS_renameat2, dirfd, from, dirfd, to, 0);
#endif
}

/*
 * Writes the statistics (or the profile) into fd; false if that failed
 * (counted). (A write past RLIMIT_FSIZE would raise SIGXFSZ: os_write_all
 * keeps it from the host.)
 */
static bool write_into(const struct out_target *t, int fd)
{
    if (na_options.stats_mode != 0600 &&
        syscall(SYS_fchmod, fd, (mode_t)na_options.stats_mode) != 0) {
        report_failed_write();
        return false;
    }
    if (t == &prof_target) {
        if (prof_write(fd, true) == 0)
            return true;
        report_failed_write();
        return false;
    }
    if (na_options.stats_openmetrics)
        return stats_write_openmetrics(fd, true) == 0;
    return stats_write(fd, na_options.stats_json, true) == 0; /* a failure is counted there */
}

static void write_file(struct out_target *t)
{
    /* a destructor may run on a small stack */
    NA_COLD_BSS static char path[PATH_MAX], tmp[NAME_MAX + 1];
    char name[ERRNO_NAME_SIZE];
    long pid = syscall(SYS_getpid);
    if (pid == t->refused_pid || expand(pattern_of(t), pid, path) != 0)
        return;
    char *slash = strrchr(path, '/');
    const char *file = slash + 1;
    *slash = '\0';
    int dirfd = (int)syscall(SYS_openat, AT_FDCWD, slash == path ? "/" : path,
                             O_PATH | O_DIRECTORY | O_CLOEXEC);
    struct stat st;
    if (dirfd >= 0 && t->dir_known &&
        (syscall(SYS_fstat, dirfd, &st) != 0 || st.st_dev != t->dir_dev ||
         st.st_ino != t->dir_ino)) {
        say(t, "cannot write into ", slash == path ? "/" : path,
            " (not the directory it was at start-up); ", desc_of(t)->not_written);
        syscall(SYS_close, dirfd);
        return;
    }
    if (dirfd < 0) {
        say(t, "cannot write into ", slash == path ? "/" : path, " (", reason(errno, name), "); ",
            desc_of(t)->not_written);
        return;
    }
    *slash = '/';
    int fd = create_temp(dirfd, file, pid, tmp);
    if (fd < 0) {
        report_failed_write();
        say(t, "cannot create a file beside ", path, " (", errno_name(errno, name), "); ",
            desc_of(t)->not_written);
        syscall(SYS_close, dirfd);
        return;
    }
    bool written = write_into(t, fd);
    if (syscall(SYS_close, fd) != 0 && errno != EINTR && written) {
        report_failed_write(); /* a delayed write error (NFS, quota) */
        written = false;
    }
    const char *why = NULL;
    if (written && stat_nofollow(dirfd, file, &st) == 0)
        why = unsafe_target(&st);
    else if (written && errno != ENOENT)
        why = " cannot be examined";
    if (written && !why && rename_in(dirfd, tmp, file) != 0)
        why = " cannot be replaced";
    if (!written || why)
        syscall(SYS_unlinkat, dirfd, tmp, 0);
    if (why)
        say(t, path, why, "; ", desc_of(t)->not_written);
    syscall(SYS_close, dirfd);
}

/*
 * A destructor of the library, so it runs on exit() and on return from main
 * (not on _exit or a fatal signal). It writes with write(2) and takes no stdio
 * lock: it cannot deadlock with the program's own use of stdio, as printing
 * from atexit can.
 */
void stats_file_fork_child(void)
{
    started_s = os_wall_ms() / 1000;
}

/* The profile, at exit: its own file (or the output), as the statistics. */
static void prof_file_at_exit(void)
{
    if (prof_target.kind == TO_NOWHERE || !na_region.size)
        return;
    int saved = errno;
    if (prof_target.kind == TO_OUTPUT_FD) {
        int fd = report_output_fd();
        if (fd < 0 || prof_write(fd, true) != 0)
            report_failed_write();
    } else {
        write_file(&prof_target);
    }
    errno = saved;
}

__attribute__((destructor)) static void stats_file_at_exit(void)
{
    prof_file_at_exit();
    if (target.kind == TO_NOWHERE || (!na_region.size && !alloc_start_failed()))
        return;
    if (na_options.stats_scope == STATS_SCOPE_TOP && syscall(SYS_getpid) != target.top_pid)
        return; /* a fork child of the top process */
    int saved = errno;
    if (target.kind == TO_OUTPUT_FD) {
        int fd = report_output_fd();
        if (fd < 0)
            report_failed_write();
        else if (na_options.stats_openmetrics)
            stats_write_openmetrics(fd, true);
        else
            stats_write(fd, na_options.stats_json, true);
    } else {
        write_file(&target);
    }
    errno = saved;
}
