/*
 * pg.h - the postgres source's private interface, shared by its files:
 *
 *   postgres.c     descriptor, task callbacks (open/poll/commit/close), the
 *                  outbound queue and the streaming state machine
 *   pg_conf.c      the option table (Debezium's names), conf_create/destroy,
 *                  table/column include and exclude filters
 *   pg_repl.c      the libpq replication connection: slot creation with an
 *                  exported snapshot, START_REPLICATION, CopyData reading
 *                  (XLogData, keepalives), standby status updates
 *   pg_decode.c    pgoutput messages -> pg_msg (bounds-checked parser), and
 *                  COPY text rows -> datums (the snapshot's parser)
 *   pg_types.c     PostgreSQL types -> Avro schemas (Debezium semantic names)
 *                  and text-format values -> avro values
 *   pg_rel.c       the relation cache: one Avro key/value schema per table,
 *                  built from the catalog or a Relation message
 *   pg_snapshot.c  the initial snapshot (exported snapshot, COPY ... TO STDOUT)
 *
 * Data flow: pg_repl hands raw pgoutput messages to pg_decode; postgres.c
 * resolves the relation through pg_rel, which builds rows with pg_types,
 * and queues records (key, Debezium envelope value, position) that poll
 * hands to the host. Everything runs on the task's thread (plugin.h).
 */
#ifndef PG_SOURCE_H
#define PG_SOURCE_H

#include <jansson.h>
#include <libpq-fe.h>
#include <regex.h>
#include <sluice/envelope.h>
#include <sluice/plugin.h>
#include <stdint.h>

#define PG_VERSION_STR "0.1.0"

/* ---- pg_conf.c ---------------------------------------------------------- */

typedef enum pg_snapshot_mode {
    PG_SNAP_INITIAL,
    PG_SNAP_ALWAYS,
    PG_SNAP_INITIAL_ONLY,
    PG_SNAP_NO_DATA,
    PG_SNAP_WHEN_NEEDED,
} pg_snapshot_mode;

typedef enum pg_decimal_mode { PG_DEC_PRECISE, PG_DEC_DOUBLE, PG_DEC_STRING } pg_decimal_mode;
typedef enum pg_time_mode { PG_TIME_ADAPTIVE, PG_TIME_ADAPTIVE_MICRO, PG_TIME_CONNECT } pg_time_mode;
typedef enum pg_hstore_mode { PG_HSTORE_JSON, PG_HSTORE_MAP } pg_hstore_mode;
typedef enum pg_binary_mode {
    PG_BIN_BYTES,
    PG_BIN_BASE64,
    PG_BIN_BASE64_URL,
    PG_BIN_HEX
} pg_binary_mode;

typedef struct pg_filter {
    regex_t *re;
    size_t n;
} pg_filter;

/* One entry of message.key.columns: a table (regex of schema.table) and
 * the columns that form its records' key. */
typedef struct pg_keycols {
    regex_t re;
    char **cols;
    size_t ncols;
} pg_keycols;

typedef struct pg_conf {
    /* filled from the option table (offsets) */
    const char *host, *user, *password, *dbname, *sslmode;
    const char *sslrootcert, *sslcert, *sslkey, *sslpassword, *initial_statements;
    const char *heartbeat_prefix, *tx_topic; /* topic.heartbeat.prefix, topic.transaction */
    int64_t port;
    const char *topic_prefix, *slot, *publication, *autocreate;
    const char *snapshot_mode_s, *decimal_mode_s, *time_mode_s, *hstore_mode_s, *binary_mode_s;
    int64_t heartbeat_ms, fetch_size, status_interval_ms, max_batch, poll_interval_ms;
    const char *heartbeat_query, *placeholder, *signal_table;
    int64_t chunk_size;
    int tx_metadata, tombstones, streaming;
    const char *plugin_name, *isolation_s;
    int slot_drop, include_unknown;
    /* derived */
    pg_snapshot_mode snapshot_mode;
    pg_decimal_mode decimal_mode;
    pg_time_mode time_mode;
    pg_hstore_mode hstore_mode;
    pg_binary_mode binary_mode;
    pg_filter tables_in, tables_out, columns_in, columns_out, schemas_in, schemas_out;
    pg_filter messages_in, messages_out; /* message.prefix.include/exclude.list */
    pg_filter snapshot_in;               /* snapshot.include.collection.list */
    pg_keycols *keycols;                 /* message.key.columns */
    size_t nkeycols;
    unsigned skipped; /* skipped.operations: PG_SKIP(op) bits of c, u, d, t */
} pg_conf;

