/*
 * kafka_client.h - the security settings of every librdkafka handle sluice
 * creates (the worker's producer, consumers and admin client, the sink
 * tasks' consumers, the registry's kafkastore, the command-line tools),
 * under the names users know from Kafka's clients:
 *
 *   security.protocol                      PLAINTEXT, SASL_PLAINTEXT, SSL, SASL_SSL
 *   sasl.mechanism                         PLAIN (default with credentials),
 *                                          SCRAM-SHA-256, SCRAM-SHA-512
 *   sasl.jaas.config                       org.apache.kafka.common.security.plain.PlainLoginModule
 *                                          required username="alice" password="s3cret";
 *                                          (or ...scram.ScramLoginModule); secret
 *   sasl.username, sasl.password           librdkafka's way of saying the same; password secret
 *   ssl.ca.location                        PEM file of the CAs that sign the brokers'
 *                                          certificates (Kafka's JKS ssl.truststore.* is refused
 *                                          with a message saying so)
 *   ssl.endpoint.identification.algorithm  https (the default: the broker's certificate must
 *                                          name its host) or empty (not checked)
 *
 * A role holds such settings under a prefix: the worker's top-level keys and
 * their producer. / consumer. / admin. overrides (as a Kafka Connect worker),
 * a connector's consumer.override., the registry's kafkastore., a tool's
 * --command-config file. Each source is one layer applied onto an
 * rd_kafka_conf_t, later layers overriding earlier ones; sl_kafka_client_check
 * then says whether the whole makes sense (SASL without credentials...).
 *
 * Errors name the key with its prefix ("consumer.sasl.jaas.config: ...") and
 * never hold a password or a JAAS text.
 *
 * The same handles' log lines (sl_kafka_client_log): librdkafka's own lines
 * ("%3|1733150000.123|FAIL|rdkafka#producer-1| [thrd:...]: ...") are
 * written as sluice's, naming the client and librdkafka's facility:
 *
 *   ... ERROR [s3sink/0] consumer: FAIL: 127.0.0.1:9092/bootstrap: SASL authentication error: ...
 *
 * and a line a client repeats (a refused login, at every reconnect) is
 * written at most once a minute, with how many were not.
 */
#ifndef SL_KAFKA_CLIENT_H
#define SL_KAFKA_CLIENT_H

#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <stddef.h>

#include "config.h"

/* The keys, as indexes of sl_kafka_security.v. */
enum {
    SL_KC_PROTOCOL = 0,
    SL_KC_MECHANISM,
    SL_KC_JAAS,
    SL_KC_USERNAME,
    SL_KC_PASSWORD,
    SL_KC_CA_LOCATION,
    SL_KC_ENDPOINT,
    SL_KC_NKEYS
};

/* One layer held in a role's option table (SL_KAFKA_SECURITY_OPTIONS): v[i]
 * is the value of key i, NULL when unset. The strings are the config's
 * (sl_config_free frees them). */
typedef struct sl_kafka_security {
    char *v[SL_KC_NKEYS];
} sl_kafka_security;

/* The option rows of an sl_kafka_security at `member` of the role's config
 * struct `type`, each key named prefix + key (prefix a string literal: "",
 * "producer.", "kafkastore."); who says what the keys are for in the usage
 * text. */
/* clang-format off */
#define SL_KAFKA_SECURITY_OPTIONS(type, member, prefix, who)                                       \
    {prefix "security.protocol", SL_OPT_STRING, NULL, offsetof(type, member.v[SL_KC_PROTOCOL]),    \
     who ": PLAINTEXT (default), SASL_PLAINTEXT, SSL or SASL_SSL", 0, 0, 0},                       \
    {prefix "sasl.mechanism", SL_OPT_STRING, NULL, offsetof(type, member.v[SL_KC_MECHANISM]),      \
     who ": PLAIN (default with credentials), SCRAM-SHA-256 or SCRAM-SHA-512", 0, 0, 0},           \
    {prefix "sasl.jaas.config", SL_OPT_STRING, NULL, offsetof(type, member.v[SL_KC_JAAS]),         \
     who ": '...PlainLoginModule required username=\"u\" password=\"p\";' (secret)", 0, 0, 0},     \
    {prefix "sasl.username", SL_OPT_STRING, NULL, offsetof(type, member.v[SL_KC_USERNAME]),        \
     who ": SASL user (instead of sasl.jaas.config)", 0, 0, 0},                                    \
    {prefix "sasl.password", SL_OPT_STRING, NULL, offsetof(type, member.v[SL_KC_PASSWORD]),        \
     who ": SASL password (secret)", 0, 0, 0},                                                     \
    {prefix "ssl.ca.location", SL_OPT_STRING, NULL, offsetof(type, member.v[SL_KC_CA_LOCATION]),   \
     who ": PEM file of the CAs of the brokers' certificates (SSL, SASL_SSL)", 0, 0, 0},           \
    {prefix "ssl.endpoint.identification.algorithm", SL_OPT_STRING, NULL,                          \
     offsetof(type, member.v[SL_KC_ENDPOINT]),                                                     \
     who ": https (default: check the broker's host name) or empty (do not)", 0, 0, 0}
/* clang-format on */

