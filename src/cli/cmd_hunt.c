/* plainsight hunt: match event logs (EVTX, JSON exports) against Sigma rules,
 * print a timeline of detections and a summary. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/detections.h"
#include "plainsight/details.h"
#include "plainsight/jsonl.h"
#include "plainsight/sigma.h"
#include "sigma/builtin.h"
#include "util/buf.h"
#include "util/evidence.h"

static const char HUNT_HELP[] =
    "usage: plainsight hunt [OPTIONS] [--rules PATH] [--iocs DIR] INPUT...\n"
    "\n"
    "Match Windows event logs against Sigma rules and print the detections as a\n"
    "timeline, oldest first, then a summary on stderr.\n"
    "\n"
    "INPUT is an EVTX file, a JSON export of event logs, or a directory searched\n"
    "recursively for *.evtx, *.json, *.jsonl and *.ndjson. JSON exports are one\n"
    "object per line or pretty-printed objects one after another, in the layout of\n"
    "evtx_dump / 'plainsight dump' (Event.System..., Event.EventData...) or of\n"
    "Winlogbeat / Elastic (winlog.event_data..., winlog.event_id, @timestamp).\n"
    "\n"
    "rules:\n"
    "  -r, --rules PATH     Sigma rule file or directory (repeatable); without it,\n"
    "                       the built-in Cloud Hopper rule pack is used\n"
    "      --builtin        the built-in pack too, beside --rules or --iocs\n"
    "      --rule-id ID     only this rule (repeatable, or ID,ID,...)\n"
    "      --tags TAG       only rules with this tag or a sub-tag of it (repeatable,\n"
    "                       or TAG,TAG,...); 'attack.' may be left out:\n"
    "                       t1059 selects attack.t1059.001, lateral-movement\n"
    "                       selects attack.lateral_movement\n"
    "      --status S       only rules of this status (repeatable: stable, test,\n"
    "                       experimental, deprecated, unsupported, or all);\n"
    "                       default: all but deprecated and unsupported\n"
    "  -m, --min-level LVL  informational, low, medium, high or critical\n"
    "      --iocs DIR       also report events naming a C2 domain or IPv4 address\n"
    "                       of the IOC lists in DIR (*c2*.txt, signature-base's\n"
    "                       format; repeatable): rule 'C2 IOC: <ioc>', id\n"
    "                       ioc:c2:<ioc>, level by the IOC's score; without\n"
    "                       --rules, only the IOCs are hunted (no Sigma rules);\n"
    "                       --rule-id, --tags and --status apply to Sigma rules only\n"
    "events:\n"
    "      --from TIME      only events at or after TIME (ISO-8601, UTC unless a\n"
    "                       zone is given: 2024-05-01, 2024-05-01T10:00:00Z,\n"
    "                       '2024-05-01 12:00:00+02:00')\n"
    "      --to TIME        only events at or before TIME (a date alone: to the\n"
    "                       end of that day)\n"
    "output:\n"
    "  -f, --format FMT     table (default on a terminal, coloured by level), csv\n"
    "                       (default otherwise; RFC 4180) or jsonl\n"
    "  -o, --output FILE    write detections to FILE instead of standard output\n"
    "      --html FILE      also write a report: one self-contained HTML page with\n"
    "                       a timeline, ATT&CK view, logon graph and host sections\n"
    "      --details FILE   which fields make the Details of each channel and event\n"
    "                       ID (YAML, as data/details.yml, the built-in table);\n"
    "                       'all': every data field of every event (a file named\n"
    "                       all: ./all)\n"
    "  -q, --quiet          no progress line, no summary, no notes\n"
    "  -t, --threads N      worker threads (default: one per CPU); the output is\n"
    "                       the same for any N\n"
    "      --no-prefilter   evaluate every rule on every event, not only those whose\n"
    "                       literals the prefilter saw (debugging; same results)\n"
    "      --cache-dir DIR  keep the prefilter's compiled databases in DIR, so that\n"
    "                       loading the same rules again is faster (default:\n"
    "                       $PLAINSIGHT_CACHE_DIR, $XDG_CACHE_HOME/plainsight or\n"
    "                       ~/.cache/plainsight)\n"
    "      --no-cache       compile them every time and write nothing (also\n"
    "                       PLAINSIGHT_NO_CACHE=1)\n"
    "  -h, --help           this help\n"
    "\n"
    "columns (csv header and jsonl keys): Timestamp, Computer, Channel, EventID,\n"
    "RecordID, Level, RuleTitle, RuleID, MitreTactics, MitreTags, Details (the\n"
    "event's key fields, 'name: value' joined by ' \xc2\xa6 ', at most 511 bytes:\n"
    "e.g. CommandLine, Image, ParentImage and User first for a process creation;\n"
    "all its data fields for an event the table does not list), EvtxFile (the\n"
    "input file). Rows are sorted by time, then file, record and rule.\n"
    "\n"
    "Sigma correlation rules (event_count, value_count, temporal, temporal_ordered)\n"
    "are evaluated once every event is read. Their rows: the time of the window's\n"
    "first match, Computer if grouped by it, no Channel/EventID/RecordID/EvtxFile,\n"
    "Details 'count=N window=FIRST..LAST Field=value...' (value_count adds the\n"
    "counted field's first 8 distinct values). Base rules they use are not\n"
    "reported themselves unless a correlation says 'generate: true'.\n"
    "\n"
    "examples:\n"
    "  # the built-in rules (service provider logons, LOLBins, lsass dumps, ...)\n"
    "  plainsight hunt --html report.html /mnt/evidence/Windows/System32/winevt/Logs\n"
    "  # everything SigmaHQ's Windows rules find in a machine's logs\n"
    "  plainsight hunt -r sigma/rules/windows /mnt/evidence/Windows/System32/winevt/Logs\n"
    "  # high and critical only, one week, as a spreadsheet\n"
    "  plainsight hunt -r rules -m high --from 2024-05-01 --to 2024-05-07 -f csv -o t.csv Logs/\n"
    "  # lateral movement and credential access, from a SIEM export\n"
    "  plainsight hunt -r rules --tags lateral-movement --tags credential-access export.jsonl\n"
    "  # C2 domains and addresses of signature-base in DNS, network and process events\n"
    "  plainsight hunt --iocs signature-base/iocs -m medium Logs/\n"
    "  # one rule, for scripts\n"
    "  plainsight hunt -r rules --rule-id e0ee8f2f-... -f jsonl -q Security.evtx | jq .Computer\n"
    "\n"
    "exit codes: 0 nothing found; 1 detections found; 2 usage error, rules that\n"
    "cannot be loaded, an input that cannot be read, or a write error (detections\n"
    "in the inputs that could be read are still written).\n";

enum { FMT_TABLE, FMT_CSV, FMT_JSONL };

/* Detections kept before the timeline is sorted, in memory up to this many
 * bytes and then in a temporary file (PLAINSIGHT_HUNT_SORT_MEMORY sets
 * another size: the tests make it spill with a small one). */
#define SORT_MEMORY_DEFAULT (8u << 20)

struct hunt;

/* stdio's buffer for a timeline written to a file or a pipe: with the
 * default 4 KiB, writing 150,000 detections took 26,000 write calls. It is
 * the CLI's (glibc takes no size without a buffer), and serves stdout too,
 * so it lives as long as the process. */
static char timeline_buffer[1u << 20];

/* A detection's Details (include/plainsight/details.h), at most. */
#define DETAILS_SIZE 512

/* The Details of the last event a worker gave some: an event that several
 * rules match (a third of the events of some files) has them made once. */
typedef struct details_memo {
    uint64_t event;              /* the lane's event count then; 0: none yet */
    ps_details_scratch *scratch; /* the worker's, for ps_details_format */
    char text[DETAILS_SIZE];
} details_memo;

/* One worker's view of the hunt: the callbacks of its events get this, so
 * that its detections go through its own lane of the store and its flags
 * are its own. */
