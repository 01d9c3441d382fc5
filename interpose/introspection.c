/*
 * introspection.c - glibc's malloc extras: mallopt, mallinfo, mallinfo2,
 * malloc_stats, malloc_info, with glibc's meanings (mallinfo(3)), our huge
 * objects (above 2 MiB) standing for glibc's mmapped chunks:
 *   uordblks = bytes of the small and large blocks the program holds: the
 *              sum of their malloc_usable_size() (counted on every malloc and
 *              free, per thread: exact for what the calling thread did, the
 *              other threads' latest operations may or may not be seen)
 *   hblks, hblkhd = huge objects: their count, and their usable bytes
 *   fordblks = free space the heaps hold for small and large blocks: free
 *              blocks in slabs and thread caches, free page runs not yet
 *              given back to the kernel
 *   arena    = uordblks + fordblks: what the heaps hold from the kernel for
 *              them (purged pages are not held)
 *   keepcost = the free page runs malloc_trim(0) would give back now
 * so, as in glibc, uordblks + hblkhd is what the program holds, arena +
 * hblkhd what the allocator holds. ordblks, smblks, usmblks, fsmblks: 0 (no
 * counterpart; glibc's usmblks is 0 too).
 */
#define _GNU_SOURCE
#include "base/os.h"
#include "base/textbuf.h"
#include "core/alloc.h"
#include "core/node_heap.h"
#include "core/thread_cache.h"
#include "interpose/export.h"
#include "policy/topology.h"

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <unistd.h>

/* One heap's figures, in mallinfo2's words. */
struct usage {
    size_t in_use;     /* uordblks */
    size_t free;       /* fordblks */
    size_t system;     /* arena */
    size_t releasable; /* keepcost */
    size_t huge_count; /* hblks */
    size_t huge_bytes; /* hblkhd */
};

/*
 * A slot's usage from its heap's totals and the bytes the threads hold there
 * (`live`, huge objects included). Read at slightly different moments while
 * other threads work: a difference that would go below 0 is 0.
 */
static void usage_of(unsigned slot, uint64_t live, struct usage *u, struct usage *sum)
{
    struct heap_totals t = {0};
    if (heap_is_ready(slot)) /* else never used: all 0 */
        heap_totals(node_heap_of(slot), &t);
    size_t held = t.active > t.huge_bytes ? t.active - t.huge_bytes : 0; /* slabs, page runs */
    u->huge_count = t.huge_count;
    u->huge_bytes = t.huge_bytes;
    u->in_use = live > t.huge_bytes ? (size_t)live - t.huge_bytes : 0;
    u->free = (held > u->in_use ? held - u->in_use : 0) + t.dirty;
    u->system = u->in_use + u->free;
    u->releasable = t.dirty;
    sum->in_use += u->in_use;
    sum->free += u->free;
    sum->system += u->system;
    sum->releasable += u->releasable;
    sum->huge_count += u->huge_count;
    sum->huge_bytes += u->huge_bytes;
}

/* Slots whose live bytes are read at a time: what usage keeps on the stack whatever the count. */
#define USAGE_BATCH 64

/* Every slot's usage to each(slot, usage, arg) (each may be NULL), and the sum. */
static void usage(void (*each)(unsigned slot, const struct usage *u, void *arg), void *arg,
                  struct usage *sum)
{
    uint64_t live[USAGE_BATCH]; /* on the stack: no lock of ours to leave held over a fork */
    *sum = (struct usage){0};
    for (unsigned first = 0; first < na_region.num_slots; first += USAGE_BATCH) {
        unsigned count = na_region.num_slots - first;
        count = count < USAGE_BATCH ? count : USAGE_BATCH;
        thread_cache_live_bytes(first, count, live);
        for (unsigned i = 0; i < count; i++) {
            struct usage one;
            usage_of(first + i, live[i], &one, sum);
            if (each)
                each(first + i, &one, arg);
        }
    }
}

/* A heap's heading in glibc's words: before, the slot (glibc's arena), between, the node, after. */
static void heap_heading(struct textbuf *tb, unsigned slot, const char *before, const char *between,
                         const char *after)
{
    tb_str(tb, before);
    tb_u64(tb, slot);
    tb_str(tb, between);
    tb_u64(tb, (uint64_t)na_topo.slot_node[slot]);
    tb_str(tb, after);
}

/*
 * Options of glibc's that have no meaning here (arenas, mmap threshold, trim
 * threshold, top pad, perturb, ...) are accepted and ignored, as glibc does for
 * ones that do not apply: a program tuning glibc keeps working.
 */
NA_EXPORT int mallopt(int param, int value)
{
    (void)param;
    (void)value;
    return 1;
}

NA_EXPORT struct mallinfo2 mallinfo2(void)
{
    struct mallinfo2 info = {0};
    struct usage sum;
    usage(NULL, NULL, &sum);
    info.arena = sum.system;
    info.hblks = sum.huge_count;
    info.hblkhd = sum.huge_bytes;
    info.uordblks = sum.in_use;
    info.fordblks = sum.free;
    info.keepcost = sum.releasable;
    return info;
}

