/*
 * plugin_host.h - the worker's side of the plugin ABI (private to core/).
 *
 * Loads connector plugins (<plugin.path>/<name>.so) and checks what it
 * loaded before trusting it; validates, resolves and masks connector configs
 * against a plugin's option table; runs tasks by wrapping every plugin
 * callback so that an error the plugin reports comes back with its
 * connector, task and callback named.
 *
 * Ownership: the host owns every sl_plugin it loaded (dlclose at
 * sl_plugin_host_destroy, which must come after every task is destroyed).
 * A task owns its typed config, error text and metrics. A batch owns the
 * records emitted into it until sl_batch_clear / sl_batch_destroy.
 *
 * Threads: a host is used from one thread (the worker's control thread); a
 * task from one thread at a time (its task thread). Tasks share no state.
 */
#ifndef SL_PLUGIN_HOST_H
#define SL_PLUGIN_HOST_H

#include <jansson.h>
#include <stddef.h>

#include "sluice/envelope.h"
#include "sluice/plugin.h"

typedef struct sl_plugin_host sl_plugin_host;
typedef struct sl_plugin sl_plugin;
typedef struct sl_task sl_task;

/* ---- loading ------------------------------------------------------------ */

/* plugin_path: the directory holding <name>.so. Returns NULL on OOM. */
sl_plugin_host *sl_plugin_host_create(const char *plugin_path);
void sl_plugin_host_destroy(sl_plugin_host *host);

/* Loads (once) and checks plugin `name`. Returns 0 with *out set, or -1 with
 * err naming the file and the reason (a wrong magic, ABI version, struct size
 * or signature is refused without calling into the plugin). */
int sl_plugin_host_load(sl_plugin_host *host, const char *name, const sl_plugin **out, char *err,
                        size_t errlen);
/* Same for an explicit file path. */
int sl_plugin_host_load_file(sl_plugin_host *host, const char *path, const sl_plugin **out,
                             char *err, size_t errlen);

const sluice_plugin_def *sl_plugin_def(const sl_plugin *p);
/* How many tasks of one connector the plugin runs at once (>= 1). */
unsigned sl_plugin_max_tasks(const sl_plugin *p);
const char *sl_plugin_file(const sl_plugin *p);

/* ---- connector configs (JSON objects of string values, as Kafka Connect) */

/* 1 when key belongs to the worker (name, connector.class, tasks.max,
 * converters, transforms*, errors.*, ...) rather than to the plugin. */
int sl_config_is_worker_key(const char *key);
/* A worker key holding an integer (tasks.max, errors.retry.timeout,
 * errors.retry.delay.max.ms): 0 with *out its value, or its default when
 * absent; -1 with err ("Invalid value X for configuration K: ...") and *out
 * the default when it is not an integer in range. Config validation
 * refuses such values up front with the same message. */
int sl_config_worker_int(const json_t *config, const char *key, int64_t *out, char *err,
                         size_t errlen);

/* Replaces ${env:NAME} and ${file:path:key} (a key of a properties file) in
 * every string value. Returns 0 with *out a new object, or -1 with err naming
 * the config key and the reference that failed. */
int sl_config_resolve(const json_t *config, json_t **out, char *err, size_t errlen);

/* Kafka Connect's validate answer:
 *   {"name", "error_count", "groups", "configs": [{"definition": {...},
 *    "value": {"name", "value", "recommended_values", "errors": [...], "visible"}}]}
 * one entry per plugin option, per worker key given, per unknown key (an
 * error). Secret values are shown as "[hidden]". Returns a new reference. */
json_t *sl_plugin_validate(const sl_plugin *p, const json_t *config);

/* A copy of config with every secret option's value replaced by "[hidden]". */
json_t *sl_plugin_mask(const sl_plugin *p, const json_t *config);

/* ---- tasks ---------------------------------------------------------------- */

/* Validates config (already resolved) and builds a task; no callback runs
 * yet. position: the stored source position (JSON text) or NULL. Returns
 * NULL with err listing every invalid field. */
sl_task *sl_task_create(const sl_plugin *p, const char *connector, int task_id,
                        const json_t *config, const char *position, char *err, size_t errlen);
/* Closes the task if open, then frees it. NULL is fine. */
void sl_task_destroy(sl_task *task);

/* Each returns the plugin's sluice_status; on SLUICE_ERROR / SLUICE_RETRY
 * sl_task_error() holds "connector <c> task <n>: <plugin>.<callback>: <why>". */
int sl_task_open(sl_task *task);
int sl_task_poll(sl_task *task, sluice_batch *batch);
int sl_task_commit(sl_task *task, const char *position);
int sl_task_put(sl_task *task, const sluice_record *records, size_t n);
int sl_task_flush(sl_task *task);
/* Raw values (sluice_plugin_def.raw_values): whether the plugin takes
 * them, and who decodes or renders a raw record on its demand. The sink
 * thread sets it before the first put; rec is one of the records of the
 * put running now. value: the decoded value or NULL with err set; plan: the
 * value's compiled writer schema. */
typedef struct sl_raw_values {
    avro_value_t *(*value)(void *arg, const sluice_record *rec, char *err, size_t errlen);
    const sluice_avro_plan *(*plan)(void *arg, const sluice_record *rec);
    void *arg;
} sl_raw_values;
int sl_task_takes_raw_values(const sl_task *task);
void sl_task_set_raw_values(sl_task *task, const sl_raw_values *raw);
/* The sink's optional preCommit (sluice_sink_ops.precommit). */
int sl_task_has_precommit(const sl_task *task);
int sl_task_precommit(sl_task *task, sluice_offset *offsets, size_t n);
/* The sink's optional close_partitions; OK when it has none. */
int sl_task_close_partitions(sl_task *task, const sluice_offset *parts, size_t n);
void sl_task_close(sl_task *task);

const char *sl_task_error(const sl_task *task);
int sl_task_error_retriable(const sl_task *task);
int64_t sl_task_metric(const sl_task *task, const char *name); /* 0 if never set */
/* The plugin's metrics, for /metrics and /status (any thread): the name of
 * metric i < sl_task_metric_count, its value and whether it is a gauge. */
size_t sl_task_metric_count(const sl_task *task);
const char *sl_task_metric_at(const sl_task *task, size_t i, int64_t *value, int *gauge);
/* Replaces the stored position (what sluice_position() answers on open). */
int sl_task_set_position(sl_task *task, const char *position);

/* ---- batches (what a source poll fills) ----------------------------------- */

sluice_batch *sl_batch_create(size_t capacity);
void sl_batch_destroy(sluice_batch *batch);
size_t sl_batch_count(const sluice_batch *batch);
const sluice_record *sl_batch_records(const sluice_batch *batch);
/* Releases the records (decref'ing their avro values); capacity is kept. */
void sl_batch_clear(sluice_batch *batch);

#endif
