/* Sigma correlation rules (v2): the `correlation:` section -> sg_correlation.
 * References to other rules are resolved by id or name against the rules
 * already loaded; group-by and value fields are resolved, per referenced rule,
 * through the correlation's aliases and each of the rule's logsource field
 * renames, to the symbols the matcher uses for event fields. */
#include <stdlib.h>
#include <string.h>

#include "sigma/sigma_internal.h"

#define TICKS_PER_SECOND 10000000ull
#define MAX_TIMESPAN_SECONDS (3650ull * 86400ull)

static int parse_type(const char *s, uint8_t *out)
{
    static const char *const names[] = {"event_count", "value_count", "temporal",
                                        "temporal_ordered"};
    for (uint8_t i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = i;
            return 0;
        }
    return -1;
}

/* "30s", "5m", "1h", "2d", "1w" -> 100 ns ticks. */
static int parse_timespan(const char *s, uint64_t *out)
{
    uint64_t n = 0;
    size_t i = 0;
    for (; s[i] >= '0' && s[i] <= '9'; i++) {
        n = n * 10 + (uint64_t)(s[i] - '0');
        if (n > MAX_TIMESPAN_SECONDS)
            return -1;
    }
    if (i == 0 || !s[i] || s[i + 1])
        return -1;
    static const struct { char unit; uint64_t seconds; } units[] = {
        {'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}, {'w', 7 * 86400}};
    for (size_t u = 0; u < sizeof units / sizeof units[0]; u++)
        if (s[i] == units[u].unit) {
            uint64_t secs = n * units[u].seconds;
            if (secs == 0 || secs > MAX_TIMESPAN_SECONDS)
                return -1;
            *out = secs * TICKS_PER_SECOND;
            return 0;
        }
    return -1;
}

static int parse_count(const char *s, uint64_t *out)
{
    if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 18)
        return -1;
    *out = strtoull(s, NULL, 10);
    return 0;
}

/* `condition: {gte: 10, field: X}`; `field` is returned separately. */
static int parse_condition(sg_compile_ctx *cc, const yt_node *cond, sg_correlation *out,
                           const char **field)
{
    static const char *const ops[CC__COUNT] = {"gt", "gte", "lt", "lte", "eq"};
    *field = NULL;
    if (cond->type != YT_MAP)
        return sg_compile_fail(cc, PS_SIGMA_SKIP_CORRELATION, cond->line, "condition is not a map");
    for (uint32_t i = 0; i < cond->n; i++) {
        const yt_node *k = cond->items[2 * i], *v = cond->items[2 * i + 1];
        if (k->type != YT_SCALAR || v->type != YT_SCALAR)
            return sg_compile_fail(cc, PS_SIGMA_SKIP_CORRELATION, k->line, "bad condition item");
        if (strcmp(k->text, "field") == 0) {
            *field = v->text;
            continue;
        }
        int op = 0;
        while (op < CC__COUNT && strcmp(k->text, ops[op]) != 0)
            op++;
        if (op == CC__COUNT || parse_count(v->text, &out->limit[op]) != 0)
            return sg_compile_fail(cc, PS_SIGMA_SKIP_CORRELATION, k->line,
                                   "bad condition '%s: %s'", k->text, v->text);
        out->has[op] = 1;
    }
    return 0;
}

static int rule_named(const sg_rule *r, const char *ref)
{
    return (*r->info.id && strcmp(r->info.id, ref) == 0) ||
           (*r->info.name && strcmp(r->info.name, ref) == 0);
}

static int resolve_rules(sg_compile_ctx *cc, ps_sigma_set *set, const yt_node *refs,
                         sg_correlation *out)
{
    uint32_t n = refs->type == YT_SEQ ? refs->n : 1;
    if (n == 0 || n > SG_CORR_MAX_RULES)
        return sg_compile_fail(cc, PS_SIGMA_SKIP_CORRELATION, refs->line,
                               "correlation needs 1 to %d rules", SG_CORR_MAX_RULES);
    out->rules = ps_arena_alloc(cc->arena, n * sizeof *out->rules);
    if (!out->rules)
        return sg_compile_fail(cc, PS_SIGMA_SKIP_LIMIT, refs->line, "out of memory");
    for (uint32_t i = 0; i < n; i++) {
        const yt_node *ref = refs->type == YT_SEQ ? refs->items[i] : refs;
        uint32_t r = 0;
        while (ref->type == YT_SCALAR && r < set->nrules && !rule_named(&set->rules[r], ref->text))
            r++;
        if (ref->type != YT_SCALAR || r == set->nrules)
            return sg_compile_fail(cc, PS_SIGMA_SKIP_CORRELATION, ref->line,
                                   "referenced rule '%s' is not loaded",
                                   ref->type == YT_SCALAR ? ref->text : "?");
        if (set->rules[r].info.is_correlation)
            return sg_compile_fail(cc, PS_SIGMA_SKIP_CORRELATION, ref->line,
                                   "correlation of correlations is not supported");
        out->rules[i] = r;
    }
    out->nrules = n;
    return 0;
}

/* The field name `name` has in rule `r`: its alias entry for r, if any. */
static const char *aliased(const yt_node *aliases, const sg_rule *r, const char *name)
{
    const yt_node *per_rule = aliases ? yt_get(aliases, name) : NULL;
    if (!per_rule || per_rule->type != YT_MAP)
        return name;
    for (uint32_t i = 0; i < per_rule->n; i++) {
        const yt_node *k = per_rule->items[2 * i], *v = per_rule->items[2 * i + 1];
        if (k->type == YT_SCALAR && v->type == YT_SCALAR && rule_named(r, k->text))
            return v->text;
    }
    return name;
}

/* Symbols of `name` in the events of rule `r` (one per logsource variant). */
static int resolve_field(sg_compile_ctx *cc, ps_sigma_set *set, const sg_rule *r,
                         const char *name, uint32_t line, sg_corr_field *out)
{
    uint32_t nvariants = r->ncompiled ? r->ncompiled : 1;
    out->syms = ps_arena_alloc(cc->arena, nvariants * sizeof *out->syms);
    out->nsyms = 0;
    if (!out->syms)
        return sg_compile_fail(cc, PS_SIGMA_SKIP_LIMIT, line, "out of memory");
    for (uint32_t k = 0; k < nvariants; k++) {
        const sg_variant_def *v = r->ncompiled ? set->compiled[r->first_compiled + k].variant : NULL;
        const char *mapped = sg_field_mapped_name(cc->ls, v, name);
        const char *key;
        size_t key_len;
        sg_event_field_key(mapped, strlen(mapped), &key, &key_len);
        int32_t sym = sg_sym_intern(cc->syms, key, key_len);
        if (sym < 0)
            return sg_compile_fail(cc, PS_SIGMA_SKIP_LIMIT, line, "out of memory");
        uint32_t j = 0;
        while (j < out->nsyms && out->syms[j] != sym)
            j++;
        if (j == out->nsyms)
            out->syms[out->nsyms++] = sym;
    }
    return 0;
}

static int parse_group_by(sg_compile_ctx *cc, const yt_node *gb, sg_correlation *out)
{
    if (!gb)
        return 0;
    uint32_t n = gb->type == YT_SEQ ? gb->n : 1;
    if (n > SG_CORR_MAX_GROUP || gb->type == YT_MAP)
        return sg_compile_fail(cc, PS_SIGMA_SKIP_CORRELATION, gb->line, "bad group-by");
    out->group_names = ps_arena_alloc(cc->arena, (n + 1) * sizeof *out->group_names);
    if (!out->group_names)
        return sg_compile_fail(cc, PS_SIGMA_SKIP_LIMIT, gb->line, "out of memory");
    for (uint32_t i = 0; i < n; i++) {
        const yt_node *f = gb->type == YT_SEQ ? gb->items[i] : gb;
        if (f->type != YT_SCALAR || !f->len)
            return sg_compile_fail(cc, PS_SIGMA_SKIP_CORRELATION, f->line, "bad group-by field");
        if (!(out->group_names[i] = ps_arena_strndup(cc->arena, f->text, f->len)))
            return sg_compile_fail(cc, PS_SIGMA_SKIP_LIMIT, f->line, "out of memory");
    }
    out->ngroup = n;
    return 0;
}

static int resolve_fields(sg_compile_ctx *cc, ps_sigma_set *set, const yt_node *aliases,
                          const char *value_field, uint32_t line, sg_correlation *out)
{
    out->group = ps_arena_zalloc(cc->arena, (out->nrules * out->ngroup + 1) * sizeof *out->group);
    out->value = ps_arena_zalloc(cc->arena, out->nrules * sizeof *out->value);
    if (!out->group || !out->value)
        return sg_compile_fail(cc, PS_SIGMA_SKIP_LIMIT, line, "out of memory");
    for (uint32_t s = 0; s < out->nrules; s++) {
        const sg_rule *r = &set->rules[out->rules[s]];
        for (uint32_t g = 0; g < out->ngroup; g++)
            if (resolve_field(cc, set, r, aliased(aliases, r, out->group_names[g]), line,
                              &out->group[s * out->ngroup + g]) != 0)
                return -1;
        if (value_field &&
            resolve_field(cc, set, r, aliased(aliases, r, value_field), line, &out->value[s]) != 0)
            return -1;
    }
    return 0;
}

int sg_correlation_compile(sg_compile_ctx *cc, ps_sigma_set *set, const yt_node *root,
                           sg_correlation *out)
{
    memset(out, 0, sizeof *out);
    const yt_node *corr = yt_get(root, "correlation");
    if (!corr || corr->type != YT_MAP)
        return sg_compile_fail(cc, PS_SIGMA_SKIP_STRUCTURE, root->line, "correlation is not a map");
    const char *type = yt_get_str(corr, "type"), *span = yt_get_str(corr, "timespan");
    const yt_node *refs = yt_get(corr, "rules"), *cond = yt_get(corr, "condition");
    if (!type || parse_type(type, &out->type) != 0)
        return sg_compile_fail(cc, PS_SIGMA_SKIP_CORRELATION, corr->line, "unknown correlation type");
    if (!span || parse_timespan(span, &out->timespan) != 0)
        return sg_compile_fail(cc, PS_SIGMA_SKIP_CORRELATION, corr->line, "bad or missing timespan");
    if (!refs)
        return sg_compile_fail(cc, PS_SIGMA_SKIP_CORRELATION, corr->line, "no rules");
    const char *value_field = NULL;
    int counting = out->type == CT_EVENT_COUNT || out->type == CT_VALUE_COUNT;
    if (counting && !cond)
        return sg_compile_fail(cc, PS_SIGMA_SKIP_CORRELATION, corr->line, "no condition");
    if (cond && parse_condition(cc, cond, out, &value_field) != 0)
        return -1;
    if (out->type == CT_VALUE_COUNT && !value_field)
        return sg_compile_fail(cc, PS_SIGMA_SKIP_CORRELATION, cond->line, "value_count needs a field");
    if (out->type != CT_VALUE_COUNT)
        value_field = NULL;
    if (value_field && !(out->value_name = ps_arena_strndup(cc->arena, value_field,
                                                            strlen(value_field))))
        return sg_compile_fail(cc, PS_SIGMA_SKIP_LIMIT, corr->line, "out of memory");
    const char *gen = yt_get_str(corr, "generate");
    out->generate = gen && strcmp(gen, "true") == 0;
    if (resolve_rules(cc, set, refs, out) != 0 || parse_group_by(cc, yt_get(corr, "group-by"), out) != 0)
        return -1;
    int has_any = 0;
    for (int op = 0; op < CC__COUNT; op++)
        has_any |= out->has[op];
    if (!has_any) { /* temporal without a condition: every rule must be seen */
        out->has[CC_GTE] = 1;
        out->limit[CC_GTE] = out->nrules;
    }
    return resolve_fields(cc, set, yt_get(corr, "aliases"), value_field, corr->line, out);
}
