/* The evtx_dump JSON layout (walker) and the JSON text sink. */
#include <stdio.h>
#include <string.h>

#include "evtx/render.h"
#include "evtx/values.h"

/* --- text parts ------------------------------------------------------------ */

int is_text_part(const bx_node *n)
{
    return n->kind == BX_VALUE || n->kind == BX_CDATA || n->kind == BX_CHARREF ||
           n->kind == BX_ENTREF;
}

const bx_node *last_text_part(const bx_node *parts, unsigned *count)
{
    const bx_node *last = NULL;
    *count = 0;
    for (const bx_node *n = parts; n; n = n->next)
        if (is_text_part(n)) {
            last = n;
            (*count)++;
        }
    return last;
}

ps_kind parts_kind(const bx_node *parts, bx_value *single)
{
    unsigned count;
    const bx_node *only = last_text_part(parts, &count);
    if (count == 0)
        return PS_KIND_NULL;
    if (count > 1 || only->kind != BX_VALUE)
        return PS_KIND_STRING;
    /* A lone value keeps its type: integers and booleans print bare. */
    single->data = only->data;
    single->size = only->size;
    single->type = only->type;
    return value_kind(single);
}

static void put_charref(ps_buf *b, unsigned cp, int esc)
{
    if (esc == ESC_XML_TEXT || esc == ESC_XML_ATTR) {
        ps_buf_printf(b, "&#%u;", cp);
        return;
    }
    uint8_t u16[2] = {(uint8_t)(cp & 0xFF), (uint8_t)(cp >> 8)};
    put_utf16(b, u16, 1, (text_escape)esc, 0);
}

void put_part(ps_buf *b, const bx_node *n, int esc, const struct value_style *st)
{
        switch (n->kind) {
        case BX_VALUE: {
            bx_value v = {n->data, n->size, n->type};
            put_value(b, &v, (text_escape)esc, st);
            break;
        }
        case BX_CDATA:
            if (esc == ESC_XML_TEXT) {
                ps_buf_lit(b, "<![CDATA[");
                put_utf16(b, n->data, n->size / 2, ESC_NONE, 0);
                ps_buf_lit(b, "]]>");
            } else {
                put_utf16(b, n->data, n->size / 2, (text_escape)esc, 0);
            }
            break;
        case BX_CHARREF: put_charref(b, n->index, esc); break;
        case BX_ENTREF:
            if (esc == ESC_XML_TEXT || esc == ESC_XML_ATTR) {
                ps_buf_addc(b, '&');
                put_utf8(b, n->name->s, n->name->len, (text_escape)esc);
                ps_buf_addc(b, ';');
            } else { /* resolve the five XML entities; keep others as written */
                static const struct { const char *name, *text; } ents[] = {
                    {"lt", "<"}, {"gt", ">"}, {"amp", "&"}, {"quot", "\""}, {"apos", "'"}};
                const char *text = NULL;
                for (size_t i = 0; i < 5; i++)
                    if (!strcmp(n->name->s, ents[i].name))
                        text = ents[i].text;
                if (text) {
                    put_utf8(b, text, 1, (text_escape)esc);
                } else {
                    put_utf8(b, "&", 1, (text_escape)esc);
                    put_utf8(b, n->name->s, n->name->len, (text_escape)esc);
                    put_utf8(b, ";", 1, (text_escape)esc);
                }
            }
            break;
        default: break;
        }
}

void put_parts(ps_buf *b, const bx_node *parts, int esc, const struct value_style *st)
{
    for (const bx_node *n = parts; n; n = n->next)
        put_part(b, n, esc, st);
}

/* --- the walker --------------------------------------------------------------- */

/* Keys already used in one JSON object. Almost every object has distinct
 * keys, so a 64-bit Bloom filter of key hashes answers "new key" without a
 * lookup; only a filter hit compares keys. Hostile records can expand into
 * thousands of same-named siblings, so past KEYS_LINEAR keys the set moves
 * to a hash table and each name remembers its next free suffix: the whole
 * object stays linear. */
