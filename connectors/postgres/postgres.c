/*
 * postgres.c - the postgres source: descriptor, task callbacks, the
 * outbound queue and the streaming state machine.
 *
 * Stop (close): with slot.drop.on.stop the slot is dropped, but only at a
 * clean stop (nothing failed, every emitted record acknowledged).
 *
 * Start-up (open): a regular connection checks what a user gets wrong
 * first (credentials, database, wal_level, the REPLICATION attribute) and
 * says so; the publication is checked or created (publication.autocreate.
 * mode); the slot is checked; then either an initial snapshot starts (slot
 * created with an exported snapshot, pg_snapshot.c; a temporary slot for
 * snapshot.mode=initial_only, gone with the snapshot) or streaming resumes
 * from the stored position.
 *
 * Positions (the JSON text each record carries; the host stores the last
 * acknowledged one and passes it to commit()):
 *
 *   {"lsn":L,"snapshot":true}           a snapshot row; L = the slot's
 *                                       consistent point. Stored and then
 *                                       restarted: the snapshot is redone.
 *   {"lsn":L,"txId":X,"lsn_proc":C,"n":K}  the K-th record of transaction X,
 *                                       C its change's LSN; L = the end of the
 *                                       last transaction before X, where a
 *                                       restart streams from, skipping X's
 *                                       first K records (already stored).
 *   {"lsn":L,"txId":X}                  the last record of transaction X (or
 *                                       of the snapshot, or a heartbeat):
 *                                       everything before L is durable.
 *
 * While an incremental snapshot is in progress each form also carries
 * "incr": {"tables": [...], "key": [...]} (pg_incr.c), where a restart
 * or a reconnect resumes it.
 *
 * The last record of a transaction is held in the queue until its Commit
 * arrives, so it carries the final form. commit() advances the flushed LSN
 * reported to PostgreSQL to L, never further; when every emitted record is
 * acknowledged and no transaction is open, the LSN of the last keepalive is
 * reported instead (nothing before it is owed to us), so an idle slot does
 * not hold WAL back.
 *
 * Runs on: the task's thread, one callback at a time (plugin.h).
 */
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sluice/envelope.h>

#include "pg.h"

#define POLL_LINGER_MS 5 /* as the worker's producer (linger.ms) */

/* ======================================================================== */
/* The outbound queue                                                        */
/* ======================================================================== */

/* Zeroes a queue slot but for the text of pos (its last field, 512 bytes,
 * always written before it is read): two memsets per record otherwise. */
_Static_assert(offsetof(pg_out, pos) + PG_POS_MAX == sizeof(pg_out), "pos is pg_out's last field");
static void out_clear(pg_out *o)
{
    memset(o, 0, offsetof(pg_out, pos));
    o->pos[0] = '\0';
}

static void out_release(pg_out *o)
{
    if (o->has_key)
        avro_value_decref(&o->key);
    if (o->has_value)
        avro_value_decref(&o->value);
    if (o->key_schema)
        avro_schema_decref(o->key_schema);
    if (o->value_schema)
        avro_schema_decref(o->value_schema);
    out_clear(o);
}

static pg_out *queue_push(pg_queue *q)
{
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 16;
        pg_out *items = calloc(cap, sizeof(*items));
        if (!items)
            return NULL;
        for (size_t i = 0; i < q->n; i++)
            items[i] = q->items[(q->head + i) % q->cap];
        free(q->items);
        q->items = items;
        q->head = 0;
        q->cap = cap;
    }
    pg_out *o = &q->items[(q->head + q->n++) % q->cap];
    out_clear(o);
    return o;
}

pg_out *pg_task_queue_push(pg_task *t)
{
    return queue_push(&t->q);
}

void pg_task_queue_pop_last(pg_task *t)
{
    pg_out *o = pg_queue_last(t);
    if (o) {
        out_release(o);
        t->q.n--;
    }
}

int pg_schemas_init(pg_task *t, pg_schemas *s, const char *what, const char *topic,
                    const char *key_json, const char *value_json, char *err, size_t errlen)
{
    snprintf(s->topic, sizeof(s->topic), "%s", topic);
    if (avro_schema_from_json_length(key_json, strlen(key_json), &s->key) ||
        avro_schema_from_json_length(value_json, strlen(value_json), &s->value) ||
        !(s->key_iface = avro_generic_class_from_schema(s->key)) ||
        !(s->value_iface = avro_generic_class_from_schema(s->value)))
        return snprintf(err, errlen, "%s schemas: %s", what, avro_strerror()), -1;
    sluice_schema_json(t->ctx, s->key, key_json);
    sluice_schema_json(t->ctx, s->value, value_json);
    return 0;
}

void pg_schemas_free(pg_schemas *s)
{
    if (s->key_iface)
        avro_value_iface_decref(s->key_iface);
    if (s->value_iface)
        avro_value_iface_decref(s->value_iface);
    if (s->key)
        avro_schema_decref(s->key);
    if (s->value)
        avro_schema_decref(s->value);
    memset(s, 0, sizeof(*s));
}

pg_out *pg_task_queue_new(pg_task *t, const pg_schemas *s, int64_t ts_ms, char *err, size_t errlen)
{
    pg_out *o = queue_push(&t->q);
    if (!o)
        return snprintf(err, errlen, "out of memory"), NULL;
    o->topic = s->topic;
    o->ts_ms = ts_ms;
    o->key_schema = avro_schema_incref(s->key);
    o->value_schema = avro_schema_incref(s->value);
    o->has_key = avro_generic_value_new(s->key_iface, &o->key) == 0;
    o->has_value = o->has_key && avro_generic_value_new(s->value_iface, &o->value) == 0;
    if (!o->has_value) {
        snprintf(err, errlen, "%s record: %s", s->topic, avro_strerror());
        pg_task_queue_pop_last(t);
        return NULL;
    }
    return o;
}

pg_out *pg_queue_last(pg_task *t)
{
    pg_queue *q = &t->q;
    return q->n ? &q->items[(q->head + q->n - 1) % q->cap] : NULL;
}

static void queue_clear(pg_queue *q)
{
    for (size_t i = 0; i < q->n; i++)
        out_release(&q->items[(q->head + i) % q->cap]);
    free(q->items);
    memset(q, 0, sizeof(*q));
}

/* What this poll may still hand over: the batch's room, within
 * max.batch.size. */
static size_t poll_room(const pg_task *t, const sluice_batch *batch)
{
    size_t room = sluice_batch_room(t->ctx, batch);
    int64_t left = t->conf->max_batch - t->emitted;
    return left <= 0 ? 0 : (uint64_t)left < room ? (size_t)left : room;
}

/* Emits queued records, keeping the newest when `hold` (its position is not
 * final yet). Returns 1 when the batch filled up, else 0. */
static int queue_drain(pg_task *t, sluice_batch *batch, int hold)
{
    pg_queue *q = &t->q;
    while (q->n > (size_t)(hold ? 1 : 0)) {
        if (t->emitted >= t->conf->max_batch)
            return 1;
        pg_out *o = &q->items[q->head];
        sluice_record rec = {.topic = o->topic,
                             .key_schema = o->key_schema,
                             .key = o->has_key ? &o->key : NULL,
                             .value_schema = o->value_schema,
                             .value = o->has_value ? &o->value : NULL,
                             .timestamp_ms = o->ts_ms,
                             .position = o->pos};
        if (sluice_emit(t->ctx, batch, &rec) != 0)
            return 1;
        t->emitted++;
        if (o->key_pool && o->has_key)
            sluice_pool_lent(o->key_pool, &o->key);
        if (o->value_pool && o->has_value)
            sluice_pool_lent(o->value_pool, &o->value);
        o->has_key = o->has_value = 0; /* the host owns them now */
        memcpy(t->last_pos, o->pos, strlen(o->pos) + 1);
        t->all_acked = 0;
        out_release(o);
        q->head = (q->head + 1) % q->cap;
        q->n--;
    }
    return 0;
}

/* ======================================================================== */
/* Records                                                                   */
/* ======================================================================== */

static char *put_lit(char *p, const char *s)
{
    while (*s)
        *p++ = *s++;
    return p;
}

