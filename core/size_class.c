/* size_class.c - the class tables; see size_class.h. */
#include "core/size_class.h"

#include "base/os.h"

struct size_class_info na_size_classes[NUM_SMALL_CLASSES + 1] NA_HOT_BSS;
uint16_t na_cache_young[NUM_SMALL_CLASSES + 1] NA_HOT_BSS;
uint8_t na_size_class_lut[CLASS_LUT_MAX / CLASS_STEP + 1] NA_HOT_BSS;
struct slab_index_magic na_slab_index_magic[SLAB_INDEX_MAGIC_ENTRIES] NA_HOT_HEAD_BSS;

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
#define SLAB_MIN_PAGES     16
#define SLAB_MAX_PAGES     64 /* where the search for a better fit stops */
#define SLAB_MIN_BLOCKS    8
#define SLAB_WASTE_DIVISOR 32 /* leftover at most 1/32 of the slab */

/* A thread cache's bound per class: CACHE_BYTES of blocks, within these. */
#define CACHE_BYTES      32768u
#define CACHE_BLOCKS_MIN 4u
#define CACHE_BLOCKS_MAX 128u
/* A bin's refill is at most cache_max / 2 blocks: 0 would fail every malloc of the class. */
_Static_assert(CACHE_BLOCKS_MIN >= 2, "a bin's refill must bring at least one block");
/* A young bin's bound (struct cache_bin): CACHE_YOUNG_BYTES, CACHE_BLOCKS_MIN..cache_max. */
#define CACHE_YOUNG_BYTES 8192u
/*
 * How far a bin of a thread that frees in batches may grow (struct
 * cache_bin): CACHE_GROWN_BYTES of blocks, at most CACHE_GROWN_BLOCKS
 * (cache_bin.max is 16 bits). 2048 blocks hold a batch of 1600 small
 * blocks (16 to 64 bytes) with room for the refills' rounding.
 */
#define CACHE_GROWN_BYTES  (128u << 10)
#define CACHE_GROWN_BLOCKS 2048u

static uint32_t choose_slab_pages(uint32_t size)
{
    uint32_t first = (uint32_t)((SLAB_MIN_BLOCKS * (uint64_t)size + OS_PAGE_MASK) / OS_PAGE_SIZE);
    if (first < SLAB_MIN_PAGES)
        first = SLAB_MIN_PAGES;
    uint32_t best = first, pages = first;
    uint64_t best_waste = 1, best_bytes = 0; /* an infinite fraction to start */
    for (; pages <= SLAB_MAX_PAGES; pages++) {
        uint64_t bytes = (uint64_t)pages * OS_PAGE_SIZE, waste = bytes % size;
        if (waste * SLAB_WASTE_DIVISOR <= bytes)
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
        uint32_t size = cls <= 8 ? cls * CLASS_STEP : (uint32_t)size_of_log_class(cls);
        struct size_class_info *info = &na_size_classes[cls];
        info->size = size;
        info->slab_pages = choose_slab_pages(size);
        info->slab_blocks = (uint32_t)(info->slab_pages * OS_PAGE_SIZE / size);
        uint32_t cache_max = CACHE_BYTES / size;
        cache_max = cache_max < CACHE_BLOCKS_MIN   ? CACHE_BLOCKS_MIN
                    : cache_max > CACHE_BLOCKS_MAX ? CACHE_BLOCKS_MAX
                                                   : cache_max;
        uint32_t grown = CACHE_GROWN_BYTES / size;
        grown = grown > CACHE_GROWN_BLOCKS ? CACHE_GROWN_BLOCKS : grown;
        info->cache_max = (uint16_t)cache_max;
        uint32_t young = CACHE_YOUNG_BYTES / size;
        young = young < CACHE_BLOCKS_MIN ? CACHE_BLOCKS_MIN : young;
        na_cache_young[cls] = (uint16_t)(young < cache_max ? young : cache_max);
        info->cache_grown = (uint16_t)(grown > cache_max ? grown : cache_max);
        struct slab_index_magic *magic = &na_slab_index_magic[cls];
        magic->shift = (uint32_t)__builtin_ctz(size);
        magic->odd_inverse = odd_inverse(size >> magic->shift);
        magic->blocks = info->slab_blocks;
    }
    unsigned cls = 1;
    for (size_t i = 0; i <= CLASS_LUT_MAX / CLASS_STEP; i++) {
        size_t size = i * CLASS_STEP;
        while (na_size_classes[cls].size < size)
            cls++;
        na_size_class_lut[i] = (uint8_t)cls;
    }
}
