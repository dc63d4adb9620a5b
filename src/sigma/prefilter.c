/* The literal prefilter: one Hyperscan database of literals taken from every
 * compiled rule, scanned once over an event's field values, so that only the
 * rules whose literals were seen (and the rules with no usable literal) are
 * evaluated.
 *
 * Exactness rests on one property: for each gated rule we keep a set of
 * literals such that, whenever the rule matches an event, at least one of them
 * occurs in one of the event's field values (ASCII case folded for
 * case-insensitive values, as the matcher folds). The set is derived from the
 * condition tree: an OR needs a literal from every branch, an AND needs one
 * branch only, `not` gives nothing, `k of n` needs any n-k+1 branches. Values
 * whose match can succeed without their bytes in the text (regex, numbers,
 * cidr, null, exists, fieldref, integers that also match numerically, lone
 * wildcards) give nothing, which makes every OR above them give nothing too:
 * such rules are always evaluated. */
#include <hs/hs.h>
#include <stdlib.h>
#include <string.h>

#include "sigma/sigma_internal.h"

#define PF_MIN_LITERAL 3        /* shorter literals hit almost every event */
#define PF_MAX_LITERALS 512     /* per rule; more alternatives: always evaluate */

typedef struct pf_lit {
    const char *bytes;
    uint32_t len;
    uint8_t caseless;
} pf_lit;

/* A disjunction of literals, or `none` when nothing is known. */
typedef struct pf_set {
    pf_lit *lits;
    uint32_t n;
    int none;
} pf_set;

static pf_set pf_none(void) { return (pf_set){NULL, 0, 1}; }

static void pf_set_free(pf_set *s)
{
    free(s->lits);
    *s = pf_none();
}

/* `into` |= `from` (consumes `from`). Too many literals: none. */
static void pf_union(pf_set *into, pf_set *from)
{
    if (into->none || from->none || into->n + from->n > PF_MAX_LITERALS) {
        pf_set_free(into);
        pf_set_free(from);
        return;
    }
    pf_lit *grown = realloc(into->lits, (into->n + from->n + 1) * sizeof *grown);
    if (!grown) {
        pf_set_free(into);
        pf_set_free(from);
        return;
    }
    memcpy(grown + into->n, from->lits, from->n * sizeof *grown);
    into->lits = grown;
    into->n += from->n;
    pf_set_free(from);
}

/* Lower is better: long literals are rare, few literals are cheap. */
static int pf_better(const pf_set *a, const pf_set *b)
{
    if (a->none || b->none)
        return !a->none;
    uint32_t amin = UINT32_MAX, bmin = UINT32_MAX;
    for (uint32_t i = 0; i < a->n; i++)
        amin = a->lits[i].len < amin ? a->lits[i].len : amin;
    for (uint32_t i = 0; i < b->n; i++)
        bmin = b->lits[i].len < bmin ? b->lits[i].len : bmin;
    return amin != bmin ? amin > bmin : a->n < b->n;
}

/* Keep the better of `best` and `cand` in `best` (an AND of the two). */
static void pf_keep_better(pf_set *best, pf_set *cand)
{
    if (pf_better(cand, best)) {
        pf_set_free(best);
        *best = *cand;
        *cand = pf_none();
    } else {
        pf_set_free(cand);
    }
}

static pf_set pf_single(const char *bytes, uint32_t len, int caseless)
{
    if (len < PF_MIN_LITERAL)
        return pf_none();
    pf_set s = {malloc(sizeof *s.lits), 1, 0};
    if (!s.lits)
        return pf_none();
    s.lits[0] = (pf_lit){bytes, len, (uint8_t)caseless};
    return s;
}

/* The longest run of literal bytes of a wildcard pattern. */
static pf_set pf_glob(const sg_value *v)
{
    uint32_t best_at = 0, best_len = 0, run_at = 0;
    for (uint32_t i = 0; i <= v->lit_len; i++) {
        if (i < v->lit_len && v->glob[i] == GL_LIT)
            continue;
        if (i - run_at > best_len) {
            best_at = run_at;
            best_len = i - run_at;
        }
        run_at = i + 1;
    }
    return pf_single(v->lit + best_at, best_len, !v->cased);
}

static pf_set pf_value(const sg_value *v)
{
    if (v->kind != SV_STRING || v->is_int)
        return pf_none();
    switch (v->shape) {
    case SH_EXACT: case SH_PREFIX: case SH_SUFFIX: case SH_CONTAINS:
        return pf_single(v->lit, v->lit_len, !v->cased);
    case SH_GLOB:
        return pf_glob(v);
    default:
        return pf_none();
    }
}

