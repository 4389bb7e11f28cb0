/*
 * file.h - the file sink's private interface, shared by its files:
 *
 *   file.c         the plugin descriptor and the task callbacks
 *   file_conf.c    the option table and conf_create / conf_destroy
 *   file_format.c  one record -> one JSON line
 *
 * Each record becomes one line
 *   {"topic": "...", "key": <key>, "value": <value or null>, "timestamp": ms}
 * where key and value are in the Debezium JSON form (sluice_value_json_append).
 * A value that came as JSON (the json converter, no transform) is written as
 * its producer sent it: the same JSON, with the producer's spacing and key
 * order, once the converter has read one message of its class (a value
 * spanning lines is decoded and written on one line).
 * flush = fflush + fdatasync: OK means every line put so far is on disk.
 */
#ifndef FILE_SINK_H
#define FILE_SINK_H

#include <sluice/envelope.h>
#include <sluice/plugin.h>
#include <stdio.h>

typedef struct fs_conf {
    const char *file;
    int append; /* 0: truncate the file on open */
} fs_conf;

extern const sluice_option fs_options[];

fs_conf *fs_conf_create(sluice_ctx *ctx);
void fs_conf_destroy(fs_conf *conf);

/* Appends rec as one line (with its '\n') to *buf (see
 * sluice_value_json_append; a value that came raw is rendered from its Avro
 * bytes, or copied when it came as JSON). Returns 0, or -1 with errno set (EINVAL: the record has no JSON
 * form, such as a NaN double; ENOMEM). */
int fs_format_line(sluice_ctx *ctx, const sluice_record *rec, char **buf, size_t *len,
                   size_t *cap);

#endif
