/*
 * The EVTX run driver: expands inputs into files, cuts files into 64 KiB
 * chunks, and hands chunks to worker threads. A chunk is self-contained (all
 * offsets in it are chunk-relative), so workers need no shared parser state.
 * Each work item gets a sequence number and renders into one of a ring of
 * output slots (twice as many as workers); finished slots are written
 * strictly in sequence order by whichever worker finds the next one ready,
 * so a multi-threaded dump is byte-identical to a single-threaded one and no
 * worker waits for a slower chunk ahead of it unless it is a whole ring
 * ahead. Memory is one chunk buffer and arenas per worker and the slots'
 * output buffers, whatever the input size.
 */
#include <dirent.h>
#include <limits.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "evtx/bytes.h"
#include "evtx/chunk.h"
#include "evtx/idset.h"
#include "evtx/render.h"
#include "evtx/template.h"
#include "plainsight/evtx.h"
#include "util/buf.h"
#include "util/evidence.h"

#define MAX_DIR_DEPTH 64
/* Rendered output of one chunk. Real chunks render to well under 1 MiB;
 * hostile ones can amplify (arrays repeat whole subtrees, one long name can
 * be referenced thousands of times), so a record that would pass this is
 * dropped with a warning and the rest of the chunk goes on. */
#define CHUNK_OUTPUT_LIMIT (16u << 20)
#define MAX_WORKERS 256

/* --- inputs ----------------------------------------------------------------- */

typedef struct path_list {
    char **items;
    size_t len, cap;
} path_list;

static int path_add(path_list *l, const char *p)
{
    if (ps_grow_array((void **)&l->items, &l->cap, l->len, sizeof *l->items) != 0)
        return -1;
    if (!(l->items[l->len] = strdup(p)))
        return -1;
    l->len++;
    return 0;
}

static void path_list_free(path_list *l)
{
    for (size_t i = 0; i < l->len; i++)
        free(l->items[i]);
    free(l->items);
}

static int has_evtx_suffix(const char *name)
{
    size_t n = strlen(name);
    return n > 5 && !strcasecmp(name + n - 5, ".evtx");
}

/* Entries are "<type char><name>": order by name. */
static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a + 1, *(char *const *)b + 1);
}

typedef struct run run;
static void run_diag(run *r, ps_severity sev, const char *path, uint64_t off,
                     const char *msg);

/* Collect *.evtx below `dir`, in name order, without following symbolic
 * links (evidence trees may hold loops). */
static int walk_dir(run *r, path_list *out, const char *dir, int depth)
{
    if (depth > MAX_DIR_DEPTH) {
        run_diag(r, PS_DIAG_WARNING, dir, 0, "directory tree too deep; not descended");
        return 0;
    }
    DIR *d = opendir(dir);
    if (!d) {
        run_diag(r, PS_DIAG_ERROR, dir, 0, strerror(errno));
        return 0;
    }
    /* Entry names carry their d_type in a leading byte, so most entries
     * need no lstat (one syscall fewer per file on large evidence trees). */
    path_list names = {0};
    struct dirent *e;
    int rc = 0;
    char typed[NAME_MAX + 2];
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char kind = e->d_type == DT_DIR ? 'd' : e->d_type == DT_REG ? 'f'
                    : e->d_type == DT_UNKNOWN ? '?' : 'o';
        if (kind == 'o' || (kind == 'f' && !has_evtx_suffix(e->d_name)))
            continue; /* links, devices, FIFOs, other files: not ours */
        snprintf(typed, sizeof typed, "%c%s", kind, e->d_name);
        if (path_add(&names, typed))
            rc = -1;
    }
    closedir(d);
    if (names.len)
        qsort(names.items, names.len, sizeof *names.items, cmp_name);
    ps_buf full;
    ps_buf_init(&full);
    for (size_t i = 0; i < names.len && rc == 0; i++) {
        const char *name = names.items[i] + 1;
        char kind = names.items[i][0];
        ps_buf_reset(&full);
        ps_buf_printf(&full, "%s/%s", dir, name);
        const char *p = ps_buf_cstr(&full);
        struct stat st;
        if (kind == '?') {
            if (lstat(p, &st) != 0)
                continue;
            kind = S_ISDIR(st.st_mode) ? 'd' : S_ISREG(st.st_mode) ? 'f' : 'o';
        }
        if (kind == 'd')
            rc = walk_dir(r, out, p, depth + 1);
        else if (kind == 'f' && has_evtx_suffix(name))
            rc = path_add(out, p);
    }
    ps_buf_free(&full);
    path_list_free(&names);
    return rc;
}

