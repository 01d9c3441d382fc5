/*
 * os.h - the operating-system layer: every system call the allocator makes.
 *
 * All calls go through syscall(2) or vDSO-backed libc functions that never
 * allocate, so the allocator can run before libc is initialised and from
 * inside its own malloc. Nothing here prints through stdio.
 *
 * Errors (the convention of the os, binding and verify layers, see
 * docs/architecture.md): a call that can fail returns 0 or -errno and leaves
 * errno as it found it, so that a failure inside malloc never changes the
 * program's errno; one that returns an address returns NULL instead. The
 * caller decides what a failure means and counts one that changes placement.
 */
#ifndef NUMA_ALLOC_OS_H
#define NUMA_ALLOC_OS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OS_PAGE_SHIFT 12
#define OS_PAGE_SIZE  ((size_t)1 << OS_PAGE_SHIFT)
#define OS_PAGE_MASK  (OS_PAGE_SIZE - 1) /* the offset bits of an address in its page */

/* Bytes rounded up to whole pages (the caller keeps bytes below SIZE_MAX - OS_PAGE_MASK). */
static inline size_t os_page_round_up(size_t bytes)
{
    return (bytes + OS_PAGE_MASK) & ~OS_PAGE_MASK;
}

/* Reserves address space: PROT_NONE, not committed. NULL on failure. */
void *os_reserve(size_t size);
/* Unmaps; 0 or -errno (only a bad range can fail: nothing to do about it). */
int os_release(void *addr, size_t size);
/*
 * Makes reserved pages readable and writable; 0 or -errno: -ENOMEM when the
 * kernel refuses the commit (map count, vm.overcommit_memory=2, RLIMIT_DATA);
 * the caller's allocation fails, nothing else.
 */
int os_commit(void *addr, size_t size);
/* Makes pages read-only (mprotect PROT_READ); 0 or -errno. */
int os_make_read_only(void *addr, size_t size);
/* A fresh (zero) readable and writable mapping of `size` bytes, for tables; NULL on failure. */
void *os_map(size_t size);
/*
 * Gives resident pages back; the range stays mapped and reads as zero, with
 * its memory policy. 0 or -errno: on failure the pages stay resident with
 * their contents (and on their node), so the caller must keep them dirty.
 */
int os_purge(void *addr, size_t size);
/*
 * Gives resident pages back and their commit with them: a fresh private
 * mapping over the range (MAP_FIXED | MAP_NORESERVE), read-only, so that
 * vm.overcommit_memory=2 no longer charges it and RLIMIT_DATA no longer
 * counts it, and a read (a stale pointer's header) still sees zeros. The
 * range loses its memory policy and advice: the caller sets them again.
 * 0 or -errno (-ENOMEM: the map count; -EPERM: a seccomp filter), nothing
 * changed.
 */
int os_decommit(void *addr, size_t size);
/*
 * A fresh private mapping of `size` bytes (a multiple of 2 MiB) of 2 MiB
 * hugetlbfs pages, readable and writable, its pages reserved in the pool
 * (the kernel refuses, -ENOMEM, when the pool has too few) but not yet
 * faulted, into *out; 0 or -errno.
 */
int os_map_hugetlb(size_t size, void **out);
/*
 * Moves the mapping [from, from + size) to `to`, replacing whatever was
 * mapped there in one step (mremap MREMAP_FIXED: no moment without a
 * mapping at `to`); 0 or -errno: nothing moved, but `to` may have been
 * unmapped (a kernel before 5.16 unmaps it before it refuses a hugetlbfs
 * mapping): os_reserve_at puts it back.
 */
int os_move_mapping(void *from, size_t size, void *to);
/*
 * Moves the pages of [from, from + size), which must lie in one mapping, to
 * a new mapping at `hint` if it is free there, else where the kernel picks
 * (mremap MREMAP_DONTUNMAP, Linux 5.7): they keep their memory and node, no
 * copy and no fault; `from` stays mapped, empty (reads as zero), with its
 * policy. The new address into *out; 0 or -errno, nothing moved (-EINVAL: a
 * kernel without MREMAP_DONTUNMAP; -EFAULT: the range spans several mappings).
 */
int os_move_out(void *from, size_t size, void *hint, void **out);
/*
 * Grows or shrinks the mapping [addr, addr + old_size) to new_size bytes,
 * moving it if it must (mremap MREMAP_MAYMOVE: page tables move, pages do
 * not); the new address into *out; 0 or -errno, nothing changed.
 */
int os_resize_mapping(void *addr, size_t old_size, size_t new_size, void **out);
/*
 * Reserves [addr, addr + size) as os_reserve does, where nothing is mapped
 * (MAP_FIXED_NOREPLACE); 0, or -errno (-EEXIST: something is mapped there).
 */
