/*
 * users.c - see users.h. The digests are OpenSSL's SHA-256 and the
 * comparison its CRYPTO_memcmp; buffers that held a password are wiped with
 * OPENSSL_cleanse.
 */
#include "users.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef unsigned char digest[SHA256_DIGEST_LENGTH];

struct sl_users {
    digest *d;
    size_t n;
};

sl_users *sl_users_create(void)
{
    return calloc(1, sizeof(sl_users));
}

void sl_users_destroy(sl_users *u)
{
    if (!u)
        return;
    free(u->d);
    free(u);
}

size_t sl_users_count(const sl_users *u)
{
    return u ? u->n : 0;
}

static int add_pair(sl_users *u, const char *pair, size_t len)
{
    digest *nd = realloc(u->d, (u->n + 1) * sizeof(*nd));
    if (!nd)
        return -1;
    u->d = nd;
    SHA256((const unsigned char *)pair, len, u->d[u->n++]);
    return 0;
}

int sl_users_add_list(sl_users *u, const char *key, const char *list, char *err, size_t errlen)
{
    size_t entry = 0;
    for (const char *p = list; p && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *colon = memchr(p, ':', len);
        entry++;
        if (len && (!colon || colon == p)) {
            snprintf(err, errlen, "%s: entry %zu is not 'user:password'", key, entry);
            return -1;
        }
        if (len && add_pair(u, p, len)) {
            snprintf(err, errlen, "%s: out of memory", key);
            return -1;
        }
        p = end ? end + 1 : NULL;
    }
    return 0;
}

int sl_users_add_file(sl_users *u, const char *key, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int lineno = 0, rc = 0;
    if (!f) {
        snprintf(err, errlen, "%s '%s': cannot read: %s", key, path, strerror(errno));
        return -1;
    }
    while (rc == 0 && (n = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = 0;
        if (n == 0 || line[0] == '#')
            continue;
        const char *colon = strchr(line, ':');
        if (!colon || colon == line) {
            snprintf(err, errlen, "%s '%s' line %d: expected user:password", key, path, lineno);
            rc = -1;
        } else if (add_pair(u, line, (size_t)n)) {
            snprintf(err, errlen, "%s: out of memory", key);
            rc = -1;
        }
        OPENSSL_cleanse(line, cap);
    }
    free(line);
    fclose(f);
    return rc;
}

int sl_users_check_pair(const sl_users *u, const char *pair, size_t len)
{
    digest d;
    int ok = 0;
    SHA256((const unsigned char *)pair, len, d);
    for (size_t i = 0; u && i < u->n; i++)
        ok |= CRYPTO_memcmp(d, u->d[i], sizeof(d)) == 0;
    return ok;
}

int sl_users_check(const sl_users *u, const char *user, size_t ulen, const char *password,
                   size_t plen)
{
    char pair[1024];
    if (ulen + 1 + plen > sizeof(pair) || memchr(user, ':', ulen))
        return 0;
    memcpy(pair, user, ulen);
    pair[ulen] = ':';
    memcpy(pair + ulen + 1, password, plen);
    int ok = sl_users_check_pair(u, pair, ulen + 1 + plen);
    OPENSSL_cleanse(pair, sizeof(pair));
    return ok;
}
