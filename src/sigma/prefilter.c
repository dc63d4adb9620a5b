/* The literal prefilter: Hyperscan databases of literals taken from every
 * compiled rule, scanned once over an event's field values, so that only the
 * rules whose literals were seen (and the rules with no usable literal) are
 * evaluated.
 *
 * Exactness rests on one property: for each gated rule we keep up to eight
 * clauses, each a set of literals such that, whenever the rule matches an
 * event, at least one of them occurs in one of the event's values of the
 * field it was taken from (ASCII case folded for case-insensitive values, as
 * the matcher folds). A gated rule is evaluated only when every one of its
 * clauses has a literal in the event. The clauses are derived from the
 * condition tree: an AND keeps the clauses of all its branches, an OR needs a
 * literal from every branch (its clauses are unions of one clause of each
 * branch, every pair of them, the best kept), `not` gives nothing, `k of n`
 * needs any n-k+1 branches (`all of` is an AND), a field's `all` values give
 * a clause each. A regex gives the longest literal run it needs (see
 * regex_needs.c). Values whose match can succeed without their bytes in the
 * text (regexes without such a run, numbers, cidr, null, exists, fieldref,
 * integers that also match numerically, lone wildcards) give nothing, which
 * makes every OR above them give nothing too: rules left with no clause are
 * always evaluated.
 *
 * A literal belongs to the field its value reads: there is one database per
 * field symbol, scanned over that field's values only, and one for keyword
 * searches, scanned over every value (as one NUL-separated buffer: a literal
 * found across two values only costs a needless evaluation). A scan costs
 * about in proportion to the literals of its database, and most fields are
 * read by few rules. Only the fields some rule of the event's posting lists
 * reads are scanned. Each literal's postings name the clauses it belongs to,
 * so the scan itself tells which rules are left to evaluate (the matcher's
 * candidates): the posting lists are never walked.
 *
 * The same scan answers for single values: a value whose literal (a string's
 * whole text, a wildcard pattern's longest literal run, a regex's longest
 * run) is one of these knows its id, and when the scan did not see it the
 * value cannot match, so the matcher skips the comparison. */
#include <hs/hs.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "sigma/sigma_internal.h"
#include "util/hash.h"

#define PF_MAX_COMPILE_THREADS 16
#define PF_COMPILE_LITERALS 8192 /* compiled at once, at most (but one database of more) */

#define PF_MIN_LITERAL 3        /* shorter ASCII literals hit almost every event */
/* Per clause; more alternatives: the clause is dropped. SigmaHQ's longest
 * lists (emoji in command lines, about 1,000; the vulnerable drivers'
 * hashes, about 4,400) stay under it. */
#define PF_MAX_LITERALS 16384
/* Clauses kept per rule (bits of a byte); more: the best are kept. */
#define PF_MAX_CLAUSES 8
/* A clause beside a better one is kept only when every literal of it has
 * this many bytes (or one that is not ASCII): short ones (" -c", ".js", "/c ")
 * occur in most command lines, so they rule out few evaluations, while they
 * cost every scan of their field most of its time. */
#define PF_STRONG_LITERAL 5

/* A literal looked for in the values of field symbol `sym` (PF_SYM_KW and
 * PF_SYM_KW_EVERY: in every value, for keyword searches; see sg_prefilter.kw). */
#define PF_SYM_KW (-1)
#define PF_SYM_KW_EVERY (-2)

/* Which of sg_prefilter.kw holds a keyword literal (sym < 0). */
static unsigned keyword_db_of(int32_t sym)
{
    return sym == PF_SYM_KW_EVERY ? SG_KW_EVERY : SG_KW_LISTED;
}

typedef struct pf_lit {
    const char *bytes;
    uint32_t len;
    uint8_t caseless;
    uint8_t exact;   /* a whole value compared for equality (see sg_exact_table) */
    int32_t sym;
} pf_lit;

/* A clause: a disjunction of literals, or `none` when nothing is known. */
typedef struct pf_set {
    pf_lit *lits;
    uint32_t n;
    int none;
    uint32_t cap;    /* allocated lits */
} pf_set;

/* What a rule needs: every clause holds whenever it matches (a
 * conjunction). n == 0: nothing is known. An AND of two selections
 * keeps a clause of each, so that a rule whose image is seen but not its
 * command line is not evaluated. */
typedef struct pf_req {
    pf_set c[PF_MAX_CLAUSES];
    uint32_t n;
} pf_req;

static pf_set pf_none(void) { return (pf_set){NULL, 0, 1, 0}; }

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
    if (into->n + from->n > into->cap) {
        /* doubling: a list of n values is n unions */
        uint32_t cap = into->cap ? into->cap * 2 : 8;
        while (cap < into->n + from->n)
            cap *= 2;
        pf_lit *grown = realloc(into->lits, cap * sizeof *grown);
        if (!grown) {
            pf_set_free(into);
            pf_set_free(from);
            return;
        }
        into->lits = grown;
        into->cap = cap;
    }
    if (from->n)
        memcpy(into->lits + into->n, from->lits, from->n * sizeof *from->lits);
    into->n += from->n;
    pf_set_free(from);
}

/* How good a clause is: its shortest literal and its size. */
typedef struct pf_rank {
    int none;
    uint32_t min_len, n;
} pf_rank;

static pf_rank pf_rank_of(const pf_set *a)
{
    pf_rank r = {a->none, UINT32_MAX, a->n};
    for (uint32_t i = 0; i < a->n; i++)
        r.min_len = a->lits[i].len < r.min_len ? a->lits[i].len : r.min_len;
    return r;
}

/* Lower is better: long literals are rare, few literals are cheap. */
static int pf_rank_better(pf_rank a, pf_rank b)
{
    if (a.none || b.none)
        return !a.none;
    return a.min_len != b.min_len ? a.min_len > b.min_len : a.n < b.n;
}

static pf_req pf_nothing(void)
{
    pf_req r;
    r.n = 0;
    return r;
}

static void pf_req_free(pf_req *r)
{
    for (uint32_t i = 0; i < r->n; i++)
        pf_set_free(&r->c[i]);
    r->n = 0;
}

