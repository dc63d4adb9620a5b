/* Parsing signature-base (Loki) IOC lists. Every line is untrusted: a bad one
 * is reported with its file and line number and skipped; the rest loads. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ioc/ioc_internal.h"

typedef struct line_ctx {
    ps_iocs *iocs;
    const char *name;        /* file name for diagnostics */
    uint64_t lineno;
    ps_diag_fn diag;
    void *diag_ctx;
    const char *comment;     /* last comment line: description of what follows */
} line_ctx;

/* Reports a bad line (warning) and counts it; the caller skips the line. */
static void bad_line(line_ctx *lc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void bad_line(line_ctx *lc, const char *fmt, ...)
{
    lc->iocs->bad_lines++;
    if (!lc->diag)
        return;
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ps_diag d = {PS_DIAG_WARNING, lc->name, lc->lineno, 1, msg};
    lc->diag(lc->diag_ctx, &d);
}

int ps_ioc_grow(void **items, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 64;
    if (ncap > SIZE_MAX / size)
        return -1;
    void *p = realloc(*items, ncap * size);
    if (!p)
        return -1;
    *items = p;
    *cap = ncap;
    return 0;
}

ps_iocs *ps_iocs_new(void)
{
    ps_iocs *iocs = calloc(1, sizeof *iocs);
    if (!iocs)
        return NULL;
    ps_arena_init(&iocs->strings, 256 * 1024, 0);
    iocs->mctx = pcre2_match_context_create(NULL);
    iocs->pre = ps_ioc_prefilter_new();
    if (!iocs->mctx || !iocs->pre) {
        pcre2_match_context_free(iocs->mctx);
        ps_ioc_prefilter_free(iocs->pre);
        free(iocs);
        return NULL;
    }
    /* A hostile regex must not hang the scan: bound backtracking. */
    pcre2_set_match_limit(iocs->mctx, PS_IOC_MATCH_LIMIT);
    pcre2_set_depth_limit(iocs->mctx, 10000);
    return iocs;
}

void ps_iocs_free(ps_iocs *iocs)
{
    if (!iocs)
        return;
    for (size_t i = 0; i < iocs->nfn; i++) {
        pcre2_code_free(iocs->fn[i].re);
        pcre2_code_free(iocs->fn[i].fp_re);
    }
    free(iocs->fn);
    ps_ioc_prefilter_free(iocs->pre);
    free(iocs->md5.items);
    free(iocs->sha1.items);
    free(iocs->sha256.items);
    free(iocs->fp.items);
    free(iocs->c2);
    free(iocs->kw);
    pcre2_match_context_free(iocs->mctx);
    ps_arena_free(&iocs->strings);
    free(iocs);
}

void ps_iocs_counts(const ps_iocs *iocs, ps_ioc_counts *out)
{
    memset(out, 0, sizeof *out);
    out->md5 = iocs->md5.n;
    out->sha1 = iocs->sha1.n;
    out->sha256 = iocs->sha256.n;
    out->fp_hashes = iocs->fp.n;
    out->filename = iocs->nfn;
    out->c2 = iocs->nc2;
    out->keywords = iocs->nkw;
    out->bad_lines = iocs->bad_lines;
    out->unreadable_files = iocs->unreadable_files;
}

/* ------------------------------------------------------------ helpers */

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = 0;
    return s;
}

/* Parses a non-negative decimal score; -1 when `s` is not one. */
static int parse_score(const char *s)
{
    if (!*s || strlen(s) > 6)
        return -1;
    int v = 0;
    for (; *s; s++) {
        if (!isdigit((unsigned char)*s))
            return -1;
        v = v * 10 + (*s - '0');
    }
    return v <= PS_IOC_MAX_SCORE ? v : -1;
}

static const char *keep(line_ctx *lc, const char *s)
{
    const char *p = ps_arena_strndup(&lc->iocs->strings, s, strlen(s));
    return p ? p : "";
}

/* --------------------------------------------------------------- hashes */

static ps_hash_table *table_for_length(ps_iocs *iocs, size_t len)
{
    switch (len) {
    case 32: return &iocs->md5;
    case 40: return &iocs->sha1;
    case 64: return &iocs->sha256;
    default: return NULL;
    }
}

/* Digests of empty or one-newline files: every disk has them, so Loki never
 * treats them as IOCs even when a list carries them. */
