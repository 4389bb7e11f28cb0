/*
 * broker.h - the broker role's entry point (sluice broker).
 */
#ifndef SL_BROKER_H
#define SL_BROKER_H

/* argv[0] == "broker". Parses --config FILE and --set key=value, runs until
 * SIGINT/SIGTERM. Returns a process exit code. */
int sl_broker_main(int argc, char **argv);

#endif
