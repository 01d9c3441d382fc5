/*
 * options_probe.c - allocates through numa-alloc and prints what it got; run
 * by test_options (and test_stats, test_stats_schema) under NUMA_ALLOC_*
 * variables.
 *
 * With no argument: "ok node=N" for a small block. With an argument, it also
 * shows what a variable changed:
 *   purge  frees 8 MiB of page runs (under the dirty limit), takes one more
 *          slow path and prints "purged=B dirty=B" of that node at once;
 *   live   takes slow paths for 600 ms and prints "live=yes" when its own
 *          live statistics file (<pid>.json) exists by then, "live=no" if not,
 *          and " pid=N".
 */
#define _GNU_SOURCE /* memfd_create */
#include "numa_alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static long long node_field(int node, const char *key)
{
    static char json[1 << 20];
    int fd = memfd_create("stats", 0);
    if (fd < 0 || numa_alloc_stats_write(fd, 1) != 0)
        return -1;
    ssize_t n = pread(fd, json, sizeof json - 1, 0);
    close(fd);
    if (n <= 0)
        return -1;
    json[n] = '\0';
    char section[32], pattern[64];
    snprintf(section, sizeof section, "\"node%d\"", node);
    snprintf(pattern, sizeof pattern, "\"%s\": ", key);
    const char *at = strstr(json, section);
    if (!at || !(at = strstr(at, pattern)))
        return -1;
    return strtoll(at + strlen(pattern), NULL, 10);
}

static void purge(int node)
{
    enum { N = 32, SIZE = 256 << 10 };
    static char *blocks[N];
    for (int i = 0; i < N; i++) {
        if (!(blocks[i] = malloc(SIZE)))
            exit(2);
        memset(blocks[i], 1, SIZE);
    }
    for (int i = 0; i < N; i++)
        free(blocks[i]);
    free(malloc(100000)); /* a slow path of the heap, where due purges happen */
    printf("purged=%lld dirty=%lld\n", node_field(node, "purged_bytes"),
           node_field(node, "dirty_bytes"));
}

static void live(void)
{
    char path[128];
    snprintf(path, sizeof path, "/dev/shm/numa-alloc-%u/%d.json", (unsigned)geteuid(),
             (int)getpid());
    int found = 0;
    for (int i = 0; i < 60 && !found; i++) {
        struct timespec ten_ms = {0, 10 * 1000 * 1000};
        nanosleep(&ten_ms, NULL);
        free(malloc(100000)); /* live statistics are written from the slow paths */
        found = access(path, F_OK) == 0;
    }
    printf("live=%s pid=%d\n", found ? "yes" : "no", (int)getpid());
}

int main(int argc, char **argv)
{
    char *p = malloc(1000);
    char *big = malloc(5 << 20);
    if (!p || !big)
        return 2;
    memset(p, 1, 1000);
    memset(big, 1, 5 << 20);
    int node = numa_ptr_node(p);
    printf("ok node=%d\n", node);
    free(p);
    free(big);
    if (argc > 1 && strcmp(argv[1], "purge") == 0)
        purge(node);
    if (argc > 1 && strcmp(argv[1], "live") == 0)
        live();
    return 0;
}
