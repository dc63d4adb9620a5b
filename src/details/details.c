/* Details (include/plainsight/details.h): an event's key fields on one line.
 *
 * The table maps (channel, event ID) to the names of the fields shown. Where
 * those fields sit in an event is found once per event layout and kept in
 * the thread's scratch, so that an event then costs one look in the scratch
 * and the copies of the values it shows. Before the table, every detection
 * showed all of its event's data fields: some 500 bytes for a failed logon,
 * most of what the hunt's detection store sorted and wrote to disk. */
#include "plainsight/details.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/arena.h"
#include "util/buf.h"
#include "util/yaml_tree.h"

#define DT_MAX_FIELDS 32          /* names per event; more: an error */
#define DT_MAX_ENTRIES 65536      /* events per table */
#define DT_MAX_FILE (1u << 20)    /* a table file bigger than this is refused */
#define DT_LAYOUT_SLOTS 256       /* layouts a scratch remembers (a direct-mapped cache) */

extern const char ps_details_builtin_table[];
extern const size_t ps_details_builtin_table_len;

typedef struct dt_entry {
    const char *channel;
    uint32_t event_id;
    uint32_t nnames;
    const char **names;
    uint32_t *name_lens;
} dt_entry;

struct ps_details {
    ps_arena arena;
    dt_entry *entries;
    uint32_t nentries;
    uint32_t *slot;               /* open addressing: entry index + 1, 0 empty */
    uint32_t mask;
};

/* Where the fields shown sit in the events of one layout. */
typedef struct layout_memo {
    uint64_t layout;              /* 0: empty slot */
    const ps_details *table;
    uint32_t nfields;             /* the layout's, checked again on use */
    uint32_t n;                   /* fields shown; 0: every data field */
    uint32_t index[DT_MAX_FIELDS];
} layout_memo;

struct ps_details_scratch {
    layout_memo memo[DT_LAYOUT_SLOTS];
};

/* ---- the table ---- */

static uint64_t channel_hash(const char *s, uint32_t event_id)
{
    uint64_t h = 0xcbf29ce484222325ull ^ event_id;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        h = (h ^ (c >= 'A' && c <= 'Z' ? c + 32 : c)) * 0x100000001b3ull;
    }
    return h ^ (h >> 29);
}

static const dt_entry *find_entry(const ps_details *d, const char *channel, uint32_t event_id)
{
    if (!d->slot || !channel)
        return NULL;
    for (uint32_t k = (uint32_t)channel_hash(channel, event_id) & d->mask; d->slot[k];
         k = (k + 1) & d->mask) {
        const dt_entry *e = &d->entries[d->slot[k] - 1];
        if (e->event_id == event_id && strcasecmp(e->channel, channel) == 0)
            return e;
    }
    return NULL;
}

typedef struct dt_loader {
    ps_details *d;
    const char *name;
    char *err;
    size_t errlen;
    uint32_t cap;
    int rc;
} dt_loader;

static int dt_fail(dt_loader *l, uint32_t line, const char *why, const char *what)
{
    snprintf(l->err, l->errlen, "%s:%u: %s%s%s", l->name, line, why, what ? ": " : "",
             what ? what : "");
    l->rc = PS_ERR_FORMAT;
    return -1;
}

static int dt_nomem(dt_loader *l)
{
    snprintf(l->err, l->errlen, "%s: out of memory", l->name);
    l->rc = PS_ERR_NOMEM;
    return -1;
}

