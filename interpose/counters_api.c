/*
 * counters_api.c - the counter API of include/numa_alloc.h: names parsed
 * and structures filled here, the counts read by core/counters.c.
 */
#define _GNU_SOURCE
#include "numa_alloc.h"

#include "core/alloc.h"
#include "core/counters.h"
#include "core/layout.h"
#include "core/node_heap.h"
#include "policy/topology.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

/* A name's last part and where its value lies in the public structure. */
struct field {
    const char *name;
    size_t offset;
};

#define NODE_FIELD(f)                                                                              \
    {                                                                                              \
#f, offsetof(struct numa_alloc_node_counters, f)                                           \
    }
#define THREAD_FIELD(f)                                                                            \
    {                                                                                              \
#f, offsetof(struct numa_alloc_thread_counters, f)                                         \
    }

static const struct field node_fields[] = {NODE_FIELD(allocations),
                                           NODE_FIELD(frees),
                                           NODE_FIELD(bytes_allocated),
                                           NODE_FIELD(bytes_freed),
                                           NODE_FIELD(bytes_live),
                                           NODE_FIELD(local_allocations),
                                           NODE_FIELD(remote_allocations),
                                           NODE_FIELD(explicit_allocations),
                                           NODE_FIELD(remote_frees),
                                           NODE_FIELD(fallbacks_in),
                                           NODE_FIELD(fallbacks_out),
                                           NODE_FIELD(tight_commits),
                                           NODE_FIELD(exhaustions),
                                           NODE_FIELD(bind_failures),
                                           NODE_FIELD(purge_failures),
                                           NODE_FIELD(verify_failures),
                                           NODE_FIELD(active_bytes),
                                           NODE_FIELD(peak_active_bytes),
                                           NODE_FIELD(dirty_bytes),
                                           NODE_FIELD(purged_bytes),
                                           NODE_FIELD(huge_objects),
                                           NODE_FIELD(huge_bytes),
                                           {NULL, 0}};

static const struct field thread_fields[] = {
    THREAD_FIELD(allocations),       THREAD_FIELD(frees),
    THREAD_FIELD(bytes_allocated),   THREAD_FIELD(bytes_freed),
    THREAD_FIELD(bytes_live),        THREAD_FIELD(peak_bytes_live),
    THREAD_FIELD(local_allocations), THREAD_FIELD(remote_allocations),
    THREAD_FIELD(remote_frees),      THREAD_FIELD(migrations),
    THREAD_FIELD(fallbacks),         {NULL, 0}};

static const struct field *find_field(const struct field *table, const char *name)
{
    for (; table->name; table++)
        if (strcmp(table->name, name) == 0)
            return table;
    return NULL;
}

static void node_public(const struct node_stats *n, int node, struct numa_alloc_node_counters *out)
{
    memset(out, 0, sizeof *out);
    out->node = node;
    out->allocations = n->counts.allocs;
    out->frees = n->counts.frees;
    out->bytes_allocated = n->counts.bytes_allocated;
    out->bytes_freed = n->counts.bytes_freed;
    out->bytes_live = n->counts.bytes_allocated - n->counts.bytes_freed;
    out->local_allocations = n->counts.allocs - n->counts.remote_allocs;
    out->remote_allocations = n->counts.remote_allocs;
    out->explicit_allocations = n->explicit_allocs;
    out->remote_frees = n->counts.remote_frees;
    out->fallbacks_in = n->fallbacks_in;
    out->fallbacks_out = n->fallbacks_out;
    out->tight_commits = n->tight_commits;
    out->exhaustions = n->exhaustions;
    out->bind_failures = n->bind_failures;
    out->purge_failures = n->purge_failures;
    out->verify_failures = n->verify_failures;
    out->active_bytes = n->active_bytes;
    out->peak_active_bytes = n->peak_active_bytes;
    out->dirty_bytes = n->dirty_bytes;
    out->purged_bytes = n->purged_bytes;
    out->huge_objects = n->huge_objects;
    out->huge_bytes = n->huge_bytes;
}

static void thread_public(const struct thread_stats *t, struct numa_alloc_thread_counters *out)
{
    memset(out, 0, sizeof *out);
    out->tid = t->tid;
    out->node = t->node;
    out->allocations = t->counts.allocs;
    out->frees = t->counts.frees;
    out->bytes_allocated = t->counts.bytes_allocated;
    out->bytes_freed = t->counts.bytes_freed;
    out->bytes_live = t->counts.bytes_allocated - t->counts.bytes_freed;
    out->peak_bytes_live = t->peak_live_bytes;
    out->local_allocations = t->counts.allocs - t->counts.remote_allocs;
    out->remote_allocations = t->counts.remote_allocs;
    out->remote_frees = t->counts.remote_frees;
    out->migrations = t->migrations;
    out->fallbacks = t->fallbacks;
}

/* -1 with errno = err. */
static int fail(int err)
{
    errno = err;
    return -1;
}

/* 0 when the allocator serves (starting it if need be); else -1, ENOTSUP. */
static int ensure_active(void)
{
    return alloc_ensure_init() ? 0 : fail(ENOTSUP);
}

/* The slot of node id `digits` (a plain decimal number), or -1. */
static int slot_of_digits(const char *digits, size_t len)
{
    int node = 0;
    if (len == 0 || len > 6)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (digits[i] < '0' || digits[i] > '9')
            return -1;
        node = node * 10 + (digits[i] - '0');
    }
    int slot = topology_slot_of_node(node);
    return slot >= 0 && (unsigned)slot < na_region.num_slots ? slot : -1;
}

