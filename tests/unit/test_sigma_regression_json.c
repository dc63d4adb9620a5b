/* SigmaHQ's regression suite (../shared/corpus/sigma-regression) through the
 * JSON-lines reader: as test_sigma_regression.c, but each test's events are
 * read from the evtx_dump-style .json beside its EVTX (pretty-printed objects
 * one after another). The count of the tested rule's matches must reach
 * match_count (at least one when none is given). Prints the pass count.
 * Skips when the corpus is absent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "plainsight/evtx.h"
#include "plainsight/jsonl.h"
#include "plainsight/sigma.h"
#include "util/yaml_tree.h"
#include "util/arena.h"

#include "unit/sigma_regression_suite.h"
        char json[1024];
        snprintf(json, sizeof json, "%.*s.json", (int)(strlen(t.evtx) - 5), t.evtx);
        ps_jsonl_options jo = {.threads = 1};
        ps_jsonl_stats js = {0};
        const char *p = json;
        assert_int_equal(ps_jsonl_events(&p, 1, &jo, on_event, &c, &js), PS_OK);
        if (js.files != 1 || js.skipped)
            printf("NOTE %s: %llu objects skipped\n", json, (unsigned long long)js.skipped);
        ps_sigma_scratch_free(c.scratch);
        int ok = t.match_count < 0 ? c.matches >= 1 : c.matches >= t.match_count;
        passed += ok;
        if (!ok)
            printf("FAIL %s: %ld matches of %ld events, want %ld (%s)\n", t.rule_id, c.matches,
                   c.events, t.match_count, json);
    }
    pclose(list);
    ps_sigma_free(set);
    printf("SigmaHQ regression (JSON): %d of %d tests pass (%d without an EVTX test)\n", passed,
           total, skipped);
    assert_true(total > 0);
    assert_int_equal(passed, total);
}

/* Every event as text: "path=value(kind)" per field, then the quick fields. */
static int dump_fields(void *ctx, unsigned worker, const ps_event *ev)
{
    (void)worker;
    FILE *f = ctx;
    for (uint32_t i = 0; i < ev->nfields; i++)
        fprintf(f, "%s=%s(%d)\n", ev->fields[i].path, ev->fields[i].value, ev->fields[i].kind);
    fprintf(f, "-- id %u rec %llu time %llu ch %s pc %s prov %s\n", ev->event_id,
            (unsigned long long)ev->record_id, (unsigned long long)ev->time_filetime / 10, /* JSON holds microseconds */
            ev->channel, ev->computer, ev->provider);
    return 0;
}

/* The JSON reader gives the EVTX decoder's fields, kinds and quick fields
 * for the same events: same paths, same values, same order. */
static void test_same_fields(void **state)
{
    (void)state;
    const char *corpus = getenv("PS_SHARED_CORPUS");
    char cmd[4200];
    if (!corpus)
        corpus = "../shared/corpus";
    snprintf(cmd, sizeof cmd, "find '%s/sigma-regression/regression_data' -name '*.evtx' | sort",
             corpus);
    FILE *list = popen(cmd, "r");
    assert_non_null(list);
    char evtx[2048], json[2048];
    int total = 0, same = 0;
    while (fgets(evtx, sizeof evtx, list)) {
        evtx[strcspn(evtx, "\n")] = 0;
        snprintf(json, sizeof json, "%.*s.json", (int)(strlen(evtx) - 5), evtx);
        char *a = NULL, *b = NULL;
        size_t alen = 0, blen = 0;
        FILE *fa = open_memstream(&a, &alen), *fb = open_memstream(&b, &blen);
        const char *pa = evtx, *pb = json;
        ps_evtx_options eo = {.threads = 1};
        ps_jsonl_options jo = {.threads = 1};
        ps_evtx_events(&pa, 1, &eo, dump_fields, fa, NULL);
        ps_jsonl_events(&pb, 1, &jo, dump_fields, fb, NULL);
        fclose(fa);
        fclose(fb);
        total++;
        if (alen == blen && !memcmp(a, b, alen))
            same++;
        else
            printf("DIFFERENT fields: %s\n", json);
        free(a);
        free(b);
    }
    pclose(list);
    printf("EVTX vs JSON event model: %d of %d files give the same fields\n", same, total);
    if (total == 0)
        skip();
    /* One reference .json was edited by hand upstream (see test_golden.py). */
    assert_true(same >= total - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_regression),
                                       cmocka_unit_test(test_same_fields)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
