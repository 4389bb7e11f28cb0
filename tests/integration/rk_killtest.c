/*
 * rk_killtest.c - the two halves of the crash test (kill9.sh): a producer
 * that records every acknowledgement, and a verifier that holds the broker
 * to them after a kill -9 and restart.
 *
 *   rk_killtest -b BROKERS -t TOPIC -o ACKFILE [-p 2] [-n N] [-S FIRST_SEQ]
 *       Produce "seq" messages forever (or N of them) with acks=all, message i
 *       going to partition seq % P. For every successful delivery report
 *       append "partition offset seq\n" to ACKFILE (line-buffered, so a kill
 *       loses at most a partial last line). Failed reports are expected once
 *       the broker is gone and only counted. SIGTERM stops it: reports
 *       already received are written, the rest is purged.
 *
 *   rk_killtest --verify -b BROKERS -t TOPIC ACKFILE...
 *       Read every partition from offset 0 up to its high watermark (legacy
 *       consumer: no group coordinator needed) and check
 *         - offsets are 0,1,2,... with no gap,
 *         - seq strictly increases along each partition (produce order),
 *         - every acknowledged (partition, offset) exists and holds the seq
 *           that was acknowledged for it.
 *       Messages that were stored but never acknowledged (in flight at the
 *       kill) are allowed and counted.
 *
 * Value: 8-byte big-endian seq, then "seq=<seq>" padded with '.' to 100 bytes.
 * The producer keeps librdkafka's default ordering guarantees only: without
 * idempotence a retry could reorder, but retries happen only after the kill,
 * and nothing sent then is ever acknowledged or stored.
 */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#define VALUE_SIZE 100
#define MAX_PARTITIONS 64

static volatile sig_atomic_t stop;
static void on_signal(int sig) { stop = 1; }

static void conf_must(rd_kafka_conf_t *conf, const char *k, const char *v)
{
    char err[256];
    if (rd_kafka_conf_set(conf, k, v, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "config %s=%s: %s\n", k, v, err);
        exit(2);
    }
}

/* ------------------------------------------------------------------------ */
/* Producer                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct kt_prod {
    FILE *ack;
    long acked;
    long failed;
} kt_prod;

/* runs on: the main thread, inside rd_kafka_poll */
static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    kt_prod *kp = opaque;
    uint64_t seq = (uint64_t)(uintptr_t)m->_private;
    if (m->err) {
        if (!kp->failed)
            fprintf(stderr, "rk_killtest: first failed delivery (seq %" PRIu64 "): %s\n", seq,
                    rd_kafka_err2str(m->err));
        kp->failed++;
        return;
    }
    fprintf(kp->ack, "%d %" PRId64 " %" PRIu64 "\n", m->partition, m->offset, seq);
    kp->acked++;
}

static void create_topic(rd_kafka_t *rk, const char *topic, int partitions)
{
    char errstr[256];
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, partitions, 1, errstr, sizeof(errstr));
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *ao = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_request_timeout(ao, 10000, errstr, sizeof(errstr));
    rd_kafka_CreateTopics(rk, &nt, 1, ao, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 15000);
    if (!ev)
        fprintf(stderr, "rk_killtest: CreateTopics: no answer\n");
    else {
        size_t cnt = 0;
        const rd_kafka_CreateTopics_result_t *r = rd_kafka_event_CreateTopics_result(ev);
        const rd_kafka_topic_result_t **res = r ? rd_kafka_CreateTopics_result_topics(r, &cnt) : NULL;
        if (rd_kafka_event_error(ev))
            fprintf(stderr, "rk_killtest: CreateTopics: %s\n", rd_kafka_event_error_string(ev));
        for (size_t i = 0; i < cnt; i++)
            if (rd_kafka_topic_result_error(res[i]) &&
                rd_kafka_topic_result_error(res[i]) != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
                fprintf(stderr, "rk_killtest: CreateTopics %s: %s\n", topic,
                        rd_kafka_err2name(rd_kafka_topic_result_error(res[i])));
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_AdminOptions_destroy(ao);
    rd_kafka_NewTopic_destroy(nt);
    rd_kafka_queue_destroy(q);
}

static void make_value(uint8_t *v, uint64_t seq)
{
    memset(v, '.', VALUE_SIZE);
    for (int i = 0; i < 8; i++)
        v[i] = (uint8_t)(seq >> (56 - 8 * i));
    char txt[32];
    int n = snprintf(txt, sizeof(txt), "seq=%" PRIu64, seq);
    memcpy(v + 8, txt, (size_t)n);
}

static int run_producer(const char *brokers, const char *topic, const char *ackpath, int np,
                        long n, uint64_t first_seq)
{
    kt_prod kp = {0};
    char err[256];
    kp.ack = fopen(ackpath, "a");
    if (!kp.ack) {
        perror(ackpath);
        return 2;
    }
    setvbuf(kp.ack, NULL, _IOLBF, 0);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    conf_must(conf, "bootstrap.servers", brokers);
    conf_must(conf, "acks", "all");
    conf_must(conf, "enable.idempotence", "false");
    conf_must(conf, "linger.ms", "2");
    conf_must(conf, "message.timeout.ms", "20000");
    conf_must(conf, "queue.buffering.max.messages", "20000");
    conf_must(conf, "log_level", "3");
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_conf_set_opaque(conf, &kp);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!rk) {
        fprintf(stderr, "producer: %s\n", err);
        return 2;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    create_topic(rk, topic, np);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    uint8_t val[VALUE_SIZE];
    uint64_t seq = first_seq;
    for (long i = 0; !stop && (n <= 0 || i < n); i++, seq++) {
        make_value(val, seq);
        int32_t part = (int32_t)(seq % (uint64_t)np);
        while (!stop && rd_kafka_produce(rkt, part, RD_KAFKA_MSG_F_COPY, val, sizeof(val), NULL, 0,
                                         (void *)(uintptr_t)seq) == -1)
            rd_kafka_poll(rk, 10); /* queue full: the broker is slow or gone */
        rd_kafka_poll(rk, 0);
    }
    if (!stop) /* N reached: wait for the reports */
        rd_kafka_flush(rk, 30000);
    rd_kafka_poll(rk, 0); /* write reports already received */
    rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT |
                           RD_KAFKA_PURGE_F_NON_BLOCKING);
    rd_kafka_poll(rk, 100);
    fprintf(stderr, "rk_killtest: acked %ld, failed %ld, last seq sent %" PRIu64 "\n", kp.acked,
            kp.failed, seq);
    fclose(kp.ack);
    /* rd_kafka_destroy would linger on a dead broker; nothing is left to keep */
    _exit(0);
}

