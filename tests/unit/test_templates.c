/*
 * Compiled templates (src/evtx/template.c): records in the regular shape are
 * rendered by the fast lane, and byte for byte as the slow lane renders
 * them; every shape the fast lane cannot express falls back to the slow
 * lane. Fixtures are built with evtxgen; with ../shared/corpus, every record
 * of every EVTX file there is checked too.
 */
#include <dirent.h>
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

#include "evtxgen/evtxgen.h"
#include "plainsight/evtx.h"
#include "unit/lanes.h"

#define FT 133590312000000000ull /* 2024-05-01 */
#define XMLNS "http://schemas.microsoft.com/win/2004/08/events/event"

/* ------------------------------------------------------------ helpers */

typedef struct result {
    lanes l;
    tpl_stats stats;
} result;

/* Both lanes over every chunk of a file image, with one store for all;
 * `recover` also carves records from slack. */
static void check_image_recover(const uint8_t *img, size_t len, result *r, int recover)
{
    chunk_decoder dec;
    chunk_decoder_init(&dec, recover, NULL, NULL);
    dec.templates = tpl_store_new();
    assert_non_null(dec.templates);
    lanes_init(&r->l, &dec);
    for (size_t off = EG_FILE_HEADER_SIZE; off + EG_CHUNK_HEADER_SIZE <= len;
         off += EG_CHUNK_SIZE) {
        size_t n = len - off < EG_CHUNK_SIZE ? len - off : EG_CHUNK_SIZE;
        chunk_result res;
        chunk_decode(&dec, img + off, (uint32_t)n, off, lanes_on_record, &r->l, &res);
    }
    tpl_store_stats(dec.templates, &r->stats);
    tpl_store_free(dec.templates);
    chunk_decoder_free(&dec);
}

static void check_image(const uint8_t *img, size_t len, result *r)
{
    check_image_recover(img, len, r, 0);
}

static void result_free(result *r)
{
    lanes_free(&r->l);
}

/* The whole file through ps_evtx_dump (fast lane where it can), as text. */
static int collect(void *ctx, const void *p, size_t n)
{
    ps_buf_add(ctx, p, n);
    return 0;
}

static const char *dump_image(eg_writer *w, ps_buf *out, ps_format format)
{
    char path[] = "/tmp/ps_templates_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const uint8_t *img;
    size_t len;
    assert_int_equal(eg_writer_image(w, NULL, &img, &len), PS_OK);
    assert_int_equal(write(fd, img, len), (ssize_t)len);
    close(fd);
    ps_buf_init(out);
    ps_evtx_options opt = {.threads = 1};
    const char *paths[] = {path};
    assert_int_equal(ps_evtx_dump(paths, 1, format, &opt, collect, out, NULL), PS_OK);
    unlink(path);
    return ps_buf_cstr(out);
}

static void check_writer(eg_writer *w, result *r)
{
    const uint8_t *img;
    size_t len;
    assert_int_equal(eg_writer_image(w, NULL, &img, &len), PS_OK);
    memset(r, 0, sizeof *r);
    check_image(img, len, r);
    if (r->l.mismatches)
        fail_msg("fast and slow lanes differ at %s", r->l.first_mismatch);
}

/* An outer template shaped like Windows' System template: optional
 * attributes (Correlation ActivityID, Security UserID) and the event's data
 * as nested BinXML in slot 10. */
static const eg_template *system_template(eg_writer *w, const char *guid)
{
    eg_node *ev = eg_elem(w, "Event");
    eg_attr_text(w, ev, "xmlns", XMLNS);
    eg_node *sys = eg_child_elem(w, ev, "System");
    eg_node *prov = eg_child_elem(w, sys, "Provider");
    eg_attr_text(w, prov, "Name", "Microsoft-Windows-Security-Auditing");
    eg_attr_sub(w, prov, "Guid", 0, EG_T_GUID, 1);
    eg_sub(w, eg_child_elem(w, sys, "EventID"), 1, EG_T_UINT16, 0);
    eg_attr_sub(w, eg_child_elem(w, sys, "TimeCreated"), "SystemTime", 2, EG_T_FILETIME, 1);
    eg_sub(w, eg_child_elem(w, sys, "EventRecordID"), 3, EG_T_UINT64, 0);
    eg_attr_sub(w, eg_child_elem(w, sys, "Correlation"), "ActivityID", 4, EG_T_GUID, 1);
    eg_node *exec = eg_child_elem(w, sys, "Execution");
    eg_attr_sub(w, exec, "ProcessID", 5, EG_T_UINT32, 1);
    eg_attr_sub(w, exec, "ThreadID", 6, EG_T_UINT32, 1);
    eg_sub(w, eg_child_elem(w, sys, "Channel"), 7, EG_T_STRING, 0);
    eg_sub(w, eg_child_elem(w, sys, "Computer"), 8, EG_T_STRING, 0);
    eg_attr_sub(w, eg_child_elem(w, sys, "Security"), "UserID", 9, EG_T_SID, 1);
    eg_sub(w, ev, 10, EG_T_BINXML, 0);
    return eg_template_new(w, guid, ev);
}

