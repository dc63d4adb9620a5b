#include "evtx/values.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "evtx/bytes.h"

const value_style STYLE_JSON = {.guid_braces = 0, .time_digits = 6, .trim = 1};
const value_style STYLE_XML = {.guid_braces = 1, .time_digits = 7, .trim = 0};

/* Unicode White_Space code points (all in the BMP). */
static inline int is_space16(uint32_t u)
{
    if (u - 0x21 < 0x5E) /* printable ASCII: the common answer first */
        return 0;
    return (u >= 0x09 && u <= 0x0D) || u == 0x20 || u == 0x85 || u == 0xA0 || u == 0x1680 ||
           (u >= 0x2000 && u <= 0x200A) || u == 0x2028 || u == 0x2029 || u == 0x202F ||
           u == 0x205F || u == 0x3000;
}

/* A UTF-16 string value: up to its first NUL, optionally trimmed. The
 * conversion itself finds the NUL; trailing white space (rare) is taken
 * back off the output afterwards, so the common string is read once. */
static void put_string16(ps_buf *b, const uint8_t *p, uint32_t size, text_escape esc, int trim)
{
    size_t n = size / 2, start = 0;
    if (trim)
        while (start < n && is_space16(rd16(p + 2 * start)))
            start++;
    size_t end = start + put_utf16(b, p + 2 * start, n - start, esc, 1);
    if (trim && !b->failed)
        while (end > start && is_space16(rd16(p + 2 * (end - 1)))) {
            b->len -= utf16_unit_out_len(rd16(p + 2 * (end - 1)), esc);
            end--;
        }
}

static const char HEX_UPPER[] = "0123456789ABCDEF";

