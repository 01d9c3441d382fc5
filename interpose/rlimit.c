/*
 * rlimit.c - setrlimit and prlimit, exported under the C library's names so
 * that the allocator learns of a limit the program puts on its own address
 * space after the start (RLIMIT_AS: Python's resource.setrlimit, a test
 * harness, a sandbox). The start reserved the region whole, and every byte
 * of it counts against RLIMIT_AS: the program could map nothing more after
 * such a call (a thread's stack, a file), where under glibc's malloc it can.
 * The limit is set as asked (the same system call as the C library's), then
 * the heaps give back what they do not use (core/alloc.c, give_back_region),
 * or reserve it again when it is raised or removed (retake_region).
 * A limit present at the start is shared as it comes (reserve_as_needed).
 *
 * mlockall and munlockall too: with a finite RLIMIT_MEMLOCK and without
 * CAP_IPC_LOCK, the kernel refuses MCL_CURRENT while the whole address space
 * (reservations included) is over that limit, and under MCL_FUTURE counts
 * every later mapping against it, reservations included: the region's
 * reservation failed mlockall where glibc's malloc and jemalloc pass. Under
 * such a lock the limit on the heaps is the lower of the two.
 */
#define _GNU_SOURCE
#include "core/alloc.h"
#include "interpose/export.h"

#include "base/os.h"
#include "base/report.h"
#include "base/textbuf.h"

#include <errno.h>
#include <linux/capability.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The soft limit of a resource in bytes; SIZE_MAX when there is none. */
static size_t limit_now(int resource)
{
    struct rlimit limit;
    if (syscall(SYS_prlimit64, 0, resource, NULL, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY)
        return SIZE_MAX;
    return (size_t)limit.rlim_cur;
}

/* Whether RLIMIT_MEMLOCK binds this process (no CAP_IPC_LOCK in its effective set). */
static bool lock_limit_binds(void)
{
    struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
    if (syscall(SYS_capget, &header, data) != 0)
        return true;
    return !(data[CAP_TO_INDEX(CAP_IPC_LOCK)].effective & CAP_TO_MASK(CAP_IPC_LOCK));
}

static size_t lower(size_t a, size_t b)
{
    return a < b ? a : b;
}

/* The heaps share what the limits leave: RLIMIT_AS, and RLIMIT_MEMLOCK under MCL_FUTURE. */
static void heaps_follow_limits(size_t as_limit, bool say)
{
    size_t lock_limit = alloc_future_lock();
    alloc_address_limit_set(lower(as_limit, lock_limit), say && as_limit <= lock_limit);
}

static size_t limit_bytes(rlim_t limit)
{
    return limit == RLIM_INFINITY ? SIZE_MAX : (size_t)limit;
}

/*
 * A limit lowered: the heaps give back first, so that no other thread's
 * mapping meets the old reservation under the new limit (`limits_probe
 * lower-busy`: malloc's NULLs in between); raised: the limit first, then the
 * heaps take their ranges back (a retake under the old limit would fail).
 * RLIMIT_MEMLOCK under MCL_FUTURE: the ranges are given back already (by
 * mlockall); the heaps follow the new one.
 */
static int set_limit(pid_t pid, int resource, const struct rlimit *new_limit,
                     struct rlimit *old_limit)
{
    bool own = new_limit && (pid == 0 || pid == (pid_t)syscall(SYS_getpid));
    bool as = own && resource == RLIMIT_AS;
    bool lock = own && resource == RLIMIT_MEMLOCK && alloc_future_lock() != SIZE_MAX;
    size_t want = own ? limit_bytes(new_limit->rlim_cur) : 0;
    size_t as_now = as ? limit_now(RLIMIT_AS) : 0, lock_now = alloc_future_lock();
    if (as && want < as_now)
        alloc_address_limit_set(lower(want, lock_now), false);
    long rc = syscall(SYS_prlimit64, pid, resource, new_limit, old_limit);
    int err = errno;
    if (lock && rc == 0)
        alloc_future_lock_set(want);
    if (as || lock)
        heaps_follow_limits(limit_now(RLIMIT_AS), as && rc == 0);
    errno = err;
    return (int)rc; /* -1 with errno, as the C library's */
}

NA_EXPORT int setrlimit(__rlimit_resource_t resource, const struct rlimit *limit)
{
    return set_limit(0, (int)resource, limit, NULL);
}

NA_EXPORT int setrlimit64(__rlimit_resource_t resource, const struct rlimit64 *limit)
{
    return set_limit(0, (int)resource, (const struct rlimit *)limit, NULL);
}

NA_EXPORT int prlimit(pid_t pid, __rlimit_resource_t resource, const struct rlimit *new_limit,
                      struct rlimit *old_limit)
{
    return set_limit(pid, (int)resource, new_limit, old_limit);
}

NA_EXPORT int prlimit64(pid_t pid, __rlimit_resource_t resource, const struct rlimit64 *new_limit,
                        struct rlimit64 *old_limit)
{
    return set_limit(pid, (int)resource, (const struct rlimit *)new_limit,
                     (struct rlimit *)old_limit);
}

/*
 * Before the lock, the heaps give back what they hold reserved and do not use,
 * as under an address-space limit that low; after one without MCL_FUTURE
 * (which ends an earlier MCL_FUTURE) they reserve it again. A refusal the
 * reservation may still cause gets one line.
 */
NA_EXPORT int mlockall(int flags)
{
    size_t as_limit = limit_now(RLIMIT_AS), lock_limit = SIZE_MAX;
    if ((flags & (MCL_CURRENT | MCL_FUTURE)) && lock_limit_binds())
        lock_limit = limit_now(RLIMIT_MEMLOCK);
    if (lock_limit != SIZE_MAX)
        alloc_address_limit_set(lower(as_limit, lock_limit), false);
    long rc = syscall(SYS_mlockall, flags);
    int err = errno;
    bool refused = rc != 0 && err == ENOMEM && lock_limit != SIZE_MAX;
    size_t mapped = refused ? os_address_space_used() : 0; /* before the heaps take theirs back */
    if (rc == 0)
        alloc_future_lock_set((flags & MCL_FUTURE) ? lock_limit : SIZE_MAX);
    heaps_follow_limits(as_limit, false);
    if (refused) {
        char line[240];
        struct textbuf tb;
        tb_init(&tb, line, sizeof line);
        tb_str(&tb, "mlockall refused under RLIMIT_MEMLOCK of ");
        tb_u64(&tb, lock_limit >> 10);
        tb_str(&tb, " KiB (ulimit -l): the process maps ");
        tb_u64(&tb, mapped >> 10);
        tb_str(&tb, " KiB, numa-alloc's heaps included (what they use and no more), "
                    "and the kernel counts all of it");
        report_warning(line);
    }
    errno = err;
    return (int)rc;
}

NA_EXPORT int munlockall(void)
{
    long rc = syscall(SYS_munlockall);
    if (rc == 0) {
        int err = errno;
        alloc_future_lock_set(SIZE_MAX);
        heaps_follow_limits(limit_now(RLIMIT_AS), false);
        errno = err;
    }
    return (int)rc;
}
