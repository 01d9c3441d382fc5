/* node_memory.c - exhaustion found at commit time; see node_memory.h. */
#define _GNU_SOURCE
#include "policy/node_memory.h"

#include "base/os.h"
#include "base/parse.h"
#include "policy/capabilities.h"
#include "policy/topology.h"
#include "policy/verify.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* Below this much free memory (plus the request) a node is "tight". */
#define TIGHT_MARGIN ((uint64_t)32 << 20)
/*
 * Most a tight commit populates to find out where pages land: a sparse
 * calloc of any size costs at most this much memory for the check. Above
 * it the request is judged by the number: see node_memory_commit.
 */
#define TIGHT_SAMPLE ((size_t)16 << 20)
/* Times a tight commit's sample is asked about again while pages read as absent. */
#define MIGRATING_RETRIES 3
/* Our estimate is re-read from sysfs at least this often while it matters. */
#define REFRESH_MS 200

uint64_t node_free_bytes(int node)
{
    char path[96];
    topology_node_path(path, node, "meminfo");
    char buf[4096];
    if (os_read_file(path, buf, sizeof buf) <= 0)
        return UINT64_MAX;
    const char *at = strstr(buf, "MemFree:");
    if (!at)
        return UINT64_MAX;
    at += sizeof("MemFree:") - 1;
    while (*at == ' ')
        at++;
    uint64_t kib;
    if (!parse_decimal(at, UINT64_MAX >> 10, &kib))
        kib = 0; /* no number: read as a full node, as ever */
    return kib << 10;
}

/* Touches every page now and checks that each one is on `node`. */
static bool populate_on_node(int node, void *addr, size_t bytes)
{
    int saved = errno;
    if (madvise(addr, bytes, MADV_POPULATE_WRITE) != 0) {
        /* Older kernels: write each page ourselves (they are fresh zero pages). */
        for (size_t off = 0; off < bytes; off += OS_PAGE_SIZE)
            ((volatile char *)addr)[off] = 0;
    }
    errno = saved;
    /*
     * A populated page that reads as absent is being migrated (compaction
     * moves pages within their node while it fills up; move_pages then
     * reports the migration entry as -ENOENT): ask again a few times before
     * calling the node exhausted for it.
     */
    for (int attempt = 0;; attempt++) {
        struct page_census census = {0};
        if (verify_pages(addr, bytes, node, 1, &census) != 0) {
            placement_fault_count(node, FAULT_VERIFY);
            return true; /* the kernel will not say: trust the policy */
        }
        if (census.misplaced != 0)
            return false;
        if (census.absent == 0)
            return true;
        if (attempt == MIGRATING_RETRIES)
            return false;
        os_sleep_ms(1);
    }
}

static void refresh(struct node_memory *mem, int node, uint64_t now)
{
    mem->free_estimate = node_free_bytes(node);
    mem->refreshed_ms = now;
}

bool node_memory_plenty(struct node_memory *mem, int node, size_t bytes)
{
    if (na_placement_caps.bind_error)
        return true; /* unbound: pages go where they are first touched, there is no node to hold */
    if (na_topo.num_slots == 1)
        return true; /* the only node the kernel may use: no page can land elsewhere, and
                      * refusing would deny what glibc's malloc grants (a sparse array larger
                      * than the node's free memory) */
    uint64_t now = os_now_ms();
    bool fresh = now - mem->refreshed_ms < REFRESH_MS;
    if (!fresh)
        refresh(mem, node, now);
    if (mem->free_estimate < bytes + TIGHT_MARGIN && fresh)
        refresh(mem, node, now); /* others may have freed memory since */
    if (mem->free_estimate < bytes + TIGHT_MARGIN)
        return false;
    mem->free_estimate -= bytes;
    return true;
}

bool node_memory_commit(struct node_memory *mem, int node, void *addr, size_t bytes)
{
    if (node_memory_plenty(mem, node, bytes))
        return true;
    mem->tight_commits++;
    if (na_placement_caps.verify_error) {
        /* Populating would only cost memory: nobody can say where the pages went. */
        placement_fault_count(node, FAULT_VERIFY);
        return true;
    }
    /*
     * Tight: populate a sample (the first TIGHT_SAMPLE bytes) and ask where
     * it went. Any page elsewhere: the node cannot supply now. All on the
     * node: the rest stays untouched and must fit in what the node still
     * has free, read afresh after the sample (the kernel's own answer for the
     * sample, the free count for the rest; populating the rest too would make
     * a sparse array resident wholesale and could itself call the OOM killer
     * on a machine short of memory).
     */
    size_t sample = bytes < TIGHT_SAMPLE ? bytes : TIGHT_SAMPLE;
    if (mem->free_estimate < bytes - sample) { /* just read: cannot fit, nothing to try */
        mem->exhaustions++;
        return false;
    }
    if (populate_on_node(node, addr, sample)) {
        if (sample == bytes)
            return true;
        refresh(mem, node, os_now_ms());
        if (mem->free_estimate >= bytes - sample) {
            mem->free_estimate -= bytes - sample;
            return true;
        }
    }
    /* Pages that went elsewhere must not stay ours; if they cannot be given back they do. */
    if (os_purge(addr, sample) != 0)
        placement_fault_count(node, FAULT_PURGE);
    mem->exhaustions++;
    return false;
}
