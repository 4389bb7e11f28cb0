/*
 * test_log.c - a partition log on a real temporary directory: append and
 * read back, index lookups, rolls by size and age, recovery of torn and
 * corrupted tails, truncation, retention by bytes and time, group commit and
 * the high watermark, offset by time, leader epochs, out-of-range reads.
 *
 * Batches are real uncompressed RecordBatch v2 encoded by a small builder
 * below; the log stamps offsets into them, so what is read back must be
 * byte-identical to the buffer after sl_log_append returned.
 */
#include <CUnit/Basic.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "batch.h"
#include "crc32c.h"
#include "log.h"

#define MAXB 65536

static char tmp_root[256];
static char part_dir[300];
static int64_t fake_now = 1000000;

static int64_t fake_clock(void)
{
    return fake_now;
}

/* ---------------------------------------------------------------- builder */

static size_t put_varint(uint8_t *p, int64_t v)
{
    return (size_t)sl_varint_encode(p, 10, v);
}

/* A batch of nrec records, each value vsize bytes of 'a'+i, all with
 * timestamp ts. Returns its size. */
static size_t build_batch(uint8_t *buf, int nrec, int64_t ts, size_t vsize)
{
    size_t n = SL_BATCH_HEADER_SIZE;
    for (int i = 0; i < nrec; i++) {
        uint8_t body[MAXB];
        size_t b = 0;
        body[b++] = 0;
        b += put_varint(body + b, 0);
        b += put_varint(body + b, i);
        b += put_varint(body + b, -1);
        b += put_varint(body + b, (int64_t)vsize);
        memset(body + b, 'a' + i % 26, vsize);
        b += vsize;
        b += put_varint(body + b, 0);
        n += put_varint(buf + n, (int64_t)b);
        memcpy(buf + n, body, b);
        n += b;
    }
    memset(buf, 0, SL_BATCH_HEADER_SIZE);
    sl_put_be32(buf + 8, (uint32_t)(n - SL_BATCH_LOG_OVERHEAD));
    sl_put_be32(buf + 12, (uint32_t)-1);
    buf[16] = 2;
    sl_put_be32(buf + 23, (uint32_t)(nrec - 1));
    sl_put_be64(buf + 27, (uint64_t)ts);
    sl_put_be64(buf + 35, (uint64_t)ts);
    sl_put_be64(buf + 43, (uint64_t)-1);
    buf[51] = buf[52] = 0xff;
    sl_put_be32(buf + 53, (uint32_t)-1);
    sl_put_be32(buf + 57, (uint32_t)nrec);
    sl_put_be32(buf + 17, sl_crc32c(0, buf + 21, n - 21));
    return n;
}

/* ---------------------------------------------------------------- helpers */

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void fresh_dir(void)
{
    static int seq;
    if (tmp_root[0])
        nftw(tmp_root, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    snprintf(tmp_root, sizeof(tmp_root), "/tmp/sluice-test-log-%d-%d", (int)getpid(), seq++);
    snprintf(part_dir, sizeof(part_dir), "%s/orders-3", tmp_root);
    fake_now = 1000000;
}

static sl_log_config small_cfg(void)
{
    sl_log_config cfg;
    sl_log_config_default(&cfg);
    cfg.retention_ms = -1;
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
    CU_ASSERT_PTR_NOT_NULL_FATAL(log);
    return log;
}

/* Everything appended is kept here in log order, stamped, for comparisons. */
typedef struct stored {
    uint8_t *bytes;
    size_t len, cap;
    int64_t base[4096];
    size_t pos[4096]; /* byte offset of batch i inside bytes */
    int n;
} stored;

static stored *stored_new(void)
{
    stored *s = calloc(1, sizeof(*s));
    s->cap = 1 << 22;
    s->bytes = malloc(s->cap);
    return s;
}

static void stored_free(stored *s)
{
    free(s->bytes);
    free(s);
}

static int64_t append(sl_log *log, stored *s, int nrec, int64_t ts, size_t vsize, int32_t epoch)
{
    static uint8_t buf[1 << 20];
    char err[512] = "";
    int64_t base = -1;
    size_t n = build_batch(buf, nrec, ts, vsize);
    int rc = sl_log_append(log, buf, n, epoch, -1, &base, err, sizeof(err));
    if (rc != 0)
        printf("\nappend: %s\n", err);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    CU_ASSERT_EQUAL(sl_be64(buf), (uint64_t)base);
    CU_ASSERT_EQUAL(sl_batch_validate(buf, n, err, sizeof(err)), 0);
    if (s) {
        CU_ASSERT_FATAL(s->len + n <= s->cap && s->n < 4096);
        memcpy(s->bytes + s->len, buf, n);
        s->base[s->n] = base;
        s->pos[s->n++] = s->len;
        s->len += n;
    }
    return base;
}

static void sync_log(sl_log *log)
{
    sl_log_syncpoint sp;
    int rc = sl_log_sync_begin(log, &sp);
    CU_ASSERT(rc >= 0);
    if (rc == 1) {
        CU_ASSERT(sp.nfds <= SL_LOG_SYNC_MAX_FDS);
        sl_log_sync_run(&sp);
        CU_ASSERT_EQUAL(sl_log_sync_end(log, &sp), 0);
    }
}

/* Read a slice's bytes into a fresh buffer. */
static uint8_t *slice_bytes(const sl_log_slice *sl)
{
    uint8_t *b = malloc(sl->len ? (size_t)sl->len : 1);
    CU_ASSERT_EQUAL(pread(sl->fd, b, (size_t)sl->len, sl->pos), sl->len);
    return b;
}

/* Read everything from offset 0 to LEO (all segments) and compare. */
static void check_all(sl_log *log, const stored *s, int nbatches)
{
    char err[512];
    int64_t off = sl_log_start_offset(log);
    size_t at = 0;
    int i = 0;
    while (i < nbatches && s->base[i] < off)
        at = s->pos[++i];
    size_t want_end = nbatches < s->n ? s->pos[nbatches] : s->len;
    while (off < sl_log_end_offset(log)) {
        sl_log_slice sl;
        int rc = sl_log_read(log, off, sl_log_end_offset(log), 1 << 30, 1, &sl, err, sizeof(err));
        CU_ASSERT_EQUAL_FATAL(rc, 0);
        CU_ASSERT_FATAL(sl.len > 0);
        CU_ASSERT_FATAL(at + (size_t)sl.len <= want_end);
        uint8_t *b = slice_bytes(&sl);
        CU_ASSERT(memcmp(b, s->bytes + at, (size_t)sl.len) == 0);
        free(b);
        close(sl.fd);
        at += (size_t)sl.len;
        while (i < nbatches && s->pos[i] < at)
            i++;
        off = i < s->n ? s->base[i] : sl_log_end_offset(log);
    }
    CU_ASSERT_EQUAL(at, want_end);
}

static int64_t file_size(const char *name)
{
    char path[512];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", part_dir, name);
    return stat(path, &st) == 0 ? (int64_t)st.st_size : -1;
}

static char *seg_name(int64_t base, const char *ext)
{
    static char names[4][64];
    static int k;
    char *n = names[k++ % 4];
    snprintf(n, 64, "%020lld%s", (long long)base, ext);
    return n;
}

static int count_files(const char *suffix)
{
    DIR *d = opendir(part_dir);
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name), sl = strlen(suffix);
        n += l > sl && strcmp(e->d_name + l - sl, suffix) == 0;
    }
    if (d)
        closedir(d);
    return n;
}

