/* Sigma detection sections -> sg_detection (selections of field matchers). */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sigma/pattern.h"
#include "sigma/sigma_internal.h"

#define SG_MAX_VALUES_PER_FIELD 65536
#define SG_MAX_REGEX_LEN 8192
#define SG_MAX_REGEX_NEEDS 32

int sg_compile_fail(sg_compile_ctx *cc, ps_sigma_skip reason, uint32_t line, const char *fmt, ...)
{
    cc->reason = reason;
    cc->line = line;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cc->msg, sizeof cc->msg, fmt, ap);
    va_end(ap);
    return -1;
}

/* ---- modifiers ------------------------------------------------------------------ */

enum {
    M_CONTAINS = 1u << 0, M_STARTSWITH = 1u << 1, M_ENDSWITH = 1u << 2, M_ALL = 1u << 3,
    M_BASE64 = 1u << 4, M_BASE64OFFSET = 1u << 5, M_UTF16LE = 1u << 6, M_UTF16BE = 1u << 7,
    M_UTF16 = 1u << 8, M_WINDASH = 1u << 9, M_RE = 1u << 10, M_RE_I = 1u << 11,
    M_RE_M = 1u << 12, M_RE_S = 1u << 13, M_CIDR = 1u << 14, M_LT = 1u << 15,
    M_LTE = 1u << 16, M_GT = 1u << 17, M_GTE = 1u << 18, M_EXISTS = 1u << 19,
    M_EXPAND = 1u << 20, M_FIELDREF = 1u << 21, M_CASED = 1u << 22
};
#define M_POSITION (M_CONTAINS | M_STARTSWITH | M_ENDSWITH)
#define M_ENCODING (M_UTF16LE | M_UTF16BE | M_UTF16)
#define M_NUMERIC (M_LT | M_LTE | M_GT | M_GTE)
#define M_RE_FLAGS (M_RE_I | M_RE_M | M_RE_S)

static const struct { const char *name; uint32_t bit; } modifier_names[] = {
    {"contains", M_CONTAINS}, {"startswith", M_STARTSWITH}, {"endswith", M_ENDSWITH},
    {"all", M_ALL}, {"base64", M_BASE64}, {"base64offset", M_BASE64OFFSET},
    {"utf16le", M_UTF16LE}, {"wide", M_UTF16LE}, {"utf16be", M_UTF16BE}, {"utf16", M_UTF16},
    {"windash", M_WINDASH}, {"re", M_RE}, {"i", M_RE_I}, {"ignorecase", M_RE_I},
    {"m", M_RE_M}, {"multiline", M_RE_M}, {"s", M_RE_S}, {"dotall", M_RE_S},
    {"cidr", M_CIDR}, {"lt", M_LT}, {"lte", M_LTE}, {"gt", M_GT}, {"gte", M_GTE},
    {"exists", M_EXISTS}, {"expand", M_EXPAND}, {"fieldref", M_FIELDREF}, {"cased", M_CASED},
};

static int one_bit(uint32_t v) { return v && !(v & (v - 1)); }

/* Reject combinations the specification gives no meaning to. */
static const char *check_modifiers(uint32_t m)
{
    if ((m & M_POSITION) && !one_bit(m & M_POSITION))
        return "more than one of contains/startswith/endswith";
    if ((m & M_RE_FLAGS) && !(m & M_RE))
        return "regex flag without re";
    if ((m & M_RE) && (m & ~(M_RE | M_RE_FLAGS | M_ALL)))
        return "re combined with other modifiers";
    if ((m & M_NUMERIC) && (!one_bit(m & M_NUMERIC) || (m & ~(M_NUMERIC | M_ALL))))
        return "bad numeric comparison";
    if ((m & M_CIDR) && (m & ~(M_CIDR | M_ALL)))
        return "cidr combined with other modifiers";
    if ((m & M_EXISTS) && m != M_EXISTS)
        return "exists combined with other modifiers";
    if ((m & M_BASE64) && (m & M_BASE64OFFSET))
        return "base64 and base64offset together";
    if ((m & M_ENCODING) && !one_bit(m & M_ENCODING))
        return "more than one utf16 encoding";
    if ((m & M_ENCODING) && !(m & (M_BASE64 | M_BASE64OFFSET)))
        return "utf16 encoding without base64";
    if ((m & M_FIELDREF) && (m & ~(M_FIELDREF | M_POSITION | M_ALL | M_CASED)))
        return "fieldref combined with other modifiers";
    return NULL;
}

