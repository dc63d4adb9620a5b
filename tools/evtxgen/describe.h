/* Building an EVTX file from a JSON description (format: README.md). */
#ifndef PS_TOOLS_EVTXGEN_DESCRIBE_H
#define PS_TOOLS_EVTXGEN_DESCRIBE_H

#include <jansson.h>

#include "evtxgen/evtxgen.h"

/* Add the description's templates and records to `w` and fill `damage`.
 * On failure returns -1 with a message in `err` (size `errlen`). */
int describe_build(eg_writer *w, json_t *root, eg_damage *damage, char *err, size_t errlen);

#endif
