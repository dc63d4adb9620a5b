/* Matching one event against the compiled rules. The per-thread scratch
 * holds, for the current event, the field chains per symbol and lazily
 * lower-cased copies of values, so each field is folded at most once however
 * many rules read it; and, across events, what repeats: each field path's
 * symbol, the prefilter's scan of a value of a field with a large database,
 * a regex's answer on a long value (each checked against a copy of the
 * bytes it was made for, so that they never change a result). Nothing is
 * allocated once the scratch has grown. */
#include <stdlib.h>
#include <string.h>

#include "sigma/pattern.h"
#include "sigma/sigma_internal.h"
#include "util/buf.h"
#include "util/hash.h"

#define SG_REGEX_MATCH_LIMIT 100000
#define SG_REGEX_DEPTH_LIMIT 10000

/* The path -> symbol memo (see path_symbol): small slots, so that the
 * table stays in the first-level caches. */
#define PATH_SLOTS 2048                 /* power of two */
#define PATH_MAX_ENTRIES (PATH_SLOTS / 2)
#define PATH_STORE_LIMIT (256u << 10)   /* bytes of remembered paths */
#define PATH_MAX_LEN 0xffffu

/* The same, by the path's address first: the decoder's fast lane gives
 * every record of a template the same path pointers, so one multiply finds
 * a path's entry. The address alone proves nothing (a slow-lane record's
 * paths live in memory reused for later records), so the bytes are compared
 * with the remembered copy, without hashing them. Direct-mapped: a new
 * address takes the slot. */
#define PTR_SLOTS 4096                  /* power of two */

/* Field-to-symbol links per event layout (ps_event.layout): events of one
 * layout have the same fields, so their symbols and same-symbol chains are
 * worked out once and copied for the next event. The slot remembers the
 * path pointers too and checks them (a few compares), so a stale slot can
 * never serve an event of another layout. Direct-mapped, bounded. */
#define LAYOUT_SLOTS 256                /* power of two */
#define LAYOUT_MAX_FIELDS 256

typedef struct layout_slot {
    uint64_t layout;                    /* 0: empty */
    uint32_t nfields, nheads;
    const char **paths;                 /* per field */
    int32_t *fsym, *next;               /* per field, as prepare_fields makes them */
    int32_t *heads;                     /* (symbol, first field) pairs */
} layout_slot;

typedef struct ptr_slot {
    const char *path;
    uint32_t off;                       /* the remembered copy, in path_store */
    uint32_t len;
    int32_t sym;
} ptr_slot;

typedef struct path_slot {
    uint32_t hash;
    uint32_t off;                       /* the path, in path_store */
    uint16_t len;
    uint16_t used;
    int32_t sym;
} path_slot;

/* Scan results remembered by value (see scan_memo): a field's value is
 * scanned with its database once, and the literals it holds are replayed
 * for the same value later (event logs repeat their images, hashes, command
 * lines). Values up to MEMO_MAX_VALUE bytes, with every field's database:
 * even a database of a few literals costs Hyperscan some hundreds of
 * instructions per call, about what a hit here costs in all (with the memo
 * for only databases of 64 literals or more, a hunt over SigmaHQ's rules
 * took 2-3% more instructions). The copies live in a ring of MEMO_RING
 * bytes; an entry whose bytes were overwritten is stale. */
#define MEMO_SLOTS 8192                 /* power of two */
#define MEMO_RING (2u << 20)            /* power of two */
#define MEMO_MAX_VALUE 1024
#define MEMO_MAX_HITS 64

typedef struct memo_slot {
    uint64_t hash;
    uint64_t at;                        /* absolute ring position: hit ids, then the value */
    uint32_t len;
    int32_t sym;
    uint32_t nhits;
} memo_slot;

/* Regex results remembered by value, for long values only (where a search
 * can backtrack for milliseconds; the same long command line or script
 * comes back in many records): PCRE2 gives the same answer for the same
 * pattern and subject under the same limits. */
#define RE_MEMO_SLOTS 512                /* power of two */
#define RE_MEMO_RING (512u << 10)        /* power of two */
#define RE_MEMO_MIN_VALUE 256
#define RE_MEMO_MAX_VALUE (32u << 10)

typedef struct re_memo_slot {
    const pcre2_code *re;
    uint64_t hash;
    uint64_t at;                         /* absolute ring position of the value */
    uint32_t len;
    int result;
} re_memo_slot;

/* Unions of an event's lists' scan maps, remembered for the last few
 * combinations of lists (events of one channel and ID come in runs). */
#define MAP_CACHE 16                    /* power of two */
#define CHANNEL_MEMO 96

struct ps_sigma_scratch {
    const ps_sigma_set *set;
    const ps_event *ev;
    uint32_t epoch;
    int fields_ready;
    uint32_t *sym_stamp;     /* per symbol: epoch when sym_first was set */
    int32_t *sym_first;      /* per symbol: first field index, chained by next */
    uint32_t nsyms;
    int32_t *next;           /* per field */
    int32_t *fsym;           /* per field: its symbol, or -1 */
    uint32_t *lower_stamp;   /* per field: epoch when lower_off is valid */
    uint32_t *lower_off;
    uint32_t *ip_stamp;      /* per field: epoch when ip is valid */
    struct field_ip { uint8_t addr[16]; int8_t v6; } *ip; /* v6 -1: not an address */
    uint32_t field_cap;
    ps_buf lower;
    uint32_t *rule_stamp;    /* per rule: epoch when it was reported */
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    int failed;
    path_slot *paths;        /* PATH_SLOTS, open addressing */
    uint32_t npaths;
    ptr_slot *ptrs;          /* PTR_SLOTS */
    ps_buf path_store;
    layout_slot *layouts;    /* LAYOUT_SLOTS */
    /* prefilter */
    hs_scratch_t *hs;
    int scanned;             /* the event's values were scanned (its lists' scan maps) */
    int scan_failed;         /* ... but a scan failed: evaluate every rule */
    uint32_t *scan_stamp;    /* per symbol (and keyword database): epoch when scanned */
    uint32_t *part;          /* gated rules whose clause 0 was seen */
    uint32_t npart;
    /* Per compiled rule: epoch << 8 | the clauses of it seen in the event
     * (epochs stay below 2^24 for that). */
    uint32_t *seen;
    uint32_t *cand;          /* gated rules all of whose clauses were seen */
    uint32_t ncand;
    uint32_t *lit_stamp;     /* per literal: epoch when it was seen */
    ps_buf kw_buf;           /* every value, NUL-separated, for keyword literals */
    memo_slot *memo;         /* MEMO_SLOTS */
    char *memo_ring;         /* MEMO_RING */
    uint64_t memo_pos;       /* bytes ever written to the ring */
    re_memo_slot *re_memo;   /* RE_MEMO_SLOTS */
    char *re_ring;           /* RE_MEMO_RING */
    uint64_t re_pos;
    sg_scan_map scan_maps[4];/* the fields the event's posting lists read */
    unsigned nscan_maps;
    sg_scan_map scan_map;    /* their union (NULL: none), from map_cache */
    /* The last channel looked up (events of a channel come in runs), its
     * bytes up to CHANNEL_MEMO, and its bucket. */
    char last_channel[CHANNEL_MEMO];
    size_t last_channel_len;     /* 0: none */
    const sg_channel_bucket *last_bucket;
    struct map_cache {       /* unions by the lists they were made from */
        const void *key[4];
        uint64_t *bits;
    } map_cache[MAP_CACHE];
};

