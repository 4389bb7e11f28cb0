/*
 * converter_avro.h - the `avro` converter backend (private to converter.c):
 * Confluent's AvroConverter wire format through a schema registry.
 */
#ifndef SL_CONVERTER_AVRO_H
#define SL_CONVERTER_AVRO_H

#include <avro.h>
#include <jansson.h>
#include <stddef.h>

#include "sluice/envelope.h"

typedef struct sl_avro_conv sl_avro_conv;

/* Reads <key|value>.converter.schema.registry.url (required),
 * .basic.auth.user.info and .auto.register.schemas from config. */
sl_avro_conv *sl_avro_conv_create(int is_key, const json_t *config, char *err, size_t errlen);
void sl_avro_conv_destroy(sl_avro_conv *a);
/* Encodes into *buf (grown as needed, *cap its size; the caller keeps it
 * for the next call); *out and *len the message within it. */
int sl_avro_conv_to_bytes(sl_avro_conv *a, const char *topic, avro_schema_t schema,
                          const avro_value_t *value, char **buf, size_t *cap, void **out,
                          size_t *len, char *err, size_t errlen);
int sl_avro_conv_from_bytes(sl_avro_conv *a, const char *topic, const void *bytes, size_t len,
                            avro_value_t *value, char *err, size_t errlen);

/* What sl_converter_peek does for the avro backend. */
int sl_avro_conv_peek(sl_avro_conv *a, const char *topic, const void *bytes, size_t len,
                      avro_schema_t *schema, const sluice_avro_plan **plan, const void **payload,
                      size_t *plen, char *err, size_t errlen);
void sl_avro_conv_retire(sl_avro_conv *a);
#endif
