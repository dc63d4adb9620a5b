/* One parsed JSON object -> the event model, with the EVTX decoder's paths. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonl/jsonl_internal.h"
#include "plainsight/jsonl.h"

#define MAX_FLATTEN_DEPTH 64
#define ARENA_BLOCK (64u << 10)
#define ARENA_LIMIT (64u << 20)

void jl_builder_init(jl_builder *b)
{
    memset(b, 0, sizeof *b);
    ps_arena_init(&b->arena, ARENA_BLOCK, ARENA_LIMIT);
    ps_buf_init(&b->path);
    ps_buf_init(&b->text);
}

void jl_builder_free(jl_builder *b)
{
    free(b->stream);
    free(b->fields);
    ps_arena_free(&b->arena);
    ps_buf_free(&b->path);
    ps_buf_free(&b->text);
}

void jl_add_field(jl_builder *b, const char *path, size_t plen, const char *value, size_t vlen,
                  ps_kind kind)
{
    if (b->nfields == b->cap) {
        uint32_t cap = b->cap ? b->cap * 2 : 64;
        ps_field *f = realloc(b->fields, cap * sizeof *f);
        if (!f) {
            b->failed = 1;
            return;
        }
        b->fields = f;
        b->cap = cap;
    }
    char *p = ps_arena_strndup(&b->arena, path, plen);
    char *v = ps_arena_strndup(&b->arena, value, vlen);
    if (!p || !v || plen > UINT32_MAX || vlen > UINT32_MAX) {
        b->failed = 1;
        return;
    }
    ps_field *f = &b->fields[b->nfields++];
    const char *dot = memrchr(p, '.', plen);
    f->path = p;
    f->path_len = (uint32_t)plen;
    f->name = dot ? dot + 1 : p;
    f->name_len = (uint32_t)(plen - (size_t)(f->name - p));
    f->value = v;
    f->value_len = (uint32_t)vlen;
    f->kind = (uint8_t)kind;
    f->typed = 0;
}

void jl_real_text(double d, char out[40])
{
    snprintf(out, 40, "%.15g", d);
    if (strtod(out, NULL) != d) /* shortest text that reads back the same */
        snprintf(out, 40, "%.17g", d);
}

/* The text and kind of a scalar JSON value, in b->text. */
static ps_kind scalar_text(jl_builder *b, const json_t *v)
{
    char num[40];
    ps_buf_reset(&b->text);
    switch (json_typeof(v)) {
    case JSON_STRING: {
        const char *t = json_string_value(v);
        size_t n = json_string_length(v), mark = sizeof JL_BIG_INT_UTF8 - 1;
        if (b->big_ints && n > mark && !memcmp(t, JL_BIG_INT_UTF8, mark)) {
            ps_buf_add(&b->text, t + mark, n - mark); /* an integer jansson could not hold */
            return PS_KIND_INT;
        }
        ps_buf_add(&b->text, t, n);
        return PS_KIND_STRING;
    }
    case JSON_INTEGER:
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
        ps_buf_adds(&b->text, num);
        return PS_KIND_INT;
    case JSON_REAL:
        jl_real_text(json_real_value(v), num);
        ps_buf_adds(&b->text, num);
        return PS_KIND_STRING;
    case JSON_TRUE:
        ps_buf_lit(&b->text, "true");
        return PS_KIND_BOOL;
    case JSON_FALSE:
        ps_buf_lit(&b->text, "false");
        return PS_KIND_BOOL;
    default:
        return PS_KIND_NULL;
    }
}

static void add_scalar(jl_builder *b, const char *path, size_t plen, const json_t *v)
{
    ps_kind kind = scalar_text(b, v);
    jl_add_field(b, path, plen, b->text.data ? b->text.data : "", b->text.len, kind);
    if (b->text.failed)
        b->failed = 1;
}

/* Objects add their keys to the path; array items share their array's path
 * (one field each, in order), as in the EVTX event model. */
