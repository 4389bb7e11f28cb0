/*
 * test_sigv4.c - the S3 sink's SigV4 signer (connectors/s3/s3_sigv4.c)
 * against AWS's published examples. s3rver does not check signatures, so
 * this is where a signing mistake would show.
 *
 * Examples (the keys are AWS's documentation keys):
 *   - S3 "Signature Calculations for the Authorization Header", GET Object:
 *     GET /test.txt with Range: bytes=0-9, examplebucket, 20130524T000000Z,
 *     AKIAIOSFODNN7EXAMPLE / wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY.
 *     Checked: canonical request hash, string to sign, signature and the
 *     whole Authorization header.
 *   - the same page's PUT Object (key "test$file.text", encoded
 *     /test%24file.text, x-amz-storage-class, a Date header), GET Bucket
 *     Lifecycle (query "lifecycle=") and List Objects (query
 *     "max-keys=2&prefix=J").
 *   - the general SigV4 documentation's signing key for 20150830 /
 *     us-east-1 / iam, and the SigV4 test suite's get-vanilla.
 *
 * The signer lives in the plugin (build/plugins/s3.so), which exports
 * s3_sigv4_sign for this test; the test loads it with dlopen.
 */
#include <CUnit/Basic.h>
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "../../connectors/s3/s3_sigv4.h"

#define S3_KEY    "AKIAIOSFODNN7EXAMPLE"
#define S3_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define EMPTY_SHA "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static s3_sigv4_sign_fn sign;
static void *lib;

static int suite_init(void)
{
    lib = dlopen(SLUICE_PLUGIN_DIR "/s3.so", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "dlopen s3.so: %s\n", dlerror());
        return -1;
    }
    sign = (s3_sigv4_sign_fn)dlsym(lib, "s3_sigv4_sign");
    return sign ? 0 : -1;
}

static int suite_clean(void)
{
    if (lib)
        dlclose(lib);
    return 0;
}

static s3_sigv4_in s3_example(const char *method, const char *uri, const char *query,
                              const char *const *headers, size_t n, const char *payload)
{
    s3_sigv4_in in = {method,      uri,  query,  headers,  n, payload, "20130524T000000Z",
                      "us-east-1", "s3", S3_KEY, S3_SECRET};
    return in;
}

