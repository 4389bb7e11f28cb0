/*
 * worker_admin.c - the documents of the worker's REST API (worker.h):
 * connector info, status, tasks, active topics, offsets, plugins, metrics
 * and health, in Kafka Connect's shapes.
 *
 * Reads take w->lock only for as long as they copy state into JSON; what
 * writes to Kafka (offsets) takes w->ctl as every life-cycle operation.
 * Secrets never leave: configs go through sl_conn_shown ([hidden]).
 *
 * Offsets (KIP-875 shapes):
 *   source  {"partition": {"task": N}, "offset": <the stored position>}
 *           from/to _sluice_offsets key ["<connector>",{"task":N}]
 *   sink    {"partition": {"kafka_topic": T, "kafka_partition": P},
 *            "offset": {"kafka_offset": O}}
 *           the committed offsets of consumer group connect-<connector>
 * Altering (PATCH) and resetting (DELETE) need a STOPPED connector, as in
 * Kafka Connect; reading works in any state. A sink partition reset to
 * null is done by deleting the group and committing the others again (the
 * broker has no OffsetDelete).
 *
 * Runs on: REST (MHD) threads.
 */
#include <ctype.h>
#include <dirent.h>
#include <regex.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logging.h"
#include "restclient.h"
#include "transforms.h"
#include "worker_conn.h"

#define SLUICE_VERSION "0.1.0"

/* ======================================================================== */
/* Connectors                                                                */
/* ======================================================================== */

json_t *sl_worker_info(sl_worker *w)
{
    char *cluster = w->producer ? rd_kafka_clusterid(w->producer, 2000) : NULL;
    json_t *j = json_pack("{s:s, s:s, s:s?}", "version", SLUICE_VERSION, "commit", "sluice",
                          "kafka_cluster_id", cluster);
    if (cluster)
        rd_kafka_mem_free(w->producer, cluster);
    return j;
}

static int by_text(const void *a, const void *b)
{
    return strcmp(json_string_value(*(json_t *const *)a), json_string_value(*(json_t *const *)b));
}

json_t *sl_worker_connector_names(sl_worker *w)
{
    json_t *names = json_array();
    pthread_mutex_lock(&w->lock);
    for (sl_wconn *c = w->conns; c; c = c->next)
        json_array_append_new(names, json_string(c->name));
    pthread_mutex_unlock(&w->lock);
    size_t n = json_array_size(names);
    json_t **items = calloc(n ? n : 1, sizeof(*items));
    for (size_t i = 0; items && i < n; i++)
        items[i] = json_incref(json_array_get(names, i));
    if (items)
        qsort(items, n, sizeof(*items), by_text);
    json_t *sorted = json_array();
    for (size_t i = 0; items && i < n; i++)
        json_array_append_new(sorted, items[i]);
    free(items);
    json_decref(names);
    return sorted;
}

/* Finds name with w->lock taken (released by the caller) or NULL (not). */
static sl_wconn *lock_find(sl_worker *w, const char *name)
{
    pthread_mutex_lock(&w->lock);
    sl_wconn *c = sl_conn_find(w, name);
    if (!c)
        pthread_mutex_unlock(&w->lock);
    return c;
}

/* w->lock held. */
static json_t *info_of(const sl_wconn *c)
{
    json_t *tasks = json_array();
    for (int i = 0; i < c->n_tasks; i++)
        if (c->tasks[i])
            json_array_append_new(tasks,
                                  json_pack("{s:s, s:i}", "connector", c->name, "task", i));
    return json_pack("{s:s, s:o, s:o, s:s}", "name", c->name, "config",
                     sl_conn_shown(c->plugin, c->config), "tasks", tasks, "type", sl_conn_type(c));
}

int sl_worker_connector_info(sl_worker *w, const char *name, json_t **out)
{
    sl_wconn *c = lock_find(w, name);
    if (!c)
        return SL_WC_NOT_FOUND;
    *out = info_of(c);
    pthread_mutex_unlock(&w->lock);
    return SL_WC_OK;
}

int sl_worker_connector_config(sl_worker *w, const char *name, json_t **out)
{
    sl_wconn *c = lock_find(w, name);
    if (!c)
        return SL_WC_NOT_FOUND;
    *out = sl_conn_shown(c->plugin, c->config);
    pthread_mutex_unlock(&w->lock);
    return SL_WC_OK;
}

static json_t *state_json(sl_worker *w, const char *state, const char *trace, int id)
{
    json_t *j = json_pack("{s:s, s:s}", "state", state, "worker_id", w->worker_id);
    if (id >= 0)
        json_object_set_new(j, "id", json_integer(id));
    if (trace)
        json_object_set_new(j, "trace", json_string(trace));
    return j;
}

/* A task's status: Kafka Connect's fields, and the plugin's own metrics
 * (snapshot progress, slot lag...) as "metrics": {name: value}. */
