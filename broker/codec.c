/*
 * codec.c - gzip, snappy, lz4 and zstd for Kafka record batches (see
 * codec.h). Used by the log cleaner, which must open compressed batches to
 * drop superseded records and close them again with the same codec.
 *
 * Formats, as Kafka clients write them:
 *   gzip    RFC 1952 gzip members (zlib inflate with automatic header
 *           detection, so a zlib stream is accepted too); written as gzip.
 *   snappy  Java clients use snappy-java's "xerial" framing:
 *             off len
 *               0   8 magic 0x82 'S' 'N' 'A' 'P' 'P' 'Y' 0x00
 *               8   4 version (int32 BE, 1)
 *              12   4 min compatible version (int32 BE, 1)
 *              16   .. blocks: int32 BE compressed length, then that many
 *                   bytes of raw snappy (each block inflates to <= 32 KiB
 *                   when snappy-java wrote it; we accept any size)
 *           librdkafka and others write one raw snappy block. Both are read;
 *           recompression keeps the framing the batch came with (xerial
 *           blocks of 32 KiB input each).
 *   lz4     the LZ4 frame format (lz4frame.h), as Kafka uses for magic 2.
 *   zstd    zstd frames; decompressed as a stream, since a frame need not
 *           carry its content size.
 *
 * Every length read from the compressed bytes is checked against what is
 * left before it is used; output is capped at SL_CODEC_MAX_OUT.
 *
 * Runs on: whichever thread owns the sl_codec (the cleaner's worker).
 */
#include "codec.h"

#include <lz4frame.h>
#include <snappy-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#define XERIAL_HEADER_LEN 16
#define XERIAL_BLOCK      32768
#define GZIP_LEVEL        6
#define ZSTD_LEVEL        3

static const uint8_t xerial_magic[8] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};

struct sl_codec {
    z_stream inf, def;
    int inf_ok, def_ok;
    ZSTD_DCtx *zd;
    ZSTD_CCtx *zc;
    LZ4F_dctx *ld;
    LZ4F_cctx *lc;
};

/* ---------------------------------------------------------------- buffers */

int sl_buf_reserve(sl_buf *b, size_t need)
{
    if (need <= b->cap)
        return 0;
    size_t ncap = b->cap ? b->cap : 4096;
    while (ncap < need)
        ncap *= 2;
    uint8_t *np = realloc(b->p, ncap);
    if (!np)
        return -1;
    b->p = np;
    b->cap = ncap;
    return 0;
}

int sl_buf_append(sl_buf *b, const void *p, size_t n)
{
    if (sl_buf_reserve(b, b->len + n) < 0)
        return -1;
    memcpy(b->p + b->len, p, n);
    b->len += n;
    return 0;
}

