/*
 * cli_common.c - the options, configuration and error printing that every
 * command-line tool shares (see cli_common.h for the contract).
 *
 * Design: each tool parses its own argv with getopt_long and hands every
 * option it does not know to sl_cli_common_opt, so "-b" and "-X" behave the
 * same everywhere without a second parser. -X properties are applied after the
 * tool's defaults, so a user can always override what the tool chose (for
 * example -X acks=1 or -X delivery.timeout.ms=300000). A property librdkafka
 * rejects is reported with librdkafka's own reason.
 *
 * --command-config FILE is Kafka's tools' way to a secured cluster: a Java
 * properties file (key=value or key: value lines, '#' and '!' comments, a
 * trailing '\' continues a line). Its security keys and those of -X go
 * through kafka_client.c (sasl.jaas.config parsed, ssl.truststore.* refused
 * with what to give instead); other keys are librdkafka's. A tool that could
 * not reach the broker without any security setting says how to give them.
 *
 * Tools with actions (topics, groups) describe themselves in an sl_cli_tool
 * (options, actions, callbacks) and sl_cli_common_run does the rest: the
 * action as a first word or an option (as kafka-topics.sh takes it), the
 * common options, usage on a mistake, the client. They share the Admin API
 * round trip too: a private queue per request, options with the tool's timeout,
 * one poll, and one message when the request as a whole failed. What a
 * result means for each topic or group stays with the tool.
 *
 * runs on: the calling (main) thread only.
 */
#include "cli_common.h"

#include <jansson.h>

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafka_client.h"
#include "props.h"

void sl_cli_common_init(sl_cli_common *common, const char *prog)
{
    memset(common, 0, sizeof(*common));
    common->prog = prog;
}

int sl_cli_common_opt(sl_cli_common *common, int opt, const char *optarg_value)
{
    switch (opt) {
    case 'b':
        common->bootstrap = optarg_value;
        return 1;
    case 'X':
        if (!strchr(optarg_value, '=') || optarg_value[0] == '=') {
            sl_cli_common_fail(common, "-X expects key=value, got '%s'", optarg_value);
            return SL_CLI_USAGE;
        }
        if (common->nprops == SL_CLI_MAX_PROPS) {
            sl_cli_common_fail(common, "too many -X properties (at most %d)", SL_CLI_MAX_PROPS);
            return SL_CLI_USAGE;
        }
        common->props[common->nprops++] = optarg_value;
        return 1;
    case SL_CLI_OPT_COMMAND_CONFIG:
        common->command_config = optarg_value;
        return 1;
    default:
        return 0;
    }
}

const char *sl_cli_common_bootstrap(const sl_cli_common *common)
{
    const char *env = getenv("SLUICE_BOOTSTRAP");

    if (common->bootstrap && *common->bootstrap)
        return common->bootstrap;
    if (env && *env)
        return env;
    return SL_CLI_DEFAULT_BOOTSTRAP;
}

/* Set one property, naming where it came from when librdkafka refuses it. */
static int conf_set(rd_kafka_conf_t *conf, const char *key, const char *value, const char *origin,
                    char *err, size_t errlen)
{
    char why[512];

    if (rd_kafka_conf_set(conf, key, value, why, sizeof(why)) == RD_KAFKA_CONF_OK)
        return 0;
    snprintf(err, errlen, "%s %s=%s: %s", origin, key, value, why);
    return -1;
}

/* The --command-config file: its security keys through kafka_client.c, the
 * others as librdkafka's properties (bootstrap.servers only when neither -b
 * nor $SLUICE_BOOTSTRAP gave one). */
static int command_config(const sl_cli_common *common, rd_kafka_conf_t *conf, char *err,
                          size_t errlen)
{
    char origin[512], why[512];
    json_t *props = sl_props_load(common->command_config, why, sizeof(why));
    const char *key, *bs = getenv("SLUICE_BOOTSTRAP");
    json_t *v;
    int rc = -1;
    if (!props) {
        snprintf(err, errlen, "--command-config: %s", why);
        return -1;
    }
    snprintf(origin, sizeof(origin), "--command-config '%s':", common->command_config);
    if (sl_kafka_client_conf(conf, props, "", why, sizeof(why)) < 0) {
        snprintf(err, errlen, "%s %s", origin, why); /* why names the key */
        goto out;
    }
    json_object_foreach(props, key, v)
    {
        int given = (common->bootstrap && *common->bootstrap) || (bs && *bs);
        if (sl_kafka_client_key(key) || (!strcmp(key, "bootstrap.servers") && given))
            continue;
        if (rd_kafka_conf_set(conf, key, json_string_value(v), why, sizeof(why))) {
            snprintf(err, errlen, "%s %s: %s", origin, key, why); /* no value: a secret? */
            goto out;
        }
    }
    rc = 0;
out:
    json_decref(props);
    return rc;
}

