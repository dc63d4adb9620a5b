/* Little-endian reads from byte buffers (EVTX is little-endian throughout).
 * memcpy keeps them legal for unaligned addresses; compilers turn them into
 * single loads. */
#ifndef PS_EVTX_BYTES_H
#define PS_EVTX_BYTES_H

#include <stdint.h>
#include <string.h>

static inline uint16_t rd16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

static inline uint32_t rd32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static inline uint64_t rd64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

#endif