void sl_buf_free(sl_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* ---------------------------------------------------------------- context */

sl_codec *sl_codec_create(void)
{
    sl_codec *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->inf_ok = inflateInit2(&c->inf, 15 + 32) == Z_OK;
    c->def_ok =
        deflateInit2(&c->def, GZIP_LEVEL, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK;
    c->zd = ZSTD_createDCtx();
    c->zc = ZSTD_createCCtx();
    LZ4F_errorCode_t e1 = LZ4F_createDecompressionContext(&c->ld, LZ4F_VERSION);
    LZ4F_errorCode_t e2 = LZ4F_createCompressionContext(&c->lc, LZ4F_VERSION);
    if (!c->inf_ok || !c->def_ok || !c->zd || !c->zc || LZ4F_isError(e1) || LZ4F_isError(e2)) {
        sl_codec_destroy(c);
        return NULL;
    }
    return c;
}

void sl_codec_destroy(sl_codec *c)
{
    if (!c)
        return;
    if (c->inf_ok)
        inflateEnd(&c->inf);
    if (c->def_ok)
        deflateEnd(&c->def);
    ZSTD_freeDCtx(c->zd);
    ZSTD_freeCCtx(c->zc);
    if (c->ld)
        LZ4F_freeDecompressionContext(c->ld);
    if (c->lc)
        LZ4F_freeCompressionContext(c->lc);
    free(c);
}

const char *sl_codec_name(int codec)
{
    static const char *const names[] = {"none", "gzip", "snappy", "lz4", "zstd"};
    return codec >= 0 && codec <= 4 ? names[codec] : "unknown codec";
}

/* Grow out so that at least want more bytes fit after len, within the cap. */
static int out_room(sl_buf *out, size_t want, char *err, size_t errlen)
{
    if (out->len + want > SL_CODEC_MAX_OUT) {
        snprintf(err, errlen, "decompressed size passes the limit of %u bytes", SL_CODEC_MAX_OUT);
        return -1;
    }
    if (sl_buf_reserve(out, out->len + want) < 0) {
        snprintf(err, errlen, "out of memory for %zu decompressed bytes", out->len + want);
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- gzip */

static int gzip_decompress(sl_codec *c, const uint8_t *src, size_t n, sl_buf *out, char *err,
                           size_t errlen)
{
    z_stream *z = &c->inf;
    inflateReset(z);
    z->next_in = (Bytef *)src;
    z->avail_in = (uInt)n;
    for (;;) {
        if (out_room(out, n * 2 + 4096, err, errlen) < 0)
            return -1;
        z->next_out = out->p + out->len;
        z->avail_out = (uInt)(out->cap - out->len);
        int rc = inflate(z, Z_NO_FLUSH);
        out->len = out->cap - z->avail_out;
        if (rc == Z_STREAM_END && z->avail_in == 0)
            return 0;
        if (rc == Z_STREAM_END) { /* concatenated gzip members */
            inflateReset(z);
            continue;
        }
        if (rc != Z_OK && rc != Z_BUF_ERROR) {
            snprintf(err, errlen, "gzip: %s", z->msg ? z->msg : "bad data");
            return -1;
        }
        if (rc == Z_BUF_ERROR && z->avail_in == 0) {
            snprintf(err, errlen, "gzip: data ends inside the stream");
            return -1;
        }
    }
}

static int gzip_compress(sl_codec *c, const uint8_t *src, size_t n, sl_buf *out, char *err,
                         size_t errlen)
{
    z_stream *z = &c->def;
    deflateReset(z);
    size_t bound = deflateBound(z, (uLong)n) + 32;
    if (sl_buf_reserve(out, out->len + bound) < 0) {
        snprintf(err, errlen, "gzip: out of memory for %zu bytes", bound);
        return -1;
    }
    z->next_in = (Bytef *)src;
    z->avail_in = (uInt)n;
    z->next_out = out->p + out->len;
    z->avail_out = (uInt)bound;
    int rc = deflate(z, Z_FINISH);
    if (rc != Z_STREAM_END) {
        snprintf(err, errlen, "gzip: deflate failed (%d)", rc);
        return -1;
    }
    out->len += bound - z->avail_out;
    return 0;
}

/* ---------------------------------------------------------------- snappy */

static int snappy_block(const uint8_t *src, size_t n, sl_buf *out, char *err, size_t errlen)
{
    size_t ulen;
    if (snappy_uncompressed_length((const char *)src, n, &ulen) != SNAPPY_OK) {
        snprintf(err, errlen, "snappy: bad block header (%zu bytes)", n);
        return -1;
    }
    if (out_room(out, ulen, err, errlen) < 0)
        return -1;
    size_t got = ulen;
    if (snappy_uncompress((const char *)src, n, (char *)out->p + out->len, &got) != SNAPPY_OK ||
        got != ulen) {
        snprintf(err, errlen, "snappy: bad block of %zu bytes", n);
        return -1;
    }
    out->len += got;
    return 0;
}

static int snappy_decompress(const uint8_t *src, size_t n, sl_buf *out, int *flags, char *err,
                             size_t errlen)
{
    if (n < XERIAL_HEADER_LEN || memcmp(src, xerial_magic, sizeof(xerial_magic)) != 0)
        return snappy_block(src, n, out, err, errlen);
    *flags |= SL_CODEC_F_SNAPPY_XERIAL;
    size_t pos = XERIAL_HEADER_LEN;
    while (pos < n) {
        if (n - pos < 4) {
            snprintf(err, errlen, "snappy: xerial block length cut short at byte %zu", pos);
            return -1;
        }
        uint32_t blen = ((uint32_t)src[pos] << 24) | ((uint32_t)src[pos + 1] << 16) |
                        ((uint32_t)src[pos + 2] << 8) | src[pos + 3];
        pos += 4;
        if (blen > n - pos) {
            snprintf(err, errlen, "snappy: xerial block at byte %zu claims %u bytes, %zu left",
                     pos - 4, blen, n - pos);
            return -1;
        }
        if (snappy_block(src + pos, blen, out, err, errlen) < 0)
            return -1;
        pos += blen;
    }
    return 0;
}

static int snappy_one(const uint8_t *src, size_t n, sl_buf *out, char *err, size_t errlen)
{
    size_t bound = snappy_max_compressed_length(n);
    if (sl_buf_reserve(out, out->len + bound) < 0) {
        snprintf(err, errlen, "snappy: out of memory for %zu bytes", bound);
        return -1;
    }
    size_t got = bound;
    if (snappy_compress((const char *)src, n, (char *)out->p + out->len, &got) != SNAPPY_OK) {
        snprintf(err, errlen, "snappy: compress of %zu bytes failed", n);
        return -1;
    }
    out->len += got;
    return 0;
}

static int snappy_compress_framed(int flags, const uint8_t *src, size_t n, sl_buf *out, char *err,
                                  size_t errlen)
{
    if (!(flags & SL_CODEC_F_SNAPPY_XERIAL))
        return snappy_one(src, n, out, err, errlen);
    uint8_t hdr[XERIAL_HEADER_LEN] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, /* magic */
                                      0,    0,   0,   1,                     /* version */
                                      0,    0,   0,   1};                    /* compatible */
    if (sl_buf_append(out, hdr, sizeof(hdr)) < 0)
        goto oom;
    for (size_t pos = 0; pos < n; pos += XERIAL_BLOCK) {
        size_t chunk = n - pos < XERIAL_BLOCK ? n - pos : XERIAL_BLOCK;
        size_t at = out->len;
        uint8_t len4[4] = {0};
        if (sl_buf_append(out, len4, 4) < 0)
            goto oom;
        if (snappy_one(src + pos, chunk, out, err, errlen) < 0)
            return -1;
        uint32_t blen = (uint32_t)(out->len - at - 4);
        out->p[at] = (uint8_t)(blen >> 24);
        out->p[at + 1] = (uint8_t)(blen >> 16);
        out->p[at + 2] = (uint8_t)(blen >> 8);
        out->p[at + 3] = (uint8_t)blen;
    }
    return 0;
oom:
    snprintf(err, errlen, "snappy: out of memory");
    return -1;
}

/* ---------------------------------------------------------------- lz4 */

static int lz4_decompress(sl_codec *c, const uint8_t *src, size_t n, sl_buf *out, char *err,
                          size_t errlen)
{
    size_t pos = 0;
    LZ4F_resetDecompressionContext(c->ld);
    for (;;) {
        if (out_room(out, n * 2 + 65536, err, errlen) < 0)
            return -1;
        size_t dst_n = out->cap - out->len, src_n = n - pos;
        size_t hint = LZ4F_decompress(c->ld, out->p + out->len, &dst_n, src + pos, &src_n, NULL);
        if (LZ4F_isError(hint)) {
            snprintf(err, errlen, "lz4: %s", LZ4F_getErrorName(hint));
            return -1;
        }
        out->len += dst_n;
        pos += src_n;
        if (hint == 0 && pos == n)
            return 0;
        if (hint == 0) { /* another frame follows */
            continue;
        }
        if (pos == n && dst_n == 0) {
            snprintf(err, errlen, "lz4: data ends inside the frame");
            return -1;
        }
    }
}

static int lz4_compress(sl_codec *c, const uint8_t *src, size_t n, sl_buf *out, char *err,
                        size_t errlen)
{
    LZ4F_preferences_t prefs;
    memset(&prefs, 0, sizeof(prefs));
    prefs.frameInfo.blockSizeID = LZ4F_max64KB;
    prefs.frameInfo.blockMode = LZ4F_blockIndependent;
    size_t bound = LZ4F_compressBound(n, &prefs) + LZ4F_HEADER_SIZE_MAX + 8;
    if (sl_buf_reserve(out, out->len + bound) < 0) {
        snprintf(err, errlen, "lz4: out of memory for %zu bytes", bound);
        return -1;
    }
    uint8_t *dst = out->p + out->len;
    size_t r = LZ4F_compressBegin(c->lc, dst, bound, &prefs), done = 0;
    if (!LZ4F_isError(r)) {
        done = r;
        r = LZ4F_compressUpdate(c->lc, dst + done, bound - done, src, n, NULL);
    }
    if (!LZ4F_isError(r)) {
        done += r;
        r = LZ4F_compressEnd(c->lc, dst + done, bound - done, NULL);
    }
    if (LZ4F_isError(r)) {
        snprintf(err, errlen, "lz4: %s", LZ4F_getErrorName(r));
        return -1;
    }
    out->len += done + r;
    return 0;
}

/* ---------------------------------------------------------------- zstd */

static int zstd_decompress(sl_codec *c, const uint8_t *src, size_t n, sl_buf *out, char *err,
                           size_t errlen)
{
    ZSTD_DCtx_reset(c->zd, ZSTD_reset_session_only);
    ZSTD_inBuffer in = {src, n, 0};
    for (;;) {
        if (out_room(out, n * 3 + ZSTD_DStreamOutSize(), err, errlen) < 0)
            return -1;
        ZSTD_outBuffer o = {out->p + out->len, out->cap - out->len, 0};
        size_t r = ZSTD_decompressStream(c->zd, &o, &in);
        out->len += o.pos;
        if (ZSTD_isError(r)) {
            snprintf(err, errlen, "zstd: %s", ZSTD_getErrorName(r));
            return -1;
        }
        if (r == 0 && in.pos == in.size)
            return 0;
        if (in.pos == in.size && o.pos < o.size) {
            snprintf(err, errlen, "zstd: data ends inside the frame");
            return -1;
        }
    }
}

static int zstd_compress(sl_codec *c, const uint8_t *src, size_t n, sl_buf *out, char *err,
                         size_t errlen)
{
    size_t bound = ZSTD_compressBound(n);
    if (sl_buf_reserve(out, out->len + bound) < 0) {
        snprintf(err, errlen, "zstd: out of memory for %zu bytes", bound);
        return -1;
    }
    ZSTD_CCtx_reset(c->zc, ZSTD_reset_session_only);
    ZSTD_CCtx_setParameter(c->zc, ZSTD_c_compressionLevel, ZSTD_LEVEL);
    size_t r = ZSTD_compress2(c->zc, out->p + out->len, bound, src, n);
    if (ZSTD_isError(r)) {
        snprintf(err, errlen, "zstd: %s", ZSTD_getErrorName(r));
        return -1;
    }
    out->len += r;
    return 0;
}

/* ---------------------------------------------------------------- dispatch */

int sl_codec_decompress(sl_codec *c, int codec, const uint8_t *src, size_t n, sl_buf *out,
                        int *flags, char *err, size_t errlen)
{
    *flags = 0;
    switch (codec) {
    case SL_CODEC_GZIP:
        return gzip_decompress(c, src, n, out, err, errlen);
    case SL_CODEC_SNAPPY:
        return snappy_decompress(src, n, out, flags, err, errlen);
    case SL_CODEC_LZ4:
        return lz4_decompress(c, src, n, out, err, errlen);
    case SL_CODEC_ZSTD:
        return zstd_decompress(c, src, n, out, err, errlen);
    default:
        snprintf(err, errlen, "unknown compression codec %d", codec);
        return -1;
    }
}

int sl_codec_compress(sl_codec *c, int codec, int flags, const uint8_t *src, size_t n, sl_buf *out,
                      char *err, size_t errlen)
{
    switch (codec) {
    case SL_CODEC_GZIP:
        return gzip_compress(c, src, n, out, err, errlen);
    case SL_CODEC_SNAPPY:
        return snappy_compress_framed(flags, src, n, out, err, errlen);
    case SL_CODEC_LZ4:
        return lz4_compress(c, src, n, out, err, errlen);
    case SL_CODEC_ZSTD:
        return zstd_compress(c, src, n, out, err, errlen);
    default:
        snprintf(err, errlen, "unknown compression codec %d", codec);
        return -1;
    }
}
