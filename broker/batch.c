/*
 * batch.c - Kafka RecordBatch v2 header codec, validation, in-place stamping
 * and the zig-zag varints used inside records. See batch.h for the layout.
 *
 * Everything here reads bytes that came off the network or the disk, so every
 * read is preceded by a length check; nothing allocates. Validation checks
 * only the header and the CRC (which covers the records): the broker stores
 * records as they came and never decodes them on the produce path.
 *
 * Error messages start with "batch" so a caller can prefix where it was
 * ("orders-3/00000000000000000000.log: at position 4096: batch has CRC ...").
 */
#include "batch.h"

#include <inttypes.h>
#include <stdio.h>

#include "crc32c.h"

#define SL_KAFKA_CORRUPT_MESSAGE 2
#define SL_KAFKA_INVALID_RECORD  87
#define SL_BATCH_MIN_LENGTH      (SL_BATCH_HEADER_SIZE - SL_BATCH_LOG_OVERHEAD) /* 49 */
#define SL_BATCH_CRC_START       21

int sl_batch_header_decode(const uint8_t *p, size_t len, sl_batch_header *h)
{
    if (len < SL_BATCH_HEADER_SIZE)
        return -1;
    h->base_offset = (int64_t)sl_be64(p);
    h->batch_length = (int32_t)sl_be32(p + 8);
    h->partition_leader_epoch = (int32_t)sl_be32(p + 12);
    h->magic = (int8_t)p[16];
    h->crc = sl_be32(p + 17);
    h->attributes = (int16_t)((p[21] << 8) | p[22]);
    h->last_offset_delta = (int32_t)sl_be32(p + 23);
    h->base_timestamp = (int64_t)sl_be64(p + 27);
    h->max_timestamp = (int64_t)sl_be64(p + 35);
    h->producer_id = (int64_t)sl_be64(p + 43);
    h->producer_epoch = (int16_t)((p[51] << 8) | p[52]);
    h->base_sequence = (int32_t)sl_be32(p + 53);
    h->record_count = (int32_t)sl_be32(p + 57);
    return 0;
}

/* Length, magic and CRC: the checks whose failure means the bytes are bad. */
static int batch_check_frame(const uint8_t *p, size_t len, const sl_batch_header *h, char *err,
                             size_t errlen)
{
    if (h->batch_length < SL_BATCH_MIN_LENGTH) {
        snprintf(err, errlen, "batch has batchLength %" PRId32 ", less than the minimum %d",
                 h->batch_length, SL_BATCH_MIN_LENGTH);
        return SL_KAFKA_CORRUPT_MESSAGE;
    }
    if ((uint64_t)sl_batch_total_size(h) != len) {
        snprintf(err, errlen, "batch has batchLength %" PRId32 " but %zu bytes follow the field",
                 h->batch_length, len - SL_BATCH_LOG_OVERHEAD);
        return SL_KAFKA_CORRUPT_MESSAGE;
    }
    if (h->magic != 2) {
        snprintf(err, errlen, "batch has magic %d, expected 2", h->magic);
        return SL_KAFKA_CORRUPT_MESSAGE;
    }
    uint32_t crc = sl_crc32c(0, p + SL_BATCH_CRC_START, len - SL_BATCH_CRC_START);
    if (crc != h->crc) {
        snprintf(err, errlen, "batch has CRC 0x%08" PRIx32 ", expected 0x%08" PRIx32, h->crc, crc);
        return SL_KAFKA_CORRUPT_MESSAGE;
    }
    return 0;
}

int sl_batch_validate(const uint8_t *p, size_t len, char *err, size_t errlen)
{
    sl_batch_header h;

    if (sl_batch_header_decode(p, len, &h) < 0) {
        snprintf(err, errlen, "batch is truncated: %zu bytes, a header needs %d", len,
                 SL_BATCH_HEADER_SIZE);
        return SL_KAFKA_CORRUPT_MESSAGE;
    }
    int rc = batch_check_frame(p, len, &h, err, errlen);
    if (rc)
        return rc;
    if (h.last_offset_delta < 0) {
        snprintf(err, errlen, "batch has lastOffsetDelta %" PRId32 ", negative",
                 h.last_offset_delta);
        return SL_KAFKA_INVALID_RECORD;
    }
    if (h.record_count < 0 || (int64_t)h.record_count > (int64_t)h.last_offset_delta + 1) {
        snprintf(err, errlen, "batch has recordCount %" PRId32 " with lastOffsetDelta %" PRId32,
                 h.record_count, h.last_offset_delta);
        return SL_KAFKA_INVALID_RECORD;
    }
    return 0;
}

void sl_batch_set_offset_epoch(uint8_t *p, int64_t base_offset, int32_t leader_epoch)
{
    sl_put_be64(p, (uint64_t)base_offset);
    sl_put_be32(p + 12, (uint32_t)leader_epoch);
}

void sl_batch_set_log_append_time(uint8_t *p, size_t len, int64_t ts)
{
    p[22] |= SL_BATCH_ATTR_LOG_APPEND_TIME; /* low byte of the big-endian attributes */
    sl_put_be64(p + 35, (uint64_t)ts);
    sl_put_be32(p + 17, sl_crc32c(0, p + SL_BATCH_CRC_START, len - SL_BATCH_CRC_START));
}

int sl_batch_foreach(uint8_t *buf, size_t len, sl_batch_fn fn, void *arg, char *err, size_t errlen)
{
    size_t pos = 0;

    while (pos < len) {
        size_t left = len - pos;
        if (left < SL_BATCH_LOG_OVERHEAD) {
            snprintf(err, errlen, "batch at byte %zu is truncated: %zu bytes left, need %d", pos,
                     left, SL_BATCH_LOG_OVERHEAD);
            return -1;
        }
        int32_t blen = (int32_t)sl_be32(buf + pos + 8);
        if (blen < SL_BATCH_MIN_LENGTH || (size_t)blen > left - SL_BATCH_LOG_OVERHEAD) {
            snprintf(err, errlen,
                     "batch at byte %zu has batchLength %" PRId32 " but %zu bytes follow the field",
                     pos, blen, left - SL_BATCH_LOG_OVERHEAD);
            return -1;
        }
        size_t total = SL_BATCH_LOG_OVERHEAD + (size_t)blen;
        int rc = fn(buf + pos, total, arg);
        if (rc)
            return rc;
        pos += total;
    }
    return 0;
}

/* ---------------------------------------------------------------- varints */

int sl_varint_decode(const uint8_t *p, size_t len, int64_t *out)
{
    uint64_t v = 0;

    for (size_t i = 0; i < 10; i++) {
        if (i >= len)
            return -1; /* truncated */
        uint8_t b = p[i];
        if (i == 9 && b > 1)
            return -1; /* overlong: more than 64 bits */
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *out = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
            return (int)i + 1;
        }
    }
    return -1; /* overlong: continuation past 10 bytes */
}

int sl_varint_encode(uint8_t *p, size_t len, int64_t v)
{
    uint64_t z = ((uint64_t)v << 1) ^ (v < 0 ? UINT64_MAX : 0); /* zig-zag */
    size_t i = 0;

    do {
        if (i >= len)
            return -1;
        uint8_t b = z & 0x7f;
        z >>= 7;
        p[i++] = z ? (uint8_t)(b | 0x80) : b;
    } while (z);
    return (int)i;
}
