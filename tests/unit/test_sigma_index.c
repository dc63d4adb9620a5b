/* The channel / event ID index files a rule of a channel-only logsource
 * under the event IDs its detection names. That must never change what
 * matches: an event whose EventID field is odd (hex, padded, missing, twice,
 * at odds with the reader's event ID) still meets every such rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "plainsight/sigma.h"
#include "sigma/sigma_internal.h"

static const char rules[] =
    /* 0: one integer ID and a field */
    "title: int\nid: r-int\nlogsource: {product: windows, service: security}\n"
    "detection:\n  sel: {EventID: 4738, TargetUserName|endswith: '$'}\n  condition: sel\n---\n"
    /* 1: a quoted ID: compared as text only */
    "title: text\nid: r-text\nlogsource: {product: windows, service: security}\n"
    "detection:\n  sel: {EventID: '4738'}\n  condition: sel\n---\n"
    /* 2: IDs in an OR of ANDs */
    "title: or\nid: r-or\nlogsource: {product: windows, service: security}\n"
    "detection:\n  a: {EventID: 4738}\n  b: {EventID: [4739, 4740]}\n  x: {Flag: 'yes'}\n"
    "  condition: (a and x) or b\n---\n"
    /* 3: not an ID: filed for any ID */
    "title: not\nid: r-not\nlogsource: {product: windows, service: security}\n"
    "detection:\n  a: {EventID: 4738}\n  x: {Flag: 'yes'}\n  condition: x and not a\n---\n"
    /* 4: 1 of two selections with IDs */
    "title: oneof\nid: r-oneof\nlogsource: {product: windows, service: security}\n"
    "detection:\n  sel_a: {EventID: 4741}\n  sel_b: {EventID: 4742}\n  condition: 1 of sel_*\n";

typedef struct ev_case {
    const char *eid_text; /* NULL: no EventID field */
    const char *eid_text2;/* a second EventID field, or NULL */
    uint32_t event_id;    /* what the reader gave */
    const char *user, *flag;
    unsigned want;        /* bit per rule index */
} ev_case;

static const ev_case cases[] = {
    {"4738", NULL, 4738, "PC$", "no", 1u << 0 | 1u << 1},
    {"4738", NULL, 4738, "bob", "yes", 1u << 1 | 1u << 2},
    {"0x1282", NULL, 0, "PC$", "yes", 1u << 0 | 1u << 2},      /* hex 4738: integers match */
    {"011202", NULL, 11202, "PC$", "no", 1u << 0},             /* octal 4738 */
    {" 4738", NULL, 4738, "PC$", "no", 1u << 0},               /* padded: strtoll reads it */
    {"4738", NULL, 4624, "PC$", "no", 1u << 0 | 1u << 1},      /* reader disagrees */
    {"4624", "4738", 4624, "PC$", "yes", 1u << 0 | 1u << 1 | 1u << 2}, /* two fields */
    {NULL, NULL, 4738, "PC$", "yes", 1u << 3},                 /* no field */
    {"4740", NULL, 4740, "x", "yes", 1u << 2 | 1u << 3},
    {"4624", NULL, 4624, "PC$", "yes", 1u << 3},
    {"4742", NULL, 4742, "x", "no", 1u << 4},
    {"04742", NULL, 4742, "x", "no", 0},                       /* octal 2530, text differs */
};

static int record(void *ctx, const ps_sigma_rule_info *rule, size_t index, const ps_event *ev)
{
    (void)rule;
    (void)ev;
    *(unsigned *)ctx |= 1u << index;
    return 0;
}