#define PG_SKIP(op)                                                                                \
    (1u << ((op) == 'c' ? 0 : (op) == 'u' ? 1 : (op) == 'd' ? 2 : (op) == 't' ? 3 : 4))

extern const sluice_option pg_options[];

/* Returns NULL with the error already reported through sluice_error. */
pg_conf *pg_conf_create(sluice_ctx *ctx);
void pg_conf_destroy(pg_conf *conf);
/* "schema.table" passes schema.include.list / schema.exclude.list (the
 * schema name) and table.include.list / table.exclude.list. */
int pg_conf_table_included(const pg_conf *conf, const char *schema, const char *table);
/* message.key.columns for "schema.table": -1 no entry names the table (its
 * primary key is the key), else column's place among the key columns of
 * the entries naming it, in their order (1...; names compared
 * case-insensitively; the first place of a column named twice), 0 when it
 * is not one of them. */
int pg_conf_key_column(const pg_conf *conf, const char *schema, const char *table,
                       const char *column);
/* "schema.table", included, is in snapshots: snapshot.include.collection.list
 * names it, or is empty. */
int pg_conf_snapshot_included(const pg_conf *conf, const char *schema, const char *table);
/* A logical decoding message's prefix passes message.prefix.include.list /
 * message.prefix.exclude.list. */
int pg_conf_message_included(const pg_conf *conf, const char *prefix);
/* Whether records of op ('c' 'u' 'd' 't'; 'r' never) are left out
 * (skipped.operations). */
int pg_conf_op_skipped(const pg_conf *conf, char op);
/* "schema.table" is the signal table (signal.data.collection). */
int pg_conf_is_signal(const pg_conf *conf, const char *schema, const char *table);
/* "schema.table.column" is left out by column.include.list (not named by
 * it) or column.exclude.list (named). */
int pg_conf_column_excluded(const pg_conf *conf, const char *schema, const char *table,
                            const char *column);
/* Fills keywords/values (NULL-ended, at most 14 pairs) for PQconnectdbParams;
 * replication: 1 for a walsender connection (replication=database). port:
 * a caller buffer of 16 bytes the values point into. */
void pg_conf_conninfo(const pg_conf *conf, int replication, const char **keys, const char **vals,
                      char *port);

/* ---- pg_types.c --------------------------------------------------------- */

typedef enum pg_kind {
    PG_K_STRING = 0, /* anything without a better mapping: its text form */
    PG_K_BOOL,
    PG_K_INT16,
    PG_K_INT32,
    PG_K_INT64,
    PG_K_FLOAT4,
    PG_K_FLOAT8,
    PG_K_NUMERIC,
    PG_K_MONEY,
    PG_K_BYTEA,
    PG_K_UUID,
    PG_K_JSON,
    PG_K_XML,
    PG_K_DATE,
    PG_K_TIME,
    PG_K_TIMETZ,
    PG_K_TIMESTAMP,
    PG_K_TIMESTAMPTZ,
    PG_K_INTERVAL,
    PG_K_BIT,
    PG_K_ENUM,
    PG_K_ARRAY,
    PG_K_LTREE,  /* the ltree extension's type */
    PG_K_HSTORE, /* the hstore extension's type */
    PG_K_POINT,
} pg_kind;

/* A column's type, resolved once (domains to their base, arrays to their
 * element). Owned by its pg_col. */
typedef struct pg_type {
    uint32_t oid;
    int32_t typmod;
    pg_kind kind;
    char *enum_values;    /* PG_K_ENUM: "a,b,c" (may be NULL) */
    int unknown;          /* no mapping here (PG_K_STRING, its text form), nor for
                           * an array's element: include.unknown.datatypes decides */
    struct pg_type *elem; /* PG_K_ARRAY: the element type */
} pg_type;

/* Resolves oid/typmod; built-in OIDs without a query, the rest (domains,
 * enums, arrays of them, extension types) through the catalog on conn
 * (may be NULL: unknown types map to strings). Returns NULL on OOM. */
