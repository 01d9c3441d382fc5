/*
 * dlopen.c - a library opened with RTLD_DEEPBIND allocates from numa-alloc.
 *
 * RTLD_DEEPBIND puts a library's own dependencies ahead of the global scope,
 * and libc is one of them: its malloc, free... bind to glibc's while the rest
 * of the program's bind to ours, and glibc's free aborts on a block of ours
 * ("free(): invalid pointer"; preloaded jemalloc, mimalloc and tcmalloc fail
 * alike, and glibc 2.34 removed the hooks that reached such a library).
 *
 * So the library exports dlopen (shared library only: a static program keeps
 * libc.a's). Every call without the flag jumps to glibc's at once, so that
 * glibc reads its caller's return address as before: the caller decides the
 * namespace and, for a name without a slash, the search path (its RUNPATH).
 * A call with the flag is loaded from here, and then each object it brought
 * in has its references to the malloc family (GOT slots and pointers in its
 * data) pointed at what the global scope gives, as they would have bound
 * without the flag; the flag keeps its effect on every other symbol. What
 * cannot be loaded from here as the caller would (a name without a slash
 * from an object with a search path of its own) is left to glibc, and one
 * line says so. A library's constructors run inside dlopen, before the
 * references are pointed here: what they allocate is glibc's, which free
 * gives back to glibc and realloc takes over (core/libc_heap.c,
 * libc_heap_owns).
 */
#define _GNU_SOURCE
#include "base/os.h"
#include "base/report.h"
#include "base/textbuf.h"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

_Static_assert(sizeof(void *) == 8, "x86-64's relocations (Elf64_Rela)");

/* Weak as in core/libc_heap.c: glibc's (GLIBC_2.34) in the shared library. */
extern void *dlvsym(void *handle, const char *name, const char *version) __attribute__((weak));

/* glibc's dlopen: set once by dlopen_resolve, read by the entry below. */
__attribute__((visibility("hidden"))) void *glibc_dlopen;

__attribute__((visibility("hidden"), used)) void *dlopen_resolve(void)
{
    void *found = NULL;
    if (dlvsym) {
        found = dlvsym(RTLD_NEXT, "dlopen", "GLIBC_2.34");
        if (!found)
            found = dlvsym(RTLD_NEXT, "dlopen", "GLIBC_2.2.5");
    }
    if (found)
        __atomic_store_n(&glibc_dlopen, found, __ATOMIC_RELEASE);
    return found;
}

__attribute__((visibility("hidden"), used)) void *dlopen_deepbind(const char *file, int mode,
                                                                  const void *caller);

/*
 * dlopen(file, mode), with the caller's return address where glibc's looks
 * for it: a jump to glibc's unless RTLD_DEEPBIND; with it, dlopen_deepbind,
 * whose NULL (not loaded from here) is again a jump to glibc's, which then
 * loads or fails as it always did. dlopen's two argument registers are saved
 * around the calls, the stack kept 16-byte aligned for them.
 */
#define SAVE_ARGUMENTS                                                                             \
    "    pushq %rdi\n"                                                                             \
    "    .cfi_adjust_cfa_offset 8\n"                                                               \
    "    pushq %rsi\n"                                                                             \
    "    .cfi_adjust_cfa_offset 8\n"                                                               \
    "    subq $8, %rsp\n"                                                                          \
    "    .cfi_adjust_cfa_offset 8\n"
#define RESTORE_ARGUMENTS                                                                          \
    "    addq $8, %rsp\n"                                                                          \
    "    .cfi_adjust_cfa_offset -8\n"                                                              \
    "    popq %rsi\n"                                                                              \
    "    .cfi_adjust_cfa_offset -8\n"                                                              \
    "    popq %rdi\n"                                                                              \
    "    .cfi_adjust_cfa_offset -8\n"

