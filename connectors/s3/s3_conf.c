/*
 * s3_conf.c - the S3 sink's options, declared once with the names of
 * Confluent's S3 sink connector, and the conf_create / conf_destroy pair.
 *
 * Class-name options accept both our short names and Confluent's class
 * names, so a Confluent connector config works unchanged:
 *   format.class       avro | json | io.confluent.connect.s3.format.avro.AvroFormat | ...JsonFormat
 *   partitioner.class  default | field | time-based | hourly | daily |
 *                      io.confluent.connect.storage.partitioner.{Default,Field,TimeBased,Hourly,Daily}Partitioner
 * store.url is the endpoint (http://127.0.0.1:9000 for s3rver or MinIO), or
 * file://DIR for a lake in a local directory. Credentials: the options, else
 * AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN) from the
 * environment; with none, requests go unsigned.
 *
 * Only UTC is supported as timezone; locale is accepted and ignored (the
 * path tokens we format are numeric).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3.h"

#define MIB (1024 * 1024)

static const char *const format_valid[] = {"avro", "json",
                                           "io.confluent.connect.s3.format.avro.AvroFormat",
                                           "io.confluent.connect.s3.format.json.JsonFormat", NULL};
static const char *const codec_valid[] = {"null", "deflate", NULL};
static const char *const partitioner_valid[] = {
    "default",
    "field",
    "time-based",
    "hourly",
    "daily",
    "io.confluent.connect.storage.partitioner.DefaultPartitioner",
    "io.confluent.connect.storage.partitioner.FieldPartitioner",
    "io.confluent.connect.storage.partitioner.TimeBasedPartitioner",
    "io.confluent.connect.storage.partitioner.HourlyPartitioner",
    "io.confluent.connect.storage.partitioner.DailyPartitioner",
    NULL};
static const char *const extractor_valid[] = {"Record", "RecordField", "Wallclock", NULL};
static const char *const null_valid[] = {"fail", "ignore", NULL};
static const char *const tz_valid[] = {"UTC", "GMT", "Etc/UTC", "Z", NULL};

#define OFF(f) offsetof(s3_conf, f)
const sluice_option s3_options[] = {
    {"s3.bucket.name", SLUICE_OPT_STRING, NULL, 1, 0, NULL, OFF(bucket),
     "The bucket objects are written to (with store.url=file://DIR: a name only used in logs)."},
    {"s3.region", SLUICE_OPT_STRING, "us-east-1", 0, 0, NULL, OFF(region),
     "The bucket's AWS region (part of the request signature)."},
    {"store.url", SLUICE_OPT_STRING, NULL, 0, 0, NULL, OFF(store_url),
     "Endpoint override (http://host:port for S3-compatible stores), or file://DIR to write the "
     "lake into a local directory. Default: https://s3.<region>.amazonaws.com."},
    {"s3.path.style.access", SLUICE_OPT_BOOL, "true", 0, 0, NULL, OFF(path_style),
     "Address the bucket in the path (endpoint/bucket/key) rather than the host name."},
    {"s3.path.style.access.enabled", SLUICE_OPT_BOOL, "true", 0, 0, NULL, OFF(path_style_enabled),
     "Same as s3.path.style.access (Confluent's newer name); false in either means virtual-host."},
    {"aws.access.key.id", SLUICE_OPT_STRING, NULL, 0, 0, NULL, OFF(access_key),
     "AWS access key id; default: the AWS_ACCESS_KEY_ID environment variable."},
    {"aws.secret.access.key", SLUICE_OPT_PASSWORD, NULL, 0, 1, NULL, OFF(secret_key),
     "AWS secret access key; default: the AWS_SECRET_ACCESS_KEY environment variable."},
    {"format.class", SLUICE_OPT_STRING, "avro", 0, 0, format_valid, OFF(format_class),
     "Object format: Avro object container files or JSON lines (the record values)."},
    {"avro.codec", SLUICE_OPT_STRING, "null", 0, 0, codec_valid, OFF(avro_codec),
     "Compression of Avro blocks."},
    {"flush.size", SLUICE_OPT_INT, "1000", 0, 0, NULL, OFF(flush_size),
     "Records per object: an object is complete after this many records of its Kafka "
     "partition."},
    {"rotate.interval.ms", SLUICE_OPT_INT, "-1", 0, 0, NULL, OFF(rotate_interval_ms),
     "Close objects when a record's timestamp is this far past the first record's (record "
     "time: deterministic). -1: off."},
    {"rotate.schedule.interval.ms", SLUICE_OPT_INT, "-1", 0, 0, NULL, OFF(rotate_schedule_ms),
     "Close objects at wall-clock multiples of this interval, even without new records. Not "
     "deterministic: a replay may cut objects elsewhere. -1: off."},
    {"partitioner.class", SLUICE_OPT_STRING, "default", 0, 0, partitioner_valid,
     OFF(partitioner_class),
     "default: partition=<kafka partition>; field: <field>=<value> of partition.field.name; "
     "time-based: path.format of the record time."},
    {"partition.field.name", SLUICE_OPT_LIST, NULL, 0, 0, NULL, OFF(partition_fields),
     "Field partitioner: the value fields (looked up at the top level, then in a Debezium "
     "envelope's after)."},
    {"path.format", SLUICE_OPT_STRING, NULL, 0, 0, NULL, OFF(path_format),
     "Time-based partitioner: a Joda-style pattern, e.g. "
     "'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH."},
    {"partition.duration.ms", SLUICE_OPT_INT, "-1", 0, 0, NULL, OFF(partition_duration_ms),
     "Time-based partitioner: the time bucket of one encoded partition."},
    {"locale", SLUICE_OPT_STRING, "en", 0, 0, NULL, OFF(locale),
     "Accepted for Confluent compatibility; path tokens are numeric."},
    {"timezone", SLUICE_OPT_STRING, "UTC", 0, 0, tz_valid, OFF(timezone),
     "Time zone of path.format (UTC only)."},
    {"timestamp.extractor", SLUICE_OPT_STRING, "Record", 0, 0, extractor_valid, OFF(ts_extractor),
     "Record time: Record (the Kafka timestamp), RecordField (timestamp.field of the value), "
     "Wallclock (now: not deterministic)."},
    {"timestamp.field", SLUICE_OPT_STRING, "timestamp", 0, 0, NULL, OFF(ts_field),
     "RecordField: the value field holding epoch milliseconds (top level, then after)."},
    {"topics.dir", SLUICE_OPT_STRING, "topics", 0, 0, NULL, OFF(topics_dir),
     "Top-level prefix of every object key."},
    {"s3.part.size", SLUICE_OPT_INT, "26214400", 0, 0, NULL, OFF(part_size),
     "Bytes per multipart-upload part (>= 5 MiB); smaller objects are one PUT."},
    {"behavior.on.null.values", SLUICE_OPT_STRING, "fail", 0, 0, null_valid, OFF(null_behavior),
     "Tombstones (null values): fail the task, or ignore them."},
    {"s3.retry.backoff.ms", SLUICE_OPT_INT, "200", 0, 0, NULL, OFF(retry_backoff_ms),
     "First backoff of a retried S3 request; doubles each attempt, with jitter."},
    {"s3.part.retries", SLUICE_OPT_INT, "3", 0, 0, NULL, OFF(part_retries),
     "Retries of one S3 request (5xx, throttling, network) before the task backs off and "
     "tries again later."},
    {NULL},
};
#undef OFF

static int has(const char *s, const char *sub)
{
    return s && strstr(s, sub) != NULL;
}

static char *env_dup(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? strdup(v) : NULL;
}

/* store.url -> file_dir or endpoint. */
static int conf_store(sluice_ctx *ctx, s3_conf *c)
{
    const char *u = c->store_url;
    if (u && strncmp(u, "file://", 7) == 0) {
        if (!u[7])
            return sluice_error(ctx, 0, "store.url %s: file:// needs a directory", u);
        c->file_dir = strdup(u + 7);
        return c->file_dir ? 0 : sluice_error(ctx, 1, "out of memory");
    }
    if (u && strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0)
        return sluice_error(ctx, 0, "store.url %s: expected http://, https:// or file://", u);
    char def[300];
    snprintf(def, sizeof(def), "https://s3.%s.amazonaws.com", c->region);
    c->endpoint = strdup(u ? u : def);
    if (!c->endpoint)
        return sluice_error(ctx, 1, "out of memory");
    size_t n = strlen(c->endpoint);
    while (n > 8 && c->endpoint[n - 1] == '/')
        c->endpoint[--n] = '\0';
    c->key_id = c->access_key ? strdup(c->access_key) : env_dup("AWS_ACCESS_KEY_ID");
    c->secret = c->secret_key ? strdup(c->secret_key) : env_dup("AWS_SECRET_ACCESS_KEY");
    c->session_token = env_dup("AWS_SESSION_TOKEN");
    if (!c->key_id != !c->secret)
        return sluice_error(ctx, 0,
                            "aws.access.key.id and aws.secret.access.key: give both or "
                            "neither (also through AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)");
    return 0;
}

