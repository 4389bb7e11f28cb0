/*
 * test_converter_json.c - the json converter (Kafka Connect's JsonConverter
 * format) both ways: a value written with to_bytes reads back through
 * from_bytes to the same Debezium JSON text, with schemas.enable true and
 * false; shapes that change from record to record (a union null in one
 * record and set in the next, a new field) each get their own class; a
 * value given back for reuse is read into in place or replaced, never
 * mixed; malformed messages fail naming what and where. The one-pass
 * reader (json_plan.c) and the jansson tree path give the same value or
 * the same error on every message: edge cases, generated schemas and
 * values, and broken copies of them; to_bytes writes exactly
 * sluice_value_json_append's text. Last, ns per record each way on the
 * bench's row (BENCH_CONVERTER_N records; 20000 by default).
 */
#include <CUnit/Basic.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* ---- the one-pass reader against the tree path --------------------------
 * A converter reads its first message of a class through jansson's tree
 * (nothing cached yet); later ones of that class through the reader. So a
 * fresh converter per message gives the tree path's answer, and a converter
 * fed a stream gives the reader's: both must agree on every message, the
 * value (types, names, union branches, bit-exact numbers) or the error. */

/* Same type tree and same data; record and field names included. */
static int same_value(const avro_value_t *a, const avro_value_t *b)
{
    avro_type_t t = avro_value_get_type(a);
    if (t != avro_value_get_type(b))
        return 0;
    size_t na = 0, nb = 0;
    switch (t) {
    case AVRO_NULL: return 1;
    case AVRO_BOOLEAN: case AVRO_INT32: {
        int32_t x = 0, y = 0;
        if (t == AVRO_BOOLEAN)
            return !avro_value_get_boolean(a, &x) && !avro_value_get_boolean(b, &y) && x == y;
        return !avro_value_get_int(a, &x) && !avro_value_get_int(b, &y) && x == y;
    }
    case AVRO_INT64: {
        int64_t x = 0, y = 0;
        return !avro_value_get_long(a, &x) && !avro_value_get_long(b, &y) && x == y;
    }
    case AVRO_FLOAT: {
        float x = 0, y = 0;
        return !avro_value_get_float(a, &x) && !avro_value_get_float(b, &y) && !memcmp(&x, &y, 4);
    }
    case AVRO_DOUBLE: {
        double x = 0, y = 0;
        return !avro_value_get_double(a, &x) && !avro_value_get_double(b, &y) && !memcmp(&x, &y, 8);
    }
    case AVRO_STRING: case AVRO_BYTES: {
        const void *x = NULL, *y = NULL;
        if (t == AVRO_STRING) {
            const char *xs = NULL, *ys = NULL;
            avro_value_get_string(a, &xs, &na);
            avro_value_get_string(b, &ys, &nb);
            x = xs, y = ys;
        } else {
            avro_value_get_bytes(a, &x, &na);
            avro_value_get_bytes(b, &y, &nb);
        }
        return na == nb && (!na || !memcmp(x, y, na));
    }
    case AVRO_UNION: {
        int32_t da = -2, db = -3;
        avro_value_t ba, bb;
        avro_value_get_discriminant(a, &da);
        avro_value_get_discriminant(b, &db);
        if (da != db)
            return 0;
        return da < 0 || (!avro_value_get_current_branch(a, &ba) &&
                          !avro_value_get_current_branch(b, &bb) && same_value(&ba, &bb));
    }
    case AVRO_RECORD: case AVRO_ARRAY: case AVRO_MAP:
        avro_value_get_size(a, &na);
        avro_value_get_size(b, &nb);
        if (na != nb)
            return 0;
        for (size_t i = 0; i < na; i++) {
            avro_value_t ca, cb;
            const char *ka = NULL, *kb = NULL;
            if (avro_value_get_by_index(a, i, &ca, &ka) || avro_value_get_by_index(b, i, &cb, &kb))
                return 0;
            if ((ka || kb) && (!ka || !kb || strcmp(ka, kb)))
                return 0;
            if (!same_value(&ca, &cb))
                return 0;
        }
        return 1;
    default: return 0;
    }
}

static sl_peeked last_peek; /* agree()'s peek of its message, when it took it */
static int peeks;

/* Reads msg with the streaming converter (into its reused slot) and with a
 * fresh one: the same answer. The streaming one peeks first, as a sink
 * taking raw values does: a peek may take only a message reading takes,
 * as the class reading uses, its text within the message. Returns the
 * streaming rc. */
