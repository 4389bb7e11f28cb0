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
 *   COPY (SELECT <columns> FROM t) TO STDOUT;  -- one table after the other
 *   COMMIT;
 *
 * REPEATABLE READ whatever snapshot.isolation.mode says (serializable, the
 * default, or repeatable_read; pg_conf.c refuses the others): PostgreSQL
 * refuses to import into a SERIALIZABLE transaction a snapshot exported
 * by a non-serializable one ("a serializable transaction cannot import a
 * snapshot from a non-serializable transaction"), and a logical slot's
 * walsender exports its snapshot as REPEATABLE READ. Read only and on one
 * fixed snapshot, the transaction sees exactly the rows committed before
 * the slot's consistent point either way, which is the consistency the
 * stream needs; SERIALIZABLE DEFERRABLE would only wait for a snapshot
 * free of read-only anomalies, not the slot's.
 *
 * So every row as of the slot's consistent point is read exactly once, as
 * op 'r' records with source.snapshot "true" ("last" for the very last
 * row, set by postgres.c). Streaming then starts at the consistent point:
 * nothing is missed and nothing is read twice.
 *
 * Why COPY and not a cursor: FETCH is a round trip per batch during which
 * the server waits for us and we wait for it; COPY streams, the server
 * producing rows while we convert the previous ones, and a table is still
 * never in memory whole: libpq hands over one row (one CopyData message) at
 * a time and TCP back-pressure holds the server when we fall behind. A step
 * reads at most min(batch room, snapshot.fetch.size) rows and returns; the
 * COPY stays open on t->sql between steps (nothing else uses that
 * connection during the snapshot).
 *
 * COPY text format, as the server writes it (the same output functions as a
 * text-format SELECT, so the values parse as before): a row is one line,
 * columns separated by a tab, NULL written \N, and inside a value a
 * backslash escapes \b \f \n \r \t \v, \ooo (octal), \xhh (hex) or
 * the next character itself. pg_copy_row (pg_decode.c) decodes a row in
 * place in the buffer libpq hands it in: nothing of ours is allocated or
 * copied per row before the values go into their avro record.
 *
 * Progress: one log line per table started and finished, and one every
 * 5 s: the table's rows done / its estimate (pg_class.reltuples; -1 before
 * the first ANALYZE counts as unknown), the same for all tables, rows/s and
 * ETA; metrics snapshot.rows, snapshot.rows.estimated, snapshot.tables.done
 * (counters), snapshot.tables.total, snapshot.table.number (1-based, the
 * table being read), snapshot.table.rows and snapshot.table.rows.estimated
 * (of that table), snapshot.rows.per.second and snapshot.eta.seconds.
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
    int copy_open; /* COPY OUT of tables[cur] in progress on t->sql */
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
        if (!pg_conf_table_included(t->conf, nsp, name) || pg_conf_is_signal(t->conf, nsp, name) ||
            !pg_conf_snapshot_included(t->conf, nsp, name))
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
    sluice_metric_set(t->ctx, "snapshot.tables.total", s->ntables);
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
    double secs = (double)(now - s->t0) / 1000.0, rate = secs > 0 ? (double)s->rows / secs : 0;
    double left = s->estimate > s->rows && rate > 0 ? (double)(s->estimate - s->rows) / rate : 0;
    static const snap_table none = {.nsp = "-", .name = "(no table)"};
    const snap_table *tb =
        s->ntables ? &s->tables[s->cur < s->ntables ? s->cur : s->ntables - 1] : &none;
    int64_t tb_est = tb->estimate > 0 ? tb->estimate : 0;
    /* /status and /metrics: rows done (snapshot.rows) of about
     * snapshot.rows.estimated, and these */
    sluice_metric_set(t->ctx, "snapshot.rows.per.second", (int64_t)rate);
    sluice_metric_set(t->ctx, "snapshot.eta.seconds", (int64_t)left);
    sluice_metric_set(t->ctx, "snapshot.table.number",
                      s->cur < s->ntables ? s->cur + 1 : s->ntables);
    sluice_metric_set(t->ctx, "snapshot.table.rows", s->table_rows);
    sluice_metric_set(t->ctx, "snapshot.table.rows.estimated", tb_est);
    if (!force && now - s->last_log < 5000)
        return;
    s->last_log = now;
    char table[64] = "", all[96] = "";
    if (tb_est > 0)
        snprintf(table, sizeof(table), " of about %lld (%.0f%%)", (long long)tb_est,
                 100.0 * (double)s->table_rows / (double)tb_est);
    if (s->estimate > 0)
        snprintf(all, sizeof(all), " of about %lld (%.0f%%)", (long long)s->estimate,
                 100.0 * (double)s->rows / (double)s->estimate);
    sluice_log(
        t->ctx, SLUICE_LOG_INFO,
        "snapshot: table %d of %d, %s.%s: %lld rows%s; all tables: %lld rows%s, %.0f rows/s, "
        "ETA %.0f s",
        s->cur < s->ntables ? s->cur + 1 : s->ntables, s->ntables, tb->nsp, tb->name,
        (long long)s->table_rows, table, (long long)s->rows, all, rate, left);
}

