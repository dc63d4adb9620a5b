/*
 * Reading EVTX files.
 *
 * Inputs are files or directories (walked recursively for *.evtx). Each
 * 64 KiB chunk is a unit of work: with several threads, chunks are decoded in
 * parallel and results are delivered in file order. Files are opened
 * read-only and read with read()/pread() into reused buffers.
 *
 * Damaged input never stops the run: every record that can be decoded is
 * delivered and each problem is reported once through the diag callback with
 * the file and byte offset.
 */
#ifndef PLAINSIGHT_EVTX_H
#define PLAINSIGHT_EVTX_H

#include "common.h"
#include "event.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ps_format {
    PS_FORMAT_JSONL = 0, /* one compact evtx_dump-style JSON object per line */
    PS_FORMAT_JSON = 1,  /* the same, indented, one object after another */
    PS_FORMAT_XML = 2    /* the event XML as Windows renders it */
} ps_format;

struct ps_evtx_stats;

typedef struct ps_evtx_options {
    unsigned threads;    /* worker threads; 0 means one per online CPU */
    int recover;         /* also deliver records carved from chunk slack,
                            except copies of live records (by record id) */
    ps_diag_fn diag;     /* may be NULL */
    void *diag_ctx;
    /* Called after each chunk with the running totals (serialised; keep it
     * cheap, e.g. redraw a progress line at most a few times a second). */
    void (*progress)(void *ctx, const struct ps_evtx_stats *stats);
    void *progress_ctx;
    /* ps_evtx_events: 1 lets the decoder leave the text of typed values
     * (numbers, GUIDs, SIDs, times, bytes) to be made when first wanted
     * (see ps_event.lazy), for a consumer that reads few of them. */
    int defer_values;
} ps_evtx_options;

/* Counters for one run, filled by the calls below. */
typedef struct ps_evtx_stats {
    uint64_t files;
    uint64_t files_failed;   /* not EVTX or unreadable */
    uint64_t bytes;          /* bytes of EVTX input read */
    uint64_t chunks;
    uint64_t records;        /* records delivered, recovered ones included */
    uint64_t recovered;      /* of which carved from slack */
    uint64_t warnings;       /* diagnostics of severity warning or error */
} ps_evtx_stats;

/* Receives rendered output, one buffer per chunk, in input order. Return 0
 * to go on, non-zero to stop the run (it then returns PS_ERR_STOP). */
typedef int (*ps_write_fn)(void *ctx, const void *data, size_t len);

/* Render every record of the inputs in `format` and pass the text to `out`. */
int ps_evtx_dump(const char *const *paths, size_t npaths, ps_format format,
                 const ps_evtx_options *opt, ps_write_fn out, void *out_ctx,
                 ps_evtx_stats *stats);

/* Receives each decoded event. `worker` is the index (0..threads-1) of the
 * calling thread, so a consumer can keep per-thread state without locks.
 * Events of one chunk arrive in order from one worker; chunks may interleave.
 * The event and its strings are valid only during the call. Return 0 to go
 * on, non-zero to stop. */
typedef int (*ps_event_fn)(void *ctx, unsigned worker, const ps_event *ev);

/* Decode every record of the inputs into the event model. */
int ps_evtx_events(const char *const *paths, size_t npaths,
                   const ps_evtx_options *opt, ps_event_fn fn, void *ctx,
                   ps_evtx_stats *stats);

/* The number of worker threads a run with `requested` threads would use. */
unsigned ps_evtx_threads(unsigned requested);

#ifdef __cplusplus
}
#endif
#endif
