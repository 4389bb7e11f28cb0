/*
 * store.c - the _schemas topic through librdkafka (see store.h for the record
 * formats and the threading contract).
 *
 * Start-up: the admin API creates the topic (cleanup.policy=compact, one
 * partition) unless it exists; the reader thread consumes partition 0 from
 * the beginning with librdkafka's simple (partition) consumer, which needs
 * no group.id and never talks to a group coordinator: every instance reads
 * everything and commits nothing. Then a NOOP record is written and waited
 * for, which both proves the producer works and means the reader has read
 * everything written before this instance started. Confluent's KafkaStore
 * starts the same way.
 *
 * Reading: every record goes through sl_store_view_apply, which applies the
 * first-claim-wins rule of store.h, so that instances writing at the same
 * moment, and a later instance replaying a compacted topic, agree.
 *
 * Writes: produce to partition 0, poll the producer until the delivery report
 * gives the record's offset, then wait on `cond` until the reader's next
 * offset is past it. A write that times out purges the message from the
 * producer so that no delivery report outlives the waiting stack frame.
 *
 * Idempotence: the producer is idempotent (enable.idempotence, acks=all)
 * unless kafkastore.enable.idempotence=false, or the broker does not support
 * it: then the NOOP write fails with a fatal error and the store says so in
 * the log and reconnects with a plain acks=all producer.
 */
#include "store.h"

#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kafka_client.h"
#include "logging.h"

#define COMP "registry"

struct sl_store {
    sl_store_conf conf;
    char *bootstrap, *topic;
    rd_kafka_t *producer;
    rd_kafka_t *consumer;
    rd_kafka_topic_t *rkt; /* the consumer's handle on the topic */
    int consuming;
    pthread_t reader;
    int reader_started;
    volatile int stop;
    pthread_mutex_t mu; /* guards view, next_offset, reader_err */
    pthread_cond_t cond;
    pthread_mutex_t write_mu;
    sl_store_view view;
    int64_t next_offset; /* the offset the reader will apply next */
    char reader_err[256];
};

typedef struct put_wait {
    int done;
    rd_kafka_resp_err_t err;
    int64_t offset;
} put_wait;

/* ================= Confluent's record formats ================= */

static char *dump(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(j);
    return s;
}

char *sl_store_schema_key(const char *subject, int version)
{
    return dump(json_pack("{s:s, s:s, s:i, s:i}", "keytype", "SCHEMA", "subject", subject,
                          "version", version, "magic", 1));
}

char *sl_store_schema_value(const sl_store_schema *s)
{
    json_t *v =
        json_pack("{s:s, s:i, s:i}", "subject", s->subject, "version", s->version, "id", s->id);
    if (s->references && json_array_size(s->references))
        json_object_set(v, "references", s->references);
    json_object_set_new(v, "schema", json_string(s->schema));
    json_object_set_new(v, "deleted", json_boolean(s->deleted));
    return dump(v);
}

char *sl_store_setting_key(const char *keytype, const char *subject)
{
    return dump(json_pack("{s:s, s:o, s:i}", "keytype", keytype, "subject",
                          subject ? json_string(subject) : json_null(), "magic", 0));
}

char *sl_store_setting_value(const char *field, const char *value)
{
    return dump(json_pack("{s:s}", field, value));
}

char *sl_store_delete_subject_value(const char *subject, int version)
{
    return dump(json_pack("{s:s, s:i}", "subject", subject, "version", version));
}

/* ================= the view (runs on: reader thread, mu held) ================= */

static void schema_clear(sl_store_schema *s)
{
    free(s->subject);
    free(s->identity);
    free(s->schema);
    json_decref(s->references);
}

static sl_store_schema *find_schema(sl_store_view *v, const char *subject, int version)
{
    for (size_t i = 0; i < v->nschemas; i++)
        if (v->schemas[i].version == version && !strcmp(v->schemas[i].subject, subject))
            return &v->schemas[i];
    return NULL;
}

static sl_store_schema *find_owner(sl_store_view *v, int id)
{
    for (size_t i = 0; i < v->nschemas; i++)
        if (v->schemas[i].id == id)
            return &v->schemas[i];
    return NULL;
}

static int same_schema(const sl_store_view *v, const sl_store_schema *have, const char *text,
                       json_t *refs, sl_store_same_fn same, void *same_arg)
{
    if (!strcmp(have->schema, text) && json_equal(have->references, refs))
        return 1;
    return same ? same(same_arg, v, have, text, refs) : 0;
}

