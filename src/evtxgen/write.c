/* Records into chunks: BinXML serialisation with per-chunk name and
 * template caches, and chunk bookkeeping. */
#include <stdlib.h>
#include <string.h>

#include "evtxgen/internal.h"

/* Out-of-range offsets used by the damage options: beyond any chunk. */
#define EG_BAD_NAME_OFFSET 0x00012345u
#define EG_BAD_TEMPLATE_OFFSET 0x0001FFF0u

/* Serialisation cursor: writes into the current chunk, never past it. */
typedef struct eg_out {
    eg_writer *w;
    eg_chunk *c;
    int overflow;          /* the record does not fit: caller rolls back */
    unsigned damage;       /* EG_REC_* bits not yet applied */
} eg_out;

static void put_bytes(eg_out *o, const void *p, size_t n)
{
    if (o->overflow || n > EG_CHUNK_SIZE - o->c->pos) {
        o->overflow = 1;
        return;
    }
    if (n)
        memcpy(o->c->data + o->c->pos, p, n);
    o->c->pos += (uint32_t)n;
}

static void put_u8(eg_out *o, uint8_t v) { put_bytes(o, &v, 1); }

static void put_le(eg_out *o, uint64_t v, size_t n)
{
    uint8_t b[8];
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    put_bytes(o, b, n);
}

static void put_u16(eg_out *o, uint16_t v) { put_le(o, v, 2); }
static void put_u32(eg_out *o, uint32_t v) { put_le(o, v, 4); }

/* Overwrite a u32 written earlier (a size known only afterwards). */
static void patch_u32(eg_out *o, uint32_t at, uint32_t v)
{
    if (o->overflow)
        return;
    for (int i = 0; i < 4; i++)
        o->c->data[at + i] = (uint8_t)(v >> (8 * i));
}

static void patch_u16(eg_out *o, uint32_t at, uint16_t v)
{
    if (o->overflow)
        return;
    o->c->data[at] = (uint8_t)v;
    o->c->data[at + 1] = (uint8_t)(v >> 8);
}

static void put_utf16_counted(eg_out *o, const char *utf8)
{
    size_t units;
    uint8_t *s = eg_utf16(o->w, utf8, &units);
    if (!s || units > 0xFFFF) {
        o->overflow = 1;
        eg_fail(o->w, "text too long");
        return;
    }
    put_u16(o, (uint16_t)units);
    put_bytes(o, s, 2 * units);
}

/* [MS-EVEN6] name hash: h = h * 65599 + unit over the UTF-16 units. */
static uint16_t name_hash(const uint8_t *utf16, size_t units)
{
    uint32_t h = 0;
    for (size_t i = 0; i < units; i++)
        h = h * 65599u + (uint32_t)(utf16[2 * i] | utf16[2 * i + 1] << 8);
    return (uint16_t)h;
}

static int grow(void **items, size_t *cap, size_t need, size_t item_size)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 32;
    void *p = realloc(*items, ncap * item_size);
    if (!p)
        return -1;
    *items = p;
    *cap = ncap;
    return 0;
}

/* A name reference: inline on first use in the chunk, else its offset. */
static void put_name(eg_out *o, const char *name)
{
    eg_chunk *c = o->c;
    if (o->damage & EG_REC_BAD_NAME_OFFSET) {
        o->damage &= ~(unsigned)EG_REC_BAD_NAME_OFFSET;
        put_u32(o, EG_BAD_NAME_OFFSET);
        return;
    }
    for (size_t i = 0; i < c->nnames; i++) {
        if (strcmp(c->names[i].name, name) == 0) {
            put_u32(o, c->names[i].offset);
            return;
        }
    }
    size_t units;
    uint8_t *s = eg_utf16(o->w, name, &units);
    if (!s || units > 0xFFFF ||
        grow((void **)&c->names, &c->names_cap, c->nnames + 1, sizeof *c->names) != 0) {
        o->overflow = 1;
        eg_fail(o->w, s ? "name too long or out of memory" : "out of memory");
        return;
    }
    uint32_t here = c->pos + 4;
    uint16_t hash = name_hash(s, units);
    put_u32(o, here);
    put_u32(o, c->strtab[hash % 64]);   /* hash chain: new head of bucket */
    put_u16(o, hash);
    put_u16(o, (uint16_t)units);
    put_bytes(o, s, 2 * units);
    put_u16(o, 0);
    if (o->overflow)
        return;
    c->strtab[hash % 64] = here;
    c->names[c->nnames].name = name;
    c->names[c->nnames].offset = here;
    c->nnames++;
}

static void put_content(eg_out *o, const eg_node *n, int in_template);
static void put_instance(eg_out *o, const eg_template *t, const eg_value *values,
                         size_t nvalues);

