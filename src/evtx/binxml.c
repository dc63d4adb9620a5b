/*
 * BinXML parsing and template expansion. See binxml.h for the design and
 * ../shared/docs/evtx-format.md (sections 1.4-1.7) for the format facts.
 *
 * Every read goes through the parser's bounds: a token never reads past
 * `end`, an offset never points outside the chunk, recursion is capped, and
 * all allocation is from the chunk arena (which has a hard limit).
 */
#include "evtx/binxml.h"

#include <string.h>

#include "evtx/bytes.h"
#include "evtx/utf.h"

typedef struct bx_parser {
    bx_chunk *c;
    ps_arena *arena; /* where nodes go: the chunk's (templates) or the record's */
    uint32_t pos;
    uint32_t end;
    int in_template; /* element starts carry a dependency id */
    int depth;       /* element nesting */
    int nest;        /* nested BinXML values / template instances */
    const char *err; /* first problem, reported by the record decoder */
    uint32_t err_at;
    int symbolic;    /* bx_expand_symbolic: values are slot classes */
    int in_attr;     /* expanding an attribute's value */
} bx_parser;

static bx_node *parse_fragment(bx_parser *p);
static bx_node *expand_list(bx_parser *p, const bx_node *src, const bx_value *vals,
                            uint32_t nvals);

static void fail(bx_parser *p, const char *msg)
{
    if (!p->err) {
        p->err = msg;
        p->err_at = p->pos;
    }
}

static int need(bx_parser *p, uint32_t n)
{
    if (p->err)
        return 0;
    if (p->pos > p->end || p->end - p->pos < n) {
        fail(p, "BinXML runs past the end of its data");
        return 0;
    }
    return 1;
}

static bx_node *new_node(bx_parser *p, uint8_t kind)
{
    bx_node *n = ps_arena_zalloc(p->arena, sizeof *n);
    if (!n)
        fail(p, "record needs more memory than the per-chunk limit");
    else
        n->kind = kind;
    return n;
}

/* --- names -------------------------------------------------------------- */

static unsigned slot_of(uint32_t offset, unsigned nslots)
{
    return (unsigned)((offset * 2654435761u) >> 7) & (nslots - 1);
}

static void classify_name(bx_name *n)
{
    static const struct { const char *s; uint8_t role; } roles[] = {
        {"Data", BX_NAME_DATA}, {"EventData", BX_NAME_EVENTDATA},
        {"UserData", BX_NAME_USERDATA}, {"Name", BX_NAME_NAME}};
    n->role = BX_NAME_OTHER;
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
        if (!strcmp(n->s, roles[i].s))
            n->role = roles[i].role;
    n->plain = 1;
    for (uint32_t i = 0; i < n->len; i++) {
        unsigned char c = (unsigned char)n->s[i];
        if (c < 0x20 || c >= 0x7F || c == '"' || c == '\\' || c == '&' || c == '<' ||
            c == '>' || c == '\'')
            n->plain = 0;
    }
}

/* Decode the name structure at a chunk offset: next(4) hash(2) nchars(2)
 * UTF-16 chars, NUL. Decoded once per chunk and cached by offset. */
static const bx_name *name_at(bx_chunk *c, uint32_t off)
{
    unsigned home = slot_of(off, BX_NAME_SLOTS);
    for (unsigned i = 0; i < 8; i++) {
        unsigned s = (home + i) & (BX_NAME_SLOTS - 1);
        if (c->names[s].name && c->names[s].offset == off)
            return c->names[s].name;
    }
    if (off < EVTX_CHUNK_HEADER_SIZE || off > c->size || c->size - off < 8)
        return NULL;
    uint32_t nchars = rd16(c->data + off + 6);
    if ((c->size - off - 8) / 2 < nchars)
        return NULL;
    bx_name *name = ps_arena_alloc(c->arena, sizeof *name);
    char *s = ps_arena_alloc(c->arena, (size_t)nchars * 3 + 1);
    if (!name || !s)
        return NULL;
    name->len = (uint32_t)utf16_to_utf8(s, c->data + off + 8, nchars);
    s[name->len] = 0;
    name->s = s;
    classify_name(name);
    unsigned slot = home;
    for (unsigned i = 0; i < 8; i++) {
        unsigned t = (home + i) & (BX_NAME_SLOTS - 1);
        if (!c->names[t].name) {
            slot = t;
            break;
        }
    }
    c->names[slot].offset = off;
    c->names[slot].name = name;
    return name;
}

