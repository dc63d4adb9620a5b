#include "util/yaml_tree.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* An open sequence or mapping whose children are still being read. */
typedef struct yt_frame {
    yt_node *node;
    yt_node **kids;
    uint32_t n, cap;
} yt_frame;

typedef struct yt_builder {
    ps_arena *arena;
    yt_frame stack[YT_MAX_DEPTH];
    int depth;
    uint32_t nodes;
    yt_node *root;
    char *err;
    size_t errlen;
    uint32_t *err_line;
} yt_builder;

static int fail(yt_builder *b, uint32_t line, const char *msg)
{
    snprintf(b->err, b->errlen, "%s", msg);
    *b->err_line = line;
    return -1;
}

static yt_node *new_node(yt_builder *b, yt_type type, uint32_t line)
{
    if (++b->nodes > YT_MAX_NODES)
        return NULL;
    yt_node *n = ps_arena_zalloc(b->arena, sizeof *n);
    if (n) {
        n->type = (uint8_t)type;
        n->line = line;
        n->text = "";
    }
    return n;
}

static int attach(yt_builder *b, yt_node *n)
{
    if (b->depth == 0) {
        b->root = n;
        return 0;
    }
    yt_frame *f = &b->stack[b->depth - 1];
    if (f->n == f->cap) {
        uint32_t cap = f->cap ? f->cap * 2 : 8;
        yt_node **kids = realloc(f->kids, cap * sizeof *kids);
        if (!kids)
            return -1;
        f->kids = kids;
        f->cap = cap;
    }
    f->kids[f->n++] = n;
    return 0;
}

static int open_container(yt_builder *b, yt_type type, uint32_t line)
{
    if (b->depth >= YT_MAX_DEPTH)
        return fail(b, line, "YAML nesting too deep");
    yt_node *n = new_node(b, type, line);
    if (!n || attach(b, n) != 0)
        return fail(b, line, "YAML document too large");
    b->stack[b->depth++] = (yt_frame){.node = n};
    return 0;
}

static int close_container(yt_builder *b, uint32_t line)
{
    yt_frame *f = &b->stack[--b->depth];
    yt_node *n = f->node;
    n->n = n->type == YT_MAP ? f->n / 2 : f->n;
    if (f->n) {
        n->items = ps_arena_alloc(b->arena, f->n * sizeof *n->items);
        if (!n->items) {
            free(f->kids);
            return fail(b, line, "YAML document too large");
        }
        memcpy(n->items, f->kids, f->n * sizeof *n->items);
    }
    free(f->kids);
    return 0;
}

static int add_scalar(yt_builder *b, const yaml_event_t *ev, uint32_t line)
{
    yt_node *n = new_node(b, YT_SCALAR, line);
    if (!n)
        return fail(b, line, "YAML document too large");
    n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    n->len = (uint32_t)ev->data.scalar.length;
    n->text = ps_arena_strndup(b->arena, (const char *)ev->data.scalar.value, n->len);
    if (!n->text || attach(b, n) != 0)
        return fail(b, line, "YAML document too large");
    return 0;
}

static void drop_stack(yt_builder *b)
{
    while (b->depth > 0)
        free(b->stack[--b->depth].kids);
}

/* Handle one parser event; 1 when a document is complete, -1 on error. */
static int on_event(yt_builder *b, const yaml_event_t *ev)
{
    uint32_t line = (uint32_t)ev->start_mark.line + 1;
    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
        b->root = NULL;
        b->nodes = 0;
        return 0;
    case YAML_DOCUMENT_END_EVENT:
        return 1;
    case YAML_SCALAR_EVENT:
        return add_scalar(b, ev, line);
    case YAML_SEQUENCE_START_EVENT:
        return open_container(b, YT_SEQ, line);
    case YAML_MAPPING_START_EVENT:
        return open_container(b, YT_MAP, line);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        return close_container(b, line);
    case YAML_ALIAS_EVENT:
        return fail(b, line, "YAML aliases are not supported in rules");
    default:
        return 0;
    }
}

