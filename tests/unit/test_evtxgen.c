/*
 * The EVTX writer on its own: the bytes it produces are checked against the
 * format notes (shared/docs/evtx-format.md) with a small reader written here,
 * independent of both the writer and the project's decoder.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "evtxgen/evtxgen.h"

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p) { return (uint32_t)rd16(p) | (uint32_t)rd16(p + 2) << 16; }
static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }

/* Bitwise CRC-32 (no table), to cross-check the writer's table-driven one. */
static uint32_t slow_crc32(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
    }
    return ~c;
}

static uint16_t name_hash_ascii(const char *s)
{
    uint32_t h = 0;
    for (; *s; s++)
        h = h * 65599u + (uint8_t)*s;
    return (uint16_t)h;
}

static const uint8_t *chunk_at(const uint8_t *img, unsigned i)
{
    return img + EG_FILE_HEADER_SIZE + (size_t)i * EG_CHUNK_SIZE;
}

/* Occurrences of an ASCII string encoded UTF-16LE in [p, p+n). */
static int count_utf16(const uint8_t *p, size_t n, const char *s)
{
    size_t len = strlen(s);
    int count = 0;
    for (size_t i = 0; i + 2 * len <= n; i++) {
        size_t k = 0;
        while (k < len && p[i + 2 * k] == (uint8_t)s[k] && p[i + 2 * k + 1] == 0)
            k++;
        count += k == len;
    }
    return count;
}

/* A small template <Event><EventID>%0</EventID><Data Name="Cmd">%1</Data></Event>. */
typedef struct small {
    eg_writer *w;
    const eg_template *t;
} small;

static void small_init(small *s)
{
    s->w = eg_writer_new();
    assert_non_null(s->w);
    eg_node *ev = eg_elem(s->w, "Event");
    eg_sub(s->w, eg_child_elem(s->w, ev, "EventID"), 0, EG_T_UINT16, 0);
    eg_node *d = eg_child_elem(s->w, ev, "Data");
    eg_attr_text(s->w, d, "Name", "Cmd");
    eg_sub(s->w, d, 1, EG_T_STRING, 1);
    s->t = eg_template_new(s->w, "11223344-5566-7788-99AA-BBCCDDEEFF00", ev);
    assert_non_null(s->t);
}

static void small_add(small *s, uint64_t id, const char *cmd, const eg_record_opts *o)
{
    eg_value v[2] = {eg_val_u16(s->w, 4688), eg_val_string(s->w, cmd)};
    assert_int_equal(eg_add_record(s->w, id, 133590312000000000ULL + id, s->t, v, 2, o), PS_OK);
}

static void test_crc32(void **state)
{
    (void)state;
    assert_int_equal(eg_crc32(0, "123456789", 9), 0xCBF43926u);
    assert_int_equal(eg_crc32(0, "", 0), 0);
    uint32_t part = eg_crc32(0, "12345", 5);
    assert_int_equal(eg_crc32(part, "6789", 4), 0xCBF43926u);
    uint8_t buf[300];
    for (int i = 0; i < 300; i++)
        buf[i] = (uint8_t)(i * 7 + 3);
    assert_int_equal(eg_crc32(0, buf, sizeof buf), slow_crc32(buf, sizeof buf));
}

