/* Compiled templates: the store of compiled variants and the fast renderer.
 * See template.h for the design. */
#include "evtx/template.h"

#include <pthread.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

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

/* What a variant renders, and where (nested fragments are compiled for the
 * place they are spliced into). */
enum { OUT_JSON, OUT_MODEL, OUT_XML };

typedef struct variant_key {
    uint8_t out;                 /* OUT_JSON, OUT_MODEL or OUT_XML */
    uint8_t members;             /* a nested fragment's members only */
    uint8_t pretty;              /* JSON: indented */
    uint32_t level;              /* JSON, XML: indentation; model: path depth */
    const char *prefix;          /* model: path of the enclosing object */
    uint32_t prefix_len;
} variant_key;

/* Event models: the field layout of the events of one root variant with
 * one sequence of nested variants (their fields follow from the programs
 * alone), numbered for the run so that a matcher can cache per layout. */
#define MAX_LAYOUT_NESTED 6
#define MAX_LAYOUTS_PER_VARIANT 16

typedef struct tpl_layout tpl_layout;
struct tpl_layout {
    tpl_layout *next;            /* immutable once published */
    uint32_t id;
    uint32_t nnested;
    const void *nested[MAX_LAYOUT_NESTED];
};

typedef struct tpl_variant tpl_variant;
struct tpl_variant {
    tpl_variant *next;           /* immutable once published */
    const uint64_t *sig;         /* the used slots' bx_slot_class (see signature) */
    variant_key key;
    const void *prog;            /* json_program or model_program; NULL:
                                    records like these take the slow lane */
    _Atomic(tpl_layout *) layouts; /* root event models only */
    atomic_uint nlayouts;
};

typedef struct tpl_class tpl_class;
struct tpl_class {
    tpl_class *next;             /* bucket chain, under the store lock */
    uint64_t hash;
    const bx_node *root;         /* the store's own copy of the definition */
    const uint16_t *used;        /* slots the definition refers to, ascending */
    uint32_t nused;              /* > MAX_USED_SLOTS: never compiled */
    uint64_t positional;         /* all used slots below 32: 2-bit mask of them
                                    (signatures by position, one word); else 0 */
    size_t cost;                 /* slow-lane arena bytes per instance, roughly */
    _Atomic(tpl_variant *) variants;
    atomic_uint nvariants;
};

struct tpl_store {
    pthread_mutex_t lock;
    ps_arena arena;              /* everything below; under the lock */
    ps_arena tmp;                /* compiling; reset after each compile */
    tpl_class *buckets[CLASS_BUCKETS];
    tpl_stats stats;
    atomic_int full;             /* the arena refused: compile nothing more */
    uint32_t next_layout;        /* under the lock; layout ids start at 1 */
    /* class_new: which u16 substitution slots a definition uses, zero
     * between compiles (each clears what it set: a new 64 KiB table per
     * definition was a tenth of reading a small file of many templates) */
    uint8_t *slot_used;
    uint64_t run_tag;            /* random, high half of every layout */
};

tpl_store *tpl_store_new(void)
{
    return tpl_store_new_capped(STORE_LIMIT);
}

tpl_store *tpl_store_new_capped(size_t limit)
{
    tpl_store *st = calloc(1, sizeof *st);
    if (!st)
        return NULL;
    pthread_mutex_init(&st->lock, NULL);
    ps_arena_init(&st->arena, 64 * 1024, limit);
    ps_arena_init(&st->tmp, 64 * 1024, BX_ARENA_LIMIT);
    atomic_init(&st->full, 0);
    /* Layouts of two runs must not be mistaken for each other by a consumer
     * that outlives a run (a matcher's cache). */
    uint32_t tag = 0;
    if (getrandom(&tag, sizeof tag, 0) != sizeof tag)
        tag = (uint32_t)((uintptr_t)st >> 4) ^ (uint32_t)time(NULL);
    st->run_tag = (uint64_t)(tag | 1) << 32;
    return st;
}

