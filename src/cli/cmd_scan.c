/* plainsight scan: sweep files with IOC lists and YARA rules. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"

enum out_format { OUT_TABLE, OUT_CSV, OUT_JSONL };

typedef struct scan_cli {
    const char *iocs_dir[16];
    size_t niocs;
    const char *yara[64];
    size_t nyara;
    const char *filetypes;
    const char *output;
    const char *html;        /* --html FILE */
    const char *cache_dir;   /* --cache-dir DIR */
    int no_cache;            /* --no-cache */
    ps_report *report;       /* findings for the page, when --html */
    enum out_format format;
    unsigned threads;
    uint64_t max_size;
    int quiet, verbose, all;
    FILE *out;
    uint64_t rows;
    double last_progress;
    int progress_shown;
} scan_cli;

static void usage(FILE *f)
{
    fprintf(f,
"usage: plainsight scan PATH... [--iocs DIR] [--yara PATH]... [options]\n"
"\n"
"Walks files and directories read-only and checks every regular file against\n"
"IOC lists (signature-base / Loki format: hashes, file names, C2, keywords)\n"
"and YARA rules. Each file is read once: MD5, SHA1 and SHA256 are computed and\n"
"the same buffer is scanned by YARA. Scores add up per file as in Loki; a file\n"
"scoring 40 or more is reported as NOTICE, 60 as WARNING, 100 as ALERT.\n"
"Symbolic links are never followed; devices, FIFOs and sockets are skipped.\n"
"\n"
"options:\n"
"  --iocs DIR        load the IOC lists in DIR (files named *hash*, *filename*,\n"
"                    *c2*, *keyword*; *hash*falsepositive* suppresses files)\n"
"  --yara PATH       a YARA rule file or a directory of *.yar/*.yara (repeatable);\n"
"                    externals filename, filepath, extension, filetype, md5 and\n"
"                    owner are set per file as Loki sets them\n"
"  --filetypes FILE  magic list for the `filetype` external (default: the\n"
"                    misc/file-type-signatures.txt next to --iocs, if present)\n"
"  --threads N       worker threads (default: one per CPU); output order is\n"
"                    always by path\n"
"  --max-size BYTES  files larger than this are hashed but not YARA-scanned\n"
"                    (default 64M; suffixes K, M, G)\n"
"  --format FMT      table (default), csv (RFC 4180) or jsonl (one object per line)\n"
"  -o FILE           write results to FILE instead of standard output\n"
"  --html FILE       also write a self-contained HTML page of the findings\n"
"  --cache-dir DIR   keep the compiled file-name IOC database in DIR (default:\n"
"                    $PLAINSIGHT_CACHE_DIR, else $XDG_CACHE_HOME/plainsight, else\n"
"                    ~/.cache/plainsight); rebuilt whenever the lists change\n"
"  --no-cache        neither read nor write that cache (also PLAINSIGHT_NO_CACHE=1)\n"
"  --all             list every file, also those without findings\n"
"  -q, --quiet       no progress line, no summary, no per-file warnings\n"
"  -v, --verbose     also print notes (e.g. YARA compiler warnings)\n"
"  -h, --help        this help\n"
"\n"
"output keys: Path, Size, Modified, MD5, SHA1, SHA256, Score, Level, Reasons\n"
"(each reason: Type hash|filename|yara, Name, Score, Description).\n"
"\n"
"examples:\n"
"  # a mounted disk image against signature-base\n"
"  plainsight scan /mnt/evidence --iocs signature-base/iocs --yara signature-base/yara\n"
"  # only your own rule, 4 threads, machine-readable\n"
"  plainsight scan ./triage --yara my.yar --threads 4 --format jsonl -o hits.jsonl\n"
"  # big files too, as CSV for a spreadsheet\n"
"  plainsight scan /srv --iocs iocs/ --max-size 512M --format csv > scan.csv\n"
"\n"
"exit codes: 0 nothing found, 1 findings reported, 2 error.\n");
}

