/*
 * test_registry_records.c - the registry's records in the _schemas topic are
 * Confluent's, byte for byte (store.h), so a Confluent registry pointed at
 * the same topic, or tools reading it, understand them. And the rule every
 * instance applies while reading them (sl_store_view_apply): the first record
 * to claim a subject's version, or an id, wins, so instances that write at
 * the same moment agree, also after the topic is compacted.
 */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

static void expect(char *got, const char *want)
{
    CU_ASSERT_STRING_EQUAL(got, want);
    free(got);
}

static void test_keys(void)
{
    expect(sl_store_schema_key("orders-value", 3),
           "{\"keytype\":\"SCHEMA\",\"subject\":\"orders-value\",\"version\":3,\"magic\":1}");
    expect(sl_store_setting_key("CONFIG", NULL),
           "{\"keytype\":\"CONFIG\",\"subject\":null,\"magic\":0}");
    expect(sl_store_setting_key("CONFIG", "s"),
           "{\"keytype\":\"CONFIG\",\"subject\":\"s\",\"magic\":0}");
    expect(sl_store_setting_key("MODE", "s"),
           "{\"keytype\":\"MODE\",\"subject\":\"s\",\"magic\":0}");
    expect(sl_store_setting_key("DELETE_SUBJECT", "s"),
           "{\"keytype\":\"DELETE_SUBJECT\",\"subject\":\"s\",\"magic\":0}");
}

static void test_values(void)
{
    sl_store_schema s = {.subject = "Kafka-key", .version = 1, .id = 1, .schema = "\"string\""};
    expect(sl_store_schema_value(&s), "{\"subject\":\"Kafka-key\",\"version\":1,\"id\":1,"
                                      "\"schema\":\"\\\"string\\\"\",\"deleted\":false}");
    s.deleted = 1;
    s.references = json_pack("[{s:s, s:s, s:i}]", "name", "a.B", "subject", "b", "version", 2);
    expect(sl_store_schema_value(&s),
           "{\"subject\":\"Kafka-key\",\"version\":1,\"id\":1,\"references\":[{\"name\":\"a.B\","
           "\"subject\":\"b\",\"version\":2}],\"schema\":\"\\\"string\\\"\",\"deleted\":true}");
    json_decref(s.references);
    expect(sl_store_setting_value("compatibilityLevel", "FULL"),
           "{\"compatibilityLevel\":\"FULL\"}");
    expect(sl_store_setting_value("mode", "READONLY"), "{\"mode\":\"READONLY\"}");
    expect(sl_store_delete_subject_value("s", 4), "{\"subject\":\"s\",\"version\":4}");
}

/* ---- the replay rule ---- */

typedef struct rec {
    char *key, *val; /* val NULL: tombstone */
} rec;

static rec schema_rec(const char *subject, int version, int id, const char *text, int deleted)
{
    sl_store_schema s = {.subject = (char *)subject,
                         .version = version,
                         .id = id,
                         .schema = (char *)text,
                         .deleted = deleted};
    rec r = {sl_store_schema_key(subject, version), sl_store_schema_value(&s)};
    return r;
}

static int apply(sl_store_view *v, rec r, int64_t offset)
{
    return sl_store_view_apply(v, r.key, strlen(r.key), r.val, r.val ? strlen(r.val) : 0, offset,
                               NULL, NULL);
}

static const sl_store_schema *get(const sl_store_view *v, const char *subject, int version)
{
    for (size_t i = 0; i < v->nschemas; i++)
        if (v->schemas[i].version == version && !strcmp(v->schemas[i].subject, subject))
            return &v->schemas[i];
    return NULL;
}

static void free_recs(rec *r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(r[i].key), free(r[i].val);
}

/* Two instances both took id 2 for different schemas: the lower offset wins,
 * the other record changes nothing, not even the largest id. */
