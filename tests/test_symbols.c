/*
 * test_symbols.c - the library's dynamic symbol table is clean.
 *
 *  - every exported (defined) dynamic symbol is in the allowed set: the
 *    malloc family, the C++ operator delete family, the numa_* API, and
 *    _init/_fini and version nodes;
 *  - no symbol name exported by libnuma is exported by us;
 *  - the library imports no stdio/getenv/strdup/libnuma function;
 *  - it has no libnuma NEEDED entry.
 *
 * NUMAPRELOAD_PATH and LIBNUMA_PATH are set by tests/CMakeLists.txt.
 */
#include "test_util.h"

#include <criterion/criterion.h>

#ifndef NUMAPRELOAD_PATH
#error "NUMAPRELOAD_PATH must be defined"
#endif
#ifndef LIBNUMA_PATH
#error "LIBNUMA_PATH must be defined"
#endif

#define MAX_SYMS 4096
#define NAME_LEN 512

typedef struct {
    size_t n;
    char type[MAX_SYMS];
    char name[MAX_SYMS][NAME_LEN];
} symtab;

/* Runs `nm -D <options> <path>` and collects (type, name) with any
 * @version / @@version suffix stripped. */
static void read_syms(symtab *t, const char *options, const char *path)
{
    char cmd[1024], line[1024];
    snprintf(cmd, sizeof cmd, "LC_ALL=C nm -D %s '%s' 2>&1", options, path);
    FILE *f = popen(cmd, "r");
    cr_assert_not_null(f, "cannot run: %s", cmd);
    t->n = 0;
    int bad_line = 0;
    while (fgets(line, sizeof line, f)) {
        char a[512], b[512], c[512];
        int k = sscanf(line, "%511s %511s %511s", a, b, c);
        const char *type, *name;
        if (k == 3) { /* value type name */
            type = b;
            name = c;
        } else if (k == 2) { /* type name (undefined) */
            type = a;
            name = b;
        } else {
            continue;
        }
        if (strlen(type) != 1) {
            bad_line = 1;
            continue;
        }
        cr_assert_lt(t->n, MAX_SYMS);
        t->type[t->n] = type[0];
        size_t len = strlen(name); /* < 512: bounded by the %511s above */
        memcpy(t->name[t->n], name, len + 1);
        char *at = strchr(t->name[t->n], '@');
        if (at)
            *at = '\0';
        t->n++;
    }
    int status = pclose(f);
    cr_assert_eq(status, 0, "`%s` failed (status %d)", cmd, status);
    cr_assert_eq(bad_line, 0, "unexpected output from `%s`", cmd);
}

/* Appends " name" to a fixed-size report (silently stops when full). */
static void report_add(char *report, size_t cap, const char *name)
{
    if (strlen(report) + strlen(name) + 2 < cap) {
        strcat(report, " ");
        strcat(report, name);
    }
}

static int in_list(const char *name, const char *const *list)
{
    for (size_t i = 0; list[i]; i++)
        if (strcmp(name, list[i]) == 0)
            return 1;
    return 0;
}

static const char *const allowed[] = {
    /* malloc family */
    "malloc", "free", "calloc", "realloc", "reallocarray", "posix_memalign", "aligned_alloc",
    "memalign", "valloc", "pvalloc", "malloc_usable_size", "malloc_trim", "free_sized",
    "free_aligned_sized", "mallopt", "mallinfo", "mallinfo2", "malloc_stats", "malloc_info",
    /* glibc's other names for them (interpose/malloc.c) */
    "__libc_malloc", "__libc_calloc", "__libc_realloc", "__libc_memalign", "__libc_valloc",
    "__libc_pvalloc", "__libc_free", "__libc_mallopt", "__libc_mallinfo", "cfree",
    /* the C library's, so that a library opened with RTLD_DEEPBIND allocates from us
     * (interpose/dlopen.c) */
    "dlopen",
    /* the explicit API */
    "numa_malloc", "numa_calloc", "numa_aligned_alloc", "numa_ptr_node", "numa_alloc_stats_write",
    "numa_alloc_version",
    /* the C library's own, to say what a limit on the address space set after the
     * start does (interpose/rlimit.c) */
    "setrlimit", "setrlimit64", "prlimit", "prlimit64",
    /* and what RLIMIT_MEMLOCK does to the reservation under mlockall */
    "mlockall", "munlockall",
    /* the counter API */
    "numa_alloc_counter", "numa_alloc_snapshot_nodes", "numa_alloc_snapshot_threads",
#ifdef NUMA_ALLOC_DEBUG
    "numa_alloc_debug_check", /* debug builds only: the whole-heap check for tests */
    "numa_alloc_debug_on_race", "numa_alloc_debug_hand_back", /* and race points (race_points.h) */
    "numa_alloc_debug_clock_reads",  /* and the clock's readings (base/os.h) */
    "numa_alloc_debug_young_reopen", /* and the young arenas reopened (young_arena.h) */
#endif
    /* may be present in any shared object */
    "_init", "_fini", NULL};