static void flatten(jl_builder *b, const json_t *v, int depth)
{
    if (depth > MAX_FLATTEN_DEPTH) {
        b->failed = 1;
        return;
    }
    if (json_is_object(v)) {
        const char *key;
        const json_t *child;
        size_t mark = b->path.len;
        json_object_foreach((json_t *)v, key, child) {
            if (b->path.len)
                ps_buf_addc(&b->path, '.');
            ps_buf_adds(&b->path, key);
            flatten(b, child, depth + 1);
            b->path.len = mark;
        }
    } else if (json_is_array(v)) {
        size_t i;
        const json_t *item;
        json_array_foreach(v, i, item)
            flatten(b, item, depth + 1);
    } else {
        add_scalar(b, b->path.data ? b->path.data : "", b->path.len, v);
    }
    if (b->path.failed)
        b->failed = 1;
}

static void flatten_under(jl_builder *b, const char *prefix, const json_t *v)
{
    ps_buf_reset(&b->path);
    ps_buf_adds(&b->path, prefix);
    flatten(b, v, 0);
}

/* A value by dotted path, through nested objects or keys that themselves
 * hold dots (some SIEM exports flatten "winlog.event_id" into one key). */
static const json_t *lookup(const json_t *obj, const char *path)
{
    if (!json_is_object(obj))
        return NULL;
    const json_t *whole = json_object_get(obj, path);
    if (whole)
        return whole;
    for (const char *dot = strchr(path, '.'); dot; dot = strchr(dot + 1, '.')) {
        const json_t *head = json_object_getn(obj, path, (size_t)(dot - path));
        const json_t *found = head ? lookup(head, dot + 1) : NULL;
        if (found)
            return found;
    }
    return NULL;
}

static void add_text(jl_builder *b, const char *path, const char *text, size_t len, ps_kind kind)
{
    jl_add_field(b, path, strlen(path), text, len, kind);
}

static int is_decimal(const char *s, size_t n)
{
    size_t i = n && s[0] == '-';
    if (i == n || n > 20)
        return 0;
    for (; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

typedef struct system_key {
    const char *winlog;   /* path under the root */
    const char *evtx;     /* the EVTX model's path */
    int numeric;          /* an integer in EVTX even when Winlogbeat wrote a string */
    int guid;             /* Winlogbeat writes GUIDs in braces, evtx_dump without */
} system_key;

/* In the order the EVTX model lists Event.System. */
static const system_key SYSTEM_KEYS[] = {
    {"winlog.provider_name", "Event.System.Provider.#attributes.Name", 0, 0},
    {"winlog.provider_guid", "Event.System.Provider.#attributes.Guid", 0, 1},
    {"winlog.event_id", "Event.System.EventID", 1, 0},
    {"winlog.version", "Event.System.Version", 1, 0},
    {"@timestamp", "Event.System.TimeCreated.#attributes.SystemTime", 0, 0},
    {"winlog.record_id", "Event.System.EventRecordID", 1, 0},
    {"winlog.activity_id", "Event.System.Correlation.#attributes.ActivityID", 0, 1},
    {"winlog.related_activity_id", "Event.System.Correlation.#attributes.RelatedActivityID", 0, 1},
    {"winlog.process.pid", "Event.System.Execution.#attributes.ProcessID", 1, 0},
    {"winlog.process.thread.id", "Event.System.Execution.#attributes.ThreadID", 1, 0},
    {"winlog.channel", "Event.System.Channel", 0, 0},
    {"winlog.computer_name", "Event.System.Computer", 0, 0},
    {"winlog.user.identifier", "Event.System.Security.#attributes.UserID", 0, 0},
};

static void add_system_key(jl_builder *b, const system_key *k, const json_t *v)
{
    ps_kind kind = scalar_text(b, v);
    const char *t = ps_buf_cstr(&b->text);
    size_t n = b->text.len;
    char when[48];
    uint64_t ft;
    if (!strcmp(k->winlog, "@timestamp") && kind == PS_KIND_STRING) {
        if (ps_time_parse(t, &ft, NULL) == 0) {
            jl_format_systemtime(ft, when);
            t = when;
            n = strlen(when);
        }
    }
    if (k->guid && n >= 2 && t[0] == '{' && t[n - 1] == '}')
        t++, n -= 2;
    if (k->numeric && kind == PS_KIND_STRING && is_decimal(t, n))
        kind = PS_KIND_INT;
    add_text(b, k->evtx, t, n, kind);
}

/* Keys given flat at the root ("winlog.event_data.CommandLine"). */
static void flatten_flat_keys(jl_builder *b, const json_t *root, const char *prefix,
                              const char *evtx_prefix)
{
    size_t plen = strlen(prefix);
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)root, key, v) {
        if (strncmp(key, prefix, plen) != 0 || !key[plen])
            continue;
        ps_buf_reset(&b->path);
        ps_buf_adds(&b->path, evtx_prefix);
        ps_buf_adds(&b->path, key + plen);
        flatten(b, v, 0);
    }
}

