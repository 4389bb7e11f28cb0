/*
 * bench_broker.c - librdkafka producer/consumer benchmark against one Kafka
 * endpoint: the sluice broker (-b) or librdkafka's in-memory mock cluster in
 * this very process (-M), which is the baseline run.sh divides by.
 *
 *   bench_broker (-b BROKERS | -M) [-l LABEL] [-n N100] [-N N1K] [-r RATE] [-d SECS]
 *
 * Three measurements, each on its own fresh topic of 16 partitions:
 *   throughput  N messages of 100 B and of 1 KiB, acks=all, linger.ms=5,
 *               produced as fast as librdkafka takes them; then read back
 *               with the legacy consumer (no group needed) to the high
 *               watermark. msgs/s and MB/s of payload, both ways.
 *   latency     100-byte messages at a fixed RATE msgs/s for SECS seconds,
 *               acks=all, linger.ms=0, 4 partitions; each value starts with its send time
 *               (CLOCK_MONOTONIC ns), and latency is delivery report time
 *               minus that. p50 and p99.
 *
 * Output: one line per figure, "RESULT label key=value ...", for run.sh to
 * tabulate; human notes go to stderr. It never fails on a time: exit 1 only
 * when messages were lost or delivery failed (a benchmark of a broken run
 * is meaningless).
 */
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

/* 16 partitions: the mock keeps about 5 MB per partition and prunes the
 * rest, so the default counts stay within what it retains. */
#define PARTITIONS 16
#define LATENCY_PARTITIONS 4

static const char *brokers;
static const char *label = "sluice";
static rd_kafka_mock_cluster_t *mock;

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void conf_must(rd_kafka_conf_t *conf, const char *k, const char *v)
{
    char err[256];
    if (rd_kafka_conf_set(conf, k, v, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "config %s=%s: %s\n", k, v, err);
        exit(2);
    }
}

static rd_kafka_conf_t *new_conf(void)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    conf_must(conf, "bootstrap.servers", brokers);
    conf_must(conf, "log_level", "3");
    return conf;
}

/* A fresh topic with PARTITIONS partitions: the mock's own API for the mock,
 * CreateTopics for a real broker (auto-create with num.partitions is the
 * fallback if that fails). */
static void create_topic(rd_kafka_t *rk, const char *topic, int partitions)
{
    if (mock) {
        rd_kafka_mock_topic_create(mock, topic, partitions, 1);
        return;
    }
    char err[256];
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, partitions, 1, err, sizeof(err));
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *ao = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_request_timeout(ao, 10000, err, sizeof(err));
    rd_kafka_CreateTopics(rk, &nt, 1, ao, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 15000);
    if (!ev || rd_kafka_event_error(ev))
        fprintf(stderr, "bench: CreateTopics %s: %s\n", topic,
                ev ? rd_kafka_event_error_string(ev) : "no answer");
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(ao);
    rd_kafka_NewTopic_destroy(nt);
    rd_kafka_queue_destroy(q);
}

/* ------------------------------------------------------------------------ */
/* Throughput                                                                */
/* ------------------------------------------------------------------------ */

typedef struct bench_dr {
    long ok, failed;
    int64_t *lat_ns; /* latency run only */
    long nlat;
} bench_dr;

/* runs on: the main thread, inside rd_kafka_poll/flush */
static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    bench_dr *d = opaque;
    if (m->err) {
        if (!d->failed)
            fprintf(stderr, "bench: delivery failed: %s\n", rd_kafka_err2str(m->err));
        d->failed++;
        return;
    }
    d->ok++;
    if (d->lat_ns && m->len >= 8) {
        int64_t sent;
        memcpy(&sent, m->payload, 8);
        d->lat_ns[d->nlat++] = mono_ns() - sent;
    }
}

static rd_kafka_t *new_producer(bench_dr *d, const char *linger)
{
    char err[256];
    rd_kafka_conf_t *conf = new_conf();
    conf_must(conf, "acks", "all");
    conf_must(conf, "enable.idempotence", "false");
    conf_must(conf, "linger.ms", linger);
    conf_must(conf, "queue.buffering.max.messages", "500000");
    conf_must(conf, "message.timeout.ms", "120000");
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_conf_set_opaque(conf, d);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!rk) {
        fprintf(stderr, "producer: %s\n", err);
        exit(2);
    }
    return rk;
}