/* The position of the next record queued, per the rules above, with the
 * incremental snapshot's state (t->incr_pos) while one is in progress
 * (buf: PG_POS_MAX bytes; the longest form without that state takes 100).
 * Returns 0, or 1 when the record is already stored (resume) and must be
 * dropped. */
_Static_assert(PG_POS_MAX >= 112 + PG_INCR_POS_MAX, "pg_out.pos holds the longest position");
_Static_assert(sizeof(((pg_task *)0)->pos_head) >= 7 + 20 + 8 + 10 + 12, "pos_head holds its text");

size_t pg_task_snapshot_position(const pg_task *t, char *buf)
{
    char *p = sluice_put_u64(put_lit(buf, "{\"lsn\":"), t->start_lsn, 0);
    p = put_lit(put_lit(put_lit(p, ",\"snapshot\":true"), t->incr_pos), "}");
    *p = '\0';
    return (size_t)(p - buf);
}

static int task_position(pg_task *t, char *buf, size_t len)
{
    char *p = buf;
    (void)len;
    if (t->phase == PG_PHASE_SNAPSHOT) {
        pg_task_snapshot_position(t, buf);
        return 0;
    }
    t->tx_n++;
    if (!t->pos_head_len || t->pos_head_lsn != t->safe_lsn || t->pos_head_xid != t->xid) {
        char *h = sluice_put_u64(put_lit(t->pos_head, "{\"lsn\":"), t->safe_lsn, 0);
        h = put_lit(sluice_put_u64(put_lit(h, ",\"txId\":"), t->xid, 0), ",\"lsn_proc\":");
        t->pos_head_len = (size_t)(h - t->pos_head);
        t->pos_head_lsn = t->safe_lsn;
        t->pos_head_xid = t->xid;
    }
    memcpy(p, t->pos_head, t->pos_head_len); /* only what moves is formatted per record */
    p = sluice_put_u64(p + t->pos_head_len, t->change_lsn, 0);
    p = sluice_put_u64(put_lit(p, ",\"n\":"), (uint64_t)t->tx_n, 0);
    *put_lit(put_lit(p, t->incr_pos), "}") = '\0';
    return t->skip_xid && t->xid == t->skip_xid && t->tx_n <= t->skip_n;
}

void pg_task_between_position(pg_task *t, pg_out *o, uint64_t lsn)
{
    snprintf(o->pos, sizeof(o->pos), "{\"lsn\":%llu,\"txId\":0%s}", (unsigned long long)lsn,
             t->incr_pos);
}

int pg_task_queue_position(pg_task *t, pg_out *o)
{
    if (task_position(t, o->pos, sizeof(o->pos)) == 1)
        pg_task_queue_pop_last(t);
    return 0;
}

/* ---- filling the envelope ----------------------------------------------------
 *
 * The hot path of every record: the envelope is filled by position
 * (rel->lay, resolved once per schema, sluice_envelope_fill), and the source
 * strings, which live as long as the task (options, the relation's names,
 * literals; retired relations are kept), are lent to avro-c, not copied.
 * Records never outlive the task (the host converts a batch before the next
 * poll or close). */

static int fill_envelope(pg_task *t, pg_rel *rel, avro_value_t *v, char op, const pg_datum *before,
                         int nb, const pg_datum *after, int na, const pg_src *src, char *err,
                         size_t errlen)
{
    const sluice_envelope_layout *lay = &rel->lay;
    sluice_source_info si = {.version = PG_VERSION_STR,
                             .connector = "postgresql",
                             .name = t->conf->topic_prefix,
                             .ts_ms = src->ts_ms,
                             .snapshot = src->snapshot ? src->snapshot : "false",
                             .db = t->conf->dbname,
                             .schema = rel->nspname,
                             .table = rel->relname,
                             .tx_id = src->tx_id,
                             .lsn = src->lsn ? (int64_t)src->lsn : SLUICE_NULL_POS,
                             .pos = SLUICE_NULL_POS,
                             .seq = SLUICE_NULL_POS};
    avro_value_t row, blk, x;
    const char *txid;
    int64_t total, collection;
    int rc = sluice_envelope_fill(lay, v, op, t->now_ms, &si, SLUICE_LEND);
    if (rc == 0 && op != 'r' && pg_txmeta_block(t, &txid, &total, &collection)) {
        rc = sluice_field_at(v, &rel->tx_pos, &blk);
        rc = rc ? rc : avro_value_get_by_index(&blk, 0, &x, NULL);
        rc = rc ? rc : avro_value_set_string(&x, txid);
        rc = rc ? rc : avro_value_get_by_index(&blk, 1, &x, NULL);
        rc = rc ? rc : avro_value_set_long(&x, total);
        rc = rc ? rc : avro_value_get_by_index(&blk, 2, &x, NULL);
        rc = rc ? rc : avro_value_set_long(&x, collection);
    } else if (rc == 0) {
        rc = sluice_field_null_at(v, &rel->tx_pos);
    }
    rc = rc ? rc : sluice_envelope_row_at(lay, v, SLUICE_ENV_BEFORE, before ? &row : NULL);
    if (rc) {
        snprintf(err, errlen, "table %s.%s: envelope: %s", rel->nspname, rel->relname,
                 avro_strerror());
        return -1;
    }
    if (before && pg_rel_fill_row(&t->rels, rel, &row, before, nb, err, errlen) != 0)
        return -1;
    if (sluice_envelope_row_at(lay, v, SLUICE_ENV_AFTER, after ? &row : NULL) != 0) {
        snprintf(err, errlen, "table %s.%s: envelope: %s", rel->nspname, rel->relname,
                 avro_strerror());
        return -1;
    }
    if (after && pg_rel_fill_row(&t->rels, rel, &row, after, na, err, errlen) != 0)
        return -1;
    return 0;
}

/* Queues one record; key from `keyd` (NULL: no key), value envelope unless
 * tombstone. */
static int queue_record(pg_task *t, pg_rel *rel, char op, const pg_datum *keyd, int nk,
                        const pg_datum *before, int nb, const pg_datum *after, int na,
                        const pg_src *src, int tombstone, char *err, size_t errlen)
{
    pg_out *o = queue_push(&t->q);
    if (!o)
        return snprintf(err, errlen, "out of memory"), -1;
    if (src->pos) { /* formatted once for many records: a snapshot step's */
        memcpy(o->pos, src->pos, src->pos_len + 1);
    } else if (task_position(t, o->pos, sizeof(o->pos)) == 1) {
        t->q.n--; /* already stored (resume): nothing queued */
        return 0;
    }
    o->topic = rel->topic;
    o->ts_ms = src->ts_ms;
    o->value_schema = avro_schema_incref(rel->value_schema);
    if (rel->key_schema && keyd) {
        o->key_schema = avro_schema_incref(rel->key_schema);
        if (sluice_pool_get(&rel->key_pool, &o->key) != 0)
            goto avro_fail;
        o->key_pool = &rel->key_pool;
        o->has_key = 1;
        if (pg_rel_fill_key(&t->rels, rel, &o->key, keyd, nk, err, errlen) != 0)
            goto fail;
    }
    if (tombstone)
        return 0;
    if (sluice_pool_get(&rel->value_pool, &o->value) != 0)
        goto avro_fail;
    o->value_pool = &rel->value_pool;
    o->has_value = 1;
    if (fill_envelope(t, rel, &o->value, op, before, nb, after, na, src, err, errlen) != 0)
        goto fail;
    return 0;
avro_fail:
    snprintf(err, errlen, "table %s.%s: new value: %s", rel->nspname, rel->relname,
             avro_strerror());
fail:
    out_release(o);
    t->q.n--;
    return -1;
}

int pg_task_queue_change(pg_task *t, pg_rel *rel, char op, const pg_datum *before, int nb,
                         const pg_datum *after, int na, const pg_src *src, char *err,
                         size_t errlen)
{
    const pg_datum *keyd = op == 'd' ? before : after;
    int nk = op == 'd' ? nb : na;
    /* skipped.operations: nothing queued, so no position is taken (tx_n
     * counts queued records only; a resume skips the same ones again) and
     * the transaction's commit still moves the stored LSN past it */
    if (pg_conf_op_skipped(t->conf, op))
        return 0;
    if (op == 't')
        keyd = NULL;
    if (pg_txmeta_change(t, rel, err, errlen) != 0)
        return -1;
    if (queue_record(t, rel, op, keyd, nk, before, nb, after, na, src, 0, err, errlen) != 0)
        return -1;
    if (op == 'd' && t->conf->tombstones && rel->key_schema)
        return queue_record(t, rel, op, keyd, nk, NULL, 0, NULL, 0, src, 1, err, errlen);
    return 0;
}

