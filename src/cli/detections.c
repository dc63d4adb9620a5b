/* hunt's detection store; see detections.h. */
#include "cli/detections.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "plainsight/common.h"
#include "util/extsort.h"

#define NO_RULE UINT32_MAX      /* a C2 detection's rule field */
#define MAX_DETAILS 4096        /* Details are cut to 511 bytes before this */

/* Each distinct string once, by id (open addressing over a hash of it). */
typedef struct strtab {
    char **str;
    uint32_t *len;
    uint32_t n, cap;
    uint32_t *slot;           /* id + 1, or 0 */
    uint32_t nslots;          /* power of two */
} strtab;

/* Eight bytes at a time: file paths are long and every detection has one. */
static uint64_t str_hash(const char *s, size_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
    for (; n >= 8; s += 8, n -= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
    }
    uint64_t w = 0;
    memcpy(&w, s, n);
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 29);
}

static int strtab_rehash(strtab *t, uint32_t nslots)
{
    uint32_t *slot = calloc(nslots, sizeof *slot);
    if (!slot)
        return -1;
    for (uint32_t id = 0; id < t->n; id++) {
        uint32_t k = (uint32_t)str_hash(t->str[id], t->len[id]) & (nslots - 1);
        while (slot[k])
            k = (k + 1) & (nslots - 1);
        slot[k] = id + 1;
    }
    free(t->slot);
    t->slot = slot;
    t->nslots = nslots;
    return 0;
}

/* The id of s, added when new; -1 when out of memory. */
static int strtab_id(strtab *t, const char *s, uint32_t *id)
{
    size_t n = strlen(s);
    if (n > UINT32_MAX)
        return -1;
    if (2 * (t->n + 1) > t->nslots && strtab_rehash(t, t->nslots ? t->nslots * 2 : 64) != 0)
        return -1;
    uint32_t k = (uint32_t)str_hash(s, n) & (t->nslots - 1);
    for (; t->slot[k]; k = (k + 1) & (t->nslots - 1)) {
        uint32_t i = t->slot[k] - 1;
        if (t->len[i] == n && memcmp(t->str[i], s, n) == 0) {
            *id = i;
            return 0;
        }
    }
    if (t->n == t->cap) {
        uint32_t cap = t->cap ? t->cap * 2 : 64;
        char **str = realloc(t->str, cap * sizeof *str);
        if (str)
            t->str = str;
        uint32_t *len = realloc(t->len, cap * sizeof *len);
        if (len)
            t->len = len;
        if (!str || !len)
            return -1;
        t->cap = cap;
    }
    char *copy = malloc(n + 1);
    if (!copy)
        return -1;
    memcpy(copy, s, n + 1);
    t->str[t->n] = copy;
    t->len[t->n] = (uint32_t)n;
    t->slot[k] = t->n + 1;
    *id = t->n++;
    return 0;
}

static void strtab_free(strtab *t)
{
    for (uint32_t i = 0; i < t->n; i++)
        free(t->str[i]);
    free(t->str);
    free(t->len);
    free(t->slot);
}

/* A stored detection: this header, then its Details bytes. */
typedef struct det_rec {
    uint64_t time, record_id;
    uint32_t event_id;
    uint32_t rule;            /* NO_RULE for a C2 indicator */
    uint32_t ioc;             /* the indicator's string id */
    int32_t ioc_score;
    uint32_t computer, channel, file;
    uint32_t spare;           /* 0: no padding bytes of unknown value on disk */
} det_rec;

/* Counts per string id of one role (computer, indicator). */
typedef struct id_counts {
    size_t *n;
    int *score;
    uint32_t cap;
} id_counts;

static int count_id(id_counts *c, uint32_t id, int score)
{
    if (id >= c->cap) {
        uint32_t cap = c->cap ? c->cap : 64;
        while (cap <= id)
            cap *= 2;
        size_t *n = realloc(c->n, cap * sizeof *n);
        if (n)
            c->n = n;
        int *sc = realloc(c->score, cap * sizeof *sc);
        if (sc)
            c->score = sc;
        if (!n || !sc)
            return -1;
        memset(c->n + c->cap, 0, (cap - c->cap) * sizeof *n);
        c->cap = cap;
    }
    if (!c->n[id]++)
        c->score[id] = score;
    return 0;
}

