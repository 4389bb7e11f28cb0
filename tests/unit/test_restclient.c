/*
 * test_restclient.c - what core/restclient.c decides before any request:
 * a registry client from Confluent's client keys (sl_restclient_registry:
 * which key is missing or wrong, named with its prefix, never echoing a
 * password) and which config keys are secrets (sl_restclient_secret_key).
 * Requests over https against real servers are tests/integration/tls_auth.sh.
 */
#include <CUnit/Basic.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "restclient.h"

#define P "value.converter."

static char err[1024];

/* A client from key/value pairs (NULL-terminated), with prefix P. */
static sl_restclient *from(const char *k1, ...)
{
    json_t *config = json_object();
    va_list ap;
    va_start(ap, k1);
    for (const char *k = k1; k; k = va_arg(ap, const char *)) {
        char key[128];
        snprintf(key, sizeof(key), P "%s", k);
        json_object_set_new(config, key, json_string(va_arg(ap, const char *)));
    }
    va_end(ap);
    err[0] = 0;
    sl_restclient *c = sl_restclient_registry(config, P, err, sizeof(err));
    json_decref(config);
    return c;
}

static void test_registry_ok(void)
{
    sl_restclient *c = from("schema.registry.url", "https://reg-a:8081/,https://reg-b:8081", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    /* the first of the list, without the trailing '/' */
    CU_ASSERT_STRING_EQUAL(sl_restclient_base_url(c), "https://reg-a:8081");
    sl_restclient_destroy(c);

    c = from("schema.registry.url", "http://r:8081", "basic.auth.credentials.source", "USER_INFO",
             "basic.auth.user.info", "alice:pw", NULL);
    CU_ASSERT_PTR_NOT_NULL(c);
    sl_restclient_destroy(c);
    c = from("schema.registry.url", "http://alice:pw@r:8081", "basic.auth.credentials.source",
             "URL", NULL);
    CU_ASSERT_PTR_NOT_NULL(c);
    sl_restclient_destroy(c);
    /* a readable CA file */
    FILE *f = fopen("test_restclient_ca.pem", "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fclose(f);
    c = from("schema.registry.url", "https://r:8081", "schema.registry.ssl.ca.location",
             "test_restclient_ca.pem", NULL);
    CU_ASSERT_PTR_NOT_NULL(c);
    sl_restclient_destroy(c);
    remove("test_restclient_ca.pem");
}

static void test_registry_refused(void)
{
    CU_ASSERT_PTR_NULL(from("basic.auth.user.info", "alice:pw", NULL));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, P "schema.registry.url: required"));

    CU_ASSERT_PTR_NULL(from("schema.registry.url", "ftp://r", NULL));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, P "schema.registry.url: 'ftp://r' is not an http"));

    CU_ASSERT_PTR_NULL(from("schema.registry.url", "http://r", "basic.auth.credentials.source",
                            "SASL_INHERIT", NULL));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, P "basic.auth.credentials.source: 'SASL_INHERIT'"));

    /* USER_INFO without a user:password: the key is named, the value never */
    CU_ASSERT_PTR_NULL(from("schema.registry.url", "http://r", "basic.auth.credentials.source",
                            "USER_INFO", "basic.auth.user.info", "s3cretnocolon", NULL));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, P "basic.auth.user.info ('user:password')"));
    CU_ASSERT_PTR_NULL(strstr(err, "s3cretnocolon"));

    CU_ASSERT_PTR_NULL(from("schema.registry.url", "https://r", "schema.registry.ssl.ca.location",
                            "/nonexistent/ca.pem", NULL));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, P "schema.registry.ssl.ca.location: CA file "
                                         "'/nonexistent/ca.pem': cannot read"));
}

static void test_secret_keys(void)
{
    CU_ASSERT_TRUE(sl_restclient_secret_key("basic.auth.user.info"));
    CU_ASSERT_TRUE(sl_restclient_secret_key("value.converter.basic.auth.user.info"));
    CU_ASSERT_TRUE(sl_restclient_secret_key("key.converter.bearer.auth.token"));
    CU_ASSERT_TRUE(sl_restclient_secret_key("key.converter.schema.registry.ssl.key.password"));
    CU_ASSERT_TRUE(sl_restclient_secret_key("schema.registry.ssl.truststore.password"));
    CU_ASSERT_FALSE(sl_restclient_secret_key("value.converter.schema.registry.url"));
    CU_ASSERT_FALSE(sl_restclient_secret_key("value.converter.basic.auth.credentials.source"));
    CU_ASSERT_FALSE(sl_restclient_secret_key("xbasic.auth.user.info")); /* not at a '.' */
    CU_ASSERT_FALSE(sl_restclient_secret_key("basic.auth.user.info.file"));
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("restclient", NULL, NULL);
    CU_add_test(s, "registry client from Confluent's keys", test_registry_ok);
    CU_add_test(s, "registry client: bad keys refused, named", test_registry_refused);
    CU_add_test(s, "secret keys", test_secret_keys);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_suites_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
