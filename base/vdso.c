/* vdso.c - the vDSO's clock_gettime, found by its dynamic symbol table; see vdso.h. */
#define _GNU_SOURCE
#include "base/vdso.h"

#include "base/compiler.h"
#include "base/parse.h"

#include <elf.h>
#include <errno.h>
#include <link.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/auxv.h>

#if defined(__x86_64__)
#define VDSO_CLOCK_GETTIME "__vdso_clock_gettime"
#elif defined(__aarch64__)
#define VDSO_CLOCK_GETTIME "__kernel_clock_gettime"
#endif

#if __SIZEOF_POINTER__ == 8
#define SYM_TYPE ELF64_ST_TYPE
#define SYM_BIND ELF64_ST_BIND
#else
#define SYM_TYPE ELF32_ST_TYPE
#define SYM_BIND ELF32_ST_BIND
#endif

typedef int (*clock_fn)(clockid_t, struct timespec *);

/* The C library's, as the vDSO's are called: 0 or -errno, errno left as it was. */
static int libc_clock_gettime(clockid_t id, struct timespec *ts)
{
    int saved = errno;
    int rc = clock_gettime(id, ts) == 0 ? 0 : -errno;
    errno = saved;
    return rc;
}

#ifdef VDSO_CLOCK_GETTIME
/* Whether symbol name `name` is `want`: all of it, no more (parse_skip: no C library call). */
static bool same_name(const char *name, const char *want)
{
    const char *rest = parse_skip(name, want);
    return rest && *rest == '\0';
}

/*
 * The function in the vDSO's dynamic symbols, or NULL. The image is the
 * kernel's, mapped whole and read-only: its headers are trusted as a loaded
 * library's are. Addresses in its dynamic section are link-time ones, offset
 * by where the first loadable segment landed. DT_HASH gives the number of
 * symbols (the kernel links the vDSO with it on x86-64 and arm64).
 */
static clock_fn vdso_lookup(void)
{
    uintptr_t base = (uintptr_t)getauxval(AT_SYSINFO_EHDR);
    if (!base)
        return NULL;
    const ElfW(Ehdr) *ehdr = (const ElfW(Ehdr) *)base;
    if (ehdr->e_ident[EI_MAG0] != ELFMAG0 || ehdr->e_ident[EI_MAG1] != ELFMAG1 ||
        ehdr->e_ident[EI_MAG2] != ELFMAG2 || ehdr->e_ident[EI_MAG3] != ELFMAG3 ||
        ehdr->e_ident[EI_CLASS] != (sizeof(void *) == 8 ? ELFCLASS64 : ELFCLASS32))
        return NULL;
    const ElfW(Phdr) *phdr = (const ElfW(Phdr) *)(base + ehdr->e_phoff);
    uintptr_t load = 0;
    bool loaded = false;
    const ElfW(Dyn) *dyn = NULL;
    for (unsigned i = 0; i < ehdr->e_phnum; i++) {
        if (phdr[i].p_type == PT_LOAD && !loaded) {
            load = base + phdr[i].p_offset - phdr[i].p_vaddr;
            loaded = true;
        } else if (phdr[i].p_type == PT_DYNAMIC) {
            dyn = (const ElfW(Dyn) *)(base + phdr[i].p_offset);
        }
    }
    if (!loaded || !dyn)
        return NULL;
    const ElfW(Sym) *symtab = NULL;
    const char *strtab = NULL;
    const Elf32_Word *hash = NULL;
    for (; dyn->d_tag != DT_NULL; dyn++) {
        if (dyn->d_tag == DT_SYMTAB)
            symtab = (const ElfW(Sym) *)(load + dyn->d_un.d_ptr);
        else if (dyn->d_tag == DT_STRTAB)
            strtab = (const char *)(load + dyn->d_un.d_ptr);
        else if (dyn->d_tag == DT_HASH)
            hash = (const Elf32_Word *)(load + dyn->d_un.d_ptr);
    }
    if (!symtab || !strtab || !hash)
        return NULL;
    for (Elf32_Word i = 0; i < hash[1]; i++) { /* hash[1]: nchain, the number of symbols */
        const ElfW(Sym) *sym = &symtab[i];
        if (SYM_TYPE(sym->st_info) == STT_FUNC && sym->st_shndx != SHN_UNDEF &&
            (SYM_BIND(sym->st_info) == STB_GLOBAL || SYM_BIND(sym->st_info) == STB_WEAK) &&
            same_name(strtab + sym->st_name, VDSO_CLOCK_GETTIME))
            return (clock_fn)(load + sym->st_value);
    }
    return NULL;
}
#else
static clock_fn vdso_lookup(void)
{
    return NULL;
}
#endif

/* The function to call, once looked up (NULL until then); written the same by every thread. */
static clock_fn clock_call NA_HOT_BSS;
static bool clock_in_vdso NA_HOT_BSS;

static NA_NOINLINE clock_fn clock_resolve(void)
{
    clock_fn fn = vdso_lookup();
    __atomic_store_n(&clock_in_vdso, fn != NULL, __ATOMIC_RELAXED);
    if (!fn)
        fn = libc_clock_gettime;
    __atomic_store_n(&clock_call, fn, __ATOMIC_RELEASE);
    return fn;
}

int vdso_clock_gettime(clockid_t id, struct timespec *ts)
{
    clock_fn fn = __atomic_load_n(&clock_call, __ATOMIC_ACQUIRE);
    if (unlikely(!fn))
        fn = clock_resolve();
    return fn(id, ts);
}

int vdso_clock_found(void)
{
    if (!__atomic_load_n(&clock_call, __ATOMIC_ACQUIRE))
        clock_resolve();
    return __atomic_load_n(&clock_in_vdso, __ATOMIC_RELAXED);
}
