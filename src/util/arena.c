#include "util/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void ps_arena_init(ps_arena *a, size_t block_size, size_t limit)
{
    a->head = NULL;
    a->block_size = block_size ? block_size : 64 * 1024;
    a->used_total = 0;
    a->limit = limit;
}

void ps_arena_free(ps_arena *a)
{
    ps_arena_block *b = a->head;
    while (b) {
        ps_arena_block *next = b->next;
        free(b);
        b = next;
    }
    a->head = NULL;
    a->used_total = 0;
}

void ps_arena_reset(ps_arena *a)
{
    if (!a->head)
        return;
    /* Keep the oldest block (the last in the chain): it has the ordinary
     * size, so steady-state use needs no allocation at all. */
    ps_arena_block *b = a->head;
    while (b->next) {
        ps_arena_block *next = b->next;
        free(b);
        b = next;
    }
    b->used = 0;
    a->head = b;
    a->used_total = 0;
}

void *ps_arena_alloc_slow(ps_arena *a, size_t n)
{
    n = n ? (n + 7) & ~(size_t)7 : 8;
    if (a->limit && (n > a->limit || a->used_total > a->limit - n))
        return NULL;
    ps_arena_block *b = a->head;
    if (!b || b->size - b->used < n) {
        size_t size = n > a->block_size ? n : a->block_size;
        ps_arena_block *nb = malloc(sizeof *nb + size);
        if (!nb)
            return NULL;
        nb->size = size;
        nb->used = 0;
        nb->next = b;
        a->head = nb;
        b = nb;
    }
    void *p = (char *)b->data + b->used;
    b->used += n;
    a->used_total += n;
    return p;
}

void *ps_arena_zalloc(ps_arena *a, size_t n)
{
    void *p = ps_arena_alloc(a, n);
    if (p)
        memset(p, 0, n);
    return p;
}

char *ps_arena_strndup(ps_arena *a, const char *s, size_t n)
{
    char *p = ps_arena_alloc(a, n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = 0;
    }
    return p;
}

int ps_arena_grow_array(ps_arena *a, void **items, uint32_t *cap, uint32_t len, size_t size)
{
    if (len < *cap)
        return 0;
    uint32_t ncap = *cap ? *cap * 2 : 16;
    void *n = ncap > *cap ? ps_arena_alloc(a, (size_t)ncap * size) : NULL;
    if (!n)
        return -1;
    if (len)
        memcpy(n, *items, (size_t)len * size);
    *items = n;
    *cap = ncap;
    return 0;
}