ps_sigma_scratch *ps_sigma_scratch_new(const ps_sigma_set *set)
{
    ps_sigma_scratch *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->set = set;
    s->nsyms = set->syms.n;
    s->sym_stamp = calloc(s->nsyms + 1, sizeof *s->sym_stamp);
    s->sym_first = calloc(s->nsyms + 1, sizeof *s->sym_first);
    s->rule_stamp = calloc(set->nrules + 1, sizeof *s->rule_stamp);
    s->md = pcre2_match_data_create(1, NULL);
    s->mctx = pcre2_match_context_create(NULL);
    ps_buf_init(&s->lower);
    ps_buf_init(&s->kw_buf);
    ps_buf_init(&s->path_store);
    s->paths = calloc(PATH_SLOTS, sizeof *s->paths);
    s->ptrs = calloc(PTR_SLOTS, sizeof *s->ptrs);
    s->layouts = calloc(LAYOUT_SLOTS, sizeof *s->layouts);
    s->re_memo = calloc(RE_MEMO_SLOTS, sizeof *s->re_memo);
    s->re_ring = malloc(RE_MEMO_RING);
    if (!s->sym_stamp || !s->sym_first || !s->rule_stamp || !s->md || !s->mctx || !s->paths ||
        !s->ptrs || !s->layouts || !s->re_memo || !s->re_ring) {
        ps_sigma_scratch_free(s);
        return NULL;
    }
    pcre2_set_match_limit(s->mctx, SG_REGEX_MATCH_LIMIT);
    pcre2_set_depth_limit(s->mctx, SG_REGEX_DEPTH_LIMIT);
    const sg_prefilter *pf = &set->prefilter;
    if (pf->ndbs) {
        s->seen = calloc(set->ncompiled + 1, sizeof *s->seen);
        s->cand = calloc(set->ncompiled + 1, sizeof *s->cand);
        s->part = calloc(set->ncompiled + 1, sizeof *s->part);
        s->scan_stamp = calloc(s->nsyms + SG_KW_COUNT, sizeof *s->scan_stamp);
        s->lit_stamp = calloc(pf->nlits + 1, sizeof *s->lit_stamp);
        s->memo = calloc(MEMO_SLOTS, sizeof *s->memo);
        s->memo_ring = malloc(MEMO_RING);
        /* one scratch serves every database (it grows to the largest need) */
        int ok = s->seen && s->cand && s->part && s->scan_stamp && s->lit_stamp && s->memo &&
                 s->memo_ring;
        for (int k = 0; ok && k < SG_KW_COUNT; k++)
            ok = !pf->kw[k].db || hs_alloc_scratch(pf->kw[k].db, &s->hs) == HS_SUCCESS;
        for (uint32_t i = 0; ok && i < pf->nsyms; i++)
            ok = !pf->field_db[i] || hs_alloc_scratch(pf->field_db[i], &s->hs) == HS_SUCCESS;
        if (!ok) {
            ps_sigma_scratch_free(s);
            return NULL;
        }
    }
    return s;
}

void ps_sigma_scratch_free(ps_sigma_scratch *s)
{
    if (!s)
        return;
    free(s->sym_stamp);
    free(s->sym_first);
    free(s->rule_stamp);
    free(s->next);
    free(s->fsym);
    free(s->lower_stamp);
    free(s->lower_off);
    free(s->ip_stamp);
    free(s->ip);
    ps_buf_free(&s->lower);
    pcre2_match_data_free(s->md);
    pcre2_match_context_free(s->mctx);
    if (s->hs)
        hs_free_scratch(s->hs);
    free(s->seen);
    free(s->cand);
    free(s->part);
    free(s->scan_stamp);
    free(s->memo);
    free(s->memo_ring);
    free(s->lit_stamp);
    ps_buf_free(&s->kw_buf);
    ps_buf_free(&s->path_store);
    free(s->paths);
    free(s->ptrs);
    for (unsigned i = 0; s->layouts && i < LAYOUT_SLOTS; i++)
        free(s->layouts[i].paths); /* one block per slot: see remember_layout */
    free(s->layouts);
    for (unsigned i = 0; i < MAP_CACHE; i++)
        free(s->map_cache[i].bits);
    free(s->re_memo);
    free(s->re_ring);
    free(s);
}

static int grow_fields(ps_sigma_scratch *s, uint32_t n)
{
    if (n <= s->field_cap)
        return 0;
    uint32_t cap = n < 64 ? 64 : n * 2;
    int32_t *next = realloc(s->next, cap * sizeof *next);
    if (next)
        s->next = next;
    int32_t *fsym = realloc(s->fsym, cap * sizeof *fsym);
    if (fsym)
        s->fsym = fsym;
    uint32_t *ls = realloc(s->lower_stamp, cap * sizeof *ls);
    if (ls)
        s->lower_stamp = ls;
    uint32_t *lo = realloc(s->lower_off, cap * sizeof *lo);
    if (lo)
        s->lower_off = lo;
    uint32_t *is = realloc(s->ip_stamp, cap * sizeof *is);
    if (is)
        s->ip_stamp = is;
    struct field_ip *ip = realloc(s->ip, cap * sizeof *ip);
    if (ip)
        s->ip = ip;
    if (!next || !fsym || !ls || !lo || !is || !ip)
        return -1;
    memset(s->lower_stamp + s->field_cap, 0, (cap - s->field_cap) * sizeof *ls);
    memset(s->ip_stamp + s->field_cap, 0, (cap - s->field_cap) * sizeof *is);
    s->field_cap = cap;
    return 0;
}

/* A hash of the path bytes as they are. */
static uint64_t path_hash(const char *p, size_t n) { return ps_hash_bytes(p, n, 0); }

/* a[0..n) == b[0..n), eight bytes at a time (paths and rule literals are a
 * few dozen bytes, and most comparisons fail in the first word: cheaper
 * inline than a call to memcmp). */
static int same_bytes(const char *a, const char *b, size_t n)
{
    if (n < 8) {
        for (size_t i = 0; i < n; i++)
            if (a[i] != b[i])
                return 0;
        return 1;
    }
    uint64_t x, y;
    for (size_t i = 0; i + 8 <= n; i += 8) {
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        if (x != y)
            return 0;
    }
    memcpy(&x, a + n - 8, 8);
    memcpy(&y, b + n - 8, 8);
    return x == y;
}

/* The symbol of a field path. Events of one template repeat the same paths,
 * so each path's symbol is remembered (up to a bound, whatever the input)
 * and found again by a hash of its raw bytes, which costs far less than
 * folding case and spaces for sg_sym_find. */
static int32_t path_symbol_by_bytes(ps_sigma_scratch *s, const char *path, uint32_t len,
                                    ptr_slot *ps)
{
    uint32_t h = (uint32_t)path_hash(path, len);
    uint32_t mask = PATH_SLOTS - 1, i = h & mask;
    for (; s->paths[i].used; i = (i + 1) & mask) {
        const path_slot *e = &s->paths[i];
        if (e->hash == h && e->len == len && same_bytes(s->path_store.data + e->off, path, len)) {
            *ps = (ptr_slot){path, e->off, len, e->sym};
            return e->sym;
        }
    }
    const char *key;
    size_t key_len;
    sg_event_field_key(path, len, &key, &key_len);
    int32_t sym = sg_sym_find(&s->set->syms, key, key_len);
    if (s->npaths < PATH_MAX_ENTRIES && len <= PATH_MAX_LEN &&
        s->path_store.len + len <= PATH_STORE_LIMIT) {
        size_t off = s->path_store.len;
        ps_buf_add(&s->path_store, path, len);
        if (!s->path_store.failed) {
            s->paths[i] = (path_slot){h, (uint32_t)off, (uint16_t)len, 1, sym};
            s->npaths++;
            *ps = (ptr_slot){path, (uint32_t)off, len, sym};
        }
    }
    return sym;
}

static int32_t path_symbol(ps_sigma_scratch *s, const char *path, uint32_t len)
{
    uint64_t a = (uint64_t)(uintptr_t)path * 0x9e3779b97f4a7c15ull;
    ptr_slot *ps = &s->ptrs[(a >> 40) & (PTR_SLOTS - 1)];
    if (ps->path == path && ps->len == len && same_bytes(s->path_store.data + ps->off, path, len))
        return ps->sym;
    return path_symbol_by_bytes(s, path, len, ps);
}

