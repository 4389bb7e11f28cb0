/*
 * cli_produce.c - "sluice produce": write the lines of stdin to a topic, one
 * message per line, the way "kcat -P" does.
 *
 *   sluice produce -t TOPIC [-p PARTITION] [-K DELIM] [-H k=v ...] [-z CODEC]
 *                  [--acks all|1|0] [-Z]
 *
 * - A line is a message without its trailing newline. With -K DELIM the text
 *   before the first DELIM is the key and the rest the value; a line without
 *   DELIM has no key. With -Z an empty key or value is sent as null, so
 *   "id-7:" with -K : -Z is a tombstone for key id-7.
 * - -H headers are attached to every message. Without -p the partitioner
 *   picks as the Java producer (kafka-console-producer, Kafka Connect and
 *   so the worker) does: murmur2 of the key, so a key lands where the
 *   worker and Java clients put it; keyless lines spread at random.
 *   -X partitioner=consistent_random gives kcat's (librdkafka's default).
 * - acks=all by default: a message counts as delivered only when the broker
 *   has made it durable. delivery.timeout.ms defaults to 30 s (librdkafka's is
 *   5 min), so a broker that is down fails the run in half a minute instead
 *   of hanging; -X delivery.timeout.ms=... changes it.
 * - The tool waits for every delivery report, prints one summary line to
 *   stderr, and exits 1 if any message failed, naming the first failures by
 *   line number with the broker's reason. Exit 0 means every line is in the
 *   log.
 *
 * runs on: the main thread. Delivery reports are served by rd_kafka_poll on
 * this thread too, so the counters need no lock.
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_common.h"
#include "kafka_client.h"

#define MAX_HEADERS           64
#define MAX_REPORTED_FAILURES 5

typedef struct produce_args {
    sl_cli_common common;
    const char *topic;
    int32_t partition;
    const char *key_delim;            /* NULL: no keys */
    const char *headers[MAX_HEADERS]; /* "k=v" */
    int nheaders;
    const char *codec;
    const char *acks;
    int null_empty; /* -Z */
} produce_args;

/* What the delivery reports told us; touched only on the main thread. */
typedef struct produce_stats {
    sl_cli_common *common;
    const char *topic;
    long long lines, sent, delivered, failed; /* lines read; queued; acked; lost */
    rd_kafka_resp_err_t first_err;
} produce_stats;

static void usage(FILE *f)
{
    fprintf(f, "usage: sluice produce -t TOPIC [options] < lines\n"
               "\n"
               "Writes each line of stdin to TOPIC as one message and waits until the broker\n"
               "acknowledged every one. Exits 1 if any message failed.\n"
               "\n"
               "options:\n"
               "  -t, --topic TOPIC      topic to write to (required)\n"
               "  -p, --partition N      write to partition N (default: by key, else spread)\n"
               "  -K, --key-delimiter D  split each line at the first D into key and value\n"
               "  -H, --header k=v       add a header to every message (repeatable)\n"
               "  -z, --compression C    none, gzip, snappy, lz4 or zstd (default none)\n"
               "  -a, --acks A           all (default), 1 or 0\n"
               "  -Z, --null-empty       send an empty key or value as null (-K k: -Z: tombstone)\n"
               "\n" SL_CLI_COMMON_USAGE "\n"
               "example:\n"
               "  printf 'id-1:{\"qty\":2}\\n' | sluice produce -t orders -K :\n");
}

