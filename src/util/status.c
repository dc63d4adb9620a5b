#include "plainsight/common.h"

const char *ps_status_str(int status)
{
    switch (status) {
    case PS_OK: return "ok";
    case PS_ERR_IO: return "input/output error";
    case PS_ERR_FORMAT: return "not in the expected format";
    case PS_ERR_NOMEM: return "out of memory or over a size limit";
    case PS_ERR_ARG: return "invalid argument";
    case PS_ERR_STOP: return "stopped by the caller";
    default: return "unknown error";
    }
}
