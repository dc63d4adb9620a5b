/* Compiled templates: the store of compiled variants and the fast renderer.
 * See template.h for the design. */
#include "evtx/template.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "evtx/render.h"
#include "evtx/values.h"

#define STORE_LIMIT (16u << 20)   /* compiled programs and template copies */
#define CLASS_BUCKETS 1024
#define MAX_VARIANTS 64           /* per template: more means hostile input */
#define MAX_USED_SLOTS 1024       /* a template using more goes slow */
#define SIG_WORDS(n) (((n) + 31) / 32)
/* The slow lane's per-record arena holds the expanded tree: a record whose
 * estimated tree would come near its limit goes there, to fail the same
 * way it always has. */
#define RECORD_COST_LIMIT (BX_ARENA_LIMIT / 4)

typedef struct tpl_variant tpl_variant;
struct tpl_variant {
    tpl_variant *next;           /* immutable once published */
    const uint64_t *sig;         /* 2 bits per used slot: its bx_slot_class */
    uint8_t members;
    uint8_t pretty;
    uint32_t level;
    const json_program *prog;    /* NULL: records like these take the slow lane */
};

typedef struct tpl_class tpl_class;
struct tpl_class {
    tpl_class *next;             /* bucket chain, under the store lock */
    uint64_t hash;
    const bx_node *root;         /* the store's own copy of the definition */
    const uint16_t *used;        /* slots the definition refers to, ascending */
    uint32_t nused;              /* > MAX_USED_SLOTS: never compiled */
    size_t cost;                 /* slow-lane arena bytes per instance, roughly */
    _Atomic(tpl_variant *) variants;
    atomic_uint nvariants;
};

struct tpl_store {
    pthread_mutex_t lock;
    ps_arena arena;              /* everything below; under the lock */
    ps_arena tmp;                /* compiling; reset after each compile */
    tpl_class *buckets[CLASS_BUCKETS];
    uint8_t slot_class[256];     /* bx_slot_class by value type */
    tpl_stats stats;
};

tpl_store *tpl_store_new(void)
{
    tpl_store *st = calloc(1, sizeof *st);
    if (!st)
        return NULL;
    pthread_mutex_init(&st->lock, NULL);
    ps_arena_init(&st->arena, 256 * 1024, STORE_LIMIT);
    ps_arena_init(&st->tmp, 64 * 1024, BX_ARENA_LIMIT);
    for (unsigned t = 0; t < 256; t++)
        st->slot_class[t] = bx_slot_class((uint8_t)t);
    return st;
}

void tpl_store_free(tpl_store *st)
{
    if (!st)
        return;
    ps_arena_free(&st->arena);
    ps_arena_free(&st->tmp);
    pthread_mutex_destroy(&st->lock);
    free(st);
}

void tpl_store_stats(tpl_store *st, tpl_stats *out)
{
    pthread_mutex_lock(&st->lock);
    *out = st->stats;
    out->bytes = st->arena.used_total;
    pthread_mutex_unlock(&st->lock);
}

/* --- template definitions as classes ------------------------------------------ */

static uint64_t mix(uint64_t h, uint64_t x)
{
    h ^= x + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
    return h * 0xFF51AFD7ED558CCDull;
}

static uint64_t mix_bytes(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    h = mix(h, n);
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001B3ull;
    return h;
}

static int has_data(const bx_node *n)
{
    return n->kind == BX_VALUE || n->kind == BX_CDATA || n->kind == BX_PI;
}

/* A definition is identified by everything the renderers read of it: the
 * same bytes in two chunks can name different things (names are offsets),
 * and different bytes can mean the same template. */
static uint64_t tree_hash(const bx_node *n, uint64_t h)
{
    for (; n; n = n->next) {
        h = mix(h, (uint64_t)n->kind | (uint64_t)n->type << 8 | (uint64_t)n->optional << 16 |
                       (uint64_t)n->index << 24 | (uint64_t)n->size << 40);
        if (n->name)
            h = mix_bytes(h, n->name->s, n->name->len);
        if (has_data(n) && n->size)
            h = mix_bytes(h, n->data, n->size);
        h = tree_hash(n->children, tree_hash(n->attrs, mix(h, 1)));
    }
    return mix(h, 2);
}

