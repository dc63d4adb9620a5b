/*
 * Sigma rules: load a rule set once, then match events against it.
 *
 * Loading reads YAML files and directory trees (*.yml, *.yaml), compiles each
 * rule into a matcher over the event model (event.h) and indexes the rules by
 * Windows channel and event ID, using the logsource table built into the
 * library (data/logsources.yml) or one given in the options. A rule that
 * cannot be compiled is reported through the diag callback with its file and
 * line and skipped; the others load.
 *
 * Matching is read-only on the set: any number of threads may match at once,
 * each with its own scratch (ps_sigma_scratch_new). After the scratch has
 * grown to the largest event seen, matching allocates nothing.
 *
 * Semantics chosen where the specification leaves room:
 *   - `field: null` matches when the field is absent or empty;
 *     `field: ''` matches when the field is present and empty.
 *   - keywords (values with no field) match when any field value contains them.
 *   - case-insensitive comparison folds ASCII letters only.
 *   - `expand` placeholders with no value in the options match anything (`*`).
 *   - rules whose logsource maps to no Windows channel load but never match,
 *     unless `match_unmapped` is set (they then meet every event).
 */
#ifndef PLAINSIGHT_SIGMA_H
#define PLAINSIGHT_SIGMA_H

#include "common.h"
#include "event.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ps_sigma_set ps_sigma_set;
typedef struct ps_sigma_scratch ps_sigma_scratch;

/* Why a rule was skipped (index into ps_sigma_stats.skipped). */
typedef enum ps_sigma_skip {
    PS_SIGMA_SKIP_YAML = 0,        /* not well-formed YAML, or over a size limit */
    PS_SIGMA_SKIP_STRUCTURE,       /* missing/ill-typed detection, logsource, title... */
    PS_SIGMA_SKIP_CONDITION,       /* condition does not parse or names unknown ids */
    PS_SIGMA_SKIP_MODIFIER,        /* unknown modifier or bad modifier combination */
    PS_SIGMA_SKIP_VALUE,           /* value invalid for its modifier (regex, cidr, number) */
    PS_SIGMA_SKIP_AGGREGATION,     /* deprecated `| count()` style condition */
    PS_SIGMA_SKIP_CORRELATION,     /* correlation rule that cannot be evaluated */
    PS_SIGMA_SKIP_FILTER,          /* filter rule whose target rules are not loaded */
    PS_SIGMA_SKIP_LIMIT,           /* over a compile limit (nesting, expansion) */
    PS_SIGMA_SKIP__COUNT
} ps_sigma_skip;

/* Static description of a skip reason. */
const char *ps_sigma_skip_str(ps_sigma_skip reason);

typedef struct ps_sigma_options {
    ps_diag_fn diag;                 /* may be NULL */
    void *diag_ctx;
    const char *logsource_path;      /* NULL: the built-in logsource table */
    int match_unmapped;              /* see above */
    /* `expand` placeholder values as "name=value" strings (without the %);
     * a name given several times becomes a list of alternatives. */
    const char *const *placeholders;
    size_t nplaceholders;
    /* 1: evaluate every indexed rule on every event instead of only those
     * whose literals the Hyperscan prefilter saw in the event. Results are
     * the same either way; this is for testing and measuring. */
    int no_prefilter;
    /* A directory for the prefilter's compiled Hyperscan databases (created
     * if missing, mode 0700), so that loading the same rules again skips
     * compiling them; NULL: none. It is used only when it and its files
     * belong to the effective user and are not writable by others; files
     * that fail their checks are ignored and rewritten. Results never
     * depend on it. */
    const char *cache_dir;
    /* Threads parsing rule files and compiling the prefilter's databases
     * (compiling the rules stays on the calling thread, in file order, so
     * the set is the same for any number); 0 or 1: the calling thread only. */
    unsigned threads;
} ps_sigma_options;

