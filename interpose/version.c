/*
 * version.c - numa_alloc_version(), and the library run as a program.
 *
 * `numa-alloc --version` (a sh script) must say which version the library it
 * would preload is, without a compiled helper and without loading the
 * library into a program. So libnumapreload.so is runnable, as glibc's
 * libc.so.6 is: it names the dynamic loader as its interpreter (PT_INTERP,
 * NA_INTERP from CMake) and its entry point (-Wl,-e) prints one line,
 * "numa-alloc library VERSION", and exits. It can also be run as
 * `ld.so libnumapreload.so`, which needs no execute bit. Nothing else changes:
 * the dynamic loader ignores the interpreter and entry point of a library it
 * loads for a program. The entry point runs before and without the library's
 * initialisation (the loader runs no constructor of the object it runs as
 * the program), so it uses nothing but write and exit.
 */
#define _GNU_SOURCE
#include "numa_alloc.h"

#include "base/os.h"

#include <sys/syscall.h>
#include <unistd.h>

NUMA_ALLOC_API const char *numa_alloc_version(void)
{
    return NA_VERSION_STRING;
}

#ifdef NA_INTERP
const char na_interp[] __attribute__((section(".interp"), used)) = NA_INTERP;
#endif

#if defined(__x86_64__) || defined(__i386__)
/* Entered by a jump with the stack as the kernel left it, not by a call. */
#define NA_ENTRY_ALIGN __attribute__((force_align_arg_pointer))
#else
#define NA_ENTRY_ALIGN
#endif

/* The entry point (-Wl,-e,na_version_main), never called from C. */
__attribute__((noreturn, used)) NA_ENTRY_ALIGN void na_version_main(void);

void na_version_main(void)
{
    static const char line[] = "numa-alloc library " NA_VERSION_STRING "\n";
    int rc = os_write_all(STDOUT_FILENO, line, sizeof line - 1) == 0 ? 0 : 1;
    for (;;)
        syscall(SYS_exit_group, rc);
}