/* One clause as a requirement (consumes it). */
static pf_req pf_req_one(pf_set *s)
{
    pf_req r = pf_nothing();
    if (!s->none) {
        r.c[0] = *s;
        r.n = 1;
    }
    *s = pf_none();
    return r;
}

/* Best clause first (insertion sort of at most PF_MAX_CLAUSES^2, each
 * clause ranked once: a clause may hold thousands of literals). */
static void pf_sort_clauses(pf_set *c, uint32_t n)
{
    pf_rank rank[PF_MAX_CLAUSES * PF_MAX_CLAUSES];
    for (uint32_t i = 0; i < n; i++)
        rank[i] = pf_rank_of(&c[i]);
    for (uint32_t i = 1; i < n; i++)
        for (uint32_t j = i; j > 0 && pf_rank_better(rank[j], rank[j - 1]); j--) {
            pf_set t = c[j];
            c[j] = c[j - 1];
            c[j - 1] = t;
            pf_rank r = rank[j];
            rank[j] = rank[j - 1];
            rank[j - 1] = r;
        }
}

/* The best PF_MAX_CLAUSES of all[0..n) become `into`'s clauses (it has
 * none); the others are freed. */
static void keep_best(pf_req *into, pf_set *all, uint32_t n)
{
    if (n > PF_MAX_CLAUSES)
        pf_sort_clauses(all, n);
    for (uint32_t i = 0; i < n; i++) {
        if (i < PF_MAX_CLAUSES)
            into->c[into->n++] = all[i];
        else
            pf_set_free(&all[i]);
    }
}

/* `into` and `from` both hold (consumes `from`): their clauses together,
 * the best PF_MAX_CLAUSES of them (dropping one only weakens the
 * requirement). */
static void pf_req_and(pf_req *into, pf_req *from)
{
    pf_set all[2 * PF_MAX_CLAUSES];
    uint32_t n = 0;
    for (uint32_t i = 0; i < into->n; i++)
        all[n++] = into->c[i];
    for (uint32_t i = 0; i < from->n; i++)
        all[n++] = from->c[i];
    into->n = from->n = 0;
    keep_best(into, all, n);
}

/* A copy of clause c (none when memory runs out: a weaker requirement). */
static pf_set pf_set_copy(const pf_set *c)
{
    if (c->none)
        return pf_none();
    if (!c->n)
        return (pf_set){NULL, 0, 0, 0};
    pf_set out = {malloc(c->n * sizeof *c->lits), c->n, 0, c->n};
    if (!out.lits)
        return pf_none();
    memcpy(out.lits, c->lits, c->n * sizeof *c->lits);
    return out;
}

/* `into` or `from` holds (consumes `from`): whatever clause of each is
 * taken, their union holds. Every pair is made, and the best PF_MAX_CLAUSES
 * unions kept: pairing only the best with the best, the second with the
 * second, lost the clause that mattered when one side had fewer (SigmaHQ's
 * path traversal rule, `Image|contains: \Windows\` with a list of command
 * lines, or one more command line: the image's clause went with the lone
 * command line, and the rule was evaluated on nearly every process
 * creation). */
static void pf_req_or(pf_req *into, pf_req *from)
{
    if (!into->n || !from->n) {
        pf_req_free(into);
        pf_req_free(from);
        return;
    }
    pf_set all[PF_MAX_CLAUSES * PF_MAX_CLAUSES];
    uint32_t n = 0;
    for (uint32_t i = 0; i < into->n; i++)
        for (uint32_t j = 0; j < from->n; j++) {
            pf_set u = pf_set_copy(&into->c[i]), v = pf_set_copy(&from->c[j]);
            pf_union(&u, &v);
            if (!u.none)
                all[n++] = u;
        }
    pf_req_free(into);
    pf_req_free(from);
    keep_best(into, all, n);
}

/* The escape characters of cmd.exe (^) and PowerShell (`): rules for
 * obfuscated command lines look for them ("^^", " c^md"), and they are
 * rare elsewhere (in one command line of a thousand of the attack
 * samples), so a literal holding one is worth looking for however short. */
static int escape_char(unsigned char c) { return c == '^' || c == '`'; }

/* Long enough to be rare: PF_MIN_LITERAL bytes, or two when one of them is
 * not ASCII (a Cyrillic or Greek letter in a command line is worth looking
 * for, and is rare in most logs), or any length with an escape_char. */
static int usable_literal(const char *bytes, uint32_t len)
{
    if (len >= PF_MIN_LITERAL)
        return 1;
    for (uint32_t i = 0; i < len; i++)
        if (escape_char((unsigned char)bytes[i]))
            return 1;
    return len == 2 && ((unsigned char)bytes[0] >= 0x80 || (unsigned char)bytes[1] >= 0x80);
}

/* The longest run a regex needs (sg_regex_needs), if it is worth it. */
static int regex_literal(const sg_value *v, int32_t sym, pf_lit *out)
{
    uint32_t best = 0;
    for (uint32_t i = 1; i < v->nneeds; i++)
        if (v->needs[i].len > v->needs[best].len)
            best = i;
    if (!v->nneeds || !usable_literal(v->needs[best].bytes, v->needs[best].len))
        return 0;
    *out = (pf_lit){v->needs[best].bytes, v->needs[best].len, v->needs_caseless, 0, sym};
    return 1;
}

/* The literal a value's match needs in the text: a string's whole text, or
 * a wildcard pattern's longest literal run, or a regex's longest run; 0 when
 * there is none worth it. */
static int value_literal(const sg_value *v, int32_t sym, pf_lit *out)
{
    if (v->kind == SV_REGEX)
        return regex_literal(v, sym, out);
    if (v->kind != SV_STRING || v->is_int)
        return 0;
    const char *bytes = v->lit;
    uint32_t len = v->lit_len;
    switch (v->shape) {
    case SH_EXACT: case SH_PREFIX: case SH_SUFFIX: case SH_CONTAINS: break;
    case SH_GLOB: {
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
        bytes += best_at;
        len = best_len;
        break;
    }
    default: return 0;
    }
    if (!usable_literal(bytes, len))
        return 0;
    *out = (pf_lit){bytes, len, (uint8_t)!v->cased, v->shape == SH_EXACT, sym};
    return 1;
}