typedef struct ps_sigma_stats {
    uint32_t files;                  /* YAML files read */
    uint32_t documents;              /* YAML documents seen */
    uint32_t rules_loaded;           /* detection rules compiled */
    uint32_t filters_applied;        /* filter rules attached to their targets */
    uint32_t rules_unmapped;         /* loaded, logsource maps to no channel */
    uint32_t rules_skipped;          /* sum of skipped[] */
    uint32_t skipped[PS_SIGMA_SKIP__COUNT];
    /* The literal prefilter: distinct literals in its database, and compiled
     * rule forms evaluated only when the literals they need are seen (the
     * others are evaluated on every event of their channel/ID). */
    uint32_t prefilter_literals;
    uint32_t prefilter_gated;
    uint32_t prefilter_always;
    uint32_t prefilter_databases;    /* Hyperscan databases (one per field, keywords) */
    uint32_t prefilter_cached;       /* ... read from cache_dir instead of compiled */
    uint32_t correlations_loaded;    /* correlation rules (not in rules_loaded) */
} ps_sigma_stats;

/* What a caller learns about a rule (strings are "" when the rule lacks them;
 * valid until ps_sigma_free). */
typedef struct ps_sigma_rule_info {
    const char *title;
    const char *id;
    const char *name;
    const char *level;               /* informational, low, medium, high, critical */
    const char *status;
    const char *description;
    const char *author;
    const char *path;                /* the rule's file */
    uint32_t line;                   /* line of the rule's document in it */
    const char *const *tags;         /* e.g. attack.t1059.001 */
    uint32_t ntags;
    /* A correlation rule: it matches no event itself; its detections come
     * from ps_sigma_corr_finish. */
    uint8_t is_correlation;
    /* Referenced only by correlations without `generate: true`: by the
     * specification its own matches are not results (they still reach
     * ps_sigma_match callbacks, so they can be fed to ps_sigma_corr_add). */
    uint8_t correlation_only;
} ps_sigma_rule_info;

/* Load every rule under `paths` (files or directories, walked recursively).
 * Returns PS_OK with a set (possibly empty) or an error when nothing could be
 * done (bad logsource table, out of memory). Bad rules are skipped, not
 * errors. `stats` may be NULL. */
int ps_sigma_load(const char *const *paths, size_t npaths, const ps_sigma_options *opt,
                  ps_sigma_set **out, ps_sigma_stats *stats);

/* The same from YAML text in memory; `name` is used as the file in diagnostics
 * and rule info. */
int ps_sigma_load_text(const char *yaml, size_t len, const char *name,
                       const ps_sigma_options *opt, ps_sigma_set **out,
                       ps_sigma_stats *stats);

/* Both in one set: the rules under `paths`, then those of the YAML text (a
 * correlation or filter in either may name rules of the other). */
int ps_sigma_load_paths_and_text(const char *const *paths, size_t npaths, const char *yaml,
                                 size_t len, const char *name, const ps_sigma_options *opt,
                                 ps_sigma_set **out, ps_sigma_stats *stats);

void ps_sigma_free(ps_sigma_set *set);

size_t ps_sigma_rule_count(const ps_sigma_set *set);
const ps_sigma_rule_info *ps_sigma_rule(const ps_sigma_set *set, size_t index);

/* Per-thread matching state. NULL when out of memory. */
ps_sigma_scratch *ps_sigma_scratch_new(const ps_sigma_set *set);
void ps_sigma_scratch_free(ps_sigma_scratch *scratch);

/* Called once per rule that matches the event. Return 0 to go on, non-zero to
 * stop matching this event. */
typedef int (*ps_sigma_match_fn)(void *ctx, const ps_sigma_rule_info *rule,
                                 size_t rule_index, const ps_event *ev);

/* Match one event. Returns the number of matching rules (callbacks made), or
 * a negative ps_status (PS_ERR_NOMEM if the scratch could not grow,
 * PS_ERR_STOP if the callback stopped). `fn` may be NULL to only count. */
int ps_sigma_match(const ps_sigma_set *set, ps_sigma_scratch *scratch, const ps_event *ev,
                   ps_sigma_match_fn fn, void *ctx);

