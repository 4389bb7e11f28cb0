/*
 * test_batch.c - RecordBatch v2: varints, header decode, validation (good,
 * bad CRC, wrong magic, length mismatches, truncation, offsets), in-place
 * stamping, and walking concatenated batches. Test batches are encoded here
 * from scratch (records with zig-zag varints, CRC-32C from sl_crc32c), so a
 * batch that validates also checks the codec against the specification.
 */
#include <CUnit/Basic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "batch.h"
#include "crc32c.h"

/* ---------------------------------------------------------------- builder */

static size_t put_varint(uint8_t *p, int64_t v)
{
    int n = sl_varint_encode(p, 10, v);
    CU_ASSERT_FATAL(n > 0);
    return (size_t)n;
}

/* One record: length, attributes, timestampDelta, offsetDelta, null key,
 * value, no headers. Returns bytes written. */
static size_t put_record(uint8_t *p, int64_t ts_delta, int offset_delta, const char *value)
{
    uint8_t body[512];
    size_t n = 0, vlen = strlen(value);
    body[n++] = 0;
    n += put_varint(body + n, ts_delta);
    n += put_varint(body + n, offset_delta);
    n += put_varint(body + n, -1);
    n += put_varint(body + n, (int64_t)vlen);
    memcpy(body + n, value, vlen);
    n += vlen;
    n += put_varint(body + n, 0);
    size_t h = put_varint(p, (int64_t)n);
    memcpy(p + h, body, n);
    return h + n;
}

/* An uncompressed batch of nrec records "value-<i>", timestamps ts, ts+1.. */
static size_t build_batch(uint8_t *buf, int nrec, int64_t ts)
{
    size_t n = SL_BATCH_HEADER_SIZE;
    char val[32];
    for (int i = 0; i < nrec; i++) {
        snprintf(val, sizeof(val), "value-%d", i);
        n += put_record(buf + n, i, i, val);
    }
    sl_put_be64(buf, 0);
    sl_put_be32(buf + 8, (uint32_t)(n - SL_BATCH_LOG_OVERHEAD));
    sl_put_be32(buf + 12, (uint32_t)-1);
    buf[16] = 2;
    buf[21] = buf[22] = 0;
    sl_put_be32(buf + 23, (uint32_t)(nrec - 1));
    sl_put_be64(buf + 27, (uint64_t)ts);
    sl_put_be64(buf + 35, (uint64_t)(ts + nrec - 1));
    sl_put_be64(buf + 43, (uint64_t)-1);
    buf[51] = buf[52] = 0xff;
    sl_put_be32(buf + 53, (uint32_t)-1);
    sl_put_be32(buf + 57, (uint32_t)nrec);
    sl_put_be32(buf + 17, sl_crc32c(0, buf + 21, n - 21));
    return n;
}

/* ---------------------------------------------------------------- varints */

static void check_varint(int64_t v, const uint8_t *want, size_t wlen)
{
    uint8_t buf[16];
    int64_t back = 0;
    CU_ASSERT_EQUAL(sl_varint_encode(buf, sizeof(buf), v), (int)wlen);
    CU_ASSERT_EQUAL(memcmp(buf, want, wlen), 0);
    CU_ASSERT_EQUAL(sl_varint_decode(buf, wlen, &back), (int)wlen);
    CU_ASSERT_EQUAL(back, v);
}

