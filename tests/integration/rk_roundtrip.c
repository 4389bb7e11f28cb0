/*
 * rk_roundtrip.c - produce N messages through librdkafka, read them all back,
 * and prove nothing was lost, duplicated, reordered or altered.
 *
 *   rk_roundtrip -b BROKERS -t TOPIC [-n 1000000] [-p 4] [-z none|gzip|snappy|lz4|zstd]
 *                [-s 100] [-M]
 *   rk_roundtrip --serve-mock        run librdkafka's mock cluster until killed,
 *                                    printing its bootstrap address first
 *
 * -M runs against an in-process mock cluster instead of -b.
 *
 * Message i (0 <= i < N), the same whichever partition it lands in:
 *   key   = "k<i % 997>"            (keys spread over the partitions through the
 *                                   default partitioner; same key, same partition)
 *   value = 8-byte big-endian i, then s-8 bytes of xorshift64 output seeded by i
 *
 * Phase 1 produces with acks=all, linger.ms=5 and waits for every delivery
 * report; any failed report fails the run. Phase 2 has no consumer group to
 * lean on (the broker has no coordinator yet), so it uses the legacy consumer:
 * one queue, every partition started at OFFSET_BEGINNING, read until each
 * partition's next offset reaches the high watermark queried before reading.
 * Checks: total count; per partition offsets 0,1,2,... with no gap; per
 * partition seq strictly increasing (produce order); each value regenerates
 * from its seq; every seq seen exactly once; and an order-independent
 * checksum (sum of FNV-1a over key and value) equal to the producer's.
 *
 * Exit status 0 when all checks pass, 1 otherwise. Figures go to stdout.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

typedef struct rt_opts {
    const char *brokers;
    const char *topic;
    long n;
    int partitions;
    const char *codec;
    int size;
    int mock;
} rt_opts;

typedef struct rt_state {
    long delivered;
    long failed;
    uint64_t produced_sum; /* checksum of what delivery reports confirmed */
    char first_error[256];
} rt_state;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------------------ */
/* The message content                                                       */
/* ------------------------------------------------------------------------ */

static void fill_value(uint8_t *buf, int size, uint64_t seq)
{
    uint64_t x = seq * 0x9E3779B97F4A7C15ull + 1;
    for (int i = 0; i < 8 && i < size; i++)
        buf[i] = (uint8_t)(seq >> (56 - 8 * i));
    for (int i = 8; i < size; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        buf[i] = (uint8_t)x;
    }
}

static int make_key(char *key, size_t keylen, uint64_t seq)
{
    return snprintf(key, keylen, "k%" PRIu64, seq % 997);
}

static uint64_t fnv1a(uint64_t h, const void *p, size_t len)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < len; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static uint64_t msg_sum(const void *key, size_t keylen, const void *val, size_t vallen)
{
    return fnv1a(fnv1a(0xcbf29ce484222325ull, key, keylen), val, vallen);
}

static uint64_t value_seq(const uint8_t *v)
{
    uint64_t s = 0;
    for (int i = 0; i < 8; i++)
        s = (s << 8) | v[i];
    return s;
}

/* ------------------------------------------------------------------------ */
/* Topic creation (Admin API); an existing topic is fine                     */
/* ------------------------------------------------------------------------ */

/* Create topic with partitions partitions through CreateTopics. Returns 0 if
 * it exists afterwards (created now or before), -1 with a message otherwise. */
static int create_topic(rd_kafka_t *rk, const char *topic, int partitions)
{
    char errstr[256];
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, partitions, 1, errstr, sizeof(errstr));
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_event_t *ev = NULL;
    int rc = -1;

    if (!nt) {
        fprintf(stderr, "NewTopic: %s\n", errstr);
        goto done;
    }
    rd_kafka_AdminOptions_t *ao = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_request_timeout(ao, 10000, errstr, sizeof(errstr));
    rd_kafka_AdminOptions_set_operation_timeout(ao, 10000, errstr, sizeof(errstr));
    rd_kafka_CreateTopics(rk, &nt, 1, ao, q);
    rd_kafka_AdminOptions_destroy(ao);
    ev = rd_kafka_queue_poll(q, 15000);
    if (!ev) {
        fprintf(stderr, "CreateTopics %s: no answer within 15 s\n", topic);
        goto done;
    }
    if (rd_kafka_event_error(ev)) {
        fprintf(stderr, "CreateTopics %s: %s\n", topic, rd_kafka_event_error_string(ev));
        goto done;
    }
    size_t cnt;
    const rd_kafka_topic_result_t **res =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &cnt);
    for (size_t i = 0; i < cnt; i++) {
        rd_kafka_resp_err_t e = rd_kafka_topic_result_error(res[i]);
        if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
            fprintf(stderr, "CreateTopics %s: %s (%s)\n", topic, rd_kafka_err2name(e),
                    rd_kafka_topic_result_error_string(res[i]) ?: "");
            goto done;
        }
    }
    rc = 0;
