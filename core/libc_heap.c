/* libc_heap.c - glibc's allocator, for when numa-alloc could not start; see libc_heap.h. */
#include "core/libc_heap.h"

#include <stdint.h>
#include <string.h>

/* glibc's implementations of the malloc family (GLIBC_2.2.5, x86-64). */
extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *ptr, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);
extern void __libc_free(void *ptr);

/* glibc's blocks are at least this aligned (MALLOC_ALIGNMENT on x86-64). */
#define LIBC_MIN_ALIGNMENT 16

void *libc_heap_alloc(size_t size, size_t alignment, bool zero)
{
    if (alignment <= LIBC_MIN_ALIGNMENT)
        return zero ? __libc_calloc(1, size) : __libc_malloc(size);
    void *ptr = __libc_memalign(alignment, size);
    if (ptr && zero)
        memset(ptr, 0, size);
    return ptr;
}

void libc_heap_free(void *ptr)
{
    __libc_free(ptr);
}

void *libc_heap_realloc(void *ptr, size_t size)
{
    return __libc_realloc(ptr, size);
}

/*
 * glibc exports no __libc_ name for malloc_usable_size, and its public name
 * resolves to ours: read the chunk header as glibc's musable() does
 * (malloc/malloc.c; the layout has not changed since glibc 2.0). The size
 * word precedes the block, its low 3 bits are flags. An mmapped chunk
 * (bit 1) has two header words of overhead; any other chunk one, and it is
 * in use when the next chunk's PREV_INUSE bit (bit 0) is set.
 */
#define CHUNK_PREV_INUSE ((size_t)1)
#define CHUNK_IS_MMAPPED ((size_t)2)
#define CHUNK_FLAG_BITS  ((size_t)7)

size_t libc_heap_usable_size(const void *ptr)
{
    if (!ptr)
        return 0;
    size_t header = ((const size_t *)ptr)[-1];
    size_t chunk = header & ~CHUNK_FLAG_BITS;
    if (header & CHUNK_IS_MMAPPED)
        return chunk - 2 * sizeof(size_t);
    const size_t *next_header = (const size_t *)((const char *)ptr - sizeof(size_t) + chunk);
    return (*next_header & CHUNK_PREV_INUSE) ? chunk - sizeof(size_t) : 0;
}
