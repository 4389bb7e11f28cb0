/*
 * kafka_client.c - the client security settings of every librdkafka handle
 * (see kafka_client.h for the keys and the contract).
 *
 * Design: one table of keys; a layer is read through a small getter (a JSON
 * object under a prefix, or an option-table struct) so that the worker, the
 * registry, the sinks' connector overrides and the CLI share one parser and
 * one set of messages. Kafka's names are mapped onto librdkafka's here:
 * sasl.mechanism -> sasl.mechanisms, sasl.jaas.config -> sasl.username and
 * sasl.password, an empty ssl.endpoint.identification.algorithm -> none.
 * librdkafka's default mechanism is GSSAPI (Kerberos), which sluice's users
 * never mean when they give a user and password: a layer with credentials
 * and no mechanism picks PLAIN (or SCRAM-SHA-512 for a ScramLoginModule)
 * unless an earlier layer chose one.
 *
 * Secrets: no message holds a password, a JAAS text or a part of one.
 * runs on: any thread (no state beyond the caller's rd_kafka_conf_t).
 */
#include "kafka_client.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static const char *const key_names[SL_KC_NKEYS] = {
    [SL_KC_PROTOCOL] = "security.protocol",
    [SL_KC_MECHANISM] = "sasl.mechanism",
    [SL_KC_JAAS] = "sasl.jaas.config",
    [SL_KC_USERNAME] = "sasl.username",
    [SL_KC_PASSWORD] = "sasl.password",
    [SL_KC_CA_LOCATION] = "ssl.ca.location",
    [SL_KC_ENDPOINT] = "ssl.endpoint.identification.algorithm",
};

/* Kafka's Java-keystore keys: no JKS in librdkafka, so each is refused
 * with what to give instead. */
static const char *const jks_keys[] = {
    "ssl.truststore.location", "ssl.truststore.password", "ssl.truststore.type",
    "ssl.keystore.location",   "ssl.keystore.password",   "ssl.keystore.type",
};
#define N_JKS (sizeof(jks_keys) / sizeof(jks_keys[0]))

static const char *const protocols[] = {"PLAINTEXT", "SASL_PLAINTEXT", "SSL", "SASL_SSL", NULL};
static const char *const mechanisms[] = {"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", NULL};

#define PLAIN_MODULE "org.apache.kafka.common.security.plain.PlainLoginModule"
#define SCRAM_MODULE "org.apache.kafka.common.security.scram.ScramLoginModule"

int sl_kafka_client_key(const char *key)
{
    for (int i = 0; i < SL_KC_NKEYS; i++)
        if (!strcmp(key, key_names[i]))
            return 1;
    for (size_t i = 0; i < N_JKS; i++)
        if (!strcmp(key, jks_keys[i]))
            return 1;
    return 0;
}

/* ======================================================================== */
/* sasl.jaas.config                                                          */
/* ======================================================================== */

static const char *skip_ws(const char *p)
{
    while (*p && isspace((unsigned char)*p))
        p++;
    return p;
}

/* A run of word characters (class names, option names, flags) at p: its
 * length. */
static size_t word_len(const char *p)
{
    size_t n = 0;
    while (p[n] && (isalnum((unsigned char)p[n]) || strchr("._$-", p[n])))
        n++;
    return n;
}

/* One option value at *pp: "quoted, with \\ escapes" or a bare word, copied
 * into out (NULL: skipped). Moves *pp past it. 0, or -1 (unterminated,
 * too long, empty). */
static int jaas_value(const char **pp, char *out, size_t outlen)
{
    const char *p = *pp;
    size_t n = 0;
    if (*p == '"') {
        for (p++; *p && *p != '"'; p++) {
            if (*p == '\\' && p[1])
                p++;
            if (out && n + 1 >= outlen)
                return -1;
            if (out)
                out[n] = *p;
            n++;
        }
        if (*p != '"')
            return -1;
        p++;
    } else {
        for (; *p && !isspace((unsigned char)*p) && *p != ';'; p++) {
            if (out && n + 1 >= outlen)
                return -1;
            if (out)
                out[n] = *p;
            n++;
        }
        if (n == 0)
            return -1;
    }
    if (out)
        out[n] = 0;
    *pp = p;
    return 0;
}

