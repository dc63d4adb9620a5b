/* The report page: static head and summary written in C, the data as JSON in
 * a non-executed <script type="application/json">, then the inline script
 * that builds the views. A Content-Security-Policy allows only that script,
 * by its hash, so script injected through the data could not run even if an
 * escaping bug let it into the page. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "plainsight/common.h"
#include "report/report_internal.h"

/* Beyond these the page gets too slow to open; the summary says what was cut. */
#define MAX_DETECTIONS 200000
#define MAX_EDGES 50000

static const char *const LEVELS[5] = {"critical", "high", "medium", "low", "informational"};

static int level_index(const char *level)
{
    for (int i = 0; i < 5; i++)
        if (!strcasecmp(level, LEVELS[i]))
            return i;
    return 4;
}

static int by_time(const void *pa, const void *pb)
{
    const report_detection *a = pa, *b = pb;
    if (a->time != b->time)
        return a->time < b->time ? -1 : 1;
    int c = strcmp(a->computer, b->computer);
    if (!c)
        c = strcmp(a->source, b->source);
    if (!c && a->record_id != b->record_id)
        return a->record_id < b->record_id ? -1 : 1;
    return c ? c : strcmp(a->rule_id, b->rule_id);
}

/* Edges in a fixed order, so the same input gives the same page. */
static int by_edge(const void *pa, const void *pb)
{
    const logon_edge *a = *(const logon_edge *const *)pa, *b = *(const logon_edge *const *)pb;
    int c = strcmp(a->target, b->target);
    if (!c) c = strcmp(a->source_host, b->source_host);
    if (!c) c = strcmp(a->source_ip, b->source_ip);
    if (!c) c = strcmp(a->domain, b->domain);
    if (!c) c = strcmp(a->account, b->account);
    return c ? c : (int)a->kind - (int)b->kind;
}

static void json_time(ps_buf *b, uint64_t filetime)
{
    char t[40];
    report_format_time(filetime, t);
    report_json_string(b, t);
}

static void json_detection(ps_buf *b, const report_detection *d)
{
    ps_buf_addc(b, '[');
    json_time(b, d->time);
    ps_buf_addc(b, ',');
    report_json_string(b, d->computer);
    ps_buf_addc(b, ',');
    report_json_string(b, d->channel);
    ps_buf_printf(b, ",%u,%llu,", d->event_id, (unsigned long long)d->record_id);
    report_json_string(b, LEVELS[level_index(d->level)]);
    const char *rest[6] = {d->title, d->rule_id, d->tactics, d->techniques, d->details,
                           d->source};
    for (int i = 0; i < 6; i++) {
        ps_buf_addc(b, ',');
        report_json_string(b, rest[i]);
    }
    ps_buf_addc(b, ']');
}

static void json_edge(ps_buf *b, const logon_edge *e)
{
    ps_buf_addc(b, '[');
    report_json_string(b, ps_logon_kind_str(e->kind));
    const char *text[5] = {e->target, e->account, e->domain, e->source_host, e->source_ip};
    for (int i = 0; i < 5; i++) {
        ps_buf_addc(b, ',');
        report_json_string(b, text[i]);
    }
    ps_buf_printf(b, ",%llu,", (unsigned long long)e->count);
    json_time(b, e->first);
    ps_buf_addc(b, ',');
    json_time(b, e->last);
    ps_buf_addc(b, ']');
}

static void json_finding(ps_buf *b, const report_finding *f)
{
    const char *text[5] = {f->path, f->level, f->reason, f->detail, f->sha256};
    for (int i = 0; i < 5; i++) {
        ps_buf_addc(b, i ? ',' : '[');
        report_json_string(b, text[i]);
    }
    ps_buf_addc(b, ']');
}

static void json_logons(ps_buf *b, const ps_report *r)
{
    size_t n = r->nedges < MAX_EDGES ? r->nedges : MAX_EDGES;
    const logon_edge **order = malloc((r->nedges ? r->nedges : 1) * sizeof *order);
    if (!order) {
        b->failed = 1;
        return;
    }
    for (size_t i = 0; i < r->nedges; i++)
        order[i] = &r->edges[i];
    qsort(order, r->nedges, sizeof *order, by_edge);
    ps_buf_lit(b, "\"logons\":[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            ps_buf_addc(b, ',');
        json_edge(b, order[i]);
    }
    ps_buf_lit(b, "]");
    free(order);
}

/* The data the script reads: compact arrays, columns as report.js names them. */
static void json_data(ps_buf *b, const ps_report *r)
{
    size_t ndet = r->ndetections < MAX_DETECTIONS ? r->ndetections : MAX_DETECTIONS;
    ps_buf_lit(b, "{\"version\":");
    report_json_string(b, PS_VERSION);
    ps_buf_lit(b, ",\"command\":");
    report_json_string(b, r->run_command ? r->run_command : "hunt");
    ps_buf_printf(b, ",\"detections_total\":%zu,\"logons_total\":%zu,\"detections\":[",
                  r->ndetections, r->nedges);
    for (size_t i = 0; i < ndet; i++) {
        if (i)
            ps_buf_addc(b, ',');
        json_detection(b, &r->detections[i]);
    }
    ps_buf_lit(b, "],");
    json_logons(b, r);
    ps_buf_lit(b, ",\"findings\":[");
    for (size_t i = 0; i < r->nfindings; i++) {
        if (i)
            ps_buf_addc(b, ',');
        json_finding(b, &r->findings[i]);
    }
    ps_buf_lit(b, "]}");
}

