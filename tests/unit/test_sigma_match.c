/* Sigma detection semantics: every modifier and condition form, on events
 * built by hand. Each test compiles a one-rule set and checks which events
 * match it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "plainsight/sigma.h"

#define MAX_FIELDS 16

typedef struct test_event {
    ps_field f[MAX_FIELDS];
    ps_event ev;
} test_event;

/* Build an event of the Sysmon channel, EID 1, from "path=value" pairs
 * (a bare name is under Event.EventData; "~name" is a null field). */
static void make_event(test_event *t, const char *channel, uint32_t eid, const char *const *kv)
{
    memset(t, 0, sizeof *t);
    static char paths[MAX_FIELDS][128];
    uint32_t n = 0;
    for (; kv[n] && n < MAX_FIELDS; n++) {
        const char *eq = strchr(kv[n], '=');
        int null = kv[n][0] == '~';
        const char *name = kv[n] + null;
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        if (memchr(name, '.', nlen))
            snprintf(paths[n], sizeof paths[n], "%.*s", (int)nlen, name);
        else
            snprintf(paths[n], sizeof paths[n], "Event.EventData.%.*s", (int)nlen, name);
        ps_field *f = &t->f[n];
        f->path = paths[n];
        f->path_len = (uint32_t)strlen(paths[n]);
        const char *dot = strrchr(paths[n], '.');
        f->name = dot + 1;
        f->name_len = (uint32_t)strlen(f->name);
        f->value = eq ? eq + 1 : "";
        f->value_len = (uint32_t)strlen(f->value);
        f->kind = null ? PS_KIND_NULL : PS_KIND_STRING;
    }
    t->ev.fields = t->f;
    t->ev.nfields = n;
    t->ev.channel = channel;
    t->ev.event_id = eid;
    t->ev.computer = "";
    t->ev.provider = "";
    t->ev.source = "";
}

static int count_diags;
static void on_diag(void *ctx, const ps_diag *d)
{
    (void)ctx;
    count_diags++;
    if (getenv("PS_TEST_VERBOSE"))
        fprintf(stderr, "diag: %s:%llu: %s\n", d->path, (unsigned long long)d->offset, d->message);
}

static const char rule_head[] =
    "title: t\nid: 11111111-1111-1111-1111-111111111111\nlevel: high\nstatus: test\n"
    "tags: [attack.execution, attack.t1059]\n"
    "logsource: {product: windows, category: process_creation}\ndetection:\n";

static ps_sigma_set *compile_rule(const char *detection)
{
    char text[8192];
    snprintf(text, sizeof text, "%s%s", rule_head, detection);
    ps_sigma_options opt = {.diag = on_diag};
    ps_sigma_set *set = NULL;
    count_diags = 0;
    assert_int_equal(ps_sigma_load_text(text, strlen(text), "test.yml", &opt, &set, NULL), PS_OK);
    return set;
}

/* 1 if the rule matches a Sysmon EID 1 event with these fields. */
static int matches_in(const char *detection, const char *channel, uint32_t eid,
                      const char *const *kv)
{
    ps_sigma_set *set = compile_rule(detection);
    assert_int_equal(ps_sigma_rule_count(set), 1);
    test_event t;
    make_event(&t, channel, eid, kv);
    ps_sigma_scratch *s = ps_sigma_scratch_new(set);
    assert_non_null(s);
    int n = ps_sigma_match(set, s, &t.ev, NULL, NULL);
    assert_true(n >= 0);
    ps_sigma_scratch_free(s);
    ps_sigma_free(set);
    return n;
}

#define SYSMON "Microsoft-Windows-Sysmon/Operational"
#define EV(...) ((const char *const[]){__VA_ARGS__, NULL})
#define MATCH(det, ...) matches_in(det, SYSMON, 1, EV(__VA_ARGS__))

static int rule_fails(const char *detection)
{
    ps_sigma_set *set = compile_rule(detection);
    size_t n = ps_sigma_rule_count(set);
    ps_sigma_free(set);
    return n == 0 && count_diags > 0;
}

/* ---- basic structure ---- */

static void test_maps_and_lists(void **state)
{
    (void)state;
    const char *d = "  sel:\n    Image: 'C:\\Windows\\cmd.exe'\n    User: [alice, bob]\n"
                    "  condition: sel\n";
    assert_true(MATCH(d, "Image=c:\\windows\\CMD.EXE", "User=Bob"));
    assert_false(MATCH(d, "Image=c:\\windows\\cmd.exe", "User=carol"));
    assert_false(MATCH(d, "User=alice"));
    const char *lm = "  sel:\n    - Image: a\n    - User: b\n  condition: sel\n";
    assert_true(MATCH(lm, "Image=A"));
    assert_true(MATCH(lm, "User=b"));
    assert_false(MATCH(lm, "Image=b"));
}

