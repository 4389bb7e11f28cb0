/*
 * log_segment.c - one segment of a partition log: its three files, the
 * in-memory copies of its indexes, header scans, and recovery.
 *
 * Files (see log.h for the formats): <base>.log holds whole batches;
 * <base>.index holds 8-byte (relativeOffset, position) entries and
 * <base>.timeindex 12-byte (timestamp, relativeOffset) entries, big-endian.
 *
 * Index rule, shared by append, rebuild and recovery (sl_seg_note_batch):
 * before a batch is noted, when more than zero and at least
 * index_interval_bytes of log data were added since the last entry, an entry
 * (batch base - segment base, batch position) is added, and with it a time
 * entry (largest maxTimestamp so far, relative base offset of the batch that
 * holds it) when that timestamp grew. Entries name batch *base* offsets (Kafka
 * names last offsets; lookups here scan forward from an entry, so both work).
 * Invariant used by lookups: every batch up to a time entry's batch has
 * maxTimestamp <= the entry's timestamp.
 *
 * The entry arrays are the lookup structures; the files are their durable
 * copies, appended with one pwrite per entry (once per index_interval_bytes,
 * never per batch) and rewritten whole only by recovery or truncation.
 *
 * Header scans read through a 16 KiB window (log->win) so walking many small
 * batches costs one pread per window, not one per batch. The window is keyed
 * by segment and reset whenever a segment shrinks or goes away.
 *
 * Recovery: the last segment is read batch by batch with its CRC checked, its
 * indexes rebuilt, and it is cut at the first bad batch. Older segments keep
 * their index files when they pass a consistency check (entries increasing,
 * positions inside the file, the last entry naming a real batch); otherwise
 * their indexes are rebuilt from batch headers. Either way the batches after
 * the last index entry are CRC-checked, which catches a tail torn just
 * before a roll. (Known limit: without a recovery-point checkpoint, damage
 * earlier in an older segment is found only by a read.)
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
#include <sys/stat.h>
#include <unistd.h>

#include "logging.h"

#define SEG_CHUNK_MIN (1 << 20) /* recovery read size */

/* ---------------------------------------------------------------- files */

void sl_seg_fname(char *out, int64_t base, const char *ext)
{
    snprintf(out, SL_SEG_FNAME_MAX, "%020" PRId64 "%s", base, ext);
}

