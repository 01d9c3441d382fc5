/*
 * test_hugepages.c - NUMA_ALLOC_HUGEPAGES (core/hugepages.h).
 *
 * ctest runs it three times: test_hugepages with NUMA_ALLOC_HUGEPAGES=thp,
 * test_hugepages_never with never and test_hugepages_auto with auto (the
 * tests read the variable to know what to expect). The kernel must have
 * transparent huge pages in madvise or always mode
 * (/sys/kernel/mm/transparent_hugepage/enabled); otherwise the tests that
 * need them are skipped.
 *   - a large heap (96 MiB of 1 KiB blocks) gets AnonHugePages in its
 *     segments under thp and auto (past the first 64 MiB), none under never;
 *     the statistics' thp_bytes, summed over the nodes, are what
 *     /proc/self/smaps_rollup says (only our heaps ask for huge pages);
 *   - purging keeps a 2 MiB page of a segment in use whole while at least
 *     half of it is in use, and splits it below that: with one 256 KiB block
 *     in eight freed, malloc_trim leaves AnonHugePages as it was, and the
 *     freed runs read as zero when handed out again; with six in eight
 *     freed, every free page goes back (RSS: what is live, and a few MiB),
 *     the runs zeroed in place by the first purge too; once everything is
 *     freed, trim gives the memory back;
 *   - a huge object that realloc moves out of the region (core/huge_remap.h)
 *     keeps its huge pages, and the statistics count them.
 */
#include "test_util.h"

#include <criterion/criterion.h>
#include <malloc.h>
#include <sys/mman.h>

#include "numa_alloc.h"

/* A field of /proc/self/smaps_rollup in bytes (it is in kB there). */
static long long rollup_bytes(const char *key)
{
    FILE *f = fopen("/proc/self/smaps_rollup", "r");
    cr_assert_not_null(f);
    char line[256];
    long long value = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, strlen(key)) == 0 && line[strlen(key)] == ':')
            value = strtoll(line + strlen(key) + 1, NULL, 10) * 1024;
    fclose(f);
    cr_assert_geq(value, 0, "no %s in smaps_rollup", key);
    return value;
}

static const char *mode(void)
{
    const char *m = getenv("NUMA_ALLOC_HUGEPAGES");
    return m ? m : "auto";
}

/* thp_bytes of every node in the statistics, summed. */
static long long stats_thp_bytes(void)
{
    static char json[1 << 20];
    cr_assert_not_null(test_stats_json(json, sizeof json));
    long long sum = 0;
    for (int node = 0; node < 1024; node++) {
        char section[32];
        snprintf(section, sizeof section, "\"node%d\"", node);
        long long v = strstr(json, section) ? test_stats_field(json, section, "thp_bytes") : 0;
        cr_assert_geq(v, 0, "node%d has no thp_bytes:\n%.2000s", node, json);
        sum += v;
    }
    return sum;
}

#define NBLOCKS (96 * 1024)

