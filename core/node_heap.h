/*
 * node_heap.h - the heap of one NUMA node (one slot).
 *
 * A node heap lives at the start of its slot, so its metadata sits on its
 * node too. It hands out
 *   - small blocks, in batches, to thread caches (each class's slabs),
 *   - large objects (runs of pages inside segments),
 *   - huge objects (runs of whole segments),
 * all carved from the slot's address space and therefore from its node.
 *
 * Locks: each class_slabs has its own; `pages_lock` guards page runs,
 * segments and purging. Order: class_slabs lock, then pages_lock. Thread caches never lock.
 *
 * Invariants: every block, span and segment reachable from a node heap lies
 * in that heap's slot. Nothing moves between heaps.
 */
#ifndef NUMA_ALLOC_NODE_HEAP_H
#define NUMA_ALLOC_NODE_HEAP_H

#include "base/bitmap.h"
#include "base/compiler.h"
#include "base/lock.h"
#include "core/layout.h"
#include "core/size_class.h"
#include "core/young_arena.h"
#include "policy/node_memory.h"
#include "policy/topology.h"

#include <stdbool.h>
#include <stddef.h>

/*
 * The head of a batch of remote frees: one away list handed back in one CAS
 * (heap_hand_back), later a batch's rest. A refill takes a whole batch
 * without walking it: its blocks were last written by the freeing thread's
 * core, and a walk down them was a chain of cache misses, one per block (in
 * shared-pool-2t, 15-30% of the time in perf); taken whole, each block's
 * line comes over when malloc hands it out (cache_bin_pop_head prefetches
 * the next), beside the program's own work. The first two words are those
 * of any free block; the other two fit in blocks of 32 B and up
 * (class_has_batches); the 16-byte class's refill walks its chain.
 */
struct parked_batch {
    void *next;      /* the link, as in any chain of free blocks */
    uintptr_t key;   /* na_free_block_key */
    void *last;      /* the batch's last block, whose link leads to the next batch */
    uintptr_t count; /* the batch's blocks, >= 1 */
};

static inline bool class_has_batches(unsigned cls)
{
    return na_size_classes[cls].size >= sizeof(struct parked_batch);
}

/*
 * One small class of one node: slabs with free blocks, one spare empty slab,
 * and blocks of these slabs that threads of other shards freed.
 *
 * Those blocks (remote frees) come back without the lock: a thread pushes
 * its away list (struct away_list) onto `handed` in one CAS, a whole chain
 * at a time (heap_hand_back). A refill of this shard takes `handed` whole
 * under the lock into `parked` and hands parked blocks out before any slab's:
 * a remote free costs the freeing thread no lock and no bitmap update, and
 * the block is reused by the shard that allocated it (its cache lines stay
 * that shard's). Invariants:
 *   - every block on `handed` and `parked` is the start of a block of class
 *     cls of a slab of this class_slabs (its page tag names this shard), is
 *     counted in its slab's `used`, has its bit clear in the slab's bitmap,
 *     and carries na_free_block_key in its second word, like a bin's;
 *   - `handed` only grows without the lock (pushes); it is emptied (an
 *     exchange) only under the lock, so a walk of it under the lock is safe:
 *     its nodes cannot leave meanwhile, and no pop means no ABA;
 *   - `parked` is read and written under the lock only; a refill of another
 *     shard may take parked blocks (take_from_other_shards), under this lock;
 *   - `parked_count` is the blocks on both lists, added after a push and
 *     taken off under the lock, so it can lag a push but is never below
 *     what the lock's holder can see. Past class_parked_max it is drained
 *     into the bitmap (empty slabs go back): a shard that stops allocating
 *     a class cannot pin more than that many of its blocks;
 *   - both lists are sequences of batches (struct parked_batch) in classes
 *     where class_has_batches: each batch's head names its last block and
 *     its length, and the batch's last link is the next batch's head.
 */
struct class_slabs {
    na_lock_t lock;
    struct list partial;   /* slabs with free blocks (span.link), most recently used first */
    struct span *spare;    /* an empty slab kept to avoid slab churn */
    void *handed;          /* remote frees, pushed a chain per CAS (atomic) */
    void *parked;          /* remote frees taken from handed, next out (under lock) */
    uint32_t parked_count; /* blocks on handed and parked (atomic) */
    uint32_t slabs;        /* slabs of this class and shard: partial, full and the spare */
} __attribute__((aligned(NA_CACHE_LINE)));

