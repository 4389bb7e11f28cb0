/*
 * test_cleaner.c - log compaction on a real partition directory, through the
 * storage API and the cleaner's synchronous entry point: keyed batches
 * (uncompressed, gzip, snappy raw and xerial-framed, lz4, zstd) are
 * appended, segments roll, a pass runs, and the log is read back record by
 * record: one record per key (the newest) below the cleaned end, every
 * survivor at its original offset with its original bytes, the active
 * segment byte-identical, tombstones kept within delete.retention.ms and
 * gone after, min.compaction.lag.ms and min.cleanable.dirty.ratio honoured,
 * a small dedupe buffer cleaning a prefix, and crash recovery of leftover
 * .cleaned and .swap files.
 *
 * Also checks the codec module on its own (round trips for every codec).
 */
#include <CUnit/Basic.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "batch.h"
#include "cleaner.h"
#include "codec.h"
#include "crc32c.h"
#include "log.h"

#define MAXREC 20000
#define T0     1700000000000LL /* record timestamps */
#define XERIAL 100             /* pseudo codec: snappy with xerial framing */

static char tmp_root[256];
static char part_dir[300];
static int64_t fake_now = T0;
static sl_codec *codec;

static int64_t fake_clock(void)
{
    return fake_now;
}

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void fresh_dir(void)
{
    static int seq;
    if (tmp_root[0])
        nftw(tmp_root, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    snprintf(tmp_root, sizeof(tmp_root), "/tmp/sluice-test-cleaner-%d-%d", (int)getpid(), seq++);
    snprintf(part_dir, sizeof(part_dir), "%s/compacted-0", tmp_root);
    fake_now = T0;
}

static sl_log_config small_cfg(int64_t segment_bytes)
{
    sl_log_config cfg;
    sl_log_config_default(&cfg);
    cfg.retention_ms = -1;
    cfg.segment_bytes = segment_bytes;
    cfg.index_interval_bytes = 512;
    return cfg;
}

static sl_log *open_log(const sl_log_config *cfg)
{
    char err[512] = "";
    sl_log *log = NULL;
    int rc = sl_log_open(part_dir, cfg, &log, err, sizeof(err));
    if (rc != 0)
        printf("\nopen: %s\n", err);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    return log;
}

/* ---------------------------------------------------------------- builder */

typedef struct kv {
    int key;   /* -1: null key */
    int seq;   /* value "v<key>.<seq>"; -1: tombstone */
} kv;

static size_t put_bytes(uint8_t *p, const char *s, int len)
{
    size_t n = (size_t)sl_varint_encode(p, 10, len);
    if (len > 0)
        memcpy(p + n, s, (size_t)len);
    return n + (len > 0 ? (size_t)len : 0);
}

/* A keyed batch of n records with timestamp ts, compressed with codec. */
static size_t build_batch(uint8_t *buf, const kv *recs, int n, int64_t ts, int codec_id)
{
    static uint8_t raw[1 << 20];
    size_t r = 0;
    for (int i = 0; i < n; i++) {
        uint8_t body[256];
        char k[32], v[64];
        size_t b = 0;
        body[b++] = 0;
        b += (size_t)sl_varint_encode(body + b, 10, 0); /* timestampDelta */
        b += (size_t)sl_varint_encode(body + b, 10, i); /* offsetDelta */
        int kl = recs[i].key < 0 ? -1 : snprintf(k, sizeof(k), "k%04d", recs[i].key);
        b += put_bytes(body + b, k, kl);
        int vl = recs[i].seq < 0 ? -1 : snprintf(v, sizeof(v), "v%d.%d", recs[i].key, recs[i].seq);
        b += put_bytes(body + b, v, vl);
        b += (size_t)sl_varint_encode(body + b, 10, 0); /* headers */
        r += (size_t)sl_varint_encode(raw + r, 10, (int64_t)b);
        memcpy(raw + r, body, b);
        r += b;
    }
    size_t len = SL_BATCH_HEADER_SIZE;
    int attr = codec_id == XERIAL ? SL_CODEC_SNAPPY : codec_id;
    if (attr == SL_CODEC_NONE) {
        memcpy(buf + len, raw, r);
        len += r;
    } else {
        char err[256];
        sl_buf out = {0};
        int flags = codec_id == XERIAL ? SL_CODEC_F_SNAPPY_XERIAL : 0;
        CU_ASSERT_EQUAL_FATAL(sl_codec_compress(codec, attr, flags, raw, r, &out, err, sizeof(err)),
                              0);
        memcpy(buf + len, out.p, out.len);
        len += out.len;
        sl_buf_free(&out);
    }
    memset(buf, 0, SL_BATCH_HEADER_SIZE);
    sl_put_be32(buf + 8, (uint32_t)(len - SL_BATCH_LOG_OVERHEAD));
    buf[16] = 2;
    buf[22] = (uint8_t)attr;
    sl_put_be32(buf + 23, (uint32_t)(n - 1));
    sl_put_be64(buf + 27, (uint64_t)ts);
    sl_put_be64(buf + 35, (uint64_t)ts);
    sl_put_be64(buf + 43, (uint64_t)-1);
    buf[51] = buf[52] = 0xff;
    sl_put_be32(buf + 53, (uint32_t)-1);
    sl_put_be32(buf + 57, (uint32_t)n);
    sl_put_be32(buf + 17, sl_crc32c(0, buf + 21, len - 21));
    return len;
}

/* What was appended, by offset: key, seq. */
static kv written[MAXREC];
static int64_t nwritten;

static void append(sl_log *log, const kv *recs, int n, int64_t ts, int codec_id)
{
    static uint8_t buf[1 << 20];
    char err[512] = "";
    int64_t base = -1;
    size_t len = build_batch(buf, recs, n, ts, codec_id);
    int rc = sl_log_append(log, buf, len, 0, -1, &base, err, sizeof(err));
    if (rc != 0)
        printf("\nappend: %s\n", err);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    CU_ASSERT_EQUAL_FATAL(base, nwritten);
    CU_ASSERT_FATAL(nwritten + n <= MAXREC);
    memcpy(written + nwritten, recs, (size_t)n * sizeof(*recs));
    nwritten += n;
    sl_log_set_high_watermark(log, sl_log_end_offset(log));
}

/* n updates of keys seq % nkeys, in batches of per, compressed with codec. */
static void append_updates(sl_log *log, int n, int nkeys, int per, int64_t ts, int codec_id)
{
    kv recs[64];
    for (int i = 0; i < n; i += per) {
        int m = n - i < per ? n - i : per;
        for (int r = 0; r < m; r++)
            recs[r] = (kv){(int)((nwritten + r) % nkeys), (int)(nwritten + r)};
        append(log, recs, m, ts, codec_id);
    }
}

/* ---------------------------------------------------------------- reader */

typedef struct rrec {
    int64_t off;
    char key[32]; /* "" for a null key */
    char val[64];
    int tomb;
} rrec;

static rrec got[MAXREC];

static void parse_records(const uint8_t *p, size_t n, int64_t base, int count, int *ngot)
{
    size_t pos = 0;
    for (int i = 0; i < count; i++) {
        int64_t len, v, klen, vlen;
        int k = sl_varint_decode(p + pos, n - pos, &len);
        CU_ASSERT_FATAL(k > 0 && (size_t)len <= n - pos - (size_t)k);
        const uint8_t *q = p + pos + k + 1;
        q += sl_varint_decode(q, 10, &v);
        q += sl_varint_decode(q, 10, &v);
        rrec *r = &got[(*ngot)++];
        r->off = base + v;
        q += sl_varint_decode(q, 10, &klen);
        r->key[0] = 0;
        if (klen >= 0) {
            memcpy(r->key, q, (size_t)klen);
            r->key[klen] = 0;
            q += klen;
        }
        q += sl_varint_decode(q, 10, &vlen);
        r->tomb = vlen < 0;
        r->val[0] = 0;
        if (vlen >= 0) {
            memcpy(r->val, q, (size_t)vlen);
            r->val[vlen] = 0;
        }
        pos += (size_t)k + (size_t)len;
    }
    CU_ASSERT_EQUAL(pos, n);
}

/* Every record from the start to LEO, checked batch by batch (CRC, codec,
 * lastOffsetDelta bounds). Returns the count. */
static int read_all(sl_log *log)
{
    char err[512];
    int n = 0;
    int64_t off = sl_log_start_offset(log), prev_end = -1;
    while (off < sl_log_end_offset(log)) {
        sl_log_slice sl;
        CU_ASSERT_EQUAL_FATAL(
            sl_log_read(log, off, sl_log_end_offset(log), 1 << 30, 1, &sl, err, sizeof(err)), 0);
        CU_ASSERT_FATAL(sl.len > 0);
        uint8_t *b = malloc((size_t)sl.len);
        CU_ASSERT_EQUAL_FATAL(pread(sl.fd, b, (size_t)sl.len, sl.pos), sl.len);
        close(sl.fd);
        for (int64_t p = 0; p < sl.len;) {
            sl_batch_header h;
            sl_batch_header_decode(b + p, (size_t)(sl.len - p), &h);
            size_t total = (size_t)sl_batch_total_size(&h);
            CU_ASSERT_EQUAL_FATAL(sl_batch_validate(b + p, total, err, sizeof(err)), 0);
            CU_ASSERT(h.base_offset > prev_end);
            int c = h.attributes & 7;
            if (c == 0) {
                parse_records(b + p + 61, total - 61, h.base_offset, h.record_count, &n);
            } else {
                sl_buf out = {0};
                int flags;
                CU_ASSERT_EQUAL_FATAL(sl_codec_decompress(codec, c, b + p + 61, total - 61, &out,
                                                          &flags, err, sizeof(err)),
                                      0);
                parse_records(out.p, out.len, h.base_offset, h.record_count, &n);
                sl_buf_free(&out);
            }
            prev_end = h.base_offset + h.last_offset_delta;
            off = prev_end + 1;
            p += (int64_t)total;
        }
        free(b);
    }
    return n;
}

/* Each record read back is the one written at its offset; offsets ascend. */
static void check_original(int n)
{
    for (int i = 0; i < n; i++) {
        char k[32], v[64];
        const kv *w = &written[got[i].off];
        CU_ASSERT_FATAL(got[i].off >= 0 && got[i].off < nwritten);
        if (i)
            CU_ASSERT(got[i].off > got[i - 1].off);
        snprintf(k, sizeof(k), "k%04d", w->key);
        CU_ASSERT_STRING_EQUAL(got[i].key, w->key < 0 ? "" : k);
        CU_ASSERT_EQUAL(got[i].tomb, w->seq < 0);
        if (w->seq >= 0) {
            snprintf(v, sizeof(v), "v%d.%d", w->key, w->seq);
            CU_ASSERT_STRING_EQUAL(got[i].val, v);
        }
    }
}

/* Latest offset of each key among the written offsets [0, end). */
static int64_t latest_below(int key, int64_t end)
{
    int64_t last = -1;
    for (int64_t o = 0; o < end; o++)
        if (written[o].key == key)
            last = o;
    return last;
}

/* Below end: exactly the latest record of each key (tombstones allowed
 * when keep_tombs); at or past end: every record written. */
static void check_compacted(int n, int64_t end, int nkeys, int keep_tombs)
{
    int seen_below = 0;
    int64_t past = 0;
    for (int i = 0; i < n; i++) {
        const kv *w = &written[got[i].off];
        if (got[i].off >= end) {
            past++;
            continue;
        }
        seen_below++;
        CU_ASSERT_EQUAL(latest_below(w->key, end), got[i].off);
        if (!keep_tombs)
            CU_ASSERT_FALSE(got[i].tomb);
    }
    CU_ASSERT_EQUAL(past, nwritten - end);
    int want = 0;
    for (int k = 0; k < nkeys; k++) {
        int64_t l = latest_below(k, end);
        if (l >= 0 && l < end && (keep_tombs || written[l].seq >= 0))
            want++;
    }
    CU_ASSERT_EQUAL(seen_below, want);
}

static sl_cleaner_config test_ccfg(void)
{
    sl_cleaner_config c;
    sl_cleaner_config_default(&c);
    return c;
}

static void clean(sl_log *log, const sl_cleaner_config *c, int64_t now, int force,
                  sl_cleaner_stats *st)
{
    char err[1024] = "";
    int rc = sl_cleaner_clean_now(log, c, now, force, st, err, sizeof(err));
    if (rc != 0)
        printf("\nclean: %s\n", err);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
}

static int count_files(const char *suffix)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "ls %s | grep -c -- '%s$' || true", part_dir, suffix);
    FILE *f = popen(cmd, "r");
    int n = 0;
    if (f) {
        if (fscanf(f, "%d", &n) != 1)
            n = -1;
        pclose(f);
    }
    return n;
}

