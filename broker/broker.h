/*
 * broker.h - the broker role's entry point (sluice broker).
 */
#ifndef SL_BROKER_H
#define SL_BROKER_H

/* argv[0] == "broker". Parses --config FILE and --set key=value, runs until
 * SIGINT/SIGTERM. Returns a process exit code. */
int sl_broker_main(int argc, char **argv);

/* Embedding the broker (sluice run): other roles live beside it and need it
 * serving until they have stopped. `started` runs on the loop thread once
 * the listeners are open (start the other roles on a thread of their own:
 * they talk to this broker). On SIGINT/SIGTERM the broker calls `stopping`
 * (loop thread; must not block) instead of stopping, and keeps serving
 * until sl_broker_shutdown() is called from any thread. */
typedef struct sl_broker_embed {
    void (*started)(void *arg);
    void (*stopping)(void *arg);
    void *arg;
} sl_broker_embed;

/* sl_broker_main with an embedding; embed NULL = sl_broker_main. */
int sl_broker_run(int argc, char **argv, const sl_broker_embed *embed);
/* Stop the running broker (thread-safe; a no-op when none runs). */
void sl_broker_shutdown(void);

#endif
