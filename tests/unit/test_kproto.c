/*
 * test_kproto.c - the Kafka wire reader never reads past its buffer, and the
 * writer round-trips every primitive; the config tables parse and refuse.
 */
#include <CUnit/Basic.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "kproto.h"

static void test_reader_primitives(void)
{
    kw w = {0};
    kr r;
    kw_i8(&w, -5);
    kw_i16(&w, -1234);
    kw_i32(&w, 0x12345678);
    kw_i64(&w, -9876543210LL);
    kw_str(&w, "topic-a");
    kw_str(&w, NULL);
    kw_uvarint(&w, 300);
    kw_cstr(&w, "abc");
    kw_cstr(&w, NULL);
    kr_init(&r, w.buf, w.len);
    CU_ASSERT_EQUAL(kr_i8(&r), -5);
    CU_ASSERT_EQUAL(kr_i16(&r), -1234);
    CU_ASSERT_EQUAL(kr_i32(&r), 0x12345678);
    CU_ASSERT_EQUAL(kr_i64(&r), -9876543210LL);
    kstr s = kr_str(&r);
    CU_ASSERT_TRUE(kstr_eq(s, "topic-a"));
    s = kr_str(&r);
    CU_ASSERT_EQUAL(s.len, -1);
    CU_ASSERT_PTR_NULL(s.s);
    CU_ASSERT_EQUAL(kr_uvarint(&r), 300);
    s = kr_cstr(&r);
    CU_ASSERT_TRUE(kstr_eq(s, "abc"));
    s = kr_cstr(&r);
    CU_ASSERT_EQUAL(s.len, -1);
    CU_ASSERT_EQUAL(r.err, 0);
    CU_ASSERT_EQUAL(kr_left(&r), 0);
    kr_i8(&r); /* past the end: sticky error, zero value */
    CU_ASSERT_EQUAL(r.err, 1);
    CU_ASSERT_EQUAL(kr_i32(&r), 0);
    kw_free(&w);
}

static void test_reader_untrusted_lengths(void)
{
    /* a string claiming 1000 bytes in a 6-byte buffer */
    uint8_t buf[] = {0x03, 0xe8, 'a', 'b', 'c', 'd'};
    kr r;
    kr_init(&r, buf, sizeof(buf));
    kstr s = kr_str(&r);
    CU_ASSERT_EQUAL(r.err, 1);
    CU_ASSERT_EQUAL(s.len, -1);
    /* an array count of 2^31-1 with 4 bytes left */
    uint8_t arr[] = {0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 1};
    kr_init(&r, arr, sizeof(arr));
    CU_ASSERT_EQUAL(kr_array(&r, 4), 0);
    CU_ASSERT_EQUAL(r.err, 1);
    /* a negative array count other than -1 */
    uint8_t neg[] = {0xff, 0xff, 0xff, 0xfe};
    kr_init(&r, neg, sizeof(neg));
    kr_array(&r, 1);
    CU_ASSERT_EQUAL(r.err, 1);
    /* null array is allowed */
    uint8_t nul[] = {0xff, 0xff, 0xff, 0xff};
    kr_init(&r, nul, sizeof(nul));
    CU_ASSERT_EQUAL(kr_array(&r, 1), -1);
    CU_ASSERT_EQUAL(r.err, 0);
    /* bytes longer than the buffer */
    uint8_t by[] = {0, 0, 0x10, 0, 1, 2};
    int32_t len;
    kr_init(&r, by, sizeof(by));
    CU_ASSERT_PTR_NULL(kr_bytes(&r, &len));
    CU_ASSERT_EQUAL(r.err, 1);
    /* an overlong varint (11 continuation bytes) */
    uint8_t vi[12];
    memset(vi, 0xff, sizeof(vi));
    kr_init(&r, vi, sizeof(vi));
    kr_uvarint(&r);
    CU_ASSERT_EQUAL(r.err, 1);
    /* tagged fields whose size runs off the end */
    uint8_t tags[] = {1, 0, 50, 1, 2};
    kr_init(&r, tags, sizeof(tags));
    kr_skip_tags(&r);
    CU_ASSERT_EQUAL(r.err, 1);
}

static void test_kstr_copy(void)
{
    char out[4];
    kstr a = {"abc", 3}, b = {"abcd", 4}, n = {NULL, -1};
    CU_ASSERT_EQUAL(kstr_copy(a, out, sizeof(out)), 0);
    CU_ASSERT_STRING_EQUAL(out, "abc");
    CU_ASSERT_EQUAL(kstr_copy(b, out, sizeof(out)), -1);
    CU_ASSERT_EQUAL(kstr_copy(n, out, sizeof(out)), -1);
}

