/* Fuzz target: JSON-lines / evtx_dump JSON / Winlogbeat input into events.
 * Each line is also read by both paths of the reader: whenever the
 * streaming one (yajl) takes an object, its event must be the one the
 * jansson path builds. */
#include <stdint.h>
#include <string.h>

#include "jsonl/jsonl_internal.h"
#include "plainsight.h"
#include "plainsight/jsonl.h"

static int on_event(void *ctx, unsigned worker, const ps_event *ev)
{
    (void)ctx;
    (void)worker;
    (void)ps_event_field(ev, "Event.EventData.CommandLine");
    return 0;
}

static void both_paths(const char *line, size_t len)
{
    jl_builder streamed, tree;
    jl_builder_init(&streamed);
    jl_builder_init(&tree);
    ps_buf quoted;
    ps_buf_init(&quoted);
    ps_event a, b;
    char why[240];
    uint64_t at;
    if (jl_stream_event(&streamed, line, len, &a) == 0 &&
        (jl_tree_event(&tree, &quoted, line, len, &b, why, sizeof why, &at) != 0 ||
         !jl_same_event(&a, &b)))
        __builtin_trap();
    ps_buf_free(&quoted);
    jl_builder_free(&streamed);
    jl_builder_free(&tree);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ps_jsonl_options opt = {.threads = 1, .max_object_bytes = 1u << 16};
    ps_jsonl_events_mem((const char *)data, size, "fuzz.jsonl", &opt, on_event, NULL, NULL);
    const char *p = (const char *)data, *end = p + size;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = (size_t)((nl ? nl : end) - p);
        both_paths(p, len);
        p += len + 1;
    }
    return 0;
}
