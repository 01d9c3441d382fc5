/*
 * layout.h - how the address space is laid out, so that the owner of any
 * pointer is found from its address alone.
 *
 *   na_region.base                    one reservation, PROT_NONE until committed
 *   |-- slot 0 (node A) --|-- slot 1 (node B) --| ...   each 2^slot_shift bytes
 *   slot: [node_heap][segment][segment]...              bound to its node (mbind)
 *
 * Invariants:
 *  - ptr is in the region  <=>  ptr - na_region.base < na_region.size. The only
 *    blocks outside it are those aligned to a segment or more (their start
 *    would be a segment boundary, read as a header), and huge objects grown
 *    out of it, each in a mapping of its own: see aligned_huge.h. No such
 *    mapping lies in [base, base + size), and every slot's reserved part does.
 *  - No block inside the region starts on a segment boundary.
 *  - owning slot  =    (ptr - na_region.base) >> slot_shift; a block never moves.
 *  - segment      =    ptr & ~(SEGMENT_SIZE - 1): a 4 MiB aligned unit whose
 *    header describes its 4 KiB pages. No header precedes small objects.
 *  - A SEG_PAGES segment is cut into spans (runs of pages): slabs of one
 *    small class, large objects, or free runs. A SEG_HUGE segment starts a
 *    run of segments holding one huge object.
 *  - pages[page].tag is PAGE_TAG(class, shard) of the slab covering the page
 *    and 0 for every other page: free() reads it first on its fast path,
 *    then the head beside it (struct page_entry). The shard says which shard of the node heap the
 * slab belongs to, so a free by a thread of another shard can send the block home instead of
 * reusing it (passive false sharing: see thread_cache_free_slow).
 *  - pages[page].head is the first page of the span covering it, for every
 *    page of a slab or large span and for the first and last page of a free
 *    span. A span's descriptor is spans[span_index[first page]]; every other
 *    page's span_index is 0, whose descriptor reads SPAN_NONE. A descriptor
 *    that stops describing a span is cleared and goes on idle_spans.
 */
#ifndef NUMA_ALLOC_LAYOUT_H
#define NUMA_ALLOC_LAYOUT_H

#include "base/compiler.h"

#include "base/bitmap.h"
#include "base/list.h"
#include "base/os.h"
#include "core/size_class.h"
#include "policy/topology.h"

#include <stddef.h>
#include <stdint.h>

#define SEGMENT_SHIFT     22
#define SEGMENT_SIZE      ((size_t)1 << SEGMENT_SHIFT)
#define SEGMENT_MASK      (SEGMENT_SIZE - 1)
#define PAGES_PER_SEGMENT (SEGMENT_SIZE >> OS_PAGE_SHIFT)

enum span_state { SPAN_NONE = 0, SPAN_FREE, SPAN_SLAB, SPAN_LARGE };
enum segment_kind { SEG_PAGES = 1, SEG_HUGE, SEG_FREE_RUN };

#define SEGMENT_MAGIC 0x4e554d41u /* "NUMA" */

/* What free() reads first of a page: see the invariants at the top. */
struct page_entry {
    union {
        uint16_t tag; /* PAGE_TAG(class, shard) of the slab covering the page, or 0 */
        struct {      /* its two bytes, as free's fast path reads them (no shifts) */
            uint8_t cls;
            uint8_t shard;
        };
    };
    uint16_t head; /* first page of the span covering it (slabs, large spans, free runs' ends) */
};

