/*
 * rk_group.c - librdkafka consumer-group clients for groups.sh, and the
 * checker that reads their logs and proves what a consumer group promises.
 *
 *   rk_group produce -b BROKERS -t TOPIC -n N [-S FIRST_SEQ] [-p PARTITIONS] [-r MSGS_PER_S]
 *   rk_group consume -b BROKERS -t TOPIC -g GROUP -o LOG [-c CLIENT_ID] [-i IDLE_EXIT_S]
 *   rk_group check [-S FIRST_SEQ] -n N [-x] [-R] LOG [killed:LOG ...]
 *
 * produce: message seq (FIRST_SEQ <= seq < FIRST_SEQ+N) has key "k<seq % 997>"
 * and a 100-byte value whose first 8 bytes are seq big-endian; acks=all,
 * every delivery report checked; -r spreads the messages over time so that
 * consumers join, leave and die while it writes.
 *
 * consume: one high-level consumer (rd_kafka_subscribe, eager "range"
 * assignment). enable.auto.commit=false: the consumer commits, synchronously,
 * the next offset of what it has processed every 200 ms and in the revoke
 * callback, so a member that leaves cleanly (SIGTERM -> rd_kafka_consumer_close)
 * or loses a partition in a rebalance leaves no uncommitted tail; only a
 * member killed with SIGKILL can. It runs until SIGTERM/SIGINT, or until it
 * has processed something and then seen nothing for IDLE_EXIT_S seconds.
 * The log, one line per event:
 *
 *   A gen p p p...    assignment received in generation gen (the group's
 *                     generation id, read from the consumer group metadata)
 *   M gen p off seq   message processed
 *   k gen p off       about to commit next offset off for p (flushed first)
 *   K gen p off       the commit succeeded
 *   E gen err         a commit failed
 *   R gen             assignment revoked (after the revoke commit)
 *
 * The log is line-buffered: every line is in the file before the next
 * message is taken, so a killed member's log holds everything it processed,
 * committed or not, and its uncommitted tail shows up as duplicates that the
 * checker must explain. A killed member's last line may still be torn; the
 * checker skips an unterminated last line.
 *
 * check: reads the logs (killed:LOG marks a member that was SIGKILLed) and
 * fails unless:
 *   1. no partition is assigned to two members in one generation, and every
 *      message a member processed was in its assignment of that generation;
 *   2. within one (member, generation, partition) offsets run +1 with no
 *      repeat or gap;
 *   3. each (member, generation, partition) run starts at or after the
 *      highest offset committed (K) in earlier generations and at or before
 *      the highest one attempted (k): it resumed from the committed offset;
 *      with nothing committed before, it starts at 0 (-R: the logs start
 *      after commits they do not show, e.g. a consumer after a restart;
 *      this check is skipped);
 *   4. an offset processed twice was processed in two generations, first by
 *      a killed member, at or after that member's last successful commit of
 *      the partition: duplicates come only from a killed member's
 *      uncommitted tail, never from two concurrent owners;
 *   5. one (partition, offset) always carries one seq, and every seq of the
 *      range was processed at least once; with -x exactly once and nothing
 *      outside the range.
 * Figures (counts, duplicates, generations) go to stdout; exit 0 when all
 * checks pass, 1 otherwise.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#define VALUE_SIZE     100
#define MAX_PARTS      64
#define COMMIT_EVERY_S 0.2

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
        exit(2);
    }
}

/* ======================================================================== */
/* produce                                                                   */
/* ======================================================================== */

typedef struct prod_state {
    long delivered, failed;
    char first_error[256];
} prod_state;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    prod_state *st = opaque;
    if (m->err) {
        if (!st->failed)
            snprintf(st->first_error, sizeof(st->first_error), "partition %d: %s", m->partition,
                     rd_kafka_err2str(m->err));
        st->failed++;
    } else {
        st->delivered++;
    }
}

static void fill_value(uint8_t *v, uint64_t seq)
{
    for (int i = 0; i < 8; i++)
        v[i] = (uint8_t)(seq >> (56 - 8 * i));
    for (int i = 8; i < VALUE_SIZE; i++)
        v[i] = (uint8_t)('a' + (seq + (uint64_t)i) % 26);
}

