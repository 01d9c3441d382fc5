/*
 * race_points.h - debug builds: another thread's lock-free step, landed on
 * demand at the instant a locked step is most exposed to it.
 *
 * A remote free hands blocks back with one CAS onto a class_slabs' `handed`
 * list (heap_hand_back), without its lock: a thread that holds the lock can
 * find `handed` changed between any two of its looks at it. The scheduler
 * seldom lands that change at the instant that matters; round ten's refill
 * bug (docs/testing.md) passed the tests and the fuzzer and was found by a
 * stress run of four threads. A race point names such an instant. Debug
 * builds call the hook a test installed (numa_alloc_debug_on_race) there,
 * and the hook may hand blocks back as another thread would
 * (race_hand_back, exported as numa_alloc_debug_hand_back); release builds
 * compile race points to nothing.
 *
 * The hook runs inside the allocator with the lock of the point held: it
 * must not allocate or free, only hand back (which takes no lock: see
 * race_hand_back), or make system calls where the point holds none.
 */
#ifndef NUMA_ALLOC_RACE_POINTS_H
#define NUMA_ALLOC_RACE_POINTS_H

#include "base/compiler.h"

#include <stddef.h>

enum race_point {
    /*
     * heap_refill, the class_slabs lock held: what the shard held (parked
     * blocks, partial slabs) fell short, and its spare or a new slab comes
     * next. Blocks handed back now must not leave that slab on the partial
     * list with no block taken (invariant 9, docs/architecture.md).
     */
    RACE_REFILL_NEW_SLAB = 1,
    /*
     * alloc_address_limit_set, no lock held (class_size 0): the program is
     * setting a limit on its address space, and another thread may map.
     * Lowered, the reservation must be given back before the kernel applies
     * the limit: a mapping made here must not fail (interpose/rlimit.c).
     */
    RACE_ADDRESS_LIMIT_SET = 2,
};

#ifdef NUMA_ALLOC_DEBUG
/* point: enum race_point; class_size: the block size of the class the point works on. */
typedef void (*race_hook_fn)(int point, size_t class_size);
extern NA_HIDDEN race_hook_fn na_race_hook;

static inline void race_point(enum race_point point, size_t class_size)
{
    race_hook_fn hook = __atomic_load_n(&na_race_hook, __ATOMIC_ACQUIRE);
    if (hook)
        hook((int)point, class_size);
}

/*
 * Hands up to `count` blocks the program holds back to their shard, as
 * another shard's thread's away list would (linked and marked free, one CAS,
 * no lock); returns how many went, from the front of `blocks`: none when the
 * first is no block of ours, and never past the first block of another
 * class or shard, nor more than the class's bin bound, nor any while the
 * class_slabs has blocks parked (then the hand-back could drain them, which
 * takes the lock a race point's caller holds). The blocks handed back are
 * free: the caller must not touch them again. The statistics do not count
 * them as freed.
 */
unsigned race_hand_back(void **blocks, unsigned count);
#else
static inline void race_point(enum race_point point, size_t class_size)
{
    (void)point;
    (void)class_size;
}
#endif

#endif