static int parse_modifiers(sg_compile_ctx *cc, const char *spec, uint32_t line, uint32_t *out)
{
    uint32_t m = 0;
    while (*spec) {
        const char *bar = strchr(spec, '|');
        size_t len = bar ? (size_t)(bar - spec) : strlen(spec);
        size_t k = 0, count = sizeof modifier_names / sizeof modifier_names[0];
        while (k < count && !(strlen(modifier_names[k].name) == len &&
                              strncmp(modifier_names[k].name, spec, len) == 0))
            k++;
        if (k == count)
            return sg_compile_fail(cc, PS_SIGMA_SKIP_MODIFIER, line, "unknown modifier '%.*s'",
                                   (int)len, spec);
        m |= modifier_names[k].bit;
        spec += len + (bar ? 1 : 0);
    }
    const char *bad = check_modifiers(m);
    if (bad)
        return sg_compile_fail(cc, PS_SIGMA_SKIP_MODIFIER, line, "%s", bad);
    *out = m;
    return 0;
}

/* ---- field names ------------------------------------------------------------------ */

void sg_event_field_key(const char *path, size_t path_len, const char **key, size_t *key_len)
{
    static const char data[] = "Event.EventData.", user[] = "Event.UserData.";
    int nested = (path_len > sizeof data - 1 && memcmp(path, data, sizeof data - 1) == 0) ||
                 (path_len > sizeof user - 1 && memcmp(path, user, sizeof user - 1) == 0);
    size_t end = path_len;
    /* "<name>.#text" is the text of element <name>: an element with
     * attributes keeps its text there, e.g. <EventID Qualifiers="16384">7045
     * </EventID> in System logs is Event.System.EventID.#text. */
    if (end > 6 && memcmp(path + end - 6, ".#text", 6) == 0)
        end -= 6;
    if (!nested) {
        *key = path;
        *key_len = end;
        return;
    }
    size_t start = end;
    while (start > 0 && path[start - 1] != '.')
        start--;
    *key = path + start;
    *key_len = end - start;
}

const char *sg_field_mapped_name(const sg_logsources *ls, const sg_variant_def *v,
                                 const char *name)
{
    for (uint32_t i = 0; v && i < v->nrenames; i++)
        if (strcmp(v->renames[i].from, name) == 0)
            return v->renames[i].to;
    for (uint32_t i = 0; i < ls->naliases; i++)
        if (strcmp(ls->aliases[i].key, name) == 0)
            return ls->aliases[i].value;
    return name;
}

static const char *rename_field(const sg_compile_ctx *cc, const char *name)
{
    return sg_field_mapped_name(cc->ls, cc->variant, name);
}

static int32_t field_symbol(sg_compile_ctx *cc, const char *name, size_t len, uint32_t line)
{
    char buf[256];
    if (len == 0 || len >= sizeof buf)
        return sg_compile_fail(cc, PS_SIGMA_SKIP_STRUCTURE, line, "bad field name"), -1;
    memcpy(buf, name, len);
    buf[len] = 0;
    const char *mapped = rename_field(cc, buf);
    const char *key;
    size_t key_len;
    sg_event_field_key(mapped, strlen(mapped), &key, &key_len);
    int32_t sym = sg_sym_intern(cc->syms, key, key_len);
    if (sym < 0)
        sg_compile_fail(cc, PS_SIGMA_SKIP_LIMIT, line, "out of memory");
    return sym;
}

/* ---- values ------------------------------------------------------------------------- */

/* The values of one field item while they are being built. */
typedef struct value_list {
    sg_value *v;
    uint32_t n, cap;
} value_list;

static sg_value *push_value(sg_compile_ctx *cc, value_list *vl, uint32_t line)
{
    if (vl->n == vl->cap) {
        if (vl->cap >= SG_MAX_VALUES_PER_FIELD) {
            sg_compile_fail(cc, PS_SIGMA_SKIP_LIMIT, line, "too many values for one field");
            return NULL;
        }
        uint32_t cap = vl->cap ? vl->cap * 2 : 8;
        sg_value *nv = realloc(vl->v, cap * sizeof *nv);
        if (!nv) {
            sg_compile_fail(cc, PS_SIGMA_SKIP_LIMIT, line, "out of memory");
            return NULL;
        }
        vl->v = nv;
        vl->cap = cap;
    }
    sg_value *v = &vl->v[vl->n++];
    memset(v, 0, sizeof *v);
    return v;
}

