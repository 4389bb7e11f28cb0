/*
 * s3_writer.c - the bytes of one object: an Avro object container file or
 * JSON lines, built in memory and handed to the store in parts
 * (s3_writer_out), so an object of any size needs about one part of memory.
 *
 * Avro object container file (Avro 1.11 specification, "Object Container
 * Files"), written by hand so that the bytes are a pure function of the
 * records (a replay rewrites the same object byte for byte):
 *
 *   header  4 bytes  'O' 'b' 'j' 0x01
 *           map      file metadata, Avro map<bytes>: a block count (long,
 *                    zig-zag varint) of 2 entries, then per entry a string
 *                    key and a bytes value (each a long length + bytes):
 *                      "avro.schema" -> the schema as JSON
 *                      "avro.codec"  -> "null" | "deflate"
 *                    then a count of 0 ending the map
 *           16 bytes sync marker: the first 16 bytes of SHA-256(object key)
 *   blocks  long     number of records in the block
 *           long     byte size of the (compressed) records
 *           bytes    the records, Avro binary, back to back; for deflate
 *                    raw RFC 1951 data (no zlib header)
 *           16 bytes the sync marker again
 *
 * A block is closed when its records reach 64 KiB and at the end of the
 * object. One schema per object: the caller starts a new object when
 * s3_writer_accepts says no. Records are the record values (Confluent's
 * AvroFormat); a value is serialised with avro_value_write, which only
 * follows the value's structure, so any value whose schema equals the
 * object's may go in. A value that came raw (sluice_record.value_avro) is
 * copied as the bytes it came in: the host checked them against this
 * schema, and a replay copies the same bytes again.
 *
 * JSON lines: one Debezium JSON form per line, written by the text writer
 * (sluice_value_json_append: the same text as sluice_value_to_json, no tree).
 *
 * Runs on: the task's thread.
 */
#include <errno.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "s3.h"

#define BLOCK_BYTES (64 * 1024)

struct s3_writer {
    const s3_conf *conf;
    avro_schema_t schema; /* a reference is held; NULL for JSON */
    unsigned char sync[16];
    s3_buf out;   /* object bytes not yet handed to the store */
    s3_buf block; /* Avro: serialised records of the open block */
    s3_buf zbuf;  /* deflate output */
    int64_t block_count;
    size_t last_size; /* the previous record's bytes: room to reserve */
    avro_writer_t aw;
};

/* ======================================================================== */
/* Buffers                                                                   */
/* ======================================================================== */