/* The event's layout slot if it holds this very layout, else NULL. */
static const layout_slot *known_layout(const ps_sigma_scratch *s, const ps_event *ev)
{
    if (!ev->layout)
        return NULL;
    const layout_slot *l = &s->layouts[ev->layout & (LAYOUT_SLOTS - 1)];
    if (l->layout != ev->layout || l->nfields != ev->nfields)
        return NULL;
    for (uint32_t i = 0; i < ev->nfields; i++)
        if (l->paths[i] != ev->fields[i].path)
            return NULL;
    return l;
}

/* Keep what prepare_fields just worked out for the event's layout. */
static void remember_layout(ps_sigma_scratch *s, const ps_event *ev)
{
    uint32_t n = ev->nfields;
    if (!ev->layout || n > LAYOUT_MAX_FIELDS)
        return;
    layout_slot *l = &s->layouts[ev->layout & (LAYOUT_SLOTS - 1)];
    free(l->paths);
    memset(l, 0, sizeof *l);
    /* One block: paths, then fsym, next and up to n head pairs. */
    char *block = malloc((size_t)n * (sizeof(char *) + 4 * sizeof(int32_t)) + 1);
    if (!block)
        return;
    l->paths = (const char **)(void *)block;
    l->fsym = (int32_t *)(void *)(block + (size_t)n * sizeof(char *));
    l->next = l->fsym + n;
    l->heads = l->next + n;
    for (uint32_t i = 0; i < n; i++) {
        l->paths[i] = ev->fields[i].path;
        l->fsym[i] = s->fsym[i];
        l->next[i] = s->next[i];
        int32_t sym = s->fsym[i];
        /* The chain's head: the first field of its symbol. */
        if (sym >= 0 && s->sym_first[sym] == (int32_t)i) {
            l->heads[2 * l->nheads] = sym;
            l->heads[2 * l->nheads + 1] = (int32_t)i;
            l->nheads++;
        }
    }
    l->nfields = n;
    l->layout = ev->layout;
}

/* Link every event field to its symbol (fields of one name stay in order). */
static int prepare_fields(ps_sigma_scratch *s)
{
    const ps_event *ev = s->ev;
    if (grow_fields(s, ev->nfields) != 0)
        return -1;
    const layout_slot *l = known_layout(s, ev);
    if (l) {
        memcpy(s->fsym, l->fsym, l->nfields * sizeof *s->fsym);
        memcpy(s->next, l->next, l->nfields * sizeof *s->next);
        for (uint32_t k = 0; k < l->nheads; k++) {
            int32_t sym = l->heads[2 * k];
            s->sym_stamp[sym] = s->epoch;
            s->sym_first[sym] = l->heads[2 * k + 1];
        }
        ps_buf_reset(&s->lower);
        s->fields_ready = 1;
        return 0;
    }
    for (uint32_t i = ev->nfields; i-- > 0;) {
        const ps_field *f = &ev->fields[i];
        int32_t sym = path_symbol(s, f->path, f->path_len);
        s->fsym[i] = sym;
        s->next[i] = -1;
        if (sym < 0)
            continue;
        if (s->sym_stamp[sym] != s->epoch) {
            s->sym_stamp[sym] = s->epoch;
            s->sym_first[sym] = -1;
        }
        s->next[i] = s->sym_first[sym];
        s->sym_first[sym] = (int32_t)i;
    }
    remember_layout(s, ev);
    ps_buf_reset(&s->lower);
    s->fields_ready = 1;
    return 0;
}

static int32_t first_field(const ps_sigma_scratch *s, int32_t sym)
{
    return s->sym_stamp[sym] == s->epoch ? s->sym_first[sym] : -1;
}

/* Field i with its value text (the decoder may have deferred it: see
 * ps_event.lazy). Every read of a value goes through here. Text made so
 * never moves other values, so pointers taken before stay good. */
static inline const ps_field *field_at(ps_sigma_scratch *s, uint32_t i)
{
    if (ps_event_settle_field(s->ev, i) != 0)
        s->failed = 1;
    return &s->ev->fields[i];
}

/* The lower-cased value of field i (computed once per event). */
static const char *lowered(ps_sigma_scratch *s, uint32_t i)
{
    const ps_field *f = field_at(s, i);
    if (s->lower_stamp[i] != s->epoch) {
        size_t off = s->lower.len;
        if (ps_buf_reserve(&s->lower, (size_t)f->value_len + 1) != 0) {
            s->failed = 1;
            return f->value;  /* degrade to a case-sensitive comparison */
        }
        sg_lower_copy(s->lower.data + off, f->value, f->value_len);
        s->lower.data[off + f->value_len] = 0;
        s->lower.len += (size_t)f->value_len + 1;
        s->lower_off[i] = (uint32_t)off;
        s->lower_stamp[i] = s->epoch;
    }
    return s->lower.data + s->lower_off[i];
}

static int literals_known(ps_sigma_scratch *s);
static int literal_known(ps_sigma_scratch *s, uint32_t db);

/* The integer a value's text stands for, as strtoll with base 0 reads it
 * (0x hex, leading-0 octal, sign, leading space), the whole text. Plain
 * decimal, what event IDs and most numbers are, is read here directly: this
 * runs for every integer rule value (EventID: 4624) against every event
 * its rule meets. */
static int parse_int_text(const char *t, int64_t *out)
{
    if (!*t)
        return -1;
    if (t[0] >= '1' && t[0] <= '9') {
        int64_t v = 0;
        size_t i = 0;
        for (; i < 18 && t[i] >= '0' && t[i] <= '9'; i++)
            v = v * 10 + (t[i] - '0');
        if (!t[i]) {
            *out = v;
            return 0;
        }
    }
    char *end;
    long long v = strtoll(t, &end, 0);
    if (*end)
        return -1;
    *out = v;
    return 0;
}

/* Where does t first hold lit (NULL: nowhere)? memchr looks for the
 * literal's rarest byte (chosen at compile time), which is much faster than
 * memmem on the short values of event logs (and than glibc's generic memmem
 * on long ones). False candidates cost a comparison each; past 8 + tl / ll
 * of them (so that the work stays linear in tl, whatever the text), the
 * linear-time memmem searches the rest. Candidates come in order, so the
 * first found is the leftmost. */
static const char *find_lit(const char *t, size_t tl, const char *lit, uint32_t ll,
                            uint32_t rare)
{
    if (ll == 0)
        return t;
    if (tl < ll)
        return NULL;
    const char *p = t + rare, *last = t + (tl - ll) + rare;
    size_t allowed = 8 + tl / ll;
    for (size_t misses = 0; p <= last; p++) {
        p = memchr(p, lit[rare], (size_t)(last - p) + 1);
        if (!p)
            return NULL;
        if (same_bytes(p - rare, lit, ll))
            return p - rare;
        if (++misses == allowed) {
            const char *from = p - rare + 1;
            return memmem(from, tl - (size_t)(from - t), lit, ll);
        }
    }
    return NULL;
}

static int contains(const char *t, size_t tl, const char *lit, uint32_t ll, uint32_t rare)
{
    return find_lit(t, tl, lit, ll, rare) != NULL;
}

static int shape_match(uint8_t shape, const char *lit, uint32_t ll, uint32_t rare, const char *t,
                       size_t tl)
{
    switch (shape) {
    case SH_EXACT: return tl == ll && same_bytes(t, lit, ll);
    case SH_PREFIX: return tl >= ll && same_bytes(t, lit, ll);
    case SH_SUFFIX: return tl >= ll && same_bytes(t + tl - ll, lit, ll);
    case SH_CONTAINS: return contains(t, tl, lit, ll, rare);
    case SH_ANY: return 1;
    default: return 0;
    }
}

/* Does t hold every run the regex needs, in order and apart? */
static int needs_met(const sg_value *v, const char *t, size_t tl)
{
    size_t at = 0;
    for (uint32_t k = 0; k < v->nneeds; k++) {
        const sg_need *n = &v->needs[k];
        const char *p = find_lit(t + at, tl - at, n->bytes, n->len, 0);
        if (!p)
            return 0;
        at = (size_t)(p - t) + n->len;
    }
    return 1;
}