/* A u32 name offset at the current position. If it points right behind
 * itself, the name structure is stored inline and must be skipped. */
static const bx_name *parse_name_ref(bx_parser *p)
{
    if (!need(p, 4))
        return NULL;
    uint32_t off = rd32(p->c->data + p->pos);
    p->pos += 4;
    const bx_name *name = name_at(p->c, off);
    if (!name) {
        fail(p, "name offset points outside the chunk or at a damaged name");
        return NULL;
    }
    if (off == p->pos) {
        uint32_t skip = 10 + 2 * (uint32_t)rd16(p->c->data + off + 6);
        if (!need(p, skip))
            return NULL;
        p->pos += skip;
    }
    return name;
}

/* --- tokens ------------------------------------------------------------- */

static bx_node *parse_utf16_run(bx_parser *p, uint8_t kind, uint8_t type)
{
    if (!need(p, 2))
        return NULL;
    uint32_t bytes = 2 * (uint32_t)rd16(p->c->data + p->pos);
    p->pos += 2;
    if (!need(p, bytes))
        return NULL;
    bx_node *n = new_node(p, kind);
    if (n) {
        n->type = type;
        n->data = p->c->data + p->pos;
        n->size = bytes;
    }
    p->pos += bytes;
    return n;
}

static bx_node *parse_value_text(bx_parser *p)
{
    if (!need(p, 2))
        return NULL;
    p->pos += 2; /* token, value type (always a string in practice) */
    return parse_utf16_run(p, BX_VALUE, BX_T_STRING);
}

static bx_node *parse_substitution(bx_parser *p, int optional)
{
    if (!need(p, 4))
        return NULL;
    bx_node *n = new_node(p, BX_SUBST);
    if (n) {
        n->index = rd16(p->c->data + p->pos + 1);
        n->type = p->c->data[p->pos + 3];
        n->optional = (uint8_t)optional;
    }
    p->pos += 4;
    return n;
}

static bx_node *parse_charref(bx_parser *p)
{
    if (!need(p, 3))
        return NULL;
    bx_node *n = new_node(p, BX_CHARREF);
    if (n)
        n->index = rd16(p->c->data + p->pos + 1);
    p->pos += 3;
    return n;
}

static bx_node *parse_entref(bx_parser *p)
{
    p->pos += 1;
    const bx_name *name = parse_name_ref(p);
    bx_node *n = name ? new_node(p, BX_ENTREF) : NULL;
    if (n)
        n->name = name;
    return n;
}

static bx_node *parse_pi(bx_parser *p)
{
    p->pos += 1;
    const bx_name *target = parse_name_ref(p);
    if (!target)
        return NULL;
    bx_node *n = new_node(p, BX_PI);
    if (!n)
        return NULL;
    n->name = target;
    if (p->pos < p->end && p->c->data[p->pos] == 0x0B) {
        p->pos += 1;
        bx_node *d = parse_utf16_run(p, BX_PI, 0);
        if (d) {
            n->data = d->data;
            n->size = d->size;
        }
    }
    return n;
}

static bx_node *parse_template_instance(bx_parser *p);
static bx_node *parse_element(bx_parser *p);

/* Attribute values and element content share these tokens. Returns the
 * parsed node list (a template instance may yield several), or NULL with
 * *handled = 0 when the token is not a value/content token. */
static bx_node *parse_value_token(bx_parser *p, int in_content, int *handled)
{
    uint8_t tok = p->c->data[p->pos] & 0xBF;
    *handled = 1;
    switch (tok) {
    case 0x05: return parse_value_text(p);
    case 0x0D: return parse_substitution(p, 0);
    case 0x0E: return parse_substitution(p, 1);
    case 0x08: return parse_charref(p);
    case 0x09: return parse_entref(p);
    case 0x07: p->pos += 1; return parse_utf16_run(p, BX_CDATA, 0);
    default: break;
    }
    if (in_content) {
        switch (tok) {
        case 0x01: return parse_element(p);
        case 0x0A: return parse_pi(p);
        case 0x0C: return parse_template_instance(p);
        default: break;
        }
    }
    *handled = 0;
    return NULL;
}

/* Append list `add` (which may be several nodes) at *tail. */
static void append(bx_node ***tail, bx_node *add)
{
    while (add) {
        **tail = add;
        *tail = &add->next;
        add = add->next;
    }
}

