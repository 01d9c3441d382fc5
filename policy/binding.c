/* binding.c - raw mbind; see binding.h. */
#define _GNU_SOURCE
#include "policy/binding.h"

#include "policy/topology.h"

#include <errno.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MPOL_PREFERRED_MODE 1

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
