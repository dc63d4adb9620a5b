/* The HTML report: escaping, the JSON embedded in <script>, the CSP hash,
 * logon extraction from events and edge aggregation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "plainsight/report.h"
#include "report/report_internal.h"

static char *json_of(const char *s)
{
    ps_buf b;
    ps_buf_init(&b);
    report_json_string(&b, s);
    char *out = strdup(ps_buf_cstr(&b));
    ps_buf_free(&b);
    return out;
}

static char *html_of(const char *s)
{
    ps_buf b;
    ps_buf_init(&b);
    report_html_escape(&b, s);
    char *out = strdup(ps_buf_cstr(&b));
    ps_buf_free(&b);
    return out;
}

static void expect_json(const char *in, const char *want)
{
    char *got = json_of(in);
    assert_string_equal(got, want);
    free(got);
}

static void expect_html(const char *in, const char *want)
{
    char *got = html_of(in);
    assert_string_equal(got, want);
    free(got);
}

static void json_escapes_what_could_close_the_script(void **state)
{
    (void)state;
    expect_json("</script><script>alert(1)</script>",
                "\"\\u003c/script\\u003e\\u003cscript\\u003ealert(1)\\u003c/script\\u003e\"");
    expect_json("<!-- a & b -->", "\"\\u003c!-- a \\u0026 b --\\u003e\"");
    expect_json("line\xE2\x80\xA8para\xE2\x80\xA9", "\"line\\u2028para\\u2029\"");
    expect_json("q\"b\\s/", "\"q\\\"b\\\\s/\"");
    expect_json("a\nb\tc\x01\x1f", "\"a\\u000ab\\u0009c\\u0001\\u001f\"");
    expect_json(NULL, "\"\"");
}

static void json_keeps_utf8_and_replaces_invalid_bytes(void **state)
{
    (void)state;
    expect_json("Gr\xC3\xBC\xC3\x9F \xE6\x97\xA5 \xF0\x9F\x98\x80", "\"Gr\xC3\xBC\xC3\x9F \xE6\x97\xA5 \xF0\x9F\x98\x80\"");
    expect_json("a\xFF" "b", "\"a\\ufffdb\"");
    expect_json("\xC0\xBC", "\"\\ufffd\\ufffd\"");          /* overlong '<' */
    expect_json("\xED\xA0\x80", "\"\\ufffd\\ufffd\\ufffd\""); /* a surrogate */
    expect_json("\xE2\x80", "\"\\ufffd\\ufffd\"");            /* cut short */
}

static void html_escape_covers_text_and_attributes(void **state)
{
    (void)state;
    expect_html("<img src=x onerror=\"alert('x')\"> & co",
                "&lt;img src=x onerror=&quot;alert(&#39;x&#39;)&quot;&gt; &amp; co");
    expect_html("ok\x01\xFF", "ok\xEF\xBF\xBD\xEF\xBF\xBD");
    expect_html(NULL, "");
}

static const char PAYLOAD[] = "</script><script>document.title='pwned'</script>"
                              "<img src=x onerror=alert(1)>\xE2\x80\xA8";

static ps_report *report_with_payloads(void)
{
    ps_report *r = ps_report_new();
    assert_non_null(r);
    const char *tags[] = {"attack.execution", "attack.t1059.001", "attack.g0045", PAYLOAD};
    ps_report_detection d = {.time_filetime = 133590000000000000ull, .computer = PAYLOAD,
                             .channel = "Security", .event_id = 4688, .record_id = 7,
                             .level = "high", .rule_title = PAYLOAD, .rule_id = "id-1",
                             .tags = tags, .ntags = 4, .details = PAYLOAD, .source = PAYLOAD};
    assert_int_equal(ps_report_add_detection(r, &d), PS_OK);
    ps_report_logon l = {.time_filetime = 133590000000000000ull, .kind = PS_LOGON_RDP_AUTH,
                         .target_host = PAYLOAD, .account = PAYLOAD, .account_domain = "MSP",
                         .source_ip = "10.0.0.5"};
    assert_int_equal(ps_report_add_logon(r, &l), PS_OK);
    ps_report_finding f = {.path = PAYLOAD, .level = "alert", .reason = PAYLOAD};
    assert_int_equal(ps_report_add_finding(r, &f), PS_OK);
    ps_report_run run = {.command = PAYLOAD, .rules_loaded = 3, .rules_skipped = 1};
    ps_report_set_run(r, &run);
    return r;
}

