/* The Hyperscan prefilter must not change results: every test here matches
 * the same events against one rule set loaded with the prefilter and one
 * without, and wants the same rules reported in the same order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "plainsight/evtx.h"
#include "plainsight/sigma.h"
#include "sigma/sigma_internal.h"
#include "util/yaml_tree.h"
#include "util/buf.h"

#define MAX_HITS 256

typedef struct hit_list {
    size_t rule[MAX_HITS];
    int n;
} hit_list;

static int record_hit(void *ctx, const ps_sigma_rule_info *rule, size_t index, const ps_event *ev)
{
    (void)rule;
    (void)ev;
    hit_list *h = ctx;
    if (h->n < MAX_HITS)
        h->rule[h->n++] = index;
    return 0;
}

/* Both sets, loaded from the same input, and a scratch for each. */
typedef struct twin {
    ps_sigma_set *with, *without;
    ps_sigma_scratch *sw, *so;
    long events, matches, differences;
} twin;

static void twin_load(twin *t, const char *const *paths, size_t npaths, const char *text)
{
    memset(t, 0, sizeof *t);
    ps_sigma_options on = {0}, off = {.no_prefilter = 1};
    if (text) {
        assert_int_equal(ps_sigma_load_text(text, strlen(text), "t.yml", &on, &t->with, NULL), PS_OK);
        assert_int_equal(ps_sigma_load_text(text, strlen(text), "t.yml", &off, &t->without, NULL),
                         PS_OK);
    } else {
        assert_int_equal(ps_sigma_load(paths, npaths, &on, &t->with, NULL), PS_OK);
        assert_int_equal(ps_sigma_load(paths, npaths, &off, &t->without, NULL), PS_OK);
    }
    assert_null(t->without->prefilter.kw[SG_KW_LISTED].db);
    assert_null(t->without->prefilter.kw[SG_KW_EVERY].db);
    t->sw = ps_sigma_scratch_new(t->with);
    t->so = ps_sigma_scratch_new(t->without);
    assert_non_null(t->sw);
    assert_non_null(t->so);
}

static void twin_free(twin *t)
{
    ps_sigma_scratch_free(t->sw);
    ps_sigma_scratch_free(t->so);
    ps_sigma_free(t->with);
    ps_sigma_free(t->without);
}

/* Match one event both ways; returns the number of matches. */
static int twin_match(twin *t, const ps_event *ev)
{
    hit_list a = {0}, b = {0};
    int na = ps_sigma_match(t->with, t->sw, ev, record_hit, &a);
    int nb = ps_sigma_match(t->without, t->so, ev, record_hit, &b);
    t->events++;
    t->matches += nb;
    if (na != nb || a.n != b.n || memcmp(a.rule, b.rule, (size_t)a.n * sizeof a.rule[0]) != 0) {
        t->differences++;
        if (t->differences <= 5)
            printf("DIFF: %d matches with the prefilter, %d without (first rule %s)\n", na, nb,
                   nb > 0 ? ps_sigma_rule(t->without, b.rule[0])->id
                          : na > 0 ? ps_sigma_rule(t->with, a.rule[0])->id : "-");
    }
    return nb;
}

/* ---- hand-made events ------------------------------------------------------------ */

#define MAX_FIELDS 32

typedef struct ev_builder {
    ps_field f[MAX_FIELDS];
    char paths[MAX_FIELDS][128];
    char values[MAX_FIELDS][512];
    ps_event ev;
} ev_builder;

static void eb_init(ev_builder *b, const char *channel, uint32_t eid)
{
    memset(b, 0, sizeof *b);
    b->ev.fields = b->f;
    b->ev.channel = channel;
    b->ev.event_id = eid;
    b->ev.computer = b->ev.provider = b->ev.source = "";
}

static void eb_add(ev_builder *b, const char *path, const char *value, size_t len)
{
    if (b->ev.nfields >= MAX_FIELDS)
        return;
    uint32_t i = b->ev.nfields++;
    snprintf(b->paths[i], sizeof b->paths[i], "%s", path);
    if (len >= sizeof b->values[i])
        len = sizeof b->values[i] - 1;
    memcpy(b->values[i], value, len);
    b->values[i][len] = 0;
    const char *dot = strrchr(b->paths[i], '.');
    b->f[i] = (ps_field){.path = b->paths[i], .name = dot ? dot + 1 : b->paths[i],
                         .value = b->values[i], .path_len = (uint32_t)strlen(b->paths[i]),
                         .value_len = (uint32_t)len, .kind = PS_KIND_STRING};
    b->f[i].name_len = (uint32_t)strlen(b->f[i].name);
}

static void eb_data(ev_builder *b, const char *name, const char *value)
{
    char path[128];
    snprintf(path, sizeof path, "Event.EventData.%s", name);
    eb_add(b, path, value, strlen(value));
}