static int tree_equal(const bx_node *a, const bx_node *b)
{
    for (; a && b; a = a->next, b = b->next) {
        if (a->kind != b->kind || a->type != b->type || a->optional != b->optional ||
            a->index != b->index || a->size != b->size || !a->name != !b->name)
            return 0;
        if (a->name && (a->name->len != b->name->len || memcmp(a->name->s, b->name->s, a->name->len)))
            return 0;
        if (has_data(a) && a->size && memcmp(a->data, b->data, a->size))
            return 0;
        if (!tree_equal(a->attrs, b->attrs) || !tree_equal(a->children, b->children))
            return 0;
    }
    return !a && !b;
}

typedef struct copy_ctx {
    ps_arena *arena;
    size_t nodes, elements;
    uint8_t *used;       /* per slot index: referenced */
    uint32_t nslots;     /* highest referenced index + 1 */
    int failed;
} copy_ctx;

static bx_node *tree_copy(copy_ctx *cc, const bx_node *n)
{
    bx_node *head = NULL, **tail = &head;
    for (; n && !cc->failed; n = n->next) {
        bx_node *c = ps_arena_alloc(cc->arena, sizeof *c);
        if (!c) {
            cc->failed = 1;
            break;
        }
        *c = *n;
        c->next = NULL;
        cc->nodes++;
        cc->elements += n->kind == BX_ELEM;
        if (n->kind == BX_SUBST) {
            cc->used[n->index] = 1;
            if (n->index >= cc->nslots)
                cc->nslots = (uint32_t)n->index + 1;
        }
        if (n->name) {
            bx_name *name = ps_arena_alloc(cc->arena, sizeof *name);
            char *s = ps_arena_strndup(cc->arena, n->name->s, n->name->len);
            if (!name || !s) {
                cc->failed = 1;
                break;
            }
            *name = *n->name;
            name->s = s;
            c->name = name;
        }
        if (has_data(n) && n->size) {
            uint8_t *d = ps_arena_alloc(cc->arena, n->size);
            if (!d) {
                cc->failed = 1;
                break;
            }
            memcpy(d, n->data, n->size);
            c->data = d;
        }
        c->attrs = tree_copy(cc, n->attrs);
        c->children = tree_copy(cc, n->children);
        *tail = c;
        tail = &c->next;
    }
    return head;
}

/* A new class for a definition not seen before (under the lock). */
static tpl_class *class_new(tpl_store *st, const bx_node *root, uint64_t hash)
{
    uint8_t *used = ps_arena_zalloc(&st->tmp, 65536); /* by u16 slot index */
    copy_ctx cc = {.arena = &st->arena, .used = used};
    tpl_class *cls = used ? ps_arena_zalloc(&st->arena, sizeof *cls) : NULL;
    if (!cls) {
        ps_arena_reset(&st->tmp);
        return NULL;
    }
    cls->root = tree_copy(&cc, root);
    uint32_t nused = 0;
    for (uint32_t i = 0; i < cc.nslots; i++)
        nused += used[i];
    uint16_t *slots = ps_arena_alloc(&st->arena, (nused ? nused : 1) * sizeof *slots);
    uint32_t k = 0;
    for (uint32_t i = 0; i < cc.nslots && slots; i++)
        if (used[i])
            slots[k++] = (uint16_t)i;
    ps_arena_reset(&st->tmp);
    if (cc.failed || !slots)
        return NULL;
    cls->hash = hash;
    cls->used = slots;
    cls->nused = nused;
    cls->cost = cc.nodes * sizeof(bx_node) + cc.elements * 1024;
    atomic_init(&cls->variants, NULL);
    atomic_init(&cls->nvariants, 0);
    return cls;
}

/* The class of a chunk's template definition: looked up once per chunk. */
static tpl_class *class_of(tpl_store *st, bx_template *t)
{
    if (t->compiled_state)
        return t->compiled;
    uint64_t hash = tree_hash(t->root, 0);
    pthread_mutex_lock(&st->lock);
    tpl_class **bucket = &st->buckets[hash & (CLASS_BUCKETS - 1)];
    tpl_class *cls = *bucket;
    while (cls && (cls->hash != hash || !tree_equal(cls->root, t->root)))
        cls = cls->next;
    if (!cls && (cls = class_new(st, t->root, hash)) != NULL) {
        cls->next = *bucket;
        *bucket = cls;
        st->stats.classes++;
    }
    pthread_mutex_unlock(&st->lock);
    t->compiled = cls;
    t->compiled_state = 1;
    return cls;
}

