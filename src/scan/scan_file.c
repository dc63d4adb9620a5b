/* One file: open it safely, read it once (hashing each chunk while it is in
 * cache), scan the same buffer with YARA, match the IOCs and add up the
 * score as Loki does.
 *
 * Small files come in batches (ps_scan_batch): each is read whole into the
 * worker's batch buffer and its SHA1 and SHA256 taken at once, then the MD5
 * of all of them is computed side by side (md5_lanes.c), then each is
 * matched and YARA-scanned from the same buffer. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scan/scan_internal.h"
#include "util/buf.h"

static const char *const digest_names[3] = {"MD5", "SHA1", "SHA256"};

int ps_worker_init(ps_worker *w, ps_scanner *s)
{
    memset(w, 0, sizeof *w);
    w->s = s;
    w->owner_uid = (uid_t)-1;
    for (int i = 0; i < 3; i++) {
        /* Fetched once: an implicit fetch on every init costs a lock. */
        w->algo[i] = EVP_MD_fetch(NULL, digest_names[i], NULL);
        w->md[i] = EVP_MD_CTX_new();
        if (!w->algo[i] || !w->md[i])
            return PS_ERR_NOMEM;
    }
    w->md5_lanes = ps_md5_lanes_available();
    if (s->iocs && !(w->ioc = ps_ioc_scratch_new(s->iocs)))
        return PS_ERR_NOMEM;
    if (s->rules.rules) {
        if (yr_scanner_create(s->rules.rules, &w->yara) != ERROR_SUCCESS)
            return PS_ERR_NOMEM;
        yr_scanner_set_timeout(w->yara, s->opt.yara_timeout);
        /* Fast mode stops looking for a string once it is found, but only
         * for strings the rules test as found or not: libyara's compiler
         * marks every string used with a count (#a), an offset (@a, at),
         * a length (!a) or a range (in) as needing all its matches, and
         * fast mode leaves those alone. Which rules match is therefore the
         * same (tests/scripts/test_scan_yara_compare.py checks it against
         * the yara CLI's default mode); only string matches plainsight
         * never reports are skipped. On signature-base's rules and the
         * benchmark tree this saves about a sixth of the YARA time. */
        yr_scanner_set_flags(w->yara, SCAN_FLAGS_FAST_MODE | SCAN_FLAGS_REPORT_RULES_MATCHING);
    }
    return PS_OK;
}

void ps_worker_free(ps_worker *w)
{
    for (int i = 0; i < 3; i++) {
        EVP_MD_CTX_free(w->md[i]);
        EVP_MD_free(w->algo[i]);
    }
    if (w->yara)
        yr_scanner_destroy(w->yara);
    ps_ioc_scratch_free(w->ioc);
    free(w->buf);
    free(w->batch);
    memset(w, 0, sizeof *w);
}

void ps_scan_item_free(ps_scan_item *it)
{
    if (!it)
        return;
    if (it->dir)
        ps_dir_ref_release(it->dir);
    free(it->reasons);
    free(it->path);
    free(it);
}

static void add_reason(ps_scan_item *it, ps_reason_type type, const char *name, int score,
                       const char *description)
{
    if (ps_grow_array((void **)&it->reasons, &it->capreasons, it->nreasons,
                      sizeof *it->reasons) != 0)
        return; /* out of memory: the score still counts */
    it->reasons[it->nreasons++] = (ps_scan_reason){type, name, score, description ? description : ""};
}

static void add_score(ps_scan_item *it, ps_reason_type type, const char *name, int score,
                      const char *description)
{
    add_reason(it, type, name, score, description);
    it->res.score += score;
}

/* ------------------------------------------------------------- reading */

