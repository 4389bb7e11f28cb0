/*
 * plugin_host.c - loading, checking and running connector plugins. See
 * plugin_host.h for the interface and sluice/plugin.h for the ABI.
 *
 * Loading (after nginx): dlopen(RTLD_NOW | RTLD_LOCAL) so a plugin with an
 * unresolved symbol fails at load, not at the first call; then read the four
 * fixed fields of `sluice_plugin` (magic, abi_version, struct_size,
 * signature) before anything else, and refuse on any mismatch with a message
 * naming the file and both versions. Only then is the rest checked (a name, a
 * kind, every callback of that kind, an option table whose defaults pass its
 * own validation): the core checks what it loaded, as PostgreSQL does with
 * output plugins.
 *
 * Configs (after Kafka Connect and PostgreSQL's option handling): one
 * routine, check_option(), turns a value's text into a typed value or an
 * error message; validation (the REST answer), task creation and the
 * loader's self-check of defaults all go through it, so they cannot
 * disagree. Unknown keys are errors unless they belong to the worker.
 *
 * Calls: every callback goes through begin_call()/end_call(), which clear
 * the task's error before and, on ERROR or RETRY, prefix the plugin's message
 * with "connector <c> task <n>: <plugin>.<callback>: " and log it.
 *
 * Threads: see plugin_host.h. The host API functions below run on the task
 * thread, inside a callback.
 */
#include "plugin_host.h"
#include "props.h"
#include "schema_text.h"

#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "logging.h"

struct sl_plugin {
    void *handle;
    const sluice_plugin_def *def;
    char *file;
    sl_plugin *next;
};

struct sl_plugin_host {
    char *path;
    sl_plugin *plugins;
};

/* A typed option value (one per row of the plugin's option table). */
typedef struct opt_value {
    int set; /* given by the user or by a default */
    char *text;
    int64_t i;
    double d;
    char **list; /* NULL-terminated */
} opt_value;

/* A plugin's metric. The task thread adds entries and moves values; the
 * REST thread reads them: names are written before n_metrics publishes
 * them, values are atomics, and the table never moves. */
#define SL_TASK_METRICS 32
typedef struct metric {
    char name[64];
    int gauge;
    atomic_llong value;
} metric;

struct sl_task {
    sluice_ctx ctx; /* first: the plugin's ctx pointer is the task */
    const sl_plugin *plugin;
    char *connector;
    int task_id;
    char tag[160]; /* "pipe.source/0": the log component */
    opt_value *values;
    size_t n_values;
    char *position;
    void *state; /* the plugin's task state */
    int open;
    const char *call; /* the callback running now */
    char err[1024];
    int err_set, err_retriable;
    metric metrics[SL_TASK_METRICS];
    atomic_size_t n_metrics;
    int metrics_dropped; /* logged once */
    sl_raw_values raw;   /* set by a sink thread taking raw values */
};

/* A batch owns what emit copied: the values' avro_value_t in keys[] and
 * vals[] (one per slot, allocated once), and every string and header in
 * `text`, a chain of chunks bump-allocated and reset (not freed) by
 * sl_batch_clear: emitting allocates nothing in the steady state. */
typedef struct text_chunk {
    struct text_chunk *next;
    size_t used, cap;
    char data[];
} text_chunk;

struct sluice_batch {
    sluice_record *recs;
    avro_value_t *keys, *vals;
    size_t n, cap;
    text_chunk *text; /* the chunk being filled first; older ones follow */
};

/* ======================================================================== */
/* Options: text -> typed value                                              */
/* ======================================================================== */

static const char *type_name(sluice_option_type t)
{
    switch (t) {
    case SLUICE_OPT_STRING:
        return "STRING";
    case SLUICE_OPT_INT:
        return "LONG";
    case SLUICE_OPT_BOOL:
        return "BOOLEAN";
    case SLUICE_OPT_DOUBLE:
        return "DOUBLE";
    case SLUICE_OPT_LIST:
        return "LIST";
    case SLUICE_OPT_PASSWORD:
        return "PASSWORD";
    }
    return NULL;
}

static int opt_secret(const sluice_option *o)
{
    return o->secret || o->type == SLUICE_OPT_PASSWORD;
}

static void opt_value_free(opt_value *v)
{
    free(v->text);
    for (char **l = v->list; l && *l; l++)
        free(*l);
    free(v->list);
    memset(v, 0, sizeof(*v));
}

static int in_valid(const sluice_option *o, const char *s)
{
    if (!o->valid)
        return 1;
    for (const char *const *v = o->valid; *v; v++)
        if (strcmp(*v, s) == 0)
            return 1;
    return 0;
}

static void valid_list(const sluice_option *o, char *buf, size_t len)
{
    size_t off = 0;
    buf[0] = '\0';
    for (const char *const *v = o->valid; v && *v && off < len; v++)
        off += (size_t)snprintf(buf + off, len - off, "%s%s", v == o->valid ? "" : ", ", *v);
}

static char **split_list(const char *s)
{
    size_t cap = 2, n = 0;
    for (const char *p = s; *p; p++)
        cap += *p == ',';
    char **out = calloc(cap, sizeof(*out));
    for (const char *p = s; out && *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t len = strcspn(p, ",");
        while (len > 0 && p[len - 1] == ' ')
            len--;
        if (len > 0)
            out[n++] = strndup(p, len);
        p += strcspn(p, ",");
    }
    return out;
}

static int parse_bool(const char *s, int64_t *out)
{
    if (strcasecmp(s, "true") == 0)
        *out = 1;
    else if (strcasecmp(s, "false") == 0)
        *out = 0;
    else
        return -1;
    return 0;
}

/* Parses text for option o into *v. Returns 0, or -1 with a Kafka-Connect-
 * style message in err ("Invalid value x for configuration y: ..."). */
