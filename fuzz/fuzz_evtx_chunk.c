/* Fuzz target: one EVTX chunk through the decoder and every renderer.
 * The input is taken as a chunk (shorter inputs are truncated chunks). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evtx/chunk.h"
#include "evtx/render.h"

typedef struct sink {
    ps_buf out;
    field_vec fields;
    ps_arena *arena;
} sink;

static int on_record(void *ctx, const record_info *ri, const bx_node *roots)
{
    sink *s = ctx;
    (void)ri;
    ps_buf_reset(&s->out);
    render_json(&s->out, roots, 0, s->arena);
    render_json(&s->out, roots, 1, s->arena);
    render_xml(&s->out, roots);
    ps_event ev = {0};
    build_event(&ev, &s->fields, roots, s->arena);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > EVTX_CHUNK_SIZE)
        size = EVTX_CHUNK_SIZE;
    /* A private copy, so that reads past `size` are caught by ASan. */
    uint8_t *chunk = malloc(size ? size : 1);
    if (!chunk)
        return 0;
    memcpy(chunk, data, size);
    /* Decoders live across inputs, as a worker's does across chunks: that
     * also checks that no state leaks from one chunk into the next. */
    static chunk_decoder dec[2];
    static sink sinks[2];
    static int ready;
    if (!ready) {
        for (int i = 0; i < 2; i++) {
            chunk_decoder_init(&dec[i], i, NULL, NULL);
            sinks[i].arena = &dec[i].record_arena;
            ps_buf_init(&sinks[i].out);
        }
        ready = 1;
    }
    for (int recover = 0; recover <= 1; recover++) {
        chunk_result res;
        chunk_decode(&dec[recover], chunk, (uint32_t)size, 4096, on_record, &sinks[recover],
                     &res);
    }
    free(chunk);
    return 0;
}
