/*
 * test_group.c - the consumer group coordinator's pure parts: the record
 * codecs of __consumer_offsets and the group -> partition hash.
 *
 * The codecs must write Kafka's exact bytes (a Kafka tool reading our
 * __consumer_offsets, or we reading one copied from Kafka, must agree), so
 * the layouts are checked against bytes written out by hand from Kafka's
 * OffsetCommitKey v1 / OffsetCommitValue v3 / GroupMetadataKey v2 schemas,
 * not only round-tripped. The decoder reads bytes from disk that may be
 * torn or foreign: every truncation of a valid key and a few kinds of
 * garbage must be refused, never read past.
 *
 * sl_group_java_hash must equal Java's String.hashCode (int32 arithmetic
 * that wraps), because Kafka places a group on partition
 * (hashCode & 0x7fffffff) % offsets.topic.num.partitions and a client or a
 * migrated data directory expects the same placement.
 */
#include <CUnit/Basic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "group.h"

/* ------------------------------------------------------------------------ */
/* Kafka's byte layout, written by hand                                     */
/* ------------------------------------------------------------------------ */

/* OffsetCommitKey v1: int16 version, string group, string topic, int32 partition */
static const uint8_t KEY_G_T_3[] = {
    0x00, 0x01,                  /* key version 1 */
    0x00, 0x02, 'g',  '1',       /* group "g1" */
    0x00, 0x03, 't',  'o',  'p', /* topic "top" */
    0x00, 0x00, 0x00, 0x03,      /* partition 3 */
};

/* OffsetCommitValue v3: int16 version, int64 offset, int32 leader_epoch,
 * string metadata, int64 commit_timestamp */
static const uint8_t VAL_V3[] = {
    0x00, 0x03,                                     /* value version 3 */
    0x00, 0x00, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, /* offset 0x0102030405 */
    0x00, 0x00, 0x00, 0x07,                         /* leader epoch 7 */
    0x00, 0x02, 'm',  'd',                          /* metadata "md" */
    0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00, /* commit ts 1700000000000 */
};

static void test_key_bytes(void)
{
    uint8_t buf[64];
    size_t n = sl_group_offset_key(buf, sizeof(buf), "g1", "top", 3);
    CU_ASSERT_EQUAL(n, sizeof(KEY_G_T_3));
    CU_ASSERT_EQUAL(memcmp(buf, KEY_G_T_3, sizeof(KEY_G_T_3)), 0);
    /* too small a buffer: 0, nothing claimed written */
    CU_ASSERT_EQUAL(sl_group_offset_key(buf, sizeof(KEY_G_T_3) - 1, "g1", "top", 3), 0);
    CU_ASSERT_EQUAL(sl_group_offset_key(buf, sizeof(KEY_G_T_3), "g1", "top", 3), sizeof(KEY_G_T_3));
}

static void test_value_bytes(void)
{
    uint8_t buf[64];
    size_t n = sl_group_offset_value(buf, sizeof(buf), 0x0102030405LL, 7, "md", 1700000000000LL);
    CU_ASSERT_EQUAL(n, sizeof(VAL_V3));
    CU_ASSERT_EQUAL(memcmp(buf, VAL_V3, sizeof(VAL_V3)), 0);
    CU_ASSERT_EQUAL(
        sl_group_offset_value(buf, sizeof(VAL_V3) - 1, 0x0102030405LL, 7, "md", 1700000000000LL),
        0);
    /* NULL metadata is written as the empty string (Kafka's field is not nullable) */
    n = sl_group_offset_value(buf, sizeof(buf), 5, -1, NULL, 0);
    CU_ASSERT_EQUAL(n, 2 + 8 + 4 + 2 + 8);
    CU_ASSERT_EQUAL(buf[14], 0x00);
    CU_ASSERT_EQUAL(buf[15], 0x00);
    CU_ASSERT_EQUAL(buf[10], 0xff); /* leader epoch -1 */
}