static int parse_int(const char *s, int64_t *out)
{
    if (!*s)
        return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 0);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

/* How common a byte is in the values of event logs (paths, command lines,
 * names; lower-cased), higher is commoner: a guess from English letter
 * frequencies, Windows paths (every ".exe" has an x) and command-line
 * punctuation; unlisted bytes (0) are the rarest. */
static const uint8_t byte_commonness[256] = {
    [' '] = 43, ['e'] = 42, ['t'] = 41, ['a'] = 40, ['o'] = 39, ['i'] = 38, ['n'] = 37,
    ['s'] = 36, ['r'] = 35, ['h'] = 34, ['l'] = 33, ['c'] = 32, ['d'] = 31, ['x'] = 30,
    ['\\'] = 29, ['.'] = 28, ['m'] = 27, ['u'] = 26, ['p'] = 25, ['w'] = 24, ['f'] = 23,
    ['g'] = 22, ['y'] = 21, ['b'] = 20, [':'] = 19, ['-'] = 18, ['/'] = 17, ['_'] = 16,
    ['0'] = 15, ['1'] = 14, ['2'] = 13, ['3'] = 12, ['4'] = 11, ['5'] = 10, ['6'] = 9,
    ['7'] = 8, ['8'] = 7, ['9'] = 6, ['v'] = 5, ['k'] = 4, ['"'] = 3, ['='] = 2, [','] = 1
};

/* The offset of the rarest byte of lit (the first of the rarest). */
static uint32_t rarest_byte(const char *lit, uint32_t n)
{
    uint32_t best = 0;
    for (uint32_t i = 1; i < n && i < 256; i++)
        if (byte_commonness[(unsigned char)lit[i]] < byte_commonness[(unsigned char)lit[best]])
            best = i;
    return best;
}

/* Store a finished pattern as the value's literal, choosing the cheapest shape. */
static int finish_pattern(sg_compile_ctx *cc, sg_value *v, sg_pat *p, int cased, uint32_t line)
{
    if (sg_pat_failed(p))
        return sg_compile_fail(cc, PS_SIGMA_SKIP_LIMIT, line, "out of memory");
    const char *b = p->bytes.data ? p->bytes.data : "";
    const uint8_t *k = (const uint8_t *)(p->kinds.data ? p->kinds.data : "");
    size_t n = p->bytes.len;
    size_t stars = 0, ones = 0;
    for (size_t i = 0; i < n; i++) {
        stars += k[i] == GL_STAR;
        ones += k[i] == GL_ONE;
    }
    int lead = n && k[0] == GL_STAR, trail = n > 1 && k[n - 1] == GL_STAR;
    size_t from = (size_t)lead, to = n - (size_t)trail;
    v->kind = SV_STRING;
    v->cased = (uint8_t)cased;
    if (n == 1 && stars == 1)
        v->shape = SH_ANY;
    else if (ones == 0 && stars == (size_t)lead + (size_t)trail)
        v->shape = lead && trail ? SH_CONTAINS : lead ? SH_SUFFIX : trail ? SH_PREFIX : SH_EXACT;
    else {
        v->shape = SH_GLOB;
        from = 0;
        to = n;
    }
    char *lit = ps_arena_strndup(cc->arena, b + from, to - from);
    if (!lit)
        return sg_compile_fail(cc, PS_SIGMA_SKIP_LIMIT, line, "out of memory");
    if (!cased)
        sg_lower(lit, to - from);
    v->lit = lit;
    v->lit_len = (uint32_t)(to - from);
    if (v->shape == SH_CONTAINS)
        v->rare = rarest_byte(lit, v->lit_len);
    if (v->shape == SH_GLOB) {
        uint8_t *g = ps_arena_alloc(cc->arena, n + 1);
        if (!g)
            return sg_compile_fail(cc, PS_SIGMA_SKIP_LIMIT, line, "out of memory");
        memcpy(g, k, n);
        v->glob = g;
    }
    return 0;
}

static void add_position(sg_pat *p, uint32_t m, int front)
{
    if (front && (m & (M_CONTAINS | M_ENDSWITH)))
        sg_pat_add(p, "*", 1, GL_STAR);
    if (!front && (m & (M_CONTAINS | M_STARTSWITH)))
        sg_pat_add(p, "*", 1, GL_STAR);
}