int s3_buf_reserve(s3_buf *b, size_t more)
{
    if (b->len + more <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more)
        cap *= 2;
    uint8_t *p = realloc(b->p, cap);
    if (!p)
        return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

int s3_buf_append(s3_buf *b, const void *data, size_t len)
{
    if (s3_buf_reserve(b, len) != 0)
        return -1;
    if (len)
        memcpy(b->p + b->len, data, len);
    b->len += len;
    return 0;
}

void s3_buf_free(s3_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* ======================================================================== */
/* Avro encoding                                                             */
/* ======================================================================== */

static int put_long(s3_buf *b, int64_t v)
{
    uint64_t u = (uint64_t)v, z = (u << 1) ^ (0 - (u >> 63)); /* zig-zag */
    uint8_t tmp[10];
    size_t n = 0;
    do {
        uint8_t byte = z & 0x7f;
        z >>= 7;
        tmp[n++] = byte | (z ? 0x80 : 0);
    } while (z);
    return s3_buf_append(b, tmp, n);
}

static int put_bytes(s3_buf *b, const void *p, size_t len)
{
    return put_long(b, (int64_t)len) || s3_buf_append(b, p, len) ? -1 : 0;
}

/* The schema as JSON text, growing the buffer until it fits. */
static char *schema_json(avro_schema_t schema, size_t *len)
{
    for (size_t cap = 16384; cap <= (64u << 20); cap *= 4) {
        char *buf = malloc(cap);
        if (!buf)
            return NULL;
        avro_writer_t w = avro_writer_memory(buf, (int64_t)cap);
        int rc = w ? avro_schema_to_json(schema, w) : -1;
        int64_t n = w ? avro_writer_tell(w) : 0;
        if (w)
            avro_writer_free(w);
        if (rc == 0) {
            *len = (size_t)n;
            return buf;
        }
        free(buf);
    }
    return NULL;
}

static int avro_header(s3_writer *w, char *err, size_t errlen)
{
    size_t slen = 0;
    char *sj = schema_json(w->schema, &slen);
    const char *codec = w->conf->codec == S3_CODEC_DEFLATE ? "deflate" : "null";
    if (!sj) {
        snprintf(err, errlen, "cannot write the Avro schema as JSON: %s", avro_strerror());
        return -1;
    }
    int rc = s3_buf_append(&w->out, "Obj\x01", 4) || put_long(&w->out, 2) ||
             put_bytes(&w->out, "avro.schema", 11) || put_bytes(&w->out, sj, slen) ||
             put_bytes(&w->out, "avro.codec", 10) || put_bytes(&w->out, codec, strlen(codec)) ||
             put_long(&w->out, 0) || s3_buf_append(&w->out, w->sync, 16);
    free(sj);
    if (rc)
        snprintf(err, errlen, "out of memory");
    return rc ? -1 : 0;
}

/* Raw deflate of block into zbuf. */
static int deflate_block(s3_writer *w)
{
    z_stream zs = {0};
    if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    uLong bound = deflateBound(&zs, (uLong)w->block.len);
    w->zbuf.len = 0;
    if (s3_buf_reserve(&w->zbuf, bound) != 0) {
        deflateEnd(&zs);
        return -1;
    }
    zs.next_in = w->block.p;
    zs.avail_in = (uInt)w->block.len;
    zs.next_out = w->zbuf.p;
    zs.avail_out = (uInt)bound;
    int rc = deflate(&zs, Z_FINISH);
    w->zbuf.len = bound - zs.avail_out;
    deflateEnd(&zs);
    return rc == Z_STREAM_END ? 0 : -1;
}

static int block_close(s3_writer *w, char *err, size_t errlen)
{
    if (w->block_count == 0)
        return 0;
    const s3_buf *data = &w->block;
    if (w->conf->codec == S3_CODEC_DEFLATE) {
        if (deflate_block(w) != 0) {
            snprintf(err, errlen, "deflate of an Avro block failed");
            return -1;
        }
        data = &w->zbuf;
    }
    if (put_long(&w->out, w->block_count) || put_bytes(&w->out, data->p, data->len) ||
        s3_buf_append(&w->out, w->sync, 16)) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    w->block.len = 0;
    w->block_count = 0;
    return 0;
}

/* Serialises into the free room of the block buffer in one pass; when the
 * record does not fit (the memory writer says ENOSPC), grows the buffer and
 * writes again. */
static int avro_append(s3_writer *w, sluice_ctx *ctx, const sluice_record *rec, char *err,
                       size_t errlen)
{
    if (rec->value_avro) { /* the bytes it came in: checked against this schema */
        if (s3_buf_append(&w->block, rec->value_avro, rec->value_avro_len) != 0) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        w->block_count++;
        return w->block.len >= BLOCK_BYTES ? block_close(w, err, errlen) : 0;
    }
    avro_value_t *value = sluice_record_value(ctx, rec); /* came as JSON: decoded now */
    if (!value)
        return S3_HOST_REPORTED;
    size_t room = w->last_size * 2 > 4096 ? w->last_size * 2 : 4096;
    for (;;) {
        if (s3_buf_reserve(&w->block, room) != 0) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        size_t free_bytes = w->block.cap - w->block.len;
        avro_writer_memory_set_dest(w->aw, (const char *)w->block.p + w->block.len,
                                    (int64_t)free_bytes);
        int rc = avro_value_write(w->aw, value);
        if (rc == 0)
            break;
        if (rc != ENOSPC || free_bytes >= ((size_t)1 << 31)) {
            snprintf(err, errlen, "Avro encoding of a record: %s", avro_strerror());
            return -1;
        }
        room = free_bytes * 2;
    }
    size_t size = (size_t)avro_writer_tell(w->aw);
    w->last_size = size;
    w->block.len += size;
    w->block_count++;
    return w->block.len >= BLOCK_BYTES ? block_close(w, err, errlen) : 0;
}

/* ======================================================================== */
/* JSON lines                                                                */
/* ======================================================================== */

/* Appends the record's Debezium JSON form and a newline to the object's
 * bytes with the text writer: no JSON tree, and no allocation once the
 * buffer has grown to a part. */
static int json_append(s3_writer *w, sluice_ctx *ctx, const sluice_record *rec, char *err,
                       size_t errlen)
{
    char *p = (char *)w->out.p;
    int rc = sluice_record_value_json(ctx, rec, &p, &w->out.len, &w->out.cap);
    w->out.p = (uint8_t *)p;
    if (rc != 0) {
        snprintf(err, errlen, "the record has no JSON form (a NaN or infinite double, a type "
                              "JSON cannot hold, or out of memory)");
        return -1;
    }
    if (s3_buf_append(&w->out, "\n", 1) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* ======================================================================== */
/* The interface                                                             */
/* ======================================================================== */

s3_writer *s3_writer_create(const s3_conf *conf, avro_schema_t schema, const char *sync_seed,
                            char *err, size_t errlen)
{
    s3_writer *w = calloc(1, sizeof(*w));
    if (!w) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    w->conf = conf;
    if (conf->format == S3_FORMAT_JSON)
        return w;
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)sync_seed, strlen(sync_seed), md);
    memcpy(w->sync, md, 16);
    w->schema = avro_schema_incref(schema);
    if (!(w->aw = avro_writer_memory("", 0))) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (avro_header(w, err, errlen) != 0)
        goto fail;
    return w;
fail:
    s3_writer_destroy(w);
    return NULL;
}

void s3_writer_destroy(s3_writer *w)
{
    if (!w)
        return;
    if (w->aw)
        avro_writer_free(w->aw);
    if (w->schema)
        avro_schema_decref(w->schema);
    s3_buf_free(&w->out);
    s3_buf_free(&w->block);
    s3_buf_free(&w->zbuf);
    free(w);
}

int s3_writer_accepts(const s3_writer *w, avro_schema_t schema)
{
    return w->conf->format == S3_FORMAT_JSON || schema == w->schema ||
           avro_schema_equal(schema, w->schema);
}

int s3_writer_append(s3_writer *w, sluice_ctx *ctx, const sluice_record *rec, char *err,
                     size_t errlen)
{
    return w->conf->format == S3_FORMAT_JSON ? json_append(w, ctx, rec, err, errlen)
                                             : avro_append(w, ctx, rec, err, errlen);
}

int s3_writer_finish(s3_writer *w, char *err, size_t errlen)
{
    return w->conf->format == S3_FORMAT_JSON ? 0 : block_close(w, err, errlen);
}

s3_buf *s3_writer_out(s3_writer *w)
{
    return &w->out;
}

const char *s3_writer_extension(const s3_conf *conf)
{
    return conf->format == S3_FORMAT_JSON ? "json" : "avro";
}
