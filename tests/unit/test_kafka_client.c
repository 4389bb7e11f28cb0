/*
 * test_kafka_client.c - core/kafka_client.c without a broker: Kafka's
 * sasl.jaas.config text parsed into user and password (and refused, never
 * quoted, when it is not a PlainLoginModule / ScramLoginModule entry), the
 * layers applied onto an rd_kafka_conf_t (names mapped to librdkafka's,
 * later layers winning, PLAIN chosen over librdkafka's GSSAPI default), bad
 * values named with their prefix, and the check that SASL has credentials;
 * librdkafka's log lines of a labelled handle (a port nobody listens on).
 * Against a real SASL broker: tests/integration/kafka_sasl_clients.sh.
 */
#include <CUnit/Basic.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kafka_client.h"
#include "logging.h"
#include "restclient.h"

#define PLAIN "org.apache.kafka.common.security.plain.PlainLoginModule"
#define SCRAM "org.apache.kafka.common.security.scram.ScramLoginModule"

static char err[1024], user[256], pass[512], module;

static int parse(const char *jaas)
{
    err[0] = user[0] = pass[0] = 0;
    return sl_kafka_jaas_parse(jaas, &module, user, sizeof(user), pass, sizeof(pass), err,
                               sizeof(err));
}

static void test_jaas_ok(void)
{
    CU_ASSERT_EQUAL(parse(PLAIN " required username=\"alice\" password=\"s3cret\";"), 0);
    CU_ASSERT_EQUAL(module, 'P');
    CU_ASSERT_STRING_EQUAL(user, "alice");
    CU_ASSERT_STRING_EQUAL(pass, "s3cret");
    /* spread over lines, other options, escapes, bare words, password first */
    CU_ASSERT_EQUAL(parse("  " SCRAM "\n  required\n  tokenauth=false password=\"a\\\"b;c d\"\n"
                          "  username=bob ;  "),
                    0);
    CU_ASSERT_EQUAL(module, 'S');
    CU_ASSERT_STRING_EQUAL(user, "bob");
    CU_ASSERT_STRING_EQUAL(pass, "a\"b;c d");
}

/* Refused with want in the message, which never holds the password. */
static void refused(const char *jaas, const char *want)
{
    CU_ASSERT_EQUAL(parse(jaas), -1);
    if (!strstr(err, want))
        fprintf(stderr, "\n  '%s': expected '%s' in '%s'\n", jaas, want, err);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
    CU_ASSERT_PTR_NULL(strstr(err, "pw-9"));
}

static void test_jaas_refused(void)
{
    refused(PLAIN " required username=\"a\" password=\"pw-9\"", "must end with ';'");
    refused("com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true;",
            "login module com.sun.security.auth.module.Krb5LoginModule is not supported");
    refused("pw-9", "expected '" PLAIN " required");
    refused(PLAIN " username=\"a\" password=\"pw-9\";", "control flag 'required'");
    refused(PLAIN " required username=\"a\";", "no password=");
    refused(PLAIN " required password=\"pw-9\";", "no username=");
    refused(PLAIN " required username=\"a\" password=\"pw-9;", "quote is not closed");
    refused(PLAIN " required username=\"a\" password=\"pw-9\"; " PLAIN " required;",
            "one login module only");
    refused(PLAIN " required =\"pw-9\";", "option=\"value\" pairs");
}

static const char *get(rd_kafka_conf_t *c, const char *k)
{
    static char v[512];
    size_t len = sizeof(v);
    return rd_kafka_conf_get(c, k, v, &len) == RD_KAFKA_CONF_OK ? v : "?";
}

