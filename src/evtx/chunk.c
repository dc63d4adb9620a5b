#include "evtx/chunk.h"

#include <stdio.h>
#include <string.h>

#include "evtx/bytes.h"
#include "evtx/template.h"
#include "util/crc32.h"

#define RECORD_MAGIC 0x00002A2Au
#define RECORD_MIN_SIZE 32u  /* 24-byte header, some BinXML, 4-byte copy */

uint32_t evtx_crc32(uint32_t crc, const uint8_t *p, size_t n)
{
    return ps_crc32(crc, p, n);
}

static void report(chunk_decoder *d, ps_severity sev, uint32_t chunk_off, const char *msg)
{
    d->warnings += sev >= PS_DIAG_WARNING;
    if (d->diag)
        d->diag(d->diag_ctx, sev, d->file_offset + chunk_off, msg);
}

static void bx_warn(void *ctx, uint32_t chunk_off, const char *msg)
{
    chunk_decoder *d = ctx;
    /* Carved slack records are often partly overwritten: expected, so a
     * note rather than a warning. */
    report(d, d->in_slack ? PS_DIAG_NOTE : PS_DIAG_WARNING, chunk_off, msg);
}

void chunk_decoder_init(chunk_decoder *d, int recover, chunk_diag_fn diag, void *diag_ctx)
{
    memset(d, 0, sizeof *d);
    ps_arena_init(&d->arena, 256 * 1024, BX_ARENA_LIMIT);
    ps_arena_init(&d->record_arena, 64 * 1024, BX_ARENA_LIMIT);
    d->recover = recover;
    d->diag = diag;
    d->diag_ctx = diag_ctx;
}

void chunk_decoder_free(chunk_decoder *d)
{
    ps_arena_free(&d->arena);
    ps_arena_free(&d->record_arena);
}

/* Unused chunks and slack are zeros: this runs over most bytes of many
 * files, so it leaves the work to memcmp (vectorised): a buffer is all
 * zeros when its first byte is and every byte equals the one before it. */