/* ======================================================================== */
/* Heartbeats                                                                */
/* ======================================================================== */

static int heartbeat_schemas(pg_task *t, char *err, size_t errlen)
{
    static const char *key_json =
        "{\"type\":\"record\",\"name\":\"ServerNameKey\",\"namespace\":"
        "\"io.debezium.connector.common\",\"fields\":[{\"name\":\"serverName\",\"type\":"
        "\"string\"}],\"connect.name\":\"io.debezium.connector.common.ServerNameKey\"}";
    static const char *value_json =
        "{\"type\":\"record\",\"name\":\"Heartbeat\",\"namespace\":"
        "\"io.debezium.connector.common\",\"fields\":[{\"name\":\"ts_ms\",\"type\":\"long\"}],"
        "\"connect.name\":\"io.debezium.connector.common.Heartbeat\"}";
    char topic[300];
    snprintf(topic, sizeof(topic), "%s.%s", t->conf->heartbeat_prefix, t->conf->topic_prefix);
    return pg_schemas_init(t, &t->heartbeat, "heartbeat", topic, key_json, value_json, err, errlen);
}

static int sql_command(pg_task *t, const char *sql, char *err, size_t errlen);

/* Runs heartbeat.action.query on the SQL connection (one lost is renewed
 * at the next poll, pg_poll); a failure is logged, the heartbeat goes on. */
static void heartbeat_query(pg_task *t)
{
    char err[1024];
    if (t->conf->heartbeat_query && *t->conf->heartbeat_query &&
        sql_command(t, t->conf->heartbeat_query, err, sizeof(err)) != 0)
        sluice_log(t->ctx, SLUICE_LOG_WARN, "heartbeat.action.query failed: %s", err);
}

/* Queues a heartbeat when one is due and nothing is in progress. */
static int heartbeat_maybe(pg_task *t, char *err, size_t errlen)
{
    if (t->conf->heartbeat_ms <= 0 || t->in_tx || t->in_stream || t->q.n ||
        pg_stream_replay_active(t))
        return 0; /* before reading the clock: this runs for every message */
    int64_t now = pg_mono_ms();
    if (now - t->last_hb_ms < t->conf->heartbeat_ms)
        return 0;
    t->last_hb_ms = now;
    heartbeat_query(t);
    pg_out *o = pg_task_queue_new(t, &t->heartbeat, pg_now_ms(), err, errlen);
    if (!o)
        return -1;
    pg_task_between_position(t, o, t->safe_lsn > t->repl.wal_end ? t->safe_lsn : t->repl.wal_end);
    if (sluice_field_set_string(&o->key, "serverName", t->conf->topic_prefix) ||
        sluice_field_set_long(&o->value, "ts_ms", o->ts_ms)) {
        pg_task_queue_pop_last(t);
        return snprintf(err, errlen, "heartbeat record: %s", avro_strerror()), -1;
    }
    return 0;
}

/* ======================================================================== */
/* Streaming: one pgoutput message                                           */
/* ======================================================================== */

static pg_rel *change_rel(pg_task *t, uint32_t relid, char *err, size_t errlen)
{
    pg_rel *rel = pg_rel_find(&t->rels, relid);
    if (!rel)
        snprintf(err, errlen, "pgoutput: change of relation %u before its Relation message",
                 relid);
    return rel;
}

static int on_relation(pg_task *t, const pg_msg *m, char *err, size_t errlen)
{
    pg_coldesc cols[m->natts ? m->natts : 1];
    for (int i = 0; i < m->natts; i++)
        cols[i] = (pg_coldesc){m->atts[i].name, m->atts[i].typoid, m->atts[i].typmod,
                               m->atts[i].flags & 1};
    pg_rel *old = pg_rel_find(&t->rels, m->relid);
    int64_t version = old ? old->version : 0;
    pg_rel *rel = pg_rel_define(&t->rels, m->relid, m->nspname, m->relname, m->replident, cols,
                                m->natts, err, errlen);
    if (!rel)
        return -1;
    if (rel->version != version && version && rel->included)
        sluice_log(t->ctx, SLUICE_LOG_INFO,
                   "table %s.%s changed (%d columns now): new schema version for %s",
                   rel->nspname, rel->relname, rel->ncols, rel->topic);
    return 0;
}

/* Whether an update moved the row to another key. full: the old tuple is
 * the whole row (REPLICA IDENTITY FULL), so a null in it is a null; in a
 * key-only one ('K') a column outside the replica identity is null because
 * it was not sent, which says nothing of a message.key.columns key column. */
static int key_changed(const pg_rel *rel, const pg_tuple *old, const pg_tuple *new_, int full)
{
    for (int i = 0; i < rel->ncols && i < old->n && i < new_->n; i++) {
        const pg_datum *a = &old->cols[i], *b = &new_->cols[i];
        if (!rel->cols[i].key || a->kind == 'u' || b->kind == 'u')
            continue;
        if (a->kind != b->kind) {
            if (full)
                return 1;
            continue;
        }
        if (a->kind == 't' && (a->len != b->len || memcmp(a->data, b->data, a->len) != 0))
            return 1;
    }
    return 0;
}

static int on_change(pg_task *t, const pg_msg *m, char *err, size_t errlen)
{
    pg_rel *rel = change_rel(t, m->relid, err, errlen);
    if (!rel)
        return -1;
    if (pg_conf_is_signal(t->conf, rel->nspname, rel->relname))
        return m->type == 'I' ? pg_incr_signal(t, rel, m->newt.cols, m->newt.n, err, errlen) : 0;
    if (!rel->included)
        return 0;
    pg_src src = {t->commit_ts_ms, NULL, t->xid, t->change_lsn};
    const pg_datum *old = m->old_kind ? m->oldt.cols : NULL;
    int nold = m->old_kind ? m->oldt.n : 0;
    if (t->incr) { /* a streamed change supersedes the chunk's row of that key */
        pg_incr_streamed(t, rel, old, nold);
        if (m->type != 'D')
            pg_incr_streamed(t, rel, m->newt.cols, m->newt.n);
    }
    t->changes++;
    switch (m->type) {
    case 'I':
        return pg_task_queue_change(t, rel, 'c', NULL, 0, m->newt.cols, m->newt.n, &src, err,
                                    errlen);
    case 'U':
        /* a primary-key change is, as in Debezium, a delete (and tombstone)
         * of the old key and a create of the new one */
        if (old && rel->key_schema && key_changed(rel, &m->oldt, &m->newt, m->old_kind == 'O'))
            return pg_task_queue_change(t, rel, 'd', old, nold, NULL, 0, &src, err, errlen) ||
                           pg_task_queue_change(t, rel, 'c', NULL, 0, m->newt.cols, m->newt.n,
                                                &src, err, errlen)
                       ? -1
                       : 0;
        return pg_task_queue_change(t, rel, 'u', old, nold, m->newt.cols, m->newt.n, &src, err,
                                    errlen);
    default:
        return pg_task_queue_change(t, rel, 'd', old, nold, NULL, 0, &src, err, errlen);
    }
}

static int on_truncate(pg_task *t, const pg_msg *m, char *err, size_t errlen)
{
    pg_src src = {t->commit_ts_ms, NULL, t->xid, t->change_lsn};
    for (int i = 0; i < m->nrels; i++) {
        pg_rel *rel = change_rel(t, m->relids[i], err, errlen);
        if (!rel)
            return -1;
        if (rel->included &&
            pg_task_queue_change(t, rel, 't', NULL, 0, NULL, 0, &src, err, errlen) != 0)
            return -1;
    }
    return 0;
}

static void on_begin(pg_task *t, uint32_t xid, int64_t ts_us)
{
    t->in_tx = 1;
    t->xid = xid;
    t->tx_n = 0;
    t->commit_ts_ms = ts_us / 1000 + 946684800000LL;
}

