/*
 * worker_sink.c - a sink task's thread: consume -> convert -> put ->
 * flush -> commit consumer offsets.
 *
 * The consumer is a librdkafka high-level consumer in group
 * "connect-<connector>" (Kafka Connect's name), subscribed to `topics`,
 * with enable.auto.commit=false. The thread remembers, per partition, the
 * offset after the last record it put; it commits those offsets only after
 * the plugin's flush() returned OK (ARCHITECTURE.md 7), so a crash
 * re-delivers at most what was put since the last successful flush.
 * Flush happens every offset.flush.interval.ms, after sink.flush.records
 * records, and on stop. A sink with a preCommit callback (S3) is never
 * flushed: it is asked instead which offsets its target already holds, and
 * only those are committed.
 *
 * Prefetch: librdkafka 2.0's fetcher (a broker thread) stops fetching a
 * partition once the consumer queue holds queued.min.messages messages or
 * queued.max.messages.kbytes of payload, and decides again only when that
 * thread wakes: on a fetch response, an op, or its one-second timer. A sink
 * that drains the queue faster than that sat idle for the rest of the
 * second (avro end to end at half the sink's own rate). So the loop notes
 * when the queue came near a bound, and when it then finds the queue empty
 * it seeks every assigned partition to its position (prefetch_refill): a
 * seek wakes the fetcher at once. Nothing is read twice or lost: the queue
 * is empty, the position is the offset after the last message polled, and
 * the seek's version barrier drops anything a fetch in flight still brings
 * from the old position. Since an idle queue now costs one fetch round trip
 * instead of up to a second, the bounds stay small (memory).
 *
 * Errors: SLUICE_RETRY from put or flush backs off (100 ms doubling up to
 * errors.retry.delay.max.ms) and retries the same batch; SLUICE_ERROR and
 * conversion errors (errors.tolerance=none) make the task FAILED, and so
 * does a consumer whose login the broker refuses or whose TLS handshake
 * fails (consumer_error; librdkafka retries other client errors itself).
 *
 * Runs on: this task's thread (the consumer's callbacks too: they are
 * served from rd_kafka_consumer_poll).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logging.h"
#include "transforms.h"
#include "worker_int.h"

#define SINK_BATCH 2000
#define SINK_HEADERS 16 /* headers passed on per record; more are dropped */

typedef struct sink_state {
    sl_wtask *wt;
    rd_kafka_t *rk;
    rd_kafka_topic_partition_list_t *pending; /* offsets to commit after a flush */
    rd_kafka_topic_partition_list_t *committed; /* preCommit sinks: what was committed */
    rd_kafka_topic_partition_list_t *skipped;   /* skipped behind the unput batch */
    sl_errpolicy errors;
    char topics[SINK_BATCH][256]; /* topics a transform routed records to */
    sluice_header headers[SINK_BATCH][SINK_HEADERS]; /* point into msgs[i] */
    rd_kafka_message_t *msgs[SINK_BATCH];
    sluice_record recs[SINK_BATCH];
    /* Slots below n hold the batch's decoded values. Without transforms a
     * slot keeps its values after the batch is put, and the converter reads
     * the next record of the same schema into them in place: decoding then
     * allocates nothing. Every slot is NULL or a value the slot owns. */
    avro_value_t keys[SINK_BATCH], values[SINK_BATCH];
    /* Raw values (the plugin takes them, no transforms): a record's value
     * stays the bytes in msgs[i] (Avro, checked against its writer schema,
     * whose plan is plans[i]; or JSON text, plans[i] NULL); values[i] holds
     * it decoded only once the plugin asked (decoded[i]). */
    int raw;
    const sluice_avro_plan *plans[SINK_BATCH];
    unsigned char decoded[SINK_BATCH];
    size_t n;
    int64_t unflushed, backoff;
    int rk_paused; /* the assignment is paused in the consumer */
    /* the prefetch (see the top of the file) */
    rd_kafka_queue_t *cq;            /* the consumer queue: its length */
    int64_t q_min_msgs, q_max_bytes; /* the bounds the fetcher stops at */
    int64_t polled, polled_bytes;    /* messages polled, their key+value bytes */
    int q_full;                      /* the queue came near a bound since the last refill */
    rd_kafka_topic_partition_list_t *sought; /* where the last refill sought to */
    /* A callback served inside a poll (rebalance, the consumer's errors)
     * failed the task: cb_err says why, and the loop fails it after the poll
     * (cb_fail). */
    int cb_failed;
    int closing; /* the consumer is being closed: a revoke only unassigns */
    char cb_err[1024];
} sink_state;

static void rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t e,
                      rd_kafka_topic_partition_list_t *parts, void *opaque);
static void consumer_error(rd_kafka_t *rk, int e, const char *reason, void *opaque);

/* An integer property of the consumer's configuration (0 if unreadable). */
static int64_t conf_int(rd_kafka_t *rk, const char *name)
{
    char v[32];
    size_t len = sizeof(v);
    if (rd_kafka_conf_get(rd_kafka_conf(rk), name, v, &len) != RD_KAFKA_CONF_OK)
        return 0;
    return strtoll(v, NULL, 10);
}

