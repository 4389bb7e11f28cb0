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
 * runs on: any thread (the layers keep no state beyond the caller's
 * rd_kafka_conf_t).
 *
 * Log lines: librdkafka's log callback gets the handle (const rd_kafka_t *)
 * and nothing else of ours, and the conf opaque is already the handles'
 * own (the worker, a sink task...). So each labelled conf carries a
 * log_client (its label and its recent lines) as the opaque of
 * interceptors: on_new, which tells it the handle's address as rd_kafka_new
 * makes it (before any thread of the handle runs), on_destroy (the handle
 * is closing), and on_conf_destroy, which unlinks and frees it when the
 * conf is destroyed unused or the handle's last reference goes (after its
 * last log line). The callback finds its log_client in one list under one
 * mutex: handles are few (tens) and log lines rare next to records (no log
 * line per record). The mutex is held to look up and count, never while
 * writing. Interceptors on a conf make a failed rd_kafka_new unsafe to
 * clean up (librdkafka 2.0): sl_kafka_client_new does it.
 */
#include "kafka_client.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "logging.h"

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

/* ======================================================================== */
/* Log lines                                                                 */
/* ======================================================================== */

/* Distinct lines a handle is remembered to have written lately: librdkafka
 * alternates a few while a broker is down (FAIL, then ERROR "1/1 brokers
 * are down"). */
#define LOG_SEEN 4

typedef struct log_seen {
    uint64_t hash;      /* of level, facility and message (tail aside); 0: free */
    int64_t written_ms; /* when it was last written */
    unsigned repeats;   /* the same since then, not written */
    int level;          /* sluice's */
    char text[160];     /* "FAIL: <message>", cut: what the count line names */
} log_seen;

typedef struct log_client {
    const rd_kafka_t *rk; /* NULL until rd_kafka_new makes it */
    int errors_logged;    /* its FAIL lines are debug */
    int closing;          /* rd_kafka_destroy is under way: so are they */
    char component[96];
    char role[48];
    log_seen seen[LOG_SEEN];
    struct log_client *next;
} log_client;

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static log_client *log_clients; /* under log_lock */
/* The label whose on_new ran in this thread's rd_kafka_new (for
 * sl_kafka_client_new): on_new runs on the thread calling rd_kafka_new. */
static __thread log_client *log_new_lc;

static int64_t log_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static enum sl_level log_level(int syslog_level)
{
    if (syslog_level <= LOG_ERR)
        return SL_ERROR;
    if (syslog_level == LOG_WARNING)
        return SL_WARN;
    return syslog_level <= LOG_INFO ? SL_INFO : SL_DEBUG;
}

/* The length of buf without librdkafka's " (after 3ms in state AUTH_REQ, 2
 * identical error(s) suppressed)" tail, which differs at every retry. */
static size_t log_key_len(const char *buf)
{
    const char *tail = strstr(buf, " (after ");
    return tail ? (size_t)(tail - buf) : strlen(buf);
}

/* FNV-1a of the level, the facility and the message up to its tail;
 * never 0 (a free slot). */
static uint64_t log_hash(int level, const char *fac, const char *buf)
{
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)level;
    for (const char *p = fac; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    h = (h ^ ':') * 1099511628211ULL;
    for (size_t i = 0, n = log_key_len(buf); i < n; i++)
        h = (h ^ (unsigned char)buf[i]) * 1099511628211ULL;
    return h ? h : 1;
}

/* The line saying how many of s were not written, at level. */
static void log_count_write(enum sl_level level, const char *component, const char *role,
                            const log_seen *s)
{
    sl_logmsg(level, component, "%s%s%s (%u more like it, not logged)", role, *role ? ": " : "",
              s->text, s->repeats);
}

/* The slot of the line hashed h in lc: its own, else a free one, else the
 * one written longest ago. */
static log_seen *log_slot(log_client *lc, uint64_t h)
{
    log_seen *pick = &lc->seen[0];
    for (int i = 0; i < LOG_SEEN; i++)
        if (lc->seen[i].hash == h)
            return &lc->seen[i];
    for (int i = 1; i < LOG_SEEN && pick->hash; i++)
        if (!lc->seen[i].hash || lc->seen[i].written_ms < pick->written_ms)
            pick = &lc->seen[i];
    return pick;
}