static void test_keywords(void **state)
{
    (void)state;
    const char *d = "  keywords:\n    - mimikatz\n    - 'sekurlsa::'\n  condition: keywords\n";
    assert_true(MATCH(d, "CommandLine=run MimiKatz.exe"));
    assert_true(MATCH(d, "Other=x", "Payload=a sekurlsa::logonpasswords"));
    assert_false(MATCH(d, "CommandLine=notepad"));
    const char *all = "  keywords:\n    '|all':\n      - foo\n      - bar\n  condition: keywords\n";
    assert_true(MATCH(all, "A=foo", "B=bar"));
    assert_false(MATCH(all, "A=foo"));
}

static void test_null_empty_missing(void **state)
{
    (void)state;
    const char *null = "  sel:\n    Field: null\n  condition: sel\n";
    assert_true(MATCH(null, "Other=x"));                 /* missing */
    assert_true(MATCH(null, "~Field"));                  /* null element */
    assert_true(MATCH(null, "Field="));                  /* empty */
    assert_false(MATCH(null, "Field=x"));
    const char *empty = "  sel:\n    Field: ''\n  condition: sel\n";
    assert_true(MATCH(empty, "Field="));
    assert_true(MATCH(empty, "~Field"));
    assert_false(MATCH(empty, "Other=x"));               /* missing is not empty */
    assert_false(MATCH(empty, "Field=x"));
    const char *notnull = "  sel:\n    Field: null\n  condition: not sel\n";
    assert_true(MATCH(notnull, "Field=x"));
}

static void test_numbers_and_bools(void **state)
{
    (void)state;
    const char *d = "  sel:\n    EventID: 1\n    Signed: true\n  condition: sel\n";
    assert_true(MATCH(d, "Event.System.EventID=1", "Signed=True"));
    assert_false(MATCH(d, "Event.System.EventID=10", "Signed=true"));
    const char *hex = "  sel:\n    Flags: 16\n  condition: sel\n";
    assert_true(MATCH(hex, "Flags=0x10"));
    const char *q = "  sel:\n    Flags: '16'\n  condition: sel\n";
    assert_false(MATCH(q, "Flags=0x10"));  /* a quoted string is compared as text */
}

/* ---- wildcards and escapes ---- */

static void test_wildcards(void **state)
{
    (void)state;
    const char *d = "  sel:\n    Image: '*\\cmd.exe'\n    CommandLine: '*/c ?hoami*'\n"
                    "  condition: sel\n";
    assert_true(MATCH(d, "Image=C:\\Windows\\cmd.exe", "CommandLine=cmd /c whoami /all"));
    assert_false(MATCH(d, "Image=C:\\Windows\\cmd.exe", "CommandLine=cmd /c hoami"));
    /* C:\\*\cmd.exe: a backslash, a wildcard, then \cmd.exe */
    const char *mid = "  sel:\n    Image: 'C:\\\\*\\cmd.exe'\n  condition: sel\n";
    assert_true(MATCH(mid, "Image=c:\\a\\b\\cmd.exe"));
    assert_false(MATCH(mid, "Image=d:\\a\\cmd.exe"));
    /* C:\*\cmd.exe: the star is escaped, so it is literal */
    const char *lit = "  sel:\n    Image: 'C:\\*\\cmd.exe'\n  condition: sel\n";
    assert_true(MATCH(lit, "Image=C:*\\cmd.exe"));
    assert_false(MATCH(lit, "Image=c:\\a\\cmd.exe"));
    const char *utf = "  sel:\n    Name: 'a?c'\n  condition: sel\n";
    assert_true(MATCH(utf, "Name=a\xc3\xa9" "c"));  /* ? is one character, not one byte */
}

static void test_escapes(void **state)
{
    (void)state;
    const char *star = "  sel:\n    Name: 'a\\*b'\n  condition: sel\n";
    assert_true(MATCH(star, "Name=a*b"));
    assert_false(MATCH(star, "Name=axxb"));
    const char *qm = "  sel:\n    Name: 'what\\?'\n  condition: sel\n";
    assert_true(MATCH(qm, "Name=what?"));
    assert_false(MATCH(qm, "Name=whatx"));
    /* \\ is one backslash; \\* is a backslash then a wildcard. */
    const char *unc = "  sel:\n    Path: '\\\\\\\\server\\\\*'\n  condition: sel\n";
    assert_true(MATCH(unc, "Path=\\\\server\\share"));
    assert_false(MATCH(unc, "Path=\\server\\share"));
    /* a backslash before an ordinary character stays a backslash */
    const char *plain = "  sel:\n    Path: 'C:\\Windows'\n  condition: sel\n";
    assert_true(MATCH(plain, "Path=C:\\Windows"));
    /* a lone trailing backslash is literal */
    const char *trail = "  sel:\n    Path|endswith: 'Temp\\'\n  condition: sel\n";
    assert_true(MATCH(trail, "Path=C:\\Temp\\"));
    assert_false(MATCH(trail, "Path=C:\\Temp"));
    const char *trail2 = "  sel:\n    Path|endswith: 'x\\\\'\n  condition: sel\n";
    assert_true(MATCH(trail2, "Path=ax\\"));
}