void tpl_store_free(tpl_store *st)
{
    if (!st)
        return;
    ps_arena_free(&st->arena);
    ps_arena_free(&st->tmp);
    free(st->slot_used);
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
    if (!st->slot_used && !(st->slot_used = calloc(65536, 1))) /* by u16 slot index */
        return NULL;
    uint8_t *used = st->slot_used;
    copy_ctx cc = {.arena = &st->arena, .used = used};
    tpl_class *cls = ps_arena_zalloc(&st->arena, sizeof *cls);
    if (!cls)
        return NULL;
    cls->root = tree_copy(&cc, root);
    uint32_t nused = 0;
    for (uint32_t i = 0; i < cc.nslots; i++)
        nused += used[i];
    uint16_t *slots = ps_arena_alloc(&st->arena, (nused ? nused : 1) * sizeof *slots);
    uint32_t k = 0;
    for (uint32_t i = 0; i < cc.nslots && slots; i++)
        if (used[i])
            slots[k++] = (uint16_t)i;
    memset(used, 0, cc.nslots); /* every slot set is below nslots */
    ps_arena_reset(&st->tmp);
    if (cc.failed || !slots)
        return NULL;
    cls->hash = hash;
    cls->used = slots;
    cls->nused = nused;
    if (nused && slots[nused - 1] < 32)
        for (uint32_t i = 0; i < nused; i++)
            cls->positional |= (uint64_t)3 << (2 * slots[i]);
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
    if (!cls && !atomic_load_explicit(&st->full, memory_order_relaxed)) {
        if ((cls = class_new(st, t->root, hash)) != NULL) {
            cls->next = *bucket;
            *bucket = cls;
            st->stats.classes++;
        } else {
            atomic_store_explicit(&st->full, 1, memory_order_relaxed);
        }
    }
    pthread_mutex_unlock(&st->lock);
    t->compiled = cls;
    t->compiled_state = 1;
    return cls;
}

/* --- variants ---------------------------------------------------------------------- */

/* A record's signature: the classes (bx_slot_class) of the values of the
 * slots its template uses, two bits each. When those slots are all below 32
 * the bits stay at their slots' positions, straight from the word the value
 * reader filled; else they are packed in the order of cls->used. */
static size_t sig_words(const tpl_class *cls)
{
    return cls->positional ? 1 : SIG_WORDS(cls->nused);
}

static void signature(const tpl_class *cls, const bx_instance *in, uint64_t *sig)
{
    if (cls->positional) {
        sig[0] = in->classes & cls->positional;
        return;
    }
    memset(sig, 0, SIG_WORDS(cls->nused) * sizeof *sig);
    for (uint32_t i = 0; i < cls->nused; i++) {
        uint32_t slot = cls->used[i];
        uint64_t c = slot < in->nvals ? bx_slot_class(in->vals[slot].type) : BX_SLOT_NULL;
        sig[i / 32] |= c << (2 * (i % 32));
    }
}

/* The class of used slot i (0 <= i < nused) in a signature. */
static uint8_t sig_class(const tpl_class *cls, const uint64_t *sig, uint32_t i)
{
    unsigned bit = cls->positional ? 2u * cls->used[i] : 2u * (i % 32);
    return (uint8_t)(sig[cls->positional ? 0 : i / 32] >> bit & 3);
}

static int same_key(const variant_key *a, const variant_key *b)
{
    return a->out == b->out && a->members == b->members && a->pretty == b->pretty &&
           a->level == b->level && a->prefix_len == b->prefix_len &&
           (!a->prefix_len || !memcmp(a->prefix, b->prefix, a->prefix_len));
}

static tpl_variant *find_variant(tpl_variant *v, const uint64_t *sig, size_t words,
                                 const variant_key *key)
{
    for (; v; v = v->next)
        if (!memcmp(v->sig, sig, words * sizeof *sig) && same_key(&v->key, key))
            return v;
    return NULL;
}

/* Compile a variant (under the lock). A variant that cannot be compiled is
 * kept too, with no program, so that its records go straight to the slow
 * lane. NULL only when the store is full. */
