/* live_probe.c SECONDS - allocates and frees steadily for a while; run by test_launcher.sh. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    int tenths = argc > 1 ? atoi(argv[1]) * 10 : 30;
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
    return 0;
}