/*
 * Besides purging by age (purge.c), a heap whose dirty memory passes
 * DIRTY_LIMIT_MIN + its active memory purges at once, oldest first, down to
 * 3/4 of that: a burst cannot pile up more free than used memory, yet a
 * steady free/allocate cycle of big buffers keeps reusing resident pages
 * instead of refaulting them.
 */
#define DIRTY_LIMIT_MIN ((size_t)64 << 20)

/*
 * A young heap purges free runs at once (purge.c): in the first PURGE_YOUNG_MS
 * after the library started, until PURGE_YOUNG_BYTES of page runs and huge
 * objects were freed in it or one block larger than PURGE_YOUNG_BLOCK_MAX
 * was, unless NUMA_ALLOC_PURGE_DELAY_MS is set. Emptied slabs are not
 * counted and wait the delay (layout.h, struct span, emptied).
 */
#define PURGE_YOUNG_MS        1000u
#define PURGE_YOUNG_BYTES     ((size_t)2 << 20)
#define PURGE_YOUNG_BLOCK_MAX ((size_t)256 << 10)

#define HEAP_SHARDS 32 /* power of two; at most 256 (the page tag keeps it in 8 bits) */

#define FREE_RUN_EXACT_SHIFT 6
#define FREE_RUN_EXACT_LISTS                                                                       \
    (1u << FREE_RUN_EXACT_SHIFT)                  /* runs of 1..64 pages, one list per length */
#define FREE_RUN_LISTS (FREE_RUN_EXACT_LISTS + 5) /* then one per doubling up to 1024 */

/* The free-run list of a run of npages: exact up to FREE_RUN_EXACT_LISTS, then one per doubling. */
static inline unsigned free_run_list_of(size_t npages)
{
    if (npages <= FREE_RUN_EXACT_LISTS)
        return (unsigned)npages - 1;
    unsigned log = BITMAP_WORD_BITS - 1u - (unsigned)__builtin_clzl(npages);
    return FREE_RUN_EXACT_LISTS + log - FREE_RUN_EXACT_SHIFT;
}

/*
 * Places a new slab's bitmap of `words` words (span.map_at), and gives a
 * destroyed slab's words back (core/slab_map.c). Under the heap's pages_lock.
 */
void slab_map_place(struct segment *seg, struct span *slab, unsigned shard, unsigned words);
void slab_map_release(struct segment *seg, const struct span *slab, unsigned words);

/* A slab's free-block bitmap (segment.free_map, span.map_at): bit k of these words is block k. */
static inline uint64_t *slab_map(struct segment *seg, const struct span *slab)
{
    return (uint64_t *)((char *)seg + slab->map_at);
}

/*
 * What a slot the program never uses costs: a node heap is set up in fresh
 * (zero) memory, and only its first part, everything before class_slabs
 * (NODE_HEAP_FRONT: under a page), is committed and written then
 * (node_heap_init). class_slabs (some 150 KiB) is committed on the heap's
 * first refill (heap_refill sets slabs_used), so until then it is PROT_NONE:
 * no memory, and no commit charge under vm.overcommit_memory=2. Whatever
 * walks class_slabs of every heap (fork, malloc_trim, the heap check) skips
 * a heap without slabs_used.
 */
struct node_heap {
    int node;
    unsigned slot;
    /* Segments: bump allocation, then an address-ordered list of free runs (free_segments). */
    uintptr_t seg_next, seg_end;
    /*
     * The slot's reserved part, [slot base, seg_mapped): all of it (seg_end)
     * unless the region was laid out under an address-space limit
     * (core/alloc.c, reserve_region) or given back under one set later
     * (give_back_region), where bump reserves more as seg_next needs it.
     * seg_next <= seg_mapped <= seg_end; grows under pages_lock, shrinks only
     * in give_back_region (under pages_lock and heap_setup_lock); read
     * without pages_lock (release/acquire) by whatever sets the policy of
     * the whole slot again, under heap_setup_lock.
     */
    uintptr_t seg_mapped;
    uint64_t next_purge_ms; /* earliest time a decay purge is due */
    /* 1 (release) once class_slabs is committed, before any of its locks is first taken. */
    uint8_t slabs_used;

