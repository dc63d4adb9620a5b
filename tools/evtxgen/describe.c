/* JSON description -> writer calls. The format is documented in README.md. */
#include "describe.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_BASE_TIME "2024-01-01T00:00:00Z"

typedef struct named_template {
    const char *name;
    const eg_template *tmpl;
    uint8_t *hints;         /* hints[i]: type of substitution i in the tree */
    size_t nhints;
    int building;           /* guards against a template naming itself */
} named_template;

typedef struct desc {
    eg_writer *w;
    json_t *templates;      /* the "templates" object */
    named_template **named;   /* stable pointers: lookups nest while growing */
    size_t nnamed;
    named_template *current;  /* template whose tree is being built */
    char *err;
    size_t errlen;
    int failed;
} desc;

static void fail(desc *d, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(desc *d, const char *where, const char *fmt, ...)
{
    if (d->failed)
        return;
    d->failed = 1;
    int n = snprintf(d->err, d->errlen, "%s: ", where);
    if (n < 0 || (size_t)n >= d->errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->err + n, d->errlen - (size_t)n, fmt, ap);
    va_end(ap);
}

/* ------------------------------------------------------------ types */

static const struct {
    const char *name;
    uint8_t type;
} type_names[] = {
    {"null", EG_T_NULL},       {"string", EG_T_STRING},   {"ansi", EG_T_ANSI},
    {"int8", EG_T_INT8},       {"uint8", EG_T_UINT8},     {"int16", EG_T_INT16},
    {"uint16", EG_T_UINT16},   {"int32", EG_T_INT32},     {"uint32", EG_T_UINT32},
    {"int64", EG_T_INT64},     {"uint64", EG_T_UINT64},   {"real32", EG_T_REAL32},
    {"float", EG_T_REAL32},    {"real64", EG_T_REAL64},   {"double", EG_T_REAL64},
    {"bool", EG_T_BOOL},       {"binary", EG_T_BINARY},   {"guid", EG_T_GUID},
    {"sizet", EG_T_SIZET},     {"filetime", EG_T_FILETIME}, {"systemtime", EG_T_SYSTIME},
    {"systime", EG_T_SYSTIME}, {"sid", EG_T_SID},         {"hex32", EG_T_HEX32},
    {"hexint32", EG_T_HEX32},  {"hex64", EG_T_HEX64},     {"hexint64", EG_T_HEX64},
    {"binxml", EG_T_BINXML},
};

/* "uint16", "string[]" (array), or a number such as 0x41 for odd types. */
static int parse_type(desc *d, json_t *j, const char *where, uint8_t *out)
{
    if (json_is_integer(j) && json_integer_value(j) >= 0 && json_integer_value(j) <= 255) {
        *out = (uint8_t)json_integer_value(j);
        return 0;
    }
    const char *s = json_string_value(j);
    if (!s) {
        fail(d, where, "\"type\" must be a type name or a number 0-255");
        return -1;
    }
    size_t len = strlen(s);
    int array = len > 2 && strcmp(s + len - 2, "[]") == 0;
    if (array)
        len -= 2;
    for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++) {
        if (strlen(type_names[i].name) == len && strncmp(type_names[i].name, s, len) == 0) {
            *out = (uint8_t)(type_names[i].type | (array ? EG_T_ARRAY : 0));
            return 0;
        }
    }
    char *end;
    unsigned long v = strtoul(s, &end, 0);
    if (end != s && !*end && v <= 255) {
        *out = (uint8_t)v;
        return 0;
    }
    fail(d, where, "unknown type \"%s\"", s);
    return -1;
}

/* ------------------------------------------------------ element trees */

static named_template *find_template(desc *d, const char *name, const char *where);

static void note_hint(desc *d, uint16_t index, uint8_t type)
{
    named_template *t = d->current;
    if (!t)
        return;
    if (index >= t->nhints) {
        size_t n = (size_t)index + 1;
        uint8_t *h = realloc(t->hints, n);
        if (!h)
            return;
        memset(h + t->nhints, 0xFF, n - t->nhints);   /* 0xFF: no hint */
        t->hints = h;
        t->nhints = n;
    }
    if (t->hints[index] == 0xFF)
        t->hints[index] = type;
}

