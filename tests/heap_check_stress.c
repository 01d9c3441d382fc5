/*
 * heap_check_stress.c - preloaded after a debug build of the library
 * (LD_PRELOAD=libnumapreload.so:heap_check_stress.so PROGRAM), runs the
 * whole-heap check (numa_alloc_debug_check, core/heap_check.h) every 2 ms
 * from a thread of its own while the program runs: the heap's invariants
 * checked in the middle of other threads' traffic, not only between calls.
 * The check takes every lock of a heap, so it may run at any moment; a
 * violated invariant aborts the program with the invariant's name
 * (test_heap_check_stress.sh).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stddef.h>
#include <time.h>

/* Exported by debug builds of the library only; not in the public header. */
size_t numa_alloc_debug_check(void);

static void *check_forever(void *unused)
{
    (void)unused;
    const struct timespec pause = {0, 2 * 1000 * 1000};
    for (;;) {
        nanosleep(&pause, NULL);
        numa_alloc_debug_check();
    }
    return NULL;
}

__attribute__((constructor)) static void start_checking(void)
{
    pthread_t thread;
    if (pthread_create(&thread, NULL, check_forever, NULL) == 0)
        pthread_detach(thread);
}
