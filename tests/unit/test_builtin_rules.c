/* The built-in rule pack (rules/builtin): every rule loads, carries the
 * metadata the pack promises (fresh id, author, level, ATT&CK tags), and a
 * few hand-built events show the trickier conditions work as meant. The
 * demo test checks the pack end to end on the demo story. */
#include <ctype.h>
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "plainsight/sigma.h"
#include "sigma/builtin.h"

static int diag_count;
static void count_diag(void *ctx, const ps_diag *d)
{
    (void)ctx;
    fprintf(stderr, "diag: %s:%llu: %s\n", d->path ? d->path : "", (unsigned long long)d->offset,
            d->message);
    diag_count++;
}

static ps_sigma_set *load_pack(ps_sigma_stats *st)
{
    ps_sigma_options opt = {.diag = count_diag};
    ps_sigma_set *set = NULL;
    diag_count = 0;
    assert_int_equal(ps_sigma_load_builtin(NULL, 0, &opt, &set, st), PS_OK);
    assert_non_null(set);
    return set;
}

/* Rules in rules/builtin, counted from the source tree (the pack built into
 * the library must be all of them). -1 when the tree is not at hand. */
static int count_rule_files(void)
{
    const char *src = getenv("PS_SOURCE_DIR");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/rules/builtin", src ? src : ".");
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        n += len > 4 && !strcmp(e->d_name + len - 4, ".yml");
    }
    closedir(d);
    return n;
}

static void test_every_rule_loads(void **state)
{
    (void)state;
    ps_sigma_stats st;
    ps_sigma_set *set = load_pack(&st);
    assert_int_equal(st.rules_skipped, 0);
    assert_int_equal(st.rules_unmapped, 0);
    assert_int_equal(diag_count, 0);
    assert_true(st.rules_loaded >= 20);
    assert_int_equal(ps_sigma_rule_count(set), st.rules_loaded);
    int files = count_rule_files();
    if (files >= 0)
        assert_int_equal(files, (int)st.rules_loaded);
    ps_sigma_free(set);
}

static int is_uuid(const char *s)
{
    static const char shape[] = "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx";
    if (strlen(s) != sizeof shape - 1)
        return 0;
    for (size_t i = 0; shape[i]; i++) {
        if (shape[i] == '-' || shape[i] == '4') {
            if (s[i] != shape[i])
                return 0;
        } else if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i])) {
            return 0;
        } else if (shape[i] == 'y' && !strchr("89ab", s[i])) {
            return 0;
        }
    }
    return 1;
}

static int is_technique_tag(const char *t)
{
    /* attack.tNNNN or attack.tNNNN.NNN */
    if (strncmp(t, "attack.t", 8))
        return 0;
    const char *p = t + 8;
    for (int i = 0; i < 4; i++)
        if (!isdigit((unsigned char)*p++))
            return 0;
    if (!*p)
        return 1;
    if (*p++ != '.')
        return 0;
    for (int i = 0; i < 3; i++)
        if (!isdigit((unsigned char)*p++))
            return 0;
    return !*p;
}

static int is_tactic_tag(const char *t)
{
    static const char *const tactics[] = {
        "attack.initial-access", "attack.execution", "attack.persistence",
        "attack.privilege-escalation", "attack.defense-evasion", "attack.credential-access",
        "attack.discovery", "attack.lateral-movement", "attack.collection",
        "attack.command-and-control", "attack.exfiltration", "attack.impact"};
    for (size_t i = 0; i < sizeof tactics / sizeof tactics[0]; i++)
        if (!strcmp(t, tactics[i]))
            return 1;
    return 0;
}

static void test_rule_metadata(void **state)
{
    (void)state;
    ps_sigma_stats st;
    ps_sigma_set *set = load_pack(&st);
    size_t n = ps_sigma_rule_count(set);
    for (size_t i = 0; i < n; i++) {
        const ps_sigma_rule_info *r = ps_sigma_rule(set, i);
        if (!is_uuid(r->id))
            fail_msg("rule '%s': id '%s' is not a lower-case v4 UUID", r->title, r->id);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(ps_sigma_rule(set, j)->id, r->id))
                fail_msg("rule '%s': id shared with '%s'", r->title, ps_sigma_rule(set, j)->title);
        assert_string_equal(r->author, "plainsight");
        assert_true(strlen(r->title) > 10);
        assert_true(strlen(r->description) > 40);
        assert_string_equal(r->status, "experimental");
        assert_non_null(strstr(" low medium high critical ", r->level));
        int tactics = 0, techniques = 0;
        for (uint32_t t = 0; t < r->ntags; t++) {
            tactics += is_tactic_tag(r->tags[t]);
            techniques += is_technique_tag(r->tags[t]);
            if (!is_tactic_tag(r->tags[t]) && !is_technique_tag(r->tags[t]))
                fail_msg("rule '%s': tag '%s' is neither a tactic nor a technique", r->title,
                         r->tags[t]);
        }
        if (!tactics || !techniques)
            fail_msg("rule '%s': wants at least one tactic and one technique tag", r->title);
    }
    ps_sigma_free(set);
}

