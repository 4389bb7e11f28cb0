/*
 * run.c - `sluice run`: broker, schema registry and worker in one process,
 * everything under one data directory (ARCHITECTURE.md 1).
 *
 *   sluice run [--config FILE] [--set key=value ...]
 *
 * Keys are each role's own, prefixed with the role: broker.listeners,
 * broker.log.dirs, registry.listeners, worker.listeners, worker.plugin.path,
 * worker.pipelines.dir ...; plus data.dir (default ./var). The config file
 * is a JSON object of such keys, flat ("broker.log.dirs": "x") or nested
 * ({"broker": {"log.dirs": "x"}}); --set wins over the file.
 *
 * Defaults tie the roles together on loopback:
 *   broker.listeners                       PLAINTEXT://127.0.0.1:9092
 *   broker.log.dirs                        <data.dir>/broker
 *   registry.listeners                     http://127.0.0.1:8081
 *   registry.kafkastore.bootstrap.servers  the broker's listener
 *   worker.listeners                       http://127.0.0.1:8083
 *   worker.bootstrap.servers               the broker's listener
 *   worker.schema.registry.url             the registry's listener
 *   worker.pipelines.dir                   <data.dir>/pipelines (created)
 *   worker.security.protocol,              the scheme of the broker's first listener
 *   registry.kafkastore.security.protocol  when it is SASL_PLAINTEXT, SSL or SASL_SSL
 *
 * A broker with a SASL listener needs the worker's and the registry's
 * credentials from the user, as for an external cluster:
 * worker.sasl.jaas.config (or worker.sasl.username / worker.sasl.password)
 * and registry.kafkastore.sasl.jaas.config; every Kafka client key
 * (core/kafka_client.h) passes through under its role's prefix.
 *
 * Life cycle: the broker runs its libuv loop on the main thread. Once it
 * serves, a companion thread starts the registry (which reads _schemas to
 * its end) and then the worker. On SIGINT/SIGTERM the broker keeps serving
 * and wakes the companion, which stops the worker (sources store their last
 * acknowledged positions) and the registry, and only then stops the broker:
 * nothing the other roles still write is cut off. A second signal stops the
 * broker at once.
 */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "broker.h"
#include "logging.h"
#include "registry.h"
#include "run.h"
#include "worker.h"

#define RUN_MAX_ARGS 256

/* One role's argument vector: argv[0] = role, then --set k=v pairs. */
typedef struct role_args {
    const char *role;
    char *argv[RUN_MAX_ARGS];
    int argc;
} role_args;

typedef struct run_state {
    role_args broker, registry, worker;
    char *data_dir;
    sl_registry *reg;
    sl_worker *worker_h;
    pthread_t companion;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop_requested, failed, companion_started;
} run_state;

/* ---- arguments --------------------------------------------------------- */

static const char *role_get(const role_args *r, const char *key)
{
    size_t kl = strlen(key);
    const char *found = NULL;
    for (int i = 2; i < r->argc; i += 2) /* --set k=v: the last one wins */
        if (!strncmp(r->argv[i], key, kl) && r->argv[i][kl] == '=')
            found = r->argv[i] + kl + 1;
    return found;
}

static int role_set(role_args *r, const char *key, const char *value)
{
    if (r->argc + 2 >= RUN_MAX_ARGS)
        return -1;
    size_t n = strlen(key) + strlen(value) + 2;
    char *kv = malloc(n);
    if (!kv)
        return -1;
    snprintf(kv, n, "%s=%s", key, value);
    r->argv[r->argc++] = strdup("--set");
    r->argv[r->argc++] = kv;
    r->argv[r->argc] = NULL;
    return 0;
}

static void role_free(role_args *r)
{
    for (int i = 0; i < r->argc; i++)
        free(r->argv[i]);
    r->argc = 0;
}