static void test_first_id_claim_wins(void)
{
    sl_store_view v = {0};
    rec r[] = {schema_rec("a", 1, 1, "\"int\"", 0), schema_rec("b", 1, 2, "\"long\"", 0),
               schema_rec("c", 1, 2, "\"string\"", 0), schema_rec("c", 1, 3, "\"string\"", 0),
               schema_rec("d", 1, 2, "\"long\"", 0)};
    CU_ASSERT_EQUAL(apply(&v, r[0], 0), 1);
    CU_ASSERT_EQUAL(apply(&v, r[1], 1), 1);
    CU_ASSERT_EQUAL(apply(&v, r[2], 2), 0);
    CU_ASSERT_PTR_NULL(get(&v, "c", 1));
    CU_ASSERT_EQUAL(v.max_id, 2);
    CU_ASSERT_EQUAL(apply(&v, r[3], 3), 1); /* the loser's retry, fresh id, same key */
    CU_ASSERT_EQUAL(get(&v, "c", 1)->id, 3);
    CU_ASSERT_EQUAL(apply(&v, r[4], 4), 1); /* the same schema under another subject */
    CU_ASSERT_EQUAL(get(&v, "d", 1)->id, 2);
    CU_ASSERT_EQUAL(v.max_id, 3);
    sl_store_view_free(&v);
    free_recs(r, 5);
}

/* Two instances both took version 1 of "s": the first stands; the same
 * record again (the loser's re-append, a soft delete) is accepted, a soft
 * delete is never undone by a later copy. */
static void test_first_version_claim_wins(void)
{
    sl_store_view v = {0};
    rec r[] = {schema_rec("s", 1, 1, "\"int\"", 0), schema_rec("s", 1, 2, "\"long\"", 0),
               schema_rec("s", 1, 1, "\"long\"", 0), schema_rec("s", 1, 1, "\"int\"", 1),
               schema_rec("s", 1, 1, "\"int\"", 0)};
    CU_ASSERT_EQUAL(apply(&v, r[0], 10), 1);
    CU_ASSERT_EQUAL(apply(&v, r[1], 11), 0); /* other id, other schema */
    CU_ASSERT_EQUAL(apply(&v, r[2], 12), 0); /* same id, other schema */
    const sl_store_schema *s = get(&v, "s", 1);
    CU_ASSERT_STRING_EQUAL(s->schema, "\"int\"");
    CU_ASSERT_EQUAL(s->offset, 10);
    CU_ASSERT_EQUAL(v.max_id, 1);
    CU_ASSERT_EQUAL(apply(&v, r[3], 13), 1);
    CU_ASSERT_TRUE(get(&v, "s", 1)->deleted);
    CU_ASSERT_EQUAL(apply(&v, r[4], 14), 1);
    CU_ASSERT_TRUE(get(&v, "s", 1)->deleted);
    CU_ASSERT_EQUAL(get(&v, "s", 1)->offset, 10);
    sl_store_view_free(&v);
    free_recs(r, 5);
}

/* A tombstone (permanent delete) frees the version for a new claim. */
static void test_tombstone_frees_version(void)
{
    sl_store_view v = {0};
    rec r[] = {schema_rec("s", 1, 1, "\"int\"", 1),
               {sl_store_schema_key("s", 1), NULL},
               schema_rec("s", 1, 2, "\"long\"", 0)};
    apply(&v, r[0], 0);
    CU_ASSERT_EQUAL(apply(&v, r[1], 1), 1);
    CU_ASSERT_PTR_NULL(get(&v, "s", 1));
    CU_ASSERT_EQUAL(apply(&v, r[2], 2), 1);
    CU_ASSERT_EQUAL(get(&v, "s", 1)->id, 2);
    sl_store_view_free(&v);
    free_recs(r, 3);
}

static int same_ignoring_spaces(void *arg, const sl_store_view *v, const sl_store_schema *have,
                                const char *schema, json_t *refs)
{
    const char *a = have->schema, *b = schema;
    (void)v, (void)refs;
    ++*(int *)arg;
    for (;; a++, b++) {
        while (*a == ' ')
            a++;
        while (*b == ' ')
            b++;
        if (*a != *b)
            return 0;
        if (!*a)
            return 1;
    }
}

/* The same schema in another spelling keeps its id under another subject:
 * the hook (the registry's identity) decides when the texts differ. */
