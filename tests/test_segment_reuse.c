/*
 * test_segment_reuse.c - segments given back and used again must not carry
 * their earlier life's bytes into the new one's metadata.
 *
 * Regression (found by the fuzzer, tests/fuzz): a huge object shrunk in place
 * by realloc gives its tail segments back as a free run whose first page still
 * holds the object's bytes. Once purged the run counts as clean, and a pages
 * segment made from it skipped clearing its header, so those bytes became page
 * tags: large objects there had a usable size of 16 and free() took them for
 * small blocks.
 */
#include "test_util.h"
#include <criterion/criterion.h>
#include <malloc.h>

Test(segment_reuse, pages_segment_from_a_shrunk_huge_tail_has_clean_tags)
{
    size_t big = 10 * MiB;
    char *huge = malloc(big);
    cr_assert(huge != NULL);
    test_assert_ours(huge);
    memset(huge, 0x01, big); /* every interior segment's first page: 0x0101 as a tag */
    char *shrunk = realloc(huge, 3 * MiB);
    cr_assert(shrunk != NULL);
    test_assert_ours(shrunk);
    malloc_trim(0); /* the tail run is purged: clean but for its first page */
    enum { N = 64 };
    static char *large[N];
    for (int i = 0; i < N; i++) { /* 64 x 100 KiB: fresh pages segments, from that run */
        large[i] = malloc(100 * KiB);
        cr_assert(large[i] != NULL);
        test_assert_ours(large[i]);
        cr_assert_geq(malloc_usable_size(large[i]), 100 * KiB,
                      "large block %d (%p): usable size %zu", i, (void *)large[i],
                      malloc_usable_size(large[i]));
        memset(large[i], i, 100 * KiB);
    }
    for (int i = 0; i < N; i++) {
        cr_assert_eq(test_bytes_check(large[i], 100 * KiB, (unsigned char)i), -1,
                     "large block %d was overwritten", i);
        free(large[i]);
    }
    free(shrunk);
}