static void put_element(eg_out *o, const eg_node *e, int in_template)
{
    put_u8(o, e->attrs ? 0x41 : 0x01);
    if (in_template)
        put_u16(o, e->depid);
    uint32_t size_at = o->c->pos;
    put_u32(o, 0);
    put_name(o, e->name);
    if (e->attrs) {
        uint32_t attr_size_at = o->c->pos;
        put_u32(o, 0);
        for (const eg_node *a = e->attrs; a; a = a->next) {
            put_u8(o, a->next ? 0x46 : 0x06);   /* 0x40: another attribute follows */
            put_name(o, a->name);
            put_content(o, a->children, in_template);
        }
        patch_u32(o, attr_size_at, o->c->pos - attr_size_at - 4);
    }
    if (e->children) {
        put_u8(o, 0x02);
        put_content(o, e->children, in_template);
        put_u8(o, 0x04);
    } else {
        put_u8(o, 0x03);
    }
    patch_u32(o, size_at, o->c->pos - size_at - 4);
}

/* A list of content items (element content or attribute value parts). */
static void put_content(eg_out *o, const eg_node *n, int in_template)
{
    for (; n && !o->overflow; n = n->next) {
        switch (n->kind) {
        case EG_N_ELEM:
            put_element(o, n, in_template);
            break;
        case EG_N_TEXT:
            put_u8(o, 0x05);
            put_u8(o, EG_T_STRING);
            put_utf16_counted(o, n->text);
            break;
        case EG_N_SUB:
            put_u8(o, n->optional ? 0x0E : 0x0D);
            put_u16(o, n->index);
            put_u8(o, n->type);
            break;
        case EG_N_CDATA:
            put_u8(o, 0x07);
            put_utf16_counted(o, n->text);
            break;
        case EG_N_CHARREF:
            put_u8(o, 0x08);
            put_u16(o, n->index);
            break;
        case EG_N_ENTREF:
            put_u8(o, 0x09);
            put_name(o, n->name);
            break;
        case EG_N_PI:
            put_u8(o, 0x0A);
            put_name(o, n->name);
            put_u8(o, 0x0B);
            put_utf16_counted(o, n->text);
            break;
        default:
            break;
        }
    }
}

static void put_fragment_header(eg_out *o)
{
    static const uint8_t header[4] = {0x0F, 0x01, 0x01, 0x00};
    put_bytes(o, header, sizeof header);
}

static uint32_t template_id(const eg_template *t)
{
    return (uint32_t)t->guid[0] | (uint32_t)t->guid[1] << 8 | (uint32_t)t->guid[2] << 16 |
           (uint32_t)t->guid[3] << 24;
}

/* The inline definition: next, GUID, data size, then the body. It is cached
 * before its body is written, so a self-referencing body points back to it. */
static void put_definition(eg_out *o, const eg_template *t, uint32_t here)
{
    eg_chunk *c = o->c;
    uint32_t id = template_id(t);
    if (grow((void **)&c->tmpls, &c->tmpls_cap, c->ntmpls + 1, sizeof *c->tmpls) != 0) {
        o->overflow = 1;
        eg_fail(o->w, "out of memory");
        return;
    }
    put_u32(o, c->tmpltab[id % 32]);
    put_bytes(o, t->guid, 16);
    uint32_t size_at = c->pos;
    put_u32(o, 0);
    if (o->overflow)
        return;
    c->tmpltab[id % 32] = here;
    c->tmpls[c->ntmpls].tmpl = t;
    c->tmpls[c->ntmpls].offset = here;
    c->ntmpls++;
    put_fragment_header(o);
    if (t->self_loop)
        put_instance(o, t, NULL, 0);
    else if (t->root)
        put_element(o, t->root, 1);
    put_u8(o, 0x00);
    patch_u32(o, size_at, c->pos - size_at - 4);
}

static void put_fragment(eg_out *o, const eg_fragment *f);

/* Descriptors first (sizes of nested values are patched once written),
 * then the value bytes back to back. */
static void put_values(eg_out *o, const eg_value *values, size_t n)
{
    put_u32(o, (uint32_t)n);
    uint32_t desc_at = o->c->pos;
    for (size_t i = 0; i < n; i++) {
        put_u16(o, (uint16_t)values[i].size);
        put_u8(o, values[i].type);
        put_u8(o, 0);
    }
    for (size_t i = 0; i < n && !o->overflow; i++) {
        const eg_value *v = &values[i];
        if (v->type == EG_T_BINXML && v->nested) {
            uint32_t start = o->c->pos;
            put_fragment(o, v->nested);
            uint32_t size = o->c->pos - start;
            if (size > 0xFFFF)
                o->overflow = 1;
            patch_u16(o, desc_at + 4 * (uint32_t)i, (uint16_t)size);
        } else {
            put_bytes(o, v->bytes, v->size);
        }
    }
}

