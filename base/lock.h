/*
 * lock.h - a futex mutex that never allocates.
 *
 * Used only off the fast path (node heap class_slabs, page runs, metadata).
 * pthread mutexes would do, but this one can be reset in a fork child and
 * used before libc's start-up has finished. State: 0 free, 1 held,
 * 2 held with waiters (Drepper, "Futexes Are Tricky", mutex3).
 *
 * Debug builds (NUMA_ALLOC_DEBUG) also record the holder (pthread_self,
 * which reads the thread pointer and never allocates), so that functions
 * documented as "called with X held" can assert it (NA_ASSERT_HELD) and an
 * unlock by a thread that does not hold the lock aborts.
 */
#ifndef NUMA_ALLOC_LOCK_H
#define NUMA_ALLOC_LOCK_H

#include "base/debug.h"
#include "base/os.h"

#ifdef NUMA_ALLOC_DEBUG
#include <pthread.h>
#include <stdint.h>
#endif

static inline void na_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

typedef struct {
    volatile int state;
#ifdef NUMA_ALLOC_DEBUG
    uintptr_t owner; /* pthread_self() of the holder, 0 when free */
#endif
} na_lock_t;

#ifdef NUMA_ALLOC_DEBUG
static inline void na_lock_set_owner(na_lock_t *lock, int held)
{
    __atomic_store_n(&lock->owner, held ? (uintptr_t)pthread_self() : 0, __ATOMIC_RELAXED);
}

/* Whether the calling thread holds the lock. */
static inline int na_lock_held(const na_lock_t *lock)
{
    return __atomic_load_n(&lock->owner, __ATOMIC_RELAXED) == (uintptr_t)pthread_self();
}
#define NA_ASSERT_HELD(lock) NA_ASSERT(na_lock_held(lock))
#else
#define na_lock_set_owner(lock, held) ((void)0)
#define NA_ASSERT_HELD(lock)          ((void)sizeof(lock))
#endif

#define NA_LOCK_INIT                                                                               \
    {                                                                                              \
        0                                                                                          \
    }

/* Spins before a contended na_lock sleeps on the futex (a tuning number). */
#define NA_LOCK_SPINS 64

static inline void na_lock(na_lock_t *lock)
{
    int c = 0;
    if (__atomic_compare_exchange_n(&lock->state, &c, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
        na_lock_set_owner(lock, 1);
        return;
    }
    for (int spin = 0; spin < NA_LOCK_SPINS && c == 1; spin++) {
        na_cpu_relax();
        c = 0;
        if (__atomic_compare_exchange_n(&lock->state, &c, 1, 0, __ATOMIC_ACQUIRE,
                                        __ATOMIC_RELAXED)) {
            na_lock_set_owner(lock, 1);
            return;
        }
    }
    if (c != 2)
        c = __atomic_exchange_n(&lock->state, 2, __ATOMIC_ACQUIRE);
    while (c != 0) {
        os_futex_wait(&lock->state, 2);
        c = __atomic_exchange_n(&lock->state, 2, __ATOMIC_ACQUIRE);
    }
    na_lock_set_owner(lock, 1);
}

/* Takes the lock only if it is free right now. */
static inline int na_trylock(na_lock_t *lock)
{
    int c = 0;
    if (!__atomic_compare_exchange_n(&lock->state, &c, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
        return 0;
    na_lock_set_owner(lock, 1);
    return 1;
}

static inline void na_unlock(na_lock_t *lock)
{
    NA_ASSERT_HELD(lock);
    na_lock_set_owner(lock, 0);
    if (__atomic_exchange_n(&lock->state, 0, __ATOMIC_RELEASE) == 2)
        os_futex_wake(&lock->state, 1);
}

/* Only for a fork child, which has one thread: whoever held it is gone. */
static inline void na_lock_reset(na_lock_t *lock)
{
    lock->state = 0;
    na_lock_set_owner(lock, 0);
}

#endif
