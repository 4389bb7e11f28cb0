/*
 * pipeline.c - connectors: pipeline files, stored configs, and each
 * connector's life cycle (create, update, pause, resume, stop, restart,
 * delete) behind the REST API.
 *
 * A pipeline file (one JSON object per *.json in pipelines.dir):
 *
 *   {"name": "orders",                           default: the file name
 *    "source": {"connector.class": "datagen", ...},
 *    "transforms": [{"type": "...", ...}],       the source's (Kafka Connect's
 *                                                transforms.* keys), else each sink's
 *    "sinks": {"<sink>": {"connector.class": "file", "topics": "a,b", ...}}}
 *
 * becomes connectors "<name>.source" and "<name>.<sink>", each with
 * tasks.max = 1 (task 0). Every connector config is resolved (${env:},
 * ${file:}) and validated against its plugin's option table by the plugin
 * host; the worker-level keys (converters, errors.*, topics) are taken out
 * first. Whatever is wrong is logged per field, the connector is marked
 * FAILED in _sluice_status, and the others start anyway: a bad pipeline
 * never stops a good one.
 *
 * Stored state (as Kafka Connect's KafkaConfigBackingStore), in
 * _sluice_configs:
 *   connector-<name>     {"properties": {<the config, unresolved>}}
 *   target-state-<name>  {"state": "STARTED" | "PAUSED" | "STOPPED"}
 * a null value (tombstone) deletes. A worker (re)starting reads the topic to
 * its end and starts every connector in its last target state, so a kill -9
 * changes nothing: PAUSED stays PAUSED, STOPPED stays STOPPED.
 *
 * Pipeline files and the REST API (the choice, as Kafka Connect treats a
 * connector file given to a standalone worker): the files give a
 * connector's INITIAL config. Nothing of a file is written to
 * _sluice_configs until the REST API changes that connector; from then on
 * the stored config wins over the file at every start. A connector's target
 * state is stored by pause/resume/stop whatever its origin. DELETE of a
 * file connector tombstones what was stored: it is gone until the next
 * start, where its file (if still there) brings it back with the file's
 * config - the way to return to a file's config after REST edits.
 *
 * Tasks: one per connector (task 0), on its own thread (worker_source.c,
 * worker_sink.c). Pause sets a flag the task loop checks (it keeps its
 * place: a source keeps acknowledging and storing positions, a sink
 * flushes and commits, neither polls); stop and restart join the thread.
 * A halted task's memory may still be the opaque of records in flight; it
 * is freed at once only when nothing is in flight, else after the worker's
 * final producer flush (w->graveyard).
 *
 * Runs on: the control thread at start, REST threads later; every function
 * that changes connectors runs with w->ctl held (see worker_conn.h).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logging.h"
#include "restclient.h"
#include "transforms.h"
#include "worker_conn.h"

static const char *cfg_str(const json_t *config, const char *key, const char *def)
{
    const char *v = json_string_value(json_object_get(config, key));
    return v ? v : def;
}

json_t *sl_conn_plugin_config(const json_t *config)
{
    json_t *c = json_deep_copy(config);
    json_object_del(c, "topics");
    json_object_del(c, "topics.regex");
    return c;
}

static const char *const target_names[] = {"STARTED", "PAUSED", "STOPPED"};

static int target_parse(const char *s)
{
    for (int i = 0; i < 3; i++)
        if (s && !strcmp(s, target_names[i]))
            return i;
    return s && !strcmp(s, "RUNNING") ? SL_TARGET_STARTED : -1;
}

/* ======================================================================== */
/* Lookup and display                                                        */
/* ======================================================================== */

sl_wconn *sl_conn_find(sl_worker *w, const char *name)
{
    for (sl_wconn *c = w->conns; c; c = c->next)
        if (!strcmp(c->name, name))
            return c;
    return NULL;
}

const char *sl_conn_type(const sl_wconn *c)
{
    return c->is_source < 0 ? "unknown" : c->is_source ? "source" : "sink";
}

json_t *sl_conn_shown(const sl_plugin *p, const json_t *config)
{
    json_t *out = p ? sl_plugin_mask(p, config) : json_deep_copy(config);
    const char *key;
    json_t *val;
    json_object_foreach(out, key, val)
    {
        const char *s = json_string_value(val);
        if (s && (strstr(s, "${env:") || strstr(s, "${file:") || sl_restclient_secret_key(key)))
            json_object_set_new(out, key, json_string("[hidden]"));
    }
    return out;
}

/* ======================================================================== */
/* Tasks                                                                     */
/* ======================================================================== */

/* Frees a task that is not running (its thread joined or never started). */
static void wtask_free(sl_wtask *wt)
{
    if (!wt)
        return;
    sl_task_destroy(wt->task);
    sl_converter_destroy(wt->key_conv);
    sl_converter_destroy(wt->value_conv);
    json_decref(wt->config);
    free(wt->trace);
    free(wt->connector);
    free(wt);
}