/* Bytes of the active (last) segment file. */
static uint8_t *active_bytes(sl_log *log, size_t *len)
{
    char path[400];
    struct stat st;
    int64_t base = 0;
    for (int64_t o = sl_log_end_offset(log); o >= 0; o--) {
        snprintf(path, sizeof(path), "%s/%020lld.log", part_dir, (long long)o);
        if (stat(path, &st) == 0) {
            base = o;
            break;
        }
    }
    (void)base;
    uint8_t *b = malloc((size_t)st.st_size + 1);
    int fd = open(path, O_RDONLY);
    CU_ASSERT_EQUAL(read(fd, b, (size_t)st.st_size), st.st_size);
    close(fd);
    *len = (size_t)st.st_size;
    return b;
}

/* ---------------------------------------------------------------- tests */

static void test_codec_roundtrip(void)
{
    static uint8_t src[200000];
    int ids[] = {SL_CODEC_GZIP, SL_CODEC_SNAPPY, SL_CODEC_SNAPPY, SL_CODEC_LZ4, SL_CODEC_ZSTD};
    for (size_t i = 0; i < sizeof(src); i++)
        src[i] = (uint8_t)((i * 7) % 13 + (i / 1000));
    for (int c = 0; c < 5; c++) {
        char err[256];
        sl_buf z = {0}, back = {0};
        int flags = c == 2 ? SL_CODEC_F_SNAPPY_XERIAL : 0, seen = -1;
        CU_ASSERT_EQUAL(sl_codec_compress(codec, ids[c], flags, src, sizeof(src), &z, err,
                                          sizeof(err)), 0);
        CU_ASSERT(z.len < sizeof(src));
        CU_ASSERT_EQUAL(sl_codec_decompress(codec, ids[c], z.p, z.len, &back, &seen, err,
                                            sizeof(err)), 0);
        CU_ASSERT_EQUAL(seen, flags);
        CU_ASSERT_EQUAL(back.len, sizeof(src));
        CU_ASSERT(back.len == sizeof(src) && memcmp(back.p, src, sizeof(src)) == 0);
        /* damaged input is an error, not a crash */
        if (z.len > 40) {
            z.p[z.len / 2] ^= 0x5a;
            z.p[z.len / 3] ^= 0xa5;
            back.len = 0;
            sl_codec_decompress(codec, ids[c], z.p, z.len / 2, &back, &seen, err, sizeof(err));
        }
        sl_buf_free(&z);
        sl_buf_free(&back);
    }
}