static pf_set pf_single(const pf_lit *lit)
{
    pf_set s = {malloc(sizeof *s.lits), 1, 0, 1};
    if (!s.lits)
        return pf_none();
    s.lits[0] = *lit;
    return s;
}

static pf_set pf_value(const sg_value *v, int32_t sym)
{
    pf_lit lit;
    return value_literal(v, sym, &lit) ? pf_single(&lit) : pf_none();
}

/* OR of values [from, to). */
static pf_set pf_values_or(const sg_value *v, uint32_t from, uint32_t to, int32_t sym)
{
    pf_set acc = {NULL, 0, 0, 0};
    for (uint32_t k = from; k < to && !acc.none; k++) {
        pf_set one = pf_value(&v[k], sym);
        pf_union(&acc, &one);
    }
    return from < to ? acc : (pf_set_free(&acc), pf_none());
}

static pf_req pf_field(const sg_field_match *fm)
{
    if (!fm->all) {
        pf_set any = pf_values_or(fm->values, 0, fm->nvalues, fm->sym);
        return pf_req_one(&any);
    }
    /* all: every group must hold, each a clause of its alternatives. */
    pf_req r = pf_nothing();
    for (uint32_t k = 0; k < fm->nvalues;) {
        uint32_t end = k;
        while (end < fm->nvalues && fm->values[end].group == fm->values[k].group)
            end++;
        pf_set group = pf_values_or(fm->values, k, end, fm->sym);
        pf_req one = pf_req_one(&group);
        pf_req_and(&r, &one);
        k = end;
    }
    return r;
}

static pf_req pf_map(const sg_map *m)
{
    pf_req r = pf_nothing();
    for (uint32_t i = 0; i < m->n; i++) {
        pf_req item = pf_field(&m->items[i]);
        pf_req_and(&r, &item);
    }
    return r;
}

static pf_req pf_selection(const sg_selection *sel)
{
    if (!sel->nmaps)
        return pf_nothing();
    pf_req acc = pf_map(&sel->maps[0]);
    for (uint32_t i = 1; i < sel->nmaps && acc.n; i++) {
        pf_req m = pf_map(&sel->maps[i]);
        pf_req_or(&acc, &m);
    }
    return acc;
}

static pf_req pf_cond(const sg_detection *d, const sg_cond *c);

/* At least `count` of the kids hold: all of them when count is their
 * number; otherwise among any nkids-count+1 of them one holds, so those of
 * the first such kids with known requirements are ORed. */
static pf_req pf_at_least(const sg_detection *d, const sg_cond *c)
{
    if (c->count == 0 || c->count > c->nkids)
        return pf_nothing();
    if (c->count == c->nkids) {
        pf_req all = pf_nothing();
        for (uint32_t i = 0; i < c->nkids; i++) {
            pf_req kid = pf_cond(d, c->kids[i]);
            pf_req_and(&all, &kid);
        }
        return all;
    }
    uint32_t need = c->nkids - c->count + 1, have = 0;
    pf_req acc = pf_nothing();
    for (uint32_t i = 0; i < c->nkids && have < need; i++) {
        pf_req kid = pf_cond(d, c->kids[i]);
        if (!kid.n)
            continue;
        if (have++ == 0)
            acc = kid;
        else
            pf_req_or(&acc, &kid);
        if (!acc.n)
            return acc;
    }
    if (have < need)
        pf_req_free(&acc);
    return acc;
}

/* Depth is bounded by the condition parser (SG_MAX_COND_DEPTH). */
static pf_req pf_cond(const sg_detection *d, const sg_cond *c)
{
    switch (c->op) {
    case OP_SEL: return pf_selection(&d->sel[c->sel]);
    case OP_AND: {
        pf_req all = pf_nothing();
        for (uint32_t i = 0; i < c->nkids; i++) {
            pf_req kid = pf_cond(d, c->kids[i]);
            pf_req_and(&all, &kid);
        }
        return all;
    }
    case OP_OR: {
        if (!c->nkids)
            return pf_nothing();
        pf_req acc = pf_cond(d, c->kids[0]);
        for (uint32_t i = 1; i < c->nkids && acc.n; i++) {
            pf_req kid = pf_cond(d, c->kids[i]);
            pf_req_or(&acc, &kid);
        }
        return acc;
    }
    case OP_AT_LEAST: return pf_at_least(d, c);
    default: return pf_nothing(); /* not, true */
    }
}

/* ---- building the databases ------------------------------------------------------ */

/* A literal of clause `clause` of a gated compiled rule. */
typedef struct pf_entry {
    pf_lit lit;
    uint32_t compiled;
    uint32_t clause;
} pf_entry;

typedef struct pf_entries {
    pf_entry *e;
    size_t n, cap;
    int failed;
} pf_entries;

static void add_entry(pf_entries *es, pf_lit lit, uint32_t compiled, uint32_t clause)
{
    if (es->failed)
        return;
    if (ps_grow_array((void **)&es->e, &es->cap, es->n, sizeof *es->e) != 0) {
        es->failed = 1;
        return;
    }
    es->e[es->n++] = (pf_entry){lit, compiled, clause};
}

/* By database (keyword searches first, then field by field), then literal,
 * then rule and clause. */
static int entry_cmp(const void *pa, const void *pb)
{
    const pf_entry *a = pa, *b = pb;
    if (a->lit.sym != b->lit.sym)
        return a->lit.sym < b->lit.sym ? -1 : 1;
    if (a->lit.caseless != b->lit.caseless)
        return a->lit.caseless < b->lit.caseless ? -1 : 1;
    if (a->lit.len != b->lit.len)
        return a->lit.len < b->lit.len ? -1 : 1;
    int d = memcmp(a->lit.bytes, b->lit.bytes, a->lit.len);
    if (d)
        return d;
    if (a->compiled != b->compiled)
        return a->compiled < b->compiled ? -1 : 1;
    return a->clause < b->clause ? -1 : a->clause > b->clause;
}