static int clamp_int(size_t v)
{
    return v > (size_t)__INT_MAX__ ? __INT_MAX__ : (int)v;
}

NA_EXPORT struct mallinfo mallinfo(void)
{
    struct mallinfo2 wide = mallinfo2();
    struct mallinfo info = {0};
    info.arena = clamp_int(wide.arena);
    info.hblks = clamp_int(wide.hblks);
    info.hblkhd = clamp_int(wide.hblkhd);
    info.uordblks = clamp_int(wide.uordblks);
    info.fordblks = clamp_int(wide.fordblks);
    info.keepcost = clamp_int(wide.keepcost);
    return info;
}

/* glibc's __libc_ names for mallopt and mallinfo (GLIBC_2.2.5): see interpose/malloc.c. */
NA_EXPORT int __libc_mallopt(int param, int value) NA_ALIAS_OF(mallopt);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations" /* as glibc's own mallinfo is */
NA_EXPORT struct mallinfo __libc_mallinfo(void) NA_ALIAS_OF(mallinfo);
#pragma GCC diagnostic pop

/*
 * The layout glibc's malloc_stats prints, one "Arena" per node, on stderr:
 * system bytes = arena, in use bytes = uordblks; the total adds the huge
 * objects (hblkhd) to both. "max mmap regions/bytes" are glibc's peaks; we
 * keep none, and print the huge objects live now.
 */
static void stats_arena(unsigned slot, const struct usage *u, void *arg)
{
    struct textbuf *tb = arg;
    heap_heading(tb, slot, "Arena ", " (node ", "):\nsystem bytes     = ");
    tb_u64(tb, u->system);
    tb_str(tb, "\nin use bytes     = ");
    tb_u64(tb, u->in_use);
    tb_str(tb, "\n");
}

NA_EXPORT void malloc_stats(void)
{
    char buf[4096];
    struct textbuf tb;
    tb_init_fd(&tb, buf, sizeof buf, 2); /* written as it fills: one arena per node */
    struct usage sum;
    usage(stats_arena, &tb, &sum);
    tb_str(&tb, "Total (incl. mmap):\nsystem bytes     = ");
    tb_u64(&tb, sum.system + sum.huge_bytes);
    tb_str(&tb, "\nin use bytes     = ");
    tb_u64(&tb, sum.in_use + sum.huge_bytes);
    tb_str(&tb, "\nmax mmap regions = ");
    tb_u64(&tb, sum.huge_count);
    tb_str(&tb, "\nmax mmap bytes   = ");
    tb_u64(&tb, sum.huge_bytes);
    tb_str(&tb, "\n");
    tb_flush(&tb);
}

static void xml_total(struct textbuf *tb, const char *type, size_t count, size_t size)
{
    tb_str(tb, "<total type=\"");
    tb_str(tb, type);
    tb_str(tb, "\" count=\"");
    tb_u64(tb, count);
    tb_str(tb, "\" size=\"");
    tb_u64(tb, size);
    tb_str(tb, "\"/>\n");
}

static void xml_system(struct textbuf *tb, size_t system)
{
    tb_str(tb, "<system type=\"current\" size=\"");
    tb_u64(tb, system);
    tb_str(tb, "\"/>\n<aspace type=\"total\" size=\"");
    tb_u64(tb, system);
    tb_str(tb, "\"/>\n");
}

/*
 * glibc's XML shape, one <heap> per node, with mallinfo2's numbers: "rest"
 * is fordblks (free space held), "mmap" the huge objects (hblks, hblkhd),
 * "current" arena; so current - rest is uordblks, as with glibc. Written with
 * write(2) on the stream's fd.
 */
static void info_heap(unsigned slot, const struct usage *u, void *arg)
{
    struct textbuf *tb = arg;
    heap_heading(tb, slot, "<heap nr=\"", "\" node=\"", "\">\n<sizes>\n</sizes>\n");
    xml_total(tb, "fast", 0, 0);
    xml_total(tb, "rest", 0, u->free);
    xml_system(tb, u->system);
    tb_str(tb, "</heap>\n");
}

NA_EXPORT int malloc_info(int options, FILE *stream)
{
    if (options != 0 || !stream) {
        errno = EINVAL;
        return -1;
    }
    /* Our text goes after whatever the program buffered in the stream. */
    fflush(stream);
    char buf[8192];
    struct textbuf tb;
    tb_init_fd(&tb, buf, sizeof buf, fileno(stream)); /* written as it fills: one heap per node */
    tb_str(&tb, "<malloc version=\"1\" allocator=\"numa-alloc\">\n");
    struct usage sum;
    usage(info_heap, &tb, &sum);
    xml_total(&tb, "fast", 0, 0);
    xml_total(&tb, "rest", 0, sum.free);
    xml_total(&tb, "mmap", sum.huge_count, sum.huge_bytes);
    xml_system(&tb, sum.system);
    tb_str(&tb, "</malloc>\n");
    tb_flush(&tb);
    if (tb.failed) {
        errno = tb.failed;
        return -1;
    }
    return 0;
}
