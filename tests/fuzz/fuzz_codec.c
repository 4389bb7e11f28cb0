/*
 * fuzz_codec.c - the record codecs' decompressors on outside bytes (what a
 * compressed batch read from a segment carries): gzip, snappy raw and
 * xerial-framed, lz4 frames, zstd frames must return 0 or -1, never read out
 * of bounds, hang or crash. The first input byte picks the codec; what
 * decompresses is recompressed and must round-trip.
 */
#include <stdlib.h>
#include <string.h>

#include "codec.h"

static sl_codec *codec;
static sl_buf out, z, back; /* reused, as the cleaner reuses its buffers */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    int flags = 0, f2 = 0;
    if (!codec)
        codec = sl_codec_create();
    if (size < 1 || !codec)
        return 0;
    int id = 1 + data[0] % 4;
    out.len = z.len = back.len = 0;
    if (sl_codec_decompress(codec, id, data + 1, size - 1, &out, &flags, err, sizeof(err)) == 0 &&
        sl_codec_compress(codec, id, flags, out.p, out.len, &z, err, sizeof(err)) == 0 &&
        (sl_codec_decompress(codec, id, z.p, z.len, &back, &f2, err, sizeof(err)) != 0 ||
         back.len != out.len || (out.len && memcmp(back.p, out.p, out.len) != 0)))
        abort(); /* our own output must round-trip */
    return 0;
}

/* A small payload compressed with each codec (snappy both ways). */
int LLVMFuzzerSeeds(uint8_t **seeds, size_t *sizes, int max)
{
    static const char text[] = "key-1 value-1 key-2 value-2 key-1 value-3 key-1 value-3 key-1";
    static const int ids[] = {1, 2, 2, 3, 4};
    char err[256];
    int n = 0;
    sl_codec *c = sl_codec_create();
    for (int i = 0; i < 5 && n < max && c; i++) {
        sl_buf z = {0};
        int flags = i == 2 ? SL_CODEC_F_SNAPPY_XERIAL : 0;
        if (sl_codec_compress(c, ids[i], flags, (const uint8_t *)text, sizeof(text), &z, err,
                              sizeof(err)) < 0)
            continue;
        seeds[n] = malloc(z.len + 1);
        seeds[n][0] = (uint8_t)(ids[i] - 1);
        memcpy(seeds[n] + 1, z.p, z.len);
        sizes[n++] = z.len + 1;
        sl_buf_free(&z);
    }
    sl_codec_destroy(c);
    return n;
}
