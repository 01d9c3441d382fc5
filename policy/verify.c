/* verify.c - move_pages in query mode; see verify.h. */
#define _GNU_SOURCE
#include "policy/verify.h"

#include "base/os.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define QUERY_BATCH 256

/*
 * A walk over every `stride`-th page of a range, QUERY_BATCH pages per
 * system call: query_next fills pages[] and status[] (a node, or -errno for
 * a page nothing backs) and returns how many, 0 at the end, or -errno when
 * the kernel refused. errno is left as the caller had it.
 */
struct page_query {
    char *addr;
    size_t npages, stride, at; /* at: the next page to ask about */
    void *pages[QUERY_BATCH];
    int status[QUERY_BATCH];
};

static long query_next(struct page_query *q)
{
    unsigned long count = 0;
    for (; count < QUERY_BATCH && q->at < q->npages; count++, q->at += q->stride)
        q->pages[count] = q->addr + (q->at << OS_PAGE_SHIFT);
    if (count == 0)
        return 0;
    int saved = errno;
    long err = 0;
    if (syscall(SYS_move_pages, 0, count, q->pages, NULL, q->status, 0) != 0)
        err = -errno;
    errno = saved;
    return err ? err : (long)count;
}

static void query_start(struct page_query *q, void *addr, size_t bytes, size_t stride)
{
    q->addr = addr;
    q->npages = bytes >> OS_PAGE_SHIFT;
    q->stride = stride ? stride : 1;
    q->at = 0;
}

int verify_pages(void *addr, size_t bytes, int node, size_t stride, struct page_census *census)
{
    struct page_query q;
    long count;
    query_start(&q, addr, bytes, stride);
    while ((count = query_next(&q)) > 0) {
        for (long i = 0; i < count; i++) {
            if (q.status[i] < 0) {
                census->absent++;
                continue;
            }
            census->checked++;
            if (q.status[i] == node)
                census->on_node++;
            else
                census->misplaced++;
        }
    }
    return (int)count;
}

int verify_absent(void *addr, size_t bytes, void **first, size_t *absent)
{
    struct page_query q;
    long count;
    *absent = 0;
    query_start(&q, addr, bytes, 1);
    while ((count = query_next(&q)) > 0) {
        for (long i = 0; i < count; i++) {
            if (q.status[i] >= 0) /* -EFAULT: no page table there, or the zero page */
                continue;
            if ((*absent)++ == 0)
                *first = q.pages[i];
        }
    }
    return (int)count;
}
