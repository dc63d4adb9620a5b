/* External merge sort of byte records; see extsort.h. A run on disk is its
 * records one after another, each as a 4-byte length and its bytes. */
#include "util/extsort.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plainsight/common.h"
#include "util/buf.h"

#define MIN_BUDGET (64u << 10)
#define IO_CHUNK (64u << 10)   /* write buffer, and each run's read buffer */

typedef struct run {
    uint64_t off, len;
} run;

/* A record in memory: its offset in recs, and its leading key (see
 * ps_extsort_set_key64; 0 without one), side by side, so that sorting
 * reads the keys in order rather than every record's bytes. */
typedef struct idx_entry {
    uint64_t key, off;
} idx_entry;

struct ps_extsort {
    size_t budget;
    char *tmpdir;
    ps_extsort_cmp cmp;
    void *cmp_ctx;
    ps_buf recs;          /* the records in memory: length and bytes each */
    idx_entry *idx;       /* their offsets in recs, and keys */
    size_t nidx, idx_cap;
    uint64_t count;
    int fd;               /* the temporary file, -1 before the first run */
    uint64_t file_len;
    run *runs;
    uint32_t nruns, runs_cap;
    uint32_t first_run;   /* runs before it were merged into later ones */
    int spill_errno;      /* the file could not be made: memory only */
    int key64;            /* records begin with their uint64_t key */
    int finished;
};

ps_extsort *ps_extsort_new(size_t budget, const char *tmpdir, ps_extsort_cmp cmp, void *cmp_ctx)
{
    ps_extsort *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->budget = budget < MIN_BUDGET ? MIN_BUDGET : budget;
    s->tmpdir = strdup(tmpdir && *tmpdir ? tmpdir : "/tmp");
    s->cmp = cmp;
    s->cmp_ctx = cmp_ctx;
    s->fd = -1;
    ps_buf_init(&s->recs);
    if (!s->tmpdir) {
        free(s);
        return NULL;
    }
    return s;
}

void ps_extsort_free(ps_extsort *s)
{
    if (!s)
        return;
    if (s->fd >= 0)
        close(s->fd);
    ps_buf_free(&s->recs);
    free(s->idx);
    free(s->runs);
    free(s->tmpdir);
    free(s);
}

void ps_extsort_set_key64(ps_extsort *s) { s->key64 = 1; }

uint64_t ps_extsort_count(const ps_extsort *s) { return s->count; }
uint32_t ps_extsort_runs(const ps_extsort *s) { return s->nruns; }
int ps_extsort_spill_errno(const ps_extsort *s) { return s->spill_errno; }

static uint32_t rec_len(const char *p)
{
    uint32_t n;
    memcpy(&n, p, 4);
    return n;
}

static uint64_t key_of(const char *rec)
{
    uint64_t k;
    memcpy(&k, rec, sizeof k);
    return k;
}

static int cmp_at(const ps_extsort *s, const idx_entry *a, const idx_entry *b)
{
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    const char *pa = s->recs.data + a->off, *pb = s->recs.data + b->off;
    return s->cmp(s->cmp_ctx, pa + 4, rec_len(pa), pb + 4, rec_len(pb));
}

/* a[lo..mid) and a[mid..hi) into b[lo..hi), ties from the left (stable). */
static void merge_into(const ps_extsort *s, const idx_entry *a, idx_entry *b, size_t lo,
                       size_t mid, size_t hi)
{
    size_t i = lo, j = mid, k = lo;
    while (i < mid && j < hi)
        b[k++] = cmp_at(s, &a[j], &a[i]) < 0 ? a[j++] : a[i++];
    while (i < mid)
        b[k++] = a[i++];
    while (j < hi)
        b[k++] = a[j++];
}

/* The ends of the index's ascending stretches, when there are at most
 * `cap` of them; 0 when there are more. */
static size_t ascending_runs(const ps_extsort *s, size_t *ends, size_t cap)
{
    size_t n = s->nidx, nruns = 0;
    for (size_t i = 1; i <= n; i++)
        if (i == n || cmp_at(s, &s->idx[i - 1], &s->idx[i]) > 0) {
            if (nruns == cap)
                return 0;
            ends[nruns++] = i;
        }
    return nruns;
}

