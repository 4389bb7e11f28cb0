/*
 * cli_consume.c - "sluice consume": print the messages of a topic, the way
 * "kcat -C" does.
 *
 *   sluice consume -t TOPIC [-p PARTITION] [-o beginning|end|OFFSET|-N] [-e] [-c COUNT]
 *                  [-f FORMAT] [-K DELIM] [-Z] [-G GROUP]
 *
 * Two ways to read, chosen by -G:
 *
 * - Without -G (the default) the tool needs no consumer group, no group
 *   coordinator and commits nothing: it reads the partitions it finds in the
 *   topic's metadata (or the one given with -p) from the offset given with -o.
 *   librdkafka 2.0.2 refuses rd_kafka_assign() on a consumer without group.id
 *   ("Local: Unknown group"), so this path uses librdkafka's partition
 *   consumer (rd_kafka_consume_start_queue on one queue for all partitions),
 *   exactly as kcat does in its simple-consumer mode. A sluice broker that
 *   has no consumer groups yet serves it completely.
 * - With -G GROUP it joins the group with rd_kafka_subscribe, lets the group
 *   assign partitions, starts from the committed offsets (-o beginning|end
 *   only chooses where to start when the group has none) and commits
 *   automatically, as kafka-console-consumer does.
 *
 * -o takes beginning (the default, as in kcat), end, an absolute offset N, or
 * -N for the last N messages of each partition. -e stops once every
 * partition read is at its end (enable.partition.eof); -c stops after COUNT
 * messages. Ctrl-C stops cleanly.
 *
 * Output: each message is printed through a format, a kcat subset:
 *
 *   %t topic  %p partition  %o offset  %k key  %K key length  %s value
 *   %S value length  %T timestamp (ms, -1 if none)  %h headers as k=v,k=v
 *   %% a percent sign; \n \t \r \\ escapes
 *
 * The default is "%s\n", or "%k<DELIM>%s\n" with -K DELIM. Keys and values
 * are written as raw bytes (they may hold NULs); a null key or value prints
 * as nothing, or as NULL with -Z, and its length as -1. stdout is flushed
 * whenever the tool waits for more, so a reader at the other end of a pipe
 * sees messages as they come.
 *
 * runs on: the main thread; librdkafka's threads fetch into a queue this
 * thread polls. The signal handler only sets a flag.
 */
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_common.h"

typedef struct consume_args {
    sl_cli_common common;
    const char *topic;
    int32_t partition; /* -1: every partition */
    int64_t offset;    /* RD_KAFKA_OFFSET_* or absolute */
    const char *offset_text;
    int exit_at_end;       /* -e */
    int64_t count;         /* -c; 0: no limit */
    const char *format;    /* -f; NULL: the default */
    const char *key_delim; /* -K */
    const char *group;     /* -G */
    int null_text;         /* -Z */
} consume_args;

/* Reading state: which partitions are at their end, how many printed. */
typedef struct consume_state {
    consume_args *a;
    rd_kafka_t *rk;
    int32_t npart; /* size of at_eof */
    char *at_eof;  /* at_eof[p]: partition p is at its end */
    char *reading; /* reading[p]: partition p is being read (simple mode) */
    int64_t printed;
    int failed;
} consume_state;

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sluice consume -t TOPIC [options]\n"
            "\n"
            "Prints the messages of TOPIC. Without -G it reads every partition (or -p) from\n"
            "-o, with no consumer group and no commits.\n"
            "\n"
            "options:\n"
            "  -t, --topic TOPIC      topic to read (required)\n"
            "  -p, --partition N      read only partition N\n"
            "  -o, --offset O         beginning (default), end, an offset N, or -N for the\n"
            "                         last N messages of each partition\n"
            "  -e, --exit             stop when every partition read is at its end\n"
            "  -c, --count COUNT      stop after COUNT messages\n"
            "  -f, --format FMT       output format (default '%%s\\n', with -K '%%k<D>%%s\\n'):\n"
            "                         %%t topic %%p partition %%o offset %%k key %%K key length\n"
            "                         %%s value %%S value length %%T timestamp ms %%h headers\n"
            "                         %%%% percent; \\n \\t \\r \\\\ escapes\n"
            "  -K, --key-delimiter D  print key, D, value\n"
            "  -Z, --null-text        print null keys and values as NULL\n"
            "  -G, --group GROUP      join consumer group GROUP (subscribe, commit offsets)\n"
            "\n" SL_CLI_COMMON_USAGE "\n"
            "example:\n"
            "  sluice consume -t orders -o beginning -e -f '%%p/%%o %%k=%%s\\n'\n");
}