/* Are the runs without letters, which read the same in any case, in the
 * value as it is? (A caseless regex's runs are otherwise looked for in the
 * lower-cased value, which is not worth making for a value without them.) */
static int plain_needs_in(const sg_value *v, const char *t, size_t tl)
{
    for (uint32_t k = 0; k < v->nneeds; k++) {
        const sg_need *n = &v->needs[k];
        if (!n->letters && !find_lit(t, tl, n->bytes, n->len, 0))
            return 0;
    }
    return 1;
}

static int fieldref_match(ps_sigma_scratch *s, const sg_value *v, uint32_t i)
{
    const ps_field *f = field_at(s, i);
    for (int32_t j = first_field(s, v->ref_sym); j >= 0; j = s->next[j]) {
        const ps_field *r = field_at(s, (uint32_t)j);
        const char *t = v->cased ? f->value : lowered(s, i);
        const char *lit = v->cased ? r->value : lowered(s, (uint32_t)j);
        if (shape_match(v->shape, lit, r->value_len, 0, t, f->value_len))
            return 1;
    }
    return 0;
}

static int number_match(const sg_value *v, const char *text)
{
    char *end;
    double d = strtod(text, &end);
    if (end == text || *end)
        return 0;
    switch (v->op) {
    case CMP_LT: return d < v->number;
    case CMP_LTE: return d <= v->number;
    case CMP_GT: return d > v->number;
    default: return d >= v->number;
    }
}

static int run_regex(ps_sigma_scratch *s, const sg_value *v, const char *t, size_t n)
{
    if (v->jit)
        return pcre2_jit_match(v->re, (PCRE2_SPTR)t, n, 0, 0, s->md, s->mctx) >= 0;
    return pcre2_match(v->re, (PCRE2_SPTR)t, n, 0, 0, s->md, s->mctx) >= 0;
}

/* c.*c.*...c (sg_regex_repeat) on t[0..n): c at least repeat_count times in
 * one line (in the whole text with the s modifier). -1 when the text is not
 * plain ASCII: with PCRE2_MATCH_INVALID_UTF, '.' does not cross an invalid
 * sequence, so such texts go to PCRE2 itself. */
static int repeat_match(const sg_value *v, const char *t, size_t n)
{
    uint8_t c = v->repeat_char, alt = c;
    if (v->repeat_caseless && ((c | 0x20) >= 'a' && (c | 0x20) <= 'z'))
        alt = c ^ 0x20;
    uint32_t seen = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t x = (uint8_t)t[i];
        if (x >= 0x80)
            return -1;
        if (x == c || x == alt) {
            if (++seen >= v->repeat_count)
                return 1;
        } else if (x == '\n' && !v->repeat_dotall) {
            seen = 0;
        }
    }
    return 0;
}

/* The regex on t[0..n), through the memo for long values. */
static int regex_match(ps_sigma_scratch *s, const sg_value *v, const char *t, size_t n)
{
    if (v->repeat_char) {
        int r = repeat_match(v, t, n);
        if (r >= 0)
            return r;
    }
    if (n < RE_MEMO_MIN_VALUE || n > RE_MEMO_MAX_VALUE)
        return run_regex(s, v, t, n);
    uint64_t h = path_hash(t, n) ^ (uint64_t)(uintptr_t)v->re * 0x9e3779b97f4a7c15ull;
    re_memo_slot *m = &s->re_memo[(h >> 20) & (RE_MEMO_SLOTS - 1)];
    if (m->re == v->re && m->hash == h && m->len == n && m->at + RE_MEMO_RING >= s->re_pos &&
        same_bytes(s->re_ring + (m->at & (RE_MEMO_RING - 1)), t, n))
        return m->result;
    int result = run_regex(s, v, t, n);
    uint64_t pos = s->re_pos;
    if ((pos & (RE_MEMO_RING - 1)) + n > RE_MEMO_RING) /* never wrap inside a value */
        pos = (pos | (RE_MEMO_RING - 1)) + 1;
    memcpy(s->re_ring + (pos & (RE_MEMO_RING - 1)), t, n);
    s->re_pos = pos + n;
    *m = (re_memo_slot){v->re, h, pos, (uint32_t)n, result};
    return result;
}

/* Does field i's value satisfy v? `db` is the symbol whose database holds
 * v's literal (nsyms and above: a keyword database, see keyword_db). */
static int value_match(ps_sigma_scratch *s, const sg_value *v, uint32_t i, uint32_t db)
{
    const ps_field *f = field_at(s, i);
    switch (v->kind) {
    case SV_STRING: {
        /* Values with a literal id are never integers that could match
         * numerically: an unseen literal settles it. */
        if (v->pf_id && literal_known(s, db) && s->lit_stamp[v->pf_id - 1] != s->epoch)
            return 0;
        const char *t = v->cased ? f->value : lowered(s, i);
        if (v->shape == SH_GLOB)
            return sg_glob_match(v->lit, v->glob, v->lit_len, t, f->value_len);
        if (shape_match(v->shape, v->lit, v->lit_len, v->rare, t, f->value_len))
            return 1;
        int64_t n;
        return v->is_int && parse_int_text(f->value, &n) == 0 && n == v->int_value;
    }
    case SV_REGEX:
        if (v->pf_id && literal_known(s, db) && s->lit_stamp[v->pf_id - 1] != s->epoch)
            return 0;
        if (v->nneeds && ((v->needs_caseless && !plain_needs_in(v, f->value, f->value_len)) ||
                          !needs_met(v, v->needs_caseless ? lowered(s, i) : f->value,
                                     f->value_len)))
            return 0; /* what PCRE2 would say too, without its search */
        return regex_match(s, v, f->value, f->value_len);
    case SV_CIDR: {
        /* parsed once per event however many networks a rule lists */
        struct field_ip *ip = &s->ip[i];
        if (s->ip_stamp[i] != s->epoch) {
            int v6;
            ip->v6 = (int8_t)(sg_parse_ip(f->value, f->value_len, ip->addr, &v6) == 0 ? v6 : -1);
            s->ip_stamp[i] = s->epoch;
        }
        return ip->v6 >= 0 &&
               sg_ip_in_net(ip->addr, ip->v6, v->cidr_addr, v->cidr_v6, v->cidr_bits);
    }
    case SV_NUMBER_CMP: return number_match(v, f->value);
    case SV_FIELDREF: return fieldref_match(s, v, i);
    default: return 0;
    }
}

/* Does any value of the field (chain from `first`) satisfy v? */
static int chain_match(ps_sigma_scratch *s, const sg_value *v, int32_t first)
{
    if (v->kind == SV_NULL) {
        for (int32_t i = first; i >= 0; i = s->next[i])
            if (field_at(s, (uint32_t)i)->value_len == 0)
                return 1;
        return first < 0;
    }
    if (v->kind == SV_EXISTS)
        return (first >= 0) == (v->op != 0);
    for (int32_t i = first; i >= 0; i = s->next[i])
        if (value_match(s, v, (uint32_t)i, (uint32_t)s->fsym[i]))
            return 1;
    return 0;
}

/* The keyword database that holds v's literal (as scan_db numbers it). */
static uint32_t keyword_db(const ps_sigma_scratch *s, const sg_value *v)
{
    const sg_keyword_db *every = &s->set->prefilter.kw[SG_KW_EVERY];
    uint32_t id = v->pf_id - 1; /* (not used without an id) */
    return s->nsyms + (v->pf_id && id >= every->base && id - every->base < every->nlits
                           ? SG_KW_EVERY
                           : SG_KW_LISTED);
}

/* Keyword search: any field's value. */
static int keyword_match(ps_sigma_scratch *s, const sg_value *v)
{
    uint32_t db = keyword_db(s, v);
    for (uint32_t i = 0; i < s->ev->nfields; i++)
        if (value_match(s, v, i, db))
            return 1;
    return 0;
}

