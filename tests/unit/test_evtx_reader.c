/*
 * The EVTX run driver: output identical whatever the thread count, JSON and
 * JSONL outputs that parse, directory walks that skip what is not an EVTX
 * file (symlink loops, FIFOs), and callbacks that stop a run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "evtxgen/evtxgen.h"
#include "plainsight/evtx.h"
#include "plainsight/jsonl.h"
#include "util/buf.h"

#define NRECORDS 1500 /* enough for several chunks */

static char tmpdir[256];

static const char *in_tmp(const char *name)
{
    static char path[2][512];
    static int k;
    k ^= 1;
    snprintf(path[k], sizeof path[k], "%s/%s", tmpdir, name);
    return path[k];
}

/* A file of NRECORDS 4688-like records with one template and a nested
 * EventData instance, spread over several chunks by the writer. */
static void write_sample(const char *path, uint64_t first_id)
{
    eg_writer *w = eg_writer_new();
    eg_node *ev = eg_elem(w, "Event");
    eg_attr_text(w, ev, "xmlns", "http://schemas.microsoft.com/win/2004/08/events/event");
    eg_node *sys = eg_child_elem(w, ev, "System");
    eg_sub(w, eg_child_elem(w, sys, "EventID"), 0, EG_T_UINT16, 0);
    eg_sub(w, eg_child_elem(w, sys, "EventRecordID"), 1, EG_T_UINT64, 0);
    eg_sub(w, eg_child_elem(w, sys, "Computer"), 2, EG_T_STRING, 0);
    eg_node *data = eg_child_elem(w, ev, "EventData");
    eg_node *d = eg_child_elem(w, data, "Data");
    eg_attr_text(w, d, "Name", "CommandLine");
    eg_sub(w, d, 3, EG_T_STRING, 0);
    const eg_template *t = eg_template_new(w, NULL, ev);
    for (uint64_t i = 0; i < NRECORDS; i++) {
        char cmd[96];
        snprintf(cmd, sizeof cmd, "cmd.exe /c echo \"%llu\" <&> \\\\host\\share",
                 (unsigned long long)i);
        eg_value v[4] = {eg_val_u16(w, 4688), eg_val_u64(w, first_id + i),
                         eg_val_string(w, "HOST-A"), eg_val_string(w, cmd)};
        eg_add_record(w, first_id + i, 133000000000000000ull + i * 10000000ull, t, v, 4, NULL);
    }
    assert_int_equal(eg_writer_finish(w, path, NULL), PS_OK);
    eg_writer_free(w);
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ps_reader_XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    write_sample(in_tmp("a.evtx"), 1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static int collect(void *ctx, const void *data, size_t len)
{
    ps_buf_add(ctx, data, len);
    return 0;
}

static ps_evtx_stats dump(const char *path, ps_format format, unsigned threads, ps_buf *out)
{
    ps_evtx_options opt = {.threads = threads};
    ps_evtx_stats st;
    const char *paths[] = {path};
    ps_buf_init(out);
    assert_int_equal(ps_evtx_dump(paths, 1, format, &opt, collect, out, &st), PS_OK);
    return st;
}

static void test_threads_do_not_change_output(void **state)
{
    (void)state;
    for (int f = PS_FORMAT_JSONL; f <= PS_FORMAT_XML; f++) {
        ps_buf one, many;
        ps_evtx_stats s1 = dump(in_tmp("a.evtx"), (ps_format)f, 1, &one);
        ps_evtx_stats s4 = dump(in_tmp("a.evtx"), (ps_format)f, 4, &many);
        assert_true(s1.chunks > 1);
        assert_int_equal(s1.records, NRECORDS);
        assert_int_equal(s4.records, NRECORDS);
        assert_int_equal(one.len, many.len);
        assert_memory_equal(one.data, many.data, one.len);
        ps_buf_free(&one);
        ps_buf_free(&many);
    }
}

/* Chunks of very different cost (many short records, or few records of
 * long strings) so that workers finish out of order and wait on the ring of
 * output slots in every pattern: output must stay that of one thread, and
 * no run may hang (a slot taken by a worker a ring ahead once did). */
static void test_uneven_chunks_with_many_threads(void **state)
{
    (void)state;
    eg_writer *w = eg_writer_new();
    eg_node *ev = eg_elem(w, "Event");
    eg_node *sys = eg_child_elem(w, ev, "System");
    eg_sub(w, eg_child_elem(w, sys, "EventRecordID"), 0, EG_T_UINT64, 0);
    eg_node *d = eg_child_elem(w, eg_child_elem(w, ev, "EventData"), "Data");
    eg_attr_text(w, d, "Name", "Text");
    eg_sub(w, d, 1, EG_T_STRING, 0);
    const eg_template *t = eg_template_new(w, NULL, ev);
    static char big[12000];
    memset(big, 'x', sizeof big - 1);
    uint64_t id = 1;
    for (unsigned chunk = 0; chunk < 48; chunk++) {
        int heavy = chunk % 3 != 0;
        unsigned n = heavy ? 4 : 400;
        for (unsigned i = 0; i < n; i++, id++) {
            eg_value v[2] = {eg_val_u64(w, id), eg_val_string(w, heavy ? big : "short")};
            eg_record_opts opts = {.new_chunk = i == 0};
            assert_int_equal(eg_add_record(w, id, 133000000000000000ull, t, v, 2, &opts), PS_OK);
        }
    }
    assert_int_equal(eg_writer_finish(w, in_tmp("uneven.evtx"), NULL), PS_OK);
    eg_writer_free(w);
    ps_buf one;
    ps_evtx_stats s1 = dump(in_tmp("uneven.evtx"), PS_FORMAT_JSONL, 1, &one);
    assert_int_equal(s1.records, id - 1);
    for (unsigned round = 0; round < 12; round++) {
        unsigned threads = 2 + round % 7;
        ps_buf many;
        dump(in_tmp("uneven.evtx"), PS_FORMAT_JSONL, threads, &many);
        assert_int_equal(one.len, many.len);
        assert_memory_equal(one.data, many.data, one.len);
        ps_buf_free(&many);
    }
    ps_buf_free(&one);
}

static void test_json_outputs_parse(void **state)
{
    (void)state;
    ps_buf out;
    dump(in_tmp("a.evtx"), PS_FORMAT_JSON, 2, &out);
    json_error_t err;
    json_t *all = json_loadb(out.data, out.len, 0, &err);
    assert_non_null(all);
    assert_true(json_is_array(all));
    assert_int_equal(json_array_size(all), NRECORDS);
    json_t *cmd = json_object_get(
        json_object_get(json_object_get(json_array_get(all, 7), "Event"), "EventData"),
        "CommandLine");
    assert_string_equal(json_string_value(cmd), "cmd.exe /c echo \"7\" <&> \\\\host\\share");
    json_decref(all);
    ps_buf_free(&out);

    dump(in_tmp("a.evtx"), PS_FORMAT_JSONL, 2, &out);
    size_t lines = 0;
    for (char *p = out.data, *end = out.data + out.len; p < end; lines++) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        assert_non_null(nl);
        json_t *one = json_loadb(p, (size_t)(nl - p), 0, &err);
        assert_non_null(one);
        json_decref(one);
        p = nl + 1;
    }
    assert_int_equal(lines, NRECORDS);
    ps_buf_free(&out);
}

static void test_directory_walk_skips_non_evtx(void **state)
{
    (void)state;
    assert_int_equal(mkdir(in_tmp("tree"), 0755), 0);
    assert_int_equal(mkdir(in_tmp("tree/sub"), 0755), 0);
    write_sample(in_tmp("tree/sub/B.EVTX"), 100000);
    assert_int_equal(symlink("..", in_tmp("tree/sub/loop")), 0);
    assert_int_equal(symlink("../../a.evtx", in_tmp("tree/link.evtx")), 0);
    assert_int_equal(mkfifo(in_tmp("tree/pipe.evtx"), 0644), 0);
    FILE *f = fopen(in_tmp("tree/notes.txt"), "w");
    assert_non_null(f);
    fputs("not a log\n", f);
    fclose(f);
    ps_buf out;
    ps_evtx_stats st = dump(in_tmp("tree"), PS_FORMAT_JSONL, 2, &out);
    assert_int_equal(st.files, 1);  /* links and the FIFO are not followed */
    assert_int_equal(st.files_failed, 0);
    assert_int_equal(st.records, NRECORDS);
    ps_buf_free(&out);
}

static void test_not_evtx_is_reported(void **state)
{
    (void)state;
    FILE *f = fopen(in_tmp("fake.evtx"), "w");
    assert_non_null(f);
    fputs("MZ this is not an event log", f);
    fclose(f);
    ps_buf out;
    ps_evtx_options opt = {.threads = 1};
    ps_evtx_stats st;
    char *fake = strdup(in_tmp("fake.evtx")), *missing = strdup(in_tmp("missing.evtx"));
    const char *paths[] = {fake, missing, in_tmp("a.evtx")};
    ps_buf_init(&out);
    assert_int_equal(ps_evtx_dump(paths, 3, PS_FORMAT_JSONL, &opt, collect, &out, &st), PS_OK);
    free(fake);
    free(missing);
    assert_int_equal(st.files, 1);
    assert_int_equal(st.files_failed, 2);
    assert_int_equal(st.records, NRECORDS);
    ps_buf_free(&out);
}

static int keep_time(void *ctx, unsigned worker, const ps_event *ev)
{
    (void)worker;
    *(uint64_t *)ctx = ev->time_filetime;
    return 0;
}

/* A template-less record (an exported or forwarded log) holds TimeCreated
 * as text: that is the event's time, not the record header's write time
 * (as hunting its JSON export gives it). */
static void test_event_time_from_text(void **state)
{
    (void)state;
    eg_writer *w = eg_writer_new();
    eg_node *ev = eg_elem(w, "Event");
    eg_node *sys = eg_child_elem(w, ev, "System");
    eg_text(w, eg_child_elem(w, sys, "EventID"), "4104");
    eg_attr_text(w, eg_child_elem(w, sys, "TimeCreated"), "SystemTime",
                 "2021-06-03T18:34:12.672354100Z");
    uint64_t written = 133000000000000000ull;
    assert_int_equal(eg_add_record_tree(w, 1, written, ev, NULL), PS_OK);
    assert_int_equal(eg_writer_finish(w, in_tmp("text-time.evtx"), NULL), PS_OK);
    eg_writer_free(w);
    uint64_t got = 0, want = 0;
    const char *paths[] = {in_tmp("text-time.evtx")};
    ps_evtx_options opt = {.threads = 1};
    assert_int_equal(ps_evtx_events(paths, 1, &opt, keep_time, &got, NULL), PS_OK);
    assert_int_equal(ps_time_parse("2021-06-03T18:34:12.672354100Z", &want, NULL), 0);
    assert_true(got == want);
    assert_true(got != written);
}

static int stop_after_ten(void *ctx, unsigned worker, const ps_event *ev)
{
    (void)worker;
    (void)ev;
    int *seen = ctx;
    return ++*seen >= 10;
}

static void test_callback_stops_the_run(void **state)
{
    (void)state;
    int seen = 0;
    ps_evtx_options opt = {.threads = 1};
    const char *paths[] = {in_tmp("a.evtx")};
    assert_int_equal(ps_evtx_events(paths, 1, &opt, stop_after_ten, &seen, NULL), PS_ERR_STOP);
    assert_int_equal(seen, 10);
}

/* What a deferring run's consumer sees (see ps_evtx_options.defer_values). */
typedef struct deferred_seen {
    unsigned events;
    unsigned deferred;       /* fields whose value was NULL on arrival */
    unsigned wrong;          /* a deferred field that was not typed, or NULL after settling */
    ps_buf all;              /* every field, path=value, after settling */
} deferred_seen;

static int keep_fields(void *ctx, unsigned worker, const ps_event *ev)
{
    (void)worker;
    deferred_seen *s = ctx;
    s->events++;
    for (uint32_t i = 0; i < ev->nfields; i++)
        if (!ev->fields[i].value) {
            s->deferred++;
            s->wrong += !ev->fields[i].typed || !ev->lazy;
        }
    /* The lookup settles the field it finds; ps_event_settle the rest. */
    const ps_field *pid = ps_event_field(ev, "Event.EventData.ProcessId");
    s->wrong += !pid || !pid->value || strcmp(pid->value, "4242") != 0;
    assert_int_equal(ps_event_settle(ev), 0);
    for (uint32_t i = 0; i < ev->nfields; i++) {
        const ps_field *f = &ev->fields[i];
        if (!f->value) {
            s->wrong++;
            continue;
        }
        ps_buf_add(&s->all, f->path, f->path_len);
        ps_buf_addc(&s->all, '=');
        ps_buf_add(&s->all, f->value, f->value_len);
        ps_buf_addc(&s->all, '\n');
    }
    return 0;
}

/* Typed values (numbers, GUIDs, SIDs, times, bytes) left for later are made
 * when first read, and then read exactly as made at once; the event's ID
 * and record number are never left. */
static void test_deferred_values(void **state)
{
    (void)state;
    eg_writer *w = eg_writer_new();
    eg_node *ev = eg_elem(w, "Event");
    eg_node *sys = eg_child_elem(w, ev, "System");
    eg_sub(w, eg_child_elem(w, sys, "EventID"), 0, EG_T_UINT16, 0);
    eg_sub(w, eg_child_elem(w, sys, "EventRecordID"), 1, EG_T_UINT64, 0);
    eg_sub(w, eg_child_elem(w, sys, "Keywords"), 2, EG_T_HEX64, 0);
    eg_node *data = eg_child_elem(w, ev, "EventData");
    static const char *const names[] = {"ProcessId", "ProcessGuid", "UserSid", "Hash",
                                        "CommandLine", "Empty"};
    static const uint8_t types[] = {EG_T_UINT32, EG_T_GUID, EG_T_SID, EG_T_BINARY,
                                    EG_T_STRING, EG_T_BINARY};
    for (int i = 0; i < 6; i++) {
        eg_node *d = eg_child_elem(w, data, "Data");
        eg_attr_text(w, d, "Name", names[i]);
        eg_sub(w, d, (uint16_t)(3 + i), types[i], 0);
    }
    const eg_template *t = eg_template_new(w, NULL, ev);
    for (uint64_t i = 0; i < 300; i++) {
        eg_value v[9] = {eg_val_u16(w, 1), eg_val_u64(w, i + 1),
                         eg_val_hex64(w, 0x8000000000000000ull | i), eg_val_u32(w, 4242),
                         eg_val_guid(w, "00112233-4455-6677-8899-AABBCCDDEEFF"),
                         eg_val_sid(w, "S-1-5-21-1004336348-1177238915-682003330-512"),
                         eg_val_binary(w, "\x01\xfe", 2), eg_val_string(w, "whoami /all"),
                         eg_val_binary(w, "", 0)};
        eg_add_record(w, i + 1, 133000000000000000ull + i, t, v, 9, NULL);
    }
    assert_int_equal(eg_writer_finish(w, in_tmp("typed.evtx"), NULL), PS_OK);
    eg_writer_free(w);
    const char *paths[] = {in_tmp("typed.evtx")};
    deferred_seen now = {0}, later = {0};
    ps_buf_init(&now.all);
    ps_buf_init(&later.all);
    ps_evtx_options opt = {.threads = 1}; /* keep_fields is not thread-safe */
    assert_int_equal(ps_evtx_events(paths, 1, &opt, keep_fields, &now, NULL), PS_OK);
    opt.defer_values = 1;
    assert_int_equal(ps_evtx_events(paths, 1, &opt, keep_fields, &later, NULL), PS_OK);
    assert_int_equal(now.events, 300);
    assert_int_equal(later.events, 300);
    assert_int_equal(now.deferred, 0);
    assert_int_equal(later.deferred, 300 * 5); /* Keywords, ProcessId, Guid, Sid, Hash */
    assert_int_equal(now.wrong + later.wrong, 0);
    assert_false(now.all.failed || later.all.failed);
    assert_true(now.all.len == later.all.len && !memcmp(now.all.data, later.all.data, now.all.len));
    assert_non_null(strstr(later.all.data, "Event.EventData.UserSid=S-1-5-21-1004336348"));
    ps_buf_free(&now.all);
    ps_buf_free(&later.all);
}

/* An array expands its element once per item: 8,000 <Item> siblings must
 * get the keys Item, Item_1, ... Item_7999 (and quickly: the key set is
 * linear in the number of siblings). */
static void test_many_duplicate_keys(void **state)
{
    (void)state;
    enum { N = 8000 };
    eg_writer *w = eg_writer_new();
    eg_node *ev = eg_elem(w, "Event");
    eg_node *list = eg_child_elem(w, eg_child_elem(w, ev, "UserData"), "List");
    eg_sub(w, eg_child_elem(w, list, "Item"), 0, EG_T_ARRAY | EG_T_STRING, 0);
    const eg_template *t = eg_template_new(w, NULL, ev);
    static const char *items[N];
    for (int i = 0; i < N; i++)
        items[i] = i == N - 1 ? "last" : "x";
    eg_value v[1] = {eg_val_string_array(w, items, N)};
    eg_add_record(w, 1, 133000000000000000ull, t, v, 1, NULL);
    assert_int_equal(eg_writer_finish(w, in_tmp("dups.evtx"), NULL), PS_OK);
    eg_writer_free(w);
    ps_buf out;
    dump(in_tmp("dups.evtx"), PS_FORMAT_JSONL, 1, &out);
    ps_buf_addc(&out, 0);
    assert_non_null(strstr(out.data, "{\"Item\":\"x\",\"Item_1\":\"x\","));
    assert_non_null(strstr(out.data, ",\"Item_7999\":\"last\"}"));
    ps_buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threads_do_not_change_output),
        cmocka_unit_test(test_uneven_chunks_with_many_threads),
        cmocka_unit_test(test_event_time_from_text),
        cmocka_unit_test(test_json_outputs_parse),
        cmocka_unit_test(test_directory_walk_skips_non_evtx),
        cmocka_unit_test(test_not_evtx_is_reported),
        cmocka_unit_test(test_callback_stops_the_run),
        cmocka_unit_test(test_many_duplicate_keys),
        cmocka_unit_test(test_deferred_values),
    };
    return cmocka_run_group_tests_name("evtx_reader", tests, setup, teardown);
}