ssize_t sl_pread_full(int fd, void *buf, size_t n, int64_t pos)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, (uint8_t *)buf + got, n - got, (off_t)(pos + (int64_t)got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

static int pwrite_full(int fd, const void *buf, size_t n, int64_t pos)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = pwrite(fd, (const uint8_t *)buf + done, n - done, (off_t)(pos + (int64_t)done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        done += (size_t)r;
    }
    return 0;
}

static int seg_open_file(sl_log *log, int64_t base, const char *ext, int flags, int *fd, char *err,
                         size_t errlen)
{
    char fname[SL_SEG_FNAME_MAX];
    sl_seg_fname(fname, base, ext);
    *fd = openat(log->dir_fd, fname, flags | O_RDWR | O_CLOEXEC, 0644);
    if (*fd >= 0)
        return 0;
    snprintf(err, errlen, "%s/%s: open: %s", log->name, fname, strerror(errno));
    return SL_LOG_ERR_IO;
}

static sl_segment *seg_alloc(int64_t base)
{
    sl_segment *seg = calloc(1, sizeof(*seg));
    if (!seg)
        return NULL;
    seg->base = base;
    seg->next_offset = base;
    seg->created_ms = -1;
    seg->max_ts = -1;
    seg->log_fd = seg->idx_fd = seg->tidx_fd = -1;
    return seg;
}

static int seg_open_files(sl_log *log, sl_segment *seg, int create, char *err, size_t errlen)
{
    int lflags = create ? O_CREAT | O_TRUNC : 0;
    int iflags = create ? O_CREAT | O_TRUNC : O_CREAT;
    if (seg_open_file(log, seg->base, ".log", lflags, &seg->log_fd, err, errlen) < 0 ||
        seg_open_file(log, seg->base, ".index", iflags, &seg->idx_fd, err, errlen) < 0 ||
        seg_open_file(log, seg->base, ".timeindex", iflags, &seg->tidx_fd, err, errlen) < 0)
        return SL_LOG_ERR_IO;
    return 0;
}

int sl_seg_create(sl_log *log, int64_t base, sl_segment **out, char *err, size_t errlen)
{
    sl_segment *seg = seg_alloc(base);
    int rc = SL_LOG_ERR_IO;

    if (!seg) {
        snprintf(err, errlen, "partition %s: out of memory for a segment", log->name);
        goto fail;
    }
    rc = seg_open_files(log, seg, 1, err, errlen);
    if (rc < 0)
        goto fail;
    *out = seg;
    return 0;
fail:
    sl_seg_free(log, seg);
    return rc;
}

void sl_seg_free(sl_log *log, sl_segment *seg)
{
    if (!seg)
        return;
    if (log->win_seg == seg)
        sl_log_win_reset(log);
    if (seg->log_fd >= 0)
        close(seg->log_fd);
    if (seg->idx_fd >= 0)
        close(seg->idx_fd);
    if (seg->tidx_fd >= 0)
        close(seg->tidx_fd);
    free(seg->idx);
    free(seg->tidx);
    free(seg);
}

void sl_seg_unlink(sl_log *log, int64_t base)
{
    static const char *const exts[] = {".log", ".index", ".timeindex"};
    char fname[SL_SEG_FNAME_MAX];

    for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
        sl_seg_fname(fname, base, exts[i]);
        if (unlinkat(log->dir_fd, fname, 0) < 0 && errno != ENOENT)
            sl_warn(SL_LOG_COMPONENT, "partition %s: cannot delete %s: %s", log->name, fname,
                    strerror(errno));
    }
}

void sl_seg_delete(sl_log *log, sl_segment *seg)
{
    sl_seg_unlink(log, seg->base);
    sl_seg_free(log, seg);
}

/* ---------------------------------------------------------------- headers */

static int seg_corrupt(sl_log *log, const sl_segment *seg, int64_t pos, char *err, size_t errlen,
                       const char *why)
{
    char fname[SL_SEG_FNAME_MAX];
    sl_seg_fname(fname, seg->base, ".log");
    snprintf(err, errlen, "%s/%s: at position %" PRId64 ": %s", log->name, fname, pos, why);
    return SL_LOG_ERR_CORRUPT;
}

static int seg_window_fill(sl_log *log, const sl_segment *seg, int64_t pos)
{
    int64_t n = seg->size - pos;
    if (n > SL_LOG_WINDOW_SIZE)
        n = SL_LOG_WINDOW_SIZE;
    ssize_t got = sl_pread_full(seg->log_fd, log->win, (size_t)n, pos);
    if (got < 0) {
        sl_log_win_reset(log);
        return -1;
    }
    log->win_seg = seg;
    log->win_pos = pos;
    log->win_len = got;
    return 0;
}

/* Check a decoded header against the segment: sane length, inside the file,
 * magic 2. Returns NULL when fine, else why not (in buf). */
static const char *seg_header_problem(const sl_segment *seg, int64_t pos, const sl_batch_header *h,
                                      char *buf, size_t buflen)
{
    int64_t left = seg->size - pos - SL_BATCH_LOG_OVERHEAD;
    if (h->batch_length < SL_BATCH_HEADER_SIZE - SL_BATCH_LOG_OVERHEAD || h->batch_length > left)
        snprintf(buf, buflen, "batch has batchLength %" PRId32 " but %" PRId64 " bytes follow",
                 h->batch_length, left);
    else if (h->magic != 2)
        snprintf(buf, buflen, "batch has magic %d, expected 2", h->magic);
    else if (h->last_offset_delta < 0)
        snprintf(buf, buflen, "batch has lastOffsetDelta %" PRId32, h->last_offset_delta);
    else
        return NULL;
    return buf;
}

