/* Loading rule files into a ps_sigma_set: directory walk, per-document rule
 * compilation for each logsource variant, filter rules, load statistics. */
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sigma/sigma_internal.h"
#include "util/buf.h"

#define SG_MAX_DIR_DEPTH 32
#define SG_SET_MEMORY_LIMIT ((size_t)1 << 30)

typedef struct pending_filter {
    yt_node *root;          /* deep copy in the loader's filter arena */
    const char *path;
    uint32_t line;
} pending_filter;

typedef struct loader {
    ps_sigma_set *set;
    const ps_sigma_options *opt;
    ps_sigma_stats *stats;
    sg_logsources ls;
    ps_arena file_arena;    /* YAML trees of the current file */
    ps_arena filter_arena;  /* filter rules kept until every rule is loaded */
    pending_filter *filters;
    uint32_t nfilters, filters_cap;
    pending_filter *corrs;  /* correlation rules, loaded after every base rule */
    uint32_t ncorrs, corrs_cap;
    const char *path;       /* current file (in the set arena) */
    ps_buf text;            /* the current file's bytes */
    sg_value_scratch scratch;
} loader;

const char *ps_sigma_skip_str(ps_sigma_skip reason)
{
    static const char *const names[PS_SIGMA_SKIP__COUNT] = {
        "YAML error", "bad rule structure", "bad condition", "unknown or bad modifier",
        "bad value", "aggregation (deprecated)", "correlation rule that cannot be evaluated",
        "filter without loaded targets", "over a limit",
    };
    return (unsigned)reason < PS_SIGMA_SKIP__COUNT ? names[reason] : "unknown";
}

