/*
 * test_transforms.c - Kafka Connect / Debezium single message transforms on
 * Debezium-envelope records: every transform and option against exact
 * expected outputs (the Debezium JSON form of the resulting key and value),
 * predicates with negate, config errors, schemas a registry can parse, the
 * record left as it was on an error, and pipeline-array conversion.
 *
 * The input is a change of table shop.public.orders
 *   (id long key, name string?, price double, qty int?, active boolean)
 * built with sluice/envelope.h, on topic "db.public.orders".
 */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sluice/envelope.h"
#include "transforms.h"

#define TOPIC "db.public.orders"
#define TS    1700000000000LL /* 2023-11-14T22:13:20Z */

static sluice_envelope *env;
static char err[1024];

/* ======================================================================== */
/* Records                                                                   */
/* ======================================================================== */

static void row_fill(avro_value_t *row, int64_t id, const char *name, double price, int qty)
{
    CU_ASSERT_FATAL(sluice_field_set_long(row, "id", id) == 0);
    int rc = name ? sluice_field_set_string(row, "name", name) : sluice_field_set_null(row, "name");
    CU_ASSERT(rc == 0);
    CU_ASSERT(sluice_field_set_double(row, "price", price) == 0);
    rc = qty >= 0 ? sluice_field_set_int(row, "qty", qty) : sluice_field_set_null(row, "qty");
    CU_ASSERT(rc == 0);
    CU_ASSERT(sluice_field_set_bool(row, "active", 1) == 0);
}

/* A change: op c/r/u has an after row, d a before row, u both. */
static void rec_make(sl_xrec *r, char op, int64_t id, const char *name)
{
    avro_value_t row;
    memset(r, 0, sizeof(*r));
    r->topic = TOPIC;
    r->partition = 3;
    r->offset = 42;
    r->timestamp_ms = TS;
    CU_ASSERT_FATAL(sluice_envelope_new_key(env, &r->key) == 0);
    CU_ASSERT(sluice_field_set_long(&r->key, "id", id) == 0);
    CU_ASSERT_FATAL(sluice_envelope_new_value(env, &r->value) == 0);
    r->value_schema = sluice_envelope_value_schema(env);
    if (op == 'u' || op == 'd') {
        CU_ASSERT_FATAL(sluice_envelope_before(&r->value, &row) == 0);
        row_fill(&row, id, "old", 1.5, -1);
    }
    if (op != 'd' && op != 't') {
        CU_ASSERT_FATAL(sluice_envelope_after(&r->value, &row) == 0);
        row_fill(&row, id, name, 9.5, 2);
    }
    sluice_source_info src = {.version = "1.0",
                              .connector = "postgresql",
                              .name = "db",
                              .ts_ms = TS - 5,
                              .snapshot = "false",
                              .db = "shop",
                              .schema = "public",
                              .table = "orders",
                              .tx_id = 77,
                              .lsn = 1234,
                              .pos = SLUICE_NULL_POS,
                              .seq = SLUICE_NULL_POS};
    CU_ASSERT(sluice_envelope_set_source(&r->value, &src) == 0);
    CU_ASSERT(sluice_envelope_set_op(&r->value, op) == 0);
    CU_ASSERT(sluice_envelope_set_ts(&r->value, TS - 1) == 0);
}

/* The tombstone that follows a delete: same key, no value. */
static void rec_tombstone(sl_xrec *r, int64_t id)
{
    rec_make(r, 'd', id, NULL);
    avro_value_decref(&r->value);
    r->value.iface = NULL;
    r->value.self = NULL;
}

static void rec_free(sl_xrec *r)
{
    if (r->key.iface)
        avro_value_decref(&r->key);
    if (r->value.iface)
        avro_value_decref(&r->value);
    r->key.iface = r->value.iface = NULL;
}

/* ======================================================================== */
/* Checks                                                                    */
/* ======================================================================== */

static void check_json(const avro_value_t *v, const char *expected)
{
    json_error_t jerr;
    json_t *want = json_loads(expected, JSON_DECODE_ANY, &jerr);
    if (!want)
        fprintf(stderr, "\nbad expected JSON %s: %s\n", expected, jerr.text);
    CU_ASSERT_FATAL(want != NULL);
    CU_ASSERT_FATAL(v->iface != NULL);
    json_t *got = sluice_value_to_json(v);
    int eq = json_equal(got, want);
    if (!eq) {
        char *g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS);
        fprintf(stderr, "\n  got:  %s\n  want: %s\n", g, expected);
        free(g);
    }
    CU_ASSERT(eq);
    json_decref(got);
    json_decref(want);
}

static sl_transforms *chain_of(const char *config_json)
{
    json_error_t jerr;
    json_t *cfg = json_loads(config_json, 0, &jerr);
    if (!cfg)
        fprintf(stderr, "\nbad config JSON %s: %s\n", config_json, jerr.text);
    CU_ASSERT_FATAL(cfg != NULL);
    sl_transforms *t = NULL;
    err[0] = '\0';
    int rc = sl_transforms_create(cfg, &t, err, sizeof(err));
    if (rc != 0)
        fprintf(stderr, "\nunexpected config error: %s\n", err);
    CU_ASSERT_FATAL(rc == 0);
    json_decref(cfg);
    return t;
}

/* Config errors: -1, no chain, and err contains every word given. */
static void config_fails(const char *config_json, const char *w1, const char *w2)
{
    json_t *cfg = json_loads(config_json, 0, NULL);
    CU_ASSERT_FATAL(cfg != NULL);
    sl_transforms *t = (sl_transforms *)1;
    err[0] = '\0';
    CU_ASSERT(sl_transforms_create(cfg, &t, err, sizeof(err)) == -1);
    CU_ASSERT(t == NULL);
    if (!strstr(err, w1) || (w2 && !strstr(err, w2)))
        fprintf(stderr, "\nerror '%s' lacks '%s' / '%s'\n", err, w1, w2 ? w2 : "");
    CU_ASSERT(strstr(err, w1) != NULL);
    if (w2)
        CU_ASSERT(strstr(err, w2) != NULL);
    json_decref(cfg);
}

static int apply(sl_transforms *t, sl_xrec *r)
{
    err[0] = '\0';
    int rc = sl_transforms_apply(t, r, err, sizeof(err));
    if (rc < 0)
        fprintf(stderr, "\n(apply error: %s)\n", err);
    return rc;
}

/* The schema of v, as a registry would store it, parses back. */
static void check_schema_parses(avro_schema_t s)
{
    char buf[8192] = "";
    avro_writer_t w = avro_writer_memory(buf, sizeof(buf) - 1);
    CU_ASSERT_FATAL(avro_schema_to_json(s, w) == 0);
    buf[avro_writer_tell(w)] = '\0';
    avro_writer_free(w);
    avro_schema_t back = NULL;
    int rc = avro_schema_from_json_length(buf, strlen(buf), &back);
    if (rc != 0)
        fprintf(stderr, "\nschema does not parse back: %s\n%s\n", avro_strerror(), buf);
    CU_ASSERT(rc == 0);
    if (back) {
        CU_ASSERT(avro_schema_equal(back, s));
        avro_schema_decref(back);
    }
}

#define ROW_C   "{\"id\":1,\"name\":\"ann\",\"price\":9.5,\"qty\":2,\"active\":true}"
#define ROW_OLD "{\"id\":1,\"name\":\"old\",\"price\":1.5,\"qty\":null,\"active\":true}"
#define UNWRAP  "\"transforms.u.type\":\"io.debezium.transforms.ExtractNewRecordState\""

/* ======================================================================== */
/* Configuration                                                             */
/* ======================================================================== */

