/* Correlation evaluation: base matches are collected (from any thread) as
 * small records - correlation, rule slot, time, interned group key and value -
 * and evaluated once everything is read: sorted by correlation, group and
 * time, then scanned with time windows per group. Memory is capped: past the
 * caps, matches are dropped and counted. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "sigma/sigma_internal.h"
#include "util/buf.h"
#include "util/hash.h"

#define DEFAULT_MAX_MATCHES 4000000u
#define DEFAULT_MAX_BYTES ((size_t)256 << 20)
#define MAX_KEY_LEN 2048           /* longer group keys are cut (groups may merge) */
#define KEY_SEPARATOR '\x1f'       /* between the values of a group key */
#define NO_VALUE UINT32_MAX

typedef struct corr_record {
    uint64_t time;
    uint32_t corr, slot;
    uint32_t group;                /* interned group key */
    uint32_t value;                /* interned value (value_count) or NO_VALUE */
} corr_record;

/* Interned byte strings, by id. */
typedef struct str_table {
    ps_buf text;                   /* the strings, NUL-terminated, back to back */
    size_t *offs;
    uint32_t *lens;
    uint32_t n, cap;
    uint32_t *slots;               /* open addressing: id + 1, or 0 */
    uint32_t nslots;
} str_table;

struct ps_sigma_corr {
    const ps_sigma_set *set;
    pthread_mutex_t lock;
    corr_record *recs;
    size_t n, cap, max_matches, max_bytes;
    str_table keys, values;
    uint64_t dropped;
};

/* ---- interning ------------------------------------------------------------------ */

static uint64_t hash_bytes(const char *s, size_t n) { return ps_hash_bytes(s, n, 0); }

static const char *str_at(const str_table *t, uint32_t id) { return t->text.data + t->offs[id]; }

static int str_rehash(str_table *t)
{
    uint32_t nslots = t->nslots ? t->nslots * 2 : 1024;
    uint32_t *slots = calloc(nslots, sizeof *slots);
    if (!slots)
        return -1;
    for (uint32_t id = 0; id < t->n; id++) {
        uint32_t i = (uint32_t)hash_bytes(str_at(t, id), t->lens[id]) & (nslots - 1);
        while (slots[i])
            i = (i + 1) & (nslots - 1);
        slots[i] = id + 1;
    }
    free(t->slots);
    t->slots = slots;
    t->nslots = nslots;
    return 0;
}

/* Id of s, adding it if new; NO_VALUE when out of memory or over `max_bytes`. */
static uint32_t str_intern(str_table *t, const char *s, size_t n, size_t max_bytes)
{
    if ((t->n + 1) * 2 > t->nslots && str_rehash(t) != 0)
        return NO_VALUE;
    uint32_t mask = t->nslots - 1, i = (uint32_t)hash_bytes(s, n) & mask;
    for (; t->slots[i]; i = (i + 1) & mask) {
        uint32_t id = t->slots[i] - 1;
        if (t->lens[id] == n && memcmp(str_at(t, id), s, n) == 0)
            return id;
    }
    if (t->text.len + n + 1 > max_bytes || t->n == NO_VALUE - 1)
        return NO_VALUE;
    if (t->n == t->cap) {
        uint32_t cap = t->cap ? t->cap * 2 : 1024;
        size_t *offs = realloc(t->offs, cap * sizeof *offs);
        if (offs)
            t->offs = offs;
        uint32_t *lens = realloc(t->lens, cap * sizeof *lens);
        if (lens)
            t->lens = lens;
        if (!offs || !lens)
            return NO_VALUE;
        t->cap = cap;
    }
    size_t off = t->text.len;
    if (n)
        ps_buf_add(&t->text, s, n);
    ps_buf_addc(&t->text, 0);
    if (t->text.failed)
        return NO_VALUE;
    t->offs[t->n] = off;
    t->lens[t->n] = (uint32_t)n;
    t->slots[i] = t->n + 1;
    return t->n++;
}

static void str_free(str_table *t)
{
    ps_buf_free(&t->text);
    free(t->offs);
    free(t->lens);
    free(t->slots);
}

/* ---- collecting -------------------------------------------------------------------- */

ps_sigma_corr *ps_sigma_corr_new(const ps_sigma_set *set, const ps_sigma_corr_options *opt)
{
    if (!set)
        return NULL;
    ps_sigma_corr *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->set = set;
    c->max_matches = opt && opt->max_matches ? opt->max_matches : DEFAULT_MAX_MATCHES;
    c->max_bytes = opt && opt->max_bytes ? opt->max_bytes : DEFAULT_MAX_BYTES;
    ps_buf_init(&c->keys.text);
    ps_buf_init(&c->values.text);
    if (pthread_mutex_init(&c->lock, NULL) != 0) {
        free(c);
        return NULL;
    }
    return c;
}