/* "broker.log.dirs=x" -> broker's log.dirs; "data.dir=x". */
static int run_set(run_state *st, const char *key, const char *value, char *err, size_t errlen)
{
    if (!strcmp(key, "data.dir")) {
        free(st->data_dir);
        st->data_dir = strdup(value);
        return st->data_dir ? 0 : -1;
    }
    role_args *roles[] = {&st->broker, &st->registry, &st->worker};
    for (int i = 0; i < 3; i++) {
        size_t rl = strlen(roles[i]->role);
        if (!strncmp(key, roles[i]->role, rl) && key[rl] == '.' && key[rl + 1])
            return role_set(roles[i], key + rl + 1, value);
    }
    snprintf(err, errlen,
             "'%s': sluice run takes data.dir and keys prefixed with a role "
             "(broker., registry., worker.)",
             key);
    return -1;
}

static int json_scalar_text(const json_t *v, char *buf, size_t len)
{
    if (json_is_string(v))
        snprintf(buf, len, "%s", json_string_value(v));
    else if (json_is_integer(v))
        snprintf(buf, len, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        snprintf(buf, len, "%g", json_real_value(v));
    else if (json_is_boolean(v))
        snprintf(buf, len, "%s", json_is_true(v) ? "true" : "false");
    else
        return -1;
    return 0;
}

/* Flattens nested objects with dots into run_set calls. */
static int run_set_json(run_state *st, const char *prefix, const json_t *obj, const char *file,
                        char *err, size_t errlen)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        char key[512], text[4096];
        snprintf(key, sizeof(key), "%s%s%s", prefix, *prefix ? "." : "", k);
        if (json_is_object(v)) {
            if (run_set_json(st, key, v, file, err, errlen))
                return -1;
            continue;
        }
        if (json_scalar_text(v, text, sizeof(text))) {
            snprintf(err, errlen, "%s: %s: a string, number or boolean is expected", file, key);
            return -1;
        }
        if (run_set(st, key, text, err, errlen))
            return -1;
    }
    return 0;
}

static int run_parse(run_state *st, int argc, char **argv, char *err, size_t errlen)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--config") && i + 1 < argc) {
            json_error_t je;
            json_t *root = json_load_file(argv[++i], 0, &je);
            if (!json_is_object(root)) {
                snprintf(err, errlen, "--config %s: %s (line %d)", argv[i],
                         root ? "not a JSON object" : je.text, je.line);
                json_decref(root);
                return -1;
            }
            int rc = run_set_json(st, "", root, argv[i], err, errlen);
            json_decref(root);
            if (rc)
                return -1;
        } else if (!strcmp(argv[i], "--set") && i + 1 < argc) {
            char *kv = argv[++i], *eq = strchr(kv, '=');
            if (!eq || eq == kv) {
                snprintf(err, errlen, "--set %s: expected key=value", kv);
                return -1;
            }
            *eq = 0;
            int rc = run_set(st, kv, eq + 1, err, errlen);
            *eq = '=';
            if (rc)
                return -1;
        } else {
            snprintf(err, errlen, "unexpected argument '%s' (use --config FILE, --set key=value)",
                     argv[i]);
            return -1;
        }
    }
    return 0;
}

/* "PLAINTEXT://0.0.0.0:9092,..." -> "127.0.0.1:9092" (what a local client
 * dials); "http://0.0.0.0:8081" -> "http://127.0.0.1:8081". */
static void local_address(const char *listener, int keep_scheme, char *out, size_t len)
{
    char first[512];
    snprintf(first, sizeof(first), "%s", listener);
    char *comma = strchr(first, ',');
    if (comma)
        *comma = 0;
    char *sep = strstr(first, "://");
    char *hostport = sep ? sep + 3 : first;
    char *colon = strrchr(hostport, ':');
    const char *port = colon ? colon + 1 : "";
    if (colon)
        *colon = 0;
    const char *host = hostport;
    if (!*host || !strcmp(host, "0.0.0.0") || !strcmp(host, "[::]") || !strcmp(host, "::"))
        host = "127.0.0.1";
    size_t n = 0;
    out[0] = 0;
    if (keep_scheme && sep) {
        *sep = 0;
        n = (size_t)snprintf(out, len, "%s://", first);
    }
    if (n < len && snprintf(out + n, len - n, "%s:%s", host, port) >= (int)(len - n))
        out[len - 1] = 0; /* truncated: the listener text was absurdly long */
}

