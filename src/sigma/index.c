/* The channel / event ID index: an event meets only the compiled rules of
 * its channel and event ID (plus the few that apply to every event).
 *
 * A rule whose logsource names a channel but no event ID (`service:
 * security`) usually names its IDs in the detection (`EventID: 4738`). Such
 * a rule is filed under those IDs, as if the logsource had named them: the
 * IDs are derived from the condition tree like the prefilter's literals (an
 * AND needs one branch, an OR every branch, `not` gives nothing). That holds
 * for an event whose one EventID field is plain decimal, equal to the event
 * ID the reader gave it; for any other event (no EventID, several, hex, a
 * JSON export's odd text) the channel's derived rules are all evaluated, as
 * before. */
#include <stdlib.h>
#include <string.h>

#include "sigma/pattern.h"
#include "sigma/sigma_internal.h"

/* Sentinels past every event ID a rule can be filed under (sorted last). */
#define EID_ANY (UINT32_MAX - 1)
#define EID_FALLBACK UINT32_MAX
#define EID_SET_MAX 64          /* more IDs: filed as any ID */

/* ---- event IDs a detection needs ---------------------------------------------- */

/* A set of event IDs one of which the event must have, or `none`. */
typedef struct eid_set {
    int none;
    uint32_t n;
    uint32_t ids[EID_SET_MAX];
} eid_set;

static void eid_none(eid_set *s) { s->none = 1, s->n = 0; }
static void eid_empty(eid_set *s) { s->none = 0, s->n = 0; }

static void eid_add(eid_set *s, uint32_t id)
{
    if (s->none)
        return;
    for (uint32_t i = 0; i < s->n; i++)
        if (s->ids[i] == id)
            return;
    if (s->n == EID_SET_MAX)
        eid_none(s);
    else
        s->ids[s->n++] = id;
}

static void eid_union(eid_set *into, const eid_set *from)
{
    if (from->none)
        eid_none(into);
    for (uint32_t i = 0; !into->none && i < from->n; i++)
        eid_add(into, from->ids[i]);
}

/* An AND holds only where each part does: keep the smaller known set. */
static void eid_better(eid_set *best, const eid_set *cand)
{
    if (!cand->none && (best->none || cand->n < best->n))
        *best = *cand;
}

/* The ID a value stands for: plain decimal text, compared exactly. (An
 * integer value also matches its number in other notations, which the
 * canonical-event check at match time leaves to the fallback.) */
static int value_eid(const sg_value *v, uint32_t *out)
{
    if (v->kind != SV_STRING || v->shape != SH_EXACT || !v->lit_len || v->lit_len > 10)
        return 0;
    if (v->lit[0] < '1' || v->lit[0] > '9') /* "0" is no event ID to file under */
        return 0;
    uint64_t id = 0;
    for (uint32_t i = 0; i < v->lit_len; i++) {
        if (v->lit[i] < '0' || v->lit[i] > '9')
            return 0;
        id = id * 10 + (uint64_t)(v->lit[i] - '0');
    }
    if (id >= EID_ANY)
        return 0;
    *out = (uint32_t)id;
    return 1;
}

static void eid_field(const sg_field_match *fm, int32_t eid_sym, eid_set *out)
{
    eid_none(out);
    if (eid_sym < 0 || fm->sym != eid_sym || !fm->nvalues)
        return;
    if (fm->all) {
        /* every YAML value must hold: one group's alternatives will do */
        for (uint32_t k = 0; k < fm->nvalues;) {
            eid_set g;
            eid_empty(&g);
            uint32_t grp = fm->values[k].group;
            for (; k < fm->nvalues && fm->values[k].group == grp; k++) {
                uint32_t id;
                if (value_eid(&fm->values[k], &id))
                    eid_add(&g, id);
                else
                    eid_none(&g);
            }
            eid_better(out, &g);
        }
        return;
    }
    eid_empty(out);
    for (uint32_t k = 0; k < fm->nvalues && !out->none; k++) {
        uint32_t id;
        if (value_eid(&fm->values[k], &id))
            eid_add(out, id);
        else
            eid_none(out);
    }
}

static void eid_map(const sg_map *m, int32_t eid_sym, eid_set *out)
{
    eid_none(out);
    for (uint32_t i = 0; i < m->n; i++) {
        eid_set item;
        eid_field(&m->items[i], eid_sym, &item);
        eid_better(out, &item);
    }
}