struct det_store {
    pthread_mutex_t lock;
    strtab strs;
    ps_extsort *sort;
    char *tmpdir;
    size_t nrules;
    size_t *rule_n;           /* detections per Sigma rule */
    id_counts iocs, hosts;
    det_totals tot;
};

/* The timeline's order; strings by their text. */
static int rec_cmp(void *ctx, const void *pa, size_t alen, const void *pb, size_t blen)
{
    const det_store *s = ctx;
    det_rec a, b;
    memcpy(&a, pa, sizeof a);
    memcpy(&b, pb, sizeof b);
    if (a.time != b.time)
        return a.time < b.time ? -1 : 1;
    if (a.file != b.file) {
        int c = strcmp(s->strs.str[a.file], s->strs.str[b.file]);
        if (c)
            return c;
    }
    if (a.record_id != b.record_id)
        return a.record_id < b.record_id ? -1 : 1;
    /* Sigma detections before C2 ones of the same record; each kind in a
     * fixed order (rule index, indicator text), so that the output does not
     * depend on which worker found what. */
    if ((a.rule == NO_RULE) != (b.rule == NO_RULE))
        return a.rule == NO_RULE ? 1 : -1;
    if (a.rule == NO_RULE && a.ioc != b.ioc) {
        int c = strcmp(s->strs.str[a.ioc], s->strs.str[b.ioc]);
        if (c)
            return c;
    } else if (a.rule != b.rule) {
        return a.rule < b.rule ? -1 : 1;
    }
    /* One correlation rule can fire for several groups at one time (record 0,
     * no file): the Details, which name the group, keep their order fixed
     * (compared as strcmp would: they hold no NUL). */
    size_t al = alen - sizeof a, bl = blen - sizeof b;
    int c = memcmp((const char *)pa + sizeof a, (const char *)pb + sizeof b, al < bl ? al : bl);
    return c ? c : (al > bl) - (al < bl);
}

det_store *det_store_new(size_t nrules, size_t memory, const char *tmpdir)
{
    det_store *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    pthread_mutex_init(&s->lock, NULL);
    s->nrules = nrules;
    s->rule_n = calloc(nrules ? nrules : 1, sizeof *s->rule_n);
    s->tmpdir = strdup(tmpdir && *tmpdir ? tmpdir : "/tmp");
    s->sort = s->tmpdir ? ps_extsort_new(memory, s->tmpdir, rec_cmp, s) : NULL;
    if (!s->rule_n || !s->sort) {
        det_store_free(s);
        return NULL;
    }
    return s;
}