static json_t *task_json(sl_worker *w, const sl_wtask *wt)
{
    json_t *j = state_json(w, wt->state, wt->trace, wt->id);
    size_t n = sl_task_metric_count(wt->task);
    if (n > 0) {
        json_t *m = json_object();
        for (size_t i = 0; i < n; i++) {
            int64_t v;
            int gauge;
            const char *name = sl_task_metric_at(wt->task, i, &v, &gauge);
            if (name)
                json_object_set_new(m, name, json_integer(v));
        }
        json_object_set_new(j, "metrics", m);
    }
    return j;
}

/* w->lock held. */
static json_t *status_of(sl_worker *w, const sl_wconn *c)
{
    json_t *tasks = json_array();
    for (int i = 0; i < c->n_tasks; i++)
        if (c->tasks[i])
            json_array_append_new(tasks, task_json(w, c->tasks[i]));
    return json_pack("{s:s, s:o, s:o, s:s}", "name", c->name, "connector",
                     state_json(w, c->state, c->trace, -1), "tasks", tasks, "type",
                     sl_conn_type(c));
}

int sl_worker_connector_status(sl_worker *w, const char *name, json_t **out)
{
    sl_wconn *c = lock_find(w, name);
    if (!c)
        return SL_WC_NOT_FOUND;
    *out = status_of(w, c);
    pthread_mutex_unlock(&w->lock);
    return SL_WC_OK;
}

int sl_worker_task_status(sl_worker *w, const char *name, int task, json_t **out)
{
    sl_wconn *c = lock_find(w, name);
    if (!c)
        return SL_WC_NOT_FOUND;
    int rc = SL_WC_NOT_FOUND;
    if (task >= 0 && task < c->n_tasks && c->tasks[task]) {
        *out = task_json(w, c->tasks[task]);
        rc = SL_WC_OK;
    }
    pthread_mutex_unlock(&w->lock);
    return rc;
}

int sl_worker_connector_tasks(sl_worker *w, const char *name, json_t **out)
{
    sl_wconn *c = lock_find(w, name);
    if (!c)
        return SL_WC_NOT_FOUND;
    *out = json_array();
    for (int i = 0; i < c->n_tasks; i++)
        if (c->tasks[i])
            json_array_append_new(*out, json_pack("{s:{s:s, s:i}, s:o}", "id", "connector",
                                                  c->name, "task", i, "config",
                                                  sl_conn_shown(c->plugin, c->config)));
    pthread_mutex_unlock(&w->lock);
    return SL_WC_OK;
}

int sl_worker_connector_topics(sl_worker *w, const char *name, json_t **out)
{
    sl_wconn *c = lock_find(w, name);
    if (!c)
        return SL_WC_NOT_FOUND;
    json_t *list = json_array();
    const char *topic;
    json_t *v;
    json_object_foreach(c->topics, topic, v)
    {
        json_array_append_new(list, json_string(topic));
    }
    *out = json_pack("{s:{s:o}}", name, "topics", list);
    pthread_mutex_unlock(&w->lock);
    return SL_WC_OK;
}

/* ======================================================================== */
/* Offsets: sources                                                          */
/* ======================================================================== */

/* w->lock held. */
static json_t *source_offsets(sl_worker *w, const char *name)
{
    json_t *list = json_array(), *v;
    const char *key;
    json_object_foreach(w->offsets, key, v)
    {
        json_t *k = json_loads(key, 0, NULL);
        const char *conn = json_string_value(json_array_get(k, 0));
        json_t *pos = json_loads(json_string_value(v), JSON_DECODE_ANY, NULL);
        if (conn && !strcmp(conn, name) && pos)
            json_array_append_new(
                list, json_pack("{s:O, s:O}", "partition", json_array_get(k, 1), "offset", pos));
        json_decref(pos);
        json_decref(k);
    }
    return json_pack("{s:o}", "offsets", list);
}

/* Writes (or, offset NULL, tombstones) one source position and mirrors it
 * in w->offsets. */
