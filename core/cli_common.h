/*
 * cli_common.h - what the command-line tools (cli_topics.c, cli_groups.c,
 * cli_produce.c, cli_consume.c) share: the connection options every tool
 * accepts, building a librdkafka configuration from them, printing errors,
 * parsing "<tool> <action> [options]" command lines and making Admin API
 * requests. Private to the CLI files; the rest of sluice reaches the tools
 * only through cli.h.
 *
 * Every tool accepts, like kcat and kafka-topics.sh:
 *
 *   -b, --bootstrap-server HOST:PORT[,...]   default $SLUICE_BOOTSTRAP, else localhost:9092
 *   -X key=value                            any librdkafka property, applied last so it
 *                                           overrides the tool's own defaults
 *   --command-config FILE                   a Kafka client properties file, as Kafka's own
 *                                           tools take it: security.protocol, sasl.mechanism,
 *                                           sasl.jaas.config, ssl.ca.location ... (core/
 *                                           kafka_client.h), other keys as librdkafka's
 *
 * Exit codes, the same for every tool: 0 done, 1 something failed (the
 * message says what), 2 the command line was wrong (usage on stderr).
 */
#ifndef SL_CLI_COMMON_H
#define SL_CLI_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <getopt.h>
#include <stdio.h>

#include <librdkafka/rdkafka.h>

enum { SL_CLI_OK = 0, SL_CLI_FAILED = 1, SL_CLI_USAGE = 2 };

#define SL_CLI_DEFAULT_BOOTSTRAP "localhost:9092"
#define SL_CLI_TIMEOUT_MS        15000 /* metadata and admin requests */
#define SL_CLI_MAX_PROPS         64

/* Options shared by every tool. The strings point into argv (not owned). */
typedef struct sl_cli_common {
    const char *prog;                    /* "sluice topics": prefixes every message */
    const char *bootstrap;               /* -b; NULL until given */
    const char *props[SL_CLI_MAX_PROPS]; /* -X key=value, in order */
    int nprops;
    const char *command_config;          /* --command-config FILE; NULL until given */
} sl_cli_common;

/* The common options in getopt_long form: a tool appends these long options
 * to its own table and its optstring includes SL_CLI_COMMON_SHORT. */
#define SL_CLI_COMMON_SHORT "b:X:h"
#define SL_CLI_OPT_HELP     'h'
#define SL_CLI_OPT_COMMAND_CONFIG 500 /* long only; tools' own options are 256.. */
/* clang-format off */
#define SL_CLI_COMMON_LONG \
    {"bootstrap-server", 1, NULL, 'b'}, {"broker-list", 1, NULL, 'b'}, {"help", 0, NULL, 'h'}, \
    {"command-config", 1, NULL, SL_CLI_OPT_COMMAND_CONFIG}
/* clang-format on */
#define SL_CLI_COMMON_USAGE                                                                        \
    "connection:\n"                                                                                \
    "  -b, --bootstrap-server HOSTS  brokers to start from (default $SLUICE_BOOTSTRAP,\n"          \
    "                                else localhost:9092)\n"                                       \
    "  -X key=value                  set a librdkafka property (repeatable; overrides the\n"       \
    "                                tool's defaults)\n"                                           \
    "      --command-config FILE     client properties (security.protocol, sasl.mechanism,\n"      \
    "                                sasl.jaas.config, ssl.ca.location ...), as Kafka's tools\n"   \
    "  -h, --help                    this text\n"

/* Start a tool's option state. prog is kept for messages. */
void sl_cli_common_init(sl_cli_common *common, const char *prog);

/* Offer one getopt result to the common options. Returns 1 if it was one of
 * them (consumed), 0 if not, SL_CLI_USAGE after printing why it is invalid. */
int sl_cli_common_opt(sl_cli_common *common, int opt, const char *optarg_value);

/* The bootstrap servers in force: -b, else $SLUICE_BOOTSTRAP, else the default. */
const char *sl_cli_common_bootstrap(const sl_cli_common *common);

/* Build a configuration: bootstrap.servers, client.id, the tool's defaults
 * (defaults[] is NULL-terminated key, value pairs; may be NULL), then the
 * --command-config file's properties, then every -X property (the security
 * keys of kafka_client.h, in Kafka's or librdkafka's names, through
 * sl_kafka_client_conf), then a check that SASL has credentials. Returns
 * NULL and fills err on an unknown property or a bad value (naming the file
 * and line, never a password). Its librdkafka log lines are written as
 * the tool's ("<prog>" component, sl_kafka_client_log). The caller owns the
 * result (sl_kafka_client_new takes it over, even when it fails). */
rd_kafka_conf_t *sl_cli_common_conf(const sl_cli_common *common, const char *const *defaults,
                                    char *err, size_t errlen);

/* Create a client of the given type from the common options, or print why
 * not and return NULL. */
rd_kafka_t *sl_cli_common_client(const sl_cli_common *common, rd_kafka_type_t type,
                                 const char *const *defaults);

