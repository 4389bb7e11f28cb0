/*
 * pg_repl.c - the walsender connection: libpq with replication=database.
 *
 * Commands: CREATE_REPLICATION_SLOT "<slot>" LOGICAL pgoutput
 * EXPORT_SNAPSHOT | NOEXPORT_SNAPSHOT (answers slot_name, consistent_point,
 * snapshot_name, output_plugin; the snapshot stays importable until the
 * next command on this connection, so the snapshot is read before
 * START_REPLICATION is sent), then
 *   START_REPLICATION SLOT "<slot>" LOGICAL X/Y (proto_version '1',
 *   publication_names '"<pub>"' [, streaming 'on' with proto_version '2']
 *   [, messages 'true' from PostgreSQL 14])
 * which switches the connection to COPY BOTH mode.
 *
 * CopyData from the server (all integers big-endian):
 *   'w' XLogData        Int64 dataStart, Int64 walEnd, Int64 sendTime, Byte[] pgoutput message
 *   'k' Keepalive       Int64 walEnd, Int64 sendTime, Byte1 replyRequested
 * CopyData to the server:
 *   'r' Standby status  Int64 written, Int64 flushed, Int64 applied,
 *                       Int64 clock (us since 2000-01-01), Byte1 replyRequested
 *
 * We report written = flushed = applied = the last LSN whose records are
 * durable in the broker (told by commit()); PostgreSQL moves the slot's
 * confirmed_flush_lsn to it and may recycle WAL before it. Never more.
 *
 * Reading is non-blocking: PQconsumeInput + PQgetCopyData(async) and a
 * poll() on the socket with the caller's timeout, so a task's poll returns
 * promptly on an idle database.
 *
 * Runs on: the task's thread.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pg.h"

#define PG_EPOCH_OFFSET_US 946684800000000LL /* 2000-01-01 - 1970-01-01 */

int64_t pg_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t pg_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int pg_lsn_parse(const char *s, uint64_t *lsn)
{
    unsigned int hi, lo;
    char extra;
    if (!s || sscanf(s, "%X/%X%c", &hi, &lo, &extra) != 2)
        return -1;
    *lsn = (uint64_t)hi << 32 | lo;
    return 0;
}

void pg_lsn_format(uint64_t lsn, char *buf, size_t len)
{
    snprintf(buf, len, "%X/%X", (unsigned)(lsn >> 32), (unsigned)lsn);
}

static void put64(char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (char)(v & 0xff);
}

static uint64_t get64(const char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | (uint8_t)p[i];
    return v;
}

/* The first line of a libpq error message, without the trailing newline. */
static const char *conn_error(PGconn *c, char *buf, size_t len)
{
    snprintf(buf, len, "%s", c ? PQerrorMessage(c) : "out of memory");
    buf[strcspn(buf, "\n")] = '\0';
    return buf;
}

int pg_repl_connect(pg_repl *r, const pg_conf *conf, char *err, size_t errlen)
{
    const char *keys[16], *vals[16];
    char port[16], e[512];
    pg_conf_conninfo(conf, 1, keys, vals, port);
    memset(r, 0, sizeof(*r));
    r->conn = PQconnectdbParams(keys, vals, 0);
    if (!r->conn || PQstatus(r->conn) != CONNECTION_OK) {
        snprintf(err, errlen, "replication connection to %s:%lld database %s as %s: %s", conf->host,
                 (long long)conf->port, conf->dbname, conf->user, conn_error(r->conn, e, sizeof(e)));
        pg_repl_close(r);
        return -1;
    }
    r->server_version = PQserverVersion(r->conn);
    r->last_status_ms = pg_mono_ms();
    return 0;
}

void pg_repl_close(pg_repl *r)
{
    if (r->copybuf)
        PQfreemem(r->copybuf);
    if (r->conn)
        PQfinish(r->conn);
    memset(r, 0, sizeof(*r));
}

int pg_repl_create_slot(pg_repl *r, const char *slot, int export, int temporary, uint64_t *lsn,
                        char *snapname, size_t snaplen, char *err, size_t errlen)
{
    char sql[512], e[512];
    char *ident = PQescapeIdentifier(r->conn, slot, strlen(slot));
    snprintf(sql, sizeof(sql), "CREATE_REPLICATION_SLOT %s%s LOGICAL pgoutput %s",
             ident ? ident : "", temporary ? " TEMPORARY" : "",
             export ? "EXPORT_SNAPSHOT" : "NOEXPORT_SNAPSHOT");
    PQfreemem(ident);
    PGresult *res = PQexec(r->conn, sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 ||
        pg_lsn_parse(PQgetvalue(res, 0, 1), lsn) != 0) {
        snprintf(err, errlen, "creating %sreplication slot %s: %s", temporary ? "temporary " : "",
                 slot, conn_error(r->conn, e, sizeof(e)));
        PQclear(res);
        return -1;
    }
    if (snapname)
        snprintf(snapname, snaplen, "%s", PQgetisnull(res, 0, 2) ? "" : PQgetvalue(res, 0, 2));
    PQclear(res);
    return 0;
}