typedef struct tconf {
    char *name;
    int64_t count;
    int flag;
    int64_t ms;
} tconf;

static const sl_option topts[] = {
    {"name", SL_OPT_STRING, "x", offsetof(tconf, name), "a name", 0, 0, 0},
    {"count", SL_OPT_INT, "3", offsetof(tconf, count), "a count", 1, 10, 0},
    {"flag", SL_OPT_BOOL, "false", offsetof(tconf, flag), "a flag", 0, 0, 0},
    {"t.ms", SL_OPT_INT, "1000", offsetof(tconf, ms), "ms", 0, 0, 0},
    {"t.hours", SL_OPT_MS_HOURS, NULL, offsetof(tconf, ms), "hours", 0, 0, 0},
    {NULL, 0, NULL, 0, NULL, 0, 0, 0},
};

static void test_config(void)
{
    tconf c = {0};
    char err[256];
    CU_ASSERT_EQUAL(sl_config_defaults(topts, &c, err, sizeof(err)), 0);
    CU_ASSERT_STRING_EQUAL(c.name, "x");
    CU_ASSERT_EQUAL(c.count, 3);
    CU_ASSERT_EQUAL(c.flag, 0);
    CU_ASSERT_EQUAL(sl_config_set_kv(topts, &c, "count=7", err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(c.count, 7);
    CU_ASSERT_EQUAL(sl_config_set_kv(topts, &c, "flag=true", err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(c.flag, 1);
    CU_ASSERT_EQUAL(sl_config_set_kv(topts, &c, "t.hours=2", err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(c.ms, 7200000);
    CU_ASSERT_EQUAL(sl_config_set_kv(topts, &c, "count=11", err, sizeof(err)), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "between 1 and 10"));
    CU_ASSERT_EQUAL(sl_config_set_kv(topts, &c, "count=abc", err, sizeof(err)), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "count"));
    CU_ASSERT_EQUAL(sl_config_set_kv(topts, &c, "nope=1", err, sizeof(err)), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "unknown config key 'nope'"));
    CU_ASSERT_EQUAL(sl_config_set_kv(topts, &c, "noequals", err, sizeof(err)), -1);
    CU_ASSERT_EQUAL(c.count, 7); /* a refused value changes nothing */
    char *argv[] = {"x", "--set", "name=y", "--set=count=2", NULL};
    CU_ASSERT_EQUAL(sl_config_parse_args(topts, &c, 4, argv, err, sizeof(err)), 0);
    CU_ASSERT_STRING_EQUAL(c.name, "y");
    CU_ASSERT_EQUAL(c.count, 2);
    char *bad[] = {"x", "--bogus", NULL};
    CU_ASSERT_EQUAL(sl_config_parse_args(topts, &c, 2, bad, err, sizeof(err)), -1);
    sl_config_free(topts, &c);
}

static void test_config_file(void)
{
    tconf c = {0};
    char err[256], path[] = "/tmp/sluice-test-config-XXXXXX";
    int fd = mkstemp(path);
    const char *json = "{\"name\": \"z\", \"count\": 5, \"t\": {\"ms\": 42}, \"flag\": true}";
    CU_ASSERT_TRUE(fd >= 0);
    CU_ASSERT_EQUAL(write(fd, json, strlen(json)), (ssize_t)strlen(json));
    close(fd);
    sl_config_defaults(topts, &c, err, sizeof(err));
    CU_ASSERT_EQUAL(sl_config_load_file(topts, &c, path, err, sizeof(err)), 0);
    CU_ASSERT_STRING_EQUAL(c.name, "z");
    CU_ASSERT_EQUAL(c.count, 5);
    CU_ASSERT_EQUAL(c.ms, 42);
    CU_ASSERT_EQUAL(c.flag, 1);
    fd = open(path, O_WRONLY | O_TRUNC);
    CU_ASSERT_EQUAL(write(fd, "{\"count\": ", 10), 10);
    close(fd);
    CU_ASSERT_EQUAL(sl_config_load_file(topts, &c, path, err, sizeof(err)), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, path));
    unlink(path);
    sl_config_free(topts, &c);
}

int main(void)
{
    CU_pSuite s;
    unsigned failures;
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    s = CU_add_suite("kproto_config", NULL, NULL);
    CU_add_test(s, "reader primitives round trip", test_reader_primitives);
    CU_add_test(s, "reader never trusts lengths", test_reader_untrusted_lengths);
    CU_add_test(s, "kstr copy bounds", test_kstr_copy);
    CU_add_test(s, "config table set/refuse", test_config);
    CU_add_test(s, "config JSON file", test_config_file);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    failures = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failures ? 1 : 0;
}