_Static_assert(RTLD_DEEPBIND == 8, "the entry tests bit 3 of mode");
__asm__(".section .text.dlopen, \"ax\", @progbits\n" /* its own, as -ffunction-sections gives */
        ".globl dlopen\n"
        ".type dlopen, @function\n"
        "dlopen:\n"
        "    .cfi_startproc\n"
        "    endbr64\n"
        "    testl $8, %esi\n"
        "    jnz 1f\n"
        "2:  movq glibc_dlopen(%rip), %rax\n"
        "    testq %rax, %rax\n"
        "    jz 3f\n"
        "    jmp *%rax\n"
        "1:\n" SAVE_ARGUMENTS "    movq 24(%rsp), %rdx\n" /* the caller's return address */
        "    call dlopen_deepbind\n" RESTORE_ARGUMENTS "    testq %rax, %rax\n"
        "    jz 2b\n"
        "    ret\n"
        "3:\n" SAVE_ARGUMENTS "    call dlopen_resolve\n" RESTORE_ARGUMENTS "    testq %rax, %rax\n"
        "    jz 4f\n"
        "    jmp *%rax\n"
        "4:  ret\n" /* no dlopen of glibc's to be found: NULL */
        "    .cfi_endproc\n"
        ".size dlopen, .-dlopen\n"
        ".previous\n");

/* ---- the malloc family's names, and what the global scope binds them to --- */

static const char *const family[] = {"malloc",
                                     "free",
                                     "calloc",
                                     "realloc",
                                     "reallocarray",
                                     "memalign",
                                     "aligned_alloc",
                                     "posix_memalign",
                                     "valloc",
                                     "pvalloc",
                                     "malloc_usable_size",
                                     "malloc_trim",
                                     "mallopt",
                                     "mallinfo",
                                     "mallinfo2",
                                     "malloc_stats",
                                     "malloc_info",
                                     "free_sized",
                                     "free_aligned_sized",
                                     "__libc_malloc",
                                     "__libc_free",
                                     "__libc_calloc",
                                     "__libc_realloc",
                                     "__libc_memalign",
                                     "__libc_valloc",
                                     "__libc_pvalloc",
                                     "__libc_mallopt",
                                     "__libc_mallinfo",
                                     "cfree"};
#define FAMILY_SIZE (sizeof family / sizeof family[0])

/*
 * For each name of the family, what the library's references are pointed
 * at: the global scope's definition (ours, or the program's own), where the
 * library's own scope finds the C library's; else NULL, and they are left
 * as they are (a library that brings an allocator of its own keeps it).
 * Every object a RTLD_DEEPBIND dlopen loads searches the opened object's
 * scope first, which dlsym(handle) searches.
 */
struct targets {
    void *to[FAMILY_SIZE];
};

static void find_targets(void *handle, void *glibc_function, struct targets *t)
{
    Dl_info libc, at;
    if (!dladdr(glibc_function, &libc))
        return;
    for (size_t i = 0; i < FAMILY_SIZE; i++) {
        void *global = dlsym(RTLD_DEFAULT, family[i]);
        void *own = dlsym(handle, family[i]);
        if (global && own && own != global && dladdr(own, &at) && at.dli_fbase == libc.dli_fbase)
            t->to[i] = global;
    }
    (void)dlerror(); /* the names the library's scope has not: no error of the caller's */
}

static void *target_of(const struct targets *t, const char *name)
{
    for (size_t i = 0; i < FAMILY_SIZE; i++)
        if (strcmp(name, family[i]) == 0)
            return t->to[i];
    return NULL;
}

/* ---- one loaded object's references ------------------------------------ */

/* A dynamic tag's address: glibc relocates them in place, a loader that does not leaves offsets. */
static uintptr_t dyn_address(uintptr_t base, Elf64_Addr ptr)
{
    return ptr < base ? base + ptr : ptr;
}

struct object {
    const struct targets *targets;
    uintptr_t base, relro_start, relro_end;
    const Elf64_Sym *symtab;
    const char *strtab;
    size_t strsz;
    unsigned pointed, refused;
};

