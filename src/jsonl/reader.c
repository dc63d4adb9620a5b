/*
 * The JSON-lines run driver: expands inputs into files, gives whole files to
 * worker threads, and cuts each file into top-level JSON objects with a
 * small scanner (strings, escapes and brace depth only) so that memory per
 * worker is bounded by the largest accepted object, whatever the file size.
 * Each object is then parsed on its own: streamed by yajl (stream.c) when it
 * has evtx_dump's layout, else by jansson (event.c). Objects may be one per line or
 * pretty-printed over many lines; a '{' in the first column always starts a
 * new object, which is how the reader gets back in step after damage.
 *
 * With several threads, the thread reading a file cuts its objects into
 * batches and queues them; any thread takes a batch and parses it (parsing
 * is nearly all the cost, cutting a small part), so one large export keeps
 * every thread busy. The queue is bounded: a reader that finds it full
 * parses its batch itself. Events of one file then come in no fixed order.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jsonl/jsonl_internal.h"
#include "plainsight/jsonl.h"
#include "util/buf.h"
#include "util/evidence.h"

#define MAX_DIR_DEPTH 64
#define READ_BLOCK (256u << 10)

int ps_jsonl_is_json_name(const char *name)
{
    static const char *const suffixes[] = {".json", ".jsonl", ".ndjson"};
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++) {
        size_t s = strlen(suffixes[i]);
        if (n > s && !strcasecmp(name + n - s, suffixes[i]))
            return 1;
    }
    return 0;
}

/* --- the run ------------------------------------------------------------------ */

typedef struct run {
    const ps_jsonl_options *opt;
    size_t max_object;
    unsigned max_depth;
    ps_event_fn fn;
    void *ctx;
    char **files;
    size_t nfiles, cap, next_file;
    pthread_mutex_t lock;       /* files, stats, diagnostics, progress, the queue */
    ps_jsonl_stats stats;
    int status;                 /* first error or stop, PS_OK otherwise */
    atomic_int halted;          /* run_fail was called: status is not PS_OK */
    /* Batches of cut objects waiting to be parsed (several threads only). */
    struct batch *queue, *queue_tail, *spare;
    size_t queued_bytes, max_queued_bytes;
    unsigned readers;           /* threads reading a file now */
    pthread_cond_t changed;     /* a batch was queued, or a reader finished */
    int batching;
} run;

static void run_diag_locked(run *r, ps_severity sev, const char *path, uint64_t line,
                            int is_line, const char *msg)
{
    if (sev >= PS_DIAG_WARNING)
        r->stats.warnings++;
    if (!r->opt->diag)
        return;
    ps_diag d = {.severity = sev, .path = path, .offset = line, .is_line = is_line,
                 .message = msg};
    r->opt->diag(r->opt->diag_ctx, &d);
}

static void run_diag(run *r, ps_severity sev, const char *path, uint64_t line, int is_line,
                     const char *msg)
{
    pthread_mutex_lock(&r->lock);
    run_diag_locked(r, sev, path, line, is_line, msg);
    pthread_mutex_unlock(&r->lock);
}

