/*
 * cli_topics.c - "sluice topics": list, create, describe, delete and alter
 * topics on any Kafka-protocol broker, the way kafka-topics.sh does.
 *
 *   sluice topics list [--exclude-internal]
 *   sluice topics create --topic T [--partitions N] [--replication-factor R]
 *                        [--config k=v ...] [--if-not-exists]
 *   sluice topics describe [--topic T]
 *   sluice topics delete --topic T [--if-exists]
 *   sluice topics alter --topic T [--partitions N] [--config k=v ...] [--delete-config k ...]
 *
 * The action may also be given kafka-topics.sh style (--list, --create, ...),
 * so commands copied from Kafka's documentation work after replacing the
 * script name.
 *
 * Everything goes through librdkafka's Admin API (CreateTopics, DeleteTopics,
 * CreatePartitions, DescribeConfigs, AlterConfigs) and cluster metadata:
 *
 * - list and describe read metadata for all topics and filter locally, since a
 *   metadata request that names a topic may auto-create it on some brokers.
 * - describe prints kafka-topics.sh's lines; "Configs:" lists the topic's
 *   non-default configs from DescribeConfigs. A broker without DescribeConfigs
 *   still gets its partitions described, with a warning on stderr.
 * - alter of configs: librdkafka 2.0.2 (Debian 12) has no
 *   IncrementalAlterConfigs, and AlterConfigs replaces a topic's whole set of
 *   dynamic configs. So alter reads the current dynamic topic configs, applies
 *   --config and --delete-config to them and writes the full set back, as
 *   kafka-configs.sh did before KIP-339. Not atomic against a concurrent alter.
 * - When partitions are not given, create asks for the broker's defaults
 *   (num.partitions, KIP-464), as kafka-topics.sh does.
 *
 * Messages go to stdout only for what the user asked to see; every failure is
 * one line on stderr naming the topic, the operation and the broker's reason.
 *
 * runs on: the main thread; librdkafka's own threads deliver admin results to
 * a private queue polled here.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_common.h"

#define MAX_CONFIGS 128

enum action { ACT_NONE = 0, ACT_LIST, ACT_CREATE, ACT_DESCRIBE, ACT_DELETE, ACT_ALTER, NACTIONS };

static const char *const action_names[] = {
    [ACT_LIST] = "list",     [ACT_CREATE] = "create", [ACT_DESCRIBE] = "describe",
    [ACT_DELETE] = "delete", [ACT_ALTER] = "alter",
};

typedef struct topics_args {
    sl_cli_common common;
    int action; /* enum action */
    const char *topic;
    int64_t partitions;               /* -1: not given */
    int64_t replication;              /* -1: not given */
    const char *configs[MAX_CONFIGS]; /* "k=v", pointing into argv */
    int nconfigs;
    const char *delete_configs[MAX_CONFIGS];
    int ndelete_configs;
    int if_exists, if_not_exists, exclude_internal;
} topics_args;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sluice topics <action> [options]\n"
            "\n"
            "actions (or kafka-topics.sh style --list, --create, ...):\n"
            "  list                      topic names, one a line\n"
            "  create                    create --topic\n"
            "  describe                  partitions, leaders, replicas and non-default configs\n"
            "                            of --topic, or of every topic\n"
            "  delete                    delete --topic\n"
            "  alter                     add partitions to --topic or change its configs\n"
            "\n"
            "options:\n"
            "  -t, --topic T             the topic\n"
            "  --partitions N            create: partition count (default: the broker's\n"
            "                            num.partitions); alter: the new, larger count\n"
            "  --replication-factor R    create: replicas per partition (default: the broker's)\n"
            "  --config k=v              create, alter: set a topic config (repeatable)\n"
            "  --delete-config k         alter: return a config to its default (repeatable)\n"
            "  --if-not-exists           create: succeed if the topic already exists\n"
            "  --if-exists               delete, alter: succeed if the topic does not exist\n"
            "  --exclude-internal        list, describe: leave out topics named __*\n"
            "\n" SL_CLI_COMMON_USAGE "\n"
            "examples:\n"
            "  sluice topics create --topic orders --partitions 3 --config retention.ms=86400000\n"
            "  sluice topics describe --topic orders\n"
            "  sluice topics --bootstrap-server localhost:9092 --list\n");
}

