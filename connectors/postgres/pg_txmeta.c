/*
 * pg_txmeta.c - transaction metadata events (provide.transaction.metadata),
 * in Debezium's shape, to the topic <topic.prefix>.transaction:
 *
 *   key   io.debezium.connector.common.TransactionMetadataKey { id }
 *   value io.debezium.connector.common.TransactionMetadataValue {
 *           status: "BEGIN" | "END", id: "<xid>:<commit lsn>",
 *           event_count: null | long            (END: changes emitted)
 *           data_collections: null | [ { data_collection: "schema.table",
 *                                        event_count: long } ]   (END)
 *           ts_ms: long                          (commit time) }
 *
 * BEGIN is queued before a transaction's first captured change (a
 * transaction touching no captured table gets no events), END after its
 * last, so END carries the transaction's final position. Both count in the
 * transaction's record numbering, so a resumed task skips them like any
 * other stored record. Every change of the transaction carries, as in
 * Debezium, the envelope's transaction block {id, total_order,
 * data_collection_order} (pg_txmeta_block; null without metadata).
 *
 * Runs on: the task's thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/envelope.h>

#include "pg.h"

typedef struct txm_count {
    const pg_rel *rel;
    int64_t n;
} txm_count;

struct pg_txmeta {
    pg_schemas schemas;
    int begun;
    int64_t events;
    txm_count *counts; /* per table of the transaction, grown as tables come */
    int ncounts, capcounts;
    int64_t last_collection; /* the last change's place among its table's */
    char id[64];             /* the transaction's: "<xid>:<its LSN>", set at BEGIN */
};

static const char *key_json =
    "{\"type\":\"record\",\"name\":\"TransactionMetadataKey\",\"namespace\":"
    "\"io.debezium.connector.common\",\"fields\":[{\"name\":\"id\",\"type\":\"string\"}],"
    "\"connect.name\":\"io.debezium.connector.common.TransactionMetadataKey\"}";
static const char *value_json =
    "{\"type\":\"record\",\"name\":\"TransactionMetadataValue\",\"namespace\":"
    "\"io.debezium.connector.common\",\"fields\":["
    "{\"name\":\"status\",\"type\":\"string\"},{\"name\":\"id\",\"type\":\"string\"},"
    "{\"name\":\"event_count\",\"type\":[\"null\",\"long\"],\"default\":null},"
    "{\"name\":\"data_collections\",\"type\":[\"null\",{\"type\":\"array\",\"items\":"
    "{\"type\":\"record\",\"name\":\"ConnectDefault\",\"namespace\":\"io.confluent.connect.avro\","
    "\"fields\":[{\"name\":\"data_collection\",\"type\":\"string\"},"
    "{\"name\":\"event_count\",\"type\":\"long\"}]}}],\"default\":null},"
    "{\"name\":\"ts_ms\",\"type\":\"long\"}],"
    "\"connect.name\":\"io.debezium.connector.common.TransactionMetadataValue\"}";

int pg_txmeta_create(pg_task *t, char *err, size_t errlen)
{
    pg_txmeta *m = calloc(1, sizeof(*m));
    if (!m)
        return snprintf(err, errlen, "out of memory"), -1;
    t->txmeta = m;
    char topic[300];
    snprintf(topic, sizeof(topic), "%s.%s", t->conf->topic_prefix, t->conf->tx_topic);
    return pg_schemas_init(t, &m->schemas, "transaction metadata", topic, key_json, value_json, err,
                           errlen);
}

void pg_txmeta_reset(pg_task *t)
{
    if (t->txmeta)
        t->txmeta->begun = 0;
}

void pg_txmeta_destroy(pg_task *t)
{
    pg_txmeta *m = t->txmeta;
    if (!m)
        return;
    pg_schemas_free(&m->schemas);
    free(m->counts);
    free(m);
    t->txmeta = NULL;
}

