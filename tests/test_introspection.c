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
    cr_assert_geq(during.uordblks, before.uordblks + 512 * KiB, "huge objects are hblkhd's");
    cr_assert_eq(during.arena, during.uordblks + during.fordblks);
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
    cr_assert_gt(after.keepcost, 0, "freed memory is kept resident for reuse until purged");
    cr_assert_geq(after.fordblks, after.keepcost);
    malloc_trim(0);
    cr_assert_eq(mallinfo2().keepcost, 0, "malloc_trim purges every free page run");
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

/*
 * mallinfo2 counts what the program holds (mallinfo(3)): blocks of known
 * sizes move uordblks (small blocks and page runs) and hblkhd (huge objects)
 * by exactly their usable sizes, and back on free: exact, since only this
 * thread allocates. (It used to count whole slabs: 2.5 MB for 0.5 MB held.)
 */
Test(introspection, mallinfo2_counts_exactly_the_bytes_held)
{
    static const size_t sizes[] = {1,        24,        100,     1000,    3000,
                                   40 * KiB, 100 * KiB, 1 * MiB, 3 * MiB, 10 * MiB + 5};
    enum { N = sizeof sizes / sizeof sizes[0], EACH = 50 };
    static void *blocks[N][EACH];
    free(malloc(64)); /* this thread's cache exists */
    struct mallinfo2 before = mallinfo2();
    size_t small_large = 0, huge = 0, huge_count = 0;
    for (size_t i = 0; i < N; i++) {
        for (int j = 0; j < (sizes[i] > 2 * MiB ? 2 : EACH); j++) {
            blocks[i][j] = malloc(sizes[i]);
            size_t usable = malloc_usable_size(blocks[i][j]);
            *(sizes[i] > 2 * MiB ? &huge : &small_large) += usable;
            huge_count += sizes[i] > 2 * MiB;
        }
    }
    struct mallinfo2 during = mallinfo2();
    for (size_t i = 0; i < N; i++)
        for (int j = 0; j < EACH; j++)
            free(blocks[i][j]);
    struct mallinfo2 after = mallinfo2();
    cr_assert_eq(during.uordblks - before.uordblks, small_large, "uordblks grew by %zu, not %zu",
                 during.uordblks - before.uordblks, small_large);
    cr_assert_eq(during.hblkhd - before.hblkhd, huge);
    cr_assert_eq(during.hblks - before.hblks, huge_count);
    cr_assert_eq(during.arena, during.uordblks + during.fordblks);
    cr_assert_eq(after.uordblks, before.uordblks, "uordblks %zu after the frees, %zu before",
                 after.uordblks, before.uordblks);
    cr_assert_eq(after.hblkhd, before.hblkhd);
    cr_assert_eq(after.hblks, before.hblks);
}

/* The number after `key` in text, at its last occurrence when `last`. */
static size_t number_after(const char *text, const char *key, bool last)
{
    const char *at = strstr(text, key), *next;
    cr_assert(at, "no %s in %s", key, text);
    while (last && (next = strstr(at + 1, key)))
        at = next;
    return (size_t)strtoull(at + strlen(key), NULL, 10);
}

/* malloc_info's XML and malloc_stats's text give mallinfo2's numbers. */
Test(introspection, malloc_info_and_malloc_stats_agree_with_mallinfo2, .init = cr_redirect_stderr)
{
    void *keep[3] = {malloc(1000), malloc(300 * KiB), malloc(5 * MiB)};
    FILE *f = tmpfile();
    cr_assert(f);
    fputs("x", f); /* its buffer now, not between mallinfo2 and malloc_info */
    fflush(f);
    fputs("", stderr);
    struct mallinfo2 info = mallinfo2();
    cr_assert_eq(malloc_info(0, f), 0);
    malloc_stats();
    static char xml[16384], text[4096];
    rewind(f);
    xml[fread(xml, 1, sizeof xml - 1, f)] = '\0';
    fclose(f);
    fflush(stderr);
    text[fread(text, 1, sizeof text - 1, cr_get_redirected_stderr())] = '\0';
    cr_assert_eq(number_after(xml, "<total type=\"rest\" count=\"0\" size=\"", true), info.fordblks,
                 "%s", xml);
    cr_assert_eq(number_after(xml, "<total type=\"mmap\" count=\"", true), info.hblks, "%s", xml);
    cr_assert_eq(number_after(strstr(xml, "<total type=\"mmap\""), "size=\"", false), info.hblkhd,
                 "%s", xml);
    cr_assert_eq(number_after(xml, "<system type=\"current\" size=\"", true), info.arena, "%s",
                 xml);
    const char *total = strstr(text, "Total (incl. mmap):");
    cr_assert(total, "%s", text);
    cr_assert_eq(number_after(total, "system bytes     = ", false), info.arena + info.hblkhd, "%s",
                 text);
    cr_assert_eq(number_after(total, "in use bytes     = ", false), info.uordblks + info.hblkhd,
                 "%s", text);
    size_t arenas = 0; /* the per-node arenas, before the total */
    for (const char *at = text; (at = strstr(at, "in use bytes     = ")) && at < total; at++)
        arenas += number_after(at, "in use bytes     = ", false);
    cr_assert_eq(arenas, info.uordblks, "the arenas hold uordblks: %s", text);
    for (int i = 0; i < 3; i++)
        free(keep[i]);
}
