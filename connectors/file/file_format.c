/*
 * file_format.c - one record as one JSON line (see file.h for the shape).
 */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>

#include "file.h"

int fs_format_write(FILE *f, const sluice_record *rec)
{
    json_t *key = rec->key ? sluice_value_to_json(rec->key) : json_null();
    json_t *value = rec->value ? sluice_value_to_json(rec->value) : json_null();
    json_t *line = key && value
                       ? json_pack("{s:s, s:O, s:O, s:I}", "topic", rec->topic, "key", key, "value",
                                   value, "timestamp", (json_int_t)rec->timestamp_ms)
                       : NULL;
    int rc = -1;
    json_decref(key);
    json_decref(value);
    if (!line) {
        errno = EINVAL;
        return -1;
    }
    if (json_dumpf(line, f, JSON_COMPACT) == 0 && fputc('\n', f) != EOF)
        rc = 0;
    json_decref(line);
    return rc;
}
