/*
 * pem_key.c - a PEM private key, decrypted with its configured password
 * (pem_key.h).
 *
 * Runs on: the caller's thread, at start-up.
 */
#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <string.h>

#include "pem_key.h"

typedef struct key_pw {
    const char *password;
    int asked; /* the key is encrypted */
} key_pw;

/* OpenSSL's pem_password_cb: the configured password, never a prompt. */
static int give_password(char *buf, int size, int rwflag, void *arg)
{
    key_pw *kp = arg;
    (void)rwflag;
    kp->asked = 1;
    if (!kp->password)
        return -1;
    int n = (int)strlen(kp->password);
    if (n > size)
        return -1;
    memcpy(buf, kp->password, (size_t)n);
    return n;
}

EVP_PKEY *sl_pem_key_read(const char *prefix, const char *path, const char *password, char *err,
                          size_t errlen)
{
    const char *pfx = prefix ? prefix : "";
    key_pw kp = {password && *password ? password : NULL, 0};
    BIO *in = BIO_new_file(path, "r");
    EVP_PKEY *pkey = NULL;
    if (!in) {
        snprintf(err, errlen, "%sssl.key.location '%s': cannot read: %s", pfx, path,
                 strerror(errno ? errno : ENOENT));
        ERR_clear_error();
        return NULL;
    }
    pkey = PEM_read_bio_PrivateKey(in, NULL, give_password, &kp);
    BIO_free(in);
    if (!pkey && kp.asked && !kp.password)
        snprintf(err, errlen,
                 "%sssl.key.location '%s': the key is encrypted: set %sssl.key.password", pfx, path,
                 pfx);
    else if (!pkey && kp.asked)
        snprintf(err, errlen,
                 "%sssl.key.password: cannot decrypt %sssl.key.location '%s' with it (wrong "
                 "password?)",
                 pfx, pfx, path);
    else if (!pkey)
        snprintf(err, errlen, "%sssl.key.location '%s': no PEM private key in it", pfx, path);
    ERR_clear_error();
    return pkey;
}