/* Updates over a few keys, several segments, one pass; codec_id per test. */
static void run_basic(int codec_id)
{
    sl_cleaner_stats st;
    size_t alen0, alen1;
    fresh_dir();
    nwritten = 0;
    sl_log_config cfg = small_cfg(4096);
    sl_log *log = open_log(&cfg);
    append_updates(log, 3000, 37, 10, T0, codec_id);
    int nseg = sl_log_segment_count(log);
    CU_ASSERT(nseg > 5);
    int64_t leo = sl_log_end_offset(log);
    uint8_t *a0 = active_bytes(log, &alen0);
    sl_cleaner_config c = test_ccfg();
    clean(log, &c, T0 + 1000, 0, &st);
    CU_ASSERT_EQUAL(st.cleaned, 1);
    CU_ASSERT(st.segments_in >= nseg - 1);
    CU_ASSERT(st.records_kept < st.records_read);
    CU_ASSERT_EQUAL(sl_log_end_offset(log), leo);
    CU_ASSERT_EQUAL(sl_log_start_offset(log), 0);
    CU_ASSERT_EQUAL(count_files(".cleaned"), 0);
    CU_ASSERT_EQUAL(count_files(".swap"), 0);
    uint8_t *a1 = active_bytes(log, &alen1);
    CU_ASSERT(alen0 == alen1 && memcmp(a0, a1, alen0) == 0); /* active segment untouched */
    free(a0);
    free(a1);
    int n = read_all(log);
    check_original(n);
    check_compacted(n, st.end_offset, 37, 1);
    CU_ASSERT(n < 3000);
    /* a second pass has nothing dirty */
    clean(log, &c, T0 + 2000, 0, &st);
    CU_ASSERT_EQUAL(st.cleaned, 0);
    /* forced, it merges the now small segments (groups up to segment.bytes) */
    clean(log, &c, T0 + 2000, 1, &st);
    CU_ASSERT_EQUAL(st.cleaned, 1);
    CU_ASSERT(st.segments_out < st.segments_in);
    CU_ASSERT(sl_log_segment_count(log) < nseg);
    CU_ASSERT_EQUAL(read_all(log), n);
    check_original(n);
    check_compacted(n, st.end_offset, 37, 1);
    /* reopen: the swapped segments load, indexes and all */
    sl_log_close(log);
    log = open_log(&cfg);
    int n2 = read_all(log);
    CU_ASSERT_EQUAL(n2, n);
    check_original(n2);
    /* random reads through the rebuilt indexes land on the right batch */
    char err[256];
    for (int i = 0; i < n2; i += 7) {
        sl_log_slice sl;
        CU_ASSERT_EQUAL(sl_log_read(log, got[i].off, leo, 1, 1, &sl, err, sizeof(err)), 0);
        CU_ASSERT(sl.first_offset <= got[i].off);
        if (sl.fd >= 0)
            close(sl.fd);
    }
    sl_log_close(log);
}

