/*
 * bench_group.c - consumer-group benchmark against one Kafka endpoint: the
 * sluice broker (-b) or librdkafka's in-memory mock cluster in this very
 * process (-M), the baseline run.sh divides by.
 *
 *   bench_group (-b BROKERS | -M) [-l LABEL] [-r RATE] [-d SECS] [-H HEARTBEAT_MS]
 *               [-L LINGER_MS]
 *
 * Two measurements, each on its own fresh 6-partition topic and group:
 *
 *   group_latency  end to end, producer -> broker -> group consumer. One
 *                  producer (acks=all, linger.ms=LINGER_MS, default 1) writes
 *                  100-byte messages at a fixed RATE msgs/s for SECS seconds,
 *                  round-robin over the partitions; each value starts with
 *                  its sequence number and its send time (CLOCK_REALTIME ns).
 *                  One high-level consumer (rd_kafka_subscribe,
 *                  fetch.wait.max.ms=10, fetch.min.bytes=1) owns all
 *                  partitions; latency is the time rd_kafka_consumer_poll
 *                  handed it the message minus the send time. p50, p99, max.
 *                  Measurement starts only once the consumer holds its
 *                  assignment and has read one warm-up message from every
 *                  partition. linger.ms=1 rather than 0: with 0, each message
 *                  is its own ProduceRequest, and on a small machine the
 *                  mock's single thread falls behind at 10,000 msgs/s and its
 *                  latency climbs for the whole run (p99 in the hundreds of
 *                  ms), which makes the baseline meaningless; -L 0 measures
 *                  it anyway.
 *
 *   rebalance      3 -> 4 members, session.timeout.ms=6000, eager "range"
 *                  assignment. Three consumers (threads, each its own
 *                  rd_kafka_t) are stable and consuming what a feeder thread
 *                  writes (~1000 msgs/s); after a random part of one
 *                  heartbeat interval, a fourth subscribes. ms is from the
 *                  fourth's rd_kafka_subscribe until all four have had their
 *                  new assignment (rebalance_cb with ASSIGN_PARTITIONS, timed
 *                  per consumer on entry). The old members learn of the
 *                  rebalance only from a Heartbeat answer, so ms includes up
 *                  to heartbeat.interval.ms (HEARTBEAT_MS, default 1000) of
 *                  client-side waiting; after_revoke_ms is the part from the
 *                  last old member's revoke (its rejoin) to the last assign:
 *                  the broker's JoinGroup + SyncGroup round.
 *
 * Notes on the baseline: the mock is no speed target for groups. Its
 * coordinator (librdkafka 2.0.x) does not end a join phase when every member
 * has rejoined but runs it on timers (3 s for a group's first join, about
 * session.timeout.ms - 1000 after that), so its rebalance figure is 5 to 10 s
 * whatever the clients do. Its end-to-end p50 sits near half of
 * fetch.wait.max.ms, as if a waiting Fetch is not woken by new data.
 *
 * Output: "RESULT label kind key=value ..." lines for run.sh; notes go to
 * stderr. It never fails on a time: exit 1 only when messages were lost, a
 * delivery failed or a group never settled.
 */
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#define PARTITIONS         6
#define MEMBERS            4
#define VALUE_SIZE         100
#define SESSION_TIMEOUT_MS "6000"

static const char *brokers;
static const char *label = "sluice";
static const char *heartbeat_ms = "1000";
static const char *linger_ms = "1";
static rd_kafka_mock_cluster_t *mock;

static int64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t mono_ns(void)
{
    return clock_ns(CLOCK_MONOTONIC);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
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

/* A fresh topic: the mock's own API for the mock, CreateTopics for a real
 * broker (a failure is reported; auto-create is then the fallback). */
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
/* Producer                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct dr_count {
    atomic_long ok, failed;
} dr_count;

/* runs on: whichever thread calls rd_kafka_poll/flush on the producer */
static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    dr_count *d = opaque;
    if (!msg->err) {
        atomic_fetch_add(&d->ok, 1);
        return;
    }
    if (atomic_fetch_add(&d->failed, 1) == 0)
        fprintf(stderr, "bench: %s: delivery failed: %s\n", label, rd_kafka_err2str(msg->err));
}