static bx_node *parse_attributes(bx_parser *p)
{
    bx_node *head = NULL, **tail = &head;
    while (need(p, 1) && (p->c->data[p->pos] & 0xBF) == 0x06) {
        int more = p->c->data[p->pos] & 0x40;
        p->pos += 1;
        const bx_name *name = parse_name_ref(p);
        bx_node *attr = name ? new_node(p, BX_ATTR) : NULL;
        if (!attr)
            break;
        attr->name = name;
        bx_node **vtail = &attr->children;
        int handled = 1;
        while (!p->err && p->pos < p->end && handled) {
            bx_node *v = parse_value_token(p, 0, &handled);
            append(&vtail, v);
        }
        append(&tail, attr);
        if (!more)
            break;
    }
    return head;
}

/* Does the element start at p->pos carry a dependency id? Expected inside
 * template definitions, absent elsewhere; when the expected layout gives an
 * impossible data size and the other does not, trust the other. */
static int has_dependency_id(bx_parser *p)
{
    int expect = p->in_template;
    uint32_t left = p->end - p->pos;
    if (left < 11)
        return expect;
    uint32_t size_if_dep = rd32(p->c->data + p->pos + 3);
    uint32_t size_if_not = rd32(p->c->data + p->pos + 1);
    int fits_dep = size_if_dep <= left - 7;
    int fits_not = size_if_not <= left - 5;
    if (expect && !fits_dep && fits_not)
        return 0;
    if (!expect && !fits_not && fits_dep)
        return 1;
    return expect;
}

static bx_node *parse_element(bx_parser *p)
{
    if (p->depth >= BX_MAX_DEPTH) {
        fail(p, "elements nested too deeply");
        return NULL;
    }
    uint8_t tok = p->c->data[p->pos];
    uint32_t header = 5 + (has_dependency_id(p) ? 2 : 0);
    if (!need(p, header))
        return NULL;
    p->pos += header; /* token, [dependency id], data size */
    const bx_name *name = parse_name_ref(p);
    bx_node *el = name ? new_node(p, BX_ELEM) : NULL;
    if (!el)
        return NULL;
    el->name = name;
    if (tok & 0x40) {
        if (!need(p, 4))
            return el;
        p->pos += 4; /* attribute list size: the tokens delimit it anyway */
        el->attrs = parse_attributes(p);
    }
    if (!need(p, 1))
        return el;
    uint8_t close = p->c->data[p->pos];
    if (close == 0x03) { /* /> */
        p->pos += 1;
        return el;
    }
    if (close != 0x02) {
        fail(p, "element start not closed");
        return el;
    }
    p->pos += 1;
    p->depth++;
    bx_node **tail = &el->children;
    while (need(p, 1)) {
        if (p->c->data[p->pos] == 0x04) {
            p->pos += 1;
            break;
        }
        int handled;
        bx_node *child = parse_value_token(p, 1, &handled);
        if (!handled) {
            fail(p, "unexpected token in element content");
            break;
        }
        append(&tail, child);
    }
    p->depth--;
    return el;
}

/* --- templates ---------------------------------------------------------- */

#define TEMPLATE_HEADER_SIZE 24 /* next(4) GUID(16) data size(4) */

static bx_template *template_slot(bx_chunk *c, uint32_t off, int *found)
{
    unsigned home = slot_of(off, BX_TEMPLATE_SLOTS);
    for (unsigned i = 0; i < 8; i++) {
        bx_template *t = &c->templates[(home + i) & (BX_TEMPLATE_SLOTS - 1)];
        if (t->offset == off) {
            *found = 1;
            return t;
        }
        if (t->offset == 0) {
            *found = 0;
            return t;
        }
    }
    *found = 0;
    return &c->templates[home]; /* full: evict; correctness is unaffected */
}

