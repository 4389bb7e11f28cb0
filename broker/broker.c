/*
 * broker.c - `sluice broker`: the option table (Kafka's names and defaults),
 * start-up and shutdown.
 *
 * Where sluice's default differs from Kafka's it is on purpose and says so in
 * the doc column: log.flush.interval.messages defaults to 1, meaning a
 * produce with acks=1/all is answered only after its bytes are fdatasync'd
 * (one fsync per group of appends). Set it higher to get Kafka's page-cache
 * behaviour (acknowledge on write, flush every log.flush.interval.ms).
 */
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker.h"
#include "broker_internal.h"
#include "cleaner.h"
#include "config.h"
#include "group.h"
#include "logging.h"

#define OPT(name, type, def, field, doc) \
    {name, type, def, offsetof(sl_broker_conf, field), doc, 0, 0, 0}
#define OPTR(name, def, field, lo, hi, doc) \
    {name, SL_OPT_INT, def, offsetof(sl_broker_conf, field), doc, lo, hi, 0}

static const sl_option broker_options[] = {
    OPT("listeners", SL_OPT_STRING, "PLAINTEXT://:9092", listeners,
        "comma-separated PLAINTEXT://, SASL_PLAINTEXT://, SSL:// or SASL_SSL://host:port to "
        "listen on (empty host = all interfaces)"),
    OPT("sasl.users.file", SL_OPT_STRING, NULL, sasl_users_file,
        "SASL/PLAIN users of SASL_PLAINTEXT and SASL_SSL listeners: one user:password a line, "
        "'#' comments"),
    OPT("ssl.certificate.location", SL_OPT_STRING, NULL, ssl_certificate_location,
        "SSL and SASL_SSL listeners: the server certificate (PEM, then its chain)"),
    OPT("ssl.key.location", SL_OPT_STRING, NULL, ssl_key_location,
        "SSL and SASL_SSL listeners: the certificate's private key (PEM)"),
    OPT("ssl.key.password", SL_OPT_STRING, NULL, ssl_key_password,
        "the password of an encrypted ssl.key.location (secret)"),
    OPT("ssl.client.auth", SL_OPT_STRING, "none", ssl_client_auth,
        "client certificates on SSL and SASL_SSL listeners: none, requested (checked when "
        "sent) or required"),
    OPT("ssl.ca.location", SL_OPT_STRING, NULL, ssl_ca_location,
        "CA certificates (PEM) that client certificates must chain to (ssl.client.auth)"),
    OPT("advertised.listeners", SL_OPT_STRING, NULL, advertised_listeners,
        "addresses clients are told to connect to, one per listener type (SSL://h:p,...); a "
        "client is told the one of the listener it came in on (default: that listener; "
        "localhost when it binds all)"),
    OPT("log.dirs", SL_OPT_STRING, "/tmp/sluice-logs", log_dirs, "comma-separated data directories"),
    OPT("log.dir", SL_OPT_STRING, NULL, log_dirs, "alias of log.dirs"),
    OPT("admin.listeners", SL_OPT_STRING, "http://127.0.0.1:9644", admin_listeners,
        "http:// or https://host:port serving GET /metrics and /health (empty to disable)"),
    /* the registry's and the worker's listener keys, under admin. so that
     * they do not meet the Kafka listeners' ssl.* above */
    SL_HTTP_SECURITY_OPTIONS_PREFIXED(sl_broker_conf, admin_http, "admin.", "sluice"),
    OPTR("node.id", "1", node_id, 0, 2147483647, "this broker's id"),
    OPTR("broker.id", "1", node_id, 0, 2147483647, "alias of node.id"),
    OPTR("num.partitions", "1", num_partitions, 1, 100000, "partitions of auto-created topics"),
    OPT("auto.create.topics.enable", SL_OPT_BOOL, "true", auto_create_topics,
        "create a topic on first metadata request for it"),
    OPTR("default.replication.factor", "1", default_replication_factor, 1, 1,
         "replication factor of new topics (single node: 1)"),
    OPTR("log.segment.bytes", "1073741824", log_segment_bytes, 14, 2147483647, "segment size"),
    OPTR("log.roll.ms", "604800000", log_roll_ms, 1, INT64_MAX, "roll a segment this old"),
    {"log.roll.hours", SL_OPT_MS_HOURS, NULL, offsetof(sl_broker_conf, log_roll_ms),
     "roll time in hours (log.roll.ms wins)", 0, 0, 0},
    OPTR("log.retention.ms", "604800000", log_retention_ms, -1, INT64_MAX,
         "delete segments older than this (-1: keep forever)"),
    {"log.retention.minutes", SL_OPT_MS_MINUTES, NULL, offsetof(sl_broker_conf, log_retention_ms),
     "retention in minutes", 0, 0, 0},
    {"log.retention.hours", SL_OPT_MS_HOURS, NULL, offsetof(sl_broker_conf, log_retention_ms),
     "retention in hours", 0, 0, 0},
    OPTR("log.retention.bytes", "-1", log_retention_bytes, -1, INT64_MAX,
         "delete old segments while a partition is larger (-1: no limit)"),
    OPTR("log.retention.check.interval.ms", "300000", log_retention_check_interval_ms, 1,
         INT64_MAX, "how often retention runs"),
    OPTR("log.index.interval.bytes", "4096", log_index_interval_bytes, 1, 2147483647,
         "bytes of log between offset index entries"),
    OPTR("log.flush.interval.messages", "1", log_flush_interval_messages, 1, INT64_MAX,
         "1 (sluice default): acks=1/all answered after fdatasync, group commit; >1: Kafka's "
         "behaviour, answered after write and flushed every log.flush.interval.ms"),
    OPTR("log.flush.interval.ms", "1000", log_flush_interval_ms, 1, INT64_MAX,
         "background flush period when log.flush.interval.messages > 1"),
    OPTR("log.flush.scheduler.interval.ms", "1000", log_flush_scheduler_interval_ms, 1, INT64_MAX,
         "accepted for compatibility; log.flush.interval.ms drives the flusher"),
    OPTR("message.max.bytes", "1048588", message_max_bytes, 0, 2147483647,
         "largest record batch a producer may send"),
    OPTR("socket.request.max.bytes", "104857600", socket_request_max_bytes, 64, 2147483647,
         "largest request frame; larger ones close the connection"),
    OPTR("connections.max.idle.ms", "600000", connections_max_idle_ms, 1, INT64_MAX,
         "close a connection with no complete request read and nothing to send for this long "
         "(a stalled TLS or SASL handshake, half a request, a client that went silent)"),
    OPT("log.message.timestamp.type", SL_OPT_STRING, "CreateTime", log_message_timestamp_type,
        "CreateTime or LogAppendTime"),
    OPT("log.cleanup.policy", SL_OPT_STRING, "delete", log_cleanup_policy,
        "default cleanup.policy of topics"),
    OPTR("log.cleaner.backoff.ms", "15000", log_cleaner_backoff_ms, 0, INT64_MAX,
         "how often the log cleaner looks for a partition to compact"),
    OPTR("log.cleaner.dedupe.buffer.size", "134217728", log_cleaner_dedupe_buffer_size, 1024,
         INT64_MAX, "memory for the cleaner's key -> offset map (24 bytes a key)"),
    OPT("cluster.id", SL_OPT_STRING, "sluice-cluster", cluster_id, "cluster id in Metadata"),
    OPTR("offsets.topic.num.partitions", "50", offsets_topic_num_partitions, 1, 1000,
         "partitions of __consumer_offsets (fixed once created)"),
    OPTR("group.initial.rebalance.delay.ms", "3000", group_initial_rebalance_delay_ms, 0, INT64_MAX,
         "how long the first rebalance of an empty group waits for more members"),
    OPTR("group.min.session.timeout.ms", "6000", group_min_session_timeout_ms, 1, INT64_MAX,
         "smallest session.timeout.ms a consumer may ask for"),
    OPTR("group.max.session.timeout.ms", "1800000", group_max_session_timeout_ms, 1, INT64_MAX,
         "largest session.timeout.ms a consumer may ask for"),
    {NULL, 0, NULL, 0, NULL, 0, 0, 0},
};

