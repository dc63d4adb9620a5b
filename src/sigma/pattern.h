/* Sigma string values: wildcard parsing with escapes, encoding modifiers
 * (base64, base64offset, utf16, windash), glob matching, IP networks. */
#ifndef PS_SIGMA_PATTERN_H
#define PS_SIGMA_PATTERN_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* ps_buf_add that may be given zero bytes (memcpy with a NULL buffer is
 * undefined even for zero bytes). */
static inline void sg_buf_add(ps_buf *b, const void *p, size_t n)
{
    if (n)
        ps_buf_add(b, p, n);
}
static inline void sg_buf_adds(ps_buf *b, const char *s) { sg_buf_add(b, s, strlen(s)); }

/* A value being built: bytes, and per byte a GL_* token kind. */
typedef struct sg_pat {
    ps_buf bytes;
    ps_buf kinds;
} sg_pat;

void sg_pat_init(sg_pat *p);
void sg_pat_free(sg_pat *p);
/* Empty again, its room kept. */
static inline void sg_pat_reset(sg_pat *p)
{
    ps_buf_reset(&p->bytes);
    ps_buf_reset(&p->kinds);
}
void sg_pat_add(sg_pat *p, const char *s, size_t n, uint8_t kind);
int sg_pat_failed(const sg_pat *p);

/* Parse Sigma wildcard syntax: `*` `?` wildcards; `\*` `\?` `\\` escape them;
 * any other backslash (a lone trailing one too) is literal. */
void sg_pat_parse_wildcards(sg_pat *p, const char *s, size_t n);
/* Everything literal (for base64 and other encoded values). */
void sg_pat_literal(sg_pat *p, const char *s, size_t n);

/* Transforms on plain byte strings (no wildcards). */
void sg_utf16(ps_buf *out, const char *s, size_t n, int big_endian, int bom);
void sg_base64(ps_buf *out, const unsigned char *s, size_t n, int pad);
/* The part of base64(X + s + Y) fixed by s when s starts at byte `offset`
 * (0..2) of X + s. */
void sg_base64_offset(ps_buf *out, const unsigned char *s, size_t n, unsigned offset);

/* Windows option dashes: number of variants, and variant i of `s`. */
#define SG_WINDASH_CHARS 5
size_t sg_windash_variants(const char *s, size_t n);
void sg_windash_variant(ps_buf *out, const char *s, size_t n, size_t index);

/* ASCII lower-casing, in place or into dst (n bytes; dst may be src). */
void sg_lower(char *s, size_t n);
void sg_lower_copy(char *dst, const char *src, size_t n);
extern const unsigned char sg_lower_table[256];

/* Glob match over `text`, with `pat` bytes and `kinds` (GL_*). Text and
 * pattern are compared byte for byte (lower-case both for insensitivity).
 * GL_ONE matches one UTF-8 character. */
int sg_glob_match(const char *pat, const uint8_t *kinds, size_t plen, const char *text,
                  size_t tlen);

/* IP addresses and networks. */
int sg_parse_ip(const char *s, size_t n, uint8_t addr[16], int *is_v6);
int sg_parse_cidr(const char *s, uint8_t addr[16], int *is_v6, uint8_t *bits);
int sg_ip_in_net(const uint8_t ip[16], int ip_v6, const uint8_t net[16], int net_v6,
                 uint8_t bits);

#endif