Test(hugepages, large_heap_gets_huge_pages_as_the_mode_says)
{
    bool thp = test_kernel_has_thp();
    bool never = strcmp(mode(), "never") == 0;
    if (!never && !thp)
        cr_skip_test("no transparent huge pages in this kernel");
    void **blocks = mmap(NULL, NBLOCKS * sizeof(void *), PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    cr_assert_neq(blocks, MAP_FAILED);
    for (size_t i = 0; i < NBLOCKS; i++) {
        blocks[i] = test_launder(malloc(1024));
        cr_assert_not_null(blocks[i]);
        memset(blocks[i], 0x5a, 1024);
    }
    test_assert_ours(blocks[0]);
    long long huge = rollup_bytes("AnonHugePages");
    if (never)
        cr_assert_eq(huge, 0, "NUMA_ALLOC_HUGEPAGES=never: %lld bytes in huge pages", huge);
    else if (strcmp(mode(), "thp") == 0) /* all but the heap's own segment and the edges */
        cr_assert_geq(huge, 64LL << 20, "NUMA_ALLOC_HUGEPAGES=thp: only %lld bytes in huge pages",
                      huge);
    else /* auto: what lies past the first 64 MiB of the slot */
        cr_assert_geq(huge, 16LL << 20, "NUMA_ALLOC_HUGEPAGES=auto: only %lld bytes in huge pages",
                      huge);
    /* Only our heaps ask for huge pages: the statistics must account for all of them.
     * khugepaged may collapse a range between the two reads: one more try then. */
    long long stats = stats_thp_bytes();
    if (stats != rollup_bytes("AnonHugePages"))
        stats = stats_thp_bytes();
    cr_assert_eq(stats, rollup_bytes("AnonHugePages"), "statistics %lld, smaps %lld", stats,
                 rollup_bytes("AnonHugePages"));
    for (size_t i = 0; i < NBLOCKS; i++)
        free(blocks[i]);
    munmap(blocks, NBLOCKS * sizeof(void *));
}

#define RUN   (256 * 1024)
#define NRUNS 512 /* 128 MiB */

/* Frees the runs whose index is `which` modulo `mod`, and purges. */
static void free_runs(void **runs, size_t mod, size_t which)
{
    for (size_t i = which; i < NRUNS; i += mod)
        free(runs[i]);
    malloc_trim(0);
}

Test(hugepages, purge_keeps_huge_pages_half_in_use_whole_and_splits_the_rest)
{
    if (strcmp(mode(), "thp") != 0 || !test_kernel_has_thp())
        cr_skip_test("needs NUMA_ALLOC_HUGEPAGES=thp and a kernel with transparent huge pages");
    static void *runs[NRUNS];
    size_t rss_empty = test_rss_bytes();
    for (size_t i = 0; i < NRUNS; i++) {
        runs[i] = test_launder(malloc(RUN));
        cr_assert_not_null(runs[i]);
        memset(runs[i], 0x6d, RUN);
    }
    malloc_trim(0);
    long long before = rollup_bytes("AnonHugePages");
    cr_assert_geq(before, 64LL << 20, "only %lld bytes in huge pages", before);
    /* One run in eight: every 2 MiB page keeps more than half of it in use (the segment's
     * header and tail counted), so none may be split. */
    free_runs(runs, 8, 0);
    long long after = rollup_bytes("AnonHugePages");
    cr_assert_geq(after, before - (4LL << 20),
                  "huge pages split by the purge: %lld bytes in huge pages before, %lld after",
                  before, after);
    /* The runs freed and not given back were zeroed in place: calloc may trust them. Half of
     * them are handed out again; the other half stay free, clean and resident, each between
     * two runs in use. */
    for (size_t i = 0; i < NRUNS; i += 16) {
        runs[i] = test_launder(calloc(1, RUN));
        cr_assert_not_null(runs[i]);
        cr_assert_eq(test_bytes_check(runs[i], RUN, 0), -1, "run %zu is not zero", i);
    }
    /* Six runs in eight free: no 2 MiB page is half in use, so each is split, and all of its
     * free pages go back, the clean ones beside runs in use too. */
    free_runs(runs, 16, 0);
    for (size_t which = 2; which <= 6; which++)
        free_runs(runs, 8, which);
    size_t live = NRUNS / 4 * (size_t)RUN, rss = test_rss_bytes();
    cr_assert_lt(rss, rss_empty + live + (5u << 20),
                 "RSS %zu MiB with %zu MiB live (%zu MiB before the runs)", rss >> 20, live >> 20,
                 rss_empty >> 20);
    cr_assert_lt(rollup_bytes("AnonHugePages"), before / 4, "%lld bytes in huge pages still",
                 rollup_bytes("AnonHugePages"));
    /* Pages given back read as zero too. */
    for (size_t i = 0; i < NRUNS; i++) {
        if (i % 8 == 1 || i % 8 == 7)
            continue;
        runs[i] = test_launder(calloc(1, RUN));
        cr_assert_not_null(runs[i]);
        cr_assert_eq(test_bytes_check(runs[i], RUN, 0), -1, "run %zu is not zero", i);
    }
    /* All free: whole segments, whose memory goes back. */
    rss = test_rss_bytes();
    for (size_t i = 0; i < NRUNS; i++)
        free(runs[i]);
    malloc_trim(0);
    size_t rss_after = test_rss_bytes();
    cr_assert_lt(rss_after + (24u << 20), rss, "RSS %zu before the frees, %zu after trim", rss,
                 rss_after);
}

#define MOSTLY_UNTOUCHED ((size_t)48 << 20)

/*
 * A huge object written in one page only, freed (a dirty run: kept resident
 * for the purge delay), and handed out again, by malloc and then by calloc:
 * the allocator must not fault in the run's untouched pages. Reading each
 * interior segment header (to clear a stale one) did: under transparent huge
 * pages a read fault maps a whole 2 MiB page, so 2 MiB of every 4 MiB
 * segment became resident (the fuzzer's calloc of 505 MB over such a run
 * made 240 MiB resident; libFuzzer stopped at its 2 GiB limit once).
 */
Test(hugepages, reusing_a_mostly_untouched_run_faults_nothing_in)
{
    if (strcmp(mode(), "thp") != 0 || !test_kernel_has_thp())
        cr_skip_test("needs NUMA_ALLOC_HUGEPAGES=thp and a kernel with transparent huge pages");
    free(test_launder(malloc(1 << 20))); /* ends the young window: what is freed now stays dirty */
    unsigned char *p = test_launder(malloc(MOSTLY_UNTOUCHED));
    cr_assert_not_null(p);
    memset(p, 0x5a, 4096);
    for (int round = 0; round < 2; round++) {
        free(p);
        size_t rss = test_rss_bytes();
        unsigned char *q =
            test_launder(round ? calloc(1, MOSTLY_UNTOUCHED) : malloc(MOSTLY_UNTOUCHED));
        size_t now = test_rss_bytes(), grown = now > rss ? now - rss : 0;
        cr_assert_eq(q, p, "%s did not reuse the freed run (%p, %p): nothing tested",
                     round ? "calloc" : "malloc", (void *)q, (void *)p);
        cr_assert_lt(grown, (size_t)4 << 20,
                     "%s of a run written in one page made %zu MiB more resident",
                     round ? "calloc" : "malloc", grown >> 20);
        if (round)
            cr_assert_eq(test_bytes_check(q, MOSTLY_UNTOUCHED, 0), -1,
                         "calloc's object is not zero");
        p = q;
    }
    free(p);
}

/* AnonHugePages of the mapping /proc/self/smaps lists around `addr`, in bytes; -1 if none. */
static long long mapping_huge_bytes(const void *addr)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    cr_assert_not_null(f);
    char line[512];
    bool inside = false;
    long long value = -1;
    while (value < 0 && fgets(line, sizeof line, f)) {
        unsigned long start, end;
        if (sscanf(line, "%lx-%lx ", &start, &end) == 2) /* a mapping's first line */
            inside = (uintptr_t)addr >= start && (uintptr_t)addr < end;
        else if (inside && strncmp(line, "AnonHugePages:", 14) == 0)
            value = strtoll(line + 14, NULL, 10) * 1024;
    }
    fclose(f);
    return value;
}

