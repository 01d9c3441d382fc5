/*
 * dl_deep_outer.c - opened by test_dlopen with RTLD_DEEPBIND; its malloc
 * and free, and those of the dependency it brings in (dl_deep_inner.c), are
 * the ones the test checks.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

char *dl_inner_make(size_t n, int v);
char *dl_inner_grow(char *p, size_t n);
void dl_inner_release(void *p);

/* The malloc family called through pointers held in the library's data, not its PLT. */
static void *(*volatile outer_calloc)(size_t, size_t) = calloc;

char *dl_outer_make(size_t n, int v)
{
    return dl_inner_make(n, v);
}

char *dl_outer_grow(char *p, size_t n)
{
    return dl_inner_grow(p, n);
}

void dl_outer_release(void *p)
{
    dl_inner_release(p);
}

void *dl_outer_calloc(size_t n)
{
    return outer_calloc(n, 1);
}

/*
 * Allocated by the constructor, inside dlopen: before numa-alloc points the
 * library at its malloc. One block of each kind of glibc's: its main arena's,
 * one it maps on its own (1 MiB), one of a thread arena (a thread's malloc).
 */
enum { EARLY_SMALL, EARLY_MAPPED, EARLY_THREAD, EARLY_KINDS };
static const size_t early_size[EARLY_KINDS] = {1000, 1 << 20, 3000};
static char *early[EARLY_KINDS];

static void *early_thread_block(void *unused)
{
    (void)unused;
    return malloc(early_size[EARLY_THREAD]);
}

__attribute__((constructor)) static void on_load(void)
{
    early[EARLY_SMALL] = malloc(early_size[EARLY_SMALL]);
    early[EARLY_MAPPED] = malloc(early_size[EARLY_MAPPED]);
    pthread_t thread;
    void *block = NULL;
    if (pthread_create(&thread, NULL, early_thread_block, NULL) == 0)
        pthread_join(thread, &block);
    early[EARLY_THREAD] = block;
    for (int kind = 0; kind < EARLY_KINDS; kind++)
        if (early[kind])
            memset(early[kind], 0x33 + kind, early_size[kind]);
}

/* realloc of the constructor's block of that kind to n bytes (NULL: refused, the block kept). */
char *dl_outer_grow_early(int kind, size_t n)
{
    char *grown = realloc(early[kind], n);
    if (grown)
        early[kind] = grown;
    return grown;
}
