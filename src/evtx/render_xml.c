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

static void xml_element(ps_buf *b, const bx_node *el, int level);

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

static void xml_element(ps_buf *b, const bx_node *el, int level)
{
    indent(b, level);
    ps_buf_addc(b, '<');
    put_name(b, el->name);
    for (const bx_node *a = el->attrs; a; a = a->next) {
        ps_buf_addc(b, ' ');
        put_name(b, a->name);
        ps_buf_lit(b, "=\"");
        put_parts(b, a->children, ESC_XML_ATTR, &STYLE_XML);
        ps_buf_addc(b, '"');
    }
    if (!el->children) {
        ps_buf_lit(b, "/>\n");
        return;
    }
    ps_buf_addc(b, '>');
    if (!has_child_elements(el)) {
        put_parts(b, el->children, ESC_XML_TEXT, &STYLE_XML);
    } else {
        ps_buf_addc(b, '\n');
        for (const bx_node *c = el->children; c; c = c->next) {
            if (c->kind == BX_ELEM) {
                xml_element(b, c, level + 1);
            } else if (c->kind == BX_PI) {
                xml_pi(b, c, level + 1);
            } else {
                const bx_node one = {.kind = c->kind, .name = c->name, .data = c->data,
                                     .size = c->size, .index = c->index, .type = c->type};
                indent(b, level + 1);
                put_parts(b, &one, ESC_XML_TEXT, &STYLE_XML);
                ps_buf_addc(b, '\n');
            }
        }
        indent(b, level);
    }
    ps_buf_lit(b, "</");
    put_name(b, el->name);
    ps_buf_lit(b, ">\n");
}

void render_xml(ps_buf *out, const bx_node *roots)
{
    for (const bx_node *n = roots; n; n = n->next) {
        if (n->kind == BX_ELEM)
            xml_element(out, n, 0);
        else if (n->kind == BX_PI)
            xml_pi(out, n, 0);
    }
}
