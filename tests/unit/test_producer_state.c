/*
 * test_producer_state.c - the idempotent producer table (producer_state.c)
 * and the producer id allocator (producer_id.c).
 *
 * The rules are driven through headers built in memory (a batch is its
 * producer id, epoch, baseSequence and lastOffsetDelta as far as the table
 * cares): duplicates of each of the last 5 batches answer their original
 * offsets, the 6th-oldest is forgotten, gaps, epoch bumps, stale epochs,
 * unknown producers and the wrap of sequence numbers past INT32_MAX. The
 * rebuild test appends real RecordBatch v2 bytes to a real log in a
 * temporary directory, reopens it and checks that a table rebuilt from the
 * log answers every probe exactly as the table that saw the appends did.
 */
#include <CUnit/Basic.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batch.h"
#include "crc32c.h"
#include "log.h"
#include "producer_state.h"

static char tmp_root[256];

/* ---------------------------------------------------------------- helpers */

static sl_batch_header hdr(int64_t pid, int16_t epoch, int32_t seq, int32_t nrec)
{
    sl_batch_header h;
    memset(&h, 0, sizeof(h));
    h.magic = 2;
    h.producer_id = pid;
    h.producer_epoch = epoch;
    h.base_sequence = seq;
    h.last_offset_delta = nrec - 1;
    h.record_count = nrec;
    return h;
}

/* check, expecting error code want; returns the duplicate's base (or -1). */
static int64_t check(sl_pstate *ps, sl_batch_header h, int16_t want)
{
    sl_pstate_dup dup;
    char msg[256] = "";
    int16_t err = sl_pstate_check(ps, &h, &dup, msg, sizeof(msg));
    CU_ASSERT_EQUAL(err, want);
    if (err != want)
        fprintf(stderr, "\n  pid %lld epoch %d seq %d: got %d want %d (%s)\n",
                (long long)h.producer_id, h.producer_epoch, h.base_sequence, err, want, msg);
    if (err)
        CU_ASSERT(msg[0] != 0);
    return err || !dup.found ? -1 : dup.base_offset;
}

/* check (must be new) then record at *next, advancing it. */
static int64_t append(sl_pstate *ps, sl_batch_header h, int64_t *next)
{
    CU_ASSERT_EQUAL(check(ps, h, 0), -1);
    int64_t base = *next;
    CU_ASSERT_EQUAL(sl_pstate_record(ps, &h, base), 0);
    *next += h.last_offset_delta + 1;
    return base;
}

/* ---------------------------------------------------------------- rules */

static void test_last_seq(void)
{
    CU_ASSERT_EQUAL(sl_pstate_last_seq(0, 0), 0);
    CU_ASSERT_EQUAL(sl_pstate_last_seq(10, 4), 14);
    CU_ASSERT_EQUAL(sl_pstate_last_seq(INT32_MAX, 0), INT32_MAX);
    CU_ASSERT_EQUAL(sl_pstate_last_seq(INT32_MAX, 1), 0);
    CU_ASSERT_EQUAL(sl_pstate_last_seq(INT32_MAX - 2, 4), 1);
}

