/*
 * s3_partitioner.c - a record -> its encoded partition, the path segment
 * between <topics.dir>/<topic>/ and the object name, as Confluent's
 * partitioners write it:
 *
 *   default     partition=<kafka partition>
 *   field       <f1>=<v1>/<f2>=<v2>  (partition.field.name, looked up at the
 *               top level of the value, then inside a Debezium envelope's
 *               `after` row, so both flat rows and envelopes work)
 *   time-based  path.format applied to the record time floored to
 *               partition.duration.ms, in UTC: 'year'=YYYY/'month'=MM/...
 *
 * path.format is Joda-Time style: text in single quotes is literal ('' is a
 * quote), letter runs are fields: YYYY/yyyy year, YY/yy two-digit year, MM
 * month, dd day, HH hour, mm minute, ss second, SSS millisecond; other
 * characters are copied.
 *
 * Record time (timestamp.extractor): Record = the Kafka timestamp,
 * RecordField = timestamp.field of the value (epoch ms: long, int, double),
 * Wallclock = now (the only non-deterministic one).
 *
 * Runs on: the task's thread. Pure functions of their arguments.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "s3.h"

/* ======================================================================== */
/* Fields of a value                                                         */
/* ======================================================================== */

/* Follows a union to its current branch. */
static int resolve(avro_value_t *v, avro_value_t *out)
{
    *out = *v;
    while (avro_value_get_type(out) == AVRO_UNION) {
        avro_value_t b;
        if (avro_value_get_current_branch(out, &b) != 0)
            return -1;
        *out = b;
    }
    return 0;
}

/* The field `name` of the record value, or of its `after` row. */
static int field_find(avro_value_t *value, const char *name, avro_value_t *out)
{
    avro_value_t v, after, row;
    if (!value || resolve(value, &v) != 0 || avro_value_get_type(&v) != AVRO_RECORD)
        return -1;
    if (avro_value_get_by_name(&v, name, out, NULL) == 0)
        return resolve(out, out);
    if (avro_value_get_by_name(&v, "after", &after, NULL) == 0 && resolve(&after, &row) == 0 &&
        avro_value_get_type(&row) == AVRO_RECORD &&
        avro_value_get_by_name(&row, name, out, NULL) == 0)
        return resolve(out, out);
    return -1;
}

/* A scalar's text, '/' replaced so it stays one path segment. */
static int field_text(avro_value_t *f, char *out, size_t outlen)
{
    const char *s = NULL;
    size_t len = 0;
    int32_t i32;
    int64_t i64;
    double d;
    float fl;
    int b;
    switch (avro_value_get_type(f)) {
    case AVRO_STRING:
        if (avro_value_get_string(f, &s, &len) != 0)
            return -1;
        snprintf(out, outlen, "%.*s", (int)(len ? len - 1 : 0), s);
        break;
    case AVRO_INT32:
        avro_value_get_int(f, &i32);
        snprintf(out, outlen, "%" PRId32, i32);
        break;
    case AVRO_INT64:
        avro_value_get_long(f, &i64);
        snprintf(out, outlen, "%" PRId64, i64);
        break;
    case AVRO_DOUBLE:
        avro_value_get_double(f, &d);
        snprintf(out, outlen, "%.17g", d);
        break;
    case AVRO_FLOAT:
        avro_value_get_float(f, &fl);
        snprintf(out, outlen, "%.9g", (double)fl);
        break;
    case AVRO_BOOLEAN:
        avro_value_get_boolean(f, &b);
        snprintf(out, outlen, "%s", b ? "true" : "false");
        break;
    case AVRO_NULL:
        snprintf(out, outlen, "null");
        break;
    case AVRO_ENUM: {
        int sym;
        avro_value_get_enum(f, &sym);
        const char *name = avro_schema_enum_get(avro_value_get_schema(f), sym);
        snprintf(out, outlen, "%s", name ? name : "?");
        break;
    }
    default:
        return -1;
    }
    for (char *p = out; *p; p++)
        if (*p == '/')
            *p = '_';
    return 0;
}

/* ======================================================================== */
/* Time                                                                      */
/* ======================================================================== */

int s3_partition_timestamp(const s3_conf *conf, const sluice_record *rec, int64_t now_ms,
                           int64_t *ts_ms, char *err, size_t errlen)
{
    avro_value_t f;
    switch (conf->ts_kind) {
    case S3_TS_WALLCLOCK:
        *ts_ms = now_ms;
        return 0;
    case S3_TS_RECORD:
        if (rec->timestamp_ms < 0) {
            snprintf(err, errlen, "the record has no timestamp (timestamp.extractor=Record)");
            return -1;
        }
        *ts_ms = rec->timestamp_ms;
        return 0;
    case S3_TS_FIELD:
        break;
    }
    if (field_find(rec->value, conf->ts_field, &f) != 0) {
        snprintf(err, errlen, "timestamp.field %s: not in the record value", conf->ts_field);
        return -1;
    }
    int32_t i32;
    double d;
    switch (avro_value_get_type(&f)) {
    case AVRO_INT64:
        return avro_value_get_long(&f, ts_ms);
    case AVRO_INT32:
        avro_value_get_int(&f, &i32);
        *ts_ms = i32;
        return 0;
    case AVRO_DOUBLE:
        avro_value_get_double(&f, &d);
        *ts_ms = (int64_t)d;
        return 0;
    default:
        snprintf(err, errlen, "timestamp.field %s: not epoch milliseconds (long, int or double)",
                 conf->ts_field);
        return -1;
    }
}

