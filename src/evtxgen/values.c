/* Substitution values of the EVTX writer: typed data to descriptor bytes. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evtxgen/internal.h"

void eg_fail(eg_writer *w, const char *why)
{
    if (w && !w->error)
        w->error = why;
}

void *eg_alloc(eg_writer *w, size_t n)
{
    void *p = ps_arena_alloc(&w->arena, n);
    if (!p)
        eg_fail(w, "out of memory");
    return p;
}

/* Decode one UTF-8 sequence; invalid bytes become U+FFFD. */
static uint32_t next_codepoint(const unsigned char **pp)
{
    const unsigned char *p = *pp;
    uint32_t c = *p++;
    int extra = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
    if (c >= 0x80 && extra == 0) {
        *pp = p;
        return 0xFFFD;
    }
    c &= extra == 3 ? 0x07 : extra == 2 ? 0x0F : extra == 1 ? 0x1F : 0x7F;
    for (int i = 0; i < extra; i++) {
        if ((*p & 0xC0) != 0x80) {
            *pp = p;
            return 0xFFFD;
        }
        c = (c << 6) | (*p++ & 0x3F);
    }
    *pp = p;
    return c > 0x10FFFF ? 0xFFFD : c;
}

uint8_t *eg_utf16(eg_writer *w, const char *utf8, size_t *units)
{
    size_t len = strlen(utf8);
    /* At most one UTF-16 unit per UTF-8 byte (4-byte sequences give 2). */
    uint8_t *out = eg_alloc(w, 2 * len + 2);
    size_t n = 0;
    const unsigned char *p = (const unsigned char *)utf8;
    while (out && *p) {
        uint32_t c = next_codepoint(&p);
        if (c >= 0x10000) {
            c -= 0x10000;
            uint16_t hi = (uint16_t)(0xD800 + (c >> 10)), lo = (uint16_t)(0xDC00 + (c & 0x3FF));
            out[2 * n] = (uint8_t)hi, out[2 * n + 1] = (uint8_t)(hi >> 8), n++;
            out[2 * n] = (uint8_t)lo, out[2 * n + 1] = (uint8_t)(lo >> 8), n++;
        } else {
            out[2 * n] = (uint8_t)c, out[2 * n + 1] = (uint8_t)(c >> 8), n++;
        }
    }
    *units = out ? n : 0;
    return out;
}

eg_value eg_val_null(void)
{
    eg_value v = {0};
    v.type = EG_T_NULL;
    return v;
}

eg_value eg_val_raw(eg_writer *w, uint8_t type, const void *bytes, size_t size)
{
    eg_value v = {0};
    v.type = type;
    if (size > 0xFFFF) {
        eg_fail(w, "value larger than 65535 bytes");
        return v;
    }
    uint8_t *copy = eg_alloc(w, size ? size : 1);
    if (copy && size)
        memcpy(copy, bytes, size);
    v.bytes = copy;
    v.size = copy ? (uint32_t)size : 0;
    return v;
}

eg_value eg_val_string(eg_writer *w, const char *utf8)
{
    size_t units;
    uint8_t *s = eg_utf16(w, utf8 ? utf8 : "", &units);
    eg_value v = {0};
    v.type = EG_T_STRING;
    v.bytes = s;
    v.size = (uint32_t)(2 * units);
    return v;
}

eg_value eg_val_ansi(eg_writer *w, const char *bytes)
{
    return eg_val_raw(w, EG_T_ANSI, bytes, strlen(bytes));
}

/* Size in bytes of a fixed-size integer-like item type, 0 if not one. */
static size_t int_type_size(uint8_t type)
{
    switch (type) {
    case EG_T_INT8: case EG_T_UINT8: return 1;
    case EG_T_INT16: case EG_T_UINT16: return 2;
    case EG_T_INT32: case EG_T_UINT32: case EG_T_BOOL: case EG_T_HEX32: return 4;
    case EG_T_INT64: case EG_T_UINT64: case EG_T_HEX64: case EG_T_SIZET:
    case EG_T_FILETIME: return 8;
    default: return 0;
    }
}

