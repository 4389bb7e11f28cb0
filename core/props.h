/*
 * props.h - Java properties files, as Kafka's tools and Kafka Connect's
 * FileConfigProvider read them: the CLI's --command-config (cli_common.c)
 * and ${file:path:key} in connector configs (plugin_host.c).
 */
#ifndef SL_PROPS_H
#define SL_PROPS_H

#include <jansson.h>
#include <stddef.h>

/* Reads path into an object of strings: "key=value", "key: value" or
 * "key value" lines, '#' and '!' comments, a trailing '\' continuing a line;
 * a key given twice keeps its last value. NULL with err: "cannot open
 * <path>: <why>" or "<path> line <n>: expected key=value". */
json_t *sl_props_load(const char *path, char *err, size_t errlen);

#endif
