/* The channel / event ID index: an event meets only the compiled rules of
 * its channel and event ID (plus the few that apply to every event). */
#include <stdlib.h>
#include <string.h>

#include "sigma/pattern.h"
#include "sigma/sigma_internal.h"

#define EID_ANY UINT32_MAX

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
        if (!v->nchannels)
            (*every)++;
        n += v->nchannels * (v->neids ? v->neids : 1);
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
        for (uint32_t c = 0; c < v->nchannels; c++) {
            const char *ch = v->channels[c];
            uint64_t h = sg_hash_lower(ch, strlen(ch));
            for (uint32_t k = 0; k < (v->neids ? v->neids : 1); k++)
                ps[n++] = (posting){h, ch, v->neids ? v->eids[k] : EID_ANY, i};
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
        if (ps[i].eid != EID_ANY && (i == from || ps[i].eid != ps[i - 1].eid))
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
        if (!b->nby_eid || b->by_eid[b->nby_eid - 1].eid != ps[i].eid)
            b->by_eid[b->nby_eid++] = (sg_eid_list){ps[i].eid, i, 0};
        b->by_eid[b->nby_eid - 1].n++;
    }
    return 0;
}

int sg_build_index(ps_sigma_set *set, const sg_logsources *ls, int match_unmapped)
{
    (void)ls;
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
    /* EID_ANY sorts after every real event ID, so each channel's postings are
     * its per-ID lists followed by its any-ID list. */
    if (n > 1) /* ps may be NULL for a set without rules */
        qsort(ps, n, sizeof *ps, posting_cmp);
    uint32_t nchannels = 0;
    for (uint32_t i = 0; i < n; i++) {
        set->postings[i] = ps[i].compiled;
        nchannels += i == 0 || channel_cmp(ps[i].channel, ps[i - 1].channel) != 0;
    }
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
