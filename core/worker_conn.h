/*
 * worker_conn.h - what worker.c, pipeline.c (connector life cycle),
 * worker_admin.c (the REST documents) and rest.c share about connectors
 * (private to the worker; worker_int.h holds the structures).
 *
 * Locks: w->lock guards the connector list and every state field (short
 * holds, never while waiting on Kafka or joining a thread); w->ctl
 * serializes life-cycle operations and plugin-host use (held while joining).
 * Order: ctl before lock. sl_worker_status takes lock: never call it with
 * lock held.
 */
#ifndef SL_WORKER_CONN_H
#define SL_WORKER_CONN_H

#include "worker_int.h"

/* ---- worker.c ----------------------------------------------------------- */

/* Reads every partition of topic to its end into map (key -> value text). */
int sl_worker_topic_read(sl_worker *w, const char *topic, json_t *map, char *err, size_t errlen);
/* Writes key -> value (NULL: a tombstone) to topic and waits (15 s) for the
 * broker's acknowledgement. 0, or -1 with err. */
int sl_worker_topic_put(sl_worker *w, const char *topic, const char *key, const char *value,
                        char *err, size_t errlen);
/* Tombstones the connector's and its task's status records. */
void sl_worker_status_forget(sl_worker *w, const char *connector);

/* ---- pipeline.c --------------------------------------------------------- */

/* At start: connectors from pipeline files and from `stored` (the
 * _sluice_configs map), each started in its stored target state; their
 * active topics from `status` (the _sluice_status map). w->ctl held. */
void sl_conns_start(sl_worker *w, const json_t *stored, const json_t *status);
/* Stops every task (at worker stop). */
void sl_conns_halt_all(sl_worker *w);
/* Frees every connector and halted task (after the producer flush). */
void sl_conns_free_all(sl_worker *w);
/* The connector named `name`, or NULL. w->lock held. */
sl_wconn *sl_conn_find(sl_worker *w, const char *name);
/* A copy of config as shown to users: secret options of plugin p (may be
 * NULL), registry-client secrets (sl_restclient_secret_key) and values holding
 * ${env:} / ${file:} references are "[hidden]". */
json_t *sl_conn_shown(const sl_plugin *p, const json_t *config);
/* "source" / "sink" / "unknown". */
const char *sl_conn_type(const sl_wconn *c);
/* The config the plugin validates: config without the worker-only keys it
 * does not know (topics, topics.regex). New reference. */
json_t *sl_conn_plugin_config(const json_t *config);
/* The Kafka client keys of a connector's (resolved) config that its clients
 * would refuse, each a message appended to errors (naming the key, never a
 * value): admin.override.* (one admin client serves every connector), a
 * sink's producer.override.* (its dead letter queue uses the worker's
 * producer), and what a source's own producer refuses of its
 * producer.override.* / a sink's consumer of its consumer.override.*
 * (sl_worker_client_conf). Returns how many. */
int sl_conn_client_check(sl_worker *w, const json_t *resolved, int is_sink, json_t *errors);

#endif