/* ------------------------------------------------------------- output */

/* JSON string with UTF-8 validation: invalid bytes (file names are raw
 * bytes) become U+FFFD so that every line stays valid JSON. */
static void json_str(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    fputc('"', f);
    while (*p) {
        unsigned c = *p;
        size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        int ok = n > 0;
        for (size_t i = 1; ok && i < n; i++)
            ok = (p[i] & 0xC0) == 0x80;
        if (!ok) {
            fputs("\\ufffd", f);
            p++;
        } else if (n > 1) {
            fwrite(p, 1, n, f);
            p += n;
        } else {
            if (c == '"' || c == '\\')
                fprintf(f, "\\%c", c);
            else if (c < 0x20)
                fprintf(f, "\\u%04x", c);
            else
                fputc((int)c, f);
            p++;
        }
    }
    fputc('"', f);
}

/* RFC 4180: quote when needed, double the quotes inside. */
static void csv_field(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void iso_time(int64_t t, char *out, size_t n)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (gmtime_r(&tt, &tm))
        strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
    else
        snprintf(out, n, "%lld", (long long)t);
}

static void reasons_text(const ps_scan_result *r, char *buf, size_t n)
{
    size_t used = 0;
    buf[0] = 0;
    for (size_t i = 0; i < r->nreasons && used < n; i++) {
        const ps_scan_reason *x = &r->reasons[i];
        int w = snprintf(buf + used, n - used, "%s%s %s (%d): %s", i ? " | " : "",
                         ps_reason_type_name(x->type), x->name, x->score, x->description);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

static void print_jsonl(FILE *f, const ps_scan_result *r, const char *mtime)
{
    fputs("{\"Path\":", f);
    json_str(f, r->path);
    fprintf(f, ",\"Size\":%llu,\"Modified\":\"%s\",\"MD5\":\"%s\",\"SHA1\":\"%s\",\"SHA256\":\"%s\"",
            (unsigned long long)r->size, mtime, r->md5, r->sha1, r->sha256);
    fprintf(f, ",\"Score\":%d,\"Level\":\"%s\",\"FileType\":", r->score, ps_scan_level_name(r->level));
    json_str(f, r->filetype);
    fprintf(f, ",\"YaraScanned\":%s,\"Reasons\":[", (r->flags & PS_SCAN_YARA) ? "true" : "false");
    for (size_t i = 0; i < r->nreasons; i++) {
        const ps_scan_reason *x = &r->reasons[i];
        fprintf(f, "%s{\"Type\":\"%s\",\"Name\":", i ? "," : "", ps_reason_type_name(x->type));
        json_str(f, x->name);
        fprintf(f, ",\"Score\":%d,\"Description\":", x->score);
        json_str(f, x->description);
        fputc('}', f);
    }
    fputs("]}\n", f);
}

static void print_csv(FILE *f, const ps_scan_result *r, const char *mtime)
{
    char reasons[8192];
    reasons_text(r, reasons, sizeof reasons);
    csv_field(f, r->path);
    fprintf(f, ",%llu,%s,%s,%s,%s,%d,%s,", (unsigned long long)r->size, mtime, r->md5, r->sha1,
            r->sha256, r->score, ps_scan_level_name(r->level));
    csv_field(f, reasons);
    fputs("\r\n", f);
}

static void print_table(FILE *f, const ps_scan_result *r, const char *mtime)
{
    fprintf(f, "%-7s %5d  %s\n", ps_scan_level_name(r->level), r->score, r->path);
    fprintf(f, "               size %llu  modified %s  type %s%s\n", (unsigned long long)r->size,
            mtime, r->filetype,
            (r->flags & PS_SCAN_TOO_LARGE) ? "  (over --max-size: not YARA-scanned)" : "");
    if (r->flags & PS_SCAN_HASHED)
        fprintf(f, "               md5 %s  sha1 %s\n               sha256 %s\n", r->md5, r->sha1,
                r->sha256);
    for (size_t i = 0; i < r->nreasons; i++) {
        const ps_scan_reason *x = &r->reasons[i];
        fprintf(f, "               %-8s %s (+%d) %s\n", ps_reason_type_name(x->type), x->name,
                x->score, x->description);
    }
}

static void clear_progress(scan_cli *c)
{
    if (c->progress_shown) {
        fputs("\r\033[K", stderr);
        c->progress_shown = 0;
    }
}

static int on_result(void *ctx, const ps_scan_result *r)
{
    scan_cli *c = ctx;
    char mtime[32];
    iso_time(r->mtime, mtime, sizeof mtime);
    if (c->out == stdout)
        clear_progress(c);
    if (c->format == OUT_JSONL)
        print_jsonl(c->out, r, mtime);
    else if (c->format == OUT_CSV)
        print_csv(c->out, r, mtime);
    else
        print_table(c->out, r, mtime);
    c->rows++;
    for (size_t i = 0; c->report && r->level != PS_LEVEL_NONE && i < r->nreasons; i++) {
        const ps_scan_reason *x = &r->reasons[i];
        char reason[512];
        snprintf(reason, sizeof reason, "%s %s (+%d)", ps_reason_type_name(x->type), x->name,
                 x->score);
        ps_report_finding f = {r->path, ps_scan_level_name(r->level), reason, x->description,
                               (r->flags & PS_SCAN_HASHED) ? r->sha256 : ""};
        if (ps_report_add_finding(c->report, &f) != PS_OK)
            return 1; /* out of memory: stop */
    }
    return ferror(c->out) ? 1 : 0;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_progress(void *ctx, uint64_t files, uint64_t bytes)
{
    scan_cli *c = ctx;
    double t = now_seconds();
    if (t - c->last_progress < 0.2)
        return;
    c->last_progress = t;
    fprintf(stderr, "\r\033[Kscanning: %llu files, %.1f MB", (unsigned long long)files,
            (double)bytes / 1e6);
    c->progress_shown = 1;
}

static void on_diag(void *ctx, const ps_diag *d)
{
    scan_cli *c = ctx;
    if (d->severity == PS_DIAG_NOTE && !c->verbose)
        return;
    if (c->quiet && d->severity != PS_DIAG_ERROR)
        return;
    clear_progress(c);
    cli_print_diag(NULL, d);
}

/* ------------------------------------------------------------ options */

static int parse_size(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || errno || s[0] == '-')
        return -1;
    unsigned shift = 0;
    switch (*end) {
    case 0: break;
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    default: return -1;
    }
    if (*end || v == 0 || v > (UINT64_MAX >> shift))
        return -1;
    *out = (uint64_t)v << shift;
    return 0;
}

static int parse_args(scan_cli *c, int argc, char **argv)
{
    enum { O_IOCS = 256, O_YARA, O_FILETYPES, O_THREADS, O_MAXSIZE, O_FORMAT, O_ALL,
           O_HTML, O_CACHE_DIR, O_NO_CACHE };
    static const struct option opts[] = {
        {"iocs", required_argument, NULL, O_IOCS},
        {"yara", required_argument, NULL, O_YARA},
        {"filetypes", required_argument, NULL, O_FILETYPES},
        {"threads", required_argument, NULL, O_THREADS},
        {"max-size", required_argument, NULL, O_MAXSIZE},
        {"format", required_argument, NULL, O_FORMAT},
        {"quiet", no_argument, NULL, 'q'},
        {"all", no_argument, NULL, O_ALL},
        {"html", required_argument, NULL, O_HTML},
        {"cache-dir", required_argument, NULL, O_CACHE_DIR},
        {"no-cache", no_argument, NULL, O_NO_CACHE},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "o:qvh", opts, NULL)) != -1) {
        char *end;
        switch (ch) {
        case O_IOCS:
            if (c->niocs == sizeof c->iocs_dir / sizeof c->iocs_dir[0])
                return fprintf(stderr, "plainsight scan: too many --iocs\n"), -1;
            c->iocs_dir[c->niocs++] = optarg;
            break;
        case O_YARA:
            if (c->nyara == sizeof c->yara / sizeof c->yara[0])
                return fprintf(stderr, "plainsight scan: too many --yara\n"), -1;
            c->yara[c->nyara++] = optarg;
            break;
        case O_FILETYPES: c->filetypes = optarg; break;
        case O_THREADS: {
            unsigned long v = strtoul(optarg, &end, 10);
            if (*end || end == optarg || v < 1 || v > 256)
                return fprintf(stderr, "plainsight scan: --threads wants 1..256\n"), -1;
            c->threads = (unsigned)v;
            break;
        }
        case O_MAXSIZE:
            if (parse_size(optarg, &c->max_size) != 0)
                return fprintf(stderr, "plainsight scan: bad --max-size '%s'\n", optarg), -1;
            break;
        case O_FORMAT:
            if (!strcmp(optarg, "table"))
                c->format = OUT_TABLE;
            else if (!strcmp(optarg, "csv"))
                c->format = OUT_CSV;
            else if (!strcmp(optarg, "jsonl"))
                c->format = OUT_JSONL;
            else
                return fprintf(stderr, "plainsight scan: --format is table, csv or jsonl\n"), -1;
            break;
        case 'o': c->output = optarg; break;
        case 'q': c->quiet = 1; break;
        case O_ALL: c->all = 1; break;
        case O_HTML: c->html = optarg; break;
        case O_CACHE_DIR: c->cache_dir = optarg; break;
        case O_NO_CACHE: c->no_cache = 1; break;
        case 'v': c->verbose = 1; break;
        case 'h': usage(stdout); return 1;
        default: return -1;
        }
    }
    if (optind >= argc)
        return fprintf(stderr, "plainsight scan: no PATH to scan (see --help)\n"), -1;
    if (!c->niocs && !c->nyara)
        return fprintf(stderr, "plainsight scan: give --iocs DIR and/or --yara PATH\n"), -1;
    return 0;
}