static const char semantics_rules[] =
    "title: not\nid: r-not\nlogsource: {product: windows, category: process_creation}\n"
    "detection:\n  sel: {Image|endswith: '\\cmd.exe'}\n  filter: {CommandLine|contains: 'harmless'}\n"
    "  condition: not filter\n---\n"
    "title: one of\nid: r-oneof\nlogsource: {product: windows, category: process_creation}\n"
    "detection:\n  sel_a: {CommandLine|contains: 'mimikatz'}\n  sel_b: {CommandLine|re: 'sek.rlsa'}\n"
    "  condition: 1 of sel_*\n---\n"
    "title: two of three\nid: r-twoof\nlogsource: {product: windows, category: process_creation}\n"
    "detection:\n  sel_a: {CommandLine|contains: 'alpha'}\n  sel_b: {CommandLine|contains: 'bravo'}\n"
    "  sel_c: {CommandLine|contains: 'charlie'}\n  condition: 2 of sel_*\n---\n"
    "title: keyword\nid: r-kw\nlogsource: {product: windows, category: process_creation}\n"
    "detection:\n  kw: ['EvilKeyword', 'OtherWord']\n  condition: kw\n---\n"
    "title: windash\nid: r-windash\nlogsource: {product: windows, category: process_creation}\n"
    "detection:\n  sel: {CommandLine|windash|contains: '-decode'}\n  condition: sel\n---\n"
    "title: b64off\nid: r-b64\nlogsource: {product: windows, category: process_creation}\n"
    "detection:\n  sel: {CommandLine|base64offset|contains: 'http://'}\n  condition: sel\n---\n"
    "title: cased\nid: r-cased\nlogsource: {product: windows, category: process_creation}\n"
    "detection:\n  sel: {CommandLine|cased|contains: 'AbCdEf'}\n  condition: sel\n---\n"
    "title: glob\nid: r-glob\nlogsource: {product: windows, category: process_creation}\n"
    "detection:\n  sel: {CommandLine: '*net?exe*user*/add*'}\n  condition: sel\n---\n"
    "title: int\nid: r-int\nlogsource: {product: windows, category: process_creation}\n"
    "detection:\n  sel: {ProcessId: 4660}\n  condition: sel\n---\n"
    "title: all\nid: r-all\nlogsource: {product: windows, category: process_creation}\n"
    "detection:\n  sel: {CommandLine|contains|all: ['xyzzy', 'plugh']}\n  condition: sel\n---\n"
    "title: and\nid: r-and\nlogsource: {product: windows, category: process_creation}\n"
    "detection:\n  img: {Image|endswith: ['\\powershell.exe', '\\pwsh.exe']}\n"
    "  cli: {CommandLine|contains: ['-encoded', 'bypass']}\n  condition: img and cli\n---\n"
    "title: all of\nid: r-allof\nlogsource: {product: windows, category: process_creation}\n"
    "detection:\n  sel_img: {Image|endswith: '\\wscript.exe'}\n  sel_cli: {CommandLine|contains: '\\temp\\'}\n"
    "  condition: all of sel_*\n---\n"
    "title: or of ands\nid: r-orand\nlogsource: {product: windows, category: process_creation}\n"
    "detection:\n  sel_a: {Image|endswith: '\\a1.exe', CommandLine|contains: 'aaaa1'}\n"
    "  sel_b: {Image|endswith: '\\b1.exe', CommandLine|contains: 'bbbb1'}\n"
    "  condition: sel_a or sel_b\n---\n"
    "title: or of uneven ands\nid: r-oruneven\nlogsource: {product: windows, category: process_creation}\n"
    "detection:\n  sel_1: {Image|contains: '\\wwwwww\\', CommandLine|contains: [xxxx1, xxxx2]}\n"
    "  sel_2: {CommandLine|contains: 'zzzzz'}\n"
    "  condition: 1 of sel_*\n---\n"
    "title: regex and\nid: r-reand\nlogsource: {product: windows, category: process_creation}\n"
    "detection:\n  img: {Image|endswith: '\\cmd.exe'}\n  cli: {CommandLine|re: 'echo +[a-z]+ *> *nul'}\n"
    "  condition: img and cli\n---\n"
    "title: weak second clause\nid: r-weak\nlogsource: {product: windows, category: process_creation}\n"
    "detection:\n  img: {Image|endswith: '\\ftp.exe'}\n  cli: {CommandLine|contains: ' -s'}\n"
    "  condition: img and cli\n---\n"
    "title: escape characters\nid: r-escape\nlogsource: {product: windows, category: process_creation}\n"
    "detection:\n  sel: {CommandLine|contains: ['^^', ' c^md', '`']}\n  condition: sel\n---\n"
    "title: all with a short first value\nid: r-allshort\n"
    "logsource: {product: windows, category: process_creation}\n"
    "detection:\n  sel_a: {CommandLine|contains|all: [' -w ', 'deltaaaa']}\n"
    "  sel_b: {CommandLine|contains: 'echooooo'}\n  condition: 1 of sel_*\n";

typedef struct sem_case {
    const char *image, *cmdline, *pid;
    const char *want;  /* ids that must match, space-separated ("" for none) */
} sem_case;

static int hit_has(const ps_sigma_set *set, const hit_list *h, const char *id)
{
    for (int i = 0; i < h->n; i++)
        if (strcmp(ps_sigma_rule(set, h->rule[i])->id, id) == 0)
            return 1;
    return 0;
}

