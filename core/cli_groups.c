/*
 * cli_groups.c - "sluice groups": list, describe, delete consumer groups and
 * reset their committed offsets on any Kafka-protocol broker, the way
 * kafka-consumer-groups.sh does.
 *
 *   sluice groups list
 *   sluice groups describe --group G [--group G2 ...] | --all-groups
 *   sluice groups delete --group G [--group G2 ...]
 *   sluice groups reset-offsets --group G --topic T
 *                 --to-earliest | --to-latest | --to-offset N  [--dry-run | --execute]
 *
 * The action may also be given kafka-consumer-groups.sh style (--list,
 * --describe, --delete, --reset-offsets), so commands copied from Kafka's
 * documentation work after replacing the script name.
 *
 * Everything goes through librdkafka's Admin API (2.0.2 has the consumer
 * group calls): ListConsumerGroups (ListGroups), DescribeConsumerGroups
 * (FindCoordinator + DescribeGroups), ListConsumerGroupOffsets (OffsetFetch
 * for all of a group's partitions), AlterConsumerGroupOffsets (an
 * OffsetCommit outside any generation, which a coordinator accepts only
 * while the group has no members) and DeleteGroups, plus ListOffsets through
 * rd_kafka_query_watermark_offsets for log-end offsets.
 *
 * There is no --delete-offsets (one topic's offsets, OffsetDelete, KIP-496):
 * librdkafka 2.0.2's DeleteConsumerGroupOffsets aborts the process (assertion
 * in rd_kafka_enq_once_del_source_return) when the broker lacks the API, as
 * sluice's does; reset-offsets or delete of the whole group cover the need.
 *
 * - describe prints kafka-consumer-groups.sh --describe's columns, GROUP
 *   TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG CONSUMER-ID HOST
 *   CLIENT-ID, one row per partition that has a committed offset or is
 *   assigned to a member ("-" where there is none), sorted by topic and
 *   partition; a member with no partition gets a row of its own.
 * - reset-offsets is a dry run unless --execute, as in Kafka: it prints
 *   GROUP TOPIC PARTITION NEW-OFFSET either way. --to-offset is clamped to
 *   each partition's [log-start, log-end] range, as Kafka does. It refuses
 *   a group with members (state other than Empty or Dead): a running
 *   consumer would overwrite the reset with its next commit.
 *
 * Messages go to stdout only for what the user asked to see; every failure is
 * one line on stderr naming the group, the operation and the broker's reason.
 *
 * runs on: the main thread; librdkafka's own threads deliver admin results to
 * a private queue polled here.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_common.h"

#define MAX_GROUPS 64

enum action { ACT_NONE = 0, ACT_LIST, ACT_DESCRIBE, ACT_DELETE, ACT_RESET, NACTIONS };
enum reset_to { TO_NONE = 0, TO_EARLIEST, TO_LATEST, TO_OFFSET };

static const char *const action_names[] = {
    [ACT_LIST] = "list",
    [ACT_DESCRIBE] = "describe",
    [ACT_DELETE] = "delete",
    [ACT_RESET] = "reset-offsets",
};

enum {
    OPT_ALL_GROUPS = 256,
    OPT_TO_EARLIEST,
    OPT_TO_LATEST,
    OPT_TO_OFFSET,
    OPT_EXECUTE,
    OPT_DRY_RUN,
};

typedef struct groups_args {
    sl_cli_common common;
    int action;                     /* enum action */
    const char *groups[MAX_GROUPS]; /* --group, pointing into argv */
    int ngroups;
    int all_groups;
    const char *topic;
    enum reset_to to;
    int64_t to_offset;
    int execute, dry_run;
} groups_args;

/* One line of describe's table. Strings are borrowed from the admin result
 * events, which live until the table is printed. */
typedef struct row {
    const char *topic; /* NULL: a member without partitions */
    int32_t partition;
    int64_t current; /* committed offset, -1: none */
    int64_t leo;     /* log-end offset, -1: unknown */
    const char *consumer_id, *host, *client_id;
} row;