/* ---- modifiers ---- */

static void test_position_modifiers(void **state)
{
    (void)state;
    assert_true(MATCH("  s:\n    C|contains: WhoAmI\n  condition: s\n", "C=x whoami y"));
    assert_true(MATCH("  s:\n    C|startswith: cmd\n  condition: s\n", "C=CMD.exe /c"));
    assert_false(MATCH("  s:\n    C|startswith: cmd\n  condition: s\n", "C=x cmd"));
    assert_true(MATCH("  s:\n    C|endswith: .exe\n  condition: s\n", "C=a.EXE"));
    assert_false(MATCH("  s:\n    C|endswith: .exe\n  condition: s\n", "C=a.exe "));
    /* wildcards still work inside contains */
    assert_true(MATCH("  s:\n    C|contains: 'a*c'\n  condition: s\n", "C=xxabbbcxx"));
    assert_true(MATCH("  s:\n    C|contains: ''\n  condition: s\n", "C=abc"));
}

static void test_all_modifier(void **state)
{
    (void)state;
    const char *d = "  s:\n    C|contains|all:\n      - '-nop'\n      - '-enc'\n  condition: s\n";
    assert_true(MATCH(d, "C=powershell -nop -enc AAA"));
    assert_false(MATCH(d, "C=powershell -nop"));
    const char *one = "  s:\n    C|contains|all: '-nop'\n  condition: s\n";
    assert_true(MATCH(one, "C=powershell -nop"));
    assert_false(MATCH(one, "C=powershell"));
    const char *onelist = "  s:\n    C|contains|all:\n      - '-nop'\n  condition: s\n";
    assert_true(MATCH(onelist, "C=powershell -NOP"));
}

static void test_cased(void **state)
{
    (void)state;
    const char *d = "  s:\n    C|cased: Secret\n  condition: s\n";
    assert_true(MATCH(d, "C=Secret"));
    assert_false(MATCH(d, "C=secret"));
    const char *c = "  s:\n    C|contains|cased: Secret\n  condition: s\n";
    assert_true(MATCH(c, "C=my Secret"));
    assert_false(MATCH(c, "C=my SECRET"));
}

static void test_base64(void **state)
{
    (void)state;
    /* base64("http://") = aHR0cDovLw== */
    assert_true(MATCH("  s:\n    C|base64: 'http://'\n  condition: s\n", "C=aHR0cDovLw=="));
    assert_false(MATCH("  s:\n    C|base64: 'http://'\n  condition: s\n", "C=AHR0CDOVLW=="));
    assert_true(MATCH("  s:\n    C|base64|contains: 'http://'\n  condition: s\n",
                      "C=x aHR0cDovLw== y"));
}

static void test_base64offset(void **state)
{
    (void)state;
    const char *d = "  s:\n    C|base64offset|contains: 'http://'\n  condition: s\n";
    /* "http://" at each byte offset of a base64 text, e.g. the encodings of
     * "http://x", "Xhttp://x", "XYhttp://x". */
    assert_true(MATCH(d, "C=aHR0cDovL3g="));   /* offset 0 */
    assert_true(MATCH(d, "C=WGh0dHA6Ly94"));   /* offset 1 */
    assert_true(MATCH(d, "C=WFlodHRwOi8veA=="));  /* offset 2 */
    assert_false(MATCH(d, "C=aHR0cHM6Ly8="));  /* https:// */
    /* utf16le before base64: "cmd" -> 63 00 6d 00 64 00 -> YwBtAGQA */
    assert_true(MATCH("  s:\n    C|wide|base64offset|contains: 'cmd'\n  condition: s\n",
                      "C=JABYwBtAGQAIAA"));
    assert_true(MATCH("  s:\n    C|utf16le|base64: 'cmd'\n  condition: s\n", "C=YwBtAGQA"));
    assert_true(MATCH("  s:\n    C|utf16be|base64: 'cmd'\n  condition: s\n", "C=AGMAbQBk"));
    /* utf16 adds a little-endian byte order mark: ff fe 63 00 6d 00 64 00 */
    assert_true(MATCH("  s:\n    C|utf16|base64: 'cmd'\n  condition: s\n", "C=//5jAG0AZAA="));
}

