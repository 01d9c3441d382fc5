/*
 * malloc.c - the malloc family, exported under the standard names so that
 * linking -lnumapreload or LD_PRELOAD replaces the C library's allocator.
 * Each entry point checks its arguments the way glibc documents, then calls
 * the fast paths in core/alloc.h.
 */
#define _GNU_SOURCE
#include "base/os.h"
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

/*
 * The aligned family, as glibc 2.36's _mid_memalign: an alignment malloc
 * gives anyway (<= 16) is plain malloc; one that cannot be a power of two
 * below 2^64 fails with EINVAL; any other is rounded up to a power of two,
 * at least 32 (so memalign(24, n) is 32-aligned, not EINVAL). glibc 2.36's
 * aligned_alloc is memalign itself, without C11's power-of-two check.
 * Sizes or alignments too large fail with ENOMEM (ALLOC_MAX_REQUEST).
 */
#define MALLOC_ALIGNMENT      16
#define MIN_ROUNDED_ALIGNMENT 32

static void *memalign_as_glibc(size_t alignment, size_t size)
{
    if (alignment <= MALLOC_ALIGNMENT)
        return alloc_fast(size);
    if (alignment > SIZE_MAX / 2 + 1) {
        errno = EINVAL;
        return NULL;
    }
    if (!is_power_of_two(alignment)) {
        size_t rounded = MIN_ROUNDED_ALIGNMENT;
        while (rounded < alignment)
            rounded <<= 1; /* stops at 2^63 at most: no overflow */
        alignment = rounded;
    }
    return alloc_placed(size, alignment, false);
}

/* glibc: EINVAL unless a power of two multiple of sizeof(void *), errno untouched then;
 * on ENOMEM errno is ENOMEM too, as glibc leaves it. */
NA_EXPORT int posix_memalign(void **out, size_t alignment, size_t size)
{
    if (!is_power_of_two(alignment) || alignment < sizeof(void *))
        return EINVAL;
    void *ptr = memalign_as_glibc(alignment, size);
    if (!ptr)
        return ENOMEM;
    *out = ptr;
    return 0;
}

NA_EXPORT void *aligned_alloc(size_t alignment, size_t size)
{
    return memalign_as_glibc(alignment, size);
}

NA_EXPORT void *memalign(size_t alignment, size_t size)
{
    return memalign_as_glibc(alignment, size);
}

NA_EXPORT void *valloc(size_t size)
{
    return memalign_as_glibc(OS_PAGE_SIZE, size);
}

/* valloc of the size rounded up to whole pages (at least one), which the usable size shows. */
NA_EXPORT void *pvalloc(size_t size)
{
    if (size > SIZE_MAX - OS_PAGE_SIZE) {
        errno = ENOMEM;
        return NULL;
    }
    size_t rounded = os_page_round_up(size);
    return memalign_as_glibc(OS_PAGE_SIZE, rounded ? rounded : OS_PAGE_SIZE);
}

/*
 * glibc's other names for the same functions (GLIBC_2.2.5), which a program
 * may call itself: a block of ours handed to glibc's __libc_free aborted the
 * program ("free(): invalid pointer"), and one of glibc's __libc_malloc was
 * a foreign pointer to us. cfree is glibc's old name for free, kept for
 * binaries linked before glibc 2.26. mimalloc and tcmalloc take these names
 * too. glibc's own implementations stay reachable for a failed start
 * (libc_heap.c: looked up, not linked).
 */
NA_EXPORT void *__libc_malloc(size_t size) NA_ALIAS_OF(malloc);
NA_EXPORT void __libc_free(void *ptr) NA_ALIAS_OF(free);
NA_EXPORT void cfree(void *ptr) NA_ALIAS_OF(free);
NA_EXPORT void *__libc_calloc(size_t count, size_t size) NA_ALIAS_OF(calloc);
NA_EXPORT void *__libc_realloc(void *ptr, size_t size) NA_ALIAS_OF(realloc);
NA_EXPORT void *__libc_memalign(size_t alignment, size_t size) NA_ALIAS_OF(memalign);
NA_EXPORT void *__libc_valloc(size_t size) NA_ALIAS_OF(valloc);
NA_EXPORT void *__libc_pvalloc(size_t size) NA_ALIAS_OF(pvalloc);

NA_EXPORT size_t malloc_usable_size(void *ptr)
{
    size_t usable = alloc_usable_size(ptr);
    /* 0 in the region is an interior pointer of ours: no system call to look further. */
    if (unlikely(usable == 0) && ptr && !region_contains(ptr) &&
        (alloc_start_failed() || libc_heap_owns(ptr)))
        return libc_heap_usable_size(ptr); /* a block of glibc's */
    return usable;
}

NA_EXPORT int malloc_trim(size_t pad)
{
    (void)pad;
    return alloc_trim() ? 1 : 0;
}

/*
 * C23: the size and alignment are hints, never trusted: the address tells
 * the block's size and node, so a wrong or impossible hint (even one above
 * ALLOC_MAX_REQUEST) cannot free the wrong amount. The pointer is checked as
 * free() checks it.
 */
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