void sg_value_scratch_init(sg_value_scratch *sc)
{
    ps_buf_init(&sc->raw);
    ps_buf_init(&sc->enc);
    sg_pat_init(&sc->pat);
}

void sg_value_scratch_free(sg_value_scratch *sc)
{
    ps_buf_free(&sc->raw);
    ps_buf_free(&sc->enc);
    sg_pat_free(&sc->pat);
}

/* One plain string (after expand and windash) -> one or more values. */
static int add_string_value(sg_compile_ctx *cc, value_list *vl, const char *s, size_t n,
                            uint32_t m, uint32_t group, uint32_t line)
{
    int encoded = (m & (M_BASE64 | M_BASE64OFFSET)) != 0;
    ps_buf *raw = &cc->scratch->raw, *enc = &cc->scratch->enc;
    sg_pat *p = &cc->scratch->pat;
    ps_buf_reset(raw);
    if (m & M_ENCODING)
        sg_utf16(raw, s, n, (m & M_UTF16BE) != 0, (m & M_UTF16) != 0);
    else
        sg_buf_add(raw, s, n);
    int rc = 0;
    unsigned variants = (m & M_BASE64OFFSET) ? 3 : 1;
    for (unsigned off = 0; off < variants && rc == 0; off++) {
        sg_pat_reset(p);
        add_position(p, m, 1);
        if (encoded) {
            ps_buf_reset(enc);
            if (m & M_BASE64OFFSET)
                sg_base64_offset(enc, (const unsigned char *)raw->data, raw->len, off);
            else
                sg_base64(enc, (const unsigned char *)raw->data, raw->len, 1);
            sg_pat_literal(p, enc->data ? enc->data : "", enc->len);
            if (enc->failed)
                p->bytes.failed = 1;
        } else {
            sg_pat_parse_wildcards(p, raw->data ? raw->data : "", raw->len);
        }
        if (raw->failed)
            p->bytes.failed = 1;
        add_position(p, m, 0);
        sg_value *v = push_value(cc, vl, line);
        if (!v)
            rc = -1;
        else {
            v->group = group;
            rc = finish_pattern(cc, v, p, encoded || (m & M_CASED), line);
        }
    }
    return rc;
}

static int add_windash_values(sg_compile_ctx *cc, value_list *vl, const char *s, size_t n,
                              uint32_t m, uint32_t group, uint32_t line)
{
    if (!(m & M_WINDASH))
        return add_string_value(cc, vl, s, n, m, group, line);
    size_t count = sg_windash_variants(s, n);
    for (size_t i = 0; i < count; i++) {
        ps_buf b;
        ps_buf_init(&b);
        sg_windash_variant(&b, s, n, i);
        int rc = b.failed ? sg_compile_fail(cc, PS_SIGMA_SKIP_LIMIT, line, "out of memory")
                          : add_string_value(cc, vl, b.data ? b.data : "", b.len, m, group, line);
        ps_buf_free(&b);
        if (rc)
            return rc;
    }
    return 0;
}

/* Placeholder %name% -> configured values, or `*` when none are given. */
static int add_expanded_values(sg_compile_ctx *cc, value_list *vl, const char *s, uint32_t m,
                               uint32_t group, uint32_t line)
{
    const char *open = (m & M_EXPAND) ? strchr(s, '%') : NULL;
    const char *close = open ? strchr(open + 1, '%') : NULL;
    if (!close)
        return add_windash_values(cc, vl, s, strlen(s), m, group, line);
    size_t name_len = (size_t)(close - open - 1);
    int found = 0;
    for (size_t i = 0; cc->opt && i < cc->opt->nplaceholders; i++) {
        const char *ph = cc->opt->placeholders[i];
        if (strncmp(ph, open + 1, name_len) != 0 || ph[name_len] != '=')
            continue;
        found = 1;
        ps_buf b;
        ps_buf_init(&b);
        sg_buf_add(&b, s, (size_t)(open - s));
        sg_buf_adds(&b, ph + name_len + 1);
        sg_buf_adds(&b, close + 1);
        int rc = b.failed ? -1 : add_expanded_values(cc, vl, ps_buf_cstr(&b), m, group, line);
        ps_buf_free(&b);
        if (rc)
            return rc;
    }
    if (found)
        return 0;
    ps_buf b;
    ps_buf_init(&b);
    sg_buf_add(&b, s, (size_t)(open - s));
    ps_buf_addc(&b, '*');
    sg_buf_adds(&b, close + 1);
    int rc = b.failed ? -1 : add_expanded_values(cc, vl, ps_buf_cstr(&b), m, group, line);
    ps_buf_free(&b);
    return rc;
}