void ps_sigma_corr_free(ps_sigma_corr *c)
{
    if (!c)
        return;
    pthread_mutex_destroy(&c->lock);
    free(c->recs);
    str_free(&c->keys);
    str_free(&c->values);
    free(c);
}

uint64_t ps_sigma_corr_dropped(const ps_sigma_corr *c) { return c ? c->dropped : 0; }

size_t ps_sigma_correlation_count(const ps_sigma_set *set) { return set ? set->ncorrs : 0; }

int ps_sigma_rule_correlated(const ps_sigma_set *set, size_t rule_index)
{
    return set && rule_index < set->nrules && set->rules[rule_index].corr_n > 0;
}

/* The first event field read through one of f's symbols, or NULL. */
static const ps_field *find_field(const ps_sigma_set *set, const ps_event *ev,
                                  const sg_corr_field *f)
{
    for (uint32_t i = 0; i < ev->nfields; i++) {
        const char *key;
        size_t key_len;
        sg_event_field_key(ev->fields[i].path, ev->fields[i].path_len, &key, &key_len);
        int32_t sym = sg_sym_find(&set->syms, key, key_len);
        for (uint32_t k = 0; sym >= 0 && k < f->nsyms; k++)
            if (f->syms[k] == sym)
                return &ev->fields[i];
    }
    return NULL;
}

/* The group-by values of ev as one key (values joined by KEY_SEPARATOR). */
static size_t group_key(const ps_sigma_set *set, const sg_correlation *corr, uint32_t slot,
                        const ps_event *ev, char *key)
{
    size_t n = 0;
    for (uint32_t g = 0; g < corr->ngroup; g++) {
        if (g && n < MAX_KEY_LEN)
            key[n++] = KEY_SEPARATOR;
        const ps_field *f = find_field(set, ev, &corr->group[slot * corr->ngroup + g]);
        size_t len = f ? f->value_len : 0;
        if (len > MAX_KEY_LEN - n)
            len = MAX_KEY_LEN - n;
        if (len)
            memcpy(key + n, f->value, len);
        n += len;
    }
    return n;
}

static int push_record(ps_sigma_corr *c, const corr_record *rec, const char *key, size_t key_len,
                       const ps_field *value)
{
    int rc = PS_OK;
    pthread_mutex_lock(&c->lock);
    corr_record r = *rec;
    r.group = str_intern(&c->keys, key, key_len, c->max_bytes / 2);
    if (value)
        r.value = str_intern(&c->values, value->value, value->value_len, c->max_bytes / 2);
    if (c->n == c->cap && c->n < c->max_matches) {
        size_t cap = c->cap ? c->cap * 2 : 4096;
        if (cap > c->max_matches)
            cap = c->max_matches;
        corr_record *grown = realloc(c->recs, cap * sizeof *grown);
        if (grown) {
            c->recs = grown;
            c->cap = cap;
        }
    }
    if (r.group == NO_VALUE || (value && r.value == NO_VALUE) || c->n == c->cap) {
        c->dropped++;
        rc = PS_ERR_NOMEM;
    } else {
        c->recs[c->n++] = r;
    }
    pthread_mutex_unlock(&c->lock);
    return rc;
}

int ps_sigma_corr_add(ps_sigma_corr *c, size_t rule_index, const ps_event *ev)
{
    if (!c || !ev)
        return PS_ERR_ARG;
    const ps_sigma_set *set = c->set;
    if (rule_index >= set->nrules)
        return PS_ERR_ARG;
    const sg_rule *rule = &set->rules[rule_index];
    int rc = PS_OK;
    char key[MAX_KEY_LEN];
    ps_event_settle(ev); /* the group-by and value fields' text (see ps_event.lazy) */
    for (uint32_t k = rule->corr_first; k < rule->corr_first + rule->corr_n; k++) {
        const sg_corr_ref *ref = &set->corr_refs[k];
        const sg_correlation *corr = &set->corrs[ref->corr];
        const ps_field *value = NULL;
        if (corr->type == CT_VALUE_COUNT &&
            !(value = find_field(set, ev, &corr->value[ref->slot])))
            continue; /* nothing to count */
        size_t key_len = group_key(set, corr, ref->slot, ev, key);
        corr_record rec = {ev->time_filetime, ref->corr, ref->slot, 0, NO_VALUE};
        if (push_record(c, &rec, key, key_len, value) != PS_OK)
            rc = PS_ERR_NOMEM;
    }
    return rc;
}

