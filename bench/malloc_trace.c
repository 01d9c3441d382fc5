/*
 * malloc_trace.c - libmalloc_trace.so, a preload that records a program's
 * malloc family calls for bench/trace_replay, passing each on to the
 * allocator after it in the lookup order (glibc's, or a preload named after
 * it). Not linked with numapreload.
 *
 *   MALLOC_TRACE_OUT=/tmp/py.trace LD_PRELOAD=build/bench/libmalloc_trace.so python3 -c pass
 *
 * One line a call, in the order the calls return: "+ ADDRESS SIZE" for a
 * block handed out (malloc, calloc, realloc, the aligned family), "- ADDRESS"
 * for a block freed (free, and realloc's old block when it moved or was
 * freed). A realloc is "- OLD" then "+ NEW SIZE". The process that loads the
 * preload writes the file (a child after exec writes it again: give
 * MALLOC_TRACE_OUT a %p, which becomes the pid). Single-threaded programs
 * only: the lines of two threads could interleave. What the recorder itself
 * allocates (dlsym's buffer) is served from a static pool and not recorded.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *(*next_malloc)(size_t);
static void *(*next_calloc)(size_t, size_t);
static void *(*next_realloc)(void *, size_t);
static void (*next_free)(void *);
static int (*next_posix_memalign)(void **, size_t, size_t);
static void *(*next_aligned_alloc)(size_t, size_t);

static int out = -1;
static __thread int inside; /* a call of ours (snprintf, open) is not recorded */

/* dlsym allocates before the next allocator is known: a bump pool, never freed. */
static _Alignas(16) char pool[16384];
static size_t pool_used;

static void *pool_take(size_t size)
{
    size = (size + 15) & ~(size_t)15;
    if (size > sizeof pool - pool_used)
        return NULL;
    void *block = pool + pool_used;
    pool_used += size;
    return block;
}

static int from_pool(const void *ptr)
{
    return (const char *)ptr >= pool && (const char *)ptr < pool + sizeof pool;
}

static void resolve(void)
{
    inside++;
    next_malloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
    next_calloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "calloc");
    next_realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
    next_free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
    next_posix_memalign = (int (*)(void **, size_t, size_t))dlsym(RTLD_NEXT, "posix_memalign");
    next_aligned_alloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "aligned_alloc");
    inside--;
}

static void record(char op, const void *ptr, size_t size)
{
    if (inside || !ptr)
        return;
    inside++;
    if (out < 0) {
        const char *path = getenv("MALLOC_TRACE_OUT");
        char name[4096];
        const char *pid = path ? strstr(path, "%p") : NULL;
        if (!path)
            path = "malloc.trace";
        if (pid)
            snprintf(name, sizeof name, "%.*s%d%s", (int)(pid - path), path, (int)getpid(),
                     pid + 2);
        else
            snprintf(name, sizeof name, "%s", path);
        out = open(name, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    }
    char line[64];
    int len = op == '+' ? snprintf(line, sizeof line, "+ %p %zu\n", ptr, size)
                        : snprintf(line, sizeof line, "- %p\n", ptr);
    if (out >= 0 && write(out, line, (size_t)len) != len) {
        close(out);
        out = -2; /* a failed write ends the trace; the program goes on */
    }
    inside--;
}

void *malloc(size_t size)
{
    if (!next_malloc) {
        if (inside)
            return pool_take(size);
        resolve();
    }
    void *ptr = next_malloc(size);
    record('+', ptr, size);
    return ptr;
}

void *calloc(size_t count, size_t size)
{
    if (!next_calloc) {
        if (inside)
            return count && size > sizeof pool / count ? NULL : pool_take(count * size);
        resolve();
    }
    void *ptr = next_calloc(count, size);
    record('+', ptr, count * size);
    return ptr;
}

void free(void *ptr)
{
    if (!ptr || from_pool(ptr))
        return;
    if (!next_free)
        resolve();
    record('-', ptr, 0);
    next_free(ptr);
}

void *realloc(void *ptr, size_t size)
{
    if (from_pool(ptr)) {
        size_t left = (size_t)(pool + sizeof pool - (char *)ptr);
        void *moved = malloc(size);
        if (moved)
            memcpy(moved, ptr, size < left ? size : left);
        return moved;
    }
    if (!next_realloc)
        resolve();
    void *moved = next_realloc(ptr, size);
    if (ptr && (moved || size == 0))
        record('-', ptr, 0);
    record('+', moved, size);
    return moved;
}

int posix_memalign(void **ptr, size_t alignment, size_t size)
{
    if (!next_posix_memalign)
        resolve();
    int err = next_posix_memalign(ptr, alignment, size);
    if (!err)
        record('+', *ptr, size);
    return err;
}

void *aligned_alloc(size_t alignment, size_t size)
{
    if (!next_aligned_alloc)
        resolve();
    void *ptr = next_aligned_alloc(alignment, size);
    record('+', ptr, size);
    return ptr;
}
