/* Text conversion with fused escaping: UTF-16LE (EVTX strings) and
 * windows-1252 (ANSI values) to UTF-8, escaped for the output format in the
 * same pass so each value is touched once. */
#ifndef PS_EVTX_UTF_H
#define PS_EVTX_UTF_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

typedef enum text_escape {
    ESC_NONE = 0,  /* raw UTF-8 (the event model) */
    ESC_JSON,      /* inside a JSON string */
    ESC_XML_TEXT,  /* XML element content */
    ESC_XML_ATTR   /* XML attribute value in double quotes */
} text_escape;

/* Plain conversion for names: `dst` must hold 3 * nunits bytes. Unpaired
 * surrogates become U+FFFD. Returns the number of bytes written. */
size_t utf16_to_utf8(char *dst, const uint8_t *src, size_t nunits);

/* Append UTF-16LE text escaped for `esc`. With `stop_at_nul`, text ends at
 * the first NUL unit (string values written with a terminator). Returns the
 * number of units consumed (where it stopped). */
size_t put_utf16(ps_buf *b, const uint8_t *src, size_t nunits, text_escape esc,
                 int stop_at_nul);

/* Bytes put_utf16 writes for the single BMP unit u. */
size_t utf16_unit_out_len(uint32_t u, text_escape esc);

/* Append UTF-8 text escaped for `esc`. */
void put_utf8(ps_buf *b, const char *s, size_t n, text_escape esc);

/* Append windows-1252 bytes as UTF-8 escaped for `esc`; NUL bytes dropped. */
void put_ansi(ps_buf *b, const uint8_t *s, size_t n, text_escape esc);

#endif