/* An object with a "$..." key: substitution, CDATA, char/entity ref, PI. */
static int is_special(json_t *j)
{
    if (!json_is_object(j))
        return 0;
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v) {
        if (key[0] == '$' && strcmp(key, "$depid") != 0)
            return 1;
    }
    return 0;
}

static void add_special(desc *d, eg_node *parent, json_t *j, const char *where)
{
    json_t *v;
    uint8_t type = EG_T_STRING;
    json_t *sub = json_object_get(j, "$sub"), *opt = json_object_get(j, "$opt");
    if (sub || opt) {
        json_t *idx = sub ? sub : opt;
        if (!json_is_integer(idx) || json_integer_value(idx) < 0 ||
            json_integer_value(idx) > 0xFFFF) {
            fail(d, where, "substitution index must be an integer 0-65535");
            return;
        }
        if ((v = json_object_get(j, "type")) && parse_type(d, v, where, &type) != 0)
            return;
        uint16_t index = (uint16_t)json_integer_value(idx);
        note_hint(d, index, type);
        eg_sub(d->w, parent, index, type, opt != NULL);
    } else if ((v = json_object_get(j, "$cdata")) && json_is_string(v)) {
        eg_cdata(d->w, parent, json_string_value(v));
    } else if ((v = json_object_get(j, "$charref")) && json_is_integer(v)) {
        eg_charref(d->w, parent, (uint16_t)json_integer_value(v));
    } else if ((v = json_object_get(j, "$entity")) && json_is_string(v)) {
        eg_entityref(d->w, parent, json_string_value(v));
    } else if ((v = json_object_get(j, "$pi")) && json_is_string(v)) {
        json_t *data = json_object_get(j, "data");
        eg_pi(d->w, parent, json_string_value(v), data ? json_string_value(data) : "");
    } else {
        fail(d, where, "unknown special item (want $sub, $opt, $cdata, $charref, $entity, $pi)");
    }
}

static eg_node *build_element(desc *d, json_t *j, const char *where);

/* One content item of an element, or one part of an attribute value. */
static void add_item(desc *d, eg_node *parent, json_t *item, int allow_elements,
                     const char *where)
{
    if (json_is_string(item)) {
        eg_text(d->w, parent, json_string_value(item));
    } else if (is_special(item)) {
        add_special(d, parent, item, where);
    } else if (json_is_array(item) && allow_elements) {
        eg_append(d->w, parent, build_element(d, item, where));
    } else {
        fail(d, where, "expected text, a [\"Element\", ...] array or a {\"$sub\": N} item");
    }
}

static void add_attributes(desc *d, eg_node *elem, json_t *attrs, const char *where)
{
    const char *key;
    json_t *v;
    json_object_foreach(attrs, key, v) {
        if (strcmp(key, "$depid") == 0) {
            eg_elem_set_depid(elem, (uint16_t)json_integer_value(v));
            continue;
        }
        eg_node *a = eg_attr(d->w, elem, key);
        if (json_is_array(v)) {
            size_t i;
            json_t *part;
            json_array_foreach(v, i, part)
                add_item(d, a, part, 0, where);
        } else {
            add_item(d, a, v, 0, where);
        }
    }
}

/* ["Name", {attributes}?, content...] (JsonML). */
static eg_node *build_element(desc *d, json_t *j, const char *where)
{
    if (!json_is_array(j) || !json_is_string(json_array_get(j, 0))) {
        fail(d, where, "an element is [\"Name\", {attributes}?, content...]");
        return NULL;
    }
    eg_node *e = eg_elem(d->w, json_string_value(json_array_get(j, 0)));
    size_t i = 1;
    json_t *second = json_array_get(j, 1);
    if (second && json_is_object(second) && !is_special(second)) {
        add_attributes(d, e, second, where);
        i = 2;
    }
    for (; i < json_array_size(j) && !d->failed; i++)
        add_item(d, e, json_array_get(j, i), 1, where);
    return e;
}

/* ------------------------------------------------------------ values */