static void test_windash(void **state)
{
    (void)state;
    const char *d = "  s:\n    C|contains|windash: ' -exec bypass'\n  condition: s\n";
    assert_true(MATCH(d, "C=powershell -exec bypass"));
    assert_true(MATCH(d, "C=powershell /exec bypass"));
    assert_true(MATCH(d, "C=powershell \xe2\x80\x93" "exec bypass"));   /* en dash */
    assert_true(MATCH(d, "C=powershell \xe2\x80\x94" "exec bypass"));   /* em dash */
    assert_true(MATCH(d, "C=powershell \xe2\x80\x95" "exec bypass"));   /* horizontal bar */
    assert_false(MATCH(d, "C=powershell exec bypass"));
    const char *two = "  s:\n    C|contains|windash: '-a -b'\n  condition: s\n";
    assert_true(MATCH(two, "C=x /a -b"));
    /* a dash inside a word is not an option dash */
    const char *word = "  s:\n    C|windash: 'ms-settings'\n  condition: s\n";
    assert_false(MATCH(word, "C=ms/settings"));
}

static void test_re(void **state)
{
    (void)state;
    const char *d = "  s:\n    C|re: '^cmd\\.exe /c [a-z]+$'\n  condition: s\n";
    assert_true(MATCH(d, "C=cmd.exe /c whoami"));
    assert_false(MATCH(d, "C=CMD.EXE /c whoami"));   /* re is case-sensitive */
    assert_true(MATCH("  s:\n    C|re|i: '^cmd'\n  condition: s\n", "C=CMD.exe"));
    assert_true(MATCH("  s:\n    C|re|m: '^b$'\n  condition: s\n", "C=a\nb\nc"));
    assert_false(MATCH("  s:\n    C|re: '^b$'\n  condition: s\n", "C=a\nb\nc"));
    assert_true(MATCH("  s:\n    C|re|s: 'a.b'\n  condition: s\n", "C=a\nb"));
    assert_false(MATCH("  s:\n    C|re: 'a.b'\n  condition: s\n", "C=a\nb"));
    assert_true(rule_fails("  s:\n    C|re: '(unclosed'\n  condition: s\n"));
    /* catastrophic backtracking stops at the match limit instead of hanging */
    assert_false(MATCH("  s:\n    C|re: '^(a+)+$'\n  condition: s\n",
                       "C=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab"));
}

static void test_cidr(void **state)
{
    (void)state;
    const char *v4 = "  s:\n    Ip|cidr:\n      - 10.0.0.0/8\n      - 192.168.1.0/24\n"
                     "  condition: s\n";
    assert_true(MATCH(v4, "Ip=10.1.2.3"));
    assert_true(MATCH(v4, "Ip=192.168.1.200"));
    assert_false(MATCH(v4, "Ip=192.168.2.1"));
    assert_false(MATCH(v4, "Ip=not an ip"));
    assert_true(MATCH(v4, "Ip=::ffff:10.9.9.9"));  /* IPv4-mapped */
    const char *v6 = "  s:\n    Ip|cidr: 'fe80::/10'\n  condition: s\n";
    assert_true(MATCH(v6, "Ip=fe80::1"));
    assert_true(MATCH(v6, "Ip=FEBF::abcd:1"));
    assert_false(MATCH(v6, "Ip=fec0::1"));
    assert_false(MATCH(v6, "Ip=10.0.0.1"));
    const char *v6b = "  s:\n    Ip|cidr: '2001:db8::/32'\n  condition: s\n";
    assert_true(MATCH(v6b, "Ip=2001:db8:ffff::1"));
    assert_false(MATCH(v6b, "Ip=2001:db9::1"));
    assert_true(rule_fails("  s:\n    Ip|cidr: '10.0.0.0/33'\n  condition: s\n"));
}

static void test_numeric_compare(void **state)
{
    (void)state;
    assert_true(MATCH("  s:\n    N|lt: 10\n  condition: s\n", "N=9"));
    assert_false(MATCH("  s:\n    N|lt: 10\n  condition: s\n", "N=10"));
    assert_true(MATCH("  s:\n    N|lte: 10\n  condition: s\n", "N=10"));
    assert_true(MATCH("  s:\n    N|gt: 10\n  condition: s\n", "N=10.5"));
    assert_true(MATCH("  s:\n    N|gte: 10\n  condition: s\n", "N=10"));
    assert_false(MATCH("  s:\n    N|gte: 10\n  condition: s\n", "N=abc"));
    assert_true(rule_fails("  s:\n    N|gt: ten\n  condition: s\n"));
}

static void test_exists(void **state)
{
    (void)state;
    assert_true(MATCH("  s:\n    F|exists: true\n  condition: s\n", "F="));
    assert_false(MATCH("  s:\n    F|exists: true\n  condition: s\n", "G=1"));
    assert_true(MATCH("  s:\n    F|exists: false\n  condition: s\n", "G=1"));
    assert_true(rule_fails("  s:\n    F|exists: maybe\n  condition: s\n"));
}

