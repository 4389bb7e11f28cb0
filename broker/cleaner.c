/*
 * cleaner.c - log compaction (Kafka's LogCleaner) for cleanup.policy=compact.
 *
 * What a pass does, for one partition:
 *
 *   plan (owner thread)   Take the old segments (not active, wholly below
 *                         the HW) as dup'd fds. The cleanable ones are those
 *                         before the first *dirty* segment whose largest
 *                         timestamp is newer than now - min.compaction.lag.ms.
 *                         Dirty = at or after the first dirty offset (the end
 *                         of the previous pass's map, kept in the log). The
 *                         dirty ratio is dirty bytes / all cleanable bytes; a
 *                         pass is due when it reaches min.cleanable.dirty.ratio
 *                         or when a tombstone kept by the last pass became
 *                         removable.
 *   map (worker)          Walk the dirty batches, hashing each record's key
 *                         to 128 bits and recording key -> latest offset in an
 *                         open-addressing table sized from
 *                         log.cleaner.dedupe.buffer.size (24 bytes a slot,
 *                         filled to 90%). When the next batch might not fit,
 *                         the map stops there: end_offset is that batch's
 *                         base and only the prefix below it counts as cleaned.
 *   clean (worker)        Rewrite every segment with base < end_offset, from
 *                         the log's first, in groups of consecutive segments
 *                         whose sizes add up to at most segment.bytes (small
 *                         cleaned segments merge), each into
 *                         <first base>.log.cleaned (see log_clean.c). A
 *                         record survives unless, with offset o < end_offset:
 *                         its key maps to an offset > o (superseded); or it
 *                         has no key (not compactable: Kafka drops these
 *                         too); or it is a tombstone (null value) in a
 *                         segment whose time (largest timestamp, else mtime)
 *                         is older than now - delete.retention.ms. Records at
 *                         or past end_offset always survive: older versions
 *                         of their keys may still sit unmapped before them.
 *                         A batch keeps its header: baseOffset, lastOffsetDelta
 *                         (so the offsets after it stay where they were),
 *                         base/max timestamps, producer fields; each record
 *                         keeps its bytes, offsetDelta and timestampDelta.
 *                         When every record survives the batch is copied as
 *                         is; when none does it is dropped; otherwise its
 *                         surviving records are concatenated, recompressed
 *                         with the batch's codec (codec.c) and batchLength,
 *                         recordCount and the CRC-32C are recomputed.
 *                         Control batches are copied as they are. A group
 *                         of one segment that lost nothing is not swapped.
 *   swap (owner thread)   sl_log_replace_segments; then the first dirty
 *                         offset becomes end_offset.
 *
 * Nothing moves an offset, so consumers' positions stay valid, and a fetch
 * that dup'd an old segment's fd finishes on the old bytes.
 *
 * Scheduling: sl_cleaner_tick runs on the broker loop from the housekeeping
 * timer; every log.cleaner.backoff.ms it starts at most one pass (like Kafka
 * with log.cleaner.threads=1) on libuv's thread pool for the dirtiest
 * partition. While a pass runs its partition is pinned (in_sync, as a sync
 * cycle pins it), so deleting the topic frees it only after the pass. Only
 * topics whose cleanup.policy contains "compact" are cleaned; time and size
 * retention apply only when it also contains "delete" (broker.c).
 *
 * Not done: aborted transactions are not removed (their records are cleaned
 * like any other), producer state is not kept for idempotence (Kafka keeps a
 * producer's last batch), max.compaction.lag.ms is not enforced, and the
 * first dirty offset is not checkpointed (after a restart one full pass).
 *
 * Runs on: the broker loop (plan, swap, tick) and one thread-pool thread
 * (map, clean) that touches only its job: dup'd fds, its own buffers.
 */
#include "cleaner.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batch.h"
#include "broker_internal.h"
#include "codec.h"
#include "crc32c.h"
#include "logging.h"

#define CLEANER            "cleaner"
#define CLEAN_MAX_SEGS     4096      /* old segments looked at per pass */
#define CLEAN_READ_CHUNK   (1 << 20) /* segment read size */
#define CLEAN_WRITE_CHUNK  (1 << 20) /* cleaned bytes buffered per write */
#define MAP_SLOT_BYTES     24
#define MAP_LOAD_PCT       90
#define CLEAN_CRC_START    21

/* ---------------------------------------------------------------- offset map */

typedef struct omap_slot {
    uint64_t h1, h2; /* 128-bit key hash */
    int64_t off1;    /* latest offset + 1; 0 = empty slot */
} omap_slot;