/* Effective storage settings of a topic: its overrides over the broker's. */
void sl_broker_topic_logcfg(const sl_broker *b, json_t *ov, sl_log_config *cfg,
                            int64_t *max_message_bytes, int *log_append_time)
{
    const sl_broker_conf *c = &b->conf;
    json_t *v;
    sl_log_config_default(cfg);
    cfg->segment_bytes = c->log_segment_bytes;
    cfg->roll_ms = c->log_roll_ms;
    cfg->retention_ms = c->log_retention_ms;
    cfg->retention_bytes = c->log_retention_bytes;
    cfg->index_interval_bytes = (int32_t)c->log_index_interval_bytes;
    *max_message_bytes = c->message_max_bytes;
    *log_append_time = !strcmp(c->log_message_timestamp_type, "LogAppendTime");
    if (!ov)
        return;
#define OVR(key, dst)                                          \
    if ((v = json_object_get(ov, key)) && json_is_string(v)) \
        dst = strtoll(json_string_value(v), NULL, 10);
    OVR("segment.bytes", cfg->segment_bytes);
    OVR("segment.ms", cfg->roll_ms);
    OVR("retention.ms", cfg->retention_ms);
    OVR("retention.bytes", cfg->retention_bytes);
    OVR("index.interval.bytes", cfg->index_interval_bytes);
    OVR("max.message.bytes", *max_message_bytes);
#undef OVR
    if ((v = json_object_get(ov, "message.timestamp.type")) && json_is_string(v))
        *log_append_time = !strcmp(json_string_value(v), "LogAppendTime");
    /* compact without delete: the cleaner removes data, retention does not */
    const char *policy = c->log_cleanup_policy;
    if ((v = json_object_get(ov, "cleanup.policy")) && json_is_string(v))
        policy = json_string_value(v);
    if (policy && strstr(policy, "compact") && !strstr(policy, "delete"))
        cfg->retention_ms = cfg->retention_bytes = -1;
}

