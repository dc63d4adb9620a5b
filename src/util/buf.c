#include "util/buf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "plainsight/common.h"

void ps_buf_init(ps_buf *b) { memset(b, 0, sizeof *b); }

void ps_buf_free(ps_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

int ps_grow_array_more(void **items, size_t *cap, size_t len, size_t size)
{
    if (len < *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 16;
    if (ncap <= *cap || !size || ncap > SIZE_MAX / size)
        return -1;
    void *n = realloc(*items, ncap * size);
    if (!n)
        return -1;
    *items = n;
    *cap = ncap;
    return 0;
}

int ps_buf_grow(ps_buf *b, size_t extra)
{
    if (b->failed)
        return -1;
    if (extra > SIZE_MAX / 2 - b->len) {
        b->failed = 1;
        return -1;
    }
    size_t need = b->len + extra;
    if (b->limit && need > b->limit) {
        b->failed = 1;
        return -1;
    }
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    if (b->limit && cap > b->limit)
        cap = b->limit;
    char *p = realloc(b->data, cap);
    if (!p) {
        b->failed = 1;
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

void ps_buf_printf(ps_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || ps_buf_reserve(b, (size_t)n + 1) != 0)
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

int ps_buf_read_file(ps_buf *b, const char *path, size_t max, const char **why)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *why = "cannot open";
        return PS_ERR_IO;
    }
    ps_buf_reset(b);
    ssize_t got = 0;
    int bad = 0;
    do {
        if (ps_buf_reserve(b, 64 * 1024) != 0)
            break;
        size_t room = b->cap - b->len;
        if (room > max + 1 - b->len)
            room = max + 1 - b->len; /* one byte past max tells a bigger file */
        got = read(fd, b->data + b->len, room);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            bad = 1;
        else
            b->len += (size_t)got;
    } while (got > 0 && b->len <= max);
    close(fd);
    if (b->failed) {
        *why = "out of memory";
        return PS_ERR_NOMEM;
    }
    if (bad) {
        *why = "read error";
        return PS_ERR_IO;
    }
    if (b->len > max) {
        *why = "file too large";
        return PS_ERR_FORMAT;
    }
    return PS_OK;
}
