/*
 * pg_snapshot.c - the initial snapshot, consistent with the stream.
 *
 * The slot was just created with EXPORT_SNAPSHOT on the replication
 * connection, which stays idle until the snapshot is read, so the exported
 * snapshot remains importable. On the regular connection:
 *
 *   BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;
 *   SET TRANSACTION SNAPSHOT '<exported>';
 *   -- the tables of the publication the filters admit, with reltuples
 *   DECLARE sluice_snapshot NO SCROLL CURSOR FOR SELECT <columns> FROM t;
 *   FETCH <n> FROM sluice_snapshot;  ... until empty; CLOSE; next table
 *   COMMIT;
 *
 * so every row as of the slot's consistent point is read exactly once, a
 * batch at a time (never a whole table in memory), as op 'r' records with
 * source.snapshot "true" ("last" for the very last row, set by postgres.c).
 * Streaming then starts at the consistent point: nothing is missed and
 * nothing is read twice.
 *
 * Progress: one log line per table started and finished, and one every
 * 5 s: rows done / estimated total (pg_class.reltuples; -1 before the first
 * ANALYZE counts as unknown), rows/s and ETA; metrics snapshot.rows,
 * snapshot.rows.estimated, snapshot.tables.done.
 *
 * Runs on: the task's thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/envelope.h>

#include "pg.h"

typedef struct snap_table {
    uint32_t relid;
    char *nsp, *name;
    int64_t estimate;
} snap_table;

struct pg_snap {
    snap_table *tables;
    int ntables, cur;
    int cursor_open;
    int64_t table_rows, table_t0;
    int64_t rows, estimate, t0, last_log;
    pg_datum *datums;
    int datums_cap;
};

static const char *first_line(PGresult *res, char *buf, size_t len)
{
    snprintf(buf, len, "%s", PQresultErrorMessage(res));
    buf[strcspn(buf, "\n")] = '\0';
    return buf;
}

static int exec_ok(pg_task *t, const char *sql, char *err, size_t errlen)
{
    char e[512];
    PGresult *res = PQexec(t->sql, sql);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok)
        snprintf(err, errlen, "snapshot: %.200s: %s", sql, first_line(res, e, sizeof(e)));
    PQclear(res);
    return ok ? 0 : -1;
}

static int list_tables(pg_task *t, pg_snap *s, char *err, size_t errlen)
{
    char e[512];
    const char *params[1] = {t->conf->publication};
    PGresult *res = PQexecParams(
        t->sql,
        "SELECT c.oid, n.nspname, c.relname, c.reltuples::bigint FROM pg_publication_tables p "
        "JOIN pg_namespace n ON n.nspname = p.schemaname "
        "JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = p.tablename "
        "WHERE p.pubname = $1 ORDER BY 2, 3",
        1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        snprintf(err, errlen, "snapshot: listing the tables of publication %s: %s",
                 t->conf->publication, first_line(res, e, sizeof(e)));
        PQclear(res);
        return -1;
    }
    int n = PQntuples(res);
    s->tables = calloc((size_t)(n ? n : 1), sizeof(*s->tables));
    for (int i = 0; s->tables && i < n; i++) {
        const char *nsp = PQgetvalue(res, i, 1), *name = PQgetvalue(res, i, 2);
        if (!pg_conf_table_included(t->conf, nsp, name) || pg_conf_is_signal(t->conf, nsp, name))
            continue;
        snap_table *tb = &s->tables[s->ntables++];
        tb->relid = (uint32_t)strtoul(PQgetvalue(res, i, 0), NULL, 10);
        tb->nsp = strdup(nsp);
        tb->name = strdup(name);
        tb->estimate = strtoll(PQgetvalue(res, i, 3), NULL, 10);
        if (tb->estimate > 0)
            s->estimate += tb->estimate;
    }
    PQclear(res);
    return s->tables ? 0 : (snprintf(err, errlen, "out of memory"), -1);
}

int pg_snap_begin(pg_task *t, const char *snapname, uint64_t lsn, char *err, size_t errlen)
{
    char sql[256], at[32];
    pg_snap *s = calloc(1, sizeof(*s));
    if (!s)
        return snprintf(err, errlen, "out of memory"), -1;
    t->snap = s;
    snprintf(sql, sizeof(sql), "SET TRANSACTION SNAPSHOT '%s'", snapname);
    if (exec_ok(t, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err, errlen) != 0 ||
        exec_ok(t, sql, err, errlen) != 0 || list_tables(t, s, err, errlen) != 0)
        return -1;
    s->t0 = s->last_log = pg_mono_ms();
    pg_lsn_format(lsn, at, sizeof(at));
    sluice_log(t->ctx, SLUICE_LOG_INFO, "snapshot at %s: %d tables, about %lld rows", at,
               s->ntables, (long long)s->estimate);
    sluice_metric_add(t->ctx, "snapshot.rows.estimated", s->estimate);
    return 0;
}

void pg_snap_free(pg_task *t)
{
    pg_snap *s = t->snap;
    if (!s)
        return;
    for (int i = 0; i < s->ntables; i++) {
        free(s->tables[i].nsp);
        free(s->tables[i].name);
    }
    free(s->tables);
    free(s->datums);
    free(s);
    t->snap = NULL;
}

/* ---- one table ------------------------------------------------------------ */

