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
 */
#define _GNU_SOURCE
#include "core/alloc.h"
#include "interpose/export.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

static int set_limit(pid_t pid, int resource, const struct rlimit *new_limit,
                     struct rlimit *old_limit)
{
    long rc = syscall(SYS_prlimit64, pid, resource, new_limit, old_limit);
    if (rc == 0 && resource == RLIMIT_AS && new_limit &&
        (pid == 0 || pid == (pid_t)syscall(SYS_getpid)))
        alloc_address_limit_set((size_t)new_limit->rlim_cur);
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
