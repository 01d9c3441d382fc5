/*
 * lock.h - a futex mutex that never allocates.
 *
 * Used only off the fast path (node heap bins, page runs, metadata).
 * pthread mutexes would do, but this one can be reset in a fork child and
 * used before libc's start-up has finished. State: 0 free, 1 held,
 * 2 held with waiters (Drepper, "Futexes Are Tricky", mutex3).
 */
#ifndef NUMA_ALLOC_LOCK_H
#define NUMA_ALLOC_LOCK_H

#include "core/os.h"

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
} na_lock_t;

#define NA_LOCK_INIT                                                                               \
    {                                                                                              \
        0                                                                                          \
    }

static inline void na_lock(na_lock_t *lock)
{
    int c = 0;
    if (__atomic_compare_exchange_n(&lock->state, &c, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
        return;
    for (int spin = 0; spin < 64 && c == 1; spin++) {
        na_cpu_relax();
        c = 0;
        if (__atomic_compare_exchange_n(&lock->state, &c, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
            return;
    }
    if (c != 2)
        c = __atomic_exchange_n(&lock->state, 2, __ATOMIC_ACQUIRE);
    while (c != 0) {
        os_futex_wait(&lock->state, 2);
        c = __atomic_exchange_n(&lock->state, 2, __ATOMIC_ACQUIRE);
    }
}

/* Takes the lock only if it is free right now. */
static inline int na_trylock(na_lock_t *lock)
{
    int c = 0;
    return __atomic_compare_exchange_n(&lock->state, &c, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}

static inline void na_unlock(na_lock_t *lock)
{
    if (__atomic_exchange_n(&lock->state, 0, __ATOMIC_RELEASE) == 2)
        os_futex_wake(&lock->state, 1);
}

/* Only for a fork child, which has one thread: whoever held it is gone. */
static inline void na_lock_reset(na_lock_t *lock)
{
    lock->state = 0;
}

#endif