static tpl_variant *compile_variant(tpl_store *st, tpl_class *cls, const uint64_t *sig,
                                    const variant_key *key)
{
    size_t words = sig_words(cls);
    tpl_variant *v = ps_arena_zalloc(&st->arena, sizeof *v);
    uint64_t *sig_copy = ps_arena_alloc(&st->arena, (words ? words : 1) * sizeof *sig);
    char *prefix = ps_arena_strndup(&st->arena, key->prefix ? key->prefix : "", key->prefix_len);
    if (!v || !sig_copy || !prefix)
        return NULL;
    memcpy(sig_copy, sig, words * sizeof *sig);
    v->sig = sig_copy;
    atomic_init(&v->layouts, NULL);
    atomic_init(&v->nlayouts, 0);
    v->key = *key;
    v->key.prefix = prefix;

    /* The slots' classes by slot index, for the symbolic expansion. */
    uint32_t nslots = cls->nused ? (uint32_t)cls->used[cls->nused - 1] + 1 : 0;
    uint8_t *classes = nslots ? ps_arena_zalloc(&st->tmp, nslots) : NULL;
    const char *why = NULL;
    json_program *json = key->out != OUT_MODEL ? ps_arena_alloc(&st->arena, sizeof *json) : NULL;
    model_program *model = key->out == OUT_MODEL ? ps_arena_alloc(&st->arena, sizeof *model)
                                                 : NULL;
    if ((!json && !model) || (nslots && !classes)) {
        ps_arena_reset(&st->tmp);
        return NULL;
    }
    for (uint32_t i = 0; i < cls->nused; i++)
        classes[cls->used[i]] = sig_class(cls, sig, i);
    bx_node *tree = bx_expand_symbolic(cls->root, classes, nslots, &st->tmp, &why);
    int rc = -1;
    if (tree && key->out == OUT_XML)
        rc = xml_compile(tree, (int)key->level, &st->tmp, &st->arena, json, &why);
    else if (tree && json)
        rc = json_compile(tree, key->pretty, (int)key->level, key->members, &st->tmp,
                          &st->arena, json, &why);
    else if (tree)
        rc = model_compile(tree, key->prefix, key->prefix_len, key->level, key->members,
                           &st->tmp, &st->arena, model, &why);
    if (rc == 0) {
        v->prog = json ? (const void *)json : (const void *)model;
        st->stats.variants++;
    } else {
        st->stats.unsupported++;
    }
    ps_arena_reset(&st->tmp);
    return v;
}

static tpl_variant *variant_for(tpl_store *st, tpl_class *cls, const bx_instance *in,
                                const variant_key *key)
{
    if (cls->nused > MAX_USED_SLOTS)
        return NULL;
    uint64_t sig[SIG_WORDS(MAX_USED_SLOTS)];
    size_t words = sig_words(cls);
    signature(cls, in, sig);
    tpl_variant *head = atomic_load_explicit(&cls->variants, memory_order_acquire);
    tpl_variant *v = find_variant(head, sig, words, key);
    if (v)
        return v;
    if (atomic_load_explicit(&cls->nvariants, memory_order_relaxed) >= MAX_VARIANTS ||
        atomic_load_explicit(&st->full, memory_order_relaxed))
        return NULL;
    pthread_mutex_lock(&st->lock);
    /* Another worker may have compiled it meanwhile. */
    head = atomic_load_explicit(&cls->variants, memory_order_relaxed);
    v = find_variant(head, sig, words, key);
    if (!v && atomic_load_explicit(&cls->nvariants, memory_order_relaxed) < MAX_VARIANTS &&
        !atomic_load_explicit(&st->full, memory_order_relaxed)) {
        if ((v = compile_variant(st, cls, sig, key)) != NULL) {
            v->next = head;
            atomic_store_explicit(&cls->variants, v, memory_order_release);
            atomic_fetch_add_explicit(&cls->nvariants, 1, memory_order_relaxed);
        } else {
            /* Full: from now on records of new shapes take the slow lane
             * without queueing for the lock. */
            atomic_store_explicit(&st->full, 1, memory_order_relaxed);
        }
    }
    pthread_mutex_unlock(&st->lock);
    return v;
}

/* --- rendering ----------------------------------------------------------------------- */

typedef struct render_ctx {
    tpl_store *st;
    bx_chunk *c;
    size_t cost;
    /* JSON and XML */
    ps_buf *out;
    int pretty;
    int xml;
    /* event model */
    field_vec *fields;
    tpl_model_buf *mb;
    int32_t quick[MQ_COUNT];   /* field index of each quick field, or -1 */
    uint64_t filetime;
    tpl_variant *variant;      /* of the last resolve */
    const void *nested[MAX_LAYOUT_NESTED]; /* nested variants, in order */
    uint32_t nnested;          /* may pass MAX_LAYOUT_NESTED: no layout then */
} render_ctx;

