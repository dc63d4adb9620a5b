#include "evtx/utf.h"

#include "evtx/bytes.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

static const char hexdig[] = "0123456789abcdef";

static inline char *put_cp(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        *o++ = (char)cp;
    } else if (cp < 0x800) {
        *o++ = (char)(0xC0 | (cp >> 6));
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *o++ = (char)(0xE0 | (cp >> 12));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else {
        *o++ = (char)(0xF0 | (cp >> 18));
        *o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    }
    return o;
}

static inline char *put_lit(char *o, const char *s)
{
    while (*s)
        *o++ = *s++;
    return o;
}

/* Escape one code point for `esc`; at most 8 bytes written. */
static inline char *put_escaped(char *o, uint32_t cp, text_escape esc)
{
    switch (esc) {
    case ESC_NONE:
        return put_cp(o, cp);
    case ESC_JSON:
        if (cp == '"' || cp == '\\') {
            *o++ = '\\';
            *o++ = (char)cp;
            return o;
        }
        if (cp < 0x20) {
            switch (cp) {
            case '\n': return put_lit(o, "\\n");
            case '\r': return put_lit(o, "\\r");
            case '\t': return put_lit(o, "\\t");
            case '\b': return put_lit(o, "\\b");
            case '\f': return put_lit(o, "\\f");
            default:
                o = put_lit(o, "\\u00");
                *o++ = hexdig[cp >> 4];
                *o++ = hexdig[cp & 15];
                return o;
            }
        }
        return put_cp(o, cp);
    case ESC_XML_TEXT:
    case ESC_XML_ATTR:
        switch (cp) {
        case '&': return put_lit(o, "&amp;");
        case '<': return put_lit(o, "&lt;");
        case '>': return put_lit(o, "&gt;");
        case '"': return esc == ESC_XML_ATTR ? put_lit(o, "&quot;") : put_cp(o, cp);
        case '\'': return esc == ESC_XML_ATTR ? put_lit(o, "&apos;") : put_cp(o, cp);
        default: break;
        }
        if (cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') {
            /* Not representable in XML 1.0; shown as a reference so the
             * evidence stays visible rather than silently dropped. */
            o = put_lit(o, "&#x");
            if (cp >= 16)
                *o++ = hexdig[cp >> 4];
            *o++ = hexdig[cp & 15];
            *o++ = ';';
            return o;
        }
        return put_cp(o, cp);
    }
    return o;
}

static inline int plain_ascii(uint32_t u, text_escape esc)
{
    if (u >= 0x80 || u < 0x20)
        return u < 0x80 && esc == ESC_NONE && u != 0;
    switch (esc) {
    case ESC_NONE: return 1;
    case ESC_JSON: return u != '"' && u != '\\';
    default: return u != '&' && u != '<' && u != '>' && u != '"' && u != '\'';
    }
}

/* Decode the code point at s[i] (i counts units); advances i. */
static inline uint32_t next_cp(const uint8_t *s, size_t n, size_t *i)
{
    uint32_t u = rd16(s + 2 * *i);
    *i += 1;
    if (u >= 0xD800 && u <= 0xDBFF && *i < n) {
        uint32_t lo = rd16(s + 2 * *i);
        if (lo >= 0xDC00 && lo <= 0xDFFF) {
            *i += 1;
            return 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
        }
        return 0xFFFD;
    }
    if (u >= 0xD800 && u <= 0xDFFF)
        return 0xFFFD;
    return u;
}

size_t utf16_to_utf8(char *dst, const uint8_t *src, size_t nunits)
{
    char *o = dst;
    size_t i = 0;
    while (i < nunits)
        o = put_cp(o, next_cp(src, nunits, &i));
    return (size_t)(o - dst);
}

/* SWAR tests over four UTF-16 units in a u64 (lanes of 16 bits). A lane
 * "hits" when it needs the slow path: not ASCII, a control character, or a
 * character the output format escapes. Borrows between lanes can only add
 * false hits after a true one, which is harmless for a yes/no answer. */
#define LANES_1 0x0001000100010001ull
#define LANES_HI 0x8000800080008000ull