/* CreateTopics; an existing topic is fine. Returns 0 or -1 (printed). */
static int create_topic(rd_kafka_t *rk, const char *topic, int partitions)
{
    char errstr[256];
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, partitions, 1, errstr, sizeof(errstr));
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_event_t *ev = NULL;
    int rc = -1;
    if (!nt) {
        fprintf(stderr, "NewTopic %s: %s\n", topic, errstr);
        goto done;
    }
    rd_kafka_AdminOptions_t *ao = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_operation_timeout(ao, 10000, errstr, sizeof(errstr));
    rd_kafka_CreateTopics(rk, &nt, 1, ao, q);
    rd_kafka_AdminOptions_destroy(ao);
    ev = rd_kafka_queue_poll(q, 15000);
    if (!ev || rd_kafka_event_error(ev)) {
        fprintf(stderr, "CreateTopics %s: %s\n", topic,
                ev ? rd_kafka_event_error_string(ev) : "no answer within 15 s");
        goto done;
    }
    size_t cnt;
    const rd_kafka_topic_result_t **res =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &cnt);
    for (size_t i = 0; i < cnt; i++) {
        rd_kafka_resp_err_t e = rd_kafka_topic_result_error(res[i]);
        if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
            fprintf(stderr, "CreateTopics %s: %s\n", topic, rd_kafka_err2name(e));
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

static int cmd_produce(const char *brokers, const char *topic, long n, long first, int partitions,
                       long rate)
{
    prod_state st = {0};
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    conf_must(conf, "bootstrap.servers", brokers);
    conf_must(conf, "acks", "all");
    conf_must(conf, "linger.ms", "5");
    conf_must(conf, "enable.idempotence", "false");
    conf_must(conf, "queue.buffering.max.messages", "500000");
    conf_must(conf, "message.timeout.ms", "120000");
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_conf_set_opaque(conf, &st);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!rk) {
        fprintf(stderr, "producer: %s\n", err);
        return 1;
    }
    if (partitions > 0 && create_topic(rk, topic, partitions) < 0) {
        rd_kafka_destroy(rk);
        return 1;
    }
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    uint8_t val[VALUE_SIZE];
    double t0 = now_s();
    for (long i = 0; i < n; i++) {
        uint64_t seq = (uint64_t)(first + i);
        char key[32];
        int klen = snprintf(key, sizeof(key), "k%" PRIu64, seq % 997);
        fill_value(val, seq);
        while (rd_kafka_produce(rkt, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, val, sizeof(val),
                                key, (size_t)klen, NULL) == -1) {
            if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                fprintf(stderr, "produce seq %" PRIu64 ": %s\n", seq,
                        rd_kafka_err2str(rd_kafka_last_error()));
                return 1;
            }
            rd_kafka_poll(rk, 10);
        }
        if (rate > 0 && (i % 100) == 99) { /* keep to rate msgs/s */
            double ahead;
            while ((ahead = (double)(i + 1) / (double)rate - (now_s() - t0)) > 0.001) {
                rd_kafka_poll(rk, 0); /* returns at once if a report was served */
                usleep(ahead > 0.01 ? 10000 : (useconds_t)(ahead * 1e6));
            }
        }
        if ((i & 1023) == 0)
            rd_kafka_poll(rk, 0);
    }
    rd_kafka_resp_err_t fe = rd_kafka_flush(rk, 120000);
    double dt = now_s() - t0;
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    printf("produce: %ld msgs (seq %ld..%ld) acknowledged in %.1f s (%.0f msgs/s)\n", st.delivered,
           first, first + n - 1, dt, st.delivered / dt);
    if (fe || st.failed || st.delivered != n) {
        fprintf(stderr, "FAIL: produce: flush %s, %ld delivered of %ld, %ld failed%s%s\n",
                rd_kafka_err2str(fe), st.delivered, n, st.failed, st.failed ? ", first: " : "",
                st.first_error);
        return 1;
    }
    return 0;
}

/* ======================================================================== */
/* consume                                                                   */
/* ======================================================================== */

typedef struct cons {
    rd_kafka_t *rk;
    FILE *log;
    const char *topic;
    int32_t gen;                  /* generation of the current assignment */
    int64_t next[MAX_PARTS];      /* next offset to commit, -1: nothing new */
    int64_t committed[MAX_PARTS]; /* last committed by us, -1: none */
    long processed, commits, commit_errors, rebalances;
} cons;

static volatile sig_atomic_t stop_flag;
static void on_stop(int sig)
{
    stop_flag = 1;
}

