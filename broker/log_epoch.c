/*
 * log_epoch.c - the leader-epoch cache of a partition and its checkpoint.
 *
 * Each entry says "epoch E started at offset S"; entries ascend in both. The
 * file is Kafka's leader-epoch-checkpoint text format:
 *
 *   0\n                  version
 *   <count>\n
 *   <epoch> <startOffset>\n   count times
 *
 * It is replaced atomically: written to leader-epoch-checkpoint.tmp,
 * fsync'd, renamed over the old one, and the directory fsync'd. That costs
 * two fsyncs, which is fine because it happens only when an epoch starts or
 * when truncation or retention drops entries, never per batch.
 *
 * Runs on: the log's owner thread.
 */
#include "log_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "logging.h"

static int epoch_error(sl_log *log, const char *file, const char *what, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s/%s: %s: %s", log->name, file, what, strerror(errno));
    return SL_LOG_ERR_IO;
}

static int epoch_push(sl_log *log, int32_t epoch, int64_t start)
{
    if (log->nepochs == log->epochs_cap) {
        int ncap = log->epochs_cap ? log->epochs_cap * 2 : 8;
        sl_epoch_entry *p = realloc(log->epochs, (size_t)ncap * sizeof(*p));
        if (!p)
            return -1;
        log->epochs = p;
        log->epochs_cap = ncap;
    }
    log->epochs[log->nepochs++] = (sl_epoch_entry){epoch, start};
    return 0;
}

/* Write the whole cache to the tmp file and rename it into place. */
static int epochs_write(sl_log *log, char *err, size_t errlen)
{
    int fd = openat(log->dir_fd, SL_LOG_EPOCH_TMP, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    int rc = SL_LOG_ERR_IO;

    if (!f) {
        rc = epoch_error(log, SL_LOG_EPOCH_TMP, "open", err, errlen);
        goto fail;
    }
    fprintf(f, "0\n%d\n", log->nepochs);
    for (int i = 0; i < log->nepochs; i++)
        fprintf(f, "%" PRId32 " %" PRId64 "\n", log->epochs[i].epoch, log->epochs[i].start_offset);
    if (fflush(f) != 0 || ferror(f) || fsync(fd) < 0) {
        rc = epoch_error(log, SL_LOG_EPOCH_TMP, "write", err, errlen);
        goto fail;
    }
    fclose(f);
    f = NULL;
    fd = -1;
    if (renameat(log->dir_fd, SL_LOG_EPOCH_TMP, log->dir_fd, SL_LOG_EPOCH_FILE) < 0) {
        rc = epoch_error(log, SL_LOG_EPOCH_FILE, "rename", err, errlen);
        goto fail;
    }
    if (fsync(log->dir_fd) < 0)
        return epoch_error(log, ".", "fsync of the directory", err, errlen);
    return 0;
fail:
    if (f)
        fclose(f);
    else if (fd >= 0)
        close(fd);
    return rc;
}

/* Parse the checkpoint text in buf. Returns 0, or <0 with err. */
static int epochs_parse(sl_log *log, char *buf, char *err, size_t errlen)
{
    char *save = NULL, *line = strtok_r(buf, "\n", &save);
    int version, count, n;

    if (!line || sscanf(line, "%d%n", &version, &n) != 1 || line[n] || version != 0)
        goto bad;
    line = strtok_r(NULL, "\n", &save);
    if (!line || sscanf(line, "%d%n", &count, &n) != 1 || line[n] || count < 0)
        goto bad;
    for (int i = 0; i < count; i++) {
        int32_t epoch;
        int64_t start;
        line = strtok_r(NULL, "\n", &save);
        if (!line || sscanf(line, "%" SCNd32 " %" SCNd64 "%n", &epoch, &start, &n) != 2 || line[n])
            goto bad;
        int ordered = !log->nepochs || (epoch > log->epochs[log->nepochs - 1].epoch &&
                                        start >= log->epochs[log->nepochs - 1].start_offset);
        if (epoch < 0 || start < 0 || !ordered || epoch_push(log, epoch, start) < 0)
            goto bad;
    }
    if (strtok_r(NULL, "\n", &save))
        goto bad;
    return 0;
bad:
    snprintf(err, errlen,
             "%s/%s: malformed after %d entries (expected \"0\\n<count>\\n\" then "
             "ascending \"<epoch> <startOffset>\" lines)",
             log->name, SL_LOG_EPOCH_FILE, log->nepochs);
    log->nepochs = 0;
    return SL_LOG_ERR_CORRUPT;
}

int sl_epochs_load(sl_log *log, char *err, size_t errlen)
{
    int fd = openat(log->dir_fd, SL_LOG_EPOCH_FILE, O_RDONLY | O_CLOEXEC);
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = SL_LOG_ERR_IO;

    if (fd < 0)
        return errno == ENOENT ? 0 : epoch_error(log, SL_LOG_EPOCH_FILE, "open", err, errlen);
    for (;;) {
        if (cap - len < 4096) {
            char *nb = realloc(buf, cap + 65536);
            if (!nb) {
                snprintf(err, errlen, "%s/%s: out of memory", log->name, SL_LOG_EPOCH_FILE);
                goto fail;
            }
            buf = nb;
            cap += 65536;
        }
        ssize_t r = read(fd, buf + len, cap - len - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = epoch_error(log, SL_LOG_EPOCH_FILE, "read", err, errlen);
            goto fail;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    buf[len] = '\0';
    rc = epochs_parse(log, buf, err, errlen);
fail:
    free(buf);
    close(fd);
    return rc;
}

int sl_epochs_assign(sl_log *log, int32_t epoch, int64_t start, char *err, size_t errlen)
{
    if (epoch < 0 || (log->nepochs && epoch <= log->epochs[log->nepochs - 1].epoch))
        return 0;
    if (epoch_push(log, epoch, start) < 0) {
        snprintf(err, errlen, "partition %s: out of memory for leader epochs", log->name);
        return SL_LOG_ERR_IO;
    }
    int rc = epochs_write(log, err, errlen);
    if (rc < 0)
        log->nepochs--;
    return rc;
}

int sl_epochs_truncate_end(sl_log *log, int64_t end, char *err, size_t errlen)
{
    int n = log->nepochs;
    while (log->nepochs && log->epochs[log->nepochs - 1].start_offset >= end)
        log->nepochs--;
    if (n == log->nepochs)
        return 0;
    sl_info(SL_LOG_COMPONENT,
            "partition %s: dropped %d leader epoch entries at or after offset %" PRId64, log->name,
            n - log->nepochs, end);
    return epochs_write(log, err, errlen);
}

/* Kafka's truncateFromStart: entries wholly before start go; the last one
 * that began before start now begins at start. */
int sl_epochs_truncate_start(sl_log *log, int64_t start, char *err, size_t errlen)
{
    int keep = 0; /* index of the first entry to keep */
    while (keep + 1 < log->nepochs && log->epochs[keep + 1].start_offset <= start)
        keep++;
    if (!log->nepochs || (keep == 0 && log->epochs[0].start_offset >= start))
        return 0;
    memmove(log->epochs, log->epochs + keep, (size_t)(log->nepochs - keep) * sizeof(*log->epochs));
    log->nepochs -= keep;
    if (log->epochs[0].start_offset < start)
        log->epochs[0].start_offset = start;
    return epochs_write(log, err, errlen);
}