typedef struct hunt_lane {
    struct hunt *h;
    unsigned worker;
    int oom;                     /* a detection was lost: out of memory */
    int store_error;             /* ... or the temporary file could not be written */
    uint64_t events;             /* events in the --from/--to range, matched */
    details_memo *memo;
    /* Lanes are written on every event by their own workers: two lanes never
     * share a cache line (at least 128 bytes apart, whatever the alignment). */
    char pad[128 - 2 * sizeof(void *) - 3 * sizeof(int) - sizeof(uint64_t)];
} hunt_lane;

typedef struct hunt {
    const ps_sigma_set *set;     /* NULL when only --iocs is hunted */
    ps_sigma_scratch **scratch;  /* one per worker */
    hunt_lane *lanes;            /* one per worker */
    const ps_iocs *iocs;         /* --iocs; NULL without it */
    const ps_details *details;   /* which fields make an event's Details */
    int min_level;
    /* Per rule: 0 when --status, --rule-id, --tags or --min-level leave it
     * out, else its level's rank + 1 (a detection's level is not looked up
     * by name). */
    const uint8_t *chosen;
    uint64_t from, to;           /* --from/--to as FILETIME; 0: open */
    det_store *store;            /* the detections, sorted at the end */
    int oom;                     /* a detection was lost: out of memory */
    int store_error;             /* ... or the temporary file could not be written */
    ps_report *report;           /* --html: detections and logons for the page */
    /* Base matches of correlation rules, evaluated once every event is read;
     * NULL when the set has no correlation rules. */
    ps_sigma_corr *corr;
    size_t ncorrelated;          /* detections made by correlation rules */
} hunt;

static int level_rank(const char *level)
{
    static const char *const names[] = {"informational", "low", "medium", "high", "critical"};
    for (int i = 0; i < 5; i++)
        if (strcasecmp(level, names[i]) == 0)
            return i;
    return 0;
}

/* How many bytes of `s` fit in `max` without splitting a UTF-8 sequence. */
static int utf8_fit(const char *s, size_t max)
{
    size_t n = strnlen(s, max + 1);
    if (n <= max)
        return (int)n;
    n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--; /* s[n] continues a sequence: cut before its lead byte */
    return (int)n;
}

/* Keep a detection (the store copies what it needs). */
static void add_detection(hunt_lane *lane, const detection *d, int rank)
{
    int rc = det_store_add(lane->h->store, lane->worker, d, rank);
    if (rc == PS_ERR_IO)
        lane->store_error = 1;
    else if (rc != PS_OK)
        lane->oom = 1;
}

static int on_rule_match(void *ctx, const ps_sigma_rule_info *rule, size_t index, const ps_event *ev)
{
    hunt_lane *lane = ctx;
    hunt *h = lane->h;
    /* Correlations count base matches whatever the filters say about the
     * base rule itself. */
    if (h->corr && ps_sigma_rule_correlated(h->set, index))
        ps_sigma_corr_add(h->corr, index, ev); /* a dropped match is counted there */
    if (rule->correlation_only) /* its matches are results only through correlations */
        return 0;
    if (!h->chosen[index])
        return 0;
    details_memo *m = lane->memo;
    if (m->event != lane->events) { /* on_event counted this event */
        ps_details_format(h->details, m->scratch, ev, NULL, m->text, sizeof m->text);
        m->event = lane->events;
    }
    detection d = {.time = ev->time_filetime, .record_id = ev->record_id,
                   .event_id = ev->event_id, .rule = index, .computer = ev->computer,
                   .channel = ev->channel, .details = m->text, .file = ev->source};
    add_detection(lane, &d, h->chosen[index] - 1);
    return 0;
}

/* A C2 indicator in one of the event's fields (ps_iocs_match_event reports
 * each indicator once per event). --min-level applies as to Sigma rules;
 * --rule-id/--tags/--status select Sigma rules only. */
static int on_ioc_match(void *ctx, const ps_ioc_hit *hit, const ps_field *field,
                        const ps_event *ev)
{
    hunt_lane *lane = ctx;
    const char *level = ps_ioc_level_for_score(hit->score);
    if (level_rank(level) < lane->h->min_level)
        return 0;
    char details[DETAILS_SIZE];
    ps_details_format(lane->h->details, lane->memo->scratch, ev, field, details, sizeof details);
    detection d = {.time = ev->time_filetime, .record_id = ev->record_id,
                   .event_id = ev->event_id, .ioc = hit->ioc, .ioc_score = hit->score,
                   .computer = ev->computer, .channel = ev->channel, .details = details,
                   .file = ev->source};
    add_detection(lane, &d, level_rank(level));
    return 0;
}

static int on_event(void *ctx, unsigned worker, const ps_event *ev)
{
    hunt *h = ctx;
    if ((h->from && ev->time_filetime < h->from) || (h->to && ev->time_filetime > h->to))
        return 0;
    h->lanes[worker].events++;
    if (h->report && ps_report_add_event(h->report, ev) != PS_OK)
        return 1; /* out of memory: stop */
    if (h->iocs)
        ps_iocs_match_event(h->iocs, ev, on_ioc_match, &h->lanes[worker]);
    if (!h->set)
        return 0;
    return ps_sigma_match(h->set, h->scratch[worker], ev, on_rule_match, &h->lanes[worker]) ==
           PS_ERR_NOMEM;
}

static void format_time(uint64_t filetime, char *out, size_t len)
{
    time_t secs = (time_t)(filetime / 10000000ull) - 11644473600ll;
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t n = strftime(out, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, len - n, ".%03uZ", (unsigned)(filetime / 10000ull % 1000));
}

/* --- correlation rules ------------------------------------------------------- */

/* A group-by field that names the event's own Computer (the aliases of
 * Event.System.Computer in data/logsources.yml). */
static int is_computer_field(const char *name)
{
    return !strcasecmp(name, "Computer") || !strcasecmp(name, "ComputerName") ||
           !strcasecmp(name, "Event.System.Computer");
}

/* "count=N window=<first>..<last> Field=value ... [Counted=v1 ¦ v2 ¦ +N more]" */
static const char *correlation_details(const ps_sigma_corr_hit *hit, char buf[DETAILS_SIZE])
{
    char first[64], last[64];
    format_time(hit->first_time, first, sizeof first);
    format_time(hit->last_time, last, sizeof last);
    int w = snprintf(buf, DETAILS_SIZE, "count=%llu window=%s..%s",
                     (unsigned long long)hit->count, first, last);
    size_t n = w > 0 ? (size_t)w : 0;
    for (uint32_t g = 0; g < hit->ngroup && n + 1 < DETAILS_SIZE; g++) {
        w = snprintf(buf + n, DETAILS_SIZE - n, " %s=%s", hit->group_fields[g],
                     hit->group_values[g]);
        if (w < 0)
            break;
        n += (size_t)w;
    }
    for (uint32_t v = 0; hit->value_field && v < hit->nvalues && n + 1 < DETAILS_SIZE; v++) {
        w = v ? snprintf(buf + n, DETAILS_SIZE - n, " \xc2\xa6 %s", hit->values[v])
              : snprintf(buf + n, DETAILS_SIZE - n, " %s=%s", hit->value_field, hit->values[v]);
        if (w < 0)
            break;
        n += (size_t)w;
    }
    if (hit->value_field && hit->count > hit->nvalues && n + 1 < DETAILS_SIZE) {
        w = snprintf(buf + n, DETAILS_SIZE - n, " \xc2\xa6 +%llu more",
                     (unsigned long long)(hit->count - hit->nvalues));
        if (w > 0)
            n += (size_t)w;
    }
    ps_details_finish(buf, n, DETAILS_SIZE);
    return buf;
}

/* One correlation detection: kept like an event's, through the same filters
 * (--from/--to already held for every base match it counts). */
