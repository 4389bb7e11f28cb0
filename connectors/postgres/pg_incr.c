/*
 * pg_incr.c - incremental (ad-hoc) snapshots through a signal table, with
 * Debezium's watermark de-duplication (the DBLog algorithm), so a table can
 * be re-read while the stream goes on.
 *
 * Signals: signal.data.collection names a table (id text, type text, data
 * text) that is in the publication. A row inserted with type
 * 'execute-snapshot' and data {"data-collections": ["schema.table", ...]}
 * queues those tables. The signal table's own changes are consumed here,
 * never emitted.
 *
 * A chunk (between transactions of the stream, on the regular connection,
 * each statement in its own transaction):
 *
 *   INSERT signal ('<w>-open',  'snapshot-window-open',  ...)   low watermark
 *   SELECT cols FROM t WHERE (pk) > (last pk) ORDER BY pk LIMIT chunk.size
 *   INSERT signal ('<w>-close', 'snapshot-window-close', ...)   high watermark
 *
 * The rows are held in memory. When the stream reaches the low watermark
 * the window opens; every change of t streamed inside the window removes
 * its key from the chunk (the streamed event is as new as, or newer than,
 * what the SELECT saw). At the high watermark the remaining rows are
 * emitted as op 'r' with source.snapshot "incremental", inside the
 * watermark's transaction, so they are ordered before every later change
 * of the same keys. A chunk shorter than chunk.size ends the table.
 *
 * Resuming (as Debezium, whose offsets hold the same): while a snapshot is
 * in progress every position the task emits carries its state,
 *
 *   ,"incr":{"tables":["public.a","public.b"],"key":["1041"]}
 *
 * the tables still to read (the current one first) and the key texts of
 * the last row of the current table's last chunk whose rows all precede
 * the record (absent: the table starts over). A chunk's rows carry the
 * state from before the chunk, except its last row, whose final position
 * (its transaction's end) carries the state after it. So a task opened at
 * a stored position, or reconnecting after a lost connection, reads on
 * from the first chunk not wholly stored: rows of a chunk cut short are
 * read again (at least once, never lost). The state is built once per
 * chunk (jansson), not per record; when it does not fit PG_INCR_POS_MAX
 * (long names or keys), positions carry none, a warning says the snapshot
 * will not be resumed, and a restart forgets it. Watermark ids carry a
 * per-task nonce (the start time in ms), so a new task's ids never meet
 * the rows an earlier one left in the signal table.
 *
 * Limits: tables need a primary key; chunks are read in the primary key's
 * text order per column (ORDER BY the key columns).
 *
 * Runs on: the task's thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sluice/envelope.h>

#include "pg.h"

struct pg_incr {
    char **tables; /* "schema.table" still to read */
    int ntables, cap;
    uint32_t relid;   /* the table being read, 0 between tables */
    char *cur_name;   /* its "schema.table" as signalled */
    char **last_key;  /* key column texts of the last row read (NULL: start) */
    int nkeys;
    int keep_key;     /* restored: the first table goes on after last_key */
    int64_t nonce;    /* the watermark ids' per-task part */
    int too_long;     /* the state did not fit a position (warned once) */
    int64_t window;   /* chunk number, the watermarks' id */
    int pending;      /* watermarks written, waiting for the high one */
    int open;         /* the low watermark was streamed */
    PGresult *chunk;
    char *dropped;   /* per chunk row: a streamed change superseded it */
    int64_t rows;    /* emitted for the current table */
};

/* ---- signals ----------------------------------------------------------------- */

static int add_table(pg_incr *in, const char *name)
{
    if (in->ntables == in->cap) {
        int cap = in->cap ? in->cap * 2 : 8;
        char **p = realloc(in->tables, (size_t)cap * sizeof(*p));
        if (!p)
            return -1;
        in->tables = p;
        in->cap = cap;
    }
    return (in->tables[in->ntables++] = strdup(name)) ? 0 : -1;
}

