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

#ifdef __cplusplus
}
#endif

#endif /* NUMA_ALLOC_H */