static void usage(FILE *f)
{
    fprintf(f, "usage: sluice groups <action> [options]\n"
               "\n"
               "actions (or kafka-consumer-groups.sh style --list, --describe, ...):\n"
               "  list                 consumer group names, one a line\n"
               "  describe             committed offsets, log-end offsets, lag and members of\n"
               "                       --group (repeatable) or --all-groups\n"
               "  delete               delete --group (repeatable; it must have no members)\n"
               "  reset-offsets        set --group's committed offsets of --topic: a dry run that\n"
               "                       prints the new offsets unless --execute\n"
               "\n"
               "options:\n"
               "  -g, --group G        the consumer group\n"
               "      --all-groups     describe every group\n"
               "  -t, --topic T        the topic (reset-offsets)\n"
               "      --to-earliest    reset to each partition's first offset\n"
               "      --to-latest      reset to each partition's log-end offset\n"
               "      --to-offset N    reset to N (kept within each partition's range)\n"
               "      --dry-run        print what reset-offsets would do (the default)\n"
               "      --execute        do it\n"
               "\n" SL_CLI_COMMON_USAGE);
}

/* ------------------------------------------------------------------------ */
/* Command line                                                              */
/* ------------------------------------------------------------------------ */

static int set_reset_to(groups_args *a, enum reset_to to)
{
    if (a->to && a->to != to) {
        sl_cli_common_fail(&a->common, "give one of --to-earliest, --to-latest, --to-offset");
        return -1;
    }
    a->to = to;
    return 0;
}

static const struct option longopts[] = {
    {"group", 1, NULL, 'g'},
    {"topic", 1, NULL, 't'},
    {"all-groups", 0, NULL, OPT_ALL_GROUPS},
    {"to-earliest", 0, NULL, OPT_TO_EARLIEST},
    {"to-latest", 0, NULL, OPT_TO_LATEST},
    {"to-offset", 1, NULL, OPT_TO_OFFSET},
    {"execute", 0, NULL, OPT_EXECUTE},
    {"dry-run", 0, NULL, OPT_DRY_RUN},
    {NULL, 0, NULL, 0},
};

/* One of the tool's own options (sl_cli_tool.option). */
static int groups_option(void *args, int opt, const char *value)
{
    groups_args *a = args;

    switch (opt) {
    case 'g':
        if (a->ngroups == MAX_GROUPS) {
            sl_cli_common_fail(&a->common, "too many --group (at most %d)", MAX_GROUPS);
            return SL_CLI_USAGE;
        }
        if (!*value) {
            sl_cli_common_fail(&a->common, "--group needs a non-empty name");
            return SL_CLI_USAGE;
        }
        a->groups[a->ngroups++] = value;
        break;
    case 't':
        if (a->topic) {
            sl_cli_common_fail(&a->common, "give --topic once");
            return SL_CLI_USAGE;
        }
        a->topic = value;
        break;
    case OPT_ALL_GROUPS:
        a->all_groups = 1;
        break;
    case OPT_TO_EARLIEST:
    case OPT_TO_LATEST:
        if (set_reset_to(a, opt == OPT_TO_EARLIEST ? TO_EARLIEST : TO_LATEST) < 0)
            return SL_CLI_USAGE;
        break;
    case OPT_TO_OFFSET:
        if (set_reset_to(a, TO_OFFSET) < 0)
            return SL_CLI_USAGE;
        if (sl_cli_common_parse_int(value, 0, INT64_MAX, &a->to_offset) < 0) {
            sl_cli_common_fail(&a->common, "--to-offset expects an offset >= 0, got '%s'", value);
            return SL_CLI_USAGE;
        }
        break;
    case OPT_EXECUTE:
        a->execute = 1;
        break;
    case OPT_DRY_RUN:
        a->dry_run = 1;
        break;
    default:
        return SL_CLI_USAGE;
    }
    return 0;
}

