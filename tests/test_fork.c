/*
 * test_fork.c - fork() while another thread holds the allocator's locks.
 *
 * A lock held by another thread at fork stays held for ever in the child
 * (that thread does not exist there), so every lock the library owns must be
 * taken before the fork and released or reset after it. The statistics
 * writer holds its lock for the whole write, and NUMA_ALLOC_STATS makes
 * every child write statistics at exit: with that lock left out, a child
 * forked during a write hangs in exit. Each child here must exit within
 * CHILD_TIMEOUT_S; a hang fails the test instead of hanging ctest.
 *
 * The writer gives way to a fork waiting for its lock (core/stats.c,
 * stats_lock_writer): without that, the writer took the lock back each time
 * and fork() waited 150 ms on average, so the 1000 forks below overran the
 * test's timeout. Two threads forking at once: a child copied while the other
 * thread's fork waited must not inherit that wait (its exit would spin;
 * stats_lock_fork_child). That window is narrow: the second test exercises
 * it, it does not reliably catch its loss.
 *
 * ctest runs this binary with NUMA_ALLOC_STATS=<build>/tests/test_fork.stats.json
 * (a device such as /dev/null is refused, and nothing would be written).
 */
#include "test_util.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/wait.h>

#include "numa_alloc.h"

#define FORKS           1000
#define CHILD_TIMEOUT_S 10

static volatile bool stop_writing;

static void *write_statistics(void *arg)
{
    int fd = *(int *)arg;
    for (unsigned i = 0; !stop_writing; i++) {
        void *p = test_launder(malloc(64 + i % 4096));
        cr_assert_eq(numa_alloc_stats_write(fd, (int)(i & 1)), 0);
        free(p);
        sched_yield(); /* the lock is not fair: let a fork waiting for it in */
    }
    return NULL;
}

/* Waits for the child; false if it has not exited after CHILD_TIMEOUT_S (it is then killed). */
static bool wait_with_timeout(pid_t child, int *status)
{
    struct timespec tick = {0, 1000000};
    for (long waited_ms = 0; waited_ms < CHILD_TIMEOUT_S * 1000L; waited_ms++) {
        pid_t done = waitpid(child, status, WNOHANG);
        cr_assert_geq(done, 0);
        if (done == child)
            return true;
        nanosleep(&tick, NULL);
    }
    kill(child, SIGKILL);
    waitpid(child, status, 0);
    return false;
}

Test(fork, every_child_exits_while_another_thread_writes_statistics, .timeout = 170)
{
    const char *stats = getenv("NUMA_ALLOC_STATS");
    cr_assert(stats && stats[0], "run with NUMA_ALLOC_STATS set (ctest does)");
    void *probe = malloc(32);
    cr_assert_geq(numa_ptr_node(probe), 0, "numa-alloc is not serving this process");
    free(probe);
    int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    cr_assert_geq(fd, 0);
    pthread_t writer;
    cr_assert_eq(pthread_create(&writer, NULL, write_statistics, &fd), 0);
    for (int i = 0; i < FORKS; i++) {
        pid_t child = fork();
        cr_assert_geq(child, 0);
        if (child == 0) {
            free(test_launder(malloc(100))); /* the allocator works in the child */
            exit(0);                         /* destructors: statistics at exit */
        }
        int status = 0;
        bool exited = wait_with_timeout(child, &status);
        if (!exited) {
            stop_writing = true;
            pthread_join(writer, NULL);
        }
        cr_assert(exited, "child %d of %d still running after %d s: a lock was left held", i + 1,
                  FORKS, CHILD_TIMEOUT_S);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child %d: status %#x", i + 1,
                  status);
    }
    stop_writing = true;
    pthread_join(writer, NULL);
    close(fd);
}

#define FORKERS    2
#define FORKS_EACH 200

static void *fork_repeatedly(void *arg)
{
    int *failed = arg;
    for (int i = 0; i < FORKS_EACH && !*failed; i++) {
        pid_t child = fork();
        if (child < 0) {
            *failed = 1;
            break;
        }
        if (child == 0) {
            free(test_launder(malloc(100)));
            exit(0);
        }
        int status = 0;
        if (!wait_with_timeout(child, &status) || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
            *failed = 2;
    }
    return NULL;
}

Test(fork, two_threads_fork_while_a_third_writes_statistics, .timeout = 170)
{
    int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    cr_assert_geq(fd, 0);
    stop_writing = false;
    pthread_t writer, forker[FORKERS];
    int failed[FORKERS] = {0};
    cr_assert_eq(pthread_create(&writer, NULL, write_statistics, &fd), 0);
    for (int i = 0; i < FORKERS; i++)
        cr_assert_eq(pthread_create(&forker[i], NULL, fork_repeatedly, &failed[i]), 0);
    for (int i = 0; i < FORKERS; i++)
        pthread_join(forker[i], NULL);
    stop_writing = true;
    pthread_join(writer, NULL);
    close(fd);
    for (int i = 0; i < FORKERS; i++)
        cr_assert_eq(failed[i], 0, "forking thread %d: %s", i,
                     failed[i] == 1 ? "fork failed" : "a child hung or failed at exit");
}
