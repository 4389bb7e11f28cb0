/*
 * main.c - one executable, several roles: dispatch on the first argument.
 */
#include <stdio.h>
#include <string.h>

#include "broker.h"
#include "cli.h"
#include "registry.h"
#include "run.h"
#include "worker.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: sluice <command> [options]\n"
               "\n"
               "roles:\n"
               "  broker    the Kafka-protocol log broker (--config FILE, --set key=value)\n"
               "  registry  the Avro schema registry, Confluent REST API (--config, --set)\n"
               "  worker    the connector worker: pipelines.dir of pipeline files (--config, --set)\n"
               "  run       broker, registry and worker in one process, data under ./var\n"
               "\n"
               "tools (any Kafka-protocol broker, via librdkafka):\n"
               "  topics    create|list|describe|delete|alter topics\n"
               "  produce   write lines from stdin to a topic\n"
               "  consume   print messages of a topic\n"
               "  groups    list|describe|delete consumer groups, reset-offsets\n"
               "  schemas   list|get|register|check|config|delete in a schema registry (HTTP)\n"
               "  connectors list|status|create|apply|pause|resume|stop|restart|delete|offsets\n"
               "            connectors of a worker (Kafka Connect REST API)\n"
               "\n"
               "sluice <command> --help for a command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "broker"))
        return sl_broker_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "registry"))
        return sl_registry_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "worker"))
        return sl_worker_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "schemas"))
        return sl_registry_cli(argc - 1, argv + 1);
    if (!strcmp(cmd, "run"))
        return sl_run_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "topics"))
        return sl_cli_topics(argc - 1, argv + 1);
    if (!strcmp(cmd, "produce"))
        return sl_cli_produce(argc - 1, argv + 1);
    if (!strcmp(cmd, "consume"))
        return sl_cli_consume(argc - 1, argv + 1);
    if (!strcmp(cmd, "groups"))
        return sl_cli_groups(argc - 1, argv + 1);
    if (!strcmp(cmd, "connectors"))
        return sl_cli_connectors(argc - 1, argv + 1);
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "sluice: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 2;
}
