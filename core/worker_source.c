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
 * or a failed delivery make the task FAILED; the other tasks go on.
 *
 * Runs on: this task's thread; the ring counters and offw.state are also
 * written by the producer-poll thread (atomics).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logging.h"
#include "worker_int.h"

#define SOURCE_BATCH 1000

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

/* Produces one record; the batch slot's counter was raised for it. */
static int produce_one(sl_wtask *wt, const sluice_record *r, sl_inflight *b, char *err,
                       size_t errlen)
{
    void *k = NULL, *v = NULL;
    size_t klen = 0, vlen = 0;
    if (sl_converter_to_bytes(wt->key_conv, r->topic, r->key_schema, r->key, &k, &klen, err, errlen) ||
        sl_converter_to_bytes(wt->value_conv, r->topic, r->value_schema, r->value, &v, &vlen, err,
                              errlen)) {
        free(k);
        return -1;
    }
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            wt->w->producer, RD_KAFKA_V_TOPIC(r->topic), RD_KAFKA_V_KEY(k, klen),
            RD_KAFKA_V_VALUE(v, vlen), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE),
            RD_KAFKA_V_TIMESTAMP(r->timestamp_ms), RD_KAFKA_V_OPAQUE(&b->tag), RD_KAFKA_V_END);
        if (!e)
            break;
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            snprintf(err, errlen, "producing to %s: %s", r->topic, rd_kafka_err2str(e));
            free(k);
            free(v);
            return -1;
        }
        struct timespec ts = {0, 2 * 1000000L}; /* the poll thread drains the queue */
        nanosleep(&ts, NULL);
    }
    free(k); /* librdkafka copies keys; F_FREE owns the value */
    return 0;
}

static int produce_batch(sl_wtask *wt, sluice_batch *batch, char *err, size_t errlen)
{
    size_t n = sl_batch_count(batch);
    const sluice_record *recs = sl_batch_records(batch);
    sl_inflight *b = &wt->ring[wt->head % SL_RING_SIZE];
    b->position[0] = 0;
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
        if (produce_one(wt, &recs[i], b, err, errlen) != 0) {
            atomic_fetch_sub(&b->outstanding, (int)(n - i) + 1);
            return -1;
        }
    }
    atomic_fetch_sub(&b->outstanding, 1);
    return 0;
}

/* Waits (up to 30 s) for the ring to drain and the last position to be
 * stored and committed: the clean-shutdown path. */
static void drain(sl_wtask *wt, char *err, size_t errlen)
{
    int64_t deadline = sl_worker_now_ms() + 30000;
    while (sl_worker_now_ms() < deadline) {
        advance(wt);
        offset_write(wt, err, errlen);
        if (offset_commit(wt, err, errlen) != 0 || atomic_load(&wt->failed_delivery))
            return;
        if (wt->tail == wt->head && atomic_load(&wt->offw.state) == 0 &&
            (!wt->acked[0] || !strcmp(wt->acked, wt->written)))
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
    if (!batch || sl_task_open(wt->task) != SLUICE_OK) {
        snprintf(err, sizeof(err), "%s", batch ? sl_task_error(wt->task) : "out of memory");
        failed = 1;
        goto out;
    }
    sl_worker_status(wt->w, wt->connector, wt->id, "RUNNING", NULL);
    while (!atomic_load(&wt->stop)) {
        advance(wt);
        int de = atomic_load(&wt->failed_delivery);
        if (de) {
            snprintf(err, sizeof(err), "delivery failed: %s", rd_kafka_err2str(de));
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
        int rc = sl_task_poll(wt->task, batch);
        if (sl_batch_count(batch) > 0 && produce_batch(wt, batch, err, sizeof(err)) != 0) {
            failed = 1;
            break;
        }
        sl_batch_clear(batch);
        if (rc == SLUICE_DONE) {
            done = 1;
        } else if (rc == SLUICE_RETRY) {
            backoff = backoff ? backoff * 2 : 100;
            backoff = backoff > wt->retry_max_delay_ms ? wt->retry_max_delay_ms : backoff;
            sl_warn(wt->connector, "task %d: %s; retrying in %lld ms", wt->id,
                    sl_task_error(wt->task), (long long)backoff);
            sl_wtask_sleep(wt, backoff);
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
    /* a failed task may leave messages in flight that point at wt->ring:
     * the worker frees tasks only after flushing the producer */
    return NULL;
}
