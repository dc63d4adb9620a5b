/* The file scanner (src/scan) on a fixture tree the test builds itself. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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

/* sha256("plainsight hash fixture\n") */
#define FIXTURE_SHA256 "03a4b5dee4d858a7a6a560663d5a5f81006f3e561c5188981461695577c9d84c"

static char root[256];

typedef struct collected {
    char paths[64][512];
    int scores[64];
    unsigned flags[64];
    char reasons[64][512];
    int n;
    int diags;
    char last_diag[512];
} collected;

static void on_diag(void *ctx, const ps_diag *d)
{
    collected *c = ctx;
    c->diags++;
    snprintf(c->last_diag, sizeof c->last_diag, "%s: %s", d->path ? d->path : "", d->message);
}

static int on_result(void *ctx, const ps_scan_result *r)
{
    collected *c = ctx;
    if (c->n == 64)
        return 0;
    const char *rel = strncmp(r->path, root, strlen(root)) ? r->path : r->path + strlen(root) + 1;
    snprintf(c->paths[c->n], sizeof c->paths[0], "%s", rel);
    c->scores[c->n] = r->score;
    c->flags[c->n] = r->flags;
    size_t used = 0;
    c->reasons[c->n][0] = 0;
    for (size_t i = 0; i < r->nreasons && used < sizeof c->reasons[0]; i++)
        used += (size_t)snprintf(c->reasons[c->n] + used, sizeof c->reasons[0] - used, "%s:%s ",
                                 ps_reason_type_name(r->reasons[i].type), r->reasons[i].name);
    c->n++;
    return 0;
}

static int find(const collected *c, const char *rel)
{
    for (int i = 0; i < c->n; i++)
        if (!strcmp(c->paths[i], rel))
            return i;
    return -1;
}

static void write_file(const char *rel, const char *data)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(data, f);
    fclose(f);
}

static void mkdir_rel(const char *rel)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    assert_int_equal(mkdir(p, 0755), 0);
}

static int build_tree(void **state)
{
    (void)state;
    snprintf(root, sizeof root, "/tmp/ps-test-scan-XXXXXX");
    if (!mkdtemp(root))
        return -1;
    mkdir_rel("tree");
    mkdir_rel("tree/Windows");
    mkdir_rel("tree/Windows/Temp");
    mkdir_rel("tree/SysInternals");
    mkdir_rel("tree/loop");
    write_file("tree/hash-hit.bin", "plainsight hash fixture\n");
    write_file("tree/Windows/Temp/usbclass.sys", "driver\n");
    write_file("tree/Windows/Temp/procdump.exe", "tool\n");
    write_file("tree/SysInternals/procdump.exe", "tool\n");
    write_file("tree/rule-hit.txt", "xx PLAINSIGHT-YARA-MARKER xx\n");
    write_file("tree/rule-miss.dat", "xx PLAINSIGHT-YARA-MARKER xx\n"); /* wrong extension */
    write_file("tree/clean.txt", "nothing to see\n");
    char p[512], q[512];
    snprintf(p, sizeof p, "%s/tree/loop/up", root);
    assert_int_equal(symlink("..", p), 0);          /* loop back up the tree */
    snprintf(p, sizeof p, "%s/tree/loop/out", root);
    assert_int_equal(symlink("/etc", p), 0);        /* out of the tree */
    snprintf(p, sizeof p, "%s/tree/fifo", root);
    assert_int_equal(mkfifo(p, 0600), 0);            /* opening it would block */
    /* 64 MiB sparse file, over the 1 MiB limit used below. */
    snprintf(p, sizeof p, "%s/tree/huge.img", root);
    int fd = open(p, O_WRONLY | O_CREAT, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 64 << 20), 0);
    close(fd);
    /* Lists and rule. */
    write_file("hash-iocs.txt", "# fixture\n" FIXTURE_SHA256 ";Plainsight test hash\n");
    write_file("filename-iocs.txt",
               "# Regin\n\\\\usbclass\\.sys;80\n"
               "# procdump outside SysInternals\n(?i)\\\\procdump\\.exe;50;(?i)SysInternals\\\\\n");
    write_file("rule.yar",
               "rule Plainsight_Marker {\n"
               "  meta: description = \"test marker\" score = 65\n"
               "  strings: $a = \"PLAINSIGHT-YARA-MARKER\"\n"
               "  condition: $a and extension == \".txt\" and filename endswith \"-hit.txt\"\n"
               "}\n");
    snprintf(q, sizeof q, "%s/bad.yar", root);
    FILE *f = fopen(q, "w");
    fputs("rule Broken {\n  condition: nonsense_identifier\n}\n", f);
    fclose(f);
    return 0;
}

static int remove_tree(void **state)
{
    (void)state;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    return system(cmd) == 0 ? 0 : -1;
}