static void test_parse_helpers(void **state)
{
    (void)state;
    uint8_t g[16];
    assert_int_equal(eg_parse_guid("{54849625-5478-4994-A5BA-3E3B0328C30D}", g), 0);
    static const uint8_t want[16] = {0x25, 0x96, 0x84, 0x54, 0x78, 0x54, 0x94, 0x49,
                                     0xA5, 0xBA, 0x3E, 0x3B, 0x03, 0x28, 0xC3, 0x0D};
    assert_memory_equal(g, want, 16);
    assert_int_not_equal(eg_parse_guid("54849625-5478-4994-A5BA", g), 0);

    uint64_t ft;
    assert_int_equal(eg_parse_time("2024-05-01T10:00:00Z", &ft), 0);
    assert_int_equal(ft, 133590312000000000ULL);  /* (1714557600 s + 11644473600 s) * 10^7 */
    assert_int_equal(eg_parse_time("2024-05-01T10:00:00.1234567Z", &ft), 0);
    assert_int_equal(ft, 133590312001234567ULL);
    assert_int_equal(eg_parse_time("1601-01-01T00:00:00", &ft), 0);
    assert_int_equal(ft, 0);
    assert_int_not_equal(eg_parse_time("yesterday", &ft), 0);

    eg_writer *w = eg_writer_new();
    eg_value sid = eg_val_sid(w, "S-1-5-21-7-500");
    static const uint8_t sid_bytes[] = {1, 3, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0, 7, 0, 0, 0, 0xF4, 1, 0, 0};
    assert_int_equal(sid.size, sizeof sid_bytes);
    assert_memory_equal(sid.bytes, sid_bytes, sizeof sid_bytes);
    eg_value st = eg_val_systime(w, 2024, 5, 1, 10, 20, 30, 400);
    assert_int_equal(st.size, 16);
    assert_int_equal(rd16(st.bytes + 4), 3);  /* 2024-05-01 was a Wednesday */
    assert_int_equal(rd16(st.bytes + 14), 400);
    static const char *const items[] = {"a", "bc"};
    eg_value arr = eg_val_string_array(w, items, 2);
    assert_int_equal(arr.type, 0x81);
    static const uint8_t arr_bytes[] = {'a', 0, 0, 0, 'b', 0, 'c', 0, 0, 0};
    assert_int_equal(arr.size, sizeof arr_bytes);
    assert_memory_equal(arr.bytes, arr_bytes, sizeof arr_bytes);
    eg_value s = eg_val_string(w, "\xC3\xA9\xF0\x9F\x98\x80");  /* é and an astral emoji */
    static const uint8_t utf16[] = {0xE9, 0, 0x3D, 0xD8, 0x00, 0xDE};
    assert_int_equal(s.size, sizeof utf16);
    assert_memory_equal(s.bytes, utf16, sizeof utf16);
    assert_false(eg_writer_failed(w));
    eg_val_guid(w, "not a guid");
    assert_true(eg_writer_failed(w));
    eg_writer_free(w);
}

/* File header, chunk header, CRCs and hash tables of a one-chunk file. */
static void test_headers_and_tables(void **state)
{
    (void)state;
    small s;
    small_init(&s);
    small_add(&s, 7, "one", NULL);
    small_add(&s, 8, "two", NULL);
    small_add(&s, 9, "three", NULL);
    const uint8_t *img;
    size_t len;
    assert_int_equal(eg_writer_image(s.w, NULL, &img, &len), PS_OK);
    assert_int_equal(len, EG_FILE_HEADER_SIZE + EG_CHUNK_SIZE);

    assert_memory_equal(img, "ElfFile\0", 8);
    assert_int_equal(rd64(img + 8), 0);
    assert_int_equal(rd64(img + 16), 0);
    assert_int_equal(rd64(img + 24), 10);
    assert_int_equal(rd32(img + 32), 128);
    assert_int_equal(rd16(img + 36), 1);
    assert_int_equal(rd16(img + 38), 3);
    assert_int_equal(rd16(img + 40), 4096);
    assert_int_equal(rd16(img + 42), 1);
    assert_int_equal(rd32(img + 120), 0);
    assert_int_equal(rd32(img + 124), slow_crc32(img, 120));

    const uint8_t *c = chunk_at(img, 0);
    assert_memory_equal(c, "ElfChnk\0", 8);
    assert_int_equal(rd64(c + 8), 7);
    assert_int_equal(rd64(c + 16), 9);
    assert_int_equal(rd64(c + 24), 7);
    assert_int_equal(rd64(c + 32), 9);
    assert_int_equal(rd32(c + 40), 128);
    uint32_t free_space = rd32(c + 48);
    assert_int_equal(rd32(c + 52), slow_crc32(c + 512, free_space - 512));
    uint8_t hdr[512 - 8];
    memcpy(hdr, c, 120);
    memcpy(hdr + 120, c + 128, 384);
    assert_int_equal(rd32(c + 124), slow_crc32(hdr, sizeof hdr));

    /* Records back to back from 512 to the free space offset. */
    uint32_t off = 512, last = 0;
    for (uint64_t id = 7; id <= 9; id++) {
        assert_memory_equal(c + off, "**\0\0", 4);
        uint32_t size = rd32(c + off + 4);
        assert_int_equal(size % 8, 0);
        assert_int_equal(rd32(c + off + size - 4), size);
        assert_int_equal(rd64(c + off + 8), id);
        assert_int_equal(rd64(c + off + 16), 133590312000000000ULL + id);
        last = off;
        off += size;
    }
    assert_int_equal(off, free_space);
    assert_int_equal(rd32(c + 44), last);

    /* String table: each chained name hashes into its bucket. */
    int names = 0;
    for (int b = 0; b < 64; b++) {
        for (uint32_t o = rd32(c + 128 + 4 * b); o; o = rd32(c + o)) {
            assert_true(o < free_space);
            uint16_t hash = rd16(c + o + 4), n = rd16(c + o + 6);
            assert_int_equal(hash % 64, b);
            char ascii[64] = {0};
            for (int i = 0; i < n && i < 63; i++)
                ascii[i] = (char)c[o + 8 + 2 * i];
            assert_int_equal(hash, name_hash_ascii(ascii));
            assert_int_equal(rd16(c + o + 8 + 2 * n), 0);
            names++;
        }
    }
    assert_int_equal(names, 4);  /* Event, EventID, Data, Name ("Cmd" is text) */

    /* Template table: the python-evtx check (0x0C at ofs-10, ofs at ofs-4). */
    int defs = 0;
    for (int b = 0; b < 32; b++) {
        for (uint32_t o = rd32(c + 384 + 4 * b); o; o = rd32(c + o)) {
            assert_int_equal(c[o - 10], 0x0C);
            assert_int_equal(rd32(c + o - 4), o);
            defs++;
        }
    }
    assert_int_equal(defs, 1);
    eg_writer_free(s.w);
}

