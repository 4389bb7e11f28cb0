/*
 * props.h - Java properties files, as Kafka's tools and Kafka Connect's
 * FileConfigProvider read them: the CLI's --command-config (cli_common.c)
 * and ${file:path:key} in connector configs (plugin_host.c); and the
 * whole-file read they share with the PEM files of https listeners (http.c).
 */
#ifndef SL_PROPS_H
#define SL_PROPS_H

#include <jansson.h>
#include <stddef.h>

/* Reads path into an object of strings as java.util.Properties.load reads
 * it (UTF-8): "key=value", "key: value" or "key value" lines, '#' and '!'
 * comments, a line ending in an odd number of backslashes going on with the
 * next, the escapes \t \n \r \f \uXXXX and '\' before any other character
 * standing for it ("\=", "\:", "\ ", "\\"); a key given twice keeps its
 * last value. NULL with err: "cannot open <path>: <why>" or "<path> line
 * <n>: <why>" (not UTF-8, a malformed \uXXXX). */
json_t *sl_props_load(const char *path, char *err, size_t errlen);

/* The whole file at path, NUL-terminated (malloc'd; *len its size without
 * the NUL), or NULL with errno: fopen's or fread's, EFBIG (more than max
 * bytes: config, key and certificate files are small), ENOMEM. */
char *sl_file_read(const char *path, size_t max, size_t *len);

#endif
