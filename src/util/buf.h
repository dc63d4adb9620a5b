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

/* The whole file at `path` in b (its contents replaced), read with read(2):
 * stdio's own buffer and copy are noticeable over thousands of small files.
 * At most `max` bytes; a bigger file is refused. PS_OK, or PS_ERR_IO
 * (cannot open or read), PS_ERR_FORMAT (bigger than max) or PS_ERR_NOMEM,
 * with the reason in *why. */
int ps_buf_read_file(ps_buf *b, const char *path, size_t max, const char **why);

/* Room in a malloc'ed array for item `len` (len < *cap after): the capacity
 * doubles (from 16). 0, or -1 when out of memory (the array is kept). For
 * arrays in an arena, see ps_arena_grow_array. The check is inline (some
 * callers append per value of every event); the doubling is not. */
int ps_grow_array_more(void **items, size_t *cap, size_t len, size_t size);

static inline int ps_grow_array(void **items, size_t *cap, size_t len, size_t size)
{
    return len < *cap ? 0 : ps_grow_array_more(items, cap, len, size);
}

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

/* ps_buf_add for the fast lane's literal runs (a key, quotes, the text
 * between two values: mostly a few bytes): copied with two overlapping
 * fixed-size moves instead of a call to memcpy. Only [p, p + n) is read. */
static inline void ps_buf_add_run(ps_buf *b, const char *p, size_t n)
{
    if (n == 0 || ps_buf_reserve(b, n) != 0)
        return;
    char *d = b->data + b->len;
    b->len += n;
    if (n > 32) {
        memcpy(d, p, n);
    } else if (n >= 16) {
        uint64_t a[2], z[2];
        memcpy(a, p, 16);
        memcpy(z, p + n - 16, 16);
        memcpy(d, a, 16);
        memcpy(d + n - 16, z, 16);
    } else if (n >= 8) {
        uint64_t a, z;
        memcpy(&a, p, 8);
        memcpy(&z, p + n - 8, 8);
        memcpy(d, &a, 8);
        memcpy(d + n - 8, &z, 8);
    } else if (n >= 4) {
        uint32_t a, z;
        memcpy(&a, p, 4);
        memcpy(&z, p + n - 4, 4);
        memcpy(d, &a, 4);
        memcpy(d + n - 4, &z, 4);
    } else {
        d[0] = p[0];
        d[n / 2] = p[n / 2];
        d[n - 1] = p[n - 1];
    }
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
