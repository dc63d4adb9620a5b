/* The scanner object: options, IOCs, file types, rules and the diag lock. The
 * walk and the per-file work live in walk.c and scan_file.c. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scan/scan_internal.h"

static void apply_defaults(ps_scan_options *o)
{
    if (!o->max_scan_size)
        o->max_scan_size = PS_SCAN_DEFAULT_MAX_SIZE;
    if (o->yara_timeout <= 0)
        o->yara_timeout = PS_SCAN_DEFAULT_TIMEOUT;
    if (o->alert_score <= 0)
        o->alert_score = 100;
    if (o->warning_score <= 0)
        o->warning_score = 60;
    if (o->notice_score <= 0)
        o->notice_score = 40;
}

ps_scanner *ps_scanner_new(const ps_scan_options *opt)
{
    ps_scanner *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    if (opt)
        s->opt = *opt;
    apply_defaults(&s->opt);
    ps_filetypes_init(&s->filetypes);
    pthread_mutex_init(&s->diag_mu, NULL);
    /* libyara's process-wide state; yr_finalize() in ps_scanner_free(). */
    if (yr_initialize() != ERROR_SUCCESS) {
        ps_scanner_free(s);
        return NULL;
    }
    s->yara_ready = 1;
    return s;
}

void ps_scanner_free(ps_scanner *s)
{
    if (!s)
        return;
    ps_rules_free(&s->rules);
    ps_filetypes_free(&s->filetypes);
    pthread_mutex_destroy(&s->diag_mu);
    if (s->yara_ready)
        yr_finalize();
    free(s);
}

void ps_scanner_set_iocs(ps_scanner *s, const ps_iocs *iocs) { s->iocs = iocs; }

int ps_scanner_load_filetypes(ps_scanner *s, const char *path)
{
    if (!s || !path)
        return PS_ERR_ARG;
    return ps_filetypes_load(&s->filetypes, path, s->opt.diag, s->opt.diag_ctx);
}

int ps_scanner_add_yara(ps_scanner *s, const char *path)
{
    if (!s || !path)
        return PS_ERR_ARG;
    int rc = ps_rules_add_path(&s->rules, path, s->opt.diag, s->opt.diag_ctx);
    if (rc == PS_ERR_IO || rc == PS_ERR_ARG)
        ps_scan_diag(s, PS_DIAG_ERROR, path, "cannot read YARA rules: not a readable file or directory");
    return rc;
}

int ps_scanner_compile(ps_scanner *s, size_t *nrules)
{
    if (!s)
        return PS_ERR_ARG;
    int rc = ps_rules_compile(&s->rules, s->opt.diag, s->opt.diag_ctx);
    if (nrules)
        *nrules = s->rules.nrules;
    return rc;
}

void ps_scan_diag(ps_scanner *s, ps_severity sev, const char *path, const char *fmt, ...)
{
    if (!s->opt.diag)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ps_diag d = {sev, path, 0, 0, msg};
    pthread_mutex_lock(&s->diag_mu);
    s->opt.diag(s->opt.diag_ctx, &d);
    pthread_mutex_unlock(&s->diag_mu);
}

const char *ps_scan_level_name(ps_scan_level level)
{
    switch (level) {
    case PS_LEVEL_ALERT: return "ALERT";
    case PS_LEVEL_WARNING: return "WARNING";
    case PS_LEVEL_NOTICE: return "NOTICE";
    default: return "NONE";
    }
}

const char *ps_reason_type_name(ps_reason_type type)
{
    switch (type) {
    case PS_REASON_HASH: return "hash";
    case PS_REASON_FILENAME: return "filename";
    default: return "yara";
    }
}
