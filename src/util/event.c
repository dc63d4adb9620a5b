#include <string.h>

#include "plainsight/event.h"

const ps_field *ps_event_field(const ps_event *ev, const char *path)
{
    size_t n = strlen(path);
    for (uint32_t i = 0; i < ev->nfields; i++)
        if (ev->fields[i].path_len == n && !memcmp(ev->fields[i].path, path, n))
            return &ev->fields[i];
    return NULL;
}
