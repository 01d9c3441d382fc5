/*
 * thread_cache.h - per-thread, per-node caches of small blocks.
 *
 * Each thread has, for every node it has touched, a node_cache: one bin
 * (a singly linked list threaded through the free blocks) per small class.
 * A bin only ever holds blocks of its node: malloc takes from the bin of
 * the node it wants, free puts a block into the bin of the node that owns
 * it (from the address), so a remote free can never feed another node.
 *
 * The fast paths touch only the calling thread's own bins: no lock, no
 * atomic instruction. Bins are bounded (cache_max per class, grown for a
 * thread that frees in batches within a per-thread budget: struct
 * cache_bin); past the bound half the bin goes back to the node heap in
 * one locked batch, and blocks idle at the bottom of a bin go back from time
 * to time (struct bin_growth).
 * A free puts blocks of the thread's own shard of the node heap in a bin,
 * and blocks of other shards only in a bin of big blocks of a class the
 * thread allocates (KEEP_ANY_SHARD_MIN); the others wait in an away list
 * and go back in batches (struct away_list). A refill may bring another shard's parked blocks (a
 * new slab is all it had left: take_from_other_shards, core/node_heap.c). When the thread exits,
 * everything goes back and the node caches are freed.
 */
#ifndef NUMA_ALLOC_THREAD_CACHE_H
#define NUMA_ALLOC_THREAD_CACHE_H

#include "base/compiler.h"
#include "base/debug.h"
#include "base/list.h"
#include "core/size_class.h"
#include "policy/topology.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Counters are written by their own thread only, with plain (non-atomic)
 * arithmetic stored through a relaxed atomic store: no read-modify-write
 * instruction, yet a reader in another thread (statistics) sees whole values.
 */
#define COUNT(counter, n) __atomic_store_n(&(counter), (counter) + (n), __ATOMIC_RELAXED)

/*
 * COUNT(*counter, 1) for the fast paths' per-class counters, in one
 * instruction on x86-64: an add to memory (no lock prefix: the counter has one
 * writer) stores the whole aligned word, so readers still see whole values;
 * the compiler sees an opaque update, not a racy C increment. Elsewhere, COUNT.
 */
static inline void count_one(uint64_t *counter)
{
#if defined(__x86_64__)
    __asm__ volatile("addq $1, %0" : "+m"(*counter));
#else
    COUNT(*counter, 1);
#endif
}

/*
 * A bin's bound adapts to how the thread uses its class. It starts young:
 * at na_cache_young[cls] (8 KiB of blocks, 4..cache_max; the class's
 * cache_max for blocks of 64 B and less), and takes the class's cache_max
 * (32 KiB of blocks, 4..128) once the thread has malloc'd and freed
 * CACHE_YOUNG_TRAFFIC (128 KiB) of the class on the node: checked when a
 * free finds the bin full and at each visit of the bins (cache_gc), never
 * on a fast path. A short-lived thread thus holds and fetches little: every
 * (shard, class) of the heap keeps resident the most pages it ever had in
 * use at once, and with 32 KiB bins from the start each thread of
 * numa_bench's short-threads (384 mallocs of 8..2048 B over 40 classes)
 * kept blocks of each class idle in its bins while the next refill touched
 * new ones (footprint_probe short-threads: 1212 -> 980 KiB resident).
 * A young bin's first refill asks what a bin at cache_max would (fill,
 * below: smaller refills cost instructions, 3.5% of short-threads', and
 * kept no fewer pages), and later ones double up to half its bound, as any
 * bin's. A thread that allocates and
 * frees in batches larger than its bound (1600 blocks: each batch of frees was
 * 24 flushes of 64 blocks, each batch of mallocs 24 refills, all under the
 * heap's locks) sends to the node heap blocks it has just fetched from it
 * and will fetch again. So when a free finds the bin full, and the bin was
 * refilled since its last flush and not long before (within 4 * max
 * mallocs and frees: a batch; a bin whose count wanders at random between
 * empty and full, as in a churn of mixed sizes, takes some max^2 / 4 and
 * would gain little), the bin grows instead of flushing:
 * max doubles, up to the class's cache_grown (128 KiB, at most 2048
 * blocks), while the growth of all the thread's bins (thread_state.
 * cache_growth) stays within CACHE_THREAD_GROWTH (256 KiB). A thread short
 * of budget takes it back from its bins idle since the last such scavenge
 * (no malloc or free of their class: nalloc + nfree unchanged), which shrink
 * to cache_max; malloc_trim and the thread's exit shrink every bin. A bin
 * that only takes frees (never refilled: a thread freeing what others made)
 * never grows; past its bound, half of it goes back in one locked batch.
 * None of this is on the fast paths: free compares count with max, as
 * before; a refill notes the time (refill_mark), the free slow path grows
 * and scavenges, malloc_trim and thread exit shrink.
 *
 * A young bin grows by batches too: its doublings up to cache_max are
 * free of the budget (the bound it would have had from the start).
 *
 * Invariants (NA_ASSERT in thread_cache.c, heap_check's own-cache walk):
 * count <= max; na_cache_young[cls] <= max <= cache_grown of its class
 * (below cache_max only while young: shrinking goes back to cache_max, not
 * to young); the thread's cache_growth is the sum over all its bins of
 * (max - cache_max) * class size where max > cache_max (a young bin adds
 * nothing), and at most CACHE_THREAD_GROWTH. So a thread holds at most
 * cache_max blocks per bin plus CACHE_THREAD_GROWTH bytes in all, whatever
 * it does.
 */
