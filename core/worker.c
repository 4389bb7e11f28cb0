/*
 * worker.c - the worker's life cycle: options, the shared producer and its
 * poll thread, the internal topics, the stored source offsets and connector
 * configs, status records (in memory for the REST API and in
 * _sluice_status), task counters, and `sluice worker`.
 *
 * Start-up order: producer (idempotent, acks=all) and its poll thread ->
 * create _sluice_offsets/_sluice_configs/_sluice_status (compacted) when
 * missing -> read _sluice_offsets and _sluice_configs from the beginning to
 * their end with an assigned consumer (no group: the whole topic, every
 * partition) into key -> value maps -> serve the REST API (rest.c) ->
 * start the connectors of the pipeline files and of _sluice_configs, each
 * in its stored target state (pipeline.c).
 * Stop: stop the REST API, tell every task, join them (a source writes its
 * last acknowledged position and waits for that write), flush the
 * producer, stop polling.
 *
 * The in-memory position map (w->offsets) follows every acknowledged
 * position write, so a task restarted by the REST API starts from the last
 * stored position, not the one read at start.
 *
 * _sluice_offsets record (as Kafka Connect's OffsetStorageWriter):
 *   key   ["<connector>",{"task":N}]   compact JSON text
 *   value the source position JSON text, e.g. {"seq": 41}
 * _sluice_status record (as Kafka Connect's KafkaStatusBackingStore):
 *   key   status-connector-<connector> | status-task-<connector>-<N>
 *   value {"state":"RUNNING|FAILED|PAUSED","trace":<text|null>,"worker_id":..,"generation":0}
 *
 * A source task whose connector sets producer.override.* keys produces
 * through a producer of its own (Kafka Connect's per-connector producer,
 * override policy All): the shared producer's configuration plus those
 * keys, with its own poll thread; the task's thread creates it and
 * destroys it (flushed on a clean stop, else purged, its reports served)
 * before it returns, so no report of it can reach a freed task. Its
 * positions still go through the shared producer, as Kafka Connect's
 * offset writer uses the worker's.
 *
 * Threads: control thread (create/start/stop), producer-poll thread (this
 * file: delivery reports), one thread per task (worker_source.c,
 * worker_sink.c), and a poll thread per own producer.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "logging.h"
#include "rest.h"
#include "worker_conn.h"

#define DEFAULT_LISTENERS "http://0.0.0.0:8083"

#define OFF(f) offsetof(sl_worker_conf, f)
static const sl_option worker_options[] = {
    {"bootstrap.servers", SL_OPT_STRING, "localhost:9092", OFF(bootstrap_servers),
     "Kafka-protocol brokers the worker produces to and consumes from"},
    {"plugin.path", SL_OPT_STRING, NULL, OFF(plugin_path),
     "Directory of connector plugins (<name>.so); default: plugins/ next to the executable"},
    {"pipelines.dir", SL_OPT_STRING, NULL, OFF(pipelines_dir),
     "Directory of pipeline files (*.json), each expanded into connectors (optional: "
     "connectors can also be created through the REST API)"},
    {"group.id", SL_OPT_STRING, "sluice-worker", OFF(group_id),
     "The worker's cluster; names it in status records"},
    {"offset.flush.interval.ms", SL_OPT_INT, "1000", OFF(offset_flush_interval_ms),
     "How often sources store positions and sinks flush and commit", 1, INT64_MAX},
    {"sink.flush.records", SL_OPT_INT, "20000", OFF(sink_flush_records),
     "A sink also flushes after this many records", 1, INT64_MAX},
    {"schema.registry.url", SL_OPT_STRING, NULL, OFF(schema_registry_url),
     "Schema registry for the avro converter, unless a connector sets "
     "<key|value>.converter.schema.registry.url"},
    {"key.converter", SL_OPT_STRING, "json", OFF(key_converter),
     "Converter of keys for connectors that set none (json, avro)"},
    {"value.converter", SL_OPT_STRING, "json", OFF(value_converter),
     "Converter of values for connectors that set none (json, avro)"},
    {"listeners", SL_OPT_STRING, DEFAULT_LISTENERS, OFF(listeners),
     "Kafka Connect REST API listener, http:// or https://host:port (port 0: any free port)"},
    SL_HTTP_SECURITY_OPTIONS(sl_worker_conf, http, "sluice"),
    SL_KAFKA_SECURITY_OPTIONS(sl_worker_conf, kafka, "", "Kafka clients"),
    SL_KAFKA_SECURITY_OPTIONS(sl_worker_conf, kafka_producer, "producer.", "the producer"),
    SL_KAFKA_SECURITY_OPTIONS(sl_worker_conf, kafka_consumer, "consumer.", "consumers"),
    SL_KAFKA_SECURITY_OPTIONS(sl_worker_conf, kafka_admin, "admin.", "the admin client"),
    {"producer.", SL_OPT_PREFIX, NULL, OFF(client_keys[SL_WCLIENT_PRODUCER]),
     "Any other key of the sources' producer, librdkafka's names (most of Java's work: "
     "compression.type, linger.ms, batch.size...); not acks or enable.idempotence"},
    {"consumer.", SL_OPT_PREFIX, NULL, OFF(client_keys[SL_WCLIENT_CONSUMER]),
     "Any other key of the sinks' consumers (fetch.min.bytes, max.partition.fetch.bytes...); "
     "not group.id or enable.auto.commit"},
    {"admin.", SL_OPT_PREFIX, NULL, OFF(client_keys[SL_WCLIENT_ADMIN]),
     "Any other key of the admin client"},
    {NULL},
};
#undef OFF

int64_t sl_worker_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sl_wtask_sleep(sl_wtask *wt, int64_t ms)
{
    int64_t end = sl_worker_now_ms() + ms, left;
    while (!atomic_load(&wt->stop) && (left = end - sl_worker_now_ms()) > 0) {
        /* at most 10 ms at a time (to notice stop), never more than asked */
        struct timespec ts = {0, (left < 10 ? left : 10) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

int64_t sl_wtask_backoff(const sl_wtask *wt, int64_t prev, int64_t limit)
{
    int64_t next = prev ? prev * 2 : 100;
    if (next > wt->retry_max_delay_ms)
        next = wt->retry_max_delay_ms;
    return limit >= 0 && next > limit ? limit : next;
}

void sl_wtask_retry_sleep(sl_wtask *wt, int64_t *backoff, const char *why)
{
    *backoff = sl_wtask_backoff(wt, *backoff, -1);
    sl_warn(wt->connector, "task %d: %s; retrying in %lld ms", wt->id, why, (long long)*backoff);
    sl_wtask_sleep(wt, *backoff);
}

void sl_worker_offset_key(const char *connector, int task_id, char *buf, size_t len)
{
    json_t *k = json_pack("[s,{s:i}]", connector, "task", task_id);
    char *text = k ? json_dumps(k, JSON_COMPACT) : NULL;
    snprintf(buf, len, "%s", text ? text : "");
    free(text);
    json_decref(k);
}

/* ======================================================================== */
/* Producer and delivery reports                                            */
/* ======================================================================== */

/* A control write (config, target state, altered offset) someone waits for. */
#define DR_WAIT 100
typedef struct dr_wait {
    sl_dr_tag tag;
    atomic_int done; /* 1 acknowledged, 2 failed */
    atomic_int err;
} dr_wait;

/* An acknowledged position becomes the in-memory stored position. */
static void position_stored(sl_wtask *wt)
{
    char key[1024];
    sl_worker_offset_key(wt->connector, wt->id, key, sizeof(key));
    pthread_mutex_lock(&wt->w->lock);
    json_object_set_new(wt->w->offsets, key, json_string(wt->offw.position));
    pthread_mutex_unlock(&wt->w->lock);
}

/* runs on: the producer-poll thread */
/* k of the batch's records (or its guard) are settled; whoever settles the
 * last one notes the task's source lag. Runs on: the producer's poll thread
 * or the task's thread. */
void sl_inflight_done(sl_inflight *b, int k)
{
    if (atomic_fetch_sub(&b->outstanding, k) == k && b->ts_ms > 0) {
        struct timespec now; /* record timestamps are wall-clock time */
        clock_gettime(CLOCK_REALTIME, &now);
        int64_t lag = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000 - b->ts_ms;
        atomic_store(&b->tag.wt->lag, lag < 0 ? 0 : lag);
    }
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    sl_dr_tag *tag = m->_private;
    if (!tag)
        return;
    if (tag->kind == DR_WAIT) {
        atomic_store(&((dr_wait *)tag)->err, (int)m->err);
        atomic_store(&((dr_wait *)tag)->done, m->err ? 2 : 1);
        return;
    }
    if (tag->kind == SL_DR_DLQ) { /* the task waits for these before committing */
        if (m->err)
            atomic_store(&tag->wt->dlq.failed, (int)m->err);
        atomic_fetch_sub(&tag->wt->dlq.outstanding, 1);
        return;
    }
    sl_wtask *wt = tag->wt;
    if (tag->kind == SL_DR_OFFSET && !m->err)
        position_stored(wt); /* before the task sees state 2 and moves on */
    if (m->err) { /* the first failure names where, then publishes its code */
        int expected = 0;
        if (atomic_compare_exchange_strong(&wt->failed_claim, &expected, 1)) {
            snprintf(wt->failed_where, sizeof(wt->failed_where), "%s [%d]",
                     rd_kafka_topic_name(m->rkt), (int)m->partition);
            atomic_store(&wt->failed_delivery, (int)m->err);
        }
    }
    if (tag->kind == SL_DR_BATCH)
        sl_inflight_done((sl_inflight *)tag, 1);
    else
        atomic_store(&((sl_offset_write *)tag)->state, m->err ? 3 : 2);
}

static void *poll_main(void *arg)
{
    sl_worker *w = arg;
    while (!atomic_load(&w->stopping) || rd_kafka_outq_len(w->producer) > 0) {
        rd_kafka_poll(w->producer, 100);
        if (atomic_load(&w->stopping) == 2) /* stop even with messages left */
            break;
    }
    return NULL;
}

static int conf_set(rd_kafka_conf_t *c, const char *k, const char *v, char *err, size_t errlen)
{
    char e[256];
    if (rd_kafka_conf_set(c, k, v, e, sizeof(e)) == RD_KAFKA_CONF_OK)
        return 0;
    snprintf(err, errlen, "librdkafka %s=%s: %s", k, v, e);
    return -1;
}

/* ======================================================================== */
/* Kafka clients' configuration                                              */
/* ======================================================================== */

/* Why a user may not set key (= value) on a client of this kind, or NULL.
 * from_rest: a connector's override, which anyone the REST API admits may
 * write, so nothing that runs a command or loads a library on the worker. */
static const char *client_key_refused(enum sl_wclient kind, const char *key, const char *value,
                                      int from_rest)
{
    static const char *const producer_own[] = {"acks", "request.required.acks",
                                               "enable.idempotence", "transactional.id", NULL};
    static const char *const consumer_own[] = {"group.id", "enable.auto.commit", NULL};
    static const char *const runs_code[] = {"sasl.kerberos.kinit.cmd", "plugin.library.paths",
                                            "ssl.engine.location", NULL};
    for (const char *const *k = producer_own; kind == SL_WCLIENT_PRODUCER && *k; k++)
        if (!strcmp(key, *k))
            return "the sources' producer is idempotent with acks=all, so that nothing is "
                   "acknowledged to a source before the broker has it durably";
    for (const char *const *k = consumer_own; kind == SL_WCLIENT_CONSUMER && *k; k++)
        if (!strcmp(key, *k))
            return "the worker sets it itself (group connect-<connector>, offsets committed "
                   "after the sink's flush)";
    if (kind == SL_WCLIENT_CONSUMER && !strcmp(key, "partition.assignment.strategy") &&
        strstr(value, "cooperative"))
        return "sink tasks give up partitions the eager way (range, roundrobin): cooperative "
               "rebalancing is not supported";
    for (const char *const *k = runs_code; from_rest && *k; k++)
        if (!strcmp(key, *k))
            return "it runs a command or loads a library on the worker: only the worker's own "
                   "config may set it";
    return NULL;
}

/* Applies the string members of obj that are not security keys (those are
 * kafka_client.c's layers): with a `strip` prefix (a connector's config)
 * only the keys under it, without it; errors name the key as given, after
 * `shown` (the worker's producer. / consumer. / admin., which its config
 * object holds stripped). Values are never shown (one may be a secret).
 * 0, or -1 with err. */
static int client_keys_apply(rd_kafka_conf_t *c, enum sl_wclient kind, const json_t *obj,
                             const char *strip, const char *shown, int from_rest, char *err,
                             size_t errlen)
{
    size_t slen = strlen(strip);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        char e[512];
        const char *key = k + slen, *why;
        if (strncmp(k, strip, slen) || !json_is_string(v) || sl_kafka_client_key(key))
            continue;
        why = client_key_refused(kind, key, json_string_value(v), from_rest);
        if (!why &&
            rd_kafka_conf_set(c, key, json_string_value(v), e, sizeof(e)) == RD_KAFKA_CONF_OK)
            continue;
        snprintf(err, errlen, "%s%s: %s", shown, k, why ? why : e);
        return -1;
    }
    return 0;
}

