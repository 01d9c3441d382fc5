/* report.c - misuse reports; see report.h. */
#include "base/report.h"

#include "base/os.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static uint64_t failed_writes;

void report_failed_write(void)
{
    __atomic_add_fetch(&failed_writes, 1, __ATOMIC_RELAXED);
}

uint64_t report_failed_writes(void)
{
    return __atomic_load_n(&failed_writes, __ATOMIC_RELAXED);
}

/*
 * Where our output goes. fd 2 while it is the program's stderr; when the
 * program has closed it (coreutils' close_stdout at atexit, before our
 * statistics at exit), our own duplicate of the start-up stderr, made
 * close-on-exec at a high number, if statistics or a profile are to go to
 * stderr at exit (report_output_keep); without them nothing of ours is
 * written after the program closed stderr, as glibc's messages are not, and
 * the program's descriptors are its own (a test of Python's lists them). We never write into a file
 * of the program's: not at the duplicate's number after the program closed ours and reused the
 * number (closefrom(3), then open: the identity and the close-on-exec flag tell), nor at fd 2 when
 * fd 2 was not open at start-up (a setuid program started with stderr closed, whose next open gets
 * 2), nor at fd 2 when it holds a close-on-exec file. (A file the program opens at 2 without
 * close-on-exec after closing stderr looks like a redirection of stderr and gets what the program's
 * own perror would.) Invariants: `state` goes NONE -> SETTING
 * -> SET once per process image (fork keeps it and the descriptor; exec closes the descriptor and
 * the new image starts at NONE); dev and ino are written only before SET is published and never
 * after; fd == -1: fd 2 was not open at start-up, so nothing is ever written; fd goes from 2 to
 * the duplicate at most once, after SET (atomic: a reader takes either).
 */
enum output_state { OUTPUT_NONE, OUTPUT_SETTING, OUTPUT_SET };

static struct {
    int state;
    int fd;
    uint64_t dev, ino;
} output = {OUTPUT_NONE, -1, 0, 0};

/* Identity of what fd refers to; 0 or -errno. */
static int fd_identity(int fd, uint64_t *dev, uint64_t *ino)
{
    struct stat st;
    int saved = errno;
    long rc = syscall(SYS_fstat, fd, &st);
    int err = rc == 0 ? 0 : -errno;
    errno = saved;
    if (err == 0) {
        *dev = (uint64_t)st.st_dev;
        *ino = (uint64_t)st.st_ino;
    }
    return err;
}

/*
 * The lowest number our duplicate may take. High, so that it does not take
 * the low numbers that programs and shell scripts expect open() and dup() to
 * hand out (3, 4, ...) nor the 0-9 a shell's redirections use (bash keeps
 * its own at 10 and up, and 255); F_DUPFD fails with EINVAL at or above the
 * soft RLIMIT_NOFILE, so under a small limit (ulimit -n 64) half the limit,
 * which still leaves the low half to the program.
 */
#define OUTPUT_FD_FLOOR 100

static long output_fd_floor(void)
{
    struct rlimit limit;
    int saved = errno;
    long rc = syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, &limit);
    errno = saved;
    if (rc != 0 || limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur > 2 * OUTPUT_FD_FLOOR)
        return OUTPUT_FD_FLOOR;
    return limit.rlim_cur / 2 > 3 ? (long)(limit.rlim_cur / 2) : 3;
}

void report_output_init(void)
{
    int expected = OUTPUT_NONE;
    if (!__atomic_compare_exchange_n(&output.state, &expected, OUTPUT_SETTING, false,
                                     __ATOMIC_ACQUIRE, __ATOMIC_ACQUIRE)) {
        /* Another thread is setting it up (three system calls): wait for it, but not
         * forever (a fork child of a thread caught in between would never see SET). */
        for (int tries = 0; tries < 10000; tries++) {
            if (__atomic_load_n(&output.state, __ATOMIC_ACQUIRE) == OUTPUT_SET)
                return;
            syscall(SYS_sched_yield);
        }
        return;
    }
    uint64_t dev, ino;
    if (fd_identity(2, &dev, &ino) == 0) {
        output.fd = 2;
        output.dev = dev;
        output.ino = ino;
    }
    __atomic_store_n(&output.state, OUTPUT_SET, __ATOMIC_RELEASE);
}