typedef struct omap {
    omap_slot *slots;
    size_t nslots, count, max;
} omap;

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static uint64_t rotl64(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

/* Two independent 64-bit lanes over 8-byte words (MurmurHash3-style
 * multiply-rotate), each finalized with a 64-bit avalanche mix. */
static void key_hash(const uint8_t *k, size_t n, uint64_t *h1, uint64_t *h2)
{
    uint64_t a = 0x9e3779b97f4a7c15ULL ^ n, b = 0x632be59bd9b4e019ULL ^ (n * 0x85ebca6bULL);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, k + i, 8);
        a = rotl64(a ^ (w * 0x87c37b91114253d5ULL), 31) * 5 + 0x52dce729;
        b = rotl64(b ^ (w * 0x4cf5ad432745937fULL), 33) * 7 + 0x38495ab5;
    }
    uint64_t t = 0;
    for (size_t s = 0; i < n; i++, s += 8)
        t |= (uint64_t)k[i] << s;
    a ^= t * 0x87c37b91114253d5ULL;
    b ^= rotl64(t, 17) * 0x4cf5ad432745937fULL;
    *h1 = mix64(a + b);
    *h2 = mix64(b ^ rotl64(*h1, 29));
}

static int omap_init(omap *m, size_t nslots)
{
    m->slots = calloc(nslots, sizeof(*m->slots));
    m->nslots = nslots;
    m->count = 0;
    m->max = nslots * MAP_LOAD_PCT / 100;
    return m->slots ? 0 : -1;
}

static omap_slot *omap_find(const omap *m, uint64_t h1, uint64_t h2)
{
    size_t i = (size_t)(h1 % m->nslots);
    for (;;) {
        omap_slot *s = &m->slots[i];
        if (s->off1 == 0 || (s->h1 == h1 && s->h2 == h2))
            return s;
        i = i + 1 == m->nslots ? 0 : i + 1;
    }
}

/* Caller keeps count < nslots (max is 90% of the slots). */
static void omap_put(omap *m, uint64_t h1, uint64_t h2, int64_t offset)
{
    omap_slot *s = omap_find(m, h1, h2);
    if (s->off1 == 0) {
        s->h1 = h1;
        s->h2 = h2;
        m->count++;
    }
    s->off1 = offset + 1;
}

/* Latest offset of the key, -1 when not mapped. */
static int64_t omap_get(const omap *m, uint64_t h1, uint64_t h2)
{
    return omap_find(m, h1, h2)->off1 - 1;
}

/* ---------------------------------------------------------------- job */

typedef struct clean_job {
    /* input, filled by plan on the owner thread */
    char name[256];
    int dir_fd;
    sl_log_seg_view *segs; /* the cleanable old segments, dup'd fds */
    int nsegs;
    int64_t first_dirty;
    int64_t now_ms;
    int64_t group_bytes; /* segment.bytes: the most a cleaned group gathers */
    sl_cleaner_config cfg;
    /* worker state */
    omap map;
    sl_codec *codec;
    sl_buf rbuf; /* read window: [rpos, rpos + rbuf.len) of segment rfd */
    int rfd;
    int64_t rpos;
    sl_buf recs; /* one batch's records, decompressed */
    sl_buf kept; /* the surviving records of one batch */
    sl_buf out;  /* cleaned bytes not yet written */
    int out_fd;
    /* results */
    sl_log_swap *swaps;
    int nswaps;
    int64_t end_offset;
    int64_t tombstones_due;
    sl_cleaner_stats st;
    int rc;
    char err[1024];
    /* broker side */
    uv_work_t work;
    sl_broker *b;
    sl_partition *part;
    uint64_t started_ns;
} clean_job;

static void job_free(clean_job *j)
{
    if (!j)
        return;
    for (int i = 0; i < j->nsegs; i++)
        if (j->segs[i].fd >= 0)
            close(j->segs[i].fd);
    if (j->dir_fd >= 0)
        close(j->dir_fd);
    if (j->out_fd >= 0)
        close(j->out_fd);
    free(j->segs);
    free(j->swaps);
    free(j->map.slots);
    sl_codec_destroy(j->codec);
    sl_buf_free(&j->rbuf);
    sl_buf_free(&j->recs);
    sl_buf_free(&j->kept);
    sl_buf_free(&j->out);
    free(j);
}

