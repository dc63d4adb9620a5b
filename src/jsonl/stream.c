/* The evtx_dump layout ({"Event": {...}}, what plainsight and evtx_dump
 * write) streamed into the event model with yajl's callbacks: no tree is
 * built, so an object costs its bytes once, where jansson's tree cost five
 * times the rest of a hunt of JSON lines (a node and a copy per value, then
 * a walk). What this path is not sure to read exactly as the jansson path
 * does it leaves to that path (JL_STREAM_DECLINED): other layouts, bad
 * JSON, a repeated key (jansson keeps the last), surrogate escapes, text
 * that is not valid UTF-8 once decoded, numbers past a double, deep
 * nesting. So for every object the model is the one event.c builds (but
 * for a string that begins with U+FFFF in an object holding an integer past
 * 64 bits, which that path takes for such an integer: here it stays a
 * string). */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#include "jsonl/jsonl_internal.h"
#include "util/hash.h"

#define MAX_DEPTH 60        /* below event.c's flatten limit: deeper is declined */
#define MAX_KEYS 128        /* per object whose keys are checked for repeats */

typedef struct open_object {
    size_t path_mark;      /* the path's length at the object */
    uint32_t first_key;    /* its keys: keys[first_key .. nkeys) */
} open_object;

typedef struct stream_state {
    jl_builder *b;
    /* open objects and arrays: the root object is 1, and only the root's
     * "Event" object and what it holds count past it (the other root
     * values are skipped), so depth >= 2 is inside "Event" */
    int depth;
    int skip_depth;        /* > 0: inside a root value other than "Event" */
    int event_key;         /* the root key just read is "Event" */
    int seen_event;
    int declined;
    uint32_t nkeys;
    /* (not cleared per object: read only as far as written) */
    open_object obj[MAX_DEPTH + 2];
    uint64_t keys[MAX_DEPTH * 8]; /* hashes of the open objects' keys */
} stream_state;

static int decline(stream_state *st)
{
    st->declined = 1;
    return 0; /* stops the parse */
}

/* UTF-8 as jansson accepts it: no overlong forms, surrogates or code
 * points past U+10FFFF (yajl lets those through). */
static int valid_utf8(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (!(w & 0x8080808080808080ull)) {
                i += 8;
                continue;
            }
        }
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3
                   : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
        if (!len || i + len > n)
            return 0;
        for (size_t k = 1; k < len; k++)
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
        if ((c == 0xE0 && s[i + 1] < 0xA0) || (c == 0xED && s[i + 1] >= 0xA0) ||
            (c == 0xF0 && s[i + 1] < 0x90) || (c == 0xF4 && s[i + 1] >= 0x90))
            return 0;
        i += len;
    }
    return 1;
}

/* A scalar at the current path (inside "Event"), or one to ignore. */
static int put_scalar(stream_state *st, const char *text, size_t n, ps_kind kind)
{
    if (st->skip_depth || (st->depth == 1 && !st->event_key))
        return 1; /* a value of another root key */
    if (st->depth < 2)
        return decline(st); /* "Event" is not an object */
    jl_builder *b = st->b;
    jl_add_field(b, b->path.data ? b->path.data : "", b->path.len, text, n, kind);
    return b->failed || b->path.failed ? decline(st) : 1;
}

static int on_null(void *ctx) { return put_scalar(ctx, "", 0, PS_KIND_NULL); }

static int on_boolean(void *ctx, int v)
{
    return v ? put_scalar(ctx, "true", 4, PS_KIND_BOOL) : put_scalar(ctx, "false", 5, PS_KIND_BOOL);
}

/* The text event.c makes of a number: an integer as it is written (but -0
 * is 0), a real as the shortest text that reads back the same. */
static int on_number(void *ctx, const char *s, size_t n)
{
    stream_state *st = ctx;
    if (!memchr(s, '.', n) && !memchr(s, 'e', n) && !memchr(s, 'E', n)) {
        if (n == 2 && s[0] == '-' && s[1] == '0')
            return put_scalar(st, "0", 1, PS_KIND_INT);
        return put_scalar(st, s, n, PS_KIND_INT);
    }
    char tmp[64], num[40];
    if (n >= sizeof tmp)
        return decline(st);
    memcpy(tmp, s, n);
    tmp[n] = 0;
    errno = 0;
    double d = strtod(tmp, NULL);
    if (errno == ERANGE && (d > 1.0 || d < -1.0))
        return decline(st); /* jansson: "real number overflow", wherever it is */
    jl_real_text(d, num);
    return put_scalar(st, num, strlen(num), PS_KIND_STRING);
}