/* The group's generation id. librdkafka 2.0 has no getter; its serialized
 * consumer group metadata starts with the magic "CGMDv2:" followed by the
 * generation id as a host-order int32 (rdkafka_cgrp.c,
 * rd_kafka_consumer_group_metadata_write). Returns -1 if that changes. */
static int32_t group_generation(rd_kafka_t *rk)
{
    rd_kafka_consumer_group_metadata_t *md = rd_kafka_consumer_group_metadata(rk);
    void *buf = NULL;
    size_t size = 0;
    int32_t gen = -1;
    if (!md)
        return -1;
    if (!rd_kafka_consumer_group_metadata_write(md, &buf, &size) && size >= 11 &&
        !memcmp(buf, "CGMDv2:", 7))
        memcpy(&gen, (char *)buf + 7, 4);
    free(buf);
    rd_kafka_consumer_group_metadata_destroy(md);
    return gen;
}

/* Commit next[] synchronously; log k before and K after. */
static void commit_processed(cons *cs)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(8);
    for (int p = 0; p < MAX_PARTS; p++)
        if (cs->next[p] >= 0 && cs->next[p] != cs->committed[p]) {
            rd_kafka_topic_partition_list_add(l, cs->topic, p)->offset = cs->next[p];
            fprintf(cs->log, "k %d %d %" PRId64 "\n", cs->gen, p, cs->next[p]);
        }
    if (l->cnt == 0) {
        rd_kafka_topic_partition_list_destroy(l);
        return;
    }
    fflush(cs->log);
    rd_kafka_resp_err_t e = rd_kafka_commit(cs->rk, l, 0);
    for (int i = 0; !e && i < l->cnt; i++)
        e = l->elems[i].err;
    if (e) {
        fprintf(cs->log, "E %d %s\n", cs->gen, rd_kafka_err2name(e));
        cs->commit_errors++;
    } else {
        for (int i = 0; i < l->cnt; i++) {
            int p = l->elems[i].partition;
            cs->committed[p] = l->elems[i].offset;
            fprintf(cs->log, "K %d %d %" PRId64 "\n", cs->gen, p, l->elems[i].offset);
        }
        cs->commits++;
    }
    rd_kafka_topic_partition_list_destroy(l);
}

/* runs on: the consumer's poll (the application thread) */
static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    cons *cs = opaque;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        cs->gen = group_generation(rk);
        cs->rebalances++;
        fprintf(cs->log, "A %d", cs->gen);
        for (int i = 0; i < parts->cnt; i++)
            fprintf(cs->log, " %d", parts->elems[i].partition);
        fputc('\n', cs->log);
        fflush(cs->log);
        for (int p = 0; p < MAX_PARTS; p++)
            cs->next[p] = cs->committed[p] = -1;
        rd_kafka_assign(rk, parts);
    } else {
        commit_processed(cs);
        fprintf(cs->log, "R %d\n", cs->gen);
        fflush(cs->log);
        for (int p = 0; p < MAX_PARTS; p++)
            cs->next[p] = cs->committed[p] = -1;
        rd_kafka_assign(rk, NULL);
    }
}