/* OR of values [from, to). */
static pf_set pf_values_or(const sg_value *v, uint32_t from, uint32_t to)
{
    pf_set acc = {NULL, 0, 0};
    for (uint32_t k = from; k < to && !acc.none; k++) {
        pf_set one = pf_value(&v[k]);
        pf_union(&acc, &one);
    }
    return from < to ? acc : (pf_set_free(&acc), pf_none());
}

static pf_set pf_field(const sg_field_match *fm)
{
    if (!fm->all)
        return pf_values_or(fm->values, 0, fm->nvalues);
    /* all: every group must hold, so any one group's alternatives will do. */
    pf_set best = pf_none();
    for (uint32_t k = 0; k < fm->nvalues;) {
        uint32_t end = k;
        while (end < fm->nvalues && fm->values[end].group == fm->values[k].group)
            end++;
        pf_set group = pf_values_or(fm->values, k, end);
        pf_keep_better(&best, &group);
        k = end;
    }
    return best;
}

static pf_set pf_map(const sg_map *m)
{
    pf_set best = pf_none();
    for (uint32_t i = 0; i < m->n; i++) {
        pf_set item = pf_field(&m->items[i]);
        pf_keep_better(&best, &item);
    }
    return best;
}

static pf_set pf_selection(const sg_selection *sel)
{
    pf_set acc = {NULL, 0, 0};
    for (uint32_t i = 0; i < sel->nmaps && !acc.none; i++) {
        pf_set m = pf_map(&sel->maps[i]);
        pf_union(&acc, &m);
    }
    return sel->nmaps ? acc : (pf_set_free(&acc), pf_none());
}

static pf_set pf_cond(const sg_detection *d, const sg_cond *c);

/* At least `count` of the kids hold, so among any nkids-count+1 of them one
 * holds: take the union of that many of the best-known kids. */
static pf_set pf_at_least(const sg_detection *d, const sg_cond *c)
{
    if (c->count == 0 || c->count > c->nkids)
        return pf_none();
    uint32_t need = c->nkids - c->count + 1, have = 0;
    pf_set acc = {NULL, 0, 0};
    for (uint32_t i = 0; i < c->nkids && have < need && !acc.none; i++) {
        pf_set kid = pf_cond(d, c->kids[i]);
        if (kid.none)
            continue;
        pf_union(&acc, &kid);
        have++;
    }
    if (have < need)
        pf_set_free(&acc);
    return acc;
}

/* Depth is bounded by the condition parser (SG_MAX_COND_DEPTH). */
static pf_set pf_cond(const sg_detection *d, const sg_cond *c)
{
    switch (c->op) {
    case OP_SEL: return pf_selection(&d->sel[c->sel]);
    case OP_AND: {
        pf_set best = pf_none();
        for (uint32_t i = 0; i < c->nkids; i++) {
            pf_set kid = pf_cond(d, c->kids[i]);
            pf_keep_better(&best, &kid);
        }
        return best;
    }
    case OP_OR: {
        pf_set acc = {NULL, 0, 0};
        for (uint32_t i = 0; i < c->nkids && !acc.none; i++) {
            pf_set kid = pf_cond(d, c->kids[i]);
            pf_union(&acc, &kid);
        }
        return c->nkids ? acc : (pf_set_free(&acc), pf_none());
    }
    case OP_AT_LEAST: return pf_at_least(d, c);
    default: return pf_none(); /* not, true */
    }
}

/* ---- building the database ------------------------------------------------------ */

typedef struct pf_entry {
    pf_lit lit;
    uint32_t compiled;
} pf_entry;

static int entry_cmp(const void *pa, const void *pb)
{
    const pf_entry *a = pa, *b = pb;
    if (a->lit.caseless != b->lit.caseless)
        return a->lit.caseless < b->lit.caseless ? -1 : 1;
    if (a->lit.len != b->lit.len)
        return a->lit.len < b->lit.len ? -1 : 1;
    int d = memcmp(a->lit.bytes, b->lit.bytes, a->lit.len);
    if (d)
        return d;
    return a->compiled < b->compiled ? -1 : a->compiled > b->compiled;
}

static int same_literal(const pf_entry *a, const pf_entry *b)
{
    return a->lit.caseless == b->lit.caseless && a->lit.len == b->lit.len &&
           memcmp(a->lit.bytes, b->lit.bytes, a->lit.len) == 0;
}

/* Every (literal, compiled rule) pair, with `gated` set for the rules that
 * have a literal set. */
