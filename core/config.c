/*
 * config.c - see config.h.
 */
#include "config.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The row of key: its own, else the longest SL_OPT_PREFIX row it starts
 * with (and is longer than), else NULL. */
static const sl_option *find_option(const sl_option *opts, const char *key)
{
    const sl_option *prefix = NULL;
    size_t best = 0;
    for (; opts->name; opts++) {
        if (!strcmp(opts->name, key))
            return opts;
        size_t n = strlen(opts->name);
        if (opts->type == SL_OPT_PREFIX && n > best && strlen(key) > n &&
            !strncmp(opts->name, key, n)) {
            prefix = opts;
            best = n;
        }
    }
    return prefix;
}

static int parse_int(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end)
        return -1;
    *out = v;
    return 0;
}

static int parse_bool(const char *s, int *out)
{
    if (!strcasecmp(s, "true") || !strcmp(s, "1") || !strcasecmp(s, "yes")) {
        *out = 1;
        return 0;
    }
    if (!strcasecmp(s, "false") || !strcmp(s, "0") || !strcasecmp(s, "no")) {
        *out = 0;
        return 0;
    }
    return -1;
}

int sl_config_set(const sl_option *opts, void *conf, const char *key, const char *value,
                  const char *source, char *err, size_t errlen)
{
    const sl_option *o = find_option(opts, key);
    char *base = conf;
    int64_t v;
    int b;

    if (!o) {
        snprintf(err, errlen, "%s: unknown config key '%s'", source, key);
        return -1;
    }
    switch (o->type) {
    case SL_OPT_PREFIX: {
        json_t **obj = (json_t **)(base + o->offset);
        if (!*obj && !(*obj = json_object()))
            return snprintf(err, errlen, "%s: out of memory", source), -1;
        if (json_object_set_new(*obj, key + strlen(o->name), json_string(value ? value : "")))
            return snprintf(err, errlen, "%s: '%s': not UTF-8", source, key), -1;
        return 0;
    }
    case SL_OPT_STRING: {
        char **dst = (char **)(base + o->offset);
        free(*dst);
        *dst = value ? strdup(value) : NULL;
        return 0;
    }
    case SL_OPT_BOOL:
        if (parse_bool(value, &b)) {
            snprintf(err, errlen, "%s: '%s' must be true or false, got '%s'", source, key, value);
            return -1;
        }
        *(int *)(base + o->offset) = b;
        return 0;
    case SL_OPT_INT:
    case SL_OPT_MS_HOURS:
    case SL_OPT_MS_MINUTES:
        if (parse_int(value, &v)) {
            snprintf(err, errlen, "%s: '%s' must be an integer, got '%s'", source, key, value);
            return -1;
        }
        if (o->min < o->max && (v < o->min || v > o->max)) {
            snprintf(err, errlen, "%s: '%s' must be between %lld and %lld, got %lld", source, key,
                     (long long)o->min, (long long)o->max, (long long)v);
            return -1;
        }
        if (o->type == SL_OPT_MS_HOURS && v > 0)
            v *= 3600000;
        else if (o->type == SL_OPT_MS_MINUTES && v > 0)
            v *= 60000;
        *(int64_t *)(base + o->offset) = v;
        return 0;
    }
    return -1;
}

int sl_config_defaults(const sl_option *opts, void *conf, char *err, size_t errlen)
{
    for (const sl_option *o = opts; o->name; o++) {
        if (o->type == SL_OPT_MS_HOURS || o->type == SL_OPT_MS_MINUTES || o->type == SL_OPT_PREFIX)
            continue; /* aliases: the ms key carries the default; prefixes have none */
        if (!o->defval && o->type == SL_OPT_STRING)
            continue;
        if (sl_config_set(opts, conf, o->name, o->defval, "default", err, errlen))
            return -1;
    }
    return 0;
}

