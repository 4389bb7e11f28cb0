/*
 * sluice/plugin.h - the connector plugin ABI: the one contract between the
 * sluice worker (the host) and a connector plugin (a shared object).
 *
 * Shape (after PostgreSQL output plugins, Fluent Bit and nginx modules):
 *
 *   - A plugin is a shared object exporting one const symbol, `sluice_plugin`,
 *     of type `sluice_plugin_def`. Write it with SLUICE_PLUGIN_DEFINE so the
 *     first four fields (magic, ABI version, struct size, binary signature)
 *     are filled from this header. The host reads those first and refuses a
 *     plugin built against another ABI with a message naming the file and
 *     both versions; it never calls into a mismatched plugin.
 *   - The descriptor names the plugin, its kind (source or sink), its
 *     options as a declarative table (name, type, default, required, secret,
 *     valid values, offset into the plugin's config struct, doc) and its
 *     callbacks. The host validates every connector config against that
 *     table before any callback runs: unknown keys, missing required values,
 *     wrong types and values outside `valid` are errors, each reported per
 *     field.
 *   - The host gives every callback a `sluice_ctx`: logging (one line per
 *     event tagged `[connector/task]`), metric counters, errors marked
 *     retriable or fatal, typed config getters, the stored source position
 *     and, for sources, the emit function. A plugin never sees Kafka, HTTP or
 *     threads, and links no host symbol: every host service is a function
 *     pointer in `ctx->api`, wrapped by the static inline helpers below.
 *
 * Records (ARCHITECTURE.md section 4): topic, key and value as avro-c generic
 * values with their schemas (value NULL = tombstone), headers, a timestamp and
 * the source position, an opaque JSON text the source defines
 * (`{"lsn": 1234}`, `{"seq": 42}`).
 *
 * Threads: every callback of one task runs on that task's thread, one call at
 * a time; different tasks of the same plugin may run concurrently, so plugin
 * state belongs in the task, never in globals.
 *
 * Compatibility rule: fields are only ever appended to sluice_plugin_def and
 * sluice_host_api; any other change bumps SLUICE_PLUGIN_ABI_VERSION.
 */
#ifndef SLUICE_PLUGIN_H
#define SLUICE_PLUGIN_H

#include <avro.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------
 * Identity: magic, ABI version and binary signature
 * ------------------------------------------------------------------------- */

#define SLUICE_PLUGIN_MAGIC       0x534c4350u /* "SLCP" */
#define SLUICE_PLUGIN_ABI_VERSION 4u

#define SLUICE_STR_(x) #x
#define SLUICE_STR(x)  SLUICE_STR_(x)
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define SLUICE_SIG_ENDIAN "be"
#else
#define SLUICE_SIG_ENDIAN "le"
#endif
/* Like NGX_MODULE_SIGNATURE: what the plugin's compiler believed about the
 * machine. A plugin built for another data model is refused, not crashed. */
#define SLUICE_PLUGIN_SIGNATURE                                                                    \
    "ptr" SLUICE_STR(__SIZEOF_POINTER__) ",long" SLUICE_STR(__SIZEOF_LONG__) ",size" SLUICE_STR(   \
        __SIZEOF_SIZE_T__) ",int" SLUICE_STR(__SIZEOF_INT__) "," SLUICE_SIG_ENDIAN

#if defined(__GNUC__)
#define SLUICE_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define SLUICE_PLUGIN_EXPORT
#endif

/* ---------------------------------------------------------------------------
 * Status codes every callback returns
 * ------------------------------------------------------------------------- */

typedef enum sluice_status {
    SLUICE_ERROR = -1, /* fatal: the task stops; the message says why */
    SLUICE_OK = 0,
    SLUICE_RETRY = 1, /* transient: the host backs off and calls again */
    SLUICE_DONE = 2,  /* source only: a bounded source has nothing more */
} sluice_status;

/* ---------------------------------------------------------------------------
 * Options: a declarative table, one row per option, ended by a NULL name
 * ------------------------------------------------------------------------- */

typedef enum sluice_option_type {
    SLUICE_OPT_STRING = 1, /* const char *            */
    SLUICE_OPT_INT,        /* int64_t                 */
    SLUICE_OPT_BOOL,       /* int (0 or 1)            */
    SLUICE_OPT_DOUBLE,     /* double                  */
    SLUICE_OPT_LIST,       /* const char *const * (NULL-terminated), from "a,b,c" */
    SLUICE_OPT_PASSWORD,   /* const char *, always masked when echoed */
} sluice_option_type;

#define SLUICE_NO_OFFSET ((size_t)-1)

