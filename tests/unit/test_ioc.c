/* IOC list parsing and matching (src/ioc). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "plainsight.h"

typedef struct diag_log {
    int count;
    uint64_t lines[16];
    char last[512];
} diag_log;

static void record_diag(void *ctx, const ps_diag *d)
{
    diag_log *log = ctx;
    if (log->count < 16)
        log->lines[log->count] = d->is_line ? d->offset : 0;
    log->count++;
    snprintf(log->last, sizeof log->last, "%s", d->message);
}

static ps_iocs *load(const char *text, ps_ioc_list kind, diag_log *log)
{
    ps_iocs *iocs = ps_iocs_new();
    assert_non_null(iocs);
    assert_int_equal(ps_iocs_load_mem(iocs, "test.txt", text, strlen(text), kind, record_diag, log),
                     PS_OK);
    return iocs;
}

static void test_hash_lines(void **state)
{
    (void)state;
    diag_log log = {0};
    const char *list =
        "# comment; C# tools\n"
        "\n"
        "0123456789ABCDEF0123456789abcdef;Upper case MD5\n"
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef;55;Scored SHA256\n"
        "0123456789abcdef0123456789abcdef01234567;Desc; with a semicolon\n"
        "xyz;not a hash\n"
        "0123;too short\n"
        "d41d8cd98f00b204e9800998ecf8427e;empty file, never an IOC\n";
    ps_iocs *iocs = load(list, PS_IOC_HASH, &log);
    assert_int_equal(log.count, 2);
    assert_int_equal(log.lines[0], 6);
    assert_int_equal(log.lines[1], 7);
    ps_ioc_counts c;
    ps_iocs_counts(iocs, &c);
    assert_int_equal(c.md5, 1);
    assert_int_equal(c.sha1, 1);
    assert_int_equal(c.sha256, 1);
    assert_int_equal(c.bad_lines, 2);

    ps_ioc_hit hit;
    assert_true(ps_iocs_match_hash(iocs, PS_IOC_HASH, "0123456789abcdef0123456789ABCDEF", &hit));
    assert_int_equal(hit.score, 100);
    assert_string_equal(hit.description, "Upper case MD5");
    assert_true(ps_iocs_match_hash(iocs, PS_IOC_HASH,
                                   "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                                   &hit));
    assert_int_equal(hit.score, 55);
    assert_string_equal(hit.description, "Scored SHA256");
    assert_true(ps_iocs_match_hash(iocs, PS_IOC_HASH, "0123456789abcdef0123456789abcdef01234567", &hit));
    assert_string_equal(hit.description, "Desc; with a semicolon");
    assert_false(ps_iocs_match_hash(iocs, PS_IOC_HASH, "d41d8cd98f00b204e9800998ecf8427e", &hit));
    assert_false(ps_iocs_match_hash(iocs, PS_IOC_FP_HASH, "0123456789abcdef0123456789abcdef", &hit));
    ps_iocs_free(iocs);
}

static void test_hash_duplicates_last_wins(void **state)
{
    (void)state;
    diag_log log = {0};
    ps_iocs *iocs = load("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa;first\n"
                         "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA;70;second\n",
                         PS_IOC_HASH, &log);
    ps_ioc_counts c;
    ps_iocs_counts(iocs, &c);
    assert_int_equal(c.md5, 1);
    ps_ioc_hit hit;
    assert_true(ps_iocs_match_hash(iocs, PS_IOC_HASH, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", &hit));
    assert_string_equal(hit.description, "second");
    assert_int_equal(hit.score, 70);
    ps_iocs_free(iocs);
}

static void test_filename_iocs(void **state)
{
    (void)state;
    diag_log log = {0};
    const char *list =
        "# Regin\n"
        "\\\\usbclass\\.sys;80\n"
        "(?i)\\\\procdump(64)?\\.exe;50;(?i)(SysInternals\\\\)\n"
        "mPclient\\.dll ;90\n"
        "C:\\\\Temp\\\\evil\\.exe$;70\n"
        "broken(regex;60\n"
        "\\\\ok\\.exe;notanumber\n"
        "\\\\noscore\\.exe\n";
    ps_iocs *iocs = load(list, PS_IOC_FILENAME, &log);
    assert_int_equal(log.count, 3);
    assert_int_equal(log.lines[0], 6);
    assert_int_equal(log.lines[1], 7);
    assert_int_equal(log.lines[2], 8);

    ps_ioc_hit hits[4];
    const char *p1 = "/mnt/img/Windows/System32/usbclass.sys";
    assert_int_equal(ps_iocs_match_path(iocs, p1, strlen(p1), hits, 4), 1);
    assert_int_equal(hits[0].score, 80);
    assert_string_equal(hits[0].description, "Regin");
    assert_string_equal(hits[0].ioc, "\\\\usbclass\\.sys");

    const char *p2 = "/case/Users/bob/PROCDUMP64.EXE";
    assert_int_equal(ps_iocs_match_path(iocs, p2, strlen(p2), hits, 4), 1);
    /* The false-positive regex excludes the SysInternals copy. */
    const char *p3 = "/case/Tools/SysInternals/procdump.exe";
    assert_int_equal(ps_iocs_match_path(iocs, p3, strlen(p3), hits, 4), 0);
    /* Trailing space in the list is not part of the pattern. */
    const char *p4 = "/x/mPclient.dll";
    assert_int_equal(ps_iocs_match_path(iocs, p4, strlen(p4), hits, 4), 1);
    /* The drive letter is dropped: a mounted C: volume matches. */
    const char *p5 = "/mnt/c/Temp/evil.exe";
    assert_int_equal(ps_iocs_match_path(iocs, p5, strlen(p5), hits, 4), 1);
    /* Case-sensitive unless (?i). */
    const char *p6 = "/x/USBCLASS.SYS";
    assert_int_equal(ps_iocs_match_path(iocs, p6, strlen(p6), hits, 4), 0);
    /* Invalid UTF-8 in a path is not an error. */
    const char *p7 = "/x/\xff\xfe/usbclass.sys";
    assert_int_equal(ps_iocs_match_path(iocs, p7, strlen(p7), hits, 4), 1);
    ps_iocs_free(iocs);
}