/* ---- evaluating ------------------------------------------------------------------------ */

static int str_cmp(const str_table *t, uint32_t a, uint32_t b)
{
    if (a == b)
        return 0;
    if (a == NO_VALUE || b == NO_VALUE)
        return a == NO_VALUE ? -1 : 1;
    uint32_t la = t->lens[a], lb = t->lens[b];
    int d = memcmp(str_at(t, a), str_at(t, b), la < lb ? la : lb);
    return d ? d : la < lb ? -1 : la > lb;
}

/* A total order on what the evaluation reads, so the result does not depend
 * on the order in which threads added matches. */
static int record_cmp(const void *pa, const void *pb, void *ctx)
{
    const ps_sigma_corr *c = ctx;
    const corr_record *a = pa, *b = pb;
    if (a->corr != b->corr)
        return a->corr < b->corr ? -1 : 1;
    int d = str_cmp(&c->keys, a->group, b->group);
    if (d)
        return d;
    if (a->time != b->time)
        return a->time < b->time ? -1 : 1;
    if (a->slot != b->slot)
        return a->slot < b->slot ? -1 : 1;
    return str_cmp(&c->values, a->value, b->value);
}

/* What a window counts, kept up to date as records enter and leave it. */
typedef struct window {
    const sg_correlation *corr;
    uint32_t *value_refs;          /* per interned value: records in the window */
    uint32_t slot_refs[SG_CORR_MAX_RULES];
    uint64_t records, distinct;
} window;

static void window_add(window *w, const corr_record *r)
{
    w->records++;
    if (w->corr->type == CT_VALUE_COUNT)
        w->distinct += w->value_refs[r->value]++ == 0;
    else
        w->distinct += w->slot_refs[r->slot]++ == 0;
}

static void window_remove(window *w, const corr_record *r)
{
    w->records--;
    if (w->corr->type == CT_VALUE_COUNT)
        w->distinct -= --w->value_refs[r->value] == 0;
    else
        w->distinct -= --w->slot_refs[r->slot] == 0;
}

static uint64_t window_count(const window *w)
{
    return w->corr->type == CT_EVENT_COUNT ? w->records : w->distinct;
}

static int condition_holds(const sg_correlation *corr, uint64_t n)
{
    const uint64_t *l = corr->limit;
    return (!corr->has[CC_GT] || n > l[CC_GT]) && (!corr->has[CC_GTE] || n >= l[CC_GTE]) &&
           (!corr->has[CC_LT] || n < l[CC_LT]) && (!corr->has[CC_LTE] || n <= l[CC_LTE]) &&
           (!corr->has[CC_EQ] || n == l[CC_EQ]);
}

/* More matches can only help: windows may slide. */
static int condition_monotone(const sg_correlation *corr)
{
    return !corr->has[CC_LT] && !corr->has[CC_LTE] && !corr->has[CC_EQ];
}

typedef struct eval_run {
    ps_sigma_corr *c;
    ps_sigma_corr_fn fn;
    void *ctx;
    int hits;
    int stop;
} eval_run;

/* The first PS_SIGMA_CORR_LISTED distinct values of the window [first, last],
 * for the analyst: which user names one address tried, say. */
static uint32_t listed_values(const ps_sigma_corr *c, const corr_record *first,
                              const corr_record *last, const char *out[PS_SIGMA_CORR_LISTED])
{
    uint32_t ids[PS_SIGMA_CORR_LISTED], n = 0;
    for (const corr_record *r = first; r <= last && n < PS_SIGMA_CORR_LISTED; r++) {
        if (r->value == NO_VALUE)
            continue;
        uint32_t k = 0;
        while (k < n && ids[k] != r->value)
            k++;
        if (k == n) {
            ids[n] = r->value;
            out[n++] = str_at(&c->values, r->value);
        }
    }
    return n;
}