static int source_offset_put(sl_worker *w, const char *key, const json_t *offset, char *err,
                             size_t errlen)
{
    char *text = offset ? json_dumps(offset, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    int rc = sl_worker_topic_put(w, SL_OFFSETS_TOPIC, key, text, err, errlen);
    if (rc == 0) {
        pthread_mutex_lock(&w->lock);
        if (text)
            json_object_set_new(w->offsets, key, json_string(text));
        else
            json_object_del(w->offsets, key);
        pthread_mutex_unlock(&w->lock);
    }
    free(text);
    return rc;
}

static int source_offsets_set(sl_worker *w, const char *name, const json_t *body, char *err,
                              size_t errlen)
{
    size_t i;
    json_t *e;
    if (!body) { /* reset: every position of this connector */
        pthread_mutex_lock(&w->lock);
        json_t *all = source_offsets(w, name);
        pthread_mutex_unlock(&w->lock);
        json_array_foreach(json_object_get(all, "offsets"), i, e)
        {
            json_t *k = json_pack("[s,O]", name, json_object_get(e, "partition"));
            char *key = json_dumps(k, JSON_COMPACT);
            int rc = source_offset_put(w, key, NULL, err, errlen);
            free(key);
            json_decref(k);
            if (rc) {
                json_decref(all);
                return SL_WC_ERROR;
            }
        }
        json_decref(all);
        return SL_WC_OK;
    }
    json_array_foreach(json_object_get(body, "offsets"), i, e)
    {
        json_t *part = json_object_get(e, "partition"), *off = json_object_get(e, "offset");
        if (!json_is_object(part) || !json_is_integer(json_object_get(part, "task")) ||
            json_object_size(part) != 1 || (off && !json_is_object(off) && !json_is_null(off))) {
            snprintf(err, errlen,
                     "offsets[%zu]: a source partition is {\"task\": N} and its offset an object "
                     "(the stored position) or null",
                     i);
            return SL_WC_INVALID;
        }
        char key[1024];
        sl_worker_offset_key(name, (int)json_integer_value(json_object_get(part, "task")), key,
                             sizeof(key));
        if (source_offset_put(w, key, json_is_object(off) ? off : NULL, err, errlen) != 0)
            return SL_WC_ERROR;
    }
    return SL_WC_OK;
}

/* ======================================================================== */
/* Offsets: sinks (consumer group connect-<name>)                            */
/* ======================================================================== */

static rd_kafka_t *group_client(sl_worker *w, const char *name, char *err, size_t errlen)
{
    char group[600], e[512];
    snprintf(group, sizeof(group), "connect-%s", name);
    rd_kafka_conf_t *c =
        sl_worker_client_conf(w, SL_WCLIENT_CONSUMER, NULL, NULL, NULL, err, errlen);
    if (!c) /* bootstrap.servers and the security keys, as the sinks' consumers */
        return NULL;
    if (rd_kafka_conf_set(c, "group.id", group, e, sizeof(e)) ||
        rd_kafka_conf_set(c, "enable.auto.commit", "false", e, sizeof(e))) {
        snprintf(err, errlen, "group client: %s", e);
        rd_kafka_conf_destroy(c);
        return NULL;
    }
    rd_kafka_t *rk = sl_kafka_client_new(RD_KAFKA_CONSUMER, c, e, sizeof(e));
    if (!rk)
        snprintf(err, errlen, "group client: %s", e);
    return rk;
}

/* Every partition of the topics matching regex (whole names, Java's
 * syntax, as Kafka Connect's topics.regex and the sink's subscription;
 * internal topics never match). */
static int regex_partitions(rd_kafka_t *rk, const char *regex, rd_kafka_topic_partition_list_t *l,
                            char *err, size_t errlen)
{
    regex_t re;
    char why[512];
    if (sl_regex_compile(&re, regex, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "topics.regex: %s", why);
        return -1;
    }
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 1, NULL, &md, 10000);
    if (e) {
        snprintf(err, errlen, "listing topics for topics.regex: %s", rd_kafka_err2str(e));
        regfree(&re);
        return -1;
    }
    for (int t = 0; t < md->topic_cnt; t++) {
        const char *name = md->topics[t].topic;
        if (md->topics[t].err || name[0] == '_' || !sl_regex_full(&re, name, NULL, 0))
            continue;
        for (int i = 0; i < md->topics[t].partition_cnt; i++)
            rd_kafka_topic_partition_list_add(l, name, md->topics[t].partitions[i].id);
    }
    rd_kafka_metadata_destroy(md);
    regfree(&re);
    return 0;
}

/* Every partition of the sink's topics (a list, or topics.regex). w->lock
 * not held. */
static rd_kafka_topic_partition_list_t *sink_partitions(rd_kafka_t *rk, const char *topics,
                                                        const char *regex, char *err,
                                                        size_t errlen)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(8);
    if (regex) {
        if (regex_partitions(rk, regex, l, err, errlen) == 0)
            return l;
        rd_kafka_topic_partition_list_destroy(l);
        return NULL;
    }
    char *copy = strdup(topics ? topics : ""), *save = NULL;
    for (char *t = strtok_r(copy, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, t, NULL);
        rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
        if (!e && md->topic_cnt == 1 && !md->topics[0].err)
            for (int i = 0; i < md->topics[0].partition_cnt; i++)
                rd_kafka_topic_partition_list_add(l, t, md->topics[0].partitions[i].id);
        if (md)
            rd_kafka_metadata_destroy(md);
        rd_kafka_topic_destroy(rkt);
    }
    free(copy);
    return l;
}

static rd_kafka_topic_partition_list_t *sink_committed(sl_worker *w, rd_kafka_t *rk,
                                                       const char *name, char *err, size_t errlen)
{
    pthread_mutex_lock(&w->lock);
    sl_wconn *c = sl_conn_find(w, name);
    const char *t = c ? json_string_value(json_object_get(c->config, "topics")) : NULL;
    const char *r = c ? json_string_value(json_object_get(c->config, "topics.regex")) : NULL;
    char *topics = t ? strdup(t) : NULL, *regex = r ? strdup(r) : NULL;
    pthread_mutex_unlock(&w->lock);
    rd_kafka_topic_partition_list_t *l = sink_partitions(rk, topics, regex, err, errlen);
    free(topics);
    free(regex);
    if (!l)
        return NULL;
    rd_kafka_resp_err_t e = rd_kafka_committed(rk, l, 10000);
    if (e) {
        snprintf(err, errlen, "committed offsets of group connect-%s: %s", name,
                 rd_kafka_err2str(e));
        rd_kafka_topic_partition_list_destroy(l);
        return NULL;
    }
    return l;
}