/* Whether the line (hashed h) is written (1) or counted (0). When written,
 * *repeats is how many like it were counted since it last was, and *evicted
 * the slot it took from another line with a count not yet written
 * (evicted->repeats 0: none). Under log_lock. */
static int log_seen_update(log_client *lc, uint64_t h, int level, const char *fac, const char *buf,
                           unsigned *repeats, log_seen *evicted)
{
    int64_t now = log_now_ms();
    log_seen *s = log_slot(lc, h);
    if (s->hash == h && now - s->written_ms < SL_KAFKA_LOG_REPEAT_MS) {
        s->repeats++;
        return 0;
    }
    if (s->hash == h) {
        *repeats = s->repeats;
    } else {
        if (s->hash && s->repeats)
            *evicted = *s;
        s->hash = h;
        s->level = level;
        snprintf(s->text, sizeof(s->text), "%s: %.*s", fac, (int)log_key_len(buf), buf);
    }
    s->written_ms = now;
    s->repeats = 0;
    return 1;
}

/* librdkafka's log callback of every labelled handle. runs on: any of the
 * handle's threads (and the thread calling rd_kafka_new / rd_kafka_destroy).
 * It calls no librdkafka function but, for a handle it does not know,
 * rd_kafka_name (a getter). */
static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    enum sl_level lvl = log_level(level);
    if (!sl_logging_enabled(lvl)) /* the handle's label can only lower it */
        return;
    char component[sizeof(((log_client *)0)->component)], role[sizeof(((log_client *)0)->role)];
    unsigned repeats = 0;
    log_seen evicted = {.repeats = 0};
    int found = 0, write = 1;
    pthread_mutex_lock(&log_lock);
    for (log_client *lc = log_clients; lc && !found; lc = lc->next) {
        if (lc->rk != rk)
            continue;
        found = 1;
        if ((lc->errors_logged || lc->closing) && !strcmp(fac, "FAIL"))
            lvl = SL_DEBUG;
        /* debug lines (debug=..., asked for) are all written, in order */
        if (lvl == SL_DEBUG)
            write = sl_logging_enabled(lvl);
        else
            write = log_seen_update(lc, log_hash((int)lvl, fac, buf), (int)lvl, fac, buf, &repeats,
                                    &evicted);
        memcpy(component, lc->component, sizeof(component));
        memcpy(role, lc->role, sizeof(role));
    }
    pthread_mutex_unlock(&log_lock);
    if (!found) { /* not labelled: should not happen, say who it is anyway */
        sl_logmsg(lvl, "kafka", "%s: %s: %s", rd_kafka_name(rk), fac, buf);
        return;
    }
    if (evicted.repeats)
        log_count_write((enum sl_level)evicted.level, component, role, &evicted);
    if (write && repeats)
        sl_logmsg(lvl, component, "%s%s%s: %s (%u more like it since the last, not logged)", role,
                  *role ? ": " : "", fac, buf, repeats);
    else if (write)
        sl_logmsg(lvl, component, "%s%s%s: %s", role, *role ? ": " : "", fac, buf);
}

int sl_kafka_client_fresh(const rd_kafka_t *rk, int level, const char *what, const char *text,
                          unsigned *repeats)
{
    char component[sizeof(((log_client *)0)->component)], role[sizeof(((log_client *)0)->role)];
    log_seen evicted = {.repeats = 0};
    int write = 1;
    *repeats = 0;
    pthread_mutex_lock(&log_lock);
    for (log_client *lc = log_clients; lc; lc = lc->next) {
        if (lc->rk != rk)
            continue;
        write =
            log_seen_update(lc, log_hash(level, what, text), level, what, text, repeats, &evicted);
        memcpy(component, lc->component, sizeof(component));
        memcpy(role, lc->role, sizeof(role));
        break;
    }
    pthread_mutex_unlock(&log_lock);
    if (evicted.repeats)
        log_count_write((enum sl_level)evicted.level, component, role, &evicted);
    return write;
}

/* on_destroy: the handle is closing its connections; a login they cut
 * short fails ("SaslAuthenticateRequest failed: Local: Broker transport
 * failure"), which is no news. runs on: the handle's main thread (or the
 * thread whose rd_kafka_new failed). */
static rd_kafka_resp_err_t log_on_destroy(rd_kafka_t *rk, void *opaque)
{
    log_client *lc = opaque;
    (void)rk;
    pthread_mutex_lock(&log_lock);
    lc->closing = 1;
    pthread_mutex_unlock(&log_lock);
    return RD_KAFKA_RESP_ERR_NO_ERROR;
}

