/*
 * live_probe SECONDS [abort | fork | exec COMMAND...] - allocates and frees
 * steadily for a while; run by test_launcher.sh and test_live_files.sh.
 *   abort: ends with abort() instead of returning;
 *   fork:  a child does the same beside it, for twice as long;
 *   exec:  then becomes COMMAND without the preload, under the same pid.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void churn(int tenths)
{
    for (int t = 0; t < tenths; t++) {
        for (int i = 0; i < 2000; i++) {
            char *p = malloc(64 + (size_t)(i % 300));
            memset(p, 1, 8);
            if (i % 3)
                free(p);
        }
        free(malloc(200000));
        usleep(100000);
    }
}

int main(int argc, char **argv)
{
    /* A shell starts background jobs with SIGINT ignored; the tests send it. */
    signal(SIGINT, SIG_DFL);
    int tenths = argc > 1 ? atoi(argv[1]) * 10 : 30;
    const char *mode = argc > 2 ? argv[2] : "";
    if (strcmp(mode, "fork") == 0) {
        churn(1);
        if (fork() == 0)
            tenths *= 2;
    }
    churn(tenths);
    if (strcmp(mode, "abort") == 0)
        abort();
    if (strcmp(mode, "exec") == 0 && argc > 3) {
        unsetenv("LD_PRELOAD");
        execvp(argv[3], argv + 3);
        return 127;
    }
    return 0;
}