static int open_item(ps_scan_item *it)
{
    /* O_NONBLOCK: should a FIFO appear where the walk saw a file, open()
     * must not wait for a writer. O_NOFOLLOW: never a symlink. */
    int flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY;
    int fd = it->dir ? openat(it->dir->fd, it->name, flags | O_NOATIME)
                     : open(it->path, (flags & ~O_NOFOLLOW) | O_NOATIME);
    if (fd < 0 && errno == EPERM) /* O_NOATIME needs ownership or CAP_FOWNER */
        fd = it->dir ? openat(it->dir->fd, it->name, flags) : open(it->path, flags & ~O_NOFOLLOW);
    return fd;
}

static int ensure_buffer(ps_worker *w, size_t need)
{
    if (w->cap >= need)
        return 0;
    size_t ncap = need < PS_SCAN_CHUNK ? PS_SCAN_CHUNK : need;
    uint8_t *p = realloc(w->buf, ncap);
    if (!p)
        return -1;
    w->buf = p;
    w->cap = ncap;
    return 0;
}

static void hash_update(ps_worker *w, const uint8_t *p, size_t n)
{
    for (int i = 0; i < 3; i++)
        EVP_DigestUpdate(w->md[i], p, n);
}

static void to_hex(const unsigned char *d, unsigned int n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (unsigned int i = 0; i < n; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[2 * n] = 0;
}

static void hex_digest(EVP_MD_CTX *ctx, char *out)
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(ctx, d, &n);
    to_hex(d, n, out);
}

/* Digest i (1 SHA1, 2 SHA256) of a whole buffer. */
static void digest_buffer(ps_worker *w, int i, const uint8_t *p, size_t n, char *out)
{
    EVP_DigestInit_ex2(w->md[i], w->algo[i], NULL);
    EVP_DigestUpdate(w->md[i], p, n);
    hex_digest(w->md[i], out);
}

/* Reads up to `size` bytes. In `keep` mode the whole file ends up in w->buf
 * (for YARA); otherwise the first chunk stays at w->buf (its first bytes
 * name the file type) and each later one overwrites the one before at
 * w->buf + PS_SCAN_CHUNK (hashing only). Returns the bytes read, or -1 with
 * errno set on a read error. */
static int64_t read_and_hash(ps_worker *w, int fd, uint64_t size, int keep, size_t *head_len)
{
    uint64_t total = 0;
    *head_len = 0;
    while (total < size) {
        size_t want = size - total < PS_SCAN_CHUNK ? (size_t)(size - total) : PS_SCAN_CHUNK;
        uint8_t *dst = keep ? w->buf + total : total ? w->buf + PS_SCAN_CHUNK : w->buf;
        ssize_t r = read(fd, dst, want);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break; /* the file shrank since it was listed */
        hash_update(w, dst, (size_t)r);
        if (total == 0)
            *head_len = (size_t)r;
        total += (uint64_t)r;
    }
    return (int64_t)total;
}

/* ---------------------------------------------------------------- YARA */

static int meta_score(const YR_META *meta, int fallback)
{
    if (meta->type == META_TYPE_INTEGER)
        return (int)meta->integer;
    if (meta->type == META_TYPE_STRING && meta->string) {
        char *end;
        long v = strtol(meta->string, &end, 10);
        if (end != meta->string && v >= 0 && v <= 10000)
            return (int)v;
    }
    return fallback;
}

static int on_yara_message(YR_SCAN_CONTEXT *ctx, int message, void *data, void *user)
{
    (void)ctx;
    if (message != CALLBACK_MSG_RULE_MATCHING)
        return CALLBACK_CONTINUE;
    const YR_RULE *rule = data;
    if (RULE_IS_PRIVATE(rule))
        return CALLBACK_CONTINUE; /* helpers of other rules, never reported */
    int score = PS_YARA_DEFAULT_SCORE;
    const char *description = "not set"; /* Loki's words for a rule without one */
    const YR_META *meta;
    yr_rule_metas_foreach(rule, meta)
    {
        if (!strcmp(meta->identifier, "score"))
            score = meta_score(meta, score);
        else if (!strcmp(meta->identifier, "description") && meta->type == META_TYPE_STRING)
            description = meta->string;
    }
    add_score(user, PS_REASON_YARA, rule->identifier, score, description);
    return CALLBACK_CONTINUE;
}