static int is_trivial_digest(const char *hex)
{
    static const char *const trivial[] = {
        "d41d8cd98f00b204e9800998ecf8427e", "68b329da9893e34099c7d8ad5cb9c940",
        "81051bcc2cf1bedf378224b0a93e2877", "da39a3ee5e6b4b0d3255bfef95601890afd80709",
        "adc83b19e793491b1c6ea0fd8b46cd9f32e592fc", "ba8ab5a0280b953aa97435ff8946cbcbb2755a27",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "01ba4719c80b6fe911b091a7c05124b64eeece964e09c058ef8f9805daca546b",
        "7eb70257593da06f682a3ddda54a9d260d4fc514f645237f5ca74b08f8da61a6",
    };
    for (size_t i = 0; i < sizeof trivial / sizeof trivial[0]; i++)
        if (!strcmp(hex, trivial[i]))
            return 1;
    return 0;
}

static int parse_hash_line(line_ctx *lc, char *line, int false_positive)
{
    char *sep = strchr(line, ';');
    if (sep)
        *sep = 0;
    char *hex = trim(line);
    size_t len = strlen(hex);
    ps_hash_table *t = table_for_length(lc->iocs, len);
    if (!t) {
        bad_line(lc, "hash IOC: '%s' is not an MD5, SHA1 or SHA256 digest (32, 40 or 64 hex digits)", hex);
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        if (!isxdigit((unsigned char)hex[i])) {
            bad_line(lc, "hash IOC: '%s' has a non-hex character", hex);
            return 0;
        }
        hex[i] = (char)tolower((unsigned char)hex[i]);
    }
    /* HASH;DESCRIPTION or HASH;SCORE;DESCRIPTION; the description may itself
     * hold ';', so only a purely numeric second field is a score. */
    int score = PS_IOC_DEFAULT_HASH_SCORE;
    const char *desc = "";
    if (sep) {
        char *rest = sep + 1;
        char *sep2 = strchr(rest, ';');
        if (sep2) {
            *sep2 = 0;
            int sc = parse_score(trim(rest));
            if (sc >= 0) {
                score = sc;
                desc = trim(sep2 + 1);
            } else {
                *sep2 = ';';
                desc = trim(rest);
            }
        } else {
            desc = trim(rest);
        }
    }
    if (is_trivial_digest(hex))
        return 0;
    if (false_positive)
        t = &lc->iocs->fp;
    if (ps_ioc_grow((void **)&t->items, &t->cap, t->n, sizeof *t->items))
        return -1;
    ps_hash_ioc *h = &t->items[t->n];
    h->hex = keep(lc, hex);
    h->description = keep(lc, desc);
    h->score = score;
    h->order = lc->iocs->next_order++;
    t->n++;
    return 0;
}

/* ------------------------------------------------------------ filenames */

/* signature-base writes file-name IOCs for Windows paths; on this side paths
 * use '/'. As Loki does on Linux, every escaped backslash ("\\" in the regex)
 * becomes '/' and the drive prefix "C:" is dropped, so "C:\\Temp\\x\.exe"
 * matches ".../Temp/x.exe" anywhere in a mounted image. The rewrite walks the
 * regex escape by escape, so "\\." stays "/." and "\." stays "\.". */
static char *windows_regex_to_posix(ps_arena *a, const char *re)
{
    size_t n = strlen(re);
    char *out = ps_arena_alloc(a, n + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (re[i] == '\\' && i + 1 < n) {
            if (re[i + 1] == '\\') {
                out[o++] = '/';
            } else {
                out[o++] = re[i];
                out[o++] = re[i + 1];
            }
            i++;
        } else if ((re[i] == 'C' || re[i] == 'c') && i + 1 < n && re[i + 1] == ':' &&
                   (i == 0 || re[i - 1] == '(' || re[i - 1] == '|' || re[i - 1] == '^')) {
            i++; /* drop the drive letter and its colon */
        } else {
            out[o++] = re[i];
        }
    }
    out[o] = 0;
    return out;
}

/* Compiles `pattern` after the rewrite above; *rewritten (when not NULL)
 * receives the rewritten text, which the prefilter compiles too. */
