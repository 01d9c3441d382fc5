/*
 * textbuf.h - text formatting into a fixed buffer, without stdio or malloc
 * (reports written from inside the allocator). Output past the capacity is
 * dropped; `len` never exceeds `cap - 1` and the text stays NUL-terminated.
 */
#ifndef NUMA_ALLOC_TEXTBUF_H
#define NUMA_ALLOC_TEXTBUF_H

#include <stddef.h>
#include <stdint.h>

struct textbuf {
    char *buf;
    size_t cap;
    size_t len;
};

static inline void tb_init(struct textbuf *tb, char *buf, size_t cap)
{
    tb->buf = buf;
    tb->cap = cap;
    tb->len = 0;
    buf[0] = '\0';
}

static inline void tb_str(struct textbuf *tb, const char *s)
{
    while (*s && tb->len + 1 < tb->cap)
        tb->buf[tb->len++] = *s++;
    tb->buf[tb->len] = '\0';
}

static inline void tb_u64(struct textbuf *tb, uint64_t v)
{
    char digits[21];
    int n = 0;
    do {
        digits[n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v);
    char out[21];
    for (int i = 0; i < n; i++)
        out[i] = digits[n - 1 - i];
    out[n] = '\0';
    tb_str(tb, out);
}

#endif