static void put_instance(eg_out *o, const eg_template *t, const eg_value *values,
                         size_t nvalues)
{
    eg_chunk *c = o->c;
    put_u8(o, 0x0C);
    put_u8(o, 0x01);
    put_u32(o, template_id(t));
    if (o->damage & EG_REC_BAD_TEMPLATE_OFFSET) {
        o->damage &= ~(unsigned)EG_REC_BAD_TEMPLATE_OFFSET;
        put_u32(o, EG_BAD_TEMPLATE_OFFSET);
    } else {
        uint32_t known = 0;
        for (size_t i = 0; i < c->ntmpls && !known; i++)
            if (c->tmpls[i].tmpl == t)
                known = c->tmpls[i].offset;
        if (known) {
            put_u32(o, known);
        } else {
            uint32_t here = c->pos + 4;
            put_u32(o, here);
            put_definition(o, t, here);
        }
    }
    put_values(o, values, nvalues);
}

static void put_fragment(eg_out *o, const eg_fragment *f)
{
    if (!f->bare)
        put_fragment_header(o);
    if (f->tmpl)
        put_instance(o, f->tmpl, f->values, f->nvalues);
    else if (f->root)
        put_element(o, f->root, 0);
    if (!f->bare)
        put_u8(o, 0x00);
}

/* ------------------------------------------------------------- chunks */

/* Write the chunk header fields and both CRCs into the chunk's bytes. */
static void seal_chunk(eg_chunk *c)
{
    uint8_t *d = c->data;
    memcpy(d, "ElfChnk", 8);
    uint64_t f[4] = {c->first_id, c->last_id, c->first_id, c->last_id};
    for (int k = 0; k < 4; k++)
        for (int i = 0; i < 8; i++)
            d[8 + 8 * k + i] = (uint8_t)(f[k] >> (8 * i));
    uint32_t u[5] = {128, c->last_record, c->free_space,
                     eg_crc32(0, d + EG_CHUNK_HEADER_SIZE, c->free_space - EG_CHUNK_HEADER_SIZE),
                     0};
    for (int k = 0; k < 4; k++)
        for (int i = 0; i < 4; i++)
            d[40 + 4 * k + i] = (uint8_t)(u[k] >> (8 * i));
    /* Every chunk in real logs carries flag 0x1. */
    d[120] = 1;
    for (int k = 0; k < 64; k++)
        for (int i = 0; i < 4; i++)
            d[128 + 4 * k + i] = (uint8_t)(c->strtab[k] >> (8 * i));
    for (int k = 0; k < 32; k++)
        for (int i = 0; i < 4; i++)
            d[384 + 4 * k + i] = (uint8_t)(c->tmpltab[k] >> (8 * i));
    uint32_t crc = eg_crc32(0, d, 120);
    crc = eg_crc32(crc, d + 128, EG_CHUNK_HEADER_SIZE - 128);
    for (int i = 0; i < 4; i++)
        d[124 + i] = (uint8_t)(crc >> (8 * i));
}

void eg_seal_current(eg_writer *w)
{
    if (w->nchunks)
        seal_chunk(&w->cur);
}

static int start_chunk(eg_writer *w)
{
    eg_seal_current(w);
    if (grow((void **)&w->chunks, &w->chunks_cap, w->nchunks + 1, sizeof *w->chunks) != 0)
        return PS_ERR_NOMEM;
    uint8_t *data = calloc(1, EG_CHUNK_SIZE);
    if (!data)
        return PS_ERR_NOMEM;
    w->chunks[w->nchunks++] = data;
    eg_chunk *c = &w->cur;
    c->data = data;
    c->pos = c->free_space = c->last_record = EG_CHUNK_HEADER_SIZE;
    c->first_id = c->last_id = 0;
    c->nrecords = 0;
    c->has_slack = 0;
    memset(c->strtab, 0, sizeof c->strtab);
    memset(c->tmpltab, 0, sizeof c->tmpltab);
    c->nnames = c->ntmpls = 0;
    return PS_OK;
}

unsigned eg_chunk_count(const eg_writer *w)
{
    return (unsigned)w->nchunks;
}

/* What a failed attempt must undo. */
typedef struct eg_snapshot {
    uint32_t pos;
    size_t nnames, ntmpls;
    uint32_t strtab[64], tmpltab[32];
} eg_snapshot;