/* ------------------------------------------------ hand-built events */

#define MAX_FIELDS 12

typedef struct test_event {
    ps_field fields[MAX_FIELDS];
    char paths[MAX_FIELDS][96];
    char eid_text[12];
    ps_event ev;
} test_event;

static void add_field(test_event *t, const char *path, const char *value, uint8_t kind)
{
    assert_true(t->ev.nfields < MAX_FIELDS);
    uint32_t i = t->ev.nfields++;
    snprintf(t->paths[i], sizeof t->paths[i], "%s", path);
    ps_field *f = &t->fields[i];
    f->path = t->paths[i];
    f->path_len = (uint32_t)strlen(f->path);
    f->name = strrchr(f->path, '.') + 1;
    f->name_len = (uint32_t)strlen(f->name);
    f->value = value;
    f->value_len = (uint32_t)strlen(value);
    f->kind = kind;
}

/* An event of `channel`/`eid` from "Name=value" EventData pairs (NULL-ended). */
static void make_event(test_event *t, const char *channel, const char *provider, uint32_t eid,
                       const char *const *pairs)
{
    memset(t, 0, sizeof *t);
    t->ev.fields = t->fields;
    snprintf(t->eid_text, sizeof t->eid_text, "%u", eid);
    add_field(t, "Event.System.Provider.#attributes.Name", provider, PS_KIND_STRING);
    add_field(t, "Event.System.EventID", t->eid_text, PS_KIND_INT);
    add_field(t, "Event.System.Channel", channel, PS_KIND_STRING);
    for (size_t i = 0; pairs[i]; i++) {
        const char *eq = strchr(pairs[i], '=');
        char path[96];
        snprintf(path, sizeof path, "Event.EventData.%.*s", (int)(eq - pairs[i]), pairs[i]);
        add_field(t, path, eq + 1, PS_KIND_STRING);
    }
    t->ev.event_id = eid;
    t->ev.channel = channel;
    t->ev.provider = provider;
    t->ev.computer = t->ev.source = "";
}

typedef struct found {
    const char *want_title;
    int hits;
} found;

static int on_match(void *ctx, const ps_sigma_rule_info *rule, size_t index, const ps_event *ev)
{
    (void)index, (void)ev;
    found *f = ctx;
    f->hits += !strcmp(rule->title, f->want_title);
    return 0;
}

static int rule_hits(const ps_sigma_set *set, const char *title, const test_event *t)
{
    ps_sigma_scratch *scratch = ps_sigma_scratch_new(set);
    assert_non_null(scratch);
    found f = {title, 0};
    assert_true(ps_sigma_match(set, scratch, &t->ev, on_match, &f) >= 0);
    ps_sigma_scratch_free(scratch);
    return f.hits;
}

#define SECURITY "Security", "Microsoft-Windows-Security-Auditing"
#define SYSMON "Microsoft-Windows-Sysmon/Operational", "Microsoft-Windows-Sysmon"

static void test_rdp_public_address(void **state)
{
    (void)state;
    ps_sigma_set *set = load_pack(NULL);
    const char *title = "Remote Desktop Logon From a Public Address";
    test_event t;
    make_event(&t, SECURITY, 4624,
               (const char *[]){"LogonType=10", "IpAddress=203.0.113.45", NULL});
    assert_int_equal(rule_hits(set, title, &t), 1);
    make_event(&t, SECURITY, 4624,
               (const char *[]){"LogonType=10", "IpAddress=172.20.4.9", NULL});
    assert_int_equal(rule_hits(set, title, &t), 0);
    make_event(&t, SECURITY, 4624,
               (const char *[]){"LogonType=10", "IpAddress=fe80::1c2:3", NULL});
    assert_int_equal(rule_hits(set, title, &t), 0);
    make_event(&t, SECURITY, 4624,
               (const char *[]){"LogonType=3", "IpAddress=203.0.113.45", NULL});
    assert_int_equal(rule_hits(set, title, &t), 0);
    ps_sigma_free(set);
}