static json_t *sink_offsets_json(const rd_kafka_topic_partition_list_t *l)
{
    json_t *list = json_array();
    for (int i = 0; i < l->cnt; i++)
        if (l->elems[i].offset >= 0)
            json_array_append_new(
                list, json_pack("{s:{s:s, s:i}, s:{s:I}}", "partition", "kafka_topic",
                                l->elems[i].topic, "kafka_partition", l->elems[i].partition,
                                "offset", "kafka_offset", (json_int_t)l->elems[i].offset));
    return json_pack("{s:o}", "offsets", list);
}

static int group_delete(rd_kafka_t *rk, const char *name, char *err, size_t errlen)
{
    char group[600], e[256];
    snprintf(group, sizeof(group), "connect-%s", name);
    rd_kafka_DeleteGroup_t *dg = rd_kafka_DeleteGroup_new(group);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *opt = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DELETEGROUPS);
    rd_kafka_AdminOptions_set_request_timeout(opt, 10000, e, sizeof(e));
    rd_kafka_DeleteGroups(rk, &dg, 1, opt, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 15000);
    int rc = 0;
    const rd_kafka_DeleteGroups_result_t *res = ev ? rd_kafka_event_DeleteGroups_result(ev) : NULL;
    if (!res) {
        snprintf(err, errlen, "deleting group %s: %s", group,
                 ev ? rd_kafka_event_error_string(ev) : "no answer within 15 s");
        rc = -1;
    } else {
        size_t n;
        const rd_kafka_group_result_t **gr = rd_kafka_DeleteGroups_result_groups(res, &n);
        const rd_kafka_error_t *ge = n ? rd_kafka_group_result_error(gr[0]) : NULL;
        if (ge && rd_kafka_error_code(ge) != RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND) {
            snprintf(err, errlen, "deleting group %s: %s", group, rd_kafka_error_string(ge));
            rc = -1;
        }
    }
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(opt);
    rd_kafka_queue_destroy(q);
    rd_kafka_DeleteGroup_destroy(dg);
    return rc;
}

/* Applies body's entries to l (the committed offsets); 1 when some
 * partition is reset to null (removed from l). -1 on a bad entry. */
static int sink_apply(rd_kafka_topic_partition_list_t *l, const json_t *body, char *err,
                      size_t errlen)
{
    size_t i;
    json_t *e;
    int removed = 0;
    json_array_foreach(json_object_get(body, "offsets"), i, e)
    {
        json_t *part = json_object_get(e, "partition"), *off = json_object_get(e, "offset");
        const char *t = json_string_value(json_object_get(part, "kafka_topic"));
        json_t *p = json_object_get(part, "kafka_partition");
        json_t *o = json_object_get(off, "kafka_offset");
        if (!t || !json_is_integer(p) || (!json_is_null(off) && off && !json_is_integer(o)) ||
            (o && json_integer_value(o) < 0)) {
            snprintf(err, errlen,
                     "offsets[%zu]: a sink partition is {\"kafka_topic\": T, \"kafka_partition\": "
                     "P} and its offset {\"kafka_offset\": N >= 0} or null",
                     i);
            return -1;
        }
        int32_t pn = (int32_t)json_integer_value(p);
        rd_kafka_topic_partition_t *tp = rd_kafka_topic_partition_list_find(l, t, pn);
        if (!tp)
            tp = rd_kafka_topic_partition_list_add(l, t, pn);
        if (o) {
            tp->offset = json_integer_value(o);
        } else {
            tp->offset = RD_KAFKA_OFFSET_INVALID;
            removed = 1;
        }
    }
    return removed;
}

/* Commits the valid offsets of l for the (empty) group. */
static int sink_commit(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *l, char *err, size_t errlen)
{
    rd_kafka_topic_partition_list_t *c = rd_kafka_topic_partition_list_new(l->cnt);
    for (int i = 0; i < l->cnt; i++)
        if (l->elems[i].offset >= 0)
            rd_kafka_topic_partition_list_add(c, l->elems[i].topic, l->elems[i].partition)->offset =
                l->elems[i].offset;
    rd_kafka_resp_err_t e = c->cnt ? rd_kafka_commit(rk, c, 0) : RD_KAFKA_RESP_ERR_NO_ERROR;
    rd_kafka_topic_partition_list_destroy(c);
    if (e) {
        snprintf(err, errlen, "committing offsets: %s", rd_kafka_err2str(e));
        return -1;
    }
    return 0;
}

