/* Compiled Hyperscan databases kept between runs. See hs_cache.h. */
#include "util/hs_cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC "PSHSDB2\n"
#define MAGIC_LEN 8
#define HEADER_LEN (MAGIC_LEN + PS_HS_KEY_LEN + 8 + 32)
#define MAX_PAYLOAD ((uint64_t)256 << 20)
#define SUFFIX ".hsdb"

int ps_hs_key(const char *format, const void *material, size_t n, uint8_t key[PS_HS_KEY_LEN])
{
    /* Hyperscan compiles for the CPU it runs on: a database built for
     * AVX-512 must not be handed to (or overwrite one of) a run without. */
    hs_platform_info_t plat;
    memset(&plat, 0, sizeof plat);
    if (hs_populate_platform(&plat) != HS_SUCCESS)
        return -1;
    const char *version = hs_version();
    uint64_t target[2] = {plat.tune, plat.cpu_features};
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned len = 0;
    /* Each piece but the last ends in a NUL or is fixed-size: no two
     * different inputs run together. */
    int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
             EVP_DigestUpdate(ctx, format, strlen(format) + 1) &&
             EVP_DigestUpdate(ctx, version, strlen(version) + 1) &&
             EVP_DigestUpdate(ctx, target, sizeof target) &&
             (n == 0 || EVP_DigestUpdate(ctx, material, n)) &&
             EVP_DigestFinal_ex(ctx, key, &len) && len == PS_HS_KEY_LEN;
    EVP_MD_CTX_free(ctx);
    return ok ? 0 : -1;
}

static int sha256(const void *p, size_t n, uint8_t out[32])
{
    unsigned len = 0;
    return EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) && len == 32 ? 0 : -1;
}

/* Ours alone: owned by the effective user, writable by nobody else. */
static int ours_alone(const struct stat *st)
{
    return st->st_uid == geteuid() && !(st->st_mode & (S_IWGRP | S_IWOTH));
}

int ps_hs_cache_dir_ready(const char *dir)
{
    size_t n = dir ? strlen(dir) : 0;
    if (!n || n >= PS_HS_CACHE_MAX_DIR)
        return -1;
    char path[PS_HS_CACHE_MAX_DIR];
    memcpy(path, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (path[i] != '/' && path[i] != 0)
            continue;
        char c = path[i];
        path[i] = 0;
        if (mkdir(path, 0700) != 0 && errno != EEXIST)
            return -1;
        path[i] = c;
    }
    struct stat st;
    return lstat(dir, &st) == 0 && S_ISDIR(st.st_mode) && ours_alone(&st) ? 0 : -1;
}

static int file_name(char *out, size_t cap, const char *dir, const char *prefix,
                     const uint8_t key[PS_HS_KEY_LEN])
{
    static const char hex[] = "0123456789abcdef";
    char name[2 * PS_HS_KEY_LEN + 1];
    for (int i = 0; i < PS_HS_KEY_LEN; i++) {
        name[2 * i] = hex[key[i] >> 4];
        name[2 * i + 1] = hex[key[i] & 15];
    }
    name[2 * PS_HS_KEY_LEN] = 0;
    int n = snprintf(out, cap, "%s/%s%s" SUFFIX, dir, prefix, name);
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

static uint64_t rd64le(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static void wr64le(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++, v >>= 8)
        p[i] = (uint8_t)v;
}

static int read_all(int fd, uint8_t *p, size_t n)
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
    const uint8_t *p = data;
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

/* The payload of a checked file, malloc'd; NULL when the file is unusable. */
static uint8_t *read_payload(int fd, const uint8_t key[PS_HS_KEY_LEN], uint64_t *len)
{
    struct stat st;
    uint8_t head[HEADER_LEN], sum[32];
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || !ours_alone(&st) ||
        st.st_size < HEADER_LEN || read_all(fd, head, sizeof head) != 0)
        return NULL;
    *len = rd64le(head + MAGIC_LEN + PS_HS_KEY_LEN);
    if (memcmp(head, MAGIC, MAGIC_LEN) != 0 ||
        memcmp(head + MAGIC_LEN, key, PS_HS_KEY_LEN) != 0 || *len < 8 || *len > MAX_PAYLOAD ||
        (uint64_t)st.st_size != HEADER_LEN + *len)
        return NULL;
    uint8_t *payload = malloc(*len);
    if (!payload || read_all(fd, payload, *len) != 0 || sha256(payload, *len, sum) != 0 ||
        memcmp(sum, head + MAGIC_LEN + PS_HS_KEY_LEN + 8, 32) != 0) {
        free(payload);
        return NULL;
    }
    return payload;
}