/* Read and check the header at pos. 1 good, 0 bad (why says why), <0 on a
 * read error (why says which). */
static int seg_header_check(sl_log *log, const sl_segment *seg, int64_t pos, sl_batch_header *h,
                            char *why, size_t whylen)
{
    if (pos + SL_BATCH_HEADER_SIZE > seg->size) {
        snprintf(why, whylen, "batch header cut short: %" PRId64 " bytes left of %d",
                 seg->size - pos, SL_BATCH_HEADER_SIZE);
        return 0;
    }
    if (log->win_seg != seg || pos < log->win_pos ||
        pos + SL_BATCH_HEADER_SIZE > log->win_pos + log->win_len) {
        if (seg_window_fill(log, seg, pos) < 0) {
            snprintf(why, whylen, "read: %s", strerror(errno));
            return SL_LOG_ERR_IO;
        }
    }
    const uint8_t *p = log->win + (pos - log->win_pos);
    if (sl_batch_header_decode(p, (size_t)(log->win_pos + log->win_len - pos), h) < 0) {
        snprintf(why, whylen, "short read of a batch header");
        return SL_LOG_ERR_IO;
    }
    return seg_header_problem(seg, pos, h, why, whylen) == NULL;
}

int sl_seg_header_at(sl_log *log, const sl_segment *seg, int64_t pos, sl_batch_header *h, char *err,
                     size_t errlen)
{
    char why[200];
    int rc = seg_header_check(log, seg, pos, h, why, sizeof(why));
    if (rc == 1)
        return 0;
    seg_corrupt(log, seg, pos, err, errlen, why);
    return rc < 0 ? rc : SL_LOG_ERR_CORRUPT;
}

/* ---------------------------------------------------------------- lookups */

int sl_seg_lookup(const sl_segment *seg, int64_t offset)
{
    int64_t rel = offset - seg->base;
    int lo = 0, hi = seg->nidx; /* first entry with rel > target */
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (seg->idx[mid].rel <= rel)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo ? seg->idx[lo - 1].pos : 0;
}

int sl_seg_ts_lookup(const sl_segment *seg, int64_t ts)
{
    int lo = 0, hi = seg->ntidx; /* first entry with ts >= target */
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (seg->tidx[mid].ts < ts)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo ? sl_seg_lookup(seg, seg->base + seg->tidx[lo - 1].rel) : 0;
}

int sl_seg_find(sl_log *log, const sl_segment *seg, int64_t offset, int64_t *pos,
                sl_batch_header *h, char *err, size_t errlen)
{
    int64_t p = sl_seg_lookup(seg, offset);
    while (p < seg->size) {
        int rc = sl_seg_header_at(log, seg, p, h, err, errlen);
        if (rc < 0)
            return rc;
        if (h->base_offset + h->last_offset_delta >= offset) {
            *pos = p;
            return 1;
        }
        p += sl_batch_total_size(h);
    }
    return 0;
}

/* ---------------------------------------------------------------- indexes */

static int seg_grow(void **arr, int *cap, int need, size_t elem)
{
    if (need <= *cap)
        return 0;
    int ncap = *cap ? *cap * 2 : 64;
    while (ncap < need)
        ncap *= 2;
    void *p = realloc(*arr, (size_t)ncap * elem);
    if (!p)
        return -1;
    *arr = p;
    *cap = ncap;
    return 0;
}

static int seg_write_idx_entry(sl_segment *seg, int i)
{
    uint8_t b[8];
    sl_put_be32(b, (uint32_t)seg->idx[i].rel);
    sl_put_be32(b + 4, (uint32_t)seg->idx[i].pos);
    return pwrite_full(seg->idx_fd, b, sizeof(b), (int64_t)i * 8);
}

static int seg_write_tidx_entry(sl_segment *seg, int i)
{
    uint8_t b[12];
    sl_put_be64(b, (uint64_t)seg->tidx[i].ts);
    sl_put_be32(b + 8, (uint32_t)seg->tidx[i].rel);
    return pwrite_full(seg->tidx_fd, b, sizeof(b), (int64_t)i * 12);
}