static int check_option(const sluice_option *o, const char *text, opt_value *v, char *err,
                        size_t errlen)
{
    char *end = NULL;
    const char *shown = opt_secret(o) ? "[hidden]" : text;
    memset(v, 0, sizeof(*v));
    errno = 0;
    switch (o->type) {
    case SLUICE_OPT_INT:
        v->i = strtoll(text, &end, 10);
        if (!*text || *end || errno) {
            snprintf(err, errlen,
                     "Invalid value %s for configuration %s: Not a number of type LONG", shown,
                     o->name);
            return -1;
        }
        break;
    case SLUICE_OPT_DOUBLE:
        v->d = strtod(text, &end);
        if (!*text || *end || errno) {
            snprintf(err, errlen,
                     "Invalid value %s for configuration %s: Not a number of type DOUBLE", shown,
                     o->name);
            return -1;
        }
        break;
    case SLUICE_OPT_BOOL:
        if (parse_bool(text, &v->i) != 0) {
            snprintf(err, errlen,
                     "Invalid value %s for configuration %s: Expected value to be either true or "
                     "false",
                     shown, o->name);
            return -1;
        }
        break;
    case SLUICE_OPT_LIST:
        v->list = split_list(text);
        break;
    case SLUICE_OPT_STRING:
    case SLUICE_OPT_PASSWORD:
        break;
    }
    if (o->valid) {
        char allowed[512];
        valid_list(o, allowed, sizeof(allowed));
        int ok = 1;
        if (o->type == SLUICE_OPT_LIST) {
            for (char **l = v->list; l && *l; l++)
                ok = ok && in_valid(o, *l);
        } else {
            ok = in_valid(o, text);
        }
        if (!ok) {
            snprintf(err, errlen, "Invalid value %s for configuration %s: must be one of: %s",
                     shown, o->name, allowed);
            opt_value_free(v);
            return -1;
        }
    }
    v->text = strdup(text);
    v->set = 1;
    return 0;
}

/* A config value's text: strings as they are, numbers and booleans printed
 * (a REST client may send {"rate": 10}). NULL for anything else. */
static char *value_text(const json_t *j)
{
    char buf[64];
    switch (json_typeof(j)) {
    case JSON_STRING:
        return strdup(json_string_value(j));
    case JSON_INTEGER:
        snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(j));
        break;
    case JSON_REAL:
        snprintf(buf, sizeof(buf), "%.17g", json_real_value(j));
        break;
    case JSON_TRUE:
        return strdup("true");
    case JSON_FALSE:
        return strdup("false");
    default:
        return NULL;
    }
    return strdup(buf);
}

/* ======================================================================== */
/* Worker-level keys                                                         */
/* ======================================================================== */

/* Keys the worker reads itself; a plugin never sees them. A trailing '*'
 * matches a prefix. */
static const char *const worker_keys[] = {
    "name",
    "connector.class",
    "tasks.max",
    "key.converter",
    "key.converter.*",
    "value.converter",
    "value.converter.*",
    "header.converter",
    "header.converter.*",
    "transforms",
    "transforms.*",
    "predicates",
    "predicates.*",
    "errors.*",
    "consumer.override.*",
    "producer.override.*", /* checked by the worker (pipeline.c), not the plugin */
    "admin.override.*",
    "topic.creation.*",
    "config.action.reload",
    "exactly.once.support",
    "transaction.boundary",
    "offsets.storage.topic",
    NULL,
};

int sl_config_is_worker_key(const char *key)
{
    for (const char *const *w = worker_keys; *w; w++) {
        size_t len = strlen(*w);
        if ((*w)[len - 1] == '*' ? strncmp(key, *w, len - 1) == 0 : strcmp(key, *w) == 0)
            return 1;
    }
    return 0;
}

/* The worker keys that hold integers: the least value and what else a bad
 * value is told. Validated with the rest of a config (PUT .../validate,
 * create), read by sl_config_worker_int: one parser for all of them. */
static const struct worker_int {
    const char *key;
    int64_t min, dflt;
    const char *expect;
} worker_ints[] = {
    {"tasks.max", 1, 1, "must be an integer >= 1"},
    {"errors.retry.timeout", -1, 0, "expected milliseconds (or -1 for forever)"},
    {"errors.retry.delay.max.ms", 0, 60000, "expected milliseconds >= 0"},
};

static const struct worker_int *worker_int_of(const char *key)
{
    for (size_t i = 0; i < sizeof(worker_ints) / sizeof(worker_ints[0]); i++)
        if (!strcmp(worker_ints[i].key, key))
            return &worker_ints[i];
    return NULL;
}

/* v (a JSON integer or decimal string) as an integer >= min: 0, or -1. */
static int int_value(const json_t *v, int64_t min, int64_t *out)
{
    const char *s = json_string_value(v);
    char *end = NULL;
    if (json_is_integer(v))
        *out = json_integer_value(v);
    else if (!s || !*s || ((void)(*out = strtoll(s, &end, 10)), *end))
        return -1;
    return *out >= min ? 0 : -1;
}

int sl_config_worker_int(const json_t *config, const char *key, int64_t *out, char *err,
                         size_t errlen)
{
    const struct worker_int *wi = worker_int_of(key);
    const json_t *v = json_object_get(config, key);
    *out = wi ? wi->dflt : 0;
    if (!wi || !v)
        return 0;
    if (int_value(v, wi->min, out) == 0)
        return 0;
    char *text = value_text(v);
    snprintf(err, errlen, "Invalid value %s for configuration %s: %s", text ? text : "(not a string)",
             key, wi->expect);
    free(text);
    *out = wi->dflt;
    return -1;
}

/* ======================================================================== */
/* Loading                                                                   */
/* ======================================================================== */

sl_plugin_host *sl_plugin_host_create(const char *plugin_path)
{
    sl_plugin_host *host = calloc(1, sizeof(*host));
    if (host && !(host->path = strdup(plugin_path ? plugin_path : "."))) {
        free(host);
        return NULL;
    }
    return host;
}

void sl_plugin_host_destroy(sl_plugin_host *host)
{
    if (!host)
        return;
    for (sl_plugin *p = host->plugins, *next; p; p = next) {
        next = p->next;
        dlclose(p->handle);
        free(p->file);
        free(p);
    }
    free(host->path);
    free(host);
}

