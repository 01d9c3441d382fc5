/*
 * test_dlopen.c - libraries loaded and unloaded at run time allocate and free
 * through numa-alloc, including memory that crosses between them and the program.
 */
#include "test_util.h"
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <malloc.h>

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