rd_kafka_conf_t *sl_worker_client_conf(const sl_worker *w, enum sl_wclient kind,
                                       const char *const *defaults, const json_t *conn_config,
                                       const char *component, char *err, size_t errlen)
{
    static const char *const prefixes[] = {"producer.", "consumer.", "admin."};
    static const char *const overrides[] = {"producer.override.", "consumer.override.", NULL};
    static const char *const who[] = {"worker producer", "worker consumer", "worker admin client"};
    static const char *const roles[] = {"producer", "consumer", "admin client"};
    const sl_kafka_security *by_kind[] = {&w->conf.kafka_producer, &w->conf.kafka_consumer,
                                          &w->conf.kafka_admin};
    const json_t *own = w->conf.client_keys[kind];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    int rc = conf_set(c, "bootstrap.servers", w->conf.bootstrap_servers, err, errlen) ||
             sl_kafka_client_conf_sec(c, &w->conf.kafka, "", err, errlen) ||
             sl_kafka_client_conf_sec(c, by_kind[kind], prefixes[kind], err, errlen);
    for (size_t i = 0; !rc && defaults && defaults[i]; i += 2)
        rc = conf_set(c, defaults[i], defaults[i + 1], err, errlen);
    if (!rc && own)
        rc = client_keys_apply(c, kind, own, "", prefixes[kind], 0, err, errlen);
    if (!rc && conn_config && kind != SL_WCLIENT_ADMIN) /* Kafka Connect's policy All */
        rc = sl_kafka_client_conf(c, conn_config, overrides[kind], err, errlen) ||
             client_keys_apply(c, kind, conn_config, overrides[kind], "", 1, err, errlen);
    if (rc || sl_kafka_client_check(c, who[kind], "", err, errlen)) {
        rd_kafka_conf_destroy(c);
        return NULL;
    }
    /* the producer's and the admin client's error callbacks log their
     * errors (producer_error, client_error); the consumers' do not */
    if (sl_kafka_client_log(c, component ? component : "worker", roles[kind],
                            kind != SL_WCLIENT_CONSUMER))
        sl_warn("worker", "%s: out of memory: its librdkafka log lines keep librdkafka's format",
                who[kind]);
    return c;
}

