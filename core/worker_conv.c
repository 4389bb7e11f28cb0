/*
 * worker_conv.c - worker-level converter defaults for connector configs.
 *
 * Kafka Connect lets the worker config name key.converter, value.converter
 * and their options (value.converter.schema.registry.url, ...); a connector
 * that sets none of them inherits the worker's. sluice does the same for
 * the converter names and for the registry URL, which `sluice run` points
 * at its own registry.
 *
 * Runs on: the control thread, while a connector is being prepared.
 */
#include <stdio.h>

#include "worker_int.h"

static int default_str(json_t *config, const char *key, const char *value)
{
    if (!value || json_object_get(config, key))
        return 0;
    return json_object_set_new(config, key, json_string(value));
}

int sl_worker_converter_defaults(const sl_worker *w, json_t *config)
{
    static const char *const sides[] = {"key", "value"};
    for (int i = 0; i < 2; i++) {
        char name[64], url[96];
        snprintf(name, sizeof(name), "%s.converter", sides[i]);
        snprintf(url, sizeof(url), "%s.converter.schema.registry.url", sides[i]);
        const char *conv = i == 0 ? w->conf.key_converter : w->conf.value_converter;
        if (default_str(config, name, conv) || default_str(config, url, w->conf.schema_registry_url))
            return -1;
    }
    return 0;
}
