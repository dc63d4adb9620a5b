/* The writer object, the file header, damage and the final write. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evtxgen/internal.h"

eg_writer *eg_writer_new(void)
{
    eg_writer *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    ps_arena_init(&w->arena, 64 * 1024, 0);
    w->next_record_id = 1;
    return w;
}

void eg_writer_free(eg_writer *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->nchunks; i++)
        free(w->chunks[i]);
    free(w->chunks);
    free(w->cur.names);
    free(w->cur.tmpls);
    free(w->image);
    ps_arena_free(&w->arena);
    free(w);
}

int eg_writer_failed(const eg_writer *w)
{
    return w->error != NULL;
}

const char *eg_writer_error(const eg_writer *w)
{
    return w->error ? w->error : "no error";
}

static void store_le(uint8_t *p, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t load_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void fill_file_header(const eg_writer *w, uint8_t *h, const eg_damage *dmg)
{
    unsigned flags = dmg ? dmg->flags : 0;
    uint64_t last = w->nchunks ? w->nchunks - 1 : 0;
    uint64_t first = (flags & EG_DMG_FIRST_GT_LAST) ? last + 1 : 0;
    uint16_t count = (uint16_t)w->nchunks;
    if (flags & EG_DMG_CHUNK_COUNT)
        count = dmg->chunk_count_value;
    memcpy(h, "ElfFile", 8);
    store_le(h + 8, first, 8);
    store_le(h + 16, last, 8);
    store_le(h + 24, w->next_record_id, 8);
    store_le(h + 32, 128, 4);
    store_le(h + 36, 1, 2);     /* minor version */
    store_le(h + 38, 3, 2);     /* major version */
    store_le(h + 40, EG_FILE_HEADER_SIZE, 2);
    store_le(h + 42, count, 2);
    store_le(h + 120, (flags & EG_DMG_DIRTY) ? 1 : 0, 4);
    uint32_t crc = eg_crc32(0, h, 120);
    if (flags & EG_DMG_HEADER_CRC)
        crc ^= 0x5A5A5A5Au;
    store_le(h + 124, crc, 4);
}

static void recompute_header_crc(uint8_t *c)
{
    uint32_t crc = eg_crc32(0, c, 120);
    crc = eg_crc32(crc, c + 128, EG_CHUNK_HEADER_SIZE - 128);
    store_le(c + 124, crc, 4);
}

/* Chunk-level damage on the image copy of one chunk. Order matters: fields
 * first, then the CRCs that should come out right, then the wrong ones. */
static void damage_chunk(uint8_t *c, unsigned flags)
{
    if (flags & EG_DMG_FREE_SPACE) {
        store_le(c + 48, 3 * EG_CHUNK_SIZE, 4);
        /* Records CRC as a decoder that clamps to the chunk end computes it. */
        store_le(c + 52,
                 eg_crc32(0, c + EG_CHUNK_HEADER_SIZE, EG_CHUNK_SIZE - EG_CHUNK_HEADER_SIZE), 4);
        recompute_header_crc(c);
    }
    if (flags & EG_DMG_RECORDS_CRC) {
        store_le(c + 52, load_u32(c + 52) ^ 0x00FF00FFu, 4);
        recompute_header_crc(c);
    }
    if (flags & EG_DMG_CHUNK_HEADER_CRC)
        store_le(c + 124, load_u32(c + 124) ^ 0x0000FFFFu, 4);
    if (flags & EG_DMG_CHUNK_MAGIC)
        memcpy(c, "ElfChnX", 8);
    if (flags & EG_DMG_ZERO_CHUNK)
        memset(c, 0, EG_CHUNK_SIZE);
}

int eg_writer_image(eg_writer *w, const eg_damage *damage, const uint8_t **data, size_t *len)
{
    if (w->error)
        return PS_ERR_ARG;
    eg_seal_current(w);
    size_t total = EG_FILE_HEADER_SIZE + w->nchunks * (size_t)EG_CHUNK_SIZE;
    uint8_t *img = realloc(w->image, total);
    if (!img)
        return PS_ERR_NOMEM;
    w->image = img;
    memset(img, 0, EG_FILE_HEADER_SIZE);
    fill_file_header(w, img, damage);
    for (size_t i = 0; i < w->nchunks; i++)
        memcpy(img + EG_FILE_HEADER_SIZE + i * EG_CHUNK_SIZE, w->chunks[i], EG_CHUNK_SIZE);
    unsigned flags = damage ? damage->flags : 0;
    if (damage && damage->chunk_index < w->nchunks)
        damage_chunk(img + EG_FILE_HEADER_SIZE + damage->chunk_index * (size_t)EG_CHUNK_SIZE,
                     flags);
    if ((flags & EG_DMG_TRUNCATE) && damage->truncate_at < total)
        total = (size_t)damage->truncate_at;
    w->image_len = total;
    *data = img;
    *len = total;
    return PS_OK;
}

int eg_writer_finish(eg_writer *w, const char *path, const eg_damage *damage)
{
    const uint8_t *data;
    size_t len;
    int rc = eg_writer_image(w, damage, &data, &len);
    if (rc != PS_OK)
        return rc;
    FILE *f = fopen(path, "wb");
    if (!f)
        return PS_ERR_IO;
    int ok = fwrite(data, 1, len, f) == len;
    ok &= fclose(f) == 0;
    return ok ? PS_OK : PS_ERR_IO;
}