static pcre2_code *compile_regex(line_ctx *lc, const char *what, const char *pattern,
                                 const char **rewritten)
{
    char *posix = windows_regex_to_posix(&lc->iocs->strings, pattern);
    if (!posix)
        return NULL;
    if (rewritten)
        *rewritten = posix;
    int err = 0;
    PCRE2_SIZE off = 0;
    /* UTF with invalid-UTF matching: the lists are UTF-8, but scanned paths
     * are whatever bytes the file system holds. */
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)posix, PCRE2_ZERO_TERMINATED,
                                   PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &err, &off, NULL);
    if (!re) {
        char msg[256];
        pcre2_get_error_message(err, (PCRE2_UCHAR *)msg, sizeof msg);
        char detail[512];
        snprintf(detail, sizeof detail, "%s '%.200s' does not compile at offset %zu: %s", what,
                 pattern, (size_t)off, msg);
        bad_line(lc, "file-name IOC: %s", detail);
        return NULL;
    }
    /* JIT is an optimisation only: without it pcre2_match interprets. */
    (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
    return re;
}

static int parse_filename_line(line_ctx *lc, char *line)
{
    char *fields[3] = {line, NULL, NULL};
    int nf = 1;
    for (char *p = line; *p && nf < 3; p++) {
        if (*p == ';') {
            *p = 0;
            fields[nf++] = p + 1;
        }
    }
    const char *pattern = trim(fields[0]);
    if (!*pattern) {
        bad_line(lc, "file-name IOC: empty regular expression");
        return 0;
    }
    if (nf < 2) {
        bad_line(lc, "file-name IOC: '%s' has no ';SCORE'", pattern);
        return 0;
    }
    int score = parse_score(trim(fields[1]));
    if (score < 0) {
        bad_line(lc, "file-name IOC: score '%s' is not a number from 0 to 10000", trim(fields[1]));
        return 0;
    }
    const char *regex = NULL;
    pcre2_code *re = compile_regex(lc, "regex", pattern, &regex);
    if (!re)
        return 0;
    pcre2_code *fp = NULL;
    if (nf == 3 && *trim(fields[2])) {
        fp = compile_regex(lc, "false-positive regex", trim(fields[2]), NULL);
        if (!fp) {
            pcre2_code_free(re);
            return 0;
        }
    }
    ps_iocs *iocs = lc->iocs;
    if (ps_ioc_grow((void **)&iocs->fn, &iocs->capfn, iocs->nfn, sizeof *iocs->fn)) {
        pcre2_code_free(re);
        pcre2_code_free(fp);
        return -1;
    }
    ps_filename_ioc *f = &iocs->fn[iocs->nfn++];
    f->pattern = keep(lc, pattern);
    f->regex = regex;
    f->description = lc->comment ? lc->comment : "";
    f->re = re;
    f->fp_re = fp;
    f->score = score;
    return 0;
}

/* ------------------------------------------------------- C2 and keywords */

static int valid_host_char(unsigned char c)
{
    return isalnum(c) || c == '.' || c == '-' || c == '_';
}

static int looks_like_ipv4(const char *s)
{
    int dots = 0, digits = 0;
    for (; *s; s++) {
        if (*s == '.') {
            if (!digits)
                return 0;
            dots++;
            digits = 0;
        } else if (isdigit((unsigned char)*s)) {
            if (++digits > 3)
                return 0;
        } else {
            return 0;
        }
    }
    return dots == 3 && digits;
}

static int parse_c2_line(line_ctx *lc, char *line)
{
    char *sep = strchr(line, ';');
    int score = PS_IOC_DEFAULT_C2_SCORE;
    if (sep) {
        *sep = 0;
        score = parse_score(trim(sep + 1));
        if (score < 0) {
            bad_line(lc, "C2 IOC: score '%s' is not a number from 0 to 10000", trim(sep + 1));
            return 0;
        }
    }
    char *value = trim(line);
    size_t len = strlen(value);
    /* Loki ignores indicators under 4 characters: too short to be specific. */
    if (len < 4 || len > 253) {
        bad_line(lc, "C2 IOC: '%s' is not a domain or IPv4 address of 4 to 253 characters", value);
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        if (!valid_host_char((unsigned char)value[i])) {
            bad_line(lc, "C2 IOC: '%s' has a character not allowed in a host name", value);
            return 0;
        }
        value[i] = (char)tolower((unsigned char)value[i]);
    }
    ps_iocs *iocs = lc->iocs;
    if (ps_ioc_grow((void **)&iocs->c2, &iocs->capc2, iocs->nc2, sizeof *iocs->c2))
        return -1;
    ps_text_ioc *c = &iocs->c2[iocs->nc2++];
    c->value = keep(lc, value);
    c->len = len;
    c->description = lc->comment ? lc->comment : "";
    c->score = score;
    c->is_ip = looks_like_ipv4(value);
    return 0;
}

