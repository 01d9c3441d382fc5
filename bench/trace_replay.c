/*
 * trace_replay.c - replays a malloc trace (bench/malloc_trace.c) under the
 * allocator of the process (LD_PRELOAD), writing every byte of each block it
 * mallocs, and prints how much the replay raised the peak and the current
 * resident set: what the allocator's layout costs for that program's calls,
 * without the program (docs/benchmarks.md, round twenty).
 *
 *   trace_replay TRACE [MIN MAX]
 *
 * MIN MAX: only the blocks of MIN < size <= MAX (and their frees). Prints one
 * line: "peak KIB rss KIB blocks N", the peak and the current resident set
 * over the replay against the resident set before it (the trace loaded, the
 * peak reset through /proc/self/clear_refs). Every block written
 * whole is an upper bound on what the program touches: Python reads a
 * module into a buffer of the file's size, sqlite3 fills its pages. Exit 2
 * on a malformed trace, 1 when a malloc fails.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct op {
    uintptr_t address; /* the block's address in the traced run: the replay's key */
    size_t size;       /* 0: a free */
};

/* An open-addressing table from the traced address to the replay's block. */
struct slot {
    uintptr_t address;
    void *block;
};

static struct slot *table;
static size_t table_mask;

static size_t slot_of(uintptr_t address)
{
    return (size_t)((address >> 4) * 0x9e3779b97f4a7c15u >> 20) & table_mask;
}

static void table_put(uintptr_t address, void *block)
{
    size_t i = slot_of(address);
    while (table[i].address)
        i = (i + 1) & table_mask;
    table[i] = (struct slot){address, block};
}

/* Removes the entry of `address` and returns its block; NULL when there is none. */
static void *table_take(uintptr_t address)
{
    size_t i = slot_of(address);
    while (table[i].address && table[i].address != address)
        i = (i + 1) & table_mask;
    if (!table[i].address)
        return NULL;
    void *block = table[i].block;
    table[i].address = 0;
    /* Reinserts the rest of the cluster, which may have probed past the hole. */
    for (size_t j = (i + 1) & table_mask; table[j].address; j = (j + 1) & table_mask) {
        struct slot moved = table[j];
        table[j].address = 0;
        table_put(moved.address, moved.block);
    }
    return block;
}

static long status_kib(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    size_t n = strlen(field);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, field, n) == 0)
            kib = atol(line + n);
    if (f)
        fclose(f);
    return kib;
}

int main(int argc, char **argv)
{
    if (argc != 2 && argc != 4) {
        fprintf(stderr, "usage: trace_replay TRACE [MIN MAX]\n");
        return 2;
    }
    size_t lo = argc == 4 ? strtoull(argv[2], NULL, 10) : 0;
    size_t hi = argc == 4 ? strtoull(argv[3], NULL, 10) : SIZE_MAX;
    size_t count = 0, cap = 1 << 16;
    struct op *ops = malloc(cap * sizeof *ops);
    if (!ops) {
        fprintf(stderr, "trace_replay: no memory for the trace\n");
        return 1;
    }
    FILE *f = fopen(argv[1], "r");
    if (!f) {
        perror(argv[1]);
        exit(2);
    }
    char line[128];
    while (fgets(line, sizeof line, f)) {
        char kind;
        void *address;
        size_t size = 0;
        int fields = sscanf(line, "%c %p %zu", &kind, &address, &size);
        if (fields < 2 || (kind == '+' && fields != 3) || (kind != '+' && kind != '-')) {
            fprintf(stderr, "trace_replay: %s: not a trace line: %s", argv[1], line);
            exit(2);
        }
        if (count == cap) {
            struct op *more = realloc(ops, 2 * cap * sizeof *ops);
            if (!more) {
                fprintf(stderr, "trace_replay: no memory for the trace\n");
                exit(1);
            }
            ops = more;
            cap *= 2;
        }
        ops[count++] = (struct op){(uintptr_t)address, kind == '+' ? (size ? size : 1) : 0};
    }
    fclose(f);
    size_t slots = 1024;
    while (slots < 2 * count)
        slots *= 2;
    table = calloc(slots, sizeof *table);
    if (!table) {
        fprintf(stderr, "trace_replay: no memory for the trace\n");
        return 1;
    }
    table_mask = slots - 1;
    /* The table's pages are touched now, not during the replay. */
    memset(table, 0, slots * sizeof *table);
    /* The peak starts at the current resident set (5 > clear_refs: Linux 4.0 and later). */
    FILE *clear = fopen("/proc/self/clear_refs", "w");
    if (!clear || fputs("5", clear) < 0 || fclose(clear) != 0) {
        fprintf(stderr, "trace_replay: cannot reset the peak (/proc/self/clear_refs)\n");
        return 1;
    }
    long rss_before = status_kib("VmRSS:");
    size_t blocks = 0;
    for (size_t i = 0; i < count; i++) {
        if (ops[i].size == 0) {
            free(table_take(ops[i].address));
            continue;
        }
        if (ops[i].size <= lo || ops[i].size > hi)
            continue;
        void *block = malloc(ops[i].size);
        if (!block) {
            fprintf(stderr, "trace_replay: malloc(%zu) failed\n", ops[i].size);
            return 1;
        }
        memset(block, 0x5a, ops[i].size);
        free(table_take(ops[i].address)); /* an address the trace reused without a free */
        table_put(ops[i].address, block);
        blocks++;
    }
    printf("peak %ld rss %ld blocks %zu\n", status_kib("VmHWM:") - rss_before,
           status_kib("VmRSS:") - rss_before, blocks);
    return 0;
}