/* Check which options go with which action. */
static int groups_check(void *args)
{
    groups_args *a = args;
    const char *name = action_names[a->action];

    if (a->action == ACT_LIST && (a->ngroups || a->topic || a->all_groups)) {
        sl_cli_common_fail(&a->common, "list takes no --group, --all-groups or --topic");
        return -1;
    }
    if (a->action == ACT_DESCRIBE && !a->ngroups == !a->all_groups) {
        sl_cli_common_fail(&a->common, "describe needs --group or --all-groups (one of them)");
        return -1;
    }
    if (a->action != ACT_DESCRIBE && a->all_groups) {
        sl_cli_common_fail(&a->common, "--all-groups goes with describe only");
        return -1;
    }
    if ((a->action == ACT_DELETE || a->action == ACT_RESET) && !a->ngroups) {
        sl_cli_common_fail(&a->common, "%s needs --group", name);
        return -1;
    }
    if (a->topic && a->action != ACT_RESET) {
        sl_cli_common_fail(&a->common, "--topic goes with reset-offsets only");
        return -1;
    }
    if (a->action == ACT_RESET) {
        if (a->ngroups != 1 || !a->topic || !a->to) {
            sl_cli_common_fail(&a->common, "reset-offsets needs one --group, --topic and one of "
                                           "--to-earliest, --to-latest, --to-offset N");
            return -1;
        }
        if (a->execute && a->dry_run) {
            sl_cli_common_fail(&a->common, "give --execute or --dry-run, not both");
            return -1;
        }
    } else if (a->to || a->execute || a->dry_run) {
        sl_cli_common_fail(&a->common, "--to-*, --execute and --dry-run go with reset-offsets");
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Admin requests                                                            */
/* ------------------------------------------------------------------------ */

/* The error of one group's result (or of a partition in it), printed;
 * returns 0 if there is none. */
static int group_result_ok(groups_args *a, const rd_kafka_group_result_t *gr, const char *doing)
{
    const rd_kafka_error_t *e = rd_kafka_group_result_error(gr);
    const rd_kafka_topic_partition_list_t *parts = rd_kafka_group_result_partitions(gr);
    int bad = 0;

    if (e) {
        sl_cli_common_fail(&a->common, "cannot %s: %s", doing, rd_kafka_error_string(e));
        return -1;
    }
    for (int i = 0; parts && i < parts->cnt; i++) {
        if (parts->elems[i].err) {
            sl_cli_common_fail(&a->common, "cannot %s: partition %s-%d: %s", doing,
                               parts->elems[i].topic, parts->elems[i].partition,
                               rd_kafka_err2str(parts->elems[i].err));
            bad = 1;
        }
    }
    return bad ? -1 : 0;
}

/* The result of a request about one group (n results), or NULL after
 * printing why: the broker answered for another number of groups, or the
 * group's result is an error. */
static const rd_kafka_group_result_t *one_group(groups_args *a, const rd_kafka_group_result_t **res,
                                                size_t n, const char *doing)
{
    if (n != 1) {
        sl_cli_common_fail(&a->common, "cannot %s: the broker answered for %zu groups", doing, n);
        return NULL;
    }
    return group_result_ok(a, res[0], doing) == 0 ? res[0] : NULL;
}

/* DescribeConsumerGroups for one group. Returns the event (the description
 * is *out, valid until the event is destroyed), or NULL after printing why. */
static rd_kafka_event_t *describe_group(groups_args *a, rd_kafka_t *rk, const char *group,
                                        const rd_kafka_ConsumerGroupDescription_t **out)
{
    const rd_kafka_ConsumerGroupDescription_t **descs;
    const rd_kafka_error_t *e;
    sl_cli_admin req;
    char doing[320];
    size_t n = 0;

    snprintf(doing, sizeof(doing), "describe group '%s'", group);
    sl_cli_admin_begin(&req, rk, RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS);
    rd_kafka_DescribeConsumerGroups(rk, &group, 1, req.options, req.queue);
    rd_kafka_event_t *ev = sl_cli_admin_wait(&a->common, &req, doing);
    if (!ev)
        return NULL;
    descs = rd_kafka_DescribeConsumerGroups_result_groups(
        rd_kafka_event_DescribeConsumerGroups_result(ev), &n);
    if (n != 1) {
        sl_cli_common_fail(&a->common, "cannot %s: the broker answered for %zu groups", doing, n);
        goto fail;
    }
    e = rd_kafka_ConsumerGroupDescription_error(descs[0]);
    if (e) {
        sl_cli_common_fail(&a->common, "cannot %s: %s", doing, rd_kafka_error_string(e));
        goto fail;
    }
    *out = descs[0];
    return ev;
fail:
    rd_kafka_event_destroy(ev);
    return NULL;
}

/* Every partition of every topic but the internal ones, as a new list, or
 * NULL after printing why. */
static rd_kafka_topic_partition_list_t *all_partitions(groups_args *a, rd_kafka_t *rk)
{
    const rd_kafka_metadata_t *md = sl_cli_common_metadata(&a->common, rk);
    rd_kafka_topic_partition_list_t *l;

    if (!md)
        return NULL;
    l = rd_kafka_topic_partition_list_new(64);
    for (int t = 0; t < md->topic_cnt; t++) {
        const rd_kafka_metadata_topic_t *mt = &md->topics[t];
        if (mt->err || mt->topic[0] == '_')
            continue;
        for (int i = 0; i < mt->partition_cnt; i++)
            rd_kafka_topic_partition_list_add(l, mt->topic, mt->partitions[i].id);
    }
    rd_kafka_metadata_destroy(md);
    return l;
}

/* The group's committed offsets of every partition of every topic (offset
 * -1: none). Returns the event (the list is *out, valid until the event is
 * destroyed), or NULL after printing.
 *
 * The partitions are named rather than fetched with a null topic list
 * (OffsetFetch v2+ "all"): librdkafka 2.0.2's ListConsumerGroupOffsets
 * sends an empty list for NULL partitions, and gets nothing back. */
static rd_kafka_event_t *committed_offsets(groups_args *a, rd_kafka_t *rk, const char *group,
                                           const rd_kafka_topic_partition_list_t **out)
{
    rd_kafka_topic_partition_list_t *parts = all_partitions(a, rk);
    if (!parts)
        return NULL;
    rd_kafka_ListConsumerGroupOffsets_t *list =
        rd_kafka_ListConsumerGroupOffsets_new(group, parts->cnt ? parts : NULL);
    const rd_kafka_group_result_t **res, *gr;
    sl_cli_admin req;
    char doing[320];
    size_t n = 0;

    rd_kafka_topic_partition_list_destroy(parts); /* _new copied it */
    snprintf(doing, sizeof(doing), "fetch the committed offsets of group '%s'", group);
    sl_cli_admin_begin(&req, rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS);
    rd_kafka_ListConsumerGroupOffsets(rk, &list, 1, req.options, req.queue);
    rd_kafka_event_t *ev = sl_cli_admin_wait(&a->common, &req, doing);
    rd_kafka_ListConsumerGroupOffsets_destroy(list);
    if (!ev)
        return NULL;
    res = rd_kafka_ListConsumerGroupOffsets_result_groups(
        rd_kafka_event_ListConsumerGroupOffsets_result(ev), &n);
    gr = one_group(a, res, n, doing);
    if (!gr) {
        rd_kafka_event_destroy(ev);
        return NULL;
    }
    *out = rd_kafka_group_result_partitions(gr);
    return ev;
}

/* Low and high watermarks of topic-partition; 0, or -1 after printing. */
static int watermarks(groups_args *a, rd_kafka_t *rk, const char *topic, int32_t partition,
                      int64_t *lo, int64_t *hi)
{
    rd_kafka_resp_err_t e =
        rd_kafka_query_watermark_offsets(rk, topic, partition, lo, hi, SL_CLI_TIMEOUT_MS);
    if (!e)
        return 0;
    sl_cli_common_fail(&a->common, "cannot read the offsets of partition %s-%d: %s", topic,
                       partition, rd_kafka_err2str(e));
    return -1;
}

/* ------------------------------------------------------------------------ */
/* list                                                                      */
/* ------------------------------------------------------------------------ */

static int cmp_str(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* ListConsumerGroups; the sorted names are returned in *names (pointing into
 * the returned event), or NULL after printing why. */
static rd_kafka_event_t *list_groups(groups_args *a, rd_kafka_t *rk, const char ***names,
                                     size_t *count)
{
    const rd_kafka_ConsumerGroupListing_t **valid;
    const rd_kafka_error_t **errors;
    size_t nvalid = 0, nerrors = 0;
    sl_cli_admin req;

    sl_cli_admin_begin(&req, rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPS);
    rd_kafka_ListConsumerGroups(rk, req.options, req.queue);
    rd_kafka_event_t *ev = sl_cli_admin_wait(&a->common, &req, "list consumer groups");
    if (!ev)
        return NULL;
    const rd_kafka_ListConsumerGroups_result_t *res = rd_kafka_event_ListConsumerGroups_result(ev);
    valid = rd_kafka_ListConsumerGroups_result_valid(res, &nvalid);
    errors = rd_kafka_ListConsumerGroups_result_errors(res, &nerrors);
    for (size_t i = 0; i < nerrors; i++)
        sl_cli_common_fail(&a->common, "listing consumer groups: %s",
                           rd_kafka_error_string(errors[i]));
    if (nerrors && !nvalid) {
        rd_kafka_event_destroy(ev);
        return NULL;
    }
    *names = calloc(nvalid ? nvalid : 1, sizeof(**names));
    for (size_t i = 0; i < nvalid; i++)
        (*names)[i] = rd_kafka_ConsumerGroupListing_group_id(valid[i]);
    qsort(*names, nvalid, sizeof(**names), cmp_str);
    *count = nvalid;
    return ev;
}

static int do_list(groups_args *a, rd_kafka_t *rk)
{
    const char **names = NULL;
    size_t n = 0;
    rd_kafka_event_t *ev = list_groups(a, rk, &names, &n);

    if (!ev)
        return SL_CLI_FAILED;
    for (size_t i = 0; i < n; i++)
        printf("%s\n", names[i]);
    free(names);
    rd_kafka_event_destroy(ev);
    return SL_CLI_OK;
}

/* ------------------------------------------------------------------------ */
/* describe                                                                  */
/* ------------------------------------------------------------------------ */

static int cmp_row(const void *x, const void *y)
{
    const row *r = x, *s = y;
    if (!r->topic || !s->topic) /* members without partitions last */
        return !r->topic - !s->topic;
    int c = strcmp(r->topic, s->topic);
    return c ? c : (r->partition > s->partition) - (r->partition < s->partition);
}

static row *find_row(row *rows, int n, const char *topic, int32_t partition)
{
    for (int i = 0; i < n; i++)
        if (rows[i].topic && !strcmp(rows[i].topic, topic) && rows[i].partition == partition)
            return &rows[i];
    return NULL;
}

static void fmt_i64(char *buf, size_t len, int64_t v)
{
    if (v < 0)
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, "%" PRId64, v);
}

/* Print rows as left-aligned columns, each as wide as its widest cell. */
static void print_table(const char *group, const row *rows, int n)
{
    static const char *const head[] = {"GROUP",          "TOPIC",          "PARTITION",
                                       "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG",
                                       "CONSUMER-ID",    "HOST",           "CLIENT-ID"};
    enum { NCOL = 9 };
    char cells[NCOL][32];
    const char *cell[NCOL];
    int width[NCOL];

    for (int c = 0; c < NCOL; c++)
        width[c] = (int)strlen(head[c]);
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            for (int c = 0; c < NCOL; c++)
                printf("%-*s%s", c + 1 < NCOL ? width[c] : 0, head[c], c + 1 < NCOL ? " " : "\n");
        }
        for (int i = 0; i < n; i++) {
            const row *r = &rows[i];
            cell[0] = group;
            cell[1] = r->topic ? r->topic : "-";
            snprintf(cells[2], sizeof(cells[2]), "%d", r->partition);
            cell[2] = r->topic ? cells[2] : "-";
            fmt_i64(cells[3], sizeof(cells[3]), r->current);
            fmt_i64(cells[4], sizeof(cells[4]), r->leo);
            fmt_i64(cells[5], sizeof(cells[5]),
                    r->current >= 0 && r->leo >= 0 ? r->leo - r->current : -1);
            for (int c = 3; c <= 5; c++)
                cell[c] = cells[c];
            cell[6] = r->consumer_id ? r->consumer_id : "-";
            cell[7] = r->host ? r->host : "-";
            cell[8] = r->client_id ? r->client_id : "-";
            for (int c = 0; c < NCOL; c++) {
                if (pass == 0 && (int)strlen(cell[c]) > width[c])
                    width[c] = (int)strlen(cell[c]);
                if (pass == 1)
                    printf("%-*s%s", c + 1 < NCOL ? width[c] : 0, cell[c],
                           c + 1 < NCOL ? " " : "\n");
            }
        }
    }
}