static unsigned match_case(const ps_sigma_set *set, ps_sigma_scratch *s, const ev_case *c)
{
    ps_field f[4];
    uint32_t n = 0;
    const char *paths[4] = {"Event.System.EventID", "Event.System.EventID",
                            "Event.EventData.TargetUserName", "Event.EventData.Flag"};
    const char *values[4] = {c->eid_text, c->eid_text2, c->user, c->flag};
    for (int k = 0; k < 4; k++) {
        if (!values[k])
            continue;
        const char *dot = strrchr(paths[k], '.');
        f[n++] = (ps_field){.path = paths[k], .name = dot + 1, .value = values[k],
                            .path_len = (uint32_t)strlen(paths[k]),
                            .name_len = (uint32_t)strlen(dot + 1),
                            .value_len = (uint32_t)strlen(values[k]), .kind = PS_KIND_STRING};
    }
    ps_event ev = {.fields = f, .nfields = n, .event_id = c->event_id, .channel = "Security",
                   .computer = "", .provider = "", .source = ""};
    unsigned got = 0;
    assert_true(ps_sigma_match(set, s, &ev, record, &got) >= 0);
    return got;
}

static const sg_eid_list *eid_list(const ps_sigma_set *set, const sg_channel_bucket *b,
                                   uint32_t eid)
{
    (void)set;
    for (uint32_t i = 0; i < b->nby_eid; i++)
        if (b->by_eid[i].eid == eid)
            return &b->by_eid[i];
    return NULL;
}

static int listed(const ps_sigma_set *set, uint32_t first, uint32_t n, size_t rule)
{
    for (uint32_t k = first; k < first + n; k++)
        if (set->compiled[set->postings[k]].rule == rule)
            return 1;
    return 0;
}

static void test_filed_under_detection_ids(void **state)
{
    (void)state;
    ps_sigma_set *set = NULL;
    ps_sigma_options o = {0};
    assert_int_equal(ps_sigma_load_text(rules, strlen(rules), "t.yml", &o, &set, NULL), PS_OK);
    const sg_channel_bucket *b = NULL;
    for (uint32_t i = 0; i < set->nbuckets; i++)
        if (set->buckets[i].channel && !strcmp(set->buckets[i].channel, "Security"))
            b = &set->buckets[i];
    assert_non_null(b);
    const sg_eid_list *l4738 = eid_list(set, b, 4738), *l4740 = eid_list(set, b, 4740),
                      *l4742 = eid_list(set, b, 4742);
    assert_non_null(l4738);
    assert_non_null(l4740);
    assert_non_null(l4742);
    assert_true(listed(set, l4738->first, l4738->n, 0));
    assert_true(listed(set, l4738->first, l4738->n, 1));
    assert_true(listed(set, l4738->first, l4738->n, 2));
    assert_true(listed(set, l4740->first, l4740->n, 2));
    assert_false(listed(set, l4740->first, l4740->n, 0));
    assert_true(listed(set, l4742->first, l4742->n, 4));
    assert_true(listed(set, b->any_first, b->any_n, 3)); /* `not`: any ID */
    assert_false(listed(set, b->any_first, b->any_n, 0));
    for (size_t r = 0; r < 5; r++) /* the fallback holds every derived rule */
        assert_int_equal(listed(set, b->fallback_first, b->fallback_n, r), r != 3);
    ps_sigma_free(set);
}

static void test_odd_event_ids_still_match(void **state)
{
    (void)state;
    for (int no_prefilter = 0; no_prefilter < 2; no_prefilter++) {
        ps_sigma_set *set = NULL;
        ps_sigma_options o = {.no_prefilter = no_prefilter};
        assert_int_equal(ps_sigma_load_text(rules, strlen(rules), "t.yml", &o, &set, NULL),
                         PS_OK);
        ps_sigma_scratch *s = ps_sigma_scratch_new(set);
        assert_non_null(s);
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            unsigned got = match_case(set, s, &cases[i]);
            if (got != cases[i].want)
                fail_msg("case %zu (EventID '%s', event ID %u): rules %#x, want %#x", i,
                         cases[i].eid_text ? cases[i].eid_text : "(none)", cases[i].event_id,
                         got, cases[i].want);
        }
        ps_sigma_scratch_free(s);
        ps_sigma_free(set);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_filed_under_detection_ids),
        cmocka_unit_test(test_odd_event_ids_still_match),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