/* One -X property: a security key through kafka_client.c, else librdkafka's. */
static int x_property(rd_kafka_conf_t *conf, const char *key, const char *value, char *err,
                      size_t errlen)
{
    if (!sl_kafka_client_key(key))
        return conf_set(conf, key, value, "-X", err, errlen);
    json_t *one = json_pack("{s:s}", key, value);
    char why[512];
    int rc = sl_kafka_client_conf(conf, one, "", why, sizeof(why));
    json_decref(one);
    if (rc < 0)
        snprintf(err, errlen, "-X %s", why);
    return rc;
}

rd_kafka_conf_t *sl_cli_common_conf(const sl_cli_common *common, const char *const *defaults,
                                    char *err, size_t errlen)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char key[256];
    const char *value;

    if (conf_set(conf, "bootstrap.servers", sl_cli_common_bootstrap(common), "bootstrap", err,
                 errlen) < 0)
        goto fail;
    if (conf_set(conf, "client.id", "sluice-cli", "default", err, errlen) < 0)
        goto fail;
    for (int i = 0; defaults && defaults[i]; i += 2) {
        if (conf_set(conf, defaults[i], defaults[i + 1], "default", err, errlen) < 0)
            goto fail;
    }
    if (common->command_config && command_config(common, conf, err, errlen) < 0)
        goto fail;
    for (int i = 0; i < common->nprops; i++) {
        if (sl_cli_common_split_kv(common->props[i], key, sizeof(key), &value) < 0) {
            snprintf(err, errlen, "-X expects key=value, got '%s'", common->props[i]);
            goto fail;
        }
        if (x_property(conf, key, value, err, errlen) < 0)
            goto fail;
    }
    if (sl_kafka_client_check(conf, "the client", "", err, errlen) < 0)
        goto fail;
    /* librdkafka's lines (a broker down, a refused login) in sluice's
     * format under the tool's name, a repeated one once */
    if (sl_kafka_client_log(conf, common->prog, NULL, 0) < 0) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    return conf;

fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

/* Whether the command line said anything of security: when not, a broker
 * that cannot be reached may want it, and the message says how. */
static const char *security_hint(const sl_cli_common *common)
{
    if (common->command_config)
        return "";
    for (int i = 0; i < common->nprops; i++)
        if (!strncmp(common->props[i], "security.protocol=", 18))
            return "";
    return " (if the broker requires authentication, give --command-config FILE with "
           "security.protocol, sasl.mechanism and sasl.jaas.config, or -X security.protocol=... "
           "-X sasl.username=... -X sasl.password=...)";
}

rd_kafka_t *sl_cli_common_client(const sl_cli_common *common, rd_kafka_type_t type,
                                 const char *const *defaults)
{
    char err[512];
    rd_kafka_conf_t *conf = sl_cli_common_conf(common, defaults, err, sizeof(err));
    rd_kafka_t *rk;

    if (!conf) {
        sl_cli_common_fail(common, "bad client configuration: %s", err);
        return NULL;
    }
    rk = sl_kafka_client_new(type, conf, err, sizeof(err));
    if (!rk) {
        sl_cli_common_fail(common, "cannot create Kafka client: %s", err);
        return NULL;
    }
    return rk;
}