static int add_file(run *r, const char *path)
{
    if (ps_grow_array((void **)&r->files, &r->cap, r->nfiles, sizeof *r->files) != 0)
        return -1;
    return (r->files[r->nfiles] = strdup(path)) ? (r->nfiles++, 0) : -1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Collect JSON exports below `dir` in name order, not following symbolic
 * links (evidence trees may hold loops). */
static int walk_dir(run *r, const char *dir, int depth)
{
    if (depth > MAX_DIR_DEPTH) {
        run_diag(r, PS_DIAG_WARNING, dir, 0, 0, "directory tree too deep; not descended");
        return 0;
    }
    DIR *d = opendir(dir);
    if (!d) {
        run_diag(r, PS_DIAG_ERROR, dir, 0, 0, strerror(errno));
        return 0;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **grown = realloc(names, cap * sizeof *grown);
            if (!grown) {
                rc = -1;
                break;
            }
            names = grown;
        }
        if (!(names[n] = strdup(e->d_name)))
            rc = -1;
        else
            n++;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, cmp_str);
    ps_buf full;
    ps_buf_init(&full);
    for (size_t i = 0; i < n && rc == 0; i++) {
        ps_buf_reset(&full);
        ps_buf_printf(&full, "%s/%s", dir, names[i]);
        const char *p = ps_buf_cstr(&full);
        struct stat st;
        if (full.failed)
            rc = -1;
        else if (lstat(p, &st) != 0)
            continue;
        else if (S_ISDIR(st.st_mode))
            rc = walk_dir(r, p, depth + 1);
        else if (S_ISREG(st.st_mode) && ps_jsonl_is_json_name(names[i]))
            rc = add_file(r, p);
    }
    ps_buf_free(&full);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

static int expand_inputs(run *r, const char *const *paths, size_t npaths)
{
    for (size_t i = 0; i < npaths; i++) {
        struct stat st;
        if (stat(paths[i], &st) != 0) {
            run_diag(r, PS_DIAG_ERROR, paths[i], 0, 0, strerror(errno));
            r->stats.files_failed++;
            continue;
        }
        if (S_ISDIR(st.st_mode) ? walk_dir(r, paths[i], 0) : add_file(r, paths[i]))
            return PS_ERR_NOMEM;
    }
    return PS_OK;
}

/* Record the first error; a stop or error ends every worker's loop (those
 * waiting for a batch are woken to see it). */
static void run_fail(run *r, int status)
{
    pthread_mutex_lock(&r->lock);
    if (r->status == PS_OK || status == PS_ERR_NOMEM)
        r->status = status;
    atomic_store(&r->halted, 1);
    pthread_cond_broadcast(&r->changed);
    pthread_mutex_unlock(&r->lock);
}

/* Has a worker failed or stopped? Cheap enough to ask before each object. */
static int run_stopped(run *r)
{
    return atomic_load_explicit(&r->halted, memory_order_relaxed);
}

/* --- parsing one object ----------------------------------------------------------- */

/* What a thread needs to turn cut objects into events. */
typedef struct parser {
    run *r;
    unsigned worker;
    jl_builder builder;
    ps_buf quoted;            /* the object with big integers quoted, when needed */
    uint64_t records, skipped; /* not yet added to the run's stats */
} parser;

static void parser_init(parser *p, run *r, unsigned worker)
{
    memset(p, 0, sizeof *p);
    p->r = r;
    p->worker = worker;
    jl_builder_init(&p->builder);
    ps_buf_init(&p->quoted);
}

static void parser_free(parser *p)
{
    jl_builder_free(&p->builder);
    ps_buf_free(&p->quoted);
}

/* The warning for an object left out (the caller counts it). */
static void warn_skipped(run *r, const char *path, uint64_t line, const char *why)
{
    char msg[300];
    snprintf(msg, sizeof msg, "skipped: %s", why);
    run_diag(r, PS_DIAG_WARNING, path, line, 1, msg);
}

static void skip_object(parser *p, const char *path, uint64_t line, const char *why)
{
    warn_skipped(p->r, path, line, why);
    p->skipped++;
}

/* Pass an event on. */
static int deliver_event(parser *p, ps_event *ev, const char *path, uint64_t offset)
{
    ev->source = path;
    ev->offset = offset;
    p->records++;
    return p->r->fn(p->r->ctx, p->worker, ev) ? PS_ERR_STOP : PS_OK;
}

/* Parse one whole object of `path` (its first byte at `offset`, on `line`)
 * and pass its event on. PS_OK (also for an object reported and skipped),
 * PS_ERR_NOMEM or PS_ERR_STOP. */
static int parse_object(parser *p, const char *path, const char *data, size_t len,
                        uint64_t line, uint64_t offset)
{
    ps_event ev;
    int streamed = jl_stream_event(&p->builder, data, len, &ev);
    if (streamed == -2)
        return PS_ERR_NOMEM;
    if (streamed == 0)
        return deliver_event(p, &ev, path, offset);
    char why[240];
    uint64_t at_line = 0;
    int rc = jl_tree_event(&p->builder, &p->quoted, data, len, &ev, why, sizeof why, &at_line);
    if (rc == -2)
        return PS_ERR_NOMEM;
    if (rc == -1) {
        skip_object(p, path, line + at_line, why);
        return PS_OK;
    }
    return deliver_event(p, &ev, path, offset);
}

static void flush_parser(parser *p)
{
    run *r = p->r;
    pthread_mutex_lock(&r->lock);
    r->stats.records += p->records;
    r->stats.skipped += p->skipped;
    p->records = p->skipped = 0;
    pthread_mutex_unlock(&r->lock);
}

/* --- batches of cut objects ---------------------------------------------------------- */

#define BATCH_BYTES (512u << 10)
#define QUEUED_BYTES_PER_THREAD (2u << 20)

typedef struct batch_object {
    size_t at, len;
    uint64_t line, offset;
} batch_object;

typedef struct batch {
    const char *path;
    ps_buf bytes;
    batch_object *objs;
    size_t n, cap;
    struct batch *next;
} batch;

/* A list of batches (chained by next). */
static void batch_free_list(batch *b)
{
    while (b) {
        batch *next = b->next;
        ps_buf_free(&b->bytes);
        free(b->objs);
        free(b);
        b = next;
    }
}

/* A batch from the spare list, or a new one; NULL when out of memory.
 * Under the run's lock. */
static batch *batch_get_locked(run *r, const char *path)
{
    batch *b = r->spare;
    if (b)
        r->spare = b->next;
    else if ((b = calloc(1, sizeof *b)) != NULL)
        ps_buf_init(&b->bytes);
    if (b) {
        b->path = path;
        b->n = 0;
        b->next = NULL;
        ps_buf_reset(&b->bytes);
    }
    return b;
}

static void batch_put_locked(run *r, batch *b)
{
    b->next = r->spare;
    r->spare = b;
}

static int batch_add(batch *b, const char *data, size_t len, uint64_t line, uint64_t offset)
{
    if (ps_grow_array((void **)&b->objs, &b->cap, b->n, sizeof *b->objs) != 0)
        return PS_ERR_NOMEM;
    b->objs[b->n++] = (batch_object){b->bytes.len, len, line, offset};
    ps_buf_add(&b->bytes, data, len);
    return b->bytes.failed ? PS_ERR_NOMEM : PS_OK;
}

/* Every object of the batch through the parser (until the run stops), then
 * the batch back to the spare list. */
static int parse_batch(parser *p, batch *b)
{
    int rc = PS_OK;
    for (size_t i = 0; i < b->n && rc == PS_OK; i++) {
        if (run_stopped(p->r))
            break;
        rc = parse_object(p, b->path, b->bytes.data + b->objs[i].at, b->objs[i].len,
                          b->objs[i].line, b->objs[i].offset);
    }
    if (rc != PS_OK)
        run_fail(p->r, rc); /* at once: no other thread calls fn after a stop */
    flush_parser(p);
    pthread_mutex_lock(&p->r->lock);
    batch_put_locked(p->r, b);
    pthread_mutex_unlock(&p->r->lock);
    return rc;
}

/* Queue a full batch for any thread, or parse it here when the queue holds
 * its share of bytes already (memory stays bounded whatever the file). */
static int hand_over(parser *p, batch *b)
{
    run *r = p->r;
    pthread_mutex_lock(&r->lock);
    if (!r->queue || r->queued_bytes + b->bytes.len <= r->max_queued_bytes) {
        if (r->queue_tail)
            r->queue_tail->next = b;
        else
            r->queue = b;
        r->queue_tail = b;
        r->queued_bytes += b->bytes.len;
        pthread_cond_signal(&r->changed);
        pthread_mutex_unlock(&r->lock);
        return PS_OK;
    }
    pthread_mutex_unlock(&r->lock);
    return parse_batch(p, b);
}

/* --- the object scanner ---------------------------------------------------------- */

typedef struct scanner {
    run *r;
    parser *parser;           /* parses what this scanner cuts, or batches it */
    batch *batch;             /* the batch being filled (several threads), or NULL */
    const char *path;
    ps_buf object;            /* bytes of the object being read */
    uint64_t object_offset;   /* its first byte in the file */
    uint64_t object_line;     /* its first line (1-based) */
    uint64_t offset;          /* file offset of the next byte fed */
    uint64_t line;
    unsigned depth;           /* 0: between objects */
    int in_string, escaped;
    int at_line_start;
    int resyncing;            /* after damage: skip to a line starting with '{' */
    uint64_t skipped;         /* not yet added to the run's stats */
} scanner;

static void scanner_init(scanner *s, run *r, parser *p)
{
    memset(s, 0, sizeof *s);
    s->r = r;
    s->parser = p;
    ps_buf_init(&s->object);
}

static void scanner_free(scanner *s)
{
    ps_buf_free(&s->object);
}

static void scanner_start_file(scanner *s, const char *path)
{
    s->path = path;
    s->offset = 0;
    s->line = 1;
    s->depth = 0;
    s->in_string = s->escaped = 0;
    s->at_line_start = 1;
    s->resyncing = 0;
}

/* Report the current object (or line) as bad and skip it. */
static void reject(scanner *s, uint64_t line, const char *why)
{
    warn_skipped(s->r, s->path, line, why);
    s->skipped++;
    s->depth = 0;
    s->resyncing = 1;
}

/* A whole object was cut: parse it now, or add it to the batch (handed
 * over when full). */
static int deliver(scanner *s)
{
    if (!s->r->batching)
        return parse_object(s->parser, s->path, s->object.data, s->object.len, s->object_line,
                            s->object_offset);
    if (!s->batch) {
        pthread_mutex_lock(&s->r->lock);
        s->batch = batch_get_locked(s->r, s->path);
        pthread_mutex_unlock(&s->r->lock);
        if (!s->batch)
            return PS_ERR_NOMEM;
    }
    int rc = batch_add(s->batch, s->object.data, s->object.len, s->object_line,
                       s->object_offset);
    if (rc == PS_OK && s->batch->bytes.len >= BATCH_BYTES) {
        batch *b = s->batch;
        s->batch = NULL;
        rc = hand_over(s->parser, b);
    }
    return rc;
}

/* The end of a file: its last objects go too, unless the run is stopping
 * (the batch is only given back then). */
static int deliver_rest(scanner *s, int rc)
{
    batch *b = s->batch;
    s->batch = NULL;
    if (!b)
        return PS_OK;
    if (rc == PS_OK && b->n)
        return hand_over(s->parser, b);
    pthread_mutex_lock(&s->r->lock);
    batch_put_locked(s->r, b);
    pthread_mutex_unlock(&s->r->lock);
    return PS_OK;
}

static void begin_object(scanner *s, uint64_t offset)
{
    ps_buf_reset(&s->object);
    ps_buf_addc(&s->object, '{');
    s->object_offset = offset;
    s->object_line = s->line;
    s->depth = 1;
    s->in_string = s->escaped = 0;
    s->resyncing = 0;
}

/* One byte inside an object. Returns PS_OK or an error/stop. */
static int object_byte(scanner *s, char c)
{
    if (s->object.len >= s->r->max_object) {
        char why[120];
        snprintf(why, sizeof why, "object larger than %zu bytes", s->r->max_object);
        reject(s, s->object_line, why);
        return PS_OK;
    }
    ps_buf_addc(&s->object, c);
    if (s->object.failed)
        return PS_ERR_NOMEM;
    if (s->in_string) {
        if (s->escaped)
            s->escaped = 0;
        else if (c == '\\')
            s->escaped = 1;
        else if (c == '"')
            s->in_string = 0;
    } else if (c == '"') {
        s->in_string = 1;
    } else if (c == '{' || c == '[') {
        if (++s->depth > s->r->max_depth) {
            char why[120];
            snprintf(why, sizeof why, "nested deeper than %u levels", s->r->max_depth);
            reject(s, s->object_line, why);
        }
    } else if ((c == '}' || c == ']') && --s->depth == 0) {
        return deliver(s);
    }
    return PS_OK;
}

/* One byte between objects: blank, or the ',' '[' ']' of a JSON array. */
static void between_byte(scanner *s, char c)
{
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ',' || c == '[' || c == ']')
        return;
    if (c == '\xEF' || c == '\xBB' || c == '\xBF') /* UTF-8 byte order mark */
        if (s->offset < 3)
            return;
    reject(s, s->line, "not a JSON object");
}

