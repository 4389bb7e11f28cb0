/*
 * worker_int.h - what worker.c, worker_source.c, worker_sink.c and
 * pipeline.c share (private to the worker; worker.h is the public side).
 *
 * One sl_worker holds the config, the plugin host, ONE idempotent producer
 * (acks=all) shared by the source tasks without producer.override.* keys and
 * by the offset / status writers, and a list of sl_wtask, one per running
 * task, each with its own thread. A source task whose connector sets
 * producer.override.* keys has its own producer (sl_wtask_producer_open),
 * built the same way plus those keys, with its own poll thread; its
 * positions still go to _sluice_offsets through the shared one.
 *
 * Delivery reports: the producer-poll thread (worker.c) calls rd_kafka_poll;
 * each message's opaque is NULL (status: nobody waits) or points to an
 * sl_dr_tag that says what to update: a source batch's in-flight counter or
 * a task's offset write. Those are atomics: the only cross-thread hand-off
 * between the poll thread and a task thread.
 */
#ifndef SL_WORKER_INT_H
#define SL_WORKER_INT_H

#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "converter.h"
#include "http.h"
#include "kafka_client.h"
#include "plugin_host.h"
#include "worker.h"

#define SL_OFFSETS_TOPIC "_sluice_offsets"
#define SL_CONFIGS_TOPIC "_sluice_configs"
#define SL_STATUS_TOPIC  "_sluice_status"

#define SL_POS_MAX   512 /* longest source position text kept */
#define SL_RING_SIZE 64  /* source batches in flight per task */
#define SL_MAX_TASKS 16  /* tasks of one connector */

typedef struct sl_worker_conf {
    char *bootstrap_servers, *plugin_path, *pipelines_dir, *group_id, *listeners;
    char *schema_registry_url, *key_converter, *value_converter; /* connector defaults */
    int64_t offset_flush_interval_ms;
    int64_t sink_flush_records;
    sl_http_security http; /* the REST API's TLS and authentication */
    /* the Kafka clients' security (kafka_client.h): the top-level keys,
     * then the producer. / consumer. / admin. overrides of one kind */
    sl_kafka_security kafka, kafka_producer, kafka_consumer, kafka_admin;
    /* every other producer. / consumer. / admin. key (librdkafka's names,
     * which take most of Java's), by enum sl_wclient: NULL or an object */
    json_t *client_keys[3];
} sl_worker_conf;

typedef struct sl_errpolicy sl_errpolicy;

enum sl_dr_kind { SL_DR_BATCH = 1, SL_DR_OFFSET, SL_DR_DLQ };

/* A producer's last refused login (sl_worker_producer_refused,
 * sl_wtask_producer_refused), its error callback's opaque: written by the
 * thread polling that producer, read by source task threads. */
typedef struct sl_pauth {
    atomic_llong ms;      /* sl_worker_now_ms() of the last report; 0 none */
    pthread_mutex_t lock; /* guards reason */
    char reason[512];     /* librdkafka's reason of the last report */
    const char *log_ctx;  /* logged under: "worker", or the task's connector */
    const char *fails;    /* who fails on it, for the log: "source tasks fail on it" */
} sl_pauth;

typedef struct sl_dr_tag {
    int kind;
    struct sl_wtask *wt;
} sl_dr_tag;

/* One polled source batch in flight: done when outstanding reaches 0. */
typedef struct sl_inflight {
    sl_dr_tag tag;
    atomic_int outstanding;
    int64_t ts_ms;             /* the newest record timestamp in the batch */
    char position[SL_POS_MAX]; /* of the batch's last record */
} sl_inflight;

/* The task's offset write: 0 idle, 1 in flight, 2 acknowledged, 3 failed. */
typedef struct sl_offset_write {
    sl_dr_tag tag;
    atomic_int state;
    char position[SL_POS_MAX];
} sl_offset_write;