/* Nothing of a halted task is still the opaque of a message in flight. */
static int wtask_idle(sl_wtask *wt)
{
    for (int i = 0; i < SL_RING_SIZE; i++)
        if (atomic_load(&wt->ring[i].outstanding) > 0)
            return 0;
    return atomic_load(&wt->offw.state) != 1 && atomic_load(&wt->dlq.outstanding) == 0;
}

static int task_prepare(sl_worker *w, sl_wtask *wt, const json_t *raw, char *err, size_t errlen)
{
    const char *cls = cfg_str(raw, "connector.class", NULL);
    const char *dot = cls ? strrchr(cls, '.') : NULL;
    if (!cls) {
        snprintf(err, errlen, "connector.class: missing");
        return -1;
    }
    if (sl_config_resolve(raw, &wt->config, err, errlen) != 0)
        return -1;
    json_object_set_new(wt->config, "name", json_string(wt->connector));
    /* "datagen" or a Java-style "io.sluice.connect.datagen" both name datagen */
    if (sl_plugin_host_load(w->host, dot ? dot + 1 : cls, &wt->plugin, err, errlen) != 0)
        return -1;
    int kind = sl_plugin_def(wt->plugin)->kind;
    if ((kind == SLUICE_SOURCE) != wt->is_source) {
        snprintf(err, errlen, "connector.class: %s is a %s plugin, used as a %s", cls,
                 kind == SLUICE_SOURCE ? "source" : "sink", wt->is_source ? "source" : "sink");
        return -1;
    }
    int has_topics = json_string_value(json_object_get(wt->config, "topics")) != NULL;
    int has_regex = json_string_value(json_object_get(wt->config, "topics.regex")) != NULL;
    if (!wt->is_source && has_topics == has_regex) {
        snprintf(err, errlen, "topics, topics.regex: a sink needs exactly one of them "
                              "(\"topics\": \"a,b\" or \"topics.regex\": \"shop\\\\..*\")");
        return -1;
    }
    char key[1024], *position = NULL;
    sl_worker_offset_key(wt->connector, wt->id, key, sizeof(key));
    pthread_mutex_lock(&w->lock);
    const char *stored = wt->is_source ? json_string_value(json_object_get(w->offsets, key)) : NULL;
    position = stored ? strdup(stored) : NULL;
    pthread_mutex_unlock(&w->lock);
    if (position)
        sl_info("worker", "%s/%d: stored position %s", wt->connector, wt->id, position);
    json_t *pc = sl_conn_plugin_config(wt->config);
    wt->task = sl_task_create(wt->plugin, wt->connector, wt->id, pc, position, err, errlen);
    json_decref(pc);
    free(position);
    if (!wt->task)
        return -1;
    if (sl_worker_converter_defaults(w, wt->config) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (!(wt->key_conv = sl_converter_create(cfg_str(wt->config, "key.converter", "json"), 1,
                                             wt->config, err, errlen)) ||
        !(wt->value_conv = sl_converter_create(cfg_str(wt->config, "value.converter", "json"), 0,
                                               wt->config, err, errlen)))
        return -1;
    int64_t d;
    if (sl_config_worker_int(wt->config, "errors.retry.delay.max.ms", &d, err, errlen) != 0)
        return -1;
    wt->retry_max_delay_ms = d > 0 ? d : 60000;
    return 0;
}

/* Builds task `id` of connector c from its config; NULL with err. */
static sl_wtask *task_build(sl_worker *w, sl_wconn *c, int id, int is_source, char *err,
                            size_t errlen)
{
    sl_wtask *wt = calloc(1, sizeof(*wt));
    if (!wt || !(wt->connector = strdup(c->name))) {
        free(wt);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    wt->w = w;
    wt->conn = c;
    wt->id = id;
    wt->is_source = is_source;
    snprintf(wt->state, sizeof(wt->state), "UNASSIGNED");
    wt->offw.tag = (sl_dr_tag){SL_DR_OFFSET, wt};
    atomic_store(&wt->lag, -1);
    for (int i = 0; i < SL_RING_SIZE; i++)
        wt->ring[i].tag = (sl_dr_tag){SL_DR_BATCH, wt};
    if (task_prepare(w, wt, c->config, err, errlen) != 0) {
        wtask_free(wt);
        return NULL;
    }
    return wt;
}

/* The plugin kind of a config's connector.class: 1 source, 0 sink, -1 when
 * it does not load (err set). w->ctl held (the plugin host). */
static int class_kind(sl_worker *w, const json_t *config, const sl_plugin **p, char *err,
                      size_t errlen)
{
    const char *cls = cfg_str(config, "connector.class", NULL);
    const char *dot = cls ? strrchr(cls, '.') : NULL;
    *p = NULL;
    if (!cls) {
        snprintf(err, errlen,
                 "Missing required configuration \"connector.class\" which has no "
                 "default value.");
        return -1;
    }
    if (sl_plugin_host_load(w->host, dot ? dot + 1 : cls, p, err, errlen) != 0)
        return -1;
    return sl_plugin_def(*p)->kind == SLUICE_SOURCE;
}

/* How many tasks connector c runs: tasks.max (default 1), capped by what
 * its plugin allows (logged when that lowers it) and SL_MAX_TASKS. */
static int tasks_wanted(const sl_wconn *c)
{
    char err[512];
    int64_t n; /* validated with the config: 1 (the default) should it be bad */
    sl_config_worker_int(c->config, "tasks.max", &n, err, sizeof(err));
    unsigned cap = sl_plugin_max_tasks(c->plugin);
    if ((unsigned long)n > cap || n > SL_MAX_TASKS) {
        long to = (unsigned long)cap < SL_MAX_TASKS ? (long)cap : SL_MAX_TASKS;
        sl_info(c->name, "tasks.max %lld: the %s plugin runs %ld task%s per connector", (long long)n,
                sl_plugin_def(c->plugin)->name, to, to == 1 ? "" : "s");
        n = to;
    }
    return (int)n;
}

/* Starts task `id` of connector c (built from its config) in c->target.
 * On a problem the connector is FAILED with the reason as its trace (-1).
 * w->ctl held. */
static int task_start(sl_worker *w, sl_wconn *c, int id)
{
    char err[4096] = "";
    sl_wtask *wt = task_build(w, c, id, c->is_source, err, sizeof(err));
    if (!wt) {
        sl_worker_status(w, c->name, -1, "FAILED", err);
        return -1;
    }
    atomic_store(&wt->paused, c->target == SL_TARGET_PAUSED);
    pthread_mutex_lock(&w->lock);
    c->tasks[id] = wt;
    if (c->n_tasks <= id)
        c->n_tasks = id + 1;
    pthread_mutex_unlock(&w->lock);
    if (pthread_create(&wt->thread, NULL, wt->is_source ? sl_source_thread : sl_sink_thread, wt)) {
        sl_worker_status(w, c->name, id, "FAILED", "cannot start the task thread");
        return 0; /* the task is FAILED, the connector goes on */
    }
    wt->started = 1;
    /* top -H / perf show which connector's task a thread is: "src:<name>"
     * or "snk:<name>", cut to the kernel's 15 characters */
    char tname[16];
    snprintf(tname, sizeof(tname), "%s:%s", wt->is_source ? "src" : "snk", c->name);
    pthread_setname_np(wt->thread, tname);
    return 0;
}

static void conn_task_halt(sl_worker *w, sl_wconn *c);

/* Starts connector c's tasks in c->target (STARTED or PAUSED). w->ctl held. */
static void conn_task_start(sl_worker *w, sl_wconn *c)
{
    char err[4096] = "";
    const sl_plugin *p = NULL;
    int kind = class_kind(w, c->config, &p, err, sizeof(err));
    pthread_mutex_lock(&w->lock);
    c->plugin = p;
    c->is_source = kind;
    pthread_mutex_unlock(&w->lock);
    if (kind < 0) {
        sl_worker_status(w, c->name, -1, "FAILED", err);
        return;
    }
    int paused = c->target == SL_TARGET_PAUSED, n = tasks_wanted(c);
    sl_worker_status(w, c->name, -1, paused ? "PAUSED" : "RUNNING", NULL);
    for (int id = 0; id < n; id++)
        if (task_start(w, c, id) != 0) { /* the connector FAILED: none of its tasks runs */
            conn_task_halt(w, c);
            break;
        }
}

/* Stops and joins task `id` of c (a source stores its last position
 * first), then frees it. w->ctl held. */
static void task_halt(sl_worker *w, sl_wconn *c, int id)
{
    sl_wtask *wt = c->tasks[id];
    if (!wt)
        return;
    atomic_store(&wt->stop, 1);
    if (wt->started)
        pthread_join(wt->thread, NULL);
    wt->started = 0;
    pthread_mutex_lock(&w->lock);
    c->tasks[id] = NULL;
    while (c->n_tasks > 0 && !c->tasks[c->n_tasks - 1])
        c->n_tasks--;
    pthread_mutex_unlock(&w->lock);
    if (wtask_idle(wt)) {
        wtask_free(wt);
    } else {
        wt->next = w->graveyard;
        w->graveyard = wt;
    }
}

/* Stops every task of c: all told first, so they wind down together. */
static void conn_task_halt(sl_worker *w, sl_wconn *c)
{
    for (int i = 0; i < c->n_tasks; i++)
        if (c->tasks[i])
            atomic_store(&c->tasks[i]->stop, 1);
    for (int i = c->n_tasks; i-- > 0;)
        task_halt(w, c, i);
}

/* Puts c's running state in line with c->target. w->ctl held. */
static void conn_apply_target(sl_worker *w, sl_wconn *c)
{
    if (c->target == SL_TARGET_STOPPED) {
        conn_task_halt(w, c);
        if (c->is_source < 0) { /* its type, for the REST answers */
            char err[1024];
            const sl_plugin *p;
            int kind = class_kind(w, c->config, &p, err, sizeof(err));
            pthread_mutex_lock(&w->lock);
            c->plugin = p;
            c->is_source = kind;
            pthread_mutex_unlock(&w->lock);
        }
        sl_worker_status(w, c->name, -1, "STOPPED", NULL);
        return;
    }
    if (c->n_tasks == 0) {
        conn_task_start(w, c);
        return;
    }
    int paused = c->target == SL_TARGET_PAUSED;
    sl_worker_status(w, c->name, -1, paused ? "PAUSED" : "RUNNING", NULL);
    for (int i = 0; i < c->n_tasks; i++) {
        sl_wtask *wt = c->tasks[i];
        if (!wt)
            continue;
        atomic_store(&wt->paused, paused);
        pthread_mutex_lock(&w->lock);
        int failed = !strcmp(wt->state, "FAILED");
        pthread_mutex_unlock(&w->lock);
        if (!failed) /* a FAILED task stays FAILED until restarted */
            sl_worker_status(w, c->name, i, paused ? "PAUSED" : "RUNNING", NULL);
    }
}

/* ======================================================================== */
/* The connector list                                                        */
/* ======================================================================== */

/* Adds connector `name` (config: a new reference, taken). w->ctl held. */
static sl_wconn *conn_add(sl_worker *w, const char *name, json_t *config, int from_file)
{
    sl_wconn *c = calloc(1, sizeof(*c));
    if (!c || !(c->name = strdup(name)) || !(c->topics = json_object())) {
        if (c)
            free(c->name);
        free(c);
        json_decref(config);
        return NULL;
    }
    json_object_set_new(config, "name", json_string(name));
    c->config = config;
    c->from_file = from_file;
    c->is_source = -1;
    snprintf(c->state, sizeof(c->state), "UNASSIGNED");
    pthread_mutex_lock(&w->lock);
    sl_wconn **tail = &w->conns;
    while (*tail)
        tail = &(*tail)->next;
    *tail = c;
    pthread_mutex_unlock(&w->lock);
    return c;
}

static void conn_free(sl_wconn *c)
{
    json_decref(c->config);
    json_decref(c->topics);
    free(c->trace);
    free(c->name);
    free(c);
}

/* Unlinks and frees c (its task halted). w->ctl held. */
static void conn_remove(sl_worker *w, sl_wconn *c)
{
    conn_task_halt(w, c);
    pthread_mutex_lock(&w->lock);
    for (sl_wconn **pp = &w->conns; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    pthread_mutex_unlock(&w->lock);
    conn_free(c);
}

void sl_conns_halt_all(sl_worker *w)
{
    for (sl_wconn *c = w->conns; c; c = c->next)
        for (int i = 0; i < c->n_tasks; i++)
            if (c->tasks[i])
                atomic_store(&c->tasks[i]->stop, 1);
    for (sl_wconn *c = w->conns; c; c = c->next)
        conn_task_halt(w, c);
}

void sl_conns_free_all(sl_worker *w)
{
    while (w->conns) {
        sl_wconn *c = w->conns;
        w->conns = c->next;
        for (int i = 0; i < c->n_tasks; i++)
            wtask_free(c->tasks[i]);
        conn_free(c);
    }
    while (w->graveyard) {
        sl_wtask *wt = w->graveyard;
        w->graveyard = wt->next;
        wtask_free(wt);
    }
}

/* ======================================================================== */
/* Stored configs                                                            */
/* ======================================================================== */

static int store_config(sl_worker *w, const char *name, const json_t *config, char *err,
                        size_t errlen)
{
    char key[600];
    snprintf(key, sizeof(key), "connector-%s", name);
    json_t *v = json_pack("{s:O}", "properties", config);
    char *text = v ? json_dumps(v, JSON_COMPACT) : NULL;
    json_decref(v);
    int rc = text ? sl_worker_topic_put(w, SL_CONFIGS_TOPIC, key, text, err, errlen) : -1;
    free(text);
    return rc;
}

static int store_target(sl_worker *w, const char *name, int target, char *err, size_t errlen)
{
    char key[600], value[64];
    snprintf(key, sizeof(key), "target-state-%s", name);
    snprintf(value, sizeof(value), "{\"state\":\"%s\"}", target_names[target]);
    return sl_worker_topic_put(w, SL_CONFIGS_TOPIC, key, value, err, errlen);
}

static int store_forget(sl_worker *w, const char *name, char *err, size_t errlen)
{
    char key[600];
    snprintf(key, sizeof(key), "connector-%s", name);
    if (sl_worker_topic_put(w, SL_CONFIGS_TOPIC, key, NULL, err, errlen) != 0)
        return -1;
    snprintf(key, sizeof(key), "target-state-%s", name);
    return sl_worker_topic_put(w, SL_CONFIGS_TOPIC, key, NULL, err, errlen);
}

/* ======================================================================== */
/* Validation (REST create / update)                                          */
/* ======================================================================== */

/* Appends every error of a validate answer, one per line; returns how many. */
static int answer_errors(const json_t *answer, char *buf, size_t len, size_t *off)
{
    int n = 0;
    size_t i, j;
    json_t *c, *e;
    json_array_foreach(json_object_get(answer, "configs"), i, c)
    {
        json_array_foreach(json_object_get(json_object_get(c, "value"), "errors"), j, e)
        {
            if (*off < len)
                *off += (size_t)snprintf(buf + *off, len - *off, "%s\n", json_string_value(e));
            n++;
        }
    }
    return n;
}

int sl_conn_client_check(sl_worker *w, const json_t *resolved, int is_sink, json_t *errors)
{
    int n = 0;
    const char *k;
    json_t *v;
    /* a sink's producer.override.* / admin.override.*: Kafka Connect's,
     * which a user may bring along; said plainly rather than as keys the
     * plugin lacks */
    json_object_foreach((json_t *)resolved, k, v)
    {
        if (is_sink && !strncmp(k, "producer.override.", 18))
            json_array_append_new(errors,
                                  json_sprintf("%s: a sink connector's producer overrides are not "
                                               "supported: its dead letter queue uses the worker's "
                                               "producer; set producer.%s in the worker's config",
                                               k, k + 18));
        else if (!strncmp(k, "admin.override.", 15))
            json_array_append_new(
                errors, json_sprintf("%s: per-connector admin client overrides are not "
                                     "supported: every connector shares the worker's admin "
                                     "client; set admin.%s in the worker's config",
                                     k, k + 15));
        else
            continue;
        n++;
    }
    /* a source's producer.override.* / a sink's consumer.override.*, as
     * its own producer / its consumer will take them */
    char why[1024];
    rd_kafka_conf_t *c = sl_worker_client_conf(
        w, is_sink ? SL_WCLIENT_CONSUMER : SL_WCLIENT_PRODUCER, NULL, resolved, NULL, why,
        sizeof(why));
    if (c) {
        rd_kafka_conf_destroy(c);
        return n;
    }
    json_array_append_new(errors, json_string(why));
    return n + 1;
}

/* Checks config for connector `name` as Kafka Connect does before storing
 * it. SL_WC_OK, or SL_WC_INVALID with err in Kafka Connect's words.
 * w->ctl held. */
static int conn_validate(sl_worker *w, const char *name, const json_t *config, char *err,
                         size_t errlen)
{
    const sl_plugin *p;
    char lines[3500] = "";
    size_t off = 0;
    int n = 0;
    if (!json_is_object(config)) {
        snprintf(err, errlen, "Connector config must be a JSON object of strings");
        return SL_WC_INVALID;
    }
    const char *cfg_name = cfg_str(config, "name", NULL);
    if (cfg_name && strcmp(cfg_name, name)) {
        snprintf(err, errlen,
                 "Connector name configuration (%s) doesn't match connector name in the URL (%s)",
                 cfg_name, name);
        return SL_WC_INVALID;
    }
    char why[2048];
    int kind = class_kind(w, config, &p, why, sizeof(why));
    if (kind < 0) {
        snprintf(err, errlen, "%s%s",
                 cfg_str(config, "connector.class", NULL)
                     ? "Failed to find any class that implements Connector "
                       "and which name matches the connector.class: "
                     : "",
                 why);
        return SL_WC_INVALID;
    }
    json_t *resolved = NULL;
    if (sl_config_resolve(config, &resolved, why, sizeof(why)) != 0) {
        off += (size_t)snprintf(lines + off, sizeof(lines) - off, "%s\n", why);
        n++;
    } else {
        json_t *pc = sl_conn_plugin_config(resolved);
        json_t *answer = sl_plugin_validate(p, pc);
        n += answer_errors(answer, lines, sizeof(lines), &off);
        json_decref(answer);
        json_decref(pc);
        if (!kind && !json_string_value(json_object_get(resolved, "topics")) &&
            !json_string_value(json_object_get(resolved, "topics.regex")) &&
            off < sizeof(lines)) {
            off += (size_t)snprintf(lines + off, sizeof(lines) - off,
                                    "Must configure one of topics or topics.regex\n");
            n++;
        }
        json_t *cerrs = json_array();
        sl_conn_client_check(w, resolved, !kind, cerrs);
        size_t ci;
        json_t *ce;
        json_array_foreach(cerrs, ci, ce)
        {
            if (off < sizeof(lines))
                off += (size_t)snprintf(lines + off, sizeof(lines) - off, "%s\n",
                                        json_string_value(ce));
            n++;
        }
        json_decref(cerrs);
    }
    json_decref(resolved);
    if (n > 0) {
        snprintf(err, errlen,
                 "Connector configuration is invalid and contains the following %d error(s):\n%s"
                 "You can also find the above list of errors at the endpoint "
                 "`/connector-plugins/{connectorType}/config/validate`",
                 n, lines);
        return SL_WC_INVALID;
    }
    return SL_WC_OK;
}

/* A trial build of the task catches what validation cannot (converters). */
static int conn_trial(sl_worker *w, const char *name, const json_t *config, char *err,
                      size_t errlen)
{
    sl_wconn tmp = {.name = (char *)name, .config = (json_t *)config};
    const sl_plugin *p;
    char why[2048];
    int kind = class_kind(w, config, &p, why, sizeof(why));
    sl_wtask *wt = kind < 0 ? NULL : task_build(w, &tmp, 0, kind, why, sizeof(why));
    if (!wt) {
        snprintf(err, errlen, "Connector configuration is invalid: %s", why);
        return SL_WC_INVALID;
    }
    wtask_free(wt);
    return SL_WC_OK;
}

/* ======================================================================== */
/* Control API (worker.h)                                                    */
/* ======================================================================== */

static void not_found(const char *name, char *err, size_t errlen)
{
    snprintf(err, errlen, "Connector %s not found", name);
}

int sl_worker_connector_put(sl_worker *w, const char *name, const json_t *config, int create_only,
                            const char *initial_state, char *err, size_t errlen)
{
    int target = initial_state ? target_parse(initial_state) : SL_TARGET_STARTED;
    if (target < 0 || (initial_state && !strcmp(initial_state, "STARTED"))) {
        snprintf(err, errlen, "Invalid initial state %s: one of RUNNING, PAUSED, STOPPED",
                 initial_state);
        return SL_WC_INVALID;
    }
    if (!*name || strchr(name, '/')) {
        snprintf(err, errlen, "Connector name must be a non-empty string without '/'");
        return SL_WC_INVALID;
    }
    pthread_mutex_lock(&w->ctl);
    pthread_mutex_lock(&w->lock);
    sl_wconn *c = sl_conn_find(w, name);
    pthread_mutex_unlock(&w->lock);
    int rc = SL_WC_OK;
    if (c && create_only) {
        snprintf(err, errlen, "Connector %s already exists", name);
        rc = SL_WC_EXISTS;
    } else if ((rc = conn_validate(w, name, config, err, errlen)) == SL_WC_OK &&
               (rc = conn_trial(w, name, config, err, errlen)) == SL_WC_OK) {
        json_t *copy = json_deep_copy(config);
        json_object_set_new(copy, "name", json_string(name));
        if (store_config(w, name, copy, err, errlen) != 0 ||
            (!c && store_target(w, name, target, err, errlen) != 0)) {
            json_decref(copy);
            rc = SL_WC_ERROR;
        } else if (c) {
            conn_task_halt(w, c);
            pthread_mutex_lock(&w->lock);
            json_decref(c->config);
            c->config = copy;
            pthread_mutex_unlock(&w->lock);
            sl_info("worker", "connector %s: config updated", name);
            conn_apply_target(w, c);
        } else if ((c = conn_add(w, name, copy, 0))) {
            c->target = target;
            sl_info("worker", "connector %s: created (%s)", name, target_names[target]);
            conn_apply_target(w, c);
            rc = SL_WC_CREATED;
        } else {
            snprintf(err, errlen, "out of memory");
            rc = SL_WC_ERROR;
        }
    }
    pthread_mutex_unlock(&w->ctl);
    return rc;
}

int sl_worker_connector_patch(sl_worker *w, const char *name, const json_t *patch, char *err,
                              size_t errlen)
{
    if (!json_is_object(patch)) {
        snprintf(err, errlen, "Connector config patch must be a JSON object");
        return SL_WC_INVALID;
    }
    pthread_mutex_lock(&w->lock);
    sl_wconn *c = sl_conn_find(w, name);
    json_t *merged = c ? json_deep_copy(c->config) : NULL;
    pthread_mutex_unlock(&w->lock);
    if (!c) {
        not_found(name, err, errlen);
        return SL_WC_NOT_FOUND;
    }
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)patch, key, val)
    {
        if (json_is_null(val))
            json_object_del(merged, key);
        else
            json_object_set(merged, key, val);
    }
    int rc = sl_worker_connector_put(w, name, merged, 0, NULL, err, errlen);
    json_decref(merged);
    return rc;
}

/* Finds connector name for a life-cycle operation; takes w->ctl (released
 * by the caller) unless not found. */
static sl_wconn *ctl_find(sl_worker *w, const char *name, char *err, size_t errlen)
{
    pthread_mutex_lock(&w->ctl);
    pthread_mutex_lock(&w->lock);
    sl_wconn *c = sl_conn_find(w, name);
    pthread_mutex_unlock(&w->lock);
    if (!c) {
        pthread_mutex_unlock(&w->ctl);
        not_found(name, err, errlen);
    }
    return c;
}

int sl_worker_connector_delete(sl_worker *w, const char *name, char *err, size_t errlen)
{
    sl_wconn *c = ctl_find(w, name, err, errlen);
    if (!c)
        return SL_WC_NOT_FOUND;
    int rc = store_forget(w, name, err, errlen) == 0 ? SL_WC_OK : SL_WC_ERROR;
    if (rc == SL_WC_OK) {
        conn_remove(w, c);
        sl_worker_status_forget(w, name);
        sl_info("worker", "connector %s: deleted", name);
    }
    pthread_mutex_unlock(&w->ctl);
    return rc;
}

int sl_worker_connector_target(sl_worker *w, const char *name, const char *target, char *err,
                               size_t errlen)
{
    int t = target_parse(target);
    sl_wconn *c = t < 0 ? NULL : ctl_find(w, name, err, errlen);
    if (!c)
        return t < 0 ? SL_WC_INVALID : SL_WC_NOT_FOUND;
    int rc = SL_WC_OK;
    if (store_target(w, name, t, err, errlen) != 0) {
        rc = SL_WC_ERROR;
    } else {
        c->target = t;
        sl_info("worker", "connector %s: target state %s", name, target_names[t]);
        conn_apply_target(w, c);
    }
    pthread_mutex_unlock(&w->ctl);
    return rc;
}

/* Restarts c's task (halt, rebuild from the config, start). w->ctl held. */
static void task_restart(sl_worker *w, sl_wconn *c)
{
    conn_task_halt(w, c);
    if (c->target != SL_TARGET_STOPPED)
        conn_task_start(w, c);
}

/* Restarts task id of c alone (the others keep running). w->ctl held. */
static void task_restart_one(sl_worker *w, sl_wconn *c, int id)
{
    task_halt(w, c, id);
    if (c->target != SL_TARGET_STOPPED)
        (void)task_start(w, c, id);
}

/* Is task i of c FAILED? w->lock held. */
static int task_failed(const sl_wconn *c, int i)
{
    return c->tasks[i] && !strcmp(c->tasks[i]->state, "FAILED");
}

int sl_worker_connector_restart(sl_worker *w, const char *name, int include_tasks, int only_failed,
                                json_t **out, char *err, size_t errlen)
{
    if (out && (include_tasks || only_failed) &&
        sl_worker_connector_status(w, name, out) != SL_WC_OK) {
        not_found(name, err, errlen);
        return SL_WC_NOT_FOUND;
    }
    sl_wconn *c = ctl_find(w, name, err, errlen);
    if (!c)
        return SL_WC_NOT_FOUND;
    int restart[SL_MAX_TASKS] = {0}, n_restart = 0;
    pthread_mutex_lock(&w->lock);
    int conn_failed = !strcmp(c->state, "FAILED"), n = c->n_tasks;
    for (int i = 0; i < n; i++)
        if (c->tasks[i] && include_tasks && (!only_failed || task_failed(c, i)))
            n_restart += restart[i] = 1;
    pthread_mutex_unlock(&w->lock);
    /* the connector itself: only a FAILED one has anything to restart */
    int restart_conn = !only_failed || conn_failed;
    json_t *st = out ? *out : NULL, *t;
    size_t k;
    if (st && restart_conn)
        json_object_set_new(json_object_get(st, "connector"), "state", json_string("RESTARTING"));
    json_array_foreach(st ? json_object_get(st, "tasks") : NULL, k, t)
    {
        json_int_t id = json_integer_value(json_object_get(t, "id"));
        if (id >= 0 && id < n && restart[id])
            json_object_set_new(t, "state", json_string("RESTARTING"));
    }
    if (restart_conn && conn_failed) {
        sl_info("worker", "connector %s: restarting with its tasks", name);
        task_restart(w, c);
    } else if (n_restart) {
        sl_info("worker", "connector %s: restarting %d of its %d task%s", name, n_restart, n,
                n == 1 ? "" : "s");
        for (int i = 0; i < n; i++)
            if (restart[i])
                task_restart_one(w, c, i);
    }
    pthread_mutex_unlock(&w->ctl);
    return SL_WC_OK;
}

int sl_worker_task_restart(sl_worker *w, const char *name, int task, char *err, size_t errlen)
{
    sl_wconn *c = ctl_find(w, name, err, errlen);
    if (!c)
        return SL_WC_NOT_FOUND;
    int rc = SL_WC_OK;
    if (task < 0 || task >= c->n_tasks || !c->tasks[task]) {
        snprintf(err, errlen, "Task %s-%d not found", name, task);
        rc = SL_WC_NOT_FOUND;
    } else {
        sl_info("worker", "connector %s: restarting task %d", name, task);
        task_restart_one(w, c, task);
    }
    pthread_mutex_unlock(&w->ctl);
    return rc;
}

int sl_worker_connector_topics_reset(sl_worker *w, const char *name, char *err, size_t errlen)
{
    sl_wconn *c = ctl_find(w, name, err, errlen);
    if (!c)
        return SL_WC_NOT_FOUND;
    pthread_mutex_lock(&w->lock);
    json_t *old = c->topics;
    c->topics = json_object();
    atomic_fetch_add(&c->topics_gen, 1);
    pthread_mutex_unlock(&w->lock);
    const char *topic;
    json_t *v;
    int rc = SL_WC_OK;
    json_object_foreach(old, topic, v)
    {
        char key[1024];
        snprintf(key, sizeof(key), "topic-%s-connector-%s", topic, name);
        if (sl_worker_topic_put(w, SL_STATUS_TOPIC, key, NULL, err, errlen) != 0)
            rc = SL_WC_ERROR;
    }
    json_decref(old);
    pthread_mutex_unlock(&w->ctl);
    return rc;
}

/* ======================================================================== */
/* Start: pipeline files and stored connectors                               */
/* ======================================================================== */

/* Adds the connectors of one pipeline file to `defs` (name -> config). */
static void pipeline_load(json_t *defs, const char *path, const char *file)
{
    json_error_t jerr;
    json_t *p = json_load_file(path, 0, &jerr);
    char name[256], connector[512];
    if (!json_is_object(p)) {
        sl_error("worker", "pipeline %s: %s (line %d): skipped", path,
                 p ? "not a JSON object" : jerr.text, jerr.line);
        json_decref(p);
        return;
    }
    snprintf(name, sizeof(name), "%s", cfg_str(p, "name", file));
    char *ext = json_object_get(p, "name") ? NULL : strstr(name, ".json");
    if (ext)
        *ext = 0;
    /* The pipeline's transforms shape what its source writes (Kafka Connect's
     * transforms.* keys on the source connector); a pipeline without a
     * source applies them in each sink. */
    json_t *tr = json_object_get(p, "transforms");
    json_t *src = json_object_get(p, "source"), *sinks = json_object_get(p, "sinks"), *v;
    const char *k;
    char err[1024];
    if (src) {
        json_t *c = json_deep_copy(src);
        if (tr && sl_transforms_from_pipeline(tr, c, err, sizeof(err)) != 0) {
            sl_error("worker", "pipeline %s: transforms: %s: skipped", name, err);
            json_decref(c);
            json_decref(p);
            return;
        }
        snprintf(connector, sizeof(connector), "%s.source", name);
        json_object_set_new(defs, connector, c);
    }
    json_object_foreach(sinks, k, v)
    {
        json_t *c = json_deep_copy(v);
        if (!src && tr && sl_transforms_from_pipeline(tr, c, err, sizeof(err)) != 0) {
            sl_error("worker", "pipeline %s: transforms: %s: sink %s skipped", name, err, k);
            json_decref(c);
            continue;
        }
        snprintf(connector, sizeof(connector), "%s.%s", name, k);
        json_object_set_new(defs, connector, c);
    }
    if (!src && !json_object_size(sinks))
        sl_warn("worker", "pipeline %s: no source and no sinks", name);
    json_decref(p);
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int is_json(const struct dirent *d)
{
    size_t n = strlen(d->d_name);
    return d->d_name[0] != '.' && n > 5 && !strcmp(d->d_name + n - 5, ".json");
}

/* name -> config of every connector of pipelines.dir. */
static json_t *pipelines_read(sl_worker *w)
{
    json_t *defs = json_object();
    struct dirent **list;
    if (!w->conf.pipelines_dir)
        return defs;
    int n = scandir(w->conf.pipelines_dir, &list, is_json, by_name);
    if (n < 0) {
        sl_error("worker", "pipelines.dir %s: cannot read: %m", w->conf.pipelines_dir);
        return defs;
    }
    sl_info("worker", "pipelines.dir %s: %d pipeline files", w->conf.pipelines_dir, n);
    for (int i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", w->conf.pipelines_dir, list[i]->d_name);
        pipeline_load(defs, path, list[i]->d_name);
        free(list[i]);
    }
    free(list);
    return defs;
}

/* The JSON object held in map[prefix + name], or NULL (new reference). */
static json_t *stored_json(const json_t *map, const char *prefix, const char *name)
{
    char key[600];
    snprintf(key, sizeof(key), "%s%s", prefix, name);
    const char *text = json_string_value(json_object_get(map, key));
    return text ? json_loads(text, 0, NULL) : NULL;
}

/* Active topics recorded in _sluice_status for c. */
static void topics_restore(sl_wconn *c, const json_t *status)
{
    const char *key;
    json_t *v;
    char suffix[600];
    snprintf(suffix, sizeof(suffix), "-connector-%s", c->name);
    size_t sl = strlen(suffix);
    json_object_foreach((json_t *)status, key, v)
    {
        size_t kl = strlen(key);
        if (strncmp(key, "topic-", 6) || kl <= 6 + sl || strcmp(key + kl - sl, suffix))
            continue;
        char topic[512];
        snprintf(topic, sizeof(topic), "%.*s", (int)(kl - 6 - sl), key + 6);
        json_object_set_new(c->topics, topic, json_true());
    }
}

void sl_conns_start(sl_worker *w, const json_t *stored, const json_t *status)
{
    json_t *defs = pipelines_read(w), *files = json_deep_copy(defs), *v;
    const char *key;
    /* stored configs (changed through the REST API) win over the files */
    json_object_foreach((json_t *)stored, key, v)
    {
        if (strncmp(key, "connector-", 10))
            continue;
        json_t *rec = json_loads(json_string_value(v), 0, NULL);
        json_t *props = json_object_get(rec, "properties");
        if (json_is_object(props))
            json_object_set(defs, key + 10, props);
        else
            sl_warn("worker", "%s: %s is not {\"properties\": {...}}: skipped", SL_CONFIGS_TOPIC,
                    key);
        json_decref(rec);
    }
    json_object_foreach(defs, key, v)
    {
        json_t *ts = stored_json(stored, "target-state-", key);
        int target = target_parse(json_string_value(json_object_get(ts, "state")));
        json_decref(ts);
        int from_file = json_object_get(files, key) != NULL;
        sl_wconn *c = json_is_object(v) ? conn_add(w, key, json_deep_copy(v), from_file) : NULL;
        if (!c) {
            sl_worker_status(w, key, -1, "FAILED", "its config is not a JSON object");
            continue;
        }
        c->target = target < 0 ? SL_TARGET_STARTED : target;
        topics_restore(c, status);
        conn_apply_target(w, c);
    }
    json_decref(files);
    json_decref(defs);
}