static void diag(loader *ld, ps_severity sev, uint32_t line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void diag(loader *ld, ps_severity sev, uint32_t line, const char *fmt, ...)
{
    if (!ld->opt || !ld->opt->diag)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ps_diag d = {.severity = sev, .path = ld->path, .offset = line, .is_line = 1, .message = msg};
    ld->opt->diag(ld->opt->diag_ctx, &d);
}

static void skip_rule(loader *ld, ps_sigma_skip reason, uint32_t line, const char *msg)
{
    ld->stats->skipped[reason]++;
    ld->stats->rules_skipped++;
    diag(ld, PS_DIAG_ERROR, line, "rule skipped: %s", msg);
}

static const char *keep(loader *ld, const char *s)
{
    return s ? ps_arena_strndup(&ld->set->arena, s, strlen(s)) : "";
}

static int grow(void **arr, uint32_t *cap, uint32_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    uint32_t nc = *cap ? *cap * 2 : 64;
    while (nc < need)
        nc *= 2;
    void *p = realloc(*arr, (size_t)nc * size);
    if (!p)
        return -1;
    *arr = p;
    *cap = nc;
    return 0;
}

static void compile_ctx_init(loader *ld, sg_compile_ctx *cc, const sg_variant_def *v)
{
    memset(cc, 0, sizeof *cc);
    cc->arena = &ld->set->arena;
    cc->scratch = &ld->scratch;
    cc->syms = &ld->set->syms;
    cc->ls = &ld->ls;
    cc->variant = v;
    cc->opt = ld->opt;
    cc->regexes = &ld->set->regexes;
    cc->nregexes = &ld->set->nregexes;
    cc->regex_cap = &ld->set->regex_cap;
}

/* ---- rule metadata ------------------------------------------------------------ */

static int fill_info(loader *ld, const yt_node *root, uint32_t line, ps_sigma_rule_info *info)
{
    info->title = keep(ld, yt_get_str(root, "title"));
    info->id = keep(ld, yt_get_str(root, "id"));
    info->name = keep(ld, yt_get_str(root, "name"));
    info->level = keep(ld, yt_get_str(root, "level"));
    info->status = keep(ld, yt_get_str(root, "status"));
    info->description = keep(ld, yt_get_str(root, "description"));
    info->author = keep(ld, yt_get_str(root, "author"));
    info->path = ld->path;
    info->line = line;
    const yt_node *tags = yt_get(root, "tags");
    if (tags && tags->type == YT_SEQ && tags->n) {
        const char **t = ps_arena_zalloc(&ld->set->arena, tags->n * sizeof *t);
        if (!t)
            return -1;
        for (uint32_t i = 0; i < tags->n; i++)
            if (tags->items[i]->type == YT_SCALAR)
                t[info->ntags++] = keep(ld, tags->items[i]->text);
        info->tags = t;
    }
    return info->title && info->id ? 0 : -1;
}

/* ---- detection rules ------------------------------------------------------------- */

static int add_compiled(loader *ld, const yt_node *detection, const sg_variant_def *v,
                        uint32_t rule_index, sg_compile_ctx *cc)
{
    ps_sigma_set *set = ld->set;
    if (grow((void **)&set->compiled, &set->compiled_cap, set->ncompiled + 1,
             sizeof *set->compiled) != 0)
        return sg_compile_fail(cc, PS_SIGMA_SKIP_LIMIT, detection->line, "out of memory");
    sg_compiled *c = &set->compiled[set->ncompiled];
    memset(c, 0, sizeof *c);
    c->rule = rule_index;
    c->variant = v;
    compile_ctx_init(ld, cc, v);
    if (sg_compile_detection(cc, detection, &c->det) != 0 || sg_compile_extra(cc, v, &c->extra) != 0)
        return -1;
    set->ncompiled++;
    return 0;
}

static const char *logsource_field(const yt_node *ls, const char *key)
{
    const char *s = yt_get_str(ls, key);
    return s && *s ? s : NULL;
}

static void load_detection_rule(loader *ld, const yt_node *root, uint32_t line)
{
    const yt_node *logsource = yt_get(root, "logsource");
    const yt_node *detection = yt_get(root, "detection");
    if (!logsource || logsource->type != YT_MAP || !detection || detection->type != YT_MAP) {
        skip_rule(ld, PS_SIGMA_SKIP_STRUCTURE, line, "needs a logsource map and a detection map");
        return;
    }
    const sg_variant_def *variants = NULL;
    uint32_t nvariants = sg_logsources_lookup(&ld->ls, logsource_field(logsource, "product"),
                                              logsource_field(logsource, "category"),
                                              logsource_field(logsource, "service"), &variants);
    ps_sigma_set *set = ld->set;
    uint32_t first = set->ncompiled, rule_index = set->nrules;
    sg_compile_ctx cc;
    compile_ctx_init(ld, &cc, NULL);
    int rc = 0;
    if (nvariants == 0) /* still compiled: errors are reported and unmapped rules can match */
        rc = add_compiled(ld, detection, NULL, rule_index, &cc);
    for (uint32_t i = 0; i < nvariants && rc == 0; i++)
        rc = add_compiled(ld, detection, &variants[i], rule_index, &cc);
    if (rc == 0 && grow((void **)&set->rules, &set->rules_cap, set->nrules + 1, sizeof *set->rules))
        rc = sg_compile_fail(&cc, PS_SIGMA_SKIP_LIMIT, line, "out of memory");
    if (rc == 0) {
        sg_rule *r = &set->rules[set->nrules];
        memset(r, 0, sizeof *r);
        if (fill_info(ld, root, line, &r->info) != 0)
            rc = sg_compile_fail(&cc, PS_SIGMA_SKIP_LIMIT, line, "out of memory");
        r->first_compiled = first;
        r->ncompiled = set->ncompiled - first;
        r->unmapped = nvariants == 0;
    }
    if (rc != 0) {
        set->ncompiled = first;
        skip_rule(ld, cc.reason, cc.line ? cc.line : line, cc.msg);
        return;
    }
    set->nrules++;
    ld->stats->rules_loaded++;
    ld->stats->rules_unmapped += nvariants == 0;
}

/* ---- filter rules ------------------------------------------------------------------- */

static yt_node *copy_tree(ps_arena *a, const yt_node *n, int depth)
{
    if (depth > YT_MAX_DEPTH)
        return NULL;
    yt_node *c = ps_arena_alloc(a, sizeof *c);
    if (!c)
        return NULL;
    *c = *n;
    c->text = ps_arena_strndup(a, n->text, n->len);
    uint32_t count = n->type == YT_MAP ? 2 * n->n : n->type == YT_SEQ ? n->n : 0;
    if (count) {
        c->items = ps_arena_alloc(a, count * sizeof *c->items);
        if (!c->items)
            return NULL;
        for (uint32_t i = 0; i < count; i++)
            if (!(c->items[i] = copy_tree(a, n->items[i], depth + 1)))
                return NULL;
    }
    return c->text ? c : NULL;
}

static void defer(loader *ld, pending_filter **list, uint32_t *n, uint32_t *cap,
                  const yt_node *root, uint32_t line)
{
    yt_node *copy = copy_tree(&ld->filter_arena, root, 0);
    if (!copy || grow((void **)list, cap, *n + 1, sizeof **list) != 0) {
        skip_rule(ld, PS_SIGMA_SKIP_LIMIT, line, "out of memory");
        return;
    }
    (*list)[(*n)++] = (pending_filter){copy, ld->path, line};
}

static int rule_is_named(const sg_rule *r, const char *ref)
{
    return (*r->info.id && strcmp(r->info.id, ref) == 0) ||
           (*r->info.name && strcmp(r->info.name, ref) == 0);
}

/* Attach the filter's detection (compiled with each variant's renames) to
 * every compiled form of the rule `target`. */
static int attach_filter(loader *ld, const yt_node *filter, uint32_t target, sg_compile_ctx *cc)
{
    const sg_rule *r = &ld->set->rules[target];
    for (uint32_t k = r->first_compiled; k < r->first_compiled + r->ncompiled; k++) {
        sg_compiled *c = &ld->set->compiled[k];
        sg_detection det;
        compile_ctx_init(ld, cc, c->variant);
        if (sg_compile_detection(cc, filter, &det) != 0)
            return -1;
        if (c->nfilters == c->filters_cap) {
            uint32_t cap = c->filters_cap ? c->filters_cap * 2 : 2;
            sg_detection *nf = ps_arena_alloc(&ld->set->arena, cap * sizeof *nf);
            if (!nf)
                return sg_compile_fail(cc, PS_SIGMA_SKIP_LIMIT, filter->line, "out of memory");
            if (c->nfilters)
                memcpy(nf, c->filters, c->nfilters * sizeof *nf);
            c->filters = nf;
            c->filters_cap = cap;
        }
        c->filters[c->nfilters++] = det;
    }
    return 0;
}

/* `filter:` holds `rules:` (ids or names) beside selections and a condition. */
static void apply_filter(loader *ld, const pending_filter *pf)
{
    ld->path = pf->path;
    const yt_node *filter = yt_get(pf->root, "filter");
    const yt_node *refs = yt_get(filter, "rules");
    if (!filter || filter->type != YT_MAP || !refs) {
        skip_rule(ld, PS_SIGMA_SKIP_STRUCTURE, pf->line, "filter needs rules: and a condition");
        return;
    }
    /* The filter's own detection is the filter map without `rules`. */
    yt_node det = *filter;
    yt_node *items[2 * 256];
    if (filter->n > 256) {
        skip_rule(ld, PS_SIGMA_SKIP_LIMIT, pf->line, "filter too large");
        return;
    }
    det.n = 0;
    det.items = items;
    for (uint32_t i = 0; i < filter->n; i++)
        if (strcmp(filter->items[2 * i]->text, "rules") != 0) {
            items[2 * det.n] = filter->items[2 * i];
            items[2 * det.n++ + 1] = filter->items[2 * i + 1];
        }
    uint32_t nrefs = refs->type == YT_SEQ ? refs->n : 1, hits = 0;
    sg_compile_ctx cc;
    compile_ctx_init(ld, &cc, NULL);
    for (uint32_t i = 0; i < nrefs; i++) {
        const yt_node *ref = refs->type == YT_SEQ ? refs->items[i] : refs;
        for (uint32_t t = 0; ref->type == YT_SCALAR && t < ld->set->nrules; t++) {
            if (!rule_is_named(&ld->set->rules[t], ref->text))
                continue;
            if (attach_filter(ld, &det, t, &cc) != 0) {
                skip_rule(ld, cc.reason, cc.line ? cc.line : pf->line, cc.msg);
                return;
            }
            hits++;
        }
    }
    if (!hits) {
        skip_rule(ld, PS_SIGMA_SKIP_FILTER, pf->line, "none of the filter's rules is loaded");
        return;
    }
    ld->stats->filters_applied++;
}

/* ---- correlation rules ------------------------------------------------------------- */

static void load_correlation(loader *ld, const pending_filter *pc)
{
    ps_sigma_set *set = ld->set;
    ld->path = pc->path;
    sg_compile_ctx cc;
    compile_ctx_init(ld, &cc, NULL);
    sg_correlation corr;
    if (sg_correlation_compile(&cc, set, pc->root, &corr) != 0) {
        skip_rule(ld, cc.reason, cc.line ? cc.line : pc->line, cc.msg);
        return;
    }
    if (grow((void **)&set->rules, &set->rules_cap, set->nrules + 1, sizeof *set->rules) != 0 ||
        grow((void **)&set->corrs, &set->corrs_cap, set->ncorrs + 1, sizeof *set->corrs) != 0) {
        skip_rule(ld, PS_SIGMA_SKIP_LIMIT, pc->line, "out of memory");
        return;
    }
    sg_rule *r = &set->rules[set->nrules];
    memset(r, 0, sizeof *r);
    if (fill_info(ld, pc->root, pc->line, &r->info) != 0) {
        skip_rule(ld, PS_SIGMA_SKIP_STRUCTURE, pc->line, "needs a title and an id");
        return;
    }
    r->info.is_correlation = 1;
    corr.rule = set->nrules++;
    set->corrs[set->ncorrs++] = corr;
    ld->stats->correlations_loaded++;
}

static int ref_by_rule(const void *pa, const void *pb, void *ctx)
{
    const sg_correlation *corrs = ctx;
    const sg_corr_ref *a = pa, *b = pb;
    uint32_t ra = corrs[a->corr].rules[a->slot], rb = corrs[b->corr].rules[b->slot];
    if (ra != rb)
        return ra < rb ? -1 : 1;
    if (a->corr != b->corr)
        return a->corr < b->corr ? -1 : 1;
    return a->slot < b->slot ? -1 : a->slot > b->slot;
}

/* Per referenced rule, its (correlation, slot) pairs; and which rules are
 * results only through correlations (no `generate`). */
static int index_correlations(ps_sigma_set *set)
{
    uint32_t n = 0;
    for (uint32_t c = 0; c < set->ncorrs; c++)
        n += set->corrs[c].nrules;
    if (!n)
        return 0;
    set->corr_refs = malloc(n * sizeof *set->corr_refs);
    if (!set->corr_refs)
        return -1;
    n = 0;
    for (uint32_t c = 0; c < set->ncorrs; c++)
        for (uint32_t s = 0; s < set->corrs[c].nrules; s++)
            set->corr_refs[n++] = (sg_corr_ref){c, s};
    qsort_r(set->corr_refs, n, sizeof *set->corr_refs, ref_by_rule, set->corrs);
    for (uint32_t i = 0; i < n; i++) {
        const sg_correlation *c = &set->corrs[set->corr_refs[i].corr];
        sg_rule *r = &set->rules[c->rules[set->corr_refs[i].slot]];
        if (!r->corr_n) {
            r->corr_first = i;
            r->info.correlation_only = 1;
        }
        r->corr_n++;
        /* generate: true on any of its correlations keeps the rule's own results */
        if (c->generate)
            r->info.correlation_only = 0;
    }
    return 0;
}

/* ---- documents and files ----------------------------------------------------------- */

static int on_document(void *ctx, yt_node *root, uint32_t line)
{
    loader *ld = ctx;
    ld->stats->documents++;
    if (root->type != YT_MAP) {
        skip_rule(ld, PS_SIGMA_SKIP_STRUCTURE, line, "document is not a map");
        return 0;
    }
    if (yt_get(root, "correlation"))
        defer(ld, &ld->corrs, &ld->ncorrs, &ld->corrs_cap, root, line);
    else if (yt_get(root, "filter") && !yt_get(root, "detection"))
        defer(ld, &ld->filters, &ld->nfilters, &ld->filters_cap, root, line);
    else
        load_detection_rule(ld, root, line);
    return 0;
}

/* The documents of one file, as a Sigma v1 rule collection: a document with
 * `action: global` is laid under every later one of the file, `reset`
 * forgets it, `repeat` is laid over the document before it (as pySigma and
 * sigmac read them). Files without `action` are plain lists of rules. */
typedef struct collection {
    loader *ld;
    const yt_node *global;
    const yt_node *last;
} collection;

static int on_collected(void *ctx, yt_node *root, uint32_t line)
{
    collection *c = ctx;
    loader *ld = c->ld;
    ps_arena *a = &ld->file_arena;
    const char *action = root && root->type == YT_MAP ? yt_get_str(root, "action") : NULL;
    if (action) {
        yt_node *body = yt_without(a, root, "action");
        if (!strcmp(action, "global")) {
            c->global = body;
            ld->stats->documents++;
            return 0;
        }
        if (!strcmp(action, "reset")) {
            c->global = NULL;
            ld->stats->documents++;
            return 0;
        }
        if (strcmp(action, "repeat") != 0 || !c->last) {
            ld->stats->documents++;
            skip_rule(ld, PS_SIGMA_SKIP_STRUCTURE, line,
                      strcmp(action, "repeat") ? "unknown collection action (global, reset "
                                                 "and repeat are defined)"
                                               : "action: repeat without a rule before it");
            return 0;
        }
        root = body ? yt_merge(a, c->last, body, 0) : NULL;
    } else if (c->global) {
        root = yt_merge(a, c->global, root, 0);
    }
    if (!root) {
        ld->stats->documents++;
        skip_rule(ld, PS_SIGMA_SKIP_LIMIT, line, "rule collection too large to merge");
        return 0;
    }
    c->last = root;
    return on_document(ld, root, line);
}

static void load_text(loader *ld, const char *text, size_t len)
{
    char err[256];
    uint32_t err_line = 0;
    ps_arena_reset(&ld->file_arena);
    collection c = {.ld = ld};
    if (yt_parse(text, len, &ld->file_arena, on_collected, &c, err, sizeof err, &err_line) != 0)
        skip_rule(ld, PS_SIGMA_SKIP_YAML, err_line, err);
}

/* One file's documents, parsed (maybe on another thread), compiled here in
 * file order, with the same diagnostics as if read here. */
static void on_parsed(void *ctx, const sg_parsed_file *pf)
{
    loader *ld = ctx;
    ld->path = keep(ld, pf->file->path);
    if (pf->file->bad_path) {
        diag(ld, PS_DIAG_ERROR, 0, "cannot read rules path");
        return;
    }
    ld->stats->files++;
    if (pf->read_error) {
        skip_rule(ld, PS_SIGMA_SKIP_YAML, 0, pf->read_error);
        return;
    }
    ps_arena_reset(&ld->file_arena);
    collection c = {.ld = ld};
    for (uint32_t i = 0; i < pf->ndocs; i++)
        on_collected(&c, pf->docs[i].root, pf->docs[i].line);
    if (pf->parse_error)
        skip_rule(ld, PS_SIGMA_SKIP_YAML, pf->error_line, pf->parse_error);
}

static int is_rule_file(const char *name)
{
    size_t n = strlen(name);
    return name[0] != '.' && ((n > 4 && strcmp(name + n - 4, ".yml") == 0) ||
                              (n > 5 && strcmp(name + n - 5, ".yaml") == 0));
}

/* The rule files to load, in the order they are loaded. */
typedef struct file_list {
    sg_rule_file *f;
    size_t n, cap;
    int failed;
} file_list;

static void add_file(file_list *l, const char *path, int bad)
{
    if (l->failed)
        return;
    if (ps_grow_array((void **)&l->f, &l->cap, l->n, sizeof *l->f) != 0) {
        l->failed = 1;
        return;
    }
    char *copy = strdup(path);
    if (!copy) {
        l->failed = 1;
        return;
    }
    l->f[l->n++] = (sg_rule_file){copy, bad};
}

static void free_files(file_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->f[i].path);
    free(l->f);
}

