/*
 * worker.h - the connector worker: runs connectors from a directory of
 * pipeline files and from its Kafka Connect REST API, against a
 * Kafka-protocol broker (ARCHITECTURE.md 5-7).
 *
 *   sluice worker --config worker.json --set pipelines.dir=./pipelines
 *
 * sl_worker_main is the `sluice worker` role; sl_worker_create / _start /
 * _stop / _destroy let `sluice run` host a worker in-process. Options keep
 * Kafka Connect's names (bootstrap.servers, plugin.path, group.id,
 * offset.flush.interval.ms, listeners), plus pipelines.dir.
 *
 * The second half is the control API the REST server (rest.c) calls: every
 * function is thread-safe (any MHD thread), returns an SL_WC_* outcome and,
 * on failure, a message in err; documents come back as new JSON references
 * in Kafka Connect's shapes, with secrets shown as "[hidden]".
 *
 * Threads: create/start/stop/destroy from one control thread; the worker
 * runs one thread per task plus one producer-poll thread (worker.c) and the
 * REST server's threads (rest.c).
 */
#ifndef SL_WORKER_H
#define SL_WORKER_H

#include <jansson.h>
#include <stddef.h>

typedef struct sl_worker sl_worker;

/* Parses --config/--set arguments (argv[0] is the role name). Returns NULL
 * with err set. */
sl_worker *sl_worker_create(int argc, char **argv, char *err, size_t errlen);
/* Connects, creates the internal topics, reads stored offsets and connector
 * configs, serves the REST API on `listeners`, loads the pipelines and
 * starts every connector in its stored target state. A bad pipeline or
 * connector is reported and skipped; -1 (err set) only when the worker
 * itself cannot run (broker unreachable, REST port taken). */
int sl_worker_start(sl_worker *w, char *err, size_t errlen);
/* Stops the REST API and every task (sources write their final offsets),
 * flushes the producer. Safe to call twice. */
void sl_worker_stop(sl_worker *w);
void sl_worker_destroy(sl_worker *w);

int sl_worker_main(int argc, char **argv);

/* ---- control API (rest.c) ---------------------------------------------- */

enum {
    SL_WC_OK = 0,
    SL_WC_CREATED,   /* put: a new connector */
    SL_WC_NOT_FOUND, /* no such connector / task / plugin */
    SL_WC_EXISTS,    /* create: the name is taken */
    SL_WC_INVALID,   /* bad config or request (err lists every problem) */
    SL_WC_STATE,     /* not allowed in the connector's state */
    SL_WC_ERROR,     /* the worker failed (Kafka write, out of memory) */
};

/* The REST port actually bound (listeners with port 0), or 0. */
int sl_worker_rest_port(const sl_worker *w);
/* {"version","commit","kafka_cluster_id"} */
json_t *sl_worker_info(sl_worker *w);
/* ["a","b"] sorted. */
json_t *sl_worker_connector_names(sl_worker *w);
/* {"name","config","tasks":[{"connector","task"}],"type"} */
int sl_worker_connector_info(sl_worker *w, const char *name, json_t **out);
/* The config shown ([hidden] secrets). */
int sl_worker_connector_config(sl_worker *w, const char *name, json_t **out);
/* {"name","connector":{"state","worker_id"[,"trace"]},"tasks":[...],"type"} */
int sl_worker_connector_status(sl_worker *w, const char *name, json_t **out);
/* [{"id":{"connector","task"},"config":{...}}] */
int sl_worker_connector_tasks(sl_worker *w, const char *name, json_t **out);
/* {"id","state","worker_id"[,"trace"]} */
int sl_worker_task_status(sl_worker *w, const char *name, int task, json_t **out);

/* Creates (create_only: SL_WC_EXISTS when taken) or replaces the config of
 * connector `name`; initial_state RUNNING|PAUSED|STOPPED or NULL (only for a
 * new connector). The config is validated, stored in _sluice_configs, and
 * the connector's task restarted with it. SL_WC_CREATED or SL_WC_OK. */
int sl_worker_connector_put(sl_worker *w, const char *name, const json_t *config, int create_only,
                            const char *initial_state, char *err, size_t errlen);
/* Merges patch into the config (a null value removes a key), then as put. */
int sl_worker_connector_patch(sl_worker *w, const char *name, const json_t *patch, char *err,
                              size_t errlen);
int sl_worker_connector_delete(sl_worker *w, const char *name, char *err, size_t errlen);
/* target: "PAUSED", "STARTED" (resume), "STOPPED". */
int sl_worker_connector_target(sl_worker *w, const char *name, const char *target, char *err,
                               size_t errlen);
/* Restart. *out (when include_tasks or only_failed) the status before the
 * restart, with what is restarted marked RESTARTING. */
int sl_worker_connector_restart(sl_worker *w, const char *name, int include_tasks, int only_failed,
                                json_t **out, char *err, size_t errlen);
int sl_worker_task_restart(sl_worker *w, const char *name, int task, char *err, size_t errlen);

/* {"<name>":{"topics":[...]}} */
int sl_worker_connector_topics(sl_worker *w, const char *name, json_t **out);
int sl_worker_connector_topics_reset(sl_worker *w, const char *name, char *err, size_t errlen);

/* {"offsets":[{"partition":{...},"offset":{...}}]} */
int sl_worker_offsets_get(sl_worker *w, const char *name, json_t **out, char *err, size_t errlen);
/* body {"offsets":[...]} (alter) or NULL (reset): STOPPED connectors only. */
int sl_worker_offsets_set(sl_worker *w, const char *name, const json_t *body, char *err,
                          size_t errlen);

/* [{"class","type","version"}]; converters too unless connectors_only. */
json_t *sl_worker_plugins(sl_worker *w, int connectors_only);
/* The plugin's option table as Kafka Connect's ConfigKeyInfo list. */
int sl_worker_plugin_config(sl_worker *w, const char *plugin, json_t **out, char *err,
                            size_t errlen);
/* Kafka Connect's ConfigInfos answer for config against plugin. */
int sl_worker_plugin_validate(sl_worker *w, const char *plugin, const json_t *config, json_t **out,
                              char *err, size_t errlen);

/* Prometheus text (malloc'd) of every task's counters and state. */
char *sl_worker_metrics(sl_worker *w);
/* {"status":"healthy"|"starting",...}; *ok 1 when healthy. */
json_t *sl_worker_health(sl_worker *w, int *ok);

#endif