    na_lock_t pages_lock;
    /* Free page runs inside SEG_PAGES segments, listed by length (free_run_list_of). */
    struct list free_runs[FREE_RUN_LISTS]; /* span.link, most recently freed first */
    uint64_t free_run_bitmap[BITMAP_WORDS(FREE_RUN_LISTS)]; /* bit i: free_runs[i] not empty */
    /* Dirty free page runs (span.lru), oldest first; dirty segment runs are on free_segments. */
    struct list dirty_runs;
    size_t dirty_bytes;        /* free but possibly resident: page runs and segment runs */
    size_t active_bytes;       /* spans and huge objects in use */
    size_t peak_active_bytes;  /* the most active_bytes ever was */
    size_t purged_bytes;       /* given back to the OS so far */
    size_t young_freed;        /* bytes freed while young (purge.c), up to PURGE_YOUNG_BYTES;
                                  set to it once the young window is found closed */
    size_t huge_count;         /* live huge objects */
    size_t huge_bytes;         /* their usable bytes */
    size_t grow_out_floor;     /* a growth to this size or less is copied, not moved out */
    struct list free_segments; /* free segment runs (segment.run_link), by address */
    size_t uncommitted_runs;   /* of them, those marked uncommitted (segment.c, run_make) */
    /* Whether the node can still supply untouched pages (exhaustion). */
    struct node_memory memory;
    /* A young program's mid-size blocks (core/young_arena.h); zero: none yet. */
    struct young_slot young;
    uint64_t fallbacks_out; /* requests for this node served elsewhere (atomic) */
    uint64_t fallbacks_in;  /* requests for other nodes served here (atomic) */
    /*
     * Bit s of parked_shards[cls]: class_slabs[s][cls] may hold parked remote
     * frees. A hint for take_from_other_shards, which so reads the class_slabs
     * of those shards only, not of all 31 others: on a kernel that gives a
     * read fault a page of its own (no zero page), those reads made every
     * shard's class_slabs resident, 144 KiB of a lone thread's heap
     * (`python3 -c pass`). Set after parked_count grows (heap_hand_back);
     * cleared only by take_from_other_shards on finding parked_count 0, which
     * then reads the count again and sets the bit back if blocks came
     * meanwhile: all four accesses sequentially consistent, so a shard with
     * parked blocks never loses its bit. A stale bit costs one read.
     */
    uint32_t parked_shards[NUM_SMALL_CLASSES + 1];
    /*
     * Small-object slabs, in shards: each thread refills from its own shard
     * (na_thread_state.shard), so threads on one node mostly get blocks from
     * different slabs: no cache lines shared between their objects (false
     * sharing) and no lock shared between their refills. Last: see above.
     */
    struct class_slabs class_slabs[HEAP_SHARDS][NUM_SMALL_CLASSES + 1];
};

_Static_assert(HEAP_SHARDS <= 32, "parked_shards has a bit per shard");

/* Bytes of a node heap committed at start-up: all before class_slabs. */
#define NODE_HEAP_FRONT offsetof(struct node_heap, class_slabs)

/* Has the heap's class_slabs been used (so committed, and its locks maybe taken)? */
static inline bool heap_slabs_used(const struct node_heap *heap)
{
    return __atomic_load_n(&heap->slabs_used, __ATOMIC_ACQUIRE);
}

/* Called with pages_lock held after active_bytes grew. */
static inline void heap_note_peak(struct node_heap *heap)
{
    NA_ASSERT_HELD(&heap->pages_lock);
    if (heap->active_bytes > heap->peak_active_bytes)
        heap->peak_active_bytes = heap->active_bytes;
}

/*
 * Heap of `slot`, in the slot's first segment, one page in: that segment's
 * page 0 is never written, so its page_tag words read 0 and its magic is
 * not SEGMENT_MAGIC, which makes a stray free() into it fail cleanly.
 */
static inline struct node_heap *node_heap_of(unsigned slot)
{
    return (struct node_heap *)(slot_base(slot) + OS_PAGE_SIZE);
}

/*
 * A slot's heap is set up on its first use (heap_ready): until then the slot
 * costs nothing but address space, not even its heap's first page, which
 * is PROT_NONE. Whatever reads or walks heaps (statistics, fork, trim,
 * rebinding, the heap check, the owner of a pointer) skips a slot whose
 * heap is not ready; the fast paths never meet one, as a thread cache of
 * a slot exists only once the slot was used. na_heap_ready: alloc.c.
 */