/* --- files ----------------------------------------------------------------------- */

typedef struct evtx_file {
    char *path;
    int fd;
    uint64_t size;
    uint32_t nchunks;
    uint32_t next_chunk;
    uint16_t header_chunks;    /* the header's (unreliable) chunk count */
    int stale_noted;
    unsigned refs;             /* work items in flight + 1 while current */
    /* --recover: live record id ranges from chunk headers, and the ids of
     * recovered records already delivered. */
    uint64_t (*live)[2];
    uint32_t nlive;
    id_set recovered;
} evtx_file;

/* --- the run ------------------------------------------------------------------------ */

typedef struct work_item {
    evtx_file *file;
    uint32_t chunk;
    uint64_t seq;
} work_item;

struct run {
    const ps_evtx_options *opt;
    path_list inputs;
    size_t next_input;
    evtx_file *current;

    /* what to do with records */
    int dump;
    ps_format format;
    ps_write_fn out;
    void *out_ctx;
    ps_event_fn event_fn;
    void *event_ctx;

    pthread_mutex_t lock;
    pthread_cond_t slot_freed;
    uint64_t next_seq;
    uint64_t write_seq;
    struct out_slot *slots;    /* dump: the ring, slot = seq % nslots */
    unsigned nslots;
    int writing;               /* a worker is writing ready slots */
    uint64_t records_written;  /* for JSON array commas */
    int stop;
    int status;
    ps_evtx_stats stats;
    tpl_store *templates;      /* compiled templates, shared by the workers */
};

static void run_diag(run *r, ps_severity sev, const char *path, uint64_t off,
                     const char *msg)
{
    /* Callers may or may not hold the run lock; diagnostics get their own
     * serialisation by being issued only under it (see diag_locked). */
    if (sev >= PS_DIAG_WARNING)
        r->stats.warnings++;
    if (!r->opt->diag)
        return;
    ps_diag d = {.severity = sev, .path = path, .offset = off, .message = msg};
    r->opt->diag(r->opt->diag_ctx, &d);
}

static void file_free(evtx_file *f)
{
    if (f->fd >= 0)
        close(f->fd);
    free(f->path);
    free(f->live);
    id_set_free(&f->recovered);
    free(f);
}

static int read_full(int fd, void *buf, size_t n, uint64_t off, size_t *got)
{
    size_t done = 0;
    while (done < n) {
        ssize_t k = pread(fd, (char *)buf + done, n - done, (off_t)(off + done));
        if (k < 0) {
            if (errno == EINTR)
                continue;
            *got = done;
            return -1;
        }
        if (k == 0)
            break;
        done += (size_t)k;
    }
    *got = done;
    return 0;
}

/* --recover needs the live id range of every chunk to tell a carved copy
 * of a live record from a genuinely deleted one. */
static void collect_live_ranges(evtx_file *f)
{
    f->live = calloc(f->nchunks ? f->nchunks : 1, sizeof *f->live);
    if (!f->live)
        return;
    uint8_t hdr[48];
    for (uint32_t i = 0; i < f->nchunks; i++) {
        size_t got;
        uint64_t off = EVTX_FILE_HEADER_SIZE + (uint64_t)i * EVTX_CHUNK_SIZE;
        if (read_full(f->fd, hdr, sizeof hdr, off, &got) || got < sizeof hdr ||
            memcmp(hdr, "ElfChnk", 8))
            continue;
        f->live[f->nlive][0] = rd64(hdr + 24);
        f->live[f->nlive][1] = rd64(hdr + 32);
        f->nlive++;
    }
}

