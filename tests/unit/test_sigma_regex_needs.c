/* sg_regex_needs: the literal runs a regex needs in its subject. They let
 * the matcher skip PCRE2 and the prefilter gate a rule, so they must be
 * sound: whenever PCRE2 matches, the runs are in the subject, in order and
 * apart. Checked on patterns made to trip the reader (escapes, classes,
 * groups, quantifiers, options, caseless K and S) and on every regex of
 * SigmaHQ's rules, against random subjects and subjects built from the
 * pattern's own pieces; and through ps_sigma_match against PCRE2 alone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "plainsight/sigma.h"
#include "sigma/pattern.h"
#include "sigma/sigma_internal.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

/* "run|run|..." as the reader gives it, "-" for none. */
static void needs_text(const char *re, int caseless, char *out, size_t cap)
{
    ps_arena a;
    ps_arena_init(&a, 4096, 1 << 20);
    sg_need needs[32];
    int ci = 0;
    int n = sg_regex_needs(re, strlen(re), caseless, &a, needs, 32, &ci);
    assert_true(n >= 0);
    size_t len = 0;
    out[0] = 0;
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(out + len, cap - len, "%s%.*s", i ? "|" : "", (int)needs[i].len,
                                needs[i].bytes);
    if (n == 0)
        snprintf(out, cap, "-");
    if (ci)
        snprintf(out + strlen(out), cap - strlen(out), " (i)");
    ps_arena_free(&a);
}

static void test_runs(void **state)
{
    (void)state;
    rng = 0x9e3779b97f4a7c15ull; /* each test its own sequence, whatever ran before */
    static const struct { const char *re; int caseless; const char *want; } cases[] = {
        {"abc", 0, "abc"},
        {"a\\.exe.*-enc\\s", 0, "a.exe|-enc"},
        {"\\+.*\\+.*\\+", 0, "+|+|+"},
        {"ab?c", 0, "a|c"},          /* b optional: a and c are not next to each other */
        {"ab+c", 0, "ab|c"},         /* b repeats: c follows the last b */
        {"ab{3}c", 0, "abbb|c"},
        {"ab{0,2}c", 0, "a|c"},
        {"ab*?c", 0, "a|c"},
        {"a|b", 0, "-"},             /* alternation at the top: nothing */
        {"(a|b)cd", 0, "cd"},        /* a group gives nothing, what follows counts */
        {"x(?:y|z)+w", 0, "x|w"},
        {"[abc]def", 0, "def"},
        {"[]x]yz", 0, "yz"},         /* ']' first in a class is a member */
        {"[^]x]yz", 0, "yz"},
        {"[[:alpha:]]yz", 0, "yz"},
        {"a\\d{1,3}b", 0, "a|b"},    /* \d with a quantifier, not \p{..} */
        {"^C:\\\\Windows$", 0, "C:\\Windows"},
        {"\\bword\\b", 0, "word"},
        {"SeTtInG", 1, "etting (i)"}, /* caseless: S and K also match U+017F, U+212A */
        {"(?i)SeTk", 0, "et (i)"},
        {"pre(?i)Post", 0, "pre|po|t (i)"},
        {"a(?-i)b", 1, "a|b (i)"},
        {"caf\xc3\xa9!", 0, "caf\xc3\xa9!"},
        {"caf\xc3\xa9!", 1, "caf|! (i)"}, /* non-ASCII letters have other cases */
        {"a\\Qb|c\\E", 0, "-"},      /* quoting: given up on */
        {"(*UTF)abc", 0, "-"},
        {"(?x) a b c", 0, "-"},
        {"(?#note)abc", 0, "-"},
        {"a\\1b", 0, "-"},           /* a backreference */
        {"\\x41bc", 0, "-"},
        {"\\p{L}bc", 0, "-"},
        {"a{b", 0, "-"},             /* a brace that is no quantifier */
        {"a{,3}b", 0, "-"},
        {"\\{.*\\}", 0, "{|}"},
        {"a\\|b", 0, "a|b"},         /* an escaped bar is a literal... */
        {"a\\|b\\-c", 0, "a|b-c"},   /* ... printed here as the separator */
        {"\\\\\\\\server", 0, "\\\\server"},
        {"", 0, "-"},
    };
    char got[512];
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        needs_text(cases[i].re, cases[i].caseless, got, sizeof got);
        if (strcmp(got, cases[i].want) != 0)
            fail_msg("%s: want '%s', got '%s'", cases[i].re, cases[i].want, got);
    }
}

