/*
 * counters_probe.c - prints what the counter API answers in a process whose
 * environment the test chose (a failed start): "active V", then for a total
 * and a snapshot "rc errno".
 */
#include "numa_alloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
    free(malloc(16)); /* the start, whatever its outcome */
    uint64_t value = 7;
    int rc = numa_alloc_counter("active", &value);
    printf("active %d %llu\n", rc, (unsigned long long)value);
    errno = 0;
    rc = numa_alloc_counter("total.allocations", &value);
    printf("total %d %d\n", rc, errno);
    struct numa_alloc_node_counters nodes[4];
    errno = 0;
    rc = numa_alloc_snapshot_nodes(nodes, 4, sizeof nodes[0]);
    printf("nodes %d %d\n", rc, errno);
    return 0;
}