static pf_entry *collect_entries(const ps_sigma_set *set, uint8_t *gated, size_t *count)
{
    pf_entry *e = NULL;
    size_t n = 0, cap = 0;
    for (uint32_t i = 0; i < set->ncompiled; i++) {
        const sg_compiled *c = &set->compiled[i];
        pf_set lits = pf_cond(&c->det, c->det.cond);
        if (lits.none || lits.n == 0) {
            pf_set_free(&lits);
            continue;
        }
        if (n + lits.n > cap) {
            size_t ncap = cap ? cap * 2 : 4096;
            while (ncap < n + lits.n)
                ncap *= 2;
            pf_entry *grown = realloc(e, ncap * sizeof *grown);
            if (!grown) {
                pf_set_free(&lits);
                free(e);
                return NULL;
            }
            e = grown;
            cap = ncap;
        }
        for (uint32_t k = 0; k < lits.n; k++)
            e[n++] = (pf_entry){lits.lits[k], i};
        gated[i] = 1;
        pf_set_free(&lits);
    }
    *count = n;
    return e;
}

/* Distinct literals -> Hyperscan patterns; entries (sorted) -> postings. */
static int build_postings(sg_prefilter *pf, const pf_entry *e, size_t n, ps_arena *arena)
{
    uint32_t nlits = 0;
    for (size_t i = 0; i < n; i++)
        nlits += i == 0 || !same_literal(&e[i], &e[i - 1]);
    pf->nlits = nlits;
    pf->lit_first = ps_arena_alloc(arena, (nlits + 1) * sizeof *pf->lit_first);
    pf->lit_compiled = ps_arena_alloc(arena, (n + 1) * sizeof *pf->lit_compiled);
    if (!pf->lit_first || !pf->lit_compiled)
        return -1;
    uint32_t lit = 0, out = 0;
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && same_literal(&e[i], &e[i - 1])) {
            if (e[i].compiled != e[i - 1].compiled)
                pf->lit_compiled[out++] = e[i].compiled;
            continue;
        }
        pf->lit_first[lit++] = out;
        pf->lit_compiled[out++] = e[i].compiled;
    }
    pf->lit_first[nlits] = out;
    return 0;
}

static int compile_database(sg_prefilter *pf, const pf_entry *e, size_t n)
{
    const char **exprs = malloc((pf->nlits + 1) * sizeof *exprs);
    size_t *lens = malloc((pf->nlits + 1) * sizeof *lens);
    unsigned *flags = malloc((pf->nlits + 1) * sizeof *flags);
    unsigned *ids = malloc((pf->nlits + 1) * sizeof *ids);
    int rc = -1;
    if (exprs && lens && flags && ids) {
        uint32_t lit = 0;
        for (size_t i = 0; i < n; i++) {
            if (i > 0 && same_literal(&e[i], &e[i - 1]))
                continue;
            exprs[lit] = e[i].lit.bytes;
            lens[lit] = e[i].lit.len;
            flags[lit] = HS_FLAG_SINGLEMATCH | (e[i].lit.caseless ? HS_FLAG_CASELESS : 0);
            ids[lit] = lit;
            lit++;
        }
        hs_compile_error_t *err = NULL;
        if (hs_compile_lit_multi(exprs, flags, ids, lens, pf->nlits, HS_MODE_VECTORED, NULL,
                                 &pf->db, &err) == HS_SUCCESS)
            rc = 0;
        else
            hs_free_compile_error(err);
    }
    free(exprs);
    free(lens);
    free(flags);
    free(ids);
    return rc;
}

int sg_prefilter_build(ps_sigma_set *set)
{
    sg_prefilter *pf = &set->prefilter;
    memset(pf, 0, sizeof *pf);
    if (set->ncompiled == 0 || hs_valid_platform() != HS_SUCCESS)
        return 0; /* no prefilter: every rule is evaluated, results are the same */
    uint8_t *gated = ps_arena_zalloc(&set->arena, set->ncompiled);
    if (!gated)
        return -1;
    size_t n = 0;
    pf_entry *e = collect_entries(set, gated, &n);
    if (!e)
        return n ? -1 : 0;
    qsort(e, n, sizeof *e, entry_cmp);
    int rc = build_postings(pf, e, n, &set->arena);
    if (rc == 0 && pf->nlits && compile_database(pf, e, n) == 0) {
        pf->gated = gated;
        for (uint32_t i = 0; i < set->ncompiled; i++)
            pf->ngated += gated[i];
    } else {
        pf->nlits = 0; /* could not build it: evaluate every rule */
    }
    free(e);
    return rc;
}

void sg_prefilter_free(sg_prefilter *pf)
{
    if (pf->db)
        hs_free_database(pf->db);
    pf->db = NULL;
}