/* "COPY (SELECT c1, c2 FROM s.t) TO STDOUT" with the columns in attnum
 * order (the order of rel->cols), or NULL (OOM). A SELECT, not COPY of the
 * table itself, so inheritance children and partitions are read as before. */
static char *copy_sql(pg_task *t, const pg_rel *rel, const snap_table *tb)
{
    size_t cap = 128 + strlen(tb->nsp) * 2 + strlen(tb->name) * 2, off;
    for (int i = 0; i < rel->ncols; i++)
        cap += strlen(rel->cols[i].name) * 2 + 4;
    char *sql = malloc(cap);
    if (!sql)
        return NULL;
    off = (size_t)snprintf(sql, cap, "COPY (SELECT ");
    for (int i = 0; i < rel->ncols; i++) {
        char *q = PQescapeIdentifier(t->sql, rel->cols[i].name, strlen(rel->cols[i].name));
        off += (size_t)snprintf(sql + off, cap - off, "%s%s", i ? ", " : "", q ? q : "");
        PQfreemem(q);
    }
    char *qs = PQescapeIdentifier(t->sql, tb->nsp, strlen(tb->nsp));
    char *qt = PQescapeIdentifier(t->sql, tb->name, strlen(tb->name));
    snprintf(sql + off, cap - off, " FROM %s.%s) TO STDOUT", qs ? qs : "", qt ? qt : "");
    PQfreemem(qs);
    PQfreemem(qt);
    return sql;
}

static int open_copy(pg_task *t, pg_snap *s, char *err, size_t errlen)
{
    char e[512];
    snap_table *tb = &s->tables[s->cur];
    pg_rel *rel = pg_rel_load(&t->rels, tb->relid, err, errlen);
    if (!rel)
        return -1;
    s->table_rows = 0;
    s->table_t0 = pg_mono_ms();
    sluice_log(t->ctx, SLUICE_LOG_INFO, "snapshot: table %d of %d, %s.%s (about %lld rows)",
               s->cur + 1, s->ntables, tb->nsp, tb->name,
               (long long)(tb->estimate > 0 ? tb->estimate : 0));
    if (!rel->ncols)
        return 0;
    char *sql = copy_sql(t, rel, tb);
    if (!sql)
        return snprintf(err, errlen, "out of memory"), -1;
    PGresult *res = PQexec(t->sql, sql);
    if (PQresultStatus(res) != PGRES_COPY_OUT) {
        snprintf(err, errlen, "snapshot: %.200s: %s", sql, first_line(res, e, sizeof(e)));
        PQclear(res);
        free(sql);
        return -1;
    }
    PQclear(res);
    free(sql);
    s->copy_open = 1;
    return 0;
}