/* "00".."99": digits are produced two at a time. */
static const char DIGIT_PAIRS[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

static inline unsigned decimal_len(uint64_t x)
{
    unsigned n = 1;
    while (x >= 10000) {
        x /= 10000;
        n += 4;
    }
    return n + (x >= 10) + (x >= 100) + (x >= 1000);
}

/* Writes exactly n digits of x ending at o + n. */
static inline void write_digits(char *o, uint64_t x, unsigned n)
{
    char *e = o + n;
    while (n >= 2) {
        e -= 2;
        memcpy(e, DIGIT_PAIRS + 2 * (x % 100), 2);
        x /= 100;
        n -= 2;
    }
    if (n)
        *--e = (char)('0' + x % 10);
}

static void put_u64(ps_buf *b, uint64_t x)
{
    if (ps_buf_reserve(b, 20) != 0)
        return;
    unsigned n = decimal_len(x);
    write_digits(b->data + b->len, x, n);
    b->len += n;
}

static void put_i64(ps_buf *b, int64_t x)
{
    if (x < 0) {
        ps_buf_addc(b, '-');
        put_u64(b, (uint64_t)0 - (uint64_t)x);
    } else {
        put_u64(b, (uint64_t)x);
    }
}

static void put_hex_lower(ps_buf *b, uint64_t x)
{
    if (ps_buf_reserve(b, 18) != 0)
        return;
    unsigned n = x ? (unsigned)(67 - __builtin_clzll(x)) / 4 : 1; /* nibbles */
    char *o = b->data + b->len;
    o[0] = '0';
    o[1] = 'x';
    for (unsigned i = n; i > 0; i--, x >>= 4)
        o[1 + i] = "0123456789abcdef"[x & 15];
    b->len += n + 2;
}

static void put_hex_bytes(ps_buf *b, const uint8_t *p, uint32_t n)
{
    if (ps_buf_reserve(b, (size_t)n * 2) != 0)
        return;
    char *o = b->data + b->len;
    for (uint32_t i = 0; i < n; i++) {
        *o++ = HEX_UPPER[p[i] >> 4];
        *o++ = HEX_UPPER[p[i] & 15];
    }
    b->len += (size_t)n * 2;
}

static void put_fixed_hex(char *o, uint64_t x, int digits)
{
    for (int i = digits - 1; i >= 0; i--, x >>= 4)
        o[i] = HEX_UPPER[x & 15];
}

static void put_guid(ps_buf *b, const uint8_t *p, int braces)
{
    char s[38];
    char *o = s;
    if (braces)
        *o++ = '{';
    put_fixed_hex(o, rd32(p), 8);
    o[8] = '-';
    put_fixed_hex(o + 9, rd16(p + 4), 4);
    o[13] = '-';
    put_fixed_hex(o + 14, rd16(p + 6), 4);
    o[18] = '-';
    for (int i = 0; i < 2; i++)
        put_fixed_hex(o + 19 + 2 * i, p[8 + i], 2);
    o[23] = '-';
    for (int i = 0; i < 6; i++)
        put_fixed_hex(o + 24 + 2 * i, p[10 + i], 2);
    o += 36;
    if (braces)
        *o++ = '}';
    ps_buf_add(b, s, (size_t)(o - s));
}

static void put_sid(ps_buf *b, const uint8_t *p, uint32_t size)
{
    uint64_t authority = 0;
    for (int i = 0; i < 6; i++)
        authority = (authority << 8) | p[2 + i];
    ps_buf_lit(b, "S-");
    put_u64(b, p[0]);
    ps_buf_addc(b, '-');
    put_u64(b, authority);
    uint32_t n = p[1];
    for (uint32_t i = 0; i < n && 8 + 4 * i + 4 <= size; i++) {
        ps_buf_addc(b, '-');
        put_u64(b, rd32(p + 8 + 4 * i));
    }
}

/* Civil date from days since 1970-01-01 (proleptic Gregorian), by the
 * standard era/day-of-era arithmetic on a calendar starting in March. */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static inline void put_digits(char *o, uint64_t x, int n)
{
    write_digits(o, x, (unsigned)n);
}

/* YYYY-MM-DDTHH:MM:SS[.fraction]Z; `frac7` is in 100 ns units. */
static void put_iso(ps_buf *b, int64_t year, unsigned mon, unsigned day, unsigned h,
                    unsigned mi, unsigned s, uint32_t frac7, unsigned digits)
{
    char t[40];
    if (year < 0 || year > 9999)
        year = year < 0 ? 0 : 9999;
    put_digits(t, (uint64_t)year, 4);
    t[4] = '-';
    put_digits(t + 5, mon, 2);
    t[7] = '-';
    put_digits(t + 8, day, 2);
    t[10] = 'T';
    put_digits(t + 11, h, 2);
    t[13] = ':';
    put_digits(t + 14, mi, 2);
    t[16] = ':';
    put_digits(t + 17, s, 2);
    size_t n = 19;
    if (digits) {
        static const uint32_t div[8] = {10000000, 1000000, 100000, 10000, 1000, 100, 10, 1};
        t[n++] = '.';
        put_digits(t + n, frac7 / div[digits], (int)digits);
        n += digits;
    }
    t[n++] = 'Z';
    ps_buf_add(b, t, n);
}

void put_filetime(ps_buf *b, uint64_t ft, unsigned digits)
{
    uint64_t secs = ft / 10000000u;
    uint32_t frac = (uint32_t)(ft % 10000000u);
    /* 1601-01-01 is 134774 days before 1970-01-01. */
    int64_t days = (int64_t)(secs / 86400) - 134774;
    uint32_t sod = (uint32_t)(secs % 86400);
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    put_iso(b, y, m, d, sod / 3600, sod / 60 % 60, sod % 60, frac, digits > 7 ? 7 : digits);
}

static void put_systemtime(ps_buf *b, const uint8_t *p, unsigned digits)
{
    unsigned year = rd16(p), mon = rd16(p + 2), day = rd16(p + 6);
    if (year == 0 && mon == 0 && day == 0) { /* unset: as Windows, the epoch */
        year = 1601;
        mon = day = 1;
    }
    uint32_t ms = rd16(p + 14) % 1000;
    put_iso(b, year, mon % 100, day % 100, rd16(p + 8) % 100, rd16(p + 10) % 100,
            rd16(p + 12) % 100, ms * 10000, digits > 7 ? 7 : digits);
}

/* Shortest decimal text that reads back as the same double. */
static void put_real(ps_buf *b, double x, int is_float)
{
    char tmp[40];
    if (isnan(x)) {
        ps_buf_lit(b, "NaN");
        return;
    }
    if (isinf(x)) {
        ps_buf_adds(b, x < 0 ? "-inf" : "inf");
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, x);
        double back = strtod(tmp, NULL);
        if (is_float ? (float)back == (float)x : back == x)
            break;
    }
    ps_buf_adds(b, tmp);
}