/* The parsed tree of the template definition at chunk offset `off`. */
static bx_template *template_at(bx_chunk *c, uint32_t off, const char **err)
{
    int found;
    bx_template *t = template_slot(c, off, &found);
    if (found) {
        *err = t->err;
        return t;
    }
    t->offset = off;
    t->root = NULL;
    t->err = NULL;
    t->compiled = NULL;
    t->compiled_state = 0;
    if (off < EVTX_CHUNK_HEADER_SIZE || off > c->size ||
        c->size - off < TEMPLATE_HEADER_SIZE) {
        *err = t->err = "template definition offset outside the chunk";
        return t;
    }
    uint32_t size = rd32(c->data + off + 20);
    uint32_t body = off + TEMPLATE_HEADER_SIZE;
    if (size > c->size - body) {
        *err = t->err = "template definition runs past the chunk";
        return t;
    }
    /* The definition is parsed on its own: substitutions stay symbolic, and
     * a template instance inside it is refused (it could only loop). */
    bx_parser tp = {.c = c, .arena = c->arena, .pos = body, .end = body + size, .in_template = 1,
                    .nest = BX_MAX_NEST};
    t->root = parse_fragment(&tp);
    if (tp.err) {
        *err = tp.err;
        t->root = NULL;
    } else if (!t->root) {
        *err = "template definition holds no element";
    }
    t->err = t->root ? NULL : *err;
    return t;
}

/* TemplateInstance: 0x0C, u8, u32 id, u32 definition offset, [inline
 * definition], u32 value count, count x {u16 size, u8 type, u8}, values.
 * Reads it up to its values and resolves its definition; both lanes use
 * this, so they accept and refuse exactly the same instances. */
static bx_template *read_instance(bx_parser *p, bx_value **vals_out, uint32_t *nvals_out,
                                  uint64_t *classes_out)
{
    if (p->nest >= BX_MAX_NEST) {
        fail(p, "template instances nested too deeply");
        return NULL;
    }
    if (!need(p, 10))
        return NULL;
    uint32_t def_off = rd32(p->c->data + p->pos + 6);
    p->pos += 10;
    if (def_off == p->pos) { /* definition stored inline: skip it */
        if (!need(p, TEMPLATE_HEADER_SIZE))
            return NULL;
        uint32_t size = rd32(p->c->data + p->pos + 20);
        if (!need(p, TEMPLATE_HEADER_SIZE) || p->end - p->pos - TEMPLATE_HEADER_SIZE < size) {
            fail(p, "inline template definition runs past the record");
            return NULL;
        }
        p->pos += TEMPLATE_HEADER_SIZE + size;
    }
    if (!need(p, 4))
        return NULL;
    uint32_t nvals = rd32(p->c->data + p->pos);
    p->pos += 4;
    if (nvals > (p->end - p->pos) / 4) {
        fail(p, "template instance has more values than bytes");
        return NULL;
    }
    bx_value *vals = nvals ? ps_arena_alloc(p->arena, nvals * sizeof *vals) : NULL;
    if (nvals && !vals) {
        fail(p, "record needs more memory than the per-chunk limit");
        return NULL;
    }
    const uint8_t *desc = p->c->data + p->pos;
    p->pos += 4 * nvals;
    /* Per value of every record: bounds kept in locals (pos <= end holds,
     * the descriptors having fitted), need() only to report. */
    const uint8_t *data = p->c->data;
    uint32_t pos = p->pos, end = p->end;
    uint64_t classes = 0; /* the first 32 values' slot classes, for the fast lane */
    for (uint32_t i = 0; i < nvals; i++) {
        uint32_t size = rd16(desc + 4 * i);
        if (size > end - pos) {
            p->pos = pos;
            need(p, size);
            fail(p, "substitution values run past the record");
            return NULL;
        }
        uint8_t type = desc[4 * i + 2];
        vals[i].data = data + pos;
        vals[i].size = size;
        vals[i].type = type;
        if (i < 32)
            classes |= (uint64_t)bx_slot_classes[type] << (2 * i);
        pos += size;
    }
    p->pos = pos;
    if (classes_out)
        *classes_out = classes;
    const char *terr = NULL;
    bx_template *t = template_at(p->c, def_off, &terr);
    if (!t->root) {
        uint32_t at = p->pos;
        p->pos = def_off;
        fail(p, terr ? terr : "template definition could not be parsed");
        p->err_at = at;
        return NULL;
    }
    *vals_out = vals;
    *nvals_out = nvals;
    return t;
}

static bx_node *parse_template_instance(bx_parser *p)
{
    bx_value *vals = NULL;
    uint32_t nvals = 0;
    bx_template *t = read_instance(p, &vals, &nvals, NULL);
    if (!t)
        return NULL;
    p->nest++;
    bx_node *out = expand_list(p, t->root, vals, nvals);
    p->nest--;
    return out;
}

/* Fragment = [FragmentHeader] (Element | TemplateInstance), possibly
 * several, up to EOF. */
