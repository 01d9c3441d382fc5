/*
 * test_version.c - the version in its three places (issue 15): the header's
 * NUMA_ALLOC_VERSION_* macros, numa_alloc_version() of the library, and
 * CMake's project() version (PROJECT_VERSION), which names the shared
 * library's file and its SONAME; and the library run as a program says it.
 */
#include "test_util.h" /* first: it defines _GNU_SOURCE */

#include "numa_alloc.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#define STR_(x) #x
#define STR(x)  STR_(x)
#define HEADER_VERSION                                                                             \
    STR(NUMA_ALLOC_VERSION_MAJOR)                                                                  \
    "." STR(NUMA_ALLOC_VERSION_MINOR) "." STR(NUMA_ALLOC_VERSION_PATCH)

Test(version, header_macros_are_the_project_version)
{
    cr_expect_str_eq(HEADER_VERSION, PROJECT_VERSION);
}

Test(version, library_reports_the_project_version)
{
    cr_expect_str_eq(numa_alloc_version(), PROJECT_VERSION);
}

Test(version, library_file_is_named_after_the_version)
{
    const char *suffix = ".so." PROJECT_VERSION;
    size_t n = strlen(NUMAPRELOAD_PATH), m = strlen(suffix);
    cr_assert(n > m);
    cr_expect_str_eq(NUMAPRELOAD_PATH + n - m, suffix);
}

/* Run as a program (as `numa-alloc --version` runs it), the library prints its version. */
Test(version, running_the_library_prints_its_version)
{
    FILE *out = popen("'" NUMAPRELOAD_PATH "'", "r");
    cr_assert_not_null(out);
    char line[128] = "";
    cr_expect_not_null(fgets(line, sizeof line, out));
    int status = pclose(out);
    cr_expect_str_eq(line, "numa-alloc library " PROJECT_VERSION "\n");
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exit status %d", status);
}