struct cache_bin {
    void *head;     /* free blocks, linked through their first word */
    uint32_t count; /* blocks in the list; never above max (a free at max grows or flushes first) */
    uint16_t max;   /* bound: young, then cache_max of the class, grown up to its cache_grown */
    uint16_t fill;  /* next refill: min(4, 1 KiB (>= 1), cache_max / 2, max), doubling to max / 2 */
    /*
     * Pops left until the next sampled allocation (NUMA_ALLOC_PROF, core/prof.h);
     * it is also the bin's allocation count: nalloc = node_cache.nalloc_base[cls]
     * - countdown (bin_nalloc). One decrement on the malloc fast path does both,
     * where an increment of a count did one. Profile off it starts at UINT64_MAX
     * and never reaches 0; on, a pop that takes it to 0 is the sampled one and
     * goes to the slow path (alloc_slow), which re-arms it (thread_cache_rearm,
     * under the registry lock so that a reader sees both fields before or after).
     * Invariant: countdown >= 1 outside the instant between that decrement and
     * the re-arm; other pops (a refill's, alloc_small's) never take it below 1.
     */
    uint64_t countdown;
    uint64_t nfree; /* blocks of this class of this node this thread freed */
};

/*
 * A block of another shard that this thread frees stays in its bin, for its
 * next malloc of the class, when the class's blocks are at least this big,
 * the thread has allocated the class on the node (its bin's nalloc is not
 * 0) and the bin has room; otherwise it goes on the away list. So a thread
 * reuses big blocks other threads made, as tcmalloc's thread caches take
 * any block: the block's lines are the freeing core's already (its free
 * wrote them), where handing it back sent them to the owner's core, whose
 * refill walked them and whose malloc took them again (shared-pool-2t,
 * three frees in four of blocks any thread made: take_parked 6% of its
 * samples, heap_hand_back 1.6%, malloc 12%). A thread that only frees the
 * class (a consumer) still hands it all back. Classes this big are
 * multiples of 128 B: a block shares no cache line with its slab
 * neighbours. Not for smaller blocks: keeping blocks of whole cache lines
 * from 64 B up made larson-server-2t 14 to 44% slower, from 512 B up 31%,
 * for reasons not found; from 1 KiB up it stayed within what reruns move
 * (docs/benchmarks.md, Round eleven). Decided on the slow path: free's fast
 * path sends every block of another shard there. Such blocks leave the bin
 * as any: a flush gives them back to their slabs (flush_walk locks each
 * block's shard).
 */
#define KEEP_ANY_SHARD_MIN 1024u

/*
 * Idle blocks go back. A bin is a stack (LIFO): a block that stays at its
 * bottom while the top comes and goes is idle, and a bin that filled during
 * a long run of frees (a program freeing a big structure) keeps blocks of
 * as many slabs as it holds blocks: each keeps its whole slab (64 KiB and
 * more) from emptying. sqlite3's 200k-row run left 1325 blocks of 48 B in a
 * grown bin, pinning 143 slabs, 9 MiB of resident pages, for 62 KiB of
 * blocks (docs/benchmarks.md, Round two). So every CACHE_GC_BYTES the thread
 * takes from its node heaps (refills, and large objects at LARGE_GC_BYTES
 * each at most: thread_state.gc_bytes), a visit of all its bins (cache_gc)
 * gives back the blocks at the bottom of each bin that no malloc reached
 * since the previous visit; a bin at its base bound (not grown) keeps up to
 * its refill size (`fill`) of them, as its next refill would fetch as many
 * again (a round trip through the locked heap: Round four in
 * docs/benchmarks.md). The fast paths know nothing of it: a bin's pops are
 * its nalloc.
 *
 * Invariant (heap_check's own-cache walk): the bottom gc_mark - nalloc (low
 * 32 bits, as a signed number) blocks of the bin, when that is positive,
 * have stayed in it since the last visit, and that number is at most count.
 * A visit sets gc_mark to count + nalloc; a pop lowers the difference by
 * one; a flush from the top (bin_flush) lowers it to at most what is left.
 * (Modulo 2^32: a bin popped 2^31 times between two visits, which takes no
 * refill, may read a wrong number; that only sends free blocks back early.)
 */
