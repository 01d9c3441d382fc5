/* binding.c - raw mbind; see binding.h. */
#define _GNU_SOURCE
#include "policy/binding.h"

#include "base/bitmap.h"
#include "base/os.h"
#include "policy/capabilities.h"
#include "policy/topology.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MPOL_PREFERRED_MODE  1
#define MPOL_INTERLEAVE_MODE 3
#define MPOL_F_ADDR_FLAG     2 /* get_mempolicy: the policy of an address */
#define MPOL_MF_MOVE_FLAG    2 /* mbind: move the range's pages that lie elsewhere */

/* The nodemask in the kernel's format: as many bits as node ids. */
typedef uint64_t node_mask[TOPO_MAX_NODE_ID / 64];

/* Raw mbind: 0 or -errno, errno preserved. */
static int set_policy_flags(void *addr, size_t len, int mode, const uint64_t *mask,
                            unsigned long flags)
{
    int saved = errno;
    /* maxnode counts one more than the bits the kernel reads (mbind(2)). */
    long rc = syscall(SYS_mbind, addr, len, mode, mask, (unsigned long)TOPO_MAX_NODE_ID + 1, flags);
    int err = rc == 0 ? 0 : -errno;
    errno = saved;
    return err;
}

static int set_policy(void *addr, size_t len, int mode, const uint64_t *mask)
{
    return set_policy_flags(addr, len, mode, mask, 0);
}

/* Counts a refused call against every node of `mask`: their memory has no policy there. */
static void count_refusal(const uint64_t *mask)
{
    for (int node = 0; node < TOPO_MAX_NODE_ID; node++)
        if (bitmap_test(mask, (size_t)node))
            placement_fault_count(node, FAULT_BIND);
}

/* MPOL_PREFERRED for `node` on the range, its mask left in `mask`; 0 or -errno (nothing counted).
 */
static int prefer(void *addr, size_t len, int node, node_mask mask)
{
    if (node < 0 || node >= TOPO_MAX_NODE_ID)
        return -EINVAL;
    bitmap_set(mask, (size_t)node); /* the only bit: the mask comes zeroed */
    return set_policy(addr, len, MPOL_PREFERRED_MODE, mask);
}

int binding_prefer_node(void *addr, size_t len, int node)
{
    node_mask mask = {0};
    int err = prefer(addr, len, node, mask);
    if (err && err != -EINVAL)
        count_refusal(mask);
    return err;
}

int binding_prefer_node_again(void *addr, size_t len, int node)
{
    if (node < 0 || node >= TOPO_MAX_NODE_ID)
        return -EINVAL;
    node_mask mask = {0};
    bitmap_set(mask, (size_t)node);
    int err = set_policy_flags(addr, len, MPOL_PREFERRED_MODE, mask, MPOL_MF_MOVE_FLAG);
    if (err)
        count_refusal(mask);
    return err;
}

int binding_spread(void *addr, size_t len, const uint8_t *page_weight)
{
    node_mask mask = {0};
    unsigned first_weight = 0;
    bool equal = true;
    for (int slot = 0; slot < na_topo.num_slots; slot++) {
        if (!page_weight[slot])
            continue;
        int node = na_topo.slot_node[slot];
        bitmap_set(mask, (size_t)node);
        if (first_weight && page_weight[slot] != first_weight)
            equal = false;
        first_weight = page_weight[slot];
    }
    /* Transparent huge pages would put 2 MiB at a time on one node (and khugepaged
     * collapses interleaved ranges onto one): spread memory stays in 4 KiB pages.
     * EINVAL: a kernel without THP, where there is nothing to prevent. */
    int saved = errno;
    int err = madvise(addr, len, MADV_NOHUGEPAGE) == 0 || errno == EINVAL ? 0 : -errno;
    errno = saved;
    if (!err && equal)
        err = set_policy(addr, len, MPOL_INTERLEAVE_MODE, mask);
    if (err) {
        count_refusal(mask);
        return err;
    }
    if (equal)
        return 0;
    /* Chunks of at least 256 KiB, at most ~512 per object: a bounded number of VMAs. */
    size_t chunk = len / 512 > ((size_t)256 << 10) ? len / 512 : (size_t)256 << 10;
    chunk = os_page_round_up(chunk);
    char *at = addr, *end = (char *)addr + len;
    while (at < end) {
        for (int slot = 0; slot < na_topo.num_slots && at < end; slot++) {
            for (unsigned w = 0; w < page_weight[slot] && at < end; w++) {
                size_t n = (size_t)(end - at) < chunk ? (size_t)(end - at) : chunk;
                err = binding_prefer_node(at, n, na_topo.slot_node[slot]);
                if (err)
                    return err;
                at += n;
            }
        }
    }
    return 0;
}

int binding_probe(void *addr, size_t len, int node)
{
    node_mask mask = {0};
    int err = prefer(addr, len, node, mask);
    if (err)
        return err;
    node_mask read_back = {0};
    int mode = -1, saved = errno;
    long rc = syscall(SYS_get_mempolicy, &mode, read_back, (unsigned long)TOPO_MAX_NODE_ID + 1,
                      addr, (unsigned long)MPOL_F_ADDR_FLAG);
    errno = saved;
    if (rc != 0)
        return 0;
    bool same = mode == MPOL_PREFERRED_MODE;
    for (unsigned i = 0; i < BITMAP_WORDS(TOPO_MAX_NODE_ID); i++)
        same = same && read_back[i] == mask[i];
    return same ? 0 : -EOPNOTSUPP;
}
