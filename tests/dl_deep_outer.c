/*
 * dl_deep_outer.c - opened by test_dlopen with RTLD_DEEPBIND; its malloc
 * and free, and those of the dependency it brings in (dl_deep_inner.c), are
 * the ones the test checks.
 */
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

/* Allocated by the constructor, inside dlopen: before numa-alloc points the library at its malloc.
 */
static char *early;

__attribute__((constructor)) static void on_load(void)
{
    early = malloc(1000);
    if (early)
        memset(early, 0x33, 1000);
}

char *dl_outer_grow_early(size_t n)
{
    char *grown = realloc(early, n);
    if (grown)
        early = grown;
    return grown;
}
