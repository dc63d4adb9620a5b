/* Sigma correlation rules: loading (references, aliases, bad rules), each
 * correlation type with group-by, timespan edges, caps, and a correlation with
 * its base rules in one multi-document YAML file. Events go through
 * ps_sigma_match and into the collector as hunt feeds them. */
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

#define T0 133000000000000000ull  /* some FILETIME in 2022 */
#define SEC 10000000ull

static const char base_rules[] =
    "title: Failed logon\nid: 11111111-0000-0000-0000-000000000001\nname: failed_logon\n"
    "logsource: {product: windows, service: security}\n"
    "detection:\n  sel: {EventID: 4625}\n  condition: sel\nlevel: low\n---\n"
    "title: Successful logon\nid: 11111111-0000-0000-0000-000000000002\nname: good_logon\n"
    "logsource: {product: windows, service: security}\n"
    "detection:\n  sel: {EventID: 4624}\n  condition: sel\nlevel: low\n";

typedef struct hit_log {
    int n;
    char title[16][64];
    char group[16][128];
    char values[16][128];          /* value_count: Field=v1|v2... as the hit lists them */
    uint64_t first[16], last[16], count[16];
} hit_log;

static int on_hit(void *ctx, const ps_sigma_corr_hit *hit)
{
    hit_log *h = ctx;
    if (h->n < 16) {
        snprintf(h->title[h->n], sizeof h->title[0], "%s", hit->rule->title);
        size_t off = 0;
        for (uint32_t g = 0; g < hit->ngroup && off < sizeof h->group[0]; g++)
            off += (size_t)snprintf(h->group[h->n] + off, sizeof h->group[0] - off, "%s%s",
                                    g ? "|" : "", hit->group_values[g]);
        off = 0;
        for (uint32_t v = 0; v < hit->nvalues && off < sizeof h->values[0]; v++)
            off += (size_t)snprintf(h->values[h->n] + off, sizeof h->values[0] - off, "%s%s%s",
                                    v ? "|" : hit->value_field, v ? "" : "=", hit->values[v]);
        h->first[h->n] = (hit->first_time - T0) / SEC;
        h->last[h->n] = (hit->last_time - T0) / SEC;
        h->count[h->n] = hit->count;
    }
    h->n++;
    return 0;
}

typedef struct feed {
    const ps_sigma_set *set;
    ps_sigma_corr *corr;
} feed;

static int on_match(void *ctx, const ps_sigma_rule_info *rule, size_t index, const ps_event *ev)
{
    (void)rule;
    feed *f = ctx;
    if (ps_sigma_rule_correlated(f->set, index))
        ps_sigma_corr_add(f->corr, index, ev);
    return 0;
}

/* One Security event: eid, seconds after T0, then name/value pairs. */
static void send_event(feed *f, ps_sigma_scratch *s, uint32_t eid, uint64_t secs, const char *n1,
                       const char *v1, const char *n2, const char *v2)
{
    char eid_text[16], p1[64], p2[64];
    snprintf(eid_text, sizeof eid_text, "%u", eid);
    snprintf(p1, sizeof p1, "Event.EventData.%s", n1);
    snprintf(p2, sizeof p2, "Event.EventData.%s", n2 ? n2 : "Unused");
    ps_field fields[3] = {
        {.path = "Event.System.EventID", .name = "EventID", .value = eid_text, .path_len = 20,
         .name_len = 7, .value_len = (uint32_t)strlen(eid_text), .kind = PS_KIND_INT},
        {.path = p1, .name = n1, .value = v1, .path_len = (uint32_t)strlen(p1),
         .name_len = (uint32_t)strlen(n1), .value_len = (uint32_t)strlen(v1)},
        {.path = p2, .name = "x", .value = v2 ? v2 : "", .path_len = (uint32_t)strlen(p2),
         .name_len = 1, .value_len = v2 ? (uint32_t)strlen(v2) : 0},
    };
    ps_event ev = {.fields = fields, .nfields = 3, .event_id = eid,
                   .time_filetime = T0 + secs * SEC, .channel = "Security", .computer = "pc",
                   .provider = "", .source = ""};
    assert_true(ps_sigma_match(f->set, s, &ev, on_match, f) >= 0);
}