static int same_literal(const pf_entry *a, const pf_entry *b)
{
    return a->lit.sym == b->lit.sym && a->lit.caseless == b->lit.caseless &&
           a->lit.len == b->lit.len && memcmp(a->lit.bytes, b->lit.bytes, a->lit.len) == 0;
}

static int strong_clause(const pf_set *c)
{
    for (uint32_t i = 0; i < c->n; i++) {
        const pf_lit *l = &c->lits[i];
        int plain = 1; /* ASCII without an escape_char */
        for (uint32_t k = 0; k < l->len && plain; k++)
            plain = (unsigned char)l->bytes[k] < 0x80 && !escape_char((unsigned char)l->bytes[k]);
        if (plain && l->len < PF_STRONG_LITERAL)
            return 0;
    }
    return 1;
}

/* The fields a gated rule's clauses read, clause 0's first (see
 * sg_prefilter.rule_syms), while the rules are collected. */
typedef struct rule_syms {
    int32_t *s;
    size_t n, cap;
    int failed;
} rule_syms;

static int push_sym(rule_syms *rs, size_t from, int32_t sym)
{
    for (size_t i = from; i < rs->n; i++)
        if (rs->s[i] == sym)
            return 0;
    if (ps_grow_array((void **)&rs->s, &rs->cap, rs->n, sizeof *rs->s) != 0) {
        rs->failed = 1;
        return -1;
    }
    rs->s[rs->n++] = sym;
    return 1;
}

/* Every (literal, compiled rule, clause) of the gated rules, with the mask
 * of each gated rule's clauses in `gate` and the fields of its clauses.
 * Clause 0 is the best one (pf_rank_better): the one scanned for every event. */
static int collect_entries(ps_sigma_set *set, uint8_t *gate, const uint8_t *rule_every,
                           pf_entries *es, rule_syms *rs)
{
    sg_prefilter *pf = &set->prefilter;
    for (uint32_t i = 0; i < set->ncompiled && !es->failed && !rs->failed; i++) {
        sg_compiled *c = &set->compiled[i];
        pf_req req = pf_cond(&c->det, c->det.cond);
        pf_sort_clauses(req.c, req.n);
        uint32_t keep = req.n ? 1 : 0;
        for (uint32_t k = 1; k < req.n; k++) {
            if (strong_clause(&req.c[k]))
                req.c[keep++] = req.c[k];
            else
                pf_set_free(&req.c[k]);
        }
        req.n = keep;
        pf->syms_first[i] = (uint32_t)rs->n;
        for (uint32_t k = 0; k < req.n; k++) {
            /* clause 0's fields, then the others' not among them */
            size_t from = k == 0 ? rs->n : pf->syms_first[i];
            for (uint32_t j = 0; j < req.c[k].n; j++) {
                pf_lit *lit = &req.c[k].lits[j];
                if (lit->sym < 0 && rule_every[c->rule])
                    lit->sym = PF_SYM_KW_EVERY;
                int32_t sym = lit->sym;
                add_entry(es, *lit, i, k);
                int added = push_sym(
                    rs, from, sym < 0 ? (int32_t)(set->syms.n + keyword_db_of(sym)) : sym);
                if (added > 0 && k == 0)
                    pf->syms0_n[i]++;
                else if (added > 0)
                    pf->syms_more_n[i]++;
            }
        }
        gate[i] = (uint8_t)((1u << req.n) - 1);
        pf_req_free(&req);
    }
    return es->failed || rs->failed ? -1 : 0;
}

/* Distinct literals (entries sorted) -> ids, and the postings of the gated
 * rules: compiled index and clause (SG_PF_POST). */
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
        int fresh = i == 0 || !same_literal(&e[i], &e[i - 1]);
        if (fresh)
            pf->lit_first[lit++] = out;
        /* sorted by rule and clause within a literal */
        if (fresh || e[i].compiled != e[i - 1].compiled || e[i].clause != e[i - 1].clause)
            pf->lit_compiled[out++] = SG_PF_POST(e[i].compiled, e[i].clause);
    }
    pf->lit_first[nlits] = out;
    return 0;
}

/* ---- literal ids of values --------------------------------------------------------- */

/* The gating literals by hash (open addressing), to give each value whose
 * own literal is one of them its id. Only those: a database of every
 * value's literal (about 60% more on SigmaHQ's Windows rules) costs more to
 * compile and scan than the comparisons it would spare. */
typedef struct lit_table {
    uint32_t *slot;      /* first entry of the literal + 1, or 0 */
    uint32_t *id;
    uint32_t mask;
    const pf_entry *e;
} lit_table;

static uint64_t lit_hash(const pf_lit *l)
{
    return ps_hash_bytes(l->bytes, l->len, (uint64_t)(uint32_t)l->sym ^ ((uint64_t)l->caseless << 40));
}

static int lit_table_build(lit_table *t, const pf_entry *e, size_t n, uint32_t nlits)
{
    uint32_t cap = 16;
    while (cap < 2 * nlits)
        cap *= 2;
    t->slot = calloc(cap, sizeof *t->slot);
    t->id = calloc(cap, sizeof *t->id);
    t->mask = cap - 1;
    t->e = e;
    if (!t->slot || !t->id)
        return -1;
    for (size_t i = 0, lit = 0; i < n; i++) {
        if (i > 0 && same_literal(&e[i], &e[i - 1]))
            continue;
        uint32_t k = (uint32_t)lit_hash(&e[i].lit) & t->mask;
        while (t->slot[k])
            k = (k + 1) & t->mask;
        t->slot[k] = (uint32_t)i + 1;
        t->id[k] = (uint32_t)lit++;
    }
    return 0;
}

static void lit_table_free(lit_table *t)
{
    free(t->slot);
    free(t->id);
}

/* The id of the probe's literal + 1, or 0. */
static uint32_t lit_table_find(const lit_table *t, const pf_entry *probe)
{
    for (uint32_t s = (uint32_t)lit_hash(&probe->lit) & t->mask; t->slot[s];
         s = (s + 1) & t->mask)
        if (same_literal(&t->e[t->slot[s] - 1], probe))
            return t->id[s] + 1;
    return 0;
}

/* Lists of a field of at least this many values, some with an id, get
 * their ids side by side (sg_field_match.ids). */