static sl_store_schema *add_schema(sl_store_view *v, const char *subject, int version)
{
    if (v->nschemas == v->capschemas) {
        v->capschemas = v->capschemas ? v->capschemas * 2 : 64;
        v->schemas = realloc(v->schemas, v->capschemas * sizeof(*v->schemas));
        if (!v->schemas)
            abort();
    }
    sl_store_schema *s = &v->schemas[v->nschemas++];
    memset(s, 0, sizeof(*s));
    s->subject = strdup(subject);
    s->version = version;
    return s;
}

/* First claim wins (store.h): the record stands if its (subject, version) is
 * free or holds the same id and schema, and its id is free or belongs to the
 * same schema. Returns 1 if it stood. */
static int apply_schema(sl_store_view *v, const char *subject, int version, json_t *val,
                        int64_t offset, sl_store_same_fn same, void *same_arg)
{
    sl_store_schema *s = find_schema(v, subject, version);
    if (!val) { /* tombstone: permanent delete */
        if (s) {
            schema_clear(s);
            *s = v->schemas[--v->nschemas];
        }
        return 1;
    }
    json_t *jid = json_object_get(val, "id"), *jtext = json_object_get(val, "schema");
    json_t *type = json_object_get(val, "schemaType");
    if (!json_is_integer(jid) || !json_is_string(jtext)) {
        sl_warn(COMP, "_schemas: SCHEMA record of %s version %d lacks id or schema; ignored",
                subject, version);
        return 0;
    }
    if (type && json_is_string(type) && strcmp(json_string_value(type), "AVRO")) {
        sl_warn(COMP, "_schemas: %s version %d is of type %s; only AVRO is served", subject,
                version, json_string_value(type));
        return 0;
    }
    int id = (int)json_integer_value(jid);
    const char *text = json_string_value(jtext);
    json_t *jrefs = json_object_get(val, "references");
    json_t *refs = json_is_array(jrefs) ? json_incref(jrefs) : json_array();
    int deleted = json_is_true(json_object_get(val, "deleted"));
    const sl_store_schema *owner = s ? s : find_owner(v, id);
    if (owner && ((s && s->id != id) || !same_schema(v, owner, text, refs, same, same_arg))) {
        sl_info(COMP,
                "_schemas offset %lld: %s version %d (id %d) ignored: %s first claimed by %s "
                "version %d (id %d) at offset %lld for another schema",
                (long long)offset, subject, version, id, s ? "the version was" : "the id was",
                owner->subject, owner->version, owner->id, (long long)owner->offset);
        json_decref(refs);
        return 0;
    }
    if (s) { /* the same schema again: only a soft delete changes it */
        s->deleted |= deleted;
        json_decref(refs);
        return 1;
    }
    s = add_schema(v, subject, version);
    s->id = id;
    s->schema = strdup(text);
    s->references = refs;
    s->deleted = deleted;
    s->offset = offset;
    if (id > v->max_id)
        v->max_id = id;
    return 1;
}

static void apply_setting(sl_store_setting **arr, size_t *n, size_t *cap, const char *subject,
                          const char *value)
{
    for (size_t i = 0; i < *n; i++) {
        sl_store_setting *st = &(*arr)[i];
        if ((!subject && !st->subject) ||
            (subject && st->subject && !strcmp(subject, st->subject))) {
            free(st->value);
            if (value) {
                st->value = strdup(value);
            } else {
                free(st->subject);
                (*arr)[i] = (*arr)[--*n];
            }
            return;
        }
    }
    if (!value)
        return;
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        *arr = realloc(*arr, *cap * sizeof(**arr));
        if (!*arr)
            abort();
    }
    (*arr)[*n].subject = subject ? strdup(subject) : NULL;
    (*arr)[*n].value = strdup(value);
    ++*n;
}