#define KEYS_LINEAR 32

typedef struct key_entry {
    const char *k;
    size_t n;
    uint32_t hash;
    uint32_t next_suffix;
} key_entry;

typedef struct key_set {
    key_entry *keys;      /* the first KEYS_LINEAR keys, in order */
    size_t len;
    uint64_t bloom;
    key_entry *table;     /* hash table once len > KEYS_LINEAR */
    size_t cap, tlen;
    ps_arena *arena;
    unsigned splices;     /* compiling: splice holes among its members */
    int container;        /* the members of an EventData/UserData */
    int top;              /* compiling: the top-level set of the members */
} key_set;

uint32_t json_key_hash(const char *k, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)k[i]) * 16777619u;
    return h;
}

static uint64_t bloom_bit(uint32_t h) { return 1ull << (h >> 26); }

static key_entry *table_find(key_set *ks, const char *k, size_t n, uint32_t h)
{
    for (size_t i = h & (ks->cap - 1);; i = (i + 1) & (ks->cap - 1)) {
        key_entry *e = &ks->table[i];
        if (!e->k)
            return NULL;
        if (e->hash == h && e->n == n && !memcmp(e->k, k, n))
            return e;
    }
}

static key_entry *key_find(key_set *ks, const char *k, size_t n, uint32_t h)
{
    if (!(ks->bloom & bloom_bit(h)))
        return NULL;
    if (ks->table)
        return table_find(ks, k, n, h);
    for (size_t i = 0; i < ks->len; i++)
        if (ks->keys[i].hash == h && ks->keys[i].n == n && !memcmp(ks->keys[i].k, k, n))
            return &ks->keys[i];
    return NULL;
}

static void table_place(key_entry *table, size_t cap, const key_entry *e)
{
    size_t i = e->hash & (cap - 1);
    while (table[i].k)
        i = (i + 1) & (cap - 1);
    table[i] = *e;
}

static int table_grow(key_set *ks)
{
    size_t cap = ks->cap ? ks->cap * 2 : 4 * KEYS_LINEAR;
    key_entry *table = ps_arena_zalloc(ks->arena, cap * sizeof *table);
    if (!table)
        return -1;
    if (ks->table) {
        for (size_t i = 0; i < ks->cap; i++)
            if (ks->table[i].k)
                table_place(table, cap, &ks->table[i]);
    } else {
        for (size_t i = 0; i < ks->len; i++)
            table_place(table, cap, &ks->keys[i]);
    }
    ks->table = table;
    ks->cap = cap;
    return 0;
}

static int key_insert(key_set *ks, const char *k, size_t n, uint32_t h)
{
    key_entry e = {k, n, h, 1};
    ks->bloom |= bloom_bit(h);
    if (!ks->table && ks->len < KEYS_LINEAR) {
        if (!ks->keys && !(ks->keys = ps_arena_alloc(ks->arena, KEYS_LINEAR * sizeof e)))
            return -1;
        ks->keys[ks->len++] = e;
        return 0;
    }
    if ((!ks->table || (ks->tlen + 1) * 2 > ks->cap) && table_grow(ks) != 0)
        return -1;
    if (!ks->tlen)
        ks->tlen = ks->len;
    table_place(ks->table, ks->cap, &e);
    ks->tlen++;
    return 0;
}

void key_set_each(const key_set *ks, void (*fn)(void *ctx, const char *k, size_t n), void *ctx)
{
    if (ks->table) {
        for (size_t i = 0; i < ks->cap; i++)
            if (ks->table[i].k)
                fn(ctx, ks->table[i].k, ks->table[i].n);
    } else {
        for (size_t i = 0; i < ks->len; i++)
            fn(ctx, ks->keys[i].k, ks->keys[i].n);
    }
}