static int add_regex_value(sg_compile_ctx *cc, sg_value *v, const yt_node *node, uint32_t m)
{
    if (node->len > SG_MAX_REGEX_LEN)
        return sg_compile_fail(cc, PS_SIGMA_SKIP_LIMIT, node->line, "regex too long");
    uint32_t flags = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF;
    if (m & M_RE_I)
        flags |= PCRE2_CASELESS;
    if (m & M_RE_M)
        flags |= PCRE2_MULTILINE;
    if (m & M_RE_S)
        flags |= PCRE2_DOTALL;
    int err;
    PCRE2_SIZE off;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)node->text, node->len, flags, &err, &off, NULL);
    if (!re) {
        char msg[160];
        pcre2_get_error_message(err, (PCRE2_UCHAR *)msg, sizeof msg);
        return sg_compile_fail(cc, PS_SIGMA_SKIP_VALUE, node->line, "regex: %s at offset %zu",
                               msg, (size_t)off);
    }
    /* falls back to the interpreter if JIT fails */
    v->jit = pcre2_jit_compile(re, PCRE2_JIT_COMPLETE) == 0;
    if (*cc->nregexes == *cc->regex_cap) {
        uint32_t cap = *cc->regex_cap ? *cc->regex_cap * 2 : 64;
        pcre2_code **nr = realloc(*cc->regexes, cap * sizeof *nr);
        if (!nr) {
            pcre2_code_free(re);
            return sg_compile_fail(cc, PS_SIGMA_SKIP_LIMIT, node->line, "out of memory");
        }
        *cc->regexes = nr;
        *cc->regex_cap = cap;
    }
    (*cc->regexes)[(*cc->nregexes)++] = re;
    v->kind = SV_REGEX;
    v->re = re;
    /* c.*c.*...c is "c so many times within a line": counted, when '.'
     * means what the counting assumes (any character but LF). */
    uint8_t c;
    uint32_t nl = 0;
    if (sg_regex_repeat(node->text, node->len, &c, &v->repeat_count) &&
        pcre2_config(PCRE2_CONFIG_NEWLINE, &nl) >= 0 && nl == PCRE2_NEWLINE_LF) {
        v->repeat_char = c;
        v->repeat_caseless = (m & M_RE_I) != 0;
        v->repeat_dotall = (m & M_RE_S) != 0;
    }
    sg_need needs[SG_MAX_REGEX_NEEDS];
    int caseless;
    int n = sg_regex_needs(node->text, node->len, (m & M_RE_I) != 0, cc->arena, needs,
                           SG_MAX_REGEX_NEEDS, &caseless);
    if (n < 0)
        return sg_compile_fail(cc, PS_SIGMA_SKIP_LIMIT, node->line, "out of memory");
    if (n > 0) {
        sg_need *kept = ps_arena_alloc(cc->arena, (size_t)n * sizeof *kept);
        if (!kept)
            return sg_compile_fail(cc, PS_SIGMA_SKIP_LIMIT, node->line, "out of memory");
        memcpy(kept, needs, (size_t)n * sizeof *kept);
        v->needs = kept;
        v->nneeds = (uint32_t)n;
        v->needs_caseless = (uint8_t)caseless;
    }
    return 0;
}

static int is_number(const char *s, double *out)
{
    if (!*s)
        return 0;
    char *end;
    double d = strtod(s, &end);
    if (*end || isnan(d))
        return 0;
    *out = d;
    return 1;
}

