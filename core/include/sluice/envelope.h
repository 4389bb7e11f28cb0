/*
 * sluice/envelope.h - Debezium-envelope schemas and values for sources, and
 * the Debezium JSON form of any avro-c value for sinks and converters.
 *
 * A source describes a table once (its columns, which are primary key,
 * which may be NULL) and gets a sluice_envelope holding both Avro schemas
 * and their avro-c value classes; every change of that table then reuses
 * them, so no schema is parsed or built per record (ARCHITECTURE.md 4):
 *
 *   key   = record <ns>.Key      { primary-key columns }
 *   value = record <ns>.Envelope {
 *             before: null | <ns>.Value   (the row before the change)
 *             after:  null | <ns>.Value   (the row after it)
 *             source: io.sluice.connector.Source { version, connector, name,
 *                     ts_ms, snapshot, db, schema, table, txId, lsn, file,
 *                     pos, gtid, seq }   (position fields not used are null)
 *             op:     string  c create, u update, d delete, r read, t truncate
 *             ts_ms:  null | long  when the connector saw the change }
 *
 * <ns> is the topic with every character Avro names forbid replaced by '_'.
 * A nullable column is the union ["null", T] with default null; timestamp
 * columns are longs with logicalType timestamp-millis.
 *
 * This code is compiled into each plugin that uses it (plugins link no host
 * symbol) and into the host. Not thread-safe per envelope for creation; the
 * values it hands out belong to the caller.
 */
#ifndef SLUICE_ENVELOPE_H
#define SLUICE_ENVELOPE_H

#include <avro.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sluice_col_type {
    SLUICE_COL_BOOLEAN = 1,
    SLUICE_COL_INT,
    SLUICE_COL_LONG,
    SLUICE_COL_FLOAT,
    SLUICE_COL_DOUBLE,
    SLUICE_COL_STRING,
    SLUICE_COL_BYTES,
    SLUICE_COL_TIMESTAMP, /* long, milliseconds since the epoch */
} sluice_col_type;

typedef struct sluice_column {
    const char *name;
    sluice_col_type type;
    int optional; /* may be NULL */
    int key;      /* part of the primary key (never optional in the key) */
} sluice_column;

/* Where a change came from. Strings may be NULL; integer position fields
 * set to SLUICE_NULL_POS are written as null. */
#define SLUICE_NULL_POS INT64_MIN
typedef struct sluice_source_info {
    const char *version, *connector, *name;
    int64_t ts_ms;
    const char *snapshot; /* "true", "last", "false" or NULL */
    const char *db, *schema, *table;
    int64_t tx_id, lsn, pos, seq;
    const char *file, *gtid;
} sluice_source_info;

typedef struct sluice_envelope sluice_envelope;

/* Parses "name:type[?],..." (types: boolean int long float double string
 * bytes timestamp; '?' = nullable) into columns; key_fields (comma list, NULL
 * = the first column) marks the key. Fills *cols (caller frees with
 * sluice_columns_free) and returns 0, or -1 with err filled. */
int sluice_columns_parse(const char *spec, const char *key_fields, sluice_column **cols,
                         size_t *ncols, char *err, size_t errlen);
void sluice_columns_free(sluice_column *cols, size_t ncols);

/* Builds the key and value schemas for `topic`. Returns 0 with *out set (free
 * with sluice_envelope_destroy) or -1 with err filled. */
int sluice_envelope_create(const char *topic, const sluice_column *cols, size_t ncols,
                           sluice_envelope **out, char *err, size_t errlen);
void sluice_envelope_destroy(sluice_envelope *env);

const char *sluice_envelope_topic(const sluice_envelope *env);
avro_schema_t sluice_envelope_key_schema(const sluice_envelope *env); /* NULL: no key */
avro_schema_t sluice_envelope_value_schema(const sluice_envelope *env);
/* The schemas' full JSON texts (NULL: no key), for sluice_schema_json():
 * avro-c's own rendering would drop logicalType and the like. */
const char *sluice_envelope_key_schema_json(const sluice_envelope *env);
const char *sluice_envelope_value_schema_json(const sluice_envelope *env);

/* The io.sluice.connector.Source record schema every envelope's `source`
 * field uses, as JSON (a new reference): sources that build their own
 * envelope schemas (postgres) embed this one. */