/* The login module class at the start: 'P', 'S', or 0 after filling err. */
static char jaas_module(const char **pp, char *err, size_t errlen)
{
    const char *p = skip_ws(*pp);
    size_t n = word_len(p);
    *pp = p + n;
    if (n == strlen(PLAIN_MODULE) && !strncmp(p, PLAIN_MODULE, n))
        return 'P';
    if (n == strlen(SCRAM_MODULE) && !strncmp(p, SCRAM_MODULE, n))
        return 'S';
    /* a class name is no secret; anything else might be one: not quoted */
    if (n > 11 && n < 200 && !strncmp(p + n - 11, "LoginModule", 11))
        snprintf(err, errlen,
                 "login module %.*s is not supported: give " PLAIN_MODULE " (or " SCRAM_MODULE
                 ") required username=\"...\" password=\"...\";",
                 (int)n, p);
    else
        snprintf(err, errlen,
                 "expected '" PLAIN_MODULE " required username=\"...\" "
                 "password=\"...\";' (or " SCRAM_MODULE ")");
    return 0;
}

int sl_kafka_jaas_parse(const char *jaas, char *module, char *user, size_t userlen, char *pass,
                        size_t passlen, char *err, size_t errlen)
{
    const char *p = jaas;
    int have_user = 0, have_pass = 0;
    if (!(*module = jaas_module(&p, err, errlen)))
        return -1;
    p = skip_ws(p);
    size_t n = word_len(p);
    if (!((n == 8 && !strncmp(p, "required", n)) || (n == 9 && !strncmp(p, "requisite", n)) ||
          (n == 10 && !strncmp(p, "sufficient", n)) || (n == 8 && !strncmp(p, "optional", n)))) {
        snprintf(err, errlen, "expected the control flag 'required' after the login module");
        return -1;
    }
    for (p = skip_ws(p + n); *p && *p != ';'; p = skip_ws(p)) {
        n = word_len(p);
        const char *name = p;
        p = skip_ws(p + n);
        if (n == 0 || *p != '=') {
            snprintf(err, errlen, "expected option=\"value\" pairs after the control flag");
            return -1;
        }
        p = skip_ws(p + 1);
        int is_user = n == 8 && !strncmp(name, "username", n);
        int is_pass = n == 8 && !strncmp(name, "password", n);
        if (jaas_value(&p, is_user ? user : is_pass ? pass : NULL, is_user ? userlen : passlen)) {
            snprintf(err, errlen,
                     "the value of option %.*s is empty, too long or its quote is "
                     "not closed",
                     (int)(n < 64 ? n : 64), name);
            return -1;
        }
        have_user |= is_user;
        have_pass |= is_pass;
    }
    if (*p != ';' || *skip_ws(p + 1)) {
        snprintf(err, errlen,
                 *p != ';' ? "the entry must end with ';'"
                           : "one login module only: nothing may follow its ';'");
        return -1;
    }
    if (!have_user || !have_pass) {
        snprintf(err, errlen, "no %s=\"...\" option", have_user ? "password" : "username");
        return -1;
    }
    return 0;
}

/* ======================================================================== */
/* Layers                                                                    */
/* ======================================================================== */

/* Where a layer's values come from. */
typedef struct layer {
    const json_t *config;         /* a JSON object of strings, or */
    const sl_kafka_security *sec; /* an option-table struct */
    const char *prefix;
} layer;

static const char *layer_get(const layer *l, int i, const char *key)
{
    if (l->sec)
        return i >= 0 ? l->sec->v[i] : NULL;
    char name[256];
    snprintf(name, sizeof(name), "%s%s", l->prefix, key);
    return json_string_value(json_object_get(l->config, name));
}

static int one_of(const char *v, const char *const *list)
{
    for (; *list; list++)
        if (!strcasecmp(v, *list))
            return 1;
    return 0;
}

static int set(rd_kafka_conf_t *c, const char *k, const char *v, const char *prefix,
               const char *key, char *err, size_t errlen)
{
    char e[256];
    if (!c || rd_kafka_conf_set(c, k, v, e, sizeof(e)) == RD_KAFKA_CONF_OK)
        return 0;
    snprintf(err, errlen, "%s%s: %s", prefix, key, e);
    return -1;
}

/* The mechanism in force on c: "" when c is NULL (a check only). */
static void current_mechanism(rd_kafka_conf_t *c, char *out, size_t len)
{
    out[0] = 0;
    if (c && rd_kafka_conf_get(c, "sasl.mechanisms", out, &len) != RD_KAFKA_CONF_OK)
        out[0] = 0;
}

