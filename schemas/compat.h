/*
 * compat.h - Avro schema resolution and the registry's compatibility levels
 * (private to schemas/).
 *
 * sl_compat_resolve answers the specification's question "can data written
 * with `writer` be read with `reader`?" and lists every reason it cannot.
 * sl_compat_check applies a level (BACKWARD: the new schema reads what the
 * old ones wrote; FORWARD: the old ones read what the new one writes; FULL:
 * both; *_TRANSITIVE: against every earlier version instead of the latest).
 */
#ifndef SL_COMPAT_H
#define SL_COMPAT_H
#include <jansson.h>

#include "avro_schema.h"

typedef enum {
    SL_COMPAT_NONE,
    SL_COMPAT_BACKWARD,
    SL_COMPAT_BACKWARD_TRANSITIVE,
    SL_COMPAT_FORWARD,
    SL_COMPAT_FORWARD_TRANSITIVE,
    SL_COMPAT_FULL,
    SL_COMPAT_FULL_TRANSITIVE,
} sl_compat_level;

/* "BACKWARD" -> SL_COMPAT_BACKWARD; -1 for an unknown name. */
int sl_compat_level_parse(const char *name);
const char *sl_compat_level_name(sl_compat_level level);

/* Append one string "<path in reader>: <reason>" per incompatibility to
 * `messages` (a JSON array; may be NULL to only count). Returns the count:
 * 0 means the reader can read everything the writer writes. */
int sl_compat_resolve(const sl_avro_node *reader, const sl_avro_node *writer, json_t *messages);

/* Check `candidate` against `older` (oldest first; the last is the latest
 * version, whose number is older_versions[i]) under `level`. Appends each
 * problem, saying which version and direction it concerns, to `messages`.
 * Returns the number of problems. */
int sl_compat_check(sl_compat_level level, const sl_avro_schema *candidate,
                    const sl_avro_schema *const *older, const int *older_versions, size_t nolder,
                    json_t *messages);

#endif
