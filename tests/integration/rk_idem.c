/*
 * rk_idem.c - exactly-once delivery into the log with librdkafka's
 * idempotent producer, checked from the log itself.
 *
 *   rk_idem produce -b BROKERS -t TOPIC [-n 200000] [-p 3]
 *   rk_idem verify  -b BROKERS -t TOPIC [-n 200000] [-p 3]
 *
 * produce: enable.idempotence=true (so acks=all, at most 5 requests in
 * flight, retries with the same producer id and sequence numbers). Message i
 * goes to partition i % p with value = decimal i and no key. Small batches
 * (batch.num.messages=200) make many requests, so that a proxy dropping
 * responses (faultproxy) loses many acknowledgements of applied batches.
 * Waits for every delivery report; exit 0 only when all N were delivered and
 * librdkafka raised no fatal error.
 *
 * verify: the legacy consumer (no consumer group needed): every partition
 * from OFFSET_BEGINNING on one queue. Partition q must hold exactly the
 * values q, q+p, q+2p, ... < N in offset order: its high watermark equals
 * that count (a duplicate would raise it), message k at offset k has value
 * q + k*p (no gap, no duplicate, producer order kept).
 *
 * Exit status 0 when everything holds, 1 otherwise; figures go to stdout.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

typedef struct idem_opts {
    const char *brokers, *topic;
    long n;
    int parts;
} idem_opts;

typedef struct idem_state {
    long delivered, failed;
    char first_error[512];
} idem_state;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void conf_must(rd_kafka_conf_t *conf, const char *k, const char *v)
{
    char err[256];
    if (rd_kafka_conf_set(conf, k, v, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "config %s=%s: %s\n", k, v, err);
        exit(1);
    }
}

static rd_kafka_conf_t *base_conf(const char *brokers)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    conf_must(conf, "bootstrap.servers", brokers);
    /* the proxy cuts connections: come back quickly */
    conf_must(conf, "reconnect.backoff.ms", "20");
    conf_must(conf, "reconnect.backoff.max.ms", "500");
    return conf;
}

/* Partitions of topic per metadata (-1 when unknown). */
static int topic_partitions(rd_kafka_t *rk, const char *topic)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md;
    int n = -1;
    if (rd_kafka_metadata(rk, 0, rkt, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (md->topic_cnt == 1 && !md->topics[0].err)
            n = md->topics[0].partition_cnt;
        rd_kafka_metadata_destroy(md);
    }
    rd_kafka_topic_destroy(rkt);
    return n;
}

/* ------------------------------------------------------------------------ */

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    idem_state *st = opaque;
    if (m->err) {
        if (!st->failed)
            snprintf(st->first_error, sizeof(st->first_error), "partition %d: %s", m->partition,
                     rd_kafka_err2str(m->err));
        st->failed++;
        return;
    }
    st->delivered++;
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    fprintf(stderr, "librdkafka %s: %s\n", rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

static int produce(const idem_opts *o)
{
    idem_state st = {0, 0, ""};
    char err[512];
    rd_kafka_conf_t *conf = base_conf(o->brokers);
    conf_must(conf, "enable.idempotence", "true");
    conf_must(conf, "linger.ms", "2");
    conf_must(conf, "batch.num.messages", "200");
    conf_must(conf, "queue.buffering.max.messages", "1000000");
    conf_must(conf, "message.timeout.ms", "240000");
    conf_must(conf, "request.timeout.ms", "10000");
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    rd_kafka_conf_set_opaque(conf, &st);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!rk) {
        fprintf(stderr, "producer: %s\n", err);
        return 1;
    }
    int have = -1;
    for (int i = 0; i < 100 && have != o->parts; i++) {
        have = topic_partitions(rk, o->topic);
        if (have != o->parts)
            usleep(200000);
    }
    if (have != o->parts) {
        fprintf(stderr, "FAIL: topic %s has %d partitions, expected %d\n", o->topic, have,
                o->parts);
        rd_kafka_destroy(rk);
        return 1;
    }
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, o->topic, NULL);
    double t0 = now_s();
    for (long i = 0; i < o->n; i++) {
        char val[32];
        int len = snprintf(val, sizeof(val), "%ld", i);
        while (rd_kafka_produce(rkt, (int32_t)(i % o->parts), RD_KAFKA_MSG_F_COPY, val, (size_t)len,
                                NULL, 0, NULL) == -1) {
            rd_kafka_resp_err_t e = rd_kafka_last_error();
            if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                fprintf(stderr, "FAIL: produce #%ld: %s\n", i, rd_kafka_err2str(e));
                return 1;
            }
            rd_kafka_poll(rk, 10);
        }
        if (i % 1000 == 0)
            rd_kafka_poll(rk, 0);
    }
    while (st.delivered + st.failed < o->n && now_s() - t0 < 300)
        rd_kafka_poll(rk, 100);
    rd_kafka_flush(rk, 10000);
    rd_kafka_resp_err_t fatal = rd_kafka_fatal_error(rk, err, sizeof(err));
    printf("produced %ld, delivered %ld, failed %ld in %.1f s\n", o->n, st.delivered, st.failed,
           now_s() - t0);
    int rc = 0;
    if (fatal) {
        fprintf(stderr, "FAIL: librdkafka fatal error %s: %s\n", rd_kafka_err2name(fatal), err);
        rc = 1;
    }
    if (st.failed || st.delivered != o->n) {
        fprintf(stderr, "FAIL: %ld of %ld delivered, %ld failed (first: %s)\n", st.delivered, o->n,
                st.failed, st.first_error);
        rc = 1;
    }
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    return rc;
}