/* The last error a client reported (its error callback's opaque). */
typedef struct client_errors {
    char last[512];
} client_errors;

/* librdkafka 2.0 reports with the same codes what a login refused for good
 * and a connection lost during one: a refused SASL login is
 * SASL_AUTHENTICATION_FAILED from the broker or __AUTHENTICATION ("SASL
 * authentication error: Authentication failed: ..."), a lost connection
 * __AUTHENTICATION with the transport error in its reason ("... failed:
 * Local: Broker transport failure"); a certificate refused on either side is
 * __SSL "SSL handshake failed: ...", a TLS connection lost later __SSL
 * "SSL transport error". */
int sl_worker_auth_error(int e, const char *reason)
{
    if (e == RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED)
        return 1;
    if (e == RD_KAFKA_RESP_ERR__AUTHENTICATION)
        return !strstr(reason, rd_kafka_err2str(RD_KAFKA_RESP_ERR__TRANSPORT));
    return e == RD_KAFKA_RESP_ERR__SSL && strstr(reason, "handshake");
}

/* Errors of the producer and the admin client (a broker down, a refused
 * SASL login...) go to the worker's log; librdkafka's reasons never hold
 * a password. runs on: the thread polling the client (the producer-poll
 * thread; the control thread for the admin client). */
static void client_error(rd_kafka_t *rk, int e, const char *reason, void *opaque)
{
    client_errors *ce = opaque;
    if (ce)
        snprintf(ce->last, sizeof(ce->last), "%s", reason);
    enum sl_level lvl = sl_worker_auth_error(e, reason) ? SL_ERROR : SL_WARN;
    unsigned n;
    /* librdkafka reports a broker down at every reconnect: once a minute */
    if (!sl_kafka_client_fresh(rk, (int)lvl, "error", reason, &n))
        return;
    if (n)
        sl_logmsg(lvl, "worker", "%s: %s (%u more like it since the last, not logged)",
                  rd_kafka_name(rk), reason, n);
    else
        sl_logmsg(lvl, "worker", "%s: %s", rd_kafka_name(rk), reason);
}

/* A producer's error callback (opaque: its sl_pauth, the shared
 * producer's or a task's own). A refused login is noted for the source
 * tasks it serves, which fail on it (worker_source.c: Kafka Connect's tasks
 * each have a producer whose send throws an authentication exception); it
 * is logged once a minute per distinct reason, not at every retry
 * (librdkafka retries every reconnect.backoff.max.ms at most), by the rule
 * of the handle's log lines (sl_kafka_client_fresh). Other errors are
 * client_error's. runs on: the thread polling the producer (and the one in
 * rd_kafka_flush). */
static void producer_error(rd_kafka_t *rk, int e, const char *reason, void *opaque)
{
    sl_pauth *pa = opaque;
    if (!sl_worker_auth_error(e, reason)) {
        client_error(rk, e, reason, NULL);
        return;
    }
    int64_t now = sl_worker_now_ms();
    unsigned n;
    pthread_mutex_lock(&pa->lock);
    snprintf(pa->reason, sizeof(pa->reason), "%s", reason);
    pthread_mutex_unlock(&pa->lock);
    atomic_store(&pa->ms, now ? now : 1); /* after the reason: a reader sees both */
    if (sl_kafka_client_fresh(rk, SL_ERROR, "error", reason, &n))
        sl_error(pa->log_ctx,
                 "%s: %s (%s; the same refusal is logged once a minute while it "
                 "lasts; %u like it since the last line)",
                 rd_kafka_name(rk), reason, pa->fails, n);
    else
        sl_debug(pa->log_ctx, "%s: %s", rd_kafka_name(rk), reason);
}