typedef struct sl_wtask {
    struct sl_worker *w;
    char *connector;
    int id;
    int is_source;
    const sl_plugin *plugin;
    json_t *config; /* resolved; owned */
    sl_task *task;
    sl_converter *key_conv, *value_conv;
    pthread_t thread;
    int started;
    atomic_int stop;
    atomic_int failed_delivery; /* an rd_kafka_resp_err_t from a delivery report */
    atomic_int failed_claim;    /* the first failing report writes failed_where */
    char failed_where[320];     /* "<topic> [<partition>]", set before failed_delivery */
    int64_t retry_max_delay_ms;
    int64_t started_ms; /* source: sl_worker_now_ms() when its thread began */
    /* source: where its records go, w->producer or own's (set by its thread,
     * sl_wtask_producer_open); own: NULL unless its connector sets
     * producer.override.* keys, destroyed by its thread before it ends */
    rd_kafka_t *producer;
    struct sl_own_producer *own;
    /* source: a ring of batches in flight; [tail, head) are in use */
    sl_inflight ring[SL_RING_SIZE];
    unsigned head, tail;
    sl_offset_write offw;
    char acked[SL_POS_MAX];   /* every record up to here is acknowledged */
    char written[SL_POS_MAX]; /* last position handed to an offset write */
    struct sl_wtask *next;
    /* connector life cycle (pipeline.c, worker.c; rest.c reads) */
    struct sl_wconn *conn;     /* the connector this task belongs to */
    atomic_int paused;         /* the loops sleep while set, keeping their place */
    int64_t errors_skipped; /* records skipped under errors.tolerance=all */
    struct sl_transforms *xf; /* the connector's transform chain, or NULL */
    sl_errpolicy *errpol;     /* this task's errors.* policy (set by its thread) */
    /* dead letter queue writes of this task in flight (worker_errors.c) */
    struct {
        sl_dr_tag tag;
        atomic_int outstanding, failed;
    } dlq;
    char state[16];            /* RUNNING, PAUSED, FAILED, UNASSIGNED (w->lock) */
    char *trace;               /* when FAILED (w->lock) */
    atomic_llong records_in, records_out, batches, failures; /* /metrics */
    /* /metrics gauges. source: ms from the newest record's timestamp (its
     * commit time at the source) to the acknowledgement of its batch, as of
     * the last batch; sink: records in the assigned partitions not yet
     * consumed (high watermark - position), as of the last flush cycle;
     * -1 until known. */
    atomic_llong lag;
    char last_topic[256];      /* task thread: last topic noted as active */
    int last_topic_gen;        /* task thread: conn->topics_gen when noted */
} sl_wtask;

struct sl_worker {
    sl_worker_conf conf;
    sl_plugin_host *host;
    rd_kafka_t *producer;
    pthread_t poll_thread;
    int poll_started, started;
    atomic_int stopping;
    json_t *offsets; /* key text -> position text, read from _sluice_offsets */
    sl_wtask *tasks;
    char worker_id[128];
    /* connectors and the REST API (pipeline.c, worker.c, rest.c) */
    pthread_mutex_t lock;    /* short holds: conns, their states, offsets */
    pthread_mutex_t ctl;     /* serializes life-cycle operations (may join) */
    struct sl_wconn *conns;  /* every connector, in creation order */
    sl_wtask *graveyard;     /* halted tasks freed after the producer flush */
    struct sl_rest *rest;
    atomic_int ready;        /* connectors loaded: /health answers healthy */
    /* the shared producer's last refused login (sl_worker_producer_refused):
     * written by the producer-poll thread, read by source task threads */
    sl_pauth pauth;
};

/* A connector (pipeline.c). Fields other than the list link are read and
 * written under w->lock; created, started and freed under w->ctl. */
typedef struct sl_wconn {
    char *name;
    json_t *config;  /* as given (unresolved), with "name"; owned */
    int from_file;   /* defined by a pipeline file */
    int target;      /* SL_TARGET_* */
    int is_source;   /* 1 source, 0 sink, -1 unknown (its class did not load) */
    char state[16];  /* RUNNING, PAUSED, STOPPED, FAILED, UNASSIGNED */
    char *trace;     /* why FAILED */
    /* its tasks 0..n_tasks-1 (tasks.max, capped by the plugin's max_tasks
     * and SL_MAX_TASKS); none when stopped or failed */
    sl_wtask *tasks[SL_MAX_TASKS];
    int n_tasks;
    json_t *topics;  /* active topics: name -> true */
    atomic_int topics_gen; /* bumped by a topics reset */
    const sl_plugin *plugin; /* NULL when its class did not load */
    struct sl_wconn *next;
} sl_wconn;

