/*
 * pem_key.h - reading a listener's PEM private key (ssl.key.location),
 * decrypted with ssl.key.password: the HTTP listeners (http.c) and the
 * broker's SSL listeners (broker/server.c) take the same keys and say the
 * same things when they are wrong.
 *
 * Errors name the key that is wrong, with the role's prefix for it (the
 * broker's admin listener takes admin.ssl.key.location beside its Kafka
 * listeners' ssl.key.location), never the password; the password is given
 * to OpenSSL only through its callback, never by a prompt.
 */
#ifndef SL_PEM_KEY_H
#define SL_PEM_KEY_H

#include <openssl/evp.h>
#include <stddef.h>

/* The private key in the PEM file at path (password: NULL or "" for none),
 * or NULL with err saying which of <prefix>ssl.key.location /
 * <prefix>ssl.key.password is wrong and how (prefix: "" or NULL for none,
 * "admin."). OpenSSL's error queue is left empty. */
EVP_PKEY *sl_pem_key_read(const char *prefix, const char *path, const char *password, char *err,
                          size_t errlen);

#endif