void sl_broker_describe_configs(sl_broker *b, sl_config_fn fn, void *arg)
{
    char buf[64];
    for (const sl_option *o = broker_options; o->name; o++) {
        const char *val = NULL;
        const char *base = (const char *)&b->conf + o->offset;
        if (o->type == SL_OPT_MS_HOURS || o->type == SL_OPT_MS_MINUTES || !strcmp(o->name, "log.dir") ||
            !strcmp(o->name, "broker.id"))
            continue;
        if (o->type == SL_OPT_STRING)
            val = *(char *const *)base;
        else if (o->type == SL_OPT_BOOL)
            val = *(const int *)base ? "true" : "false";
        else {
            snprintf(buf, sizeof(buf), "%lld", (long long)*(const int64_t *)base);
            val = buf;
        }
        /* the option rows say which are secret: "(secret)" in their doc */
        int secret = o->doc && strstr(o->doc, "(secret)") != NULL;
        fn(o->name, secret ? NULL : val, o->defval && val && !strcmp(o->defval, val), 1, secret,
           o->doc, arg);
    }
}

static int split_dirs(sl_broker *b, char *err, size_t errlen)
{
    char *s = strdup(b->conf.log_dirs), *save = NULL, *tok;
    for (tok = strtok_r(s, ",", &save); tok && b->ndirs < 16; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ')
            tok++;
        if (!*tok)
            continue;
        if (mkdir(tok, 0755) && access(tok, W_OK)) {
            /* mkdir -p for the common nested case */
            char path[4096];
            snprintf(path, sizeof(path), "%s", tok);
            for (char *p = path + 1; *p; p++)
                if (*p == '/') {
                    *p = 0;
                    mkdir(path, 0755);
                    *p = '/';
                }
            if (mkdir(path, 0755) && access(path, W_OK)) {
                snprintf(err, errlen, "log.dirs: cannot create or write '%s'", tok);
                free(s);
                return -1;
            }
        }
        b->dirs[b->ndirs++] = strdup(tok);
    }
    free(s);
    if (!b->ndirs) {
        snprintf(err, errlen, "log.dirs is empty");
        return -1;
    }
    return 0;
}

