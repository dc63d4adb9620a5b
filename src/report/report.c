/* The report object: detections, logon edges, scan findings and run facts
 * collected under one lock, then rendered by report_page.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "plainsight/common.h"
#include "report/report_internal.h"
#include "util/hash.h"

#define STRING_BLOCK (64 * 1024)

ps_report *ps_report_new(void)
{
    ps_report *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    if (pthread_mutex_init(&r->lock, NULL) != 0) {
        free(r);
        return NULL;
    }
    ps_arena_init(&r->strings, STRING_BLOCK, 0);
    return r;
}

void ps_report_free(ps_report *r)
{
    if (!r)
        return;
    ps_arena_free(&r->strings);
    free(r->detections);
    free(r->edges);
    free(r->edge_slots);
    free(r->findings);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

/* A copy in the arena; NULL input gives "". NULL only when out of memory. */
static const char *keep(ps_report *r, const char *s)
{
    s = s ? s : "";
    return ps_arena_strndup(&r->strings, s, strlen(s));
}

/* Room for one more item in a growing array of `size`-byte items. */
static int make_room(void **items, size_t count, size_t *cap, size_t size)
{
    if (count < *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 64;
    void *p = realloc(*items, ncap * size);
    if (!p)
        return -1;
    *items = p;
    *cap = ncap;
    return 0;
}

static void widen_span(ps_report *r, uint64_t first, uint64_t last)
{
    if (first && (!r->first_time || first < r->first_time))
        r->first_time = first;
    if (last > r->last_time)
        r->last_time = last;
}

/* Is the tag an ATT&CK technique (attack.t1059, attack.t1059.001)? */
static int is_technique(const char *tag)
{
    return (tag[0] == 't' || tag[0] == 'T') && tag[1] >= '0' && tag[1] <= '9';
}

/* Groups and software (attack.g0045, attack.s0002) are neither tactics nor
 * techniques. */
static int is_group_or_software(const char *tag)
{
    return (tag[0] == 'g' || tag[0] == 'G' || tag[0] == 's' || tag[0] == 'S') && tag[1] >= '0' &&
           tag[1] <= '9';
}

/* The attack.* tags of one kind, without the prefix, joined with commas. */
static const char *join_attack_tags(ps_report *r, const char *const *tags, uint32_t ntags,
                                    int techniques)
{
    ps_buf b;
    ps_buf_init(&b);
    for (uint32_t i = 0; tags && i < ntags; i++) {
        const char *t = tags[i];
        if (!t || strncasecmp(t, "attack.", 7) != 0 || !t[7] || is_group_or_software(t + 7) ||
            is_technique(t + 7) != techniques)
            continue;
        if (b.len)
            ps_buf_addc(&b, ',');
        ps_buf_adds(&b, t + 7);
    }
    const char *out = b.failed ? NULL : keep(r, ps_buf_cstr(&b));
    ps_buf_free(&b);
    return out;
}

static int add_detection_locked(ps_report *r, const ps_report_detection *d)
{
    report_detection s = {
        .time = d->time_filetime, .record_id = d->record_id, .event_id = d->event_id,
        .computer = keep(r, d->computer), .channel = keep(r, d->channel),
        .level = keep(r, d->level), .title = keep(r, d->rule_title),
        .rule_id = keep(r, d->rule_id), .details = keep(r, d->details),
        .source = keep(r, d->source),
        .tactics = join_attack_tags(r, d->tags, d->ntags, 0),
        .techniques = join_attack_tags(r, d->tags, d->ntags, 1)};
    if (!s.computer || !s.channel || !s.level || !s.title || !s.rule_id || !s.details ||
        !s.source || !s.tactics || !s.techniques)
        return PS_ERR_NOMEM;
    if (make_room((void **)&r->detections, r->ndetections, &r->detections_cap, sizeof s))
        return PS_ERR_NOMEM;
    r->detections[r->ndetections++] = s;
    widen_span(r, d->time_filetime, d->time_filetime);
    return PS_OK;
}

int ps_report_add_detection(ps_report *r, const ps_report_detection *d)
{
    if (!r || !d)
        return PS_ERR_ARG;
    pthread_mutex_lock(&r->lock);
    int rc = add_detection_locked(r, d);
    pthread_mutex_unlock(&r->lock);
    return rc;
}

/* --- logon edges ------------------------------------------------------------ */

/* The hash so far, then s (its length is hashed with it: "ab","c" != "a","bc"). */
static uint64_t hash_text(uint64_t h, const char *s)
{
    s = s ? s : "";
    return ps_hash_bytes(s, strlen(s), h);
}

static uint64_t logon_hash(const ps_report_logon *l)
{
    uint64_t h = (uint64_t)l->kind;
    h = hash_text(h, l->target_host);
    h = hash_text(h, l->account);
    h = hash_text(h, l->account_domain);
    h = hash_text(h, l->source_host);
    return hash_text(h, l->source_ip);
}

static int same_text(const char *stored, const char *given)
{
    return strcmp(stored, given ? given : "") == 0;
}

static int edge_is(const logon_edge *e, uint64_t hash, const ps_report_logon *l)
{
    return e->hash == hash && e->kind == l->kind && same_text(e->target, l->target_host) &&
           same_text(e->account, l->account) && same_text(e->domain, l->account_domain) &&
           same_text(e->source_host, l->source_host) && same_text(e->source_ip, l->source_ip);
}

/* Doubles the slot table and puts every edge back in. */
static int grow_slots(ps_report *r)
{
    size_t nslots = r->nslots ? r->nslots * 2 : 256;
    size_t *slots = calloc(nslots, sizeof *slots);
    if (!slots)
        return -1;
    for (size_t i = 0; i < r->nedges; i++) {
        size_t s = (size_t)r->edges[i].hash & (nslots - 1);
        while (slots[s])
            s = (s + 1) & (nslots - 1);
        slots[s] = i + 1;
    }
    free(r->edge_slots);
    r->edge_slots = slots;
    r->nslots = nslots;
    return 0;
}

static int add_logon_locked(ps_report *r, const ps_report_logon *l)
{
    if (r->nedges * 2 >= r->nslots && grow_slots(r) != 0)
        return PS_ERR_NOMEM;
    uint64_t hash = logon_hash(l);
    size_t s = (size_t)hash & (r->nslots - 1);
    for (; r->edge_slots[s]; s = (s + 1) & (r->nslots - 1)) {
        logon_edge *e = &r->edges[r->edge_slots[s] - 1];
        if (edge_is(e, hash, l)) {
            e->count++;
            if (l->time_filetime && (!e->first || l->time_filetime < e->first))
                e->first = l->time_filetime;
            if (l->time_filetime > e->last)
                e->last = l->time_filetime;
            widen_span(r, l->time_filetime, l->time_filetime);
            return PS_OK;
        }
    }
    logon_edge e = {.kind = l->kind, .target = keep(r, l->target_host),
                    .account = keep(r, l->account), .domain = keep(r, l->account_domain),
                    .source_host = keep(r, l->source_host), .source_ip = keep(r, l->source_ip),
                    .count = 1, .first = l->time_filetime, .last = l->time_filetime,
                    .hash = hash};
    if (!e.target || !e.account || !e.domain || !e.source_host || !e.source_ip ||
        make_room((void **)&r->edges, r->nedges, &r->edges_cap, sizeof e))
        return PS_ERR_NOMEM;
    r->edges[r->nedges++] = e;
    r->edge_slots[s] = r->nedges;
    widen_span(r, l->time_filetime, l->time_filetime);
    return PS_OK;
}

int ps_report_add_logon(ps_report *r, const ps_report_logon *l)
{
    if (!r || !l || (unsigned)l->kind >= PS_LOGON__COUNT)
        return PS_ERR_ARG;
    pthread_mutex_lock(&r->lock);
    int rc = add_logon_locked(r, l);
    pthread_mutex_unlock(&r->lock);
    return rc;
}

int ps_report_add_event(ps_report *r, const ps_event *ev)
{
    ps_report_logon l;
    char scratch[PS_REPORT_LOGON_SCRATCH];
    if (!r || !ev)
        return PS_ERR_ARG;
    if (!ps_report_logon_from_event(ev, &l, scratch))
        return PS_OK;
    return ps_report_add_logon(r, &l);
}

/* --- findings and run facts ------------------------------------------------- */

static int add_finding_locked(ps_report *r, const ps_report_finding *f)
{
    report_finding s = {keep(r, f->path), keep(r, f->level), keep(r, f->reason),
                        keep(r, f->detail), keep(r, f->sha256)};
    if (!s.path || !s.level || !s.reason || !s.detail || !s.sha256 ||
        make_room((void **)&r->findings, r->nfindings, &r->findings_cap, sizeof s))
        return PS_ERR_NOMEM;
    r->findings[r->nfindings++] = s;
    return PS_OK;
}

int ps_report_add_finding(ps_report *r, const ps_report_finding *f)
{
    if (!r || !f)
        return PS_ERR_ARG;
    pthread_mutex_lock(&r->lock);
    int rc = add_finding_locked(r, f);
    pthread_mutex_unlock(&r->lock);
    return rc;
}

void ps_report_set_run(ps_report *r, const ps_report_run *run)
{
    if (!r || !run)
        return;
    pthread_mutex_lock(&r->lock);
    r->run = *run;
    r->run_command = keep(r, run->command ? run->command : "hunt");
    r->run.command = NULL; /* the caller's string may not outlive this call */
    pthread_mutex_unlock(&r->lock);
}

/* --- output -------------------------------------------------------------------- */

int ps_report_render(ps_report *r, char **out, size_t *len)
{
    if (!r || !out)
        return PS_ERR_ARG;
    ps_buf b;
    ps_buf_init(&b);
    pthread_mutex_lock(&r->lock);
    report_render_page(r, &b);
    pthread_mutex_unlock(&r->lock);
    ps_buf_cstr(&b);
    if (b.failed) {
        ps_buf_free(&b);
        return PS_ERR_NOMEM;
    }
    *out = b.data;
    if (len)
        *len = b.len;
    return PS_OK;
}

int ps_report_write(ps_report *r, const char *path)
{
    char *page = NULL;
    size_t len = 0;
    int rc = path ? ps_report_render(r, &page, &len) : PS_ERR_ARG;
    if (rc != PS_OK)
        return rc;
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(page);
        return PS_ERR_IO;
    }
    size_t written = fwrite(page, 1, len, f);
    int saved = errno;
    int closed = fclose(f);
    free(page);
    if (written != len || closed != 0) {
        errno = written != len ? saved : errno;
        return PS_ERR_IO;
    }
    return PS_OK;
}
