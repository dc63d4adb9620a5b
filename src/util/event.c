#include <string.h>

#include "plainsight/event.h"

int ps_event_settle(const ps_event *ev)
{
    int rc = 0;
    if (ev->lazy)
        for (uint32_t i = 0; i < ev->nfields; i++)
            if (ps_event_settle_field(ev, i) != 0)
                rc = -1;
    return rc;
}

const ps_field *ps_event_field(const ps_event *ev, const char *path)
{
    size_t n = strlen(path);
    for (uint32_t i = 0; i < ev->nfields; i++)
        if (ev->fields[i].path_len == n && !memcmp(ev->fields[i].path, path, n)) {
            ps_event_settle_field(ev, i);
            return &ev->fields[i];
        }
    return NULL;
}
