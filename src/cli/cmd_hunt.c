/* plainsight hunt: match EVTX files against Sigma rules, print a timeline. */
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "plainsight/sigma.h"

static const char HUNT_HELP[] =
    "usage: plainsight hunt [OPTIONS] --rules PATH FILE|DIR...\n"
    "\n"
    "Match Windows event logs (EVTX; directories are searched for *.evtx)\n"
    "against Sigma rules and print the detections sorted by time.\n"
    "\n"
    "options:\n"
    "  -r, --rules PATH     Sigma rule file or directory (repeatable; required)\n"
    "  -f, --format FMT     table (default on a terminal), csv or jsonl\n"
    "  -m, --min-level LVL  informational, low, medium, high or critical\n"
    "  -t, --threads N      worker threads (default: one per CPU)\n"
    "  -o, --output FILE    write to FILE instead of standard output\n"
    "  -q, --quiet          no rule-loading summary, no notes\n"
    "  -h, --help           this help\n"
    "\n"
    "columns: Timestamp, Computer, Channel, EventID, RecordID, Level, RuleTitle,\n"
    "RuleID, MitreTactics, MitreTags, Details, EvtxFile (jsonl uses these keys).\n"
    "\n"
    "examples:\n"
    "  plainsight hunt --rules sigma/rules/windows /mnt/evidence/Logs\n"
    "  plainsight hunt -r rules -f csv -o timeline.csv Security.evtx\n"
    "\n"
    "exit codes: 0 nothing found, 1 detections found, 2 usage or fatal error.\n";

enum { FMT_TABLE, FMT_CSV, FMT_JSONL };

typedef struct detection {
    uint64_t time;
    uint64_t record_id;
    uint32_t event_id;
    size_t rule;
    char *computer, *channel, *details, *file;
} detection;

typedef struct hunt {
    const ps_sigma_set *set;
    ps_sigma_scratch **scratch;  /* one per worker */
    int min_level;
    pthread_mutex_t lock;
    detection *found;
    size_t nfound, cap;
    int oom;
} hunt;

static int level_rank(const char *level)
{
    static const char *const names[] = {"informational", "low", "medium", "high", "critical"};
    for (int i = 0; i < 5; i++)
        if (strcasecmp(level, names[i]) == 0)
            return i;
    return 0;
}

/* A short summary of the event: its EventData/UserData fields, name: value. */
static char *event_details(const ps_event *ev)
{
    char buf[512];
    size_t n = 0;
    for (uint32_t i = 0; i < ev->nfields && n + 4 < sizeof buf; i++) {
        const ps_field *f = &ev->fields[i];
        if (strncmp(f->path, "Event.EventData.", 16) && strncmp(f->path, "Event.UserData.", 15))
            continue;
        if (!f->value_len)
            continue;
        int w = snprintf(buf + n, sizeof buf - n, "%s%s: %s", n ? " ¦ " : "", f->name, f->value);
        if (w < 0)
            break;
        n += (size_t)w;
    }
    if (n >= sizeof buf)
        n = sizeof buf - 1;
    buf[n] = 0;
    for (char *c = buf; *c; c++) /* one line per detection, whatever the values hold */
        if ((unsigned char)*c < 0x20)
            *c = ' ';
    return strdup(buf);
}

static int on_rule_match(void *ctx, const ps_sigma_rule_info *rule, size_t index, const ps_event *ev)
{
    hunt *h = ctx;
    if (level_rank(rule->level) < h->min_level)
        return 0;
    detection d = {ev->time_filetime, ev->record_id, ev->event_id, index, strdup(ev->computer),
                   strdup(ev->channel), event_details(ev), strdup(ev->source)};
    pthread_mutex_lock(&h->lock);
    if (h->nfound == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 256;
        detection *nd = realloc(h->found, cap * sizeof *nd);
        if (nd) {
            h->found = nd;
            h->cap = cap;
        }
    }
    if (h->nfound < h->cap && d.computer && d.channel && d.details && d.file)
        h->found[h->nfound++] = d;
    else {
        h->oom = 1;
        free(d.computer), free(d.channel), free(d.details), free(d.file);
    }
    pthread_mutex_unlock(&h->lock);
    return 0;
}