static void test_semantics(void **state)
{
    (void)state;
    static const sem_case cases[] = {
        {"C:\\x\\notepad.exe", "harmless", "1", ""},
        {"C:\\x\\notepad.exe", "whatever", "1", "r-not"},
        {"x", "sekurlsa::logonpasswords", "1", "r-not r-oneof"},
        {"x", "ALPHA and Charlie", "1", "r-not r-twoof"},
        {"x", "bravo only", "1", "r-not"},
        {"x", "has evilkeyword inside", "1", "r-not r-kw"},
        {"x", "certutil /decode a b", "1", "r-not r-windash"},
        {"x", "certutil \xe2\x80\x95" "decode a b", "1", "r-not r-windash"},
        {"x", "aHR0cDovL2V2aWw=", "1", "r-not r-b64"},
        {"x", "abcdef", "1", "r-not"},
        {"x", "..AbCdEf..", "1", "r-not r-cased"},
        {"x", "NET.EXE USER bob /ADD", "1", "r-not r-glob"},
        {"x", "plugh xyzzy", "0x1234", "r-not r-all r-int"},
        {"x", "plugh", "4660", "r-not r-int"},
        {"C:\\x\\powershell.exe", "powershell -encoded abc", "1", "r-not r-and"},
        {"C:\\x\\pwsh.exe", "-ExecutionPolicy Bypass", "1", "r-not r-and"},
        {"C:\\x\\powershell.exe", "nothing", "1", "r-not"},
        {"C:\\x\\notepad.exe", "-encoded", "1", "r-not"},
        {"C:\\x\\wscript.exe", "c:\\TEMP\\a.vbs", "1", "r-not r-allof"},
        {"C:\\x\\wscript.exe", "a.js", "1", "r-not"},
        {"C:\\x\\ftp.exe", "ftp -s:x.txt", "1", "r-not r-weak"},
        {"C:\\x\\ftp.exe", "ftp x.txt", "1", "r-not"},
        {"C:\\x\\a1.exe", "aaaa1", "1", "r-not r-orand"},
        {"C:\\x\\a1.exe", "bbbb1", "1", "r-not"},
        {"C:\\x\\b1.exe", "bbbb1 aaaa1", "1", "r-not r-orand"},
        {"C:\\wwwwww\\a.exe", "xxxx2", "1", "r-not r-oruneven"},
        {"C:\\wwwwww\\a.exe", "nothing", "1", "r-not"},
        {"C:\\x\\a.exe", "xxxx1 zzzzz", "1", "r-not r-oruneven"},
        {"C:\\x\\cmd.exe", "echo   hi > nul", "1", "r-not r-reand"},
        {"C:\\x\\cmd.exe", "echo hi >nil", "1", "r-not"},
        {"x", "cmd /c e^^cho", "1", "r-not r-escape"},
        {"x", "IN`V`o`Ke-eXp`ResSIOn", "1", "r-not r-escape"},
        {"x", "cmd /c e^cho", "1", "r-not"},
        {"x", "echooooo -w x", "1", "r-not r-allshort"},
        {"x", "x -w DELTAAAA", "1", "r-not r-allshort"},
        {"x", "x -w deltaaa echoooo", "1", "r-not"},
    };
    twin t;
    twin_load(&t, NULL, 0, semantics_rules);
    assert_non_null(t.with->prefilter.kw[SG_KW_LISTED].db);
    /* an AND keeps a clause per branch, an OR of ANDs pairs every clause
     * of one with every clause of the other (so a branch of one clause
     * keeps both of the other's); a clause of short literals beside a
     * better one is dropped; a literal with cmd's or PowerShell's escape
     * character is looked for however short */
    static const struct { const char *id; unsigned clauses; } gates[] = {
        {"r-not", 0}, {"r-oneof", 1}, {"r-all", 2}, {"r-and", 2}, {"r-allof", 2},
        {"r-orand", 4}, {"r-oruneven", 2}, {"r-reand", 2}, {"r-weak", 1}, {"r-escape", 1}};
    for (size_t g = 0; g < sizeof gates / sizeof *gates; g++)
        for (uint32_t c = 0; c < t.with->ncompiled; c++)
            if (!strcmp(t.with->rules[t.with->compiled[c].rule].info.id, gates[g].id))
                assert_int_equal(__builtin_popcount(t.with->prefilter.gate[c]), gates[g].clauses);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ev_builder b;
        eb_init(&b, "Microsoft-Windows-Sysmon/Operational", 1);
        eb_data(&b, "Image", cases[i].image);
        eb_data(&b, "CommandLine", cases[i].cmdline);
        eb_data(&b, "ProcessId", cases[i].pid);
        twin_match(&t, &b.ev);
        hit_list h = {0};
        ps_sigma_match(t.with, t.sw, &b.ev, record_hit, &h);
        char want[256];
        snprintf(want, sizeof want, "%s", cases[i].want);
        int nwant = 0;
        for (char *tok = strtok(want, " "); tok; tok = strtok(NULL, " "), nwant++)
            if (!hit_has(t.with, &h, tok))
                fail_msg("case %zu: %s does not match", i, tok);
        if (h.n != nwant)
            fail_msg("case %zu: %d rules match, not %d", i, h.n, nwant);
    }
    assert_int_equal(t.differences, 0);
    twin_free(&t);
}

