/* Internals of the EVTX writer shared by its source files. */
#ifndef PS_EVTXGEN_INTERNAL_H
#define PS_EVTXGEN_INTERNAL_H

#include "evtxgen/evtxgen.h"
#include "util/arena.h"

enum eg_kind {
    EG_N_ELEM, EG_N_ATTR, EG_N_TEXT, EG_N_SUB, EG_N_CDATA,
    EG_N_CHARREF, EG_N_ENTREF, EG_N_PI
};

struct eg_node {
    eg_node *next;
    eg_node *children, *last_child;  /* content (element) or value parts (attr) */
    eg_node *attrs, *last_attr;
    const char *name;   /* element, attribute, entity, PI target */
    const char *text;   /* text, CDATA, PI data */
    uint16_t index;     /* substitution index, char ref code point */
    uint16_t depid;     /* dependency id, written in template definitions */
    uint8_t kind;
    uint8_t type;       /* substitution value type */
    uint8_t optional;   /* 0x0E rather than 0x0D */
};

struct eg_template {
    uint8_t guid[16];
    const eg_node *root;
    int self_loop;      /* definition body is an instance of itself */
};

/* Per-chunk cache entries: where a name or definition was written inline. */
typedef struct eg_name_slot {
    const char *name;
    uint32_t offset;
} eg_name_slot;

typedef struct eg_tmpl_slot {
    const eg_template *tmpl;
    uint32_t offset;
} eg_tmpl_slot;

/* The chunk being filled. */
typedef struct eg_chunk {
    uint8_t *data;          /* EG_CHUNK_SIZE bytes */
    uint32_t pos;           /* next write position */
    uint32_t free_space;    /* end of live records */
    uint32_t last_record;   /* offset of the last live record */
    uint64_t first_id, last_id;
    unsigned nrecords;      /* live records */
    int has_slack;          /* a deleted record follows the live ones */
    uint32_t strtab[64];
    uint32_t tmpltab[32];
    eg_name_slot *names;
    size_t nnames, names_cap;
    eg_tmpl_slot *tmpls;
    size_t ntmpls, tmpls_cap;
} eg_chunk;

struct eg_writer {
    ps_arena arena;         /* nodes, strings, values, templates */
    uint8_t **chunks;       /* finished and current chunks */
    size_t nchunks, chunks_cap;
    eg_chunk cur;           /* state of chunks[nchunks-1] */
    uint64_t next_record_id;
    unsigned guid_counter;
    const char *error;
    uint8_t *image;         /* last eg_writer_image result */
    size_t image_len;
};

/* Memory from the writer's arena; marks the writer failed on exhaustion. */
void *eg_alloc(eg_writer *w, size_t n);
void eg_fail(eg_writer *w, const char *why);

/* UTF-8 -> UTF-16LE into the arena; *units receives the code-unit count. */
uint8_t *eg_utf16(eg_writer *w, const char *utf8, size_t *units);

/* Write the current chunk's header and CRCs (idempotent). */
void eg_seal_current(eg_writer *w);

#endif
