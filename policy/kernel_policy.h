/*
 * kernel_policy.h - what the kernel already knows about where this process's
 * memory should go, folded into `na_options` before the placement tables are
 * built:
 *   - the task memory policy it was started under (numactl --membind,
 *     --preferred, --preferred-many, --interleave, --weighted-interleave,
 *     --localalloc): without NUMA_ALLOC_POLICY it is adopted, so wrapping a
 *     program in numactl and preloading us never silently replaces numactl's
 *     placement with ours; with NUMA_ALLOC_POLICY (or NUMA_ALLOC_NODES) the
 *     variables win and one line names the inherited policy they override;
 *   - the weights of weighted interleave from
 *     /sys/kernel/mm/mempolicy/weighted_interleave/node<N> (Linux 6.9+) when
 *     NUMA_ALLOC_WEIGHTS is not given, equal weights where there are none.
 *
 * The library never changes the task policy (it binds its own ranges with
 * mbind), so children the program starts inherit the same policy it got.
 */
#ifndef NUMA_ALLOC_KERNEL_POLICY_H
#define NUMA_ALLOC_KERNEL_POLICY_H

#include "base/compiler.h"

#include "policy/topology.h"

#include <stdint.h>

/* The kernel's mempolicy modes (numaif.h; not included: libnuma is not ours to use). */
enum kernel_mpol {
    KMPOL_DEFAULT = 0,
    KMPOL_PREFERRED = 1,
    KMPOL_BIND = 2,
    KMPOL_INTERLEAVE = 3,
    KMPOL_LOCAL = 4,
    KMPOL_PREFERRED_MANY = 5,
    KMPOL_WEIGHTED_INTERLEAVE = 6,
};

/* Written once at start-up (under the init lock), read-only after. */
struct inherited_policy {
    int read_error; /* 0, or -errno of get_mempolicy (seccomp: -EPERM): nothing known */
    int mode;       /* enum kernel_mpol, mode flags stripped */
    uint64_t nodes[TOPO_MAX_NODE_ID / 64];
    char text[96]; /* numactl's words: "interleave:0-1", "bind:1", "default" */
};

extern NA_HIDDEN struct inherited_policy na_inherited_policy;

/*
 * Reads the task policy and applies it (or reports what overrides it), then
 * fills in kernel or equal weights for weighted interleave. After
 * options_init and topology_init, before placement_init.
 */
void kernel_policy_apply(void);

/* Whether a task policy other than local/default was inherited. */
int kernel_policy_inherited(void);

#endif