/* EventData with named Data items, one per slot, of the given types. */
static const eg_template *data_template(eg_writer *w, const char *guid, const char *const *names,
                                        const uint8_t *types, size_t n)
{
    eg_node *ed = eg_elem(w, "EventData");
    for (size_t i = 0; i < n; i++) {
        eg_node *d = eg_child_elem(w, ed, "Data");
        eg_attr_text(w, d, "Name", names[i]);
        eg_sub(w, d, (uint16_t)i, types[i], 0);
    }
    return eg_template_new(w, guid, ed);
}

/* Values of the system template around a nested fragment. */
static void system_values(eg_writer *w, eg_value *v, uint64_t id, int activity, int user,
                          const eg_fragment *nested)
{
    v[0] = eg_val_guid(w, "54849625-5478-4994-A5BA-3E3B0328C30D");
    v[1] = eg_val_u16(w, 4688);
    v[2] = eg_val_filetime(w, FT + id * 10000000ull + 1234567);
    v[3] = eg_val_u64(w, id);
    v[4] = activity ? eg_val_guid(w, "{0D4CC2F8-9A3E-4C8B-9B5B-1F2E3D4C5B6A}") : eg_val_null();
    v[5] = eg_val_u32(w, 4);
    v[6] = eg_val_u32(w, 112);
    v[7] = eg_val_string(w, "Security");
    v[8] = eg_val_string(w, "WS01.corp.example");
    v[9] = user ? eg_val_sid(w, "S-1-5-21-1004336348-1177238915-682003330-512") : eg_val_null();
    v[10] = eg_val_binxml(w, nested);
}

/* A record of the system template around `nested`. */
static void add_event(eg_writer *w, const eg_template *sys, uint64_t id, int activity, int user,
                      const eg_fragment *nested, const eg_record_opts *opts)
{
    eg_value v[11];
    system_values(w, v, id, activity, user, nested);
    assert_int_equal(eg_add_record(w, id, FT, sys, v, 11, opts), PS_OK);
}

/* EventData with one string item "A". */
static const eg_template *one_string_data(eg_writer *w)
{
    static const char *const names[] = {"A"};
    static const uint8_t types[] = {EG_T_STRING};
    return data_template(w, NULL, names, types, 1);
}

/* ------------------------------------------------------------ tests */