/* ------------------------------------------------------------------------ */
/* Command line                                                              */
/* ------------------------------------------------------------------------ */

static int parse_offset(consume_args *a, const char *s)
{
    int64_t v;

    a->offset_text = s;
    if (!strcmp(s, "beginning"))
        a->offset = RD_KAFKA_OFFSET_BEGINNING;
    else if (!strcmp(s, "end"))
        a->offset = RD_KAFKA_OFFSET_END;
    else if (!strcmp(s, "stored"))
        a->offset = RD_KAFKA_OFFSET_STORED;
    else if (sl_cli_common_parse_int(s, INT64_MIN + 1, INT64_MAX, &v) == 0)
        a->offset = v >= 0 ? v : RD_KAFKA_OFFSET_TAIL(-v);
    else
        return -1;
    return 0;
}

/* Returns -1 to go on, or the exit code to return now. */
static int check_args(consume_args *a)
{
    if (!a->topic) {
        sl_cli_common_fail(&a->common, "give the topic with -t TOPIC");
        return SL_CLI_USAGE;
    }
    if (a->group && a->partition >= 0) {
        sl_cli_common_fail(&a->common, "-p and -G do not go together: a group assigns "
                                       "partitions itself");
        return SL_CLI_USAGE;
    }
    if (a->group && a->offset != RD_KAFKA_OFFSET_BEGINNING && a->offset != RD_KAFKA_OFFSET_END &&
        a->offset != RD_KAFKA_OFFSET_STORED) {
        sl_cli_common_fail(&a->common, "with -G, -o is beginning or end (where to start when "
                                       "the group has no committed offset)");
        return SL_CLI_USAGE;
    }
    if (!a->group && a->offset == RD_KAFKA_OFFSET_STORED) {
        sl_cli_common_fail(&a->common, "-o stored needs a consumer group (-G GROUP)");
        return SL_CLI_USAGE;
    }
    return -1;
}

