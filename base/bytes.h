/*
 * bytes.h - byte fills and copies for the start-up code, which runs in every process.
 *
 * The C library's memset and memcpy sit in a 64 KiB window of its text
 * (the AVX-512/EVEX variants, at its end) that a program which never calls
 * them, such as `true`, does not have resident; a call from our start-up
 * would fault it in (docs/architecture.md, *Footprint*). These loops cannot
 * become such a call: the empty asm hides the stores' pattern from the
 * compiler, which otherwise turns the loop back into memset. They are for
 * a few KiB at most, on cold paths.
 */
#ifndef NUMA_ALLOC_BYTES_H
#define NUMA_ALLOC_BYTES_H

#include <stddef.h>

static inline void na_fill(void *dst, unsigned char value, size_t n)
{
    unsigned char *d = dst;
    for (size_t i = 0; i < n; i++) {
        d[i] = value;
        __asm__("" : : "r"(d) : "memory");
    }
}

static inline void na_copy(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    for (size_t i = 0; i < n; i++) {
        d[i] = s[i];
        __asm__("" : : "r"(d) : "memory");
    }
}

/* A NUL-terminated string with its NUL: the call GCC makes of strcpy at -Os, avoided. */
static inline void na_copy_string(char *dst, const char *src)
{
    size_t i = 0;
    do {
        dst[i] = src[i];
        __asm__("" : : "r"(dst) : "memory");
    } while (src[i++] != '\0');
}

#endif