static int seg_index_error(sl_log *log, const sl_segment *seg, const char *ext, const char *what,
                           char *err, size_t errlen)
{
    char fname[SL_SEG_FNAME_MAX];
    sl_seg_fname(fname, seg->base, ext);
    snprintf(err, errlen, "%s/%s: %s: %s", log->name, fname, what, strerror(errno));
    return SL_LOG_ERR_IO;
}

/* Add the entries due before the batch at pos (see the file comment). */
static int seg_add_entries(sl_log *log, sl_segment *seg, int64_t pos, int32_t rel, int write_files,
                           char *err, size_t errlen)
{
    if (seg_grow((void **)&seg->idx, &seg->idx_cap, seg->nidx + 1, sizeof(sl_idx_entry)) < 0 ||
        seg_grow((void **)&seg->tidx, &seg->tidx_cap, seg->ntidx + 1, sizeof(sl_tidx_entry)) < 0) {
        snprintf(err, errlen, "partition %s: out of memory for index entries", log->name);
        return SL_LOG_ERR_IO;
    }
    seg->idx[seg->nidx] = (sl_idx_entry){rel, (int32_t)pos};
    if (write_files && seg_write_idx_entry(seg, seg->nidx) < 0)
        return seg_index_error(log, seg, ".index", "write", err, errlen);
    int add_t = seg->max_ts >= 0 && (!seg->ntidx || seg->tidx[seg->ntidx - 1].ts < seg->max_ts);
    if (add_t) {
        seg->tidx[seg->ntidx] = (sl_tidx_entry){seg->max_ts, seg->max_ts_rel};
        if (write_files && seg_write_tidx_entry(seg, seg->ntidx) < 0)
            return seg_index_error(log, seg, ".timeindex", "write", err, errlen);
        seg->ntidx++;
    }
    seg->nidx++;
    seg->bytes_since_idx = 0;
    seg->idx_dirty |= write_files;
    return 0;
}

int sl_seg_note_batch(sl_log *log, sl_segment *seg, int64_t pos, const sl_batch_header *h, int mode,
                      char *err, size_t errlen)
{
    int32_t rel = (int32_t)(h->base_offset - seg->base);
    int64_t old_max = seg->max_ts;
    int32_t old_rel = seg->max_ts_rel;

    if (h->max_timestamp > seg->max_ts) {
        seg->max_ts = h->max_timestamp;
        seg->max_ts_rel = rel;
    }
    if (mode >= 0 && seg->bytes_since_idx > 0 &&
        seg->bytes_since_idx >= log->cfg.index_interval_bytes) {
        int rc = seg_add_entries(log, seg, pos, rel, mode, err, errlen);
        if (rc < 0) {
            seg->max_ts = old_max;
            seg->max_ts_rel = old_rel;
            return rc;
        }
    }
    seg->bytes_since_idx += sl_batch_total_size(h);
    seg->next_offset = h->base_offset + h->last_offset_delta + 1;
    return 0;
}

/* Rewrite both index files from the arrays (recovery and rebuilds). */
static int seg_write_indexes(sl_log *log, sl_segment *seg, char *err, size_t errlen)
{
    for (int i = 0; i < seg->nidx; i++)
        if (seg_write_idx_entry(seg, i) < 0)
            return seg_index_error(log, seg, ".index", "write", err, errlen);
    for (int i = 0; i < seg->ntidx; i++)
        if (seg_write_tidx_entry(seg, i) < 0)
            return seg_index_error(log, seg, ".timeindex", "write", err, errlen);
    if (ftruncate(seg->idx_fd, (off_t)seg->nidx * 8) < 0)
        return seg_index_error(log, seg, ".index", "truncate", err, errlen);
    if (ftruncate(seg->tidx_fd, (off_t)seg->ntidx * 12) < 0)
        return seg_index_error(log, seg, ".timeindex", "truncate", err, errlen);
    seg->idx_dirty = 1;
    return 0;
}

