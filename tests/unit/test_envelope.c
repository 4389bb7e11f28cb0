/*
 * test_envelope.c - the envelope's layout (sluice_envelope_layout_resolve)
 * and filling by position (sluice_envelope_fill, sluice_envelope_row_at)
 * against the by-name API and against the values a reader sees:
 *
 *   - the envelope sluice_envelope_create builds resolves, and a record
 *     filled by position is, in its Debezium JSON form and its Avro binary
 *     encoding, the record filled by name;
 *   - a schema with the envelope's and the source's fields in another order
 *     (and unions written [T, "null"]) resolves, and each field gets its
 *     value, read back by name;
 *   - lent strings are not copied (the value points at the caller's text),
 *     copied ones are;
 *   - a value pool reuses what was emitted once reclaimed, never a value
 *     still held by the source, keeps nothing once idle, and its values
 *     outlive it where the host still holds them;
 *   - a schema without a source field, with a field of another type, or
 *     with a union other than ["null", T] fails with an error naming the
 *     field, and the by-name sluice_envelope_set_source refuses it too.
 */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/envelope.h"

#define TS 1700000000000LL

static char err[512];

static avro_schema_t schema_of(const char *json)
{
    avro_schema_t s = NULL;
    if (avro_schema_from_json_length(json, strlen(json), &s) != 0)
        fprintf(stderr, "\nschema %s: %s\n", json, avro_strerror());
    CU_ASSERT_FATAL(s != NULL);
    return s;
}

/* The source every test fills: every kind of field, some null. */
static const sluice_source_info SRC = {.version = "1.2.3",
                                       .connector = "postgresql",
                                       .name = "shop",
                                       .ts_ms = TS - 5,
                                       .snapshot = "true",
                                       .db = "shopdb",
                                       .schema = "public",
                                       .table = "orders",
                                       .tx_id = 771,
                                       .lsn = 123456789,
                                       .pos = SLUICE_NULL_POS,
                                       .seq = 42,
                                       .file = NULL,
                                       .gtid = NULL};

static char *json_of(const avro_value_t *v)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;
    CU_ASSERT_FATAL(sluice_value_json_append(v, &buf, &len, &cap) == 0);
    return buf;
}

/* The Avro binary encoding of v in buf (at most cap bytes); its length. */
static size_t encode(const avro_value_t *v, char *buf, size_t cap)
{
    avro_writer_t w = avro_writer_memory(buf, (int64_t)cap);
    CU_ASSERT_FATAL(avro_value_write(w, (avro_value_t *)v) == 0);
    size_t n = (size_t)avro_writer_tell(w);
    avro_writer_free(w);
    return n;
}

/* ---- the envelope sluice_envelope_create builds ---------------------------- */

static sluice_envelope *orders_envelope(void)
{
    sluice_column *cols;
    size_t ncols;
    sluice_envelope *env = NULL;
    CU_ASSERT_FATAL(
        sluice_columns_parse("id:long,name:string?", NULL, &cols, &ncols, err, sizeof(err)) == 0);
    CU_ASSERT_FATAL(
        sluice_envelope_create("db.public.orders", cols, ncols, &env, err, sizeof(err)) == 0);
    sluice_columns_free(cols, ncols);
    return env;
}

static void fill_row(avro_value_t *row, int64_t id, const char *name)
{
    CU_ASSERT_FATAL(sluice_field_set_long(row, "id", id) == 0);
    CU_ASSERT_FATAL(sluice_field_set_string(row, "name", name) == 0);
}

static void by_name(avro_value_t *v, char op)
{
    avro_value_t row;
    CU_ASSERT_FATAL(sluice_envelope_set_source(v, &SRC) == 0);
    CU_ASSERT_FATAL(sluice_envelope_set_op(v, op) == 0);
    CU_ASSERT_FATAL(sluice_envelope_set_ts(v, TS) == 0);
    CU_ASSERT_FATAL(sluice_envelope_before(v, &row) == 0);
    fill_row(&row, 7, "old");
    CU_ASSERT_FATAL(sluice_envelope_after(v, &row) == 0);
    fill_row(&row, 7, "new");
}