/* ------------------------------------------------------------- set-up */

static const char *default_filetypes(const scan_cli *c, char *buf, size_t n)
{
    for (size_t i = 0; i < c->niocs; i++) {
        const char *forms[] = {"%s/../misc/file-type-signatures.txt", "%s/misc/file-type-signatures.txt"};
        for (size_t k = 0; k < 2; k++) {
            struct stat st;
            if ((size_t)snprintf(buf, n, forms[k], c->iocs_dir[i]) < n && stat(buf, &st) == 0 &&
                S_ISREG(st.st_mode))
                return buf;
        }
    }
    return NULL;
}

/* Building the file-name database (from the cache when it can): on a
 * thread of its own while the YARA rules compile, unless the scan is to use
 * one thread (with a cold cache it takes 0.4 s on signature-base, the YARA
 * compile under 0.1 s). */
typedef struct ioc_prep {
    ps_iocs *iocs;
    const char *dir;             /* the cache directory, or NULL */
    char dir_buf[4096];
    ps_ioc_cache_state state;
    double secs;
    pthread_t tid;
    int threaded;
} ioc_prep;

static void *prepare_iocs_main(void *arg)
{
    ioc_prep *p = arg;
    double t0 = now_seconds();
    p->state = ps_iocs_prepare(p->iocs);
    p->secs = now_seconds() - t0;
    return NULL;
}

