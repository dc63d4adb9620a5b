/* Shared helpers of the command-line front end (the only place that prints). */
#ifndef PS_CLI_H
#define PS_CLI_H

#include <stdio.h>
#include "plainsight.h"

/* Exit codes, the same for every subcommand (documented in --help and README):
 *   0  ran to the end, nothing found (dump: success)
 *   1  ran to the end, detections/findings reported (hunt, scan)
 *   2  usage error or fatal error (nothing useful could be done) */
enum { PS_EXIT_CLEAN = 0, PS_EXIT_FOUND = 1, PS_EXIT_ERROR = 2 };

int cmd_dump(int argc, char **argv);
int cmd_hunt(int argc, char **argv);
int cmd_scan(int argc, char **argv);
/* Writes the demo logs, then runs cmd_hunt on them (resets getopt's optind). */
int cmd_demo(int argc, char **argv);

/* Prints a diagnostic to stderr as "plainsight: warning: FILE @ 0xOFF: msg". */
void cli_print_diag(void *ctx, const ps_diag *d);

/* Is stderr a terminal (progress lines are drawn only then)? */
int cli_stderr_is_tty(void);

/* Where compiled Hyperscan databases are cached (hunt's prefilter, scan's
 * file-name IOCs): NULL with --no-cache or PLAINSIGHT_NO_CACHE; else
 * --cache-dir (`given`), $PLAINSIGHT_CACHE_DIR, $XDG_CACHE_HOME/plainsight
 * or ~/.cache/plainsight (written into buf). */
const char *cli_cache_dir(const char *given, int no_cache, char *buf, size_t n);

#endif