static int on_string(void *ctx, const unsigned char *s, size_t n)
{
    stream_state *st = ctx;
    if (!valid_utf8(s, n))
        return decline(st);
    return put_scalar(st, (const char *)s, n, PS_KIND_STRING);
}

static int open_container(stream_state *st, int object)
{
    if (st->skip_depth) {
        st->skip_depth++;
        return 1;
    }
    if (st->depth >= MAX_DEPTH)
        return decline(st);
    if (st->depth == 0 && !object)
        return decline(st); /* not an object */
    if (st->depth == 1) {
        if (!st->event_key) {
            st->skip_depth = 1;
            return 1;
        }
        if (!object)
            return decline(st);
        ps_buf_reset(&st->b->path);
        ps_buf_lit(&st->b->path, "Event");
    }
    st->depth++;
    st->obj[st->depth] = (open_object){st->b->path.len, st->nkeys};
    return 1;
}

static int on_start_map(void *ctx) { return open_container(ctx, 1); }
static int on_start_array(void *ctx) { return open_container(ctx, 0); }

static int close_container(void *ctx)
{
    stream_state *st = ctx;
    if (st->skip_depth) {
        st->skip_depth--;
        return 1;
    }
    open_object *o = &st->obj[st->depth];
    st->nkeys = o->first_key;
    st->b->path.len = o->path_mark;
    st->depth--;
    return 1;
}

static int on_map_key(void *ctx, const unsigned char *k, size_t n)
{
    stream_state *st = ctx;
    if (memchr(k, 0, n) || !valid_utf8(k, n))
        return decline(st);
    if (st->skip_depth)
        return 1;
    if (st->depth == 1) { /* a root key */
        st->event_key = n == 5 && !memcmp(k, "Event", 5);
        if (st->event_key && st->seen_event++)
            return decline(st); /* jansson keeps the last one */
        return 1;
    }
    open_object *o = &st->obj[st->depth];
    uint64_t h = ps_hash_bytes(k, n, 0);
    if (st->nkeys - o->first_key >= MAX_KEYS || st->nkeys >= sizeof st->keys / sizeof *st->keys)
        return decline(st);
    for (uint32_t i = o->first_key; i < st->nkeys; i++)
        if (st->keys[i] == h)
            return decline(st); /* a repeated key (or a hash alike: left to jansson) */
    st->keys[st->nkeys++] = h;
    jl_builder *b = st->b;
    b->path.len = o->path_mark;
    ps_buf_addc(&b->path, '.');
    ps_buf_add(&b->path, k, n);
    return b->path.failed ? decline(st) : 1;
}

static const yajl_callbacks CALLBACKS = {
    .yajl_null = on_null,
    .yajl_boolean = on_boolean,
    .yajl_number = on_number,
    .yajl_string = on_string,
    .yajl_start_map = on_start_map,
    .yajl_map_key = on_map_key,
    .yajl_end_map = close_container,
    .yajl_start_array = on_start_array,
    .yajl_end_array = close_container,
};

/* A \u escape of a surrogate: yajl turns a lone one into '?' or bad UTF-8. */
static int has_surrogate_escape(const char *data, size_t len)
{
    for (const char *p = data, *end = data + len;
         (p = memchr(p, '\\', (size_t)(end - p))) != NULL && p + 1 < end; p += 2)
        if (p[1] == 'u' && p + 3 < end && (p[2] | 0x20) == 'd' &&
            ((p[3] >= '8' && p[3] <= '9') || ((p[3] | 0x20) >= 'a' && (p[3] | 0x20) <= 'f')))
            return 1;
    return 0;
}

int jl_stream_event(jl_builder *b, const char *data, size_t len, ps_event *ev)
{
    if (has_surrogate_escape(data, len))
        return JL_STREAM_DECLINED;
    stream_state *st = b->stream;
    if (!st && !(st = b->stream = malloc(sizeof *st)))
        return -2;
    memset(st, 0, offsetof(stream_state, obj));
    st->b = b;
    jl_start_event(b);
    ps_buf_reset(&b->path);
    yajl_handle h = yajl_alloc(&CALLBACKS, NULL, st);
    if (!h)
        return -2;
    yajl_status s = yajl_parse(h, (const unsigned char *)data, len);
    if (s == yajl_status_ok)
        s = yajl_complete_parse(h);
    yajl_free(h);
    if (b->failed)
        return -2;
    if (s != yajl_status_ok || st->declined || !st->seen_event)
        return JL_STREAM_DECLINED;
    jl_finish_event(b, ev);
    return 0;
}