static int parse_hex(const char *s, uint8_t *out, size_t *len)
{
    size_t n = 0;
    while (*s) {
        if (*s == ' ' || *s == ':' || *s == '-') {
            s++;
            continue;
        }
        unsigned v;
        if (sscanf(s, "%2x", &v) != 1 || !s[1])
            return -1;
        out[n++] = (uint8_t)v;
        s += 2;
    }
    *len = n;
    return 0;
}

static int json_to_i64(json_t *v, int64_t *out)
{
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return 0;
    }
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
        return 0;
    }
    const char *s = json_string_value(v);
    if (!s || !*s)
        return -1;
    char *end;
    errno = 0;
    *out = s[0] == '-' ? strtoll(s, &end, 0) : (int64_t)strtoull(s, &end, 0);
    return *end || errno ? -1 : 0;
}

static eg_value make_value(desc *d, json_t *j, uint8_t hint, const char *where);

static eg_value scalar_array(desc *d, uint8_t type, json_t *v, const char *where)
{
    uint8_t item = type & 0x7F;
    size_t n = json_array_size(v);
    if (!json_is_array(v)) {
        fail(d, where, "an array type needs a JSON array value");
        return eg_val_null();
    }
    if (item == EG_T_STRING) {
        const char **items = calloc(n + 1, sizeof *items);
        for (size_t i = 0; items && i < n; i++)
            items[i] = json_string_value(json_array_get(v, i)) ? json_string_value(json_array_get(v, i)) : "";
        eg_value r = items ? eg_val_string_array(d->w, items, n) : eg_val_null();
        free(items);
        return r;
    }
    int64_t *items = calloc(n + 1, sizeof *items);
    for (size_t i = 0; items && i < n; i++) {
        if (json_to_i64(json_array_get(v, i), &items[i]) != 0) {
            fail(d, where, "array item %zu is not an integer", i);
            break;
        }
    }
    eg_value r = items ? eg_val_int_array(d->w, item, items, n) : eg_val_null();
    free(items);
    return r;
}

static eg_value systime_value(desc *d, const char *s, const char *where)
{
    int y, mo, dd, h = 0, mi = 0, sec = 0, ms = 0;
    if (!s || sscanf(s, "%d-%d-%d%*1[T ]%d:%d:%d.%d", &y, &mo, &dd, &h, &mi, &sec, &ms) < 3) {
        fail(d, where, "systemtime wants \"YYYY-MM-DDTHH:MM:SS.mmmZ\"");
        return eg_val_null();
    }
    return eg_val_systime(d->w, y, mo, dd, h, mi, sec, ms);
}

/* A JSON scalar (or array) as a value of the given type. */
static eg_value typed_value(desc *d, uint8_t type, json_t *v, const char *where)
{
    const char *s = json_string_value(v);
    int64_t i;
    if (type & EG_T_ARRAY)
        return scalar_array(d, type, v, where);
    switch (type) {
    case EG_T_NULL:
        return eg_val_null();
    case EG_T_STRING:
    case EG_T_ANSI: {
        char num[32];
        if (!s && json_is_integer(v)) {
            snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
            s = num;
        }
        if (!s)
            break;
        return type == EG_T_STRING ? eg_val_string(d->w, s) : eg_val_ansi(d->w, s);
    }
    case EG_T_REAL32:
    case EG_T_REAL64: {
        double x = json_is_number(v) ? json_number_value(v) : s ? strtod(s, NULL) : 0;
        if (!json_is_number(v) && !s)
            break;
        return type == EG_T_REAL32 ? eg_val_real32(d->w, (float)x) : eg_val_real64(d->w, x);
    }
    case EG_T_BINARY: {
        uint8_t buf[4096];
        size_t n;
        if (!s || strlen(s) > 2 * sizeof buf || parse_hex(s, buf, &n) != 0)
            break;
        return eg_val_binary(d->w, buf, n);
    }
    case EG_T_GUID:
        if (!s)
            break;
        return eg_val_guid(d->w, s);
    case EG_T_SID:
        if (!s)
            break;
        return eg_val_sid(d->w, s);
    case EG_T_SYSTIME:
        return systime_value(d, s, where);
    case EG_T_FILETIME: {
        uint64_t ft;
        if (s && eg_parse_time(s, &ft) == 0)
            return eg_val_filetime(d->w, ft);
        if (json_to_i64(v, &i) == 0)
            return eg_val_filetime(d->w, (uint64_t)i);
        break;
    }
    case EG_T_BINXML:
        fail(d, where, "binxml values are {\"type\": \"binxml\", \"template\": ..., \"values\": [...]}");
        return eg_val_null();
    default:
        if (json_to_i64(v, &i) == 0)
            return eg_val_int(d->w, type, i);
        break;
    }
    fail(d, where, "value does not suit type 0x%02x", type);
    return eg_val_null();
}

