/*
 * verify.h - where pages really are, asked of the kernel with the raw
 * move_pages(2) system call in query mode (no nodes given: nothing moves).
 */
#ifndef NUMA_ALLOC_VERIFY_H
#define NUMA_ALLOC_VERIFY_H

#include <stddef.h>

struct page_census {
    size_t checked;   /* resident pages asked about */
    size_t on_node;   /* of those, on the expected node */
    size_t misplaced; /* resident on another node */
    size_t absent;    /* not resident (never touched, or purged) */
};

/*
 * Counts the pages of [addr, addr + bytes) (page aligned) by where they lie
 * relative to `node`, looking at every `stride`-th page (1: all).
 * Returns 0, or -errno if the kernel refused the query.
 */
int verify_pages(void *addr, size_t bytes, int node, size_t stride, struct page_census *census);

/*
 * How many pages of [addr, addr + bytes) (page aligned) no page of the
 * process backs yet: never touched, purged, or mapped to the shared zero page
 * (mincore calls that resident; writing it takes a new page): *absent of them,
 * *first the first of them (untouched when there is none). 0, or -errno if
 * refused.
 */
int verify_absent(void *addr, size_t bytes, void **first, size_t *absent);

#endif