static void test_identity_hook(void)
{
    sl_store_view v = {0};
    int calls = 0;
    rec r[] = {schema_rec("a", 1, 7, "{\"type\":\"int\"}", 0),
               schema_rec("b", 1, 7, "{\"type\": \"int\"}", 0),
               schema_rec("c", 1, 7, "{\"type\":\"long\"}", 0)};
    for (int i = 0; i < 3; i++)
        sl_store_view_apply(&v, r[i].key, strlen(r[i].key), r[i].val, strlen(r[i].val), i,
                            same_ignoring_spaces, &calls);
    CU_ASSERT_PTR_NOT_NULL(get(&v, "b", 1));
    CU_ASSERT_PTR_NULL(get(&v, "c", 1));
    CU_ASSERT_EQUAL(calls, 2);
    sl_store_view_free(&v);
    free_recs(r, 3);
}

static int cmp_line(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* What a view says, one line per version, sorted. */
static char *describe(const sl_store_view *v)
{
    size_t cap = 64 + v->nschemas * 128, len = 0;
    char *out = calloc(1, cap), **lines = calloc(v->nschemas + 1, sizeof(char *));
    for (size_t i = 0; i < v->nschemas; i++) {
        const sl_store_schema *s = &v->schemas[i];
        lines[i] = malloc(128);
        snprintf(lines[i], 128, "%s/%d=%d:%s:%d\n", s->subject, s->version, s->id, s->schema,
                 s->deleted);
    }
    qsort(lines, v->nschemas, sizeof(char *), cmp_line);
    for (size_t i = 0; i < v->nschemas; i++) {
        len += (size_t)snprintf(out + len, cap - len, "%s", lines[i]);
        free(lines[i]);
    }
    free(lines);
    snprintf(out + len, cap - len, "max %d", v->max_id);
    return out;
}

/* A race as two instances write it, with the losers' re-appends and
 * retries: replaying the whole log and replaying it compacted (newest record
 * per key, in log order) give the same view. Without the re-append of the
 * winner, compaction would keep the loser's record of "s" version 2. */
static void test_compaction_keeps_the_winners(void)
{
    rec log[] = {
        schema_rec("s", 1, 1, "\"int\"", 0),
        schema_rec("s", 2, 2, "\"long\"", 0),   /* A wins s/2 and id 2 */
        schema_rec("s", 2, 2, "\"string\"", 0), /* B loses both */
        schema_rec("t", 1, 2, "\"bytes\"", 0),  /* C loses id 2 */
        schema_rec("s", 2, 2, "\"long\"", 0),   /* B re-appends A's record */
        schema_rec("s", 3, 4, "\"string\"", 0), /* B's retry */
        schema_rec("t", 1, 3, "\"bytes\"", 0),  /* C's retry, same key */
        schema_rec("s", 1, 1, "\"int\"", 1),    /* a soft delete */
    };
    size_t n = sizeof(log) / sizeof(log[0]);
    sl_store_view full = {0}, compacted = {0};
    for (size_t i = 0; i < n; i++)
        apply(&full, log[i], (int64_t)i);
    for (size_t i = 0; i < n; i++) {
        int newest = 1;
        for (size_t j = i + 1; j < n; j++)
            newest &= strcmp(log[i].key, log[j].key) != 0;
        if (newest)
            apply(&compacted, log[i], (int64_t)i);
    }
    char *a = describe(&full), *b = describe(&compacted);
    CU_ASSERT_STRING_EQUAL(a, b);
    CU_ASSERT_STRING_EQUAL(a, "s/1=1:\"int\":1\ns/2=2:\"long\":0\ns/3=4:\"string\":0\n"
                              "t/1=3:\"bytes\":0\nmax 4");
    free(a);
    free(b);
    sl_store_view_free(&full);
    sl_store_view_free(&compacted);
    free_recs(log, n);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("registry_records", NULL, NULL);
    CU_add_test(s, "keys", test_keys);
    CU_add_test(s, "values", test_values);
    CU_add_test(s, "first id claim wins", test_first_id_claim_wins);
    CU_add_test(s, "first version claim wins", test_first_version_claim_wins);
    CU_add_test(s, "tombstone frees version", test_tombstone_frees_version);
    CU_add_test(s, "identity hook", test_identity_hook);
    CU_add_test(s, "compaction keeps the winners", test_compaction_keeps_the_winners);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