/* Returns a key unique in the object: `k`, else k_1, k_2, ... */
static const char *unique_key(key_set *ks, const char *k, size_t *n)
{
    uint32_t h = json_key_hash(k, *n);
    key_entry *base = key_find(ks, k, *n, h);
    if (!base) {
        key_insert(ks, k, *n, h);
        return k;
    }
    char *tmp = ps_arena_alloc(ks->arena, *n + 12);
    if (!tmp)
        return k;
    for (uint32_t i = base->next_suffix;; i++) {
        int m = snprintf(tmp, *n + 12, "%.*s_%u", (int)*n, k, i);
        uint32_t th = json_key_hash(tmp, (size_t)m);
        if (!key_find(ks, tmp, (size_t)m, th)) {
            base->next_suffix = i + 1; /* before the insert may move it */
            key_insert(ks, tmp, (size_t)m, th);
            *n = (size_t)m;
            return tmp;
        }
    }
}

typedef struct walker {
    json_sink *sink;
    ps_arena *arena;
    ps_buf *scratch;
} walker;

static void walk_element(walker *w, const bx_node *el, key_set *parent);

static int has_kind(const bx_node *list, int elements)
{
    for (const bx_node *n = list; n; n = n->next)
        if (elements ? n->kind == BX_ELEM : is_text_part(n))
            return 1;
    return 0;
}

static int name_is(const bx_node *n, uint8_t role)
{
    return n->name && n->name->role == role;
}

/* Compiling: the layout would depend on a value. */
static void unsupported(walker *w, const char *why)
{
    if (w->sink->unsupported)
        w->sink->unsupported(w->sink, why);
}

static int has_hole(const bx_node *list, int kind)
{
    for (const bx_node *n = list; n; n = n->next)
        if (n->hole == kind)
            return 1;
    return 0;
}

/* Compiling: tell the sink a key set that had splices is complete. */
static void keys_done(walker *w, const key_set *ks)
{
    if ((ks->splices || ks->top) && w->sink->keys_done)
        w->sink->keys_done(w->sink, ks);
}

/* The Name attribute's value of a <Data> element, as UTF-8 (NULL if none or
 * empty). */
static const char *data_name(walker *w, const bx_node *el, size_t *len)
{
    if (el->kind != BX_ELEM || !name_is(el, BX_NAME_DATA))
        return NULL;
    for (const bx_node *a = el->attrs; a; a = a->next) {
        if (!name_is(a, BX_NAME_NAME))
            continue;
        if (has_hole(a->children, BX_HOLE_VALUE)) {
            unsupported(w, "Data Name from a value");
            return NULL;
        }
        ps_buf_reset(w->scratch);
        put_parts(w->scratch, a->children, ESC_NONE, &STYLE_JSON);
        if (!w->scratch->len || w->scratch->failed)
            return NULL;
        *len = w->scratch->len;
        return ps_arena_strndup(w->arena, w->scratch->data, w->scratch->len);
    }
    return NULL;
}

/* Does this <Data> carry a non-empty Name attribute? */
static int has_name_attr(walker *w, const bx_node *el)
{
    for (const bx_node *a = el->attrs; a; a = a->next)
        if (name_is(a, BX_NAME_NAME))
            for (const bx_node *v = a->children; v; v = v->next) {
                if (v->hole)
                    unsupported(w, "Data Name from a value");
                if (v->kind != BX_VALUE || v->size > 0)
                    return 1;
            }
    return 0;
}

static void walk_attributes(walker *w, const bx_node *attrs)
{
    key_set ks = {.arena = w->arena};
    w->sink->open(w->sink, "#attributes", 11);
    for (const bx_node *a = attrs; a; a = a->next) {
        size_t n = a->name->len;
        const char *k = unique_key(&ks, a->name->s, &n);
        w->sink->scalar(w->sink, k, n, a->children, 1);
    }
    w->sink->close(w->sink);
}

/* Ordinary children: one key per element, duplicates suffixed. */
static void walk_children(walker *w, const bx_node *el, key_set *ks)
{
    for (const bx_node *c = el->children; c; c = c->next)
        if (c->kind == BX_ELEM)
            walk_element(w, c, ks);
}

