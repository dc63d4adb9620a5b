/* Compiled form of Sigma rules, shared by the compiler, the index and the
 * matcher. Everything here lives in the rule set's arena and is read-only
 * once loading is done, so any number of threads can match at once. */
#ifndef PS_SIGMA_INTERNAL_H
#define PS_SIGMA_INTERNAL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <hs/hs.h>
#include <pcre2.h>
#include <stdint.h>

#include "plainsight/sigma.h"
#include "sigma/pattern.h"
#include "util/yaml_tree.h"
#include "util/arena.h"
#include "util/buf.h"

/* ---- values ------------------------------------------------------------ */

typedef enum sg_value_kind {
    SV_STRING = 0,  /* literal or wildcard pattern */
    SV_REGEX,       /* PCRE2 */
    SV_CIDR,        /* IPv4/IPv6 network */
    SV_NUMBER_CMP,  /* lt, lte, gt, gte */
    SV_NULL,        /* field absent or empty */
    SV_EXISTS,      /* field present (or absent) */
    SV_FIELDREF     /* equal to (or contains...) another field's value */
} sg_value_kind;

typedef enum sg_shape {
    SH_EXACT = 0, SH_PREFIX, SH_SUFFIX, SH_CONTAINS, SH_GLOB, SH_ANY
} sg_shape;

enum { GL_LIT = 0, GL_STAR = 1, GL_ONE = 2 };  /* glob token kinds */
enum { CMP_LT = 0, CMP_LTE, CMP_GT, CMP_GTE };

/* A literal run that every match of a regex holds (sg_regex_needs). */
typedef struct sg_need {
    const char *bytes;
    uint32_t len;
    uint32_t letters;    /* it holds ASCII letters (so case matters to it) */
} sg_need;

/* The members the matcher reads for most values (kind, the literal id that
 * settles an unseen literal, a string's literal and shape, a regex's code
 * and needs) come first, in the first 64 bytes: value lists are walked value
 * by value, and rules' values are mostly out of cache. */
typedef struct sg_value {
    uint8_t kind;        /* sg_value_kind */
    uint8_t shape;       /* sg_shape (strings, fieldref) */
    uint8_t cased;       /* compare case-sensitively */
    uint8_t op;          /* CMP_* or, for SV_EXISTS, the wanted presence */
    uint8_t is_int;      /* string value was a YAML integer: compare numerically too */
    uint8_t needs_caseless; /* SV_REGEX: see needs */
    uint8_t jit;         /* SV_REGEX: compiled by the JIT (pcre2_jit_match) */
    /* SV_REGEX of the form c.*c.*...c (one literal character, repeat_count
     * times; sg_regex_repeat): matched by counting c per line, exactly, in
     * place of PCRE2's backtracking (which takes a millisecond per long
     * command line that matches, or gives up at its limit). 0: none. */
    uint8_t repeat_char;
    /* Its literal in the prefilter database, plus one (0: none). A value
     * whose literal the scan did not see in the event cannot match. */
    uint32_t pf_id;
    uint32_t lit_len;
    uint32_t rare;       /* SH_CONTAINS: offset of lit's rarest byte (searched first) */
    uint32_t group;      /* which YAML value it came from (for `all`) */
    const char *lit;     /* literal bytes (lower-cased unless cased) */
    const uint8_t *glob; /* SH_GLOB: token kind per byte of lit */
    pcre2_code *re;
    /* SV_REGEX: runs every match holds, in this order and apart (lower-cased
     * and compared with ASCII case folded when needs_caseless), so that a
     * text without them is no match without running the regex. */
    const sg_need *needs;
    uint32_t nneeds;
    uint32_t repeat_count;
    uint8_t repeat_caseless;
    uint8_t repeat_dotall;
    uint8_t cidr_v6, cidr_bits;
    int32_t ref_sym;     /* SV_FIELDREF: the other field */
    int64_t int_value;
    double number;
    uint8_t cidr_addr[16];
} sg_value;