static void progress(pg_task *t, pg_snap *s, int force)
{
    int64_t now = pg_mono_ms();
    if (!force && now - s->last_log < 5000)
        return;
    s->last_log = now;
    double secs = (double)(now - s->t0) / 1000.0, rate = secs > 0 ? (double)s->rows / secs : 0;
    const snap_table *tb = &s->tables[s->cur < s->ntables ? s->cur : s->ntables - 1];
    if (s->estimate > 0 && rate > 0) {
        double left = (double)(s->estimate - s->rows) / rate;
        sluice_log(t->ctx, SLUICE_LOG_INFO,
                   "snapshot: %s.%s, %lld of about %lld rows (%.0f%%), %.0f rows/s, ETA %.0f s",
                   tb->nsp, tb->name, (long long)s->rows, (long long)s->estimate,
                   100.0 * (double)s->rows / (double)s->estimate, rate, left > 0 ? left : 0);
    } else {
        sluice_log(t->ctx, SLUICE_LOG_INFO, "snapshot: %s.%s, %lld rows, %.0f rows/s", tb->nsp,
                   tb->name, (long long)s->rows, rate);
    }
}

/* "DECLARE sluice_snapshot NO SCROLL CURSOR FOR SELECT c1, c2 FROM s.t" with
 * the columns in attnum order (the order of rel->cols), or NULL (OOM). */
static char *cursor_sql(pg_task *t, const pg_rel *rel, const snap_table *tb)
{
    size_t cap = 128 + strlen(tb->nsp) * 2 + strlen(tb->name) * 2, off;
    for (int i = 0; i < rel->ncols; i++)
        cap += strlen(rel->cols[i].name) * 2 + 4;
    char *sql = malloc(cap);
    if (!sql)
        return NULL;
    off = (size_t)snprintf(sql, cap, "DECLARE sluice_snapshot NO SCROLL CURSOR FOR SELECT ");
    for (int i = 0; i < rel->ncols; i++) {
        char *q = PQescapeIdentifier(t->sql, rel->cols[i].name, strlen(rel->cols[i].name));
        off += (size_t)snprintf(sql + off, cap - off, "%s%s", i ? ", " : "", q ? q : "");
        PQfreemem(q);
    }
    char *qs = PQescapeIdentifier(t->sql, tb->nsp, strlen(tb->nsp));
    char *qt = PQescapeIdentifier(t->sql, tb->name, strlen(tb->name));
    snprintf(sql + off, cap - off, " FROM %s.%s", qs ? qs : "", qt ? qt : "");
    PQfreemem(qs);
    PQfreemem(qt);
    return sql;
}