static eg_value nested_value(desc *d, json_t *j, const char *where)
{
    eg_fragment f = {0};
    json_t *t = json_object_get(j, "template"), *tree = json_object_get(j, "tree");
    f.bare = json_is_true(json_object_get(j, "bare"));
    eg_value *vals = NULL;
    if (json_is_string(t)) {
        named_template *nt = find_template(d, json_string_value(t), where);
        if (!nt)
            return eg_val_null();
        json_t *values = json_object_get(j, "values");
        size_t n = json_array_size(values);
        vals = calloc(n + 1, sizeof *vals);
        if (!vals)
            return eg_val_null();
        for (size_t i = 0; i < n; i++)
            vals[i] = make_value(d, json_array_get(values, i), i < nt->nhints ? nt->hints[i] : 0xFF,
                                 where);
        f.tmpl = nt->tmpl;
        f.values = vals;
        f.nvalues = n;
    } else if (tree) {
        f.root = build_element(d, tree, where);
    } else {
        fail(d, where, "a binxml value needs \"template\" or \"tree\"");
        return eg_val_null();
    }
    eg_value r = eg_val_binxml(d->w, &f);
    free(vals);
    return r;
}

/* Short forms take their type from the template's substitution (hint). */
static eg_value make_value(desc *d, json_t *j, uint8_t hint, const char *where)
{
    if (json_is_null(j))
        return eg_val_null();
    if (json_is_object(j)) {
        uint8_t type = EG_T_STRING;
        json_t *t = json_object_get(j, "type");
        if (json_is_string(t) && strcmp(json_string_value(t), "deep_nesting") == 0)
            return eg_val_deep_nesting(d->w, (unsigned)json_integer_value(json_object_get(j, "depth")));
        if (t && parse_type(d, t, where, &type) != 0)
            return eg_val_null();
        json_t *hex = json_object_get(j, "hex");
        if (json_is_string(hex)) {
            uint8_t buf[4096];
            size_t n;
            if (strlen(json_string_value(hex)) > 2 * sizeof buf ||
                parse_hex(json_string_value(hex), buf, &n) != 0) {
                fail(d, where, "bad \"hex\" bytes");
                return eg_val_null();
            }
            return eg_val_raw(d->w, type, buf, n);
        }
        if (type == EG_T_BINXML)
            return nested_value(d, j, where);
        return typed_value(d, type, json_object_get(j, "value"), where);
    }
    if (hint == 0xFF || hint == EG_T_NULL || hint == EG_T_BINXML) {
        /* No usable hint: pick the natural type of the JSON value. */
        if (json_is_boolean(j))
            hint = EG_T_BOOL;
        else if (json_is_integer(j))
            hint = json_integer_value(j) >= 0 && json_integer_value(j) <= 0xFFFFFFFFLL
                       ? EG_T_UINT32 : EG_T_INT64;
        else if (json_is_real(j))
            hint = EG_T_REAL64;
        else if (json_is_array(j))
            hint = EG_T_ARRAY | EG_T_STRING;
        else
            hint = EG_T_STRING;
    }
    return typed_value(d, hint, j, where);
}

/* ---------------------------------------------------------- templates */

