/* Writes the demo story (story.c) as EVTX files with the project's writer. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "demo/demo.h"
#include "evtxgen/evtxgen.h"

#define EVENT_NS "http://schemas.microsoft.com/win/2004/08/events/event"
#define EVENTLOG_NS "http://manifests.microsoft.com/win/2004/08/windows/eventlog"
#define STORY_START "2024-03-12T01:10:00Z"
#define DOMAIN_SUFFIX ".northwind.local"

/* What Windows writes in <System> for each kind, and where its data goes. */
typedef struct kind_def {
    uint16_t event_id;
    uint8_t version, level, opcode;
    uint16_t task;
    uint64_t keywords;
    const char *channel;
    const char *provider, *provider_guid;
    const char *event_source;     /* Provider EventSourceName, or NULL */
    uint16_t qualifiers;          /* EventID Qualifiers, 0: none */
    int system_user;              /* <Security UserID="S-1-5-18"/> */
    uint32_t process_id;          /* <Execution ProcessID> of the logging service */
    const char *userdata;         /* root element under <UserData>; NULL: <EventData> */
    const char *userdata_ns;
} kind_def;

#define SECURITY_AUDITING "Microsoft-Windows-Security-Auditing", \
    "{54849625-5478-4994-A5BA-3E3B0328C30D}", NULL, 0, 0, 688
#define EVENTLOG "Microsoft-Windows-Eventlog", "{fc65ddd8-d6ef-4962-83d5-6e5cfe9ce148}", \
    NULL, 0, 0, 1268
#define SYSMON "Microsoft-Windows-Sysmon", "{5770385F-C22A-43E0-BF4C-06F5698FFBD9}", NULL, 0, \
    1, 2944
#define SYSMON_CHANNEL "Microsoft-Windows-Sysmon/Operational"
#define AUDIT_KEYWORDS 0x8020000000000000ull

static const kind_def kinds[PS_DEMO_KIND__COUNT] = {
    [PS_DEMO_SEC_4624] = {4624, 2, 0, 0, 12544, AUDIT_KEYWORDS, "Security", SECURITY_AUDITING},
    [PS_DEMO_SEC_4648] = {4648, 0, 0, 0, 12544, AUDIT_KEYWORDS, "Security", SECURITY_AUDITING},
    [PS_DEMO_SEC_4688] = {4688, 2, 0, 0, 13312, AUDIT_KEYWORDS, "Security", SECURITY_AUDITING},
    [PS_DEMO_SEC_4697] = {4697, 0, 0, 0, 12289, AUDIT_KEYWORDS, "Security", SECURITY_AUDITING},
    [PS_DEMO_SEC_4698] = {4698, 1, 0, 0, 12804, AUDIT_KEYWORDS, "Security", SECURITY_AUDITING},
    [PS_DEMO_SEC_1102] = {1102, 0, 4, 0, 104, 0x4020000000000000ull, "Security", EVENTLOG,
                          "LogFileCleared", EVENTLOG_NS},
    [PS_DEMO_SYS_7045] = {7045, 0, 4, 0, 0, 0x8080000000000000ull, "System",
                          "Service Control Manager", "{555908d1-a6d7-4695-8e1e-26931d2012f4}",
                          "Service Control Manager", 16384, 1, 640},
    [PS_DEMO_SYS_104] = {104, 0, 4, 0, 104, 0x8000000000000000ull, "System", EVENTLOG,
                         "LogFileCleared", EVENTLOG_NS},
    [PS_DEMO_SYSMON_1] = {1, 5, 4, 0, 1, 0x8000000000000000ull, SYSMON_CHANNEL, SYSMON},
    [PS_DEMO_SYSMON_10] = {10, 3, 4, 0, 10, 0x8000000000000000ull, SYSMON_CHANNEL, SYSMON},
    [PS_DEMO_SYSMON_17] = {17, 1, 4, 0, 17, 0x8000000000000000ull, SYSMON_CHANNEL, SYSMON},
    [PS_DEMO_LSM_21] = {21, 0, 4, 0, 0, 0x1000000000000000ull,
                        "Microsoft-Windows-TerminalServices-LocalSessionManager/Operational",
                        "Microsoft-Windows-TerminalServices-LocalSessionManager",
                        "{5d896912-022d-40aa-a3a8-4fa5515c76d7}", NULL, 0, 1, 1004,
                        "EventXML", "Event_NS"},
    [PS_DEMO_RCM_1149] = {1149, 0, 4, 0, 0, 0x1000000000000000ull,
                          "Microsoft-Windows-TerminalServices-RemoteConnectionManager/Operational",
                          "Microsoft-Windows-TerminalServices-RemoteConnectionManager",
                          "{c76baa63-ae81-421c-b425-340b4b24157f}", NULL, 0, 1, 1016,
                          "EventXML", "Event_NS"},
};