static void test_no_transforms(void)
{
    sl_transforms *t = (sl_transforms *)1;
    json_t *cfg = json_pack("{s:s}", "connector.class", "datagen");
    CU_ASSERT(sl_transforms_create(cfg, &t, err, sizeof(err)) == 0);
    CU_ASSERT(t == NULL);
    json_object_set_new(cfg, "transforms", json_string(" , "));
    CU_ASSERT(sl_transforms_create(cfg, &t, err, sizeof(err)) == 0);
    CU_ASSERT(t == NULL);
    CU_ASSERT(sl_transforms_count(NULL) == 0);
    json_decref(cfg);
    /* a NULL chain keeps everything */
    sl_xrec r;
    rec_make(&r, 'c', 1, "ann");
    CU_ASSERT(sl_transforms_apply(NULL, &r, err, sizeof(err)) == 1);
    rec_free(&r);
}

static void test_config_errors(void)
{
    config_fails("{\"transforms\":\"a\"}", "transforms.a.type", "missing");
    config_fails("{\"transforms\":\"a\",\"transforms.a.type\":\"com.example.Nope\"}",
                 "transforms.a.type", "com.example.Nope");
    config_fails("{\"transforms\":\"a\",\"transforms.a.type\":\"ReplaceField\"}",
                 "transforms.a.type", "ReplaceField$Key or ReplaceField$Value");
    config_fails("{\"transforms\":\"a\",\"transforms.a.type\":\"RegexRouter$Value\","
                 "\"transforms.a.regex\":\"x\",\"transforms.a.replacement\":\"y\"}",
                 "transforms.a.type", "use RegexRouter");
    config_fails("{\"transforms\":\"a\",\"transforms.a.type\":\"ReplaceField$Value\","
                 "\"transforms.a.exclued\":\"x\"}",
                 "transforms.a.exclued", "unknown option");
    config_fails("{\"transforms\":\"a\",\"transforms.a.type\":\"RegexRouter\","
                 "\"transforms.a.regex\":\"(unclosed\",\"transforms.a.replacement\":\"x\"}",
                 "transforms.a.regex", "(unclosed");
    config_fails("{\"transforms\":\"a\",\"transforms.a.type\":\"RegexRouter\","
                 "\"transforms.a.regex\":\"(.*)\"}",
                 "transforms.a.replacement", "missing");
    config_fails("{\"transforms\":\"a\",\"transforms.a.type\":\"RegexRouter\","
                 "\"transforms.a.regex\":\"(.*)\",\"transforms.a.replacement\":\"$2\"}",
                 "transforms.a.replacement", "no group 2");
    config_fails("{\"transforms\":\"a\",\"transforms.a.type\":\"RegexRouter\","
                 "\"transforms.a.regex\":\"(.*)\",\"transforms.a.replacement\":\"a$\"}",
                 "transforms.a.replacement", "group number");
    config_fails("{\"transforms\":\"a\",\"transforms.a.type\":\"MaskField$Value\"}",
                 "transforms.a.fields", "missing");
    config_fails("{\"transforms\":\"a\",\"transforms.a.type\":\"InsertField$Value\"}",
                 "transforms.a", "none of topic.field");
    config_fails("{\"transforms\":\"a\",\"transforms.a.type\":\"ReplaceField$Value\","
                 "\"transforms.a.renames\":\"a:b,cd\"}",
                 "transforms.a.renames", "'cd' is not old:new");
    config_fails("{\"transforms\":\"a\",\"transforms.a.type\":\"TimestampRouter\","
                 "\"transforms.a.timestamp.format\":\"yyyyQQ\"}",
                 "transforms.a.timestamp.format", "'Q'");
    config_fails("{\"transforms\":\"a\"," UNWRAP ",\"transforms.u.delete.handling.mode\":\"x\"}",
                 "transforms.a.type", "missing");
    config_fails("{\"transforms\":\"u\"," UNWRAP ",\"transforms.u.delete.handling.mode\":\"keep\"}",
                 "transforms.u.delete.handling.mode", "drop, rewrite, none");
    config_fails("{\"transforms\":\"u\"," UNWRAP ",\"transforms.u.drop.tombstones\":\"yes\"}",
                 "transforms.u.drop.tombstones", "true or false");
    config_fails("{\"transforms\":\"u,u\"," UNWRAP "}", "transforms", "twice");
    config_fails("{\"transforms\":[\"u\"]}", "transforms", "comma-separated");
    config_fails("{\"transforms\":\"u\"," UNWRAP ",\"transforms.u.add.fields\":[1]}",
                 "transforms.u.add.fields", "must be a string");
}

static void test_predicate_config_errors(void)
{
    config_fails("{\"transforms\":\"f\",\"transforms.f.type\":\"Filter\","
                 "\"transforms.f.predicate\":\"p\"}",
                 "transforms.f.predicate", "'p' is not in predicates");
    config_fails("{\"transforms\":\"f\",\"transforms.f.type\":\"Filter\","
                 "\"transforms.f.predicate\":\"p\",\"predicates\":\"p\","
                 "\"predicates.p.type\":\"org.apache.kafka.connect.transforms.predicates."
                 "TopicNameMatches\"}",
                 "predicates.p.pattern", "missing");
    config_fails("{\"transforms\":\"f\",\"transforms.f.type\":\"Filter\",\"predicates\":\"p\","
                 "\"predicates.p.type\":\"Sometimes\"}",
                 "predicates.p.type", "unknown predicate 'Sometimes'");
    config_fails("{\"transforms\":\"f\",\"transforms.f.type\":\"Filter\",\"predicates\":\"p\","
                 "\"predicates.p.type\":\"TopicNameMatches\",\"predicates.p.pattern\":\"[a\"}",
                 "predicates.p.pattern", "invalid regular expression");
    config_fails("{\"transforms\":\"f\",\"transforms.f.type\":\"Filter\",\"predicates\":\"p\","
                 "\"predicates.p.type\":\"HasHeaderKey\",\"predicates.p.pattern\":\"x\"}",
                 "predicates.p.pattern", "unknown option");
    config_fails("{\"transforms\":\"f\",\"transforms.f.type\":\"Filter\","
                 "\"transforms.f.negate\":\"maybe\"}",
                 "transforms.f.negate", "true or false");
}

static void test_type_names(void)
{
    const char *types[] = {"org.apache.kafka.connect.transforms.ReplaceField$Value",
                           "ReplaceField$Value", "com.other.pkg.ReplaceField$Value"};
    for (size_t i = 0; i < 3; i++) {
        char cfg[512];
        snprintf(cfg, sizeof(cfg),
                 "{\"transforms\":\"a\",\"transforms.a.type\":\"%s\",\"transforms.a.exclude\":"
                 "\"x\"}",
                 types[i]);
        sl_transforms *t = chain_of(cfg);
        CU_ASSERT(sl_transforms_count(t) == 1);
        sl_transforms_destroy(t);
    }
    sl_transforms *t = chain_of("{\"transforms\":\"u, f\",\"transforms.u.type\":"
                                "\"ExtractNewRecordState\",\"transforms.f.type\":"
                                "\"org.apache.kafka.connect.transforms.Filter\"}");
    CU_ASSERT(sl_transforms_count(t) == 2);
    sl_transforms_destroy(t);
}

/* ======================================================================== */
/* ExtractNewRecordState                                                     */
/* ======================================================================== */

static void test_unwrap_create(void)
{
    sl_transforms *t = chain_of("{\"transforms\":\"u\"," UNWRAP "}");
    sl_xrec r;
    rec_make(&r, 'c', 1, "ann");
    CU_ASSERT(apply(t, &r) == 1);
    check_json(&r.value, ROW_C);
    check_json(&r.key, "{\"id\":1}");
    CU_ASSERT_STRING_EQUAL(r.topic, TOPIC);
    CU_ASSERT(r.value_schema == avro_value_get_schema(&r.value));
    CU_ASSERT_STRING_EQUAL(avro_schema_name(r.value_schema), "Value");
    check_schema_parses(r.value_schema);
    avro_schema_t first = r.value_schema;
    rec_free(&r);
    /* an update: the after row; the same cached schema */
    rec_make(&r, 'u', 1, "bob");
    CU_ASSERT(apply(t, &r) == 1);
    check_json(&r.value, "{\"id\":1,\"name\":\"bob\",\"price\":9.5,\"qty\":2,\"active\":true}");
    CU_ASSERT(r.value_schema == first);
    rec_free(&r);
    sl_transforms_destroy(t);
}