static void test_varint_known(void)
{
    check_varint(0, (const uint8_t[]){0x00}, 1);
    check_varint(-1, (const uint8_t[]){0x01}, 1);
    check_varint(1, (const uint8_t[]){0x02}, 1);
    check_varint(63, (const uint8_t[]){0x7e}, 1);
    check_varint(-64, (const uint8_t[]){0x7f}, 1);
    check_varint(64, (const uint8_t[]){0x80, 0x01}, 2);
    check_varint(-65, (const uint8_t[]){0x81, 0x01}, 2);
    check_varint(150, (const uint8_t[]){0xac, 0x02}, 2);
    check_varint(INT32_MAX, (const uint8_t[]){0xfe, 0xff, 0xff, 0xff, 0x0f}, 5);
    check_varint(INT32_MIN, (const uint8_t[]){0xff, 0xff, 0xff, 0xff, 0x0f}, 5);
    check_varint(INT64_MAX,
                 (const uint8_t[]){0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 10);
    check_varint(INT64_MIN,
                 (const uint8_t[]){0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 10);
}

static void test_varint_roundtrip(void)
{
    uint8_t buf[10];
    int64_t back;
    for (int shift = 0; shift < 63; shift++)
        for (int d = -1; d <= 1; d++) {
            int64_t vs[2] = {((int64_t)1 << shift) + d, -((int64_t)1 << shift) + d};
            for (int k = 0; k < 2; k++) {
                int n = sl_varint_encode(buf, sizeof(buf), vs[k]);
                CU_ASSERT(n > 0 && n <= 10);
                CU_ASSERT_EQUAL(sl_varint_decode(buf, (size_t)n, &back), n);
                CU_ASSERT_EQUAL(back, vs[k]);
            }
        }
}

static void test_varint_bad_input(void)
{
    int64_t v = 77;
    uint8_t buf[16];

    CU_ASSERT_EQUAL(sl_varint_decode((const uint8_t[]){0x80}, 1, &v), -1); /* truncated */
    CU_ASSERT_EQUAL(sl_varint_decode((const uint8_t[]){0xac, 0x02}, 1, &v), -1);
    CU_ASSERT_EQUAL(sl_varint_decode(buf, 0, &v), -1);
    memset(buf, 0x80, sizeof(buf)); /* continuation past ten bytes */
    CU_ASSERT_EQUAL(sl_varint_decode(buf, sizeof(buf), &v), -1);
    memset(buf, 0xff, 9); /* tenth byte carrying bits beyond 64 */
    buf[9] = 0x02;
    CU_ASSERT_EQUAL(sl_varint_decode(buf, 10, &v), -1);
    buf[9] = 0x01;
    CU_ASSERT_EQUAL(sl_varint_decode(buf, 10, &v), 10);
    CU_ASSERT_EQUAL(v, INT64_MIN);
    CU_ASSERT_EQUAL(sl_varint_encode(buf, 1, 64), -1); /* no room */
    CU_ASSERT_EQUAL(sl_varint_encode(buf, 0, 0), -1);
    CU_ASSERT_EQUAL(sl_varint_encode(buf, 9, INT64_MAX), -1);
}

/* ---------------------------------------------------------------- validate */

static void test_header_decode(void)
{
    uint8_t buf[4096];
    sl_batch_header h;
    size_t n = build_batch(buf, 3, 1700000000000LL);

    CU_ASSERT_EQUAL_FATAL(sl_batch_header_decode(buf, n, &h), 0);
    CU_ASSERT_EQUAL(h.base_offset, 0);
    CU_ASSERT_EQUAL(sl_batch_total_size(&h), (int64_t)n);
    CU_ASSERT_EQUAL(h.partition_leader_epoch, -1);
    CU_ASSERT_EQUAL(h.magic, 2);
    CU_ASSERT_EQUAL(h.last_offset_delta, 2);
    CU_ASSERT_EQUAL(h.base_timestamp, 1700000000000LL);
    CU_ASSERT_EQUAL(h.max_timestamp, 1700000000002LL);
    CU_ASSERT_EQUAL(h.producer_id, -1);
    CU_ASSERT_EQUAL(h.producer_epoch, -1);
    CU_ASSERT_EQUAL(h.base_sequence, -1);
    CU_ASSERT_EQUAL(h.record_count, 3);
    CU_ASSERT_EQUAL(sl_batch_header_decode(buf, SL_BATCH_HEADER_SIZE - 1, &h), -1);
}

/* The first record decodes back to what the builder put in. */
static void test_records_decode(void)
{
    uint8_t buf[4096];
    int64_t len, attr_ts, off, klen, vlen;
    build_batch(buf, 2, 5);
    const uint8_t *p = buf + SL_BATCH_HEADER_SIZE;
    int n = sl_varint_decode(p, 10, &len);
    CU_ASSERT_FATAL(n > 0);
    CU_ASSERT_EQUAL(p[n], 0); /* attributes */
    p += n + 1;
    p += sl_varint_decode(p, 10, &attr_ts);
    p += sl_varint_decode(p, 10, &off);
    p += sl_varint_decode(p, 10, &klen);
    p += sl_varint_decode(p, 10, &vlen);
    CU_ASSERT_EQUAL(attr_ts, 0);
    CU_ASSERT_EQUAL(off, 0);
    CU_ASSERT_EQUAL(klen, -1);
    CU_ASSERT_EQUAL(vlen, 7);
    CU_ASSERT_EQUAL(memcmp(p, "value-0", 7), 0);
}

static void test_validate_good(void)
{
    uint8_t buf[8192];
    char err[256] = "";
    size_t n = build_batch(buf, 20, 1000);
    CU_ASSERT_EQUAL(sl_batch_validate(buf, n, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(err[0], '\0');
}

static void test_validate_bad_crc(void)
{
    uint8_t buf[4096];
    char err[256] = "";
    size_t n = build_batch(buf, 3, 1000);
    buf[n - 2] ^= 0x40; /* a value byte */
    CU_ASSERT_EQUAL(sl_batch_validate(buf, n, err, sizeof(err)), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "CRC"));
    n = build_batch(buf, 3, 1000);
    buf[17] ^= 1; /* the stored CRC */
    CU_ASSERT_EQUAL(sl_batch_validate(buf, n, err, sizeof(err)), 2);
}

static void test_validate_bad_magic(void)
{
    uint8_t buf[4096];
    char err[256] = "";
    size_t n = build_batch(buf, 3, 1000);
    buf[16] = 1;
    CU_ASSERT_EQUAL(sl_batch_validate(buf, n, err, sizeof(err)), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "magic 1"));
}

static void test_validate_length_mismatch(void)
{
    uint8_t buf[4096];
    char err[256] = "";
    size_t n = build_batch(buf, 3, 1000);

    CU_ASSERT_EQUAL(sl_batch_validate(buf, n - 1, err, sizeof(err)), 2); /* truncated */
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "batchLength"));
    CU_ASSERT_EQUAL(sl_batch_validate(buf, n + 1, err, sizeof(err)), 2); /* extra byte */
    CU_ASSERT_EQUAL(sl_batch_validate(buf, 30, err, sizeof(err)), 2);    /* < header */
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "truncated"));
    sl_put_be32(buf + 8, 48); /* below the minimum */
    CU_ASSERT_EQUAL(sl_batch_validate(buf, 60, err, sizeof(err)), 2);
    sl_put_be32(buf + 8, 0xffffffffu); /* negative */
    CU_ASSERT_EQUAL(sl_batch_validate(buf, n, err, sizeof(err)), 2);
}