static bx_node *parse_fragment(bx_parser *p)
{
    bx_node *head = NULL, **tail = &head;
    while (!p->err && p->pos < p->end) {
        uint8_t tok = p->c->data[p->pos];
        if (tok == 0x00)
            break;
        if (tok == 0x0F) {
            if (!need(p, 4))
                break;
            p->pos += 4;
        } else if ((tok & 0xBF) == 0x01) {
            append(&tail, parse_element(p));
        } else if (tok == 0x0C) {
            if (p->in_template) {
                fail(p, "template instance inside a template definition");
                break;
            }
            append(&tail, parse_template_instance(p));
        } else {
            fail(p, "unexpected token at the start of a fragment");
            break;
        }
    }
    return head;
}

/* --- expansion ------------------------------------------------------------ */

static bx_node *copy_node(bx_parser *p, const bx_node *n)
{
    bx_node *c = ps_arena_alloc(p->arena, sizeof *c);
    if (!c) {
        fail(p, "record needs more memory than the per-chunk limit");
        return NULL;
    }
    *c = *n;
    c->next = NULL;
    return c;
}

/* Nested BinXML (value type 0x21): another fragment inside the value bytes,
 * with chunk-relative offsets like everything else. */
static bx_node *expand_nested(bx_parser *p, const bx_value *v)
{
    if (p->nest >= BX_MAX_NEST) {
        fail(p, "BinXML values nested too deeply");
        return NULL;
    }
    bx_parser np = *p;
    np.pos = (uint32_t)(v->data - p->c->data);
    np.end = np.pos + v->size;
    np.in_template = 0;
    np.depth = 0;
    np.nest = p->nest + 1;
    bx_node *out = parse_fragment(&np);
    if (np.err && !p->err) {
        p->err = np.err;
        p->err_at = np.err_at;
    }
    return out;
}

static bx_node *value_node(bx_parser *p, const bx_value *v)
{
    bx_node *n = new_node(p, BX_VALUE);
    if (n) {
        n->type = v->type;
        n->data = v->data;
        n->size = v->size;
    }
    return n;
}

/* Symbolic expansion: a placeholder for the value of substitution `s`. */
static bx_node *hole_node(bx_parser *p, const bx_node *s, const bx_value *v)
{
    int splice = v->type == BX_T_BINXML;
    if (splice && p->in_attr) {
        /* The slow lane parses it (and may warn) though nothing of it
         * shows in an attribute: leave such templates to it. */
        fail(p, "nested BinXML in an attribute");
        return NULL;
    }
    bx_node *n = new_node(p, splice ? BX_ELEM : BX_VALUE);
    if (n) {
        n->hole = splice ? BX_HOLE_SPLICE : BX_HOLE_VALUE;
        n->index = s->index;
        n->type = v->type;
    }
    return n;
}

static const bx_value null_value = {NULL, 0, BX_T_NULL};

static const bx_value *value_of(const bx_node *subst, const bx_value *vals, uint32_t nvals)
{
    return subst->index < nvals ? &vals[subst->index] : &null_value;
}

/* One substitution in content or in an attribute value. */
static bx_node *expand_subst(bx_parser *p, const bx_node *s, const bx_value *vals,
                             uint32_t nvals)
{
    const bx_value *v = value_of(s, vals, nvals);
    if (v->type == BX_T_NULL)
        return NULL;
    if (p->symbolic)
        return hole_node(p, s, v);
    if (v->type == BX_T_BINXML)
        return expand_nested(p, v);
    return value_node(p, v);
}

static int is_null_subst(const bx_node *n, const bx_value *vals, uint32_t nvals)
{
    return n->kind == BX_SUBST && value_of(n, vals, nvals)->type == BX_T_NULL;
}

static bx_node *expand_attrs(bx_parser *p, const bx_node *src, const bx_value *vals,
                             uint32_t nvals)
{
    bx_node *head = NULL, **tail = &head;
    for (const bx_node *a = src; a && !p->err; a = a->next) {
        /* An attribute whose only content is a NULL optional substitution
         * is left out, as Windows renders it. */
        if (a->children && !a->children->next && a->children->optional &&
            is_null_subst(a->children, vals, nvals))
            continue;
        bx_node *c = copy_node(p, a);
        if (!c)
            break;
        p->in_attr = 1;
        c->children = expand_list(p, a->children, vals, nvals);
        p->in_attr = 0;
        append(&tail, c);
    }
    return head;
}

