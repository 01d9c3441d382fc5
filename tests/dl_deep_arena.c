/*
 * dl_deep_arena.c - a library with an allocator of its own, opened by
 * test_dlopen with RTLD_DEEPBIND so that the dependency it brings in
 * (dl_deep_inner.c) allocates from it: numa-alloc leaves that as it is.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

char *dl_inner_make(size_t n, int v);

static _Alignas(16) char arena[1 << 16];
static size_t used;

void *malloc(size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (n > sizeof arena - used)
        return NULL;
    used += n;
    return arena + used - n;
}

void free(void *p)
{
    (void)p; /* an arena: nothing given back */
}

char *dl_arena_make(size_t n, int v)
{
    return dl_inner_make(n, v);
}

int dl_arena_holds(const void *p)
{
    return (uintptr_t)p >= (uintptr_t)arena && (uintptr_t)p < (uintptr_t)(arena + sizeof arena);
}
