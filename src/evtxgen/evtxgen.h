/*
 * evtxgen: a writer of EVTX files, for test fixtures and the demo story.
 *
 * It writes real EVTX as described in shared/docs/evtx-format.md: a 4096-byte
 * file header, 64 KiB chunks with string and template hash tables, names and
 * template definitions inline on their first use in a chunk and referenced
 * by offset afterwards, CRCs everywhere. It can also damage what it writes
 * (eg_damage, eg_record_opts) so tests can feed hostile files to the decoder.
 *
 * Usage:
 *   eg_writer *w = eg_writer_new();
 *   eg_node *ev = eg_elem(w, "Event");
 *   eg_attr_text(w, ev, "xmlns", "http://...");
 *   eg_node *id = eg_child_elem(w, eg_child_elem(w, ev, "System"), "EventID");
 *   eg_sub(w, id, 0, EG_T_UINT16, 0);
 *   const eg_template *t = eg_template_new(w, "guid-string-or-NULL", ev);
 *   eg_value v[1] = { eg_val_u16(w, 4688) };
 *   eg_add_record(w, 1, filetime, t, v, 1, NULL);
 *   eg_writer_finish(w, "out.evtx", NULL);
 *   eg_writer_free(w);
 *
 * Every node, value and template lives in the writer's memory and is freed
 * with it. Functions that build nodes or values never fail visibly: when
 * memory runs out the writer is marked failed and eg_writer_finish() returns
 * PS_ERR_NOMEM, so callers need not check every step.
 */
#ifndef PS_EVTXGEN_H
#define PS_EVTXGEN_H

#include <stddef.h>
#include <stdint.h>

#include "plainsight/common.h"

#define EG_FILE_HEADER_SIZE 4096u
#define EG_CHUNK_SIZE 65536u
#define EG_CHUNK_HEADER_SIZE 512u

/* Descriptor value types ([MS-EVEN6]; doc section 1.7). */
enum eg_type {
    EG_T_NULL = 0x00, EG_T_STRING = 0x01, EG_T_ANSI = 0x02,
    EG_T_INT8 = 0x03, EG_T_UINT8 = 0x04, EG_T_INT16 = 0x05, EG_T_UINT16 = 0x06,
    EG_T_INT32 = 0x07, EG_T_UINT32 = 0x08, EG_T_INT64 = 0x09, EG_T_UINT64 = 0x0A,
    EG_T_REAL32 = 0x0B, EG_T_REAL64 = 0x0C, EG_T_BOOL = 0x0D, EG_T_BINARY = 0x0E,
    EG_T_GUID = 0x0F, EG_T_SIZET = 0x10, EG_T_FILETIME = 0x11, EG_T_SYSTIME = 0x12,
    EG_T_SID = 0x13, EG_T_HEX32 = 0x14, EG_T_HEX64 = 0x15,
    EG_T_BINXML = 0x21,
    EG_T_ARRAY = 0x80 /* or'ed with an item type: 0x81 string array, ... */
};

typedef struct eg_writer eg_writer;
typedef struct eg_node eg_node;
typedef struct eg_template eg_template;
typedef struct eg_fragment eg_fragment;

/* A substitution value: the descriptor type and the exact bytes. Nested
 * BinXML (EG_T_BINXML) carries a fragment instead, serialised in place when
 * the record is written (its template references depend on the chunk). */
typedef struct eg_value {
    const uint8_t *bytes;
    uint32_t size;
    uint8_t type;
    const eg_fragment *nested;  /* EG_T_BINXML only */
} eg_value;

/* ------------------------------------------------------------ writer */

eg_writer *eg_writer_new(void);
void eg_writer_free(eg_writer *w);
/* Non-zero once an allocation failed or a call was invalid. */
int eg_writer_failed(const eg_writer *w);
/* A short description of the first error (static or writer-owned). */
const char *eg_writer_error(const eg_writer *w);

/* ------------------------------------------------------- element trees
 * An element tree serves as a template body (with substitutions) or as a
 * template-less record (no substitutions). Children and attribute values are
 * kept in the order they are added. */

eg_node *eg_elem(eg_writer *w, const char *name);
/* New element appended to `parent`'s content; returns it. */
eg_node *eg_child_elem(eg_writer *w, eg_node *parent, const char *name);
void eg_append(eg_writer *w, eg_node *parent, eg_node *child);
/* Dependency id written in template definitions (default 0xFFFF = none). */
void eg_elem_set_depid(eg_node *elem, uint16_t depid);