static ps_sigma_set *load(const char *corr_yaml, ps_sigma_stats *st)
{
    size_t len = strlen(corr_yaml) + sizeof base_rules + 8;
    char *text = malloc(len);
    snprintf(text, len, "%s\n---\n%s", corr_yaml, base_rules);
    ps_sigma_set *set = NULL;
    assert_int_equal(ps_sigma_load_text(text, strlen(text), "corr.yml", NULL, &set, st), PS_OK);
    free(text);
    return set;
}

typedef struct run {
    ps_sigma_set *set;
    ps_sigma_scratch *s;
    feed f;
} run;

static void run_start(run *r, const char *corr_yaml, const ps_sigma_corr_options *opt)
{
    ps_sigma_stats st;
    r->set = load(corr_yaml, &st);
    assert_int_equal(st.correlations_loaded, 1);
    assert_int_equal(st.rules_skipped, 0);
    r->s = ps_sigma_scratch_new(r->set);
    r->f = (feed){r->set, ps_sigma_corr_new(r->set, opt)};
    assert_non_null(r->f.corr);
}

static int run_finish(run *r, hit_log *h)
{
    memset(h, 0, sizeof *h);
    int n = ps_sigma_corr_finish(r->f.corr, on_hit, h);
    ps_sigma_corr_free(r->f.corr);
    ps_sigma_scratch_free(r->s);
    ps_sigma_free(r->set);
    return n;
}

static void test_event_count(void **state)
{
    (void)state;
    run r;
    run_start(&r, "title: Brute force\nid: c0000000-0000-0000-0000-000000000001\n"
                  "correlation:\n  type: event_count\n  rules: [failed_logon]\n"
                  "  group-by: [IpAddress]\n  timespan: 5m\n  condition: {gte: 3}\nlevel: high\n",
              NULL);
    /* A: 3 within exactly 300 s (the edge is inside); B: 3 over 301 s; C: 2. */
    send_event(&r.f, r.s, 4625, 0, "IpAddress", "10.0.0.1", NULL, NULL);
    send_event(&r.f, r.s, 4625, 100, "IpAddress", "10.0.0.1", NULL, NULL);
    send_event(&r.f, r.s, 4625, 300, "IpAddress", "10.0.0.1", NULL, NULL);
    send_event(&r.f, r.s, 4625, 1000, "IpAddress", "10.0.0.2", NULL, NULL);
    send_event(&r.f, r.s, 4625, 1200, "IpAddress", "10.0.0.2", NULL, NULL);
    send_event(&r.f, r.s, 4625, 1301, "IpAddress", "10.0.0.2", NULL, NULL);
    send_event(&r.f, r.s, 4625, 50, "IpAddress", "10.0.0.3", NULL, NULL);
    send_event(&r.f, r.s, 4625, 60, "IpAddress", "10.0.0.3", NULL, NULL);
    send_event(&r.f, r.s, 4624, 70, "IpAddress", "10.0.0.3", NULL, NULL); /* other rule */
    hit_log h;
    assert_int_equal(run_finish(&r, &h), 1);
    assert_string_equal(h.title[0], "Brute force");
    assert_string_equal(h.group[0], "10.0.0.1");
    assert_int_equal(h.first[0], 0);
    assert_int_equal(h.last[0], 300);
    assert_int_equal(h.count[0], 3);
}

static void test_event_count_burst_once(void **state)
{
    (void)state;
    run r;
    run_start(&r, "title: Burst\nid: c0000000-0000-0000-0000-000000000002\n"
                  "correlation:\n  type: event_count\n  rules: failed_logon\n"
                  "  timespan: 1m\n  condition: {gt: 2}\n", NULL);
    for (int i = 0; i < 10; i++) /* 10 in 9 s: one detection of all ten */
        send_event(&r.f, r.s, 4625, (uint64_t)i, "IpAddress", "x", NULL, NULL);
    send_event(&r.f, r.s, 4625, 500, "IpAddress", "x", NULL, NULL);
    hit_log h;
    assert_int_equal(run_finish(&r, &h), 1);
    assert_int_equal(h.count[0], 10);
    assert_string_equal(h.group[0], "");
}