static int sink_offsets_set(sl_worker *w, const char *name, const json_t *body, char *err,
                            size_t errlen)
{
    rd_kafka_t *rk = group_client(w, name, err, errlen);
    if (!rk)
        return SL_WC_ERROR;
    int rc = SL_WC_ERROR;
    rd_kafka_topic_partition_list_t *l = NULL;
    if (!body) {
        rc = group_delete(rk, name, err, errlen) == 0 ? SL_WC_OK : SL_WC_ERROR;
        goto done;
    }
    if (!(l = sink_committed(w, rk, name, err, errlen)))
        goto done;
    int removed = sink_apply(l, body, err, errlen);
    if (removed < 0) {
        rc = SL_WC_INVALID;
        goto done;
    }
    if ((removed && group_delete(rk, name, err, errlen) != 0) ||
        sink_commit(rk, l, err, errlen) != 0)
        goto done;
    rc = SL_WC_OK;
done:
    if (l)
        rd_kafka_topic_partition_list_destroy(l);
    sl_kafka_client_closing(rk);
    rd_kafka_destroy(rk);
    return rc;
}

/* ======================================================================== */
/* Offsets: the API                                                          */
/* ======================================================================== */

/* The connector's type (1 source, 0 sink, -1 unknown) and whether it is
 * STOPPED; SL_WC_NOT_FOUND when there is no such connector. */
static int conn_kind(sl_worker *w, const char *name, int *is_source, int *stopped)
{
    sl_wconn *c = lock_find(w, name);
    if (!c)
        return SL_WC_NOT_FOUND;
    *is_source = c->is_source;
    *stopped = c->target == SL_TARGET_STOPPED && c->n_tasks == 0;
    pthread_mutex_unlock(&w->lock);
    return SL_WC_OK;
}

int sl_worker_offsets_get(sl_worker *w, const char *name, json_t **out, char *err, size_t errlen)
{
    int is_source, stopped;
    if (conn_kind(w, name, &is_source, &stopped) != SL_WC_OK) {
        snprintf(err, errlen, "Connector %s not found", name);
        return SL_WC_NOT_FOUND;
    }
    if (is_source < 0) {
        snprintf(err, errlen, "Connector %s: its connector.class did not load", name);
        return SL_WC_STATE;
    }
    if (is_source) {
        pthread_mutex_lock(&w->lock);
        *out = source_offsets(w, name);
        pthread_mutex_unlock(&w->lock);
        return SL_WC_OK;
    }
    rd_kafka_t *rk = group_client(w, name, err, errlen);
    rd_kafka_topic_partition_list_t *l = rk ? sink_committed(w, rk, name, err, errlen) : NULL;
    if (l) {
        *out = sink_offsets_json(l);
        rd_kafka_topic_partition_list_destroy(l);
    }
    if (rk) {
        sl_kafka_client_closing(rk);
        rd_kafka_destroy(rk);
    }
    return l ? SL_WC_OK : SL_WC_ERROR;
}

int sl_worker_offsets_set(sl_worker *w, const char *name, const json_t *body, char *err,
                          size_t errlen)
{
    int is_source, stopped, rc;
    if (body && !json_is_array(json_object_get(body, "offsets"))) {
        snprintf(err, errlen, "The request body must be {\"offsets\": [...]}");
        return SL_WC_INVALID;
    }
    pthread_mutex_lock(&w->ctl);
    if ((rc = conn_kind(w, name, &is_source, &stopped)) != SL_WC_OK) {
        snprintf(err, errlen, "Connector %s not found", name);
    } else if (!stopped) {
        snprintf(err, errlen,
                 "Connectors must be in the STOPPED state before their offsets can be modified. "
                 "This can be done for the specified connector by issuing a 'PUT' request to the "
                 "'/connectors/%s/stop' endpoint",
                 name);
        rc = SL_WC_STATE;
    } else if (is_source < 0) {
        snprintf(err, errlen, "Connector %s: its connector.class did not load", name);
        rc = SL_WC_STATE;
    } else {
        rc = is_source ? source_offsets_set(w, name, body, err, errlen)
                       : sink_offsets_set(w, name, body, err, errlen);
        if (rc == SL_WC_OK)
            sl_info("worker", "connector %s: offsets %s", name, body ? "altered" : "reset");
    }
    pthread_mutex_unlock(&w->ctl);
    return rc;
}

/* ======================================================================== */
/* Plugins                                                                   */
/* ======================================================================== */

static int is_so(const struct dirent *d)
{
    size_t n = strlen(d->d_name);
    return d->d_name[0] != '.' && n > 3 && !strcmp(d->d_name + n - 3, ".so");
}

json_t *sl_worker_plugins(sl_worker *w, int connectors_only)
{
    json_t *list = json_array();
    struct dirent **ents;
    int n = scandir(w->conf.plugin_path, &ents, is_so, alphasort);
    pthread_mutex_lock(&w->ctl); /* the plugin host */
    for (int i = 0; i < n; i++) {
        char name[256], err[1024];
        const sl_plugin *p;
        snprintf(name, sizeof(name), "%.*s", (int)strlen(ents[i]->d_name) - 3, ents[i]->d_name);
        if (sl_plugin_host_load(w->host, name, &p, err, sizeof(err)) == 0) {
            const sluice_plugin_def *d = sl_plugin_def(p);
            json_array_append_new(list, json_pack("{s:s, s:s, s:s}", "class", d->name, "type",
                                                  d->kind == SLUICE_SOURCE ? "source" : "sink",
                                                  "version", d->version ? d->version : ""));
        } else {
            sl_warn("worker", "plugin %s not listed: %s", name, err);
        }
        free(ents[i]);
    }
    pthread_mutex_unlock(&w->ctl);
    if (n > 0)
        free(ents);
    if (!connectors_only) {
        json_array_append_new(list, json_pack("{s:s, s:s, s:s}", "class", "json", "type",
                                              "converter", "version", SLUICE_VERSION));
        json_array_append_new(list, json_pack("{s:s, s:s, s:s}", "class", "avro", "type",
                                              "converter", "version", SLUICE_VERSION));
    }
    return list;
}

