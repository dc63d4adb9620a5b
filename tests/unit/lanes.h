/*
 * Every renderer over every record of a chunk, with the fast lane (compiled
 * templates) checked against the slow lane (expanded tree): where the fast
 * lane renders a record, its JSON (compact and indented) and XML must equal
 * the slow lane's byte for byte, and its event model build_event's. Shared by the chunk fuzz target (which aborts on a
 * difference), the replay of fuzz findings and the template tests.
 */
#ifndef PS_TESTS_LANES_H
#define PS_TESTS_LANES_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evtx/chunk.h"
#include "evtx/render.h"
#include "evtx/template.h"

/* What ps_event.layout promises, remembered from the first event of each
 * layout and checked on every later one. */
#define LANES_LAYOUTS 64
#define LANES_LAYOUT_FIELDS 256
typedef struct lanes_layout {
    uint64_t id;
    uint32_t nfields;
    const char *path[LANES_LAYOUT_FIELDS], *name[LANES_LAYOUT_FIELDS];
} lanes_layout;

typedef struct lanes {
    ps_buf fast, slow, other;
    field_vec fields, fast_fields;
    tpl_model_buf model;
    chunk_decoder *d;
    ps_arena *arena;           /* the decoder's record arena */
    unsigned records;          /* decodable records */
    unsigned fast_compact;     /* of which the fast lane rendered, compact */
    unsigned fast_pretty;      /* ... and indented */
    unsigned fast_model;       /* ... and as an event model */
    unsigned fast_xml;         /* ... and as XML */
    unsigned mismatches;
    char first_mismatch[160];  /* "record N (compact|indented)" */
    lanes_layout *layouts;     /* LANES_LAYOUTS of them */
    unsigned nlayouts;
    unsigned with_layout;      /* fast event models that had one */
    unsigned built;            /* fast event models tried (every other one defers) */
    unsigned deferred;         /* fast event models with deferred values */
} lanes;

static inline void lanes_init(lanes *l, chunk_decoder *d)
{
    memset(l, 0, sizeof *l);
    ps_buf_init(&l->fast);
    ps_buf_init(&l->slow);
    ps_buf_init(&l->other);
    /* Bounded as a dump's output is (hostile records amplify). */
    l->fast.limit = l->slow.limit = l->other.limit = 16u << 20;
    l->arena = &d->record_arena;
    l->d = d;
    l->layouts = calloc(LANES_LAYOUTS, sizeof *l->layouts);
}

static inline void lanes_free(lanes *l)
{
    ps_buf_free(&l->fast);
    ps_buf_free(&l->slow);
    ps_buf_free(&l->other);
    free(l->fields.items);
    free(l->fast_fields.items);
    tpl_model_buf_free(&l->model);
    free(l->layouts);
}

/* 0 when the event keeps its layout's promise (or has none). */
static inline int lanes_check_layout(lanes *l, const ps_event *ev)
{
    if (!ev->layout || !l->layouts || ev->nfields > LANES_LAYOUT_FIELDS)
        return 0;
    l->with_layout++;
    for (unsigned i = 0; i < l->nlayouts; i++) {
        lanes_layout *k = &l->layouts[i];
        if (k->id != ev->layout)
            continue;
        if (k->nfields != ev->nfields)
            return -1;
        for (uint32_t f = 0; f < ev->nfields; f++)
            if (k->path[f] != ev->fields[f].path || k->name[f] != ev->fields[f].name)
                return -1;
        return 0;
    }
    if (l->nlayouts < LANES_LAYOUTS) {
        lanes_layout *k = &l->layouts[l->nlayouts++];
        k->id = ev->layout;
        k->nfields = ev->nfields;
        for (uint32_t f = 0; f < ev->nfields; f++) {
            k->path[f] = ev->fields[f].path;
            k->name[f] = ev->fields[f].name;
        }
    }
    return 0;
}

static inline int same_str(const char *a, uint32_t alen, const char *b, uint32_t blen)
{
    return alen == blen && !memcmp(a, b, alen) && !a[alen] && !b[blen];
}

