/* hunt's detections, kept for the sorted timeline and the summary in
 * bounded memory, whatever their number.
 *
 * A detection is stored as a compact record: numbers, ids of its strings
 * (computer, channel, file, C2 indicator: each distinct string kept once)
 * and its Details text. Records go through an external sort (util/extsort):
 * past `memory` bytes they are sorted and written to a nameless temporary
 * file in `tmpdir`, and merged back in order at the end. The order is the
 * timeline's: time, then file, record, rule (Sigma before C2; rule index,
 * indicator text) and Details. The summary's counts (by level, rule, host,
 * first and last time) are kept as detections come, so nothing has to be
 * read back for them. */
#ifndef PS_CLI_DETECTIONS_H
#define PS_CLI_DETECTIONS_H

#include <stddef.h>
#include <stdint.h>

/* One detection: by a Sigma rule (`ioc` NULL, `rule` its index in the set)
 * or by a C2 indicator. */
typedef struct detection {
    uint64_t time;
    uint64_t record_id;
    uint32_t event_id;
    size_t rule;
    const char *ioc;
    int ioc_score;
    const char *computer, *channel, *details, *file;
} detection;

typedef struct det_store det_store;

/* nrules: Sigma rules in the set (for the counts per rule); lanes: how many
 * threads add at once (each adds through its own lane, with its own share
 * of `memory` and its own runs, so that none waits for another's sorting or
 * writing). NULL when out of memory. */
det_store *det_store_new(size_t nrules, size_t memory, const char *tmpdir, unsigned lanes);
void det_store_free(det_store *s);

/* Keep a detection (its strings are copied); `level` is its level's rank
 * (0 informational .. 4 critical). Any thread, each through its own lane
 * (0 .. lanes - 1): one lane is never used by two threads at once. PS_OK,
 * PS_ERR_NOMEM, PS_ERR_ARG for a lane out of range, or PS_ERR_IO when the
 * temporary file could not be written (detections are lost then). */
int det_store_add(det_store *s, unsigned lane, const detection *d, int level);

/* Every detection in timeline order (valid during the call); call once.
 * PS_OK, PS_ERR_STOP when fn returned non-zero, PS_ERR_IO, PS_ERR_NOMEM. */
int det_store_finish(det_store *s, int (*fn)(void *ctx, const detection *d), void *ctx);

typedef struct det_totals {
    size_t count;             /* detections */
    size_t c2;                /* ... by C2 indicators */
    size_t by_level[5];
    uint64_t first, last;     /* their earliest and latest time */
} det_totals;

void det_store_totals(const det_store *s, det_totals *out);

/* Detections of one rule or indicator. */
typedef struct det_rule_count {
    size_t count;
    size_t rule;              /* Sigma rule index, when ioc is NULL */
    const char *ioc;
    int ioc_score;            /* the indicator's (one detection's) score */
} det_rule_count;

/* Up to max rules and indicators with the most detections, the most first;
 * ties in the timeline's rule order. Returns how many (0 when out of
 * memory). */
size_t det_store_top_rules(const det_store *s, det_rule_count *out, size_t max);

typedef struct det_host_count {
    size_t count;
    const char *computer;
} det_host_count;

/* Distinct computers, and up to max of them with their counts, the busiest
 * first; ties by name. */
size_t det_store_hosts(const det_store *s, det_host_count *out, size_t max, size_t *distinct);

/* Runs written to the temporary file, and the errno of a temporary file that
 * could not be made (every detection was then kept in memory), or 0. */
uint32_t det_store_runs(const det_store *s);
int det_store_spill_errno(const det_store *s);
const char *det_store_tmpdir(const det_store *s);

#endif