/* A path given: a file, or a directory walked recursively in name order. */
static void collect_path(file_list *l, const char *path, int depth)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        add_file(l, path, 1);
        return;
    }
    if (!S_ISDIR(st.st_mode)) {
        add_file(l, path, 0);
        return;
    }
    if (depth >= SG_MAX_DIR_DEPTH)
        return;
    struct dirent **list;
    int n = scandir(path, &list, NULL, alphasort);
    for (int i = 0; i < n; i++) {
        const char *name = list[i]->d_name;
        size_t len = strlen(path) + strlen(name) + 2;
        char *child = malloc(len);
        if (child && name[0] != '.') {
            snprintf(child, len, "%s/%s", path, name);
            /* the entry's type spares a stat of every rule file; links and
             * file systems that do not give it are looked at */
            unsigned char type = list[i]->d_type;
            struct stat cst;
            int dir = type == DT_DIR ||
                      ((type == DT_UNKNOWN || type == DT_LNK) && stat(child, &cst) == 0 &&
                       S_ISDIR(cst.st_mode));
            if (dir)
                collect_path(l, child, depth + 1);
            else if (is_rule_file(name))
                add_file(l, child, 0);
        }
        free(child);
        free(list[i]);
    }
    free(list);
}

/* ---- the set ------------------------------------------------------------------------- */