/* Asks the broker for each topic of the subscription before subscribing,
 * which creates one not there yet where the broker allows it. Otherwise the
 * group's first assignment has none of its partitions, and librdkafka 2.0
 * rejoins only once its metadata sees the topic (a second or more: a
 * pipeline's sink, started beside its source, began that late). What the
 * broker answers does not matter here: subscribing reports the rest. */
static void topics_ensure(sink_state *s, rd_kafka_t *rk, const rd_kafka_topic_partition_list_t *sub)
{
    for (int i = 0; i < sub->cnt; i++) {
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, sub->elems[i].topic, NULL);
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t e = rkt ? rd_kafka_metadata(rk, 0, rkt, &md, 5000)
                                    : RD_KAFKA_RESP_ERR__INVALID_ARG;
        if (e)
            sl_debug(s->wt->connector, "task %d: metadata of %s: %s", s->wt->id,
                     sub->elems[i].topic, rd_kafka_err2str(e));
        if (md)
            rd_kafka_metadata_destroy(md);
        if (rkt)
            rd_kafka_topic_destroy(rkt);
    }
}

static rd_kafka_t *consumer_create(sink_state *s, char *err, size_t errlen)
{
    sl_wtask *wt = s->wt;
    char group[600], e[512];
    snprintf(group, sizeof(group), "connect-%s", wt->connector);
    /* group.id and enable.auto.commit are no one else's to set
     * (sl_worker_client_conf refuses them); the rest, the worker's choices,
     * its consumer.* keys and the connector's consumer.override.* change */
    const char *const kv[] = {"group.id", group,
                              "enable.auto.commit", "false",
                              "auto.offset.reset", "earliest",
                              "session.timeout.ms", "6000",
                              "heartbeat.interval.ms", "1000",
                              "client.id", wt->w->worker_id,
                              /* how soon topics.regex sees a topic created later */
                              "topic.metadata.refresh.interval.ms", "5000",
                              /* a topic not there yet is created by the broker
                               * (when auto.create.topics.enable), as Kafka's
                               * consumer does by default (topics_ensure) */
                              "allow.auto.create.topics", "true",
                              /* prefetch: the fetcher stops at either bound
                               * (debug=fetch: "not fetchable") and the loop
                               * restarts it once the queue ran empty
                               * (prefetch_refill), which costs a fetch round
                               * trip each time the queue fills. Count: 50000,
                               * a quarter of a second of the file sink's
                               * 200-byte rows; each queued message costs about
                               * 400 bytes of memory beyond its payload, so a
                               * worker with one such sink task peaks near 50 MB
                               * (150000: 90 MB). Bytes: 128 MB, for rows over
                               * 2.6 KB. Per task: tasks.max sink tasks
                               * prefetch each. */
                              "queued.max.messages.kbytes", "131072",
                              "queued.min.messages", "50000", NULL};
    /* its log lines under the task's name, as the task's own */
    char task[300];
    snprintf(task, sizeof(task), "%s/%d", wt->connector, wt->id);
    rd_kafka_conf_t *c =
        sl_worker_client_conf(wt->w, SL_WCLIENT_CONSUMER, kv, wt->config, task, err, errlen);
    if (!c)
        return NULL;
    /* a topics.regex never matches internal topics (_schemas, _sluice_*),
     * as the offsets API lists them */
    if (json_object_get(wt->config, "topics.regex") &&
        rd_kafka_conf_set(c, "topic.blacklist", "^_.*", e, sizeof(e)) != RD_KAFKA_CONF_OK) {
        snprintf(err, errlen, "consumer topic.blacklist: %s", e);
        rd_kafka_conf_destroy(c);
        return NULL;
    }
    rd_kafka_conf_set_opaque(c, s);
    rd_kafka_conf_set_rebalance_cb(c, rebalance);
    rd_kafka_conf_set_error_cb(c, consumer_error);
    rd_kafka_t *rk = sl_kafka_client_new(RD_KAFKA_CONSUMER, c, e, sizeof(e));
    if (!rk) {
        snprintf(err, errlen, "consumer: %s", e);
        return NULL;
    }
    rd_kafka_poll_set_consumer(rk);
    /* the bounds as set (the worker's values or a consumer.override) */
    s->q_min_msgs = conf_int(rk, "queued.min.messages");
    s->q_max_bytes = conf_int(rk, "queued.max.messages.kbytes") * 1024;
    /* topics.regex: librdkafka subscribes to a pattern given with a leading
     * '^' (and follows topics created later), as Kafka Connect does. */
    const char *topics = json_string_value(json_object_get(wt->config, "topics"));
    const char *regex = json_string_value(json_object_get(wt->config, "topics.regex"));
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(4);
    if (regex) { /* whole names, Java's syntax in POSIX terms (what librdkafka's regcomp reads) */
        char *posix = sl_regex_posix(regex), *pat = NULL;
        if (!posix || asprintf(&pat, "^(%s)$", posix) < 0) {
            free(posix);
            snprintf(err, errlen, "subscribe to %s: out of memory", regex);
            rd_kafka_topic_partition_list_destroy(sub);
            rd_kafka_destroy(rk);
            return NULL;
        }
        rd_kafka_topic_partition_list_add(sub, pat, RD_KAFKA_PARTITION_UA);
        free(pat);
        free(posix);
        topics = regex;
    } else {
        char *copy = strdup(topics), *save = NULL;
        for (char *t = strtok_r(copy, ", ", &save); t; t = strtok_r(NULL, ", ", &save))
            rd_kafka_topic_partition_list_add(sub, t, RD_KAFKA_PARTITION_UA);
        free(copy);
        topics_ensure(s, rk, sub);
    }
    rd_kafka_resp_err_t se = rd_kafka_subscribe(rk, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (se) {
        snprintf(err, errlen, "subscribe to %s: %s", topics, rd_kafka_err2str(se));
        rd_kafka_destroy(rk);
        return NULL;
    }
    sl_info(wt->connector, "task %d: group %s subscribed to %s", wt->id, group, topics);
    s->cq = rd_kafka_queue_get_consumer(rk);
    return rk;
}

static void value_release(avro_value_t *v)
{
    if (v->iface)
        avro_value_decref(v);
    v->iface = NULL;
    v->self = NULL;
}

/* Ends the batch: its messages go, and the converters may free the schemas
 * its raw records pointed at. Without transforms the slots keep their
 * values for reuse (nobody else holds them); teardown: every value goes. */
static void batch_release(sink_state *s, int teardown)
{
    int keep = !teardown && s->wt->xf == NULL;
    for (size_t i = 0; i < s->n; i++) {
        if (!keep) {
            value_release(&s->keys[i]);
            value_release(&s->values[i]);
        }
        rd_kafka_message_destroy(s->msgs[i]);
    }
    s->n = 0;
    sl_converter_retire(s->wt->key_conv);
    sl_converter_retire(s->wt->value_conv);
}

static void pending_note_one(sink_state *s, const rd_kafka_message_t *m);
static void skipped_note(sink_state *s, const rd_kafka_message_t *m);

/* A message that cannot become a record: tolerated (logged, dead-lettered,
 * its offset counted as consumed) -> 1, or the task fails -> -1. */
static int skip_or_fail(sink_state *s, rd_kafka_message_t *m, const char *stage, char *err,
                        size_t errlen)
{
    char why[1024];
    snprintf(why, sizeof(why), "%s (partition %d offset %lld)", err, (int)m->partition,
             (long long)m->offset);
    int rc = sl_errpolicy_report(s->wt, &s->errors, stage, m, why, err, errlen);
    if (rc == 0)
        skipped_note(s, m);
    rd_kafka_message_destroy(m);
    return rc == 0 ? 1 : -1;
}

/* The message's headers as sluice_headers (pointing into m). */
static size_t headers_of(rd_kafka_message_t *m, sluice_header *out)
{
    rd_kafka_headers_t *h = NULL;
    if (rd_kafka_message_headers(m, &h) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return 0;
    size_t n = 0;
    const char *name;
    const void *val;
    size_t len;
    while (n < SINK_HEADERS && rd_kafka_header_get_all(h, n, &name, &val, &len) == 0) {
        out[n] = (sluice_header){name, val, len};
        n++;
    }
    return n;
}

/* Runs the transforms on batch slot s->n (converted from m). 1: keep
 * (*topic and *ts may have changed; a routed topic is copied into the
 * slot); 0: dropped by a Filter, or skipped under errors.tolerance=all;
 * -1: fail. */
static int transform(sink_state *s, rd_kafka_message_t *m, const char **topic, int64_t *ts,
                     const sluice_header *hdrs, size_t nh, char *err, size_t errlen)
{
    size_t i = s->n;
    sl_xrec x = {.topic = *topic, .partition = m->partition, .offset = m->offset,
                 .key = s->keys[i], .value = s->values[i], .timestamp_ms = *ts,
                 .headers = hdrs, .n_headers = nh};
    x.value_schema = x.value.iface ? avro_value_get_schema(&x.value) : NULL;
    int rc = sl_transforms_apply(s->wt->xf, &x, err, errlen);
    if (rc == 1) {
        s->keys[i] = x.key;
        s->values[i] = x.value;
        *ts = x.timestamp_ms;
        if (x.topic != *topic && strcmp(x.topic, *topic)) {
            snprintf(s->topics[i], sizeof(s->topics[i]), "%s", x.topic);
            *topic = s->topics[i];
        }
        return 1;
    }
    if (rc == 0) { /* dropped: the chain released the values */
        s->keys[i] = s->values[i] = (avro_value_t){NULL, NULL};
        skipped_note(s, m);
        rd_kafka_message_destroy(m);
        return 0;
    }
    value_release(&s->keys[i]);
    value_release(&s->values[i]);
    return skip_or_fail(s, m, "TRANSFORMATION", err, errlen) < 0 ? -1 : 0;
}

/* Adds a consumed message to the batch (converted). Returns 0, 1 when the
 * message carried no record (an event), 2 when the task is stopping while
 * its conversion was being retried (the message is left unconsumed: nothing
 * after it may be noted now), -1 on a conversion error. */
static int batch_add(sink_state *s, rd_kafka_message_t *m, char *err, size_t errlen)
{
    sl_wtask *wt = s->wt;
    if (m->err) {
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            sl_warn(wt->connector, "task %d: consumer: %s", wt->id, rd_kafka_message_errstr(m));
        rd_kafka_message_destroy(m);
        return 1;
    }
    size_t i = s->n;
    const char *topic = rd_kafka_topic_name(m->rkt), *stage;
    int bad;
    sl_retry retry = {0};
    sl_peeked raw = {0};
    int peeked = 0; /* the value came through peek: values[i] is not its value */
    do {
        stage = "KEY_CONVERTER";
        bad = sl_converter_from_bytes(wt->key_conv, topic, m->key, m->key_len, &s->keys[i], err,
                                      errlen);
        if (!bad) {
            stage = "VALUE_CONVERTER";
            bad = s->raw ? sl_converter_peek(wt->value_conv, topic, m->payload, m->len, &raw, err,
                                             errlen)
                         : 1;
            peeked = bad == 0 && s->raw;
            if (bad == 1)
                bad = sl_converter_from_bytes(wt->value_conv, topic, m->payload, m->len,
                                              &s->values[i], err, errlen);
            if (bad)
                value_release(&s->keys[i]);
        }
    } while (bad == SL_CONV_RETRY && sl_errpolicy_retry(wt, &s->errors, &retry, err, errlen));
    if (bad == SL_CONV_RETRY && atomic_load(&wt->stop)) { /* not a failure of the record */
        sl_info(wt->connector, "task %d: stopping while retrying partition %d offset %lld: it is "
                "read again on restart", wt->id, (int)m->partition, (long long)m->offset);
        rd_kafka_message_destroy(m);
        return 2;
    }
    if (bad)
        return skip_or_fail(s, m, stage, err, errlen);
    rd_kafka_timestamp_type_t tt;
    int64_t ts = rd_kafka_message_timestamp(m, &tt);
    size_t nh = headers_of(m, s->headers[i]);
    if (wt->xf) {
        int t = transform(s, m, &topic, &ts, s->headers[i], nh, err, errlen);
        if (t <= 0)
            return t;
    }
    if (peeked && !raw.data) /* a tombstone: the slot's kept value is an earlier record's */
        value_release(&s->values[i]);
    s->decoded[i] = !raw.data;
    s->plans[i] = raw.plan;
    s->recs[i] = (sluice_record){
        .topic = topic,
        .key_schema = s->keys[i].iface ? avro_value_get_schema(&s->keys[i]) : NULL,
        .key = s->keys[i].iface ? &s->keys[i] : NULL,
        .value_schema = raw.data ? raw.schema
                      : s->values[i].iface ? avro_value_get_schema(&s->values[i]) : NULL,
        .value = !peeked && s->values[i].iface ? &s->values[i] : NULL,
        .value_avro = raw.json ? NULL : raw.data,
        .value_avro_len = raw.json ? 0 : raw.len,
        .value_json = raw.json ? (const char *)raw.data : NULL,
        .value_json_len = raw.json ? raw.len : 0,
        .timestamp_ms = ts,
        .headers = nh ? s->headers[i] : NULL,
        .n_headers = nh,
        .partition = m->partition,
        .offset = m->offset,
    };
    s->msgs[i] = m;
    s->n++;
    return 0;
}

/* Records where to commit from once flushed: the offset after the message. */
static void pending_note_one(sink_state *s, const rd_kafka_message_t *m)
{
    const char *topic = rd_kafka_topic_name(m->rkt);
    rd_kafka_topic_partition_t *tp =
        rd_kafka_topic_partition_list_find(s->pending, topic, m->partition);
    if (!tp)
        tp = rd_kafka_topic_partition_list_add(s->pending, topic, m->partition);
    if (m->offset + 1 > tp->offset) /* a skipped record may be noted before its batch */
        tp->offset = m->offset + 1;
}

/* A skipped or filtered record counts as consumed once every record before
 * it was put: at once when the batch is empty, else when the batch is. */
static void skipped_note(sink_state *s, const rd_kafka_message_t *m)
{
    if (s->n == 0) {
        pending_note_one(s, m);
        return;
    }
    const char *topic = rd_kafka_topic_name(m->rkt);
    rd_kafka_topic_partition_t *tp =
        rd_kafka_topic_partition_list_find(s->skipped, topic, m->partition);
    if (!tp)
        tp = rd_kafka_topic_partition_list_add(s->skipped, topic, m->partition);
    if (m->offset + 1 > tp->offset)
        tp->offset = m->offset + 1;
}

/* After a successful put: the batch's offsets, then the skipped ones. */
static void pending_note(sink_state *s)
{
    for (size_t i = 0; i < s->n; i++)
        pending_note_one(s, s->msgs[i]);
    for (int i = 0; i < s->skipped->cnt; i++) {
        rd_kafka_topic_partition_t *sk = &s->skipped->elems[i];
        rd_kafka_topic_partition_t *tp =
            rd_kafka_topic_partition_list_find(s->pending, sk->topic, sk->partition);
        if (!tp)
            tp = rd_kafka_topic_partition_list_add(s->pending, sk->topic, sk->partition);
        if (sk->offset > tp->offset)
            tp->offset = sk->offset;
    }
    rd_kafka_topic_partition_list_destroy(s->skipped);
    s->skipped = rd_kafka_topic_partition_list_new(4);
}

/* Plugin result -> 0 ok, 1 retry later, -1 failed. */
static int outcome(sink_state *s, int rc, char *err, size_t errlen)
{
    sl_wtask *wt = s->wt;
    if (rc == SLUICE_OK) {
        s->backoff = 0;
        return 0;
    }
    if (rc == SLUICE_RETRY) {
        sl_wtask_retry_sleep(wt, &s->backoff, sl_task_error(wt->task));
        return 1;
    }
    snprintf(err, errlen, "%s", sl_task_error(wt->task));
    return -1;
}

/* A preCommit sink lowers each pending offset to what its target holds.
 * Fills *out with the partitions where that moved past what was committed
 * (s->committed); pending itself stays, as its offsets only grow. */
static int precommit(sink_state *s, rd_kafka_topic_partition_list_t **out, char *err,
                     size_t errlen)
{
    sl_wtask *wt = s->wt;
    rd_kafka_topic_partition_list_t *p = s->pending;
    sluice_offset *offs = calloc((size_t)p->cnt, sizeof(*offs));
    if (!offs) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (int i = 0; i < p->cnt; i++)
        offs[i] = (sluice_offset){p->elems[i].topic, p->elems[i].partition, p->elems[i].offset};
    int r = outcome(s, sl_task_precommit(wt->task, offs, (size_t)p->cnt), err, errlen);
    if (r == 0) {
        *out = rd_kafka_topic_partition_list_new(p->cnt);
        for (int i = 0; i < p->cnt; i++) {
            rd_kafka_topic_partition_t *done = rd_kafka_topic_partition_list_find(
                s->committed, p->elems[i].topic, p->elems[i].partition);
            if (offs[i].offset < 0 || offs[i].offset > p->elems[i].offset ||
                (done && done->offset >= offs[i].offset))
                continue; /* nothing new is durable there */
            if (!done)
                done = rd_kafka_topic_partition_list_add(s->committed, p->elems[i].topic,
                                                         p->elems[i].partition);
            done->offset = offs[i].offset;
            rd_kafka_topic_partition_list_add(*out, p->elems[i].topic, p->elems[i].partition)
                ->offset = offs[i].offset;
        }
    }
    free(offs);
    return r;
}

/* Makes what the target holds durable (flush, or ask preCommit), then
 * commits it: asynchronously while running (the data is already durable, so
 * the commit's round trip need not stall the loop), synchronously on the way
 * out (final). Returns 0, 1 (retry later), -1. */
static int flush_commit(sink_state *s, int final, char *err, size_t errlen)
{
    sl_wtask *wt = s->wt;
    rd_kafka_topic_partition_list_t *commit = NULL;
    if (s->pending->cnt == 0 && s->unflushed == 0)
        return 0;
    if (sl_errpolicy_settle(wt, err, errlen) != 0) /* dead letters first */
        return -1;
    int r = sl_task_has_precommit(wt->task) ? precommit(s, &commit, err, errlen)
                                             : outcome(s, sl_task_flush(wt->task), err, errlen);
    if (r != 0)
        return r;
    if (!commit) { /* flushed: everything pending is durable */
        commit = s->pending;
        s->pending = rd_kafka_topic_partition_list_new(8);
    }
    if (commit->cnt > 0) {
        rd_kafka_resp_err_t e = rd_kafka_commit(s->rk, commit, !final);
        if (e) /* the data is durable; a failed commit only means re-delivery */
            sl_warn(wt->connector, "task %d: committing offsets: %s", wt->id, rd_kafka_err2str(e));
        else
            sl_debug(wt->connector, "task %d: committed %d partitions after %lld records",
                     wt->id, commit->cnt, (long long)s->unflushed);
    }
    rd_kafka_topic_partition_list_destroy(commit);
    s->unflushed = 0;
    return 0;
}

/* Sets the offsets of a (assigned partitions) to the positions consumed.
 * A seek makes librdkafka forget a partition's position until its next
 * message is polled: until then it is where the last refill sought. */
static int positions(sink_state *s, rd_kafka_topic_partition_list_t *a)
{
    if (rd_kafka_position(s->rk, a))
        return -1;
    for (int i = 0; i < a->cnt; i++) {
        rd_kafka_topic_partition_t *p = &a->elems[i], *r;
        if (p->offset < 0 &&
            (r = rd_kafka_topic_partition_list_find(s->sought, p->topic, p->partition)))
            p->offset = r->offset;
    }
    return 0;
}

/* Pauses (or resumes) fetching the task's assigned partitions. Only those
 * with a consumed position are paused: librdkafka 2.0 may never fetch again
 * from a partition paused while it still looks up its start offset (what
 * arrives from those meanwhile waits in the batch; the next call, an
 * interval later, pauses them). */
static void assignment_pause(sink_state *s, int pause)
{
    rd_kafka_topic_partition_list_t *a = NULL;
    if (!rd_kafka_assignment(s->rk, &a) && a) {
        if (pause && !positions(s, a)) {
            rd_kafka_topic_partition_list_t *known = rd_kafka_topic_partition_list_new(a->cnt);
            for (int i = 0; i < a->cnt; i++)
                if (a->elems[i].offset >= 0)
                    rd_kafka_topic_partition_list_add(known, a->elems[i].topic,
                                                      a->elems[i].partition);
            rd_kafka_topic_partition_list_destroy(a);
            a = known;
        }
        rd_kafka_resp_err_t e =
            pause ? rd_kafka_pause_partitions(s->rk, a) : rd_kafka_resume_partitions(s->rk, a);
        if (e)
            sl_warn(s->wt->connector, "task %d: %s partitions: %s", s->wt->id,
                    pause ? "pausing" : "resuming", rd_kafka_err2str(e));
        rd_kafka_topic_partition_list_destroy(a);
    }
    s->rk_paused = pause;
}

/* The consumer lag of the task's assignment: for each assigned partition,
 * its high watermark minus the position consumed. The watermark is the one
 * the last fetch reported (no round trip) while running; a paused consumer
 * fetches nothing, so it asks the broker then. Partitions not consumed yet
 * are left out. */
static void lag_note(sink_state *s)
{
    rd_kafka_topic_partition_list_t *a = NULL;
    if (rd_kafka_assignment(s->rk, &a) || !a)
        return;
    int64_t lag = 0;
    int known = 0;
    if (a->cnt > 0 && !positions(s, a)) {
        for (int i = 0; i < a->cnt; i++) {
            int64_t lo, hi;
            rd_kafka_topic_partition_t *p = &a->elems[i];
            if (p->offset < 0 ||
                (s->rk_paused ? rd_kafka_query_watermark_offsets(s->rk, p->topic, p->partition,
                                                                 &lo, &hi, 1000)
                              : rd_kafka_get_watermark_offsets(s->rk, p->topic, p->partition,
                                                               &lo, &hi)) ||
                hi < 0)
                continue;
            lag += hi > p->offset ? hi - p->offset : 0;
            known++;
        }
    }
    /* records fetched but not yet put count as lag too: position is past them */
    atomic_store(&s->wt->lag, known ? lag + (int64_t)s->n : -1);
    rd_kafka_topic_partition_list_destroy(a);
}

/* Notes that a callback served inside a poll failed the task (the first
 * reason is kept); sink_loop fails it once the poll returned. */
__attribute__((format(printf, 2, 3))) static void cb_fail(sink_state *s, const char *fmt, ...)
{
    if (s->cb_failed)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->cb_err, sizeof(s->cb_err), fmt, ap);
    va_end(ap);
    s->cb_failed = 1;
}

/* librdkafka's error callback for the task's consumer, served from
 * rd_kafka_consumer_poll (and rd_kafka_consumer_close) on the task's thread.
 * A refused login (a wrong SASL password, a broker certificate the client
 * does not trust) never heals by retrying, so the task fails, as Kafka
 * Connect's does when its consumer's poll throws an authentication
 * exception; a PUT of the corrected config and a restart bring it back.
 * Other errors (a broker down) are retried by librdkafka and only logged.
 * librdkafka's reasons never hold a password (client_error in worker.c). */
static void consumer_error(rd_kafka_t *rk, int e, const char *reason, void *opaque)
{
    sink_state *s = opaque;
    if (!sl_worker_auth_error(e, reason)) {
        unsigned n; /* a broker down is reported at every reconnect: once a minute */
        if (sl_kafka_client_fresh(rk, SL_WARN, "error", reason, &n))
            sl_warn(s->wt->connector,
                    "task %d: consumer: %s (%u more like it since the last, "
                    "not logged)",
                    s->wt->id, reason, n);
        return;
    }
    char servers[512] = "?";
    size_t len = sizeof(servers);
    rd_kafka_conf_get(rd_kafka_conf(rk), "bootstrap.servers", servers, &len);
    cb_fail(s, "the consumer of group connect-%s could not authenticate to %s "
            "(bootstrap.servers): %s; its credentials are this connector's "
            "consumer.override.* keys, else the worker's consumer.* and security keys",
            s->wt->connector, servers, reason);
}

/* The task gives up every partition it has (an eager rebalance of the
 * connector's group: other tasks joined or left). Records fetched but not
 * put are dropped: the partition's next owner reads them again from the
 * committed offset. What the sink holds durably is committed now, then the
 * sink forgets the rest (close_partitions: an S3 sink discards the objects
 * it has not completed, which must never be finished after the new owner
 * started writing the same names), and nothing pending is committed later. */
static void revoke(sink_state *s, const rd_kafka_topic_partition_list_t *parts)
{
    sl_wtask *wt = s->wt;
    char err[1024];
    batch_release(s, 0);
    rd_kafka_topic_partition_list_destroy(s->skipped);
    s->skipped = rd_kafka_topic_partition_list_new(4);
    rd_kafka_topic_partition_list_destroy(s->sought);
    s->sought = rd_kafka_topic_partition_list_new(4);
    s->q_full = 0;
    /* partitions lost (the group moved on without us: the task did not poll
     * for max.poll.interval.ms) may be written by their new owner already:
     * then nothing is finished or committed, only forgotten */
    int lost = rd_kafka_assignment_lost(s->rk);
    int fc = lost ? 0 : flush_commit(s, 1, err, sizeof(err));
    if (lost)
        sl_warn(wt->connector, "task %d: partitions lost: their records not yet committed go to "
                "the next owner", wt->id);
    else if (fc > 0) /* retriable: nothing is committed now, the next owner reads it again */
        sl_warn(wt->connector, "task %d: committing before a rebalance: %s", wt->id, err);
    else if (fc < 0) /* the task fails once the rebalance is done */
        cb_fail(s, "%s", err);
    sluice_offset *offs = calloc((size_t)parts->cnt + 1, sizeof(*offs));
    if (offs) {
        for (int i = 0; i < parts->cnt; i++)
            offs[i] = (sluice_offset){parts->elems[i].topic, parts->elems[i].partition, -1};
    }
    if (!offs || sl_task_close_partitions(wt->task, offs, (size_t)parts->cnt) != SLUICE_OK)
        cb_fail(s, "giving up partitions: %s", offs ? sl_task_error(wt->task) : "out of memory");
    free(offs);
    rd_kafka_topic_partition_list_destroy(s->pending);
    s->pending = rd_kafka_topic_partition_list_new(8);
    rd_kafka_topic_partition_list_destroy(s->committed);
    s->committed = rd_kafka_topic_partition_list_new(8);
    s->unflushed = 0;
    sl_info(wt->connector, "task %d: gave up %d partitions (rebalance)", wt->id, parts->cnt);
}

/* librdkafka's rebalance callback, served from rd_kafka_consumer_poll on the
 * task's thread. */
static void rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t e,
                      rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    sink_state *s = opaque;
    if (e == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        sl_debug(s->wt->connector, "task %d: assigned %d partitions", s->wt->id, parts->cnt);
        rd_kafka_assign(rk, parts);
        return;
    }
    if (!s->closing) /* on close the sink loop has already committed what it could */
        revoke(s, parts);
    rd_kafka_assign(rk, NULL);
}