/* The transaction's last queued record gets the final position. */
int pg_task_commit_tx(pg_task *t, uint64_t end_lsn, char *err, size_t errlen)
{
    if (pg_txmeta_end(t, err, errlen) != 0)
        return -1;
    pg_out *last = pg_queue_last(t);
    if (last && t->tx_n > 0 && strstr(last->pos, "\"n\":"))
        snprintf(last->pos, sizeof(last->pos), "{\"lsn\":%llu,\"txId\":%u%s}",
                 (unsigned long long)end_lsn, t->xid, t->incr_pos);
    t->safe_lsn = end_lsn;
    t->in_tx = 0;
    if (t->skip_xid == t->xid)
        t->skip_xid = 0;
    return 0;
}

/* ---- logical decoding messages ----------------------------------------------
 * pg_logical_emit_message(transactional, prefix, content) on PostgreSQL >= 14
 * becomes a record of <topic.prefix>.message, as Debezium writes it: key
 * MessageKey {prefix}, value MessageValue {op "m", ts_ms, source, message
 * {prefix, content (bytes)}}. A transactional message belongs to its
 * transaction (its position, its order, emitted only if it commits); one
 * that is not arrives on its own, between transactions, with the position
 * of the last one (so a restart may emit it again: at least once). */

static int message_schemas(pg_task *t, char *err, size_t errlen)
{
    static const char *key_json =
        "{\"type\":\"record\",\"name\":\"MessageKey\",\"namespace\":"
        "\"io.debezium.connector.postgresql\",\"fields\":[{\"name\":\"prefix\",\"type\":"
        "[\"null\",\"string\"],\"default\":null}],\"connect.name\":"
        "\"io.debezium.connector.postgresql.MessageKey\"}";
    json_t *value = json_pack(
        "{s:s, s:s, s:s, s:[{s:s, s:s}, {s:s, s:[s, s], s:n}, {s:s, s:o}, {s:s, s:{s:s, s:s, "
        "s:[{s:s, s:[s, s], s:n}, {s:s, s:[s, s], s:n}], s:s}}], s:s}",
        "type", "record", "name", "MessageValue", "namespace", "io.debezium.connector.postgresql",
        "fields", "name", "op", "type", "string", "name", "ts_ms", "type", "null", "long",
        "default", "name", "source", "type", sluice_envelope_source_schema(), "name", "message",
        "type", "type", "record", "name", "Message", "fields", "name", "prefix", "type", "null",
        "string", "default", "name", "content", "type", "null", "bytes", "default", "connect.name",
        "io.debezium.connector.postgresql.Message", "connect.name",
        "io.debezium.connector.postgresql.MessageValue");
    char *value_json = value ? json_dumps(value, JSON_COMPACT) : NULL, topic[300];
    json_decref(value);
    snprintf(topic, sizeof(topic), "%s.message", t->conf->topic_prefix);
    int rc = value_json ? pg_schemas_init(t, &t->message, "message", topic, key_json, value_json,
                                          err, errlen)
                        : (snprintf(err, errlen, "message schemas: out of memory"), -1);
    free(value_json);
    if (rc != 0) /* built again at the next message */
        pg_schemas_free(&t->message);
    return rc;
}

static int on_logical_message(pg_task *t, const pg_msg *m, char *err, size_t errlen)
{
    const char *prefix = m->nspname;
    int transactional = m->flags & 1;
    if (!pg_conf_message_included(t->conf, prefix))
        return 0;
    if (!t->message.value_iface && message_schemas(t, err, errlen) != 0)
        return -1;
    pg_out *o = pg_task_queue_new(t, &t->message, transactional ? t->commit_ts_ms : pg_now_ms(),
                                  err, errlen);
    if (!o)
        return -1;
    sluice_source_info si = {.version = PG_VERSION_STR,
                             .connector = "postgresql",
                             .name = t->conf->topic_prefix,
                             .ts_ms = o->ts_ms,
                             .snapshot = "false",
                             .db = t->conf->dbname,
                             .schema = "",
                             .table = "",
                             .tx_id = transactional ? (int64_t)t->xid : SLUICE_NULL_POS,
                             .lsn = (int64_t)m->lsn,
                             .pos = SLUICE_NULL_POS,
                             .seq = SLUICE_NULL_POS};
    avro_value_t src, msg;
    int rc = sluice_field_set_string(&o->key, "prefix", prefix);
    rc = rc ? rc : sluice_field_set_string(&o->value, "op", "m");
    rc = rc ? rc : sluice_field_set_long(&o->value, "ts_ms", pg_now_ms());
    rc = rc ? rc : avro_value_get_by_name(&o->value, "source", &src, NULL);
    rc = rc ? rc : sluice_source_set(&src, &si);
    rc = rc ? rc : avro_value_get_by_name(&o->value, "message", &msg, NULL);
    rc = rc ? rc : sluice_field_set_string(&msg, "prefix", prefix);
    rc = rc ? rc : sluice_field_set_bytes(&msg, "content", m->relname, (size_t)m->natts);
    if (rc != 0) {
        pg_task_queue_pop_last(t);
        return snprintf(err, errlen, "message record (prefix %s): %s", prefix, avro_strerror()), -1;
    }
    if (transactional) /* its transaction's numbering; resumed: skipped */
        return pg_task_queue_position(t, o);
    pg_task_between_position(t, o, t->safe_lsn);
    return 0;
}

static int spooled_type(char type)
{
    return strchr("RYIUDTM", type) != NULL;
}

static int on_message(pg_task *t, const uint8_t *data, size_t len, char *err, size_t errlen)
{
    pg_msg m;
    if (pg_decode(t->dec, data, len, t->in_stream || t->replaying, &m, err, errlen) != 0)
        return -1;
    if (t->in_stream && !t->replaying && spooled_type(m.type))
        return pg_stream_spool(t, m.xid, data, len, err, errlen);
    switch (m.type) {
    case 'B': on_begin(t, m.xid, m.ts_us); t->tx_lsn = m.lsn; return 0;
    case 'C': return pg_task_commit_tx(t, m.end_lsn, err, errlen);
    case 'R': return on_relation(t, &m, err, errlen);
    case 'I': case 'U': case 'D': return on_change(t, &m, err, errlen);
    case 'T': return on_truncate(t, &m, err, errlen);
    case 'S': case 'E': case 'c': case 'A': return pg_stream_message(t, &m, err, errlen);
    case 'M':
        return on_logical_message(t, &m, err, errlen);
    default:
        return 0; /* Origin, Type (types come from the catalog) */
    }
}

int pg_task_on_message(pg_task *t, const uint8_t *data, size_t len, uint64_t lsn, char *err,
                       size_t errlen)
{
    t->change_lsn = lsn;
    return on_message(t, data, len, err, errlen);
}

/* ======================================================================== */
/* Start-up                                                                  */
/* ======================================================================== */

static const char *first_line(const char *s, char *buf, size_t len)
{
    snprintf(buf, len, "%s", s);
    buf[strcspn(buf, "\n")] = '\0';
    return buf;
}

/* One-row, one-column query on t->sql; NULL result text means no row. */
static int sql_value(pg_task *t, const char *sql, const char *param, char *out, size_t outlen,
                     char *err, size_t errlen)
{
    char e[512];
    const char *params[1] = {param};
    PGresult *res = PQexecParams(t->sql, sql, param ? 1 : 0, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        snprintf(err, errlen, "%s: %s", sql, first_line(PQresultErrorMessage(res), e, sizeof(e)));
        PQclear(res);
        return -1;
    }
    int found = PQntuples(res) > 0;
    snprintf(out, outlen, "%s", found ? PQgetvalue(res, 0, 0) : "");
    PQclear(res);
    return found;
}

/* Runs sql on the SQL connection: 0, or -1 with err "sql: why" (the
 * result's error, or the connection's when there is no result). A comment
 * alone (an empty query) is no error. */
static int sql_command(pg_task *t, const char *sql, char *err, size_t errlen)
{
    char e[512];
    PGresult *res = PQexec(t->sql, sql);
    ExecStatusType st = PQresultStatus(res);
    int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY;
    if (!ok)
        snprintf(err, errlen, "%s: %s", sql,
                 first_line(res && *PQresultErrorMessage(res) ? PQresultErrorMessage(res)
                                                              : PQerrorMessage(t->sql),
                            e, sizeof(e)));
    PQclear(res);
    return ok ? 0 : -1;
}