static void test_fieldref(void **state)
{
    (void)state;
    const char *d = "  s:\n    TargetUserName|fieldref: SubjectUserName\n  condition: s\n";
    assert_true(MATCH(d, "TargetUserName=Alice", "SubjectUserName=alice"));
    assert_false(MATCH(d, "TargetUserName=alice", "SubjectUserName=bob"));
    assert_false(MATCH(d, "TargetUserName=alice"));
    const char *sw = "  s:\n    A|fieldref|startswith: B\n  condition: s\n";
    assert_true(MATCH(sw, "A=abcdef", "B=abc"));
    assert_false(MATCH(sw, "A=xabc", "B=abc"));
}

static void test_expand(void **state)
{
    (void)state;
    /* No placeholder values given: the placeholder matches anything. */
    const char *d = "  s:\n    User|expand: '%admins%\\x'\n  condition: s\n";
    assert_true(MATCH(d, "User=whatever\\x"));
    assert_false(MATCH(d, "User=whatever\\y"));

    const char *text =
        "title: t\nid: 1\nlogsource: {product: windows, category: process_creation}\n"
        "detection:\n  s:\n    User|expand: '%admins%'\n  condition: s\n";
    const char *ph[] = {"admins=root", "admins=adm*"};
    ps_sigma_options opt = {.placeholders = ph, .nplaceholders = 2};
    ps_sigma_set *set;
    assert_int_equal(ps_sigma_load_text(text, strlen(text), "t", &opt, &set, NULL), PS_OK);
    ps_sigma_scratch *s = ps_sigma_scratch_new(set);
    test_event t;
    make_event(&t, SYSMON, 1, EV("User=ADMINISTRATOR"));
    assert_int_equal(ps_sigma_match(set, s, &t.ev, NULL, NULL), 1);
    make_event(&t, SYSMON, 1, EV("User=user"));
    assert_int_equal(ps_sigma_match(set, s, &t.ev, NULL, NULL), 0);
    ps_sigma_scratch_free(s);
    ps_sigma_free(set);
}

static void test_bad_modifiers(void **state)
{
    (void)state;
    assert_true(rule_fails("  s:\n    C|frobnicate: x\n  condition: s\n"));
    assert_true(rule_fails("  s:\n    C|contains|endswith: x\n  condition: s\n"));
    assert_true(rule_fails("  s:\n    C|i: x\n  condition: s\n"));
    assert_true(rule_fails("  s:\n    C|wide: x\n  condition: s\n"));
}

/* ---- conditions ---- */

static const char *const sels =
    "  sel_a:\n    A: 1\n  sel_b:\n    B: 1\n  filter_c:\n    C: 1\n  _hidden:\n    D: 1\n";

static int cond(const char *c, const char *const *kv)
{
    char det[1024];
    snprintf(det, sizeof det, "%s  condition: %s\n", sels, c);
    return matches_in(det, SYSMON, 1, kv);
}

static void test_conditions(void **state)
{
    (void)state;
    assert_true(cond("sel_a and sel_b", EV("A=1", "B=1")));
    assert_false(cond("sel_a and sel_b", EV("A=1")));
    assert_true(cond("sel_a or sel_b", EV("B=1")));
    assert_true(cond("sel_a and not filter_c", EV("A=1")));
    assert_false(cond("sel_a and not filter_c", EV("A=1", "C=1")));
    /* not binds tighter than and, and tighter than or */
    assert_true(cond("sel_a or sel_b and filter_c", EV("A=1")));
    assert_false(cond("(sel_a or sel_b) and filter_c", EV("A=1")));
    assert_true(cond("not sel_a and sel_b", EV("B=1")));
    assert_true(cond("not (sel_a and sel_b)", EV("A=1")));
    assert_true(cond("((sel_a))", EV("A=1")));
    assert_true(cond("sel_a AND NOT filter_c", EV("A=1")));
}

static void test_quantifiers(void **state)
{
    (void)state;
    assert_true(cond("1 of sel_*", EV("B=1")));
    assert_false(cond("all of sel_*", EV("B=1")));
    assert_true(cond("all of sel_*", EV("A=1", "B=1")));
    assert_true(cond("1 of sel*", EV("A=1")));
    assert_true(cond("1 of them", EV("C=1")));
    assert_false(cond("1 of them", EV("D=1")));          /* _hidden is not in them */
    assert_false(cond("all of them", EV("A=1", "B=1")));
    assert_true(cond("all of them", EV("A=1", "B=1", "C=1")));
    assert_true(cond("2 of them", EV("A=1", "C=1")));
    assert_false(cond("2 of them", EV("A=1")));
    assert_true(cond("1 of sel_? and not 1 of filter_*", EV("A=1")));
    assert_true(cond("_hidden", EV("D=1")));
}

