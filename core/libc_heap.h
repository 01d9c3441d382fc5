/*
 * libc_heap.h - the C library's own allocator, which serves the program when
 * numa-alloc could not start (alloc_start_failed()). glibc exports its
 * implementation under __libc_* names, which the library exports too (a
 * program may call them): glibc's are looked up once, when the start fails.
 * Its blocks are told apart from ours by address, like every foreign
 * pointer: with nothing reserved, no pointer is ours.
 */
#ifndef NUMA_ALLOC_LIBC_HEAP_H
#define NUMA_ALLOC_LIBC_HEAP_H

#include "base/compiler.h"

#include <stdbool.h>
#include <stddef.h>

/*
 * Finds glibc's implementations, once (later calls return at once): called by
 * the thread whose start failed, before the failure is published (a malloc
 * from inside it is a re-entry: ENOMEM), or at the first block of glibc's met
 * (libc_heap_owns). Where there are none (a static program) every block is a
 * mapping of its own.
 */
NA_COLD void libc_heap_init(void);
/*
 * True when ptr is a block of glibc's in use (a library bound to glibc's
 * malloc: RTLD_DEEPBIND's constructors), with glibc found: a chunk of its
 * main arena, one it mapped on its own, or a thread arena's. free and realloc
 * then hand it to glibc (libc_heap_free) or take it over. Reads no memory
 * that could fault: a foreign pointer is only left alone.
 */
NA_COLD bool libc_heap_owns(const void *ptr);
/* malloc, calloc or memalign of glibc's, as `alignment` and `zero` ask. NULL + errno. */
NA_COLD void *libc_heap_alloc(size_t size, size_t alignment, bool zero);
NA_COLD void libc_heap_free(void *ptr);
NA_COLD void *libc_heap_realloc(void *ptr, size_t size);
/* malloc_usable_size of a block of glibc's. */
NA_COLD size_t libc_heap_usable_size(const void *ptr);

#endif
