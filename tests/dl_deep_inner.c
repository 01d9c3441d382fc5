/*
 * dl_deep_inner.c - a dependency that test_dlopen's RTLD_DEEPBIND library
 * (dl_deep_outer.c) brings in with it: its malloc and free must be
 * numa-alloc's too, though nothing loaded it before.
 */
#include <stdlib.h>
#include <string.h>

char *dl_inner_make(size_t n, int v)
{
    char *p = malloc(n);
    if (p)
        memset(p, v, n);
    return p;
}

char *dl_inner_grow(char *p, size_t n)
{
    return realloc(p, n);
}

void dl_inner_release(void *p)
{
    free(p);
}
