/*
 * test_introspection.c - glibc's malloc extras answer from numa-alloc's own
 * heaps (not glibc's, which would report an empty arena).
 */
#include "test_util.h"
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <malloc.h>

/*
 * Tuning glibc neither fails nor hands the program back to glibc: after the
 * calls, small, large and huge blocks (above the 1 MiB mmap threshold set
 * here) are still numa-alloc's.
 */
Test(introspection, mallopt_accepts_glibc_tunables)
{
    cr_assert_eq(mallopt(M_MMAP_THRESHOLD, 1 << 20), 1);
    cr_assert_eq(mallopt(M_ARENA_MAX, 2), 1);
    cr_assert_eq(mallopt(M_TRIM_THRESHOLD, -1), 1);
    static const size_t sizes[] = {100, 200 * KiB, 3 * MiB};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char *p = test_launder(malloc(sizes[i]));
        cr_assert_not_null(p);
        test_assert_ours(p);
        memset(p, 1, sizes[i]);
        free(p);
    }
}

Test(introspection, mallinfo2_follows_huge_and_large_objects)
{
    void *first = malloc(64); /* initialise */
    test_assert_ours(first);
    free(first);
    struct mallinfo2 before = mallinfo2();
    char *huge = malloc(10 * MiB);
    char *large = malloc(512 * KiB);
    cr_assert(huge && large);
    struct mallinfo2 during = mallinfo2();
    cr_assert_geq(during.hblks, before.hblks + 1);
    cr_assert_geq(during.hblkhd, before.hblkhd + 10 * MiB);
    cr_assert_geq(during.uordblks, before.uordblks + 10 * MiB + 512 * KiB);
    cr_assert_geq(during.arena, during.uordblks - during.hblkhd);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    struct mallinfo narrow = mallinfo(); /* deprecated, still called by old programs */
#pragma GCC diagnostic pop
    cr_assert_eq((size_t)narrow.hblkhd, during.hblkhd);
    free(huge);
    free(large);
    struct mallinfo2 after = mallinfo2();
    cr_assert_eq(after.hblks, before.hblks);
    cr_assert_eq(after.hblkhd, before.hblkhd);
    cr_assert_lt(after.uordblks, during.uordblks);
    cr_assert_gt(after.fordblks, 0, "freed memory is kept resident for reuse until purged");
    malloc_trim(0);
    cr_assert_eq(mallinfo2().fordblks, 0, "malloc_trim purges every free byte");
}

Test(introspection, malloc_info_writes_our_xml)
{
    void *keep = malloc(3 * MiB);
    FILE *f = tmpfile();
    cr_assert(f);
    fputs("before\n", f);
    cr_assert_eq(malloc_info(0, f), 0);
    fflush(f);
    rewind(f);
    char text[8192] = {0};
    size_t n = fread(text, 1, sizeof text - 1, f);
    cr_assert_gt(n, 0);
    cr_assert(strncmp(text, "before\n<malloc", 14) == 0, "got: %s", text);
    cr_assert(strstr(text, "allocator=\"numa-alloc\""), "got: %s", text);
    cr_assert(strstr(text, "<heap nr=\"0\""), "got: %s", text);
    cr_assert(strstr(text, "</malloc>"), "got: %s", text);
    errno = 0;
    cr_assert_eq(malloc_info(1, f), -1);
    cr_assert_eq(errno, EINVAL);
    fclose(f);
    free(keep);
}

Test(introspection, malloc_stats_prints_our_heaps, .init = cr_redirect_stderr)
{
    void *keep = malloc(5 * MiB);
    malloc_stats();
    fflush(stderr);
    FILE *err = cr_get_redirected_stderr();
    char text[4096] = {0};
    size_t n = fread(text, 1, sizeof text - 1, err);
    cr_assert_gt(n, 0);
    cr_assert(strstr(text, "(node "), "glibc's arena report instead of ours: %s", text);
    cr_assert(strstr(text, "in use bytes"), "got: %s", text);
    free(keep);
}
