/*
 * bitmap.h - the one bitmap of the library: bit b of a map is bit b % 64 of
 * the 64-bit word b / 64, which is also the layout of the kernel's node and
 * cpu masks (mbind, get_mempolicy, sysfs lists read into one) on a 64-bit
 * little- or big-endian machine. The caller keeps b inside its map.
 */
#ifndef NUMA_ALLOC_BITMAP_H
#define NUMA_ALLOC_BITMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BITMAP_WORD_BITS 64 /* bits in one word of a map */

/* Words in a map of `bits` bits. */
#define BITMAP_WORDS(bits) (((bits) + BITMAP_WORD_BITS - 1) / BITMAP_WORD_BITS)

static inline bool bitmap_test(const uint64_t *map, size_t bit)
{
    return (map[bit / BITMAP_WORD_BITS] >> (bit % BITMAP_WORD_BITS)) & 1u;
}

static inline void bitmap_set(uint64_t *map, size_t bit)
{
    map[bit / BITMAP_WORD_BITS] |= (uint64_t)1 << (bit % BITMAP_WORD_BITS);
}

static inline void bitmap_clear(uint64_t *map, size_t bit)
{
    map[bit / BITMAP_WORD_BITS] &= ~((uint64_t)1 << (bit % BITMAP_WORD_BITS));
}

#endif