/* Did pa's producer report a refused login after since_ms or within the
 * window? 1 with msg "<whose> could not authenticate to <servers>
 * (bootstrap.servers): <reason>" (if msg), else 0. */
static int pauth_refused(sl_pauth *pa, int64_t since_ms, const char *whose, const char *servers,
                         char *msg, size_t len)
{
    int64_t at = atomic_load(&pa->ms);
    if (!at || (at < since_ms && sl_worker_now_ms() - at >= SL_PRODUCER_AUTH_WINDOW_MS))
        return 0;
    if (msg) {
        pthread_mutex_lock(&pa->lock);
        snprintf(msg, len, "%s could not authenticate to %s (bootstrap.servers): %s", whose,
                 servers, pa->reason);
        pthread_mutex_unlock(&pa->lock);
    }
    return 1;
}

int sl_worker_producer_refused(sl_worker *w, int64_t since_ms, char *msg, size_t len)
{
    return pauth_refused(&w->pauth, since_ms, "the worker's producer", w->conf.bootstrap_servers,
                         msg, len);
}

/* The configuration of a producer of source records: the shared one
 * (conn_config NULL) or a task's own (its connector's producer.override.*
 * over the same layers; its librdkafka log lines under component, the
 * task's "name/N"). Delivery reports are on_delivery's (each message's
 * opaque says what it settles), refused logins go to pa. NULL with err. */
static rd_kafka_conf_t *producer_conf(sl_worker *w, const json_t *conn_config,
                                      const char *component, const char *client_id, sl_pauth *pa,
                                      char *err, size_t errlen)
{
    /* the worker's choices, which its producer. keys may change */
    const char *const defaults[] = {
        "linger.ms", "5",
        /* what sources may have in flight: 16 MB keeps a fast source's
         * backlog (and the worker's RSS) small; producev answers
         * QUEUE_FULL beyond it and the source waits */
        "queue.buffering.max.kbytes", "16384",
        /* a key's partition is the Java producer's (murmur2 of the key
         * bytes, random without a key), as Kafka Connect's producer picks
         * it, not librdkafka's default CRC32: a topic Debezium wrote before
         * sluice, or one co-partitioned with others for a Kafka Streams
         * join, keeps each row's changes on one partition, in order */
        "partitioner", "murmur2_random", "client.id", client_id, NULL};
    rd_kafka_conf_t *c = sl_worker_client_conf(w, SL_WCLIENT_PRODUCER, defaults, conn_config,
                                               component, err, errlen);
    if (!c)
        return NULL;
    /* the delivery guarantee: no one's to change (client_key_refused) */
    if (conf_set(c, "enable.idempotence", "true", err, errlen) ||
        conf_set(c, "acks", "all", err, errlen)) {
        rd_kafka_conf_destroy(c);
        return NULL;
    }
    rd_kafka_conf_set_dr_msg_cb(c, on_delivery);
    rd_kafka_conf_set_error_cb(c, producer_error);
    rd_kafka_conf_set_opaque(c, pa);
    return c;
}

static int producer_create(sl_worker *w, char *err, size_t errlen)
{
    rd_kafka_conf_t *c = producer_conf(w, NULL, NULL, w->worker_id, &w->pauth, err, errlen);
    char e[512];
    if (!c)
        return -1;
    if (!(w->producer = sl_kafka_client_new(RD_KAFKA_PRODUCER, c, e, sizeof(e)))) {
        snprintf(err, errlen, "producer for %s: %s", w->conf.bootstrap_servers, e);
        return -1;
    }
    return 0;
}

/* Ends a producer before it is destroyed: flushed (up to 10 s) when it may
 * still deliver (a producer the broker refuses would only wait out the
 * time); what is left then, or all of it when not, is purged, and the
 * purged messages' reports served, settling what waits on them. Nothing
 * purged is lost: no record in it was acknowledged, so no position past it
 * was stored and the next start reads it again; status records are
 * written again as the tasks start. runs on: the thread ending it. */
static void producer_finish(rd_kafka_t *rk, int flush, const char *log_ctx, const char *whose)
{
    if (flush && rd_kafka_flush(rk, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR)
        return;
    int left = rd_kafka_outq_len(rk);
    if (left <= 0)
        return;
    sl_warn(log_ctx, "%s: %d messages not delivered%s: dropped, none was acknowledged", whose, left,
            flush ? " within 10 s" : " (its login is refused)");
    rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_flush(rk, 5000);
}

/* ======================================================================== */
/* A source task's own producer                                              */
/* ======================================================================== */

/* What a source task whose connector sets producer.override.* keys
 * produces through (Kafka Connect gives every source task a producer; here
 * only those that change it get one). Owned by the task's thread, which
 * creates it in sl_wtask_producer_open and destroys it in
 * sl_wtask_producer_close before returning: its messages' opaques point at
 * the task's ring, so it must not outlive the task. */
struct sl_own_producer {
    rd_kafka_t *rk;
    pthread_t poll_thread;
    int poll_started;
    atomic_int stopping;
    sl_pauth auth;     /* its refused logins (producer_error) */
    char servers[512]; /* its bootstrap.servers, as configured */
    char whose[400];   /* "connector <c>'s producer (task N, producer.override.*)" */
};

/* Serves the own producer's delivery reports and errors as poll_main does
 * the shared one's (the task thread may block in its plugin's poll).
 * runs on: the own producer's poll thread. */
static void *own_poll_main(void *arg)
{
    struct sl_own_producer *own = arg;
    while (!atomic_load(&own->stopping))
        rd_kafka_poll(own->rk, 100);
    return NULL;
}

static int has_producer_override(const json_t *config)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)config, k, v)
    {
        if (!strncmp(k, "producer.override.", 18))
            return 1;
    }
    return 0;
}