/* ---- random events built from the rules' own values -------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return n ? (uint32_t)(rng_state % n) : 0;
}

/* Text that may (or nearly) satisfy value v. */
static size_t value_text(const sg_value *v, char *out, size_t cap)
{
    static const char junk[] = "abcXYZ019 \\/.-_:";
    size_t n = 0;
    if (rnd(3) == 0)
        for (uint32_t k = rnd(6); k-- > 0 && n < cap;)
            out[n++] = junk[rnd(sizeof junk - 1)];
    if (v->kind == SV_STRING && v->lit) {
        for (uint32_t k = 0; k < v->lit_len && n < cap; k++) {
            char c = v->lit[k];
            if (v->glob && v->glob[k] != GL_LIT)
                c = junk[rnd(sizeof junk - 1)];
            else if (!v->cased && c >= 'a' && c <= 'z' && rnd(2))
                c = (char)(c - 'a' + 'A');
            out[n++] = c;
        }
        if (n && rnd(8) == 0)
            out[rnd((uint32_t)n)] = junk[rnd(sizeof junk - 1)]; /* a near miss */
    } else {
        for (uint32_t k = 1 + rnd(8); k-- > 0 && n < cap;)
            out[n++] = junk[rnd(sizeof junk - 1)];
    }
    if (rnd(3) == 0)
        for (uint32_t k = rnd(6); k-- > 0 && n < cap;)
            out[n++] = junk[rnd(sizeof junk - 1)];
    return n;
}

static void add_map_fields(ev_builder *b, const ps_sigma_set *set, const sg_map *m)
{
    for (uint32_t i = 0; i < m->n; i++) {
        const sg_field_match *fm = &m->items[i];
        if (!fm->nvalues || rnd(10) < 2)
            continue;
        char text[400], path[160];
        size_t len = value_text(&fm->values[rnd(fm->nvalues)], text, sizeof text);
        snprintf(path, sizeof path, "Event.EventData.%s",
                 fm->sym >= 0 ? set->syms.keys[fm->sym] : "Payload");
        eb_add(b, path, text, len);
    }
}

static void random_event(ev_builder *b, const ps_sigma_set *set, char *eid_text, size_t eid_cap)
{
    const sg_compiled *c;
    do
        c = &set->compiled[rnd(set->ncompiled)];
    while (!c->variant || !c->variant->nchannels);
    const sg_variant_def *v = c->variant;
    uint32_t eid = v->neids ? v->eids[rnd(v->neids)] : 1 + rnd(30);
    eb_init(b, v->channels[rnd(v->nchannels)], eid);
    snprintf(eid_text, eid_cap, "%u", eid);
    eb_add(b, "Event.System.EventID", eid_text, strlen(eid_text));
    eb_add(b, "Event.System.Channel", b->ev.channel, strlen(b->ev.channel));
    add_map_fields(b, set, &c->extra);
    for (uint32_t s = 0; s < c->det.nsel; s++)
        for (uint32_t m = 0; m < c->det.sel[s].nmaps; m++)
            if (rnd(c->det.sel[s].nmaps) == 0 || rnd(4) == 0)
                add_map_fields(b, set, &c->det.sel[s].maps[m]);
}

/* ---- fields of equalities only ---------------------------------------------------- */

/* A field whose literals are all whole values compared for equality is
 * looked up in a table instead of scanned: equal values in any case (or the
 * exact case with `cased`), and values that merely hold a literal, must match
 * as without the prefilter. */
static void test_exact_fields(void **state)
{
    (void)state;
    static const char rules[] =
        "title: exact\nid: r-exact\nlogsource: {product: windows, service: security}\n"
        "detection:\n  sel:\n    EventID: 4625\n    Status: ['0xC000006D', '0xc0000064']\n"
        "    SubStatus|cased: 'AbCdEf'\n  condition: sel\n---\n"
        "title: exact or contains\nid: r-mixed\nlogsource: {product: windows, service: security}\n"
        "detection:\n  a: {EventID: 4625, Workstation: 'KALIBOX'}\n"
        "  b: {EventID: 4625, Workstation|contains: 'evil'}\n  condition: a or b\n";
    twin t;
    twin_load(&t, NULL, 0, rules);
    int32_t st = sg_sym_find(&t.with->syms, "status", 6);
    int32_t ws = sg_sym_find(&t.with->syms, "workstation", 11);
    assert_true(st >= 0 && ws >= 0);
    assert_non_null(t.with->prefilter.field_exact[st]);
    assert_null(t.with->prefilter.field_exact[ws]); /* a contains beside the equality */
    static const char *const status[] = {"0xC000006D", "0xc000006d", "0XC000006D", "0xC000006",
                                         "0xC000006DD", "x0xC000006D", "0xc0000064", ""};
    static const char *const sub[] = {"AbCdEf", "abcdef", "ABCDEF", "AbCdEfG"};
    static const char *const wks[] = {"KALIBOX", "kalibox", "KALIBOX2", "my-evil-pc", "pc"};
    long matches = 0;
    for (size_t i = 0; i < sizeof status / sizeof *status; i++)
        for (size_t j = 0; j < sizeof sub / sizeof *sub; j++)
            for (size_t k = 0; k < sizeof wks / sizeof *wks; k++) {
                ev_builder b;
                eb_init(&b, "Security", 4625);
                eb_add(&b, "Event.System.EventID", "4625", 4);
                eb_data(&b, "Status", status[i]);
                eb_data(&b, "SubStatus", sub[j]);
                eb_data(&b, "Workstation", wks[k]);
                matches += twin_match(&t, &b.ev);
            }
    assert_int_equal(t.differences, 0);
    /* r-exact: 4 statuses x 1 substatus x 5 workstations; r-mixed: 3 of 5 */
    assert_int_equal(matches, 4 * 5 + 8 * 4 * 3);
    twin_free(&t);
}

