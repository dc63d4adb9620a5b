/* File-name IOCs through one Hyperscan database.
 *
 * signature-base holds some 3,800 file-name regexes; running each over every
 * path costs more than hashing the file. Hyperscan searches all of them in
 * one pass and names the few that may match; each candidate is then
 * confirmed with the IOC's own PCRE2 regex (and its false-positive regex), so
 * the result is exactly what the plain loop gives.
 *
 * Why candidates are a superset of PCRE2's matches:
 *  - a pattern Hyperscan supports is compiled exactly; one it supports only
 *    approximately (lookarounds, back-references, atomic groups) is compiled
 *    with HS_FLAG_PREFILTER, which may over-report but never misses; one it
 *    cannot take at all goes on the `always` list and is confirmed on every
 *    path;
 *  - Hyperscan runs in byte mode, PCRE2 in UTF mode: the two agree on ASCII
 *    subjects only, so a path with any byte >= 0x80 takes the plain loop.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "ioc/ioc_internal.h"

/* A database that cannot compile after this many patterns were demoted is
 * given up on (the plain loop still works). */
#define PS_PREFILTER_MAX_RETRIES 64

typedef struct build_state {
    const char **exprs;
    unsigned *flags;
    unsigned *ids;
    unsigned n;              /* patterns in the database */
} build_state;

/* Forgets the database (not the lock or the cache directory). */
static void prefilter_clear(ps_ioc_prefilter *pre)
{
    hs_free_database(pre->db);
    free(pre->always);
    pre->db = NULL;
    pre->always = NULL;
    pre->nalways = 0;
    pre->covered = 0;
}

ps_ioc_prefilter *ps_ioc_prefilter_new(void)
{
    ps_ioc_prefilter *pre = calloc(1, sizeof *pre);
    if (pre && pthread_mutex_init(&pre->mu, NULL) != 0) {
        free(pre);
        return NULL;
    }
    return pre;
}

void ps_ioc_prefilter_free(ps_ioc_prefilter *pre)
{
    if (!pre)
        return;
    prefilter_clear(pre);
    pthread_mutex_destroy(&pre->mu);
    free(pre->cache_dir);
    free(pre);
}

/* The regex without a leading "(?i)", which becomes HS_FLAG_CASELESS. */
static const char *strip_caseless(const char *re, unsigned *flags)
{
    if (!strncmp(re, "(?i)", 4)) {
        *flags |= HS_FLAG_CASELESS;
        return re + 4;
    }
    return re;
}

static int parses(const char *expr, unsigned flags)
{
    hs_expr_info_t *info = NULL;
    hs_compile_error_t *err = NULL;
    hs_error_t rc = hs_expression_info(expr, flags, &info, &err);
    free(info);
    if (err)
        hs_free_compile_error(err);
    return rc == HS_SUCCESS;
}

/* Constructs Hyperscan rejects in exact mode. Only a hint: a pattern with
 * one is checked by the parser up front (cheap), the others go straight into
 * the set, whose compile names any pattern that still fails. Checking every
 * pattern with the parser would cost more than the whole compile. */
static int looks_unsupported(const char *re)
{
    static const char *const hints[] = {"(?=", "(?!", "(?<", "(?>", "(?(", "(?R", "(?P", "\\g",
                                        "\\k", "\\C", "\\X", "\\R", "\\K", "*+", "++", "?+",
                                        "}+", "(*"};
    for (size_t i = 0; i < sizeof hints / sizeof hints[0]; i++)
        if (strstr(re, hints[i]))
            return 1;
    for (const char *p = strchr(re, '\\'); p; p = strchr(p + 2, '\\')) {
        if (!p[1])
            break;
        if (p[1] >= '1' && p[1] <= '9')
            return 1; /* back-reference */
    }
    return 0;
}

/* Picks the mode of a pattern Hyperscan may not take exactly: prefilter when
 * the parser accepts it so, else -1 (always confirmed). */
static int fallback_flags(const char *expr, unsigned flags)
{
    if (parses(expr, flags))
        return (int)flags;
    flags |= HS_FLAG_PREFILTER;
    return parses(expr, flags) ? (int)flags : -1;
}

static int classify(const ps_iocs *iocs, build_state *b, ps_ioc_prefilter *pre)
{
    for (size_t i = 0; i < iocs->nfn; i++) {
        unsigned flags = HS_FLAG_SINGLEMATCH | HS_FLAG_ALLOWEMPTY;
        const char *expr = strip_caseless(iocs->fn[i].regex, &flags);
        if (looks_unsupported(expr)) {
            int f = fallback_flags(expr, flags);
            if (f < 0) {
                pre->always[pre->nalways++] = (uint32_t)i;
                continue;
            }
            flags = (unsigned)f;
        }
        b->exprs[b->n] = expr;
        b->flags[b->n] = flags;
        b->ids[b->n] = (unsigned)i;
        b->n++;
    }
    return 0;
}

