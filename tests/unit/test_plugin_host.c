/*
 * test_plugin_host.c - the plugin ABI from the host's side: loading and
 * refusing plugins, config validation / masking / ${env:} ${file:}
 * resolution, errors wrapped with connector and task, the datagen source
 * (consecutive seq, resume, max.records, mixed ops with tombstones), and a
 * datagen -> file pipeline run in-process whose output file is parsed back.
 *
 * Plugins come from SLUICE_PLUGIN_DIR (build/plugins) and
 * SLUICE_TEST_PLUGIN_DIR (build/test-plugins: badabi, testsink).
 */
#include <CUnit/Basic.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "plugin_host.h"
#include "props.h"
#include "sluice/envelope.h"

static sl_plugin_host *host;
static char err[2048];

static const sl_plugin *load(const char *name)
{
    const sl_plugin *p = NULL;
    int rc = sl_plugin_host_load(host, name, &p, err, sizeof(err));
    if (rc != 0)
        fprintf(stderr, "load %s: %s\n", name, err);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    return p;
}

static const sl_plugin *load_test_plugin(const char *name)
{
    char path[1024];
    const sl_plugin *p = NULL;
    snprintf(path, sizeof(path), "%s/%s.so", SLUICE_TEST_PLUGIN_DIR, name);
    CU_ASSERT_EQUAL_FATAL(sl_plugin_host_load_file(host, path, &p, err, sizeof(err)), 0);
    return p;
}

/* The "errors" array of config `name` in a validate answer (NULL: absent). */
static json_t *errors_of(json_t *answer, const char *name)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(answer, "configs"), i, c)
    {
        json_t *v = json_object_get(c, "value");
        if (strcmp(json_string_value(json_object_get(v, "name")), name) == 0)
            return json_object_get(v, "errors");
    }
    return NULL;
}

static const char *shown_value(json_t *answer, const char *name)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(answer, "configs"), i, c)
    {
        json_t *v = json_object_get(c, "value");
        if (strcmp(json_string_value(json_object_get(v, "name")), name) == 0)
            return json_string_value(json_object_get(v, "value"));
    }
    return NULL;
}

static int first_error_contains(json_t *answer, const char *name, const char *needle)
{
    json_t *e = errors_of(answer, name);
    const char *s = json_string_value(json_array_get(e, 0));
    return s && strstr(s, needle) != NULL;
}

/* source.seq of a datagen value; -1 if absent. */
static int64_t value_seq(const avro_value_t *value)
{
    avro_value_t source, seq, branch;
    int64_t n = -1;
    if (avro_value_get_by_name(value, "source", &source, NULL) == 0 &&
        avro_value_get_by_name(&source, "seq", &seq, NULL) == 0 &&
        avro_value_get_current_branch(&seq, &branch) == 0)
        avro_value_get_long(&branch, &n);
    return n;
}

static char value_op(const avro_value_t *value)
{
    avro_value_t op;
    const char *s = NULL;
    size_t len;
    if (avro_value_get_by_name(value, "op", &op, NULL) != 0 ||
        avro_value_get_string(&op, &s, &len) != 0)
        return '?';
    return s[0];
}

static sl_task *datagen_task(const char *extra_json, const char *position)
{
    const sl_plugin *p = load("datagen");
    json_t *config = json_pack("{s:s, s:s}", "connector.class", "datagen", "name", "pipe.source");
    json_t *extra = extra_json ? json_loads(extra_json, 0, NULL) : NULL;
    if (extra)
        json_object_update(config, extra);
    sl_task *t = sl_task_create(p, "pipe.source", 0, config, position, err, sizeof(err));
    if (!t)
        fprintf(stderr, "datagen task: %s\n", err);
    json_decref(extra);
    json_decref(config);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_EQUAL_FATAL(sl_task_open(t), SLUICE_OK);
    return t;
}

/* ======================================================================== */