/* ---- keyed fields ----------------------------------------------------------------- */

/* A field whose literals each hold one '=' and share a few forms (Hashes:
 * "MD5=" and 32 hex digits) is looked up at each '=' of its values instead
 * of scanned: a literal anywhere in a value, in any case (or the exact one
 * with `cased`), must match as without the prefilter, and nothing else. */
static void test_keyed_fields(void **state)
{
    (void)state;
    static const char rules[] =
        "title: hashes\nid: r-hash\nlogsource: {product: windows, category: process_creation}\n"
        "detection:\n  sel:\n    Hashes|contains:\n"
        "      - 'MD5=0123456789ABCDEF0123456789ABCDEF'\n"
        "      - 'MD5=FFFF456789ABCDEF0123456789ABCDEF'\n"
        "      - 'IMPHASH=FEDCBA9876543210FEDCBA9876543210'\n"
        "  condition: sel\n---\n"
        "title: cased hash\nid: r-hash-cased\nlogsource: {product: windows, category: process_creation}\n"
        "detection:\n  sel: {Hashes|cased|contains: 'SHA1=AbC'}\n  condition: sel\n";
    twin t;
    twin_load(&t, NULL, 0, rules);
    int32_t hs = sg_sym_find(&t.with->syms, "hashes", 6);
    assert_true(hs >= 0);
    const sg_exact_table *keyed = t.with->prefilter.field_exact[hs];
    assert_non_null(keyed);
    assert_int_equal(keyed->nforms, 3); /* md5= of 36, imphash= of 40, cased SHA1= of 8 */
    static const struct { const char *hashes; int matches; } cases[] = {
        {"SHA1=00,MD5=0123456789ABCDEF0123456789ABCDEF,IMPHASH=00", 1},
        {"md5=0123456789abcdef0123456789abcdef", 1},
        {"XMD5=0123456789ABCDEF0123456789ABCDEFFF", 1},  /* inside a longer text */
        {"MD5=0123456789ABCDEF0123456789ABCDE", 0},      /* one digit short */
        {"MD5==0123456789ABCDEF0123456789ABCDEF", 0},
        {"MD5=0123456789ABCDEF=123456789ABCDEF", 0},
        {"MD5=FFFF456789ABCDEF0123456789ABCDEF,IMPHASH=FEDCBA9876543210FEDCBA9876543210", 1},
        {"IMPHASH=FEDCBA9876543210FEDCBA9876543210", 1},
        {"SHA1=AbC", 1}, {"SHA1=abc", 0}, {"xSHA1=AbCd", 1},
        {"=MD5=0123456789ABCDEF0123456789ABCDEF=", 1},
        {"=", 0}, {"MD5=", 0}, {"", 0}, {"no equals sign", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        ev_builder b;
        eb_init(&b, "Microsoft-Windows-Sysmon/Operational", 1);
        eb_data(&b, "Hashes", cases[i].hashes);
        if (twin_match(&t, &b.ev) != cases[i].matches)
            fail_msg("case %zu: %s", i, cases[i].hashes);
    }
    assert_int_equal(t.differences, 0);
    twin_free(&t);
}

/* ---- remembered scans and regex results ------------------------------------------ */

/* The matcher remembers a field's scan by its value (for databases of many
 * literals) and a regex's result on long values: values that come back,
 * values that differ from a remembered one in one byte, and more values
 * than the memories hold must all match as without the prefilter. */
static void test_memos(void **state)
{
    (void)state;
    ps_buf y;
    ps_buf_init(&y);
    ps_buf_printf(&y, "title: words\nid: r-words\n"
                      "logsource: {product: windows, category: process_creation}\n"
                      "detection:\n  sel:\n    CommandLine|contains:\n");
    for (int w = 0; w < 100; w++)
        ps_buf_printf(&y, "      - 'word%03d'\n", w);
    ps_buf_printf(&y, "  condition: sel\n---\n"
                      "title: long regex\nid: r-longre\n"
                      "logsource: {product: windows, category: process_creation}\n"
                      "detection:\n  sel:\n    CommandLine|re: 'word0[0-4][0-9].*x{3}'\n"
                      "  condition: sel\n");
    twin t;
    twin_load(&t, NULL, 0, ps_buf_cstr(&y));
    ps_buf_free(&y);
    enum { POOL = 6000, LEN = 480 };
    char (*pool)[LEN] = malloc(POOL * sizeof *pool);
    size_t *len = malloc(POOL * sizeof *len);
    assert_non_null(pool);
    assert_non_null(len);
    for (int i = 0; i < POOL; i++) {
        len[i] = 260 + rnd(200);
        for (size_t k = 0; k < len[i]; k++)
            pool[i][k] = "abxwor d0123"[rnd(12)];
        for (uint32_t n = rnd(3); n-- > 0;) /* a word or two somewhere */
            memcpy(pool[i] + rnd((uint32_t)len[i] - 8), "word0", 5);
        pool[i][len[i]] = 0;
    }
    long matches = 0;
    for (int r = 0; r < 40000; r++) {
        /* mostly recent values, now and then one from far back */
        int i = rnd(4) ? (r / 8 + (int)rnd(64)) % POOL : (int)rnd(POOL);
        char value[LEN];
        memcpy(value, pool[i], len[i] + 1);
        if (rnd(8) == 0) /* one byte changed, same length */
            value[rnd((uint32_t)len[i])] = "xw0"[rnd(3)];
        ev_builder b;
        eb_init(&b, "Microsoft-Windows-Sysmon/Operational", 1);
        eb_add(&b, "Event.System.EventID", "1", 1);
        eb_data(&b, "CommandLine", value);
        matches += twin_match(&t, &b.ev);
    }
    printf("memos: %ld events, %ld matches, %ld differences\n", t.events, matches,
           t.differences);
    assert_int_equal(t.differences, 0);
    assert_true(matches > 1000);
    free(pool);
    free(len);
    twin_free(&t);
}

/* ---- keyword scans and typed values ---------------------------------------------- */

static const char typed_keyword_rules[] =
    "title: tool words\nid: r-tool\nlogsource: {product: windows}\n"
    "detection:\n  keywords: ['lsadump::', 'sekurlsa::']\n  condition: keywords\n";

static const char sid_keyword_rules[] =
    "title: system sid\nid: r-sid\nlogsource: {product: windows}\n"
    "detection:\n  keywords: ['lsadump::', 's-1-5-18']\n  condition: keywords\n";

/* One event: a typed SID field and a string command line. */
static void typed_event(ev_builder *b, const char *sid, const char *cmd)
{
    eb_init(b, "Security", 4688);
    eb_data(b, "SubjectUserSid", sid);
    b->f[b->ev.nfields - 1].typed = 1;
    eb_data(b, "CommandLine", cmd);
}

/* The keyword scan leaves typed values (numbers, SIDs, GUIDs, times) out
 * only when no keyword literal could occur in such text; either way the
 * results are those without the prefilter. */
static void test_typed_values(void **state)
{
    (void)state;
    twin t;
    ev_builder b;
    twin_load(&t, NULL, 0, typed_keyword_rules);
    assert_int_equal(t.with->prefilter.kw[SG_KW_EVERY].skips_typed, 1);
    typed_event(&b, "S-1-5-18", "x.exe lsadump::sam");
    assert_int_equal(twin_match(&t, &b.ev), 1);
    typed_event(&b, "S-1-5-18", "x.exe");
    assert_int_equal(twin_match(&t, &b.ev), 0);
    assert_int_equal(t.differences, 0);
    twin_free(&t);

    twin_load(&t, NULL, 0, sid_keyword_rules); /* 's-1-5-18' can be a typed text */
    assert_int_equal(t.with->prefilter.kw[SG_KW_EVERY].skips_typed, 0);
    typed_event(&b, "S-1-5-18", "x.exe");
    assert_int_equal(twin_match(&t, &b.ev), 1);
    typed_event(&b, "S-1-5-20", "x.exe lsadump::sam");
    assert_int_equal(twin_match(&t, &b.ev), 1);
    typed_event(&b, "S-1-5-20", "x.exe");
    assert_int_equal(twin_match(&t, &b.ev), 0);
    assert_int_equal(t.differences, 0);
    twin_free(&t);
}

static const char two_keyword_dbs_rules[] =
    "title: everywhere\nid: r-every\nlogsource: {product: windows}\n"
    "detection:\n  keywords: ['lsadump::']\n  filter: {EventID: 15}\n"
    "  condition: keywords and not filter\n---\n"
    "title: in process creation\nid: r-proc\n"
    "logsource: {product: windows, category: process_creation}\n"
    "detection:\n  keywords: ['lsadump::', 'mimikatz']\n  condition: keywords\n";

/* Keywords of rules of every event and of one category's rules go to two
 * databases (a literal of both kinds to both); events of the category and
 * of other channels match as without the prefilter. */
static void test_two_keyword_dbs(void **state)
{
    (void)state;
    twin t;
    twin_load(&t, NULL, 0, two_keyword_dbs_rules);
    assert_non_null(t.with->prefilter.kw[SG_KW_EVERY].db);
    assert_non_null(t.with->prefilter.kw[SG_KW_LISTED].db);
    static const char *const cmds[] = {"x lsadump::sam", "mimikatz.exe", "x", "MIMIKATZ lsadump::"};
    static const struct { const char *channel; uint32_t eid; } where[] = {
        {"Microsoft-Windows-Sysmon/Operational", 1}, {"Security", 4688},
        {"Microsoft-Windows-Sysmon/Operational", 15}, {"System", 7045}};
    long matches = 0;
    for (size_t w = 0; w < sizeof where / sizeof where[0]; w++)
        for (size_t c = 0; c < sizeof cmds / sizeof cmds[0]; c++) {
            ev_builder b;
            char eid[16];
            eb_init(&b, where[w].channel, where[w].eid);
            snprintf(eid, sizeof eid, "%u", where[w].eid);
            eb_add(&b, "Event.System.EventID", eid, strlen(eid));
            eb_data(&b, "CommandLine", cmds[c]);
            matches += twin_match(&t, &b.ev);
        }
    assert_int_equal(t.differences, 0);
    assert_true(matches >= 6);
    twin_free(&t);
}

/* Long lists of a field read their values' literal ids side by side
 * (sg_field_match.ids) and pass over the unseen ones: every value of each
 * list must still match on its own, the `all` list only with every value,
 * and a field written twice by either of its values. */
static const char long_list_rules[] =
    "title: long or\nid: r-long\nlogsource: {product: windows, category: image_load}\n"
    "detection:\n  sel:\n    ImageLoaded|endswith: ['\\aaa1.dll', '\\bbb2.dll', '\\ccc3.dll',"
    " '\\ddd4.dll', '\\eee5.dll', '\\fff6.dll', '\\ggg7.dll', '\\hhh8.dll', '\\i?i9.dll',"
    " '\\jjj*.ocx', 4660]\n  condition: sel\n---\n"
    "title: long re\nid: r-longre\nlogsource: {product: windows, category: image_load}\n"
    "detection:\n  sel:\n    ImageLoaded|re: ['kkk[0-9]\\.dll', 'lll[0-9]\\.dll', 'mmm[0-9]\\.dll',"
    " 'nnn[0-9]\\.dll', 'ooo[0-9]\\.dll', 'ppp[0-9]\\.dll', 'qqq[0-9]\\.dll', 'r.r']\n"
    "  condition: sel\n---\n"
    "title: long all\nid: r-longall\nlogsource: {product: windows, category: image_load}\n"
    "detection:\n  sel:\n    ImageLoaded|contains|all: ['alpha', 'bravo', 'charlie', 'delta',"
    " 'echo', 'foxtrot', 'golf', 'hotel']\n  condition: sel\n";

static const sg_field_match *first_item(const ps_sigma_set *set, const char *id)
{
    for (uint32_t i = 0; i < set->ncompiled; i++) {
        const sg_compiled *c = &set->compiled[i];
        if (strcmp(set->rules[c->rule].info.id, id) == 0)
            return &c->det.sel[0].maps[0].items[0];
    }
    return NULL;
}

static void test_long_lists(void **state)
{
    (void)state;
    twin t;
    twin_load(&t, NULL, 0, long_list_rules);
    const sg_field_match *fm = first_item(t.with, "r-long");
    assert_non_null(fm);
    assert_non_null(fm->ids);
    assert_null(first_item(t.without, "r-long")->ids);
    static const char *const one[] = {
        "C:\\x\\AAA1.dll", "C:\\x\\ddd4.dll", "C:\\x\\hhh8.dll", "C:\\x\\iZi9.dll",
        "C:\\x\\jjj-anything.ocx", "4660", "C:\\x\\kkk7.dll", "C:\\x\\qqq1.dll", "rxr",
        "alpha bravo charlie delta echo foxtrot golf hotel", "alpha bravo charlie delta echo",
        "C:\\x\\zzz.dll", "", "C:\\x\\hhh8.dllx"};
    static const int want[] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0};
    for (size_t i = 0; i < sizeof one / sizeof one[0]; i++) {
        ev_builder b;
        eb_init(&b, "Microsoft-Windows-Sysmon/Operational", 7);
        eb_add(&b, "Event.System.EventID", "7", 1);
        eb_data(&b, "ImageLoaded", one[i]);
        int n = twin_match(&t, &b.ev);
        if ((n > 0) != want[i])
            printf("long lists: %s: %d matches\n", one[i], n);
        assert_int_equal(n > 0, want[i]);
    }
    /* Two values of the field: the second one holds the literal. */
    ev_builder b;
    eb_init(&b, "Microsoft-Windows-Sysmon/Operational", 7);
    eb_add(&b, "Event.System.EventID", "7", 1);
    eb_data(&b, "ImageLoaded", "C:\\x\\none.dll");
    eb_data(&b, "ImageLoaded", "C:\\x\\fff6.dll");
    assert_int_equal(twin_match(&t, &b.ev), 1);
    assert_int_equal(t.differences, 0);
    twin_free(&t);
}