void ps_sigma_free(ps_sigma_set *set)
{
    if (!set)
        return;
    for (uint32_t i = 0; i < set->nregexes; i++)
        pcre2_code_free(set->regexes[i]);
    free(set->regexes);
    free(set->rules);
    free(set->compiled);
    free(set->postings);
    free(set->posting_rules);
    free(set->buckets);
    free(set->corrs);
    free(set->corr_refs);
    sg_prefilter_free(&set->prefilter);
    sg_sym_free(&set->syms);
    ps_arena_free(&set->arena);
    free(set);
}

static int load_logsources(loader *ld)
{
    const char *text = ps_sigma_builtin_logsources;
    size_t len = ps_sigma_builtin_logsources_len;
    const char *why = NULL;
    const char *table = ld->opt && ld->opt->logsource_path ? ld->opt->logsource_path : NULL;
    ld->path = table ? table : "<built-in logsources.yml>";
    if (table) {
        if (sg_read_file(table, &ld->text, &why) != 0) {
            diag(ld, PS_DIAG_ERROR, 0, "logsource table: %s", why);
            return PS_ERR_IO;
        }
        text = ld->text.data ? ld->text.data : "";
        len = ld->text.len;
    }
    char err[256];
    uint32_t line = 0;
    int rc = sg_logsources_parse(text, len, &ld->set->arena, &ld->ls, err, sizeof err, &line);
    if (rc != 0)
        diag(ld, PS_DIAG_ERROR, line, "%s", err);
    /* The table's strings were copied into the arena by the YAML reader:
     * ld->text can be reused. */
    return rc == 0 ? PS_OK : PS_ERR_FORMAT;
}