/* database.initial.statements, in order: ';' ends a statement, ';;' is a
 * ';' inside one. 0, or -1 with err naming the statement that failed. */
static int sql_initial(pg_task *t, char *err, size_t errlen)
{
    const char *p = t->conf->initial_statements;
    if (!p || !*p)
        return 0;
    char *stmt = malloc(strlen(p) + 1);
    if (!stmt)
        return snprintf(err, errlen, "out of memory"), -1;
    int rc = 0;
    while (rc == 0 && *p) {
        size_t n = 0;
        for (; *p && !(*p == ';' && p[1] != ';'); p++) {
            stmt[n++] = *p;
            p += *p == ';'; /* ";;": one ';' kept */
        }
        p += *p == ';';
        stmt[n] = '\0';
        if (strspn(stmt, " \t\r\n") < n && sql_command(t, stmt, err, errlen) != 0) {
            static const char what[] = "database.initial.statements: ";
            size_t k = strlen(err), w = sizeof(what) - 1;
            if (k + w < errlen) { /* the option's name before "statement: why" */
                memmove(err + w, err, k + 1);
                memcpy(err, what, w);
            }
            rc = -1;
        }
    }
    free(stmt);
    return rc;
}

/* The SQL connection anew, with its initial statements: after the server
 * ended it, or to leave a COPY. A lost server shows in PQstatus (the next
 * query says so); a failed initial statement is -1 with err, and the next
 * poll tries again (t->sql_uninit), so the session never goes on without
 * the state its statements give it. */
static int sql_reset(pg_task *t, char *err, size_t errlen)
{
    PQreset(t->sql);
    t->sql_uninit = PQstatus(t->sql) == CONNECTION_OK && sql_initial(t, err, errlen) != 0;
    return t->sql_uninit ? -1 : 0;
}

static int connect_sql(pg_task *t, char *err, size_t errlen)
{
    const char *keys[16], *vals[16];
    char port[16], e[512], v[64];
    pg_conf_conninfo(t->conf, 0, keys, vals, port);
    t->sql = PQconnectdbParams(keys, vals, 0);
    if (!t->sql || PQstatus(t->sql) != CONNECTION_OK) {
        snprintf(err, errlen, "connecting to %s:%lld database %s as %s: %s", t->conf->host,
                 (long long)t->conf->port, t->conf->dbname, t->conf->user,
                 first_line(t->sql ? PQerrorMessage(t->sql) : "out of memory", e, sizeof(e)));
        return -1;
    }
    if (sql_value(t, "SHOW wal_level", NULL, v, sizeof(v), err, errlen) < 0)
        return -1;
    if (strcmp(v, "logical") != 0) {
        snprintf(err, errlen,
                 "%s:%lld: wal_level is '%s'; logical decoding needs wal_level=logical "
                 "(ALTER SYSTEM SET wal_level = logical, then restart PostgreSQL)",
                 t->conf->host, (long long)t->conf->port, v);
        return -1;
    }
    if (sql_value(t,
                  "SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user",
                  NULL, v, sizeof(v), err, errlen) < 0)
        return -1;
    if (strcmp(v, "t") != 0) {
        snprintf(err, errlen,
                 "user %s lacks the REPLICATION attribute (ALTER ROLE %s REPLICATION)",
                 t->conf->user, t->conf->user);
        return -1;
    }
    return sql_initial(t, err, errlen);
}

/* "CREATE PUBLICATION p FOR TABLE a, b" from the tables the filters admit. */
static int publication_filtered(pg_task *t, char *sql, size_t len, char *err, size_t errlen)
{
    char e[512];
    PGresult *res = PQexec(t->sql, "SELECT schemaname, tablename FROM pg_tables WHERE schemaname "
                                   "NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        snprintf(err, errlen, "listing tables: %s",
                 first_line(PQresultErrorMessage(res), e, sizeof(e)));
        PQclear(res);
        return -1;
    }
    size_t off = strlen(sql);
    int n = 0;
    for (int i = 0; i < PQntuples(res) && off + 1 < len; i++) {
        const char *s = PQgetvalue(res, i, 0), *tb = PQgetvalue(res, i, 1);
        if (!pg_conf_table_included(t->conf, s, tb))
            continue;
        char *qs = PQescapeIdentifier(t->sql, s, strlen(s));
        char *qt = PQescapeIdentifier(t->sql, tb, strlen(tb));
        off += (size_t)snprintf(sql + off, len - off, "%s%s.%s", n++ ? ", " : " FOR TABLE ", qs,
                                qt);
        PQfreemem(qs);
        PQfreemem(qt);
    }
    PQclear(res);
    if (n == 0 || off + 1 >= len) {
        snprintf(err, errlen, n ? "publication %s: too many tables for one statement"
                                : "publication %s: no table matches table.include.list",
                 t->conf->publication);
        return -1;
    }
    return 0;
}

static int ensure_publication(pg_task *t, char *err, size_t errlen)
{
    char v[16];
    int found = sql_value(t, "SELECT 1 FROM pg_publication WHERE pubname = $1",
                          t->conf->publication, v, sizeof(v), err, errlen);
    if (found != 0)
        return found < 0 ? -1 : 0;
    if (strcmp(t->conf->autocreate, "disabled") == 0) {
        snprintf(err, errlen,
                 "publication %s does not exist in database %s and publication.autocreate.mode "
                 "is disabled (CREATE PUBLICATION %s FOR ALL TABLES, or enable autocreate)",
                 t->conf->publication, t->conf->dbname, t->conf->publication);
        return -1;
    }
    char *ident = PQescapeIdentifier(t->sql, t->conf->publication, strlen(t->conf->publication));
    size_t len = 65536;
    char *sql = malloc(len);
    if (!sql) {
        PQfreemem(ident);
        return snprintf(err, errlen, "out of memory"), -1;
    }
    snprintf(sql, len, "CREATE PUBLICATION %s", ident ? ident : "");
    PQfreemem(ident);
    int rc = strcmp(t->conf->autocreate, "filtered") == 0
                 ? publication_filtered(t, sql, len, err, errlen)
                 : (strcat(sql, " FOR ALL TABLES"), 0);
    rc = rc ? rc : sql_command(t, sql, err, errlen);
    free(sql);
    if (rc != 0)
        return -1;
    sluice_log(t->ctx, SLUICE_LOG_INFO, "created publication %s (%s)", t->conf->publication,
               t->conf->autocreate);
    return 0;
}

typedef struct stored_pos {
    int present, snapshot;
    uint64_t lsn;
    uint32_t xid;
    int64_t n;
} stored_pos;

static int position_parse(const char *text, stored_pos *p, char *err, size_t errlen)
{
    memset(p, 0, sizeof(*p));
    if (!text)
        return 0;
    json_t *j = json_loads(text, 0, NULL);
    json_t *lsn = json_object_get(j, "lsn");
    if (!json_is_integer(lsn)) {
        json_decref(j);
        snprintf(err, errlen, "stored position %s is not a postgres position ({\"lsn\": N, ...})",
                 text);
        return -1;
    }
    p->present = 1;
    p->lsn = (uint64_t)json_integer_value(lsn);
    p->snapshot = json_is_true(json_object_get(j, "snapshot"));
    p->xid = (uint32_t)json_integer_value(json_object_get(j, "txId"));
    p->n = json_integer_value(json_object_get(j, "n"));
    json_decref(j);
    return 0;
}