int sl_wtask_producer_open(sl_wtask *wt, char *err, size_t errlen)
{
    sl_worker *w = wt->w;
    char cid[400], e[512];
    wt->producer = w->producer;
    if (!has_producer_override(wt->config))
        return 0;
    struct sl_own_producer *own = calloc(1, sizeof(*own));
    if (!own) {
        snprintf(err, errlen, "producer of connector %s: out of memory", wt->connector);
        return -1;
    }
    pthread_mutex_init(&own->auth.lock, NULL);
    own->auth.log_ctx = wt->connector;
    own->auth.fails = "its task fails on it";
    snprintf(own->whose, sizeof(own->whose),
             "connector %s's producer (task %d, producer.override.*)", wt->connector, wt->id);
    wt->own = own; /* from here sl_wtask_producer_close frees it */
    snprintf(cid, sizeof(cid), "connector-producer-%s-%d", wt->connector, wt->id);
    char task[300];
    snprintf(task, sizeof(task), "%s/%d", wt->connector, wt->id);
    rd_kafka_conf_t *c = producer_conf(w, wt->config, task, cid, &own->auth, e, sizeof(e));
    if (!c) {
        snprintf(err, errlen, "producer of connector %s: %s", wt->connector, e);
        return -1;
    }
    size_t n = sizeof(own->servers);
    if (rd_kafka_conf_get(c, "bootstrap.servers", own->servers, &n) != RD_KAFKA_CONF_OK)
        snprintf(own->servers, sizeof(own->servers), "%s", w->conf.bootstrap_servers);
    if (!(own->rk = sl_kafka_client_new(RD_KAFKA_PRODUCER, c, e, sizeof(e)))) {
        snprintf(err, errlen, "producer of connector %s for %s: %s", wt->connector, own->servers,
                 e);
        return -1;
    }
    if (pthread_create(&own->poll_thread, NULL, own_poll_main, own) != 0) {
        snprintf(err, errlen, "producer of connector %s: cannot start its poll thread",
                 wt->connector);
        return -1;
    }
    own->poll_started = 1;
    wt->producer = own->rk;
    sl_info(wt->connector, "task %d: own producer %s for %s (producer.override.*)", wt->id,
            rd_kafka_name(own->rk), own->servers);
    return 0;
}

void sl_wtask_producer_close(sl_wtask *wt, int clean)
{
    struct sl_own_producer *own = wt->own;
    if (!own)
        return;
    if (own->rk && own->poll_started) /* a clean stop's drain already waited for its acks */
        producer_finish(own->rk, clean && !pauth_refused(&own->auth, INT64_MAX, "", "", NULL, 0),
                        wt->connector, own->whose);
    if (own->poll_started) {
        atomic_store(&own->stopping, 1);
        pthread_join(own->poll_thread, NULL);
    }
    /* after this, no report of it can run: one still unserved (none unless
     * the flush timed out) leaves its ring slot busy, and the task goes to
     * the graveyard instead of being freed */
    if (own->rk)
        rd_kafka_destroy(own->rk);
    pthread_mutex_destroy(&own->auth.lock);
    free(own);
    wt->own = NULL;
    wt->producer = NULL;
}

int sl_wtask_producer_refused(sl_wtask *wt, int64_t since_ms, char *msg, size_t len)
{
    struct sl_own_producer *own = wt->own;
    char why[1024];
    const char *keys;
    if (own && pauth_refused(&own->auth, since_ms, own->whose, own->servers, why, sizeof(why)))
        keys = "its credentials are the connector's producer.override.* keys over the worker's "
               "producer.* and security keys";
    else if (sl_worker_producer_refused(wt->w, since_ms, why, sizeof(why)))
        keys = own ? "its credentials are the worker's producer.* and security keys (this task's "
                     "positions are stored through it)"
                   : "its credentials are the worker's producer.* and security keys (shared by "
                     "every source task without producer.override.* keys)";
    else
        return 0;
    if (msg)
        snprintf(msg, len, "%s; %s", why, keys);
    return 1;
}

/* ======================================================================== */
/* Internal topics                                                           */
/* ======================================================================== */

/* An admin client (the worker's admin. keys): NULL with err. */
static rd_kafka_t *admin_create(sl_worker *w, client_errors *ce, char *err, size_t errlen)
{
    rd_kafka_conf_t *c = sl_worker_client_conf(w, SL_WCLIENT_ADMIN, NULL, NULL, NULL, err, errlen);
    char e[512];
    if (!c)
        return NULL;
    if (conf_set(c, "client.id", w->worker_id, err, errlen)) {
        rd_kafka_conf_destroy(c);
        return NULL;
    }
    rd_kafka_conf_set_error_cb(c, client_error);
    rd_kafka_conf_set_opaque(c, ce);
    rd_kafka_t *rk = sl_kafka_client_new(RD_KAFKA_PRODUCER, c, e, sizeof(e));
    if (!rk)
        snprintf(err, errlen, "admin client for %s: %s", w->conf.bootstrap_servers, e);
    return rk;
}

/* Waits up to ms for the admin request's result on q, serving the admin
 * client's error callback meanwhile. */
static rd_kafka_event_t *admin_wait(rd_kafka_t *rk, rd_kafka_queue_t *q, int64_t ms)
{
    int64_t deadline = sl_worker_now_ms() + ms;
    rd_kafka_event_t *ev = NULL;
    while (!ev && sl_worker_now_ms() < deadline) {
        ev = rd_kafka_queue_poll(q, 200);
        rd_kafka_poll(rk, 0);
    }
    return ev;
}

static int topics_create(sl_worker *w, char *err, size_t errlen)
{
    const char *names[] = {SL_OFFSETS_TOPIC, SL_CONFIGS_TOPIC, SL_STATUS_TOPIC};
    rd_kafka_NewTopic_t *nt[3];
    client_errors ce = {""};
    char e[256];
    int rc = 0;
    rd_kafka_t *rk = admin_create(w, &ce, err, errlen);
    if (!rk)
        return -1;
    for (int i = 0; i < 3; i++) {
        nt[i] = rd_kafka_NewTopic_new(names[i], 1, 1, e, sizeof(e));
        rd_kafka_NewTopic_set_config(nt[i], "cleanup.policy", "compact");
    }
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *opt = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_request_timeout(opt, 15000, e, sizeof(e));
    rd_kafka_CreateTopics(rk, nt, 3, opt, q);
    rd_kafka_event_t *ev = admin_wait(rk, q, 20000);
    const rd_kafka_CreateTopics_result_t *res = ev ? rd_kafka_event_CreateTopics_result(ev) : NULL;
    if (!res || rd_kafka_event_error(ev)) {
        snprintf(err, errlen, "creating internal topics at %s: %s%s%s%s", w->conf.bootstrap_servers,
                 ev ? rd_kafka_event_error_string(ev) : "no answer within 20 s",
                 ce.last[0] ? " (last client error: " : "", ce.last, ce.last[0] ? ")" : "");
        rc = -1;
    } else {
        size_t n;
        const rd_kafka_topic_result_t **tr = rd_kafka_CreateTopics_result_topics(res, &n);
        for (size_t i = 0; i < n && rc == 0; i++) {
            rd_kafka_resp_err_t te = rd_kafka_topic_result_error(tr[i]);
            if (te && te != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
                snprintf(err, errlen, "creating topic %s: %s", rd_kafka_topic_result_name(tr[i]),
                         rd_kafka_topic_result_error_string(tr[i]));
                rc = -1;
            }
        }
    }
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(opt);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy_array(nt, 3);
    rd_kafka_destroy(rk);
    return rc;
}