/* Merge sort of the index (the C library's qsort has no context argument).
 * Records mostly come nearly in order (events are logged in time order, a
 * few files or chunk copies interleaved): when the index is a few
 * ascending stretches, those are merged, in about log2(stretches) passes
 * instead of log2(records); else stretches of 1, 2, 4, ... */
static int sort_index(ps_extsort *s)
{
    size_t n = s->nidx;
    if (n < 2)
        return 0;
    size_t cap = n / 64 + 1;
    idx_entry *tmp = malloc(n * sizeof *tmp), *a = s->idx, *b = tmp;
    size_t *ends = malloc(cap * sizeof *ends);
    if (!tmp || !ends) {
        free(tmp);
        free(ends);
        return -1;
    }
    size_t nruns = ascending_runs(s, ends, cap);
    while (nruns > 1) {
        size_t lo = 0, out = 0;
        for (size_t r = 0; r < nruns; r += 2) {
            size_t mid = ends[r], hi = r + 1 < nruns ? ends[r + 1] : mid;
            merge_into(s, a, b, lo, mid, hi);
            ends[out++] = hi; /* out <= r: what is still to be read is not written */
            lo = hi;
        }
        nruns = out;
        idx_entry *t = a;
        a = b;
        b = t;
    }
    for (size_t width = 1; !nruns && width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width)
            merge_into(s, a, b, lo, lo + width < n ? lo + width : n,
                       lo + 2 * width < n ? lo + 2 * width : n);
        idx_entry *t = a;
        a = b;
        b = t;
    }
    if (a != s->idx)
        memcpy(s->idx, a, n * sizeof *a);
    free(tmp);
    free(ends);
    return 0;
}

/* The temporary file: nameless where the file system allows it, else
 * unlinked as soon as it is made. */
static int open_tmp(ps_extsort *s)
{
#ifdef O_TMPFILE
    int fd = open(s->tmpdir, O_TMPFILE | O_RDWR | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0)
        return fd;
#endif
    size_t len = strlen(s->tmpdir) + 32;
    char *path = malloc(len);
    if (!path) {
        errno = ENOMEM;
        return -1;
    }
    snprintf(path, len, "%s/plainsight-sort-XXXXXX", s->tmpdir);
    int fd2 = mkstemp(path);
    if (fd2 >= 0)
        unlink(path);
    int saved = errno;
    free(path);
    errno = saved;
    return fd2;
}