static const char *owner_of(ps_worker *w, uid_t uid)
{
    if (uid != w->owner_uid) {
        ps_owner_name(uid, w->owner, sizeof w->owner);
        w->owner_uid = uid;
    }
    return w->owner;
}

/* The externals as Loki sets them: the base name, the directory it is in,
 * the lowercase extension with its dot, the magic file type, the MD5. */
static void set_externals(ps_worker *w, ps_scan_item *it, uid_t uid)
{
    char ext[64], dir[4096];
    const char *slash = strrchr(it->path, '/');
    size_t dlen = slash ? (size_t)(slash - it->path) : 0;
    if (slash == it->path)
        dlen = 1; /* a file right under "/" */
    snprintf(dir, sizeof dir, "%.*s", (int)dlen, it->path);
    ps_file_extension(it->path, ext, sizeof ext);
    yr_scanner_define_string_variable(w->yara, "filename", slash ? slash + 1 : it->path);
    yr_scanner_define_string_variable(w->yara, "filepath", dir);
    yr_scanner_define_string_variable(w->yara, "extension", ext);
    yr_scanner_define_string_variable(w->yara, "filetype", it->res.filetype);
    yr_scanner_define_string_variable(w->yara, "md5", it->res.md5);
    yr_scanner_define_string_variable(w->yara, "owner", owner_of(w, uid));
}

static void yara_scan(ps_worker *w, ps_scan_item *it, const uint8_t *data, size_t len, uid_t uid)
{
    set_externals(w, it, uid);
    yr_scanner_set_callback(w->yara, on_yara_message, it);
    int rc = yr_scanner_scan_mem(w->yara, data, len);
    it->res.flags |= PS_SCAN_YARA;
    if (rc != ERROR_SUCCESS) {
        it->res.flags |= PS_SCAN_YARA_ERROR;
        ps_scan_diag(w->s, PS_DIAG_WARNING, it->path, "YARA scan failed (libyara error %d%s)", rc,
                     rc == ERROR_SCAN_TIMEOUT ? ": timeout" : "");
    }
}

/* --------------------------------------------------------------- IOCs */

static void match_filename_iocs(ps_worker *w, ps_scan_item *it)
{
    ps_ioc_hit hits[16];
    size_t n = ps_iocs_match_path_with(w->ioc, it->path, strlen(it->path), hits, 16);
    for (size_t i = 0; i < n && i < 16; i++)
        add_score(it, PS_REASON_FILENAME, hits[i].ioc, hits[i].score, hits[i].description);
}

/* One reason per file even when several of its digests are listed; the
 * strongest digest names it (Loki's later checks override earlier ones). */
static void match_hash_iocs(ps_worker *w, ps_scan_item *it)
{
    const ps_iocs *iocs = w->s->iocs;
    const char *digests[3] = {it->res.sha256, it->res.sha1, it->res.md5};
    for (int i = 0; i < 3; i++) {
        if (ps_iocs_match_hash(iocs, PS_IOC_FP_HASH, digests[i], NULL)) {
            it->suppressed = 1;
            return;
        }
    }
    for (int i = 0; i < 3; i++) {
        ps_ioc_hit hit;
        if (ps_iocs_match_hash(iocs, PS_IOC_HASH, digests[i], &hit)) {
            add_score(it, PS_REASON_HASH, hit.ioc, hit.score, hit.description);
            return;
        }
    }
}

/* ------------------------------------------------------------ the file */

static ps_scan_level level_for(const ps_scan_options *o, int score)
{
    if (score >= o->alert_score)
        return PS_LEVEL_ALERT;
    if (score >= o->warning_score)
        return PS_LEVEL_WARNING;
    if (score >= o->notice_score)
        return PS_LEVEL_NOTICE;
    return PS_LEVEL_NONE;
}