static ps_scanner *make_scanner(collected *c, unsigned threads, ps_iocs **iocs_out)
{
    ps_scan_options opt = {.threads = threads, .max_scan_size = 1 << 20, .diag = on_diag, .diag_ctx = c};
    ps_scanner *s = ps_scanner_new(&opt);
    assert_non_null(s);
    ps_iocs *iocs = ps_iocs_new();
    char p[512];
    snprintf(p, sizeof p, "%s", root);
    assert_int_equal(ps_iocs_load_dir(iocs, p, on_diag, c), PS_OK);
    ps_scanner_set_iocs(s, iocs);
    snprintf(p, sizeof p, "%s/rule.yar", root);
    assert_int_equal(ps_scanner_add_yara(s, p), PS_OK);
    *iocs_out = iocs;
    return s;
}

static void run_tree(collected *c, unsigned threads, ps_scan_stats *st)
{
    ps_iocs *iocs;
    ps_scanner *s = make_scanner(c, threads, &iocs);
    char tree[512];
    snprintf(tree, sizeof tree, "%s/tree", root);
    const char *paths[] = {tree};
    alarm(60); /* a FIFO opened by mistake would block forever */
    assert_int_equal(ps_scan_run(s, paths, 1, on_result, c, st), PS_OK);
    alarm(0);
    ps_scanner_free(s);
    ps_iocs_free(iocs);
}

static void test_findings(void **state)
{
    (void)state;
    collected c = {0};
    ps_scan_stats st;
    run_tree(&c, 1, &st);

    int i = find(&c, "tree/hash-hit.bin");
    assert_true(i >= 0);
    assert_int_equal(c.scores[i], 100);
    assert_non_null(strstr(c.reasons[i], "hash:" FIXTURE_SHA256));

    i = find(&c, "tree/Windows/Temp/usbclass.sys");
    assert_true(i >= 0);
    assert_int_equal(c.scores[i], 80);

    i = find(&c, "tree/Windows/Temp/procdump.exe");
    assert_true(i >= 0);
    assert_int_equal(c.scores[i], 50);
    assert_int_equal(find(&c, "tree/SysInternals/procdump.exe"), -1); /* false positive excluded */

    i = find(&c, "tree/rule-hit.txt");
    assert_true(i >= 0);
    assert_int_equal(c.scores[i], 65);
    assert_non_null(strstr(c.reasons[i], "yara:Plainsight_Marker"));
    assert_int_equal(find(&c, "tree/rule-miss.dat"), -1); /* externals decide */
    assert_int_equal(find(&c, "tree/clean.txt"), -1);

    assert_int_equal(st.files, 8);
    assert_int_equal(st.special, 1);   /* the FIFO */
    assert_int_equal(st.symlinks, 2);  /* neither followed */
    assert_int_equal(st.too_large, 1); /* huge.img */
    assert_int_equal(st.unreadable, 0);
    assert_int_equal(st.alerts, 1);
    assert_int_equal(st.warnings, 2);
    assert_int_equal(st.notices, 1);
    assert_int_equal(c.n, 4);
}

static void test_sparse_file_hashed_not_scanned(void **state)
{
    (void)state;
    collected c = {0};
    ps_iocs *iocs;
    ps_scanner *s = make_scanner(&c, 1, &iocs);
    ps_scanner_free(s);
    ps_scan_options opt = {.threads = 1, .max_scan_size = 1 << 20, .report_all = 1,
                           .diag = on_diag, .diag_ctx = &c};
    s = ps_scanner_new(&opt);
    char p[512];
    snprintf(p, sizeof p, "%s/rule.yar", root);
    ps_scanner_add_yara(s, p);
    snprintf(p, sizeof p, "%s/tree/huge.img", root);
    const char *paths[] = {p};
    ps_scan_stats st;
    assert_int_equal(ps_scan_run(s, paths, 1, on_result, &c, &st), PS_OK);
    assert_int_equal(c.n, 1);
    assert_true(c.flags[0] & PS_SCAN_HASHED);
    assert_true(c.flags[0] & PS_SCAN_TOO_LARGE);
    assert_false(c.flags[0] & PS_SCAN_YARA);
    assert_non_null(strstr(c.last_diag, "not YARA-scanned"));
    assert_int_equal(st.bytes, 64 << 20);
    ps_scanner_free(s);
    ps_iocs_free(iocs);
}

static void test_threads_same_order(void **state)
{
    (void)state;
    collected one = {0}, four = {0};
    ps_scan_stats a, b;
    run_tree(&one, 1, &a);
    run_tree(&four, 4, &b);
    assert_int_equal(one.n, four.n);
    for (int i = 0; i < one.n; i++) {
        assert_string_equal(one.paths[i], four.paths[i]);
        assert_int_equal(one.scores[i], four.scores[i]);
        if (i)
            assert_true(strcmp(one.paths[i - 1], one.paths[i]) < 0); /* sorted by path */
    }
    assert_int_equal(a.files, b.files);
    assert_int_equal(a.bytes, b.bytes);
}

