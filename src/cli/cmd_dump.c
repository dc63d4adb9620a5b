/* plainsight dump: placeholder until the dump engine lands. */
#include <stdio.h>

#include "cli/cli.h"

int cmd_dump(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "plainsight dump: not implemented yet\n");
    return PS_EXIT_ERROR;
}
