/* A set of 64-bit ids (record ids already delivered by --recover). */
#ifndef PS_EVTX_IDSET_H
#define PS_EVTX_IDSET_H

#include <stddef.h>
#include <stdint.h>

typedef struct id_set {
    uint64_t *slots;  /* open addressing; 0 marks empty, so id 0 is kept apart */
    size_t cap, len;
    int has_zero;
} id_set;

/* 1 if added, 0 if already present, -1 on allocation failure. */
int id_set_add(id_set *s, uint64_t id);
void id_set_free(id_set *s);

#endif