/* 1 when key (without prefix) is one of the keys above, or one this module
 * refuses with a reason (Kafka's JKS ssl.truststore.* / ssl.keystore.*):
 * callers that pass other keys to librdkafka as they are leave these to
 * sl_kafka_client_conf. */
int sl_kafka_client_key(const char *key);

/* Applies the layer held in config (an object of string values) under
 * prefix: prefix + "security.protocol" and so on; keys absent leave c as it
 * is. 0, or -1 with err naming the key (prefix included) and what is wrong:
 * an unknown protocol or mechanism, a JAAS text that is not a
 * PlainLoginModule / ScramLoginModule with username and password, an
 * unreadable ssl.ca.location, a JKS key. */
int sl_kafka_client_conf(rd_kafka_conf_t *c, const json_t *config, const char *prefix, char *err,
                         size_t errlen);

/* The same for a layer held in an option table. */
int sl_kafka_client_conf_sec(rd_kafka_conf_t *c, const sl_kafka_security *sec, const char *prefix,
                             char *err, size_t errlen);

/* Checks a layer without a client (at start, before connecting): the same
 * errors as sl_kafka_client_conf. */
int sl_kafka_security_check(const sl_kafka_security *sec, const char *prefix, char *err,
                            size_t errlen);

/* After the last layer: a SASL protocol needs credentials and a mechanism
 * sluice speaks. who names the client ("worker producer"), prefix the keys
 * in the message ("kafkastore."). 0, or -1 with err. */
int sl_kafka_client_check(rd_kafka_conf_t *c, const char *who, const char *prefix, char *err,
                          size_t errlen);

/* Sends the log lines of the handle rd_kafka_new makes from c to sluice's
 * log (logging.h), under component ("worker", "s3sink/0", "registry"),
 * each line starting with role ("producer", "consumer"; NULL: none), then
 * librdkafka's facility and message; librdkafka's syslog levels map to
 * sluice's (emergency..error: ERROR, warning: WARN, notice and info: INFO,
 * debug: DEBUG). Within SL_KAFKA_LOG_REPEAT_MS of writing a line, the same
 * level, facility and message from the same handle (librdkafka's "(after
 * ...)" tail aside) is counted, not written; the count is written with the
 * next one after that (or, as a debug line, when the handle is destroyed).
 * Debug lines (librdkafka's debug setting) are all written, in order.
 * errors_logged: the handle's error callback logs librdkafka's errors
 * itself (with what they mean to the caller), so librdkafka's FAIL lines,
 * which say the same, are debug lines: one line per event; so are those of
 * a handle being destroyed (logins cut short). component and role are
 * copied. 0, or -1 (out of memory, or c already has a label): c then logs
 * as librdkafka does. Call once per conf, before rd_kafka_new; c may still
 * be destroyed instead. runs on: the caller's thread; the lines are
 * written from librdkafka's threads. */
int sl_kafka_client_log(rd_kafka_conf_t *c, const char *component, const char *role,
                        int errors_logged);

#define SL_KAFKA_LOG_REPEAT_MS 60000

/* The same repeat rule for what a labelled handle's error callback logs
 * (a broker down, a refused login, reported at every reconnect): 1 when
 * the caller writes `text` now, with *repeats the count of the same (level,
 * what, text without librdkafka's "(after ...)" tail) not written since it
 * last was; 0 when it is only counted (written with the next one after
 * SL_KAFKA_LOG_REPEAT_MS). An unlabelled handle: always 1. runs on: any
 * thread. */
int sl_kafka_client_fresh(const rd_kafka_t *rk, int level, const char *what, const char *text,
                          unsigned *repeats);

/* rk (labelled by sl_kafka_client_log) is about to be closed: a login its
 * close cuts short ("SaslAuthenticateRequest failed: Local: Broker
 * transport failure", a coordinator connection a short-lived consumer had
 * just opened) is no news, so its FAIL lines are debug lines from now on,
 * as they are once rd_kafka_destroy has begun. Call it before
 * rd_kafka_consumer_close / rd_kafka_destroy. */
void sl_kafka_client_closing(const rd_kafka_t *rk);

/* rd_kafka_new, for a conf labelled by sl_kafka_client_log (or any other),
 * except that c is never the caller's after it: on failure it is destroyed
 * here, or left alone when destroying it is unsafe. librdkafka 2.0 frees
 * a conf's interceptors (the label's) when rd_kafka_new fails after
 * beginning the handle (an unknown partition.assignment.strategy, a CA
 * file that is no PEM) but leaves them in the conf, so that
 * rd_kafka_conf_destroy would free them twice: such a conf is leaked (one
 * per failed creation) instead. errstr as rd_kafka_new's. */
rd_kafka_t *sl_kafka_client_new(rd_kafka_type_t type, rd_kafka_conf_t *c, char *errstr,
                                size_t errlen);

/* The JAAS text's user and password (as Kafka's JaasConfig parses a
 * PlainLoginModule / ScramLoginModule entry: options key="value", quotes
 * with backslash escapes, or bare words; ';' ends it). *module is 'P' for
 * Plain, 'S' for Scram. user and pass are filled (NUL-terminated); 0, or -1
 * with err saying what is wrong without quoting the text. */
int sl_kafka_jaas_parse(const char *jaas, char *module, char *user, size_t userlen, char *pass,
                        size_t passlen, char *err, size_t errlen);

#endif
