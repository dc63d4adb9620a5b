/* The logsource table (data/logsources.yml): which Windows channels and event
 * IDs a Sigma logsource stands for, and how field names change there. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sigma/sigma_internal.h"

typedef struct ls_parser {
    ps_arena *arena;
    const yt_node *services;  /* of the product being read */
    char *err;
    size_t errlen;
    uint32_t *err_line;
} ls_parser;

static int ls_fail(ls_parser *p, uint32_t line, const char *msg)
{
    snprintf(p->err, p->errlen, "logsource table: %s", msg);
    *p->err_line = line;
    return -1;
}

static int read_kv_map(ls_parser *p, const yt_node *map, sg_kv **out, uint32_t *n)
{
    *n = 0;
    if (!map)
        return 0;
    if (map->type != YT_MAP)
        return ls_fail(p, map->line, "expected a map");
    *out = ps_arena_zalloc(p->arena, (map->n + 1) * sizeof **out);
    if (!*out)
        return ls_fail(p, map->line, "out of memory");
    for (uint32_t i = 0; i < map->n; i++) {
        const yt_node *k = map->items[2 * i], *v = map->items[2 * i + 1];
        if (k->type != YT_SCALAR || v->type != YT_SCALAR)
            return ls_fail(p, k->line, "expected name: value");
        (*out)[i] = (sg_kv){k->text, v->text};
    }
    *n = map->n;
    return 0;
}

/* A scalar or a list of scalars, as strings. */
static int read_strings(ls_parser *p, const yt_node *node, const char ***out, uint32_t *n)
{
    *n = 0;
    if (!node)
        return 0;
    uint32_t count = node->type == YT_SEQ ? node->n : 1;
    *out = ps_arena_zalloc(p->arena, (count + 1) * sizeof **out);
    if (!*out)
        return ls_fail(p, node->line, "out of memory");
    for (uint32_t i = 0; i < count; i++) {
        const yt_node *s = node->type == YT_SEQ ? node->items[i] : node;
        if (s->type != YT_SCALAR)
            return ls_fail(p, s->line, "expected a string");
        (*out)[i] = s->text;
    }
    *n = count;
    return 0;
}

static int read_eids(ls_parser *p, const yt_node *node, sg_variant_def *v)
{
    const char **s;
    if (read_strings(p, node, &s, &v->neids) != 0)
        return -1;
    if (!v->neids)
        return 0;
    v->eids = ps_arena_alloc(p->arena, v->neids * sizeof *v->eids);
    if (!v->eids)
        return ls_fail(p, node->line, "out of memory");
    for (uint32_t i = 0; i < v->neids; i++) {
        char *end;
        unsigned long e = strtoul(s[i], &end, 10);
        if (*end || e > UINT32_MAX)
            return ls_fail(p, node->line, "bad event ID");
        v->eids[i] = (uint32_t)e;
    }
    return 0;
}

/* values: {Field: {rule value: event value, ...}, ...} */
static int read_value_maps(ls_parser *p, const yt_node *node, sg_variant_def *v)
{
    if (!node)
        return 0;
    if (node->type != YT_MAP)
        return ls_fail(p, node->line, "values: expected a map of fields");
    v->value_maps = ps_arena_zalloc(p->arena, (node->n + 1) * sizeof *v->value_maps);
    if (!v->value_maps)
        return ls_fail(p, node->line, "out of memory");
    for (uint32_t i = 0; i < node->n; i++) {
        const yt_node *k = node->items[2 * i], *m = node->items[2 * i + 1];
        if (k->type != YT_SCALAR || !m || m->type != YT_MAP)
            return ls_fail(p, k->line, "values: expected field: {value: value}");
        sg_value_map *vm = &v->value_maps[i];
        vm->field = k->text;
        if (read_kv_map(p, m, &vm->pairs, &vm->npairs) != 0)
            return -1;
    }
    v->nvalue_maps = node->n;
    return 0;
}

static int read_channels_of_service(ls_parser *p, const char *service, uint32_t line,
                                    sg_variant_def *v)
{
    const yt_node *chan = yt_get(p->services, service);
    if (!chan) {
        char msg[160];
        snprintf(msg, sizeof msg, "unknown service '%s'", service);
        return ls_fail(p, line, msg);
    }
    return read_strings(p, chan, &v->channels, &v->nchannels);
}

