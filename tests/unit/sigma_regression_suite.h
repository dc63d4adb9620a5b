/* Shared by the SigmaHQ regression tests (through EVTX and through JSON):
 * reading the suite's tests from the corpus and counting the tested rule's
 * matches. A header of static functions, included by each test program. */
#ifndef PS_TEST_SIGMA_REGRESSION_SUITE_H
#define PS_TEST_SIGMA_REGRESSION_SUITE_H

typedef struct reg_test {
    char rule_id[64];
    char rule_dir[1024];   /* folder of the tested rule, under sigma/ */
    char evtx[1024];
    long match_count;      /* -1: at least one */
} reg_test;

typedef struct count_ctx {
    const ps_sigma_set *set;
    ps_sigma_scratch *scratch;
    const char *rule_id;
    long matches;
    long events;
} count_ctx;

static int on_match(void *ctx, const ps_sigma_rule_info *rule, size_t index, const ps_event *ev)
{
    (void)index;
    (void)ev;
    count_ctx *c = ctx;
    if (strcmp(rule->id, c->rule_id) == 0)
        c->matches++;
    return 0;
}

static int on_event(void *ctx, unsigned worker, const ps_event *ev)
{
    (void)worker;
    count_ctx *c = ctx;
    c->events++;
    return ps_sigma_match(c->set, c->scratch, ev, on_match, c) < 0 && 0;
}

typedef struct info_ctx { reg_test *t; const char *root; int ok; } info_ctx;

static int on_info(void *ctx, yt_node *root, uint32_t line)
{
    (void)line;
    info_ctx *ic = ctx;
    const yt_node *meta = yt_get(root, "rule_metadata");
    const yt_node *tests = yt_get(root, "regression_tests_info");
    if (!meta || meta->type != YT_SEQ || !meta->n || !tests || tests->type != YT_SEQ || !tests->n)
        return 1;
    const char *id = yt_get_str(meta->items[0], "id");
    const char *path = yt_get_str(tests->items[0], "path");
    const char *count = yt_get_str(tests->items[0], "match_count");
    if (!id || !path)
        return 1;
    snprintf(ic->t->rule_id, sizeof ic->t->rule_id, "%s", id);
    snprintf(ic->t->evtx, sizeof ic->t->evtx, "%s/sigma-regression/%s", ic->root, path);
    ic->t->match_count = count ? strtol(count, NULL, 10) : -1;
    ic->ok = 1;
    return 1;
}

static int read_info(const char *corpus, const char *info_path, reg_test *t)
{
    FILE *f = fopen(info_path, "rb");
    if (!f)
        return -1;
    char buf[16384];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    ps_arena a;
    ps_arena_init(&a, 16384, 1 << 20);
    info_ctx ic = {.t = t, .root = corpus};
    char err[128];
    uint32_t line;
    yt_parse(buf, n, &a, on_info, &ic, err, sizeof err, &line);
    ps_arena_free(&a);
    /* regression_data/<rule path>/info.yml -> sigma/<rule folder> */
    const char *rel = strstr(info_path, "/regression_data/");
    if (!ic.ok || !rel)
        return -1;
    rel += strlen("/regression_data/");
    snprintf(t->rule_dir, sizeof t->rule_dir, "%s/sigma/%s", corpus, rel);
    for (int up = 0; up < 2; up++) { /* drop "/info.yml" and the rule's own folder */
        char *slash = strrchr(t->rule_dir, '/');
        if (slash)
            *slash = 0;
    }
    return 0;
}

static void test_regression(void **state)
{
    (void)state;
    const char *corpus = getenv("PS_SHARED_CORPUS");
    char cmd[4200];
    if (!corpus)
        corpus = "../shared/corpus";
    snprintf(cmd, sizeof cmd, "%s/sigma-regression/regression_data", corpus);
    struct stat st;
    if (stat(cmd, &st) != 0) {
        fprintf(stderr, "SKIP: SigmaHQ regression data not found at %s\n", cmd);
        skip();
    }
    snprintf(cmd, sizeof cmd, "find '%s/sigma-regression/regression_data' -name info.yml | sort",
             corpus);
    FILE *list = popen(cmd, "r");
    assert_non_null(list);
    char info[2048];
    int total = 0, passed = 0, skipped = 0;
    char loaded_dir[1024] = "";
    ps_sigma_set *set = NULL;
    while (fgets(info, sizeof info, list)) {
        info[strcspn(info, "\n")] = 0;
        reg_test t;
        if (read_info(corpus, info, &t) != 0 || stat(t.evtx, &st) != 0) {
            skipped++;
            continue;
        }
        total++;
        if (strcmp(loaded_dir, t.rule_dir) != 0) {
            ps_sigma_free(set);
            const char *p = t.rule_dir;
            assert_int_equal(ps_sigma_load(&p, 1, NULL, &set, NULL), PS_OK);
            snprintf(loaded_dir, sizeof loaded_dir, "%s", t.rule_dir);
        }
        count_ctx c = {.set = set, .scratch = ps_sigma_scratch_new(set), .rule_id = t.rule_id};

#endif
