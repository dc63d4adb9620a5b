/* Compiled Hyperscan databases kept in a cache directory, so that a rule set
 * loaded again does not pay for compiling its literals again (on SigmaHQ's
 * Windows rules that compile is most of the load time; reading a database
 * back takes well under a millisecond).
 *
 * A database is named by the SHA-256 of everything that decides its bytes:
 * this file's format version, Hyperscan's version, the platform (CPU
 * features) it is compiled for, the mode and each literal's id, flags and
 * bytes. Rules that change give other literals, so
 * another name: nothing is ever invalidated, a stale file is just not asked
 * for again. The file holds a header (magic, the name, the payload's length
 * and SHA-256) and the serialized database.
 *
 * The cache must never change results or stop a load, and its files are
 * trusted only as far as they are checked: a file that is missing, short,
 * not ours, of another name or checksum, or that Hyperscan refuses is
 * ignored (the database is compiled and the file written anew). The
 * directory and files must belong to the user running us and not be
 * writable by others, since Hyperscan trusts the bytecode it deserializes;
 * otherwise the cache is not used at all. Files are written to a temporary
 * name and renamed, so a reader never sees half a file, and processes that
 * race to write the same database write the same bytes. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sigma/sigma_internal.h"

#define CACHE_MAGIC "PSHSDB1\n"
#define CACHE_MAGIC_LEN 8
#define CACHE_HEADER_LEN (CACHE_MAGIC_LEN + 32 + 8 + 32)
#define CACHE_MAX_PAYLOAD ((uint64_t)256 << 20)
#define CACHE_FORMAT "plainsight hyperscan cache 1"

static void put(unsigned char **p, const void *data, size_t n)
{
    memcpy(*p, data, n);
    *p += n;
}

/* The name of a database: SHA-256 over its inputs, laid out in one buffer
 * (one digest call instead of several per literal). The platform is part
 * of it: Hyperscan compiles for the CPU it runs on, and a database built
 * for AVX-512 must not be handed to (or be overwritten by) a run on a CPU
 * without it. */
static int cache_key(const sg_hs_input *in, unsigned char key[32])
{
    hs_platform_info_t plat;
    if (hs_populate_platform(&plat) != HS_SUCCESS)
        return -1;
    const char *version = hs_version();
    size_t size = sizeof CACHE_FORMAT + strlen(version) + 1 + 3 * 8 + 4;
    for (uint32_t i = 0; i < in->n; i++)
        size += 4 + 4 + 8 + in->lens[i];
    unsigned char *buf = malloc(size), *p = buf;
    if (!buf)
        return -1;
    uint64_t tune = plat.tune, features = plat.cpu_features, mode = HS_MODE_BLOCK;
    uint32_t n = in->n;
    put(&p, CACHE_FORMAT, sizeof CACHE_FORMAT);
    put(&p, version, strlen(version) + 1);
    put(&p, &tune, 8);
    put(&p, &features, 8);
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
    unsigned klen = 0;
    int ok = EVP_Digest(buf, (size_t)(p - buf), key, &klen, EVP_sha256(), NULL) && klen == 32;
    free(buf);
    return ok ? 0 : -1;
}

static int sha256(const void *p, size_t n, unsigned char out[32])
{
    unsigned len = 0;
    return EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) && len == 32 ? 0 : -1;
}

/* Ours and only ours to write: a directory or regular file owned by the
 * effective user, not writable by group or others. */
static int trusted(const struct stat *st, int want_dir)
{
    if (want_dir ? !S_ISDIR(st->st_mode) : !S_ISREG(st->st_mode))
        return 0;
    return st->st_uid == geteuid() && !(st->st_mode & (S_IWGRP | S_IWOTH));
}

int sg_hs_cache_usable(const char *dir)
{
    size_t n = dir ? strlen(dir) : 0;
    if (!n || n >= SG_HS_CACHE_MAX_DIR)
        return 0;
    char path[SG_HS_CACHE_MAX_DIR];
    memcpy(path, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (path[i] != '/' && path[i] != 0)
            continue;
        char c = path[i];
        path[i] = 0;
        if (mkdir(path, 0700) != 0 && errno != EEXIST)
            return 0;
        path[i] = c;
    }
    struct stat st;
    return stat(dir, &st) == 0 && trusted(&st, 1);
}