static inline uint64_t lanes_zero(uint64_t v) { return (v - LANES_1) & ~v & LANES_HI; }
static inline uint64_t lanes_eq(uint64_t q, unsigned c) { return lanes_zero(q ^ (c * LANES_1)); }

static inline int plain_quad(uint64_t q, text_escape esc)
{
    if (q & 0xFF80FF80FF80FF80ull) /* a unit >= 0x80 */
        return 0;
    uint64_t hit = ((q - 0x20 * LANES_1) & LANES_HI) | lanes_eq(q, 0x7F);
    switch (esc) {
    case ESC_NONE: break;
    case ESC_JSON: hit |= lanes_eq(q, '"') | lanes_eq(q, '\\'); break;
    default:
        hit |= lanes_eq(q, '&') | lanes_eq(q, '<') | lanes_eq(q, '>') | lanes_eq(q, '"') |
               lanes_eq(q, '\'');
        break;
    }
    return hit == 0;
}

/* The same over eight UTF-8 bytes. */
#define BYTES_1 0x0101010101010101ull
#define BYTES_HI 0x8080808080808080ull

static inline uint64_t bytes_eq(uint64_t q, unsigned c)
{
    uint64_t v = q ^ (c * BYTES_1);
    return (v - BYTES_1) & ~v & BYTES_HI;
}

static inline int plain_octet(uint64_t q, text_escape esc)
{
    if (q & BYTES_HI)
        return 0;
    uint64_t hit = ((q - 0x20 * BYTES_1) & BYTES_HI) | bytes_eq(q, 0x7F);
    switch (esc) {
    case ESC_NONE: break;
    case ESC_JSON: hit |= bytes_eq(q, '"') | bytes_eq(q, '\\'); break;
    default:
        hit |= bytes_eq(q, '&') | bytes_eq(q, '<') | bytes_eq(q, '>') | bytes_eq(q, '"') |
               bytes_eq(q, '\'');
        break;
    }
    return hit == 0;
}

#ifdef __SSE2__
/* Eight units at a time (SSE2 is part of x86-64): converts the leading run
 * of printable ASCII to *o, escaping the few characters the format escapes
 * on the way (backslashes fill Windows paths: breaking out of the vector
 * loop for each would cost more than the rest of the string). Returns how
 * many units it consumed. */
static inline size_t plain_run_sse2(const uint8_t *src, size_t nunits, char **o,
                                    text_escape esc)
{
    const __m128i zero = _mm_setzero_si128();
    size_t i = 0;
    for (; i + 8 <= nunits; i += 8) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(src + 2 * i));
        __m128i ascii = _mm_cmpeq_epi16(_mm_and_si128(v, _mm_set1_epi16((short)0xFF80)), zero);
        __m128i ctl = _mm_or_si128(_mm_cmplt_epi16(v, _mm_set1_epi16(0x20)),
                                   _mm_cmpeq_epi16(v, _mm_set1_epi16(0x7F)));
        if (_mm_movemask_epi8(_mm_andnot_si128(ctl, ascii)) != 0xFFFF)
            break;
        __m128i special = zero;
        if (esc == ESC_JSON) {
            special = _mm_or_si128(_mm_cmpeq_epi16(v, _mm_set1_epi16('"')),
                                   _mm_cmpeq_epi16(v, _mm_set1_epi16('\\')));
        } else if (esc != ESC_NONE) {
            special = _mm_or_si128(_mm_cmpeq_epi16(v, _mm_set1_epi16('&')),
                                   _mm_cmpeq_epi16(v, _mm_set1_epi16('<')));
            special = _mm_or_si128(special, _mm_cmpeq_epi16(v, _mm_set1_epi16('>')));
            special = _mm_or_si128(special, _mm_cmpeq_epi16(v, _mm_set1_epi16('"')));
            special = _mm_or_si128(special, _mm_cmpeq_epi16(v, _mm_set1_epi16('\'')));
        }
        __m128i bytes = _mm_packus_epi16(v, v);
        if (!_mm_movemask_epi8(special)) {
            _mm_storel_epi64((__m128i *)(void *)*o, bytes);
            *o += 8;
            continue;
        }
        char b8[16];
        _mm_storeu_si128((__m128i *)(void *)b8, bytes);
        for (int k = 0; k < 8; k++)
            *o = put_escaped(*o, (unsigned char)b8[k], esc);
    }
    return i;
}
#endif

