/* C2 indicators in event logs: the hook `hunt --iocs` calls for each event.
 * Reads the set only, so hunt's workers share one set without locks. */
#include <string.h>

#include "ioc/ioc_internal.h"
#include "plainsight/event.h"

/* One event rarely names more than a few indicators; more are not reported
 * twice either, they are just not remembered for de-duplication. */
#define PS_IOC_EVENT_SEEN 32

/* System fields (computer name, provider, security ids) describe the machine
 * that logged the event, not where it connected: a C2 domain that is the
 * parent of the host's own domain name must not flag every event. */
static int is_system_field(const ps_field *f)
{
    return !strncmp(f->path, "Event.System.", 13);
}

static int already_seen(const char *const *seen, size_t nseen, const char *ioc)
{
    for (size_t i = 0; i < nseen; i++)
        if (seen[i] == ioc)
            return 1;
    return 0;
}

size_t ps_iocs_match_event(const ps_iocs *iocs, const ps_event *ev, ps_ioc_event_fn fn, void *ctx)
{
    if (!iocs || !ev || !iocs->nc2)
        return 0;
    const char *seen[PS_IOC_EVENT_SEEN];
    size_t nseen = 0, reported = 0;
    for (uint32_t i = 0; i < ev->nfields; i++) {
        const ps_field *f = &ev->fields[i];
        if (f->kind != PS_KIND_STRING || f->value_len < 4 || is_system_field(f))
            continue;
        ps_ioc_hit hits[8];
        size_t n = ps_iocs_match_text(iocs, f->value, f->value_len, hits, 8);
        for (size_t k = 0; k < n && k < 8; k++) {
            if (hits[k].list != PS_IOC_C2 || already_seen(seen, nseen, hits[k].ioc))
                continue;
            if (nseen < PS_IOC_EVENT_SEEN)
                seen[nseen++] = hits[k].ioc;
            reported++;
            if (fn && fn(ctx, &hits[k], f, ev) != 0)
                return reported;
        }
    }
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
