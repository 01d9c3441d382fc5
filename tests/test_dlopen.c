/*
 * test_dlopen.c - libraries loaded and unloaded at run time allocate and free
 * through numa-alloc, including memory that crosses between them and the program.
 */
#include "test_util.h"
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <dlfcn.h>
#include <malloc.h>
#include <string.h>

#include "numa_alloc.h"

Test(dlopen, load_allocate_unload_cycles)
{
    for (int round = 0; round < 200; round++) {
        void *lib = dlopen(DL_ALLOCATING_PATH, RTLD_NOW | RTLD_LOCAL);
        cr_assert(lib, "dlopen: %s", dlerror());
        char *(*make)(size_t, int) = (char *(*)(size_t, int))dlsym(lib, "dl_make");
        void (*release)(void *) = (void (*)(void *))dlsym(lib, "dl_release");
        cr_assert(make && release);
        size_t size = (size_t)(round % 7) * 40000 + 24;
        char *theirs = make(size, round & 0xff);
        cr_assert(theirs);
        cr_assert_neq(numa_ptr_node(theirs), -1, "the library's malloc must be ours");
        for (size_t i = 0; i < size; i++)
            cr_assert_eq((unsigned char)theirs[i], (unsigned)(round & 0xff));
        char *ours = malloc(size);
        memset(ours, 1, size);
        release(ours); /* freed inside the library */
        cr_assert_eq(dlclose(lib), 0);
        free(theirs); /* allocated inside the (now unloaded) library */
    }
}

/*
 * RTLD_DEEPBIND puts the library's own dependencies, libc among them, ahead
 * of the global scope: without interpose/dlopen.c its malloc and free were
 * glibc's, and glibc's free aborted on a block of ours ("free(): invalid
 * pointer"). Lazy (PLT slots bound on first call) and immediate binding.
 */
static void deepbind_round_trips(int binding)
{
    for (int round = 0; round < 50; round++) {
        void *lib = dlopen(DL_ALLOCATING_PATH, binding | RTLD_LOCAL | RTLD_DEEPBIND);
        cr_assert(lib, "dlopen: %s", dlerror());
        char *(*make)(size_t, int) = (char *(*)(size_t, int))dlsym(lib, "dl_make");
        void (*release)(void *) = (void (*)(void *))dlsym(lib, "dl_release");
        cr_assert(make && release);
        size_t size = (size_t)(round % 5) * 30000 + 40;
        char *theirs = make(size, round & 0xff);
        cr_assert(theirs);
        cr_assert_neq(numa_ptr_node(theirs), -1,
                      "round %d: the RTLD_DEEPBIND library's malloc is not numa-alloc's", round);
        char *ours = malloc(size);
        cr_assert(ours);
        memset(ours, 2, size);
        release(ours); /* glibc's free aborted here */
        free(theirs);
        cr_assert_eq(dlclose(lib), 0);
    }
}

Test(dlopen, deepbind_library_allocates_from_numa_alloc_lazy)
{
    deepbind_round_trips(RTLD_LAZY);
}

Test(dlopen, deepbind_library_allocates_from_numa_alloc_now)
{
    deepbind_round_trips(RTLD_NOW);
}