static void build_winlogbeat(jl_builder *b, const json_t *root)
{
    for (size_t i = 0; i < sizeof SYSTEM_KEYS / sizeof *SYSTEM_KEYS; i++) {
        const json_t *v = lookup(root, SYSTEM_KEYS[i].winlog);
        if (v && !json_is_object(v) && !json_is_array(v))
            add_system_key(b, &SYSTEM_KEYS[i], v);
    }
    const json_t *data = lookup(root, "winlog.event_data");
    if (json_is_object(data))
        flatten_under(b, "Event.EventData", data);
    flatten_flat_keys(b, root, "winlog.event_data.", "Event.EventData.");
    /* user_data: the EVTX model nests it under the root element's name. */
    const json_t *user = lookup(root, "winlog.user_data");
    if (json_is_object(user)) {
        const char *root_name = json_string_value(json_object_get(user, "xml_name"));
        ps_buf_reset(&b->path);
        ps_buf_adds(&b->path, "Event.UserData");
        if (root_name) {
            ps_buf_addc(&b->path, '.');
            ps_buf_adds(&b->path, root_name);
        }
        size_t mark = b->path.len;
        const char *key;
        const json_t *v;
        json_object_foreach((json_t *)user, key, v) {
            if (!strcmp(key, "xml_name"))
                continue;
            b->path.len = mark;
            ps_buf_addc(&b->path, '.');
            ps_buf_adds(&b->path, key);
            flatten(b, v, 1);
        }
    }
}

static int has_flat_winlog_keys(const json_t *root)
{
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)root, key, v)
        if (!strncmp(key, "winlog.", 7))
            return 1;
    return 0;
}

static const char *field_text(const ps_event *ev, const char *path, const char *alt)
{
    const ps_field *f = ps_event_field(ev, path);
    if (!f && alt)
        f = ps_event_field(ev, alt);
    return f ? f->value : "";
}

static void fill_quick_fields(ps_event *ev)
{
    ev->event_id = (uint32_t)strtoul(
        field_text(ev, "Event.System.EventID", "Event.System.EventID.#text"), NULL, 10);
    ev->record_id = strtoull(field_text(ev, "Event.System.EventRecordID", NULL), NULL, 10);
    ev->channel = field_text(ev, "Event.System.Channel", NULL);
    ev->computer = field_text(ev, "Event.System.Computer", NULL);
    ev->provider = field_text(ev, "Event.System.Provider.#attributes.Name", NULL);
    uint64_t ft = 0;
    const char *when = field_text(ev, "Event.System.TimeCreated.#attributes.SystemTime", NULL);
    ev->time_filetime = ps_time_parse(when, &ft, NULL) == 0 ? ft : 0;
}

void jl_start_event(jl_builder *b)
{
    b->nfields = 0;
    b->failed = 0;
    ps_arena_reset(&b->arena);
}