/* Kafka Connect's ConfigKeyInfo always carries default_value and
 * documentation (null when none). */
static void definition_complete(json_t *def)
{
    if (!json_object_get(def, "default_value"))
        json_object_set_new(def, "default_value", json_null());
    if (!json_object_get(def, "documentation"))
        json_object_set_new(def, "documentation", json_null());
}

static void answer_complete(json_t *answer)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(answer, "configs"), i, c)
    {
        definition_complete(json_object_get(c, "definition"));
        json_t *value = json_object_get(c, "value");
        if (value && !json_object_get(value, "value"))
            json_object_set_new(value, "value", json_null());
    }
}

/* Loads plugin `plugin` (a dotted Java-style name's last part). */
static int plugin_get(sl_worker *w, const char *plugin, const sl_plugin **p, char *err,
                      size_t errlen)
{
    const char *dot = strrchr(plugin, '.');
    char why[1024];
    pthread_mutex_lock(&w->ctl);
    int rc = sl_plugin_host_load(w->host, dot ? dot + 1 : plugin, p, why, sizeof(why));
    pthread_mutex_unlock(&w->ctl);
    if (rc)
        snprintf(err, errlen,
                 "Failed to find any class that implements Connector and which name "
                 "matches %s: %s",
                 plugin, why);
    return rc ? SL_WC_NOT_FOUND : SL_WC_OK;
}

int sl_worker_plugin_config(sl_worker *w, const char *plugin, json_t **out, char *err,
                            size_t errlen)
{
    const sl_plugin *p;
    int rc = plugin_get(w, plugin, &p, err, errlen);
    if (rc != SL_WC_OK)
        return rc;
    json_t *empty = json_object(), *answer = sl_plugin_validate(p, empty);
    answer_complete(answer);
    *out = json_array();
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(answer, "configs"), i, c)
    {
        json_array_append(*out, json_object_get(c, "definition"));
    }
    json_decref(answer);
    json_decref(empty);
    return SL_WC_OK;
}

/* The validate entry of a worker key the plugin config leaves out. */
static json_t *topics_entry(const json_t *config, int is_sink, int order, int *errors)
{
    const char *v = json_string_value(json_object_get(config, "topics"));
    json_t *errs = json_array();
    if (is_sink && !v) {
        json_array_append_new(errs, json_string("Must configure one of topics or topics.regex "
                                                "(this worker reads \"topics\": \"a,b\")"));
        (*errors)++;
    }
    json_t *def =
        json_pack("{s:s, s:s, s:b, s:n, s:s, s:s, s:s, s:s, s:s, s:[], s:i}", "name", "topics",
                  "type", "LIST", "required", is_sink, "default_value", "importance", "HIGH",
                  "documentation", "Topics a sink consumes, comma-separated", "group", "Common",
                  "width", "LONG", "display_name", "Topics", "dependents", "order", order);
    json_t *value = json_pack("{s:s, s:s?, s:[], s:o, s:b}", "name", "topics", "value", v,
                              "recommended_values", "errors", errs, "visible", 1);
    return json_pack("{s:o, s:o}", "definition", def, "value", value);
}

/* Hides, in a validate answer, the values given as ${env:} / ${file:} and
 * registry-client secrets. */
static void answer_hide(json_t *answer, const json_t *raw)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(answer, "configs"), i, c)
    {
        json_t *value = json_object_get(c, "value");
        const char *key = json_string_value(json_object_get(value, "name"));
        const char *given = key ? json_string_value(json_object_get(raw, key)) : NULL;
        if ((given && (strstr(given, "${env:") || strstr(given, "${file:"))) ||
            (key && sl_restclient_secret_key(key)))
            json_object_set_new(value, "value", json_string("[hidden]"));
    }
}

