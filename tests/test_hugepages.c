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
 *   - purging keeps a huge page of a segment in use whole: with every other
 *     256 KiB block freed, malloc_trim leaves AnonHugePages as it was (each
 *     2 MiB page still holds live blocks), the freed runs read as zero when
 *     handed out again, and once everything is freed, trim gives the memory
 *     back.
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

static bool kernel_has_thp(void)
{
    char buf[128] = "";
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    if (f) {
        if (!fgets(buf, sizeof buf, f))
            buf[0] = '\0';
        fclose(f);
    }
    return strstr(buf, "[madvise]") || strstr(buf, "[always]");
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
    bool thp = kernel_has_thp();
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

Test(hugepages, purge_keeps_huge_pages_of_segments_in_use_whole)
{
    if (strcmp(mode(), "thp") != 0 || !kernel_has_thp())
        cr_skip_test("needs NUMA_ALLOC_HUGEPAGES=thp and a kernel with transparent huge pages");
    static void *runs[NRUNS];
    for (size_t i = 0; i < NRUNS; i++) {
        runs[i] = test_launder(malloc(RUN));
        cr_assert_not_null(runs[i]);
        memset(runs[i], 0x6d, RUN);
    }
    malloc_trim(0);
    long long before = rollup_bytes("AnonHugePages");
    cr_assert_geq(before, 64LL << 20, "only %lld bytes in huge pages", before);
    /* Every other run: no 2 MiB page is wholly free, so none may be split. */
    for (size_t i = 0; i < NRUNS; i += 2)
        free(runs[i]);
    malloc_trim(0);
    long long after = rollup_bytes("AnonHugePages");
    cr_assert_geq(after, before - (4LL << 20),
                  "huge pages split by the purge: %lld bytes in huge pages before, %lld after",
                  before, after);
    /* The runs freed and not given back were zeroed in place: calloc may trust them. */
    for (size_t i = 0; i < NRUNS; i += 2) {
        runs[i] = test_launder(calloc(1, RUN));
        cr_assert_not_null(runs[i]);
        cr_assert_eq(test_bytes_check(runs[i], RUN, 0), -1, "run %zu is not zero", i);
    }
    /* All free: whole segments, whose memory goes back. */
    size_t rss = test_rss_bytes();
    for (size_t i = 0; i < NRUNS; i++)
        free(runs[i]);
    malloc_trim(0);
    size_t rss_after = test_rss_bytes();
    cr_assert_lt(rss_after + (100u << 20), rss, "RSS %zu before the frees, %zu after trim", rss,
                 rss_after);
}
