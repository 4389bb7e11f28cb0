/*
 * log_clean.c - the storage side of log compaction: views of the old
 * segments for the cleaner's worker, the swap of cleaned files for the
 * segments they replace, and, on open, finishing or forgetting a swap that a
 * crash interrupted. The cleaning itself (which records survive) is
 * broker/cleaner.c; nothing here reads a record.
 *
 * Files. A pass over segments [B0 .. Bk) of a partition writes, per group of
 * consecutive old segments starting at base B, one file `<B>.log.cleaned`
 * (20-digit base as for segments) holding RecordBatch v2 bytes exactly like
 * a .log: every surviving batch keeps its baseOffset, so the file's first
 * batch may start above B and offsets may have gaps, never overlaps. Its
 * content is fdatasync'd by the worker before the loop sees it.
 *
 * The swap protocol (sl_log_replace_segments, owner thread), for swaps
 * S1..Sn, each replacing old segments [B, B') with <B>.log.cleaned:
 *
 *   1. check every Si: its old segments are still the log's, none active,
 *      with the sizes and end offset the pass saw; else delete every
 *      .cleaned file and give up (retention or truncation won the race).
 *   2. rename <B>.log.cleaned -> <B>.log.swap for each Si.
 *   3. fsync the directory.  <- commit point: from here a restart finishes
 *      the swap; before it, a restart forgets it.
 *   4. for each Si: unlink .log, .index, .timeindex of every old segment in
 *      [B, B'); rename <B>.log.swap -> <B>.log; open it with fresh indexes
 *      built from its batch headers; replace the old segments in memory
 *      (their fds close; readers' dup'd fds keep the old inodes alive).
 *   5. fsync the directory.
 *
 * Recovery (sl_log_recover_swaps, first thing in sl_log_open):
 *
 *   - every `<20 digits>.log.cleaned` is deleted: its pass never committed.
 *   - every `<B>.log.swap`, in ascending B: its batch headers are walked to
 *     find N = last offset of its last whole batch + 1 (B + 1 when it has
 *     none, so that B itself always goes); the .log/.index/.timeindex of
 *     every segment with base in [B, N) are unlinked, and the .index and
 *     .timeindex of B too (an old index must not survive next to new bytes
 *     and pass the consistency check by chance); then <B>.log.swap is
 *     renamed to <B>.log and the directory fsync'd by open's settle step.
 *     Old segments above N that the swap also replaced, but whose records
 *     were all superseded, may survive a crash between steps 3 and 4: they
 *     hold no offsets of the swap, only records that a newer one supersedes,
 *     and the next pass removes them. No record is lost, no offset appears
 *     twice.
 *
 * Runs on: the log's owner thread.
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
#include <unistd.h>

#include "logging.h"

/* ---------------------------------------------------------------- state */

int64_t sl_log_first_dirty(const sl_log *log)
{
    return log->first_dirty > log->start ? log->first_dirty : log->start;
}

int64_t sl_log_tombstones_due(const sl_log *log)
{
    return log->tombstones_due;
}

void sl_log_set_clean_state(sl_log *log, int64_t first_dirty, int64_t tombstones_due_ms)
{
    log->first_dirty = first_dirty;
    log->tombstones_due = tombstones_due_ms;
}

/* ---------------------------------------------------------------- views */

int sl_log_old_segments(sl_log *log, sl_log_seg_view *out, int max, int want_fds, char *err,
                        size_t errlen)
{
    int n = 0;
    for (int i = 0; i < log->nsegs - 1 && n < max; i++) {
        const sl_segment *seg = log->segs[i];
        if (seg->next_offset > log->hw)
            break;
        out[n] = (sl_log_seg_view){seg->base, seg->next_offset, seg->size, sl_seg_time(seg), -1};
        if (want_fds) {
            out[n].fd = fcntl(seg->log_fd, F_DUPFD_CLOEXEC, 0);
            if (out[n].fd < 0) {
                snprintf(err, errlen, "partition %s: dup of segment %020" PRId64 ": %s", log->name,
                         seg->base, strerror(errno));
                while (n-- > 0)
                    close(out[n].fd);
                return SL_LOG_ERR_IO;
            }
        }
        n++;
    }
    return n;
}

int sl_log_dup_dir_fd(sl_log *log)
{
    return fcntl(log->dir_fd, F_DUPFD_CLOEXEC, 0);
}

/* ---------------------------------------------------------------- swap */

static int clean_find(const sl_log *log, int64_t base)
{
    for (int i = 0; i < log->nsegs; i++)
        if (log->segs[i]->base == base)
            return i;
    return -1;
}