/* A run of pages inside a SEG_PAGES segment; lives in the segment header. */
struct span {
    struct list_node
        link;          /* SLAB: its class_slabs' partial list (in_partial); FREE: a free-run list */
    uint64_t freed_ms; /* FREE: when it became free (purge decay) */
    uint16_t npages;
    uint16_t first; /* its first page: the page whose span_index names this descriptor */
    uint32_t used;  /* SLAB: blocks out in thread caches or in use */
    union {
        uint32_t map_hint; /* SLAB: no free bit in the slab's free_map words before this one */
        uint32_t sample;   /* LARGE: its profile sample's id (core/prof.h), 0 if none */
        uint32_t
            next_idle; /* idle (on segment.idle_spans): the next idle descriptor, 0 at the end */
    };
    uint8_t state; /* enum span_state */
    uint8_t cls;   /* SLAB: small class */
    union {
        uint8_t dirty; /* FREE: pages may be resident and non-zero */
        uint8_t shard; /* SLAB: the node heap's shard whose class_slabs it belongs to */
    };
    union {
        uint8_t in_partial; /* SLAB: on its class_slabs' partial list */
        /*
         * FREE: the run holds an emptied slab's pages, so it waits
         * na_options.purge_delay_ms even while the heap is young
         * (core/purge.c): a slab that empties is refilled soon in a program
         * that frees across threads or through a pool, and purged at once
         * it was refaulted. 0 on every clean run (purged: lost). Pieces
         * split off a run keep its mark; a span allocated from it starts
         * at 0. Merging (page_runs.c, release_run): the run is marked if a
         * dirty part was, so a slab emptied beside a dirty run keeps the
         * whole resident for the delay (such a run is rare while young: it
         * was purged on its own free's slow path). Pages freed young beside
         * a marked run are purged before they merge, as alone they would
         * be: otherwise a start-up buffer freed between emptied slabs (what
         * the young window is for) stayed resident, and a merged run
         * unmarked instead purged the slabs with it.
         */
        uint8_t emptied;
    };
    union {
        struct list_node lru; /* FREE and dirty: node_heap.dirty_runs, oldest first */
        /*
         * SLAB: where its free-block bitmap lies, in bytes from the segment:
         * in segment.map_pool or at its head page's words of free_map
         * (core/slab_map.c, slab_map_place). Free runs never need it, slabs
         * never the list. Beside `used`, `map_hint` and `in_partial`: a
         * flush reads all four for each block.
         */
        uint32_t map_at;
    };
};

/* Bitmap words per page: enough for the smallest class (16 B: 256 blocks a page). */
#define MAP_WORDS_PER_PAGE (OS_PAGE_SIZE / CLASS_STEP / BITMAP_WORD_BITS)
/*
 * segment.map_pool: bitmap words for the slabs whose bitmap is at most
 * MAP_POOL_SLAB_WORDS words (classes of 64 B and up), handed out first fit.
 * Sized for every such class's slab once (about 200 words).
 */
#define MAP_POOL_WORDS      256
#define MAP_POOL_SLAB_WORDS 16
_Static_assert(MAP_POOL_WORDS % 64 == 0 && MAP_POOL_SLAB_WORDS < 64,
               "a slab's pool words lie in one 64-word group (core/slab_map.c, slab_map_place)");
/* Bitmap words on one cache line of the pool: the unit a shard owns (segment.map_line_shard). */
#define MAP_LINE_WORDS (NA_CACHE_LINE / 8)
_Static_assert(MAP_LINE_WORDS == 8,
               "core/slab_map.c, slab_map_place: a line's words are a byte of the map");
/* No slab starts before this page (a header page): free_map has no words for those below. */
#define MAP_FIRST_PAGE 16

/*
 * Segment header. For SEG_FREE_RUN (a run of free segments in the slot's
 * address-ordered free list) only the fields up to `run_link` are used, and
 * purging never releases the header's page.
 */
