/*
 * File sweeps with IOC lists and YARA rules (`plainsight scan`).
 *
 * Two parts:
 *
 *  ps_iocs     indicator lists in signature-base's (Loki's) text format: file
 *              hashes, file-name regular expressions, C2 domains/IPs and
 *              keywords. A bad line is reported through the diag callback with
 *              its file and line number (is_line = 1) and the rest still loads.
 *              A loaded set is read-only, so any number of threads may match
 *              against it at once; ps_iocs_match_text() is also what `hunt`
 *              uses to find C2 indicators in event fields.
 *
 *  ps_scanner  walks directory trees read-only and, for each regular file,
 *              reads it once: MD5, SHA1 and SHA256 are computed and the same
 *              buffer is scanned by libyara (rules compiled once, one
 *              YR_SCANNER per worker thread). Scores add up per file as Loki's
 *              do and a file is NOTICE, WARNING or ALERT by its total.
 *
 * libyara keeps global state of its own; ps_scanner_new() calls
 * yr_initialize() and ps_scanner_free() calls yr_finalize() (libyara counts
 * these calls, so several scanners may coexist).
 */
#ifndef PLAINSIGHT_SCAN_H
#define PLAINSIGHT_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ IOCs */

typedef struct ps_iocs ps_iocs;

/* The kinds of list. ps_iocs_load_dir() picks them by file name, as Loki
 * does: "hash" (with "falsepositive": hashes whose files are never reported),
 * "filename", "c2", "keyword". */
typedef enum ps_ioc_list {
    PS_IOC_HASH = 0,      /* HASH;DESCRIPTION or HASH;SCORE;DESCRIPTION */
    PS_IOC_FP_HASH = 1,   /* same format; a match suppresses the file */
    PS_IOC_FILENAME = 2,  /* REGEX;SCORE[;FALSE_POSITIVE_REGEX] */
    PS_IOC_C2 = 3,        /* DOMAIN-or-IPv4[;SCORE] */
    PS_IOC_KEYWORD = 4    /* one plain string per line */
} ps_ioc_list;

typedef struct ps_ioc_counts {
    size_t md5, sha1, sha256; /* distinct malicious hashes */
    size_t fp_hashes;         /* false-positive hashes */
    size_t filename;          /* file-name regexes */
    size_t c2;                /* C2 domains and addresses */
    size_t keywords;
    size_t bad_lines;         /* lines reported and skipped */
    size_t unreadable_files;  /* list files reported and skipped */
} ps_ioc_counts;

/* One indicator that matched. Strings point into the ps_iocs set and live as
 * long as it does. */
typedef struct ps_ioc_hit {
    ps_ioc_list list;
    const char *ioc;         /* the hash, the original regex, the domain/IP, the keyword */
    int score;
    const char *description; /* never NULL; "" when the list gives none */
    size_t offset, length;   /* where in the matched text (text matches only) */
} ps_ioc_hit;

ps_iocs *ps_iocs_new(void);
void ps_iocs_free(ps_iocs *iocs);

/* Load every list file in `dir` (not recursive). Bad lines are reported and
 * counted, not fatal. Returns PS_ERR_IO when the directory, or any list file
 * in it, could not be read (each reported through diag and counted in
 * unreadable_files; the other lists are loaded all the same). */
int ps_iocs_load_dir(ps_iocs *iocs, const char *dir, ps_diag_fn diag, void *diag_ctx);
/* Load one list file of the given kind; PS_ERR_IO (reported) when it cannot
 * be read or is not a regular file. */
int ps_iocs_load_file(ps_iocs *iocs, const char *path, ps_ioc_list kind,
                      ps_diag_fn diag, void *diag_ctx);
/* Load a list from memory; `name` is used in diagnostics only. */
int ps_iocs_load_mem(ps_iocs *iocs, const char *name, const char *data, size_t len,
                     ps_ioc_list kind, ps_diag_fn diag, void *diag_ctx);

void ps_iocs_counts(const ps_iocs *iocs, ps_ioc_counts *out);

/* Look up a lowercase or uppercase hex digest (32, 40 or 64 digits) in the
 * malicious list (kind PS_IOC_HASH) or the false-positive list
 * (PS_IOC_FP_HASH). Returns 1 and fills `hit` when listed. */
int ps_iocs_match_hash(const ps_iocs *iocs, ps_ioc_list kind, const char *hex,
                       ps_ioc_hit *hit);

