/* Formatting of substitution values: straight from the record bytes into the
 * output buffer, escaped for the output format in the same pass. */
#ifndef PS_EVTX_VALUES_H
#define PS_EVTX_VALUES_H

#include "evtx/binxml.h"
#include "evtx/utf.h"
#include "plainsight/event.h"

/* Differences between the two renderings people expect. */
typedef struct value_style {
    uint8_t guid_braces;  /* Windows XML: {GUID}; evtx_dump JSON: bare */
    uint8_t time_digits;  /* fraction digits: 6 (evtx_dump JSON), 7 (Windows) */
    uint8_t trim;         /* strip white space around strings, as evtx_dump
                             does (Sigma rules are written against that) */
} value_style;

extern const value_style STYLE_JSON;
extern const value_style STYLE_XML;

/* Append the text of a value. */
void put_value(ps_buf *b, const bx_value *v, text_escape esc, const value_style *st);

/* A whole JSON scalar for a non-NULL value: a bare integer or boolean, or a
 * quoted string (what render_json writes for a lone value). */
void put_json_scalar(ps_buf *b, const bx_value *v);

/* How the value prints in JSON (bare number/bool, string or null). */
ps_kind value_kind(const bx_value *v);
/* Is v's text made by a formatter of numbers, GUIDs, SIDs, times or bytes
 * (ps_field.typed)? Arrays of such values too (joined by commas). */
int value_is_typed(const bx_value *v);

/* Append a FILETIME as ISO-8601 UTC with `digits` fraction digits (0-7). */
void put_filetime(ps_buf *b, uint64_t ft, unsigned digits);

#endif