static int parse_args(consume_args *a, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"topic", 1, NULL, 't'},
        {"partition", 1, NULL, 'p'},
        {"offset", 1, NULL, 'o'},
        {"exit", 0, NULL, 'e'},
        {"count", 1, NULL, 'c'},
        {"format", 1, NULL, 'f'},
        {"key-delimiter", 1, NULL, 'K'},
        {"null-text", 0, NULL, 'Z'},
        {"group", 1, NULL, 'G'},
        SL_CLI_COMMON_LONG,
        {NULL, 0, NULL, 0},
    };
    int64_t v;
    int opt;

    optind = 0;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":t:p:o:ec:f:K:ZG:" SL_CLI_COMMON_SHORT, longopts,
                              NULL)) != -1) {
        switch (opt) {
        case 't':
            a->topic = optarg;
            break;
        case 'p':
            if (sl_cli_common_parse_int(optarg, 0, INT32_MAX, &v) < 0) {
                sl_cli_common_fail(&a->common, "-p expects a partition number, got '%s'", optarg);
                return SL_CLI_USAGE;
            }
            a->partition = (int32_t)v;
            break;
        case 'o':
            if (parse_offset(a, optarg) < 0) {
                sl_cli_common_fail(&a->common, "-o expects beginning, end, N or -N, got '%s'",
                                   optarg);
                return SL_CLI_USAGE;
            }
            break;
        case 'e':
            a->exit_at_end = 1;
            break;
        case 'c':
            if (sl_cli_common_parse_int(optarg, 1, INT64_MAX, &a->count) < 0) {
                sl_cli_common_fail(&a->common, "-c expects a positive count, got '%s'", optarg);
                return SL_CLI_USAGE;
            }
            break;
        case 'f':
            a->format = optarg;
            break;
        case 'K':
            a->key_delim = optarg;
            break;
        case 'Z':
            a->null_text = 1;
            break;
        case 'G':
            a->group = optarg;
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
    return check_args(a);
}

/* ------------------------------------------------------------------------ */
/* Output                                                                    */
/* ------------------------------------------------------------------------ */

static void put_bytes(consume_args *a, const void *p, size_t len, FILE *out)
{
    if (!p)
        fputs(a->null_text ? "NULL" : "", out);
    else
        fwrite(p, 1, len, out);
}

static void put_headers(const rd_kafka_message_t *m, FILE *out)
{
    rd_kafka_headers_t *hdrs = NULL;
    const char *name;
    const void *value;
    size_t size;

    if (rd_kafka_message_headers(m, &hdrs) || !hdrs)
        return;
    for (size_t i = 0; !rd_kafka_header_get_all(hdrs, i, &name, &value, &size); i++) {
        fprintf(out, "%s%s=", i ? "," : "", name);
        if (value)
            fwrite(value, 1, size, out);
    }
}

/* One %-conversion; returns 0, or -1 if c is not one we know. */
static int put_field(consume_args *a, const rd_kafka_message_t *m, char c, FILE *out)
{
    rd_kafka_timestamp_type_t tstype;

    switch (c) {
    case 't':
        fputs(rd_kafka_topic_name(m->rkt), out);
        break;
    case 'p':
        fprintf(out, "%d", (int)m->partition);
        break;
    case 'o':
        fprintf(out, "%lld", (long long)m->offset);
        break;
    case 'k':
        put_bytes(a, m->key, m->key_len, out);
        break;
    case 'K':
        fprintf(out, "%lld", m->key ? (long long)m->key_len : -1LL);
        break;
    case 's':
        put_bytes(a, m->payload, m->len, out);
        break;
    case 'S':
        fprintf(out, "%lld", m->payload ? (long long)m->len : -1LL);
        break;
    case 'T':
        fprintf(out, "%lld", (long long)rd_kafka_message_timestamp(m, &tstype));
        break;
    case 'h':
        put_headers(m, out);
        break;
    case '%':
        fputc('%', out);
        break;
    default:
        return -1;
    }
    return 0;
}

static int put_escape(char c, FILE *out)
{
    switch (c) {
    case 'n':
        fputc('\n', out);
        break;
    case 't':
        fputc('\t', out);
        break;
    case 'r':
        fputc('\r', out);
        break;
    case '\\':
        fputc('\\', out);
        break;
    default:
        return -1;
    }
    return 0;
}

static void print_message(consume_args *a, const rd_kafka_message_t *m, FILE *out)
{
    const char *f = a->format;

    if (!f) {
        if (a->key_delim) {
            put_bytes(a, m->key, m->key_len, out);
            fputs(a->key_delim, out);
        }
        put_bytes(a, m->payload, m->len, out);
        fputc('\n', out);
        return;
    }
    for (; *f; f++) {
        if (*f == '%' && f[1] && put_field(a, m, f[1], out) == 0)
            f++;
        else if (*f == '\\' && f[1] && put_escape(f[1], out) == 0)
            f++;
        else
            fputc(*f, out);
    }
}

/* Check the format once, so a typo is a usage error rather than odd output. */
static int check_format(consume_args *a)
{
    static const char fields[] = "tpokKsSTh%";
    static const char escapes[] = "ntr\\";

    for (const char *f = a->format; f && *f; f++) {
        if (*f == '%' && (!f[1] || !strchr(fields, f[1]))) {
            sl_cli_common_fail(&a->common,
                               "-f: unknown conversion '%%%c' (known: %%t %%p %%o "
                               "%%k %%K %%s %%S %%T %%h %%%%)",
                               f[1] ? f[1] : ' ');
            return -1;
        }
        if (*f == '\\' && (!f[1] || !strchr(escapes, f[1]))) {
            sl_cli_common_fail(&a->common,
                               "-f: unknown escape '\\%c' (known: \\n \\t \\r "
                               "\\\\)",
                               f[1] ? f[1] : ' ');
            return -1;
        }
        if (*f == '%' || *f == '\\')
            f++;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Reading                                                                   */
/* ------------------------------------------------------------------------ */

/* Are all partitions being read at their end? In group mode the assignment
 * says which partitions are ours. */
static int all_at_end(consume_state *cs)
{
    rd_kafka_topic_partition_list_t *asg = NULL;
    int n = 0, done = 1;

    if (!cs->a->group) {
        for (int32_t p = 0; p < cs->npart; p++) {
            if (cs->reading[p] && !cs->at_eof[p])
                return 0;
        }
        return 1;
    }
    if (rd_kafka_assignment(cs->rk, &asg) || !asg)
        return 0;
    for (int i = 0; i < asg->cnt; i++, n++) {
        int32_t p = asg->elems[i].partition;

        if (p < 0 || p >= cs->npart || !cs->at_eof[p])
            done = 0;
    }
    rd_kafka_topic_partition_list_destroy(asg);
    return done && n > 0;
}

static int is_fatal(rd_kafka_resp_err_t err)
{
    return err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
           err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC || err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION ||
           err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
           err == RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED || err == RD_KAFKA_RESP_ERR__FATAL;
}

/* Handle one event from the queue. Returns 1 when the tool should stop. */
static int handle_message(consume_state *cs, const rd_kafka_message_t *m)
{
    consume_args *a = cs->a;
    int32_t p = m->partition;

    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        if (p >= 0 && p < cs->npart)
            cs->at_eof[p] = 1;
        return a->exit_at_end && all_at_end(cs);
    }
    if (m->err) {
        if (m->rkt)
            sl_cli_common_fail(&a->common, "topic '%s' partition %d: %s",
                               rd_kafka_topic_name(m->rkt), (int)p, rd_kafka_message_errstr(m));
        else
            sl_cli_common_fail(&a->common, "%s", rd_kafka_message_errstr(m));
        if (is_fatal(m->err)) {
            cs->failed = 1;
            return 1;
        }
        return 0;
    }
    if (p >= 0 && p < cs->npart)
        cs->at_eof[p] = 0;
    print_message(a, m, stdout);
    cs->printed++;
    return a->count && cs->printed >= a->count;
}

/* The partitions to read, from metadata: fills cs->npart and cs->reading.
 * Returns 0 or -1 (printed). */
static int find_partitions(consume_state *cs)
{
    consume_args *a = cs->a;
    const rd_kafka_metadata_t *md = sl_cli_common_metadata(&a->common, cs->rk);
    const rd_kafka_metadata_topic_t *t;
    int rc = -1;

    if (!md)
        return -1;
    t = sl_cli_common_find_topic(md, a->topic);
    if (!t || t->err) {
        sl_cli_common_fail(&a->common, "cannot read topic '%s': %s", a->topic,
                           t ? rd_kafka_err2str(t->err) : "it does not exist");
        goto done;
    }
    for (int i = 0; i < t->partition_cnt; i++) {
        if (t->partitions[i].id >= cs->npart)
            cs->npart = t->partitions[i].id + 1;
    }
    cs->at_eof = calloc((size_t)cs->npart + 1, 1);
    cs->reading = calloc((size_t)cs->npart + 1, 1);
    if (!cs->at_eof || !cs->reading) {
        sl_cli_common_fail(&a->common, "out of memory");
        goto done;
    }
    for (int i = 0; i < t->partition_cnt; i++) {
        if (a->partition < 0 || t->partitions[i].id == a->partition)
            cs->reading[t->partitions[i].id] = 1;
    }
    if (a->partition >= cs->npart || (a->partition >= 0 && !cs->reading[a->partition])) {
        sl_cli_common_fail(&a->common,
                           "cannot read topic '%s' partition %d: the topic has "
                           "%d partitions",
                           a->topic, (int)a->partition, t->partition_cnt);
        goto done;
    }
    rc = 0;

done:
    rd_kafka_metadata_destroy(md);
    return rc;
}

/* Without a group: one partition consumer per partition, all on queue q. */
static void read_partitions(consume_state *cs)
{
    consume_args *a = cs->a;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(cs->rk, a->topic, NULL);
    rd_kafka_queue_t *q = rd_kafka_queue_new(cs->rk);
    int32_t p;
    int stop = 0;

    for (p = 0; p < cs->npart && !stop; p++) {
        if (cs->reading[p] && rd_kafka_consume_start_queue(rkt, p, a->offset, q) < 0) {
            sl_cli_common_fail(&a->common, "cannot start reading topic '%s' partition %d: %s",
                               a->topic, (int)p, rd_kafka_err2str(rd_kafka_last_error()));
            cs->reading[p] = 0;
            cs->failed = stop = 1;
        }
    }
    while (!stop && !stop_requested) {
        rd_kafka_message_t *m = rd_kafka_consume_queue(q, 200);

        if (!m) {
            fflush(stdout);
            continue;
        }
        stop = handle_message(cs, m);
        rd_kafka_message_destroy(m);
    }
    for (p = 0; p < cs->npart; p++) {
        if (cs->reading[p])
            rd_kafka_consume_stop(rkt, p);
    }
    rd_kafka_queue_destroy(q);
    rd_kafka_topic_destroy(rkt);
}

/* With -G: subscribe and let the group assign. */
static void read_group(consume_state *cs)
{
    consume_args *a = cs->a;
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_resp_err_t err;
    int stop = 0;

    rd_kafka_poll_set_consumer(cs->rk);
    rd_kafka_topic_partition_list_add(topics, a->topic, RD_KAFKA_PARTITION_UA);
    err = rd_kafka_subscribe(cs->rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (err) {
        sl_cli_common_fail(&a->common, "cannot subscribe group '%s' to topic '%s': %s", a->group,
                           a->topic, rd_kafka_err2str(err));
        cs->failed = 1;
        return;
    }
    while (!stop && !stop_requested) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(cs->rk, 200);

        if (!m) {
            fflush(stdout);
            continue;
        }
        stop = handle_message(cs, m);
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(cs->rk);
}

static rd_kafka_t *make_consumer(consume_args *a)
{
    const char *defaults[9];
    int n = 0;

    defaults[n++] = "enable.partition.eof";
    defaults[n++] = "true";
    if (a->group) {
        defaults[n++] = "group.id";
        defaults[n++] = a->group;
        defaults[n++] = "auto.offset.reset";
        defaults[n++] = a->offset == RD_KAFKA_OFFSET_END ? "latest" : "earliest";
    }
    defaults[n] = NULL;
    return sl_cli_common_client(&a->common, RD_KAFKA_CONSUMER, defaults);
}

int sl_cli_consume(int argc, char **argv)
{
    consume_args a;
    consume_state cs;
    struct sigaction sa, old_int, old_term;
    int rc;

    memset(&a, 0, sizeof(a));
    sl_cli_common_init(&a.common, "sluice consume");
    a.partition = -1;
    a.offset = RD_KAFKA_OFFSET_BEGINNING;
    rc = parse_args(&a, argc, argv);
    if (rc < 0 && check_format(&a) < 0)
        rc = SL_CLI_USAGE;
    if (rc >= 0) {
        if (rc == SL_CLI_USAGE)
            usage(stderr);
        return rc;
    }
    memset(&cs, 0, sizeof(cs));
    cs.a = &a;
    cs.rk = make_consumer(&a);
    if (!cs.rk)
        return SL_CLI_FAILED;

    stop_requested = 0;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    if (find_partitions(&cs) < 0)
        cs.failed = 1;
    else if (a.group)
        read_group(&cs);
    else
        read_partitions(&cs);
    fflush(stdout);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);

    rd_kafka_destroy(cs.rk);
    free(cs.at_eof);
    free(cs.reading);
    return cs.failed ? SL_CLI_FAILED : SL_CLI_OK;
}
