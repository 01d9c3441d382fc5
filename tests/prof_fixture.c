/* prof_fixture: real return addresses for the profile reader's test
 * (tests/test_prof_report.py). Each site function calls record(), which
 * prints the stack as glibc's backtrace() sees it (what the library's
 * libgcc unwinder records: return addresses, innermost first), less
 * record's own frame; then the executable mappings of /proc/self/maps with a
 * path. The test turns these into a profile file by hand and checks that the
 * reader names these functions and the lines marked SITE-<name> below.
 * Built with -g -O0 -fno-inline; no allocator is preloaded. */
#include <execinfo.h>
#include <stdio.h>
#include <string.h>

static void __attribute__((noinline)) record(const char *name)
{
    void *pcs[64];
    int n = backtrace(pcs, 64);
    printf("stack %s", name);
    for (int i = 1; i < n; i++) /* 0: record itself */
        printf(" %lx", (unsigned long)pcs[i]);
    printf("\n");
}

void __attribute__((noinline)) producer(void)
{
    record("producer"); /* SITE-producer */
}

void __attribute__((noinline)) consumer_local(void)
{
    record("local"); /* SITE-local */
}

/* Inlined even at -O0: its frame exists only in the debug information. */
static inline __attribute__((always_inline)) void explicit_inner(void)
{
    record("explicit"); /* SITE-explicit */
}

void __attribute__((noinline)) explicit_site(void)
{
    explicit_inner(); /* SITE-explicit-caller */
}

void __attribute__((noinline)) run_producer(void)
{
    producer(); /* SITE-run_producer */
}

int main(void)
{
    run_producer();   /* SITE-main-producer */
    consumer_local(); /* SITE-main-local */
    explicit_site();  /* SITE-main-explicit */
    FILE *maps = fopen("/proc/self/maps", "r");
    char line[4096];
    while (maps && fgets(line, sizeof line, maps)) {
        unsigned long start, end, offset;
        char perms[8];
        int path_at = 0;
        if (sscanf(line, "%lx-%lx %7s %lx %*s %*s %n", &start, &end, perms, &offset, &path_at) < 4)
            continue;
        char *path = line + path_at;
        path[strcspn(path, "\n")] = '\0';
        if (perms[2] == 'x' && path[0] == '/')
            printf("map %lx %lx %s %lx %s\n", start, end, perms, offset, path);
    }
    return 0;
}