static named_template *find_template(desc *d, const char *name, const char *where)
{
    for (size_t i = 0; i < d->nnamed; i++) {
        if (strcmp(d->named[i]->name, name) == 0) {
            if (d->named[i]->building) {
                fail(d, where, "template \"%s\" refers to itself", name);
                return NULL;
            }
            return d->named[i];
        }
    }
    json_t *def = json_object_get(d->templates, name);
    if (!def) {
        fail(d, where, "no template named \"%s\"", name);
        return NULL;
    }
    named_template **grown = realloc(d->named, (d->nnamed + 1) * sizeof *grown);
    named_template *nt = calloc(1, sizeof *nt);
    if (grown)
        d->named = grown;
    if (!grown || !nt) {
        free(nt);
        fail(d, where, "out of memory");
        return NULL;
    }
    d->named[d->nnamed++] = nt;
    nt->name = name;
    nt->building = 1;
    char tw[256];
    snprintf(tw, sizeof tw, "templates.%s", name);
    named_template *saved = d->current;
    d->current = nt;
    eg_node *root = build_element(d, json_object_get(def, "tree"), tw);
    d->current = saved;
    nt->building = 0;
    json_t *guid = json_object_get(def, "guid");
    nt->tmpl = eg_template_new(d->w, json_string_value(guid), root);
    return d->failed ? NULL : nt;
}

/* ------------------------------------------------------------ records */

static const struct {
    const char *name;
    unsigned bit;
} record_damage_names[] = {
    {"size_mismatch", EG_REC_SIZE_MISMATCH},
    {"size_past_chunk", EG_REC_SIZE_PAST_CHUNK},
    {"bad_name_offset", EG_REC_BAD_NAME_OFFSET},
    {"bad_template_offset", EG_REC_BAD_TEMPLATE_OFFSET},
    {"slack", EG_REC_SLACK},
    {"bad_signature", EG_REC_BAD_SIGNATURE},
};

static int record_damage(desc *d, json_t *j, unsigned *bits, const char *where)
{
    json_t *list = json_is_string(j) ? json_pack("[O]", j) : json_incref(j);
    size_t i;
    json_t *item;
    json_array_foreach(list, i, item) {
        const char *s = json_string_value(item);
        size_t k, n = sizeof record_damage_names / sizeof record_damage_names[0];
        for (k = 0; s && k < n; k++)
            if (strcmp(s, record_damage_names[k].name) == 0)
                break;
        if (!s || k == n) {
            fail(d, where, "unknown record damage \"%s\"", s ? s : "?");
            json_decref(list);
            return -1;
        }
        *bits |= record_damage_names[k].bit;
    }
    json_decref(list);
    return 0;
}

static int add_record(desc *d, json_t *r, uint64_t *next_id, const char *where)
{
    eg_record_opts opts = {0};
    json_t *v;
    uint64_t id = *next_id;
    if ((v = json_object_get(r, "id")))
        id = (uint64_t)json_integer_value(v);
    uint64_t base, ft;
    eg_parse_time(DEFAULT_BASE_TIME, &base);
    ft = base + id * 10000000ULL;
    v = json_object_get(r, "time");
    if (json_is_string(v) && eg_parse_time(json_string_value(v), &ft) != 0) {
        fail(d, where, "bad \"time\" (want 2024-05-01T10:00:00.1234567Z)");
        return -1;
    } else if (json_is_integer(v)) {
        ft = (uint64_t)json_integer_value(v);
    }
    if ((v = json_object_get(r, "damage")) && record_damage(d, v, &opts.damage, where) != 0)
        return -1;
    if (json_is_true(json_object_get(r, "slack")))
        opts.damage |= EG_REC_SLACK;
    opts.new_chunk = json_is_true(json_object_get(r, "new_chunk"));

    int rc;
    json_t *t = json_object_get(r, "template"), *tree = json_object_get(r, "tree");
    if (json_is_true(json_object_get(r, "template_loop"))) {
        rc = eg_add_record_template_loop(d->w, id, ft, &opts);
    } else if (json_is_string(t)) {
        named_template *nt = find_template(d, json_string_value(t), where);
        if (!nt)
            return -1;
        json_t *values = json_object_get(r, "values");
        size_t n = json_array_size(values);
        eg_value *vals = calloc(n + 1, sizeof *vals);
        if (!vals)
            return -1;
        for (size_t i = 0; i < n; i++) {
            char vw[128];
            snprintf(vw, sizeof vw, "%s.values[%zu]", where, i);
            vals[i] = make_value(d, json_array_get(values, i),
                                 i < nt->nhints ? nt->hints[i] : 0xFF, vw);
        }
        rc = d->failed ? PS_ERR_ARG : eg_add_record(d->w, id, ft, nt->tmpl, vals, n, &opts);
        free(vals);
    } else if (tree) {
        eg_node *root = build_element(d, tree, where);
        rc = d->failed ? PS_ERR_ARG : eg_add_record_tree(d->w, id, ft, root, &opts);
    } else {
        fail(d, where, "a record needs \"template\", \"tree\" or \"template_loop\"");
        return -1;
    }
    if (rc != PS_OK) {
        fail(d, where, "%s", eg_writer_failed(d->w) ? eg_writer_error(d->w)
                                                     : "record does not fit in a 64 KiB chunk");
        return -1;
    }
    *next_id = id + 1;
    return 0;
}