static void by_position(const sluice_envelope_layout *lay, avro_value_t *v, char op, int lend)
{
    avro_value_t row;
    CU_ASSERT_FATAL(sluice_envelope_fill(lay, v, op, TS, &SRC, lend) == 0);
    CU_ASSERT_FATAL(sluice_envelope_row_at(lay, v, SLUICE_ENV_BEFORE, &row) == 0);
    fill_row(&row, 7, "old");
    CU_ASSERT_FATAL(sluice_envelope_row_at(lay, v, SLUICE_ENV_AFTER, &row) == 0);
    fill_row(&row, 7, "new");
}

static void test_created_envelope(void)
{
    sluice_envelope *env = orders_envelope();
    const sluice_envelope_layout *lay = sluice_envelope_value_layout(env);
    /* the canonical order: envelope fields 0..4, source fields 0..13 */
    for (int i = 0; i < SLUICE_ENV_NFIELDS; i++)
        CU_ASSERT(lay->env[i].index == i);
    for (int i = 0; i < SLUICE_SRC_NFIELDS; i++)
        CU_ASSERT(lay->src[i].index == i);
    CU_ASSERT(lay->env[SLUICE_ENV_OP].null_branch == -1);
    CU_ASSERT(lay->env[SLUICE_ENV_BEFORE].null_branch == 0);
    CU_ASSERT(lay->env[SLUICE_ENV_BEFORE].value_branch == 1);
    CU_ASSERT_FATAL(lay->row && strcmp(avro_schema_name(lay->row), "Value") == 0);

    const char ops[] = {'c', 'u', 'd', 'r', 't', 'X'};
    for (size_t k = 0; k < sizeof(ops); k++) {
        avro_value_t a, b, c;
        char ea[4096], eb[4096], ec[4096];
        CU_ASSERT_FATAL(sluice_envelope_new_value(env, &a) == 0);
        CU_ASSERT_FATAL(sluice_envelope_new_value(env, &b) == 0);
        CU_ASSERT_FATAL(sluice_envelope_new_value(env, &c) == 0);
        by_name(&a, ops[k]);
        by_position(lay, &b, ops[k], SLUICE_LEND);
        by_position(lay, &c, ops[k], SLUICE_COPY);
        char *ja = json_of(&a), *jb = json_of(&b), *jc = json_of(&c);
        CU_ASSERT_STRING_EQUAL(jb, ja);
        CU_ASSERT_STRING_EQUAL(jc, ja);
        char want[16];
        snprintf(want, sizeof(want), "\"op\":\"%c\"", ops[k]);
        CU_ASSERT(strstr(ja, want) != NULL);
        size_t na = encode(&a, ea, sizeof(ea)), nb = encode(&b, eb, sizeof(eb)),
               nc = encode(&c, ec, sizeof(ec));
        CU_ASSERT(na == nb && na == nc && memcmp(ea, eb, na) == 0 && memcmp(ea, ec, na) == 0);
        free(ja);
        free(jb);
        free(jc);
        avro_value_decref(&a);
        avro_value_decref(&b);
        avro_value_decref(&c);
    }
    /* before / after null by position: a create and a delete */
    avro_value_t v;
    CU_ASSERT_FATAL(sluice_envelope_new_value(env, &v) == 0);
    CU_ASSERT_FATAL(sluice_envelope_fill(lay, &v, 'c', SLUICE_NULL_POS, &SRC, SLUICE_LEND) == 0);
    avro_value_t row;
    CU_ASSERT_FATAL(sluice_envelope_row_at(lay, &v, SLUICE_ENV_AFTER, &row) == 0);
    fill_row(&row, 8, "x");
    CU_ASSERT(sluice_envelope_row_at(lay, &v, SLUICE_ENV_BEFORE, NULL) == 0);
    CU_ASSERT(sluice_envelope_row_at(lay, &v, SLUICE_ENV_OP, &row) == EINVAL);
    char *j = json_of(&v);
    CU_ASSERT(strstr(j, "{\"before\":null,\"after\":{\"id\":8,\"name\":\"x\"},") == j);
    CU_ASSERT(strstr(j, "\"op\":\"c\",\"ts_ms\":null}") != NULL);
    free(j);
    avro_value_decref(&v);
    sluice_envelope_destroy(env);
}

