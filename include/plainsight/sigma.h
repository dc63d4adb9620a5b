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
    PS_SIGMA_SKIP_CORRELATION,     /* correlation rule (not evaluated yet) */
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
} ps_sigma_options;

typedef struct ps_sigma_stats {
    uint32_t files;                  /* YAML files read */
    uint32_t documents;              /* YAML documents seen */
    uint32_t rules_loaded;           /* detection rules compiled */
    uint32_t filters_applied;        /* filter rules attached to their targets */
    uint32_t rules_unmapped;         /* loaded, logsource maps to no channel */
    uint32_t rules_skipped;          /* sum of skipped[] */
    uint32_t skipped[PS_SIGMA_SKIP__COUNT];
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

#ifdef __cplusplus
}
#endif
#endif
