/*
 * batch.h - Kafka RecordBatch v2 (magic 2): header codec and validation.
 *
 * The broker never re-encodes records: it checks a batch, stamps its offsets
 * (and LogAppendTime when the topic asks for it) in place, and stores the
 * bytes as they came. The header, big-endian, byte by byte:
 *
 *   off len field                    covered by CRC
 *     0   8 baseOffset               no   (broker assigns)
 *     8   4 batchLength              no   (bytes after this field)
 *    12   4 partitionLeaderEpoch     no   (broker assigns)
 *    16   1 magic (= 2)              no
 *    17   4 crc (CRC-32C of 21..end) -
 *    21   2 attributes               yes  bits 0-2 codec (0 none, 1 gzip,
 *                                         2 snappy, 3 lz4, 4 zstd), bit 3
 *                                         timestampType (1 = LogAppendTime),
 *                                         bit 4 transactional, bit 5 control
 *    23   4 lastOffsetDelta          yes
 *    27   8 baseTimestamp            yes  (firstTimestamp)
 *    35   8 maxTimestamp             yes
 *    43   8 producerId               yes
 *    51   2 producerEpoch            yes
 *    53   4 baseSequence             yes
 *    57   4 recordCount (records)    yes
 *    61   .. records (maybe compressed)
 *
 * Records (uncompressed form): varint length, int8 attributes, varlong
 * timestampDelta, varint offsetDelta, varint keyLen + key, varint valueLen +
 * value, varint headerCount, headers (varint keyLen + key, varint valLen + val).
 * Varints are zig-zag encoded (protobuf style).
 */
#ifndef SL_BATCH_H
#define SL_BATCH_H
#include <stddef.h>
#include <stdint.h>

#define SL_BATCH_HEADER_SIZE 61
#define SL_BATCH_LOG_OVERHEAD 12 /* baseOffset + batchLength */

#define SL_BATCH_ATTR_CODEC_MASK 0x07
#define SL_BATCH_ATTR_LOG_APPEND_TIME 0x08
#define SL_BATCH_ATTR_TRANSACTIONAL 0x10
#define SL_BATCH_ATTR_CONTROL 0x20

typedef struct sl_batch_header {
    int64_t base_offset;
    int32_t batch_length; /* bytes after the batchLength field */
    int32_t partition_leader_epoch;
    int8_t magic;
    uint32_t crc;
    int16_t attributes;
    int32_t last_offset_delta;
    int64_t base_timestamp;
    int64_t max_timestamp;
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t base_sequence;
    int32_t record_count;
} sl_batch_header;

/* Decode the 61-byte header at p (len bytes available). Returns 0, or -1 if
 * len < SL_BATCH_HEADER_SIZE. Does not check CRC or magic. */
int sl_batch_header_decode(const uint8_t *p, size_t len, sl_batch_header *h);

/* Total on-disk size of the batch whose header starts at p: 12 + batchLength. */
static inline int64_t sl_batch_total_size(const sl_batch_header *h)
{
    return (int64_t)SL_BATCH_LOG_OVERHEAD + h->batch_length;
}

/* Validate one complete batch of exactly len bytes: length field agrees with
 * len, magic 2, batchLength >= 49, CRC-32C matches, lastOffsetDelta >= 0 and
 * recordCount consistent (recordCount == lastOffsetDelta + 1 unless the batch
 * was compacted, so only recordCount >= 0 and recordCount <= lastOffsetDelta+1
 * are required). Returns 0 or a Kafka error code (2 CORRUPT_MESSAGE, 87
 * INVALID_RECORD); writes a message saying what is wrong into err. */
int sl_batch_validate(const uint8_t *p, size_t len, char *err, size_t errlen);

/* Stamp, in place: baseOffset and partitionLeaderEpoch (not CRC-covered). */
void sl_batch_set_offset_epoch(uint8_t *p, int64_t base_offset, int32_t leader_epoch);

/* Stamp LogAppendTime in place: sets attribute bit 3 and maxTimestamp = ts,
 * then recomputes the CRC (both fields are CRC-covered). */
void sl_batch_set_log_append_time(uint8_t *p, size_t len, int64_t ts);

/* Walk a buffer holding zero or more concatenated batches (a Produce records
 * field). For each complete batch calls fn(p, len, arg); stops on the first
 * nonzero return of fn and returns it. A trailing partial batch or a header
 * that claims more bytes than remain returns -1 (CORRUPT_MESSAGE) with err. */
typedef int (*sl_batch_fn)(uint8_t *p, size_t len, void *arg);
int sl_batch_foreach(uint8_t *buf, size_t len, sl_batch_fn fn, void *arg, char *err, size_t errlen);

/* Varints (zig-zag), as used inside records. Return bytes consumed/written,
 * or -1 on truncated/overlong input. */
int sl_varint_decode(const uint8_t *p, size_t len, int64_t *out);
int sl_varint_encode(uint8_t *p, size_t len, int64_t v);

/* Big-endian helpers. */
static inline uint32_t sl_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline uint64_t sl_be64(const uint8_t *p)
{
    return ((uint64_t)sl_be32(p) << 32) | sl_be32(p + 4);
}
static inline void sl_put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
static inline void sl_put_be64(uint8_t *p, uint64_t v)
{
    sl_put_be32(p, (uint32_t)(v >> 32));
    sl_put_be32(p + 4, (uint32_t)v);
}

#endif