static void test_get_object(void)
{
    /* given out of order on purpose: the signer sorts */
    const char *h[] = {"x-amz-date:20130524T000000Z", "range:bytes=0-9",
                       "host:examplebucket.s3.amazonaws.com", "x-amz-content-sha256:" EMPTY_SHA};
    s3_sigv4_in in = s3_example("GET", "/test.txt", "", h, 4, EMPTY_SHA);
    s3_sigv4_out out;
    CU_ASSERT_EQUAL_FATAL(sign(&in, &out), 0);
    CU_ASSERT_STRING_EQUAL(out.canonical_request_hash,
                           "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
    CU_ASSERT_STRING_EQUAL(out.string_to_sign,
                           "AWS4-HMAC-SHA256\n20130524T000000Z\n"
                           "20130524/us-east-1/s3/aws4_request\n"
                           "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
    CU_ASSERT_STRING_EQUAL(out.signature,
                           "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    CU_ASSERT_STRING_EQUAL(
        out.authorization,
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

static void test_put_object(void)
{
    const char *sha = "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072";
    const char *h[] = {
        "date:Fri, 24 May 2013 00:00:00 GMT", "host:examplebucket.s3.amazonaws.com",
        "x-amz-content-sha256:44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
        "x-amz-date:20130524T000000Z", "x-amz-storage-class:REDUCED_REDUNDANCY"};
    s3_sigv4_in in = s3_example("PUT", "/test%24file.text", "", h, 5, sha);
    s3_sigv4_out out;
    CU_ASSERT_EQUAL_FATAL(sign(&in, &out), 0);
    CU_ASSERT_STRING_EQUAL(out.canonical_request_hash,
                           "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d");
    CU_ASSERT_STRING_EQUAL(out.signature,
                           "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

static void test_get_lifecycle(void)
{
    const char *h[] = {"host:examplebucket.s3.amazonaws.com", "x-amz-content-sha256:" EMPTY_SHA,
                       "x-amz-date:20130524T000000Z"};
    s3_sigv4_in in = s3_example("GET", "/", "lifecycle=", h, 3, EMPTY_SHA);
    s3_sigv4_out out;
    CU_ASSERT_EQUAL_FATAL(sign(&in, &out), 0);
    CU_ASSERT_STRING_EQUAL(out.canonical_request_hash,
                           "9766c798316ff2757b517bc739a67f6213b4ab36dd5da2f94eaebf79c77395ca");
    CU_ASSERT_STRING_EQUAL(out.signature,
                           "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
}

static void test_list_objects(void)
{
    const char *h[] = {"host:examplebucket.s3.amazonaws.com", "x-amz-content-sha256:" EMPTY_SHA,
                       "x-amz-date:20130524T000000Z"};
    s3_sigv4_in in = s3_example("GET", "/", "max-keys=2&prefix=J", h, 3, EMPTY_SHA);
    s3_sigv4_out out;
    CU_ASSERT_EQUAL_FATAL(sign(&in, &out), 0);
    CU_ASSERT_STRING_EQUAL(out.canonical_request_hash,
                           "df57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c74750e0f1e7df1b9b7");
    CU_ASSERT_STRING_EQUAL(out.signature,
                           "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

static void test_signing_key_and_suite(void)
{
    /* SigV4 documentation: the signing key of 20150830 / us-east-1 / iam */
    const char *h1[] = {"host:iam.amazonaws.com", "x-amz-date:20150830T123600Z"};
    s3_sigv4_in in = {"GET",
                      "/",
                      "",
                      h1,
                      2,
                      EMPTY_SHA,
                      "20150830T123600Z",
                      "us-east-1",
                      "iam",
                      "AKIDEXAMPLE",
                      "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"};
    s3_sigv4_out out;
    CU_ASSERT_EQUAL_FATAL(sign(&in, &out), 0);
    CU_ASSERT_STRING_EQUAL(out.signing_key,
                           "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9");
    /* the SigV4 test suite's get-vanilla */
    const char *h2[] = {"host:example.amazonaws.com", "x-amz-date:20150830T123600Z"};
    s3_sigv4_in v = {"GET",
                     "/",
                     "",
                     h2,
                     2,
                     EMPTY_SHA,
                     "20150830T123600Z",
                     "us-east-1",
                     "service",
                     "AKIDEXAMPLE",
                     "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"};
    CU_ASSERT_EQUAL_FATAL(sign(&v, &out), 0);
    CU_ASSERT_STRING_EQUAL(out.signature,
                           "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

static void test_bad_input(void)
{
    s3_sigv4_out out;
    const char *h[] = {"host:x"};
    s3_sigv4_in in = s3_example("GET", "/", "", h, 1, EMPTY_SHA);
    in.amz_date = "2013";
    CU_ASSERT_EQUAL(sign(&in, &out), -1);
    in = s3_example("GET", "/", "", h, S3_SIGV4_MAX_HEADERS + 1, EMPTY_SHA);
    CU_ASSERT_EQUAL(sign(&in, &out), -1);
    in = s3_example("GET", "/", "", h, 1, NULL);
    CU_ASSERT_EQUAL(sign(&in, &out), -1);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("sigv4", suite_init, suite_clean);
    CU_add_test(s, "GET Object (AWS S3 example)", test_get_object);
    CU_add_test(s, "PUT Object (AWS S3 example)", test_put_object);
    CU_add_test(s, "GET Bucket Lifecycle (AWS S3 example)", test_get_lifecycle);
    CU_add_test(s, "List Objects (AWS S3 example)", test_list_objects);
    CU_add_test(s, "signing key and get-vanilla (SigV4 docs)", test_signing_key_and_suite);
    CU_add_test(s, "bad input", test_bad_input);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_suites_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
