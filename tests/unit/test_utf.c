/*
 * put_utf16 (vector and word-at-a-time paths, fused escaping) against a
 * plain reference written here from the rules in utf.h: random UTF-16 with
 * runs of ASCII, characters each format escapes, controls, NULs, non-ASCII,
 * surrogate pairs and lone surrogates, at every length around the vector
 * widths, in every escape mode.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "evtx/utf.h"

static char *ref_cp(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        *o++ = (char)cp;
    } else if (cp < 0x800) {
        *o++ = (char)(0xC0 | cp >> 6);
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *o++ = (char)(0xE0 | cp >> 12);
        *o++ = (char)(0x80 | (cp >> 6 & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else {
        *o++ = (char)(0xF0 | cp >> 18);
        *o++ = (char)(0x80 | (cp >> 12 & 0x3F));
        *o++ = (char)(0x80 | (cp >> 6 & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    }
    return o;
}

static char *ref_escape(char *o, uint32_t cp, text_escape esc)
{
    if (esc == ESC_JSON) {
        if (cp == '"' || cp == '\\')
            return o + sprintf(o, "\\%c", (char)cp);
        static const char *const named[32] = {['\n'] = "\\n", ['\r'] = "\\r", ['\t'] = "\\t",
                                              ['\b'] = "\\b", ['\f'] = "\\f"};
        if (cp < 0x20)
            return named[cp] ? o + sprintf(o, "%s", named[cp]) : o + sprintf(o, "\\u%04x", cp);
    } else if (esc != ESC_NONE) {
        if (cp == '&')
            return o + sprintf(o, "&amp;");
        if (cp == '<')
            return o + sprintf(o, "&lt;");
        if (cp == '>')
            return o + sprintf(o, "&gt;");
        if (esc == ESC_XML_ATTR && cp == '"')
            return o + sprintf(o, "&quot;");
        if (esc == ESC_XML_ATTR && cp == '\'')
            return o + sprintf(o, "&apos;");
        if (cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r')
            return o + sprintf(o, "&#x%x;", cp);
    }
    return ref_cp(o, cp);
}

/* Returns units consumed, as put_utf16 does. */
static size_t ref_utf16(char *out, size_t *len, const uint16_t *s, size_t n, text_escape esc,
                        int stop_at_nul)
{
    char *o = out;
    size_t i = 0;
    while (i < n) {
        uint32_t u = s[i];
        if (u == 0 && stop_at_nul)
            break;
        i++;
        if (u >= 0xD800 && u <= 0xDBFF && i < n && s[i] >= 0xDC00 && s[i] <= 0xDFFF)
            u = 0x10000 + ((u - 0xD800) << 10) + (s[i++] - 0xDC00);
        else if (u >= 0xD800 && u <= 0xDFFF)
            u = 0xFFFD;
        o = ref_escape(o, u, esc);
    }
    *len = (size_t)(o - out);
    return i;
}

static uint32_t next_random(uint32_t *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

static uint16_t random_unit(uint32_t *seed)
{
    static const uint16_t special[] = {'"', '\\', '&', '<', '>', '\'', '\n', '\t', 0x01, 0x1F,
                                       0x7F, 0x00, 0xE9, 0x20AC, 0xFFFD, 0xD83D, 0xDE00, 0xDC00};
    uint32_t r = next_random(seed) % 100;
    if (r < 80) /* mostly printable ASCII, as in real logs */
        return (uint16_t)(0x20 + next_random(seed) % 95);
    return special[next_random(seed) % (sizeof special / sizeof special[0])];
}

static void test_put_utf16_matches_reference(void **state)
{
    (void)state;
    enum { MAX = 200 };
    uint16_t units[MAX];
    uint8_t bytes[2 * MAX];
    static char want[MAX * 8];
    ps_buf got;
    ps_buf_init(&got);
    uint32_t seed = 12345;
    for (int round = 0; round < 4000; round++) {
        size_t n = round < 400 ? (size_t)round % 70 : next_random(&seed) % MAX;
        for (size_t i = 0; i < n; i++) {
            units[i] = random_unit(&seed);
            bytes[2 * i] = (uint8_t)units[i];
            bytes[2 * i + 1] = (uint8_t)(units[i] >> 8);
        }
        for (int esc = ESC_NONE; esc <= ESC_XML_ATTR; esc++)
            for (int stop = 0; stop <= 1; stop++) {
                size_t want_len;
                size_t want_used = ref_utf16(want, &want_len, units, n, esc, stop);
                ps_buf_reset(&got);
                ps_buf_addc(&got, '>'); /* not at the start of the buffer */
                size_t used = put_utf16(&got, bytes, n, esc, stop);
                if (used != want_used || got.len - 1 != want_len ||
                    memcmp(got.data + 1, want, want_len))
                    fail_msg("round %d, %zu units, escape %d, stop %d: got %.*s want %.*s", round,
                             n, esc, stop, (int)got.len - 1, got.data + 1, (int)want_len, want);
                for (size_t i = 0; i < n; i++)
                    if (units[i] < 0xD800 || units[i] > 0xDFFF) {
                        size_t one;
                        ref_utf16(want, &one, &units[i], 1, esc, 0);
                        assert_int_equal(utf16_unit_out_len(units[i], esc), one);
                    }
            }
    }
    ps_buf_free(&got);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_put_utf16_matches_reference)};
    return cmocka_run_group_tests_name("utf", tests, NULL, NULL);
}