void det_store_free(det_store *s)
{
    if (!s)
        return;
    ps_extsort_free(s->sort);
    strtab_free(&s->strs);
    free(s->rule_n);
    free(s->iocs.n), free(s->iocs.score);
    free(s->hosts.n), free(s->hosts.score);
    free(s->tmpdir);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

int det_store_add(det_store *s, const detection *d, int level)
{
    size_t dlen = strlen(d->details);
    if (dlen > MAX_DETAILS)
        dlen = MAX_DETAILS;
    char buf[sizeof(det_rec) + MAX_DETAILS];
    det_rec r = {.time = d->time, .record_id = d->record_id, .event_id = d->event_id,
                 .rule = d->ioc ? NO_RULE : (uint32_t)d->rule, .ioc_score = d->ioc_score};
    memcpy(buf + sizeof r, d->details, dlen);
    pthread_mutex_lock(&s->lock);
    int rc = PS_OK;
    if (strtab_id(&s->strs, d->computer, &r.computer) != 0 ||
        strtab_id(&s->strs, d->channel, &r.channel) != 0 ||
        strtab_id(&s->strs, d->file, &r.file) != 0 ||
        (d->ioc && strtab_id(&s->strs, d->ioc, &r.ioc) != 0))
        rc = PS_ERR_NOMEM;
    if (rc == PS_OK) {
        memcpy(buf, &r, sizeof r);
        rc = ps_extsort_add(s->sort, buf, sizeof r + dlen);
    }
    if (rc == PS_OK) {
        det_totals *t = &s->tot;
        if (!t->count || d->time < t->first)
            t->first = d->time;
        if (!t->count || d->time > t->last)
            t->last = d->time;
        t->count++;
        t->by_level[level < 0 ? 0 : level > 4 ? 4 : level]++;
        if (d->ioc) {
            t->c2++;
            if (count_id(&s->iocs, r.ioc, d->ioc_score) != 0)
                rc = PS_ERR_NOMEM;
        } else if (d->rule < s->nrules) {
            s->rule_n[d->rule]++;
        }
        if (rc == PS_OK && count_id(&s->hosts, r.computer, 0) != 0)
            rc = PS_ERR_NOMEM;
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

typedef struct finish_ctx {
    const det_store *s;
    int (*fn)(void *ctx, const detection *d);
    void *ctx;
} finish_ctx;

static int emit(void *ctx, const void *p, size_t len)
{
    finish_ctx *f = ctx;
    const strtab *t = &f->s->strs;
    det_rec r;
    memcpy(&r, p, sizeof r);
    char details[MAX_DETAILS + 1];
    size_t dlen = len - sizeof r;
    memcpy(details, (const char *)p + sizeof r, dlen);
    details[dlen] = 0;
    detection d = {.time = r.time, .record_id = r.record_id, .event_id = r.event_id,
                   .rule = r.rule, .ioc = r.rule == NO_RULE ? t->str[r.ioc] : NULL,
                   .ioc_score = r.ioc_score, .computer = t->str[r.computer],
                   .channel = t->str[r.channel], .details = details, .file = t->str[r.file]};
    return f->fn(f->ctx, &d);
}

int det_store_finish(det_store *s, int (*fn)(void *ctx, const detection *d), void *ctx)
{
    finish_ctx f = {s, fn, ctx};
    return ps_extsort_finish(s->sort, emit, &f);
}

void det_store_totals(const det_store *s, det_totals *out) { *out = s->tot; }

uint32_t det_store_runs(const det_store *s) { return ps_extsort_runs(s->sort); }
int det_store_spill_errno(const det_store *s) { return ps_extsort_spill_errno(s->sort); }
const char *det_store_tmpdir(const det_store *s) { return s->tmpdir; }

static int by_count(const void *pa, const void *pb)
{
    const det_rule_count *a = pa, *b = pb;
    if (a->count != b->count)
        return a->count < b->count ? 1 : -1;
    if (!a->ioc != !b->ioc)
        return a->ioc ? 1 : -1;
    if (a->ioc)
        return strcmp(a->ioc, b->ioc);
    return a->rule < b->rule ? -1 : a->rule > b->rule;
}

size_t det_store_top_rules(const det_store *s, det_rule_count *out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < s->nrules; i++)
        n += s->rule_n[i] != 0;
    for (uint32_t i = 0; i < s->iocs.cap; i++)
        n += s->iocs.n[i] != 0;
    det_rule_count *all = calloc(n ? n : 1, sizeof *all);
    if (!all)
        return 0;
    size_t k = 0;
    for (size_t i = 0; i < s->nrules; i++)
        if (s->rule_n[i])
            all[k++] = (det_rule_count){.count = s->rule_n[i], .rule = i};
    for (uint32_t i = 0; i < s->iocs.cap; i++)
        if (s->iocs.n[i])
            all[k++] = (det_rule_count){.count = s->iocs.n[i], .ioc = s->strs.str[i],
                                        .ioc_score = s->iocs.score[i]};
    qsort(all, n, sizeof *all, by_count);
    size_t m = n < max ? n : max;
    memcpy(out, all, m * sizeof *out);
    free(all);
    return m;
}

static int by_host_count(const void *pa, const void *pb)
{
    const det_host_count *a = pa, *b = pb;
    if (a->count != b->count)
        return a->count < b->count ? 1 : -1;
    return strcmp(a->computer, b->computer);
}

size_t det_store_hosts(const det_store *s, det_host_count *out, size_t max, size_t *distinct)
{
    size_t n = 0;
    for (uint32_t i = 0; i < s->hosts.cap; i++)
        n += s->hosts.n[i] != 0;
    *distinct = n;
    det_host_count *all = calloc(n ? n : 1, sizeof *all);
    if (!all)
        return 0;
    size_t k = 0;
    for (uint32_t i = 0; i < s->hosts.cap; i++)
        if (s->hosts.n[i])
            all[k++] = (det_host_count){s->hosts.n[i], s->strs.str[i]};
    qsort(all, n, sizeof *all, by_host_count);
    size_t m = n < max ? n : max;
    memcpy(out, all, m * sizeof *out);
    free(all);
    return m;
}
