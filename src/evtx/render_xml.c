/* XML as Windows renders an event: attributes in stored order, empty
 * elements self-closed, GUIDs in braces, times with 7 fraction digits. */
#include <string.h>

#include "evtx/render.h"
#include "evtx/values.h"

static void indent(ps_buf *b, int level)
{
    size_t n = 2 * (size_t)level;
    if (n == 0 || ps_buf_reserve(b, n) != 0)
        return; /* n == 0: the buffer may not exist yet (memset on NULL) */
    memset(b->data + b->len, ' ', n);
    b->len += n;
}

static int has_child_elements(const bx_node *el)
{
    for (const bx_node *c = el->children; c; c = c->next)
        if (c->kind == BX_ELEM || c->kind == BX_PI)
            return 1;
    return 0;
}

static void put_name(ps_buf *b, const bx_name *n)
{
    /* Names come from the file: escape them so hostile ones cannot break
     * the document structure. */
    put_utf8(b, n->s, n->len, ESC_XML_ATTR);
}

static void xml_pi(ps_buf *b, const bx_node *pi, int level)
{
    indent(b, level);
    ps_buf_lit(b, "<?");
    put_name(b, pi->name);
    if (pi->size) {
        ps_buf_addc(b, ' ');
        put_utf16(b, pi->data, pi->size / 2, ESC_XML_TEXT, 0);
    }
    ps_buf_lit(b, "?>\n");
}

/* Compiling (xml_compile): the literal text goes to `out`, each hole closes
 * the literal run before it, as in the JSON recorder. */
typedef struct xml_out {
    ps_buf *b;
    ps_arena *tmp;           /* compiling only: */
    json_op *ops;
    uint32_t nops, capops;
    json_splice *splices;
    uint32_t nsplices, capsplices;
    size_t lit_mark;
    const char *why;
} xml_out;

static int grow(xml_out *x, void **items, uint32_t *cap, uint32_t len, size_t size)
{
    if (ps_arena_grow_array(x->tmp, items, cap, len, size) == 0)
        return 0;
    x->why = "out of memory";
    return -1;
}

static void rec_op(xml_out *x, uint16_t kind, uint16_t slot, uint32_t aux)
{
    if (grow(x, (void **)&x->ops, &x->capops, x->nops, sizeof *x->ops))
        return;
    x->ops[x->nops++] = (json_op){(uint32_t)(x->b->len - x->lit_mark), kind, slot, aux};
    x->lit_mark = x->b->len;
}

/* put_parts, with holes recorded when compiling. */
static void put_text(xml_out *x, const bx_node *parts, int single, text_escape esc)
{
    for (const bx_node *n = parts; n; n = single ? NULL : n->next) {
        if (n->hole == BX_HOLE_VALUE)
            rec_op(x, esc == ESC_XML_ATTR ? JOP_XML_ATTR : JOP_XML_TEXT, n->index, 0);
        else
            put_part(x->b, n, esc, &STYLE_XML);
    }
}

static void xml_element(xml_out *x, const bx_node *el, int level);

static void xml_splice(xml_out *x, const bx_node *hole, int level)
{
    if (grow(x, (void **)&x->splices, &x->capsplices, x->nsplices, sizeof *x->splices))
        return;
    x->splices[x->nsplices] = (json_splice){.level = (uint32_t)level};
    rec_op(x, JOP_SPLICE, hole->index, x->nsplices++);
}

static void xml_element(xml_out *x, const bx_node *el, int level)
{
    ps_buf *b = x->b;
    if (el->hole == BX_HOLE_SPLICE) {
        xml_splice(x, el, level);
        return;
    }
    indent(b, level);
    ps_buf_addc(b, '<');
    put_name(b, el->name);
    for (const bx_node *a = el->attrs; a; a = a->next) {
        ps_buf_addc(b, ' ');
        put_name(b, a->name);
        ps_buf_lit(b, "=\"");
        put_text(x, a->children, 0, ESC_XML_ATTR);
        ps_buf_addc(b, '"');
    }
    if (!el->children) {
        ps_buf_lit(b, "/>\n");
        return;
    }
    ps_buf_addc(b, '>');
    if (!has_child_elements(el)) {
        put_text(x, el->children, 0, ESC_XML_TEXT);
    } else {
        ps_buf_addc(b, '\n');
        for (const bx_node *c = el->children; c; c = c->next) {
            if (c->kind == BX_ELEM) {
                xml_element(x, c, level + 1);
            } else if (c->kind == BX_PI) {
                xml_pi(b, c, level + 1);
            } else {
                indent(b, level + 1);
                put_text(x, c, 1, ESC_XML_TEXT);
                ps_buf_addc(b, '\n');
            }
        }
        indent(b, level);
    }
    ps_buf_lit(b, "</");
    put_name(b, el->name);
    ps_buf_lit(b, ">\n");
}

static void xml_roots(xml_out *x, const bx_node *roots, int level)
{
    for (const bx_node *n = roots; n; n = n->next) {
        if (n->kind == BX_ELEM)
            xml_element(x, n, level);
        else if (n->kind == BX_PI)
            xml_pi(x->b, n, level);
    }
}

void render_xml(ps_buf *out, const bx_node *roots)
{
    xml_out x = {.b = out};
    xml_roots(&x, roots, 0);
}

int xml_compile(const bx_node *roots, int level, ps_arena *tmp, ps_arena *dest,
                json_program *out, const char **why)
{
    ps_buf lits;
    ps_buf_init(&lits);
    xml_out x = {.b = &lits, .tmp = tmp};
    xml_roots(&x, roots, level);
    rec_op(&x, JOP_END, 0, 0);
    if (lits.failed)
        x.why = "out of memory";
    memset(out, 0, sizeof *out);
    if (!x.why) {
        out->ops = arena_dup(dest, x.ops, x.nops * sizeof *x.ops);
        out->nops = x.nops;
        out->lits = arena_dup(dest, lits.data, lits.len);
        out->splices = arena_dup(dest, x.splices, x.nsplices * sizeof *x.splices);
        out->nsplices = x.nsplices;
        out->top_keys = arena_dup(dest, NULL, 0);
        if (!out->ops || !out->lits || !out->splices || !out->top_keys)
            x.why = "out of memory";
    }
    ps_buf_free(&lits);
    if (x.why) {
        *why = x.why;
        return -1;
    }
    return 0;
}