static void test_c2_and_keywords(void **state)
{
    (void)state;
    diag_log log = {0};
    ps_iocs *iocs = load("# Op X\nevil.example.com\n10.1.2.3;65\nabc\nbad host;10\n", PS_IOC_C2, &log);
    assert_int_equal(log.count, 2); /* "abc" too short, "bad host" has a space */
    assert_int_equal(ps_iocs_load_mem(iocs, "kw.txt", "# Mimikatz\nsekurlsa::logonpasswords\n", 37,
                                      PS_IOC_KEYWORD, record_diag, &log),
                     PS_OK);
    ps_ioc_hit hits[4];
    const char *t1 = "GET http://a.b.EVIL.example.com./x HTTP/1.1";
    assert_int_equal(ps_iocs_match_text(iocs, t1, strlen(t1), hits, 4), 1);
    assert_int_equal(hits[0].list, PS_IOC_C2);
    assert_string_equal(hits[0].ioc, "evil.example.com");
    assert_string_equal(hits[0].description, "Op X");
    assert_int_equal(hits[0].score, 100);

    const char *t2 = "notevil.example.com 110.1.2.3 10.1.2.34";
    assert_int_equal(ps_iocs_match_text(iocs, t2, strlen(t2), hits, 4), 0);
    const char *t3 = "dst=10.1.2.3:443";
    assert_int_equal(ps_iocs_match_text(iocs, t3, strlen(t3), hits, 4), 1);
    assert_int_equal(hits[0].score, 65);
    assert_int_equal(hits[0].offset, 4);

    const char *t4 = "mimikatz.exe \"sekurlsa::logonpasswords\" exit";
    assert_int_equal(ps_iocs_match_text(iocs, t4, strlen(t4), hits, 4), 1);
    assert_int_equal(hits[0].list, PS_IOC_KEYWORD);
    assert_string_equal(hits[0].description, "Mimikatz");
    ps_iocs_free(iocs);
}