typedef struct load_input {
    const char *const *paths;
    size_t npaths;
    const char *text, *name;
    size_t len;
} load_input;

static int load_all(const load_input *in, const ps_sigma_options *opt, ps_sigma_set **out,
                    ps_sigma_stats *stats)
{
    ps_sigma_stats local;
    if (!stats)
        stats = &local;
    memset(stats, 0, sizeof *stats);
    *out = NULL;
    ps_sigma_set *set = calloc(1, sizeof *set);
    if (!set)
        return PS_ERR_NOMEM;
    ps_arena_init(&set->arena, 256 * 1024, SG_SET_MEMORY_LIMIT);
    loader ld = {.set = set, .opt = opt, .stats = stats};
    sg_value_scratch_init(&ld.scratch);
    ps_arena_init(&ld.file_arena, 256 * 1024, 64u << 20);
    ps_arena_init(&ld.filter_arena, 64 * 1024, 64u << 20);
    int rc = load_logsources(&ld);
    if (rc == PS_OK && in->npaths) {
        file_list files = {0};
        for (size_t i = 0; i < in->npaths; i++)
            collect_path(&files, in->paths[i], 0);
        if (files.failed ||
            sg_parse_rule_files(files.f, files.n, opt ? opt->threads : 0, on_parsed, &ld) != 0)
            rc = PS_ERR_NOMEM;
        free_files(&files);
    }
    if (rc == PS_OK) {
        if (in->text) {
            ld.path = keep(&ld, in->name ? in->name : "<text>");
            load_text(&ld, in->text, in->len);
        }
        for (uint32_t i = 0; i < ld.nfilters; i++)
            apply_filter(&ld, &ld.filters[i]);
        for (uint32_t i = 0; i < ld.ncorrs; i++)
            load_correlation(&ld, &ld.corrs[i]);
        if (index_correlations(set) != 0)
            rc = PS_ERR_NOMEM;
    }
    if (rc == PS_OK) {
        rc = sg_build_index(set, &ld.ls, opt && opt->match_unmapped);
        sg_hs_cache_stats cs = {0};
        if (rc == PS_OK && !(opt && opt->no_prefilter))
            rc = sg_prefilter_build(set, opt ? opt->cache_dir : NULL, opt ? opt->threads : 0,
                                    &cs) == 0 ? PS_OK : PS_ERR_NOMEM;
        stats->prefilter_databases = set->prefilter.ndbs;
        stats->prefilter_cached = cs.hits;
        stats->prefilter_literals = set->prefilter.nlits;
        stats->prefilter_gated = set->prefilter.ngated;
        stats->prefilter_always = set->ncompiled - set->prefilter.ngated;
    }
    free(ld.filters);
    free(ld.corrs);
    ps_buf_free(&ld.text);
    sg_value_scratch_free(&ld.scratch);
    ps_arena_free(&ld.filter_arena);
    ps_arena_free(&ld.file_arena);
    if (rc != PS_OK) {
        ps_sigma_free(set);
        return rc;
    }
    *out = set;
    return PS_OK;
}

