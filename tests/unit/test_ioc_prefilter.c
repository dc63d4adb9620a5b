/* The Hyperscan prefilter for file-name IOCs must give exactly what the plain
 * PCRE2 loop gives: same IOCs, same order, same counts, on any path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "ioc/ioc_internal.h"

#define MAX_HITS 64

typedef struct rng {
    uint64_t s;
} rng;

static uint32_t next(rng *r)
{
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return (uint32_t)(r->s >> 16);
}

/* Literal pieces of the patterns (runs of name characters), the raw stuff
 * generated paths are made of, so that the IOCs actually hit. */
typedef struct pieces {
    char **items;
    size_t n, cap;
} pieces;

static void add_piece(pieces *p, const char *s, size_t len)
{
    if (len < 2 || p->n == 200000)
        return;
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 256;
        p->items = realloc(p->items, p->cap * sizeof *p->items);
        assert_non_null(p->items);
    }
    p->items[p->n] = strndup(s, len);
    assert_non_null(p->items[p->n]);
    p->n++;
}

static void collect_pieces(const ps_iocs *iocs, pieces *p)
{
    for (size_t i = 0; i < iocs->nfn; i++) {
        const char *re = iocs->fn[i].regex;
        char buf[512];
        size_t n = 0;
        for (const char *c = re;; c++) {
            int keep = *c && (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-/ ", *c) ||
                              (c[0] == '\\' && c[1] == '.'));
            if (keep && c[0] == '\\') {
                c++; /* "\." is a literal dot */
            }
            if (keep && n + 1 < sizeof buf) {
                buf[n++] = *c;
                continue;
            }
            add_piece(p, buf, n);
            n = 0;
            if (!*c)
                break;
        }
    }
}

static void free_pieces(pieces *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->items[i]);
    free(p->items);
}

/* A path of 1 to 6 pieces joined by '/', with random case flips, random
 * extra characters and, now and then, a non-ASCII byte or a newline. */
static size_t make_path(rng *r, const pieces *p, char *out, size_t cap)
{
    static const char extra[] = "./\\-_ x.exeEXE$()[]\n\xc3\xa9\xff";
    size_t n = 0;
    unsigned parts = 1 + next(r) % 6;
    if (next(r) % 2)
        out[n++] = '/';
    for (unsigned k = 0; k < parts && n + 256 < cap; k++) {
        const char *piece = p->items[next(r) % p->n];
        for (const char *c = piece; *c && n + 1 < cap; c++) {
            char ch = *c;
            if (next(r) % 16 == 0 && (ch | 0x20) >= 'a' && (ch | 0x20) <= 'z')
                ch = (char)(ch ^ 0x20); /* caseless patterns must still hit */
            out[n++] = ch;
        }
        if (next(r) % 8 == 0)
            out[n++] = extra[next(r) % (sizeof extra - 1)];
        if (k + 1 < parts)
            out[n++] = '/';
    }
    out[n] = 0;
    return n;
}

/* Compares the two matchers on `count` generated paths; returns the number
 * of paths that had at least one hit. */
static size_t compare_on_generated_paths(const ps_iocs *iocs, size_t count, uint64_t seed)
{
    pieces p = {0};
    collect_pieces(iocs, &p);
    assert_true(p.n > 0);
    ps_ioc_scratch *sc = ps_ioc_scratch_new(iocs);
    assert_non_null(sc);
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    assert_non_null(md);
    rng r = {seed};
    size_t paths_hit = 0;
    char path[4096];
    for (size_t i = 0; i < count; i++) {
        size_t len = make_path(&r, &p, path, sizeof path);
        ps_ioc_hit fast[MAX_HITS], slow[MAX_HITS];
        size_t nf = ps_iocs_match_path_with(sc, path, len, fast, MAX_HITS);
        size_t ns = ps_iocs_match_path_plain(iocs, path, len, md, slow, MAX_HITS);
        if (nf != ns)
            fail_msg("path '%s': %zu hits with the prefilter, %zu without", path, nf, ns);
        for (size_t k = 0; k < nf && k < MAX_HITS; k++)
            if (fast[k].ioc != slow[k].ioc)
                fail_msg("path '%s': hit %zu is '%s', PCRE2 says '%s'", path, k, fast[k].ioc,
                         slow[k].ioc);
        paths_hit += nf > 0;
    }
    pcre2_match_data_free(md);
    ps_ioc_scratch_free(sc);
    free_pieces(&p);
    return paths_hit;
}

/* Patterns of every kind the prefilter handles differently: plain,
 * caseless, anchored, empty-matching, lookarounds and back-references
 * (prefilter mode), false-positive exclusions, non-ASCII. */