/* The dependency a RTLD_DEEPBIND library brings in binds alike; so do pointers in its data. */
Test(dlopen, deepbind_dependency_and_data_pointers)
{
    void *lib = dlopen(DL_DEEP_OUTER_PATH, RTLD_NOW | RTLD_DEEPBIND);
    cr_assert(lib, "dlopen: %s", dlerror());
    char *(*make)(size_t, int) = (char *(*)(size_t, int))dlsym(lib, "dl_outer_make");
    char *(*grow)(char *, size_t) = (char *(*)(char *, size_t))dlsym(lib, "dl_outer_grow");
    void (*release)(void *) = (void (*)(void *))dlsym(lib, "dl_outer_release");
    void *(*zeroed)(size_t) = (void *(*)(size_t))dlsym(lib, "dl_outer_calloc");
    cr_assert(make && grow && release && zeroed);
    char *theirs = make(100, 7);
    cr_assert(theirs);
    cr_assert_neq(numa_ptr_node(theirs), -1, "the dependency's malloc is not numa-alloc's");
    char *ours = malloc(1000);
    cr_assert(ours);
    memset(ours, 3, 1000);
    ours = grow(ours, 100000); /* glibc's realloc aborted here */
    cr_assert(ours);
    for (size_t i = 0; i < 1000; i++)
        cr_assert_eq(ours[i], 3);
    release(ours);
    free(theirs);
    unsigned char *z = zeroed(5000);
    cr_assert(z);
    cr_assert_neq(numa_ptr_node(z), -1, "calloc through a pointer in the data is not numa-alloc's");
    for (size_t i = 0; i < 5000; i++)
        cr_assert_eq(z[i], 0);
    free(z);
    /*
     * What its constructor allocated inside dlopen is glibc's: realloc takes
     * it over (a block of glibc's main arena, one it mapped, a thread arena's).
     */
    char *(*grow_early)(int, size_t) = (char *(*)(int, size_t))dlsym(lib, "dl_outer_grow_early");
    cr_assert(grow_early);
    static const size_t early_size[] = {1000, 1 << 20, 3000};
    for (int kind = 0; kind < 3; kind++) {
        char *early = grow_early(kind, early_size[kind] + 100000);
        cr_assert(early, "realloc of the constructor's block %d refused", kind);
        cr_assert_neq(numa_ptr_node(early), -1, "the constructor's block %d did not become ours",
                      kind);
        for (size_t i = 0; i < early_size[kind]; i++)
            cr_assert_eq(early[i], 0x33 + kind, "block %d, byte %zu", kind, i);
    }
    cr_assert_eq(dlclose(lib), 0);
}

/*
 * A name without a slash is searched with the caller's path (this program's
 * RUNPATH: the directory of libnumapreload.so, where only this library is):
 * glibc takes the caller from its return address, so dlopen must reach
 * glibc's as a jump. With RTLD_DEEPBIND such a load is left to glibc, and one
 * line says so.
 */
Test(dlopen, a_name_is_searched_with_the_callers_path)
{
    void *lib = dlopen(RUNPATH_PROBE_NAME, RTLD_NOW);
    cr_assert(lib, "dlopen(\"%s\") by name: %s", RUNPATH_PROBE_NAME, dlerror());
    cr_assert_eq(dlclose(lib), 0);
    cr_assert_null(dlopen("libnuma-alloc-no-such-library.so", RTLD_NOW));
    const char *why = dlerror();
    cr_assert(why && strstr(why, "libnuma-alloc-no-such-library.so"), "dlerror: %s", why);
}

Test(dlopen, deepbind_by_name_from_a_caller_with_a_path_is_glibcs, .init = cr_redirect_stderr)
{
    void *lib = dlopen(RUNPATH_PROBE_NAME, RTLD_NOW | RTLD_DEEPBIND);
    cr_assert(lib, "dlopen(\"%s\", RTLD_DEEPBIND) by name: %s", RUNPATH_PROBE_NAME, dlerror());
    cr_assert_eq(dlclose(lib), 0);
    fflush(stderr);
    cr_assert_stderr_eq_str("numa-alloc: dlopen(\"" RUNPATH_PROBE_NAME
                            "\", RTLD_DEEPBIND): left to the C library, as its caller has a "
                            "search path of its own: its malloc and free stay glibc's\n");
}

/* A RTLD_DEEPBIND library that brings an allocator of its own keeps it for its dependencies. */
Test(dlopen, deepbind_library_with_its_own_malloc_keeps_it)
{
    void *lib = dlopen(DL_DEEP_ARENA_PATH, RTLD_NOW | RTLD_DEEPBIND);
    cr_assert(lib, "dlopen: %s", dlerror());
    const char *error = dlerror();
    cr_assert_null(error, "a dlopen that succeeded left an error: %s", error);
    char *(*make)(size_t, int) = (char *(*)(size_t, int))dlsym(lib, "dl_arena_make");
    int (*holds)(const void *) = (int (*)(const void *))dlsym(lib, "dl_arena_holds");
    cr_assert(make && holds);
    char *p = make(100, 9);
    cr_assert(p);
    cr_assert(holds(p), "the dependency's malloc is not the library's own (%p)", (void *)p);
    cr_assert_eq(numa_ptr_node(p), -1);
    char *q = malloc(10); /* the program's malloc is still numa-alloc's */
    cr_assert_neq(numa_ptr_node(q), -1);
    free(q);
}