static void test_bad_conditions(void **state)
{
    (void)state;
    char det[1024];
    const char *bad[] = {"sel_a and", "sel_a or or sel_b", "(sel_a", "sel_a)", "nosuch",
                         "1 of nosuch_*", "sel_a | count() > 5", "all sel_*", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(det, sizeof det, "%s  condition: '%s'\n", sels, bad[i]);
        assert_true(rule_fails(det));
    }
    /* deep nesting is refused, not a stack overflow */
    char deep[4096];
    int n = snprintf(deep, sizeof deep, "%s  condition: '", sels);
    for (int i = 0; i < 1000; i++)
        deep[n++] = '(';
    snprintf(deep + n, sizeof deep - (size_t)n, "sel_a'\n");
    assert_true(rule_fails(deep));
}

/* ---- logsources, index, metadata, filters ---- */

static void test_logsource_mapping(void **state)
{
    (void)state;
    const char *d = "  s:\n    Image|endswith: '\\whoami.exe'\n  condition: s\n";
    assert_true(matches_in(d, SYSMON, 1, EV("Image=C:\\x\\whoami.exe")));
    assert_false(matches_in(d, SYSMON, 3, EV("Image=C:\\x\\whoami.exe")));
    /* Security 4688 names the image NewProcessName */
    assert_true(matches_in(d, "Security", 4688, EV("NewProcessName=C:\\x\\whoami.exe")));
    assert_false(matches_in(d, "Security", 4624, EV("NewProcessName=C:\\x\\whoami.exe")));
    assert_false(matches_in(d, "System", 1, EV("Image=C:\\x\\whoami.exe")));
    /* channel names compare without regard to case */
    assert_true(matches_in(d, "microsoft-windows-sysmon/operational", 1,
                           EV("Image=C:\\x\\whoami.exe")));
}

static void test_system_fields(void **state)
{
    (void)state;
    const char *text =
        "title: t\nid: 1\nlogsource: {product: windows, service: system}\n"
        "detection:\n  s:\n    Provider_Name: Service Control Manager\n    EventID: 7045\n"
        "    ImagePath|contains: 'cmd'\n  condition: s\n";
    ps_sigma_set *set;
    assert_int_equal(ps_sigma_load_text(text, strlen(text), "t", NULL, &set, NULL), PS_OK);
    ps_sigma_scratch *s = ps_sigma_scratch_new(set);
    test_event t;
    make_event(&t, "System", 7045,
               EV("Event.System.Provider.#attributes.Name=Service Control Manager",
                  "Event.System.EventID=7045", "ImagePath=cmd /c x"));
    assert_int_equal(ps_sigma_match(set, s, &t.ev, NULL, NULL), 1);
    make_event(&t, "System", 7045,
               EV("Event.System.Provider.#attributes.Name=Other", "Event.System.EventID=7045",
                  "ImagePath=cmd /c x"));
    assert_int_equal(ps_sigma_match(set, s, &t.ev, NULL, NULL), 0);
    /* UserData fields are found by their element name */
    make_event(&t, "System", 7045,
               EV("Event.System.Provider.#attributes.Name=Service Control Manager",
                  "Event.System.EventID=7045", "Event.UserData.X.ImagePath=cmd"));
    assert_int_equal(ps_sigma_match(set, s, &t.ev, NULL, NULL), 1);
    ps_sigma_scratch_free(s);
    ps_sigma_free(set);
}

static int capture(void *ctx, const ps_sigma_rule_info *rule, size_t index, const ps_event *ev)
{
    (void)index;
    (void)ev;
    *(const ps_sigma_rule_info **)ctx = rule;
    return 0;
}

static void test_rule_info(void **state)
{
    (void)state;
    ps_sigma_set *set = compile_rule("  s:\n    A: 1\n  condition: s\n");
    ps_sigma_scratch *s = ps_sigma_scratch_new(set);
    test_event t;
    make_event(&t, SYSMON, 1, EV("A=1"));
    const ps_sigma_rule_info *info = NULL;
    assert_int_equal(ps_sigma_match(set, s, &t.ev, capture, &info), 1);
    assert_non_null(info);
    assert_string_equal(info->title, "t");
    assert_string_equal(info->level, "high");
    assert_string_equal(info->path, "test.yml");
    assert_int_equal(info->ntags, 2);
    assert_string_equal(info->tags[1], "attack.t1059");
    ps_sigma_scratch_free(s);
    ps_sigma_free(set);
}