/* The fixed header: magic, ABI version, struct size, signature. */
static int check_header(const char *file, const sluice_plugin_def *d, char *err, size_t errlen)
{
    if (d->magic != SLUICE_PLUGIN_MAGIC) {
        snprintf(err, errlen,
                 "plugin %s: symbol sluice_plugin has magic 0x%08x, expected 0x%08x: not a sluice "
                 "plugin",
                 file, d->magic, SLUICE_PLUGIN_MAGIC);
        return -1;
    }
    if (d->abi_version != SLUICE_PLUGIN_ABI_VERSION) {
        snprintf(
            err, errlen,
            "plugin %s: built for plugin ABI version %u, but this sluice speaks ABI version %u; "
            "rebuild it against this sluice's <sluice/plugin.h>",
            file, d->abi_version, SLUICE_PLUGIN_ABI_VERSION);
        return -1;
    }
    if (d->struct_size != sizeof(sluice_plugin_def)) {
        snprintf(err, errlen,
                 "plugin %s: its sluice_plugin_def is %u bytes, this sluice's is %zu (ABI version "
                 "%u): built against a different <sluice/plugin.h>",
                 file, d->struct_size, sizeof(sluice_plugin_def), SLUICE_PLUGIN_ABI_VERSION);
        return -1;
    }
    if (!d->signature || strcmp(d->signature, SLUICE_PLUGIN_SIGNATURE) != 0) {
        snprintf(err, errlen, "plugin %s: binary signature \"%s\", this sluice's is \"%s\"", file,
                 d->signature ? d->signature : "(null)", SLUICE_PLUGIN_SIGNATURE);
        return -1;
    }
    return 0;
}

static int check_callbacks(const char *file, const sluice_plugin_def *d, char *err, size_t errlen)
{
    const char *missing = NULL;
    if (d->kind == SLUICE_SOURCE) {
        missing = !d->source.open    ? "source.open"
                  : !d->source.poll  ? "source.poll"
                  : !d->source.close ? "source.close"
                                     : NULL;
    } else if (d->kind == SLUICE_SINK) {
        missing = !d->sink.open    ? "sink.open"
                  : !d->sink.put   ? "sink.put"
                  : !d->sink.flush ? "sink.flush"
                  : !d->sink.close ? "sink.close"
                                   : NULL;
    } else {
        snprintf(err, errlen, "plugin %s: kind %d is neither source nor sink", file, (int)d->kind);
        return -1;
    }
    if (missing) {
        snprintf(err, errlen, "plugin %s (%s): callback %s is missing", file, d->name, missing);
        return -1;
    }
    return 0;
}

static int check_options(const char *file, const sluice_plugin_def *d, char *err, size_t errlen)
{
    char why[512];
    for (const sluice_option *o = d->options; o && o->name; o++) {
        opt_value v;
        if (!type_name(o->type)) {
            snprintf(err, errlen, "plugin %s (%s): option %s has unknown type %d", file, d->name,
                     o->name, (int)o->type);
            return -1;
        }
        for (const sluice_option *q = d->options; q < o; q++) {
            if (strcmp(q->name, o->name) == 0) {
                snprintf(err, errlen, "plugin %s (%s): option %s is declared twice", file, d->name,
                         o->name);
                return -1;
            }
        }
        if (o->default_value && check_option(o, o->default_value, &v, why, sizeof(why)) != 0) {
            snprintf(err, errlen, "plugin %s (%s): default of option %s: %s", file, d->name,
                     o->name, why);
            return -1;
        }
        if (o->default_value)
            opt_value_free(&v);
    }
    return 0;
}

static int check_def(const char *file, const sluice_plugin_def *d, char *err, size_t errlen)
{
    if (check_header(file, d, err, errlen) != 0)
        return -1;
    if (!d->name || !*d->name) {
        snprintf(err, errlen, "plugin %s: descriptor has no name", file);
        return -1;
    }
    if (check_callbacks(file, d, err, errlen) != 0)
        return -1;
    return check_options(file, d, err, errlen);
}

int sl_plugin_host_load_file(sl_plugin_host *host, const char *path, const sl_plugin **out,
                             char *err, size_t errlen)
{
    sl_plugin *p = NULL;
    for (sl_plugin *q = host->plugins; q; q = q->next) {
        if (strcmp(q->file, path) == 0) {
            *out = q;
            return 0;
        }
    }
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(err, errlen, "plugin %s: cannot load: %s", path, dlerror());
        return -1;
    }
    const sluice_plugin_def *d = dlsym(h, "sluice_plugin");
    if (!d) {
        snprintf(err, errlen, "plugin %s: exports no symbol sluice_plugin: not a sluice plugin",
                 path);
        goto fail;
    }
    if (check_def(path, d, err, errlen) != 0)
        goto fail;
    p = calloc(1, sizeof(*p));
    if (!p || !(p->file = strdup(path))) {
        snprintf(err, errlen, "plugin %s: out of memory", path);
        goto fail;
    }
    p->handle = h;
    p->def = d;
    p->next = host->plugins;
    host->plugins = p;
    sl_info("plugins", "loaded %s %s (%s) from %s", d->kind == SLUICE_SOURCE ? "source" : "sink",
            d->name, d->version ? d->version : "?", path);
    *out = p;
    return 0;
fail:
    free(p);
    dlclose(h);
    return -1;
}

int sl_plugin_host_load(sl_plugin_host *host, const char *name, const sl_plugin **out, char *err,
                        size_t errlen)
{
    char path[4096];
    if (!name || !*name || strchr(name, '/') || strcmp(name, "..") == 0) {
        snprintf(err, errlen, "plugin name \"%s\" is not a plain name", name ? name : "");
        return -1;
    }
    snprintf(path, sizeof(path), "%s/%s.so", host->path, name);
    if (sl_plugin_host_load_file(host, path, out, err, errlen) != 0)
        return -1;
    if (strcmp((*out)->def->name, name) != 0) {
        snprintf(err, errlen, "plugin %s: calls itself \"%s\", expected \"%s\"", path,
                 (*out)->def->name, name);
        return -1;
    }
    return 0;
}

const sluice_plugin_def *sl_plugin_def(const sl_plugin *p)
{
    return p->def;
}
unsigned sl_plugin_max_tasks(const sl_plugin *p)
{
    const sluice_plugin_def *d = p->def;
    if (d->struct_size < offsetof(sluice_plugin_def, max_tasks) + sizeof(d->max_tasks))
        return 1; /* built before the field existed */
    return d->max_tasks == 0 ? 1 : d->max_tasks;
}

const char *sl_plugin_file(const sl_plugin *p)
{
    return p->file;
}