/* Do the runs occur in t in order and apart (folded when caseless)? */
static int runs_in(const sg_need *needs, int n, int caseless, const char *t, size_t tl)
{
    char folded[512];
    if (caseless) {
        memcpy(folded, t, tl);
        sg_lower(folded, tl);
        t = folded;
    }
    size_t at = 0;
    for (int i = 0; i < n; i++) {
        const char *p = memmem(t + at, tl - at, needs[i].bytes, needs[i].len);
        if (!p)
            return 0;
        at = (size_t)(p - t) + needs[i].len;
    }
    return 1;
}

/* Subjects made of the pattern's own bytes, its runs, letters with other
 * cases (K, S, Kelvin sign, long s), newlines and bytes that are not UTF-8,
 * so that PCRE2 matches often and near misses abound. */
static size_t random_subject(const char *re, const sg_need *needs, int n, char *out, size_t cap)
{
    static const char *const extra[] = {"k", "K", "s", "S", "\xe2\x84\xaa", "\xc5\xbf", "\n",
                                        " ", "\xff", "\xc3\xa9", "\xc3\x89", "0", "x"};
    size_t len = 0, want = rnd(48), rl = strlen(re);
    while (len < want && len + 8 < cap) {
        uint32_t pick = rnd(10);
        const char *piece;
        size_t pl;
        char one;
        if (pick < 4 && rl) {
            one = re[rnd((uint32_t)rl)];
            piece = &one;
            pl = 1;
        } else if (pick < 7 && n) {
            const sg_need *nd = &needs[rnd((uint32_t)n)];
            piece = nd->bytes;
            pl = nd->len;
        } else {
            piece = extra[rnd(sizeof extra / sizeof *extra)];
            pl = strlen(piece);
        }
        if (len + pl + 1 >= cap)
            break;
        memcpy(out + len, piece, pl);
        len += pl;
    }
    out[len] = 0;
    return len;
}

/* Every match PCRE2 finds for re (compiled as the matcher compiles it) has
 * the runs; counts the matches seen. */
static long check_sound(const char *re, size_t rlen, int caseless_flag, int rounds)
{
    ps_arena a;
    ps_arena_init(&a, 4096, 1 << 22);
    sg_need needs[32];
    int ci = 0;
    int n = sg_regex_needs(re, rlen, caseless_flag, &a, needs, 32, &ci);
    assert_true(n >= 0);
    if (n > 0) {
        for (int i = 0; i < n; i++)
            assert_true(needs[i].len > 0);
    }
    long matches = 0;
    int err;
    PCRE2_SIZE off;
    uint32_t flags = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | (caseless_flag ? PCRE2_CASELESS : 0);
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)re, rlen, flags, &err, &off, NULL);
    if (!code || n == 0) {
        pcre2_code_free(code);
        ps_arena_free(&a);
        return 0;
    }
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    char subject[512];
    for (int r = 0; r < rounds; r++) {
        size_t sl = random_subject(re, needs, n, subject, sizeof subject);
        if (pcre2_match(code, (PCRE2_SPTR)subject, sl, 0, 0, md, NULL) >= 0) {
            matches++;
            if (!runs_in(needs, n, ci, subject, sl))
                fail_msg("/%.*s/%s matches '%s' without its runs", (int)rlen, re,
                         caseless_flag ? "i" : "", subject);
        }
    }
    pcre2_match_data_free(md);
    pcre2_code_free(code);
    ps_arena_free(&a);
    return matches;
}