/* A bin's slow-path state for growing, shrinking and idle blocks; kept off its cache line. */
struct bin_growth {
    uint32_t idle_mark;   /* nalloc + nfree (low 32 bits) at the last scavenge */
    uint32_t refill_mark; /* nalloc + nfree (low 32 bits) at its last refill */
    uint32_t gc_mark;     /* untouched bottom blocks + nalloc (low 32 bits), above */
};

/*
 * Blocks this thread freed whose slab belongs to another shard (another
 * thread group allocated them). They are not reused here: a block carved
 * next to another thread's blocks would share its cache lines (passive
 * false sharing). They are handed back to that shard in batches, a chain
 * per CAS and no lock (heap_hand_back), for its next refills.
 * Invariants: every block is of one shard, `shard` (a block of another
 * shard hands the list back first), count is the list's length, and tail
 * its last block (NULL when empty).
 */
struct away_list {
    void *head; /* linked like a bin, marked free like a bin */
    void *tail;
    uint32_t count;
    uint32_t shard;
};

/*
 * One thread's cache and counters for one node.
 *
 * Whether an allocation or a free is remote (the thread runs on another node
 * than the block's) is not decided on the fast paths: it only changes when
 * the thread moves, which malloc notices (thread_cache_note_move). The counts
 * since the last move are "unsettled": remote if this cache's node is not the
 * thread's home. A move settles them (adds them to remote_* as needed).
 */
struct node_cache {
    struct cache_bin bins[NUM_SMALL_CLASSES + 1]; /* bins[0] unused */
    /*
     * NUM_SMALL_CLASSES + 1 lists (away[0] unused), a block of this node's
     * heap made by the thread's first free of another shard's block here
     * (away_table_create): most threads never free one, and without the
     * table a cache fits one page (NODE_CACHE_BYTES_MAX). NULL until then.
     */
    struct away_list *away;
    struct bin_growth growth[NUM_SMALL_CLASSES + 1];
    /* Refilled since its last flush: a flush now would be a round trip (bin_grow). */
    uint8_t refilled[NUM_SMALL_CLASSES + 1];
    uint64_t nalloc_base[NUM_SMALL_CLASSES + 1]; /* struct cache_bin's countdown */
    unsigned slot;
    struct node_cache *next;            /* the thread's next cache (thread_state.cache_list) */
    uint64_t remote_allocs;             /* settled allocations from this node while on another */
    uint64_t remote_frees;              /* settled frees of this node's blocks while on another */
    uint64_t settled_allocs;            /* allocations (all sizes) counted at the last settling */
    uint64_t settled_frees;             /* frees likewise */
    uint64_t explicit_allocs;           /* numa_malloc & co naming this node from another node */
    uint64_t large_allocs, large_frees; /* page runs and huge objects (not size classes) */
    uint64_t large_bytes_alloc, large_bytes_freed;
};

/*
 * A node cache is a block of its node's heap, as big as its class: each
 * thread has one a node it uses. Within a page it costs a thread one page
 * (a block of the 4 KiB class is page-aligned); at 5.9 KiB (the 6 KiB class,
 * away lists inside) a thread took 1.5 pages: footprint_probe many-threads
 * (docs/benchmarks.md, session 36).
 */
#define NODE_CACHE_BYTES_MAX 4096u
_Static_assert(sizeof(struct node_cache) <= NODE_CACHE_BYTES_MAX,
               "a node cache fits one page (NODE_CACHE_BYTES_MAX)");

enum thread_status { THREAD_NEW = 0, THREAD_LIVE, THREAD_DEAD };