static void free_keys(pg_incr *in)
{
    for (int i = 0; in->last_key && i < in->nkeys; i++)
        free(in->last_key[i]);
    free(in->last_key);
    in->last_key = NULL;
    in->nkeys = 0;
}

static void chunk_free(pg_incr *in)
{
    PQclear(in->chunk);
    in->chunk = NULL;
    free(in->dropped);
    in->dropped = NULL;
    in->pending = in->open = 0;
}

void pg_incr_destroy(pg_task *t)
{
    pg_incr *in = t->incr;
    t->incr_pos[0] = '\0';
    if (!in)
        return;
    for (int i = 0; i < in->ntables; i++)
        free(in->tables[i]);
    free(in->tables);
    free(in->cur_name);
    free_keys(in);
    chunk_free(in);
    free(in);
    t->incr = NULL;
}

static pg_incr *incr_new(void)
{
    pg_incr *in = calloc(1, sizeof(*in));
    if (in)
        in->nonce = pg_now_ms();
    return in;
}

/* ---- the state in positions ------------------------------------------------------ */

/* Rebuilds t->incr_pos from the state (at every change of it: a signal, a
 * table started or done, a chunk emitted, a restore). Returns 0 or -1 (OOM). */
static int incr_position(pg_task *t)
{
    pg_incr *in = t->incr;
    json_t *tables = json_array(), *st = json_object();
    char *text = NULL;
    int rc = -1;
    t->incr_pos[0] = '\0';
    if (!tables || !st)
        goto out;
    if (in && in->relid && in->cur_name)
        json_array_append_new(tables, json_string(in->cur_name));
    for (int i = 0; in && i < in->ntables; i++)
        json_array_append_new(tables, json_string(in->tables[i]));
    if (json_array_size(tables) == 0) {
        rc = 0;
        goto out;
    }
    json_object_set(st, "tables", tables);
    if (in->relid && in->last_key) {
        json_t *key = json_array();
        for (int i = 0; key && i < in->nkeys; i++)
            json_array_append_new(key, json_string(in->last_key[i] ? in->last_key[i] : ""));
        json_object_set_new(st, "key", key);
    }
    if (!(text = json_dumps(st, JSON_COMPACT)))
        goto out;
    rc = 0;
    if (strlen(text) + 10 > sizeof(t->incr_pos)) {
        if (!in->too_long)
            sluice_log(t->ctx, SLUICE_LOG_WARN,
                       "incremental snapshot state %.80s... is %zu bytes, more than a position "
                       "holds (%d): this snapshot will not be resumed after a restart",
                       text, strlen(text), PG_INCR_POS_MAX - 10);
        in->too_long = 1;
    } else {
        snprintf(t->incr_pos, sizeof(t->incr_pos), ",\"incr\":%s", text);
    }
out:
    free(text);
    json_decref(tables);
    json_decref(st);
    return rc;
}

int pg_incr_restore(pg_task *t, const char *position, char *err, size_t errlen)
{
    json_t *j = position ? json_loads(position, 0, NULL) : NULL, *v;
    json_t *st = json_object_get(j, "incr"), *key = json_object_get(st, "key");
    size_t i;
    pg_incr_destroy(t);
    if (!json_is_array(json_object_get(st, "tables"))) {
        json_decref(j);
        return 0;
    }
    if (!(t->incr = incr_new()))
        goto oom;
    json_array_foreach(json_object_get(st, "tables"), i, v)
    {
        if (json_is_string(v) && add_table(t->incr, json_string_value(v)) != 0)
            goto oom;
    }
    if (json_is_array(key) && json_array_size(key) > 0) {
        pg_incr *in = t->incr;
        if (!(in->last_key = calloc(json_array_size(key), sizeof(char *))))
            goto oom;
        json_array_foreach(key, i, v)
        {
            if (!(in->last_key[in->nkeys++] =
                      strdup(json_is_string(v) ? json_string_value(v) : "")))
                goto oom;
        }
        in->keep_key = 1;
    }
    sluice_log(t->ctx, SLUICE_LOG_INFO, "incremental snapshot resumed: %d table(s) left, %s %s",
               t->incr->ntables, t->incr->ntables ? t->incr->tables[0] : "",
               key ? "after its last stored chunk" : "from its start");
    json_decref(j);
    return incr_position(t) == 0 ? 0 : (snprintf(err, errlen, "out of memory"), -1);
oom:
    json_decref(j);
    return snprintf(err, errlen, "out of memory"), -1;
}

