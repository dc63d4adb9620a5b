/* The compiled file-name database, kept between runs.
 *
 * Compiling signature-base's file-name regexes costs about 0.45 s; loading
 * the compiled database back costs under a millisecond. A cache file is
 *
 *   magic "PSHSDB1\n" | key (32) | nalways (u32) | always ids (u32 each)
 *   | database length (u64) | hs_serialize_database() bytes | SHA-256 of
 *   everything before it (32)
 *
 * in host byte order (the key covers the CPU it was made on, so a file is
 * never read on another kind of host). Its name is the hex key, so lists
 * that change get a new file; the digest catches truncation and corruption;
 * ownership and mode checks keep a file planted by another user out (a
 * crafted database is not something Hyperscan promises to survive). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/evp.h>

#include "ioc/ioc_internal.h"

#define CACHE_MAGIC "PSHSDB1\n"
#define CACHE_MAGIC_LEN 8
#define CACHE_PREFIX "filename-"
#define CACHE_SUFFIX ".hsdb"
/* Bump when what goes into a database changes (classification of patterns,
 * flags): old files then simply stop matching any key. */
#define CACHE_FORMAT "plainsight file-name prefilter 1"
#define CACHE_MAX_BYTES ((size_t)256 << 20)

int ps_ioc_cache_key(const ps_iocs *iocs, uint8_t key[PS_IOC_CACHE_KEY_LEN])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
        EVP_MD_CTX_free(ctx);
        return -1;
    }
    /* Every piece ends in a NUL, so no two different inputs run together. */
    const char *version = hs_version();
    hs_platform_info_t plat;
    memset(&plat, 0, sizeof plat);
    if (hs_populate_platform(&plat) != HS_SUCCESS) {
        EVP_MD_CTX_free(ctx);
        return -1;
    }
    int ok = EVP_DigestUpdate(ctx, CACHE_FORMAT, sizeof CACHE_FORMAT) &&
             EVP_DigestUpdate(ctx, version, strlen(version) + 1) &&
             EVP_DigestUpdate(ctx, &plat.tune, sizeof plat.tune) &&
             EVP_DigestUpdate(ctx, &plat.cpu_features, sizeof plat.cpu_features);
    uint64_t n = iocs->nfn;
    ok = ok && EVP_DigestUpdate(ctx, &n, sizeof n);
    for (size_t i = 0; ok && i < iocs->nfn; i++)
        ok = EVP_DigestUpdate(ctx, iocs->fn[i].regex, strlen(iocs->fn[i].regex) + 1);
    unsigned int len = 0;
    ok = ok && EVP_DigestFinal_ex(ctx, key, &len) && len == PS_IOC_CACHE_KEY_LEN;
    EVP_MD_CTX_free(ctx);
    return ok ? 0 : -1;
}

static void cache_path(char *out, size_t n, const char *dir, const uint8_t *key, int *ok)
{
    static const char hex[] = "0123456789abcdef";
    char name[2 * PS_IOC_CACHE_KEY_LEN + 1];
    for (size_t i = 0; i < PS_IOC_CACHE_KEY_LEN; i++) {
        name[2 * i] = hex[key[i] >> 4];
        name[2 * i + 1] = hex[key[i] & 15];
    }
    name[2 * PS_IOC_CACHE_KEY_LEN] = 0;
    *ok = (size_t)snprintf(out, n, "%s/" CACHE_PREFIX "%s" CACHE_SUFFIX, dir, name) < n;
}

static int digest(const uint8_t *p, size_t n, uint8_t out[32])
{
    unsigned int len = 0;
    return EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) && len == 32 ? 0 : -1;
}

/* Ours alone: a regular file (or directory) owned by this user that nobody
 * else may write. */
static int safe_owner(const struct stat *st)
{
    return st->st_uid == geteuid() && !(st->st_mode & (S_IWGRP | S_IWOTH));
}