/* The definition is inline in the first record and referenced afterwards;
 * names are inline once per chunk. */
static void test_inline_then_reference(void **state)
{
    (void)state;
    small s;
    small_init(&s);
    small_add(&s, 1, "first", NULL);
    small_add(&s, 2, "second", NULL);
    const uint8_t *img;
    size_t len;
    assert_int_equal(eg_writer_image(s.w, NULL, &img, &len), PS_OK);
    const uint8_t *c = chunk_at(img, 0);
    uint32_t r1 = 512, r2 = r1 + rd32(c + r1 + 4);
    /* record: header(24) 0F 01 01 00 0C 01 id(4) def-offset(4) */
    assert_memory_equal(c + r1 + 24, "\x0F\x01\x01\x00\x0C\x01", 6);
    assert_int_equal(rd32(c + r1 + 30), 0x11223344u);
    uint32_t def = rd32(c + r1 + 34);
    assert_int_equal(def, r1 + 38);             /* inline: offset == position */
    assert_int_equal(rd32(c + r2 + 34), def);   /* back-reference */
    assert_int_equal(count_utf16(c, EG_CHUNK_SIZE, "EventID"), 1);
    assert_int_equal(count_utf16(c, EG_CHUNK_SIZE, "Cmd"), 1);
    /* Definition data size: fragment header .. EOF. */
    uint32_t dsize = rd32(c + def + 20);
    assert_memory_equal(c + def + 24, "\x0F\x01\x01\x00\x01\xFF\xFF", 7);
    assert_int_equal(c[def + 24 + dsize - 1], 0x00);
    /* Instance data follows: 2 values, descriptors (2, uint16) and (10, string). */
    const uint8_t *inst = c + def + 24 + dsize;
    assert_int_equal(rd32(inst), 2);
    assert_int_equal(rd16(inst + 4), 2);
    assert_int_equal(inst[6], EG_T_UINT16);
    assert_int_equal(rd16(inst + 8), 10);
    assert_int_equal(inst[10], EG_T_STRING);
    assert_int_equal(rd16(inst + 12), 4688);
    eg_writer_free(s.w);
}

/* Full chunks spill into new ones, each self-contained. */
static void test_spill_into_chunks(void **state)
{
    (void)state;
    small s;
    small_init(&s);
    char cmd[600];
    memset(cmd, 'x', sizeof cmd - 1);
    cmd[sizeof cmd - 1] = 0;
    for (uint64_t id = 1; id <= 300; id++)
        small_add(&s, id, cmd, NULL);
    unsigned n = eg_chunk_count(s.w);
    assert_true(n >= 3);
    const uint8_t *img;
    size_t len;
    assert_int_equal(eg_writer_image(s.w, NULL, &img, &len), PS_OK);
    assert_int_equal(len, EG_FILE_HEADER_SIZE + (size_t)n * EG_CHUNK_SIZE);
    assert_int_equal(rd16(img + 42), n);
    assert_int_equal(rd64(img + 16), n - 1);
    uint64_t next = 1;
    for (unsigned i = 0; i < n; i++) {
        const uint8_t *c = chunk_at(img, i);
        assert_int_equal(rd64(c + 24), next);
        uint64_t last = rd64(c + 32);
        uint32_t fs = rd32(c + 48);
        assert_true(fs <= EG_CHUNK_SIZE);
        assert_int_equal(rd32(c + 52), slow_crc32(c + 512, fs - 512));
        assert_int_equal(rd32(c + 512 + 34), 512 + 38);  /* definition inline again */
        assert_int_equal(count_utf16(c, EG_CHUNK_SIZE, "EventID"), 1);
        next = last + 1;
    }
    assert_int_equal(next, 301);
    eg_writer_free(s.w);
}