static void test_event_count_lt(void **state)
{
    (void)state;
    run r;
    run_start(&r, "title: Few\nid: c0000000-0000-0000-0000-000000000003\n"
                  "correlation:\n  type: event_count\n  rules: [failed_logon]\n"
                  "  group-by: [IpAddress]\n  timespan: 10s\n  condition: {lt: 2}\n", NULL);
    send_event(&r.f, r.s, 4625, 0, "IpAddress", "a", NULL, NULL);
    send_event(&r.f, r.s, 4625, 5, "IpAddress", "a", NULL, NULL);
    send_event(&r.f, r.s, 4625, 0, "IpAddress", "b", NULL, NULL);
    hit_log h;
    assert_int_equal(run_finish(&r, &h), 1);
    assert_string_equal(h.group[0], "b");
}

static void test_value_count(void **state)
{
    (void)state;
    run r;
    run_start(&r, "title: Spray\nid: c0000000-0000-0000-0000-000000000004\n"
                  "correlation:\n  type: value_count\n  rules: [failed_logon]\n"
                  "  group-by: [IpAddress]\n  timespan: 1h\n"
                  "  condition: {gte: 3, field: TargetUserName}\n", NULL);
    send_event(&r.f, r.s, 4625, 0, "IpAddress", "a", "TargetUserName", "u1");
    send_event(&r.f, r.s, 4625, 1, "IpAddress", "a", "TargetUserName", "u1");
    send_event(&r.f, r.s, 4625, 2, "IpAddress", "a", "TargetUserName", "u2");
    send_event(&r.f, r.s, 4625, 10, "IpAddress", "b", "TargetUserName", "u1");
    send_event(&r.f, r.s, 4625, 20, "IpAddress", "b", "TargetUserName", "u2");
    send_event(&r.f, r.s, 4625, 30, "IpAddress", "b", NULL, NULL); /* no value: not counted */
    send_event(&r.f, r.s, 4625, 3600 + 10, "IpAddress", "b", "TargetUserName", "u3");
    hit_log h;
    assert_int_equal(run_finish(&r, &h), 1);
    assert_string_equal(h.group[0], "b");
    assert_int_equal(h.count[0], 3);
    assert_int_equal(h.first[0], 10);
    assert_int_equal(h.last[0], 3610);
    assert_string_equal(h.values[0], "TargetUserName=u1|u2|u3"); /* distinct, first seen first */
}

/* A window with more distinct values than a hit lists: the first
 * PS_SIGMA_CORR_LISTED, and the count has them all. */
static void test_value_count_lists_first_values(void **state)
{
    (void)state;
    run r;
    run_start(&r, "title: Spray\nid: c0000000-0000-0000-0000-000000000014\n"
                  "correlation:\n  type: value_count\n  rules: [failed_logon]\n"
                  "  group-by: [IpAddress]\n  timespan: 1h\n"
                  "  condition: {gte: 12, field: TargetUserName}\n", NULL);
    char user[16];
    for (int i = 0; i < 12; i++) {
        snprintf(user, sizeof user, "u%d", i);
        send_event(&r.f, r.s, 4625, (uint64_t)i, "IpAddress", "a", "TargetUserName", user);
        send_event(&r.f, r.s, 4625, (uint64_t)i, "IpAddress", "a", "TargetUserName", "u0");
    }
    hit_log h;
    assert_int_equal(run_finish(&r, &h), 1);
    assert_int_equal(h.count[0], 12);
    assert_int_equal(PS_SIGMA_CORR_LISTED, 8);
    assert_string_equal(h.values[0], "TargetUserName=u0|u1|u2|u3|u4|u5|u6|u7");
}