/* A pattern the set compile rejects (unsupported syntax the hint missed, or
 * a limit such as "pattern too large") is demoted to prefilter mode, or to
 * the always list when it already is, and the set compiled again. */
static hs_database_t *compile_set(build_state *b, ps_ioc_prefilter *pre)
{
    for (int attempt = 0; attempt < PS_PREFILTER_MAX_RETRIES && b->n; attempt++) {
        hs_database_t *db = NULL;
        hs_compile_error_t *err = NULL;
        if (hs_compile_multi(b->exprs, b->flags, b->ids, b->n, HS_MODE_BLOCK, NULL, &db, &err) ==
            HS_SUCCESS)
            return db;
        int bad = err ? err->expression : -1;
        if (err)
            hs_free_compile_error(err);
        if (bad < 0 || (unsigned)bad >= b->n)
            return NULL; /* not one pattern's fault (e.g. out of memory) */
        if (!(b->flags[bad] & HS_FLAG_PREFILTER) &&
            parses(b->exprs[bad], b->flags[bad] | HS_FLAG_PREFILTER)) {
            b->flags[bad] |= HS_FLAG_PREFILTER;
            continue;
        }
        pre->always[pre->nalways++] = b->ids[bad];
        b->n--;
        memmove(b->exprs + bad, b->exprs + bad + 1, (b->n - (unsigned)bad) * sizeof *b->exprs);
        memmove(b->flags + bad, b->flags + bad + 1, (b->n - (unsigned)bad) * sizeof *b->flags);
        memmove(b->ids + bad, b->ids + bad + 1, (b->n - (unsigned)bad) * sizeof *b->ids);
    }
    return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Compiles the database over fn[0..nfn) into `pre`; 0 on success. */
static int compile_prefilter(const ps_iocs *iocs, ps_ioc_prefilter *pre)
{
    build_state b = {0};
    b.exprs = malloc(iocs->nfn * sizeof *b.exprs);
    b.flags = malloc(iocs->nfn * sizeof *b.flags);
    b.ids = malloc(iocs->nfn * sizeof *b.ids);
    pre->always = malloc(iocs->nfn * sizeof *pre->always);
    int rc = -1;
    if (b.exprs && b.flags && b.ids && pre->always && classify(iocs, &b, pre) == 0) {
        pre->db = b.n ? compile_set(&b, pre) : NULL;
        if (pre->db || !b.n) {
            if (pre->nalways > 1)
                qsort(pre->always, pre->nalways, sizeof *pre->always, cmp_u32);
            rc = 0;
        }
    }
    free(b.exprs);
    free(b.flags);
    free(b.ids);
    return rc;
}

static void build_locked(const ps_iocs *iocs, ps_ioc_prefilter *pre)
{
    prefilter_clear(pre);
    pre->built = 1;
    pre->built_for = iocs->nfn;
    pre->cache_state = PS_IOC_CACHE_UNUSED;
    if (!iocs->nfn || iocs->nfn > UINT_MAX)
        return;
    uint8_t key[PS_IOC_CACHE_KEY_LEN];
    int keyed = pre->cache_dir && ps_ioc_cache_key(iocs, key) == 0;
    int cached = 0;
    if (keyed) {
        cached = ps_ioc_cache_load(pre->cache_dir, key, iocs->nfn, &pre->db, &pre->always,
                                   &pre->nalways);
        if (cached > 0) {
            pre->covered = iocs->nfn;
            pre->cache_state = PS_IOC_CACHE_LOADED;
            return;
        }
        prefilter_clear(pre);
    }
    if (compile_prefilter(iocs, pre) != 0) {
        prefilter_clear(pre); /* the plain loop takes over */
        return;
    }
    pre->covered = iocs->nfn;
    if (keyed) {
        int stored = ps_ioc_cache_store(pre->cache_dir, key, pre->db, pre->always,
                                        pre->nalways) == 0;
        pre->cache_state = cached < 0  ? PS_IOC_CACHE_REJECTED
                           : stored    ? PS_IOC_CACHE_STORED
                                       : PS_IOC_CACHE_UNWRITABLE;
    }
}

void ps_ioc_prefilter_ensure(const ps_iocs *iocs)
{
    ps_ioc_prefilter *pre = iocs->pre;
    pthread_mutex_lock(&pre->mu);
    /* Once per set of IOCs: a build that failed is not retried by every
     * scratch (the plain loop serves them). */
    if (!pre->built || pre->built_for != iocs->nfn)
        build_locked(iocs, pre);
    pthread_mutex_unlock(&pre->mu);
}

ps_ioc_cache_state ps_iocs_prepare(const ps_iocs *iocs)
{
    if (!iocs)
        return PS_IOC_CACHE_UNUSED;
    ps_ioc_prefilter_ensure(iocs);
    pthread_mutex_lock(&iocs->pre->mu);
    ps_ioc_cache_state st = iocs->pre->cache_state;
    pthread_mutex_unlock(&iocs->pre->mu);
    return st;
}

int ps_iocs_set_cache_dir(ps_iocs *iocs, const char *dir)
{
    if (!iocs)
        return PS_ERR_ARG;
    char *copy = NULL;
    if (dir && *dir && !(copy = strdup(dir)))
        return PS_ERR_NOMEM;
    pthread_mutex_lock(&iocs->pre->mu);
    free(iocs->pre->cache_dir);
    iocs->pre->cache_dir = copy;
    pthread_mutex_unlock(&iocs->pre->mu);
    return PS_OK;
}

/* ---------------------------------------------------------------- scratch */

ps_ioc_scratch *ps_ioc_scratch_new(const ps_iocs *iocs)
{
    if (!iocs)
        return NULL;
    ps_ioc_scratch *sc = calloc(1, sizeof *sc);
    if (!sc)
        return NULL;
    ps_ioc_prefilter_ensure(iocs);
    sc->iocs = iocs;
    sc->md = pcre2_match_data_create(1, NULL);
    sc->capids = iocs->nfn;
    sc->ids = malloc((sc->capids ? sc->capids : 1) * sizeof *sc->ids);
    if (iocs->pre->db && hs_alloc_scratch(iocs->pre->db, &sc->hs) == HS_SUCCESS)
        sc->db = iocs->pre->db;
    if (!sc->md || !sc->ids || (iocs->pre->db && !sc->hs)) {
        ps_ioc_scratch_free(sc);
        return NULL;
    }
    return sc;
}

void ps_ioc_scratch_free(ps_ioc_scratch *sc)
{
    if (!sc)
        return;
    hs_free_scratch(sc->hs);
    pcre2_match_data_free(sc->md);
    free(sc->ids);
    free(sc);
}

/* ---------------------------------------------------------------- match */

static int on_candidate(unsigned id, unsigned long long from, unsigned long long to,
                        unsigned flags, void *ctx)
{
    (void)from, (void)to, (void)flags;
    ps_ioc_scratch *sc = ctx;
    /* SINGLEMATCH: each id at most once. An id past the list can only come
     * from a damaged cached database; it is dropped, never indexed. */
    if (sc->nids < sc->capids && id < sc->iocs->nfn)
        sc->ids[sc->nids++] = id;
    return 0;
}

static int is_ascii(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] >= 0x80)
            return 0;
    return 1;
}

