/*
 * worker_errors.c - Kafka Connect's error handling for records that fail in
 * the worker (a converter or a transform): errors.tolerance, error logging
 * and, for sinks, the dead letter queue.
 *
 * Options (Kafka Connect's names and defaults):
 *   errors.tolerance                          none (fail the task) | all (skip)
 *   errors.log.enable                         false: log each skipped record
 *   errors.log.include.messages               false: ... with its key/value
 *   errors.deadletterqueue.topic.name         "" (sinks): send it there
 *   errors.deadletterqueue.context.headers.enable  false: add __connect.errors.*
 *   errors.retry.timeout                      0: how long (ms) a conversion failing
 *                                             for a retriable reason (the schema
 *                                             registry unreachable or answering 5xx)
 *                                             is retried before it counts as an
 *                                             error; -1 = forever
 *   errors.retry.delay.max.ms                 60000: the longest backoff between tries
 *
 * A dead-lettered record is the consumed message as it was (key, value,
 * headers, timestamp) produced to the DLQ topic through the worker's
 * idempotent producer. Its delivery is tracked per task (wt->dlq); the sink
 * commits offsets only once every DLQ write before them was acknowledged,
 * so a skipped record is never lost from both the topic's committed range
 * and the DLQ. A failed DLQ write fails the task.
 *
 * Runs on: the task's thread (delivery reports on the producer-poll thread
 * touch only wt->dlq's atomics).
 */
#include <inttypes.h>
#include <strings.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logging.h"
#include "worker_int.h"

static int conf_bool(const json_t *config, const char *key)
{
    const json_t *v = json_object_get(config, key);
    return json_is_true(v) || (json_is_string(v) && !strcasecmp(json_string_value(v), "true"));
}

int sl_errpolicy_init(sl_errpolicy *p, sl_wtask *wt, char *err, size_t errlen)
{
    const json_t *c = wt->config;
    const char *tol = json_string_value(json_object_get(c, "errors.tolerance"));
    const char *dlq = json_string_value(json_object_get(c, "errors.deadletterqueue.topic.name"));
    memset(p, 0, sizeof(*p));
    if (tol && strcmp(tol, "none") && strcmp(tol, "all")) {
        snprintf(err, errlen, "errors.tolerance: '%s' is not none or all", tol);
        return -1;
    }
    p->tolerate_all = tol && !strcmp(tol, "all");
    int64_t rt;
    if (sl_config_worker_int(c, "errors.retry.timeout", &rt, err, errlen) != 0)
        return -1;
    p->retry_timeout_ms = rt;
    p->log_enable = conf_bool(c, "errors.log.enable");
    p->log_messages = conf_bool(c, "errors.log.include.messages");
    p->dlq_headers = conf_bool(c, "errors.deadletterqueue.context.headers.enable");
    if (dlq && *dlq) {
        if (wt->is_source) {
            snprintf(err, errlen,
                     "errors.deadletterqueue.topic.name: a dead letter queue is for sink "
                     "connectors (as in Kafka Connect)");
            return -1;
        }
        snprintf(p->dlq_topic, sizeof(p->dlq_topic), "%s", dlq);
    }
    wt->dlq.tag = (sl_dr_tag){SL_DR_DLQ, wt};
    return 0;
}

int sl_errpolicy_retry(sl_wtask *wt, const sl_errpolicy *p, sl_retry *r, char *err,
                       size_t errlen)
{
    int64_t now = sl_worker_now_ms();
    if (!r->start_ms)
        r->start_ms = now;
    int64_t spent = now - r->start_ms;
    if (p->retry_timeout_ms == 0 || atomic_load(&wt->stop) ||
        (p->retry_timeout_ms > 0 && spent >= p->retry_timeout_ms)) {
        size_t n = strlen(err);
        if (r->backoff_ms && n < errlen) /* the failure says it outlasted the retries */
            snprintf(err + n, errlen - n, " (still failing after %lld ms of retries, "
                     "errors.retry.timeout %lld)", (long long)spent,
                     (long long)p->retry_timeout_ms);
        return 0;
    }
    r->backoff_ms =
        sl_wtask_backoff(wt, r->backoff_ms, p->retry_timeout_ms > 0 ? p->retry_timeout_ms - spent : -1);
    sl_warn(wt->connector, "task %d: %s; retrying in %lld ms (errors.retry.timeout %lld ms)",
            wt->id, err, (long long)r->backoff_ms, (long long)p->retry_timeout_ms);
    sl_wtask_sleep(wt, r->backoff_ms);
    return !atomic_load(&wt->stop);
}

static void add_header(rd_kafka_headers_t *h, const char *name, const char *value)
{
    rd_kafka_header_add(h, name, -1, value, -1);
}

