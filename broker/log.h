/*
 * log.h - a partition's log on disk: segments, indexes, recovery, retention,
 * truncation and the leader-epoch file. The whole interface of broker/log.c.
 *
 * A partition is a directory <log.dir>/<topic>-<partition> holding:
 *
 *   <20-digit base offset>.log        RecordBatch v2 bytes exactly as on the
 *                                     wire (baseOffset/epoch stamped in)
 *   <20-digit base offset>.index      sparse offset index, 8-byte entries:
 *                                     int32 relativeOffset (offset - base),
 *                                     int32 position (byte in .log), BE;
 *                                     one entry per log.index.interval.bytes
 *   <20-digit base offset>.timeindex  12-byte entries: int64 timestamp (the
 *                                     largest maxTimestamp so far in the
 *                                     segment), int32 relativeOffset, BE
 *   leader-epoch-checkpoint           Kafka's text format: "0\n<count>\n"
 *                                     then "<epoch> <startOffset>\n" lines;
 *                                     replaced atomically (tmp + rename)
 *
 * Threading: every function except sl_log_sync_run runs on the thread that
 * owns the log (the broker I/O loop). sl_log_sync_run touches only the
 * syncpoint it is given, so it can run on a flusher thread while the owner
 * keeps appending: that is how group commit works. The owner:
 *   1. sl_log_append() ... (many batches, no fsync)
 *   2. sl_log_sync_begin(log, &sp)   -> dup'd fds + the end offset they cover
 *   3. sl_log_sync_run(&sp)          on the flusher thread: fdatasync, close
 *   4. sl_log_sync_end(log, &sp)     back on the owner: high watermark moves
 *
 * Offsets: log start offset (first offset kept), log end offset (LEO, next
 * offset to assign), high watermark (HW, <= LEO): readers see only [start, HW).
 *
 * Recovery (sl_log_open): the last segment is checked batch by batch (length
 * sane, magic 2, CRC-32C); the first bad or torn batch and everything after it
 * is truncated away, and that segment's indexes are rebuilt. Older segments'
 * indexes are rebuilt when missing or inconsistent. After open the recovered
 * tail is fdatasync'd and HW = LEO. Before any of that, a compaction pass cut
 * short by a crash is finished or forgotten (see log_clean.c): leftover
 * `<base>.log.cleaned` files are deleted, `<base>.log.swap` files replace the
 * segments they cover.
 */
#ifndef SL_LOG_H
#define SL_LOG_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "batch.h"

typedef struct sl_log sl_log;

/* Errors (negative returns). */
#define SL_LOG_ERR_IO (-1)
#define SL_LOG_ERR_OFFSET_OUT_OF_RANGE (-2)
#define SL_LOG_ERR_CORRUPT (-3)
#define SL_LOG_ERR_TOO_LARGE (-4)
#define SL_LOG_ERR_CHANGED (-5) /* compaction: the segments changed under the pass */

typedef struct sl_log_config {
    int64_t segment_bytes;        /* log.segment.bytes / segment.bytes, default 1073741824 */
    int64_t roll_ms;              /* log.roll.ms / segment.ms, default 604800000 */
    int64_t retention_ms;         /* log.retention.ms / retention.ms, -1 = forever */
    int64_t retention_bytes;      /* log.retention.bytes / retention.bytes, -1 = no limit */
    int32_t index_interval_bytes; /* log.index.interval.bytes, default 4096 */
} sl_log_config;

/* Reads n bytes of fd at pos, retrying EINTR and short reads: how many
 * were read (fewer at the end of the file), or -1 with errno. */
ssize_t sl_pread_full(int fd, void *buf, size_t n, int64_t pos);

/* Fill cfg with Kafka's defaults. */
void sl_log_config_default(sl_log_config *cfg);

/* Open (creating when missing) the partition directory dir and recover it.
 * On success *out owns open fds and memory; free with sl_log_close. On
 * failure returns <0, *out is NULL and err says what and where. */
int sl_log_open(const char *dir, const sl_log_config *cfg, sl_log **out, char *err,
                size_t errlen);

/* fdatasync what is unsynced, close files, free. NULL is fine. */
void sl_log_close(sl_log *log);

/* Close and remove the directory with everything in it. */
int sl_log_destroy_files(sl_log *log, char *err, size_t errlen);

/* Rename the partition directory (topic deletion moves it aside first, so a
 * topic re-created under the same name never shares files with it). Open
 * files stay valid. */
int sl_log_rename_dir(sl_log *log, const char *newdir, char *err, size_t errlen);

/* Replace the config (topic config changed); takes effect on the next append
 * or retention pass. */
void sl_log_set_config(sl_log *log, const sl_log_config *cfg);