static int fill_collections(pg_txmeta *m, avro_value_t *v)
{
    avro_value_t f, arr, item, x;
    char name[600];
    int rc = avro_value_get_by_name(v, "data_collections", &f, NULL);
    rc = rc ? rc : avro_value_set_branch(&f, 1, &arr);
    for (int i = 0; !rc && i < m->ncounts; i++) {
        snprintf(name, sizeof(name), "%s.%s", m->counts[i].rel->nspname, m->counts[i].rel->relname);
        rc = avro_value_append(&arr, &item, NULL);
        rc = rc ? rc : avro_value_get_by_index(&item, 0, &x, NULL);
        rc = rc ? rc : avro_value_set_string(&x, name);
        rc = rc ? rc : avro_value_get_by_index(&item, 1, &x, NULL);
        rc = rc ? rc : avro_value_set_long(&x, m->counts[i].n);
    }
    return rc;
}

/* Queues a BEGIN (end = 0) or END event of the current transaction. */
static int queue_event(pg_task *t, int end, char *err, size_t errlen)
{
    pg_txmeta *m = t->txmeta;
    const char *id = m->id;
    pg_out *o = pg_task_queue_new(t, &m->schemas, t->commit_ts_ms, err, errlen);
    if (!o)
        return -1;
    int rc = sluice_field_set_string(&o->key, "id", id);
    rc = rc ? rc : sluice_field_set_string(&o->value, "status", end ? "END" : "BEGIN");
    rc = rc ? rc : sluice_field_set_string(&o->value, "id", id);
    rc = rc ? rc : sluice_field_set_long(&o->value, "ts_ms", t->commit_ts_ms);
    rc = rc ? rc
            : end ? sluice_field_set_long(&o->value, "event_count", m->events)
                  : sluice_field_set_null(&o->value, "event_count");
    rc = rc ? rc : end ? fill_collections(m, &o->value)
                       : sluice_field_set_null(&o->value, "data_collections");
    if (rc) {
        pg_task_queue_pop_last(t);
        return snprintf(err, errlen, "transaction %s event: %s", id, avro_strerror()), -1;
    }
    return pg_task_queue_position(t, o);
}

int pg_txmeta_change(pg_task *t, const pg_rel *rel, char *err, size_t errlen)
{
    pg_txmeta *m = t->txmeta;
    if (!m || t->phase != PG_PHASE_STREAM)
        return 0;
    if (!m->begun) {
        m->begun = 1;
        m->events = 0;
        m->ncounts = 0;
        snprintf(m->id, sizeof(m->id), "%u:%llu", t->xid, (unsigned long long)t->tx_lsn);
        if (queue_event(t, 0, err, errlen) != 0)
            return -1;
    }
    m->events++;
    for (int i = 0; i < m->ncounts; i++)
        if (m->counts[i].rel == rel || (!strcmp(m->counts[i].rel->nspname, rel->nspname) &&
                                         !strcmp(m->counts[i].rel->relname, rel->relname))) {
            m->last_collection = ++m->counts[i].n;
            return 0;
        }
    if (m->ncounts == m->capcounts) { /* every table counts: END lists them all */
        int cap = m->capcounts ? m->capcounts * 2 : 16;
        txm_count *c = realloc(m->counts, (size_t)cap * sizeof(*c));
        if (!c)
            return snprintf(err, errlen, "out of memory"), -1;
        m->counts = c;
        m->capcounts = cap;
    }
    m->counts[m->ncounts++] = (txm_count){rel, 1};
    m->last_collection = 1;
    return 0;
}

int pg_txmeta_block(pg_task *t, const char **id, int64_t *total, int64_t *collection)
{
    pg_txmeta *m = t->txmeta;
    if (!m || !m->begun || t->phase != PG_PHASE_STREAM)
        return 0;
    *id = m->id;
    *total = m->events;
    *collection = m->last_collection;
    return 1;
}

int pg_txmeta_end(pg_task *t, char *err, size_t errlen)
{
    pg_txmeta *m = t->txmeta;
    if (!m || !m->begun)
        return 0;
    m->begun = 0;
    return queue_event(t, 1, err, errlen);
}