static int mkdirs(const char *path)
{
    char buf[4096];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(buf, 0755) && errno != EEXIST)
                return -1;
            *p = '/';
        }
    return mkdir(buf, 0755) && errno != EEXIST ? -1 : 0;
}

/* The broker's first listener is SASL_PLAINTEXT://, SSL:// or SASL_SSL://:
 * the worker's and the registry's clients speak that protocol unless told
 * otherwise (their credentials are the user's to give). */
static void listener_protocol(run_state *st)
{
    static const char *const secured[] = {"SASL_PLAINTEXT", "SSL", "SASL_SSL"};
    const char *l = role_get(&st->broker, "listeners"), *sep = l ? strstr(l, "://") : NULL;
    const char *comma = l ? strchr(l, ',') : NULL;
    if (!sep || (comma && comma < sep))
        return;
    for (size_t i = 0; i < sizeof(secured) / sizeof(secured[0]); i++) {
        size_t n = strlen(secured[i]);
        if ((size_t)(sep - l) != n || strncasecmp(l, secured[i], n))
            continue;
        if (!role_get(&st->worker, "security.protocol"))
            role_set(&st->worker, "security.protocol", secured[i]);
        if (!role_get(&st->registry, "kafkastore.security.protocol"))
            role_set(&st->registry, "kafkastore.security.protocol", secured[i]);
    }
}

/* Fills every default that ties the roles together. */
static int run_defaults(run_state *st, char *err, size_t errlen)
{
    char path[4096], addr[512];
    if (!role_get(&st->broker, "listeners"))
        role_set(&st->broker, "listeners", "PLAINTEXT://127.0.0.1:9092");
    if (!role_get(&st->broker, "log.dirs")) {
        snprintf(path, sizeof(path), "%s/broker", st->data_dir);
        role_set(&st->broker, "log.dirs", path);
    }
    listener_protocol(st);
    local_address(role_get(&st->broker, "listeners"), 0, addr, sizeof(addr));
    if (!role_get(&st->registry, "kafkastore.bootstrap.servers"))
        role_set(&st->registry, "kafkastore.bootstrap.servers", addr);
    if (!role_get(&st->worker, "bootstrap.servers"))
        role_set(&st->worker, "bootstrap.servers", addr);
    if (!role_get(&st->registry, "listeners"))
        role_set(&st->registry, "listeners", "http://127.0.0.1:8081");
    if (!role_get(&st->worker, "schema.registry.url")) {
        local_address(role_get(&st->registry, "listeners"), 1, addr, sizeof(addr));
        role_set(&st->worker, "schema.registry.url", addr);
    }
    if (!role_get(&st->worker, "listeners"))
        role_set(&st->worker, "listeners", "http://127.0.0.1:8083");
    if (!role_get(&st->worker, "pipelines.dir")) {
        snprintf(path, sizeof(path), "%s/pipelines", st->data_dir);
        role_set(&st->worker, "pipelines.dir", path);
    }
    if (mkdirs(role_get(&st->worker, "pipelines.dir"))) {
        snprintf(err, errlen, "worker.pipelines.dir %s: %s", role_get(&st->worker, "pipelines.dir"),
                 strerror(errno));
        return -1;
    }
    return 0;
}

/* ---- the companion thread: registry and worker ------------------------- */

