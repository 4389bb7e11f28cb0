/*
 * datagen.c - the datagen source: descriptor and task callbacks.
 *
 * Position: {"seq": N}, the number of the last record emitted with it. On
 * open the task resumes after the stored position. A delete is followed by
 * a tombstone carrying the same position (when tombstones.on.delete), and a
 * tombstone that did not fit the batch is emitted first in the next poll.
 *
 * Rate: a token bucket without a bucket: the records allowed so far are
 * elapsed seconds x rate; poll waits at most 100 ms for the next one.
 *
 * Cost per record (the ceiling of every benchmark that uses datagen): the
 * row's fields are found by name once, in open, and the envelope's and
 * source's come with the envelope (sluice_envelope_value_layout); strings
 * that are the same in every record (source.version, connector, name, db,
 * schema, table; op) are lent to the values (SLUICE_LEND), not copied:
 * avro-c wraps them and never frees them. They are literals or live until the task
 * is closed (the connector name, the topic), and the host has converted a
 * batch's values before it polls again or closes the task; releasing a
 * value later frees only the wrapper. The position and the string columns
 * are formatted without printf. What each record holds is unchanged.
 *
 * Runs on: the task's thread, one callback at a time (plugin.h).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "datagen.h"

#define DG_VERSION "0.1.0"

typedef struct dg_task {
    dg_conf *conf;
    sluice_envelope *env;
    const sluice_envelope_layout *envlay; /* the envelope's fields (env's) */
    avro_value_iface_t *value_iface;      /* the envelope's value class */
    sluice_value_pool values;             /* of value_iface: reused per batch */
    avro_value_iface_t *key_iface;        /* the key's class, NULL: no key */
    sluice_value_pool keys;               /* of key_iface: reused per batch */
    dg_layout layout;                     /* columns in the row and key records */
    /* what every record's source holds but ts_ms and seq; its strings are
     * lent (table: the topic's last segment) */
    sluice_source_info src;
    int64_t next_seq;          /* the next record to generate */
    int64_t pending_tombstone; /* seq of a delete whose tombstone is owed, or 0 */
    int64_t rate_start_ms, rate_emitted;
    int64_t committed;
    int done_logged;
} dg_task;