static int is_live_id(const evtx_file *f, uint64_t id)
{
    for (uint32_t i = 0; i < f->nlive; i++)
        if (id >= f->live[i][0] && id <= f->live[i][1])
            return 1;
    return 0;
}

static void check_file_header(run *r, evtx_file *f, const uint8_t *h)
{
    if (evtx_crc32(0, h, 120) != rd32(h + 124))
        run_diag(r, PS_DIAG_WARNING, f->path, 124,
                 "file header CRC32 mismatch; header fields not trusted");
    uint32_t flags = rd32(h + 120);
    if (flags & 1)
        run_diag(r, PS_DIAG_NOTE, f->path, 120,
                 "file marked dirty (not closed cleanly); reading every chunk");
    uint64_t first = rd64(h + 8), last = rd64(h + 16);
    if (first > last)
        run_diag(r, PS_DIAG_NOTE, f->path, 8,
                 "first chunk number after last (log wrapped or damaged); reading every chunk");
    /* The u16 count overflows past 65535 chunks; only the low bits count. */
    f->header_chunks = rd16(h + 42);
}

/* Chunks past the header's count are normally preallocated zeros; when one
 * holds records the header is stale (dirty file): say so once per file. */
static void note_stale_count(run *r, evtx_file *f, uint32_t chunk, uint64_t records)
{
    if (records == 0 || f->stale_noted || (chunk & 0xFFFF) < f->header_chunks ||
        f->nchunks > 0xFFFF)
        return;
    f->stale_noted = 1;
    char msg[128];
    snprintf(msg, sizeof msg,
             "records found past the %u chunks the file header counts (stale header)",
             (unsigned)f->header_chunks);
    run_diag(r, PS_DIAG_NOTE, f->path, 42, msg);
}

/* Open the next input as an EVTX file (under the run lock). */
static evtx_file *open_input(run *r, const char *path)
{
    evtx_file *f = calloc(1, sizeof *f);
    if (!f || !(f->path = strdup(path))) {
        free(f);
        r->status = PS_ERR_NOMEM;
        return NULL;
    }
    f->fd = ps_open_evidence(path, O_NONBLOCK);
    struct stat st;
    uint8_t h[128];
    size_t got = 0;
    const char *err = NULL;
    if (f->fd < 0 || fstat(f->fd, &st) != 0)
        err = strerror(errno);
    else if (!S_ISREG(st.st_mode))
        err = "not a regular file";
    else if (read_full(f->fd, h, sizeof h, 0, &got) != 0)
        err = strerror(errno);
    else if (got < sizeof h || memcmp(h, "ElfFile", 8) != 0)
        err = "not an EVTX file (no ElfFile signature)";
    if (err) {
        run_diag(r, PS_DIAG_ERROR, path, 0, err);
        r->stats.files_failed++;
        file_free(f);
        return NULL;
    }
    f->size = (uint64_t)st.st_size;
    uint64_t body = f->size > EVTX_FILE_HEADER_SIZE ? f->size - EVTX_FILE_HEADER_SIZE : 0;
    uint64_t n = (body + EVTX_CHUNK_SIZE - 1) / EVTX_CHUNK_SIZE;
    f->nchunks = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
    check_file_header(r, f, h);
    if (r->opt->recover)
        collect_live_ranges(f);
    f->refs = 1;
    r->stats.files++;
    r->stats.bytes += f->size < EVTX_FILE_HEADER_SIZE ? f->size : EVTX_FILE_HEADER_SIZE;
    return f;
}

static void release_file(evtx_file *f)
{
    if (--f->refs == 0)
        file_free(f);
}

/* Next chunk to decode, under the lock. 0 when the run is over. */
static int next_item(run *r, work_item *it)
{
    while (!r->stop) {
        evtx_file *f = r->current;
        if (f && f->next_chunk < f->nchunks) {
            it->file = f;
            it->chunk = f->next_chunk++;
            it->seq = r->next_seq++;
            f->refs++;
            return 1;
        }
        if (f) {
            r->current = NULL;
            release_file(f);
        }
        if (r->next_input >= r->inputs.len)
            return 0;
        r->current = open_input(r, r->inputs.items[r->next_input++]);
    }
    return 0;
}