/* Is the swap's run of old segments still what the pass saw? */
static int clean_still_valid(const sl_log *log, const sl_log_swap *sw)
{
    int i = clean_find(log, sw->base);
    if (i < 0 || sw->nold < 1 || i + sw->nold > log->nsegs - 1)
        return 0;
    int64_t bytes = 0;
    for (int j = i; j < i + sw->nold; j++)
        bytes += log->segs[j]->size;
    return bytes == sw->old_bytes && log->segs[i + sw->nold - 1]->next_offset == sw->old_end;
}

static void clean_unlink(sl_log *log, int64_t base, const char *ext)
{
    char fname[SL_SEG_FNAME_MAX];
    sl_seg_fname(fname, base, ext);
    if (unlinkat(log->dir_fd, fname, 0) < 0 && errno != ENOENT)
        sl_warn(SL_LOG_COMPONENT, "partition %s: cannot delete %s: %s", log->name, fname,
                strerror(errno));
}

static int clean_rename(sl_log *log, int64_t base, const char *from, const char *to, char *err,
                        size_t errlen)
{
    char a[SL_SEG_FNAME_MAX], b[SL_SEG_FNAME_MAX];
    sl_seg_fname(a, base, from);
    sl_seg_fname(b, base, to);
    if (renameat(log->dir_fd, a, log->dir_fd, b) == 0)
        return 0;
    snprintf(err, errlen, "partition %s: rename %s -> %s: %s", log->name, a, b, strerror(errno));
    return SL_LOG_ERR_IO;
}

static int clean_fsync_dir(sl_log *log, char *err, size_t errlen)
{
    if (fsync(log->dir_fd) == 0)
        return 0;
    snprintf(err, errlen, "partition %s: fsync of directory %s: %s", log->name, log->dir,
             strerror(errno));
    return SL_LOG_ERR_IO;
}

/* Step 4 for one swap: old files out, the new segment in. */
static int clean_install(sl_log *log, const sl_log_swap *sw, char *err, size_t errlen)
{
    int i = clean_find(log, sw->base);
    sl_segment *seg = NULL;

    if (i < 0) {
        snprintf(err, errlen, "partition %s: segment %020" PRId64 " vanished during a swap",
                 log->name, sw->base);
        return SL_LOG_ERR_CHANGED;
    }
    for (int j = i; j < i + sw->nold; j++)
        sl_seg_unlink(log, log->segs[j]->base);
    int rc = clean_rename(log, sw->base, SL_LOG_SWAP_EXT, ".log", err, errlen);
    if (rc == 0)
        rc = sl_seg_load_fresh(log, sw->base, &seg, err, errlen);
    if (rc < 0) /* the old segments keep serving from their open files */
        return rc;
    for (int j = i; j < i + sw->nold; j++)
        sl_seg_free(log, log->segs[j]);
    log->segs[i] = seg;
    memmove(log->segs + i + 1, log->segs + i + sw->nold,
            (size_t)(log->nsegs - i - sw->nold) * sizeof(*log->segs));
    log->nsegs -= sw->nold - 1;
    return 0;
}

int sl_log_replace_segments(sl_log *log, const sl_log_swap *sw, int n, char *err, size_t errlen)
{
    int rc = 0, done = 0, renamed = 0;

    for (int k = 0; k < n; k++) {
        if (!clean_still_valid(log, &sw[k])) {
            snprintf(err, errlen,
                     "partition %s: segments from %020" PRId64 " changed while being cleaned "
                     "(retention or truncation); the pass is dropped",
                     log->name, sw[k].base);
            for (int j = 0; j < n; j++)
                clean_unlink(log, sw[j].base, SL_LOG_CLEANED_EXT);
            return SL_LOG_ERR_CHANGED;
        }
    }
    for (; renamed < n; renamed++) {
        rc = clean_rename(log, sw[renamed].base, SL_LOG_CLEANED_EXT, SL_LOG_SWAP_EXT, err, errlen);
        if (rc < 0)
            break;
    }
    for (int j = renamed; j < n; j++)
        clean_unlink(log, sw[j].base, SL_LOG_CLEANED_EXT);
    if (renamed == 0)
        return rc;
    int r = clean_fsync_dir(log, err, errlen);
    if (r < 0) /* not committed for sure: the .swap files are finished on the next open */
        return r;
    for (int k = 0; k < renamed; k++) {
        r = clean_install(log, &sw[k], err, errlen);
        if (r < 0) {
            sl_error(SL_LOG_COMPONENT, "%s; the next open finishes the swap", err);
            rc = rc ? rc : r;
            continue;
        }
        done++;
    }
    sl_log_win_reset(log);
    r = clean_fsync_dir(log, err, errlen);
    if (rc == 0 && r < 0)
        rc = r;
    return rc < 0 ? rc : done;
}

/* ---------------------------------------------------------------- recovery */

