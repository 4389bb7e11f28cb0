/*
 * logging.h - one line per event on stderr:
 *
 *   2026-11-22T10:00:00.123Z INFO  [broker] partition orders-3: rolled segment ...
 *
 * The component in brackets names who speaks (broker, net, log, a connector
 * and task such as "pg-shop.source/0"). Thread-safe: each line is formatted
 * into a stack buffer and written with one write(2).
 */
#ifndef SL_LOGGING_H
#define SL_LOGGING_H

enum sl_level { SL_DEBUG = 0, SL_INFO, SL_WARN, SL_ERROR };

void sl_logging_set_level(enum sl_level lvl);
int sl_logging_enabled(enum sl_level lvl);
void sl_logmsg(enum sl_level lvl, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define sl_debug(comp, ...) \
    do { if (sl_logging_enabled(SL_DEBUG)) sl_logmsg(SL_DEBUG, comp, __VA_ARGS__); } while (0)
#define sl_info(comp, ...) sl_logmsg(SL_INFO, comp, __VA_ARGS__)
#define sl_warn(comp, ...) sl_logmsg(SL_WARN, comp, __VA_ARGS__)
#define sl_error(comp, ...) sl_logmsg(SL_ERROR, comp, __VA_ARGS__)

#endif
