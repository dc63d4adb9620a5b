/*
 * BinXML: the binary XML inside EVTX records ([MS-EVEN6] 2.2.12).
 *
 * Hand-written because it is the core of the product: no library parses
 * EVTX both fast and safely (libevtx and python-evtx fail on template-less
 * records; see docs/evtx-format.md in ../shared/docs).
 *
 * Decoding happens in two steps, both inside one 64 KiB chunk:
 *  1. parse: a token stream becomes a tree of bx_node. Template definitions
 *     are parsed once per chunk and cached by their chunk offset; their
 *     substitutions stay as BX_SUBST nodes.
 *  2. expand: a record's template tree plus its substitution values becomes
 *     the record's own tree, with every substitution replaced by a typed
 *     value, a nested fragment (value type 0x21) or nothing (NULL optional).
 * Renderers (JSON, XML, event model) then walk the expanded tree.
 *
 * That tree is the slow lane. Records in the common shape (one template
 * instance) are rendered to JSON by compiled templates instead (template.h),
 * which need only the instance's values: bx_read_single_instance() gives
 * them, and bx_expand_symbolic() expands a template with placeholders
 * ("holes") instead of values, once, to compile it.
 *
 * All memory comes from the chunk's arena; every pointer into chunk bytes is
 * bounds-checked when the node is made.
 */
#ifndef PS_EVTX_BINXML_H
#define PS_EVTX_BINXML_H

#include <stdint.h>

#include "plainsight/common.h"
#include "util/arena.h"

#define EVTX_CHUNK_SIZE 65536u
#define EVTX_CHUNK_HEADER_SIZE 512u
#define EVTX_FILE_HEADER_SIZE 4096u
/* Limits that keep hostile input bounded. Real records nest about 5 deep. */
#define BX_MAX_DEPTH 64      /* element nesting within one fragment */
#define BX_MAX_NEST 16       /* nested BinXML values within values */
#define BX_ARENA_LIMIT (32u << 20) /* per chunk; ~500x the chunk itself */

/* Value types of substitution descriptors ([MS-EVEN6] 2.2.12.x). */
enum bx_type {
    BX_T_NULL = 0x00, BX_T_STRING = 0x01, BX_T_ANSI = 0x02,
    BX_T_INT8 = 0x03, BX_T_UINT8 = 0x04, BX_T_INT16 = 0x05, BX_T_UINT16 = 0x06,
    BX_T_INT32 = 0x07, BX_T_UINT32 = 0x08, BX_T_INT64 = 0x09, BX_T_UINT64 = 0x0A,
    BX_T_REAL32 = 0x0B, BX_T_REAL64 = 0x0C, BX_T_BOOL = 0x0D, BX_T_BINARY = 0x0E,
    BX_T_GUID = 0x0F, BX_T_SIZET = 0x10, BX_T_FILETIME = 0x11, BX_T_SYSTIME = 0x12,
    BX_T_SID = 0x13, BX_T_HEX32 = 0x14, BX_T_HEX64 = 0x15,
    BX_T_EVTHANDLE = 0x20, BX_T_BINXML = 0x21, BX_T_EVTXML = 0x23,
    BX_T_ARRAY = 0x80
};

/* Names the renderers treat specially, recognised once when decoded. */
enum bx_name_role { BX_NAME_OTHER, BX_NAME_DATA, BX_NAME_EVENTDATA, BX_NAME_USERDATA,
                    BX_NAME_NAME };

typedef struct bx_name {
    const char *s;  /* UTF-8, NUL-terminated */
    uint32_t len;
    uint8_t role;   /* bx_name_role */
    uint8_t plain;  /* needs no escaping in JSON or XML */
} bx_name;

enum bx_kind {
    BX_ELEM,    /* element: name, attrs, children */
    BX_ATTR,    /* attribute: name, children = value parts */
    BX_VALUE,   /* typed value: type, data, size (text tokens are strings) */
    BX_SUBST,   /* substitution (template definitions only): index, type */
    BX_CDATA,   /* UTF-16 text in data/size */
    BX_CHARREF, /* &#N; with N in index */
    BX_ENTREF,  /* &name; */
    BX_PI       /* <?target data?>: name = target, data/size = UTF-16 data */
};

typedef struct bx_node bx_node;
struct bx_node {
    bx_node *next;
    bx_node *children;
    bx_node *attrs;
    const bx_name *name;
    const uint8_t *data;
    uint32_t size;
    uint16_t index;
    uint8_t kind;
    uint8_t type;
    uint8_t optional;   /* BX_SUBST: 0x0E optional substitution */
    uint8_t hole;       /* symbolic trees only (bx_hole_kind); index = slot */
};