int64_t sl_log_start_offset(const sl_log *log);
int64_t sl_log_end_offset(const sl_log *log);
int64_t sl_log_high_watermark(const sl_log *log);
int64_t sl_log_size_bytes(const sl_log *log); /* sum of .log file sizes */
int sl_log_segment_count(const sl_log *log);
const char *sl_log_dir(const sl_log *log);
const char *sl_log_name(const sl_log *log); /* last path component, for messages */
const sl_log_config *sl_log_get_config(const sl_log *log);

/* Append one batch that sl_batch_validate accepted (len bytes at batch).
 * Stamps in place baseOffset = LEO and partitionLeaderEpoch = leader_epoch;
 * when log_append_time >= 0 also stamps LogAppendTime (sl_batch_set_log_append_time).
 * Rolls first when the active segment is non-empty and would pass
 * segment_bytes, or is older than roll_ms (by the time of its first append),
 * or when the offset would not fit the 32-bit relative index. Writes the
 * bytes (no fsync), adds index/timeindex entries as due, records a new epoch
 * in leader-epoch-checkpoint when leader_epoch is greater than the latest.
 * *base_offset gets the assigned base offset. Returns 0 or <0 with err; on
 * error nothing was appended (a partial write is cut back). */
int sl_log_append(sl_log *log, uint8_t *batch, size_t len, int32_t leader_epoch,
                  int64_t log_append_time, int64_t *base_offset, char *err, size_t errlen);

/* Group commit. A syncpoint covers everything appended before sync_begin. */
#define SL_LOG_SYNC_MAX_FDS 8
typedef struct sl_log_syncpoint {
    int fds[SL_LOG_SYNC_MAX_FDS]; /* dup'd: segments/indexes with unsynced bytes */
    int nfds;
    int64_t end_offset;           /* LEO when the syncpoint was taken */
    uint64_t truncations;         /* the log's truncation count then (private) */
    int result;                   /* set by sl_log_sync_run: 0 or -errno */
} sl_log_syncpoint;

/* Returns 1 and fills sp when there is something to sync, 0 when the log is
 * already durable up to LEO (sp untouched), <0 on error (dup failed). */
int sl_log_sync_begin(sl_log *log, sl_log_syncpoint *sp);
/* Any thread: fdatasync and close every fd in sp; sets sp->result. */
void sl_log_sync_run(sl_log_syncpoint *sp);
/* Owner thread: if sp->result == 0, HW = max(HW, sp->end_offset) (bounded
 * by LEO, which truncation may have lowered). When the log was truncated
 * after sync_begin, bytes below end_offset may have been rewritten since and
 * are not covered by this syncpoint, so the HW is left alone (the next
 * syncpoint moves it). Returns sp->result. */
int sl_log_sync_end(sl_log *log, const sl_log_syncpoint *sp);
/* For logs not flushed before acknowledging (log.flush.interval.messages>1):
 * move HW without a sync (bounded by LEO). */
void sl_log_set_high_watermark(sl_log *log, int64_t hw);

/* A range of whole batches in one segment file, for sendfile. */
typedef struct sl_log_slice {
    int fd;               /* dup'd, caller closes; -1 when len == 0 */
    int64_t pos;          /* file position of the first byte */
    int64_t len;          /* bytes, whole batches only */
    int64_t first_offset; /* baseOffset of the first batch */
} sl_log_slice;

/* Batches from the one containing offset onward, not past max_offset
 * (exclusive: pass the HW for consumers, LEO for followers), at most
 * max_bytes; when min_one is set the first batch is returned whole even if
 * larger than max_bytes (KIP-74). Stays inside one segment. Returns 0 (an
 * empty slice when offset == max_offset or max_bytes is too small), or
 * SL_LOG_ERR_OFFSET_OUT_OF_RANGE when offset < start offset or > LEO. */
int sl_log_read(sl_log *log, int64_t offset, int64_t max_offset, int64_t max_bytes, int min_one,
                sl_log_slice *out, char *err, size_t errlen);

/* Walk the headers of the batches from the one holding from_offset (or the
 * first after it; from_offset below the start offset means the start) to LEO,
 * in offset order, calling fn(h, arg) for each; h->base_offset is the stamped
 * offset. Headers come through the log's header window, so a run of small
 * batches costs one pread per 16 KiB, not one per batch; record bytes are
 * never read. Stops at the first nonzero return of fn and returns it; 0 after
 * the last batch; <0 with err (file, position, why) on a read error or a
 * corrupt header. fn must not append to or truncate the log. */
typedef int (*sl_log_header_fn)(const sl_batch_header *h, void *arg);
int sl_log_scan_headers(sl_log *log, int64_t from_offset, sl_log_header_fn fn, void *arg, char *err,
                        size_t errlen);