static int on_correlation_hit(void *ctx, const ps_sigma_corr_hit *hit)
{
    hunt *h = ctx;
    if (!h->chosen[hit->rule_index])
        return 0;
    const char *computer = "";
    for (uint32_t g = 0; g < hit->ngroup; g++)
        if (is_computer_field(hit->group_fields[g]))
            computer = hit->group_values[g];
    char details[DETAILS_SIZE];
    detection d = {.time = hit->first_time, .rule = hit->rule_index, .computer = computer,
                   .channel = "", .details = correlation_details(hit, details), .file = ""};
    add_detection(&h->lanes[0], &d, h->chosen[hit->rule_index] - 1); /* the workers are done */
    h->ncorrelated++;
    return 0;
}

/* After the last event: every correlation's detections join the others. */
static void evaluate_correlations(hunt *h)
{
    int rc = ps_sigma_corr_finish(h->corr, on_correlation_hit, h);
    if (rc < 0) {
        fprintf(stderr, "plainsight hunt: correlation rules: %s\n", ps_status_str(rc));
        h->oom = 1;
    }
    uint64_t dropped = ps_sigma_corr_dropped(h->corr);
    if (dropped)
        fprintf(stderr, "plainsight hunt: warning: %llu base matches of correlation rules "
                "were dropped (memory cap); correlation detections may be missing\n",
                (unsigned long long)dropped);
}

/* What a detection says about the rule that made it: a Sigma rule's own
 * metadata, or for a C2 indicator a rule made up from it. */
typedef struct rule_view {
    const char *level, *title, *id;
    const char *const *tags;
    uint32_t ntags;
    char title_buf[320], id_buf[320]; /* a C2 indicator is at most 253 bytes */
} rule_view;

/* Contacting a C2 server is command and control over an application-layer
 * protocol (DNS, HTTP) whatever the indicator, so every C2 detection gets
 * the tactic and T1071; the lists do not say more. */
static const char *const C2_IOC_TAGS[] = {"attack.command-and-control", "attack.t1071"};

static void view_rule(const hunt *h, const detection *d, rule_view *v)
{
    if (!d->ioc) {
        const ps_sigma_rule_info *r = ps_sigma_rule(h->set, d->rule);
        *v = (rule_view){.level = r->level, .title = r->title, .id = r->id, .tags = r->tags,
                         .ntags = r->ntags};
        return;
    }
    snprintf(v->title_buf, sizeof v->title_buf, "C2 IOC: %s", d->ioc);
    snprintf(v->id_buf, sizeof v->id_buf, "ioc:c2:%s", d->ioc);
    v->title = v->title_buf;
    v->id = v->id_buf;
    v->level = ps_ioc_level_for_score(d->ioc_score);
    v->tags = C2_IOC_TAGS;
    v->ntags = sizeof C2_IOC_TAGS / sizeof *C2_IOC_TAGS;
}

/* attack.<tactic> tags and attack.tNNNN technique tags, comma-separated. */
static void mitre_tags(const char *const *tags, uint32_t ntags, int techniques, char *out,
                       size_t len)
{
    size_t n = 0;
    out[0] = 0;
    for (uint32_t i = 0; i < ntags; i++) {
        const char *t = tags[i];
        if (strncmp(t, "attack.", 7) != 0)
            continue;
        int is_tech = (t[7] == 't' || t[7] == 'T') && t[8] >= '0' && t[8] <= '9';
        int is_group = (t[7] == 'g' || t[7] == 's') && t[8] >= '0' && t[8] <= '9';
        if (is_group || is_tech != techniques)
            continue;
        int w = snprintf(out + n, len - n, "%s%s", n ? "," : "", t + 7);
        if (w < 0 || (size_t)w >= len - n)
            break;
        n += (size_t)w;
    }
}

/* Runs between the characters to escape go out in one call each: the
 * per-character stdio calls were a tenth of hunt's output time. */
static void buf_text(ps_buf *b, const char *s) { ps_buf_add(b, s, strlen(s)); }

/* A detection's line is built in a buffer and written at once: stdio calls
 * per column and per run were most of the time of writing a timeline. */
static void csv_field(ps_buf *b, const char *s, int last)
{
    ps_buf_addc(b, '"');
    for (const char *q; (q = strchr(s, '"')) != NULL; s = q + 1) {
        ps_buf_add(b, s, (size_t)(q - s) + 1); /* up to and with the quote ... */
        ps_buf_addc(b, '"');                   /* ... which is doubled */
    }
    buf_text(b, s);
    buf_text(b, last ? "\"\r\n" : "\",");
}

static void json_string(ps_buf *b, const char *key, const char *s, int last)
{
    ps_buf_addc(b, '"');
    buf_text(b, key);
    if (!strcmp(key, "EventID") || !strcmp(key, "RecordID")) { /* numbers, as in EVTX */
        buf_text(b, "\":");
        buf_text(b, s);
        buf_text(b, last ? "}\n" : ",");
        return;
    }
    buf_text(b, "\":\"");
    for (;;) {
        size_t run = 0;
        while (s[run] && s[run] != '"' && s[run] != '\\' && (unsigned char)s[run] >= 0x20)
            run++;
        ps_buf_add(b, s, run);
        s += run;
        unsigned char c = (unsigned char)*s;
        if (!c)
            break;
        if (c == '"' || c == '\\') {
            ps_buf_addc(b, '\\');
            ps_buf_addc(b, (char)c);
        } else {
            static const char hex[] = "0123456789abcdef";
            char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            ps_buf_add(b, u, sizeof u);
        }
        s++;
    }
    buf_text(b, last ? "\"}\n" : "\",");
}

/* ANSI colours of the table's Level column, by level rank. */
static const char *const LEVEL_COLOUR[5] = {"\033[2m", "\033[32m", "\033[33m", "\033[31m",
                                            "\033[1;31m"};

/* A CSV or JSONL column as written for the last detection, by the address
 * of its text: Computer, Channel and EvtxFile come from the detection
 * store's strings, which neither move nor change while the timeline is
 * written, and neighbours in a timeline mostly share them. */
typedef struct column_memo {
    const char *src;             /* NULL: none yet */
    ps_buf text;
} column_memo;

enum { MEMO_COMPUTER, MEMO_CHANNEL, MEMO_FILE, MEMO_COUNT };

/* What writing the timeline keeps from one detection to the next: the line
 * being built, the last time's text to the second, each rule's ATT&CK
 * columns and its five columns as written (Level to MitreTags: the same
 * for all of its detections), and the columns of column_memo. Escaping
 * those again for every line took 29% of the instructions of writing the
 * CSV timeline of the dense 16 MB benchmark sample (8,557 detections). */
typedef struct out_cache {
    ps_buf line;
    uint64_t secs;               /* of `second`, + 1 (0: none yet) */
    char second[48];
    char **tags;                 /* per Sigma rule: "tactics\0techniques", or NULL */
    char **rule_cols;            /* per Sigma rule: its columns as written, or NULL */
    size_t nrules;
    char *c2_tags;
    column_memo memo[MEMO_COUNT];
    int failed;                  /* out of memory: the timeline is not complete */
} out_cache;

static void out_cache_free(out_cache *c)
{
    ps_buf_free(&c->line);
    for (size_t i = 0; i < c->nrules; i++) {
        if (c->tags)
            free(c->tags[i]);
        if (c->rule_cols)
            free(c->rule_cols[i]);
    }
    free(c->tags);
    free(c->rule_cols);
    free(c->c2_tags);
    for (int i = 0; i < MEMO_COUNT; i++)
        ps_buf_free(&c->memo[i].text);
}

/* format_time, with the text to the second kept for the next detection (a
 * timeline is sorted by time: neighbours mostly share it). */
