/*
 * s3_sigv4.h - AWS Signature Version 4 for S3 requests (header signing).
 *
 * The steps, as AWS documents them:
 *   canonical request = METHOD \n canonical URI \n canonical query \n
 *                       canonical headers (name:value\n each, sorted) \n
 *                       signed header names (a;b;c) \n payload hash
 *   string to sign    = "AWS4-HMAC-SHA256" \n amz date \n
 *                       YYYYMMDD/region/service/aws4_request \n
 *                       hex(SHA256(canonical request))
 *   signing key       = HMAC(HMAC(HMAC(HMAC("AWS4" secret, YYYYMMDD),
 *                       region), service), "aws4_request")
 *   signature         = hex(HMAC(signing key, string to sign))
 *
 * The caller gives the canonical URI and query already encoded (S3 encodes
 * the key once, keeping '/') and the headers to sign as lowercase
 * "name:value" strings, values trimmed; the function sorts them.
 *
 * s3_sigv4_sign is exported from s3.so (default visibility) so the unit
 * test (tests/unit/test_sigv4.c) can check it against AWS's published
 * example signatures. Thread-safe: no state.
 */
#ifndef S3_SIGV4_H
#define S3_SIGV4_H

#include <stddef.h>

#define S3_SIGV4_MAX_HEADERS 16

typedef struct s3_sigv4_in {
    const char *method;          /* "PUT" */
    const char *canonical_uri;   /* "/bucket/topics/a%2B0.avro" */
    const char *canonical_query; /* "partNumber=1&uploadId=x" sorted and encoded, or "" */
    const char *const *headers;  /* "host:example.com", lowercase names */
    size_t n_headers;            /* <= S3_SIGV4_MAX_HEADERS */
    const char *payload_hash;    /* hex SHA-256 of the body, or "UNSIGNED-PAYLOAD" */
    const char *amz_date;        /* "20130524T000000Z" */
    const char *region, *service, *access_key, *secret_key;
} s3_sigv4_in;

typedef struct s3_sigv4_out {
    char canonical_request_hash[65];
    char string_to_sign[256];
    char signing_key[65]; /* hex */
    char signature[65];
    char authorization[768]; /* the Authorization header's value */
} s3_sigv4_out;

/* Fills out. Returns 0, or -1 when an input is missing or too long. */
int s3_sigv4_sign(const s3_sigv4_in *in, s3_sigv4_out *out);
typedef int (*s3_sigv4_sign_fn)(const s3_sigv4_in *in, s3_sigv4_out *out);

/* hex(SHA-256(data)) into out[65]. */
void s3_sha256_hex(const void *data, size_t len, char out[65]);

#endif
