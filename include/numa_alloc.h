/*
 * numa_alloc.h - the public API of numa-alloc, a NUMA-aware malloc.
 *
 * Link with -lnumapreload (pkg-config numa-alloc) or preload libnumapreload.so:
 * the library then serves the whole malloc family (malloc, free, calloc,
 * realloc, posix_memalign, ...) from the heap of the node the calling thread
 * runs on. The functions below add explicit placement on a chosen node.
 *
 * Every pointer returned here is released with plain free() and may be passed
 * to realloc() (which keeps the block's node) and malloc_usable_size().
 *
 * Limits, for these functions and the whole malloc family alike:
 *  - the largest request is 2^62 bytes; anything larger (up to SIZE_MAX, and
 *    counts times sizes that overflow) fails with NULL and ENOMEM, and a
 *    block passed to realloc stays as it was - glibc's outcome for every size;
 *  - every power-of-two alignment works as far as the address space allows:
 *    an alignment of 4 MiB or more gets a mapping of its own, which needs
 *    size + alignment of free address space for a moment. Tested up to
 *    1 GiB; 2^46 (64 TiB) succeeds on a 47-bit x86-64 address space.
 *    Alignments above 2^62 fail with ENOMEM.
 *  - memalign, aligned_alloc, valloc and pvalloc take any alignment as
 *    glibc 2.36 does (<= 16: plain malloc; otherwise rounded up to a power
 *    of two, at least 32; above 2^63: EINVAL); posix_memalign refuses with
 *    EINVAL what is not a power of two multiple of sizeof(void *).
 *
 * None of these names collides with libnuma: a program may include <numa.h>,
 * link -lnuma and use this library at the same time.
 */
#ifndef NUMA_ALLOC_H
#define NUMA_ALLOC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define NUMA_ALLOC_API          __attribute__((visibility("default")))
#define NUMA_ALLOC_MALLOC_ATTRS __attribute__((malloc, warn_unused_result))
#else
#define NUMA_ALLOC_API
#define NUMA_ALLOC_MALLOC_ATTRS
#endif

/*
 * Allocates size bytes from the heap owned by NUMA node `node`.
 * Returns NULL with errno = EINVAL when the node does not exist, has no
 * memory, or is outside the process's allowed nodes (cpuset Mems_allowed),
 * and NULL with errno = ENOMEM when size is impossible or memory is exhausted.
 * A size of 0 returns a unique minimum-size block, as malloc(0) does.
 * If numa-alloc could not start (it says so on stderr), the C library's
 * malloc serves these calls too, without placement (numa_ptr_node: -1).
 */
NUMA_ALLOC_API NUMA_ALLOC_MALLOC_ATTRS void *numa_malloc(int node, size_t size);

/* As numa_malloc for count * size zeroed bytes; overflow -> NULL, ENOMEM. */
NUMA_ALLOC_API NUMA_ALLOC_MALLOC_ATTRS void *numa_calloc(int node, size_t count, size_t size);

/*
 * As numa_malloc, aligned to `alignment`, which must be a power of two
 * (otherwise NULL with errno = EINVAL), 1 up to the address space's limit
 * (see above: tested to 1 GiB). The block is on `node` whatever the alignment.
 */
NUMA_ALLOC_API NUMA_ALLOC_MALLOC_ATTRS void *numa_aligned_alloc(int node, size_t alignment,
                                                                size_t size);

/*
 * The node that owns the block containing `ptr`, found from the address
 * alone; -1 for NULL and for memory that numa-alloc did not hand out.
 */
NUMA_ALLOC_API int numa_ptr_node(const void *ptr);

/*
 * The version of this header; numa_alloc_version() gives the library's, which
 * may be another when the program runs with another library than it was
 * built with (the same major version: the SONAME, libnumapreload.so.0).
 */
#define NUMA_ALLOC_VERSION_MAJOR 0
#define NUMA_ALLOC_VERSION_MINOR 1
#define NUMA_ALLOC_VERSION_PATCH 0

/* The library's version, "MAJOR.MINOR.PATCH". Running libnumapreload.so prints it too. */
NUMA_ALLOC_API const char *numa_alloc_version(void);

/*
 * Writes numa-alloc's statistics to file descriptor `fd`: JSON when `json`
 * is non-zero (the schema is docs/stats.schema.json), a table otherwise.
 * Includes verified placement (the kernel is asked where a sample of each
 * node's pages lies). Returns 0, or -1 with errno: write(2)'s own (EPIPE
 * for a pipe nobody reads, never a SIGPIPE; ENOSPC, EBADF...), EIO when a
 * write wrote nothing. Never allocates.
 */
NUMA_ALLOC_API int numa_alloc_stats_write(int fd, int json);