static void test_unwrap_delete_default_drops(void)
{
    sl_transforms *t = chain_of("{\"transforms\":\"u\"," UNWRAP "}");
    sl_xrec r;
    rec_make(&r, 'd', 1, NULL);
    CU_ASSERT(apply(t, &r) == 0);
    CU_ASSERT(r.value.iface == NULL && r.key.iface == NULL);
    rec_tombstone(&r, 1);
    CU_ASSERT(apply(t, &r) == 0); /* drop.tombstones defaults to true */
    CU_ASSERT(r.key.iface == NULL);
    sl_transforms_destroy(t);
}

static void test_unwrap_rewrite(void)
{
    sl_transforms *t = chain_of("{\"transforms\":\"u\"," UNWRAP
                                ",\"transforms.u.delete.handling.mode\":\"rewrite\"}");
    sl_xrec r;
    rec_make(&r, 'd', 1, NULL);
    CU_ASSERT(apply(t, &r) == 1);
    check_json(&r.value, "{\"id\":1,\"name\":\"old\",\"price\":1.5,\"qty\":null,\"active\":true,"
                         "\"__deleted\":\"true\"}");
    check_json(&r.key, "{\"id\":1}");
    check_schema_parses(r.value_schema);
    rec_free(&r);
    rec_make(&r, 'c', 1, "ann");
    CU_ASSERT(apply(t, &r) == 1);
    check_json(&r.value, "{\"id\":1,\"name\":\"ann\",\"price\":9.5,\"qty\":2,\"active\":true,"
                         "\"__deleted\":\"false\"}");
    rec_free(&r);
    sl_transforms_destroy(t);
}

static void test_unwrap_delete_none_and_tombstones(void)
{
    sl_transforms *t =
        chain_of("{\"transforms\":\"u\"," UNWRAP ",\"transforms.u.delete.handling.mode\":\"none\","
                 "\"transforms.u.drop.tombstones\":false}");
    sl_xrec r;
    rec_make(&r, 'd', 7, NULL);
    CU_ASSERT(apply(t, &r) == 1);
    CU_ASSERT(r.value.iface == NULL); /* the delete became a null value */
    CU_ASSERT_FATAL(r.value_schema != NULL);
    CU_ASSERT_STRING_EQUAL(avro_schema_name(r.value_schema), "Value");
    check_json(&r.key, "{\"id\":7}");
    rec_free(&r);
    rec_tombstone(&r, 7);
    avro_schema_t before = r.value_schema;
    CU_ASSERT(apply(t, &r) == 1); /* kept as it is */
    CU_ASSERT(r.value.iface == NULL);
    CU_ASSERT(r.value_schema == before);
    check_json(&r.key, "{\"id\":7}");
    rec_free(&r);
    sl_transforms_destroy(t);
}

static void test_unwrap_tombstone_handling_mode(void)
{
    sl_transforms *t =
        chain_of("{\"transforms\":\"u\"," UNWRAP ",\"transforms.u.delete.tombstone.handling.mode\":"
                 "\"rewrite-with-tombstone\"}");
    sl_xrec r;
    rec_make(&r, 'd', 1, NULL);
    CU_ASSERT(apply(t, &r) == 1);
    check_json(&r.value, "{\"id\":1,\"name\":\"old\",\"price\":1.5,\"qty\":null,\"active\":true,"
                         "\"__deleted\":\"true\"}");
    rec_free(&r);
    rec_tombstone(&r, 1);
    CU_ASSERT(apply(t, &r) == 1);
    rec_free(&r);
    sl_transforms_destroy(t);
    t = chain_of("{\"transforms\":\"u\"," UNWRAP
                 ",\"transforms.u.delete.tombstone.handling.mode\":\"tombstone\"}");
    rec_make(&r, 'd', 1, NULL);
    CU_ASSERT(apply(t, &r) == 1);
    CU_ASSERT(r.value.iface == NULL);
    rec_free(&r);
    rec_tombstone(&r, 1);
    CU_ASSERT(apply(t, &r) == 0);
    sl_transforms_destroy(t);
}

static void test_unwrap_add_fields(void)
{
    sl_transforms *t =
        chain_of("{\"transforms\":\"u\"," UNWRAP
                 ",\"transforms.u.add.fields\":\"op,table,lsn,source.ts_ms,ts_ms\"}");
    sl_xrec r;
    rec_make(&r, 'c', 1, "ann");
    CU_ASSERT(apply(t, &r) == 1);
    check_json(&r.value, "{\"id\":1,\"name\":\"ann\",\"price\":9.5,\"qty\":2,\"active\":true,"
                         "\"__op\":\"c\",\"__table\":\"orders\",\"__lsn\":1234,"
                         "\"__source_ts_ms\":1699999999995,\"__ts_ms\":1699999999999}");
    check_schema_parses(r.value_schema);
    rec_free(&r);
    sl_transforms_destroy(t);
}

static void test_unwrap_add_fields_prefix_and_rewrite(void)
{
    sl_transforms *t =
        chain_of("{\"transforms\":\"u\"," UNWRAP ",\"transforms.u.add.fields\":\"op,source.db\","
                 "\"transforms.u.add.fields.prefix\":\"cdc_\","
                 "\"transforms.u.delete.handling.mode\":\"rewrite\"}");
    sl_xrec r;
    rec_make(&r, 'd', 1, NULL);
    CU_ASSERT(apply(t, &r) == 1);
    check_json(&r.value, "{\"id\":1,\"name\":\"old\",\"price\":1.5,\"qty\":null,\"active\":true,"
                         "\"cdc_op\":\"d\",\"cdc_source_db\":\"shop\",\"cdc_deleted\":\"true\"}");
    rec_free(&r);
    sl_transforms_destroy(t);
}

static void test_unwrap_add_headers(void)
{
    sl_transforms *t = chain_of("{\"transforms\":\"u\"," UNWRAP
                                ",\"transforms.u.add.headers\":\"op,source.lsn,file\"}");
    sluice_header in[1] = {{"trace", "abc", 3}};
    sl_xrec r;
    rec_make(&r, 'u', 1, "bob");
    r.headers = in;
    r.n_headers = 1;
    CU_ASSERT(apply(t, &r) == 1);
    CU_ASSERT_FATAL(r.n_headers == 4);
    CU_ASSERT_STRING_EQUAL(r.headers[0].key, "trace");
    CU_ASSERT_STRING_EQUAL(r.headers[1].key, "__op");
    CU_ASSERT(r.headers[1].value_len == 1 && !memcmp(r.headers[1].value, "u", 1));
    CU_ASSERT_STRING_EQUAL(r.headers[2].key, "__source_lsn");
    CU_ASSERT(r.headers[2].value_len == 4 && !memcmp(r.headers[2].value, "1234", 4));
    CU_ASSERT_STRING_EQUAL(r.headers[3].key, "__file");
    CU_ASSERT(r.headers[3].value == NULL); /* source.file is null for Postgres */
    check_json(&r.value, "{\"id\":1,\"name\":\"bob\",\"price\":9.5,\"qty\":2,\"active\":true}");
    rec_free(&r);
    sl_transforms_destroy(t);
}

static void test_unwrap_route_by_field(void)
{
    sl_transforms *t =
        chain_of("{\"transforms\":\"u\"," UNWRAP ",\"transforms.u.route.by.field\":\"name\"}");
    sl_xrec r;
    rec_make(&r, 'c', 1, "eu_orders");
    CU_ASSERT(apply(t, &r) == 1);
    CU_ASSERT_STRING_EQUAL(r.topic, "eu_orders");
    rec_free(&r);
    rec_make(&r, 'c', 2, NULL); /* null field: the topic stays */
    CU_ASSERT(apply(t, &r) == 1);
    CU_ASSERT_STRING_EQUAL(r.topic, TOPIC);
    rec_free(&r);
    sl_transforms_destroy(t);
}

