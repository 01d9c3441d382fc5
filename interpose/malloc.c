/*
 * malloc.c - the malloc family, exported under the standard names so that
 * linking -lnumapreload or LD_PRELOAD replaces the C library's allocator.
 * Each entry point checks its arguments the way glibc documents, then calls
 * the fast paths in core/alloc.h.
 */
#define _GNU_SOURCE
#include "core/alloc.h"
#include "core/libc_heap.h"
#include "interpose/export.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

static inline bool is_power_of_two(size_t x)
{
    return x != 0 && (x & (x - 1)) == 0;
}

NA_EXPORT void *malloc(size_t size)
{
    return alloc_fast(size); /* the slow paths set errno */
}

NA_EXPORT void free(void *ptr)
{
    free_fast(ptr);
}

NA_EXPORT void *calloc(size_t count, size_t size)
{
    size_t bytes;
    if (unlikely(__builtin_mul_overflow(count, size, &bytes))) {
        errno = ENOMEM;
        return NULL;
    }
    if (likely(bytes <= SMALL_MAX)) {
        void *ptr = alloc_fast(bytes);
        if (likely(ptr != NULL))
            return memset(ptr, 0, bytes);
        errno = ENOMEM;
        return NULL;
    }
    return alloc_placed(bytes, 0, true);
}

NA_EXPORT void *realloc(void *ptr, size_t size)
{
    return alloc_realloc(ptr, size);
}

NA_EXPORT void *reallocarray(void *ptr, size_t count, size_t size)
{
    size_t bytes;
    if (__builtin_mul_overflow(count, size, &bytes)) {
        errno = ENOMEM;
        return NULL;
    }
    return alloc_realloc(ptr, bytes);
}

static void *aligned(size_t alignment, size_t size)
{
    return alloc_placed(size, alignment, false);
}

NA_EXPORT int posix_memalign(void **out, size_t alignment, size_t size)
{
    if (!is_power_of_two(alignment) || alignment < sizeof(void *))
        return EINVAL;
    int saved = errno;
    void *ptr = aligned(alignment, size);
    errno = saved;
    if (!ptr)
        return ENOMEM;
    *out = ptr;
    return 0;
}

NA_EXPORT void *aligned_alloc(size_t alignment, size_t size)
{
    if (!is_power_of_two(alignment)) {
        errno = EINVAL;
        return NULL;
    }
    return aligned(alignment, size);
}

NA_EXPORT void *memalign(size_t alignment, size_t size)
{
    if (!is_power_of_two(alignment)) {
        errno = EINVAL;
        return NULL;
    }
    return aligned(alignment, size);
}

NA_EXPORT void *valloc(size_t size)
{
    return aligned(OS_PAGE_SIZE, size);
}

NA_EXPORT void *pvalloc(size_t size)
{
    if (size > SIZE_MAX - OS_PAGE_SIZE) {
        errno = ENOMEM;
        return NULL;
    }
    size_t rounded = (size + OS_PAGE_SIZE - 1) & ~(OS_PAGE_SIZE - 1);
    return aligned(OS_PAGE_SIZE, rounded ? rounded : OS_PAGE_SIZE);
}

NA_EXPORT size_t malloc_usable_size(void *ptr)
{
    size_t usable = alloc_usable_size(ptr);
    if (unlikely(usable == 0) && ptr && alloc_start_failed())
        return libc_heap_usable_size(ptr); /* the start failed: a block of glibc's */
    return usable;
}

NA_EXPORT int malloc_trim(size_t pad)
{
    (void)pad;
    return alloc_trim() ? 1 : 0;
}

/* C23: the size and alignment are hints we do not need; the address tells all. */
NA_EXPORT void free_sized(void *ptr, size_t size)
{
    (void)size;
    free_fast(ptr);
}

NA_EXPORT void free_aligned_sized(void *ptr, size_t alignment, size_t size)
{
    (void)alignment;
    (void)size;
    free_fast(ptr);
}
