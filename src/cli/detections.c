/* hunt's detection store; see detections.h. */
#include "cli/detections.h"

#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "plainsight/common.h"
#include "util/extsort.h"
#include "util/hash.h"

#define NO_RULE UINT32_MAX      /* a C2 detection's rule field */
#define MAX_DETAILS 4096        /* Details are cut to 511 bytes before this */

/* Each distinct string once, by id (open addressing over a hash of it).
 * Entries live in pages that never move: the lanes read the strings of the
 * ids they hold (when sorting a run, when checking their recent ids)
 * without the lock, while another lane may be adding strings under it. */
#define STR_PAGE_BITS 10
#define STR_PAGE (1u << STR_PAGE_BITS)
#define STR_PAGES 65536u           /* 64 M distinct strings */

typedef struct str_entry {
    char *s;
    uint32_t len;
} str_entry;

typedef struct strtab {
    str_entry *page[STR_PAGES];
    uint32_t n;
    uint32_t *slot;           /* id + 1, or 0 */
    uint32_t nslots;          /* power of two */
} strtab;

static inline const str_entry *str_at(const strtab *t, uint32_t id)
{
    return &t->page[id >> STR_PAGE_BITS][id & (STR_PAGE - 1)];
}

static inline const char *str_of(const strtab *t, uint32_t id) { return str_at(t, id)->s; }

/* File paths are long and every detection has one: eight bytes a step. */
static uint64_t str_hash(const char *s, size_t n) { return ps_hash_bytes(s, n, 0); }

static int strtab_rehash(strtab *t, uint32_t nslots)
{
    uint32_t *slot = calloc(nslots, sizeof *slot);
    if (!slot)
        return -1;
    for (uint32_t id = 0; id < t->n; id++) {
        const str_entry *e = str_at(t, id);
        uint32_t k = (uint32_t)str_hash(e->s, e->len) & (nslots - 1);
        while (slot[k])
            k = (k + 1) & (nslots - 1);
        slot[k] = id + 1;
    }
    free(t->slot);
    t->slot = slot;
    t->nslots = nslots;
    return 0;
}

/* The id of s[0..n), added when new; -1 when out of memory. Under the
 * store's lock. */
static int strtab_id(strtab *t, const char *s, size_t n, uint32_t *id)
{
    if (n > UINT32_MAX)
        return -1;
    if (2 * (t->n + 1) > t->nslots && strtab_rehash(t, t->nslots ? t->nslots * 2 : 64) != 0)
        return -1;
    uint32_t k = (uint32_t)str_hash(s, n) & (t->nslots - 1);
    for (; t->slot[k]; k = (k + 1) & (t->nslots - 1)) {
        const str_entry *e = str_at(t, t->slot[k] - 1);
        if (e->len == n && memcmp(e->s, s, n) == 0) {
            *id = t->slot[k] - 1;
            return 0;
        }
    }
    uint32_t page = t->n >> STR_PAGE_BITS;
    if (page >= STR_PAGES)
        return -1;
    if (!t->page[page] && !(t->page[page] = calloc(STR_PAGE, sizeof(str_entry))))
        return -1;
    char *copy = malloc(n + 1);
    if (!copy)
        return -1;
    memcpy(copy, s, n);
    copy[n] = 0;
    t->page[page][t->n & (STR_PAGE - 1)] = (str_entry){copy, (uint32_t)n};
    t->slot[k] = t->n + 1;
    *id = t->n++;
    return 0;
}

