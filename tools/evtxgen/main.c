/* evtxgen DESCRIPTION.json OUT.evtx: write an EVTX file from a description. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "describe.h"

static int usage(void)
{
    fprintf(stderr, "usage: evtxgen DESCRIPTION.json OUT.evtx\n"
                    "Writes an EVTX file described in JSON (see tools/evtxgen/README.md).\n");
    return 2;
}

int main(int argc, char **argv)
{
    if (argc != 3 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)
        return usage();
    json_error_t jerr;
    json_t *root = json_load_file(argv[1], 0, &jerr);
    if (!root) {
        fprintf(stderr, "evtxgen: %s:%d:%d: %s\n", argv[1], jerr.line, jerr.column, jerr.text);
        return 1;
    }
    eg_writer *w = eg_writer_new();
    if (!w) {
        json_decref(root);
        fprintf(stderr, "evtxgen: out of memory\n");
        return 1;
    }
    eg_damage damage;
    char err[512] = "";
    int rc = 0;
    if (describe_build(w, root, &damage, err, sizeof err) != 0) {
        fprintf(stderr, "evtxgen: %s: %s\n", argv[1], err);
        rc = 1;
    } else if (eg_writer_finish(w, argv[2], &damage) != PS_OK) {
        fprintf(stderr, "evtxgen: cannot write %s: %s\n", argv[2],
                eg_writer_failed(w) ? eg_writer_error(w) : "I/O error");
        rc = 1;
    }
    eg_writer_free(w);
    json_decref(root);
    return rc;
}