static void test_duplicates_last_five(void)
{
    sl_pstate *ps;
    int64_t next = 100, bases[8];
    CU_ASSERT_FATAL(sl_pstate_create(&ps) == 0);
    for (int i = 0; i < 8; i++) /* 8 batches of 3 records: seqs 0-2, 3-5, ... */
        bases[i] = append(ps, hdr(7, 0, i * 3, 3), &next);
    /* the last 5 (i = 3..7) are duplicates, answered with their offsets */
    for (int i = 3; i < 8; i++)
        CU_ASSERT_EQUAL(check(ps, hdr(7, 0, i * 3, 3), 0), bases[i]);
    /* the 6th-oldest and older are forgotten: out of order, not duplicates */
    for (int i = 0; i < 3; i++)
        check(ps, hdr(7, 0, i * 3, 3), KERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    /* same first sequence but another last one is no duplicate */
    check(ps, hdr(7, 0, 21, 2), KERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    /* a duplicate does not change the state: the next batch still follows 23 */
    CU_ASSERT_EQUAL(append(ps, hdr(7, 0, 24, 1), &next), 124);
    CU_ASSERT_EQUAL(sl_pstate_count(ps), 1);
    sl_pstate_destroy(ps);
}

static void test_gaps(void)
{
    sl_pstate *ps;
    int64_t next = 0;
    CU_ASSERT_FATAL(sl_pstate_create(&ps) == 0);
    append(ps, hdr(1, 0, 0, 5), &next);
    check(ps, hdr(1, 0, 6, 1), KERR_OUT_OF_ORDER_SEQUENCE_NUMBER); /* gap of one */
    check(ps, hdr(1, 0, 100, 1), KERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    check(ps, hdr(1, 0, 4, 2), KERR_OUT_OF_ORDER_SEQUENCE_NUMBER); /* overlap */
    check(ps, hdr(1, 0, -1, 1), KERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    append(ps, hdr(1, 0, 5, 1), &next); /* in order */
    /* another producer on the same partition is independent */
    append(ps, hdr(2, 0, 0, 1), &next);
    check(ps, hdr(2, 0, 2, 1), KERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    append(ps, hdr(1, 0, 6, 1), &next);
    CU_ASSERT_EQUAL(sl_pstate_count(ps), 2);
    sl_pstate_destroy(ps);
}

static void test_unknown_producer(void)
{
    sl_pstate *ps;
    int64_t next = 0;
    CU_ASSERT_FATAL(sl_pstate_create(&ps) == 0);
    /* KIP-360: an unknown producer is accepted at any sequence */
    check(ps, hdr(9, 0, 5, 1), 0);
    check(ps, hdr(9, 3, 1, 1), 0);
    append(ps, hdr(9, 3, 0, 2), &next); /* any epoch may start at 0 */
    /* batches without a producer id pass and are not recorded */
    check(ps, hdr(-1, -1, -1, 10), 0);
    CU_ASSERT_EQUAL(sl_pstate_record(ps, &(sl_batch_header){.producer_id = -1}, 50), 0);
    CU_ASSERT_EQUAL(sl_pstate_count(ps), 1);
    sl_pstate_destroy(ps);
}

static void test_epochs(void)
{
    sl_pstate *ps;
    int64_t next = 0;
    CU_ASSERT_FATAL(sl_pstate_create(&ps) == 0);
    int64_t old = append(ps, hdr(4, 2, 0, 3), &next);
    append(ps, hdr(4, 2, 3, 3), &next);
    /* stale epoch: refused, whatever the sequence */
    check(ps, hdr(4, 1, 6, 1), KERR_INVALID_PRODUCER_EPOCH);
    check(ps, hdr(4, 1, 0, 3), KERR_INVALID_PRODUCER_EPOCH);
    /* a newer epoch must start at 0 (Kafka: OutOfOrderSequence) */
    check(ps, hdr(4, 3, 6, 1), KERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    /* ... and is no duplicate of the old epoch's batch with the same seqs */
    CU_ASSERT_EQUAL(check(ps, hdr(4, 3, 0, 3), 0), -1);
    CU_ASSERT_EQUAL(check(ps, hdr(4, 2, 0, 3), 0), old);
    int64_t bumped = append(ps, hdr(4, 3, 0, 3), &next);
    /* the old epoch is now stale, its batches forgotten */
    check(ps, hdr(4, 2, 0, 3), KERR_INVALID_PRODUCER_EPOCH);
    check(ps, hdr(4, 2, 6, 1), KERR_INVALID_PRODUCER_EPOCH);
    CU_ASSERT_EQUAL(check(ps, hdr(4, 3, 0, 3), 0), bumped);
    append(ps, hdr(4, 3, 3, 1), &next);
    /* negative epochs compare as int16 (none in practice, but no crash) */
    check(ps, hdr(4, -5, 4, 1), KERR_INVALID_PRODUCER_EPOCH);
    sl_pstate_destroy(ps);
}

static void test_sequence_wrap(void)
{
    sl_pstate *ps;
    int64_t next = 0;
    CU_ASSERT_FATAL(sl_pstate_create(&ps) == 0);
    /* pid 5 reaches INT32_MAX exactly, then must go on at 0 */
    append(ps, hdr(5, 0, 0, 1), &next);
    CU_ASSERT_EQUAL(
        sl_pstate_record(
            ps, &(sl_batch_header){.producer_id = 5, .producer_epoch = 1, .base_sequence = 0},
            next++),
        0);
    /* epoch 1 from 0 .. INT32_MAX - 10 by a jump we record directly */
    sl_batch_header big = hdr(5, 1, 1, 1);
    big.base_sequence = 1;
    big.last_offset_delta = INT32_MAX - 11; /* last seq INT32_MAX - 10 */
    CU_ASSERT_EQUAL(check(ps, big, 0), -1);
    CU_ASSERT_EQUAL(sl_pstate_record(ps, &big, next), 0);
    next += (int64_t)big.last_offset_delta + 1;
    append(ps, hdr(5, 1, INT32_MAX - 9, 10), &next); /* ends at INT32_MAX */
    check(ps, hdr(5, 1, INT32_MAX, 1), KERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    check(ps, hdr(5, 1, 1, 1), KERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    int64_t w = append(ps, hdr(5, 1, 0, 2), &next); /* wrapped: 0..1 */
    append(ps, hdr(5, 1, 2, 1), &next);
    CU_ASSERT_EQUAL(check(ps, hdr(5, 1, 0, 2), 0), w);
    /* pid 6: one batch straddles the wrap, INT32_MAX-2 .. 1 (5 records) */
    next = 1000;
    sl_batch_header s = hdr(6, 0, 0, 1);
    CU_ASSERT_EQUAL(sl_pstate_record(ps, &s, next++), 0);
    s.base_sequence = 1;
    s.last_offset_delta = INT32_MAX - 4; /* last seq INT32_MAX - 3 */
    CU_ASSERT_EQUAL(sl_pstate_record(ps, &s, next), 0);
    next += (int64_t)s.last_offset_delta + 1;
    int64_t straddle = append(ps, hdr(6, 0, INT32_MAX - 2, 5), &next);
    CU_ASSERT_EQUAL(check(ps, hdr(6, 0, INT32_MAX - 2, 5), 0), straddle);
    check(ps, hdr(6, 0, 0, 3), KERR_OUT_OF_ORDER_SEQUENCE_NUMBER); /* (0,0) would be a dup */
    append(ps, hdr(6, 0, 2, 1), &next);
    sl_pstate_destroy(ps);
}

static void test_many_producers(void)
{
    sl_pstate *ps;
    int64_t next = 0;
    CU_ASSERT_FATAL(sl_pstate_create(&ps) == 0);
    for (int64_t pid = 0; pid < 5000; pid++)
        append(ps, hdr(pid * 1000003, 0, 0, 1), &next);
    CU_ASSERT_EQUAL(sl_pstate_count(ps), 5000);
    for (int64_t pid = 0; pid < 5000; pid++) {
        CU_ASSERT_EQUAL(check(ps, hdr(pid * 1000003, 0, 0, 1), 0), pid);
        check(ps, hdr(pid * 1000003, 0, 2, 1), KERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    }
    sl_pstate_destroy(ps);
    sl_pstate_destroy(NULL);
}

/* ---------------------------------------------------------------- rebuild */

/* A real batch: nrec small records, with producer fields. Returns its size. */
static size_t build_batch(uint8_t *buf, int64_t pid, int16_t epoch, int32_t seq, int nrec)
{
    size_t n = SL_BATCH_HEADER_SIZE;
    for (int i = 0; i < nrec; i++) {
        uint8_t body[64];
        size_t b = 0;
        body[b++] = 0;                                   /* attributes */
        b += (size_t)sl_varint_encode(body + b, 10, 0);  /* timestampDelta */
        b += (size_t)sl_varint_encode(body + b, 10, i);  /* offsetDelta */
        b += (size_t)sl_varint_encode(body + b, 10, -1); /* key null */
        b += (size_t)sl_varint_encode(body + b, 10, 1);  /* value */
        body[b++] = (uint8_t)('a' + i % 26);
        b += (size_t)sl_varint_encode(body + b, 10, 0); /* headers */
        n += (size_t)sl_varint_encode(buf + n, 10, (int64_t)b);
        memcpy(buf + n, body, b);
        n += b;
    }
    memset(buf, 0, SL_BATCH_HEADER_SIZE);
    sl_put_be32(buf + 8, (uint32_t)(n - SL_BATCH_LOG_OVERHEAD));
    sl_put_be32(buf + 12, (uint32_t)-1);
    buf[16] = 2;
    sl_put_be32(buf + 23, (uint32_t)(nrec - 1));
    sl_put_be64(buf + 27, 1700000000000ULL);
    sl_put_be64(buf + 35, 1700000000000ULL);
    sl_put_be64(buf + 43, (uint64_t)pid);
    buf[51] = (uint8_t)((uint16_t)epoch >> 8);
    buf[52] = (uint8_t)epoch;
    sl_put_be32(buf + 53, (uint32_t)seq);
    sl_put_be32(buf + 57, (uint32_t)nrec);
    sl_put_be32(buf + 17, sl_crc32c(0, buf + 21, n - 21));
    return n;
}

/* Append a batch to log and, when it passes, to ps (like produce does). */
static void log_produce(sl_log *log, sl_pstate *ps, int64_t pid, int16_t epoch, int32_t seq,
                        int nrec)
{
    uint8_t buf[4096];
    char err[512];
    size_t n = build_batch(buf, pid, epoch, seq, nrec);
    sl_batch_header h;
    sl_pstate_dup dup;
    char msg[256];
    CU_ASSERT_FATAL(sl_batch_validate(buf, n, err, sizeof(err)) == 0);
    CU_ASSERT_FATAL(sl_batch_header_decode(buf, n, &h) == 0);
    if (sl_pstate_check(ps, &h, &dup, msg, sizeof(msg)) || dup.found)
        return;
    int64_t base;
    CU_ASSERT_FATAL(sl_log_append(log, buf, n, 0, -1, &base, err, sizeof(err)) == 0);
    CU_ASSERT_EQUAL(sl_pstate_record(ps, &h, base), 0);
}

typedef struct probe {
    int64_t pid;
    int16_t epoch;
    int32_t seq, nrec;
} probe;

static int count_headers(const sl_batch_header *h, void *arg)
{
    (*(int *)arg)++;
    return 0;
}

static void test_rebuild_from_log(void)
{
    char dir[512], err[512];
    sl_log_config cfg;
    sl_log *log;
    sl_pstate *live, *rebuilt;
    snprintf(dir, sizeof(dir), "%s/t-0", tmp_root);
    sl_log_config_default(&cfg);
    cfg.segment_bytes = 2048; /* several segments */
    CU_ASSERT_FATAL(sl_log_open(dir, &cfg, &log, err, sizeof(err)) == 0);
    CU_ASSERT_FATAL(sl_pstate_create(&live) == 0);
    for (int32_t i = 0; i < 12; i++) { /* pid 10: 12 batches of 4 */
        log_produce(log, live, 10, 0, i * 4, 4);
        log_produce(log, live, -1, -1, -1, 2); /* plain batches in between */
    }
    log_produce(log, live, 11, 0, 0, 3); /* pid 11: epoch 0 then 1 */
    log_produce(log, live, 11, 0, 3, 3);
    log_produce(log, live, 11, 1, 0, 2);
    log_produce(log, live, 12, 0, 0, 1);
    log_produce(log, live, 10, 0, 47, 1); /* refused (gap): not in the log */
    log_produce(log, live, 10, 0, 40, 4); /* duplicate: not in the log */
    int64_t leo = sl_log_end_offset(log);
    CU_ASSERT(sl_log_segment_count(log) > 1);
    sl_log_close(log);

    CU_ASSERT_FATAL(sl_log_open(dir, &cfg, &log, err, sizeof(err)) == 0);
    CU_ASSERT_EQUAL(sl_log_end_offset(log), leo);
    CU_ASSERT_FATAL(sl_pstate_create(&rebuilt) == 0);
    CU_ASSERT_EQUAL_FATAL(sl_pstate_load(rebuilt, log, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(sl_pstate_count(rebuilt), sl_pstate_count(live));
    CU_ASSERT_EQUAL(sl_pstate_count(rebuilt), 3);

    probe probes[] = {
        {10, 0, 44, 4}, {10, 0, 40, 4}, {10, 0, 28, 4}, {10, 0, 24, 4},  {10, 0, 20, 4},
        {10, 0, 48, 1}, {10, 0, 49, 1}, {10, 1, 0, 1},  {10, 1, 4, 1},   {11, 0, 6, 1},
        {11, 0, 0, 3},  {11, 1, 0, 2},  {11, 1, 2, 1},  {11, 1, 3, 1},   {12, 0, 0, 1},
        {12, 0, 1, 1},  {13, 0, 0, 1},  {13, 0, 1, 1},  {-1, -1, -1, 1},
    };
    for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
        sl_batch_header h = hdr(probes[i].pid, probes[i].epoch, probes[i].seq, probes[i].nrec);
        sl_pstate_dup a, b;
        char m1[256], m2[256];
        int16_t e1 = sl_pstate_check(live, &h, &a, m1, sizeof(m1));
        int16_t e2 = sl_pstate_check(rebuilt, &h, &b, m2, sizeof(m2));
        CU_ASSERT_EQUAL(e1, e2);
        CU_ASSERT_EQUAL(a.found, b.found);
        CU_ASSERT_EQUAL(a.base_offset, b.base_offset);
        CU_ASSERT_EQUAL(a.last_offset, b.last_offset);
    }
    /* spot checks of what those answers are */
    CU_ASSERT_EQUAL(check(rebuilt, hdr(10, 0, 44, 4), 0), 66);            /* 11th: 11*(4+2) */
    check(rebuilt, hdr(10, 0, 24, 4), KERR_OUT_OF_ORDER_SEQUENCE_NUMBER); /* 6th-oldest */
    check(rebuilt, hdr(11, 0, 6, 1), KERR_INVALID_PRODUCER_EPOCH);
    check(rebuilt, hdr(13, 0, 1, 1), 0); /* unknown producer: any sequence (KIP-360) */

    /* the scan itself: from an offset inside the log only the rest */
    int n_all = 0, n_tail = 0;
    CU_ASSERT_EQUAL(sl_log_scan_headers(log, 0, count_headers, &n_all, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(n_all, 28);
    CU_ASSERT_EQUAL(sl_log_scan_headers(log, 67, count_headers, &n_tail, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(n_tail, 28 - 22); /* batches 22..27; batch 22 (66..69) holds 67 */

    sl_pstate_destroy(live);
    sl_pstate_destroy(rebuilt);
    sl_log_close(log);
}

/* ---------------------------------------------------------------- pids */

static void test_producer_ids(void)
{
    char err[4400], path[600], text[64];
    sl_broker *b = calloc(1, sizeof(*b));
    int64_t pid = -1;
    CU_ASSERT_FATAL(b != NULL);
    for (int i = 0; i < SL_PIDS_BLOCK + 5; i++) {
        CU_ASSERT_EQUAL_FATAL(sl_pids_next(b, tmp_root, &pid, err, sizeof(err)), 0);
        CU_ASSERT_EQUAL(pid, i);
    }
    snprintf(path, sizeof(path), "%s/%s", tmp_root, SL_PIDS_FILE);
    FILE *f = fopen(path, "r");
    CU_ASSERT_FATAL(f != NULL);
    CU_ASSERT_PTR_NOT_NULL(fgets(text, sizeof(text), f));
    fclose(f);
    CU_ASSERT_STRING_EQUAL(text, "2000\n");
    /* a restart continues after the reserved blocks */
    free(b);
    b = calloc(1, sizeof(*b));
    CU_ASSERT_EQUAL(sl_pids_next(b, tmp_root, &pid, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(pid, 2000);
    /* a damaged file stops allocation rather than risk repeats */
    free(b);
    b = calloc(1, sizeof(*b));
    f = fopen(path, "w");
    fputs("12x\n", f);
    fclose(f);
    CU_ASSERT(sl_pids_next(b, tmp_root, &pid, err, sizeof(err)) < 0);
    CU_ASSERT(strstr(err, SL_PIDS_FILE) != NULL);
    free(b);
}

/* ---------------------------------------------------------------- main */

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

int main(void)
{
    snprintf(tmp_root, sizeof(tmp_root), "%s/sluice-pstate-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmp_root)) {
        perror("mkdtemp");
        return 1;
    }
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("producer_state", NULL, NULL);
    CU_add_test(s, "last sequence wraps past INT32_MAX", test_last_seq);
    CU_add_test(s, "duplicates of the last 5 batches", test_duplicates_last_five);
    CU_add_test(s, "gaps and overlaps", test_gaps);
    CU_add_test(s, "unknown producer id", test_unknown_producer);
    CU_add_test(s, "epoch bump and stale epochs", test_epochs);
    CU_add_test(s, "sequence wrap at INT32_MAX", test_sequence_wrap);
    CU_add_test(s, "many producers in one partition", test_many_producers);
    CU_add_test(s, "rebuild from a log gives the same answers", test_rebuild_from_log);
    CU_add_test(s, "producer ids survive restarts", test_producer_ids);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failures = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    nftw(tmp_root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return failures ? 1 : 0;
}
