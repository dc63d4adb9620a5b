/* SigmaHQ's regression suite (../shared/corpus/sigma-regression): for each
 * test, load every rule of the tested rule's folder, match the events of the
 * test's EVTX and count the tested rule's matches; the count must reach
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
#include "plainsight/sigma.h"
#include "util/yaml_tree.h"
#include "util/arena.h"

#include "unit/sigma_regression_suite.h"
        ps_evtx_options eo = {.threads = 1, .defer_values = 1}; /* as hunt reads them */
        const char *p = t.evtx;
        ps_evtx_events(&p, 1, &eo, on_event, &c, NULL);
        ps_sigma_scratch_free(c.scratch);
        int ok = t.match_count < 0 ? c.matches >= 1 : c.matches >= t.match_count;
        passed += ok;
        if (!ok)
            printf("FAIL %s: %ld matches of %ld events, want %ld (%s)\n", t.rule_id, c.matches,
                   c.events, t.match_count, t.evtx);
    }
    pclose(list);
    ps_sigma_free(set);
    printf("SigmaHQ regression (EVTX): %d of %d tests pass (%d without an EVTX test)\n", passed,
           total, skipped);
    assert_true(total > 0);
    assert_int_equal(passed, total);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_regression)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
