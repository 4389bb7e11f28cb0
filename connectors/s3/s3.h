/*
 * s3.h - the S3 sink's private interface, shared by its files:
 *
 *   s3.c              the plugin descriptor, the task callbacks, and the
 *                     per-partition file bookkeeping (rotation, preCommit)
 *   s3_conf.c         the option table (Confluent S3 sink names) and
 *                     conf_create / conf_destroy
 *   s3_sigv4.c        AWS Signature Version 4 (s3_sigv4.h)
 *   s3_http.c         the S3 REST calls over libcurl, with retries
 *   s3_store.c        the lake: an S3 bucket or a file:// directory, behind
 *                     one small upload interface
 *   s3_uploader.c     the task's upload thread: store work runs beside the
 *                     encoding of records
 *   s3_writer.c       one object's bytes: Avro object container file or
 *                     JSON lines
 *   s3_partitioner.c  a record -> its encoded partition ("partition=0",
 *                     "id=42", "year=2026/month=11/day=22/hour=07")
 *
 * Exactly-once in the lake (ARCHITECTURE.md 7): an object is named
 *   <topics.dir>/<topic>/<encoded partition>/<topic>+<kafka partition>+<start offset>.<ext>
 * with the start offset zero-padded to 10 digits, and where an object ends
 * is decided by the records alone (flush.size, rotate.interval.ms on record
 * time, a schema change). The host commits, per Kafka partition, only the
 * start offset of the oldest object not yet complete in the lake
 * (preCommit), so a task restarted after a crash re-reads from an object
 * boundary and rewrites the very same objects.
 *
 * Status convention inside the plugin: functions return 0 (done), 1
 * (transient failure after the configured retries: the caller answers
 * SLUICE_RETRY) or -1 (fatal: SLUICE_ERROR), with a message in err.
 *
 * Runs on: the task's thread only (plugin.h); nothing here is shared
 * between tasks.
 */
#ifndef S3_SINK_H
#define S3_SINK_H

#include <sluice/envelope.h>
#include <sluice/plugin.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* ---- configuration (s3_conf.c) ------------------------------------------ */

typedef enum s3_format { S3_FORMAT_AVRO = 1, S3_FORMAT_JSON } s3_format;
typedef enum s3_codec { S3_CODEC_NULL = 1, S3_CODEC_DEFLATE } s3_codec;
typedef enum s3_part_kind { S3_PART_DEFAULT = 1, S3_PART_FIELD, S3_PART_TIME } s3_part_kind;
typedef enum s3_ts_kind { S3_TS_RECORD = 1, S3_TS_FIELD, S3_TS_WALLCLOCK } s3_ts_kind;

typedef struct s3_conf {
    /* filled from the option table (offsets) */
    const char *bucket, *region, *store_url;
    int path_style, path_style_enabled;
    const char *access_key, *secret_key;
    const char *format_class, *avro_codec;
    int64_t flush_size, rotate_interval_ms, rotate_schedule_ms;
    const char *partitioner_class;
    const char *const *partition_fields;
    const char *path_format;
    int64_t partition_duration_ms;
    const char *locale, *timezone;
    const char *ts_extractor, *ts_field;
    const char *topics_dir;
    int64_t part_size;
    const char *null_behavior;
    int64_t retry_backoff_ms, part_retries;
    int64_t connect_timeout_ms, request_timeout_ms;
    /* derived */
    s3_format format;
    s3_codec codec;
    s3_part_kind part_kind;
    s3_ts_kind ts_kind;
    int needs_record_time; /* the record's time is read: time partitioning or rotate.interval.ms */
    int needs_value;       /* a field of the value is read: field partitioning or its time */
    int ignore_nulls;
    char *file_dir;        /* store.url file://DIR: the lake directory, else NULL */
    char *endpoint;        /* scheme://host[:port] without a trailing '/' */
    char *key_id, *secret; /* credentials (options, else AWS_* environment); may be NULL */
    char *session_token;   /* AWS_SESSION_TOKEN, or NULL */
} s3_conf;