/* ======================================================================== */
/* Config: ${env:NAME} and ${file:path:key}                                  */
/* ======================================================================== */

/* The value of key in a properties file (props.h: Kafka Connect's
 * FileConfigProvider reads the same format), malloc'd; NULL with err. */
static char *properties_lookup(const char *path, const char *key, char *err, size_t errlen)
{
    json_t *props = sl_props_load(path, err, errlen);
    const char *v = props ? json_string_value(json_object_get(props, key)) : NULL;
    char *found = v ? strdup(v) : NULL;
    if (props && !v)
        snprintf(err, errlen, "no key %s in %s", key, path);
    json_decref(props);
    return found;
}

/* Resolves one reference body ("env:NAME", "file:/p:key"). */
static char *resolve_ref(const char *ref, char *err, size_t errlen)
{
    if (strncmp(ref, "env:", 4) == 0) {
        const char *v = getenv(ref + 4);
        if (!v)
            snprintf(err, errlen, "environment variable %s is not set", ref + 4);
        return v ? strdup(v) : NULL;
    }
    if (strncmp(ref, "file:", 5) == 0) {
        const char *colon = strrchr(ref + 5, ':');
        if (!colon || colon == ref + 5 || !colon[1]) {
            snprintf(err, errlen, "expected ${file:<path>:<key>}");
            return NULL;
        }
        char *path = strndup(ref + 5, (size_t)(colon - (ref + 5)));
        char *v = path ? properties_lookup(path, colon + 1, err, errlen) : NULL;
        free(path);
        return v;
    }
    snprintf(err, errlen, "unknown config provider (expected env or file)");
    return NULL;
}

static int append(char **buf, size_t *len, const char *s, size_t n)
{
    char *nb = realloc(*buf, *len + n + 1);
    if (!nb)
        return -1;
    memcpy(nb + *len, s, n);
    *len += n;
    nb[*len] = '\0';
    *buf = nb;
    return 0;
}

static char *resolve_string(const char *key, const char *in, char *err, size_t errlen)
{
    char *out = strdup(""), why[512];
    size_t len = 0;
    const char *p = in;
    while (out && *p) {
        const char *open = strstr(p, "${");
        const char *close = open ? strchr(open, '}') : NULL;
        if (!open || !close) {
            append(&out, &len, p, strlen(p));
            break;
        }
        append(&out, &len, p, (size_t)(open - p));
        char *ref = strndup(open + 2, (size_t)(close - open - 2));
        char *v = ref ? resolve_ref(ref, why, sizeof(why)) : NULL;
        if (!v) {
            snprintf(err, errlen, "config %s: ${%s}: %s", key, ref ? ref : "", why);
            free(ref);
            free(out);
            return NULL;
        }
        append(&out, &len, v, strlen(v));
        free(v);
        free(ref);
        p = close + 1;
    }
    return out;
}

int sl_config_resolve(const json_t *config, json_t **out, char *err, size_t errlen)
{
    const char *key;
    json_t *val, *res = json_deep_copy(config);
    if (!json_is_object(res)) {
        snprintf(err, errlen, "config is not a JSON object");
        json_decref(res);
        return -1;
    }
    json_object_foreach(res, key, val)
    {
        if (!json_is_string(val) || !strstr(json_string_value(val), "${"))
            continue;
        char *r = resolve_string(key, json_string_value(val), err, errlen);
        if (!r) {
            json_decref(res);
            return -1;
        }
        json_object_set_new(res, key, json_string(r));
        free(r);
    }
    *out = res;
    return 0;
}

/* ======================================================================== */
/* Config: validation (the REST answer) and masking                          */
/* ======================================================================== */

static const sluice_option *find_option(const sluice_plugin_def *d, const char *name)
{
    for (const sluice_option *o = d->options; o && o->name; o++)
        if (strcmp(o->name, name) == 0)
            return o;
    return NULL;
}

static json_t *definition_json(const char *name, const char *type, const char *def, int required,
                               const char *doc, const char *group, int order)
{
    return json_pack("{s:s, s:s, s:b, s:s*, s:s, s:s*, s:s, s:s, s:s, s:[], s:i}", "name", name,
                     "type", type, "required", required, "default_value", def, "importance",
                     required ? "HIGH" : "MEDIUM", "documentation", doc, "group", group, "width",
                     "NONE", "display_name", name, "dependents", "order", order);
}

static json_t *config_entry(json_t *definition, const char *name, const char *shown,
                            json_t *recommended, json_t *errors)
{
    json_t *value =
        json_pack("{s:s, s:s*, s:o, s:o, s:b}", "name", name, "value", shown, "recommended_values",
                  recommended ? recommended : json_array(), "errors", errors, "visible", 1);
    return json_pack("{s:o, s:o}", "definition", definition, "value", value);
}

static json_t *option_entry(const sluice_plugin_def *d, const sluice_option *o,
                            const json_t *config, int order, int *errors)
{
    json_t *errs = json_array(), *rec = json_array();
    json_t *given = json_object_get(config, o->name);
    char *text = given ? value_text(given) : NULL;
    char msg[768];
    opt_value v;

    if (given && !text) {
        snprintf(msg, sizeof(msg), "Invalid value for configuration %s: expected a string",
                 o->name);
        json_array_append_new(errs, json_string(msg));
    } else if (!text && o->required) {
        snprintf(msg, sizeof(msg),
                 "Missing required configuration \"%s\" which has no default value.", o->name);
        json_array_append_new(errs, json_string(msg));
    } else if (text && check_option(o, text, &v, msg, sizeof(msg)) != 0) {
        json_array_append_new(errs, json_string(msg));
    } else if (text) {
        opt_value_free(&v);
    }
    for (const char *const *vv = o->valid; vv && *vv; vv++)
        json_array_append_new(rec, json_string(*vv));
    *errors += (int)json_array_size(errs);
    const char *shown = text && opt_secret(o) ? "[hidden]" : text;
    json_t *def = definition_json(o->name, type_name(o->type),
                                  opt_secret(o) && o->default_value ? "[hidden]" : o->default_value,
                                  o->required, o->doc, d->name, order);
    json_t *e = config_entry(def, o->name, shown, rec, errs);
    free(text);
    return e;
}

/* Entries for keys that are not the plugin's: worker keys (checked lightly)
 * and unknown keys (an error each). */
