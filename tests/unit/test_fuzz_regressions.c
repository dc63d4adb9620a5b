/* Replays every input under tests/fuzz-regressions/ through the chunk
 * decoder and all renderers, both lanes compared (what fuzz/fuzz_evtx_chunk.c
 * does), so inputs
 * once found by fuzzing stay covered by the ordinary (and sanitizer) suite. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "unit/lanes.h"

static void replay(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static uint8_t chunk[EVTX_CHUNK_SIZE];
    size_t n = fread(chunk, 1, sizeof chunk, f);
    fclose(f);
    for (int recover = 0; recover <= 1; recover++) {
        chunk_decoder dec;
        chunk_decoder_init(&dec, recover, NULL, NULL);
        dec.templates = tpl_store_new();
        lanes l;
        lanes_init(&l, &dec);
        chunk_result res;
        chunk_decode(&dec, chunk, (uint32_t)n, 4096, lanes_on_record, &l, &res);
        if (l.mismatches)
            fail_msg("%s: fast and slow lanes differ at %s", path, l.first_mismatch);
        lanes_free(&l);
        tpl_store_free(dec.templates);
        chunk_decoder_free(&dec);
    }
}

static void test_replay_all(void **state)
{
    (void)state;
    const char *src = getenv("PS_SOURCE_DIR");
    if (!src)
        skip();
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/tests/fuzz-regressions", src);
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    unsigned replayed = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || strstr(e->d_name, ".md"))
            continue;
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        replay(path);
        replayed++;
    }
    closedir(d);
    assert_true(replayed > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_replay_all)};
    return cmocka_run_group_tests_name("fuzz_regressions", tests, NULL, NULL);
}