static int start_iocs(scan_cli *c, ps_iocs *iocs, ioc_prep *p)
{
    p->iocs = iocs;
    p->dir = cli_cache_dir(c->cache_dir, c->no_cache, p->dir_buf, sizeof p->dir_buf);
    if (ps_iocs_set_cache_dir(iocs, p->dir) != PS_OK)
        return -1;
    if (c->threads != 1 && c->nyara && pthread_create(&p->tid, NULL, prepare_iocs_main, p) == 0)
        p->threaded = 1;
    else
        prepare_iocs_main(p);
    return 0;
}

/* Waits for the database and says, with -v, where it came from; then the
 * counts of what was loaded. */
static void finish_iocs(scan_cli *c, ioc_prep *p)
{
    if (p->threaded)
        pthread_join(p->tid, NULL);
    p->threaded = 0;
    const char *what = NULL;
    switch (p->state) {
    case PS_IOC_CACHE_LOADED: what = "loaded from the cache in"; break;
    case PS_IOC_CACHE_STORED: what = "compiled and cached in"; break;
    case PS_IOC_CACHE_UNWRITABLE: what = "compiled (cache not writable) in"; break;
    case PS_IOC_CACHE_REJECTED: what = "compiled (cached copy unusable, replaced) in"; break;
    case PS_IOC_CACHE_UNUSED: break;
    }
    if (what && c->verbose && !c->quiet) {
        clear_progress(c);
        fprintf(stderr, "plainsight scan: note: file-name IOC database %s %.3f s (%s)\n", what,
                p->secs, p->dir ? p->dir : "no cache");
    }
    if (!c->quiet && c->niocs) {
        ps_ioc_counts n;
        ps_iocs_counts(p->iocs, &n);
        fprintf(stderr,
                "plainsight scan: IOCs: %zu MD5, %zu SHA1, %zu SHA256, %zu false-positive hashes, "
                "%zu file-name patterns, %zu C2, %zu keywords (%zu bad lines skipped)\n",
                n.md5, n.sha1, n.sha256, n.fp_hashes, n.filename, n.c2, n.keywords, n.bad_lines);
    }
}

