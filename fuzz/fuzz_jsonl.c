/* Fuzz target: JSON-lines / evtx_dump JSON / Winlogbeat input into events. */
#include <stdint.h>

#include "plainsight.h"
#include "plainsight/jsonl.h"

static int on_event(void *ctx, unsigned worker, const ps_event *ev)
{
    (void)ctx;
    (void)worker;
    (void)ps_event_field(ev, "Event.EventData.CommandLine");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ps_jsonl_options opt = {.threads = 1, .max_object_bytes = 1u << 16};
    ps_jsonl_events_mem((const char *)data, size, "fuzz.jsonl", &opt, on_event, NULL, NULL);
    return 0;
}