/* One `field|modifiers: values` item. sym < 0 is a keyword search. */
typedef struct sg_field_match {
    int32_t sym;
    uint8_t all;         /* value groups ANDed instead of ORed */
    uint32_t ngroups;
    uint32_t nvalues;
    sg_value *values;
    /* Each value's pf_id, side by side, for long lists of a field (NULL
     * otherwise): the matcher passes over the values whose literal the scan
     * did not see by reading these, not each value (one cache line per
     * value; SigmaHQ has lists of hundreds of DLL names). */
    const uint32_t *ids;
} sg_field_match;

typedef struct sg_map {       /* AND of its items */
    uint32_t n;
    sg_field_match *items;
} sg_map;

typedef struct sg_selection { /* OR of its maps */
    const char *name;
    uint32_t nmaps;
    sg_map *maps;
} sg_selection;

/* ---- conditions ---------------------------------------------------------- */

typedef enum sg_op { OP_SEL = 0, OP_AND, OP_OR, OP_NOT, OP_AT_LEAST, OP_TRUE } sg_op;

typedef struct sg_cond sg_cond;
struct sg_cond {
    uint8_t op;
    uint32_t sel;        /* OP_SEL */
    uint32_t count;      /* OP_AT_LEAST: how many kids must hold */
    uint32_t nkids;
    sg_cond **kids;
};

#define SG_MAX_COND_DEPTH 48

typedef struct sg_detection {
    uint32_t nsel;
    sg_selection *sel;
    sg_cond *cond;
} sg_detection;

/* ---- field symbols ----------------------------------------------------------- */

/* Interned field keys: an event field is looked up by its name when it is
 * under Event.EventData / Event.UserData, else by its full path. */
typedef struct sg_symtab {
    char **keys;         /* lower-cased */
    uint32_t n, cap;     /* n keys; cap slots in the hash */
    int32_t *slots;      /* open addressing: key index or -1 */
} sg_symtab;

int32_t sg_sym_intern(sg_symtab *t, const char *key, size_t len);
int32_t sg_sym_find(const sg_symtab *t, const char *key, size_t len);
void sg_sym_free(sg_symtab *t);

/* ---- logsources -------------------------------------------------------------- */

typedef struct sg_rename { const char *from, *to; } sg_rename;
typedef struct sg_kv { const char *key, *value; } sg_kv;

/* One way a logsource appears in Windows logs. */
typedef struct sg_variant_def {
    const char **channels;
    uint32_t nchannels;
    uint32_t *eids;
    uint32_t neids;       /* 0: any event ID of the channels */
    sg_rename *renames;
    uint32_t nrenames;
    sg_kv *conditions;    /* extra field: value equalities */
    uint32_t nconditions;
    struct sg_value_map *value_maps; /* values written otherwise in these events */
    uint32_t nvalue_maps;
} sg_variant_def;

/* A Sigma field whose values these events write in their own words (Sysmon's
 * Initiated 'true' is Security 5156's Direction '%%14593'): a rule's plain
 * value equal to `pairs[i].key` (case aside) stands for `pairs[i].value`. */
typedef struct sg_value_map {
    const char *field;    /* the Sigma field name, before renames */
    sg_kv *pairs;
    uint32_t npairs;
} sg_value_map;

typedef struct sg_logsource_def {
    const char *product, *category, *service;  /* NULL = wildcard */
    sg_variant_def *variants;
    uint32_t nvariants;
} sg_logsource_def;

typedef struct sg_logsources {
    sg_logsource_def *defs;
    uint32_t ndefs;
    sg_kv *aliases;       /* Sigma field name -> event path */
    uint32_t naliases;
} sg_logsources;

int sg_logsources_parse(const char *text, size_t len, ps_arena *arena, sg_logsources *out,
                        char *err, size_t errlen, uint32_t *err_line);
/* The variants for a rule's logsource, or 0 when it maps to none. */
uint32_t sg_logsources_lookup(const sg_logsources *ls, const char *product,
                              const char *category, const char *service,
                              const sg_variant_def **variants);