uint16_t ps_demo_event_id(const ps_demo_event *ev) { return kinds[ev->kind].event_id; }

const char *ps_demo_event_channel(const ps_demo_event *ev) { return kinds[ev->kind].channel; }

/* Events of one second are kept apart (and in story order) by a fraction
 * that grows with their place in the story. */
uint64_t ps_demo_event_time(const ps_demo_event *ev, size_t index)
{
    uint64_t start = 0;
    eg_parse_time(STORY_START, &start);
    return start + (uint64_t)ev->at * 10000000ull + (uint64_t)index * 137531ull % 9000000ull;
}

void ps_demo_computer(const char *host, char *out, size_t len)
{
    snprintf(out, len, "%s%s", host, DOMAIN_SUFFIX);
}

/* Sysmon's UtcTime: "2024-03-12 01:21:40.137". */
static void sysmon_utc_time(uint64_t filetime, char *out, size_t len)
{
    const uint64_t unix_epoch = 116444736000000000ull;
    time_t secs = (time_t)((filetime - unix_epoch) / 10000000ull);
    unsigned ms = (unsigned)((filetime - unix_epoch) / 10000ull % 1000ull);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char date[32];
    strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(out, len, "%s.%03u", date, ms);
}

/* ------------------------------------------------------------ templates */

/* Substitution slots of <System>; the event's data follow from SUB_DATA. */
enum {
    SUB_EVENT_ID, SUB_QUALIFIERS, SUB_VERSION, SUB_LEVEL, SUB_TASK, SUB_OPCODE, SUB_KEYWORDS,
    SUB_TIME, SUB_RECORD_ID, SUB_PROCESS_ID, SUB_THREAD_ID, SUB_CHANNEL, SUB_COMPUTER,
    SUB_USER_ID, SUB_DATA
};

static const uint8_t value_type[] = {
    [PS_DEMO_STRING] = EG_T_STRING, [PS_DEMO_UINT16] = EG_T_UINT16,
    [PS_DEMO_UINT32] = EG_T_UINT32, [PS_DEMO_HEX32] = EG_T_HEX32,
    [PS_DEMO_HEX64] = EG_T_HEX64,   [PS_DEMO_SID] = EG_T_SID,
    [PS_DEMO_GUID] = EG_T_GUID,     [PS_DEMO_UTCTIME] = EG_T_STRING,
};

static void build_system(eg_writer *w, eg_node *event, const kind_def *k)
{
    eg_node *sys = eg_child_elem(w, event, "System");
    eg_node *provider = eg_child_elem(w, sys, "Provider");
    eg_attr_text(w, provider, "Name", k->provider);
    eg_attr_text(w, provider, "Guid", k->provider_guid);
    if (k->event_source)
        eg_attr_text(w, provider, "EventSourceName", k->event_source);
    eg_node *eid = eg_child_elem(w, sys, "EventID");
    eg_attr_sub(w, eid, "Qualifiers", SUB_QUALIFIERS, EG_T_UINT16, 1);
    eg_sub(w, eid, SUB_EVENT_ID, EG_T_UINT16, 0);
    eg_sub(w, eg_child_elem(w, sys, "Version"), SUB_VERSION, EG_T_UINT8, 0);
    eg_sub(w, eg_child_elem(w, sys, "Level"), SUB_LEVEL, EG_T_UINT8, 0);
    eg_sub(w, eg_child_elem(w, sys, "Task"), SUB_TASK, EG_T_UINT16, 0);
    eg_sub(w, eg_child_elem(w, sys, "Opcode"), SUB_OPCODE, EG_T_UINT8, 0);
    eg_sub(w, eg_child_elem(w, sys, "Keywords"), SUB_KEYWORDS, EG_T_HEX64, 0);
    eg_attr_sub(w, eg_child_elem(w, sys, "TimeCreated"), "SystemTime", SUB_TIME,
                EG_T_FILETIME, 0);
    eg_sub(w, eg_child_elem(w, sys, "EventRecordID"), SUB_RECORD_ID, EG_T_UINT64, 0);
    eg_child_elem(w, sys, "Correlation");
    eg_node *exec = eg_child_elem(w, sys, "Execution");
    eg_attr_sub(w, exec, "ProcessID", SUB_PROCESS_ID, EG_T_UINT32, 0);
    eg_attr_sub(w, exec, "ThreadID", SUB_THREAD_ID, EG_T_UINT32, 0);
    eg_sub(w, eg_child_elem(w, sys, "Channel"), SUB_CHANNEL, EG_T_STRING, 0);
    eg_sub(w, eg_child_elem(w, sys, "Computer"), SUB_COMPUTER, EG_T_STRING, 0);
    eg_attr_sub(w, eg_child_elem(w, sys, "Security"), "UserID", SUB_USER_ID, EG_T_SID, 1);
}

