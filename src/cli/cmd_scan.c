/* plainsight scan: placeholder until the scan engine lands. */
#include <stdio.h>

#include "cli/cli.h"

int cmd_scan(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "plainsight scan: not implemented yet\n");
    return PS_EXIT_ERROR;
}