extern const char ps_sigma_builtin_logsources[];
extern const size_t ps_sigma_builtin_logsources_len;

/* ---- compiled rules ------------------------------------------------------------ */

/* A rule as it applies to one logsource variant (own field renames). */
typedef struct sg_compiled {
    uint32_t rule;        /* index into the set's rules */
    const sg_variant_def *variant; /* NULL: meets every event */
    sg_detection det;
    sg_map extra;         /* the variant's own conditions (e.g. EventType) */
    uint32_t nfilters;
    sg_detection *filters;/* must all hold too (Sigma filter rules) */
    uint32_t filters_cap;
} sg_compiled;

/* Buffers a string value is built in before its text goes to the arena,
 * reused from value to value (tens of thousands of values: three mallocs and
 * frees each were a tenth of compiling them). */
typedef struct sg_value_scratch {
    ps_buf raw, enc;
    sg_pat pat;
} sg_value_scratch;

void sg_value_scratch_init(sg_value_scratch *sc);
void sg_value_scratch_free(sg_value_scratch *sc);

typedef struct sg_compile_ctx {
    ps_arena *arena;
    sg_value_scratch *scratch;      /* the loader's */
    sg_symtab *syms;
    const sg_logsources *ls;
    const sg_variant_def *variant;  /* renames; NULL = none */
    const ps_sigma_options *opt;
    pcre2_code ***regexes;          /* every compiled regex, to free */
    uint32_t *nregexes, *regex_cap;
    /* error out */
    ps_sigma_skip reason;
    uint32_t line;
    char msg[256];
} sg_compile_ctx;

/* The literal runs that every match of `re` (PCRE2 syntax, compiled with
 * PCRE2_UTF, caseless when `caseless`) holds in the subject, in order and
 * not overlapping, found by reading the pattern's top-level sequence of
 * atoms; anything it does not fully understand gives no run, so a pattern
 * it cannot read gives none. Returns the number of runs (at most max) in
 * out (bytes in the arena), *out_caseless set when they are to be compared
 * with ASCII case folded (then lower-cased); -1 when out of memory. */
/* Is `re` c.*c.* ... c for one ASCII character c (escaped or plain), with
 * nothing else? Then *c and the count (2 or more); 0 when not. */
int sg_regex_repeat(const char *re, size_t len, uint8_t *c, uint32_t *count);

int sg_regex_needs(const char *re, size_t len, int caseless, ps_arena *arena, sg_need *out,
                   uint32_t max, int *out_caseless);

int sg_compile_detection(sg_compile_ctx *cc, const yt_node *detection, sg_detection *out);
int sg_compile_extra(sg_compile_ctx *cc, const sg_variant_def *v, sg_map *out);
int sg_parse_condition(sg_compile_ctx *cc, const char *text, uint32_t line,
                       const sg_detection *det, sg_cond **out);