static void emit(eval_run *run, const sg_correlation *corr, const corr_record *first,
                 const corr_record *last, uint64_t matches, uint64_t count)
{
    const ps_sigma_set *set = run->c->set;
    const char *listed[PS_SIGMA_CORR_LISTED];
    uint32_t nlisted = corr->type == CT_VALUE_COUNT ? listed_values(run->c, first, last, listed) : 0;
    char key[MAX_KEY_LEN + 1];
    const char *values[SG_CORR_MAX_GROUP];
    uint32_t len = run->c->keys.lens[first->group];
    memcpy(key, str_at(&run->c->keys, first->group), len);
    key[len] = 0;
    char *p = key;
    for (uint32_t g = 0; g < corr->ngroup; g++) {
        values[g] = p;
        char *sep = p ? strchr(p, KEY_SEPARATOR) : NULL;
        if (sep)
            *sep = 0;
        p = sep ? sep + 1 : key + len; /* a cut key leaves the last values empty */
    }
    ps_sigma_corr_hit hit = {
        .rule_index = corr->rule, .rule = &set->rules[corr->rule].info,
        .first_time = first->time, .last_time = last->time, .matches = matches, .count = count,
        .ngroup = corr->ngroup, .group_fields = corr->group_names, .group_values = values,
        .value_field = corr->type == CT_VALUE_COUNT ? corr->value_name : NULL,
        .nvalues = nlisted, .values = listed};
    run->hits++;
    if (run->fn && run->fn(run->ctx, &hit) != 0)
        run->stop = 1;
}

/* event_count, value_count, temporal over one group's records [r, r + n). */
static void eval_counting(eval_run *run, window *w, const corr_record *r, size_t n)
{
    const sg_correlation *corr = w->corr;
    int sliding = condition_monotone(corr);
    size_t i = 0, j = 0;
    while (i < n && !run->stop) {
        while (j < n && r[j].time - r[i].time <= corr->timespan)
            window_add(w, &r[j++]);
        int holds = condition_holds(corr, window_count(w));
        if (holds)
            emit(run, corr, &r[i], &r[j - 1], j - i, window_count(w));
        if (holds || !sliding)
            while (i < j)
                window_remove(w, &r[i++]);
        else
            window_remove(w, &r[i++]);
    }
    while (i < j)
        window_remove(w, &r[i++]);
}

/* temporal_ordered: from each match of the first rule, the earliest match of
 * each following rule after the previous one. Those positions only move
 * forward as the start does, so the scan is linear. */
static void eval_ordered(eval_run *run, const sg_correlation *corr, const corr_record *r, size_t n)
{
    size_t pos[SG_CORR_MAX_RULES] = {0};
    for (size_t i = 0; i < n && !run->stop; i++) {
        if (r[i].slot != 0)
            continue;
        size_t prev = i;
        uint32_t s = 1;
        for (; s < corr->nrules; s++) {
            if (pos[s] <= prev)
                pos[s] = prev + 1;
            while (pos[s] < n && r[pos[s]].slot != s)
                pos[s]++;
            if (pos[s] >= n)
                break;
            prev = pos[s];
        }
        if (s < corr->nrules)
            break; /* a rule never follows: no later start can succeed either */
        if (r[prev].time - r[i].time > corr->timespan)
            continue;
        emit(run, corr, &r[i], &r[prev], prev - i + 1, corr->nrules);
        i = prev; /* the next window starts after this one */
    }
}

static void eval_group(eval_run *run, window *w, const corr_record *r, size_t n)
{
    const sg_correlation *corr = &run->c->set->corrs[r->corr];
    if (corr->type == CT_TEMPORAL_ORDERED) {
        eval_ordered(run, corr, r, n);
        return;
    }
    w->corr = corr;
    eval_counting(run, w, r, n);
}

int ps_sigma_corr_finish(ps_sigma_corr *c, ps_sigma_corr_fn fn, void *ctx)
{
    if (!c)
        return PS_ERR_ARG;
    pthread_mutex_lock(&c->lock);
    if (c->n > 1) /* recs is NULL when no base rule matched */
        qsort_r(c->recs, c->n, sizeof *c->recs, record_cmp, c);
    window w = {.value_refs = calloc(c->values.n + 1, sizeof *w.value_refs)};
    eval_run run = {.c = c, .fn = fn, .ctx = ctx};
    int rc = w.value_refs ? PS_OK : PS_ERR_NOMEM;
    for (size_t i = 0, start = 0; rc == PS_OK && i <= c->n && !run.stop; i++)
        if (i == c->n || c->recs[i].corr != c->recs[start].corr ||
            c->recs[i].group != c->recs[start].group) {
            if (i > start)
                eval_group(&run, &w, c->recs + start, i - start);
            start = i;
        }
    free(w.value_refs);
    pthread_mutex_unlock(&c->lock);
    if (rc != PS_OK)
        return rc;
    return run.stop ? PS_ERR_STOP : run.hits;
}