static void test_temporal_aliases(void **state)
{
    (void)state;
    run r;
    run_start(&r, "title: Fail then success\nid: c0000000-0000-0000-0000-000000000005\n"
                  "correlation:\n  type: temporal\n  rules: [failed_logon, good_logon]\n"
                  "  group-by: [ip]\n  timespan: 30s\n"
                  "  aliases:\n    ip:\n      failed_logon: IpAddress\n      good_logon: SourceIp\n"
                  "level: critical\n", NULL);
    send_event(&r.f, r.s, 4625, 0, "IpAddress", "x", NULL, NULL);
    send_event(&r.f, r.s, 4624, 30, "SourceIp", "x", NULL, NULL);   /* edge: in */
    send_event(&r.f, r.s, 4625, 100, "IpAddress", "y", NULL, NULL);
    send_event(&r.f, r.s, 4624, 131, "SourceIp", "y", NULL, NULL);  /* 31 s: out */
    send_event(&r.f, r.s, 4624, 200, "IpAddress", "z", NULL, NULL); /* wrong field: group "" */
    send_event(&r.f, r.s, 4625, 201, "IpAddress", "z", NULL, NULL);
    hit_log h;
    assert_int_equal(run_finish(&r, &h), 1);
    assert_string_equal(h.group[0], "x");
    assert_int_equal(h.count[0], 2);
}

static void test_temporal_ordered(void **state)
{
    (void)state;
    run r;
    run_start(&r, "title: Ordered\nid: c0000000-0000-0000-0000-000000000006\n"
                  "correlation:\n  type: temporal_ordered\n  rules: [failed_logon, good_logon]\n"
                  "  group-by: [IpAddress]\n  timespan: 1m\n", NULL);
    send_event(&r.f, r.s, 4624, 0, "IpAddress", "a", NULL, NULL);
    send_event(&r.f, r.s, 4625, 10, "IpAddress", "a", NULL, NULL);
    send_event(&r.f, r.s, 4624, 20, "IpAddress", "a", NULL, NULL);
    send_event(&r.f, r.s, 4624, 0, "IpAddress", "b", NULL, NULL); /* wrong order only */
    send_event(&r.f, r.s, 4625, 10, "IpAddress", "b", NULL, NULL);
    send_event(&r.f, r.s, 4625, 0, "IpAddress", "c", NULL, NULL); /* too far apart */
    send_event(&r.f, r.s, 4624, 61, "IpAddress", "c", NULL, NULL);
    send_event(&r.f, r.s, 4624, 5, "IpAddress", "d", NULL, NULL); /* same time: ordered */
    send_event(&r.f, r.s, 4625, 5, "IpAddress", "d", NULL, NULL);
    hit_log h;
    assert_int_equal(run_finish(&r, &h), 2);
    assert_string_equal(h.group[0], "a");
    assert_int_equal(h.first[0], 10);
    assert_int_equal(h.last[0], 20);
    assert_string_equal(h.group[1], "d");
}

static void test_generate_and_info(void **state)
{
    (void)state;
    ps_sigma_stats st;
    ps_sigma_set *set = load("title: C\nid: c0000000-0000-0000-0000-000000000007\n"
                             "correlation:\n  type: event_count\n  rules: [failed_logon]\n"
                             "  timespan: 1m\n  condition: {gte: 2}\n", &st);
    assert_int_equal(ps_sigma_rule_count(set), 3);
    assert_int_equal(ps_sigma_correlation_count(set), 1);
    assert_int_equal(st.rules_loaded, 2);
    for (size_t i = 0; i < 3; i++) {
        const ps_sigma_rule_info *ri = ps_sigma_rule(set, i);
        if (strcmp(ri->title, "C") == 0)
            assert_true(ri->is_correlation);
        else
            assert_int_equal(ri->correlation_only, strcmp(ri->title, "Failed logon") == 0);
        assert_int_equal(ps_sigma_rule_correlated(set, i), strcmp(ri->title, "Failed logon") == 0);
    }
    ps_sigma_free(set);
    set = load("title: C\nid: c0000000-0000-0000-0000-000000000007\n"
               "correlation:\n  type: event_count\n  rules: [failed_logon]\n  generate: true\n"
               "  timespan: 1m\n  condition: {gte: 2}\n", &st);
    for (size_t i = 0; i < 3; i++)
        assert_false(ps_sigma_rule(set, i)->correlation_only);
    ps_sigma_free(set);
}

