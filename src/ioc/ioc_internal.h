/* Internal layout of an IOC set (include/plainsight/scan.h has the API). */
#ifndef PS_IOC_INTERNAL_H
#define PS_IOC_INTERNAL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pthread.h>
#include <pcre2.h>
#include <hs/hs.h>

#include "plainsight/scan.h"
#include "util/arena.h"

/* Limits that keep hostile lists from costing unbounded memory or time. */
#define PS_IOC_MAX_FILE_BYTES ((size_t)256 << 20) /* one list file */
#define PS_IOC_MAX_LINE 65536                      /* one line */
#define PS_IOC_MAX_SCORE 10000
#define PS_IOC_MATCH_LIMIT 1000000u                /* PCRE2 backtracking steps per match */

/* Scores used when a list gives none (Loki's defaults where Loki has one). */
#define PS_IOC_DEFAULT_HASH_SCORE 100
#define PS_IOC_DEFAULT_C2_SCORE 100
#define PS_IOC_DEFAULT_KEYWORD_SCORE 60

typedef struct ps_hash_ioc {
    const char *hex;         /* lowercase */
    const char *description;
    int score;
    uint32_t order;          /* load order: the later duplicate wins, as in Loki */
} ps_hash_ioc;

typedef struct ps_hash_table {
    ps_hash_ioc *items;      /* sorted by hex after each load */
    size_t n, cap;
} ps_hash_table;

typedef struct ps_filename_ioc {
    const char *pattern;     /* as written in the list */
    const char *regex;       /* what is compiled: '/' separators, no drive letter */
    const char *description;
    pcre2_code *re;
    pcre2_code *fp_re;       /* false-positive exclusion, may be NULL */
    int score;
} ps_filename_ioc;

typedef struct ps_text_ioc {  /* a C2 domain/IP or a keyword */
    const char *value;       /* C2: lowercase */
    const char *description;
    size_t len;
    int score;
    int is_ip;
} ps_text_ioc;

/* All file-name regexes in one Hyperscan database, so that a path is scanned
 * once instead of once per regex; every candidate it reports is confirmed by
 * the IOC's own PCRE2 regex, so results equal the plain PCRE2 loop.
 *
 * Built when first needed (the first scratch), not at load: compiling
 * signature-base's 3,800 regexes takes about 0.45 s, which `hunt --iocs`
 * (C2 indicators only) never needs. The set reaches it through a pointer, so
 * that a const set can still build it, once, under `mu`. */
typedef struct ps_ioc_prefilter {
    pthread_mutex_t mu;      /* held while building */
    hs_database_t *db;       /* NULL: match every path with the plain loop */
    uint32_t *always;        /* IOCs Hyperscan cannot take at all: always confirmed */
    size_t nalways;
    size_t covered;          /* fn[0..covered) are in db or always */
    int built;               /* a build was tried, for fn[0..built_for) */
    size_t built_for;
    char *cache_dir;         /* NULL: no cache */
    ps_ioc_cache_state cache_state;
} ps_ioc_prefilter;

struct ps_ioc_scratch {      /* per thread */
    const ps_iocs *iocs;
    const hs_database_t *db; /* the database `hs` was allocated for */
    hs_scratch_t *hs;
    pcre2_match_data *md;
    uint32_t *ids;           /* candidate IOC indexes of the current path */
    size_t nids, capids;
};

struct ps_iocs {
    ps_arena strings;        /* every string of the set */
    ps_hash_table md5, sha1, sha256, fp;
    ps_filename_ioc *fn;
    size_t nfn, capfn;
    ps_text_ioc *c2;         /* sorted by value */
    size_t nc2, capc2;
    ps_text_ioc *kw;
    size_t nkw, capkw;
    size_t bad_lines;
    size_t unreadable_files; /* list files that could not be read */
    uint32_t next_order;
    pcre2_match_context *mctx; /* shared, read-only while matching */
    ps_ioc_prefilter *pre;   /* built lazily, see above */
};

/* Grow an array of `size`-byte items to hold at least one more. */
int ps_ioc_grow(void **items, size_t *cap, size_t n, size_t size);

/* Sort the tables after a load (lookups use binary search). */
void ps_iocs_finish(ps_iocs *iocs);

/* Build the Hyperscan database over iocs->fn unless it is up to date (or
 * load it from the cache); on any failure the set keeps working without one
 * (slower, same results). Thread-safe. */
void ps_ioc_prefilter_ensure(const ps_iocs *iocs);
ps_ioc_prefilter *ps_ioc_prefilter_new(void);
void ps_ioc_prefilter_free(ps_ioc_prefilter *pre);

/* ---------------------------------------------------- database cache */

#define PS_IOC_CACHE_KEY_LEN 32   /* SHA-256 */

/* The key of a compiled database: a digest of everything it is built from
 * (the regexes in order, the cache format, Hyperscan's version and the
 * host's CPU features it was compiled for). */
int ps_ioc_cache_key(const ps_iocs *iocs, uint8_t key[PS_IOC_CACHE_KEY_LEN]);

/* Loads the database cached under `key` in `dir`. Returns 1 when loaded,
 * 0 when there is none, -1 when a file was there but unusable: corrupt,
 * truncated, for other lists, for another Hyperscan or CPU, or not safely
 * ours (not a regular file owned by this user, or writable by others). The
 * `always` ids are checked against `nfn`. */
int ps_ioc_cache_load(const char *dir, const uint8_t key[PS_IOC_CACHE_KEY_LEN], size_t nfn,
                      hs_database_t **db, uint32_t **always, size_t *nalways);
/* Writes it there (atomically: a temporary file renamed into place; the
 * directory is made, mode 0700, when missing). Returns 0 or -1. */
int ps_ioc_cache_store(const char *dir, const uint8_t key[PS_IOC_CACHE_KEY_LEN],
                       const hs_database_t *db, const uint32_t *always, size_t nalways);

/* Whether fn[i] matches `path` and its false-positive regex does not. */
int ps_ioc_filename_hit(const ps_iocs *iocs, size_t i, const char *path, size_t len,
                        pcre2_match_data *md);

/* The reference matcher: every file-name regex in turn (no prefilter). Used
 * for paths Hyperscan cannot take and by the tests as the oracle. */
size_t ps_iocs_match_path_plain(const ps_iocs *iocs, const char *path, size_t len,
                                pcre2_match_data *md, ps_ioc_hit *hits, size_t max);

#endif