static json_t *other_entry(const sluice_plugin_def *d, const char *key, const json_t *val,
                           int order, int *errors)
{
    json_t *errs = json_array();
    char *text = value_text(val);
    char msg[768];
    int worker = sl_config_is_worker_key(key);

    if (!worker) {
        size_t off = (size_t)snprintf(
            msg, sizeof(msg), "Unknown configuration \"%s\" for plugin %s; its options are:", key,
            d->name);
        for (const sluice_option *o = d->options; o && o->name && off < sizeof(msg); o++)
            off += (size_t)snprintf(msg + off, sizeof(msg) - off, " %s", o->name);
        json_array_append_new(errs, json_string(msg));
    } else if (worker_int_of(key)) {
        int64_t n;
        json_t *one = json_pack("{sO}", key, val);
        if (sl_config_worker_int(one, key, &n, msg, sizeof(msg)) != 0)
            json_array_append_new(errs, json_string(msg));
        json_decref(one);
    } else if (strcmp(key, "connector.class") == 0 && text && strcmp(text, d->name) != 0) {
        snprintf(msg, sizeof(msg), "connector.class is %s but this plugin is %s", text, d->name);
        json_array_append_new(errs, json_string(msg));
    }
    *errors += (int)json_array_size(errs);
    json_t *def = definition_json(key, "STRING", NULL, 0,
                                  worker ? "read by the worker" : "not an option of this plugin",
                                  worker ? "Common" : "Unknown", order);
    json_t *e = config_entry(def, key, text, NULL, errs);
    free(text);
    return e;
}

json_t *sl_plugin_validate(const sl_plugin *p, const json_t *config)
{
    const sluice_plugin_def *d = p->def;
    json_t *configs = json_array();
    int errors = 0, order = 1;
    const char *key;
    json_t *val;

    for (const sluice_option *o = d->options; o && o->name; o++)
        json_array_append_new(configs, option_entry(d, o, config, order++, &errors));
    json_object_foreach((json_t *)config, key, val)
    {
        if (!find_option(d, key))
            json_array_append_new(configs, other_entry(d, key, val, order++, &errors));
    }
    return json_pack("{s:s, s:i, s:[s,s], s:o}", "name", d->name, "error_count", errors, "groups",
                     "Common", d->name, "configs", configs);
}

json_t *sl_plugin_mask(const sl_plugin *p, const json_t *config)
{
    json_t *out = json_deep_copy(config);
    const char *key;
    json_t *val;
    json_object_foreach(out, key, val)
    {
        const sluice_option *o = find_option(p->def, key);
        if (o && opt_secret(o))
            json_object_set_new(out, key, json_string("[hidden]"));
    }
    return out;
}

/* ======================================================================== */
/* The host API a plugin calls through its ctx                               */
/* ======================================================================== */

static sl_task *task_of(sluice_ctx *ctx)
{
    return (sl_task *)ctx;
}

static void api_vlog(sluice_ctx *ctx, int level, const char *fmt, va_list ap)
{
    char line[2048];
    if (level < SLUICE_LOG_DEBUG || level > SLUICE_LOG_ERROR)
        level = SLUICE_LOG_INFO;
    if (!sl_logging_enabled((enum sl_level)level))
        return;
    vsnprintf(line, sizeof(line), fmt, ap);
    sl_logmsg((enum sl_level)level, task_of(ctx)->tag, "%s", line);
}

static void api_verror(sluice_ctx *ctx, int retriable, const char *fmt, va_list ap)
{
    sl_task *t = task_of(ctx);
    vsnprintf(t->err, sizeof(t->err), fmt, ap);
    t->err_set = 1;
    t->err_retriable = retriable != 0;
}

/* The task's metric called name, added on first use (NULL when the table
 * is full or the name too long: the metric is dropped, once logged). */
static metric *metric_of(sl_task *t, const char *name, int gauge)
{
    size_t n = atomic_load(&t->n_metrics);
    for (size_t i = 0; i < n; i++)
        if (strcmp(t->metrics[i].name, name) == 0)
            return &t->metrics[i];
    if (n == SL_TASK_METRICS || strlen(name) >= sizeof(t->metrics[0].name)) {
        if (!t->metrics_dropped++)
            sl_warn(t->tag, "metric %s dropped: more than %d metrics or a name over 63 bytes",
                    name, SL_TASK_METRICS);
        return NULL;
    }
    metric *m = &t->metrics[n];
    snprintf(m->name, sizeof(m->name), "%s", name);
    m->gauge = gauge;
    atomic_store(&m->value, 0);
    atomic_store(&t->n_metrics, n + 1); /* published with its name */
    return m;
}

static void api_metric_add(sluice_ctx *ctx, const char *name, int64_t delta)
{
    metric *m = metric_of(task_of(ctx), name, 0);
    if (m)
        atomic_fetch_add(&m->value, delta);
}

static void api_metric_set(sluice_ctx *ctx, const char *name, int64_t value)
{
    metric *m = metric_of(task_of(ctx), name, 1);
    if (m)
        atomic_store(&m->value, value);
}

/* The value of option `name`, or NULL (logged: a plugin asked for an option
 * it did not declare, which is a bug in the plugin). */
static const opt_value *lookup(sluice_ctx *ctx, const char *name, sluice_option_type *type)
{
    sl_task *t = task_of(ctx);
    const sluice_option *opts = t->plugin->def->options;
    for (size_t i = 0; i < t->n_values; i++) {
        if (strcmp(opts[i].name, name) == 0) {
            *type = opts[i].type;
            return t->values[i].set ? &t->values[i] : NULL;
        }
    }
    sl_error(t->tag, "plugin %s asked for option %s, which it does not declare",
             t->plugin->def->name, name);
    return NULL;
}

static const char *api_config_string(sluice_ctx *ctx, const char *name)
{
    sluice_option_type type;
    const opt_value *v = lookup(ctx, name, &type);
    return v ? v->text : NULL;
}

static int64_t api_config_int(sluice_ctx *ctx, const char *name)
{
    sluice_option_type type;
    const opt_value *v = lookup(ctx, name, &type);
    return v && (type == SLUICE_OPT_INT || type == SLUICE_OPT_BOOL) ? v->i : 0;
}

