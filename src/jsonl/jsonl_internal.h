/* Internals of the JSON-lines reader: JSON value -> event model. */
#ifndef PS_JSONL_INTERNAL_H
#define PS_JSONL_INTERNAL_H

#include <jansson.h>
#include <stdint.h>

#include "plainsight/event.h"
#include "util/arena.h"
#include "util/buf.h"

/* Reused across events of one worker: after warm-up, building an event
 * allocates only from the arena, which is reset per event. */
typedef struct jl_builder {
    ps_field *fields;
    uint32_t nfields, cap;
    int failed;
    ps_arena arena;
    ps_buf path;
    ps_buf text;
    int big_ints;   /* the object's integers past 64 bits were quoted (JL_BIG_INT) */
    struct stream_state *stream; /* stream.c's, made on first use */
} jl_builder;

/* Integers beyond 64 bits (a UInt64 past INT64_MAX, as EVTX holds and
 * evtx_dump and plainsight write bare) are more than jansson takes: such an
 * object is parsed again with each of them quoted behind this prefix (the
 * UTF-8 of U+FFFF, a noncharacter), and the event model gets them back as
 * integers. jl_quote_big_ints rewrites `in` into `out`; 0 when it did. */
#define JL_BIG_INT "\uFFFF"
#define JL_BIG_INT_UTF8 "\xEF\xBF\xBF"
int jl_quote_big_ints(const char *in, size_t n, ps_buf *out);

void jl_builder_init(jl_builder *b);
void jl_builder_free(jl_builder *b);

/* Fill `ev` (fields and quick fields, not source/offset) from one parsed
 * object. Returns 0; -1 with *why set when the object is not an event of
 * either layout; -2 when memory ran out. */
int jl_build_event(jl_builder *b, json_t *root, ps_event *ev, const char **why);

/* The streaming path for the evtx_dump layout (stream.c): the event of
 * object data[0..len) in `ev`, as jl_build_event would make it from
 * jansson's tree. 0; JL_STREAM_DECLINED when the object is one to give
 * jansson (another layout, bad JSON, or a case that path reads its own
 * way); -2 when memory ran out. */
#define JL_STREAM_DECLINED 1
int jl_stream_event(jl_builder *b, const char *data, size_t len, ps_event *ev);

/* The jansson path: parse data[0..len) (quoting integers past 64 bits
 * into `quoted` when it must) and build its event. 0; -1 with the reason
 * in why[] (and the line of a JSON error, from 0, in *line) when the object
 * is bad JSON or not an event; -2 when memory ran out. */
int jl_tree_event(jl_builder *b, ps_buf *quoted, const char *data, size_t len, ps_event *ev,
                  char *why, size_t why_size, uint64_t *line);

/* Do two events hold the same fields (bytes, kinds, order) and quick fields? */
int jl_same_event(const ps_event *a, const ps_event *b);

/* Shared by both paths (event.c). */
void jl_add_field(jl_builder *b, const char *path, size_t plen, const char *value, size_t vlen,
                  ps_kind kind);
void jl_real_text(double d, char out[40]);
void jl_start_event(jl_builder *b);  /* no fields yet; the builder's memory reused */
void jl_finish_event(jl_builder *b, ps_event *ev);

/* "2024-05-01T10:00:00.123456Z", evtx_dump's SystemTime form. */
void jl_format_systemtime(uint64_t filetime, char out[48]);

#endif
