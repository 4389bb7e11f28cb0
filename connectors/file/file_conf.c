/*
 * file_conf.c - the file sink's options, declared once, and the
 * conf_create / conf_destroy pair.
 */
#include <stddef.h>
#include <stdlib.h>

#include "file.h"

#define OFF(f) offsetof(fs_conf, f)
const sluice_option fs_options[] = {
    {"file", SLUICE_OPT_STRING, NULL, 1, 0, NULL, OFF(file),
     "Path of the JSON-lines file records are appended to."},
    {"append", SLUICE_OPT_BOOL, "true", 0, 0, NULL, OFF(append),
     "Append to an existing file; false truncates it when the task opens."},
    {NULL},
};
#undef OFF

fs_conf *fs_conf_create(sluice_ctx *ctx)
{
    fs_conf *conf = calloc(1, sizeof(*conf));
    if (!conf) {
        sluice_error(ctx, 1, "out of memory");
        return NULL;
    }
    sluice_config_map(ctx, conf);
    return conf;
}

void fs_conf_destroy(fs_conf *conf)
{
    free(conf);
}
