/* The compiled file-name database, kept between runs.
 *
 * Compiling signature-base's file-name regexes costs about 0.45 s; loading
 * the compiled database back costs under a millisecond. The files, their
 * names and their checks are util/hs_cache.h's; here: the key material (the
 * regexes in order), the ids of the IOCs that every path must meet (kept
 * beside the database and checked again on the way in), and one database
 * per directory (older ones are from lists used before). */
#include <stdlib.h>
#include <string.h>

#include "ioc/ioc_internal.h"
#include "util/hs_cache.h"

#define CACHE_PREFIX "filename-"
/* Bump when what goes into a database changes (classification of patterns,
 * flags): old files then simply stop matching any key. */
#define CACHE_FORMAT "plainsight file-name prefilter 2"

int ps_ioc_cache_key(const ps_iocs *iocs, uint8_t key[PS_IOC_CACHE_KEY_LEN])
{
    /* The count, then every regex with its NUL: no two lists run together. */
    size_t size = 8;
    for (size_t i = 0; i < iocs->nfn; i++)
        size += strlen(iocs->fn[i].regex) + 1;
    uint8_t *buf = malloc(size), *p = buf;
    if (!buf)
        return -1;
    uint64_t n = iocs->nfn;
    memcpy(p, &n, 8);
    p += 8;
    for (size_t i = 0; i < iocs->nfn; i++) {
        size_t len = strlen(iocs->fn[i].regex) + 1;
        memcpy(p, iocs->fn[i].regex, len);
        p += len;
    }
    int rc = ps_hs_key(CACHE_FORMAT, buf, size, key);
    free(buf);
    return rc;
}

int ps_ioc_cache_load(const char *dir, const uint8_t key[PS_IOC_CACHE_KEY_LEN], size_t nfn,
                      hs_database_t **db, uint32_t **always, size_t *nalways)
{
    uint8_t *extra;
    size_t nextra;
    int rc = ps_hs_cache_load(dir, CACHE_PREFIX, key, db, &extra, &nextra);
    if (rc != 1)
        return rc;
    size_t count = nextra / 4;
    uint32_t *ids = malloc((count ? count : 1) * sizeof *ids);
    int ok = ids && nextra % 4 == 0 && count <= nfn;
    for (size_t i = 0; ok && i < count; i++) {
        memcpy(&ids[i], extra + 4 * i, 4);
        /* In order and in range: the matcher merges and indexes by them. */
        ok = ids[i] < nfn && (i == 0 || ids[i] > ids[i - 1]);
    }
    free(extra);
    if (!ok) {
        free(ids);
        hs_free_database(*db);
        *db = NULL;
        return -1;
    }
    *always = ids;
    *nalways = count;
    return 1;
}

int ps_ioc_cache_store(const char *dir, const uint8_t key[PS_IOC_CACHE_KEY_LEN],
                       const hs_database_t *db, const uint32_t *always, size_t nalways)
{
    /* Without a database there is nothing worth keeping. */
    if (!db || nalways > UINT32_MAX || ps_hs_cache_dir_ready(dir) != 0 ||
        ps_hs_cache_store(dir, CACHE_PREFIX, key, db, always, 4 * nalways) != 0)
        return -1;
    ps_hs_cache_prune(dir, CACHE_PREFIX, key);
    return 0;
}