extern NA_HIDDEN uint8_t na_heap_ready[TOPO_MAX_SLOTS];

static inline bool heap_is_ready(unsigned slot)
{
    return __atomic_load_n(&na_heap_ready[slot], __ATOMIC_ACQUIRE);
}

/* The heap of `slot`, set up first if need be; NULL (errno ENOMEM) if the commit was refused. */
struct node_heap *heap_ready(unsigned slot);

/* How many heaps are set up (the counter heaps.ready). */
unsigned heaps_ready_count(void);

/*
 * slot_end: where the slot's reserved space ends (the last slot may be cut
 * short). `heap` must be fresh memory, all zero: what is zero is not written.
 */
void node_heap_init(struct node_heap *heap, unsigned slot, int node, uintptr_t slot_end);

/* Small blocks. Refill links up to `want` blocks into a list; returns how many. */
unsigned heap_refill(struct node_heap *heap, unsigned shard, unsigned cls, unsigned want,
                     void **list);
/* Gives back a NULL-terminated list of blocks of class cls, all of this heap. */
void heap_flush(struct node_heap *heap, unsigned cls, void *list);
/*
 * Gives back the first `count` (>= 1) blocks of a list and returns the rest,
 * in one walk: the list's blocks are read once (a bin's flush walked them
 * twice, to cut the list and to give it back: a fifth of a batch's time).
 */
void *heap_flush_some(struct node_heap *heap, unsigned cls, void *list, uint32_t count);
/*
 * Hands back a chain first..last of `count` blocks of class cls, all of the
 * slabs of `shard` of this heap, that a thread of another shard freed: one
 * CAS onto the shard's class_slabs' `handed` list, no lock unless the
 * parked blocks pass their bound (then they are drained into the slabs).
 */
void heap_hand_back(struct node_heap *heap, unsigned shard, unsigned cls, void *first, void *last,
                    uint32_t count);
/* Drains every class's parked remote frees of `shard` into their slabs (its last thread left). */
void heap_drain_parked(struct node_heap *heap, unsigned shard);
/* Gives back the spare slab of every class of `shard` (idle for a while: sweep_idle_shards). */
void heap_release_shard_spares(struct node_heap *heap, unsigned shard);
/*
 * Is the block (the start of a block of class cls, of this heap) free in its
 * slab's bitmap, i.e. neither in use nor in any thread cache? Takes its class_slabs lock.
 */
bool heap_block_is_free(struct node_heap *heap, unsigned cls, const void *block);
/*
 * Drains the parked remote frees into their slabs, gives back each spare slab
 * (malloc_trim; a large or huge allocation out of memory). True if a spare slab
 * gave its pages back.
 */
bool heap_release_spares(struct node_heap *heap);

/* Large objects (SMALL_MAX < bytes <= LARGE_MAX, whole pages). */
void *heap_alloc_large(struct node_heap *heap, size_t bytes, size_t alignment, bool *zeroed,
                       bool roomy);
void heap_free_large(struct node_heap *heap, struct segment *seg, struct span *span);
/* Grows (into a free run that follows) or shrinks a large object in place; false to move it. */
bool heap_resize_large(struct node_heap *heap, struct span *span, size_t bytes);

/*
 * Huge objects: runs of segments. `spread` (per-slot page weights, or NULL):
 * the object's pages are spread over those nodes instead (interleave policy).
 * *old_bytes: how many bytes from the object's start may hold old contents
 * (the rest is zero; calloc zeroes only those, huge_zero).
 */
NA_COLD void *heap_alloc_huge(struct node_heap *heap, size_t bytes, size_t alignment,
                              size_t *old_bytes, const uint8_t *spread);
NA_COLD void heap_free_huge(struct node_heap *heap, struct segment *seg);
/*
 * calloc's zeroing of a huge object of node `node` that is not zero already
 * (a reused dirty run), outside any lock: its resident pages are written with
 * zeros (resident anyway, and faster than faulting them again); the others
 * are purged, so they come back as zero pages when touched, as in a fresh
 * mapping, and a sparse calloc stays sparse. memset made every page of the
 * object resident: the fuzzer's address-space probes (a 500 MiB calloc, two
 * bytes touched, over the run of the last probe) reached 1 GB and more
 * (docs/benchmarks.md, round thirteen). Pages swapped out read as absent:
 * purged, their swap is dropped, as zeroing needs.
 */