pg_type *pg_type_resolve(PGconn *conn, uint32_t oid, int32_t typmod);
void pg_type_free(pg_type *ty);
/* The Avro schema JSON of a value of ty (not nullable). *named: the named
 * records one schema already defines (0 before its first column; each is
 * defined once, then referred to by name): PG_NAMED_* bits. */
#define PG_NAMED_VSD   1 /* io.debezium.data.VariableScaleDecimal */
#define PG_NAMED_POINT 2 /* io.debezium.data.geometry.Point */
json_t *pg_type_schema(const pg_type *ty, const pg_conf *conf, int *named);
/* Sets slot (a value of pg_type_schema's schema) from PostgreSQL's text
 * form. Returns 0, or -1 with err saying why the text does not parse. */
int pg_type_set(avro_value_t *slot, const pg_type *ty, const pg_conf *conf, const char *text,
                size_t len, char *err, size_t errlen);
/* Whether an unchanged TOASTed value of ty has a placeholder form (string
 * and bytes types, arrays of anything but points and hstore maps). */
int pg_type_placeholder_ok(const pg_type *ty, const pg_conf *conf);
/* Sets slot to unavailable.value.placeholder in ty's form (see the top of
 * pg_types.c). Returns 0 or an avro-c error code. */
int pg_type_set_placeholder(avro_value_t *slot, const pg_type *ty, const pg_conf *conf);
/* Sets slot to the value a required field gets when the change carries
 * none (Debezium's fallback: 0, "", false, the epoch, []). Returns 0 or an
 * avro-c error code. */
int pg_type_fallback(avro_value_t *slot, const pg_type *ty, const pg_conf *conf);
/* The Avro JSON default of a field of ty whose SQL DEFAULT is the constant
 * `text` (its text form), or NULL when ty's schema is not a primitive
 * type (bytes, records, arrays) or text does not convert. New reference. */
json_t *pg_type_default_json(const pg_type *ty, const pg_conf *conf, const char *text);

/* ---- pg_rel.c ----------------------------------------------------------- */

typedef struct pg_col {
    char *name;
    char *avro_name; /* name with characters Avro forbids replaced by '_' */
    pg_type *type;
    int key;     /* its place in the record key (1...; 0: not in it): the primary key's
                  * columns in table order, or message.key.columns' in its order */
    int pk;      /* part of the primary key (incremental snapshots chunk by it) */
    int notnull; /* NOT NULL (or a key): a required field, not ["null", T] */
    /* a NOT NULL non-key column's constant SQL DEFAULT (its text form) and
     * its Avro form, the field's "default"; both NULL when it has none */
    char *def;
    json_t *def_json;
    /* def as the row field's value, parsed once when the schema is built
     * (set_missing copies it); iface NULL when def is NULL or does not parse */
    avro_value_iface_t *def_iface;
    avro_value_t def_value;
    int field; /* index in the row record, -1 when excluded */
} pg_col;

typedef struct pg_rel {
    uint32_t relid;
    char *nspname, *relname, *topic;
    char replident; /* 'd' default, 'n' nothing, 'f' full, 'i' index */
    int included;   /* passes table.include/exclude */
    pg_col *cols;
    int ncols, nkeys, npk;
    int *key_order; /* the key's columns (indexes into cols), in key order */
    avro_schema_t key_schema, value_schema; /* key NULL: no primary key */
    avro_value_iface_t *key_iface, *value_iface;
    /* the values of this definition's records, reused (rel_schemas) */
    sluice_value_pool key_pool, value_pool;
    sluice_envelope_layout lay; /* value_schema's envelope and source fields */
    sluice_field_pos tx_pos;    /* the envelope's transaction block */
    int64_t version; /* bumped at every schema rebuild */
    int retired;     /* replaced by a newer definition; kept for queued records */
    struct pg_rel *next;
} pg_rel;

/* One column as a Relation message or the catalog describes it. */
typedef struct pg_coldesc {
    const char *name;
    uint32_t oid;
    int32_t typmod;
    int key;
} pg_coldesc;

typedef struct pg_relcache {
    pg_rel *head;
    const pg_conf *conf;
    sluice_ctx *ctx;
    PGconn *catalog; /* a regular connection for type and key lookups */
    char *scratch;   /* NUL-terminated copies of pgoutput values (pg_datum.nul 0) */
    size_t scratch_cap;
} pg_relcache;