static void table_done(pg_task *t, pg_snap *s)
{
    snap_table *tb = &s->tables[s->cur];
    double secs = (double)(pg_mono_ms() - s->table_t0) / 1000.0;
    sluice_log(t->ctx, SLUICE_LOG_INFO, "snapshot: %s.%s done, %lld rows in %.1f s", tb->nsp,
               tb->name, (long long)s->table_rows, secs);
    sluice_metric_add(t->ctx, "snapshot.tables.done", 1);
    s->copy_open = 0;
    s->cur++;
}

/* Reads up to max rows of the open COPY into the queue. Returns 1 when the
 * table's COPY ended (successfully), 0 when rows may remain, -1. */
static int copy_rows(pg_task *t, pg_snap *s, pg_rel *rel, size_t max, char *err, size_t errlen)
{
    char e[512];
    const snap_table *tb = &s->tables[s->cur];
    int want = rel->ncols;
    if (want > s->datums_cap) {
        pg_datum *d = realloc(s->datums, (size_t)want * sizeof(*d));
        if (!d)
            return snprintf(err, errlen, "out of memory"), -1;
        s->datums = d;
        s->datums_cap = want;
    }
    /* every row of the step: one source and one position, formatted once */
    char pos[PG_POS_MAX];
    size_t pos_len = pg_task_snapshot_position(t, pos);
    pg_src src = {pg_now_ms(), "true", SLUICE_NULL_POS, t->start_lsn, pos, pos_len};
    size_t rows = 0;
    int rc = 0;
    while (rows < max) {
        char *buf = NULL;
        int n = PQgetCopyData(t->sql, &buf, 0);
        if (n == -1) { /* end of the COPY: its result says how it went */
            PGresult *res = PQgetResult(t->sql);
            if (PQresultStatus(res) != PGRES_COMMAND_OK)
                rc = -1, snprintf(err, errlen, "snapshot of %s.%s: %s", tb->nsp, tb->name,
                                  first_line(res, e, sizeof(e)));
            PQclear(res);
            while ((res = PQgetResult(t->sql)))
                PQclear(res);
            rc = rc ? rc : 1;
            break;
        }
        if (n < 0) {
            snprintf(err, errlen, "snapshot of %s.%s: %s", tb->nsp, tb->name,
                     PQerrorMessage(t->sql));
            err[strcspn(err, "\n")] = '\0';
            rc = -1;
            break;
        }
        int nf = pg_copy_row(buf, (size_t)n, s->datums, s->datums_cap);
        if (nf != want) {
            snprintf(err, errlen, "snapshot of %s.%s: a COPY row has %s columns (%d expected)",
                     tb->nsp, tb->name,
                     nf < 0      ? "malformed"
                     : nf > want ? "more"
                                 : "fewer",
                     want);
            PQfreemem(buf);
            rc = -1;
            break;
        }
        rc = rel->included
                 ? pg_task_queue_change(t, rel, 'r', NULL, 0, s->datums, nf, &src, err, errlen)
                 : 0;
        PQfreemem(buf);
        if (rc != 0)
            break;
        rows++;
    }
    s->rows += (int64_t)rows;
    s->table_rows += (int64_t)rows;
    sluice_metric_add(t->ctx, "snapshot.rows", (int64_t)rows);
    return rc;
}

int pg_snap_step(pg_task *t, size_t room, char *err, size_t errlen)
{
    pg_snap *s = t->snap;
    while (s->cur < s->ntables) {
        if (!s->copy_open) {
            if (open_copy(t, s, err, errlen) != 0)
                return -1;
            if (!s->copy_open) { /* a table without columns */
                table_done(t, s);
                continue;
            }
        }
        pg_rel *rel = pg_rel_find(&t->rels, s->tables[s->cur].relid);
        if (!rel)
            return snprintf(err, errlen, "snapshot of %s.%s: relation %u vanished from the cache",
                            s->tables[s->cur].nsp, s->tables[s->cur].name, s->tables[s->cur].relid),
                   -1;
        size_t n = room < (size_t)t->conf->fetch_size ? room : (size_t)t->conf->fetch_size;
        int rc = copy_rows(t, s, rel, n, err, errlen);
        if (rc < 0)
            return -1;
        if (rc == 0) {
            progress(t, s, 0);
            return 0;
        }
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
