/*
 * pair_loop.c N SIZE - N times malloc(SIZE) + free, nothing else: the program
 * that bench/instructions.sh runs under callgrind to count instructions per
 * operation (the difference between two values of N cancels start-up).
 */
#include <stdlib.h>

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 100000;
    size_t size = argc > 2 ? (size_t)atol(argv[2]) : 32;
    for (long i = 0; i < n; i++) {
        void *volatile p = malloc(size);
        free(p);
    }
    return 0;
}