NA_COLD void huge_zero(int node, void *ptr, size_t size);
/*
 * Grows or shrinks a huge object in place when its run allows; false to move
 * it. A spread object (interleaved) grows only with `spread`, the weights
 * its new pages are spread by (heap_alloc_huge's).
 */
NA_COLD bool heap_resize_huge(struct node_heap *heap, struct segment *seg, size_t bytes,
                              const uint8_t *spread);

/*
 * Page runs (page_runs.c), called with pages_lock held. `roomy`: take the
 * largest free run (room to grow in place) rather than the best fit.
 */
struct span *page_run_alloc(struct node_heap *heap, size_t npages, size_t align_pages, bool roomy);
/*
 * emptied_slab: the pages of a slab that emptied (layout.h, struct span,
 * emptied). now_ms: os_now_ms(), read by the caller, which passes it on to
 * purge_maybe_at.
 */
void page_run_free(struct node_heap *heap, struct span *span, bool emptied_slab, uint64_t now_ms);
/* Pages about to be handed out untouched: may they be? (node_memory_commit) */
bool heap_commit_check(struct node_heap *heap, void *addr, size_t bytes);
/* The same for pages of a dirty run, some of them resident: only the absent ones are checked. */
bool heap_commit_check_dirty(struct node_heap *heap, void *addr, size_t bytes);
/* Whichever of the two a run that is `dirty` (or clean) needs. */
bool heap_commit_check_run(struct node_heap *heap, void *addr, size_t bytes, bool dirty);
size_t page_run_release_segment(struct node_heap *heap, struct span *span);
bool page_run_resize(struct node_heap *heap, struct span *span, size_t npages);
/*
 * The free pages in [lo, hi) of seg outside [first, first + npages), a run
 * being purged (hugepages.c); with `release_clean`, the clean runs' part of
 * them goes back to the OS (MADV_DONTNEED: they read as zero still).
 */
unsigned page_run_free_beside(struct segment *seg, unsigned first, unsigned npages, unsigned lo,
                              unsigned hi, bool release_clean);

/*
 * Segment runs (segment.c), called with pages_lock held. segment_run_alloc
 * sets *dirty_prefix (when not NULL) to how many segments from the run's
 * start may hold old contents (resident pages); the rest is fresh space, zero
 * and untouched. `want`: the bytes from the run's start the caller writes (a
 * huge object's end), or SEGMENT_RUN_PAGES for a pages segment (its header,
 * the rest as spans reach it: segment_commit_through); *committed: the bytes
 * from the start that are writable, `want` at least (invariant 12).
 */
#define SEGMENT_RUN_PAGES ((size_t)0)
struct segment *segment_run_alloc(struct node_heap *heap, size_t nsegments, size_t align,
                                  size_t *dirty_prefix, size_t want, size_t *committed);
/* `uncommitted`: pages past the run's first may not be writable (struct segment). */
void segment_run_free(struct node_heap *heap, struct segment *seg, size_t nsegments, bool dirty,
                      bool uncommitted);
/*
 * The part of a slot, from its start, where pages segments are committed as
 * their spans reach their pages rather than whole (segment.c,
 * commit_length): a young heap's, as HUGEPAGES_AUTO_FROM is.
 */
#define PARTIAL_COMMIT_SPAN ((size_t)64 << 20)
/*
 * Huge objects whose run is writable only in part (huge_committed short of
 * the run's end), process-wide: each adds two mappings (/proc/self/maps),
 * which vm.max_map_count (65530) bounds for the whole process. Past
 * PARTIAL_HUGE_MAX of them at once, runs are committed whole, as all once
 * were. Updated by huge.c (atomically: every heap's objects count).
 */
#define PARTIAL_HUGE_MAX 1024
extern NA_HIDDEN size_t na_partial_huge_runs;
/*
 * Free segment runs marked uncommitted, process-wide (the sum of the heaps'
 * uncommitted_runs): a purge that decommits a run (purge_run_pages) splits
 * its slot's mapping in three, so past UNCOMMITTED_RUNS_MAX of them at once
 * it purges without decommitting, as all purges once did, and the mappings
 * stay bounded under vm.max_map_count.
 */