/* A scalar that needs no string processing: null, exists, regex, cidr, numbers, fieldref. */
static int add_special_value(sg_compile_ctx *cc, value_list *vl, const yt_node *node, uint32_t m,
                             uint32_t group)
{
    sg_value *v = push_value(cc, vl, node->line);
    if (!v)
        return -1;
    v->group = group;
    if (m & M_EXISTS) {
        if (strcmp(node->text, "true") && strcmp(node->text, "false"))
            return sg_compile_fail(cc, PS_SIGMA_SKIP_VALUE, node->line, "exists needs true or false");
        v->kind = SV_EXISTS;
        v->op = node->text[0] == 't';
        return 0;
    }
    if (m & M_RE)
        return add_regex_value(cc, v, node, m);
    if (m & M_CIDR) {
        int v6;
        if (sg_parse_cidr(node->text, v->cidr_addr, &v6, &v->cidr_bits) != 0)
            return sg_compile_fail(cc, PS_SIGMA_SKIP_VALUE, node->line, "bad network '%s'", node->text);
        v->kind = SV_CIDR;
        v->cidr_v6 = (uint8_t)v6;
        return 0;
    }
    if (m & M_NUMERIC) {
        if (!is_number(node->text, &v->number))
            return sg_compile_fail(cc, PS_SIGMA_SKIP_VALUE, node->line, "'%s' is not a number", node->text);
        v->kind = SV_NUMBER_CMP;
        v->op = (m & M_LT) ? CMP_LT : (m & M_LTE) ? CMP_LTE : (m & M_GT) ? CMP_GT : CMP_GTE;
        return 0;
    }
    /* fieldref */
    v->kind = SV_FIELDREF;
    v->cased = (m & M_CASED) != 0;
    v->shape = (m & M_CONTAINS) ? SH_CONTAINS : (m & M_STARTSWITH) ? SH_PREFIX
             : (m & M_ENDSWITH) ? SH_SUFFIX : SH_EXACT;
    v->ref_sym = field_symbol(cc, node->text, node->len, node->line);
    return v->ref_sym < 0 ? -1 : 0;
}

/* The events of the variant write this field's value in their own words
 * (the logsource table's `values`): the rule's plain value in theirs. */
static const yt_node *mapped_value(const sg_compile_ctx *cc, const char *field, size_t flen,
                                   const yt_node *node, uint32_t m, yt_node *scratch)
{
    const sg_variant_def *v = cc->variant;
    if (!v || !field || node->type != YT_SCALAR || (m & ~M_ALL))
        return node;
    for (uint32_t i = 0; i < v->nvalue_maps; i++) {
        const sg_value_map *vm = &v->value_maps[i];
        if (strlen(vm->field) != flen || strncmp(vm->field, field, flen) != 0)
            continue;
        for (uint32_t j = 0; j < vm->npairs; j++)
            if (!strcasecmp(vm->pairs[j].key, node->text)) {
                *scratch = *node;
                scratch->text = vm->pairs[j].value;
                scratch->len = (uint32_t)strlen(scratch->text);
                scratch->plain = 0; /* a string, as the event writes it */
                return scratch;
            }
    }
    return node;
}

static int add_value(sg_compile_ctx *cc, value_list *vl, const yt_node *node, uint32_t m,
                     uint32_t group)
{
    if (node->type != YT_SCALAR)
        return sg_compile_fail(cc, PS_SIGMA_SKIP_STRUCTURE, node->line, "value is not a scalar");
    if (yt_is_null(node) && !(m & ~M_ALL)) {
        sg_value *v = push_value(cc, vl, node->line);
        if (!v)
            return -1;
        v->kind = SV_NULL;
        v->group = group;
        return 0;
    }
    if (m & (M_EXISTS | M_RE | M_CIDR | M_NUMERIC | M_FIELDREF))
        return add_special_value(cc, vl, node, m, group);
    uint32_t first = vl->n;
    if (add_expanded_values(cc, vl, node->text, m, group, node->line) != 0)
        return -1;
    int64_t iv;
    if (node->plain && !(m & ~M_ALL) && parse_int(node->text, &iv) == 0)
        for (uint32_t i = first; i < vl->n; i++) {
            vl->v[i].is_int = vl->v[i].shape == SH_EXACT;
            vl->v[i].int_value = iv;
        }
    return 0;
}

/* `key: value(s)` inside a selection map. The key is "field|mod|mod" or "|mod"
 * (keyword search with modifiers). */