static void mark_unreadable(ps_worker *w, ps_scan_item *it, const char *what)
{
    it->unreadable = 1;
    ps_scan_diag(w->s, PS_DIAG_WARNING, it->path, "skipped: %s: %s", what, strerror(errno));
}

/* Everything after the digests: the file type from the first bytes, the
 * hash IOCs, and YARA over the whole file when it is not too large. */
static void after_digests(ps_worker *w, ps_scan_item *it, const uint8_t *data, size_t len,
                          size_t head, const struct stat *st)
{
    ps_scanner *s = w->s;
    int yara_wanted = s->rules.rules && w->yara;
    int too_large = (uint64_t)st->st_size > s->opt.max_scan_size;
    it->res.flags |= PS_SCAN_HASHED;
    it->res.filetype = ps_filetypes_match(&s->filetypes, data, head);
    if (too_large) {
        it->res.flags |= PS_SCAN_TOO_LARGE;
        if (yara_wanted)
            ps_scan_diag(s, PS_DIAG_WARNING, it->path,
                         "hashed but not YARA-scanned: %llu bytes is over the size limit",
                         (unsigned long long)st->st_size);
    }
    if (s->iocs)
        match_hash_iocs(w, it);
    if (yara_wanted && !too_large && !it->suppressed)
        yara_scan(w, it, data, len, st->st_uid);
}

/* The streaming path: any size, the three digests chunk by chunk. */
static void read_file(ps_worker *w, ps_scan_item *it, int fd, const struct stat *st)
{
    ps_scanner *s = w->s;
    uint64_t size = (uint64_t)st->st_size;
    int keep = s->rules.rules && w->yara && size <= s->opt.max_scan_size;
    if (ensure_buffer(w, keep ? (size_t)size : 2 * PS_SCAN_CHUNK) != 0) {
        errno = ENOMEM;
        mark_unreadable(w, it, "no memory for the file");
        return;
    }
    for (int i = 0; i < 3; i++)
        EVP_DigestInit_ex2(w->md[i], w->algo[i], NULL);
    size_t head = 0;
    int64_t got = read_and_hash(w, fd, size, keep, &head);
    if (got < 0) {
        mark_unreadable(w, it, "read error");
        return;
    }
    it->bytes_read = (uint64_t)got;
    hex_digest(w->md[0], it->res.md5);
    hex_digest(w->md[1], it->res.sha1);
    hex_digest(w->md[2], it->res.sha256);
    after_digests(w, it, w->buf, (size_t)got, head, st);
}

static void begin_item(ps_worker *w, ps_scan_item *it)
{
    it->res.path = it->path;
    it->res.filetype = "UNKNOWN";
    if (w->s->iocs)
        match_filename_iocs(w, it);
}

static void end_item(ps_worker *w, ps_scan_item *it)
{
    const ps_scan_options *o = &w->s->opt;
    it->res.reasons = it->reasons;
    it->res.nreasons = it->nreasons;
    it->res.level = level_for(o, it->res.score);
    it->report = !it->suppressed && (o->report_all || it->res.level != PS_LEVEL_NONE);
}

/* Opens the file and checks it is still the regular file the walk saw.
 * Returns the descriptor, or -1 with the item marked unreadable. */
static int open_checked(ps_worker *w, ps_scan_item *it, struct stat *st)
{
    int fd = open_item(it);
    if (fd < 0) {
        mark_unreadable(w, it, "cannot open");
        return -1;
    }
    if (fstat(fd, st) != 0) {
        mark_unreadable(w, it, "cannot stat");
    } else if (!S_ISREG(st->st_mode) || st->st_dev != it->dev || st->st_ino != it->ino) {
        errno = ESTALE;
        mark_unreadable(w, it, "replaced by something else during the scan");
    } else {
        it->res.size = (uint64_t)st->st_size;
        it->res.mtime = (int64_t)st->st_mtime;
        return fd;
    }
    close(fd);
    return -1;
}