int pg_repl_start(pg_repl *r, const char *slot, uint64_t lsn, const char *publication, int proto,
                  int streaming, char *err, size_t errlen)
{
    char sql[1024], at[32], e[512];
    char *ident = PQescapeIdentifier(r->conn, slot, strlen(slot));
    /* publication_names is a literal holding a list of identifiers */
    char *pub = PQescapeIdentifier(r->conn, publication, strlen(publication));
    char *publit = pub ? PQescapeLiteral(r->conn, pub, strlen(pub)) : NULL;
    pg_lsn_format(lsn, at, sizeof(at));
    /* logical decoding messages (pg_logical_emit_message) only when asked
     * for, and pgoutput knows the option from PostgreSQL 14 on */
    snprintf(sql, sizeof(sql),
             "START_REPLICATION SLOT %s LOGICAL %s (proto_version '%d', publication_names %s%s%s)",
             ident ? ident : "", at, proto, publit ? publit : "''",
             streaming ? ", streaming 'on'" : "",
             r->server_version >= 140000 ? ", messages 'true'" : "");
    PQfreemem(ident);
    PQfreemem(pub);
    PQfreemem(publit);
    PGresult *res = PQexec(r->conn, sql);
    int ok = PQresultStatus(res) == PGRES_COPY_BOTH;
    PQclear(res);
    if (!ok) {
        snprintf(err, errlen, "START_REPLICATION of slot %s at %s: %s", slot, at,
                 conn_error(r->conn, e, sizeof(e)));
        return -1;
    }
    if (PQsetnonblocking(r->conn, 1) != 0) {
        snprintf(err, errlen, "replication connection: cannot go non-blocking");
        return -1;
    }
    r->streaming = 1;
    r->flushed = lsn;
    return 0;
}

/* ---- reading ------------------------------------------------------------ */

static int wait_readable(pg_repl *r, int timeout_ms)
{
    struct pollfd p = {.fd = PQsocket(r->conn), .events = POLLIN};
    if (p.fd < 0)
        return -1;
    int rc = poll(&p, 1, timeout_ms);
    return rc < 0 && errno != EINTR ? -1 : 0;
}

/* The end of the COPY stream: the server finished or failed. */
static int copy_ended(pg_repl *r, char *err, size_t errlen)
{
    char e[512];
    PGresult *res = PQgetResult(r->conn);
    if (res && PQresultStatus(res) == PGRES_COMMAND_OK)
        snprintf(err, errlen, "the server ended replication");
    else
        snprintf(err, errlen, "replication stream: %s", conn_error(r->conn, e, sizeof(e)));
    PQclear(res);
    return -1;
}

/* Handles one CopyData. Returns 1 for XLogData, 0 for a keepalive, -1. */
static int copy_message(pg_repl *r, char *buf, int n, const uint8_t **data, size_t *len,
                        uint64_t *wal_start, char *err, size_t errlen)
{
    if (n >= 25 && buf[0] == 'w') {
        *wal_start = get64(buf + 1);
        uint64_t end = get64(buf + 9);
        if (end > r->wal_end)
            r->wal_end = end;
        *data = (const uint8_t *)buf + 25;
        *len = (size_t)n - 25;
        return 1;
    }
    if (n >= 18 && buf[0] == 'k') {
        uint64_t end = get64(buf + 1);
        if (end > r->wal_end)
            r->wal_end = end;
        if (buf[17] && pg_repl_status(r, r->flushed, 1, 0, err, errlen) != 0)
            return -1;
        return 0;
    }
    snprintf(err, errlen, "replication stream: unexpected CopyData of %d bytes starting 0x%02x", n,
             n > 0 ? (uint8_t)buf[0] : 0);
    return -1;
}

int pg_repl_read(pg_repl *r, int timeout_ms, const uint8_t **data, size_t *len,
                 uint64_t *wal_start, char *err, size_t errlen)
{
    char e[512];
    int waited = 0;
    if (r->copybuf) {
        PQfreemem(r->copybuf);
        r->copybuf = NULL;
    }
    if (PQflush(r->conn) < 0) { /* a status update left half-sent (non-blocking) */
        snprintf(err, errlen, "replication stream: %s", conn_error(r->conn, e, sizeof(e)));
        return -1;
    }
    for (;;) {
        char *buf = NULL;
        int n = PQgetCopyData(r->conn, &buf, 1);
        if (n > 0) {
            int rc = copy_message(r, buf, n, data, len, wal_start, err, errlen);
            if (rc == 1) {
                r->copybuf = buf;
                return 1;
            }
            PQfreemem(buf);
            if (rc < 0)
                return -1;
            continue;
        }
        if (n == -1)
            return copy_ended(r, err, errlen);
        if (n == -2) {
            snprintf(err, errlen, "replication stream: %s", conn_error(r->conn, e, sizeof(e)));
            return -1;
        }
        if (waited)
            return 0;
        if (wait_readable(r, timeout_ms) != 0 || PQconsumeInput(r->conn) == 0) {
            snprintf(err, errlen, "replication stream: %s", conn_error(r->conn, e, sizeof(e)));
            return -1;
        }
        waited = 1;
    }
}

int pg_repl_status(pg_repl *r, uint64_t flush, int force, int64_t interval_ms, char *err,
                   size_t errlen)
{
    char msg[34], e[512];
    int64_t now = pg_mono_ms();
    if (!r->streaming)
        return 0;
    if (!force && flush == r->flushed && now - r->last_status_ms < interval_ms)
        return 0;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t clock_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000 - PG_EPOCH_OFFSET_US;
    msg[0] = 'r';
    put64(msg + 1, flush);
    put64(msg + 9, flush);
    put64(msg + 17, flush);
    put64(msg + 25, (uint64_t)clock_us);
    msg[33] = 0;
    if (PQputCopyData(r->conn, msg, sizeof(msg)) != 1 || PQflush(r->conn) < 0) {
        snprintf(err, errlen, "standby status update: %s", conn_error(r->conn, e, sizeof(e)));
        return -1;
    }
    r->flushed = flush;
    r->last_status_ms = now;
    return 0;
}