/* Returns -1 to go on, or the exit code to return now. */
static int parse_args(produce_args *a, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"topic", 1, NULL, 't'},
        {"partition", 1, NULL, 'p'},
        {"key-delimiter", 1, NULL, 'K'},
        {"header", 1, NULL, 'H'},
        {"compression", 1, NULL, 'z'},
        {"acks", 1, NULL, 'a'},
        {"null-empty", 0, NULL, 'Z'},
        SL_CLI_COMMON_LONG,
        {NULL, 0, NULL, 0},
    };
    int64_t v;
    int opt;

    optind = 0;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":t:p:K:H:z:a:Z" SL_CLI_COMMON_SHORT, longopts, NULL)) !=
           -1) {
        switch (opt) {
        case 't':
            a->topic = optarg;
            break;
        case 'p':
            if (sl_cli_common_parse_int(optarg, -1, INT32_MAX, &v) < 0) {
                sl_cli_common_fail(&a->common, "-p expects a partition number, got '%s'", optarg);
                return SL_CLI_USAGE;
            }
            a->partition = v < 0 ? RD_KAFKA_PARTITION_UA : (int32_t)v;
            break;
        case 'K':
            if (!*optarg) {
                sl_cli_common_fail(&a->common, "-K expects a non-empty delimiter");
                return SL_CLI_USAGE;
            }
            a->key_delim = optarg;
            break;
        case 'H':
            if (a->nheaders == MAX_HEADERS || !strchr(optarg, '=') || optarg[0] == '=') {
                sl_cli_common_fail(&a->common, "-H expects key=value (at most %d), got '%s'",
                                   MAX_HEADERS, optarg);
                return SL_CLI_USAGE;
            }
            a->headers[a->nheaders++] = optarg;
            break;
        case 'z':
            if (strcmp(optarg, "none") && strcmp(optarg, "gzip") && strcmp(optarg, "snappy") &&
                strcmp(optarg, "lz4") && strcmp(optarg, "zstd")) {
                sl_cli_common_fail(&a->common,
                                   "-z expects none, gzip, snappy, lz4 or zstd, "
                                   "got '%s'",
                                   optarg);
                return SL_CLI_USAGE;
            }
            a->codec = optarg;
            break;
        case 'a':
            if (strcmp(optarg, "all") && strcmp(optarg, "-1") && strcmp(optarg, "1") &&
                strcmp(optarg, "0")) {
                sl_cli_common_fail(&a->common, "--acks expects all, 1 or 0, got '%s'", optarg);
                return SL_CLI_USAGE;
            }
            a->acks = optarg;
            break;
        case 'Z':
            a->null_empty = 1;
            break;
        default: {
            int rc = sl_cli_common_other_opt(&a->common, opt, argv, optind, usage);
            if (rc != -1)
                return rc;
        }
        }
    }
    if (optind < argc) {
        sl_cli_common_fail(&a->common, "unexpected argument '%s'", argv[optind]);
        return SL_CLI_USAGE;
    }
    if (!a->topic) {
        sl_cli_common_fail(&a->common, "give the topic with -t TOPIC");
        return SL_CLI_USAGE;
    }
    return -1;
}

/* runs on: the main thread, inside rd_kafka_poll / rd_kafka_flush. */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    produce_stats *st = opaque;
    long long line = (long long)(intptr_t)m->_private;

    if (!m->err) {
        st->delivered++;
        return;
    }
    if (st->failed++ < MAX_REPORTED_FAILURES)
        sl_cli_common_fail(st->common, "line %lld: delivery to topic '%s' failed: %s", line,
                           st->topic, rd_kafka_err2str(m->err));
    if (!st->first_err)
        st->first_err = m->err;
}

static rd_kafka_headers_t *make_headers(produce_args *a)
{
    rd_kafka_headers_t *hdrs = rd_kafka_headers_new((size_t)a->nheaders);

    for (int i = 0; i < a->nheaders; i++) {
        const char *eq = strchr(a->headers[i], '=');

        rd_kafka_header_add(hdrs, a->headers[i], eq - a->headers[i], eq + 1, -1);
    }
    return hdrs;
}

/* Send one line. Retries while the local queue is full; returns 0 or -1
 * after printing why the message could not even be queued. */
static int send_line(produce_args *a, produce_stats *st, rd_kafka_t *rk,
                     const rd_kafka_headers_t *hdrs, char *line, size_t len, long long lineno)
{
    char *key = NULL, *value = line;
    size_t keylen = 0, valuelen = len;
    rd_kafka_resp_err_t err;

    if (a->key_delim) {
        char *d = memmem(line, len, a->key_delim, strlen(a->key_delim));

        if (d) {
            key = line;
            keylen = (size_t)(d - line);
            value = d + strlen(a->key_delim);
            valuelen = len - keylen - strlen(a->key_delim);
        }
    }
    if (a->null_empty && key && !keylen)
        key = NULL;
    if (a->null_empty && !valuelen)
        value = NULL;
    for (;;) {
        rd_kafka_headers_t *h = hdrs ? rd_kafka_headers_copy(hdrs) : NULL;

        err =
            rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(a->topic), RD_KAFKA_V_PARTITION(a->partition),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key, keylen),
                              RD_KAFKA_V_VALUE(value, valuelen), RD_KAFKA_V_HEADERS(h),
                              RD_KAFKA_V_OPAQUE((void *)(intptr_t)lineno), RD_KAFKA_V_END);
        if (!err) {
            st->sent++;
            return 0;
        }
        if (h)
            rd_kafka_headers_destroy(h); /* producev owns headers only on success */
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            break;
        rd_kafka_poll(rk, 100); /* serve delivery reports to make room */
    }
    sl_cli_common_fail(&a->common, "line %lld: cannot produce to topic '%s': %s", lineno, a->topic,
                       rd_kafka_err2str(err));
    st->failed++;
    if (!st->first_err)
        st->first_err = err;
    return -1;
}

