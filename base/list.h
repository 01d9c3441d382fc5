/*
 * list.h - the one intrusive doubly linked list of the library (the idea of
 * Linux's include/linux/list.h, cut down): a struct list_node sits inside
 * the structure listed, list_entry finds the structure from it. Nothing is
 * allocated; every operation is O(1) but the checks.
 *
 * Unlike Linux's, the list is not circular: the ends are NULL and a list
 * knows its first and last node. So all-zero bytes are an empty list and an
 * unlinked node, which is what the lists inside memory that starts as zero
 * pages need (segment headers, the node heap, thread-local state): they
 * need no initialisation, and a fresh page is never written to set one up.
 *
 * Invariants of a list l: l->first->prev and l->last->next are NULL; for
 * every node n but the last, n->next->prev == n; l->first and l->last are
 * both NULL or both not. A node is on at most one list through one member;
 * a removed node's links are left as they were (stale, never read): a
 * removal writes only to its neighbours and the list, not to the node's
 * own memory. Whether a node is on a list is the owner's to record.
 */
#ifndef NUMA_ALLOC_LIST_H
#define NUMA_ALLOC_LIST_H

#include <stdbool.h>
#include <stddef.h>

struct list_node {
    struct list_node *next, *prev; /* NULL at the ends */
};

struct list {
    struct list_node *first, *last; /* both NULL: empty */
};

static inline bool list_empty(const struct list *l)
{
    return l->first == NULL;
}

/* Links n after pos, or first when pos is NULL. */
static inline void list_insert_after(struct list *l, struct list_node *pos, struct list_node *n)
{
    n->prev = pos;
    n->next = pos ? pos->next : l->first;
    if (n->next)
        n->next->prev = n;
    else
        l->last = n;
    if (pos)
        pos->next = n;
    else
        l->first = n;
}

static inline void list_push_front(struct list *l, struct list_node *n)
{
    list_insert_after(l, NULL, n);
}

static inline void list_push_back(struct list *l, struct list_node *n)
{
    list_insert_after(l, l->last, n);
}

static inline void list_remove(struct list *l, struct list_node *n)
{
    if (n->prev)
        n->prev->next = n->next;
    else
        l->first = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        l->last = n->prev;
}

/* Whether the invariants above hold (for the heap check: O(length)). */
static inline bool list_well_linked(const struct list *l)
{
    const struct list_node *prev = NULL;
    for (const struct list_node *n = l->first; n; prev = n, n = n->next)
        if (n->prev != prev)
            return false;
    return l->last == prev;
}

/* The structure holding n (NULL for NULL, so that the ends stay NULL). */
static inline void *list_container(const struct list_node *n, size_t offset)
{
    return n ? (char *)n - offset : NULL;
}

/* The `type` whose member `member` is the node `node` (NULL for NULL). */
#define list_entry(node, type, member) ((type *)list_container((node), offsetof(type, member)))

/* pos: a `type *` that walks the list l from first to last through `member`. */
#define list_for_each_entry(pos, l, type, member)                                                  \
    for (pos = list_entry((l)->first, type, member); pos;                                          \
         pos = list_entry((pos)->member.next, type, member))

#endif