static int64_t now_ms(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* {"seq": N} -> N; 0 for no position. -1 when it is not ours. */
static int64_t position_seq(const char *position)
{
    if (!position)
        return 0;
    json_t *j = json_loads(position, 0, NULL);
    json_t *seq = json_object_get(j, "seq");
    int64_t n = json_is_integer(seq) && json_integer_value(seq) >= 0 ? json_integer_value(seq) : -1;
    json_decref(j);
    return n;
}

static void dg_close(void *state, sluice_ctx *ctx)
{
    dg_task *t = state;
    if (!t)
        return;
    dg_layout_free(&t->layout);
    sluice_pool_done(&t->values);
    sluice_pool_done(&t->keys);
    if (t->value_iface)
        avro_value_iface_decref(t->value_iface);
    if (t->key_iface)
        avro_value_iface_decref(t->key_iface);
    sluice_envelope_destroy(t->env);
    dg_conf_destroy(t->conf);
    free(t);
}

/* Resolves, once, every field position a record needs (see Cost above). */
static int resolve_layout(dg_task *t, char *err, size_t errlen)
{
    t->envlay = sluice_envelope_value_layout(t->env);
    if (dg_layout_resolve(t->conf, t->envlay->row, sluice_envelope_key_schema(t->env), &t->layout,
                          err, errlen) != 0)
        return -1;
    if (!(t->value_iface = avro_generic_class_from_schema(sluice_envelope_value_schema(t->env)))) {
        snprintf(err, errlen, "avro value class: %s", avro_strerror());
        return -1;
    }
    sluice_pool_init(&t->values, t->value_iface);
    avro_schema_t ks = sluice_envelope_key_schema(t->env);
    if (ks && !(t->key_iface = avro_generic_class_from_schema(ks))) {
        snprintf(err, errlen, "avro key class: %s", avro_strerror());
        return -1;
    }
    if (t->key_iface)
        sluice_pool_init(&t->keys, t->key_iface);
    return 0;
}

static int dg_open(sluice_ctx *ctx, void **state)
{
    char err[512];
    dg_task *t = calloc(1, sizeof(*t));
    if (!t)
        return sluice_error(ctx, 1, "out of memory");
    if (!(t->conf = dg_conf_create(ctx)))
        goto fail;
    if (sluice_envelope_create(t->conf->topic, t->conf->cols, t->conf->ncols, &t->env, err,
                               sizeof(err)) != 0) {
        sluice_error(ctx, 0, "topic %s: %s", t->conf->topic, err);
        goto fail;
    }
    if (sluice_envelope_key_schema(t->env))
        sluice_schema_json(ctx, sluice_envelope_key_schema(t->env),
                           sluice_envelope_key_schema_json(t->env));
    sluice_schema_json(ctx, sluice_envelope_value_schema(t->env),
                       sluice_envelope_value_schema_json(t->env));
    if (resolve_layout(t, err, sizeof(err)) != 0) {
        sluice_error(ctx, 0, "topic %s: %s", t->conf->topic, err);
        goto fail;
    }
    const char *dot = strrchr(t->conf->topic, '.');
    t->src = (sluice_source_info){.version = DG_VERSION,
                                  .connector = "datagen",
                                  /* the host's: lives as long as the task */
                                  .name = ctx->api->connector_name(ctx),
                                  .db = "datagen",
                                  .schema = "public",
                                  .table = dot ? dot + 1 : t->conf->topic,
                                  .tx_id = SLUICE_NULL_POS,
                                  .lsn = SLUICE_NULL_POS,
                                  .pos = SLUICE_NULL_POS};
    int64_t last = position_seq(sluice_position(ctx));
    if (last < 0) {
        sluice_error(ctx, 0, "stored position %s is not {\"seq\": N}", sluice_position(ctx));
        goto fail;
    }
    t->next_seq = last + 1;
    t->committed = last;
    t->rate_start_ms = now_ms(CLOCK_MONOTONIC);
    sluice_log(ctx, SLUICE_LOG_INFO, "topic %s, %zu columns, ops=%s, resuming at seq %lld",
               t->conf->topic, t->conf->ncols, t->conf->ops, (long long)t->next_seq);
    *state = t;
    return SLUICE_OK;
fail:
    dg_close(t, ctx);
    return SLUICE_ERROR;
}

/* ---- building one record ------------------------------------------------ */

/* A fresh envelope value: before and after null unless the op has them;
 * source as t->src (snapshot, txId, lsn, file, pos and gtid null). */
static int fill_value(dg_task *t, avro_value_t *value, int64_t seq, char op, int64_t id, int64_t ts)
{
    const sluice_envelope_layout *lay = t->envlay;
    sluice_source_info src = t->src;
    avro_value_t row;
    src.ts_ms = ts;
    src.seq = seq;
    int rc = sluice_envelope_fill(lay, value, op, ts, &src, SLUICE_LEND);
    if (!rc && op == 'c')
        rc = sluice_envelope_row_at(lay, value, SLUICE_ENV_BEFORE, NULL);
    else if (!rc) {
        rc = sluice_envelope_row_at(lay, value, SLUICE_ENV_BEFORE, &row);
        rc = rc ? rc : dg_gen_row(t->conf, &t->layout, &row, id, 0, ts);
    }
    if (!rc && op == 'd')
        rc = sluice_envelope_row_at(lay, value, SLUICE_ENV_AFTER, NULL);
    else if (!rc) {
        rc = sluice_envelope_row_at(lay, value, SLUICE_ENV_AFTER, &row);
        rc = rc ? rc : dg_gen_row(t->conf, &t->layout, &row, id, seq, ts);
    }
    return rc;
}

/* {"seq": N} into pos (30 bytes at most), as snprintf would write it. */
static void format_position(char pos[48], int64_t seq)
{
    static const char head[] = "{\"seq\": ";
    memcpy(pos, head, sizeof(head) - 1);
    char *p = sluice_put_i64(pos + sizeof(head) - 1, seq, 0);
    *p++ = '}';
    *p = '\0';
}

/* Emits record seq (or its tombstone). Returns 0, 1 when the batch was full
 * (nothing emitted), or a sluice_error status. */
static int emit_one(dg_task *t, sluice_ctx *ctx, sluice_batch *batch, int64_t seq, int tombstone)
{
    avro_value_t key = {NULL, NULL}, value = {NULL, NULL};
    if (sluice_batch_room(ctx, batch) == 0) /* before building what would not fit */
        return 1;
    int64_t id, ts = now_ms(CLOCK_REALTIME);
    char op = dg_gen_op(t->conf, seq, &id), pos[48];
    format_position(pos, seq);
    sluice_record rec = {.topic = t->conf->topic,
                         .key_schema = sluice_envelope_key_schema(t->env),
                         .key = &key,
                         .value_schema = sluice_envelope_value_schema(t->env),
                         .value = tombstone ? NULL : &value,
                         .timestamp_ms = ts,
                         .position = pos};
    if (!t->key_iface || sluice_pool_get(&t->keys, &key) != 0)
        return sluice_error(ctx, 1, "new key: %s", avro_strerror());
    int rc = dg_gen_key(t->conf, &t->layout, &key, id);
    if (!rc && !tombstone) {
        rc = sluice_pool_get(&t->values, &value);
        if (!rc && (rc = fill_value(t, &value, seq, op, id, ts)) != 0)
            avro_value_decref(&value);
    }
    if (rc != 0) {
        avro_value_decref(&key);
        return sluice_error(ctx, 0, "record seq %lld: %s", (long long)seq, avro_strerror());
    }
    if (sluice_emit(ctx, batch, &rec) != 0) {
        avro_value_decref(&key);
        if (!tombstone)
            avro_value_decref(&value);
        return 1;
    }
    sluice_pool_lent(&t->keys, &key);
    if (!tombstone)
        sluice_pool_lent(&t->values, &value);
    if (!tombstone && op == 'd' && t->conf->tombstones)
        t->pending_tombstone = seq;
    return 0;
}

/* ---- poll --------------------------------------------------------------- */

/* How many records the rate allows now (waiting up to 100 ms for one). */
static int64_t rate_allows(dg_task *t)
{
    if (t->conf->rate <= 0)
        return INT64_MAX;
    int64_t elapsed = now_ms(CLOCK_MONOTONIC) - t->rate_start_ms;
    int64_t allowed = (int64_t)((double)elapsed * t->conf->rate / 1000.0) - t->rate_emitted;
    if (allowed > 0)
        return allowed;
    double wait_ms = 1000.0 / t->conf->rate;
    struct timespec ts = {0, (long)(wait_ms < 100 ? wait_ms : 100) * 1000000L};
    nanosleep(&ts, NULL);
    return 0;
}

static int dg_poll(void *state, sluice_ctx *ctx, sluice_batch *batch)
{
    dg_task *t = state;
    sluice_pool_reclaim(&t->values); /* the host released the last batch */
    sluice_pool_reclaim(&t->keys);
    if (t->pending_tombstone) {
        int rc = emit_one(t, ctx, batch, t->pending_tombstone, 1);
        if (rc != 0)
            return rc == 1 ? SLUICE_OK : rc;
        t->pending_tombstone = 0;
    }
    if (t->conf->max_records && t->next_seq > t->conf->max_records) {
        if (!t->done_logged++)
            sluice_log(ctx, SLUICE_LOG_INFO, "max.records %lld reached",
                       (long long)t->conf->max_records);
        return SLUICE_DONE;
    }
    int64_t n = rate_allows(t), emitted = 0;
    n = n < t->conf->batch_size ? n : t->conf->batch_size;
    while (emitted < n && !t->pending_tombstone &&
           (!t->conf->max_records || t->next_seq <= t->conf->max_records)) {
        int rc = emit_one(t, ctx, batch, t->next_seq, 0);
        if (rc == 1)
            break;
        if (rc != 0)
            return rc;
        t->next_seq++;
        emitted++;
        if (t->pending_tombstone && emit_one(t, ctx, batch, t->pending_tombstone, 1) == 0)
            t->pending_tombstone = 0;
    }
    t->rate_emitted += emitted;
    sluice_metric_add(ctx, "records.generated", emitted);
    return SLUICE_OK;
}

static int dg_commit(void *state, sluice_ctx *ctx, const char *position)
{
    dg_task *t = state;
    int64_t seq = position_seq(position);
    if (seq < 0)
        return sluice_error(ctx, 0, "commit of a position not ours: %s", position);
    t->committed = seq;
    sluice_log(ctx, SLUICE_LOG_DEBUG, "durable up to seq %lld", (long long)seq);
    return SLUICE_OK;
}

SLUICE_PLUGIN_DEFINE(.name = "datagen", .kind = SLUICE_SOURCE,
                     .description = "Generates Debezium-envelope changes of a configurable table",
                     .version = DG_VERSION, .options = dg_options,
                     .source = {
                         .open = dg_open, .poll = dg_poll, .commit = dg_commit, .close = dg_close});