/* Content items of an element (also usable on an attribute node). */
void eg_text(eg_writer *w, eg_node *parent, const char *utf8);          /* 0x05 */
void eg_sub(eg_writer *w, eg_node *parent, uint16_t index, uint8_t type,
            int optional);                                               /* 0x0D/0x0E */
void eg_cdata(eg_writer *w, eg_node *parent, const char *utf8);         /* 0x07 */
void eg_charref(eg_writer *w, eg_node *parent, uint16_t codepoint);     /* 0x08 */
void eg_entityref(eg_writer *w, eg_node *parent, const char *name);     /* 0x09 */
void eg_pi(eg_writer *w, eg_node *parent, const char *target, const char *data); /* 0x0A+0x0B */

/* Attributes. eg_attr returns the attribute node, to which value items are
 * added with the content functions above (text, sub, charref, entityref). */
eg_node *eg_attr(eg_writer *w, eg_node *elem, const char *name);
void eg_attr_text(eg_writer *w, eg_node *elem, const char *name, const char *utf8);
void eg_attr_sub(eg_writer *w, eg_node *elem, const char *name, uint16_t index,
                 uint8_t type, int optional);

/* ------------------------------------------------------------ templates */

/* A template: a GUID ("54849625-5478-4994-A5BA-3E3B0328C30D", braces
 * allowed; NULL derives one from a counter) and its element tree. The
 * template id written in instances is the GUID's first four bytes. */
const eg_template *eg_template_new(eg_writer *w, const char *guid, const eg_node *root);

/* A BinXML fragment: a template instance with values, or an element tree.
 * Used for nested values and for records. */
struct eg_fragment {
    const eg_template *tmpl;   /* instance of this template, or NULL */
    const eg_value *values;    /* tmpl's values (copied by eg_val_binxml) */
    size_t nvalues;
    const eg_node *root;       /* template-less element tree when tmpl is NULL */
    int bare;                  /* no 0F 01 01 00 fragment header (nested only) */
};

/* ------------------------------------------------------------- values
 * Text arguments are UTF-8 and stored as UTF-16LE. */

eg_value eg_val_null(void);
eg_value eg_val_raw(eg_writer *w, uint8_t type, const void *bytes, size_t size);
eg_value eg_val_string(eg_writer *w, const char *utf8);
eg_value eg_val_ansi(eg_writer *w, const char *bytes);
eg_value eg_val_int(eg_writer *w, uint8_t type, int64_t v);   /* INT8..UINT64, HEX32/64, SIZET(8), BOOL */
eg_value eg_val_u8(eg_writer *w, uint8_t v);
eg_value eg_val_u16(eg_writer *w, uint16_t v);
eg_value eg_val_u32(eg_writer *w, uint32_t v);
eg_value eg_val_u64(eg_writer *w, uint64_t v);
eg_value eg_val_hex32(eg_writer *w, uint32_t v);
eg_value eg_val_hex64(eg_writer *w, uint64_t v);
eg_value eg_val_bool(eg_writer *w, int32_t v);
eg_value eg_val_real32(eg_writer *w, float v);
eg_value eg_val_real64(eg_writer *w, double v);
eg_value eg_val_binary(eg_writer *w, const void *bytes, size_t size);
/* Parses "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" (braces allowed). */
eg_value eg_val_guid(eg_writer *w, const char *guid);
eg_value eg_val_filetime(eg_writer *w, uint64_t filetime);
/* year, month, day, hour, minute, second, milliseconds; day of week derived. */
eg_value eg_val_systime(eg_writer *w, int year, int month, int day, int hour, int min,
                        int sec, int ms);
/* Parses "S-1-5-21-...". */
eg_value eg_val_sid(eg_writer *w, const char *sid);
/* 0x81: NUL-terminated UTF-16 items. */
eg_value eg_val_string_array(eg_writer *w, const char *const *items, size_t n);
/* Fixed-size item arrays (type | 0x80): n items of the item type's size,
 * given as integers (INT8..UINT64, HEX32/64, BOOL). */
eg_value eg_val_int_array(eg_writer *w, uint8_t item_type, const int64_t *items, size_t n);
/* Nested BinXML (0x21). The fragment and its values are copied. */
eg_value eg_val_binxml(eg_writer *w, const eg_fragment *frag);

/* Parse helpers, also used by the CLI. Return 0 on success. */
int eg_parse_guid(const char *s, uint8_t out[16]);
/* "2024-05-01T10:00:00.1234567Z" (fraction and Z optional) -> FILETIME. */
int eg_parse_time(const char *s, uint64_t *filetime);