/* The file-name IOCs are searched by one Hyperscan database, compiled from
 * all their regexes the first time a path is matched (about 0.45 s for
 * signature-base's 3,800). It can be kept in a cache directory, as a file
 * named by a SHA-256 over the regexes, Hyperscan's version and the CPU
 * features the database was compiled for, so any change to the lists means
 * a new file. A cached file is used only when it is a regular file owned by
 * this user and not writable by others, its digest checks out and Hyperscan
 * accepts it; anything else is rebuilt and replaced. A cache directory that
 * cannot be made or written costs only the rebuild. Set it before the first
 * match; NULL (the default) means no cache. The directory is made with mode
 * 0700 when missing; each new database replaces the older ones in it. */
int ps_iocs_set_cache_dir(ps_iocs *iocs, const char *dir);

typedef enum ps_ioc_cache_state {
    PS_IOC_CACHE_UNUSED = 0,   /* no cache directory, or no database needed yet */
    PS_IOC_CACHE_LOADED = 1,   /* the database came from the cache */
    PS_IOC_CACHE_STORED = 2,   /* compiled and written to the cache */
    PS_IOC_CACHE_UNWRITABLE = 3, /* compiled; the cache could not be written */
    PS_IOC_CACHE_REJECTED = 4  /* a cached file was unusable; compiled (and
                                  stored again when possible) */
} ps_ioc_cache_state;

/* Compile (or load) the file-name database now instead of at the first
 * match, and say where it came from. */
ps_ioc_cache_state ps_iocs_prepare(const ps_iocs *iocs);

/* Per-thread matching state (Hyperscan scratch, PCRE2 match data, candidate
 * list), so that matching allocates nothing. Create it after the last load
 * (the first one builds the file-name database, see above); one per thread.
 * NULL when out of memory. */
typedef struct ps_ioc_scratch ps_ioc_scratch;
ps_ioc_scratch *ps_ioc_scratch_new(const ps_iocs *iocs);
void ps_ioc_scratch_free(ps_ioc_scratch *scratch);

/* Match a file path against the file-name IOCs (regex search anywhere in the
 * path; an IOC whose false-positive regex also matches is not reported).
 * Windows separators in the IOCs ("\\") match '/' in `path`. All patterns
 * are searched at once by one Hyperscan database and its candidates confirmed
 * with each IOC's PCRE2 regex, so results are exactly PCRE2's. Hits come in
 * list order. Fills up to `max` hits and returns the number of IOCs that
 * matched (may exceed max). */
size_t ps_iocs_match_path_with(ps_ioc_scratch *scratch, const char *path, size_t len,
                               ps_ioc_hit *hits, size_t max);
/* The same with a scratch made and freed for this one call (slower). */
size_t ps_iocs_match_path(const ps_iocs *iocs, const char *path, size_t len,
                          ps_ioc_hit *hits, size_t max);

/* Find C2 indicators and keywords in free text (an event field: a DNS query,
 * a URL, a command line). A domain matches as a whole host name or as the
 * parent of one ("evil.com" matches "a.evil.com", not "notevil.com"), an IPv4
 * address as a whole token, a keyword as a substring. Domains compare
 * case-insensitively. Fills up to `max` hits, returns how many were found. */
size_t ps_iocs_match_text(const ps_iocs *iocs, const char *text, size_t len,
                          ps_ioc_hit *hits, size_t max);

/* ---------------------------------------------------- C2 IOCs in events */

struct ps_event;
struct ps_field;

/* Called once per C2 indicator found in an event (`field` is where it was
 * first seen). Return non-zero to stop looking in this event. */
typedef int (*ps_ioc_event_fn)(void *ctx, const ps_ioc_hit *hit, const struct ps_field *field,
                               const struct ps_event *ev);

/* The hook `hunt --iocs` calls per event: looks for the C2 domains and
 * addresses of the set (as ps_iocs_match_text does) in every string field of
 * the event outside Event.System: DNS queries (Sysmon 22 QueryName), network
 * connections (Sysmon 3 DestinationHostname, DestinationIp), command lines,
 * URLs in any field. Each indicator is reported once per event. Returns the
 * number reported. Thread-safe on a loaded set. */
size_t ps_iocs_match_event(const ps_iocs *iocs, const struct ps_event *ev, ps_ioc_event_fn fn,
                           void *ctx);

/* The Sigma level a detection from an IOC of this score gets, on Loki's
 * scale: 100 or more (Loki's ALERT, the C2 default) "high", 60 "medium",
 * 40 "low", below that "informational". */
const char *ps_ioc_level_for_score(int score);

/* --------------------------------------------------------------- scanner */

typedef enum ps_scan_level {
    PS_LEVEL_NONE = 0,   /* score below the notice threshold */
    PS_LEVEL_NOTICE = 1,
    PS_LEVEL_WARNING = 2,
    PS_LEVEL_ALERT = 3
} ps_scan_level;

typedef enum ps_reason_type {
    PS_REASON_HASH = 0,
    PS_REASON_FILENAME = 1,
    PS_REASON_YARA = 2
} ps_reason_type;

