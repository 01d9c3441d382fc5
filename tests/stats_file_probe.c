/*
 * stats_file_probe.c MODE [ARG] - a program that allocates and then ends in a
 * chosen way, run by test_stats_file.sh with the library preloaded (not linked
 * with numapreload). Before it exits it writes "stats_file_probe: exiting" on
 * stderr, so the test can tell start-up messages from those written at exit.
 *
 *   exit N       exits with status N
 *   chdir DIR    changes into DIR, then exits 0
 *   wait FIFO    prints its pid on stdout, reads one byte from FIFO, exits 0
 *   fork         forks; the child allocates and exits 0, the parent waits for
 *                it and exits 0; prints "PARENT_PID CHILD_PID" on stdout
 *   name NAME    renames itself (prctl PR_SET_NAME: any bytes, '/' too), exits 0
 *   thread-exit NAME  a thread named NAME (PR_SET_NAME of its own) ends the
 *                program with exit(0) while the main thread waits for it
 *   exec PROG..  prints its pid on stdout, then execs PROG with the rest as arguments
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

static void allocate(void)
{
    for (int i = 0; i < 100; i++) {
        char *volatile p = malloc(64 + (size_t)i * 100);
        if (!p)
            exit(99);
        memset(p, 1, 64);
        free(p);
    }
}

static int leave(int status)
{
    fputs("stats_file_probe: exiting\n", stderr);
    return status;
}

static void *named_exit(void *name)
{
    if (prctl(PR_SET_NAME, name, 0, 0, 0) != 0)
        exit(91);
    allocate();
    exit(leave(0));
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 98;
    allocate();
    if (strcmp(argv[1], "exit") == 0 && argc == 3)
        return leave(atoi(argv[2]));
    if (strcmp(argv[1], "chdir") == 0 && argc == 3)
        return chdir(argv[2]) == 0 ? leave(0) : 97;
    if (strcmp(argv[1], "wait") == 0 && argc == 3) {
        printf("%d\n", (int)getpid());
        fflush(stdout);
        int fd = open(argv[2], O_RDONLY);
        char c;
        if (fd < 0 || read(fd, &c, 1) != 1)
            return 96;
        close(fd);
        return leave(0);
    }
    if (strcmp(argv[1], "fork") == 0) {
        fflush(stdout);
        pid_t child = fork();
        if (child < 0)
            return 95;
        if (child == 0) {
            allocate();
            exit(0);
        }
        int status;
        if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status))
            return 94;
        printf("%d %d\n", (int)getpid(), (int)child);
        return leave(0);
    }
    if (strcmp(argv[1], "name") == 0 && argc == 3)
        return prctl(PR_SET_NAME, argv[2], 0, 0, 0) == 0 ? leave(0) : 93;
    if (strcmp(argv[1], "thread-exit") == 0 && argc == 3) {
        pthread_t t;
        if (pthread_create(&t, NULL, named_exit, argv[2]) != 0)
            return 90;
        pthread_join(t, NULL); /* never returns: the thread exits the program */
        return 89;
    }
    if (strcmp(argv[1], "exec") == 0 && argc >= 3) {
        printf("%d\n", (int)getpid());
        fflush(stdout);
        execv(argv[2], argv + 2);
        return 92;
    }
    return 98;
}