static void file_name(const char *dir, const unsigned char key[32], char *out, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    char name[65];
    for (int i = 0; i < 32; i++) {
        name[2 * i] = hex[key[i] >> 4];
        name[2 * i + 1] = hex[key[i] & 15];
    }
    name[64] = 0;
    snprintf(out, cap, "%s/%s.hsdb", dir, name);
}

static uint64_t rd64le(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static void wr64le(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++, v >>= 8)
        p[i] = (unsigned char)v;
}

static int read_all(int fd, unsigned char *p, size_t n)
{
    while (n) {
        ssize_t got = read(fd, p, n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return -1;
        p += got;
        n -= (size_t)got;
    }
    return 0;
}

static int write_all(int fd, const void *data, size_t n)
{
    const unsigned char *p = data;
    while (n) {
        ssize_t put = write(fd, p, n);
        if (put < 0 && errno == EINTR)
            continue;
        if (put <= 0)
            return -1;
        p += put;
        n -= (size_t)put;
    }
    return 0;
}

/* The database stored under `key`, or NULL. */
static hs_database_t *cache_read(const char *path, const unsigned char key[32])
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat st;
    unsigned char head[CACHE_HEADER_LEN];
    unsigned char *payload = NULL;
    hs_database_t *db = NULL;
    if (fstat(fd, &st) != 0 || !trusted(&st, 0) || st.st_size < CACHE_HEADER_LEN ||
        read_all(fd, head, sizeof head) != 0)
        goto done;
    uint64_t len = rd64le(head + CACHE_MAGIC_LEN + 32);
    if (memcmp(head, CACHE_MAGIC, CACHE_MAGIC_LEN) != 0 ||
        memcmp(head + CACHE_MAGIC_LEN, key, 32) != 0 || len == 0 || len > CACHE_MAX_PAYLOAD ||
        (uint64_t)st.st_size != CACHE_HEADER_LEN + len)
        goto done;
    payload = malloc(len);
    unsigned char sum[32];
    if (!payload || read_all(fd, payload, len) != 0 || sha256(payload, len, sum) != 0 ||
        memcmp(sum, head + CACHE_MAGIC_LEN + 40, 32) != 0)
        goto done;
    if (hs_deserialize_database((const char *)payload, len, &db) != HS_SUCCESS)
        db = NULL;
done:
    free(payload);
    close(fd);
    return db;
}

/* Store db under `key`; 0 when written. */
static int cache_write(const char *dir, const char *path, const unsigned char key[32],
                       const hs_database_t *db)
{
    char *bytes = NULL;
    size_t len = 0;
    if (hs_serialize_database(db, &bytes, &len) != HS_SUCCESS)
        return -1;
    unsigned char head[CACHE_HEADER_LEN];
    memcpy(head, CACHE_MAGIC, CACHE_MAGIC_LEN);
    memcpy(head + CACHE_MAGIC_LEN, key, 32);
    wr64le(head + CACHE_MAGIC_LEN + 32, len);
    char tmp[SG_HS_CACHE_MAX_DIR + 32];
    snprintf(tmp, sizeof tmp, "%s/.tmp-XXXXXX", dir);
    int fd = sha256(bytes, len, head + CACHE_MAGIC_LEN + 40) == 0 ? mkstemp(tmp) : -1;
    int rc = -1;
    if (fd >= 0) {
        rc = write_all(fd, head, sizeof head) == 0 && write_all(fd, bytes, len) == 0 ? 0 : -1;
        if (close(fd) != 0)
            rc = -1;
        if (rc == 0 && rename(tmp, path) != 0)
            rc = -1;
        if (rc != 0)
            unlink(tmp);
    }
    free(bytes); /* hs_serialize_database allocates with malloc (the default allocator) */
    return rc;
}

int sg_hs_compile(const sg_hs_input *in, const char *cache_dir, hs_database_t **db,
                  sg_hs_cache_stats *st)
{
    *db = NULL;
    unsigned char key[32];
    char path[SG_HS_CACHE_MAX_DIR + 80];
    int cached = cache_dir && cache_key(in, key) == 0;
    if (cached) {
        file_name(cache_dir, key, path, sizeof path);
        if ((*db = cache_read(path, key)) != NULL) {
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
        if (cache_write(cache_dir, path, key, *db) == 0)
            st->stored++;
        else
            st->store_failed++;
    }
    return 0;
}