static rd_kafka_t *new_producer(dr_count *d)
{
    char err[256];
    rd_kafka_conf_t *conf = new_conf();
    conf_must(conf, "acks", "all");
    conf_must(conf, "enable.idempotence", "false");
    conf_must(conf, "linger.ms", linger_ms);
    conf_must(conf, "message.timeout.ms", "60000");
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_conf_set_opaque(conf, d);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!rk) {
        fprintf(stderr, "producer: %s\n", err);
        exit(2);
    }
    return rk;
}

/* Value layout: int64 seq (-1: warm-up, not measured), int64 send time
 * (CLOCK_REALTIME ns), then filler; host byte order, read by this process. */
static int produce_one(rd_kafka_topic_t *rkt, int32_t part, int64_t seq)
{
    char val[VALUE_SIZE];
    int64_t now = clock_ns(CLOCK_REALTIME);
    memset(val + 16, 'x', sizeof(val) - 16);
    memcpy(val, &seq, 8);
    memcpy(val + 8, &now, 8);
    return rd_kafka_produce(rkt, part, RD_KAFKA_MSG_F_COPY, val, sizeof(val), NULL, 0, NULL);
}

/* ------------------------------------------------------------------------ */
/* Group members: one thread and one rd_kafka_t each                         */
/* ------------------------------------------------------------------------ */

enum { PHASE_NONE, PHASE_ASSIGNED, PHASE_REVOKED };

typedef struct member {
    rd_kafka_t *rk;
    const char *topic;
    pthread_t th;
    int id;
    atomic_int stop; /* set by main: close and destroy the consumer */
    /* written by the member's thread (rebalance_cb, poll loop), read by main */
    atomic_int phase;          /* PHASE_*: what the last rebalance event was */
    atomic_int held;           /* partitions in the current assignment */
    atomic_llong subscribe_ns; /* CLOCK_MONOTONIC just before rd_kafka_subscribe */
    atomic_llong assign_ns;    /* entry of the last ASSIGN_PARTITIONS callback */
    atomic_llong revoke_ns;    /* entry of the last REVOKE_PARTITIONS callback */
    atomic_long msgs;          /* messages since the last assignment */
    atomic_long warm;          /* warm-up messages (seq -1) */
    atomic_long measured;      /* messages with seq >= 0 */
    int64_t *lat_ns;           /* latency run only: cap entries, owned by main */
    long cap;
} member;

/* runs on: the member's thread, inside rd_kafka_consumer_poll */
static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    member *m = opaque;
    int64_t now = mono_ns();
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        rd_kafka_assign(rk, parts);
        atomic_store(&m->msgs, 0);
        atomic_store(&m->held, parts->cnt);
        atomic_store(&m->assign_ns, now);
        atomic_store(&m->phase, PHASE_ASSIGNED);
        return;
    }
    if (err != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS)
        fprintf(stderr, "bench: %s: member %d: rebalance error %s\n", label, m->id,
                rd_kafka_err2str(err));
    rd_kafka_assign(rk, NULL);
    atomic_store(&m->held, 0);
    atomic_store(&m->revoke_ns, now);
    atomic_store(&m->phase, PHASE_REVOKED);
}

/* Creates the consumer (not yet subscribed). Exits on a config error. */
static void member_create(member *m, int id, const char *group, const char *topic)
{
    char err[256], client_id[64];
    m->id = id;
    m->topic = topic;
    snprintf(client_id, sizeof(client_id), "bench-group-%d", id);
    rd_kafka_conf_t *conf = new_conf();
    conf_must(conf, "group.id", group);
    conf_must(conf, "client.id", client_id);
    conf_must(conf, "session.timeout.ms", SESSION_TIMEOUT_MS);
    conf_must(conf, "heartbeat.interval.ms", heartbeat_ms);
    conf_must(conf, "partition.assignment.strategy", "range");
    conf_must(conf, "fetch.wait.max.ms", "10");
    conf_must(conf, "fetch.min.bytes", "1");
    conf_must(conf, "auto.offset.reset", "earliest");
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    rd_kafka_conf_set_opaque(conf, m);
    m->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (!m->rk) {
        fprintf(stderr, "consumer: %s\n", err);
        exit(2);
    }
    rd_kafka_poll_set_consumer(m->rk);
}