static void card(ps_buf *b, const char *cls, const char *label, const char *value)
{
    ps_buf_printf(b, "<div class=\"card %s\"><b>", cls);
    report_html_escape(b, value);
    ps_buf_lit(b, "</b>");
    report_html_escape(b, label);
    ps_buf_lit(b, "</div>");
}

static int by_string(const void *pa, const void *pb)
{
    return strcmp(*(const char *const *)pa, *(const char *const *)pb);
}

static size_t count_hosts(const ps_report *r, ps_buf *b)
{
    const char **names = malloc((r->ndetections ? r->ndetections : 1) * sizeof *names);
    if (!names) {
        b->failed = 1;
        return 0;
    }
    for (size_t i = 0; i < r->ndetections; i++)
        names[i] = r->detections[i].computer;
    qsort(names, r->ndetections, sizeof *names, by_string);
    size_t hosts = 0;
    for (size_t i = 0; i < r->ndetections; i++)
        hosts += i == 0 || strcmp(names[i], names[i - 1]) != 0;
    free(names);
    return hosts;
}

/* Static summary: readable even where scripts are off. */
static void summary(ps_buf *b, const ps_report *r, size_t nhosts)
{
    size_t by_level[5] = {0};
    for (size_t i = 0; i < r->ndetections; i++)
        by_level[level_index(r->detections[i].level)]++;
    char num[64], first[40], last[40];
    ps_buf_lit(b, "<section class=\"view\" id=\"summary\"><h2>Summary</h2><div class=\"cards\">");
    snprintf(num, sizeof num, "%zu", r->ndetections);
    card(b, "", "detections", num);
    for (int l = 0; l < 5; l++) {
        char cls[16];
        snprintf(num, sizeof num, "%zu", by_level[l]);
        snprintf(cls, sizeof cls, "lvl-%d", l);
        card(b, cls, LEVELS[l], num);
    }
    snprintf(num, sizeof num, "%zu", nhosts);
    card(b, "", "hosts with detections", num);
    snprintf(num, sizeof num, "%zu", r->nedges);
    card(b, "", "distinct logon paths", num);
    ps_buf_lit(b, "</div><table class=\"facts\"><tbody>");
    report_format_time(r->run.first_time ? r->run.first_time : r->first_time, first);
    report_format_time(r->run.last_time ? r->run.last_time : r->last_time, last);
    ps_buf_lit(b, "<tr><th>Time span (UTC)</th><td>");
    report_html_escape(b, first[0] ? first : "-");
    ps_buf_lit(b, " \xE2\x80\x94 ");
    report_html_escape(b, last[0] ? last : "-");
    ps_buf_printf(b, "</td></tr><tr><th>Rules</th><td>%u loaded, %u skipped</td></tr>"
                  "<tr><th>Input</th><td>%llu files, %llu %s, %.2f s</td></tr>",
                  r->run.rules_loaded, r->run.rules_skipped, (unsigned long long)r->run.files,
                  (unsigned long long)r->run.events,
                  r->run_command && !strcmp(r->run_command, "scan") ? "files looked at" : "events",
                  r->run.seconds);
    if (r->ndetections > MAX_DETECTIONS || r->nedges > MAX_EDGES)
        ps_buf_printf(b, "<tr><th>Note</th><td>the views hold the first %d detections and "
                      "%d logon paths</td></tr>", MAX_DETECTIONS, MAX_EDGES);
    ps_buf_lit(b, "</tbody></table></section>");
}

static void head(ps_buf *b, const char *script_hash)
{
    ps_buf_lit(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
                  "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
                  "style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
                  "form-action 'none'; script-src 'sha256-");
    ps_buf_adds(b, script_hash);
    ps_buf_lit(b, "'\">\n<meta name=\"referrer\" content=\"no-referrer\">\n"
                  "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                  "<title>plainsight report</title>\n<style>\n");
    ps_buf_adds(b, report_style);
    ps_buf_lit(b, "</style></head>\n<body>\n");
}

static void banner(ps_buf *b, const ps_report *r)
{
    char now[40];
    time_t t = time(NULL);
    report_format_time(((uint64_t)t + 11644473600ull) * 10000000ull, now);
    ps_buf_lit(b, "<header><h1>plainsight report</h1><p>");
    report_html_escape(b, r->run_command ? r->run_command : "hunt");
    ps_buf_lit(b, ", written ");
    report_html_escape(b, now);
    ps_buf_lit(b, " by plainsight " PS_VERSION "</p></header>\n"
                  "<nav><a href=\"#summary\">Summary</a><a href=\"#timeline\">Timeline</a>"
                  "<a href=\"#attack\">ATT&amp;CK</a><a href=\"#logons\">Logons</a>"
                  "<a href=\"#hosts\">Hosts</a></nav>\n<main id=\"app\">\n"
                  "<noscript><p>The timeline, ATT&amp;CK view, logon graph and host sections "
                  "need JavaScript; their data is in the page's JSON.</p></noscript>\n");
}

void report_render_page(ps_report *r, ps_buf *b)
{
    char hash[48];
    if (report_sha256_base64(report_script, strlen(report_script), hash) != 0) {
        b->failed = 1;
        return;
    }
    if (r->ndetections) /* detections is NULL until the first is added */
        qsort(r->detections, r->ndetections, sizeof *r->detections, by_time);
    head(b, hash);
    banner(b, r);
    summary(b, r, count_hosts(r, b));
    ps_buf_lit(b, "</main>\n<script type=\"application/json\" id=\"ps-data\">");
    json_data(b, r);
    ps_buf_lit(b, "</script>\n<script>");
    ps_buf_adds(b, report_script);
    ps_buf_lit(b, "</script>\n</body></html>\n");
}