/* Has field `sym` been scanned for this event, so that the scan state tells
 * which of its database's literals its values hold? (Never scans.) */
static int field_scanned(const ps_sigma_scratch *s, int32_t sym)
{
    return s->scan_stamp && !s->scan_failed && s->scan_stamp[sym] == s->epoch;
}

/* Has the scan of v's field found v's literal, so that v, a plain
 * `contains`, holds for one of the field's values? (The scan folds ASCII
 * case as lowered() does; the literal is v's whole text.) */
static int seen_contains(const ps_sigma_scratch *s, const sg_field_match *fm, const sg_value *v)
{
    return v->kind == SV_STRING && v->shape == SH_CONTAINS && v->pf_id &&
           field_scanned(s, fm->sym) && s->lit_stamp[v->pf_id - 1] == s->epoch;
}

static int one_value(ps_sigma_scratch *s, const sg_field_match *fm, const sg_value *v)
{
    if (fm->sym < 0)
        return keyword_match(s, v);
    return seen_contains(s, fm, v) || chain_match(s, v, first_field(s, fm->sym));
}

/* The ids of a long list whose field the scan has read (NULL: none, or
 * the field is not in the event, or the scan failed). */
static const uint32_t *known_ids(ps_sigma_scratch *s, const sg_field_match *fm)
{
    if (!fm->ids || first_field(s, fm->sym) < 0 || !literal_known(s, (uint32_t)fm->sym))
        return NULL;
    return fm->ids;
}

/* Value k of the list cannot match: its literal is not in the event. */
static inline int unseen(const ps_sigma_scratch *s, const uint32_t *ids, uint32_t k)
{
    return ids && ids[k] && s->lit_stamp[ids[k] - 1] != s->epoch;
}

/* Could value k hold, as far as the scans made so far tell? No when its
 * literal is one of the field's database and the scan of the field did
 * not find it (as value_match would conclude, without making a scan). */
static int may_hold(const ps_sigma_scratch *s, const sg_field_match *fm, const uint32_t *ids,
                    uint32_t k)
{
    if (unseen(s, ids, k))
        return 0;
    const sg_value *v = &fm->values[k];
    if (!v->pf_id || fm->sym < 0 || (v->kind != SV_STRING && v->kind != SV_REGEX))
        return 1;
    return !field_scanned(s, fm->sym) || s->lit_stamp[v->pf_id - 1] == s->epoch;
}

/* Does some group of an `all` list have no value that may hold? Found
 * before any text is searched: the values of a list are searched in its
 * order, and the first ones are often short and without a literal in the
 * databases (" -w ", "-nop" of SigmaHQ's PowerShell rules), so each cost
 * a search of the whole script block before a later value's unseen
 * literal settled it. */
static int all_ruled_out(const ps_sigma_scratch *s, const sg_field_match *fm,
                         const uint32_t *ids)
{
    if (!s->scan_stamp)
        return 0;
    for (uint32_t k = 0; k < fm->nvalues;) {
        uint32_t g = fm->values[k].group;
        int may = 0;
        for (; k < fm->nvalues && fm->values[k].group == g; k++)
            may = may || may_hold(s, fm, ids, k);
        if (!may)
            return 1;
    }
    return 0;
}

static int field_match(ps_sigma_scratch *s, const sg_field_match *fm)
{
    const uint32_t *ids = known_ids(s, fm);
    if (!fm->all) {
        for (uint32_t k = 0; k < fm->nvalues; k++)
            if (!unseen(s, ids, k) && one_value(s, fm, &fm->values[k]))
                return 1;
        return 0;
    }
    /* all: every YAML value (group of alternatives, values sorted by group)
     * must hold. */
    if (all_ruled_out(s, fm, ids))
        return 0;
    uint32_t k = 0;
    while (k < fm->nvalues) {
        uint32_t g = fm->values[k].group;
        int hit = 0;
        for (; k < fm->nvalues && fm->values[k].group == g; k++)
            if (!hit && !unseen(s, ids, k) && one_value(s, fm, &fm->values[k]))
                hit = 1;
        if (!hit)
            return 0;
    }
    return 1;
}

static int map_match(ps_sigma_scratch *s, const sg_map *m)
{
    for (uint32_t i = 0; i < m->n; i++)
        if (!field_match(s, &m->items[i]))
            return 0;
    return 1;
}

static int selection_match(ps_sigma_scratch *s, const sg_selection *sel)
{
    for (uint32_t i = 0; i < sel->nmaps; i++)
        if (map_match(s, &sel->maps[i]))
            return 1;
    return 0;
}

static int cond_eval(ps_sigma_scratch *s, const sg_detection *d, const sg_cond *c)
{
    switch (c->op) {
    case OP_SEL: return selection_match(s, &d->sel[c->sel]);
    case OP_NOT: return !cond_eval(s, d, c->kids[0]);
    case OP_AND:
        for (uint32_t i = 0; i < c->nkids; i++)
            if (!cond_eval(s, d, c->kids[i]))
                return 0;
        return 1;
    case OP_OR:
        for (uint32_t i = 0; i < c->nkids; i++)
            if (cond_eval(s, d, c->kids[i]))
                return 1;
        return 0;
    case OP_AT_LEAST: {
        /* Stops once the count is reached, and once it can no longer be:
         * `all of selection_*` fails at its first selection that fails. */
        uint32_t hits = 0;
        for (uint32_t i = 0; i < c->nkids && hits < c->count; i++) {
            if (hits + (c->nkids - i) < c->count)
                return 0;
            hits += (uint32_t)cond_eval(s, d, c->kids[i]);
        }
        return hits >= c->count;
    }
    default: return 1;
    }
}

static int compiled_match(ps_sigma_scratch *s, const sg_compiled *c)
{
    if (!map_match(s, &c->extra) || !cond_eval(s, &c->det, c->det.cond))
        return 0;
    for (uint32_t i = 0; i < c->nfilters; i++)
        if (!cond_eval(s, &c->filters[i], c->filters[i].cond))
            return 0;
    return 1;
}

static const sg_channel_bucket *find_bucket_by_hash(const ps_sigma_set *set,
                                                    const char *channel, size_t len)
{
    uint64_t h = sg_hash_lower(channel, len);
    uint32_t mask = set->nbuckets - 1;
    for (uint32_t i = (uint32_t)h & mask; set->buckets[i].channel; i = (i + 1) & mask) {
        const sg_channel_bucket *b = &set->buckets[i];
        if (b->hash == h && strlen(b->channel) == len && strncasecmp(b->channel, channel, len) == 0)
            return b;
    }
    return NULL;
}

/* The bucket of the event's channel: the last one again when the channel's
 * bytes are the last one's (folding case only when they are not). */
static const sg_channel_bucket *find_bucket(ps_sigma_scratch *s, const char *channel)
{
    const ps_sigma_set *set = s->set;
    if (!set->nbuckets || !channel)
        return NULL;
    size_t len = strlen(channel);
    if (len && len == s->last_channel_len && same_bytes(s->last_channel, channel, len))
        return s->last_bucket;
    const sg_channel_bucket *b = find_bucket_by_hash(set, channel, len);
    if (len && len <= CHANNEL_MEMO) {
        memcpy(s->last_channel, channel, len);
        s->last_channel_len = len;
        s->last_bucket = b;
    }
    return b;
}

