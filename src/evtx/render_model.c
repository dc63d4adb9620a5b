/* The event-model sink: the evtx_dump JSON layout as a flat field list. */
#include <stdlib.h>
#include <string.h>

#include "evtx/bytes.h"
#include "evtx/render.h"
#include "evtx/values.h"

#define MAX_PATH_DEPTH 64

typedef struct model_sink {
    json_sink base;
    field_vec *fields;
    ps_arena *arena;
    ps_buf path;                      /* current object path, '.'-joined */
    size_t marks[MAX_PATH_DEPTH + 1]; /* path length before each open */
    int depth;
    int overflow;                     /* levels opened past MAX_PATH_DEPTH */
    ps_buf value;                     /* scratch for formatting values */
    uint64_t filetime;                /* System/TimeCreated, raw */
    int failed;
} model_sink;

static void push(model_sink *m, const char *key, size_t klen)
{
    if (m->depth >= MAX_PATH_DEPTH) {
        m->overflow++;
        return;
    }
    m->marks[m->depth++] = m->path.len;
    if (!key)
        return;
    if (m->path.len)
        ps_buf_addc(&m->path, '.');
    ps_buf_add(&m->path, key, klen);
}

static void pop(model_sink *m)
{
    if (m->overflow) {
        m->overflow--;
        return;
    }
    if (m->depth > 0)
        m->path.len = m->marks[--m->depth];
}

static void ms_open(json_sink *s, const char *key, size_t klen) { push((model_sink *)s, key, klen); }
static void ms_close(json_sink *s) { pop((model_sink *)s); }

static ps_field *new_field(model_sink *m)
{
    field_vec *v = m->fields;
    if (v->len == v->cap) {
        uint32_t cap = v->cap ? v->cap * 2 : 64;
        ps_field *items = realloc(v->items, cap * sizeof *items);
        if (!items) {
            v->failed = 1;
            return NULL;
        }
        v->items = items;
        v->cap = cap;
    }
    return &v->items[v->len++];
}

static void ms_scalar(json_sink *s, const char *key, size_t klen, const bx_node *parts,
                      int empty_is_string)
{
    model_sink *m = (model_sink *)s;
    size_t mark = m->path.len;
    if (key) {
        if (m->path.len)
            ps_buf_addc(&m->path, '.');
        ps_buf_add(&m->path, key, klen);
    }
    bx_value single;
    ps_kind kind = parts_kind(parts, &single);
    if (kind == PS_KIND_NULL && empty_is_string)
        kind = PS_KIND_STRING;
    if (kind == PS_KIND_STRING && single.data && single.type == BX_T_FILETIME &&
        single.size == 8 && key && klen == 10 && !memcmp(key, "SystemTime", 10))
        m->filetime = rd64(single.data);
    ps_buf_reset(&m->value);
    put_parts(&m->value, parts, ESC_NONE, &STYLE_JSON);
    ps_field *f = new_field(m);
    char *path = ps_arena_strndup(m->arena, m->path.data ? m->path.data : "", m->path.len);
    char *value = ps_arena_strndup(m->arena, m->value.data ? m->value.data : "", m->value.len);
    if (!f || !path || !value || m->path.failed || m->value.failed) {
        m->failed = 1;
        if (f)
            m->fields->len--;
    } else {
        f->path = path;
        f->path_len = (uint32_t)m->path.len;
        const char *dot = memrchr(path, '.', m->path.len);
        f->name = dot ? dot + 1 : path;
        f->name_len = (uint32_t)(f->path_len - (uint32_t)(f->name - path));
        f->value = value;
        f->value_len = (uint32_t)m->value.len;
        f->kind = (uint8_t)kind;
    }
    m->path.len = mark;
}

static const char *field_text(const ps_event *ev, const char *path, const char *alt)
{
    const ps_field *f = ps_event_field(ev, path);
    if (!f && alt)
        f = ps_event_field(ev, alt);
    return f ? f->value : "";
}

int build_event(ps_event *ev, field_vec *fields, const bx_node *roots, ps_arena *arena)
{
    model_sink m = {
        .base = {ms_open, ms_close, ms_open, ms_close, ms_scalar},
        .fields = fields,
        .arena = arena,
    };
    ps_buf_init(&m.path);
    ps_buf_init(&m.value);
    fields->len = 0;
    fields->failed = 0;
    json_walk(roots, &m.base, arena);
    ps_buf_free(&m.path);
    ps_buf_free(&m.value);
    ev->fields = fields->items;
    ev->nfields = fields->len;
    ev->event_id = (uint32_t)strtoul(
        field_text(ev, "Event.System.EventID", "Event.System.EventID.#text"), NULL, 10);
    ev->channel = field_text(ev, "Event.System.Channel", NULL);
    ev->computer = field_text(ev, "Event.System.Computer", NULL);
    ev->provider = field_text(ev, "Event.System.Provider.#attributes.Name", NULL);
    ev->record_id = strtoull(field_text(ev, "Event.System.EventRecordID", NULL), NULL, 10);
    if (m.filetime)
        ev->time_filetime = m.filetime;
    return (m.failed || fields->failed) ? -1 : 0;
}
