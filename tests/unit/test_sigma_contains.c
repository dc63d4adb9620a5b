/* `contains` looks for the literal's rarest byte with memchr, then falls
 * back to memmem after a few false candidates. Its answers must be those of
 * a plain search, on random texts over a small alphabet (many candidates,
 * near misses, matches at either end) and on texts made to defeat it. The
 * other hand-made readers of pattern.c are held to what they stand for in
 * the same way: lower-casing to its table, IPv4 addresses to inet_pton. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "plainsight/sigma.h"
#include "sigma/pattern.h"
#include "util/buf.h"

#define NRULES 64

static uint64_t rng = 0x243f6a8885a308d3ull;

static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

/* Lower-case letters only, so the YAML needs no quoting rules beyond ''. */
static void random_text(char *out, size_t len, const char *alphabet)
{
    size_t k = strlen(alphabet);
    for (size_t i = 0; i < len; i++)
        out[i] = alphabet[rnd((uint32_t)k)];
    out[len] = 0;
}

static int record(void *ctx, const ps_sigma_rule_info *rule, size_t index, const ps_event *ev)
{
    (void)rule;
    (void)ev;
    ((uint8_t *)ctx)[index] = 1;
    return 0;
}

static void hunt_text(const ps_sigma_set *set, ps_sigma_scratch *s, const char *text,
                      uint8_t *hit)
{
    static const char path[] = "Event.EventData.CommandLine";
    ps_field f = {.path = path, .name = path + 16, .value = text,
                  .path_len = sizeof path - 1, .name_len = 11,
                  .value_len = (uint32_t)strlen(text), .kind = PS_KIND_STRING};
    ps_event ev = {.fields = &f, .nfields = 1, .event_id = 1,
                   .channel = "Microsoft-Windows-Sysmon/Operational", .computer = "",
                   .provider = "", .source = ""};
    memset(hit, 0, NRULES);
    assert_true(ps_sigma_match(set, s, &ev, record, hit) >= 0);
}

/* One rule per needle, loaded without the prefilter so that every rule's
 * comparison runs on every text. */
static ps_sigma_set *load_needles(char needles[NRULES][16])
{
    ps_buf y;
    ps_buf_init(&y);
    for (int i = 0; i < NRULES; i++)
        ps_buf_printf(&y, "%stitle: n%d\nid: n%d\nlogsource: {product: windows, category: "
                      "process_creation}\ndetection:\n  sel: {CommandLine|contains: '%s'}\n"
                      "  condition: sel\n", i ? "---\n" : "", i, i, needles[i]);
    assert_false(y.failed);
    ps_sigma_options o = {.no_prefilter = 1};
    ps_sigma_set *set = NULL;
    ps_sigma_stats st;
    assert_int_equal(ps_sigma_load_text(y.data, y.len, "n.yml", &o, &set, &st), PS_OK);
    assert_int_equal(st.rules_loaded, NRULES);
    ps_buf_free(&y);
    return set;
}

static void test_random_texts(void **state)
{
    (void)state;
    static const char *const alphabets[] = {"ab", "aq1", "qqqqa", "abcdefgh"};
    for (size_t a = 0; a < sizeof alphabets / sizeof alphabets[0]; a++) {
        char needles[NRULES][16];
        for (int i = 0; i < NRULES; i++)
            random_text(needles[i], 1 + rnd(6), alphabets[a]);
        ps_sigma_set *set = load_needles(needles);
        ps_sigma_scratch *s = ps_sigma_scratch_new(set);
        assert_non_null(s);
        long matches = 0;
        for (int t = 0; t < 400; t++) {
            char text[300];
            random_text(text, rnd(sizeof text - 1), alphabets[a]);
            uint8_t hit[NRULES];
            hunt_text(set, s, text, hit);
            for (int i = 0; i < NRULES; i++) {
                int want = strstr(text, needles[i]) != NULL;
                if (hit[i] != want)
                    fail_msg("'%s' in '%s': %d, want %d", needles[i], text, hit[i], want);
                matches += want;
            }
        }
        assert_true(matches > 1000); /* the cases do match, and do not always */
        assert_true(matches < 400L * NRULES);
        ps_sigma_scratch_free(s);
        ps_sigma_free(set);
    }
}

/* A text full of the needle's rare byte, the match (or a near miss) at the
 * very end: the search must still answer right (and not take quadratic
 * time, which the memmem fallback bounds). */
