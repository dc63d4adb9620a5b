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

/* Is v as long as its type says (a damaged descriptor prints as hex bytes)?
 * These three run for every value of every record: inline. */
static inline int value_well_sized(const bx_value *v)
{
    uint32_t want = bx_fixed_size(v->type);
    if (want)
        return v->size == want;
    if (v->type == BX_T_SIZET)
        return v->size == 4 || v->size == 8;
    if (v->type == BX_T_SID)
        return v->size >= 8 && v->size >= 8 + 4u * v->data[1];
    return 1;
}

/* Is v's text made by a formatter of numbers, GUIDs, SIDs, times or bytes
 * (ps_field.typed)? Arrays of such values too (joined by commas). */
static inline int value_is_typed(const bx_value *v)
{
    switch (v->type & ~BX_T_ARRAY) {
    case BX_T_INT8: case BX_T_UINT8: case BX_T_INT16: case BX_T_UINT16:
    case BX_T_INT32: case BX_T_UINT32: case BX_T_INT64: case BX_T_UINT64:
    case BX_T_BINARY: case BX_T_GUID: case BX_T_SIZET: case BX_T_FILETIME:
    case BX_T_SYSTIME: case BX_T_SID: case BX_T_HEX32: case BX_T_HEX64:
        return 1;
    default:
        return 0; /* strings, reals (NaN, inf), booleans, null, the rest */
    }
}

/* How the value prints in JSON (bare number/bool, string or null). */
static inline ps_kind value_kind(const bx_value *v)
{
    if (v->type == BX_T_NULL)
        return PS_KIND_NULL;
    if (!value_well_sized(v))
        return PS_KIND_STRING;
    if (v->type >= BX_T_INT8 && v->type <= BX_T_UINT64)
        return PS_KIND_INT;
    if (v->type == BX_T_BOOL)
        return PS_KIND_BOOL;
    return PS_KIND_STRING;
}

/* Append a FILETIME as ISO-8601 UTC with `digits` fraction digits (0-7). */
void put_filetime(ps_buf *b, uint64_t ft, unsigned digits);

#endif