static void test_hostile_input(void **state)
{
    (void)state;
    diag_log log = {0};
    /* A very long line, a NUL byte, no final newline, catastrophic regex. */
    size_t n = 70000;
    char *big = malloc(n + 64);
    assert_non_null(big);
    memset(big, 'a', n);
    static const char tail[] = "\n(a+)+$;50\nx\0y;40\nzz;40";
    memcpy(big + n, tail, sizeof tail - 1); /* memcpy: the tail holds a NUL */
    size_t len = n + sizeof tail - 1;
    ps_iocs *iocs = ps_iocs_new();
    assert_int_equal(ps_iocs_load_mem(iocs, "h.txt", big, len, PS_IOC_FILENAME, record_diag, &log), PS_OK);
    assert_int_equal(log.count, 2); /* the long line and the NUL line */
    ps_ioc_hit hits[4];
    /* The match limit stops exponential backtracking; no hang, no crash. */
    char path[64];
    memset(path, 'a', 40);
    strcpy(path + 40, "!");
    ps_iocs_match_path(iocs, path, strlen(path), hits, 4);
    const char *zz = "/zz";
    assert_int_equal(ps_iocs_match_path(iocs, zz, strlen(zz), hits, 4), 1);
    ps_iocs_free(iocs);
    free(big);
}

/* A list that cannot be read is reported and makes the load fail, but the
 * other lists of the directory still load. */
static void test_unreadable_list_in_dir(void **state)
{
    (void)state;
    char dir[] = "/tmp/ps-test-iocdir-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char p[512];
    snprintf(p, sizeof p, "%s/c2-iocs.txt", dir);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs("evil-c2.example.com\n", f);
    fclose(f);
    /* Named like a list, but a directory (root reads any mode-000 file). */
    snprintf(p, sizeof p, "%s/hash-iocs.txt", dir);
    assert_int_equal(mkdir(p, 0700), 0);
    diag_log log = {0};
    ps_iocs *iocs = ps_iocs_new();
    assert_int_equal(ps_iocs_load_dir(iocs, dir, record_diag, &log), PS_ERR_IO);
    assert_int_equal(log.count, 1);
    assert_non_null(strstr(log.last, "not a regular file"));
    ps_ioc_counts c;
    ps_iocs_counts(iocs, &c);
    assert_int_equal(c.unreadable_files, 1);
    assert_int_equal(c.c2, 1); /* the readable list loaded */
    ps_iocs_free(iocs);
    rmdir(p);
    snprintf(p, sizeof p, "%s/c2-iocs.txt", dir);
    unlink(p);
    rmdir(dir);
}

static void test_signature_base_loads_cleanly(void **state)
{
    (void)state;
    const char *corpus = getenv("PS_SHARED_CORPUS");
    char dir[4096];
    struct stat st;
    snprintf(dir, sizeof dir, "%s/signature-base/iocs", corpus ? corpus : "../shared/corpus");
    if (stat(dir, &st) != 0) {
        print_message("skipped: %s not found (set PS_SHARED_CORPUS)\n", dir);
        skip();
    }
    diag_log log = {0};
    ps_iocs *iocs = ps_iocs_new();
    assert_int_equal(ps_iocs_load_dir(iocs, dir, record_diag, &log), PS_OK);
    if (log.count)
        print_message("first problem: %s\n", log.last);
    assert_int_equal(log.count, 0);
    ps_ioc_counts c;
    ps_iocs_counts(iocs, &c);
    assert_int_equal(c.bad_lines, 0);
    assert_true(c.md5 + c.sha1 + c.sha256 > 3000);
    assert_true(c.filename > 3000);
    assert_true(c.c2 > 1500);
    assert_true(c.keywords > 10);
    ps_iocs_free(iocs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_lines),
        cmocka_unit_test(test_hash_duplicates_last_wins),
        cmocka_unit_test(test_filename_iocs),
        cmocka_unit_test(test_c2_and_keywords),
        cmocka_unit_test(test_hostile_input),
        cmocka_unit_test(test_unreadable_list_in_dir),
        cmocka_unit_test(test_signature_base_loads_cleanly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
