/* Decoding one 64 KiB chunk: header checks, the record walk, recovery of
 * records after damage and (with --recover) carving of records in slack. */
#ifndef PS_EVTX_CHUNK_H
#define PS_EVTX_CHUNK_H

#include "evtx/binxml.h"
#include "util/buf.h"
#include "plainsight/common.h"

typedef struct record_info {
    uint64_t id;
    uint64_t written;      /* FILETIME from the record header */
    uint64_t file_offset;
    int recovered;         /* found in slack, not in the live area */
} record_info;

/* A record being delivered: its BinXML, decoded by whichever lane the
 * callback asks for (valid during the call only). */
typedef struct record_src {
    struct chunk_decoder *d;
    uint32_t start, end;   /* its BinXML, as chunk offsets */
} record_src;

/* Called per record. Non-zero return stops the chunk. */
typedef int (*record_fn)(void *ctx, const record_info *ri, record_src *rec);

/* Called per problem; the chunk fills path-independent facts only. */
typedef void (*chunk_diag_fn)(void *ctx, ps_severity sev, uint64_t file_offset,
                              const char *msg);

struct tpl_store;

typedef struct chunk_decoder {
    bx_chunk bx;
    struct tpl_store *templates; /* compiled templates (the run's), or NULL */
    ps_arena arena;         /* names and templates of the current chunk */
    ps_arena record_arena;  /* the current record */
    chunk_diag_fn diag;
    void *diag_ctx;
    int recover;
    /* while decoding */
    uint64_t file_offset;
    unsigned warnings;
    int in_slack;           /* carving: problems are expected, so notes */
} chunk_decoder;

void chunk_decoder_init(chunk_decoder *d, int recover, chunk_diag_fn diag, void *diag_ctx);
void chunk_decoder_free(chunk_decoder *d);

/* The record's expanded tree (the slow lane), decoding it now and reporting
 * its problems; NULL when nothing of it could be decoded (such a record is
 * not delivered as a record). Call at most once per record. */
const bx_node *record_tree(record_src *rec);

/* The record as JSON through the decoder's compiled templates (the fast
 * lane), appended to `out`: 1 if written, 0 if it needs record_tree and
 * render_json (also when the decoder has no template store). */
int record_json_fast(record_src *rec, ps_buf *out, int pretty);
/* The same as XML (else record_tree and render_xml). */
int record_xml_fast(record_src *rec, ps_buf *out);

typedef struct chunk_result {
    uint64_t records;
    uint64_t recovered;
    int skipped;           /* not a chunk (zeroed or unreadable) */
} chunk_result;

/* Decode the chunk in `data` (normally 65536 bytes; fewer when the file is
 * truncated) found at `file_offset`. Returns 0, or non-zero if `fn` stopped. */
int chunk_decode(chunk_decoder *d, const uint8_t *data, uint32_t size, uint64_t file_offset,
                 record_fn fn, void *fn_ctx, chunk_result *res);

/* CRC32 (zlib's, as EVTX uses) of a byte range. */
uint32_t evtx_crc32(uint32_t crc, const uint8_t *p, size_t n);

#endif