static const char hostile_list[] =
    "# plain\n"
    "\\\\svcsstat\\.exe;70\n"
    "(?i)\\\\procdump(64)?(a)?\\.(exe|zip);50;(?i)(SysInternals\\\\)\n"
    "\\\\(server|svchost|svhost)\\.exe$;50\n"
    "^/tmp/[a-z]{3}\\.bin$;40\n"
    "x?;10\n"
    "# lookarounds, back-references, atomic and possessive\n"
    "(?<!Windows)\\\\temp\\\\[^\\\\]+\\.exe;60\n"
    "\\\\(?=[a-z]{4}\\.dll)[a-z]+\\.dll;60\n"
    "([a-z])\\1\\1\\.exe;60\n"
    "(?>ab|a)c\\.ps1;60\n"
    "[a-z]++\\.vbs;60\n"
    "# non-ASCII and odd classes\n"
    "\xc3\xa9t\xc3\xa9\\.exe;60\n"
    "[^a-z]{2}\\.dat;30\n"
    "\\bEXE\\b;30\n"
    "\\d{3,}\\.log;30\n";

static void test_prefilter_equals_pcre2_on_hostile_list(void **state)
{
    (void)state;
    ps_iocs *iocs = ps_iocs_new();
    assert_non_null(iocs);
    assert_int_equal(ps_iocs_load_mem(iocs, "t.txt", hostile_list, strlen(hostile_list),
                                      PS_IOC_FILENAME, NULL, NULL),
                     PS_OK);
    assert_true(iocs->nfn >= 14);
    assert_int_equal(ps_iocs_prepare(iocs), PS_IOC_CACHE_UNUSED);
    assert_non_null(iocs->pre->db);
    size_t hit = compare_on_generated_paths(iocs, 30000, 0x9e3779b97f4a7c15ull);
    assert_true(hit > 1000);
    /* Fixed cases, including the false-positive exclusion. */
    ps_ioc_hit h[MAX_HITS];
    const char *p1 = "/mnt/c/Users/x/procdump64.exe";
    assert_int_equal(ps_iocs_match_path(iocs, p1, strlen(p1), h, MAX_HITS), 2); /* + "x?" */
    const char *p2 = "/mnt/c/SysInternals/procdump64.exe";
    assert_int_equal(ps_iocs_match_path(iocs, p2, strlen(p2), h, MAX_HITS), 1);
    ps_iocs_free(iocs);
}

static void test_prefilter_equals_pcre2_on_signature_base(void **state)
{
    (void)state;
    const char *corpus = getenv("PS_SHARED_CORPUS");
    char path[4096];
    snprintf(path, sizeof path, "%s/signature-base/iocs/filename-iocs.txt", corpus ? corpus : "");
    FILE *f = corpus ? fopen(path, "r") : NULL;
    if (!f) {
        print_message("skipped: %s not found\n", path);
        skip();
    }
    fclose(f);
    ps_iocs *iocs = ps_iocs_new();
    assert_non_null(iocs);
    assert_int_equal(ps_iocs_load_file(iocs, path, PS_IOC_FILENAME, NULL, NULL), PS_OK);
    assert_true(iocs->nfn > 3000);
    ps_iocs_prepare(iocs);
    assert_non_null(iocs->pre->db);
    print_message("%zu file-name IOCs, %zu outside the Hyperscan database\n", iocs->nfn,
                  iocs->pre->nalways);
    size_t hit = compare_on_generated_paths(iocs, 15000, 12345);
    print_message("%zu of 15000 generated paths hit\n", hit);
    assert_true(hit > 1000);
    ps_iocs_free(iocs);
}

/* ------------------------------------------------- the database cache */

static ps_iocs *load_hostile(const char *cache_dir, const char *extra)
{
    ps_iocs *iocs = ps_iocs_new();
    assert_non_null(iocs);
    assert_int_equal(ps_iocs_load_mem(iocs, "t.txt", hostile_list, strlen(hostile_list),
                                      PS_IOC_FILENAME, NULL, NULL),
                     PS_OK);
    if (extra)
        assert_int_equal(ps_iocs_load_mem(iocs, "u.txt", extra, strlen(extra), PS_IOC_FILENAME,
                                          NULL, NULL),
                         PS_OK);
    assert_int_equal(ps_iocs_set_cache_dir(iocs, cache_dir), PS_OK);
    return iocs;
}

/* Builds (or loads) with the cache in `dir`, checks the matcher against
 * PCRE2 and returns where the database came from. */
static ps_ioc_cache_state use_cache(const char *dir, const char *extra)
{
    ps_iocs *iocs = load_hostile(dir, extra);
    ps_ioc_cache_state st = ps_iocs_prepare(iocs);
    assert_non_null(iocs->pre->db);
    assert_true(compare_on_generated_paths(iocs, 3000, 77) > 100);
    ps_iocs_free(iocs);
    return st;
}

/* The one cache file in `dir` (there is never more than one). */
static void cache_file(const char *dir, char *out, size_t n)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int found = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        assert_int_equal(found, 0);
        assert_true(strncmp(e->d_name, "filename-", 9) == 0);
        snprintf(out, n, "%s/%s", dir, e->d_name);
        found = 1;
    }
    closedir(d);
    assert_int_equal(found, 1);
}

static void flip_byte(const char *path, long offset_from_end)
{
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, -offset_from_end, SEEK_END), 0);
    int c = fgetc(f);
    assert_int_equal(fseek(f, -offset_from_end, SEEK_END), 0);
    fputc(c ^ 0x40, f);
    fclose(f);
}

