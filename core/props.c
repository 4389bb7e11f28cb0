/*
 * props.c - Java properties files (props.h).
 *
 * Runs on: the caller's thread.
 */
#include "props.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* One logical line into key and value (both NUL-terminated in line, which
 * is modified). 1 a property, 0 blank or a comment, -1 no key. */
static int prop_split(char *line, char **key, char **value)
{
    char *p = line + strspn(line, " \t\f");
    if (!*p || *p == '#' || *p == '!')
        return 0;
    size_t kl = strcspn(p, "=: \t\f");
    if (kl == 0)
        return -1;
    char *v = p + kl;
    v += strspn(v, " \t\f");
    if (*v == '=' || *v == ':')
        v++;
    v += strspn(v, " \t\f");
    p[kl] = 0;
    *key = p;
    *value = v;
    return 1;
}

json_t *sl_props_load(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    json_t *props = json_object();
    char line[8192];
    size_t have = 0;
    int lineno = 0, start = 0, bad = 0;
    if (!f) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        json_decref(props);
        return NULL;
    }
    while (fgets(line + have, (int)(sizeof(line) - have), f)) {
        lineno++;
        start = start ? start : lineno;
        size_t n = strlen(line);
        if ((!n || line[n - 1] != '\n') && !feof(f)) { /* never parse the rest as a key */
            snprintf(err, errlen, "%s line %d: longer than %zu bytes", path, start,
                     sizeof(line) - 2);
            bad = 1;
            break;
        }
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = 0;
        if (n && line[n - 1] == '\\' && n + 1 < sizeof(line)) { /* continued */
            have = n - 1;
            continue;
        }
        char *key, *value;
        int rc = prop_split(line, &key, &value);
        if (rc < 0) {
            snprintf(err, errlen, "%s line %d: expected key=value", path, start);
            bad = 1;
            break;
        }
        if (rc > 0 && json_object_set_new(props, key, json_string(value)) != 0) {
            /* jansson holds UTF-8 only: say so rather than lose the key */
            snprintf(err, errlen, "%s line %d: not UTF-8", path, start);
            bad = 1;
            break;
        }
        have = 0;
        start = 0;
    }
    fclose(f);
    if (bad) {
        json_decref(props);
        return NULL;
    }
    return props;
}
