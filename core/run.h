/*
 * run.h - `sluice run`: broker, registry and worker in one process (run.c).
 */
#ifndef SL_RUN_H
#define SL_RUN_H

/* argv[0] == "run". Returns the process exit code. */
int sl_run_main(int argc, char **argv);

#endif
