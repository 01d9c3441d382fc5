/*
 * prof_check.c DIR - the allocation-site profile on two nodes (issue 18), in the guest.
 *
 * Run with NUMA_ALLOC_PROF=DIR/prof.%p (and a small NUMA_ALLOC_PROF_RATE). A
 * forked child, pinned to CPU 0 (node 0), runs three sites:
 *   prof_site_producer  blocks that a consumer thread pinned to CPU 1 (node 1) frees;
 *   prof_site_local     blocks freed by the allocating thread, on its node;
 *   prof_site_explicit  numa_malloc(1, ...) blocks, which a thread on node 1 frees
 *                       (placed there for that node's threads: nothing crosses);
 * and writes its profile at exit. The parent (the same program, the same
 * addresses: no symboliser needed, dladdr names the frames) reads it and checks:
 * the producer's bytes >= 90% freed from another node, the local site's <= 5%,
 * the explicit site's all `decision=explicit` on node 1, and each site's
 * sampled bytes within 10% of what it allocated. Exit 0 when all hold.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "numa_alloc.h"

#define COUNT      100000
#define BLOCK      80 /* 8 MB per site */
#define MAX_STACKS 4096
#define MAX_FRAMES 48

static void *blocks[COUNT];

static void pin(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) {
        perror("sched_setaffinity");
        exit(2);
    }
}

__attribute__((noinline)) void prof_site_producer(void)
{
    for (int i = 0; i < COUNT; i++)
        blocks[i] = malloc(BLOCK);
}

__attribute__((noinline)) void prof_site_local(void)
{
    for (int i = 0; i < COUNT; i++)
        blocks[i] = malloc(BLOCK);
    for (int i = 0; i < COUNT; i++)
        free(blocks[i]);
}

__attribute__((noinline)) void prof_site_explicit(void)
{
    for (int i = 0; i < COUNT; i++)
        blocks[i] = numa_malloc(1, BLOCK);
}

static void *consume(void *arg)
{
    (void)arg;
    pin(1);
    for (int i = 0; i < COUNT; i++)
        free(blocks[i]);
    return NULL;
}

/* Blocks of the last site, freed by a thread pinned to CPU 1 (node 1). */
static void free_on_node_1(void)
{
    pthread_t t;
    if (pthread_create(&t, NULL, consume, NULL) != 0 || pthread_join(t, NULL) != 0)
        exit(2);
}

static void workload(void)
{
    pin(0);
    prof_site_producer();
    free_on_node_1();
    prof_site_local();
    prof_site_explicit();
    free_on_node_1();
    exit(0); /* the profile is written at exit */
}

struct total {
    double bytes, freed, other_node;
    int sites, explicit_on_1;
};

static double field(const char *line, const char *key)
{
    const char *at = strstr(line, key);
    return at ? strtod(at + strlen(key), NULL) : -1;
}

static int depth[MAX_STACKS + 1];
static void *pcs[MAX_STACKS + 1][MAX_FRAMES];

/* The prof_site_* function a stack passes through, or NULL. */
static const char *site_of(int id)
{
    for (int i = 0; i < depth[id]; i++) {
        Dl_info info;
        if (dladdr((char *)pcs[id][i] - 1, &info) && info.dli_sname &&
            strncmp(info.dli_sname, "prof_site_", 10) == 0)
            return info.dli_sname;
    }
    return NULL;
}

static bool check(const char *what, bool ok, double value)
{
    printf("prof_check: %-40s %s (%.3f)\n", what, ok ? "ok" : "FAILED", value);
    return ok;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: NUMA_ALLOC_PROF=DIR/prof.%%p prof_check DIR\n");
        return 2;
    }
    pid_t child = fork();
    if (child == 0)
        workload();
    int status;
    if (child < 0 || waitpid(child, &status, 0) != child || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
        fprintf(stderr, "prof_check: the workload failed\n");
        return 1;
    }
    char path[512];
    snprintf(path, sizeof path, "%s/prof.%d", argv[1], (int)child);
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        return 1;
    }
    static char line[16384];
    struct total producer = {0}, local = {0}, expl = {0};
    bool ended = false;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "end\n", 4) == 0)
            ended = true;
        if (strncmp(line, "stack ", 6) == 0) {
            char *p = line + 6, *end;
            long id = strtol(p, &end, 10);
            if (id < 1 || id > MAX_STACKS)
                continue;
            for (p = end; *p == ' ' && depth[id] < MAX_FRAMES; p = end)
                pcs[id][depth[id]++] = (void *)strtoull(p + 1, &end, 16);
        } else if (strncmp(line, "site ", 5) == 0) {
            long id = strtol(line + 5, NULL, 10);
            const char *name = id >= 1 && id <= MAX_STACKS ? site_of((int)id) : NULL;
            struct total *t = !name                                     ? NULL
                              : strcmp(name, "prof_site_producer") == 0 ? &producer
                              : strcmp(name, "prof_site_local") == 0    ? &local
                              : strcmp(name, "prof_site_explicit") == 0 ? &expl
                                                                        : NULL;
            if (!t)
                continue;
            t->sites++;
            t->bytes += field(line, " bytes=");
            t->freed += field(line, " freed_bytes=");
            t->other_node += field(line, " freed_other_node_bytes=");
            t->explicit_on_1 += strstr(line, " decision=explicit") && strstr(line, " node=1 ");
        }
    }
    fclose(f);
    double truth = (double)COUNT * BLOCK;
    bool ok = check("the profile ends with end", ended, ended);
    ok &= check("producer: freed from another node >= 90%",
                producer.freed > 0 && producer.other_node >= 0.9 * producer.freed,
                producer.freed > 0 ? producer.other_node / producer.freed : 0);
    ok &= check("local: freed from another node <= 5%",
                local.freed > 0 && local.other_node <= 0.05 * local.freed,
                local.freed > 0 ? local.other_node / local.freed : 1);
    ok &= check("explicit: every site decision=explicit node=1",
                expl.sites > 0 && expl.explicit_on_1 == expl.sites, expl.sites);
    ok &=
        check("producer: bytes within 10%",
              producer.bytes > 0.9 * truth && producer.bytes < 1.1 * truth, producer.bytes / truth);
    ok &= check("local: bytes within 10%", local.bytes > 0.9 * truth && local.bytes < 1.1 * truth,
                local.bytes / truth);
    ok &= check("explicit: bytes within 10%", expl.bytes > 0.9 * truth && expl.bytes < 1.1 * truth,
                expl.bytes / truth);
    return ok ? 0 : 1;
}