static int conf_partitioner(sluice_ctx *ctx, s3_conf *c)
{
    const char *p = c->partitioner_class;
    if (has(p, "ield"))
        c->part_kind = S3_PART_FIELD;
    else if (has(p, "ime") || has(p, "ourly") || has(p, "aily"))
        c->part_kind = S3_PART_TIME;
    else
        c->part_kind = S3_PART_DEFAULT;
    if (has(p, "ourly") || has(p, "aily")) {
        int hourly = has(p, "ourly");
        c->partition_duration_ms = hourly ? 3600000 : 86400000;
        c->path_format = hourly ? "'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH"
                                : "'year'=YYYY/'month'=MM/'day'=dd";
    }
    if (c->part_kind == S3_PART_FIELD && (!c->partition_fields || !c->partition_fields[0]))
        return sluice_error(ctx, 0, "partitioner.class %s needs partition.field.name", p);
    if (c->part_kind == S3_PART_TIME && (!c->path_format || !*c->path_format))
        return sluice_error(ctx, 0, "partitioner.class %s needs path.format", p);
    if (c->part_kind == S3_PART_TIME && c->partition_duration_ms <= 0)
        return sluice_error(ctx, 0, "partitioner.class %s needs partition.duration.ms > 0", p);
    return 0;
}

