/*
 * props.c - Java properties files (props.h), read as java.util.Properties
 * .load(Reader) reads them, which is how Kafka Connect's FileConfigProvider
 * reads ${file:} secrets: a password written "pa\=ss\\word" there is
 * "pa=ss\word" to Kafka Connect, and must be to sluice.
 *
 * The file is read whole (properties files are small; PROPS_MAX caps it),
 * then taken one logical line at a time: a natural line ending in an odd
 * number of backslashes goes on with the next one, whose leading blanks are
 * dropped. Comments and blank lines are natural lines only.
 *
 * Runs on: the caller's thread.
 */
#include "props.h"

#include "json_plan.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROPS_MAX (16u << 20)

static int blank(char c)
{
    return c == ' ' || c == '\t' || c == '\f';
}

static int eol(char c)
{
    return c == '\n' || c == '\r';
}

/* Past the line end at p (\n, \r or \r\n), counting it in *lineno. */
static const char *next_line(const char *p, const char *end, int *lineno)
{
    if (*p++ == '\r' && p < end && *p == '\n')
        p++;
    (*lineno)++;
    return p;
}

char *sl_file_read(const char *path, size_t max, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0, cap = 0;
    int why = 0;
    if (!f)
        return NULL;
    for (;;) {
        if (cap - n < 4096) { /* room for a read and the NUL */
            size_t c = cap ? cap * 2 : 8192;
            char *b = cap > max ? NULL : realloc(buf, c);
            if (!b) {
                why = cap > max ? EFBIG : ENOMEM;
                break;
            }
            buf = b;
            cap = c;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) {
            why = ferror(f) ? (errno ? errno : EIO) : n > max ? EFBIG : 0;
            break;
        }
    }
    fclose(f);
    if (why) {
        free(buf);
        errno = why;
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

/* Java's loadConvert: s..end (a key or a value of the logical line) with
 * its escapes decoded into out (room for end - s + 1: no escape grows),
 * NUL-terminated. \t \n \r \f and \uXXXX (a surrogate pair as one
 * character) are what they say, a backslash before anything else drops.
 * 0, or -1 with *why (a malformed \u, an unpaired surrogate, \u0000). */
static int unescape(const char *s, const char *end, char *out, const char **why)
{
    char *o = out;
    while (s < end) {
        char c = *s++;
        if (c != '\\' || s == end) { /* a backslash ending the file drops */
            if (c != '\\')
                *o++ = c;
            continue;
        }
        c = *s++;
        if (c != 'u') {
            *o++ = c == 't' ? '\t' : c == 'n' ? '\n' : c == 'r' ? '\r' : c == 'f' ? '\f' : c;
            continue;
        }
        int used = sl_unicode_escape(s, end, &o);
        if (used < 0)
            return *why = used == SL_UESC_MALFORMED ? "malformed \\uxxxx encoding"
                          : used == SL_UESC_NUL     ? "\\u0000 (a NUL cannot be in a config value)"
                                                    : "an unpaired \\u surrogate",
                   -1;
        s += used;
    }
    *o = 0;
    return 0;
}

/* The logical line starting at p (past its leading blanks) into line
 * (room for end - p + 1), continuations joined. Returns its length and
 * sets *next past it. */
static size_t logical_line(const char *p, const char *end, char *line, const char **next,
                           int *lineno)
{
    size_t n = 0;
    for (;;) {
        size_t slashes = 0;
        while (p < end && !eol(*p)) {
            slashes = *p == '\\' ? slashes + 1 : 0;
            line[n++] = *p++;
        }
        if (slashes % 2 == 0 || p == end) {
            *next = p < end ? next_line(p, end, lineno) : p;
            return n;
        }
        n--; /* the continuing backslash */
        p = next_line(p, end, lineno);
        while (p < end && blank(*p))
            p++;
    }
}

json_t *sl_props_load(const char *path, char *err, size_t errlen)
{
    size_t len = 0;
    char *text = sl_file_read(path, PROPS_MAX, &len);
    if (!text && errno == EFBIG)
        snprintf(err, errlen, "%s: larger than %u MiB", path, PROPS_MAX >> 20);
    else if (!text)
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
    char *line = text ? malloc(len + 1) : NULL, *key = text ? malloc(len + 2) : NULL;
    json_t *props = json_object();
    const char *p = text, *end = text + len, *why = NULL;
    int lineno = 1, bad = 0;
    if (text && (!line || !key || !props)) {
        snprintf(err, errlen, "%s: out of memory", path);
        bad = 1;
    }
    const char *nul = text ? memchr(text, '\0', len) : NULL;
    if (nul && !bad) { /* a C string would end there: the rest of the value lost */
        for (const char *q = text; q < nul; q++)
            lineno += *q == '\n' || (*q == '\r' && (q + 1 == nul || q[1] != '\n'));
        snprintf(err, errlen, "%s line %d: a NUL byte", path, lineno);
        bad = 1;
    }
    while (text && !bad && p < end) {
        int start = lineno;
        while (p < end && blank(*p))
            p++;
        if (p == end)
            break;
        if (eol(*p) || *p == '#' || *p == '!') { /* blank or a comment */
            while (p < end && !eol(*p))
                p++;
            p = p < end ? next_line(p, end, &lineno) : p;
            continue;
        }
        size_t n = logical_line(p, end, line, &p, &lineno);
        /* Java's load0: the key ends at the first '=', ':' or blank no
         * backslash escapes; blanks, then one '=' or ':', then blanks
         * part it from the value */
        size_t kl = 0, vs = n;
        int escaped = 0, sep = 0;
        for (; kl < n; kl++) {
            char c = line[kl];
            if (!escaped && (c == '=' || c == ':' || blank(c))) {
                sep = !blank(c);
                vs = kl + 1;
                break;
            }
            escaped = c == '\\' && !escaped;
        }
        while (vs < n && (blank(line[vs]) || (!sep && (line[vs] == '=' || line[vs] == ':')))) {
            sep = sep || !blank(line[vs]);
            vs++;
        }
        char *value = key + kl + 1; /* key's room holds both, decoded: no escape grows */
        if (unescape(line, line + kl, key, &why) != 0 ||
            unescape(line + vs, line + n, value, &why) != 0) {
            snprintf(err, errlen, "%s line %d: %s", path, start, why);
            bad = 1;
        } else if (json_object_set_new(props, key, json_string(value)) != 0) {
            /* jansson holds UTF-8 only: say so rather than lose the key */
            snprintf(err, errlen, "%s line %d: not UTF-8", path, start);
            bad = 1;
        }
    }
    free(text);
    free(line);
    free(key);
    if (!text || bad) {
        json_decref(props);
        return NULL;
    }
    return props;
}
