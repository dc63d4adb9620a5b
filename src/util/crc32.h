/* CRC-32 (the polynomial of zlib, gzip and EVTX), fast. */
#ifndef PS_UTIL_CRC32_H
#define PS_UTIL_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* Same contract as zlib's crc32(): continue `crc` over n bytes. */
uint32_t ps_crc32(uint32_t crc, const void *buf, size_t n);

/* The carry-less multiplication path's folding constants, for the unit
 * test that derives them again from the polynomial. */
extern const uint64_t ps_crc32_fold_constants[4];

#endif