static void test_decode_hand_written(void)
{
    sl_group_record gr;
    int rc = sl_group_record_decode(KEY_G_T_3, sizeof(KEY_G_T_3), VAL_V3, sizeof(VAL_V3), &gr);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_EQUAL(gr.key_version, 1);
    CU_ASSERT_STRING_EQUAL(gr.group, "g1");
    CU_ASSERT_STRING_EQUAL(gr.topic, "top");
    CU_ASSERT_EQUAL(gr.partition, 3);
    CU_ASSERT_EQUAL(gr.offset, 0x0102030405LL);
    CU_ASSERT_EQUAL(gr.leader_epoch, 7);
    CU_ASSERT_STRING_EQUAL(gr.metadata, "md");
    CU_ASSERT_EQUAL(gr.commit_ts, 1700000000000LL);
    CU_ASSERT_FALSE(gr.tombstone);
}

/* OffsetCommitValue v1 (Kafka 0.10-2.0): offset, metadata, commit ts, expire ts;
 * no leader epoch. An old __consumer_offsets still holds these. */
static void test_decode_value_v1(void)
{
    static const uint8_t v1[] = {
        0x00, 0x01,                                     /* version 1 */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2a, /* offset 42 */
        0x00, 0x00,                                     /* metadata "" */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xe8, /* commit ts 1000 */
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* expire ts -1 */
    };
    sl_group_record gr;
    CU_ASSERT_EQUAL(sl_group_record_decode(KEY_G_T_3, sizeof(KEY_G_T_3), v1, sizeof(v1), &gr), 0);
    CU_ASSERT_EQUAL(gr.offset, 42);
    CU_ASSERT_EQUAL(gr.leader_epoch, -1);
    CU_ASSERT_STRING_EQUAL(gr.metadata, "");
    CU_ASSERT_EQUAL(gr.commit_ts, 1000);
}

/* GroupMetadataKey v2 + GroupMetadataValue v3 (empty group): the decoder
 * keeps the generation, which must survive a broker restart. */
static void test_decode_group_metadata(void)
{
    static const uint8_t key[] = {0x00, 0x02, 0x00, 0x02, 'g', '1'};
    static const uint8_t val[] = {
        0x00, 0x03,                                               /* version 3 */
        0x00, 0x08, 'c',  'o',  'n',  's',  'u',  'm',  'e', 'r', /* protocol_type */
        0x00, 0x00, 0x00, 0x11,                                   /* generation 17 */
        0xff, 0xff,                                               /* protocol null */
        0xff, 0xff,                                               /* leader null */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,           /* state timestamp */
        0x00, 0x00, 0x00, 0x00,                                   /* no members */
    };
    sl_group_record gr;
    CU_ASSERT_EQUAL(sl_group_record_decode(key, sizeof(key), val, sizeof(val), &gr), 0);
    CU_ASSERT_EQUAL(gr.key_version, 2);
    CU_ASSERT_STRING_EQUAL(gr.group, "g1");
    CU_ASSERT_EQUAL(gr.generation, 17);
    CU_ASSERT_FALSE(gr.tombstone);
    /* its tombstone */
    CU_ASSERT_EQUAL(sl_group_record_decode(key, sizeof(key), NULL, -1, &gr), 0);
    CU_ASSERT_TRUE(gr.tombstone);
    CU_ASSERT_STRING_EQUAL(gr.group, "g1");
    /* a value cut inside protocol_type */
    CU_ASSERT_EQUAL(sl_group_record_decode(key, sizeof(key), val, 6, &gr), -1);
}

/* ------------------------------------------------------------------------ */
/* Round trips                                                               */
/* ------------------------------------------------------------------------ */

