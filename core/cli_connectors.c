/*
 * cli_connectors.c - `sluice connectors`: the worker's command-line client,
 * over its Kafka Connect REST API (restclient.h, libcurl), so it works
 * against a sluice worker and any Kafka Connect worker.
 *
 *   sluice connectors [-w URL] [-u USER:PASSWORD] COMMAND ...
 *     list                            one line per connector: name type state tasks
 *     status NAME                     its status as JSON
 *     create FILE|-                   POST /connectors ({"name","config"[,"initial_state"]})
 *     apply FILE|-                    create or update: PUT /connectors/NAME/config
 *     pause|resume|stop NAME
 *     restart NAME [--tasks] [--failed]
 *     delete NAME
 *     offsets NAME [--set FILE|- | --reset]
 *
 * The worker URL defaults to $SLUICE_WORKER, else http://localhost:8083.
 * Exit codes as the other tools: 0 done, 1 failed (the worker's error code
 * and message are printed), 2 bad command line. Names are percent-encoded
 * into paths.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "restclient.h"

enum { OK = 0, FAILED = 1, USAGE = 2 };

static void usage(FILE *f)
{
    fprintf(f, "usage: sluice connectors [-w URL] [-u USER:PASSWORD] COMMAND ...\n"
               "\n"
               "commands:\n"
               "  list                               connectors: name, type, state, task states\n"
               "  status NAME                        a connector's status as JSON\n"
               "  create FILE|-                      create: {\"name\", \"config\"[, "
               "\"initial_state\"]}\n"
               "  apply FILE|-                       create or update (same file shape)\n"
               "  pause|resume|stop NAME             change the target state\n"
               "  restart NAME [--tasks] [--failed]  restart (with its tasks, only failed ones)\n"
               "  delete NAME                        delete the connector\n"
               "  offsets NAME [--set FILE|- | --reset]\n"
               "                                     show, alter or reset offsets (STOPPED only)\n"
               "\n"
               "  -w, --worker URL        default $SLUICE_WORKER, else http://localhost:8083\n"
               "  -u, --user USER:PASS    HTTP basic authentication\n");
}

/* One call; prints the error and returns -1 unless the status is < 300. */
static int call(sl_restclient *c, const char *method, const char *path, const char *body,
                json_t **answer)
{
    char err[4096];
    json_t *a = NULL;
    long st = sl_restclient_call(c, method, path, body, &a, err, sizeof(err));
    if (st < 0 || st >= 300) {
        fprintf(stderr, "sluice connectors: %s\n", err);
        json_decref(a);
        return -1;
    }
    if (answer)
        *answer = a;
    else
        json_decref(a);
    return 0;
}

static void print_json(const json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_ENCODE_ANY);
    if (s)
        puts(s);
    free(s);
}

static json_t *load_file(const char *file)
{
    json_error_t e;
    json_t *j = !strcmp(file, "-") ? json_loadf(stdin, 0, &e) : json_load_file(file, 0, &e);
    if (!j)
        fprintf(stderr, "sluice connectors: %s: %s (line %d)\n", file, e.text, e.line);
    return j;
}

/* ======================================================================== */
/* Commands                                                                  */
/* ======================================================================== */

static int cmd_list(sl_restclient *c)
{
    json_t *a;
    if (call(c, "GET", "/connectors?expand=status", NULL, &a) != 0)
        return FAILED;
    const char *name;
    json_t *v;
    printf("%-32s %-8s %-10s %s\n", "NAME", "TYPE", "STATE", "TASKS");
    json_object_foreach(a, name, v)
    {
        json_t *st = json_object_get(v, "status"), *t;
        char tasks[512] = "";
        size_t off = 0, i;
        json_array_foreach(json_object_get(st, "tasks"), i, t)
        {
            if (off < sizeof(tasks))
                off +=
                    (size_t)snprintf(tasks + off, sizeof(tasks) - off, "%s%lld:%s", off ? "," : "",
                                     (long long)json_integer_value(json_object_get(t, "id")),
                                     json_string_value(json_object_get(t, "state")));
        }
        printf("%-32s %-8s %-10s %s\n", name, json_string_value(json_object_get(st, "type")),
               json_string_value(json_object_get(json_object_get(st, "connector"), "state")),
               off ? tasks : "-");
    }
    json_decref(a);
    return OK;
}

static int cmd_get(sl_restclient *c, const char *name, const char *suffix)
{
    char path[2048];
    json_t *a;
    sl_restclient_path(path, sizeof(path), "/connectors/", name, suffix);
    if (call(c, "GET", path, NULL, &a) != 0)
        return FAILED;
    print_json(a);
    json_decref(a);
    return OK;
}