/* Lent strings are the caller's text; copied ones are not. */
static void test_lend_and_copy(void)
{
    sluice_envelope *env = orders_envelope();
    const sluice_envelope_layout *lay = sluice_envelope_value_layout(env);
    char table[16] = "orders";
    sluice_source_info src = SRC;
    src.table = table;
    for (int lend = 0; lend < 2; lend++) {
        avro_value_t v, s, f;
        const char *got;
        size_t len;
        CU_ASSERT_FATAL(sluice_envelope_new_value(env, &v) == 0);
        CU_ASSERT_FATAL(sluice_envelope_fill(lay, &v, 'r', TS, &src, lend) == 0);
        CU_ASSERT_FATAL(avro_value_get_by_name(&v, "source", &s, NULL) == 0);
        CU_ASSERT_FATAL(avro_value_get_by_name(&s, "table", &f, NULL) == 0);
        CU_ASSERT_FATAL(avro_value_get_current_branch(&f, &f) == 0);
        CU_ASSERT_FATAL(avro_value_get_string(&f, &got, &len) == 0);
        CU_ASSERT(len == strlen("orders") + 1 && strcmp(got, "orders") == 0);
        CU_ASSERT((got == table) == (lend == SLUICE_LEND));
        avro_value_decref(&v);
    }
    sluice_envelope_destroy(env);
}

/* ---- other schemas ------------------------------------------------------------ */

/* An envelope with its fields in another order, the source record's fields
 * in reverse order and nullable fields written [T, "null"]; without source
 * field `drop`, and with source field `retype` of the other type (string
 * for long, long for string), when not NULL. */
static char *shuffled_schema(const char *drop, const char *retype)
{
    static const struct {
        const char *name, *type;
        int nullable;
    } f[] = {{"seq", "long", 1},         {"gtid", "string", 1},   {"pos", "long", 1},
             {"file", "string", 1},      {"lsn", "long", 1},      {"txId", "long", 1},
             {"table", "string", 1},     {"schema", "string", 1}, {"db", "string", 1},
             {"snapshot", "string", 1},  {"ts_ms", "long", 0},    {"name", "string", 0},
             {"connector", "string", 0}, {"version", "string", 0}};
    char *out = malloc(8192);
    size_t n = 0;
    n += (size_t)snprintf(out + n, 8192 - n,
                          "{\"type\":\"record\",\"name\":\"Envelope\",\"namespace\":\"x\","
                          "\"fields\":[{\"name\":\"ts_ms\",\"type\":[\"long\",\"null\"]},"
                          "{\"name\":\"op\",\"type\":\"string\"},"
                          "{\"name\":\"after\",\"type\":[{\"type\":\"record\",\"name\":\"Row\","
                          "\"fields\":[{\"name\":\"id\",\"type\":\"long\"},{\"name\":\"name\","
                          "\"type\":\"string\"}]},\"null\"]},"
                          "{\"name\":\"source\",\"type\":{\"type\":\"record\",\"name\":"
                          "\"Source\",\"fields\":[");
    int first = 1;
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
        if (drop && strcmp(drop, f[i].name) == 0)
            continue;
        const char *type = retype && strcmp(retype, f[i].name) == 0
                               ? (strcmp(f[i].type, "long") ? "long" : "string")
                               : f[i].type;
        n += (size_t)snprintf(out + n, 8192 - n,
                              f[i].nullable ? "%s{\"name\":\"%s\",\"type\":[\"%s\",\"null\"]}"
                                            : "%s{\"name\":\"%s\",\"type\":\"%s\"}",
                              first ? "" : ",", f[i].name, type);
        first = 0;
    }
    snprintf(out + n, 8192 - n, "]}},{\"name\":\"before\",\"type\":[\"Row\",\"null\"]}]}");
    return out;
}