static int api_config_bool(sluice_ctx *ctx, const char *name)
{
    return api_config_int(ctx, name) != 0;
}

static double api_config_double(sluice_ctx *ctx, const char *name)
{
    sluice_option_type type;
    const opt_value *v = lookup(ctx, name, &type);
    return !v                          ? 0.0
           : type == SLUICE_OPT_DOUBLE ? v->d
           : type == SLUICE_OPT_INT    ? (double)v->i
                                       : 0.0;
}

static const char *const *api_config_list(sluice_ctx *ctx, const char *name)
{
    sluice_option_type type;
    const opt_value *v = lookup(ctx, name, &type);
    return v && type == SLUICE_OPT_LIST ? (const char *const *)v->list : NULL;
}

static void api_config_map(sluice_ctx *ctx, void *conf)
{
    sl_task *t = task_of(ctx);
    const sluice_option *opts = t->plugin->def->options;
    for (size_t i = 0; i < t->n_values; i++) {
        const opt_value *v = &t->values[i];
        char *at = (char *)conf + opts[i].offset;
        const char *s = v->set ? v->text : NULL;
        const char *const *l = v->set ? (const char *const *)v->list : NULL;
        int64_t i64 = v->set ? v->i : 0;
        int b = (int)i64;
        double d = v->set ? v->d : 0.0;
        if (opts[i].offset == SLUICE_NO_OFFSET)
            continue;
        /* memcpy: the plugin's struct may place a field at any offset */
        switch (opts[i].type) {
        case SLUICE_OPT_STRING:
        case SLUICE_OPT_PASSWORD:
            memcpy(at, &s, sizeof(s));
            break;
        case SLUICE_OPT_INT:
            memcpy(at, &i64, sizeof(i64));
            break;
        case SLUICE_OPT_BOOL:
            memcpy(at, &b, sizeof(b));
            break;
        case SLUICE_OPT_DOUBLE:
            memcpy(at, &d, sizeof(d));
            break;
        case SLUICE_OPT_LIST:
            memcpy(at, &l, sizeof(l));
            break;
        }
    }
}

static const char *api_position(sluice_ctx *ctx)
{
    return task_of(ctx)->position;
}
static const char *api_connector_name(sluice_ctx *ctx)
{
    return task_of(ctx)->connector;
}
static int api_task_id(sluice_ctx *ctx)
{
    return task_of(ctx)->task_id;
}

static size_t api_batch_room(sluice_ctx *ctx, const sluice_batch *b)
{
    return b->cap - b->n;
}

/* Takes ownership of key and value; copies topic, position and headers. */
/* n bytes (8-aligned) of the batch's text chunks, or NULL. */
static void *batch_alloc(sluice_batch *b, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    text_chunk *c = b->text;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > 65536 ? n : 65536;
        text_chunk *nc = malloc(sizeof(*nc) + cap);
        if (!nc)
            return NULL;
        *nc = (text_chunk){.next = c, .used = 0, .cap = cap};
        b->text = c = nc;
    }
    void *p = c->data + c->used;
    c->used += n;
    return p;
}

static void *batch_copy(sluice_batch *b, const void *src, size_t n, int nul)
{
    char *p = batch_alloc(b, n + (nul ? 1 : 0));
    if (p) {
        if (n)
            memcpy(p, src, n);
        if (nul)
            p[n] = 0;
    }
    return p;
}

/* Copies what rec points to (but its values) into the batch; -1: out of
 * memory (nothing to undo: the chunks are reset with the batch). */
static int batch_copy_texts(sluice_batch *b, sluice_record *r, const sluice_record *rec)
{
    const sluice_record *prev = b->n ? &b->recs[b->n - 1] : NULL;
    if (prev && !strcmp(prev->topic, rec->topic)) /* the same topic: share its copy */
        r->topic = prev->topic;
    else if (!(r->topic = batch_copy(b, rec->topic, strlen(rec->topic), 1)))
        return -1;
    if (rec->position && !(r->position = batch_copy(b, rec->position, strlen(rec->position), 1)))
        return -1;
    if (!rec->n_headers)
        return 0;
    sluice_header *h = batch_alloc(b, rec->n_headers * sizeof(*h));
    if (!h)
        return -1;
    for (size_t i = 0; i < rec->n_headers; i++) {
        const sluice_header *src = &rec->headers[i];
        h[i].key = batch_copy(b, src->key, strlen(src->key), 1);
        h[i].value = src->value ? batch_copy(b, src->value, src->value_len, 0) : NULL;
        h[i].value_len = src->value_len;
        if (!h[i].key || (src->value && !h[i].value))
            return -1;
    }
    r->headers = h;
    r->n_headers = rec->n_headers;
    return 0;
}

static int api_emit(sluice_ctx *ctx, sluice_batch *b, const sluice_record *rec)
{
    if (b->n == b->cap || !rec->topic)
        return -1;
    sluice_record *r = &b->recs[b->n];
    *r = *rec;
    r->position = NULL;
    r->headers = NULL;
    r->n_headers = 0;
    if (batch_copy_texts(b, r, rec) != 0) {
        memset(r, 0, sizeof(*r));
        sluice_log(ctx, SLUICE_LOG_WARN, "emit: out of memory; the record is not taken");
        return -1;
    }
    if (rec->key) {
        r->key = &b->keys[b->n];
        *r->key = *rec->key;
    }
    if (rec->value) {
        r->value = &b->vals[b->n];
        *r->value = *rec->value;
    }
    if (!r->timestamp_ms) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        r->timestamp_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    }
    b->n++;
    return 0;
}

static void api_schema_json(sluice_ctx *ctx, avro_schema_t schema, const char *json)
{
    (void)ctx;
    sl_schema_text_set(schema, json);
}

static avro_value_t *api_record_value(sluice_ctx *ctx, const sluice_record *rec)
{
    sl_task *t = (sl_task *)ctx;
    if (rec->value || sluice_record_is_tombstone(rec))
        return rec->value;
    char why[512];
    avro_value_t *v = t->raw.value ? t->raw.value(t->raw.arg, rec, why, sizeof(why)) : NULL;
    if (!v)
        sluice_error(ctx, 0, "%s partition %d offset %lld: decoding the value: %s", rec->topic,
                     (int)rec->partition, (long long)rec->offset,
                     t->raw.value ? why : "no decoder");
    return v;
}