int yt_parse(const char *text, size_t len, ps_arena *arena, yt_doc_fn fn, void *ctx,
             char *err, size_t errlen, uint32_t *err_line)
{
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        snprintf(err, errlen, "out of memory");
        *err_line = 0;
        return -1;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    yt_builder b = {.arena = arena, .err = err, .errlen = errlen, .err_line = err_line};
    int rc = 0;
    uint32_t doc_line = 1;
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            snprintf(err, errlen, "YAML: %s", parser.problem ? parser.problem : "syntax error");
            *err_line = (uint32_t)parser.problem_mark.line + 1;
            rc = -1;
            break;
        }
        if (ev.type == YAML_DOCUMENT_START_EVENT)
            doc_line = (uint32_t)ev.start_mark.line + 1;
        int done = ev.type == YAML_STREAM_END_EVENT;
        int r = on_event(&b, &ev);
        yaml_event_delete(&ev);
        if (r < 0) {
            rc = -1;
            break;
        }
        if (r == 1 && b.root && fn(ctx, b.root, doc_line) != 0)
            break;
        if (done)
            break;
    }
    drop_stack(&b);
    yaml_parser_delete(&parser);
    return rc;
}

yt_node *yt_get(const yt_node *map, const char *key)
{
    if (!map || map->type != YT_MAP)
        return NULL;
    for (uint32_t i = 0; i < map->n; i++) {
        yt_node *k = map->items[2 * i];
        if (k->type == YT_SCALAR && strcmp(k->text, key) == 0)
            return map->items[2 * i + 1];
    }
    return NULL;
}

const char *yt_get_str(const yt_node *map, const char *key)
{
    yt_node *v = yt_get(map, key);
    return v && v->type == YT_SCALAR ? v->text : NULL;
}

int yt_is_null(const yt_node *n)
{
    if (!n)
        return 1;
    if (n->type != YT_SCALAR || !n->plain)
        return 0;
    return n->len == 0 || strcmp(n->text, "null") == 0 || strcmp(n->text, "~") == 0 ||
           strcmp(n->text, "Null") == 0 || strcmp(n->text, "NULL") == 0;
}

static int same_key(const yt_node *a, const yt_node *b)
{
    return a->type == YT_SCALAR && b->type == YT_SCALAR && a->len == b->len &&
           !memcmp(a->text, b->text, a->len);
}

/* The value of map key `key` (a scalar node) in `map`, or NULL. */
static yt_node *get_key(const yt_node *map, const yt_node *key)
{
    for (uint32_t i = 0; i < map->n; i++)
        if (same_key(map->items[2 * i], key))
            return map->items[2 * i + 1];
    return NULL;
}

static yt_node *new_map(ps_arena *a, uint32_t cap, uint32_t line)
{
    yt_node *m = ps_arena_zalloc(a, sizeof *m);
    yt_node **items = cap ? ps_arena_alloc(a, 2 * (size_t)cap * sizeof *items) : NULL;
    if (!m || (cap && !items))
        return NULL;
    m->type = YT_MAP;
    m->line = line;
    m->items = items;
    return m;
}

yt_node *yt_merge(ps_arena *a, const yt_node *base, const yt_node *over, int depth)
{
    if (!base || base->type != YT_MAP || !over || over->type != YT_MAP)
        return (yt_node *)over;
    if (depth >= YT_MAX_DEPTH)
        return NULL;
    yt_node *m = new_map(a, base->n + over->n, over->line);
    if (!m)
        return NULL;
    for (uint32_t i = 0; i < base->n; i++) {
        yt_node *k = base->items[2 * i], *v = base->items[2 * i + 1];
        yt_node *o = get_key(over, k);
        if (o && !(v = yt_merge(a, v, o, depth + 1)))
            return NULL;
        m->items[2 * m->n] = k;
        m->items[2 * m->n + 1] = v;
        m->n++;
    }
    for (uint32_t i = 0; i < over->n; i++) {
        yt_node *k = over->items[2 * i];
        if (get_key(base, k))
            continue;
        m->items[2 * m->n] = k;
        m->items[2 * m->n + 1] = over->items[2 * i + 1];
        m->n++;
    }
    return m;
}

yt_node *yt_without(ps_arena *a, const yt_node *map, const char *key)
{
    if (!map || map->type != YT_MAP)
        return (yt_node *)map;
    yt_node *m = new_map(a, map->n, map->line);
    if (!m)
        return NULL;
    for (uint32_t i = 0; i < map->n; i++) {
        yt_node *k = map->items[2 * i];
        if (k->type == YT_SCALAR && !strcmp(k->text, key))
            continue;
        m->items[2 * m->n] = k;
        m->items[2 * m->n + 1] = map->items[2 * i + 1];
        m->n++;
    }
    return m;
}
