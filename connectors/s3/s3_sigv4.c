/*
 * s3_sigv4.c - AWS Signature Version 4 (the steps are in s3_sigv4.h).
 *
 * Our own small signer rather than CURLOPT_AWS_SIGV4: it is checked by a
 * unit test against AWS's published examples (s3rver does not verify
 * signatures, so nothing else would), and it signs the payload hash we
 * compute anyway (x-amz-content-sha256) the same way for every call,
 * including the multipart ones with query strings. SHA-256 and HMAC come
 * from OpenSSL's libcrypto (already linked by libcurl).
 *
 * Thread-safe: no state.
 */
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3_sigv4.h"

static void hex_encode(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

void s3_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256(data, len, md);
    hex_encode(md, sizeof(md), out);
}

static void hmac(const void *key, size_t keylen, const char *msg, unsigned char out[32])
{
    unsigned int outlen = 32;
    HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg, strlen(msg), out, &outlen);
}

static int header_cmp(const void *a, const void *b)
{
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    size_t nx = strcspn(x, ":"), ny = strcspn(y, ":");
    int c = strncmp(x, y, nx < ny ? nx : ny);
    return c ? c : (int)nx - (int)ny;
}

/* Appends to buf at *off; returns -1 when it does not fit. */
static int put(char *buf, size_t cap, size_t *off, const char *s, size_t n)
{
    if (*off + n + 1 > cap)
        return -1;
    memcpy(buf + *off, s, n);
    *off += n;
    buf[*off] = '\0';
    return 0;
}
#define PUTS(s) put(buf, cap, &off, (s), strlen(s))

/* Canonical headers block and the signed-header list, from sorted headers. */
static int canonical_headers(const char *const *sorted, size_t n, char *buf, size_t cap,
                             char *names, size_t names_cap)
{
    size_t off = 0, noff = 0;
    buf[0] = names[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        size_t nlen = strcspn(sorted[i], ":");
        if (PUTS(sorted[i]) || PUTS("\n") || (i && put(names, names_cap, &noff, ";", 1)) ||
            put(names, names_cap, &noff, sorted[i], nlen))
            return -1;
    }
    return 0;
}

int s3_sigv4_sign(const s3_sigv4_in *in, s3_sigv4_out *out) __attribute__((visibility("default")));
int s3_sigv4_sign(const s3_sigv4_in *in, s3_sigv4_out *out)
{
    const char *sorted[S3_SIGV4_MAX_HEADERS];
    char hdrs[4096], names[512], date[9], scope[160], kbuf[300];
    unsigned char k[32];
    if (!in->method || !in->canonical_uri || !in->amz_date || strlen(in->amz_date) != 16 ||
        !in->region || !in->service || !in->access_key || !in->secret_key || !in->payload_hash ||
        in->n_headers > S3_SIGV4_MAX_HEADERS)
        return -1;
    memcpy(sorted, in->headers, in->n_headers * sizeof(*sorted));
    qsort(sorted, in->n_headers, sizeof(*sorted), header_cmp);
    if (canonical_headers(sorted, in->n_headers, hdrs, sizeof(hdrs), names, sizeof(names)))
        return -1;
    char *creq = NULL;
    size_t creq_len = 0;
    FILE *f = open_memstream(&creq, &creq_len);
    if (!f)
        return -1;
    fprintf(f, "%s\n%s\n%s\n%s\n%s\n%s", in->method, in->canonical_uri,
            in->canonical_query ? in->canonical_query : "", hdrs, names, in->payload_hash);
    fclose(f);
    s3_sha256_hex(creq, creq_len, out->canonical_request_hash);
    free(creq);

    memcpy(date, in->amz_date, 8);
    date[8] = '\0';
    int n = snprintf(scope, sizeof(scope), "%s/%s/%s/aws4_request", date, in->region, in->service);
    if (n < 0 || (size_t)n >= sizeof(scope))
        return -1;
    n = snprintf(out->string_to_sign, sizeof(out->string_to_sign), "AWS4-HMAC-SHA256\n%s\n%s\n%s",
                 in->amz_date, scope, out->canonical_request_hash);
    if (n < 0 || (size_t)n >= sizeof(out->string_to_sign))
        return -1;

    n = snprintf(kbuf, sizeof(kbuf), "AWS4%s", in->secret_key);
    if (n < 0 || (size_t)n >= sizeof(kbuf))
        return -1;
    unsigned char k1[32];
    hmac(kbuf, (size_t)n, date, k1);
    hmac(k1, 32, in->region, k);
    hmac(k, 32, in->service, k1);
    hmac(k1, 32, "aws4_request", k);
    hex_encode(k, 32, out->signing_key);
    unsigned char sig[32];
    hmac(k, 32, out->string_to_sign, sig);
    hex_encode(sig, 32, out->signature);
    n = snprintf(out->authorization, sizeof(out->authorization),
                 "AWS4-HMAC-SHA256 Credential=%s/%s,SignedHeaders=%s,Signature=%s", in->access_key,
                 scope, names, out->signature);
    return n < 0 || (size_t)n >= sizeof(out->authorization) ? -1 : 0;
}