/* One variant: {service | channel, eventid, rename, conditions}. */
static int read_variant(ls_parser *p, const yt_node *node, sg_variant_def *v)
{
    memset(v, 0, sizeof *v);
    if (node->type != YT_MAP)
        return ls_fail(p, node->line, "variant is not a map");
    const char *service = yt_get_str(node, "service");
    int rc = service ? read_channels_of_service(p, service, node->line, v)
                     : read_strings(p, yt_get(node, "channel"), &v->channels, &v->nchannels);
    if (rc == 0)
        rc = read_eids(p, yt_get(node, "eventid"), v);
    sg_kv *renames = NULL;
    if (rc == 0)
        rc = read_kv_map(p, yt_get(node, "rename"), &renames, &v->nrenames);
    v->renames = (sg_rename *)renames; /* same layout: two strings */
    if (rc == 0)
        rc = read_kv_map(p, yt_get(node, "conditions"), &v->conditions, &v->nconditions);
    if (rc == 0)
        rc = read_value_maps(p, yt_get(node, "values"), v);
    return rc;
}

static int read_product(ls_parser *p, const char *product, const yt_node *def,
                        sg_logsources *out, uint32_t *cap)
{
    p->services = yt_get(def, "services");
    const yt_node *cats = yt_get(def, "categories");
    uint32_t need = out->ndefs + (p->services ? p->services->n : 0) + (cats ? cats->n : 0) + 1;
    if (need > *cap) {
        sg_logsource_def *nd = ps_arena_zalloc(p->arena, need * 2 * sizeof *nd);
        if (!nd)
            return ls_fail(p, def->line, "out of memory");
        if (out->ndefs)
            memcpy(nd, out->defs, out->ndefs * sizeof *nd);
        out->defs = nd;
        *cap = need * 2;
    }
    /* Product alone: every channel. */
    sg_logsource_def *d = &out->defs[out->ndefs++];
    *d = (sg_logsource_def){.product = product, .nvariants = 1};
    d->variants = ps_arena_zalloc(p->arena, sizeof *d->variants);
    if (!d->variants)
        return ls_fail(p, def->line, "out of memory");
    for (uint32_t i = 0; p->services && i < p->services->n; i++) {
        const yt_node *k = p->services->items[2 * i];
        d = &out->defs[out->ndefs++];
        *d = (sg_logsource_def){.product = product, .service = k->text, .nvariants = 1};
        d->variants = ps_arena_zalloc(p->arena, sizeof *d->variants);
        if (!d->variants || read_channels_of_service(p, k->text, k->line, d->variants) != 0)
            return -1;
    }
    for (uint32_t i = 0; cats && i < cats->n; i++) {
        const yt_node *k = cats->items[2 * i], *v = cats->items[2 * i + 1];
        if (v->type != YT_SEQ || v->n == 0)
            return ls_fail(p, v->line, "category needs a list of variants");
        d = &out->defs[out->ndefs++];
        *d = (sg_logsource_def){.product = product, .category = k->text, .nvariants = v->n};
        d->variants = ps_arena_zalloc(p->arena, v->n * sizeof *d->variants);
        if (!d->variants)
            return ls_fail(p, v->line, "out of memory");
        for (uint32_t j = 0; j < v->n; j++)
            if (read_variant(p, v->items[j], &d->variants[j]) != 0)
                return -1;
    }
    return 0;
}

typedef struct ls_doc { ls_parser *p; sg_logsources *out; int rc; int seen; } ls_doc;

static int on_table_doc(void *ctx, yt_node *root, uint32_t line)
{
    ls_doc *d = ctx;
    d->seen = 1;
    if (root->type != YT_MAP) {
        d->rc = ls_fail(d->p, line, "not a map");
        return 1;
    }
    d->rc = read_kv_map(d->p, yt_get(root, "aliases"), &d->out->aliases, &d->out->naliases);
    const yt_node *products = yt_get(root, "products");
    uint32_t cap = 0;
    for (uint32_t i = 0; d->rc == 0 && products && i < products->n; i++)
        d->rc = read_product(d->p, products->items[2 * i]->text, products->items[2 * i + 1],
                             d->out, &cap);
    return 1;
}

int sg_logsources_parse(const char *text, size_t len, ps_arena *arena, sg_logsources *out,
                        char *err, size_t errlen, uint32_t *err_line)
{
    memset(out, 0, sizeof *out);
    ls_parser p = {.arena = arena, .err = err, .errlen = errlen, .err_line = err_line};
    ls_doc d = {.p = &p, .out = out};
    if (yt_parse(text, len, arena, on_table_doc, &d, err, errlen, err_line) != 0)
        return -1;
    if (!d.seen)
        return ls_fail(&p, 1, "empty");
    return d.rc;
}

static int same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

uint32_t sg_logsources_lookup(const sg_logsources *ls, const char *product,
                              const char *category, const char *service,
                              const sg_variant_def **variants)
{
    /* A category decides the events; a service adds nothing beyond it. */
    if (category)
        service = NULL;
    for (uint32_t i = 0; i < ls->ndefs; i++) {
        const sg_logsource_def *d = &ls->defs[i];
        if (same(d->product, product) && same(d->category, category) &&
            same(d->service, service)) {
            *variants = d->variants;
            return d->nvariants;
        }
    }
    return 0;
}
