/* A growable byte buffer for building output. Appends never fail silently:
 * on allocation failure the buffer is marked failed and further appends are
 * ignored, so a caller checks `failed` once at the end instead of per call. */
#ifndef PS_UTIL_BUF_H
#define PS_UTIL_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct ps_buf {
    char *data;
    size_t len;
    size_t cap;
    size_t limit;  /* 0: none; else growing past it fails (hostile input) */
    int failed;
} ps_buf;

void ps_buf_init(ps_buf *b);
void ps_buf_free(ps_buf *b);
/* Make room for `extra` more bytes; returns 0 on success. */
int ps_buf_grow(ps_buf *b, size_t extra);
void ps_buf_printf(ps_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static inline void ps_buf_reset(ps_buf *b) { b->len = 0; b->failed = 0; }

static inline int ps_buf_reserve(ps_buf *b, size_t extra)
{
    if (b->cap - b->len >= extra)
        return 0;
    return ps_buf_grow(b, extra);
}

static inline void ps_buf_add(ps_buf *b, const void *p, size_t n)
{
    if (n == 0 || ps_buf_reserve(b, n) != 0)
        return; /* n == 0: data may still be NULL, and memcpy(NULL, ..) is UB */
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static inline void ps_buf_addc(ps_buf *b, char c)
{
    if (ps_buf_reserve(b, 1) != 0)
        return;
    b->data[b->len++] = c;
}

#define ps_buf_lit(b, s) ps_buf_add((b), (s), sizeof(s) - 1)

static inline void ps_buf_adds(ps_buf *b, const char *s) { ps_buf_add(b, s, strlen(s)); }

/* NUL-terminate without counting the NUL in len. */
static inline const char *ps_buf_cstr(ps_buf *b)
{
    if (ps_buf_reserve(b, 1) != 0)
        return "";
    b->data[b->len] = 0;
    return b->data;
}

#endif