/*
 * Initial-exec TLS, so small: a library loaded by dlopen gets it from glibc's
 * small static TLS surplus (tests/test_dlopen.c). Its size does not depend on
 * the number of nodes: the caches of the first TOPO_DIRECT_SLOTS slots are
 * found in `caches`, those of higher slots (machines with more nodes) in
 * `far`, a table made on the first use of such a slot (thread_cache_of).
 */
struct thread_state {
    /*
     * malloc's fast path (alloc_fast, core/alloc.h): the cache of the slot
     * the route of one CPU gave this thread, and the key it was read under,
     * na_route_generation | that CPU. A malloc on a CPU, or in a generation,
     * that is not the key's misses, and its slow path reads the route again
     * (thread_cache_route_refresh, core/thread_cache.c).
     * Invariant: route_key is 0 (no generation is 0) or, read in generation
     * G on CPU c, route_cache == caches[topo.cpu[c].slot] as G had them
     * (never NULL, a direct slot) and topo.cpu[c].home == home. So what
     * changes either clears the key: a move (thread_cache_note_move, which
     * changes home), the caches going (thread exit), a rewrite of the
     * routes (a new generation).
     */
    uint64_t route_key;
    struct node_cache *route_cache;
    /*
     * NULL until the thread uses that node. The extra last entry stays NULL:
     * it is the slot the cpu table names when the policy picks a slot per
     * allocation (interleave) or gives a slot beyond the table (ROUTE_SLOW),
     * which sends every allocation to the slow path.
     */
    struct node_cache *caches[TOPO_DIRECT_SLOTS + 1];
    /*
     * Slots TOPO_DIRECT_SLOTS and up: num_slots - TOPO_DIRECT_SLOTS entries,
     * NULL until the thread uses such a slot; a block of the node heap of
     * far_slot (its first such slot), given back at thread exit.
     */
    struct node_cache **far;
    /*
     * Every cache above, most recent first, linked through node_cache.next:
     * what walks a thread's caches costs what it uses, not the node count.
     * A cache is linked (release) once made; caches leave only at thread exit.
     */
    struct node_cache *cache_list;
    uint32_t sequence_cursor; /* interleave: next position in na_placement.sequence */
    uint16_t home;            /* slot of the node the thread last allocated on (cpu_route.home) */
    uint16_t far_slot;        /* whose node heap `far` came from */
    uint8_t status;           /* enum thread_status */
    uint8_t shard;            /* which shard of the node heaps it refills from */
    uint8_t registry_held;    /* 1 while it takes or holds the registry lock (thread_cache.c) */
    uint8_t peak_kib; /* KiB (saturating) taken from node heaps since its last sample_peak */
    int tid;
    uint64_t migrations;        /* times the thread was found on another node than before */
    uint64_t fallbacks;         /* allocations of this thread served by a fallback node */
    uint64_t peak_live_bytes;   /* most bytes it had live, sampled on its slow paths */
    int64_t small_live_sampled; /* its small blocks' part of the last sample_peak's live bytes */
    uint32_t cache_growth;      /* bytes its bins grew beyond cache_max (struct cache_bin) */
    uint32_t gc_bytes;          /* taken from node heaps since its last cache_gc (bin_growth) */
    struct list_node registry_link; /* the registry of live threads (statistics) */
};

extern __thread struct thread_state na_thread_state __attribute__((tls_model("initial-exec")));

/* The calling thread's cache for any slot, or NULL if it has none (yet). */
static inline struct node_cache *thread_cache_of(unsigned slot)
{
    const struct thread_state *ts = &na_thread_state;
    if (slot < TOPO_DIRECT_SLOTS)
        return ts->caches[slot];
    return ts->far ? ts->far[slot - TOPO_DIRECT_SLOTS] : NULL;
}

/* Another thread's first cache (then node_cache.next), as thread_state.cache_list says. */
static inline const struct node_cache *thread_cache_first(const struct thread_state *ts)
{
    return __atomic_load_n(&ts->cache_list, __ATOMIC_ACQUIRE);
}

/*
 * A free block carries the cache link in its first word and this per-process
 * key in its second (every class is at least 16 bytes). free() of a block
 * whose second word is the key is a double free unless the word is user data
 * that happens to match; the slow path tells the two apart by searching the
 * bin. Blocks handed out get the word cleared, so the check costs one load.
 */
extern NA_HIDDEN uintptr_t na_free_block_key;

/*
 * Threads that have allocated and not yet exited (a relaxed read: a hint).
 * More than one: the process may run on several CPUs at once, where a page
 * fault that replaces a mapping interrupts the others to flush their TLBs.
 */
