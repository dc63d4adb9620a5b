/* Internals of the HTML report (src/report/): storage, escaping, page. */
#ifndef PS_REPORT_INTERNAL_H
#define PS_REPORT_INTERNAL_H

#include <pthread.h>
#include <stdint.h>

#include "plainsight/report.h"
#include "util/arena.h"
#include "util/buf.h"

/* A detection as stored: strings live in the report's arena. The ATT&CK
 * tags are split at add time into comma-joined tactics and techniques. */
typedef struct report_detection {
    uint64_t time, record_id;
    uint32_t event_id;
    const char *computer, *channel, *level, *title, *rule_id;
    const char *tactics, *techniques, *details, *source;
} report_detection;

/* Logons are kept as edges: one per distinct (kind, who, from, to), with a
 * count and the first and last time, so memory follows the number of
 * distinct paths, not of logon events (a domain controller logs millions). */
typedef struct logon_edge {
    ps_logon_kind kind;
    const char *target, *account, *domain, *source_host, *source_ip;
    uint64_t count, first, last;
    uint64_t hash;
} logon_edge;

typedef struct report_finding {
    const char *path, *level, *reason, *detail, *sha256;
} report_finding;

struct ps_report {
    pthread_mutex_t lock;
    ps_arena strings;
    report_detection *detections;
    size_t ndetections, detections_cap;
    logon_edge *edges;
    size_t nedges, edges_cap;
    size_t *edge_slots;              /* open addressing: edge index + 1, 0 = free */
    size_t nslots;                   /* a power of two, at least 2 * nedges */
    report_finding *findings;
    size_t nfindings, findings_cap;
    ps_report_run run;
    const char *run_command;         /* copy of run.command */
    uint64_t first_time, last_time;  /* span of what was added */
};

/* A JSON string literal, quotes included, safe inside <script>: see
 * report_escape.c for why each character is escaped. */
void report_json_string(ps_buf *b, const char *s);
/* Text for HTML content or a quoted attribute value. */
void report_html_escape(ps_buf *b, const char *s);
/* "2024-05-01T10:00:00.123Z" from a FILETIME; "" for 0. */
void report_format_time(uint64_t filetime, char out[40]);
/* Base64 of the SHA-256 of `len` bytes, as a CSP source wants it (44 chars
 * and a NUL). Returns 0, or -1 when libcrypto fails. */
int report_sha256_base64(const char *data, size_t len, char out[48]);

/* The page's inline style and script (report_assets.c). */
extern const char report_style[];
extern const char report_script[];

/* The whole page into `out` (sorts the detections by time); the caller
 * holds the report's lock. */
void report_render_page(ps_report *r, ps_buf *out);

#endif