static size_t count_of(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

static void page_has_no_tag_from_the_data(void **state)
{
    (void)state;
    ps_report *r = report_with_payloads();
    char *page = NULL;
    size_t len = 0;
    assert_int_equal(ps_report_render(r, &page, &len), PS_OK);
    assert_int_equal(strlen(page), len);
    /* Only the page's own two script elements, one <img> nowhere. */
    assert_int_equal(count_of(page, "</script>"), 2);
    assert_int_equal(count_of(page, "<script"), 2);
    assert_null(strstr(page, "<img"));
    assert_null(strstr(page, "pwned'</"));
    const char *data = strstr(page, "<script type=\"application/json\" id=\"ps-data\">");
    assert_non_null(data);
    data = strchr(data, '>') + 1;
    const char *end = strstr(data, "</script>");
    for (const char *p = data; p < end; p++) {
        assert_true(*p != '<' && *p != '>' && *p != '&');
        assert_true(strncmp(p, "\xE2\x80\xA8", 3) != 0);
    }
    /* The tags were split: tactic, technique, no group, nothing else. */
    assert_non_null(strstr(data, "\"execution\",\"t1059.001\""));
    assert_null(strstr(data, "g0045"));
    free(page);
    ps_report_free(r);
}

static void csp_carries_the_hash_of_the_inline_script(void **state)
{
    (void)state;
    ps_report *r = ps_report_new();
    char *page = NULL;
    assert_int_equal(ps_report_render(r, &page, NULL), PS_OK);
    const char *script = strstr(page, "<script>");
    assert_non_null(script);
    script += strlen("<script>");
    const char *end = strstr(script, "</script>");
    char hash[48], want[80];
    assert_int_equal(report_sha256_base64(script, (size_t)(end - script), hash), 0);
    snprintf(want, sizeof want, "script-src 'sha256-%s'", hash);
    assert_non_null(strstr(page, want));
    assert_non_null(strstr(page, "default-src 'none'"));
    /* A known vector: SHA-256("abc"). */
    assert_int_equal(report_sha256_base64("abc", 3, hash), 0);
    assert_string_equal(hash, "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=");
    free(page);
    ps_report_free(r);
}

/* --- logon extraction ----------------------------------------------------- */

typedef struct fake_event {
    ps_field fields[16];
    ps_event ev;
} fake_event;

static void add_field(fake_event *f, const char *path, const char *value)
{
    ps_field *fl = &f->fields[f->ev.nfields++];
    fl->path = path;
    fl->path_len = (uint32_t)strlen(path);
    fl->name = strrchr(path, '.') + 1;
    fl->name_len = (uint32_t)strlen(fl->name);
    fl->value = value;
    fl->value_len = (uint32_t)strlen(value);
    fl->kind = PS_KIND_STRING;
}

static void init_event(fake_event *f, const char *channel, uint32_t event_id)
{
    memset(f, 0, sizeof *f);
    f->ev.fields = f->fields;
    f->ev.channel = channel;
    f->ev.event_id = event_id;
    f->ev.computer = "JUMP01.customer.local";
    f->ev.provider = f->ev.source = "";
    f->ev.time_filetime = 133590000000000000ull;
}

static void security_4624(fake_event *f, const char *type, const char *user)
{
    init_event(f, "Security", 4624);
    add_field(f, "Event.EventData.TargetUserName", user);
    add_field(f, "Event.EventData.TargetDomainName", "MSP");
    add_field(f, "Event.EventData.LogonType", type);
    add_field(f, "Event.EventData.WorkstationName", "MSP-ADMIN01");
    add_field(f, "Event.EventData.IpAddress", "::ffff:10.9.8.7");
}

static void logons_from_security_events(void **state)
{
    (void)state;
    fake_event f;
    ps_report_logon l;
    char scratch[PS_REPORT_LOGON_SCRATCH];
    security_4624(&f, "10", "svc_admin");
    assert_int_equal(ps_report_logon_from_event(&f.ev, &l, scratch), 1);
    assert_int_equal(l.kind, PS_LOGON_REMOTE_INTERACTIVE);
    assert_string_equal(l.account, "svc_admin");
    assert_string_equal(l.account_domain, "MSP");
    assert_string_equal(l.source_host, "MSP-ADMIN01");
    assert_string_equal(l.source_ip, "10.9.8.7");
    assert_string_equal(l.target_host, "JUMP01.customer.local");
    security_4624(&f, "2", "svc_admin"); /* interactive at the console */
    assert_int_equal(ps_report_logon_from_event(&f.ev, &l, scratch), 0);
    security_4624(&f, "3", "JUMP01$"); /* machine account: noise */
    assert_int_equal(ps_report_logon_from_event(&f.ev, &l, scratch), 0);

    init_event(&f, "Security", 4769);
    add_field(&f, "Event.EventData.TargetUserName", "svc_admin@MSP.EXAMPLE");
    add_field(&f, "Event.EventData.ServiceName", "FS01$");
    add_field(&f, "Event.EventData.IpAddress", "::ffff:10.1.1.20");
    assert_int_equal(ps_report_logon_from_event(&f.ev, &l, scratch), 1);
    assert_int_equal(l.kind, PS_LOGON_KERBEROS_SERVICE);
    assert_string_equal(l.account, "svc_admin");
    assert_string_equal(l.account_domain, "MSP.EXAMPLE");
    assert_string_equal(l.target_host, "FS01");

    init_event(&f, "Security", 4648);
    add_field(&f, "Event.EventData.TargetUserName", "administrator");
    add_field(&f, "Event.EventData.TargetServerName", "FS01.customer.local");
    assert_int_equal(ps_report_logon_from_event(&f.ev, &l, scratch), 1);
    assert_string_equal(l.source_host, "JUMP01.customer.local");
    assert_string_equal(l.target_host, "FS01.customer.local");

    init_event(&f, "Security", 4688); /* not a logon */
    assert_int_equal(ps_report_logon_from_event(&f.ev, &l, scratch), 0);
}

static void logons_from_terminal_services(void **state)
{
    (void)state;
    fake_event f;
    ps_report_logon l;
    char scratch[PS_REPORT_LOGON_SCRATCH];
    init_event(&f, "Microsoft-Windows-TerminalServices-RemoteConnectionManager/Operational", 1149);
    add_field(&f, "Event.UserData.EventXML.Param1", "svc_admin");
    add_field(&f, "Event.UserData.EventXML.Param2", "MSP");
    add_field(&f, "Event.UserData.EventXML.Param3", "10.9.8.7");
    assert_int_equal(ps_report_logon_from_event(&f.ev, &l, scratch), 1);
    assert_int_equal(l.kind, PS_LOGON_RDP_AUTH);
    assert_string_equal(l.account, "svc_admin");
    assert_string_equal(l.source_ip, "10.9.8.7");

    init_event(&f, "Microsoft-Windows-TerminalServices-LocalSessionManager/Operational", 21);
    add_field(&f, "Event.UserData.EventXML.User", "MSP\\svc_admin");
    add_field(&f, "Event.UserData.EventXML.Address", "10.9.8.7");
    assert_int_equal(ps_report_logon_from_event(&f.ev, &l, scratch), 1);
    assert_int_equal(l.kind, PS_LOGON_RDP_SESSION);
    assert_string_equal(l.account, "svc_admin");
    assert_string_equal(l.account_domain, "MSP");

    f.fields[1].value = "LOCAL"; /* console session */
    f.fields[1].value_len = 5;
    assert_int_equal(ps_report_logon_from_event(&f.ev, &l, scratch), 0);
}

static void repeated_logons_become_one_edge(void **state)
{
    (void)state;
    ps_report *r = ps_report_new();
    fake_event f;
    for (int i = 0; i < 3; i++) {
        security_4624(&f, "3", "svc_admin");
        f.ev.time_filetime += (uint64_t)i * 10000000ull;
        assert_int_equal(ps_report_add_event(r, &f.ev), PS_OK);
    }
    security_4624(&f, "3", "other");
    assert_int_equal(ps_report_add_event(r, &f.ev), PS_OK);
    init_event(&f, "Security", 4688);
    assert_int_equal(ps_report_add_event(r, &f.ev), PS_OK);
    assert_int_equal(r->nedges, 2);
    char *page = NULL;
    assert_int_equal(ps_report_render(r, &page, NULL), PS_OK);
    assert_non_null(strstr(page, "\"svc_admin\",\"MSP\",\"MSP-ADMIN01\",\"10.9.8.7\",3,"));
    free(page);
    ps_report_free(r);
}

static void many_edges_grow_the_table(void **state)
{
    (void)state;
    ps_report *r = ps_report_new();
    char name[32];
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < 5000; i++) {
            snprintf(name, sizeof name, "user%d", i);
            ps_report_logon l = {.kind = PS_LOGON_NETWORK, .target_host = "H", .account = name};
            assert_int_equal(ps_report_add_logon(r, &l), PS_OK);
        }
    assert_int_equal(r->nedges, 5000);
    for (size_t i = 0; i < r->nedges; i++)
        assert_int_equal(r->edges[i].count, 2);
    ps_report_free(r);
}