static int load_iocs(scan_cli *c, ps_iocs *iocs)
{
    for (size_t i = 0; i < c->niocs; i++) {
        int rc = ps_iocs_load_dir(iocs, c->iocs_dir[i], on_diag, c);
        if (rc != PS_OK) {
            /* A missing list would mean a sweep that silently checks less. */
            fprintf(stderr, "plainsight scan: cannot load the IOC lists in %s: %s\n",
                    c->iocs_dir[i], ps_status_str(rc));
            return -1;
        }
    }
    return 0;
}

static int setup_rules(scan_cli *c, ps_scanner *s)
{
    for (size_t i = 0; i < c->nyara; i++)
        if (ps_scanner_add_yara(s, c->yara[i]) != PS_OK)
            return -1;
    char buf[4096];
    const char *ft = c->filetypes ? c->filetypes : default_filetypes(c, buf, sizeof buf);
    if (ft && ps_scanner_load_filetypes(s, ft) != PS_OK) {
        fprintf(stderr, "plainsight scan: cannot read file-type list %s\n", ft);
        return -1;
    }
    size_t nrules = 0;
    int rc = ps_scanner_compile(s, &nrules);
    if (rc == PS_ERR_NOMEM || (c->nyara && nrules == 0)) {
        fprintf(stderr, "plainsight scan: no usable YARA rules\n");
        return -1;
    }
    if (!c->quiet && c->nyara)
        fprintf(stderr, "plainsight scan: %zu YARA rules compiled%s\n", nrules,
                rc == PS_OK ? "" : " (some files left out, see above)");
    return 0;
}

static void print_summary(const ps_scan_stats *st, double secs)
{
    fprintf(stderr,
            "plainsight scan: %llu files, %.1f MB in %.2f s; %llu YARA-scanned, %llu over the size "
            "limit (hashed only), %llu unreadable, %llu special files and %llu symlinks skipped, "
            "%llu directory errors\n"
            "plainsight scan: %llu ALERT, %llu WARNING, %llu NOTICE%s\n",
            (unsigned long long)st->files, (double)st->bytes / 1e6, secs,
            (unsigned long long)st->yara_scanned, (unsigned long long)st->too_large,
            (unsigned long long)st->unreadable, (unsigned long long)st->special,
            (unsigned long long)st->symlinks, (unsigned long long)st->dir_errors,
            (unsigned long long)st->alerts, (unsigned long long)st->warnings,
            (unsigned long long)st->notices,
            st->suppressed ? " (some files suppressed by false-positive hashes)" : "");
}