static void strtab_free(strtab *t)
{
    for (uint32_t i = 0; i < t->n; i++)
        free(str_at(t, i)->s);
    for (uint32_t p = 0; p < STR_PAGES && t->page[p]; p++)
        free(t->page[p]);
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

/* The sorter's leading key (ps_extsort_set_key64) is the time. */
_Static_assert(offsetof(det_rec, time) == 0, "det_rec must begin with its time");

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

/* One adding thread's share: its own sorter (a run is sorted and written
 * while the other threads go on), its own counts, and the ids of the
 * strings it met last, so that most detections take no lock at all. */
enum { ROLE_COMPUTER, ROLE_CHANNEL, ROLE_FILE, ROLE_IOC, ROLES };

typedef struct det_lane {
    ps_extsort *sort;
    size_t *rule_n;           /* detections per Sigma rule */
    id_counts iocs, hosts;
    det_totals tot;
    uint32_t recent[ROLES];   /* id + 1 of the last string of each role, or 0 */
} det_lane;

struct det_store {
    pthread_mutex_t lock;     /* over strs' additions */
    strtab strs;
    det_lane *lanes;
    unsigned nlanes;
    char *tmpdir;
    size_t nrules;
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
        int c = strcmp(str_of(&s->strs, a.file), str_of(&s->strs, b.file));
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
        int c = strcmp(str_of(&s->strs, a.ioc), str_of(&s->strs, b.ioc));
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

det_store *det_store_new(size_t nrules, size_t memory, const char *tmpdir, unsigned lanes)
{
    det_store *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    pthread_mutex_init(&s->lock, NULL);
    s->nrules = nrules;
    s->nlanes = lanes ? lanes : 1;
    s->tmpdir = strdup(tmpdir && *tmpdir ? tmpdir : "/tmp");
    s->lanes = calloc(s->nlanes, sizeof *s->lanes);
    int ok = s->tmpdir && s->lanes;
    for (unsigned i = 0; ok && i < s->nlanes; i++) {
        det_lane *l = &s->lanes[i];
        l->rule_n = calloc(nrules ? nrules : 1, sizeof *l->rule_n);
        l->sort = ps_extsort_new(memory / s->nlanes, s->tmpdir, rec_cmp, s);
        if (l->sort)
            ps_extsort_set_key64(l->sort); /* det_rec.time leads, and rec_cmp orders by it first */
        ok = l->rule_n && l->sort;
    }
    if (!ok) {
        det_store_free(s);
        return NULL;
    }
    return s;
}

void det_store_free(det_store *s)
{
    if (!s)
        return;
    for (unsigned i = 0; s->lanes && i < s->nlanes; i++) {
        det_lane *l = &s->lanes[i];
        ps_extsort_free(l->sort);
        free(l->rule_n);
        free(l->iocs.n), free(l->iocs.score);
        free(l->hosts.n), free(l->hosts.score);
    }
    free(s->lanes);
    strtab_free(&s->strs);
    free(s->tmpdir);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* The id of a detection's string: the lane's last one of this role when it
 * is the same text (no lock), else the table's, under the lock. */
static int lane_str_id(det_store *s, det_lane *l, int role, const char *str, uint32_t *id)
{
    size_t n = strlen(str);
    if (l->recent[role]) {
        const str_entry *e = str_at(&s->strs, l->recent[role] - 1);
        if (e->len == n && memcmp(e->s, str, n) == 0) {
            *id = l->recent[role] - 1;
            return 0;
        }
    }
    pthread_mutex_lock(&s->lock);
    int rc = strtab_id(&s->strs, str, n, id);
    pthread_mutex_unlock(&s->lock);
    if (rc == 0)
        l->recent[role] = *id + 1;
    return rc;
}

int det_store_add(det_store *s, unsigned lane, const detection *d, int level)
{
    if (lane >= s->nlanes)
        return PS_ERR_ARG;
    det_lane *l = &s->lanes[lane];
    size_t dlen = strlen(d->details);
    if (dlen > MAX_DETAILS)
        dlen = MAX_DETAILS;
    char buf[sizeof(det_rec) + MAX_DETAILS];
    det_rec r = {.time = d->time, .record_id = d->record_id, .event_id = d->event_id,
                 .rule = d->ioc ? NO_RULE : (uint32_t)d->rule, .ioc_score = d->ioc_score};
    if (lane_str_id(s, l, ROLE_COMPUTER, d->computer, &r.computer) != 0 ||
        lane_str_id(s, l, ROLE_CHANNEL, d->channel, &r.channel) != 0 ||
        lane_str_id(s, l, ROLE_FILE, d->file, &r.file) != 0 ||
        (d->ioc && lane_str_id(s, l, ROLE_IOC, d->ioc, &r.ioc) != 0))
        return PS_ERR_NOMEM;
    memcpy(buf, &r, sizeof r);
    memcpy(buf + sizeof r, d->details, dlen);
    int rc = ps_extsort_add(l->sort, buf, sizeof r + dlen);
    if (rc != PS_OK)
        return rc;
    det_totals *t = &l->tot;
    if (!t->count || d->time < t->first)
        t->first = d->time;
    if (!t->count || d->time > t->last)
        t->last = d->time;
    t->count++;
    t->by_level[level < 0 ? 0 : level > 4 ? 4 : level]++;
    if (d->ioc) {
        t->c2++;
        if (count_id(&l->iocs, r.ioc, d->ioc_score) != 0)
            rc = PS_ERR_NOMEM;
    } else if (d->rule < s->nrules) {
        l->rule_n[d->rule]++;
    }
    if (rc == PS_OK && count_id(&l->hosts, r.computer, 0) != 0)
        rc = PS_ERR_NOMEM;
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
                   .rule = r.rule, .ioc = r.rule == NO_RULE ? str_of(t, r.ioc) : NULL,
                   .ioc_score = r.ioc_score, .computer = str_of(t, r.computer),
                   .channel = str_of(t, r.channel), .details = details,
                   .file = str_of(t, r.file)};
    return f->fn(f->ctx, &d);
}

int det_store_finish(det_store *s, int (*fn)(void *ctx, const detection *d), void *ctx)
{
    finish_ctx f = {s, fn, ctx};
    ps_extsort **sorts = malloc(s->nlanes * sizeof *sorts);
    if (!sorts)
        return PS_ERR_NOMEM;
    for (unsigned i = 0; i < s->nlanes; i++)
        sorts[i] = s->lanes[i].sort;
    int rc = ps_extsort_finish_all(sorts, s->nlanes, emit, &f);
    free(sorts);
    return rc;
}

void det_store_totals(const det_store *s, det_totals *out)
{
    *out = (det_totals){0};
    for (unsigned i = 0; i < s->nlanes; i++) {
        const det_totals *t = &s->lanes[i].tot;
        if (!t->count)
            continue;
        if (!out->count || t->first < out->first)
            out->first = t->first;
        if (!out->count || t->last > out->last)
            out->last = t->last;
        out->count += t->count;
        out->c2 += t->c2;
        for (int k = 0; k < 5; k++)
            out->by_level[k] += t->by_level[k];
    }
}

uint32_t det_store_runs(const det_store *s)
{
    uint32_t n = 0;
    for (unsigned i = 0; i < s->nlanes; i++)
        n += ps_extsort_runs(s->lanes[i].sort);
    return n;
}

int det_store_spill_errno(const det_store *s)
{
    int e = 0;
    for (unsigned i = 0; !e && i < s->nlanes; i++)
        e = ps_extsort_spill_errno(s->lanes[i].sort);
    return e;
}

const char *det_store_tmpdir(const det_store *s) { return s->tmpdir; }

/* The lanes' counts of one role summed, by string id: out[id] (calloc'ed,
 * *n entries), and each id's score. NULL when out of memory. */
static size_t *sum_counts(const det_store *s, int iocs, uint32_t *n, int **score)
{
    uint32_t cap = 0;
    for (unsigned i = 0; i < s->nlanes; i++) {
        const id_counts *c = iocs ? &s->lanes[i].iocs : &s->lanes[i].hosts;
        cap = c->cap > cap ? c->cap : cap;
    }
    size_t *sum = calloc(cap ? cap : 1, sizeof *sum);
    *score = calloc(cap ? cap : 1, sizeof **score);
    if (!sum || !*score) { /* the caller frees *score either way: never twice */
        free(sum), free(*score);
        *score = NULL;
        return NULL;
    }
    for (unsigned i = 0; i < s->nlanes; i++) {
        const id_counts *c = iocs ? &s->lanes[i].iocs : &s->lanes[i].hosts;
        for (uint32_t id = 0; id < c->cap; id++)
            if (c->n[id]) {
                if (!sum[id])
                    (*score)[id] = c->score[id];
                sum[id] += c->n[id];
            }
    }
    *n = cap;
    return sum;
}

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
    size_t *rules = calloc(s->nrules ? s->nrules : 1, sizeof *rules);
    uint32_t nioc = 0;
    int *score = NULL;
    size_t *iocs = sum_counts(s, 1, &nioc, &score);
    size_t n = 0;
    for (size_t i = 0; rules && i < s->nrules; i++) {
        for (unsigned k = 0; k < s->nlanes; k++)
            rules[i] += s->lanes[k].rule_n[i];
        n += rules[i] != 0;
    }
    for (uint32_t i = 0; iocs && i < nioc; i++)
        n += iocs[i] != 0;
    det_rule_count *all = rules && iocs ? calloc(n ? n : 1, sizeof *all) : NULL;
    size_t m = 0;
    if (all) {
        size_t k = 0;
        for (size_t i = 0; i < s->nrules; i++)
            if (rules[i])
                all[k++] = (det_rule_count){.count = rules[i], .rule = i};
        for (uint32_t i = 0; i < nioc; i++)
            if (iocs[i])
                all[k++] = (det_rule_count){.count = iocs[i], .ioc = str_of(&s->strs, i),
                                            .ioc_score = score[i]};
        qsort(all, n, sizeof *all, by_count);
        m = n < max ? n : max;
        memcpy(out, all, m * sizeof *out);
    }
    free(all);
    free(rules);
    free(iocs);
    free(score);
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
    uint32_t nids = 0;
    int *score = NULL;
    size_t *hosts = sum_counts(s, 0, &nids, &score);
    free(score);
    *distinct = 0;
    if (!hosts)
        return 0;
    size_t n = 0;
    for (uint32_t i = 0; i < nids; i++)
        n += hosts[i] != 0;
    *distinct = n;
    det_host_count *all = calloc(n ? n : 1, sizeof *all);
    size_t m = 0;
    if (all) {
        size_t k = 0;
        for (uint32_t i = 0; i < nids; i++)
            if (hosts[i])
                all[k++] = (det_host_count){hosts[i], str_of(&s->strs, i)};
        qsort(all, n, sizeof *all, by_host_count);
        m = n < max ? n : max;
        memcpy(out, all, m * sizeof *out);
    }
    free(all);
    free(hosts);
    return m;
}