extern const sluice_option s3_options[];

/* Returns NULL with the error already reported through sluice_error. */
s3_conf *s3_conf_create(sluice_ctx *ctx);
void s3_conf_destroy(s3_conf *conf);

/* ---- a growable byte buffer --------------------------------------------- */

typedef struct s3_buf {
    uint8_t *p;
    size_t len, cap;
} s3_buf;

/* Makes room for `more` bytes after len. Returns 0 or -1 (out of memory). */
int s3_buf_reserve(s3_buf *b, size_t more);
int s3_buf_append(s3_buf *b, const void *data, size_t len);
void s3_buf_free(s3_buf *b);

/* ---- S3 over HTTP (s3_http.c) ------------------------------------------- */

typedef struct s3_http s3_http;

s3_http *s3_http_create(const s3_conf *conf, char *err, size_t errlen);
void s3_http_destroy(s3_http *h);
/* While *flag is non-zero, requests give up at once (no retries). NULL: none. */
void s3_http_set_cancel(s3_http *h, const atomic_int *flag);
/* Each returns 0, 1 (transient, retries used up) or -1 (fatal: S3's Code
 * and Message in err). */
int s3_http_head_bucket(s3_http *h, char *err, size_t errlen);
int s3_http_put_object(s3_http *h, const char *key, const void *data, size_t len, char *err,
                       size_t errlen);
/* *upload_id: a new string the caller frees. */
int s3_http_mpu_create(s3_http *h, const char *key, char **upload_id, char *err, size_t errlen);
/* *etag: a new string the caller frees. */
int s3_http_mpu_part(s3_http *h, const char *key, const char *upload_id, int part_no,
                     const void *data, size_t len, char **etag, char *err, size_t errlen);
int s3_http_mpu_complete(s3_http *h, const char *key, const char *upload_id, char *const *etags,
                         int n_parts, char *err, size_t errlen);
/* Sent once, without retries: used when discarding at close. */
int s3_http_mpu_abort(s3_http *h, const char *key, const char *upload_id, char *err, size_t errlen);

/* ---- the lake (s3_store.c) ---------------------------------------------- */

typedef struct s3_store s3_store;
typedef struct s3_upload s3_upload;

s3_store *s3_store_create(const s3_conf *conf, char *err, size_t errlen);
void s3_store_destroy(s3_store *st);
void s3_store_set_cancel(s3_store *st, const atomic_int *flag);
/* Checks the bucket (HEAD) or that the directory is writable. */
int s3_store_check(s3_store *st, char *err, size_t errlen);
/* Bytes an open object buffers before s3_upload_part is worth calling. */
size_t s3_store_part_size(const s3_store *st);
/* Starts object `key`; nothing is visible in the lake before finish. */
int s3_upload_begin(s3_store *st, const char *key, s3_upload **out, char *err, size_t errlen);
/* Sends len bytes (>= s3_store_part_size) of the object. On 1 / -1 nothing
 * of them was kept: call again with the same bytes. */
int s3_upload_part(s3_upload *up, const void *data, size_t len, char *err, size_t errlen);
/* Sends the last bytes and makes the object visible, complete, at once.
 * On 0 the upload is freed; on 1 / -1 call again with the same bytes. */
int s3_upload_finish(s3_upload *up, const void *data, size_t len, char *err, size_t errlen);
/* Discards the object (aborts a multipart upload, removes a temp file) and
 * frees up. NULL is fine. */
void s3_upload_abort(s3_upload *up);
const char *s3_upload_key(const s3_upload *up);

/* ---- the upload thread (s3_uploader.c) ---------------------------------- */

typedef struct s3_uploader s3_uploader;
typedef struct s3_uobj s3_uobj; /* one object as the uploader sees it */

/* Starts the thread; it alone uses st until s3_uploader_destroy. */
s3_uploader *s3_uploader_create(s3_store *st, size_t max_bytes, char *err, size_t errlen);
/* Stops the thread (a transfer under way is cancelled) and drops the jobs
 * not run. The objects' uploads are then their owners' to abort. */