static void test_other_order(void)
{
    char *json = shuffled_schema(NULL, NULL);
    avro_schema_t s = schema_of(json);
    sluice_envelope_layout lay;
    CU_ASSERT_FATAL(sluice_envelope_layout_resolve(s, &lay, err, sizeof(err)) == 0);
    CU_ASSERT(lay.env[SLUICE_ENV_TS_MS].index == 0 && lay.env[SLUICE_ENV_TS_MS].null_branch == 1 &&
              lay.env[SLUICE_ENV_TS_MS].value_branch == 0);
    CU_ASSERT(lay.env[SLUICE_ENV_BEFORE].index == 4 && lay.env[SLUICE_ENV_SOURCE].index == 3);
    CU_ASSERT(lay.src[SLUICE_SRC_SEQ].index == 0 && lay.src[SLUICE_SRC_VERSION].index == 13);
    CU_ASSERT_FATAL(lay.row && strcmp(avro_schema_name(lay.row), "Row") == 0);

    avro_value_iface_t *iface = avro_generic_class_from_schema(s);
    avro_value_t v, row;
    CU_ASSERT_FATAL(iface && avro_generic_value_new(iface, &v) == 0);
    CU_ASSERT_FATAL(sluice_envelope_fill(&lay, &v, 'u', TS, &SRC, SLUICE_LEND) == 0);
    CU_ASSERT_FATAL(sluice_envelope_row_at(&lay, &v, SLUICE_ENV_BEFORE, NULL) == 0);
    CU_ASSERT_FATAL(sluice_envelope_row_at(&lay, &v, SLUICE_ENV_AFTER, &row) == 0);
    fill_row(&row, 9, "nine");
    char *j = json_of(&v);
    CU_ASSERT_STRING_EQUAL(
        j, "{\"ts_ms\":1700000000000,\"op\":\"u\",\"after\":{\"id\":9,\"name\":\"nine\"},"
           "\"source\":{\"seq\":42,\"gtid\":null,\"pos\":null,\"file\":null,\"lsn\":123456789,"
           "\"txId\":771,\"table\":\"orders\",\"schema\":\"public\",\"db\":\"shopdb\","
           "\"snapshot\":\"true\",\"ts_ms\":1699999999995,\"name\":\"shop\",\"connector\":"
           "\"postgresql\",\"version\":\"1.2.3\"},\"before\":null}");
    free(j);

    /* the by-name calls find the same fields */
    avro_value_t w;
    CU_ASSERT_FATAL(avro_generic_value_new(iface, &w) == 0);
    CU_ASSERT(sluice_envelope_set_source(&w, &SRC) == 0);
    CU_ASSERT(sluice_envelope_set_op(&w, 'u') == 0);
    CU_ASSERT(sluice_envelope_set_ts(&w, TS) == 0);
    CU_ASSERT(sluice_envelope_row_at(&lay, &w, SLUICE_ENV_BEFORE, NULL) == 0);
    CU_ASSERT(sluice_envelope_after(&w, &row) == 0);
    fill_row(&row, 9, "nine");
    char *jv = json_of(&v), *jw = json_of(&w);
    CU_ASSERT_STRING_EQUAL(jw, jv);
    free(jv);
    free(jw);
    avro_value_decref(&v);
    avro_value_decref(&w);
    avro_value_iface_decref(iface);
    avro_schema_decref(s);
    free(json);
}

/* resolve fails naming `field`; so does set_source on a value of it. */
static void expect_refused(const char *json, const char *field)
{
    avro_schema_t s = schema_of(json);
    sluice_envelope_layout lay;
    err[0] = '\0';
    CU_ASSERT(sluice_envelope_layout_resolve(s, &lay, err, sizeof(err)) == -1);
    if (!strstr(err, field))
        fprintf(stderr, "\nerror '%s' does not name %s\n", err, field);
    CU_ASSERT(strstr(err, field) != NULL);
    avro_value_iface_t *iface = avro_generic_class_from_schema(s);
    avro_value_t v;
    CU_ASSERT_FATAL(iface && avro_generic_value_new(iface, &v) == 0);
    CU_ASSERT(sluice_envelope_set_source(&v, &SRC) != 0);
    avro_value_decref(&v);
    avro_value_iface_decref(iface);
    avro_schema_decref(s);
}