int sl_worker_plugin_validate(sl_worker *w, const char *plugin, const json_t *config, json_t **out,
                              char *err, size_t errlen)
{
    if (!json_is_object(config)) {
        snprintf(err, errlen, "The request body must be a JSON object of connector configs");
        return SL_WC_INVALID;
    }
    const char *cls = json_string_value(json_object_get(config, "connector.class"));
    size_t cl = cls ? strlen(cls) : 0, pl = strlen(plugin);
    const char *dot = strrchr(plugin, '.');
    const char *base = dot ? dot + 1 : plugin;
    size_t bl = strlen(base);
    if (cls && strcmp(cls, plugin) &&
        !(cl > bl && !strcmp(cls + cl - bl, base) && cls[cl - bl - 1] == '.') &&
        !(pl > cl && !strcmp(plugin + pl - cl, cls))) {
        snprintf(err, errlen, "Included connector type %s does not match request type %s", cls,
                 plugin);
        return SL_WC_INVALID;
    }
    const sl_plugin *p;
    int rc = plugin_get(w, plugin, &p, err, errlen);
    if (rc != SL_WC_OK)
        return rc;
    json_t *resolved = NULL, *given = json_deep_copy(config);
    if (!cls)
        json_object_set_new(given, "connector.class", json_string(sl_plugin_def(p)->name));
    char why[1024];
    int resolve_failed = sl_config_resolve(given, &resolved, why, sizeof(why)) != 0;
    json_t *pc = sl_conn_plugin_config(resolve_failed ? given : resolved);
    *out = sl_plugin_validate(p, pc);
    int errors = (int)json_integer_value(json_object_get(*out, "error_count"));
    json_t *configs = json_object_get(*out, "configs");
    json_array_append_new(configs, topics_entry(given, sl_plugin_def(p)->kind == SLUICE_SINK,
                                                (int)json_array_size(configs) + 1, &errors));
    json_t *first_errors =
        json_object_get(json_object_get(json_array_get(configs, 0), "value"), "errors");
    if (resolve_failed) {
        json_array_append_new(first_errors, json_string(why));
        errors++;
    } else { /* Kafka Connect's framework keys have no entry of their own */
        errors += sl_conn_client_check(w, resolved, sl_plugin_def(p)->kind == SLUICE_SINK,
                                       first_errors);
    }
    json_object_set_new(*out, "error_count", json_integer(errors));
    answer_hide(*out, given);
    answer_complete(*out);
    json_decref(pc);
    json_decref(resolved);
    json_decref(given);
    return SL_WC_OK;
}

/* ======================================================================== */
/* Metrics and health                                                        */
/* ======================================================================== */

typedef struct text {
    char *buf;
    size_t len, cap;
} text;