static int cmd_consume(const char *brokers, const char *topic, const char *group,
                       const char *logpath, const char *client_id, double idle_exit)
{
    cons cs = {.topic = topic, .gen = -1};
    char err[256];
    cs.log = fopen(logpath, "w");
    if (!cs.log) {
        fprintf(stderr, "%s: %s\n", logpath, strerror(errno));
        return 1;
    }
    setvbuf(cs.log, NULL, _IOLBF, 0);
    for (int p = 0; p < MAX_PARTS; p++)
        cs.next[p] = cs.committed[p] = -1;

    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    conf_must(conf, "bootstrap.servers", brokers);
    conf_must(conf, "group.id", group);
    conf_must(conf, "client.id", client_id);
    conf_must(conf, "enable.auto.commit", "false");
    conf_must(conf, "auto.offset.reset", "earliest");
    conf_must(conf, "session.timeout.ms", "6000");
    conf_must(conf, "heartbeat.interval.ms", "500");
    conf_must(conf, "max.poll.interval.ms", "30000");
    conf_must(conf, "partition.assignment.strategy", "range");
    conf_must(conf, "fetch.wait.max.ms", "100");
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    rd_kafka_conf_set_opaque(conf, &cs);
    cs.rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (!cs.rk) {
        fprintf(stderr, "consumer: %s\n", err);
        return 1;
    }
    rd_kafka_poll_set_consumer(cs.rk);
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(cs.rk, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (e) {
        fprintf(stderr, "subscribe %s: %s\n", topic, rd_kafka_err2str(e));
        return 1;
    }
    signal(SIGTERM, on_stop);
    signal(SIGINT, on_stop);

    double t0 = now_s(), last_msg = t0, last_commit = t0;
    while (!stop_flag) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(cs.rk, 100);
        double t = now_s();
        if (m && !m->err) {
            if (m->partition < 0 || m->partition >= MAX_PARTS || m->len < 8) {
                fprintf(stderr, "FAIL: unexpected message: partition %d, %zu bytes\n", m->partition,
                        m->len);
                return 1;
            }
            uint64_t seq = 0;
            for (int i = 0; i < 8; i++)
                seq = (seq << 8) | ((const uint8_t *)m->payload)[i];
            fprintf(cs.log, "M %d %d %" PRId64 " %" PRIu64 "\n", cs.gen, m->partition, m->offset,
                    seq);
            cs.next[m->partition] = m->offset + 1;
            cs.processed++;
            last_msg = t;
        } else if (m && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            fprintf(stderr, "%s: consumer error: %s\n", client_id, rd_kafka_message_errstr(m));
        }
        if (m)
            rd_kafka_message_destroy(m);
        if (t - last_commit >= COMMIT_EVERY_S) {
            commit_processed(&cs);
            last_commit = t;
        }
        if (idle_exit > 0 && cs.processed > 0 && t - last_msg > idle_exit)
            break;
        if (idle_exit > 0 && cs.processed == 0 && t - t0 > idle_exit + 30)
            break; /* nothing at all: let the script see it, not hang */
    }
    /* clean leave: close runs the revoke callback (final commit), then LeaveGroup */
    rd_kafka_consumer_close(cs.rk);
    rd_kafka_destroy(cs.rk);
    fclose(cs.log);
    printf("consume %s: %ld msgs processed in %.1f s, %ld assignments, %ld commits, "
           "%ld commit errors\n",
           client_id, cs.processed, now_s() - t0, cs.rebalances, cs.commits, cs.commit_errors);
    return 0;
}

/* ======================================================================== */
/* check                                                                     */
/* ======================================================================== */

#define MAX_LOGS 16
#define MAX_GEN  1024

typedef struct occ {
    int64_t seq; /* -1: not processed */
    int16_t log;
    int32_t gen;
} occ;

typedef struct dupl {
    int32_t p;
    int64_t off;
    occ second;
} dupl;

typedef struct run { /* one (log, generation, partition) ownership */
    int16_t log;
    int32_t gen, p;
    int64_t first, last;
} run;

typedef struct checker {
    const char *names[MAX_LOGS];
    int killed[MAX_LOGS];
    int nlogs;
    occ *offs[MAX_PARTS]; /* by partition, indexed by offset */
    int64_t cap[MAX_PARTS];
    dupl *dups;
    long ndups, capdups;
    run *runs;
    long nruns, capruns;
    int16_t owner[MAX_GEN][MAX_PARTS]; /* log index + 1; 0 none */
    /* highest offsets committed (K) and attempted (k), by log, gen, partition */
    int64_t (*maxK)[MAX_GEN][MAX_PARTS];
    int64_t (*maxk)[MAX_GEN][MAX_PARTS];
    long lines[MAX_LOGS], processed[MAX_LOGS];
    int32_t gen_lo, gen_hi;
    int failures;
} checker;

