/*
 * counters_probe.c - prints what the counter API answers in a process whose
 * environment the test chose (a failed start): "active V", then for a total
 * and a snapshot "rc errno". With the argument "heaps": "heaps RC N" (the
 * node heaps set up after start-up and one small block), then after a
 * block on every node numa-alloc serves "heaps RC N of SERVED".
 */
#include "numa_alloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int heaps(void)
{
    free(malloc(16));
    uint64_t ready = 0;
    int rc = numa_alloc_counter("heaps.ready", &ready);
    printf("heaps %d %llu\n", rc, (unsigned long long)ready);
    int served = 0;
    for (int node = 0; node < 1024; node++) {
        uint64_t unused;
        char name[48];
        snprintf(name, sizeof name, "node.%d.allocations", node);
        if (numa_alloc_counter(name, &unused) != 0)
            continue; /* not a node numa-alloc serves */
        served++;
        free(numa_malloc(node, 16));
    }
    rc = numa_alloc_counter("heaps.ready", &ready);
    printf("heaps %d %llu of %d\n", rc, (unsigned long long)ready, served);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "heaps") == 0)
        return heaps();
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