struct segment {
    uint32_t magic;
    uint8_t kind;  /* enum segment_kind */
    uint8_t dirty; /* SEG_FREE_RUN: pages beyond the header may be non-zero */
    uint16_t slot;
    uint8_t interleaved; /* SEG_HUGE: pages spread over nodes (interleave) */
    /*
     * SEG_PAGES: where free's fast path finds the freeing thread's cache for
     * this slot in thread_state.caches: the slot when below
     * TOPO_DIRECT_SLOTS, else TOPO_DIRECT_SLOTS (the entry that stays NULL:
     * such slots take the slow path). One byte load, no compare.
     */
    uint8_t cache_index;
    /*
     * SEG_FREE_RUN: pages past the run's first may not be writable:
     * PROT_NONE (a SEG_PAGES segment committed in part, a huge object's run
     * past its end) or read-only (decommitted by a purge: purge_run_pages),
     * so that taking the run makes what it takes writable first, and the
     * header page of the piece it leaves after that (segment.c). Page 0 of
     * every run, and of each segment of a run in use, is writable
     * (invariant 12).
     */
    uint8_t uncommitted;
    uint32_t huge_sample;      /* SEG_HUGE: its profile sample's id (core/prof.h), 0 if none */
    size_t nsegments;          /* length of the run this segment starts */
    uint64_t freed_ms;         /* SEG_FREE_RUN: purge decay */
    struct list_node run_link; /* SEG_FREE_RUN: node_heap.free_segments */
    void *huge_ptr;            /* SEG_HUGE: the object */
    size_t huge_size;          /* SEG_HUGE: its usable size */
    size_t huge_committed;     /* SEG_HUGE: bytes writable from here, to its end at least */
    /*
     * A page's tag and head side by side, so that free's fast path finds both
     * on one cache line (it reads the tag, then the head for is_block_start).
     * The map spans the header's first two pages (SEGMENT_MAP_END), which is
     * why a huge object starts no sooner than that (huge.c, huge_offset).
     */
    struct page_entry pages[PAGES_PER_SEGMENT];
    /*
     * Which descriptor of spans[] describes the span that starts at a page:
     * 0 for every page that starts none. Descriptors are handed out lowest
     * first (spans_touched, then idle_spans' reuse), so the few a young heap
     * needs lie on one or two pages of the header. Indexed by page, as they
     * were, a segment's 47 slabs of Python's start-up, each 16 pages or more
     * apart, wrote 56 bytes on each of the 14 pages of descriptors.
     * spans[0] describes nothing: its state stays SPAN_NONE.
     */
    uint16_t span_index[PAGES_PER_SEGMENT];
    uint16_t spans_touched; /* descriptors ever handed out, spans[0] included (0: none yet) */
    uint16_t idle_spans;    /* a descriptor handed back, linked through next_idle; 0: none */
    /*
     * Pages [0, committed_pages) are writable, the rest PROT_NONE: a span
     * handed out lies below it (invariant 12), and it only grows, to cover
     * the span or to double (segment_commit_through). PAGES_PER_SEGMENT for
     * a segment committed whole (node_heap.h, PARTIAL_COMMIT_SPAN).
     */
    uint16_t committed_pages;
    /*
     * Which blocks of each slab are free in it (neither in use nor in a
     * thread cache): bit k of the words at the slab's span.map_at on is
     * block k. A refill takes the lowest free blocks first, so blocks are
     * reused in address order, whatever order they were freed in; a bit
     * already set on a free is a double free. A slab of a class of 64 B or
     * more takes its words from map_pool while it has room (bit w of
     * map_pool_used: word w is a live slab's), every other slab those of
     * its head page p in free_map, from (p - MAP_FIRST_PAGE) *
     * MAP_WORDS_PER_PAGE on: always there, as no other slab starts in its
     * pages. free_map's words are dense for the smallest classes only (a
     * 16 B slab uses all of its pages' words, a 1 KiB one 1 in 64), so with
     * slabs 16 pages or more apart a young heap's few words of each class
     * lay on all 8 pages of free_map (Python's start-up: 9 pages resident);
     * the pool keeps them on one, beside the first descriptors. A cache
     * line of the pool holds the bitmaps of one shard's slabs only
     * (map_line_shard: 1 + that shard, 0 while no slab's words are on it):
     * threads of different shards write them under different locks, and
     * sharing a line they would take it from each other's cores at every
     * refill and flush (free_map's words of two slabs are 512 B apart).
     */
    uint64_t map_pool_used[MAP_POOL_WORDS / BITMAP_WORD_BITS];
    uint8_t map_line_shard[MAP_POOL_WORDS / MAP_LINE_WORDS];
    uint64_t map_pool[MAP_POOL_WORDS];
    struct span spans[PAGES_PER_SEGMENT];
    uint64_t free_map[(PAGES_PER_SEGMENT - MAP_FIRST_PAGE) * MAP_WORDS_PER_PAGE];
};

/* A slab page's tag: its small class (1..255) and its node heap shard. */
#define PAGE_TAG_SHARD_SHIFT 8 /* the class in the low byte, the shard above */
#define PAGE_TAG_CLASS_MASK  ((1u << PAGE_TAG_SHARD_SHIFT) - 1)
#define PAGE_TAG(cls, shard)                                                                       \
    ((uint16_t)((unsigned)(cls) | (unsigned)(shard) << PAGE_TAG_SHARD_SHIFT))