/* The text of column `name` among datums d (NULL when null or absent). */
static char *column_text(const pg_rel *rel, const pg_datum *d, int nd, const char *name)
{
    for (int i = 0; i < rel->ncols && i < nd; i++)
        if (!strcmp(rel->cols[i].name, name) && d[i].kind == 't') {
            char *s = malloc(d[i].len + 1);
            if (s) {
                memcpy(s, d[i].data, d[i].len);
                s[d[i].len] = '\0';
            }
            return s;
        }
    return NULL;
}

static int execute_snapshot(pg_task *t, const char *data, char *err, size_t errlen)
{
    json_t *j = data ? json_loads(data, 0, NULL) : NULL, *v;
    json_t *list = json_object_get(j, "data-collections");
    size_t i;
    if (!json_is_array(list)) {
        sluice_log(t->ctx, SLUICE_LOG_WARN,
                   "signal execute-snapshot ignored: data %s has no \"data-collections\" array",
                   data ? data : "(null)");
        json_decref(j);
        return 0;
    }
    if (!t->incr && !(t->incr = incr_new()))
        goto oom;
    json_array_foreach(list, i, v)
    {
        if (json_is_string(v) && add_table(t->incr, json_string_value(v)) != 0)
            goto oom;
        sluice_log(t->ctx, SLUICE_LOG_INFO, "incremental snapshot of %s requested",
                   json_is_string(v) ? json_string_value(v) : "(not a string)");
    }
    json_decref(j);
    return incr_position(t) == 0 ? 0 : (snprintf(err, errlen, "out of memory"), -1);
oom:
    json_decref(j);
    return snprintf(err, errlen, "out of memory"), -1;
}

static int emit_chunk(pg_task *t, pg_rel *rel, char *err, size_t errlen);

int pg_incr_signal(pg_task *t, const pg_rel *rel, const pg_datum *d, int nd, char *err,
                   size_t errlen)
{
    char *type = column_text(rel, d, nd, "type"), *id = column_text(rel, d, nd, "id");
    char *data = column_text(rel, d, nd, "data");
    pg_incr *in = t->incr;
    char want[64];
    int rc = 0;
    if (type && !strcmp(type, "execute-snapshot")) {
        rc = execute_snapshot(t, data, err, errlen);
    } else if (in && in->pending && id && type) {
        snprintf(want, sizeof(want), "sluice-%lld-%lld-%s", (long long)in->nonce,
                 (long long)in->window, !strcmp(type, "snapshot-window-open") ? "open" : "close");
        if (!strcmp(id, want) && !strcmp(type, "snapshot-window-open"))
            in->open = 1;
        else if (!strcmp(id, want) && !strcmp(type, "snapshot-window-close")) {
            pg_rel *r = pg_rel_find(&t->rels, in->relid);
            rc = r ? emit_chunk(t, r, err, errlen) : 0;
            chunk_free(in);
        }
    }
    free(type);
    free(id);
    free(data);
    return rc;
}

/* ---- de-duplication ------------------------------------------------------------- */

/* Whether chunk row r has the key of datums d. */
static int same_key(const pg_rel *rel, PGresult *chunk, int r, const pg_datum *d, int nd)
{
    for (int i = 0; i < rel->ncols; i++) {
        if (!rel->cols[i].pk)
            continue;
        if (i >= nd || d[i].kind != 't' || (int)d[i].len != PQgetlength(chunk, r, i) ||
            memcmp(d[i].data, PQgetvalue(chunk, r, i), d[i].len) != 0)
            return 0;
    }
    return 1;
}