/* Read an index file into a fresh buffer; *n entries of esize bytes. Returns
 * 0, 1 when the file size is not a whole number of entries, <0 on error. */
static int seg_read_file(sl_log *log, sl_segment *seg, int fd, const char *ext, size_t esize,
                         uint8_t **out, int *n, char *err, size_t errlen)
{
    struct stat st;
    *out = NULL;
    *n = 0;
    if (fstat(fd, &st) < 0)
        return seg_index_error(log, seg, ext, "stat", err, errlen);
    if (st.st_size % (off_t)esize || st.st_size / (off_t)esize > INT32_MAX)
        return 1;
    if (st.st_size == 0)
        return 0;
    *out = malloc((size_t)st.st_size);
    if (!*out || sl_pread_full(fd, *out, (size_t)st.st_size, 0) != (ssize_t)st.st_size) {
        free(*out);
        *out = NULL;
        return seg_index_error(log, seg, ext, "read", err, errlen);
    }
    *n = (int)(st.st_size / (off_t)esize);
    return 0;
}

/* Parse and check .index. Returns 0 when consistent, 1 when not, <0. */
static int seg_load_idx(sl_log *log, sl_segment *seg, char *err, size_t errlen)
{
    uint8_t *b;
    int n, rc = seg_read_file(log, seg, seg->idx_fd, ".index", 8, &b, &n, err, errlen);
    if (rc)
        return rc;
    if (n && seg_grow((void **)&seg->idx, &seg->idx_cap, n, sizeof(sl_idx_entry)) < 0) {
        free(b);
        return 1;
    }
    for (int i = 0; i < n; i++) {
        sl_idx_entry e = {(int32_t)sl_be32(b + 8 * i), (int32_t)sl_be32(b + 8 * i + 4)};
        int prev_ok = !i || (e.rel > seg->idx[i - 1].rel && e.pos > seg->idx[i - 1].pos);
        if (e.rel < 0 || e.pos <= 0 || e.pos >= seg->size || !prev_ok) {
            free(b);
            return 1;
        }
        seg->idx[i] = e;
    }
    seg->nidx = n;
    free(b);
    return 0;
}

/* Parse and check .timeindex against the loaded .index. */
static int seg_load_tidx(sl_log *log, sl_segment *seg, char *err, size_t errlen)
{
    uint8_t *b;
    int n, rc = seg_read_file(log, seg, seg->tidx_fd, ".timeindex", 12, &b, &n, err, errlen);
    if (rc)
        return rc;
    if (n && seg_grow((void **)&seg->tidx, &seg->tidx_cap, n, sizeof(sl_tidx_entry)) < 0) {
        free(b);
        return 1;
    }
    int32_t max_rel = seg->nidx ? seg->idx[seg->nidx - 1].rel : -1;
    for (int i = 0; i < n; i++) {
        sl_tidx_entry e = {(int64_t)sl_be64(b + 12 * i), (int32_t)sl_be32(b + 12 * i + 8)};
        int prev_ok = !i || (e.ts > seg->tidx[i - 1].ts && e.rel >= seg->tidx[i - 1].rel);
        if (e.rel < 0 || e.rel > max_rel || !prev_ok) {
            free(b);
            return 1;
        }
        seg->tidx[i] = e;
    }
    seg->ntidx = n;
    free(b);
    return 0;
}

/* ---------------------------------------------------------------- scans */

/* Point *p at len bytes of the segment at pos, through log->buf (a chunk of
 * at least SEG_CHUNK_MIN bytes read ahead). cpos and clen describe the chunk. */
static int seg_chunk(sl_log *log, const sl_segment *seg, int64_t pos, size_t len, int64_t *cpos,
                     int64_t *clen, const uint8_t **p)
{
    if (pos < *cpos || pos + (int64_t)len > *cpos + *clen) {
        size_t want = len > SEG_CHUNK_MIN ? len : SEG_CHUNK_MIN;
        if (want > log->buf_cap) {
            uint8_t *nb = realloc(log->buf, want);
            if (!nb)
                return -1;
            log->buf = nb;
            log->buf_cap = want;
        }
        int64_t n = seg->size - pos;
        if (n > (int64_t)log->buf_cap)
            n = (int64_t)log->buf_cap;
        ssize_t got = sl_pread_full(seg->log_fd, log->buf, (size_t)n, pos);
        if (got < (ssize_t)len)
            return -1;
        *cpos = pos;
        *clen = got;
    }
    *p = log->buf + (pos - *cpos);
    return 0;
}

