#include "sigma/pattern.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "sigma/sigma_internal.h"

void sg_pat_init(sg_pat *p)
{
    ps_buf_init(&p->bytes);
    ps_buf_init(&p->kinds);
}

void sg_pat_free(sg_pat *p)
{
    ps_buf_free(&p->bytes);
    ps_buf_free(&p->kinds);
}

void sg_pat_add(sg_pat *p, const char *s, size_t n, uint8_t kind)
{
    sg_buf_add(&p->bytes, s, n);
    for (size_t i = 0; i < n; i++)
        ps_buf_addc(&p->kinds, (char)kind);
}

int sg_pat_failed(const sg_pat *p) { return p->bytes.failed || p->kinds.failed; }

void sg_pat_parse_wildcards(sg_pat *p, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\\' && i + 1 < n && (s[i + 1] == '*' || s[i + 1] == '?' || s[i + 1] == '\\')) {
            sg_pat_add(p, &s[++i], 1, GL_LIT);
        } else if (c == '*') {
            /* Consecutive stars are one star. */
            if (!(p->kinds.len && p->kinds.data[p->kinds.len - 1] == GL_STAR))
                sg_pat_add(p, "*", 1, GL_STAR);
        } else if (c == '?') {
            sg_pat_add(p, "?", 1, GL_ONE);
        } else {
            sg_pat_add(p, &c, 1, GL_LIT);
        }
    }
}

void sg_pat_literal(sg_pat *p, const char *s, size_t n) { sg_pat_add(p, s, n, GL_LIT); }

/* ---- encodings ------------------------------------------------------------ */

static uint32_t next_utf8(const unsigned char *s, size_t n, size_t *i)
{
    unsigned char c = s[*i];
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    if (*i + len > n)
        len = 1;
    uint32_t cp = len == 1 ? c : len == 2 ? c & 0x1f : len == 3 ? c & 0x0f : c & 0x07;
    for (size_t k = 1; k < len; k++)
        cp = (cp << 6) | (s[*i + k] & 0x3f);
    *i += len;
    return cp;
}

static void put_unit(ps_buf *out, uint32_t u, int big_endian)
{
    char b[2] = {(char)(u & 0xff), (char)(u >> 8)};
    if (big_endian) {
        char t = b[0];
        b[0] = b[1];
        b[1] = t;
    }
    sg_buf_add(out, b, 2);
}

void sg_utf16(ps_buf *out, const char *s, size_t n, int big_endian, int bom)
{
    if (bom)
        put_unit(out, 0xfeff, big_endian);
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        uint32_t cp = next_utf8(u, n, &i);
        if (cp >= 0x10000) {
            cp -= 0x10000;
            put_unit(out, 0xd800 | (cp >> 10), big_endian);
            put_unit(out, 0xdc00 | (cp & 0x3ff), big_endian);
        } else {
            put_unit(out, cp, big_endian);
        }
    }
}

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void sg_base64(ps_buf *out, const unsigned char *s, size_t n, int pad)
{
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        char q[4] = {b64chars[v >> 18], b64chars[(v >> 12) & 63], b64chars[(v >> 6) & 63],
                     b64chars[v & 63]};
        sg_buf_add(out, q, 4);
    }
    size_t rest = n - i;
    if (rest) {
        uint32_t v = (uint32_t)s[i] << 16 | (rest == 2 ? (uint32_t)s[i + 1] << 8 : 0);
        char q[4] = {b64chars[v >> 18], b64chars[(v >> 12) & 63],
                     rest == 2 ? b64chars[(v >> 6) & 63] : '=', '='};
        sg_buf_add(out, q, pad ? 4 : rest + 1);
    }
}

void sg_base64_offset(ps_buf *out, const unsigned char *s, size_t n, unsigned offset)
{
    /* Encode offset zero bytes + s without padding, then drop the characters
     * that also depend on bytes before s (first 0, 2 or 3) or after it (the
     * last one of an incomplete group). */
    static const size_t skip_front[3] = {0, 2, 3};
    ps_buf tmp;
    ps_buf_init(&tmp);
    unsigned char *in = malloc(n + 3);
    if (!in) {
        out->failed = 1;
        return;
    }
    memset(in, 0, offset);
    memcpy(in + offset, s, n);
    size_t total = n + offset;
    sg_base64(&tmp, in, total, 0);
    free(in);
    size_t len = tmp.len;
    if (total % 3 != 0 && len > 0)
        len--;
    size_t front = skip_front[offset % 3];
    if (!tmp.failed && len > front)
        sg_buf_add(out, tmp.data + front, len - front);
    if (tmp.failed)
        out->failed = 1;
    ps_buf_free(&tmp);
}