int sl_store_view_apply(sl_store_view *v, const void *rkey, size_t keylen, const void *rval,
                        size_t vallen, int64_t offset, sl_store_same_fn same, void *same_arg)
{
    json_error_t je;
    int stood = 1;
    json_t *key = rkey ? json_loadb(rkey, keylen, 0, &je) : NULL;
    json_t *val = rval ? json_loadb(rval, vallen, 0, &je) : NULL;
    const char *kt = json_string_value(json_object_get(key, "keytype"));
    json_t *jsub = json_object_get(key, "subject");
    const char *subject = json_string_value(jsub);
    if (!kt) {
        sl_warn(COMP, "_schemas offset %lld: key is not a registry key; ignored",
                (long long)offset);
        stood = 0;
    } else if (!strcmp(kt, "SCHEMA") && subject) {
        stood = apply_schema(v, subject, (int)json_integer_value(json_object_get(key, "version")),
                             val, offset, same, same_arg);
    } else if (!strcmp(kt, "CONFIG")) {
        const char *lvl = json_string_value(json_object_get(val, "compatibilityLevel"));
        if (!lvl)
            lvl = json_string_value(json_object_get(val, "compatibility"));
        apply_setting(&v->configs, &v->nconfigs, &v->capconfigs, subject, val ? lvl : NULL);
    } else if (!strcmp(kt, "MODE")) {
        const char *mode = json_string_value(json_object_get(val, "mode"));
        apply_setting(&v->modes, &v->nmodes, &v->capmodes, subject, val ? mode : NULL);
    } else if (!strcmp(kt, "DELETE_SUBJECT") && subject && val) {
        int upto = (int)json_integer_value(json_object_get(val, "version"));
        for (size_t i = 0; i < v->nschemas; i++)
            if (!strcmp(v->schemas[i].subject, subject) && v->schemas[i].version <= upto)
                v->schemas[i].deleted = 1;
    } /* NOOP, CLEAR_SUBJECT and unknown key types change nothing */
    json_decref(key);
    json_decref(val);
    return stood;
}

void sl_store_view_free(sl_store_view *v)
{
    for (size_t i = 0; i < v->nschemas; i++)
        schema_clear(&v->schemas[i]);
    free(v->schemas);
    for (size_t i = 0; i < v->nconfigs; i++)
        free(v->configs[i].subject), free(v->configs[i].value);
    free(v->configs);
    for (size_t i = 0; i < v->nmodes; i++)
        free(v->modes[i].subject), free(v->modes[i].value);
    free(v->modes);
}

/* ================= reader thread ================= */

/* runs on: the reader thread, for the store's lifetime */
static void *reader_main(void *arg)
{
    sl_store *st = arg;
    while (!st->stop) {
        rd_kafka_message_t *m = rd_kafka_consume(st->rkt, 0, 100);
        if (!m)
            continue;
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                sl_debug(COMP, "_schemas reader: %s", rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            continue;
        }
        pthread_mutex_lock(&st->mu);
        sl_store_view_apply(&st->view, m->key, m->key_len, m->payload, m->len, m->offset,
                            st->conf.same_schema, st->conf.same_arg);
        st->next_offset = m->offset + 1;
        pthread_cond_broadcast(&st->cond);
        pthread_mutex_unlock(&st->mu);
        rd_kafka_message_destroy(m);
    }
    return NULL;
}

/* ================= clients ================= */

static int conf_set(rd_kafka_conf_t *c, const char *k, const char *v, char *err, size_t errlen)
{
    char e[256];
    if (rd_kafka_conf_set(c, k, v, e, sizeof(e)) == RD_KAFKA_CONF_OK)
        return 0;
    snprintf(err, errlen, "librdkafka setting %s=%s: %s", k, v, e);
    return -1;
}

/* runs on: whichever thread polls the producer (a writer, under write_mu) */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    sl_store *st = opaque;
    put_wait *pw = m->_private;
    pthread_mutex_lock(&st->mu);
    pw->err = m->err;
    pw->offset = m->offset;
    pw->done = 1;
    pthread_mutex_unlock(&st->mu);
}

/* librdkafka reports a failure twice: as a FAIL log line, which the
 * client's label writes at its level once a minute (a refused login at
 * ERROR), and here; so here only for debugging. */
static void on_error(rd_kafka_t *rk, int e, const char *reason, void *opaque)
{
    (void)e, (void)opaque;
    sl_debug(COMP, "kafkastore %s: %s", rd_kafka_name(rk), reason);
}

