/*
 * worker_source.c - a source task's thread: poll -> convert -> produce ->
 * (delivery reports) -> store position -> commit.
 *
 * Delivery guarantee (ARCHITECTURE.md 7): each polled batch takes a slot of
 * a ring of SL_RING_SIZE in-flight batches, with a counter of its messages
 * not yet acknowledged (acks=all, idempotent producer; the poll thread
 * decrements it from the delivery report, whatever partition the message
 * went to). The acknowledged position advances over the ring's completed
 * prefix only, so it never passes a record that is still in flight, even
 * when partitions acknowledge out of order. Every offset.flush.interval.ms
 * (and on stop) the acknowledged position is written to _sluice_offsets;
 * when that write is acknowledged the plugin's commit() is told. A kill -9
 * thus repeats at most the records after the last stored position.
 *
 * Errors: SLUICE_RETRY from poll backs off (100 ms doubling up to
 * errors.retry.delay.max.ms, default 60000, retried indefinitely as Kafka
 * Connect does for RetriableException); SLUICE_ERROR, a conversion error
 * (errors.tolerance=none, errors.retry.timeout=0: Kafka Connect's defaults)
 * or a failed delivery make the task FAILED; the other tasks go on. So
 * does a refused login of the worker's shared producer (producer_refused):
 * every source task fails, with the reason in its trace, as each Kafka
 * Connect task's own producer would; the worker and its REST API go on. A
 * task whose connector sets producer.override.* keys produces its records
 * through its own producer (sl_wtask_producer_open, polled by a thread of
 * its own) and fails alone when that one is refused.
 *
 * Per record (this path is the ceiling of every source, a PostgreSQL
 * snapshot's included): no transform configured -> the record's values are
 * converted where they are, without taking references; the topic handle
 * comes from a small cache (producing by name makes librdkafka find, or
 * create, the topic by name under the client-wide lock for every message).
 *
 * Runs on: this task's thread; the ring counters and offw.state are also
 * written by the producer-poll thread (atomics), the ring's by the own
 * producer's poll thread for a task that has one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logging.h"
#include "transforms.h"
#include "worker_int.h"

#define SOURCE_BATCH 1000
#define TOPIC_SLOTS  16

/* librdkafka topic handles by name, most recently used first checked. A
 * handle evicted while its messages are in flight is safe: each message
 * holds its own reference. */
typedef struct topic_slot {
    char *name;
    rd_kafka_topic_t *rkt;
} topic_slot;

typedef struct topic_cache {
    topic_slot slot[TOPIC_SLOTS];
    unsigned last, next; /* the last hit; the next slot to evict */
} topic_cache;

/* The handle for topic, or NULL (out of memory, or librdkafka refused the
 * name: rd_kafka_last_error says why). */
static rd_kafka_topic_t *topic_handle(sl_wtask *wt, topic_cache *tc, const char *topic)
{
    topic_slot *s = &tc->slot[tc->last];
    if (s->name && !strcmp(s->name, topic))
        return s->rkt;
    for (unsigned i = 0; i < TOPIC_SLOTS; i++)
        if (tc->slot[i].name && !strcmp(tc->slot[i].name, topic)) {
            tc->last = i;
            return tc->slot[i].rkt;
        }
    char *name = strdup(topic);
    rd_kafka_topic_t *rkt = name ? rd_kafka_topic_new(wt->producer, topic, NULL) : NULL;
    if (!rkt) {
        free(name);
        return NULL;
    }
    tc->last = tc->next++ % TOPIC_SLOTS;
    s = &tc->slot[tc->last];
    if (s->name) {
        rd_kafka_topic_destroy(s->rkt);
        free(s->name);
    }
    *s = (topic_slot){name, rkt};
    return rkt;
}

static void topic_cache_clear(topic_cache *tc)
{
    for (unsigned i = 0; i < TOPIC_SLOTS; i++)
        if (tc->slot[i].name) {
            rd_kafka_topic_destroy(tc->slot[i].rkt);
            free(tc->slot[i].name);
        }
    memset(tc, 0, sizeof(*tc));
}

