/* Field keys, compared without regard to ASCII case or spaces, so Sigma's
 * "ThreatName" finds Defender's "Threat Name". */
#include <stdlib.h>
#include <string.h>

#include "sigma/pattern.h"
#include "sigma/sigma_internal.h"

static uint64_t key_hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ' ')
            continue;
        h ^= sg_lower_table[(unsigned char)s[i]];
        h *= 1099511628211ull;
    }
    return h;
}

static int key_equal(const char *stored, const char *s, size_t n)
{
    size_t i = 0;
    for (; *stored; stored++) {
        while (i < n && s[i] == ' ')
            i++;
        if (i == n || sg_lower_table[(unsigned char)s[i]] != (unsigned char)*stored)
            return 0;
        i++;
    }
    while (i < n && s[i] == ' ')
        i++;
    return i == n;
}

uint64_t sg_hash_lower(const char *s, size_t len) { return key_hash(s, len); }

int32_t sg_sym_find(const sg_symtab *t, const char *key, size_t len)
{
    if (!t->cap)
        return -1;
    uint32_t mask = t->cap - 1;
    for (uint32_t i = (uint32_t)key_hash(key, len) & mask;; i = (i + 1) & mask) {
        int32_t k = t->slots[i];
        if (k < 0)
            return -1;
        if (key_equal(t->keys[k], key, len))
            return k;
    }
}

static int rehash(sg_symtab *t, uint32_t cap)
{
    int32_t *slots = malloc(cap * sizeof *slots);
    if (!slots)
        return -1;
    memset(slots, 0xff, cap * sizeof *slots);
    for (uint32_t k = 0; k < t->n; k++) {
        uint32_t i = (uint32_t)key_hash(t->keys[k], strlen(t->keys[k])) & (cap - 1);
        while (slots[i] >= 0)
            i = (i + 1) & (cap - 1);
        slots[i] = (int32_t)k;
    }
    free(t->slots);
    t->slots = slots;
    t->cap = cap;
    return 0;
}

int32_t sg_sym_intern(sg_symtab *t, const char *key, size_t len)
{
    int32_t found = sg_sym_find(t, key, len);
    if (found >= 0)
        return found;
    if ((t->n + 1) * 2 > t->cap && rehash(t, t->cap ? t->cap * 2 : 256) != 0)
        return -1;
    char **keys = realloc(t->keys, (t->n + 1) * sizeof *keys);
    if (!keys)
        return -1;
    t->keys = keys;
    char *k = malloc(len + 1);
    if (!k)
        return -1;
    size_t j = 0;
    for (size_t i = 0; i < len; i++)
        if (key[i] != ' ')
            k[j++] = (char)sg_lower_table[(unsigned char)key[i]];
    k[j] = 0;
    t->keys[t->n] = k;
    uint32_t i = (uint32_t)key_hash(k, j) & (t->cap - 1);
    while (t->slots[i] >= 0)
        i = (i + 1) & (t->cap - 1);
    t->slots[i] = (int32_t)t->n;
    return (int32_t)t->n++;
}

void sg_sym_free(sg_symtab *t)
{
    for (uint32_t i = 0; i < t->n; i++)
        free(t->keys[i]);
    free(t->keys);
    free(t->slots);
    memset(t, 0, sizeof *t);
}