static int api_record_value_json(sluice_ctx *ctx, const sluice_record *rec, char **buf,
                                 size_t *len, size_t *cap)
{
    sl_task *t = (sl_task *)ctx;
    const sluice_avro_plan *plan;
    if (!rec->value && rec->value_json)
        return sluice_json_append_raw(rec->value_json, rec->value_json_len, buf, len, cap);
    if (rec->value || !rec->value_avro || !t->raw.plan || !(plan = t->raw.plan(t->raw.arg, rec)))
        return sluice_value_json_append(sluice_record_value(ctx, rec), buf, len, cap);
    return sluice_avro_json_append(plan, rec->value_avro, rec->value_avro_len, buf, len, cap);
}

static const sluice_host_api host_api = {
    .size = sizeof(sluice_host_api),
    .vlog = api_vlog,
    .verror = api_verror,
    .metric_add = api_metric_add,
    .metric_set = api_metric_set,
    .config_string = api_config_string,
    .config_int = api_config_int,
    .config_bool = api_config_bool,
    .config_double = api_config_double,
    .config_list = api_config_list,
    .config_map = api_config_map,
    .position = api_position,
    .emit = api_emit,
    .batch_room = api_batch_room,
    .connector_name = api_connector_name,
    .task_id = api_task_id,
    .schema_json = api_schema_json,
    .record_value = api_record_value,
    .record_value_json = api_record_value_json,
};

/* ======================================================================== */
/* Batches                                                                   */
/* ======================================================================== */

sluice_batch *sl_batch_create(size_t capacity)
{
    sluice_batch *b = calloc(1, sizeof(*b));
    size_t cap = capacity ? capacity : 1;
    if (!b || !(b->recs = calloc(cap, sizeof(*b->recs))) ||
        !(b->keys = calloc(cap, sizeof(*b->keys))) || !(b->vals = calloc(cap, sizeof(*b->vals)))) {
        sl_batch_destroy(b);
        return NULL;
    }
    b->cap = cap;
    return b;
}

void sl_batch_clear(sluice_batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        sluice_record *r = &b->recs[i];
        if (r->key)
            avro_value_decref(r->key);
        if (r->value)
            avro_value_decref(r->value);
        memset(r, 0, sizeof(*r));
    }
    b->n = 0;
    if (!b->text)
        return;
    if (!b->text->next) {
        b->text->used = 0;
        return;
    }
    /* the batch outgrew one chunk: next time one chunk holds it all */
    size_t total = 0;
    for (text_chunk *c = b->text, *next; c; c = next) {
        next = c->next;
        total += c->cap;
        free(c);
    }
    b->text = malloc(sizeof(*b->text) + total);
    if (b->text)
        *b->text = (text_chunk){.next = NULL, .used = 0, .cap = total};
}

void sl_batch_destroy(sluice_batch *b)
{
    if (!b)
        return;
    if (b->recs)
        sl_batch_clear(b);
    free(b->recs);
    free(b->keys);
    free(b->vals);
    free(b->text);
    free(b);
}

size_t sl_batch_count(const sluice_batch *b)
{
    return b->n;
}
const sluice_record *sl_batch_records(const sluice_batch *b)
{
    return b->recs;
}

/* ======================================================================== */
/* Tasks                                                                     */
/* ======================================================================== */

/* Every error of a validation answer, "; "-joined into err. */
static void validation_errors(const json_t *answer, const char *connector, char *err, size_t errlen)
{
    size_t off = (size_t)snprintf(err, errlen, "connector %s: invalid config:", connector);
    size_t i, j;
    json_t *c, *e;
    json_array_foreach(json_object_get(answer, "configs"), i, c)
    {
        json_array_foreach(json_object_get(json_object_get(c, "value"), "errors"), j, e)
        {
            if (off < errlen)
                off += (size_t)snprintf(err + off, errlen - off, " %s;", json_string_value(e));
        }
    }
}

static int task_load_values(sl_task *t, const json_t *config, char *err, size_t errlen)
{
    const sluice_plugin_def *d = t->plugin->def;
    size_t n = 0;
    while (d->options && d->options[n].name)
        n++;
    t->values = calloc(n ? n : 1, sizeof(*t->values));
    if (!t->values) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    t->n_values = n;
    for (size_t i = 0; i < n; i++) {
        const sluice_option *o = &d->options[i];
        json_t *given = json_object_get(config, o->name);
        char *text = given ? value_text(given) : NULL;
        const char *src = text ? text : o->default_value;
        int rc = src ? check_option(o, src, &t->values[i], err, errlen) : 0;
        free(text);
        if (rc != 0)
            return -1;
    }
    return 0;
}

sl_task *sl_task_create(const sl_plugin *p, const char *connector, int task_id,
                        const json_t *config, const char *position, char *err, size_t errlen)
{
    json_t *answer = sl_plugin_validate(p, config);
    sl_task *t = NULL;
    if (!answer || json_integer_value(json_object_get(answer, "error_count")) != 0) {
        validation_errors(answer, connector, err, errlen);
        goto fail;
    }
    t = calloc(1, sizeof(*t));
    if (!t || !(t->connector = strdup(connector)) ||
        (position && !(t->position = strdup(position)))) {
        snprintf(err, errlen, "connector %s: out of memory", connector);
        goto fail;
    }
    t->ctx.api = &host_api;
    t->plugin = p;
    t->task_id = task_id;
    snprintf(t->tag, sizeof(t->tag), "%s/%d", connector, task_id);
    if (task_load_values(t, config, err, errlen) != 0)
        goto fail;
    json_decref(answer);
    return t;
fail:
    json_decref(answer);
    sl_task_destroy(t);
    return NULL;
}

void sl_task_destroy(sl_task *t)
{
    if (!t)
        return;
    sl_task_close(t);
    for (size_t i = 0; i < t->n_values; i++)
        opt_value_free(&t->values[i]);
    free(t->values);
    free(t->position);
    free(t->connector);
    free(t);
}

static void begin_call(sl_task *t, const char *call)
{
    t->call = call;
    t->err_set = 0;
    t->err_retriable = 0;
    t->err[0] = '\0';
}

