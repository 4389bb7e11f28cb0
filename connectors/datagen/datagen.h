/*
 * datagen.h - the datagen source's private interface, shared by its files:
 *
 *   datagen.c       the plugin descriptor and the task callbacks
 *   datagen_conf.c  the option table and conf_create / conf_destroy
 *   datagen_gen.c   what record number `seq` looks like (a pure function)
 *
 * Datagen pretends to be a database with one table whose shape comes from
 * `schema.fields`, and emits its changes in the Debezium envelope. Record
 * number seq (1, 2, 3, ...) is a pure function of the config and seq, so a
 * task resumed after stored position {"seq": N} continues with N + 1 and
 * produces exactly what an uninterrupted run would have.
 */
#ifndef DATAGEN_H
#define DATAGEN_H

#include <sluice/envelope.h>
#include <sluice/plugin.h>

typedef struct dg_conf {
    /* filled from the option table (offsets) */
    const char *topic;
    const char *fields;
    const char *key_fields;
    const char *ops;
    double rate;
    int64_t max_records;
    int64_t batch_size;
    int64_t seed;
    int tombstones;
    /* derived */
    sluice_column *cols;
    size_t ncols;
    int mixed;
} dg_conf;

extern const sluice_option dg_options[];

/* Returns NULL with the error already reported through sluice_error. */
dg_conf *dg_conf_create(sluice_ctx *ctx);
void dg_conf_destroy(dg_conf *conf);

/* Where each column sits in the row record (<ns>.Value) and, for a key
 * column, in the key record. Resolved once per task (dg_layout_resolve),
 * so that no record looks a field up by name. */
typedef struct dg_layout {
    sluice_field_pos *row; /* ncols entries */
    sluice_field_pos *key; /* ncols entries; meaningful for key columns only */
} dg_layout;

/* 0, or -1 when a column is missing from the schemas (err filled). Free
 * with dg_layout_free (which works on a zeroed or half-filled layout). */
int dg_layout_resolve(const dg_conf *conf, avro_schema_t row, avro_schema_t key, dg_layout *lay,
                      char *err, size_t errlen);
void dg_layout_free(dg_layout *lay);

/* What record `seq` is: its op ('c', 'u', 'd') and the row id it touches. */
char dg_gen_op(const dg_conf *conf, int64_t seq, int64_t *id);
/* Fills row record `row` with the values of row `id` at version `version`. */
int dg_gen_row(const dg_conf *conf, const dg_layout *lay, avro_value_t *row, int64_t id,
               int64_t version, int64_t now_ms);
/* Fills the key record for row `id`. */
int dg_gen_key(const dg_conf *conf, const dg_layout *lay, avro_value_t *key, int64_t id);

#endif