/* --- workers ---------------------------------------------------------------------- */

typedef struct recovered_span {
    uint64_t id;
    size_t start, end;   /* byte range in the output buffer */
} recovered_span;

/* The rendered output of one work item, waiting for its turn. */
typedef struct out_slot {
    enum { SLOT_FREE, SLOT_BUSY, SLOT_READY } state;
    uint64_t seq;
    evtx_file *file;       /* held (a reference) until written */
    ps_buf out;
    recovered_span *spans;
    size_t nspans, capspans;
    uint64_t nrecords;     /* rendered records in out */
} out_slot;

typedef struct worker {
    run *r;
    unsigned index;
    chunk_decoder dec;
    uint8_t *chunk;
    field_vec fields;
    tpl_model_buf model;   /* values of compiled event models */
    work_item item;
    out_slot *slot;        /* dump: where the current item renders */
    uint64_t nrecords;     /* delivered for the current item */
    uint64_t nrecovered;   /* of which carved from slack */
} worker;

static void worker_diag(void *ctx, ps_severity sev, uint64_t off, const char *msg)
{
    worker *w = ctx;
    pthread_mutex_lock(&w->r->lock);
    run_diag(w->r, sev, w->item.file->path, off, msg);
    pthread_mutex_unlock(&w->r->lock);
}

static int add_span(out_slot *o, uint64_t id, size_t start, size_t end)
{
    if (ps_grow_array((void **)&o->spans, &o->capspans, o->nspans, sizeof *o->spans) != 0)
        return -1;
    o->spans[o->nspans++] = (recovered_span){id, start, end};
    return 0;
}

/* Render one record in the run's format: through the compiled templates
 * when the record allows, else from its tree.
 * Returns 0 when nothing of the record could be decoded. */
static int render_record(worker *w, record_src *rec)
{
    ps_buf *out = &w->slot->out;
    ps_format format = w->r->format;
    int pretty = format == PS_FORMAT_JSON;
    size_t start = out->len;
    if (pretty)
        /* An item of one JSON array, with its separator; the writer drops
         * the separator of the very first item. */
        ps_buf_lit(out, ",\n");
    int fast = format == PS_FORMAT_XML ? record_xml_fast(rec, out)
                                       : record_json_fast(rec, out, pretty);
    if (!fast) {
        const bx_node *roots = record_tree(rec);
        if (!roots) {
            out->len = start;
            return 0;
        }
        if (format == PS_FORMAT_XML)
            render_xml(out, roots);
        else
            render_json(out, roots, pretty, &w->dec.record_arena);
    }
    if (format == PS_FORMAT_JSONL)
        ps_buf_addc(out, '\n');
    return 1;
}

static int on_record_dump(void *ctx, const record_info *ri, record_src *rec)
{
    worker *w = ctx;
    out_slot *o = w->slot;
    size_t start = o->out.len;
    if (!render_record(w, rec))
        return 0;
    if (o->out.failed) {
        o->out.len = start;
        o->out.failed = 0;
        worker_diag(w, PS_DIAG_WARNING, ri->file_offset,
                    "record renders past the output limit of a chunk; record skipped");
        return 0;
    }
    if (ri->recovered && add_span(o, ri->id, start, o->out.len) != 0)
        return -1;
    o->nrecords++;
    w->nrecords++;
    w->nrecovered += ri->recovered;
    return 0;
}

static int claim_recovered(evtx_file *f, uint64_t id)
{
    if (is_live_id(f, id))
        return 0;
    return id_set_add(&f->recovered, id) == 1;
}