/* ---- windash ------------------------------------------------------------ */

static const char *const windash_chars[SG_WINDASH_CHARS] = {"-", "/", "\xe2\x80\x93",
                                                             "\xe2\x80\x94", "\xe2\x80\x95"};
#define WINDASH_MAX_POSITIONS 3

static int is_word(unsigned char c) { return c == '_' || (c >= '0' && c <= '9') || ((c | 32) >= 'a' && (c | 32) <= 'z') || c >= 0x80; }

/* A dash or slash that starts a command-line option: not after a word
 * character, and followed by one. */
static int is_option_dash(const char *s, size_t n, size_t i)
{
    if (s[i] != '-' && s[i] != '/')
        return 0;
    if (i > 0 && is_word((unsigned char)s[i - 1]))
        return 0;
    return i + 1 < n && is_word((unsigned char)s[i + 1]);
}

static size_t count_option_dashes(const char *s, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += (size_t)is_option_dash(s, n, i);
    return k;
}

size_t sg_windash_variants(const char *s, size_t n)
{
    size_t k = count_option_dashes(s, n);
    if (k == 0)
        return 1;
    if (k > WINDASH_MAX_POSITIONS)  /* every dash the same: 5 variants */
        return SG_WINDASH_CHARS;
    size_t v = 1;
    for (size_t i = 0; i < k; i++)
        v *= SG_WINDASH_CHARS;
    return v;
}

void sg_windash_variant(ps_buf *out, const char *s, size_t n, size_t index)
{
    size_t k = count_option_dashes(s, n);
    int uniform = k > WINDASH_MAX_POSITIONS;
    for (size_t i = 0; i < n; i++) {
        if (!is_option_dash(s, n, i)) {
            ps_buf_addc(out, s[i]);
            continue;
        }
        size_t which = uniform ? index : index % SG_WINDASH_CHARS;
        if (!uniform)
            index /= SG_WINDASH_CHARS;
        sg_buf_adds(out, windash_chars[which % SG_WINDASH_CHARS]);
    }
}

/* ---- case and globs ---------------------------------------------------------- */

#define L(c) (unsigned char)((c) >= 'A' && (c) <= 'Z' ? (c) + 32 : (c))
#define R4(b) L(b), L(b + 1), L(b + 2), L(b + 3)
#define R16(b) R4(b), R4(b + 4), R4(b + 8), R4(b + 12)
#define R64(b) R16(b), R16(b + 16), R16(b + 32), R16(b + 48)
const unsigned char sg_lower_table[256] = {R64(0), R64(64), R64(128), R64(192)};

/* Eight bytes at a time: a byte of w that is 'A'..'Z' gets 0x20 added. The
 * high bit of (b & 0x7f) + 0x3f is set for b >= 'A', of (b & 0x7f) + 0x25
 * for b > 'Z' (no carry leaves a byte), and bytes of 0x80 and up (UTF-8)
 * are left as they are. */
static uint64_t lower_word(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    uint64_t low7 = w & ~high;
    uint64_t upper = ((low7 + 0x3f * ones) ^ (low7 + 0x25 * ones)) & ~w & high;
    return w | (upper >> 2);
}

void sg_lower_copy(char *dst, const char *src, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, src + i, 8);
        w = lower_word(w);
        memcpy(dst + i, &w, 8);
    }
    for (; i < n; i++)
        dst[i] = (char)sg_lower_table[(unsigned char)src[i]];
}

void sg_lower(char *s, size_t n) { sg_lower_copy(s, s, n); }

static size_t utf8_len(const char *t, size_t i, size_t n)
{
    unsigned char c = (unsigned char)t[i];
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    return i + len > n ? 1 : len;
}

/* Iterative matcher with one backtrack point (the last star): linear in
 * practice and never recursive. */