/* EventData/UserData with named <Data> items: "Name": value. */
static void walk_named_data(walker *w, const bx_node *el, key_set *ks)
{
    for (const bx_node *c = el->children; c; c = c->next) {
        if (c->kind != BX_ELEM)
            continue;
        size_t n = 0;
        const char *name = data_name(w, c, &n);
        if (name) {
            const char *k = unique_key(ks, name, &n);
            w->sink->scalar(w->sink, k, n, c->children, 1);
        } else {
            walk_element(w, c, ks);
        }
    }
}

/* EventData without names: all <Data> gather into "Data": {"#text": ...}. */
static void walk_unnamed_data(walker *w, const bx_node *el, key_set *ks, unsigned ndata)
{
    int done = 0;
    for (const bx_node *c = el->children; c; c = c->next) {
        if (c->kind != BX_ELEM)
            continue;
        if (!name_is(c, BX_NAME_DATA)) {
            walk_element(w, c, ks);
            continue;
        }
        if (done)
            continue;
        done = 1;
        size_t n = 4;
        const char *k = unique_key(ks, "Data", &n);
        w->sink->open(w->sink, k, n);
        if (ndata == 1) {
            w->sink->scalar(w->sink, "#text", 5, c->children, 0);
        } else {
            w->sink->open_array(w->sink, "#text", 5);
            for (const bx_node *d = c; d; d = d->next)
                if (d->kind == BX_ELEM && name_is(d, BX_NAME_DATA))
                    w->sink->scalar(w->sink, NULL, 0, d->children, 0);
            w->sink->close_array(w->sink);
        }
        w->sink->close(w->sink);
    }
}

static void walk_container(walker *w, const bx_node *el, const char *key, size_t klen)
{
    unsigned ndata = 0, named = 0;
    for (const bx_node *c = el->children; c; c = c->next)
        if (c->kind == BX_ELEM && name_is(c, BX_NAME_DATA)) {
            ndata++;
            named += has_name_attr(w, c);
        }
    key_set ks = {.arena = w->arena, .container = 1};
    w->sink->open(w->sink, key, klen);
    if (el->attrs)
        walk_attributes(w, el->attrs);
    if (named)
        walk_named_data(w, el, &ks);
    else
        walk_unnamed_data(w, el, &ks, ndata);
    keys_done(w, &ks);
    w->sink->close(w->sink);
}

static void walk_element(walker *w, const bx_node *el, key_set *parent)
{
    if (el->hole == BX_HOLE_SPLICE) {
        /* In EventData/UserData, nested <Data> items would join the Data
         * layout; a nested fragment without any is laid out as ordinary
         * members there too. */
        parent->splices++;
        w->sink->splice(w->sink, el, parent, parent->container);
        return;
    }
    size_t klen = el->name->len;
    const char *key = unique_key(parent, el->name->s, &klen);
    int elems = has_kind(el->children, 1);
    if (elems && (name_is(el, BX_NAME_EVENTDATA) || name_is(el, BX_NAME_USERDATA))) {
        walk_container(w, el, key, klen);
        return;
    }
    if (!el->attrs && !elems) {
        w->sink->scalar(w->sink, key, klen, el->children, 0);
        return;
    }
    key_set ks = {.arena = w->arena};
    w->sink->open(w->sink, key, klen);
    if (el->attrs)
        walk_attributes(w, el->attrs);
    walk_children(w, el, &ks);
    if (has_kind(el->children, 0))
        w->sink->scalar(w->sink, "#text", 5, el->children, 0);
    keys_done(w, &ks);
    w->sink->close(w->sink);
}

/* The members of the top-level object; `members` leaves out its braces
 * (a compiled nested fragment, spliced into an object of its parent). */