static int cmd_create(sl_restclient *c, const char *file, int apply)
{
    json_t *j = load_file(file);
    if (!j)
        return FAILED;
    const char *name = json_string_value(json_object_get(j, "name"));
    json_t *config = json_object_get(j, "config");
    int rc = FAILED;
    if (!name || !json_is_object(config)) {
        fprintf(stderr, "sluice connectors: %s: expected {\"name\": ..., \"config\": {...}}\n",
                file);
    } else {
        char path[2048];
        char *body = json_dumps(apply ? config : j, JSON_COMPACT);
        json_t *a = NULL;
        sl_restclient_path(path, sizeof(path), "/connectors/", name, "/config");
        if (body && call(c, apply ? "PUT" : "POST", apply ? path : "/connectors", body, &a) == 0) {
            printf("connector %s %s\n", name, apply ? "applied" : "created");
            rc = OK;
        }
        json_decref(a);
        free(body);
    }
    json_decref(j);
    return rc;
}

static int cmd_simple(sl_restclient *c, const char *method, const char *name, const char *suffix,
                      const char *done)
{
    char path[2048];
    sl_restclient_path(path, sizeof(path), "/connectors/", name, suffix);
    if (call(c, method, path, NULL, NULL) != 0)
        return FAILED;
    printf("connector %s %s\n", name, done);
    return OK;
}

static int cmd_restart(sl_restclient *c, const char *name, int tasks, int failed)
{
    char path[2048], q[64];
    json_t *a = NULL;
    snprintf(q, sizeof(q), "/restart?includeTasks=%s&onlyFailed=%s", tasks ? "true" : "false",
             failed ? "true" : "false");
    sl_restclient_path(path, sizeof(path), "/connectors/", name, q);
    if (call(c, "POST", path, NULL, &a) != 0)
        return FAILED;
    if (a)
        print_json(a);
    else
        printf("connector %s restarted\n", name);
    json_decref(a);
    return OK;
}

static int cmd_offsets(sl_restclient *c, const char *name, const char *set, int reset)
{
    char path[2048];
    sl_restclient_path(path, sizeof(path), "/connectors/", name, "/offsets");
    if (!set && !reset)
        return cmd_get(c, name, "/offsets");
    json_t *body = set ? load_file(set) : NULL, *a = NULL;
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    int rc = FAILED;
    if ((!set || text) && call(c, set ? "PATCH" : "DELETE", path, text, &a) == 0) {
        printf("%s\n", json_string_value(json_object_get(a, "message")));
        rc = OK;
    }
    free(text);
    json_decref(body);
    json_decref(a);
    return rc;
}

/* ======================================================================== */
/* Dispatch                                                                  */
/* ======================================================================== */

static int run(sl_restclient *c, int argc, char **argv, int tasks, int failed, const char *set,
               int reset)
{
    const char *cmd = argv[0], *arg = argc > 1 ? argv[1] : NULL;
    if (!strcmp(cmd, "list") && argc == 1)
        return cmd_list(c);
    if (!arg || argc != 2)
        return USAGE;
    if (!strcmp(cmd, "status"))
        return cmd_get(c, arg, "/status");
    if (!strcmp(cmd, "create") || !strcmp(cmd, "apply"))
        return cmd_create(c, arg, cmd[0] == 'a');
    if (!strcmp(cmd, "pause"))
        return cmd_simple(c, "PUT", arg, "/pause", "pausing");
    if (!strcmp(cmd, "resume"))
        return cmd_simple(c, "PUT", arg, "/resume", "resuming");
    if (!strcmp(cmd, "stop"))
        return cmd_simple(c, "PUT", arg, "/stop", "stopping");
    if (!strcmp(cmd, "delete"))
        return cmd_simple(c, "DELETE", arg, "", "deleted");
    if (!strcmp(cmd, "restart"))
        return cmd_restart(c, arg, tasks, failed);
    if (!strcmp(cmd, "offsets"))
        return cmd_offsets(c, arg, set, reset);
    return USAGE;
}

int sl_cli_connectors(int argc, char **argv)
{
    static const struct option opts[] = {
        {"worker", required_argument, NULL, 'w'}, {"user", required_argument, NULL, 'u'},
        {"tasks", no_argument, NULL, 't'},        {"failed", no_argument, NULL, 'f'},
        {"set", required_argument, NULL, 's'},    {"reset", no_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    const char *url = getenv("SLUICE_WORKER"), *user = NULL, *set = NULL;
    int tasks = 0, failed = 0, reset = 0, ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "w:u:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'w':
            url = optarg;
            break;
        case 'u':
            user = optarg;
            break;
        case 't':
            tasks = 1;
            break;
        case 'f':
            failed = 1;
            break;
        case 's':
            set = optarg;
            break;
        case 'r':
            reset = 1;
            break;
        case 'h':
            usage(stdout);
            return OK;
        default:
            usage(stderr);
            return USAGE;
        }
    }
    if (optind >= argc || (set && reset)) {
        usage(stderr);
        return USAGE;
    }
    sl_restclient *c =
        sl_restclient_create(url && *url ? url : "http://localhost:8083", user, "application/json");
    if (!c) {
        fprintf(stderr, "sluice connectors: out of memory\n");
        return FAILED;
    }
    int rc = run(c, argc - optind, argv + optind, tasks, failed, set, reset);
    sl_restclient_destroy(c);
    if (rc == USAGE)
        usage(stderr);
    return rc;
}
