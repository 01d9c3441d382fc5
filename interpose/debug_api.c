/*
 * debug_api.c - numa_alloc_debug_check(), exported in NUMA_ALLOC_DEBUG builds
 * only (CMakeLists.txt adds this file to those builds): lets a test run the
 * whole-heap check (core/heap_check.h) on the library it links. Not part of
 * the public API: no header declares it; a test declares it itself.
 */
#include "core/heap_check.h"
#include "interpose/export.h"

/* Segments checked; aborts with a message on the first violated invariant. */
NA_EXPORT size_t numa_alloc_debug_check(void);

NA_EXPORT size_t numa_alloc_debug_check(void)
{
    return heap_check_all();
}