static void test_unwrap_truncate_and_non_envelope(void)
{
    sl_transforms *t = chain_of("{\"transforms\":\"u\"," UNWRAP "}");
    sl_xrec r;
    rec_make(&r, 't', 1, NULL);
    CU_ASSERT(apply(t, &r) == 0);
    /* a value that is not an envelope (a heartbeat) passes unchanged */
    sluice_column cols[] = {{"ts", SLUICE_COL_LONG, 0, 1}};
    sluice_envelope *hb = NULL;
    CU_ASSERT_FATAL(sluice_envelope_create("hb", cols, 1, &hb, err, sizeof(err)) == 0);
    rec_make(&r, 'c', 1, "x");
    avro_value_decref(&r.value);
    CU_ASSERT_FATAL(sluice_envelope_new_key(hb, &r.value) == 0);
    sluice_field_set_long(&r.value, "ts", 5);
    void *self = r.value.self;
    CU_ASSERT(apply(t, &r) == 1);
    CU_ASSERT(r.value.self == self);
    check_json(&r.value, "{\"ts\":5}");
    rec_free(&r);
    sluice_envelope_destroy(hb);
    sl_transforms_destroy(t);
}

static void test_unwrap_bad_add_field_leaves_record(void)
{
    sl_transforms *t = chain_of("{\"transforms\":\"r,u\",\"transforms.r.type\":\"RegexRouter\","
                                "\"transforms.r.regex\":\".*\",\"transforms.r.replacement\":"
                                "\"moved\"," UNWRAP ",\"transforms.u.add.fields\":\"nope\"}");
    sl_xrec r;
    rec_make(&r, 'c', 1, "ann");
    void *key = r.key.self, *value = r.value.self;
    avro_schema_t vs = r.value_schema;
    CU_ASSERT(sl_transforms_apply(t, &r, err, sizeof(err)) == -1);
    CU_ASSERT(strstr(err, "transform u (io.debezium.transforms.ExtractNewRecordState)") != NULL);
    CU_ASSERT(strstr(err, "'nope'") != NULL);
    CU_ASSERT(r.key.self == key && r.value.self == value && r.value_schema == vs);
    CU_ASSERT_STRING_EQUAL(r.topic, TOPIC); /* the router's change is undone too */
    check_json(&r.key, "{\"id\":1}");
    rec_free(&r);
    sl_transforms_destroy(t);
}

/* ======================================================================== */
/* ReplaceField                                                              */
/* ======================================================================== */

static void test_replace_exclude(void)
{
    sl_transforms *t = chain_of("{\"transforms\":\"u,rf\"," UNWRAP ",\"transforms.rf.type\":"
                                "\"org.apache.kafka.connect.transforms.ReplaceField$Value\","
                                "\"transforms.rf.exclude\":\"price, active\"}");
    sl_xrec r;
    rec_make(&r, 'c', 1, "ann");
    CU_ASSERT(apply(t, &r) == 1);
    check_json(&r.value, "{\"id\":1,\"name\":\"ann\",\"qty\":2}");
    CU_ASSERT_STRING_EQUAL(avro_schema_name(r.value_schema), "Value");
    check_schema_parses(r.value_schema);
    rec_free(&r);
    sl_transforms_destroy(t);
}

static void test_replace_include_and_renames(void)
{
    sl_transforms *t = chain_of("{\"transforms\":\"u,rf\"," UNWRAP ",\"transforms.rf.type\":"
                                "\"ReplaceField$Value\",\"transforms.rf.include\":\"id,name,qty\","
                                "\"transforms.rf.exclude\":\"qty\","
                                "\"transforms.rf.renames\":\"id:order_id,name:customer\"}");
    sl_xrec r;
    rec_make(&r, 'c', 1, "ann");
    CU_ASSERT(apply(t, &r) == 1);
    /* exclude wins over include */
    check_json(&r.value, "{\"order_id\":1,\"customer\":\"ann\"}");
    rec_free(&r);
    sl_transforms_destroy(t);
}

static void test_replace_old_names(void)
{
    sl_transforms *t =
        chain_of("{\"transforms\":\"u,rf\"," UNWRAP ",\"transforms.rf.type\":"
                 "\"ReplaceField$Value\",\"transforms.rf.whitelist\":\"id,name,qty\","
                 "\"transforms.rf.blacklist\":\"name\"}");
    sl_xrec r;
    rec_make(&r, 'c', 1, "ann");
    CU_ASSERT(apply(t, &r) == 1);
    check_json(&r.value, "{\"id\":1,\"qty\":2}");
    rec_free(&r);
    sl_transforms_destroy(t);
}

static void test_replace_key(void)
{
    sl_transforms *t = chain_of("{\"transforms\":\"rk\",\"transforms.rk.type\":"
                                "\"ReplaceField$Key\",\"transforms.rk.renames\":\"id:pk\"}");
    sl_xrec r;
    rec_make(&r, 'c', 1, "ann");
    avro_schema_t vs = r.value_schema;
    void *value = r.value.self;
    CU_ASSERT(apply(t, &r) == 1);
    check_json(&r.key, "{\"pk\":1}");
    CU_ASSERT(r.value.self == value && r.value_schema == vs); /* the value is untouched */
    CU_ASSERT_STRING_EQUAL(avro_schema_name(avro_value_get_schema(&r.key)), "Key");
    rec_free(&r);
    sl_transforms_destroy(t);
}

/* Excluding "before" from an envelope keeps "after", whose type refers to the
 * Value record defined in "before": the new schema must define it itself. */
static void test_replace_envelope_schema_self_contained(void)
{
    sl_transforms *t =
        chain_of("{\"transforms\":\"rf\",\"transforms.rf.type\":"
                 "\"ReplaceField$Value\",\"transforms.rf.exclude\":\"before,source\"}");
    sl_xrec r;
    rec_make(&r, 'c', 1, "ann");
    CU_ASSERT(apply(t, &r) == 1);
    check_json(&r.value, "{\"after\":" ROW_C ",\"op\":\"c\",\"ts_ms\":1699999999999}");
    check_schema_parses(r.value_schema);
    CU_ASSERT_STRING_EQUAL(avro_schema_name(r.value_schema), "Envelope");
    rec_free(&r);
    sl_transforms_destroy(t);
}

static void test_replace_nothing_changes_nothing(void)
{
    sl_transforms *t = chain_of("{\"transforms\":\"rf\",\"transforms.rf.type\":"
                                "\"ReplaceField$Value\",\"transforms.rf.exclude\":\"nosuch\"}");
    sl_xrec r;
    rec_make(&r, 'c', 1, "ann");
    void *value = r.value.self;
    CU_ASSERT(apply(t, &r) == 1);
    CU_ASSERT(r.value.self == value);
    rec_free(&r);
    rec_tombstone(&r, 1);
    CU_ASSERT(apply(t, &r) == 1); /* a tombstone passes */
    CU_ASSERT(r.value.iface == NULL);
    rec_free(&r);
    sl_transforms_destroy(t);
}

/* ======================================================================== */
/* MaskField                                                                 */
/* ======================================================================== */

static void test_mask_zero(void)
{
    sl_transforms *t = chain_of("{\"transforms\":\"u,m\"," UNWRAP ",\"transforms.m.type\":"
                                "\"MaskField$Value\",\"transforms.m.fields\":"
                                "\"name,price,qty,active,nosuch\"}");
    sl_xrec r;
    rec_make(&r, 'c', 1, "ann");
    CU_ASSERT(apply(t, &r) == 1);
    check_json(&r.value, "{\"id\":1,\"name\":\"\",\"price\":0.0,\"qty\":0,\"active\":false}");
    rec_free(&r);
    rec_make(&r, 'c', 2, NULL); /* null stays null */
    CU_ASSERT(apply(t, &r) == 1);
    check_json(&r.value, "{\"id\":2,\"name\":null,\"price\":0.0,\"qty\":0,\"active\":false}");
    rec_free(&r);
    sl_transforms_destroy(t);
}

