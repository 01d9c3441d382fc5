/*
 * size_class.h - request sizes to size classes.
 *
 * Classes: 16, 32, 48, ..., 128 (16-byte steps), then 8 classes per
 * doubling: 2^k + j * 2^(k-3), j = 1..8. Every block is 16-byte aligned, as
 * glibc's are, and has room for the two words a free block carries (the
 * cache link and the double-free key). The waste of a request is thus
 * under 16 bytes below 128 and under 1/9 (about 11%) above: within the
 * 12.5% promised. The same spacing rounds "large" requests (page runs, up
 * to LARGE_MAX) before they are rounded to whole pages.
 *
 * Class 0 means "not a small class"; small classes are 1..NUM_SMALL_CLASSES
 * and are served from slabs through the thread caches.
 */
#ifndef NUMA_ALLOC_SIZE_CLASS_H
#define NUMA_ALLOC_SIZE_CLASS_H

#include "base/compiler.h"

#include "base/os.h"

#include <stddef.h>
#include <stdint.h>

#define NUM_SMALL_CLASSES 72
#define SMALL_MAX         ((size_t)32 * 1024)
#define LARGE_MAX         ((size_t)2 * 1024 * 1024)
#define CLASS_LUT_MAX     SMALL_MAX /* every small size: no branch on malloc's fast path */
#define CLASS_STEP_SHIFT  4
#define CLASS_STEP        (1u << CLASS_STEP_SHIFT) /* the smallest class, the step up to 128 */

/*
 * The largest request (size, and alignment) the allocator accepts: every
 * larger one fails with NULL and ENOMEM before anything is rounded or
 * touched (a block passed to realloc stays as it was), as glibc does above
 * PTRDIFF_MAX.
 *
 * Why 2^62 and not glibc's PTRDIFF_MAX: headroom. Below it, size + alignment
 * + a page + a segment is below 2^63, so no rounding in core/ can wrap (a
 * wrapped size once shrank a huge object to 0 bytes in place) and every
 * object stays within ptrdiff_t. Nothing between 2^62 and PTRDIFF_MAX could
 * be served anyway (no address space has 2^57 bytes), so the outcome, NULL
 * and ENOMEM, is glibc's for every size.
 *
 * Checked once per request where it enters core/: alloc_placed (malloc's
 * slow path, calloc, the aligned family), alloc_on_node (numa_*) and
 * alloc_realloc (realloc, reallocarray); the small fast paths cannot exceed
 * it. Every function that rounds a size asserts it (CONTRACT_ASSERT).
 */
#define ALLOC_MAX_REQUEST ((size_t)1 << 62)

static inline int request_within_limit(size_t size, size_t alignment)
{
    return size <= ALLOC_MAX_REQUEST && alignment <= ALLOC_MAX_REQUEST;
}

struct size_class_info {
    uint32_t size;        /* block size in bytes */
    uint32_t slab_pages;  /* pages in one slab of this class */
    uint32_t slab_blocks; /* blocks in one slab */
    /* 16 bits each: the entry stays 16 bytes (one shift to index; sample_peak walks it) */
    uint16_t cache_max;   /* most blocks a thread cache bin keeps, once its class is in use */
    uint16_t cache_grown; /* most a bin may grow to (struct cache_bin); >= cache_max */
};

/*
 * A young bin's bound (struct cache_bin): CACHE_YOUNG_BYTES of blocks, at
 * least CACHE_BLOCKS_MIN, at most cache_max. Apart from the table above,
 * which stays 16 bytes an entry: only slow paths read it.
 */
extern NA_HIDDEN uint16_t na_cache_young[NUM_SMALL_CLASSES + 1];

/*
 * What one thread's bins may hold beyond their cache_max, all bins of all
 * its node caches together (struct cache_bin: grown bins).
 */
#define CACHE_THREAD_GROWTH (256u << 10)

extern NA_HIDDEN struct size_class_info na_size_classes[NUM_SMALL_CLASSES + 1];
extern NA_HIDDEN uint8_t na_size_class_lut[CLASS_LUT_MAX / CLASS_STEP + 1];

/*
 * Which block of a slab an offset from the slab's start is, without a
 * division, so that free can reject an interior pointer on its fast path.
 * With size = odd << shift and odd * odd_inverse == 1 (mod 2^64),
 * rotr(offset * odd_inverse, shift) is offset / size when size divides the
 * offset, and otherwise at least 2^(64 - shift) / odd (a low bit rotated to
 * the top, or a product that is no small multiple): far above any block
 * count. So "index < blocks" alone says "the start of one of the slab's
 * blocks". Indexed by a page tag's class byte: entries past the small
 * classes have blocks == 0, so a corrupted tag is rejected too.
 */
struct slab_index_magic {
    uint64_t odd_inverse;
    uint32_t shift;
    uint32_t blocks; /* na_size_classes[cls].slab_blocks; 0: no such class */
};

/* One entry per value of a page tag's class byte (core/layout.h). */
#define SLAB_INDEX_MAGIC_ENTRIES 256
extern NA_HIDDEN struct slab_index_magic na_slab_index_magic[SLAB_INDEX_MAGIC_ENTRIES];

/* The block index of `offset` in a slab of class `cls`; >= blocks when it is no block's start. */
static inline uint64_t slab_block_index(unsigned cls, uint64_t offset)
{
    const struct slab_index_magic *m = &na_slab_index_magic[cls & 0xffu];
    uint64_t x = offset * m->odd_inverse;
    return x >> m->shift | x << (-m->shift & 63u);
}

void size_classes_init(void);

/* Class of the 8-per-doubling scheme for size > 128 (index may exceed the small range). */
static inline unsigned size_class_by_log(size_t size)
{
    size_t x = size - 1;
    unsigned k = 63u - (unsigned)__builtin_clzl(x); /* 2^k < size <= 2^(k+1) */
    unsigned j = (unsigned)(x >> (k - 3)) & 7u;
    return 9u + (k - 7u) * 8u + j;
}

/* Size of class index `cls` of the 8-per-doubling scheme (cls >= 9). */
static inline size_t size_of_log_class(unsigned cls)
{
    unsigned k = (cls - 9u) / 8u + 7u, j = (cls - 9u) % 8u;
    return ((size_t)1 << k) + (size_t)(j + 1) * ((size_t)1 << (k - 3));
}

/* Small class for size <= SMALL_MAX; size 0 maps to the smallest class. */
static inline unsigned size_class_of(size_t size)
{
    if (__builtin_expect(size <= CLASS_LUT_MAX, 1))
        return na_size_class_lut[(size + CLASS_STEP - 1) >> CLASS_STEP_SHIFT];
    return size_class_by_log(size);
}

/* Bytes a large request (SMALL_MAX < size <= LARGE_MAX) occupies: class-rounded, whole pages. */
static inline size_t large_size_of(size_t size)
{
    size_t rounded = size_of_log_class(size_class_by_log(size));
    return os_page_round_up(rounded);
}

#endif