/* Value types, escaping and NULL combinations: all in the fast lane. */
static void test_regular_records_take_the_fast_lane(void **state)
{
    (void)state;
    eg_writer *w = eg_writer_new();
    const eg_template *sys = system_template(w, NULL);
    static const char *const names[] = {"SubjectUserName", "CommandLine", "NewProcessId",
                                        "Elevated", "Delta", "Ratio", "When", "Key",
                                        "Raw", "Small", "Ansi", "Empty"};
    static const uint8_t types[] = {EG_T_STRING, EG_T_STRING, EG_T_HEX64, EG_T_BOOL,
                                    EG_T_INT32, EG_T_REAL64, EG_T_SYSTIME, EG_T_GUID,
                                    EG_T_BINARY, EG_T_INT8, EG_T_ANSI, EG_T_STRING};
    const eg_template *data = data_template(w, NULL, names, types, 12);
    static const char *const texts[] = {
        "plain", "quote \" back\\slash \n tab\t", "  padded\t ", "caf\xc3\xa9 \xf0\x9f\x94\x91",
        "ctl \x01\x1f end", "", "   ", "<b>&amp;</b>"};
    for (unsigned i = 0; i < 16; i++) {
        eg_value dv[12] = {
            eg_val_string(w, texts[i % 8]), eg_val_string(w, texts[(i + 3) % 8]),
            eg_val_hex64(w, 0x1f0ull << i), eg_val_bool(w, (int32_t)(i % 3)),
            eg_val_int(w, EG_T_INT32, -(int64_t)i * 1000), eg_val_real64(w, i / 3.0),
            eg_val_systime(w, 2024, 5, 1, 10, (int)i, 7, 250),
            eg_val_guid(w, "00112233-4455-6677-8899-AABBCCDDEEFF"),
            eg_val_binary(w, "\x00\xff\x10", 3), eg_val_int(w, EG_T_INT8, -5),
            eg_val_ansi(w, "ansi \x80 text"), i % 2 ? eg_val_null() : eg_val_string(w, "x")};
        eg_fragment nested = {.tmpl = data, .values = dv, .nvalues = 12, .bare = i % 2};
        add_event(w, sys, i + 1, i & 1, i & 2, &nested, NULL);
    }
    result r;
    check_writer(w, &r);
    assert_int_equal(r.l.records, 16);
    assert_int_equal(r.l.fast_compact, 16);
    assert_int_equal(r.l.fast_pretty, 16);
    assert_int_equal(r.l.fast_model, 16);
    assert_int_equal(r.l.deferred, 8); /* every other model defers its typed values */
    assert_int_equal(r.l.fast_xml, 16);
    assert_int_equal(r.stats.classes, 2);
    /* Every fast event model has a layout; the NULL patterns make several. */
    assert_int_equal(r.l.with_layout, 16);
    assert_true(r.l.nlayouts >= 4);
    /* Two optional attributes NULL or not, and nested data with a NULL or a
     * string in its last slot: each combination is its own variant, in
     * compact and in indented form. */
    assert_true(r.stats.variants >= 16);
    assert_int_equal(r.stats.unsupported, 0);
    result_free(&r);

    /* And end to end, with the key layout of evtx_dump. */
    ps_buf out;
    const char *text = dump_image(w, &out, PS_FORMAT_JSONL);
    assert_non_null(strstr(text, "\"Correlation\":null"));
    assert_non_null(strstr(text, "\"Correlation\":{\"#attributes\":{\"ActivityID\":"
                                 "\"0D4CC2F8-9A3E-4C8B-9B5B-1F2E3D4C5B6A\"}}"));
    assert_non_null(strstr(text, "\"CommandLine\":\"quote \\\" back\\\\slash \\n tab\""));
    assert_non_null(strstr(text, "\"Elevated\":true"));
    assert_non_null(strstr(text, "\"Delta\":-3000"));
    assert_non_null(strstr(text, "\"Empty\":\"\""));
    ps_buf_free(&out);
    eg_writer_free(w);
}

/* Templates reused in later chunks are compiled once per run. */
static void test_compiled_once_across_chunks(void **state)
{
    (void)state;
    eg_writer *w = eg_writer_new();
    const eg_template *sys = system_template(w, NULL);
    const eg_template *data = one_string_data(w);
    for (unsigned i = 0; i < 12; i++) {
        eg_value dv[1] = {eg_val_string(w, "value")};
        eg_fragment nested = {.tmpl = data, .values = dv, .nvalues = 1};
        eg_record_opts opts = {.new_chunk = i % 3 == 0};
        add_event(w, sys, i + 1, 0, 0, &nested, &opts);
    }
    assert_int_equal(eg_chunk_count(w), 4);
    result r;
    check_writer(w, &r);
    assert_int_equal(r.l.fast_compact, 12);
    assert_int_equal(r.stats.classes, 2);
    assert_int_equal(r.l.nlayouts, 1); /* one shape, across chunks */
    assert_int_equal(r.stats.variants, 8); /* 2 templates x compact/indented/model/XML */
    result_free(&r);
    eg_writer_free(w);
}

/* One record of a shape the fast lane cannot express among regular ones:
 * it alone goes to the slow lane, and the output is still exact. */
static void check_one_fallback(eg_writer *w, const eg_template *sys, const eg_fragment *odd,
                               const char *expect)
{
    const eg_template *data = one_string_data(w);
    eg_value dv[1] = {eg_val_string(w, "ok")};
    eg_fragment plain = {.tmpl = data, .values = dv, .nvalues = 1};
    for (unsigned i = 0; i < 3; i++) {
        add_event(w, sys, i + 1, 0, 0, i == 1 ? odd : &plain, NULL);
    }
    result r;
    check_writer(w, &r);
    assert_int_equal(r.l.records, 3);
    assert_int_equal(r.l.fast_compact, 2);
    assert_int_equal(r.l.fast_pretty, 2);
    assert_int_equal(r.l.fast_model, 2);
    /* XML has no keys: only arrays (repeated elements) are beyond it. */
    assert_true(r.l.fast_xml >= 2);
    result_free(&r);
    ps_buf out;
    const char *text = dump_image(w, &out, PS_FORMAT_JSONL);
    if (!strstr(text, expect))
        fail_msg("expected %s in\n%s", expect, text);
    ps_buf_free(&out);
}