done:
    if (ev)
        rd_kafka_event_destroy(ev);
    if (nt)
        rd_kafka_NewTopic_destroy(nt);
    rd_kafka_queue_destroy(q);
    return rc;
}

/* Metadata partition count of topic, or -1. */
static int topic_partitions(rd_kafka_t *rk, const char *topic)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    int n = -1;
    if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (md->topic_cnt == 1 && md->topics[0].err == 0)
            n = md->topics[0].partition_cnt;
        rd_kafka_metadata_destroy(md);
    }
    rd_kafka_topic_destroy(rkt);
    return n;
}

/* ------------------------------------------------------------------------ */
/* Produce                                                                   */
/* ------------------------------------------------------------------------ */

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    rt_state *st = opaque;
    if (m->err) {
        if (!st->failed)
            snprintf(st->first_error, sizeof(st->first_error), "partition %d: %s",
                     m->partition, rd_kafka_err2str(m->err));
        st->failed++;
        return;
    }
    st->delivered++;
    st->produced_sum += msg_sum(m->key, m->key_len, m->payload, m->len);
}

static rd_kafka_conf_t *base_conf(const char *brokers)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char err[256];
    if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, err, sizeof(err)) ||
        rd_kafka_conf_set(conf, "api.version.request", "true", err, sizeof(err))) {
        fprintf(stderr, "config: %s\n", err);
        exit(1);
    }
    return conf;
}

static void conf_must(rd_kafka_conf_t *conf, const char *k, const char *v)
{
    char err[256];
    if (rd_kafka_conf_set(conf, k, v, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "config %s=%s: %s\n", k, v, err);
        exit(1);
    }
}

