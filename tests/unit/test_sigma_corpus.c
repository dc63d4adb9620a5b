/* Loads every rule of SigmaHQ's repository (../shared/corpus/sigma) and
 * reports how many load and why others are skipped. Every rule there uses
 * only specified features, so none may be skipped. Skips when the corpus is
 * absent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "plainsight/sigma.h"

static void print_diag(void *ctx, const ps_diag *d)
{
    unsigned *shown = ctx;
    if ((*shown)++ < 40)
        fprintf(stderr, "  %s:%llu: %s\n", d->path, (unsigned long long)d->offset, d->message);
}

static void test_load_sigmahq(void **state)
{
    (void)state;
    const char *corpus = getenv("PS_SHARED_CORPUS");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/sigma", corpus ? corpus : "../shared/corpus");
    struct stat st;
    if (stat(dir, &st) != 0) {
        fprintf(stderr, "SKIP: SigmaHQ corpus not found at %s\n", dir);
        skip();
    }
    const char *subdirs[] = {"rules", "rules-emerging-threats", "rules-threat-hunting",
                             "rules-compliance", "rules-placeholder"};
    char paths[5][4200];
    const char *p[5];
    for (int i = 0; i < 5; i++) {
        snprintf(paths[i], sizeof paths[i], "%s/%s", dir, subdirs[i]);
        p[i] = paths[i];
    }
    unsigned shown = 0;
    ps_sigma_options opt = {.diag = print_diag, .diag_ctx = &shown};
    ps_sigma_set *set = NULL;
    ps_sigma_stats stats;
    assert_int_equal(ps_sigma_load(p, 5, &opt, &set, &stats), PS_OK);
    printf("SigmaHQ corpus: %u files, %u documents, %u rules loaded (%u with a logsource "
           "outside the Windows table), %u skipped\n",
           stats.files, stats.documents, stats.rules_loaded, stats.rules_unmapped,
           stats.rules_skipped);
    for (int r = 0; r < PS_SIGMA_SKIP__COUNT; r++)
        if (stats.skipped[r])
            printf("  skipped, %s: %u\n", ps_sigma_skip_str((ps_sigma_skip)r), stats.skipped[r]);
    assert_int_equal(stats.rules_skipped, 0);
    assert_true(stats.rules_loaded > 3500);
    ps_sigma_free(set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_load_sigmahq)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
