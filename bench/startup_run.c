/*
 * startup_run - runs a command RUNS times and prints the median wall time and
 * the median peak RSS of the runs, for bench/startup_nodes.sh.
 *
 *   startup_run RUNS [--preload=LIB] [--exact|--peak] -- COMMAND [ARGS...]
 *
 * Prints one line: "median_ms median_rss_kib min_ms max_ms". Wall time is
 * fork to exit (CLOCK_MONOTONIC), RSS the child's ru_maxrss (wait4), which
 * spans an exec. --preload sets LD_PRELOAD in the child only, so this program
 * never runs under the library it measures; the command's stdout goes to
 * /dev/null. Exit 1 when a run fails.
 *
 * --exact: the RSS is VmHWM of /proc/PID/status, read while the command is
 * stopped at its exit (ptrace, PTRACE_O_TRACEEXIT), instead of ru_maxrss.
 * ru_maxrss moves in steps of 128 KiB: the kernel counts RSS per CPU in
 * batches of 32 pages and records the peak without the CPUs' residues;
 * /proc's VmHWM has no such steps, but it too is a mark the kernel takes at
 * some calls only (--peak below). Only the process started (after its execs),
 * not its children; the wall time then includes the tracing.
 *
 * --peak: the peak of the resident set counted page by page: the command is
 * stopped at the entry of every call that can lower it (munmap, madvise,
 * mremap, brk, mmap over a mapping, exit) and at its exit, and the Rss of
 * /proc/PID/smaps_rollup (a walk of its page tables) is read there; the
 * peak is the largest of those. VmHWM can fall short of it: the kernel
 * takes its mark at such calls from a resident count it keeps per CPU and
 * folds in batches. Debian's `python3 -c pass` peaks 32-80 KiB above its
 * VmHWM under each allocator (docs/benchmarks.md, session 43). The whole
 * run is followed, its execs included; its threads are not.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_RUNS 1000

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof v[0], by_value);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The KiB on the line of /proc/PID/FILE that starts with `field`; -1 if none. */
static long proc_kib(pid_t pid, const char *file, const char *field)
{
    char path[64], line[256];
    long kib = -1;
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, field, strlen(field)) == 0)
            kib = atol(line + strlen(field));
    if (f)
        fclose(f);
    return kib;
}

/*
 * Follows a child stopped by ptrace until its exit stop; returns its VmHWM
 * (KiB) read there, -1 if not found, and lets it exit (the caller reaps it).
 */
static long hwm_at_exit(pid_t pid)
{
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFSTOPPED(status))
        return -1;
    ptrace(PTRACE_SETOPTIONS, pid, NULL, (void *)(long)(PTRACE_O_TRACEEXIT | PTRACE_O_EXITKILL));
    ptrace(PTRACE_CONT, pid, NULL, NULL);
    long hwm = -1;
    while (waitpid(pid, &status, 0) == pid && WIFSTOPPED(status)) {
        if (status >> 8 == (SIGTRAP | (PTRACE_EVENT_EXIT << 8))) {
            hwm = proc_kib(pid, "status", "VmHWM:");
            ptrace(PTRACE_DETACH, pid, NULL, NULL);
            return hwm;
        }
        int sig =
            WSTOPSIG(status) == SIGTRAP ? 0 : WSTOPSIG(status); /* exec's trap: not passed on */
        ptrace(PTRACE_CONT, pid, NULL, (void *)(long)sig);
    }
    return hwm;
}

/* Rss of /proc/PID/smaps_rollup in KiB (exact: the page tables walked), -1 if unreadable. */
static long rss_exact(pid_t pid)
{
    return proc_kib(pid, "smaps_rollup", "Rss:");
}

/* The number of the system call a child is stopped at the entry of; -1 if unknown. */
static long syscall_at(pid_t pid)
{
#if defined(__x86_64__)
    struct user_regs_struct regs;
    return ptrace(PTRACE_GETREGS, pid, NULL, &regs) == 0 ? (long)regs.orig_rax : -1;
#else
    (void)pid;
    return -1; /* elsewhere every call is counted at: slower, as exact */
#endif
}