json_t *sluice_envelope_source_schema(void);

/* Fresh values the caller owns (avro_value_decref, or hand them to
 * sluice_emit). Return 0 or an avro-c error code. */
int sluice_envelope_new_key(sluice_envelope *env, avro_value_t *key);
int sluice_envelope_new_value(sluice_envelope *env, avro_value_t *value);

/* ---- Numbers as text ---------------------------------------------------------
 * v in decimal at p, zero-padded to width chars (a '-' counting in them),
 * as printf's %0*llu / %0*lld without printf's cost on a per-record path;
 * returns the end (nothing is NUL-terminated). p has room for 21 chars or
 * width, whichever is more. */
char *sluice_put_u64(char *p, uint64_t v, int width);
char *sluice_put_i64(char *p, int64_t v, int width);

/* ---- Reusing values -------------------------------------------------------
 * A fresh value per record costs a source a malloc and a free for each of
 * its fields (a tenth of a postgres snapshot's time). A pool hands out
 * values of one class, reused where it can: sluice_pool_get gives one the
 * caller owns; right after sluice_emit took it, sluice_pool_lent keeps a
 * reference for the pool; at the top of the next poll sluice_pool_reclaim
 * takes every lent value back, as the host converts and releases a batch
 * before the next poll or close (see emit in plugin.h). A reused value keeps
 * its last contents and buffers: the source sets every field of it (an
 * array field is reset first). Each reclaim keeps at most as many values as
 * were taken since the last one, so an idle pool holds nothing. Single
 * thread: the task's. */
typedef struct sluice_value_pool {
    avro_value_iface_t *iface; /* a reference */
    avro_value_t *free_v, *lent_v;
    size_t n_free, cap_free, n_lent, cap_lent, taken;
} sluice_value_pool;

/* iface is referenced (avro_value_iface_incref). */
void sluice_pool_init(sluice_value_pool *p, avro_value_iface_t *iface);
/* A value the caller owns. 0 or an avro-c error code. */
int sluice_pool_get(sluice_value_pool *p, avro_value_t *v);
/* v (got from p) was emitted: the pool keeps a reference to reuse it. Out
 * of memory, it is simply not reused. */
void sluice_pool_lent(sluice_value_pool *p, const avro_value_t *v);
void sluice_pool_reclaim(sluice_value_pool *p);
/* Drops the pool's references (lent values stay valid for the host). */
void sluice_pool_done(sluice_value_pool *p);

/* ---- Fields by position ----------------------------------------------------
 * A record field found once by name: its position, and for a ["null", T]
 * union (either order) which branch is null and which is T. Hot paths
 * resolve fields once per schema and fill every record by position: no name
 * lookup, no type question per record. */
typedef struct sluice_field_pos {
    int index;        /* the field's position in its record */
    int null_branch;  /* the union's null branch; -1: the field is not nullable */
    int value_branch; /* the union's T branch; -1: the field is T itself, no union */
} sluice_field_pos;

/* Resolves field `name` of record schema rec. Returns 0, or -1 with err
 * filled (rec is no record, has no such field, or the field is a union
 * other than ["null", T]). */
int sluice_field_resolve(avro_schema_t rec, const char *name, sluice_field_pos *f, char *err,
                         size_t errlen);
/* The settable part of field f of rec: the field, or a union's T branch
 * (selected as a side effect). 0 or an avro-c error code. */
int sluice_field_at(avro_value_t *rec, const sluice_field_pos *f, avro_value_t *slot);
/* Sets field f (nullable) to null. 0, EINVAL (not nullable) or an avro-c code. */
int sluice_field_null_at(avro_value_t *rec, const sluice_field_pos *f);
/* Sets string field f to s (s[len] must be '\0'), lent, not copied: the
 * value points at s and never frees it, so s must stay unchanged until the
 * value is released (for a source: until the host converted the batch, which
 * it does before the next poll or close). s NULL sets the field null. */
int sluice_field_lend_string_at(avro_value_t *rec, const sluice_field_pos *f, const char *s,
                                size_t len);

/* ---- The envelope's layout --------------------------------------------------
 * Where an envelope value schema (the Envelope record above, or any record
 * with the same fields, in any order) keeps before, after, source, op and
 * ts_ms, and where its source record keeps each of its fields. Resolved once
 * per schema (sluice_envelope_layout_resolve, or sluice_envelope_value_layout
 * for an envelope built here); every record is then filled by position. The
 * layout holds no reference: it is valid while its schema is. */