/* ======================================================================== */
/* Reading _sluice_offsets                                                   */
/* ======================================================================== */

/* Every partition of `topic`, from the beginning to the high watermark
 * seen at start, into map (key text -> value text); later records of a key
 * replace earlier ones, a null value deletes. runs on: the caller's thread. */
int sl_worker_topic_read(sl_worker *w, const char *topic, json_t *map, char *err, size_t errlen)
{
    rd_kafka_conf_t *c =
        sl_worker_client_conf(w, SL_WCLIENT_CONSUMER, NULL, NULL, NULL, err, errlen);
    char e[512];
    int rc = -1;
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_partition_list_t *tps = NULL;
    if (!c)
        return -1;
    if (conf_set(c, "group.id", w->conf.group_id, err, errlen) ||
        conf_set(c, "enable.auto.commit", "false", err, errlen)) {
        rd_kafka_conf_destroy(c);
        return -1;
    }
    rd_kafka_t *rk = sl_kafka_client_new(RD_KAFKA_CONSUMER, c, e, sizeof(e));
    if (!rk) {
        snprintf(err, errlen, "%s reader: %s", topic, e);
        return -1;
    }
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    rd_kafka_resp_err_t me = rd_kafka_metadata(rk, 0, rkt, &md, 15000);
    if (me || md->topic_cnt != 1 || md->topics[0].err) {
        snprintf(err, errlen, "metadata of %s: %s", topic,
                 rd_kafka_err2str(me ? me : md->topic_cnt ? md->topics[0].err : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC));
        goto done;
    }
    int nparts = md->topics[0].partition_cnt;
    int64_t *high = calloc((size_t)nparts + 1, sizeof(*high));
    int64_t remaining = 0;
    tps = rd_kafka_topic_partition_list_new(nparts);
    for (int i = 0; i < nparts; i++) {
        int64_t lo = 0, hi = 0;
        int32_t p = md->topics[0].partitions[i].id;
        if ((me = rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 15000))) {
            snprintf(err, errlen, "%s-%d: watermarks: %s", topic, p, rd_kafka_err2str(me));
            free(high);
            goto done;
        }
        high[i] = hi;
        remaining += hi > lo ? 1 : 0;
        rd_kafka_topic_partition_list_add(tps, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    }
    rd_kafka_assign(rk, tps);
    int64_t deadline = sl_worker_now_ms() + 30000, records = 0;
    while (remaining > 0 && sl_worker_now_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m)
            continue;
        if (!m->err && m->key) {
            char *key = strndup(m->key, m->key_len);
            if (m->payload)
                json_object_set_new(map, key, json_stringn(m->payload, m->len));
            else
                json_object_del(map, key);
            free(key);
            records++;
        }
        for (int i = 0; !m->err && i < nparts; i++)
            if (md->topics[0].partitions[i].id == m->partition && m->offset + 1 == high[i])
                remaining--;
        rd_kafka_message_destroy(m);
    }
    free(high);
    if (remaining > 0) {
        snprintf(err, errlen, "%s: not read to its end within 30 s", topic);
        goto done;
    }
    sl_info("worker", "read %lld records of %s: %zu keys", (long long)records, topic,
            json_object_size(map));
    rc = 0;
done:
    if (tps)
        rd_kafka_topic_partition_list_destroy(tps);
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    sl_kafka_client_closing(rk);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return rc;
}

/* ======================================================================== */
/* Control writes                                                            */
/* ======================================================================== */

int sl_worker_topic_put(sl_worker *w, const char *topic, const char *key, const char *value,
                        char *err, size_t errlen)
{
    dr_wait *d = calloc(1, sizeof(*d));
    if (!d) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    d->tag.kind = DR_WAIT;
    rd_kafka_resp_err_t e = rd_kafka_producev(
        w->producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, strlen(key)),
        RD_KAFKA_V_VALUE((void *)value, value ? strlen(value) : 0),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(&d->tag), RD_KAFKA_V_END);
    if (e) {
        snprintf(err, errlen, "writing %s to %s: %s", key, topic, rd_kafka_err2str(e));
        free(d);
        return -1;
    }
    int64_t start = sl_worker_now_ms(), deadline = start + 15000;
    char why[1024];
    while (!atomic_load(&d->done) && sl_worker_now_ms() < deadline) {
        /* a producer the broker refuses acknowledges nothing: say so now
         * rather than after 15 s (a REST call's answer, a task's status) */
        if (sl_worker_producer_refused(w, start, why, sizeof(why))) {
            snprintf(err, errlen, "writing %s to %s: %s", key, topic, why);
            return -1; /* the report may still come: d is left to it */
        }
        struct timespec ts = {0, 2 * 1000000L};
        nanosleep(&ts, NULL);
    }
    int done = atomic_load(&d->done);
    if (done != 1) {
        snprintf(err, errlen, "writing %s to %s: %s", key, topic,
                 done ? rd_kafka_err2str(atomic_load(&d->err)) : "not acknowledged within 15 s");
        if (!done)
            return -1; /* the report may still come: d is left to it */
    }
    free(d);
    return done == 1 ? 0 : -1;
}

/* ======================================================================== */
/* Status                                                                    */
/* ======================================================================== */

/* Replaces *trace with a copy of t (or NULL). w->lock held. */
static void trace_set(char **trace, const char *t)
{
    free(*trace);
    *trace = t ? strdup(t) : NULL;
}

/* The in-memory state the REST API shows. A task told RUNNING while paused
 * (it just opened) is PAUSED. Returns the state to publish. */
static const char *status_note(sl_worker *w, const char *connector, int task_id,
                               const char *state, const char *trace)
{
    pthread_mutex_lock(&w->lock);
    sl_wconn *c = sl_conn_find(w, connector);
    if (c && task_id < 0) {
        snprintf(c->state, sizeof(c->state), "%s", state);
        trace_set(&c->trace, trace);
    } else if (c && task_id >= 0 && task_id < c->n_tasks && c->tasks[task_id]) {
        sl_wtask *wt = c->tasks[task_id];
        if (!strcmp(state, "RUNNING") && atomic_load(&wt->paused))
            state = "PAUSED";
        snprintf(wt->state, sizeof(wt->state), "%s", state);
        trace_set(&wt->trace, trace);
        if (!strcmp(state, "FAILED"))
            atomic_fetch_add(&wt->failures, 1);
    }
    pthread_mutex_unlock(&w->lock);
    return state;
}

