/*
 * Compiled templates: the fast lane of JSON and XML rendering and of the
 * event model.
 *
 * Nearly every record is one template instance: a definition (shared by
 * thousands of records) plus the record's values. The slow lane expands
 * the definition into a tree per record and walks it; here each definition
 * is instead compiled once per run into literal JSON text with holes, and a
 * record is rendered by copying the text and formatting each value straight
 * from the chunk bytes into the holes.
 *
 * What makes this exact: the JSON layout of a template depends on its
 * values only through their classes (bx_slot_class): a NULL value drops an
 * optional attribute, nested BinXML adds elements. So a compiled variant
 * exists per (template, classes of the values it uses), and it is made by
 * running the slow lane's own walker over a symbolically expanded tree
 * (bx_expand_symbolic, json_compile). What the layout cannot express
 * (arrays repeating elements, Data names from values, nested BinXML whose
 * keys collide with its parent's, anything damaged) falls back to the slow
 * lane, whose output the fast lane reproduces byte for byte (the fuzz target
 * checks this on every input).
 *
 * The store is shared by a run's workers: templates are looked up once per
 * chunk under a mutex; variants are published lock-free and read per record.
 * Its memory is capped: past the cap records simply take the slow lane.
 */
#ifndef PS_EVTX_TEMPLATE_H
#define PS_EVTX_TEMPLATE_H

#include "evtx/binxml.h"
#include "evtx/render.h"
#include "util/buf.h"

typedef struct tpl_store tpl_store;

/* NULL when out of memory. The store holds at most 16 MiB (capped: at most
 * `limit` bytes); past that, records of shapes not yet compiled take the
 * slow lane. */
tpl_store *tpl_store_new(void);
tpl_store *tpl_store_new_capped(size_t limit);
void tpl_store_free(tpl_store *st);

/* Render the record whose BinXML is [start, end) of chunk `c` as JSON
 * (compact, or indented as render_json does), appending to `out`. Returns 1
 * when written; 0 when the record needs the slow lane (nothing appended).
 * Reports nothing: the slow lane reports whatever made the fast lane give
 * up. Uses c->record_arena for the record's values. */
int tpl_render_json(tpl_store *st, bx_chunk *c, uint32_t start, uint32_t end, int pretty,
                    ps_buf *out);

/* Where a worker's compiled event models put their values; reused from
 * record to record (zero-initialise; tpl_model_buf_free at the end). */
typedef struct tpl_model_buf {
    ps_buf text;          /* the values' text, NUL-terminated each */
    uint32_t *offsets;    /* per field: its value's offset in text, or
                             TPL_DEFERRED | its index in `later` */
    uint32_t cap;
    int defer;            /* set by the owner: defer typed values */
    bx_value *later;      /* this event's deferred values (their text waits
                             for ps_event_settle_field) */
    size_t nlater, caplater;
    ps_arena late_text;   /* their text once made (never moves) */
    ps_buf scratch;
    field_vec *fields;    /* the event's, for settling */
    ps_event_lazy lazy;
} tpl_model_buf;

#define TPL_DEFERRED 0x80000000u

void tpl_model_buf_free(tpl_model_buf *mb);

/* The event model of the record (what build_event makes of its tree):
 * fields into `fields`, values into `mb`, quick fields into `ev` (its time
 * only when the record has a System/TimeCreated; preset it). Returns 1 when
 * built, 0 when the record needs the slow lane (fields and ev are then
 * left for build_event to fill). Field paths point into the store and stay
 * valid for the run; values until the next record. */
int tpl_build_event(tpl_store *st, bx_chunk *c, uint32_t start, uint32_t end,
                    field_vec *fields, tpl_model_buf *mb, ps_event *ev);

/* The same as XML (render_xml's). */
int tpl_render_xml(tpl_store *st, bx_chunk *c, uint32_t start, uint32_t end, ps_buf *out);

typedef struct tpl_stats {
    unsigned classes;       /* distinct template definitions */
    unsigned variants;      /* compiled (template, value classes, output) */
    unsigned unsupported;   /* variants left to the slow lane */
    size_t bytes;           /* memory held */
} tpl_stats;

void tpl_store_stats(tpl_store *st, tpl_stats *out);

#endif
