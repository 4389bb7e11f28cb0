/*
 * log_read.c - the read side of a partition log and the operations that
 * remove data: reads for Fetch (a sendfile-able slice), offset by time,
 * truncation for replication, and retention.
 *
 * A read finds the segment by binary search on base offsets, the starting
 * position through the sparse offset index, then walks batch headers (through
 * the header window, so a walk over small batches costs one pread per 16 KiB)
 * to the batch holding the offset and on while batches fit max_bytes and stay
 * below max_offset. It never reads record bytes: the caller sendfiles them.
 *
 * sl_log_scan_headers walks headers the same way, for whoever rebuilds state
 * from the log (the broker's idempotent-producer table).
 *
 * Removal deletes whole segments from the front (retention) or the back
 * (truncation) and cuts at most one segment in the middle; the active
 * segment is never deleted, so a log always has one.
 *
 * Runs on: the log's owner thread.
 */
#include "log_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "logging.h"

/* Index of the last segment whose base <= offset (0 when none). */
static int log_find_segment(const sl_log *log, int64_t offset)
{
    int lo = 0, hi = log->nsegs; /* first segment with base > offset */
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (log->segs[mid]->base <= offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo ? lo - 1 : 0;
}

/* The first batch holding offset or after it: segment index, position. */
static int log_locate(sl_log *log, int64_t offset, int *si, int64_t *pos, sl_batch_header *h,
                      char *err, size_t errlen)
{
    for (int i = log_find_segment(log, offset); i < log->nsegs; i++) {
        int rc = sl_seg_find(log, log->segs[i], offset, pos, h, err, errlen);
        if (rc != 0) {
            *si = i;
            return rc;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- read */

/* Extend a slice of len bytes at pos while batches fit. */
static int log_extend(sl_log *log, const sl_segment *seg, int64_t pos, int64_t *len,
                      int64_t max_offset, int64_t max_bytes, char *err, size_t errlen)
{
    sl_batch_header h;
    for (int64_t p = pos + *len; p < seg->size; p += sl_batch_total_size(&h)) {
        int rc = sl_seg_header_at(log, seg, p, &h, err, errlen);
        if (rc < 0)
            return rc;
        if (h.base_offset + h.last_offset_delta >= max_offset ||
            *len + sl_batch_total_size(&h) > max_bytes)
            break;
        *len += sl_batch_total_size(&h);
    }
    return 0;
}

int sl_log_read(sl_log *log, int64_t offset, int64_t max_offset, int64_t max_bytes, int min_one,
                sl_log_slice *out, char *err, size_t errlen)
{
    sl_batch_header h;
    int64_t pos, len;
    int si;

    *out = (sl_log_slice){.fd = -1, .pos = 0, .len = 0, .first_offset = offset};
    if (offset < log->start || offset > log->leo) {
        snprintf(err, errlen,
                 "partition %s: offset %" PRId64 " is out of range %" PRId64 "..%" PRId64,
                 log->name, offset, log->start, log->leo);
        return SL_LOG_ERR_OFFSET_OUT_OF_RANGE;
    }
    if (max_offset > log->leo)
        max_offset = log->leo;
    if (offset >= max_offset)
        return 0;
    int rc = log_locate(log, offset, &si, &pos, &h, err, errlen);
    if (rc <= 0)
        return rc;
    len = sl_batch_total_size(&h);
    if (h.base_offset + h.last_offset_delta >= max_offset || (len > max_bytes && !min_one))
        return 0;
    rc = log_extend(log, log->segs[si], pos, &len, max_offset, max_bytes, err, errlen);
    if (rc < 0)
        return rc;
    out->fd = fcntl(log->segs[si]->log_fd, F_DUPFD_CLOEXEC, 0);
    if (out->fd < 0) {
        snprintf(err, errlen, "partition %s: dup for a read: %s", log->name, strerror(errno));
        return SL_LOG_ERR_IO;
    }
    out->pos = pos;
    out->len = len;
    out->first_offset = h.base_offset;
    return 0;
}

/* ---------------------------------------------------------------- scan */

int sl_log_scan_headers(sl_log *log, int64_t from_offset, sl_log_header_fn fn, void *arg, char *err,
                        size_t errlen)
{
    sl_batch_header h;

    if (from_offset < log->start)
        from_offset = log->start;
    for (int i = log_find_segment(log, from_offset); i < log->nsegs; i++) {
        const sl_segment *seg = log->segs[i];
        int64_t p = from_offset > seg->base ? sl_seg_lookup(seg, from_offset) : 0;
        for (; p < seg->size; p += sl_batch_total_size(&h)) {
            int rc = sl_seg_header_at(log, seg, p, &h, err, errlen);
            if (rc < 0)
                return rc;
            if (h.base_offset + h.last_offset_delta < from_offset)
                continue;
            rc = fn(&h, arg);
            if (rc)
                return rc;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- by time */

int64_t sl_log_offset_for_time(sl_log *log, int64_t ts)
{
    char err[256];
    sl_batch_header h;

    for (int i = 0; i < log->nsegs; i++) {
        const sl_segment *seg = log->segs[i];
        if (seg->max_ts < ts)
            continue;
        for (int64_t p = sl_seg_ts_lookup(seg, ts); p < seg->size; p += sl_batch_total_size(&h)) {
            if (sl_seg_header_at(log, seg, p, &h, err, sizeof(err)) < 0) {
                sl_warn(SL_LOG_COMPONENT, "%s", err);
                return -1;
            }
            if (h.max_timestamp >= ts)
                return h.base_offset;
        }
    }
    return -1;
}

/* ---------------------------------------------------------------- truncate */

/* Delete segments [from, nsegs) from the back. */
static void log_drop_tail(sl_log *log, int from)
{
    while (log->nsegs > from) {
        sl_seg_delete(log, log->segs[log->nsegs - 1]);
        log->nsegs--;
    }
}

int sl_log_truncate(sl_log *log, int64_t offset, char *err, size_t errlen)
{
    sl_batch_header h;
    int64_t pos, old_leo = log->leo;
    int si, old_nsegs = log->nsegs;

    if (offset >= log->leo)
        return 0;
    int rc = log_locate(log, offset, &si, &pos, &h, err, errlen);
    if (rc <= 0)
        return rc;
    rc = sl_seg_truncate_at(log, log->segs[si], pos, err, errlen);
    if (rc < 0)
        return rc;
    log_drop_tail(log, si + 1);
    sl_segment *seg = sl_log_active(log);
    if (seg->size == 0)
        seg->created_ms = -1;
    log->leo = h.base_offset;
    log->truncations++;
    log->hw = log->hw < log->leo ? log->hw : log->leo;
    log->durable = log->durable < log->leo ? log->durable : log->leo;
    log->start = log->start < log->leo ? log->start : log->leo;
    log->first_dirty = log->first_dirty < log->leo ? log->first_dirty : log->leo;
    sl_info(SL_LOG_COMPONENT,
            "partition %s: truncated to offset %" PRId64 " (was %" PRId64
            "), removed %d whole segments",
            log->name, log->leo, old_leo, old_nsegs - log->nsegs);
    return sl_epochs_truncate_end(log, log->leo, err, errlen);
}

/* ---------------------------------------------------------------- retain */

int64_t sl_seg_time(const sl_segment *seg)
{
    struct stat st;
    if (seg->max_ts >= 0 || fstat(seg->log_fd, &st) < 0)
        return seg->max_ts;
    return (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
}

/* Why the oldest segment may go (NULL: it stays). */
static const char *log_retention_reason(const sl_log *log, const sl_segment *seg, int64_t total,
                                        int64_t now_ms)
{
    if (log->nsegs < 2 || seg->next_offset > log->hw)
        return NULL;
    if (log->cfg.retention_ms >= 0 && sl_seg_time(seg) < now_ms - log->cfg.retention_ms)
        return "retention.ms";
    if (log->cfg.retention_bytes >= 0 && total - seg->size >= log->cfg.retention_bytes)
        return "retention.bytes";
    return NULL;
}

int sl_log_retain(sl_log *log, int64_t now_ms, char *err, size_t errlen)
{
    int64_t total = sl_log_size_bytes(log);
    const char *why;
    int n = 0;

    while ((why = log_retention_reason(log, log->segs[0], total, now_ms)) != NULL) {
        sl_segment *seg = log->segs[0];
        sl_info(SL_LOG_COMPONENT,
                "partition %s: deleting segment %020" PRId64 " (offsets %" PRId64 "..%" PRId64
                ", %" PRId64 " bytes) by %s",
                log->name, seg->base, seg->base, seg->next_offset - 1, seg->size, why);
        total -= seg->size;
        sl_seg_delete(log, seg);
        memmove(log->segs, log->segs + 1, (size_t)(log->nsegs - 1) * sizeof(*log->segs));
        log->nsegs--;
        n++;
    }
    if (n == 0)
        return 0;
    if (log->segs[0]->base > log->start)
        log->start = log->segs[0]->base;
    int rc = sl_epochs_truncate_start(log, log->start, err, errlen);
    return rc < 0 ? rc : n;
}
