/*
 * cli.c - `sluice schemas`: the registry's command-line client, over its
 * REST API with core's sl_restclient (restclient.h, libcurl), so it works
 * against sluice's registry and any Confluent-compatible one.
 *
 *   sluice schemas [-r URL] [-u USER:PASSWORD] COMMAND ...
 *     list [--deleted] [--prefix P]        subjects, one per line
 *     get SUBJECT [VERSION|latest]         a version as JSON
 *     get --id ID                          a schema by global id
 *     register SUBJECT FILE|-              prints the id
 *     check SUBJECT FILE|- [VERSION]       compatible? (exit 1 if not, reasons listed)
 *     config [SUBJECT] [LEVEL]             show or set a compatibility level
 *     delete SUBJECT [VERSION] [--permanent]
 *
 * The registry URL defaults to $SLUICE_REGISTRY, else http://localhost:8081.
 * Exit codes as the other tools: 0 done, 1 failed (the registry's error code
 * and message are printed), 2 bad command line. Subject names are
 * percent-encoded into paths.
 *
 * The requests are sl_restclient_send's; the answer is judged here (not by
 * sl_restclient_call) because an empty 2xx answer is a failure for every
 * registry call and the messages keep this tool's wording.
 */
#include <getopt.h>
#include <jansson.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry.h"
#include "restclient.h"

enum { OK = 0, FAILED = 1, USAGE = 2 };

typedef struct client {
    const char *url;
    const char *userpwd;
    sl_restclient *rest;
} client;

static void usage(FILE *f)
{
    fprintf(f, "usage: sluice schemas [-r URL] [-u USER:PASSWORD] COMMAND ...\n"
               "\n"
               "commands:\n"
               "  list [--deleted] [--prefix P]           subjects, one per line\n"
               "  get SUBJECT [VERSION|latest]            a subject's version as JSON\n"
               "  get --id ID                             a schema by its global id\n"
               "  register SUBJECT FILE|-                 register a schema, print its id\n"
               "  check SUBJECT FILE|- [VERSION]          is it compatible? exit 1 if not\n"
               "  config [SUBJECT] [LEVEL]                show or set a compatibility level\n"
               "  delete SUBJECT [VERSION] [--permanent]  soft (or permanent) delete\n"
               "\n"
               "  -r, --registry URL      default $SLUICE_REGISTRY, else http://localhost:8081\n"
               "  -u, --user USER:PASS    HTTP basic authentication\n");
}

/* One request. Returns the parsed answer (NULL after printing why: no
 * answer, an answer that is not JSON, or HTTP status >= 300). */
static json_t *call(client *c, const char *method, const char *path, const char *body)
{
    const char *base = sl_restclient_base_url(c->rest);
    char err[4352], *text;
    size_t len;
    json_error_t je;
    json_t *j = NULL;
    long st = sl_restclient_send(c->rest, method, path, body, &text, &len, err, sizeof(err));

    if (st < 0)
        fprintf(stderr, "sluice schemas: %s\n", err);
    else if (!(j = json_loadb(text ? text : "", len, JSON_DECODE_ANY, &je)))
        fprintf(stderr, "sluice schemas: %s %s%s: HTTP %ld, not JSON: %.200s\n", method, base, path,
                st, text ? text : "");
    else if (st >= 300) {
        fprintf(stderr, "sluice schemas: %s %s%s: HTTP %ld error %lld: %s\n", method, base, path,
                st, (long long)json_integer_value(json_object_get(j, "error_code")),
                json_string_value(json_object_get(j, "message")) ?: "");
        json_decref(j);
        j = NULL;
    }
    free(text);
    return j;
}

static void print_json(json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_ENCODE_ANY);
    puts(s ? s : "null");
    free(s);
}

/* The request body {"schema": <file contents>} from FILE or stdin ("-"). */
static char *schema_body(const char *file)
{
    FILE *f = strcmp(file, "-") ? fopen(file, "r") : stdin;
    char chunk[8192], *text = NULL;
    size_t n, len = 0;
    if (!f) {
        fprintf(stderr, "sluice schemas: cannot open %s: %s\n", file, strerror(errno));
        return NULL;
    }
    FILE *m = open_memstream(&text, &len);
    while (m && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        fwrite(chunk, 1, n, m);
    int bad = !m || ferror(f), e = errno;
    if (m)
        fclose(m);
    if (f != stdin)
        fclose(f);
    if (bad) { /* never send a schema cut short */
        fprintf(stderr, "sluice schemas: cannot read %s: %s\n", file, strerror(e));
        free(text);
        return NULL;
    }
    json_t *o = json_pack("{s:s}", "schema", text ? text : "");
    char *body = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    free(text);
    return body;
}

static int cmd_list(client *c, int argc, char **argv)
{
    int deleted = 0;
    const char *prefix = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--deleted"))
            deleted = 1;
        else if (!strcmp(argv[i], "--prefix") && i + 1 < argc)
            prefix = argv[++i];
        else
            return usage(stderr), USAGE;
    }
    char path[1024], query[64];
    snprintf(query, sizeof(query), "/subjects?deleted=%s%s", deleted ? "true" : "false",
             prefix ? "&subjectPrefix=" : "");
    sl_restclient_path(path, sizeof(path), query, prefix ? prefix : "", "");
    json_t *j = call(c, "GET", path, NULL);
    size_t i;
    if (!j)
        return FAILED;
    for (i = 0; i < json_array_size(j); i++)
        puts(json_string_value(json_array_get(j, i)));
    json_decref(j);
    return OK;
}