void sl_cli_common_fail(const sl_cli_common *common, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: ", common->prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int sl_cli_common_bad_option(const sl_cli_common *common, int opt, char **argv, int optind_now)
{
    const char *arg = optind_now > 0 ? argv[optind_now - 1] : "?";

    if (opt == ':')
        sl_cli_common_fail(common, "option '%s' needs a value", arg);
    else if (optopt && optopt != '?')
        sl_cli_common_fail(common, "unknown option '-%c'", optopt);
    else
        sl_cli_common_fail(common, "unknown option '%s'", arg);
    return SL_CLI_USAGE;
}

int sl_cli_common_other_opt(sl_cli_common *common, int opt, char **argv, int optind_now,
                            void (*usage)(FILE *f))
{
    if (opt == SL_CLI_OPT_HELP) {
        usage(stdout);
        return SL_CLI_OK;
    }
    if (opt == '?' || opt == ':')
        return sl_cli_common_bad_option(common, opt, argv, optind_now);
    return sl_cli_common_opt(common, opt, optarg) == 1 ? -1 : SL_CLI_USAGE;
}

int sl_cli_common_parse_int(const char *s, int64_t min, int64_t max, int64_t *out)
{
    char *end;
    long long v;

    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int sl_cli_common_split_kv(const char *kv, char *keybuf, size_t keylen, const char **value)
{
    const char *eq = strchr(kv, '=');
    size_t n;

    if (!eq || eq == kv)
        return -1;
    n = (size_t)(eq - kv);
    if (n >= keylen)
        return -1;
    memcpy(keybuf, kv, n);
    keybuf[n] = '\0';
    *value = eq + 1;
    return 0;
}

const rd_kafka_metadata_t *sl_cli_common_metadata(const sl_cli_common *common, rd_kafka_t *rk)
{
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, NULL, &md, SL_CLI_TIMEOUT_MS);

    if (err) {
        sl_cli_common_fail(common, "cannot fetch metadata from %s: %s%s",
                           sl_cli_common_bootstrap(common), rd_kafka_err2str(err),
                           security_hint(common));
        return NULL;
    }
    return md;
}

const rd_kafka_metadata_topic_t *sl_cli_common_find_topic(const rd_kafka_metadata_t *md,
                                                          const char *topic)
{
    for (int i = 0; i < md->topic_cnt; i++) {
        if (!strcmp(md->topics[i].topic, topic))
            return &md->topics[i];
    }
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Tools with actions                                                        */
/* ------------------------------------------------------------------------ */

/* When argv[1] is a word, not an option, it names the action: *action is
 * set and the word is taken off the command line (*argc, *argv move past it,
 * so that it stands where getopt expects the program name). 0, or -1 after
 * printing that the word names no action. */
static int action_word(const sl_cli_common *common, const sl_cli_tool *tool, int *argc,
                       char ***argv, int *action)
{
    const char *word = *argc > 1 && (*argv)[1][0] != '-' ? (*argv)[1] : NULL;

    if (!word)
        return 0;
    for (int i = 1; i < tool->nactions; i++) {
        if (!strcmp(word, tool->actions[i]))
            *action = i;
    }
    if (!*action) {
        sl_cli_common_fail(common, "unknown action '%s'", word);
        return -1;
    }
    (*argc)--;
    (*argv)++;
    return 0;
}

/* An action given as an option: 0, or -1 after printing that another
 * action was given already. */
static int action_option(const sl_cli_common *common, const sl_cli_tool *tool, int *action, int act)
{
    if (*action && *action != act) {
        sl_cli_common_fail(common, "give one action, not both '%s' and '%s'",
                           tool->actions[*action], tool->actions[act]);
        return -1;
    }
    *action = act;
    return 0;
}

/* No action given: "give an action: list, create, ... or alter". */
static void no_action(const sl_cli_common *common, const sl_cli_tool *tool)
{
    char list[512];
    size_t off = 0;

    list[0] = '\0';
    for (int i = 1; i < tool->nactions && off < sizeof(list); i++)
        off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s",
                                i == 1                    ? ""
                                : i + 1 == tool->nactions ? " or "
                                                          : ", ",
                                tool->actions[i]);
    sl_cli_common_fail(common, "give an action: %s", list);
}

/* One getopt result: -1 to go on, or the exit code to return now. */
static int parse_one(const sl_cli_tool *tool, void *args, sl_cli_common *common, int *action,
                     int opt, char **argv)
{
    if (opt >= SL_CLI_OPT_ACTION)
        return action_option(common, tool, action, opt - SL_CLI_OPT_ACTION) < 0 ? SL_CLI_USAGE : -1;
    switch (opt) {
    case SL_CLI_OPT_HELP: /* SL_CLI_COMMON_SHORT's, and getopt's errors */
    case '?':
    case ':':
    case 'b':
    case 'X':
    case SL_CLI_OPT_COMMAND_CONFIG:
        return sl_cli_common_other_opt(common, opt, argv, optind, tool->usage);
    default:
        return tool->option(args, opt, optarg) == 0 ? -1 : SL_CLI_USAGE;
    }
}

/* getopt_long's options for a tool: its own, one per action, the common
 * ones. Returns 0, or -1 when they do not fit (a tool's mistake). */
static int tool_options(const sl_cli_tool *tool, char *shortopts, size_t len,
                        struct option *longopts)
{
    static const struct option common_long[] = {SL_CLI_COMMON_LONG};
    size_t n = 0, ncommon = sizeof(common_long) / sizeof(common_long[0]);

    /* ':' first: a missing value is reported as ':', apart from '?' */
    if ((size_t)snprintf(shortopts, len, ":%s" SL_CLI_COMMON_SHORT, tool->shortopts) >= len)
        return -1;
    for (; tool->longopts[n].name; n++) {
        if (n == SL_CLI_MAX_LONGOPTS)
            return -1;
        longopts[n] = tool->longopts[n];
    }
    if (n + (size_t)tool->nactions + ncommon > SL_CLI_MAX_LONGOPTS)
        return -1;
    for (int i = 1; i < tool->nactions; i++)
        longopts[n++] = (struct option){tool->actions[i], 0, NULL, SL_CLI_OPT_ACTION + i};
    for (size_t i = 0; i < ncommon; i++)
        longopts[n++] = common_long[i];
    longopts[n] = (struct option){NULL, 0, NULL, 0};
    return 0;
}

/* Parse and check the command line: -1 to go on, or the exit code to return
 * now (usage printed on stderr with SL_CLI_USAGE). */
static int parse(const sl_cli_tool *tool, void *args, sl_cli_common *common, int *action, int argc,
                 char **argv)
{
    struct option longopts[SL_CLI_MAX_LONGOPTS + 1];
    char shortopts[128];
    int opt, rc = -1;

    if (tool_options(tool, shortopts, sizeof(shortopts), longopts) < 0) {
        sl_cli_common_fail(common, "too many options (a bug)");
        return SL_CLI_FAILED;
    }
    if (action_word(common, tool, &argc, &argv, action) < 0)
        rc = SL_CLI_USAGE;
    optind = 0; /* glibc: full re-initialisation, so the parser may run twice */
    opterr = 0;
    while (rc < 0 && (opt = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1)
        rc = parse_one(tool, args, common, action, opt, argv);
    if (rc < 0 && optind < argc) {
        sl_cli_common_fail(common, "unexpected argument '%s'", argv[optind]);
        rc = SL_CLI_USAGE;
    }
    if (rc < 0 && !*action) {
        no_action(common, tool);
        rc = SL_CLI_USAGE;
    }
    if (rc < 0 && tool->check(args) < 0)
        rc = SL_CLI_USAGE;
    if (rc == SL_CLI_USAGE)
        tool->usage(stderr);
    return rc;
}

int sl_cli_common_run(const sl_cli_tool *tool, void *args, sl_cli_common *common, int *action,
                      int argc, char **argv)
{
    int rc = parse(tool, args, common, action, argc, argv);
    rd_kafka_t *rk;

    if (rc >= 0)
        return rc;
    rk = sl_cli_common_client(common, RD_KAFKA_PRODUCER, NULL);
    if (!rk)
        return SL_CLI_FAILED;
    rc = tool->run(args, rk);
    rd_kafka_destroy(rk);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Admin API requests                                                        */
/* ------------------------------------------------------------------------ */

void sl_cli_admin_begin(sl_cli_admin *admin, rd_kafka_t *rk, rd_kafka_admin_op_t op)
{
    char err[256];

    admin->queue = rd_kafka_queue_new(rk);
    admin->options = rd_kafka_AdminOptions_new(rk, op);
    rd_kafka_AdminOptions_set_request_timeout(admin->options, SL_CLI_TIMEOUT_MS, err, sizeof(err));
    if (op == RD_KAFKA_ADMIN_OP_CREATETOPICS || op == RD_KAFKA_ADMIN_OP_DELETETOPICS ||
        op == RD_KAFKA_ADMIN_OP_CREATEPARTITIONS)
        rd_kafka_AdminOptions_set_operation_timeout(admin->options, SL_CLI_TIMEOUT_MS, err,
                                                    sizeof(err));
}

rd_kafka_event_t *sl_cli_admin_wait(const sl_cli_common *common, sl_cli_admin *admin,
                                    const char *doing)
{
    rd_kafka_event_t *ev = rd_kafka_queue_poll(admin->queue, SL_CLI_TIMEOUT_MS + 5000);

    rd_kafka_AdminOptions_destroy(admin->options);
    rd_kafka_queue_destroy(admin->queue);
    admin->options = NULL;
    admin->queue = NULL;
    if (!ev) {
        sl_cli_common_fail(common, "cannot %s: no answer from %s within %d ms%s", doing,
                           sl_cli_common_bootstrap(common), SL_CLI_TIMEOUT_MS + 5000,
                           security_hint(common));
        return NULL;
    }
    if (rd_kafka_event_error(ev)) {
        rd_kafka_resp_err_t e = rd_kafka_event_error(ev);
        sl_cli_common_fail(common, "cannot %s: %s%s", doing, rd_kafka_event_error_string(ev),
                           e == RD_KAFKA_RESP_ERR__TIMED_OUT || e == RD_KAFKA_RESP_ERR__TRANSPORT
                               ? security_hint(common)
                               : "");
        rd_kafka_event_destroy(ev);
        return NULL;
    }
    return ev;
}
