/* plainsight: command-line front end. Dispatches to one file per subcommand. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"hunt", cmd_hunt, "match Windows event logs (EVTX, JSON lines) against Sigma rules"},
    {"scan", cmd_scan, "sweep files with IOC lists (hashes, names, C2) and YARA rules"},
    {"dump", cmd_dump, "convert EVTX to JSON lines, JSON or XML"},
    {"demo", cmd_demo, "write a Cloud Hopper demo case, hunt it and write the report"},
};

static void usage(FILE *f)
{
    fprintf(f,
            "plainsight %s — offline compromise assessment of Windows evidence\n\n"
            "usage: plainsight COMMAND [OPTIONS] PATH...\n\ncommands:\n",
            PS_VERSION);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-6s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nRun 'plainsight COMMAND --help' for the options and examples of each.\n"
               "Exit codes: 0 nothing found, 1 detections found, 2 error.\n");
}

void cli_print_diag(void *ctx, const ps_diag *d)
{
    (void)ctx;
    static const char *sev[] = {"note", "warning", "error"};
    const char *s = d->severity <= PS_DIAG_ERROR ? sev[d->severity] : "warning";
    if (d->path && d->is_line)
        fprintf(stderr, "plainsight: %s: %s:%llu: %s\n", s, d->path,
                (unsigned long long)d->offset, d->message);
    else if (d->path)
        fprintf(stderr, "plainsight: %s: %s @ 0x%llx: %s\n", s, d->path,
                (unsigned long long)d->offset, d->message);
    else
        fprintf(stderr, "plainsight: %s: %s\n", s, d->message);
}

int cli_stderr_is_tty(void) { return isatty(STDERR_FILENO); }

const char *cli_cache_dir(const char *given, int no_cache, char *buf, size_t n)
{
    const char *off = getenv("PLAINSIGHT_NO_CACHE");
    if (no_cache || (off && *off && strcmp(off, "0") != 0))
        return NULL;
    if (given)
        return given;
    const char *env = getenv("PLAINSIGHT_CACHE_DIR");
    if (env && *env)
        return env;
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    /* XDG base directories must be absolute; a relative one is ignored. */
    if (xdg && xdg[0] == '/' && (size_t)snprintf(buf, n, "%s/plainsight", xdg) < n)
        return buf;
    if (home && home[0] == '/' && (size_t)snprintf(buf, n, "%s/.cache/plainsight", home) < n)
        return buf;
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return PS_EXIT_ERROR;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        usage(stdout);
        return PS_EXIT_CLEAN;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        printf("plainsight %s\n", PS_VERSION);
        return PS_EXIT_CLEAN;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(cmd, commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "plainsight: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return PS_EXIT_ERROR;
}