void ps_scan_file(ps_worker *w, ps_scan_item *it)
{
    begin_item(w, it);
    struct stat st;
    int fd = open_checked(w, it, &st);
    if (fd >= 0) {
        read_file(w, it, fd, &st);
        close(fd);
    }
    end_item(w, it);
}

/* ------------------------------------------------------------ batches */

/* Reads up to `size` bytes (fewer when the file shrank). */
static int64_t read_whole(int fd, uint8_t *dst, size_t size)
{
    size_t total = 0;
    while (total < size) {
        ssize_t r = read(fd, dst + total, size - total);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        total += (size_t)r;
    }
    return (int64_t)total;
}

static int ensure_batch(ps_worker *w, size_t need)
{
    if (w->batch && w->batch_cap >= need)
        return 0; /* allocated even for empty files: never a NULL base */
    size_t ncap = w->batch_cap ? w->batch_cap : PS_SCAN_CHUNK;
    while (ncap < need)
        ncap *= 2;
    if (ncap > PS_BATCH_BYTES)
        ncap = PS_BATCH_BYTES;
    uint8_t *p = realloc(w->batch, ncap);
    if (!p)
        return -1;
    w->batch = p;
    w->batch_cap = ncap;
    return 0;
}

typedef struct lane {
    ps_scan_item *it;
    struct stat st;
} lane;

void ps_scan_batch(ps_worker *w, ps_scan_item **items, size_t n)
{
    if (n < 2 || !w->md5_lanes) { /* nothing to hash side by side */
        for (size_t i = 0; i < n; i++)
            ps_scan_file(w, items[i]);
        return;
    }
    lane lanes[PS_BATCH_LANES];
    uint32_t offs[PS_BATCH_LANES];
    size_t lens[PS_BATCH_LANES], nl = 0, used = 0;
    for (size_t i = 0; i < n; i++) {
        ps_scan_item *it = items[i];
        begin_item(w, it);
        struct stat st;
        int fd = open_checked(w, it, &st);
        if (fd < 0) {
            end_item(w, it);
            continue;
        }
        uint64_t size = (uint64_t)st.st_size;
        /* Large files (and those only hashed) take the streaming path: the
         * batch stays small and their lanes would run mostly alone. */
        if (nl == PS_BATCH_LANES || size > PS_BATCH_FILE_MAX || size > w->s->opt.max_scan_size ||
            used + size > PS_BATCH_BYTES || ensure_batch(w, used + (size_t)size) != 0) {
            read_file(w, it, fd, &st);
            close(fd);
            end_item(w, it);
            continue;
        }
        int64_t got = read_whole(fd, w->batch + used, (size_t)size);
        close(fd);
        if (got < 0) {
            mark_unreadable(w, it, "read error");
            end_item(w, it);
            continue;
        }
        it->bytes_read = (uint64_t)got;
        /* SHA1 and SHA256 now, while the bytes are in cache. */
        digest_buffer(w, 1, w->batch + used, (size_t)got, it->res.sha1);
        digest_buffer(w, 2, w->batch + used, (size_t)got, it->res.sha256);
        lanes[nl] = (lane){it, st};
        offs[nl] = (uint32_t)used;
        lens[nl] = (size_t)got;
        nl++;
        used += (size_t)got;
    }
    uint8_t md5[PS_BATCH_LANES][16];
    ps_md5_lanes(w->batch, offs, lens, nl, md5);
    for (size_t l = 0; l < nl; l++) {
        ps_scan_item *it = lanes[l].it;
        to_hex(md5[l], 16, it->res.md5);
        after_digests(w, it, w->batch + offs[l], lens[l], lens[l], &lanes[l].st);
        end_item(w, it);
    }
}
