/* The Sigma condition grammar, by recursive descent with a depth bound:
 *   expr    := and ('or' and)*
 *   and     := unary ('and' unary)*
 *   unary   := 'not' unary | '(' expr ')' | quant 'of' target | identifier
 *   quant   := 'all' | number          target := 'them' | pattern (with * and ?)
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sigma/pattern.h"
#include "sigma/sigma_internal.h"

typedef struct cparser {
    sg_compile_ctx *cc;
    const sg_detection *det;
    const char *s;
    size_t pos;
    uint32_t line;
    int depth;
    /* current token */
    const char *tok;
    size_t tok_len;
} cparser;

static int is_ident_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '*' || c == '?' || c == '-' || c == '.';
}

static void next_token(cparser *p)
{
    while (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' || p->s[p->pos] == '\n' ||
           p->s[p->pos] == '\r')
        p->pos++;
    p->tok = p->s + p->pos;
    if (!p->s[p->pos]) {
        p->tok_len = 0;
        return;
    }
    size_t n = 0;
    if (is_ident_char(p->s[p->pos]))
        while (is_ident_char(p->s[p->pos + n]))
            n++;
    else
        n = 1;
    p->tok_len = n;
    p->pos += n;
}

static int tok_is(const cparser *p, const char *word)
{
    return p->tok_len == strlen(word) && strncasecmp(p->tok, word, p->tok_len) == 0;
}

static int perr(cparser *p, const char *what)
{
    if (p->tok_len == 1 && *p->tok == '|')
        return sg_compile_fail(p->cc, PS_SIGMA_SKIP_AGGREGATION, p->line,
                               "aggregation in condition (deprecated syntax)");
    return sg_compile_fail(p->cc, PS_SIGMA_SKIP_CONDITION, p->line, "condition: %s near '%.*s'",
                           what, (int)(p->tok_len ? p->tok_len : 3),
                           p->tok_len ? p->tok : "end");
}

static sg_cond *new_cond(cparser *p, sg_op op)
{
    sg_cond *c = ps_arena_zalloc(p->cc->arena, sizeof *c);
    if (!c)
        sg_compile_fail(p->cc, PS_SIGMA_SKIP_LIMIT, p->line, "out of memory");
    else
        c->op = (uint8_t)op;
    return c;
}

static int name_matches(const char *pat, size_t plen, const char *name)
{
    sg_pat gp;
    sg_pat_init(&gp);
    sg_pat_parse_wildcards(&gp, pat, plen);
    int ok = !sg_pat_failed(&gp) &&
             sg_glob_match(gp.bytes.data ? gp.bytes.data : "", (const uint8_t *)gp.kinds.data,
                           gp.bytes.len, name, strlen(name));
    sg_pat_free(&gp);
    return ok;
}

static sg_cond *selection_ref(cparser *p, uint32_t index)
{
    sg_cond *c = new_cond(p, OP_SEL);
    if (c)
        c->sel = index;
    return c;
}

/* `quant of target`: an AT_LEAST node over the selections the target names. */
static sg_cond *parse_of(cparser *p, uint32_t count, int all)
{
    next_token(p); /* 'of' */
    if (!tok_is(p, "of"))
        return perr(p, "expected 'of'"), NULL;
    next_token(p);
    if (p->tok_len == 0 || !is_ident_char(*p->tok))
        return perr(p, "expected a name after 'of'"), NULL;
    int them = tok_is(p, "them");
    sg_cond *c = new_cond(p, OP_AT_LEAST);
    if (!c)
        return NULL;
    c->kids = ps_arena_zalloc(p->cc->arena, (p->det->nsel + 1) * sizeof *c->kids);
    if (!c->kids)
        return sg_compile_fail(p->cc, PS_SIGMA_SKIP_LIMIT, p->line, "out of memory"), NULL;
    for (uint32_t i = 0; i < p->det->nsel; i++) {
        const char *name = p->det->sel[i].name;
        int hit = them ? name[0] != '_' : name_matches(p->tok, p->tok_len, name);
        if (hit && !(c->kids[c->nkids++] = selection_ref(p, i)))
            return NULL;
    }
    if (c->nkids == 0)
        return perr(p, "no selection matches"), NULL;
    c->count = all ? c->nkids : count;
    next_token(p);
    return c;
}

static sg_cond *parse_expr(cparser *p);

