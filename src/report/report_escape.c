/* Escaping of attacker-controlled text for the report page. Every value in
 * an event log can be chosen by whoever wrote the log, so nothing from the
 * data reaches the page unescaped. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "report/report_internal.h"

/* Length of the valid UTF-8 sequence at s (1 to 4) and its code point, or 0
 * when the bytes are not valid UTF-8 (overlong forms, surrogates, values past
 * U+10FFFF and truncated sequences are all invalid). */
static size_t utf8_decode(const unsigned char *s, uint32_t *cp)
{
    unsigned char c = s[0];
    size_t n;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF)
        n = 2, v = c & 0x1F, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 3, v = c & 0x0F, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 4, v = c & 0x07, min = 0x10000;
    else
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) /* also stops at the NUL terminator */
            return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return n;
}

void report_json_string(ps_buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    ps_buf_addc(b, '"');
    while (*p) {
        uint32_t cp;
        size_t n = utf8_decode(p, &cp);
        if (n == 0) { /* the browser would show U+FFFD anyway; say so explicitly */
            ps_buf_lit(b, "\\ufffd");
            p++;
            continue;
        }
        /* '<' '>' '&': no "</script", "<!--" or entity can form inside the
         * element; U+2028/2029: line terminators in older JavaScript. */
        if (cp < 0x20 || cp == '<' || cp == '>' || cp == '&' || cp == 0x2028 || cp == 0x2029) {
            char esc[6] = {'\\', 'u', hex[(cp >> 12) & 15], hex[(cp >> 8) & 15],
                           hex[(cp >> 4) & 15], hex[cp & 15]};
            ps_buf_add(b, esc, sizeof esc);
        } else if (cp == '"' || cp == '\\') {
            ps_buf_addc(b, '\\');
            ps_buf_addc(b, (char)cp);
        } else {
            ps_buf_add(b, p, n);
        }
        p += n;
    }
    ps_buf_addc(b, '"');
}

void report_html_escape(ps_buf *b, const char *s)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    while (*p) {
        uint32_t cp;
        size_t n = utf8_decode(p, &cp);
        if (n == 0) {
            ps_buf_lit(b, "\xEF\xBF\xBD"); /* U+FFFD */
            p++;
            continue;
        }
        switch (cp) {
        case '&': ps_buf_lit(b, "&amp;"); break;
        case '<': ps_buf_lit(b, "&lt;"); break;
        case '>': ps_buf_lit(b, "&gt;"); break;
        case '"': ps_buf_lit(b, "&quot;"); break;
        case '\'': ps_buf_lit(b, "&#39;"); break;
        default:
            if (cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r')
                ps_buf_lit(b, "\xEF\xBF\xBD"); /* control characters are not HTML text */
            else
                ps_buf_add(b, p, n);
        }
        p += n;
    }
}

void report_format_time(uint64_t filetime, char out[40])
{
    out[0] = 0;
    if (!filetime)
        return;
    time_t secs = (time_t)(filetime / 10000000ull) - 11644473600ll;
    struct tm tm;
    if (!gmtime_r(&secs, &tm))
        return;
    size_t n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 40 - n, ".%03uZ", (unsigned)(filetime / 10000ull % 1000));
}

int report_sha256_base64(const char *data, size_t len, char out[48])
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    if (!EVP_Digest(data, len, digest, &dlen, EVP_sha256(), NULL) || dlen != 32)
        return -1;
    return EVP_EncodeBlock((unsigned char *)out, digest, (int)dlen) == 44 ? 0 : -1;
}