/* Check one batch at pos, whole and with its CRC. 1 good, 0 bad (why), <0. */
static int seg_check_batch(sl_log *log, sl_segment *seg, int64_t pos, int64_t *cpos, int64_t *clen,
                           sl_batch_header *h, char *why, size_t whylen)
{
    const uint8_t *p;
    if (pos + SL_BATCH_HEADER_SIZE > seg->size) {
        snprintf(why, whylen, "batch header cut short: %" PRId64 " bytes left", seg->size - pos);
        return 0;
    }
    if (seg_chunk(log, seg, pos, SL_BATCH_HEADER_SIZE, cpos, clen, &p) < 0)
        return -1;
    sl_batch_header_decode(p, SL_BATCH_HEADER_SIZE, h);
    if (seg_header_problem(seg, pos, h, why, whylen))
        return 0;
    size_t total = (size_t)sl_batch_total_size(h);
    if (seg_chunk(log, seg, pos, total, cpos, clen, &p) < 0)
        return -1;
    return sl_batch_validate(p, total, why, whylen) == 0;
}

/* Offsets must ascend and fit the 32-bit relative index. */
static const char *seg_offset_problem(const sl_segment *seg, const sl_batch_header *h, char *why,
                                      size_t whylen)
{
    if (h->base_offset < seg->next_offset)
        snprintf(why, whylen, "batch has baseOffset %" PRId64 ", expected at least %" PRId64,
                 h->base_offset, seg->next_offset);
    else if (h->base_offset + h->last_offset_delta - seg->base > INT32_MAX)
        snprintf(why, whylen, "batch offset %" PRId64 " too far from segment base",
                 h->base_offset + h->last_offset_delta);
    else
        return NULL;
    return why;
}

/* Walk batches from pos to the end, noting each into the indexes (mode as
 * for sl_seg_note_batch). Stops at the first bad batch: *bad is its position
 * (seg->size when none) and err says why. check_crc reads whole batches;
 * otherwise headers only. */
static int seg_scan(sl_log *log, sl_segment *seg, int64_t pos, int check_crc, int mode,
                    int64_t *bad, char *err, size_t errlen)
{
    int64_t cpos = 0, clen = 0;
    char why[200];
    sl_batch_header h;

    for (; pos < seg->size; pos += sl_batch_total_size(&h)) {
        int ok = check_crc ? seg_check_batch(log, seg, pos, &cpos, &clen, &h, why, sizeof(why))
                           : seg_header_check(log, seg, pos, &h, why, sizeof(why));
        if (ok < 0) {
            seg_corrupt(log, seg, pos, err, errlen, check_crc ? "read failed" : why);
            return SL_LOG_ERR_IO;
        }
        if (ok && seg_offset_problem(seg, &h, why, sizeof(why)))
            ok = 0;
        if (!ok) {
            seg_corrupt(log, seg, pos, err, errlen, why);
            *bad = pos;
            return 0;
        }
        int rc = sl_seg_note_batch(log, seg, pos, &h, mode, err, errlen);
        if (rc < 0)
            return rc;
    }
    *bad = seg->size;
    return 0;
}

/* Forget the in-memory indexes and derived state, keeping the buffers. */
static void seg_reset_state(sl_segment *seg)
{
    seg->nidx = seg->ntidx = 0;
    seg->bytes_since_idx = 0;
    seg->max_ts = -1;
    seg->max_ts_rel = 0;
    seg->next_offset = seg->base;
}

/* ---------------------------------------------------------------- truncate */