static void format_time_cached(out_cache *c, uint64_t filetime, char *out, size_t len)
{
    uint64_t secs = filetime / 10000000ull;
    if (c->secs != secs + 1) {
        time_t t = (time_t)secs - 11644473600ll;
        struct tm tm;
        gmtime_r(&t, &tm);
        if (!strftime(c->second, sizeof c->second, "%Y-%m-%dT%H:%M:%S", &tm))
            c->second[0] = 0;
        c->secs = secs + 1;
    }
    unsigned ms = (unsigned)(filetime / 10000ull % 1000);
    size_t n = strlen(c->second);
    if (n + 6 > len) {
        format_time(filetime, out, len);
        return;
    }
    memcpy(out, c->second, n);
    char tail[6] = {'.', (char)('0' + ms / 100), (char)('0' + ms / 10 % 10), (char)('0' + ms % 10),
                    'Z', 0};
    memcpy(out + n, tail, sizeof tail);
}

/* Decimal text of v (as printf's %llu). */
static void put_decimal(char *out, unsigned long long v)
{
    char tmp[24];
    size_t n = 0;
    do
        tmp[n++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = 0;
}

/* A Sigma detection's entry in a per-rule table of out_cache (NULL for a C2
 * detection, or without the table). */
static char **rule_slot(char **table, const out_cache *c, const detection *d)
{
    return !d->ioc && table && d->rule < c->nrules ? &table[d->rule] : NULL;
}

/* The rule's MitreTactics and MitreTags columns, "tactics\0techniques",
 * made once per rule (or per run for C2 indicators); NULL when out of
 * memory. */
static const char *rule_tags(out_cache *c, const detection *d, const rule_view *r)
{
    char **slot = d->ioc ? &c->c2_tags : rule_slot(c->tags, c, d);
    if (slot && *slot)
        return *slot;
    char tactics[256], techs[256];
    mitre_tags(r->tags, r->ntags, 0, tactics, sizeof tactics);
    mitre_tags(r->tags, r->ntags, 1, techs, sizeof techs);
    size_t a = strlen(tactics), b = strlen(techs);
    char *both = malloc(a + b + 2);
    if (!both)
        return NULL;
    memcpy(both, tactics, a + 1);
    memcpy(both + a + 1, techs, b + 1);
    if (slot)
        *slot = both;
    else
        free(both), both = NULL; /* no table for it */
    return both;
}

static const char *const COLUMN_KEYS[12] = {"Timestamp", "Computer", "Channel", "EventID",
                                             "RecordID", "Level", "RuleTitle", "RuleID",
                                             "MitreTactics", "MitreTags", "Details", "EvtxFile"};

/* Columns [from, to) of a CSV or JSONL line (column 11 ends it). */
static void put_columns(ps_buf *b, int format, const char *const cols[12], int from, int to)
{
    for (int i = from; i < to; i++) {
        if (format == FMT_CSV)
            csv_field(b, cols[i], i == 11);
        else
            json_string(b, COLUMN_KEYS[i], cols[i], i == 11);
    }
}

/* Columns [from, to) as a string of their own (NULL when out of memory). */
static char *columns_text(int format, const char *const cols[12], int from, int to)
{
    ps_buf t = {0};
    put_columns(&t, format, cols, from, to);
    ps_buf_addc(&t, 0);
    if (t.failed) {
        ps_buf_free(&t);
        return NULL;
    }
    return t.data;
}

/* Column i, as written for the last line when its text is the same one. */
static void put_memo_column(ps_buf *b, int format, column_memo *m, const char *const cols[12],
                            int i)
{
    if (m->src != cols[i]) {
        ps_buf_reset(&m->text);
        put_columns(&m->text, format, cols, i, i + 1);
        m->src = m->text.failed ? NULL : cols[i];
    }
    if (m->src)
        ps_buf_add(b, m->text.data, m->text.len);
    else
        put_columns(b, format, cols, i, i + 1);
}

/* 0, or -1 when out of memory (nothing written). */
static int print_detection(FILE *f, int format, int colour, const hunt *h, const detection *d,
                           out_cache *oc)
{
    rule_view r;
    view_rule(h, d, &r);
    char ts[64], eid[16], rec[24];
    format_time_cached(oc, d->time, ts, sizeof ts);
    put_decimal(eid, d->event_id);
    put_decimal(rec, (unsigned long long)d->record_id);
    const char *tags = rule_tags(oc, d, &r);
    if (!tags)
        return -1;
    const char *tactics = tags, *techs = tags + strlen(tags) + 1;
    const char *cols[12] = {ts, d->computer, d->channel, eid, rec, r.level, r.title,
                            r.id, tactics, techs, d->details, d->file};
    if (format == FMT_CSV || format == FMT_JSONL) {
        ps_buf *b = &oc->line;
        ps_buf_reset(b);
        if (format == FMT_JSONL)
            ps_buf_addc(b, '{');
        put_columns(b, format, cols, 0, 1);
        put_memo_column(b, format, &oc->memo[MEMO_COMPUTER], cols, 1);
        put_memo_column(b, format, &oc->memo[MEMO_CHANNEL], cols, 2);
        put_columns(b, format, cols, 3, 5);
        char **rule_part = rule_slot(oc->rule_cols, oc, d);
        if (rule_part && !*rule_part)
            *rule_part = columns_text(format, cols, 5, 10);
        if (rule_part && *rule_part)
            buf_text(b, *rule_part);
        else
            put_columns(b, format, cols, 5, 10);
        put_columns(b, format, cols, 10, 11);
        put_memo_column(b, format, &oc->memo[MEMO_FILE], cols, 11);
        if (b->failed)
            return -1;
        fwrite(b->data, 1, b->len, f);
    } else {
        const char *on = colour ? LEVEL_COLOUR[level_rank(r.level)] : "";
        const char *off = colour ? "\033[0m" : "";
        fprintf(f, "%s | %-15.*s | %-8.*s | %5s | %s%-8s%s | %s | %s\n    %.*s\n", ts,
                utf8_fit(d->computer, 15), d->computer, utf8_fit(d->channel, 8), d->channel,
                eid, on, r.level, off, r.title, techs, utf8_fit(d->details, 200), d->details);
    }
    return 0;
}

/* --- rule selection: --status, --rule-id, --tags --------------------------- */

/* Does any comma-separated item of the repeatable option's values satisfy
 * `match`? (--tags a,b --tags c gives a, b and c.) */
static int any_item(const char *const *args, size_t nargs, const char *have,
                    int (*match)(const char *want, size_t wlen, const char *have))
{
    for (size_t i = 0; i < nargs; i++)
        for (const char *p = args[i]; *p;) {
            size_t len = strcspn(p, ",");
            if (len && match(p, len, have))
                return 1;
            p += len + (p[len] == ',');
        }
    return 0;
}

static int same_text(const char *want, size_t wlen, const char *have)
{
    return strlen(have) == wlen && !strncasecmp(want, have, wlen);
}

/* attack.lateral-movement and attack.lateral_movement are the same tag. */
static int tag_char_eq(char a, char b)
{
    a = a == '_' ? '-' : (char)tolower((unsigned char)a);
    b = b == '_' ? '-' : (char)tolower((unsigned char)b);
    return a == b;
}

/* TAG selects rules tagged TAG or TAG.sub (attack.t1059 selects
 * attack.t1059.001); the "attack." prefix may be left out. */
static int tag_matches(const char *want, size_t wlen, const char *have)
{
    for (int pass = 0; pass < 2; pass++) {
        const char *h = have;
        if (pass == 1) {
            if (strncasecmp(have, "attack.", 7) != 0)
                break;
            h += 7;
        }
        size_t i = 0;
        while (i < wlen && h[i] && tag_char_eq(want[i], h[i]))
            i++;
        if (i == wlen && (h[i] == 0 || h[i] == '.'))
            return 1;
    }
    return 0;
}

static int rule_has_tag(const char *const *tags, size_t ntags, const ps_sigma_rule_info *r)
{
    for (uint32_t i = 0; i < r->ntags; i++)
        if (any_item(tags, ntags, r->tags[i], tag_matches))
            return 1;
    return 0;
}

/* --- progress and summary ---------------------------------------------------- */

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Running totals of one hunt; EVTX inputs are read first, then JSON ones. */
typedef struct progress {
    int draw;                 /* stderr is a terminal and not --quiet */
    int drawn;                /* a progress line is on screen */
    double started, last_draw;
    uint64_t files, bytes, events;     /* of finished phases */
    uint64_t now_files, now_bytes, now_events;
} progress;

static void draw_progress(progress *p)
{
    double t = now_seconds();
    if (!p->draw || t - p->last_draw < 0.25 || t - p->started < 0.5)
        return;
    p->last_draw = t;
    p->drawn = 1;
    double secs = t - p->started;
    uint64_t events = p->events + p->now_events, bytes = p->bytes + p->now_bytes;
    fprintf(stderr, "\r\033[Kplainsight hunt: %llu files, %.1f MB, %llu events, %.0f events/s",
            (unsigned long long)(p->files + p->now_files), bytes / 1e6,
            (unsigned long long)events, events / secs);
}

static void on_evtx_progress(void *ctx, const ps_evtx_stats *st)
{
    progress *p = ctx;
    p->now_files = st->files, p->now_bytes = st->bytes, p->now_events = st->records;
    draw_progress(p);
}

static void on_jsonl_progress(void *ctx, const ps_jsonl_stats *st)
{
    progress *p = ctx;
    p->now_files = st->files, p->now_bytes = st->bytes, p->now_events = st->records;
    draw_progress(p);
}

static void clear_progress(progress *p)
{
    if (p->drawn)
        fputs("\r\033[K", stderr);
    p->drawn = 0;
}

/* Diagnostics go above the progress line, not into it. */
static void print_diag_over_progress(void *ctx, const ps_diag *d)
{
    clear_progress(ctx);
    cli_print_diag(NULL, d);
}

#define SUMMARY_TOP_RULES 10
#define SUMMARY_TOP_HOSTS 5

/* Detections per rule (a Sigma rule or a C2 indicator), the most frequent
 * first; ties in rule order. */
static void summary_by_rule(const hunt *h)
{
    det_rule_count top[SUMMARY_TOP_RULES];
    size_t n = det_store_top_rules(h->store, top, SUMMARY_TOP_RULES);
    fprintf(stderr, "  top rules:\n");
    for (size_t i = 0; i < n; i++) {
        detection d = {.rule = top[i].rule, .ioc = top[i].ioc, .ioc_score = top[i].ioc_score};
        rule_view r;
        view_rule(h, &d, &r);
        fprintf(stderr, "    %7zu  %-13s %s (%s)\n", top[i].count, r.level, r.title, r.id);
    }
}

/* Distinct computers with their detection counts, the busiest first. */
static void summary_hosts(const hunt *h)
{
    det_host_count top[SUMMARY_TOP_HOSTS];
    size_t nhosts;
    size_t n = det_store_hosts(h->store, top, SUMMARY_TOP_HOSTS, &nhosts);
    fprintf(stderr, "  hosts: %zu", nhosts);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, "%s%s (%zu)", i ? ", " : " - ",
                top[i].computer[0] ? top[i].computer : "(none)", top[i].count);
    fprintf(stderr, "%s\n", nhosts > SUMMARY_TOP_HOSTS ? ", ..." : "");
}

