/*
 * config.h - declared-once option tables, filled from a JSON file and
 * "--set key=value" arguments.
 *
 * A role declares its options as a table of sl_option rows (name, type,
 * default, doc, offset into its config struct). sl_config_apply_* parse into
 * the struct; an unknown key, a value of the wrong type or out of range is an
 * error naming the key, the value and where it came from. The JSON file is a
 * flat object {"listeners": "PLAINTEXT://:9092", "num.partitions": 3}; nested
 * objects are flattened with dots ({"log": {"dirs": "x"}} == "log.dirs").
 * Strings are strdup'd into the struct; sl_config_free releases them.
 */
#ifndef SL_CONFIG_H
#define SL_CONFIG_H
#include <stddef.h>
#include <stdint.h>

/* SL_OPT_PREFIX: a name ending in '.' ("producer."): every key that starts
 * with it and no other row names is kept, without the prefix, in the
 * json_t * object at offset (created on the first such key; string values),
 * for a library that has keys of its own (librdkafka) to check and take. */
enum sl_option_type {
    SL_OPT_STRING,
    SL_OPT_INT,
    SL_OPT_BOOL,
    SL_OPT_MS_HOURS,
    SL_OPT_MS_MINUTES,
    SL_OPT_PREFIX
};

typedef struct sl_option {
    const char *name;
    enum sl_option_type type;
    const char *defval; /* textual default; NULL for an unset string */
    size_t offset;      /* offsetof(struct, field): char *, int64_t, int or json_t * */
    const char *doc;
    int64_t min, max;   /* for SL_OPT_INT when min < max */
    size_t alias_of;    /* SL_OPT_MS_*: this key sets the int64 at offset in ms */
} sl_option;

/* Set every option to its default. */
int sl_config_defaults(const sl_option *opts, void *conf, char *err, size_t errlen);
/* Set one option from text (source names where it came from, for errors). */
int sl_config_set(const sl_option *opts, void *conf, const char *key, const char *value,
                  const char *source, char *err, size_t errlen);
/* Parse "key=value". */
int sl_config_set_kv(const sl_option *opts, void *conf, const char *kv, char *err, size_t errlen);
/* Load a JSON object file. */
int sl_config_load_file(const sl_option *opts, void *conf, const char *path, char *err,
                        size_t errlen);
/* Parse argv for --config FILE and --set key=value (in order: the file
 * first, then each --set). Other arguments are an error. */
int sl_config_parse_args(const sl_option *opts, void *conf, int argc, char **argv, char *err,
                         size_t errlen);
void sl_config_free(const sl_option *opts, void *conf);
/* Print "name (default: x): doc" lines. */
void sl_config_usage(const sl_option *opts, void *file);

#endif