static void status_publish(sl_worker *w, const char *key, const char *text)
{
    if (!w->producer)
        return;
    rd_kafka_resp_err_t e = rd_kafka_producev(
        w->producer, RD_KAFKA_V_TOPIC(SL_STATUS_TOPIC), RD_KAFKA_V_KEY(key, strlen(key)),
        RD_KAFKA_V_VALUE((void *)text, text ? strlen(text) : 0),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(NULL), RD_KAFKA_V_END);
    if (e)
        sl_warn("worker", "status %s not written to %s: %s", key, SL_STATUS_TOPIC,
                rd_kafka_err2str(e));
}

void sl_worker_status(sl_worker *w, const char *connector, int task_id, const char *state,
                      const char *trace)
{
    char key[512];
    if (task_id < 0)
        snprintf(key, sizeof(key), "status-connector-%s", connector);
    else
        snprintf(key, sizeof(key), "status-task-%s-%d", connector, task_id);
    state = status_note(w, connector, task_id, state, trace);
    if (!strcmp(state, "FAILED"))
        sl_error("worker", "%s: %s%s%s", key, state, trace ? ": " : "", trace ? trace : "");
    else
        sl_info("worker", "%s: %s", key, state);
    json_t *v = json_pack("{s:s, s:s?, s:s, s:i}", "state", state, "trace", trace, "worker_id",
                          w->worker_id, "generation", 0);
    char *text = v ? json_dumps(v, JSON_COMPACT) : NULL;
    json_decref(v);
    if (text)
        status_publish(w, key, text);
    free(text);
}

void sl_worker_status_forget(sl_worker *w, const char *connector)
{
    char key[512];
    snprintf(key, sizeof(key), "status-connector-%s", connector);
    status_publish(w, key, NULL);
    snprintf(key, sizeof(key), "status-task-%s-0", connector);
    status_publish(w, key, NULL);
}

/* ======================================================================== */
/* Task counters and active topics                                           */
/* ======================================================================== */

/* Notes topic as one of the connector's active topics (Kafka Connect's
 * KIP-558 record "topic-<topic>-connector-<connector>" in _sluice_status).
 * The per-task last-topic cache keeps this off the lock for runs of one
 * topic. runs on: the task thread. */
static void topic_note(sl_wtask *wt, const char *topic)
{
    sl_wconn *c = wt->conn;
    int gen = c ? atomic_load(&c->topics_gen) : 0;
    if (!c || !topic || (gen == wt->last_topic_gen && !strcmp(topic, wt->last_topic)))
        return;
    snprintf(wt->last_topic, sizeof(wt->last_topic), "%s", topic);
    wt->last_topic_gen = gen;
    int fresh = 0;
    pthread_mutex_lock(&wt->w->lock);
    if (!json_object_get(c->topics, topic)) {
        json_object_set_new(c->topics, topic, json_true());
        fresh = 1;
    }
    pthread_mutex_unlock(&wt->w->lock);
    if (!fresh)
        return;
    char key[1024];
    snprintf(key, sizeof(key), "topic-%s-connector-%s", topic, wt->connector);
    json_t *v = json_pack("{s:{s:s, s:s, s:i, s:I}}", "topic", "name", topic, "connector",
                          wt->connector, "task", wt->id, "discoverTimestamp",
                          (json_int_t)time(NULL) * 1000);
    char *text = v ? json_dumps(v, JSON_COMPACT) : NULL;
    if (text)
        status_publish(wt->w, key, text);
    free(text);
    json_decref(v);
}

void sl_wtask_source_batch(sl_wtask *wt, const sluice_batch *batch)
{
    size_t n = sl_batch_count(batch);
    const sluice_record *recs = sl_batch_records(batch);
    if (n == 0)
        return;
    atomic_fetch_add(&wt->records_in, (long long)n);
    atomic_fetch_add(&wt->records_out, (long long)n);
    atomic_fetch_add(&wt->batches, 1);
    for (size_t i = 0; i < n; i++)
        topic_note(wt, recs[i].topic);
}

void sl_wtask_sink_batch(sl_wtask *wt, const sluice_record *recs, size_t n)
{
    atomic_fetch_add(&wt->records_in, (long long)n);
    atomic_fetch_add(&wt->records_out, (long long)n);
    atomic_fetch_add(&wt->batches, 1);
    for (size_t i = 0; i < n; i++)
        topic_note(wt, recs[i].topic);
}

/* ======================================================================== */
/* Life cycle                                                                */
/* ======================================================================== */

static char *default_plugin_path(void)
{
    char exe[PATH_MAX], path[PATH_MAX + 16];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return strdup("plugins");
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = 0;
    snprintf(path, sizeof(path), "%s/plugins", exe);
    return strdup(path);
}

/* The Kafka clients' settings, checked at start: a bad value or SASL
 * without credentials is a config error naming the key, before anything
 * connects. */
static int clients_check(const sl_worker *w, char *err, size_t errlen)
{
    /* each layer's values first: their messages name the key exactly */
    if (sl_kafka_security_check(&w->conf.kafka, "", err, errlen) ||
        sl_kafka_security_check(&w->conf.kafka_producer, "producer.", err, errlen) ||
        sl_kafka_security_check(&w->conf.kafka_consumer, "consumer.", err, errlen) ||
        sl_kafka_security_check(&w->conf.kafka_admin, "admin.", err, errlen))
        return -1;
    for (int kind = SL_WCLIENT_PRODUCER; kind <= SL_WCLIENT_ADMIN; kind++) {
        rd_kafka_conf_t *c =
            sl_worker_client_conf(w, (enum sl_wclient)kind, NULL, NULL, NULL, err, errlen);
        if (!c)
            return -1;
        rd_kafka_conf_destroy(c);
    }
    return 0;
}

