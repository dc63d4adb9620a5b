/* Rule files are parsed on several threads (ps_sigma_options.threads) and
 * compiled in file order: the set, its statistics and every diagnostic must
 * be the same, in the same order, for any number of threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plainsight/sigma.h"
#include "util/buf.h"

typedef struct loaded {
    ps_sigma_stats st;
    ps_buf rules;   /* per rule: id, title, path, line */
    ps_buf diags;   /* every diagnostic, in order */
} loaded;

static void on_diag(void *ctx, const ps_diag *d)
{
    loaded *l = ctx;
    ps_buf_printf(&l->diags, "%d %s:%llu %s\n", (int)d->severity, d->path ? d->path : "",
                  (unsigned long long)d->offset, d->message);
}

static void load(const char *const *paths, size_t n, unsigned threads, loaded *l)
{
    memset(l, 0, sizeof *l);
    ps_buf_init(&l->rules);
    ps_buf_init(&l->diags);
    ps_sigma_options o = {.diag = on_diag, .diag_ctx = l, .threads = threads};
    ps_sigma_set *set = NULL;
    assert_int_equal(ps_sigma_load(paths, n, &o, &set, &l->st), PS_OK);
    for (size_t i = 0; i < ps_sigma_rule_count(set); i++) {
        const ps_sigma_rule_info *r = ps_sigma_rule(set, i);
        ps_buf_printf(&l->rules, "%s|%s|%s|%u\n", r->id, r->title, r->path, r->line);
    }
    assert_false(l->rules.failed || l->diags.failed);
    ps_sigma_free(set);
}

static void assert_same(const loaded *a, const loaded *b)
{
    assert_memory_equal(&a->st, &b->st, sizeof a->st);
    assert_int_equal(a->rules.len, b->rules.len);
    assert_memory_equal(a->rules.data, b->rules.data, a->rules.len);
    assert_int_equal(a->diags.len, b->diags.len);
    if (a->diags.len)
        assert_memory_equal(a->diags.data, b->diags.data, a->diags.len);
}

static void loaded_free(loaded *l)
{
    ps_buf_free(&l->rules);
    ps_buf_free(&l->diags);
}

static void put(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    fclose(f);
}

/* Many small files: good rules, YAML errors, structure errors, several
 * documents (one bad), a file over the size limit, nested and linked
 * directories, and a path that does not exist. */
static void test_made_up_tree(void **state)
{
    (void)state;
    char root[] = "/tmp/ps-load-threads-XXXXXX", path[512], text[512];
    assert_non_null(mkdtemp(root));
    snprintf(path, sizeof path, "%s/sub", root);
    assert_int_equal(mkdir(path, 0700), 0);
    for (int i = 0; i < 150; i++) {
        snprintf(path, sizeof path, "%s/%s%03d.yml", root, i % 3 ? "" : "sub/", i);
        int len;
        switch (i % 5) {
        case 0: len = snprintf(text, sizeof text, "title: t%d\n  bad: [yaml\n", i); break;
        case 1: len = snprintf(text, sizeof text, "title: t%d\nid: x%d\n", i, i); break;
        case 2:
            len = snprintf(text, sizeof text,
                           "title: t%d\nid: a%d\nlogsource: {product: windows, service: "
                           "security}\ndetection:\n  s: {EventID: %d}\n  condition: s\n---\n"
                           "just text\n---\ntitle: u%d\nid: b%d\nlogsource: {product: windows}"
                           "\ndetection:\n  k: ['word%d']\n  condition: k\n", i, i, 4600 + i, i,
                           i, i);
            break;
        default:
            len = snprintf(text, sizeof text,
                           "title: t%d\nid: c%d\nlogsource: {product: windows, category: "
                           "process_creation}\ndetection:\n  s: {CommandLine|contains: 'x%d'}\n"
                           "  condition: s\n", i, i, i);
        }
        put(path, text, (size_t)len);
    }
    snprintf(path, sizeof path, "%s/big.yml", root);
    static char big[(8 << 20) + 16];
    memset(big, '#', sizeof big);
    put(path, big, sizeof big);
    char linked[600];
    snprintf(path, sizeof path, "%s/sub", root);
    snprintf(linked, sizeof linked, "%s/zlink", root);
    assert_int_equal(symlink(path, linked), 0);
    char missing[600];
    snprintf(missing, sizeof missing, "%s/missing", root);
    const char *paths[] = {root, missing, path};
    loaded one, many;
    load(paths, 3, 1, &one);
    assert_true(one.st.rules_loaded > 100);
    assert_true(one.st.rules_skipped > 50);
    static const unsigned counts[] = {0, 2, 3, 8};
    for (size_t k = 0; k < sizeof counts / sizeof counts[0]; k++) {
        load(paths, 3, counts[k], &many);
        assert_same(&one, &many);
        loaded_free(&many);
    }
    loaded_free(&one);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    assert_int_equal(system(cmd), 0);
}

/* All of SigmaHQ's rules, when the corpus is there. */
static void test_sigmahq(void **state)
{
    (void)state;
    const char *corpus = getenv("PS_SHARED_CORPUS");
    char rules[1024];
    snprintf(rules, sizeof rules, "%s/sigma", corpus ? corpus : "../shared/corpus");
    struct stat st;
    if (stat(rules, &st) != 0) {
        fprintf(stderr, "SKIP: %s not found\n", rules);
        skip();
    }
    const char *p = rules;
    loaded one, two;
    load(&p, 1, 1, &one);
    load(&p, 1, 2, &two);
    assert_true(one.st.rules_loaded > 3000);
    assert_same(&one, &two);
    loaded_free(&one);
    loaded_free(&two);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_made_up_tree),
        cmocka_unit_test(test_sigmahq),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