static int open_cursor(pg_task *t, pg_snap *s, char *err, size_t errlen)
{
    snap_table *tb = &s->tables[s->cur];
    pg_rel *rel = pg_rel_load(&t->rels, tb->relid, err, errlen);
    if (!rel)
        return -1;
    char *sql = rel->ncols ? cursor_sql(t, rel, tb) : NULL;
    if (rel->ncols && !sql)
        return snprintf(err, errlen, "out of memory"), -1;
    int rc = sql ? exec_ok(t, sql, err, errlen) : 0;
    free(sql);
    if (rc != 0)
        return -1;
    s->cursor_open = rel->ncols > 0;
    s->table_rows = 0;
    s->table_t0 = pg_mono_ms();
    sluice_log(t->ctx, SLUICE_LOG_INFO, "snapshot: table %d of %d, %s.%s (about %lld rows)",
               s->cur + 1, s->ntables, tb->nsp, tb->name,
               (long long)(tb->estimate > 0 ? tb->estimate : 0));
    return 0;
}

static void table_done(pg_task *t, pg_snap *s)
{
    snap_table *tb = &s->tables[s->cur];
    double secs = (double)(pg_mono_ms() - s->table_t0) / 1000.0;
    sluice_log(t->ctx, SLUICE_LOG_INFO, "snapshot: %s.%s done, %lld rows in %.1f s", tb->nsp,
               tb->name, (long long)s->table_rows, secs);
    sluice_metric_add(t->ctx, "snapshot.tables.done", 1);
    s->cursor_open = 0;
    s->cur++;
}

static int queue_rows(pg_task *t, pg_snap *s, PGresult *res, pg_rel *rel, char *err,
                      size_t errlen)
{
    int n = PQntuples(res), nf = PQnfields(res);
    if (nf > s->datums_cap) {
        pg_datum *d = realloc(s->datums, (size_t)nf * sizeof(*d));
        if (!d)
            return snprintf(err, errlen, "out of memory"), -1;
        s->datums = d;
        s->datums_cap = nf;
    }
    pg_src src = {pg_now_ms(), "true", SLUICE_NULL_POS, t->start_lsn};
    for (int r = 0; r < n; r++) {
        for (int c = 0; c < nf; c++) {
            int null = PQgetisnull(res, r, c);
            s->datums[c] = (pg_datum){null ? 'n' : 't', PQgetvalue(res, r, c),
                                      (uint32_t)PQgetlength(res, r, c)};
        }
        if (pg_task_queue_change(t, rel, 'r', NULL, 0, s->datums, nf, &src, err, errlen) != 0)
            return -1;
    }
    s->rows += n;
    s->table_rows += n;
    sluice_metric_add(t->ctx, "snapshot.rows", n);
    return 0;
}

int pg_snap_step(pg_task *t, size_t room, char *err, size_t errlen)
{
    pg_snap *s = t->snap;
    char sql[96], e[512];
    while (s->cur < s->ntables) {
        if (!s->cursor_open) {
            if (open_cursor(t, s, err, errlen) != 0)
                return -1;
            if (!s->cursor_open) {
                table_done(t, s);
                continue;
            }
        }
        pg_rel *rel = pg_rel_find(&t->rels, s->tables[s->cur].relid);
        size_t n = room < (size_t)t->conf->fetch_size ? room : (size_t)t->conf->fetch_size;
        snprintf(sql, sizeof(sql), "FETCH %zu FROM sluice_snapshot", n);
        PGresult *res = PQexec(t->sql, sql);
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            snprintf(err, errlen, "snapshot of %s.%s: %s", s->tables[s->cur].nsp,
                     s->tables[s->cur].name, first_line(res, e, sizeof(e)));
            PQclear(res);
            return -1;
        }
        int rows = PQntuples(res);
        int rc = rows && rel && rel->included ? queue_rows(t, s, res, rel, err, errlen) : 0;
        PQclear(res);
        if (rc != 0)
            return -1;
        if (rows > 0) {
            progress(t, s, 0);
            return 0;
        }
        if (exec_ok(t, "CLOSE sluice_snapshot", err, errlen) != 0)
            return -1;
        table_done(t, s);
    }
    if (exec_ok(t, "COMMIT", err, errlen) != 0)
        return -1;
    progress(t, s, 1);
    sluice_log(t->ctx, SLUICE_LOG_INFO, "snapshot complete: %lld rows from %d tables in %.1f s",
               (long long)s->rows, s->ntables, (double)(pg_mono_ms() - s->t0) / 1000.0);
    pg_snap_free(t);
    return 1;
}