int ps_sigma_load(const char *const *paths, size_t npaths, const ps_sigma_options *opt,
                  ps_sigma_set **out, ps_sigma_stats *stats)
{
    if (!out || (npaths && !paths))
        return PS_ERR_ARG;
    load_input in = {.paths = paths, .npaths = npaths};
    return load_all(&in, opt, out, stats);
}

int ps_sigma_load_paths_and_text(const char *const *paths, size_t npaths, const char *yaml,
                                 size_t len, const char *name, const ps_sigma_options *opt,
                                 ps_sigma_set **out, ps_sigma_stats *stats)
{
    if (!out || (npaths && !paths) || !yaml)
        return PS_ERR_ARG;
    load_input in = {.paths = paths, .npaths = npaths, .text = yaml, .len = len, .name = name};
    return load_all(&in, opt, out, stats);
}

int ps_sigma_load_text(const char *yaml, size_t len, const char *name,
                       const ps_sigma_options *opt, ps_sigma_set **out, ps_sigma_stats *stats)
{
    return ps_sigma_load_paths_and_text(NULL, 0, yaml, len, name, opt, out, stats);
}

size_t ps_sigma_rule_count(const ps_sigma_set *set) { return set ? set->nrules : 0; }

const ps_sigma_rule_info *ps_sigma_rule(const ps_sigma_set *set, size_t index)
{
    return set && index < set->nrules ? &set->rules[index].info : NULL;
}