static void test_uncompressed(void)
{
    run_basic(SL_CODEC_NONE);
}
static void test_gzip(void)
{
    run_basic(SL_CODEC_GZIP);
}
static void test_snappy(void)
{
    run_basic(SL_CODEC_SNAPPY);
}
static void test_snappy_xerial(void)
{
    run_basic(XERIAL);
}
static void test_lz4(void)
{
    run_basic(SL_CODEC_LZ4);
}
static void test_zstd(void)
{
    run_basic(SL_CODEC_ZSTD);
}

/* Mixed codecs in one log, batches of one record and null keys. */
static void test_mixed(void)
{
    sl_cleaner_stats st;
    fresh_dir();
    nwritten = 0;
    sl_log_config cfg = small_cfg(2048);
    sl_log *log = open_log(&cfg);
    for (int i = 0; i < 400; i++)
        append_updates(log, 3, 11, i % 2 ? 3 : 1, T0, i % 5);
    kv nullkey = {-1, 5};
    append(log, &nullkey, 1, T0, SL_CODEC_NONE);
    append_updates(log, 200, 11, 5, T0, SL_CODEC_ZSTD);
    sl_cleaner_config c = test_ccfg();
    clean(log, &c, T0, 1, &st);
    int n = read_all(log);
    check_original(n);
    for (int i = 0; i < n; i++)
        if (got[i].off < st.end_offset)
            CU_ASSERT(got[i].key[0] != 0); /* null keys are not compactable: dropped */
    int withkey = 0;
    for (int i = 0; i < n; i++)
        withkey += got[i].key[0] != 0 && got[i].off < st.end_offset;
    CU_ASSERT_EQUAL(withkey, 11);
    sl_log_close(log);
}