static int parse_keyword_line(line_ctx *lc, char *line)
{
    /* Keywords are literal: keep inner and trailing spaces, drop only the CR. */
    size_t len = strlen(line);
    while (len && line[len - 1] == '\r')
        line[--len] = 0;
    if (len < 3) {
        bad_line(lc, "keyword IOC: '%s' is shorter than 3 characters", line);
        return 0;
    }
    ps_iocs *iocs = lc->iocs;
    if (ps_ioc_grow((void **)&iocs->kw, &iocs->capkw, iocs->nkw, sizeof *iocs->kw))
        return -1;
    ps_text_ioc *k = &iocs->kw[iocs->nkw++];
    k->value = keep(lc, line);
    k->len = len;
    k->description = lc->comment ? lc->comment : "";
    k->score = PS_IOC_DEFAULT_KEYWORD_SCORE;
    k->is_ip = 0;
    return 0;
}

/* ---------------------------------------------------------------- lines */

/* A comment line describes the entries under it (Loki uses it as their
 * description): "# Regin" -> "Regin". */
static void remember_comment(line_ctx *lc, const char *line)
{
    while (*line == '#' || *line == ' ' || *line == '\t')
        line++;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", line);
    char *t = trim(buf);
    if (*t)
        lc->comment = keep(lc, t);
}

static int parse_line(line_ctx *lc, char *line, ps_ioc_list kind)
{
    if (line[0] == '#') {
        remember_comment(lc, line);
        return 0;
    }
    const char *p = line;
    while (*p == ' ' || *p == '\t' || *p == '\r')
        p++;
    if (!*p)
        return 0;
    switch (kind) {
    case PS_IOC_HASH: return parse_hash_line(lc, line, 0);
    case PS_IOC_FP_HASH: return parse_hash_line(lc, line, 1);
    case PS_IOC_FILENAME: return parse_filename_line(lc, line);
    case PS_IOC_C2: return parse_c2_line(lc, line);
    case PS_IOC_KEYWORD: return parse_keyword_line(lc, line);
    }
    return 0;
}

int ps_iocs_load_mem(ps_iocs *iocs, const char *name, const char *data, size_t len,
                     ps_ioc_list kind, ps_diag_fn diag, void *diag_ctx)
{
    if (!iocs || (!data && len) || kind > PS_IOC_KEYWORD)
        return PS_ERR_ARG;
    line_ctx lc = {iocs, name ? name : "(memory)", 0, diag, diag_ctx, NULL};
    char *line = malloc(PS_IOC_MAX_LINE + 1);
    if (!line)
        return PS_ERR_NOMEM;
    size_t pos = 0;
    if (len >= 3 && !memcmp(data, "\xEF\xBB\xBF", 3))
        pos = 3; /* UTF-8 byte order mark */
    int rc = PS_OK;
    while (pos < len) {
        const char *nl = memchr(data + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - (data + pos)) : len - pos;
        lc.lineno++;
        if (n > PS_IOC_MAX_LINE) {
            bad_line(&lc, "line longer than %d bytes skipped", PS_IOC_MAX_LINE);
        } else if (memchr(data + pos, 0, n)) {
            bad_line(&lc, "line holds a NUL byte");
        } else {
            memcpy(line, data + pos, n);
            line[n] = 0;
            if (parse_line(&lc, line, kind) < 0) {
                rc = PS_ERR_NOMEM;
                break;
            }
        }
        pos += n + 1;
    }
    free(line);
    ps_iocs_finish(iocs);
    return rc;
}

/* Reads a whole list file (bounded), refusing anything but a regular file. */
static int read_list_file(const char *path, char **data, size_t *len)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return PS_ERR_IO;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return PS_ERR_IO;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return PS_ERR_FORMAT; /* a directory or device named like a list */
    }
    if ((uint64_t)st.st_size > PS_IOC_MAX_FILE_BYTES) {
        close(fd);
        return PS_ERR_NOMEM;
    }
    size_t cap = (size_t)st.st_size;
    char *buf = malloc(cap + 1);
    if (!buf) {
        close(fd);
        return PS_ERR_NOMEM;
    }
    size_t n = 0;
    while (n < cap) {
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) { /* half a list would pass for a whole one */
            int e = errno;
            free(buf);
            close(fd);
            errno = e;
            return PS_ERR_IO;
        }
        if (r == 0)
            break; /* shrank since fstat */
        n += (size_t)r;
    }
    close(fd);
    *data = buf;
    *len = n;
    return PS_OK;
}