static void test_hostile_texts(void **state)
{
    (void)state;
    char needles[NRULES][16];
    for (int i = 0; i < NRULES; i++)
        snprintf(needles[i], sizeof needles[i], "%s", i % 2 ? "qqqqqqqqqqqqqz" : "zq");
    ps_sigma_set *set = load_needles(needles);
    ps_sigma_scratch *s = ps_sigma_scratch_new(set);
    assert_non_null(s);
    static char text[1 << 20];
    for (int end = 0; end < 4; end++) {
        memset(text, 'q', sizeof text - 1);
        text[sizeof text - 1] = 0;
        const char *tail = end == 0 ? "z" : end == 1 ? "zq" : end == 2 ? "y" : "qz";
        memcpy(text + sizeof text - 1 - strlen(tail), tail, strlen(tail));
        uint8_t hit[NRULES];
        hunt_text(set, s, text, hit);
        for (int i = 0; i < NRULES; i++)
            assert_int_equal(hit[i], strstr(text, needles[i]) != NULL);
    }
    ps_sigma_scratch_free(s);
    ps_sigma_free(set);
}

/* Lower-casing eight bytes at a time folds exactly what the table folds
 * (ASCII letters), every byte value in every position, in place and not. */
static void test_lower_words(void **state)
{
    (void)state;
    for (int c = 0; c < 256; c++)
        for (size_t n = 1; n <= 17; n++) {
            char in[17], out[17];
            memset(in, 'q', sizeof in);
            in[n - 1] = (char)c;
            sg_lower_copy(out, in, n);
            for (size_t i = 0; i < n; i++)
                assert_int_equal((unsigned char)out[i], sg_lower_table[(unsigned char)in[i]]);
            sg_lower(in, n);
            assert_memory_equal(in, out, n);
        }
    char in[64], out[64];
    for (int r = 0; r < 20000; r++) {
        size_t n = rnd(64);
        for (size_t i = 0; i < n; i++)
            in[i] = (char)rnd(256);
        sg_lower_copy(out, in, n);
        for (size_t i = 0; i < n; i++)
            assert_int_equal((unsigned char)out[i], sg_lower_table[(unsigned char)in[i]]);
    }
}

/* What sg_parse_ip answered when it was inet_pton(AF_INET), then AF_INET6. */
static int ip_by_libc(const char *s, uint8_t addr[16], int *is_v6)
{
    memset(addr, 0, 16);
    if (inet_pton(AF_INET, s, addr) == 1)
        return *is_v6 = 0, 0;
    if (inet_pton(AF_INET6, s, addr) == 1)
        return *is_v6 = 1, 0;
    return -1;
}

static void check_ip(const char *s)
{
    uint8_t want[16], got[16];
    int want_v6 = -1, got_v6 = -1;
    int w = ip_by_libc(s, want, &want_v6);
    int g = sg_parse_ip(s, strlen(s), got, &got_v6);
    if (w != g)
        printf("sg_parse_ip(\"%s\") = %d, inet_pton: %d\n", s, g, w);
    assert_int_equal(g, w);
    if (w == 0) {
        assert_int_equal(got_v6, want_v6);
        assert_memory_equal(got, want, 16);
    }
}

static void test_ipv4_as_inet_pton(void **state)
{
    (void)state;
    static const char *const cases[] = {
        "1.2.3.4", "0.0.0.0", "255.255.255.255", "256.1.1.1", "1.2.3", "1.2.3.4.5", "01.2.3.4",
        "1.02.3.4", "1.2.3.00", "10.0.0.0", "1.2.3.4 ", " 1.2.3.4", "1..3.4", ".1.2.3", "1.2.3.",
        "-", "", "1.2.3.4a", "999.1.1.1", "1.2.3.1000", "::1", "::ffff:10.9.9.9", "fe80::1",
        "1.2.3.-4", "+1.2.3.4", "0x1.2.3.4", "1.2.3.255", "1.2.3.256", "00.0.0.0", "0.0.0.01"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_ip(cases[i]);
    static const char alphabet[] = "0123456789..::af x";
    char s[24];
    for (int r = 0; r < 200000; r++) {
        size_t n = rnd(sizeof s - 1);
        for (size_t i = 0; i < n; i++)
            s[i] = alphabet[rnd(sizeof alphabet - 1)];
        s[n] = 0;
        check_ip(s);
    }
    /* Dotted quads of random parts, some out of range or zero-led. */
    for (int r = 0; r < 100000; r++) {
        snprintf(s, sizeof s, "%s%u.%u.%s%u.%u", rnd(20) ? "" : "0", rnd(300), rnd(300),
                 rnd(20) ? "" : "0", rnd(300), rnd(300));
        check_ip(s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_texts),
        cmocka_unit_test(test_hostile_texts),
        cmocka_unit_test(test_lower_words),
        cmocka_unit_test(test_ipv4_as_inet_pton),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