void sl_kafka_client_closing(const rd_kafka_t *rk)
{
    pthread_mutex_lock(&log_lock);
    for (log_client *lc = log_clients; lc; lc = lc->next)
        if (lc->rk == rk)
            lc->closing = 1;
    pthread_mutex_unlock(&log_lock);
}

/* on_new: the handle lc labels (a failed rd_kafka_new unlists its label:
 * sl_kafka_client_new). runs on: the thread calling rd_kafka_new. */
static rd_kafka_resp_err_t log_on_new(rd_kafka_t *rk, const rd_kafka_conf_t *conf, void *opaque,
                                      char *errstr, size_t errstr_size)
{
    log_client *lc = opaque;
    (void)conf, (void)errstr, (void)errstr_size;
    pthread_mutex_lock(&log_lock);
    lc->rk = rk;
    pthread_mutex_unlock(&log_lock);
    log_new_lc = lc;
    return rd_kafka_interceptor_add_on_destroy(rk, "sluice-log", log_on_destroy, lc);
}

/* on_conf_destroy: the conf was destroyed unused, or the handle made from
 * it is being freed (after its last log line): the counts not yet written
 * are, as debug lines (a client closing is no new event; the line that
 * says why a process stops stays its last), and lc goes. runs on: the
 * thread destroying it. */
static rd_kafka_resp_err_t log_on_conf_destroy(void *opaque)
{
    log_client *lc = opaque;
    pthread_mutex_lock(&log_lock);
    log_client **pp = &log_clients;
    while (*pp && *pp != lc)
        pp = &(*pp)->next;
    if (*pp)
        *pp = lc->next;
    pthread_mutex_unlock(&log_lock);
    for (int i = 0; i < LOG_SEEN; i++)
        if (lc->seen[i].hash && lc->seen[i].repeats)
            log_count_write(SL_DEBUG, lc->component, lc->role, &lc->seen[i]);
    free(lc);
    return RD_KAFKA_RESP_ERR_NO_ERROR;
}

int sl_kafka_client_log(rd_kafka_conf_t *c, const char *component, const char *role,
                        int errors_logged)
{
    log_client *lc = calloc(1, sizeof(*lc));
    if (!lc)
        return -1;
    lc->errors_logged = errors_logged;
    snprintf(lc->component, sizeof(lc->component), "%s", component ? component : "kafka");
    snprintf(lc->role, sizeof(lc->role), "%s", role ? role : "");
    if (rd_kafka_conf_interceptor_add_on_conf_destroy(c, "sluice-log", log_on_conf_destroy, lc)) {
        free(lc);
        return -1;
    }
    /* from here on_conf_destroy frees lc */
    pthread_mutex_lock(&log_lock);
    lc->next = log_clients;
    log_clients = lc;
    pthread_mutex_unlock(&log_lock);
    if (rd_kafka_conf_interceptor_add_on_new(c, "sluice-log", log_on_new, lc))
        return -1;
    rd_kafka_conf_set_log_cb(c, log_cb);
    /* librdkafka's thread ("[thrd:main]: ") says nothing the message does
     * not; the handle is the line's component */
    char e[128];
    rd_kafka_conf_set(c, "log.thread.name", "false", e, sizeof(e));
    return 0;
}

rd_kafka_t *sl_kafka_client_new(rd_kafka_type_t type, rd_kafka_conf_t *c, char *errstr,
                                size_t errlen)
{
    log_new_lc = NULL;
    rd_kafka_t *rk = rd_kafka_new(type, c, errstr, errlen);
    if (rk)
        return rk;
    if (!log_new_lc) { /* refused before the handle was begun: c is intact */
        rd_kafka_conf_destroy(c);
        return NULL;
    }
    /* c's interceptors are freed but still in it: c stays (destroying it
     * would free them twice), its label goes (nothing calls it any more) */
    log_client *lc = log_new_lc, **pp = &log_clients;
    log_new_lc = NULL;
    pthread_mutex_lock(&log_lock);
    while (*pp && *pp != lc)
        pp = &(*pp)->next;
    if (*pp)
        *pp = lc->next;
    pthread_mutex_unlock(&log_lock);
    free(lc);
    return NULL;
}