static void test_validate_offsets(void)
{
    uint8_t buf[4096];
    char err[256] = "";
    size_t n = build_batch(buf, 3, 1000);

    sl_put_be32(buf + 57, 4); /* recordCount > lastOffsetDelta + 1 */
    sl_put_be32(buf + 17, sl_crc32c(0, buf + 21, n - 21));
    CU_ASSERT_EQUAL(sl_batch_validate(buf, n, err, sizeof(err)), 87);
    sl_put_be32(buf + 57, 2); /* compacted: fewer records is fine */
    sl_put_be32(buf + 17, sl_crc32c(0, buf + 21, n - 21));
    CU_ASSERT_EQUAL(sl_batch_validate(buf, n, err, sizeof(err)), 0);
    sl_put_be32(buf + 23, (uint32_t)-1);
    sl_put_be32(buf + 17, sl_crc32c(0, buf + 21, n - 21));
    CU_ASSERT_EQUAL(sl_batch_validate(buf, n, err, sizeof(err)), 87);
}

/* ---------------------------------------------------------------- stamping */

static void test_set_offset_epoch(void)
{
    uint8_t buf[4096];
    char err[256];
    sl_batch_header h;
    size_t n = build_batch(buf, 3, 1000);

    sl_batch_set_offset_epoch(buf, 0x123456789aLL, 7);
    CU_ASSERT_EQUAL(sl_batch_validate(buf, n, err, sizeof(err)), 0);
    sl_batch_header_decode(buf, n, &h);
    CU_ASSERT_EQUAL(h.base_offset, 0x123456789aLL);
    CU_ASSERT_EQUAL(h.partition_leader_epoch, 7);
}

