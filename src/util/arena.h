/* A bump allocator. Everything allocated for one unit of work (an EVTX
 * chunk, a rule file) comes from one arena that is reset, not freed, when the
 * unit is done, so the hot path makes no malloc/free pairs. A hard cap bounds
 * memory whatever the input says. */
#ifndef PS_UTIL_ARENA_H
#define PS_UTIL_ARENA_H

#include <stddef.h>
#include <stdint.h>

typedef struct ps_arena_block ps_arena_block;
struct ps_arena_block {
    ps_arena_block *next;
    size_t size;
    size_t used;
    max_align_t data[];
};

typedef struct ps_arena {
    ps_arena_block *head;   /* current block (others chained behind it) */
    size_t block_size;      /* size of ordinary blocks */
    size_t used_total;      /* bytes handed out since the last reset */
    size_t limit;           /* 0 = unlimited; else allocations beyond fail */
} ps_arena;

void ps_arena_init(ps_arena *a, size_t block_size, size_t limit);
void ps_arena_free(ps_arena *a);
/* Forget every allocation, keeping the first block for reuse. */
void ps_arena_reset(ps_arena *a);
/* Aligned to 8 bytes. NULL on failure or when the limit would be passed. */
void *ps_arena_alloc_slow(ps_arena *a, size_t n);

/* The bump itself is inline: it runs once per decoded node. */
static inline void *ps_arena_alloc(ps_arena *a, size_t n)
{
    n = n ? (n + 7) & ~(size_t)7 : 8;
    ps_arena_block *b = a->head;
    if (b && b->size - b->used >= n && (!a->limit || a->limit - a->used_total >= n)) {
        void *p = (char *)b->data + b->used;
        b->used += n;
        a->used_total += n;
        return p;
    }
    return ps_arena_alloc_slow(a, n);
}
void *ps_arena_zalloc(ps_arena *a, size_t n);
char *ps_arena_strndup(ps_arena *a, const char *s, size_t n);
/* Make room for item `len` of an array of `size`-byte items that lives in
 * the arena (capacity doubles; the old copy is simply left behind).
 * Returns 0, or -1 when the arena refuses. */
int ps_arena_grow_array(ps_arena *a, void **items, uint32_t *cap, uint32_t len, size_t size);

#endif