static const sg_eid_list *find_eid(const sg_channel_bucket *b, uint32_t eid)
{
    uint32_t lo = 0, hi = b->nby_eid;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (b->by_eid[mid].eid < eid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < b->nby_eid && b->by_eid[lo].eid == eid ? &b->by_eid[lo] : NULL;
}

typedef struct match_run {
    ps_sigma_scratch *s;
    ps_sigma_match_fn fn;
    void *ctx;
    int count;
    int stop;
} match_run;

/* One scan: the scratch, and the id of the database's first literal; with
 * `hits`, the literals reported are also noted there (for the memo). */
typedef struct scan_ctx {
    ps_sigma_scratch *s;
    uint32_t base;
    uint32_t *hits;
    uint32_t nhits;          /* more than MEMO_MAX_HITS: not remembered */
} scan_ctx;

/* Hyperscan reports a literal (once per scan; the first report of the event
 * counts): the clauses that hold it hold, and a rule all of whose clauses
 * hold becomes a candidate. */
static void literal_seen(ps_sigma_scratch *s, uint32_t id)
{
    const sg_prefilter *pf = &s->set->prefilter;
    if (s->lit_stamp[id] == s->epoch)
        return;
    s->lit_stamp[id] = s->epoch;
    uint32_t tag = s->epoch << 8;
    for (uint32_t k = pf->lit_first[id]; k < pf->lit_first[id + 1]; k++) {
        uint32_t post = pf->lit_compiled[k], c = post >> 3;
        uint32_t cur = s->seen[c];
        uint32_t now = ((cur & ~0xffu) == tag ? cur : tag) | (1u << (post & 7));
        if (now == cur)
            continue; /* a clause seen before */
        s->seen[c] = now;
        if ((post & 7) == 0)
            s->part[s->npart++] = c;
        if ((now & 0xff) == pf->gate[c])
            s->cand[s->ncand++] = c;
    }
}

static int on_literal(unsigned local, unsigned long long from, unsigned long long to,
                      unsigned flags, void *ctx)
{
    (void)from, (void)to, (void)flags;
    scan_ctx *sc = ctx;
    if (sc->hits && sc->nhits++ < MEMO_MAX_HITS)
        sc->hits[sc->nhits - 1] = local;
    literal_seen(sc->s, sc->base + local);
    return 0;
}

static int map_has(sg_scan_map m, uint32_t bit) { return (m[bit / 64] >> (bit % 64)) & 1; }

/* The symbol whose database field i is scanned with, or -1 when it has none
 * or no rule of the event's posting lists reads the field. */
static int32_t scanned_sym(const ps_sigma_scratch *s, uint32_t i)
{
    int32_t sym = s->fsym[i];
    if (sym < 0 || !map_has(s->scan_map, (uint32_t)sym) ||
        (!s->set->prefilter.field_db[sym] && !s->set->prefilter.field_exact[sym]))
        return -1;
    return sym;
}

/* s->scan_map: the union of the event's lists' scan maps (one of them as it
 * is when there is one), from the cache or made there. 0, or -1 when out
 * of memory. */
static int union_scan_map(ps_sigma_scratch *s)
{
    s->scan_map = NULL;
    if (s->nscan_maps <= 1) {
        s->scan_map = s->nscan_maps ? s->scan_maps[0] : NULL;
        return 0;
    }
    const void *key[4] = {NULL, NULL, NULL, NULL};
    uintptr_t h = 0;
    for (unsigned k = 0; k < s->nscan_maps; k++) {
        key[k] = s->scan_maps[k];
        h = (h ^ (uintptr_t)key[k]) * 0x9e3779b97f4a7c15ull;
    }
    struct map_cache *mc = &s->map_cache[(h >> 40) & (MAP_CACHE - 1)];
    if (mc->bits && !memcmp(mc->key, key, sizeof key)) {
        s->scan_map = mc->bits;
        return 0;
    }
    size_t words = (s->nsyms + SG_KW_COUNT - 1) / 64 + 1; /* as list_scan_map makes them */
    if (!mc->bits && !(mc->bits = malloc(words * sizeof *mc->bits)))
        return -1;
    memcpy(mc->key, key, sizeof key);
    for (size_t w = 0; w < words; w++) {
        uint64_t u = 0;
        for (unsigned k = 0; k < s->nscan_maps; k++)
            u |= s->scan_maps[k][w];
        mc->bits[w] = u;
    }
    s->scan_map = mc->bits;
    return 0;
}

static int scan(ps_sigma_scratch *s, const hs_database_t *db, uint32_t base, const char *p,
                size_t n)
{
    if (n > UINT32_MAX)
        return -1;
    scan_ctx sc = {s, base, NULL, 0};
    return hs_scan(db, p, (unsigned)n, 0, s->hs, on_literal, &sc) == HS_SUCCESS ? 0 : -1;
}

static uint64_t memo_hash(const char *p, size_t n, int32_t sym)
{
    return path_hash(p, n) ^ ((uint64_t)(uint32_t)sym * 0x9e3779b97f4a7c15ull);
}

/* Is v[0..n) one of the table's keys of this case? Its local id + 1, or 0. */
static uint32_t exact_find(const sg_exact_table *t, const char *v, size_t n, int caseless)
{
    uint64_t h = sg_exact_hash(v, n, caseless);
    for (uint32_t k = (uint32_t)h & t->mask; t->slot[k]; k = (k + 1) & t->mask) {
        const sg_exact_key *key = &t->keys[t->slot[k] - 1];
        if (key->len == n && key->caseless == caseless && same_bytes(key->bytes, v, n))
            return t->slot[k];
    }
    return 0;
}

static void exact_lookup(ps_sigma_scratch *s, const sg_exact_table *t, uint32_t base,
                         const char *v, size_t n, int caseless)
{
    uint32_t id = exact_find(t, v, n, caseless);
    if (id)
        literal_seen(s, base + id - 1);
}

/* The keys of keyed table t that value i holds (see sg_exact_table.nforms):
 * a key's '=' is one of the value's, so each of those is tried for each
 * form whose prefix stands before it. A window holding another '=' cannot
 * be a key: skipped, so that a value of many '=' costs little more than
 * one of few. */
static void keyed_lookup(ps_sigma_scratch *s, const sg_exact_table *t, uint32_t i, scan_ctx *sc)
{
    const ps_field *f = field_at(s, i);
    const char *raw = f->value, *low = NULL;
    size_t n = f->value_len;
    const char *next;
    for (const char *eq = n ? memchr(raw, '=', n) : NULL; eq; eq = next) {
        size_t q = (size_t)(eq - raw);
        next = q + 1 < n ? memchr(eq + 1, '=', n - q - 1) : NULL;
        size_t room = (next ? (size_t)(next - raw) : n) - q; /* '=' and what follows, to the next */
        for (uint32_t k = 0; k < t->nforms; k++) {
            const sg_exact_form *fm = &t->forms[k];
            if (fm->prefix_len > q || fm->len - fm->prefix_len > room)
                continue;
            if (fm->caseless && !low)
                low = lowered(s, i);
            const char *text = fm->caseless ? low : raw;
            size_t at = q - fm->prefix_len;
            uint32_t id;
            if (same_bytes(text + at, fm->prefix, fm->prefix_len) &&
                (id = exact_find(t, text + at, fm->len, fm->caseless)))
                on_literal(id - 1, 0, 0, 0, sc);
        }
    }
}

/* Value i of field `sym` through the field's database, or its keyed table
 * (a table of whole values is looked up by scan_value, never here), to sc.
 * 0, or -1 when Hyperscan failed. */
static int scan_field_value(ps_sigma_scratch *s, int32_t sym, uint32_t i, scan_ctx *sc)
{
    const sg_prefilter *pf = &s->set->prefilter;
    const ps_field *f = &s->ev->fields[i];
    if (pf->field_exact[sym]) {
        keyed_lookup(s, pf->field_exact[sym], i, sc);
        return 0;
    }
    hs_error_t rc = hs_scan(pf->field_db[sym], f->value, f->value_len, 0, s->hs, on_literal, sc);
    return rc == HS_SUCCESS ? 0 : -1;
}

/* Scan value i of field `sym` (scan_field_value), or replay what the same
 * value gave before: the same literals, so the same state. */
static int scan_memo(ps_sigma_scratch *s, int32_t sym, uint32_t i)
{
    const char *p = s->ev->fields[i].value;
    size_t n = s->ev->fields[i].value_len;
    const sg_prefilter *pf = &s->set->prefilter;
    uint64_t h = memo_hash(p, n, sym);
    memo_slot *m = &s->memo[h & (MEMO_SLOTS - 1)];
    if (m->hash == h && m->sym == sym && m->len == n && m->at + MEMO_RING >= s->memo_pos) {
        const char *at = s->memo_ring + (m->at & (MEMO_RING - 1));
        size_t ids = (size_t)m->nhits * sizeof(uint32_t);
        if (same_bytes(at + ids, p, n)) {
            for (uint32_t k = 0; k < m->nhits; k++) {
                uint32_t local;
                memcpy(&local, at + k * sizeof local, sizeof local);
                literal_seen(s, pf->field_base[sym] + local);
            }
            return 0;
        }
    }
    uint32_t hits[MEMO_MAX_HITS];
    scan_ctx sc = {s, pf->field_base[sym], hits, 0};
    if (scan_field_value(s, sym, i, &sc) != 0)
        return -1;
    if (sc.nhits > MEMO_MAX_HITS)
        return 0;
    size_t need = (size_t)sc.nhits * sizeof(uint32_t) + n;
    uint64_t pos = s->memo_pos;
    if ((pos & (MEMO_RING - 1)) + need > MEMO_RING) /* never wrap inside an entry */
        pos = (pos | (MEMO_RING - 1)) + 1;
    char *at = s->memo_ring + (pos & (MEMO_RING - 1));
    memcpy(at, hits, (size_t)sc.nhits * sizeof(uint32_t));
    memcpy(at + (size_t)sc.nhits * sizeof(uint32_t), p, n);
    s->memo_pos = pos + need;
    *m = (memo_slot){h, pos, (uint32_t)n, sym, sc.nhits};
    return 0;
}

/* One value of field `sym` with the field's database, or its table. */
static int scan_value(ps_sigma_scratch *s, int32_t sym, uint32_t i)
{
    const sg_prefilter *pf = &s->set->prefilter;
    const ps_field *f = field_at(s, i);
    const sg_exact_table *t = pf->field_exact[sym];
    if (t && !t->nforms) { /* whole values */
        if (t->cased)
            exact_lookup(s, t, pf->field_base[sym], f->value, f->value_len, 0);
        if (t->caseless)
            exact_lookup(s, t, pf->field_base[sym], lowered(s, i), f->value_len, 1);
        return 0;
    }
    if (f->value_len <= MEMO_MAX_VALUE)
        return scan_memo(s, sym, i);
    scan_ctx sc = {s, pf->field_base[sym], NULL, 0};
    return scan_field_value(s, sym, i, &sc);
}

/* Every value (as one NUL-separated buffer) with keyword database `which`
 * (SG_KW_LISTED or SG_KW_EVERY). */
static int scan_keywords(ps_sigma_scratch *s, unsigned which)
{
    const sg_keyword_db *kw = &s->set->prefilter.kw[which];
    s->scan_stamp[s->nsyms + which] = s->epoch;
    if (!kw->db)
        return 0;
    ps_buf *kb = &s->kw_buf;
    ps_buf_reset(kb);
    /* A value shorter than every keyword literal cannot hold one (a literal
     * found across two values only costs an evaluation), nor, mostly, a
     * typed value (see skips_typed): left out. */
    uint32_t min = kw->min_len ? kw->min_len : 1;
    uint8_t skip_typed = kw->skips_typed;
    for (uint32_t i = 0; i < s->ev->nfields; i++) { /* one pass: the room is mostly there */
        if (s->ev->fields[i].typed & skip_typed)
            continue;
        const ps_field *f = field_at(s, i);
        if (f->value_len < min)
            continue;
        if (ps_buf_reserve(kb, (size_t)f->value_len + 1) != 0)
            return -1;
        memcpy(kb->data + kb->len, f->value, f->value_len);
        kb->len += f->value_len;
        kb->data[kb->len++] = 0;
    }
    return kb->len ? scan(s, kw->db, kw->base, kb->data, kb->len) : 0;
}

/* The values of one field (db < nsyms) or a keyword scan (db == nsyms +
 * SG_KW_LISTED or SG_KW_EVERY), unless done for this event already. */
static int scan_db(ps_sigma_scratch *s, uint32_t db)
{
    if (s->scan_stamp[db] == s->epoch)
        return 0;
    if (db >= s->nsyms)
        return scan_keywords(s, db - s->nsyms);
    s->scan_stamp[db] = s->epoch;
    if (!s->set->prefilter.field_db[db] && !s->set->prefilter.field_exact[db])
        return 0;
    for (int32_t i = first_field(s, (int32_t)db); i >= 0; i = s->next[i])
        if (field_at(s, (uint32_t)i)->value_len && scan_value(s, (int32_t)db, (uint32_t)i) != 0)
            return -1;
    return 0;
}

/* The first scan of an event: each value of a field that the event's lists
 * scan for every event (their gated rules' clause 0), with its field's
 * database, and every value with the keyword database when one of them
 * searches keywords. Other fields are scanned when asked for (scan_db). */
static int scan_event(ps_sigma_scratch *s)
{
    const ps_event *ev = s->ev;
    s->scanned = 1;
    if (!s->fields_ready && prepare_fields(s) != 0)
        return -1;
    if (union_scan_map(s) != 0)
        return -1;
    if (!s->scan_map)
        return 0;
    for (uint32_t i = 0; i < ev->nfields; i++) {
        int32_t sym = scanned_sym(s, i);
        if (sym < 0 || s->scan_stamp[sym] == s->epoch)
            continue;
        /* all of the field's values at once, so that its stamp means it */
        if (scan_db(s, (uint32_t)sym) != 0)
            return -1;
    }
    for (uint32_t db = s->nsyms; db < s->nsyms + SG_KW_COUNT; db++)
        if (map_has(s->scan_map, db) && scan_db(s, db) != 0)
            return -1;
    return 0;
}

/* Has the scan told what literals the event holds? (Scans on first use.) */
static int literals_known(ps_sigma_scratch *s)
{
    if (!s->scanned && scan_event(s) != 0)
        s->scan_failed = 1; /* cannot tell: evaluate everything of this event */
    return !s->scan_failed;
}

/* The same for the literals of one database (db as for scan_db). */
static int literal_known(ps_sigma_scratch *s, uint32_t db)
{
    if (s->scan_failed)
        return 0;
    if (s->scan_stamp[db] != s->epoch && (!s->fields_ready && prepare_fields(s) != 0))
        return 0;
    if (scan_db(s, db) != 0)
        s->scan_failed = 1;
    return !s->scan_failed;
}

/* May compiled rule `idx` match? No when it is gated and one of its
 * clauses has no literal in the event. */
static int may_match(ps_sigma_scratch *s, uint32_t idx)
{
    const sg_prefilter *pf = &s->set->prefilter;
    if (!pf->gate || !pf->gate[idx])
        return 1;
    return !literals_known(s) || s->seen[idx] == (s->epoch << 8 | pf->gate[idx]);
}

/* Evaluate compiled rule `idx` (unless its rule matched already) and
 * report a match. */
static void evaluate(match_run *r, uint32_t idx)
{
    ps_sigma_scratch *s = r->s;
    const ps_sigma_set *set = s->set;
    const sg_compiled *c = &set->compiled[idx];
    if (s->rule_stamp[c->rule] == s->epoch)
        return;
    if (!s->fields_ready && prepare_fields(s) != 0) {
        s->failed = 1;
        r->stop = 1;
        return;
    }
    if (!compiled_match(s, c))
        return;
    s->rule_stamp[c->rule] = s->epoch;
    r->count++;
    if (r->fn && r->fn(r->ctx, &set->rules[c->rule].info, c->rule, s->ev) != 0)
        r->stop = 2;
}

/* Every posting of a list, in order (without a prefilter, or when the scan
 * failed). */
static void run_postings(match_run *r, uint32_t first, uint32_t n)
{
    ps_sigma_scratch *s = r->s;
    const ps_sigma_set *set = s->set;
    for (uint32_t k = first; k < first + n && !r->stop; k++)
        if (s->rule_stamp[set->posting_rules[k]] != s->epoch && may_match(s, set->postings[k]))
            evaluate(r, set->postings[k]);
}

/* Is compiled rule c one of the list's gated ones (gated[lo..n), ascending)?
 * *lo moves past what is below c: candidates come ascending too. */
static int in_list(const uint32_t *gated, uint32_t n, uint32_t *lo, uint32_t c)
{
    uint32_t a = *lo, b = n;
    while (a < b) {
        uint32_t mid = a + (b - a) / 2;
        if (gated[mid] < c)
            a = mid + 1;
        else
            b = mid;
    }
    *lo = a;
    return a < n && gated[a] == c;
}

/* The list's rules that may match, in posting order: its always-evaluated
 * ones and the candidates among its gated ones, merged. */
static void run_split(match_run *r, const sg_split *sp)
{
    ps_sigma_scratch *s = r->s;
    const sg_prefilter *pf = &s->set->prefilter;
    const uint32_t *always = pf->always + sp->always_first;
    const uint32_t *gated = pf->gated_post + sp->gated_first;
    uint32_t i = 0, j = 0, lo = 0;
    while (!r->stop) {
        while (j < s->ncand && (!sp->gated_n || !in_list(gated, sp->gated_n, &lo, s->cand[j])))
            j++;
        uint32_t a = i < sp->always_n ? always[i] : UINT32_MAX;
        uint32_t c = j < s->ncand ? s->cand[j] : UINT32_MAX;
        if (a == UINT32_MAX && c == UINT32_MAX)
            break;
        if (a < c) {
            i++;
            evaluate(r, a);
        } else {
            j++;
            evaluate(r, c);
        }
    }
}

/* One of the event's posting lists. */
typedef struct event_list {
    uint32_t first, n;
    const sg_split *split;
} event_list;

/* Is gated rule c in one of the event's lists? */
static int in_event_lists(const ps_sigma_scratch *s, const event_list *lists, unsigned n,
                          uint32_t c)
{
    const sg_prefilter *pf = &s->set->prefilter;
    for (unsigned i = 0; i < n; i++) {
        uint32_t lo = 0;
        if (in_list(pf->gated_post + lists[i].split->gated_first, lists[i].split->gated_n, &lo, c))
            return 1;
    }
    return 0;
}

/* The second scan: the other fields the event's gated rules whose clause 0
 * was seen (in the first) need, so that their candidacy is known. (A rule
 * of the lists has its clause 0 among the fields of the first scan, so the
 * rules this scan makes partial are not theirs.) */
static int scan_partials(ps_sigma_scratch *s, const event_list *lists, unsigned nlists)
{
    const sg_prefilter *pf = &s->set->prefilter;
    for (uint32_t j = 0, n = s->npart; j < n; j++) {
        uint32_t c = s->part[j];
        const int32_t *more = pf->rule_syms + pf->syms_first[c] + pf->syms0_n[c];
        int checked = 0;
        for (uint32_t k = 0; k < pf->syms_more_n[c]; k++) {
            uint32_t db = (uint32_t)more[k];
            if (s->scan_stamp[db] == s->epoch)
                continue;
            if (!checked && !in_event_lists(s, lists, nlists, c))
                break;
            checked = 1;
            if (scan_db(s, db) != 0) {
                s->scan_failed = 1;
                return -1;
            }
        }
    }
    return 0;
}

static int by_index(const void *pa, const void *pb)
{
    uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
    return a < b ? -1 : a > b;
}


/* May the event's ID stand for its EventID field? (Rules filed under the
 * IDs their detection names are met through it; see index.c.) Yes when the
 * field is there once, in plain decimal, with the ID's value. */
static int eid_trusted(ps_sigma_scratch *s)
{
    if (!s->fields_ready && prepare_fields(s) != 0)
        return 0;
    int32_t i = first_field(s, s->set->eid_sym);
    if (i < 0 || s->next[i] >= 0)
        return 0;
    const ps_field *f = field_at(s, (uint32_t)i);
    if (!f->value_len || f->value_len > 10 || f->value[0] < '1' || f->value[0] > '9')
        return 0;
    uint64_t id = 0;
    for (uint32_t k = 0; k < f->value_len; k++) {
        if (f->value[k] < '0' || f->value[k] > '9')
            return 0;
        id = id * 10 + (uint64_t)(f->value[k] - '0');
    }
    return id == s->ev->event_id;
}

int ps_sigma_match(const ps_sigma_set *set, ps_sigma_scratch *s, const ps_event *ev,
                   ps_sigma_match_fn fn, void *ctx)
{
    if (!set || !s || !ev || s->set != set)
        return PS_ERR_ARG;
    if (++s->epoch == 1u << 24) { /* wrapped (see seen): forget every stamp */
        memset(s->sym_stamp, 0, s->nsyms * sizeof *s->sym_stamp);
        memset(s->rule_stamp, 0, set->nrules * sizeof *s->rule_stamp);
        memset(s->lower_stamp, 0, s->field_cap * sizeof *s->lower_stamp);
        memset(s->ip_stamp, 0, s->field_cap * sizeof *s->ip_stamp);
        if (s->seen)
            memset(s->seen, 0, set->ncompiled * sizeof *s->seen);
        if (s->scan_stamp)
            memset(s->scan_stamp, 0, (s->nsyms + SG_KW_COUNT) * sizeof *s->scan_stamp);
        if (s->lit_stamp)
            memset(s->lit_stamp, 0, set->prefilter.nlits * sizeof *s->lit_stamp);
        s->epoch = 1;
    }
    s->scanned = 0;
    s->scan_failed = 0;
    s->ncand = 0;
    s->npart = 0;
    s->ev = ev;
    s->fields_ready = 0;
    s->failed = 0;
    match_run r = {.s = s, .fn = fn, .ctx = ctx};
    const sg_prefilter *pf = &set->prefilter;
    const sg_channel_bucket *b = find_bucket(s, ev->channel);
    const sg_eid_list *l = b ? find_eid(b, ev->event_id) : NULL;
    int fallback = b && b->fallback_n && !eid_trusted(s);
    event_list lists[4];
    unsigned nlists = 0;
    s->nscan_maps = 0;
    if (l) {
        lists[nlists++] = (event_list){l->first, l->n, &l->split};
        if (l->scan)
            s->scan_maps[s->nscan_maps++] = l->scan;
    }
    if (b) {
        lists[nlists++] = (event_list){b->any_first, b->any_n, &b->any_split};
        if (b->any_scan)
            s->scan_maps[s->nscan_maps++] = b->any_scan;
    }
    if (fallback) {
        lists[nlists++] = (event_list){b->fallback_first, b->fallback_n, &b->fallback_split};
        if (b->fallback_scan)
            s->scan_maps[s->nscan_maps++] = b->fallback_scan;
    }
    lists[nlists++] = (event_list){set->every_first, set->every_n, &pf->every_split};
    if (pf->every_scan)
        s->scan_maps[s->nscan_maps++] = pf->every_scan;
    /* With the prefilter, the scan names the gated rules that may match
     * (candidates); when it fails, every rule is evaluated. */
    int by_candidates = pf->gate != NULL;
    if (by_candidates) {
        int gated = 0;
        for (unsigned i = 0; i < nlists; i++)
            gated |= lists[i].split->gated_n != 0;
        if (gated && (!literals_known(s) || scan_partials(s, lists, nlists) != 0))
            by_candidates = 0;
        else if (s->ncand > 1)
            qsort(s->cand, s->ncand, sizeof *s->cand, by_index);
    }
    for (unsigned i = 0; i < nlists && !r.stop; i++) {
        if (by_candidates)
            run_split(&r, lists[i].split);
        else
            run_postings(&r, lists[i].first, lists[i].n);
    }
    if (r.stop == 2)
        return PS_ERR_STOP;
    if (s->failed && r.stop)
        return PS_ERR_NOMEM;
    return r.count;
}
