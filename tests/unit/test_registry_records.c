/*
 * test_registry_records.c - the registry's records in the _schemas topic are
 * Confluent's, byte for byte (store.h), so a Confluent registry pointed at
 * the same topic, or tools reading it, understand them.
 */
#include <CUnit/Basic.h>
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

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("registry_records", NULL, NULL);
    CU_add_test(s, "keys", test_keys);
    CU_add_test(s, "values", test_values);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
