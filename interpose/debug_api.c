/*
 * debug_api.c - the debug builds' exports (CMakeLists.txt adds this file to
 * NUMA_ALLOC_DEBUG builds only), for tests of the library they link:
 * numa_alloc_debug_check() runs the whole-heap check (core/heap_check.h);
 * numa_alloc_debug_on_race() and numa_alloc_debug_hand_back() land another
 * thread's remote hand-back at a race point (core/race_points.h);
 * numa_alloc_debug_clock_reads() counts the calling thread's readings of the
 * clock (base/os.h); numa_alloc_debug_young_reopen() makes the empty young
 * arenas serve again (core/young_arena.h: the fuzzer, at each input). Not part of the public API:
 * no header declares them; a test declares them itself.
 */
#include "base/os.h"
#include "core/heap_check.h"
#include "core/race_points.h"
#include "core/young_arena.h"
#include "interpose/export.h"

/* Segments checked; aborts with a message on the first violated invariant. */
NA_EXPORT size_t numa_alloc_debug_check(void);
/* Installs (NULL: removes) the hook every race point calls: hook(point, class_size). */
NA_EXPORT void numa_alloc_debug_on_race(void (*hook)(int point, size_t class_size));
/* race_hand_back: how many of `blocks` went back, as another thread's remote frees. */
NA_EXPORT unsigned numa_alloc_debug_hand_back(void **blocks, unsigned count);
/* os_clock_reads: the calling thread's readings of the clock so far. */
NA_EXPORT uint64_t numa_alloc_debug_clock_reads(void);
/* young_reopen_all: the empty young arenas serve again; how many. */
NA_EXPORT unsigned numa_alloc_debug_young_reopen(void);

NA_EXPORT unsigned numa_alloc_debug_young_reopen(void)
{
    return young_reopen_all();
}

NA_EXPORT size_t numa_alloc_debug_check(void)
{
    return heap_check_all();
}

NA_EXPORT void numa_alloc_debug_on_race(void (*hook)(int point, size_t class_size))
{
    __atomic_store_n(&na_race_hook, hook, __ATOMIC_RELEASE);
}

NA_EXPORT unsigned numa_alloc_debug_hand_back(void **blocks, unsigned count)
{
    return race_hand_back(blocks, count);
}

NA_EXPORT uint64_t numa_alloc_debug_clock_reads(void)
{
    return os_clock_reads();
}