static int read_all(int fd, uint8_t *p, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, p + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

/* Parses a whole cache file; 0 when it is sound and for `key`. */
static int parse(const uint8_t *p, size_t n, const uint8_t *key, size_t nfn,
                 hs_database_t **db, uint32_t **always_out, size_t *nalways_out)
{
    size_t fixed = CACHE_MAGIC_LEN + PS_IOC_CACHE_KEY_LEN + 4 + 8 + 32;
    if (n < fixed || memcmp(p, CACHE_MAGIC, CACHE_MAGIC_LEN) != 0 ||
        memcmp(p + CACHE_MAGIC_LEN, key, PS_IOC_CACHE_KEY_LEN) != 0)
        return -1;
    uint8_t sum[32];
    if (digest(p, n - 32, sum) != 0 || memcmp(sum, p + n - 32, 32) != 0)
        return -1;
    size_t off = CACHE_MAGIC_LEN + PS_IOC_CACHE_KEY_LEN;
    uint32_t nalways;
    memcpy(&nalways, p + off, 4);
    off += 4;
    if (nalways > nfn || (size_t)nalways * 4 > n - fixed)
        return -1;
    uint32_t *always = malloc((nalways ? nalways : 1) * sizeof *always);
    if (!always)
        return -1;
    for (uint32_t i = 0; i < nalways; i++) {
        memcpy(&always[i], p + off, 4);
        off += 4;
        /* In order and in range: the matcher merges and indexes by them. */
        if (always[i] >= nfn || (i && always[i] <= always[i - 1])) {
            free(always);
            return -1;
        }
    }
    uint64_t dblen;
    memcpy(&dblen, p + off, 8);
    off += 8;
    if (dblen != n - 32 - off) {
        free(always);
        return -1;
    }
    *db = NULL;
    if (dblen && hs_deserialize_database((const char *)p + off, (size_t)dblen, db) != HS_SUCCESS) {
        free(always);
        return -1;
    }
    *always_out = always;
    *nalways_out = nalways;
    return 0;
}

int ps_ioc_cache_load(const char *dir, const uint8_t key[PS_IOC_CACHE_KEY_LEN], size_t nfn,
                      hs_database_t **db, uint32_t **always, size_t *nalways)
{
    char path[4096];
    int ok;
    cache_path(path, sizeof path, dir, key, &ok);
    if (!ok)
        return 0;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return errno == ENOENT || errno == ENOTDIR ? 0 : -1; /* none; else unusable (a symlink) */
    struct stat st;
    int rc = -1;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && safe_owner(&st) && st.st_size > 0 &&
        (uint64_t)st.st_size <= CACHE_MAX_BYTES) {
        size_t n = (size_t)st.st_size;
        uint8_t *buf = malloc(n);
        if (buf && read_all(fd, buf, n) == 0 && parse(buf, n, key, nfn, db, always, nalways) == 0)
            rc = 1;
        free(buf);
    }
    close(fd);
    return rc;
}

/* Makes `dir` and its missing parents (mode 0700) and checks that the
 * directory itself is ours alone. */
static int make_dir(const char *dir)
{
    char p[4096];
    if ((size_t)snprintf(p, sizeof p, "%s", dir) >= sizeof p || !p[0])
        return -1;
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = 0;
        if (mkdir(p, 0700) != 0 && errno != EEXIST)
            return -1;
        *s = '/';
    }
    if (mkdir(p, 0700) != 0 && errno != EEXIST)
        return -1;
    struct stat st;
    if (lstat(p, &st) != 0 || !S_ISDIR(st.st_mode) || !safe_owner(&st))
        return -1;
    return 0;
}

/* One database per directory: the others are from lists used before. */
static void remove_others(const char *dir, const char *keep)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    const char *keep_name = strrchr(keep, '/') + 1;
    size_t plen = strlen(CACHE_PREFIX), slen = strlen(CACHE_SUFFIX);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n <= plen + slen || strncmp(e->d_name, CACHE_PREFIX, plen) != 0 ||
            strcmp(e->d_name + n - slen, CACHE_SUFFIX) != 0 || !strcmp(e->d_name, keep_name))
            continue;
        (void)unlinkat(dirfd(d), e->d_name, 0);
    }
    closedir(d);
}

static int write_all(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

int ps_ioc_cache_store(const char *dir, const uint8_t key[PS_IOC_CACHE_KEY_LEN],
                       const hs_database_t *db, const uint32_t *always, size_t nalways)
{
    if (nalways > UINT32_MAX || make_dir(dir) != 0)
        return -1;
    char *bytes = NULL;
    size_t dblen = 0;
    if (db && hs_serialize_database(db, &bytes, &dblen) != HS_SUCCESS)
        return -1;
    size_t n = CACHE_MAGIC_LEN + PS_IOC_CACHE_KEY_LEN + 4 + 4 * nalways + 8 + dblen + 32;
    uint8_t *buf = n <= CACHE_MAX_BYTES ? malloc(n) : NULL;
    if (!buf) {
        free(bytes);
        return -1;
    }
    size_t off = 0;
    memcpy(buf, CACHE_MAGIC, CACHE_MAGIC_LEN);
    off += CACHE_MAGIC_LEN;
    memcpy(buf + off, key, PS_IOC_CACHE_KEY_LEN);
    off += PS_IOC_CACHE_KEY_LEN;
    uint32_t na = (uint32_t)nalways;
    memcpy(buf + off, &na, 4);
    off += 4;
    if (nalways) /* `always` may be NULL when empty */
        memcpy(buf + off, always, 4 * nalways);
    off += 4 * nalways;
    uint64_t dl = dblen;
    memcpy(buf + off, &dl, 8);
    off += 8;
    if (dblen)
        memcpy(buf + off, bytes, dblen);
    off += dblen;
    free(bytes);
    int rc = digest(buf, off, buf + off);
    char path[4096], tmp[4096];
    int ok;
    cache_path(path, sizeof path, dir, key, &ok);
    if (rc == 0 && ok && (size_t)snprintf(tmp, sizeof tmp, "%s/.tmp-XXXXXX", dir) < sizeof tmp) {
        /* Written aside and renamed, so a reader never sees half a file and
         * two runs storing at once do not mix their bytes. */
        int fd = mkostemp(tmp, O_CLOEXEC);
        rc = -1;
        if (fd >= 0) {
            int good = write_all(fd, buf, n) == 0;
            good = close(fd) == 0 && good;
            if (good && rename(tmp, path) == 0)
                rc = 0;
            else
                unlink(tmp);
        }
    } else {
        rc = -1;
    }
    free(buf);
    if (rc == 0)
        remove_others(dir, path);
    return rc;
}