static void test_mask_replacement(void)
{
    sl_transforms *t = chain_of("{\"transforms\":\"u,m,n\"," UNWRAP ",\"transforms.m.type\":"
                                "\"MaskField$Value\",\"transforms.m.fields\":\"name\","
                                "\"transforms.m.replacement\":\"***\",\"transforms.n.type\":"
                                "\"MaskField$Value\",\"transforms.n.fields\":\"qty,price\","
                                "\"transforms.n.replacement\":\"42\"}");
    sl_xrec r;
    rec_make(&r, 'c', 1, "ann");
    CU_ASSERT(apply(t, &r) == 1);
    check_json(&r.value, "{\"id\":1,\"name\":\"***\",\"price\":42.0,\"qty\":42,\"active\":true}");
    rec_free(&r);
    sl_transforms_destroy(t);
}

/* Masking the caller's own value copies it: the original is not touched. */
static void test_mask_does_not_touch_original(void)
{
    sl_transforms *t = chain_of("{\"transforms\":\"m\",\"transforms.m.type\":\"MaskField$Key\","
                                "\"transforms.m.fields\":\"id\"}");
    sl_xrec r;
    rec_make(&r, 'c', 5, "ann");
    avro_value_t orig_key;
    avro_value_copy_ref(&orig_key, &r.key); /* a second reference to the caller's key */
    CU_ASSERT(apply(t, &r) == 1);
    check_json(&r.key, "{\"id\":0}");
    check_json(&orig_key, "{\"id\":5}");
    avro_value_decref(&orig_key);
    rec_free(&r);
    sl_transforms_destroy(t);
}

static void test_mask_bad_replacement(void)
{
    sl_transforms *t = chain_of("{\"transforms\":\"u,m\"," UNWRAP ",\"transforms.m.type\":"
                                "\"MaskField$Value\",\"transforms.m.fields\":\"qty\","
                                "\"transforms.m.replacement\":\"many\"}");
    sl_xrec r;
    rec_make(&r, 'c', 1, "ann");
    void *value = r.value.self;
    for (int i = 0; i < 2; i++) { /* the cached error answers the second time */
        CU_ASSERT(sl_transforms_apply(t, &r, err, sizeof(err)) == -1);
        CU_ASSERT(strstr(err, "transform m (MaskField$Value)") != NULL);
        CU_ASSERT(strstr(err, "'many' does not convert to int") != NULL);
        CU_ASSERT(r.value.self == value);
    }
    rec_free(&r);
    sl_transforms_destroy(t);
}

/* ======================================================================== */
/* InsertField                                                               */
/* ======================================================================== */

static void test_insert_value(void)
{
    sl_transforms *t = chain_of(
        "{\"transforms\":\"u,i\"," UNWRAP ",\"transforms.i.type\":\"InsertField$Value\","
        "\"transforms.i.topic.field\":\"t!\",\"transforms.i.partition.field\":\"p\","
        "\"transforms.i.offset.field\":\"o?\",\"transforms.i.timestamp.field\":\"ts\","
        "\"transforms.i.static.field\":\"origin\",\"transforms.i.static.value\":\"sluice\"}");
    sl_xrec r;
    rec_make(&r, 'c', 1, "ann");
    CU_ASSERT(apply(t, &r) == 1);
    check_json(&r.value, "{\"id\":1,\"name\":\"ann\",\"price\":9.5,\"qty\":2,\"active\":true,"
                         "\"t\":\"db.public.orders\",\"p\":3,\"o\":42,\"ts\":1700000000000,"
                         "\"origin\":\"sluice\"}");
    check_schema_parses(r.value_schema);
    /* t! is a plain string, the optional ones are ["null", T] */
    avro_schema_t ft = avro_schema_get_subschema(r.value_schema, "t");
    avro_schema_t fp = avro_schema_get_subschema(r.value_schema, "p");
    CU_ASSERT(ft && is_avro_string(ft));
    CU_ASSERT(fp && is_avro_union(fp));
    rec_free(&r);
    /* a source record has no partition or offset yet: optional fields are null */
    rec_make(&r, 'c', 1, "ann");
    r.partition = -1;
    r.offset = -1;
    CU_ASSERT(apply(t, &r) == 1);
    check_json(&r.value, "{\"id\":1,\"name\":\"ann\",\"price\":9.5,\"qty\":2,\"active\":true,"
                         "\"t\":\"db.public.orders\",\"p\":null,\"o\":null,\"ts\":1700000000000,"
                         "\"origin\":\"sluice\"}");
    rec_free(&r);
    sl_transforms_destroy(t);
}

static void test_insert_required_missing(void)
{
    sl_transforms *t = chain_of("{\"transforms\":\"u,i\"," UNWRAP ",\"transforms.i.type\":"
                                "\"InsertField$Value\",\"transforms.i.offset.field\":\"o!\"}");
    sl_xrec r;
    rec_make(&r, 'c', 1, "ann");
    r.offset = -1;
    void *value = r.value.self;
    CU_ASSERT(sl_transforms_apply(t, &r, err, sizeof(err)) == -1);
    CU_ASSERT(strstr(err, "offset.field 'o' is required but the record has no offset") != NULL);
    CU_ASSERT(r.value.self == value);
    rec_free(&r);
    sl_transforms_destroy(t);
}

static void test_insert_key_and_tombstone(void)
{
    sl_transforms *t = chain_of("{\"transforms\":\"i\",\"transforms.i.type\":"
                                "\"InsertField$Key\",\"transforms.i.static.field\":\"tenant\","
                                "\"transforms.i.static.value\":\"acme\"}");
    sl_xrec r;
    rec_make(&r, 'c', 1, "ann");
    CU_ASSERT(apply(t, &r) == 1);
    check_json(&r.key, "{\"id\":1,\"tenant\":\"acme\"}");
    rec_free(&r);
    sl_transforms_destroy(t);
    /* InsertField$Value on a tombstone: unchanged */
    t = chain_of("{\"transforms\":\"i\",\"transforms.i.type\":\"InsertField$Value\","
                 "\"transforms.i.topic.field\":\"t\"}");
    rec_tombstone(&r, 1);
    CU_ASSERT(apply(t, &r) == 1);
    CU_ASSERT(r.value.iface == NULL);
    check_json(&r.key, "{\"id\":1}");
    rec_free(&r);
    sl_transforms_destroy(t);
}

static void test_insert_on_non_record(void)
{
    sl_transforms *t = chain_of("{\"transforms\":\"k,i\",\"transforms.k.type\":"
                                "\"ExtractField$Key\",\"transforms.k.field\":\"id\","
                                "\"transforms.i.type\":\"InsertField$Key\","
                                "\"transforms.i.topic.field\":\"t\"}");
    sl_xrec r;
    rec_make(&r, 'c', 1, "ann");
    CU_ASSERT(sl_transforms_apply(t, &r, err, sizeof(err)) == -1);
    CU_ASSERT(strstr(err, "needs a record key, got long") != NULL);
    check_json(&r.key, "{\"id\":1}");
    rec_free(&r);
    sl_transforms_destroy(t);
}

/* ======================================================================== */
/* ValueToKey, ExtractField                                                  */
/* ======================================================================== */

static void test_value_to_key(void)
{
    sl_transforms *t = chain_of("{\"transforms\":\"u,vk\"," UNWRAP ",\"transforms.vk.type\":"
                                "\"org.apache.kafka.connect.transforms.ValueToKey\","
                                "\"transforms.vk.fields\":\"name,id\"}");
    sl_xrec r;
    rec_make(&r, 'c', 1, "ann");
    CU_ASSERT(apply(t, &r) == 1);
    check_json(&r.key, "{\"name\":\"ann\",\"id\":1}");
    avro_schema_t ks = avro_value_get_schema(&r.key);
    CU_ASSERT_STRING_EQUAL(avro_schema_name(ks), "ConnectDefault");
    check_schema_parses(ks);
    check_json(&r.value, ROW_C);
    rec_free(&r);
    sl_transforms_destroy(t);
}