/* --- variants ---------------------------------------------------------------------- */

/* The classes of the used slots' values, two bits each. */
static void signature(const tpl_store *st, const tpl_class *cls, const bx_instance *in,
                      uint64_t *sig)
{
    memset(sig, 0, SIG_WORDS(cls->nused) * sizeof *sig);
    for (uint32_t i = 0; i < cls->nused; i++) {
        uint32_t slot = cls->used[i];
        uint64_t c = slot < in->nvals ? st->slot_class[in->vals[slot].type] : BX_SLOT_NULL;
        sig[i / 32] |= c << (2 * (i % 32));
    }
}

static tpl_variant *find_variant(tpl_variant *v, const uint64_t *sig, size_t words,
                                 int members, int pretty, uint32_t level)
{
    for (; v; v = v->next)
        if (v->members == members && v->pretty == pretty && v->level == level &&
            !memcmp(v->sig, sig, words * sizeof *sig))
            return v;
    return NULL;
}

/* Compile a variant (under the lock). A variant that cannot be compiled is
 * kept too, with no program, so that its records go straight to the slow
 * lane. NULL only when the store is full. */
static tpl_variant *compile_variant(tpl_store *st, tpl_class *cls, const uint64_t *sig,
                                    int members, int pretty, uint32_t level)
{
    size_t words = SIG_WORDS(cls->nused);
    tpl_variant *v = ps_arena_zalloc(&st->arena, sizeof *v);
    uint64_t *sig_copy = ps_arena_alloc(&st->arena, (words ? words : 1) * sizeof *sig);
    if (!v || !sig_copy)
        return NULL;
    memcpy(sig_copy, sig, words * sizeof *sig);
    v->sig = sig_copy;
    v->members = (uint8_t)members;
    v->pretty = (uint8_t)pretty;
    v->level = level;

    /* The slots' classes by slot index, for the symbolic expansion. */
    uint32_t nslots = cls->nused ? (uint32_t)cls->used[cls->nused - 1] + 1 : 0;
    uint8_t *classes = nslots ? ps_arena_zalloc(&st->tmp, nslots) : NULL;
    const char *why = NULL;
    json_program *prog = ps_arena_alloc(&st->arena, sizeof *prog);
    if (!prog || (nslots && !classes)) {
        ps_arena_reset(&st->tmp);
        return NULL;
    }
    for (uint32_t i = 0; i < cls->nused; i++)
        classes[cls->used[i]] = (uint8_t)(sig[i / 32] >> (2 * (i % 32)) & 3);
    bx_node *tree = bx_expand_symbolic(cls->root, classes, nslots, &st->tmp, &why);
    if (tree && json_compile(tree, pretty, (int)level, members, &st->tmp, &st->arena, prog,
                             &why) == 0) {
        v->prog = prog;
        st->stats.variants++;
    } else {
        st->stats.unsupported++;
    }
    ps_arena_reset(&st->tmp);
    return v;
}

static const json_program *program_for(tpl_store *st, tpl_class *cls, const bx_instance *in,
                                       int members, int pretty, uint32_t level)
{
    if (cls->nused > MAX_USED_SLOTS)
        return NULL;
    uint64_t sig[SIG_WORDS(MAX_USED_SLOTS)];
    size_t words = SIG_WORDS(cls->nused);
    signature(st, cls, in, sig);
    tpl_variant *head = atomic_load_explicit(&cls->variants, memory_order_acquire);
    tpl_variant *v = find_variant(head, sig, words, members, pretty, level);
    if (v)
        return v->prog;
    if (atomic_load_explicit(&cls->nvariants, memory_order_relaxed) >= MAX_VARIANTS)
        return NULL;
    pthread_mutex_lock(&st->lock);
    /* Another worker may have compiled it meanwhile. */
    head = atomic_load_explicit(&cls->variants, memory_order_relaxed);
    v = find_variant(head, sig, words, members, pretty, level);
    if (!v && atomic_load_explicit(&cls->nvariants, memory_order_relaxed) < MAX_VARIANTS &&
        (v = compile_variant(st, cls, sig, members, pretty, level)) != NULL) {
        v->next = head;
        atomic_store_explicit(&cls->variants, v, memory_order_release);
        atomic_fetch_add_explicit(&cls->nvariants, 1, memory_order_relaxed);
    }
    pthread_mutex_unlock(&st->lock);
    return v ? v->prog : NULL;
}

