/*
 * s3.c - the S3 sink: descriptor, task callbacks, and the bookkeeping of
 * objects per Kafka partition (the design is in s3.h).
 *
 * Per Kafka partition (s3_tp) the task keeps:
 *   open    objects being written, one per encoded partition, each named by
 *           the offset of its first record;
 *   sealed  objects complete in memory, handed to the upload thread
 *           (s3_uploader.c) and not yet complete in the lake (in order);
 *   count / base_ts / schedule_at   what rotation looks at.
 *
 * put, per record (records below the partition's next offset were already
 * taken: a batch the host re-delivers after RETRY is skipped up to there):
 *   1. rotate first (seal every open object of the partition) when the
 *      record's time is rotate.interval.ms past the first record's, when
 *      the wall-clock deadline of rotate.schedule.interval.ms has passed,
 *      or when its schema differs from its object's;
 *   2. append it to the object of its encoded partition (opened if needed);
 *   3. after flush.size records, rotate; an object holding more than
 *      s3.part.size bytes hands a multipart part to the uploader.
 * Uploads run on the uploader thread while put goes on (bounded: two parts'
 * worth of bytes queued). Every put and precommit reaps the objects it
 * completed (logging "object ... complete") and reports its failure: a
 * transient one (after s3.part.retries) answers RETRY and the uploader tries
 * the same bytes again while the host backs off; a fatal one (a 4xx) answers
 * ERROR.
 *
 * precommit: applies rotate.schedule.interval.ms, hands sealed objects over,
 * reaps, then lowers each partition's offset to the first offset of its
 * oldest object not yet complete in the lake (with records a transform
 * routed to another topic, conservatively: see tp_matches). flush is never
 * called by the host (we have precommit); it answers OK. close stops the
 * uploader (a transfer under way is cancelled) and discards objects not
 * complete: their records were never committed and come back to the next
 * task.
 *
 * Runs on: the task's thread, one callback at a time (plugin.h); the
 * uploader's own thread only inside s3_uploader.c.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "s3.h"

typedef struct s3_file {
    struct s3_file *next;
    char *encoded;
    char *key;
    int64_t start_offset, records;
    int parts;     /* parts handed to the uploader */
    int submitted; /* sealed and handed to the uploader */
    s3_writer *w;
    s3_uobj *obj;
} s3_file;

typedef struct s3_tp {
    struct s3_tp *next;
    char *topic;
    int32_t partition;
    char encoded[32];    /* "partition=N": the default partitioner's, made once */
    int64_t next_offset; /* after the last record taken; -1: none yet */
    s3_file *open, *sealed;
    int64_t count;       /* records since the last rotation */
    int64_t base_ts;     /* record time of the first of them; -1: none */
    int64_t schedule_at; /* wall-clock rotation deadline; 0: none */
} s3_tp;

typedef struct s3_task {
    s3_conf *conf;
    s3_store *store;
    s3_uploader *up;
    s3_tp *tps, *last;
    char err[2048];
} s3_task;

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* 0 / 1 / -1 (s3.h) -> the callback's status, with the message;
 * S3_HOST_REPORTED: the host's message stands. */

static int status_of(sluice_ctx *ctx, int rc, const char *err)
{
    if (rc == 0)
        return SLUICE_OK;
    if (rc == S3_HOST_REPORTED)
        return SLUICE_ERROR;
    return sluice_error(ctx, rc > 0, "%s", err);
}

/* ======================================================================== */
/* Objects                                                                   */
/* ======================================================================== */

/* Only when no upload job of f can run (complete, or the uploader gone). */
static void file_free(s3_file *f)
{
    s3_uobj_destroy(f->obj);
    s3_writer_destroy(f->w);
    free(f->encoded);
    free(f->key);
    free(f);
}

static s3_file *file_open(s3_task *t, s3_tp *tp, const char *encoded, const sluice_record *rec)
{
    s3_file *f = calloc(1, sizeof(*f));
    if (!f || !(f->encoded = strdup(encoded)) ||
        asprintf(&f->key, "%s/%s/%s/%s+%d+%010" PRId64 ".%s", t->conf->topics_dir, rec->topic,
                 encoded, rec->topic, (int)rec->partition, rec->offset,
                 s3_writer_extension(t->conf)) < 0) {
        if (f)
            f->key = NULL;
        snprintf(t->err, sizeof(t->err), "out of memory");
        goto fail;
    }
    f->start_offset = rec->offset;
    if (!(f->obj = s3_uobj_create(f->key))) {
        snprintf(t->err, sizeof(t->err), "out of memory");
        goto fail;
    }
    if (!(f->w = s3_writer_create(t->conf, rec->value_schema, f->key, t->err, sizeof(t->err))))
        goto fail;
    s3_uploader_lend(t->up, s3_writer_out(f->w));
    f->next = tp->open;
    tp->open = f;
    return f;
fail:
    if (f)
        file_free(f);
    return NULL;
}