/* The message's latency, if it is a measured one: now minus its send time. */
static void member_take(member *m, const rd_kafka_message_t *msg, int64_t now_real)
{
    int64_t seq, sent;
    atomic_fetch_add(&m->msgs, 1);
    if (msg->err || msg->len < 16)
        return;
    memcpy(&seq, msg->payload, 8);
    memcpy(&sent, (const char *)msg->payload + 8, 8);
    if (seq < 0) {
        atomic_fetch_add(&m->warm, 1);
        return;
    }
    long i = atomic_load(&m->measured);
    if (m->lat_ns && i < m->cap)
        m->lat_ns[i] = now_real - sent;
    atomic_store(&m->measured, i + 1); /* after the store: main reads up to it */
}

/* runs on: the member's own thread, the only one that touches m->rk until
 * it is joined. Subscribes, consumes until told to stop, closes (LeaveGroup)
 * and destroys the consumer. */
static void *member_loop(void *arg)
{
    member *m = arg;
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, m->topic, RD_KAFKA_PARTITION_UA);
    atomic_store(&m->subscribe_ns, mono_ns());
    rd_kafka_resp_err_t err = rd_kafka_subscribe(m->rk, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (err)
        fprintf(stderr, "bench: %s: member %d: subscribe: %s\n", label, m->id,
                rd_kafka_err2str(err));
    while (!atomic_load(&m->stop)) {
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(m->rk, 100);
        if (!msg)
            continue;
        member_take(m, msg, clock_ns(CLOCK_REALTIME));
        rd_kafka_message_destroy(msg);
    }
    rd_kafka_consumer_close(m->rk);
    rd_kafka_destroy(m->rk);
    m->rk = NULL;
    return NULL;
}

static void member_start(member *m)
{
    pthread_create(&m->th, NULL, member_loop, m);
}

/* Stops every member at once (their LeaveGroups overlap) and joins them. */
static void members_stop(member *ms, int n)
{
    for (int i = 0; i < n; i++)
        atomic_store(&ms[i].stop, 1);
    for (int i = 0; i < n; i++)
        pthread_join(ms[i].th, NULL);
}

/* True when each of the n members' last rebalance event is an assignment
 * made after since_ns, together they hold every partition, and (if
 * need_msgs) each has consumed since its assignment. Fills *last_ns with the
 * latest of those assignment times. */
static int members_settled(member *ms, int n, int64_t since_ns, int need_msgs, int64_t *last_ns)
{
    int held = 0;
    int64_t last = 0;
    for (int i = 0; i < n; i++) {
        int64_t at = atomic_load(&ms[i].assign_ns);
        if (atomic_load(&ms[i].phase) != PHASE_ASSIGNED || at <= since_ns)
            return 0;
        if (need_msgs && atomic_load(&ms[i].msgs) == 0)
            return 0;
        held += atomic_load(&ms[i].held);
        last = at > last ? at : last;
    }
    *last_ns = last;
    return held == PARTITIONS;
}

/* Waits until members_settled holds and the latest assignment has not
 * changed for quiet_ms. Returns 0 and sets *last_ns, or -1 after timeout_s. */
static int members_wait(member *ms, int n, int64_t since_ns, int need_msgs, int quiet_ms,
                        int timeout_s, int64_t *last_ns)
{
    int64_t t0 = mono_ns(), seen = -1, seen_at = 0;
    while (mono_ns() - t0 < (int64_t)timeout_s * 1000000000) {
        int64_t last;
        if (members_settled(ms, n, since_ns, need_msgs, &last)) {
            if (last != seen) {
                seen = last;
                seen_at = mono_ns();
            }
            if (mono_ns() - seen_at >= (int64_t)quiet_ms * 1000000) {
                *last_ns = last;
                return 0;
            }
        }
        sleep_ms(quiet_ms ? 10 : 1);
    }
    fprintf(stderr, "bench: %s: %d members did not settle within %d s:", label, n, timeout_s);
    for (int i = 0; i < n; i++)
        fprintf(stderr, " [%d phase=%d held=%d msgs=%ld]", i, atomic_load(&ms[i].phase),
                atomic_load(&ms[i].held), atomic_load(&ms[i].msgs));
    fprintf(stderr, "\n");
    return -1;
}

/* ------------------------------------------------------------------------ */
/* End-to-end latency at a fixed rate                                        */
/* ------------------------------------------------------------------------ */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

