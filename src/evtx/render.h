/*
 * Renderers of expanded record trees (see binxml.h).
 *
 * The JSON layout is evtx_dump's, the de-facto input of Sigma tools. One
 * walker decides that layout (attributes under "#attributes", EventData
 * flattened by Data Name, duplicate keys suffixed _1, _2 ...) and drives a
 * sink: the JSON text writer, or the event-model builder. Both therefore
 * see exactly the same keys, so hunting an EVTX and hunting its JSON export
 * give the same field paths.
 */
#ifndef PS_EVTX_RENDER_H
#define PS_EVTX_RENDER_H

#include "evtx/binxml.h"
#include "plainsight/event.h"
#include "util/buf.h"

typedef struct json_sink json_sink;
struct key_set;
struct json_sink {
    /* Open an object under `key` (key NULL: the root, or an array item). */
    void (*open)(json_sink *s, const char *key, size_t klen);
    void (*close)(json_sink *s);
    void (*open_array)(json_sink *s, const char *key, size_t klen);
    void (*close_array)(json_sink *s);
    /* A scalar made of the text nodes in the list `parts` (element nodes in
     * it are skipped). No text: null, or "" when `empty_is_string`. */
    void (*scalar)(json_sink *s, const char *key, size_t klen, const bx_node *parts,
                   int empty_is_string);
    /* Compiling only (symbolic trees, see bx_expand_symbolic); NULL in the
     * sinks of real records, whose trees hold no holes. A splice hole is
     * met among the members of the object whose keys are `parent`;
     * in_container: the object is an EventData/UserData, whose layout
     * would change if the nested fragment brought <Data> items. keys_done
     * says a key set that had splices (or the top-level set of the members)
     * is complete; unsupported says the layout depends on values, so the
     * template cannot be compiled. */
    void (*splice)(json_sink *s, const bx_node *hole, struct key_set *parent,
                   int in_container);
    void (*keys_done)(json_sink *s, const struct key_set *ks);
    void (*unsupported)(json_sink *s, const char *why);
};

/* Walk the top-level nodes of a record. `arena` holds made-up keys. */
void json_walk(const bx_node *roots, json_sink *sink, ps_arena *arena);

/* json_walk; with `members`, the top-level object's braces are left out
 * (compiling a nested fragment that is spliced into an enclosing object). */
void json_walk_ex(const bx_node *roots, json_sink *sink, ps_arena *arena, int members);

/* The keys of a key set, in no particular order: calls fn for each. */
void key_set_each(const struct key_set *ks, void (*fn)(void *ctx, const char *k, size_t n),
                  void *ctx);

/* Text nodes of a list: the kind they print as. For a lone value, *single
 * receives it (its type decides the kind). */
ps_kind parts_kind(const bx_node *parts, bx_value *single);
/* Append the text of the parts (or of one part), escaped. */
struct value_style;
void put_parts(ps_buf *b, const bx_node *parts, int esc, const struct value_style *st);
void put_part(ps_buf *b, const bx_node *part, int esc, const struct value_style *st);
/* Does this node print as text (a value, CDATA, a character or entity
 * reference)? */
int is_text_part(const bx_node *n);
/* The text nodes among parts: how many, and the last of them. */
const bx_node *last_text_part(const bx_node *parts, unsigned *count);

/* JSON text: one record, compact (jsonl) or indented by `indent` spaces
 * starting at `level` (json array items). */
void render_json(ps_buf *out, const bx_node *roots, int pretty, ps_arena *arena);

/* A compiled JSON rendering of one template (template.c runs it): literal
 * text with holes. Each op first copies `lit` bytes of literal text, then
 * fills its hole from value `slot`:
 *   JOP_SCALAR   a whole JSON scalar: bare integer/bool, else a string;
 *   JOP_STRPART  part of a JSON string (the quotes are literal text);
 *   JOP_SPLICE   the members of the nested BinXML in the slot (splices[aux]);
 *   JOP_END      nothing: the final literal run.
 * The same form serves compiled XML (xml_compile), whose holes are values
 * escaped for an attribute (JOP_XML_ATTR) or element content (JOP_XML_TEXT)
 * and nested fragments (JOP_SPLICE, at indentation splices[aux].level). 
 * Keys are hashed with json_key_hash so collisions are cheap to rule out. */
enum json_op_kind { JOP_END, JOP_SCALAR, JOP_STRPART, JOP_SPLICE, JOP_XML_ATTR, JOP_XML_TEXT };

typedef struct json_op {
    uint32_t lit;
    uint16_t kind;
    uint16_t slot;
    uint32_t aux;
} json_op;

typedef struct json_key {
    const char *s;
    uint32_t len;
    uint32_t hash;
} json_key;

typedef struct json_splice {
    uint32_t level;          /* nesting level of the members (pretty only) */
    uint16_t comma;          /* members precede the splice in its object */
    uint16_t in_container;   /* nested <Data> roots would change the layout */
    const json_key *keys;    /* every key of that object: the nested members
                                must not collide with any, or the slow lane's
                                suffixing would differ */
    uint32_t nkeys;
} json_splice;

typedef struct json_program {
    const json_op *ops;      /* ends with JOP_END */
    uint32_t nops;
    const char *lits;
    const json_splice *splices;
    uint32_t nsplices;
    const json_key *top_keys;  /* members mode: keys this program writes */
    uint32_t ntop_keys;
    int data_roots;            /* members mode: a top-level element is <Data> */
} json_program;

uint32_t json_key_hash(const char *k, size_t n);