/* Can the system call `nr` (-1: unknown) lower the resident set of the calling process? */
static bool may_lower_rss(long nr)
{
    return nr == -1 || nr == SYS_munmap || nr == SYS_madvise || nr == SYS_mremap || nr == SYS_brk ||
           nr == SYS_mmap || nr == SYS_exit_group || nr == SYS_exit || nr == SYS_process_madvise;
}

/*
 * Follows a child stopped by ptrace from its exec to its exit stop (--peak);
 * returns the largest exact Rss read at the entry of a call that can lower
 * it and at its exit, -1 if none was read, and lets it exit.
 */
static long peak_exact(pid_t pid)
{
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFSTOPPED(status))
        return -1;
    ptrace(PTRACE_SETOPTIONS, pid, NULL,
           (void *)(long)(PTRACE_O_TRACEEXIT | PTRACE_O_EXITKILL | PTRACE_O_TRACESYSGOOD));
    ptrace(PTRACE_SYSCALL, pid, NULL, NULL);
    long peak = -1;
    bool entry = true; /* syscall stops alternate: entry, then exit */
    while (waitpid(pid, &status, 0) == pid && WIFSTOPPED(status)) {
        int sig = WSTOPSIG(status);
        if (sig == (SIGTRAP | 0x80)) {
            if (entry && may_lower_rss(syscall_at(pid))) {
                long rss = rss_exact(pid);
                peak = rss > peak ? rss : peak;
            }
            entry = !entry;
            sig = 0;
        } else if (status >> 8 == (SIGTRAP | (PTRACE_EVENT_EXIT << 8))) {
            long rss = rss_exact(pid);
            peak = rss > peak ? rss : peak;
            ptrace(PTRACE_DETACH, pid, NULL, NULL);
            return peak;
        } else if (sig == SIGTRAP) {
            sig = 0; /* exec's trap: not passed on */
        }
        ptrace(PTRACE_SYSCALL, pid, NULL, (void *)(long)sig);
    }
    return peak;
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 0, at = 2;
    const char *preload = NULL;
    bool exact = false, peak = false;
    if (at < argc && strncmp(argv[at], "--preload=", 10) == 0)
        preload = argv[at++] + 10;
    if (at < argc && strcmp(argv[at], "--exact") == 0) {
        exact = true;
        at++;
    } else if (at < argc && strcmp(argv[at], "--peak") == 0) {
        exact = peak = true;
        at++;
    }
    if (runs < 1 || runs > MAX_RUNS || at >= argc || strcmp(argv[at], "--") != 0 ||
        at + 1 >= argc) {
        fprintf(stderr,
                "usage: startup_run RUNS [--preload=LIB] [--exact|--peak] -- COMMAND [ARGS...]\n");
        return 2;
    }
    char **command = argv + at + 1;
    static double ms[MAX_RUNS], rss[MAX_RUNS];
    for (int i = 0; i < runs; i++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        pid_t pid = fork();
        if (pid == 0) {
            if (preload)
                setenv("LD_PRELOAD", preload, 1);
            int null = open("/dev/null", O_WRONLY); /* stdout carries the result only */
            if (null >= 0)
                dup2(null, STDOUT_FILENO);
            if (exact && (ptrace(PTRACE_TRACEME, 0, NULL, NULL) != 0 || raise(SIGSTOP) != 0))
                _exit(127);
            execvp(command[0], command);
            perror(command[0]);
            _exit(127);
        }
        int status;
        struct rusage ru;
        long hwm = !exact || pid <= 0 ? 0 : peak ? peak_exact(pid) : hwm_at_exit(pid);
        if (pid < 0 || wait4(pid, &status, 0, &ru) != pid) {
            perror("startup_run");
            return 1;
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "startup_run: %s failed (status %#x)\n", command[0], status);
            return 1;
        }
        ms[i] = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
        rss[i] = exact ? (double)hwm : (double)ru.ru_maxrss;
    }
    double min = ms[0], max = ms[0];
    for (int i = 1; i < runs; i++) {
        min = ms[i] < min ? ms[i] : min;
        max = ms[i] > max ? ms[i] : max;
    }
    double med = median(ms, runs);
    printf("%.1f %.0f %.1f %.1f\n", med, median(rss, runs), min, max);
    return 0;
}