/* Credentials given without a mechanism: PLAIN (SCRAM-SHA-512 for a Scram
 * module) unless one was chosen already (librdkafka's default is GSSAPI). */
static int default_mechanism(rd_kafka_conf_t *c, const layer *l, char module, char *err,
                             size_t errlen)
{
    char cur[64];
    current_mechanism(c, cur, sizeof(cur));
    if (layer_get(l, SL_KC_MECHANISM, key_names[SL_KC_MECHANISM]) || !c ||
        strcasecmp(cur, "GSSAPI"))
        return 0;
    return set(c, "sasl.mechanisms", module == 'S' ? "SCRAM-SHA-512" : "PLAIN", l->prefix,
               key_names[SL_KC_MECHANISM], err, errlen);
}

static int apply_jaas(rd_kafka_conf_t *c, const layer *l, const char *jaas, char *err,
                      size_t errlen)
{
    char user[256], pass[512], why[512], module;
    const char *mech = layer_get(l, SL_KC_MECHANISM, key_names[SL_KC_MECHANISM]);
    int rc = -1;
    if (sl_kafka_jaas_parse(jaas, &module, user, sizeof(user), pass, sizeof(pass), why,
                            sizeof(why))) {
        snprintf(err, errlen, "%ssasl.jaas.config: %s", l->prefix, why);
        goto out;
    }
    if (mech && (module == 'S') != (strcasecmp(mech, "PLAIN") != 0)) {
        snprintf(err, errlen, "%ssasl.jaas.config: a %s goes with sasl.mechanism %s, not %s",
                 l->prefix, module == 'S' ? "ScramLoginModule" : "PlainLoginModule",
                 module == 'S' ? "SCRAM-SHA-256 or SCRAM-SHA-512" : "PLAIN", mech);
        goto out;
    }
    if (set(c, "sasl.username", user, l->prefix, "sasl.jaas.config", err, errlen) ||
        set(c, "sasl.password", pass, l->prefix, "sasl.jaas.config", err, errlen) ||
        default_mechanism(c, l, module, err, errlen))
        goto out;
    rc = 0;
out:
    memset(pass, 0, sizeof(pass));
    return rc;
}

/* ssl.ca.location: readable, so that the message names the key. */
static int apply_ca(rd_kafka_conf_t *c, const layer *l, const char *path, char *err, size_t errlen)
{
    if (!*path || access(path, R_OK) != 0) {
        snprintf(err, errlen, "%sssl.ca.location '%s': cannot read: %s", l->prefix, path,
                 *path ? strerror(errno) : "empty file name");
        return -1;
    }
    return set(c, "ssl.ca.location", path, l->prefix, key_names[SL_KC_CA_LOCATION], err, errlen);
}