/* Moves `acked` over every completed batch at the ring's tail. */
static void advance(sl_wtask *wt)
{
    while (wt->tail != wt->head) {
        sl_inflight *b = &wt->ring[wt->tail % SL_RING_SIZE];
        if (atomic_load(&b->outstanding) > 0)
            break;
        if (b->position[0])
            memcpy(wt->acked, b->position, SL_POS_MAX);
        wt->tail++;
    }
}

/* Writes `acked` to _sluice_offsets when it moved and no write is pending. */
static void offset_write(sl_wtask *wt, char *err, size_t errlen)
{
    if (!wt->acked[0] || !strcmp(wt->acked, wt->written) || atomic_load(&wt->offw.state) == 1)
        return;
    char key[1024];
    sl_worker_offset_key(wt->connector, wt->id, key, sizeof(key));
    memcpy(wt->offw.position, wt->acked, SL_POS_MAX);
    atomic_store(&wt->offw.state, 1);
    rd_kafka_resp_err_t e = rd_kafka_producev(
        wt->w->producer, RD_KAFKA_V_TOPIC(SL_OFFSETS_TOPIC), RD_KAFKA_V_KEY(key, strlen(key)),
        RD_KAFKA_V_VALUE(wt->offw.position, strlen(wt->offw.position)),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(&wt->offw.tag), RD_KAFKA_V_END);
    if (e) {
        atomic_store(&wt->offw.state, 0); /* queue full: next round */
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            snprintf(err, errlen, "writing position to %s: %s", SL_OFFSETS_TOPIC, rd_kafka_err2str(e));
        return;
    }
    memcpy(wt->written, wt->acked, SL_POS_MAX);
}

/* After an acknowledged offset write: tell the plugin. */
static int offset_commit(sl_wtask *wt, char *err, size_t errlen)
{
    int st = atomic_load(&wt->offw.state);
    if (st == 3) {
        snprintf(err, errlen, "position %s not stored in %s (delivery failed)", wt->offw.position,
                 SL_OFFSETS_TOPIC);
        return -1;
    }
    if (st != 2)
        return 0;
    atomic_store(&wt->offw.state, 0);
    sl_debug("worker", "%s/%d: stored position %s", wt->connector, wt->id, wt->offw.position);
    if (sl_task_commit(wt->task, wt->offw.position) == SLUICE_ERROR) {
        snprintf(err, errlen, "%s", sl_task_error(wt->task));
        return -1;
    }
    return 0;
}

/* Did the task's producer (its own, or the worker's shared one, through
 * which its positions are stored in any case) report a refused login (a
 * wrong producer.sasl.jaas.config or producer.override.sasl.jaas.config, a
 * broker certificate it does not trust) since this task started, or within
 * the last SL_PRODUCER_AUTH_WINDOW_MS (a producer still refused reports
 * again within it; a task restarted once the login works again runs)? Then
 * err says so and the task fails, as Kafka
 * Connect's does when its producer's send throws an authentication
 * exception. Retrying cannot help until the configuration (or the broker's
 * users) change, and no record of the task would ever be acknowledged.
 * Failing loses nothing: the records in flight are not acknowledged, so no
 * position past them is stored, and a restarted task reads them again
 * from the stored position. */
static int producer_refused(sl_wtask *wt, char *err, size_t errlen)
{
    char why[1024];
    if (!sl_wtask_producer_refused(wt, wt->started_ms, why, sizeof(why)))
        return 0;
    snprintf(err, errlen, "%s; no position past the records in flight is stored (last written: %s)",
             why, wt->written[0] ? wt->written : "(none)");
    return 1;
}

static void xrec_release(sl_xrec *x)
{
    if (x->key.iface)
        avro_value_decref(&x->key);
    if (x->value.iface)
        avro_value_decref(&x->value);
    x->key.iface = x->value.iface = NULL;
}

/* A record that failed at stage: skipped under errors.tolerance=all (its
 * batch slot released) -> 1, else -1 with err. */
static int skip_or_fail(sl_wtask *wt, sl_inflight *b, const char *stage, char *err, size_t errlen)
{
    char why[1024];
    snprintf(why, sizeof(why), "%s", err);
    if (sl_errpolicy_report(wt, wt->errpol, stage, NULL, why, err, errlen) != 0)
        return -1;
    sl_inflight_done(b, 1);
    return 1;
}

