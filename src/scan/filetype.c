/* Loki's file-type magic list: "HEX BYTES;TYPE" per line, checked in file
 * order; the first signature a file starts with names its type (the YARA
 * external `filetype`). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scan/scan_internal.h"
#include "util/buf.h"

#define PS_MAGIC_MAX_BYTES 256

void ps_filetypes_init(ps_filetypes *ft)
{
    memset(ft, 0, sizeof *ft);
    ps_arena_init(&ft->strings, 16 * 1024, 0);
}

void ps_filetypes_free(ps_filetypes *ft)
{
    free(ft->items);
    ps_arena_free(&ft->strings);
    memset(ft, 0, sizeof *ft);
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* "4D 5A" -> {0x4d, 0x5a}; spaces anywhere are ignored. Returns the byte
 * count, or 0 when the text is not an even number of hex digits. */
static size_t parse_hex(const char *s, uint8_t *out, size_t max)
{
    size_t n = 0;
    int hi = -1;
    for (; *s; s++) {
        if (*s == ' ' || *s == '\t')
            continue;
        int v = hexval((unsigned char)*s);
        if (v < 0)
            return 0;
        if (hi < 0) {
            hi = v;
        } else {
            if (n == max)
                return 0;
            out[n++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
    }
    return hi < 0 ? n : 0;
}

static void bad(ps_diag_fn diag, void *ctx, const char *path, uint64_t line, const char *msg)
{
    if (!diag)
        return;
    ps_diag d = {PS_DIAG_WARNING, path, line, 1, msg};
    diag(ctx, &d);
}

/* A repeated signature keeps its first place and takes the later name, as
 * a Python dict does (Loki keeps the list in one). */
static int add_magic(ps_filetypes *ft, const uint8_t *bytes, size_t len, const char *name)
{
    for (size_t i = 0; i < ft->n; i++) {
        if (ft->items[i].len == len && !memcmp(ft->items[i].bytes, bytes, len)) {
            ft->items[i].name = name;
            return 0;
        }
    }
    if (ps_grow_array((void **)&ft->items, &ft->cap, ft->n, sizeof *ft->items) != 0)
        return -1;
    uint8_t *copy = ps_arena_alloc(&ft->strings, len);
    if (!copy)
        return -1;
    memcpy(copy, bytes, len);
    ft->items[ft->n++] = (ps_magic){copy, len, name};
    if (len > ft->max_len)
        ft->max_len = len;
    return 0;
}

int ps_filetypes_load(ps_filetypes *ft, const char *path, ps_diag_fn diag, void *ctx)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return PS_ERR_IO;
    char line[1024];
    uint64_t lineno = 0;
    int rc = PS_OK;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        line[strcspn(line, "\r\n")] = 0;
        if (line[0] == '#' || !line[strspn(line, " \t")])
            continue;
        char *sep = strchr(line, ';');
        uint8_t bytes[PS_MAGIC_MAX_BYTES];
        size_t len = 0;
        if (sep) {
            *sep = 0;
            len = parse_hex(line, bytes, sizeof bytes);
        }
        if (!sep || !len || !sep[1]) {
            bad(diag, ctx, path, lineno, "file-type signature: expected 'HEX BYTES;TYPE'");
            continue;
        }
        const char *name = ps_arena_strndup(&ft->strings, sep + 1, strlen(sep + 1));
        if (!name || add_magic(ft, bytes, len, name) != 0) {
            rc = PS_ERR_NOMEM;
            break;
        }
    }
    fclose(f);
    return rc;
}

const char *ps_filetypes_match(const ps_filetypes *ft, const uint8_t *head, size_t len)
{
    for (size_t i = 0; i < ft->n; i++)
        if (ft->items[i].len <= len && !memcmp(ft->items[i].bytes, head, ft->items[i].len))
            return ft->items[i].name;
    return "UNKNOWN";
}