static void eid_cond(const sg_detection *d, const sg_cond *c, int32_t eid_sym, eid_set *out)
{
    eid_set kid;
    switch (c->op) {
    case OP_SEL: {
        const sg_selection *sel = &d->sel[c->sel];
        if (!sel->nmaps) {
            eid_none(out);
            return;
        }
        eid_empty(out);
        for (uint32_t i = 0; i < sel->nmaps && !out->none; i++) {
            eid_map(&sel->maps[i], eid_sym, &kid);
            eid_union(out, &kid);
        }
        return;
    }
    case OP_AND:
        eid_none(out);
        for (uint32_t i = 0; i < c->nkids; i++) {
            eid_cond(d, c->kids[i], eid_sym, &kid);
            eid_better(out, &kid);
        }
        return;
    case OP_OR:
        if (!c->nkids) {
            eid_none(out);
            return;
        }
        eid_empty(out);
        for (uint32_t i = 0; i < c->nkids && !out->none; i++) {
            eid_cond(d, c->kids[i], eid_sym, &kid);
            eid_union(out, &kid);
        }
        return;
    case OP_AT_LEAST: {
        /* among any nkids - count + 1 kids one holds */
        eid_none(out);
        if (c->count == 0 || c->count > c->nkids)
            return;
        uint32_t need = c->nkids - c->count + 1, have = 0;
        eid_empty(out);
        for (uint32_t i = 0; i < c->nkids && have < need && !out->none; i++) {
            eid_cond(d, c->kids[i], eid_sym, &kid);
            if (kid.none)
                continue;
            eid_union(out, &kid);
            have++;
        }
        if (have < need)
            eid_none(out);
        return;
    }
    default: eid_none(out); return; /* not, true */
    }
}

/* The event IDs compiled rule c can match, or none. */
static void derive_eids(const sg_compiled *c, int32_t eid_sym, eid_set *out)
{
    eid_set part;
    eid_cond(&c->det, c->det.cond, eid_sym, out);
    eid_map(&c->extra, eid_sym, &part);
    eid_better(out, &part);
    if (!out->none && out->n == 0)
        eid_none(out); /* cannot happen for a rule that can match; file it as any */
}

/* ---- postings --------------------------------------------------------------------- */

typedef struct posting {
    uint64_t hash;
    const char *channel;
    uint32_t eid;
    uint32_t compiled;
} posting;

static int channel_cmp(const char *a, const char *b)
{
    for (;; a++, b++) {
        int d = sg_lower_table[(unsigned char)*a] - sg_lower_table[(unsigned char)*b];
        if (d || !*a)
            return d;
    }
}

static int posting_cmp(const void *pa, const void *pb)
{
    const posting *a = pa, *b = pb;
    int d = channel_cmp(a->channel, b->channel);
    if (d)
        return d;
    if (a->eid != b->eid)
        return a->eid < b->eid ? -1 : 1;
    return a->compiled < b->compiled ? -1 : a->compiled > b->compiled;
}

/* The event IDs compiled rule i is filed under per channel (its variant's,
 * else derived; a derived set also files it in the channel's fallback list),
 * or none: any ID. */
static uint32_t filed_eids(const ps_sigma_set *set, uint32_t i, eid_set *derived)
{
    const sg_variant_def *v = set->compiled[i].variant;
    if (v->neids)
        return v->neids;
    derive_eids(&set->compiled[i], set->eid_sym, derived);
    return derived->none ? 0 : derived->n + 1;
}

static uint32_t count_postings(const ps_sigma_set *set, int match_unmapped, uint32_t *every)
{
    uint32_t n = 0;
    *every = 0;
    for (uint32_t i = 0; i < set->ncompiled; i++) {
        const sg_variant_def *v = set->compiled[i].variant;
        if (!v) {
            *every += (uint32_t)match_unmapped;
            continue;
        }
        if (!v->nchannels) {
            (*every)++;
            continue;
        }
        eid_set derived;
        uint32_t k = filed_eids(set, i, &derived);
        n += v->nchannels * (k ? k : 1);
    }
    return n;
}

