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
 * Errors: SLUICE_RETRY from put or flush backs off (100 ms doubling up to
 * errors.retry.delay.max.ms) and retries the same batch; SLUICE_ERROR and
 * conversion errors (errors.tolerance=none) make the task FAILED.
 *
 * Runs on: this task's thread (the consumer's callbacks too: they are
 * served from rd_kafka_consumer_poll).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logging.h"
#include "worker_int.h"

#define SINK_BATCH 500

typedef struct sink_state {
    sl_wtask *wt;
    rd_kafka_t *rk;
    rd_kafka_topic_partition_list_t *pending; /* offsets to commit after a flush */
    rd_kafka_topic_partition_list_t *committed; /* preCommit sinks: what was committed */
    rd_kafka_message_t *msgs[SINK_BATCH];
    sluice_record recs[SINK_BATCH];
    avro_value_t keys[SINK_BATCH], values[SINK_BATCH];
    size_t n;
    int64_t unflushed, backoff;
} sink_state;

static rd_kafka_t *consumer_create(sl_wtask *wt, char *err, size_t errlen)
{
    char group[600], e[512];
    snprintf(group, sizeof(group), "connect-%s", wt->connector);
    const char *kv[][2] = {{"bootstrap.servers", wt->w->conf.bootstrap_servers},
                           {"group.id", group},
                           {"enable.auto.commit", "false"},
                           {"auto.offset.reset", "earliest"},
                           {"session.timeout.ms", "6000"},
                           {"heartbeat.interval.ms", "1000"},
                           {"client.id", wt->w->worker_id}};
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++)
        if (rd_kafka_conf_set(c, kv[i][0], kv[i][1], e, sizeof(e)) != RD_KAFKA_CONF_OK) {
            snprintf(err, errlen, "consumer %s=%s: %s", kv[i][0], kv[i][1], e);
            rd_kafka_conf_destroy(c);
            return NULL;
        }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, e, sizeof(e));
    if (!rk) {
        snprintf(err, errlen, "consumer: %s", e);
        return NULL;
    }
    rd_kafka_poll_set_consumer(rk);
    const char *topics = json_string_value(json_object_get(wt->config, "topics"));
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(4);
    char *copy = strdup(topics), *save = NULL;
    for (char *t = strtok_r(copy, ", ", &save); t; t = strtok_r(NULL, ", ", &save))
        rd_kafka_topic_partition_list_add(sub, t, RD_KAFKA_PARTITION_UA);
    free(copy);
    rd_kafka_resp_err_t se = rd_kafka_subscribe(rk, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (se) {
        snprintf(err, errlen, "subscribe to %s: %s", topics, rd_kafka_err2str(se));
        rd_kafka_destroy(rk);
        return NULL;
    }
    sl_info(wt->connector, "task %d: group %s subscribed to %s", wt->id, group, topics);
    return rk;
}

static void batch_release(sink_state *s)
{
    for (size_t i = 0; i < s->n; i++) {
        if (s->keys[i].iface)
            avro_value_decref(&s->keys[i]);
        if (s->values[i].iface)
            avro_value_decref(&s->values[i]);
        rd_kafka_message_destroy(s->msgs[i]);
    }
    s->n = 0;
}

/* Adds a consumed message to the batch (converted). Returns 0, 1 when the
 * message carried no record (an event), -1 on a conversion error. */
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
    const char *topic = rd_kafka_topic_name(m->rkt);
    if (sl_converter_from_bytes(wt->key_conv, topic, m->key, m->key_len, &s->keys[i], err, errlen) ||
        sl_converter_from_bytes(wt->value_conv, topic, m->payload, m->len, &s->values[i], err,
                                errlen)) {
        if (s->keys[i].iface)
            avro_value_decref(&s->keys[i]);
        size_t off = strlen(err);
        snprintf(err + off, errlen - off, " (partition %d offset %lld)", (int)m->partition,
                 (long long)m->offset);
        rd_kafka_message_destroy(m);
        return -1;
    }
    rd_kafka_timestamp_type_t tt;
    s->recs[i] = (sluice_record){
        .topic = topic,
        .key_schema = s->keys[i].iface ? avro_value_get_schema(&s->keys[i]) : NULL,
        .key = s->keys[i].iface ? &s->keys[i] : NULL,
        .value_schema = s->values[i].iface ? avro_value_get_schema(&s->values[i]) : NULL,
        .value = s->values[i].iface ? &s->values[i] : NULL,
        .timestamp_ms = rd_kafka_message_timestamp(m, &tt),
        .partition = m->partition,
        .offset = m->offset,
    };
    s->msgs[i] = m;
    s->n++;
    return 0;
}