static sg_cond *parse_unary(cparser *p)
{
    if (++p->depth > SG_MAX_COND_DEPTH)
        return sg_compile_fail(p->cc, PS_SIGMA_SKIP_LIMIT, p->line, "condition nested too deeply"),
               NULL;
    sg_cond *c = NULL;
    if (tok_is(p, "not")) {
        next_token(p);
        sg_cond *kid = parse_unary(p);
        if (kid && (c = new_cond(p, OP_NOT)) != NULL) {
            c->kids = ps_arena_alloc(p->cc->arena, sizeof *c->kids);
            if (c->kids) {
                c->kids[0] = kid;
                c->nkids = 1;
            } else {
                c = NULL;
            }
        }
    } else if (p->tok_len == 1 && *p->tok == '(') {
        next_token(p);
        c = parse_expr(p);
        if (c && !(p->tok_len == 1 && *p->tok == ')'))
            c = (perr(p, "expected ')'"), NULL);
        else if (c)
            next_token(p);
    } else if (tok_is(p, "all")) {
        c = parse_of(p, 0, 1);
    } else if (p->tok_len && p->tok[0] >= '1' && p->tok[0] <= '9' &&
               strspn(p->tok, "0123456789") >= p->tok_len) {
        c = parse_of(p, (uint32_t)strtoul(p->tok, NULL, 10), 0);
    } else if (p->tok_len && is_ident_char(*p->tok) && !tok_is(p, "and") && !tok_is(p, "or")) {
        uint32_t i = 0;
        while (i < p->det->nsel && !(strlen(p->det->sel[i].name) == p->tok_len &&
                                     strncmp(p->det->sel[i].name, p->tok, p->tok_len) == 0))
            i++;
        if (i == p->det->nsel)
            c = (perr(p, "unknown identifier"), NULL);
        else if ((c = selection_ref(p, i)) != NULL)
            next_token(p);
    } else {
        perr(p, "unexpected token");
    }
    p->depth--;
    return c;
}

/* Parse `sub (word sub)*` into one node of `op` (or the single operand). */
static sg_cond *parse_chain(cparser *p, const char *word, sg_op op, sg_cond *(*sub)(cparser *))
{
    sg_cond *first = sub(p);
    if (!first || !tok_is(p, word))
        return first;
    sg_cond *c = new_cond(p, op);
    uint32_t cap = 4;
    sg_cond **kids = ps_arena_alloc(p->cc->arena, cap * sizeof *kids);
    if (!c || !kids)
        return sg_compile_fail(p->cc, PS_SIGMA_SKIP_LIMIT, p->line, "out of memory"), NULL;
    kids[c->nkids++] = first;
    while (tok_is(p, word)) {
        next_token(p);
        sg_cond *k = sub(p);
        if (!k)
            return NULL;
        if (c->nkids == cap) {
            sg_cond **grown = ps_arena_alloc(p->cc->arena, 2 * cap * sizeof *kids);
            if (!grown)
                return sg_compile_fail(p->cc, PS_SIGMA_SKIP_LIMIT, p->line, "out of memory"), NULL;
            memcpy(grown, kids, cap * sizeof *kids);
            kids = grown;
            cap *= 2;
        }
        kids[c->nkids++] = k;
    }
    c->kids = kids;
    return c;
}

static sg_cond *parse_and(cparser *p) { return parse_chain(p, "and", OP_AND, parse_unary); }

static sg_cond *parse_expr(cparser *p)
{
    if (++p->depth > SG_MAX_COND_DEPTH)
        return sg_compile_fail(p->cc, PS_SIGMA_SKIP_LIMIT, p->line, "condition nested too deeply"),
               NULL;
    sg_cond *c = parse_chain(p, "or", OP_OR, parse_and);
    p->depth--;
    return c;
}

int sg_parse_condition(sg_compile_ctx *cc, const char *text, uint32_t line,
                       const sg_detection *det, sg_cond **out)
{
    cparser p = {.cc = cc, .det = det, .s = text, .line = line};
    next_token(&p);
    if (p.tok_len == 0)
        return sg_compile_fail(cc, PS_SIGMA_SKIP_CONDITION, line, "empty condition");
    sg_cond *c = parse_expr(&p);
    if (!c)
        return -1;
    if (p.tok_len != 0)
        return perr(&p, "unexpected trailing text");
    *out = c;
    return 0;
}