_Static_assert(SLAB_INDEX_MAGIC_ENTRIES == PAGE_TAG_CLASS_MASK + 1, "a magic per class byte");
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "page_entry.cls is the tag's low byte");

static inline unsigned tag_class(unsigned tag)
{
    return tag & PAGE_TAG_CLASS_MASK;
}

static inline unsigned tag_shard(unsigned tag)
{
    return tag >> PAGE_TAG_SHARD_SHIFT;
}

/* Where the page map ends: a huge object starts at or after it (huge.c). */
#define SEGMENT_MAP_END                                                                            \
    ((offsetof(struct segment, pages) + sizeof(struct page_entry) * PAGES_PER_SEGMENT +            \
      OS_PAGE_MASK) &                                                                              \
     ~(size_t)OS_PAGE_MASK)

#define SEGMENT_HEADER_PAGES ((sizeof(struct segment) + OS_PAGE_MASK) >> OS_PAGE_SHIFT)
#define SEGMENT_USABLE_PAGES (PAGES_PER_SEGMENT - SEGMENT_HEADER_PAGES)
_Static_assert(SEGMENT_HEADER_PAGES >= MAP_FIRST_PAGE, "free_map has words for every slab head");

/*
 * Process-wide layout, written once at initialisation; but for size, which a
 * limit on the address space lowered after the start shrinks to where the
 * last slot's heap ends, and which then grows with that heap (alloc.c,
 * give_back_region).
 */
struct region {
    uintptr_t base;
    size_t size; /* 0 until initialised: every pointer is then foreign */
    unsigned slot_shift;
    unsigned num_slots;
};

extern NA_HIDDEN struct region na_region;

static inline int region_contains(const void *p)
{
    /*
     * A plain read, though size may change (struct region): a relaxed atomic
     * load cost free's fast path 3 instructions (tools/fastpath.sh). A shrink
     * cuts off only address space no block lies in, and a growth is stored
     * before any block beyond the old end is handed out: a thread that is
     * handed such a block sees it.
     */
    return (uintptr_t)p - na_region.base < na_region.size;
}

static inline unsigned slot_of_ptr(const void *p)
{
    return (unsigned)(((uintptr_t)p - na_region.base) >> na_region.slot_shift);
}

static inline uintptr_t slot_base(unsigned slot)
{
    return na_region.base + ((uintptr_t)slot << na_region.slot_shift);
}

static inline struct segment *segment_of(const void *p)
{
    return (struct segment *)((uintptr_t)p & ~(uintptr_t)SEGMENT_MASK);
}

static inline unsigned page_in_segment(const void *p)
{
    return (unsigned)(((uintptr_t)p & SEGMENT_MASK) >> OS_PAGE_SHIFT);
}

/* The descriptor of the span that starts at `page`; spans[0] (SPAN_NONE) if none starts there. */
static inline struct span *span_at(struct segment *seg, unsigned page)
{
    return &seg->spans[seg->span_index[page]];
}

static inline char *span_start(struct segment *seg, const struct span *span)
{
    return (char *)seg + ((size_t)span->first << OS_PAGE_SHIFT);
}

static inline struct span *span_of_ptr(struct segment *seg, const void *p)
{
    return span_at(seg, seg->pages[page_in_segment(p)].head);
}

/* p's page entry: its tag, then (is_block_start) its head, from one cache line. */
static inline const struct page_entry *page_entry_at(const struct segment *seg, const void *p)
{
    return &seg->pages[page_in_segment(p)];
}

/*
 * Is p, on a slab page whose entry is `page` (page_entry_at; its tag is a
 * class's, not 0), the start of one of its slab's blocks (not inside one,
 * not in the slab's unused tail)? The slab starts at its head page
 * (invariant above); no division (slab_block_index).
 */
static inline int is_block_start(const struct segment *seg, const void *p,
                                 const struct page_entry *page)
{
    unsigned cls = page->cls;
    uintptr_t slab = (uintptr_t)seg + ((uintptr_t)page->head << OS_PAGE_SHIFT);
    return slab_block_index(cls, (uintptr_t)p - slab) < na_slab_index_magic[cls].blocks;
}

#endif