/* Print "<prog>: <message>\n" on stderr. */
void sl_cli_common_fail(const sl_cli_common *common, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Report a getopt error for argv (the option at optind - 1) and return
 * SL_CLI_USAGE; the caller then prints its usage. */
int sl_cli_common_bad_option(const sl_cli_common *common, int opt, char **argv, int optind_now);

/* For a tool that runs its own getopt_long loop (sl_cli_common_run has one
 * for tools with actions): handle a result that is none of its own options: help
 * (usage(stdout), then SL_CLI_OK), a getopt error ('?' or ':', printed:
 * SL_CLI_USAGE) or a common option (-1: consumed, go on; SL_CLI_USAGE when
 * invalid or unknown). argv and optind_now as for sl_cli_common_bad_option. */
int sl_cli_common_other_opt(sl_cli_common *common, int opt, char **argv, int optind_now,
                            void (*usage)(FILE *f));

/* Parse a whole decimal integer in [min, max]; 0 or -1 if it is not one. */
int sl_cli_common_parse_int(const char *s, int64_t min, int64_t max, int64_t *out);

/* Split "key=value" at the first '='. Returns 0, or -1 if there is no '=' or
 * the key is empty. key is copied into keybuf; *value points into kv. */
int sl_cli_common_split_kv(const char *kv, char *keybuf, size_t keylen, const char **value);

/* Fetch cluster metadata for every topic (never creates one, unlike a
 * metadata request naming a topic can). Prints the error and returns NULL on
 * failure. Free with rd_kafka_metadata_destroy. */
const rd_kafka_metadata_t *sl_cli_common_metadata(const sl_cli_common *common, rd_kafka_t *rk);

/* The topic named in md, or NULL. */
const rd_kafka_metadata_topic_t *sl_cli_common_find_topic(const rd_kafka_metadata_t *md,
                                                          const char *topic);

/* ------------------------------------------------------------------------ */
/* Tools with actions: "sluice topics create ..." or "... --create ..."       */
/* ------------------------------------------------------------------------ */

/* Such a tool's actions are numbered 1..nactions - 1 (0: none given yet).
 * An action comes as the first word of the command line or as a long option
 * of the same name, as kafka-topics.sh takes it (--create). The tool's own
 * long options use vals below SL_CLI_OPT_ACTION. */
#define SL_CLI_OPT_ACTION   512
#define SL_CLI_MAX_LONGOPTS 64 /* a tool's own, its actions and the common ones */

/* What sl_cli_common_run needs to know of a tool with actions. */
typedef struct sl_cli_tool {
    const char *shortopts;         /* the tool's own short options, getopt style ("g:t:") */
    const struct option *longopts; /* the tool's own long options, ending with {0} */
    const char *const *actions;    /* action names, [1..nactions - 1] */
    int nactions;
    /* One of the tool's own options: 0, or SL_CLI_USAGE after printing why. */
    int (*option)(void *args, int opt, const char *value);
    /* After the whole command line, with an action given: do the options
     * fit it? 0, or -1 after printing why. */
    int (*check)(void *args);
    /* Do the action, with a client made from the common options: the exit
     * code. */
    int (*run)(void *args, rd_kafka_t *rk);
    void (*usage)(FILE *f);
} sl_cli_tool;

/* The whole of such a tool after its defaults are set: parse and check the
 * command line "<tool> [<action>] [options]" into args (the tool's own state,
 * handed to every callback), common and *action; make a client (a producer:
 * the Admin API and metadata need no more); run the action. Returns the exit
 * code: SL_CLI_OK after --help, SL_CLI_USAGE after printing why and the usage
 * on stderr, SL_CLI_FAILED when no client could be made, else tool->run's. */
int sl_cli_common_run(const sl_cli_tool *tool, void *args, sl_cli_common *common, int *action,
                      int argc, char **argv);

/* ------------------------------------------------------------------------ */
/* Admin API requests                                                        */
/* ------------------------------------------------------------------------ */

/* One Admin API request in flight: its private result queue and its options. */
typedef struct sl_cli_admin {
    rd_kafka_queue_t *queue;
    rd_kafka_AdminOptions_t *options;
} sl_cli_admin;

/* Prepare a request of type op: a new result queue and options with a request
 * timeout of SL_CLI_TIMEOUT_MS (and the same operation timeout, the wait for
 * the change to be done, for CreateTopics, DeleteTopics and
 * CreatePartitions). Pass admin->options and admin->queue to the
 * rd_kafka_<Request>() call, then call sl_cli_admin_wait. */
void sl_cli_admin_begin(sl_cli_admin *admin, rd_kafka_t *rk, rd_kafka_admin_op_t op);

/* Wait for the result of the request begun on admin, then release admin's
 * queue and options. Returns the result event (the caller destroys it), or
 * NULL after printing "cannot <doing>: <why>": no answer within
 * SL_CLI_TIMEOUT_MS + 5 s, or the request failed as a whole (a broker that
 * lacks the API shows up here, with librdkafka's "... not supported by
 * broker"). doing names the operation ("create topic 'orders'"). */
rd_kafka_event_t *sl_cli_admin_wait(const sl_cli_common *common, sl_cli_admin *admin,
                                    const char *doing);

#endif