size_t utf16_unit_out_len(uint32_t u, text_escape esc)
{
    char tmp[8];
    if (plain_ascii(u, esc))
        return 1;
    return (size_t)(put_escaped(tmp, u >= 0xD800 && u <= 0xDFFF ? 0xFFFD : u, esc) - tmp);
}

size_t put_utf16(ps_buf *b, const uint8_t *src, size_t nunits, text_escape esc,
                 int stop_at_nul)
{
    if (ps_buf_reserve(b, nunits * 8) != 0)
        return nunits;
    char *o = b->data + b->len;
    size_t i = 0;
    while (i < nunits) {
#ifdef __SSE2__
        i += plain_run_sse2(src + 2 * i, nunits - i, &o, esc);
#endif
        while (i + 4 <= nunits) {
            uint64_t q = rd64(src + 2 * i);
            if (!plain_quad(q, esc))
                break;
            o[0] = (char)q;
            o[1] = (char)(q >> 16);
            o[2] = (char)(q >> 32);
            o[3] = (char)(q >> 48);
            o += 4;
            i += 4;
        }
        if (i >= nunits)
            break;
        uint32_t u = rd16(src + 2 * i);
        if (plain_ascii(u, esc)) { /* the common case: printable ASCII */
            *o++ = (char)u;
            i++;
            continue;
        }
        if (u == 0 && stop_at_nul)
            break;
        o = put_escaped(o, next_cp(src, nunits, &i), esc);
    }
    b->len = (size_t)(o - b->data);
    return i;
}

/* Length of the UTF-8 sequence starting with byte c, 0 if invalid lead. */
static inline unsigned utf8_len(unsigned char c)
{
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) return 2;
    if (c >= 0xE0 && c <= 0xEF) return 3;
    if (c >= 0xF0 && c <= 0xF4) return 4;
    return 0;
}

void put_utf8(ps_buf *b, const char *s, size_t n, text_escape esc)
{
    size_t plain = 0; /* the common case: nothing to escape or check */
    while (plain + 8 <= n && plain_octet(rd64((const uint8_t *)s + plain), esc))
        plain += 8;
    while (plain < n && plain_ascii((unsigned char)s[plain], esc))
        plain++;
    if (plain == n) {
        ps_buf_add(b, s, n);
        return;
    }
    if (ps_buf_reserve(b, n * 6 + 8) != 0)
        return;
    char *o = b->data + b->len;
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned char c = u[i];
        if (c < 0x80) {
            if (plain_ascii(c, esc) || (c == 0 && esc == ESC_NONE))
                *o++ = (char)c;
            else
                o = put_escaped(o, c, esc);
            i++;
            continue;
        }
        unsigned len = utf8_len(c);
        int ok = len && i + len <= n;
        for (unsigned k = 1; ok && k < len; k++)
            ok = (u[i + k] & 0xC0) == 0x80;
        if (!ok) { /* invalid UTF-8 (from JSON input): replace, never pass on */
            o = put_cp(o, 0xFFFD);
            i++;
            continue;
        }
        for (unsigned k = 0; k < len; k++)
            *o++ = (char)u[i + k];
        i += len;
    }
    b->len = (size_t)(o - b->data);
}

/* windows-1252 0x80-0x9F; the five undefined bytes map to C1 controls. */
static const uint16_t cp1252_high[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
    0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
    0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
    0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178};

void put_ansi(ps_buf *b, const uint8_t *s, size_t n, text_escape esc)
{
    if (ps_buf_reserve(b, n * 8) != 0)
        return;
    char *o = b->data + b->len;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = s[i];
        if (c == 0)
            continue;
        if (c >= 0x80 && c < 0xA0)
            c = cp1252_high[c - 0x80];
        o = put_escaped(o, c, esc);
    }
    b->len = (size_t)(o - b->data);
}