sl_worker *sl_worker_create(int argc, char **argv, char *err, size_t errlen)
{
    sl_worker *w = calloc(1, sizeof(*w));
    if (!w) {
        snprintf(err, errlen, "worker: out of memory");
        return NULL;
    }
    pthread_mutex_init(&w->lock, NULL);
    pthread_mutex_init(&w->ctl, NULL);
    pthread_mutex_init(&w->pauth.lock, NULL);
    w->pauth.log_ctx = "worker";
    w->pauth.fails = "source tasks fail on it";
    if (sl_config_defaults(worker_options, &w->conf, err, errlen) ||
        sl_config_parse_args(worker_options, &w->conf, argc, argv, err, errlen) ||
        sl_http_security_check(w->conf.listeners, &w->conf.http, err, errlen) ||
        clients_check(w, err, errlen))
        goto fail;
    if (!w->conf.plugin_path && !(w->conf.plugin_path = default_plugin_path()))
        goto fail;
    char host[64] = "localhost";
    gethostname(host, sizeof(host) - 1);
    snprintf(w->worker_id, sizeof(w->worker_id), "%s:%d", host, (int)getpid());
    w->offsets = json_object();
    if (!(w->host = sl_plugin_host_create(w->conf.plugin_path))) {
        snprintf(err, errlen, "worker: out of memory");
        goto fail;
    }
    return w;
fail:
    sl_worker_destroy(w);
    return NULL;
}

/* Reads _sluice_offsets (into w->offsets), _sluice_configs and
 * _sluice_status (into *configs and *status, new maps). */
static int state_read(sl_worker *w, json_t **configs, json_t **status, char *err, size_t errlen)
{
    *configs = json_object();
    *status = json_object();
    if (sl_worker_topic_read(w, SL_OFFSETS_TOPIC, w->offsets, err, errlen) != 0 ||
        sl_worker_topic_read(w, SL_CONFIGS_TOPIC, *configs, err, errlen) != 0 ||
        sl_worker_topic_read(w, SL_STATUS_TOPIC, *status, err, errlen) != 0)
        return -1;
    return 0;
}

/* Serves the REST API; the worker id becomes host:port as Kafka Connect's.
 * A listener the user set that cannot be served stops the worker; the
 * default one (8083) taken by another worker on this host only costs this
 * worker its REST API (logged as an error), so that workers started
 * without `listeners` (tests, `sluice run` pairs) do not fail each other. */
static int rest_start(sl_worker *w, char *err, size_t errlen)
{
    if (sl_rest_start(w, w->conf.listeners, &w->conf.http, &w->rest, err, errlen) != 0) {
        if (strcmp(w->conf.listeners, DEFAULT_LISTENERS))
            return -1;
        sl_error("worker", "REST API not served: %s (set listeners=http://host:port)", err);
        err[0] = 0;
        return 0;
    }
    char host[64] = "localhost";
    gethostname(host, sizeof(host) - 1);
    snprintf(w->worker_id, sizeof(w->worker_id), "%s:%d", host, sl_rest_port(w->rest));
    sl_info("worker", "Kafka Connect REST API on %s (port %d)", w->conf.listeners,
            sl_rest_port(w->rest));
    return 0;
}

int sl_worker_start(sl_worker *w, char *err, size_t errlen)
{
    json_t *configs = NULL, *status = NULL;
    sl_info("worker", "worker %s: bootstrap.servers=%s plugin.path=%s pipelines.dir=%s",
            w->worker_id, w->conf.bootstrap_servers, w->conf.plugin_path,
            w->conf.pipelines_dir ? w->conf.pipelines_dir : "(none)");
    if (producer_create(w, err, errlen) != 0)
        return -1;
    if (pthread_create(&w->poll_thread, NULL, poll_main, w) != 0) {
        snprintf(err, errlen, "worker: producer poll thread: %s", strerror(errno));
        return -1;
    }
    w->poll_started = 1;
    if (topics_create(w, err, errlen) != 0 ||
        state_read(w, &configs, &status, err, errlen) != 0 || rest_start(w, err, errlen) != 0) {
        json_decref(configs);
        json_decref(status);
        return -1;
    }
    w->started = 1;
    pthread_mutex_lock(&w->ctl);
    sl_conns_start(w, configs, status);
    pthread_mutex_unlock(&w->ctl);
    json_decref(configs);
    json_decref(status);
    atomic_store(&w->ready, 1);
    return 0;
}

int sl_worker_rest_port(const sl_worker *w)
{
    return w->rest ? sl_rest_port(w->rest) : 0;
}

void sl_worker_stop(sl_worker *w)
{
    if (!w)
        return;
    sl_rest_stop(w->rest); /* no request runs past this */
    w->rest = NULL;
    atomic_store(&w->ready, 0);
    pthread_mutex_lock(&w->ctl);
    sl_conns_halt_all(w);
    pthread_mutex_unlock(&w->ctl);
    if (w->producer) {
        producer_finish(w->producer, !sl_worker_producer_refused(w, INT64_MAX, NULL, 0), "worker",
                        "the worker's producer");
    }
    if (w->poll_started) {
        atomic_store(&w->stopping, 2);
        pthread_join(w->poll_thread, NULL);
        w->poll_started = 0;
    }
}

void sl_worker_destroy(sl_worker *w)
{
    if (!w)
        return;
    sl_worker_stop(w);
    sl_conns_free_all(w);
    if (w->producer)
        rd_kafka_destroy(w->producer);
    sl_plugin_host_destroy(w->host);
    json_decref(w->offsets);
    sl_config_free(worker_options, &w->conf);
    pthread_mutex_destroy(&w->lock);
    pthread_mutex_destroy(&w->ctl);
    pthread_mutex_destroy(&w->pauth.lock);
    free(w);
}

static volatile sig_atomic_t got_signal;
static void on_signal(int sig)
{
    got_signal = sig;
}

int sl_worker_main(int argc, char **argv)
{
    char err[1024];
    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: sluice worker [--config FILE] [--set key=value ...]\n\noptions:\n");
        sl_config_usage(worker_options, stdout);
        return 0;
    }
    sl_worker *w = sl_worker_create(argc, argv, err, sizeof(err));
    if (!w) {
        fprintf(stderr, "sluice worker: %s\n", err);
        return 2;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    int rc = 0;
    if (sl_worker_start(w, err, sizeof(err)) != 0) {
        sl_error("worker", "%s", err);
        rc = 1;
    } else {
        sl_info("worker", "started; SIGTERM or SIGINT stops it");
        while (!got_signal) {
            struct timespec ts = {0, 100 * 1000000L};
            nanosleep(&ts, NULL);
        }
        sl_info("worker", "signal %d: stopping", (int)got_signal);
    }
    sl_worker_destroy(w);
    return rc;
}
