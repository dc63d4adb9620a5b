/* A YAML document as a small tree, read with libyaml into an arena. Rules
 * are attacker-controlled, so nesting depth and node count are bounded. */
#ifndef PS_UTIL_YAML_TREE_H
#define PS_UTIL_YAML_TREE_H

#include <stddef.h>
#include <stdint.h>

#include "util/arena.h"

typedef enum yt_type { YT_SCALAR = 0, YT_SEQ = 1, YT_MAP = 2 } yt_type;

typedef struct yt_node yt_node;
struct yt_node {
    uint8_t type;       /* yt_type */
    uint8_t plain;      /* scalar written without quotes (so `null`, 12, true are typed) */
    uint32_t line;      /* 1-based line where the node starts */
    const char *text;   /* scalar text, NUL-terminated */
    uint32_t len;
    uint32_t n;         /* items of a sequence; key/value pairs of a map */
    yt_node **items;    /* sequence: n items; map: 2n (key, value, key, value...) */
};

#define YT_MAX_DEPTH 64
#define YT_MAX_NODES 200000

/* One callback per document of the stream. Return non-zero to stop. */
typedef int (*yt_doc_fn)(void *ctx, yt_node *root, uint32_t line);

/* Parse `len` bytes of YAML. Nodes live in `arena` until it is reset. On a
 * syntax error or limit returns -1 with a message and line in err/err_line
 * (documents before the error were delivered). */
int yt_parse(const char *text, size_t len, ps_arena *arena, yt_doc_fn fn, void *ctx,
             char *err, size_t errlen, uint32_t *err_line);

/* Value of `key` in a map (NULL if absent or not a map). */
yt_node *yt_get(const yt_node *map, const char *key);
/* Scalar text of `key` in a map, or NULL. */
const char *yt_get_str(const yt_node *map, const char *key);
/* Plain scalar `null`, `~` or empty. */
int yt_is_null(const yt_node *n);

/* Sigma v1 rule collections: `over` laid over `base`, map by map (keys of
 * `over` win; maps in both are merged the same way; anything else, lists
 * included, is replaced). Nodes are shared, new maps come from `a`. `over`
 * itself when either is not a map; NULL when out of memory or too deep.
 * Pass depth 0. */
yt_node *yt_merge(ps_arena *a, const yt_node *base, const yt_node *over, int depth);
/* A copy of map without `key` (the nodes shared); NULL when out of memory. */
yt_node *yt_without(ps_arena *a, const yt_node *map, const char *key);

#endif