/* The template of one kind, laid out from an event of that kind: every event
 * of a kind has the same fields in the same order (the tests check it). */
static const eg_template *build_template(eg_writer *w, const ps_demo_event *ev)
{
    const kind_def *k = &kinds[ev->kind];
    eg_node *event = eg_elem(w, "Event");
    eg_attr_text(w, event, "xmlns", EVENT_NS);
    build_system(w, event, k);
    eg_node *data_root;
    if (k->userdata) {
        data_root = eg_child_elem(w, eg_child_elem(w, event, "UserData"), k->userdata);
        eg_attr_text(w, data_root, "xmlns", k->userdata_ns);
    } else {
        data_root = eg_child_elem(w, event, "EventData");
    }
    for (uint16_t i = 0; i < PS_DEMO_MAX_FIELDS && ev->data[i].name; i++) {
        const ps_demo_field *f = &ev->data[i];
        eg_node *item;
        if (k->userdata) {
            item = eg_child_elem(w, data_root, f->name);
        } else {
            item = eg_child_elem(w, data_root, "Data");
            eg_attr_text(w, item, "Name", f->name);
        }
        eg_sub(w, item, (uint16_t)(SUB_DATA + i), value_type[f->type], 0);
    }
    return eg_template_new(w, NULL, event);
}

/* ------------------------------------------------------------- records */

static eg_value field_value(eg_writer *w, const ps_demo_field *f, uint64_t filetime)
{
    char utc[40];
    switch (f->type) {
    case PS_DEMO_UINT16: return eg_val_u16(w, (uint16_t)strtoul(f->value, NULL, 0));
    case PS_DEMO_UINT32: return eg_val_u32(w, (uint32_t)strtoul(f->value, NULL, 0));
    case PS_DEMO_HEX32: return eg_val_hex32(w, (uint32_t)strtoul(f->value, NULL, 0));
    case PS_DEMO_HEX64: return eg_val_hex64(w, strtoull(f->value, NULL, 0));
    case PS_DEMO_SID: return eg_val_sid(w, f->value);
    case PS_DEMO_GUID: return eg_val_guid(w, f->value);
    case PS_DEMO_UTCTIME:
        sysmon_utc_time(filetime, utc, sizeof utc);
        return eg_val_string(w, utc);
    default: return eg_val_string(w, f->value);
    }
}

static int add_event(eg_writer *w, const eg_template *tmpl, const ps_demo_event *ev,
                     size_t index, uint64_t record_id, const char *computer)
{
    const kind_def *k = &kinds[ev->kind];
    uint64_t filetime = ps_demo_event_time(ev, index);
    eg_value v[SUB_DATA + PS_DEMO_MAX_FIELDS];
    v[SUB_EVENT_ID] = eg_val_u16(w, k->event_id);
    v[SUB_QUALIFIERS] = k->qualifiers ? eg_val_u16(w, k->qualifiers) : eg_val_null();
    v[SUB_VERSION] = eg_val_u8(w, k->version);
    v[SUB_LEVEL] = eg_val_u8(w, k->level);
    v[SUB_TASK] = eg_val_u16(w, k->task);
    v[SUB_OPCODE] = eg_val_u8(w, k->opcode);
    v[SUB_KEYWORDS] = eg_val_hex64(w, k->keywords);
    v[SUB_TIME] = eg_val_filetime(w, filetime);
    v[SUB_RECORD_ID] = eg_val_u64(w, record_id);
    v[SUB_PROCESS_ID] = eg_val_u32(w, k->process_id);
    v[SUB_THREAD_ID] = eg_val_u32(w, k->process_id + 4u * (uint32_t)(index % 97u) + 4u);
    v[SUB_CHANNEL] = eg_val_string(w, k->channel);
    v[SUB_COMPUTER] = eg_val_string(w, computer);
    v[SUB_USER_ID] = k->system_user ? eg_val_sid(w, "S-1-5-18") : eg_val_null();
    size_t n = SUB_DATA;
    for (size_t i = 0; i < PS_DEMO_MAX_FIELDS && ev->data[i].name; i++)
        v[n++] = field_value(w, &ev->data[i], filetime);
    return eg_add_record(w, record_id, filetime, tmpl, v, n, NULL);
}