static void test_value_to_key_missing_field(void)
{
    sl_transforms *t = chain_of("{\"transforms\":\"u,vk\"," UNWRAP ",\"transforms.vk.type\":"
                                "\"ValueToKey\",\"transforms.vk.fields\":\"id,customer\"}");
    sl_xrec r;
    rec_make(&r, 'c', 1, "ann");
    CU_ASSERT(sl_transforms_apply(t, &r, err, sizeof(err)) == -1);
    CU_ASSERT(strstr(err, "field 'customer' does not exist") != NULL);
    rec_free(&r);
    sl_transforms_destroy(t);
}

static void test_extract_field(void)
{
    sl_transforms *t = chain_of("{\"transforms\":\"u,k,v\"," UNWRAP ",\"transforms.k.type\":"
                                "\"ExtractField$Key\",\"transforms.k.field\":\"id\","
                                "\"transforms.v.type\":\"ExtractField$Value\","
                                "\"transforms.v.field\":\"name\"}");
    sl_xrec r;
    rec_make(&r, 'c', 9, "ann");
    CU_ASSERT(apply(t, &r) == 1);
    check_json(&r.key, "9");
    check_json(&r.value, "\"ann\"");
    CU_ASSERT(is_avro_string(r.value_schema));
    rec_free(&r);
    rec_make(&r, 'c', 9, NULL); /* a null field: a null value */
    CU_ASSERT(apply(t, &r) == 1);
    CU_ASSERT(r.value.iface == NULL);
    rec_free(&r);
    sl_transforms_destroy(t);
}

/* ======================================================================== */
/* Routers                                                                   */
/* ======================================================================== */

static const char *route(const char *config_json, const char *topic, int64_t ts)
{
    static char out[256];
    sl_transforms *t = chain_of(config_json);
    sl_xrec r;
    rec_make(&r, 'c', 1, "ann");
    r.topic = topic;
    r.timestamp_ms = ts;
    CU_ASSERT(apply(t, &r) == 1);
    snprintf(out, sizeof(out), "%s", r.topic);
    rec_free(&r);
    sl_transforms_destroy(t);
    return out;
}

#define REGEX(re, repl)                                                                            \
    "{\"transforms\":\"r\",\"transforms.r.type\":\"org.apache.kafka.connect.transforms."           \
    "RegexRouter\",\"transforms.r.regex\":\"" re "\",\"transforms.r.replacement\":\"" repl "\"}"

static void test_regex_router(void)
{
    CU_ASSERT_STRING_EQUAL(route(REGEX("db\\\\.public\\\\.(.*)", "$1_v2"), TOPIC, TS), "orders_v2");
    CU_ASSERT_STRING_EQUAL(route(REGEX("([^.]+)\\\\.([^.]+)\\\\.([^.]+)", "$3.$2.$1"), TOPIC, TS),
                           "orders.public.db");
    /* the whole topic must match (Matcher.matches): a partial match routes nothing */
    CU_ASSERT_STRING_EQUAL(route(REGEX("public", "x"), TOPIC, TS), TOPIC);
    /* \\$ is a literal dollar, $0 the whole match */
    CU_ASSERT_STRING_EQUAL(route(REGEX("(.*)", "\\\\$$0"), TOPIC, TS), "$db.public.orders");
    /* Java's \\d */
    CU_ASSERT_STRING_EQUAL(route(REGEX("orders_(\\\\d+)", "orders-$1"), "orders_2024", TS),
                           "orders-2024");
    CU_ASSERT_STRING_EQUAL(route(REGEX("orders_(\\\\d+)", "orders-$1"), "orders_x", TS),
                           "orders_x");
    /* $12 with one group: group 1 followed by "2" */
    CU_ASSERT_STRING_EQUAL(route(REGEX("(a)b", "$12"), "ab", TS), "a2");
}

#define TSR(fmt, tsfmt)                                                                            \
    "{\"transforms\":\"ts\",\"transforms.ts.type\":\"TimestampRouter\"" fmt tsfmt "}"

static void test_timestamp_router(void)
{
    CU_ASSERT_STRING_EQUAL(route(TSR("", ""), TOPIC, TS), "db.public.orders-20231114");
    CU_ASSERT_STRING_EQUAL(
        route(TSR(",\"transforms.ts.topic.format\":\"${timestamp}_${topic}\"",
                  ",\"transforms.ts.timestamp.format\":\"yyyy-MM-dd'T'HH:mm:ss.SSS\""),
              "t", TS + 7),
        "2023-11-14T22:13:20.007_t");
    CU_ASSERT_STRING_EQUAL(route(TSR(",\"transforms.ts.topic.format\":\"${topic}.${timestamp}\"",
                                     ",\"transforms.ts.timestamp.format\":\"yy_MMM_EEE_''D\""),
                                 "t", TS),
                           "t.23_Nov_Tue_'318");
    /* the formatted time is cached per second: a later record re-formats */
    sl_transforms *t = chain_of(TSR("", ",\"transforms.ts.timestamp.format\":\"HHmmss\""));
    sl_xrec r;
    rec_make(&r, 'c', 1, "ann");
    CU_ASSERT(apply(t, &r) == 1);
    CU_ASSERT_STRING_EQUAL(r.topic, TOPIC "-221320");
    r.topic = TOPIC;
    r.timestamp_ms = TS + 61000;
    CU_ASSERT(apply(t, &r) == 1);
    CU_ASSERT_STRING_EQUAL(r.topic, TOPIC "-221421");
    rec_free(&r);
    sl_transforms_destroy(t);
}

/* ======================================================================== */
/* Filter and predicates                                                     */
/* ======================================================================== */

static void test_filter_all(void)
{
    sl_transforms *t = chain_of("{\"transforms\":\"f\",\"transforms.f.type\":\"Filter\"}");
    sl_xrec r;
    rec_make(&r, 'c', 1, "ann");
    CU_ASSERT(apply(t, &r) == 0);
    CU_ASSERT(r.key.iface == NULL && r.value.iface == NULL);
    sl_transforms_destroy(t);
}

#define FILTER_TOPIC(negate)                                                                       \
    "{\"transforms\":\"f\",\"transforms.f.type\":\"Filter\",\"transforms.f.predicate\":"           \
    "\"isOrders\"," negate "\"predicates\":\"isOrders\",\"predicates.isOrders.type\":"             \
    "\"org.apache.kafka.connect.transforms.predicates.TopicNameMatches\","                         \
    "\"predicates.isOrders.pattern\":\".*\\\\.orders\"}"

static int keeps(sl_transforms *t, const char *topic)
{
    sl_xrec r;
    rec_make(&r, 'c', 1, "ann");
    r.topic = topic;
    int rc = apply(t, &r);
    rec_free(&r);
    return rc;
}

static void test_filter_topic_predicate(void)
{
    sl_transforms *t = chain_of(FILTER_TOPIC(""));
    CU_ASSERT(keeps(t, TOPIC) == 0);
    CU_ASSERT(keeps(t, "db.public.customers") == 1);
    CU_ASSERT(keeps(t, "db.public.orders_archive") == 1); /* the whole name must match */
    sl_transforms_destroy(t);
    t = chain_of(FILTER_TOPIC("\"transforms.f.negate\":\"true\","));
    CU_ASSERT(keeps(t, TOPIC) == 1);
    CU_ASSERT(keeps(t, "db.public.customers") == 0);
    sl_transforms_destroy(t);
}