static int on_record_event(void *ctx, const record_info *ri, record_src *rec)
{
    worker *w = ctx;
    run *r = w->r;
    ps_event ev = {0};
    ev.time_filetime = ri->written;
    /* The compiled event model where the record allows, else its tree. */
    int fast = w->dec.templates && tpl_build_event(w->dec.templates, &w->dec.bx, rec->start,
                                                   rec->end, &w->fields, &w->model, &ev);
    const bx_node *roots = NULL;
    if (!fast && !(roots = record_tree(rec)))
        return 0;
    if (ri->recovered) {
        pthread_mutex_lock(&r->lock);
        int fresh = claim_recovered(w->item.file, ri->id);
        pthread_mutex_unlock(&r->lock);
        if (!fresh)
            return 0;
    }
    if (!fast && build_event(&ev, &w->fields, roots, &w->dec.record_arena) != 0)
        worker_diag(w, PS_DIAG_WARNING, ri->file_offset, "record too large for the event model");
    ev.source = w->item.file->path;
    ev.offset = ri->file_offset;
    ev.recovered = ri->recovered;
    if (!ev.record_id)
        ev.record_id = ri->id;
    w->nrecords++;
    w->nrecovered += ri->recovered;
    return r->event_fn(r->event_ctx, w->index, &ev) ? 1 : 0;
}

/* Write one segment of output. In JSON every item carries a leading
 * separator; the first item of the whole array goes without. */
static int write_out(run *r, const char *p, size_t n, uint64_t records)
{
    if (!n)
        return 0;
    if (r->format == PS_FORMAT_JSON && r->records_written == 0) {
        p++;
        n--;
    }
    if (r->out(r->out_ctx, p, n))
        return -1;
    r->records_written += records;
    return 0;
}

/* Write a slot's output, dropping recovered records that duplicate a live
 * record or an already written recovered one. Called in sequence. */
static int flush_slot(run *r, out_slot *o)
{
    size_t pos = 0;
    uint64_t live_records = o->nrecords - o->nspans;
    if (!o->out.data)
        return 0; /* nothing rendered */
    for (size_t i = 0; i < o->nspans; i++) {
        recovered_span *s = &o->spans[i];
        if (write_out(r, o->out.data + pos, s->start - pos, live_records))
            return -1;
        live_records = 0;
        pthread_mutex_lock(&r->lock);
        int fresh = claim_recovered(o->file, s->id);
        pthread_mutex_unlock(&r->lock);
        if (fresh && write_out(r, o->out.data + s->start, s->end - s->start, 1))
            return -1;
        if (!fresh) {
            pthread_mutex_lock(&r->lock);
            r->stats.records--;
            r->stats.recovered--;
            pthread_mutex_unlock(&r->lock);
        }
        pos = s->end;
    }
    return write_out(r, o->out.data + pos, o->out.len - pos, live_records);
}

static void process_item(worker *w)
{
    run *r = w->r;
    evtx_file *f = w->item.file;
    uint64_t off = EVTX_FILE_HEADER_SIZE + (uint64_t)w->item.chunk * EVTX_CHUNK_SIZE;
    size_t got = 0;
    w->nrecords = 0;
    w->nrecovered = 0;
    chunk_result res = {0};
    int stopped = 0;
    if (read_full(f->fd, w->chunk, EVTX_CHUNK_SIZE, off, &got) != 0) {
        worker_diag(w, PS_DIAG_ERROR, off, strerror(errno));
    } else if (got > 0) {
        record_fn fn = r->dump ? on_record_dump : on_record_event;
        stopped = chunk_decode(&w->dec, w->chunk, (uint32_t)got, off, fn, w, &res);
    }
    pthread_mutex_lock(&r->lock);
    r->stats.bytes += got;
    r->stats.chunks += !res.skipped && got > 0;
    r->stats.records += w->nrecords;
    r->stats.recovered += w->nrecovered;
    note_stale_count(r, f, w->item.chunk, w->nrecords);
    /* Zero chunks past the header's count are preallocated space; inside
     * it, a chunk of zeros means data was wiped or never written. */
    if (res.skipped && got == EVTX_CHUNK_SIZE && (w->item.chunk & 0xFFFF) < f->header_chunks)
        run_diag(r, PS_DIAG_WARNING, f->path, off,
                 "chunk is all zeros inside the range the file header counts (wiped?)");
    if (stopped && !r->stop) {
        r->stop = 1;
        r->status = PS_ERR_STOP;
    }
    pthread_mutex_unlock(&r->lock);
}

/* Dump: take the item's slot in the ring, once the item a whole ring
 * earlier is written. Not merely once the slot is free: a worker a ring
 * further on may be waiting for the same slot, and must not take it first
 * (the item it would wait behind could then never be written). Under the
 * run lock. */