static void collect(const ps_sigma_set *set, int match_unmapped, posting *ps, uint32_t *every_out)
{
    uint32_t n = 0, e = 0;
    for (uint32_t i = 0; i < set->ncompiled; i++) {
        const sg_variant_def *v = set->compiled[i].variant;
        if (!v || !v->nchannels) {
            if (v || match_unmapped)
                every_out[e++] = i;
            continue;
        }
        eid_set derived;
        uint32_t k = filed_eids(set, i, &derived);
        for (uint32_t c = 0; c < v->nchannels; c++) {
            const char *ch = v->channels[c];
            uint64_t h = sg_hash_lower(ch, strlen(ch));
            if (v->neids)
                for (uint32_t j = 0; j < v->neids; j++)
                    ps[n++] = (posting){h, ch, v->eids[j], i};
            else if (k) {
                for (uint32_t j = 0; j < derived.n; j++)
                    ps[n++] = (posting){h, ch, derived.ids[j], i};
                ps[n++] = (posting){h, ch, EID_FALLBACK, i};
            } else
                ps[n++] = (posting){h, ch, EID_ANY, i};
        }
    }
}

static sg_channel_bucket *bucket_slot(ps_sigma_set *set, uint64_t hash)
{
    uint32_t mask = set->nbuckets - 1;
    uint32_t i = (uint32_t)hash & mask;
    while (set->buckets[i].channel)
        i = (i + 1) & mask;
    return &set->buckets[i];
}

/* Fill one bucket from the postings [from, to) of a single channel. */
static int fill_bucket(ps_sigma_set *set, const posting *ps, uint32_t from, uint32_t to)
{
    sg_channel_bucket *b = bucket_slot(set, ps[from].hash);
    b->channel = ps[from].channel;
    b->hash = ps[from].hash;
    uint32_t neids = 0;
    for (uint32_t i = from; i < to; i++)
        if (ps[i].eid < EID_ANY && (i == from || ps[i].eid != ps[i - 1].eid))
            neids++;
    b->by_eid = neids ? ps_arena_zalloc(&set->arena, neids * sizeof *b->by_eid) : NULL;
    if (neids && !b->by_eid)
        return -1;
    for (uint32_t i = from; i < to; i++) {
        if (ps[i].eid == EID_ANY) {
            if (!b->any_n)
                b->any_first = i;
            b->any_n++;
            continue;
        }
        if (ps[i].eid == EID_FALLBACK) {
            if (!b->fallback_n)
                b->fallback_first = i;
            b->fallback_n++;
            continue;
        }
        if (!b->nby_eid || b->by_eid[b->nby_eid - 1].eid != ps[i].eid)
            b->by_eid[b->nby_eid++] = (sg_eid_list){ps[i].eid, i, 0};
        b->by_eid[b->nby_eid - 1].n++;
    }
    return 0;
}

int sg_build_index(ps_sigma_set *set, const sg_logsources *ls, int match_unmapped)
{
    (void)ls;
    set->eid_sym = sg_sym_find(&set->syms, "Event.System.EventID", 20);
    uint32_t nevery;
    uint32_t n = count_postings(set, match_unmapped, &nevery);
    posting *ps = malloc((n + 1) * sizeof *ps);
    set->postings = malloc((n + nevery + 1) * sizeof *set->postings);
    if (!ps || !set->postings) {
        free(ps);
        return PS_ERR_NOMEM;
    }
    collect(set, match_unmapped, ps, set->postings + n);
    set->every_first = n;
    set->every_n = nevery;
    /* EID_ANY and EID_FALLBACK sort after every real event ID, so each
     * channel's postings are its per-ID lists, its any-ID list, then its
     * fallback list. */
    if (n > 1) /* ps may be NULL for a set without rules */
        qsort(ps, n, sizeof *ps, posting_cmp);
    uint32_t nchannels = 0;
    for (uint32_t i = 0; i < n; i++) {
        set->postings[i] = ps[i].compiled;
        nchannels += i == 0 || channel_cmp(ps[i].channel, ps[i - 1].channel) != 0;
    }
    set->posting_rules = malloc((n + nevery + 1) * sizeof *set->posting_rules);
    if (!set->posting_rules) {
        free(ps);
        return PS_ERR_NOMEM;
    }
    for (uint32_t i = 0; i < n + nevery; i++)
        set->posting_rules[i] = set->compiled[set->postings[i]].rule;
    set->nbuckets = 16;
    while (set->nbuckets < nchannels * 2)
        set->nbuckets *= 2;
    set->buckets = calloc(set->nbuckets, sizeof *set->buckets);
    int rc = set->buckets ? 0 : -1;
    for (uint32_t i = 0, start = 0; rc == 0 && i <= n; i++)
        if (i == n || (i > start && channel_cmp(ps[i].channel, ps[start].channel) != 0)) {
            if (i > start)
                rc = fill_bucket(set, ps, start, i);
            start = i;
        }
    free(ps);
    return rc == 0 ? PS_OK : PS_ERR_NOMEM;
}