static void take_snapshot(const eg_chunk *c, eg_snapshot *s)
{
    s->pos = c->pos;
    s->nnames = c->nnames;
    s->ntmpls = c->ntmpls;
    memcpy(s->strtab, c->strtab, sizeof s->strtab);
    memcpy(s->tmpltab, c->tmpltab, sizeof s->tmpltab);
}

static void restore_snapshot(eg_chunk *c, const eg_snapshot *s)
{
    memset(c->data + s->pos, 0, EG_CHUNK_SIZE - s->pos);
    c->pos = s->pos;
    c->nnames = s->nnames;
    c->ntmpls = s->ntmpls;
    memcpy(c->strtab, s->strtab, sizeof s->strtab);
    memcpy(c->tmpltab, s->tmpltab, sizeof s->tmpltab);
}

/* One record at the current position: header, BinXML, padding to a multiple
 * of 8 bytes (as Windows does), size copy. Returns 0 if it fit. */
static int put_record(eg_out *o, uint64_t id, uint64_t filetime, const eg_fragment *f)
{
    uint32_t start = o->c->pos;
    unsigned damage = o->damage;
    put_bytes(o, (damage & EG_REC_BAD_SIGNATURE) ? "*X\0\0" : "**\0\0", 4);
    put_u32(o, 0);
    put_le(o, id, 8);
    put_le(o, filetime, 8);
    put_fragment(o, f);
    while (!o->overflow && (o->c->pos - start + 4) % 8)
        put_u8(o, 0);
    uint32_t size = o->c->pos - start + 4;
    put_u32(o, (damage & EG_REC_SIZE_MISMATCH) ? size + 8 : size);
    patch_u32(o, start + 4, (damage & EG_REC_SIZE_PAST_CHUNK) ? 2 * EG_CHUNK_SIZE : size);
    return o->overflow ? -1 : 0;
}

static void commit_record(eg_chunk *c, uint32_t start, uint64_t id, int slack)
{
    if (slack) {
        c->has_slack = 1;
        return;
    }
    if (c->nrecords++ == 0)
        c->first_id = id;
    c->last_id = id;
    c->last_record = start;
    c->free_space = c->pos;
}

static int add_fragment_record(eg_writer *w, uint64_t id, uint64_t filetime,
                               const eg_fragment *f, const eg_record_opts *opts)
{
    if (w->error)
        return PS_ERR_ARG;
    unsigned damage = opts ? opts->damage : 0;
    int slack = (damage & EG_REC_SLACK) != 0;
    /* Live records never follow deleted ones within a chunk. */
    if (!w->nchunks || (opts && opts->new_chunk) || (w->cur.has_slack && !slack)) {
        int rc = start_chunk(w);
        if (rc != PS_OK)
            return rc;
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        eg_snapshot snap;
        take_snapshot(&w->cur, &snap);
        eg_out o = {w, &w->cur, 0, damage};
        if (put_record(&o, id, filetime, f) == 0) {
            commit_record(&w->cur, snap.pos, id, slack);
            if (!slack && id >= w->next_record_id)
                w->next_record_id = id + 1;
            return PS_OK;
        }
        restore_snapshot(&w->cur, &snap);
        if (w->error)
            return PS_ERR_NOMEM;
        if (w->cur.nrecords == 0 && !w->cur.has_slack)
            break;
        int rc = start_chunk(w);
        if (rc != PS_OK)
            return rc;
    }
    /* Not a writer failure: the caller may go on with smaller records. */
    return PS_ERR_ARG;
}

int eg_add_record(eg_writer *w, uint64_t record_id, uint64_t filetime,
                  const eg_template *tmpl, const eg_value *values, size_t nvalues,
                  const eg_record_opts *opts)
{
    if (!tmpl)
        return PS_ERR_ARG;
    eg_fragment f = {0};
    f.tmpl = tmpl;
    f.values = values;
    f.nvalues = nvalues;
    return add_fragment_record(w, record_id, filetime, &f, opts);
}

int eg_add_record_tree(eg_writer *w, uint64_t record_id, uint64_t filetime,
                       const eg_node *root, const eg_record_opts *opts)
{
    if (!root)
        return PS_ERR_ARG;
    eg_fragment f = {0};
    f.root = root;
    return add_fragment_record(w, record_id, filetime, &f, opts);
}

int eg_add_record_template_loop(eg_writer *w, uint64_t record_id, uint64_t filetime,
                                const eg_record_opts *opts)
{
    eg_template *t = (eg_template *)eg_template_new(w, NULL, NULL);
    if (!t)
        return PS_ERR_NOMEM;
    t->self_loop = 1;
    return eg_add_record(w, record_id, filetime, t, NULL, 0, opts);
}
