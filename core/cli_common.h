/*
 * cli_common.h - what the command-line tools (cli_topics.c, cli_produce.c,
 * cli_consume.c) share: the connection options every tool accepts, building
 * a librdkafka configuration from them, and printing errors. Private to the
 * CLI files; the rest of sluice reaches the tools only through cli.h.
 *
 * Every tool accepts, like kcat and kafka-topics.sh:
 *
 *   -b, --bootstrap-server HOST:PORT[,...]   default $SLUICE_BOOTSTRAP, else localhost:9092
 *   -X key=value                            any librdkafka property, applied last so it
 *                                           overrides the tool's own defaults
 *
 * Exit codes, the same for every tool: 0 done, 1 something failed (the
 * message says what), 2 the command line was wrong (usage on stderr).
 */
#ifndef SL_CLI_COMMON_H
#define SL_CLI_COMMON_H

#include <stddef.h>
#include <stdint.h>

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
} sl_cli_common;

/* The common options in getopt_long form: a tool appends these long options
 * to its own table and its optstring includes SL_CLI_COMMON_SHORT. */
#define SL_CLI_COMMON_SHORT "b:X:h"
#define SL_CLI_OPT_HELP     'h'
/* clang-format off */
#define SL_CLI_COMMON_LONG \
    {"bootstrap-server", 1, NULL, 'b'}, {"broker-list", 1, NULL, 'b'}, {"help", 0, NULL, 'h'}
/* clang-format on */
#define SL_CLI_COMMON_USAGE                                                                        \
    "connection:\n"                                                                                \
    "  -b, --bootstrap-server HOSTS  brokers to start from (default $SLUICE_BOOTSTRAP,\n"          \
    "                                else localhost:9092)\n"                                       \
    "  -X key=value                  set a librdkafka property (repeatable; overrides the\n"       \
    "                                tool's defaults)\n"                                           \
    "  -h, --help                    this text\n"

/* Start a tool's option state. prog is kept for messages. */
void sl_cli_common_init(sl_cli_common *common, const char *prog);

/* Offer one getopt result to the common options. Returns 1 if it was one of
 * them (consumed), 0 if not, SL_CLI_USAGE after printing why it is invalid. */
int sl_cli_common_opt(sl_cli_common *common, int opt, const char *optarg_value);

/* The bootstrap servers in force: -b, else $SLUICE_BOOTSTRAP, else the default. */
const char *sl_cli_common_bootstrap(const sl_cli_common *common);

/* Build a configuration: bootstrap.servers, client.id, the tool's defaults
 * (defaults[] is NULL-terminated key, value pairs; may be NULL), then every
 * -X property. Returns NULL and fills err on an unknown property or a bad
 * value. The caller owns the result (rd_kafka_new takes it over). */
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

#endif
