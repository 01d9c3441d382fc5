/*
 * consumer.c - the program a user of an installed numa-alloc writes (issue 15):
 * built by test_package.sh with pkg-config, with find_package(numa-alloc),
 * as a subproject, and statically. It prints what it found; the script checks.
 *   consumer          numa-alloc serves: its malloc is ours, numa_malloc places
 *   consumer fallback numa-alloc could not start (the script makes it fail):
 *                     every call still works, from the fallback allocator
 * Exit 0 when every check held, 1 otherwise.
 */
#include <numa_alloc.h>

#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* glibc exports these (GLIBC_2.2.5) without declaring them. */
extern void *__libc_malloc(size_t size);
extern void __libc_free(void *ptr);

static int failed;

static void expect(int ok, const char *what)
{
    printf("%s: %s\n", ok ? "ok" : "FAIL", what);
    failed |= !ok;
}

int main(int argc, char **argv)
{
    int fallback = argc > 1 && strcmp(argv[1], "fallback") == 0;
    char header[32];
    snprintf(header, sizeof header, "%d.%d.%d", NUMA_ALLOC_VERSION_MAJOR, NUMA_ALLOC_VERSION_MINOR,
             NUMA_ALLOC_VERSION_PATCH);
    printf("version %s (header %s)\n", numa_alloc_version(), header);
    expect(strcmp(numa_alloc_version(), header) == 0, "the library's version is the header's");

    char *small = malloc(100);
    expect(small != NULL, "malloc(100)");
    memset(small, 'x', 100);
    int node = numa_ptr_node(small);
    printf("malloc node %d\n", node);
    expect(fallback ? node == -1 : node >= 0,
           fallback ? "malloc is the fallback's" : "malloc is numa-alloc's");

    char *placed = numa_malloc(0, 1 << 20);
    expect(placed != NULL, "numa_malloc(0, 1 MiB)");
    memset(placed, 1, 1 << 20);
    expect(numa_ptr_node(placed) == (fallback ? -1 : 0), "numa_malloc's block is on node 0");

    char *grown = realloc(small, 1 << 16);
    expect(grown != NULL && grown[99] == 'x', "realloc keeps the contents");
    expect(malloc_usable_size(grown) >= 1 << 16, "malloc_usable_size");
    void *aligned = aligned_alloc(4096, 5000);
    expect(aligned != NULL && ((uintptr_t)aligned & 4095) == 0, "aligned_alloc(4096)");
    int *zeroed = calloc(1000, sizeof(int));
    expect(zeroed != NULL && zeroed[999] == 0, "calloc");
    char *copy = strdup("from the C library's own code");
    expect(copy != NULL && numa_ptr_node(copy) == node,
           "strdup (libc calls malloc) is served alike");

    /* glibc's other names, which some programs call: ours too (static: libc.a's stay out). */
    char *named = __libc_malloc(64);
    expect(named != NULL && numa_ptr_node(named) == node, "__libc_malloc is served alike");
    __libc_free(named);
    __libc_free(strdup("freed by __libc_free"));

    free(copy);
    free(zeroed);
    free(aligned);
    free(grown);
    free(placed);
    return failed;
}
