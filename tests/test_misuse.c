/*
 * test_misuse.c - what happens to bad frees.
 *
 * A double free or a free of a pointer into the middle of one of our blocks
 * is reported and aborts (like glibc's "free(): double free detected"); a
 * pointer that was never ours (stack, static, mmap) is left alone and the
 * program goes on with its heap intact.
 */
#include "test_util.h"
#include <criterion/criterion.h>
#include <malloc.h>

#include <signal.h>
#include <sys/mman.h>

/* Frees `p` twice with other traffic in between, as real double frees happen. */
static void double_free(void *p)
{
    free(p);
    void *other = malloc(24);
    free(other);
    free(p);
}

Test(misuse, double_free_small_aborts, .signal = SIGABRT)
{
    double_free(malloc(32));
}

Test(misuse, double_free_small_after_flush_aborts, .signal = SIGABRT)
{
    /* The first free's block leaves the thread cache before the second free. */
    void *p = malloc(48);
    free(p);
    void *blocks[4096];
    for (size_t i = 0; i < 4096; i++)
        blocks[i] = malloc(48);
    for (size_t i = 0; i < 4096; i++)
        free(blocks[i]);
    free(p);
    void *again[4096];
    for (size_t i = 0; i < 4096; i++)
        again[i] = malloc(48);
    for (size_t i = 0; i < 4096; i++)
        free(again[i]);
}

Test(misuse, double_free_large_aborts, .signal = SIGABRT)
{
    double_free(malloc(100 * KiB));
}

Test(misuse, double_free_huge_aborts, .signal = SIGABRT)
{
    double_free(malloc(8 * MiB));
}

Test(misuse, interior_free_large_aborts, .signal = SIGABRT)
{
    char *p = malloc(200 * KiB);
    free(p + 8192);
}

Test(misuse, interior_free_huge_aborts, .signal = SIGABRT)
{
    char *p = malloc(9 * MiB);
    free(p + 5 * MiB);
}

Test(misuse, interior_free_small_aborts, .signal = SIGABRT)
{
    /* Detected when the thread cache gives the block back to its slab. */
    char *p = malloc(96);
    free(p + 16);
    malloc_trim(0);
}

Test(misuse, foreign_pointers_are_left_alone)
{
    static char in_bss[64];
    char on_stack[64];
    char *mapped = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(mapped, MAP_FAILED);
    mapped[0] = 42;
    char *live = malloc(64);
    memset(live, 7, 64);
    free(in_bss);
    free(on_stack);
    free(mapped);
    cr_assert_eq(mapped[0], 42, "memory that is not ours must stay untouched");
    cr_assert_eq(malloc_usable_size(mapped), 0);
    for (size_t i = 0; i < 64; i++)
        cr_assert_eq(live[i], 7);
    free(live);
    munmap(mapped, 4096);
}

Test(misuse, key_lookalike_user_data_is_not_a_double_free)
{
    /* User data may hold anything in the second word: a freshly allocated block
     * whose second word equals the one of a freed block must free normally. */
    void **freed = malloc(32);
    free(freed);
    void *lookalike = freed[1];
    void **p = malloc(32);
    p[1] = lookalike;
    free(p);
    free(malloc(32));
}
