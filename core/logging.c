/*
 * logging.c - see logging.h. Level from SLUICE_LOG_LEVEL (debug|info|warn|error).
 */
#include "logging.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int min_level = -1;
static const char *level_names[] = {"DEBUG", "INFO ", "WARN ", "ERROR"};

void sl_logging_set_level(enum sl_level lvl)
{
    min_level = (int)lvl;
}

static void init_level(void)
{
    const char *e = getenv("SLUICE_LOG_LEVEL");
    min_level = SL_INFO;
    if (!e)
        return;
    if (!strcasecmp(e, "debug"))
        min_level = SL_DEBUG;
    else if (!strcasecmp(e, "warn"))
        min_level = SL_WARN;
    else if (!strcasecmp(e, "error"))
        min_level = SL_ERROR;
}

int sl_logging_enabled(enum sl_level lvl)
{
    if (min_level < 0)
        init_level();
    return (int)lvl >= min_level;
}

void sl_logmsg(enum sl_level lvl, const char *component, const char *fmt, ...)
{
    char line[2048];
    struct timeval tv;
    struct tm tm;
    size_t n;
    va_list ap;
    int w;

    if (!sl_logging_enabled(lvl))
        return;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
    w = snprintf(line + n, sizeof(line) - n, ".%03dZ %s [%s] ", (int)(tv.tv_usec / 1000),
                 level_names[lvl], component ? component : "-");
    if (w > 0)
        n += (size_t)w;
    va_start(ap, fmt);
    w = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
    va_end(ap);
    if (w > 0)
        n += (size_t)w < sizeof(line) - n - 1 ? (size_t)w : sizeof(line) - n - 2;
    /* one event, one line: newlines inside a message become spaces */
    for (size_t i = 0; i < n; i++)
        if (line[i] == '\n')
            line[i] = ' ';
    line[n++] = '\n';
    if (write(STDERR_FILENO, line, n) < 0) {
        /* nowhere left to report it */
    }
}
