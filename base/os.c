/* os.c - raw system calls; see os.h. */
#define _GNU_SOURCE
#include "base/os.h"

#include "base/parse.h"
#include "base/textbuf.h"
#include "base/vdso.h"

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
#include <sys/uio.h>
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

int os_make_read_only(void *addr, size_t size)
{
    int saved = errno;
    return result(mprotect(addr, size, PROT_READ), saved);
}

void *os_map(size_t size)
{
    size = os_page_round_up(size);
    void *p = os_reserve(size);
    if (p && os_commit(p, size) != 0) {
        os_release(p, size);
        return NULL;
    }
    return p;
}

int os_map_hugetlb(size_t size, void **out)
{
#ifndef MAP_HUGE_2MB
#define MAP_HUGE_2MB (21 << 26) /* log2(2 MiB) << MAP_HUGE_SHIFT */
#endif
    int saved = errno;
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_2MB, -1, 0);
    if (p == MAP_FAILED)
        return result(-1, saved);
    *out = p;
    return 0;
}

/*
 * mremap(2), its fifth argument always passed: the kernel checks it as a
 * hint without MREMAP_FIXED too (a call that left it out handed glibc's
 * wrapper a register's garbage, and every MREMAP_DONTUNMAP of the debug
 * build failed with -EINVAL).
 */
static int remap(void *from, size_t old_size, size_t new_size, int flags, void *to, void **out)
{
#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4 /* Linux 5.7 */
#endif
    int saved = errno;
    long p = syscall(SYS_mremap, from, old_size, new_size, flags, to);
    if (p == -1)
        return result(-1, saved);
    if (out)
        *out = (void *)p;
    errno = saved;
    return 0;
}

int os_move_mapping(void *from, size_t size, void *to)
{
    return remap(from, size, size, MREMAP_MAYMOVE | MREMAP_FIXED, to, NULL);
}

int os_move_out(void *from, size_t size, void *hint, void **out)
{
    return remap(from, size, size, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, hint, out);
}

int os_resize_mapping(void *addr, size_t old_size, size_t new_size, void **out)
{
    return remap(addr, old_size, new_size, MREMAP_MAYMOVE, NULL, out);
}