pg_rel *pg_rel_find(pg_relcache *rc, uint32_t relid);
/* Installs (or, when the columns changed, replaces) relation relid. Key
 * columns come from the primary key in the catalog when reachable (a
 * Relation message flags every column under REPLICA IDENTITY FULL), else
 * from cols[].key. Returns the relation, or NULL with err filled. */
pg_rel *pg_rel_define(pg_relcache *rc, uint32_t relid, const char *nsp, const char *name,
                      char replident, const pg_coldesc *cols, int ncols, char *err,
                      size_t errlen);
/* Reads relation relid's columns from the catalog and defines it. */
pg_rel *pg_rel_load(pg_relcache *rc, uint32_t relid, char *err, size_t errlen);
void pg_relcache_clear(pg_relcache *rc);

/* A tuple's columns as text (pgoutput TupleData or a result row). kind:
 * 'n' null, 'u' unchanged TOAST, 't' text. nul: data[len] is '\0', so the
 * text is used in place (COPY rows decoded by pg_copy_row, libpq results);
 * 0: it is copied to be NUL-terminated (pgoutput values, inside a message). */
typedef struct pg_datum {
    char kind;
    const char *data;
    uint32_t len;
    int nul;
} pg_datum;

/* Fills row record `row` from datums (ncols of them, in column order). */
int pg_rel_fill_row(pg_relcache *rc, const pg_rel *rel, avro_value_t *row,
                    const pg_datum *d, int nd, char *err, size_t errlen);
/* Fills key record `key` from the key columns among datums. */
int pg_rel_fill_key(pg_relcache *rc, const pg_rel *rel, avro_value_t *key,
                    const pg_datum *d, int nd, char *err, size_t errlen);

/* ---- pg_decode.c -------------------------------------------------------- */

typedef struct pg_tuple {
    int n;
    pg_datum *cols; /* points into the decoder's scratch */
} pg_tuple;

typedef struct pg_relatt {
    uint8_t flags; /* 1: part of the replica identity */
    const char *name;
    uint32_t typoid;
    int32_t typmod;
} pg_relatt;

typedef struct pg_msg {
    char type; /* the pgoutput message byte: B C O R Y I U D T M S E c A */
    uint32_t xid; /* B, S, c, A; changes inside a stream: their (sub)transaction */
    uint32_t subxid; /* A */
    uint64_t lsn, end_lsn; /* B: final lsn; C, c: commit lsn, end lsn; M: lsn */
    int64_t ts_us;         /* B C c: PostgreSQL epoch (2000-01-01) microseconds */
    uint32_t relid;        /* R I U D */
    const char *nspname, *relname; /* R; Y: type namespace/name in nspname/relname */
    char replident;
    int natts;
    pg_relatt *atts; /* R */
    char old_kind;   /* U D: 'K' key only, 'O' whole old row, 0 none */
    pg_tuple oldt, newt;
    int nrels;        /* T */
    uint32_t *relids; /* T */
    uint8_t flags;    /* T: 1 cascade, 2 restart identity; M: 1 transactional */
    int first_segment; /* S */
} pg_msg;

typedef struct pg_decoder pg_decoder;
pg_decoder *pg_decoder_create(void);
void pg_decoder_destroy(pg_decoder *d);
/* Parses one pgoutput message. in_stream: between Stream Start and Stop
 * (changes carry their xid). Pointers in *m point into buf or the decoder's
 * scratch, valid until the next call. Returns 0, or -1 with err naming the
 * message, the offset and what was wrong. */
int pg_decode(pg_decoder *d, const uint8_t *buf, size_t len, int in_stream, pg_msg *m, char *err,
              size_t errlen);

/* Splits one COPY text row (buf, n bytes; buf[n] must be writable, as
 * libpq's NUL terminator is) in place into datums (at most cap). Returns
 * the number of columns (cap + 1 when the row has more), or -1 when it is
 * malformed (a backslash at its end). Datums point into buf, each text
 * NUL-terminated there (nul 1). */
int pg_copy_row(char *buf, size_t n, pg_datum *datums, int cap);

/* ---- pg_repl.c ---------------------------------------------------------- */