/* -------------------------------------------------------------- records */

/* Record-level damage (eg_record_opts.damage bits). */
enum {
    EG_REC_SIZE_MISMATCH = 1 << 0,  /* trailing size copy differs from size */
    EG_REC_SIZE_PAST_CHUNK = 1 << 1,/* size field points beyond the chunk */
    EG_REC_BAD_NAME_OFFSET = 1 << 2,/* the first name written in this record is
                                       replaced by an out-of-range reference */
    EG_REC_BAD_TEMPLATE_OFFSET = 1 << 3, /* the outer template instance points
                                       outside the chunk (no inline definition) */
    EG_REC_SLACK = 1 << 4,          /* a deleted record: written after the
                                       chunk's free space offset */
    EG_REC_BAD_SIGNATURE = 1 << 5   /* signature is not 2A 2A 00 00 */
};

typedef struct eg_record_opts {
    unsigned damage;            /* EG_REC_* bits */
    int new_chunk;              /* start this record in a fresh chunk */
} eg_record_opts;

/* Add a record: template instance with values. `opts` may be NULL.
 * Values are written as given (a count or types that do not match the
 * template are allowed: tests use them). Returns PS_OK, PS_ERR_ARG (the
 * record cannot fit in an empty chunk; the writer stays usable, though the
 * fresh chunk opened for it may stay empty; or the writer already failed)
 * or PS_ERR_NOMEM. */
int eg_add_record(eg_writer *w, uint64_t record_id, uint64_t filetime,
                  const eg_template *tmpl, const eg_value *values, size_t nvalues,
                  const eg_record_opts *opts);
/* Add a template-less record: 0F 01 01 00 + the element tree + 00. */
int eg_add_record_tree(eg_writer *w, uint64_t record_id, uint64_t filetime,
                       const eg_node *root, const eg_record_opts *opts);
/* Add a record whose single template definition contains an instance of
 * itself (a reference loop a decoder must not follow forever). */
int eg_add_record_template_loop(eg_writer *w, uint64_t record_id, uint64_t filetime,
                                const eg_record_opts *opts);
/* A value nested `depth` levels deep: 0x21 holding a bare instance of a
 * one-value template whose value is again 0x21 ..., innermost a string. */
eg_value eg_val_deep_nesting(eg_writer *w, unsigned depth);

/* Number of chunks written or started so far. */
unsigned eg_chunk_count(const eg_writer *w);

/* -------------------------------------------------------------- finish */

/* File-level and chunk-level damage applied when the file is written. */
enum {
    EG_DMG_HEADER_CRC = 1 << 0,      /* wrong file header CRC */
    EG_DMG_DIRTY = 1 << 1,           /* dirty flag set (CRC still right) */
    EG_DMG_CHUNK_COUNT = 1 << 2,     /* header chunk count = chunk_count_value */
    EG_DMG_FIRST_GT_LAST = 1 << 3,   /* first chunk number > last (CRC right) */
    EG_DMG_TRUNCATE = 1 << 4,        /* cut the file at truncate_at bytes */
    EG_DMG_ZERO_CHUNK = 1 << 5,      /* chunk[chunk_index] all zeros */
    EG_DMG_CHUNK_MAGIC = 1 << 6,     /* chunk[chunk_index] bad signature */
    EG_DMG_CHUNK_HEADER_CRC = 1 << 7,/* chunk[chunk_index] bad header CRC */
    EG_DMG_RECORDS_CRC = 1 << 8,     /* chunk[chunk_index] bad records CRC */
    EG_DMG_FREE_SPACE = 1 << 9       /* chunk[chunk_index] free space offset
                                        beyond the chunk (CRCs kept right) */
};

typedef struct eg_damage {
    unsigned flags;              /* EG_DMG_* bits */
    unsigned chunk_index;        /* for the chunk-level bits */
    uint16_t chunk_count_value;  /* for EG_DMG_CHUNK_COUNT */
    uint64_t truncate_at;        /* for EG_DMG_TRUNCATE */
} eg_damage;

/* Close the current chunk and write the file. `damage` may be NULL. */
int eg_writer_finish(eg_writer *w, const char *path, const eg_damage *damage);

/* The bytes of the file as eg_writer_finish would write them, without
 * writing (valid until the writer is freed or changed). */
int eg_writer_image(eg_writer *w, const eg_damage *damage, const uint8_t **data,
                    size_t *len);

/* zlib-compatible CRC-32 (initial value 0, continue with a previous value). */
uint32_t eg_crc32(uint32_t crc, const void *data, size_t len);

#endif