static void fill_hit(ps_ioc_hit *h, const ps_filename_ioc *f, size_t len)
{
    memset(h, 0, sizeof *h);
    h->list = PS_IOC_FILENAME;
    h->ioc = f->pattern;
    h->score = f->score;
    h->description = f->description;
    h->length = len;
}

/* Confirms the candidates and the always-checked IOCs, in list order. */
static size_t confirm(ps_ioc_scratch *sc, const char *path, size_t len, ps_ioc_hit *hits,
                      size_t max)
{
    const ps_iocs *iocs = sc->iocs;
    if (sc->nids > 1)
        qsort(sc->ids, sc->nids, sizeof *sc->ids, cmp_u32);
    const uint32_t *always = iocs->pre->always;
    size_t a = 0, c = 0, found = 0;
    while (a < iocs->pre->nalways || c < sc->nids) {
        uint32_t i;
        if (c == sc->nids || (a < iocs->pre->nalways && always[a] < sc->ids[c]))
            i = always[a++];
        else
            i = sc->ids[c++];
        if (!ps_ioc_filename_hit(iocs, i, path, len, sc->md))
            continue;
        if (found < max)
            fill_hit(&hits[found], &iocs->fn[i], len);
        found++;
    }
    return found;
}

size_t ps_iocs_match_path_with(ps_ioc_scratch *sc, const char *path, size_t len,
                               ps_ioc_hit *hits, size_t max)
{
    if (!sc || !path || !sc->iocs->nfn)
        return 0;
    const ps_iocs *iocs = sc->iocs;
    int usable = iocs->pre->db && sc->db == iocs->pre->db && sc->capids >= iocs->nfn &&
                 iocs->pre->covered == iocs->nfn && len <= UINT_MAX && is_ascii(path, len);
    if (!usable)
        return ps_iocs_match_path_plain(iocs, path, len, sc->md, hits, max);
    sc->nids = 0;
    if (hs_scan(iocs->pre->db, path, (unsigned)len, 0, sc->hs, on_candidate, sc) != HS_SUCCESS)
        return ps_iocs_match_path_plain(iocs, path, len, sc->md, hits, max);
    return confirm(sc, path, len, hits, max);
}

size_t ps_iocs_match_path(const ps_iocs *iocs, const char *path, size_t len,
                          ps_ioc_hit *hits, size_t max)
{
    if (!iocs || !path || !iocs->nfn)
        return 0;
    ps_ioc_scratch *sc = ps_ioc_scratch_new(iocs);
    if (!sc)
        return 0;
    size_t n = ps_iocs_match_path_with(sc, path, len, hits, max);
    ps_ioc_scratch_free(sc);
    return n;
}