int sg_glob_match(const char *pat, const uint8_t *kinds, size_t plen, const char *text,
                  size_t tlen)
{
    size_t p = 0, t = 0, star_p = SIZE_MAX, star_t = 0;
    while (t < tlen) {
        if (p < plen && kinds[p] == GL_STAR) {
            star_p = ++p;
            star_t = t;
        } else if (p < plen && kinds[p] == GL_ONE) {
            p++;
            t += utf8_len(text, t, tlen);
        } else if (p < plen && pat[p] == text[t]) {
            p++;
            t++;
        } else if (star_p != SIZE_MAX) {
            p = star_p;
            t = ++star_t;
        } else {
            return 0;
        }
    }
    while (p < plen && kinds[p] == GL_STAR)
        p++;
    return p == plen;
}

/* ---- IP networks ------------------------------------------------------------- */

/* Dotted-quad IPv4 as inet_pton(AF_INET) reads it: four decimal parts of at
 * most 255, no leading zeros, nothing else. By hand because a cidr rule
 * parses the address of every event it is evaluated on (Security 4625 in a
 * password spray: a third of some files), and libc's inet_pton took most of
 * that; tests/unit compare the two. */
static int parse_ipv4(const char *p, uint8_t out[4])
{
    uint8_t parts[4];
    for (int k = 0; k < 4; k++) {
        if (k && *p++ != '.')
            return -1;
        if (*p < '0' || *p > '9')
            return -1;
        unsigned v = 0;
        for (int digits = 0; *p >= '0' && *p <= '9'; digits++, p++) {
            if (digits && v == 0)
                return -1; /* a leading zero */
            v = v * 10 + (unsigned)(*p - '0');
            if (v > 255)
                return -1;
        }
        parts[k] = (uint8_t)v;
    }
    if (*p)
        return -1;
    memcpy(out, parts, sizeof parts);
    return 0;
}

int sg_parse_ip(const char *s, size_t n, uint8_t addr[16], int *is_v6)
{
    char tmp[64];
    if (n == 0 || n >= sizeof tmp)
        return -1;
    memcpy(tmp, s, n);
    tmp[n] = 0;
    /* Drop a zone index (fe80::1%eth0) and IPv6 brackets. */
    char *pct = strchr(tmp, '%');
    if (pct)
        *pct = 0;
    char *p = tmp;
    if (*p == '[') {
        p++;
        char *e = strchr(p, ']');
        if (e)
            *e = 0;
    }
    memset(addr, 0, 16);
    if (!strchr(p, ':')) { /* IPv6 text always has one, IPv4 text never */
        if (parse_ipv4(p, addr) != 0)
            return -1;
        *is_v6 = 0;
        return 0;
    }
    if (inet_pton(AF_INET6, p, addr) == 1) {
        *is_v6 = 1;
        return 0;
    }
    return -1;
}

int sg_parse_cidr(const char *s, uint8_t addr[16], int *is_v6, uint8_t *bits)
{
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : strlen(s);
    if (sg_parse_ip(s, n, addr, is_v6) != 0)
        return -1;
    long max = *is_v6 ? 128 : 32;
    long b = max;
    if (slash) {
        char *end;
        b = strtol(slash + 1, &end, 10);
        if (end == slash + 1 || *end || b < 0 || b > max)
            return -1;
    }
    *bits = (uint8_t)b;
    return 0;
}

static int prefix_equal(const uint8_t *a, const uint8_t *b, unsigned bits)
{
    unsigned full = bits / 8, rest = bits % 8;
    if (memcmp(a, b, full) != 0)
        return 0;
    if (!rest)
        return 1;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (a[full] & mask) == (b[full] & mask);
}

int sg_ip_in_net(const uint8_t ip[16], int ip_v6, const uint8_t net[16], int net_v6,
                 uint8_t bits)
{
    if (ip_v6 == net_v6)
        return prefix_equal(ip, net, bits);
    /* An IPv4-mapped IPv6 address (::ffff:a.b.c.d) against an IPv4 network. */
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (ip_v6 && !net_v6 && memcmp(ip, mapped, 12) == 0)
        return prefix_equal(ip + 12, net, bits);
    return 0;
}