static void test_layers(void)
{
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    json_t *base =
        json_pack("{s:s, s:s}", "security.protocol", "SASL_PLAINTEXT", "sasl.jaas.config",
                  PLAIN " required username=\"alice\" password=\"a1\";");
    json_t *over = json_pack("{s:s, s:s}", "consumer.override.sasl.username", "bob",
                             "consumer.override.sasl.password", "b2");
    CU_ASSERT_EQUAL(sl_kafka_client_check(c, "t", "", err, sizeof(err)), 0); /* plaintext */
    CU_ASSERT_EQUAL(sl_kafka_client_conf(c, base, "", err, sizeof(err)), 0);
    CU_ASSERT_STRING_EQUAL(get(c, "security.protocol"), "sasl_plaintext");
    CU_ASSERT_STRING_EQUAL(get(c, "sasl.mechanisms"), "PLAIN"); /* not GSSAPI */
    CU_ASSERT_STRING_EQUAL(get(c, "sasl.username"), "alice");
    CU_ASSERT_EQUAL(sl_kafka_client_conf(c, over, "consumer.override.", err, sizeof(err)), 0);
    CU_ASSERT_STRING_EQUAL(get(c, "sasl.username"), "bob");
    CU_ASSERT_STRING_EQUAL(get(c, "sasl.password"), "b2");
    CU_ASSERT_EQUAL(sl_kafka_client_check(c, "t", "", err, sizeof(err)), 0);
    json_decref(base);
    json_decref(over);
    rd_kafka_conf_destroy(c);
}

/* The layer {prefix + key: value} is refused with want in err. */
static void layer_refused(const char *prefix, const char *key, const char *value, const char *want)
{
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    char name[256];
    snprintf(name, sizeof(name), "%s%s", prefix, key);
    json_t *l = json_pack("{s:s}", name, value);
    CU_ASSERT_EQUAL(sl_kafka_client_conf(c, l, prefix, err, sizeof(err)), -1);
    if (!strstr(err, want))
        fprintf(stderr, "\n  %s=%s: expected '%s' in '%s'\n", name, value, want, err);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
    json_decref(l);
    rd_kafka_conf_destroy(c);
}

static void test_bad_values(void)
{
    layer_refused("kafkastore.", "security.protocol", "TLS",
                  "kafkastore.security.protocol: 'TLS' is not one of PLAINTEXT");
    layer_refused("", "sasl.mechanism", "GSSAPI", "sasl.mechanism: 'GSSAPI' is not supported");
    layer_refused("consumer.", "sasl.jaas.config", PLAIN " required username=\"a\";",
                  "consumer.sasl.jaas.config: no password=");
    layer_refused("", "ssl.truststore.location", "/etc/kafka/truststore.jks",
                  "ssl.truststore.location: Java keystores (JKS) are not read");
    layer_refused("", "ssl.ca.location", "/nonexistent/ca.pem",
                  "ssl.ca.location '/nonexistent/ca.pem': cannot read");
    layer_refused("", "ssl.endpoint.identification.algorithm", "http", "must be https or empty");
    /* SASL without credentials: refused by the check, naming the prefix */
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    sl_kafka_security sec = {{0}};
    sec.v[SL_KC_PROTOCOL] = "SASL_SSL";
    CU_ASSERT_EQUAL(sl_kafka_client_conf_sec(c, &sec, "kafkastore.", err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(sl_kafka_client_check(c, "kafkastore", "kafkastore.", err, sizeof(err)), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err,
                                  "kafkastore.security.protocol SASL_SSL needs credentials: set "
                                  "kafkastore.sasl.jaas.config"));
    rd_kafka_conf_destroy(c);
}

static void test_keys(void)
{
    CU_ASSERT_TRUE(sl_kafka_client_key("sasl.jaas.config"));
    CU_ASSERT_TRUE(sl_kafka_client_key("ssl.truststore.location"));
    CU_ASSERT_FALSE(sl_kafka_client_key("fetch.min.bytes"));
    CU_ASSERT_TRUE(sl_restclient_secret_key("consumer.override.sasl.jaas.config"));
    CU_ASSERT_TRUE(sl_restclient_secret_key("sasl.password"));
    CU_ASSERT_FALSE(sl_restclient_secret_key("sasl.username"));
}

/* A producer of a port nobody listens on, retrying every 10 ms for 2 s:
 * its refused connection is written once, as "[t/0] producer: FAIL: ...",
 * never in librdkafka's format ("%3|...|FAIL|..."); the repeats not
 * written are counted when the handle goes (a debug line). */
static void test_log_lines(void)
{
    char path[] = "/tmp/test_kafka_client.XXXXXX", e[256], line[1024];
    int fd = mkstemp(path), saved = dup(STDERR_FILENO);
    CU_ASSERT_FATAL(fd >= 0 && saved >= 0);
    dup2(fd, STDERR_FILENO);
    sl_logging_set_level(SL_DEBUG);
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rd_kafka_conf_set(c, "bootstrap.servers", "127.0.0.1:1", e, sizeof(e));
    rd_kafka_conf_set(c, "reconnect.backoff.ms", "10", e, sizeof(e));
    rd_kafka_conf_set(c, "reconnect.backoff.max.ms", "10", e, sizeof(e));
    CU_ASSERT_EQUAL(sl_kafka_client_log(c, "t/0", "producer", 0), 0);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, e, sizeof(e));
    CU_ASSERT_PTR_NOT_NULL_FATAL(rk);
    usleep(2000 * 1000);
    rd_kafka_destroy(rk);
    dup2(saved, STDERR_FILENO);
    close(saved);
    sl_logging_set_level(SL_INFO);
    FILE *f = fdopen(fd, "r");
    rewind(f);
    int written = 0, raw = 0, counted = 0;
    while (fgets(line, sizeof(line), f)) {
        const char *refused = "[t/0] producer: FAIL: 127.0.0.1:1/bootstrap: Connect to "
                              "ipv4#127.0.0.1:1 failed: Connection refused";
        raw += line[0] == '%';
        if (strstr(line, refused) && strstr(line, " ERROR [t/0]") && strstr(line, "(after "))
            written++;
        unsigned n = 0;
        const char *more = strstr(line, " more like it, not logged)");
        if (strstr(line, " DEBUG [t/0] producer: FAIL: ") && strstr(line, refused) && more &&
            sscanf(strrchr(line, '(') + 1, "%u", &n) == 1 && n >= 1)
            counted++;
    }
    fclose(f);
    unlink(path);
    CU_ASSERT_EQUAL(raw, 0);
    CU_ASSERT_EQUAL(written, 1);
    CU_ASSERT_EQUAL(counted, 1);
}

