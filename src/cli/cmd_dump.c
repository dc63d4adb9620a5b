/* plainsight dump: EVTX to JSON lines, JSON or XML. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"

static const char DUMP_HELP[] =
    "usage: plainsight dump [OPTIONS] FILE|DIR...\n"
    "\n"
    "Convert Windows event logs (EVTX) to JSON lines, JSON or XML. Directories\n"
    "are searched recursively for *.evtx. Files are opened read-only. Damaged\n"
    "files are decoded as far as possible; each problem is reported once on\n"
    "stderr with the file and byte offset.\n"
    "\n"
    "options:\n"
    "  -f, --format FMT   jsonl (default): one JSON object per line, in the\n"
    "                     layout of evtx_dump (Event.System, #attributes,\n"
    "                     EventData flattened by Data Name)\n"
    "                     json: the same objects as one indented JSON array\n"
    "                     xml: the event XML as Windows renders it\n"
    "  -t, --threads N    worker threads (default: one per CPU); output order\n"
    "                     is the same whatever N is\n"
    "  -r, --recover      also output deleted or overwritten records found in\n"
    "                     chunk slack (not already present as live records)\n"
    "  -o, --output FILE  write to FILE instead of standard output\n"
    "  -q, --quiet        no progress line, no notes (warnings still shown)\n"
    "  -h, --help         this help\n"
    "\n"
    "examples:\n"
    "  plainsight dump Security.evtx > security.jsonl\n"
    "  plainsight dump --format xml System.evtx | less\n"
    "  plainsight dump --recover -o all.jsonl /mnt/evidence/Windows/System32/winevt/Logs\n"
    "  plainsight dump Security.evtx | jq -c 'select(.Event.System.EventID==4624)'\n"
    "\n"
    "exit codes: 0 every input was read; 2 usage error, an input that is not\n"
    "an EVTX file or cannot be read, or a write error.\n";

typedef struct dump_cli {
    int fd;
    int quiet;
    int progress;
    double last_draw;
    double started;
} dump_cli;

static int write_all(void *ctx, const void *data, size_t len)
{
    dump_cli *d = ctx;
    const char *p = data;
    while (len) {
        ssize_t n = write(d->fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void draw_progress(void *ctx, const ps_evtx_stats *st)
{
    dump_cli *d = ctx;
    double t = now_seconds();
    if (t - d->last_draw < 0.25 || t - d->started < 1.0)
        return;
    d->last_draw = t;
    double secs = t - d->started;
    fprintf(stderr, "\r\033[Kplainsight: %llu files, %.1f MB, %llu records, %.0f MB/s",
            (unsigned long long)st->files, st->bytes / 1e6,
            (unsigned long long)st->records, st->bytes / 1e6 / secs);
}

static void print_diag_filtered(void *ctx, const ps_diag *diag)
{
    dump_cli *d = ctx;
    if (d->quiet && diag->severity == PS_DIAG_NOTE)
        return;
    if (d->progress)
        fputs("\r\033[K", stderr);
    cli_print_diag(NULL, diag);
}

static int parse_format(const char *s, ps_format *f)
{
    if (!strcmp(s, "jsonl"))
        *f = PS_FORMAT_JSONL;
    else if (!strcmp(s, "json"))
        *f = PS_FORMAT_JSON;
    else if (!strcmp(s, "xml"))
        *f = PS_FORMAT_XML;
    else
        return -1;
    return 0;
}

int cmd_dump(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"format", required_argument, NULL, 'f'}, {"threads", required_argument, NULL, 't'},
        {"recover", no_argument, NULL, 'r'},      {"output", required_argument, NULL, 'o'},
        {"quiet", no_argument, NULL, 'q'},        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    ps_format format = PS_FORMAT_JSONL;
    ps_evtx_options opt = {0};
    dump_cli d = {.fd = STDOUT_FILENO};
    const char *output = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "f:t:ro:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (parse_format(optarg, &format)) {
                fprintf(stderr, "plainsight dump: unknown format '%s' (jsonl, json, xml)\n", optarg);
                return PS_EXIT_ERROR;
            }
            break;
        case 't': {
            char *end;
            long n = strtol(optarg, &end, 10);
            if (*end || n < 1 || n > 256) {
                fprintf(stderr, "plainsight dump: --threads takes a number from 1 to 256\n");
                return PS_EXIT_ERROR;
            }
            opt.threads = (unsigned)n;
            break;
        }
        case 'r': opt.recover = 1; break;
        case 'o': output = optarg; break;
        case 'q': d.quiet = 1; break;
        case 'h': fputs(DUMP_HELP, stdout); return PS_EXIT_CLEAN;
        default: fputs(DUMP_HELP, stderr); return PS_EXIT_ERROR;
        }
    }
    if (optind >= argc) {
        fputs(DUMP_HELP, stderr);
        return PS_EXIT_ERROR;
    }
    if (output) {
        d.fd = open(output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (d.fd < 0) {
            fprintf(stderr, "plainsight dump: %s: %s\n", output, strerror(errno));
            return PS_EXIT_ERROR;
        }
    }
    d.progress = !d.quiet && cli_stderr_is_tty();
    d.started = d.last_draw = now_seconds();
    opt.diag = print_diag_filtered;
    opt.diag_ctx = &d;
    if (d.progress) {
        opt.progress = draw_progress;
        opt.progress_ctx = &d;
    }
    ps_evtx_stats st;
    int rc = ps_evtx_dump((const char *const *)argv + optind, (size_t)(argc - optind), format,
                          &opt, write_all, &d, &st);
    if (d.progress)
        fputs("\r\033[K", stderr);
    if (output && close(d.fd) != 0 && rc == PS_OK)
        rc = PS_ERR_IO;
    if (rc != PS_OK) {
        fprintf(stderr, "plainsight dump: %s\n",
                rc == PS_ERR_STOP ? "write error" : ps_status_str(rc));
        return PS_EXIT_ERROR;
    }
    if (!d.quiet && d.progress)
        fprintf(stderr, "plainsight: %llu files, %llu records (%llu recovered), %llu warnings\n",
                (unsigned long long)st.files, (unsigned long long)st.records,
                (unsigned long long)st.recovered, (unsigned long long)st.warnings);
    return st.files_failed ? PS_EXIT_ERROR : PS_EXIT_CLEAN;
}