enum { SL_TARGET_STARTED = 0, SL_TARGET_PAUSED, SL_TARGET_STOPPED };

/* worker.c */
enum sl_wclient { SL_WCLIENT_PRODUCER, SL_WCLIENT_CONSUMER, SL_WCLIENT_ADMIN };
/* A configuration for one of the worker's Kafka clients, layered as Kafka
 * Connect does, each layer over the ones before: bootstrap.servers; the
 * security keys (kafka_client.h) at the top level, then the kind's
 * producer. / consumer. / admin. ones; `defaults` (NULL or key, value, ...,
 * NULL: what the worker chose for this client); the kind's other producer. /
 * consumer. / admin. keys of the worker's config; when conn_config is not
 * NULL, the connector's producer.override. (a producer) or
 * consumer.override. keys (a consumer) -- then
 * checked as a whole. A key the worker must set itself (acks, group.id...)
 * is refused, and so, in a connector's overrides (which the REST API
 * takes), is one that runs a command or loads code on the worker. The
 * client's librdkafka log lines go to the worker's log under component
 * (NULL: "worker"; a sink task's "name/N"), as "producer: ...",
 * "consumer: ..." or "admin client: ..." (sl_kafka_client_log). NULL with
 * err naming the key (never a value); the caller owns the result
 * (sl_kafka_client_new takes it, even when it fails) and sets what it must
 * after. */
rd_kafka_conf_t *sl_worker_client_conf(const sl_worker *w, enum sl_wclient kind,
                                       const char *const *defaults, const json_t *conn_config,
                                       const char *component,
                                       char *err, size_t errlen);
/* 1 when a Kafka client's error (error callback: code e, librdkafka's
 * reason) says the broker refused the client's login or the client refused
 * the broker's certificate: retrying cannot help until the configuration
 * changes. A connection lost during the login is not one. */
int sl_worker_auth_error(int e, const char *reason);
/* How long after the shared producer's last refused login a source task
 * still fails on it: librdkafka retries the connection with a backoff of
 * at most reconnect.backoff.max.ms (10 s) and reports every refused try, so
 * a producer still refused has reported again within this window. */
#define SL_PRODUCER_AUTH_WINDOW_MS 15000
/* Is the shared producer refused: did it report a refused login (an
 * sl_worker_auth_error from its error callback) after since_ms (an
 * sl_worker_now_ms() time; INT64_MAX: none) or within the last
 * SL_PRODUCER_AUTH_WINDOW_MS? 1 with msg (if not NULL) saying so: "the
 * worker's producer could not authenticate to <bootstrap.servers> ...:
 * <librdkafka's reason>" (never a password), else 0. The check is one
 * atomic load when not. runs on: any thread. */
int sl_worker_producer_refused(sl_worker *w, int64_t since_ms, char *msg, size_t len);
/* A source task's producer (runs on: its thread). When its connector sets
 * a producer.override.* key, creates the task's own producer (the shared
 * one's defaults, idempotence and acks=all, delivery reports and refused
 * logins handled the same way, plus those keys; client.id
 * connector-producer-<connector>-<task> unless they set one) with a thread
 * polling it; else the task uses w->producer. Sets wt->producer. 0, or -1
 * with err naming the connector's producer. */
int sl_wtask_producer_open(sl_wtask *wt, char *err, size_t errlen);
/* Ends the task's own producer, if any, before its thread returns (its
 * messages point at wt->ring): clean: flushed (up to 10 s) as a stop;
 * else, or what is still left, purged; their delivery reports served; then
 * destroyed, so nothing of it touches wt afterwards. Topic handles of it
 * must be destroyed before. runs on: the task's thread. */
void sl_wtask_producer_close(sl_wtask *wt, int clean);
/* sl_worker_producer_refused for the producer of source task wt since
 * since_ms: its own producer's refused login ("connector <c>'s producer
 * (task N, producer.override.*) could not authenticate to <its
 * bootstrap.servers> ...") or the shared producer's, through which its
 * positions are stored; msg also says which keys hold the credentials. */
