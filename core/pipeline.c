/*
 * pipeline.c - pipeline files -> connectors -> running tasks.
 *
 * A pipeline file (one JSON object per *.json in pipelines.dir):
 *
 *   {"name": "orders",                           default: the file name
 *    "source": {"connector.class": "datagen", ...},
 *    "transforms": [...],                        accepted, ignored (warning)
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
 * Runs on: the control thread, at start.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logging.h"
#include "worker_int.h"

static const char *cfg_str(const json_t *config, const char *key, const char *def)
{
    const char *v = json_string_value(json_object_get(config, key));
    return v ? v : def;
}

/* The config the plugin validates: without the keys only the worker reads
 * (a sink's topics; errors.*, converters and transforms are already known
 * to the host as worker keys). */
static json_t *plugin_config(const json_t *config)
{
    json_t *c = json_deep_copy(config);
    json_object_del(c, "topics");
    json_object_del(c, "topics.regex");
    return c;
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
    if (!wt->is_source && !json_string_value(json_object_get(wt->config, "topics"))) {
        snprintf(err, errlen, "topics: missing (a sink reads \"topics\": \"a,b\")");
        return -1;
    }
    char key[1024];
    sl_worker_offset_key(wt->connector, wt->id, key, sizeof(key));
    const char *position = wt->is_source ? json_string_value(json_object_get(w->offsets, key)) : NULL;
    if (position)
        sl_info("worker", "%s/%d: stored position %s", wt->connector, wt->id, position);
    json_t *pc = plugin_config(wt->config);
    wt->task = sl_task_create(wt->plugin, wt->connector, wt->id, pc, position, err, errlen);
    json_decref(pc);
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
    const char *d = cfg_str(wt->config, "errors.retry.delay.max.ms", "60000");
    wt->retry_max_delay_ms = atoll(d) > 0 ? atoll(d) : 60000;
    return 0;
}

/* Builds and starts connector `connector`; on any problem logs it, marks the
 * connector FAILED and frees what was built. */
static void connector_start(sl_worker *w, const char *connector, const json_t *raw, int is_source)
{
    char err[4096] = "";
    sl_wtask *wt = calloc(1, sizeof(*wt));
    if (!wt || !(wt->connector = strdup(connector))) {
        free(wt);
        sl_error("worker", "connector %s: out of memory", connector);
        return;
    }
    wt->w = w;
    wt->is_source = is_source;
    wt->offw.tag = (sl_dr_tag){SL_DR_OFFSET, wt};
    for (int i = 0; i < SL_RING_SIZE; i++)
        wt->ring[i].tag = (sl_dr_tag){SL_DR_BATCH, wt};
    if (!json_is_object(raw))
        snprintf(err, sizeof(err), "its config is not a JSON object");
    if (err[0] || task_prepare(w, wt, raw, err, sizeof(err)) != 0) {
        sl_worker_status(w, connector, -1, "FAILED", err);
        goto fail;
    }
    sl_worker_status(w, connector, -1, "RUNNING", NULL);
    if (pthread_create(&wt->thread, NULL, is_source ? sl_source_thread : sl_sink_thread, wt) != 0) {
        sl_worker_status(w, connector, 0, "FAILED", "cannot start the task thread");
        goto fail;
    }
    wt->started = 1;
    wt->next = w->tasks;
    w->tasks = wt;
    return;
fail:
    sl_task_destroy(wt->task);
    sl_converter_destroy(wt->key_conv);
    sl_converter_destroy(wt->value_conv);
    json_decref(wt->config);
    free(wt->connector);
    free(wt);
}

static void pipeline_load(sl_worker *w, const char *path, const char *file)
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
    json_t *tr = json_object_get(p, "transforms");
    if (tr && json_array_size(tr) > 0)
        sl_warn("worker", "pipeline %s: %zu transforms ignored: transforms are not supported yet",
                name, json_array_size(tr));
    json_t *src = json_object_get(p, "source"), *sinks = json_object_get(p, "sinks"), *v;
    const char *k;
    if (src) {
        snprintf(connector, sizeof(connector), "%s.source", name);
        connector_start(w, connector, src, 1);
    }
    json_object_foreach(sinks, k, v)
    {
        snprintf(connector, sizeof(connector), "%s.%s", name, k);
        connector_start(w, connector, v, 0);
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

void sl_pipelines_load(sl_worker *w)
{
    struct dirent **list;
    int n = scandir(w->conf.pipelines_dir, &list, is_json, by_name);
    if (n < 0) {
        sl_error("worker", "pipelines.dir %s: cannot read: %m", w->conf.pipelines_dir);
        return;
    }
    sl_info("worker", "pipelines.dir %s: %d pipeline files", w->conf.pipelines_dir, n);
    for (int i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", w->conf.pipelines_dir, list[i]->d_name);
        pipeline_load(w, path, list[i]->d_name);
        free(list[i]);
    }
    free(list);
}