/* Hands a part to the uploader when the object has buffered enough.
 * 0 / 1 / -1 (the uploader's failure). */
static int file_push(s3_task *t, sluice_ctx *ctx, s3_file *f)
{
    s3_buf *out = s3_writer_out(f->w);
    if (out->len < s3_store_part_size(t->store))
        return 0;
    int rc = s3_uploader_submit(t->up, f->obj, out, 0, t->err, sizeof(t->err));
    if (rc == 0 && !f->parts++ && !t->conf->file_dir)
        sluice_log(ctx, SLUICE_LOG_INFO, "object %s: multipart upload started", f->key);
    return rc;
}

/* Hands a sealed object's last bytes to the uploader (once). 0 / 1 / -1. */
static int file_submit(s3_task *t, s3_file *f)
{
    if (f->submitted)
        return 0;
    int rc = s3_uploader_submit(t->up, f->obj, s3_writer_out(f->w), 1, t->err, sizeof(t->err));
    f->submitted = rc == 0;
    return rc;
}

/* ======================================================================== */
/* Kafka partitions                                                          */
/* ======================================================================== */

static s3_tp *tp_get(s3_task *t, const char *topic, int32_t partition)
{
    if (t->last && t->last->partition == partition && strcmp(t->last->topic, topic) == 0)
        return t->last;
    for (s3_tp *tp = t->tps; tp; tp = tp->next)
        if (tp->partition == partition && strcmp(tp->topic, topic) == 0)
            return t->last = tp;
    s3_tp *tp = calloc(1, sizeof(*tp));
    if (!tp || !(tp->topic = strdup(topic))) {
        free(tp);
        return NULL;
    }
    tp->partition = partition;
    s3_partition_default(partition, tp->encoded, sizeof(tp->encoded));
    tp->next_offset = -1;
    tp->base_ts = -1;
    tp->next = t->tps;
    t->tps = tp;
    return t->last = tp;
}

/* Seals every open object of tp (they go after the sealed ones). */
static int tp_rotate(s3_task *t, s3_tp *tp)
{
    s3_file **tail = &tp->sealed;
    while (*tail)
        tail = &(*tail)->next;
    while (tp->open) {
        s3_file *f = tp->open;
        if (s3_writer_finish(f->w, t->err, sizeof(t->err)) != 0)
            return -1;
        tp->open = f->next;
        f->next = NULL;
        *tail = f;
        tail = &f->next;
    }
    tp->count = 0;
    tp->base_ts = -1;
    tp->schedule_at = 0;
    return 0;
}

/* Hands sealed objects and full parts to the uploader, frees the objects
 * it completed (in order), and reports its failure. 0 / 1 / -1. */
static int tp_drain(s3_task *t, sluice_ctx *ctx, s3_tp *tp)
{
    for (s3_file *f = tp->sealed; f; f = f->next) {
        int rc = file_submit(t, f);
        if (rc != 0)
            return rc;
    }
    while (tp->sealed && s3_uobj_done(t->up, tp->sealed->obj)) {
        s3_file *f = tp->sealed;
        sluice_log(ctx, SLUICE_LOG_INFO, "object %s complete: %" PRId64 " records, %d parts",
                   f->key, f->records, f->parts + 1);
        sluice_metric_add(ctx, "objects.written", 1);
        tp->sealed = f->next;
        file_free(f);
    }
    for (s3_file *f = tp->open; f; f = f->next) {
        int rc = file_push(t, ctx, f);
        if (rc != 0)
            return rc;
    }
    return s3_uploader_status(t->up, t->err, sizeof(t->err));
}