/* The fast event model against build_event's, field by field. */
static inline int same_events(const ps_event *a, const ps_event *b)
{
    if (a->nfields != b->nfields || a->event_id != b->event_id ||
        a->record_id != b->record_id || a->time_filetime != b->time_filetime ||
        strcmp(a->channel, b->channel) || strcmp(a->computer, b->computer) ||
        strcmp(a->provider, b->provider))
        return 0;
    for (uint32_t i = 0; i < a->nfields; i++) {
        const ps_field *x = &a->fields[i], *y = &b->fields[i];
        if (x->kind != y->kind || x->typed != y->typed || !same_str(x->path, x->path_len, y->path, y->path_len) ||
            !same_str(x->name, x->name_len, y->name, y->name_len) ||
            !same_str(x->value, x->value_len, y->value, y->value_len))
            return 0;
    }
    return 1;
}

static inline void lanes_mismatch(lanes *l, const record_info *ri, const char *how)
{
    if (!l->mismatches++)
        snprintf(l->first_mismatch, sizeof l->first_mismatch, "record %llu (%s)",
                 (unsigned long long)ri->id, how);
}

/* A record_fn: ctx is a lanes. */
static inline int lanes_on_record(void *ctx, const record_info *ri, record_src *rec)
{
    lanes *l = ctx;
    ps_buf_reset(&l->fast);
    int compact = record_json_fast(rec, &l->fast, 0);
    size_t split = l->fast.len;
    int pretty = record_json_fast(rec, &l->fast, 1);
    ps_event fast_ev = {.time_filetime = ri->written};
    l->model.defer = l->built++ & 1;
    int model = l->d->templates && tpl_build_event(l->d->templates, &l->d->bx, rec->start,
                                                   rec->end, &l->fast_fields, &l->model,
                                                   &fast_ev);
    const bx_node *roots = record_tree(rec);
    if (!roots) {
        if (compact || pretty || model || record_xml_fast(rec, &l->other))
            lanes_mismatch(l, ri, "fast lane rendered an undecodable record");
        return 0;
    }
    l->records++;
    ps_buf_reset(&l->slow);
    render_json(&l->slow, roots, 0, l->arena);
    size_t slow_split = l->slow.len;
    render_json(&l->slow, roots, 1, l->arena);
    if (l->slow.failed) { /* past the limit: nothing to compare */
        l->slow.failed = 0;
        compact = pretty = 0;
    }
    if (compact) {
        l->fast_compact++;
        if (split != slow_split || memcmp(l->fast.data, l->slow.data, split))
            lanes_mismatch(l, ri, "compact");
    }
    if (pretty) {
        l->fast_pretty++;
        size_t n = l->fast.len - split;
        if (n != l->slow.len - slow_split ||
            memcmp(l->fast.data + split, l->slow.data + slow_split, n))
            lanes_mismatch(l, ri, "indented");
    }
    ps_buf_reset(&l->other);
    int xml = record_xml_fast(rec, &l->other);
    size_t xml_split = l->other.len;
    render_xml(&l->other, roots);
    if (l->other.failed) {
        l->other.failed = 0;
        xml = 0;
    }
    if (xml) {
        l->fast_xml++;
        if (xml_split != l->other.len - xml_split ||
            memcmp(l->other.data, l->other.data + xml_split, xml_split))
            lanes_mismatch(l, ri, "XML");
    }
    ps_event ev = {.time_filetime = ri->written};
    if (build_event(&ev, &l->fields, roots, l->arena) == 0 && model) {
        l->fast_model++;
        if (fast_ev.lazy) { /* last first: text made late must not move text made before */
            l->deferred++;
            for (uint32_t i = fast_ev.nfields; i-- > 0;)
                if (!fast_ev.fields[i].value && !fast_ev.fields[i].typed)
                    lanes_mismatch(l, ri, "deferred value not typed");
            const char *first = fast_ev.nfields ? fast_ev.fields[0].value : NULL;
            for (uint32_t i = fast_ev.nfields; i-- > 0;)
                ps_event_settle_field(&fast_ev, i);
            if (first && first != fast_ev.fields[0].value)
                lanes_mismatch(l, ri, "settling moved a value");
        }
        if (!same_events(&fast_ev, &ev))
            lanes_mismatch(l, ri, "event model");
        if (lanes_check_layout(l, &fast_ev) != 0)
            lanes_mismatch(l, ri, "event layout broken");
    } else if (model) {
        lanes_mismatch(l, ri, "fast event model of a record too large for the model");
    }
    return 0;
}

#endif