/*
 * Writes value into the word at slot. A word on a page of RELRO, which glibc
 * made read-only after relocation, is opened for it and closed again; the
 * last page of RELRO, when it is shared with writable data, glibc left
 * writable, and so it stays.
 */
static bool write_word(struct object *obj, uintptr_t slot, uintptr_t value)
{
    uintptr_t *word = (uintptr_t *)slot;
    if (slot < obj->relro_start || slot >= obj->relro_end) {
        __atomic_store_n(word, value, __ATOMIC_RELAXED);
        return true;
    }
    void *page = (void *)(slot & ~(uintptr_t)OS_PAGE_MASK);
    if (os_commit(page, OS_PAGE_SIZE) != 0)
        return false;
    __atomic_store_n(word, value, __ATOMIC_RELAXED);
    (void)os_make_read_only(page, OS_PAGE_SIZE);
    return true;
}

static void point_relocations(struct object *obj, uintptr_t table, size_t bytes)
{
    const Elf64_Rela *rela = (const Elf64_Rela *)table;
    for (size_t i = 0; i < bytes / sizeof *rela; i++) {
        unsigned type = ELF64_R_TYPE(rela[i].r_info);
        if (type != R_X86_64_JUMP_SLOT && type != R_X86_64_GLOB_DAT && type != R_X86_64_64)
            continue;
        const Elf64_Sym *sym = &obj->symtab[ELF64_R_SYM(rela[i].r_info)];
        if (ELF64_R_SYM(rela[i].r_info) == 0 || sym->st_shndx != SHN_UNDEF ||
            sym->st_name >= obj->strsz)
            continue; /* defined by the object itself: its own wins, flag or not */
        void *target = target_of(obj->targets, obj->strtab + sym->st_name);
        if (!target)
            continue;
        uintptr_t value =
            (uintptr_t)target + (type == R_X86_64_64 ? (uintptr_t)rela[i].r_addend : 0);
        uintptr_t slot = obj->base + rela[i].r_offset;
        if (*(const uintptr_t *)slot == value)
            continue;
        if (write_word(obj, slot, value))
            obj->pointed++;
        else
            obj->refused++;
    }
}

/* Points one object's references to the malloc family at the global scope's definitions. */
static void point_object(const struct dl_phdr_info *info, struct object *obj)
{
    const Elf64_Dyn *dyn = NULL;
    obj->base = info->dlpi_addr;
    for (unsigned i = 0; i < info->dlpi_phnum; i++) {
        const Elf64_Phdr *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_DYNAMIC)
            dyn = (const Elf64_Dyn *)(obj->base + ph->p_vaddr);
        if (ph->p_type == PT_GNU_RELRO) { /* the pages glibc made read-only: whole ones */
            obj->relro_start = (obj->base + ph->p_vaddr) & ~(uintptr_t)OS_PAGE_MASK;
            obj->relro_end = (obj->base + ph->p_vaddr + ph->p_memsz) & ~(uintptr_t)OS_PAGE_MASK;
        }
    }
    if (!dyn)
        return;
    uintptr_t jmprel = 0, rela = 0;
    size_t jmprel_bytes = 0, rela_bytes = 0;
    bool plt_rela = true;
    for (; dyn->d_tag != DT_NULL; dyn++) {
        switch (dyn->d_tag) {
        case DT_SYMTAB:
            obj->symtab = (const Elf64_Sym *)dyn_address(obj->base, dyn->d_un.d_ptr);
            break;
        case DT_STRTAB:
            obj->strtab = (const char *)dyn_address(obj->base, dyn->d_un.d_ptr);
            break;
        case DT_STRSZ:
            obj->strsz = dyn->d_un.d_val;
            break;
        case DT_JMPREL:
            jmprel = dyn_address(obj->base, dyn->d_un.d_ptr);
            break;
        case DT_PLTRELSZ:
            jmprel_bytes = dyn->d_un.d_val;
            break;
        case DT_PLTREL:
            plt_rela = dyn->d_un.d_val == DT_RELA;
            break;
        case DT_RELA:
            rela = dyn_address(obj->base, dyn->d_un.d_ptr);
            break;
        case DT_RELASZ:
            rela_bytes = dyn->d_un.d_val;
            break;
        default:
            break;
        }
    }
    if (!obj->symtab || !obj->strtab)
        return;
    if (jmprel && plt_rela)
        point_relocations(obj, jmprel, jmprel_bytes);
    if (rela)
        point_relocations(obj, rela, rela_bytes);
}

