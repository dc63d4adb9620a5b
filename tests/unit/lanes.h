/*
 * Every renderer over every record of a chunk, with the fast lane (compiled
 * templates) checked against the slow lane (expanded tree): where the fast
 * lane renders a record, its JSON must equal the slow lane's byte for byte,
 * compact and indented. Shared by the chunk fuzz target (which aborts on a
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

typedef struct lanes {
    ps_buf fast, slow, other;
    field_vec fields;
    ps_arena *arena;           /* the decoder's record arena */
    unsigned records;          /* decodable records */
    unsigned fast_compact;     /* of which the fast lane rendered, compact */
    unsigned fast_pretty;      /* ... and indented */
    unsigned mismatches;
    char first_mismatch[160];  /* "record N (compact|indented)" */
} lanes;

static inline void lanes_init(lanes *l, chunk_decoder *d)
{
    memset(l, 0, sizeof *l);
    ps_buf_init(&l->fast);
    ps_buf_init(&l->slow);
    ps_buf_init(&l->other);
    l->arena = &d->record_arena;
}

static inline void lanes_free(lanes *l)
{
    ps_buf_free(&l->fast);
    ps_buf_free(&l->slow);
    ps_buf_free(&l->other);
    free(l->fields.items);
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
    const bx_node *roots = record_tree(rec);
    if (!roots) {
        if (compact || pretty)
            lanes_mismatch(l, ri, "fast lane rendered an undecodable record");
        return 0;
    }
    l->records++;
    ps_buf_reset(&l->slow);
    render_json(&l->slow, roots, 0, l->arena);
    size_t slow_split = l->slow.len;
    render_json(&l->slow, roots, 1, l->arena);
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
    render_xml(&l->other, roots);
    ps_event ev = {0};
    build_event(&ev, &l->fields, roots, l->arena);
    return 0;
}

#endif