/* Bytes that change the scanner's state: inside a string ('"', '\\', a
 * line end) and outside (quotes, brackets, line ends). Runs of the others
 * are copied into the object at once: a per-byte step for every byte of an
 * export cost more than parsing it. */
static const uint8_t STOPS_IN_STRING[256] = {['"'] = 1, ['\\'] = 1, ['\n'] = 1};
static const uint8_t STOPS_IN_OBJECT[256] = {['"'] = 1,  ['{'] = 1, ['}'] = 1, ['['] = 1,
                                             [']'] = 1,  ['\n'] = 1};

/* The length of the run of plain bytes at data[i..n), which leave the
 * scanner as it is but for the offset. */
static size_t plain_run(const scanner *s, const char *data, size_t i, size_t n)
{
    if (!s->depth || s->escaped || s->at_line_start)
        return 0;
    const uint8_t *stops = s->in_string ? STOPS_IN_STRING : STOPS_IN_OBJECT;
    size_t j = i;
    while (j < n && !stops[(uint8_t)data[j]])
        j++;
    /* The size limit is checked byte by byte, where it is reached. */
    return s->object.len + (j - i) < s->r->max_object ? j - i : 0;
}

static int scanner_feed(scanner *s, const char *data, size_t n)
{
    int rc = PS_OK;
    for (size_t i = 0; i < n && rc == PS_OK; i++, s->offset++) {
        size_t plain = plain_run(s, data, i, n);
        if (plain) {
            ps_buf_add(&s->object, data + i, plain);
            if (s->object.failed)
                return PS_ERR_NOMEM;
            i += plain;
            s->offset += plain;
            if (i == n)
                break;
        }
        char c = data[i];
        int line_start = s->at_line_start;
        s->at_line_start = c == '\n';
        if (c == '{' && line_start && (s->depth || s->resyncing)) {
            if (s->depth) /* a '{' in column 1 inside an object: it was cut short */
                reject(s, s->object_line, "object cut short (a new one starts in column 1)");
            begin_object(s, s->offset);
        } else if (s->depth) {
            rc = object_byte(s, c);
        } else if (!s->resyncing) {
            if (c == '{')
                begin_object(s, s->offset);
            else
                between_byte(s, c);
        }
        if (c == '\n')
            s->line++;
    }
    return rc;
}