void report_output_keep(void)
{
    uint64_t dev, ino;
    if (__atomic_load_n(&output.state, __ATOMIC_ACQUIRE) != OUTPUT_SET ||
        __atomic_load_n(&output.fd, __ATOMIC_RELAXED) != 2 || fd_identity(2, &dev, &ino) != 0 ||
        dev != output.dev || ino != output.ino)
        return;
    int saved = errno;
    long fd = syscall(SYS_fcntl, 2, F_DUPFD_CLOEXEC, output_fd_floor());
    if (fd < 0)
        fd = syscall(SYS_fcntl, 2, F_DUPFD_CLOEXEC, 3L);
    errno = saved;
    /* No descriptor to spare (EMFILE) or fcntl refused: fd 2 only, while it is a stderr. */
    if (fd >= 0)
        __atomic_store_n(&output.fd, (int)fd, __ATOMIC_RELAXED);
}

/* FD_CLOEXEC of fd; -1 if fd is not open. */
static int close_on_exec(int fd)
{
    int saved = errno;
    long flags = syscall(SYS_fcntl, fd, F_GETFD);
    errno = saved;
    return flags < 0 ? -1 : (flags & FD_CLOEXEC) != 0;
}

int report_output_fd(void)
{
    if (__atomic_load_n(&output.state, __ATOMIC_ACQUIRE) != OUTPUT_SET) {
        report_output_init(); /* a message before the start-up (a bug's assertion) */
        if (__atomic_load_n(&output.state, __ATOMIC_ACQUIRE) != OUTPUT_SET)
            return -1;
    }
    int copy = __atomic_load_n(&output.fd, __ATOMIC_RELAXED);
    if (copy < 0)
        return -1;
    /*
     * fd 2 open without close-on-exec is a stderr: the start-up one, or one the
     * program redirected (dup2, freopen: a test harness capturing a forked
     * child's output, a daemon's log), which its own and glibc's messages go
     * to as well. A close-on-exec file at 2 is a file the program opened for
     * itself after closing stderr (no stderr is opened close-on-exec: it
     * would not reach the programs it runs).
     */
    if (close_on_exec(2) == 0)
        return 2;
    uint64_t dev, ino;
    if (copy != 2 && close_on_exec(copy) == 1 && fd_identity(copy, &dev, &ino) == 0 &&
        dev == output.dev && ino == output.ino)
        return copy;
    return -1;
}

/* One message, in one write so that lines from threads do not interleave. */
static void say(const char *msg, size_t len)
{
    int fd = report_output_fd();
    if (fd < 0 || os_write_all(fd, msg, len) != 0)
        report_failed_write();
}

void report_pointer(const char *what, const void *ptr)
{
    char msg[160];
    size_t len = strlen(what);
    if (len > sizeof msg - 24)
        len = sizeof msg - 24;
    memcpy(msg, what, len);
    memcpy(msg + len, ": 0x", 4);
    len += 4;
    uintptr_t v = (uintptr_t)ptr;
    for (int shift = 60; shift >= 0; shift -= 4)
        msg[len++] = "0123456789abcdef"[(v >> shift) & 15u];
    msg[len] = '\0';
    report_warning(msg);
}

void report_invalid_pointer(const char *what, const void *ptr)
{
    report_pointer(what, ptr);
    abort();
}

void report_warning(const char *msg)
{
    char line[640] = "numa-alloc: ";
    size_t len = strlen(line), msg_len = strlen(msg);
    if (msg_len > sizeof line - len - 2)
        msg_len = sizeof line - len - 2;
    memcpy(line + len, msg, msg_len);
    len += msg_len;
    line[len++] = '\n';
    say(line, len);
}

#ifdef NUMA_ALLOC_DEBUG /* NA_ASSERT's and the heap check's report: debug builds only */
static char *append_decimal(char *out, unsigned long v)
{
    char digits[24];
    int n = 0;
    do
        digits[n++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    while (n > 0)
        *out++ = digits[--n];
    return out;
}

void report_assert_failed(const char *file, int line, const char *expr)
{
    char where[24], msg[512] = "assertion failed: ";
    *append_decimal(where, line > 0 ? (unsigned long)line : 0) = '\0';
    const char *parts[] = {file, ":", where, ": ", expr};
    size_t len = strlen(msg);
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        for (const char *c = parts[i]; *c && len + 1 < sizeof msg; c++)
            msg[len++] = *c;
    msg[len] = '\0';
    report_warning(msg);
    abort();
}
#endif
