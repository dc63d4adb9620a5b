/* Fuzz target: one EVTX chunk through the decoder and every renderer, the
 * compiled-template lane checked against the tree lane on every record.
 * The input is taken as a chunk (shorter inputs are truncated chunks). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "unit/lanes.h"

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
     * also checks that no state leaks from one chunk into the next. The
     * template store is fresh per input, so that a finding reproduces. */
    static chunk_decoder dec[2];
    static lanes sinks[2];
    static int ready;
    if (!ready) {
        for (int i = 0; i < 2; i++) {
            chunk_decoder_init(&dec[i], i, NULL, NULL);
            lanes_init(&sinks[i], &dec[i]);
        }
        ready = 1;
    }
    for (int recover = 0; recover <= 1; recover++) {
        chunk_result res;
        dec[recover].templates = tpl_store_new();
        sinks[recover].mismatches = 0;
        chunk_decode(&dec[recover], chunk, (uint32_t)size, 4096, lanes_on_record,
                     &sinks[recover], &res);
        tpl_store_free(dec[recover].templates);
        dec[recover].templates = NULL;
        if (sinks[recover].mismatches)
            abort(); /* the lanes disagree: a bug in compiled templates */
    }
    free(chunk);
    return 0;
}
