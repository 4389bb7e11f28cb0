/*
 * test_json_text.c - the JSON text writer (sluice_value_json_append, used by
 * the json converter and the file and S3 sinks on their hot paths) against
 * its definition: the same bytes as json_dumps(sluice_value_to_json(v),
 * JSON_COMPACT) for every Avro type, and the same refusals (invalid UTF-8,
 * NaN and infinities) leaving the buffer as it was.
 */
#include <CUnit/Basic.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/envelope.h"

/* The writer's text for v, appended after a prefix that must survive. */
static char *written(const avro_value_t *v, int *rc)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;
    CU_ASSERT_FATAL(sluice_json_append_raw("[", 1, &buf, &len, &cap) == 0);
    *rc = sluice_value_json_append(v, &buf, &len, &cap);
    CU_ASSERT(len < cap && buf[len] == 0);
    CU_ASSERT(buf[0] == '[');
    char *out = strdup(buf + 1);
    free(buf);
    return out;
}

/* Both forms of v agree: same text, or both refuse (and the writer leaves
 * nothing behind). */
static void agree(const avro_value_t *v, const char *what)
{
    int rc;
    char *text = written(v, &rc);
    json_t *tree = sluice_value_to_json(v);
    char *want = tree ? json_dumps(tree, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    if (!want) {
        CU_ASSERT(rc == -1);
        CU_ASSERT_STRING_EQUAL(text, "");
    } else {
        CU_ASSERT(rc == 0);
        CU_ASSERT_STRING_EQUAL(text, want);
        if (strcmp(text, want))
            fprintf(stderr, "\n%s: writer %s, jansson %s\n", what, text, want);
    }
    free(want);
    json_decref(tree);
    free(text);
}

static avro_schema_t schema_of(const char *json)
{
    avro_schema_t s = NULL;
    CU_ASSERT_FATAL(avro_schema_from_json_length(json, strlen(json), &s) == 0);
    return s;
}

/* One value of a primitive schema, set by fill, checked, released. */
#define WITH_VALUE(schema_json, v, fill, what)                                                    \
    do {                                                                                          \
        avro_schema_t s_ = schema_of(schema_json);                                                \
        avro_value_iface_t *c_ = avro_generic_class_from_schema(s_);                              \
        avro_value_t v;                                                                           \
        CU_ASSERT_FATAL(avro_generic_value_new(c_, &v) == 0);                                     \
        fill;                                                                                     \
        agree(&v, what);                                                                          \
        avro_value_decref(&v);                                                                    \
        avro_value_iface_decref(c_);                                                              \
        avro_schema_decref(s_);                                                                   \
    } while (0)

static void test_strings(void)
{
    static const struct {
        const char *s;
        size_t n;
    } cases[] = {
        {"", 0},
        {"plain", 5},
        {"exactly8", 8},
        {"a longer run of ascii text past eight bytes", 43},
        {"quote\" back\\slash /", 19},
        {"\n\r\t\b\f", 5},
        {"\x01\x1f\x7f", 3},
        {"nul\0inside", 10},
        {"h\xc3\xa9llo \xe2\x82\xac \xf0\x9d\x84\x9e", 15},           /* é € U+1D11E */
        {"12345678\xc3\xa9", 10},                                     /* multibyte after a run */
        {"\xc3\x28", 2},                                              /* bad continuation */
        {"\xc0\xaf", 2},                                              /* overlong */
        {"\xed\xa0\x80", 3},                                          /* surrogate */
        {"\xf4\x90\x80\x80", 4},                                      /* above U+10FFFF */
        {"abcdefgh\xe2\x82", 10},                                     /* cut short */
        {"\xff", 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char what[32];
        snprintf(what, sizeof(what), "string case %zu", i);
        WITH_VALUE("\"string\"", v, avro_value_set_string_len(&v, cases[i].s, cases[i].n + 1),
                   what);
    }
}

static void test_numbers(void)
{
    static const double doubles[] = {0.0, -0.0, 1.0, -5.0, 0.1, 96836.95, 1e22, 1e15, 1e16,
                                     999999999999999.0, -999999999999999.0, 1e-7, 2.5e-300,
                                     9007199254740992.0, 123456789012345678.0, DBL_MAX, DBL_MIN,
                                     -DBL_MAX, 4.9e-324, NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < sizeof(doubles) / sizeof(doubles[0]); i++) {
        char what[48];
        snprintf(what, sizeof(what), "double %.17g", doubles[i]);
        WITH_VALUE("\"double\"", v, avro_value_set_double(&v, doubles[i]), what);
        WITH_VALUE("\"float\"", v, avro_value_set_float(&v, (float)doubles[i]), what);
    }
    static const int64_t longs[] = {0, 1, -1, INT64_MAX, INT64_MIN, 1700000000000LL};
    for (size_t i = 0; i < sizeof(longs) / sizeof(longs[0]); i++) {
        WITH_VALUE("\"long\"", v, avro_value_set_long(&v, longs[i]), "long");
        WITH_VALUE("\"int\"", v, avro_value_set_int(&v, (int32_t)longs[i]), "int");
    }
    WITH_VALUE("\"boolean\"", v, avro_value_set_boolean(&v, 1), "true");
    WITH_VALUE("\"boolean\"", v, avro_value_set_boolean(&v, 0), "false");
    WITH_VALUE("\"null\"", v, avro_value_set_null(&v), "null");
}

static void test_bytes(void)
{
    unsigned char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    for (size_t n = 0; n <= 5; n++) /* every base64 padding */
        WITH_VALUE("\"bytes\"", v, avro_value_set_bytes(&v, all, n), "bytes");
    WITH_VALUE("\"bytes\"", v, avro_value_set_bytes(&v, all, sizeof(all)), "bytes 256");
    WITH_VALUE("{\"type\":\"fixed\",\"name\":\"F\",\"size\":4}", v,
               avro_value_set_fixed(&v, all + 250, 4), "fixed");
}

static void test_compound(void)
{
    const char *schema =
        "{\"type\":\"record\",\"name\":\"R\",\"fields\":["
        "{\"name\":\"id\",\"type\":\"long\"},"
        "{\"name\":\"name\",\"type\":[\"null\",\"string\"]},"
        "{\"name\":\"color\",\"type\":{\"type\":\"enum\",\"name\":\"C\",\"symbols\":[\"RED\",\"GREEN\"]}},"
        "{\"name\":\"tags\",\"type\":{\"type\":\"array\",\"items\":\"string\"}},"
        "{\"name\":\"attrs\",\"type\":{\"type\":\"map\",\"values\":\"double\"}},"
        "{\"name\":\"inner\",\"type\":[\"null\",{\"type\":\"record\",\"name\":\"I\",\"fields\":["
        "{\"name\":\"x\",\"type\":\"int\"}]}]}]}";
    avro_schema_t s = schema_of(schema);
    avro_value_iface_t *c = avro_generic_class_from_schema(s);
    avro_value_t v, f, b, e;
    CU_ASSERT_FATAL(avro_generic_value_new(c, &v) == 0);
    avro_value_get_by_index(&v, 0, &f, NULL);
    avro_value_set_long(&f, 42);
    avro_value_get_by_index(&v, 1, &f, NULL);
    avro_value_set_branch(&f, 0, &b); /* null */
    avro_value_get_by_index(&v, 2, &f, NULL);
    avro_value_set_enum(&f, 1);
    avro_value_get_by_index(&v, 4, &f, NULL);
    agree(&v, "record, empty array and map, null branches");

    avro_value_get_by_index(&v, 1, &f, NULL);
    avro_value_set_branch(&f, 1, &b);
    avro_value_set_string(&b, "caf\xc3\xa9\n");
    avro_value_get_by_index(&v, 3, &f, NULL);
    avro_value_append(&f, &e, NULL);
    avro_value_set_string(&e, "a");
    avro_value_append(&f, &e, NULL);
    avro_value_set_string(&e, "b\"");
    avro_value_get_by_index(&v, 4, &f, NULL);
    avro_value_add(&f, "k\\1", &e, NULL, NULL);
    avro_value_set_double(&e, 1.5);
    avro_value_add(&f, "k2", &e, NULL, NULL);
    avro_value_set_double(&e, 3.0);
    avro_value_get_by_index(&v, 5, &f, NULL);
    avro_value_set_branch(&f, 1, &b);
    avro_value_get_by_index(&b, 0, &e, NULL);
    avro_value_set_int(&e, -7);
    agree(&v, "record, filled");

    avro_value_get_by_index(&v, 4, &f, NULL); /* NaN deep inside: all refused */
    avro_value_add(&f, "bad", &e, NULL, NULL);
    avro_value_set_double(&e, NAN);
    agree(&v, "record holding NaN");

    avro_value_decref(&v);
    avro_value_iface_decref(c);
    avro_schema_decref(s);
}

/* NULL writes null; the string/int/base64 helpers as jansson. */
static void test_helpers(void)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;
    CU_ASSERT(sluice_value_json_append(NULL, &buf, &len, &cap) == 0);
    CU_ASSERT(sluice_json_append_raw(",", 1, &buf, &len, &cap) == 0);
    CU_ASSERT(sluice_json_append_string("t\"ab\tle", &buf, &len, &cap) == 0);
    CU_ASSERT(sluice_json_append_raw(",", 1, &buf, &len, &cap) == 0);
    CU_ASSERT(sluice_json_append_int(-9223372036854775807LL - 1, &buf, &len, &cap) == 0);
    CU_ASSERT(sluice_json_append_raw(",", 1, &buf, &len, &cap) == 0);
    CU_ASSERT(sluice_json_append_base64("\xff\x00\x10", 3, &buf, &len, &cap) == 0);
    CU_ASSERT_STRING_EQUAL(buf, "null,\"t\\\"ab\\tle\",-9223372036854775808,\"/wAQ\"");
    CU_ASSERT(len == strlen(buf));
    free(buf);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("json_text", NULL, NULL);
    CU_add_test(s, "strings, escapes and UTF-8", test_strings);
    CU_add_test(s, "numbers", test_numbers);
    CU_add_test(s, "bytes and fixed", test_bytes);
    CU_add_test(s, "records, unions, enums, arrays, maps", test_compound);
    CU_add_test(s, "helpers", test_helpers);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