static void test_explicit_credentials_target(void **state)
{
    (void)state;
    ps_sigma_set *set = load_pack(NULL);
    const char *title = "Explicit Credentials Used Toward Another Host";
    test_event t;
    make_event(&t, SECURITY, 4648,
               (const char *[]){"TargetServerName=CORP-FS01", "ProcessName=C:\\Tools\\PsExec64.exe",
                                NULL});
    assert_int_equal(rule_hits(set, title, &t), 1);
    make_event(&t, SECURITY, 4648,
               (const char *[]){"TargetServerName=localhost",
                                "ProcessName=C:\\Windows\\System32\\svchost.exe", NULL});
    assert_int_equal(rule_hits(set, title, &t), 0);
    ps_sigma_free(set);
}

/* windash: the same switch written with '-' or '/' is one rule hit. */
static void test_windash_switches(void **state)
{
    (void)state;
    ps_sigma_set *set = load_pack(NULL);
    const char *title = "Scheduled Task Created on a Remote Host With Schtasks";
    test_event t;
    make_event(&t, SYSMON, 1,
               (const char *[]){"Image=C:\\Windows\\System32\\schtasks.exe",
                                "CommandLine=schtasks -create -s CORP-DC01 -tn x -tr y", NULL});
    assert_int_equal(rule_hits(set, title, &t), 1);
    make_event(&t, SYSMON, 1,
               (const char *[]){"Image=C:\\Windows\\System32\\schtasks.exe",
                                "CommandLine=schtasks /create /tn x /tr y /sc daily", NULL});
    assert_int_equal(rule_hits(set, title, &t), 0);
    ps_sigma_free(set);
}

/* Security 4688 names the image NewProcessName; the process_creation rules
 * must see it through the logsource table's rename. */
static void test_security_4688_rename(void **state)
{
    (void)state;
    ps_sigma_set *set = load_pack(NULL);
    test_event t;
    make_event(&t, SECURITY, 4688,
               (const char *[]){"NewProcessName=C:\\ProgramData\\rar.exe",
                                "CommandLine=rar.exe a -hpX -v200m out.rar D:\\Finance", NULL});
    assert_int_equal(rule_hits(set, "Archive Created With Password or Split Volumes", &t), 1);
    make_event(&t, SECURITY, 4688,
               (const char *[]){"NewProcessName=C:\\Program Files\\7-Zip\\7z.exe",
                                "CommandLine=7z.exe x -pX archive.7z", NULL});
    assert_int_equal(rule_hits(set, "Archive Created With Password or Split Volumes", &t), 0);
    ps_sigma_free(set);
}

static void test_lsass_access_filter(void **state)
{
    (void)state;
    ps_sigma_set *set = load_pack(NULL);
    const char *title = "Process Opens LSASS With Memory-Read Access";
    test_event t;
    make_event(&t, "Microsoft-Windows-Sysmon/Operational", "Microsoft-Windows-Sysmon", 10,
               (const char *[]){"SourceImage=C:\\ProgramData\\procdump64.exe",
                                "TargetImage=C:\\Windows\\system32\\lsass.exe",
                                "GrantedAccess=0x1FFFFF", NULL});
    assert_int_equal(rule_hits(set, title, &t), 1);
    make_event(&t, "Microsoft-Windows-Sysmon/Operational", "Microsoft-Windows-Sysmon", 10,
               (const char *[]){"SourceImage=C:\\ProgramData\\Microsoft\\Windows Defender\\"
                                "Platform\\4.18\\MsMpEng.exe",
                                "TargetImage=C:\\Windows\\system32\\lsass.exe",
                                "GrantedAccess=0x1010", NULL});
    assert_int_equal(rule_hits(set, title, &t), 0);
    ps_sigma_free(set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_rule_loads),
        cmocka_unit_test(test_rule_metadata),
        cmocka_unit_test(test_rdp_public_address),
        cmocka_unit_test(test_explicit_credentials_target),
        cmocka_unit_test(test_windash_switches),
        cmocka_unit_test(test_security_4688_rename),
        cmocka_unit_test(test_lsass_access_filter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