static int produce_all(const rt_opts *o, rt_state *st)
{
    rd_kafka_conf_t *conf = base_conf(o->brokers);
    char err[256];
    conf_must(conf, "acks", "all");
    conf_must(conf, "linger.ms", "5");
    conf_must(conf, "enable.idempotence", "false");
    conf_must(conf, "compression.codec", o->codec);
    conf_must(conf, "queue.buffering.max.messages", "500000");
    conf_must(conf, "message.timeout.ms", "120000");
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_conf_set_opaque(conf, st);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!rk) {
        fprintf(stderr, "producer: %s\n", err);
        return -1;
    }
    if (!o->mock && create_topic(rk, o->topic, o->partitions) < 0)
        fprintf(stderr, "(continuing: the topic may be auto-created)\n");
    int have = -1;
    for (int i = 0; i < 50 && have < 0; i++) {
        have = topic_partitions(rk, o->topic);
        if (have < 0)
            usleep(200000);
    }
    if (have != o->partitions)
        fprintf(stderr, "note: topic %s has %d partitions, asked for %d\n", o->topic, have,
                o->partitions);

    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, o->topic, NULL);
    uint8_t *val = malloc((size_t)o->size);
    double t0 = now_s();
    for (long i = 0; i < o->n; i++) {
        char key[32];
        int klen = make_key(key, sizeof(key), (uint64_t)i);
        fill_value(val, o->size, (uint64_t)i);
        while (rd_kafka_produce(rkt, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, val,
                                (size_t)o->size, key, (size_t)klen, NULL) == -1) {
            rd_kafka_resp_err_t e = rd_kafka_last_error();
            if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                fprintf(stderr, "produce #%ld: %s\n", i, rd_kafka_err2str(e));
                return -1;
            }
            rd_kafka_poll(rk, 10);
        }
        if ((i & 1023) == 0)
            rd_kafka_poll(rk, 0);
    }
    rd_kafka_resp_err_t fe = rd_kafka_flush(rk, 180000);
    double dt = now_s() - t0;
    free(val);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    if (fe) {
        fprintf(stderr, "flush: %s\n", rd_kafka_err2str(fe));
        return -1;
    }
    printf("produce: %ld msgs (%d B, %s) in %.2f s: %.0f msgs/s, %.1f MB/s\n", st->delivered,
           o->size, o->codec, dt, st->delivered / dt, st->delivered * (double)o->size / dt / 1e6);
    if (st->failed) {
        fprintf(stderr, "FAIL: %ld delivery reports failed, first: %s\n", st->failed,
                st->first_error);
        return -1;
    }
    if (st->delivered != o->n) {
        fprintf(stderr, "FAIL: %ld delivered, %ld produced\n", st->delivered, o->n);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Consume and verify                                                        */
/* ------------------------------------------------------------------------ */

typedef struct rt_part {
    int64_t high;     /* high watermark before reading */
    int64_t next;     /* next expected offset */
    int64_t last_seq; /* -1 before the first message */
} rt_part;

static int verify_msg(const rt_opts *o, rt_part *pp, uint8_t *seen, const rd_kafka_message_t *m,
                      uint64_t *sum, uint8_t *tmp)
{
    if (m->offset != pp->next) {
        fprintf(stderr, "FAIL: partition %d: offset %" PRId64 ", expected %" PRId64 "\n",
                m->partition, m->offset, pp->next);
        return -1;
    }
    pp->next++;
    if (m->len != (size_t)o->size || m->len < 8) {
        fprintf(stderr, "FAIL: partition %d offset %" PRId64 ": value of %zu bytes\n",
                m->partition, m->offset, m->len);
        return -1;
    }
    uint64_t seq = value_seq(m->payload);
    if (seq >= (uint64_t)o->n || seen[seq]) {
        fprintf(stderr, "FAIL: partition %d offset %" PRId64 ": seq %" PRIu64 " %s\n",
                m->partition, m->offset, seq, seq >= (uint64_t)o->n ? "out of range" : "twice");
        return -1;
    }
    seen[seq] = 1;
    if ((int64_t)seq <= pp->last_seq) {
        fprintf(stderr, "FAIL: partition %d offset %" PRId64 ": seq %" PRIu64 " after %" PRId64
                        " (not in produce order)\n",
                m->partition, m->offset, seq, pp->last_seq);
        return -1;
    }
    pp->last_seq = (int64_t)seq;
    fill_value(tmp, o->size, seq);
    char key[32];
    int klen = make_key(key, sizeof(key), seq);
    if (memcmp(tmp, m->payload, m->len) || m->key_len != (size_t)klen ||
        memcmp(key, m->key, (size_t)klen)) {
        fprintf(stderr, "FAIL: partition %d offset %" PRId64 ": key or value of seq %" PRIu64
                        " differs from what was produced\n",
                m->partition, m->offset, seq);
        return -1;
    }
    *sum += msg_sum(m->key, m->key_len, m->payload, m->len);
    return 0;
}

static int consume_all(const rt_opts *o, const rt_state *st)
{
    rd_kafka_conf_t *conf = base_conf(o->brokers);
    char err[256];
    conf_must(conf, "check.crcs", "true");
    conf_must(conf, "fetch.message.max.bytes", "1048576");
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (!rk) {
        fprintf(stderr, "consumer: %s\n", err);
        return -1;
    }
    int np = topic_partitions(rk, o->topic);
    if (np < 1) {
        fprintf(stderr, "FAIL: no metadata for %s\n", o->topic);
        return -1;
    }
    rt_part *parts = calloc((size_t)np, sizeof(*parts));
    uint8_t *seen = calloc((size_t)o->n, 1);
    uint8_t *tmp = malloc((size_t)o->size);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, o->topic, NULL);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    int64_t total_high = 0, got = 0;
    int rc = -1, used = 0;
    for (int p = 0; p < np; p++) {
        int64_t lo, hi;
        rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(rk, o->topic, p, &lo, &hi, 10000);
        if (e) {
            fprintf(stderr, "FAIL: watermarks of partition %d: %s\n", p, rd_kafka_err2str(e));
            goto done;
        }
        if (lo != 0) {
            fprintf(stderr, "FAIL: partition %d low watermark %" PRId64 ", expected 0\n", p, lo);
            goto done;
        }
        parts[p].high = hi;
        parts[p].last_seq = -1;
        total_high += hi;
        used += hi > 0;
        if (rd_kafka_consume_start_queue(rkt, p, RD_KAFKA_OFFSET_BEGINNING, q) == -1) {
            fprintf(stderr, "consume_start %d: %s\n", p, rd_kafka_err2str(rd_kafka_last_error()));
            goto done;
        }
    }
    if (total_high != o->n) {
        fprintf(stderr, "FAIL: high watermarks sum to %" PRId64 ", produced %ld\n", total_high,
                o->n);
        goto done;
    }
    uint64_t sum = 0;
    double t0 = now_s(), last_progress = t0;
    rd_kafka_message_t *batch[1000];
    while (got < total_high) {
        /* never ask for more than remain: a short batch waits its timeout */
        size_t ask = total_high - got < 1000 ? (size_t)(total_high - got) : 1000;
        ssize_t k = rd_kafka_consume_batch_queue(q, 100, batch, ask);
        if (k < 0) {
            fprintf(stderr, "consume: %s\n", rd_kafka_err2str(rd_kafka_last_error()));
            goto done;
        }
        if (k > 0)
            last_progress = now_s();
        else if (now_s() - last_progress > 30) {
            fprintf(stderr, "FAIL: no message for 30 s after %" PRId64 " of %" PRId64 "\n", got,
                    total_high);
            goto done;
        }
        int bad = 0;
        for (ssize_t i = 0; i < k; i++) {
            rd_kafka_message_t *m = batch[i];
            if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            } else if (m->err) {
                fprintf(stderr, "FAIL: consume partition %d: %s\n", m->partition,
                        rd_kafka_message_errstr(m));
                bad = 1;
            } else if (m->partition < 0 || m->partition >= np) {
                fprintf(stderr, "FAIL: message from partition %d\n", m->partition);
                bad = 1;
            } else if (!bad && m->offset < parts[m->partition].high) {
                bad = verify_msg(o, &parts[m->partition], seen, m, &sum, tmp) < 0;
                got += !bad;
            }
            rd_kafka_message_destroy(m);
        }
        if (bad)
            goto done;
    }
    double dt = now_s() - t0;
    printf("consume: %" PRId64 " msgs from %d partitions (%d non-empty) in %.2f s: %.0f msgs/s, "
           "%.1f MB/s\n",
           got, np, used, dt, got / dt, got * (double)o->size / dt / 1e6);
    for (int p = 0; p < np; p++)
        printf("  partition %d: %" PRId64 " msgs\n", p, parts[p].high);
    if (sum != st->produced_sum) {
        fprintf(stderr, "FAIL: checksum %016" PRIx64 ", producer's %016" PRIx64 "\n", sum,
                st->produced_sum);
        goto done;
    }
    if (o->partitions > 1 && used < 2)
        fprintf(stderr, "note: all messages landed in one partition\n");
    printf("checksum %016" PRIx64 " matches\n", sum);
    rc = 0;