/* 1 when the slot exists (checking it is ours to use), 0 when not, -1. */
static int slot_check_once(pg_task *t, char *err, size_t errlen)
{
    char e[512];
    const char *params[1] = {t->conf->slot};
    PGresult *res = PQexecParams(t->sql,
                                 "SELECT plugin, database, active_pid FROM pg_replication_slots "
                                 "WHERE slot_name = $1",
                                 1, NULL, params, NULL, NULL, 0);
    int rc = -1;
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        snprintf(err, errlen, "checking slot %s: %s", t->conf->slot,
                 first_line(PQresultErrorMessage(res), e, sizeof(e)));
    else if (PQntuples(res) == 0)
        rc = 0;
    else if (strcmp(PQgetvalue(res, 0, 0), "pgoutput") || strcmp(PQgetvalue(res, 0, 1), t->conf->dbname))
        snprintf(err, errlen, "slot %s exists for plugin %s in database %s, not pgoutput in %s",
                 t->conf->slot, PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), t->conf->dbname);
    else if (!PQgetisnull(res, 0, 2))
        snprintf(err, errlen, "slot %s is in use by server process %s (another connector?)",
                 t->conf->slot, PQgetvalue(res, 0, 2));
    else
        rc = 1;
    PQclear(res);
    return rc;
}

/* A slot still held by the walsender of a task that just died (kill -9,
 * a lost connection) is released within seconds: wait up to 15 s. */
static int slot_check(pg_task *t, char *err, size_t errlen)
{
    int rc = slot_check_once(t, err, errlen);
    for (int i = 0; i < 30 && rc < 0 && strstr(err, "is in use by server process"); i++) {
        struct timespec ts = {0, 500 * 1000000L};
        nanosleep(&ts, NULL);
        err[0] = '\0';
        rc = slot_check_once(t, err, errlen);
    }
    return rc;
}

static int slot_drop(pg_task *t, char *err, size_t errlen)
{
    char v[8];
    int rc = sql_value(t, "SELECT 1 FROM pg_drop_replication_slot($1)", t->conf->slot, v,
                       sizeof(v), err, errlen);
    return rc < 0 ? -1 : 0;
}

/* An initial_only task whose snapshot is done uses no slot; one of its name
 * left there (by a version of sluice that kept it, or another connector)
 * holds WAL back until dropped: said, not dropped, as it may not be ours. */
static void slot_warn_unused(pg_task *t)
{
    char e[512];
    if (slot_check_once(t, e, sizeof(e)) == 1)
        sluice_log(t->ctx, SLUICE_LOG_WARN,
                   "replication slot %s exists, unused: snapshot.mode=initial_only took its "
                   "snapshot and streams nothing; the slot holds WAL back until it is dropped "
                   "(SELECT pg_drop_replication_slot('%s'))",
                   t->conf->slot, t->conf->slot);
}

static int need_snapshot(pg_task *t, const stored_pos *p, int slot_exists, char *err,
                         size_t errlen)
{
    switch (t->conf->snapshot_mode) {
    case PG_SNAP_ALWAYS:
        return 1;
    case PG_SNAP_NO_DATA:
        return 0;
    case PG_SNAP_WHEN_NEEDED:
        return !p->present || p->snapshot || !slot_exists;
    case PG_SNAP_INITIAL_ONLY:
    case PG_SNAP_INITIAL:
        if (p->present && !p->snapshot && !slot_exists) {
            snprintf(err, errlen,
                     "replication slot %s is missing, so the changes after the stored position "
                     "(LSN %llu) cannot be streamed; set snapshot.mode=when_needed to take a new "
                     "snapshot, or delete the stored offsets",
                     t->conf->slot, (unsigned long long)p->lsn);
            return -1;
        }
        return !p->present || p->snapshot;
    }
    return 0;
}

static int start_streaming(pg_task *t, char *err, size_t errlen)
{
    char at[32];
    int proto2 = t->conf->streaming && t->repl.server_version >= 140000;
    if (pg_repl_start(&t->repl, t->conf->slot, t->start_lsn, t->conf->publication,
                      proto2 ? 2 : 1, proto2, err, errlen) != 0)
        return -1;
    t->safe_lsn = t->start_lsn;
    t->phase = PG_PHASE_STREAM;
    pg_lsn_format(t->start_lsn, at, sizeof(at));
    sluice_log(t->ctx, SLUICE_LOG_INFO,
               "streaming slot %s publication %s from %s (pgoutput protocol %d%s)", t->conf->slot,
               t->conf->publication, at, proto2 ? 2 : 1, proto2 ? ", streaming on" : "");
    return 0;
}

static int open_start(pg_task *t, const stored_pos *p, char *err, size_t errlen)
{
    /* initial_only, its snapshot stored whole: done, whatever became of the
     * (temporary) slot */
    if (t->conf->snapshot_mode == PG_SNAP_INITIAL_ONLY && p->present && !p->snapshot) {
        slot_warn_unused(t);
        t->phase = PG_PHASE_DONE;
        return 0;
    }
    int exists = slot_check(t, err, errlen);
    if (exists < 0)
        return -1;
    int snap = need_snapshot(t, p, exists, err, errlen);
    if (snap < 0)
        return -1;
    if (!snap) {
        if (!exists &&
            pg_repl_create_slot(&t->repl, t->conf->slot, 0, 0, &t->start_lsn, NULL, 0, err, errlen))
            return -1;
        if (exists || p->present)
            t->start_lsn = p->lsn;
        t->skip_xid = p->n > 0 ? p->xid : 0;
        t->skip_n = p->n;
        return start_streaming(t, err, errlen);
    }
    if (exists && slot_drop(t, err, errlen) != 0)
        return -1;
    char snapname[128], at[32];
    /* initial_only: TEMPORARY, which the server drops when the replication
     * connection that made it ends: closed after the snapshot's COMMIT
     * (poll_snapshot), or lost with a task that died half-way, whose
     * restart takes the snapshot again. So no slot outlives the snapshot to
     * hold WAL back, as a permanent one would for ever (an initial_only
     * task never streams from it). The connection, idle until then, keeps
     * the exported snapshot importable for the whole snapshot. */
    int temporary = t->conf->snapshot_mode == PG_SNAP_INITIAL_ONLY;
    if (pg_repl_create_slot(&t->repl, t->conf->slot, 1, temporary, &t->start_lsn, snapname,
                            sizeof(snapname), err, errlen) != 0)
        return -1;
    pg_lsn_format(t->start_lsn, at, sizeof(at));
    sluice_log(t->ctx, SLUICE_LOG_INFO, "%sslot %s created at %s, exported snapshot %s%s",
               temporary ? "temporary " : "", t->conf->slot, at, snapname,
               exists ? " (the old slot was dropped)" : "");
    t->phase = PG_PHASE_SNAPSHOT;
    return pg_snap_begin(t, snapname, t->start_lsn, err, errlen);
}

/* ======================================================================== */
/* Callbacks                                                                 */
/* ======================================================================== */

/* slot.drop.on.stop, at a clean stop: the walsender must be gone first
 * (an active slot cannot be dropped), and it exits a moment after its
 * connection closes, so the drop is retried for up to 5 s. A failure is
 * logged, not fatal: the task is stopping anyway. */