static void put_le(uint8_t *p, uint64_t v, size_t size)
{
    for (size_t i = 0; i < size; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

eg_value eg_val_int(eg_writer *w, uint8_t type, int64_t v)
{
    size_t size = int_type_size(type);
    if (!size) {
        eg_fail(w, "eg_val_int with a non-integer type");
        return eg_val_null();
    }
    uint8_t b[8];
    put_le(b, (uint64_t)v, size);
    return eg_val_raw(w, type, b, size);
}

eg_value eg_val_u8(eg_writer *w, uint8_t v) { return eg_val_int(w, EG_T_UINT8, v); }
eg_value eg_val_u16(eg_writer *w, uint16_t v) { return eg_val_int(w, EG_T_UINT16, v); }
eg_value eg_val_u32(eg_writer *w, uint32_t v) { return eg_val_int(w, EG_T_UINT32, v); }
eg_value eg_val_u64(eg_writer *w, uint64_t v) { return eg_val_int(w, EG_T_UINT64, (int64_t)v); }
eg_value eg_val_hex32(eg_writer *w, uint32_t v) { return eg_val_int(w, EG_T_HEX32, v); }
eg_value eg_val_hex64(eg_writer *w, uint64_t v) { return eg_val_int(w, EG_T_HEX64, (int64_t)v); }
eg_value eg_val_bool(eg_writer *w, int32_t v) { return eg_val_int(w, EG_T_BOOL, v); }
eg_value eg_val_filetime(eg_writer *w, uint64_t ft) { return eg_val_int(w, EG_T_FILETIME, (int64_t)ft); }

eg_value eg_val_real32(eg_writer *w, float v)
{
    return eg_val_raw(w, EG_T_REAL32, &v, sizeof v);
}

eg_value eg_val_real64(eg_writer *w, double v)
{
    return eg_val_raw(w, EG_T_REAL64, &v, sizeof v);
}

eg_value eg_val_binary(eg_writer *w, const void *bytes, size_t size)
{
    return eg_val_raw(w, EG_T_BINARY, bytes, size);
}

static int hex_digit(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The GUID's text order is u32, u16, u16 (stored little-endian), 8 bytes. */
int eg_parse_guid(const char *s, uint8_t out[16])
{
    static const int group_len[5] = {8, 4, 4, 4, 12};
    uint8_t raw[16];
    size_t nraw = 0;
    if (*s == '{')
        s++;
    for (int g = 0; g < 5; g++) {
        if (g > 0 && *s++ != '-')
            return -1;
        for (int i = 0; i < group_len[g]; i += 2) {
            int hi = hex_digit(s[0]), lo = hi < 0 ? -1 : hex_digit(s[1]);
            if (lo < 0)
                return -1;
            raw[nraw++] = (uint8_t)(hi << 4 | lo);
            s += 2;
        }
    }
    if (*s == '}')
        s++;
    if (*s)
        return -1;
    static const int order[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
    for (int i = 0; i < 16; i++)
        out[i] = raw[order[i]];
    return 0;
}

eg_value eg_val_guid(eg_writer *w, const char *guid)
{
    uint8_t b[16];
    if (eg_parse_guid(guid, b) != 0) {
        eg_fail(w, "bad GUID value");
        return eg_val_null();
    }
    return eg_val_raw(w, EG_T_GUID, b, 16);
}

/* Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
 * well-known civil-date arithmetic). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

#define FILETIME_UNIX_EPOCH 116444736000000000ULL /* 1970-01-01 in 100 ns ticks */

int eg_parse_time(const char *s, uint64_t *filetime)
{
    int y, mo, d, h, mi, sec, used = 0;
    if (sscanf(s, "%4d-%2d-%2d%*1[T ]%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &used) != 6 ||
        used == 0)
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 || y < 1601)
        return -1;
    s += used;
    uint64_t frac = 0;
    int digits = 0;
    if (*s == '.') {
        for (s++; isdigit((unsigned char)*s); s++, digits++)
            if (digits < 7)
                frac = frac * 10 + (uint64_t)(*s - '0');
    }
    for (; digits < 7; digits++)
        frac *= 10;
    if (*s == 'Z')
        s++;
    if (*s)
        return -1;
    int64_t days = days_from_civil(y, (unsigned)mo, (unsigned)d);
    int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec;
    *filetime = (uint64_t)((int64_t)FILETIME_UNIX_EPOCH + secs * 10000000) + frac;
    return 0;
}

eg_value eg_val_systime(eg_writer *w, int year, int month, int day, int hour, int min,
                        int sec, int ms)
{
    /* 1970-01-01 was a Thursday (day of week 4, Sunday = 0). */
    int64_t days = days_from_civil(year, (unsigned)month, (unsigned)day);
    int dow = (int)(((days % 7) + 11) % 7);
    uint16_t f[8] = {(uint16_t)year, (uint16_t)month, (uint16_t)dow, (uint16_t)day,
                     (uint16_t)hour, (uint16_t)min,   (uint16_t)sec, (uint16_t)ms};
    uint8_t b[16];
    for (int i = 0; i < 8; i++)
        put_le(b + 2 * i, f[i], 2);
    return eg_val_raw(w, EG_T_SYSTIME, b, 16);
}

/* S-R-A-S1-S2...: revision, authority (48-bit big-endian), sub-authorities. */
eg_value eg_val_sid(eg_writer *w, const char *sid)
{
    uint8_t b[8 + 4 * 15];
    const char *p = sid;
    char *end;
    if (strncmp(p, "S-", 2) != 0)
        goto bad;
    p += 2;
    unsigned long rev = strtoul(p, &end, 10);
    if (end == p || *end != '-' || rev > 255)
        goto bad;
    p = end + 1;
    unsigned long long auth = strtoull(p, &end, 10);
    if (end == p || auth > 0xFFFFFFFFFFFFULL)
        goto bad;
    p = end;
    b[0] = (uint8_t)rev;
    for (int i = 0; i < 6; i++)
        b[2 + i] = (uint8_t)(auth >> (8 * (5 - i)));
    int n = 0;
    while (*p == '-' && n < 15) {
        unsigned long long sub = strtoull(p + 1, &end, 10);
        if (end == p + 1 || sub > 0xFFFFFFFFULL)
            goto bad;
        put_le(b + 8 + 4 * n++, sub, 4);
        p = end;
    }
    if (*p)
        goto bad;
    b[1] = (uint8_t)n;
    return eg_val_raw(w, EG_T_SID, b, 8 + 4 * (size_t)n);
bad:
    eg_fail(w, "bad SID value");
    return eg_val_null();
}

eg_value eg_val_string_array(eg_writer *w, const char *const *items, size_t n)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += 2 * strlen(items[i]) + 2;
    uint8_t *buf = eg_alloc(w, total ? total : 1);
    size_t len = 0;
    for (size_t i = 0; buf && i < n; i++) {
        size_t units;
        uint8_t *s = eg_utf16(w, items[i], &units);
        if (!s)
            break;
        memcpy(buf + len, s, 2 * units);
        len += 2 * units;
        buf[len++] = 0;
        buf[len++] = 0;
    }
    eg_value v = {0};
    v.type = EG_T_ARRAY | EG_T_STRING;
    v.bytes = buf;
    v.size = (uint32_t)len;
    if (len > 0xFFFF)
        eg_fail(w, "value larger than 65535 bytes");
    return v;
}

eg_value eg_val_int_array(eg_writer *w, uint8_t item_type, const int64_t *items, size_t n)
{
    size_t size = int_type_size(item_type);
    if (!size || n * size > 0xFFFF) {
        eg_fail(w, "bad integer array");
        return eg_val_null();
    }
    uint8_t *buf = eg_alloc(w, n * size + 1);
    eg_value v = {0};
    v.type = EG_T_ARRAY | item_type;
    if (!buf)
        return v;
    for (size_t i = 0; i < n; i++)
        put_le(buf + i * size, (uint64_t)items[i], size);
    v.bytes = buf;
    v.size = (uint32_t)(n * size);
    return v;
}

eg_value eg_val_binxml(eg_writer *w, const eg_fragment *frag)
{
    eg_value v = {0};
    v.type = EG_T_BINXML;
    eg_fragment *copy = eg_alloc(w, sizeof *copy);
    if (!copy)
        return v;
    *copy = *frag;
    if (frag->nvalues) {
        eg_value *vals = eg_alloc(w, frag->nvalues * sizeof *vals);
        if (!vals)
            return v;
        memcpy(vals, frag->values, frag->nvalues * sizeof *vals);
        copy->values = vals;
    }
    v.nested = copy;
    return v;
}

eg_value eg_val_deep_nesting(eg_writer *w, unsigned depth)
{
    /* One template <Nest>%1</Nest>, instantiated inside itself. */
    eg_node *root = eg_elem(w, "Nest");
    eg_sub(w, root, 0, EG_T_BINXML, 0);
    const eg_template *t = eg_template_new(w, NULL, root);
    eg_value v = eg_val_string(w, "bottom");
    for (unsigned i = 0; i < depth; i++) {
        eg_fragment f = {0};
        f.tmpl = t;
        f.values = &v;
        f.nvalues = 1;
        f.bare = 1;
        v = eg_val_binxml(w, &f);
    }
    return v;
}