static void test_unreadable_file(void **state)
{
    (void)state;
    char p[512];
    const char *target;
    if (geteuid() != 0) {
        snprintf(p, sizeof p, "%s/locked.txt", root);
        write_file("locked.txt", "secret\n");
        assert_int_equal(chmod(p, 0), 0);
        target = p;
    } else if (access("/sys/bus/pci/rescan", F_OK) == 0) {
        /* Root reads any mode-000 file, but a write-only sysfs attribute
         * refuses to open for reading even for root: an honest unreadable
         * regular file. */
        target = "/sys/bus/pci/rescan";
    } else {
        print_message("skipped: running as root and no write-only sysfs file to test with\n");
        skip();
        return;
    }
    collected c = {0};
    ps_scan_options opt = {.threads = 1, .diag = on_diag, .diag_ctx = &c};
    ps_scanner *s = ps_scanner_new(&opt);
    char clean[600];
    snprintf(clean, sizeof clean, "%s/tree/clean.txt", root);
    const char *paths[] = {target, clean};
    ps_scan_stats st;
    assert_int_equal(ps_scan_run(s, paths, 2, on_result, &c, &st), PS_OK);
    assert_int_equal(st.unreadable, 1);
    assert_int_equal(st.files, 2); /* the walk went on */
    assert_true(c.diags >= 1);
    ps_scanner_free(s);
}

static void test_bad_rule_file_is_reported(void **state)
{
    (void)state;
    collected c = {0};
    ps_scan_options opt = {.threads = 1, .diag = on_diag, .diag_ctx = &c};
    ps_scanner *s = ps_scanner_new(&opt);
    char p[512];
    snprintf(p, sizeof p, "%s/bad.yar", root);
    ps_scanner_add_yara(s, p);
    snprintf(p, sizeof p, "%s/rule.yar", root);
    ps_scanner_add_yara(s, p);
    size_t n = 0;
    assert_int_equal(ps_scanner_compile(s, &n), PS_OK);
    assert_int_equal(n, 1); /* the good file still loads */
    assert_int_equal(c.diags, 1);
    assert_non_null(strstr(c.last_diag, "bad.yar"));
    ps_scanner_free(s);
}

/* libyara's fast mode (on in plainsight) must not change which rules match:
 * strings a rule counts, locates or tests in a range keep all their matches. */
static void test_fast_mode_keeps_counts_and_offsets(void **state)
{
    (void)state;
    write_file("repeat.txt", "ab ab ab ab x\n"); /* "ab" at 0, 3, 6, 9 */
    write_file("counts.yar",
               "rule Count_Four { strings: $a = \"ab\" $x = \"x\" condition: $x and #a == 4 }\n"
               "rule Count_One { strings: $a = \"ab\" condition: #a == 1 }\n"
               "rule Third_At_6 { strings: $a = \"ab\" condition: @a[3] == 6 }\n"
               "rule In_Range { strings: $a = \"ab\" condition: $a in (5..7) }\n"
               "rule At_9 { strings: $a = \"ab\" condition: $a at 9 }\n"
               "rule Loop_At { strings: $a = \"ab\" condition: for any of ($a) : ($ at 3) }\n"
               "rule Found { strings: $a = \"ab\" condition: $a }\n");
    collected c = {0};
    ps_scan_options opt = {.threads = 1, .report_all = 1, .diag = on_diag, .diag_ctx = &c};
    ps_scanner *s = ps_scanner_new(&opt);
    char p[512], target[512];
    snprintf(p, sizeof p, "%s/counts.yar", root);
    assert_int_equal(ps_scanner_add_yara(s, p), PS_OK);
    snprintf(target, sizeof target, "%s/repeat.txt", root);
    const char *paths[] = {target};
    ps_scan_stats st;
    assert_int_equal(ps_scan_run(s, paths, 1, on_result, &c, &st), PS_OK);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.reasons[0], "yara:Count_Four yara:Third_At_6 yara:In_Range yara:At_9 "
                                      "yara:Loop_At yara:Found ");
    ps_scanner_free(s);
}

static void test_signature_base_rules_compile(void **state)
{
    (void)state;
    const char *corpus = getenv("PS_SHARED_CORPUS");
    char dir[4096];
    struct stat st;
    snprintf(dir, sizeof dir, "%s/signature-base/yara", corpus ? corpus : "../shared/corpus");
    if (stat(dir, &st) != 0) {
        print_message("skipped: %s not found (set PS_SHARED_CORPUS)\n", dir);
        skip();
    }
    collected c = {0};
    ps_scan_options opt = {.diag = on_diag, .diag_ctx = &c};
    ps_scanner *s = ps_scanner_new(&opt);
    assert_int_equal(ps_scanner_add_yara(s, dir), PS_OK);
    size_t n = 0;
    int rc = ps_scanner_compile(s, &n);
    if (rc != PS_OK)
        print_message("last diagnostic: %s\n", c.last_diag);
    assert_int_equal(rc, PS_OK);
    assert_true(n > 500);
    ps_scanner_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_findings),
        cmocka_unit_test(test_sparse_file_hashed_not_scanned),
        cmocka_unit_test(test_threads_same_order),
        cmocka_unit_test(test_unreadable_file),
        cmocka_unit_test(test_bad_rule_file_is_reported),
        cmocka_unit_test(test_fast_mode_keeps_counts_and_offsets),
        cmocka_unit_test(test_signature_base_rules_compile),
    };
    return cmocka_run_group_tests(tests, build_tree, remove_tree);
}