/* Record numbers as a long-running log would have them. */
static uint64_t first_record_id(const char *channel)
{
    if (!strcmp(channel, "Security"))
        return 184213;
    if (!strcmp(channel, "System"))
        return 30871;
    if (!strcmp(channel, SYSMON_CHANNEL))
        return 961402;
    return 1204;
}

/* Write one host's log of one channel; *events gets the number of records
 * (0 when the story has none for it, and then no file is written). */
static int write_log(const char *path, const char *host, const char *channel, uint32_t *events)
{
    size_t n;
    const ps_demo_event *story = ps_demo_events(&n);
    char computer[128];
    ps_demo_computer(host, computer, sizeof computer);
    *events = 0;
    eg_writer *w = eg_writer_new();
    if (!w)
        return PS_ERR_NOMEM;
    const eg_template *tmpl[PS_DEMO_KIND__COUNT] = {0};
    /* A cleared log keeps counting: its 1102 record carries the next number. */
    uint64_t record_id = first_record_id(channel);
    int rc = PS_OK;
    for (size_t i = 0; i < n && rc == PS_OK; i++) {
        const ps_demo_event *ev = &story[i];
        if (strcmp(ev->host, host) || strcmp(kinds[ev->kind].channel, channel))
            continue;
        if (!tmpl[ev->kind])
            tmpl[ev->kind] = build_template(w, ev);
        rc = add_event(w, tmpl[ev->kind], ev, i, record_id++, computer);
        *events += rc == PS_OK;
    }
    if (rc == PS_OK && *events)
        rc = eg_writer_finish(w, path, NULL);
    eg_writer_free(w);
    return rc;
}

static int make_dir(const char *path)
{
    return mkdir(path, 0755) == 0 || errno == EEXIST ? PS_OK : PS_ERR_IO;
}

/* "Microsoft-Windows-Sysmon/Operational" -> "Microsoft-Windows-Sysmon%4Operational". */
static void log_file_name(const char *channel, char *out, size_t len)
{
    size_t o = 0;
    for (const char *c = channel; *c && o + 3 < len; c++) {
        if (*c == '/') {
            out[o++] = '%';
            out[o++] = '4';
        } else {
            out[o++] = *c;
        }
    }
    out[o] = '\0';
}

static int channel_seen_before(const kind_def *k)
{
    for (const kind_def *p = kinds; p < k; p++)
        if (!strcmp(p->channel, k->channel))
            return 1;
    return 0;
}

static int write_host(const char *dir, const char *host, ps_demo_result *res)
{
    char path[sizeof res->failed_path];
    snprintf(path, sizeof path, "%s/%s", dir, host);
    if (make_dir(path) != PS_OK) {
        snprintf(res->failed_path, sizeof res->failed_path, "%s", path);
        return PS_ERR_IO;
    }
    for (const kind_def *k = kinds; k < kinds + PS_DEMO_KIND__COUNT; k++) {
        if (channel_seen_before(k))
            continue;
        char name[160];
        log_file_name(k->channel, name, sizeof name);
        snprintf(path, sizeof path, "%s/%s/%s.evtx", dir, host, name);
        uint32_t events = 0;
        int rc = write_log(path, host, k->channel, &events);
        if (rc != PS_OK) {
            snprintf(res->failed_path, sizeof res->failed_path, "%s", path);
            return rc;
        }
        res->files += events > 0;
        res->events += events;
    }
    return PS_OK;
}

int ps_demo_write(const char *dir, ps_demo_result *result)
{
    ps_demo_result local;
    ps_demo_result *res = result ? result : &local;
    memset(res, 0, sizeof *res);
    if (!dir || !*dir)
        return PS_ERR_ARG;
    if (make_dir(dir) != PS_OK) {
        snprintf(res->failed_path, sizeof res->failed_path, "%s", dir);
        return PS_ERR_IO;
    }
    size_t nhosts;
    const char *const *hosts = ps_demo_hosts(&nhosts);
    for (size_t i = 0; i < nhosts; i++) {
        int rc = write_host(dir, hosts[i], res);
        if (rc != PS_OK)
            return rc;
    }
    return PS_OK;
}