typedef struct poller {
    rd_kafka_t *rk;
    atomic_int stop;
} poller;

/* runs on: the poller thread, the only caller of rd_kafka_poll on the
 * producer while the pacing loop runs, so the pacing never waits on it */
static void *poll_loop(void *arg)
{
    poller *pl = arg;
    while (!atomic_load(&pl->stop))
        rd_kafka_poll(pl->rk, 50);
    return NULL;
}

/* Sends seq 0..n-1 at rate msgs/s, round-robin over the partitions.
 * Returns how many rd_kafka_produce refused. */
static long pace(rd_kafka_topic_t *rkt, long n, int rate)
{
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
        if (produce_one(rkt, (int32_t)(i % PARTITIONS), i) == -1)
            refused++;
    }
    return refused;
}

/* Waits until *counter reaches want or timeout_s passes; returns the count. */
static long wait_count(atomic_long *counter, long want, int timeout_s)
{
    int64_t t0 = mono_ns();
    long got;
    while ((got = atomic_load(counter)) < want && mono_ns() - t0 < (int64_t)timeout_s * 1000000000)
        sleep_ms(5);
    return got;
}

static void print_latency(int rate, member *c)
{
    long n = atomic_load(&c->measured);
    n = n < c->cap ? n : c->cap;
    qsort(c->lat_ns, (size_t)n, sizeof(int64_t), cmp_i64);
    printf("RESULT %s group_latency rate=%d partitions=%d msgs=%ld p50_ms=%.3f p99_ms=%.3f "
           "max_ms=%.3f\n",
           label, rate, PARTITIONS, n, c->lat_ns[n / 2] / 1e6, c->lat_ns[n * 99 / 100] / 1e6,
           c->lat_ns[n - 1] / 1e6);
    fflush(stdout);
}

static int group_latency(int rate, int secs)
{
    long n = (long)rate * secs;
    int rc = -1;
    dr_count d = {0};
    member c = {.lat_ns = malloc((size_t)n * sizeof(int64_t)), .cap = n};
    rd_kafka_t *rk = new_producer(&d);
    create_topic(rk, "bench-group-latency", PARTITIONS);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, "bench-group-latency", NULL);
    member_create(&c, 0, "bench-group-latency", "bench-group-latency");
    member_start(&c);
    int64_t last;
    if (members_wait(&c, 1, 0, 0, 200, 60, &last))
        goto out;
    /* warm-up: connections, metadata, offsets and fetchers, not measured */
    for (int p = 0; p < PARTITIONS; p++)
        produce_one(rkt, p, -1);
    rd_kafka_flush(rk, 10000);
    if (wait_count(&c.warm, PARTITIONS, 30) < PARTITIONS) {
        fprintf(stderr, "bench: %s: warm-up messages not consumed within 30 s\n", label);
        goto out;
    }
    poller pl = {.rk = rk};
    pthread_t th;
    pthread_create(&th, NULL, poll_loop, &pl);
    long refused = pace(rkt, n, rate);
    long got = wait_count(&c.measured, n, 30);
    atomic_store(&pl.stop, 1);
    pthread_join(th, NULL);
    rd_kafka_flush(rk, 10000);
    if (got > 0)
        print_latency(rate, &c);
    rc = got == n && !refused && !atomic_load(&d.failed) ? 0 : -1;
    if (rc)
        fprintf(stderr, "bench: %s: consumed %ld of %ld, %ld refused, %ld failed\n", label, got, n,
                refused, atomic_load(&d.failed));
out:
    members_stop(&c, 1);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    free(c.lat_ns);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Rebalance 3 -> 4                                                          */
/* ------------------------------------------------------------------------ */

typedef struct feeder {
    rd_kafka_t *rk;
    rd_kafka_topic_t *rkt;
    atomic_int stop;
} feeder;

/* runs on: the feeder thread, sole user of its producer: about 1000 msgs/s
 * so that the members are consuming while the group rebalances */
static void *feed_loop(void *arg)
{
    feeder *f = arg;
    for (long i = 0; !atomic_load(&f->stop); i++) {
        produce_one(f->rkt, (int32_t)(i % PARTITIONS), i);
        rd_kafka_poll(f->rk, 0);
        sleep_ms(1);
    }
    rd_kafka_flush(f->rk, 10000);
    return NULL;
}

