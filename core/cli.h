/*
 * cli.h - the command-line tools (sluice topics / produce / consume). They
 * speak to any Kafka-protocol broker through librdkafka, never to broker
 * internals. Each returns a process exit code.
 */
#ifndef SL_CLI_H
#define SL_CLI_H

int sl_cli_topics(int argc, char **argv);  /* argv[0] == "topics" */
int sl_cli_produce(int argc, char **argv); /* argv[0] == "produce" */
int sl_cli_consume(int argc, char **argv); /* argv[0] == "consume" */
int sl_cli_groups(int argc, char **argv);  /* argv[0] == "groups" */
/* argv[0] == "connectors": the worker's REST API (cli_connectors.c) */
int sl_cli_connectors(int argc, char **argv);

#endif