static rd_kafka_t *make_client(sl_store *st, rd_kafka_type_t type, int idempotent, char *err,
                               size_t errlen)
{
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    char tmo[32], e[256];
    snprintf(tmo, sizeof(tmo), "%lld", (long long)st->conf.timeout_ms);
    if (conf_set(c, "bootstrap.servers", st->bootstrap, err, errlen) ||
        conf_set(c, "client.id", "sluice-registry", err, errlen) ||
        (st->conf.security &&
         sl_kafka_client_conf_sec(c, st->conf.security, "kafkastore.", err, errlen)) ||
        sl_kafka_client_check(c, "kafkastore", "kafkastore.", err, errlen))
        goto fail;
    /* librdkafka's log lines as the registry's ("kafkastore producer:
     * FAIL: ..."): they say that a broker is down or refuses the login */
    if (sl_kafka_client_log(
            c, COMP, type == RD_KAFKA_PRODUCER ? "kafkastore producer" : "kafkastore consumer",
            0)) {
        snprintf(err, errlen, "kafkastore: out of memory");
        goto fail; /* a half-labelled conf is not safe to hand to rd_kafka_new */
    }
    if (type == RD_KAFKA_PRODUCER) {
        if (conf_set(c, "acks", "all", err, errlen) ||
            conf_set(c, "enable.idempotence", idempotent ? "true" : "false", err, errlen) ||
            conf_set(c, "linger.ms", "0", err, errlen) ||
            conf_set(c, "message.timeout.ms", tmo, err, errlen))
            goto fail;
        rd_kafka_conf_set_dr_msg_cb(c, on_delivery);
    } else if (conf_set(c, "enable.auto.commit", "false", err, errlen) ||
               conf_set(c, "enable.auto.offset.store", "false", err, errlen) ||
               conf_set(c, "fetch.wait.max.ms", "50", err, errlen)) {
        goto fail;
    }
    rd_kafka_conf_set_error_cb(c, on_error);
    rd_kafka_conf_set_opaque(c, st);
    rd_kafka_t *rk = sl_kafka_client_new(type, c, e, sizeof(e));
    if (!rk) { /* c is gone either way */
        snprintf(err, errlen, "kafkastore: cannot create the %s: %s",
                 type == RD_KAFKA_PRODUCER ? "producer" : "consumer", e);
        return NULL;
    }
    return rk;
fail:
    rd_kafka_conf_destroy(c);
    return NULL;
}

static int64_t now_ms(void);

static int create_topic(sl_store *st, char *err, size_t errlen)
{
    char e[256];
    int rc = -1;
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(st->topic, 1, -1, e, sizeof(e));
    rd_kafka_queue_t *q = rd_kafka_queue_new(st->producer);
    rd_kafka_AdminOptions_t *opt = rd_kafka_AdminOptions_new(st->producer, RD_KAFKA_ADMIN_OP_ANY);
    rd_kafka_event_t *ev = NULL;
    if (!nt) {
        snprintf(err, errlen, "kafkastore.topic '%s': %s", st->topic, e);
        goto out;
    }
    rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "compact");
    rd_kafka_AdminOptions_set_operation_timeout(opt, (int)st->conf.timeout_ms, e, sizeof(e));
    rd_kafka_AdminOptions_set_request_timeout(opt, (int)st->conf.timeout_ms, e, sizeof(e));
    rd_kafka_CreateTopics(st->producer, &nt, 1, opt, q);
    /* polling the producer meanwhile serves on_error: a refused login is
     * logged as it happens, not only as this request's time-out */
    for (int64_t end = now_ms() + st->conf.timeout_ms + 2000; !ev && now_ms() < end;) {
        ev = rd_kafka_queue_poll(q, 200);
        rd_kafka_poll(st->producer, 0);
    }
    if (!ev) {
        snprintf(err, errlen, "kafkastore: creating topic '%s' on %s timed out", st->topic,
                 st->bootstrap);
        goto out;
    }
    if (rd_kafka_event_error(ev)) {
        snprintf(err, errlen, "kafkastore: creating topic '%s' on %s: %s", st->topic, st->bootstrap,
                 rd_kafka_event_error_string(ev));
        goto out;
    }
    size_t n;
    const rd_kafka_topic_result_t **res =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
    for (size_t i = 0; i < n; i++) {
        rd_kafka_resp_err_t te = rd_kafka_topic_result_error(res[i]);
        if (te == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
            sl_info(COMP, "topic %s exists", st->topic);
        } else if (te) {
            snprintf(err, errlen, "kafkastore: creating topic '%s': %s", st->topic,
                     rd_kafka_topic_result_error_string(res[i]));
            goto out;
        } else {
            sl_info(COMP, "created topic %s (cleanup.policy=compact, 1 partition)", st->topic);
        }
    }
    rc = 0;