static void test_record_too_large(void **state)
{
    (void)state;
    small s;
    small_init(&s);
    small_add(&s, 1, "ok", NULL);
    static char huge[40000];
    memset(huge, 'y', sizeof huge - 1);
    eg_value v[2] = {eg_val_u16(s.w, 1), eg_val_string(s.w, huge)};
    assert_int_equal(eg_add_record(s.w, 2, 0, s.t, v, 2, NULL), PS_ERR_ARG);
    assert_false(eg_writer_failed(s.w));
    small_add(&s, 3, "still fine", NULL);
    const uint8_t *img;
    size_t len;
    assert_int_equal(eg_writer_image(s.w, NULL, &img, &len), PS_OK);
    eg_writer_free(s.w);
}

static void test_template_less_and_tokens(void **state)
{
    (void)state;
    eg_writer *w = eg_writer_new();
    eg_node *ev = eg_elem(w, "Event");
    eg_text(w, eg_child_elem(w, ev, "EventID"), "1");
    eg_node *d = eg_child_elem(w, ev, "Data");
    eg_cdata(w, d, "c");
    eg_charref(w, d, 65);
    eg_entityref(w, d, "amp");
    eg_pi(w, ev, "t", "d");
    assert_int_equal(eg_add_record_tree(w, 1, 0, ev, NULL), PS_OK);
    const uint8_t *img;
    size_t len;
    assert_int_equal(eg_writer_image(w, NULL, &img, &len), PS_OK);
    const uint8_t *r = chunk_at(img, 0) + 512 + 24;
    /* 0F 01 01 00 01 size(4) name-offset(4): no dependency id. */
    assert_memory_equal(r, "\x0F\x01\x01\x00\x01", 5);
    uint32_t data_size = rd32(r + 5);
    assert_int_equal(rd32(r + 9), 512 + 24 + 13);  /* inline name right after */
    assert_int_equal(r[9 + data_size - 1], 0x04);  /* data size ends at </Event> */
    assert_int_equal(r[9 + data_size], 0x00);             /* then EOF */
    eg_writer_free(w);
}

static void test_nested_binxml_forms(void **state)
{
    (void)state;
    small s;
    small_init(&s);
    eg_node *outer = eg_elem(s.w, "Event");
    eg_sub(s.w, outer, 0, EG_T_BINXML, 0);
    eg_sub(s.w, outer, 1, EG_T_BINXML, 0);
    const eg_template *t = eg_template_new(s.w, NULL, outer);
    eg_value inner[2] = {eg_val_u16(s.w, 1), eg_val_string(s.w, "x")};
    eg_fragment framed = {.tmpl = s.t, .values = inner, .nvalues = 2};
    eg_fragment bare = {.tmpl = s.t, .values = inner, .nvalues = 2, .bare = 1};
    eg_value v[2] = {eg_val_binxml(s.w, &framed), eg_val_binxml(s.w, &bare)};
    assert_int_equal(eg_add_record(s.w, 1, 0, t, v, 2, NULL), PS_OK);
    const uint8_t *img;
    size_t len;
    assert_int_equal(eg_writer_image(s.w, NULL, &img, &len), PS_OK);
    const uint8_t *c = chunk_at(img, 0);
    uint32_t def = rd32(c + 512 + 34);
    const uint8_t *inst = c + def + 24 + rd32(c + def + 20);
    assert_int_equal(rd32(inst), 2);
    uint16_t size0 = rd16(inst + 4), size1 = rd16(inst + 8);
    assert_int_equal(inst[6], EG_T_BINXML);
    const uint8_t *v0 = inst + 12, *v1 = v0 + size0;
    assert_memory_equal(v0, "\x0F\x01\x01\x00\x0C\x01", 6);
    assert_int_equal(v0[size0 - 1], 0x00);
    uint32_t inner_def = rd32(v0 + 10);
    assert_int_equal(inner_def, (uint32_t)(v0 + 14 - c));     /* inline in the first value */
    assert_int_equal(v1[0], 0x0C);                            /* bare instance */
    assert_int_equal(rd32(v1 + 6), inner_def);                /* refers back */
    assert_int_equal(size1, 10 + 4 + 8 + 2 + 2);
    eg_writer_free(s.w);
}

