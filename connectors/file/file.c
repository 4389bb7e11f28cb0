/*
 * file.c - the file sink: descriptor and task callbacks.
 *
 * put formats and writes through stdio (buffered); flush makes the lines
 * durable with fflush + fdatasync and answers OK, or ERROR naming the file
 * and the reason. A write error in put is remembered by stdio and reported
 * at the latest by flush, so the host never commits lines that were lost.
 *
 * Runs on: the task's thread, one callback at a time (plugin.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "file.h"

typedef struct fs_task {
    fs_conf *conf;
    FILE *f;
    int64_t unflushed;
    char *buf; /* one put's lines, reused: no allocation per record */
    size_t len, cap;
} fs_task;

static void fs_close(void *state, sluice_ctx *ctx)
{
    fs_task *t = state;
    if (!t)
        return;
    if (t->f && fclose(t->f) != 0)
        sluice_log(ctx, SLUICE_LOG_WARN, "closing %s: %s", t->conf->file, strerror(errno));
    fs_conf_destroy(t->conf);
    free(t->buf);
    free(t);
}

static int fs_open(sluice_ctx *ctx, void **state)
{
    fs_task *t = calloc(1, sizeof(*t));
    if (!t)
        return sluice_error(ctx, 1, "out of memory");
    if (!(t->conf = fs_conf_create(ctx)))
        goto fail;
    if (!(t->f = fopen(t->conf->file, t->conf->append ? "a" : "w"))) {
        sluice_error(ctx, 0, "cannot open %s: %s", t->conf->file, strerror(errno));
        goto fail;
    }
    sluice_log(ctx, SLUICE_LOG_INFO, "writing JSON lines to %s", t->conf->file);
    *state = t;
    return SLUICE_OK;
fail:
    fs_close(t, ctx);
    return SLUICE_ERROR;
}

static int fs_put(void *state, sluice_ctx *ctx, const sluice_record *records, size_t n)
{
    fs_task *t = state;
    t->len = 0;
    for (size_t i = 0; i < n; i++) {
        if (fs_format_line(ctx, &records[i], &t->buf, &t->len, &t->cap) != 0)
            return sluice_error(ctx, 0, "%s: record %zu of %zu (topic %s partition %d offset %lld): "
                                "%s", t->conf->file, i, n, records[i].topic,
                                (int)records[i].partition, (long long)records[i].offset,
                                strerror(errno));
    }
    if (t->len && fwrite(t->buf, 1, t->len, t->f) != t->len)
        return sluice_error(ctx, 0, "%s: write: %s", t->conf->file, strerror(errno));
    /* start writing the lines back now, so flush's fdatasync finds little
     * left to wait for: the disk works while the next batches are read */
    if (t->len && fflush(t->f) == 0)
        sync_file_range(fileno(t->f), 0, 0, SYNC_FILE_RANGE_WRITE);
    t->unflushed += (int64_t)n;
    sluice_metric_add(ctx, "records.written", (int64_t)n);
    return SLUICE_OK;
}

static int fs_flush(void *state, sluice_ctx *ctx)
{
    fs_task *t = state;
    if (fflush(t->f) != 0 || ferror(t->f))
        return sluice_error(ctx, 0, "%s: write: %s", t->conf->file, strerror(errno));
    if (fdatasync(fileno(t->f)) != 0)
        return sluice_error(ctx, 0, "%s: fdatasync: %s", t->conf->file, strerror(errno));
    sluice_metric_add(ctx, "flushes", 1);
    t->unflushed = 0;
    return SLUICE_OK;
}

SLUICE_PLUGIN_DEFINE(.name = "file", .kind = SLUICE_SINK,
                     .description = "Writes every record as one JSON line to a file",
                     .version = "0.1.0", .options = fs_options,
                     .sink = {
                         .open = fs_open, .put = fs_put, .flush = fs_flush, .close = fs_close},
                     .raw_values = 1);