int sl_wtask_producer_refused(sl_wtask *wt, int64_t since_ms, char *msg, size_t len);
/* Publishes a connector (task_id < 0) or task state to _sluice_status and
 * logs it. state: RUNNING, FAILED, PAUSED, UNASSIGNED; trace may be NULL. */
void sl_worker_status(sl_worker *w, const char *connector, int task_id, const char *state,
                      const char *trace);
/* Kafka Connect's offsets key ["<connector>",{"task":N}] as compact JSON. */
void sl_worker_offset_key(const char *connector, int task_id, char *buf, size_t len);
int64_t sl_worker_now_ms(void);
void sl_inflight_done(sl_inflight *b, int k);
/* Sleeps up to ms, returning early when the task is told to stop. */
void sl_wtask_sleep(sl_wtask *wt, int64_t ms);
/* Retries of a retriable failure back off 100 ms, doubling up to
 * errors.retry.delay.max.ms (and to limit, when >= 0): the next delay. */
int64_t sl_wtask_backoff(const sl_wtask *wt, int64_t prev, int64_t limit);
/* *backoff = the next delay; logs why and sleeps it (returning at stop). */
void sl_wtask_retry_sleep(sl_wtask *wt, int64_t *backoff, const char *why);
/* After a source batch was produced / a sink batch was put: counts it for
 * /metrics and notes its topics as the connector's active topics.
 * runs on: the task thread. */
void sl_wtask_source_batch(sl_wtask *wt, const sluice_batch *batch);
void sl_wtask_sink_batch(sl_wtask *wt, const sluice_record *recs, size_t n);

/* worker_conv.c: fills a connector config's missing key.converter,
 * value.converter and <key|value>.converter.schema.registry.url from the
 * worker's defaults (as a Kafka Connect worker config does). 0 or -1 (OOM). */
int sl_worker_converter_defaults(const sl_worker *w, json_t *config);

/* worker_errors.c: errors.tolerance, error logs, the dead letter queue. */
struct sl_errpolicy {
    int tolerate_all, log_enable, log_messages, dlq_headers;
    int64_t retry_timeout_ms; /* errors.retry.timeout: 0 none, -1 forever */
    char dlq_topic[256];      /* "" = no dead letter queue */
};
/* One operation's retries (zeroed before its first try). */
typedef struct sl_retry {
    int64_t start_ms, backoff_ms;
} sl_retry;
/* A retriable failure (err: the registry unreachable...) of an operation:
 * 1 = try again, after a backoff doubling from 100 ms up to
 * errors.retry.delay.max.ms (logged); 0 = errors.retry.timeout is spent, or
 * the task stops: handle err as a failure (after retries, err says for how
 * long it was retried). */
int sl_errpolicy_retry(sl_wtask *wt, const sl_errpolicy *p, sl_retry *r, char *err,
                       size_t errlen);
/* Reads the errors.* keys of wt->config. -1 with err on a bad value. */
int sl_errpolicy_init(sl_errpolicy *p, sl_wtask *wt, char *err, size_t errlen);
/* A record failed at stage (KEY_CONVERTER, VALUE_CONVERTER,
 * TRANSFORMATION) because of why; m is the consumed message (sinks) or
 * NULL. 0: tolerated (logged and/or dead-lettered, skip it); -1: the task
 * must fail, err says why and how to tolerate it. */
int sl_errpolicy_report(sl_wtask *wt, const sl_errpolicy *p, const char *stage,
                        const rd_kafka_message_t *m, const char *why, char *err, size_t errlen);
/* Waits for this task's dead letter queue writes; -1 if one failed. */
int sl_errpolicy_settle(sl_wtask *wt, char *err, size_t errlen);

/* worker_source.c / worker_sink.c: the task threads. */
void *sl_source_thread(void *arg);
void *sl_sink_thread(void *arg);

/* pipeline.c: loads every *.json of pipelines.dir and starts its tasks
 * (appending them to w->tasks). Problems are logged and skipped. */
void sl_pipelines_load(sl_worker *w);

#endif
