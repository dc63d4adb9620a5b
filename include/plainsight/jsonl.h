/*
 * Reading JSON exports of Windows event logs (JSON lines, or JSON objects one
 * after another, pretty-printed or not, optionally inside one top-level
 * array as `plainsight dump --format json` writes).
 *
 * Two layouts are understood, both turned into the event model (event.h)
 * with exactly the field paths the EVTX decoder gives, so the same Sigma
 * rules match the same way:
 *   - evtx_dump's (plainsight dump, SigmaHQ's regression .json files):
 *     {"Event": {"System": {...}, "EventData": {...}}}, flattened as is;
 *   - Winlogbeat's / Elastic's: winlog.event_data.X becomes
 *     Event.EventData.X, winlog.event_id Event.System.EventID,
 *     winlog.channel, winlog.computer_name, winlog.provider_name,
 *     winlog.record_id and @timestamp their Event.System counterparts.
 *     Keys with no EVTX counterpart (message, host, agent...) are dropped, so
 *     keyword searches see what they would see in the EVTX.
 * JSON integers become PS_KIND_INT, booleans PS_KIND_BOOL, null PS_KIND_NULL,
 * everything else PS_KIND_STRING.
 *
 * Hostile input is bounded: an object larger than max_object_bytes or nested
 * deeper than max_depth, invalid JSON, or a value that is not an event is
 * reported through the diag callback with its file and line and skipped; the
 * reader resynchronises at the next line that starts with '{'.
 */
#ifndef PLAINSIGHT_JSONL_H
#define PLAINSIGHT_JSONL_H

#include "common.h"
#include "event.h"
#include "evtx.h"

#ifdef __cplusplus
extern "C" {
#endif

struct ps_jsonl_stats;

typedef struct ps_jsonl_options {
    unsigned threads;          /* files read in parallel; 0: one per online CPU */
    ps_diag_fn diag;           /* may be NULL */
    void *diag_ctx;
    size_t max_object_bytes;   /* 0: PS_JSONL_DEFAULT_MAX_OBJECT */
    unsigned max_depth;        /* 0: PS_JSONL_DEFAULT_MAX_DEPTH */
    /* Called now and then with running totals (serialised; keep it cheap). */
    void (*progress)(void *ctx, const struct ps_jsonl_stats *stats);
    void *progress_ctx;
} ps_jsonl_options;

#define PS_JSONL_DEFAULT_MAX_OBJECT (4u << 20)
#define PS_JSONL_DEFAULT_MAX_DEPTH 32u

typedef struct ps_jsonl_stats {
    uint64_t files;
    uint64_t files_failed;   /* could not be opened or read */
    uint64_t bytes;          /* bytes of input read */
    uint64_t records;        /* events delivered */
    uint64_t skipped;        /* objects or lines reported and skipped */
    uint64_t warnings;       /* diagnostics of severity warning or error */
} ps_jsonl_stats;

/* Does this file name look like a JSON export (*.json, *.jsonl, *.ndjson)? */
int ps_jsonl_is_json_name(const char *name);

/* Read every event of the inputs (files, or directories walked recursively
 * for the names above, without following symbolic links) and pass it to fn,
 * as ps_evtx_events does: `worker` is the calling thread's index, the event
 * is valid only during the call, ev->offset is the byte offset of the
 * object in its file. With more than one thread the objects of one file are
 * parsed by all of them (the reading thread hands them over in batches), so
 * events come in no fixed order; with one, in file order. Returns PS_OK, PS_ERR_STOP when fn asked to stop, or
 * PS_ERR_NOMEM. `stats` may be NULL. */
int ps_jsonl_events(const char *const *paths, size_t npaths, const ps_jsonl_options *opt,
                    ps_event_fn fn, void *ctx, ps_jsonl_stats *stats);

/* The same for text in memory; `name` is used as the source in events and
 * diagnostics. Runs on the calling thread (worker 0). */
int ps_jsonl_events_mem(const char *text, size_t len, const char *name,
                        const ps_jsonl_options *opt, ps_event_fn fn, void *ctx,
                        ps_jsonl_stats *stats);

/* Parse an ISO-8601 time ("2024-05-01", "2024-05-01T10:00:00",
 * "2024-05-01 10:00:00.1234567Z", "...+02:00") into a FILETIME (100 ns since
 * 1601, UTC; no zone means UTC). *date_only is set when no time was given
 * (may be NULL). Returns 0, or -1 when the text is not such a time. */
int ps_time_parse(const char *text, uint64_t *filetime, int *date_only);

#ifdef __cplusplus
}
#endif
#endif