static void test_filter_tombstones(void)
{
    sl_transforms *t = chain_of(
        "{\"transforms\":\"f\",\"transforms.f.type\":\"Filter\",\"transforms.f.predicate\":"
        "\"tomb\",\"predicates\":\"tomb\",\"predicates.tomb.type\":\"RecordIsTombstone\"}");
    sl_xrec r;
    rec_tombstone(&r, 1);
    CU_ASSERT(apply(t, &r) == 0);
    rec_make(&r, 'd', 1, NULL);
    CU_ASSERT(apply(t, &r) == 1);
    rec_free(&r);
    sl_transforms_destroy(t);
}

static void test_has_header_key(void)
{
    sl_transforms *t = chain_of(
        "{\"transforms\":\"f\",\"transforms.f.type\":\"Filter\",\"transforms.f.predicate\":"
        "\"h\",\"transforms.f.negate\":true,\"predicates\":\"h\",\"predicates.h.type\":"
        "\"HasHeaderKey\",\"predicates.h.name\":\"keep\"}");
    sluice_header hs[2] = {{"a", "1", 1}, {"keep", NULL, 0}};
    sl_xrec r;
    rec_make(&r, 'c', 1, "ann");
    r.headers = hs;
    r.n_headers = 2;
    CU_ASSERT(apply(t, &r) == 1);
    r.n_headers = 1; /* without the header: dropped (negate) */
    CU_ASSERT(apply(t, &r) == 0);
    sl_transforms_destroy(t);
}

/* A predicate on a transform other than Filter: it applies where it holds. */
static void test_predicate_on_router(void)
{
    sl_transforms *t = chain_of(
        "{\"transforms\":\"r\",\"transforms.r.type\":\"RegexRouter\",\"transforms.r.regex\":"
        "\"(.*)\",\"transforms.r.replacement\":\"$1-audit\",\"transforms.r.predicate\":\"p\","
        "\"predicates\":\"p\",\"predicates.p.type\":\"TopicNameMatches\",\"predicates.p.pattern\":"
        "\"db\\\\..*\"}");
    sl_xrec r;
    rec_make(&r, 'c', 1, "ann");
    CU_ASSERT(apply(t, &r) == 1);
    CU_ASSERT_STRING_EQUAL(r.topic, TOPIC "-audit");
    r.topic = "other";
    CU_ASSERT(apply(t, &r) == 1);
    CU_ASSERT_STRING_EQUAL(r.topic, "other");
    /* answers are remembered per topic: the same ones come back */
    for (int i = 0; i < 3; i++) {
        r.topic = i % 2 ? "other" : TOPIC;
        CU_ASSERT(apply(t, &r) == 1);
        CU_ASSERT_STRING_EQUAL(r.topic, i % 2 ? "other" : TOPIC "-audit");
    }
    rec_free(&r);
    sl_transforms_destroy(t);
}

/* ======================================================================== */
/* Chains                                                                    */
/* ======================================================================== */

static void test_full_chain(void)
{
    sl_transforms *t = chain_of(
        "{\"transforms\":\"u,rf,route,ins\"," UNWRAP ",\"transforms.u.add.fields\":\"op\","
        "\"transforms.u.delete.handling.mode\":\"rewrite\",\"transforms.rf.type\":"
        "\"ReplaceField$Value\",\"transforms.rf.exclude\":\"price,active\","
        "\"transforms.route.type\":\"RegexRouter\",\"transforms.route.regex\":"
        "\"[^.]+\\\\.[^.]+\\\\.(.+)\",\"transforms.route.replacement\":\"$1\","
        "\"transforms.ins.type\":\"InsertField$Value\",\"transforms.ins.topic.field\":\"src\"}");
    sl_xrec r;
    for (int i = 0; i < 3; i++) {
        rec_make(&r, i == 2 ? 'd' : 'c', i, "ann");
        CU_ASSERT(apply(t, &r) == 1);
        CU_ASSERT_STRING_EQUAL(r.topic, "orders");
        if (i == 2)
            check_json(&r.value, "{\"id\":2,\"name\":\"old\",\"qty\":null,\"__op\":\"d\","
                                 "\"__deleted\":\"true\",\"src\":\"orders\"}");
        else if (i == 1)
            check_json(&r.value, "{\"id\":1,\"name\":\"ann\",\"qty\":2,\"__op\":\"c\","
                                 "\"__deleted\":\"false\",\"src\":\"orders\"}");
        check_schema_parses(r.value_schema);
        rec_free(&r);
    }
    sl_transforms_destroy(t);
}

/* Many tables through one chain: each schema gets its own cached plan. */
static void test_many_schemas(void)
{
    enum { N = 40 };
    sluice_envelope *envs[N];
    avro_schema_t seen[N];
    sluice_column cols[] = {{"id", SLUICE_COL_LONG, 0, 1}, {"v", SLUICE_COL_STRING, 1, 0}};
    sl_transforms *t =
        chain_of("{\"transforms\":\"u\"," UNWRAP ",\"transforms.u.add.fields\":\"op\"}");
    for (int i = 0; i < N; i++) {
        char topic[64];
        snprintf(topic, sizeof(topic), "db.public.t%d", i);
        CU_ASSERT_FATAL(sluice_envelope_create(topic, cols, 2, &envs[i], err, sizeof(err)) == 0);
    }
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < N; i++) {
            sl_xrec r = {.topic = sluice_envelope_topic(envs[i]), .partition = -1, .offset = -1};
            avro_value_t row;
            CU_ASSERT_FATAL(sluice_envelope_new_value(envs[i], &r.value) == 0);
            sluice_envelope_after(&r.value, &row);
            sluice_field_set_long(&row, "id", i);
            sluice_field_set_string(&row, "v", r.topic);
            sluice_envelope_set_op(&r.value, 'r');
            CU_ASSERT(apply(t, &r) == 1);
            char want[128];
            snprintf(want, sizeof(want), "{\"id\":%d,\"v\":\"%s\",\"__op\":\"r\"}", i, r.topic);
            check_json(&r.value, want);
            CU_ASSERT_STRING_EQUAL(avro_schema_namespace(r.value_schema), r.topic);
            if (round == 0)
                seen[i] = r.value_schema;
            else
                CU_ASSERT(r.value_schema == seen[i]);
            rec_free(&r);
        }
    }
    for (int i = 0; i < N; i++)
        sluice_envelope_destroy(envs[i]);
    sl_transforms_destroy(t);
}

