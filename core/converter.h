/*
 * converter.h - turning a record's key or value (an avro-c value with its
 * schema, ARCHITECTURE.md section 4) into the bytes of a Kafka message and
 * back, as Kafka Connect's Converter does (fromConnectData / toConnectData).
 *
 * A converter is a small struct of function pointers behind an opaque
 * handle, like Redis's rio backends: `json` lives in converter.c; the
 * `avro` converter (Confluent wire format through the schema registry) slots
 * in as one more backend in the table of converter.c without touching the
 * worker.
 *
 * json: Kafka Connect's JsonConverter format. With schemas.enable=true (the
 * default, as in Kafka Connect) a message is {"schema": S, "payload": P}, S
 * being the Connect schema (struct/int64/string..., "optional") derived from
 * the Avro schema, P the Debezium JSON form (sluice_value_to_json); with
 * schemas.enable=false it is P alone. from_bytes reads either form back: the
 * Connect schema (or, without one, a schema inferred from the payload) is
 * turned into an Avro schema, cached, and the payload is read into a fresh
 * generic value of that schema.
 *
 * Ownership: to_bytes writes into a buffer the converter keeps and reuses
 * (librdkafka copies it: RD_KAFKA_MSG_F_COPY); from_bytes hands back a value
 * the caller avro_value_decref()s (or gives back for reuse). Threads: a converter belongs to one task
 * and is used from that task's thread only.
 */
#ifndef SL_CONVERTER_H
#define SL_CONVERTER_H

#include <avro.h>
#include <jansson.h>
#include <stddef.h>

#include "sluice/envelope.h"

typedef struct sl_converter sl_converter;

/* name: "json" (or Kafka Connect's class name of it). is_key: converts keys.
 * config: the connector config; the converter reads its own keys
 * ("<key|value>.converter.schemas.enable", ...). Returns NULL with err set. */
sl_converter *sl_converter_create(const char *name, int is_key, const json_t *config, char *err,
                                  size_t errlen);
void sl_converter_destroy(sl_converter *conv);

/* value NULL (tombstone, or no key) gives *out NULL, *len 0. *out points
 * into the converter's own buffer, valid until its next to_bytes (produce it
 * with RD_KAFKA_MSG_F_COPY): no allocation per message. Returns 0, or -1
 * or SL_CONV_RETRY with err naming the topic and the reason. */
int sl_converter_to_bytes(sl_converter *conv, const char *topic, avro_schema_t schema,
                          const avro_value_t *value, void **out, size_t *len, char *err,
                          size_t errlen);

/* Failures the same call may get past later (the schema registry unreachable,
 * or answering 5xx / 408 / 429): retried under errors.retry.timeout. */
#define SL_CONV_RETRY (-2)

/* bytes NULL (a tombstone) or a JSON null gives value->iface == NULL. Returns
 * 0 with *value owned by the caller, or -1 / SL_CONV_RETRY with err set (and
 * *value NULL).
 * *value on entry is {NULL} or a value an earlier call handed back, given
 * back for reuse (released, or read into in place when of the same class:
 * the avro backend decodes without allocating then). */
int sl_converter_from_bytes(sl_converter *conv, const char *topic, const void *bytes, size_t len,
                            avro_value_t *value, char *err, size_t errlen);

/* What a peek found: a value's writer schema and its encoding within the
 * message, not decoded. */
typedef struct sl_peeked {
    avro_schema_t schema;
    const sluice_avro_plan *plan; /* avro: schema's compiled plan; json: NULL */
    const void *data;             /* avro: the binary datum; json: the payload's text */
    size_t len;
    int json; /* data is JSON text, on one line, of schema's shape */
} sl_peeked;

/* Without decoding: checks that bytes are a value the converter could read
 * and fills *out (a sink passing values on raw). avro: the datum after the
 * Confluent wire-format prefix, checked by the schema's plan. json: the
 * payload's text as sent, checked as from_bytes's reader would read it
 * (a message the reader does not take, or a text spanning lines, is not
 * peeked). Returns 0 (bytes NULL, a tombstone: out->data NULL), 1 when it
 * cannot tell (decode with from_bytes, which names the error), or -1 /
 * SL_CONV_RETRY with err. The schema and plan stay valid until
 * sl_converter_retire. */
int sl_converter_peek(sl_converter *conv, const char *topic, const void *bytes, size_t len,
                      sl_peeked *out, char *err, size_t errlen);
/* Frees cached schemas evicted since the last call: call it when nothing
 * peeked before is used any more (after a batch was put). */
void sl_converter_retire(sl_converter *conv);
#endif