static int describe_one(groups_args *a, rd_kafka_t *rk, const char *group)
{
    const rd_kafka_ConsumerGroupDescription_t *desc = NULL;
    const rd_kafka_topic_partition_list_t *offs = NULL;
    rd_kafka_event_t *dev = NULL, *oev = NULL;
    row *rows = NULL;
    int n = 0, cap = 0, rc = SL_CLI_FAILED;

    dev = describe_group(a, rk, group, &desc);
    if (!dev)
        goto done;
    oev = committed_offsets(a, rk, group, &offs);
    if (!oev)
        goto done;
    size_t nmembers = rd_kafka_ConsumerGroupDescription_member_count(desc);
    rd_kafka_consumer_group_state_t state = rd_kafka_ConsumerGroupDescription_state(desc);
    cap = (offs ? offs->cnt : 0) + 16;
    rows = calloc((size_t)cap, sizeof(*rows));
    if (!rows) {
        sl_cli_common_fail(&a->common, "out of memory");
        goto done;
    }
    for (int i = 0; offs && i < offs->cnt; i++) {
        if (offs->elems[i].offset < 0 && offs->elems[i].err == 0)
            continue; /* no commit for it */
        rows[n++] = (row){offs->elems[i].topic,
                          offs->elems[i].partition,
                          offs->elems[i].offset,
                          -1,
                          NULL,
                          NULL,
                          NULL};
    }
    for (size_t m = 0; m < nmembers; m++) {
        const rd_kafka_MemberDescription_t *md = rd_kafka_ConsumerGroupDescription_member(desc, m);
        const rd_kafka_topic_partition_list_t *as =
            rd_kafka_MemberAssignment_partitions(rd_kafka_MemberDescription_assignment(md));
        int cnt = as ? as->cnt : 0;
        for (int i = 0; i < (cnt ? cnt : 1); i++) { /* one row even with nothing assigned */
            const char *topic = cnt ? as->elems[i].topic : NULL;
            int32_t partition = cnt ? as->elems[i].partition : -1;
            row *r = topic ? find_row(rows, n, topic, partition) : NULL;
            if (!r) {
                if (n == cap) {
                    row *more = realloc(rows, (size_t)cap * 2 * sizeof(*rows));
                    if (!more) {
                        sl_cli_common_fail(&a->common, "out of memory");
                        goto done;
                    }
                    rows = more;
                    cap *= 2;
                }
                r = &rows[n++];
                *r = (row){topic, partition, -1, -1, NULL, NULL, NULL};
            }
            r->consumer_id = rd_kafka_MemberDescription_consumer_id(md);
            r->host = rd_kafka_MemberDescription_host(md);
            r->client_id = rd_kafka_MemberDescription_client_id(md);
        }
    }
    for (int i = 0; i < n; i++) {
        int64_t lo;
        if (rows[i].topic &&
            watermarks(a, rk, rows[i].topic, rows[i].partition, &lo, &rows[i].leo) < 0)
            goto done;
    }
    qsort(rows, (size_t)n, sizeof(*rows), cmp_row);
    printf("\n");
    if (nmembers == 0)
        printf("Consumer group '%s' has no active members.\n\n", group);
    else if (state != RD_KAFKA_CONSUMER_GROUP_STATE_STABLE)
        printf("Consumer group '%s' is rebalancing (%s).\n\n", group,
               rd_kafka_consumer_group_state_name(state));
    if (n == 0 && state == RD_KAFKA_CONSUMER_GROUP_STATE_DEAD)
        printf("Consumer group '%s' does not exist.\n", group);
    else if (n == 0)
        printf("Consumer group '%s' has no committed offsets.\n", group);
    else
        print_table(group, rows, n);
    rc = SL_CLI_OK;
done:
    free(rows);
    if (oev)
        rd_kafka_event_destroy(oev);
    if (dev)
        rd_kafka_event_destroy(dev);
    return rc;
}