static void test_tombstones(void)
{
    sl_cleaner_stats st;
    kv del[5];
    fresh_dir();
    nwritten = 0;
    sl_log_config cfg = small_cfg(4096);
    sl_log *log = open_log(&cfg);
    append_updates(log, 1000, 20, 10, T0, SL_CODEC_LZ4);
    for (int i = 0; i < 5; i++)
        del[i] = (kv){i, -1}; /* delete keys 0..4 */
    append(log, del, 5, T0 + 10, SL_CODEC_NONE);
    append_updates(log, 1000, 20, 10, T0 + 20, SL_CODEC_NONE);
    /* keys 0..4 are rewritten by the second run; delete them again at the end */
    append(log, del, 5, T0 + 30, SL_CODEC_GZIP);
    append_updates(log, 600, 20, 10, T0 + 40, SL_CODEC_ZSTD); /* rolls past the tombstones */
    /* the last run rewrote keys 0..4 once more; delete them in the middle of
     * a final run of the other keys */
    kv others[15];
    for (int i = 0; i < 15; i++)
        others[i] = (kv){5 + i, 99};
    append(log, del, 5, T0 + 50, SL_CODEC_NONE);
    for (int r = 0; r < 30; r++)
        append(log, others, 15, T0 + 60, SL_CODEC_SNAPPY);
    sl_cleaner_config c = test_ccfg();
    c.delete_retention_ms = 100000;
    clean(log, &c, T0 + 1000, 0, &st);
    CU_ASSERT_EQUAL(st.cleaned, 1);
    CU_ASSERT_EQUAL(st.tombstones_dropped, 0);
    int n = read_all(log);
    check_original(n);
    check_compacted(n, st.end_offset, 20, 1);
    int tombs = 0;
    for (int i = 0; i < n; i++)
        tombs += got[i].tomb;
    CU_ASSERT_EQUAL(tombs, 5); /* kept: younger than delete.retention.ms */
    CU_ASSERT_EQUAL(sl_log_tombstones_due(log), T0 + 60 + 100000 + 1); /* segment time + dr */
    /* later: the tombstones' segments are older than delete.retention.ms */
    clean(log, &c, T0 + 50 + 100001 + 100, 1, &st);
    CU_ASSERT_EQUAL(st.cleaned, 1);
    CU_ASSERT_EQUAL(st.tombstones_dropped, 5);
    n = read_all(log);
    check_original(n);
    check_compacted(n, st.end_offset, 20, 0);
    for (int i = 0; i < n; i++)
        CU_ASSERT(!got[i].tomb);
    for (int i = 0; i < n; i++)
        CU_ASSERT(strcmp(got[i].key, "k0000") != 0 || got[i].off >= st.end_offset);
    sl_log_close(log);
}

