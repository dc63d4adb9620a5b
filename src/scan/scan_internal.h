/* Internal pieces of the file scanner (include/plainsight/scan.h has the API). */
#ifndef PS_SCAN_INTERNAL_H
#define PS_SCAN_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <openssl/evp.h>
#include <yara.h>

#include "plainsight/scan.h"
#include "util/arena.h"

#define PS_SCAN_DEFAULT_MAX_SIZE ((uint64_t)64 << 20)
#define PS_SCAN_DEFAULT_TIMEOUT 60
#define PS_SCAN_MAX_DEPTH 256        /* deeper trees are reported, not walked */
#define PS_SCAN_CHUNK ((size_t)1 << 20) /* read size: hashed while still in cache */
#define PS_YARA_DEFAULT_SCORE 70     /* Loki's score for a rule without meta score */
/* Batches of small files (MD5 side by side, see scan_file.c): files per
 * batch (the lanes of md5_lanes.c), the largest file taken into one and the
 * bytes one may hold (under 2 GiB: lanes address it by 32-bit offset). */
#define PS_BATCH_LANES 16
#define PS_BATCH_FILE_MAX ((size_t)4 << 20)
#define PS_BATCH_BYTES ((size_t)16 << 20)

/* ---------------------------------------------------------- file types */

typedef struct ps_magic {
    const uint8_t *bytes;
    size_t len;
    const char *name;
} ps_magic;

typedef struct ps_filetypes {
    ps_magic *items;
    size_t n, cap;
    size_t max_len;              /* bytes of a file needed to decide */
    ps_arena strings;
} ps_filetypes;

void ps_filetypes_init(ps_filetypes *ft);
void ps_filetypes_free(ps_filetypes *ft);
int ps_filetypes_load(ps_filetypes *ft, const char *path, ps_diag_fn diag, void *ctx);
/* First signature (in file order) that `head` starts with, or "UNKNOWN". */
const char *ps_filetypes_match(const ps_filetypes *ft, const uint8_t *head, size_t len);

/* --------------------------------------------------------- YARA rules */

typedef struct ps_rule_set {
    char **files;                /* paths added, compiled on demand */
    size_t nfiles, capfiles;
    YR_RULES *rules;             /* NULL until compiled (or when no files) */
    size_t nrules;
    int compiled;
} ps_rule_set;

int ps_rules_add_path(ps_rule_set *rs, const char *path, ps_diag_fn diag, void *ctx);
int ps_rules_compile(ps_rule_set *rs, ps_diag_fn diag, void *ctx);
void ps_rules_free(ps_rule_set *rs);

/* The externals Loki defines for every file (and so every rule may use). */
extern const char *const ps_yara_externals[6];

/* ----------------------------------------------- per-file YARA externals */

/* Python's os.path.splitext(path)[1].lower(): the last dot of the base name,
 * not counting leading dots (".bashrc" has none). Writes "" when none. */
void ps_file_extension(const char *name, char *out, size_t outsz);
/* The user name owning `uid`, or its decimal number. */
void ps_owner_name(uid_t uid, char *out, size_t outsz);

/* ------------------------------------------------------- MD5, batched */

/* Whether ps_md5_lanes() has its many-lane code on this CPU (AVX-512F); it
 * gives the same digests either way, one message at a time otherwise. */
int ps_md5_lanes_available(void);
/* MD5 of `n` messages, message i being lens[i] bytes at base + offs[i]; up
 * to 16 are hashed side by side. Every base + offs[i] + lens[i] must lie in
 * one buffer of less than 2 GiB (lanes load by 32-bit offset). */
void ps_md5_lanes(const uint8_t *base, const uint32_t *offs, const size_t *lens, size_t n,
                  uint8_t (*out)[16]);
/* MD5 of one message (the code the lanes finish with). */
void ps_md5_one(const uint8_t *p, size_t len, uint8_t out[16]);

/* -------------------------------------------------------------- scanner */

struct ps_scanner {
    ps_scan_options opt;
    const ps_iocs *iocs;
    ps_filetypes filetypes;
    ps_rule_set rules;
    pthread_mutex_t diag_mu;     /* the diag callback is called serialised */
    int yara_ready;              /* yr_initialize() succeeded */
};

/* Thread-safe diagnostic. */
void ps_scan_diag(ps_scanner *s, ps_severity sev, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));


/* ------------------------------------------------------------- one file */

/* A directory kept open while files in it wait for a worker: files are
 * opened relative to it (openat), so a path swapped for a symlink behind the
 * walk's back is never followed. */
typedef struct ps_dir_ref {
    atomic_int refs;
    int fd;
} ps_dir_ref;

void ps_dir_ref_release(ps_dir_ref *d);

typedef struct ps_scan_item {
    char *path;
    const char *name;            /* base name, inside path */
    ps_dir_ref *dir;             /* NULL for a file given on the command line */
    dev_t dev;
    ino_t ino;
    int done;                    /* processed, waiting for its turn */
    int report;                  /* deliver to the result callback */
    int unreadable, suppressed;
    uint64_t bytes_read;
    ps_scan_result res;
    ps_scan_reason *reasons;
    size_t nreasons, capreasons;
} ps_scan_item;

void ps_scan_item_free(ps_scan_item *it);

/* Per-thread state: hashing contexts, the read buffer, the YARA scanner. */
typedef struct ps_worker {
    ps_scanner *s;
    YR_SCANNER *yara;
    ps_ioc_scratch *ioc;         /* NULL when the scanner has no IOCs */
    EVP_MD_CTX *md[3];           /* MD5, SHA1, SHA256 */
    EVP_MD *algo[3];
    uint8_t *buf;
    size_t cap;
    uint8_t *batch;              /* the files of the current batch */
    size_t batch_cap;
    int md5_lanes;               /* ps_md5_lanes_available() */
    uid_t owner_uid;             /* one-entry cache for the owner name */
    char owner[64];
    pthread_t thread;
    void *run;                   /* the run this worker serves */
} ps_worker;

int ps_worker_init(ps_worker *w, ps_scanner *s);
void ps_worker_free(ps_worker *w);
/* Hash, match and score one file; fills it->res and it->report. */
void ps_scan_file(ps_worker *w, ps_scan_item *it);
/* The same for n files (at most PS_BATCH_LANES), small ones batched. */
void ps_scan_batch(ps_worker *w, ps_scan_item **items, size_t n);

#endif