/* The program for the single template instance in [start, end). */
static const void *resolve(render_ctx *r, uint32_t start, uint32_t end, int nest,
                           const variant_key *key, bx_instance *in)
{
    if (bx_read_single_instance(r->c, start, end, nest, in) != 0)
        return NULL;
    tpl_class *cls = class_of(r->st, in->tmpl);
    if (!cls)
        return NULL;
    r->cost += cls->cost + in->nvals * sizeof(bx_value);
    if (r->cost > RECORD_COST_LIMIT)
        return NULL;
    r->variant = variant_for(r->st, cls, in, key);
    return r->variant ? r->variant->prog : NULL;
}

/* Would the nested members' keys meet a key of the enclosing object? */
static int keys_collide(const json_key *nested, uint32_t nnested, const json_key *keys,
                        uint32_t nkeys)
{
    for (uint32_t i = 0; i < nnested; i++)
        for (uint32_t j = 0; j < nkeys; j++)
            if (keys[j].hash == nested[i].hash && keys[j].len == nested[i].len &&
                !memcmp(keys[j].s, nested[i].s, nested[i].len))
                return 1;
    return 0;
}

/* The nested BinXML of a splice: its place in the record, checked as the
 * slow lane checks nested values (expand_nested), then one level further
 * down for its instance, as the slow lane counts them. */
static int nested_span(const render_ctx *r, const bx_value *v, int nest, uint32_t *start)
{
    if (nest + 1 >= BX_MAX_NEST || v->type != BX_T_BINXML)
        return -1;
    *start = (uint32_t)(v->data - r->c->data);
    return 0;
}

static int run(render_ctx *r, const json_program *prog, const bx_instance *in, int nest);

static int run_splice(render_ctx *r, const json_splice *sp, const bx_value *v, int nest)
{
    uint32_t start;
    if (nested_span(r, v, nest, &start) != 0)
        return -1;
    variant_key key = {.out = OUT_JSON, .members = 1, .pretty = (uint8_t)r->pretty,
                       .level = r->pretty ? sp->level : 0};
    if (r->xml)
        key = (variant_key){.out = OUT_XML, .members = 1, .level = sp->level};
    bx_instance child;
    const json_program *prog = resolve(r, start, start + v->size, nest + 2, &key, &child);
    if (!prog)
        return -1;
    if (r->xml) /* elements in XML: nothing can collide */
        return run(r, prog, &child, nest + 2);
    if (keys_collide(prog->top_keys, prog->ntop_keys, sp->keys, sp->nkeys) ||
        (sp->in_container && prog->data_roots))
        return -1;
    if (sp->comma)
        ps_buf_addc(r->out, ',');
    return run(r, prog, &child, nest + 2);
}

static int run(render_ctx *r, const json_program *prog, const bx_instance *in, int nest)
{
    const char *lit = prog->lits;
    for (const json_op *op = prog->ops;; op++) {
        ps_buf_add_run(r->out, lit, op->lit);
        lit += op->lit;
        if (op->kind == JOP_END)
            return 0;
        if (op->slot >= in->nvals)
            return -1; /* cannot happen: the signature made it NULL */
        const bx_value *v = &in->vals[op->slot];
        switch (op->kind) {
        case JOP_SCALAR: put_json_scalar(r->out, v); break;
        case JOP_STRPART: put_value(r->out, v, ESC_JSON, &STYLE_JSON); break;
        case JOP_XML_ATTR: put_value(r->out, v, ESC_XML_ATTR, &STYLE_XML); break;
        case JOP_XML_TEXT: put_value(r->out, v, ESC_XML_TEXT, &STYLE_XML); break;
        case JOP_SPLICE:
            if (run_splice(r, &prog->splices[op->aux], v, nest) != 0)
                return -1;
            break;
        default: return -1;
        }
    }
}