/* ------------------------------------------------------------------------ */
/* Command line                                                              */
/* ------------------------------------------------------------------------ */

enum {
    OPT_PARTITIONS = 256,
    OPT_REPLICATION,
    OPT_CONFIG,
    OPT_DELETE_CONFIG,
    OPT_IF_EXISTS,
    OPT_IF_NOT_EXISTS,
    OPT_EXCLUDE_INTERNAL,
};

static int add_config(topics_args *a, const char **list, int *n, const char *value, int need_eq)
{
    if (*n == MAX_CONFIGS) {
        sl_cli_common_fail(&a->common, "too many configs (at most %d)", MAX_CONFIGS);
        return -1;
    }
    if (need_eq && (!strchr(value, '=') || value[0] == '=')) {
        sl_cli_common_fail(&a->common, "--config expects key=value, got '%s'", value);
        return -1;
    }
    if (!need_eq && (!*value || strchr(value, '='))) {
        sl_cli_common_fail(&a->common, "--delete-config expects a config name, got '%s'", value);
        return -1;
    }
    list[(*n)++] = value;
    return 0;
}

static int parse_count(topics_args *a, const char *flag, const char *value, int64_t *out)
{
    if (sl_cli_common_parse_int(value, 1, INT32_MAX, out) == 0)
        return 0;
    sl_cli_common_fail(&a->common, "%s expects a positive integer, got '%s'", flag, value);
    return -1;
}

static const struct option longopts[] = {
    {"topic", 1, NULL, 't'},
    {"partitions", 1, NULL, OPT_PARTITIONS},
    {"replication-factor", 1, NULL, OPT_REPLICATION},
    {"config", 1, NULL, OPT_CONFIG},
    {"delete-config", 1, NULL, OPT_DELETE_CONFIG},
    {"if-exists", 0, NULL, OPT_IF_EXISTS},
    {"if-not-exists", 0, NULL, OPT_IF_NOT_EXISTS},
    {"exclude-internal", 0, NULL, OPT_EXCLUDE_INTERNAL},
    {NULL, 0, NULL, 0},
};

/* One of the tool's own options (sl_cli_tool.option). */
static int topics_option(void *args, int opt, const char *value)
{
    topics_args *a = args;

    switch (opt) {
    case 't':
        a->topic = value;
        break;
    case OPT_PARTITIONS:
        if (parse_count(a, "--partitions", value, &a->partitions) < 0)
            return SL_CLI_USAGE;
        break;
    case OPT_REPLICATION:
        if (parse_count(a, "--replication-factor", value, &a->replication) < 0)
            return SL_CLI_USAGE;
        break;
    case OPT_CONFIG:
        if (add_config(a, a->configs, &a->nconfigs, value, 1) < 0)
            return SL_CLI_USAGE;
        break;
    case OPT_DELETE_CONFIG:
        if (add_config(a, a->delete_configs, &a->ndelete_configs, value, 0) < 0)
            return SL_CLI_USAGE;
        break;
    case OPT_IF_EXISTS:
        a->if_exists = 1;
        break;
    case OPT_IF_NOT_EXISTS:
        a->if_not_exists = 1;
        break;
    case OPT_EXCLUDE_INTERNAL:
        a->exclude_internal = 1;
        break;
    default:
        return SL_CLI_USAGE;
    }
    return 0;
}