#define PF_IDS_MIN_VALUES 8

/* The id by which the matcher settles v when its literal is unseen: strings
 * and regexes (match.c, value_match); 0 for the other kinds. */
static uint32_t settling_id(const sg_value *v)
{
    return v->kind == SV_STRING || v->kind == SV_REGEX ? v->pf_id : 0;
}

/* The field match's values' settling ids, side by side, when it is a long
 * list of a field with some. The matcher reads them only when the scan of
 * the field is known. */
static int side_ids(sg_field_match *fm, ps_arena *arena)
{
    fm->ids = NULL;
    if (fm->sym < 0 || fm->nvalues < PF_IDS_MIN_VALUES)
        return 0;
    uint32_t with = 0;
    for (uint32_t k = 0; k < fm->nvalues; k++)
        with += settling_id(&fm->values[k]) != 0;
    if (!with)
        return 0;
    uint32_t *ids = ps_arena_alloc(arena, fm->nvalues * sizeof *ids);
    if (!ids)
        return -1;
    for (uint32_t k = 0; k < fm->nvalues; k++)
        ids[k] = settling_id(&fm->values[k]);
    fm->ids = ids;
    return 0;
}

/* A keyword value's literal may be in either keyword database (a value can
 * be shared by rules of both kinds): whichever holds it, the matcher scans
 * that one before it trusts the id (match.c, keyword_db). */
static int give_map_ids(const lit_table *t, const sg_map *m, ps_arena *arena)
{
    for (uint32_t i = 0; i < m->n; i++) {
        for (uint32_t k = 0; k < m->items[i].nvalues; k++) {
            sg_value *v = &m->items[i].values[k];
            pf_entry probe = {{0}, 0};
            if (!value_literal(v, m->items[i].sym, &probe.lit))
                continue;
            v->pf_id = lit_table_find(t, &probe);
            if (!v->pf_id && probe.lit.sym < 0) {
                probe.lit.sym = PF_SYM_KW_EVERY;
                v->pf_id = lit_table_find(t, &probe);
            }
        }
        if (side_ids(&m->items[i], arena) != 0)
            return -1;
    }
    return 0;
}

static int give_detection_ids(const lit_table *t, const sg_detection *d, ps_arena *arena)
{
    for (uint32_t s = 0; s < d->nsel; s++)
        for (uint32_t m = 0; m < d->sel[s].nmaps; m++)
            if (give_map_ids(t, &d->sel[s].maps[m], arena) != 0)
                return -1;
    return 0;
}

static int give_value_ids(ps_sigma_set *set, const pf_entry *e, size_t n)
{
    lit_table t;
    int rc = lit_table_build(&t, e, n, set->prefilter.nlits);
    for (uint32_t i = 0; rc == 0 && i < set->ncompiled; i++) {
        const sg_compiled *c = &set->compiled[i];
        rc = give_detection_ids(&t, &c->det, &set->arena);
        if (rc == 0)
            rc = give_map_ids(&t, &c->extra, &set->arena);
        for (uint32_t f = 0; rc == 0 && f < c->nfilters; f++)
            rc = give_detection_ids(&t, &c->filters[f], &set->arena);
    }
    lit_table_free(&t);
    return rc;
}

/* One database of the distinct literals of entries [from, to), with ids
 * from 0 in it (the literal's id less the database's base), so that it does
 * not depend on the other databases and a cached copy stays good when only
 * other fields' literals change. */
static int compile_one(const pf_entry *e, size_t from, size_t to, const char *cache_dir,
                       hs_database_t **db, sg_hs_cache_stats *st)
{
    size_t count = 0;
    for (size_t i = from; i < to; i++)
        count += i == from || !same_literal(&e[i], &e[i - 1]);
    const char **exprs = malloc(count * sizeof *exprs);
    size_t *lens = malloc(count * sizeof *lens);
    unsigned *flags = malloc(count * sizeof *flags);
    unsigned *ids = malloc(count * sizeof *ids);
    int rc = -1;
    if (exprs && lens && flags && ids) {
        size_t k = 0;
        for (size_t i = from; i < to; i++) {
            if (i > from && same_literal(&e[i], &e[i - 1]))
                continue;
            exprs[k] = e[i].lit.bytes;
            lens[k] = e[i].lit.len;
            flags[k] = HS_FLAG_SINGLEMATCH | (e[i].lit.caseless ? HS_FLAG_CASELESS : 0);
            ids[k] = (unsigned)k;
            k++;
        }
        sg_hs_input in = {exprs, flags, ids, lens, (unsigned)count};
        rc = sg_hs_compile(&in, cache_dir, db, st);
    }
    free(exprs);
    free(lens);
    free(flags);
    free(ids);
    return rc;
}

uint64_t sg_exact_hash(const char *p, size_t n, int caseless)
{
    return ps_hash_bytes(p, n, (uint64_t)caseless << 63);
}

/* Do literals [from, to) fit a keyed table (sg_exact_table.nforms)? Each
 * must hold one '=', neither first nor last, and they may have at most
 * SG_KEYED_FORMS forms; those go to t. */
static int keyed_forms(const pf_entry *e, size_t from, size_t to, sg_exact_table *t)
{
    t->nforms = 0;
    for (size_t i = from; i < to; i++) {
        const pf_lit *l = &e[i].lit;
        const char *eq = memchr(l->bytes, '=', l->len);
        if (!eq || eq == l->bytes || (uint32_t)(eq - l->bytes) + 1 >= l->len ||
            memchr(eq + 1, '=', l->len - (uint32_t)(eq - l->bytes) - 1))
            return 0;
        sg_exact_form f = {l->bytes, (uint32_t)(eq - l->bytes), l->len, l->caseless};
        uint32_t k = 0;
        while (k < t->nforms &&
               !(t->forms[k].prefix_len == f.prefix_len && t->forms[k].len == f.len &&
                 t->forms[k].caseless == f.caseless &&
                 !memcmp(t->forms[k].prefix, f.prefix, f.prefix_len)))
            k++;
        if (k == t->nforms) {
            if (t->nforms == SG_KEYED_FORMS)
                return 0;
            t->forms[t->nforms++] = f;
        }
    }
    return t->nforms > 0;
}