/* The C++ "free" names: operator delete and delete[] in all their standard
 * overloads (sized, aligned, nothrow), which a malloc replacement may
 * define. */
static int is_cxx_operator(const char *name)
{
    static const char *const prefixes[] = {"_ZdlPv", "_ZdaPv", NULL};
    for (size_t i = 0; prefixes[i]; i++)
        if (strncmp(name, prefixes[i], strlen(prefixes[i])) == 0)
            return 1;
    return 0;
}

Test(symbols, exports_only_allowed_names)
{
    static symtab t;
    read_syms(&t, "--defined-only", NUMAPRELOAD_PATH);
    cr_assert_gt(t.n, 0, "no exported symbols in %s", NUMAPRELOAD_PATH);
    char bad[4096] = "";
    size_t nbad = 0;
    int seen_api = 0;
    for (size_t i = 0; i < t.n; i++) {
        const char *name = t.name[i];
        if (t.type[i] == 'A') /* version node definition */
            continue;
        if (in_list(name, allowed) || is_cxx_operator(name)) {
            if (strcmp(name, "numa_malloc") == 0 || strcmp(name, "malloc") == 0)
                seen_api++;
            continue;
        }
        nbad++;
        report_add(bad, sizeof bad, name);
    }
    cr_assert_eq(nbad, 0, "%zu exported symbols outside the allowed set:%s", nbad, bad);
    cr_assert_eq(seen_api, 2, "malloc and numa_malloc must both be exported");
}

Test(symbols, no_libnuma_names_exported)
{
    static symtab ours, numa;
    read_syms(&ours, "--defined-only", NUMAPRELOAD_PATH);
    read_syms(&numa, "--defined-only", LIBNUMA_PATH);
    cr_assert_gt(numa.n, 20, "libnuma (%s) exports only %zu symbols?", LIBNUMA_PATH, numa.n);
    char bad[4096] = "";
    size_t nbad = 0;
    for (size_t i = 0; i < ours.n; i++) {
        for (size_t j = 0; j < numa.n; j++) {
            if (strcmp(ours.name[i], numa.name[j]) == 0 && strcmp(ours.name[i], "_init") != 0 &&
                strcmp(ours.name[i], "_fini") != 0) {
                nbad++;
                report_add(bad, sizeof bad, ours.name[i]);
                break;
            }
        }
    }
    cr_assert_eq(nbad, 0, "%zu libnuma symbol names exported:%s", nbad, bad);
}

Test(symbols, no_forbidden_imports)
{
    static symtab t;
    /* The fortified (_chk) and v* variants are the same functions. */
    static const char *const forbidden[] = {
        "printf",         "fprintf",         "puts",           "fopen",          "fwrite",
        "snprintf",       "sprintf",         "getenv",         "strdup",         "secure_getenv",
        "vprintf",        "vfprintf",        "vsnprintf",      "vsprintf",       "fputs",
        "fopen64",        "__printf_chk",    "__fprintf_chk",  "__snprintf_chk", "__sprintf_chk",
        "__vfprintf_chk", "__vsnprintf_chk", "__vsprintf_chk", "__strdup",       NULL};
    read_syms(&t, "--undefined-only", NUMAPRELOAD_PATH);
    char bad[4096] = "";
    size_t nbad = 0;
    for (size_t i = 0; i < t.n; i++) {
        const char *name = t.name[i];
        if (in_list(name, forbidden) || strncmp(name, "numa_", 5) == 0) {
            nbad++;
            report_add(bad, sizeof bad, name);
        }
    }
    cr_assert_eq(nbad, 0, "%zu forbidden undefined symbols imported:%s", nbad, bad);
}

Test(symbols, no_libnuma_needed)
{
    char cmd[1024], line[1024];
    snprintf(cmd, sizeof cmd, "LC_ALL=C readelf -d '%s' 2>&1", NUMAPRELOAD_PATH);
    FILE *f = popen(cmd, "r");
    cr_assert_not_null(f);
    int needed = 0, numa = 0;
    char which[sizeof line] = "";
    while (fgets(line, sizeof line, f)) {
        if (!strstr(line, "(NEEDED)"))
            continue;
        needed++;
        if (strstr(line, "libnuma")) {
            numa = 1;
            memcpy(which, line, sizeof which);
        }
    }
    int status = pclose(f);
    cr_assert_eq(status, 0, "`%s` failed", cmd);
    cr_assert_gt(needed, 0, "no NEEDED entries: is %s a shared library?", NUMAPRELOAD_PATH);
    cr_assert_eq(numa, 0, "the library depends on libnuma: %s", which);
}
