/*
 * test_vdso.c - base/vdso.c finds the kernel's clock_gettime in the vDSO and
 * reads the same clocks as the C library's; without a vDSO it falls back.
 */
#define _GNU_SOURCE
#include "base/vdso.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <sys/auxv.h>
#include <time.h>

static long long ns_of(const struct timespec *ts)
{
    return (long long)ts->tv_sec * 1000000000LL + ts->tv_nsec;
}

Test(vdso, found_where_the_kernel_maps_one)
{
#if defined(__x86_64__) || defined(__aarch64__)
    if (getauxval(AT_SYSINFO_EHDR) != 0)
        cr_assert(vdso_clock_found(), "a vDSO is mapped, but its clock_gettime was not found");
    else
        cr_assert(!vdso_clock_found());
#else
    cr_assert(!vdso_clock_found());
#endif
}

/* Each clock the library reads, against the C library's, in between two of its readings. */
Test(vdso, the_same_clocks_as_the_c_library)
{
    const clockid_t ids[] = {CLOCK_MONOTONIC, CLOCK_MONOTONIC_COARSE, CLOCK_REALTIME};
    for (unsigned i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        struct timespec before, ours, after;
        /* The coarse clock ticks every few ms, and its readings lag the fine one's. */
        long long slack = ids[i] == CLOCK_MONOTONIC_COARSE ? 20000000LL : 0;
        cr_assert_eq(clock_gettime(ids[i], &before), 0);
        cr_assert_eq(vdso_clock_gettime(ids[i], &ours), 0);
        cr_assert_eq(clock_gettime(ids[i], &after), 0);
        cr_assert_geq(ns_of(&ours) + slack, ns_of(&before), "clock %d: %lld before %lld",
                      (int)ids[i], ns_of(&ours), ns_of(&before));
        cr_assert_leq(ns_of(&ours), ns_of(&after) + slack, "clock %d: %lld after %lld", (int)ids[i],
                      ns_of(&ours), ns_of(&after));
    }
}

/* Like the vDSO's: -errno for a clock that does not exist, errno untouched. */
Test(vdso, a_bad_clock_is_minus_einval_and_errno_stays)
{
    struct timespec ts;
    errno = 1234;
    cr_assert_eq(vdso_clock_gettime((clockid_t)12345, &ts), -EINVAL);
    cr_assert_eq(errno, 1234);
}