/* Rough throughput of a typical chain (printed, for the record). */
static void test_throughput(void)
{
    sl_transforms *t =
        chain_of("{\"transforms\":\"u,route\"," UNWRAP ",\"transforms.u.add.fields\":\"op,lsn\","
                 "\"transforms.route.type\":\"RegexRouter\",\"transforms.route.regex\":"
                 "\"[^.]+\\\\.[^.]+\\\\.(.+)\",\"transforms.route.replacement\":\"$1\"}");
    const int n = 100000;
    sl_xrec r;
    struct timespec a, b;
    double spent = 0;
    for (int i = 0; i < n; i++) {
        rec_make(&r, 'u', i, "ann");
        clock_gettime(CLOCK_MONOTONIC, &a);
        int rc = sl_transforms_apply(t, &r, err, sizeof(err));
        clock_gettime(CLOCK_MONOTONIC, &b);
        spent += (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
        if (rc != 1)
            CU_FAIL("apply");
        rec_free(&r);
    }
    fprintf(stderr, "\n  unwrap+add.fields+RegexRouter: %.0f records/s\n", n / spent);
    sl_transforms_destroy(t);
}

/* ======================================================================== */
/* Pipeline arrays                                                           */
/* ======================================================================== */

static json_t *pipe_ok(const char *array_json, json_t *config)
{
    json_t *a = json_loads(array_json, 0, NULL);
    CU_ASSERT_FATAL(a != NULL);
    err[0] = '\0';
    int rc = sl_transforms_from_pipeline(a, config, err, sizeof(err));
    if (rc != 0)
        fprintf(stderr, "\nfrom_pipeline: %s\n", err);
    CU_ASSERT(rc == 0);
    json_decref(a);
    return config;
}

static void check_config(json_t *config, const char *expected)
{
    json_t *want = json_loads(expected, 0, NULL);
    CU_ASSERT_FATAL(want != NULL);
    int eq = json_equal(config, want);
    if (!eq) {
        char *g = json_dumps(config, JSON_COMPACT | JSON_SORT_KEYS);
        fprintf(stderr, "\n  got:  %s\n  want: %s\n", g, expected);
        free(g);
    }
    CU_ASSERT(eq);
    json_decref(want);
}

static void test_pipeline_basic(void)
{
    json_t *c = pipe_ok("[{\"name\":\"unwrap\",\"type\":\"io.debezium.transforms."
                        "ExtractNewRecordState\",\"delete.handling.mode\":\"rewrite\","
                        "\"drop.tombstones\":false,\"add.fields\":[\"op\",\"table\"]},"
                        "{\"type\":\"RegexRouter\",\"regex\":\"(.*)\",\"replacement\":\"$1\"}]",
                        json_pack("{s:s}", "connector.class", "datagen"));
    check_config(c, "{\"connector.class\":\"datagen\",\"transforms\":\"unwrap,t1\","
                    "\"transforms.unwrap.type\":\"io.debezium.transforms.ExtractNewRecordState\","
                    "\"transforms.unwrap.delete.handling.mode\":\"rewrite\","
                    "\"transforms.unwrap.drop.tombstones\":\"false\","
                    "\"transforms.unwrap.add.fields\":\"op,table\","
                    "\"transforms.t1.type\":\"RegexRouter\",\"transforms.t1.regex\":\"(.*)\","
                    "\"transforms.t1.replacement\":\"$1\"}");
    /* and it builds a working chain */
    sl_transforms *t = NULL;
    CU_ASSERT(sl_transforms_create(c, &t, err, sizeof(err)) == 0);
    CU_ASSERT(sl_transforms_count(t) == 2);
    sl_xrec r;
    rec_make(&r, 'c', 1, "ann");
    CU_ASSERT(apply(t, &r) == 1);
    check_json(&r.value, "{\"id\":1,\"name\":\"ann\",\"price\":9.5,\"qty\":2,\"active\":true,"
                         "\"__op\":\"c\",\"__table\":\"orders\",\"__deleted\":\"false\"}");
    rec_free(&r);
    sl_transforms_destroy(t);
    json_decref(c);
}

static void test_pipeline_predicates_and_append(void)
{
    json_t *c = pipe_ok(
        "[{\"name\":\"drop\",\"type\":\"Filter\",\"predicate\":{\"type\":\"TopicNameMatches\","
        "\"pattern\":\"tmp\\\\..*\",\"negate\":true}},"
        "{\"name\":\"f2\",\"type\":\"Filter\",\"predicate\":\"existing\"}]",
        json_pack("{s:s, s:s, s:s, s:s}", "transforms", "first", "transforms.first.type", "Filter",
                  "predicates", "existing", "predicates.existing.type", "RecordIsTombstone"));
    check_config(c, "{\"transforms\":\"first,drop,f2\",\"transforms.first.type\":\"Filter\","
                    "\"predicates\":\"existing,drop\",\"predicates.existing.type\":"
                    "\"RecordIsTombstone\",\"transforms.drop.type\":\"Filter\","
                    "\"transforms.drop.predicate\":\"drop\",\"transforms.drop.negate\":\"true\","
                    "\"predicates.drop.type\":\"TopicNameMatches\",\"predicates.drop.pattern\":"
                    "\"tmp\\\\..*\",\"transforms.f2.type\":\"Filter\","
                    "\"transforms.f2.predicate\":\"existing\"}");
    json_decref(c);
}

static void pipe_fails(const char *array_json, const char *word)
{
    json_t *a = json_loads(array_json, 0, NULL), *c = json_object();
    CU_ASSERT_FATAL(a != NULL);
    err[0] = '\0';
    CU_ASSERT(sl_transforms_from_pipeline(a, c, err, sizeof(err)) == -1);
    if (!strstr(err, word))
        fprintf(stderr, "\nerror '%s' lacks '%s'\n", err, word);
    CU_ASSERT(strstr(err, word) != NULL);
    json_decref(a);
    json_decref(c);
}

static void test_pipeline_errors(void)
{
    pipe_fails("{\"type\":\"Filter\"}", "must be an array");
    pipe_fails("[\"Filter\"]", "transforms[0]: must be an object");
    pipe_fails("[{\"name\":\"x\"}]", "transforms[0] (x): \"type\" is missing");
    pipe_fails("[{\"type\":\"Filter\",\"name\":\"a\"},{\"type\":\"Filter\",\"name\":\"a\"}]",
               "'a' is defined twice");
    pipe_fails("[{\"type\":\"Filter\",\"name\":\"a b\"}]", "without ',' or spaces");
    pipe_fails("[{\"type\":\"Filter\",\"regex\":{\"x\":1}}]", "transforms.t0.regex");
    pipe_fails("[{\"type\":\"Filter\",\"predicate\":{\"pattern\":\"x\"}}]", "predicate must be");
    /* no array at all is fine */
    json_t *c = json_object();
    CU_ASSERT(sl_transforms_from_pipeline(NULL, c, err, sizeof(err)) == 0);
    CU_ASSERT(json_object_size(c) == 0);
    json_decref(c);
}

/* ======================================================================== */

int main(void)
{
    sluice_column *cols = NULL;
    size_t ncols = 0;
    if (sluice_columns_parse("id:long,name:string?,price:double,qty:int?,active:boolean", "id",
                             &cols, &ncols, err, sizeof(err)) != 0 ||
        sluice_envelope_create(TOPIC, cols, ncols, &env, err, sizeof(err)) != 0) {
        fprintf(stderr, "envelope: %s\n", err);
        return 1;
    }
    sluice_columns_free(cols, ncols);
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("transforms", NULL, NULL);
    struct {
        const char *name;
        void (*fn)(void);
    } tests[] = {
#define T(f) {#f, f}
        T(test_no_transforms),
        T(test_config_errors),
        T(test_predicate_config_errors),
        T(test_type_names),
        T(test_unwrap_create),
        T(test_unwrap_delete_default_drops),
        T(test_unwrap_rewrite),
        T(test_unwrap_delete_none_and_tombstones),
        T(test_unwrap_tombstone_handling_mode),
        T(test_unwrap_add_fields),
        T(test_unwrap_add_fields_prefix_and_rewrite),
        T(test_unwrap_add_headers),
        T(test_unwrap_route_by_field),
        T(test_unwrap_truncate_and_non_envelope),
        T(test_unwrap_bad_add_field_leaves_record),
        T(test_replace_exclude),
        T(test_replace_include_and_renames),
        T(test_replace_old_names),
        T(test_replace_key),
        T(test_replace_envelope_schema_self_contained),
        T(test_replace_nothing_changes_nothing),
        T(test_mask_zero),
        T(test_mask_replacement),
        T(test_mask_does_not_touch_original),
        T(test_mask_bad_replacement),
        T(test_insert_value),
        T(test_insert_required_missing),
        T(test_insert_key_and_tombstone),
        T(test_insert_on_non_record),
        T(test_value_to_key),
        T(test_value_to_key_missing_field),
        T(test_extract_field),
        T(test_regex_router),
        T(test_timestamp_router),
        T(test_filter_all),
        T(test_filter_topic_predicate),
        T(test_filter_tombstones),
        T(test_has_header_key),
        T(test_predicate_on_router),
        T(test_full_chain),
        T(test_many_schemas),
        T(test_throughput),
        T(test_pipeline_basic),
        T(test_pipeline_predicates_and_append),
        T(test_pipeline_errors),
#undef T
    };
    const char *only = getenv("TEST_ONLY"); /* a substring of the test names to run */
    for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
        if (!only || strstr(tests[i].name, only))
            CU_add_test(s, tests[i].name, tests[i].fn);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    sluice_envelope_destroy(env);
    return failed ? 1 : 0;
}