static void test_array_in_content_falls_back(void **state)
{
    (void)state;
    eg_writer *w = eg_writer_new();
    const eg_template *sys = system_template(w, NULL);
    static const char *const names[] = {"Items"};
    static const uint8_t types[] = {EG_T_STRING | EG_T_ARRAY};
    const eg_template *arr = data_template(w, NULL, names, types, 1);
    static const char *const items[] = {"one", "two", "three"};
    eg_value dv[1] = {eg_val_string_array(w, items, 3)};
    eg_fragment odd = {.tmpl = arr, .values = dv, .nvalues = 1};
    /* The element repeats per item: duplicate keys get suffixes. */
    check_one_fallback(w, sys, &odd, "\"Items\":\"one\",\"Items_1\":\"two\",\"Items_2\":\"three\"");
    eg_writer_free(w);
}

static void test_data_name_from_value_falls_back(void **state)
{
    (void)state;
    eg_writer *w = eg_writer_new();
    const eg_template *sys = system_template(w, NULL);
    eg_node *ed = eg_elem(w, "EventData");
    eg_node *d = eg_child_elem(w, ed, "Data");
    eg_attr_sub(w, d, "Name", 0, EG_T_STRING, 0);
    eg_sub(w, d, 1, EG_T_STRING, 0);
    const eg_template *named = eg_template_new(w, NULL, ed);
    eg_value dv[2] = {eg_val_string(w, "FromValue"), eg_val_string(w, "v")};
    eg_fragment odd = {.tmpl = named, .values = dv, .nvalues = 2};
    check_one_fallback(w, sys, &odd, "\"EventData\":{\"FromValue\":\"v\"}");
    eg_writer_free(w);
}

static void test_colliding_nested_keys_fall_back(void **state)
{
    (void)state;
    eg_writer *w = eg_writer_new();
    const eg_template *sys = system_template(w, NULL);
    eg_node *again = eg_elem(w, "System");
    eg_sub(w, again, 0, EG_T_STRING, 0);
    const eg_template *clash = eg_template_new(w, NULL, again);
    eg_value dv[1] = {eg_val_string(w, "second")};
    eg_fragment odd = {.tmpl = clash, .values = dv, .nvalues = 1};
    check_one_fallback(w, sys, &odd, "\"System_1\":\"second\"");
    eg_writer_free(w);
}

/* <EventData><Data Name="Outer">%0</Data>%1</EventData> with %1 nested. */
static const eg_template *container_with_nested(eg_writer *w)
{
    eg_node *ed = eg_elem(w, "EventData");
    eg_node *d = eg_child_elem(w, ed, "Data");
    eg_attr_text(w, d, "Name", "Outer");
    eg_sub(w, d, 0, EG_T_STRING, 0);
    eg_sub(w, ed, 1, EG_T_BINXML, 0);
    return eg_template_new(w, NULL, ed);
}

/* Nested <Data> items inside EventData join its Data layout: slow lane. */
static void test_nested_data_inside_eventdata_falls_back(void **state)
{
    (void)state;
    eg_writer *w = eg_writer_new();
    const eg_template *sys = system_template(w, NULL);
    eg_node *item = eg_elem(w, "Data");
    eg_attr_text(w, item, "Name", "Inner");
    eg_sub(w, item, 0, EG_T_STRING, 0);
    const eg_template *inner = eg_template_new(w, NULL, item);
    eg_value iv[1] = {eg_val_string(w, "in")};
    eg_fragment in = {.tmpl = inner, .values = iv, .nvalues = 1, .bare = 1};
    eg_value dv[2] = {eg_val_string(w, "out"), eg_val_binxml(w, &in)};
    eg_fragment odd = {.tmpl = container_with_nested(w), .values = dv, .nvalues = 2};
    check_one_fallback(w, sys, &odd, "\"EventData\":{\"Outer\":\"out\",\"Inner\":\"in\"}");
    eg_writer_free(w);
}

