/*
 * datagen_conf.c - datagen's options, declared once (name, type, default,
 * required, secret, valid values, offset into dg_conf, doc), and the
 * conf_create / conf_destroy pair that fills and checks a dg_conf.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "datagen.h"

static const char *const ops_valid[] = {"insert", "mixed", NULL};

#define OFF(f) offsetof(dg_conf, f)
const sluice_option dg_options[] = {
    {"topic", SLUICE_OPT_STRING, "datagen.public.rows", 0, 0, NULL, OFF(topic),
     "Topic every record goes to (<prefix>.<schema>.<table>)."},
    {"schema.fields", SLUICE_OPT_STRING, "id:long,name:string,amount:double,created:timestamp", 0,
     0, NULL, OFF(fields),
     "The table's columns as name:type[?], comma separated; types boolean int long float double "
     "string bytes timestamp; '?' makes a column nullable."},
    {"key.fields", SLUICE_OPT_LIST, NULL, 0, 0, NULL, SLUICE_NO_OFFSET,
     "Primary-key columns; default: the first column."},
    {"rate", SLUICE_OPT_DOUBLE, "0", 0, 0, NULL, OFF(rate),
     "Records per second; 0 = as fast as the worker takes them."},
    {"max.records", SLUICE_OPT_INT, "0", 0, 0, NULL, OFF(max_records),
     "Stop after record number N (counted across restarts); 0 = never stop."},
    {"ops", SLUICE_OPT_STRING, "insert", 0, 0, ops_valid, OFF(ops),
     "insert: only creates; mixed: about 60% creates, 30% updates, 10% deletes."},
    {"tombstones.on.delete", SLUICE_OPT_BOOL, "true", 0, 0, NULL, OFF(tombstones),
     "Follow each delete by a tombstone (same key, null value)."},
    {"batch.size", SLUICE_OPT_INT, "500", 0, 0, NULL, OFF(batch_size),
     "At most this many records per poll."},
    {"seed", SLUICE_OPT_INT, "42", 0, 0, NULL, OFF(seed),
     "Seed of the generated values and of the op mix."},
    {NULL},
};
#undef OFF

static int check_key(sluice_ctx *ctx, dg_conf *conf)
{
    size_t keys = 0;
    for (size_t i = 0; i < conf->ncols; i++) {
        keys += conf->cols[i].key != 0;
        if (conf->cols[i].key && conf->cols[i].optional) {
            sluice_error(ctx, 0, "key.fields: key column %s may not be nullable",
                         conf->cols[i].name);
            return -1;
        }
    }
    if (keys == 0) {
        sluice_error(ctx, 0, "key.fields: \"%s\" names no column of schema.fields",
                     conf->key_fields);
        return -1;
    }
    return 0;
}

dg_conf *dg_conf_create(sluice_ctx *ctx)
{
    char err[256];
    dg_conf *conf = calloc(1, sizeof(*conf));
    if (!conf) {
        sluice_error(ctx, 1, "out of memory");
        return NULL;
    }
    sluice_config_map(ctx, conf);
    conf->key_fields = sluice_config_string(ctx, "key.fields"); /* the list's text */
    if (sluice_columns_parse(conf->fields, conf->key_fields, &conf->cols, &conf->ncols, err,
                             sizeof(err)) != 0) {
        sluice_error(ctx, 0, "schema.fields: %s", err);
        goto fail;
    }
    if (check_key(ctx, conf) != 0)
        goto fail;
    if (conf->rate < 0 || conf->max_records < 0 || conf->batch_size < 1) {
        sluice_error(ctx, 0, "rate and max.records must be >= 0, batch.size >= 1");
        goto fail;
    }
    conf->mixed = strcmp(conf->ops, "mixed") == 0;
    return conf;
fail:
    dg_conf_destroy(conf);
    return NULL;
}

void dg_conf_destroy(dg_conf *conf)
{
    if (!conf)
        return;
    sluice_columns_free(conf->cols, conf->ncols);
    free(conf);
}