static int render_text(tpl_store *st, bx_chunk *c, uint32_t start, uint32_t end,
                       ps_buf *out, int pretty, int xml)
{
    size_t mark = out->len;
    int was_failed = out->failed;
    render_ctx r = {.st = st, .c = c, .out = out, .pretty = pretty, .xml = xml};
    variant_key key = {.out = xml ? OUT_XML : OUT_JSON, .pretty = (uint8_t)pretty};
    bx_instance in;
    const json_program *prog = resolve(&r, start, end, 0, &key, &in);
    if (prog && run(&r, prog, &in, 0) == 0 && !out->failed)
        return 1;
    /* Give up without a trace: the slow lane renders (and reports) it. */
    out->len = mark;
    out->failed = was_failed;
    return 0;
}

int tpl_render_json(tpl_store *st, bx_chunk *c, uint32_t start, uint32_t end, int pretty,
                    ps_buf *out)
{
    return render_text(st, c, start, end, out, pretty, 0);
}

int tpl_render_xml(tpl_store *st, bx_chunk *c, uint32_t start, uint32_t end, ps_buf *out)
{
    return render_text(st, c, start, end, out, 0, 1);
}

/* --- the event model ----------------------------------------------------------------- */

void tpl_model_buf_free(tpl_model_buf *mb)
{
    ps_buf_free(&mb->text);
    free(mb->offsets);
    mb->offsets = NULL;
    mb->cap = 0;
    free(mb->later);
    mb->later = NULL;
    mb->nlater = mb->caplater = 0;
    ps_arena_free(&mb->late_text);
    ps_buf_free(&mb->scratch);
}

#define NO_OFFSET UINT32_MAX

/* Room for more fields (and their offsets); kept out of add_field, which
 * runs for every field of every event and so stays small enough to inline. */
static __attribute__((noinline)) int grow_fields(render_ctx *r)
{
    field_vec *v = r->fields;
    uint32_t cap = (v->cap > r->mb->cap ? v->cap : r->mb->cap);
    cap = cap ? cap * 2 : 64;
    ps_field *items = realloc(v->items, cap * sizeof *items);
    if (items) {
        v->items = items;
        v->cap = cap;
    }
    uint32_t *offs = realloc(r->mb->offsets, cap * sizeof *offs);
    if (offs) {
        r->mb->offsets = offs;
        r->mb->cap = cap;
    }
    return items && offs ? 0 : -1;
}

static inline __attribute__((always_inline)) ps_field *add_field(render_ctx *r, const model_op *op,
                                                                uint32_t offset)
{
    field_vec *v = r->fields;
    if ((v->len >= v->cap || v->len >= r->mb->cap) && grow_fields(r) != 0)
        return NULL;
    if (op->quick && r->quick[op->quick] < 0)
        r->quick[op->quick] = (int32_t)v->len;
    r->mb->offsets[v->len] = offset;
    ps_field *f = &v->items[v->len++];
    *f = op->proto;
    return f;
}

/* A typed value (a number, GUID, SID, time or bytes) is left for
 * ps_event_settle_field when the owner asks (tpl_model_buf.defer): most are
 * read by no rule, and making their text was a tenth of the work of hunting
 * a file of many events. The quick fields (the event's ID and record
 * number, read for every event) and empty values are made at once. */
static inline int deferrable(const render_ctx *r, const model_op *op, const bx_value *v)
{
    return r->mb->defer && !op->quick && v->size && value_is_typed(v);
}

static inline __attribute__((always_inline)) int defer_value(render_ctx *r, const model_op *op,
                                                 const bx_value *v, ps_kind kind)
{
    tpl_model_buf *mb = r->mb;
    if (mb->nlater >= TPL_DEFERRED - 1 ||
        ps_grow_array((void **)&mb->later, &mb->caplater, mb->nlater, sizeof *mb->later) != 0)
        return -1;
    ps_field *f = add_field(r, op, TPL_DEFERRED | (uint32_t)mb->nlater);
    if (!f)
        return -1;
    mb->later[mb->nlater++] = *v;
    f->value = NULL;
    f->value_len = 0;
    f->kind = (uint8_t)kind;
    f->typed = 1;
    return 0;
}

