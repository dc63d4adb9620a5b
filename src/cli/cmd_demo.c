/* plainsight demo: write the Cloud Hopper demo logs (src/demo), hunt them with
 * the built-in rules through the hunt command, and say where everything is. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "demo/demo.h"

#define DEFAULT_DIR "plainsight-demo"
#define REPORT_NAME "report.html"

static const char DEMO_HELP[] =
    "usage: plainsight demo [--out DIR]\n"
    "\n"
    "Show what plainsight does on a small case: write the event logs of three\n"
    "machines of a fictional customer network (Northwind) in which a managed\n"
    "service provider's admin account is used the way APT10 used such accounts in\n"
    "Cloud Hopper, then hunt them with the built-in rules, print the timeline and\n"
    "summary, and write the HTML report.\n"
    "\n"
    "The story: msp-admin logs on to the jump host CORP-JUMP01 over RDP from the\n"
    "provider's MSP-JUMP01 (203.0.113.45), downloads a tool with certutil, plants a\n"
    "scheduled task and a service on the domain controller CORP-DC01, dumps lsass,\n"
    "packs the dumps into a password-protected rar, moves to the file server\n"
    "CORP-FS01 with PsExec and WMI, and clears its Security log. Ordinary activity\n"
    "of the same hosts runs beside it and is not flagged.\n"
    "\n"
    "options:\n"
    "  -o, --out DIR   where to write the logs and the report (default ./" DEFAULT_DIR ");\n"
    "                  created if missing; earlier demo files in it are replaced\n"
    "  -h, --help      this text\n"
    "\n"
    "It writes DIR/HOST/CHANNEL.evtx (as Windows names its log files, e.g.\n"
    "Microsoft-Windows-Sysmon%4Operational.evtx) and DIR/" REPORT_NAME ".\n"
    "\n"
    "examples:\n"
    "  plainsight demo\n"
    "  plainsight demo --out /tmp/case1\n"
    "  # then look at the logs and hunt them yourself\n"
    "  plainsight dump --format xml /tmp/case1/CORP-FS01/Security.evtx\n"
    "  plainsight hunt --tags credential-access /tmp/case1\n"
    "  plainsight hunt -r sigma/rules/windows /tmp/case1\n"
    "\n"
    "exit codes: 0 the demo ran and found the story; 2 the logs or the report could\n"
    "not be written, or the hunt did not find what it should.\n";

static int parse_demo_args(int argc, char **argv, const char **dir)
{
    static const struct option longopts[] = {
        {"out", required_argument, NULL, 'o'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': *dir = optarg; break;
        case 'h': fputs(DEMO_HELP, stdout); exit(PS_EXIT_CLEAN);
        default: fputs(DEMO_HELP, stderr); return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "plainsight demo: unexpected argument '%s' (use --out DIR)\n",
                argv[optind]);
        return -1;
    }
    return 0;
}

static void tell_story(const char *dir, const ps_demo_result *written)
{
    size_t nsteps, nhosts;
    const ps_demo_step *steps = ps_demo_steps(&nsteps);
    const char *const *hosts = ps_demo_hosts(&nhosts);
    printf("plainsight demo: %u events in %u EVTX files from", written->events, written->files);
    for (size_t i = 0; i < nhosts; i++)
        printf(" %s%s", hosts[i], i + 1 < nhosts ? "," : "");
    printf(", written under %s/\n\nWhat happened on the night of 2024-03-12 (UTC):\n", dir);
    for (size_t i = 0; i < nsteps; i++)
        printf("  %zu. %s\n", i + 1, steps[i].summary);
    printf("\nHunting them with the built-in rules "
           "(plainsight hunt -f table --html %s/" REPORT_NAME " %s):\n\n", dir, dir);
    fflush(stdout);
}

/* The hunt command does the work, as the user would run it. */
static int hunt_demo_logs(const char *dir, const char *report)
{
    char *argv[] = {"hunt", "-f", "table", "--html", (char *)report, (char *)dir, NULL};
    optind = 0; /* getopt starts afresh for the second command line */
    return cmd_hunt((int)(sizeof argv / sizeof argv[0]) - 1, argv);
}

int cmd_demo(int argc, char **argv)
{
    const char *dir = DEFAULT_DIR;
    if (parse_demo_args(argc, argv, &dir) != 0)
        return PS_EXIT_ERROR;
    size_t dlen = strlen(dir);
    while (dlen > 1 && dir[dlen - 1] == '/')
        dlen--;
    char *clean_dir = strndup(dir, dlen);
    char *report = malloc(dlen + sizeof "/" REPORT_NAME);
    if (!clean_dir || !report) {
        free(clean_dir);
        free(report);
        fputs("plainsight demo: out of memory\n", stderr);
        return PS_EXIT_ERROR;
    }
    snprintf(report, dlen + sizeof "/" REPORT_NAME, "%s/" REPORT_NAME, clean_dir);
    ps_demo_result written;
    int rc = ps_demo_write(clean_dir, &written);
    int code = PS_EXIT_ERROR;
    if (rc != PS_OK) {
        fprintf(stderr, "plainsight demo: cannot write %s: %s\n", written.failed_path,
                ps_status_str(rc));
    } else {
        tell_story(clean_dir, &written);
        int hunt_code = hunt_demo_logs(clean_dir, report);
        if (hunt_code == PS_EXIT_FOUND) {
            printf("\nThe logs:   %s/<host>/<channel>.evtx\n"
                   "The report: %s  (open it in a browser; it needs no network)\n",
                   clean_dir, report);
            code = PS_EXIT_CLEAN;
        } else if (hunt_code == PS_EXIT_CLEAN) {
            fputs("plainsight demo: the hunt found nothing in the demo logs; the built-in "
                  "rules are not working\n", stderr);
        }
    }
    free(clean_dir);
    free(report);
    return code;
}
