/* The demo story: the logs it writes read back as the events it describes
 * (Windows' layouts), and the built-in rules find every step of the attack
 * with the intended rule and nothing in the ordinary activity around it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "demo/demo.h"
#include "plainsight.h"
#include "sigma/builtin.h"

#define JUMP "CORP-JUMP01"
#define FS "CORP-FS01"
#define DC "CORP-DC01"

/* Each step of the story, where it shows and the rule meant to catch it. */
typedef struct expectation {
    const char *step, *host;
    uint32_t event_id;
    const char *rule_title;
} expectation;

static const expectation expected[] = {
    {"rdp-logon", JUMP, 4624, "Remote Desktop Logon From a Public Address"},
    {"rdp-logon", JUMP, 4624, "Remote Logon by a Service Provider Account"},
    {"rdp-logon", JUMP, 21, "Remote Desktop Session From a Public Address"},
    {"certutil", JUMP, 1, "Certutil Fetches a File From a URL"},
    {"certutil", JUMP, 4688, "Certutil Fetches a File From a URL"},
    {"schtask", JUMP, 1, "Scheduled Task Created on a Remote Host With Schtasks"},
    {"schtask", DC, 4624, "Remote Logon by a Service Provider Account"},
    {"schtask", DC, 4698, "Scheduled Task Registered to Run From a Staging Folder"},
    {"service", JUMP, 1, "Service Created on a Remote Host With sc.exe"},
    {"service", DC, 7045, "Service Installed That Runs From a Staging Folder"},
    {"service", DC, 4697, "Service Installed That Runs From a Staging Folder (Security Log)"},
    {"lsass-dump", JUMP, 1, "Full Memory Dump of LSASS With ProcDump"},
    {"lsass-dump", JUMP, 4688, "Full Memory Dump of LSASS With ProcDump"},
    {"lsass-dump", JUMP, 10, "Process Opens LSASS With Memory-Read Access"},
    {"lsass-dump", JUMP, 1, "LSASS-Style Dump Through comsvcs.dll MiniDump"},
    {"lsass-dump", JUMP, 4688, "LSASS-Style Dump Through comsvcs.dll MiniDump"},
    {"rar-staging", JUMP, 1, "Archive Created With Password or Split Volumes"},
    {"rar-staging", JUMP, 4688, "Archive Created With Password or Split Volumes"},
    {"psexec", JUMP, 1, "PsExec Run Against a Remote Host"},
    {"psexec", JUMP, 4648, "Explicit Credentials Used Toward Another Host"},
    {"psexec", FS, 7045, "PsExec Service Installed"},
    {"psexec", FS, 17, "PsExec Named Pipe Created"},
    {"psexec", FS, 1, "Bitsadmin Transfers a File From a URL"},
    {"wmi", JUMP, 1, "Process Started on a Remote Host With WMIC"},
    {"wmi", FS, 1, "WMI Provider Host Starts a Shell"},
    {"log-clearing", FS, 1, "Event Log Cleared With Wevtutil"},
    {"log-clearing", FS, 1102, "Security Log Cleared"},
    {"log-clearing", FS, 104, "Event Log Cleared (System Log Record)"},
};
#define NEXPECTED (sizeof expected / sizeof expected[0])

typedef struct hunt_state {
    const ps_sigma_set *set;
    ps_sigma_scratch *scratch;
    const ps_demo_event *story;
    size_t nstory;
    unsigned hits[NEXPECTED];
    unsigned unexpected;      /* detections no expectation covers */
    unsigned events_read;
    unsigned events_unknown;  /* records that are not a story event */
    unsigned fields_wrong;    /* story fields missing or changed in the record */
} hunt_state;

static char tmp_dir[256];

static int setup_dir(void **state)
{
    (void)state;
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/ps-test-demo-XXXXXX");
    return mkdtemp(tmp_dir) ? 0 : -1;
}