static void test_random_events(void **state)
{
    (void)state;
    const char *corpus = getenv("PS_SHARED_CORPUS");
    char rules[1024];
    snprintf(rules, sizeof rules, "%s/sigma/rules/windows", corpus ? corpus : "../shared/corpus");
    struct stat st;
    if (stat(rules, &st) != 0) {
        fprintf(stderr, "SKIP: %s not found\n", rules);
        skip();
    }
    const char *p = rules;
    twin t;
    twin_load(&t, &p, 1, NULL);
    for (int i = 0; i < 8000; i++) {
        ev_builder b;
        char eid[16];
        random_event(&b, t.without, eid, sizeof eid);
        twin_match(&t, &b.ev);
    }
    printf("random events: %ld events, %ld matches, %ld differences; prefilter: %u literals\n",
           t.events, t.matches, t.differences, t.with->prefilter.nlits);
    assert_true(t.matches > 1000);
    assert_int_equal(t.differences, 0);
    twin_free(&t);
}

/* ---- SigmaHQ's regression suite, both ways --------------------------------------------- */

typedef struct info_ctx { char evtx[1024], rule_dir[1024]; const char *root; int ok; } info_ctx;

static int on_info(void *ctx, yt_node *root, uint32_t line)
{
    (void)line;
    info_ctx *ic = ctx;
    const yt_node *tests = yt_get(root, "regression_tests_info");
    if (!tests || tests->type != YT_SEQ || !tests->n)
        return 1;
    const char *path = yt_get_str(tests->items[0], "path");
    if (path) {
        snprintf(ic->evtx, sizeof ic->evtx, "%s/sigma-regression/%s", ic->root, path);
        ic->ok = 1;
    }
    return 1;
}