static int parse_event_id(const yt_node *k, uint32_t *out)
{
    if (k->type != YT_SCALAR || !k->len || k->len > 10)
        return -1;
    uint64_t v = 0;
    for (uint32_t i = 0; i < k->len; i++) {
        if (k->text[i] < '0' || k->text[i] > '9')
            return -1;
        v = v * 10 + (uint64_t)(k->text[i] - '0');
    }
    if (v > UINT32_MAX)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

static dt_entry *new_entry(dt_loader *l, uint32_t line)
{
    ps_details *d = l->d;
    if (d->nentries == DT_MAX_ENTRIES || d->nentries >= (d->mask + 1) / 2)
        return dt_fail(l, line, "too many events", NULL), NULL;
    if (d->nentries == l->cap) {
        uint32_t cap = l->cap ? l->cap * 2 : 64;
        dt_entry *grown = ps_arena_alloc(&d->arena, cap * sizeof *grown);
        if (!grown)
            return dt_nomem(l), NULL;
        if (d->nentries)
            memcpy(grown, d->entries, d->nentries * sizeof *grown);
        d->entries = grown;
        l->cap = cap;
    }
    return &d->entries[d->nentries++];
}

static int read_event(dt_loader *l, const char *channel, const yt_node *k, const yt_node *v)
{
    uint32_t event_id;
    if (parse_event_id(k, &event_id) != 0)
        return dt_fail(l, k->line, "not an event ID", k->type == YT_SCALAR ? k->text : NULL);
    if (v->type != YT_SEQ || v->n == 0)
        return dt_fail(l, v->line, "needs a list of field names", NULL);
    if (v->n > DT_MAX_FIELDS)
        return dt_fail(l, v->line, "more than 32 fields", NULL);
    if (find_entry(l->d, channel, event_id))
        return dt_fail(l, k->line, "event listed twice", k->text);
    dt_entry *e = new_entry(l, k->line);
    if (!e)
        return -1;
    *e = (dt_entry){.channel = channel, .event_id = event_id, .nnames = v->n};
    e->names = ps_arena_alloc(&l->d->arena, v->n * sizeof *e->names);
    e->name_lens = ps_arena_alloc(&l->d->arena, v->n * sizeof *e->name_lens);
    if (!e->names || !e->name_lens)
        return dt_nomem(l);
    for (uint32_t i = 0; i < v->n; i++) {
        const yt_node *f = v->items[i];
        if (f->type != YT_SCALAR || !f->len)
            return dt_fail(l, f->line, "a field name must be a non-empty string", NULL);
        e->names[i] = f->text;
        e->name_lens[i] = f->len;
    }
    /* Indexed at once, so that a second listing of the event is caught. */
    ps_details *d = l->d;
    uint32_t slot = (uint32_t)channel_hash(channel, event_id) & d->mask;
    while (d->slot[slot])
        slot = (slot + 1) & d->mask;
    d->slot[slot] = d->nentries;
    return 0;
}

/* One document of the table (a file may hold several, read as one). */
static int on_table_doc(void *ctx, yt_node *root, uint32_t line)
{
    dt_loader *l = ctx;
    if (root->type == YT_SCALAR && yt_is_null(root))
        return 0; /* an empty document */
    if (root->type != YT_MAP) {
        dt_fail(l, line, "not a map of channels", NULL);
        return 1;
    }
    for (uint32_t i = 0; i < root->n; i++) {
        const yt_node *ch = root->items[2 * i], *events = root->items[2 * i + 1];
        if (ch->type != YT_SCALAR || !ch->len) {
            dt_fail(l, ch->line, "a channel must be a name", NULL);
            return 1;
        }
        if (events->type != YT_MAP) {
            dt_fail(l, events->line, "needs a map of event IDs", ch->text);
            return 1;
        }
        for (uint32_t j = 0; j < events->n; j++)
            if (read_event(l, ch->text, events->items[2 * j], events->items[2 * j + 1]) != 0)
                return 1;
    }
    return 0;
}

/* Slots for the entries the text can hold (at most DT_MAX_ENTRIES), at a
 * load under one half, made before the entries so that each is indexed as it
 * is read. */
static int size_slots(ps_details *d, size_t text_len)
{
    /* An entry takes four bytes of YAML at the least ("1:[a" in flow style). */
    size_t most = text_len / 4 + 1;
    if (most > DT_MAX_ENTRIES)
        most = DT_MAX_ENTRIES;
    uint32_t n = 16;
    while (n < 2 * most)
        n *= 2;
    d->slot = ps_arena_alloc(&d->arena, n * sizeof *d->slot);
    if (!d->slot)
        return -1;
    memset(d->slot, 0, n * sizeof *d->slot);
    d->mask = n - 1;
    return 0;
}

int ps_details_load_text(const char *text, size_t len, const char *name, ps_details **out,
                         char *err, size_t errlen)
{
    char spare[1];
    if (!err || !errlen)
        err = spare, errlen = sizeof spare;
    err[0] = 0;
    if (!out || (!text && len))
        return PS_ERR_ARG;
    *out = NULL;
    ps_details *d = calloc(1, sizeof *d);
    if (!d)
        return PS_ERR_NOMEM;
    ps_arena_init(&d->arena, 64 * 1024, 0);
    dt_loader l = {.d = d, .name = name ? name : "<details>", .err = err, .errlen = errlen};
    char why[256];
    uint32_t line = 0;
    if (size_slots(d, len) != 0)
        dt_nomem(&l);
    else if (yt_parse(text, len, &d->arena, on_table_doc, &l, why, sizeof why, &line) != 0 &&
             l.rc == PS_OK)
        dt_fail(&l, line, why, NULL);
    if (l.rc != PS_OK) {
        ps_details_free(d);
        return l.rc;
    }
    *out = d;
    return PS_OK;
}

int ps_details_load(const char *path, ps_details **out, char *err, size_t errlen)
{
    if (!path)
        return ps_details_load_text(ps_details_builtin_table, ps_details_builtin_table_len,
                                    "<built-in details>", out, err, errlen);
    char spare[1];
    if (!err || !errlen)
        err = spare, errlen = sizeof spare;
    ps_buf text;
    ps_buf_init(&text);
    const char *why = NULL;
    int rc = ps_buf_read_file(&text, path, DT_MAX_FILE, &why);
    if (rc == PS_OK)
        rc = ps_details_load_text(text.data ? text.data : "", text.len, path, out, err, errlen);
    else
        snprintf(err, errlen, "%s: %s", path, why);
    ps_buf_free(&text);
    return rc;
}

void ps_details_free(ps_details *d)
{
    if (!d)
        return;
    ps_arena_free(&d->arena);
    free(d);
}

ps_details_scratch *ps_details_scratch_new(void) { return calloc(1, sizeof(ps_details_scratch)); }

void ps_details_scratch_free(ps_details_scratch *s) { free(s); }

/* ---- formatting ---- */

static int data_field(const ps_field *f)
{
    return (f->path_len >= 16 && memcmp(f->path, "Event.EventData.", 16) == 0) ||
           (f->path_len >= 15 && memcmp(f->path, "Event.UserData.", 15) == 0);
}

/* The fields of ev that entry e shows, in its order (the first of a name). */
static uint32_t place_fields(const dt_entry *e, const ps_event *ev, uint32_t index[DT_MAX_FIELDS])
{
    uint32_t n = 0;
    for (uint32_t k = 0; e && k < e->nnames; k++)
        for (uint32_t i = 0; i < ev->nfields; i++) {
            const ps_field *f = &ev->fields[i];
            if (f->name_len == e->name_lens[k] && memcmp(f->name, e->names[k], f->name_len) == 0 &&
                data_field(f)) {
                index[n++] = i;
                break;
            }
        }
    return n;
}

/* Where the fields ev shows are: from the scratch when its layout was seen. */
static const layout_memo *fields_shown(const ps_details *d, ps_details_scratch *s,
                                       const ps_event *ev, layout_memo *local)
{
    layout_memo *m = local;
    if (ev->layout && s) {
        m = &s->memo[(ev->layout ^ (ev->layout >> 32)) & (DT_LAYOUT_SLOTS - 1)];
        if (m->layout == ev->layout && m->table == d && m->nfields == ev->nfields)
            return m;
    }
    m->n = d ? place_fields(find_entry(d, ev->channel, ev->event_id), ev, m->index) : 0;
    m->layout = ev->layout;
    m->table = d;
    m->nfields = ev->nfields;
    return m;
}

/* Append s[0..len) as snprintf would (what fits, less room for the NUL),
 * counting its whole length in *n. */
static void put_text(char *buf, size_t size, size_t *n, const char *s, size_t len)
{
    if (*n + 1 < size) {
        size_t room = size - 1 - *n;
        memcpy(buf + *n, s, len < room ? len : room);
    }
    *n += len;
}

#define PUT_LITERAL(buf, size, n, lit) put_text(buf, size, n, lit, sizeof lit - 1)

static void put_field(char *buf, size_t size, size_t *n, const ps_field *f)
{
    if (*n)
        PUT_LITERAL(buf, size, n, " \xc2\xa6 "); /* " ¦ " */
    put_text(buf, size, n, f->name, f->name_len);
    PUT_LITERAL(buf, size, n, ": ");
    put_text(buf, size, n, f->value, f->value_len);
}

/* Every data field but `lead`, in the event's order. */
static void put_every_field(const ps_event *ev, const ps_field *lead, char *buf, size_t size,
                            size_t *n)
{
    for (uint32_t i = 0; i < ev->nfields && *n + 4 < size; i++) {
        const ps_field *f = &ev->fields[i];
        if (!data_field(f))
            continue;
        ps_event_settle_field(ev, i); /* "" if memory ran out */
        if (f->value_len && f != lead)
            put_field(buf, size, n, f);
    }
}

size_t ps_details_format(const ps_details *d, ps_details_scratch *s, const ps_event *ev,
                         const ps_field *lead, char *buf, size_t size)
{
    if (!buf || !size)
        return 0;
    if (!ev) {
        buf[0] = 0;
        return 0;
    }
    size_t n = 0;
    if (lead) {
        put_text(buf, size, &n, lead->name, lead->name_len);
        PUT_LITERAL(buf, size, &n, ": ");
        put_text(buf, size, &n, lead->value, lead->value_len);
    }
    size_t before = n;
    layout_memo local;
    const layout_memo *m = fields_shown(d, s, ev, &local);
    for (uint32_t k = 0; k < m->n && n + 4 < size; k++) {
        const ps_field *f = &ev->fields[m->index[k]];
        ps_event_settle_field(ev, m->index[k]);
        if (f->value_len && f != lead)
            put_field(buf, size, &n, f);
    }
    if (n == before) /* not listed, or every field listed empty here */
        put_every_field(ev, lead, buf, size, &n);
    return ps_details_finish(buf, n, size);
}

/* ---- one line ---- */

/* Bytes below 0x20 (control bytes, NUL among them) in 16 at once, with
 * GCC's vector extension (SSE2 on x86-64, NEON on arm64). */
typedef uint8_t bytes16 __attribute__((vector_size(16)));

static int has_control_byte(const char *p)
{
    bytes16 v;
    memcpy(&v, p, sizeof v);
    bytes16 low = v < (bytes16){0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
                                0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20};
    uint64_t w[2];
    memcpy(w, &low, sizeof w);
    return (w[0] | w[1]) != 0;
}

size_t ps_details_finish(char *buf, size_t n, size_t size)
{
    if (!buf || !size)
        return 0;
    if (n >= size) { /* cut short: never leave half a UTF-8 sequence */
        n = size - 1;
        while (n > 0 && ((unsigned char)buf[n - 1] & 0xC0) == 0x80)
            n--;
        if (n > 0 && (unsigned char)buf[n - 1] >= 0xC0)
            n--;
    }
    buf[n] = 0;
    /* One line per detection, whatever the values hold: control bytes, NUL
     * among them, become spaces (so a value's text after a NUL is shown, not
     * hidden). Sixteen bytes are tested at once (with eight, this pass took
     * 32% more instructions). */
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        if (!has_control_byte(buf + i))
            continue;
        for (size_t k = i; k < i + 16; k++)
            if ((unsigned char)buf[k] < 0x20)
                buf[k] = ' ';
    }
    for (; i < n; i++)
        if ((unsigned char)buf[i] < 0x20)
            buf[i] = ' ';
    return n;
}