/* A labelled conf whose rd_kafka_new fails after the handle was begun (a
 * CA file that is no PEM: the TLS context fails): sl_kafka_client_new
 * returns NULL without freeing librdkafka's interceptors twice, as
 * rd_kafka_conf_destroy would (run under valgrind or SLUICE_SANITIZE to
 * see it); one refused before (an unknown property value) and one never
 * used are destroyed with their labels. */
static void test_log_failed_new(void)
{
    char path[] = "/tmp/test_kafka_client_ca.XXXXXX", e[512];
    int fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(write(fd, "not a certificate\n", 18), 18);
    close(fd);
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rd_kafka_conf_set(c, "security.protocol", "SSL", e, sizeof(e));
    rd_kafka_conf_set(c, "ssl.ca.location", path, e, sizeof(e));
    CU_ASSERT_EQUAL(sl_kafka_client_log(c, "t/1", "consumer", 0), 0);
    rd_kafka_t *rk = sl_kafka_client_new(RD_KAFKA_PRODUCER, c, e, sizeof(e));
    CU_ASSERT_PTR_NULL(rk);
    if (rk)
        rd_kafka_destroy(rk);
    unlink(path);
    /* refused by rd_kafka_new's own checks, before the handle */
    c = rd_kafka_conf_new();
    rd_kafka_conf_set(c, "enable.idempotence", "true", e, sizeof(e));
    rd_kafka_conf_set(c, "acks", "1", e, sizeof(e));
    CU_ASSERT_EQUAL(sl_kafka_client_log(c, "t/3", NULL, 0), 0);
    CU_ASSERT_PTR_NULL(sl_kafka_client_new(RD_KAFKA_PRODUCER, c, e, sizeof(e)));
    /* a conf labelled and never used */
    c = rd_kafka_conf_new();
    CU_ASSERT_EQUAL(sl_kafka_client_log(c, "t/2", NULL, 1), 0);
    rd_kafka_conf_destroy(c);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("kafka_client", NULL, NULL);
    CU_add_test(s, "sasl.jaas.config parsed", test_jaas_ok);
    CU_add_test(s, "sasl.jaas.config refused, never quoted", test_jaas_refused);
    CU_add_test(s, "layers onto librdkafka's names", test_layers);
    CU_add_test(s, "bad values named with their prefix", test_bad_values);
    CU_add_test(s, "security and secret keys", test_keys);
    CU_add_test(s, "librdkafka's log lines, a repeat once", test_log_lines);
    CU_add_test(s, "a labelled conf whose rd_kafka_new fails", test_log_failed_new);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_suites_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
