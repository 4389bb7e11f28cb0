/*
 * codec.h - Kafka's record compression codecs, by the codec id a RecordBatch
 * carries in attribute bits 0-2: 1 gzip, 2 snappy, 3 lz4, 4 zstd. The whole
 * interface of broker/codec.c.
 *
 * A codec context owns the libraries' (de)compression state, reused from one
 * batch to the next, so a caller pays no allocation per batch once its
 * buffers have grown, and none per record ever. Output goes into a
 * caller-provided growable buffer (sl_buf), appended at its end.
 *
 * Threading: a context is used by one thread at a time; make one per thread.
 */
#ifndef SL_CODEC_H
#define SL_CODEC_H
#include <stddef.h>
#include <stdint.h>

#define SL_CODEC_NONE   0
#define SL_CODEC_GZIP   1
#define SL_CODEC_SNAPPY 2
#define SL_CODEC_LZ4    3
#define SL_CODEC_ZSTD   4

/* Framing flags a decompression reports so that recompression matches. */
#define SL_CODEC_F_SNAPPY_XERIAL 0x1 /* snappy in xerial (snappy-java) blocks */

/* Refuse to inflate one batch past this (a decompression bomb). */
#define SL_CODEC_MAX_OUT (256u << 20)

typedef struct sl_buf {
    uint8_t *p;
    size_t len, cap;
} sl_buf;

/* Make room for need bytes in total (cap >= need). 0 or -1 (out of memory). */
int sl_buf_reserve(sl_buf *b, size_t need);
/* Append n bytes. 0 or -1. */
int sl_buf_append(sl_buf *b, const void *p, size_t n);
void sl_buf_free(sl_buf *b); /* frees p; the struct may be reused */

typedef struct sl_codec sl_codec;

/* NULL when out of memory. Free with sl_codec_destroy (NULL is fine). */
sl_codec *sl_codec_create(void);
void sl_codec_destroy(sl_codec *c);

/* Short name of a codec id ("gzip"), "codec-N" when unknown. */
const char *sl_codec_name(int codec);

/* Decompress n bytes of src compressed with codec, appending to out.
 * *flags gets the framing seen (SL_CODEC_F_*). Snappy accepts the xerial
 * framing (magic "\x82SNAPPY\0", two int32 versions, then int32 big-endian
 * block length + raw snappy block, repeated) and raw snappy. Returns 0, or
 * -1 with err saying why (bad data, unknown codec, output past
 * SL_CODEC_MAX_OUT, out of memory); out->len is then unspecified. */
int sl_codec_decompress(sl_codec *c, int codec, const uint8_t *src, size_t n, sl_buf *out,
                        int *flags, char *err, size_t errlen);

/* Compress n bytes of src with codec (flags as a decompression reported
 * them), appending to out. Returns 0 or -1 with err. */
int sl_codec_compress(sl_codec *c, int codec, int flags, const uint8_t *src, size_t n, sl_buf *out,
                      char *err, size_t errlen);

#endif