static int settle_value(ps_event_lazy *lazy, uint32_t i)
{
    tpl_model_buf *mb = (tpl_model_buf *)((char *)lazy - offsetof(tpl_model_buf, lazy));
    field_vec *fields = mb->fields;
    if (i >= fields->len || fields->items[i].value)
        return 0;
    uint32_t off = mb->offsets[i];
    ps_field *f = &fields->items[i];
    char *text = NULL;
    if (off != NO_OFFSET && (off & TPL_DEFERRED) && (off & ~TPL_DEFERRED) < mb->nlater) {
        ps_buf_reset(&mb->scratch);
        put_value(&mb->scratch, &mb->later[off & ~TPL_DEFERRED], ESC_NONE, &STYLE_JSON);
        if (!mb->scratch.failed && mb->scratch.len < UINT32_MAX)
            text = ps_arena_strndup(&mb->late_text, mb->scratch.data ? mb->scratch.data : "",
                                    mb->scratch.len);
    }
    mb->offsets[i] = NO_OFFSET;
    f->value = text ? text : "";
    f->value_len = text ? (uint32_t)mb->scratch.len : 0;
    return text ? 0 : -1;
}

static int run_model(render_ctx *r, const model_program *prog, const bx_instance *in, int nest);

static int run_model_splice(render_ctx *r, const model_splice *sp, const bx_value *v, int nest)
{
    uint32_t start;
    if (nested_span(r, v, nest, &start) != 0)
        return -1;
    variant_key key = {.out = OUT_MODEL, .members = 1, .level = sp->depth,
                       .prefix = sp->prefix, .prefix_len = sp->prefix_len};
    bx_instance child;
    const model_program *prog = resolve(r, start, start + v->size, nest + 2, &key, &child);
    if (!prog || keys_collide(prog->top_keys, prog->ntop_keys, sp->keys, sp->nkeys) ||
        (sp->in_container && prog->data_roots))
        return -1;
    if (r->nnested < MAX_LAYOUT_NESTED)
        r->nested[r->nnested] = r->variant;
    r->nnested++;
    return run_model(r, prog, &child, nest + 2);
}

static int run_model(render_ctx *r, const model_program *prog, const bx_instance *in, int nest)
{
    ps_buf *text = &r->mb->text;
    for (uint32_t i = 0; i < prog->nops; i++) {
        const model_op *op = &prog->ops[i];
        if (op->kind == MOP_STATIC) {
            if (!add_field(r, op, NO_OFFSET)) /* the proto has it all */
                return -1;
            continue;
        }
        if (op->slot >= in->nvals && op->kind != MOP_PARTS)
            return -1; /* cannot happen: the signature made it NULL */
        if (op->kind == MOP_SPLICE) {
            if (run_model_splice(r, &prog->splices[op->aux], &in->vals[op->slot], nest) != 0)
                return -1;
            continue;
        }
        size_t at = text->len;
        ps_kind kind = PS_KIND_STRING;
        int typed = 0;
        if (op->kind == MOP_VALUE) {
            const bx_value *v = &in->vals[op->slot];
            kind = value_kind(v);
            if (op->system_time && v->type == BX_T_FILETIME && v->size == 8)
                memcpy(&r->filetime, v->data, 8);
            if (deferrable(r, op, v)) {
                if (defer_value(r, op, v, kind) != 0)
                    return -1;
                continue;
            }
            put_value(text, v, ESC_NONE, &STYLE_JSON);
            typed = value_is_typed(v);
        } else {
            for (uint32_t k = 0; k < op->nparts; k++) {
                const model_part *pt = &prog->parts[op->aux + k];
                if (pt->lit)
                    ps_buf_add(text, pt->lit, pt->len);
                else if (pt->slot < in->nvals)
                    put_value(text, &in->vals[pt->slot], ESC_NONE, &STYLE_JSON);
                else
                    return -1;
            }
        }
        size_t len = text->len - at;
        ps_buf_addc(text, 0);
        if (text->failed || at >= TPL_DEFERRED)
            return -1;
        ps_field *f = add_field(r, op, (uint32_t)at);
        if (!f)
            return -1;
        f->value = text->data + at; /* tpl_build_event redoes it if text moved */
        f->value_len = (uint32_t)len;
        f->kind = (uint8_t)kind;
        f->typed = (uint8_t)typed;
    }
    return 0;
}

static tpl_layout *find_layout(tpl_layout *l, const render_ctx *r)
{
    for (; l; l = l->next)
        if (l->nnested == r->nnested &&
            !memcmp(l->nested, r->nested, r->nnested * sizeof *r->nested))
            return l;
    return NULL;
}

/* The run's number for this event's field layout (see ps_event.layout), or
 * 0 when it has too many nested parts or the store is full. */
