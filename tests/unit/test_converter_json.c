/*
 * test_converter_json.c - the json converter (Kafka Connect's JsonConverter
 * format) both ways: a value written with to_bytes reads back through
 * from_bytes to the same Debezium JSON text, with schemas.enable true and
 * false; shapes that change from record to record (a union null in one
 * record and set in the next, a new field) each get their own class; a
 * value given back for reuse is read into in place or replaced, never
 * mixed; malformed messages fail naming what and where.
 */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "converter.h"
#include "sluice/envelope.h"

static const char *SCHEMA =
    "{\"type\":\"record\",\"name\":\"Row\",\"fields\":["
    "{\"name\":\"id\",\"type\":\"long\"},"
    "{\"name\":\"name\",\"type\":[\"null\",\"string\"]},"
    "{\"name\":\"price\",\"type\":\"double\"},"
    "{\"name\":\"tags\",\"type\":{\"type\":\"array\",\"items\":\"string\"}},"
    "{\"name\":\"ok\",\"type\":\"boolean\"}]}";

static avro_schema_t schema;
static avro_value_iface_t *klass;
static char err[1024];

static int setup(void)
{
    if (avro_schema_from_json_length(SCHEMA, strlen(SCHEMA), &schema))
        return 1;
    klass = avro_generic_class_from_schema(schema);
    return klass ? 0 : 1;
}

static int teardown(void)
{
    avro_value_iface_decref(klass);
    avro_schema_decref(schema);
    return 0;
}

static void row(avro_value_t *v, int64_t id, const char *name, double price, int ntags)
{
    avro_value_t f, b, e;
    CU_ASSERT_FATAL(avro_generic_value_new(klass, v) == 0);
    avro_value_get_by_name(v, "id", &f, NULL);
    avro_value_set_long(&f, id);
    avro_value_get_by_name(v, "name", &f, NULL);
    if (name) {
        avro_value_set_branch(&f, 1, &b);
        avro_value_set_string(&b, name);
    } else {
        avro_value_set_branch(&f, 0, &b);
        avro_value_set_null(&b);
    }
    avro_value_get_by_name(v, "price", &f, NULL);
    avro_value_set_double(&f, price);
    avro_value_get_by_name(v, "tags", &f, NULL);
    for (int i = 0; i < ntags; i++) {
        char t[16];
        snprintf(t, sizeof(t), "t%d", i);
        avro_value_append(&f, &e, NULL);
        avro_value_set_string(&e, t);
    }
    avro_value_get_by_name(v, "ok", &f, NULL);
    avro_value_set_boolean(&f, (int)(id & 1));
}

static char *text_of(const avro_value_t *v)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;
    CU_ASSERT(sluice_value_json_append(v, &buf, &len, &cap) == 0);
    return buf;
}

static sl_converter *conv(const char *schemas_enable)
{
    json_t *cfg = json_pack("{s:s}", "value.converter.schemas.enable", schemas_enable);
    sl_converter *c = sl_converter_create("json", 0, cfg, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    json_decref(cfg);
    return c;
}

/* Writes each row, reads it back into one reused slot: the same text. */
static void round_trip(const char *schemas_enable)
{
    sl_converter *to = conv(schemas_enable), *from = conv(schemas_enable);
    avro_value_t slot = {NULL, NULL};
    static const struct {
        int64_t id;
        const char *name;
        double price;
        int ntags;
    } rows[] = {{1, "alpha", 9.5, 2}, {2, NULL, 0.0, 0}, {3, "g\xc3\xa9 \"q\"\n", -1e-7, 3},
                {4, NULL, 5.0, 1},    {5, "e", 1e22, 0}};
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        avro_value_t v;
        row(&v, rows[i].id, rows[i].name, rows[i].price, rows[i].ntags);
        void *bytes = NULL;
        size_t len = 0;
        CU_ASSERT_FATAL(sl_converter_to_bytes(to, "t", schema, &v, &bytes, &len, err,
                                              sizeof(err)) == 0);
        CU_ASSERT(sl_converter_from_bytes(from, "t", bytes, len, &slot, err, sizeof(err)) == 0);
        char *want = text_of(&v), *got = slot.iface ? text_of(&slot) : strdup("(none)");
        CU_ASSERT_STRING_EQUAL(got, want);
        if (strcmp(got, want))
            fprintf(stderr, "\nschemas.enable=%s row %zu: got %s want %s\n", schemas_enable, i,
                    got, want);
        free(want);
        free(got);
        avro_value_decref(&v); /* bytes belong to the converter */
    }
    /* a tombstone releases the slot */
    CU_ASSERT(sl_converter_from_bytes(from, "t", NULL, 0, &slot, err, sizeof(err)) == 0);
    CU_ASSERT_PTR_NULL(slot.iface);
    sl_converter_destroy(to);
    sl_converter_destroy(from);
}