/* Records where to commit from once flushed: the offset after each message. */
static void pending_note(sink_state *s)
{
    for (size_t i = 0; i < s->n; i++) {
        rd_kafka_message_t *m = s->msgs[i];
        const char *topic = rd_kafka_topic_name(m->rkt);
        rd_kafka_topic_partition_t *tp =
            rd_kafka_topic_partition_list_find(s->pending, topic, m->partition);
        if (!tp)
            tp = rd_kafka_topic_partition_list_add(s->pending, topic, m->partition);
        tp->offset = m->offset + 1;
    }
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
        s->backoff = s->backoff ? s->backoff * 2 : 100;
        s->backoff = s->backoff > wt->retry_max_delay_ms ? wt->retry_max_delay_ms : s->backoff;
        sl_warn(wt->connector, "task %d: %s; retrying in %lld ms", wt->id, sl_task_error(wt->task),
                (long long)s->backoff);
        sl_wtask_sleep(wt, s->backoff);
        return 1;
    }
    snprintf(err, errlen, "%s", sl_task_error(wt->task));
    return -1;
}

/* A preCommit sink lowers each pending offset to what its target holds;
 * the partitions it wants nothing committed for yet are left out. */
static int precommit(sink_state *s, char *err, size_t errlen)
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
        rd_kafka_topic_partition_list_t *commit = rd_kafka_topic_partition_list_new(p->cnt);
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
            rd_kafka_topic_partition_list_add(commit, p->elems[i].topic, p->elems[i].partition)
                ->offset = offs[i].offset;
        }
        if (commit->cnt > 0) {
            rd_kafka_resp_err_t e = rd_kafka_commit(s->rk, commit, 0);
            if (e)
                sl_warn(wt->connector, "task %d: committing offsets: %s", wt->id,
                        rd_kafka_err2str(e));
        }
        rd_kafka_topic_partition_list_destroy(commit);
    }
    free(offs);
    return r;
}

/* flush, then commit what was flushed. Returns 0, 1 (retry later), -1. */
static int flush_commit(sink_state *s, char *err, size_t errlen)
{
    sl_wtask *wt = s->wt;
    if (s->pending->cnt == 0 && s->unflushed == 0)
        return 0;
    if (sl_task_has_precommit(wt->task)) { /* pending stays: offsets only grow */
        int r = precommit(s, err, errlen);
        if (r == 0)
            s->unflushed = 0;
        return r;
    }
    int r = outcome(s, sl_task_flush(wt->task), err, errlen);
    if (r != 0)
        return r;
    if (s->pending->cnt > 0) {
        rd_kafka_resp_err_t e = rd_kafka_commit(s->rk, s->pending, 0);
        if (e) /* the data is flushed; a failed commit only means re-delivery */
            sl_warn(wt->connector, "task %d: committing offsets: %s", wt->id, rd_kafka_err2str(e));
        else
            sl_debug(wt->connector, "task %d: committed %d partitions after %lld records",
                     wt->id, s->pending->cnt, (long long)s->unflushed);
    }
    rd_kafka_topic_partition_list_destroy(s->pending);
    s->pending = rd_kafka_topic_partition_list_new(8);
    s->unflushed = 0;
    return 0;
}

static int sink_loop(sink_state *s, char *err, size_t errlen)
{
    sl_wtask *wt = s->wt;
    int64_t last_flush = sl_worker_now_ms(), interval = wt->w->conf.offset_flush_interval_ms;
    while (!atomic_load(&wt->stop)) {
        while (s->n < SINK_BATCH) {
            rd_kafka_message_t *m = rd_kafka_consumer_poll(s->rk, s->n ? 0 : 100);
            if (!m)
                break;
            if (batch_add(s, m, err, errlen) < 0)
                return -1;
        }
        while (s->n > 0 && !atomic_load(&wt->stop)) {
            int r = outcome(s, sl_task_put(wt->task, s->recs, s->n), err, errlen);
            if (r < 0)
                return -1;
            if (r == 0) {
                pending_note(s);
                s->unflushed += (int64_t)s->n;
                batch_release(s);
            }
        }
        if (s->unflushed >= wt->w->conf.sink_flush_records || sl_worker_now_ms() - last_flush >= interval) {
            if (flush_commit(s, err, errlen) < 0)
                return -1;
            last_flush = sl_worker_now_ms();
        }
    }
    return flush_commit(s, err, errlen) < 0 ? -1 : 0;
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
    if (sl_task_open(wt->task) != SLUICE_OK) {
        snprintf(err, sizeof(err), "%s", sl_task_error(wt->task));
        goto out;
    }
    if (!(s->rk = consumer_create(wt, err, sizeof(err))))
        goto out;
    sl_worker_status(wt->w, wt->connector, wt->id, "RUNNING", NULL);
    rc = sink_loop(s, err, sizeof(err));
out:
    if (rc != 0)
        sl_worker_status(wt->w, wt->connector, wt->id, "FAILED", err);
    else
        sl_info(wt->connector, "task %d: stopped", wt->id);
    if (s) {
        batch_release(s);
        if (s->rk) {
            rd_kafka_consumer_close(s->rk);
            rd_kafka_destroy(s->rk);
        }
        if (s->pending)
            rd_kafka_topic_partition_list_destroy(s->pending);
        if (s->committed)
            rd_kafka_topic_partition_list_destroy(s->committed);
        free(s);
    }
    sl_task_close(wt->task);
    return NULL;
}