static int agree(sl_converter *stream, const char *schemas_enable, avro_value_t *slot,
                 const char *msg, size_t len, const char *label)
{
    char err2[1024];
    sl_converter *fresh = conv(schemas_enable);
    avro_value_t tree = {NULL, NULL};
    sl_peeked pk;
    err[0] = err2[0] = 0;
    int prc = sl_converter_peek(stream, "t", msg, len, &pk, err2, sizeof(err2));
    int rc = sl_converter_from_bytes(stream, "t", msg, len, slot, err, sizeof(err));
    int rc2 = sl_converter_from_bytes(fresh, "t", msg, len, &tree, err2, sizeof(err2));
    int took = prc == 0 && pk.data;
    CU_ASSERT(prc == 1 || prc == 0);
    CU_ASSERT(!took || (rc == 0 && slot->iface && pk.json && !pk.plan &&
                        pk.schema == avro_value_get_schema(slot) && pk.data >= (const void *)msg &&
                        (const char *)pk.data + pk.len <= msg + len &&
                        !memchr(pk.data, '\n', pk.len)));
    last_peek = took ? pk : (sl_peeked){0};
    peeks += took;
    sl_converter_retire(stream);
    int ok = rc == rc2 && !strcmp(err, err2) && (slot->iface == NULL) == (tree.iface == NULL) &&
             (!slot->iface || same_value(slot, &tree));
    CU_ASSERT(ok);
    if (!ok)
        fprintf(stderr, "\n%s: schemas.enable=%s message %.*s\n  stream rc %d (%s), tree rc %d (%s)\n",
                label, schemas_enable, (int)(len > 300 ? 300 : len), msg, rc, err, rc2, err2);
    if (tree.iface)
        avro_value_decref(&tree);
    sl_converter_destroy(fresh);
    return rc;
}

/* Each case after a primer of the class it is closest to, so the stream
 * converter has that class cached and its reader gets the case. */
