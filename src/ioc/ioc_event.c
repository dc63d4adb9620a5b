/* C2 indicators in event logs: the hook `hunt --iocs` calls for each event.
 * Reads the set only, so hunt's workers share one set without locks. */
#include <stdlib.h>
#include <string.h>

#include "ioc/ioc_internal.h"
#include "plainsight/event.h"

/* One event rarely names more than a few indicators, so the hits of a field
 * and the indicators already reported live on the stack; past that they
 * move to the heap, so that no indicator is lost or reported twice however
 * many an event holds. Only when memory runs out does a field keep its
 * first PS_IOC_EVENT_HITS hits, or an indicator past the first
 * PS_IOC_EVENT_SEEN risk being reported again for a later field. */
#define PS_IOC_EVENT_HITS 16
#define PS_IOC_EVENT_SEEN 32

typedef struct seen_set {
    const char **items;
    size_t n, cap;
    const char *local[PS_IOC_EVENT_SEEN];
} seen_set;

/* System fields (computer name, provider, security ids) describe the machine
 * that logged the event, not where it connected: a C2 domain that is the
 * parent of the host's own domain name must not flag every event. */
static int is_system_field(const ps_field *f)
{
    return !strncmp(f->path, "Event.System.", 13);
}

static int already_seen(const seen_set *s, const char *ioc)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->items[i] == ioc) /* indicators are unique strings of the set */
            return 1;
    return 0;
}

static void remember(seen_set *s, const char *ioc)
{
    if (s->n == s->cap) {
        size_t ncap = s->cap * 2;
        const char **p = s->items == s->local ? malloc(ncap * sizeof *p)
                                              : realloc((void *)s->items, ncap * sizeof *p);
        if (!p)
            return;
        if (s->items == s->local)
            memcpy(p, s->local, s->n * sizeof *p);
        s->items = p;
        s->cap = ncap;
    }
    s->items[s->n++] = ioc;
}

/* Reports the C2 hits of one field; returns non-zero when fn says stop. */
static int report_field(const ps_iocs *iocs, const ps_event *ev, const ps_field *f,
                        seen_set *seen, ps_ioc_event_fn fn, void *ctx, size_t *reported)
{
    ps_ioc_hit local[PS_IOC_EVENT_HITS];
    ps_ioc_hit *hits = local;
    size_t n = ps_iocs_match_text(iocs, f->value, f->value_len, local, PS_IOC_EVENT_HITS);
    if (n > PS_IOC_EVENT_HITS) {
        ps_ioc_hit *all = malloc(n * sizeof *all);
        if (all) {
            n = ps_iocs_match_text(iocs, f->value, f->value_len, all, n);
            hits = all;
        } else {
            n = PS_IOC_EVENT_HITS;
        }
    }
    int stop = 0;
    for (size_t k = 0; k < n && !stop; k++) {
        if (hits[k].list != PS_IOC_C2 || already_seen(seen, hits[k].ioc))
            continue;
        remember(seen, hits[k].ioc);
        (*reported)++;
        stop = fn && fn(ctx, &hits[k], f, ev) != 0;
    }
    if (hits != local)
        free(hits);
    return stop;
}

size_t ps_iocs_match_event(const ps_iocs *iocs, const ps_event *ev, ps_ioc_event_fn fn, void *ctx)
{
    if (!iocs || !ev || !iocs->nc2)
        return 0;
    ps_event_settle(ev); /* every value is read (a failed one reads as "") */
    seen_set seen;
    seen.items = seen.local;
    seen.n = 0;
    seen.cap = PS_IOC_EVENT_SEEN;
    size_t reported = 0;
    for (uint32_t i = 0; i < ev->nfields; i++) {
        const ps_field *f = &ev->fields[i];
        if (f->kind != PS_KIND_STRING || f->value_len < 4 || is_system_field(f))
            continue;
        if (report_field(iocs, ev, f, &seen, fn, ctx, &reported))
            break;
    }
    if (seen.items != seen.local)
        free((void *)seen.items);
    return reported;
}

const char *ps_ioc_level_for_score(int score)
{
    if (score >= 100)
        return "high";
    if (score >= 60)
        return "medium";
    if (score >= 40)
        return "low";
    return "informational";
}