/* ------------------------------------------------------------------------ */
/* Verifier                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct kt_log {
    int64_t *seq; /* seq at each offset, -1 if not (yet) seen */
    int64_t cap;
    int64_t high;
} kt_log;

static void log_reserve(kt_log *l, int64_t n)
{
    if (n <= l->cap)
        return;
    int64_t cap = l->cap ? l->cap : 1024;
    while (cap < n)
        cap *= 2;
    l->seq = realloc(l->seq, (size_t)cap * sizeof(int64_t));
    for (int64_t i = l->cap; i < cap; i++)
        l->seq[i] = -1;
    l->cap = cap;
}

/* Reads partitions 0..np-1 into logs[]. Returns the number of errors. */
static int read_partitions(const char *brokers, const char *topic, int np, kt_log *logs)
{
    char err[256];
    int errors = 0;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    conf_must(conf, "bootstrap.servers", brokers);
    conf_must(conf, "check.crcs", "true");
    conf_must(conf, "log_level", "3");
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (!rk) {
        fprintf(stderr, "consumer: %s\n", err);
        return 1;
    }
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    int64_t want = 0, got = 0, next[MAX_PARTITIONS] = {0}, last[MAX_PARTITIONS];
    for (int p = 0; p < np; p++) {
        int64_t lo, hi;
        rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 15000);
        if (e) {
            fprintf(stderr, "FAIL: watermarks of partition %d: %s\n", p, rd_kafka_err2str(e));
            return 1;
        }
        if (lo != 0) {
            fprintf(stderr, "FAIL: partition %d starts at %" PRId64 ", not 0\n", p, lo);
            errors++;
        }
        logs[p].high = hi;
        log_reserve(&logs[p], hi);
        want += hi;
        last[p] = -1;
        rd_kafka_consume_start_queue(rkt, p, RD_KAFKA_OFFSET_BEGINNING, q);
    }
    rd_kafka_message_t *batch[1000];
    time_t idle = time(NULL);
    while (got < want && errors < 20) {
        size_t ask = want - got < 1000 ? (size_t)(want - got) : 1000;
        ssize_t k = rd_kafka_consume_batch_queue(q, 100, batch, ask);
        if (k > 0)
            idle = time(NULL);
        else if (time(NULL) - idle > 30) {
            fprintf(stderr, "FAIL: stuck after %" PRId64 " of %" PRId64 " messages\n", got, want);
            errors++;
            break;
        }
        for (ssize_t i = 0; i < k; i++) {
            rd_kafka_message_t *m = batch[i];
            int p = m->partition;
            if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            } else if (m->err) {
                fprintf(stderr, "FAIL: partition %d: %s\n", p, rd_kafka_message_errstr(m));
                errors++;
            } else if (p >= 0 && p < np && m->offset < logs[p].high) {
                if (m->offset != next[p]) {
                    fprintf(stderr, "FAIL: partition %d: offset %" PRId64 " after %" PRId64
                                    " (gap or repeat)\n",
                            p, m->offset, next[p] - 1);
                    errors++;
                }
                next[p] = m->offset + 1;
                int64_t seq = -1;
                if (m->len == VALUE_SIZE) {
                    seq = 0;
                    for (int j = 0; j < 8; j++)
                        seq = (seq << 8) | ((const uint8_t *)m->payload)[j];
                    uint8_t v[VALUE_SIZE];
                    make_value(v, (uint64_t)seq);
                    if (memcmp(v, m->payload, VALUE_SIZE))
                        seq = -1;
                }
                if (seq < 0) {
                    fprintf(stderr, "FAIL: partition %d offset %" PRId64 ": damaged value\n", p,
                            m->offset);
                    errors++;
                } else if (seq <= last[p]) {
                    fprintf(stderr, "FAIL: partition %d offset %" PRId64 ": seq %" PRId64
                                    " after %" PRId64 "\n",
                            p, m->offset, seq, last[p]);
                    errors++;
                }
                if (seq >= 0)
                    last[p] = seq;
                logs[p].seq[m->offset] = seq;
                got++;
            }
            rd_kafka_message_destroy(m);
        }
    }
    for (int p = 0; p < np; p++)
        rd_kafka_consume_stop(rkt, p);
    rd_kafka_queue_destroy(q);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    printf("read %" PRId64 " messages:", got);
    for (int p = 0; p < np; p++)
        printf(" p%d=%" PRId64, p, logs[p].high);
    printf("\n");
    return errors;
}