/* The end-of-run summary on stderr. */
static void print_summary(const hunt *h, const progress *p, uint64_t events_in_range,
                          double elapsed)
{
    static const char *const levels[5] = {"informational", "low", "medium", "high", "critical"};
    det_totals t;
    det_store_totals(h->store, &t);
    fprintf(stderr, "plainsight hunt: %zu detections in %llu events (%llu files, %.1f MB), "
            "%.2f s, %.0f events/s\n", t.count, (unsigned long long)p->events,
            (unsigned long long)p->files, p->bytes / 1e6, elapsed,
            elapsed > 0 ? p->events / elapsed : 0.0);
    if (h->from || h->to)
        fprintf(stderr, "  events in the --from/--to range: %llu\n",
                (unsigned long long)events_in_range);
    if (!t.count)
        return;
    fprintf(stderr, "  by level:");
    for (int l = 4; l >= 0; l--)
        fprintf(stderr, " %s %zu%s", levels[l], t.by_level[l], l ? "," : "\n");
    summary_by_rule(h);
    summary_hosts(h);
    char first[64], last[64];
    format_time(t.first, first, sizeof first);
    format_time(t.last, last, sizeof last);
    fprintf(stderr, "  first seen %s, last seen %s\n", first, last);
}

static int parse_format(const char *s)
{
    return !strcmp(s, "table") ? FMT_TABLE : !strcmp(s, "csv") ? FMT_CSV
         : !strcmp(s, "jsonl") ? FMT_JSONL : -1;
}

typedef struct hunt_args {
    const char **rules;
    size_t nrules;
    int format, quiet, min_level;
    unsigned threads;
    const char *output;
    const char *html;           /* --html FILE */
    const char **ioc_dirs;      /* --iocs DIR (repeatable) */
    size_t nioc_dirs;
    /* Values of the repeatable filters (each may hold a comma-separated list). */
    const char **rule_ids, **tags, **statuses;
    size_t nrule_ids, ntags, nstatuses;
    uint64_t from, to;          /* FILETIME; 0: open */
    ps_sigma_stats load;        /* filled when the rules are loaded */
    double load_seconds, started;
    int no_prefilter;           /* --no-prefilter: every rule on every event (debugging) */
    const char *cache_dir;      /* --cache-dir; NULL: the default */
    const char *details;        /* --details FILE; NULL: the built-in table */
    int no_cache;               /* --no-cache */
    int builtin;                /* --builtin: the built-in pack beside --rules/--iocs */
    char default_cache[4096];
} hunt_args;

enum { OPT_FROM = 256, OPT_TO, OPT_RULE_ID, OPT_TAGS, OPT_STATUS, OPT_HTML, OPT_IOCS,
       OPT_NO_PREFILTER, OPT_CACHE_DIR, OPT_NO_CACHE, OPT_BUILTIN, OPT_DETAILS };

/* --from/--to: a date alone means its first (--from) or last (--to) instant. */
static int parse_time_arg(const char *opt, const char *text, int end_of_day, uint64_t *out)
{
    int date_only;
    if (ps_time_parse(text, out, &date_only) != 0) {
        fprintf(stderr, "plainsight hunt: %s wants an ISO-8601 time such as 2024-05-01 or "
                "2024-05-01T10:00:00Z, not '%s'\n", opt, text);
        return -1;
    }
    if (date_only && end_of_day)
        *out += 86400ull * 10000000ull - 1;
    return 0;
}

static int parse_level_arg(const char *text, int *rank)
{
    static const char *const names[] = {"informational", "low", "medium", "high", "critical"};
    for (int i = 0; i < 5; i++)
        if (!strcasecmp(text, names[i])) {
            *rank = i;
            return 0;
        }
    fprintf(stderr, "plainsight hunt: --min-level is informational, low, medium, high or "
            "critical, not '%s'\n", text);
    return -1;
}