static int apply_layer(rd_kafka_conf_t *c, const layer *l, char *err, size_t errlen)
{
    const char *v[SL_KC_NKEYS], *pfx = l->prefix;
    for (int i = 0; i < SL_KC_NKEYS; i++)
        v[i] = layer_get(l, i, key_names[i]);
    for (size_t i = 0; l->config && i < N_JKS; i++)
        if (layer_get(l, -1, jks_keys[i])) {
            snprintf(err, errlen,
                     "%s%s: Java keystores (JKS) are not read: give the CA "
                     "certificates as a PEM file in %sssl.ca.location",
                     pfx, jks_keys[i], pfx);
            return -1;
        }
    if (v[SL_KC_PROTOCOL] && !one_of(v[SL_KC_PROTOCOL], protocols)) {
        snprintf(err, errlen,
                 "%ssecurity.protocol: '%s' is not one of PLAINTEXT, SASL_PLAINTEXT, "
                 "SSL, SASL_SSL",
                 pfx, v[SL_KC_PROTOCOL]);
        return -1;
    }
    if (v[SL_KC_MECHANISM] && !one_of(v[SL_KC_MECHANISM], mechanisms)) {
        snprintf(err, errlen,
                 "%ssasl.mechanism: '%s' is not supported: PLAIN, SCRAM-SHA-256 "
                 "or SCRAM-SHA-512",
                 pfx, v[SL_KC_MECHANISM]);
        return -1;
    }
    if (v[SL_KC_ENDPOINT] && *v[SL_KC_ENDPOINT] && strcasecmp(v[SL_KC_ENDPOINT], "https")) {
        snprintf(err, errlen,
                 "%sssl.endpoint.identification.algorithm: '%s' must be https or "
                 "empty (no check)",
                 pfx, v[SL_KC_ENDPOINT]);
        return -1;
    }
    if ((v[SL_KC_PROTOCOL] &&
         set(c, "security.protocol", v[SL_KC_PROTOCOL], pfx, key_names[0], err, errlen)) ||
        (v[SL_KC_MECHANISM] &&
         set(c, "sasl.mechanisms", v[SL_KC_MECHANISM], pfx, key_names[1], err, errlen)) ||
        (v[SL_KC_JAAS] && apply_jaas(c, l, v[SL_KC_JAAS], err, errlen)) ||
        (v[SL_KC_USERNAME] &&
         set(c, "sasl.username", v[SL_KC_USERNAME], pfx, key_names[3], err, errlen)) ||
        (v[SL_KC_PASSWORD] &&
         set(c, "sasl.password", v[SL_KC_PASSWORD], pfx, key_names[4], err, errlen)) ||
        (v[SL_KC_CA_LOCATION] && apply_ca(c, l, v[SL_KC_CA_LOCATION], err, errlen)) ||
        (v[SL_KC_ENDPOINT] &&
         set(c, "ssl.endpoint.identification.algorithm", *v[SL_KC_ENDPOINT] ? "https" : "none", pfx,
             key_names[6], err, errlen)))
        return -1;
    if (!v[SL_KC_JAAS] && (v[SL_KC_USERNAME] || v[SL_KC_PASSWORD]))
        return default_mechanism(c, l, 'P', err, errlen);
    return 0;
}

int sl_kafka_client_conf(rd_kafka_conf_t *c, const json_t *config, const char *prefix, char *err,
                         size_t errlen)
{
    layer l = {.config = config, .prefix = prefix ? prefix : ""};
    return json_is_object(config) ? apply_layer(c, &l, err, errlen) : 0;
}

int sl_kafka_client_conf_sec(rd_kafka_conf_t *c, const sl_kafka_security *sec, const char *prefix,
                             char *err, size_t errlen)
{
    layer l = {.sec = sec, .prefix = prefix ? prefix : ""};
    return apply_layer(c, &l, err, errlen);
}

int sl_kafka_security_check(const sl_kafka_security *sec, const char *prefix, char *err,
                            size_t errlen)
{
    return sl_kafka_client_conf_sec(NULL, sec, prefix, err, errlen);
}

int sl_kafka_client_check(rd_kafka_conf_t *c, const char *who, const char *prefix, char *err,
                          size_t errlen)
{
    char proto[64], mech[64];
    size_t len = sizeof(proto), ul = 0, pl = 0;
    if (rd_kafka_conf_get(c, "security.protocol", proto, &len) != RD_KAFKA_CONF_OK)
        proto[0] = 0;
    current_mechanism(c, mech, sizeof(mech));
    if (strncasecmp(proto, "sasl_", 5))
        return 0;
    for (char *p = proto; *p; p++) /* librdkafka answers in lower case */
        *p = (char)toupper((unsigned char)*p);
    /* only whether they are set: their lengths (+1), not their values */
    int has_user = rd_kafka_conf_get(c, "sasl.username", NULL, &ul) == RD_KAFKA_CONF_OK && ul > 1;
    int has_pass = rd_kafka_conf_get(c, "sasl.password", NULL, &pl) == RD_KAFKA_CONF_OK && pl > 1;
    if (has_user && has_pass && one_of(mech, mechanisms))
        return 0;
    if (has_user && has_pass) { /* GSSAPI, librdkafka's default, or OAUTHBEARER */
        snprintf(err, errlen,
                 "%s: %ssasl.mechanism %s is not supported: PLAIN, SCRAM-SHA-256 or "
                 "SCRAM-SHA-512",
                 who, prefix, mech);
        return -1;
    }
    snprintf(err, errlen,
             "%s: %ssecurity.protocol %s needs credentials: set %ssasl.jaas.config "
             "(or %ssasl.username and %ssasl.password)",
             who, prefix, proto, prefix, prefix, prefix);
    return -1;
}