out:
    if (ev)
        rd_kafka_event_destroy(ev);
    if (nt)
        rd_kafka_NewTopic_destroy(nt);
    rd_kafka_AdminOptions_destroy(opt);
    rd_kafka_queue_destroy(q);
    return rc;
}

static int start_reader(sl_store *st, char *err, size_t errlen)
{
    st->consumer = make_client(st, RD_KAFKA_CONSUMER, 0, err, errlen);
    if (!st->consumer)
        return -1;
    st->rkt = rd_kafka_topic_new(st->consumer, st->topic, NULL);
    if (!st->rkt || rd_kafka_consume_start(st->rkt, 0, RD_KAFKA_OFFSET_BEGINNING)) {
        snprintf(err, errlen, "kafkastore: consuming %s/0: %s", st->topic,
                 rd_kafka_err2str(rd_kafka_last_error()));
        return -1;
    }
    st->consuming = 1;
    if (pthread_create(&st->reader, NULL, reader_main, st)) {
        snprintf(err, errlen, "kafkastore: cannot start the reader thread: %s", strerror(errno));
        return -1;
    }
    st->reader_started = 1;
    return 0;
}

/* ================= writes ================= */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int wait_delivery(sl_store *st, put_wait *pw, int64_t deadline)
{
    for (;;) {
        rd_kafka_poll(st->producer, 20);
        pthread_mutex_lock(&st->mu);
        int done = pw->done;
        pthread_mutex_unlock(&st->mu);
        if (done)
            return 0;
        if (now_ms() > deadline) {
            rd_kafka_purge(st->producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
            for (int i = 0; i < 500 && !pw->done; i++)
                rd_kafka_poll(st->producer, 10);
            return -1;
        }
    }
}

static int wait_reader(sl_store *st, int64_t offset, int64_t deadline)
{
    int rc = 0;
    pthread_mutex_lock(&st->mu);
    while (st->next_offset <= offset && rc == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * 1000000;
        if (ts.tv_nsec >= 1000000000)
            ts.tv_sec++, ts.tv_nsec -= 1000000000;
        pthread_cond_timedwait(&st->cond, &st->mu, &ts);
        if (now_ms() > deadline)
            rc = st->next_offset <= offset ? -1 : 0;
    }
    pthread_mutex_unlock(&st->mu);
    return rc;
}

int sl_store_put(sl_store *st, const char *key, const char *value, int64_t *offset, int *timed_out,
                 char *err, size_t errlen)
{
    put_wait pw = {0};
    int64_t deadline = now_ms() + st->conf.timeout_ms;
    *timed_out = 0;
    rd_kafka_resp_err_t e = rd_kafka_producev(
        st->producer, RD_KAFKA_V_TOPIC(st->topic), RD_KAFKA_V_PARTITION(0),
        RD_KAFKA_V_KEY(key, strlen(key)),
        RD_KAFKA_V_VALUE((void *)value, value ? strlen(value) : 0),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(&pw), RD_KAFKA_V_END);
    if (e) {
        snprintf(err, errlen, "kafkastore: producing to %s: %s", st->topic, rd_kafka_err2str(e));
        return -1;
    }
    if (wait_delivery(st, &pw, deadline)) {
        *timed_out = 1;
        snprintf(err, errlen, "kafkastore: no acknowledgement from %s within %lld ms",
                 st->bootstrap, (long long)st->conf.timeout_ms);
        return -1;
    }
    if (pw.err) {
        *timed_out = pw.err == RD_KAFKA_RESP_ERR__MSG_TIMED_OUT;
        snprintf(err, errlen, "kafkastore: writing to %s/0: %s", st->topic,
                 rd_kafka_err2str(pw.err));
        return -1;
    }
    if (wait_reader(st, pw.offset, deadline)) {
        *timed_out = 1;
        snprintf(err, errlen,
                 "kafkastore: the reader did not reach offset %lld of %s within "
                 "%lld ms",
                 (long long)pw.offset, st->topic, (long long)st->conf.timeout_ms);
        return -1;
    }
    if (offset)
        *offset = pw.offset;
    return 0;
}

void sl_store_write_begin(sl_store *st)
{
    pthread_mutex_lock(&st->write_mu);
}

void sl_store_write_end(sl_store *st)
{
    pthread_mutex_unlock(&st->write_mu);
}

/* Wait until the reader has applied everything its last fetch said the
 * partition holds (librdkafka's cached high watermark: no request, never
 * blocks on the broker). A write by this instance is visible to its next
 * read; a write by another instance once this reader's next fetch returns
 * (fetch.wait.max.ms, 50 ms). A synchronous ListOffsets per read would close
 * that gap, but librdkafka's rd_kafka_query_watermark_offsets ignores its
 * timeout while the broker is down and would hang reads and shutdown. */
static void sync_reader(sl_store *st)
{
    int64_t lo = -1, hi = -1;
    if (rd_kafka_get_watermark_offsets(st->consumer, st->topic, 0, &lo, &hi) || hi <= 0)
        return;
    wait_reader(st, hi - 1, now_ms() + 1000);
}

const sl_store_view *sl_store_lock(sl_store *st)
{
    sync_reader(st);
    pthread_mutex_lock(&st->mu);
    return &st->view;
}

void sl_store_unlock(sl_store *st)
{
    pthread_mutex_unlock(&st->mu);
}

/* ================= lifecycle ================= */

static int write_noop(sl_store *st, char *err, size_t errlen)
{
    int timed_out;
    return sl_store_put(st, "{\"keytype\":\"NOOP\",\"magic\":0}", NULL, NULL, &timed_out, err,
                        errlen);
}

/* The NOOP write failed: if the idempotent producer hit a fatal error (the
 * broker lacks InitProducerId), fall back to a plain acks=all producer. */
static int retry_without_idempotence(sl_store *st, char *err, size_t errlen)
{
    char fe[256];
    if (!st->conf.idempotence || !rd_kafka_fatal_error(st->producer, fe, sizeof(fe)))
        return -1;
    sl_warn(COMP,
            "kafkastore: idempotent producer failed (%s); the broker at %s does not "
            "support it, using acks=all without idempotence",
            fe, st->bootstrap);
    rd_kafka_destroy(st->producer);
    st->producer = make_client(st, RD_KAFKA_PRODUCER, 0, err, errlen);
    if (!st->producer)
        return -1;
    return write_noop(st, err, errlen);
}

int sl_store_open(const sl_store_conf *conf, sl_store **out, char *err, size_t errlen)
{
    sl_store *st = calloc(1, sizeof(*st));
    *out = NULL;
    if (!st) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    st->conf = *conf;
    st->bootstrap = strdup(conf->bootstrap);
    st->topic = strdup(conf->topic);
    pthread_mutex_init(&st->mu, NULL);
    pthread_cond_init(&st->cond, NULL);
    pthread_mutex_init(&st->write_mu, NULL);
    st->producer = make_client(st, RD_KAFKA_PRODUCER, conf->idempotence, err, errlen);
    if (!st->producer || create_topic(st, err, errlen) || start_reader(st, err, errlen))
        goto fail;
    if (write_noop(st, err, errlen) && retry_without_idempotence(st, err, errlen))
        goto fail;
    pthread_mutex_lock(&st->mu);
    sl_info(COMP, "read %s to offset %lld: %zu schema versions, max id %d", st->topic,
            (long long)st->next_offset, st->view.nschemas, st->view.max_id);
    pthread_mutex_unlock(&st->mu);
    *out = st;
    return 0;
fail:
    sl_store_close(st);
    return -1;
}

void sl_store_close(sl_store *st)
{
    if (!st)
        return;
    st->stop = 1;
    if (st->reader_started)
        pthread_join(st->reader, NULL);
    if (st->consuming)
        rd_kafka_consume_stop(st->rkt, 0);
    if (st->rkt)
        rd_kafka_topic_destroy(st->rkt);
    if (st->consumer)
        rd_kafka_destroy(st->consumer);
    if (st->producer) {
        rd_kafka_flush(st->producer, 2000);
        rd_kafka_purge(st->producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_destroy(st->producer);
    }
    sl_store_view_free(&st->view);
    pthread_mutex_destroy(&st->mu);
    pthread_cond_destroy(&st->cond);
    pthread_mutex_destroy(&st->write_mu);
    free(st->bootstrap);
    free(st->topic);
    free(st);
}