typedef struct pg_repl {
    PGconn *conn;
    int server_version;
    uint64_t wal_end;       /* the last server WAL end seen (keepalive or data) */
    uint64_t flushed;       /* what we last reported flushed */
    int64_t last_status_ms; /* CLOCK_MONOTONIC ms of the last status update */
    char *copybuf;          /* the last CopyData (PQfreemem) */
    int streaming;          /* START_REPLICATION done */
} pg_repl;

/* Opens a walsender connection. Returns 0 or -1 with err filled. */
int pg_repl_connect(pg_repl *r, const pg_conf *conf, char *err, size_t errlen);
void pg_repl_close(pg_repl *r);
/* CREATE_REPLICATION_SLOT; export: also export a snapshot, whose name is
 * copied to snapname; temporary: the server drops the slot when this
 * connection ends. *lsn = the consistent point. */
int pg_repl_create_slot(pg_repl *r, const char *slot, int export, int temporary, uint64_t *lsn,
                        char *snapname, size_t snaplen, char *err, size_t errlen);
int pg_repl_start(pg_repl *r, const char *slot, uint64_t lsn, const char *publication, int proto,
                  int streaming, char *err, size_t errlen);
/* Waits up to timeout_ms for the next XLogData. Returns 1 with *data and *len
 * (valid until the next call) and *wal_start, 0 when nothing came (keepalives
 * are answered here), -1 with err filled. */
int pg_repl_read(pg_repl *r, int timeout_ms, const uint8_t **data, size_t *len,
                 uint64_t *wal_start, char *err, size_t errlen);
/* Standby status update reporting `flush`, sent when it moved, when force,
 * or when status.interval passed. Returns 0 or -1 with err. */
int pg_repl_status(pg_repl *r, uint64_t flush, int force, int64_t interval_ms, char *err,
                   size_t errlen);

/* "16/B374D848" <-> LSN */
int pg_lsn_parse(const char *s, uint64_t *lsn);
void pg_lsn_format(uint64_t lsn, char *buf, size_t len);
int64_t pg_now_ms(void);
int64_t pg_mono_ms(void);

/* ---- postgres.c: the task and its outbound queue --------------------------- */

/* A position's longest text (the host keeps 511 bytes), and the longest
 * incremental snapshot state it may carry (the rest is at most 110). */
#define PG_POS_MAX      512
#define PG_INCR_POS_MAX 400

/* One record waiting to be emitted. Owns its values and a reference to its
 * schemas; topic points into a (possibly retired) pg_rel or the task. */
typedef struct pg_out {
    const char *topic;
    avro_schema_t key_schema, value_schema;
    avro_value_t key, value;
    int has_key, has_value;
    /* where key and value came from (NULL: not pooled), told when emitted */
    sluice_value_pool *key_pool, *value_pool;
    int64_t ts_ms;
    char pos[PG_POS_MAX];
} pg_out;

/* The key and value schemas, with their value classes, of records the
 * connector builds itself (heartbeats, transaction events, logical decoding
 * messages), and the topic they go to. */
typedef struct pg_schemas {
    char topic[300];
    avro_schema_t key, value;
    avro_value_iface_t *key_iface, *value_iface;
} pg_schemas;

typedef struct pg_queue {
    pg_out *items;
    size_t head, n, cap;
} pg_queue;

typedef enum pg_phase { PG_PHASE_SNAPSHOT, PG_PHASE_STREAM, PG_PHASE_DONE } pg_phase;

typedef struct pg_snap pg_snap;
typedef struct pg_spool pg_spool;
typedef struct pg_txmeta pg_txmeta;
typedef struct pg_incr pg_incr;