/* Adds context to what the plugin reported and logs it. */
static int end_call(sl_task *t, int rc)
{
    char why[512];
    const char *kind = t->plugin->def->kind == SLUICE_SOURCE ? "source" : "sink";
    if (rc == SLUICE_OK || rc == SLUICE_DONE)
        return rc;
    if (rc != SLUICE_ERROR && rc != SLUICE_RETRY) {
        snprintf(why, sizeof(why), "returned unknown status %d", rc);
        rc = SLUICE_ERROR;
    } else if (!t->err_set) {
        snprintf(why, sizeof(why), "returned %s without a message",
                 rc == SLUICE_RETRY ? "RETRY" : "ERROR");
    } else {
        snprintf(why, sizeof(why), "%.500s", t->err);
    }
    t->err_retriable = rc == SLUICE_RETRY;
    snprintf(t->err, sizeof(t->err), "connector %s task %d: %s.%s.%s: %s", t->connector, t->task_id,
             t->plugin->def->name, kind, t->call, why);
    t->err_set = 1;
    if (rc == SLUICE_RETRY)
        sl_warn(t->tag, "%s (retriable)", t->err);
    else
        sl_error(t->tag, "%s", t->err);
    return rc;
}

int sl_task_open(sl_task *t)
{
    const sluice_plugin_def *d = t->plugin->def;
    if (t->open)
        return SLUICE_OK;
    begin_call(t, "open");
    int rc = d->kind == SLUICE_SOURCE ? d->source.open(&t->ctx, &t->state)
                                      : d->sink.open(&t->ctx, &t->state);
    t->open = rc == SLUICE_OK;
    if (rc == SLUICE_DONE)
        rc = SLUICE_ERROR;
    return end_call(t, rc);
}

static int not_ready(sl_task *t, const char *call, sluice_plugin_kind kind)
{
    begin_call(t, call);
    if (!t->open)
        return sluice_error(&t->ctx, 0, "called before a successful open");
    if (t->plugin->def->kind != kind)
        return sluice_error(&t->ctx, 0, "not a %s plugin",
                            kind == SLUICE_SOURCE ? "source" : "sink");
    return SLUICE_OK;
}

int sl_task_poll(sl_task *t, sluice_batch *b)
{
    int rc = not_ready(t, "poll", SLUICE_SOURCE);
    if (rc == SLUICE_OK)
        rc = t->plugin->def->source.poll(t->state, &t->ctx, b);
    return end_call(t, rc);
}

int sl_task_commit(sl_task *t, const char *position)
{
    int rc = not_ready(t, "commit", SLUICE_SOURCE);
    if (rc == SLUICE_OK && t->plugin->def->source.commit)
        rc = t->plugin->def->source.commit(t->state, &t->ctx, position);
    if (rc == SLUICE_OK)
        rc = sl_task_set_position(t, position) == 0 ? SLUICE_OK : SLUICE_ERROR;
    return end_call(t, rc);
}

int sl_task_takes_raw_values(const sl_task *t)
{
    return t->plugin->def->kind == SLUICE_SINK && t->plugin->def->raw_values;
}

void sl_task_set_raw_values(sl_task *t, const sl_raw_values *raw)
{
    t->raw = *raw;
}

int sl_task_put(sl_task *t, const sluice_record *records, size_t n)
{
    int rc = not_ready(t, "put", SLUICE_SINK);
    if (rc == SLUICE_OK)
        rc = t->plugin->def->sink.put(t->state, &t->ctx, records, n);
    return end_call(t, rc);
}

int sl_task_flush(sl_task *t)
{
    int rc = not_ready(t, "flush", SLUICE_SINK);
    if (rc == SLUICE_OK)
        rc = t->plugin->def->sink.flush(t->state, &t->ctx);
    return end_call(t, rc);
}

int sl_task_has_precommit(const sl_task *t)
{
    return t->plugin->def->kind == SLUICE_SINK && t->plugin->def->sink.precommit != NULL;
}

int sl_task_precommit(sl_task *t, sluice_offset *offsets, size_t n)
{
    int rc = not_ready(t, "precommit", SLUICE_SINK);
    if (rc == SLUICE_OK)
        rc = t->plugin->def->sink.precommit(t->state, &t->ctx, offsets, n);
    return end_call(t, rc);
}

int sl_task_close_partitions(sl_task *t, const sluice_offset *parts, size_t n)
{
    if (t->plugin->def->kind != SLUICE_SINK || !t->plugin->def->sink.close_partitions)
        return SLUICE_OK;
    int rc = not_ready(t, "close_partitions", SLUICE_SINK);
    if (rc == SLUICE_OK)
        rc = t->plugin->def->sink.close_partitions(t->state, &t->ctx, parts, n);
    return end_call(t, rc);
}

void sl_task_close(sl_task *t)
{
    const sluice_plugin_def *d = t->plugin->def;
    if (!t->open)
        return;
    begin_call(t, "close");
    if (d->kind == SLUICE_SOURCE)
        d->source.close(t->state, &t->ctx);
    else
        d->sink.close(t->state, &t->ctx);
    t->open = 0;
    t->state = NULL;
}

int sl_task_set_position(sl_task *t, const char *position)
{
    char *p = position ? strdup(position) : NULL;
    if (position && !p)
        return -1;
    free(t->position);
    t->position = p;
    return 0;
}

const char *sl_task_error(const sl_task *t)
{
    return t->err_set ? t->err : NULL;
}
int sl_task_error_retriable(const sl_task *t)
{
    return t->err_retriable;
}

int64_t sl_task_metric(const sl_task *t, const char *name)
{
    size_t n = atomic_load(&t->n_metrics);
    for (size_t i = 0; i < n; i++)
        if (strcmp(t->metrics[i].name, name) == 0)
            return atomic_load(&t->metrics[i].value);
    return 0;
}

size_t sl_task_metric_count(const sl_task *t)
{
    return t ? atomic_load(&t->n_metrics) : 0;
}

const char *sl_task_metric_at(const sl_task *t, size_t i, int64_t *value, int *gauge)
{
    if (!t || i >= atomic_load(&t->n_metrics))
        return NULL;
    *value = atomic_load(&t->metrics[i].value);
    *gauge = t->metrics[i].gauge;
    return t->metrics[i].name;
}
