/*
 * pg_conf.c - the postgres source's options, declared once with Debezium's
 * names (so a Debezium connector config carries over), conf_create /
 * conf_destroy, the table and column filters and the libpq conninfo.
 *
 * Filters: schema.include.list / schema.exclude.list, table.include.list /
 * table.exclude.list and column.exclude.list are comma-separated POSIX
 * extended regular expressions matched against the whole schema name,
 * "schema.table" and "schema.table.column" (message.prefix.include.list /
 * exclude.list: a logical decoding message's prefix), as in Debezium (one
 * matcher, filter_match, for all of them). An include list, when set, admits only
 * what it matches; an exclude list removes what it matches; a table passes
 * when its schema and itself pass. Include and exclude of one kind are
 * mutually exclusive (Debezium refuses both). A regex that does not compile
 * is a config error naming the option and the expression. The filters
 * decide the snapshot's tables, the streamed ones and, under
 * publication.autocreate.mode=filtered, the publication's.
 *
 * Options sluice takes only for compatibility: plugin.name must be pgoutput
 * (the only decoder sluice speaks; Debezium's default, decoderbufs, is a
 * server extension sluice cannot read), and snapshot.isolation.mode is
 * serializable or repeatable_read, both run as REPEATABLE READ (see
 * pg_snapshot.c for why); read_committed and read_uncommitted are refused:
 * a statement-level snapshot cannot be the slot's exported snapshot, so the
 * snapshot would not match where streaming starts.
 *
 * Session settings: both connections run with DateStyle=ISO,
 * IntervalStyle=iso_8601, TimeZone=UTC, bytea_output=hex, lc_monetary=C,
 * extra_float_digits=3 (float4 / float8 text that reads back exactly) and
 * client_encoding=UTF8 (Avro strings are UTF-8; the server converts from a
 * LATIN1 database, and a role set to LATIN1 would fail every character
 * LATIN1 lacks), the text forms pg_types.c parses. pgoutput renders values with the walsender
 * session's settings, so the replication connection needs them as much as
 * the snapshot's. They go in the startup packet (libpq `options`), which
 * takes precedence over ALTER DATABASE / ALTER ROLE ... SET: a database set
 * to bytea_output=escape would otherwise fail every bytea value, and a
 * lc_monetary of 'de_DE' turn '12,50 EUR' into 1250.00. (No value holds a
 * space or a backslash, which `options` would need escaped.)
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pg.h"

static const char *const autocreate_valid[] = {"all_tables", "filtered", "disabled", NULL};
static const char *const snapshot_valid[] = {"initial",  "always",      "initial_only",
                                             "no_data",  "when_needed", "never", NULL};
static const char *const decimal_valid[] = {"precise", "double", "string", NULL};
static const char *const time_valid[] = {"adaptive", "adaptive_time_microseconds", "connect",
                                         NULL};
static const char *const hstore_valid[] = {"json", "map", NULL};
static const char *const binary_valid[] = {"bytes", "base64", "base64-url-safe", "hex", NULL};
static const char *const plugin_valid[] = {"pgoutput", NULL};
static const char *const skipped_valid[] = {"c", "u", "d", "t", "none", NULL};
static const char *const isolation_valid[] = {"serializable", "repeatable_read", NULL};
static const char *const sslmode_valid[] = {"disable", "allow",     "prefer",
                                            "require", "verify-ca", "verify-full", NULL};

#define OFF(f) offsetof(pg_conf, f)
const sluice_option pg_options[] = {
    {"database.hostname", SLUICE_OPT_STRING, "localhost", 0, 0, NULL, OFF(host),
     "Host name or address of the PostgreSQL server."},
    {"database.port", SLUICE_OPT_INT, "5432", 0, 0, NULL, OFF(port), "Port of the server."},
    {"database.user", SLUICE_OPT_STRING, NULL, 1, 0, NULL, OFF(user),
     "User with the REPLICATION attribute (and SELECT on the captured tables)."},
    {"database.password", SLUICE_OPT_PASSWORD, NULL, 0, 1, NULL, OFF(password),
     "Password of database.user."},
    {"database.dbname", SLUICE_OPT_STRING, NULL, 1, 0, NULL, OFF(dbname),
     "The database to capture."},
    {"database.sslmode", SLUICE_OPT_STRING, "prefer", 0, 0, sslmode_valid, OFF(sslmode),
     "libpq sslmode of both connections."},
    {"database.sslrootcert", SLUICE_OPT_STRING, NULL, 0, 0, NULL, OFF(sslrootcert),
     "File of the certificate authorities the server's certificate must chain to "
     "(verify-ca, verify-full)."},
    {"database.sslcert", SLUICE_OPT_STRING, NULL, 0, 0, NULL, OFF(sslcert),
     "File of the client certificate sent to the server (cert authentication)."},
    {"database.sslkey", SLUICE_OPT_STRING, NULL, 0, 0, NULL, OFF(sslkey),
     "File of the client certificate's private key."},
    {"database.sslpassword", SLUICE_OPT_PASSWORD, NULL, 0, 1, NULL, OFF(sslpassword),
     "Password of an encrypted database.sslkey."},
    {"database.initial.statements", SLUICE_OPT_STRING, NULL, 0, 0, NULL, OFF(initial_statements),
     "SQL statements separated by ';' (';;' is a ';' inside one), run in order on the "
     "connection for queries and the snapshot (not the replication one) each time it is "
     "opened; one that fails fails the task."},
    {"topic.prefix", SLUICE_OPT_STRING, NULL, 1, 0, NULL, OFF(topic_prefix),
     "Topics are <topic.prefix>.<schema>.<table>; also source.name."},
    {"slot.name", SLUICE_OPT_STRING, "debezium", 0, 0, NULL, OFF(slot),
     "Logical replication slot (pgoutput), created when missing."},
    {"publication.name", SLUICE_OPT_STRING, "dbz_publication", 0, 0, NULL, OFF(publication),
     "Publication the slot streams."},
    {"publication.autocreate.mode", SLUICE_OPT_STRING, "all_tables", 0, 0, autocreate_valid,
     OFF(autocreate),
     "A missing publication is created FOR ALL TABLES (all_tables), for the tables the filters "
     "admit (filtered), or is an error (disabled)."},
    {"plugin.name", SLUICE_OPT_STRING, "pgoutput", 0, 0, plugin_valid, OFF(plugin_name),
     "Logical decoding plugin of the slot. sluice supports pgoutput only (built into "
     "PostgreSQL 10+); Debezium's decoderbufs and wal2json are refused."},
    {"slot.drop.on.stop", SLUICE_OPT_BOOL, "false", 0, 0, NULL, OFF(slot_drop),
     "Drop the replication slot when the task stops cleanly (connector deleted or stopped, "
     "worker shut down), not when it fails or crashes. For tests and development: the next "
     "start finds no slot, so the changes in between are lost (snapshot.mode=when_needed "
     "takes a new snapshot)."},
    {"schema.include.list", SLUICE_OPT_LIST, NULL, 0, 0, NULL, SLUICE_NO_OFFSET,
     "Regular expressions of schema names to capture (whole name); empty = every schema. "
     "Not with schema.exclude.list."},
    {"schema.exclude.list", SLUICE_OPT_LIST, NULL, 0, 0, NULL, SLUICE_NO_OFFSET,
     "Regular expressions of schema names not to capture. Not with schema.include.list."},
    {"table.include.list", SLUICE_OPT_LIST, NULL, 0, 0, NULL, SLUICE_NO_OFFSET,
     "Regular expressions of schema.table to capture; empty = every published table."},
    {"table.exclude.list", SLUICE_OPT_LIST, NULL, 0, 0, NULL, SLUICE_NO_OFFSET,
     "Regular expressions of schema.table not to capture. Not with table.include.list."},
    {"column.include.list", SLUICE_OPT_LIST, NULL, 0, 0, NULL, SLUICE_NO_OFFSET,
     "Regular expressions of schema.table.column: only the columns they name are in the "
     "records' values (key columns stay in the key). Not with column.exclude.list."},
    {"column.exclude.list", SLUICE_OPT_LIST, NULL, 0, 0, NULL, SLUICE_NO_OFFSET,
     "Regular expressions of schema.table.column left out of the records' values (key "
     "columns stay in the key). Not with column.include.list."},
    {"snapshot.mode", SLUICE_OPT_STRING, "initial", 0, 0, snapshot_valid, OFF(snapshot_mode_s),
     "initial: snapshot when no position is stored, then stream; always: snapshot at every "
     "start; initial_only: snapshot and stop; no_data (never): stream only; when_needed: "
     "snapshot also when the stored position can no longer be streamed."},
    {"snapshot.isolation.mode", SLUICE_OPT_STRING, "serializable", 0, 0, isolation_valid,
     OFF(isolation_s),
     "serializable or repeatable_read: both read the slot's exported snapshot in a REPEATABLE "
     "READ READ ONLY transaction (PostgreSQL lets no SERIALIZABLE transaction import a "
     "replication slot's snapshot; read-only, one snapshot, it sees the same rows). "
     "read_committed and read_uncommitted are refused: they cannot use the exported "
     "snapshot, so the snapshot would not match where streaming starts."},
    {"max.batch.size", SLUICE_OPT_INT, "2048", 0, 0, NULL, OFF(max_batch),
     "Most records one poll hands to the worker (a batch; the worker's own limit may be "
     "lower)."},
    {"poll.interval.ms", SLUICE_OPT_INT, "500", 0, 0, NULL, OFF(poll_interval_ms),
     "How long a poll waits for changes when none are there before it returns an empty batch "
     "(a change that arrives ends the wait at once)."},
    {"snapshot.fetch.size", SLUICE_OPT_INT, "10240", 0, 0, NULL, OFF(fetch_size),
     "Most rows the snapshot reads from its COPY stream per poll (capped by the batch room)."},
    {"message.key.columns", SLUICE_OPT_STRING, NULL, 0, 0, NULL, SLUICE_NO_OFFSET,
     "Keys other than the primary key: <regex of schema.table>:<column>,<column> entries "
     "separated by ';'. The named columns of a matching table (in the table's order) form "
     "its records' key, nullable ones as optional fields; a table without a primary key "
     "gets one this way."},
    {"snapshot.include.collection.list", SLUICE_OPT_LIST, NULL, 0, 0, NULL, SLUICE_NO_OFFSET,
     "Regular expressions of schema.table: the captured tables the initial snapshot reads; "
     "the others are streamed only. Empty: every captured table."},
    {"topic.heartbeat.prefix", SLUICE_OPT_STRING, "__debezium-heartbeat", 0, 0, NULL,
     OFF(heartbeat_prefix), "Heartbeats go to <topic.heartbeat.prefix>.<topic.prefix>."},
    {"topic.transaction", SLUICE_OPT_STRING, "transaction", 0, 0, NULL, OFF(tx_topic),
     "Transaction metadata goes to <topic.prefix>.<topic.transaction>."},
    {"heartbeat.interval.ms", SLUICE_OPT_INT, "0", 0, 0, NULL, OFF(heartbeat_ms),
     "Emit a heartbeat record to <topic.heartbeat.prefix>.<topic.prefix> this often, so the "
     "confirmed LSN moves on idle databases; 0 = never."},
    {"heartbeat.action.query", SLUICE_OPT_STRING, NULL, 0, 0, NULL, OFF(heartbeat_query),
     "SQL run on the database before each heartbeat (e.g. an UPDATE of a heartbeat table)."},
    {"provide.transaction.metadata", SLUICE_OPT_BOOL, "false", 0, 0, NULL, OFF(tx_metadata),
     "Emit BEGIN and END events to <topic.prefix>.<topic.transaction>."},
    {"skipped.operations", SLUICE_OPT_LIST, "t", 0, 0, skipped_valid, SLUICE_NO_OFFSET,
     "Operations whose records are not emitted: c (insert), u (update), d (delete, and its "
     "tombstone), t (truncate), or none. The position still moves past them."},
    {"include.unknown.datatypes", SLUICE_OPT_BOOL, "false", 0, 0, NULL, OFF(include_unknown),
     "Columns of a type sluice does not map (composite types, geometric types but point, "
     "tsvector, extension types but citext, ltree and hstore...): left out of the schema and the "
     "records (false), or carried as "
     "their text form, a string (true). Key columns are always kept."},
    {"tombstones.on.delete", SLUICE_OPT_BOOL, "true", 0, 0, NULL, OFF(tombstones),
     "Follow each delete by a tombstone (same key, null value)."},
    {"unavailable.value.placeholder", SLUICE_OPT_STRING, "__debezium_unavailable_value", 0, 0, NULL,
     OFF(placeholder),
     "Value of an unchanged TOASTed column missing from an update: the string, its bytes "
     "(bytea), or an array of it (arrays: one element, or one number per byte)."},
    {"decimal.handling.mode", SLUICE_OPT_STRING, "precise", 0, 0, decimal_valid,
     OFF(decimal_mode_s),
     "numeric and money as Avro decimal (precise), double, or string. Variable-scale numeric "
     "under precise is io.debezium.data.VariableScaleDecimal {scale, value}."},
    {"time.precision.mode", SLUICE_OPT_STRING, "adaptive", 0, 0, time_valid, OFF(time_mode_s),
     "adaptive: millisecond or microsecond semantic types by the column's precision; "
     "adaptive_time_microseconds: time always MicroTime; connect: Kafka Connect's logical "
     "types (milliseconds)."},
    {"binary.handling.mode", SLUICE_OPT_STRING, "bytes", 0, 0, binary_valid, OFF(binary_mode_s),
     "bytea columns as Avro bytes, or as a string of them in base64, base64-url-safe (- and _, "
     "padded) or hex (lower case)."},
    {"hstore.handling.mode", SLUICE_OPT_STRING, "json", 0, 0, hstore_valid, OFF(hstore_mode_s),
     "hstore columns (the hstore extension) as a string of a JSON object, "
     "io.debezium.data.Json (json), or an Avro map of nullable strings (map)."},
    {"signal.data.collection", SLUICE_OPT_STRING, NULL, 0, 0, NULL, OFF(signal_table),
     "schema.table of the signal table (id text, type text, data text), in the publication: "
     "a row with type 'execute-snapshot' and data {\"data-collections\": [\"s.t\"]} starts an "
     "incremental snapshot of those tables; the connector writes its watermarks there."},
    {"incremental.snapshot.chunk.size", SLUICE_OPT_INT, "1024", 0, 0, NULL, OFF(chunk_size),
     "Rows per chunk of an incremental snapshot (after a restart it resumes from the last "
     "stored chunk)."},
    {"status.update.interval.ms", SLUICE_OPT_INT, "10000", 0, 0, NULL, OFF(status_interval_ms),
     "Send a standby status update (flushed LSN) at least this often."},
    {"streaming.in.progress", SLUICE_OPT_BOOL, "true", 0, 0, NULL, OFF(streaming),
     "On PostgreSQL >= 14, use pgoutput protocol 2 with streaming=on: large transactions "
     "arrive while in progress, are spooled to a temporary file and emitted at commit (an "
     "aborted one never is)."},
    {"message.prefix.include.list", SLUICE_OPT_LIST, NULL, 0, 0, NULL, SLUICE_NO_OFFSET,
     "Regular expressions of the prefixes of logical decoding messages "
     "(pg_logical_emit_message, PostgreSQL >= 14) to emit to <topic.prefix>.message; empty = "
     "every prefix. Not with message.prefix.exclude.list."},
    {"message.prefix.exclude.list", SLUICE_OPT_LIST, NULL, 0, 0, NULL, SLUICE_NO_OFFSET,
     "Regular expressions of message prefixes not to emit. Not with "
     "message.prefix.include.list."},
    {NULL},
};
#undef OFF

/* Compiles expr of option to match whole strings: "^(expr)$". 0, or -1
 * with the error reported, naming the option, the expression and why. */