static int on_event(void *ctx, unsigned worker, const ps_event *ev)
{
    hunt *h = ctx;
    return ps_sigma_match(h->set, h->scratch[worker], ev, on_rule_match, h) == PS_ERR_NOMEM;
}

static int by_time(const void *pa, const void *pb)
{
    const detection *a = pa, *b = pb;
    if (a->time != b->time)
        return a->time < b->time ? -1 : 1;
    int c = strcmp(a->file, b->file);
    if (c)
        return c;
    if (a->record_id != b->record_id)
        return a->record_id < b->record_id ? -1 : 1;
    return a->rule < b->rule ? -1 : a->rule > b->rule; /* same output whatever the thread count */
}

static void format_time(uint64_t filetime, char *out, size_t len)
{
    time_t secs = (time_t)(filetime / 10000000ull) - 11644473600ll;
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t n = strftime(out, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, len - n, ".%03uZ", (unsigned)(filetime / 10000ull % 1000));
}

/* attack.<tactic> tags and attack.tNNNN technique tags, comma-separated. */
static void mitre_tags(const ps_sigma_rule_info *r, int techniques, char *out, size_t len)
{
    size_t n = 0;
    out[0] = 0;
    for (uint32_t i = 0; i < r->ntags; i++) {
        const char *t = r->tags[i];
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

static void csv_field(FILE *f, const char *s, int last)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputs(last ? "\"\n" : "\",", f);
}

static void json_string(FILE *f, const char *key, const char *s, int last)
{
    fprintf(f, "\"%s\":\"", key);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputs(last ? "\"}\n" : "\",", f);
}

static void print_detection(FILE *f, int format, const ps_sigma_set *set, const detection *d)
{
    const ps_sigma_rule_info *r = ps_sigma_rule(set, d->rule);
    char ts[64], eid[16], rec[24], tactics[256], techs[256];
    format_time(d->time, ts, sizeof ts);
    snprintf(eid, sizeof eid, "%u", d->event_id);
    snprintf(rec, sizeof rec, "%llu", (unsigned long long)d->record_id);
    mitre_tags(r, 0, tactics, sizeof tactics);
    mitre_tags(r, 1, techs, sizeof techs);
    const char *cols[12] = {ts, d->computer, d->channel, eid, rec, r->level, r->title,
                            r->id, tactics, techs, d->details, d->file};
    static const char *const keys[12] = {"Timestamp", "Computer", "Channel", "EventID",
                                         "RecordID", "Level", "RuleTitle", "RuleID",
                                         "MitreTactics", "MitreTags", "Details", "EvtxFile"};
    if (format == FMT_CSV) {
        for (int i = 0; i < 12; i++)
            csv_field(f, cols[i], i == 11);
    } else if (format == FMT_JSONL) {
        fputc('{', f);
        for (int i = 0; i < 12; i++)
            json_string(f, keys[i], cols[i], i == 11);
    } else {
        fprintf(f, "%s | %-15.15s | %-8.8s | %5s | %-8s | %s | %s\n    %.200s\n", ts,
                d->computer, d->channel, eid, r->level, r->title, techs, d->details);
    }
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
} hunt_args;

static int parse_args(int argc, char **argv, hunt_args *a)
{
    static const struct option longopts[] = {
        {"rules", required_argument, NULL, 'r'},   {"format", required_argument, NULL, 'f'},
        {"min-level", required_argument, NULL, 'm'}, {"threads", required_argument, NULL, 't'},
        {"output", required_argument, NULL, 'o'},  {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
    a->format = isatty(STDOUT_FILENO) ? FMT_TABLE : FMT_CSV;
    a->rules = calloc((size_t)argc, sizeof *a->rules);
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
        case 'm': a->min_level = level_rank(optarg); break;
        case 't': a->threads = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'o': a->output = optarg; break;
        case 'q': a->quiet = 1; break;
        case 'h': fputs(HUNT_HELP, stdout); exit(PS_EXIT_CLEAN);
        default: fputs(HUNT_HELP, stderr); return -1;
        }
    }
    if (!a->rules || !a->nrules || optind >= argc) {
        fputs("plainsight hunt: give --rules PATH and at least one EVTX file or directory\n", stderr);
        return -1;
    }
    return 0;
}

static void report_load(const ps_sigma_stats *st)
{
    fprintf(stderr, "plainsight: %u rules loaded from %u files, %u skipped\n", st->rules_loaded,
            st->files, st->rules_skipped);
    for (int r = 0; r < PS_SIGMA_SKIP__COUNT; r++)
        if (st->skipped[r])
            fprintf(stderr, "  skipped, %s: %u\n", ps_sigma_skip_str((ps_sigma_skip)r), st->skipped[r]);
}

static int run_hunt(const hunt_args *a, char **inputs, int ninputs, ps_sigma_set *set)
{
    hunt h = {.set = set, .min_level = a->min_level};
    pthread_mutex_init(&h.lock, NULL);
    unsigned workers = ps_evtx_threads(a->threads);
    h.scratch = calloc(workers, sizeof *h.scratch);
    int ok = h.scratch != NULL;
    for (unsigned i = 0; ok && i < workers; i++)
        ok = (h.scratch[i] = ps_sigma_scratch_new(set)) != NULL;
    ps_evtx_options eo = {.threads = a->threads, .diag = a->quiet ? NULL : cli_print_diag};
    ps_evtx_stats es = {0};
    int rc = ok ? ps_evtx_events((const char *const *)inputs, (size_t)ninputs, &eo, on_event, &h, &es)
                : PS_ERR_NOMEM;
    FILE *out = a->output ? fopen(a->output, "w") : stdout;
    int exit_code = rc == PS_OK && !h.oom && out ? (h.nfound ? PS_EXIT_FOUND : PS_EXIT_CLEAN)
                                                  : PS_EXIT_ERROR;
    if (rc != PS_OK)
        fprintf(stderr, "plainsight hunt: %s\n", ps_status_str(rc));
    qsort(h.found, h.nfound, sizeof *h.found, by_time);
    if (out && a->format == FMT_CSV)
        fputs("Timestamp,Computer,Channel,EventID,RecordID,Level,RuleTitle,RuleID,"
              "MitreTactics,MitreTags,Details,EvtxFile\n", out);
    for (size_t i = 0; i < h.nfound; i++) {
        if (out)
            print_detection(out, a->format, set, &h.found[i]);
        free(h.found[i].computer), free(h.found[i].channel), free(h.found[i].details),
            free(h.found[i].file);
    }
    if (out && out != stdout && fclose(out) != 0)
        exit_code = PS_EXIT_ERROR;
    if (!a->quiet)
        fprintf(stderr, "plainsight: %llu events in %llu files, %zu detections\n",
                (unsigned long long)es.records, (unsigned long long)es.files, h.nfound);
    for (unsigned i = 0; h.scratch && i < workers; i++)
        ps_sigma_scratch_free(h.scratch[i]);
    free(h.scratch);
    free(h.found);
    pthread_mutex_destroy(&h.lock);
    return exit_code;
}

int cmd_hunt(int argc, char **argv)
{
    hunt_args a = {0};
    if (parse_args(argc, argv, &a) != 0) {
        free(a.rules);
        return PS_EXIT_ERROR;
    }
    ps_sigma_options so = {.diag = a.quiet ? NULL : cli_print_diag};
    ps_sigma_set *set = NULL;
    ps_sigma_stats st;
    int rc = ps_sigma_load(a.rules, a.nrules, &so, &set, &st);
    free(a.rules);
    if (rc != PS_OK) {
        fprintf(stderr, "plainsight hunt: cannot load rules: %s\n", ps_status_str(rc));
        return PS_EXIT_ERROR;
    }
    if (!a.quiet)
        report_load(&st);
    int code = run_hunt(&a, argv + optind, argc - optind, set);
    ps_sigma_free(set);
    return code;
}