/* Read stdin line by line and send it. Returns 0, or -1 on a read error. */
static int send_stdin(produce_args *a, produce_stats *st, rd_kafka_t *rk)
{
    rd_kafka_headers_t *hdrs = a->nheaders ? make_headers(a) : NULL;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long long lineno = 0;
    int rc = 0;

    while ((len = getline(&line, &cap, stdin)) >= 0) {
        lineno++;
        st->lines++;
        if (len > 0 && line[len - 1] == '\n')
            line[--len] = '\0';
        send_line(a, st, rk, hdrs, line, (size_t)len, lineno);
        rd_kafka_poll(rk, 0);
    }
    if (ferror(stdin)) {
        sl_cli_common_fail(&a->common, "cannot read stdin after line %lld: %s", lineno,
                           strerror(errno));
        rc = -1;
    }
    free(line);
    if (hdrs)
        rd_kafka_headers_destroy(hdrs);
    return rc;
}

int sl_cli_produce(int argc, char **argv)
{
    produce_args a;
    produce_stats st;
    const char *defaults[9];
    rd_kafka_conf_t *conf;
    rd_kafka_t *rk;
    char err[512];
    int n = 0, rc, read_rc;

    memset(&a, 0, sizeof(a));
    sl_cli_common_init(&a.common, "sluice produce");
    a.partition = RD_KAFKA_PARTITION_UA;
    a.acks = "all";
    rc = parse_args(&a, argc, argv);
    if (rc >= 0) {
        if (rc == SL_CLI_USAGE)
            usage(stderr);
        return rc;
    }
    defaults[n++] = "acks";
    defaults[n++] = a.acks;
    defaults[n++] = "delivery.timeout.ms";
    defaults[n++] = "30000";
    defaults[n++] = "partitioner";
    defaults[n++] = "murmur2_random";
    if (a.codec) {
        defaults[n++] = "compression.codec";
        defaults[n++] = a.codec;
    }
    defaults[n] = NULL;

    conf = sl_cli_common_conf(&a.common, defaults, err, sizeof(err));
    if (!conf) {
        sl_cli_common_fail(&a.common, "bad client configuration: %s", err);
        return SL_CLI_FAILED;
    }
    memset(&st, 0, sizeof(st));
    st.common = &a.common;
    st.topic = a.topic;
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, &st);
    rk = sl_kafka_client_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!rk) { /* conf is gone either way */
        sl_cli_common_fail(&a.common, "cannot create Kafka producer: %s", err);
        return SL_CLI_FAILED;
    }

    read_rc = send_stdin(&a, &st, rk);
    /* Every queued message ends in a delivery report within
     * delivery.timeout.ms, so flushing until the queue is empty terminates. */
    while (rd_kafka_outq_len(rk) > 0)
        rd_kafka_flush(rk, 1000);
    rd_kafka_destroy(rk);

    if (st.failed)
        sl_cli_common_fail(&a.common,
                           "%lld of %lld messages delivered to topic '%s', %lld "
                           "failed (first error: %s)",
                           st.delivered, st.lines, a.topic, st.failed,
                           rd_kafka_err2str(st.first_err));
    else
        fprintf(stderr, "%s: %lld message%s delivered to topic '%s'\n", a.common.prog, st.delivered,
                st.delivered == 1 ? "" : "s", a.topic);
    return st.failed || read_rc < 0 ? SL_CLI_FAILED : SL_CLI_OK;
}