static int tp_drain_all(s3_task *t, sluice_ctx *ctx)
{
    for (s3_tp *tp = t->tps; tp; tp = tp->next) {
        int rc = tp_drain(t, ctx, tp);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static void tp_free(s3_tp *tp)
{
    for (s3_file *f = tp->open, *n; f; f = n) {
        n = f->next;
        file_free(f);
    }
    for (s3_file *f = tp->sealed, *n; f; f = n) {
        n = f->next;
        file_free(f);
    }
    free(tp->topic);
    free(tp);
}

/* ======================================================================== */
/* One record                                                                */
/* ======================================================================== */

static s3_file *file_find(s3_tp *tp, const char *encoded)
{
    for (s3_file *f = tp->open; f; f = f->next)
        if (strcmp(f->encoded, encoded) == 0)
            return f;
    return NULL;
}

/* Whether the record must start new objects (rotation before it); f is
 * the open object of its encoded partition, or NULL. */
static int rotate_before(s3_task *t, s3_tp *tp, const s3_file *f, const sluice_record *rec,
                         int64_t ts, int64_t now)
{
    const s3_conf *c = t->conf;
    if (c->rotate_interval_ms > 0 && tp->base_ts >= 0 && ts - tp->base_ts >= c->rotate_interval_ms)
        return 1;
    if (tp->schedule_at && now >= tp->schedule_at)
        return 1;
    return f && !s3_writer_accepts(f->w, rec->value_schema);
}

/* Prefixes t->err with where the record is; returns -1 (fatal). */
static int record_fail(s3_task *t, const sluice_record *rec)
{
    char why[sizeof(t->err)];
    memcpy(why, t->err, sizeof(why));
    snprintf(t->err, sizeof(t->err), "%.200s partition %d offset %" PRId64 ": %.1500s", rec->topic,
             (int)rec->partition, rec->offset, why);
    return -1;
}

/* Bookkeeping after a record went into object f: counts, the rotation
 * clocks, and rotation by flush.size or a part upload. 0 / 1 / -1. */
static int record_taken(s3_task *t, sluice_ctx *ctx, s3_tp *tp, s3_file *f, int64_t offset,
                        int64_t ts, int64_t now)
{
    const s3_conf *c = t->conf;
    f->records++;
    tp->count++;
    tp->next_offset = offset + 1;
    if (tp->base_ts < 0)
        tp->base_ts = ts;
    if (!tp->schedule_at && c->rotate_schedule_ms > 0)
        tp->schedule_at = (now / c->rotate_schedule_ms + 1) * c->rotate_schedule_ms;
    if (tp->count < c->flush_size)
        return file_push(t, ctx, f);
    int rc = tp_rotate(t, tp);
    return rc ? rc : tp_drain(t, ctx, tp);
}

/* Takes one record; now: the wall clock at the start of the batch.
 * 0 / 1 / -1 with t->err, or S3_HOST_REPORTED. */
static int record_put(s3_task *t, sluice_ctx *ctx, const sluice_record *rec, int64_t now)
{
    const s3_conf *c = t->conf;
    char buf[1024];
    const char *encoded = buf;
    int64_t ts = 0;
    s3_tp *tp = tp_get(t, rec->topic, rec->partition);
    if (!tp) {
        snprintf(t->err, sizeof(t->err), "out of memory");
        return 1;
    }
    if (rec->offset < tp->next_offset)
        return 0; /* taken by an earlier call */
    if (sluice_record_is_tombstone(rec)) {
        if (c->ignore_nulls) {
            tp->next_offset = rec->offset + 1;
            return 0;
        }
        snprintf(t->err, sizeof(t->err),
                 "%s partition %d offset %" PRId64 ": null value (tombstone) and "
                 "behavior.on.null.values=fail",
                 rec->topic, (int)rec->partition, rec->offset);
        return -1;
    }
    sluice_record dec; /* rec with its value decoded, for the partitioner */
    const sluice_record *prec = rec;
    if (c->needs_value) {
        dec = *rec;
        if (!(dec.value = sluice_record_value(ctx, rec)))
            return S3_HOST_REPORTED; /* it names the record and why */
        prec = &dec;
    }
    if (c->needs_record_time &&
        s3_partition_timestamp(c, prec, now, &ts, t->err, sizeof(t->err)) != 0)
        return record_fail(t, rec);
    if (c->part_kind == S3_PART_DEFAULT)
        encoded = tp->encoded;
    else if (s3_partition_encode(c, prec, ts, buf, sizeof(buf), t->err, sizeof(t->err)) != 0)
        return record_fail(t, rec);
    s3_file *f = file_find(tp, encoded);
    if (rotate_before(t, tp, f, rec, ts, now)) {
        int rc = tp_rotate(t, tp);
        if (rc == 0)
            rc = tp_drain(t, ctx, tp);
        if (rc != 0)
            return rc; /* the record is not taken: it comes again */
        /* every object of tp was sealed */
        f = NULL;
    }
    if (!f && !(f = file_open(t, tp, encoded, rec)))
        return -1;
    int rc = s3_writer_append(f->w, ctx, rec, t->err, sizeof(t->err));
    if (rc != 0)
        return rc == S3_HOST_REPORTED ? rc : record_fail(t, rec);
    return record_taken(t, ctx, tp, f, rec->offset, ts, now);
}

/* ======================================================================== */
/* Callbacks                                                                 */
/* ======================================================================== */

/* Stops the uploader (first: then no job runs; a transfer under way is
 * cancelled) and frees every object not complete. Returns how many. */
static int discard_all(s3_task *t)
{
    s3_uploader_destroy(t->up);
    t->up = NULL;
    int discarded = 0;
    for (s3_tp *tp = t->tps, *n; tp; tp = n) {
        n = tp->next;
        for (s3_file *f = tp->open; f; f = f->next)
            discarded++;
        for (s3_file *f = tp->sealed; f; f = f->next)
            discarded++;
        tp_free(tp);
    }
    t->tps = t->last = NULL;
    return discarded;
}

static void s3_close(void *state, sluice_ctx *ctx)
{
    s3_task *t = state;
    if (!t)
        return;
    int discarded = discard_all(t);
    if (discarded)
        sluice_log(ctx, SLUICE_LOG_INFO,
                   "closing: %d incomplete objects discarded (their records were not committed)",
                   discarded);
    s3_store_destroy(t->store);
    s3_conf_destroy(t->conf);
    free(t);
}

static int s3_open(sluice_ctx *ctx, void **state)
{
    s3_task *t = calloc(1, sizeof(*t));
    if (!t)
        return sluice_error(ctx, 1, "out of memory");
    if (!(t->conf = s3_conf_create(ctx)))
        goto fail_quiet;
    if (!(t->store = s3_store_create(t->conf, t->err, sizeof(t->err))))
        goto fail;
    int rc = s3_store_check(t->store, t->err, sizeof(t->err));
    if (rc < 0)
        goto fail;
    if (rc > 0) /* unreachable for now: the uploads retry */
        sluice_log(ctx, SLUICE_LOG_WARN, "checking the bucket: %s; continuing", t->err);
    size_t part = s3_store_part_size(t->store);
    if (!(t->up = s3_uploader_create(t->store, 2 * part, t->err, sizeof(t->err))))
        goto fail;
    if (t->conf->file_dir)
        sluice_log(ctx, SLUICE_LOG_INFO, "writing %s objects to the lake directory %s",
                   s3_writer_extension(t->conf), t->conf->file_dir);
    else
        sluice_log(ctx, SLUICE_LOG_INFO, "writing %s objects to s3://%s/%s/ at %s",
                   s3_writer_extension(t->conf), t->conf->bucket, t->conf->topics_dir,
                   t->conf->endpoint);
    *state = t;
    return SLUICE_OK;
fail:
    sluice_error(ctx, 0, "%s", t->err);
fail_quiet:
    s3_close(t, ctx);
    return SLUICE_ERROR;
}

/* The uploader's failure since the last call, reported once: a transient
 * one is answered RETRY and the uploader resumed, so it tries again while
 * the host backs off. 0 / 1 / -1. */
static int uploader_check(s3_task *t)
{
    if (!t->up) { /* close_partitions could not start a new one */
        snprintf(t->err, sizeof(t->err), "no upload thread (it could not be restarted after a "
                                         "rebalance)");
        return -1;
    }
    int rc = s3_uploader_status(t->up, t->err, sizeof(t->err));
    if (rc > 0)
        s3_uploader_resume(t->up);
    return rc;
}

static int s3_put(void *state, sluice_ctx *ctx, const sluice_record *records, size_t n)
{
    s3_task *t = state;
    int64_t now = wall_ms(); /* once a batch: rotation by wall clock is coarser than a batch */
    int rc = uploader_check(t);
    if (rc == 0)
        rc = tp_drain_all(t, ctx);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = record_put(t, ctx, &records[i], now);
    if (rc == 0)
        sluice_metric_add(ctx, "records.put", (int64_t)n);
    return status_of(ctx, rc, t->err);
}

static int s3_flush(void *state, sluice_ctx *ctx)
{
    return SLUICE_OK; /* never called: the host uses precommit */
}

static int64_t tp_first_pending(const s3_tp *tp)
{
    int64_t low = -1;
    for (const s3_file *f = tp->sealed; f; f = f->next)
        if (low < 0 || f->start_offset < low)
            low = f->start_offset;
    for (const s3_file *f = tp->open; f; f = f->next)
        if (low < 0 || f->start_offset < low)
            low = f->start_offset;
    return low;
}

/* Whether tp's records came from the consumed partition `off`: the same
 * topic, or (a transform routed the records to another topic, and the host
 * gives the consumed topic) any topic the host does not name, on the same
 * partition number. Conservative: it may hold back a commit, never let one
 * pass an incomplete object. */
static int tp_matches(const s3_tp *tp, const sluice_offset *off, const sluice_offset *all, size_t n)
{
    if (tp->partition != off->partition)
        return 0;
    if (strcmp(tp->topic, off->topic) == 0)
        return 1;
    for (size_t i = 0; i < n; i++)
        if (strcmp(tp->topic, all[i].topic) == 0)
            return 0;
    return 1;
}

static int s3_precommit(void *state, sluice_ctx *ctx, sluice_offset *offsets, size_t n)
{
    s3_task *t = state;
    int64_t now = wall_ms();
    int rc = uploader_check(t);
    for (s3_tp *tp = t->tps; tp && rc == 0; tp = tp->next)
        if (tp->schedule_at && now >= tp->schedule_at)
            rc = tp_rotate(t, tp);
    if (rc == 0)
        rc = tp_drain_all(t, ctx);
    /* whatever happened, never let the host commit past an object not in the lake */
    for (size_t i = 0; i < n; i++) {
        for (s3_tp *tp = t->tps; tp; tp = tp->next) {
            if (!tp_matches(tp, &offsets[i], offsets, n))
                continue;
            int64_t low = tp_first_pending(tp);
            if (low >= 0 && low < offsets[i].offset)
                offsets[i].offset = low;
        }
    }
    return status_of(ctx, rc, t->err);
}

/* A rebalance takes the task's partitions away (the host gives up all of
 * them at once: eager rebalancing). Every object not complete in the lake
 * is discarded - the uploader stops first, cancelling a transfer under way,
 * so none of them is finished later over an object of the same name the
 * partition's next owner writes - and a fresh uploader serves what the task
 * is assigned next. Their records were not committed: the next owner
 * writes them again. */
static int s3_close_partitions(void *state, sluice_ctx *ctx, const sluice_offset *parts, size_t n)
{
    s3_task *t = state;
    /* it discards every partition's objects: only right when it gives up
     * every partition it holds, as the host's eager rebalancing asks */
    for (s3_tp *tp = t->tps; tp; tp = tp->next) {
        size_t i = 0;
        while (i < n && !tp_matches(tp, &parts[i], parts, n))
            i++;
        if (i == n)
            return sluice_error(ctx, 0, "asked to give up some partitions but not %s [%d], which "
                                "it holds: this sink gives up all of them at once",
                                tp->topic, (int)tp->partition);
    }
    int discarded = discard_all(t);
    sluice_log(ctx, SLUICE_LOG_INFO,
               "rebalance: gave up %zu partitions, %d incomplete objects discarded (their "
               "records go to the next owner)",
               n, discarded);
    if (!(t->up = s3_uploader_create(t->store, 2 * s3_store_part_size(t->store), t->err,
                                     sizeof(t->err))))
        return sluice_error(ctx, 0, "%s", t->err);
    return SLUICE_OK;
}

SLUICE_PLUGIN_DEFINE(.name = "s3", .kind = SLUICE_SINK,
                     .description = "Writes records as Avro or JSON-lines objects into an S3 "
                                    "bucket or a file:// lake, exactly once",
                     .version = "0.1.0", .options = s3_options,
                     .sink = {.open = s3_open,
                              .put = s3_put,
                              .flush = s3_flush,
                              .close = s3_close,
                              .precommit = s3_precommit,
                              .close_partitions = s3_close_partitions},
                     .max_tasks = SLUICE_TASKS_ANY, .raw_values = 1);