static int write_all(int fd, uint64_t off, const char *p, size_t n)
{
    while (n) {
        ssize_t w = pwrite(fd, p, n, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return 0;
}

/* Appending one run to the file through a buffer. */
typedef struct run_writer {
    ps_extsort *s;
    char *buf;
    size_t len;
    run r;
    int failed;
} run_writer;

static void rw_flush(run_writer *w)
{
    if (!w->failed && w->len &&
        write_all(w->s->fd, w->r.off + w->r.len, w->buf, w->len) != 0)
        w->failed = 1;
    w->r.len += w->len;
    w->len = 0;
}

static void rw_put(run_writer *w, const void *p, size_t n)
{
    const char *c = p;
    while (n && !w->failed) {
        size_t room = IO_CHUNK - w->len, take = n < room ? n : room;
        memcpy(w->buf + w->len, c, take);
        w->len += take;
        c += take;
        n -= take;
        if (w->len == IO_CHUNK)
            rw_flush(w);
    }
}

static int rw_begin(run_writer *w, ps_extsort *s)
{
    *w = (run_writer){.s = s, .buf = malloc(IO_CHUNK), .r = {s->file_len, 0}};
    return w->buf ? 0 : -1;
}

/* Finish the run and list it; -1 when it could not be written. */
static int rw_end(run_writer *w)
{
    rw_flush(w);
    free(w->buf);
    ps_extsort *s = w->s;
    if (w->failed)
        return -1;
    if (s->nruns == s->runs_cap) {
        uint32_t cap = s->runs_cap ? s->runs_cap * 2 : 16;
        run *r = realloc(s->runs, cap * sizeof *r);
        if (!r)
            return -1;
        s->runs = r;
        s->runs_cap = cap;
    }
    s->runs[s->nruns++] = w->r;
    s->file_len = w->r.off + w->r.len;
    return 0;
}

/* Sort what is in memory and write it as a run. 1 when the file could not
 * be made (nothing written, keep going in memory), 0, or a PS_ERR_*. */
static int spill(ps_extsort *s)
{
    if (s->fd < 0) {
        s->fd = open_tmp(s);
        if (s->fd < 0) {
            s->spill_errno = errno ? errno : EIO;
            return 1;
        }
    }
    if (sort_index(s) != 0)
        return PS_ERR_NOMEM;
    run_writer w;
    if (rw_begin(&w, s) != 0)
        return PS_ERR_NOMEM;
    for (size_t i = 0; i < s->nidx; i++) {
        const char *p = s->recs.data + s->idx[i].off;
        rw_put(&w, p, 4 + (size_t)rec_len(p));
    }
    if (rw_end(&w) != 0)
        return PS_ERR_IO;
    ps_buf_reset(&s->recs);
    s->nidx = 0;
    return 0;
}

int ps_extsort_add(ps_extsort *s, const void *rec, size_t len)
{
    if (!s || s->finished || len > PS_EXTSORT_MAX_RECORD || (s->key64 && len < 8))
        return PS_ERR_ARG;
    /* the index counts twice: the merge sort's second array */
    size_t need = s->recs.len + 4 + len + (s->nidx + 1) * 2 * sizeof *s->idx;
    if (need > s->budget && s->nidx && !s->spill_errno) {
        int rc = spill(s);
        if (rc < 0)
            return rc;
    }
    if (ps_grow_array((void **)&s->idx, &s->idx_cap, s->nidx, sizeof *s->idx) != 0)
        return PS_ERR_NOMEM;
    if (!s->recs.cap && !s->spill_errno)
        ps_buf_reserve(&s->recs, s->budget); /* once: pages count only as they fill */
    uint32_t n32 = (uint32_t)len;
    size_t off = s->recs.len;
    ps_buf_add(&s->recs, &n32, 4);
    if (len)
        ps_buf_add(&s->recs, rec, len);
    if (s->recs.failed) {
        s->recs.failed = 0;
        s->recs.len = off;
        return PS_ERR_NOMEM;
    }
    s->idx[s->nidx++] = (idx_entry){s->key64 ? key_of(rec) : 0, off};
    s->count++;
    return PS_OK;
}

/* ---- merging -------------------------------------------------------------------- */

/* A source of sorted records for a merge: one run in a sorter's file, or
 * the records a sorter still holds in memory, in the order of its sorted
 * index (kept there at the end rather than written and read back). */
typedef struct run_reader {
    int fd;
    uint64_t pos, end;    /* what is left of the run in the file */
    char *buf;
    size_t cap, at, len;  /* buf[at..len) is read but not consumed */
    const ps_extsort *mem; /* the in-memory source, or NULL */
    size_t mem_at;
    const char *rec;      /* the current record, or NULL at the end */
    uint32_t rec_len;
} run_reader;

/* Make n bytes available at buf[at]; 0, or -1 on a read error or a short
 * run. */
static int rr_fill(run_reader *r, size_t n)
{
    if (r->len - r->at >= n)
        return 0;
    memmove(r->buf, r->buf + r->at, r->len - r->at);
    r->len -= r->at;
    r->at = 0;
    if (n > r->cap) {
        size_t cap = r->cap;
        while (cap < n)
            cap *= 2;
        char *b = realloc(r->buf, cap);
        if (!b)
            return -1;
        r->buf = b;
        r->cap = cap;
    }
    while (r->len < n) {
        size_t want = r->cap - r->len;
        if (want > r->end - r->pos)
            want = (size_t)(r->end - r->pos);
        if (!want)
            return -1;
        ssize_t got = pread(r->fd, r->buf + r->len, want, (off_t)r->pos);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return -1;
        r->len += (size_t)got;
        r->pos += (uint64_t)got;
    }
    return 0;
}

/* The next record into r->rec (NULL at the end of the source); -1 on error. */
static int rr_next(run_reader *r)
{
    r->rec = NULL;
    if (r->mem) {
        if (r->mem_at < r->mem->nidx) {
            const char *p = r->mem->recs.data + r->mem->idx[r->mem_at++].off;
            r->rec = p + 4;
            r->rec_len = rec_len(p);
        }
        return 0;
    }
    if (r->at == r->len && r->pos == r->end)
        return 0;
    if (rr_fill(r, 4) != 0)
        return -1;
    uint32_t n = rec_len(r->buf + r->at);
    if (n > PS_EXTSORT_MAX_RECORD || rr_fill(r, 4 + (size_t)n) != 0)
        return -1;
    r->rec = r->buf + r->at + 4;
    r->rec_len = n;
    r->at += 4 + (size_t)n;
    return 0;
}

typedef struct merger {
    ps_extsort_cmp cmp;
    void *cmp_ctx;
    int key64;
    run_reader *rd;
    uint32_t n, cap;
    uint32_t *heap;       /* reader indices, smallest record on top */
    uint32_t nheap;
} merger;

static int merger_init(merger *m, const ps_extsort *s, uint32_t cap)
{
    *m = (merger){.cmp = s->cmp, .cmp_ctx = s->cmp_ctx, .key64 = s->key64, .cap = cap};
    m->rd = calloc(cap ? cap : 1, sizeof *m->rd);
    m->heap = calloc(cap ? cap : 1, sizeof *m->heap);
    return m->rd && m->heap ? PS_OK : PS_ERR_NOMEM;
}

static int heap_less(const merger *m, uint32_t a, uint32_t b)
{
    const run_reader *x = &m->rd[a], *y = &m->rd[b];
    if (m->key64 && x->rec_len >= 8 && y->rec_len >= 8) { /* (always, from add) */
        uint64_t kx = key_of(x->rec), ky = key_of(y->rec);
        if (kx != ky)
            return kx < ky;
    }
    return m->cmp(m->cmp_ctx, x->rec, x->rec_len, y->rec, y->rec_len) < 0;
}

static void heap_down(merger *m, uint32_t i)
{
    for (;;) {
        uint32_t l = 2 * i + 1, r = l + 1, min = i;
        if (l < m->nheap && heap_less(m, m->heap[l], m->heap[min]))
            min = l;
        if (r < m->nheap && heap_less(m, m->heap[r], m->heap[min]))
            min = r;
        if (min == i)
            return;
        uint32_t t = m->heap[i];
        m->heap[i] = m->heap[min];
        m->heap[min] = t;
        i = min;
    }
}

/* Add a source, read its first record. PS_OK or a PS_ERR_*. */
static int merger_add(merger *m, run_reader src)
{
    run_reader *r = &m->rd[m->n++];
    *r = src;
    if (!r->mem) {
        r->buf = malloc(IO_CHUNK);
        r->cap = IO_CHUNK;
        if (!r->buf)
            return PS_ERR_NOMEM;
    }
    if (rr_next(r) != 0)
        return PS_ERR_IO;
    if (r->rec)
        m->heap[m->nheap++] = m->n - 1;
    return PS_OK;
}

static int merger_add_run(merger *m, const ps_extsort *s, const run *ru)
{
    return merger_add(m, (run_reader){.fd = s->fd, .pos = ru->off, .end = ru->off + ru->len});
}

static void merger_free(merger *m)
{
    for (uint32_t i = 0; m->rd && i < m->n; i++)
        free(m->rd[i].buf);
    free(m->rd);
    free(m->heap);
}

/* Every record of the sources into `out`, in order; frees the merger.
 * `rc` is the result of adding the sources. PS_OK or a PS_ERR_*. */
static int merger_run(merger *m, int rc, ps_extsort_out out, void *ctx)
{
    for (uint32_t i = m->nheap / 2; rc == PS_OK && i-- > 0;)
        heap_down(m, i);
    while (rc == PS_OK && m->nheap) {
        run_reader *r = &m->rd[m->heap[0]];
        if (out(ctx, r->rec, r->rec_len) != 0) {
            rc = PS_ERR_STOP;
            break;
        }
        if (rr_next(r) != 0) {
            rc = PS_ERR_IO;
            break;
        }
        if (!r->rec)
            m->heap[0] = m->heap[--m->nheap];
        heap_down(m, 0);
    }
    merger_free(m);
    return rc;
}

static int to_writer(void *ctx, const void *rec, size_t len)
{
    run_writer *w = ctx;
    uint32_t n = (uint32_t)len;
    rw_put(w, &n, 4);
    rw_put(w, rec, len);
    return w->failed;
}

/* Runs of s not yet merged into a longer one. */
static uint32_t live_runs(const ps_extsort *s) { return s->nruns - s->first_run; }

/* Merge s's oldest live runs (up to PS_EXTSORT_FAN_IN) into one new run at
 * the end of its file. */
static int merge_oldest(ps_extsort *s)
{
    uint32_t k = live_runs(s) < PS_EXTSORT_FAN_IN ? live_runs(s) : PS_EXTSORT_FAN_IN;
    run_writer w;
    if (rw_begin(&w, s) != 0)
        return PS_ERR_NOMEM;
    merger m;
    int rc = merger_init(&m, s, k);
    for (uint32_t i = 0; rc == PS_OK && i < k; i++)
        rc = merger_add_run(&m, s, &s->runs[s->first_run + i]);
    rc = merger_run(&m, rc, to_writer, &w);
    if (rc == PS_ERR_STOP)
        rc = PS_ERR_IO;
    if (rc != PS_OK) {
        free(w.buf);
        return rc;
    }
    if (rw_end(&w) != 0)
        return PS_ERR_IO;
    s->first_run += k;
    return PS_OK;
}

int ps_extsort_finish_all(ps_extsort *const *sorts, size_t n, ps_extsort_out out, void *out_ctx)
{
    if (!n)
        return PS_OK;
    for (size_t i = 0; i < n; i++)
        if (!sorts[i] || sorts[i]->finished || sorts[i]->cmp != sorts[0]->cmp ||
            sorts[i]->key64 != sorts[0]->key64 ||
            sorts[i]->cmp_ctx != sorts[0]->cmp_ctx)
            return PS_ERR_ARG;
    size_t sources = 0;
    for (size_t i = 0; i < n; i++) {
        ps_extsort *s = sorts[i];
        s->finished = 1;
        if (sort_index(s) != 0)
            return PS_ERR_NOMEM;
        sources += (s->nidx != 0) + live_runs(s);
    }
    /* Too many sources to read at once: merge the oldest runs of the sorter
     * with the most into a longer run until few enough are left. */
    while (sources > PS_EXTSORT_FAN_IN) {
        ps_extsort *most = sorts[0];
        for (size_t i = 1; i < n; i++)
            if (live_runs(sorts[i]) > live_runs(most))
                most = sorts[i];
        if (live_runs(most) < 2)
            break; /* one source per sorter: read them all at once */
        uint32_t before = live_runs(most);
        int rc = merge_oldest(most);
        if (rc != PS_OK)
            return rc;
        sources -= before - live_runs(most);
    }
    merger m;
    int rc = merger_init(&m, sorts[0], (uint32_t)sources);
    for (size_t i = 0; rc == PS_OK && i < n; i++) {
        ps_extsort *s = sorts[i];
        for (uint32_t r = s->first_run; rc == PS_OK && r < s->nruns; r++)
            rc = merger_add_run(&m, s, &s->runs[r]);
        if (rc == PS_OK && s->nidx)
            rc = merger_add(&m, (run_reader){.fd = -1, .mem = s});
    }
    return merger_run(&m, rc, out, out_ctx);
}

int ps_extsort_finish(ps_extsort *s, ps_extsort_out out, void *out_ctx)
{
    return ps_extsort_finish_all(&s, 1, out, out_ctx);
}
