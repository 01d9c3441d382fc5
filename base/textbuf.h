/*
 * textbuf.h - text formatting without stdio or malloc (reports written from
 * inside the allocator). A textbuf fills a caller's buffer; with an fd it
 * writes the buffer out whenever it fills (tb_flush writes the rest),
 * without one it drops what does not fit. The text stays NUL-terminated.
 */
#ifndef NUMA_ALLOC_TEXTBUF_H
#define NUMA_ALLOC_TEXTBUF_H

#include "base/os.h"

#include <stddef.h>
#include <stdint.h>

struct textbuf {
    char *buf;
    size_t cap;
    size_t len;
    int fd;     /* -1: keep in memory */
    int failed; /* a write to fd failed: the errno of the first failure (EIO for a 0-byte write) */
};

static inline void tb_init(struct textbuf *tb, char *buf, size_t cap)
{
    tb->buf = buf;
    tb->cap = cap;
    tb->len = 0;
    tb->fd = -1;
    tb->failed = 0;
    buf[0] = '\0';
}

static inline void tb_init_fd(struct textbuf *tb, char *buf, size_t cap, int fd)
{
    tb_init(tb, buf, cap);
    tb->fd = fd;
}

static inline void tb_flush(struct textbuf *tb)
{
    if (tb->fd < 0)
        return;
    int err = 0;
    if (!tb->failed && tb->len > 0 && (err = os_write_all(tb->fd, tb->buf, tb->len)) != 0)
        tb->failed = -err; /* the rest is dropped too: a hole in the middle would mislead */
    tb->len = 0;
    tb->buf[0] = '\0';
}

static inline void tb_str(struct textbuf *tb, const char *s)
{
    while (*s) {
        if (tb->len + 1 >= tb->cap) {
            if (tb->fd < 0)
                break;
            tb_flush(tb);
        }
        tb->buf[tb->len++] = *s++;
    }
    tb->buf[tb->len] = '\0';
}

/* Writes v's decimal digits at the end of out[21]; returns where they start. */
static inline char *tb_digits(char out[21], uint64_t v)
{
    int n = 20;
    out[n] = '\0';
    do {
        out[--n] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v);
    return out + n;
}

static inline void tb_u64(struct textbuf *tb, uint64_t v)
{
    char out[21];
    tb_str(tb, tb_digits(out, v));
}

static inline void tb_i64(struct textbuf *tb, int64_t v)
{
    if (v < 0) {
        tb_str(tb, "-");
        tb_u64(tb, (uint64_t)0 - (uint64_t)v);
    } else {
        tb_u64(tb, (uint64_t)v);
    }
}

/* num/den with one decimal ("98.1"); "0.0" when den is 0. */
static inline void tb_ratio1(struct textbuf *tb, uint64_t num, uint64_t den, uint64_t scale)
{
    uint64_t tenths = den ? (num * scale * 10u + den / 2u) / den : 0u;
    tb_u64(tb, tenths / 10u);
    char frac[3] = {'.', (char)('0' + tenths % 10u), '\0'};
    tb_str(tb, frac);
}

/* v right-aligned in `width` columns. */
static inline void tb_pad_u64(struct textbuf *tb, uint64_t v, int width)
{
    char out[21];
    const char *digits = tb_digits(out, v);
    for (int pad = width - (int)(out + 20 - digits); pad > 0; pad--)
        tb_str(tb, " ");
    tb_str(tb, digits);
}

#endif
