/* plainsight hunt: placeholder until the hunt engine lands. */
#include <stdio.h>

#include "cli/cli.h"

int cmd_hunt(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "plainsight hunt: not implemented yet\n");
    return PS_EXIT_ERROR;
}
