/* Reading and parsing rule files, on several threads. Parsing YAML is most
 * of the cost of loading thousands of rule files, and each file parses on
 * its own; compiling the rules must stay in file order (rule indices,
 * diagnostics), so workers parse files ahead into a bounded window of slots
 * and the calling thread takes them in order. The calling thread is one of
 * the `threads`: rather than wait for its next file, it parses the next one
 * no thread has taken (that one, or one further on in the window); with as
 * many workers as CPUs besides it, the three threads of two CPUs took a
 * fifth longer. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sigma/sigma_internal.h"
#include "util/buf.h"

#define SG_MAX_FILE_SIZE (8u << 20)
#define SLOTS_PER_THREAD 4
#define MAX_PARSE_THREADS 16

/* A rule file or logsource table, of at most SG_MAX_FILE_SIZE bytes. */
int sg_read_file(const char *path, ps_buf *buf, const char **why)
{
    return ps_buf_read_file(buf, path, SG_MAX_FILE_SIZE, why) == PS_OK ? 0 : -1;
}

/* One file's parse, waiting for its turn to be compiled. */
typedef struct slot {
    ps_arena arena;            /* its YAML trees */
    ps_buf text;
    sg_parsed_doc *docs;
    uint32_t ndocs, cap;
    char err[256];
    sg_parsed_file result;
    int ready;
} slot;

typedef struct pool {
    const sg_rule_file *files;
    size_t n;
    slot *slots;
    size_t nslots;
    pthread_mutex_t lock;
    pthread_cond_t ready, room;  /* a slot was filled; a slot was freed */
    size_t next;                 /* the next file no thread has taken */
    size_t consumed;             /* files compiled so far */
} pool;

static int collect_doc(void *ctx, yt_node *root, uint32_t line)
{
    slot *s = ctx;
    if (s->ndocs == s->cap) {
        uint32_t cap = s->cap ? s->cap * 2 : 8;
        sg_parsed_doc *docs = realloc(s->docs, cap * sizeof *docs);
        if (!docs) {
            snprintf(s->err, sizeof s->err, "out of memory");
            return 1;
        }
        s->docs = docs;
        s->cap = cap;
    }
    s->docs[s->ndocs++] = (sg_parsed_doc){root, line};
    return 0;
}

static void parse_one(const sg_rule_file *f, slot *s)
{
    ps_arena_reset(&s->arena);
    s->ndocs = 0;
    s->err[0] = 0;
    s->result = (sg_parsed_file){.file = f};
    if (f->bad_path)
        return;
    const char *why = NULL;
    if (sg_read_file(f->path, &s->text, &why) != 0) {
        s->result.read_error = why;
        return;
    }
    uint32_t line = 0;
    char err[256];
    int rc = yt_parse(s->text.data ? s->text.data : "", s->text.len, &s->arena, collect_doc, s,
                      err, sizeof err, &line);
    if (s->err[0]) { /* collect_doc stopped it */
        s->result.parse_error = s->err;
        s->result.error_line = line;
    } else if (rc != 0) {
        snprintf(s->err, sizeof s->err, "%s", err);
        s->result.parse_error = s->err;
        s->result.error_line = line;
    }
    s->result.docs = s->docs;
    s->result.ndocs = s->ndocs;
}

/* Is there a file no thread has taken, with a free slot in the window? */
static int can_take(const pool *p)
{
    return p->next < p->n && p->next < p->consumed + p->nslots;
}

/* Take the next file and parse it into its slot (called and returning with
 * the lock held, which the parse itself goes without). */
static void take_next_locked(pool *p)
{
    size_t i = p->next++;
    slot *s = &p->slots[i % p->nslots];
    pthread_mutex_unlock(&p->lock);
    parse_one(&p->files[i], s);
    pthread_mutex_lock(&p->lock);
    s->ready = 1;
    pthread_cond_broadcast(&p->ready);
}

static void *worker(void *arg)
{
    pool *p = arg;
    pthread_mutex_lock(&p->lock);
    while (p->next < p->n) {
        if (can_take(p))
            take_next_locked(p);
        else /* the window is full */
            pthread_cond_wait(&p->room, &p->lock);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* Have file i parsed (every file before it is consumed): by a worker, or by
 * this thread when no worker has taken it; while a worker is on it, this
 * thread parses files further on in the window instead of waiting. */
static void take_in_order(pool *p, size_t i)
{
    slot *s = &p->slots[i % p->nslots];
    pthread_mutex_lock(&p->lock);
    while (!s->ready) {
        if (can_take(p))
            take_next_locked(p);
        else
            pthread_cond_wait(&p->ready, &p->lock);
    }
    pthread_mutex_unlock(&p->lock);
}

int sg_parse_rule_files(const sg_rule_file *files, size_t n, unsigned threads, sg_parsed_fn fn,
                        void *ctx)
{
    if (threads > MAX_PARSE_THREADS)
        threads = MAX_PARSE_THREADS;
    if (threads > n)
        threads = (unsigned)n;
    unsigned nworkers = threads > 1 ? threads - 1 : 0; /* and this thread */
    pool p = {.files = files, .n = n};
    p.nslots = threads > 1 ? (size_t)threads * SLOTS_PER_THREAD : 1;
    p.slots = calloc(p.nslots, sizeof *p.slots);
    if (!p.slots)
        return -1;
    for (size_t i = 0; i < p.nslots; i++) {
        ps_arena_init(&p.slots[i].arena, 256 * 1024, 64u << 20);
        ps_buf_init(&p.slots[i].text);
    }
    pthread_mutex_init(&p.lock, NULL);
    pthread_cond_init(&p.ready, NULL);
    pthread_cond_init(&p.room, NULL);
    pthread_t tid[MAX_PARSE_THREADS];
    unsigned started = 0;
    for (; started < nworkers; started++)
        if (pthread_create(&tid[started], NULL, worker, &p) != 0)
            break; /* fewer workers, or none: this thread parses */
    for (size_t i = 0; i < n; i++) {
        slot *s = &p.slots[i % p.nslots];
        if (started)
            take_in_order(&p, i);
        else
            parse_one(&files[i], s);
        fn(ctx, &s->result);
        pthread_mutex_lock(&p.lock);
        s->ready = 0;
        p.consumed++;
        pthread_cond_broadcast(&p.room);
        pthread_mutex_unlock(&p.lock);
    }
    for (unsigned t = 0; t < started; t++)
        pthread_join(tid[t], NULL);
    for (size_t i = 0; i < p.nslots; i++) {
        ps_arena_free(&p.slots[i].arena);
        ps_buf_free(&p.slots[i].text);
        free(p.slots[i].docs);
    }
    free(p.slots);
    pthread_cond_destroy(&p.ready);
    pthread_cond_destroy(&p.room);
    pthread_mutex_destroy(&p.lock);
    return 0;
}