/* --- rendering ----------------------------------------------------------------------- */

typedef struct render_ctx {
    tpl_store *st;
    bx_chunk *c;
    ps_buf *out;
    int pretty;
    size_t cost;
} render_ctx;

/* The program for the single template instance in [start, end). */
static const json_program *resolve(render_ctx *r, uint32_t start, uint32_t end, int nest,
                                   int members, uint32_t level, bx_instance *in)
{
    if (bx_read_single_instance(r->c, start, end, nest, in) != 0)
        return NULL;
    tpl_class *cls = class_of(r->st, in->tmpl);
    if (!cls)
        return NULL;
    r->cost += cls->cost + in->nvals * sizeof(bx_value);
    if (r->cost > RECORD_COST_LIMIT)
        return NULL;
    return program_for(r->st, cls, in, members, r->pretty, r->pretty ? level : 0);
}

/* Would the nested members' keys meet a key of the enclosing object? */
static int keys_collide(const json_program *nested, const json_splice *sp)
{
    for (uint32_t i = 0; i < nested->ntop_keys; i++) {
        const json_key *k = &nested->top_keys[i];
        for (uint32_t j = 0; j < sp->nkeys; j++)
            if (sp->keys[j].hash == k->hash && sp->keys[j].len == k->len &&
                !memcmp(sp->keys[j].s, k->s, k->len))
                return 1;
    }
    return 0;
}

static void put_scalar(ps_buf *out, const bx_value *v)
{
    ps_kind kind = value_kind(v);
    if (kind == PS_KIND_INT || kind == PS_KIND_BOOL) {
        put_value(out, v, ESC_NONE, &STYLE_JSON);
        return;
    }
    ps_buf_addc(out, '"');
    put_value(out, v, ESC_JSON, &STYLE_JSON);
    ps_buf_addc(out, '"');
}

static int run(render_ctx *r, const json_program *prog, const bx_instance *in, int nest);

static int run_splice(render_ctx *r, const json_splice *sp, const bx_value *v, int nest)
{
    /* The slow lane's limit on nested values (expand_nested), then the
     * nested instance one level further down, as it counts them. */
    if (nest + 1 >= BX_MAX_NEST || v->type != BX_T_BINXML)
        return -1;
    uint32_t start = (uint32_t)(v->data - r->c->data);
    bx_instance child;
    const json_program *prog = resolve(r, start, start + v->size, nest + 2, 1, sp->level, &child);
    if (!prog || keys_collide(prog, sp) || (sp->in_container && prog->data_roots))
        return -1;
    if (sp->comma)
        ps_buf_addc(r->out, ',');
    return run(r, prog, &child, nest + 2);
}

static int run(render_ctx *r, const json_program *prog, const bx_instance *in, int nest)
{
    const char *lit = prog->lits;
    for (const json_op *op = prog->ops;; op++) {
        ps_buf_add(r->out, lit, op->lit);
        lit += op->lit;
        if (op->kind == JOP_END)
            return 0;
        if (op->slot >= in->nvals)
            return -1; /* cannot happen: the signature made it NULL */
        const bx_value *v = &in->vals[op->slot];
        switch (op->kind) {
        case JOP_SCALAR: put_scalar(r->out, v); break;
        case JOP_STRPART: put_value(r->out, v, ESC_JSON, &STYLE_JSON); break;
        case JOP_SPLICE:
            if (run_splice(r, &prog->splices[op->aux], v, nest) != 0)
                return -1;
            break;
        default: return -1;
        }
    }
}

int tpl_render_json(tpl_store *st, bx_chunk *c, uint32_t start, uint32_t end, int pretty,
                    ps_buf *out)
{
    size_t mark = out->len;
    int was_failed = out->failed;
    render_ctx r = {.st = st, .c = c, .out = out, .pretty = pretty};
    bx_instance in;
    const json_program *prog = resolve(&r, start, end, 0, 0, 0, &in);
    if (prog && run(&r, prog, &in, 0) == 0 && !out->failed)
        return 1;
    /* Give up without a trace: the slow lane renders (and reports) it. */
    out->len = mark;
    out->failed = was_failed;
    return 0;
}