/* ---- correlation rules ----------------------------------------------------------
 *
 * Correlations (event_count, value_count, temporal, temporal_ordered) are
 * evaluated over the matches of their base rules once every event is read,
 * since events come from several threads and not in time order:
 *
 *   ps_sigma_corr *c = ps_sigma_corr_new(set, NULL);
 *   ... in the match callback, from any thread:
 *       if (ps_sigma_rule_correlated(set, rule_index))
 *           ps_sigma_corr_add(c, rule_index, ev);
 *   ... after the last event:
 *   ps_sigma_corr_finish(c, on_hit, ctx);
 *   ps_sigma_corr_free(c);
 *
 * Windows: for gt/gte conditions, a window opens at each base match (in time
 * order) and holds the matches up to `timespan` later; when the condition
 * holds a detection is reported and the next window starts after it (so a
 * burst gives one detection, not one per event). Other conditions (lt, lte,
 * eq, ranges) use back-to-back windows, each opened by the first match after
 * the previous one. temporal_ordered needs the rules in their listed order
 * (equal times count as ordered). A group-by or value field missing from an
 * event counts as the empty value for grouping; value_count ignores events
 * without its field. */
typedef struct ps_sigma_corr ps_sigma_corr;

typedef struct ps_sigma_corr_options {
    size_t max_matches;   /* base matches kept (0: 4,000,000) */
    size_t max_bytes;     /* memory for group keys and values (0: 256 MiB) */
} ps_sigma_corr_options;

typedef struct ps_sigma_corr_hit {
    size_t rule_index;                 /* the correlation rule: ps_sigma_rule(set, rule_index) */
    const ps_sigma_rule_info *rule;
    uint64_t first_time, last_time;    /* FILETIME of the first and last base match in the window */
    uint64_t matches;                  /* base matches in the window */
    uint64_t count;                    /* what the condition counted: matches (event_count),
                                          distinct values (value_count), rules (temporal*) */
    uint32_t ngroup;
    const char *const *group_fields;   /* group-by field names as written in the rule */
    const char *const *group_values;   /* this window's values of them */
    const char *value_field;           /* value_count: the counted field as written; else NULL */
    uint32_t nvalues;                  /* value_count: how many distinct values are listed, at
                                          most PS_SIGMA_CORR_LISTED (`count` has them all) */
    const char *const *values;         /* ... in the order they first occur in the window */
} ps_sigma_corr_hit;

/* How many of a value_count window's distinct values a hit lists. */
#define PS_SIGMA_CORR_LISTED 8

/* Called once per detection; valid only during the call. Non-zero stops. */
typedef int (*ps_sigma_corr_fn)(void *ctx, const ps_sigma_corr_hit *hit);

/* Number of correlation rules in the set. */
size_t ps_sigma_correlation_count(const ps_sigma_set *set);
/* Whether a correlation reads the matches of rule `rule_index`. */
int ps_sigma_rule_correlated(const ps_sigma_set *set, size_t rule_index);

/* A collector of base matches; NULL when out of memory. `opt` may be NULL. */
ps_sigma_corr *ps_sigma_corr_new(const ps_sigma_set *set, const ps_sigma_corr_options *opt);
/* Record that rule `rule_index` matched `ev` (any thread). PS_OK, or
 * PS_ERR_NOMEM when a cap was hit and the match was dropped (counted; see
 * ps_sigma_corr_dropped). Rules no correlation reads are ignored. */
int ps_sigma_corr_add(ps_sigma_corr *c, size_t rule_index, const ps_event *ev);
/* Evaluate every correlation over what was added. Returns the number of
 * detections, PS_ERR_STOP if the callback stopped or PS_ERR_NOMEM. Call once. */
int ps_sigma_corr_finish(ps_sigma_corr *c, ps_sigma_corr_fn fn, void *ctx);
/* Base matches dropped because a cap was hit (detections may be missing). */
uint64_t ps_sigma_corr_dropped(const ps_sigma_corr *c);
void ps_sigma_corr_free(ps_sigma_corr *c);

#ifdef __cplusplus
}
#endif
#endif