/* Runs the connector's transforms on r. 1: *x holds the record to produce
 * (*owned: its values referenced, release with xrec_release; else borrowed
 * from the batch, which outlives them); 0: dropped or skipped (the slot
 * released); -1: fail. */
static int transform(sl_wtask *wt, const sluice_record *r, sl_xrec *x, int *owned, sl_inflight *b,
                     char *err, size_t errlen)
{
    *x = (sl_xrec){.topic = r->topic, .partition = -1, .offset = -1,
                   .value_schema = r->value_schema, .timestamp_ms = r->timestamp_ms,
                   .headers = r->headers, .n_headers = r->n_headers};
    *owned = wt->xf != NULL;
    if (!wt->xf) { /* nothing will change them: convert the batch's own */
        if (r->key)
            x->key = *r->key;
        if (r->value)
            x->value = *r->value;
        return 1;
    }
    /* the batch keeps its own references; copy_ref takes the value's and its
     * class's (avro_value_incref would take only the value's) */
    if (r->key)
        avro_value_copy_ref(&x->key, r->key);
    if (r->value)
        avro_value_copy_ref(&x->value, r->value);
    int rc = sl_transforms_apply(wt->xf, x, err, errlen);
    if (rc == 1)
        return 1;
    if (rc == 0) {
        sl_inflight_done(b, 1);
        return 0;
    }
    xrec_release(x);
    return skip_or_fail(wt, b, "TRANSFORMATION", err, errlen) < 0 ? -1 : 0;
}

/* Produces one record; the batch slot's counter was raised for it. 0
 * (produced, or skipped under errors.tolerance=all), -1 failed (err), -2 the
 * task is stopping (a conversion retry or a full producer queue was cut
 * short: not a failure of the record). */
static int produce_one(sl_wtask *wt, topic_cache *tc, const sluice_record *rec, sl_inflight *b,
                       char *err, size_t errlen)
{
    void *k = NULL, *v = NULL;
    size_t klen = 0, vlen = 0;
    sl_xrec x;
    int owned, t = transform(wt, rec, &x, &owned, b, err, errlen);
    if (t <= 0)
        return t;
    const avro_value_t *key = x.key.iface ? &x.key : NULL, *val = x.value.iface ? &x.value : NULL;
    int kbad, vbad;
    sl_retry retry = {0};
    do { /* k and v point into the converters' buffers: librdkafka copies them */
        kbad = sl_converter_to_bytes(wt->key_conv, x.topic, key ? avro_value_get_schema(key) : NULL,
                                     key, &k, &klen, err, errlen);
        vbad = kbad ? 0
                    : sl_converter_to_bytes(wt->value_conv, x.topic,
                                            val ? avro_value_get_schema(val) : x.value_schema, val,
                                            &v, &vlen, err, errlen);
    } while ((kbad == SL_CONV_RETRY || vbad == SL_CONV_RETRY) &&
             sl_errpolicy_retry(wt, wt->errpol, &retry, err, errlen));
    if ((kbad == SL_CONV_RETRY || vbad == SL_CONV_RETRY) && atomic_load(&wt->stop)) {
        if (owned) /* stopping, not a failure of the record: its batch is given up */
            xrec_release(&x);
        return -2;
    }
    if (kbad || vbad) {
        if (owned)
            xrec_release(&x);
        return skip_or_fail(wt, b, kbad ? "KEY_CONVERTER" : "VALUE_CONVERTER", err, errlen) < 0
                   ? -1
                   : 0;
    }
    const sl_xrec *r = &x;
    int rc = 0;
    rd_kafka_headers_t *h = r->n_headers ? rd_kafka_headers_new(r->n_headers) : NULL;
    for (size_t i = 0; h && i < r->n_headers; i++)
        rd_kafka_header_add(h, r->headers[i].key, -1, r->headers[i].value,
                            (ssize_t)r->headers[i].value_len);
    rd_kafka_topic_t *rkt = topic_handle(wt, tc, r->topic);
    if (!rkt) {
        snprintf(err, errlen, "producing to %s: no topic handle: %s", r->topic,
                 rd_kafka_err2str(rd_kafka_last_error()));
        rc = -1;
    }
    while (rkt) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            wt->producer, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_KEY(k, klen), RD_KAFKA_V_VALUE(v, vlen),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_TIMESTAMP(r->timestamp_ms),
            RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_OPAQUE(&b->tag), RD_KAFKA_V_END);
        if (!e) {
            h = NULL; /* librdkafka owns them now */
            break;
        }
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            snprintf(err, errlen, "producing to %s: %s", r->topic, rd_kafka_err2str(e));
            rc = -1;
            break;
        }
        if (atomic_load(&wt->stop)) { /* stopping: the batch is read again on restart */
            rc = -2;
            break;
        }
        if (producer_refused(wt, err, errlen)) { /* the queue cannot drain */
            rc = -1;
            break;
        }
        struct timespec ts = {0, 2 * 1000000L}; /* the poll thread drains the queue */
        nanosleep(&ts, NULL);
    }
    if (h)
        rd_kafka_headers_destroy(h);
    if (owned)
        xrec_release(&x);
    return rc;
}