typedef struct pg_task {
    pg_conf *conf;
    sluice_ctx *ctx;
    int64_t emitted; /* records handed over in this poll (max.batch.size) */
    pg_repl repl;
    PGconn *sql; /* catalog lookups, the snapshot, heartbeat queries */
    int sql_uninit; /* sql renewed, but an initial statement failed: renew again */
    pg_relcache rels;
    pg_decoder *dec;
    pg_queue q;
    pg_phase phase;
    pg_snap *snap;
    uint64_t start_lsn; /* where streaming starts */
    pg_schemas heartbeat; /* __debezium-heartbeat.<topic.prefix> */
    pg_schemas message;   /* <topic.prefix>.message, built at the first message */
    /* streaming */
    int in_tx, in_stream, replaying;
    int broken; /* a connection was lost: reconnect at the next poll */
    int failed; /* open, poll or commit failed (not retriable): close keeps
                 * the slot whatever slot.drop.on.stop says */
    uint32_t xid;
    uint32_t stream_xid; /* the transaction of the current Stream Start block */
    uint64_t tx_lsn;     /* the current transaction's commit LSN (from Begin) */
    pg_txmeta *txmeta;   /* provide.transaction.metadata, or NULL */
    pg_incr *incr;       /* incremental snapshots requested, or NULL */
    char incr_pos[PG_INCR_POS_MAX]; /* ,"incr":{...} in every position while one
                                     * is in progress (pg_incr.c), else "" */
    char *open_pos;                 /* the position stored when the task opened (or NULL) */
    /* what every streamed record's position starts with while safe_lsn and
     * xid stay, {"lsn":S,"txId":X,"lsn_proc": (task_position) */
    char pos_head[80];
    size_t pos_head_len; /* 0: not formatted yet */
    uint64_t pos_head_lsn;
    uint32_t pos_head_xid;
    int64_t commit_ts_ms;
    uint64_t change_lsn; /* dataStart of the current XLogData */
    int64_t tx_n;        /* records of the current transaction so far */
    uint64_t safe_lsn;   /* end of the last transaction fully queued */
    uint32_t skip_xid;   /* resume: the first skip_n records of skip_xid are stored */
    int64_t skip_n;
    pg_spool *spools; /* streamed in-progress transactions (protocol 2) */
    /* delivery */
    uint64_t committed;  /* confirmed by commit(): durable in the broker */
    char last_pos[PG_POS_MAX]; /* position of the last record emitted */
    int all_acked;       /* commit(last_pos) came: nothing in flight */
    int64_t last_hb_ms;
    int64_t changes, last_report_ms;
    int slot_sizes_off; /* the server refused the slot query: estimate the lag */
    int64_t now_ms; /* wall clock at the start of this poll (or its last wait):
                     * the envelopes' ts_ms, one clock read per batch */
} pg_task;

/* The envelope of a change: where it came from. */
typedef struct pg_src {
    int64_t ts_ms;
    const char *snapshot; /* "true", "last" or NULL */
    int64_t tx_id;        /* SLUICE_NULL_POS: none */
    uint64_t lsn;
    /* the records' position, when the caller formatted it once for many
     * (every row a snapshot step reads has the same: pg_task_snapshot_position),
     * pos_len bytes; NULL: formatted per record (streaming: it moves) */
    const char *pos;
    size_t pos_len;
} pg_src;

/* The position of every initial snapshot row, {"lsn":L,"snapshot":true}
 * (with the incremental snapshot's state while one is in progress), into
 * buf (PG_POS_MAX bytes). Returns its length. */
size_t pg_task_snapshot_position(const pg_task *t, char *buf);

/* Queues the record(s) of one change of rel: op 'c' 'u' 'd' 'r' (and a
 * tombstone after 'd' when tombstones.on.delete), or 't' (no key). before /
 * after: datums, NULL when absent. Positions come from task_position.
 * Returns 0 or -1 with err filled. */
int pg_task_queue_change(pg_task *t, pg_rel *rel, char op, const pg_datum *before, int nb,
                         const pg_datum *after, int na, const pg_src *src, char *err,
                         size_t errlen);
/* The queue's newest record (NULL when empty). */
pg_out *pg_queue_last(pg_task *t);
/* Handles one pgoutput message whose XLogData started at lsn. */
int pg_task_on_message(pg_task *t, const uint8_t *data, size_t len, uint64_t lsn, char *err,
                       size_t errlen);
/* Ends the current transaction at end_lsn (its last record gets the final
 * position). Returns 0 or -1 with err. */
int pg_task_commit_tx(pg_task *t, uint64_t end_lsn, char *err, size_t errlen);
/* Raw queue access for records that are not table changes (transaction
 * metadata): push an empty slot, drop the newest, or give the newest its
 * position (dropping it when a resumed task already stored it). */
/* Parses both texts (the full ones are told to the host) for topic. 0, or
 * -1 with err naming `what`. pg_schemas_free also after a failure. */