/* Appends to out at *off; truncation is reported by the caller's check. */
static void emit(char *out, size_t outlen, size_t *off, const char *s, size_t n)
{
    if (*off + n + 1 > outlen)
        n = *off + 1 < outlen ? outlen - *off - 1 : 0;
    memcpy(out + *off, s, n);
    *off += n;
    out[*off] = '\0';
}

static void emit_field(char *out, size_t outlen, size_t *off, char letter, size_t run,
                       const struct tm *tm, int ms)
{
    char v[32];
    switch (letter) {
    case 'Y':
    case 'y':
        if (run == 2)
            snprintf(v, sizeof(v), "%02d", (tm->tm_year + 1900) % 100);
        else
            snprintf(v, sizeof(v), "%0*d", (int)run, tm->tm_year + 1900);
        break;
    case 'M':
        snprintf(v, sizeof(v), "%0*d", (int)run, tm->tm_mon + 1);
        break;
    case 'd':
        snprintf(v, sizeof(v), "%0*d", (int)run, tm->tm_mday);
        break;
    case 'H':
        snprintf(v, sizeof(v), "%0*d", (int)run, tm->tm_hour);
        break;
    case 'm':
        snprintf(v, sizeof(v), "%0*d", (int)run, tm->tm_min);
        break;
    case 's':
        snprintf(v, sizeof(v), "%0*d", (int)run, tm->tm_sec);
        break;
    case 'S':
        snprintf(v, sizeof(v), "%03d", ms);
        break;
    default: /* not a field we know: copied */
        for (size_t i = 0; i < run && i < sizeof(v) - 1; i++)
            v[i] = letter;
        v[run < sizeof(v) - 1 ? run : sizeof(v) - 1] = '\0';
    }
    emit(out, outlen, off, v, strlen(v));
}

int s3_partition_format_time(const char *fmt, int64_t ms, char *out, size_t outlen)
{
    int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    time_t t = (time_t)secs;
    struct tm tm;
    size_t off = 0;
    if (!gmtime_r(&t, &tm))
        return -1;
    out[0] = '\0';
    for (const char *p = fmt; *p;) {
        if (*p == '\'') {
            if (p[1] == '\'') {
                emit(out, outlen, &off, "'", 1);
                p += 2;
                continue;
            }
            const char *e = strchr(p + 1, '\'');
            size_t n = e ? (size_t)(e - p - 1) : strlen(p + 1);
            emit(out, outlen, &off, p + 1, n);
            p += n + 1 + (e ? 1 : 0);
        } else if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')) {
            size_t run = 1;
            while (p[run] == *p)
                run++;
            emit_field(out, outlen, &off, *p, run, &tm, (int)(ms - secs * 1000));
            p += run;
        } else {
            emit(out, outlen, &off, p, 1);
            p++;
        }
    }
    return off + 1 >= outlen ? -1 : 0;
}

/* ======================================================================== */
/* Encoded partitions                                                        */
/* ======================================================================== */

static int encode_fields(const s3_conf *conf, const sluice_record *rec, char *out, size_t outlen,
                         char *err, size_t errlen)
{
    size_t off = 0;
    char v[512];
    out[0] = '\0';
    for (const char *const *f = conf->partition_fields; *f; f++) {
        avro_value_t fv;
        if (field_find(rec->value, *f, &fv) != 0) {
            snprintf(err, errlen, "partition.field.name %s: not in the record value", *f);
            return -1;
        }
        if (field_text(&fv, v, sizeof(v)) != 0) {
            snprintf(err, errlen, "partition.field.name %s: not a scalar value", *f);
            return -1;
        }
        int n = snprintf(out + off, outlen - off, "%s%s=%s", off ? "/" : "", *f, v);
        if (n < 0 || (size_t)n >= outlen - off) {
            snprintf(err, errlen, "partition.field.name: the encoded partition is too long");
            return -1;
        }
        off += (size_t)n;
    }
    return 0;
}

void s3_partition_default(int32_t partition, char *out, size_t outlen)
{
    snprintf(out, outlen, "partition=%d", (int)partition);
}

int s3_partition_encode(const s3_conf *conf, const sluice_record *rec, int64_t ts_ms, char *out,
                        size_t outlen, char *err, size_t errlen)
{
    switch (conf->part_kind) {
    case S3_PART_FIELD:
        return encode_fields(conf, rec, out, outlen, err, errlen);
    case S3_PART_TIME: {
        int64_t d = conf->partition_duration_ms, r = ts_ms % d;
        int64_t floor_ms = ts_ms - (r < 0 ? r + d : r);
        if (s3_partition_format_time(conf->path_format, floor_ms, out, outlen) != 0) {
            snprintf(err, errlen, "path.format %s: the encoded partition is too long",
                     conf->path_format);
            return -1;
        }
        return 0;
    }
    case S3_PART_DEFAULT:
        break;
    }
    s3_partition_default(rec->partition, out, outlen);
    return 0;
}