static int cmd_get(client *c, int argc, char **argv)
{
    char path[2048];
    if (argc == 3 && !strcmp(argv[1], "--id"))
        snprintf(path, sizeof(path), "/schemas/ids/%s", argv[2]);
    else if (argc == 2 || argc == 3) {
        char rest[64];
        snprintf(rest, sizeof(rest), "/versions/%s", argc == 3 ? argv[2] : "latest");
        sl_restclient_path(path, sizeof(path), "/subjects/", argv[1], rest);
    } else
        return usage(stderr), USAGE;
    json_t *j = call(c, "GET", path, NULL);
    if (!j)
        return FAILED;
    print_json(j);
    json_decref(j);
    return OK;
}

static int cmd_register(client *c, int argc, char **argv)
{
    char path[2048];
    if (argc != 3)
        return usage(stderr), USAGE;
    char *body = schema_body(argv[2]);
    if (!body)
        return FAILED;
    sl_restclient_path(path, sizeof(path), "/subjects/", argv[1], "/versions");
    json_t *j = call(c, "POST", path, body);
    free(body);
    if (!j)
        return FAILED;
    printf("%lld\n", (long long)json_integer_value(json_object_get(j, "id")));
    json_decref(j);
    return OK;
}

static int cmd_check(client *c, int argc, char **argv)
{
    char path[2048], rest[96];
    if (argc != 3 && argc != 4)
        return usage(stderr), USAGE;
    char *body = schema_body(argv[2]);
    if (!body)
        return FAILED;
    if (argc == 4)
        snprintf(rest, sizeof(rest), "/versions/%s?verbose=true", argv[3]);
    else
        snprintf(rest, sizeof(rest), "/versions?verbose=true");
    sl_restclient_path(path, sizeof(path), "/compatibility/subjects/", argv[1], rest);
    json_t *j = call(c, "POST", path, body);
    free(body);
    if (!j)
        return FAILED;
    int okay = json_is_true(json_object_get(j, "is_compatible"));
    size_t i;
    printf("%s\n", okay ? "compatible" : "incompatible");
    json_t *msgs = json_object_get(j, "messages");
    for (i = 0; i < json_array_size(msgs); i++)
        printf("  %s\n", json_string_value(json_array_get(msgs, i)));
    json_decref(j);
    return okay ? OK : FAILED;
}

static int cmd_config(client *c, int argc, char **argv)
{
    char path[2048];
    json_t *j;
    if (argc > 3)
        return usage(stderr), USAGE;
    if (argc >= 2)
        sl_restclient_path(path, sizeof(path), "/config/", argv[1], "?defaultToGlobal=true");
    else
        snprintf(path, sizeof(path), "/config");
    if (argc == 3) {
        json_t *o = json_pack("{s:s}", "compatibility", argv[2]);
        char *body = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        sl_restclient_path(path, sizeof(path), "/config/", argv[1], "");
        j = call(c, "PUT", path, body);
        free(body);
    } else {
        j = call(c, "GET", path, NULL);
    }
    if (!j)
        return FAILED;
    const char *lvl = json_string_value(json_object_get(j, "compatibilityLevel"));
    puts(lvl ? lvl : json_string_value(json_object_get(j, "compatibility")) ?: "?");
    json_decref(j);
    return OK;
}

static int cmd_delete(client *c, int argc, char **argv)
{
    int permanent = 0, n = 0;
    const char *args[2] = {0};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--permanent"))
            permanent = 1;
        else if (n < 2)
            args[n++] = argv[i];
        else
            return usage(stderr), USAGE;
    }
    if (!n)
        return usage(stderr), USAGE;
    char path[2048], rest[96];
    if (n == 2)
        snprintf(rest, sizeof(rest), "/versions/%s%s", args[1], permanent ? "?permanent=true" : "");
    else
        snprintf(rest, sizeof(rest), "%s", permanent ? "?permanent=true" : "");
    sl_restclient_path(path, sizeof(path), "/subjects/", args[0], rest);
    json_t *j = call(c, "DELETE", path, NULL);
    if (!j)
        return FAILED;
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    puts(s);
    free(s);
    json_decref(j);
    return OK;
}

static const struct {
    const char *name;
    int (*fn)(client *, int, char **);
} commands[] = {
    {"list", cmd_list},   {"get", cmd_get},       {"register", cmd_register},
    {"check", cmd_check}, {"config", cmd_config}, {"delete", cmd_delete},
};

int sl_registry_cli(int argc, char **argv)
{
    client c = {.url = getenv("SLUICE_REGISTRY")};
    static const struct option longopts[] = {
        {"registry", 1, NULL, 'r'}, {"user", 1, NULL, 'u'}, {"help", 0, NULL, 'h'}, {0}};
    int opt, rc = USAGE;
    if (!c.url || !*c.url)
        c.url = "http://localhost:8081";
    optind = 1;
    while ((opt = getopt_long(argc, argv, "+r:u:h", longopts, NULL)) != -1) {
        if (opt == 'r')
            c.url = optarg;
        else if (opt == 'u')
            c.userpwd = optarg;
        else if (opt == 'h')
            return usage(stdout), OK;
        else
            return usage(stderr), USAGE;
    }
    if (optind >= argc)
        return usage(stderr), USAGE;
    c.rest = sl_restclient_create(c.url, c.userpwd, "application/vnd.schemaregistry.v1+json");
    if (!c.rest) {
        fprintf(stderr, "sluice schemas: out of memory\n");
        return FAILED;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (!strcmp(argv[optind], commands[i].name))
            rc = commands[i].fn(&c, argc - optind, argv + optind);
    if (rc == USAGE)
        fprintf(stderr, "sluice schemas: unknown command or arguments\n");
    sl_restclient_destroy(c.rest);
    return rc;
}