typedef struct sluice_option {
    const char *name; /* "topic", "schema.fields" */
    sluice_option_type type;
    const char *default_value; /* as text, parsed like a user value; NULL = none */
    int required;              /* a value must be given (a default does not count) */
    int secret;                /* masked as [hidden]; implied by SLUICE_OPT_PASSWORD */
    const char *const *valid;  /* NULL-terminated allowed values, or NULL = any */
    size_t offset;             /* into the plugin's conf struct, or SLUICE_NO_OFFSET */
    const char *doc;
} sluice_option;

/* ---------------------------------------------------------------------------
 * Records
 * ------------------------------------------------------------------------- */

typedef struct sluice_header {
    const char *key;
    const void *value;
    size_t value_len;
} sluice_header;

typedef struct sluice_record {
    const char *topic;
    avro_schema_t key_schema;   /* NULL when there is no key */
    avro_value_t *key;          /* NULL when there is no key */
    avro_schema_t value_schema; /* kept for tombstones: converters need it */
    avro_value_t *value;        /* NULL = tombstone */
    const sluice_header *headers;
    size_t n_headers;
    int64_t timestamp_ms; /* event time; 0 = let the host stamp it */
    const char *position; /* JSON text the source defines; NULL for sinks */
    /* ABI 2. Sinks: where the record was read (Kafka partition and offset);
     * sources leave them 0, the partitioner decides. */
    int32_t partition;
    int64_t offset;
    /* ABI 3. Sinks that set raw_values in their descriptor: when the value
     * came in Avro (the avro converter) and no transform ran, value is NULL
     * and these hold the value's Avro binary encoding as read (the Confluent
     * wire-format prefix stripped), already checked against value_schema,
     * its writer schema. sluice_record_value() decodes it on demand and
     * sluice_record_value_json() renders it. Otherwise NULL / 0. */
    const void *value_avro;
    size_t value_avro_len;
    /* ABI 4. Likewise when the value came as JSON (the json converter) and
     * no transform ran: value is NULL and these hold the payload's text as
     * sent (not NUL-terminated), on one line, already checked to read as a
     * value of value_schema. sluice_record_value() decodes it on demand;
     * sluice_record_value_json() appends it as it is. Otherwise NULL / 0. */
    const char *value_json;
    size_t value_json_len;
} sluice_record;

/* A tombstone: no value, decoded or raw. */
static inline int sluice_record_is_tombstone(const sluice_record *rec)
{
    return !rec->value && !rec->value_avro && !rec->value_json;
}

/* A consumed position a sink may commit: the next offset to read. */
typedef struct sluice_offset {
    const char *topic;
    int32_t partition;
    int64_t offset;
} sluice_offset;

/* ---------------------------------------------------------------------------
 * The host context
 * ------------------------------------------------------------------------- */

typedef struct sluice_ctx sluice_ctx;
typedef struct sluice_batch sluice_batch; /* opaque, host-owned */

enum sluice_log_level { SLUICE_LOG_DEBUG = 0, SLUICE_LOG_INFO, SLUICE_LOG_WARN, SLUICE_LOG_ERROR };

typedef struct sluice_host_api {
    uint32_t size; /* sizeof(sluice_host_api) in the host */
    void (*vlog)(sluice_ctx *ctx, int level, const char *fmt, va_list ap);
    /* Records the error the current callback is about to return. */
    void (*verror)(sluice_ctx *ctx, int retriable, const char *fmt, va_list ap);
    void (*metric_add)(sluice_ctx *ctx, const char *name, int64_t delta);
    /* Typed config: the validated value, or the option's default. Strings are
     * host-owned and live until the task is closed. */
    const char *(*config_string)(sluice_ctx *ctx, const char *name);
    int64_t (*config_int)(sluice_ctx *ctx, const char *name);
    int (*config_bool)(sluice_ctx *ctx, const char *name);
    double (*config_double)(sluice_ctx *ctx, const char *name);
    const char *const *(*config_list)(sluice_ctx *ctx, const char *name);
    /* Fills every option with an offset into conf (Fluent Bit's config map). */
    void (*config_map)(sluice_ctx *ctx, void *conf);
    /* The last position stored for this task, or NULL on a first start. */
    const char *(*position)(sluice_ctx *ctx);
    /* Source only. Returns 0 and takes ownership of rec->key and rec->value
     * (the host avro_value_decref()s them once it converted the batch,
     * before the next poll or close: a source may keep its own reference
     * and reuse the value from then on, see sluice_value_pool), copying
     * everything else; returns
     * -1 without taking ownership when the batch is full (or, logged, out of
     * memory). */
    int (*emit)(sluice_ctx *ctx, sluice_batch *batch, const sluice_record *rec);
    /* How many more records fit in this batch. */
    size_t (*batch_room)(sluice_ctx *ctx, const sluice_batch *batch);
    const char *(*connector_name)(sluice_ctx *ctx);
    int (*task_id)(sluice_ctx *ctx);
    /* Tells the host the full JSON text of a schema the plugin built, with
     * what avro-c's parser drops (logicalType, connect.name, precision...):
     * the avro converter registers that text, not avro-c's re-rendering.
     * Call once per schema, after parsing it; the host keeps a reference. */
    void (*schema_json)(sluice_ctx *ctx, avro_schema_t schema, const char *json);
    /* A gauge: the metric's current value (a snapshot's estimated total,
     * rows per second, a replication slot's lag in bytes). metric_add
     * counts; both show in /metrics and in the task's /status. */
    void (*metric_set)(sluice_ctx *ctx, const char *name, int64_t value);
    /* ABI 3, sinks, inside put() only, for one of the records it was given:
     * the value as an avro-c value (decoded now when it came raw; valid
     * until put returns), or NULL for a tombstone or when decoding failed
     * (then the error is set: return SLUICE_ERROR). */
    avro_value_t *(*record_value)(sluice_ctx *ctx, const sluice_record *rec);
    /* Appends the value's Debezium JSON text (sluice_value_json_append's
     * form, null for a tombstone) to a growing buffer, rendered straight
     * from the raw bytes when it came as Avro, the text as sent when it
     * came as JSON. 0, or -1 (out of memory, NaN). */
    int (*record_value_json)(sluice_ctx *ctx, const sluice_record *rec, char **buf, size_t *len,
                             size_t *cap);
} sluice_host_api;