/* ---------------------------------------------------------------- tests */

static void test_open_empty(void)
{
    fresh_dir();
    sl_log_config cfg = small_cfg();
    sl_log *log = open_log(&cfg);
    char err[256];
    sl_log_slice sl;

    CU_ASSERT_EQUAL(sl_log_start_offset(log), 0);
    CU_ASSERT_EQUAL(sl_log_end_offset(log), 0);
    CU_ASSERT_EQUAL(sl_log_high_watermark(log), 0);
    CU_ASSERT_EQUAL(sl_log_segment_count(log), 1);
    CU_ASSERT_EQUAL(sl_log_size_bytes(log), 0);
    CU_ASSERT_STRING_EQUAL(sl_log_dir(log), part_dir);
    CU_ASSERT_EQUAL(file_size("00000000000000000000.log"), 0);
    CU_ASSERT_EQUAL(sl_log_read(log, 0, 0, 1000, 1, &sl, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(sl.len, 0);
    CU_ASSERT_EQUAL(sl.fd, -1);
    CU_ASSERT_EQUAL(sl_log_latest_epoch(log), -1);
    CU_ASSERT_EQUAL(sl_log_epoch_end_offset(log, 0), 0);
    CU_ASSERT_EQUAL(sl_log_offset_for_time(log, 0), -1);
    sl_log_syncpoint sp;
    CU_ASSERT_EQUAL(sl_log_sync_begin(log, &sp), 0);
    sl_log_close(log);
}

static void test_append_read_back(void)
{
    fresh_dir();
    sl_log_config cfg = small_cfg();
    sl_log *log = open_log(&cfg);
    stored *s = stored_new();

    CU_ASSERT_EQUAL(append(log, s, 3, 1000, 10, 0), 0);
    CU_ASSERT_EQUAL(append(log, s, 1, 1001, 100, 0), 3);
    CU_ASSERT_EQUAL(append(log, s, 5, 1002, 7, 0), 4);
    CU_ASSERT_EQUAL(sl_log_end_offset(log), 9);
    CU_ASSERT_EQUAL(sl_log_size_bytes(log), (int64_t)s->len);
    CU_ASSERT_EQUAL(file_size("00000000000000000000.log"), (int64_t)s->len);
    sl_batch_header h;
    sl_batch_header_decode(s->bytes + s->pos[1], s->len - s->pos[1], &h);
    CU_ASSERT_EQUAL(h.base_offset, 3);
    CU_ASSERT_EQUAL(h.partition_leader_epoch, 0);
    check_all(log, s, s->n);

    /* an offset inside a batch returns that whole batch */
    char err[256];
    sl_log_slice sl;
    CU_ASSERT_EQUAL(sl_log_read(log, 6, 9, 1 << 20, 0, &sl, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(sl.first_offset, 4);
    CU_ASSERT_EQUAL(sl.pos, (int64_t)s->pos[2]);
    CU_ASSERT_EQUAL(sl.len, (int64_t)(s->len - s->pos[2]));
    close(sl.fd);

    /* reopen: same bytes, same offsets */
    sl_log_close(log);
    log = open_log(&cfg);
    CU_ASSERT_EQUAL(sl_log_end_offset(log), 9);
    CU_ASSERT_EQUAL(sl_log_high_watermark(log), 9);
    check_all(log, s, s->n);
    CU_ASSERT_EQUAL(append(log, s, 2, 1003, 1, 0), 9);
    check_all(log, s, s->n);
    sl_log_close(log);
    stored_free(s);
}

static void test_log_append_time(void)
{
    fresh_dir();
    sl_log_config cfg = small_cfg();
    sl_log *log = open_log(&cfg);
    uint8_t buf[4096];
    char err[256];
    int64_t base;
    size_t n = build_batch(buf, 2, 5, 10);

    CU_ASSERT_EQUAL(sl_log_append(log, buf, n, 4, 1700000000000LL, &base, err, sizeof(err)), 0);
    sl_log_slice sl;
    CU_ASSERT_EQUAL(sl_log_read(log, 0, 2, 1 << 20, 0, &sl, err, sizeof(err)), 0);
    uint8_t *b = slice_bytes(&sl);
    sl_batch_header h;
    sl_batch_header_decode(b, (size_t)sl.len, &h);
    CU_ASSERT_EQUAL(h.max_timestamp, 1700000000000LL);
    CU_ASSERT(h.attributes & SL_BATCH_ATTR_LOG_APPEND_TIME);
    CU_ASSERT_EQUAL(h.partition_leader_epoch, 4);
    CU_ASSERT_EQUAL(sl_batch_validate(b, (size_t)sl.len, err, sizeof(err)), 0);
    free(b);
    close(sl.fd);
    sl_log_close(log);
}

static void test_index_lookup(void)
{
    fresh_dir();
    sl_log_config cfg = small_cfg();
    cfg.index_interval_bytes = 1024;
    sl_log *log = open_log(&cfg);
    stored *s = stored_new();
    char err[256];

    for (int i = 0; i < 3000; i++)
        append(log, s, 1 + i % 4, 1000 + i, 60 + i % 50, 0);
    int64_t idx = file_size("00000000000000000000.index");
    CU_ASSERT(idx > 0 && idx % 8 == 0);
    CU_ASSERT(idx / 8 >= (int64_t)s->len / 2048); /* sparse, but there */
    CU_ASSERT(idx / 8 <= (int64_t)s->len / 1024);
    CU_ASSERT(file_size("00000000000000000000.timeindex") % 12 == 0);
    for (int round = 0; round < 2; round++) {
        for (int i = 1; i < 3000; i += 37) {
            sl_log_slice sl;
            int64_t target = s->base[i] + (i % 4 ? 1 : 0); /* inside the batch when possible */
            if (target >= s->base[i + 1 < s->n ? i + 1 : i] && i + 1 < s->n)
                target = s->base[i];
            CU_ASSERT_EQUAL_FATAL(
                sl_log_read(log, target, sl_log_end_offset(log), 1, 1, &sl, err, sizeof(err)), 0);
            CU_ASSERT_EQUAL(sl.first_offset, s->base[i]);
            CU_ASSERT_EQUAL(sl.pos, (int64_t)s->pos[i]);
            CU_ASSERT_EQUAL(sl.len, (int64_t)((i + 1 < s->n ? s->pos[i + 1] : s->len) - s->pos[i]));
            close(sl.fd);
        }
        sl_log_close(log); /* the second round reads through rebuilt indexes */
        log = open_log(&cfg);
        CU_ASSERT_EQUAL(file_size("00000000000000000000.index"), idx);
    }
    sl_log_close(log);
    stored_free(s);
}

static void test_roll_by_size(void)
{
    fresh_dir();
    sl_log_config cfg = small_cfg();
    cfg.segment_bytes = 4096;
    cfg.index_interval_bytes = 512;
    sl_log *log = open_log(&cfg);
    stored *s = stored_new();

    for (int i = 0; i < 60; i++)
        append(log, s, 2, 1000 + i, 200, 0);
    int segs = sl_log_segment_count(log);
    CU_ASSERT(segs >= (int)(s->len / 4096));
    CU_ASSERT_EQUAL(count_files(".log"), segs);
    CU_ASSERT_EQUAL(count_files(".index"), segs);
    CU_ASSERT_EQUAL(count_files(".timeindex"), segs);
    /* each segment starts at a batch's base offset and stays under the limit */
    int64_t total = 0;
    for (int i = 0; i < s->n; i++) {
        int64_t sz = file_size(seg_name(s->base[i], ".log"));
        if (sz >= 0) {
            CU_ASSERT(sz <= 4096);
            total += sz;
        }
    }
    CU_ASSERT_EQUAL(total, (int64_t)s->len);
    check_all(log, s, s->n);

    /* a batch larger than a segment is refused, nothing appended */
    static uint8_t big[8192];
    char err[256];
    int64_t base, leo = sl_log_end_offset(log);
    size_t n = build_batch(big, 1, 1, 5000);
    CU_ASSERT_EQUAL(sl_log_append(log, big, n, 0, -1, &base, err, sizeof(err)),
                    SL_LOG_ERR_TOO_LARGE);
    CU_ASSERT_EQUAL(sl_log_end_offset(log), leo);

    /* reopen: old segments load their index files, reads still work */
    sync_log(log);
    sl_log_close(log);
    log = open_log(&cfg);
    CU_ASSERT_EQUAL(sl_log_segment_count(log), segs);
    CU_ASSERT_EQUAL(sl_log_end_offset(log), leo);
    check_all(log, s, s->n);
    sl_log_close(log);

    /* a lost index of an old segment is rebuilt */
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", part_dir, seg_name(s->base[0], ".index"));
    int64_t isz = file_size(seg_name(s->base[0], ".index"));
    CU_ASSERT_EQUAL(unlink(path), 0);
    log = open_log(&cfg);
    CU_ASSERT_EQUAL(file_size(seg_name(s->base[0], ".index")), isz);
    check_all(log, s, s->n);
    sl_log_close(log);
    stored_free(s);
}

static void test_roll_by_age(void)
{
    fresh_dir();
    sl_log_set_clock(fake_clock);
    sl_log_config cfg = small_cfg();
    cfg.roll_ms = 1000;
    sl_log *log = open_log(&cfg);
    stored *s = stored_new();

    fake_now = 50000; /* the first append starts the clock, not the open */
    append(log, s, 1, 1, 10, 0);
    fake_now += 999;
    append(log, s, 1, 1, 10, 0);
    CU_ASSERT_EQUAL(sl_log_segment_count(log), 1);
    fake_now += 1;
    append(log, s, 1, 1, 10, 0);
    CU_ASSERT_EQUAL(sl_log_segment_count(log), 2);
    CU_ASSERT(file_size("00000000000000000002.log") > 0);
    fake_now += 5000; /* an empty active segment never rolls... */
    sl_log_syncpoint sp;
    CU_ASSERT_EQUAL(sl_log_sync_begin(log, &sp), 1);
    sl_log_sync_run(&sp);
    sl_log_sync_end(log, &sp);
    append(log, s, 1, 1, 10, 0); /* ...but this one is 5 s old */
    CU_ASSERT_EQUAL(sl_log_segment_count(log), 3);
    check_all(log, s, s->n);
    sl_log_close(log);
    sl_log_set_clock(NULL);
    stored_free(s);
}

/* Append 10 batches, close, damage the tail with fn, reopen: LEO is back at
 * the last whole batch and the good data is intact. */
static void recover_case(void (*damage)(const stored *s, const char *path), int keep)
{
    fresh_dir();
    sl_log_config cfg = small_cfg();
    cfg.index_interval_bytes = 256;
    sl_log *log = open_log(&cfg);
    stored *s = stored_new();
    char path[512];

    for (int i = 0; i < 10; i++)
        append(log, s, 3, 1000 + i, 40, 0);
    sl_log_close(log);
    snprintf(path, sizeof(path), "%s/00000000000000000000.log", part_dir);
    damage(s, path);
    log = open_log(&cfg);
    CU_ASSERT_EQUAL(sl_log_end_offset(log), keep < s->n ? s->base[keep] : 30);
    CU_ASSERT_EQUAL(sl_log_high_watermark(log), sl_log_end_offset(log));
    int64_t good = keep < s->n ? (int64_t)s->pos[keep] : (int64_t)s->len;
    CU_ASSERT_EQUAL(file_size("00000000000000000000.log"), good);
    check_all(log, s, keep);
    /* appends continue right after the kept data */
    stored *t = stored_new();
    CU_ASSERT_EQUAL(append(log, t, 1, 5, 5, 0), sl_log_end_offset(log) - 1);
    sl_log_close(log);
    stored_free(t);
    stored_free(s);
}

static void chop_bytes(const stored *s, const char *path)
{
    CU_ASSERT_EQUAL(truncate(path, (off_t)s->len - 7), 0);
}

static void chop_to_short_header(const stored *s, const char *path)
{
    CU_ASSERT_EQUAL(truncate(path, (off_t)s->pos[9] + 30), 0);
}

static void append_garbage(const stored *s, const char *path)
{
    int fd = open(path, O_WRONLY | O_APPEND);
    uint8_t junk[333];
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (uint8_t)(i * 7 + 3);
    CU_ASSERT_EQUAL(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
    close(fd);
}

static void poke(const char *path, int64_t pos, const void *b, size_t n)
{
    int fd = open(path, O_WRONLY);
    CU_ASSERT_EQUAL(pwrite(fd, b, n, pos), (ssize_t)n);
    close(fd);
}

static void corrupt_last_crc(const stored *s, const char *path)
{
    poke(path, (int64_t)s->len - 3, "XYZ", 3);
}

static void absurd_length(const stored *s, const char *path)
{
    uint8_t b[4];
    sl_put_be32(b, 0x7fffffff);
    poke(path, (int64_t)s->pos[9] + 8, b, 4);
}

static void tiny_length(const stored *s, const char *path)
{
    uint8_t b[4];
    sl_put_be32(b, 20);
    poke(path, (int64_t)s->pos[9] + 8, b, 4);
}

static void bad_magic_middle(const stored *s, const char *path)
{
    poke(path, (int64_t)s->pos[6] + 16, "\x01", 1);
}

static void test_recover_chopped(void)
{
    recover_case(chop_bytes, 9);
}

static void test_recover_short_header(void)
{
    recover_case(chop_to_short_header, 9);
}

static void test_recover_garbage_tail(void)
{
    recover_case(append_garbage, 10);
}

static void test_recover_bad_crc(void)
{
    recover_case(corrupt_last_crc, 9);
}

static void test_recover_absurd_length(void)
{
    recover_case(absurd_length, 9);
    recover_case(tiny_length, 9);
}

static void test_recover_bad_magic(void)
{
    recover_case(bad_magic_middle, 6);
}

static void test_recover_stray_files(void)
{
    fresh_dir();
    sl_log_config cfg = small_cfg();
    sl_log *log = open_log(&cfg);
    stored *s = stored_new();
    char path[512];

    append(log, s, 2, 1, 10, 0);
    sl_log_close(log);
    snprintf(path, sizeof(path), "%s/00000000000000099999.index", part_dir);
    close(open(path, O_CREAT | O_WRONLY, 0644));
    snprintf(path, sizeof(path), "%s/00000000000000099999.timeindex", part_dir);
    close(open(path, O_CREAT | O_WRONLY, 0644));
    snprintf(path, sizeof(path), "%s/notes.txt", part_dir);
    close(open(path, O_CREAT | O_WRONLY, 0644));
    snprintf(path, sizeof(path), "%s/leader-epoch-checkpoint.tmp", part_dir);
    close(open(path, O_CREAT | O_WRONLY, 0644));
    log = open_log(&cfg);
    CU_ASSERT_EQUAL(file_size("00000000000000099999.index"), -1);
    CU_ASSERT_EQUAL(file_size("00000000000000099999.timeindex"), -1);
    CU_ASSERT_EQUAL(file_size("notes.txt"), 0);
    CU_ASSERT_EQUAL(file_size("leader-epoch-checkpoint.tmp"), -1);
    CU_ASSERT_EQUAL(sl_log_segment_count(log), 1);
    CU_ASSERT_EQUAL(sl_log_end_offset(log), 2);
    check_all(log, s, s->n);
    sl_log_close(log);
    stored_free(s);
}

/* Damage in an older segment's tail (after its last index entry): it is cut
 * there and every later segment goes, so offsets stay contiguous. */
static void test_recover_old_segment_tail(void)
{
    fresh_dir();
    sl_log_config cfg = small_cfg();
    cfg.segment_bytes = 2048;
    cfg.index_interval_bytes = 100000; /* no entries: the whole segment is the tail */
    sl_log *log = open_log(&cfg);
    stored *s = stored_new();
    char path[512];

    for (int i = 0; i < 20; i++)
        append(log, s, 1, 1, 300, 0);
    CU_ASSERT_FATAL(sl_log_segment_count(log) >= 3);
    sl_log_close(log);
    int k = 1; /* second batch of the first segment */
    snprintf(path, sizeof(path), "%s/%s", part_dir, seg_name(0, ".log"));
    poke(path, (int64_t)s->pos[k] + 100, "garbage", 7);
    log = open_log(&cfg);
    CU_ASSERT_EQUAL(sl_log_segment_count(log), 1);
    CU_ASSERT_EQUAL(sl_log_end_offset(log), s->base[k]);
    check_all(log, s, k);
    sl_log_close(log);
    stored_free(s);
}

static void test_truncate_last_segment(void)
{
    fresh_dir();
    sl_log_config cfg = small_cfg();
    cfg.index_interval_bytes = 200;
    sl_log *log = open_log(&cfg);
    stored *s = stored_new();
    char err[256];

    for (int i = 0; i < 10; i++)
        append(log, s, 3, 1000 + i, 50, i < 5 ? 1 : 2); /* batch i holds 3i..3i+2 */
    sync_log(log);
    CU_ASSERT_EQUAL(sl_log_high_watermark(log), 30);
    CU_ASSERT_EQUAL(sl_log_epoch_end_offset(log, 1), 15);
    CU_ASSERT_EQUAL(sl_log_truncate(log, 30, err, sizeof(err)), 0); /* nothing to do */
    CU_ASSERT_EQUAL(sl_log_end_offset(log), 30);
    CU_ASSERT_EQUAL(sl_log_truncate(log, 14, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(sl_log_end_offset(log), 12);
    CU_ASSERT_EQUAL(sl_log_high_watermark(log), 12);
    CU_ASSERT_EQUAL(sl_log_latest_epoch(log), 1);
    CU_ASSERT_EQUAL(file_size("00000000000000000000.log"), (int64_t)s->pos[4]);
    check_all(log, s, 4);
    CU_ASSERT_EQUAL(sl_log_offset_for_time(log, 1004), -1);
    CU_ASSERT_EQUAL(sl_log_offset_for_time(log, 1003), 9);

    /* new data after the cut, then a reopen sees the same */
    s->n = 4;
    s->len = s->pos[4];
    CU_ASSERT_EQUAL(append(log, s, 2, 2000, 9, 3), 12);
    CU_ASSERT_EQUAL(sl_log_latest_epoch(log), 3);
    CU_ASSERT_EQUAL(sl_log_epoch_end_offset(log, 1), 12);
    sl_log_close(log);
    log = open_log(&cfg);
    CU_ASSERT_EQUAL(sl_log_end_offset(log), 14);
    CU_ASSERT_EQUAL(sl_log_latest_epoch(log), 3);
    check_all(log, s, s->n);
    sl_log_close(log);
    stored_free(s);
}

static void test_truncate_across_segments(void)
{
    fresh_dir();
    sl_log_config cfg = small_cfg();
    cfg.segment_bytes = 1024;
    cfg.index_interval_bytes = 128;
    sl_log *log = open_log(&cfg);
    stored *s = stored_new();
    char err[256];

    for (int i = 0; i < 40; i++)
        append(log, s, 2, 1000 + i, 40, i / 10); /* epochs 0..3 start at 0,20,40,60 */
    int segs = sl_log_segment_count(log);
    CU_ASSERT_FATAL(segs >= 4);
    CU_ASSERT_EQUAL(sl_log_latest_epoch(log), 3);
    CU_ASSERT_EQUAL(sl_log_truncate(log, 23, err, sizeof(err)), 0); /* batch 11 = 22..23 */
    CU_ASSERT_EQUAL(sl_log_end_offset(log), 22);
    CU_ASSERT(sl_log_segment_count(log) < segs);
    CU_ASSERT_EQUAL(count_files(".log"), sl_log_segment_count(log));
    CU_ASSERT_EQUAL(count_files(".index"), sl_log_segment_count(log));
    CU_ASSERT_EQUAL(sl_log_latest_epoch(log), 1);
    CU_ASSERT_EQUAL(sl_log_epoch_end_offset(log, 0), 20);
    CU_ASSERT_EQUAL(sl_log_epoch_end_offset(log, 1), 22);
    check_all(log, s, 11);
    s->n = 11;
    s->len = s->pos[11];
    append(log, s, 1, 5000, 3, 1);
    check_all(log, s, s->n);

    /* everything, down to before the first batch */
    CU_ASSERT_EQUAL(sl_log_truncate(log, 0, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(sl_log_end_offset(log), 0);
    CU_ASSERT_EQUAL(sl_log_segment_count(log), 1);
    CU_ASSERT_EQUAL(sl_log_size_bytes(log), 0);
    CU_ASSERT_EQUAL(sl_log_latest_epoch(log), -1);
    CU_ASSERT_EQUAL(append(log, NULL, 1, 1, 1, 5), 0);
    sl_log_close(log);
    log = open_log(&cfg);
    CU_ASSERT_EQUAL(sl_log_end_offset(log), 1);
    CU_ASSERT_EQUAL(sl_log_latest_epoch(log), 5);
    sl_log_close(log);
    stored_free(s);
}

static void test_retention_bytes(void)
{
    fresh_dir();
    sl_log_config cfg = small_cfg();
    cfg.segment_bytes = 1024;
    sl_log *log = open_log(&cfg);
    stored *s = stored_new();
    char err[256];

    for (int i = 0; i < 30; i++)
        append(log, s, 1, 1000 + i, 200, i / 10);
    int segs = sl_log_segment_count(log);
    CU_ASSERT_FATAL(segs >= 6);
    /* nothing goes while HW is 0 */
    cfg.retention_bytes = 0;
    sl_log_set_config(log, &cfg);
    CU_ASSERT_EQUAL(sl_log_retain(log, 0, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(sl_log_segment_count(log), segs);
    sync_log(log);

    cfg.retention_bytes = 2500;
    sl_log_set_config(log, &cfg);
    int64_t before = sl_log_size_bytes(log);
    int n = sl_log_retain(log, 0, err, sizeof(err));
    CU_ASSERT(n > 0);
    CU_ASSERT_EQUAL(sl_log_segment_count(log), segs - n);
    CU_ASSERT(sl_log_size_bytes(log) >= 2500);
    CU_ASSERT(sl_log_size_bytes(log) < before);
    CU_ASSERT_EQUAL(count_files(".log"), segs - n);
    CU_ASSERT_EQUAL(count_files(".timeindex"), segs - n);
    int64_t start = sl_log_start_offset(log);
    CU_ASSERT(start > 0);
    CU_ASSERT(file_size(seg_name(start, ".log")) > 0);
    CU_ASSERT_EQUAL(file_size(seg_name(0, ".log")), -1);
    check_all(log, s, s->n);
    sl_log_slice sl;
    CU_ASSERT_EQUAL(sl_log_read(log, start - 1, 30, 100, 1, &sl, err, sizeof(err)),
                    SL_LOG_ERR_OFFSET_OUT_OF_RANGE);
    CU_ASSERT_EQUAL(sl_log_retain(log, 0, err, sizeof(err)), 0); /* idempotent */

    /* the active segment always stays; nothing at or after the HW goes */
    append(log, s, 1, 1, 200, 2);
    append(log, s, 1, 1, 200, 2);
    append(log, s, 1, 1, 200, 2);
    append(log, s, 1, 1, 200, 2);
    int64_t hw = sl_log_high_watermark(log);
    cfg.retention_bytes = 0;
    sl_log_set_config(log, &cfg);
    sl_log_retain(log, 0, err, sizeof(err));
    CU_ASSERT(sl_log_segment_count(log) >= 1);
    CU_ASSERT(sl_log_start_offset(log) <= hw);
    check_all(log, s, s->n);
    sync_log(log);
    sl_log_retain(log, 0, err, sizeof(err));
    CU_ASSERT_EQUAL(sl_log_segment_count(log), 1);
    CU_ASSERT_EQUAL(count_files(".log"), 1);
    /* epochs before the new start collapse onto it */
    CU_ASSERT_EQUAL(sl_log_latest_epoch(log), 2);
    CU_ASSERT(sl_log_epoch_end_offset(log, 1) <= sl_log_start_offset(log));

    sl_log_close(log);
    log = open_log(&cfg); /* the start offset survives a reopen */
    CU_ASSERT_EQUAL(sl_log_segment_count(log), 1);
    CU_ASSERT_EQUAL(sl_log_end_offset(log), 34);
    check_all(log, s, s->n);
    sl_log_close(log);
    stored_free(s);
}

static void test_retention_time(void)
{
    fresh_dir();
    sl_log_config cfg = small_cfg();
    cfg.segment_bytes = 1024;
    sl_log *log = open_log(&cfg);
    stored *s = stored_new();
    char err[256];

    for (int i = 0; i < 20; i++) /* timestamps 10000, 11000, ... */
        append(log, s, 1, 10000 + 1000 * i, 200, 0);
    sync_log(log);
    int segs = sl_log_segment_count(log);
    CU_ASSERT_EQUAL(sl_log_retain(log, 1000000000, err, sizeof(err)), 0); /* forever */
    cfg.retention_ms = 5000;
    sl_log_set_config(log, &cfg);
    CU_ASSERT_EQUAL(sl_log_retain(log, 10000 + 5000, err, sizeof(err)), 0);
    /* at now = 21000 every segment whose newest batch is older than 16000 */
    int n = sl_log_retain(log, 21000, err, sizeof(err));
    CU_ASSERT(n > 0);
    CU_ASSERT_EQUAL(sl_log_segment_count(log), segs - n);
    int64_t start = sl_log_start_offset(log);
    CU_ASSERT(start <= 6); /* batch 6 has ts 16000: it stays */
    CU_ASSERT(start >= 3);
    CU_ASSERT_EQUAL(sl_log_offset_for_time(log, 0), start);
    check_all(log, s, s->n);
    /* far future: all but the active segment */
    n = sl_log_retain(log, 1000000000, err, sizeof(err));
    CU_ASSERT_EQUAL(sl_log_segment_count(log), 1);
    CU_ASSERT(sl_log_end_offset(log) == 20);
    CU_ASSERT_EQUAL(count_files(".log"), 1);
    sl_log_close(log);
    stored_free(s);
}

static void *flusher(void *arg)
{
    sl_log_sync_run(arg);
    return NULL;
}

static void test_group_commit(void)
{
    fresh_dir();
    sl_log_config cfg = small_cfg();
    sl_log *log = open_log(&cfg);
    stored *s = stored_new();
    char err[256];
    sl_log_syncpoint sp;
    sl_log_slice sl;

    append(log, s, 2, 1, 10, 0);
    append(log, s, 2, 1, 10, 0);
    CU_ASSERT_EQUAL(sl_log_high_watermark(log), 0);
    /* consumers see nothing past the HW */
    CU_ASSERT_EQUAL(
        sl_log_read(log, 0, sl_log_high_watermark(log), 1 << 20, 1, &sl, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(sl.len, 0);

    CU_ASSERT_EQUAL_FATAL(sl_log_sync_begin(log, &sp), 1);
    CU_ASSERT_EQUAL(sp.end_offset, 4);
    CU_ASSERT(sp.nfds >= 1);
    append(log, s, 2, 1, 10, 0); /* appended while the flusher runs */
    pthread_t t;
    pthread_create(&t, NULL, flusher, &sp);
    pthread_join(t, NULL);
    CU_ASSERT_EQUAL(sp.result, 0);
    CU_ASSERT_EQUAL(sl_log_sync_end(log, &sp), 0);
    CU_ASSERT_EQUAL(sl_log_high_watermark(log), 4);
    CU_ASSERT_EQUAL(
        sl_log_read(log, 0, sl_log_high_watermark(log), 1 << 20, 1, &sl, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(sl.len, (int64_t)s->pos[2]);
    close(sl.fd);
    CU_ASSERT_EQUAL(sl_log_read(log, 4, 4, 1 << 20, 1, &sl, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(sl.len, 0);

    /* a truncation between begin and end keeps the HW where it was */
    CU_ASSERT_EQUAL_FATAL(sl_log_sync_begin(log, &sp), 1);
    CU_ASSERT_EQUAL(sp.end_offset, 6);
    CU_ASSERT_EQUAL(sl_log_truncate(log, 5, err, sizeof(err)), 0);
    append(log, NULL, 2, 1, 10, 0);
    sl_log_sync_run(&sp);
    CU_ASSERT_EQUAL(sl_log_sync_end(log, &sp), 0);
    CU_ASSERT_EQUAL(sl_log_high_watermark(log), 4);
    sync_log(log);
    CU_ASSERT_EQUAL(sl_log_high_watermark(log), 6);
    CU_ASSERT_EQUAL(sl_log_sync_begin(log, &sp), 0); /* durable up to LEO */

    /* set_high_watermark is bounded by LEO */
    sl_log_set_high_watermark(log, 1000);
    CU_ASSERT_EQUAL(sl_log_high_watermark(log), 6);
    sl_log_close(log);
    stored_free(s);
}

/* Rolls hand the old segment's fds to the next syncpoint; many rolls
 * between two syncs never overflow it. */
static void test_sync_across_rolls(void)
{
    fresh_dir();
    sl_log_config cfg = small_cfg();
    cfg.segment_bytes = 600;
    cfg.index_interval_bytes = 100;
    sl_log *log = open_log(&cfg);
    sl_log_syncpoint sp;

    append(log, NULL, 1, 1, 300, 0);
    append(log, NULL, 1, 1, 300, 0); /* rolls */
    CU_ASSERT_EQUAL(sl_log_segment_count(log), 2);
    CU_ASSERT_EQUAL_FATAL(sl_log_sync_begin(log, &sp), 1);
    CU_ASSERT(sp.nfds >= 3); /* old .log, directory, active .log */
    sl_log_sync_run(&sp);
    sl_log_sync_end(log, &sp);
    CU_ASSERT_EQUAL(sl_log_high_watermark(log), 2);
    for (int i = 0; i < 25; i++)
        append(log, NULL, 1, 1, 300, 0);
    CU_ASSERT(sl_log_segment_count(log) >= 20);
    CU_ASSERT_EQUAL_FATAL(sl_log_sync_begin(log, &sp), 1);
    CU_ASSERT(sp.nfds <= SL_LOG_SYNC_MAX_FDS);
    sl_log_sync_run(&sp);
    CU_ASSERT_EQUAL(sl_log_sync_end(log, &sp), 0);
    CU_ASSERT_EQUAL(sl_log_high_watermark(log), 27);
    sl_log_close(log);
}

static void test_offset_for_time(void)
{
    fresh_dir();
    sl_log_config cfg = small_cfg();
    cfg.segment_bytes = 4096;
    cfg.index_interval_bytes = 256;
    sl_log *log = open_log(&cfg);
    stored *s = stored_new();

    for (int i = 0; i < 100; i++) /* batch i: offsets 2i, 2i+1; ts 1000 * (i + 1) */
        append(log, s, 2, 1000 * (i + 1), 50, 0);
    CU_ASSERT(sl_log_segment_count(log) > 2);
    CU_ASSERT_EQUAL(sl_log_offset_for_time(log, 0), 0);
    CU_ASSERT_EQUAL(sl_log_offset_for_time(log, 1000), 0);
    CU_ASSERT_EQUAL(sl_log_offset_for_time(log, 1001), 2);
    CU_ASSERT_EQUAL(sl_log_offset_for_time(log, 2500), 4);
    CU_ASSERT_EQUAL(sl_log_offset_for_time(log, 57000), 112);
    CU_ASSERT_EQUAL(sl_log_offset_for_time(log, 56999), 112);
    CU_ASSERT_EQUAL(sl_log_offset_for_time(log, 100000), 198);
    CU_ASSERT_EQUAL(sl_log_offset_for_time(log, 100001), -1);
    sl_log_close(log);
    log = open_log(&cfg); /* through loaded time indexes */
    for (int i = 0; i < 100; i += 7)
        CU_ASSERT_EQUAL(sl_log_offset_for_time(log, 1000 * (i + 1) - 500), 2 * i);
    sl_log_close(log);
    stored_free(s);
}

static void test_epoch_checkpoint(void)
{
    fresh_dir();
    sl_log_config cfg = small_cfg();
    sl_log *log = open_log(&cfg);

    append(log, NULL, 2, 1, 1, 0);
    append(log, NULL, 2, 1, 1, 0);
    append(log, NULL, 3, 1, 1, 1); /* epoch 1 at 4 */
    append(log, NULL, 1, 1, 1, 3); /* epoch 3 at 7 */
    append(log, NULL, 1, 1, 1, 2); /* lower epoch: not recorded */
    CU_ASSERT_EQUAL(sl_log_latest_epoch(log), 3);
    CU_ASSERT_EQUAL(sl_log_epoch_end_offset(log, 0), 4);
    CU_ASSERT_EQUAL(sl_log_epoch_end_offset(log, 1), 7);
    CU_ASSERT_EQUAL(sl_log_epoch_end_offset(log, 2), 7);
    CU_ASSERT_EQUAL(sl_log_epoch_end_offset(log, 3), 9);
    sl_log_close(log);

    char path[512], text[256] = "";
    snprintf(path, sizeof(path), "%s/leader-epoch-checkpoint", part_dir);
    FILE *f = fopen(path, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    text[n] = '\0';
    fclose(f);
    CU_ASSERT_STRING_EQUAL(text, "0\n3\n0 0\n1 4\n3 7\n");

    log = open_log(&cfg);
    CU_ASSERT_EQUAL(sl_log_latest_epoch(log), 3);
    CU_ASSERT_EQUAL(sl_log_epoch_end_offset(log, 1), 7);
    sl_log_close(log);

    /* a malformed file is an error that names it */
    f = fopen(path, "w");
    fputs("0\n2\n0 0\nbanana\n", f);
    fclose(f);
    char err[512] = "";
    sl_log *bad = NULL;
    CU_ASSERT(sl_log_open(part_dir, &cfg, &bad, err, sizeof(err)) < 0);
    CU_ASSERT_PTR_NULL(bad);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "orders-3/leader-epoch-checkpoint"));
}

static void test_read_limits(void)
{
    fresh_dir();
    sl_log_config cfg = small_cfg();
    sl_log *log = open_log(&cfg);
    stored *s = stored_new();
    char err[256];
    sl_log_slice sl;

    for (int i = 0; i < 5; i++)
        append(log, s, 2, 1, 100, 0);
    int64_t b0 = (int64_t)s->pos[1];
    CU_ASSERT_EQUAL(sl_log_read(log, 11, 10, 1000, 1, &sl, err, sizeof(err)),
                    SL_LOG_ERR_OFFSET_OUT_OF_RANGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "orders-3"));
    CU_ASSERT_EQUAL(sl_log_read(log, -1, 10, 1000, 1, &sl, err, sizeof(err)),
                    SL_LOG_ERR_OFFSET_OUT_OF_RANGE);
    CU_ASSERT_EQUAL(sl_log_read(log, 10, 10, 1000, 1, &sl, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(sl.len, 0);
    CU_ASSERT_EQUAL(sl.fd, -1);
    /* max_bytes too small: empty, unless min_one */
    CU_ASSERT_EQUAL(sl_log_read(log, 0, 10, b0 - 1, 0, &sl, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(sl.len, 0);
    CU_ASSERT_EQUAL(sl_log_read(log, 0, 10, 1, 1, &sl, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(sl.len, b0);
    close(sl.fd);
    /* whole batches only */
    CU_ASSERT_EQUAL(sl_log_read(log, 0, 10, 2 * b0 + b0 / 2, 0, &sl, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(sl.len, 2 * b0);
    close(sl.fd);
    /* max_offset in the middle of a batch stops before it */
    CU_ASSERT_EQUAL(sl_log_read(log, 2, 5, 1 << 20, 1, &sl, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(sl.first_offset, 2);
    CU_ASSERT_EQUAL(sl.len, b0);
    close(sl.fd);
    sl_log_close(log);
    stored_free(s);
}

static void test_destroy_files(void)
{
    fresh_dir();
    sl_log_config cfg = small_cfg();
    cfg.segment_bytes = 1024;
    sl_log *log = open_log(&cfg);
    char err[256];
    for (int i = 0; i < 10; i++)
        append(log, NULL, 1, 1, 300, 1);
    CU_ASSERT_EQUAL(sl_log_destroy_files(log, err, sizeof(err)), 0);
    struct stat st;
    CU_ASSERT_EQUAL(stat(part_dir, &st), -1);
    sl_log_close(NULL);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("log", NULL, NULL);
    CU_add_test(s, "open an empty directory", test_open_empty);
    CU_add_test(s, "append and read back byte-identical", test_append_read_back);
    CU_add_test(s, "LogAppendTime stamping", test_log_append_time);
    CU_add_test(s, "index lookup in a large segment", test_index_lookup);
    CU_add_test(s, "roll by size, too-large batch, index reload", test_roll_by_size);
    CU_add_test(s, "roll by age", test_roll_by_age);
    CU_add_test(s, "recover: chopped tail", test_recover_chopped);
    CU_add_test(s, "recover: tail shorter than a header", test_recover_short_header);
    CU_add_test(s, "recover: garbage after the last batch", test_recover_garbage_tail);
    CU_add_test(s, "recover: bad CRC in the last batch", test_recover_bad_crc);
    CU_add_test(s, "recover: absurd batchLength", test_recover_absurd_length);
    CU_add_test(s, "recover: bad magic mid-segment", test_recover_bad_magic);
    CU_add_test(s, "recover: stray files", test_recover_stray_files);
    CU_add_test(s, "recover: damaged older segment", test_recover_old_segment_tail);
    CU_add_test(s, "truncate inside the last segment", test_truncate_last_segment);
    CU_add_test(s, "truncate across segments", test_truncate_across_segments);
    CU_add_test(s, "retention by bytes", test_retention_bytes);
    CU_add_test(s, "retention by time", test_retention_time);
    CU_add_test(s, "group commit and the high watermark", test_group_commit);
    CU_add_test(s, "syncpoints across rolls", test_sync_across_rolls);
    CU_add_test(s, "offset for time", test_offset_for_time);
    CU_add_test(s, "leader-epoch-checkpoint", test_epoch_checkpoint);
    CU_add_test(s, "read limits and out of range", test_read_limits);
    CU_add_test(s, "destroy files", test_destroy_files);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failures = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    if (tmp_root[0])
        nftw(tmp_root, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    return failures ? 1 : 0;
}