typedef enum sluice_env_field {
    SLUICE_ENV_BEFORE,
    SLUICE_ENV_AFTER,
    SLUICE_ENV_SOURCE,
    SLUICE_ENV_OP,
    SLUICE_ENV_TS_MS,
    SLUICE_ENV_NFIELDS
} sluice_env_field;

/* The fields of io.sluice.connector.Source, as sluice_source_info has them. */
typedef enum sluice_src_field {
    SLUICE_SRC_VERSION,
    SLUICE_SRC_CONNECTOR,
    SLUICE_SRC_NAME,
    SLUICE_SRC_TS_MS,
    SLUICE_SRC_SNAPSHOT,
    SLUICE_SRC_DB,
    SLUICE_SRC_SCHEMA,
    SLUICE_SRC_TABLE,
    SLUICE_SRC_TXID,
    SLUICE_SRC_LSN,
    SLUICE_SRC_FILE,
    SLUICE_SRC_POS,
    SLUICE_SRC_GTID,
    SLUICE_SRC_SEQ,
    SLUICE_SRC_NFIELDS
} sluice_src_field;

typedef struct sluice_envelope_layout {
    sluice_field_pos env[SLUICE_ENV_NFIELDS]; /* in the envelope record */
    sluice_field_pos src[SLUICE_SRC_NFIELDS]; /* in its source record */
    avro_schema_t row; /* the row record of before and after (not referenced) */
} sluice_envelope_layout;

/* Resolves value_schema's layout into *lay. Returns 0, or -1 with err
 * naming the field that is missing or of another type (before and after
 * must be ["null", <one row record>], source a record whose string and long
 * fields are those of sluice_envelope_source_schema(), nullable but for
 * version, connector, name and ts_ms; op a string; ts_ms a long, nullable
 * or not). */
int sluice_envelope_layout_resolve(avro_schema_t value_schema, sluice_envelope_layout *lay,
                                   char *err, size_t errlen);
/* The layout of an envelope's value schema, resolved when it was created. */
const sluice_envelope_layout *sluice_envelope_value_layout(const sluice_envelope *env);

/* sluice_envelope_fill's lend: how src's strings go into the value. */
#define SLUICE_COPY 0 /* copied: src may go away as soon as the call returns */
#define SLUICE_LEND 1 /* lent (see sluice_field_lend_string_at): live as long as the value */

/* Fills value's source (from src), op and ts_ms (SLUICE_NULL_POS: null)
 * by position; before and after are left alone (sluice_envelope_row_at).
 * op's text is always lent from a literal. Returns 0 or an avro-c error
 * code (avro_strerror() says more). */
int sluice_envelope_fill(const sluice_envelope_layout *lay, avro_value_t *value, char op,
                         int64_t ts_ms, const sluice_source_info *src, int lend);
/* which: SLUICE_ENV_BEFORE or SLUICE_ENV_AFTER. Selects its row branch and
 * returns the row record in *row, or, row NULL, sets it null. 0 or an
 * avro-c error code (EINVAL for another field). */
int sluice_envelope_row_at(const sluice_envelope_layout *lay, avro_value_t *value,
                           sluice_env_field which, avro_value_t *row);

/* The same by name, for plugins that fill an envelope now and then: each
 * call finds its fields in value's schema (sluice_envelope_set_source
 * resolves the whole layout) and copies strings. Select the row branch of
 * before/after and return the row record in *row; set op, ts_ms, source. */
int sluice_envelope_before(avro_value_t *value, avro_value_t *row);
int sluice_envelope_after(avro_value_t *value, avro_value_t *row);
int sluice_envelope_set_op(avro_value_t *value, char op);
int sluice_envelope_set_ts(avro_value_t *value, int64_t ts_ms);
int sluice_envelope_set_source(avro_value_t *value, const sluice_source_info *src);
/* Fills a record of sluice_envelope_source_schema()'s shape that is not in
 * an envelope (a logical decoding message's source), copying strings. */
int sluice_source_set(avro_value_t *source, const sluice_source_info *src);

/* Field setters on a record; a nullable field's union is set to its
 * non-null branch (or to null by sluice_field_set_null). */
