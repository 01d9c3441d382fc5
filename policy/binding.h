/*
 * binding.h - memory policy on address ranges, through the raw mbind(2)
 * system call (libnuma's wrapper is not allowed inside the allocator, and it
 * exports the same name).
 */
#ifndef NUMA_ALLOC_BINDING_H
#define NUMA_ALLOC_BINDING_H

#include <stddef.h>

/* Binds [addr, addr+len) to `node` (MPOL_BIND) before any page is touched; 0 or -errno. */
int binding_bind_range(void *addr, size_t len, int node);

#endif
