/*
 * log.c - a partition's log: open and recovery, append and roll, group
 * commit. Reads, truncation and retention are in log_read.c, one segment's
 * files in log_segment.c, leader epochs in log_epoch.c (see log_internal.h).
 *
 * Design:
 *   - The append path is one pwrite of the batch into the active segment and,
 *     once per index_interval_bytes, one pwrite each to .index/.timeindex.
 *     No fsync, no allocation (index arrays grow by doubling), no stat.
 *   - Durability is group commit: sync_begin dups the fds that hold unsynced
 *     bytes into a syncpoint; a flusher thread fdatasyncs and closes them;
 *     sync_end moves the HW. Dup'd fds keep working after the owner rolls,
 *     truncates or deletes, so the owner never waits for the flusher.
 *   - A roll leaves the old segment's unsynced fds (dup'd) plus a dup of the
 *     directory fd (the new files' names must be durable too) in `pending`;
 *     the next syncpoint takes them. So that a syncpoint always has room, at
 *     most one roll's worth is pending: a second roll before a sync_begin
 *     fdatasyncs the first one's fds on the spot (rare: it takes two rolls
 *     between two group commits).
 *   - A truncation bumps `truncations`; a syncpoint taken before it cannot
 *     vouch for bytes written after it, so its sync_end leaves the HW alone.
 *   - Segments live in an array of pointers ordered by base offset, the last
 *     one active; finding the segment for an offset is a binary search.
 *
 * Runs on: the log's owner thread, except sl_log_sync_run (any thread).
 */
#include "log_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "logging.h"

static int64_t (*log_clock)(void);

/* ---------------------------------------------------------------- basics */

void sl_log_set_clock(int64_t (*now_ms)(void))
{
    log_clock = now_ms;
}