static void test_file_damage(void **state)
{
    (void)state;
    small s;
    small_init(&s);
    for (uint64_t id = 1; id <= 6; id++) {
        eg_record_opts o = {.new_chunk = id == 3 || id == 5};
        small_add(&s, id, "cmd", &o);
    }
    assert_int_equal(eg_chunk_count(s.w), 3);
    const uint8_t *img;
    size_t len;
    eg_damage d = {0};

    d.flags = EG_DMG_HEADER_CRC;
    assert_int_equal(eg_writer_image(s.w, &d, &img, &len), PS_OK);
    assert_int_not_equal(rd32(img + 124), slow_crc32(img, 120));

    d.flags = EG_DMG_DIRTY | EG_DMG_CHUNK_COUNT | EG_DMG_FIRST_GT_LAST;
    d.chunk_count_value = 1;
    assert_int_equal(eg_writer_image(s.w, &d, &img, &len), PS_OK);
    assert_int_equal(rd32(img + 120), 1);
    assert_int_equal(rd16(img + 42), 1);
    assert_true(rd64(img + 8) > rd64(img + 16));
    assert_int_equal(rd32(img + 124), slow_crc32(img, 120));

    d = (eg_damage){.flags = EG_DMG_TRUNCATE, .truncate_at = 5000};
    assert_int_equal(eg_writer_image(s.w, &d, &img, &len), PS_OK);
    assert_int_equal(len, 5000);

    d = (eg_damage){.flags = EG_DMG_ZERO_CHUNK, .chunk_index = 1};
    assert_int_equal(eg_writer_image(s.w, &d, &img, &len), PS_OK);
    for (size_t i = 0; i < EG_CHUNK_SIZE; i++)
        if (chunk_at(img, 1)[i])
            fail_msg("zeroed chunk has a byte at %zu", i);
    assert_memory_equal(chunk_at(img, 2), "ElfChnk\0", 8);

    d = (eg_damage){.flags = EG_DMG_CHUNK_MAGIC, .chunk_index = 2};
    assert_int_equal(eg_writer_image(s.w, &d, &img, &len), PS_OK);
    assert_memory_not_equal(chunk_at(img, 2), "ElfChnk\0", 8);

    uint8_t hdr[504];
    d = (eg_damage){.flags = EG_DMG_CHUNK_HEADER_CRC, .chunk_index = 0};
    assert_int_equal(eg_writer_image(s.w, &d, &img, &len), PS_OK);
    memcpy(hdr, chunk_at(img, 0), 120);
    memcpy(hdr + 120, chunk_at(img, 0) + 128, 384);
    assert_int_not_equal(rd32(chunk_at(img, 0) + 124), slow_crc32(hdr, sizeof hdr));

    d = (eg_damage){.flags = EG_DMG_RECORDS_CRC, .chunk_index = 0};
    assert_int_equal(eg_writer_image(s.w, &d, &img, &len), PS_OK);
    const uint8_t *c = chunk_at(img, 0);
    assert_int_not_equal(rd32(c + 52), slow_crc32(c + 512, rd32(c + 48) - 512));
    memcpy(hdr, c, 120);
    memcpy(hdr + 120, c + 128, 384);
    assert_int_equal(rd32(c + 124), slow_crc32(hdr, sizeof hdr));  /* header CRC still right */

    d = (eg_damage){.flags = EG_DMG_FREE_SPACE, .chunk_index = 0};
    assert_int_equal(eg_writer_image(s.w, &d, &img, &len), PS_OK);
    assert_true(rd32(chunk_at(img, 0) + 48) > EG_CHUNK_SIZE);
    eg_writer_free(s.w);
}