void pg_incr_streamed(pg_task *t, const pg_rel *rel, const pg_datum *d, int nd)
{
    pg_incr *in = t->incr;
    if (!in || !in->open || !in->chunk || rel->relid != in->relid || !d || !nd)
        return;
    for (int r = 0; r < PQntuples(in->chunk); r++)
        if (!in->dropped[r] && same_key(rel, in->chunk, r, d, nd))
            in->dropped[r] = 1;
}

/* ---- chunks ------------------------------------------------------------------- */

static int exec_sql(pg_task *t, const char *sql, int nparams, const char *const *params,
                    PGresult **out, char *err, size_t errlen)
{
    PGresult *res = PQexecParams(t->sql, sql, nparams, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        snprintf(err, errlen, "incremental snapshot: %.120s: %s", sql, PQresultErrorMessage(res));
        err[strcspn(err, "\n")] = '\0';
        PQclear(res);
        return -1;
    }
    if (out)
        *out = res;
    else
        PQclear(res);
    return 0;
}

static int watermark(pg_task *t, const char *kind, char *err, size_t errlen)
{
    char sql[512], id[64], type[64];
    snprintf(id, sizeof(id), "sluice-%lld-%lld-%s", (long long)t->incr->nonce,
             (long long)t->incr->window, kind);
    snprintf(type, sizeof(type), "snapshot-window-%s", kind);
    /* "schema.table" as the catalog spells them (pg_conf_is_signal): each
     * part quoted, so a mixed-case or dotted name is the table it names */
    const char *sig = t->conf->signal_table, *dot = strchr(sig, '.');
    char *qs = dot ? PQescapeIdentifier(t->sql, sig, (size_t)(dot - sig)) : NULL;
    char *qt = dot ? PQescapeIdentifier(t->sql, dot + 1, strlen(dot + 1)) : NULL;
    if (!qs || !qt) {
        PQfreemem(qs);
        PQfreemem(qt);
        return snprintf(err, errlen, "signal.data.collection '%s': expected schema.table", sig), -1;
    }
    snprintf(sql, sizeof(sql), "INSERT INTO %s.%s (id, type, data) VALUES ($1, $2, NULL)", qs, qt);
    PQfreemem(qs);
    PQfreemem(qt);
    const char *params[2] = {id, type};
    return exec_sql(t, sql, 2, params, NULL, err, errlen);
}

/* Appends printf output to a growing buffer; -1 when out of memory. */
static int buf_add(char **buf, size_t *len, size_t *cap, const char *fmt, const char *a,
                   const char *b)
{
    size_t need = *len + strlen(fmt) + (a ? strlen(a) : 0) + (b ? strlen(b) : 0) + 32;
    if (need > *cap) {
        size_t cap2 = need * 2;
        char *p = realloc(*buf, cap2);
        if (!p)
            return -1;
        *buf = p;
        *cap = cap2;
    }
    *len += (size_t)snprintf(*buf + *len, *cap - *len, fmt, a ? a : "", b ? b : "");
    return 0;
}

/* "k1, k2" (quoted key columns) and "$1, $2". */
static int key_lists(pg_task *t, const pg_rel *rel, char **keys, char **params)
{
    size_t kl = 0, kc = 0, pl = 0, pc = 0;
    int k = 0, rc = 0;
    *keys = *params = NULL;
    rc |= buf_add(keys, &kl, &kc, "%s%s", "", "");
    rc |= buf_add(params, &pl, &pc, "%s%s", "", "");
    for (int i = 0; !rc && i < rel->ncols; i++) {
        if (!rel->cols[i].pk)
            continue;
        char *q = PQescapeIdentifier(t->sql, rel->cols[i].name, strlen(rel->cols[i].name));
        char num[16];
        snprintf(num, sizeof(num), "$%d", ++k);
        rc |= !q || buf_add(keys, &kl, &kc, "%s%s", k > 1 ? ", " : "", q);
        rc |= buf_add(params, &pl, &pc, "%s%s", k > 1 ? ", " : "", num);
        PQfreemem(q);
    }
    return rc ? -1 : 0;
}