static void test_sound_made_up(void **state)
{
    (void)state;
    rng = 0x9e3779b97f4a7c15ull; /* each test its own sequence, whatever ran before */
    static const char *const patterns[] = {
        "ab?c", "ab+c", "ab{2}c", "a.b", "a\\.b", "x(y|z)*w", "(?i)skip", "SeTk", "sk",
        "\\+.*\\+.*\\+", "^a.*b$", "a\\bb", "k\\s*s", "[ks]+ks", "a(?=bc)bc", "a(?!x)b",
        "(?<=a)b", "\\{\\d\\}\\{", "caf\xc3\xa9", "x\\Ky", "(?i:ab)cd", "ab(?i)cd", "a\\\\b",
        "a]b}c", "(a)(b)\\w+c", "-e(nc)?o", "kelvin", "KS", "a\\sb\\Sc",
    };
    long matches = 0;
    for (size_t i = 0; i < sizeof patterns / sizeof *patterns; i++)
        for (int ci = 0; ci < 2; ci++)
            matches += check_sound(patterns[i], strlen(patterns[i]), ci, 4000);
    printf("made-up patterns: %ld matching subjects checked\n", matches);
    assert_true(matches > 1000);
}

/* Every regex of SigmaHQ's rules. */
static void test_sound_sigmahq(void **state)
{
    (void)state;
    rng = 0x9e3779b97f4a7c15ull; /* each test its own sequence, whatever ran before */
    const char *corpus = getenv("PS_SHARED_CORPUS");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/sigma/rules", corpus ? corpus : "../shared/corpus");
    const char *paths[] = {dir};
    ps_sigma_set *set = NULL;
    ps_sigma_options o = {.no_prefilter = 1};
    if (ps_sigma_load(paths, 1, &o, &set, NULL) != PS_OK || !set ||
        ps_sigma_rule_count(set) == 0) {
        ps_sigma_free(set);
        skip();
    }
    long regexes = 0, with_needs = 0, matches = 0;
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    for (uint32_t c = 0; c < set->ncompiled; c++) {
        const sg_detection *d = &set->compiled[c].det;
        for (uint32_t si = 0; si < d->nsel; si++)
            for (uint32_t mi = 0; mi < d->sel[si].nmaps; mi++) {
                const sg_map *m = &d->sel[si].maps[mi];
                for (uint32_t i = 0; i < m->n; i++)
                    for (uint32_t k = 0; k < m->items[i].nvalues; k++) {
                        const sg_value *v = &m->items[i].values[k];
                        if (v->kind != SV_REGEX)
                            continue;
                        regexes++;
                        if (!v->nneeds)
                            continue;
                        with_needs++;
                        /* subjects of the runs and other bytes, which the
                         * regex matches now and then */
                        char subject[512];
                        for (int r = 0; r < 300; r++) {
                            size_t sl = random_subject("", v->needs, (int)v->nneeds, subject,
                                                       sizeof subject);
                            if (pcre2_match(v->re, (PCRE2_SPTR)subject, sl, 0, 0, md, NULL) < 0)
                                continue;
                            matches++;
                            if (!runs_in(v->needs, (int)v->nneeds, v->needs_caseless, subject, sl))
                                fail_msg("a SigmaHQ regex matches '%s' without its runs",
                                         subject);
                        }
                    }
            }
    }
    pcre2_match_data_free(md);
    printf("SigmaHQ: %ld regex values, %ld with runs, %ld matching subjects checked\n", regexes,
           with_needs, matches);
    assert_true(with_needs > 0);
    ps_sigma_free(set);
}

/* Through the matcher, with and without the prefilter: a rule with one
 * regex matches exactly the events PCRE2 alone matches. */
/* How many rules of `set` match a Sysmon process creation (event 1) whose
 * CommandLine is value[0..vl). */