/* Check which options go with which action. */
static int topics_check(void *args)
{
    topics_args *a = args;
    const char *name = action_names[a->action];

    if ((a->action == ACT_CREATE || a->action == ACT_DELETE || a->action == ACT_ALTER) &&
        !a->topic) {
        sl_cli_common_fail(&a->common, "%s needs --topic", name);
        return -1;
    }
    if (a->replication > 0 && a->action != ACT_CREATE) {
        sl_cli_common_fail(&a->common, "--replication-factor goes with create only");
        return -1;
    }
    if (a->partitions > 0 && a->action != ACT_CREATE && a->action != ACT_ALTER) {
        sl_cli_common_fail(&a->common, "--partitions goes with create or alter");
        return -1;
    }
    if (a->nconfigs && a->action != ACT_CREATE && a->action != ACT_ALTER) {
        sl_cli_common_fail(&a->common, "--config goes with create or alter");
        return -1;
    }
    if (a->ndelete_configs && a->action != ACT_ALTER) {
        sl_cli_common_fail(&a->common, "--delete-config goes with alter only");
        return -1;
    }
    if (a->action == ACT_ALTER && a->partitions < 0 && !a->nconfigs && !a->ndelete_configs) {
        sl_cli_common_fail(&a->common, "alter needs --partitions, --config or --delete-config");
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Admin requests                                                            */
/* ------------------------------------------------------------------------ */

/* The per-topic results in a CreateTopics, DeleteTopics or CreatePartitions
 * result event. */
static const rd_kafka_topic_result_t **topic_results(rd_kafka_event_t *ev, size_t *n)
{
    *n = 0;
    switch (rd_kafka_event_type(ev)) {
    case RD_KAFKA_EVENT_CREATETOPICS_RESULT:
        return rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), n);
    case RD_KAFKA_EVENT_DELETETOPICS_RESULT:
        return rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev), n);
    case RD_KAFKA_EVENT_CREATEPARTITIONS_RESULT:
        return rd_kafka_CreatePartitions_result_topics(rd_kafka_event_CreatePartitions_result(ev),
                                                       n);
    default:
        return NULL;
    }
}

/* Judge the answer ev (from sl_cli_admin_wait; NULL: failed, printed) to a
 * request about one topic, then destroy it. When the topic's request
 * succeeded, prints done on stdout and returns SL_CLI_OK; SL_CLI_OK too,
 * silently, when it failed with the tolerated error (NO_ERROR: none is);
 * else SL_CLI_FAILED, after printing the broker's reason. */