/* ------------------------------------------------------- file damage */

static int file_damage(desc *d, json_t *j, eg_damage *dmg)
{
    static const struct {
        const char *name;
        unsigned bit;
        int per_chunk;
    } names[] = {
        {"header_crc", EG_DMG_HEADER_CRC, 0},     {"dirty", EG_DMG_DIRTY, 0},
        {"chunk_count", EG_DMG_CHUNK_COUNT, 0},   {"first_gt_last", EG_DMG_FIRST_GT_LAST, 0},
        {"truncate_at", EG_DMG_TRUNCATE, 0},      {"zero_chunk", EG_DMG_ZERO_CHUNK, 1},
        {"bad_chunk_magic", EG_DMG_CHUNK_MAGIC, 1}, {"chunk_header_crc", EG_DMG_CHUNK_HEADER_CRC, 1},
        {"records_crc", EG_DMG_RECORDS_CRC, 1},   {"free_space_beyond", EG_DMG_FREE_SPACE, 1},
    };
    const char *key;
    json_t *v;
    int chunk = -1;
    json_object_foreach(j, key, v) {
        size_t k, n = sizeof names / sizeof names[0];
        for (k = 0; k < n; k++)
            if (strcmp(key, names[k].name) == 0)
                break;
        if (k == n) {
            fail(d, "damage", "unknown damage \"%s\"", key);
            return -1;
        }
        if (json_is_false(v) || json_is_null(v))
            continue;
        dmg->flags |= names[k].bit;
        long long num = json_integer_value(v);
        if (names[k].per_chunk) {
            if (chunk >= 0 && chunk != num) {
                fail(d, "damage", "chunk damage must name one chunk index");
                return -1;
            }
            chunk = (int)num;
            dmg->chunk_index = (unsigned)num;
        } else if (names[k].bit == EG_DMG_CHUNK_COUNT) {
            dmg->chunk_count_value = (uint16_t)num;
        } else if (names[k].bit == EG_DMG_TRUNCATE) {
            dmg->truncate_at = (uint64_t)num;
        }
    }
    return 0;
}

int describe_build(eg_writer *w, json_t *root, eg_damage *damage, char *err, size_t errlen)
{
    desc d = {0};
    d.w = w;
    d.err = err;
    d.errlen = errlen;
    d.templates = json_object_get(root, "templates");
    memset(damage, 0, sizeof *damage);
    json_t *records = json_object_get(root, "records");
    if (!json_is_array(records))
        fail(&d, "description", "\"records\" must be an array");
    uint64_t next_id = 1;
    size_t i;
    json_t *r;
    json_array_foreach(records, i, r) {
        char where[64];
        snprintf(where, sizeof where, "records[%zu]", i);
        if (d.failed || add_record(&d, r, &next_id, where) != 0)
            break;
    }
    json_t *dmg = json_object_get(root, "damage");
    if (!d.failed && dmg)
        file_damage(&d, dmg, damage);
    for (size_t k = 0; k < d.nnamed; k++) {
        free(d.named[k]->hints);
        free(d.named[k]);
    }
    free(d.named);
    return d.failed ? -1 : 0;
}