static int regcomp_whole(sluice_ctx *ctx, regex_t *re, const char *option, const char *expr)
{
    size_t n = strlen(expr) + 5;
    char *anchored = malloc(n), msg[256];
    if (!anchored)
        return sluice_error(ctx, 1, "out of memory"), -1;
    snprintf(anchored, n, "^(%s)$", expr);
    int rc = regcomp(re, anchored, REG_EXTENDED | REG_NOSUB);
    free(anchored);
    if (rc == 0)
        return 0;
    regerror(rc, re, msg, sizeof(msg));
    sluice_error(ctx, 0, "%s: regular expression '%s': %s", option, expr, msg);
    return -1;
}

static int filter_compile(sluice_ctx *ctx, pg_filter *f, const char *option)
{
    const char *const *list = sluice_config_list(ctx, option);
    size_t n = 0;
    while (list && list[n])
        n++;
    if (n == 0)
        return 0;
    if (!(f->re = calloc(n, sizeof(regex_t)))) {
        sluice_error(ctx, 1, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (regcomp_whole(ctx, &f->re[i], option, list[i]) != 0)
            return -1;
        f->n++;
    }
    return 0;
}

/* message.key.columns: "re:c1,c2;re2:c3" into conf->keycols. */
static int keycols_parse(sluice_ctx *ctx, pg_conf *conf)
{
    const char *spec = sluice_config_string(ctx, "message.key.columns");
    if (!spec || !*spec)
        return 0;
    char *copy = strdup(spec), *save = NULL;
    size_t n = 1;
    for (const char *p = spec; *p; p++)
        n += *p == ';';
    if (!copy || !(conf->keycols = calloc(n, sizeof(*conf->keycols)))) {
        free(copy);
        return sluice_error(ctx, 1, "out of memory"), -1;
    }
    int rc = 0;
    for (char *e = strtok_r(copy, ";", &save); e && rc == 0; e = strtok_r(NULL, ";", &save)) {
        /* the columns follow the last ':' (a table's regex may hold one) */
        char *colon = strrchr(e, ':'), *cs = NULL;
        e += strspn(e, " ");
        if (!*e)
            continue;
        if (!colon || colon == e) {
            rc = sluice_error(ctx, 0, "message.key.columns: '%s' is not <table>:<column>,...", e);
            break;
        }
        for (*colon = '\0'; colon > e && colon[-1] == ' ';)
            *--colon = '\0';
        pg_keycols *k = &conf->keycols[conf->nkeycols];
        if (regcomp_whole(ctx, &k->re, "message.key.columns", e) != 0) {
            rc = -1;
            break;
        }
        conf->nkeycols++;
        size_t most = 1; /* columns: one more than the commas */
        for (const char *p = colon + 1; *p; p++)
            most += *p == ',';
        if (!(k->cols = calloc(most, sizeof(*k->cols)))) {
            rc = sluice_error(ctx, 1, "out of memory");
            break;
        }
        for (char *c = strtok_r(colon + 1, ",", &cs); c && rc == 0; c = strtok_r(NULL, ",", &cs)) {
            c += strspn(c, " ");
            size_t len = strlen(c);
            while (len && c[len - 1] == ' ')
                c[--len] = '\0';
            if (len && !(k->cols[k->ncols++] = strdup(c)))
                rc = sluice_error(ctx, 1, "out of memory");
        }
        if (rc == 0 && k->ncols == 0)
            rc = sluice_error(ctx, 0, "message.key.columns: table '%s' has no column", e);
    }
    free(copy);
    return rc ? -1 : 0;
}

static void filter_free(pg_filter *f)
{
    for (size_t i = 0; i < f->n; i++)
        regfree(&f->re[i]);
    free(f->re);
    f->re = NULL;
    f->n = 0;
}

static int filter_match(const pg_filter *f, const char *s)
{
    for (size_t i = 0; i < f->n; i++)
        if (regexec(&f->re[i], s, 0, NULL, 0) == 0)
            return 1;
    return 0;
}

/* Both lists of one kind (schema, table) set: Debezium's config error. */
static int filter_exclusive(sluice_ctx *ctx, const pg_filter *in, const pg_filter *out,
                            const char *kind)
{
    char in_name[32], out_name[32];
    if (!in->n || !out->n)
        return 0;
    snprintf(in_name, sizeof(in_name), "%s.include.list", kind);
    snprintf(out_name, sizeof(out_name), "%s.exclude.list", kind);
    sluice_error(ctx, 0, "%s '%s' and %s '%s': set one of them, they are mutually exclusive",
                 in_name, sluice_config_string(ctx, in_name), out_name,
                 sluice_config_string(ctx, out_name));
    return -1;
}

/* skipped.operations into conf->skipped; "none" alone or not at all. */
static int skipped_set(sluice_ctx *ctx, pg_conf *conf)
{
    const char *const *list = sluice_config_list(ctx, "skipped.operations");
    int none = 0, n = 0;
    for (; list && list[n]; n++) {
        if (strcmp(list[n], "none") == 0)
            none = 1;
        else
            conf->skipped |= PG_SKIP(list[n][0]);
    }
    if (none && n > 1) {
        sluice_error(ctx, 0, "skipped.operations: '%s': none cannot be combined with operations",
                     sluice_config_string(ctx, "skipped.operations"));
        return -1;
    }
    return 0;
}

static int pick(const char *s, const char *const *names, const int *values, int *out)
{
    for (int i = 0; names[i]; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = values[i];
            return 0;
        }
    return -1;
}

static void modes_set(pg_conf *conf)
{
    static const int snap_v[] = {PG_SNAP_INITIAL, PG_SNAP_ALWAYS,      PG_SNAP_INITIAL_ONLY,
                                 PG_SNAP_NO_DATA, PG_SNAP_WHEN_NEEDED, PG_SNAP_NO_DATA};
    static const int dec_v[] = {PG_DEC_PRECISE, PG_DEC_DOUBLE, PG_DEC_STRING};
    static const int time_v[] = {PG_TIME_ADAPTIVE, PG_TIME_ADAPTIVE_MICRO, PG_TIME_CONNECT};
    static const int hstore_v[] = {PG_HSTORE_JSON, PG_HSTORE_MAP};
    static const int binary_v[] = {PG_BIN_BYTES, PG_BIN_BASE64, PG_BIN_BASE64_URL, PG_BIN_HEX};
    int v = 0;
    if (pick(conf->snapshot_mode_s, snapshot_valid, snap_v, &v) == 0)
        conf->snapshot_mode = (pg_snapshot_mode)v;
    if (pick(conf->decimal_mode_s, decimal_valid, dec_v, &v) == 0)
        conf->decimal_mode = (pg_decimal_mode)v;
    if (pick(conf->time_mode_s, time_valid, time_v, &v) == 0)
        conf->time_mode = (pg_time_mode)v;
    if (pick(conf->hstore_mode_s, hstore_valid, hstore_v, &v) == 0)
        conf->hstore_mode = (pg_hstore_mode)v;
    if (pick(conf->binary_mode_s, binary_valid, binary_v, &v) == 0)
        conf->binary_mode = (pg_binary_mode)v;
}

pg_conf *pg_conf_create(sluice_ctx *ctx)
{
    pg_conf *conf = calloc(1, sizeof(*conf));
    if (!conf) {
        sluice_error(ctx, 1, "out of memory");
        return NULL;
    }
    sluice_config_map(ctx, conf);
    modes_set(conf);
    if (conf->port < 1 || conf->port > 65535) {
        sluice_error(ctx, 0, "database.port: %lld is not a TCP port", (long long)conf->port);
        goto fail;
    }
    if (!*conf->topic_prefix || !*conf->slot || !*conf->publication || !*conf->heartbeat_prefix ||
        !*conf->tx_topic) {
        sluice_error(ctx, 0,
                     "topic.prefix, slot.name, publication.name, topic.heartbeat.prefix "
                     "and topic.transaction may not be empty");
        goto fail;
    }
    if (conf->chunk_size < 1 || conf->fetch_size < 1 || conf->heartbeat_ms < 0 ||
        conf->status_interval_ms < 100 || conf->max_batch < 1 || conf->poll_interval_ms < 0) {
        sluice_error(ctx, 0,
                     "snapshot.fetch.size, incremental.snapshot.chunk.size and "
                     "max.batch.size must be >= 1, heartbeat.interval.ms and "
                     "poll.interval.ms >= 0, status.update.interval.ms >= 100");
        goto fail;
    }
    if (filter_compile(ctx, &conf->tables_in, "table.include.list") ||
        filter_compile(ctx, &conf->tables_out, "table.exclude.list") ||
        filter_compile(ctx, &conf->columns_in, "column.include.list") ||
        filter_compile(ctx, &conf->columns_out, "column.exclude.list") ||
        filter_compile(ctx, &conf->schemas_in, "schema.include.list") ||
        filter_compile(ctx, &conf->schemas_out, "schema.exclude.list") ||
        filter_compile(ctx, &conf->messages_in, "message.prefix.include.list") ||
        filter_compile(ctx, &conf->messages_out, "message.prefix.exclude.list") ||
        filter_compile(ctx, &conf->snapshot_in, "snapshot.include.collection.list") ||
        keycols_parse(ctx, conf) ||
        filter_exclusive(ctx, &conf->schemas_in, &conf->schemas_out, "schema") ||
        filter_exclusive(ctx, &conf->tables_in, &conf->tables_out, "table") ||
        filter_exclusive(ctx, &conf->columns_in, &conf->columns_out, "column") ||
        filter_exclusive(ctx, &conf->messages_in, &conf->messages_out, "message.prefix") ||
        skipped_set(ctx, conf))
        goto fail;
    return conf;
fail:
    pg_conf_destroy(conf);
    return NULL;
}

void pg_conf_destroy(pg_conf *conf)
{
    if (!conf)
        return;
    filter_free(&conf->tables_in);
    filter_free(&conf->tables_out);
    filter_free(&conf->columns_in);
    filter_free(&conf->columns_out);
    filter_free(&conf->messages_in);
    filter_free(&conf->messages_out);
    filter_free(&conf->snapshot_in);
    for (size_t i = 0; i < conf->nkeycols; i++) {
        regfree(&conf->keycols[i].re);
        for (size_t c = 0; c < conf->keycols[i].ncols; c++)
            free(conf->keycols[i].cols[c]);
        free(conf->keycols[i].cols);
    }
    free(conf->keycols);
    filter_free(&conf->schemas_in);
    filter_free(&conf->schemas_out);
    free(conf);
}

int pg_conf_table_included(const pg_conf *conf, const char *schema, const char *table)
{
    char name[512];
    if (conf->schemas_in.n && !filter_match(&conf->schemas_in, schema))
        return 0;
    if (filter_match(&conf->schemas_out, schema))
        return 0;
    snprintf(name, sizeof(name), "%s.%s", schema, table);
    if (conf->tables_in.n && !filter_match(&conf->tables_in, name))
        return 0;
    return !filter_match(&conf->tables_out, name);
}

int pg_conf_key_column(const pg_conf *conf, const char *schema, const char *table,
                       const char *column)
{
    char name[512];
    if (!conf->nkeycols)
        return -1;
    snprintf(name, sizeof(name), "%s.%s", schema, table);
    int place = 0, matched = 0; /* every entry naming the table, in order */
    for (size_t i = 0; i < conf->nkeycols; i++) {
        if (regexec(&conf->keycols[i].re, name, 0, NULL, 0) != 0)
            continue;
        matched = 1;
        for (size_t c = 0; c < conf->keycols[i].ncols; c++, place++)
            if (strcasecmp(conf->keycols[i].cols[c], column) == 0)
                return place + 1;
    }
    return matched ? 0 : -1;
}

int pg_conf_snapshot_included(const pg_conf *conf, const char *schema, const char *table)
{
    char name[512];
    if (!conf->snapshot_in.n)
        return 1;
    snprintf(name, sizeof(name), "%s.%s", schema, table);
    return filter_match(&conf->snapshot_in, name);
}

int pg_conf_message_included(const pg_conf *conf, const char *prefix)
{
    if (conf->messages_in.n)
        return filter_match(&conf->messages_in, prefix);
    return !filter_match(&conf->messages_out, prefix);
}

int pg_conf_op_skipped(const pg_conf *conf, char op)
{
    return op != 'r' && (conf->skipped & PG_SKIP(op)) != 0;
}

int pg_conf_is_signal(const pg_conf *conf, const char *schema, const char *table)
{
    const char *sig = conf->signal_table;
    size_t n = strlen(schema);
    return sig && *sig && !strncmp(sig, schema, n) && sig[n] == '.' && !strcmp(sig + n + 1, table);
}

int pg_conf_column_excluded(const pg_conf *conf, const char *schema, const char *table,
                            const char *column)
{
    char name[768];
    if (!conf->columns_in.n && !conf->columns_out.n)
        return 0;
    snprintf(name, sizeof(name), "%s.%s.%s", schema, table, column);
    if (conf->columns_in.n)
        return !filter_match(&conf->columns_in, name);
    return filter_match(&conf->columns_out, name);
}

void pg_conf_conninfo(const pg_conf *conf, int replication, const char **keys, const char **vals,
                      char *port)
{
    snprintf(port, 16, "%lld", (long long)conf->port);
    const char *kv[][2] = {
        {"host", conf->host},
        {"port", port},
        {"user", conf->user},
        {"password", conf->password},
        {"dbname", conf->dbname},
        {"sslmode", conf->sslmode},
        {"sslrootcert", conf->sslrootcert},
        {"sslcert", conf->sslcert},
        {"sslkey", conf->sslkey},
        {"sslpassword", conf->sslpassword},
        {"application_name", replication ? "sluice" : "sluice-query"},
        {"connect_timeout", "10"},
        {"options", "-c DateStyle=ISO -c IntervalStyle=iso_8601 -c TimeZone=UTC "
                    "-c bytea_output=hex -c lc_monetary=C -c extra_float_digits=3 "
                    "-c client_encoding=UTF8"},
        {"replication", replication ? "database" : NULL},
    };
    size_t n = 0;
    for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++) {
        if (!kv[i][1])
            continue;
        keys[n] = kv[i][0];
        vals[n++] = kv[i][1];
    }
    keys[n] = vals[n] = NULL;
}
