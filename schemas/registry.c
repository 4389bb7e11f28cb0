/*
 * registry.c - the registry role: its option table, start-up and shut-down
 * (see registry.h). The parts: store.c (the _schemas topic), http.c (the
 * REST server), api.c (Confluent's routes), avro_schema.c and compat.c (the
 * Avro model and resolution rules).
 *
 * Start order: options -> store (topic created, read to its end) -> HTTP.
 * Nothing is served before the view is complete, so a GET never answers from
 * a half-read topic. Stop order is the reverse.
 */
#include "registry.h"

#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "compat.h"
#include "config.h"
#include "http.h"
#include "kafka_client.h"
#include "logging.h"
#include "store.h"

#define COMP "registry"

typedef struct sl_registry_conf {
    char *listeners;
    char *bootstrap;
    char *topic;
    int64_t timeout_ms;
    int idempotence;
    char *compatibility;
    sl_http_security http; /* listener TLS and authentication (http.h) */
    sl_kafka_security kafka; /* kafkastore.security.protocol ... (kafka_client.h) */
    int64_t max_body;
    int64_t threads;
} sl_registry_conf;

struct sl_registry {
    sl_registry_conf conf;
    sl_api api;
    sl_http *http;
};

#define OPT(name, type, def, field, doc)                                                           \
    {                                                                                              \
        name, type, def, offsetof(sl_registry_conf, field), doc, 0, 0, 0                           \
    }
#define OPTR(name, def, field, lo, hi, doc)                                                        \
    {                                                                                              \
        name, SL_OPT_INT, def, offsetof(sl_registry_conf, field), doc, lo, hi, 0                   \
    }

static const sl_option registry_options[] = {
    OPT("listeners", SL_OPT_STRING, "http://0.0.0.0:8081", listeners,
        "where the REST API listens (http:// or https://host:port; the first of a list)"),
    OPT("kafkastore.bootstrap.servers", SL_OPT_STRING, "localhost:9092", bootstrap,
        "the Kafka-protocol broker holding the schemas topic (PLAINTEXT:// prefixes are fine)"),
    OPT("kafkastore.topic", SL_OPT_STRING, "_schemas", topic,
        "compacted single-partition topic holding every subject, version, config and mode"),
    OPTR("kafkastore.timeout.ms", "10000", timeout_ms, 100, 600000,
         "how long a write waits for the broker's ack and for the reader to see it"),
    OPT("kafkastore.enable.idempotence", SL_OPT_BOOL, "true", idempotence,
        "write with an idempotent producer (acks=all either way)"),
    SL_KAFKA_SECURITY_OPTIONS(sl_registry_conf, kafka, "kafkastore.", "kafkastore clients"),
    OPT("schema.compatibility.level", SL_OPT_STRING, "BACKWARD", compatibility,
        "compatibility level when no global config record exists"),
    SL_HTTP_SECURITY_OPTIONS(sl_registry_conf, http, "SchemaRegistry"),
    OPTR("request.max.bytes", "1048576", max_body, 1024, 1073741824,
         "largest request body; larger ones are answered 413 without being read"),
    OPTR("http.threads", "8", threads, 1, 256, "HTTP worker threads"),
    {NULL, 0, NULL, 0, NULL, 0, 0, 0},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: sluice registry [--config FILE] [--set key=value ...]\n\nkeys:\n");
    sl_config_usage(registry_options, f);
}

/* Confluent accepts "PLAINTEXT://host:port,..."; librdkafka wants host:port. */
static char *strip_protocols(const char *servers)
{
    char *out = calloc(1, strlen(servers) + 1), *o = out;
    for (const char *s = servers; *s;) {
        const char *sep = strstr(s, "://"), *comma = strchr(s, ',');
        if (sep && (!comma || sep < comma))
            s = sep + 3;
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        memcpy(o, s, len);
        o += len;
        if (comma)
            *o++ = ',';
        s += len + (comma ? 1 : 0);
    }
    return out;
}

static int check_conf(const sl_registry_conf *c, char *err, size_t errlen)
{
    if (sl_compat_level_parse(c->compatibility) < 0) {
        snprintf(err, errlen,
                 "schema.compatibility.level: '%s' is not one of NONE, BACKWARD, "
                 "BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, "
                 "FULL_TRANSITIVE",
                 c->compatibility);
        return -1;
    }
    return sl_http_security_check(c->listeners, &c->http, err, errlen);
}

int sl_registry_start(int argc, char **argv, sl_registry **out, char *err, size_t errlen)
{
    sl_registry *reg = calloc(1, sizeof(*reg));
    char *bootstrap = NULL;
    *out = NULL;
    if (!reg) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (sl_config_defaults(registry_options, &reg->conf, err, errlen) ||
        sl_config_parse_args(registry_options, &reg->conf, argc, argv, err, errlen) ||
        check_conf(&reg->conf, err, errlen))
        goto fail;
    snprintf(reg->api.default_level, sizeof(reg->api.default_level), "%s", reg->conf.compatibility);
    bootstrap = strip_protocols(reg->conf.bootstrap);
    sl_store_conf sc = {.bootstrap = bootstrap,
                        .security = &reg->conf.kafka,
                        .topic = reg->conf.topic,
                        .timeout_ms = reg->conf.timeout_ms,
                        .idempotence = reg->conf.idempotence,
                        .same_schema = sl_api_same_schema};
    if (sl_store_open(&sc, &reg->api.store, err, errlen))
        goto fail;
    sl_http_conf hc = {.component = "registry",
                       .listeners = reg->conf.listeners,
                       .max_body_bytes = reg->conf.max_body,
                       .security = &reg->conf.http,
                       .content_type = "application/vnd.schemaregistry.v1+json",
                       .threads = (int)reg->conf.threads};
    if (sl_http_start(&hc, sl_api_routes, &reg->api, &reg->http, err, errlen))
        goto fail;
    sl_info(COMP, "serving the schema registry API on %s (port %d), schemas in %s at %s",
            reg->conf.listeners, sl_http_port(reg->http), reg->conf.topic, bootstrap);
    free(bootstrap);
    *out = reg;
    return 0;
fail:
    free(bootstrap);
    sl_registry_stop(reg);
    return -1;
}

void sl_registry_stop(sl_registry *reg)
{
    if (!reg)
        return;
    sl_http_stop(reg->http);
    sl_store_close(reg->api.store);
    sl_config_free(registry_options, &reg->conf);
    free(reg);
}

int sl_registry_main(int argc, char **argv)
{
    char err[1024];
    sl_registry *reg;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
    /* Block the stop signals before any thread starts, so that every thread
     * inherits the mask and only sigwait below receives them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (sl_registry_start(argc, argv, &reg, err, sizeof(err))) {
        sl_error(COMP, "%s", err);
        return strstr(err, "must be") || strstr(err, "unknown") ? 2 : 1;
    }
    int sig = 0;
    sigwait(&set, &sig);
    sl_info(COMP, "signal %d: shutting down", sig);
    sl_registry_stop(reg);
    return 0;
}