/* The substitution among an element's children whose value is an array, if
 * any: such an element is repeated once per array item. */
static const bx_node *array_subst(const bx_node *el, const bx_value *vals, uint32_t nvals)
{
    for (const bx_node *c = el->children; c; c = c->next)
        if (c->kind == BX_SUBST) {
            uint8_t t = value_of(c, vals, nvals)->type;
            if ((t & BX_T_ARRAY) && t != (BX_T_ARRAY | BX_T_BINXML))
                return c;
        }
    return NULL;
}

static bx_node *expand_element(bx_parser *p, const bx_node *el, const bx_value *vals,
                               uint32_t nvals)
{
    const bx_node *arr = array_subst(el, vals, nvals);
    if (arr && p->symbolic) {
        /* How often the element repeats is known per record only. */
        fail(p, "array value in element content");
        return NULL;
    }
    if (!arr) {
        bx_node *c = copy_node(p, el);
        if (c) {
            c->attrs = expand_attrs(p, el->attrs, vals, nvals);
            c->children = expand_list(p, el->children, vals, nvals);
        }
        return c;
    }
    const bx_value *av = value_of(arr, vals, nvals);
    uint32_t count = bx_array_items(av, NULL, 0);
    uint32_t nitems = count ? count : 1;
    bx_value *items = ps_arena_alloc(p->arena, nitems * sizeof *items);
    if (!items) {
        fail(p, "record needs more memory than the per-chunk limit");
        return NULL;
    }
    if (count)
        bx_array_items(av, items, count);
    else
        items[0] = null_value;
    /* Re-expand the element with the array's slot bound to each item. */
    bx_value *one = ps_arena_alloc(p->arena, (nvals ? nvals : 1) * sizeof *one);
    if (!one) {
        fail(p, "record needs more memory than the per-chunk limit");
        return NULL;
    }
    memcpy(one, vals, nvals * sizeof *one);
    bx_node *head = NULL, **tail = &head;
    for (uint32_t i = 0; i < nitems && !p->err; i++) {
        one[arr->index] = items[i];
        bx_node *c = copy_node(p, el);
        if (!c)
            break;
        c->attrs = expand_attrs(p, el->attrs, one, nvals);
        c->children = expand_list(p, el->children, one, nvals);
        append(&tail, c);
    }
    return head;
}

static bx_node *expand_list(bx_parser *p, const bx_node *src, const bx_value *vals,
                            uint32_t nvals)
{
    bx_node *head = NULL, **tail = &head;
    for (const bx_node *n = src; n && !p->err; n = n->next) {
        switch (n->kind) {
        case BX_ELEM: append(&tail, expand_element(p, n, vals, nvals)); break;
        case BX_SUBST: append(&tail, expand_subst(p, n, vals, nvals)); break;
        default: append(&tail, copy_node(p, n)); break;
        }
    }
    return head;
}

/* --- arrays --------------------------------------------------------------- */

const uint8_t bx_fixed_sizes[256] = {
    [BX_T_INT8] = 1, [BX_T_UINT8] = 1, [BX_T_INT16] = 2, [BX_T_UINT16] = 2,
    [BX_T_INT32] = 4, [BX_T_UINT32] = 4, [BX_T_REAL32] = 4, [BX_T_BOOL] = 4,
    [BX_T_HEX32] = 4, [BX_T_INT64] = 8, [BX_T_UINT64] = 8, [BX_T_REAL64] = 8,
    [BX_T_FILETIME] = 8, [BX_T_HEX64] = 8, [BX_T_GUID] = 16, [BX_T_SYSTIME] = 16};

static void put_item(bx_value *items, uint32_t max, uint32_t i, const uint8_t *d,
                     uint32_t size, uint8_t type)
{
    if (items && i < max) {
        items[i].data = d;
        items[i].size = size;
        items[i].type = type;
    }
}