static int produce_n(const char *topic, long n, int size)
{
    bench_dr d = {0};
    rd_kafka_t *rk = new_producer(&d, "5");
    create_topic(rk, topic, PARTITIONS);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    char *val = malloc((size_t)size);
    for (int i = 0; i < size; i++)
        val[i] = (char)('a' + i % 26);
    int64_t t0 = mono_ns();
    for (long i = 0; i < n; i++) {
        memcpy(val, &i, sizeof(i) < (size_t)size ? sizeof(i) : (size_t)size);
        while (rd_kafka_produce(rkt, (int32_t)(i % PARTITIONS), RD_KAFKA_MSG_F_COPY, val,
                                (size_t)size, NULL, 0, NULL) == -1)
            rd_kafka_poll(rk, 5);
        if ((i & 1023) == 0)
            rd_kafka_poll(rk, 0);
    }
    rd_kafka_flush(rk, 300000);
    double s = (double)(mono_ns() - t0) / 1e9;
    free(val);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    printf("RESULT %s produce size=%d msgs=%ld secs=%.3f msgs_per_s=%.0f mb_per_s=%.2f\n", label,
           size, d.ok, s, d.ok / s, d.ok * (double)size / s / 1e6);
    fflush(stdout);
    if (d.failed || d.ok != n) {
        fprintf(stderr, "bench: %ld of %ld delivered, %ld failed\n", d.ok, n, d.failed);
        return -1;
    }
    return 0;
}

static int consume_all(const char *topic, int size)
{
    char err[256];
    rd_kafka_conf_t *conf = new_conf();
    /* librdkafka stops fetching a partition for a while once its local queue
     * holds queued.min.messages; lift that so the broker is what we measure */
    conf_must(conf, "queued.min.messages", "10000000");
    conf_must(conf, "queued.max.messages.kbytes", "1000000");
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    int64_t want = 0, got = 0, bytes = 0, los[PARTITIONS];
    for (int p = 0; p < PARTITIONS; p++) {
        int64_t lo, hi;
        if (rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 10000)) {
            fprintf(stderr, "bench: watermarks of %s/%d failed\n", topic, p);
            return -1;
        }
        want += hi - lo; /* the mock drops old data: read what it still has */
        if (lo > 0)
            fprintf(stderr, "bench: %s: %s/%d starts at %" PRId64 " (pruned): consume figures "
                            "understate it\n", label, topic, p, lo);
        los[p] = lo;
    }
    rd_kafka_message_t *batch[1000];
    int64_t t0 = mono_ns(), idle = t0; /* the clock runs from the first fetch */
    for (int p = 0; p < PARTITIONS; p++)
        rd_kafka_consume_start_queue(rkt, p, los[p], q);
    while (got < want) {
        /* never ask for more than remain: a short batch waits its timeout */
        size_t ask = want - got < 1000 ? (size_t)(want - got) : 1000;
        ssize_t k = rd_kafka_consume_batch_queue(q, 100, batch, ask);
        int64_t now = mono_ns();
        if (k > 0)
            idle = now;
        else if (now - idle > 30 * 1000000000LL) {
            fprintf(stderr, "bench: consume stuck at %" PRId64 " of %" PRId64 "\n", got, want);
            break;
        }
        for (ssize_t i = 0; i < k; i++) {
            if (!batch[i]->err) {
                got++;
                bytes += (int64_t)batch[i]->len;
            }
            rd_kafka_message_destroy(batch[i]);
        }
    }
    double s = (double)(mono_ns() - t0) / 1e9;
    for (int p = 0; p < PARTITIONS; p++)
        rd_kafka_consume_stop(rkt, p);
    rd_kafka_queue_destroy(q);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    printf("RESULT %s consume size=%d msgs=%" PRId64 " secs=%.3f msgs_per_s=%.0f mb_per_s=%.2f\n",
           label, size, got, s, got / s, bytes / s / 1e6);
    fflush(stdout);
    return got == want ? 0 : -1;
}

/* ------------------------------------------------------------------------ */
/* Latency at a fixed rate                                                   */
/* ------------------------------------------------------------------------ */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

typedef struct poller {
    rd_kafka_t *rk;
    volatile int stop;
} poller;

/* runs on: the poller thread, the only caller of rd_kafka_poll during the
 * latency run, so a delivery report is timed the moment it arrives and not
 * when the pacing loop next looks. */