/* The host's context starts with this; the rest is private to the host. */
struct sluice_ctx {
    const sluice_host_api *api;
};

static inline void sluice_log(sluice_ctx *ctx, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline void sluice_log(sluice_ctx *ctx, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ctx->api->vlog(ctx, level, fmt, ap);
    va_end(ap);
}

/* Sets the message for the SLUICE_ERROR / SLUICE_RETRY the caller returns. */
static inline int sluice_error(sluice_ctx *ctx, int retriable, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline int sluice_error(sluice_ctx *ctx, int retriable, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ctx->api->verror(ctx, retriable, fmt, ap);
    va_end(ap);
    return retriable ? SLUICE_RETRY : SLUICE_ERROR;
}

static inline void sluice_metric_add(sluice_ctx *ctx, const char *name, int64_t delta)
{
    ctx->api->metric_add(ctx, name, delta);
}
static inline const char *sluice_config_string(sluice_ctx *ctx, const char *name)
{
    return ctx->api->config_string(ctx, name);
}
static inline int64_t sluice_config_int(sluice_ctx *ctx, const char *name)
{
    return ctx->api->config_int(ctx, name);
}
static inline int sluice_config_bool(sluice_ctx *ctx, const char *name)
{
    return ctx->api->config_bool(ctx, name);
}
static inline double sluice_config_double(sluice_ctx *ctx, const char *name)
{
    return ctx->api->config_double(ctx, name);
}
static inline const char *const *sluice_config_list(sluice_ctx *ctx, const char *name)
{
    return ctx->api->config_list(ctx, name);
}
static inline void sluice_config_map(sluice_ctx *ctx, void *conf)
{
    ctx->api->config_map(ctx, conf);
}
static inline const char *sluice_position(sluice_ctx *ctx)
{
    return ctx->api->position(ctx);
}
static inline int sluice_emit(sluice_ctx *ctx, sluice_batch *batch, const sluice_record *rec)
{
    return ctx->api->emit(ctx, batch, rec);
}
static inline void sluice_schema_json(sluice_ctx *ctx, avro_schema_t schema, const char *json)
{
    if (ctx->api->size >= offsetof(sluice_host_api, schema_json) + sizeof(void *))
        ctx->api->schema_json(ctx, schema, json);
}
static inline void sluice_metric_set(sluice_ctx *ctx, const char *name, int64_t value)
{
    if (ctx->api->size >= offsetof(sluice_host_api, metric_set) + sizeof(void *))
        ctx->api->metric_set(ctx, name, value);
}
static inline avro_value_t *sluice_record_value(sluice_ctx *ctx, const sluice_record *rec)
{
    return rec->value || sluice_record_is_tombstone(rec) ? rec->value
                                                         : ctx->api->record_value(ctx, rec);
}
static inline int sluice_record_value_json(sluice_ctx *ctx, const sluice_record *rec, char **buf,
                                           size_t *len, size_t *cap)
{
    return ctx->api->record_value_json(ctx, rec, buf, len, cap);
}
static inline size_t sluice_batch_room(sluice_ctx *ctx, const sluice_batch *batch)
{
    return ctx->api->batch_room(ctx, batch);
}

/* ---------------------------------------------------------------------------
 * Callbacks
 * ------------------------------------------------------------------------- */

typedef struct sluice_source_ops {
    /* Builds the task state from the config (and sluice_position()). */
    int (*open)(sluice_ctx *ctx, void **task);
    /* Emits up to sluice_batch_room() records. May wait briefly (well under a
     * second) when there is nothing to read; returns OK with an empty batch
     * then. DONE: a bounded source is finished. */
    int (*poll)(void *task, sluice_ctx *ctx, sluice_batch *batch);
    /* Every record up to `position` is durable: confirm it to the database. */
    int (*commit)(void *task, sluice_ctx *ctx, const char *position);
    void (*close)(void *task, sluice_ctx *ctx);
} sluice_source_ops;

typedef struct sluice_sink_ops {
    int (*open)(sluice_ctx *ctx, void **task);
    /* records[] and everything they point to are valid for this call only. */
    int (*put)(void *task, sluice_ctx *ctx, const sluice_record *records, size_t n);
    /* Makes everything put so far durable. OK = the host may commit it. */
    int (*flush)(void *task, sluice_ctx *ctx);
    void (*close)(void *task, sluice_ctx *ctx);
    /* Optional (ABI 2), Kafka Connect's preCommit. When set, the host never
     * calls flush: every offset.flush.interval.ms, and before close, it
     * passes the next offset after the last record put per partition, and
     * the plugin lowers each to the first offset not yet durable in its
     * target (an S3 sink: the start of the first object still open). The
     * host commits what comes back. This lets a sink cut its output at
     * boundaries the records decide (flush.size), so a replay after a crash
     * rewrites the same objects. Records of an object still open when the
     * task closes are re-delivered to the next task. */
    int (*precommit)(void *task, sluice_ctx *ctx, sluice_offset *offsets, size_t n);
    /* Optional (ABI 3), Kafka Connect's close(partitions): the task is about
     * to lose these partitions (a rebalance of the connector's tasks; the
     * offsets are unused). The host has committed what the sink holds
     * durably and will put none of their records again; the sink must
     * forget everything else of them - records put but not durable go to
     * the partition's next owner - and write nothing more for them once
     * this returns (an S3 sink finishing an object later could overwrite
     * the new owner's). */
    int (*close_partitions)(void *task, sluice_ctx *ctx, const sluice_offset *parts, size_t n);
} sluice_sink_ops;

typedef enum sluice_plugin_kind { SLUICE_SOURCE = 1, SLUICE_SINK = 2 } sluice_plugin_kind;

typedef struct sluice_plugin_def {
    /* These four never move: the host reads them before trusting the rest. */
    uint32_t magic;        /* SLUICE_PLUGIN_MAGIC */
    uint32_t abi_version;  /* SLUICE_PLUGIN_ABI_VERSION */
    uint32_t struct_size;  /* sizeof(sluice_plugin_def) */
    const char *signature; /* SLUICE_PLUGIN_SIGNATURE */

    const char *name; /* = connector.class, = the file name without .so */
    sluice_plugin_kind kind;
    const char *description;
    const char *version;
    const sluice_option *options; /* ended by a row with name NULL */
    sluice_source_ops source;     /* filled when kind == SLUICE_SOURCE */
    sluice_sink_ops sink;         /* filled when kind == SLUICE_SINK */
    /* How many tasks of one connector may run at once (tasks.max is capped
     * to it): 0 = one. A sink whose tasks may share a topic's partitions
     * (each task gets some, by the consumer group) sets SLUICE_TASKS_ANY;
     * tasks of a connector share its config, and each knows its id
     * (sluice_task_id). */
    uint32_t max_tasks;
    /* ABI 3. A sink that takes values as they came (sluice_record's
     * value_avro, value_json) when it can, sparing the host's decode: 1.
     * Such a sink must get values through sluice_record_value / _value_json
     * or those fields, and test tombstones with sluice_record_is_tombstone. */
    int raw_values;
} sluice_plugin_def;

#define SLUICE_TASKS_ANY 0xffffffffu

#define SLUICE_PLUGIN_HEADER                                                                       \
    .magic = SLUICE_PLUGIN_MAGIC, .abi_version = SLUICE_PLUGIN_ABI_VERSION,                        \
    .struct_size = sizeof(sluice_plugin_def), .signature = SLUICE_PLUGIN_SIGNATURE

/* SLUICE_PLUGIN_DEFINE(.name = "datagen", .kind = SLUICE_SOURCE, ...); */
#define SLUICE_PLUGIN_DEFINE(...)                                                                  \
    SLUICE_PLUGIN_EXPORT const sluice_plugin_def sluice_plugin = {SLUICE_PLUGIN_HEADER, __VA_ARGS__}

#ifdef __cplusplus
}
#endif

#endif
