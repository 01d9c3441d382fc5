/*
 * many_threads THREADS BLOCKS [after] - what a thread costs a program with
 * many of them (a server with a thread per connection): THREADS threads live
 * at once, each holding BLOCKS blocks of 16 B, 32 B, ... 2 KiB (cycling),
 * with 64 KiB stacks; prints the resident set's growth while all hold
 * theirs, or with `after`, once they have freed their blocks and exited and
 * the program has gone on for 3 s (a malloc and free of 100000 B and of 40 B
 * every 100 ms):
 *
 *   threads N blocks B added KIB per-thread KIB
 *
 * Run under each allocator by bench/threads_footprint.sh (docs/benchmarks.md,
 * session 36).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BLOCKS_MAX 64

static int blocks;
static pthread_barrier_t holding, counted;

static void *hold(void *arg)
{
    (void)arg;
    void *p[BLOCKS_MAX];
    for (int i = 0; i < blocks; i++) {
        size_t size = (size_t)16 << (i % 8);
        p[i] = malloc(size);
        if (!p[i])
            abort();
        memset(p[i], 1, size);
    }
    pthread_barrier_wait(&holding);
    pthread_barrier_wait(&counted);
    for (int i = 0; i < blocks; i++)
        free(p[i]);
    return NULL;
}

static long resident_kib(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, resident = -1;
    if (!f)
        return -1;
    if (fscanf(f, "%ld %ld", &size, &resident) != 2)
        resident = -1;
    fclose(f);
    return resident * 4;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 0;
    blocks = argc > 2 ? atoi(argv[2]) : -1;
    if (threads < 1 || blocks < 0 || blocks > BLOCKS_MAX) {
        fprintf(stderr, "usage: many_threads THREADS BLOCKS (0..%d) [after]\n", BLOCKS_MAX);
        return 2;
    }
    pthread_t *tid = calloc((size_t)threads, sizeof *tid);
    pthread_attr_t attr;
    if (!tid || pthread_barrier_init(&holding, NULL, (unsigned)threads + 1) ||
        pthread_barrier_init(&counted, NULL, (unsigned)threads + 1) || pthread_attr_init(&attr) ||
        pthread_attr_setstacksize(&attr, 64 << 10))
        return 1;
    long before = resident_kib();
    for (int i = 0; i < threads; i++)
        if (pthread_create(&tid[i], &attr, hold, NULL)) {
            fprintf(stderr, "many_threads: pthread_create failed at thread %d\n", i);
            return 1;
        }
    pthread_barrier_wait(&holding);
    long with = resident_kib();
    pthread_barrier_wait(&counted);
    for (int i = 0; i < threads; i++)
        pthread_join(tid[i], NULL);
    if (argc > 3 && strcmp(argv[3], "after") == 0) {
        for (int i = 0; i < 30; i++) {
            nanosleep(&(struct timespec){.tv_nsec = 100 * 1000 * 1000}, NULL);
            free(malloc(100000));
            free(malloc(40));
        }
        with = resident_kib();
    }
    printf("threads %d blocks %d added %ld per-thread %.1f\n", threads, blocks, with - before,
           (double)(with - before) / threads);
    return 0;
}