static int do_describe(groups_args *a, rd_kafka_t *rk)
{
    const char **names = (const char **)a->groups;
    size_t n = (size_t)a->ngroups;
    rd_kafka_event_t *lev = NULL;
    int rc = SL_CLI_OK;

    if (a->all_groups) {
        lev = list_groups(a, rk, &names, &n);
        if (!lev)
            return SL_CLI_FAILED;
    }
    for (size_t i = 0; i < n; i++)
        if (describe_one(a, rk, names[i]) != SL_CLI_OK)
            rc = SL_CLI_FAILED;
    if (lev) {
        free(names);
        rd_kafka_event_destroy(lev);
    }
    return rc;
}

/* ------------------------------------------------------------------------ */
/* delete                                                                    */
/* ------------------------------------------------------------------------ */

static int do_delete(groups_args *a, rd_kafka_t *rk)
{
    rd_kafka_DeleteGroup_t *del[MAX_GROUPS];
    sl_cli_admin req;
    int rc = SL_CLI_FAILED, ok = 0;
    size_t n = 0;

    for (int i = 0; i < a->ngroups; i++)
        del[i] = rd_kafka_DeleteGroup_new(a->groups[i]);
    sl_cli_admin_begin(&req, rk, RD_KAFKA_ADMIN_OP_DELETEGROUPS);
    rd_kafka_DeleteGroups(rk, del, (size_t)a->ngroups, req.options, req.queue);
    rd_kafka_event_t *ev = sl_cli_admin_wait(&a->common, &req, "delete consumer groups");
    if (!ev)
        goto done;
    const rd_kafka_group_result_t **res =
        rd_kafka_DeleteGroups_result_groups(rd_kafka_event_DeleteGroups_result(ev), &n);
    for (size_t i = 0; i < n; i++) {
        char doing[320];
        snprintf(doing, sizeof(doing), "delete group '%s'", rd_kafka_group_result_name(res[i]));
        if (group_result_ok(a, res[i], doing) == 0) {
            printf("Deleted consumer group '%s'.\n", rd_kafka_group_result_name(res[i]));
            ok++;
        }
    }
    if (ok == a->ngroups)
        rc = SL_CLI_OK;
    rd_kafka_event_destroy(ev);
done:
    rd_kafka_DeleteGroup_destroy_array(del, (size_t)a->ngroups);
    return rc;
}