/* Produces a polled batch as one ring slot: 0, 1 stopping (the slot taken
 * back, see below), -1 failed (err). */
static int produce_batch(sl_wtask *wt, topic_cache *tc, sluice_batch *batch, char *err,
                         size_t errlen)
{
    size_t n = sl_batch_count(batch);
    const sluice_record *recs = sl_batch_records(batch);
    sl_inflight *b = &wt->ring[wt->head % SL_RING_SIZE];
    b->position[0] = 0;
    b->ts_ms = 0;
    for (size_t i = 0; i < n; i++)
        if (recs[i].timestamp_ms > b->ts_ms)
            b->ts_ms = recs[i].timestamp_ms;
    for (size_t i = n; i-- > 0;)
        if (recs[i].position) {
            if (strlen(recs[i].position) >= SL_POS_MAX) {
                snprintf(err, errlen, "position longer than %d bytes", SL_POS_MAX - 1);
                return -1;
            }
            strcpy(b->position, recs[i].position);
            break;
        }
    atomic_store(&b->outstanding, (int)n + 1); /* +1: not complete while still producing */
    wt->head++;
    for (size_t i = 0; i < n; i++) {
        int rc = produce_one(wt, tc, &recs[i], b, err, errlen);
        if (rc == -2) {
            /* stopping while a conversion was retried or the producer queue
             * was full: the batch leaves the ring unfinished, so no position
             * of it is stored and a restart polls it again (its records
             * already sent come twice) */
            sl_info(wt->connector, "task %d: stopping in the middle of a batch: it is read "
                    "again on restart", wt->id);
            atomic_fetch_sub(&b->outstanding, (int)(n - i) + 1);
            wt->head--;
            err[0] = 0;
            return 1;
        }
        if (rc < 0) {
            atomic_fetch_sub(&b->outstanding, (int)(n - i) + 1);
            return -1;
        }
    }
    sl_inflight_done(b, 1);
    return 0;
}

/* Did a record of this task fail to reach the broker? Then err says where
 * and why, and the task stops before any later position is stored. */
static int delivery_failed(sl_wtask *wt, char *err, size_t errlen)
{
    int de = atomic_load(&wt->failed_delivery);
    if (!de)
        return 0;
    snprintf(err, errlen,
             "delivery of a record to %s failed: %s; no position past it is stored (last "
             "written: %s)",
             wt->failed_where, rd_kafka_err2str((rd_kafka_resp_err_t)de),
             wt->written[0] ? wt->written : "(none)");
    return 1;
}

/* Waits (up to 30 s) for the ring to drain and the last position to be
 * stored and committed: the clean-shutdown path. A producer the broker
 * refuses ends the wait at once (producer_refused: nothing can be
 * acknowledged, and nothing is lost by not waiting). */