/* --html: the findings and the sweep's facts as one page. */
static int write_html_report(scan_cli *c, const ps_scan_stats *st, double secs)
{
    ps_report_run run = {.command = "scan", .files = st->files, .events = st->files,
                         .seconds = secs};
    ps_report_set_run(c->report, &run);
    int rc = ps_report_write(c->report, c->html);
    if (rc != PS_OK) {
        fprintf(stderr, "plainsight scan: cannot write %s: %s\n", c->html,
                rc == PS_ERR_IO ? strerror(errno) : ps_status_str(rc));
        return -1;
    }
    if (!c->quiet)
        fprintf(stderr, "plainsight scan: report written to %s\n", c->html);
    return 0;
}

static int run_scan(scan_cli *c, ps_scanner *s, int argc, char **argv)
{
    if (c->format == OUT_CSV)
        fputs("Path,Size,Modified,MD5,SHA1,SHA256,Score,Level,Reasons\r\n", c->out);
    ps_scan_stats st;
    double t0 = now_seconds();
    int rc = ps_scan_run(s, (const char *const *)argv + optind, (size_t)(argc - optind), on_result,
                         c, &st);
    clear_progress(c);
    if (fflush(c->out) != 0 || ferror(c->out)) {
        fprintf(stderr, "plainsight scan: cannot write output: %s\n", strerror(errno));
        return PS_EXIT_ERROR;
    }
    if (rc != PS_OK && rc != PS_ERR_STOP) {
        fprintf(stderr, "plainsight scan: %s\n", ps_status_str(rc));
        return PS_EXIT_ERROR;
    }
    if (!c->quiet)
        print_summary(&st, now_seconds() - t0);
    if (c->report && write_html_report(c, &st, now_seconds() - t0) != 0)
        return PS_EXIT_ERROR;
    return st.alerts + st.warnings + st.notices ? PS_EXIT_FOUND : PS_EXIT_CLEAN;
}

int cmd_scan(int argc, char **argv)
{
    scan_cli c = {0};
    int pr = parse_args(&c, argc, argv);
    if (pr != 0)
        return pr > 0 ? PS_EXIT_CLEAN : PS_EXIT_ERROR;
    int show_progress = !c.quiet && cli_stderr_is_tty();
    ps_scan_options opt = {.threads = c.threads, .max_scan_size = c.max_size,
                           .report_all = c.all, .diag = on_diag, .diag_ctx = &c,
                           .progress = show_progress ? on_progress : NULL, .progress_ctx = &c};
    ps_iocs *iocs = ps_iocs_new();
    ps_scanner *s = ps_scanner_new(&opt);
    int rc = PS_EXIT_ERROR;
    c.report = c.html ? ps_report_new() : NULL;
    if (!iocs || !s || (c.html && !c.report)) {
        fprintf(stderr, "plainsight scan: out of memory\n");
        goto done;
    }
    ioc_prep prep = {0};
    if (load_iocs(&c, iocs) != 0 || start_iocs(&c, iocs, &prep) != 0)
        goto done;
    int rules_ok = setup_rules(&c, s) == 0;
    finish_iocs(&c, &prep);
    if (!rules_ok)
        goto done;
    ps_scanner_set_iocs(s, iocs);
    c.out = c.output ? fopen(c.output, "w") : stdout;
    if (!c.out) {
        fprintf(stderr, "plainsight scan: cannot write %s: %s\n", c.output, strerror(errno));
        goto done;
    }
    rc = run_scan(&c, s, argc, argv);
    if (c.out != stdout && fclose(c.out) != 0)
        rc = PS_EXIT_ERROR;
done:
    ps_report_free(c.report);
    ps_scanner_free(s);
    ps_iocs_free(iocs);
    return rc;
}