/* Other nested elements there (UserData's usual shape) stay fast. */
static void test_nested_element_inside_eventdata_is_fast(void **state)
{
    (void)state;
    eg_writer *w = eg_writer_new();
    const eg_template *sys = system_template(w, NULL);
    eg_node *lfc = eg_elem(w, "LogFileCleared");
    eg_sub(w, eg_child_elem(w, lfc, "SubjectUserName"), 0, EG_T_STRING, 0);
    const eg_template *inner = eg_template_new(w, NULL, lfc);
    const eg_template *outer = container_with_nested(w);
    for (unsigned i = 0; i < 3; i++) {
        eg_value iv[1] = {eg_val_string(w, "admin")};
        eg_fragment in = {.tmpl = inner, .values = iv, .nvalues = 1, .bare = 1};
        eg_value dv[2] = {eg_val_string(w, "out"), eg_val_binxml(w, &in)};
        eg_fragment nested = {.tmpl = outer, .values = dv, .nvalues = 2};
        add_event(w, sys, i + 1, 0, 0, &nested, NULL);
    }
    result r;
    check_writer(w, &r);
    assert_int_equal(r.l.fast_compact, 3);
    assert_int_equal(r.l.fast_pretty, 3);
    assert_int_equal(r.l.fast_model, 3);
    result_free(&r);
    ps_buf out;
    const char *text = dump_image(w, &out, PS_FORMAT_JSONL);
    assert_non_null(strstr(text, "\"EventData\":{\"Outer\":\"out\",\"LogFileCleared\":"
                                 "{\"SubjectUserName\":\"admin\"}}"));
    ps_buf_free(&out);
    eg_writer_free(w);
}

static void test_template_less_and_damaged_fall_back(void **state)
{
    (void)state;
    eg_writer *w = eg_writer_new();
    const eg_template *sys = system_template(w, NULL);
    const eg_template *data = one_string_data(w);
    eg_node *ev = eg_elem(w, "Event");
    eg_text(w, eg_child_elem(w, eg_child_elem(w, ev, "System"), "EventID"), "4624");
    assert_int_equal(eg_add_record_tree(w, 1, FT, ev, NULL), PS_OK);
    for (unsigned i = 2; i <= 4; i++) {
        eg_value dv[1] = {eg_val_string(w, "a")};
        eg_fragment nested = {.tmpl = data, .values = dv, .nvalues = 1};
        eg_record_opts opts = {.damage = i == 3 ? EG_REC_BAD_TEMPLATE_OFFSET : 0};
        add_event(w, sys, i, 0, 0, &nested, &opts);
    }
    /* Nested 20 deep: past the slow lane's limit, which reports it. */
    eg_value deep[11];
    system_values(w, deep, 5, 0, 0, &(eg_fragment){.tmpl = data,
                                                  .values = (eg_value[]){eg_val_string(w, "x")},
                                                  .nvalues = 1});
    deep[10] = eg_val_deep_nesting(w, 20);
    assert_int_equal(eg_add_record(w, 5, FT, sys, deep, 11, NULL), PS_OK);
    result r;
    check_writer(w, &r);
    assert_true(r.l.records >= 4);
    assert_int_equal(r.l.fast_compact, 2); /* records 2 and 4 */
    result_free(&r);
    eg_writer_free(w);
}

/* Many distinct templates into a small store: once it is full, the rest
 * take the slow lane, and every record still renders the same. */
static void test_full_store_falls_back(void **state)
{
    (void)state;
    eg_writer *w = eg_writer_new();
    const eg_template *sys = system_template(w, NULL);
    for (unsigned i = 0; i < 60; i++) {
        char name[32];
        snprintf(name, sizeof name, "Field%u", i);
        const char *names[] = {name};
        static const uint8_t types[] = {EG_T_UINT32};
        const eg_template *data = data_template(w, NULL, names, types, 1);
        eg_value dv[1] = {eg_val_u32(w, i)};
        eg_fragment nested = {.tmpl = data, .values = dv, .nvalues = 1};
        add_event(w, sys, i + 1, 0, 0, &nested, NULL);
    }
    const uint8_t *img;
    size_t len;
    assert_int_equal(eg_writer_image(w, NULL, &img, &len), PS_OK);
    chunk_decoder dec;
    chunk_decoder_init(&dec, 0, NULL, NULL);
    dec.templates = tpl_store_new_capped(48 * 1024);
    lanes l;
    lanes_init(&l, &dec);
    for (size_t off = EG_FILE_HEADER_SIZE; off + EG_CHUNK_HEADER_SIZE <= len; off += EG_CHUNK_SIZE) {
        chunk_result res;
        size_t n = len - off < EG_CHUNK_SIZE ? len - off : EG_CHUNK_SIZE;
        chunk_decode(&dec, img + off, (uint32_t)n, off, lanes_on_record, &l, &res);
    }
    tpl_stats st;
    tpl_store_stats(dec.templates, &st);
    if (l.mismatches)
        fail_msg("fast and slow lanes differ at %s", l.first_mismatch);
    assert_int_equal(l.records, 60);
    assert_true(l.fast_compact > 0 && l.fast_compact < 60); /* some fast, then full */
    assert_true(st.bytes <= 48 * 1024);
    lanes_free(&l);
    tpl_store_free(dec.templates);
    chunk_decoder_free(&dec);
    eg_writer_free(w);
}