static void take_slot(worker *w)
{
    run *r = w->r;
    out_slot *o = &r->slots[w->item.seq % r->nslots];
    while (w->item.seq >= r->write_seq + r->nslots || o->state != SLOT_FREE)
        pthread_cond_wait(&r->slot_freed, &r->lock);
    o->state = SLOT_BUSY;
    o->seq = w->item.seq;
    o->file = w->item.file; /* the item's file reference moves to the slot */
    o->nrecords = 0;
    o->nspans = 0;
    ps_buf_reset(&o->out);
    w->slot = o;
}

/* Dump: the slot is rendered; write every slot that is next in sequence and
 * ready, unless another worker is already doing so (it will find this one).
 * Under the run lock, released while writing. */
static void complete_slot(worker *w)
{
    run *r = w->r;
    w->slot->state = SLOT_READY;
    w->slot = NULL;
    if (r->writing)
        return;
    r->writing = 1;
    for (;;) {
        out_slot *o = &r->slots[r->write_seq % r->nslots];
        if (o->state != SLOT_READY || o->seq != r->write_seq)
            break;
        int stopped = r->stop;
        pthread_mutex_unlock(&r->lock);
        int failed = !stopped && flush_slot(r, o) != 0;
        pthread_mutex_lock(&r->lock);
        if (failed && !r->stop) {
            r->stop = 1;
            r->status = PS_ERR_STOP;
        }
        release_file(o->file);
        o->file = NULL;
        o->state = SLOT_FREE;
        r->write_seq++;
        pthread_cond_broadcast(&r->slot_freed);
    }
    r->writing = 0;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    run *r = w->r;
    for (;;) {
        pthread_mutex_lock(&r->lock);
        int have = next_item(r, &w->item);
        if (have && r->dump)
            take_slot(w);
        pthread_mutex_unlock(&r->lock);
        if (!have)
            break;
        process_item(w);
        pthread_mutex_lock(&r->lock);
        if (r->opt->progress)
            r->opt->progress(r->opt->progress_ctx, &r->stats);
        if (r->dump)
            complete_slot(w);
        else
            release_file(w->item.file);
        pthread_mutex_unlock(&r->lock);
    }
    return NULL;
}

static int worker_init(worker *w, run *r, unsigned index)
{
    memset(w, 0, sizeof *w);
    w->r = r;
    w->index = index;
    chunk_decoder_init(&w->dec, r->opt->recover, worker_diag, w);
    w->dec.templates = r->templates;
    w->model.defer = r->opt->defer_values;
    w->chunk = malloc(EVTX_CHUNK_SIZE);
    return w->chunk ? 0 : -1;
}

static void worker_free(worker *w)
{
    chunk_decoder_free(&w->dec);
    free(w->chunk);
    free(w->fields.items);
    tpl_model_buf_free(&w->model);
}

/* The ring of output slots: two per worker, so a worker can start its next
 * chunk while the one before it is still waiting for a slower neighbour. */
static int slots_init(run *r, unsigned nworkers)
{
    r->nslots = 2 * nworkers;
    r->slots = calloc(r->nslots, sizeof *r->slots);
    if (!r->slots)
        return -1;
    for (unsigned i = 0; i < r->nslots; i++) {
        ps_buf_init(&r->slots[i].out);
        r->slots[i].out.limit = CHUNK_OUTPUT_LIMIT;
    }
    return 0;
}

static void slots_free(run *r)
{
    for (unsigned i = 0; r->slots && i < r->nslots; i++) {
        ps_buf_free(&r->slots[i].out);
        free(r->slots[i].spans);
        if (r->slots[i].file)
            release_file(r->slots[i].file);
    }
    free(r->slots);
}

unsigned ps_evtx_threads(unsigned requested)
{
    if (requested == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        requested = n > 0 ? (unsigned)n : 1;
    }
    return requested > MAX_WORKERS ? MAX_WORKERS : requested;
}

