/* dl_allocating.c - a library that allocates when loaded, when called, and frees when unloaded. */
#include <stdlib.h>
#include <string.h>

static char *held;

__attribute__((constructor)) static void on_load(void)
{
    held = malloc(100000);
    memset(held, 0x5a, 100000);
}

__attribute__((destructor)) static void on_unload(void)
{
    for (size_t i = 0; i < 100000; i++)
        if (held[i] != 0x5a)
            abort();
    free(held);
}

/* Returns n bytes of value v; the caller frees them. */
char *dl_make(size_t n, int v)
{
    char *p = malloc(n);
    if (p)
        memset(p, v, n);
    return p;
}

/* Frees memory allocated by the caller. */
void dl_release(void *p)
{
    free(p);
}
