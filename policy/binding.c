/* binding.c - raw mbind; see binding.h. */
#define _GNU_SOURCE
#include "policy/binding.h"

#include "policy/topology.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MPOL_PREFERRED_MODE  1
#define MPOL_INTERLEAVE_MODE 3

int binding_prefer_node(void *addr, size_t len, int node)
{
    uint64_t mask[TOPO_MAX_NODE_ID / 64] = {0};
    if (node < 0 || node >= TOPO_MAX_NODE_ID)
        return -EINVAL;
    mask[node / 64] = (uint64_t)1 << (node % 64);
    int saved = errno;
    /* maxnode counts one more than the bits the kernel reads (mbind(2)). */
    long rc = syscall(SYS_mbind, addr, len, MPOL_PREFERRED_MODE, mask,
                      (unsigned long)TOPO_MAX_NODE_ID + 1, 0UL);
    int err = rc == 0 ? 0 : -errno;
    errno = saved;
    return err;
}

static int set_policy(void *addr, size_t len, int mode, const uint64_t *mask)
{
    int saved = errno;
    long rc = syscall(SYS_mbind, addr, len, mode, mask, (unsigned long)TOPO_MAX_NODE_ID + 1, 0UL);
    int err = rc == 0 ? 0 : -errno;
    errno = saved;
    return err;
}

int binding_spread(void *addr, size_t len, const uint8_t *page_weight)
{
    /* Transparent huge pages would put 2 MiB at a time on one node (and khugepaged
     * collapses interleaved ranges onto one): spread memory stays in 4 KiB pages. */
    int saved = errno;
    madvise(addr, len, MADV_NOHUGEPAGE);
    errno = saved;
    uint64_t mask[TOPO_MAX_NODE_ID / 64] = {0};
    unsigned first_weight = 0;
    bool equal = true;
    for (int slot = 0; slot < topo.num_slots; slot++) {
        if (!page_weight[slot])
            continue;
        int node = topo.slot_node[slot];
        mask[node / 64] |= (uint64_t)1 << (node % 64);
        if (first_weight && page_weight[slot] != first_weight)
            equal = false;
        first_weight = page_weight[slot];
    }
    if (equal)
        return set_policy(addr, len, MPOL_INTERLEAVE_MODE, mask);
    /* Chunks of at least 256 KiB, at most ~512 per object: a bounded number of VMAs. */
    size_t chunk = len / 512 > ((size_t)256 << 10) ? len / 512 : (size_t)256 << 10;
    chunk = (chunk + 4095) & ~(size_t)4095;
    char *at = addr, *end = (char *)addr + len;
    while (at < end) {
        for (int slot = 0; slot < topo.num_slots && at < end; slot++) {
            for (unsigned w = 0; w < page_weight[slot] && at < end; w++) {
                size_t n = (size_t)(end - at) < chunk ? (size_t)(end - at) : chunk;
                int err = binding_prefer_node(at, n, topo.slot_node[slot]);
                if (err)
                    return err;
                at += n;
            }
        }
    }
    return 0;
}