int sl_seg_truncate_at(sl_log *log, sl_segment *seg, int64_t pos, char *err, size_t errlen)
{
    char fname[SL_SEG_FNAME_MAX];

    if (ftruncate(seg->log_fd, (off_t)pos) < 0) {
        sl_seg_fname(fname, seg->base, ".log");
        snprintf(err, errlen, "%s/%s: truncate to %" PRId64 ": %s", log->name, fname, pos,
                 strerror(errno));
        return SL_LOG_ERR_IO;
    }
    if (log->win_seg == seg)
        sl_log_win_reset(log);
    seg->size = pos;
    seg->log_dirty = 1;
    while (seg->nidx && seg->idx[seg->nidx - 1].pos >= pos)
        seg->nidx--;
    /* Rescan from the last surviving entry: the scan recomputes next_offset,
     * bytes_since_idx and the largest timestamp after the surviving time
     * entries (which bound everything before them). */
    int64_t from = seg->nidx ? seg->idx[seg->nidx - 1].pos : 0;
    seg->next_offset = seg->base + (seg->nidx ? seg->idx[seg->nidx - 1].rel : 0);
    seg->bytes_since_idx = 0;
    seg->max_ts = -1;
    int64_t bad;
    int rc = seg_scan(log, seg, from, 0, SL_SEG_NOTE_NONE, &bad, err, errlen);
    if (rc < 0)
        return rc;
    if (bad != seg->size)
        return SL_LOG_ERR_CORRUPT;
    int64_t end_rel = seg->next_offset - seg->base;
    while (seg->ntidx && seg->tidx[seg->ntidx - 1].rel >= end_rel)
        seg->ntidx--;
    if (seg->ntidx && seg->tidx[seg->ntidx - 1].ts >= seg->max_ts) {
        seg->max_ts = seg->tidx[seg->ntidx - 1].ts;
        seg->max_ts_rel = seg->tidx[seg->ntidx - 1].rel;
    }
    return seg_write_indexes(log, seg, err, errlen);
}

/* ---------------------------------------------------------------- load */

/* Rebuild everything from the batches; cut the file at the first bad one.
 * Returns 1 when bytes were cut, 0 when the segment was whole, <0. */
static int seg_rebuild(sl_log *log, sl_segment *seg, int check_crc, char *err, size_t errlen)
{
    int64_t bad;
    seg_reset_state(seg);
    err[0] = '\0';
    int rc = seg_scan(log, seg, 0, check_crc, SL_SEG_NOTE_MEM, &bad, err, errlen);
    if (rc < 0)
        return rc;
    if (bad == seg->size)
        return seg_write_indexes(log, seg, err, errlen);
    sl_warn(SL_LOG_COMPONENT, "%s; truncating %" PRId64 " bytes", err, seg->size - bad);
    rc = sl_seg_truncate_at(log, seg, bad, err, errlen); /* rewrites the indexes */
    return rc < 0 ? rc : 1;
}

/* An older segment: trust its index files when consistent, then CRC-check
 * the batches after the last index entry. Same returns as seg_rebuild. */
static int seg_load_old(sl_log *log, sl_segment *seg, char *err, size_t errlen)
{
    int rc = seg_load_idx(log, seg, err, errlen);
    if (rc == 0)
        rc = seg_load_tidx(log, seg, err, errlen);
    if (rc < 0)
        return rc;
    int64_t from = seg->nidx ? seg->idx[seg->nidx - 1].pos : 0;
    sl_batch_header h;
    if (rc == 0 && seg->nidx &&
        (sl_seg_header_at(log, seg, from, &h, err, errlen) < 0 ||
         h.base_offset != seg->base + seg->idx[seg->nidx - 1].rel))
        rc = 1;
    if (rc == 1) {
        char fname[SL_SEG_FNAME_MAX];
        sl_seg_fname(fname, seg->base, ".index");
        sl_warn(SL_LOG_COMPONENT, "%s/%s: missing or inconsistent with the log, rebuilding",
                log->name, fname);
        return seg_rebuild(log, seg, 0, err, errlen);
    }
    seg->next_offset = seg->base + (seg->nidx ? seg->idx[seg->nidx - 1].rel : 0);
    if (seg->ntidx) {
        seg->max_ts = seg->tidx[seg->ntidx - 1].ts;
        seg->max_ts_rel = seg->tidx[seg->ntidx - 1].rel;
    }
    int64_t bad;
    err[0] = '\0';
    rc = seg_scan(log, seg, from, 1, SL_SEG_NOTE_FILES, &bad, err, errlen);
    if (rc < 0 || bad == seg->size)
        return rc;
    return seg_rebuild(log, seg, 1, err, errlen);
}