/* Every partition of a->topic from metadata, as a new list; NULL after printing. */
static rd_kafka_topic_partition_list_t *topic_partitions(groups_args *a, rd_kafka_t *rk)
{
    const rd_kafka_metadata_t *md = sl_cli_common_metadata(&a->common, rk);
    const rd_kafka_metadata_topic_t *t;
    rd_kafka_topic_partition_list_t *l = NULL;

    if (!md)
        return NULL;
    t = sl_cli_common_find_topic(md, a->topic);
    if (!t || t->partition_cnt == 0) {
        sl_cli_common_fail(&a->common, "topic '%s' does not exist", a->topic);
    } else {
        l = rd_kafka_topic_partition_list_new(t->partition_cnt);
        for (int i = 0; i < t->partition_cnt; i++)
            rd_kafka_topic_partition_list_add(l, a->topic, t->partitions[i].id);
        rd_kafka_topic_partition_list_sort(l, NULL, NULL);
    }
    rd_kafka_metadata_destroy(md);
    return l;
}

/* ------------------------------------------------------------------------ */
/* reset-offsets                                                             */
/* ------------------------------------------------------------------------ */

/* Refuse a group with members; 0 if it is Empty or Dead (unknown). */
static int check_inactive(groups_args *a, rd_kafka_t *rk)
{
    const rd_kafka_ConsumerGroupDescription_t *desc;
    rd_kafka_event_t *ev = describe_group(a, rk, a->groups[0], &desc);
    if (!ev)
        return -1;
    rd_kafka_consumer_group_state_t st = rd_kafka_ConsumerGroupDescription_state(desc);
    size_t members = rd_kafka_ConsumerGroupDescription_member_count(desc);
    int ok =
        (st == RD_KAFKA_CONSUMER_GROUP_STATE_EMPTY || st == RD_KAFKA_CONSUMER_GROUP_STATE_DEAD) &&
        members == 0;
    if (!ok)
        sl_cli_common_fail(&a->common,
                           "cannot reset the offsets of group '%s': it has %zu active member(s) "
                           "(state %s); stop its consumers first",
                           a->groups[0], members, rd_kafka_consumer_group_state_name(st));
    rd_kafka_event_destroy(ev);
    return ok ? 0 : -1;
}