/*
 * A huge object grown where the region has no room after it moves out with
 * mremap (core/huge_remap.h) at the same offset in a 2 MiB page, so that its
 * huge pages move whole: moved to wherever the kernel picks, each would be
 * split into 4 KiB mappings. Its 2 MiB pages but the two it shares with the
 * region (its first, with its segment's header, and its last) stay huge, and
 * the statistics count them for its node.
 */
Test(hugepages, a_huge_object_grown_out_of_the_region_keeps_its_huge_pages)
{
    if (strcmp(mode(), "thp") != 0 || !test_kernel_has_thp())
        cr_skip_test("needs NUMA_ALLOC_HUGEPAGES=thp and a kernel with transparent huge pages");
    const size_t size = 16 << 20;
    char *p = test_launder(malloc(size));
    cr_assert_not_null(p);
    memset(p, 0x5a, size);
    void *blockers[16];
    int n = 0;
    for (bool blocked = false; n < 16 && !blocked; n++) {
        char *b = test_launder(malloc(4 << 20));
        cr_assert_not_null(b);
        blockers[n] = b;
        blocked = b > p && b < p + (64 << 20);
    }
    long long before = mapping_huge_bytes(p);
    char *q = test_launder(realloc(p, 48 << 20));
    cr_assert_not_null(q);
    cr_assert_eq(test_bytes_check(q, size, 0x5a), -1, "realloc lost the data");
    long long after = mapping_huge_bytes(q);
    cr_assert_geq(before, (long long)size - (4 << 20),
                  "only %lld bytes of the object were huge "
                  "pages before it grew: nothing tested",
                  before);
    cr_assert_geq(after, (long long)size - (4 << 20),
                  "%lld bytes of its mapping are huge pages after it moved out (%p -> %p)", after,
                  (void *)p, (void *)q);
    long long stats = stats_thp_bytes();
    if (stats != rollup_bytes("AnonHugePages")) /* khugepaged: one more try */
        stats = stats_thp_bytes();
    cr_assert_eq(stats, rollup_bytes("AnonHugePages"), "statistics %lld, smaps %lld", stats,
                 rollup_bytes("AnonHugePages"));
    free(q);
    for (int i = 0; i < n; i++)
        free(blockers[i]);
}