/* Placeholders in a symbolically expanded tree (see bx_expand_symbolic). */
enum bx_hole_kind {
    BX_HOLE_NONE = 0,
    BX_HOLE_VALUE,   /* BX_VALUE node: the slot's value goes here */
    BX_HOLE_SPLICE   /* BX_ELEM node without a name: the slot's nested
                        BinXML goes here (its elements join the parent) */
};

/* A cached template definition of one chunk. */
typedef struct bx_template {
    uint32_t offset;    /* chunk offset of the definition header */
    bx_node *root;      /* parsed element tree, NULL if it failed to parse */
    const char *err;    /* why it failed */
    void *compiled;     /* template.c: its class in the run's store */
    int compiled_state; /* 0: not looked up in this chunk; 1: done */
} bx_template;

typedef struct bx_value {
    const uint8_t *data;
    uint32_t size;
    uint8_t type;
} bx_value;

/* Reports a problem at a chunk offset (the chunk adds file and position). */
typedef void (*bx_warn_fn)(void *ctx, uint32_t chunk_offset, const char *msg);

#define BX_NAME_SLOTS 512
#define BX_TEMPLATE_SLOTS 128

typedef struct bx_chunk {
    const uint8_t *data;    /* the chunk's bytes */
    uint32_t size;          /* normally 65536; less for a truncated last chunk */
    ps_arena *arena;        /* names, templates: reset per chunk */
    ps_arena *record_arena; /* expanded record trees: reset per record */
    bx_warn_fn warn;
    void *warn_ctx;
    /* Per-chunk caches keyed by chunk offset; open addressing, cleared per
     * chunk. Overflow is harmless: entries are then just not cached. */
    struct { uint32_t offset; const bx_name *name; } names[BX_NAME_SLOTS];
    bx_template templates[BX_TEMPLATE_SLOTS];
    unsigned ntemplates_failed;
} bx_chunk;

/* Start decoding a new chunk (clears the caches; the arenas are the
 * caller's, who resets them per chunk and per record). */
void bx_chunk_begin(bx_chunk *c, const uint8_t *data, uint32_t size, ps_arena *arena,
                    ps_arena *record_arena, bx_warn_fn warn, void *warn_ctx);

/* Decode the BinXML of one record in [start, end) into an expanded tree
 * (a list of top-level nodes; normally one <Event> element). Returns NULL
 * and warns when nothing could be decoded. */
bx_node *bx_decode_record(bx_chunk *c, uint32_t start, uint32_t end);

/* The one template instance that makes up the BinXML in [start, end)
 * (fragment headers and an end-of-fragment token around it are allowed),
 * as the slow lane would decode it: the same checks, in the same order.
 * `nest` counts nesting as the slow lane does (0 for a record). Returns 0,
 * or -1 for any other shape or any problem, which the slow lane will then
 * meet and report: this function itself reports nothing. Values come from
 * the record arena. */
typedef struct bx_instance {
    bx_template *tmpl;   /* its definition, parsed (tmpl->root != NULL) */
    bx_value *vals;
    uint32_t nvals;
    uint64_t classes;    /* bx_slot_class of values 0-31, 2 bits each */
} bx_instance;
int bx_read_single_instance(bx_chunk *c, uint32_t start, uint32_t end, int nest,
                            bx_instance *out);

/* Slot classes: all that the layout of a rendered template depends on. */
enum bx_slot_class { BX_SLOT_NULL, BX_SLOT_SCALAR, BX_SLOT_ARRAY, BX_SLOT_BINXML };
extern const uint8_t bx_slot_classes[256];
static inline uint8_t bx_slot_class(uint8_t value_type) { return bx_slot_classes[value_type]; }

/* Expand a template tree as if its values had the given classes: NULL
 * values vanish (and drop optional attributes), scalar values become
 * BX_HOLE_VALUE nodes, nested BinXML becomes BX_HOLE_SPLICE nodes. Returns
 * NULL and sets *why for what a compiled template cannot express: an array
 * in element content (the element repeats per item), nested BinXML in an
 * attribute, or memory. Slots >= nslots are NULL, as in the slow lane. */
bx_node *bx_expand_symbolic(const bx_node *tmpl, const uint8_t *slot_class, uint32_t nslots,
                            ps_arena *arena, const char **why);

/* Byte size of a fixed-size value type; 0 for variable-size types. */
extern const uint8_t bx_fixed_sizes[256];
static inline uint32_t bx_fixed_size(uint8_t type) { return bx_fixed_sizes[type]; }

/* Split an array value into its items; returns the count (0 when empty).
 * Items are written to `items` up to `max`. */
uint32_t bx_array_items(const bx_value *v, bx_value *items, uint32_t max);

#endif