/* Every segment keeps its file open (sendfile, reads), as Kafka's do: ask
 * for as many descriptors as the hard limit allows. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static void usage(void)
{
    fprintf(stderr, "usage: sluice broker [--config FILE] [--set key=value ...]\n\nkeys:\n");
    sl_config_usage(broker_options, stderr);
}

int sl_broker_main(int argc, char **argv)
{
    return sl_broker_run(argc, argv, NULL);
}

int sl_broker_run(int argc, char **argv, const sl_broker_embed *embed)
{
    sl_broker *b = calloc(1, sizeof(*b));
    char err[1024];
    int rc = 1;

    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage();
            free(b);
            return 0;
        }
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();
    if (sl_config_defaults(broker_options, &b->conf, err, sizeof(err)) ||
        sl_config_parse_args(broker_options, &b->conf, argc, argv, err, sizeof(err))) {
        sl_error(SL_BROKER_COMPONENT, "config: %s", err);
        fprintf(stderr, "\n");
        usage();
        rc = 2;
        goto out;
    }
    if (strcmp(b->conf.log_message_timestamp_type, "CreateTime") &&
        strcmp(b->conf.log_message_timestamp_type, "LogAppendTime")) {
        sl_error(SL_BROKER_COMPONENT,
                 "config: log.message.timestamp.type must be CreateTime or LogAppendTime, got '%s'",
                 b->conf.log_message_timestamp_type);
        rc = 2;
        goto out;
    }
    /* the admin listener's files and users are read now, before any topic
     * is opened, so that a bad one stops the broker naming the key */
    b->conf.admin_http.key_prefix = "admin.";
    if (b->conf.admin_listeners && *b->conf.admin_listeners &&
        sl_http_security_check(b->conf.admin_listeners, &b->conf.admin_http, err, sizeof(err))) {
        sl_error(SL_BROKER_COMPONENT, "config: %s", err);
        rc = 2;
        goto out;
    }
    b->flush_on_ack = b->conf.log_flush_interval_messages <= 1;
    b->embed = embed;
    if (split_dirs(b, err, sizeof(err))) {
        sl_error(SL_BROKER_COMPONENT, "%s", err);
        goto out;
    }
    b->loop = uv_default_loop();
    if (sl_topics_load(b, err, sizeof(err))) {
        sl_error(SL_BROKER_COMPONENT, "loading topics: %s", err);
        goto out;
    }
    if (sl_groups_start(b, err, sizeof(err))) {
        sl_error(SL_BROKER_COMPONENT, "consumer groups: %s", err);
        sl_topics_close_all(b);
        goto out;
    }
    if (sl_server_start(b, err, sizeof(err))) {
        sl_error(SL_BROKER_COMPONENT, "%s", err);
        sl_topics_close_all(b);
        goto out;
    }
    if (sl_admin_start(b, err, sizeof(err))) {
        sl_error(SL_BROKER_COMPONENT, "%s", err);
        sl_server_stop(b);
        sl_topics_close_all(b);
        goto out;
    }
    sl_info(SL_BROKER_COMPONENT, "node %lld started: %zu topics, data in %s, durability: %s",
            (long long)b->conf.node_id, b->ntopics, b->conf.log_dirs,
            b->flush_on_ack ? "fsync before ack (group commit)" : "page cache, periodic flush");
    if (embed && embed->started)
        embed->started(embed->arg);
    uv_run(b->loop, UV_RUN_DEFAULT);
    sl_admin_stop(b);
    sl_topics_close_all(b);
    sl_cleaner_destroy(b);
    free(b->sync_parts);
    free(b->sync_points);
    sl_info(SL_BROKER_COMPONENT, "stopped cleanly");
    rc = 0;
out:
    for (int i = 0; i < b->ndirs; i++)
        free(b->dirs[i]);
    sl_config_free(broker_options, &b->conf);
    free(b);
    return rc;
}
