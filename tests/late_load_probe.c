/*
 * late_load_probe.c - numa-alloc loaded late: by dlopen, as a plugin's
 * dependency (argv[1]), in a program not linked with it. numa_malloc still
 * serves, its first call says in one line that the program's free() is not
 * numa-alloc's, and the library's own free (dlsym on the handle) takes the
 * blocks back. Preloaded, nothing is said. Exit 0 when all holds; the line is
 * checked by the caller (stderr). Built with CANONICAL_FREE (not PIE, free's
 * address taken in code), the program holds free's canonical PLT entry,
 * which dlsym returns (as in Debian's python3): not another allocator's free.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "late_load_probe: FAIL: " __VA_ARGS__);                                    \
        fputc('\n', stderr);                                                                       \
        exit(1);                                                                                   \
    } while (0)

void (*volatile program_free)(void *);

int main(int argc, char **argv)
{
    if (argc != 2)
        FAIL("usage: late_load_probe PLUGIN");
#ifdef CANONICAL_FREE
    program_free = free; /* in code, not PIE: free's canonical PLT entry in the program */
#else
    *(void **)&program_free = dlsym(RTLD_DEFAULT, "free");
#endif
    void *plugin = dlopen(argv[1], RTLD_NOW);
    if (!plugin)
        FAIL("dlopen(%s): %s", argv[1], dlerror());
    void *(*plugin_numa_malloc)(size_t);
    void (*library_free)(void *);
    void *(*library_malloc)(size_t);
    int (*ptr_node)(const void *);
    *(void **)&plugin_numa_malloc = dlsym(plugin, "plugin_numa_malloc");
    *(void **)&library_free = dlsym(plugin, "free");
    *(void **)&library_malloc = dlsym(plugin, "malloc");
    *(void **)&ptr_node = dlsym(plugin, "numa_ptr_node");
    if (!plugin_numa_malloc || !library_free || !ptr_node || !library_malloc)
        FAIL("a name is missing: %s", dlerror());
    for (int i = 0; i < 100; i++) {
        size_t size = (size_t)1 << (i % 22);
        char *block = plugin_numa_malloc(size);
        if (!block || ptr_node(block) != 0)
            FAIL("numa_malloc(0, %zu) = %p, node %d", size, (void *)block,
                 block ? ptr_node(block) : -1);
        memset(block, 7, size);
        library_free(block);
    }
    char *theirs = malloc(100); /* the program's: glibc's, or numa-alloc's when preloaded */
    memset(theirs, 1, 100);
    program_free(theirs);
    printf("served, freed with the library's free; the program's malloc is %s\n",
           library_malloc == (void *(*)(size_t))dlsym(RTLD_DEFAULT, "malloc") ? "numa-alloc"
                                                                              : "another");
    return 0;
}
