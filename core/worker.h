/*
 * worker.h - the connector worker: runs the connectors of a directory of
 * pipeline files against a Kafka-protocol broker (ARCHITECTURE.md 5-7).
 *
 *   sluice worker --config worker.json --set pipelines.dir=./pipelines
 *
 * sl_worker_main is the `sluice worker` role; sl_worker_create / _start /
 * _stop / _destroy let `sluice run` host a worker in-process. Options keep
 * Kafka Connect's names (bootstrap.servers, plugin.path, group.id,
 * offset.flush.interval.ms, listeners), plus pipelines.dir.
 *
 * Threads: create/start/stop/destroy from one control thread; the worker
 * runs one thread per task plus one producer-poll thread (worker.c).
 */
#ifndef SL_WORKER_H
#define SL_WORKER_H

#include <stddef.h>

typedef struct sl_worker sl_worker;

/* Parses --config/--set arguments (argv[0] is the role name). Returns NULL
 * with err set. */
sl_worker *sl_worker_create(int argc, char **argv, char *err, size_t errlen);
/* Connects, creates the internal topics, reads stored offsets, loads the
 * pipelines and starts their tasks. A bad pipeline or connector is reported
 * and skipped; -1 (err set) only when the worker itself cannot run. */
int sl_worker_start(sl_worker *w, char *err, size_t errlen);
/* Stops every task (sources write their final offsets), flushes the
 * producer. Safe to call twice. */
void sl_worker_stop(sl_worker *w);
void sl_worker_destroy(sl_worker *w);

int sl_worker_main(int argc, char **argv);

#endif