/* Fill each partition's new offset; -1 after printing. */
static int plan_reset(groups_args *a, rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts)
{
    for (int i = 0; i < parts->cnt; i++) {
        int64_t lo, hi;
        if (watermarks(a, rk, a->topic, parts->elems[i].partition, &lo, &hi) < 0)
            return -1;
        switch (a->to) {
        case TO_EARLIEST:
            parts->elems[i].offset = lo;
            break;
        case TO_LATEST:
            parts->elems[i].offset = hi;
            break;
        default:
            parts->elems[i].offset = a->to_offset < lo ? lo : a->to_offset > hi ? hi : a->to_offset;
        }
    }
    return 0;
}

static int commit_reset(groups_args *a, rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts)
{
    rd_kafka_AlterConsumerGroupOffsets_t *alter =
        rd_kafka_AlterConsumerGroupOffsets_new(a->groups[0], parts);
    sl_cli_admin req;
    char doing[640];
    size_t n = 0;
    int rc = -1;

    snprintf(doing, sizeof(doing), "commit the new offsets of topic '%s' for group '%s'", a->topic,
             a->groups[0]);
    sl_cli_admin_begin(&req, rk, RD_KAFKA_ADMIN_OP_ALTERCONSUMERGROUPOFFSETS);
    rd_kafka_AlterConsumerGroupOffsets(rk, &alter, 1, req.options, req.queue);
    rd_kafka_event_t *ev = sl_cli_admin_wait(&a->common, &req, doing);
    if (ev) {
        const rd_kafka_group_result_t **res = rd_kafka_AlterConsumerGroupOffsets_result_groups(
            rd_kafka_event_AlterConsumerGroupOffsets_result(ev), &n);
        if (one_group(a, res, n, doing))
            rc = 0;
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_AlterConsumerGroupOffsets_destroy(alter);
    return rc;
}

static int do_reset(groups_args *a, rd_kafka_t *rk)
{
    rd_kafka_topic_partition_list_t *parts = NULL;
    int rc = SL_CLI_FAILED;

    if (check_inactive(a, rk) < 0)
        return SL_CLI_FAILED;
    parts = topic_partitions(a, rk);
    if (!parts || plan_reset(a, rk, parts) < 0)
        goto done;
    if (a->execute && commit_reset(a, rk, parts) < 0)
        goto done;
    if (!a->execute)
        fprintf(stderr, "%s: dry run: nothing committed (add --execute to reset)\n",
                a->common.prog);
    int wg = (int)strlen("GROUP"), wt = (int)strlen("TOPIC");
    if ((int)strlen(a->groups[0]) > wg)
        wg = (int)strlen(a->groups[0]);
    if ((int)strlen(a->topic) > wt)
        wt = (int)strlen(a->topic);
    printf("\n%-*s %-*s %-9s %s\n", wg, "GROUP", wt, "TOPIC", "PARTITION", "NEW-OFFSET");
    for (int i = 0; i < parts->cnt; i++)
        printf("%-*s %-*s %-9d %" PRId64 "\n", wg, a->groups[0], wt, a->topic,
               parts->elems[i].partition, parts->elems[i].offset);
    rc = SL_CLI_OK;
done:
    if (parts)
        rd_kafka_topic_partition_list_destroy(parts);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Entry point                                                               */
/* ------------------------------------------------------------------------ */

/* Run the action (sl_cli_tool.run). */
static int groups_run(void *args, rd_kafka_t *rk)
{
    static int (*const run[])(groups_args *, rd_kafka_t *) = {
        [ACT_LIST] = do_list,
        [ACT_DESCRIBE] = do_describe,
        [ACT_DELETE] = do_delete,
        [ACT_RESET] = do_reset,
    };
    groups_args *a = args;

    return run[a->action](a, rk);
}

static const sl_cli_tool groups_tool = {
    .shortopts = "g:t:",
    .longopts = longopts,
    .actions = action_names,
    .nactions = NACTIONS,
    .option = groups_option,
    .check = groups_check,
    .run = groups_run,
    .usage = usage,
};

int sl_cli_groups(int argc, char **argv)
{
    groups_args a;

    memset(&a, 0, sizeof(a));
    sl_cli_common_init(&a.common, "sluice groups");
    return sl_cli_common_run(&groups_tool, &a, &a.common, &a.action, argc, argv);
}