static void text_add(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void text_add(text *t, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(t->buf ? t->buf + t->len : NULL, t->buf ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if (t->buf && t->len + (size_t)n < t->cap) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = (t->cap + (size_t)n + 1) * 2;
        char *nb = realloc(t->buf, cap);
        if (!nb)
            return;
        t->buf = nb;
        t->cap = cap;
    }
}

static const struct {
    const char *name, *help;
    size_t off;
} counters[] = {
    {"sluice_task_records_in_total", "Records a task took in (source: polled; sink: consumed)",
     offsetof(sl_wtask, records_in)},
    {"sluice_task_records_out_total", "Records a task handed on (source: produced; sink: put)",
     offsetof(sl_wtask, records_out)},
    {"sluice_task_batches_total", "Batches a task processed", offsetof(sl_wtask, batches)},
    {"sluice_task_errors_total",
     "Errors of a task: records skipped (errors.tolerance=all) and failures",
     offsetof(sl_wtask, failures)},
};

/* A plugin metric's Prometheus name: sluice_plugin_<name>, every character
 * outside [a-zA-Z0-9_] as '_', counters ending in _total. */
static void prom_name(char *out, size_t cap, const char *name, int gauge)
{
    size_t n = (size_t)snprintf(out, cap, "sluice_plugin_");
    for (const char *p = name; *p && n + 7 < cap; p++)
        out[n++] = isalnum((unsigned char)*p) || *p == '_' ? *p : '_';
    snprintf(out + n, cap - n, "%s", gauge ? "" : "_total");
}

/* Every plugin metric, one family per name (families must not interleave),
 * a sample per task that has it. w->lock held. */
static void plugin_metrics(sl_worker *w, text *t)
{
    json_t *seen = json_object(); /* Prometheus name -> true */
    for (sl_wconn *c = w->conns; c; c = c->next)
        for (int ti = 0; ti < c->n_tasks; ti++) {
            size_t n = c->tasks[ti] ? sl_task_metric_count(c->tasks[ti]->task) : 0;
            for (size_t i = 0; i < n; i++) {
                char fam[160], other[160];
                int64_t v;
                int gauge;
                const char *name = sl_task_metric_at(c->tasks[ti]->task, i, &v, &gauge);
                if (!name)
                    continue;
                prom_name(fam, sizeof(fam), name, gauge);
                if (json_object_get(seen, fam))
                    continue;
                json_object_set_new(seen, fam, json_true());
                text_add(t, "# HELP %s The %s plugin metric %s\n# TYPE %s %s\n", fam,
                         gauge ? "gauge" : "counter", name, fam, gauge ? "gauge" : "counter");
                for (sl_wconn *d = c; d; d = d->next)
                    for (int di = 0; di < d->n_tasks; di++) {
                        const sl_wtask *dt = d->tasks[di];
                        size_t m = dt ? sl_task_metric_count(dt->task) : 0;
                        for (size_t k = 0; k < m; k++) {
                            int g;
                            const char *nm = sl_task_metric_at(dt->task, k, &v, &g);
                            if (!nm)
                                continue;
                            prom_name(other, sizeof(other), nm, g);
                            if (!strcmp(other, fam))
                                text_add(t, "%s{connector=\"%s\",task=\"%d\"} %lld\n", fam,
                                         d->name, dt->id, (long long)v);
                        }
                    }
            }
        }
    json_decref(seen);
}

enum task_sample { SAMPLE_COUNTER, SAMPLE_SOURCE_LAG, SAMPLE_SINK_LAG, SAMPLE_STATE };

/* One sample per task of every connector. w->lock held. */
static void task_samples(sl_worker *w, text *t, const char *metric, enum task_sample what,
                         size_t counter_off)
{
    for (sl_wconn *c = w->conns; c; c = c->next)
        for (int i = 0; i < c->n_tasks; i++) {
            sl_wtask *wt = c->tasks[i];
            if (!wt)
                continue;
            long long lag = atomic_load(&wt->lag);
            switch (what) {
            case SAMPLE_COUNTER:
                text_add(t, "%s{connector=\"%s\",task=\"%d\"} %lld\n", metric, c->name, wt->id,
                         (long long)atomic_load((atomic_llong *)((char *)wt + counter_off)));
                break;
            case SAMPLE_SOURCE_LAG:
            case SAMPLE_SINK_LAG:
                if (wt->is_source == (what == SAMPLE_SOURCE_LAG) && lag >= 0)
                    text_add(t, "%s{connector=\"%s\",task=\"%d\"} %lld\n", metric, c->name,
                             wt->id, lag);
                break;
            case SAMPLE_STATE:
                text_add(t, "%s{connector=\"%s\",task=\"%d\",state=\"%s\"} 1\n", metric,
                         c->name, wt->id, wt->state);
                break;
            }
        }
}

char *sl_worker_metrics(sl_worker *w)
{
    text t = {0};
    text_add(&t, "# HELP sluice_worker_connectors Connectors of this worker\n"
                 "# TYPE sluice_worker_connectors gauge\n");
    pthread_mutex_lock(&w->lock);
    int n = 0;
    for (sl_wconn *c = w->conns; c; c = c->next)
        n++;
    text_add(&t, "sluice_worker_connectors %d\n", n);
    for (size_t k = 0; k < sizeof(counters) / sizeof(counters[0]); k++) {
        text_add(&t, "# HELP %s %s\n# TYPE %s counter\n", counters[k].name, counters[k].help,
                 counters[k].name);
        task_samples(w, &t, counters[k].name, SAMPLE_COUNTER, counters[k].off);
    }
    text_add(&t, "# HELP sluice_task_source_lag_ms Source tasks: ms from the newest record's "
                 "timestamp (its commit time at the source) to its acknowledgement by the "
                 "broker, as of the last batch\n"
                 "# TYPE sluice_task_source_lag_ms gauge\n");
    task_samples(w, &t, "sluice_task_source_lag_ms", SAMPLE_SOURCE_LAG, 0);
    text_add(&t, "# HELP sluice_task_sink_lag_records Sink tasks: records in the assigned "
                 "partitions not yet put (high watermark - consumed position)\n"
                 "# TYPE sluice_task_sink_lag_records gauge\n");
    task_samples(w, &t, "sluice_task_sink_lag_records", SAMPLE_SINK_LAG, 0);
    plugin_metrics(w, &t);
    text_add(&t, "# HELP sluice_connector_state 1 for the connector's current state\n"
                 "# TYPE sluice_connector_state gauge\n");
    for (sl_wconn *c = w->conns; c; c = c->next)
        text_add(&t, "sluice_connector_state{connector=\"%s\",state=\"%s\"} 1\n", c->name,
                 c->state);
    text_add(&t, "# HELP sluice_task_state 1 for the task's current state\n"
                 "# TYPE sluice_task_state gauge\n");
    task_samples(w, &t, "sluice_task_state", SAMPLE_STATE, 0);
    pthread_mutex_unlock(&w->lock);
    return t.buf;
}

static void count_state(int count[3], const char *s)
{
    count[0] += !strcmp(s, "RUNNING");
    count[1] += !strcmp(s, "PAUSED");
    count[2] += !strcmp(s, "FAILED");
}

json_t *sl_worker_health(sl_worker *w, int *ok)
{
    int count[3] = {0, 0, 0}, n = 0; /* RUNNING, PAUSED, FAILED */
    pthread_mutex_lock(&w->lock);
    for (sl_wconn *c = w->conns; c; c = c->next) {
        n++;
        if (!c->n_tasks) /* no task (yet): the connector's own state counts */
            count_state(count, c->state);
        for (int i = 0; i < c->n_tasks; i++)
            if (c->tasks[i])
                count_state(count, c->tasks[i]->state);
    }
    pthread_mutex_unlock(&w->lock);
    *ok = atomic_load(&w->ready);
    return json_pack(
        "{s:s, s:s, s:i, s:{s:i, s:i, s:i}}", "status", *ok ? "healthy" : "starting", "message",
        *ok ? "Worker has completed startup and is ready to handle requests."
            : "Worker is still starting up.",
        "connectors", n, "tasks", "running", count[0], "paused", count[1], "failed", count[2]);
}