static int parse_args(int argc, char **argv, hunt_args *a)
{
    static const struct option longopts[] = {
        {"rules", required_argument, NULL, 'r'},   {"format", required_argument, NULL, 'f'},
        {"min-level", required_argument, NULL, 'm'}, {"threads", required_argument, NULL, 't'},
        {"output", required_argument, NULL, 'o'},  {"quiet", no_argument, NULL, 'q'},
        {"from", required_argument, NULL, OPT_FROM}, {"to", required_argument, NULL, OPT_TO},
        {"rule-id", required_argument, NULL, OPT_RULE_ID},
        {"tags", required_argument, NULL, OPT_TAGS}, {"status", required_argument, NULL, OPT_STATUS},
        {"html", required_argument, NULL, OPT_HTML}, {"iocs", required_argument, NULL, OPT_IOCS},
        {"no-prefilter", no_argument, NULL, OPT_NO_PREFILTER},
        {"cache-dir", required_argument, NULL, OPT_CACHE_DIR},
        {"no-cache", no_argument, NULL, OPT_NO_CACHE},
        {"builtin", no_argument, NULL, OPT_BUILTIN},
        {"details", required_argument, NULL, OPT_DETAILS},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
    a->format = isatty(STDOUT_FILENO) ? FMT_TABLE : FMT_CSV;
    a->rules = calloc((size_t)argc, sizeof *a->rules);
    a->rule_ids = calloc((size_t)argc, sizeof *a->rule_ids);
    a->tags = calloc((size_t)argc, sizeof *a->tags);
    a->statuses = calloc((size_t)argc, sizeof *a->statuses);
    a->ioc_dirs = calloc((size_t)argc, sizeof *a->ioc_dirs);
    if (!a->rule_ids || !a->tags || !a->statuses || !a->ioc_dirs)
        return -1;
    int c;
    while (a->rules && (c = getopt_long(argc, argv, "r:f:m:t:o:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'r': a->rules[a->nrules++] = optarg; break;
        case 'f':
            if ((a->format = parse_format(optarg)) < 0) {
                fprintf(stderr, "plainsight hunt: --format is table, csv or jsonl\n");
                return -1;
            }
            break;
        case 'm':
            if (parse_level_arg(optarg, &a->min_level))
                return -1;
            break;
        case 't': a->threads = (unsigned)strtoul(optarg, NULL, 10); break;
        case OPT_FROM:
            if (parse_time_arg("--from", optarg, 0, &a->from))
                return -1;
            break;
        case OPT_TO:
            if (parse_time_arg("--to", optarg, 1, &a->to))
                return -1;
            break;
        case OPT_RULE_ID: a->rule_ids[a->nrule_ids++] = optarg; break;
        case OPT_TAGS: a->tags[a->ntags++] = optarg; break;
        case OPT_STATUS: a->statuses[a->nstatuses++] = optarg; break;
        case 'o': a->output = optarg; break;
        case OPT_HTML: a->html = optarg; break;
        case OPT_IOCS: a->ioc_dirs[a->nioc_dirs++] = optarg; break;
        case OPT_NO_PREFILTER: a->no_prefilter = 1; break;
        case OPT_CACHE_DIR: a->cache_dir = optarg; break;
        case OPT_NO_CACHE: a->no_cache = 1; break;
        case OPT_BUILTIN: a->builtin = 1; break;
        case OPT_DETAILS: a->details = optarg; break;
        case 'q': a->quiet = 1; break;
        case 'h': fputs(HUNT_HELP, stdout); exit(PS_EXIT_CLEAN);
        default: fputs(HUNT_HELP, stderr); return -1;
        }
    }
    if (!a->rules || optind >= argc) {
        fputs("plainsight hunt: give at least one EVTX file, JSON export or directory\n", stderr);
        return -1;
    }
    return 0;
}

static void report_load(const ps_sigma_stats *st, int builtin)
{
    if (builtin && !st->files)
        fprintf(stderr, "plainsight: %u rules loaded from the built-in pack, %u skipped\n",
                st->rules_loaded, st->rules_skipped);
    else
        fprintf(stderr, "plainsight: %u rules loaded from %u files%s, %u skipped\n",
                st->rules_loaded, st->files, builtin ? " and the built-in pack" : "",
                st->rules_skipped);
    if (st->correlations_loaded)
        fprintf(stderr, "  and %u correlation rules\n", st->correlations_loaded);
    for (int r = 0; r < PS_SIGMA_SKIP__COUNT; r++)
        if (st->skipped[r])
            fprintf(stderr, "  skipped, %s: %u\n", ps_sigma_skip_str((ps_sigma_skip)r), st->skipped[r]);
}

/* Per rule: does it pass --status, --rule-id, --tags and --min-level (see
 * hunt.chosen)? The counts of rules left out go to *by_status and *by_filter. */
static uint8_t *select_rules(const ps_sigma_set *set, const hunt_args *a, size_t *by_status,
                             size_t *by_filter)
{
    size_t n = ps_sigma_rule_count(set);
    uint8_t *chosen = calloc(n ? n : 1, 1);
    for (size_t i = 0; chosen && i < n; i++) {
        const ps_sigma_rule_info *r = ps_sigma_rule(set, i);
        int rank = level_rank(r->level);
        int status_ok = a->nstatuses
            ? any_item(a->statuses, a->nstatuses, r->status, same_text) ||
                  any_item(a->statuses, a->nstatuses, "all", same_text)
            : strcasecmp(r->status, "deprecated") && strcasecmp(r->status, "unsupported");
        int filters_ok =
            (!a->nrule_ids || any_item(a->rule_ids, a->nrule_ids, r->id, same_text)) &&
            (!a->ntags || rule_has_tag(a->tags, a->ntags, r)) &&
            rank >= a->min_level;
        chosen[i] = status_ok && filters_ok ? (uint8_t)(rank + 1) : 0;
        if (r->is_correlation) /* counted apart: not in rules_loaded */
            continue;
        if (!status_ok)
            (*by_status)++;
        else if (!filters_ok)
            (*by_filter)++;
    }
    return chosen;
}

/* Is this input a JSON export? By name (.json, .jsonl, .ndjson), else by its
 * first non-blank byte. */
static int looks_like_json(const char *path)
{
    if (ps_jsonl_is_json_name(path))
        return 1;
    int fd = ps_open_evidence(path, O_NONBLOCK); /* a FIFO: no wait for a writer */
    if (fd < 0)
        return 0;
    char block[4096];
    int c = EOF;
    ssize_t n;
    while (c == EOF && ((n = read(fd, block, sizeof block)) > 0 || (n < 0 && errno == EINTR)))
        for (ssize_t i = 0; c == EOF && i < n; i++)
            if (block[i] != ' ' && block[i] != '\t' && block[i] != '\r' && block[i] != '\n')
                c = (unsigned char)block[i];
    close(fd);
    return c == '{' || c == '[';
}

/* EVTX inputs and JSON inputs; a directory goes to both readers, each of
 * which walks it for its own file names. */
static void split_inputs(char **inputs, int ninputs, const char **evtx, size_t *nevtx,
                         const char **json, size_t *njson)
{
    for (int i = 0; i < ninputs; i++) {
        struct stat st;
        int dir = stat(inputs[i], &st) == 0 && S_ISDIR(st.st_mode);
        int is_json = !dir && looks_like_json(inputs[i]);
        if (dir || !is_json)
            evtx[(*nevtx)++] = inputs[i];
        if (dir || is_json)
            json[(*njson)++] = inputs[i];
    }
}

typedef struct diag_filter {
    progress *progress;
    int quiet;
} diag_filter;

/* --quiet hides notes; warnings and errors are always shown. */
static void print_hunt_diag(void *ctx, const ps_diag *d)
{
    diag_filter *f = ctx;
    if (!f->quiet || d->severity != PS_DIAG_NOTE)
        print_diag_over_progress(f->progress, d);
}

/* Read every input, EVTX first, then JSON exports, matching as we go. */
static int read_inputs(hunt *h, const hunt_args *a, char **inputs, int ninputs, progress *prog,
                       uint64_t *failed_files)
{
    const char **evtx = calloc((size_t)ninputs + 1, sizeof *evtx);
    const char **json = calloc((size_t)ninputs + 1, sizeof *json);
    size_t nevtx = 0, njson = 0;
    int rc = evtx && json ? PS_OK : PS_ERR_NOMEM;
    if (rc == PS_OK)
        split_inputs(inputs, ninputs, evtx, &nevtx, json, &njson);
    diag_filter df = {prog, a->quiet};
    if (rc == PS_OK && nevtx) {
        ps_evtx_options eo = {.threads = a->threads, .diag = print_hunt_diag, .diag_ctx = &df,
                              .progress = on_evtx_progress, .progress_ctx = prog,
                              .defer_values = 1};
        ps_evtx_stats es = {0};
        rc = ps_evtx_events(evtx, nevtx, &eo, on_event, h, &es);
        prog->files += es.files, prog->bytes += es.bytes, prog->events += es.records;
        *failed_files += es.files_failed;
    }
    prog->now_files = prog->now_bytes = prog->now_events = 0;
    if (rc == PS_OK && njson) {
        ps_jsonl_options jo = {.threads = a->threads, .diag = print_hunt_diag, .diag_ctx = &df,
                               .progress = on_jsonl_progress, .progress_ctx = prog};
        ps_jsonl_stats js = {0};
        rc = ps_jsonl_events(json, njson, &jo, on_event, h, &js);
        prog->files += js.files, prog->bytes += js.bytes, prog->events += js.records;
        *failed_files += js.files_failed;
    }
    prog->now_files = prog->now_bytes = prog->now_events = 0;
    free(evtx);
    free(json);
    return rc;
}

/* Writing the timeline: each detection as it comes out of the sort goes to
 * the output and, with --html, to the report. */
typedef struct timeline {
    const hunt *h;
    FILE *out;
    int format, colour;
    int report_rc;     /* the first error adding to the report */
    out_cache cache;
} timeline;

static int write_detection(void *ctx, const detection *d)
{
    timeline *t = ctx;
    if (t->out)
        if (print_detection(t->out, t->format, t->colour, t->h, d, &t->cache) != 0)
            t->cache.failed = 1;
    if (t->h->report && t->report_rc == PS_OK) {
        rule_view r;
        view_rule(t->h, d, &r);
        ps_report_detection rd = {d->time, d->computer, d->channel, d->event_id, d->record_id,
                                  r.level, r.title, r.id, r.tags, r.ntags, d->details,
                                  d->file};
        t->report_rc = ps_report_add_detection(t->h->report, &rd);
    }
    return 0;
}

/* --html: the detections (sorted, added by write_detection), the logons seen
 * and the run's facts as one page. Returns 0, or -1 after saying why it
 * could not be written. */
static int write_html_report(const hunt *h, const hunt_args *a, const progress *p,
                             double elapsed, int rc)
{
    ps_report_run run = {.command = "hunt", .rules_loaded = a->load.rules_loaded,
                         .rules_skipped = a->load.rules_skipped, .files = p->files,
                         .events = p->events, .seconds = elapsed};
    ps_report_set_run(h->report, &run);
    if (rc == PS_OK)
        rc = ps_report_write(h->report, a->html);
    if (rc != PS_OK) {
        fprintf(stderr, "plainsight hunt: cannot write %s: %s\n", a->html,
                rc == PS_ERR_IO ? strerror(errno) : ps_status_str(rc));
        return -1;
    }
    if (!a->quiet)
        fprintf(stderr, "plainsight hunt: report written to %s\n", a->html);
    return 0;
}

/* The summary's last lines: what was hunted with. */
static void summary_sources(const hunt *h, const hunt_args *a, size_t left_by_status,
                            size_t left_by_filter)
{
    if (h->set)
        fprintf(stderr, "  rules: %u loaded in %.3f s (%u skipped), %zu used (%zu left out by "
                "--status, %zu by --rule-id/--tags/--min-level)\n", a->load.rules_loaded,
                a->load_seconds, a->load.rules_skipped,
                (size_t)a->load.rules_loaded - left_by_status - left_by_filter, left_by_status,
                left_by_filter);
    if (h->iocs) {
        ps_ioc_counts n;
        ps_iocs_counts(h->iocs, &n);
        det_totals t;
        det_store_totals(h->store, &t);
        fprintf(stderr, "  C2 IOCs: %zu domains and addresses, %zu detections\n", n.c2, t.c2);
    }
}

/* Correlation rules and the literal prefilter, when there are rules. */
static void summary_sigma_engine(const hunt *h, const hunt_args *a)
{
    if (!h->set)
        return;
    if (a->load.correlations_loaded) {
        size_t used = 0;
        for (size_t i = 0; h->chosen && i < ps_sigma_rule_count(h->set); i++)
            used += h->chosen[i] && ps_sigma_rule(h->set, i)->is_correlation;
        fprintf(stderr, "  correlation rules: %u loaded, %zu used, %zu detections\n",
                a->load.correlations_loaded, used, h->ncorrelated);
    }
    if (a->no_prefilter)
        fprintf(stderr, "  prefilter: off (--no-prefilter)\n");
    else
        fprintf(stderr, "  prefilter: %u literals in %u databases (%u read from the cache); "
                "%u rule forms evaluated only when their literals are seen, %u on every event\n",
                a->load.prefilter_literals, a->load.prefilter_databases,
                a->load.prefilter_cached, a->load.prefilter_gated, a->load.prefilter_always);
}

/* How much memory the detections may take before they go to a temporary
 * file: SORT_MEMORY_DEFAULT, or PLAINSIGHT_HUNT_SORT_MEMORY bytes. */
static size_t sort_memory(void)
{
    const char *env = getenv("PLAINSIGHT_HUNT_SORT_MEMORY");
    char *end;
    unsigned long long v = env && *env ? strtoull(env, &end, 10) : 0;
    return v && !*end ? (size_t)v : SORT_MEMORY_DEFAULT;
}

/* Where that file goes: $TMPDIR, else /tmp (never beside the evidence). */
static const char *temp_dir(void)
{
    const char *t = getenv("TMPDIR");
    return t && *t ? t : "/tmp";
}

static int run_hunt(const hunt_args *a, char **inputs, int ninputs, ps_sigma_set *set,
                    const ps_iocs *iocs, const ps_details *details)
{
    hunt h = {.set = set, .iocs = iocs, .details = details, .min_level = a->min_level,
              .from = a->from, .to = a->to};
    h.report = a->html ? ps_report_new() : NULL;
    size_t left_by_status = 0, left_by_filter = 0;
    uint8_t *chosen = select_rules(set, a, &left_by_status, &left_by_filter);
    h.chosen = chosen;
    unsigned workers = ps_evtx_threads(a->threads);
    h.store = det_store_new(ps_sigma_rule_count(set), sort_memory(), temp_dir(), workers);
    h.scratch = calloc(workers, sizeof *h.scratch);
    h.lanes = calloc(workers, sizeof *h.lanes);
    details_memo *memos = calloc(workers, sizeof *memos);
    int ok = h.scratch && h.lanes && memos && chosen && h.store && (!a->html || h.report);
    for (unsigned i = 0; ok && i < workers; i++) {
        h.lanes[i] = (hunt_lane){.h = &h, .worker = i, .memo = &memos[i]};
        ok = (memos[i].scratch = ps_details_scratch_new()) != NULL;
    }
    for (unsigned i = 0; ok && set && i < workers; i++)
        ok = (h.scratch[i] = ps_sigma_scratch_new(set)) != NULL;
    if (ok && set && ps_sigma_correlation_count(set) > 0)
        ok = (h.corr = ps_sigma_corr_new(set, NULL)) != NULL;
    FILE *out = a->output ? fopen(a->output, "w") : stdout;
    if (!out)
        fprintf(stderr, "plainsight hunt: cannot write %s: %s\n", a->output, strerror(errno));
    else if (!isatty(fileno(out))) /* the timeline goes out at the end, all at once */
        setvbuf(out, timeline_buffer, _IOFBF, sizeof timeline_buffer);
    progress prog = {.draw = !a->quiet && cli_stderr_is_tty(), .started = now_seconds()};
    uint64_t failed_files = 0;
    int rc = !ok ? PS_ERR_NOMEM : out ? read_inputs(&h, a, inputs, ninputs, &prog, &failed_files)
                                      : PS_ERR_IO;
    clear_progress(&prog);
    if (h.corr && out) /* over what could be read, as the other detections */
        evaluate_correlations(&h);
    for (unsigned i = 0; h.lanes && i < workers; i++) {
        h.oom |= h.lanes[i].oom;
        h.store_error |= h.lanes[i].store_error;
    }
    det_totals found = {0};
    if (h.store)
        det_store_totals(h.store, &found);
    int exit_code = rc == PS_OK && !h.oom && !h.store_error && !failed_files
                        ? (found.count ? PS_EXIT_FOUND : PS_EXIT_CLEAN) : PS_EXIT_ERROR;
    if (rc != PS_OK && out)
        fprintf(stderr, "plainsight hunt: %s\n", ps_status_str(rc));
    if (h.store_error)
        fprintf(stderr, "plainsight hunt: cannot write the detections' temporary file in %s "
                "(disk full?): detections are missing\n", det_store_tmpdir(h.store));
    if (h.store && det_store_spill_errno(h.store))
        fprintf(stderr, "plainsight hunt: warning: cannot make a temporary file in %s (%s): "
                "all %zu detections were kept in memory\n", det_store_tmpdir(h.store),
                strerror(det_store_spill_errno(h.store)), found.count);
    if (out && a->format == FMT_CSV)
        fputs("Timestamp,Computer,Channel,EventID,RecordID,Level,RuleTitle,RuleID,"
              "MitreTactics,MitreTags,Details,EvtxFile\r\n", out);
    timeline tl = {.h = &h, .out = out, .format = a->format,
                   .colour = out && a->format == FMT_TABLE && isatty(fileno(out)) &&
                             !getenv("NO_COLOR")};
    tl.cache.nrules = ps_sigma_rule_count(set);
    tl.cache.tags = calloc(tl.cache.nrules + 1, sizeof *tl.cache.tags);
    tl.cache.rule_cols = calloc(tl.cache.nrules + 1, sizeof *tl.cache.rule_cols);
    if (h.store && (out || h.report)) {
        int src = det_store_finish(h.store, write_detection, &tl);
        if (src != PS_OK) {
            fprintf(stderr, "plainsight hunt: sorting the detections: %s\n",
                    src == PS_ERR_IO ? "cannot read the temporary file" : ps_status_str(src));
            exit_code = PS_EXIT_ERROR;
        }
    }
    if (tl.cache.failed) {
        fprintf(stderr, "plainsight hunt: %s: detections are missing from the output\n",
                ps_status_str(PS_ERR_NOMEM));
        exit_code = PS_EXIT_ERROR;
    }
    out_cache_free(&tl.cache);
    if (out && (fflush(out) != 0 || ferror(out)))
        exit_code = PS_EXIT_ERROR;
    if (out && out != stdout && fclose(out) != 0)
        exit_code = PS_EXIT_ERROR;
    if (h.report &&
        write_html_report(&h, a, &prog, now_seconds() - a->started, tl.report_rc) != 0)
        exit_code = PS_EXIT_ERROR;
    uint64_t in_range = 0;
    for (unsigned i = 0; h.lanes && i < workers; i++)
        in_range += h.lanes[i].events;
    if (!a->quiet && h.store) {
        print_summary(&h, &prog, in_range, now_seconds() - a->started);
        summary_sources(&h, a, left_by_status, left_by_filter);
        summary_sigma_engine(&h, a);
    }
    for (unsigned i = 0; h.scratch && i < workers; i++)
        ps_sigma_scratch_free(h.scratch[i]);
    ps_sigma_corr_free(h.corr);
    ps_report_free(h.report);
    free(h.scratch);
    free(h.lanes);
    for (unsigned i = 0; memos && i < workers; i++)
        ps_details_scratch_free(memos[i].scratch);
    free(memos);
    det_store_free(h.store);
    free(chosen);
    return exit_code;
}

static void free_filter_args(hunt_args *a)
{
    free(a->rule_ids);
    free(a->tags);
    free(a->statuses);
    free(a->ioc_dirs);
}

/* IOC list diagnostics: --quiet hides bad lines (counted in the load line),
 * never a list that could not be read. */
static void print_ioc_diag(void *ctx, const ps_diag *d)
{
    const int *quiet = ctx;
    if (!*quiet || d->severity == PS_DIAG_ERROR)
        cli_print_diag(NULL, d);
}

/* --iocs: every directory into one set. NULL after saying why when a
 * directory cannot be read (or memory runs out). */
static ps_iocs *load_iocs(const hunt_args *a)
{
    ps_iocs *iocs = ps_iocs_new();
    for (size_t i = 0; iocs && i < a->nioc_dirs; i++) {
        int rc = ps_iocs_load_dir(iocs, a->ioc_dirs[i], print_ioc_diag, (void *)&a->quiet);
        if (rc != PS_OK) {
            fprintf(stderr, "plainsight hunt: cannot load IOCs from %s: %s\n", a->ioc_dirs[i],
                    ps_status_str(rc));
            ps_iocs_free(iocs);
            return NULL;
        }
    }
    if (!iocs) {
        fprintf(stderr, "plainsight hunt: %s\n", ps_status_str(PS_ERR_NOMEM));
        return NULL;
    }
    ps_ioc_counts n;
    ps_iocs_counts(iocs, &n);
    if (!a->quiet)
        fprintf(stderr, "plainsight: %zu C2 domains and addresses loaded (%zu bad lines "
                "skipped)\n", n.c2, n.bad_lines);
    if (!n.c2) /* hash, file-name and keyword lists are for scan */
        fprintf(stderr, "plainsight hunt: warning: no C2 list (*c2*.txt) with entries in "
                "--iocs; hunt looks for C2 domains and addresses only\n");
    return iocs;
}

/* The Sigma rules: --rules, else the built-in pack, unless --iocs alone asks
 * for the indicators only (*set stays NULL then); --builtin adds the pack to
 * either. */
static int load_rules(hunt_args *a, ps_sigma_set **set)
{
    *set = NULL;
    if (!a->nrules && a->nioc_dirs && !a->builtin)
        return 0;
    const char *cache = cli_cache_dir(a->cache_dir, a->no_cache, a->default_cache,
                                      sizeof a->default_cache);
    ps_sigma_options so = {.diag = a->quiet ? NULL : cli_print_diag,
                           .no_prefilter = a->no_prefilter, .cache_dir = cache,
                           .threads = ps_evtx_threads(a->threads)};
    ps_sigma_stats st;
    double started = now_seconds();
    int rc = a->nrules && !a->builtin ? ps_sigma_load(a->rules, a->nrules, &so, set, &st)
                                      : ps_sigma_load_builtin(a->rules, a->nrules, &so, set, &st);
    a->load = st;
    a->load_seconds = now_seconds() - started;
    if (rc != PS_OK) {
        fprintf(stderr, "plainsight hunt: cannot load rules: %s\n", ps_status_str(rc));
        return -1;
    }
    if (!a->quiet)
        report_load(&st, !a->nrules || a->builtin);
    return 0;
}

/* --details FILE, else the built-in table of the fields Details show;
 * `--details all`: an empty table, so every event shows all its data fields. */
static int load_details(const hunt_args *a, ps_details **out)
{
    char err[512];
    int rc = a->details && strcmp(a->details, "all") == 0
                 ? ps_details_load_text("", 0, "all", out, err, sizeof err)
                 : ps_details_load(a->details, out, err, sizeof err);
    if (rc != PS_OK) {
        fprintf(stderr, "plainsight hunt: cannot load the Details table: %s\n",
                err[0] ? err : ps_status_str(rc));
        return -1;
    }
    return 0;
}

int cmd_hunt(int argc, char **argv)
{
    hunt_args a = {0};
    if (parse_args(argc, argv, &a) != 0) {
        free(a.rules);
        free_filter_args(&a);
        return PS_EXIT_ERROR;
    }
    a.started = now_seconds();
    ps_sigma_set *set = NULL;
    ps_iocs *iocs = NULL;
    ps_details *details = NULL;
    int code = PS_EXIT_ERROR;
    if (load_details(&a, &details) == 0 && load_rules(&a, &set) == 0 &&
        (!a.nioc_dirs || (iocs = load_iocs(&a)) != NULL))
        code = run_hunt(&a, argv + optind, argc - optind, set, iocs, details);
    free(a.rules);
    free_filter_args(&a);
    ps_sigma_free(set);
    ps_iocs_free(iocs);
    ps_details_free(details);
    return code;
}