static int expand_inputs(run *r, const char *const *paths, size_t npaths)
{
    for (size_t i = 0; i < npaths; i++) {
        struct stat st;
        if (stat(paths[i], &st) != 0) {
            run_diag(r, PS_DIAG_ERROR, paths[i], 0, strerror(errno));
            r->stats.files_failed++;
            continue;
        }
        int rc = S_ISDIR(st.st_mode) ? walk_dir(r, &r->inputs, paths[i], 0)
                                     : path_add(&r->inputs, paths[i]);
        if (rc)
            return PS_ERR_NOMEM;
    }
    return PS_OK;
}

static int run_all(run *r, const char *const *paths, size_t npaths, ps_evtx_stats *stats)
{
    static const ps_evtx_options defaults = {0};
    if (!r->opt)
        r->opt = &defaults;
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->slot_freed, NULL);
    int status = expand_inputs(r, paths, npaths);
    /* Without a store every record takes the slow lane: slower, same output. */
    r->templates = tpl_store_new();
    unsigned n = ps_evtx_threads(r->opt->threads);
    worker *ws = calloc(n, sizeof *ws);
    pthread_t *tids = calloc(n, sizeof *tids);
    unsigned started = 0;
    if (status == PS_OK && (!ws || !tids))
        status = PS_ERR_NOMEM;
    for (unsigned i = 0; status == PS_OK && i < n; i++)
        if (worker_init(&ws[i], r, i) != 0)
            status = PS_ERR_NOMEM;
    if (status == PS_OK && r->dump && slots_init(r, n) != 0)
        status = PS_ERR_NOMEM;
    if (status == PS_OK && r->dump && r->format == PS_FORMAT_JSON && r->out(r->out_ctx, "[", 1))
        status = PS_ERR_STOP;
    if (status == PS_OK && r->dump && r->format == PS_FORMAT_XML) {
        static const char head[] = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Events>\n";
        if (r->out(r->out_ctx, head, sizeof head - 1))
            status = PS_ERR_STOP;
    }
    if (status == PS_OK) {
        if (n == 1) {
            worker_main(&ws[0]); /* no thread: saves the hand-off per chunk */
        } else {
            for (; started < n; started++)
                if (pthread_create(&tids[started], NULL, worker_main, &ws[started]) != 0)
                    break;
            if (started == 0)
                worker_main(&ws[0]);
            for (unsigned i = 0; i < started; i++)
                pthread_join(tids[i], NULL);
        }
        if (r->status)
            status = r->status;
    }
    if (status == PS_OK && r->dump && r->format == PS_FORMAT_JSON &&
        r->out(r->out_ctx, r->records_written ? "\n]\n" : "]\n", r->records_written ? 3 : 2))
        status = PS_ERR_STOP;
    if (status == PS_OK && r->dump && r->format == PS_FORMAT_XML &&
        r->out(r->out_ctx, "</Events>\n", 10))
        status = PS_ERR_STOP;
    if (r->current)
        release_file(r->current);
    for (unsigned i = 0; ws && i < n; i++)
        worker_free(&ws[i]);
    slots_free(r);
    free(ws);
    free(tids);
    tpl_store_free(r->templates);
    path_list_free(&r->inputs);
    pthread_mutex_destroy(&r->lock);
    pthread_cond_destroy(&r->slot_freed);
    if (stats)
        *stats = r->stats;
    return status;
}

int ps_evtx_dump(const char *const *paths, size_t npaths, ps_format format,
                 const ps_evtx_options *opt, ps_write_fn out, void *out_ctx,
                 ps_evtx_stats *stats)
{
    if (!out || (format != PS_FORMAT_JSONL && format != PS_FORMAT_JSON && format != PS_FORMAT_XML))
        return PS_ERR_ARG;
    run r = {.opt = opt, .dump = 1, .format = format, .out = out, .out_ctx = out_ctx};
    return run_all(&r, paths, npaths, stats);
}

int ps_evtx_events(const char *const *paths, size_t npaths, const ps_evtx_options *opt,
                   ps_event_fn fn, void *ctx, ps_evtx_stats *stats)
{
    if (!fn)
        return PS_ERR_ARG;
    run r = {.opt = opt, .event_fn = fn, .event_ctx = ctx};
    return run_all(&r, paths, npaths, stats);
}