static void ck_fail(checker *ck, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ck_fail(checker *ck, const char *fmt, ...)
{
    va_list ap;
    if (ck->failures++ >= 20)
        return; /* the first 20 say enough */
    fputs("FAIL: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static occ *slot(checker *ck, int p, int64_t off)
{
    if (off >= ck->cap[p]) {
        int64_t nc = ck->cap[p] ? ck->cap[p] : 4096;
        while (nc <= off)
            nc *= 2;
        ck->offs[p] = realloc(ck->offs[p], (size_t)nc * sizeof(occ));
        for (int64_t i = ck->cap[p]; i < nc; i++)
            ck->offs[p][i] = (occ){-1, -1, -1};
        ck->cap[p] = nc;
    }
    return &ck->offs[p][off];
}

static int gen_ok(checker *ck, int li, long ln, int32_t gen)
{
    if (gen < 0 || gen >= MAX_GEN) {
        ck_fail(ck, "%s:%ld: generation %d out of range", ck->names[li], ln, gen);
        return 0;
    }
    if (gen < ck->gen_lo)
        ck->gen_lo = gen;
    if (gen > ck->gen_hi)
        ck->gen_hi = gen;
    return 1;
}

/* One M line: ownership, contiguity, duplicates. */
static void on_msg(checker *ck, int li, long ln, int32_t gen, int p, int64_t off, int64_t seq,
                   const uint8_t *assigned, long *cur)
{
    if (!assigned[p]) {
        ck_fail(ck,
                "%s:%ld: partition %d offset %" PRId64 " processed in generation %d "
                "without being assigned",
                ck->names[li], ln, p, off, gen);
        return;
    }
    run *r;
    if (cur[p] < 0) {
        if (ck->nruns == ck->capruns) {
            ck->capruns = ck->capruns ? 2 * ck->capruns : 256;
            ck->runs = realloc(ck->runs, (size_t)ck->capruns * sizeof(run));
        }
        cur[p] = ck->nruns;
        r = &ck->runs[ck->nruns++];
        *r = (run){(int16_t)li, gen, p, off, off};
    } else {
        r = &ck->runs[cur[p]];
        if (off != r->last + 1)
            ck_fail(ck, "%s:%ld: partition %d generation %d: offset %" PRId64 " after %" PRId64,
                    ck->names[li], ln, p, gen, off, r->last);
    }
    r->last = off;
    occ *o = slot(ck, p, off);
    if (o->seq < 0) {
        *o = (occ){seq, (int16_t)li, gen};
        return;
    }
    if (o->seq != seq)
        ck_fail(ck, "partition %d offset %" PRId64 ": seq %" PRId64 " in %s, %" PRId64 " in %s", p,
                off, o->seq, ck->names[o->log], seq, ck->names[li]);
    if (ck->ndups == ck->capdups) {
        ck->capdups = ck->capdups ? 2 * ck->capdups : 1024;
        ck->dups = realloc(ck->dups, (size_t)ck->capdups * sizeof(dupl));
    }
    ck->dups[ck->ndups++] = (dupl){p, off, {seq, (int16_t)li, gen}};
}

static int read_log(checker *ck, int li)
{
    FILE *f = fopen(ck->names[li], "r");
    if (!f) {
        ck_fail(ck, "%s: %s", ck->names[li], strerror(errno));
        return -1;
    }
    char line[4096];
    long ln = 0;
    int32_t gen = -1;
    uint8_t assigned[MAX_PARTS] = {0};
    long cur[MAX_PARTS]; /* index in ck->runs of this log's current run, -1 none */
    for (int i = 0; i < MAX_PARTS; i++)
        cur[i] = -1;
    while (fgets(line, sizeof(line), f)) {
        ln++;
        size_t len = strlen(line);
        if (len == 0 || line[len - 1] != '\n') {
            if (!ck->killed[li])
                ck_fail(ck, "%s:%ld: unterminated line", ck->names[li], ln);
            break; /* a killed member's torn last line */
        }
        ck->lines[li]++;
        int32_t g, p;
        int64_t off, seq;
        char *s = line + 2;
        switch (line[0]) {
        case 'A': {
            char *end;
            g = (int32_t)strtol(s, &end, 10);
            if (!gen_ok(ck, li, ln, g))
                break;
            gen = g;
            memset(assigned, 0, sizeof(assigned));
            for (s = end; *s && *s != '\n';) {
                p = (int32_t)strtol(s, &end, 10);
                if (end == s || p < 0 || p >= MAX_PARTS)
                    break;
                s = end;
                assigned[p] = 1;
                cur[p] = -1;
                if (ck->owner[g][p] && ck->owner[g][p] != li + 1)
                    ck_fail(ck, "generation %d: partition %d assigned to both %s and %s", g, p,
                            ck->names[ck->owner[g][p] - 1], ck->names[li]);
                ck->owner[g][p] = (int16_t)(li + 1);
            }
            break;
        }
        case 'M':
            if (sscanf(s, "%d %d %" SCNd64 " %" SCNd64, &g, &p, &off, &seq) != 4 || p < 0 ||
                p >= MAX_PARTS || off < 0) {
                ck_fail(ck, "%s:%ld: bad line: %s", ck->names[li], ln, line);
                break;
            }
            if (g != gen) {
                ck_fail(ck, "%s:%ld: message of generation %d while assigned in %d", ck->names[li],
                        ln, g, gen);
                break;
            }
            ck->processed[li]++;
            on_msg(ck, li, ln, g, p, off, seq, assigned, cur);
            break;
        case 'k':
        case 'K':
            if (sscanf(s, "%d %d %" SCNd64, &g, &p, &off) != 3 || p < 0 || p >= MAX_PARTS ||
                !gen_ok(ck, li, ln, g))
                break;
            int64_t *mx = line[0] == 'K' ? &ck->maxK[li][g][p] : &ck->maxk[li][g][p];
            if (off > *mx)
                *mx = off;
            break;
        case 'R':
            memset(assigned, 0, sizeof(assigned));
            break;
        case 'E':
            break;
        default:
            ck_fail(ck, "%s:%ld: unknown line: %s", ck->names[li], ln, line);
        }
    }
    fclose(f);
    return 0;
}

/* Highest K (or k) for partition p over every log and every generation < gen. */
static int64_t max_before(checker *ck, int64_t (*m)[MAX_GEN][MAX_PARTS], int32_t gen, int p)
{
    int64_t best = -1;
    for (int li = 0; li < ck->nlogs; li++)
        for (int32_t g = ck->gen_lo; g < gen; g++)
            if (m[li][g][p] > best)
                best = m[li][g][p];
    return best;
}

static int cmd_check(int nlogs, char **logs, long first, long n, int exact, int resumed)
{
    checker *ck = calloc(1, sizeof(*ck));
    ck->gen_lo = MAX_GEN;
    ck->gen_hi = -1;
    ck->nlogs = nlogs;
    ck->maxK = malloc((size_t)nlogs * sizeof(*ck->maxK));
    ck->maxk = malloc((size_t)nlogs * sizeof(*ck->maxk));
    for (int li = 0; li < nlogs; li++) {
        for (int g = 0; g < MAX_GEN; g++)
            for (int p = 0; p < MAX_PARTS; p++)
                ck->maxK[li][g][p] = ck->maxk[li][g][p] = -1;
        ck->killed[li] = !strncmp(logs[li], "killed:", 7);
        ck->names[li] = logs[li] + (ck->killed[li] ? 7 : 0);
        read_log(ck, li);
    }
    /* 3. every run resumed from the committed offset */
    for (long i = 0; !resumed && i < ck->nruns; i++) {
        run *r = &ck->runs[i];
        int64_t K = max_before(ck, ck->maxK, r->gen, r->p);
        int64_t k = max_before(ck, ck->maxk, r->gen, r->p);
        if (r->first < K)
            ck_fail(ck,
                    "%s: partition %d generation %d starts at %" PRId64
                    ", below the committed offset %" PRId64 " (re-read committed data)",
                    ck->names[r->log], r->p, r->gen, r->first, K);
        if (r->first > (k < 0 ? 0 : k))
            ck_fail(ck,
                    "%s: partition %d generation %d starts at %" PRId64
                    ", beyond the last offset committed %" PRId64 " (skipped messages)",
                    ck->names[r->log], r->p, r->gen, r->first, k < 0 ? 0 : k);
    }
    /* 4. duplicates */
    long from_killed = 0;
    for (long i = 0; i < ck->ndups; i++) {
        dupl *d = &ck->dups[i];
        occ a = ck->offs[d->p][d->off], b = d->second;
        if (b.gen < a.gen) {
            occ t = a;
            a = b;
            b = t;
        }
        if (a.gen == b.gen) {
            ck_fail(ck,
                    "partition %d offset %" PRId64 " processed twice in generation %d "
                    "(%s and %s)",
                    d->p, d->off, a.gen, ck->names[a.log], ck->names[b.log]);
            continue;
        }
        if (!ck->killed[a.log]) {
            ck_fail(ck,
                    "partition %d offset %" PRId64 " processed by %s (generation %d) and "
                    "again by %s (generation %d): %s was not killed, it committed on revoke",
                    d->p, d->off, ck->names[a.log], a.gen, ck->names[b.log], b.gen,
                    ck->names[a.log]);
            continue;
        }
        if (d->off < ck->maxK[a.log][a.gen][d->p]) {
            ck_fail(ck,
                    "partition %d offset %" PRId64 " processed again although %s committed "
                    "up to %" PRId64 " in generation %d",
                    d->p, d->off, ck->names[a.log], ck->maxK[a.log][a.gen][d->p], a.gen);
            continue;
        }
        from_killed++;
    }
    /* 5. coverage */
    uint8_t *seen = calloc((size_t)n, 1);
    long unique = 0, outside = 0, total = 0;
    for (int p = 0; p < MAX_PARTS; p++)
        for (int64_t off = 0; off < ck->cap[p]; off++) {
            int64_t seq = ck->offs[p][off].seq;
            if (seq < 0)
                continue;
            if (seq < first || seq >= first + n) {
                outside++;
                continue;
            }
            if (!seen[seq - first]++)
                unique++;
        }
    for (int li = 0; li < nlogs; li++)
        total += ck->processed[li];
    if (unique != n) {
        long shown = 0;
        for (long i = 0; i < n && shown < 5; i++)
            if (!seen[i]) {
                ck_fail(ck, "seq %ld was never processed", first + i);
                shown++;
            }
        ck_fail(ck, "%ld of %ld messages processed", unique, n);
    }
    if (exact && (ck->ndups || outside))
        ck_fail(ck, "expected exactly seq %ld..%ld once each: %ld duplicates, %ld outside", first,
                first + n - 1, ck->ndups, outside);
    printf("check: %ld messages expected (seq %ld..%ld), %ld processed, %ld unique, "
           "%ld duplicates (%ld from killed members' uncommitted tails), %ld outside the range\n",
           n, first, first + n - 1, total, unique, ck->ndups, from_killed, outside);
    printf("check: generations %d..%d, %ld ownership runs\n", ck->gen_lo, ck->gen_hi, ck->nruns);
    for (int li = 0; li < nlogs; li++)
        printf("  %s%s: %ld lines, %ld msgs processed\n", ck->names[li],
               ck->killed[li] ? " (killed)" : "", ck->lines[li], ck->processed[li]);
    int rc = ck->failures ? 1 : 0;
    if (rc)
        fprintf(stderr, "check: %d failures\n", ck->failures);
    for (int p = 0; p < MAX_PARTS; p++)
        free(ck->offs[p]);
    free(ck->dups);
    free(ck->runs);
    free(ck->maxK);
    free(ck->maxk);
    free(seen);
    free(ck);
    return rc;
}

/* ======================================================================== */

static void usage(void)
{
    fprintf(
        stderr,
        "usage: rk_group produce -b BROKERS -t TOPIC -n N [-S FIRST] [-p PARTITIONS] [-r RATE]\n"
        "       rk_group consume -b BROKERS -t TOPIC -g GROUP -o LOG [-c CLIENT_ID] [-i IDLE_S]\n"
        "       rk_group check [-S FIRST] -n N [-x] [-R] LOG [killed:LOG ...]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        usage();
    const char *cmd = argv[1];
    const char *brokers = NULL, *topic = NULL, *group = NULL, *logpath = NULL;
    const char *client_id = "rk_group";
    long n = -1, first = 0, rate = 0;
    int partitions = 0, exact = 0, resumed = 0, c;
    double idle = 0;
    optind = 2;
    while ((c = getopt(argc, argv, "b:t:g:o:c:n:S:p:r:i:xR")) != -1) {
        switch (c) {
        case 'b':
            brokers = optarg;
            break;
        case 't':
            topic = optarg;
            break;
        case 'g':
            group = optarg;
            break;
        case 'o':
            logpath = optarg;
            break;
        case 'c':
            client_id = optarg;
            break;
        case 'n':
            n = atol(optarg);
            break;
        case 'S':
            first = atol(optarg);
            break;
        case 'p':
            partitions = atoi(optarg);
            break;
        case 'r':
            rate = atol(optarg);
            break;
        case 'i':
            idle = atof(optarg);
            break;
        case 'x':
            exact = 1;
            break;
        case 'R':
            resumed = 1;
            break;
        default:
            usage();
        }
    }
    if (!strcmp(cmd, "produce") && brokers && topic && n > 0)
        return cmd_produce(brokers, topic, n, first, partitions, rate);
    if (!strcmp(cmd, "consume") && brokers && topic && group && logpath)
        return cmd_consume(brokers, topic, group, logpath, client_id, idle);
    if (!strcmp(cmd, "check") && n > 0 && optind < argc && argc - optind <= MAX_LOGS)
        return cmd_check(argc - optind, argv + optind, first, n, exact, resumed);
    usage();
    return 2;
}
