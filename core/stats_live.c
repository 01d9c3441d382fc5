/* stats_live.c - live statistics files; see stats_live.h. */
#define _GNU_SOURCE
#include "core/stats_live.h"

#include "base/lock.h"
#include "base/os.h"
#include "base/parse.h"
#include "base/report.h"
#include "base/textbuf.h"
#include "core/alloc.h"
#include "core/prof.h"
#include "core/stats.h"
#include "core/stats_openmetrics.h"
#include "policy/capabilities.h"
#include "policy/options.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define LIVE_INTERVAL_MS 250
#define LIVE_NAME_MAX    48 /* "<pid>.json.tmp" and "/dev/shm/numa-alloc-<uid>" fit */

/*
 * Invariants: dir_fd >= 0 exactly when live statistics are on: it is the
 * per-user directory, checked (a directory of our euid, mode 0700) when it
 * was opened, and every later file operation is relative to it. lock_fd >= 0
 * only in the process lock_pid that created <lock_pid>.lock and holds its
 * flock; a forked child starts with -1. closed: the process is ending (the
 * files are gone); nothing is published any more. lock_fd, lock_pid and
 * closed change only under `publishing` (or before the process has threads
 * of ours: init, the fork child).
 */
static struct {
    int dir_fd;
    int lock_fd;
    int lock_pid;
    bool closed;
} live = {-1, -1, 0, false};

/* Held while a thread publishes; others skip their turn instead of waiting. */
static na_lock_t publishing = NA_LOCK_INIT;

/* "<pid>.<ext>" */
static void live_name(char *buf, int pid, const char *ext)
{
    struct textbuf tb;
    tb_init(&tb, buf, LIVE_NAME_MAX);
    tb_u64(&tb, (uint64_t)pid);
    tb_str(&tb, ".");
    tb_str(&tb, ext);
}

static void unlink_live(int pid, const char *ext)
{
    char name[LIVE_NAME_MAX];
    live_name(name, pid, ext);
    syscall(SYS_unlinkat, live.dir_fd, name, 0);
}

/* The statistics of pid, in the order a reader looks at them; the lock goes last. */
static void unlink_data(int pid)
{
    unlink_live(pid, "json");
    unlink_live(pid, "txt");
    unlink_live(pid, "om");
    unlink_live(pid, "prof");
    unlink_live(pid, "json.tmp");
    unlink_live(pid, "txt.tmp");
    unlink_live(pid, "om.tmp");
    unlink_live(pid, "prof.tmp");
}

/* ---- stale files ---------------------------------------------------------- */

/*
 * A lock file (name) whose flock we can take has no live writer. Opened
 * without following a link and without blocking (a FIFO must not hang us);
 * only a regular file counts. Unlinked only while it is still the file we
 * locked: a process reusing the pid may have renamed a fresh lock over it.
 */