static void test_set_log_append_time(void)
{
    uint8_t buf[4096];
    char err[256];
    sl_batch_header h;
    size_t n = build_batch(buf, 3, 1000);
    uint32_t old_crc = sl_be32(buf + 17);

    sl_batch_set_log_append_time(buf, n, 1700000000123LL);
    CU_ASSERT_EQUAL(sl_batch_validate(buf, n, err, sizeof(err)), 0);
    sl_batch_header_decode(buf, n, &h);
    CU_ASSERT_NOT_EQUAL(h.crc, old_crc);
    CU_ASSERT_EQUAL(h.max_timestamp, 1700000000123LL);
    CU_ASSERT_EQUAL(h.attributes & SL_BATCH_ATTR_LOG_APPEND_TIME, SL_BATCH_ATTR_LOG_APPEND_TIME);
    CU_ASSERT_EQUAL(h.attributes & SL_BATCH_ATTR_CODEC_MASK, 0);
    CU_ASSERT_EQUAL(h.base_timestamp, 1000);
}

/* ---------------------------------------------------------------- foreach */

typedef struct walk {
    int count;
    size_t sizes[8];
    int stop_at;
} walk;

static int walk_fn(uint8_t *p, size_t len, void *arg)
{
    walk *w = arg;
    char err[128];
    CU_ASSERT_EQUAL(sl_batch_validate(p, len, err, sizeof(err)), 0);
    w->sizes[w->count++] = len;
    return w->count == w->stop_at ? 99 : 0;
}

static void test_foreach(void)
{
    uint8_t buf[16384];
    size_t n1 = build_batch(buf, 1, 10);
    size_t n2 = build_batch(buf + n1, 5, 20);
    size_t n3 = build_batch(buf + n1 + n2, 2, 30);
    size_t total = n1 + n2 + n3;
    char err[256] = "";
    walk w = {0};

    CU_ASSERT_EQUAL(sl_batch_foreach(buf, total, walk_fn, &w, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(w.count, 3);
    CU_ASSERT_EQUAL(w.sizes[0], n1);
    CU_ASSERT_EQUAL(w.sizes[1], n2);
    CU_ASSERT_EQUAL(w.sizes[2], n3);

    memset(&w, 0, sizeof(w));
    CU_ASSERT_EQUAL(sl_batch_foreach(buf, 0, walk_fn, &w, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(w.count, 0);

    memset(&w, 0, sizeof(w)); /* trailing partial batch, cut inside its body */
    CU_ASSERT_EQUAL(sl_batch_foreach(buf, total - 5, walk_fn, &w, err, sizeof(err)), -1);
    CU_ASSERT_EQUAL(w.count, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "batchLength"));

    memset(&w, 0, sizeof(w)); /* trailing bytes shorter than offset+length */
    CU_ASSERT_EQUAL(sl_batch_foreach(buf, n1 + 7, walk_fn, &w, err, sizeof(err)), -1);
    CU_ASSERT_EQUAL(w.count, 1);

    memset(&w, 0, sizeof(w)); /* fn's nonzero return stops the walk */
    w.stop_at = 2;
    CU_ASSERT_EQUAL(sl_batch_foreach(buf, total, walk_fn, &w, err, sizeof(err)), 99);
    CU_ASSERT_EQUAL(w.count, 2);

    memset(&w, 0, sizeof(w)); /* a header claiming more than the buffer */
    sl_put_be32(buf + 8, 1000000);
    CU_ASSERT_EQUAL(sl_batch_foreach(buf, total, walk_fn, &w, err, sizeof(err)), -1);
    CU_ASSERT_EQUAL(w.count, 0);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("batch", NULL, NULL);
    CU_add_test(s, "varint known encodings", test_varint_known);
    CU_add_test(s, "varint round trip at powers of two", test_varint_roundtrip);
    CU_add_test(s, "varint truncated, overlong, no room", test_varint_bad_input);
    CU_add_test(s, "header decode", test_header_decode);
    CU_add_test(s, "records decode", test_records_decode);
    CU_add_test(s, "validate good batch", test_validate_good);
    CU_add_test(s, "validate bad CRC", test_validate_bad_crc);
    CU_add_test(s, "validate wrong magic", test_validate_bad_magic);
    CU_add_test(s, "validate length mismatch and truncation", test_validate_length_mismatch);
    CU_add_test(s, "validate offsets and record count", test_validate_offsets);
    CU_add_test(s, "set offset and epoch keeps CRC valid", test_set_offset_epoch);
    CU_add_test(s, "set LogAppendTime recomputes CRC", test_set_log_append_time);
    CU_add_test(s, "foreach over concatenated and partial batches", test_foreach);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failures = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failures ? 1 : 0;
}