static void scanner_end_file(scanner *s)
{
    if (s->depth)
        reject(s, s->object_line, "object cut short by the end of the file");
}

/* Add the scanner's counts and `bytes` to the run; report progress. */
static void flush_stats(scanner *s, uint64_t bytes)
{
    run *r = s->r;
    parser *p = s->parser;
    pthread_mutex_lock(&r->lock);
    r->stats.bytes += bytes;
    r->stats.records += p->records;
    r->stats.skipped += s->skipped + p->skipped;
    s->skipped = p->records = p->skipped = 0;
    if (r->opt->progress)
        r->opt->progress(r->opt->progress_ctx, &r->stats);
    pthread_mutex_unlock(&r->lock);
}

/* --- workers ---------------------------------------------------------------------- */

static int read_file(scanner *s, const char *path, char *block)
{
    int fd = ps_open_evidence(path, 0);
    if (fd < 0) {
        run_diag(s->r, PS_DIAG_ERROR, path, 0, 0, strerror(errno));
        pthread_mutex_lock(&s->r->lock);
        s->r->stats.files_failed++;
        pthread_mutex_unlock(&s->r->lock);
        return PS_OK;
    }
    pthread_mutex_lock(&s->r->lock);
    s->r->stats.files++;
    pthread_mutex_unlock(&s->r->lock);
    scanner_start_file(s, path);
    int rc = PS_OK;
    for (;;) {
        ssize_t got = read(fd, block, READ_BLOCK);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            run_diag(s->r, PS_DIAG_ERROR, path, s->offset, 0, strerror(errno));
            break;
        }
        if (got == 0)
            break;
        rc = scanner_feed(s, block, (size_t)got);
        flush_stats(s, (uint64_t)got);
        if (rc != PS_OK || run_stopped(s->r))
            break;
    }
    if (rc == PS_OK)
        scanner_end_file(s);
    int rest = deliver_rest(s, rc);
    if (rc == PS_OK)
        rc = rest;
    flush_stats(s, 0);
    close(fd);
    return rc;
}