static void sweep_lock(int pid, const char *name, bool data_too)
{
    int fd =
        (int)syscall(SYS_openat, live.dir_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return;
    struct stat held, now;
    if (syscall(SYS_fstat, fd, &held) == 0 && S_ISREG(held.st_mode) &&
        syscall(SYS_flock, fd, LOCK_EX | LOCK_NB) == 0) {
        if (data_too)
            unlink_data(pid);
        if (syscall(SYS_newfstatat, live.dir_fd, name, &now, AT_SYMLINK_NOFOLLOW) == 0 &&
            now.st_ino == held.st_ino && now.st_dev == held.st_dev)
            syscall(SYS_unlinkat, live.dir_fd, name, 0);
    }
    syscall(SYS_close, fd);
}

/* One directory entry: "<pid>.<ext>"; anything else is not ours and is left alone. */
static void sweep_entry(const char *name)
{
    uint64_t number;
    const char *c = parse_decimal(name, INT_MAX, &number);
    /* At most 9 digits (leading zeros count): what a pid is written with, always an int. */
    if (!c || c - name > 9 || number == 0 || *c != '.')
        return;
    int pid = (int)number;
    const char *ext = c + 1;
    if (strcmp(ext, "lock") == 0) {
        sweep_lock(pid, name, true);
    } else if (strcmp(ext, "lock.tmp") == 0) {
        sweep_lock(pid, name, false); /* a start cut short before its rename */
    } else if (strcmp(ext, "json") == 0 || strcmp(ext, "txt") == 0 || strcmp(ext, "om") == 0 ||
               strcmp(ext, "prof") == 0 || strcmp(ext, "json.tmp") == 0 ||
               strcmp(ext, "txt.tmp") == 0 || strcmp(ext, "om.tmp") == 0 ||
               strcmp(ext, "prof.tmp") == 0) {
        /* A live process takes its lock before it publishes and drops it last. */
        char lock[LIVE_NAME_MAX];
        struct stat st;
        live_name(lock, pid, "lock");
        if (syscall(SYS_newfstatat, live.dir_fd, lock, &st, AT_SYMLINK_NOFOLLOW) != 0 &&
            errno == ENOENT)
            syscall(SYS_unlinkat, live.dir_fd, name, 0);
    }
}

/* Once, at start-up: the leftovers of processes killed, aborted or exec'd away. */
static void sweep(void)
{
    /* Aligned for the records; on the stack: no allocation, and init is not reentrant. */
    char buf[2048] __attribute__((aligned(8)));
    if (syscall(SYS_lseek, live.dir_fd, 0, SEEK_SET) < 0)
        return;
    for (;;) {
        long n = syscall(SYS_getdents64, live.dir_fd, buf, sizeof buf);
        if (n <= 0)
            return;
        for (long at = 0; at < n;) {
            const struct dirent64 *d = (const struct dirent64 *)(void *)(buf + at);
            if (d->d_type == DT_REG || d->d_type == DT_UNKNOWN)
                sweep_entry(d->d_name);
            at += d->d_reclen;
        }
    }
}

/* ---- the directory and the lock ------------------------------------------ */

static void tb_octal(struct textbuf *tb, unsigned mode)
{
    char digits[8];
    int n = 0;
    do {
        digits[n++] = (char)('0' + (mode & 7));
        mode >>= 3;
    } while (mode && n < 7);
    tb_str(tb, "0");
    while (n > 0) {
        char one[2] = {digits[--n], '\0'};
        tb_str(tb, one);
    }
}

/* The one line saying why live statistics are off. */
static void warn_directory(const char *path, int err)
{
    char line[200], name[ERRNO_NAME_SIZE];
    struct textbuf tb;
    struct stat st;
    tb_init(&tb, line, sizeof line);
    tb_str(&tb, "NUMA_ALLOC_STATS_LIVE=1: ");
    if (syscall(SYS_newfstatat, AT_FDCWD, path, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        tb_str(&tb, "cannot create ");
        tb_str(&tb, path);
        tb_str(&tb, " (");
        tb_str(&tb, errno_name(err ? err : errno, name));
        tb_str(&tb, ")");
    } else {
        tb_str(&tb, path);
        tb_str(&tb, " is not a directory of this user with mode 0700 (");
        if (S_ISLNK(st.st_mode))
            tb_str(&tb, "a symbolic link, ");
        else if (!S_ISDIR(st.st_mode))
            tb_str(&tb, "not a directory, ");
        tb_str(&tb, "owner ");
        tb_u64(&tb, st.st_uid);
        tb_str(&tb, ", mode ");
        tb_octal(&tb, st.st_mode & 07777);
        tb_str(&tb, ")");
    }
    tb_str(&tb, "; live statistics are off");
    options_warn(OPTION_STATS_LIVE, line);
}

/*
 * /dev/shm is writable by everyone: the directory is trusted only when it is
 * a real directory (not a link) of our euid that nobody else may enter;
 * whoever made it otherwise could read, replace or redirect our files.
 */
static int open_directory(void)
{
    unsigned euid = (unsigned)syscall(SYS_geteuid);
    char path[LIVE_NAME_MAX];
    struct textbuf tb;
    tb_init(&tb, path, sizeof path);
    tb_str(&tb, "/dev/shm/numa-alloc-");
    tb_u64(&tb, euid);
    int made = syscall(SYS_mkdirat, AT_FDCWD, path, 0700) == 0 ? 0 : errno;
    int fd =
        (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd >= 0 && syscall(SYS_fstat, fd, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == euid &&
        (st.st_mode & 0777) == 0700)
        return fd;
    if (fd >= 0)
        syscall(SYS_close, fd);
    warn_directory(path, made == EEXIST ? 0 : made);
    return -1;
}

/*
 * <pid>.lock appears already locked: it is made and flocked under a
 * temporary name, then renamed, so a sweeper never finds it free while we
 * live. A sweeper that opened the temporary file first may take it from
 * under us: try again.
 */
static bool take_lock(void)
{
    int pid = (int)syscall(SYS_getpid);
    char tmp[LIVE_NAME_MAX], name[LIVE_NAME_MAX];
    live_name(tmp, pid, "lock.tmp");
    live_name(name, pid, "lock");
    for (int attempt = 0; attempt < 3; attempt++) {
        syscall(SYS_unlinkat, live.dir_fd, tmp, 0); /* ours: the pid is ours */
        int fd = (int)syscall(SYS_openat, live.dir_fd, tmp,
                              O_CREAT | O_EXCL | O_NOFOLLOW | O_RDWR | O_CLOEXEC, 0600);
        if (fd < 0)
            return false;
        if (syscall(SYS_flock, fd, LOCK_EX | LOCK_NB) == 0 &&
            syscall(SYS_renameat, live.dir_fd, tmp, live.dir_fd, name) == 0) {
            live.lock_fd = fd;
            live.lock_pid = pid;
            return true;
        }
        syscall(SYS_close, fd);
    }
    return false;
}

void stats_live_init(void)
{
    if (!na_options.stats_live)
        return;
    stats_workspace_prepare();
    int saved = errno;
    int fd = open_directory();
    if (fd >= 0) {
        live.dir_fd = fd;
        sweep();
        take_lock();
    }
    errno = saved;
}

/* ---- publishing ----------------------------------------------------------- */

/*
 * The published forms: JSON, the table, OpenMetrics (what the file's extension
 * says), and the allocation-site profile when NUMA_ALLOC_PROF is on (core/prof.h).
 */
enum live_format { LIVE_JSON, LIVE_TEXT, LIVE_OPENMETRICS, LIVE_PROF };

/* Writes one format to a fresh temporary file of ours, then renames it. */
static void publish_one(int pid, enum live_format format)
{
    static const char *const ext[] = {"json", "txt", "om", "prof"};
    static const char *const ext_tmp[] = {"json.tmp", "txt.tmp", "om.tmp", "prof.tmp"};
    char name[LIVE_NAME_MAX], tmp[LIVE_NAME_MAX];
    live_name(name, pid, ext[format]);
    live_name(tmp, pid, ext_tmp[format]);
    syscall(SYS_unlinkat, live.dir_fd, tmp, 0); /* left by a publisher cut short */
    int fd = (int)syscall(SYS_openat, live.dir_fd, tmp,
                          O_CREAT | O_EXCL | O_NOFOLLOW | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0) {
        report_failed_write();
        return;
    }
    int rc = format == LIVE_OPENMETRICS ? stats_write_openmetrics(fd, false)
             : format == LIVE_PROF
                 ? prof_write(fd, false)
                 : stats_write(fd, format == LIVE_JSON, false); /* counts its own failed write */
    if (format == LIVE_PROF && rc != 0)
        report_failed_write();
    syscall(SYS_close, fd);
    if (rc == 0 && syscall(SYS_renameat, live.dir_fd, tmp, live.dir_fd, name) == 0)
        return;
    if (rc == 0)
        report_failed_write();
    syscall(SYS_unlinkat, live.dir_fd, tmp, 0);
}

void stats_live_tick(void)
{
    static uint64_t next_ms;
    if (__atomic_load_n(&live.dir_fd, __ATOMIC_RELAXED) < 0)
        return;
    uint64_t now = os_now_ms();
    if (now < __atomic_load_n(&next_ms, __ATOMIC_RELAXED) || !na_trylock(&publishing))
        return; /* not due, or another thread is at it: never wait for it */
    int saved = errno;
    __atomic_store_n(&next_ms, now + LIVE_INTERVAL_MS, __ATOMIC_RELAXED);
    /* Without a lock of ours our files would be stale to every sweeper. */
    if (!live.closed && (live.lock_fd >= 0 || take_lock())) {
        publish_one(live.lock_pid, LIVE_JSON);
        publish_one(live.lock_pid, LIVE_TEXT);
        publish_one(live.lock_pid, LIVE_OPENMETRICS);
        if (na_prof_on)
            publish_one(live.lock_pid, LIVE_PROF);
    }
    errno = saved;
    na_unlock(&publishing);
}

/*
 * At exit (a destructor: exit() and return from main): the files go, the
 * lock last, so no reader ever sees statistics without a lock. A kill, an
 * abort() or an exec skips this; the lock, closed by the kernel, then tells
 * the next sweeper. A thread still publishing may rename one more file in
 * after us: without a lock, the next sweep takes it.
 */
__attribute__((destructor)) static void live_stats_at_exit(void)
{
    if (live.dir_fd < 0 || live.lock_fd < 0 || live.lock_pid != (int)syscall(SYS_getpid))
        return;
    int saved = errno;
    __atomic_store_n(&live.closed, true, __ATOMIC_RELAXED);
    /* Not waited for: a publisher cancelled mid-write would hold it forever. */
    bool held = na_trylock(&publishing);
    unlink_data(live.lock_pid);
    unlink_live(live.lock_pid, "lock");
    if (held)
        na_unlock(&publishing);
    errno = saved;
}

/* ---- fork ----------------------------------------------------------------- */

void stats_live_fork_prepare(void)
{
    na_lock(&publishing);
}

void stats_live_fork_parent(void)
{
    na_unlock(&publishing);
}

void stats_live_fork_child(void)
{
    na_lock_reset(&publishing);
    if (live.lock_fd >= 0) {
        int saved = errno;
        /* The parent's descriptor stays open in the parent: its lock holds. */
        syscall(SYS_close, live.lock_fd);
        errno = saved;
    }
    live.lock_fd = -1;
    live.lock_pid = 0;
}