static void test_round_trip(void)
{
    static const struct {
        const char *group, *topic, *md;
        int32_t partition, epoch;
        int64_t offset, ts;
    } cases[] = {
        {"g", "t", "", 0, -1, 0, 0},
        {"orders-consumers", "orders", "processed by worker-7", 49, 12, 123456789012LL,
         1712345678901LL},
        {"a-group-name-with-utf8-\xc3\xa9", "topic.with.dots_and-dash", "x", 2147483647, 2147483647,
         INT64_MAX, -1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t k[600], v[600];
        sl_group_record gr;
        size_t kl =
            sl_group_offset_key(k, sizeof(k), cases[i].group, cases[i].topic, cases[i].partition);
        size_t vl = sl_group_offset_value(v, sizeof(v), cases[i].offset, cases[i].epoch,
                                          cases[i].md, cases[i].ts);
        CU_ASSERT_TRUE_FATAL(kl > 0 && vl > 0);
        CU_ASSERT_EQUAL(sl_group_record_decode(k, (int32_t)kl, v, (int32_t)vl, &gr), 0);
        CU_ASSERT_EQUAL(gr.key_version, 1);
        CU_ASSERT_STRING_EQUAL(gr.group, cases[i].group);
        CU_ASSERT_STRING_EQUAL(gr.topic, cases[i].topic);
        CU_ASSERT_EQUAL(gr.partition, cases[i].partition);
        CU_ASSERT_EQUAL(gr.offset, cases[i].offset);
        CU_ASSERT_EQUAL(gr.leader_epoch, cases[i].epoch);
        CU_ASSERT_STRING_EQUAL(gr.metadata, cases[i].md);
        CU_ASSERT_EQUAL(gr.commit_ts, cases[i].ts);
        CU_ASSERT_FALSE(gr.tombstone);
    }
}

static void test_tombstone(void)
{
    uint8_t k[64];
    sl_group_record gr;
    size_t kl = sl_group_offset_key(k, sizeof(k), "grp", "tp", 5);
    CU_ASSERT_EQUAL(sl_group_record_decode(k, (int32_t)kl, NULL, -1, &gr), 0);
    CU_ASSERT_TRUE(gr.tombstone);
    CU_ASSERT_STRING_EQUAL(gr.group, "grp");
    CU_ASSERT_STRING_EQUAL(gr.topic, "tp");
    CU_ASSERT_EQUAL(gr.partition, 5);
}

/* ------------------------------------------------------------------------ */
/* Refusals                                                                  */
/* ------------------------------------------------------------------------ */

static void test_truncated_keys_refused(void)
{
    sl_group_record gr;
    /* every proper prefix of a valid key, copied to a heap block of exactly
     * that size so that a read past it is caught by ASan */
    for (size_t n = 0; n < sizeof(KEY_G_T_3); n++) {
        uint8_t *k = malloc(n ? n : 1);
        memcpy(k, KEY_G_T_3, n);
        int rc = sl_group_record_decode(n ? k : NULL, (int32_t)n, VAL_V3, sizeof(VAL_V3), &gr);
        if (rc != -1)
            fprintf(stderr, "\n  key prefix of %zu bytes accepted\n", n);
        CU_ASSERT_EQUAL(rc, -1);
        free(k);
    }
    /* every proper prefix of a valid value */
    for (size_t n = 0; n < sizeof(VAL_V3); n++) {
        uint8_t *v = malloc(n ? n : 1);
        memcpy(v, VAL_V3, n);
        int rc = sl_group_record_decode(KEY_G_T_3, sizeof(KEY_G_T_3), v, (int32_t)n, &gr);
        if (rc != -1)
            fprintf(stderr, "\n  value prefix of %zu bytes accepted\n", n);
        CU_ASSERT_EQUAL(rc, -1);
        free(v);
    }
}

static void test_garbage_keys_refused(void)
{
    sl_group_record gr;
    /* unknown key version */
    static const uint8_t v7[] = {0x00, 0x07, 0x00, 0x01, 'g'};
    CU_ASSERT_EQUAL(sl_group_record_decode(v7, sizeof(v7), NULL, -1, &gr), -1);
    static const uint8_t vneg[] = {0xff, 0xff, 0x00, 0x01, 'g'};
    CU_ASSERT_EQUAL(sl_group_record_decode(vneg, sizeof(vneg), NULL, -1, &gr), -1);
    /* group length larger than the key */
    static const uint8_t longlen[] = {0x00, 0x01, 0x7f, 0xff, 'g', 0x00, 0x01, 't', 0, 0, 0, 0};
    CU_ASSERT_EQUAL(sl_group_record_decode(longlen, sizeof(longlen), NULL, -1, &gr), -1);
    /* null group (length -1) */
    static const uint8_t nullg[] = {0x00, 0x02, 0xff, 0xff};
    CU_ASSERT_EQUAL(sl_group_record_decode(nullg, sizeof(nullg), NULL, -1, &gr), -1);
    /* negative length other than -1 */
    static const uint8_t neglen[] = {0x00, 0x02, 0x80, 0x00, 'g'};
    CU_ASSERT_EQUAL(sl_group_record_decode(neglen, sizeof(neglen), NULL, -1, &gr), -1);
    /* a group name longer than the record's buffer is refused, not cut */
    uint8_t big[2 + 2 + 300];
    big[0] = 0;
    big[1] = 2;
    big[2] = 300 >> 8;
    big[3] = 300 & 0xff;
    memset(big + 4, 'x', 300);
    CU_ASSERT_EQUAL(sl_group_record_decode(big, sizeof(big), NULL, -1, &gr), -1);
    /* no key at all */
    CU_ASSERT_EQUAL(sl_group_record_decode(NULL, -1, VAL_V3, sizeof(VAL_V3), &gr), -1);
    /* 1,000 pseudo-random keys: whatever they decode to, never a crash or an
     * overread (ASan build); and a random key that happens to parse must name
     * a version we know */
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < 1000; i++) {
        uint8_t k[24];
        size_t n = (size_t)(i % (int)sizeof(k)) + 1;
        for (size_t j = 0; j < n; j++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            k[j] = (uint8_t)x;
        }
        k[0] = 0;
        uint8_t *heap = malloc(n);
        memcpy(heap, k, n);
        if (sl_group_record_decode(heap, (int32_t)n, heap, (int32_t)n, &gr) == 0)
            CU_ASSERT_TRUE(gr.key_version >= 0 && gr.key_version <= 2);
        free(heap);
    }
}

