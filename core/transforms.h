/*
 * transforms.h - Kafka Connect single message transforms (SMTs) for the
 * worker: a chain built once per task from the connector's flat config and
 * applied to every record on the task's thread.
 *
 * Configuration is Kafka Connect's, key for key:
 *
 *   "transforms": "unwrap,route",
 *   "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
 *   "transforms.unwrap.delete.handling.mode": "rewrite",
 *   "transforms.route.type": "org.apache.kafka.connect.transforms.RegexRouter",
 *   "transforms.route.regex": "([^.]+)\\.([^.]+)\\.([^.]+)",
 *   "transforms.route.replacement": "$3",
 *   "transforms.route.predicate": "isOrders",  "transforms.route.negate": "false",
 *   "predicates": "isOrders",
 *   "predicates.isOrders.type": "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
 *   "predicates.isOrders.pattern": ".*orders"
 *
 * Types (full Java class name, or the part after the last '.'):
 *   ReplaceField$Value|$Key   exclude, include, renames (also blacklist, whitelist)
 *   MaskField$Value|$Key      fields, replacement
 *   InsertField$Value|$Key    topic.field, partition.field, offset.field,
 *                             timestamp.field, static.field, static.value
 *   ValueToKey                fields
 *   ExtractField$Value|$Key   field
 *   RegexRouter               regex, replacement
 *   TimestampRouter           topic.format, timestamp.format
 *   Filter                    (drops what its predicate matches; everything without one)
 *   io.debezium.transforms.ExtractNewRecordState
 *                             drop.tombstones, delete.handling.mode,
 *                             delete.tombstone.handling.mode, add.fields,
 *                             add.fields.prefix, add.headers, add.headers.prefix,
 *                             route.by.field
 * Predicates: TopicNameMatches (pattern), RecordIsTombstone, HasHeaderKey (name).
 * Unknown options are errors (a typo must not silently do nothing).
 *
 * Threads: a chain belongs to one task and is used from that task's thread
 * only; different chains share nothing.
 */
#ifndef SLUICE_TRANSFORMS_H
#define SLUICE_TRANSFORMS_H

#include <avro.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include <regex.h>

#include "sluice/plugin.h"

/* A record a transform chain may change. */
typedef struct sl_xrec {
    /* may be re-pointed to storage owned by the chain, valid until the next
     * apply or destroy */
    const char *topic;
    int32_t partition;          /* -1 unknown */
    int64_t offset;             /* -1 unknown */
    avro_value_t key;           /* owned by the record; key.iface == NULL: no key */
    avro_value_t value;         /* owned; value.iface == NULL: tombstone */
    avro_schema_t value_schema; /* schema of value, kept for tombstones (may be NULL);
                                   borrowed: a transform that replaces the value points
                                   it at a schema the chain owns, valid at least until
                                   the next apply (normally until destroy) */
    int64_t timestamp_ms;       /* 0: not stamped yet (the chain uses the current time) */
    /* read-only for predicates (HasHeaderKey); ExtractNewRecordState's
     * add.headers re-points it to an array the chain owns, valid until the
     * next apply or destroy */
    const sluice_header *headers;
    size_t n_headers;
} sl_xrec;

typedef struct sl_transforms sl_transforms;

/* Builds the chain from config's transforms/predicates keys. *out = NULL (and
 * 0) when config names none. -1 with err naming the transform and key on a
 * bad config (unknown type, missing or unknown option, bad regex). */
int sl_transforms_create(const json_t *config, sl_transforms **out, char *err, size_t errlen);
void sl_transforms_destroy(sl_transforms *t);

/* Applies the chain in order. Returns 1 keep (r changed in place: replaced
 * key/value are decref'd and the new ones are owned by r), 0 dropped (r's
 * key/value released, iface NULL), -1 error with err naming the transform and
 * why (r unchanged, still owned by the caller). */
int sl_transforms_apply(sl_transforms *t, sl_xrec *r, char *err, size_t errlen);

/* Number of transforms in the chain (0 for NULL). */
size_t sl_transforms_count(const sl_transforms *t);

/* Pipeline file "transforms" array -> flat keys set on config:
 *   [{"name": "unwrap", "type": "io.debezium.transforms.ExtractNewRecordState",
 *     "delete.handling.mode": "rewrite",
 *     "predicate": "p" | {"type": "TopicNameMatches", "pattern": "...", "negate": true}}]
 * "name" is optional (default "t<index>", from 0); an inline predicate object
 * becomes predicates.<transform name>.*. Names are appended to an existing
 * "transforms" / "predicates" list. Non-string scalars become their JSON text
 * ("true", "5"). -1 with err on a malformed array (config may then hold
 * some of the keys). */
int sl_transforms_from_pipeline(const json_t *array, json_t *config, char *err, size_t errlen);

/* Kafka Connect's regular expressions are Java's; POSIX ERE is what libc
 * (and librdkafka's subscriptions) read. sl_regex_posix: the pattern with
 * Java's escapes (\d, \w, \s in brackets...) in POSIX terms (malloc'ed,
 * NULL when out of memory). sl_regex_compile: that, compiled (REG_EXTENDED),
 * or -1 with err naming the pattern. sl_regex_full: 1 when the whole of s
 * matches (Java's matches()), with groups in m[0..nm). */
char *sl_regex_posix(const char *pattern);
int sl_regex_compile(regex_t *re, const char *pattern, char *err, size_t errlen);
int sl_regex_full(const regex_t *re, const char *s, regmatch_t *m, size_t nm);

#endif