int os_reserve_at(void *addr, size_t size)
{
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000 /* Linux 4.17; an older kernel takes it as a hint */
#endif
    int saved = errno;
    void *p = mmap(addr, size, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
    if (p == MAP_FAILED)
        return result(-1, saved);
    if (p != addr) { /* a hint elsewhere: not what was asked */
        munmap(p, size);
        errno = saved;
        return -EEXIST;
    }
    return 0;
}

uintptr_t os_program_break(void)
{
    int saved = errno;
    long at = syscall(SYS_brk, 0);
    errno = saved;
    return at < 0 ? 0 : (uintptr_t)at;
}

int os_pipe(int fds[2])
{
    int saved = errno;
    return result((int)syscall(SYS_pipe2, fds, O_CLOEXEC), saved);
}

void os_close(int fd)
{
    int saved = errno;
    syscall(SYS_close, fd);
    errno = saved;
}

void os_wait_byte(int fd)
{
    int saved = errno;
    char byte;
    while (syscall(SYS_read, fd, &byte, 1) < 0 && errno == EINTR)
        continue;
    errno = saved;
}

int os_advise(void *addr, size_t size, int advice)
{
    int saved = errno;
    return result(madvise(addr, size, advice), saved);
}

int os_resident(void *addr, size_t size, unsigned char *vec)
{
    int saved = errno;
    return result(mincore(addr, size, vec), saved);
}

bool os_read_memory(const void *addr, void *out, size_t size)
{
    int saved = errno;
    struct iovec local = {out, size}, remote = {(void *)(uintptr_t)addr, size};
    long n = syscall(SYS_process_vm_readv, syscall(SYS_getpid), &local, 1UL, &remote, 1UL, 0UL);
    errno = saved;
    return n == (long)size;
}

bool os_range_mapped(const void *addr, size_t size)
{
    /* msync fails with ENOMEM where a page of the range is not mapped; with
     * MS_ASYNC it writes nothing back. */
    int saved = errno;
    int rc = msync((void *)(uintptr_t)addr, size, MS_ASYNC);
    errno = saved;
    return rc == 0;
}

int os_purge(void *addr, size_t size)
{
    /* MADV_DONTNEED, not MADV_FREE: RSS must fall now, visibly, and the
     * memory policy on the range survives, so refaults land on the same node. */
    int saved = errno;
    return result(madvise(addr, size, MADV_DONTNEED), saved);
}

int os_decommit(void *addr, size_t size)
{
    int saved = errno;
    void *p =
        mmap(addr, size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
    return result(p == MAP_FAILED ? -1 : 0, saved);
}

#ifdef NUMA_ALLOC_DEBUG
static __thread uint64_t clock_reads;

uint64_t os_clock_reads(void)
{
    return clock_reads;
}
#endif

uint64_t os_now_ms(void)
{
#ifdef NUMA_ALLOC_DEBUG
    clock_reads++;
#endif
    struct timespec ts;
    vdso_clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t os_wall_ms(void)
{
    struct timespec ts;
    vdso_clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void os_sleep_ms(unsigned ms)
{
    int saved = errno;
    struct timespec pause = {(time_t)(ms / 1000u), (long)(ms % 1000u) * 1000000L};
    nanosleep(&pause, NULL);
    errno = saved;
}

void os_yield(void)
{
    syscall(SYS_sched_yield); /* cannot fail; errno untouched */
}

/*
 * The process's name is its main thread's comm, which /proc/self/comm shows
 * from any thread; PR_GET_NAME gives the calling thread's, and the thread that
 * ends a program is often not the main one (the JVM's "VM Thread", a worker
 * that calls exit). PR_GET_NAME only where /proc cannot be read.
 */
void os_program_name(char out[OS_COMM_SIZE])
{
    int saved = errno;
    char comm[OS_COMM_SIZE + 2]; /* 15 bytes, the newline, the NUL, and one to spare */
    long n = os_read_file("/proc/self/comm", comm, sizeof comm);
    memset(out, 0, OS_COMM_SIZE);
    if (n > 0) {
        if (comm[n - 1] == '\n')
            comm[--n] = '\0';
        memcpy(out, comm, (size_t)n < OS_COMM_SIZE - 1 ? (size_t)n : OS_COMM_SIZE - 1);
    } else if (syscall(SYS_prctl, PR_GET_NAME, out, 0, 0, 0) != 0) {
        out[0] = '\0';
    }
    out[OS_COMM_SIZE - 1] = '\0';
    errno = saved;
}

/*
 * Calls line(text, arg) on each line of a file (its first 255 bytes; maps
 * puts what we need first) until one returns true. 1: one did; 0: none did;
 * -1: the file cannot be opened or read. Reads with a fixed buffer: no
 * allocation, however long the file.
 */
static int each_line(const char *path, bool (*line)(const char *text, void *arg), void *arg)
{
    char buf[4096], text[256];
    size_t len = 0;
    bool cut = false;
    int found = 0;
    int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    for (;;) {
        long n = syscall(SYS_read, fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            found = -1;
        if (n <= 0)
            break;
        for (long i = 0; i < n && !found; i++) {
            if (buf[i] != '\n') {
                cut |= len + 1 >= sizeof text;
                if (!cut)
                    text[len++] = buf[i];
                continue;
            }
            text[len] = '\0';
            found = line(text, arg);
            len = 0;
            cut = false;
        }
        if (found)
            break;
    }
    syscall(SYS_close, fd);
    return found;
}

int os_each_line(const char *path, bool (*line)(const char *text, void *arg), void *arg)
{
    int saved = errno;
    int found = each_line(path, line, arg);
    errno = saved;
    return found;
}

/* Where user mappings may lie: above the lowest a program maps in practice, below 47 bits. */
#define GAP_FLOOR   ((uintptr_t)1 << 20)
#define GAP_CEILING ((uintptr_t)1 << 47)

struct gap_search {
    uintptr_t prev_end;   /* end of the mapping before this line, GAP_FLOOR at first */
    uintptr_t best_start; /* the largest gap so far */
    size_t best_len;
};

static uintptr_t hex_field(const char **text)
{
    uintptr_t value = 0;
    for (;; (*text)++) {
        char c = **text;
        unsigned digit = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                         : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                                                : 16u;
        if (digit == 16u)
            return value;
        value = value << 4 | digit;
    }
}

static void gap_between(struct gap_search *search, uintptr_t end)
{
    if (end > GAP_CEILING)
        end = GAP_CEILING;
    if (end > search->prev_end && end - search->prev_end > search->best_len) {
        search->best_start = search->prev_end;
        search->best_len = end - search->prev_end;
    }
}

static bool gap_line(const char *text, void *arg)
{
    struct gap_search *search = arg;
    uintptr_t start = hex_field(&text);
    if (*text != '-')
        return false;
    text++;
    uintptr_t end = hex_field(&text);
    gap_between(search, start);
    if (end > search->prev_end)
        search->prev_end = end;
    return false; /* every line: the file lists the mappings in address order */
}

size_t os_largest_gap(uintptr_t *start)
{
    struct gap_search search = {GAP_FLOOR, 0, 0};
    if (os_each_line("/proc/self/maps", gap_line, &search) < 0 || search.prev_end == GAP_FLOOR)
        return 0;
    gap_between(&search, GAP_CEILING);
    *start = search.best_start;
    return search.best_len;
}

/* The "major:minor inode" fields of a maps line ("start-end perms offset dev inode path"). */
static const char *maps_file_id(const char *text)
{
    for (int field = 0; field < 3 && text; field++)
        if ((text = strchr(text, ' ')))
            text++;
    return text;
}

/* The length of the "dev inode" at id: up to the blank after the inode. */
static size_t file_id_len(const char *id)
{
    const char *blank = strchr(id, ' ');
    if (!blank)
        return 0;
    blank = strchr(blank + 1, ' ');
    return blank ? (size_t)(blank - id) : strlen(id);
}

struct find_addr {
    uintptr_t addr;
    char *id;
};

static bool line_holds_addr(const char *text, void *arg)
{
    struct find_addr *find = arg;
    uint64_t start = 0, end = 0;
    const char *c = text;
    for (; (*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f'); c++)
        start = start * 16 + (uint64_t)(*c <= '9' ? *c - '0' : *c - 'a' + 10);
    if (*c++ != '-')
        return false;
    for (; (*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f'); c++)
        end = end * 16 + (uint64_t)(*c <= '9' ? *c - '0' : *c - 'a' + 10);
    if (find->addr < start || find->addr >= end)
        return false;
    const char *id = maps_file_id(text);
    size_t len = id ? file_id_len(id) : 0;
    if (len == 0 || len >= OS_FILE_ID_SIZE)
        return false;
    memcpy(find->id, id, len);
    find->id[len] = '\0';
    return true;
}

bool os_mapped_file_of(const void *addr, char id[OS_FILE_ID_SIZE])
{
    int saved = errno;
    struct find_addr find = {(uintptr_t)addr, id};
    int found = each_line("/proc/self/maps", line_holds_addr, &find);
    errno = saved;
    /* An inode of 0: anonymous memory, not a file. */
    return found == 1 && !(strlen(id) >= 2 && strcmp(id + strlen(id) - 2, " 0") == 0);
}

static bool line_maps_file(const char *text, void *arg)
{
    const char *want = arg, *id = maps_file_id(text);
    size_t len = id ? file_id_len(id) : 0;
    return len == strlen(want) && memcmp(id, want, len) == 0;
}

int os_process_maps(long pid, const char *id)
{
    int saved = errno;
    char path[40];
    struct textbuf tb;
    tb_init(&tb, path, sizeof path);
    tb_str(&tb, "/proc/");
    tb_u64(&tb, (uint64_t)pid);
    tb_str(&tb, "/maps");
    int found = each_line(path, line_maps_file, (void *)id);
    errno = saved;
    return found;
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
