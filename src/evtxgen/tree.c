/* Element trees and templates of the EVTX writer. */
#include <stdio.h>
#include <string.h>

#include "evtxgen/internal.h"

static const char *dup_str(eg_writer *w, const char *s)
{
    if (!s)
        s = "";
    size_t n = strlen(s);
    char *d = eg_alloc(w, n + 1);
    if (d)
        memcpy(d, s, n + 1);
    return d ? d : "";
}

static eg_node *new_node(eg_writer *w, uint8_t kind)
{
    eg_node *n = eg_alloc(w, sizeof *n);
    if (n) {
        memset(n, 0, sizeof *n);
        n->kind = kind;
        n->depid = 0xFFFF;
    }
    return n;
}

eg_node *eg_elem(eg_writer *w, const char *name)
{
    eg_node *n = new_node(w, EG_N_ELEM);
    if (n)
        n->name = dup_str(w, name);
    return n;
}

/* Append to the content list (elements) or the value parts (attributes). */
void eg_append(eg_writer *w, eg_node *parent, eg_node *child)
{
    if (!parent || !child) {
        eg_fail(w, "append to or of a missing node");
        return;
    }
    child->next = NULL;
    if (parent->last_child)
        parent->last_child->next = child;
    else
        parent->children = child;
    parent->last_child = child;
}

eg_node *eg_child_elem(eg_writer *w, eg_node *parent, const char *name)
{
    eg_node *n = eg_elem(w, name);
    eg_append(w, parent, n);
    return n;
}

void eg_elem_set_depid(eg_node *elem, uint16_t depid)
{
    if (elem)
        elem->depid = depid;
}

void eg_text(eg_writer *w, eg_node *parent, const char *utf8)
{
    eg_node *n = new_node(w, EG_N_TEXT);
    if (n)
        n->text = dup_str(w, utf8);
    eg_append(w, parent, n);
}

void eg_sub(eg_writer *w, eg_node *parent, uint16_t index, uint8_t type, int optional)
{
    eg_node *n = new_node(w, EG_N_SUB);
    if (n) {
        n->index = index;
        n->type = type;
        n->optional = optional != 0;
    }
    eg_append(w, parent, n);
}

void eg_cdata(eg_writer *w, eg_node *parent, const char *utf8)
{
    eg_node *n = new_node(w, EG_N_CDATA);
    if (n)
        n->text = dup_str(w, utf8);
    eg_append(w, parent, n);
}

void eg_charref(eg_writer *w, eg_node *parent, uint16_t codepoint)
{
    eg_node *n = new_node(w, EG_N_CHARREF);
    if (n)
        n->index = codepoint;
    eg_append(w, parent, n);
}

void eg_entityref(eg_writer *w, eg_node *parent, const char *name)
{
    eg_node *n = new_node(w, EG_N_ENTREF);
    if (n)
        n->name = dup_str(w, name);
    eg_append(w, parent, n);
}

void eg_pi(eg_writer *w, eg_node *parent, const char *target, const char *data)
{
    eg_node *n = new_node(w, EG_N_PI);
    if (n) {
        n->name = dup_str(w, target);
        n->text = dup_str(w, data);
    }
    eg_append(w, parent, n);
}

eg_node *eg_attr(eg_writer *w, eg_node *elem, const char *name)
{
    eg_node *a = new_node(w, EG_N_ATTR);
    if (!a || !elem || elem->kind != EG_N_ELEM) {
        eg_fail(w, "attribute on a missing or non-element node");
        return a;
    }
    a->name = dup_str(w, name);
    if (elem->last_attr)
        elem->last_attr->next = a;
    else
        elem->attrs = a;
    elem->last_attr = a;
    return a;
}

void eg_attr_text(eg_writer *w, eg_node *elem, const char *name, const char *utf8)
{
    eg_text(w, eg_attr(w, elem, name), utf8);
}

void eg_attr_sub(eg_writer *w, eg_node *elem, const char *name, uint16_t index,
                 uint8_t type, int optional)
{
    eg_sub(w, eg_attr(w, elem, name), index, type, optional);
}

const eg_template *eg_template_new(eg_writer *w, const char *guid, const eg_node *root)
{
    eg_template *t = eg_alloc(w, sizeof *t);
    if (!t)
        return NULL;
    memset(t, 0, sizeof *t);
    t->root = root;
    if (guid) {
        if (eg_parse_guid(guid, t->guid) != 0)
            eg_fail(w, "bad template GUID");
        return t;
    }
    /* A made-up GUID that differs per template (and per writer run). */
    char made[40];
    unsigned serial = ++w->guid_counter;
    snprintf(made, sizeof made, "%08X-E6E0-4E5A-9C3B-00000000%04X", 0x5A170000u + serial,
             serial & 0xFFFFu);
    eg_parse_guid(made, t->guid);
    return t;
}