static void test_load_plugins(void)
{
    const sl_plugin *dg = load("datagen"), *fs = load("file"), *again = load("datagen");
    CU_ASSERT_PTR_EQUAL(dg, again);
    CU_ASSERT_EQUAL(sl_plugin_def(dg)->kind, SLUICE_SOURCE);
    CU_ASSERT_EQUAL(sl_plugin_def(fs)->kind, SLUICE_SINK);
    CU_ASSERT_STRING_EQUAL(sl_plugin_def(fs)->name, "file");
    CU_ASSERT_PTR_NOT_NULL(sl_plugin_def(dg)->options);
    CU_ASSERT_PTR_NOT_NULL(strstr(sl_plugin_file(dg), "datagen.so"));
    /* tasks.max is capped by what a plugin declares: one unless it says */
    CU_ASSERT_EQUAL(sl_plugin_max_tasks(dg), 1);
    CU_ASSERT_EQUAL(sl_plugin_max_tasks(fs), 1);
    CU_ASSERT_EQUAL(sl_plugin_max_tasks(load_test_plugin("testsink")), SLUICE_TASKS_ANY);
}

static void test_refuse_bad_abi(void)
{
    char path[1024];
    const sl_plugin *p = NULL;
    snprintf(path, sizeof(path), "%s/badabi.so", SLUICE_TEST_PLUGIN_DIR);
    CU_ASSERT_EQUAL(sl_plugin_host_load_file(host, path, &p, err, sizeof(err)), -1);
    CU_ASSERT_PTR_NULL(p);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "badabi.so"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "ABI version 99"));
    char ours[64];
    snprintf(ours, sizeof(ours), "ABI version %u;", SLUICE_PLUGIN_ABI_VERSION);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, ours));
    /* and a missing plugin, and a name that is a path */
    CU_ASSERT_EQUAL(sl_plugin_host_load(host, "nosuchplugin", &p, err, sizeof(err)), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "nosuchplugin.so"));
    CU_ASSERT_EQUAL(sl_plugin_host_load(host, "../datagen", &p, err, sizeof(err)), -1);
}

static void test_validate_errors_per_field(void)
{
    const sl_plugin *dg = load("datagen"), *fs = load("file");
    json_t *config =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "connector.class", "datagen", "name",
                  "x", "tasks.max", "1", "transforms.a.type", "y", "bogus.key", "1", "max.records",
                  "ten", "ops", "sometimes", "rate", "5");
    json_t *answer = sl_plugin_validate(dg, config);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(answer, "name")), "datagen");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(answer, "error_count")), 3);
    CU_ASSERT_TRUE(first_error_contains(answer, "bogus.key", "Unknown configuration"));
    CU_ASSERT_TRUE(first_error_contains(answer, "max.records", "Not a number of type LONG"));
    CU_ASSERT_TRUE(first_error_contains(answer, "ops", "must be one of: insert, mixed"));
    CU_ASSERT_EQUAL(json_array_size(errors_of(answer, "rate")), 0);
    CU_ASSERT_EQUAL(json_array_size(errors_of(answer, "tasks.max")), 0);
    CU_ASSERT_EQUAL(json_array_size(errors_of(answer, "transforms.a.type")), 0);
    /* the definition carries the option table */
    json_t *c0 = json_array_get(json_object_get(answer, "configs"), 0);
    CU_ASSERT_STRING_EQUAL(
        json_string_value(json_object_get(json_object_get(c0, "definition"), "name")), "topic");
    json_decref(answer);

    /* task creation refuses the same config, naming each field */
    sl_task *t = sl_task_create(dg, "x", 0, config, NULL, err, sizeof(err));
    CU_ASSERT_PTR_NULL(t);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "bogus.key"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "max.records"));
    json_decref(config);

    /* missing required */
    config = json_pack("{s:s, s:s}", "connector.class", "file", "tasks.max", "0");
    answer = sl_plugin_validate(fs, config);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(answer, "error_count")), 2);
    CU_ASSERT_TRUE(first_error_contains(answer, "file", "Missing required configuration"));
    CU_ASSERT_TRUE(first_error_contains(answer, "tasks.max", "must be an integer >= 1"));
    json_decref(answer);
    json_decref(config);

    /* bad bool, wrong JSON type, connector.class naming another plugin */
    config = json_pack("{s:s, s:s, s:[]}", "connector.class", "datagen", "tombstones.on.delete",
                       "maybe", "topic");
    answer = sl_plugin_validate(dg, config);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(answer, "error_count")), 2);
    CU_ASSERT_TRUE(first_error_contains(answer, "tombstones.on.delete", "true or false"));
    CU_ASSERT_TRUE(first_error_contains(answer, "topic", "expected a string"));
    json_decref(answer);
    json_object_set_new(config, "connector.class", json_string("file"));
    json_object_del(config, "topic");
    answer = sl_plugin_validate(dg, config);
    CU_ASSERT_TRUE(first_error_contains(answer, "connector.class", "this plugin is datagen"));
    json_decref(answer);
    json_decref(config);
}