uint32_t bx_array_items(const bx_value *v, bx_value *items, uint32_t max)
{
    uint8_t type = v->type & 0x7F;
    const uint8_t *d = v->data;
    uint32_t size = v->size, n = 0, pos = 0;
    if (type == BX_T_STRING) { /* NUL-terminated UTF-16 items */
        uint32_t start = 0;
        for (pos = 0; pos + 1 < size; pos += 2)
            if (d[pos] == 0 && d[pos + 1] == 0) {
                put_item(items, max, n++, d + start, pos - start, type);
                start = pos + 2;
            }
        if (start + 1 < size)
            put_item(items, max, n++, d + start, (size - start) & ~1u, type);
        return n;
    }
    if (type == BX_T_ANSI) {
        uint32_t start = 0;
        for (pos = 0; pos < size; pos++)
            if (d[pos] == 0) {
                put_item(items, max, n++, d + start, pos - start, type);
                start = pos + 1;
            }
        if (start < size)
            put_item(items, max, n++, d + start, size - start, type);
        return n;
    }
    if (type == BX_T_SID) { /* self-delimiting: 8 + 4 * subauthorities */
        while (size - pos >= 8) {
            uint32_t len = 8 + 4u * d[pos + 1];
            if (len > size - pos)
                break;
            put_item(items, max, n++, d + pos, len, type);
            pos += len;
        }
        return n;
    }
    uint32_t item = bx_fixed_size(type);
    if (type == BX_T_SIZET)
        item = 8;
    if (!item) { /* not an array type that exists: one opaque item */
        put_item(items, max, n++, d, size, BX_T_BINARY);
        return n;
    }
    for (pos = 0; pos <= size && item <= size - pos; pos += item)
        put_item(items, max, n++, d + pos, item, type);
    return n;
}

/* --- entry points ------------------------------------------------------------ */

void bx_chunk_begin(bx_chunk *c, const uint8_t *data, uint32_t size, ps_arena *arena,
                    ps_arena *record_arena, bx_warn_fn warn, void *warn_ctx)
{
    c->data = data;
    c->size = size;
    c->arena = arena;
    c->record_arena = record_arena;
    c->warn = warn;
    c->warn_ctx = warn_ctx;
    memset(c->names, 0, sizeof c->names);
    memset(c->templates, 0, sizeof c->templates);
    c->ntemplates_failed = 0;
}

int bx_read_single_instance(bx_chunk *c, uint32_t start, uint32_t end, int nest,
                            bx_instance *out)
{
    /* The loop of parse_fragment, refusing all but one template instance. */
    bx_parser p = {.c = c, .arena = c->record_arena, .pos = start, .end = end, .nest = nest};
    bx_template *t = NULL;
    while (!p.err && p.pos < p.end) {
        uint8_t tok = c->data[p.pos];
        if (tok == 0x00)
            break;
        if (tok == 0x0F) {
            if (!need(&p, 4))
                return -1;
            p.pos += 4;
        } else if (tok == 0x0C && !t) {
            if (!(t = read_instance(&p, &out->vals, &out->nvals, &out->classes)))
                return -1;
        } else {
            return -1;
        }
    }
    if (p.err || !t)
        return -1;
    out->tmpl = t;
    return 0;
}

/* bx_slot_class by value type: NULL (0x00), nested BinXML (0x21), arrays
 * that repeat their element (0x80 and up, but arrays of BinXML, 0xA1, which
 * are not repeated), everything else a scalar. */
const uint8_t bx_slot_classes[256] = {
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
};

bx_node *bx_expand_symbolic(const bx_node *tmpl, const uint8_t *slot_class, uint32_t nslots,
                            ps_arena *arena, const char **why)
{
    static const uint8_t as_type[] = {
        [BX_SLOT_NULL] = BX_T_NULL, [BX_SLOT_SCALAR] = BX_T_STRING,
        [BX_SLOT_ARRAY] = BX_T_ARRAY | BX_T_STRING, [BX_SLOT_BINXML] = BX_T_BINXML};
    bx_value *vals = nslots ? ps_arena_zalloc(arena, nslots * sizeof *vals) : NULL;
    if (nslots && !vals) {
        *why = "out of memory";
        return NULL;
    }
    for (uint32_t i = 0; i < nslots; i++)
        vals[i].type = as_type[slot_class[i] & 3];
    bx_parser p = {.arena = arena, .symbolic = 1};
    bx_node *out = expand_list(&p, tmpl, vals, nslots);
    if (p.err) {
        *why = p.err;
        return NULL;
    }
    return out;
}

bx_node *bx_decode_record(bx_chunk *c, uint32_t start, uint32_t end)
{
    bx_parser p = {.c = c, .arena = c->record_arena, .pos = start, .end = end};
    bx_node *root = parse_fragment(&p);
    if (p.err && c->warn)
        c->warn(c->warn_ctx, p.err_at, p.err);
    return root;
}