void json_walk_ex(const bx_node *roots, json_sink *sink, ps_arena *arena, int members)
{
    ps_buf scratch;
    ps_buf_init(&scratch);
    walker w = {.sink = sink, .arena = arena, .scratch = &scratch};
    key_set ks = {.arena = arena, .top = members};
    if (!members)
        sink->open(sink, NULL, 0);
    for (const bx_node *n = roots; n; n = n->next)
        if (n->kind == BX_ELEM)
            walk_element(&w, n, &ks);
    keys_done(&w, &ks);
    if (!members)
        sink->close(sink);
    ps_buf_free(&scratch);
}

void json_walk(const bx_node *roots, json_sink *sink, ps_arena *arena)
{
    json_walk_ex(roots, sink, arena, 0);
}

/* --- the JSON text sink ----------------------------------------------------------- */

/* Compiling: the program taking shape. The literal text is what the sink
 * writes to `out`; each hole closes the literal run before it. */
typedef struct recorder {
    json_op *ops;
    uint32_t nops, capops;
    size_t lit_mark;         /* out->len where the current literal run began */
    json_splice *splices;
    uint32_t nsplices, capsplices;
    key_waits waits;         /* the splices' enclosing key sets */
    ps_arena *tmp;
    const char *why;         /* first reason it cannot be compiled */
} recorder;

typedef struct text_sink {
    json_sink base;
    ps_buf *out;
    int pretty;
    int level;
    int first;   /* no member written yet at this level */
    recorder *rec;
} text_sink;

static void newline(text_sink *t)
{
    if (!t->pretty)
        return;
    ps_buf_addc(t->out, '\n');
    for (int i = 0; i < t->level; i++)
        ps_buf_lit(t->out, "  ");
}

static void member(text_sink *t, const char *key, size_t klen)
{
    if (!t->first)
        ps_buf_addc(t->out, ',');
    t->first = 0;
    if (t->level > 0)
        newline(t);
    if (key) {
        ps_buf_addc(t->out, '"');
        put_utf8(t->out, key, klen, ESC_JSON);
        if (t->pretty)
            ps_buf_lit(t->out, "\": ");
        else
            ps_buf_lit(t->out, "\":");
    }
}

static void open_with(text_sink *t, const char *key, size_t klen, char c)
{
    member(t, key, klen);
    ps_buf_addc(t->out, c);
    t->level++;
    t->first = 1;
}

static void close_with(text_sink *t, char c)
{
    t->level--;
    if (!t->first)
        newline(t);
    ps_buf_addc(t->out, c);
    t->first = 0;
}

static void ts_open(json_sink *s, const char *key, size_t klen)
{
    open_with((text_sink *)s, key, klen, '{');
}
static void ts_close(json_sink *s) { close_with((text_sink *)s, '}'); }
static void ts_open_array(json_sink *s, const char *key, size_t klen)
{
    open_with((text_sink *)s, key, klen, '[');
}
static void ts_close_array(json_sink *s) { close_with((text_sink *)s, ']'); }

static void rec_fail(recorder *r, const char *why)
{
    if (!r->why)
        r->why = why;
}

/* End the current literal run with a hole. */
static void rec_op(text_sink *t, uint16_t kind, uint16_t slot, uint32_t aux)
{
    recorder *r = t->rec;
    if (ps_arena_grow_array(r->tmp, (void **)&r->ops, &r->capops, r->nops, sizeof *r->ops)) {
        rec_fail(r, "out of memory");
        return;
    }
    r->ops[r->nops++] = (json_op){(uint32_t)(t->out->len - r->lit_mark), kind, slot, aux};
    r->lit_mark = t->out->len;
}

/* A scalar whose parts hold holes: one hole alone is typed at run time;
 * holes among other text are parts of one string. */
static void rec_scalar(text_sink *t, const bx_node *parts)
{
    unsigned count;
    const bx_node *only = last_text_part(parts, &count);
    if (count == 1 && only->hole) {
        rec_op(t, JOP_SCALAR, only->index, 0);
        return;
    }
    ps_buf_addc(t->out, '"');
    for (const bx_node *n = parts; n; n = n->next) {
        if (n->hole)
            rec_op(t, JOP_STRPART, n->index, 0);
        else
            put_part(t->out, n, ESC_JSON, &STYLE_JSON);
    }
    ps_buf_addc(t->out, '"');
}

