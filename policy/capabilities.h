/*
 * capabilities.h - what the kernel lets this process do about placement,
 * found once at start-up, and every placement call that failed since.
 *
 * Container runtimes' default seccomp profiles refuse mbind, set_mempolicy,
 * get_mempolicy, move_pages and migrate_pages (EPERM) to a process without
 * CAP_SYS_NICE; a kernel without NUMA answers ENOSYS. The allocator keeps
 * running there, and says what was lost (one line at start-up, and in the
 * statistics):
 *   - unbound (mbind refused): the slots carry no memory policy, so a page
 *     lies on the node of the thread that first touches it (first-touch).
 *     A block's node is then the heap it came from - the allocator's
 *     intent - not necessarily where its pages are.
 *   - unverified (move_pages refused): nobody can say where pages are: the
 *     statistics take no census, and a commit on a nearly full node
 *     (node_memory.h) is handed out without the check that its pages landed.
 */
#ifndef NUMA_ALLOC_CAPABILITIES_H
#define NUMA_ALLOC_CAPABILITIES_H

#include "base/compiler.h"

#include <stddef.h>
#include <stdint.h>

/* Written once by capabilities_probe (under the init lock), read-only after. */
struct placement_caps {
    int bind_error;   /* 0: memory is bound to its node; else -errno: first-touch */
    int verify_error; /* 0: move_pages answers queries; else its -errno */
};

extern NA_HIDDEN struct placement_caps na_placement_caps;

/*
 * Asks, once, whether mbind and move_pages work: mbind is tried again on
 * [slot, slot + len) with the policy that slot already has (preferring
 * `node`; nothing moves), read back with get_mempolicy, and move_pages asks
 * where the slot's first page is. Prints one line naming what is lost, if
 * anything. Call after the slots have their policy, before the heap is live.
 */
void capabilities_probe(void *slot, size_t len, int node);

/* Failures of calls that decide or check placement, counted per node. */
enum placement_fault {
    FAULT_BIND,   /* mbind refused: that range has no (or a stale) policy */
    FAULT_PURGE,  /* madvise(MADV_DONTNEED) refused: the pages stayed resident */
    FAULT_VERIFY, /* move_pages refused: pages handed out without their check */
    PLACEMENT_FAULT_KINDS
};

/* Counts one failure for node id `node` (relaxed atomic; any thread, any lock). */
void placement_fault_count(int node, enum placement_fault kind);

/* Failures of `kind` so far for the node of `slot`. */
uint64_t placement_faults_of(unsigned slot, enum placement_fault kind);

/* "EPERM", "ENOSYS", ... for -errno or errno; "errno N" for the rest, in buf. */
#define ERRNO_NAME_SIZE 16 /* "errno 2147483647" and its NUL */
const char *errno_name(int err, char buf[ERRNO_NAME_SIZE]);

#endif
