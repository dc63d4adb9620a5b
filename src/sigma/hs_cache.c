/* Compiled Hyperscan databases kept in a cache directory, so that a rule set
 * loaded again does not pay for compiling its literals again (on SigmaHQ's
 * Windows rules that compile is most of the load time; reading a database
 * back takes well under a millisecond).
 *
 * The files, their names and their checks are util/hs_cache.h's. Here: the
 * key material (the mode and each literal's id, flags and bytes), so rules
 * that change give other literals and so another name; nothing is ever
 * invalidated, a stale file is just not asked for again. A file that cannot
 * be used is ignored: the database is compiled and the file written anew. */
#include <stdlib.h>
#include <string.h>

#include "sigma/sigma_internal.h"
#include "util/hs_cache.h"

#define CACHE_FORMAT "plainsight hyperscan cache 2"

static void put(unsigned char **p, const void *data, size_t n)
{
    memcpy(*p, data, n);
    *p += n;
}

/* The name of a database: its literals laid out in one buffer (one digest
 * call instead of several per literal). */
static int cache_key(const sg_hs_input *in, uint8_t key[PS_HS_KEY_LEN])
{
    size_t size = 8 + 4;
    for (uint32_t i = 0; i < in->n; i++)
        size += 4 + 4 + 8 + in->lens[i];
    unsigned char *buf = malloc(size), *p = buf;
    if (!buf)
        return -1;
    uint64_t mode = HS_MODE_BLOCK;
    uint32_t n = in->n;
    put(&p, &mode, 8);
    put(&p, &n, 4);
    for (uint32_t i = 0; i < in->n; i++) {
        uint32_t id = in->ids[i], flags = in->flags[i];
        uint64_t len = in->lens[i];
        put(&p, &id, 4);
        put(&p, &flags, 4);
        put(&p, &len, 8);
        if (len)
            put(&p, in->exprs[i], in->lens[i]);
    }
    int rc = ps_hs_key(CACHE_FORMAT, buf, (size_t)(p - buf), key);
    free(buf);
    return rc;
}

int sg_hs_cache_usable(const char *dir)
{
    return ps_hs_cache_dir_ready(dir) == 0;
}

int sg_hs_compile(const sg_hs_input *in, const char *cache_dir, hs_database_t **db,
                  sg_hs_cache_stats *st)
{
    *db = NULL;
    uint8_t key[PS_HS_KEY_LEN];
    int cached = cache_dir && cache_key(in, key) == 0;
    if (cached) {
        uint8_t *extra;
        size_t nextra;
        if (ps_hs_cache_load(cache_dir, "", key, db, &extra, &nextra) == 1) {
            free(extra);
            st->hits++;
            return 0;
        }
    }
    hs_compile_error_t *err = NULL;
    if (hs_compile_lit_multi(in->exprs, in->flags, in->ids, in->lens, in->n, HS_MODE_BLOCK, NULL,
                             db, &err) != HS_SUCCESS) {
        hs_free_compile_error(err);
        *db = NULL;
        return -1;
    }
    st->compiled++;
    if (cached) {
        if (ps_hs_cache_store(cache_dir, "", key, *db, NULL, 0) == 0)
            st->stored++;
        else
            st->store_failed++;
    }
    return 0;
}