static void test_cache_stores_loads_and_rejects(void **state)
{
    (void)state;
    char root[] = "/tmp/ps-test-hscache-XXXXXX";
    assert_non_null(mkdtemp(root));
    char dir[512], file[1024], other[1024], now_there[1024];
    snprintf(dir, sizeof dir, "%s/a/b", root); /* parents are made too */

    assert_int_equal(use_cache(dir, NULL), PS_IOC_CACHE_STORED);
    struct stat st;
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    cache_file(dir, file, sizeof file);
    assert_int_equal(stat(file, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(use_cache(dir, NULL), PS_IOC_CACHE_LOADED);

    /* Damaged in the database bytes, in the digest, or cut short. */
    flip_byte(file, 1000);
    assert_int_equal(use_cache(dir, NULL), PS_IOC_CACHE_REJECTED);
    assert_int_equal(use_cache(dir, NULL), PS_IOC_CACHE_LOADED); /* replaced */
    flip_byte(file, 1);
    assert_int_equal(use_cache(dir, NULL), PS_IOC_CACHE_REJECTED);
    assert_int_equal(stat(file, &st), 0);
    assert_int_equal(truncate(file, st.st_size / 2), 0);
    assert_int_equal(use_cache(dir, NULL), PS_IOC_CACHE_REJECTED);
    assert_int_equal(use_cache(dir, NULL), PS_IOC_CACHE_LOADED);

    /* A symbolic link in its place (to a good copy) is not followed. */
    char cmd0[2200];
    snprintf(cmd0, sizeof cmd0, "mv '%s' '%s/good' && ln -s '%s/good' '%s'", file, root, root, file);
    assert_int_equal(system(cmd0), 0);
    assert_int_equal(use_cache(dir, NULL), PS_IOC_CACHE_REJECTED);
    assert_int_equal(lstat(file, &st), 0);
    assert_true(S_ISREG(st.st_mode)); /* replaced by a file of its own */

    /* Writable by others: not trusted, whoever wrote it. */
    assert_int_equal(chmod(file, 0666), 0);
    assert_int_equal(use_cache(dir, NULL), PS_IOC_CACHE_REJECTED);
    assert_int_equal(stat(file, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    /* Other lists: a new file, and the old one goes. */
    const char *extra = "\\\\extra-ioc\\.exe;70\n";
    assert_int_equal(use_cache(dir, extra), PS_IOC_CACHE_STORED);
    cache_file(dir, other, sizeof other);
    assert_string_not_equal(file, other);
    assert_int_equal(use_cache(dir, NULL), PS_IOC_CACHE_STORED);
    cache_file(dir, now_there, sizeof now_there);
    assert_string_equal(now_there, file);
    /* The first lists' database under the second lists' name: its key says
     * it is for other regexes. */
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s/old' && cp '%s' '%s'", file, root, file, other);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(use_cache(dir, extra), PS_IOC_CACHE_REJECTED);
    assert_int_equal(use_cache(dir, extra), PS_IOC_CACHE_LOADED);

    /* A directory that cannot be made costs only the rebuild. */
    snprintf(cmd, sizeof cmd, "%s/old/sub", root); /* under a regular file */
    assert_int_equal(use_cache(cmd, NULL), PS_IOC_CACHE_UNWRITABLE);
    assert_int_equal(use_cache(NULL, NULL), PS_IOC_CACHE_UNUSED);

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    assert_int_equal(system(cmd), 0);
}

/* Nothing is compiled until a path is matched (hunt only looks for C2). */
static void test_database_built_on_first_use(void **state)
{
    (void)state;
    ps_iocs *iocs = load_hostile(NULL, NULL);
    assert_int_equal(iocs->pre->built, 0);
    assert_null(iocs->pre->db);
    ps_ioc_hit h[MAX_HITS];
    const char *p1 = "/mnt/c/Users/x/procdump64.exe";
    assert_int_equal(ps_iocs_match_path(iocs, p1, strlen(p1), h, MAX_HITS), 2);
    assert_int_equal(iocs->pre->built, 1);
    assert_non_null(iocs->pre->db);
    /* A later load makes it stale; the next scratch rebuilds it. */
    const char *more = "\\\\later\\.exe;70\n";
    assert_int_equal(ps_iocs_load_mem(iocs, "v.txt", more, strlen(more), PS_IOC_FILENAME, NULL,
                                      NULL),
                     PS_OK);
    const char *p2 = "/x/later.exe";
    assert_int_equal(ps_iocs_match_path(iocs, p2, strlen(p2), h, MAX_HITS), 2); /* + "x?" */
    assert_int_equal(iocs->pre->covered, iocs->nfn);
    ps_iocs_free(iocs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prefilter_equals_pcre2_on_hostile_list),
        cmocka_unit_test(test_prefilter_equals_pcre2_on_signature_base),
        cmocka_unit_test(test_cache_stores_loads_and_rejects),
        cmocka_unit_test(test_database_built_on_first_use),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