static int read_node_field(int slot, const char *field, uint64_t *value)
{
    const struct field *f = find_field(node_fields, field);
    if (!f)
        return fail(ENOENT);
    struct node_stats n;
    if (ensure_active() < 0 || counters_node(slot, &n) < 0)
        return -1;
    struct numa_alloc_node_counters pub;
    node_public(&n, 0, &pub);
    memcpy(value, (const char *)&pub + f->offset, sizeof *value);
    return 0;
}

static void count_only(const struct thread_stats *t, void *arg)
{
    (void)t;
    (void)arg;
}

static int read_threads(const char *what, uint64_t *value)
{
    bool live = strcmp(what, "live") == 0;
    if (!live && strcmp(what, "exited") != 0)
        return fail(ENOENT);
    uint64_t exited;
    int n = ensure_active() < 0 ? -1 : counters_threads(count_only, NULL, &exited);
    if (n < 0)
        return -1;
    *value = live ? (uint64_t)n : exited;
    return 0;
}

static int read_current_thread(const char *field, uint64_t *value)
{
    struct numa_alloc_thread_counters pub;
    struct thread_stats t;
    bool id = strcmp(field, "tid") == 0 || strcmp(field, "node") == 0;
    const struct field *f = find_field(thread_fields, field);
    if (!id && !f)
        return fail(ENOENT);
    if (ensure_active() < 0)
        return -1;
    counters_current_thread(&t);
    if (id) { /* ints in the structure: widened, -1 as 2^64-1 */
        *value = (uint64_t)(int64_t)(field[0] == 't' ? t.tid : t.node);
        return 0;
    }
    thread_public(&t, &pub);
    memcpy(value, (const char *)&pub + f->offset, sizeof *value);
    return 0;
}

static bool prefixed(const char *name, const char *prefix, const char **rest)
{
    size_t len = strlen(prefix);
    if (strncmp(name, prefix, len) != 0)
        return false;
    *rest = name + len;
    return true;
}

NUMA_ALLOC_API int numa_alloc_counter(const char *name, uint64_t *value)
{
    const char *rest;
    if (!name || !value)
        return fail(EINVAL);
    if (strcmp(name, "active") == 0) {
        *value = alloc_ensure_init();
        return 0;
    }
    if (strcmp(name, "heaps.ready") == 0) {
        if (ensure_active() < 0)
            return -1;
        *value = heaps_ready_count();
        return 0;
    }
    if (prefixed(name, "total.", &rest))
        return read_node_field(COUNTERS_ALL_SLOTS, rest, value);
    if (prefixed(name, "thread.current.", &rest))
        return read_current_thread(rest, value);
    if (prefixed(name, "threads.", &rest))
        return read_threads(rest, value);
    if (prefixed(name, "node.", &rest)) {
        const char *dot = strchr(rest, '.');
        if (dot) {
            if (ensure_active() < 0)
                return -1;
            int slot = slot_of_digits(rest, (size_t)(dot - rest));
            if (slot >= 0)
                return read_node_field(slot, dot + 1, value);
        }
    }
    return fail(ENOENT);
}

/* Checks a snapshot's arguments; 0 when they hold and the allocator serves. */
static int snapshot_args(const void *out, size_t max, size_t struct_size, size_t first_size)
{
    if ((!out && max > 0) || struct_size < first_size)
        return fail(EINVAL);
    return ensure_active();
}

/* Copies one entry into the caller's array: struct_size apart, unknown fields zeroed. */
static void put_entry(void *out, size_t index, size_t struct_size, const void *entry, size_t size)
{
    char *at = (char *)out + index * struct_size;
    memcpy(at, entry, size);
    memset(at + size, 0, struct_size - size);
}

NUMA_ALLOC_API int numa_alloc_snapshot_nodes(struct numa_alloc_node_counters *out, size_t max,
                                             size_t struct_size)
{
    if (snapshot_args(out, max, struct_size, sizeof *out) < 0)
        return -1;
    unsigned slots = na_region.num_slots;
    for (unsigned slot = 0; slot < slots && slot < max; slot++) {
        struct node_stats n;
        struct numa_alloc_node_counters pub;
        if (counters_node((int)slot, &n) < 0)
            return -1;
        node_public(&n, na_topo.slot_node[slot], &pub);
        put_entry(out, slot, struct_size, &pub, sizeof pub);
    }
    return (int)slots;
}

struct thread_fill {
    void *out;
    size_t max, struct_size, count;
};

static void fill_thread(const struct thread_stats *t, void *arg)
{
    struct thread_fill *fill = arg;
    if (fill->count < fill->max) {
        struct numa_alloc_thread_counters pub;
        thread_public(t, &pub);
        put_entry(fill->out, fill->count, fill->struct_size, &pub, sizeof pub);
    }
    fill->count++;
}

NUMA_ALLOC_API int numa_alloc_snapshot_threads(struct numa_alloc_thread_counters *out, size_t max,
                                               size_t struct_size)
{
    if (snapshot_args(out, max, struct_size, sizeof *out) < 0)
        return -1;
    struct thread_fill fill = {.out = out, .max = max, .struct_size = struct_size};
    uint64_t exited;
    return counters_threads(fill_thread, &fill, &exited);
}