/* ---- counters: watching the allocator from inside the program ----------------
 *
 * The statistics of numa_alloc_stats_write (docs/stats.md), one number at a
 * time or as arrays of structures, in the spirit of jemalloc's mallctl but
 * typed and read-only. None of these functions allocates or writes; any
 * thread may call them, and so may a signal handler (see EAGAIN below).
 *
 * Names (every value a uint64_t; N: a NUMA node id served by numa-alloc):
 *   active                      1 while numa-alloc serves the program, 0
 *                               when its start failed (glibc serves)
 *   node.N.FIELD                one node's FIELD (below)
 *   total.FIELD                 FIELD summed over every node (for
 *                               peak_active_bytes: the sum of the nodes' peaks)
 *   thread.current.TFIELD       the calling thread's TFIELD (below)
 *   threads.live                threads that have allocated and still run
 *   threads.exited              threads that allocated and have exited
 *   heaps.ready                 node heaps set up so far: one per node the
 *                               program has used (and the starting thread's)
 * FIELD, as the JSON's per-node fields, all counted since the start:
 *   allocations, frees           blocks handed out and given back, all sizes
 *   bytes_allocated, bytes_freed their bytes (small blocks at class size)
 *   bytes_live                   bytes_allocated - bytes_freed
 *   local_allocations            served from the node the thread ran on
 *   remote_allocations           served from another node than the thread's
 *   explicit_allocations         numa_malloc & co naming this node from
 *                                a thread on another node
 *   remote_frees                 blocks of this node freed from another node
 *   fallbacks_in, fallbacks_out  requests for another node served here; for
 *                                this node served elsewhere
 *   tight_commits, exhaustions   commits on a nearly full node; refused
 *   bind_failures, purge_failures, verify_failures
 *                                mbind, madvise, move_pages calls refused
 *   active_bytes                 memory the node's heap has in use (gauge)
 *   peak_active_bytes            the most active_bytes ever was
 *   dirty_bytes                  free memory still resident (gauge)
 *   purged_bytes                 memory given back to the OS so far
 *   huge_objects, huge_bytes     live objects above 2 MiB (gauges)
 * TFIELD, as the JSON's per-thread fields:
 *   tid, node                    the thread id; the node it last allocated on
 *                                (-1 as 2^64-1: none yet, or no memory there)
 *   allocations, frees, bytes_allocated, bytes_freed, bytes_live,
 *   local_allocations, remote_allocations, remote_frees
 *                                as above, on every node; a thread that
 *                                frees blocks other threads made has
 *                                bytes_live below 0, here 2^64 - n (read
 *                                it as int64_t), in the JSON -n
 *   peak_bytes_live              the most bytes it had live (sampled)
 *   migrations                   times it was found on another node
 *   fallbacks                    its allocations served by a fallback node
 * The verified placement (the JSON's "verified", a census asking the
 * kernel) is no counter: numa_alloc_stats_write takes it.
 *
 * Consistency: every value is read whole (64-bit aligned, written by one
 * thread). A node's or the total's counts come from one pass over the
 * threads under the allocator's thread registry lock, so a thread's counts
 * are never lost or seen twice while it exits and counts that only grow
 * never go backwards between two reads; but threads that keep allocating
 * are read one after another, not at one instant, and a snapshot's nodes
 * are one pass each. The first call may start the allocator, as
 * numa_malloc does.
 *
 * Errors (-1 and errno): ENOENT an unknown name, including a node id that
 * numa-alloc does not serve (not online, no memory, not in the cpuset at
 * start-up) or is not a plain decimal number; EINVAL a NULL name or value,
 * a NULL out with max > 0, or a struct_size below the structure's first
 * version; ENOTSUP numa-alloc is not active (its start failed: only
 * "active" answers); EAGAIN a signal handler interrupted the calling thread
 * inside the allocator's thread registry: ask again later (thread.current.*
 * and "active" never fail so).
 */
NUMA_ALLOC_API int numa_alloc_counter(const char *name, uint64_t *value);

/* One node's counters (the FIELDs above), for numa_alloc_snapshot_nodes. */
struct numa_alloc_node_counters {
    int32_t node; /* the NUMA node id */
    uint32_t reserved;
    uint64_t allocations, frees, bytes_allocated, bytes_freed, bytes_live;
    uint64_t local_allocations, remote_allocations, explicit_allocations, remote_frees;
    uint64_t fallbacks_in, fallbacks_out, tight_commits, exhaustions;
    uint64_t bind_failures, purge_failures, verify_failures;
    uint64_t active_bytes, peak_active_bytes, dirty_bytes, purged_bytes;
    uint64_t huge_objects, huge_bytes;
};

/* One live thread's counters (the TFIELDs above), for numa_alloc_snapshot_threads. */
struct numa_alloc_thread_counters {
    int32_t tid;
    int32_t node; /* -1: none yet */
    uint64_t allocations, frees, bytes_allocated, bytes_freed, bytes_live, peak_bytes_live;
    uint64_t local_allocations, remote_allocations, remote_frees, migrations, fallbacks;
};

/*
 * Fills out[0..max-1] with the counters of the nodes numa-alloc serves, in
 * slot order (the JSON's node order) and returns how many nodes there are,
 * which may be more than max (call again with a larger array). struct_size:
 * sizeof(struct numa_alloc_node_counters) as the caller was compiled, so the
 * structure can grow: entries lie struct_size bytes apart, and fields this
 * library does not know are zeroed. -1 and errno as numa_alloc_counter.
 */
NUMA_ALLOC_API int numa_alloc_snapshot_nodes(struct numa_alloc_node_counters *out, size_t max,
                                             size_t struct_size);

/*
 * As numa_alloc_snapshot_nodes for the live threads that have allocated, in
 * one pass under the thread registry lock (no thread starts or exits during
 * it); returns how many there are.
 */
NUMA_ALLOC_API int numa_alloc_snapshot_threads(struct numa_alloc_thread_counters *out, size_t max,
                                               size_t struct_size);

#ifdef __cplusplus
}
#endif

#endif /* NUMA_ALLOC_H */