void s3_uploader_destroy(s3_uploader *u);
/* Queues data for obj; finish: the object's last bytes, then complete it.
 * Waits while the queue is full. Returns 0: the bytes are taken and *data
 * is an empty buffer (len 0), unless finish often a recycled one with room
 * for a part; or the uploader's failure (1 / -1, err filled) without
 * taking data. */
int s3_uploader_submit(s3_uploader *u, s3_uobj *obj, s3_buf *data, int finish, char *err,
                       size_t errlen);
/* Moves b's bytes into a recycled buffer with more room, when there is one
 * (a new object's buffer, so it need not grow). */
void s3_uploader_lend(s3_uploader *u, s3_buf *b);
/* 0, or the failure that stopped the uploader (1 / -1, err filled). */
int s3_uploader_status(s3_uploader *u, char *err, size_t errlen);
/* After a transient failure: try the failed job again. */
void s3_uploader_resume(s3_uploader *u);
s3_uobj *s3_uobj_create(const char *key);
/* 1 once the object is complete in the lake. */
int s3_uobj_done(s3_uploader *u, const s3_uobj *obj);
/* Aborts an upload begun and not complete. Only when no job of obj can run
 * (done, or the uploader destroyed). NULL is fine. */
void s3_uobj_destroy(s3_uobj *obj);

/* ---- object formats (s3_writer.c) --------------------------------------- */

typedef struct s3_writer s3_writer;

/* A writer for one object of `schema` (the record values' schema; ignored
 * for JSON). sync_seed: bytes the Avro sync marker is derived from (the
 * object key), so a replay writes identical bytes. */
s3_writer *s3_writer_create(const s3_conf *conf, avro_schema_t schema, const char *sync_seed,
                            char *err, size_t errlen);
void s3_writer_destroy(s3_writer *w);
/* 1 when values of `schema` can go into this object. */
int s3_writer_accepts(const s3_writer *w, avro_schema_t schema);
/* A failure the host already reported (a value it could not decode): its
 * message names the record and why. */
#define S3_HOST_REPORTED (-2)
/* Appends rec's value: a raw value (value_avro) as the Avro bytes it came
 * in, or rendered as JSON from them (value_json: its text); otherwise the
 * value, decoded by the host if it came raw, written. 0, -1 with err, or
 * S3_HOST_REPORTED. */
int s3_writer_append(s3_writer *w, sluice_ctx *ctx, const sluice_record *rec, char *err,
                     size_t errlen);
/* Ends the object: the last block is written to the output. */
int s3_writer_finish(s3_writer *w, char *err, size_t errlen);
/* The object's bytes not yet handed to the store. */
s3_buf *s3_writer_out(s3_writer *w);
const char *s3_writer_extension(const s3_conf *conf);

/* ---- partitioners (s3_partitioner.c) ------------------------------------ */

/* The default partitioner's encoded partition: "partition=<n>". */
void s3_partition_default(int32_t partition, char *out, size_t outlen);
/* Writes the encoded partition of rec into out (e.g. "partition=3").
 * Returns 0, or -1 with err (a missing field, a value without a string
 * form, a timestamp that cannot be read). */
int s3_partition_encode(const s3_conf *conf, const sluice_record *rec, int64_t ts_ms, char *out,
                        size_t outlen, char *err, size_t errlen);
/* The record's time for time-based partitioning and rotate.interval.ms.
 * Returns 0 with *ts_ms, or -1 with err. */
int s3_partition_timestamp(const s3_conf *conf, const sluice_record *rec, int64_t now_ms,
                           int64_t *ts_ms, char *err, size_t errlen);
/* Formats a Joda-style path.format ("'year'=YYYY/'month'=MM") for UTC ms. */
int s3_partition_format_time(const char *fmt, int64_t ms, char *out, size_t outlen);

#endif
