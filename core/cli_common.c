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
 * runs on: the calling (main) thread only.
 */
#include "cli_common.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    for (int i = 0; i < common->nprops; i++) {
        if (sl_cli_common_split_kv(common->props[i], key, sizeof(key), &value) < 0) {
            snprintf(err, errlen, "-X expects key=value, got '%s'", common->props[i]);
            goto fail;
        }
        if (conf_set(conf, key, value, "-X", err, errlen) < 0)
            goto fail;
    }
    return conf;

fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
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
    rk = rd_kafka_new(type, conf, err, sizeof(err));
    if (!rk) {
        rd_kafka_conf_destroy(conf); /* rd_kafka_new owns conf only on success */
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
        sl_cli_common_fail(common, "cannot fetch metadata from %s: %s",
                           sl_cli_common_bootstrap(common), rd_kafka_err2str(err));
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