int jl_build_event(jl_builder *b, json_t *root, ps_event *ev, const char **why)
{
    jl_start_event(b);
    if (!json_is_object(root)) {
        *why = "not a JSON object";
        return -1;
    }
    const json_t *event = json_object_get(root, "Event");
    if (json_is_object(event)) {
        flatten_under(b, "Event", event);
    } else if (json_is_object(json_object_get(root, "winlog")) || has_flat_winlog_keys(root)) {
        build_winlogbeat(b, root);
    } else {
        *why = "not an event: no \"Event\" (evtx_dump) or \"winlog\" (Winlogbeat) object";
        return -1;
    }
    if (b->failed) {
        *why = "out of memory";
        return -2;
    }
    jl_finish_event(b, ev);
    return 0;
}

void jl_finish_event(jl_builder *b, ps_event *ev)
{
    memset(ev, 0, sizeof *ev);
    ev->fields = b->fields;
    ev->nfields = b->nfields;
    fill_quick_fields(ev);
}

int jl_tree_event(jl_builder *b, ps_buf *quoted, const char *data, size_t len, ps_event *ev,
                  char *why, size_t why_size, uint64_t *line)
{
    json_error_t err;
    json_t *root = json_loadb(data, len, JSON_ALLOW_NUL, &err);
    b->big_ints = 0;
    if (!root && !strncmp(err.text, "too big", 7) && jl_quote_big_ints(data, len, quoted) == 0) {
        json_error_t err2;
        if ((root = json_loadb(quoted->data, quoted->len, JSON_ALLOW_NUL, &err2)) != NULL)
            b->big_ints = 1;
    }
    *line = 0;
    if (!root) {
        snprintf(why, why_size, "invalid JSON: %s", err.text);
        *line = err.line > 0 ? (uint64_t)err.line - 1 : 0;
        return -1;
    }
    const char *not_event = NULL;
    int rc = jl_build_event(b, root, ev, &not_event);
    json_decref(root);
    if (rc == -1)
        snprintf(why, why_size, "%s", not_event);
    return rc;
}

int jl_same_event(const ps_event *a, const ps_event *b)
{
    if (a->nfields != b->nfields || a->event_id != b->event_id || a->record_id != b->record_id ||
        a->time_filetime != b->time_filetime || strcmp(a->channel, b->channel) ||
        strcmp(a->computer, b->computer) || strcmp(a->provider, b->provider))
        return 0;
    for (uint32_t i = 0; i < a->nfields; i++) {
        const ps_field *x = &a->fields[i], *y = &b->fields[i];
        if (x->path_len != y->path_len || x->value_len != y->value_len || x->kind != y->kind ||
            x->typed != y->typed || x->name_len != y->name_len ||
            memcmp(x->path, y->path, x->path_len) || memcmp(x->value, y->value, x->value_len) ||
            memcmp(x->name, y->name, x->name_len))
            return 0;
    }
    return 1;
}

int jl_quote_big_ints(const char *in, size_t n, ps_buf *out)
{
    int in_string = 0, escaped = 0, quoted = 0;
    ps_buf_reset(out);
    for (size_t i = 0; i < n;) {
        char c = in[i];
        if (in_string) {
            if (escaped)
                escaped = 0;
            else if (c == '\\')
                escaped = 1;
            else if (c == '"')
                in_string = 0;
            ps_buf_addc(out, c);
            i++;
            continue;
        }
        if (c == '"') {
            in_string = 1;
            escaped = 0;
            ps_buf_addc(out, c);
            i++;
            continue;
        }
        if (c != '-' && (c < '0' || c > '9')) {
            ps_buf_addc(out, c);
            i++;
            continue;
        }
        /* A number token: only a plain integer of 19 digits or more can be
         * past int64 (shorter ones fit), and only those are quoted. */
        size_t start = i, digits = 0;
        if (in[i] == '-')
            i++;
        while (i < n && in[i] >= '0' && in[i] <= '9') {
            i++;
            digits++;
        }
        int integer = i == n || (in[i] != '.' && in[i] != 'e' && in[i] != 'E');
        if (integer && digits >= 19) {
            ps_buf_lit(out, "\"" JL_BIG_INT);
            ps_buf_add(out, in + start, i - start);
            ps_buf_addc(out, '"');
            quoted = 1;
        } else {
            ps_buf_add(out, in + start, i - start);
        }
    }
    return quoted && !out->failed ? 0 : -1;
}