static int match_command_line(const ps_sigma_set *set, ps_sigma_scratch *s, const char *value,
                              size_t vl)
{
    ps_field f[2] = {
        {.path = "Event.System.EventID", .name = "EventID", .value = "1", .path_len = 20,
         .name_len = 7, .value_len = 1, .kind = PS_KIND_INT},
        {.path = "Event.EventData.CommandLine", .name = "CommandLine", .value = value,
         .path_len = 27, .name_len = 11, .value_len = (uint32_t)vl, .kind = PS_KIND_STRING}};
    ps_event ev = {.fields = f, .nfields = 2, .event_id = 1,
                   .channel = "Microsoft-Windows-Sysmon/Operational", .computer = "",
                   .provider = "", .source = ""};
    return ps_sigma_match(set, s, &ev, NULL, NULL);
}

static void test_matcher_agrees(void **state)
{
    (void)state;
    rng = 0x9e3779b97f4a7c15ull; /* each test its own sequence, whatever ran before */
    static const char *const patterns[] = {"\\+.*\\+.*\\+.*\\+", "(?i)se[t]k.*&&", "cmd.{0,5}/c",
                                           "https?://\\d", "^C:\\\\Win", "Mimi(katz)?\\.exe"};
    /* One subject each surely matches, beside the random ones. */
    static const char *const positives[] = {"a+b+c+d+", "x SETK y && z", "cmd.exe /c dir",
                                            "get https://10.0.0.1/", "C:\\Windows\\x.exe",
                                            "run mimikatz.exe now"};
    for (size_t p = 0; p < sizeof patterns / sizeof *patterns; p++) {
        char yaml[1024];
        snprintf(yaml, sizeof yaml,
                 "title: t\nid: t\nlogsource: {product: windows, category: process_creation}\n"
                 "detection:\n  sel:\n    CommandLine|re: '%s'\n  condition: sel\n",
                 patterns[p]);
        for (int nopf = 0; nopf < 2; nopf++) {
            ps_sigma_options o = {.no_prefilter = nopf};
            ps_sigma_set *set = NULL;
            assert_int_equal(ps_sigma_load_text(yaml, strlen(yaml), "t.yml", &o, &set, NULL), PS_OK);
            assert_int_equal(ps_sigma_rule_count(set), 1);
            ps_sigma_scratch *s = ps_sigma_scratch_new(set);
            assert_non_null(s);
            int err;
            PCRE2_SIZE off;
            pcre2_code *code = pcre2_compile((PCRE2_SPTR)patterns[p], PCRE2_ZERO_TERMINATED,
                                             PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &err, &off, NULL);
            assert_non_null(code);
            pcre2_match_data *md = pcre2_match_data_create(1, NULL);
            const sg_value *v = &set->compiled[0].det.sel[0].maps[0].items[0].values[0];
            long agree = 0, hits = 0;
            for (int r = 0; r <= 3000; r++) {
                char value[512];
                size_t vl = r == 3000 ? (size_t)snprintf(value, sizeof value, "%s", positives[p])
                                      : random_subject(patterns[p], v->needs, (int)v->nneeds,
                                                       value, sizeof value);
                int got = match_command_line(set, s, value, vl);
                int want = pcre2_match(code, (PCRE2_SPTR)value, vl, 0, 0, md, NULL) >= 0;
                if (got != want)
                    fail_msg("/%s/ on '%s': matcher %d, PCRE2 %d", patterns[p], value, got, want);
                agree++;
                hits += want;
            }
            assert_true(agree == 3001);
            if (hits == 0)
                fail_msg("/%s/ (prefilter %s): no subject matched", patterns[p], nopf ? "off" : "on");
            pcre2_match_data_free(md);
            pcre2_code_free(code);
            ps_sigma_scratch_free(s);
            ps_sigma_free(set);
        }
    }
}

static int repeat_of(const char *re, uint8_t *c, uint32_t *n)
{
    return sg_regex_repeat(re, strlen(re), c, n);
}

/* c.*c.*...c is counted (sg_regex_repeat): recognised exactly, and through
 * the matcher the same as PCRE2 without its match limit, over texts with
 * line ends, with the i and s modifiers, a letter for c, non-ASCII bytes. */