extern NA_HIDDEN uint32_t na_live_threads;

/*
 * Bit s: shard s was ever a thread's (set under registry_lock, never
 * cleared; shard 0 from the start, the shard of a thread without a cache).
 * A shard never given to a thread has no slab, nothing parked and no lock
 * anybody takes, so fork (core/alloc.c) and malloc_trim (heap_release_spares)
 * leave its class_slabs alone: locking all 32 shards' made the node heap's
 * 146 KiB of them resident in a program that forks once.
 */
extern NA_HIDDEN uint32_t na_shards_used;

static inline bool threads_beside_this_one(void)
{
    return __atomic_load_n(&na_live_threads, __ATOMIC_RELAXED) > 1;
}

/*
 * Blocks of class cls this thread allocated on nc's node (struct cache_bin's
 * countdown). Always inlined: the slow paths that walk every bin with it are
 * cold, and a call per class made sample_peak twice as long.
 */
static inline __attribute__((always_inline)) uint64_t bin_nalloc(const struct node_cache *nc,
                                                                 unsigned cls)
{
    return __atomic_load_n(&nc->nalloc_base[cls], __ATOMIC_RELAXED) -
           __atomic_load_n(&nc->bins[cls].countdown, __ATOMIC_RELAXED);
}

/*
 * Counts a pop on the fast path (struct cache_bin's countdown): false when this
 * pop is the sampled one (the countdown reached 0). On x86-64 one instruction
 * writes the count (a reader in another thread sees it whole, as COUNT's
 * store) and sets the flag the branch reads: no more instructions than the
 * count it replaced.
 */
static inline bool cache_bin_take(struct cache_bin *bin)
{
#if defined(__x86_64__) && defined(__GCC_ASM_FLAG_OUTPUTS__)
    bool zero;
    __asm__("subq $1, %0" : "+m"(bin->countdown), "=@ccz"(zero));
    return !zero;
#else
    uint64_t left = bin->countdown - 1;
    __atomic_store_n(&bin->countdown, left, __ATOMIC_RELAXED);
    return left != 0;
#endif
}

/*
 * Pops `block`, the bin's head as the caller read it (a load less on
 * malloc's fast path). The next block is prefetched: its link is what the
 * next pop waits on, and for a batch of remote frees (struct parked_batch)
 * its line is in another core's cache; the program's work until the next
 * malloc hides the transfer. Measured on larson-2t, 13.9 -> 11.6 ns an op
 * (docs/benchmarks.md, round eight); a block of the bin's own is in cache
 * and the prefetch costs one instruction.
 */
static inline void *cache_bin_pop_head(struct cache_bin *bin, void **block)
{
    NA_ASSERT(block == bin->head && block != NULL);
    void *next = block[0];
    bin->head = next;
    __builtin_prefetch(next, 0);
    bin->count--;
    block[1] = NULL;
    return block;
}

static inline void *cache_bin_pop(struct cache_bin *bin)
{
    return cache_bin_pop_head(bin, bin->head);
}

static inline void cache_bin_push(struct cache_bin *bin, void *ptr)
{
    NA_ASSERT(bin->count < bin->max);
    void **block = ptr;
    block[0] = bin->head;
    block[1] = (void *)na_free_block_key;
    bin->head = block;
    bin->count++;
}

/* The calling thread runs on another node than at its last allocation. */
NA_NOINLINE NA_COLD void thread_cache_note_move(unsigned home);

/*
 * Reads the calling thread's route again into its route_key and route_cache
 * (struct thread_state), for malloc's fast path: on the slow paths of
 * malloc, after a move is noted and after a refill made a cache.
 */
void thread_cache_route_refresh(void);

/*
 * Slow paths of the inline fast paths in alloc.h, cold where defined
 * (base/compiler.h), reached through alloc_small_slow and free_small_slow
 * (alloc.c), which start the allocator and tick the live statistics first:
 * everything in this file runs on a started allocator.
 */
void *thread_cache_alloc_slow(unsigned slot, unsigned cls);
void thread_cache_free_slow(void *block, unsigned slot, unsigned tag);

/*
 * Is this block of `slot` (a block's start, of class cls) known to be free:
 * in this thread's cache or back in its slab? Blocks in other threads'
 * caches cannot be seen. Cheap unless the block carries na_free_block_key.
 */
bool thread_cache_block_is_free(void *block, unsigned slot, unsigned cls);

/* Returns every cached block of the calling thread to the node heaps. */
void thread_cache_flush_all(void);