static void test_record_damage(void **state)
{
    (void)state;
    small s;
    small_init(&s);
    eg_record_opts mismatch = {.damage = EG_REC_SIZE_MISMATCH};
    eg_record_opts past = {.damage = EG_REC_SIZE_PAST_CHUNK};
    eg_record_opts sig = {.damage = EG_REC_BAD_SIGNATURE};
    eg_record_opts slack = {.damage = EG_REC_SLACK};
    eg_record_opts badtmpl = {.damage = EG_REC_BAD_TEMPLATE_OFFSET};
    small_add(&s, 1, "a", &mismatch);
    small_add(&s, 2, "b", &past);
    small_add(&s, 3, "c", &sig);
    small_add(&s, 4, "d", &badtmpl);
    small_add(&s, 5, "e", NULL);
    small_add(&s, 99, "deleted", &slack);
    small_add(&s, 6, "f", NULL);   /* live records never follow slack: new chunk */
    assert_int_equal(eg_chunk_count(s.w), 2);
    const uint8_t *img;
    size_t len;
    assert_int_equal(eg_writer_image(s.w, NULL, &img, &len), PS_OK);
    const uint8_t *c = chunk_at(img, 0);
    uint32_t off = 512;
    uint32_t size = rd32(c + off + 4);
    assert_int_not_equal(rd32(c + off + size - 4), size);          /* record 1 */
    off += size;
    assert_true(rd32(c + off + 4) > EG_CHUNK_SIZE);                /* record 2 */
    /* Its real size comes from the trailing copy's position: find record 3. */
    const uint8_t *p = c + off + 28;
    while (memcmp(p, "*X\0\0", 4) != 0)
        p++;
    off = (uint32_t)(p - c);                                       /* record 3 */
    off += rd32(c + off + 4);
    assert_int_equal(rd32(c + off + 34), 0x0001FFF0u);             /* record 4 */
    off += rd32(c + off + 4);
    assert_int_equal(rd64(c + off + 8), 5);
    off += rd32(c + off + 4);
    assert_int_equal(rd32(c + 48), off);                           /* free space */
    assert_int_equal(rd64(c + 32), 5);
    assert_memory_equal(c + off, "**\0\0", 4);                     /* slack record */
    assert_int_equal(rd64(c + off + 8), 99);
    assert_int_equal(rd64(chunk_at(img, 1) + 24), 6);
    eg_writer_free(s.w);
}

static void test_bad_name_offset_and_loop(void **state)
{
    (void)state;
    eg_writer *w = eg_writer_new();
    eg_node *ev = eg_elem(w, "Event");
    eg_record_opts o = {.damage = EG_REC_BAD_NAME_OFFSET};
    assert_int_equal(eg_add_record_tree(w, 1, 0, ev, &o), PS_OK);
    assert_int_equal(eg_add_record_template_loop(w, 2, 0, NULL), PS_OK);
    const uint8_t *img;
    size_t len;
    assert_int_equal(eg_writer_image(w, NULL, &img, &len), PS_OK);
    const uint8_t *c = chunk_at(img, 0);
    assert_int_equal(rd32(c + 512 + 24 + 9), 0x00012345u);
    uint32_t r2 = 512 + rd32(c + 512 + 4);
    uint32_t def = rd32(c + r2 + 34);
    assert_int_equal(def, r2 + 38);
    /* The body: 0F 01 01 00 0C 01 id def — an instance of itself. */
    assert_memory_equal(c + def + 24, "\x0F\x01\x01\x00\x0C\x01", 6);
    assert_int_equal(rd32(c + def + 34), def);
    eg_writer_free(w);
}

static void test_deep_nesting_value(void **state)
{
    (void)state;
    eg_writer *w = eg_writer_new();
    eg_node *ev = eg_elem(w, "Event");
    eg_sub(w, ev, 0, EG_T_BINXML, 0);
    const eg_template *t = eg_template_new(w, NULL, ev);
    eg_value v = eg_val_deep_nesting(w, 1000);
    assert_int_equal(eg_add_record(w, 1, 0, t, &v, 1, NULL), PS_OK);
    const uint8_t *img;
    size_t len;
    assert_int_equal(eg_writer_image(w, NULL, &img, &len), PS_OK);
    const uint8_t *c = chunk_at(img, 0);
    uint32_t size = rd32(c + 512 + 4);
    assert_true(size > 1000 * 18);
    assert_int_equal(count_utf16(c, EG_CHUNK_SIZE, "Nest"), 1);
    eg_writer_free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32),
        cmocka_unit_test(test_parse_helpers),
        cmocka_unit_test(test_headers_and_tables),
        cmocka_unit_test(test_inline_then_reference),
        cmocka_unit_test(test_spill_into_chunks),
        cmocka_unit_test(test_record_too_large),
        cmocka_unit_test(test_template_less_and_tokens),
        cmocka_unit_test(test_nested_binxml_forms),
        cmocka_unit_test(test_file_damage),
        cmocka_unit_test(test_record_damage),
        cmocka_unit_test(test_bad_name_offset_and_loop),
        cmocka_unit_test(test_deep_nesting_value),
    };
    return cmocka_run_group_tests_name("evtxgen", tests, NULL, NULL);
}