int ps_hs_cache_load(const char *dir, const char *prefix, const uint8_t key[PS_HS_KEY_LEN],
                     hs_database_t **db, uint8_t **extra, size_t *extra_len)
{
    char path[PS_HS_CACHE_MAX_DIR + 160];
    *db = NULL;
    *extra = NULL;
    *extra_len = 0;
    if (file_name(path, sizeof path, dir, prefix, key) != 0)
        return -1;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) /* none; else unusable (a symbolic link, say) */
        return errno == ENOENT || errno == ENOTDIR ? 0 : -1;
    uint64_t len = 0;
    uint8_t *payload = read_payload(fd, key, &len);
    close(fd);
    if (!payload)
        return -1;
    uint64_t nextra = rd64le(payload);
    int rc = -1;
    if (nextra <= len - 8 &&
        hs_deserialize_database((const char *)payload + 8 + nextra, len - 8 - nextra, db) ==
            HS_SUCCESS) {
        rc = 1;
        if (nextra && !(*extra = malloc(nextra))) {
            hs_free_database(*db);
            *db = NULL;
            rc = -1;
        } else if (nextra) {
            memcpy(*extra, payload + 8, nextra);
            *extra_len = nextra;
        }
    } else {
        *db = NULL;
    }
    free(payload);
    return rc;
}

int ps_hs_cache_store(const char *dir, const char *prefix, const uint8_t key[PS_HS_KEY_LEN],
                      const hs_database_t *db, const void *extra, size_t extra_len)
{
    char path[PS_HS_CACHE_MAX_DIR + 160], tmp[PS_HS_CACHE_MAX_DIR + 32];
    char *bytes = NULL;
    size_t dblen = 0;
    if (file_name(path, sizeof path, dir, prefix, key) != 0 ||
        (size_t)snprintf(tmp, sizeof tmp, "%s/.tmp-XXXXXX", dir) >= sizeof tmp ||
        hs_serialize_database(db, &bytes, &dblen) != HS_SUCCESS)
        return -1;
    uint64_t len = 8 + (uint64_t)extra_len + dblen;
    uint8_t *file = len <= MAX_PAYLOAD ? malloc(HEADER_LEN + len) : NULL;
    int rc = -1;
    if (file) {
        uint8_t *payload = file + HEADER_LEN;
        wr64le(payload, extra_len);
        if (extra_len)
            memcpy(payload + 8, extra, extra_len);
        memcpy(payload + 8 + extra_len, bytes, dblen);
        memcpy(file, MAGIC, MAGIC_LEN);
        memcpy(file + MAGIC_LEN, key, PS_HS_KEY_LEN);
        wr64le(file + MAGIC_LEN + PS_HS_KEY_LEN, len);
        int fd = sha256(payload, len, file + MAGIC_LEN + PS_HS_KEY_LEN + 8) == 0
                     ? mkostemp(tmp, O_CLOEXEC)
                     : -1;
        if (fd >= 0) {
            /* Written aside and renamed: runs storing at once never mix. */
            rc = write_all(fd, file, HEADER_LEN + len) == 0 ? 0 : -1;
            if (close(fd) != 0)
                rc = -1;
            if (rc == 0 && rename(tmp, path) != 0)
                rc = -1;
            if (rc != 0)
                unlink(tmp);
        }
    }
    free(file);
    free(bytes); /* hs_serialize_database allocates with malloc (the default allocator) */
    return rc;
}

void ps_hs_cache_prune(const char *dir, const char *prefix, const uint8_t keep[PS_HS_KEY_LEN])
{
    char keep_path[PS_HS_CACHE_MAX_DIR + 160];
    DIR *d = file_name(keep_path, sizeof keep_path, dir, prefix, keep) == 0 ? opendir(dir) : NULL;
    if (!d)
        return;
    const char *keep_name = strrchr(keep_path, '/') + 1;
    size_t plen = strlen(prefix), slen = strlen(SUFFIX);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n > plen + slen && !strncmp(e->d_name, prefix, plen) &&
            !strcmp(e->d_name + n - slen, SUFFIX) && strcmp(e->d_name, keep_name) != 0)
            (void)unlinkat(dirfd(d), e->d_name, 0);
    }
    closedir(d);
}