int sl_config_set_kv(const sl_option *opts, void *conf, const char *kv, char *err, size_t errlen)
{
    const char *eq = strchr(kv, '=');
    char key[256];
    if (!eq || eq == kv || (size_t)(eq - kv) >= sizeof(key)) {
        snprintf(err, errlen, "--set: expected key=value, got '%s'", kv);
        return -1;
    }
    memcpy(key, kv, (size_t)(eq - kv));
    key[eq - kv] = 0;
    return sl_config_set(opts, conf, key, eq + 1, "--set", err, errlen);
}

static int apply_json(const sl_option *opts, void *conf, const char *prefix, json_t *obj,
                      const char *path, char *err, size_t errlen)
{
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v)
    {
        char key[256], num[64], src[512];
        const char *text = NULL;
        snprintf(key, sizeof(key), "%s%s%s", prefix, *prefix ? "." : "", k);
        snprintf(src, sizeof(src), "%s", path);
        if (json_is_object(v)) {
            if (apply_json(opts, conf, key, v, path, err, errlen))
                return -1;
            continue;
        }
        if (json_is_string(v))
            text = json_string_value(v);
        else if (json_is_integer(v)) {
            snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
            text = num;
        } else if (json_is_boolean(v))
            text = json_is_true(v) ? "true" : "false";
        else if (json_is_null(v))
            text = NULL;
        else {
            snprintf(err, errlen, "%s: key '%s' has a value that is not a string, integer or boolean",
                     path, key);
            return -1;
        }
        if (sl_config_set(opts, conf, key, text ? text : "", src, err, errlen))
            return -1;
    }
    return 0;
}

int sl_config_load_file(const sl_option *opts, void *conf, const char *path, char *err,
                        size_t errlen)
{
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    int rc;
    if (!root) {
        snprintf(err, errlen, "%s:%d:%d: %s", path, je.line, je.column, je.text);
        return -1;
    }
    if (!json_is_object(root)) {
        snprintf(err, errlen, "%s: the config must be a JSON object", path);
        json_decref(root);
        return -1;
    }
    rc = apply_json(opts, conf, "", root, path, err, errlen);
    json_decref(root);
    return rc;
}

int sl_config_parse_args(const sl_option *opts, void *conf, int argc, char **argv, char *err,
                         size_t errlen)
{
    int i;
    for (i = 1; i < argc; i++) { /* the file first, whatever its position */
        if (!strcmp(argv[i], "--config")) {
            if (i + 1 >= argc) {
                snprintf(err, errlen, "--config needs a file name");
                return -1;
            }
            if (sl_config_load_file(opts, conf, argv[i + 1], err, errlen))
                return -1;
            i++;
        }
    }
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--config")) {
            i++;
        } else if (!strcmp(argv[i], "--set")) {
            if (i + 1 >= argc) {
                snprintf(err, errlen, "--set needs key=value");
                return -1;
            }
            if (sl_config_set_kv(opts, conf, argv[++i], err, errlen))
                return -1;
        } else if (!strncmp(argv[i], "--set=", 6)) {
            if (sl_config_set_kv(opts, conf, argv[i] + 6, err, errlen))
                return -1;
        } else {
            snprintf(err, errlen, "unknown argument '%s'", argv[i]);
            return -1;
        }
    }
    return 0;
}

void sl_config_free(const sl_option *opts, void *conf)
{
    for (const sl_option *o = opts; o->name; o++) {
        if (o->type == SL_OPT_STRING) {
            char **dst = (char **)((char *)conf + o->offset);
            free(*dst);
            *dst = NULL;
        } else if (o->type == SL_OPT_PREFIX) {
            json_t **obj = (json_t **)((char *)conf + o->offset);
            json_decref(*obj);
            *obj = NULL;
        }
    }
}

void sl_config_usage(const sl_option *opts, void *file)
{
    FILE *f = file;
    for (const sl_option *o = opts; o->name; o++) {
        if (o->type == SL_OPT_PREFIX)
            fprintf(f, "  %s%-*s %s\n", o->name, (int)(36 - strlen(o->name)), "*", o->doc);
        else
            fprintf(f, "  %-36s %s (default: %s)\n", o->name, o->doc,
                    o->defval ? o->defval : "unset");
    }
}
