/*
 * Decoder fixtures: EVTX files built with the project's own writer
 * (src/evtxgen), decoded with ps_evtx_dump (JSONL) and ps_evtx_events, and
 * compared record by record with the exact evtx_dump-style JSON expected
 * (doc section 1.8). Damaged variants (every evtxgen damage option) must not
 * crash, must still deliver every intact record and must report a
 * diagnostic.
 *
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "evtxgen/evtxgen.h"
#include "plainsight/evtx.h"
#include "util/buf.h"

#define XMLNS "http://schemas.microsoft.com/win/2004/08/events/event"
#define EVENT_OPEN "{\"Event\":{\"#attributes\":{\"xmlns\":\"" XMLNS "\"},"
#define SECURITY_GUID "54849625-5478-4994-A5BA-3E3B0328C30D"
#define BASE_TIME "2024-05-01T10:00:00Z"

/* ------------------------------------------------------------ helpers */

static char tmpdir[256];

static int setup_dir(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ps_dump_fixtures_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

/* PS_FIXTURES_KEEP=1 leaves the files for inspection. */
static int teardown_dir(void **state)
{
    (void)state;
    const char *keep = getenv("PS_FIXTURES_KEEP");
    if (keep && *keep && strcmp(keep, "0") != 0) {
        fprintf(stderr, "fixtures kept in %s\n", tmpdir);
        return 0;
    }
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static const char *fixture_path(const char *name)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s.evtx", tmpdir, name);
    return path;
}


/* Everything a decoder run produced. */
typedef struct capture {
    ps_buf out;
    ps_buf diags;     /* one message per line */
    int ndiags;
    ps_evtx_stats stats;
    int rc;
} capture;

static int collect_output(void *ctx, const void *data, size_t len)
{
    ps_buf_add(&((capture *)ctx)->out, data, len);
    return 0;
}

static void collect_diag(void *ctx, const ps_diag *d)
{
    capture *c = ctx;
    c->ndiags++;
    ps_buf_printf(&c->diags, "  [%d] @%llu %s\n", (int)d->severity,
                  (unsigned long long)d->offset, d->message);
}

static void dump_file(const char *path, int recover, capture *c)
{
    memset(c, 0, sizeof *c);
    ps_buf_init(&c->out);
    ps_buf_init(&c->diags);
    ps_evtx_options opt = {0};
    opt.threads = 1;
    opt.recover = recover;
    opt.diag = collect_diag;
    opt.diag_ctx = c;
    c->rc = ps_evtx_dump(&path, 1, PS_FORMAT_JSONL, &opt, collect_output, c, &c->stats);
    ps_buf_cstr(&c->out);
    ps_buf_cstr(&c->diags);
}

static void capture_free(capture *c)
{
    ps_buf_free(&c->out);
    ps_buf_free(&c->diags);
}

/* The n-th output line (0-based) into `line`; 0 when there is none. */
static int nth_line(const char *text, int n, char *line, size_t size)
{
    const char *p = text;
    for (int i = 0; i < n && p; i++) {
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    if (!p || !*p)
        return 0;
    const char *e = strchr(p, '\n');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    if (len >= size)
        len = size - 1;
    memcpy(line, p, len);
    line[len] = 0;
    return 1;
}

static int count_lines(const char *text)
{
    int n = 0;
    for (const char *p = text; *p; p++)
        n += *p == '\n';
    return n;
}

/* Compare every output line with the expected ones, reporting each
 * mismatch with the fixture name. */
static void expect_lines(const char *fixture, const capture *c, const char *const *expected,
                         int n)
{
    char got[16384];
    int bad = 0;
    for (int i = 0; i < n; i++) {
        if (!nth_line(c->out.data, i, got, sizeof got)) {
            print_error("%s: record %d missing\n  expected: %s\n", fixture, i + 1, expected[i]);
            bad++;
        } else if (strcmp(got, expected[i]) != 0) {
            print_error("%s: record %d differs\n  expected: %s\n  got:      %s\n", fixture, i + 1,
                        expected[i], got);
            bad++;
        }
    }
    int lines = count_lines(c->out.data);
    if (lines != n) {
        print_error("%s: %d records out, %d expected\n", fixture, lines, n);
        bad++;
    }
    if (bad)
        fail_msg("%s: %d mismatches (diagnostics:\n%s)", fixture, bad, c->diags.data);
}

/* Every expected line must occur somewhere in the output. */
static void expect_contains(const char *fixture, const capture *c, const char *const *expected,
                            int n)
{
    int bad = 0;
    for (int i = 0; i < n; i++) {
        char needle[16384];
        snprintf(needle, sizeof needle, "%s\n", expected[i]);
        if (!strstr(c->out.data, needle)) {
            print_error("%s: intact record missing: %s\n", fixture, expected[i]);
            bad++;
        }
    }
    if (bad)
        fail_msg("%s: %d intact records missing; output:\n%s\ndiagnostics:\n%s", fixture, bad,
                 c->out.data, c->diags.data);
}

static uint64_t base_filetime(void)
{
    uint64_t ft = 0;
    assert_int_equal(eg_parse_time(BASE_TIME, &ft), 0);
    return ft;
}

/* evtx_dump's SystemTime: microseconds, truncated, Z. Computed here with
 * gmtime so it does not share code with either side. */
static void format_time(uint64_t ft, char *out, size_t size)
{
    const uint64_t unix_epoch = 116444736000000000ULL;
    time_t secs = (time_t)((ft - unix_epoch) / 10000000ULL);
    unsigned micros = (unsigned)((ft - unix_epoch) % 10000000ULL / 10);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char date[32];
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, size, "%s.%06uZ", date, micros);
}

/* ---------------------------------------------------- the Security story
 * A System template shaped like Windows' (optional substitutions, dependency
 * id on EventID), whose last value is a nested EventData instance. */

typedef struct story {
    eg_writer *w;
    const eg_template *system;
    const eg_template *ev4688;
} story;

static void story_init(story *s)
{
    eg_writer *w = s->w = eg_writer_new();
    assert_non_null(w);
    eg_node *ev = eg_elem(w, "Event");
    eg_attr_text(w, ev, "xmlns", XMLNS);
    eg_node *sys = eg_child_elem(w, ev, "System");
    eg_node *prov = eg_child_elem(w, sys, "Provider");
    eg_attr_sub(w, prov, "Name", 0, EG_T_STRING, 1);
    eg_attr_sub(w, prov, "Guid", 1, EG_T_GUID, 1);
    eg_node *eid = eg_child_elem(w, sys, "EventID");
    eg_elem_set_depid(eid, 2);
    eg_sub(w, eid, 2, EG_T_UINT16, 1);
    eg_sub(w, eg_child_elem(w, sys, "Version"), 3, EG_T_UINT8, 1);
    eg_sub(w, eg_child_elem(w, sys, "Level"), 4, EG_T_UINT8, 1);
    eg_sub(w, eg_child_elem(w, sys, "Task"), 5, EG_T_UINT16, 1);
    eg_sub(w, eg_child_elem(w, sys, "Opcode"), 6, EG_T_UINT8, 1);
    eg_sub(w, eg_child_elem(w, sys, "Keywords"), 7, EG_T_HEX64, 1);
    eg_attr_sub(w, eg_child_elem(w, sys, "TimeCreated"), "SystemTime", 8, EG_T_FILETIME, 1);
    eg_sub(w, eg_child_elem(w, sys, "EventRecordID"), 9, EG_T_UINT64, 1);
    eg_attr_sub(w, eg_child_elem(w, sys, "Correlation"), "ActivityID", 10, EG_T_GUID, 1);
    eg_node *exe = eg_child_elem(w, sys, "Execution");
    eg_attr_sub(w, exe, "ProcessID", 11, EG_T_UINT32, 1);
    eg_attr_sub(w, exe, "ThreadID", 12, EG_T_UINT32, 1);
    eg_sub(w, eg_child_elem(w, sys, "Channel"), 13, EG_T_STRING, 1);
    eg_sub(w, eg_child_elem(w, sys, "Computer"), 14, EG_T_STRING, 1);
    eg_attr_sub(w, eg_child_elem(w, sys, "Security"), "UserID", 15, EG_T_SID, 1);
    eg_sub(w, ev, 16, EG_T_BINXML, 1);
    s->system = eg_template_new(w, "6B1C2F10-6F24-4A4E-9C45-0D8A8E1D0001", ev);

    eg_node *ed = eg_elem(w, "EventData");
    static const char *const names[] = {"SubjectUserSid", "SubjectUserName", "SubjectLogonId",
                                        "NewProcessId", "CommandLine"};
    static const uint8_t types[] = {EG_T_SID, EG_T_STRING, EG_T_HEX64, EG_T_HEX64, EG_T_STRING};
    for (int i = 0; i < 5; i++) {
        eg_node *d = eg_child_elem(w, ed, "Data");
        eg_attr_text(w, d, "Name", names[i]);
        eg_sub(w, d, (uint16_t)i, types[i], 0);
    }
    s->ev4688 = eg_template_new(w, "6B1C2F10-6F24-4A4E-9C45-0D8A8E1D4688", ed);
}

static uint64_t story_time(uint64_t id)
{
    return base_filetime() + id * 10000000ULL + 1234567;
}

/* The 17 System values around a nested EventData value. */
static void system_values(story *s, eg_value *v, uint16_t event_id, uint64_t id,
                          eg_value eventdata)
{
    eg_writer *w = s->w;
    v[0] = eg_val_string(w, "Microsoft-Windows-Security-Auditing");
    v[1] = eg_val_guid(w, SECURITY_GUID);
    v[2] = eg_val_u16(w, event_id);
    v[3] = eg_val_u8(w, 2);
    v[4] = eg_val_u8(w, 0);
    v[5] = eg_val_u16(w, 13312);
    v[6] = eg_val_u8(w, 0);
    v[7] = eg_val_hex64(w, 0x8020000000000000ULL);
    v[8] = eg_val_filetime(w, story_time(id));
    v[9] = eg_val_u64(w, id);
    v[10] = eg_val_null();
    v[11] = eg_val_u32(w, 4);
    v[12] = eg_val_u32(w, 7512);
    v[13] = eg_val_string(w, "Security");
    v[14] = eg_val_string(w, "WS01.corp.example");
    v[15] = eg_val_null();
    v[16] = eventdata;
}

static const char *story_user(uint64_t id)
{
    return id % 2 ? "alice" : "WS01$";
}

/* Record `id`: a 4688 whose command line names the id; odd ids nest the
 * EventData with a fragment header, even ids as a bare 0C instance. */
static void story_add(story *s, uint64_t id, const eg_record_opts *opts)
{
    char cmd[96];
    snprintf(cmd, sizeof cmd, "cmd.exe /c echo record %llu", (unsigned long long)id);
    eg_value ed[5] = {
        eg_val_sid(s->w, id % 2 ? "S-1-5-21-1004336348-1177238915-682003330-1001" : "S-1-5-18"),
        eg_val_string(s->w, story_user(id)),
        eg_val_hex64(s->w, 0x3e7),
        eg_val_hex64(s->w, 0x1000 + id),
        eg_val_string(s->w, cmd),
    };
    eg_fragment f = {.tmpl = s->ev4688, .values = ed, .nvalues = 5, .bare = id % 2 == 0};
    eg_value v[17];
    system_values(s, v, 4688, id, eg_val_binxml(s->w, &f));
    assert_int_equal(eg_add_record(s->w, id, story_time(id), s->system, v, 17, opts), PS_OK);
}

static char *system_json(uint16_t event_id, uint64_t id)
{
    char when[40];
    format_time(story_time(id), when, sizeof when);
    char *out = malloc(1024);
    assert_non_null(out);
    snprintf(out, 1024,
             "\"System\":{\"Provider\":{\"#attributes\":{\"Name\":\"Microsoft-Windows-Security-"
             "Auditing\",\"Guid\":\"" SECURITY_GUID "\"}},\"EventID\":%u,\"Version\":2,"
             "\"Level\":0,\"Task\":13312,\"Opcode\":0,\"Keywords\":\"0x8020000000000000\","
             "\"TimeCreated\":{\"#attributes\":{\"SystemTime\":\"%s\"}},\"EventRecordID\":%llu,"
             "\"Correlation\":null,\"Execution\":{\"#attributes\":{\"ProcessID\":4,"
             "\"ThreadID\":7512}},\"Channel\":\"Security\",\"Computer\":\"WS01.corp.example\","
             "\"Security\":null}",
             event_id, when, (unsigned long long)id);
    return out;
}

static char *story_expected(uint64_t id)
{
    char *sys = system_json(4688, id);
    char *out = malloc(2048);
    assert_non_null(out);
    snprintf(out, 2048,
             EVENT_OPEN "%s,\"EventData\":{\"SubjectUserSid\":\"%s\",\"SubjectUserName\":\"%s\","
                        "\"SubjectLogonId\":\"0x3e7\",\"NewProcessId\":\"0x%llx\","
                        "\"CommandLine\":\"cmd.exe /c echo record %llu\"}}}",
             sys, id % 2 ? "S-1-5-21-1004336348-1177238915-682003330-1001" : "S-1-5-18",
             story_user(id), (unsigned long long)(0x1000 + id), (unsigned long long)id);
    free(sys);
    return out;
}

/* Expected lines for the given record ids. */
static char **story_expected_list(const uint64_t *ids, int n)
{
    char **lines = calloc((size_t)n + 1, sizeof *lines);
    assert_non_null(lines);
    for (int i = 0; i < n; i++)
        lines[i] = story_expected(ids[i]);
    return lines;
}

static void free_list(char **lines, int n)
{
    for (int i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
}

static void story_finish(story *s, const char *path, const eg_damage *damage)
{
    assert_int_equal(eg_writer_finish(s->w, path, damage), PS_OK);
    eg_writer_free(s->w);
    s->w = NULL;
}

/* ------------------------------------------------------ intact files */

static void test_story_records(void **state)
{
    (void)state;
    story s;
    story_init(&s);
    for (uint64_t id = 1; id <= 4; id++)
        story_add(&s, id, NULL);
    const char *path = fixture_path("story");
    story_finish(&s, path, NULL);

    capture c;
    dump_file(path, 0, &c);
    assert_int_equal(c.rc, PS_OK);
    uint64_t ids[] = {1, 2, 3, 4};
    char **exp = story_expected_list(ids, 4);
    expect_lines("story", &c, (const char *const *)exp, 4);
    assert_int_equal(c.stats.records, 4);
    assert_int_equal(c.stats.chunks, 1);
    free_list(exp, 4);
    capture_free(&c);
}

/* Records spill into new chunks; templates and names are redefined in each. */
static void test_story_many_chunks(void **state)
{
    (void)state;
    story s;
    story_init(&s);
    enum { N = 700 };
    for (uint64_t id = 1; id <= N; id++)
        story_add(&s, id, NULL);
    assert_true(eg_chunk_count(s.w) >= 3);
    unsigned chunks = eg_chunk_count(s.w);
    const char *path = fixture_path("story_many");
    story_finish(&s, path, NULL);

    capture c;
    dump_file(path, 0, &c);
    assert_int_equal(c.rc, PS_OK);
    uint64_t ids[N];
    for (int i = 0; i < N; i++)
        ids[i] = (uint64_t)i + 1;
    char **exp = story_expected_list(ids, N);
    expect_lines("story_many", &c, (const char *const *)exp, N);
    assert_int_equal(c.stats.chunks, chunks);
    assert_int_equal(c.ndiags, 0);
    free_list(exp, N);
    capture_free(&c);
}

/* ps_evtx_events: quick fields and typed fields. */
typedef struct seen_events {
    int n;
    uint32_t event_id[8];
    uint64_t record_id[8];
    uint64_t filetime[8];
    char channel[8][32], computer[8][32], provider[8][64];
    char cmdline[8][64];
    uint8_t cmd_kind[8], eventid_kind[8], pid_kind[8];
    char logon_id[8][16];
} seen_events;

static int collect_event(void *ctx, unsigned worker, const ps_event *ev)
{
    (void)worker;
    seen_events *s = ctx;
    if (s->n >= 8)
        return 0;
    int i = s->n++;
    s->event_id[i] = ev->event_id;
    s->record_id[i] = ev->record_id;
    s->filetime[i] = ev->time_filetime;
    snprintf(s->channel[i], sizeof s->channel[i], "%s", ev->channel);
    snprintf(s->computer[i], sizeof s->computer[i], "%s", ev->computer);
    snprintf(s->provider[i], sizeof s->provider[i], "%s", ev->provider);
    const ps_field *f = ps_event_field(ev, "Event.EventData.CommandLine");
    snprintf(s->cmdline[i], sizeof s->cmdline[i], "%s", f ? f->value : "(missing)");
    s->cmd_kind[i] = f ? f->kind : 255;
    f = ps_event_field(ev, "Event.System.EventID");
    s->eventid_kind[i] = f ? f->kind : 255;
    f = ps_event_field(ev, "Event.System.Execution.#attributes.ProcessID");
    s->pid_kind[i] = f ? f->kind : 255;
    f = ps_event_field(ev, "Event.EventData.SubjectLogonId");
    snprintf(s->logon_id[i], sizeof s->logon_id[i], "%s", f ? f->value : "(missing)");
    return 0;
}

static void test_story_events(void **state)
{
    (void)state;
    story s;
    story_init(&s);
    for (uint64_t id = 1; id <= 3; id++)
        story_add(&s, id, NULL);
    const char *path = fixture_path("story_events");
    story_finish(&s, path, NULL);

    seen_events seen = {0};
    ps_evtx_options opt = {0};
    opt.threads = 1;
    ps_evtx_stats stats;
    assert_int_equal(ps_evtx_events(&path, 1, &opt, collect_event, &seen, &stats), PS_OK);
    assert_int_equal(seen.n, 3);
    for (int i = 0; i < 3; i++) {
        char cmd[64];
        snprintf(cmd, sizeof cmd, "cmd.exe /c echo record %d", i + 1);
        assert_int_equal(seen.event_id[i], 4688);
        assert_int_equal(seen.record_id[i], (uint64_t)i + 1);
        assert_int_equal(seen.filetime[i], story_time((uint64_t)i + 1));
        assert_string_equal(seen.channel[i], "Security");
        assert_string_equal(seen.computer[i], "WS01.corp.example");
        assert_string_equal(seen.provider[i], "Microsoft-Windows-Security-Auditing");
        assert_string_equal(seen.cmdline[i], cmd);
        assert_int_equal(seen.cmd_kind[i], PS_KIND_STRING);
        assert_int_equal(seen.eventid_kind[i], PS_KIND_INT);
        assert_int_equal(seen.pid_kind[i], PS_KIND_INT);
        assert_string_equal(seen.logon_id[i], "0x3e7");
    }
}

/* One record holding every scalar value type of doc section 1.7. */
static void test_value_types(void **state)
{
    (void)state;
    eg_writer *w = eg_writer_new();
    static const char *const names[] = {
        "String", "Ansi", "Int8", "UInt8", "Int16", "UInt16", "Int32", "UInt32",
        "Int64", "UInt64", "Real32", "Real64", "BoolTrue", "BoolOdd", "BoolFalse",
        "Binary", "Guid", "SizeT", "FileTime", "SysTime", "Sid", "Hex32", "Hex64",
        "Null", "Escapes"};
    enum { NV = sizeof names / sizeof names[0] };
    eg_node *ev = eg_elem(w, "Event");
    eg_attr_text(w, ev, "xmlns", XMLNS);
    eg_node *ed = eg_child_elem(w, ev, "EventData");
    for (int i = 0; i < NV; i++) {
        eg_node *d = eg_child_elem(w, ed, "Data");
        eg_attr_text(w, d, "Name", names[i]);
        eg_sub(w, d, (uint16_t)i, EG_T_STRING, 0);  /* descriptor types are authoritative */
    }
    const eg_template *t = eg_template_new(w, NULL, ev);
    static const uint8_t bin[] = {0xD9, 0x06, 0x00, 0x00, 0xAB};
    uint64_t ft = base_filetime() + 1234567;
    eg_value v[NV] = {
        eg_val_string(w, "héllo wörld ✓"),
        eg_val_ansi(w, "ansi text"),
        eg_val_int(w, EG_T_INT8, -5),
        eg_val_u8(w, 250),
        eg_val_int(w, EG_T_INT16, -30000),
        eg_val_u16(w, 65000),
        eg_val_int(w, EG_T_INT32, -2000000000),
        eg_val_u32(w, 4000000000u),
        eg_val_int(w, EG_T_INT64, -9000000000000000000LL),
        eg_val_u64(w, 18000000000000000000ULL),
        eg_val_real32(w, 0.25f),
        eg_val_real64(w, 1.5),
        eg_val_bool(w, 1),
        eg_val_bool(w, 2),
        eg_val_bool(w, 0),
        eg_val_binary(w, bin, sizeof bin),
        eg_val_guid(w, "{0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9}"),
        eg_val_int(w, EG_T_SIZET, 0x7ff6a000),
        eg_val_filetime(w, ft),
        eg_val_systime(w, 2024, 5, 1, 10, 0, 0, 123),
        eg_val_sid(w, "S-1-5-21-1-2-3-500"),
        eg_val_hex32(w, 0x3e7),
        eg_val_hex64(w, 0x8020000000000000ULL),
        eg_val_null(),
        eg_val_string(w, "a\"b\\c\td<e>&"),
    };
    assert_int_equal(eg_add_record(w, 1, ft, t, v, NV, NULL), PS_OK);
    const char *path = fixture_path("value_types");
    assert_int_equal(eg_writer_finish(w, path, NULL), PS_OK);
    eg_writer_free(w);

    const char *expected =
        EVENT_OPEN "\"EventData\":{\"String\":\"héllo wörld ✓\",\"Ansi\":\"ansi text\","
        "\"Int8\":-5,\"UInt8\":250,\"Int16\":-30000,\"UInt16\":65000,\"Int32\":-2000000000,"
        "\"UInt32\":4000000000,\"Int64\":-9000000000000000000,\"UInt64\":18000000000000000000,"
        "\"Real32\":\"0.25\",\"Real64\":\"1.5\",\"BoolTrue\":true,\"BoolOdd\":true,"
        "\"BoolFalse\":false,\"Binary\":\"D9060000AB\","
        "\"Guid\":\"0A1B2C3D-4E5F-6071-8293-A4B5C6D7E8F9\",\"SizeT\":\"0x7ff6a000\","
        "\"FileTime\":\"2024-05-01T10:00:00.123456Z\",\"SysTime\":\"2024-05-01T10:00:00.123000Z\","
        "\"Sid\":\"S-1-5-21-1-2-3-500\",\"Hex32\":\"0x3e7\",\"Hex64\":\"0x8020000000000000\","
        "\"Null\":\"\",\"Escapes\":\"a\\\"b\\\\c\\td<e>&\"}}}";
    capture c;
    dump_file(path, 0, &c);
    assert_int_equal(c.rc, PS_OK);
    expect_lines("value_types", &c, &expected, 1);
    capture_free(&c);
}

/* Arrays repeat their element once per item; unnamed Data gather into
 * "Data": {"#text": [...]}. */
static void test_arrays(void **state)
{
    (void)state;
    eg_writer *w = eg_writer_new();
    eg_node *ev = eg_elem(w, "Event");
    eg_attr_text(w, ev, "xmlns", XMLNS);
    eg_node *ed = eg_child_elem(w, ev, "EventData");
    eg_sub(w, eg_child_elem(w, ed, "Data"), 0, EG_T_ARRAY | EG_T_STRING, 0);
    eg_sub(w, eg_child_elem(w, ed, "Data"), 1, EG_T_ARRAY | EG_T_UINT16, 0);
    eg_sub(w, eg_child_elem(w, ed, "Data"), 2, EG_T_STRING, 0);
    const eg_template *t = eg_template_new(w, NULL, ev);
    static const char *const items[] = {"first", "second", "third"};
    static const int64_t nums[] = {7, 65535};
    eg_value v[3] = {eg_val_string_array(w, items, 3), eg_val_int_array(w, EG_T_UINT16, nums, 2),
                     eg_val_string(w, "tail")};
    assert_int_equal(eg_add_record(w, 1, base_filetime(), t, v, 3, NULL), PS_OK);
    const char *path = fixture_path("arrays");
    assert_int_equal(eg_writer_finish(w, path, NULL), PS_OK);
    eg_writer_free(w);

    const char *expected = EVENT_OPEN "\"EventData\":{\"Data\":{\"#text\":[\"first\",\"second\","
                                      "\"third\",7,65535,\"tail\"]}}}}";
    capture c;
    dump_file(path, 0, &c);
    assert_int_equal(c.rc, PS_OK);
    expect_lines("arrays", &c, &expected, 1);
    capture_free(&c);
}

/* A template-less record (WEC/exported logs): text values print as strings. */
static eg_node *plain_event(eg_writer *w, const char *event_id, const char *user)
{
    eg_node *ev = eg_elem(w, "Event");
    eg_attr_text(w, ev, "xmlns", XMLNS);
    eg_node *sys = eg_child_elem(w, ev, "System");
    eg_node *prov = eg_child_elem(w, sys, "Provider");
    eg_attr_text(w, prov, "Name", "Microsoft-Windows-Sysmon");
    eg_text(w, eg_child_elem(w, sys, "EventID"), event_id);
    eg_text(w, eg_child_elem(w, sys, "Channel"), "Microsoft-Windows-Sysmon/Operational");
    eg_node *ed = eg_child_elem(w, ev, "EventData");
    eg_node *d = eg_child_elem(w, ed, "Data");
    eg_attr_text(w, d, "Name", "User");
    eg_text(w, d, user);
    d = eg_child_elem(w, ed, "Data");
    eg_attr_text(w, d, "Name", "Empty");
    return ev;
}

static const char *plain_expected(int which)
{
    return which == 1
               ? EVENT_OPEN "\"System\":{\"Provider\":{\"#attributes\":{\"Name\":"
                            "\"Microsoft-Windows-Sysmon\"}},\"EventID\":\"1\",\"Channel\":"
                            "\"Microsoft-Windows-Sysmon/Operational\"},\"EventData\":{\"User\":"
                            "\"CORP\\\\alice\",\"Empty\":\"\"}}}"
               : EVENT_OPEN "\"System\":{\"Provider\":{\"#attributes\":{\"Name\":"
                            "\"Microsoft-Windows-Sysmon\"}},\"EventID\":\"3\",\"Channel\":"
                            "\"Microsoft-Windows-Sysmon/Operational\"},\"EventData\":{\"User\":"
                            "\"NT AUTHORITY\\\\SYSTEM\",\"Empty\":\"\"}}}";
}

static void test_template_less(void **state)
{
    (void)state;
    eg_writer *w = eg_writer_new();
    assert_int_equal(eg_add_record_tree(w, 1, base_filetime(), plain_event(w, "1", "CORP\\alice"),
                                        NULL), PS_OK);
    assert_int_equal(eg_add_record_tree(w, 2, base_filetime(),
                                        plain_event(w, "3", "NT AUTHORITY\\SYSTEM"), NULL), PS_OK);
    const char *path = fixture_path("template_less");
    assert_int_equal(eg_writer_finish(w, path, NULL), PS_OK);
    eg_writer_free(w);

    const char *expected[2] = {plain_expected(1), plain_expected(3)};
    capture c;
    dump_file(path, 0, &c);
    assert_int_equal(c.rc, PS_OK);
    expect_lines("template_less", &c, expected, 2);
    capture_free(&c);
}

/* A nested value holding a plain element (no template) inside a template. */
static void test_nested_plain_element(void **state)
{
    (void)state;
    eg_writer *w = eg_writer_new();
    eg_node *ev = eg_elem(w, "Event");
    eg_attr_text(w, ev, "xmlns", XMLNS);
    eg_sub(w, ev, 0, EG_T_BINXML, 0);
    const eg_template *t = eg_template_new(w, NULL, ev);
    eg_node *ud = eg_elem(w, "UserData");
    eg_node *lc = eg_child_elem(w, ud, "LogFileCleared");
    eg_text(w, eg_child_elem(w, lc, "SubjectUserName"), "bob");
    eg_fragment f = {.root = ud};
    eg_value v = eg_val_binxml(w, &f);
    assert_int_equal(eg_add_record(w, 1, base_filetime(), t, &v, 1, NULL), PS_OK);
    const char *path = fixture_path("nested_plain");
    assert_int_equal(eg_writer_finish(w, path, NULL), PS_OK);
    eg_writer_free(w);

    const char *expected =
        EVENT_OPEN "\"UserData\":{\"LogFileCleared\":{\"SubjectUserName\":\"bob\"}}}}";
    capture c;
    dump_file(path, 0, &c);
    assert_int_equal(c.rc, PS_OK);
    expect_lines("nested_plain", &c, &expected, 1);
    capture_free(&c);
}

/* CDATA, character and entity references and a processing instruction:
 * the record must decode; the XML rendering shows them as written. */
static void test_special_tokens(void **state)
{
    (void)state;
    eg_writer *w = eg_writer_new();
    eg_node *ev = eg_elem(w, "Event");
    eg_attr_text(w, ev, "xmlns", XMLNS);
    eg_node *ed = eg_child_elem(w, ev, "EventData");
    eg_node *d = eg_child_elem(w, ed, "Data");
    eg_attr_text(w, d, "Name", "Ref");
    eg_text(w, d, "x");
    eg_entityref(w, d, "lt");
    eg_charref(w, d, 65);
    d = eg_child_elem(w, ed, "Data");
    eg_attr_text(w, d, "Name", "Cdata");
    eg_cdata(w, d, "<raw & text>");
    eg_node *a = eg_attr(w, eg_child_elem(w, ed, "Attr"), "Value");
    eg_text(w, a, "p");
    eg_entityref(w, a, "amp");
    eg_text(w, a, "q");
    eg_pi(w, ed, "xml-stylesheet", "href=\"x.xsl\"");
    assert_int_equal(eg_add_record_tree(w, 1, base_filetime(), ev, NULL), PS_OK);
    const char *path = fixture_path("special_tokens");
    assert_int_equal(eg_writer_finish(w, path, NULL), PS_OK);
    eg_writer_free(w);

    capture c;
    dump_file(path, 0, &c);
    assert_int_equal(c.rc, PS_OK);
    assert_int_equal(c.stats.records, 1);
    /* evtx_dump resolves references in JSON text. */
    const char *expected = EVENT_OPEN "\"EventData\":{\"Ref\":\"x<A\",\"Cdata\":\"<raw & text>\","
                                      "\"Attr\":{\"#attributes\":{\"Value\":\"p&q\"}}}}}";
    expect_lines("special_tokens", &c, &expected, 1);
    capture_free(&c);
}

/* ------------------------------------------------------ damaged files
 * The base file: records 1-3 in chunk 0, 4-6 in chunk 1, 7-9 in chunk 2.
 * `special` (if set) replaces record 5 with a hostile one. */

typedef void (*special_fn)(story *s, uint64_t id);

static void build_damaged(const char *path, uint64_t damaged_id, unsigned rec_damage,
                          special_fn special, const eg_damage *file_damage)
{
    story s;
    story_init(&s);
    for (uint64_t id = 1; id <= 9; id++) {
        eg_record_opts o = {0};
        o.new_chunk = id == 4 || id == 7;
        if (id == damaged_id)
            o.damage = rec_damage;
        if (special && id == 5)
            special(&s, id);
        else
            story_add(&s, id, &o);
    }
    assert_int_equal(eg_chunk_count(s.w), 3);
    story_finish(&s, path, file_damage);
}

/* Dump `path`; every record in `intact` must come out exactly, and at
 * least one diagnostic must be reported unless `quiet_ok`. */
static void check_damaged(const char *fixture, const char *path, const uint64_t *intact, int n,
                          int quiet_ok)
{
    capture c;
    dump_file(path, 0, &c);
    char **exp = story_expected_list(intact, n);
    expect_contains(fixture, &c, (const char *const *)exp, n);
    if (!quiet_ok && c.ndiags == 0)
        fail_msg("%s: no diagnostic reported", fixture);
    free_list(exp, n);
    capture_free(&c);
}

static const uint64_t ALL[] = {1, 2, 3, 4, 5, 6, 7, 8, 9};

static void damaged_file_level_q(const char *name, unsigned flags, unsigned chunk,
                                 uint16_t count, uint64_t truncate_at, const uint64_t *intact,
                                 int n, int quiet_ok)
{
    eg_damage d = {0};
    d.flags = flags;
    d.chunk_index = chunk;
    d.chunk_count_value = count;
    d.truncate_at = truncate_at;
    const char *path = fixture_path(name);
    build_damaged(path, 0, 0, NULL, &d);
    check_damaged(name, path, intact, n, quiet_ok);
}

static void damaged_file_level(const char *name, unsigned flags, unsigned chunk, uint16_t count,
                               uint64_t truncate_at, const uint64_t *intact, int n)
{
    damaged_file_level_q(name, flags, chunk, count, truncate_at, intact, n, 0);
}

static void test_damage_header_crc(void **state)
{
    (void)state;
    damaged_file_level("dmg_header_crc", EG_DMG_HEADER_CRC, 0, 0, 0, ALL, 9);
}

static void test_damage_dirty(void **state)
{
    (void)state;
    damaged_file_level("dmg_dirty", EG_DMG_DIRTY, 0, 0, 0, ALL, 9);
}

static void test_damage_chunk_count_small(void **state)
{
    (void)state;
    damaged_file_level("dmg_chunk_count_1", EG_DMG_CHUNK_COUNT, 0, 1, 0, ALL, 9);
}

static void test_damage_chunk_count_zero(void **state)
{
    (void)state;
    damaged_file_level("dmg_chunk_count_0", EG_DMG_CHUNK_COUNT, 0, 0, 0, ALL, 9);
}

static void test_damage_first_gt_last(void **state)
{
    (void)state;
    damaged_file_level("dmg_first_gt_last", EG_DMG_FIRST_GT_LAST, 0, 0, 0, ALL, 9);
}

static void test_damage_truncated(void **state)
{
    (void)state;
    static const uint64_t intact[] = {1, 2, 3, 4, 5, 6};
    /* Cut inside chunk 2's header: chunks 0 and 1 are whole. */
    damaged_file_level("dmg_truncated", EG_DMG_TRUNCATE, 0, 0,
                       EG_FILE_HEADER_SIZE + 2 * (uint64_t)EG_CHUNK_SIZE + 300, intact, 6);
}

static const uint64_t ZERO_CHUNK_INTACT[] = {1, 2, 3, 7, 8, 9};

static void test_damage_zero_chunk(void **state)
{
    (void)state;
    damaged_file_level_q("dmg_zero_chunk", EG_DMG_ZERO_CHUNK, 1, 0, 0, ZERO_CHUNK_INTACT, 6, 1);
}

/* Pending: the decoder skips an all-zero chunk between live ones silently
 * (as omerbenamram does); the fixture brief asks for a diagnostic. */
static void test_damage_zero_chunk_diag(void **state)
{
    (void)state;
    damaged_file_level("dmg_zero_chunk_diag", EG_DMG_ZERO_CHUNK, 1, 0, 0, ZERO_CHUNK_INTACT, 6);
}

static void test_damage_chunk_magic(void **state)
{
    (void)state;
    static const uint64_t intact[] = {1, 2, 3, 7, 8, 9};
    damaged_file_level("dmg_chunk_magic", EG_DMG_CHUNK_MAGIC, 1, 0, 0, intact, 6);
}

static void test_damage_chunk_header_crc(void **state)
{
    (void)state;
    damaged_file_level("dmg_chunk_header_crc", EG_DMG_CHUNK_HEADER_CRC, 1, 0, 0, ALL, 9);
}

static void test_damage_records_crc(void **state)
{
    (void)state;
    damaged_file_level("dmg_records_crc", EG_DMG_RECORDS_CRC, 1, 0, 0, ALL, 9);
}

static void test_damage_free_space(void **state)
{
    (void)state;
    damaged_file_level("dmg_free_space", EG_DMG_FREE_SPACE, 1, 0, 0, ALL, 9);
}

static void test_damage_size_mismatch(void **state)
{
    (void)state;
    static const uint64_t intact[] = {1, 2, 3, 4, 6, 7, 8, 9};
    const char *path = fixture_path("dmg_size_mismatch");
    build_damaged(path, 5, EG_REC_SIZE_MISMATCH, NULL, NULL);
    check_damaged("dmg_size_mismatch", path, intact, 8, 0);
}

static void test_damage_size_past_chunk(void **state)
{
    (void)state;
    /* Record 6 ends chunk 1, so nothing after it depends on its size. */
    static const uint64_t intact[] = {1, 2, 3, 4, 5, 7, 8, 9};
    const char *path = fixture_path("dmg_size_past_chunk");
    build_damaged(path, 6, EG_REC_SIZE_PAST_CHUNK, NULL, NULL);
    check_damaged("dmg_size_past_chunk", path, intact, 8, 0);
}

static void test_damage_bad_signature(void **state)
{
    (void)state;
    static const uint64_t intact[] = {1, 2, 3, 4, 7, 8, 9};
    const char *path = fixture_path("dmg_bad_signature");
    build_damaged(path, 5, EG_REC_BAD_SIGNATURE, NULL, NULL);
    check_damaged("dmg_bad_signature", path, intact, 7, 0);
}

/* Record 5: template-less, with its first name replaced by a reference
 * beyond the chunk. */
static void special_bad_name(story *s, uint64_t id)
{
    eg_record_opts o = {.damage = EG_REC_BAD_NAME_OFFSET};
    assert_int_equal(eg_add_record_tree(s->w, id, story_time(id),
                                        plain_event(s->w, "1", "x"), &o), PS_OK);
}

static void test_damage_bad_name_offset(void **state)
{
    (void)state;
    static const uint64_t intact[] = {1, 2, 3, 4, 6, 7, 8, 9};
    const char *path = fixture_path("dmg_bad_name_offset");
    build_damaged(path, 0, 0, special_bad_name, NULL);
    check_damaged("dmg_bad_name_offset", path, intact, 8, 0);
}

static void test_damage_bad_template_offset(void **state)
{
    (void)state;
    static const uint64_t intact[] = {1, 2, 3, 4, 6, 7, 8, 9};
    const char *path = fixture_path("dmg_bad_template_offset");
    /* Record 5 is not the first of its chunk, so its definition is a
     * back-reference anyway: only the offset changes. */
    build_damaged(path, 5, EG_REC_BAD_TEMPLATE_OFFSET, NULL, NULL);
    check_damaged("dmg_bad_template_offset", path, intact, 8, 0);
}

static void special_loop(story *s, uint64_t id)
{
    assert_int_equal(eg_add_record_template_loop(s->w, id, story_time(id), NULL), PS_OK);
}

static void test_damage_template_loop(void **state)
{
    (void)state;
    static const uint64_t intact[] = {1, 2, 3, 4, 6, 7, 8, 9};
    const char *path = fixture_path("dmg_template_loop");
    build_damaged(path, 0, 0, special_loop, NULL);
    check_damaged("dmg_template_loop", path, intact, 8, 0);
}

static void special_deep(story *s, uint64_t id)
{
    eg_value v[17];
    system_values(s, v, 4688, id, eg_val_deep_nesting(s->w, 1000));
    assert_int_equal(eg_add_record(s->w, id, story_time(id), s->system, v, 17, NULL), PS_OK);
}

static void test_damage_deep_nesting(void **state)
{
    (void)state;
    static const uint64_t intact[] = {1, 2, 3, 4, 6, 7, 8, 9};
    const char *path = fixture_path("dmg_deep_nesting");
    build_damaged(path, 0, 0, special_deep, NULL);
    check_damaged("dmg_deep_nesting", path, intact, 8, 0);
}

/* Deleted records in slack: hidden by default, delivered with --recover
 * except copies of live records. */
static void test_slack_records(void **state)
{
    (void)state;
    story s;
    story_init(&s);
    for (uint64_t id = 1; id <= 3; id++)
        story_add(&s, id, NULL);
    eg_record_opts slack = {.damage = EG_REC_SLACK};
    story_add(&s, 2, &slack);    /* an older copy of a live record */
    story_add(&s, 42, &slack);   /* a record that exists nowhere else */
    const char *path = fixture_path("slack");
    story_finish(&s, path, NULL);

    uint64_t live[] = {1, 2, 3};
    char **exp = story_expected_list(live, 3);
    capture c;
    dump_file(path, 0, &c);
    expect_lines("slack", &c, (const char *const *)exp, 3);
    capture_free(&c);
    free_list(exp, 3);

    uint64_t all[] = {1, 2, 3, 42};
    exp = story_expected_list(all, 4);
    dump_file(path, 1, &c);
    expect_lines("slack --recover", &c, (const char *const *)exp, 4);
    assert_int_equal(c.stats.recovered, 1);
    capture_free(&c);
    free_list(exp, 4);
}

/* ------------------------------------------------------------- main */

#define FIXTURE_TEST(fn) cmocka_unit_test(fn)

int main(void)
{
    const struct CMUnitTest passing[] = {
        FIXTURE_TEST(test_story_records),
        FIXTURE_TEST(test_story_many_chunks),
        FIXTURE_TEST(test_story_events),
        FIXTURE_TEST(test_value_types),
        FIXTURE_TEST(test_arrays),
        FIXTURE_TEST(test_template_less),
        FIXTURE_TEST(test_nested_plain_element),
        FIXTURE_TEST(test_special_tokens),
        FIXTURE_TEST(test_damage_header_crc),
        FIXTURE_TEST(test_damage_dirty),
        FIXTURE_TEST(test_damage_chunk_count_small),
        FIXTURE_TEST(test_damage_chunk_count_zero),
        FIXTURE_TEST(test_damage_first_gt_last),
        FIXTURE_TEST(test_damage_truncated),
        FIXTURE_TEST(test_damage_zero_chunk),
        FIXTURE_TEST(test_damage_chunk_magic),
        FIXTURE_TEST(test_damage_chunk_header_crc),
        FIXTURE_TEST(test_damage_records_crc),
        FIXTURE_TEST(test_damage_free_space),
        FIXTURE_TEST(test_damage_size_mismatch),
        FIXTURE_TEST(test_damage_size_past_chunk),
        FIXTURE_TEST(test_damage_bad_signature),
        FIXTURE_TEST(test_damage_bad_name_offset),
        FIXTURE_TEST(test_damage_bad_template_offset),
        FIXTURE_TEST(test_damage_template_loop),
        FIXTURE_TEST(test_damage_deep_nesting),
        FIXTURE_TEST(test_slack_records),
        FIXTURE_TEST(test_damage_zero_chunk_diag),
    };
    int failed = cmocka_run_group_tests_name("dump_fixtures", passing, setup_dir, teardown_dir);
    return failed ? 1 : 0;
}