#define UNCOMMITTED_RUNS_MAX 1024
extern NA_HIDDEN size_t na_uncommitted_runs;
/* Marks free run `run` uncommitted, its pages past the first decommitted (purge.c). */
void segment_run_decommitted(struct node_heap *heap, struct segment *run);
/* Makes pages [0, end) of SEG_PAGES segment seg writable; false if the kernel refused. */
bool segment_commit_through(struct segment *seg, unsigned end);
/*
 * Takes nsegments of the free space starting exactly at `at` (to grow a huge
 * object), its first `commit` bytes writable: -1 if not free (or the kernel
 * refused), else 1 if the pages may be resident, 0 if not.
 */
int segment_run_take_at(struct node_heap *heap, uintptr_t at, size_t nsegments, size_t commit);
/*
 * A slot reserved as its heap grows (an address-space limit: alloc.c):
 * reserves it from seg_mapped up to `to` (<= seg_end), with the policy and
 * the advice setup_slot gives the slot's start; 0, or -1 when the limit or a
 * mapping in the way refuses it.
 */
int heap_reserve_to(struct node_heap *heap, uintptr_t to);
/*
 * Under an address-space limit, a slot's reservation given back from `from`
 * (a segment boundary past the slot's kept start, at most seg_mapped) to its
 * end (core/alloc.c). Pages lock held. heap_give_back_begin: true when it
 * may be now (the region's holes safe, heap_setup_lock taken: tried only,
 * as it nests outside the pages lock); then heap_give_back_end releases it,
 * moves seg_mapped (and the region's end, where it is this slot's) back to
 * `from` and unlocks.
 */
bool heap_give_back_begin(struct node_heap *heap, uintptr_t from);
void heap_give_back_end(struct node_heap *heap, uintptr_t from);
/*
 * The free run that ends at the bump frontier, if any, unlinked and the
 * frontier moved back to its start: the caller gives that space back. True
 * when there was one. Pages lock held.
 */
bool segment_run_drop_trailing(struct node_heap *heap);
/* Gives free run `run` back (segment.c) when it ends at the bump frontier and may go. */
bool segment_run_trim(struct node_heap *heap, struct segment *run);

/* Purging (purge.c). Called with pages_lock held. */
void purge_note_dirty(struct node_heap *heap, struct span *span);
void purge_forget_dirty(struct node_heap *heap, struct span *span);
void purge_maybe(struct node_heap *heap);
/*
 * purge_maybe with the clock the caller read for the same call (os_now_ms), so
 * that a large free reads it once (page_run_free's and this one's).
 */
#define PURGE_CLOCK_UNREAD UINT64_MAX
void purge_maybe_at(struct node_heap *heap, uint64_t now_ms);
/* Starts the young window (PURGE_YOUNG_MS); once, at start-up, after the options. */
void purge_init(void);
/* Counts `bytes` being freed (a page run, a huge object) against the heap's young budget. */
void purge_note_free(struct node_heap *heap, size_t bytes);
/* Purges every dirty run of every heap now (malloc_trim). Takes the locks. */
bool purge_all(void);
/*
 * Purges the pages of the free segment run [run, run + nsegments) past its
 * header page, and decommits them (*decommitted) where it may: outside
 * hugetlb pages, under UNCOMMITTED_RUNS_MAX, the kernel willing; the range
 * gets the slot's policy and advice again. The bytes purged, or -errno (the
 * pages kept, with their contents).
 */
long purge_run_pages(struct node_heap *heap, struct segment *run, size_t nsegments,
                     bool *decommitted);
/*
 * While the heap is young, purges pages of a page run being freed beside an
 * emptied slab's dirty run, before the two merge (layout.h, struct span,
 * emptied); true if it did (the pages are clean).
 */
bool purge_young_pages(struct node_heap *heap, char *start, size_t bytes);

/* A consistent snapshot of one heap's totals, for mallinfo and malloc_stats. */
struct heap_totals {
    size_t committed; /* segment space handed out (invariant 12: some of it not yet writable) */
    size_t active;    /* page runs and huge objects in use (slabs count whole) */
    size_t dirty;     /* free, possibly resident, not yet purged */
    size_t huge_count, huge_bytes;
    size_t peak_active, purged;
};
void heap_totals(struct node_heap *heap, struct heap_totals *out);

#endif