/* SELECT of the next chunk: columns in attnum order (the order of
 * rel->cols, as pg_rel_fill_row expects), keys above the last one read. */
static int select_chunk(pg_task *t, pg_rel *rel, char *err, size_t errlen)
{
    pg_incr *in = t->incr;
    char *sql = NULL, *keys = NULL, *params = NULL, limit[32];
    size_t len = 0, cap = 0;
    int rc = key_lists(t, rel, &keys, &params);
    rc |= buf_add(&sql, &len, &cap, "SELECT %s%s", "", "");
    for (int i = 0; !rc && i < rel->ncols; i++) {
        char *q = PQescapeIdentifier(t->sql, rel->cols[i].name, strlen(rel->cols[i].name));
        rc |= !q || buf_add(&sql, &len, &cap, "%s%s", i ? ", " : "", q);
        PQfreemem(q);
    }
    char *qs = PQescapeIdentifier(t->sql, rel->nspname, strlen(rel->nspname));
    char *qt = PQescapeIdentifier(t->sql, rel->relname, strlen(rel->relname));
    rc |= !qs || !qt || buf_add(&sql, &len, &cap, " FROM %s.%s", qs, qt);
    PQfreemem(qs);
    PQfreemem(qt);
    if (!rc && in->last_key)
        rc |= buf_add(&sql, &len, &cap, " WHERE (%s) > (%s)", keys, params);
    snprintf(limit, sizeof(limit), "%lld", (long long)t->conf->chunk_size);
    rc |= buf_add(&sql, &len, &cap, " ORDER BY %s LIMIT %s", keys, limit);
    if (rc)
        snprintf(err, errlen, "out of memory");
    else
        rc = exec_sql(t, sql, in->last_key ? in->nkeys : 0, (const char *const *)in->last_key,
                      &in->chunk, err, errlen);
    free(sql);
    free(keys);
    free(params);
    return rc;
}

/* Tests widen the window between the SELECT and the high watermark
 * (SLUICE_PG_INCR_WINDOW_MS) so that concurrent writes land in it and the
 * de-duplication is exercised; 0 otherwise. */
