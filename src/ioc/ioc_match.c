/* Matching against a loaded IOC set. Everything here only reads the set, so
 * worker threads and hunt's event workers share one set without locks. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "ioc/ioc_internal.h"

/* --------------------------------------------------------------- sorting */

static int cmp_hash(const void *a, const void *b)
{
    const ps_hash_ioc *x = a, *y = b;
    int c = strcmp(x->hex, y->hex);
    if (c)
        return c;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* Sort and drop duplicates, keeping the entry loaded last (a Python dict in
 * Loki keeps the last value written for a key). */
static void sort_table(ps_hash_table *t)
{
    if (t->n < 2)
        return;
    qsort(t->items, t->n, sizeof *t->items, cmp_hash);
    size_t out = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (out && !strcmp(t->items[out - 1].hex, t->items[i].hex))
            t->items[out - 1] = t->items[i];
        else
            t->items[out++] = t->items[i];
    }
    t->n = out;
}

static int cmp_text(const void *a, const void *b)
{
    const ps_text_ioc *x = a, *y = b;
    return strcmp(x->value, y->value);
}

static void sort_c2(ps_iocs *iocs)
{
    if (iocs->nc2 < 2)
        return;
    qsort(iocs->c2, iocs->nc2, sizeof *iocs->c2, cmp_text);
    size_t out = 0;
    for (size_t i = 0; i < iocs->nc2; i++) {
        if (out && !strcmp(iocs->c2[out - 1].value, iocs->c2[i].value))
            continue; /* duplicate indicator: the first description stays */
        iocs->c2[out++] = iocs->c2[i];
    }
    iocs->nc2 = out;
}

void ps_iocs_finish(ps_iocs *iocs)
{
    sort_table(&iocs->md5);
    sort_table(&iocs->sha1);
    sort_table(&iocs->sha256);
    sort_table(&iocs->fp);
    sort_c2(iocs);
}

/* ---------------------------------------------------------------- hashes */

static const ps_hash_ioc *find_hash(const ps_hash_table *t, const char *hex)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(hex, t->items[mid].hex);
        if (c == 0)
            return &t->items[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

int ps_iocs_match_hash(const ps_iocs *iocs, ps_ioc_list kind, const char *hex, ps_ioc_hit *hit)
{
    if (!iocs || !hex)
        return 0;
    char lower[65];
    size_t len = strnlen(hex, sizeof lower);
    if (len != 32 && len != 40 && len != 64)
        return 0;
    for (size_t i = 0; i < len; i++)
        lower[i] = (char)tolower((unsigned char)hex[i]);
    lower[len] = 0;
    const ps_hash_table *t;
    if (kind == PS_IOC_FP_HASH)
        t = &iocs->fp;
    else if (kind == PS_IOC_HASH)
        t = len == 32 ? &iocs->md5 : len == 40 ? &iocs->sha1 : &iocs->sha256;
    else
        return 0;
    const ps_hash_ioc *h = find_hash(t, lower);
    if (!h)
        return 0;
    if (hit) {
        memset(hit, 0, sizeof *hit);
        hit->list = kind;
        hit->ioc = h->hex;
        hit->score = h->score;
        hit->description = h->description;
    }
    return 1;
}

/* ------------------------------------------------------------- file names */

static int regex_found(const ps_iocs *iocs, const pcre2_code *re, const char *s, size_t len,
                       pcre2_match_data *md)
{
    /* Errors (match limit hit on a hostile pattern) count as no match. */
    return pcre2_match(re, (PCRE2_SPTR)s, len, 0, 0, md, iocs->mctx) >= 0;
}

int ps_ioc_filename_hit(const ps_iocs *iocs, size_t i, const char *path, size_t len,
                        pcre2_match_data *md)
{
    const ps_filename_ioc *f = &iocs->fn[i];
    if (!regex_found(iocs, f->re, path, len, md))
        return 0;
    return !(f->fp_re && regex_found(iocs, f->fp_re, path, len, md));
}

size_t ps_iocs_match_path_plain(const ps_iocs *iocs, const char *path, size_t len,
                                pcre2_match_data *md, ps_ioc_hit *hits, size_t max)
{
    size_t found = 0;
    for (size_t i = 0; i < iocs->nfn; i++) {
        if (!ps_ioc_filename_hit(iocs, i, path, len, md))
            continue;
        if (found < max) {
            ps_ioc_hit *h = &hits[found];
            memset(h, 0, sizeof *h);
            h->list = PS_IOC_FILENAME;
            h->ioc = iocs->fn[i].pattern;
            h->score = iocs->fn[i].score;
            h->description = iocs->fn[i].description;
            h->length = len;
        }
        found++;
    }
    return found;
}

/* ------------------------------------------------------------ text (C2) */

static const ps_text_ioc *find_c2(const ps_iocs *iocs, const char *value)
{
    size_t lo = 0, hi = iocs->nc2;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(value, iocs->c2[mid].value);
        if (c == 0)
            return &iocs->c2[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

static int host_char(unsigned char c)
{
    return isalnum(c) || c == '.' || c == '-' || c == '_';
}

static void add_hit(ps_ioc_hit *hits, size_t max, size_t *found, const ps_text_ioc *t,
                    ps_ioc_list list, size_t off, size_t len)
{
    if (*found < max) {
        ps_ioc_hit *h = &hits[*found];
        h->list = list;
        h->ioc = t->value;
        h->score = t->score;
        h->description = t->description;
        h->offset = off;
        h->length = len;
    }
    (*found)++;
}

/* A host-name-like token: try the whole token, then each parent domain
 * (never an address suffix: "1.2.3.4" must not match inside "11.2.3.4"). */
static void match_token(const ps_iocs *iocs, const char *tok, size_t len, size_t off,
                        ps_ioc_hit *hits, size_t max, size_t *found)
{
    char lower[256];
    while (len && tok[len - 1] == '.')
        len--; /* "evil.com." (FQDN) or a sentence full stop */
    while (len && tok[0] == '.') {
        tok++;
        off++;
        len--;
    }
    if (len < 4 || len >= sizeof lower)
        return;
    for (size_t i = 0; i < len; i++)
        lower[i] = (char)tolower((unsigned char)tok[i]);
    lower[len] = 0;
    for (size_t start = 0; start < len;) {
        const ps_text_ioc *t = find_c2(iocs, lower + start);
        if (t && (start == 0 || !t->is_ip)) {
            add_hit(hits, max, found, t, PS_IOC_C2, off + start, len - start);
            return; /* the most specific indicator is enough */
        }
        const char *dot = memchr(lower + start, '.', len - start);
        if (!dot)
            break;
        start = (size_t)(dot - lower) + 1;
    }
}

size_t ps_iocs_match_text(const ps_iocs *iocs, const char *text, size_t len,
                          ps_ioc_hit *hits, size_t max)
{
    if (!iocs || !text)
        return 0;
    size_t found = 0;
    if (iocs->nc2) {
        size_t i = 0;
        while (i < len) {
            while (i < len && !host_char((unsigned char)text[i]))
                i++;
            size_t start = i;
            while (i < len && host_char((unsigned char)text[i]))
                i++;
            if (i > start)
                match_token(iocs, text + start, i - start, start, hits, max, &found);
        }
    }
    for (size_t k = 0; k < iocs->nkw; k++) {
        const ps_text_ioc *t = &iocs->kw[k];
        const char *p = memmem(text, len, t->value, t->len);
        if (p)
            add_hit(hits, max, &found, t, PS_IOC_KEYWORD, (size_t)(p - text), t->len);
    }
    return found;
}
