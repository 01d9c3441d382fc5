/* size_class.c - the class tables; see size_class.h. */
#include "core/size_class.h"

#include "base/os.h"

struct size_class_info na_size_classes[NUM_SMALL_CLASSES + 1];
uint8_t na_size_class_lut[CLASS_LUT_MAX / 16 + 1];
struct slab_index_magic na_slab_index_magic[256];

/* odd^-1 mod 2^64 by Newton's iteration: each step doubles the correct low bits (3 to start). */
static uint64_t odd_inverse(uint64_t odd)
{
    uint64_t inverse = odd;
    for (int step = 0; step < 5; step++)
        inverse *= 2 - odd * inverse;
    return inverse;
}

/*
 * Pages per slab: at least SLAB_MIN_PAGES and 8 blocks, with at most 1/32
 * left over at the end. Slabs are carved lazily, so a large slab costs no
 * memory until its blocks are used; what it buys is that the blocks a thread
 * allocates of one class lie in consecutive pages (a walk in allocation
 * order is a stream the prefetchers follow across page boundaries) and that
 * slabs are created and destroyed 16 times less often.
 */
#define SLAB_MIN_PAGES 16

static uint32_t choose_slab_pages(uint32_t size)
{
    uint32_t first = (uint32_t)((8u * (uint64_t)size + OS_PAGE_SIZE - 1) / OS_PAGE_SIZE);
    if (first < SLAB_MIN_PAGES)
        first = SLAB_MIN_PAGES;
    uint32_t best = first, pages = first;
    uint64_t best_waste = 1, best_bytes = 0; /* an infinite fraction to start */
    for (; pages <= 64; pages++) {
        uint64_t bytes = (uint64_t)pages * OS_PAGE_SIZE, waste = bytes % size;
        if (waste * 32 <= bytes)
            return pages;
        if (waste * best_bytes < best_waste * bytes) { /* smaller waste fraction */
            best_waste = waste;
            best_bytes = bytes;
            best = pages;
        }
    }
    return best;
}

void size_classes_init(void)
{
    for (unsigned cls = 1; cls <= NUM_SMALL_CLASSES; cls++) {
        uint32_t size = cls <= 8 ? cls * 16 : (uint32_t)size_of_log_class(cls);
        struct size_class_info *info = &na_size_classes[cls];
        info->size = size;
        info->slab_pages = choose_slab_pages(size);
        info->slab_blocks = (uint32_t)(info->slab_pages * OS_PAGE_SIZE / size);
        uint32_t cache_max = 32768u / size;
        info->cache_max = cache_max < 4 ? 4 : cache_max > 128 ? 128 : cache_max;
        struct slab_index_magic *magic = &na_slab_index_magic[cls];
        magic->shift = (uint32_t)__builtin_ctz(size);
        magic->odd_inverse = odd_inverse(size >> magic->shift);
        magic->blocks = info->slab_blocks;
    }
    unsigned cls = 1;
    for (size_t i = 0; i <= CLASS_LUT_MAX / 16; i++) {
        size_t size = i * 16;
        while (na_size_classes[cls].size < size)
            cls++;
        na_size_class_lut[i] = (uint8_t)cls;
    }
}