static int topic_partition_count(const char *brokers, const char *topic)
{
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    conf_must(conf, "bootstrap.servers", brokers);
    conf_must(conf, "log_level", "3");
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md;
    int n = -1;
    if (!rd_kafka_metadata(rk, 0, rkt, &md, 15000)) {
        if (md->topic_cnt == 1 && !md->topics[0].err)
            n = md->topics[0].partition_cnt;
        rd_kafka_metadata_destroy(md);
    }
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    return n;
}

/* Check one ack file against the logs. Returns the number of errors. */
static int check_acks(const char *path, kt_log *logs, int np, long *nacks)
{
    FILE *f = fopen(path, "r");
    char line[128];
    int errors = 0;
    if (!f) {
        perror(path);
        return 1;
    }
    while (fgets(line, sizeof(line), f) && errors < 20) {
        int p;
        int64_t off, seq;
        if (!strchr(line, '\n'))
            break; /* partial last line of a killed producer */
        if (sscanf(line, "%d %" SCNd64 " %" SCNd64, &p, &off, &seq) != 3 || p < 0 || p >= np) {
            fprintf(stderr, "FAIL: %s: bad line '%s'\n", path, line);
            errors++;
            continue;
        }
        (*nacks)++;
        if (off >= logs[p].high) {
            fprintf(stderr, "FAIL: acked partition %d offset %" PRId64 " (seq %" PRId64
                            ") is beyond the high watermark %" PRId64 ": lost\n",
                    p, off, seq, logs[p].high);
            errors++;
        } else if (logs[p].seq[off] != seq) {
            fprintf(stderr, "FAIL: acked partition %d offset %" PRId64 " held seq %" PRId64
                            ", now %" PRId64 "\n",
                    p, off, seq, logs[p].seq[off]);
            errors++;
        }
    }
    fclose(f);
    return errors;
}

static int run_verify(const char *brokers, const char *topic, char **acks, int nack)
{
    int np = topic_partition_count(brokers, topic);
    if (np < 1 || np > MAX_PARTITIONS) {
        fprintf(stderr, "FAIL: topic %s: %d partitions in metadata\n", topic, np);
        return 1;
    }
    kt_log logs[MAX_PARTITIONS] = {{0}};
    int errors = read_partitions(brokers, topic, np, logs);
    long nacks = 0;
    for (int i = 0; i < nack; i++)
        errors += check_acks(acks[i], logs, np, &nacks);
    int64_t stored = 0;
    for (int p = 0; p < np; p++)
        stored += logs[p].high;
    printf("%ld acknowledged messages checked; %" PRId64 " stored (%" PRId64
           " stored but never acknowledged)\n",
           nacks, stored, stored - nacks);
    for (int p = 0; p < np; p++)
        free(logs[p].seq);
    if (errors)
        printf("FAILED: %d errors\n", errors);
    return errors ? 1 : 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: rk_killtest -b BROKERS -t TOPIC -o ACKFILE [-p 2] [-n N] [-S SEQ]\n"
                    "       rk_killtest --verify -b BROKERS -t TOPIC ACKFILE...\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *brokers = NULL, *topic = "killtest", *ack = NULL;
    int np = 2, verify = 0;
    long n = 0;
    uint64_t first = 0;
    static struct option lo[] = {{"verify", no_argument, NULL, 'V'}, {0}};
    int c;
    while ((c = getopt_long(argc, argv, "b:t:o:p:n:S:", lo, NULL)) != -1) {
        switch (c) {
        case 'b': brokers = optarg; break;
        case 't': topic = optarg; break;
        case 'o': ack = optarg; break;
        case 'p': np = atoi(optarg); break;
        case 'n': n = atol(optarg); break;
        case 'S': first = strtoull(optarg, NULL, 10); break;
        case 'V': verify = 1; break;
        default: usage();
        }
    }
    if (!brokers || np < 1 || np > MAX_PARTITIONS)
        usage();
    if (verify)
        return optind < argc ? run_verify(brokers, topic, argv + optind, argc - optind) : 2;
    if (!ack)
        usage();
    return run_producer(brokers, topic, ack, np, n, first);
}
