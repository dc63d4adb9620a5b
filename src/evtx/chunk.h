/* Decoding one 64 KiB chunk: header checks, the record walk, recovery of
 * records after damage and (with --recover) carving of records in slack. */
#ifndef PS_EVTX_CHUNK_H
#define PS_EVTX_CHUNK_H

#include "evtx/binxml.h"
#include "plainsight/common.h"

typedef struct record_info {
    uint64_t id;
    uint64_t written;      /* FILETIME from the record header */
    uint64_t file_offset;
    int recovered;         /* found in slack, not in the live area */
} record_info;

/* Called per record with its expanded tree (valid during the call only).
 * Non-zero return stops the chunk. */
typedef int (*record_fn)(void *ctx, const record_info *ri, const bx_node *roots);

/* Called per problem; the chunk fills path-independent facts only. */
typedef void (*chunk_diag_fn)(void *ctx, ps_severity sev, uint64_t file_offset,
                              const char *msg);

typedef struct chunk_decoder {
    bx_chunk bx;
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