int64_t sl_log_now_ms(void)
{
    struct timespec ts;
    if (log_clock)
        return log_clock();
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sl_log_config_default(sl_log_config *cfg)
{
    cfg->segment_bytes = 1073741824;
    cfg->roll_ms = 604800000;
    cfg->retention_ms = 604800000;
    cfg->retention_bytes = -1;
    cfg->index_interval_bytes = 4096;
}

sl_segment *sl_log_active(const sl_log *log)
{
    return log->segs[log->nsegs - 1];
}

void sl_log_win_reset(sl_log *log)
{
    log->win_seg = NULL;
    log->win_pos = log->win_len = 0;
}

void sl_log_set_config(sl_log *log, const sl_log_config *cfg)
{
    log->cfg = *cfg;
}

int64_t sl_log_start_offset(const sl_log *log)
{
    return log->start;
}

int64_t sl_log_end_offset(const sl_log *log)
{
    return log->leo;
}

int64_t sl_log_high_watermark(const sl_log *log)
{
    return log->hw;
}

int64_t sl_log_size_bytes(const sl_log *log)
{
    int64_t n = 0;
    for (int i = 0; i < log->nsegs; i++)
        n += log->segs[i]->size;
    return n;
}

int sl_log_segment_count(const sl_log *log)
{
    return log->nsegs;
}

const char *sl_log_dir(const sl_log *log)
{
    return log->dir;
}

const char *sl_log_name(const sl_log *log)
{
    return log->name;
}

const sl_log_config *sl_log_get_config(const sl_log *log)
{
    return &log->cfg;
}

int32_t sl_log_latest_epoch(const sl_log *log)
{
    return log->nepochs ? log->epochs[log->nepochs - 1].epoch : -1;
}

int64_t sl_log_epoch_end_offset(const sl_log *log, int32_t epoch)
{
    for (int i = 0; i < log->nepochs; i++)
        if (log->epochs[i].epoch > epoch)
            return log->epochs[i].start_offset;
    return log->leo;
}

void sl_log_set_high_watermark(sl_log *log, int64_t hw)
{
    log->hw = hw < 0 ? 0 : hw > log->leo ? log->leo : hw;
}

static int log_push_seg(sl_log *log, sl_segment *seg)
{
    if (log->nsegs == log->segs_cap) {
        int ncap = log->segs_cap ? log->segs_cap * 2 : 16;
        sl_segment **p = realloc(log->segs, (size_t)ncap * sizeof(*p));
        if (!p)
            return -1;
        log->segs = p;
        log->segs_cap = ncap;
    }
    log->segs[log->nsegs++] = seg;
    return 0;
}

/* ---------------------------------------------------------------- syncing */

static int log_fdatasync(sl_log *log, int fd, const char *what)
{
    if (fdatasync(fd) == 0)
        return 0;
    int e = errno;
    sl_error(SL_LOG_COMPONENT, "partition %s: fdatasync of %s failed: %s", log->name, what,
             strerror(e));
    return -e;
}

/* fdatasync and close the pending fds now (on this thread). */
static int log_flush_pending(sl_log *log)
{
    int rc = 0;
    for (int i = 0; i < log->npending; i++) {
        int r = log_fdatasync(log, log->pending[i], "a rolled segment");
        if (r < 0 && rc == 0)
            rc = r;
        close(log->pending[i]);
    }
    log->npending = 0;
    log->pending_dir = 0;
    return rc;
}

/* Sync everything now: close, open. */
static int log_sync_all(sl_log *log)
{
    int rc = log_flush_pending(log);
    sl_segment *seg = log->nsegs ? sl_log_active(log) : NULL;
    int r1 = 0, r2 = 0, r3 = 0;
    if (seg && (seg->log_dirty || log->durable < log->leo))
        r1 = log_fdatasync(log, seg->log_fd, "the active segment");
    if (seg && seg->idx_dirty) {
        r2 = log_fdatasync(log, seg->idx_fd, "the active .index");
        r3 = log_fdatasync(log, seg->tidx_fd, "the active .timeindex");
    }
    rc = rc ? rc : r1 ? r1 : r2 ? r2 : r3;
    if (seg && rc == 0) {
        seg->log_dirty = seg->idx_dirty = 0;
        log->durable = log->leo;
    }
    return rc;
}

static int log_pend_fd(sl_log *log, int fd)
{
    int d = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (d < 0)
        return log_fdatasync(log, fd, "a rolled segment (dup failed)");
    log->pending[log->npending++] = d;
    return 0;
}

/* Hand a segment that stops being active to the next syncpoint. */
static int log_pend_segment(sl_log *log, sl_segment *seg)
{
    int rc = 0;
    if (seg->log_dirty)
        rc = log_pend_fd(log, seg->log_fd);
    if (seg->idx_dirty && rc == 0)
        rc = log_pend_fd(log, seg->idx_fd);
    if (seg->idx_dirty && rc == 0)
        rc = log_pend_fd(log, seg->tidx_fd);
    if (!log->pending_dir && rc == 0) {
        rc = log_pend_fd(log, log->dir_fd);
        log->pending_dir = 1;
    }
    seg->log_dirty = seg->idx_dirty = 0;
    return rc;
}

int sl_log_sync_begin(sl_log *log, sl_log_syncpoint *sp)
{
    sl_segment *seg = sl_log_active(log);
    int want_log = seg->log_dirty || log->durable < log->leo;
    int fds[3], n = 0;

    if (!want_log && !seg->idx_dirty && !log->npending)
        return 0;
    if (want_log)
        fds[n++] = seg->log_fd;
    if (seg->idx_dirty) {
        fds[n++] = seg->idx_fd;
        fds[n++] = seg->tidx_fd;
    }
    for (int i = 0; i < n; i++) {
        int d = fcntl(fds[i], F_DUPFD_CLOEXEC, 0);
        if (d < 0) {
            int e = errno;
            while (i-- > 0)
                close(fds[i]);
            return -e;
        }
        fds[i] = d;
    }
    memcpy(sp->fds, log->pending, (size_t)log->npending * sizeof(int));
    memcpy(sp->fds + log->npending, fds, (size_t)n * sizeof(int));
    sp->nfds = log->npending + n;
    sp->end_offset = log->leo;
    sp->truncations = log->truncations;
    sp->result = 0;
    log->npending = 0;
    log->pending_dir = 0;
    seg->log_dirty = seg->idx_dirty = 0;
    return 1;
}

void sl_log_sync_run(sl_log_syncpoint *sp)
{
    sp->result = 0;
    for (int i = 0; i < sp->nfds; i++) {
        if (fdatasync(sp->fds[i]) < 0 && sp->result == 0)
            sp->result = -errno;
        close(sp->fds[i]);
        sp->fds[i] = -1;
    }
}

int sl_log_sync_end(sl_log *log, const sl_log_syncpoint *sp)
{
    if (sp->result != 0) {
        sl_error(SL_LOG_COMPONENT, "partition %s: group commit up to offset %" PRId64 " failed: %s",
                 log->name, sp->end_offset, strerror(-sp->result));
        sl_log_active(log)->log_dirty = sl_log_active(log)->idx_dirty = 1;
        return sp->result;
    }
    if (sp->truncations != log->truncations)
        return 0;
    int64_t end = sp->end_offset < log->leo ? sp->end_offset : log->leo;
    if (end > log->durable)
        log->durable = end;
    if (end > log->hw)
        log->hw = end;
    return 0;
}

/* ---------------------------------------------------------------- append */

static int64_t log_segment_limit(const sl_log *log)
{
    return log->cfg.segment_bytes < INT32_MAX ? log->cfg.segment_bytes : INT32_MAX;
}

static int log_should_roll(const sl_log *log, const sl_segment *seg, size_t len, int32_t lod,
                           int64_t now)
{
    if (seg->size == 0)
        return 0;
    return seg->size + (int64_t)len > log_segment_limit(log) ||
           now - seg->created_ms >= log->cfg.roll_ms || log->leo + lod - seg->base > INT32_MAX;
}

static int log_roll(sl_log *log, char *err, size_t errlen)
{
    sl_segment *old = sl_log_active(log), *seg = NULL;
    int rc;

    if (log->npending > SL_LOG_SYNC_MAX_FDS - 3 - 4) /* room for one roll + the active 3 */
        log_flush_pending(log);
    rc = sl_seg_create(log, log->leo, &seg, err, errlen);
    if (rc < 0)
        return rc;
    if (log_push_seg(log, seg) < 0) {
        sl_seg_delete(log, seg);
        snprintf(err, errlen, "partition %s: out of memory rolling a segment", log->name);
        return SL_LOG_ERR_IO;
    }
    log_pend_segment(log, old);
    sl_info(SL_LOG_COMPONENT,
            "partition %s: rolled segment %020" PRId64 " (%" PRId64 " bytes) to %020" PRId64,
            log->name, old->base, old->size, seg->base);
    return 0;
}

/* Undo the bytes and index entries of a batch whose bookkeeping failed. */
static void log_cut_back(sl_log *log, sl_segment *seg, int64_t pos)
{
    if (ftruncate(seg->log_fd, (off_t)pos) < 0 ||
        ftruncate(seg->idx_fd, (off_t)seg->nidx * 8) < 0 ||
        ftruncate(seg->tidx_fd, (off_t)seg->ntidx * 12) < 0)
        sl_error(SL_LOG_COMPONENT,
                 "partition %s: cannot cut back a failed append at %" PRId64 ": %s", log->name, pos,
                 strerror(errno));
    seg->size = pos;
}

/* Write the stamped batch and account it. On failure nothing remains. */
static int log_write_batch(sl_log *log, uint8_t *batch, size_t len, int64_t now, char *err,
                           size_t errlen)
{
    sl_segment *seg = sl_log_active(log);
    sl_batch_header h;
    int64_t pos = seg->size;

    sl_batch_header_decode(batch, len, &h);
    int rc = sl_seg_write(log, seg, batch, len, err, errlen);
    if (rc < 0)
        return rc;
    rc = sl_seg_note_batch(log, seg, pos, &h, SL_SEG_NOTE_FILES, err, errlen);
    if (rc < 0) {
        log_cut_back(log, seg, pos);
        return rc;
    }
    if (seg->created_ms < 0)
        seg->created_ms = now;
    log->leo = seg->next_offset;
    return 0;
}

int sl_log_append(sl_log *log, uint8_t *batch, size_t len, int32_t leader_epoch,
                  int64_t log_append_time, int64_t *base_offset, char *err, size_t errlen)
{
    sl_batch_header h;
    int64_t now = sl_log_now_ms(), base = log->leo;
    int rc;

    if (sl_batch_header_decode(batch, len, &h) < 0 || sl_batch_total_size(&h) != (int64_t)len ||
        h.last_offset_delta < 0) {
        snprintf(err, errlen, "partition %s: append of %zu bytes that are not one batch", log->name,
                 len);
        return SL_LOG_ERR_CORRUPT;
    }
    if ((int64_t)len > log_segment_limit(log)) {
        snprintf(err, errlen,
                 "partition %s: batch of %zu bytes is larger than segment.bytes %" PRId64,
                 log->name, len, log_segment_limit(log));
        return SL_LOG_ERR_TOO_LARGE;
    }
    if (log_should_roll(log, sl_log_active(log), len, h.last_offset_delta, now)) {
        rc = log_roll(log, err, errlen);
        if (rc < 0)
            return rc;
    }
    rc = sl_epochs_assign(log, leader_epoch, base, err, errlen);
    if (rc < 0)
        return rc;
    sl_batch_set_offset_epoch(batch, base, leader_epoch);
    if (log_append_time >= 0)
        sl_batch_set_log_append_time(batch, len, log_append_time);
    rc = log_write_batch(log, batch, len, now, err, errlen);
    if (rc < 0) {
        char e2[256];
        sl_epochs_truncate_end(log, log->leo, e2, sizeof(e2));
        return rc;
    }
    *base_offset = base;
    return 0;
}

/* ---------------------------------------------------------------- open */

/* "<20 digits>.log" and friends: the base and which file, else -1. */
static int log_parse_name(const char *name, int64_t *base)
{
    static const char *const exts[] = {".log", ".index", ".timeindex"};
    for (int i = 0; i < 20; i++)
        if (name[i] < '0' || name[i] > '9')
            return -1;
    for (int i = 0; i < 3; i++) {
        if (strcmp(name + 20, exts[i]) == 0) {
            *base = strtoll(name, NULL, 10);
            return i;
        }
    }
    return -1;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int log_has_base(const int64_t *bases, int n, int64_t base)
{
    return n && bsearch(&base, bases, (size_t)n, sizeof(*bases), cmp_i64) != NULL;
}

/* Collect the bases of the .log files, sorted. Index files whose .log is
 * gone are deleted; other files are left alone. */
static int log_list_segments(sl_log *log, int64_t **out, int *nout, char *err, size_t errlen)
{
    int64_t *bases = NULL, base;
    int n = 0, cap = 0, rc = SL_LOG_ERR_IO;
    /* a new open file description: a dup would share dir_fd's position */
    int dfd = openat(log->dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    struct dirent *e;

    if (!d) {
        snprintf(err, errlen, "partition %s: cannot list %s: %s", log->name, log->dir,
                 strerror(errno));
        goto fail;
    }
    while ((e = readdir(d)) != NULL) {
        if (log_parse_name(e->d_name, &base) != 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            int64_t *nb = realloc(bases, (size_t)cap * sizeof(*nb));
            if (!nb) {
                snprintf(err, errlen, "partition %s: out of memory listing segments", log->name);
                goto fail;
            }
            bases = nb;
        }
        bases[n++] = base;
    }
    if (n)
        qsort(bases, (size_t)n, sizeof(*bases), cmp_i64);
    rewinddir(d);
    while ((e = readdir(d)) != NULL) {
        if (log_parse_name(e->d_name, &base) > 0 && !log_has_base(bases, n, base)) {
            sl_warn(SL_LOG_COMPONENT, "partition %s: deleting %s, its .log is missing", log->name,
                    e->d_name);
            unlinkat(log->dir_fd, e->d_name, 0);
        }
    }
    closedir(d);
    *out = bases;
    *nout = n;
    return 0;
fail:
    if (d)
        closedir(d);
    else if (dfd >= 0)
        close(dfd);
    free(bases);
    return rc;
}

/* Delete the segment files of bases[from..n) (after a cut segment). */
static void log_drop_bases(sl_log *log, const int64_t *bases, int from, int n)
{
    for (int i = from; i < n; i++) {
        sl_warn(SL_LOG_COMPONENT,
                "partition %s: deleting segment %020" PRId64 " after a damaged one", log->name,
                bases[i]);
        sl_seg_unlink(log, bases[i]);
    }
}

static int log_load_segments(sl_log *log, char *err, size_t errlen)
{
    int64_t *bases = NULL;
    int n = 0, rc = log_list_segments(log, &bases, &n, err, errlen);

    for (int i = 0; rc == 0 && i < n; i++) {
        sl_segment *seg;
        rc = sl_seg_load(log, bases[i], i == n - 1, &seg, err, errlen);
        if (rc < 0)
            break;
        if (log_push_seg(log, seg) < 0) {
            sl_seg_free(log, seg);
            snprintf(err, errlen, "partition %s: out of memory loading segments", log->name);
            rc = SL_LOG_ERR_IO;
            break;
        }
        if (rc == 1 && i < n - 1)
            log_drop_bases(log, bases, i + 1, n);
        rc = rc == 1 ? 2 : 0; /* 2: stop, the cut segment is the last */
    }
    free(bases);
    if (rc < 0)
        return rc;
    if (log->nsegs == 0) {
        sl_segment *seg;
        rc = sl_seg_create(log, 0, &seg, err, errlen);
        if (rc < 0)
            return rc;
        if (log_push_seg(log, seg) < 0) {
            sl_seg_delete(log, seg);
            snprintf(err, errlen, "partition %s: out of memory", log->name);
            return SL_LOG_ERR_IO;
        }
    }
    return 0;
}

static int log_mkdirs(const char *dir, char *err, size_t errlen)
{
    char path[4096];
    size_t len = strlen(dir);

    if (len == 0 || len >= sizeof(path)) {
        snprintf(err, errlen, "log directory \"%s\": empty or too long", dir);
        return SL_LOG_ERR_IO;
    }
    memcpy(path, dir, len + 1);
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(path, 0755) < 0 && errno != EEXIST) {
            snprintf(err, errlen, "log directory %s: mkdir %s: %s", dir, path, strerror(errno));
            return SL_LOG_ERR_IO;
        }
        *p = c;
        if (c == '\0')
            return 0;
    }
}

static void log_set_name(sl_log *log, const char *dir)
{
    size_t end = strlen(dir);
    while (end > 1 && dir[end - 1] == '/')
        end--;
    size_t start = end;
    while (start > 0 && dir[start - 1] != '/')
        start--;
    size_t n = end - start < sizeof(log->name) - 1 ? end - start : sizeof(log->name) - 1;
    memcpy(log->name, dir + start, n);
    log->name[n] = '\0';
}

static sl_log *log_alloc(const char *dir, const sl_log_config *cfg)
{
    sl_log *log = calloc(1, sizeof(*log));
    if (!log)
        return NULL;
    log->dir_fd = -1;
    log->cfg = *cfg;
    log->tombstones_due = INT64_MAX;
    log_set_name(log, dir);
    log->dir = strdup(dir);
    log->win = malloc(SL_LOG_WINDOW_SIZE);
    if (!log->dir || !log->win) {
        sl_log_close(log);
        return NULL;
    }
    return log;
}

/* Offsets after recovery; the epoch file may be ahead of a cut tail. */
static int log_settle(sl_log *log, char *err, size_t errlen)
{
    log->start = log->segs[0]->base;
    log->leo = sl_log_active(log)->next_offset;
    int rc = sl_epochs_load(log, err, errlen);
    if (rc == 0)
        rc = sl_epochs_truncate_end(log, log->leo, err, errlen);
    if (rc < 0)
        return rc;
    /* older segments whose indexes were rebuilt or that were cut */
    for (int i = 0; i < log->nsegs - 1; i++) {
        sl_segment *old = log->segs[i];
        if ((old->log_dirty && fdatasync(old->log_fd) < 0) ||
            (old->idx_dirty && (fdatasync(old->idx_fd) < 0 || fdatasync(old->tidx_fd) < 0))) {
            snprintf(err, errlen, "partition %s: cannot fdatasync segment %020" PRId64 ": %s",
                     log->name, old->base, strerror(errno));
            return SL_LOG_ERR_IO;
        }
        old->log_dirty = old->idx_dirty = 0;
    }
    sl_segment *seg = sl_log_active(log);
    seg->log_dirty = seg->idx_dirty = 1;
    if (log_sync_all(log) < 0 || fsync(log->dir_fd) < 0) {
        snprintf(err, errlen, "partition %s: cannot fdatasync the recovered tail: %s", log->name,
                 strerror(errno));
        return SL_LOG_ERR_IO;
    }
    log->hw = log->durable = log->leo;
    return 0;
}

int sl_log_open(const char *dir, const sl_log_config *cfg, sl_log **out, char *err, size_t errlen)
{
    sl_log *log = NULL;
    int rc = SL_LOG_ERR_IO;
    char ebuf[256];

    *out = NULL;
    if (!err || !errlen) {
        err = ebuf;
        errlen = sizeof(ebuf);
    }
    err[0] = '\0';
    rc = log_mkdirs(dir, err, errlen);
    if (rc < 0)
        goto fail;
    rc = SL_LOG_ERR_IO;
    log = log_alloc(dir, cfg);
    if (!log) {
        snprintf(err, errlen, "log directory %s: out of memory", dir);
        goto fail;
    }
    log->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (log->dir_fd < 0) {
        snprintf(err, errlen, "log directory %s: open: %s", dir, strerror(errno));
        goto fail;
    }
    unlinkat(log->dir_fd, SL_LOG_EPOCH_TMP, 0);
    rc = sl_log_recover_swaps(log, err, errlen);
    if (rc == 0)
        rc = log_load_segments(log, err, errlen);
    if (rc == 0)
        rc = log_settle(log, err, errlen);
    if (rc < 0)
        goto fail;
    sl_info(SL_LOG_COMPONENT, "partition %s: opened %d segments, offsets %" PRId64 "..%" PRId64,
            log->name, log->nsegs, log->start, log->leo);
    *out = log;
    return 0;
fail:
    sl_log_close(log);
    return rc;
}

/* ---------------------------------------------------------------- close */

static void log_free(sl_log *log)
{
    for (int i = 0; i < log->nsegs; i++)
        sl_seg_free(log, log->segs[i]);
    for (int i = 0; i < log->npending; i++)
        close(log->pending[i]);
    if (log->dir_fd >= 0)
        close(log->dir_fd);
    free(log->segs);
    free(log->epochs);
    free(log->win);
    free(log->buf);
    free(log->dir);
    free(log);
}

void sl_log_close(sl_log *log)
{
    if (!log)
        return;
    if (log->nsegs)
        log_sync_all(log);
    log_free(log);
}

int sl_log_rename_dir(sl_log *log, const char *newdir, char *err, size_t errlen)
{
    char *copy = strdup(newdir);
    if (!copy || rename(log->dir, newdir) < 0) {
        snprintf(err, errlen, "partition %s: rename %s to %s: %s", log->name, log->dir, newdir,
                 strerror(copy ? errno : ENOMEM));
        free(copy);
        return SL_LOG_ERR_IO;
    }
    free(log->dir);
    log->dir = copy;
    return 0;
}

int sl_log_destroy_files(sl_log *log, char *err, size_t errlen)
{
    int rc = 0;
    if (!log)
        return 0;
    int dfd = openat(log->dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    struct dirent *e;

    if (!d) {
        snprintf(err, errlen, "partition %s: cannot list %s: %s", log->name, log->dir,
                 strerror(errno));
        rc = SL_LOG_ERR_IO;
        goto fail;
    }
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
            unlinkat(log->dir_fd, e->d_name, 0) < 0 && rc == 0) {
            snprintf(err, errlen, "partition %s: delete %s: %s", log->name, e->d_name,
                     strerror(errno));
            rc = SL_LOG_ERR_IO;
        }
    }
    closedir(d);
    if (rc == 0 && rmdir(log->dir) < 0) {
        snprintf(err, errlen, "partition %s: rmdir %s: %s", log->name, log->dir, strerror(errno));
        rc = SL_LOG_ERR_IO;
    }
    if (rc == 0)
        sl_info(SL_LOG_COMPONENT, "partition %s: deleted %s", log->name, log->dir);
fail:
    if (!d && dfd >= 0)
        close(dfd);
    log_free(log);
    return rc;
}