/* Compiling: a copy of bytes, of a key list. */
void *arena_dup(ps_arena *a, const void *p, size_t n);
const json_key *json_keys_dup(ps_arena *a, const json_key *keys, uint32_t n);

/* Compiling: each splice needs every key of its enclosing object, known
 * only when the walker is done with that object (the sink's keys_done).
 * The recorders of JSON and of the event model keep their splices' key
 * sets here; top collects the top-level keys of a members-only walk. */
typedef struct key_waits {
    const struct key_set **sets;  /* per splice: the set waited for, NULL once seen */
    const json_key **keys;        /* per splice, once seen */
    uint32_t *nkeys;
    uint32_t n, cap, cap_keys, cap_nkeys;
    const json_key *top;
    uint32_t ntop;
    ps_arena *tmp;
    int failed;
} key_waits;

/* A new splice waiting for `parent`: its index, or -1 (out of memory). */
int key_waits_add(key_waits *w, const struct key_set *parent);
/* The walker is done with `ks`. */
void key_waits_done(key_waits *w, const struct key_set *ks);
/* 0 when every splice got its keys, else -1. */
int key_waits_check(const key_waits *w);

/* Compile a symbolically expanded tree (bx_expand_symbolic) into `out`,
 * allocated from `dest`; `tmp` holds what compiling needs on the way.
 * `members`: write the members only, as spliced into an enclosing object
 * at indentation `level` (nested BinXML), instead of a whole object.
 * Returns 0, or -1 with *why when the layout cannot be compiled. */
int json_compile(const bx_node *roots, int pretty, int level, int members, ps_arena *tmp,
                 ps_arena *dest, json_program *out, const char **why);

/* XML as Windows renders it, indented by two spaces. */
void render_xml(ps_buf *out, const bx_node *roots);

/* Compile a symbolically expanded tree into XML text with holes, indented
 * from `level` (a nested fragment is compiled for the level it is spliced
 * at). Allocates from `dest`; returns 0, or -1 with *why. */
int xml_compile(const bx_node *roots, int level, ps_arena *tmp, ps_arena *dest,
                json_program *out, const char **why);

/* The event model: fields appended to `fields` (a growable array owned by
 * the caller), strings in `arena`. Fills ev->fields/nfields and the quick
 * fields. Returns 0, or -1 when memory ran out. */
typedef struct field_vec {
    ps_field *items;
    uint32_t len;
    uint32_t cap;
    int failed;
} field_vec;

int build_event(ps_event *ev, field_vec *fields, const bx_node *roots, ps_arena *arena);
/* The event's time from its TimeCreated text, when it has no FILETIME. */
void event_time_from_text(ps_event *ev);

/* A compiled event model of one template (template.c runs it): the fields
 * the model sink would produce, with paths fixed at compile time. */
enum model_op_kind {
    MOP_STATIC,  /* a field whose value is literal text */
    MOP_VALUE,   /* a field whose value is slot `slot`, typed at run time */
    MOP_PARTS,   /* a string field made of literal parts and slots */
    MOP_SPLICE   /* the fields of the nested BinXML in slot `slot` */
};

/* Which of ps_event's quick fields a field path is (build_event's lookups). */
enum model_quick { MQ_NONE, MQ_EVENT_ID, MQ_EVENT_ID_TEXT, MQ_CHANNEL, MQ_COMPUTER,
                   MQ_PROVIDER, MQ_RECORD_ID, MQ_COUNT };

typedef struct model_part {
    const char *lit;     /* literal text, or NULL: slot */
    uint32_t len;
    uint16_t slot;
} model_part;

typedef struct model_splice {
    const char *prefix;  /* path of the enclosing object, NUL-terminated */
    uint32_t prefix_len;
    uint32_t depth;      /* the model sink's nesting depth there */
    uint32_t in_container;
    const json_key *keys;  /* keys of the enclosing object (see json_splice) */
    uint32_t nkeys;
} model_splice;

typedef struct model_op {
    uint8_t kind;        /* model_op_kind */
    uint8_t field_kind;  /* MOP_STATIC: the ps_kind */
    uint8_t quick;       /* model_quick */
    uint8_t system_time; /* the key is SystemTime: a FILETIME value is the
                            event's time */
    uint16_t slot;
    uint8_t field_typed; /* MOP_STATIC: ps_field.typed */
    uint32_t aux;        /* MOP_PARTS: first part; MOP_SPLICE: splice index */
    uint32_t nparts;
    const char *path;    /* NUL-terminated */
    uint32_t path_len;
    uint32_t name_off;   /* the last component starts at path + name_off */
    const char *text;    /* MOP_STATIC: the value, NUL-terminated */
    uint32_t text_len;
    /* The field as the program's runs give it (copy_program sets it): path
     * and name, and for MOP_STATIC the value, its kind and typed flag too.
     * A field is this copied, then what the record adds. */
    ps_field proto;
} model_op;

typedef struct model_program {
    const model_op *ops;
    uint32_t nops;
    const model_part *parts;
    const model_splice *splices;
    const json_key *top_keys;  /* members mode: keys of the top-level members */
    uint32_t ntop_keys;
    int data_roots;            /* members mode: a top-level element is <Data> */
} model_program;

/* Compile a symbolically expanded tree into the fields the model sink would
 * make of it. `members`: the tree is a nested fragment spliced into the
 * object at path `prefix` and model depth `depth`. Allocates from `dest`;
 * returns 0, or -1 with *why. */
int model_compile(const bx_node *roots, const char *prefix, uint32_t prefix_len,
                  uint32_t depth, int members, ps_arena *tmp, ps_arena *dest,
                  model_program *out, const char **why);

#endif