static void ts_scalar(json_sink *s, const char *key, size_t klen, const bx_node *parts,
                      int empty_is_string)
{
    text_sink *t = (text_sink *)s;
    member(t, key, klen);
    if (t->rec && has_hole(parts, BX_HOLE_VALUE)) {
        rec_scalar(t, parts);
        return;
    }
    bx_value single;
    ps_kind kind = parts_kind(parts, &single);
    if (kind == PS_KIND_NULL) {
        if (empty_is_string)
            ps_buf_lit(t->out, "\"\"");
        else
            ps_buf_lit(t->out, "null");
        return;
    }
    if (kind == PS_KIND_INT || kind == PS_KIND_BOOL) {
        put_value(t->out, &single, ESC_NONE, &STYLE_JSON);
        return;
    }
    ps_buf_addc(t->out, '"');
    put_parts(t->out, parts, ESC_JSON, &STYLE_JSON);
    ps_buf_addc(t->out, '"');
}

static void ts_splice(json_sink *s, const bx_node *hole, key_set *parent, int in_container)
{
    text_sink *t = (text_sink *)s;
    recorder *r = t->rec;
    if (ps_arena_grow_array(r->tmp, (void **)&r->splices, &r->capsplices, r->nsplices,
                            sizeof *r->splices) ||
        key_waits_add(&r->waits, parent) < 0) {
        rec_fail(r, "out of memory");
        return;
    }
    /* The nested fragment always yields at least one element, so after it
     * the object has members. */
    r->splices[r->nsplices] = (json_splice){
        .level = (uint32_t)t->level, .comma = !t->first, .in_container = (uint16_t)in_container};
    rec_op(t, JOP_SPLICE, hole->index, r->nsplices);
    r->nsplices++;
    t->first = 0;
}

typedef struct key_list {
    json_key *keys;
    uint32_t n, cap;
    ps_arena *arena;
    int failed;
} key_list;

static void key_list_add(void *ctx, const char *k, size_t n)
{
    key_list *l = ctx;
    if (l->n == l->cap || l->failed) {
        l->failed = 1;
        return;
    }
    char *copy = ps_arena_strndup(l->arena, k, n);
    if (!copy) {
        l->failed = 1;
        return;
    }
    l->keys[l->n++] = (json_key){copy, (uint32_t)n, json_key_hash(k, n)};
}

/* A key set's keys (with their hashes), copied into `arena`. */
static int key_set_copy(const key_set *ks, ps_arena *arena, const json_key **out, uint32_t *n)
{
    size_t count = ks->table ? ks->tlen : ks->len;
    key_list l = {.cap = (uint32_t)count, .arena = arena};
    if (count && !(l.keys = ps_arena_alloc(arena, count * sizeof *l.keys)))
        return -1;
    key_set_each(ks, key_list_add, &l);
    *out = l.keys;
    *n = l.n;
    return l.failed ? -1 : 0;
}

int key_waits_add(key_waits *w, const key_set *parent)
{
    if (ps_arena_grow_array(w->tmp, (void **)&w->sets, &w->cap, w->n, sizeof *w->sets) ||
        ps_arena_grow_array(w->tmp, (void **)&w->keys, &w->cap_keys, w->n, sizeof *w->keys) ||
        ps_arena_grow_array(w->tmp, (void **)&w->nkeys, &w->cap_nkeys, w->n, sizeof *w->nkeys)) {
        w->failed = 1;
        return -1;
    }
    w->sets[w->n] = parent;
    w->keys[w->n] = NULL;
    w->nkeys[w->n] = 0;
    return (int)w->n++;
}