/* The plugin asks for a raw record's value (sluice_record_value). */
static avro_value_t *raw_value(void *arg, const sluice_record *rec, char *err, size_t errlen)
{
    sink_state *s = arg;
    if (rec < s->recs || rec >= s->recs + s->n) {
        snprintf(err, errlen, "not a record of the batch being put");
        return NULL;
    }
    size_t i = (size_t)(rec - s->recs);
    if (!s->decoded[i]) {
        rd_kafka_message_t *m = s->msgs[i];
        if (sl_converter_from_bytes(s->wt->value_conv, rec->topic, m->payload, m->len,
                                    &s->values[i], err, errlen) != 0)
            return NULL;
        s->decoded[i] = 1;
    }
    return s->values[i].iface ? &s->values[i] : NULL;
}

static const sluice_avro_plan *raw_plan(void *arg, const sluice_record *rec)
{
    sink_state *s = arg;
    return rec >= s->recs && rec < s->recs + s->n ? s->plans[rec - s->recs] : NULL;
}

/* After a batch was polled: notes whether the consumer queue came near a
 * bound, where the fetcher may have stopped. The queue is seen only
 * between batches, so what it holds plus the batch just taken from it
 * counts, and half a bound is near: a refill when the fetcher had not
 * stopped costs no more than refetching what was in flight. The bytes are
 * estimated from the mean size of the messages polled. */
