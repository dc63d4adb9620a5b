/* Fuzz target: a whole EVTX file (header, chunk walk, threads, ordering,
 * recovery dedupe) through the public API, from an in-memory file. */
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "plainsight.h"

static int discard(void *ctx, const void *data, size_t len)
{
    (void)ctx;
    (void)data;
    (void)len;
    return 0;
}

static int on_event(void *ctx, unsigned worker, const ps_event *ev)
{
    (void)ctx;
    (void)worker;
    (void)ps_event_field(ev, "Event.System.EventID");
    (void)ps_event_settle(ev); /* deferred values (opt.defer_values) made late */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = memfd_create("fuzz.evtx", 0);
    if (fd < 0)
        return 0;
    if (write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    const char *paths[] = {path};
    ps_evtx_options opt = {.threads = 2, .recover = 1};
    ps_evtx_dump(paths, 1, PS_FORMAT_JSON, &opt, discard, NULL, NULL);
    opt.threads = 1;
    ps_evtx_dump(paths, 1, PS_FORMAT_XML, &opt, discard, NULL, NULL);
    opt.defer_values = 1;
    ps_evtx_events(paths, 1, &opt, on_event, NULL, NULL);
    close(fd);
    return 0;
}