/* The message, as consumed, to the DLQ topic, with context headers. */
static int dlq_send(sl_wtask *wt, const sl_errpolicy *p, const rd_kafka_message_t *m,
                    const char *stage, const char *why, char *err, size_t errlen)
{
    rd_kafka_headers_t *h = NULL, *orig = NULL;
    if (rd_kafka_message_headers(m, &orig) == RD_KAFKA_RESP_ERR_NO_ERROR)
        h = rd_kafka_headers_copy(orig);
    else
        h = rd_kafka_headers_new(8);
    if (p->dlq_headers) {
        char num[32];
        add_header(h, "__connect.errors.topic", rd_kafka_topic_name(m->rkt));
        snprintf(num, sizeof(num), "%" PRId32, m->partition);
        add_header(h, "__connect.errors.partition", num);
        snprintf(num, sizeof(num), "%" PRId64, m->offset);
        add_header(h, "__connect.errors.offset", num);
        add_header(h, "__connect.errors.connector.name", wt->connector);
        snprintf(num, sizeof(num), "%d", wt->id);
        add_header(h, "__connect.errors.task.id", num);
        add_header(h, "__connect.errors.stage", stage);
        add_header(h, "__connect.errors.class.name",
                   !strcmp(stage, "TRANSFORMATION") ? "sluice.transforms" : "sluice.converter");
        add_header(h, "__connect.errors.exception.class.name", "sluice.DataException");
        add_header(h, "__connect.errors.exception.message", why);
    }
    rd_kafka_timestamp_type_t tt;
    int64_t ts = rd_kafka_message_timestamp(m, &tt);
    atomic_fetch_add(&wt->dlq.outstanding, 1);
    rd_kafka_resp_err_t e = rd_kafka_producev(
        wt->w->producer, RD_KAFKA_V_TOPIC(p->dlq_topic), RD_KAFKA_V_KEY(m->key, m->key_len),
        RD_KAFKA_V_VALUE(m->payload, m->len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_TIMESTAMP(ts > 0 ? ts : 0), RD_KAFKA_V_HEADERS(h),
        RD_KAFKA_V_OPAQUE(&wt->dlq.tag), RD_KAFKA_V_END);
    if (e) {
        atomic_fetch_sub(&wt->dlq.outstanding, 1);
        rd_kafka_headers_destroy(h); /* not taken over on failure */
        snprintf(err, errlen, "dead letter queue %s: %s", p->dlq_topic, rd_kafka_err2str(e));
        return -1;
    }
    return 0;
}

int sl_errpolicy_report(sl_wtask *wt, const sl_errpolicy *p, const char *stage,
                        const rd_kafka_message_t *m, const char *why, char *err, size_t errlen)
{
    if (!p->tolerate_all) {
        snprintf(err, errlen, "%s (stage %s; errors.tolerance=none fails the task: set "
                 "errors.tolerance=all to skip such records%s)", why, stage,
                 wt->is_source ? "" : ", errors.deadletterqueue.topic.name to keep them");
        return -1;
    }
    wt->errors_skipped++;
    atomic_fetch_add(&wt->failures, 1); /* /metrics */
    if (p->log_enable) {
        if (m && p->log_messages)
            sl_warn(wt->connector, "task %d: skipped a record at stage %s: %s; key %.*s value %.*s",
                    wt->id, stage, why, (int)(m->key_len > 200 ? 200 : m->key_len),
                    m->key ? (const char *)m->key : "", (int)(m->len > 200 ? 200 : m->len),
                    m->payload ? (const char *)m->payload : "");
        else
            sl_warn(wt->connector, "task %d: skipped a record at stage %s: %s", wt->id, stage, why);
    }
    if (m && p->dlq_topic[0])
        return dlq_send(wt, p, m, stage, why, err, errlen);
    return 0;
}

int sl_errpolicy_settle(sl_wtask *wt, char *err, size_t errlen)
{
    int64_t stop_deadline = 0;
    while (atomic_load(&wt->dlq.outstanding) > 0) {
        if (atomic_load(&wt->stop)) { /* stopping: wait a bounded while */
            if (!stop_deadline)
                stop_deadline = sl_worker_now_ms() + 30000;
            else if (sl_worker_now_ms() > stop_deadline) {
                snprintf(err, errlen, "stopped with %d dead letter queue writes unacknowledged "
                         "after 30 s: nothing past them is committed",
                         atomic_load(&wt->dlq.outstanding));
                return -1;
            }
        }
        struct timespec ts = {0, 1000000L};
        nanosleep(&ts, NULL);
    }
    int e = atomic_exchange(&wt->dlq.failed, 0);
    if (e) {
        snprintf(err, errlen, "a dead letter queue write failed: %s",
                 rd_kafka_err2str((rd_kafka_resp_err_t)e));
        return -1;
    }
    return 0;
}