int pg_schemas_init(pg_task *t, pg_schemas *s, const char *what, const char *topic,
                    const char *key_json, const char *value_json, char *err, size_t errlen);
void pg_schemas_free(pg_schemas *s);
/* Queues a record of s with a fresh key and value for the caller to fill
 * (it sets o->pos, or pg_task_queue_position does), ts_ms its time; NULL
 * with err (out of memory), nothing queued. */
pg_out *pg_task_queue_new(pg_task *t, const pg_schemas *s, int64_t ts_ms, char *err, size_t errlen);
/* o->pos for a record between transactions, at lsn: a restart streams from
 * there (so such a record may repeat: at least once). */
void pg_task_between_position(pg_task *t, pg_out *o, uint64_t lsn);
pg_out *pg_task_queue_push(pg_task *t);
void pg_task_queue_pop_last(pg_task *t);
int pg_task_queue_position(pg_task *t, pg_out *o);

/* ---- pg_incr.c: incremental snapshots (signal table, watermarks) --------- */

/* A row inserted into the signal table (execute-snapshot, watermarks). */
int pg_incr_signal(pg_task *t, const pg_rel *rel, const pg_datum *d, int nd, char *err,
                   size_t errlen);
/* A streamed change of rel with key datums d: drops the key from an open
 * chunk window. */
void pg_incr_streamed(pg_task *t, const pg_rel *rel, const pg_datum *d, int nd);
/* Between transactions: reads the next chunk when one is due. */
int pg_incr_step(pg_task *t, char *err, size_t errlen);
void pg_incr_destroy(pg_task *t);
/* Replaces the incremental snapshot state by the one stored in position
 * (its "incr" member: tables left, last key read; none: no snapshot in
 * progress), so an interrupted snapshot goes on from its last chunk
 * (open, reconnect). Returns 0, or -1 with err filled (out of memory). */
int pg_incr_restore(pg_task *t, const char *position, char *err, size_t errlen);

/* ---- pg_txmeta.c: BEGIN / END events -------------------------------------- */

int pg_txmeta_create(pg_task *t, char *err, size_t errlen);
void pg_txmeta_destroy(pg_task *t);
/* Forgets an open transaction (after a reconnect). */
void pg_txmeta_reset(pg_task *t);
/* Before each captured change of the current transaction (queues BEGIN). */
int pg_txmeta_change(pg_task *t, const pg_rel *rel, char *err, size_t errlen);
/* At commit (queues END when a BEGIN was queued). */
int pg_txmeta_end(pg_task *t, char *err, size_t errlen);
/* The transaction block of the change pg_txmeta_change just counted: its
 * transaction's id (as BEGIN / END have it), its place among the
 * transaction's changes and among those of its table, 1 first. 0 when there
 * is none (no transaction metadata, or not a streamed change). */
int pg_txmeta_block(pg_task *t, const char **id, int64_t *total, int64_t *collection);

/* ---- pg_stream.c: streamed in-progress transactions (protocol 2) ---------- */

/* Handles Stream Start / Stop / Commit / Abort. */
int pg_stream_message(pg_task *t, const pg_msg *m, char *err, size_t errlen);
/* Appends a message received inside a stream block to its spool. */
int pg_stream_spool(pg_task *t, uint32_t subxid, const uint8_t *data, size_t len, char *err,
                    size_t errlen);
int pg_stream_replay_active(pg_task *t);
/* Replays up to max_msgs spooled messages of a committed streamed
 * transaction. Returns 1 when done, 0 when more remain, -1 with err. */
int pg_stream_replay_step(pg_task *t, size_t max_msgs, char *err, size_t errlen);
void pg_stream_free(pg_task *t);

/* ---- pg_snapshot.c --------------------------------------------------------- */

/* Starts reading the tables in exported snapshot snapname on t->sql (a
 * REPEATABLE READ READ ONLY transaction, whatever snapshot.isolation.mode:
 * see pg_snapshot.c). Returns 0 or -1 with err. */
int pg_snap_begin(pg_task *t, const char *snapname, uint64_t lsn, char *err, size_t errlen);
/* Queues up to `room` snapshot rows. Returns 1 when every table is done
 * (the transaction is committed), 0 when more remain, -1 with err. */
int pg_snap_step(pg_task *t, size_t room, char *err, size_t errlen);
void pg_snap_free(pg_task *t);

#endif