static int all_zero(const uint8_t *p, size_t n)
{
    return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

/* Is there a plausible record at `off` that ends by `limit`? */
static uint32_t record_size_at(const uint8_t *data, uint32_t off, uint32_t limit)
{
    if (off > limit || limit - off < RECORD_MIN_SIZE || rd32(data + off) != RECORD_MAGIC)
        return 0;
    uint32_t size = rd32(data + off + 4);
    if (size < RECORD_MIN_SIZE || size > limit - off)
        return 0;
    return size;
}

static int record_is_whole(const uint8_t *data, uint32_t off, uint32_t size)
{
    uint8_t first = data[off + 24];
    return rd32(data + off + size - 4) == size &&
           (first == 0x0F || first == 0x0C || (first & 0xBF) == 0x01);
}

/* The next offset at or after `from` holding a whole record, or 0. Records
 * are 8-byte aligned in practice; scanning by 8 keeps carving cheap. */
static uint32_t find_record(const uint8_t *data, uint32_t from, uint32_t limit)
{
    for (uint32_t off = (from + 7) & ~7u; off + RECORD_MIN_SIZE <= limit; off += 8) {
        uint32_t size = record_size_at(data, off, limit);
        if (size && record_is_whole(data, off, size))
            return off;
    }
    return 0;
}

static int emit_record(chunk_decoder *d, const uint8_t *data, uint32_t off, uint32_t size,
                       int recovered, record_fn fn, void *fn_ctx)
{
    record_info ri = {
        .id = rd64(data + off + 8),
        .written = rd64(data + off + 16),
        .file_offset = d->file_offset + off,
        .recovered = recovered,
    };
    ps_arena_reset(&d->record_arena);
    record_src rec = {.d = d, .start = off + 24, .end = off + size - 4};
    return fn(fn_ctx, &ri, &rec);
}

const bx_node *record_tree(record_src *rec)
{
    return bx_decode_record(&rec->d->bx, rec->start, rec->end);
}

int record_json_fast(record_src *rec, ps_buf *out, int pretty)
{
    if (!rec->d->templates)
        return 0;
    return tpl_render_json(rec->d->templates, &rec->d->bx, rec->start, rec->end, pretty, out);
}

int record_xml_fast(record_src *rec, ps_buf *out)
{
    if (!rec->d->templates)
        return 0;
    return tpl_render_xml(rec->d->templates, &rec->d->bx, rec->start, rec->end, out);
}

static void check_header(chunk_decoder *d, const uint8_t *data, uint32_t free_space)
{
    uint32_t crc = evtx_crc32(0, data, 120);
    crc = evtx_crc32(crc, data + 128, 384);
    if (crc != rd32(data + 124))
        report(d, PS_DIAG_WARNING, 124, "chunk header CRC32 mismatch (header may be damaged)");
    if (free_space > EVTX_CHUNK_HEADER_SIZE &&
        evtx_crc32(0, data + EVTX_CHUNK_HEADER_SIZE, free_space - EVTX_CHUNK_HEADER_SIZE) !=
            rd32(data + 52))
        report(d, PS_DIAG_NOTE, 52,
               "chunk records CRC32 mismatch (a record may have been half-written)");
}

/* Walk the live records in [512, limit). Damage does not end the walk: we
 * resynchronise on the next whole record. Returns where the walk ended. */
static uint32_t walk_live(chunk_decoder *d, const uint8_t *data, uint32_t limit,
                          uint64_t last_id, record_fn fn, void *fn_ctx, chunk_result *res,
                          int *stopped)
{
    uint32_t off = EVTX_CHUNK_HEADER_SIZE;
    while (off + RECORD_MIN_SIZE <= limit) {
        uint32_t size = record_size_at(data, off, limit);
        if (!size || !record_is_whole(data, off, size)) {
            if (rd32(data + off) == 0 && all_zero(data + off, limit - off))
                break; /* clean end: zero slack */
            uint32_t next = find_record(data, off + 1, limit);
            report(d, PS_DIAG_WARNING, off,
                   next ? "damaged record skipped; decoding resumes at the next whole record"
                        : "damaged record data; no further record in this chunk");
            if (!next)
                break;
            off = next;
            continue;
        }
        uint64_t id = rd64(data + off + 8);
        if (emit_record(d, data, off, size, 0, fn, fn_ctx)) {
            *stopped = 1;
            return off;
        }
        res->records++;
        off += size;
        if (id == last_id)
            break;
    }
    return off;
}

/* --recover: records left in the slack behind the live ones. */
static int carve_slack(chunk_decoder *d, const uint8_t *data, uint32_t from, uint32_t size,
                       record_fn fn, void *fn_ctx, chunk_result *res)
{
    uint32_t off = from;
    d->in_slack = 1;
    while ((off = find_record(data, off, size)) != 0) {
        uint32_t rsize = rd32(data + off + 4);
        if (emit_record(d, data, off, rsize, 1, fn, fn_ctx)) {
            d->in_slack = 0;
            return 1;
        }
        res->records++;
        res->recovered++;
        off += rsize;
    }
    d->in_slack = 0;
    return 0;
}

int chunk_decode(chunk_decoder *d, const uint8_t *data, uint32_t size, uint64_t file_offset,
                 record_fn fn, void *fn_ctx, chunk_result *res)
{
    memset(res, 0, sizeof *res);
    d->file_offset = file_offset;
    ps_arena_reset(&d->arena);
    if (size < EVTX_CHUNK_HEADER_SIZE || all_zero(data, size)) {
        res->skipped = 1;
        if (size < EVTX_CHUNK_HEADER_SIZE && !all_zero(data, size))
            report(d, PS_DIAG_WARNING, 0, "truncated chunk too short to hold a header");
        return 0;
    }
    uint32_t limit = size;
    uint64_t last_id = UINT64_MAX;
    if (memcmp(data, "ElfChnk", 8) != 0) {
        if (!find_record(data, EVTX_CHUNK_HEADER_SIZE, size)) {
            report(d, PS_DIAG_WARNING, 0, "bad chunk signature and no records; chunk skipped");
            res->skipped = 1;
            return 0;
        }
        report(d, PS_DIAG_WARNING, 0, "bad chunk signature; decoding the records it holds");
    } else {
        uint32_t free_space = rd32(data + 48);
        if (free_space < EVTX_CHUNK_HEADER_SIZE || free_space > size) {
            report(d, PS_DIAG_WARNING, 48, "chunk free-space offset out of range; clamped");
            free_space = size;
        }
        check_header(d, data, free_space);
        limit = free_space;
        last_id = rd64(data + 32);
    }
    if (size < EVTX_CHUNK_SIZE)
        report(d, PS_DIAG_WARNING, 0, "chunk truncated by the end of the file");
    bx_chunk_begin(&d->bx, data, size, &d->arena, &d->record_arena, bx_warn, d);
    int stopped = 0;
    uint32_t end = walk_live(d, data, limit, last_id, fn, fn_ctx, res, &stopped);
    if (stopped)
        return 1;
    if (d->recover && carve_slack(d, data, end, size, fn, fn_ctx, res))
        return 1;
    return 0;
}