typedef struct ps_scan_reason {
    ps_reason_type type;
    const char *name;        /* the hash, the file-name regex or the rule name */
    int score;
    const char *description;
} ps_scan_reason;

/* ps_scan_result.flags */
enum {
    PS_SCAN_HASHED = 1,      /* md5/sha1/sha256 are set */
    PS_SCAN_YARA = 2,        /* YARA rules were run over the file */
    PS_SCAN_TOO_LARGE = 4,   /* over max_scan_size: hashed, not YARA-scanned */
    PS_SCAN_YARA_ERROR = 8   /* libyara failed on this file (e.g. timeout) */
};

typedef struct ps_scan_result {
    const char *path;
    uint64_t size;
    int64_t mtime;           /* seconds since 1970 (UTC) */
    unsigned flags;
    char md5[33], sha1[41], sha256[65]; /* lowercase hex, "" when not hashed */
    const char *filetype;    /* from the magic signatures, or "UNKNOWN" */
    int score;
    ps_scan_level level;
    const ps_scan_reason *reasons;
    size_t nreasons;
} ps_scan_result;

/* Receives the result for each file (only files at notice level or above,
 * unless report_all), in path order whatever the number of threads. It is
 * called from the worker threads, one call at a time. The result is valid
 * during the call only. Return non-zero to stop the run. */
typedef int (*ps_scan_result_fn)(void *ctx, const ps_scan_result *r);

/* Called after each file, serialised with the result callback. */
typedef void (*ps_scan_progress_fn)(void *ctx, uint64_t files_done, uint64_t bytes_done);

typedef struct ps_scan_options {
    unsigned threads;        /* worker threads (the walk runs in the caller's);
                                0 = one per online CPU */
    uint64_t max_scan_size;  /* bytes; larger files are hashed only; 0 = 64 MiB */
    int yara_timeout;        /* seconds per file; 0 = 60 */
    int alert_score;         /* 0 = 100 (Loki's default) */
    int warning_score;       /* 0 = 60 */
    int notice_score;        /* 0 = 40 */
    int report_all;          /* deliver every file, including clean ones */
    ps_diag_fn diag;         /* may be NULL */
    void *diag_ctx;
    ps_scan_progress_fn progress; /* may be NULL */
    void *progress_ctx;
} ps_scan_options;

typedef struct ps_scan_stats {
    uint64_t files;          /* regular files looked at */
    uint64_t bytes;          /* bytes read */
    uint64_t yara_scanned;
    uint64_t too_large;      /* hashed but not YARA-scanned */
    uint64_t unreadable;     /* could not be opened or read */
    uint64_t special;        /* devices, FIFOs, sockets skipped */
    uint64_t symlinks;       /* symbolic links not followed */
    uint64_t dirs;
    uint64_t dir_errors;     /* directories that could not be read */
    uint64_t notices, warnings, alerts;
    uint64_t suppressed;     /* files on the false-positive hash list */
} ps_scan_stats;

typedef struct ps_scanner ps_scanner;

/* `opt` may be NULL for the defaults. Returns NULL when out of memory or
 * libyara cannot initialise. */
ps_scanner *ps_scanner_new(const ps_scan_options *opt);
void ps_scanner_free(ps_scanner *s);

/* Use this IOC set (borrowed; must outlive the scanner's runs). */
void ps_scanner_set_iocs(ps_scanner *s, const ps_iocs *iocs);

/* Load Loki's file-type magic list (signature-base/misc/file-type-signatures.txt):
 * lines "HEX BYTES;TYPE". It sets the YARA external `filetype`. */
int ps_scanner_load_filetypes(ps_scanner *s, const char *path);

/* Add a YARA rule file, or every *.yar / *.yara under a directory. Files are
 * compiled on the first run, together, with the externals filename, filepath,
 * extension, filetype, md5 and owner defined. A file that fails to compile is
 * reported (file and line) and left out; the others still load. */
int ps_scanner_add_yara(ps_scanner *s, const char *path);

/* Compile the rules added so far (also done by the first run). Returns
 * PS_ERR_FORMAT when no rule file compiled at all but some were given. */
int ps_scanner_compile(ps_scanner *s, size_t *nrules);

/* Scan files and directory trees. Returns PS_OK when the run completed (bad
 * entries are reported and counted, not fatal), PS_ERR_STOP when the result
 * callback stopped it. */
int ps_scan_run(ps_scanner *s, const char *const *paths, size_t npaths,
                ps_scan_result_fn fn, void *ctx, ps_scan_stats *stats);

const char *ps_scan_level_name(ps_scan_level level);  /* "ALERT", ... "NONE" */
const char *ps_reason_type_name(ps_reason_type type); /* "hash", "filename", "yara" */

#ifdef __cplusplus
}
#endif
#endif