static void *companion_main(void *arg)
{
    run_state *st = arg;
    char err[2048];
    if (sl_registry_start(st->registry.argc, st->registry.argv, &st->reg, err, sizeof(err))) {
        sl_error("run", "registry: %s", err);
        st->failed = 1;
        goto stop;
    }
    if (!(st->worker_h = sl_worker_create(st->worker.argc, st->worker.argv, err, sizeof(err))) ||
        sl_worker_start(st->worker_h, err, sizeof(err))) {
        sl_error("run", "worker: %s", err);
        st->failed = 1;
        goto stop;
    }
    sl_info("run", "serving: broker %s, registry %s, worker REST %s, pipelines in %s; "
                   "Ctrl-C stops everything",
            role_get(&st->broker, "listeners"), role_get(&st->registry, "listeners"),
            role_get(&st->worker, "listeners"), role_get(&st->worker, "pipelines.dir"));
    pthread_mutex_lock(&st->mu);
    while (!st->stop_requested)
        pthread_cond_wait(&st->cv, &st->mu);
    pthread_mutex_unlock(&st->mu);
stop:
    sl_worker_destroy(st->worker_h);
    st->worker_h = NULL;
    sl_registry_stop(st->reg);
    st->reg = NULL;
    sl_info("run", "worker and registry stopped; stopping the broker");
    sl_broker_shutdown();
    return NULL;
}

/* runs on: the broker's loop thread */
static void on_broker_started(void *arg)
{
    run_state *st = arg;
    if (pthread_create(&st->companion, NULL, companion_main, st) == 0) {
        st->companion_started = 1;
    } else {
        sl_error("run", "cannot start the registry/worker thread: %s", strerror(errno));
        st->failed = 1;
        sl_broker_shutdown();
    }
}

/* runs on: the broker's loop thread; must not block */
static void on_broker_stopping(void *arg)
{
    run_state *st = arg;
    pthread_mutex_lock(&st->mu);
    st->stop_requested = 1;
    pthread_cond_signal(&st->cv);
    pthread_mutex_unlock(&st->mu);
}

static void run_usage(FILE *f)
{
    fprintf(f, "usage: sluice run [--config FILE] [--set key=value ...]\n\n"
               "Broker, schema registry and worker in one process. Keys: data.dir (default\n"
               "./var) and each role's keys prefixed with the role, e.g.\n"
               "  --set broker.listeners=PLAINTEXT://127.0.0.1:9092\n"
               "  --set registry.listeners=http://127.0.0.1:8081\n"
               "  --set worker.listeners=http://127.0.0.1:8083\n"
               "  --set worker.pipelines.dir=config/pipelines\n"
               "sluice broker|registry|worker --help list each role's keys.\n");
}

int sl_run_main(int argc, char **argv)
{
    char err[2048];
    int rc = 2;
    run_state st = {.broker.role = "broker", .registry.role = "registry", .worker.role = "worker"};
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            run_usage(stdout);
            return 0;
        }
    role_args *roles[] = {&st.broker, &st.registry, &st.worker};
    for (int i = 0; i < 3; i++) {
        roles[i]->argv[0] = strdup(roles[i]->role);
        roles[i]->argc = 1;
    }
    st.data_dir = strdup("./var");
    pthread_mutex_init(&st.mu, NULL);
    pthread_cond_init(&st.cv, NULL);
    if (run_parse(&st, argc, argv, err, sizeof(err)) || run_defaults(&st, err, sizeof(err))) {
        fprintf(stderr, "sluice run: %s\n\n", err);
        run_usage(stderr);
        goto out;
    }
    sl_broker_embed embed = {on_broker_started, on_broker_stopping, &st};
    rc = sl_broker_run(st.broker.argc, st.broker.argv, &embed);
    if (st.companion_started) {
        on_broker_stopping(&st); /* the broker stopped on its own */
        pthread_join(st.companion, NULL);
    }
    if (rc == 0 && st.failed)
        rc = 1;
out:
    for (int i = 0; i < 3; i++)
        role_free(roles[i]);
    free(st.data_dir);
    pthread_mutex_destroy(&st.mu);
    pthread_cond_destroy(&st.cv);
    return rc;
}