static void print_rebalance(member *ms, int64_t last)
{
    int64_t t0 = atomic_load(&ms[MEMBERS - 1].subscribe_ns), revoked = 0;
    char per[128];
    size_t off = 0;
    for (int i = 0; i < MEMBERS; i++) {
        int64_t r = atomic_load(&ms[i].revoke_ns);
        revoked = r > t0 && r > revoked ? r : revoked;
        off += (size_t)snprintf(per + off, sizeof(per) - off, "%s%.1f", i ? "," : "",
                                (atomic_load(&ms[i].assign_ns) - t0) / 1e6);
    }
    printf("RESULT %s rebalance members=3to4 partitions=%d session_ms=%s heartbeat_ms=%s "
           "ms=%.1f after_revoke_ms=%.1f assign_ms=%s\n",
           label, PARTITIONS, SESSION_TIMEOUT_MS, heartbeat_ms, (last - t0) / 1e6,
           revoked ? (last - revoked) / 1e6 : -1.0, per);
    fflush(stdout);
}

static int rebalance(void)
{
    int rc = -1;
    dr_count d = {0};
    member ms[MEMBERS] = {0};
    feeder f = {.rk = new_producer(&d)};
    create_topic(f.rk, "bench-group-rebalance", PARTITIONS);
    f.rkt = rd_kafka_topic_new(f.rk, "bench-group-rebalance", NULL);
    pthread_t th;
    pthread_create(&th, NULL, feed_loop, &f);
    for (int i = 0; i < MEMBERS; i++)
        member_create(&ms[i], i, "bench-group-rebalance", "bench-group-rebalance");
    for (int i = 0; i < MEMBERS - 1; i++)
        member_start(&ms[i]);
    int started = MEMBERS - 1;
    int64_t last;
    /* stable: one settled generation, everyone consuming, quiet for 1 s */
    if (members_wait(ms, MEMBERS - 1, 0, 1, 1000, 60, &last))
        goto out;
    /* the old members heartbeat in step, one interval after their common
     * assignment; a newcomer arrives at no particular point of that cycle */
    srand((unsigned)mono_ns());
    sleep_ms(rand() % atoi(heartbeat_ms));
    member_start(&ms[MEMBERS - 1]);
    started = MEMBERS;
    while (!atomic_load(&ms[MEMBERS - 1].subscribe_ns))
        sleep_ms(1);
    if (members_wait(ms, MEMBERS, atomic_load(&ms[MEMBERS - 1].subscribe_ns), 0, 0, 30, &last))
        goto out;
    print_rebalance(ms, last);
    rc = 0;
out:
    members_stop(ms, started);
    for (int i = started; i < MEMBERS; i++)
        rd_kafka_destroy(ms[i].rk);
    atomic_store(&f.stop, 1);
    pthread_join(th, NULL);
    if (atomic_load(&d.failed))
        rc = -1;
    rd_kafka_topic_destroy(f.rkt);
    rd_kafka_destroy(f.rk);
    return rc;
}

int main(int argc, char **argv)
{
    int rate = 10000, secs = 5, use_mock = 0, c;
    while ((c = getopt(argc, argv, "b:Ml:r:d:H:L:")) != -1) {
        switch (c) {
        case 'b':
            brokers = optarg;
            break;
        case 'M':
            use_mock = 1;
            break;
        case 'l':
            label = optarg;
            break;
        case 'r':
            rate = atoi(optarg);
            break;
        case 'd':
            secs = atoi(optarg);
            break;
        case 'H':
            heartbeat_ms = optarg;
            break;
        case 'L':
            linger_ms = optarg;
            break;
        default:
            fprintf(stderr, "usage: bench_group (-b BROKERS | -M) [-l LABEL] [-r RATE] [-d SECS] "
                            "[-H HEARTBEAT_MS] [-L LINGER_MS]\n");
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
    if (!brokers || rate < 1 || secs < 1 || atoi(heartbeat_ms) < 1)
        return 2;
    int bad = 0;
    bad |= group_latency(rate, secs) != 0;
    bad |= rebalance() != 0;
    if (mock) {
        rd_kafka_mock_cluster_destroy(mock);
        rd_kafka_destroy(mrk);
    }
    return bad ? 1 : 0;
}
