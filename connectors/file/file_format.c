/*
 * file_format.c - one record as one JSON line (see file.h for the shape),
 * written straight into the task's buffer: no JSON tree per record.
 */
#include <errno.h>
#include <string.h>

#include "file.h"

int fs_format_line(sluice_ctx *ctx, const sluice_record *rec, char **buf, size_t *len,
                   size_t *cap)
{
    size_t start = *len;
    int rc = sluice_json_append_raw("{\"topic\":", 9, buf, len, cap);
    rc = rc ? rc : sluice_json_append_string(rec->topic, buf, len, cap);
    rc = rc ? rc : sluice_json_append_raw(",\"key\":", 7, buf, len, cap);
    rc = rc ? rc : sluice_value_json_append(rec->key, buf, len, cap);
    rc = rc ? rc : sluice_json_append_raw(",\"value\":", 9, buf, len, cap);
    rc = rc ? rc : sluice_record_value_json(ctx, rec, buf, len, cap);
    rc = rc ? rc : sluice_json_append_raw(",\"timestamp\":", 13, buf, len, cap);
    rc = rc ? rc : sluice_json_append_int(rec->timestamp_ms, buf, len, cap);
    rc = rc ? rc : sluice_json_append_raw("}\n", 2, buf, len, cap);
    if (rc) {
        *len = start;
        errno = *cap ? EINVAL : ENOMEM;
        return -1;
    }
    return 0;
}
