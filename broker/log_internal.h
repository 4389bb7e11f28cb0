/*
 * log_internal.h - private to broker/log*.c: the in-memory shape of a
 * partition log and the helpers its files share. Nothing outside log*.c may
 * include this; the interface is log.h.
 *
 *   log.c          open/close, accessors, append and roll, group commit
 *   log_read.c     reads, offset-for-time, truncate, retention
 *   log_segment.c  one segment: files, header scans, indexes, recovery
 *   log_epoch.c    leader-epoch cache and its checkpoint file
 *   log_clean.c    compaction's storage side: views, segment swaps, and
 *                  finishing a swap a crash interrupted
 *
 * Runs on: the thread that owns the log (see log.h), except sl_log_sync_run.
 */
#ifndef SL_LOG_INTERNAL_H
#define SL_LOG_INTERNAL_H
#include <stddef.h>
#include <stdint.h>

#include "batch.h"
#include "log.h"

#define SL_LOG_COMPONENT   "log"
#define SL_LOG_EPOCH_FILE  "leader-epoch-checkpoint"
#define SL_LOG_EPOCH_TMP   "leader-epoch-checkpoint.tmp"
#define SL_LOG_WINDOW_SIZE 16384 /* header-scan read window */
#define SL_LOG_NAME_MAX    256
#define SL_SEG_FNAME_MAX   40 /* 20 digits + ".timeindex" + NUL */

typedef struct sl_idx_entry {
    int32_t rel; /* base offset of a batch - segment base */
    int32_t pos; /* its byte position in .log */
} sl_idx_entry;

typedef struct sl_tidx_entry {
    int64_t ts;  /* largest maxTimestamp up to and including the batch at rel */
    int32_t rel; /* base offset of the batch holding ts - segment base */
} sl_tidx_entry;

typedef struct sl_segment {
    int64_t base;        /* base offset, the file name */
    int64_t next_offset; /* last offset of the last batch + 1 (base when empty) */
    int64_t size;        /* bytes of whole batches in .log */
    int64_t created_ms;  /* time of the first append (roll_ms), -1 while empty */
    int64_t max_ts;      /* largest maxTimestamp, -1 when none */
    int32_t max_ts_rel;  /* relative base offset of the batch holding max_ts */
    int64_t bytes_since_idx;
    int log_fd, idx_fd, tidx_fd;
    int log_dirty, idx_dirty; /* unsynced bytes in .log / in .index+.timeindex */
    sl_idx_entry *idx;
    int nidx, idx_cap;
    sl_tidx_entry *tidx;
    int ntidx, tidx_cap;
} sl_segment;

typedef struct sl_epoch_entry {
    int32_t epoch;
    int64_t start_offset;
} sl_epoch_entry;

struct sl_log {
    char *dir;                  /* as given to sl_log_open */
    char name[SL_LOG_NAME_MAX]; /* last path component, for messages */
    int dir_fd;
    sl_log_config cfg;
    sl_segment **segs; /* ascending base; segs[nsegs-1] is active */
    int nsegs, segs_cap;
    int64_t start, leo, hw;
    int64_t durable;      /* offsets below are fdatasync'd */
    uint64_t truncations; /* sl_log_truncate calls, see sl_log_sync_end */
    sl_epoch_entry *epochs;
    int nepochs, epochs_cap;
    int pending[SL_LOG_SYNC_MAX_FDS]; /* dup'd fds of rolled segments to sync */
    int npending;
    int pending_dir;           /* a dup of dir_fd is among pending */
    uint8_t *win;              /* header-scan window (SL_LOG_WINDOW_SIZE) */
    const sl_segment *win_seg; /* whose bytes win holds, NULL when none */
    int64_t win_pos, win_len;
    uint8_t *buf; /* recovery read buffer */
    size_t buf_cap;
    int64_t first_dirty;    /* cleaner: first offset not yet cleaned */
    int64_t tombstones_due; /* cleaner: earliest removable time of a kept tombstone */
};

/* log.c */
int64_t sl_log_now_ms(void);
sl_segment *sl_log_active(const sl_log *log);
void sl_log_win_reset(sl_log *log);

/* log_segment.c. Every function fills err on failure with where and why. */
void sl_seg_fname(char *out, int64_t base, const char *ext);
int sl_seg_create(sl_log *log, int64_t base, sl_segment **out, char *err, size_t errlen);
int sl_seg_load(sl_log *log, int64_t base, int last, sl_segment **out, char *err, size_t errlen);
void sl_seg_free(sl_log *log, sl_segment *seg);
void sl_seg_delete(sl_log *log, sl_segment *seg); /* unlink files, free */
void sl_seg_unlink(sl_log *log, int64_t base);
int sl_seg_header_at(sl_log *log, const sl_segment *seg, int64_t pos, sl_batch_header *h, char *err,
                     size_t errlen);
int sl_seg_lookup(const sl_segment *seg, int64_t offset);
int sl_seg_ts_lookup(const sl_segment *seg, int64_t ts);
int sl_seg_find(sl_log *log, const sl_segment *seg, int64_t offset, int64_t *pos,
                sl_batch_header *h, char *err, size_t errlen);
/* Account a batch at pos: index entries as due (mode: SL_SEG_NOTE_FILES
 * also appends them to the files, _MEM only in memory, _NONE adds none),
 * largest timestamp, next offset. The caller moves seg->size. */
#define SL_SEG_NOTE_NONE  (-1)
#define SL_SEG_NOTE_MEM   0
#define SL_SEG_NOTE_FILES 1
int sl_seg_note_batch(sl_log *log, sl_segment *seg, int64_t pos, const sl_batch_header *h, int mode,
                      char *err, size_t errlen);
int sl_seg_write(sl_log *log, sl_segment *seg, const uint8_t *p, size_t len, char *err,
                 size_t errlen);
int sl_seg_truncate_at(sl_log *log, sl_segment *seg, int64_t pos, char *err, size_t errlen);
/* Open <base>.log as an old segment with brand-new indexes built from its
 * batch headers (a segment that compaction just wrote). */
int sl_seg_load_fresh(sl_log *log, int64_t base, sl_segment **out, char *err, size_t errlen);
/* A segment's largest timestamp; its file's mtime when no batch had one. */
int64_t sl_seg_time(const sl_segment *seg);

/* log_clean.c */
int sl_log_recover_swaps(sl_log *log, char *err, size_t errlen);

/* log_epoch.c */
int sl_epochs_load(sl_log *log, char *err, size_t errlen);
int sl_epochs_assign(sl_log *log, int32_t epoch, int64_t start, char *err, size_t errlen);
int sl_epochs_truncate_end(sl_log *log, int64_t end, char *err, size_t errlen);
int sl_epochs_truncate_start(sl_log *log, int64_t start, char *err, size_t errlen);

#endif
