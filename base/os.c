/* os.c - raw system calls; see os.h. */
#define _GNU_SOURCE
#include "base/os.h"

#include "base/parse.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <signal.h>
#include <sys/auxv.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* The convention: 0 or -errno of a libc call's result, errno restored to `saved`. */
static int result(int rc, int saved)
{
    int err = rc == 0 ? 0 : -errno;
    errno = saved;
    return err;
}

void *os_reserve(size_t size)
{
    int saved = errno;
    void *p = mmap(NULL, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    errno = saved;
    return p == MAP_FAILED ? NULL : p;
}

int os_release(void *addr, size_t size)
{
    int saved = errno;
    return result(munmap(addr, size), saved);
}

int os_commit(void *addr, size_t size)
{
    int saved = errno;
    return result(mprotect(addr, size, PROT_READ | PROT_WRITE), saved);
}

int os_purge(void *addr, size_t size)
{
    /* MADV_DONTNEED, not MADV_FREE: RSS must fall now, visibly, and the
     * memory policy on the range survives, so refaults land on the same node. */
    int saved = errno;
    return result(madvise(addr, size, MADV_DONTNEED), saved);
}

uint64_t os_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t os_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void os_program_name(char out[OS_COMM_SIZE])
{
    int saved = errno;
    memset(out, 0, OS_COMM_SIZE);
    if (syscall(SYS_prctl, PR_GET_NAME, out, 0, 0, 0) != 0)
        out[0] = '\0';
    out[OS_COMM_SIZE - 1] = '\0';
    errno = saved;
}

void os_futex_wait(volatile int *word, int expected)
{
    int saved = errno;
    syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, expected, NULL, NULL, 0);
    errno = saved;
}

void os_futex_wake(volatile int *word, int count)
{
    int saved = errno;
    syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, count, NULL, NULL, 0);
    errno = saved;
}

long os_read_file(const char *path, char *buf, size_t size)
{
    int saved = errno;
    int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int err = -errno;
        errno = saved;
        return err;
    }
    size_t used = 0;
    while (used + 1 < size) {
        long n = syscall(SYS_read, fd, buf + used, size - 1 - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        used += (size_t)n;
    }
    buf[used] = '\0';
    syscall(SYS_close, fd);
    errno = saved;
    return (long)used;
}

/*
 * The signals a write can raise: SIGPIPE (a pipe or socket whose reader went
 * away) and SIGXFSZ (past RLIMIT_FSIZE, ulimit -f); both end the program by
 * default. They are blocked around the write and, if the write raised one,
 * taken back before the old mask returns. (They are thread-directed, so the
 * block and the drain act on exactly the one this write raised; one already
 * pending is left alone.) Taken back also when the program itself had them
 * blocked: left pending, ours would kill it, or reach its handler, when it
 * unblocks them.
 */
int os_write_all(int fd, const void *buf, size_t len)
{
    const uint64_t pipe_bit = (uint64_t)1 << (SIGPIPE - 1); /* the kernel's sigset_t */
    const uint64_t fsize_bit = (uint64_t)1 << (SIGXFSZ - 1);
    const uint64_t write_signals = pipe_bit | fsize_bit;
    uint64_t old_mask = 0, pending = 0;
    int saved = errno, err = 0;
    syscall(SYS_rt_sigprocmask, SIG_BLOCK, &write_signals, &old_mask, sizeof write_signals);
    syscall(SYS_rt_sigpending, &pending, sizeof pending);
    const char *at = buf;
    while (len > 0) {
        long n = syscall(SYS_write, fd, at, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            err = n < 0 ? -errno : -EIO;
            break;
        }
        at += n;
        len -= (size_t)n;
    }
    uint64_t raised = err == -EPIPE ? pipe_bit : err == -EFBIG ? fsize_bit : 0;
    if (raised && !(pending & raised)) {
        struct timespec no_wait = {0, 0};
        syscall(SYS_rt_sigtimedwait, &raised, NULL, &no_wait, sizeof raised);
    }
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old_mask, NULL, sizeof old_mask);
    errno = saved;
    return err;
}

void os_write_stderr(const char *msg)
{
    size_t len = 0;
    while (msg[len])
        len++;
    os_write_all(2, msg, len); /* nowhere left to say it if this fails */
}

/* Field `index` (0: total size, 1: resident) of /proc/self/statm, in bytes; 0 if unknown. */
static size_t statm_bytes(unsigned index)
{
    char buf[128];
    if (os_read_file("/proc/self/statm", buf, sizeof buf) <= 0)
        return 0;
    const char *s = buf;
    for (; index > 0; index--) {
        while (*s && *s != ' ')
            s++;
        while (*s == ' ')
            s++;
    }
    uint64_t pages;
    if (!parse_decimal(s, SIZE_MAX / OS_PAGE_SIZE, &pages))
        return 0;
    return (size_t)pages * OS_PAGE_SIZE;
}

size_t os_rss_bytes(void)
{
    return statm_bytes(1);
}

size_t os_address_space_used(void)
{
    return statm_bytes(0);
}

size_t os_address_space_limit(void)
{
    struct rlimit limit;
    int saved = errno;
    long rc = syscall(SYS_prlimit64, 0, RLIMIT_AS, NULL, &limit);
    errno = saved;
    if (rc != 0 || limit.rlim_cur == RLIM_INFINITY)
        return SIZE_MAX;
    return (size_t)limit.rlim_cur;
}

int os_overcommit_mode(void)
{
    char buf[16];
    if (os_read_file("/proc/sys/vm/overcommit_memory", buf, sizeof buf) <= 0 || buf[0] < '0' ||
        buf[0] > '2')
        return -1;
    return buf[0] - '0';
}

size_t os_page_size(void)
{
    return (size_t)getauxval(AT_PAGESZ);
}