/* ---- the objects a dlopen brought in ----------------------------------- */

/*
 * The opened object and every object after it in its namespace's list: what
 * this dlopen loaded comes after it (its dependencies, in load order), and
 * so may what other threads loaded since. Pointing those too changes
 * nothing: an object bound without the flag has the global scope's
 * definitions already. Objects of other namespaces are never in the chain:
 * their global scope, and their libc, are others.
 */
struct walk {
    const struct link_map *first;
    struct targets targets;
    unsigned pointed, refused;
};

static bool in_chain(const struct link_map *first, const struct dl_phdr_info *info)
{
    for (const struct link_map *map = first; map; map = map->l_next)
        if (map->l_addr == info->dlpi_addr && map->l_name == info->dlpi_name)
            return true;
    return false;
}

static int point_new_object(struct dl_phdr_info *info, size_t size, void *arg)
{
    struct walk *walk = arg;
    (void)size;
    if (!in_chain(walk->first, info))
        return 0;
    struct object obj = {.targets = &walk->targets};
    point_object(info, &obj);
    walk->pointed += obj.pointed;
    walk->refused += obj.refused;
    return 0;
}

/* True when the object at `caller` searches for a bare name with a path of its own (RPATH,
 * RUNPATH). */
static bool caller_has_search_path(const void *caller)
{
    Dl_info info;
    struct link_map *map = NULL;
    if (!dladdr1(caller, &info, (void **)&map, RTLD_DL_LINKMAP) || !map || !map->l_ld)
        return true; /* not an object glibc knows: its search is glibc's to make */
    for (const Elf64_Dyn *dyn = map->l_ld; dyn->d_tag != DT_NULL; dyn++)
        if (dyn->d_tag == DT_RPATH || dyn->d_tag == DT_RUNPATH)
            return true;
    return false;
}

static void say(const char *file, const char *what)
{
    char line[512];
    struct textbuf tb;
    tb_init(&tb, line, sizeof line);
    tb_str(&tb, "dlopen(\"");
    tb_str(&tb, file);
    tb_str(&tb, "\", RTLD_DEEPBIND): ");
    tb_str(&tb, what);
    report_warning(line);
}

void *dlopen_deepbind(const char *file, int mode, const void *caller)
{
    void *(*open)(const char *, int) = NULL;
    void *resolved = __atomic_load_n(&glibc_dlopen, __ATOMIC_ACQUIRE);
    if (!resolved)
        resolved = dlopen_resolve();
    if (!resolved || !file)
        return NULL; /* glibc's to answer (dlopen(NULL): the program itself) */
    if (!strchr(file, '/') && caller_has_search_path(caller)) {
        say(file, "left to the C library, as its caller has a search path of its own: its "
                  "malloc and free stay glibc's");
        return NULL;
    }
    memcpy(&open, &resolved, sizeof open);
    void *handle = open(file, mode);
    if (!handle)
        return NULL; /* again from the caller: glibc's answer, and its dlerror */
    struct walk walk = {0};
    struct link_map *first = NULL;
    if (dlinfo(handle, RTLD_DI_LINKMAP, &first) != 0 || !first)
        return handle;
    walk.first = first;
    find_targets(handle, resolved, &walk.targets);
    dl_iterate_phdr(point_new_object, &walk);
    if (walk.refused)
        say(file, "some of its references to malloc and free could not be pointed at "
                  "numa-alloc's (mprotect refused): they stay glibc's");
    return handle;
}