static void report_file_error(const char *path, int rc, ps_diag_fn diag, void *ctx)
{
    if (!diag)
        return;
    char msg[256];
    snprintf(msg, sizeof msg, "cannot load IOC list: %s",
             rc == PS_ERR_NOMEM ? "larger than 256 MiB or out of memory"
             : rc == PS_ERR_ARG ? "path too long"
             : rc == PS_ERR_FORMAT ? "not a regular file"
                                   : strerror(errno));
    ps_diag d = {PS_DIAG_ERROR, path, 0, 0, msg};
    diag(ctx, &d);
}

int ps_iocs_load_file(ps_iocs *iocs, const char *path, ps_ioc_list kind,
                      ps_diag_fn diag, void *diag_ctx)
{
    if (!iocs || !path)
        return PS_ERR_ARG;
    char *data = NULL;
    size_t len = 0;
    int rc = read_list_file(path, &data, &len);
    if (rc != PS_OK) {
        report_file_error(path, rc, diag, diag_ctx);
        iocs->unreadable_files++;
        return rc == PS_ERR_FORMAT ? PS_ERR_IO : rc;
    }
    rc = ps_iocs_load_mem(iocs, path, data, len, kind, diag, diag_ctx);
    free(data);
    return rc;
}

/* Loki picks a list's kind from its file name. */
static int kind_from_name(const char *name, ps_ioc_list *kind)
{
    char lower[256];
    size_t i = 0;
    for (; name[i] && i + 1 < sizeof lower; i++)
        lower[i] = (char)tolower((unsigned char)name[i]);
    lower[i] = 0;
    if (lower[0] == '.' || !strstr(lower, ".txt"))
        return 0;
    if (strstr(lower, "hash"))
        *kind = strstr(lower, "falsepositive") ? PS_IOC_FP_HASH : PS_IOC_HASH;
    else if (strstr(lower, "filename"))
        *kind = PS_IOC_FILENAME;
    else if (strstr(lower, "c2"))
        *kind = PS_IOC_C2;
    else if (strstr(lower, "keyword"))
        *kind = PS_IOC_KEYWORD;
    else
        return 0;
    return 1;
}

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int ps_iocs_load_dir(ps_iocs *iocs, const char *dir, ps_diag_fn diag, void *diag_ctx)
{
    if (!iocs || !dir)
        return PS_ERR_ARG;
    DIR *d = opendir(dir);
    if (!d) {
        report_file_error(dir, PS_ERR_IO, diag, diag_ctx);
        return PS_ERR_IO;
    }
    /* Sorted, so that descriptions and duplicate resolution do not depend on
     * the directory order. */
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = PS_OK;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        ps_ioc_list kind;
        if (!kind_from_name(e->d_name, &kind))
            continue;
        char *copy = strdup(e->d_name);
        if (!copy || ps_ioc_grow((void **)&names, &cap, n, sizeof *names)) {
            free(copy);
            rc = PS_ERR_NOMEM;
            break;
        }
        names[n++] = copy;
    }
    closedir(d);
    if (n > 1) /* names is NULL when the directory is empty */
        qsort(names, n, sizeof *names, cmp_cstr);
    /* A list that cannot be read is reported (by ps_iocs_load_file), counted
     * and makes the result PS_ERR_IO; the other lists still load, so that a
     * caller may go on knowingly. */
    int unreadable = 0;
    for (size_t i = 0; i < n; i++) {
        ps_ioc_list kind = PS_IOC_HASH;
        kind_from_name(names[i], &kind);
        char path[4096];
        if (rc != PS_ERR_NOMEM) {
            int r = PS_ERR_IO;
            if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, names[i]) < sizeof path)
                r = ps_iocs_load_file(iocs, path, kind, diag, diag_ctx);
            else
                report_file_error(names[i], PS_ERR_ARG, diag, diag_ctx);
            if (r == PS_ERR_NOMEM)
                rc = r;
            else if (r != PS_OK)
                unreadable = 1;
        }
        free(names[i]);
    }
    free(names);
    return rc == PS_OK && unreadable ? PS_ERR_IO : rc;
}