int os_reserve_at(void *addr, size_t size);
/* A pipe (pipe2, close-on-exec) into fds; 0 or -errno. */
int os_pipe(int fds[2]);
/* The program break (brk(2) asked for nothing): where the brk heap ends now. */
uintptr_t os_program_break(void);
/* close(2), errno preserved. */
void os_close(int fd);
/* Reads from fd (a pipe's read end) until a byte comes or every write end is closed. */
void os_wait_byte(int fd);
/* madvise(addr, size, advice): 0 or -errno, errno preserved. */
int os_advise(void *addr, size_t size, int advice);
/* mincore: vec[i] bit 0 set when page i of the range is resident. 0 or -errno, errno preserved. */
int os_resident(void *addr, size_t size, unsigned char *vec);
/*
 * Copies size bytes at addr into out without faulting where addr is not
 * readable (process_vm_readv on this process): false then, or where the
 * call is refused (a seccomp filter). errno preserved.
 */
bool os_read_memory(const void *addr, void *out, size_t size);
/* Whether every page of [addr, addr + size) is mapped (addr page-aligned). errno preserved. */
bool os_range_mapped(const void *addr, size_t size);
/*
 * Calls line(text, arg) on each line of a file (its first 255 bytes) until
 * one returns true. 1: one did; 0: none did; -1: unreadable. Allocates
 * nothing, however long the file.
 */
int os_each_line(const char *path, bool (*line)(const char *text, void *arg), void *arg);
/*
 * The largest range of user address space that nothing maps now (between the
 * mappings of /proc/self/maps, 1 MiB and 2^47): its start into *start, its
 * length returned; 0 when the maps cannot be read.
 */
size_t os_largest_gap(uintptr_t *start);

/* Milliseconds from a monotonic clock, cheap (vDSO, coarse; cannot fail for this clock). */
uint64_t os_now_ms(void);
#ifdef NUMA_ALLOC_DEBUG
/* Debug builds: this thread's readings of os_now_ms (some 5 ns each), for tests of a path. */
uint64_t os_clock_reads(void);
#endif

/* Milliseconds since the epoch (CLOCK_REALTIME): the wall clock, for timestamps people read. */
uint64_t os_wall_ms(void);

/* Sleeps about `ms` milliseconds (nanosleep: no allocation, no signal mask change). */
void os_sleep_ms(unsigned ms);
/* Gives the CPU to another runnable thread, if any (sched_yield). */
void os_yield(void);

#define OS_COMM_SIZE 16 /* the kernel's TASK_COMM_LEN: 15 bytes and the NUL */

/*
 * The program's name as the kernel keeps it (its main thread's comm:
 * /proc/self/comm, what ps and pidof show), whichever thread asks: the
 * executable's base name at exec, cut to 15 bytes, unless the main thread
 * renamed itself (PR_SET_NAME, any bytes but NUL). "" if the kernel would not
 * say.
 */
void os_program_name(char out[OS_COMM_SIZE]);

#define OS_FILE_ID_SIZE 48 /* "major:minor inode" as /proc/PID/maps writes them */

/*
 * The file the code at `addr` was mapped from, as /proc/self/maps names it
 * ("fd:01 1234567"), into id; false if unknown (not a file, maps unreadable).
 */
bool os_mapped_file_of(const void *addr, char id[OS_FILE_ID_SIZE]);

/* 1: process pid maps the file `id` (os_mapped_file_of); 0: it does not; -1: cannot tell. */
int os_process_maps(long pid, const char *id);

/*
 * Futex wait/wake on a 32-bit word (private to the process). No result: the
 * lock re-reads the word after every wait (EAGAIN, EINTR and a wake-up
 * look the same to it), and a wake that finds no waiter is not an error.
 */
void os_futex_wait(volatile int *word, int expected);
void os_futex_wake(volatile int *word, int count);

/* Reads a whole small file into buf (NUL-terminated); bytes read, or -errno if it cannot be opened.
 */
long os_read_file(const char *path, char *buf, size_t size);

/*
 * Writes all of buf to fd (write(2), retried on EINTR); 0 or -errno. Never
 * raises a signal in the host: a closed pipe is -EPIPE, a file past ulimit -f
 * -EFBIG, and nothing else.
 */
int os_write_all(int fd, const void *buf, size_t len);

/* Writes a message to stderr with os_write_all; never allocates. */
void os_write_stderr(const char *msg);

/* Resident set size of the process in bytes (from /proc/self/statm). */
size_t os_rss_bytes(void);

/* Address space the process maps now (VmSize, /proc/self/statm); 0 if unknown. */
size_t os_address_space_used(void);
/* RLIMIT_AS in bytes (soft limit); SIZE_MAX when unlimited. */
size_t os_address_space_limit(void);
/* vm.overcommit_memory: 0, 1 or 2 (2: every commit is charged); -1 if unknown. */
int os_overcommit_mode(void);
/* The kernel's page size (the auxiliary vector's AT_PAGESZ); 0 if unknown. */
size_t os_page_size(void);

#endif