typedef struct worker {
    run *r;
    unsigned index;
} worker;

/* What a thread does next: parse a queued batch, else read the next file,
 * else wait while others still read; NULL for both when all is done. Under
 * the run's lock. */
static void next_task_locked(run *r, batch **b, const char **path)
{
    *b = NULL;
    *path = NULL;
    for (;;) {
        if (r->status != PS_OK)
            return;
        if (r->queue) {
            *b = r->queue;
            if (!(r->queue = (*b)->next))
                r->queue_tail = NULL;
            r->queued_bytes -= (*b)->bytes.len;
            return;
        }
        if (r->next_file < r->nfiles) {
            *path = r->files[r->next_file++];
            r->readers++;
            return;
        }
        if (!r->readers)
            return;
        pthread_cond_wait(&r->changed, &r->lock);
    }
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    run *r = w->r;
    parser p;
    parser_init(&p, r, w->index);
    scanner s;
    scanner_init(&s, r, &p);
    char *block = malloc(READ_BLOCK);
    if (!block)
        run_fail(r, PS_ERR_NOMEM);
    while (block) {
        batch *b;
        const char *path;
        pthread_mutex_lock(&r->lock);
        next_task_locked(r, &b, &path);
        pthread_mutex_unlock(&r->lock);
        int rc = PS_OK;
        if (b) {
            rc = parse_batch(&p, b);
        } else if (path) {
            rc = read_file(&s, path, block);
            pthread_mutex_lock(&r->lock);
            r->readers--;
            pthread_cond_broadcast(&r->changed);
            pthread_mutex_unlock(&r->lock);
        } else {
            break;
        }
        if (rc != PS_OK)
            run_fail(r, rc);
    }
    free(block);
    scanner_free(&s);
    parser_free(&p);
    return NULL;
}

