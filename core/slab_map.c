/*
 * slab_map.c - where a slab's free-block bitmap lies in its segment's header
 * (core/layout.h, struct segment: map_pool, free_map; invariant 13 of
 * docs/architecture.md): a run of the pool's words for a small bitmap, on
 * cache lines of the slab's shard alone, else the words of its head page.
 * Runs once a slab, at its creation and its destruction, so built for size
 * (CMakeLists.txt): its text lies with the malloc family's slow paths
 * (cmake/startup-text.ld), which fill most of one 64 KiB window.
 */
#include "base/bitmap.h"
#include "base/debug.h"
#include "core/node_heap.h"

#include <string.h>

/* 0x80 in each byte of x that is 0, 0 in every other bit. */
static inline uint64_t zero_bytes(uint64_t x)
{
    const uint64_t low7 = 0x7f7f7f7f7f7f7f7full;
    return ~(((x & low7) + low7) | x | low7);
}

/*
 * Where a new slab's bitmap of `words` words goes (span.map_at): the first
 * run of that many free words of the segment's map_pool, within one of its
 * 64-word groups and on lines free or of the slab's shard alone
 * (segment.map_line_shard), for a small bitmap; else its head page's words
 * of free_map, which no other slab can have. A shard looks in its own group
 * first (shard modulo the groups), so that shards seldom wait for each
 * other's lines to empty. Under the heap's pages_lock, as the slab's pages:
 * the pool is the segment's, and the segment the heap's.
 */
void slab_map_place(struct segment *seg, struct span *slab, unsigned shard, unsigned words)
{
    NA_ASSERT(words >= 1 && slab->first >= MAP_FIRST_PAGE && shard < HEAP_SHARDS);
    enum { GROUPS = MAP_POOL_WORDS / BITMAP_WORD_BITS };
    for (unsigned tried = 0; words <= MAP_POOL_SLAB_WORDS && tried < GROUPS; tried++) {
        unsigned group = (shard + tried) % GROUPS;
        /* Line k's owner in byte k, as line k's words are byte k of map_pool_used[group]. */
        uint64_t owners;
        memcpy(&owners, &seg->map_line_shard[group * sizeof owners], sizeof owners);
        uint64_t mine =
            zero_bytes(owners) | zero_bytes(owners ^ 0x0101010101010101ull * (shard + 1));
        /* Bit b: words b to b + have - 1 are free, on lines free or the shard's. */
        uint64_t starts = ~seg->map_pool_used[group] & (mine >> 7) * 0xff;
        for (unsigned have = 1; have < words;) {
            unsigned step = have < words - have ? have : words - have;
            starts &= starts >> step;
            have += step;
        }
        if (starts) {
            unsigned at = (unsigned)__builtin_ctzll(starts);
            seg->map_pool_used[group] |= (((uint64_t)1 << words) - 1) << at;
            at += group * BITMAP_WORD_BITS;
            for (unsigned line = at / MAP_LINE_WORDS; line * MAP_LINE_WORDS < at + words; line++)
                seg->map_line_shard[line] = (uint8_t)(shard + 1);
            slab->map_at = (uint32_t)((char *)&seg->map_pool[at] - (char *)seg);
            return;
        }
    }
    size_t at = (size_t)(slab->first - MAP_FIRST_PAGE) * MAP_WORDS_PER_PAGE;
    slab->map_at = (uint32_t)((char *)&seg->free_map[at] - (char *)seg);
}

/* A slab's bitmap words go back to the pool, if they came from it; lines left empty to no shard. */
void slab_map_release(struct segment *seg, const struct span *slab, unsigned words)
{
    size_t from = slab->map_at - offsetof(struct segment, map_pool);
    if (slab->map_at < offsetof(struct segment, map_pool) || from >= sizeof seg->map_pool)
        return;
    from /= sizeof(uint64_t);
    uint64_t *used = &seg->map_pool_used[from / BITMAP_WORD_BITS];
    uint64_t mask = (((uint64_t)1 << words) - 1) << from % BITMAP_WORD_BITS;
    NA_ASSERT((*used & mask) == mask);
    *used &= ~mask;
    for (size_t line = from / MAP_LINE_WORDS; line * MAP_LINE_WORDS < from + words; line++) {
        NA_ASSERT(seg->map_line_shard[line] == slab->shard + 1);
        if ((*used >> line * MAP_LINE_WORDS % BITMAP_WORD_BITS & 0xff) == 0)
            seg->map_line_shard[line] = 0;
    }
}