static void test_repeated_character(void **state)
{
    (void)state;
    rng = 0x9e3779b97f4a7c15ull; /* each test its own sequence, whatever ran before */
    uint8_t c;
    uint32_t n;
    assert_int_equal(repeat_of("\\+.*\\+.*\\+", &c, &n), 1);
    assert_int_equal(c, '+');
    assert_int_equal(n, 3);
    assert_int_equal(repeat_of("`.*`", &c, &n), 1);
    assert_int_equal(repeat_of("a.*a.*a", &c, &n), 1);
    assert_int_equal(repeat_of("\\+", &c, &n), 0);            /* once */
    assert_int_equal(repeat_of("\\+.*\\-", &c, &n), 0);       /* two characters */
    assert_int_equal(repeat_of("\\+.+\\+", &c, &n), 0);       /* .+ */
    assert_int_equal(repeat_of("\\d.*\\d", &c, &n), 0);       /* a class */
    assert_int_equal(repeat_of("\\+.*\\+.*", &c, &n), 0);     /* trailing .* */
    assert_int_equal(repeat_of("^\\+.*\\+", &c, &n), 0);      /* anchor */
    static const struct { const char *key, *re, *pcre; uint32_t flags; } cases[] = {
        {"CommandLine|re", "\\+.*\\+.*\\+.*\\+.*\\+", "\\+.*\\+.*\\+.*\\+.*\\+", 0},
        {"CommandLine|re|s", "\\^.*\\^.*\\^", "\\^.*\\^.*\\^", PCRE2_DOTALL},
        {"CommandLine|re|i", "a.*a.*a.*a", "a.*a.*a.*a", PCRE2_CASELESS},
        {"CommandLine|re", "a.*a.*a", "a.*a.*a", 0},
    };
    static const char alphabet[] = "+^aAb \n\t\xc3\xa9x";
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        char yaml[512];
        snprintf(yaml, sizeof yaml,
                 "title: t\nid: t\nlogsource: {product: windows, category: process_creation}\n"
                 "detection:\n  sel:\n    %s: '%s'\n  condition: sel\n", cases[k].key,
                 cases[k].re);
        ps_sigma_set *set = NULL;
        assert_int_equal(ps_sigma_load_text(yaml, strlen(yaml), "t.yml", NULL, &set, NULL), PS_OK);
        assert_int_equal(ps_sigma_rule_count(set), 1);
        if (!set->compiled[0].det.sel[0].maps[0].items[0].values[0].repeat_char)
            fail_msg("%s '%s' not counted", cases[k].key, cases[k].re);
        ps_sigma_scratch *s = ps_sigma_scratch_new(set);
        int err;
        PCRE2_SIZE off;
        pcre2_code *code = pcre2_compile((PCRE2_SPTR)cases[k].pcre, PCRE2_ZERO_TERMINATED,
                                         PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | cases[k].flags,
                                         &err, &off, NULL);
        assert_non_null(code);
        pcre2_match_data *md = pcre2_match_data_create(1, NULL);
        long hits = 0;
        for (int r = 0; r < 4000; r++) {
            char value[96];
            size_t vl = 1 + rnd(sizeof value - 2);
            for (size_t i = 0; i < vl; i++)
                value[i] = alphabet[rnd(sizeof alphabet - 1)];
            if (rnd(8) == 0) /* a cut UTF-8 sequence: invalid text */
                value[rnd((uint32_t)vl)] = '\xc3';
            value[vl] = 0;
            int got = match_command_line(set, s, value, vl);
            int want = pcre2_match(code, (PCRE2_SPTR)value, vl, 0, 0, md, NULL) >= 0;
            if (got != want)
                fail_msg("%s '%s' on '%s': matcher %d, PCRE2 %d", cases[k].key, cases[k].re,
                         value, got, want);
            hits += want;
        }
        assert_true(hits > 0);
        pcre2_match_data_free(md);
        pcre2_code_free(code);
        ps_sigma_scratch_free(s);
        ps_sigma_free(set);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_runs),
        cmocka_unit_test(test_sound_made_up),
        cmocka_unit_test(test_sound_sigmahq),
        cmocka_unit_test(test_matcher_agrees),
        cmocka_unit_test(test_repeated_character),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