/* Offset of the first batch whose maxTimestamp >= ts (batch granularity),
 * or -1 when every batch is older. Uses .timeindex then scans batch headers. */
int64_t sl_log_offset_for_time(sl_log *log, int64_t ts);

/* Delete whole segments per retention_ms (a segment's largest timestamp
 * older than now_ms - retention_ms) and retention_bytes (oldest first while
 * the log stays above the limit without it). Never the active segment, never
 * one holding offsets >= HW. Moves the start offset. Returns the number of
 * segments deleted or <0 with err. */
int sl_log_retain(sl_log *log, int64_t now_ms, char *err, size_t errlen);

/* Remove every batch whose last offset >= offset (whole segments and the
 * tail of one). LEO becomes the base offset of the first batch removed (or
 * stays when nothing is removed); HW = min(HW, LEO); epoch entries starting
 * at or after the new LEO are dropped. For replication's divergent tails. */
int sl_log_truncate(sl_log *log, int64_t offset, char *err, size_t errlen);

/* Leader epochs: latest recorded epoch (-1 when none), and the start offset
 * of the first epoch greater than epoch (LEO when none): Kafka's
 * OffsetForLeaderEpoch end offset. */
int32_t sl_log_latest_epoch(const sl_log *log);
int64_t sl_log_epoch_end_offset(const sl_log *log, int32_t epoch);

/* ---------------------------------------------------------------- compaction
 * The storage side of log compaction (log_clean.c); the cleaner itself is
 * broker/cleaner.c. The cleaner reads old segments through dup'd fds on a
 * worker thread and writes `<base>.log.cleaned` files into the partition
 * directory (through a dup of its fd); only sl_log_replace_segments, on the
 * owner thread, changes the log. Readers that dup'd an fd of a replaced
 * segment keep reading the old bytes: the inode lives until they close it. */

#define SL_LOG_CLEANED_EXT ".log.cleaned"
#define SL_LOG_SWAP_EXT    ".log.swap"

typedef struct sl_log_seg_view {
    int64_t base;        /* base offset, the file name */
    int64_t next_offset; /* last offset of its last batch + 1 (base when empty) */
    int64_t size;        /* bytes of whole batches */
    int64_t time_ms;     /* largest maxTimestamp; the file's mtime when none */
    int fd;              /* dup'd .log fd (caller closes), -1 when not asked for */
} sl_log_seg_view;

/* Describe the old segments: the leading ones that are not active and lie
 * wholly below the HW (immutable until retention, truncation or a swap).
 * Fills at most max views from the first segment on; with want_fds each gets
 * a dup'd fd of its .log. Returns how many were filled, or <0 with err (no fd
 * left open). */
int sl_log_old_segments(sl_log *log, sl_log_seg_view *out, int max, int want_fds, char *err,
                        size_t errlen);

/* A dup of the partition directory's fd (caller closes), <0 on failure. */
int sl_log_dup_dir_fd(sl_log *log);

/* One cleaned file replacing a run of old segments. */
typedef struct sl_log_swap {
    int64_t base;      /* base of the first old segment; the file is <base>.log.cleaned */
    int nold;          /* how many consecutive old segments it replaces, from base on */
    int64_t old_end;   /* next_offset of the last of them when the pass began */
    int64_t old_bytes; /* their total size then */
} sl_log_swap;

/* Owner thread: replace old segments with cleaned files. Every swap is
 * checked first (its segments still there, unchanged, none active); when one
 * is not, every cleaned file is deleted and SL_LOG_ERR_CHANGED returned.
 * Then, byte by byte as log_clean.c documents: rename all .cleaned -> .swap,
 * fsync the directory (the swaps are committed), delete the old segments'
 * files, rename .swap -> .log, build fresh indexes, fsync the directory.
 * Returns the number of swaps done, or <0 with err. Offsets do not move. */
int sl_log_replace_segments(sl_log *log, const sl_log_swap *sw, int n, char *err, size_t errlen);

/* Cleaner bookkeeping kept with the log, in memory only (after a restart
 * everything is dirty once more): the first offset a pass has not covered
 * (the log start offset when larger), and when the earliest tombstone kept
 * by the last pass becomes removable (INT64_MAX: none). Truncation lowers
 * the first; the cleaner sets both. */
int64_t sl_log_first_dirty(const sl_log *log);
int64_t sl_log_tombstones_due(const sl_log *log);
void sl_log_set_clean_state(sl_log *log, int64_t first_dirty, int64_t tombstones_due_ms);

/* Tests only: replace the clock (CLOCK_REALTIME in ms) that roll_ms and
 * append times use; NULL restores it. Process-wide, not thread-safe. */
void sl_log_set_clock(int64_t (*now_ms)(void));

#endif
