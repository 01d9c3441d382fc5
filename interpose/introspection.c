/*
 * introspection.c - glibc's malloc extras: mallopt, mallinfo, mallinfo2,
 * malloc_stats, malloc_info. Their figures come from the node heaps:
 *   arena    = segment space committed, all nodes
 *   uordblks = bytes in page runs and huge objects in use (a slab counts whole)
 *   fordblks = free bytes still resident (not yet purged)
 *   hblks, hblkhd = huge objects (> 2 MiB), their count and bytes
 * Fields without a counterpart here are 0.
 */
#define _GNU_SOURCE
#include "base/os.h"
#include "base/textbuf.h"
#include "core/alloc.h"
#include "core/node_heap.h"
#include "interpose/export.h"
#include "policy/topology.h"

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <unistd.h>

/* Reads a node heap's totals into t and adds the ones glibc's extras report to sum. */
static void read_totals(unsigned slot, struct heap_totals *t, struct heap_totals *sum)
{
    heap_totals(node_heap_of(slot), t);
    sum->committed += t->committed;
    sum->active += t->active;
    sum->dirty += t->dirty;
    sum->huge_count += t->huge_count;
    sum->huge_bytes += t->huge_bytes;
}

static void sum_totals(struct heap_totals *sum)
{
    *sum = (struct heap_totals){0};
    for (unsigned slot = 0; slot < na_region.num_slots; slot++) {
        struct heap_totals t;
        read_totals(slot, &t, sum);
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
    struct heap_totals t;
    sum_totals(&t);
    info.arena = t.committed;
    info.hblks = t.huge_count;
    info.hblkhd = t.huge_bytes;
    info.uordblks = t.active;
    info.fordblks = t.dirty;
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
    return info;
}

/* The layout glibc's malloc_stats prints, one "Arena" per node, on stderr. */
NA_EXPORT void malloc_stats(void)
{
    char buf[4096];
    struct textbuf tb;
    tb_init(&tb, buf, sizeof buf);
    struct heap_totals sum = {0};
    for (unsigned slot = 0; slot < na_region.num_slots; slot++) {
        struct heap_totals t;
        read_totals(slot, &t, &sum);
        heap_heading(&tb, slot, "Arena ", " (node ", "):\nsystem bytes     = ");
        tb_u64(&tb, t.committed);
        tb_str(&tb, "\nin use bytes     = ");
        tb_u64(&tb, t.active);
        tb_str(&tb, "\n");
    }
    tb_str(&tb, "Total (incl. mmap):\nsystem bytes     = ");
    tb_u64(&tb, sum.committed);
    tb_str(&tb, "\nin use bytes     = ");
    tb_u64(&tb, sum.active);
    tb_str(&tb, "\nmax mmap regions = ");
    tb_u64(&tb, sum.huge_count);
    tb_str(&tb, "\nmax mmap bytes   = ");
    tb_u64(&tb, sum.huge_bytes);
    tb_str(&tb, "\n");
    os_write_stderr(buf);
}

static void xml_size(struct textbuf *tb, const char *type, size_t value)
{
    tb_str(tb, "<total type=\"");
    tb_str(tb, type);
    tb_str(tb, "\" size=\"");
    tb_u64(tb, value);
    tb_str(tb, "\"/>\n");
}

/* glibc's XML shape, one <heap> per node. Written with write(2) on the stream's fd. */
NA_EXPORT int malloc_info(int options, FILE *stream)
{
    if (options != 0 || !stream) {
        errno = EINVAL;
        return -1;
    }
    char buf[8192];
    struct textbuf tb;
    tb_init(&tb, buf, sizeof buf);
    tb_str(&tb, "<malloc version=\"1\" allocator=\"numa-alloc\">\n");
    struct heap_totals sum = {0};
    for (unsigned slot = 0; slot < na_region.num_slots; slot++) {
        struct heap_totals t;
        read_totals(slot, &t, &sum);
        heap_heading(&tb, slot, "<heap nr=\"", "\" node=\"", "\">\n");
        xml_size(&tb, "rest", t.dirty);
        xml_size(&tb, "mmap", t.huge_bytes);
        tb_str(&tb, "<system type=\"current\" size=\"");
        tb_u64(&tb, t.committed);
        tb_str(&tb, "\"/>\n<aspace type=\"total\" size=\"");
        tb_u64(&tb, t.active);
        tb_str(&tb, "\"/>\n</heap>\n");
    }
    xml_size(&tb, "rest", sum.dirty);
    xml_size(&tb, "mmap", sum.huge_bytes);
    tb_str(&tb, "<system type=\"current\" size=\"");
    tb_u64(&tb, sum.committed);
    tb_str(&tb, "\"/>\n</malloc>\n");
    /* Our text goes after whatever the program buffered in the stream. */
    fflush(stream);
    int fd = fileno(stream);
    for (size_t done = 0; done < tb.len;) {
        ssize_t n = write(fd, buf + done, tb.len - done);
        if (n <= 0)
            return -1;
        done += (size_t)n;
    }
    return 0;
}