static void test_multi_document_and_errors(void **state)
{
    (void)state;
    const char *text =
        "title: good\nid: a\nlogsource: {product: windows, category: process_creation}\n"
        "detection:\n  s:\n    A: 1\n  condition: s\n"
        "---\n"
        "title: bad\nid: b\nlogsource: {product: windows, category: process_creation}\n"
        "detection:\n  s:\n    A|nope: 1\n  condition: s\n"
        "---\n"
        "title: filter\nid: f\nlogsource: {product: windows, category: process_creation}\n"
        "filter:\n  rules: [a]\n  f:\n    B: 1\n  condition: not f\n";
    ps_sigma_set *set;
    ps_sigma_stats st;
    ps_sigma_options opt = {.diag = on_diag};
    count_diags = 0;
    assert_int_equal(ps_sigma_load_text(text, strlen(text), "multi.yml", &opt, &set, &st), PS_OK);
    assert_int_equal(st.documents, 3);
    assert_int_equal(st.rules_loaded, 1);
    assert_int_equal(st.skipped[PS_SIGMA_SKIP_MODIFIER], 1);
    assert_int_equal(st.filters_applied, 1);
    assert_int_equal(count_diags, 1);
    ps_sigma_scratch *s = ps_sigma_scratch_new(set);
    test_event t;
    make_event(&t, SYSMON, 1, EV("A=1"));
    assert_int_equal(ps_sigma_match(set, s, &t.ev, NULL, NULL), 1);
    make_event(&t, SYSMON, 1, EV("A=1", "B=1"));     /* filtered out */
    assert_int_equal(ps_sigma_match(set, s, &t.ev, NULL, NULL), 0);
    ps_sigma_scratch_free(s);
    ps_sigma_free(set);
}

/* Without Sysmon: network_connection rules on Security 5156 (its field
 * names, and Initiated/Protocol in its values), registry_set rules on 4657. */
static void test_security_variants(void **state)
{
    (void)state;
    static const char text[] =
        "title: net\nid: 44444444-4444-4444-4444-444444444441\nlevel: high\n"
        "logsource: {product: windows, category: network_connection}\n"
        "detection:\n  sel:\n    Image|endswith: '\\rubeus.exe'\n    DestinationPort: 88\n"
        "    Initiated: 'true'\n    Protocol: tcp\n  condition: sel\n"
        "---\n"
        "title: reg\nid: 44444444-4444-4444-4444-444444444442\nlevel: high\n"
        "logsource: {product: windows, category: registry_set}\n"
        "detection:\n  sel:\n    TargetObject|contains: '\\CurrentVersion\\Run'\n"
        "    Details|contains: 'evil'\n  condition: sel\n";
    ps_sigma_set *set = NULL;
    assert_int_equal(ps_sigma_load_text(text, strlen(text), "v.yml", NULL, &set, NULL), PS_OK);
    ps_sigma_scratch *s = ps_sigma_scratch_new(set);
    test_event t;
    make_event(&t, "Security", 5156,
               EV("Application=\\device\\harddiskvolume2\\tools\\Rubeus.exe", "DestPort=88",
                  "Direction=%%14593", "Protocol=6"));
    assert_int_equal(ps_sigma_match(set, s, &t.ev, NULL, NULL), 1);
    make_event(&t, "Security", 5156,
               EV("Application=\\device\\harddiskvolume2\\tools\\Rubeus.exe", "DestPort=88",
                  "Direction=%%14592", "Protocol=6")); /* inbound */
    assert_int_equal(ps_sigma_match(set, s, &t.ev, NULL, NULL), 0);
    make_event(&t, SYSMON, 3,
               EV("Image=C:\\tools\\Rubeus.exe", "DestinationPort=88", "Initiated=true",
                  "Protocol=tcp"));
    assert_int_equal(ps_sigma_match(set, s, &t.ev, NULL, NULL), 1);
    make_event(&t, "Security", 4657,
               EV("ObjectName=\\REGISTRY\\MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run",
                  "NewValue=c:\\evil.exe", "OperationType=%%1905"));
    assert_int_equal(ps_sigma_match(set, s, &t.ev, NULL, NULL), 1);
    ps_sigma_scratch_free(s);
    ps_sigma_free(set);
}

/* Sigma v1 rule collections: global laid under the rules after it, repeat
 * over the rule before it, reset; unknown actions are skipped. */