static void run_init(run *r, const ps_jsonl_options *opt, ps_event_fn fn, void *ctx)
{
    static const ps_jsonl_options defaults = {0};
    memset(r, 0, sizeof *r);
    atomic_init(&r->halted, 0);
    r->opt = opt ? opt : &defaults;
    r->max_object = r->opt->max_object_bytes ? r->opt->max_object_bytes
                                             : PS_JSONL_DEFAULT_MAX_OBJECT;
    r->max_depth = r->opt->max_depth ? r->opt->max_depth : PS_JSONL_DEFAULT_MAX_DEPTH;
    r->fn = fn;
    r->ctx = ctx;
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->changed, NULL);
}

static int run_finish(run *r, ps_jsonl_stats *stats)
{
    for (size_t i = 0; i < r->nfiles; i++)
        free(r->files[i]);
    free(r->files);
    batch_free_list(r->queue); /* left by a stop */
    batch_free_list(r->spare);
    pthread_cond_destroy(&r->changed);
    pthread_mutex_destroy(&r->lock);
    if (stats)
        *stats = r->stats;
    return r->status;
}

static void run_workers(run *r)
{
    size_t n = ps_evtx_threads(r->opt->threads);
    r->batching = n > 1;
    r->max_queued_bytes = n * QUEUED_BYTES_PER_THREAD;
    worker *ws = calloc(n, sizeof *ws);
    pthread_t *tids = calloc(n, sizeof *tids);
    if (!ws || !tids) {
        run_fail(r, PS_ERR_NOMEM);
        n = 0;
    }
    size_t started = 0;
    for (size_t i = 0; i < n; i++) {
        ws[i] = (worker){r, (unsigned)i};
        if (n == 1) /* no thread for one worker: the caller's thread reads */
            worker_main(&ws[i]);
        else if (pthread_create(&tids[i], NULL, worker_main, &ws[i]) == 0)
            started++;
        else if (started == 0 && i == 0)
            worker_main(&ws[i]); /* no threads at all: still do the work */
    }
    for (size_t i = 0; i < started; i++)
        pthread_join(tids[i], NULL);
    free(ws);
    free(tids);
}

int ps_jsonl_events(const char *const *paths, size_t npaths, const ps_jsonl_options *opt,
                    ps_event_fn fn, void *ctx, ps_jsonl_stats *stats)
{
    if (!fn || (npaths && !paths))
        return PS_ERR_ARG;
    run r;
    run_init(&r, opt, fn, ctx);
    r.status = expand_inputs(&r, paths, npaths);
    if (r.status == PS_OK && r.nfiles)
        run_workers(&r);
    return run_finish(&r, stats);
}

int ps_jsonl_events_mem(const char *text, size_t len, const char *name,
                        const ps_jsonl_options *opt, ps_event_fn fn, void *ctx,
                        ps_jsonl_stats *stats)
{
    if (!fn || (len && !text))
        return PS_ERR_ARG;
    run r;
    run_init(&r, opt, fn, ctx);
    parser p;
    parser_init(&p, &r, 0);
    scanner s;
    scanner_init(&s, &r, &p);
    scanner_start_file(&s, name ? name : "");
    r.stats.files = 1;
    int rc = scanner_feed(&s, text, len);
    if (rc == PS_OK)
        scanner_end_file(&s);
    flush_stats(&s, len);
    scanner_free(&s);
    parser_free(&p);
    r.status = rc;
    return run_finish(&r, stats);
}