/* Registers the thread-exit hook; called once, from the allocator's start (alloc.c). */
int thread_cache_init(void);

/*
 * What threads counted on a node, as the statistics book it (core/stats.h
 * defines local and remote): allocations and frees of every size, their
 * bytes (small blocks at their class size), and the remote ones among them.
 */
struct alloc_counts {
    uint64_t allocs, frees, bytes_allocated, bytes_freed;
    uint64_t remote_allocs, remote_frees;
};

void alloc_counts_add(struct alloc_counts *to, const struct alloc_counts *from);

/*
 * A node cache's counts; the unsettled ones are booked as remote unless the
 * cache is of `home`. Another thread may read them while the cache's own
 * thread counts on: each is read whole (COUNT).
 */
void node_cache_counts(const struct node_cache *nc, unsigned home, struct alloc_counts *out);

/*
 * The counts of threads that have exited, merged per slot. The totals first,
 * then the per-slot arrays: a thread's exit writes the totals and its slots'
 * entries, which for the first slots then share a page (the arrays are sized
 * for every slot: 57 KiB, NA_COLD_BSS).
 */
struct retired_threads {
    uint64_t threads, migrations, fallbacks;
    uint64_t peak_live_bytes; /* the largest of the exited threads' peaks */
    struct alloc_counts per_slot[TOPO_MAX_SLOTS];
    uint64_t explicit_allocs[TOPO_MAX_SLOTS]; /* struct node_cache's, by slot */
};
/* Allocations and frees (all sizes) this cache has counted. */
uint64_t node_cache_allocs(const struct node_cache *nc);
uint64_t node_cache_frees(const struct node_cache *nc);

/*
 * Statistics: calls visit(ts, arg) for every live thread under the registry
 * lock (the thread cannot exit meanwhile), and returns the counts of
 * threads that have exited in `retired` (its per-slot arrays: the first
 * na_region.num_slots entries).
 */
void thread_cache_visit(void (*visit)(const struct thread_state *ts, void *arg), void *arg,
                        struct retired_threads *retired);

/*
 * Bytes of live blocks of slots first..first + count - 1 into live[0..count-1]
 * (allocated less freed, of every thread, live or exited): small blocks at
 * their class size, large and huge ones at their usable size, so the sum of
 * malloc_usable_size() of the blocks in use. Each thread's counters are read
 * whole but not frozen: what other threads do meanwhile may or may not be
 * seen; the calling thread's own work is exact. (A range, so that a caller
 * can take the slots in small batches on its stack.)
 */
void thread_cache_live_bytes(unsigned first, unsigned count, uint64_t *live);

/*
 * As thread_cache_visit, then visit_retired(retired, arg), all under the
 * registry lock, copying nothing (usable from a small signal stack). -1,
 * visiting nothing, when the calling thread takes or holds that lock
 * already: a signal handler interrupted it there, and waiting would
 * deadlock.
 */
int thread_cache_walk(void (*visit)(const struct thread_state *ts, void *arg),
                      void (*visit_retired)(const struct retired_threads *retired, void *arg),
                      void *arg);

/* fork: the registry lock is held across it; in the child only the forking thread is left. */
void thread_cache_fork_prepare(void);
void thread_cache_fork_parent(void);
void thread_cache_after_fork_child(void);

/*
 * Counting for the slow paths: an allocation of `bytes` (0: a small block,
 * already counted by its bin) served from `slot`, `explicit_node` when the
 * caller named the node; a free of a large or huge block of `slot`.
 */
void thread_cache_count_alloc(unsigned slot, size_t bytes, bool explicit_node);
void thread_cache_count_free(unsigned slot, size_t bytes);
/*
 * An allocation (alloc) or a free of a block of slot's young arena
 * (core/young_arena.h), counted as one of class cls, as if its bin had
 * served it: the statistics read the same with or without the arena.
 */
void thread_cache_count_young(unsigned slot, unsigned cls, bool alloc);
/* A large or huge block of `slot` resized in place from old_bytes to new_bytes. */
void thread_cache_count_resize(unsigned slot, size_t old_bytes, size_t new_bytes);

/*
 * Profile (core/prof.h): re-arms bin cls of nc to sample again after `pops`
 * pops (>= 1); `taken`: its countdown reached 0 on a pop that did not happen
 * (the fast path went to the slow path instead), which is taken back.
 */
void thread_cache_rearm(struct node_cache *nc, unsigned cls, uint64_t pops, bool taken);

#endif