static void drain(sl_wtask *wt, char *err, size_t errlen)
{
    int64_t deadline = sl_worker_now_ms() + 30000;
    while (sl_worker_now_ms() < deadline) {
        advance(wt);
        if (delivery_failed(wt, err, errlen)) /* never store a position past it */
            return;
        offset_write(wt, err, errlen);
        if (offset_commit(wt, err, errlen) != 0 || delivery_failed(wt, err, errlen))
            return;
        if (wt->tail == wt->head && atomic_load(&wt->offw.state) == 0 &&
            (!wt->acked[0] || !strcmp(wt->acked, wt->written)))
            return;
        if (producer_refused(wt, err, errlen))
            return;
        struct timespec ts = {0, 5 * 1000000L};
        nanosleep(&ts, NULL);
    }
    snprintf(err, errlen, "stop: records or the position still unacknowledged after 30 s");
}

void *sl_source_thread(void *arg)
{
    sl_wtask *wt = arg;
    char err[2048] = "";
    int done = 0, failed = 0;
    int64_t backoff = 0, last_flush = sl_worker_now_ms(), interval = wt->w->conf.offset_flush_interval_ms;
    sluice_batch *batch = sl_batch_create(SOURCE_BATCH);
    topic_cache topics = {0};
    sl_errpolicy errors;
    wt->started_ms = sl_worker_now_ms();
    wt->errpol = &errors;
    if (sl_errpolicy_init(&errors, wt, err, sizeof(err)) != 0 ||
        sl_transforms_create(wt->config, &wt->xf, err, sizeof(err)) != 0 ||
        sl_wtask_producer_open(wt, err, sizeof(err)) != 0) {
        failed = 1;
        goto out;
    }
    if (!batch || sl_task_open(wt->task) != SLUICE_OK) {
        snprintf(err, sizeof(err), "%s", batch ? sl_task_error(wt->task) : "out of memory");
        failed = 1;
        goto out;
    }
    sl_worker_status(wt->w, wt->connector, wt->id, "RUNNING", NULL);
    while (!atomic_load(&wt->stop)) {
        advance(wt);
        if (delivery_failed(wt, err, sizeof(err)) || producer_refused(wt, err, sizeof(err))) {
            failed = 1;
            break;
        }
        if (sl_worker_now_ms() - last_flush >= interval) {
            offset_write(wt, err, sizeof(err));
            last_flush = sl_worker_now_ms();
        }
        if (err[0] || offset_commit(wt, err, sizeof(err)) != 0) {
            failed = 1;
            break;
        }
        if (done || wt->head - wt->tail >= SL_RING_SIZE) {
            sl_wtask_sleep(wt, done ? 50 : 2);
            continue;
        }
        if (atomic_load(&wt->paused)) { /* PAUSED: keeps acking and storing, polls nothing */
            sl_wtask_sleep(wt, 20);
            continue;
        }
        int rc = sl_task_poll(wt->task, batch);
        int pb = sl_batch_count(batch) > 0 ? produce_batch(wt, &topics, batch, err, sizeof(err)) : 0;
        if (pb != 0) {
            failed = pb < 0; /* 1: stopping mid-batch */
            break;
        }
        sl_wtask_source_batch(wt, batch); /* /metrics, active topics */
        sl_batch_clear(batch);
        if (rc == SLUICE_DONE) {
            done = 1;
        } else if (rc == SLUICE_RETRY) {
            sl_wtask_retry_sleep(wt, &backoff, sl_task_error(wt->task));
        } else if (rc == SLUICE_ERROR) {
            snprintf(err, sizeof(err), "%s", sl_task_error(wt->task));
            failed = 1;
            break;
        } else {
            backoff = 0;
        }
    }
    if (!failed) {
        drain(wt, err, sizeof(err));
        failed = err[0] != 0;
    }
out:
    if (failed)
        sl_worker_status(wt->w, wt->connector, wt->id, "FAILED", err);
    else
        sl_info(wt->connector, "task %d: stopped at position %s", wt->id,
                wt->written[0] ? wt->written : "(none)");
    sl_task_close(wt->task);
    sl_batch_destroy(batch);
    topic_cache_clear(&topics); /* its handles before their producer */
    /* the own producer's messages point at wt->ring: flushed or purged, and
     * destroyed, before the task can be freed; a failed task may leave
     * messages of the shared producer in flight that point at wt->ring: the
     * worker frees such tasks only after flushing that producer */
    sl_wtask_producer_close(wt, !failed);
    sl_transforms_destroy(wt->xf);
    wt->xf = NULL;
    wt->errpol = NULL;
    return NULL;
}
