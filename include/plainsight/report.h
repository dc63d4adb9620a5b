/*
 * The HTML report: one self-contained file an analyst opens in a browser on
 * an air-gapped machine after a hunt or a scan.
 *
 * The caller adds detections, logon events (for the logon graph), run facts
 * and, optionally, scan findings, then writes the report. The file holds
 * inline CSS and JS only (no network, no external assets); the data is
 * embedded as JSON in a <script type="application/json"> element with every
 * character that could end the element escaped, and the page builds its DOM
 * with textContent only. A Content-Security-Policy allows nothing but the
 * page's own script (by its SHA-256) and inline styles.
 *
 * Strings passed in are copied; they may be freed after the call. Every add
 * function is thread-safe (one lock per report), so the event callbacks of
 * several reader threads may call them directly.
 */
#ifndef PLAINSIGHT_REPORT_H
#define PLAINSIGHT_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "plainsight/common.h"
#include "plainsight/event.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ps_report ps_report;

/* One Sigma detection. Strings may be NULL (taken as ""). */
typedef struct ps_report_detection {
    uint64_t time_filetime;      /* 100 ns ticks since 1601 (as in ps_event) */
    const char *computer;
    const char *channel;
    uint32_t event_id;
    uint64_t record_id;
    const char *level;           /* informational, low, medium, high, critical */
    const char *rule_title;
    const char *rule_id;
    const char *const *tags;     /* the rule's tags: attack.<tactic>, attack.tNNNN[.NNN] */
    uint32_t ntags;
    const char *details;         /* the event's key fields, short */
    const char *source;          /* input file */
} ps_report_detection;

/* What kind of logon an edge of the graph stands for. */
typedef enum ps_logon_kind {
    PS_LOGON_NETWORK = 0,        /* Security 4624, logon type 3 */
    PS_LOGON_REMOTE_INTERACTIVE, /* Security 4624, logon type 10 (RDP) */
    PS_LOGON_FAILED,             /* Security 4625 */
    PS_LOGON_EXPLICIT,           /* Security 4648 (runas, PsExec -u, ...) */
    PS_LOGON_KERBEROS_TGT,       /* Security 4768 */
    PS_LOGON_KERBEROS_SERVICE,   /* Security 4769 */
    PS_LOGON_RDP_AUTH,           /* TerminalServices-RemoteConnectionManager 1149 */
    PS_LOGON_RDP_SESSION,        /* TerminalServices-LocalSessionManager 21 */
    PS_LOGON_RDP_RECONNECT,      /* TerminalServices-LocalSessionManager 25 */
    PS_LOGON__COUNT
} ps_logon_kind;

/* Short name of a logon kind ("network", "rdp", ...; static string). */
const char *ps_logon_kind_str(ps_logon_kind kind);

/* One logon: who (account) came from where (source host or IP) to where
 * (target host). Strings may be NULL or "" when the event lacks them. */
typedef struct ps_report_logon {
    uint64_t time_filetime;
    ps_logon_kind kind;
    const char *target_host;
    const char *account;         /* user name, without domain */
    const char *account_domain;  /* NetBIOS or DNS domain of the account */
    const char *source_host;     /* workstation name */
    const char *source_ip;
} ps_report_logon;

/* Facts about the run, shown in the summary. */
typedef struct ps_report_run {
    const char *command;         /* "hunt" or "scan" (NULL: "hunt") */
    uint32_t rules_loaded;
    uint32_t rules_skipped;
    uint64_t files;
    uint64_t events;             /* events read (hunt) or files looked at (scan) */
    uint64_t first_time;         /* FILETIME span of the data; 0 = derive from */
    uint64_t last_time;          /*   the detections and logons added */
    double seconds;              /* run time */
} ps_report_run;

/* One file flagged by a scan. */
typedef struct ps_report_finding {
    const char *path;
    const char *level;           /* notice, warning, alert */
    const char *reason;          /* what matched: IOC, file name, YARA rule */
    const char *detail;          /* description of what matched */
    const char *sha256;          /* may be NULL */
} ps_report_finding;

/* A new, empty report, or NULL when out of memory. */
ps_report *ps_report_new(void);
void ps_report_free(ps_report *report);

/* Adding returns PS_OK or PS_ERR_NOMEM/PS_ERR_ARG; a failed add leaves the
 * report as it was. */
int ps_report_add_detection(ps_report *report, const ps_report_detection *d);
int ps_report_add_logon(ps_report *report, const ps_report_logon *logon);
int ps_report_add_finding(ps_report *report, const ps_report_finding *f);
void ps_report_set_run(ps_report *report, const ps_report_run *run);

/* Room a caller gives ps_report_logon_from_event for names it must split
 * (DOMAIN\user, user@DOMAIN). */
#define PS_REPORT_LOGON_SCRATCH 512

/* Reads a logon out of an event, if it is one of the kinds above (4624 only
 * with logon types 3 and 10; machine accounts and anonymous logons are left
 * out as noise). Returns 1 and fills *out, or 0 when the event is no logon.
 * The strings of *out point into the event and into `scratch`, valid as long
 * as both are. */
int ps_report_logon_from_event(const ps_event *ev, ps_report_logon *out,
                               char scratch[PS_REPORT_LOGON_SCRATCH]);

/* ps_report_logon_from_event, then ps_report_add_logon when it is a logon:
 * the one call per event a reader needs. Returns PS_OK when the event was
 * added or is no logon, else PS_ERR_NOMEM. */
int ps_report_add_event(ps_report *report, const ps_event *ev);

/* The whole HTML page in a malloc'ed, NUL-terminated buffer (*out, *len).
 * Returns PS_OK or PS_ERR_NOMEM. */
int ps_report_render(ps_report *report, char **out, size_t *len);

/* Renders and writes the page to `path` (created or truncated). Returns
 * PS_OK, PS_ERR_NOMEM or PS_ERR_IO (errno tells why). */
int ps_report_write(ps_report *report, const char *path);

#ifdef __cplusplus
}
#endif
#endif
