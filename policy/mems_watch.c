/* mems_watch.c - cpuset changes at run time; see mems_watch.h. */
#include "policy/mems_watch.h"

#include "base/bitmap.h"
#include "base/lock.h"
#include "base/os.h"
#include "policy/placement.h"
#include "policy/topology.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

/*
 * `lock` is taken with a try-lock on the slow paths (one checker at a time,
 * nobody waits) and guards `rebind` and the writes to na_topo.allowed and the
 * placement tables. `next_check_ms` and the counters are relaxed atomics.
 * `watching`: Mems_allowed was readable at start-up (else nothing is done).
 */
static struct {
    na_lock_t lock;
    bool watching;
    void (*rebind)(unsigned slot);
    uint64_t next_check_ms;
    uint64_t checks, changes, unserved_joins;
} watch NA_HOT_BSS __attribute__((aligned(NA_CACHE_LINE))) = {.lock = NA_LOCK_INIT};

void mems_watch_init(void (*rebind)(unsigned slot))
{
    uint64_t mask[TOPO_MAX_NODE_ID / 64];
    watch.rebind = rebind;
    watch.watching = topology_read_mems_allowed(mask) == 0;
    watch.next_check_ms = os_now_ms() + MEMS_WATCH_INTERVAL_MS;
}

/* Acts on a new Mems_allowed (the watch lock held). */
static void apply(const uint64_t *mask)
{
    bool changed = false;
    for (int i = 0; i < na_topo.num_nodes; i++) {
        uint8_t now = bitmap_test(mask, (size_t)na_topo.node_id[i]) ? 1 : 0;
        if (now == __atomic_load_n(&na_topo.allowed[i], __ATOMIC_RELAXED))
            continue;
        changed = true;
        if (now && na_topo.has_memory[i] && topology_slot_of_node(na_topo.node_id[i]) < 0)
            __atomic_fetch_add(&watch.unserved_joins, 1, __ATOMIC_RELAXED);
        __atomic_store_n(&na_topo.allowed[i], now, __ATOMIC_RELAXED);
    }
    if (!changed)
        return;
    __atomic_fetch_add(&watch.changes, 1, __ATOMIC_RELAXED);

    uint8_t usable[TOPO_MAX_SLOTS] = {0};
    int left = 0;
    for (int slot = 0; slot < na_topo.num_slots; slot++) {
        usable[slot] = bitmap_test(mask, (size_t)na_topo.slot_node[slot]) ? 1 : 0;
        left += usable[slot];
    }
    if (left == 0)
        return; /* nothing could serve: keep the tables (and the kernel's fallback) */
    for (int slot = 0; slot < na_topo.num_slots; slot++)
        if (usable[slot] && !placement_slot_usable((unsigned)slot) && watch.rebind)
            watch.rebind((unsigned)slot); /* before any route leads to it */
    placement_apply(usable);
}

void mems_watch_tick(void)
{
    uint64_t now = os_now_ms();
    if (now < __atomic_load_n(&watch.next_check_ms, __ATOMIC_RELAXED) || !watch.watching ||
        !na_trylock(&watch.lock))
        return;
    int saved = errno;
    __atomic_store_n(&watch.next_check_ms, now + MEMS_WATCH_INTERVAL_MS, __ATOMIC_RELAXED);
    __atomic_fetch_add(&watch.checks, 1, __ATOMIC_RELAXED);
    uint64_t mask[TOPO_MAX_NODE_ID / 64];
    if (topology_read_mems_allowed(mask) == 0)
        apply(mask);
    errno = saved;
    na_unlock(&watch.lock);
}

uint64_t mems_watch_checks(void)
{
    return __atomic_load_n(&watch.checks, __ATOMIC_RELAXED);
}

uint64_t mems_watch_changes(void)
{
    return __atomic_load_n(&watch.changes, __ATOMIC_RELAXED);
}

uint64_t mems_watch_unserved_joins(void)
{
    return __atomic_load_n(&watch.unserved_joins, __ATOMIC_RELAXED);
}

na_lock_t *mems_watch_lock(void)
{
    return &watch.lock;
}
