/*
 * cleaner.h - log compaction for topics with cleanup.policy=compact (and
 * compact,delete): keep the newest record per key, drop tombstones after
 * delete.retention.ms, never move an offset. The whole interface of
 * broker/cleaner.c; the storage side of a swap is in log.h.
 *
 * The broker calls sl_cleaner_tick from its housekeeping timer; at most one
 * pass runs at a time, its heavy part on libuv's thread pool. Tests and
 * tools call sl_cleaner_clean_now, which does the same pass on the calling
 * thread.
 */
#ifndef SL_CLEANER_H
#define SL_CLEANER_H
#include <stddef.h>
#include <stdint.h>

#include "log.h"

typedef struct sl_broker sl_broker;

/* Per-pass settings: the topic's configs (Kafka's names and defaults). */
typedef struct sl_cleaner_config {
    int64_t delete_retention_ms;   /* delete.retention.ms, default 86400000 */
    int64_t min_compaction_lag_ms; /* min.compaction.lag.ms, default 0 */
    double min_cleanable_ratio;    /* min.cleanable.dirty.ratio, default 0.5 */
    size_t dedupe_buffer_bytes;    /* log.cleaner.dedupe.buffer.size, default 134217728 */
} sl_cleaner_config;

void sl_cleaner_config_default(sl_cleaner_config *cfg);

typedef struct sl_cleaner_stats {
    int cleaned;              /* 1: a pass ran; 0: nothing was due */
    int segments_in;          /* old segments rewritten */
    int segments_out;         /* cleaned segments swapped in */
    int64_t first_dirty;      /* dirty range the offset map covered: [first_dirty, end_offset) */
    int64_t end_offset;
    int64_t bytes_read, bytes_written;
    int64_t records_read, records_kept;
    int64_t tombstones_dropped;
    int64_t batches_rewritten; /* re-encoded (records dropped from them) */
} sl_cleaner_stats;

/* One pass over log on the calling thread, which must own the log: plan,
 * clean into .cleaned files, swap. force ignores min_cleanable_ratio (but
 * not the lag, the HW or the active segment). now_ms is the clock used for
 * delete.retention.ms and min.compaction.lag.ms. Returns 0 (st->cleaned
 * says whether a pass ran) or <0 with err saying what and where. An error
 * before the swap leaves the log unchanged and no .cleaned file behind; one
 * during the swap is logged and the next open finishes it (see log.h). */
int sl_cleaner_clean_now(sl_log *log, const sl_cleaner_config *cfg, int64_t now_ms, int force,
                         sl_cleaner_stats *st, char *err, size_t errlen);

/* Broker I/O loop thread: every log.cleaner.backoff.ms, when no pass runs,
 * pick the compacted partition with the highest dirty ratio at or above its
 * min.cleanable.dirty.ratio (or whose kept tombstones became removable) and
 * start a pass on the thread pool. */
void sl_cleaner_tick(sl_broker *b);

/* Free the cleaner's state (after the loop stopped). */
void sl_cleaner_destroy(sl_broker *b);

#endif