static void test_min_compaction_lag(void)
{
    sl_cleaner_stats st;
    fresh_dir();
    nwritten = 0;
    sl_log_config cfg = small_cfg(4096);
    sl_log *log = open_log(&cfg);
    int64_t now = T0 + 100000;
    append_updates(log, 600, 10, 10, now - 50000, SL_CODEC_NONE); /* old enough */
    int64_t young_from = sl_log_end_offset(log);
    append_updates(log, 600, 10, 10, now - 1000, SL_CODEC_NONE); /* too young */
    sl_cleaner_config c = test_ccfg();
    c.min_compaction_lag_ms = 10000;
    clean(log, &c, now, 0, &st);
    CU_ASSERT_EQUAL(st.cleaned, 1);
    CU_ASSERT(st.end_offset <= young_from);
    CU_ASSERT(st.end_offset > 0);
    int n = read_all(log);
    check_original(n);
    /* every young record is still there */
    int young = 0;
    for (int i = 0; i < n; i++)
        young += got[i].off >= young_from;
    CU_ASSERT_EQUAL(young, 600);
    /* below the end, one record per key among the old ones */
    int below = 0;
    for (int i = 0; i < n; i++)
        below += got[i].off < st.end_offset;
    CU_ASSERT_EQUAL(below, 10);
    sl_log_close(log);
}

static void test_dirty_ratio(void)
{
    sl_cleaner_stats st;
    fresh_dir();
    nwritten = 0;
    sl_log_config cfg = small_cfg(4096);
    sl_log *log = open_log(&cfg);
    append_updates(log, 3000, 1000, 10, T0, SL_CODEC_NONE); /* 1000 keys: stays large */
    sl_cleaner_config c = test_ccfg();
    clean(log, &c, T0, 0, &st);
    CU_ASSERT_EQUAL(st.cleaned, 1);
    int64_t end1 = st.end_offset;
    CU_ASSERT_EQUAL(sl_log_first_dirty(log), end1);
    int nseg = sl_log_segment_count(log);
    append_updates(log, 300, 1000, 10, T0, SL_CODEC_NONE); /* a little dirt, rolled */
    CU_ASSERT(sl_log_segment_count(log) > nseg);
    clean(log, &c, T0, 0, &st);
    CU_ASSERT_EQUAL(st.cleaned, 0); /* ratio far below 0.5 */
    c.min_cleanable_ratio = 0.01;
    clean(log, &c, T0, 0, &st);
    CU_ASSERT_EQUAL(st.cleaned, 1);
    CU_ASSERT_EQUAL(st.first_dirty, end1);
    CU_ASSERT(st.end_offset > end1);
    int n = read_all(log);
    check_original(n);
    check_compacted(n, st.end_offset, 1000, 1);
    sl_log_close(log);
}