static void prefetch_note(sink_state *s)
{
    int64_t q = (int64_t)rd_kafka_queue_length(s->cq) + (int64_t)s->n;
    int64_t mean = s->polled ? s->polled_bytes / s->polled : 0;
    if (2 * q >= s->q_min_msgs || 2 * q * mean >= s->q_max_bytes)
        s->q_full = 1;
}

/* The consumer queue is empty. If it came near a bound since the last
 * refill, the fetcher may be idle until its timer: seeking each assigned
 * partition to its position (asynchronously) wakes it now. Partitions
 * without a position yet (nothing polled since they were assigned) are
 * left alone: they are still looking up their start. */
static void prefetch_refill(sink_state *s)
{
    rd_kafka_topic_partition_list_t *a = NULL;
    if (!s->q_full || rd_kafka_assignment(s->rk, &a) || !a)
        return;
    s->q_full = 0;
    if (positions(s, a) == 0) {
        rd_kafka_topic_partition_list_t *at = rd_kafka_topic_partition_list_new(a->cnt);
        for (int i = 0; i < a->cnt; i++)
            if (a->elems[i].offset >= 0)
                rd_kafka_topic_partition_list_add(at, a->elems[i].topic, a->elems[i].partition)
                    ->offset = a->elems[i].offset;
        rd_kafka_error_t *e = at->cnt ? rd_kafka_seek_partitions(s->rk, at, 0) : NULL;
        if (e) { /* the fetcher wakes on its timer, as before */
            sl_warn(s->wt->connector, "task %d: restarting the fetch: %s", s->wt->id,
                    rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
        }
        rd_kafka_topic_partition_list_destroy(s->sought);
        s->sought = at;
    }
    rd_kafka_topic_partition_list_destroy(a);
}

static int sink_loop(sink_state *s, char *err, size_t errlen)
{
    sl_wtask *wt = s->wt;
    int64_t last_flush = sl_worker_now_ms(), interval = wt->w->conf.offset_flush_interval_ms;
    while (!atomic_load(&wt->stop)) {
        if (s->cb_failed) { /* set by a callback inside a poll */
            snprintf(err, errlen, "%s", s->cb_err);
            return -1;
        }
        if (atomic_load(&wt->paused)) {
            /* PAUSED: what was put is flushed and committed; the assignment
             * is paused in the consumer, which is still polled, so the task
             * stays in its group however long the pause (max.poll.interval.ms)
             * and resumes where it stopped. Messages fetched before the pause
             * wait in the batch. */
            if (flush_commit(s, 0, err, errlen) < 0)
                return -1;
            if (!s->rk_paused || sl_worker_now_ms() - last_flush >= interval) {
                assignment_pause(s, 1); /* again each interval: a rebalance may add partitions */
                lag_note(s);            /* the lag grows meanwhile */
                last_flush = sl_worker_now_ms();
            }
            rd_kafka_message_t *m = s->n < SINK_BATCH ? rd_kafka_consumer_poll(s->rk, 20) : NULL;
            if (m && batch_add(s, m, err, errlen) < 0)
                return -1;
            if (s->n == SINK_BATCH)
                sl_wtask_sleep(wt, 20);
            continue;
        }
        if (s->rk_paused)
            assignment_pause(s, 0);
        while (s->n < SINK_BATCH) {
            rd_kafka_message_t *m = rd_kafka_consumer_poll(s->rk, 0);
            if (!m) { /* the queue ran empty: refill it, then wait if there is nothing to put */
                prefetch_refill(s);
                if (s->n || !(m = rd_kafka_consumer_poll(s->rk, 100)))
                    break;
            }
            s->polled++;
            s->polled_bytes += (int64_t)(m->len + m->key_len);
            int added = batch_add(s, m, err, errlen);
            if (added < 0)
                return -1;
            if (added == 2) /* stopping: nothing after it */
                break;
        }
        if (s->cb_failed)
            continue; /* fails above */
        prefetch_note(s);
        while (s->n > 0 && !atomic_load(&wt->stop)) {
            int r = outcome(s, sl_task_put(wt->task, s->recs, s->n), err, errlen);
            if (r < 0)
                return -1;
            if (r == 0) {
                sl_wtask_sink_batch(wt, s->recs, s->n); /* /metrics, active topics */
                pending_note(s);
                s->unflushed += (int64_t)s->n;
                batch_release(s, 0);
            } else if (rd_kafka_assignment_lost(s->rk)) {
                /* retrying outlasted max.poll.interval.ms: these records'
                 * partitions belong to another task now; the next poll
                 * gives them up */
                batch_release(s, 0);
            }
        }
        if (s->unflushed >= wt->w->conf.sink_flush_records || sl_worker_now_ms() - last_flush >= interval) {
            if (flush_commit(s, 0, err, errlen) < 0)
                return -1;
            last_flush = sl_worker_now_ms();
            lag_note(s);
        }
    }
    return flush_commit(s, 1, err, errlen) < 0 ? -1 : 0;
}

void *sl_sink_thread(void *arg)
{
    sl_wtask *wt = arg;
    char err[2048] = "";
    sink_state *s = calloc(1, sizeof(*s));
    int rc = -1;
    if (!s) {
        snprintf(err, sizeof(err), "out of memory");
        goto out;
    }
    s->wt = wt;
    s->pending = rd_kafka_topic_partition_list_new(8);
    s->committed = rd_kafka_topic_partition_list_new(8);
    s->skipped = rd_kafka_topic_partition_list_new(4);
    s->sought = rd_kafka_topic_partition_list_new(4);
    wt->errpol = &s->errors;
    if (sl_errpolicy_init(&s->errors, wt, err, sizeof(err)) != 0 ||
        sl_transforms_create(wt->config, &wt->xf, err, sizeof(err)) != 0)
        goto out;
    /* values go raw to a plugin that takes them when nothing transforms them */
    s->raw = sl_task_takes_raw_values(wt->task) && !wt->xf;
    if (s->raw)
        sl_task_set_raw_values(wt->task, &(sl_raw_values){raw_value, raw_plan, s});
    if (sl_task_open(wt->task) != SLUICE_OK) {
        snprintf(err, sizeof(err), "%s", sl_task_error(wt->task));
        goto out;
    }
    if (!(s->rk = consumer_create(s, err, sizeof(err))))
        goto out;
    sl_worker_status(wt->w, wt->connector, wt->id, "RUNNING", NULL);
    rc = sink_loop(s, err, sizeof(err));
out:
    if (rc != 0)
        sl_worker_status(wt->w, wt->connector, wt->id, "FAILED", err);
    else
        sl_info(wt->connector, "task %d: stopped", wt->id);
    if (s) {
        batch_release(s, 1);
        for (size_t i = 0; i < SINK_BATCH; i++) {
            value_release(&s->keys[i]);
            value_release(&s->values[i]);
        }
        sl_task_set_raw_values(wt->task, &(sl_raw_values){0});
        if (s->cq)
            rd_kafka_queue_destroy(s->cq);
        if (s->rk) {
            s->closing = 1;
            sl_kafka_client_closing(s->rk);
            rd_kafka_consumer_close(s->rk);
            rd_kafka_destroy(s->rk);
        }
        if (s->pending)
            rd_kafka_topic_partition_list_destroy(s->pending);
        if (s->committed)
            rd_kafka_topic_partition_list_destroy(s->committed);
        if (s->skipped)
            rd_kafka_topic_partition_list_destroy(s->skipped);
        if (s->sought)
            rd_kafka_topic_partition_list_destroy(s->sought);
        free(s);
    }
    sl_task_close(wt->task);
    sl_transforms_destroy(wt->xf);
    wt->xf = NULL;
    wt->errpol = NULL;
    return NULL;
}