static void *poll_loop(void *arg)
{
    poller *pl = arg;
    while (!pl->stop)
        rd_kafka_poll(pl->rk, 50);
    return NULL;
}

static int latency(int rate, int secs)
{
    long n = (long)rate * secs;
    bench_dr d = {.lat_ns = malloc((size_t)n * sizeof(int64_t))};
    rd_kafka_t *rk = new_producer(&d, "0");
    create_topic(rk, "bench-latency", LATENCY_PARTITIONS);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, "bench-latency", NULL);
    char val[100];
    memset(val, 'x', sizeof(val));
    /* warm up: connection and metadata, not measured */
    rd_kafka_produce(rkt, 0, RD_KAFKA_MSG_F_COPY, val, sizeof(val), NULL, 0, NULL);
    rd_kafka_flush(rk, 10000);
    d.ok = d.failed = d.nlat = 0;
    poller pl = {.rk = rk};
    pthread_t th;
    pthread_create(&th, NULL, poll_loop, &pl);
    long refused = 0;
    int64_t t0 = mono_ns(), step = 1000000000LL / rate;
    for (long i = 0; i < n; i++) {
        int64_t due = t0 + i * step, now;
        while ((now = mono_ns()) < due) {
            int64_t gap = due - now;
            struct timespec ts = {0, (long)(gap > 50000 ? gap - 20000 : 0)};
            if (ts.tv_nsec)
                nanosleep(&ts, NULL);
        }
        memcpy(val, &now, 8);
        if (rd_kafka_produce(rkt, (int32_t)(i % LATENCY_PARTITIONS), RD_KAFKA_MSG_F_COPY, val, sizeof(val),
                             NULL, 0, NULL) == -1)
            refused++;
    }
    while (rd_kafka_outq_len(rk) > 0 && mono_ns() - t0 < (int64_t)(secs + 60) * 1000000000LL)
        usleep(1000);
    pl.stop = 1;
    pthread_join(th, NULL);
    rd_kafka_flush(rk, 10000);
    d.failed += refused;
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    int rc = d.failed || d.nlat == 0 ? -1 : 0;
    if (d.nlat) {
        qsort(d.lat_ns, (size_t)d.nlat, sizeof(int64_t), cmp_i64);
        printf("RESULT %s latency rate=%d msgs=%ld p50_ms=%.3f p99_ms=%.3f max_ms=%.3f\n", label,
               rate, d.nlat, d.lat_ns[d.nlat / 2] / 1e6, d.lat_ns[d.nlat * 99 / 100] / 1e6,
               d.lat_ns[d.nlat - 1] / 1e6);
    }
    fflush(stdout);
    free(d.lat_ns);
    return rc;
}

int main(int argc, char **argv)
{
    long n100 = 400000, n1k = 60000;
    int rate = 10000, secs = 5, use_mock = 0, c;
    while ((c = getopt(argc, argv, "b:Ml:n:N:r:d:")) != -1) {
        switch (c) {
        case 'b': brokers = optarg; break;
        case 'M': use_mock = 1; break;
        case 'l': label = optarg; break;
        case 'n': n100 = atol(optarg); break;
        case 'N': n1k = atol(optarg); break;
        case 'r': rate = atoi(optarg); break;
        case 'd': secs = atoi(optarg); break;
        default:
            fprintf(stderr, "usage: bench_broker (-b BROKERS | -M) [-l LABEL] [-n N100] [-N N1K] "
                            "[-r RATE] [-d SECS]\n");
            return 2;
        }
    }
    rd_kafka_t *mrk = NULL;
    if (use_mock) {
        char err[256];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        conf_must(conf, "log_level", "3");
        mrk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
        mock = rd_kafka_mock_cluster_new(mrk, 1);
        brokers = rd_kafka_mock_cluster_bootstraps(mock);
    }
    if (!brokers || rate < 1 || secs < 1)
        return 2;
    int bad = 0;
    bad |= produce_n("bench-100", n100, 100) || consume_all("bench-100", 100);
    bad |= produce_n("bench-1k", n1k, 1024) || consume_all("bench-1k", 1024);
    bad |= latency(rate, secs);
    if (mock) {
        rd_kafka_mock_cluster_destroy(mock);
        rd_kafka_destroy(mrk);
    }
    return bad ? 1 : 0;
}