int sluice_field_set_null(avro_value_t *rec, const char *name);
int sluice_field_set_long(avro_value_t *rec, const char *name, int64_t v);
int sluice_field_set_int(avro_value_t *rec, const char *name, int32_t v);
int sluice_field_set_double(avro_value_t *rec, const char *name, double v);
int sluice_field_set_float(avro_value_t *rec, const char *name, float v);
int sluice_field_set_bool(avro_value_t *rec, const char *name, int v);
int sluice_field_set_string(avro_value_t *rec, const char *name, const char *v);
int sluice_field_set_bytes(avro_value_t *rec, const char *name, const void *v, size_t len);

/* The Debezium JSON form: records as objects, unions as their value (no
 * {"type": v} wrapper), bytes and fixed as base64, enums as strings. Returns
 * a new reference, or NULL (out of memory, NaN/Inf double). */
json_t *sluice_value_to_json(const avro_value_t *value);

/* The same JSON text as json_dumps(sluice_value_to_json(v), JSON_COMPACT),
 * written straight into a growing buffer: no tree, and no allocation once
 * *buf is large enough (hot paths keep one buffer and reset *len to 0).
 * Appends at *len (kept NUL-terminated); *cap is the allocated size. value
 * NULL writes null. Returns 0, or -1 (NaN/Inf, unknown type, out of
 * memory) leaving *len as it was. */
int sluice_value_json_append(const avro_value_t *value, char **buf, size_t *len, size_t *cap);
/* Helpers for building the text around values: a quoted, escaped string;
 * raw text; an integer. 0 or -1 (out of memory). */
int sluice_json_append_string(const char *s, char **buf, size_t *len, size_t *cap);
/* Whether s[0..n) is well-formed UTF-8 (what sluice_json_append_string
 * refuses otherwise). */
int sluice_utf8_valid(const char *s, size_t n);
int sluice_json_append_raw(const char *s, size_t n, char **buf, size_t *len, size_t *cap);
int sluice_json_append_int(int64_t v, char **buf, size_t *len, size_t *cap);
/* bytes as a quoted base64 JSON string (how bytes and fixed values appear). */
int sluice_json_append_base64(const void *data, size_t n, char **buf, size_t *len, size_t *cap);

/* ---- Avro binary read in place ------------------------------------------
 * A plan is a schema compiled once into a flat program that walks the Avro
 * binary encoding of one datum of that schema directly: no avro-c value, no
 * allocation per datum. Sinks use it to check and render records they were
 * handed as bytes. A plan is immutable once built: any thread may use it. */
typedef struct sluice_avro_plan sluice_avro_plan;

/* NULL when out of memory or the schema is not a complete schema (an
 * unresolved named reference). The plan holds no reference to schema. */
sluice_avro_plan *sluice_avro_plan_create(avro_schema_t schema);
void sluice_avro_plan_destroy(sluice_avro_plan *plan);

/* The byte length of the one datum that starts at data (at most len bytes),
 * or -1 when those bytes are not an encoding of it: truncated, a negative
 * or oversized length or count, a union branch or enum symbol out of range,
 * a boolean byte other than 0 or 1. Trailing bytes are not read. */
int64_t sluice_avro_plan_check(const sluice_avro_plan *plan, const void *data, size_t len);

/* Appends the datum's JSON text: byte for byte what sluice_value_json_append
 * writes for the value avro-c decodes from the same bytes. Returns 0, or -1
 * (invalid bytes as above, NaN/Inf, out of memory) leaving *len as it was. */
int sluice_avro_json_append(const sluice_avro_plan *plan, const void *data, size_t len, char **buf,
                            size_t *blen, size_t *cap);

/* Appends value's Avro binary encoding to *buf at *len (realloc'd as it
 * grows, *cap its size; *len moves past it), walking plan beside the value
 * when plan is of the value's own schema, asking the value for each type
 * when plan is NULL. 0; ENOMEM when the buffer could not grow; or an avro-c
 * error code with avro_strerror() saying what does not match (a union with
 * no branch set). *len stays as it was on failure. */
int sluice_avro_encode(const sluice_avro_plan *plan, const avro_value_t *value, char **buf,
                       size_t *len, size_t *cap);

#ifdef __cplusplus
}
#endif

#endif
