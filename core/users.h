/*
 * users.h - the accepted "user:password" credentials of a server (the HTTP
 * listeners' basic authentication, the broker's SASL/PLAIN), from a
 * comma-separated list and from a file of one "user:password" a line.
 *
 * Only SHA-256 digests of "user:password" are kept. A check hashes the
 * presented pair and compares it with every digest with CRYPTO_memcmp,
 * never stopping early: the time taken says nothing about which pair, or
 * how much of it, matched, nor how long the passwords are.
 *
 * Errors name the config key and the file and line, never a password.
 * Threads: loaded once at start; sl_users_check is read-only, callable from
 * any thread.
 */
#ifndef SL_USERS_H
#define SL_USERS_H

#include <stddef.h>

typedef struct sl_users sl_users;

/* An empty set. NULL when out of memory. */
sl_users *sl_users_create(void);
void sl_users_destroy(sl_users *u);

/* Adds "user:password,user2:password2" (key names the option, for errors). */
int sl_users_add_list(sl_users *u, const char *key, const char *list, char *err, size_t errlen);
/* Adds the lines of path: "user:password" (the first ':' splits, so a
 * password may hold ':'); blank lines and lines starting with '#' are
 * skipped. -1 with err "<key> '<path>' line N: ..." for a bad line. */
int sl_users_add_file(sl_users *u, const char *key, const char *path, char *err, size_t errlen);

size_t sl_users_count(const sl_users *u);

/* 1 when "<user>:<password>" is one of the accepted pairs. */
int sl_users_check(const sl_users *u, const char *user, size_t ulen, const char *password,
                   size_t plen);
/* The same for a pair already joined as "user:password" (HTTP basic). */
int sl_users_check_pair(const sl_users *u, const char *pair, size_t len);

#endif