static int conf_derive(sluice_ctx *ctx, s3_conf *c)
{
    c->format = has(c->format_class, "json") || has(c->format_class, "Json") ? S3_FORMAT_JSON
                                                                             : S3_FORMAT_AVRO;
    c->codec = strcmp(c->avro_codec, "deflate") == 0 ? S3_CODEC_DEFLATE : S3_CODEC_NULL;
    c->ts_kind = strcmp(c->ts_extractor, "RecordField") == 0 ? S3_TS_FIELD
                 : strcmp(c->ts_extractor, "Wallclock") == 0 ? S3_TS_WALLCLOCK
                                                             : S3_TS_RECORD;
    c->ignore_nulls = strcmp(c->null_behavior, "ignore") == 0;
    c->connect_timeout_ms = 5000;
    c->request_timeout_ms = 120000;
    if (c->flush_size < 1)
        return sluice_error(ctx, 0, "flush.size %lld: must be >= 1", (long long)c->flush_size);
    if (c->part_size < 5 * MIB || c->part_size > 2047LL * MIB)
        return sluice_error(ctx, 0, "s3.part.size %lld: must be between 5 MiB (5242880) and 2 GiB",
                            (long long)c->part_size);
    if (c->retry_backoff_ms < 0 || c->part_retries < 0)
        return sluice_error(ctx, 0, "s3.retry.backoff.ms and s3.part.retries must be >= 0");
    if (!*c->bucket || strchr(c->bucket, '/'))
        return sluice_error(ctx, 0, "s3.bucket.name '%s': not a bucket name", c->bucket);
    if (conf_partitioner(ctx, c) != 0)
        return -1;
    /* what each record is asked for, now that the partitioner is known */
    c->needs_record_time = c->part_kind == S3_PART_TIME || c->rotate_interval_ms > 0;
    c->needs_value = c->part_kind == S3_PART_FIELD ||
                     (c->ts_kind == S3_TS_FIELD && c->needs_record_time);
    return conf_store(ctx, c);
}

s3_conf *s3_conf_create(sluice_ctx *ctx)
{
    s3_conf *conf = calloc(1, sizeof(*conf));
    if (!conf) {
        sluice_error(ctx, 1, "out of memory");
        return NULL;
    }
    sluice_config_map(ctx, conf);
    if (conf_derive(ctx, conf) != 0) {
        s3_conf_destroy(conf);
        return NULL;
    }
    return conf;
}

void s3_conf_destroy(s3_conf *conf)
{
    if (!conf)
        return;
    free(conf->file_dir);
    free(conf->endpoint);
    free(conf->key_id);
    free(conf->secret);
    free(conf->session_token);
    free(conf);
}
