/*
 * seccomp_deny - runs a program as a container runtime's default seccomp
 * profile would: the NUMA memory-policy system calls fail, everything else
 * works. No container, no privilege (PR_SET_NO_NEW_PRIVS makes the filter
 * an unprivileged process's right).
 *
 *   seccomp_deny [--errno=EPERM|ENOSYS] [--calls=NAME,...] -- PROGRAM [ARGS...]
 *
 * --errno: what the refused calls return (EPERM: Docker/Podman without
 * CAP_SYS_NICE; ENOSYS: a kernel without NUMA). --calls: which of mbind,
 * set_mempolicy, get_mempolicy, move_pages, migrate_pages are refused
 * (default: these five), or madvise (only when named: a profile that
 * refuses giving memory back) or mremap (only when named: NUMA_ALLOC_HUGETLB's
 * last step, tests/test_hugetlb.c). The filter is inherited across execve and fork.
 * Exit status: PROGRAM's, or 125 when the filter cannot be installed, 126
 * when PROGRAM cannot be run, 2 on bad arguments.
 *
 * A test tool, not the allocator: stdio is fine here.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define THIS_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define THIS_AUDIT_ARCH AUDIT_ARCH_AARCH64
#else
#error "seccomp_deny: add this architecture's AUDIT_ARCH_*"
#endif

struct policy_call {
    const char *name;
    long nr;
};

static const struct policy_call policy_calls[] = {
    {"mbind", SYS_mbind},
    {"set_mempolicy", SYS_set_mempolicy},
    {"get_mempolicy", SYS_get_mempolicy},
    {"move_pages", SYS_move_pages},
    {"migrate_pages", SYS_migrate_pages},
    {"madvise", SYS_madvise}, /* only when named: purging refused */
    {"mremap", SYS_mremap},   /* only when named */
};
#define NUM_DEFAULT_CALLS 5 /* the memory-policy calls, refused when --calls is not given */
#define NUM_POLICY_CALLS  (sizeof policy_calls / sizeof policy_calls[0])

static void usage(void)
{
    fputs(
        "usage: seccomp_deny [--errno=EPERM|ENOSYS] [--calls=NAME,...] -- PROGRAM [ARGS...]\n"
        "  NAME: mbind, set_mempolicy, get_mempolicy, move_pages, migrate_pages (default: these),\n"
        "        madvise, mremap\n",
        stderr);
    exit(2);
}

/* Marks the calls named in a comma-separated list; exits on an unknown name. */
static void choose_calls(const char *list, int *denied)
{
    memset(denied, 0, NUM_POLICY_CALLS * sizeof *denied);
    char copy[256];
    snprintf(copy, sizeof copy, "%s", list);
    for (char *save = NULL, *name = strtok_r(copy, ",", &save); name;
         name = strtok_r(NULL, ",", &save)) {
        size_t i = 0;
        while (i < NUM_POLICY_CALLS && strcmp(policy_calls[i].name, name) != 0)
            i++;
        if (i == NUM_POLICY_CALLS) {
            fprintf(stderr, "seccomp_deny: unknown call '%s'\n", name);
            usage();
        }
        denied[i] = 1;
    }
}

/*
 * The program: a foreign architecture (a 32-bit call through int 0x80, where
 * the numbers mean other calls) is killed rather than misread; a denied call
 * returns -err; everything else is allowed.
 */
static int install_filter(const int *denied, int err)
{
    struct sock_filter prog[4 + 2 * NUM_POLICY_CALLS + 1];
    unsigned n = 0;
    prog[n++] =
        (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
    prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, THIS_AUDIT_ARCH, 1, 0);
    prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
    prog[n++] =
        (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
    for (size_t i = 0; i < NUM_POLICY_CALLS; i++) {
        if (!denied[i])
            continue;
        prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
                                                 (unsigned)policy_calls[i].nr, 0, 1);
        prog[n++] = (struct sock_filter)BPF_STMT(
            BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((unsigned)err & SECCOMP_RET_DATA));
    }
    prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    struct sock_fprog fprog = {.len = (unsigned short)n, .filter = prog};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return -1;
    return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog);
}

int main(int argc, char **argv)
{
    int err = EPERM;
    int denied[NUM_POLICY_CALLS];
    for (size_t i = 0; i < NUM_POLICY_CALLS; i++)
        denied[i] = i < NUM_DEFAULT_CALLS;
    int arg = 1;
    for (; arg < argc && strcmp(argv[arg], "--") != 0; arg++) {
        if (!strcmp(argv[arg], "--errno=EPERM"))
            err = EPERM;
        else if (!strcmp(argv[arg], "--errno=ENOSYS"))
            err = ENOSYS;
        else if (!strncmp(argv[arg], "--calls=", 8))
            choose_calls(argv[arg] + 8, denied);
        else
            usage();
    }
    if (arg + 1 >= argc)
        usage();
    if (install_filter(denied, err) != 0) {
        fprintf(stderr, "seccomp_deny: cannot install the filter: %s\n", strerror(errno));
        return 125;
    }
    execvp(argv[arg + 1], argv + arg + 1);
    fprintf(stderr, "seccomp_deny: cannot run %s: %s\n", argv[arg + 1], strerror(errno));
    return 126;
}
