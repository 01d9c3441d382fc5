/*
 * numa_api.c - the explicit placement API of include/numa_alloc.h. Sizes and
 * alignments above ALLOC_MAX_REQUEST are refused (ENOMEM) by alloc_on_node,
 * where every call below that is not a small cache hit goes.
 */
#define _GNU_SOURCE
#include "numa_alloc.h"

#include "base/report.h"
#include "core/alloc.h"
#include "core/prof.h"
#include "core/stats.h"
#include "policy/placement.h"
#include "policy/topology.h"

#include <dlfcn.h>
#include <link.h>
#include <errno.h>

/*
 * numa_malloc's blocks are freed with free(): the program's, which is ours
 * only where the library was linked in or preloaded ahead of any other
 * allocator. Loaded later (dlopen: a plugin linked against it, Python's
 * ctypes) or behind another allocator, the program's free is another's, and
 * aborts on them: said once, at the first call, with what works. Weak: a
 * static program has no dlsym, and there the library is the malloc.
 */
extern void *dlsym(void *handle, const char *name) __attribute__((weak));
extern int dladdr(const void *addr, Dl_info *info) __attribute__((weak));
extern char *dlerror(void) __attribute__((weak));

static int free_checked;

/* The first object dl_iterate_phdr reports is the program: is `at` in one of its segments? */
struct in_program {
    uintptr_t at;
    bool inside;
};

static int program_holds(struct dl_phdr_info *info, size_t size, void *arg)
{
    struct in_program *where = arg;
    (void)size;
    for (unsigned i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t start = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && where->at - start < ph->p_memsz)
            where->inside = true;
    }
    return 1; /* the program only */
}

/*
 * Whether the global scope's `name` is another object's than ours. One the
 * program itself holds is not counted: an executable that takes the address
 * of free (not PIE) holds its canonical PLT entry, which dlsym returns for
 * whatever defines free (Debian's python3).
 */
static bool defined_elsewhere(const char *name, const Dl_info *ours)
{
    void *at = dlsym(RTLD_DEFAULT, name);
    Dl_info info;
    if (!at) {
        if (dlerror)
            (void)dlerror(); /* no error left for the program's next dlerror() */
        return false;
    }
    if (!dladdr(at, &info) || info.dli_fbase == ours->dli_fbase)
        return false;
    struct in_program where = {(uintptr_t)at, false};
    dl_iterate_phdr(program_holds, &where);
    return !where.inside;
}

static NA_NOINLINE NA_COLD void check_programs_free(void)
{
    __atomic_store_n(&free_checked, 1, __ATOMIC_RELAXED);
    Dl_info ours;
    if (!dlsym || !dladdr || !dladdr((const void *)check_programs_free, &ours))
        return;
    if (!defined_elsewhere("free", &ours) && !defined_elsewhere("__libc_free", &ours))
        return;
    report_warning("not the program's malloc (loaded by dlopen, or after another allocator): "
                   "its free() aborts on numa_malloc's blocks; preload numa-alloc or link the "
                   "program with it, or free them with the library's own free "
                   "(dlsym(handle, \"free\"))");
}

/*
 * Slot of `node`, or -1 with errno = EINVAL when the node cannot be used:
 * outside the cpuset at start-up, or since it left it (policy/mems_watch.h).
 * After a failed start the nodes are still known and the C library serves
 * the request (alloc_on_node), without placement.
 */
static int slot_for_node(int node)
{
    if (unlikely(!__atomic_load_n(&free_checked, __ATOMIC_RELAXED)))
        check_programs_free();
    bool usable = alloc_ensure_init() || alloc_start_failed();
    int slot = usable ? topology_slot_of_node(node) : -1;
    if (slot < 0 || !placement_slot_usable((unsigned)slot)) {
        errno = EINVAL;
        return -1;
    }
    return slot;
}

void *numa_malloc(int node, size_t size)
{
    int slot = slot_for_node(node);
    if (slot < 0)
        return NULL;
    /* Profile on: through alloc_on_node, where a sample due is taken (core/prof.h). */
    if (likely(size <= SMALL_MAX) && likely(!na_prof_on)) {
        void *ptr = alloc_small((unsigned)slot, size_class_of(size));
        if (likely(ptr != NULL)) {
            thread_cache_count_alloc((unsigned)slot, 0, true);
            return ptr;
        }
    }
    return alloc_on_node((unsigned)slot, size, 0, false);
}

void *numa_calloc(int node, size_t count, size_t size)
{
    size_t bytes;
    int slot = slot_for_node(node);
    if (slot < 0)
        return NULL;
    if (__builtin_mul_overflow(count, size, &bytes)) {
        errno = ENOMEM;
        return NULL;
    }
    return alloc_on_node((unsigned)slot, bytes, 0, true);
}

void *numa_aligned_alloc(int node, size_t alignment, size_t size)
{
    int slot = slot_for_node(node);
    if (slot < 0)
        return NULL;
    if (alignment == 0 || (alignment & (alignment - 1)) != 0) {
        errno = EINVAL;
        return NULL;
    }
    return alloc_on_node((unsigned)slot, size, alignment, false);
}

int numa_ptr_node(const void *ptr)
{
    int slot = alloc_owner_slot(ptr);
    return slot < 0 ? -1 : na_topo.slot_node[slot];
}

int numa_alloc_stats_write(int fd, int json)
{
    if (!alloc_ensure_init() && !alloc_start_failed()) {
        errno = ENOMEM;
        return -1;
    }
    return stats_write(fd, json != 0, true);
}