static void test_reader_cases(void)
{
    static const char *S = "{\"schema\":{\"type\":\"struct\",\"fields\":["
                           "{\"field\":\"a\",\"type\":\"int64\",\"optional\":false},"
                           "{\"field\":\"b\",\"type\":\"string\",\"optional\":true},"
                           "{\"field\":\"c\",\"type\":\"array\",\"items\":{\"type\":\"double\"}},"
                           "{\"field\":\"m\",\"type\":\"map\",\"keys\":{\"type\":\"string\"},"
                           "\"values\":{\"type\":\"int32\"},\"optional\":true},"
                           "{\"field\":\"y\",\"type\":\"bytes\",\"optional\":true}],"
                           "\"optional\":false},\"payload\":";
    static const struct {
        const char *schemas_enable, *primer, *msg; /* msg after S when it starts with '+' */
    } cases[] = {
        {"false", "{\"a\":1,\"b\":\"x\"}", "{\"a\":2,\"b\":\"y\"}"},
        {"false", "{\"a\":1,\"b\":\"x\"}", "{\"b\":\"y\",\"a\":2}"},
        {"false", "{\"a\":1,\"b\":\"x\"}", "{\"a\":1,\"a\":2,\"b\":\"x\"}"},
        {"false", "{\"a\":1,\"b\":\"x\"}", "{\"a\":1,\"b\":\"x\",\"c\":3}"},
        {"false", "{\"a\":1,\"b\":\"x\"}", "{\"a\":1}"},
        {"false", "{\"a\":1,\"b\":\"x\"}", "{\"a\":1.5,\"b\":\"x\"}"},
        {"false", "{\"a\":1,\"b\":\"x\"}", "{\"a\":1,\"b\":null}"},
        {"false", "{\"a\":1,\"b\":null}", "{\"a\":1,\"b\":\"x\"}"},
        {"false", "{\"a\":1,\"b\":\"x\"}", " {\"a\":1 , \"b\" : \"x\"}\r\n\t"},
        {"false", "{\"a\":1,\"b\":\"x\"}", "{\"a\":1,\"b\":\"x\"} x"},
        {"false", "{\"a\":1,\"b\":\"x\"}", "{\"a\":1,\"b\":\"x\"}{}"},
        {"false", "{\"a\":1,\"b\":\"x\"}", "{\"a\":1,\"b\":\"x\""},
        {"false", "{\"a\":1,\"b\":\"x\"}", "{\"a\":1,\"b\":\"x}"},
        {"false", "{\"a\":1,\"b\":\"x\"}", "{\"a\":1,\"b\":\"\\x\"}"},
        {"false", "{\"a\":1,\"b\":\"x\"}", "{\"a\":1,\"b\":\"\\u00e9\\/\\\"\\\\\\b\\f\\n\\r\\t\"}"},
        {"false", "{\"a\":1,\"b\":\"x\"}", "{\"a\":1,\"b\":\"\\ud83d\\ude00 \\uD83D\\uDE00\"}"},
        {"false", "{\"a\":1,\"b\":\"x\"}", "{\"a\":1,\"b\":\"\\ud83d\"}"},
        {"false", "{\"a\":1,\"b\":\"x\"}", "{\"a\":1,\"b\":\"\\ude00\"}"},
        {"false", "{\"a\":1,\"b\":\"x\"}", "{\"a\":1,\"b\":\"\\ud83dx\"}"},
        {"false", "{\"a\":1,\"b\":\"x\"}", "{\"a\":1,\"b\":\"\\u0000\"}"},
        {"false", "{\"a\":1,\"b\":\"x\"}", "{\"a\":1,\"b\":\"\\u12g4\"}"},
        {"false", "{\"a\":1,\"b\":\"x\"}", "{\"a\":1,\"b\":\"a\nb\"}"},
        {"false", "{\"a\":1,\"b\":\"x\"}", "{\"a\":1,\"b\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}"},
        {"false", "{\"a\":1,\"b\":\"x\"}", "{\"a\":1,\"b\":\"\xc3\"}"},
        {"false", "{\"a\":1,\"b\":\"x\"}", "{\"a\":1,\"b\":\"\xc0\xaf\"}"},
        {"false", "{\"a\":1,\"b\":\"x\"}", "{\"a\":1,\"b\":\"\xed\xa0\x80\"}"},
        {"false", "{\"a\":1,\"b\":\"x\"}", "{\"a\":1,\"b\":\"\xf4\x90\x80\x80\"}"},
        {"false", "{\"a\":1,\"b\":\"x\"}", "{\"a\":1,\"b\":\"\xff\"}"},
        {"false", "{\"a\":1,\"b\":\"x\"}", "{\"a\":1,\"\\u0062\":\"x\"}"},
        {"false", "{\"a\":1}", "{\"a\":9223372036854775807}"},
        {"false", "{\"a\":1}", "{\"a\":-9223372036854775808}"},
        {"false", "{\"a\":1}", "{\"a\":9223372036854775808}"},
        {"false", "{\"a\":1}", "{\"a\":-9223372036854775809}"},
        {"false", "{\"a\":1}", "{\"a\":123456789012345678901234}"},
        {"false", "{\"a\":1}", "{\"a\":-0}"},
        {"false", "{\"a\":1}", "{\"a\":01}"},
        {"false", "{\"a\":1}", "{\"a\":-}"},
        {"false", "{\"a\":1}", "{\"a\":+1}"},
        {"false", "{\"a\":1}", "{\"a\":1x}"},
        {"false", "{\"a\":1.5}", "{\"a\":-0.0}"},
        {"false", "{\"a\":1.5}", "{\"a\":1.}"},
        {"false", "{\"a\":1.5}", "{\"a\":.5}"},
        {"false", "{\"a\":1.5}", "{\"a\":1e}"},
        {"false", "{\"a\":1.5}", "{\"a\":1e400}"},
        {"false", "{\"a\":1.5}", "{\"a\":-1e400}"},
        {"false", "{\"a\":1.5}", "{\"a\":1e-400}"},
        {"false", "{\"a\":1.5}", "{\"a\":4.9406564584124654e-324}"},
        {"false", "{\"a\":1.5}", "{\"a\":1.7976931348623157e308}"},
        {"false", "{\"a\":1.5}", "{\"a\":0.1}"},
        {"false", "{\"a\":1.5}", "{\"a\":1E22}"},
        {"false", "{\"a\":1.5}", "{\"a\":1e23}"},
        {"false", "{\"a\":1.5}", "{\"a\":1.3500000000000001}"},
        {"false", "{\"a\":1.5}", "{\"a\":9007199254740993.0}"},
        {"false", "{\"a\":1.5}", "{\"a\":123456789012345678901234567890.123456789e-5}"},
        {"false", "{\"a\":1.5}", "{\"a\":0.000000000000000000000000000001e+10}"},
        {"false", "{\"a\":1.5}", "{\"a\":2.5e-0000000000000000000000000001}"},
        {"false", "{\"a\":true}", "{\"a\":false}"},
        {"false", "{\"a\":true}", "{\"a\":tru}"},
        {"false", "{\"a\":true}", "{\"a\":truex}"},
        {"false", "{\"a\":null}", "{\"a\":nul}"},
        {"false", "{\"a\":[1,2]}", "{\"a\":[3,4,5]}"},
        {"false", "{\"a\":[1,2]}", "{\"a\":[3,4.5]}"},
        {"false", "{\"a\":[1,2]}", "{\"a\":[]}"},
        {"false", "{\"a\":[]}", "{\"a\":[]}"},
        {"false", "{\"a\":[]}", "{\"a\":[\"s\"]}"},
        {"false", "{\"a\":[1,2]}", "{\"a\":[1,2,]}"},
        {"false", "{\"a\":[1,2]}", "{\"a\":[1 2]}"},
        {"false", "{\"a\":[null,\"x\"]}", "{\"a\":[null,\"y\",null]}"},
        {"false", "{\"a\":[{\"k\":1}]}", "{\"a\":[{\"k\":2},{\"k\":3,\"z\":[1,{\"q\":\"\\u00e9\"}]}]}"},
        {"false", "{\"a\":[{\"k\":1}]}", "{\"a\":[{\"k\":2},{\"z\":1}]}"},
        {"false", "{\"a\":[{\"k\":1}]}", "{\"a\":[{\"k\":2},{\"k\":3,\"k\":4}]}"},
        {"false", "{\"a\":[{\"k\":1}]}", "{\"a\":[{\"k\":2},{\"k\":3,\"z\":[1,}]}"},
        {"false", "{\"a\":{\"b\":{\"c\":[[1]]}}}", "{\"a\":{\"b\":{\"c\":[[2,3],[4]]}}}"},
        {"false", "{\"a\":1}", "null"},
        {"false", "{\"a\":1}", ""},
        {"false", "{\"a\":1}", "   "},
        {"false", "\"s\"", "\"t\""},
        {"false", "12", "13"},
        {"false", "12", "13 14"},
        {"false", "[1]", "[2,3]"},
        {"true", "{\"a\":1}", "{\"a\":2}"},
        {"true", "{\"a\":1}", "{\"schema\":null,\"payload\":{\"a\":3}}"},
        {"true", "{\"schema\":null,\"payload\":{\"a\":3}}", "{\"schema\":null,\"payload\":{\"a\":4}}"},
        {"true", "{\"schema\":null,\"payload\":{\"a\":3}}", "{\"schema\":null,\"payload\":null}"},
        {"true", "{\"schema\":null,\"payload\":{\"a\":3}}", "{\"payload\":{\"a\":3},\"schema\":null}"},
        {"true", "{\"a\":1}", "{\"schema\":1,\"a\":3}"},
        {"true", "+{\"a\":1,\"b\":\"x\",\"c\":[1.5],\"m\":{\"k\":1},\"y\":\"AAE=\"}}",
         "+{\"a\":2,\"b\":null,\"c\":[],\"m\":{},\"y\":null}}"},
        {"true", "+{\"a\":1,\"c\":[1]}}", "+{\"a\":2,\"c\":[2,3.5]}}"},
        {"true", "+{\"a\":1,\"c\":[1]}}", "+{\"c\":[2],\"a\":3}}"},
        {"true", "+{\"a\":1,\"c\":[1]}}", "+{\"a\":3,\"zz\":{\"q\":[1,2,{}]},\"c\":[2]}}"},
        {"true", "+{\"a\":1,\"c\":[1]}}", "+{\"a\":3,\"zz\":{\"q\":[1,2,{]},\"c\":[2]}}"},
        {"true", "+{\"a\":1,\"c\":[1]}}", "+{\"a\":3}}"},
        {"true", "+{\"a\":1,\"c\":[1]}}", "+{\"a\":3,\"c\":[1],\"a\":4}}"},
        {"true", "+{\"a\":1,\"c\":[1]}}", "+{\"a\":\"3\",\"c\":[1]}}"},
        {"true", "+{\"a\":1,\"c\":[1]}}", "+{\"a\":3,\"c\":[1],\"m\":{\"k\":1,\"k\":2}}}"},
        {"true", "+{\"a\":1,\"c\":[1]}}", "+{\"a\":3,\"c\":[1],\"m\":{\"k\":1.5}}}"},
        {"true", "+{\"a\":1,\"c\":[1]}}", "+{\"a\":3,\"c\":[1],\"m\":{\"k\":3000000000}}}"},
        {"true", "+{\"a\":1,\"c\":[1]}}", "+{\"a\":3,\"c\":[1],\"y\":\"A-_=x\"}}"},
        {"true", "+{\"a\":1,\"c\":[1]}}", "+{\"a\":3,\"c\":[1],\"y\":\"A*\"}}"},
        {"true", "+{\"a\":1,\"c\":[1]}}", "+null}"},
        {"true", "+{\"a\":1,\"c\":[1]}}", "+{\"a\":3,\"c\":[1]},\"x\":1}"},
        {"true", "+{\"a\":1,\"c\":[1]}}", "+{\"a\":3,\"c\":[1]}} "},
        {"true", "+{\"a\":1,\"c\":[1]}}", "+{\"a\":3,\"c\":[1]}}}"},
        {"true", "+{\"a\":1,\"c\":[1]}}", "+{\"a\":3,\"c\":[1]}"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sl_converter *stream = conv(cases[i].schemas_enable);
        avro_value_t slot = {NULL, NULL};
        char primer[2048], msg[2048], label[32];
        snprintf(primer, sizeof(primer), "%s%s", cases[i].primer[0] == '+' ? S : "",
                 cases[i].primer + (cases[i].primer[0] == '+'));
        snprintf(msg, sizeof(msg), "%s%s", cases[i].msg[0] == '+' ? S : "",
                 cases[i].msg + (cases[i].msg[0] == '+'));
        snprintf(label, sizeof(label), "case %zu", i);
        CU_ASSERT(agree(stream, cases[i].schemas_enable, &slot, primer, strlen(primer), label) == 0);
        agree(stream, cases[i].schemas_enable, &slot, msg, strlen(msg), label);
        agree(stream, cases[i].schemas_enable, &slot, primer, strlen(primer), label); /* and back */
        if (slot.iface)
            avro_value_decref(&slot);
        sl_converter_destroy(stream);
    }
}

/* ---- generated schemas and values -------------------------------------- */
static uint64_t rng = 0x9e3779b97f4a7c15ull;

static unsigned rnd(unsigned n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

/* names[0]: records named so far; a record already complete may be used
 * again by name (avro-c makes that a link). */
static unsigned done[64], ndone;

static void gen_type(char *out, size_t cap, int depth, unsigned *names)
{
    static const char *prims[] = {"\"long\"", "\"int\"",    "\"double\"", "\"float\"",
                                  "\"boolean\"", "\"string\"", "\"bytes\""};
    unsigned k = rnd(depth > 2 ? 9 : 14);
    char inner[4096];
    if (k < 7) {
        snprintf(out, cap, "%s", prims[k]);
    } else if (k == 7) {
        snprintf(out, cap, "{\"type\":\"enum\",\"name\":\"E%u\",\"symbols\":[\"A\",\"B\",\"C\"]}",
                 (*names)++);
    } else if (k == 8) {
        snprintf(out, cap, "{\"type\":\"fixed\",\"name\":\"F%u\",\"size\":3}", (*names)++);
    } else if (k == 9 && ndone) {
        snprintf(out, cap, "\"R%u\"", done[rnd(ndone)]);
    } else if (k == 9 || k == 10) {
        gen_type(inner, sizeof(inner), depth + 1, names);
        if (inner[0] == '[') /* no union in a union */
            snprintf(out, cap, "%s", inner);
        else
            snprintf(out, cap, "[\"null\",%s]", inner);
    } else if (k == 11) {
        gen_type(inner, sizeof(inner), depth + 1, names);
        snprintf(out, cap, "{\"type\":\"array\",\"items\":%s}", inner);
    } else if (k == 12) {
        gen_type(inner, sizeof(inner), depth + 1, names);
        snprintf(out, cap, "{\"type\":\"map\",\"values\":%s}", inner);
    } else {
        size_t n = 1 + rnd(4), len = 0; /* (a record of no fields reads back as no value) */
        unsigned me = (*names)++;
        len += (size_t)snprintf(out + len, cap - len, "{\"type\":\"record\",\"name\":\"R%u\",\"fields\":[",
                                me);
        for (size_t i = 0; i < n && len < cap; i++) {
            gen_type(inner, sizeof(inner), depth + 1, names);
            len += (size_t)snprintf(out + len, cap - len, "%s{\"name\":\"f%zu\",\"type\":%s}",
                                    i ? "," : "", i, inner);
        }
        if (len < cap)
            snprintf(out + len, cap - len, "]}");
        if (ndone < 64)
            done[ndone++] = me;
    }
}

static void gen_string(char *s, size_t max)
{
    static const char *pieces[] = {"a", "Z", "0", " ", "\"", "\\", "/", "\n", "\t", "\x01",
                                   "\x1f", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\x7f"};
    size_t n = rnd(12), len = 0;
    s[0] = 0;
    for (size_t i = 0; i < n; i++) {
        const char *p = pieces[rnd(sizeof(pieces) / sizeof(pieces[0]))];
        if (len + strlen(p) + 1 > max)
            break;
        strcpy(s + len, p);
        len += strlen(p);
    }
}

static double gen_double(void)
{
    static const double special[] = {0.0, -0.0, 1.0, -1.5, 0.1, 1e22, 1e23, 1e-7, 5e-324,
                                     1.7976931348623157e308, 123456.789, 3.0, -2e15, 1e15};
    if (rnd(2))
        return special[rnd(sizeof(special) / sizeof(special[0]))];
    uint64_t bits = ((uint64_t)rnd(1u << 31) << 33) ^ ((uint64_t)rnd(1u << 31) << 2) ^ rnd(4);
    double d;
    memcpy(&d, &bits, 8);
    return isfinite(d) ? d : 2.5;
}

static void gen_value(avro_value_t *v, int depth)
{
    avro_value_t child;
    char s[64];
    switch (avro_value_get_type(v)) {
    case AVRO_BOOLEAN: avro_value_set_boolean(v, (int)rnd(2)); break;
    case AVRO_INT32: avro_value_set_int(v, (int32_t)(rnd(3) ? rnd(2000) - 1000 : (uint32_t)rng)); break;
    case AVRO_INT64: avro_value_set_long(v, rnd(3) ? (int64_t)rnd(2000) - 1000 : (int64_t)rng); break;
    case AVRO_FLOAT: {
        float f = (float)gen_double();
        avro_value_set_float(v, isfinite(f) ? f : 1.5f);
        break;
    }
    case AVRO_DOUBLE: avro_value_set_double(v, gen_double()); break;
    case AVRO_STRING: gen_string(s, sizeof(s)); avro_value_set_string(v, s); break;
    case AVRO_BYTES:
        gen_string(s, sizeof(s));
        avro_value_set_bytes(v, s, strlen(s));
        break;
    case AVRO_ENUM: avro_value_set_enum(v, (int)rnd(3)); break;
    case AVRO_FIXED: gen_string(s, sizeof(s)); avro_value_set_fixed(v, memcpy(s, "\0\xff\x80", 3), 3); break;
    case AVRO_UNION:
        if (rnd(3) == 0) {
            avro_value_set_branch(v, 0, &child);
            avro_value_set_null(&child);
        } else {
            avro_value_set_branch(v, 1, &child);
            gen_value(&child, depth + 1);
        }
        break;
    case AVRO_RECORD: {
        size_t n = 0;
        avro_value_get_size(v, &n);
        for (size_t i = 0; i < n; i++) {
            avro_value_get_by_index(v, i, &child, NULL);
            gen_value(&child, depth + 1);
        }
        break;
    }
    case AVRO_ARRAY: {
        size_t n = rnd(4);
        for (size_t i = 0; i < n; i++) {
            avro_value_append(v, &child, NULL);
            gen_value(&child, depth + 1);
        }
        break;
    }
    case AVRO_MAP: {
        size_t n = rnd(4);
        for (size_t i = 0; i < n; i++) {
            char k[16];
            snprintf(k, sizeof(k), "k%u", rnd(6));
            avro_value_add(v, k, &child, NULL, NULL);
            gen_value(&child, depth + 1);
        }
        break;
    }
    default: break;
    }
}

/* Many schemas, many values each, through one writer and one reader in a
 * stream: with schemas the text reads back exactly; with or without, the
 * reader and the tree path agree on every message. */
static void test_generated(void)
{
    static char type[1 << 16], schema_text[1 << 16];
    int reads = 0, exact = 0;
    for (int round = 0; round < 2; round++) {
        const char *se = round ? "false" : "true";
        sl_converter *to = conv(se), *stream = conv(se);
        avro_value_t slot = {NULL, NULL};
        for (int k = 0; k < 60; k++) {
            unsigned names = 0;
            ndone = 0;
            int nfields = 1 + (int)rnd(6);
            size_t len = (size_t)snprintf(schema_text, sizeof(schema_text),
                                          "{\"type\":\"record\",\"name\":\"Top\",\"fields\":[");
            for (int f = 0; f < nfields; f++) {
                gen_type(type, sizeof(type), 0, &names);
                len += (size_t)snprintf(schema_text + len, sizeof(schema_text) - len,
                                        "%s{\"name\":\"c%d\",\"type\":%s}", f ? "," : "", f, type);
            }
            snprintf(schema_text + len, sizeof(schema_text) - len, "]}");
            avro_schema_t gs;
            if (avro_schema_from_json_length(schema_text, strlen(schema_text), &gs)) {
                CU_FAIL("generated schema does not parse");
                fprintf(stderr, "\n%s: %s\n", schema_text, avro_strerror());
                continue;
            }
            avro_value_iface_t *gi = avro_generic_class_from_schema(gs);
            for (int n = 0; n < 25; n++) {
                avro_value_t v;
                void *bytes;
                size_t blen;
                avro_generic_value_new(gi, &v);
                gen_value(&v, 0);
                CU_ASSERT_FATAL(sl_converter_to_bytes(to, "t", gs, &v, &bytes, &blen, err,
                                                      sizeof(err)) == 0);
                char *msg = malloc(blen), *text = text_of(&v);
                memcpy(msg, bytes, blen);
                /* the message: the value's sluice_value_json_append text, in the envelope */
                size_t tl = strlen(text), pre = round ? 0 : blen - tl - 1;
                CU_ASSERT(blen >= tl + !round && !memcmp(msg + pre, text, tl));
                CU_ASSERT(round || (!strncmp(msg, "{\"schema\":{", 11) && msg[blen - 1] == '}' &&
                                    !memcmp(msg + pre - 11, ",\"payload\":", 11)));
                free(text);
                reads++;
                int before = peeks;
                if (agree(stream, se, &slot, msg, blen, "generated") == 0 && slot.iface) {
                    /* a peeked text is the payload exactly */
                    if (peeks > before)
                        CU_ASSERT(last_peek.data == msg + pre && last_peek.len == tl);
                    char *want = text_of(&v), *got = text_of(&slot);
                    if (!round) { /* typed: an exact round trip */
                        CU_ASSERT_STRING_EQUAL(got, want);
                        exact += !strcmp(got, want);
                    }
                    free(want);
                    free(got);
                } else {
                    CU_ASSERT(round == 1); /* only schemaless arrays of mixed shapes may fail */
                    if (!round)
                        fprintf(stderr, "\n%s\n  %.*s\n", err, (int)blen, msg);
                }
                /* and broken: bytes changed, dropped, cut short; the reader
                 * gives up where jansson does, with jansson's error */
                for (int m = 0; m < 3; m++) {
                    static const char junk[] = "{}[]\",:\\ 0-1.eEtfnu\x80\xc3\xff\x01";
                    size_t at = rnd((unsigned)blen), mlen = blen;
                    char *bad = malloc(blen);
                    memcpy(bad, msg, blen);
                    if (m == 0)
                        bad[at] = junk[rnd(sizeof(junk) - 1)];
                    else if (m == 1)
                        memmove(bad + at, bad + at + 1, --mlen - at);
                    else
                        mlen = at;
                    agree(stream, se, &slot, bad, mlen, "broken");
                    free(bad);
                }
                free(msg);
                avro_value_decref(&v);
            }
            avro_value_iface_decref(gi);
            avro_schema_decref(gs);
        }
        if (slot.iface)
            avro_value_decref(&slot);
        sl_converter_destroy(to);
        sl_converter_destroy(stream);
    }
    fprintf(stderr, "\n  %d messages compared (and 3 broken copies of each), %d typed round trips "
            "exact, %d peeked as they came\n", reads, exact, peeks);
    /* every class after its first message is read by the reader: most are peeked */
    CU_ASSERT(peeks > reads / 2);
}

/* A recursive schema has no plan (nor a Connect schema): schemaless, its
 * values are written as sluice_value_json_append writes them. */
static void test_recursive(void)
{
    static const char *LIST = "{\"type\":\"record\",\"name\":\"Node\",\"fields\":["
                              "{\"name\":\"v\",\"type\":\"long\"},"
                              "{\"name\":\"next\",\"type\":[\"null\",\"Node\"]}]}";
    avro_schema_t ls;
    CU_ASSERT_FATAL(avro_schema_from_json_length(LIST, strlen(LIST), &ls) == 0);
    avro_value_iface_t *li = avro_generic_class_from_schema(ls);
    avro_value_t v, cur, f, b;
    avro_generic_value_new(li, &v);
    cur = v;
    for (int i = 0; i < 100; i++) {
        avro_value_get_by_name(&cur, "v", &f, NULL);
        avro_value_set_long(&f, i);
        avro_value_get_by_name(&cur, "next", &f, NULL);
        avro_value_set_branch(&f, i < 99, &b);
        cur = b;
    }
    sl_converter *c = conv("false");
    void *bytes;
    size_t len;
    char *want = text_of(&v);
    CU_ASSERT(sl_converter_to_bytes(c, "t", ls, &v, &bytes, &len, err, sizeof(err)) == 0);
    CU_ASSERT(len == strlen(want) && !memcmp(bytes, want, len));
    free(want);
    sl_converter_destroy(c);
    avro_value_decref(&v);
    avro_value_iface_decref(li);
    avro_schema_decref(ls);
}

/* ---- per-record cost on the bench's row ---------------------------------
 * The value bench_worker.sh's datagen emits (a Debezium envelope of a
 * 7-column row), written and read back many times: prints ns per record for
 * each direction and checks the last read gives the written text. */
static const char *BENCH_FIELDS =
    "id:long,name:string,amount:double,created:timestamp,note:string,qty:int,flag:boolean";

static void bench_value(sluice_envelope *env, avro_value_t *v, int64_t seq)
{
    avro_value_t row, f;
    char name[32], note[160];
    CU_ASSERT_FATAL(sluice_envelope_new_value(env, v) == 0);
    CU_ASSERT_FATAL(sluice_envelope_after(v, &row) == 0);
    snprintf(name, sizeof(name), "name-%lld", (long long)seq);
    memset(note, 'x', 120);
    note[120] = 0;
    sluice_field_set_long(&row, "id", seq);
    sluice_field_set_string(&row, "name", name);
    sluice_field_set_double(&row, "amount", (double)seq * 1.25 + 0.1);
    sluice_field_set_long(&row, "created", 1700000000000 + seq);
    sluice_field_set_string(&row, "note", note);
    sluice_field_set_int(&row, "qty", (int32_t)(seq % 1000));
    sluice_field_set_bool(&row, "flag", (int)(seq & 1));
    avro_value_get_by_name(v, "before", &f, NULL);
    avro_value_set_branch(&f, 0, &row);
    avro_value_set_null(&row);
    sluice_envelope_set_op(v, 'c');
    sluice_envelope_set_ts(v, 1700000000000 + seq);
    sluice_source_info src = {.version = "0.1", .connector = "datagen", .name = "bench",
                              .ts_ms = 1700000000000 + seq, .snapshot = "false", .db = "datagen",
                              .table = "bench", .tx_id = SLUICE_NULL_POS, .lsn = SLUICE_NULL_POS,
                              .pos = SLUICE_NULL_POS, .seq = seq};
    sluice_envelope_set_source(v, &src);
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts); /* CPU time: the machine is shared */
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void bench_one(const char *schemas_enable)
{
    enum { DISTINCT = 64 };
    const char *env_n = getenv("BENCH_CONVERTER_N"); /* for profiling: more records */
    int N = env_n && atoi(env_n) > 0 ? atoi(env_n) : 20000;
    sluice_column *cols = NULL;
    size_t ncols = 0;
    sluice_envelope *env = NULL;
    CU_ASSERT_FATAL(sluice_columns_parse(BENCH_FIELDS, NULL, &cols, &ncols, err, sizeof(err)) == 0);
    CU_ASSERT_FATAL(sluice_envelope_create("bench.json", cols, ncols, &env, err, sizeof(err)) == 0);
    avro_schema_t vs = sluice_envelope_value_schema(env);
    sl_converter *to = conv(schemas_enable), *from = conv(schemas_enable);
    avro_value_t vals[DISTINCT], slot = {NULL, NULL};
    char *msgs[DISTINCT];
    size_t lens[DISTINCT];
    for (int i = 0; i < DISTINCT; i++) {
        void *bytes;
        bench_value(env, &vals[i], i + 1);
        CU_ASSERT_FATAL(sl_converter_to_bytes(to, "t", vs, &vals[i], &bytes, &lens[i], err,
                                              sizeof(err)) == 0);
        msgs[i] = malloc(lens[i]);
        memcpy(msgs[i], bytes, lens[i]);
    }
    double t0 = now_ns();
    for (int i = 0; i < N; i++) {
        void *bytes;
        size_t len;
        CU_ASSERT(sl_converter_to_bytes(to, "t", vs, &vals[i % DISTINCT], &bytes, &len, err,
                                        sizeof(err)) == 0);
    }
    double t1 = now_ns();
    for (int i = 0; i < N; i++)
        CU_ASSERT(sl_converter_from_bytes(from, "t", msgs[i % DISTINCT], lens[i % DISTINCT], &slot,
                                          err, sizeof(err)) == 0);
    double t2 = now_ns();
    char *want = text_of(&vals[(N - 1) % DISTINCT]), *got = text_of(&slot);
    CU_ASSERT_STRING_EQUAL(got, want);
    fprintf(stderr, "\n  schemas.enable=%s, %zu-byte messages: to_bytes %.0f ns/record, "
                    "from_bytes %.0f ns/record\n",
            schemas_enable, lens[0], (t1 - t0) / N, (t2 - t1) / N);
    free(want);
    free(got);
    for (int i = 0; i < DISTINCT; i++) {
        avro_value_decref(&vals[i]);
        free(msgs[i]);
    }
    avro_value_decref(&slot);
    sl_converter_destroy(to);
    sl_converter_destroy(from);
    sluice_envelope_destroy(env);
    sluice_columns_free(cols, ncols);
}

static void test_bench(void)
{
    bench_one("false");
    bench_one("true");
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
    CU_add_test(s, "one-pass reader and tree path agree, edge cases", test_reader_cases);
    CU_add_test(s, "generated schemas and values", test_generated);
    CU_add_test(s, "a recursive schema, schemaless", test_recursive);
    CU_add_test(s, "ns per record on the bench's row", test_bench);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