static int read_info(const char *corpus, const char *info_path, info_ctx *ic)
{
    FILE *f = fopen(info_path, "rb");
    if (!f)
        return -1;
    char buf[16384];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    ps_arena a;
    ps_arena_init(&a, 16384, 1 << 20);
    memset(ic, 0, sizeof *ic);
    ic->root = corpus;
    char err[128];
    uint32_t line;
    yt_parse(buf, n, &a, on_info, ic, err, sizeof err, &line);
    ps_arena_free(&a);
    const char *rel = strstr(info_path, "/regression_data/");
    if (!ic->ok || !rel)
        return -1;
    rel += strlen("/regression_data/");
    snprintf(ic->rule_dir, sizeof ic->rule_dir, "%s/sigma/%s", corpus, rel);
    for (int up = 0; up < 2; up++) { /* drop "/info.yml" and the rule's own folder */
        char *slash = strrchr(ic->rule_dir, '/');
        if (slash)
            *slash = 0;
    }
    return 0;
}

static int on_event(void *ctx, unsigned worker, const ps_event *ev)
{
    (void)worker;
    twin_match(ctx, ev);
    return 0;
}

/* Every EVTX of the suite against every SigmaHQ rule at once (one load, so
 * one prefilter database of all the corpus's literals). */
static void test_regression_both_ways(void **state)
{
    (void)state;
    const char *corpus = getenv("PS_SHARED_CORPUS");
    if (!corpus)
        corpus = "../shared/corpus";
    char cmd[4200], rules[1024];
    snprintf(cmd, sizeof cmd, "%s/sigma-regression/regression_data", corpus);
    snprintf(rules, sizeof rules, "%s/sigma", corpus);
    struct stat st;
    if (stat(cmd, &st) != 0 || stat(rules, &st) != 0) {
        fprintf(stderr, "SKIP: SigmaHQ regression data not found at %s\n", cmd);
        skip();
    }
    snprintf(cmd, sizeof cmd, "find '%s/sigma-regression/regression_data' -name info.yml | sort",
             corpus);
    FILE *list = popen(cmd, "r");
    assert_non_null(list);
    const char *p = rules;
    twin t;
    twin_load(&t, &p, 1, NULL);
    char info[2048];
    int files = 0;
    while (fgets(info, sizeof info, list)) {
        info[strcspn(info, "\n")] = 0;
        info_ctx ic;
        if (read_info(corpus, info, &ic) != 0 || stat(ic.evtx, &st) != 0)
            continue;
        ps_evtx_options eo = {.threads = 1, .defer_values = 1}; /* as hunt reads them */
        const char *evtx = ic.evtx;
        ps_evtx_events(&evtx, 1, &eo, on_event, &t, NULL);
        files++;
    }
    pclose(list);
    printf("regression both ways: %d EVTX files, %ld events, %ld matches, %ld differences\n", files,
           t.events, t.matches, t.differences);
    assert_true(files > 0);
    assert_true(t.matches >= files);
    assert_int_equal(t.differences, 0);
    twin_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_semantics),
        cmocka_unit_test(test_memos),
        cmocka_unit_test(test_typed_values),
        cmocka_unit_test(test_two_keyword_dbs),
        cmocka_unit_test(test_exact_fields),
        cmocka_unit_test(test_keyed_fields),
        cmocka_unit_test(test_long_lists),
        cmocka_unit_test(test_random_events),
        cmocka_unit_test(test_regression_both_ways),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