static int compile_field(sg_compile_ctx *cc, const yt_node *key, const yt_node *val,
                         sg_field_match *out)
{
    const char *bar = strchr(key->text, '|');
    size_t name_len = bar ? (size_t)(bar - key->text) : key->len;
    uint32_t m = 0;
    if (bar && parse_modifiers(cc, bar + 1, key->line, &m) != 0)
        return -1;
    memset(out, 0, sizeof *out);
    out->sym = -1;
    if (name_len > 0 && (out->sym = field_symbol(cc, key->text, name_len, key->line)) < 0)
        return -1;
    if (name_len == 0 && !(m & M_POSITION))
        m |= M_CONTAINS; /* keywords match anywhere in a value */
    out->all = (m & M_ALL) != 0;
    value_list vl = {0};
    int rc = 0;
    yt_node mapped;
    const char *field = name_len ? key->text : NULL;
    if (val->type == YT_SEQ) {
        if (val->n == 0)
            rc = sg_compile_fail(cc, PS_SIGMA_SKIP_STRUCTURE, val->line, "empty value list");
        for (uint32_t i = 0; i < val->n && rc == 0; i++)
            rc = add_value(cc, &vl, mapped_value(cc, field, name_len, val->items[i], m, &mapped),
                           m, i);
        out->ngroups = val->n;
    } else {
        rc = add_value(cc, &vl, mapped_value(cc, field, name_len, val, m, &mapped), m, 0);
        out->ngroups = 1;
    }
    if (rc == 0 && vl.n) {
        out->values = ps_arena_alloc(cc->arena, vl.n * sizeof *vl.v);
        if (!out->values)
            rc = sg_compile_fail(cc, PS_SIGMA_SKIP_LIMIT, key->line, "out of memory");
        else
            memcpy(out->values, vl.v, vl.n * sizeof *vl.v);
        out->nvalues = vl.n;
    }
    free(vl.v);
    return rc;
}

static int compile_map(sg_compile_ctx *cc, const yt_node *map, sg_map *out)
{
    out->n = map->n;
    out->items = ps_arena_zalloc(cc->arena, (map->n ? map->n : 1) * sizeof *out->items);
    if (!out->items)
        return sg_compile_fail(cc, PS_SIGMA_SKIP_LIMIT, map->line, "out of memory");
    for (uint32_t i = 0; i < map->n; i++) {
        const yt_node *k = map->items[2 * i], *v = map->items[2 * i + 1];
        if (k->type != YT_SCALAR)
            return sg_compile_fail(cc, PS_SIGMA_SKIP_STRUCTURE, k->line, "field name is not a scalar");
        if (v->type == YT_MAP)
            return sg_compile_fail(cc, PS_SIGMA_SKIP_STRUCTURE, v->line, "field value is a map");
        if (compile_field(cc, k, v, &out->items[i]) != 0)
            return -1;
    }
    return 0;
}

/* A keyword list item (a bare value): a one-item map with a keyword search. */
static int compile_keyword(sg_compile_ctx *cc, const yt_node *val, sg_map *out)
{
    static const yt_node keyword_key = {.type = YT_SCALAR, .text = "", .len = 0};
    yt_node key = keyword_key;
    key.line = val->line;
    out->n = 1;
    out->items = ps_arena_zalloc(cc->arena, sizeof *out->items);
    if (!out->items)
        return sg_compile_fail(cc, PS_SIGMA_SKIP_LIMIT, val->line, "out of memory");
    return compile_field(cc, &key, val, &out->items[0]);
}

static int compile_selection(sg_compile_ctx *cc, const yt_node *def, sg_selection *sel)
{
    if (def->type == YT_MAP) {
        sel->nmaps = 1;
        sel->maps = ps_arena_zalloc(cc->arena, sizeof *sel->maps);
        return sel->maps ? compile_map(cc, def, sel->maps)
                         : sg_compile_fail(cc, PS_SIGMA_SKIP_LIMIT, def->line, "out of memory");
    }
    if (def->type != YT_SEQ || def->n == 0)
        return sg_compile_fail(cc, PS_SIGMA_SKIP_STRUCTURE, def->line,
                               "selection '%s' is neither a map nor a list", sel->name);
    /* A list of plain values is one keyword search (OR of the values). */
    int all_scalars = 1;
    for (uint32_t i = 0; i < def->n; i++)
        all_scalars &= def->items[i]->type == YT_SCALAR;
    if (all_scalars) {
        sel->nmaps = 1;
        sel->maps = ps_arena_zalloc(cc->arena, sizeof *sel->maps);
        return sel->maps ? compile_keyword(cc, def, sel->maps)
                         : sg_compile_fail(cc, PS_SIGMA_SKIP_LIMIT, def->line, "out of memory");
    }
    sel->nmaps = def->n;
    sel->maps = ps_arena_zalloc(cc->arena, def->n * sizeof *sel->maps);
    if (!sel->maps)
        return sg_compile_fail(cc, PS_SIGMA_SKIP_LIMIT, def->line, "out of memory");
    for (uint32_t i = 0; i < def->n; i++) {
        const yt_node *item = def->items[i];
        int rc = item->type == YT_MAP    ? compile_map(cc, item, &sel->maps[i])
                 : item->type == YT_SCALAR ? compile_keyword(cc, item, &sel->maps[i])
                 : sg_compile_fail(cc, PS_SIGMA_SKIP_STRUCTURE, item->line, "nested list in selection");
        if (rc)
            return rc;
    }
    return 0;
}