__attribute__((format(printf, 4, 5))) static int job_fail(clean_job *j, const sl_log_seg_view *v,
                                                          int64_t pos, const char *fmt, ...)
{
    char why[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    if (v)
        snprintf(j->err, sizeof(j->err),
                 "partition %s: cleaning segment %020" PRId64 ".log at position %" PRId64 ": %s",
                 j->name, v->base, pos, why);
    else
        snprintf(j->err, sizeof(j->err), "partition %s: cleaning: %s", j->name, why);
    j->rc = -1;
    return -1;
}

static void cleaned_name(char *out, size_t outlen, int64_t base)
{
    snprintf(out, outlen, "%020" PRId64 "%s", base, SL_LOG_CLEANED_EXT);
}

/* ---------------------------------------------------------------- reading */

/* Point *p at len bytes of segment v at pos, reading ahead a chunk. */
static int job_read(clean_job *j, const sl_log_seg_view *v, int64_t pos, size_t len,
                    const uint8_t **p)
{
    if (j->rfd != v->fd || pos < j->rpos || pos + (int64_t)len > j->rpos + (int64_t)j->rbuf.len) {
        size_t want = len > CLEAN_READ_CHUNK ? len : CLEAN_READ_CHUNK;
        if (sl_buf_reserve(&j->rbuf, want) < 0)
            return job_fail(j, v, pos, "out of memory for a %zu-byte read", want);
        int64_t n = v->size - pos < (int64_t)j->rbuf.cap ? v->size - pos : (int64_t)j->rbuf.cap;
        ssize_t got = sl_pread_full(v->fd, j->rbuf.p, (size_t)n, pos);
        j->rfd = -1;
        if (got < 0)
            return job_fail(j, v, pos, "read: %s", strerror(errno));
        if (got < (ssize_t)len)
            return job_fail(j, v, pos, "file ends %zd bytes in, a batch needs %zu", got, len);
        j->rfd = v->fd;
        j->rpos = pos;
        j->rbuf.len = (size_t)got;
    }
    *p = j->rbuf.p + (pos - j->rpos);
    return 0;
}

/* The whole batch at pos, checked (lengths, magic, CRC-32C). */
static int job_batch(clean_job *j, const sl_log_seg_view *v, int64_t pos, const uint8_t **p,
                     sl_batch_header *h)
{
    char why[200];
    if (v->size - pos < SL_BATCH_HEADER_SIZE)
        return job_fail(j, v, pos, "batch header cut short: %" PRId64 " bytes left",
                        v->size - pos);
    if (job_read(j, v, pos, SL_BATCH_HEADER_SIZE, p) < 0)
        return -1;
    sl_batch_header_decode(*p, SL_BATCH_HEADER_SIZE, h);
    if (h->batch_length < SL_BATCH_HEADER_SIZE - SL_BATCH_LOG_OVERHEAD ||
        sl_batch_total_size(h) > v->size - pos)
        return job_fail(j, v, pos, "batch has batchLength %" PRId32 " with %" PRId64 " bytes left",
                        h->batch_length, v->size - pos);
    size_t total = (size_t)sl_batch_total_size(h);
    if (job_read(j, v, pos, total, p) < 0)
        return -1;
    if (sl_batch_validate(*p, total, why, sizeof(why)) != 0)
        return job_fail(j, v, pos, "%s", why);
    j->st.bytes_read += (int64_t)total;
    return 0;
}

/* The batch's records, uncompressed: in place, or in j->recs. */
static int job_records(clean_job *j, const sl_log_seg_view *v, int64_t pos, const uint8_t *p,
                       const sl_batch_header *h, const uint8_t **recs, size_t *n, int *flags)
{
    char why[200];
    const uint8_t *body = p + SL_BATCH_HEADER_SIZE;
    size_t blen = (size_t)sl_batch_total_size(h) - SL_BATCH_HEADER_SIZE;
    int codec = h->attributes & SL_BATCH_ATTR_CODEC_MASK;

    *flags = 0;
    if (codec == SL_CODEC_NONE) {
        *recs = body;
        *n = blen;
        return 0;
    }
    j->recs.len = 0;
    if (sl_codec_decompress(j->codec, codec, body, blen, &j->recs, flags, why, sizeof(why)) < 0)
        return job_fail(j, v, pos, "batch at offset %" PRId64 " (%s): %s", h->base_offset,
                        sl_codec_name(codec), why);
    *recs = j->recs.p;
    *n = j->recs.len;
    return 0;
}

/* ---------------------------------------------------------------- records */

typedef struct rec {
    size_t start, size;  /* the record's bytes, length varint included */
    int64_t offset_delta;
    const uint8_t *key;  /* NULL: null key */
    int64_t key_len;
    int tombstone;       /* null value */
} rec;

static int rec_varint(const uint8_t **q, const uint8_t *end, int64_t *v)
{
    int k = sl_varint_decode(*q, (size_t)(end - *q), v);
    if (k < 0)
        return -1;
    *q += k;
    return 0;
}

/* Parse the record at *pos of p[0..n); advance *pos. 0 or -1 (malformed). */
static int rec_parse(const uint8_t *p, size_t n, size_t *pos, rec *r)
{
    int64_t len, ts_delta, vlen;
    const uint8_t *q = p + *pos, *end;

    if (rec_varint(&q, p + n, &len) < 0 || len < 1 || len > (int64_t)(p + n - q))
        return -1;
    end = q + len;
    r->start = *pos;
    r->size = (size_t)(end - (p + *pos));
    q++; /* attributes */
    if (rec_varint(&q, end, &ts_delta) < 0 || rec_varint(&q, end, &r->offset_delta) < 0 ||
        rec_varint(&q, end, &r->key_len) < 0 || r->key_len < -1 || r->key_len > end - q)
        return -1;
    r->key = r->key_len < 0 ? NULL : q;
    q += r->key_len < 0 ? 0 : r->key_len;
    if (rec_varint(&q, end, &vlen) < 0 || vlen < -1 || vlen > end - q)
        return -1;
    r->tombstone = vlen < 0;
    *pos += r->size;
    return 0;
}

/* ---------------------------------------------------------------- map */

static int map_batch(clean_job *j, const sl_log_seg_view *v, int64_t pos, const uint8_t *p,
                     const sl_batch_header *h)
{
    const uint8_t *recs;
    size_t n, rpos = 0;
    int flags;
    rec r;

    if (job_records(j, v, pos, p, h, &recs, &n, &flags) < 0)
        return -1;
    for (int32_t i = 0; i < h->record_count; i++) {
        if (rec_parse(recs, n, &rpos, &r) < 0)
            return job_fail(j, v, pos, "batch at offset %" PRId64 ": record %d is malformed",
                            h->base_offset, i);
        int64_t off = h->base_offset + r.offset_delta;
        if (off < j->first_dirty || !r.key)
            continue;
        uint64_t h1, h2;
        key_hash(r.key, (size_t)r.key_len, &h1, &h2);
        omap_put(&j->map, h1, h2, off);
    }
    return 0;
}

/* Fill the map from the dirty batches; set end_offset. */
static int job_build_map(clean_job *j)
{
    const sl_log_seg_view *last = &j->segs[j->nsegs - 1];
    sl_batch_header h;
    const uint8_t *p;

    j->end_offset = last->next_offset > j->first_dirty ? last->next_offset : j->first_dirty;
    for (int s = 0; s < j->nsegs; s++) {
        const sl_log_seg_view *v = &j->segs[s];
        if (v->next_offset <= j->first_dirty)
            continue;
        for (int64_t pos = 0; pos < v->size; pos += sl_batch_total_size(&h)) {
            if (job_batch(j, v, pos, &p, &h) < 0)
                return -1;
            if (h.base_offset + h.last_offset_delta < j->first_dirty ||
                (h.attributes & SL_BATCH_ATTR_CONTROL))
                continue;
            if (j->map.count + (size_t)h.record_count > j->map.max) {
                if (h.base_offset <= j->first_dirty)
                    return job_fail(j, v, pos,
                                    "log.cleaner.dedupe.buffer.size %zu holds %zu keys, fewer "
                                    "than the %" PRId32 " records of the batch at offset %" PRId64,
                                    j->cfg.dedupe_buffer_bytes, j->map.max, h.record_count,
                                    h.base_offset);
                j->end_offset = h.base_offset; /* clean the prefix that fits */
                return 0;
            }
            if (map_batch(j, v, pos, p, &h) < 0)
                return -1;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- clean */

static int tombstone_expired(const clean_job *j, int64_t seg_time)
{
    int64_t dr = j->cfg.delete_retention_ms;
    return dr <= j->now_ms && seg_time < j->now_ms - dr;
}

static int rec_keep(clean_job *j, int64_t off, const rec *r, int64_t seg_time)
{
    uint64_t h1, h2;
    if (off >= j->end_offset)
        return 1;
    if (!r->key)
        return 0;
    key_hash(r->key, (size_t)r->key_len, &h1, &h2);
    if (omap_get(&j->map, h1, h2) > off)
        return 0;
    if (!r->tombstone)
        return 1;
    if (tombstone_expired(j, seg_time)) {
        j->st.tombstones_dropped++;
        return 0;
    }
    int64_t due = seg_time > INT64_MAX - j->cfg.delete_retention_ms
                      ? INT64_MAX
                      : seg_time + j->cfg.delete_retention_ms + 1;
    if (due < j->tombstones_due)
        j->tombstones_due = due;
    return 1;
}

/* Append a batch of the surviving records: the old header, the records
 * (recompressed with the old codec), new batchLength, recordCount, CRC. */
static int clean_rebuild(clean_job *j, const sl_log_seg_view *v, int64_t pos, const uint8_t *p,
                         const sl_batch_header *h, int32_t nkept, int flags)
{
    char why[200];
    size_t at = j->out.len;
    int codec = h->attributes & SL_BATCH_ATTR_CODEC_MASK;

    if (sl_buf_append(&j->out, p, SL_BATCH_HEADER_SIZE) < 0)
        return job_fail(j, v, pos, "out of memory");
    if (codec == SL_CODEC_NONE) {
        if (sl_buf_append(&j->out, j->kept.p, j->kept.len) < 0)
            return job_fail(j, v, pos, "out of memory");
    } else if (sl_codec_compress(j->codec, codec, flags, j->kept.p, j->kept.len, &j->out, why,
                                 sizeof(why)) < 0) {
        return job_fail(j, v, pos, "recompressing batch at offset %" PRId64 ": %s", h->base_offset,
                        why);
    }
    uint8_t *b = j->out.p + at;
    size_t len = j->out.len - at;
    if (len - SL_BATCH_LOG_OVERHEAD > INT32_MAX)
        return job_fail(j, v, pos, "rewritten batch too large (%zu bytes)", len);
    sl_put_be32(b + 8, (uint32_t)(len - SL_BATCH_LOG_OVERHEAD));
    sl_put_be32(b + 57, (uint32_t)nkept);
    sl_put_be32(b + 17, sl_crc32c(0, b + CLEAN_CRC_START, len - CLEAN_CRC_START));
    j->st.batches_rewritten++;
    return 0;
}

/* Filter one batch into j->out. *changed is set when it was not copied. */
static int clean_batch(clean_job *j, const sl_log_seg_view *v, int64_t pos, const uint8_t *p,
                       const sl_batch_header *h, int *changed)
{
    size_t total = (size_t)sl_batch_total_size(h), n, rpos = 0;
    const uint8_t *recs;
    int32_t nkept = 0;
    int flags;
    rec r;

    j->st.records_read += h->record_count;
    if (h->attributes & SL_BATCH_ATTR_CONTROL)
        goto copy;
    if (job_records(j, v, pos, p, h, &recs, &n, &flags) < 0)
        return -1;
    j->kept.len = 0;
    for (int32_t i = 0; i < h->record_count; i++) {
        if (rec_parse(recs, n, &rpos, &r) < 0)
            return job_fail(j, v, pos, "batch at offset %" PRId64 ": record %d is malformed",
                            h->base_offset, i);
        if (!rec_keep(j, h->base_offset + r.offset_delta, &r, v->time_ms))
            continue;
        if (sl_buf_append(&j->kept, recs + r.start, r.size) < 0)
            return job_fail(j, v, pos, "out of memory");
        nkept++;
    }
    if (rpos != n)
        return job_fail(j, v, pos, "batch at offset %" PRId64 ": %zu bytes after %" PRId32
                        " records", h->base_offset, n - rpos, h->record_count);
    if (nkept == h->record_count)
        goto copy;
    *changed = 1;
    j->st.records_kept += nkept;
    return nkept ? clean_rebuild(j, v, pos, p, h, nkept, flags) : 0;
copy:
    j->st.records_kept += h->record_count;
    if (sl_buf_append(&j->out, p, total) < 0)
        return job_fail(j, v, pos, "out of memory");
    return 0;
}

static int job_flush(clean_job *j, int64_t base)
{
    size_t done = 0;
    while (done < j->out.len) {
        ssize_t w = write(j->out_fd, j->out.p + done, j->out.len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            char fname[64];
            cleaned_name(fname, sizeof(fname), base);
            return job_fail(j, NULL, 0, "write %s: %s", fname, strerror(errno));
        }
        done += (size_t)w;
    }
    j->st.bytes_written += (int64_t)j->out.len;
    j->out.len = 0;
    return 0;
}

/* Clean segments [from, to) into <segs[from].base>.log.cleaned. */
static int job_clean_group(clean_job *j, int from, int to)
{
    int64_t base = j->segs[from].base, bytes = 0;
    int changed = to - from > 1;
    char fname[64];
    sl_batch_header h;
    const uint8_t *p;

    cleaned_name(fname, sizeof(fname), base);
    j->out_fd = openat(j->dir_fd, fname, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (j->out_fd < 0)
        return job_fail(j, NULL, 0, "create %s: %s", fname, strerror(errno));
    j->out.len = 0;
    for (int s = from; s < to; s++) {
        const sl_log_seg_view *v = &j->segs[s];
        bytes += v->size;
        for (int64_t pos = 0; pos < v->size; pos += sl_batch_total_size(&h)) {
            if (job_batch(j, v, pos, &p, &h) < 0 || clean_batch(j, v, pos, p, &h, &changed) < 0)
                return -1;
            if (j->out.len >= CLEAN_WRITE_CHUNK && job_flush(j, base) < 0)
                return -1;
        }
    }
    if (job_flush(j, base) < 0)
        return -1;
    if (fdatasync(j->out_fd) < 0)
        return job_fail(j, NULL, 0, "fdatasync %s: %s", fname, strerror(errno));
    close(j->out_fd);
    j->out_fd = -1;
    if (!changed) { /* byte-identical to the one segment it came from */
        unlinkat(j->dir_fd, fname, 0);
        return 0;
    }
    j->swaps[j->nswaps++] = (sl_log_swap){base, to - from, j->segs[to - 1].next_offset, bytes};
    j->st.segments_in += to - from;
    j->st.segments_out++;
    return 0;
}

/* Delete every .cleaned file this job wrote (after a failure). */
static void job_discard(clean_job *j)
{
    char fname[64];
    if (j->out_fd >= 0) {
        close(j->out_fd);
        j->out_fd = -1;
    }
    for (int s = 0; s < j->nsegs; s++) {
        cleaned_name(fname, sizeof(fname), j->segs[s].base);
        unlinkat(j->dir_fd, fname, 0);
    }
    j->nswaps = 0;
}

/* Worker: map, then clean every segment below end_offset in groups. */
static void job_run(clean_job *j)
{
    int ngroup = 0;
    j->codec = sl_codec_create();
    j->swaps = calloc((size_t)j->nsegs, sizeof(*j->swaps));
    if (!j->codec || !j->swaps) {
        job_fail(j, NULL, 0, "out of memory");
        return;
    }
    if (job_build_map(j) < 0)
        goto fail;
    while (ngroup < j->nsegs && j->segs[ngroup].base < j->end_offset)
        ngroup++;
    for (int from = 0; from < ngroup;) {
        int to = from + 1;
        int64_t bytes = j->segs[from].size;
        while (to < ngroup && bytes + j->segs[to].size <= j->group_bytes &&
               j->segs[to].next_offset - 1 - j->segs[from].base <= INT32_MAX)
            bytes += j->segs[to++].size;
        if (job_clean_group(j, from, to) < 0)
            goto fail;
        from = to;
    }
    j->st.first_dirty = j->first_dirty;
    j->st.end_offset = j->end_offset;
    j->st.cleaned = 1;
    return;
fail:
    job_discard(j);
}

/* ---------------------------------------------------------------- plan */

/* How many of the old segments v[0..n) a pass may take, and the dirty
 * ratio among them. */
static int plan_cleanable(const sl_log_seg_view *v, int n, int64_t first_dirty,
                          const sl_cleaner_config *cfg, int64_t now, double *ratio)
{
    int64_t clean = 0, dirty = 0;
    int k = 0;
    for (; k < n; k++) {
        int is_dirty = v[k].next_offset > first_dirty;
        if (is_dirty && cfg->min_compaction_lag_ms > 0 &&
            v[k].time_ms > now - cfg->min_compaction_lag_ms)
            break;
        if (is_dirty)
            dirty += v[k].size;
        else
            clean += v[k].size;
    }
    *ratio = clean + dirty > 0 ? (double)dirty / (double)(clean + dirty) : 0.0;
    if (dirty == 0)
        *ratio = 0.0;
    return k;
}

/* Is log due? Returns a score (higher is dirtier), or -1. */
static double plan_score(sl_log *log, const sl_cleaner_config *cfg, int64_t now, int force,
                         sl_log_seg_view *v, int n)
{
    char err[256];
    double ratio;
    n = sl_log_old_segments(log, v, n, 0, err, sizeof(err));
    if (n <= 0)
        return -1;
    int64_t first_dirty = sl_log_first_dirty(log);
    int k = plan_cleanable(v, n, first_dirty, cfg, now, &ratio);
    if (k == 0)
        return -1;
    if (ratio > 0 && (force || ratio >= cfg->min_cleanable_ratio))
        return 1.0 + ratio;
    if (force || sl_log_tombstones_due(log) <= now)
        return 0.5;
    return -1;
}

/* Build a job for log when a pass is due. 1: *out is a job; 0: nothing due;
 * <0 with err. */
static int job_plan(sl_log *log, const sl_cleaner_config *cfg, int64_t now, int force,
                    clean_job **out, char *err, size_t errlen)
{
    int max = sl_log_segment_count(log);
    clean_job *j = calloc(1, sizeof(*j));
    double ratio;
    int rc = SL_LOG_ERR_IO;

    *out = NULL;
    if (max > CLEAN_MAX_SEGS)
        max = CLEAN_MAX_SEGS;
    if (!j || !(j->segs = calloc((size_t)max, sizeof(*j->segs)))) {
        snprintf(err, errlen, "partition %s: out of memory planning a cleaning pass",
                 sl_log_name(log));
        goto fail;
    }
    j->dir_fd = j->out_fd = j->rfd = -1;
    if (plan_score(log, cfg, now, force, j->segs, max) < 0) {
        rc = 0;
        goto fail;
    }
    int n = sl_log_old_segments(log, j->segs, max, 1, err, errlen);
    if (n < 0) {
        rc = n;
        goto fail;
    }
    j->nsegs = n;
    j->first_dirty = sl_log_first_dirty(log);
    j->nsegs = plan_cleanable(j->segs, n, j->first_dirty, cfg, now, &ratio);
    for (int i = j->nsegs; i < n; i++) {
        close(j->segs[i].fd);
        j->segs[i].fd = -1;
    }
    if (j->nsegs == 0) {
        rc = 0;
        goto fail;
    }
    j->dir_fd = sl_log_dup_dir_fd(log);
    if (j->dir_fd < 0) {
        snprintf(err, errlen, "partition %s: dup of the directory fd: %s", sl_log_name(log),
                 strerror(errno));
        goto fail;
    }
    snprintf(j->name, sizeof(j->name), "%s", sl_log_name(log));
    j->cfg = *cfg;
    j->now_ms = now;
    j->tombstones_due = INT64_MAX;
    j->group_bytes = sl_log_get_config(log)->segment_bytes;
    if (j->group_bytes > INT32_MAX / 2)
        j->group_bytes = INT32_MAX / 2;
    /* map: slots for every dirty offset, within the memory budget */
    int64_t need = j->segs[j->nsegs - 1].next_offset - j->first_dirty;
    size_t slots = cfg->dedupe_buffer_bytes / MAP_SLOT_BYTES;
    size_t want = need > 0 ? (size_t)need * 100 / MAP_LOAD_PCT + 64 : 64;
    if (want < slots)
        slots = want;
    if (slots < 16 || omap_init(&j->map, slots) < 0) {
        snprintf(err, errlen, "partition %s: cannot allocate an offset map of %zu slots",
                 sl_log_name(log), slots);
        goto fail;
    }
    *out = j;
    return 1;
fail:
    job_free(j);
    return rc;
}

/* Owner thread: swap the cleaned files in, move the first dirty offset. */
static int job_finish(sl_log *log, clean_job *j, char *err, size_t errlen)
{
    if (j->nswaps) {
        int rc = sl_log_replace_segments(log, j->swaps, j->nswaps, err, errlen);
        j->nswaps = 0; /* the files are the log's now, or gone */
        if (rc < 0)
            return rc;
    }
    sl_log_set_clean_state(log, j->end_offset, j->tombstones_due);
    return 0;
}

/* ---------------------------------------------------------------- entry points */

void sl_cleaner_config_default(sl_cleaner_config *cfg)
{
    cfg->delete_retention_ms = 86400000;
    cfg->min_compaction_lag_ms = 0;
    cfg->min_cleanable_ratio = 0.5;
    cfg->dedupe_buffer_bytes = 134217728;
}

int sl_cleaner_clean_now(sl_log *log, const sl_cleaner_config *cfg, int64_t now_ms, int force,
                         sl_cleaner_stats *st, char *err, size_t errlen)
{
    clean_job *j = NULL;
    memset(st, 0, sizeof(*st));
    int rc = job_plan(log, cfg, now_ms, force, &j, err, errlen);
    if (rc <= 0)
        return rc;
    job_run(j);
    if (j->rc < 0) {
        snprintf(err, errlen, "%s", j->err);
        rc = SL_LOG_ERR_IO;
    } else {
        rc = job_finish(log, j, err, errlen);
        if (rc == 0)
            *st = j->st;
    }
    job_free(j);
    return rc < 0 ? rc : 0;
}

/* ---------------------------------------------------------------- broker */

typedef struct sl_cleaner sl_cleaner;
struct sl_cleaner {
    clean_job *job; /* the pass in flight, NULL when none */
    uint64_t last_ms;
};

static const char *topic_conf(const sl_topic *t, const char *key)
{
    json_t *v = json_object_get(t->configs, key);
    return v && json_is_string(v) ? json_string_value(v) : NULL;
}

static int topic_compacted(const sl_broker *b, const sl_topic *t)
{
    const char *p = topic_conf(t, "cleanup.policy");
    if (!p)
        p = b->conf.log_cleanup_policy;
    return p && strstr(p, "compact") != NULL;
}

static void topic_cleaner_config(const sl_broker *b, const sl_topic *t, sl_cleaner_config *cfg)
{
    const char *v;
    sl_cleaner_config_default(cfg);
    cfg->dedupe_buffer_bytes = (size_t)b->conf.log_cleaner_dedupe_buffer_size;
    if ((v = topic_conf(t, "delete.retention.ms")))
        cfg->delete_retention_ms = strtoll(v, NULL, 10);
    if ((v = topic_conf(t, "min.compaction.lag.ms")))
        cfg->min_compaction_lag_ms = strtoll(v, NULL, 10);
    if ((v = topic_conf(t, "min.cleanable.dirty.ratio")))
        cfg->min_cleanable_ratio = strtod(v, NULL);
}

typedef struct pick_ctx {
    sl_broker *b;
    int64_t now;
    sl_log_seg_view *views;
    int nviews;
    sl_partition *best;
    double best_score;
    sl_cleaner_config best_cfg;
} pick_ctx;

static void pick_topic(sl_topic *t, void *arg)
{
    pick_ctx *pc = arg;
    sl_cleaner_config cfg;
    if (!topic_compacted(pc->b, t))
        return;
    topic_cleaner_config(pc->b, t, &cfg);
    for (int32_t i = 0; i < t->npart; i++) {
        sl_partition *p = t->parts[i];
        if (!p || p->deleted)
            continue;
        double score = plan_score(p->log, &cfg, pc->now, 0, pc->views, pc->nviews);
        if (score > pc->best_score) {
            pc->best = p;
            pc->best_score = score;
            pc->best_cfg = cfg;
        }
    }
}

static void clean_work(uv_work_t *req)
{
    clean_job *j = req->data;
    job_run(j);
}

static void clean_log_done(clean_job *j, sl_log *log)
{
    char err[512];
    double ms = (double)(sl_now_ns() - j->started_ns) / 1e6;
    if (j->rc < 0) {
        sl_warn(CLEANER, "%s", j->err);
        return;
    }
    if (job_finish(log, j, err, sizeof(err)) < 0) {
        sl_warn(CLEANER, "%s", err);
        return;
    }
    const sl_cleaner_stats *st = &j->st;
    sl_info(CLEANER,
            "partition %s: cleaned up to offset %" PRId64 " (dirty from %" PRId64
            "): %d segment(s) "
            "-> %d, %" PRId64 " -> %" PRId64 " bytes, kept %" PRId64 " of %" PRId64
            " records, %" PRId64 " tombstone(s) removed, %.1f ms",
            j->name, st->end_offset, st->first_dirty, st->segments_in, st->segments_out,
            st->bytes_read, st->bytes_written, st->records_kept, st->records_read,
            st->tombstones_dropped, ms);
}

static void clean_done(uv_work_t *req, int status)
{
    clean_job *j = req->data;
    sl_broker *b = j->b;
    sl_partition *p = j->part;

    b->cleaner->job = NULL;
    b->cleaner->last_ms = sl_now_ms();
    p->in_sync--;
    if (p->deleted) { /* its directory, .cleaned files included, goes with it */
        if (!p->in_sync)
            sl_partition_free(p);
    } else if (status < 0) {
        job_discard(j);
    } else {
        clean_log_done(j, p->log);
    }
    job_free(j);
}

void sl_cleaner_tick(sl_broker *b)
{
    char err[512];
    if (b->stopping)
        return;
    if (!b->cleaner && !(b->cleaner = calloc(1, sizeof(*b->cleaner))))
        return;
    sl_cleaner *c = b->cleaner;
    uint64_t now = sl_now_ms();
    if (c->job || now - c->last_ms < (uint64_t)b->conf.log_cleaner_backoff_ms)
        return;
    c->last_ms = now;
    pick_ctx pc = {.b = b, .now = (int64_t)now, .best_score = -1, .nviews = CLEAN_MAX_SEGS};
    pc.views = malloc(sizeof(*pc.views) * (size_t)pc.nviews);
    if (!pc.views)
        return;
    sl_topics_foreach(b, pick_topic, &pc);
    free(pc.views);
    if (!pc.best)
        return;
    clean_job *j = NULL;
    int rc = job_plan(pc.best->log, &pc.best_cfg, (int64_t)now, 0, &j, err, sizeof(err));
    if (rc < 0)
        sl_warn(CLEANER, "%s", err);
    if (rc <= 0)
        return;
    j->b = b;
    j->part = pc.best;
    j->started_ns = sl_now_ns();
    j->work.data = j;
    pc.best->in_sync++; /* pinned: a deleted topic frees it in clean_done */
    c->job = j;
    if (uv_queue_work(b->loop, &j->work, clean_work, clean_done) != 0) {
        pc.best->in_sync--;
        c->job = NULL;
        job_discard(j);
        job_free(j);
    }
}

void sl_cleaner_destroy(sl_broker *b)
{
    if (!b->cleaner)
        return;
    free(b->cleaner); /* the loop has drained: no job is in flight */
    b->cleaner = NULL;
}