static void test_small_dedupe_buffer(void)
{
    sl_cleaner_stats st;
    fresh_dir();
    nwritten = 0;
    sl_log_config cfg = small_cfg(8192);
    sl_log *log = open_log(&cfg);
    append_updates(log, 3000, 300, 10, T0, SL_CODEC_NONE);
    sl_cleaner_config c = test_ccfg();
    c.dedupe_buffer_bytes = 24 * 200; /* 180 keys fit */
    int64_t leo = sl_log_end_offset(log);
    clean(log, &c, T0, 0, &st);
    CU_ASSERT_EQUAL(st.cleaned, 1);
    CU_ASSERT(st.end_offset > 0 && st.end_offset < 300);
    int n = read_all(log);
    check_original(n);
    check_compacted(n, st.end_offset, 300, 1);
    /* further passes move on until everything old is clean */
    for (int i = 0; i < 100 && sl_log_first_dirty(log) < leo - 500; i++)
        clean(log, &c, T0, 1, &st);
    n = read_all(log);
    check_original(n);
    check_compacted(n, sl_log_first_dirty(log), 300, 1);
    CU_ASSERT(sl_log_first_dirty(log) >= leo - 500);
    sl_log_close(log);
}

static void write_file(const char *name, const void *p, size_t n)
{
    char path[400];
    snprintf(path, sizeof(path), "%s/%s", part_dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL((size_t)write(fd, p, n), n);
    close(fd);
}

static uint8_t *read_file(const char *name, size_t *n)
{
    char path[400];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", part_dir, name);
    if (stat(path, &st) < 0)
        return NULL;
    uint8_t *b = malloc((size_t)st.st_size + 1);
    int fd = open(path, O_RDONLY);
    CU_ASSERT_EQUAL(read(fd, b, (size_t)st.st_size), st.st_size);
    close(fd);
    *n = (size_t)st.st_size;
    return b;
}

static void test_recover_cleaned(void)
{
    fresh_dir();
    nwritten = 0;
    sl_log_config cfg = small_cfg(4096);
    sl_log *log = open_log(&cfg);
    append_updates(log, 1000, 10, 10, T0, SL_CODEC_NONE);
    int n0 = read_all(log);
    sl_log_close(log);
    write_file("00000000000000000000.log.cleaned", "half a pass", 11);
    log = open_log(&cfg);
    CU_ASSERT_EQUAL(count_files(".cleaned"), 0);
    CU_ASSERT_EQUAL(read_all(log), n0);
    check_original(n0);
    sl_log_close(log);
}

/* Base of the first segment file at or after offset from, -1 when none. */
static int64_t next_base(int64_t from)
{
    char path[400];
    for (int64_t o = from; o <= nwritten; o++) {
        snprintf(path, sizeof(path), "%s/%020lld.log", part_dir, (long long)o);
        if (access(path, F_OK) == 0)
            return o;
    }
    return -1;
}

/* A crash after the commit point: <base>.log.swap next to the old files. */
static void test_recover_swap(void)
{
    sl_cleaner_stats st;
    size_t n0, n1;
    fresh_dir();
    nwritten = 0;
    sl_log_config cfg = small_cfg(4096);
    sl_log *log = open_log(&cfg);
    append_updates(log, 1500, 10, 10, T0, SL_CODEC_ZSTD);
    int nseg = sl_log_segment_count(log);
    CU_ASSERT_FATAL(nseg >= 4);
    sl_log_close(log);
    /* the swap: segment 0's batches and the first batch of segment 1 (as if
     * a group of two had been cleaned into it) */
    uint8_t *s0 = read_file("00000000000000000000.log", &n0);
    char name1[64];
    int64_t base1 = next_base(1), base2 = next_base(base1 + 1);
    CU_ASSERT_FATAL(base1 > 0 && base2 > base1);
    snprintf(name1, sizeof(name1), "%020lld.log", (long long)base1);
    uint8_t *s1 = read_file(name1, &n1);
    sl_batch_header h;
    sl_batch_header_decode(s1, n1, &h);
    size_t first1 = (size_t)sl_batch_total_size(&h);
    uint8_t *swap = malloc(n0 + first1);
    memcpy(swap, s0, n0);
    memcpy(swap + n0, s1, first1);
    write_file("00000000000000000000.log.swap", swap, n0 + first1);
    write_file("00000000000000000001.log.cleaned", "x", 1);
    log = open_log(&cfg);
    CU_ASSERT_EQUAL(count_files(".swap"), 0);
    CU_ASSERT_EQUAL(count_files(".cleaned"), 0);
    CU_ASSERT_EQUAL(sl_log_segment_count(log), nseg - 1); /* segments 0 and 1 became one */
    size_t nnew;
    uint8_t *now0 = read_file("00000000000000000000.log", &nnew);
    CU_ASSERT(nnew == n0 + first1 && memcmp(now0, swap, nnew) == 0);
    CU_ASSERT(read_file(name1, &n1) == NULL);
    /* the rest of segment 1 is gone (the swap stood for it); all else reads */
    int n = read_all(log);
    check_original(n);
    CU_ASSERT_EQUAL(n, (int)(nwritten - (base2 - base1 - (h.last_offset_delta + 1))));
    /* and the next pass leaves one record per key */
    sl_cleaner_config c = test_ccfg();
    clean(log, &c, T0, 1, &st);
    n = read_all(log);
    check_original(n);
    check_compacted(n, st.end_offset, 10, 1);
    free(s0);
    free(s1);
    free(swap);
    free(now0);
    sl_log_close(log);
}

/* Readers holding an fd of a replaced segment keep reading the old bytes. */
static void test_reader_survives_swap(void)
{
    sl_cleaner_stats st;
    char err[256];
    fresh_dir();
    nwritten = 0;
    sl_log_config cfg = small_cfg(4096);
    sl_log *log = open_log(&cfg);
    append_updates(log, 1000, 5, 10, T0, SL_CODEC_NONE);
    sl_log_slice sl;
    CU_ASSERT_EQUAL_FATAL(sl_log_read(log, 0, sl_log_end_offset(log), 1 << 20, 1, &sl, err,
                                      sizeof(err)), 0);
    uint8_t *before = malloc((size_t)sl.len);
    CU_ASSERT_EQUAL(pread(sl.fd, before, (size_t)sl.len, sl.pos), sl.len);
    sl_cleaner_config c = test_ccfg();
    clean(log, &c, T0, 0, &st);
    CU_ASSERT_EQUAL(st.cleaned, 1);
    uint8_t *after = malloc((size_t)sl.len);
    CU_ASSERT_EQUAL(pread(sl.fd, after, (size_t)sl.len, sl.pos), sl.len);
    CU_ASSERT(memcmp(before, after, (size_t)sl.len) == 0);
    close(sl.fd);
    free(before);
    free(after);
    sl_log_close(log);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    codec = sl_codec_create();
    sl_log_set_clock(fake_clock);
    CU_pSuite s = CU_add_suite("cleaner", NULL, NULL);
    CU_add_test(s, "codec round trips", test_codec_roundtrip);
    CU_add_test(s, "compact uncompressed batches", test_uncompressed);
    CU_add_test(s, "compact gzip batches", test_gzip);
    CU_add_test(s, "compact snappy batches", test_snappy);
    CU_add_test(s, "compact snappy (xerial) batches", test_snappy_xerial);
    CU_add_test(s, "compact lz4 batches", test_lz4);
    CU_add_test(s, "compact zstd batches", test_zstd);
    CU_add_test(s, "mixed codecs and null keys", test_mixed);
    CU_add_test(s, "tombstones and delete.retention.ms", test_tombstones);
    CU_add_test(s, "min.compaction.lag.ms", test_min_compaction_lag);
    CU_add_test(s, "min.cleanable.dirty.ratio", test_dirty_ratio);
    CU_add_test(s, "small dedupe buffer cleans a prefix", test_small_dedupe_buffer);
    CU_add_test(s, "recover: leftover .cleaned", test_recover_cleaned);
    CU_add_test(s, "recover: .swap completed", test_recover_swap);
    CU_add_test(s, "a reader's fd survives a swap", test_reader_survives_swap);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failures = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    sl_codec_destroy(codec);
    if (tmp_root[0])
        nftw(tmp_root, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    return failures ? 1 : 0;
}
