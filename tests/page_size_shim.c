/*
 * page_size_shim.c - an LD_PRELOAD shim, loaded before libnumapreload.so, that
 * makes getauxval(AT_PAGESZ) say 16 KiB pages (as on an arm64 or ppc64 kernel
 * built for them), for test_page_size.sh. The library's call binds to this
 * definition because the shim comes first in the lookup order. The rest goes
 * to the C library's __getauxval, not through dlsym: dlsym may allocate, and
 * here malloc is the library in the middle of its start.
 */
#include <sys/auxv.h>

#define SHIM_PAGE_SIZE 16384ul

extern unsigned long __getauxval(unsigned long type);

__attribute__((visibility("default"))) unsigned long getauxval(unsigned long type)
{
    return type == AT_PAGESZ ? SHIM_PAGE_SIZE : __getauxval(type);
}
