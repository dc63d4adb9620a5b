/*
 * Renderers of expanded record trees (see binxml.h).
 *
 * The JSON layout is evtx_dump's, the de-facto input of Sigma tools. One
 * walker decides that layout (attributes under "#attributes", EventData
 * flattened by Data Name, duplicate keys suffixed _1, _2 ...) and drives a
 * sink: the JSON text writer, or the event-model builder. Both therefore
 * see exactly the same keys, so hunting an EVTX and hunting its JSON export
 * give the same field paths.
 */
#ifndef PS_EVTX_RENDER_H
#define PS_EVTX_RENDER_H

#include "evtx/binxml.h"
#include "plainsight/event.h"
#include "util/buf.h"

typedef struct json_sink json_sink;
struct json_sink {
    /* Open an object under `key` (key NULL: the root, or an array item). */
    void (*open)(json_sink *s, const char *key, size_t klen);
    void (*close)(json_sink *s);
    void (*open_array)(json_sink *s, const char *key, size_t klen);
    void (*close_array)(json_sink *s);
    /* A scalar made of the text nodes in the list `parts` (element nodes in
     * it are skipped). No text: null, or "" when `empty_is_string`. */
    void (*scalar)(json_sink *s, const char *key, size_t klen, const bx_node *parts,
                   int empty_is_string);
};

/* Walk the top-level nodes of a record. `arena` holds made-up keys. */
void json_walk(const bx_node *roots, json_sink *sink, ps_arena *arena);

/* Text nodes of a list: the kind they print as. For a lone value, *single
 * receives it (its type decides the kind). */
ps_kind parts_kind(const bx_node *parts, bx_value *single);
/* Append the text of the parts, escaped. */
struct value_style;
void put_parts(ps_buf *b, const bx_node *parts, int esc, const struct value_style *st);

/* JSON text: one record, compact (jsonl) or indented by `indent` spaces
 * starting at `level` (json array items). */
void render_json(ps_buf *out, const bx_node *roots, int pretty, ps_arena *arena);

/* XML as Windows renders it, indented by two spaces. */
void render_xml(ps_buf *out, const bx_node *roots);

/* The event model: fields appended to `fields` (a growable array owned by
 * the caller), strings in `arena`. Fills ev->fields/nfields and the quick
 * fields. Returns 0, or -1 when memory ran out. */
typedef struct field_vec {
    ps_field *items;
    uint32_t len;
    uint32_t cap;
    int failed;
} field_vec;

int build_event(ps_event *ev, field_vec *fields, const bx_node *roots, ps_arena *arena);

#endif