void key_waits_done(key_waits *w, const key_set *ks)
{
    for (uint32_t i = 0; i < w->n; i++)
        if (w->sets[i] == ks) {
            if (key_set_copy(ks, w->tmp, &w->keys[i], &w->nkeys[i]) != 0)
                w->failed = 1;
            w->sets[i] = NULL;
        }
    if (ks->top && key_set_copy(ks, w->tmp, &w->top, &w->ntop) != 0)
        w->failed = 1;
}

int key_waits_check(const key_waits *w)
{
    for (uint32_t i = 0; i < w->n; i++)
        if (w->sets[i])
            return -1; /* cannot happen: the walker reports every set */
    return w->failed ? -1 : 0;
}

static void ts_keys_done(json_sink *s, const key_set *ks)
{
    key_waits_done(&((text_sink *)s)->rec->waits, ks);
}

static void ts_unsupported(json_sink *s, const char *why)
{
    rec_fail(((text_sink *)s)->rec, why);
}

void render_json(ps_buf *out, const bx_node *roots, int pretty, ps_arena *arena)
{
    text_sink t = {
        .base = {ts_open, ts_close, ts_open_array, ts_close_array, ts_scalar},
        .out = out,
        .pretty = pretty,
        .level = 0,
        .first = 1,
    };
    json_walk(roots, &t.base, arena);
}

/* --- compiling -------------------------------------------------------------------- */

void *arena_dup(ps_arena *a, const void *p, size_t n)
{
    void *q = ps_arena_alloc(a, n ? n : 1);
    if (q && n)
        memcpy(q, p, n);
    return q;
}

const json_key *json_keys_dup(ps_arena *a, const json_key *keys, uint32_t n)
{
    json_key *out = arena_dup(a, keys, n * sizeof *keys);
    for (uint32_t i = 0; out && i < n; i++)
        if (!(out[i].s = ps_arena_strndup(a, keys[i].s, keys[i].len)))
            return NULL;
    return out;
}

int json_compile(const bx_node *roots, int pretty, int level, int members, ps_arena *tmp,
                 ps_arena *dest, json_program *out, const char **why)
{
    ps_buf lits;
    ps_buf_init(&lits);
    recorder r = {.tmp = tmp, .waits = {.tmp = tmp}};
    text_sink t = {
        .base = {ts_open, ts_close, ts_open_array, ts_close_array, ts_scalar, ts_splice,
                 ts_keys_done, ts_unsupported},
        .out = &lits,
        .pretty = pretty,
        .level = level,
        .first = 1,
        .rec = &r,
    };
    json_walk_ex(roots, &t.base, tmp, members);
    rec_op(&t, JOP_END, 0, 0);
    if (key_waits_check(&r.waits) != 0)
        rec_fail(&r, "out of memory");
    if (lits.failed)
        rec_fail(&r, "out of memory");
    if (r.why) {
        ps_buf_free(&lits);
        *why = r.why;
        return -1;
    }
    memset(out, 0, sizeof *out);
    json_splice *splices = arena_dup(dest, r.splices, r.nsplices * sizeof *r.splices);
    int ok = splices != NULL;
    for (uint32_t i = 0; ok && i < r.nsplices; i++) {
        splices[i].nkeys = r.waits.nkeys[i];
        ok = (splices[i].keys = json_keys_dup(dest, r.waits.keys[i], r.waits.nkeys[i])) != NULL;
    }
    out->ops = arena_dup(dest, r.ops, r.nops * sizeof *r.ops);
    out->nops = r.nops;
    out->lits = arena_dup(dest, lits.data, lits.len);
    out->splices = splices;
    out->nsplices = r.nsplices;
    out->top_keys = json_keys_dup(dest, r.waits.top, r.waits.ntop);
    out->ntop_keys = r.waits.ntop;
    for (const bx_node *n = roots; n; n = n->next)
        out->data_roots |= n->kind == BX_ELEM && name_is(n, BX_NAME_DATA);
    ps_buf_free(&lits);
    if (!ok || !out->ops || !out->lits || !out->top_keys) {
        *why = "out of memory";
        return -1;
    }
    return 0;
}