static void write_creates_the_file(void **state)
{
    (void)state;
    char path[] = "/tmp/ps-report-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    ps_report *r = report_with_payloads();
    assert_int_equal(ps_report_write(r, path), PS_OK);
    FILE *f = fopen(path, "rb");
    char head[16] = {0};
    assert_non_null(f);
    assert_int_equal(fread(head, 1, 15, f), 15);
    fclose(f);
    assert_string_equal(head, "<!DOCTYPE html>");
    assert_int_equal(ps_report_write(r, "/nonexistent-dir/x.html"), PS_ERR_IO);
    unlink(path);
    ps_report_free(r);
}

/* report_assets.c is generated from report.js/report.css: both must agree. */
static void assets_match_their_sources(void **state)
{
    (void)state;
    const char *src = getenv("PS_SOURCE_DIR");
    if (!src)
        skip();
    const char *names[2] = {"report.js", "report.css"};
    const char *embedded[2] = {report_script, report_style};
    for (int i = 0; i < 2; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/src/report/%s", src, names[i]);
        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        static char text[256 * 1024];
        size_t n = fread(text, 1, sizeof text - 1, f);
        fclose(f);
        text[n] = 0;
        if (strcmp(text, embedded[i]) != 0)
            fail_msg("%s changed: run src/report/embed_assets.py", names[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(json_escapes_what_could_close_the_script),
        cmocka_unit_test(json_keeps_utf8_and_replaces_invalid_bytes),
        cmocka_unit_test(html_escape_covers_text_and_attributes),
        cmocka_unit_test(page_has_no_tag_from_the_data),
        cmocka_unit_test(csp_carries_the_hash_of_the_inline_script),
        cmocka_unit_test(logons_from_security_events),
        cmocka_unit_test(logons_from_terminal_services),
        cmocka_unit_test(repeated_logons_become_one_edge),
        cmocka_unit_test(many_edges_grow_the_table),
        cmocka_unit_test(write_creates_the_file),
        cmocka_unit_test(assets_match_their_sources),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