/* "<20 digits><ext>": the base, else -1. */
static int64_t clean_parse(const char *name, const char *ext)
{
    for (int i = 0; i < 20; i++)
        if (name[i] < '0' || name[i] > '9')
            return -1;
    return strcmp(name + 20, ext) == 0 ? strtoll(name, NULL, 10) : -1;
}

/* One past the last offset of the swap file's last whole batch; base when it
 * has none. Header reads only, every length checked against the file. */
static int64_t clean_swap_end(sl_log *log, int64_t base)
{
    char fname[SL_SEG_FNAME_MAX];
    uint8_t hb[SL_BATCH_HEADER_SIZE];
    struct stat st;
    int64_t end = base, pos = 0;
    sl_batch_header h;

    sl_seg_fname(fname, base, SL_LOG_SWAP_EXT);
    int fd = openat(log->dir_fd, fname, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) < 0)
        goto out;
    while (pos + SL_BATCH_HEADER_SIZE <= st.st_size) {
        if (pread(fd, hb, sizeof(hb), (off_t)pos) != (ssize_t)sizeof(hb) ||
            sl_batch_header_decode(hb, sizeof(hb), &h) < 0 || h.magic != 2 ||
            h.batch_length < SL_BATCH_HEADER_SIZE - SL_BATCH_LOG_OVERHEAD ||
            pos + sl_batch_total_size(&h) > st.st_size || h.last_offset_delta < 0)
            break;
        end = h.base_offset + h.last_offset_delta + 1;
        pos += sl_batch_total_size(&h);
    }
out:
    if (fd >= 0)
        close(fd);
    return end;
}

static int cmp_base(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int clean_push(int64_t **arr, int *n, int *cap, int64_t v)
{
    if (*n == *cap) {
        int ncap = *cap ? *cap * 2 : 32;
        int64_t *p = realloc(*arr, (size_t)ncap * sizeof(*p));
        if (!p)
            return -1;
        *arr = p;
        *cap = ncap;
    }
    (*arr)[(*n)++] = v;
    return 0;
}

/* Finish one committed swap (see the file comment). */
static int clean_finish_swap(sl_log *log, int64_t base, const int64_t *logs, int nlogs, char *err,
                             size_t errlen)
{
    int64_t end = clean_swap_end(log, base);
    int dropped = 0;
    if (end <= base)
        end = base + 1;
    for (int i = 0; i < nlogs; i++) {
        if (logs[i] >= base && logs[i] < end) {
            sl_seg_unlink(log, logs[i]);
            dropped++;
        }
    }
    clean_unlink(log, base, ".index");
    clean_unlink(log, base, ".timeindex");
    int rc = clean_rename(log, base, SL_LOG_SWAP_EXT, ".log", err, errlen);
    if (rc == 0)
        sl_warn(SL_LOG_COMPONENT,
                "partition %s: finished an interrupted compaction swap: %020" PRId64
                ".log.swap replaces %d segment(s) of offsets %" PRId64 "..%" PRId64,
                log->name, base, dropped, base, end - 1);
    return rc;
}

int sl_log_recover_swaps(sl_log *log, char *err, size_t errlen)
{
    int64_t *swaps = NULL, *logs = NULL, base;
    int nswaps = 0, capswaps = 0, nlogs = 0, caplogs = 0, rc = SL_LOG_ERR_IO;
    int dfd = openat(log->dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    struct dirent *e;

    if (!d) {
        snprintf(err, errlen, "partition %s: cannot list %s: %s", log->name, log->dir,
                 strerror(errno));
        goto fail;
    }
    while ((e = readdir(d)) != NULL) {
        int r = 0;
        if ((base = clean_parse(e->d_name, SL_LOG_CLEANED_EXT)) >= 0) {
            sl_info(SL_LOG_COMPONENT, "partition %s: deleting %s left by an unfinished compaction",
                    log->name, e->d_name);
            clean_unlink(log, base, SL_LOG_CLEANED_EXT);
        } else if ((base = clean_parse(e->d_name, SL_LOG_SWAP_EXT)) >= 0) {
            r = clean_push(&swaps, &nswaps, &capswaps, base);
        } else if ((base = clean_parse(e->d_name, ".log")) >= 0) {
            r = clean_push(&logs, &nlogs, &caplogs, base);
        }
        if (r < 0) {
            snprintf(err, errlen, "partition %s: out of memory listing files", log->name);
            goto fail;
        }
    }
    if (nswaps)
        qsort(swaps, (size_t)nswaps, sizeof(*swaps), cmp_base);
    for (int i = 0; i < nswaps; i++)
        if (clean_finish_swap(log, swaps[i], logs, nlogs, err, errlen) < 0)
            goto fail;
    rc = 0;
fail:
    if (d)
        closedir(d);
    else if (dfd >= 0)
        close(dfd);
    free(swaps);
    free(logs);
    return rc;
}