/* The table of the distinct literals of entries [from, to), by local id as
 * compile_one numbers them; keyed (the forms of `forms`) when
 * forms->nforms, else of whole values. NULL when out of memory. */
static const sg_exact_table *exact_table(const pf_entry *e, size_t from, size_t to,
                                         uint32_t ndistinct, const sg_exact_table *forms,
                                         ps_arena *arena)
{
    uint32_t nslots = 16;
    while (nslots < 2 * ndistinct)
        nslots *= 2;
    sg_exact_table *t = ps_arena_zalloc(arena, sizeof *t);
    uint32_t *slot = ps_arena_zalloc(arena, nslots * sizeof *slot);
    sg_exact_key *keys = ps_arena_alloc(arena, (ndistinct + 1) * sizeof *keys);
    if (!t || !slot || !keys)
        return NULL;
    if (forms->nforms) {
        t->nforms = forms->nforms;
        memcpy(t->forms, forms->forms, sizeof t->forms);
    }
    t->mask = nslots - 1;
    t->slot = slot;
    t->keys = keys;
    uint32_t id = 0;
    for (size_t i = from; i < to; i++) {
        if (i > from && same_literal(&e[i], &e[i - 1]))
            continue;
        const pf_lit *l = &e[i].lit;
        keys[id] = (sg_exact_key){l->bytes, l->len, l->caseless};
        *(l->caseless ? &t->caseless : &t->cased) = 1;
        uint32_t k = (uint32_t)sg_exact_hash(l->bytes, l->len, l->caseless) & t->mask;
        while (slot[k])
            k = (k + 1) & t->mask;
        slot[k] = ++id;
    }
    return t;
}

/* One database to compile: entries [from, to) into *db. */
typedef struct compile_job {
    size_t from, to;
    hs_database_t **db;
    uint32_t ndistinct;
    int failed;
} compile_job;

typedef struct compile_pool {
    const pf_entry *e;
    compile_job *jobs;           /* the largest first */
    size_t njobs;
    const char *cache_dir;
    pthread_mutex_t lock;
    pthread_cond_t done;         /* a job ended */
    uint8_t *taken;              /* per job */
    size_t untaken;
    uint64_t in_flight;          /* literals of the databases being compiled */
} compile_pool;

typedef struct compile_worker {
    compile_pool *pool;
    sg_hs_cache_stats st;
    pthread_t tid;
} compile_worker;

/* The next job for a worker: the largest one not taken whose literals fit
 * beside those in flight (a compile's memory grows with its literals; two
 * of the largest at once would pass the peak-memory target), or any when
 * nothing is in flight. SIZE_MAX when none is left; PF_NO_JOB_YET when
 * none fits now (the worker waits for one in flight to end). Under the
 * pool's lock. */
#define PF_NO_JOB_YET (SIZE_MAX - 1)

static size_t take_job(compile_pool *p)
{
    if (!p->untaken)
        return SIZE_MAX;
    for (size_t i = 0; i < p->njobs; i++)
        if (!p->taken[i] &&
            (!p->in_flight || p->in_flight + p->jobs[i].ndistinct <= PF_COMPILE_LITERALS)) {
            p->taken[i] = 1;
            p->untaken--;
            p->in_flight += p->jobs[i].ndistinct;
            return i;
        }
    return PF_NO_JOB_YET;
}

