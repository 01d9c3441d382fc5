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

int verify_pages(void *addr, size_t bytes, int node, size_t stride, struct page_census *census)
{
    void *pages[QUERY_BATCH];
    int status[QUERY_BATCH];
    size_t npages = bytes >> OS_PAGE_SHIFT;
    if (stride == 0)
        stride = 1;
    int saved = errno;
    for (size_t first = 0; first < npages;) {
        unsigned long count = 0;
        for (; count < QUERY_BATCH && first < npages; count++, first += stride)
            pages[count] = (char *)addr + (first << OS_PAGE_SHIFT);
        if (syscall(SYS_move_pages, 0, count, pages, NULL, status, 0) != 0) {
            int err = errno;
            errno = saved;
            return -err;
        }
        for (unsigned long i = 0; i < count; i++) {
            if (status[i] < 0) {
                census->absent++;
                continue;
            }
            census->checked++;
            if (status[i] == node)
                census->on_node++;
            else
                census->misplaced++;
        }
    }
    errno = saved;
    return 0;
}

int verify_absent(void *addr, size_t bytes, void **first, size_t *count)
{
    void *pages[QUERY_BATCH];
    int status[QUERY_BATCH];
    size_t npages = bytes >> OS_PAGE_SHIFT;
    int saved = errno;
    *count = 0;
    for (size_t at = 0; at < npages;) {
        unsigned long batch = 0;
        for (; batch < QUERY_BATCH && at < npages; batch++, at++)
            pages[batch] = (char *)addr + (at << OS_PAGE_SHIFT);
        if (syscall(SYS_move_pages, 0, batch, pages, NULL, status, 0) != 0) {
            int err = errno;
            errno = saved;
            return -err;
        }
        for (unsigned long i = 0; i < batch; i++) {
            if (status[i] >= 0) /* -EFAULT: no page table there, or the zero page */
                continue;
            if ((*count)++ == 0)
                *first = pages[i];
        }
    }
    errno = saved;
    return 0;
}