/* Arrays as one text (the XML renderer repeats elements instead): items
 * joined by commas, as evtx_dump does. */
static void put_array(ps_buf *b, const bx_value *v, text_escape esc, const value_style *st)
{
    bx_value stack_items[64];
    uint32_t n = bx_array_items(v, NULL, 0);
    bx_value *items = n <= 64 ? stack_items : malloc(sizeof *items * n);
    if (!items)
        return;
    bx_array_items(v, items, n);
    for (uint32_t i = 0; i < n; i++) {
        if (i)
            ps_buf_addc(b, ',');
        put_value(b, &items[i], esc, st);
    }
    if (items != stack_items)
        free(items);
}

void put_json_scalar(ps_buf *b, const bx_value *v)
{
    const uint8_t *p = v->data;
    /* The common types first, without the general dispatch. */
    switch (v->type) {
    case BX_T_STRING:
        ps_buf_addc(b, '"');
        put_string16(b, p, v->size, ESC_JSON, STYLE_JSON.trim);
        ps_buf_addc(b, '"');
        return;
    case BX_T_UINT8: if (v->size == 1) { put_u64(b, p[0]); return; } break;
    case BX_T_UINT16: if (v->size == 2) { put_u64(b, rd16(p)); return; } break;
    case BX_T_UINT32: if (v->size == 4) { put_u64(b, rd32(p)); return; } break;
    case BX_T_UINT64: if (v->size == 8) { put_u64(b, rd64(p)); return; } break;
    default: break;
    }
    ps_kind kind = value_kind(v);
    if (kind == PS_KIND_INT || kind == PS_KIND_BOOL) {
        put_value(b, v, ESC_NONE, &STYLE_JSON);
        return;
    }
    ps_buf_addc(b, '"');
    put_value(b, v, ESC_JSON, &STYLE_JSON);
    ps_buf_addc(b, '"');
}

void put_value(ps_buf *b, const bx_value *v, text_escape esc, const value_style *st)
{
    const uint8_t *p = v->data;
    if (v->type & BX_T_ARRAY) {
        put_array(b, v, esc, st);
        return;
    }
    if (!value_well_sized(v)) { /* damaged descriptor: show the bytes, not garbage */
        put_hex_bytes(b, p, v->size);
        return;
    }
    switch (v->type) {
    case BX_T_NULL: return;
    case BX_T_STRING: put_string16(b, p, v->size, esc, st->trim); return;
    case BX_T_ANSI: put_ansi(b, p, v->size, esc); return;
    case BX_T_INT8: put_i64(b, (int8_t)p[0]); return;
    case BX_T_UINT8: put_u64(b, p[0]); return;
    case BX_T_INT16: put_i64(b, (int16_t)rd16(p)); return;
    case BX_T_UINT16: put_u64(b, rd16(p)); return;
    case BX_T_INT32: put_i64(b, (int32_t)rd32(p)); return;
    case BX_T_UINT32: put_u64(b, rd32(p)); return;
    case BX_T_INT64: put_i64(b, (int64_t)rd64(p)); return;
    case BX_T_UINT64: put_u64(b, rd64(p)); return;
    case BX_T_REAL32: {
        float f;
        memcpy(&f, p, 4);
        put_real(b, f, 1);
        return;
    }
    case BX_T_REAL64: {
        double d;
        memcpy(&d, p, 8);
        put_real(b, d, 0);
        return;
    }
    case BX_T_BOOL:
        if (rd32(p))
            ps_buf_lit(b, "true");
        else
            ps_buf_lit(b, "false");
        return;
    case BX_T_GUID: put_guid(b, p, st->guid_braces); return;
    case BX_T_SIZET:
        put_hex_lower(b, v->size == 8 ? rd64(p) : rd32(p));
        return;
    case BX_T_FILETIME: put_filetime(b, rd64(p), st->time_digits); return;
    case BX_T_SYSTIME: put_systemtime(b, p, st->time_digits); return;
    case BX_T_SID: put_sid(b, p, v->size); return;
    case BX_T_HEX32: put_hex_lower(b, rd32(p)); return;
    case BX_T_HEX64: put_hex_lower(b, rd64(p)); return;
    default: put_hex_bytes(b, p, v->size); return; /* binary and unknown */
    }
}