static void test_rule_collection_actions(void **state)
{
    (void)state;
    const char *text =
        "action: global\ntitle: collected\nlevel: high\n"
        "logsource: {product: windows, category: process_creation}\n"
        "detection:\n  base:\n    A: 1\n  condition: base and extra\n"
        "---\n"
        "id: 33333333-3333-3333-3333-333333333331\ndetection:\n  extra:\n    B: 1\n"
        "---\n"
        "action: repeat\nid: 33333333-3333-3333-3333-333333333332\n"
        "detection:\n  extra:\n    B: 2\n"
        "---\n"
        "action: reset\n"
        "---\n"
        "title: plain\nid: 33333333-3333-3333-3333-333333333333\n"
        "logsource: {product: windows, category: process_creation}\n"
        "detection:\n  s:\n    C: 1\n  condition: s\n"
        "---\n"
        "action: sideways\ntitle: x\n";
    ps_sigma_set *set;
    ps_sigma_stats st;
    ps_sigma_options opt = {.diag = on_diag};
    count_diags = 0;
    assert_int_equal(ps_sigma_load_text(text, strlen(text), "coll.yml", &opt, &set, &st), PS_OK);
    assert_int_equal(st.rules_loaded, 3);
    assert_int_equal(st.skipped[PS_SIGMA_SKIP_STRUCTURE], 1); /* the unknown action */
    assert_int_equal(count_diags, 1);
    ps_sigma_scratch *s = ps_sigma_scratch_new(set);
    test_event t;
    make_event(&t, SYSMON, 1, EV("A=1", "B=1"));
    assert_int_equal(ps_sigma_match(set, s, &t.ev, NULL, NULL), 1);
    make_event(&t, SYSMON, 1, EV("A=1", "B=2"));   /* the repeated rule */
    assert_int_equal(ps_sigma_match(set, s, &t.ev, NULL, NULL), 1);
    make_event(&t, SYSMON, 1, EV("B=1"));          /* global's base part missing */
    assert_int_equal(ps_sigma_match(set, s, &t.ev, NULL, NULL), 0);
    make_event(&t, SYSMON, 1, EV("A=1", "B=1", "C=1")); /* after reset: plain */
    assert_int_equal(ps_sigma_match(set, s, &t.ev, NULL, NULL), 2);
    ps_sigma_scratch_free(s);
    ps_sigma_free(set);
}

static void test_diag_line(void **state)
{
    (void)state;
    const char *text =
        "title: bad\nid: b\nlogsource: {product: windows, category: process_creation}\n"
        "detection:\n  s:\n    A: 1\n  condition: s and nope\n";
    ps_sigma_set *set;
    ps_sigma_stats st;
    assert_int_equal(ps_sigma_load_text(text, strlen(text), "x.yml", NULL, &set, &st), PS_OK);
    assert_int_equal(st.skipped[PS_SIGMA_SKIP_CONDITION], 1);
    ps_sigma_free(set);
    const char *yaml_bad = "title: [unclosed\n";
    assert_int_equal(ps_sigma_load_text(yaml_bad, strlen(yaml_bad), "y.yml", NULL, &set, &st), PS_OK);
    assert_int_equal(st.skipped[PS_SIGMA_SKIP_YAML], 1);
    ps_sigma_free(set);
}

/* System events with an EventID Qualifiers attribute keep the number at
 * Event.System.EventID.#text: `EventID: 7045` must still match. */
static void test_eventid_with_qualifiers(void **state)
{
    (void)state;
    static const char text[] =
        "title: new service\nid: 22222222-2222-2222-2222-222222222222\nlevel: high\n"
        "logsource: {product: windows, service: system}\n"
        "detection:\n  sel:\n    EventID: 7045\n    ServiceName: PSEXESVC\n  condition: sel\n";
    ps_sigma_set *set = NULL;
    assert_int_equal(ps_sigma_load_text(text, strlen(text), "t.yml", NULL, &set, NULL), PS_OK);
    test_event t;
    make_event(&t, "System", 7045,
               EV("Event.System.EventID.#text=7045", "Event.System.Channel=System",
                  "ServiceName=PSEXESVC"));
    ps_sigma_scratch *s = ps_sigma_scratch_new(set);
    assert_int_equal(ps_sigma_match(set, s, &t.ev, NULL, NULL), 1);
    ps_sigma_scratch_free(s);
    ps_sigma_free(set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eventid_with_qualifiers),
        cmocka_unit_test(test_maps_and_lists),      cmocka_unit_test(test_keywords),
        cmocka_unit_test(test_null_empty_missing),  cmocka_unit_test(test_numbers_and_bools),
        cmocka_unit_test(test_wildcards),           cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_position_modifiers),  cmocka_unit_test(test_all_modifier),
        cmocka_unit_test(test_cased),               cmocka_unit_test(test_base64),
        cmocka_unit_test(test_base64offset),        cmocka_unit_test(test_windash),
        cmocka_unit_test(test_re),                  cmocka_unit_test(test_cidr),
        cmocka_unit_test(test_numeric_compare),     cmocka_unit_test(test_exists),
        cmocka_unit_test(test_fieldref),            cmocka_unit_test(test_expand),
        cmocka_unit_test(test_bad_modifiers),       cmocka_unit_test(test_conditions),
        cmocka_unit_test(test_quantifiers),         cmocka_unit_test(test_bad_conditions),
        cmocka_unit_test(test_logsource_mapping),   cmocka_unit_test(test_system_fields),
        cmocka_unit_test(test_rule_info),           cmocka_unit_test(test_multi_document_and_errors),
        cmocka_unit_test(test_rule_collection_actions),
        cmocka_unit_test(test_security_variants),
        cmocka_unit_test(test_diag_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