static void test_round_trip_schemas(void)
{
    round_trip("true");
}

static void test_round_trip_schemaless(void)
{
    round_trip("false");
}

/* Schemaless payloads of different shapes, read into one reused slot. */
static void test_changing_shapes(void)
{
    sl_converter *c = conv("false");
    const char *msgs[] = {
        "{\"a\":1,\"b\":null}",       "{\"a\":2,\"b\":{\"x\":true}}", "{\"a\":3,\"b\":null}",
        "{\"a\":4,\"b\":null,\"c\":\"new\"}", "{\"a\":5.5,\"b\":null}", "[1,2,3]",
        "\"just a string\"",          "{\"a\":6,\"b\":{\"x\":false}}"};
    const char *want[] = {"{\"a\":1,\"b\":null}",       "{\"a\":2,\"b\":{\"x\":true}}",
                          "{\"a\":3,\"b\":null}",       "{\"a\":4,\"b\":null,\"c\":\"new\"}",
                          "{\"a\":5.5,\"b\":null}",     "[1,2,3]",
                          "\"just a string\"",          "{\"a\":6,\"b\":{\"x\":false}}"};
    avro_value_t slot = {NULL, NULL};
    for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
        CU_ASSERT(sl_converter_from_bytes(c, "t", msgs[i], strlen(msgs[i]), &slot, err,
                                          sizeof(err)) == 0);
        char *got = text_of(&slot);
        CU_ASSERT_STRING_EQUAL(got, want[i]);
        if (strcmp(got, want[i]))
            fprintf(stderr, "\nshape %zu: got %s want %s\n", i, got, want[i]);
        free(got);
    }
    avro_value_decref(&slot);
    sl_converter_destroy(c);
}

static void test_errors(void)
{
    sl_converter *c = conv("true");
    avro_value_t slot = {NULL, NULL};
    const char *good = "{\"a\":1}";
    CU_ASSERT(sl_converter_from_bytes(c, "orders", good, strlen(good), &slot, err,
                                      sizeof(err)) == 0);
    const char *bad = "{\"a\":1,";
    CU_ASSERT(sl_converter_from_bytes(c, "orders", bad, strlen(bad), &slot, err, sizeof(err)) ==
              -1);
    CU_ASSERT_PTR_NULL(slot.iface); /* the slot given back was released */
    CU_ASSERT(strstr(err, "topic orders: value is not JSON") != NULL);
    const char *mismatch = "{\"schema\":{\"type\":\"struct\",\"fields\":[{\"field\":\"n\","
                           "\"type\":\"int64\"}],\"optional\":false},\"payload\":{\"n\":\"x\"}}";
    CU_ASSERT(sl_converter_from_bytes(c, "orders", mismatch, strlen(mismatch), &slot, err,
                                      sizeof(err)) == -1);
    CU_ASSERT_PTR_NULL(slot.iface);
    CU_ASSERT(strstr(err, "topic orders: value: field '") && strstr(err, "does not match its schema"));
    sl_converter_destroy(c);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("converter_json", setup, teardown);
    CU_add_test(s, "round trip, schemas.enable=true", test_round_trip_schemas);
    CU_add_test(s, "round trip, schemas.enable=false", test_round_trip_schemaless);
    CU_add_test(s, "changing shapes into one reused slot", test_changing_shapes);
    CU_add_test(s, "malformed messages", test_errors);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