done:
    for (int p = 0; p < np; p++)
        rd_kafka_consume_stop(rkt, p);
    rd_kafka_queue_destroy(q);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    free(parts);
    free(seen);
    free(tmp);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Mock cluster                                                              */
/* ------------------------------------------------------------------------ */

static volatile sig_atomic_t stop;
static void on_signal(int sig) { stop = 1; }

/* Runs librdkafka's in-memory cluster until SIGTERM/SIGINT, so the scripts can
 * be exercised before the sluice broker exists. */
static int serve_mock(void)
{
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    conf_must(conf, "log_level", "3");
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!rk) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, 1);
    if (!mc) {
        fprintf(stderr, "mock cluster failed\n");
        return 1;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
    fflush(stdout);
    while (!stop)
        pause();
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: rk_roundtrip -b BROKERS -t TOPIC [-n N] [-p PARTITIONS]\n"
                    "                    [-z none|gzip|snappy|lz4|zstd] [-s SIZE] [-M]\n"
                    "       rk_roundtrip --serve-mock\n");
    exit(2);
}

int main(int argc, char **argv)
{
    rt_opts o = {.topic = "roundtrip", .n = 1000000, .partitions = 4, .codec = "none",
                 .size = 100};
    rt_state st = {0};
    if (argc == 2 && !strcmp(argv[1], "--serve-mock"))
        return serve_mock();
    int c;
    while ((c = getopt(argc, argv, "b:t:n:p:z:s:M")) != -1) {
        switch (c) {
        case 'b': o.brokers = optarg; break;
        case 't': o.topic = optarg; break;
        case 'n': o.n = atol(optarg); break;
        case 'p': o.partitions = atoi(optarg); break;
        case 'z': o.codec = optarg; break;
        case 's': o.size = atoi(optarg); break;
        case 'M': o.mock = 1; break;
        default: usage();
        }
    }
    if ((!o.brokers && !o.mock) || o.n < 1 || o.partitions < 1 || o.size < 8)
        usage();
    rd_kafka_t *mrk = NULL;
    rd_kafka_mock_cluster_t *mc = NULL;
    if (o.mock) {
        char err[256];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        conf_must(conf, "log_level", "3");
        mrk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
        mc = rd_kafka_mock_cluster_new(mrk, 1);
        o.brokers = rd_kafka_mock_cluster_bootstraps(mc);
        rd_kafka_mock_topic_create(mc, o.topic, o.partitions, 1);
    }
    int rc = produce_all(&o, &st) == 0 && consume_all(&o, &st) == 0 ? 0 : 1;
    if (mc) {
        rd_kafka_mock_cluster_destroy(mc);
        rd_kafka_destroy(mrk);
    }
    printf("%s\n", rc ? "FAILED" : "OK");
    return rc;
}