/* ------------------------------------------------------ the shared corpus */

static void check_tree(const char *dir, unsigned *files, result *all)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            check_tree(path, files, all);
            continue;
        }
        size_t n = strlen(e->d_name);
        if (!S_ISREG(st.st_mode) || n < 5 || strcmp(e->d_name + n - 5, ".evtx"))
            continue;
        FILE *f = fopen(path, "rb");
        if (!f)
            continue;
        uint8_t *img = malloc((size_t)st.st_size + 1);
        size_t len = img ? fread(img, 1, (size_t)st.st_size, f) : 0;
        fclose(f);
        result r;
        memset(&r, 0, sizeof r);
        check_image(img, len, &r);
        if (r.l.mismatches)
            fail_msg("%s: fast and slow lanes differ at %s", path, r.l.first_mismatch);
        /* Carved records are often half overwritten: the lanes must agree
         * on them as well. */
        result carved;
        memset(&carved, 0, sizeof carved);
        check_image_recover(img, len, &carved, 1);
        if (carved.l.mismatches)
            fail_msg("%s (--recover): fast and slow lanes differ at %s", path,
                     carved.l.first_mismatch);
        result_free(&carved);
        all->l.records += r.l.records;
        all->l.fast_compact += r.l.fast_compact;
        all->l.fast_pretty += r.l.fast_pretty;
        all->l.fast_model += r.l.fast_model;
        all->l.deferred += r.l.deferred;
        all->l.fast_xml += r.l.fast_xml;
        result_free(&r);
        free(img);
        (*files)++;
    }
    closedir(d);
}

static void test_shared_corpus_lanes_agree(void **state)
{
    (void)state;
    const char *corpus = getenv("PS_SHARED_CORPUS");
    struct stat st;
    if (!corpus || stat(corpus, &st) != 0) {
        fprintf(stderr, "skipped: ../shared/corpus not found (PS_SHARED_CORPUS)\n");
        skip();
    }
    result all;
    memset(&all, 0, sizeof all);
    unsigned files = 0;
    check_tree(corpus, &files, &all);
    fprintf(stderr, "%u EVTX files, %u records: %u (%.1f%%) in the fast lane\n", files,
            all.l.records, all.l.fast_compact,
            all.l.records ? 100.0 * all.l.fast_compact / all.l.records : 0.0);
    assert_true(files > 0);
    assert_int_equal(all.l.fast_compact, all.l.fast_pretty);
    assert_int_equal(all.l.fast_compact, all.l.fast_model);
    assert_int_equal(all.l.fast_compact, all.l.fast_xml);
    assert_true(all.l.deferred * 3 >= all.l.fast_model); /* half of them defer, nearly all can */
    /* Most real records are one template instance of a regular shape. */
    assert_true(all.l.fast_compact * 10 >= all.l.records * 9);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_regular_records_take_the_fast_lane),
        cmocka_unit_test(test_compiled_once_across_chunks),
        cmocka_unit_test(test_array_in_content_falls_back),
        cmocka_unit_test(test_data_name_from_value_falls_back),
        cmocka_unit_test(test_colliding_nested_keys_fall_back),
        cmocka_unit_test(test_nested_data_inside_eventdata_falls_back),
        cmocka_unit_test(test_nested_element_inside_eventdata_is_fast),
        cmocka_unit_test(test_template_less_and_damaged_fall_back),
        cmocka_unit_test(test_full_store_falls_back),
        cmocka_unit_test(test_shared_corpus_lanes_agree),
    };
    return cmocka_run_group_tests_name("templates", tests, NULL, NULL);
}