static int teardown_dir(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* The story event a record was written from: same host and time. */
static const ps_demo_event *story_event(const hunt_state *h, const ps_event *ev)
{
    for (size_t i = 0; i < h->nstory; i++) {
        char computer[128];
        ps_demo_computer(h->story[i].host, computer, sizeof computer);
        if (ps_demo_event_time(&h->story[i], i) == ev->time_filetime &&
            !strcmp(computer, ev->computer))
            return &h->story[i];
    }
    return NULL;
}

/* Equal but for trailing blanks, which the event model trims ("User32 "). */
static int same_text(const char *got, const char *want)
{
    size_t glen = strlen(got), wlen = strlen(want);
    while (glen && got[glen - 1] == ' ')
        glen--;
    while (wlen && want[wlen - 1] == ' ')
        wlen--;
    return glen == wlen && !memcmp(got, want, glen);
}

/* String fields must read back as written, under EventData or UserData. */
static int fields_match(const ps_demo_event *se, const ps_event *ev)
{
    for (size_t i = 0; i < PS_DEMO_MAX_FIELDS && se->data[i].name; i++) {
        const ps_demo_field *f = &se->data[i];
        const ps_field *got = NULL;
        for (uint32_t j = 0; j < ev->nfields && !got; j++)
            if (!strcmp(ev->fields[j].name, f->name) &&
                (!strncmp(ev->fields[j].path, "Event.EventData.", 16) ||
                 !strncmp(ev->fields[j].path, "Event.UserData.", 15)))
                got = &ev->fields[j];
        if (!got || (f->type == PS_DEMO_STRING && !same_text(got->value, f->value))) {
            fprintf(stderr, "event %u at +%us: field %s %s\n", ps_demo_event_id(se), se->at,
                    f->name, got ? got->value : "missing");
            return 0;
        }
    }
    return 1;
}

static int on_detection(void *ctx, const ps_sigma_rule_info *rule, size_t index,
                        const ps_event *ev)
{
    (void)index;
    hunt_state *h = ctx;
    const ps_demo_event *se = story_event(h, ev);
    int covered = 0;
    for (size_t i = 0; se && se->step && i < NEXPECTED; i++) {
        const expectation *x = &expected[i];
        if (!strcmp(x->step, se->step) && !strcmp(x->host, se->host) &&
            x->event_id == ev->event_id && !strcmp(x->rule_title, rule->title)) {
            h->hits[i]++;
            covered = 1;
        }
    }
    if (!covered) {
        fprintf(stderr, "unexpected: '%s' on %s event %u (%s)\n", rule->title, ev->computer,
                ev->event_id, se && se->step ? se->step : "ordinary activity");
        h->unexpected++;
    }
    return 0;
}

static int on_event(void *ctx, unsigned worker, const ps_event *ev)
{
    (void)worker;
    hunt_state *h = ctx;
    h->events_read++;
    const ps_demo_event *se = story_event(h, ev);
    if (!se)
        h->events_unknown++;
    else if (!fields_match(se, ev) || strcmp(ev->channel, ps_demo_event_channel(se)) ||
             ev->event_id != ps_demo_event_id(se))
        h->fields_wrong++;
    return ps_sigma_match(h->set, h->scratch, ev, on_detection, h) < 0;
}

static void test_story_is_detected(void **state)
{
    (void)state;
    ps_demo_result written;
    assert_int_equal(ps_demo_write(tmp_dir, &written), PS_OK);
    size_t nstory;
    const ps_demo_event *story = ps_demo_events(&nstory);
    assert_int_equal(written.events, nstory);
    assert_true(written.files >= 8);

    ps_sigma_set *set = NULL;
    ps_sigma_stats st;
    assert_int_equal(ps_sigma_load_builtin(NULL, 0, NULL, &set, &st), PS_OK);
    assert_int_equal(st.rules_skipped, 0);
    hunt_state h = {.set = set, .scratch = ps_sigma_scratch_new(set), .story = story,
                    .nstory = nstory};
    assert_non_null(h.scratch);
    const char *paths[] = {tmp_dir};
    ps_evtx_options eo = {.threads = 1};
    ps_evtx_stats es = {0};
    assert_int_equal(ps_evtx_events(paths, 1, &eo, on_event, &h, &es), PS_OK);
    assert_int_equal(es.files_failed, 0);

    assert_int_equal(h.events_read, nstory);
    assert_int_equal(h.events_unknown, 0);
    assert_int_equal(h.fields_wrong, 0);
    for (size_t i = 0; i < NEXPECTED; i++)
        if (!h.hits[i])
            fail_msg("step %s: no '%s' on %s event %u", expected[i].step,
                     expected[i].rule_title, expected[i].host, expected[i].event_id);
    assert_int_equal(h.unexpected, 0);
    ps_sigma_scratch_free(h.scratch);
    ps_sigma_free(set);
}

/* Every step of the story has at least one expectation, and every event
 * names a step that exists. */
static void test_steps_are_covered(void **state)
{
    (void)state;
    size_t nsteps, nstory;
    const ps_demo_step *steps = ps_demo_steps(&nsteps);
    const ps_demo_event *story = ps_demo_events(&nstory);
    for (size_t s = 0; s < nsteps; s++) {
        int covered = 0;
        for (size_t i = 0; i < NEXPECTED; i++)
            covered |= !strcmp(expected[i].step, steps[s].id);
        if (!covered)
            fail_msg("step %s has no expected detection", steps[s].id);
    }
    for (size_t i = 0; i < nstory; i++) {
        int known = !story[i].step;
        for (size_t s = 0; s < nsteps && !known; s++)
            known = !strcmp(story[i].step, steps[s].id);
        if (!known)
            fail_msg("event %zu names unknown step %s", i, story[i].step);
    }
}

/* One template per kind is built from the first event of that kind, so all
 * events of a kind must have the same fields in the same order; and the
 * story must be in time order. */
static void test_events_of_a_kind_agree(void **state)
{
    (void)state;
    size_t n;
    const ps_demo_event *story = ps_demo_events(&n);
    for (size_t i = 0; i < n; i++) {
        if (i)
            assert_true(ps_demo_event_time(&story[i - 1], i - 1) <
                        ps_demo_event_time(&story[i], i));
        for (size_t j = 0; j < i; j++) {
            if (story[j].kind != story[i].kind)
                continue;
            for (size_t f = 0; f < PS_DEMO_MAX_FIELDS; f++) {
                const char *a = story[i].data[f].name, *b = story[j].data[f].name;
                if ((a == NULL) != (b == NULL) || (a && strcmp(a, b)) ||
                    (a && story[i].data[f].type != story[j].data[f].type))
                    fail_msg("events %zu and %zu (event ID %u) differ at field %zu", j, i,
                             ps_demo_event_id(&story[i]), f);
                if (!a)
                    break;
            }
            break;
        }
    }
}

static void test_bad_directory(void **state)
{
    (void)state;
    ps_demo_result r;
    assert_int_equal(ps_demo_write("/proc/no-such-dir/demo", &r), PS_ERR_IO);
    assert_string_equal(r.failed_path, "/proc/no-such-dir/demo");
    assert_int_equal(ps_demo_write("", &r), PS_ERR_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_story_is_detected, setup_dir, teardown_dir),
        cmocka_unit_test(test_steps_are_covered),
        cmocka_unit_test(test_events_of_a_kind_agree),
        cmocka_unit_test(test_bad_directory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