static void test_bad_correlations(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "correlation:\n  type: event_count\n  rules: [nope]\n  timespan: 1m\n  condition: {gte: 2}\n",
        "correlation:\n  type: event_count\n  rules: [failed_logon]\n  timespan: 1x\n  condition: {gte: 2}\n",
        "correlation:\n  type: event_count\n  rules: [failed_logon]\n  timespan: 1m\n",
        "correlation:\n  type: value_count\n  rules: [failed_logon]\n  timespan: 1m\n  condition: {gte: 2}\n",
        "correlation:\n  type: sum\n  rules: [failed_logon]\n  timespan: 1m\n  condition: {gte: 2}\n",
        "correlation:\n  type: event_count\n  rules: [failed_logon]\n  timespan: 1m\n  condition: {gte: -1}\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[1024];
        snprintf(text, sizeof text, "title: Bad\nid: c0000000-0000-0000-0000-00000000000%zu\n%s", i, bad[i]);
        ps_sigma_stats st;
        ps_sigma_set *set = load(text, &st);
        assert_int_equal(st.correlations_loaded, 0);
        assert_int_equal(st.skipped[PS_SIGMA_SKIP_CORRELATION], 1);
        assert_int_equal(st.rules_loaded, 2);
        ps_sigma_free(set);
    }
}

static void test_cap(void **state)
{
    (void)state;
    run r;
    ps_sigma_corr_options opt = {.max_matches = 2};
    run_start(&r, "title: Capped\nid: c0000000-0000-0000-0000-000000000008\n"
                  "correlation:\n  type: event_count\n  rules: [failed_logon]\n"
                  "  timespan: 1m\n  condition: {gte: 2}\n", &opt);
    for (int i = 0; i < 5; i++)
        send_event(&r.f, r.s, 4625, (uint64_t)i, "IpAddress", "a", NULL, NULL);
    assert_int_equal(ps_sigma_corr_dropped(r.f.corr), 3);
    hit_log h;
    assert_int_equal(run_finish(&r, &h), 1);
    assert_int_equal(h.count[0], 2);
}

/* Hayabusa ships correlations with their base rules in one file. */
static void test_hayabusa_file(void **state)
{
    (void)state;
    const char *corpus = getenv("PS_SHARED_CORPUS");
    char path[1024];
    snprintf(path, sizeof path, "%s/hayabusa-rules/hayabusa/builtin/Security/LogonLogoff/Logon/"
             "Sec_4625_Med_LogonFail_UserGuessing_Correlation.yml", corpus ? corpus : "../shared/corpus");
    struct stat stt;
    if (stat(path, &stt) != 0)
        skip();
    const char *p = path;
    ps_sigma_set *set = NULL;
    ps_sigma_stats st;
    assert_int_equal(ps_sigma_load(&p, 1, NULL, &set, &st), PS_OK);
    assert_int_equal(st.correlations_loaded, 1);
    assert_int_equal(st.skipped[PS_SIGMA_SKIP_CORRELATION], 0);
    ps_sigma_free(set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_event_count),
        cmocka_unit_test(test_event_count_burst_once),
        cmocka_unit_test(test_event_count_lt),
        cmocka_unit_test(test_value_count),
        cmocka_unit_test(test_value_count_lists_first_values),
        cmocka_unit_test(test_temporal_aliases),
        cmocka_unit_test(test_temporal_ordered),
        cmocka_unit_test(test_generate_and_info),
        cmocka_unit_test(test_bad_correlations),
        cmocka_unit_test(test_cap),
        cmocka_unit_test(test_hayabusa_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
