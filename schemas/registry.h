/*
 * registry.h - the Avro schema registry (Confluent Schema Registry REST API
 * v1), the whole public interface of schemas/.
 *
 * The registry keeps no state of its own: everything lives in the compacted
 * topic `kafkastore.topic` (default _schemas) of the Kafka-protocol broker at
 * `kafkastore.bootstrap.servers`, reached only through librdkafka. Several
 * registries on one broker therefore agree on subjects, versions and ids.
 *
 * Options (Confluent's names where Confluent has one; `sluice registry
 * --help` lists them with their defaults):
 *   listeners                       http://0.0.0.0:8081
 *   kafkastore.bootstrap.servers    localhost:9092
 *   kafkastore.topic                _schemas
 *   kafkastore.timeout.ms           how long a write waits for the broker
 *   kafkastore.enable.idempotence   idempotent producer (falls back if the
 *                                   broker lacks it)
 *   schema.compatibility.level      BACKWARD
 *   authentication.method           NONE or BASIC
 *   authentication.realm            realm of the Basic challenge
 *   authentication.users            BASIC users: "alice:secret,bob:pw"
 *   request.max.bytes               larger request bodies get 413 unread
 *   http.threads                    HTTP worker threads
 */
#ifndef SL_REGISTRY_H
#define SL_REGISTRY_H
#include <stddef.h>

typedef struct sl_registry sl_registry;

/* `sluice registry [--config FILE] [--set key=value ...]`: serve until
 * SIGINT or SIGTERM. argv[0] is "registry". Returns the exit code. */
int sl_registry_main(int argc, char **argv);

/* Start a registry in this process (for `sluice run`): argv as for
 * sl_registry_main (argv[0] ignored). Reads the topic to its end before it
 * returns. -1 with err on failure; *out is then NULL. */
int sl_registry_start(int argc, char **argv, sl_registry **out, char *err, size_t errlen);
/* Stop serving and release everything. NULL is fine. */
void sl_registry_stop(sl_registry *reg);

/* `sluice schemas ...`: the command-line client over the REST API (cli.c).
 * argv[0] is "schemas". Returns the exit code. */
int sl_registry_cli(int argc, char **argv);

#endif