static int compile_condition(sg_compile_ctx *cc, const yt_node *detection, sg_detection *out)
{
    const yt_node *cond = yt_get(detection, "condition");
    if (!cond)
        return sg_compile_fail(cc, PS_SIGMA_SKIP_STRUCTURE, detection->line, "no condition");
    if (cond->type == YT_SCALAR)
        return sg_parse_condition(cc, cond->text, cond->line, out, &out->cond);
    if (cond->type != YT_SEQ || cond->n == 0)
        return sg_compile_fail(cc, PS_SIGMA_SKIP_CONDITION, cond->line, "bad condition");
    /* Several conditions: the rule matches when any does. */
    sg_cond *any = ps_arena_zalloc(cc->arena, sizeof *any);
    sg_cond **kids = ps_arena_zalloc(cc->arena, cond->n * sizeof *kids);
    if (!any || !kids)
        return sg_compile_fail(cc, PS_SIGMA_SKIP_LIMIT, cond->line, "out of memory");
    any->op = OP_OR;
    any->nkids = cond->n;
    any->kids = kids;
    for (uint32_t i = 0; i < cond->n; i++) {
        const yt_node *c = cond->items[i];
        if (c->type != YT_SCALAR)
            return sg_compile_fail(cc, PS_SIGMA_SKIP_CONDITION, c->line, "bad condition");
        if (sg_parse_condition(cc, c->text, c->line, out, &kids[i]) != 0)
            return -1;
    }
    out->cond = any;
    return 0;
}

int sg_compile_detection(sg_compile_ctx *cc, const yt_node *detection, sg_detection *out)
{
    memset(out, 0, sizeof *out);
    if (!detection || detection->type != YT_MAP)
        return sg_compile_fail(cc, PS_SIGMA_SKIP_STRUCTURE, detection ? detection->line : 0,
                               "detection is not a map");
    out->sel = ps_arena_zalloc(cc->arena, (detection->n + 1) * sizeof *out->sel);
    if (!out->sel)
        return sg_compile_fail(cc, PS_SIGMA_SKIP_LIMIT, detection->line, "out of memory");
    for (uint32_t i = 0; i < detection->n; i++) {
        const yt_node *k = detection->items[2 * i], *v = detection->items[2 * i + 1];
        if (k->type != YT_SCALAR)
            return sg_compile_fail(cc, PS_SIGMA_SKIP_STRUCTURE, k->line, "bad detection key");
        if (strcmp(k->text, "condition") == 0 || strcmp(k->text, "timeframe") == 0)
            continue;
        sg_selection *sel = &out->sel[out->nsel++];
        sel->name = ps_arena_strndup(cc->arena, k->text, k->len);
        if (!sel->name)
            return sg_compile_fail(cc, PS_SIGMA_SKIP_LIMIT, k->line, "out of memory");
        if (compile_selection(cc, v, sel) != 0)
            return -1;
    }
    return compile_condition(cc, detection, out);
}

/* The variant's own conditions (e.g. EventType: CreateKey) as one map. */
int sg_compile_extra(sg_compile_ctx *cc, const sg_variant_def *v, sg_map *out)
{
    memset(out, 0, sizeof *out);
    if (!v || v->nconditions == 0)
        return 0;
    out->items = ps_arena_zalloc(cc->arena, v->nconditions * sizeof *out->items);
    if (!out->items)
        return sg_compile_fail(cc, PS_SIGMA_SKIP_LIMIT, 0, "out of memory");
    out->n = v->nconditions;
    for (uint32_t i = 0; i < v->nconditions; i++) {
        yt_node key = {.type = YT_SCALAR, .text = v->conditions[i].key,
                       .len = (uint32_t)strlen(v->conditions[i].key)};
        yt_node val = {.type = YT_SCALAR, .plain = 0, .text = v->conditions[i].value,
                       .len = (uint32_t)strlen(v->conditions[i].value)};
        if (compile_field(cc, &key, &val, &out->items[i]) != 0)
            return -1;
    }
    return 0;
}