int sg_compile_fail(sg_compile_ctx *cc, ps_sigma_skip reason, uint32_t line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- the set --------------------------------------------------------------- */

typedef struct sg_rule {
    ps_sigma_rule_info info;
    uint32_t first_compiled, ncompiled;
    int unmapped;
    uint32_t corr_first, corr_n;  /* its entries in the set's corr_refs */
} sg_rule;

/* ---- correlations ------------------------------------------------------------ */

typedef enum sg_corr_type {
    CT_EVENT_COUNT = 0, CT_VALUE_COUNT, CT_TEMPORAL, CT_TEMPORAL_ORDERED
} sg_corr_type;

enum { CC_GT = 0, CC_GTE, CC_LT, CC_LTE, CC_EQ, CC__COUNT };

#define SG_CORR_MAX_RULES 64
#define SG_CORR_MAX_GROUP 32

/* Where one field is read in the events of one referenced rule: any of
 * these symbols (one per logsource variant's field renames). */
typedef struct sg_corr_field {
    int32_t *syms;
    uint32_t nsyms;
} sg_corr_field;

typedef struct sg_correlation {
    uint32_t rule;                /* its entry in the set's rules */
    uint8_t type;                 /* sg_corr_type */
    uint8_t generate;
    uint8_t has[CC__COUNT];       /* which comparisons the condition holds */
    uint64_t limit[CC__COUNT];
    uint64_t timespan;            /* 100 ns ticks */
    uint32_t nrules;
    uint32_t *rules;              /* referenced rules, in order (slot = position) */
    uint32_t ngroup;
    const char **group_names;
    sg_corr_field *group;         /* [slot * ngroup + g] */
    sg_corr_field *value;         /* [slot], value_count only */
    const char *value_name;       /* value_count: the counted field as written */
} sg_correlation;

/* A referenced rule's part in a correlation. */
typedef struct sg_corr_ref { uint32_t corr, slot; } sg_corr_ref;

/* Parse the `correlation:` section of `root` (rule references resolved
 * against the set's rules) into `out`. -1 with cc's reason and message. */
int sg_correlation_compile(sg_compile_ctx *cc, ps_sigma_set *set, const yt_node *root,
                           sg_correlation *out);
/* Field name in a rule of variant v -> the event key it is read from. */
const char *sg_field_mapped_name(const sg_logsources *ls, const sg_variant_def *v,
                                 const char *name);

/* Which event fields the prefilter scans for the rules of one posting list:
 * a bitmap over field symbols and bits syms.n and syms.n + 1 (every field,
 * for keyword searches; see sg_prefilter.kw), (syms.n + 1) / 64 + 1 words;
 * NULL when none of the rules' values has a literal. Fields no
 * rule of the event's lists reads cannot decide a match. */
typedef const uint64_t *sg_scan_map;

/* A posting list's compiled rules as the prefilter sorts them (prefilter.c):
 * those evaluated on every event of the list, and the gated ones, evaluated
 * only when every clause of theirs was seen; both ascending, in the
 * prefilter's always[] and gated_post[]. */
typedef struct sg_split {
    uint32_t always_first, always_n;
    uint32_t gated_first, gated_n;
} sg_split;

typedef struct sg_eid_list {
    uint32_t eid;
    uint32_t first, n;
    sg_scan_map scan;
    sg_split split;
} sg_eid_list;

/* Rules that can match events of one channel. */
typedef struct sg_channel_bucket {
    const char *channel;          /* lower-cased */
    uint64_t hash;
    sg_eid_list *by_eid;          /* sorted by eid */
    uint32_t nby_eid;
    uint32_t any_first, any_n;    /* rules for any event ID */
    sg_scan_map any_scan;
    sg_split any_split;
    /* Rules filed under event IDs derived from their detection (index.c),
     * again: evaluated on the events whose ID cannot be trusted for that. */
    uint32_t fallback_first, fallback_n;
    sg_scan_map fallback_scan;
    sg_split fallback_split;
} sg_channel_bucket;

/* One keyword database (see sg_prefilter.kw). */
typedef struct sg_keyword_db {
    hs_database_t *db;            /* NULL: none */
    uint32_t base, nlits;         /* its literals' ids: [base, base + nlits) */
    uint32_t min_len;             /* the shortest of them */
    /* none of them can occur in a typed value's text (ps_field.typed): the
     * keyword scan leaves typed values out */
    uint8_t skips_typed;
} sg_keyword_db;

#define SG_KW_LISTED 0   /* keywords of rules of some channels' lists: symbol nsyms */
#define SG_KW_EVERY 1    /* keywords of rules of every event (the every list): nsyms + 1 */
#define SG_KW_COUNT 2    /* symbols past the fields: nsyms .. nsyms + SG_KW_COUNT - 1 */

/* The Hyperscan literal prefilter (prefilter.c): block-mode databases of
 * every value's literal, one per field symbol, scanned over the event's
 * values of that field, and two for keyword searches (kw), scanned over
 * every value. The set has a prefilter when ndbs > 0. */
typedef struct sg_prefilter {
    /* Keyword searches' literals, in two databases: those of rules that
     * apply to every event (product: windows alone, such as mimikatz's
     * keywords) are scanned over every event; the others only over events
     * of the lists that hold their rules. In scan maps, stamps and
     * rule_syms they are symbols nsyms + SG_KW_LISTED / SG_KW_EVERY. */
    sg_keyword_db kw[SG_KW_COUNT];
    hs_database_t **field_db;     /* per symbol: its values' literals, or NULL */
    uint32_t *field_base;         /* a database reports id - base of its literals */
    /* Per symbol: its literals in a hash table instead of a database, when
     * every one of them is a whole value compared for equality (Status:
     * '0xc000006d'): only a value equal to one can be the one that matches,
     * and a lookup costs less than a scan. NULL: none. */
    const struct sg_exact_table **field_exact;
    uint32_t nsyms;               /* entries of field_db */
    uint32_t ndbs;                /* databases built (0: no prefilter) */
    uint32_t nlits;
    uint32_t *lit_first;          /* per literal: its postings are */
    uint32_t *lit_compiled;       /*   lit_compiled[lit_first[i] .. lit_first[i+1]), SG_PF_POST */
    /* Per compiled rule: the mask of its clauses (0: not gated). A gated
     * rule is evaluated only when, for each clause, one of its literals was
     * seen in the event; each clause holds whenever the rule matches. */
    uint8_t *gate;
    uint32_t ngated;
    sg_scan_map every_scan;       /* for the set's every_first..every_n */
    sg_split every_split;
    uint32_t *always;             /* the lists' sg_split entries */
    uint32_t *gated_post;
    /* Per gated compiled rule: the fields its clauses read (symbols; nsyms
     * and nsyms + 1 for keyword searches, which read every field), those of clause 0 (its
     * best) first: rule_syms[syms_first[c] .. + syms0_n[c]) are clause 0's,
     * then syms_more_n[c] others. Only clause 0's fields are scanned for
     * every event of a list; the others when a rule's clause 0 held. */
    uint32_t *syms_first;
    uint16_t *syms0_n, *syms_more_n;
    int32_t *rule_syms;
} sg_prefilter;

typedef struct sg_exact_key {
    const char *bytes;
    uint32_t len;
    uint8_t caseless;             /* bytes lower-cased; look the value up folded */
} sg_exact_key;

/* Keyed literals (see sg_exact_table.nforms): the bytes before a key's
 * '=', its length and case. */
#define SG_KEYED_FORMS 16
typedef struct sg_exact_form {
    const char *prefix;
    uint32_t prefix_len;          /* where the key's '=' is */
    uint32_t len;                 /* the key's length */
    uint8_t caseless;
} sg_exact_form;

typedef struct sg_exact_table {
    uint32_t mask;                /* slots - 1 */
    uint32_t *slot;               /* the literal's local id + 1, or 0 */
    const sg_exact_key *keys;     /* by local id */
    uint8_t cased, caseless;      /* kinds of keys it holds */
    /* 0: a value is looked up whole (every key is an equality). Otherwise
     * every key holds one '=' with bytes on both sides, and has one of
     * these few forms (SigmaHQ's Hashes: "MD5=" and 32 hex digits,
     * "SHA256=" and 64, thousands of each): each key is looked for where
     * it could occur, at each '=' of a value, for the form's prefix, in
     * place of a scan. */
    uint32_t nforms;
    sg_exact_form forms[SG_KEYED_FORMS];
} sg_exact_table;

/* Where a value is looked up in a table: a hash of its bytes. */
uint64_t sg_exact_hash(const char *p, size_t n, int caseless);

/* A literal's posting: compiled rule c's clause k (k < 8). */
#define SG_PF_POST(c, k) ((uint32_t)(c) << 3 | (uint32_t)(k))
#define SG_PF_MAX_COMPILED (1u << 29)

/* ---- rule files (rule_files.c) ------------------------------------------------ */

/* The whole file into buf (at most 8 MiB); 0, or -1 with the reason. */
int sg_read_file(const char *path, ps_buf *buf, const char **why);

typedef struct sg_rule_file {
    char *path;
    int bad_path;        /* a path given that cannot be read (stat failed) */
} sg_rule_file;

typedef struct sg_parsed_doc {
    yt_node *root;
    uint32_t line;
} sg_parsed_doc;

/* A file's documents, valid during the callback. */
typedef struct sg_parsed_file {
    const sg_rule_file *file;
    const char *read_error;   /* the file could not be read: why */
    const char *parse_error;  /* YAML error (or a limit) after docs, at error_line */
    uint32_t error_line;
    const sg_parsed_doc *docs;
    uint32_t ndocs;
} sg_parsed_file;

typedef void (*sg_parsed_fn)(void *ctx, const sg_parsed_file *pf);

/* Parse files[0..n), `threads` at a time (0 or 1: on this thread only), and
 * call fn on this thread for each, in order. 0, or -1 when out of memory. */
int sg_parse_rule_files(const sg_rule_file *files, size_t n, unsigned threads, sg_parsed_fn fn,
                        void *ctx);

/* Hyperscan databases compiled once and kept in a cache directory
 * (hs_cache.c). */
typedef struct sg_hs_input {
    const char *const *exprs;
    const unsigned *flags;
    const unsigned *ids;
    const size_t *lens;
    unsigned n;
} sg_hs_input;

typedef struct sg_hs_cache_stats {
    uint32_t hits;          /* databases read from the cache */
    uint32_t compiled;      /* databases compiled */
    uint32_t stored;        /* ... and written to the cache */
    uint32_t store_failed;  /* ... that could not be written */
} sg_hs_cache_stats;

/* Create the cache directory if need be; 1 when it can be used (ours, not
 * writable by others), else 0. */
int sg_hs_cache_usable(const char *dir);
/* Compile `in` in block mode, or read it from `cache_dir` (NULL: no cache;
 * else a directory sg_hs_cache_usable accepted). 0, or -1 when Hyperscan
 * cannot compile it. */
int sg_hs_compile(const sg_hs_input *in, const char *cache_dir, hs_database_t **db,
                  sg_hs_cache_stats *st);

struct ps_sigma_set {
    ps_arena arena;
    sg_symtab syms;
    sg_rule *rules;
    uint32_t nrules, rules_cap;
    sg_compiled *compiled;
    uint32_t ncompiled, compiled_cap;
    pcre2_code **regexes;
    uint32_t nregexes, regex_cap;
    /* index */
    uint32_t *postings;           /* compiled indices referenced by buckets */
    uint32_t *posting_rules;      /* their rules (a posting is skipped mostly on these
                                     and the prefilter's stamps, so they sit apart) */
    sg_channel_bucket *buckets;
    uint32_t nbuckets;            /* power of two; empty slots have channel NULL */
    uint32_t every_first, every_n;/* compiled rules meeting every event */
    int32_t eid_sym;              /* the symbol of Event.System.EventID, or -1 */
    sg_prefilter prefilter;
    sg_correlation *corrs;
    uint32_t ncorrs, corrs_cap;
    sg_corr_ref *corr_refs;       /* grouped by referenced rule (sg_rule.corr_first) */
};

uint64_t sg_hash_lower(const char *s, size_t len);
int sg_build_index(ps_sigma_set *set, const sg_logsources *ls, int match_unmapped);
/* Build the prefilter of the compiled rules (0, or -1 when out of memory;
 * when Hyperscan cannot be used the set simply has none). Its databases are
 * compiled on up to `threads` threads (0 or 1: the calling one). */
int sg_prefilter_build(ps_sigma_set *set, const char *cache_dir, unsigned threads,
                       sg_hs_cache_stats *st);
void sg_prefilter_free(sg_prefilter *pf);

/* Field keys of event fields and of Sigma field names. */
void sg_event_field_key(const char *path, size_t path_len, const char **key, size_t *key_len);

#endif