static void slot_drop_on_stop(pg_task *t, sluice_ctx *ctx)
{
    char err[512] = "";
    pg_repl_close(&t->repl);
    for (int i = 0; i < 50; i++) {
        /* stopped in a snapshot, the connection is in its COPY; or lost */
        if (PQstatus(t->sql) != CONNECTION_OK || PQtransactionStatus(t->sql) != PQTRANS_IDLE)
            sql_reset(t, err, sizeof(err));
        err[0] = '\0';
        int exists = slot_check_once(t, err, sizeof(err));
        if (exists == 0 || (exists == 1 && slot_drop(t, err, sizeof(err)) == 0)) {
            if (exists)
                sluice_log(ctx, SLUICE_LOG_INFO, "slot %s dropped (slot.drop.on.stop)",
                           t->conf->slot);
            return;
        }
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
    sluice_log(ctx, SLUICE_LOG_WARN, "slot.drop.on.stop: slot %s not dropped: %s", t->conf->slot,
               err);
}

static void pg_close(void *state, sluice_ctx *ctx)
{
    pg_task *t = state;
    if (!t)
        return;
    /* a clean stop: no callback failed, and the host drained, every record
     * emitted is acknowledged (a failure on the host's side, a broker
     * refusing records, leaves some unacknowledged: the slot stays) */
    if (t->conf && t->conf->slot_drop && t->sql) {
        if (!t->failed && t->all_acked)
            slot_drop_on_stop(t, ctx);
        else
            sluice_log(ctx, SLUICE_LOG_WARN, "slot.drop.on.stop: slot %s kept: the task %s",
                       t->conf->slot, t->failed ? "failed" : "stopped with records unacknowledged");
    }
    queue_clear(&t->q);
    pg_snap_free(t);
    pg_stream_free(t);
    pg_txmeta_destroy(t);
    pg_incr_destroy(t);
    pg_repl_close(&t->repl);
    pg_relcache_clear(&t->rels);
    if (t->sql)
        PQfinish(t->sql);
    pg_decoder_destroy(t->dec);
    pg_schemas_free(&t->heartbeat);
    pg_schemas_free(&t->message);
    pg_conf_destroy(t->conf);
    free(t->open_pos);
    free(t);
}

static int pg_open(sluice_ctx *ctx, void **state)
{
    char err[1024] = "";
    stored_pos p;
    pg_task *t = calloc(1, sizeof(*t));
    if (!t)
        return sluice_error(ctx, 1, "out of memory");
    t->ctx = ctx;
    if (!(t->conf = pg_conf_create(ctx))) {
        t->failed = 1;
        pg_close(t, ctx);
        return SLUICE_ERROR;
    }
    t->rels = (pg_relcache){.conf = t->conf, .ctx = ctx};
    if (!(t->dec = pg_decoder_create()) || heartbeat_schemas(t, err, sizeof(err)) != 0 ||
        position_parse(sluice_position(ctx), &p, err, sizeof(err)) != 0 ||
        connect_sql(t, err, sizeof(err)) != 0)
        goto fail;
    t->rels.catalog = t->sql;
    if (t->conf->tx_metadata && pg_txmeta_create(t, err, sizeof(err)) != 0)
        goto fail;
    if (sluice_position(ctx) && !(t->open_pos = strdup(sluice_position(ctx))))
        goto fail;
    if (ensure_publication(t, err, sizeof(err)) != 0 ||
        pg_repl_connect(&t->repl, t->conf, err, sizeof(err)) != 0 ||
        open_start(t, &p, err, sizeof(err)) != 0 ||
        (t->phase != PG_PHASE_DONE && pg_incr_restore(t, t->open_pos, err, sizeof(err)) != 0))
        goto fail;
    t->last_hb_ms = pg_mono_ms();
    t->last_report_ms = pg_mono_ms();
    t->all_acked = 1; /* nothing emitted yet */
    *state = t;
    return SLUICE_OK;
fail:
    sluice_error(ctx, 0, "%s", err[0] ? err : "out of memory");
    t->failed = 1;
    pg_close(t, ctx);
    return SLUICE_ERROR;
}

/* The flushed LSN we may report: committed, or the server's position when
 * nothing is owed (all acknowledged, no transaction open, queue empty). */
static uint64_t flush_lsn(pg_task *t)
{
    uint64_t f = t->committed;
    if (t->all_acked && !t->in_tx && !t->in_stream && !t->q.n && t->repl.wal_end > f)
        f = t->repl.wal_end;
    return f > t->repl.flushed ? f : t->repl.flushed;
}

/* What the server answered on the replication connection that no retry
 * can get past, with what to do (err is rewritten); 0 for the rest (a lost
 * connection, a restarting server: reconnect). pgoutput reads the
 * publication as of the WAL it decodes, so one dropped (or recreated after
 * that point) stops decoding for good at the first change after the drop;
 * an invalidated slot has lost the WAL it needed. */
static int stream_error_final(pg_task *t, char *err, size_t errlen)
{
    char why[768];
    const char *todo = NULL;
    if (strstr(err, "publication \"") && strstr(err, "does not exist"))
        todo = "the publication was dropped while the connector streamed; pgoutput cannot decode "
               "past that point. Drop the replication slot, recreate the publication, and "
               "restart the task with snapshot.mode=when_needed (a new slot and snapshot)";
    else if (strstr(err, "has been invalidated") || strstr(err, "requested WAL segment") ||
             strstr(err, "cannot read from logical replication slot") ||
             strstr(err, "can no longer get changes from replication slot") ||
             strstr(err, "can no longer access replication slot"))
        todo = "the slot lost WAL it needed (max_slot_wal_keep_size?); changes since are gone "
               "from the server. Restart the task with snapshot.mode=when_needed after dropping "
               "the slot (a new slot and snapshot)";
    else if (strstr(err, "replication slot \"") && strstr(err, "does not exist"))
        todo = "the replication slot was dropped; restart the task with "
               "snapshot.mode=when_needed (a new slot and snapshot)";
    if (!todo)
        return 0;
    snprintf(why, sizeof(why), "%s", err);
    snprintf(err, errlen, "slot %s, publication %s: %s: %s", t->conf->slot, t->conf->publication,
             why, todo);
    return 1;
}

/* Fills the batch from the stream. While the batch is empty, waits for the
 * stream up to poll.interval.ms; once it holds a record, keeps reading what
 * arrives for at most POLL_LINGER_MS more, then hands the batch over. So a
 * change reaches the broker within a few ms of its decoding (commit-to-broker
 * latency), and a busy stream still makes batches of hundreds of records
 * (returning at the first empty read made batches of a few records, and
 * the host's ring of in-flight batches then throttled throughput). */
static int poll_stream(pg_task *t, sluice_batch *batch, char *err, size_t errlen)
{
    int64_t deadline = pg_mono_ms() + t->conf->poll_interval_ms, linger_end = 0;
    size_t room0 = poll_room(t, batch);
    while (poll_room(t, batch) > 0) {
        if (queue_drain(t, batch, t->in_tx) != 0 || t->q.n > 1)
            break;
        if (heartbeat_maybe(t, err, errlen) != 0)
            return -1;
        if (t->q.n && !t->in_tx)
            continue;
        if (t->incr && !pg_stream_replay_active(t) && pg_incr_step(t, err, errlen) != 0)
            return PQstatus(t->sql) == CONNECTION_OK ? -1 : -2;
        if (pg_stream_replay_active(t)) {
            if (pg_stream_replay_step(t, poll_room(t, batch), err, errlen) < 0)
                return -1;
            continue;
        }
        const uint8_t *data;
        size_t len;
        int rc = pg_repl_read(&t->repl, 0, &data, &len, &t->change_lsn, err, errlen);
        if (rc == 0) { /* nothing buffered: wait, within the linger or the deadline */
            int64_t now = pg_mono_ms();
            if (!linger_end && poll_room(t, batch) < room0)
                linger_end = now + POLL_LINGER_MS;
            int64_t end = linger_end && linger_end < deadline ? linger_end : deadline;
            if (now >= end)
                break;
            rc = pg_repl_read(&t->repl, (int)(end - now), &data, &len, &t->change_lsn, err, errlen);
            t->now_ms = pg_now_ms();
            if (rc == 0)
                continue;
        }
        if (rc < 0)
            return stream_error_final(t, err, errlen) ? -1 : -2;
        if (on_message(t, data, len, err, errlen) != 0)
            return -1;
    }
    return pg_repl_status(&t->repl, flush_lsn(t), 0, t->conf->status_interval_ms, err, errlen)
               ? -2
               : 0;
}

/* After a lost connection (server restart, failover, network): both
 * connections anew, streaming from the last record handed to the host
 * (skipping what of its transaction was emitted), so nothing is lost and
 * nothing repeats; records still queued are read again. */
static int stream_reconnect(pg_task *t, char *err, size_t errlen)
{
    stored_pos p;
    queue_clear(&t->q);
    pg_stream_free(t);
    pg_txmeta_reset(t);
    t->in_tx = t->in_stream = t->replaying = 0;
    /* an incremental snapshot goes on from the chunk of the last record
     * handed over (its rows still queued are gone with the queue) */
    if (pg_incr_restore(t, t->last_pos[0] ? t->last_pos : t->open_pos, err, errlen) != 0)
        return -1;
    pg_repl_close(&t->repl);
    /* the SQL connection anew too, whatever its PQstatus says: a server
     * restart ended it as well, but libpq notices only at its next use, and
     * a dead one kept would fail the next catalog lookup, heartbeat query
     * or slot query once more */
    if (sql_reset(t, err, errlen) != 0)
        return -1;
    if (PQstatus(t->sql) != CONNECTION_OK)
        return snprintf(err, errlen, "reconnecting to %s:%lld: %s", t->conf->host,
                        (long long)t->conf->port, PQerrorMessage(t->sql)),
               -1;
    if (position_parse(t->last_pos[0] ? t->last_pos : NULL, &p, err, errlen) != 0 ||
        pg_repl_connect(&t->repl, t->conf, err, errlen) != 0)
        return -1;
    if (p.present) {
        t->start_lsn = p.lsn;
        t->skip_xid = p.n > 0 ? p.xid : 0;
        t->skip_n = p.n;
    }
    if (start_streaming(t, err, errlen) != 0)
        return -1;
    t->broken = 0;
    return 0;
}

static int poll_snapshot(pg_task *t, sluice_batch *batch, char *err, size_t errlen)
{
    if (queue_drain(t, batch, 1) != 0)
        return 0;
    size_t room = poll_room(t, batch);
    int rc = pg_snap_step(t, room ? room : 1, err, errlen);
    if (rc < 0)
        return -1;
    if (rc == 0)
        return queue_drain(t, batch, 1), 0;
    /* snapshot done: the last row carries "last" and the streaming start */
    pg_out *last = pg_queue_last(t);
    if (last) {
        avro_value_t src;
        if (avro_value_get_by_name(&last->value, "source", &src, NULL) == 0)
            sluice_field_set_string(&src, "snapshot", "last");
        snprintf(last->pos, sizeof(last->pos), "{\"lsn\":%llu,\"txId\":0%s}",
                 (unsigned long long)t->start_lsn, t->incr_pos);
    }
    if (t->conf->snapshot_mode == PG_SNAP_INITIAL_ONLY) {
        /* the snapshot's transaction committed: closing the replication
         * connection drops the temporary slot now (a done task stays open
         * until the worker stops) */
        pg_repl_close(&t->repl);
        sluice_log(t->ctx, SLUICE_LOG_INFO,
                   "snapshot.mode=initial_only: snapshot done, temporary slot %s dropped",
                   t->conf->slot);
        t->phase = PG_PHASE_DONE;
        return queue_drain(t, batch, 0), 0;
    }
    if (start_streaming(t, err, errlen) != 0)
        return -1;
    return queue_drain(t, batch, 0), 0;
}

/* The slot as the server sees it, asked on the SQL connection: the lag
 * (WAL written past the slot's confirmed_flush_lsn) and the WAL the slot
 * keeps on disk (past its restart_lsn, held back by the oldest transaction
 * still open at the slot's last confirmed point: the bloat a DBA watches).
 * Neither can come from the replication stream: for a logical walsender
 * both LSNs it sends are how far decoding got, which trails the server's
 * WAL end by the whole backlog when the source falls behind. 0, or -1 (no
 * such slot, or the connection is busy or broken: the caller estimates). */
static int slot_sizes(pg_task *t, int64_t *lag, int64_t *retained)
{
    if (t->slot_sizes_off || PQstatus(t->sql) != CONNECTION_OK ||
        PQtransactionStatus(t->sql) == PQTRANS_ACTIVE ||
        PQtransactionStatus(t->sql) == PQTRANS_INERROR)
        return -1;
    const char *params[1] = {t->conf->slot};
    PGresult *res =
        PQexecParams(t->sql,
                     "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint, "
                     "pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint "
                     "FROM pg_replication_slots WHERE slot_name = $1",
                     1, NULL, params, NULL, NULL, 0);
    int ok = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
             !PQgetisnull(res, 0, 0) && !PQgetisnull(res, 0, 1);
    if (ok) {
        *lag = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        *retained = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
    } else if (PQstatus(t->sql) == CONNECTION_OK) { /* a standby, no right to ask: not again */
        t->slot_sizes_off = 1;
        sluice_log(t->ctx, SLUICE_LOG_INFO,
                   "slot %s: the server does not tell its lag (%s); slot.lag.bytes is estimated "
                   "from the stream from now on",
                   t->conf->slot, PQresultErrorMessage(res));
    }
    PQclear(res);
    return ok ? 0 : -1;
}

/* Once a second: changes decoded (a counter); while streaming, the slot's
 * lag and retained WAL in bytes (gauges, slot_sizes). When the server
 * cannot be asked, the lag is estimated from the stream: the last WAL
 * position it sent past what we confirmed flushed. */
static void report(pg_task *t)
{
    int64_t now = pg_mono_ms();
    if (now - t->last_report_ms < 1000)
        return;
    sluice_metric_add(t->ctx, "changes", t->changes);
    t->changes = 0;
    int64_t lag, retained;
    if (t->phase == PG_PHASE_STREAM && !t->broken && slot_sizes(t, &lag, &retained) == 0) {
        sluice_metric_set(t->ctx, "slot.retained.bytes", retained);
    } else {
        uint64_t flushed = t->repl.flushed;
        lag = t->repl.wal_end > flushed ? (int64_t)(t->repl.wal_end - flushed) : 0;
    }
    sluice_metric_set(t->ctx, "slot.lag.bytes", lag);
    t->last_report_ms = now;
}

static int pg_poll(void *state, sluice_ctx *ctx, sluice_batch *batch)
{
    pg_task *t = state;
    char err[1024] = "";
    int rc = 0;
    t->ctx = ctx;
    t->now_ms = pg_now_ms();
    t->emitted = 0;
    /* the SQL connection (catalog lookups, heartbeat and slot queries), lost
     * since the last poll while the stream was not (its own server process
     * ended): renewed here, once for every user of it. A status test, no
     * syscall; stream_reconnect renews it with the stream. */
    if (t->phase == PG_PHASE_STREAM && (PQstatus(t->sql) == CONNECTION_BAD || t->sql_uninit) &&
        sql_reset(t, err, sizeof(err)) != 0)
        return sluice_error(ctx, 1, "%s", err);
    /* the host released the last batch's values: they are the pools' again */
    for (pg_rel *r = t->rels.head; r; r = r->next) {
        sluice_pool_reclaim(&r->key_pool);
        sluice_pool_reclaim(&r->value_pool);
    }
    switch (t->phase) {
    case PG_PHASE_SNAPSHOT: rc = poll_snapshot(t, batch, err, sizeof(err)); break;
    case PG_PHASE_STREAM:
        if (t->broken && stream_reconnect(t, err, sizeof(err)) != 0) {
            int final = stream_error_final(t, err, sizeof(err));
            t->failed = final;
            return sluice_error(ctx, !final, "%s", err);
        }
        rc = poll_stream(t, batch, err, sizeof(err));
        break;
    case PG_PHASE_DONE:
        queue_drain(t, batch, 0);
        return t->q.n ? SLUICE_OK : SLUICE_DONE;
    }
    report(t);
    if (rc == -2) { /* the connection: retriable, reconnect at the next poll */
        t->broken = 1;
        return sluice_error(ctx, 1, "%s (reconnecting)", err);
    }
    if (rc != 0) {
        t->failed = 1;
        return sluice_error(ctx, 0, "%s", err);
    }
    return SLUICE_OK;
}

static int pg_commit(void *state, sluice_ctx *ctx, const char *position)
{
    pg_task *t = state;
    char err[512];
    stored_pos p;
    if (position_parse(position, &p, err, sizeof(err)) != 0) {
        t->failed = 1;
        return sluice_error(ctx, 0, "commit: %s", err);
    }
    if (!p.snapshot && p.lsn > t->committed)
        t->committed = p.lsn;
    if (strcmp(position, t->last_pos) == 0)
        t->all_acked = 1;
    if (t->broken)
        return SLUICE_OK; /* reported after reconnecting */
    if (pg_repl_status(&t->repl, flush_lsn(t), 0, t->conf->status_interval_ms, err,
                       sizeof(err)) != 0)
        return sluice_error(ctx, 1, "%s", err);
    return SLUICE_OK;
}

SLUICE_PLUGIN_DEFINE(.name = "postgres", .kind = SLUICE_SOURCE,
                     .description = "PostgreSQL change data capture: initial snapshot and logical "
                                    "replication (pgoutput), Debezium-compatible records",
                     .version = PG_VERSION_STR, .options = pg_options,
                     .source = {
                         .open = pg_open, .poll = pg_poll, .commit = pg_commit, .close = pg_close});