static void test_secret_masking(void)
{
    const sl_plugin *p = load_test_plugin("testsink");
    json_t *config = json_pack("{s:s, s:s, s:s, s:s}", "connector.class", "testsink", "password",
                               "hunter2", "api.token", "tok-123", "fail", "bogus");
    json_t *answer = sl_plugin_validate(p, config);
    char *text = json_dumps(answer, 0);
    CU_ASSERT_PTR_NULL(strstr(text, "hunter2"));
    CU_ASSERT_PTR_NULL(strstr(text, "tok-123"));
    CU_ASSERT_STRING_EQUAL(shown_value(answer, "password"), "[hidden]");
    CU_ASSERT_STRING_EQUAL(shown_value(answer, "api.token"), "[hidden]");
    CU_ASSERT_STRING_EQUAL(shown_value(answer, "fail"), "bogus");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(answer, "error_count")), 1);
    free(text);
    json_decref(answer);

    json_t *masked = sl_plugin_mask(p, config);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(masked, "password")), "[hidden]");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(masked, "api.token")), "[hidden]");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(masked, "connector.class")),
                           "testsink");
    json_decref(masked);

    /* a bad secret value is reported without echoing it */
    json_object_set_new(config, "fail", json_string("none"));
    json_object_del(config, "password");
    answer = sl_plugin_validate(p, config);
    CU_ASSERT_TRUE(first_error_contains(answer, "password", "Missing required"));
    json_decref(answer);
    json_decref(config);
}

static void test_resolve_env_and_file(void)
{
    char path[] = "/tmp/sluice-props-XXXXXX";
    int fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("# secrets\n! also a comment\ndb.user = alice\ndb.password: s3cr=t\nempty=\n", f);
    fclose(f);
    setenv("SLUICE_TEST_TOKEN", "from-env", 1);

    char ref[256];
    snprintf(ref, sizeof(ref), "${file:%s:db.user}@${file:%s:db.password}", path, path);
    json_t *config = json_pack("{s:s, s:s, s:s, s:i}", "a", "${env:SLUICE_TEST_TOKEN}", "b", ref,
                               "c", "plain ${ not a ref", "n", 3);
    json_t *out = NULL;
    CU_ASSERT_EQUAL_FATAL(sl_config_resolve(config, &out, err, sizeof(err)), 0);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(out, "a")), "from-env");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(out, "b")), "alice@s3cr=t");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(out, "c")), "plain ${ not a ref");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(out, "n")), 3);
    /* the input is untouched (so the raw template is what gets stored) */
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(config, "a")),
                           "${env:SLUICE_TEST_TOKEN}");
    json_decref(out);
    json_decref(config);

    config = json_pack("{s:s}", "pw", "${env:SLUICE_TEST_NOT_SET_ANYWHERE}");
    CU_ASSERT_EQUAL(sl_config_resolve(config, &out, err, sizeof(err)), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "config pw"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "SLUICE_TEST_NOT_SET_ANYWHERE is not set"));
    json_decref(config);

    snprintf(ref, sizeof(ref), "${file:%s:no.such.key}", path);
    config = json_pack("{s:s}", "pw", ref);
    CU_ASSERT_EQUAL(sl_config_resolve(config, &out, err, sizeof(err)), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "no key no.such.key"));
    json_decref(config);

    config = json_pack("{s:s}", "pw", "${file:/nonexistent/x.properties:k}");
    CU_ASSERT_EQUAL(sl_config_resolve(config, &out, err, sizeof(err)), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "cannot open /nonexistent/x.properties"));
    json_decref(config);

    config = json_pack("{s:s}", "pw", "${vault:x}");
    CU_ASSERT_EQUAL(sl_config_resolve(config, &out, err, sizeof(err)), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "unknown config provider"));
    json_decref(config);
    unlink(path);
}

/* Writes n bytes of text to a fresh temp file and loads it as properties. */
static json_t *props_of_n(const char *text, size_t n)
{
    char path[] = "/tmp/sluice-props-XXXXXX";
    int fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_FATAL(write(fd, text, n) == (ssize_t)n);
    close(fd);
    err[0] = 0;
    json_t *props = sl_props_load(path, err, sizeof(err));
    unlink(path);
    return props;
}

