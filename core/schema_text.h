/*
 * schema_text.h - the full JSON text of schemas that avro-c cannot render
 * back faithfully.
 *
 * avro-c 1.11's parser drops attributes it does not model (logicalType,
 * precision and scale, connect.name, connect.version, ...), so
 * avro_schema_to_json() of a parsed schema loses Debezium's semantic types.
 * Whoever builds a schema from text (a source plugin, through
 * sluice_schema_json()) records the text here, keyed by the schema object;
 * the avro converter registers that text. A process-wide map, guarded by a
 * mutex; entries hold a reference to their schema. Lookups happen once per
 * schema per converter (the converter caches ids), never per record.
 */
#ifndef SL_SCHEMA_TEXT_H
#define SL_SCHEMA_TEXT_H

#include <avro.h>

/* Remembers json for schema (replacing an earlier text). */
void sl_schema_text_set(avro_schema_t schema, const char *json);
/* Drops what was recorded for schema (and the reference held on it). */
void sl_schema_text_forget(avro_schema_t schema);
/* A malloc'd copy of the recorded text, or, when none was recorded,
 * avro-c's own rendering; NULL when out of memory. */
char *sl_schema_text_dup(avro_schema_t schema);

#endif
