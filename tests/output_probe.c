/*
 * output_probe.c MODE [ARG] STATUS - a program that numa-alloc's messages and
 * statistics must not harm; run by test_output.sh with the library preloaded
 * (not linked with it, so that an old build can be preloaded instead). It
 * allocates, does what MODE says, and exits with STATUS; any other status
 * means the library changed how it ended (99: our SIGPIPE reached its handler).
 *
 *   plain           nothing more
 *   ignore          SIGPIPE set to SIG_IGN first
 *   handler         a SIGPIPE handler that exits 99; a foreign realloc (one
 *                   "numa-alloc:" message) in main
 *   blocked         SIGPIPE blocked, a foreign realloc (one message), then
 *                   SIGPIPE unblocked with its default action
 *   handler self, blocked self: the program's own write to stderr instead of
 *                   the foreign realloc (negative controls: 99, and killed)
 *   reuse FILE      closes fd 2 and opens FILE (close-on-exec, as a program
 *                   opens its own files), which gets number 2: a file of the
 *                   program's, not a stderr
 *   closeall FILE   closes fd 2 and every descriptor >= 3, then opens FILE
 *                   (close-on-exec) at number 2 and at every number that was
 *                   open before (numa-alloc's among them)
 *   redirect FILE   dup2(FILE, 2): the program's stderr is FILE from now on;
 *                   then a foreign realloc (one message, which belongs there)
 *   statsto FILE    numa_alloc_stats_write(FILE, json) (looked up with dlsym)
 *   forkclose       forks a child that closes its stderr and exits (exit(),
 *                   so the library's destructors run); waits for it
 * reuse, closeall and redirect first write "mine\n" to FILE.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_FDS 1024

static void on_sigpipe(int sig)
{
    (void)sig;
    _exit(99);
}

/*
 * A write to stderr: the program's own (`self`), or one of numa-alloc's: a
 * pointer it did not hand out, which realloc refuses with one message.
 */
static void provoke(int self)
{
    static char not_ours[64];
    if (self)
        (void)!write(2, "x\n", 2);
    else if (realloc(not_ours, 128) != NULL)
        _exit(97);
}

static int open_file(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        perror(path);
        _exit(96);
    }
    return fd;
}

/* Which descriptors >= 3 are open now (the library's among them), from /proc/self/fd. */
static int open_fds(int *fds)
{
    int n = 0;
    DIR *dir = opendir("/proc/self/fd");
    if (!dir)
        _exit(95);
    int own = dirfd(dir);
    for (struct dirent *e; (e = readdir(dir)) != NULL;) {
        int fd = atoi(e->d_name);
        if (e->d_name[0] != '.' && fd >= 3 && fd != own && n < MAX_FDS)
            fds[n++] = fd;
    }
    closedir(dir);
    return n;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    const char *mode = argv[1];
    int self = strcmp(argv[2], "self") == 0;
    int status = atoi(argv[argc - 1]);
    char *p = malloc(1000);
    if (!p)
        return 94;
    memset(p, 1, 1000);
    free(p);

    if (strcmp(mode, "ignore") == 0) {
        signal(SIGPIPE, SIG_IGN);
    } else if (strcmp(mode, "handler") == 0) {
        signal(SIGPIPE, on_sigpipe);
        provoke(self);
    } else if (strcmp(mode, "blocked") == 0) {
        sigset_t pipe_only;
        sigemptyset(&pipe_only);
        sigaddset(&pipe_only, SIGPIPE);
        sigprocmask(SIG_BLOCK, &pipe_only, NULL);
        provoke(self);
        sigprocmask(SIG_UNBLOCK, &pipe_only, NULL); /* a SIGPIPE of ours pending: killed here */
    } else if (strcmp(mode, "reuse") == 0 && argc == 4) {
        close(2);
        if (open_file(argv[2]) != 2)
            return 93;
        if (write(2, "mine\n", 5) != 5)
            return 92;
    } else if (strcmp(mode, "closeall") == 0 && argc == 4) {
        int fds[MAX_FDS];
        int n = open_fds(fds);
        close(2);
        for (int fd = 3; fd < MAX_FDS; fd++)
            close(fd);
        if (open_file(argv[2]) != 2)
            return 91;
        for (int i = 0; i < n; i++)
            if (dup3(2, fds[i], O_CLOEXEC) != fds[i])
                return 90;
        if (write(2, "mine\n", 5) != 5)
            return 92;
    } else if (strcmp(mode, "redirect") == 0 && argc == 4) {
        int file = open_file(argv[2]);
        if (dup2(file, 2) != 2 || write(2, "mine\n", 5) != 5)
            return 92;
        close(file);
        provoke(0);
    } else if (strcmp(mode, "statsto") == 0 && argc == 4) {
        int (*stats_write)(int, int) =
            (int (*)(int, int))dlsym(RTLD_DEFAULT, "numa_alloc_stats_write");
        if (!stats_write)
            return 89;
        int fd = open_file(argv[2]);
        if (stats_write(fd, 1) != 0)
            return 88;
        close(fd);
    } else if (strcmp(mode, "forkclose") == 0) {
        pid_t child = fork();
        if (child < 0)
            return 87;
        if (child == 0) {
            close(2);
            exit(0);
        }
        int child_status;
        if (waitpid(child, &child_status, 0) != child || child_status != 0)
            return 86;
    } else if (strcmp(mode, "plain") != 0) {
        return 2;
    }
    return status;
}