static json_t *props_of(const char *text)
{
    return props_of_n(text, strlen(text));
}

#define PROP_IS(props, k, v)                                                                       \
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(props, k)) ?: "(absent)", v)

/* What Kafka Connect's FileConfigProvider (java.util.Properties.load) reads
 * from the same file, so a secret copied from a Kafka Connect deployment
 * means the same to sluice. */
static void test_properties_as_java_reads_them(void)
{
    json_t *p = props_of("# a comment ending in a backslash does not go on \\\n"
                         "after.comment = yes\n"
                         "pw = pa\\=ss\\\\word\n"
                         "key\\ with\\ spaces = v1\n"
                         "colon\\:key:v2\n"
                         "multi = one, \\\n"
                         "        two, \\\n"
                         "\tthree\n"
                         "even = ends\\\\\\\\\n"
                         "after.even = x\n"
                         "tabs = a\\tb\\q\n"
                         "uni = caf\\u00e9 \\uD83D\\uDE00\n"
                         "spaced     value  \n"
                         "crlf=yes\r\n"
                         "cr=also\r"
                         "nokey\n"
                         "a=b=c\n"
                         "   ! indented comment\n"
                         "dup=1\n"
                         "dup=2\n"
                         "last=no newline at the end");
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    PROP_IS(p, "after.comment", "yes");
    PROP_IS(p, "pw", "pa=ss\\word");
    PROP_IS(p, "key with spaces", "v1");
    PROP_IS(p, "colon:key", "v2");
    PROP_IS(p, "multi", "one, two, three");
    PROP_IS(p, "even", "ends\\\\");
    PROP_IS(p, "after.even", "x");
    PROP_IS(p, "tabs", "a\tbq");
    PROP_IS(p, "uni", "caf\xc3\xa9 \xf0\x9f\x98\x80");
    PROP_IS(p, "spaced", "value  ");
    PROP_IS(p, "crlf", "yes");
    PROP_IS(p, "cr", "also");
    PROP_IS(p, "nokey", "");
    PROP_IS(p, "a", "b=c");
    PROP_IS(p, "dup", "2");
    PROP_IS(p, "last", "no newline at the end");
    CU_ASSERT_EQUAL(json_object_size(p), 16);
    json_decref(p);

    /* a long value is read whole, not cut into a second key */
    char *big = malloc(100016);
    CU_ASSERT_FATAL(big != NULL);
    memcpy(big, "big=", 4);
    memset(big + 4, 'x', 100000);
    strcpy(big + 100004, "\nafter=1\n");
    p = props_of(big);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_EQUAL(strlen(json_string_value(json_object_get(p, "big"))), 100000);
    PROP_IS(p, "after", "1");
    CU_ASSERT_EQUAL(json_object_size(p), 2);
    json_decref(p);
    free(big);

    /* errors name the line the logical line starts on */
    CU_ASSERT_PTR_NULL(props_of("a=1\nb = x\\\n  y\nbad = \\u12G4\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "line 4: malformed \\uxxxx encoding"));
    CU_ASSERT_PTR_NULL(props_of("a=1\nlone = \\uDC00\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "line 2: an unpaired \\u surrogate"));
    CU_ASSERT_PTR_NULL(props_of("nul = a\\u0000b\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "line 1: \\u0000"));
    /* a raw NUL would end the value as a C string: refused, not cut */
    CU_ASSERT_PTR_NULL(props_of_n("a=1\nb=x\0y\n", 10));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "line 2: a NUL byte"));
    CU_ASSERT_PTR_NULL(props_of("a=1\n\nlatin1 = caf\xe9\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "line 3: not UTF-8"));
}

static void test_errors_carry_context(void)
{
    const sl_plugin *p = load_test_plugin("testsink");
    json_t *config = json_pack("{s:s, s:s}", "password", "x", "fail", "put");
    sl_task *t = sl_task_create(p, "orders.es", 2, config, NULL, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_EQUAL(sl_task_open(t), SLUICE_OK);
    CU_ASSERT_EQUAL(sl_task_put(t, NULL, 0), SLUICE_ERROR);
    CU_ASSERT_STRING_EQUAL(sl_task_error(t),
                           "connector orders.es task 2: testsink.sink.put: target rejected 0 "
                           "records");
    CU_ASSERT_FALSE(sl_task_error_retriable(t));
    CU_ASSERT_EQUAL(sl_task_flush(t), SLUICE_OK);
    CU_ASSERT_PTR_NULL(sl_task_error(t));
    /* a source call on a sink is refused by the host, not passed on */
    CU_ASSERT_EQUAL(sl_task_commit(t, "{}"), SLUICE_ERROR);
    CU_ASSERT_PTR_NOT_NULL(strstr(sl_task_error(t), "not a source plugin"));
    sl_task_destroy(t);

    json_object_set_new(config, "fail", json_string("flush-retry"));
    t = sl_task_create(p, "orders.es", 0, config, NULL, err, sizeof(err));
    CU_ASSERT_EQUAL(sl_task_open(t), SLUICE_OK);
    CU_ASSERT_EQUAL(sl_task_flush(t), SLUICE_RETRY);
    CU_ASSERT_TRUE(sl_task_error_retriable(t));
    CU_ASSERT_PTR_NOT_NULL(strstr(sl_task_error(t), "testsink.sink.flush: target busy"));
    sl_task_destroy(t);

    json_object_set_new(config, "fail", json_string("silent"));
    t = sl_task_create(p, "orders.es", 0, config, NULL, err, sizeof(err));
    CU_ASSERT_EQUAL(sl_task_open(t), SLUICE_OK);
    CU_ASSERT_EQUAL(sl_task_put(t, NULL, 0), SLUICE_ERROR);
    CU_ASSERT_PTR_NOT_NULL(strstr(sl_task_error(t), "returned ERROR without a message"));
    sl_task_destroy(t);
    json_decref(config);
}

static void test_datagen_consecutive_seq(void)
{
    sl_task *t = datagen_task("{\"batch.size\": \"10\"}", NULL);
    sluice_batch *b = sl_batch_create(100);
    int64_t expect = 1;
    for (int round = 0; round < 3; round++) {
        CU_ASSERT_EQUAL(sl_task_poll(t, b), SLUICE_OK);
        CU_ASSERT_EQUAL(sl_batch_count(b), 10);
        for (size_t i = 0; i < sl_batch_count(b); i++) {
            const sluice_record *r = &sl_batch_records(b)[i];
            char pos[32];
            snprintf(pos, sizeof(pos), "{\"seq\": %lld}", (long long)expect);
            CU_ASSERT_EQUAL(value_seq(r->value), expect);
            CU_ASSERT_EQUAL(value_op(r->value), 'c');
            CU_ASSERT_STRING_EQUAL(r->topic, "datagen.public.rows");
            CU_ASSERT_STRING_EQUAL(r->position, pos);
            CU_ASSERT_PTR_NOT_NULL(r->key);
            CU_ASSERT_PTR_NOT_NULL(r->key_schema);
            expect++;
        }
        sl_batch_clear(b);
    }
    CU_ASSERT_EQUAL(sl_task_metric(t, "records.generated"), 30);
    /* a batch with room for 4 gets 4 */
    sl_batch_destroy(b);
    b = sl_batch_create(4);
    CU_ASSERT_EQUAL(sl_task_poll(t, b), SLUICE_OK);
    CU_ASSERT_EQUAL(sl_batch_count(b), 4);
    CU_ASSERT_EQUAL(value_seq(sl_batch_records(b)[0].value), 31);
    sl_batch_destroy(b);
    sl_task_destroy(t);
}

static void test_datagen_resumes_after_position(void)
{
    sl_task *t = datagen_task("{\"batch.size\": \"5\"}", "{\"seq\": 41}");
    sluice_batch *b = sl_batch_create(100);
    CU_ASSERT_EQUAL(sl_task_poll(t, b), SLUICE_OK);
    CU_ASSERT_EQUAL(sl_batch_count(b), 5);
    CU_ASSERT_EQUAL(value_seq(sl_batch_records(b)[0].value), 42);
    CU_ASSERT_EQUAL(value_seq(sl_batch_records(b)[4].value), 46);
    CU_ASSERT_EQUAL(sl_task_commit(t, "{\"seq\": 46}"), SLUICE_OK);
    sl_batch_destroy(b);
    sl_task_destroy(t);

    /* a position that is not datagen's is a fatal open error with context */
    const sl_plugin *p = load("datagen");
    json_t *config = json_object();
    t = sl_task_create(p, "pipe.source", 0, config, "{\"lsn\": 5}", err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_EQUAL(sl_task_open(t), SLUICE_ERROR);
    CU_ASSERT_PTR_NOT_NULL(strstr(sl_task_error(t), "connector pipe.source task 0: datagen"));
    CU_ASSERT_PTR_NOT_NULL(strstr(sl_task_error(t), "{\"lsn\": 5}"));
    sl_task_destroy(t);
    json_decref(config);
}

static void test_datagen_stops_at_max_records(void)
{
    sl_task *t = datagen_task("{\"batch.size\": \"10\", \"max.records\": \"25\"}", NULL);
    sluice_batch *b = sl_batch_create(100);
    size_t total = 0;
    int rc, polls = 0;
    while ((rc = sl_task_poll(t, b)) == SLUICE_OK && polls++ < 100) {
        total += sl_batch_count(b);
        if (sl_batch_count(b))
            CU_ASSERT_EQUAL(value_seq(sl_batch_records(b)[sl_batch_count(b) - 1].value),
                            (int64_t)total);
        sl_batch_clear(b);
    }
    CU_ASSERT_EQUAL(rc, SLUICE_DONE);
    CU_ASSERT_EQUAL(total, 25);
    CU_ASSERT_EQUAL(polls, 3);
    sl_batch_destroy(b);
    sl_task_destroy(t);

    /* resumed at the end, it is done at once */
    t = datagen_task("{\"max.records\": \"25\"}", "{\"seq\": 25}");
    b = sl_batch_create(10);
    CU_ASSERT_EQUAL(sl_task_poll(t, b), SLUICE_DONE);
    CU_ASSERT_EQUAL(sl_batch_count(b), 0);
    sl_batch_destroy(b);
    sl_task_destroy(t);
}

/* rate=200/s: over ~300 ms of polling, about 60 records; loose bounds so a
 * slow machine does not fail it, tight enough to catch "no limit at all". */
static void test_datagen_rate(void)
{
    sl_task *t = datagen_task("{\"rate\": \"200\"}", NULL);
    sluice_batch *b = sl_batch_create(1000);
    struct timespec start, now;
    size_t total = 0;
    clock_gettime(CLOCK_MONOTONIC, &start);
    do {
        CU_ASSERT_EQUAL(sl_task_poll(t, b), SLUICE_OK);
        total += sl_batch_count(b);
        sl_batch_clear(b);
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 < 300);
    CU_ASSERT_TRUE(total >= 10);
    CU_ASSERT_TRUE(total <= 120);
    sl_batch_destroy(b);
    sl_task_destroy(t);
}

static void test_datagen_mixed_ops_and_tombstones(void)
{
    sl_task *t = datagen_task("{\"ops\": \"mixed\", \"max.records\": \"300\", "
                              "\"schema.fields\": \"id:long,note:string?,n:int,ok:boolean\"}",
                              NULL);
    sluice_batch *b = sl_batch_create(7); /* small: tombstones spill into the next poll */
    int counts[256] = {0}, tombstones = 0, rc;
    int64_t expect = 1, last_delete = 0;
    while ((rc = sl_task_poll(t, b)) == SLUICE_OK) {
        for (size_t i = 0; i < sl_batch_count(b); i++) {
            const sluice_record *r = &sl_batch_records(b)[i];
            if (!r->value) {
                tombstones++;
                char pos[32];
                snprintf(pos, sizeof(pos), "{\"seq\": %lld}", (long long)last_delete);
                CU_ASSERT_STRING_EQUAL(r->position, pos);
                CU_ASSERT_PTR_NOT_NULL(r->value_schema);
                last_delete = 0;
                continue;
            }
            CU_ASSERT_EQUAL(last_delete, 0); /* a delete's tombstone comes right after it */
            CU_ASSERT_EQUAL(value_seq(r->value), expect);
            expect++;
            char op = value_op(r->value);
            counts[(unsigned char)op]++;
            if (op == 'd')
                last_delete = value_seq(r->value);
        }
        sl_batch_clear(b);
    }
    CU_ASSERT_EQUAL(rc, SLUICE_DONE);
    CU_ASSERT_EQUAL(expect, 301);
    CU_ASSERT_TRUE(counts['c'] > 100);
    CU_ASSERT_TRUE(counts['u'] > 30);
    CU_ASSERT_TRUE(counts['d'] > 5);
    CU_ASSERT_EQUAL(counts['c'] + counts['u'] + counts['d'], 300);
    CU_ASSERT_EQUAL(tombstones, counts['d']);
    sl_batch_destroy(b);
    sl_task_destroy(t);
}

/* datagen -> file in-process: poll, put, flush, commit; then the file holds
 * every seq exactly once, as JSON lines in the Debezium form. */
static void test_pipeline_datagen_to_file(void)
{
    char path[] = "/tmp/sluice-sink-XXXXXX";
    int fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    close(fd);
    const int N = 1000;
    sl_task *src = datagen_task("{\"ops\": \"mixed\", \"max.records\": \"1000\", "
                                "\"batch.size\": \"64\", \"topic\": \"dg.public.orders\"}",
                                NULL);
    json_t *config =
        json_pack("{s:s, s:s, s:s}", "connector.class", "file", "file", path, "append", "false");
    sl_task *sink = sl_task_create(load("file"), "pipe.out", 0, config, NULL, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(sink);
    CU_ASSERT_EQUAL_FATAL(sl_task_open(sink), SLUICE_OK);
    sluice_batch *b = sl_batch_create(100);
    int rc;
    size_t lines = 0;
    while ((rc = sl_task_poll(src, b)) == SLUICE_OK) {
        size_t n = sl_batch_count(b);
        if (n == 0)
            continue;
        CU_ASSERT_EQUAL_FATAL(sl_task_put(sink, sl_batch_records(b), n), SLUICE_OK);
        CU_ASSERT_EQUAL_FATAL(sl_task_flush(sink), SLUICE_OK);
        CU_ASSERT_EQUAL(sl_task_commit(src, sl_batch_records(b)[n - 1].position), SLUICE_OK);
        lines += n;
        sl_batch_clear(b);
    }
    CU_ASSERT_EQUAL(rc, SLUICE_DONE);
    CU_ASSERT_EQUAL(sl_task_metric(sink, "records.written"), (int64_t)lines);
    sl_batch_destroy(b);
    sl_task_destroy(sink);
    sl_task_destroy(src);
    json_decref(config);

    /* read it back */
    char *seen = calloc((size_t)N + 1, 1);
    FILE *f = fopen(path, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    char line[8192];
    size_t read_lines = 0, tombstones = 0, bad = 0;
    while (fgets(line, sizeof(line), f)) {
        json_error_t jerr;
        json_t *j = json_loads(line, 0, &jerr);
        read_lines++;
        if (!j || strcmp(json_string_value(json_object_get(j, "topic")), "dg.public.orders")) {
            bad++;
            json_decref(j);
            continue;
        }
        json_t *key = json_object_get(j, "key"), *value = json_object_get(j, "value");
        CU_ASSERT_TRUE(json_is_integer(json_object_get(key, "id")));
        if (json_is_null(value)) {
            tombstones++;
        } else {
            json_int_t seq =
                json_integer_value(json_object_get(json_object_get(value, "source"), "seq"));
            const char *op = json_string_value(json_object_get(value, "op"));
            json_t *after = json_object_get(value, "after");
            if (seq < 1 || seq > N || seen[seq])
                bad++;
            else
                seen[seq] = 1;
            CU_ASSERT_PTR_NOT_NULL(op);
            if (op && op[0] == 'd')
                CU_ASSERT_TRUE(json_is_null(after));
            if (op && op[0] == 'c') {
                CU_ASSERT_TRUE(json_is_null(json_object_get(value, "before")));
                CU_ASSERT_TRUE(json_is_string(json_object_get(after, "name")));
                CU_ASSERT_TRUE(json_is_number(json_object_get(after, "amount")));
                CU_ASSERT_EQUAL(json_integer_value(json_object_get(after, "id")),
                                json_integer_value(json_object_get(key, "id")));
            }
        }
        json_decref(j);
    }
    fclose(f);
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(read_lines, lines);
    CU_ASSERT_TRUE(tombstones > 0);
    for (int i = 1; i <= N; i++)
        CU_ASSERT_EQUAL(seen[i], 1);
    CU_ASSERT_EQUAL(read_lines, (size_t)N + tombstones);
    free(seen);
    unlink(path);
}

static void test_envelope_json_form(void)
{
    sluice_column *cols;
    size_t n;
    sluice_envelope *env;
    CU_ASSERT_EQUAL(sluice_columns_parse("id:long, sku:string, blob:bytes?, x:floaty", NULL, &cols,
                                         &n, err, sizeof(err)),
                    -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "unknown type 'floaty'"));
    CU_ASSERT_EQUAL_FATAL(sluice_columns_parse("id:long, sku:string, blob:bytes?", "id,sku", &cols,
                                               &n, err, sizeof(err)),
                          0);
    CU_ASSERT_EQUAL(n, 3);
    CU_ASSERT_TRUE(cols[0].key && cols[1].key && !cols[2].key && cols[2].optional);
    CU_ASSERT_EQUAL_FATAL(
        sluice_envelope_create("shop-1.public.items", cols, n, &env, err, sizeof(err)), 0);
    avro_value_t v, row;
    CU_ASSERT_EQUAL(sluice_envelope_new_value(env, &v), 0);
    sluice_source_info src = {.version = "t",
                              .connector = "c",
                              .name = "n",
                              .ts_ms = 1,
                              .tx_id = 7,
                              .lsn = SLUICE_NULL_POS,
                              .pos = SLUICE_NULL_POS,
                              .seq = SLUICE_NULL_POS};
    CU_ASSERT_EQUAL(sluice_envelope_set_source(&v, &src), 0);
    CU_ASSERT_EQUAL(sluice_envelope_set_op(&v, 'c'), 0);
    CU_ASSERT_EQUAL(sluice_envelope_after(&v, &row), 0);
    CU_ASSERT_EQUAL(sluice_field_set_long(&row, "id", 5), 0);
    CU_ASSERT_EQUAL(sluice_field_set_string(&row, "sku", "A-5"), 0);
    CU_ASSERT_EQUAL(sluice_field_set_bytes(&row, "blob", "hi!", 3), 0);
    json_t *j = sluice_value_to_json(&v);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    json_t *after = json_object_get(j, "after");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(after, "id")), 5);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(after, "blob")), "aGkh");
    CU_ASSERT_TRUE(json_is_null(json_object_get(j, "before")));
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_object_get(j, "source"), "txId")), 7);
    CU_ASSERT_TRUE(json_is_null(json_object_get(json_object_get(j, "source"), "lsn")));
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "op")), "c");
    /* the namespace is the topic made a legal Avro name */
    CU_ASSERT_STRING_EQUAL(avro_schema_namespace(sluice_envelope_value_schema(env)),
                           "shop_1.public.items");
    json_decref(j);
    avro_value_decref(&v);
    sluice_envelope_destroy(env);
    sluice_columns_free(cols, n);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    host = sl_plugin_host_create(SLUICE_PLUGIN_DIR);
    CU_pSuite s = CU_add_suite("plugin_host", NULL, NULL);
    CU_add_test(s, "load datagen and file", test_load_plugins);
    CU_add_test(s, "refuse a wrong ABI version", test_refuse_bad_abi);
    CU_add_test(s, "validate: errors per field", test_validate_errors_per_field);
    CU_add_test(s, "secrets are masked", test_secret_masking);
    CU_add_test(s, "resolve ${env:} and ${file:}", test_resolve_env_and_file);
    CU_add_test(s, "properties files as Java reads them", test_properties_as_java_reads_them);
    CU_add_test(s, "plugin errors carry context", test_errors_carry_context);
    CU_add_test(s, "envelope schemas and JSON form", test_envelope_json_form);
    CU_add_test(s, "datagen: consecutive seq", test_datagen_consecutive_seq);
    CU_add_test(s, "datagen: resumes after position", test_datagen_resumes_after_position);
    CU_add_test(s, "datagen: stops at max.records", test_datagen_stops_at_max_records);
    CU_add_test(s, "datagen: mixed ops, tombstones", test_datagen_mixed_ops_and_tombstones);
    CU_add_test(s, "datagen: rate", test_datagen_rate);
    CU_add_test(s, "pipeline: datagen -> file", test_pipeline_datagen_to_file);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    sl_plugin_host_destroy(host);
    return failed ? 1 : 0;
}