/* ------------------------------------------------------------------------ */
/* Java String.hashCode and the partition of a group                         */
/* ------------------------------------------------------------------------ */

/* s[0]*31^(n-1) + ... + s[n-1], in int32 arithmetic that wraps (computed
 * here independently of the implementation, through int64 and a mask) */
static int32_t java_hash_reference(const char *s)
{
    int64_t h = 0;
    for (; *s; s++)
        h = (h * 31 + (unsigned char)*s) & 0xffffffffLL;
    return (int32_t)(uint32_t)h;
}

static int32_t partition_of(const char *s, int32_t nparts)
{
    return (sl_group_java_hash(s, strlen(s)) & 0x7fffffff) % nparts;
}

static void test_java_hash(void)
{
    CU_ASSERT_EQUAL(sl_group_java_hash("", 0), 0);
    CU_ASSERT_EQUAL(sl_group_java_hash("a", 1), 97);
    CU_ASSERT_EQUAL(sl_group_java_hash("hello", 5), 99162322);
    /* "my-group".hashCode() in Java: wraps negative */
    CU_ASSERT_EQUAL(sl_group_java_hash("my-group", 8), -1906497762);
    CU_ASSERT_EQUAL(java_hash_reference("my-group"), -1906497762);
    CU_ASSERT_EQUAL(sl_group_java_hash("console-consumer-12345", 22), 158455506);
    /* len bounds the string, a NUL does not */
    CU_ASSERT_EQUAL(sl_group_java_hash("hello, world", 5), 99162322);

    CU_ASSERT_EQUAL(partition_of("", 50), 0);
    CU_ASSERT_EQUAL(partition_of("a", 50), 47);
    CU_ASSERT_EQUAL(partition_of("hello", 50), 22);
    CU_ASSERT_EQUAL(partition_of("my-group", 50), 36); /* (-1906497762 & 0x7fffffff) % 50 */
    CU_ASSERT_EQUAL(partition_of("console-consumer-12345", 50), 6);

    const char *more[] = {"orders", "sluice-group-with-a-long-name-xyz", "G", "\x7f\x7f\x7f"};
    for (size_t i = 0; i < sizeof(more) / sizeof(more[0]); i++)
        CU_ASSERT_EQUAL(sl_group_java_hash(more[i], strlen(more[i])), java_hash_reference(more[i]));
}

int main(void)
{
    unsigned failures;
    CU_pSuite s;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    s = CU_add_suite("group", NULL, NULL);
    CU_add_test(s, "offset key: Kafka's bytes", test_key_bytes);
    CU_add_test(s, "offset value v3: Kafka's bytes", test_value_bytes);
    CU_add_test(s, "decode hand-written key + value", test_decode_hand_written);
    CU_add_test(s, "decode offset value v1", test_decode_value_v1);
    CU_add_test(s, "decode group metadata key/value", test_decode_group_metadata);
    CU_add_test(s, "encode/decode round trip", test_round_trip);
    CU_add_test(s, "tombstone", test_tombstone);
    CU_add_test(s, "truncated keys and values refused", test_truncated_keys_refused);
    CU_add_test(s, "garbage keys refused", test_garbage_keys_refused);
    CU_add_test(s, "Java String.hashCode and partition", test_java_hash);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    failures = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failures ? 1 : 0;
}