static uint64_t layout_id(render_ctx *r, tpl_variant *root)
{
    if (r->nnested > MAX_LAYOUT_NESTED)
        return 0;
    tpl_layout *l = find_layout(atomic_load_explicit(&root->layouts, memory_order_acquire), r);
    if (l)
        return r->st->run_tag | l->id;
    if (atomic_load_explicit(&root->nlayouts, memory_order_relaxed) >= MAX_LAYOUTS_PER_VARIANT)
        return 0;
    tpl_store *st = r->st;
    pthread_mutex_lock(&st->lock);
    tpl_layout *head = atomic_load_explicit(&root->layouts, memory_order_relaxed);
    if (!(l = find_layout(head, r)) &&
        atomic_load_explicit(&root->nlayouts, memory_order_relaxed) < MAX_LAYOUTS_PER_VARIANT &&
        (l = ps_arena_zalloc(&st->arena, sizeof *l)) != NULL) {
        l->id = ++st->next_layout;
        l->nnested = r->nnested;
        memcpy(l->nested, r->nested, r->nnested * sizeof *r->nested);
        l->next = head;
        atomic_store_explicit(&root->layouts, l, memory_order_release);
        atomic_fetch_add_explicit(&root->nlayouts, 1, memory_order_relaxed);
    }
    pthread_mutex_unlock(&st->lock);
    return l ? st->run_tag | l->id : 0;
}

static const char *quick_text(const render_ctx *r, int which)
{
    int32_t i = r->quick[which];
    return i >= 0 ? r->fields->items[i].value : "";
}

/* strtoull(t, NULL, 10), without its locale and sign handling when t is
 * plain digits (EventID, EventRecordID: every record). */
static unsigned long long quick_number(const char *t)
{
    unsigned long long n = 0;
    int k = 0;
    for (; k < 19 && t[k] >= '0' && t[k] <= '9'; k++)
        n = n * 10 + (unsigned)(t[k] - '0');
    return k > 0 && t[k] == 0 ? n : strtoull(t, NULL, 10);
}

int tpl_build_event(tpl_store *st, bx_chunk *c, uint32_t start, uint32_t end,
                    field_vec *fields, tpl_model_buf *mb, ps_event *ev)
{
    render_ctx r = {.st = st, .c = c, .fields = fields, .mb = mb};
    for (int i = 0; i < MQ_COUNT; i++)
        r.quick[i] = -1;
    fields->len = 0;
    fields->failed = 0;
    ps_buf_reset(&mb->text);
    const char *text_was = mb->text.data;
    mb->nlater = 0;
    if (mb->defer) {
        if (!mb->late_text.block_size)
            ps_arena_init(&mb->late_text, 16 * 1024, 16u << 20);
        ps_arena_reset(&mb->late_text);
        mb->fields = fields;
        mb->lazy.settle = settle_value;
    }
    variant_key key = {.out = OUT_MODEL, .level = 0};
    bx_instance in;
    const model_program *prog = resolve(&r, start, end, 0, &key, &in);
    tpl_variant *root = r.variant;
    if (!prog || run_model(&r, prog, &in, 0) != 0) {
        fields->len = 0;
        return 0;
    }
    ev->layout = layout_id(&r, root);
    if (mb->text.data != text_was) /* it grew: the values set before moved */
        for (uint32_t i = 0; i < fields->len; i++)
            if (!(mb->offsets[i] & TPL_DEFERRED))
                fields->items[i].value = mb->text.data + mb->offsets[i];
    ev->fields = fields->items;
    ev->nfields = fields->len;
    ev->lazy = mb->nlater ? &mb->lazy : NULL;
    int id = r.quick[MQ_EVENT_ID] >= 0 ? MQ_EVENT_ID : MQ_EVENT_ID_TEXT;
    ev->event_id = (uint32_t)quick_number(quick_text(&r, id));
    ev->channel = quick_text(&r, MQ_CHANNEL);
    ev->computer = quick_text(&r, MQ_COMPUTER);
    ev->provider = quick_text(&r, MQ_PROVIDER);
    ev->record_id = quick_number(quick_text(&r, MQ_RECORD_ID));
    if (r.filetime)
        ev->time_filetime = r.filetime;
    else
        event_time_from_text(ev);
    return 1;
}