static int topic_answer(topics_args *a, rd_kafka_event_t *ev, const char *doing,
                        rd_kafka_resp_err_t tolerated, const char *done)
{
    size_t n = 0;
    const rd_kafka_topic_result_t **results = ev ? topic_results(ev, &n) : NULL;
    rd_kafka_resp_err_t err = n == 1 ? rd_kafka_topic_result_error(results[0]) : 0;
    const char *why = n == 1 ? rd_kafka_topic_result_error_string(results[0]) : NULL;
    int rc = SL_CLI_FAILED;

    if (n == 1 && !err)
        puts(done);
    if (n == 1 && (!err || (tolerated && err == tolerated)))
        rc = SL_CLI_OK;
    else if (n == 1)
        sl_cli_common_fail(&a->common, "cannot %s: %s", doing,
                           why && *why ? why : rd_kafka_err2str(err));
    else if (ev) /* NULL ev was reported by sl_cli_admin_wait */
        sl_cli_common_fail(&a->common, "cannot %s: the broker answered about %zu topics, not 1",
                           doing, n);
    if (ev)
        rd_kafka_event_destroy(ev);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* list                                                                      */
/* ------------------------------------------------------------------------ */

static int cmp_str(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

static int is_internal(const char *topic)
{
    return topic[0] == '_' && topic[1] == '_';
}

static int do_list(topics_args *a, rd_kafka_t *rk)
{
    const rd_kafka_metadata_t *md = sl_cli_common_metadata(&a->common, rk);
    const char **names;
    int n = 0;

    if (!md)
        return SL_CLI_FAILED;
    names = calloc((size_t)md->topic_cnt + 1, sizeof(*names));
    if (!names) {
        rd_kafka_metadata_destroy(md);
        sl_cli_common_fail(&a->common, "out of memory");
        return SL_CLI_FAILED;
    }
    for (int i = 0; i < md->topic_cnt; i++) {
        if (!md->topics[i].err && !(a->exclude_internal && is_internal(md->topics[i].topic)))
            names[n++] = md->topics[i].topic;
    }
    qsort(names, (size_t)n, sizeof(*names), cmp_str);
    for (int i = 0; i < n; i++)
        printf("%s\n", names[i]);
    free(names);
    rd_kafka_metadata_destroy(md);
    return SL_CLI_OK;
}

/* ------------------------------------------------------------------------ */
/* describe                                                                  */
/* ------------------------------------------------------------------------ */

/* Send DescribeConfigs for n topics; returns the result event or NULL (the
 * error already printed, prefixed by doing). */
static rd_kafka_event_t *describe_configs(topics_args *a, rd_kafka_t *rk, const char **topics,
                                          int n, const char *doing)
{
    rd_kafka_ConfigResource_t **res = calloc((size_t)n + 1, sizeof(*res));
    sl_cli_admin req;
    rd_kafka_event_t *ev;

    if (!res) {
        sl_cli_common_fail(&a->common, "out of memory");
        return NULL;
    }
    for (int i = 0; i < n; i++)
        res[i] = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topics[i]);
    sl_cli_admin_begin(&req, rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
    rd_kafka_DescribeConfigs(rk, res, (size_t)n, req.options, req.queue);
    ev = sl_cli_admin_wait(&a->common, &req, doing);
    rd_kafka_ConfigResource_destroy_array(res, (size_t)n);
    free(res);
    return ev;
}

/* The described resource for topic in a DescribeConfigs result, or NULL. */
static const rd_kafka_ConfigResource_t *find_resource(rd_kafka_event_t *ev, const char *topic)
{
    const rd_kafka_DescribeConfigs_result_t *r = rd_kafka_event_DescribeConfigs_result(ev);
    size_t n = 0;
    const rd_kafka_ConfigResource_t **res = rd_kafka_DescribeConfigs_result_resources(r, &n);

    for (size_t i = 0; i < n; i++) {
        if (!strcmp(rd_kafka_ConfigResource_name(res[i]), topic))
            return res[i];
    }
    return NULL;
}

/* Print the "k=v,k=v" list of a topic's non-default configs. */
static void print_configs(topics_args *a, rd_kafka_event_t *ev, const char *topic)
{
    const rd_kafka_ConfigResource_t *res = ev ? find_resource(ev, topic) : NULL;
    const rd_kafka_ConfigEntry_t **entries;
    size_t n = 0;
    int printed = 0;

    if (!res)
        return;
    if (rd_kafka_ConfigResource_error(res)) {
        sl_cli_common_fail(&a->common, "warning: cannot describe configs of topic '%s': %s", topic,
                           rd_kafka_ConfigResource_error_string(res));
        return;
    }
    entries = rd_kafka_ConfigResource_configs(res, &n);
    for (size_t i = 0; i < n; i++) {
        const rd_kafka_ConfigEntry_t *e = entries[i];
        const char *value = rd_kafka_ConfigEntry_value(e);

        if (rd_kafka_ConfigEntry_is_default(e))
            continue;
        printf("%s%s=%s", printed++ ? "," : "", rd_kafka_ConfigEntry_name(e),
               rd_kafka_ConfigEntry_is_sensitive(e) || !value ? "(sensitive)" : value);
    }
}

static int cmp_partition(const void *x, const void *y)
{
    const rd_kafka_metadata_partition_t *p = x, *q = y;

    return (p->id > q->id) - (p->id < q->id);
}

static void print_int_list(const int32_t *v, int n)
{
    for (int i = 0; i < n; i++)
        printf("%s%d", i ? "," : "", (int)v[i]);
}

static void print_topic(topics_args *a, rd_kafka_metadata_topic_t *t, rd_kafka_event_t *cfg)
{
    qsort(t->partitions, (size_t)t->partition_cnt, sizeof(*t->partitions), cmp_partition);
    printf("Topic: %s\tPartitionCount: %d\tReplicationFactor: %d\tConfigs: ", t->topic,
           t->partition_cnt, t->partition_cnt ? t->partitions[0].replica_cnt : 0);
    print_configs(a, cfg, t->topic);
    printf("\n");
    for (int i = 0; i < t->partition_cnt; i++) {
        const rd_kafka_metadata_partition_t *p = &t->partitions[i];

        printf("\tTopic: %s\tPartition: %d\tLeader: ", t->topic, (int)p->id);
        if (p->leader < 0)
            printf("none");
        else
            printf("%d", (int)p->leader);
        printf("\tReplicas: ");
        print_int_list(p->replicas, p->replica_cnt);
        printf("\tIsr: ");
        print_int_list(p->isrs, p->isr_cnt);
        if (p->err)
            printf("\tError: %s", rd_kafka_err2str(p->err));
        printf("\n");
    }
}

static int cmp_topic(const void *x, const void *y)
{
    const rd_kafka_metadata_topic_t *p = x, *q = y;

    return strcmp(p->topic, q->topic);
}

static int do_describe(topics_args *a, rd_kafka_t *rk)
{
    const rd_kafka_metadata_t *md = sl_cli_common_metadata(&a->common, rk);
    rd_kafka_metadata_topic_t *topics;
    const char **names = NULL;
    rd_kafka_event_t *cfg = NULL;
    int n = 0, rc = SL_CLI_FAILED;

    if (!md)
        return SL_CLI_FAILED;
    /* librdkafka hands metadata out as const but owns a private copy per
     * call; sorting it in place is how we print in order without copying. */
    topics = (rd_kafka_metadata_topic_t *)md->topics;
    names = calloc((size_t)md->topic_cnt + 1, sizeof(*names));
    if (!names) {
        sl_cli_common_fail(&a->common, "out of memory");
        goto done;
    }
    qsort(topics, (size_t)md->topic_cnt, sizeof(*topics), cmp_topic);
    for (int i = 0; i < md->topic_cnt; i++) {
        if (a->topic && strcmp(topics[i].topic, a->topic))
            continue;
        if (a->exclude_internal && is_internal(topics[i].topic))
            continue;
        names[n++] = topics[i].topic;
    }
    if (a->topic && !n) {
        if (a->if_exists)
            rc = SL_CLI_OK;
        else
            sl_cli_common_fail(&a->common, "topic '%s' does not exist", a->topic);
        goto done;
    }
    if (n) {
        cfg = describe_configs(a, rk, names, n, "describe topic configs");
        if (!cfg)
            sl_cli_common_fail(&a->common, "warning: describing topics without their configs");
    }
    for (int i = 0; i < md->topic_cnt; i++) {
        if (a->topic && strcmp(topics[i].topic, a->topic))
            continue;
        if (a->exclude_internal && is_internal(topics[i].topic))
            continue;
        print_topic(a, &topics[i], cfg);
    }
    rc = SL_CLI_OK;

done:
    if (cfg)
        rd_kafka_event_destroy(cfg);
    free(names);
    rd_kafka_metadata_destroy(md);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* create, delete                                                            */
/* ------------------------------------------------------------------------ */

static int do_create(topics_args *a, rd_kafka_t *rk)
{
    char err[512], key[256], doing[512], done[512];
    const char *value;
    rd_kafka_NewTopic_t *nt;
    sl_cli_admin req;
    int rc;

    nt = rd_kafka_NewTopic_new(a->topic, (int)a->partitions, (int)a->replication, err, sizeof(err));
    if (!nt) {
        sl_cli_common_fail(&a->common, "cannot create topic '%s': %s", a->topic, err);
        return SL_CLI_FAILED;
    }
    for (int i = 0; i < a->nconfigs; i++) {
        if (sl_cli_common_split_kv(a->configs[i], key, sizeof(key), &value) < 0 ||
            rd_kafka_NewTopic_set_config(nt, key, value)) {
            sl_cli_common_fail(&a->common, "cannot create topic '%s': bad config '%s'", a->topic,
                               a->configs[i]);
            rd_kafka_NewTopic_destroy(nt);
            return SL_CLI_FAILED;
        }
    }
    snprintf(doing, sizeof(doing), "create topic '%s'", a->topic);
    snprintf(done, sizeof(done), "Created topic %s.", a->topic);
    sl_cli_admin_begin(&req, rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_CreateTopics(rk, &nt, 1, req.options, req.queue);
    rc = topic_answer(a, sl_cli_admin_wait(&a->common, &req, doing), doing,
                      a->if_not_exists ? RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS
                                       : RD_KAFKA_RESP_ERR_NO_ERROR,
                      done);
    rd_kafka_NewTopic_destroy(nt);
    return rc;
}

static int do_delete(topics_args *a, rd_kafka_t *rk)
{
    rd_kafka_DeleteTopic_t *dt = rd_kafka_DeleteTopic_new(a->topic);
    char doing[512], done[512];
    sl_cli_admin req;
    int rc;

    snprintf(doing, sizeof(doing), "delete topic '%s'", a->topic);
    snprintf(done, sizeof(done), "Deleted topic %s.", a->topic);
    sl_cli_admin_begin(&req, rk, RD_KAFKA_ADMIN_OP_DELETETOPICS);
    rd_kafka_DeleteTopics(rk, &dt, 1, req.options, req.queue);
    rc = topic_answer(
        a, sl_cli_admin_wait(&a->common, &req, doing), doing,
        a->if_exists ? RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART : RD_KAFKA_RESP_ERR_NO_ERROR, done);
    rd_kafka_DeleteTopic_destroy(dt);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* alter                                                                     */
/* ------------------------------------------------------------------------ */

static int alter_partitions(topics_args *a, rd_kafka_t *rk)
{
    char err[512], doing[512], done[512];
    rd_kafka_NewPartitions_t *np;
    sl_cli_admin req;
    int rc;

    np = rd_kafka_NewPartitions_new(a->topic, (size_t)a->partitions, err, sizeof(err));
    if (!np) {
        sl_cli_common_fail(&a->common, "cannot alter topic '%s': %s", a->topic, err);
        return -1;
    }
    snprintf(doing, sizeof(doing), "increase the partitions of topic '%s' to %lld", a->topic,
             (long long)a->partitions);
    snprintf(done, sizeof(done), "Topic %s now has %lld partitions.", a->topic,
             (long long)a->partitions);
    sl_cli_admin_begin(&req, rk, RD_KAFKA_ADMIN_OP_CREATEPARTITIONS);
    rd_kafka_CreatePartitions(rk, &np, 1, req.options, req.queue);
    rc = topic_answer(a, sl_cli_admin_wait(&a->common, &req, doing), doing,
                      RD_KAFKA_RESP_ERR_NO_ERROR, done);
    rd_kafka_NewPartitions_destroy(np);
    return rc == SL_CLI_OK ? 0 : -1;
}

static int is_deleted(topics_args *a, const char *name)
{
    for (int i = 0; i < a->ndelete_configs; i++) {
        if (!strcmp(a->delete_configs[i], name))
            return 1;
    }
    return 0;
}

static int is_overridden(topics_args *a, const char *name)
{
    char key[256];
    const char *value;

    for (int i = 0; i < a->nconfigs; i++) {
        if (sl_cli_common_split_kv(a->configs[i], key, sizeof(key), &value) == 0 &&
            !strcmp(key, name))
            return 1;
    }
    return 0;
}

/* Fill res with the topic's dynamic configs that stay, checking that every
 * --delete-config names one that is set. Returns 0 or -1 (printed). */
static int carry_dynamic_configs(topics_args *a, const rd_kafka_ConfigResource_t *cur,
                                 rd_kafka_ConfigResource_t *res)
{
    size_t n = 0;
    const rd_kafka_ConfigEntry_t **entries = rd_kafka_ConfigResource_configs(cur, &n);

    for (int d = 0; d < a->ndelete_configs; d++) {
        int found = 0;

        for (size_t i = 0; i < n; i++) {
            if (rd_kafka_ConfigEntry_source(entries[i]) ==
                    RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG &&
                !strcmp(rd_kafka_ConfigEntry_name(entries[i]), a->delete_configs[d]))
                found = 1;
        }
        if (!found) {
            sl_cli_common_fail(&a->common,
                               "cannot delete config '%s' of topic '%s': it is not "
                               "set on the topic",
                               a->delete_configs[d], a->topic);
            return -1;
        }
    }
    for (size_t i = 0; i < n; i++) {
        const rd_kafka_ConfigEntry_t *e = entries[i];
        const char *name = rd_kafka_ConfigEntry_name(e);
        const char *value = rd_kafka_ConfigEntry_value(e);

        if (rd_kafka_ConfigEntry_source(e) != RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG ||
            is_deleted(a, name) || is_overridden(a, name))
            continue;
        if (!value) {
            sl_cli_common_fail(&a->common,
                               "cannot alter configs of topic '%s': the broker "
                               "hides the value of '%s', which a full AlterConfigs would lose",
                               a->topic, name);
            return -1;
        }
        rd_kafka_ConfigResource_set_config(res, name, value);
    }
    return 0;
}

/* 0 if the broker answered for the topic's config resource r (NULL: it did
 * not) without an error, else -1 after printing why. */
static int resource_ok(topics_args *a, const rd_kafka_ConfigResource_t *r, const char *doing)
{
    if (r && !rd_kafka_ConfigResource_error(r))
        return 0;
    sl_cli_common_fail(&a->common, "cannot %s: %s", doing,
                       r ? rd_kafka_ConfigResource_error_string(r)
                         : "the broker did not answer for it");
    return -1;
}

static int alter_configs(topics_args *a, rd_kafka_t *rk)
{
    const char *names[1] = {a->topic};
    char doing[512], key[256];
    const char *value;
    rd_kafka_event_t *cur, *ev = NULL;
    const rd_kafka_ConfigResource_t *cur_res;
    rd_kafka_ConfigResource_t *res = NULL;
    sl_cli_admin req;
    const rd_kafka_ConfigResource_t **results;
    size_t n = 0;
    int rc = -1;

    snprintf(doing, sizeof(doing), "read the configs of topic '%s' (needed to alter them)",
             a->topic);
    cur = describe_configs(a, rk, names, 1, doing);
    if (!cur)
        return -1;
    cur_res = find_resource(cur, a->topic);
    if (resource_ok(a, cur_res, doing) < 0)
        goto done;
    res = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, a->topic);
    if (carry_dynamic_configs(a, cur_res, res) < 0)
        goto done;
    for (int i = 0; i < a->nconfigs; i++) {
        if (sl_cli_common_split_kv(a->configs[i], key, sizeof(key), &value) == 0)
            rd_kafka_ConfigResource_set_config(res, key, value);
    }
    sl_cli_admin_begin(&req, rk, RD_KAFKA_ADMIN_OP_ALTERCONFIGS);
    rd_kafka_AlterConfigs(rk, &res, 1, req.options, req.queue);
    snprintf(doing, sizeof(doing), "alter the configs of topic '%s'", a->topic);
    ev = sl_cli_admin_wait(&a->common, &req, doing);
    if (!ev)
        goto done;
    results = rd_kafka_AlterConfigs_result_resources(rd_kafka_event_AlterConfigs_result(ev), &n);
    if (resource_ok(a, n == 1 ? results[0] : NULL, doing) < 0)
        goto done;
    printf("Altered the configs of topic %s.\n", a->topic);
    rc = 0;

done:
    if (ev)
        rd_kafka_event_destroy(ev);
    if (res)
        rd_kafka_ConfigResource_destroy(res);
    rd_kafka_event_destroy(cur);
    return rc;
}

static int do_alter(topics_args *a, rd_kafka_t *rk)
{
    const rd_kafka_metadata_t *md = sl_cli_common_metadata(&a->common, rk);
    int exists;

    if (!md)
        return SL_CLI_FAILED;
    exists = sl_cli_common_find_topic(md, a->topic) != NULL;
    rd_kafka_metadata_destroy(md);
    if (!exists) {
        if (a->if_exists)
            return SL_CLI_OK;
        sl_cli_common_fail(&a->common, "cannot alter topic '%s': it does not exist", a->topic);
        return SL_CLI_FAILED;
    }
    if (a->partitions > 0 && alter_partitions(a, rk) < 0)
        return SL_CLI_FAILED;
    if ((a->nconfigs || a->ndelete_configs) && alter_configs(a, rk) < 0)
        return SL_CLI_FAILED;
    return SL_CLI_OK;
}

/* ------------------------------------------------------------------------ */
/* Entry point                                                               */
/* ------------------------------------------------------------------------ */

/* Run the action (sl_cli_tool.run). */
static int topics_run(void *args, rd_kafka_t *rk)
{
    static int (*const run[])(topics_args *, rd_kafka_t *) = {
        [ACT_LIST] = do_list,     [ACT_CREATE] = do_create, [ACT_DESCRIBE] = do_describe,
        [ACT_DELETE] = do_delete, [ACT_ALTER] = do_alter,
    };
    topics_args *a = args;

    return run[a->action](a, rk);
}

static const sl_cli_tool topics_tool = {
    .shortopts = "t:",
    .longopts = longopts,
    .actions = action_names,
    .nactions = NACTIONS,
    .option = topics_option,
    .check = topics_check,
    .run = topics_run,
    .usage = usage,
};

int sl_cli_topics(int argc, char **argv)
{
    topics_args a;

    memset(&a, 0, sizeof(a));
    sl_cli_common_init(&a.common, "sluice topics");
    a.partitions = -1;
    a.replication = -1;
    return sl_cli_common_run(&topics_tool, &a, &a.common, &a.action, argc, argv);
}