static void window_delay(void)
{
    const char *ms = getenv("SLUICE_PG_INCR_WINDOW_MS");
    if (ms && atoi(ms) > 0) {
        struct timespec ts = {atoi(ms) / 1000, (long)(atoi(ms) % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* Starts the next queued table: 0 started, 1 nothing left, -1 error. */
static int next_table(pg_task *t, char *err, size_t errlen)
{
    pg_incr *in = t->incr;
    if (in->ntables == 0)
        return 1; /* nothing left: the state in positions went with the last table */
    while (in->ntables > 0) {
        char *name = in->tables[0];
        memmove(in->tables, in->tables + 1, (size_t)(--in->ntables) * sizeof(char *));
        const char *params[1] = {name};
        PGresult *res = NULL;
        int rc = exec_sql(t, "SELECT $1::regclass::oid", 1, params, &res, err, errlen);
        uint32_t relid = rc == 0 ? (uint32_t)strtoul(PQgetvalue(res, 0, 0), NULL, 10) : 0;
        PQclear(res);
        pg_rel *rel = relid ? pg_rel_find(&t->rels, relid) : NULL;
        if (relid && !rel)
            rel = pg_rel_load(&t->rels, relid, err, errlen);
        int resume = in->keep_key && in->last_key && rel && in->nkeys == rel->npk;
        in->keep_key = 0;
        if (!rel || !rel->included || !rel->npk) {
            sluice_log(t->ctx, SLUICE_LOG_WARN,
                       "incremental snapshot of %s skipped: %s", name,
                       !rel ? err : !rel->included ? "not captured (filters)" : "no primary key");
            err[0] = '\0';
            free(name);
            continue;
        }
        if (resume)
            sluice_log(t->ctx, SLUICE_LOG_INFO,
                       "incremental snapshot of %s resumed after key (%s%s) (chunks of %lld)", name,
                       in->last_key[0], in->nkeys > 1 ? ", ..." : "",
                       (long long)t->conf->chunk_size);
        else
            sluice_log(t->ctx, SLUICE_LOG_INFO,
                       "incremental snapshot of %s started (chunks of %lld)", name,
                       (long long)t->conf->chunk_size);
        free(in->cur_name);
        in->cur_name = name;
        in->relid = relid;
        in->rows = 0;
        if (!resume)
            free_keys(in);
        return incr_position(t) == 0 ? 0 : (snprintf(err, errlen, "out of memory"), -1);
    }
    free_keys(in);
    return incr_position(t) == 0 ? 1 : (snprintf(err, errlen, "out of memory"), -1);
}

int pg_incr_step(pg_task *t, char *err, size_t errlen)
{
    pg_incr *in = t->incr;
    if (!in || in->pending || t->in_tx || t->in_stream)
        return 0;
    if (!in->relid && next_table(t, err, errlen) != 0)
        return err[0] ? -1 : 0;
    pg_rel *rel = pg_rel_find(&t->rels, in->relid);
    if (!rel) {
        in->relid = 0;
        return 0;
    }
    in->window++;
    if (watermark(t, "open", err, errlen) != 0 || select_chunk(t, rel, err, errlen) != 0)
        return -1;
    window_delay();
    if (watermark(t, "close", err, errlen) != 0)
        return -1;
    int n = PQntuples(in->chunk);
    if (!(in->dropped = calloc((size_t)(n ? n : 1), 1)))
        return snprintf(err, errlen, "out of memory"), -1;
    in->pending = 1;
    return 0;
}

/* At the high watermark: the rows no streamed change superseded, as 'r'. */
static int emit_chunk(pg_task *t, pg_rel *rel, char *err, size_t errlen)
{
    pg_incr *in = t->incr;
    int n = PQntuples(in->chunk), nf = PQnfields(in->chunk), kept = 0;
    pg_datum *d = calloc((size_t)(nf ? nf : 1), sizeof(*d));
    pg_src src = {t->commit_ts_ms, "incremental", t->xid, t->change_lsn};
    if (!d)
        return snprintf(err, errlen, "out of memory"), -1;
    for (int r = 0; r < n; r++) {
        if (in->dropped[r])
            continue;
        for (int c = 0; c < nf; c++)
            d[c] = (pg_datum){PQgetisnull(in->chunk, r, c) ? 'n' : 't', PQgetvalue(in->chunk, r, c),
                              (uint32_t)PQgetlength(in->chunk, r, c),
                              1 /* libpq NUL-terminates values */};
        if (pg_task_queue_change(t, rel, 'r', NULL, 0, d, nf, &src, err, errlen) != 0) {
            free(d);
            return -1;
        }
        kept++;
    }
    free(d);
    in->rows += kept;
    sluice_metric_add(t->ctx, "snapshot.incremental.rows", kept);
    if (n > 0) { /* remember the last key read */
        free_keys(in);
        in->last_key = calloc((size_t)rel->npk, sizeof(char *));
        for (int i = 0; in->last_key && i < rel->ncols; i++)
            if (rel->cols[i].pk)
                in->last_key[in->nkeys++] = strdup(PQgetvalue(in->chunk, n - 1, i));
    }
    if (n < t->conf->chunk_size) {
        sluice_log(t->ctx, SLUICE_LOG_INFO, "incremental snapshot of %s.%s done: %lld rows",
                   rel->nspname, rel->relname, (long long)in->rows);
        sluice_metric_add(t->ctx, "snapshot.incremental.tables.done", 1);
        in->relid = 0;
        free(in->cur_name);
        in->cur_name = NULL;
        free_keys(in);
    }
    /* from here on (this transaction's last record included) positions say
     * the chunk is read */
    return incr_position(t) == 0 ? 0 : (snprintf(err, errlen, "out of memory"), -1);
}
