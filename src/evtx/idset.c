#include "evtx/idset.h"

#include <stdlib.h>

static size_t slot_of(uint64_t id, size_t cap)
{
    return (size_t)((id * 0x9E3779B97F4A7C15ull) >> 17) & (cap - 1);
}

static int insert(uint64_t *slots, size_t cap, uint64_t id)
{
    for (size_t i = slot_of(id, cap);; i = (i + 1) & (cap - 1)) {
        if (slots[i] == id)
            return 0;
        if (slots[i] == 0) {
            slots[i] = id;
            return 1;
        }
    }
}

static int grow(id_set *s)
{
    size_t cap = s->cap ? s->cap * 2 : 64;
    uint64_t *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return -1;
    for (size_t i = 0; i < s->cap; i++)
        if (s->slots[i])
            insert(slots, cap, s->slots[i]);
    free(s->slots);
    s->slots = slots;
    s->cap = cap;
    return 0;
}

int id_set_add(id_set *s, uint64_t id)
{
    if (id == 0) {
        int fresh = !s->has_zero;
        s->has_zero = 1;
        return fresh;
    }
    if ((s->len + 1) * 2 > s->cap && grow(s) != 0)
        return -1;
    int added = insert(s->slots, s->cap, id);
    s->len += (size_t)added;
    return added;
}

void id_set_free(id_set *s)
{
    free(s->slots);
    s->slots = NULL;
    s->cap = s->len = 0;
    s->has_zero = 0;
}