/* Open an existing segment and recover it. last: the active segment, always
 * fully checked. *out is NULL on failure. Returns 0, 1 when the segment was
 * cut (everything after it must go), or <0 with err. */
int sl_seg_load(sl_log *log, int64_t base, int last, sl_segment **out, char *err, size_t errlen)
{
    sl_segment *seg = seg_alloc(base);
    struct stat st;
    int rc = SL_LOG_ERR_IO;

    *out = NULL;
    if (!seg) {
        snprintf(err, errlen, "partition %s: out of memory for a segment", log->name);
        goto fail;
    }
    rc = seg_open_files(log, seg, 0, err, errlen);
    if (rc < 0)
        goto fail;
    if (fstat(seg->log_fd, &st) < 0) {
        rc = seg_index_error(log, seg, ".log", "stat", err, errlen);
        goto fail;
    }
    seg->size = st.st_size;
    rc = last ? seg_rebuild(log, seg, 1, err, errlen) : seg_load_old(log, seg, err, errlen);
    if (rc < 0)
        goto fail;
    if (seg->size > 0)
        seg->created_ms = sl_log_now_ms();
    *out = seg;
    return rc;
fail:
    sl_seg_free(log, seg);
    return rc;
}

int sl_seg_load_fresh(sl_log *log, int64_t base, sl_segment **out, char *err, size_t errlen)
{
    sl_segment *seg = seg_alloc(base);
    struct stat st;
    int rc = SL_LOG_ERR_IO;

    *out = NULL;
    if (!seg) {
        snprintf(err, errlen, "partition %s: out of memory for a segment", log->name);
        goto fail;
    }
    if (seg_open_file(log, base, ".log", 0, &seg->log_fd, err, errlen) < 0 ||
        seg_open_file(log, base, ".index", O_CREAT | O_TRUNC, &seg->idx_fd, err, errlen) < 0 ||
        seg_open_file(log, base, ".timeindex", O_CREAT | O_TRUNC, &seg->tidx_fd, err, errlen) < 0)
        goto fail;
    if (fstat(seg->log_fd, &st) < 0) {
        rc = seg_index_error(log, seg, ".log", "stat", err, errlen);
        goto fail;
    }
    seg->size = st.st_size;
    rc = seg_rebuild(log, seg, 0, err, errlen);
    if (rc < 0)
        goto fail;
    /* rebuildable: a lost index is found inconsistent and rebuilt on open */
    seg->idx_dirty = 0;
    *out = seg;
    return 0;
fail:
    sl_seg_free(log, seg);
    return rc;
}

int sl_seg_write(sl_log *log, sl_segment *seg, const uint8_t *p, size_t len, char *err,
                 size_t errlen)
{
    if (pwrite_full(seg->log_fd, p, len, seg->size) == 0) {
        seg->size += (int64_t)len;
        seg->log_dirty = 1;
        return 0;
    }
    int saved = errno;
    if (ftruncate(seg->log_fd, (off_t)seg->size) < 0)
        sl_warn(SL_LOG_COMPONENT, "partition %s: cannot cut back a partial write: %s", log->name,
                strerror(errno));
    char fname[SL_SEG_FNAME_MAX];
    sl_seg_fname(fname, seg->base, ".log");
    snprintf(err, errlen, "%s/%s: write of %zu bytes at position %" PRId64 ": %s", log->name, fname,
             len, seg->size, strerror(saved));
    return SL_LOG_ERR_IO;
}