static void test_refused(void)
{
    static const char *const drop[] = {"lsn", "version", "seq", "snapshot"};
    for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]); i++) {
        char *json = shuffled_schema(drop[i], NULL);
        expect_refused(json, drop[i]);
        free(json);
    }
    static const char *const retype[] = {"txId", "table", "ts_ms"};
    for (size_t i = 0; i < sizeof(retype) / sizeof(retype[0]); i++) {
        char *json = shuffled_schema(NULL, retype[i]);
        expect_refused(json, retype[i]);
        free(json);
    }
    /* envelope fields: missing, not nullable, of another type, a wider union */
    char *json = shuffled_schema(NULL, NULL), *p;
    char *bad = malloc(strlen(json) + 64);
    p = strstr(json, "\"op\"");
    snprintf(bad, strlen(json) + 64, "%.*s\"opx\"%s", (int)(p - json), json, p + 4);
    expect_refused(bad, "op");
    p = strstr(json, "{\"name\":\"op\",\"type\":\"string\"}");
    snprintf(bad, strlen(json) + 64, "%.*s{\"name\":\"op\",\"type\":\"long\"}%s", (int)(p - json),
             json, p + strlen("{\"name\":\"op\",\"type\":\"string\"}"));
    expect_refused(bad, "op");
    p = strstr(json, "[\"Row\",\"null\"]");
    snprintf(bad, strlen(json) + 64, "%.*s\"Row\"%s", (int)(p - json), json,
             p + strlen("[\"Row\",\"null\"]"));
    expect_refused(bad, "before");
    snprintf(bad, strlen(json) + 64, "%.*s[\"Row\",\"null\",\"long\"]%s", (int)(p - json), json,
             p + strlen("[\"Row\",\"null\"]"));
    expect_refused(bad, "before");
    free(bad);
    free(json);
    /* not an envelope at all */
    expect_refused("{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":"
                   "\"int\"}]}",
                   "before");
    expect_refused("\"string\"", "before");
}

/* ---- the value pool ------------------------------------------------------------ */

static void test_pool(void)
{
    avro_schema_t sc = schema_of("{\"type\":\"record\",\"name\":\"r\",\"fields\":["
                                 "{\"name\":\"id\",\"type\":\"long\"},"
                                 "{\"name\":\"name\",\"type\":\"string\"}]}");
    avro_value_iface_t *iface = avro_generic_class_from_schema(sc);
    sluice_value_pool pool;
    avro_value_t v, held, again, f;
    int64_t id = 0;
    CU_ASSERT_FATAL(iface != NULL);
    sluice_pool_init(&pool, iface);
    /* poll 1: one record emitted (the host owns v), one still queued (held) */
    CU_ASSERT_FATAL(sluice_pool_get(&pool, &v) == 0);
    CU_ASSERT_FATAL(avro_value_get_by_index(&v, 1, &f, NULL) == 0);
    CU_ASSERT_FATAL(avro_value_set_string(&f, "first") == 0);
    sluice_pool_lent(&pool, &v);
    CU_ASSERT_FATAL(sluice_pool_get(&pool, &held) == 0);
    void *first = v.self;
    avro_value_decref(&v); /* the host converted the batch (NULLs v) */
    /* poll 2: the emitted value comes back, the queued one never */
    sluice_pool_reclaim(&pool);
    CU_ASSERT_FATAL(sluice_pool_get(&pool, &again) == 0);
    CU_ASSERT(again.self == first);
    CU_ASSERT(again.self != held.self);
    CU_ASSERT_FATAL(sluice_pool_get(&pool, &v) == 0); /* the pool is empty: a new one */
    CU_ASSERT(v.self != again.self && v.self != held.self);
    avro_value_decref(&v);
    avro_value_decref(&held);
    /* emitted and still held by the host when the pool goes */
    CU_ASSERT_FATAL(avro_value_get_by_index(&again, 0, &f, NULL) == 0);
    CU_ASSERT_FATAL(avro_value_set_long(&f, 42) == 0);
    sluice_pool_lent(&pool, &again);
    sluice_pool_reclaim(&pool);
    CU_ASSERT(pool.n_free == 1); /* 3 taken since the last reclaim: kept */
    sluice_pool_reclaim(&pool);
    CU_ASSERT(pool.n_free == 0); /* idle: nothing kept */
    CU_ASSERT_FATAL(sluice_pool_get(&pool, &v) == 0);
    sluice_pool_lent(&pool, &v);
    sluice_pool_done(&pool);
    CU_ASSERT_FATAL(avro_value_get_by_index(&v, 0, &f, NULL) == 0);
    CU_ASSERT(avro_value_get_long(&f, &id) == 0);
    avro_value_decref(&v); /* the host's reference, the last one */
    avro_value_decref(&again);
    avro_value_iface_decref(iface);
    avro_schema_decref(sc);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("envelope", NULL, NULL);
    CU_add_test(s, "the created envelope: by position = by name", test_created_envelope);
    CU_add_test(s, "lent strings are not copied", test_lend_and_copy);
    CU_add_test(s, "fields in another order", test_other_order);
    CU_add_test(s, "missing or mistyped fields are refused", test_refused);
    CU_add_test(s, "the value pool", test_pool);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
