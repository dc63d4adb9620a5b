/* Status codes and diagnostics shared by every part of libplainsight. */
#ifndef PLAINSIGHT_COMMON_H
#define PLAINSIGHT_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PS_VERSION "0.1.0"

typedef enum ps_status {
    PS_OK = 0,
    PS_ERR_IO = -1,     /* a file could not be opened or read */
    PS_ERR_FORMAT = -2, /* input is not of the expected format at all */
    PS_ERR_NOMEM = -3,  /* an allocation failed or a size limit was hit */
    PS_ERR_ARG = -4,    /* the caller passed something invalid */
    PS_ERR_STOP = -5    /* a callback asked to stop */
} ps_status;

/* Human-readable name of a status code (static string). */
const char *ps_status_str(int status);

typedef enum ps_severity {
    PS_DIAG_NOTE = 0,    /* informational (e.g. a CRC mismatch in a dirty file) */
    PS_DIAG_WARNING = 1, /* data damaged; what could be recovered was */
    PS_DIAG_ERROR = 2    /* a whole input (file, rule) could not be used */
} ps_severity;

/* One problem found in the input. `path` and `message` are valid only
 * during the callback. `offset` is a byte offset in the file (or a line
 * number where `is_line` is set, for text inputs such as rules). */
typedef struct ps_diag {
    ps_severity severity;
    const char *path;
    uint64_t offset;
    int is_line;
    const char *message;
} ps_diag;

/* Diagnostics callback. The library serialises calls to it, so it need not
 * be thread-safe itself. */
typedef void (*ps_diag_fn)(void *ctx, const ps_diag *diag);

#ifdef __cplusplus
}
#endif
#endif
