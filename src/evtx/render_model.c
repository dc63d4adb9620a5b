/* The event-model sink: the evtx_dump JSON layout as a flat field list. */
#include <stdlib.h>
#include <string.h>

#include "evtx/bytes.h"
#include "evtx/render.h"
#include "plainsight/jsonl.h"
#include "evtx/values.h"

#define MAX_PATH_DEPTH 64

typedef struct model_recorder model_recorder;

typedef struct model_sink {
    json_sink base;
    model_recorder *rec;              /* compiling (model_compile) */
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

static void rec_fail(model_recorder *r, const char *why);

static void push(model_sink *m, const char *key, size_t klen)
{
    if (m->depth >= MAX_PATH_DEPTH) {
        if (m->rec) /* paths would then depend on where a fragment is spliced */
            rec_fail(m->rec, "model paths nested too deeply");
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

static void rec_scalar(model_sink *m, const char *key, size_t klen, const bx_node *parts,
                       int empty_is_string);

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
    if (m->rec) {
        rec_scalar(m, key, klen, parts, empty_is_string);
        m->path.len = mark;
        return;
    }
    bx_value single = {0}; /* set when the text is one value alone */
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
        f->typed = (uint8_t)value_is_typed(&single);
    }
    m->path.len = mark;
}

/* Template-less records (exported, forwarded logs) and a few writers give
 * TimeCreated as text, not a FILETIME value: the event's time is then that
 * text, as a JSON export of the record would give it, rather than the time
 * the record header says it was written. */
void event_time_from_text(ps_event *ev)
{
    const ps_field *f = ps_event_field(ev, "Event.System.TimeCreated.#attributes.SystemTime");
    uint64_t ft;
    if (f && ps_time_parse(f->value, &ft, NULL) == 0)
        ev->time_filetime = ft;
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
    else
        event_time_from_text(ev);
    return (m.failed || fields->failed) ? -1 : 0;
}

/* --- compiling (see template.h) ----------------------------------------------- */

struct model_recorder {
    ps_arena *tmp;
    model_op *ops;
    uint32_t nops, capops;
    model_part *parts;
    uint32_t nparts, capparts;
    model_splice *splices;
    uint32_t nsplices, capsplices;
    key_waits waits;                 /* the splices' enclosing key sets */
    const char *why;
};

static void rec_fail(model_recorder *r, const char *why)
{
    if (!r->why)
        r->why = why;
}

static int rec_grow(model_recorder *r, void **items, uint32_t *cap, uint32_t len, size_t size)
{
    if (ps_arena_grow_array(r->tmp, items, cap, len, size) == 0)
        return 0;
    rec_fail(r, "out of memory");
    return -1;
}

static uint8_t quick_of(const char *path, size_t n)
{
    static const struct { const char *path; uint8_t quick; } quick[] = {
        {"Event.System.EventID", MQ_EVENT_ID},
        {"Event.System.EventID.#text", MQ_EVENT_ID_TEXT},
        {"Event.System.Channel", MQ_CHANNEL},
        {"Event.System.Computer", MQ_COMPUTER},
        {"Event.System.Provider.#attributes.Name", MQ_PROVIDER},
        {"Event.System.EventRecordID", MQ_RECORD_ID}};
    for (size_t i = 0; i < sizeof quick / sizeof quick[0]; i++)
        if (strlen(quick[i].path) == n && !memcmp(quick[i].path, path, n))
            return quick[i].quick;
    return MQ_NONE;
}

static int has_value_hole(const bx_node *parts)
{
    for (const bx_node *n = parts; n; n = n->next)
        if (n->hole == BX_HOLE_VALUE)
            return 1;
    return 0;
}

/* One field, with the path the sink has just built (m->path). */
static void rec_scalar(model_sink *m, const char *key, size_t klen, const bx_node *parts,
                       int empty_is_string)
{
    model_recorder *r = m->rec;
    if (rec_grow(r, (void **)&r->ops, &r->capops, r->nops, sizeof *r->ops))
        return;
    model_op *op = &r->ops[r->nops];
    memset(op, 0, sizeof *op);
    const char *path = m->path.data ? m->path.data : "";
    op->path = ps_arena_strndup(r->tmp, path, m->path.len);
    op->path_len = (uint32_t)m->path.len;
    const char *dot = memrchr(path, '.', m->path.len);
    op->name_off = dot ? (uint32_t)(dot + 1 - path) : 0;
    op->quick = quick_of(path, m->path.len);
    op->system_time = key && klen == 10 && !memcmp(key, "SystemTime", 10);
    if (!op->path) {
        rec_fail(r, "out of memory");
        return;
    }
    unsigned count;
    const bx_node *only = last_text_part(parts, &count);
    if (!has_value_hole(parts)) {
        bx_value single = {0};
        ps_kind kind = parts_kind(parts, &single);
        if (kind == PS_KIND_NULL && empty_is_string)
            kind = PS_KIND_STRING;
        ps_buf_reset(&m->value);
        put_parts(&m->value, parts, ESC_NONE, &STYLE_JSON);
        op->kind = MOP_STATIC;
        op->field_kind = (uint8_t)kind;
        op->field_typed = (uint8_t)value_is_typed(&single);
        op->text = ps_arena_strndup(r->tmp, m->value.data ? m->value.data : "", m->value.len);
        op->text_len = (uint32_t)m->value.len;
        if (!op->text || m->value.failed)
            rec_fail(r, "out of memory");
    } else if (count == 1) {
        op->kind = MOP_VALUE;
        op->slot = only->index;
    } else {
        op->kind = MOP_PARTS;
        op->aux = r->nparts;
        for (const bx_node *n = parts; n; n = n->next) {
            if (!is_text_part(n))
                continue;
            if (rec_grow(r, (void **)&r->parts, &r->capparts, r->nparts, sizeof *r->parts))
                return;
            model_part *pt = &r->parts[r->nparts++];
            memset(pt, 0, sizeof *pt);
            if (n->hole) {
                pt->slot = n->index;
                continue;
            }
            ps_buf_reset(&m->value);
            put_part(&m->value, n, ESC_NONE, &STYLE_JSON);
            pt->lit = ps_arena_strndup(r->tmp, m->value.data ? m->value.data : "", m->value.len);
            pt->len = (uint32_t)m->value.len;
            if (!pt->lit)
                rec_fail(r, "out of memory");
        }
        op->nparts = r->nparts - op->aux;
    }
    r->nops++;
}

static void ms_splice(json_sink *s, const bx_node *hole, struct key_set *parent,
                      int in_container)
{
    model_sink *m = (model_sink *)s;
    model_recorder *r = m->rec;
    if (rec_grow(r, (void **)&r->ops, &r->capops, r->nops, sizeof *r->ops) ||
        rec_grow(r, (void **)&r->splices, &r->capsplices, r->nsplices, sizeof *r->splices))
        return;
    if (key_waits_add(&r->waits, parent) < 0) {
        rec_fail(r, "out of memory");
        return;
    }
    model_splice *sp = &r->splices[r->nsplices];
    memset(sp, 0, sizeof *sp);
    sp->prefix = ps_arena_strndup(r->tmp, m->path.data ? m->path.data : "", m->path.len);
    sp->prefix_len = (uint32_t)m->path.len;
    sp->depth = (uint32_t)m->depth;
    sp->in_container = (uint32_t)in_container;
    if (!sp->prefix)
        rec_fail(r, "out of memory");
    model_op *op = &r->ops[r->nops++];
    memset(op, 0, sizeof *op);
    op->kind = MOP_SPLICE;
    op->slot = hole->index;
    op->aux = r->nsplices++;
}

static void ms_keys_done(json_sink *s, const struct key_set *ks)
{
    key_waits_done(&((model_sink *)s)->rec->waits, ks);
}

static void ms_unsupported(json_sink *s, const char *why)
{
    rec_fail(((model_sink *)s)->rec, why);
}

/* Everything the program points at, from the compile arena into `dest`. */
static int copy_program(const model_recorder *r, ps_arena *dest, model_program *out)
{
    model_op *ops = arena_dup(dest, r->ops, r->nops * sizeof *ops);
    model_part *parts = arena_dup(dest, r->parts, r->nparts * sizeof *parts);
    model_splice *splices = arena_dup(dest, r->splices, r->nsplices * sizeof *splices);
    if (!ops || !parts || !splices)
        return -1;
    for (uint32_t i = 0; i < r->nops; i++) {
        model_op *op = &ops[i];
        if (op->path && !(op->path = ps_arena_strndup(dest, op->path, op->path_len)))
            return -1;
        if (op->text && !(op->text = ps_arena_strndup(dest, op->text, op->text_len)))
            return -1;
        op->proto = (ps_field){.path = op->path,
                               .name = op->path ? op->path + op->name_off : NULL,
                               .value = op->text,
                               .path_len = op->path_len,
                               .name_len = op->path_len - op->name_off,
                               .value_len = op->text_len,
                               .kind = op->field_kind,
                               .typed = op->field_typed};
    }
    for (uint32_t i = 0; i < r->nparts; i++)
        if (parts[i].lit && !(parts[i].lit = ps_arena_strndup(dest, parts[i].lit, parts[i].len)))
            return -1;
    for (uint32_t i = 0; i < r->nsplices; i++) {
        splices[i].nkeys = r->waits.nkeys[i];
        if (!(splices[i].prefix = ps_arena_strndup(dest, splices[i].prefix, splices[i].prefix_len)) ||
            !(splices[i].keys = json_keys_dup(dest, r->waits.keys[i], r->waits.nkeys[i])))
            return -1;
    }
    out->ops = ops;
    out->nops = r->nops;
    out->parts = parts;
    out->splices = splices;
    out->top_keys = json_keys_dup(dest, r->waits.top, r->waits.ntop);
    out->ntop_keys = r->waits.ntop;
    return out->top_keys ? 0 : -1;
}

int model_compile(const bx_node *roots, const char *prefix, uint32_t prefix_len,
                  uint32_t depth, int members, ps_arena *tmp, ps_arena *dest,
                  model_program *out, const char **why)
{
    model_recorder r = {.tmp = tmp, .waits = {.tmp = tmp}};
    field_vec none = {0};
    model_sink m = {
        .base = {ms_open, ms_close, ms_open, ms_close, ms_scalar, ms_splice, ms_keys_done,
                 ms_unsupported},
        .rec = &r,
        .fields = &none,
        .arena = tmp,
        .depth = (int)depth,
    };
    ps_buf_init(&m.path);
    ps_buf_init(&m.value);
    ps_buf_add(&m.path, prefix, prefix_len);
    json_walk_ex(roots, &m.base, tmp, members);
    if (key_waits_check(&r.waits) != 0)
        rec_fail(&r, "out of memory");
    if (m.path.failed)
        rec_fail(&r, "out of memory");
    ps_buf_free(&m.path);
    ps_buf_free(&m.value);
    memset(out, 0, sizeof *out);
    if (r.why || copy_program(&r, dest, out) != 0) {
        *why = r.why ? r.why : "out of memory";
        return -1;
    }
    for (const bx_node *n = roots; n; n = n->next)
        out->data_roots |= n->kind == BX_ELEM && n->name && n->name->role == BX_NAME_DATA;
    return 0;
}