/* ------------------------------------------------------------------------ */

static int verify(const idem_opts *o)
{
    char err[512];
    rd_kafka_conf_t *conf = base_conf(o->brokers);
    conf_must(conf, "check.crcs", "true");
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (!rk) {
        fprintf(stderr, "consumer: %s\n", err);
        return 1;
    }
    int np = topic_partitions(rk, o->topic), rc = 1;
    if (np != o->parts) {
        fprintf(stderr, "FAIL: topic %s has %d partitions, expected %d\n", o->topic, np, o->parts);
        rd_kafka_destroy(rk);
        return 1;
    }
    int64_t *high = calloc((size_t)np, sizeof(*high)), *next = calloc((size_t)np, sizeof(*next));
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, o->topic, NULL);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    int64_t want_total = 0, got = 0;
    for (int p = 0; p < np; p++) {
        int64_t lo, hi, want = (o->n - p + np - 1) / np;
        rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(rk, o->topic, p, &lo, &hi, 10000);
        if (e) {
            fprintf(stderr, "FAIL: watermarks of partition %d: %s\n", p, rd_kafka_err2str(e));
            goto done;
        }
        printf("partition %d: offsets %" PRId64 "..%" PRId64 ", expected %" PRId64 " messages\n", p,
               lo, hi, want);
        if (lo != 0 || hi != want) {
            fprintf(stderr,
                    "FAIL: partition %d holds offsets %" PRId64 "..%" PRId64 " but %" PRId64
                    " messages were produced to it (%s)\n",
                    p, lo, hi, want, hi > want ? "duplicates" : "missing messages");
            goto done;
        }
        high[p] = hi;
        want_total += hi;
        if (rd_kafka_consume_start_queue(rkt, p, RD_KAFKA_OFFSET_BEGINNING, q) == -1) {
            fprintf(stderr, "consume_start %d: %s\n", p, rd_kafka_err2str(rd_kafka_last_error()));
            goto done;
        }
    }
    double last_progress = now_s();
    rd_kafka_message_t *batch[1000];
    while (got < want_total) {
        ssize_t k = rd_kafka_consume_batch_queue(q, 1000, batch, 1000);
        if (k > 0)
            last_progress = now_s();
        else if (now_s() - last_progress > 30) {
            fprintf(stderr, "FAIL: no message for 30 s after %" PRId64 " of %" PRId64 "\n", got,
                    want_total);
            goto done;
        }
        int bad = 0;
        for (ssize_t i = 0; i < k; i++) {
            rd_kafka_message_t *m = batch[i];
            int p = m->partition;
            if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            } else if (m->err) {
                fprintf(stderr, "FAIL: partition %d: %s\n", p, rd_kafka_message_errstr(m));
                bad = 1;
            } else if (!bad && p >= 0 && p < np && m->offset < high[p]) {
                char val[32];
                size_t len = m->len < sizeof(val) - 1 ? m->len : sizeof(val) - 1;
                memcpy(val, m->payload, len);
                val[len] = 0;
                long v = strtol(val, NULL, 10), want = p + next[p] * np;
                if (m->offset != next[p] || v != want) {
                    fprintf(stderr,
                            "FAIL: partition %d offset %" PRId64 " holds %s; expected "
                            "offset %" PRId64 " to hold %ld (%s)\n",
                            p, m->offset, val, next[p], want,
                            v < want ? "duplicate" : "gap or reordering");
                    bad = 1;
                }
                next[p]++;
                got++;
            }
            rd_kafka_message_destroy(m);
        }
        if (bad)
            goto done;
    }
    printf("verified %" PRId64 " messages in %d partitions: no duplicate, no gap, in order\n", got,
           np);
    rc = 0;
done:
    for (int p = 0; p < np; p++)
        rd_kafka_consume_stop(rkt, p);
    rd_kafka_queue_destroy(q);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    free(high);
    free(next);
    return rc;
}

int main(int argc, char **argv)
{
    idem_opts o = {NULL, NULL, 200000, 3};
    int opt;
    if (argc < 2)
        goto usage;
    optind = 2;
    while ((opt = getopt(argc, argv, "b:t:n:p:")) != -1) {
        switch (opt) {
        case 'b':
            o.brokers = optarg;
            break;
        case 't':
            o.topic = optarg;
            break;
        case 'n':
            o.n = atol(optarg);
            break;
        case 'p':
            o.parts = atoi(optarg);
            break;
        default:
            goto usage;
        }
    }
    if (!o.brokers || !o.topic || o.n < 1 || o.parts < 1)
        goto usage;
    if (!strcmp(argv[1], "produce"))
        return produce(&o);
    if (!strcmp(argv[1], "verify"))
        return verify(&o);
usage:
    fprintf(stderr, "usage: rk_idem produce|verify -b BROKERS -t TOPIC [-n N] [-p PARTITIONS]\n");
    return 2;
}