static void *compile_worker_main(void *arg)
{
    compile_worker *w = arg;
    compile_pool *p = w->pool;
    pthread_mutex_lock(&p->lock);
    for (size_t i; (i = take_job(p)) != SIZE_MAX;) {
        if (i == PF_NO_JOB_YET) { /* something is in flight: wait for it to end */
            pthread_cond_wait(&p->done, &p->lock);
            continue;
        }
        pthread_mutex_unlock(&p->lock);
        compile_job *j = &p->jobs[i];
        j->failed = compile_one(p->e, j->from, j->to, p->cache_dir, j->db, &w->st) != 0;
        pthread_mutex_lock(&p->lock);
        p->in_flight -= j->ndistinct;
        pthread_cond_broadcast(&p->done);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* The largest databases first, so that the threads finish together. */
static int by_size_desc(const void *pa, const void *pb)
{
    const compile_job *a = pa, *b = pb;
    return (a->ndistinct < b->ndistinct) - (a->ndistinct > b->ndistinct);
}

/* Compile (or read from the cache) every job's database, on up to `threads`
 * threads: the databases do not depend on each other, and compiling them is
 * most of a load with a cold cache. 0, or -1 when one failed. */
static int compile_jobs(const pf_entry *e, compile_job *jobs, size_t njobs, unsigned threads,
                        const char *cache_dir, sg_hs_cache_stats *st)
{
    if (threads > PF_MAX_COMPILE_THREADS)
        threads = PF_MAX_COMPILE_THREADS;
    if (threads > njobs)
        threads = (unsigned)njobs;
    qsort(jobs, njobs, sizeof *jobs, by_size_desc);
    compile_pool pool = {.e = e, .jobs = jobs, .njobs = njobs, .cache_dir = cache_dir,
                         .taken = calloc(njobs ? njobs : 1, 1), .untaken = njobs};
    if (!pool.taken)
        return -1;
    pthread_mutex_init(&pool.lock, NULL);
    pthread_cond_init(&pool.done, NULL);
    compile_worker w[PF_MAX_COMPILE_THREADS] = {0};
    unsigned started = 0;
    for (unsigned t = 1; t < threads; t++, started++) {
        w[t].pool = &pool;
        if (pthread_create(&w[t].tid, NULL, compile_worker_main, &w[t]) != 0)
            break; /* fewer helpers: this thread takes the rest */
    }
    w[0].pool = &pool;
    compile_worker_main(&w[0]);
    for (unsigned t = 1; t <= started; t++)
        pthread_join(w[t].tid, NULL);
    pthread_cond_destroy(&pool.done);
    pthread_mutex_destroy(&pool.lock);
    free(pool.taken);
    int rc = 0;
    for (unsigned t = 0; t <= started; t++) {
        st->hits += w[t].st.hits;
        st->compiled += w[t].st.compiled;
        st->stored += w[t].st.stored;
        st->store_failed += w[t].st.store_failed;
    }
    for (size_t i = 0; i < njobs; i++)
        rc |= jobs[i].failed ? -1 : 0;
    return rc;
}

/* Could literal l occur in the text of a typed value (ps_field.typed:
 * digits, a-f, A-F, x, S, T, Z, - { } : . ,)? Case folded either way, to be
 * sure. When no keyword literal could, the keyword scan leaves such values
 * out: in most events they are most of the bytes (IDs, times, GUIDs). */
static int typed_text_may_hold(const pf_lit *l)
{
    static const char typed_folded[] = "abcdefxstz-{}:.,";
    for (uint32_t i = 0; i < l->len; i++) {
        unsigned char c = (unsigned char)l->bytes[i];
        if (c >= '0' && c <= '9')
            continue;
        if (c == 0 || c >= 0x80 || !strchr(typed_folded, c | 0x20))
            return 0;
    }
    return 1;
}

/* One database per field symbol of the literals of its values, scanned over
 * that field's values only, and one of the keyword searches' literals,
 * scanned over every value: the cost of a scan grows with the literals in
 * its database, and most literals are looked for in one field only. */
static int compile_databases(sg_prefilter *pf, const pf_entry *e, size_t n, uint32_t nsyms,
                             ps_arena *arena, const char *cache_dir, unsigned threads,
                             sg_hs_cache_stats *st)
{
    pf->field_db = ps_arena_zalloc(arena, (nsyms + 1) * sizeof *pf->field_db);
    pf->field_base = ps_arena_zalloc(arena, (nsyms + 1) * sizeof *pf->field_base);
    pf->field_exact = ps_arena_zalloc(arena, (nsyms + 1) * sizeof *pf->field_exact);
    compile_job *jobs = malloc((nsyms + SG_KW_COUNT) * sizeof *jobs);
    if (!pf->field_db || !pf->field_base || !pf->field_exact || !jobs) {
        free(jobs);
        return -1;
    }
    size_t njobs = 0;
    uint32_t id = 0;
    int rc = 0;
    for (size_t from = 0; rc == 0 && from < n;) {
        size_t to = from;
        uint32_t ndistinct = 0;
        int exact = 1;
        while (to < n && e[to].lit.sym == e[from].lit.sym) {
            ndistinct += to == from || !same_literal(&e[to], &e[to - 1]);
            exact &= e[to].lit.exact;
            to++;
        }
        int32_t sym = e[from].lit.sym;
        sg_keyword_db *kw = sym < 0 ? &pf->kw[keyword_db_of(sym)] : NULL;
        hs_database_t **db = kw ? &kw->db : &pf->field_db[sym];
        *(kw ? &kw->base : &pf->field_base[sym]) = id;
        if (kw) {
            kw->nlits = ndistinct;
            kw->skips_typed = 1;
            for (size_t i = from; i < to; i++) {
                if (!kw->min_len || e[i].lit.len < kw->min_len)
                    kw->min_len = e[i].lit.len;
                kw->skips_typed &= !typed_text_may_hold(&e[i].lit);
            }
        }
        sg_exact_table forms = {0};
        if (sym >= 0 && (exact || keyed_forms(e, from, to, &forms))) {
            /* An entry merges equal literals of several values: the table
             * of whole values stands only when every one of them is an
             * equality. */
            if (!(pf->field_exact[sym] = exact_table(e, from, to, ndistinct, &forms, arena)))
                rc = -1;
        } else if (njobs < nsyms + SG_KW_COUNT) { /* one per symbol, and the keywords' */
            jobs[njobs++] = (compile_job){from, to, db, ndistinct, 0};
        } else {
            rc = -1; /* cannot happen: entries are sorted by symbol */
        }
        pf->ndbs++;
        id += ndistinct;
        from = to;
    }
    if (rc == 0)
        rc = compile_jobs(e, jobs, njobs, threads, cache_dir, st);
    free(jobs);
    return rc;
}

/* ---- which fields to scan ---------------------------------------------------------- */

static void set_bit(uint64_t *bits, uint32_t bit) { bits[bit / 64] |= 1ull << (bit % 64); }

/* The scan map of postings [first, first + n): the fields of their gated
 * rules' clause 0 (bit syms.n: every field, for keyword searches), scanned
 * for every event of the list; *out NULL when there are none. Other fields
 * are scanned when a rule needs them (match.c). -1 when out of memory. */
static int list_scan_map(ps_sigma_set *set, uint32_t first, uint32_t n, sg_scan_map *out)
{
    const sg_prefilter *pf = &set->prefilter;
    *out = NULL;
    if (!n)
        return 0;
    uint32_t last_bit = set->syms.n + SG_KW_COUNT - 1; /* the last keyword database's */
    uint64_t *bits = ps_arena_zalloc(&set->arena, (last_bit / 64 + 1) * sizeof *bits);
    if (!bits)
        return -1;
    int any = 0;
    for (uint32_t k = first; k < first + n; k++) {
        uint32_t c = set->postings[k];
        for (uint32_t j = 0; j < pf->syms0_n[c]; j++) {
            set_bit(bits, (uint32_t)pf->rule_syms[pf->syms_first[c] + j]);
            any = 1;
        }
    }
    *out = any ? bits : NULL;
    return 0;
}

/* Split postings [first, first + n) into the always-evaluated and the gated
 * ones, appended to pf->always and pf->gated_post (both in posting order,
 * which is ascending compiled index: see index.c). */
static void split_list(ps_sigma_set *set, uint32_t first, uint32_t n, uint32_t *nalways,
                       uint32_t *ngated, sg_split *out)
{
    sg_prefilter *pf = &set->prefilter;
    out->always_first = *nalways;
    out->gated_first = *ngated;
    for (uint32_t k = first; k < first + n; k++) {
        uint32_t c = set->postings[k];
        if (pf->gate[c])
            pf->gated_post[(*ngated)++] = c;
        else
            pf->always[(*nalways)++] = c;
    }
    out->always_n = *nalways - out->always_first;
    out->gated_n = *ngated - out->gated_first;
}

static int build_scan_maps(ps_sigma_set *set)
{
    sg_prefilter *pf = &set->prefilter;
    uint32_t total = set->every_first + set->every_n; /* every posting */
    pf->always = ps_arena_alloc(&set->arena, (total + 1) * sizeof *pf->always);
    pf->gated_post = ps_arena_alloc(&set->arena, (total + 1) * sizeof *pf->gated_post);
    if (!pf->always || !pf->gated_post)
        return -1;
    uint32_t na = 0, ng = 0;
    for (uint32_t i = 0; i < set->nbuckets; i++) {
        sg_channel_bucket *b = &set->buckets[i];
        if (!b->channel)
            continue;
        for (uint32_t e = 0; e < b->nby_eid; e++) {
            sg_eid_list *l = &b->by_eid[e];
            if (list_scan_map(set, l->first, l->n, &l->scan) != 0)
                return -1;
            split_list(set, l->first, l->n, &na, &ng, &l->split);
        }
        if (list_scan_map(set, b->any_first, b->any_n, &b->any_scan) != 0 ||
            list_scan_map(set, b->fallback_first, b->fallback_n, &b->fallback_scan) != 0)
            return -1;
        split_list(set, b->any_first, b->any_n, &na, &ng, &b->any_split);
        split_list(set, b->fallback_first, b->fallback_n, &na, &ng, &b->fallback_split);
    }
    split_list(set, set->every_first, set->every_n, &na, &ng, &pf->every_split);
    return list_scan_map(set, set->every_first, set->every_n, &pf->every_scan);
}

/* ---- the prefilter ----------------------------------------------------------------- */

/* Forget the literal ids given to values (the set then has no prefilter). */
static void clear_map_ids(const sg_map *m)
{
    for (uint32_t i = 0; i < m->n; i++) {
        for (uint32_t k = 0; k < m->items[i].nvalues; k++)
            m->items[i].values[k].pf_id = 0;
        m->items[i].ids = NULL;
    }
}

static void clear_detection_ids(const sg_detection *d)
{
    for (uint32_t s = 0; s < d->nsel; s++)
        for (uint32_t m = 0; m < d->sel[s].nmaps; m++)
            clear_map_ids(&d->sel[s].maps[m]);
}

static void clear_value_ids(ps_sigma_set *set)
{
    for (uint32_t i = 0; i < set->ncompiled; i++) {
        const sg_compiled *c = &set->compiled[i];
        clear_detection_ids(&c->det);
        clear_map_ids(&c->extra);
        for (uint32_t f = 0; f < c->nfilters; f++)
            clear_detection_ids(&c->filters[f]);
    }
}

int sg_prefilter_build(ps_sigma_set *set, const char *cache_dir, unsigned threads,
                       sg_hs_cache_stats *st)
{
    sg_prefilter *pf = &set->prefilter;
    memset(pf, 0, sizeof *pf);
    pf->nsyms = set->syms.n;
    if (set->ncompiled == 0 || set->ncompiled >= SG_PF_MAX_COMPILED ||
        hs_valid_platform() != HS_SUCCESS)
        return 0; /* no prefilter: every rule is evaluated, results are the same */
    uint8_t *gate = ps_arena_zalloc(&set->arena, set->ncompiled);
    pf->syms_first = ps_arena_zalloc(&set->arena, set->ncompiled * sizeof *pf->syms_first);
    pf->syms0_n = ps_arena_zalloc(&set->arena, set->ncompiled * sizeof *pf->syms0_n);
    pf->syms_more_n = ps_arena_zalloc(&set->arena, set->ncompiled * sizeof *pf->syms_more_n);
    if (!gate || !pf->syms_first || !pf->syms0_n || !pf->syms_more_n)
        return -1;
    /* The rules of the every list: their keywords are scanned over every event. */
    uint8_t *rule_every = calloc(set->nrules + 1, 1);
    if (!rule_every)
        return -1;
    for (uint32_t k = set->every_first; k < set->every_first + set->every_n; k++)
        rule_every[set->posting_rules[k]] = 1;
    pf_entries es = {0};
    rule_syms rs = {0};
    int collected = collect_entries(set, gate, rule_every, &es, &rs);
    free(rule_every);
    if (collected != 0) {
        free(es.e);
        free(rs.s);
        return -1;
    }
    pf->rule_syms = ps_arena_alloc(&set->arena, (rs.n + 1) * sizeof *pf->rule_syms);
    if (!pf->rule_syms) {
        free(es.e);
        free(rs.s);
        return -1;
    }
    if (rs.n)
        memcpy(pf->rule_syms, rs.s, rs.n * sizeof *rs.s);
    free(rs.s);
    if (es.n > 1)
        qsort(es.e, es.n, sizeof *es.e, entry_cmp);
    int rc = es.n ? build_postings(pf, es.e, es.n, &set->arena) : 0;
    if (rc == 0 && pf->nlits)
        rc = give_value_ids(set, es.e, es.n);
    if (cache_dir && !sg_hs_cache_usable(cache_dir))
        cache_dir = NULL; /* compile, as without a cache */
    if (rc == 0 && pf->nlits &&
        compile_databases(pf, es.e, es.n, set->syms.n, &set->arena, cache_dir, threads, st) == 0) {
        pf->gate = gate;
        for (uint32_t i = 0; i < set->ncompiled; i++)
            pf->ngated += gate[i] != 0;
        rc = build_scan_maps(set);
    } else {
        sg_prefilter_free(pf);
        pf->nlits = 0; /* could not build it: evaluate every rule, every value */
        clear_value_ids(set);
    }
    free(es.e);
    return rc;
}

void sg_prefilter_free(sg_prefilter *pf)
{
    for (int k = 0; k < SG_KW_COUNT; k++)
        if (pf->kw[k].db)
            hs_free_database(pf->kw[k].db);
    for (uint32_t i = 0; pf->field_db && i < pf->nsyms; i++)
        if (pf->field_db[i])
            hs_free_database(pf->field_db[i]);
    memset(pf->kw, 0, sizeof pf->kw);
    pf->field_db = NULL;
    pf->field_base = NULL;
    pf->ndbs = 0;
}
