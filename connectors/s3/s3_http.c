/*
 * s3_http.c - the S3 REST calls the sink needs, over one libcurl easy
 * handle (kept between requests, so the connection is reused):
 *
 *   HEAD   /bucket                                   does the bucket exist
 *   PUT    /bucket/key                               a whole object
 *   POST   /bucket/key?uploads                       CreateMultipartUpload -> <UploadId>
 *   PUT    /bucket/key?partNumber=N&uploadId=U       UploadPart -> ETag header
 *   POST   /bucket/key?uploadId=U                    CompleteMultipartUpload (XML part list)
 *   DELETE /bucket/key?uploadId=U                    AbortMultipartUpload
 *
 * Path-style addressing (endpoint/bucket/key) by default; virtual-host
 * (bucket.host/key) when s3.path.style.access is false. Keys are
 * URI-encoded once (RFC 3986 unreserved kept, '/' kept), in the URL and in
 * the signature alike.
 *
 * Every request is signed with our SigV4 signer (s3_sigv4.c) over the
 * headers host, x-amz-content-sha256 (the body's SHA-256) and x-amz-date
 * (and x-amz-security-token with a session token). No credentials: sent
 * unsigned.
 *
 * Failures: a network error, a 5xx, 429, and the throttling codes
 * (SlowDown, Throttling, RequestTimeout, ...) are retried up to
 * s3.part.retries times, sleeping s3.retry.backoff.ms doubled each time
 * (capped at 20 s) with "equal jitter" (half fixed, half random), then
 * reported as transient (1). Any other 4xx is fatal (-1) and the message
 * names the call, the object and S3's <Code> and <Message>. A
 * CompleteMultipartUpload may answer 200 with an <Error> body: that is
 * classified the same way.
 *
 * Runs on: the task's thread.
 */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "s3.h"
#include "s3_sigv4.h"

struct s3_http {
    const s3_conf *conf;
    CURL *curl;
    char *scheme_host;        /* "http://127.0.0.1:9000" or "https://bucket.s3.x.amazonaws.com" */
    char *host;               /* the Host header value */
    char *prefix;             /* canonical path before the key: "/bucket" or "" */
    unsigned seed;            /* jitter */
    int once;                 /* send once, no retries (aborts at close) */
    const atomic_int *cancel; /* set: give up at once */
};

typedef struct s3_req {
    const char *method; /* GET PUT POST DELETE HEAD */
    const char *key;    /* NULL: the bucket itself */
    const char *query;  /* canonical query ("uploads=", "partNumber=1&uploadId=x") or NULL */
    const void *body;
    size_t len;
} s3_req;

typedef struct s3_resp {
    long status;
    s3_buf body;
    char etag[128];
} s3_resp;

/* ======================================================================== */
/* Encoding and XML helpers                                                  */
/* ======================================================================== */

/* RFC 3986 percent-encoding as SigV4 wants it; '/' kept when keep_slash. */
static char *uri_encode(const char *s, int keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    char *out = malloc(strlen(s) * 3 + 1), *o = out;
    if (!out)
        return NULL;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~' || (keep_slash && *p == '/')) {
            *o++ = (char)*p;
        } else {
            *o++ = '%';
            *o++ = hex[*p >> 4];
            *o++ = hex[*p & 15];
        }
    }
    *o = '\0';
    return out;
}

/* The text of the first <tag>...</tag> in xml (not NUL-terminated) into
 * out; "" when absent. */
static void xml_text(const s3_buf *xml, const char *tag, char *out, size_t outlen)
{
    char open[64], close[64];
    out[0] = '\0';
    if (!xml->p || !xml->len)
        return;
    snprintf(open, sizeof(open), "<%s>", tag);
    snprintf(close, sizeof(close), "</%s>", tag);
    const char *s = memmem(xml->p, xml->len, open, strlen(open));
    if (!s)
        return;
    s += strlen(open);
    const char *e = memmem(s, xml->len - (size_t)(s - (const char *)xml->p), close, strlen(close));
    if (!e)
        return;
    size_t n = (size_t)(e - s) < outlen - 1 ? (size_t)(e - s) : outlen - 1;
    memcpy(out, s, n);
    out[n] = '\0';
}

static int is_throttling(const char *code)
{
    static const char *const codes[] = {"SlowDown",
                                        "Throttling",
                                        "ThrottlingException",
                                        "RequestTimeout",
                                        "RequestLimitExceeded",
                                        "TooManyRequests",
                                        "RequestThrottled",
                                        "InternalError",
                                        "ServiceUnavailable",
                                        NULL};
    for (const char *const *c = codes; *c; c++)
        if (strcmp(code, *c) == 0)
            return 1;
    return 0;
}

/* ======================================================================== */
/* Create / destroy                                                          */
/* ======================================================================== */

static void global_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

s3_http *s3_http_create(const s3_conf *conf, char *err, size_t errlen)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, global_init);
    s3_http *h = calloc(1, sizeof(*h));
    if (!h || !(h->curl = curl_easy_init()))
        goto oom;
    h->conf = conf;
    h->seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    const char *ep = conf->endpoint, *sep = strstr(ep, "://");
    const char *hostpart = sep ? sep + 3 : ep;
    int path_style = conf->path_style && conf->path_style_enabled;
    size_t slen = (size_t)(hostpart - ep);
    size_t need = strlen(ep) + strlen(conf->bucket) + 8;
    h->scheme_host = malloc(need);
    h->host = malloc(need);
    h->prefix = malloc(strlen(conf->bucket) + 2);
    if (!h->scheme_host || !h->host || !h->prefix)
        goto oom;
    if (path_style) {
        snprintf(h->host, need, "%s", hostpart);
        snprintf(h->scheme_host, need, "%s", ep);
        snprintf(h->prefix, strlen(conf->bucket) + 2, "/%s", conf->bucket);
    } else {
        snprintf(h->host, need, "%s.%s", conf->bucket, hostpart);
        snprintf(h->scheme_host, need, "%.*s%s", (int)slen, ep, h->host);
        h->prefix[0] = '\0';
    }
    return h;
oom:
    snprintf(err, errlen, "out of memory");
    s3_http_destroy(h);
    return NULL;
}

void s3_http_set_cancel(s3_http *h, const atomic_int *flag)
{
    h->cancel = flag;
}

static int cancelled(const s3_http *h)
{
    return h->cancel && atomic_load(h->cancel);
}

/* curl's progress callback: non-zero aborts the transfer. */
static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    return cancelled(arg);
}

void s3_http_destroy(s3_http *h)
{
    if (!h)
        return;
    if (h->curl)
        curl_easy_cleanup(h->curl);
    free(h->scheme_host);
    free(h->host);
    free(h->prefix);
    free(h);
}

/* ======================================================================== */
/* One request                                                               */
/* ======================================================================== */

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    s3_resp *r = arg;
    return s3_buf_append(&r->body, data, size * n) == 0 ? size * n : 0;
}

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
    s3_resp *r = arg;
    size_t len = size * n;
    if (len > 5 && strncasecmp(data, "etag:", 5) == 0) {
        size_t i = 5, e = len;
        while (i < len && (data[i] == ' ' || data[i] == '\t'))
            i++;
        while (e > i && (data[e - 1] == '\r' || data[e - 1] == '\n' || data[e - 1] == ' '))
            e--;
        size_t m = e - i < sizeof(r->etag) - 1 ? e - i : sizeof(r->etag) - 1;
        memcpy(r->etag, data + i, m);
        r->etag[m] = '\0';
    }
    return len;
}

/* Signs the request into the header list. */
static struct curl_slist *req_headers(s3_http *h, const s3_req *rq, const char *canon_uri)
{
    char date[20], hash[65], hv[4][700];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%Y%m%dT%H%M%SZ", &tm);
    s3_sha256_hex(rq->body ? rq->body : "", rq->len, hash);
    snprintf(hv[0], sizeof(hv[0]), "host:%s", h->host);
    snprintf(hv[1], sizeof(hv[1]), "x-amz-content-sha256:%s", hash);
    snprintf(hv[2], sizeof(hv[2]), "x-amz-date:%s", date);
    size_t nh = 3;
    if (h->conf->session_token)
        snprintf(hv[nh++], sizeof(hv[3]), "x-amz-security-token:%s", h->conf->session_token);
    struct curl_slist *l = NULL;
    char line[1024];
    for (size_t i = 0; i < nh; i++) {
        snprintf(line, sizeof(line), "%.*s: %s", (int)strcspn(hv[i], ":"), hv[i],
                 strchr(hv[i], ':') + 1);
        l = curl_slist_append(l, line);
    }
    if (h->conf->key_id && h->conf->secret) {
        const char *hp[4] = {hv[0], hv[1], hv[2], hv[3]};
        s3_sigv4_in in = {rq->method,
                          canon_uri,
                          rq->query ? rq->query : "",
                          hp,
                          nh,
                          hash,
                          date,
                          h->conf->region,
                          "s3",
                          h->conf->key_id,
                          h->conf->secret};
        s3_sigv4_out out;
        if (s3_sigv4_sign(&in, &out) == 0) {
            snprintf(line, sizeof(line), "Authorization: %s", out.authorization);
            l = curl_slist_append(l, line);
        }
    }
    l = curl_slist_append(l, "Expect:");
    l = curl_slist_append(l, "Content-Type: application/octet-stream");
    return l;
}

/* The canonical URI ("/bucket/enc(key)", "/bucket" or "/") and the URL
 * with the query. Caller frees both. */
static int req_target(s3_http *h, const s3_req *rq, char **canon, char **url)
{
    char *ek = rq->key ? uri_encode(rq->key, 1) : NULL;
    if (rq->key && !ek)
        return -1;
    int n1 = ek ? asprintf(canon, "%s/%s", h->prefix, ek)
                : asprintf(canon, "%s", h->prefix[0] ? h->prefix : "/");
    free(ek);
    if (n1 < 0)
        return -1;
    /* "uploads=" is sent as "?uploads" (S3's form) and signed as "uploads=" */
    const char *q = rq->query ? rq->query : "";
    size_t ql = strlen(q);
    int bare = ql > 0 && q[ql - 1] == '=' && !strchr(q, '&');
    if (asprintf(url, "%s%s%s%.*s", h->scheme_host, *canon, ql ? "?" : "",
                 bare ? (int)ql - 1 : (int)ql, q) < 0) {
        free(*canon);
        return -1;
    }
    return 0;
}

/* Sends once. Returns 0 with resp filled (any HTTP status), or a curl error
 * message in err and -2. */
static int req_send(s3_http *h, const s3_req *rq, s3_resp *resp, char *err, size_t errlen)
{
    char *canon = NULL, *url = NULL;
    if (req_target(h, rq, &canon, &url) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    CURL *c = h->curl;
    curl_easy_reset(c);
    struct curl_slist *hl = req_headers(h, rq, canon);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)h->conf->connect_timeout_ms);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)h->conf->request_timeout_ms);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, resp);
    if (h->cancel) {
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, h);
    }
    if (strcmp(rq->method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (strcmp(rq->method, "PUT") == 0 || strcmp(rq->method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->body ? (const char *)rq->body : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->len);
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);
    } else {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);
    }
    CURLcode cc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
    curl_slist_free_all(hl);
    int rc = 0;
    if (cc != CURLE_OK) {
        snprintf(err, errlen, "%s %s: %s", rq->method, url, curl_easy_strerror(cc));
        rc = -2;
    }
    free(canon);
    free(url);
    return rc;
}

/* Classifies a response: 0 success, 1 retriable, -1 fatal (err filled). */
static int resp_classify(s3_http *h, const s3_req *rq, const s3_resp *resp, char *err,
                         size_t errlen)
{
    char code[128], msg[512];
    xml_text(&resp->body, "Code", code, sizeof(code));
    xml_text(&resp->body, "Message", msg, sizeof(msg));
    int body_error = resp->body.len && memmem(resp->body.p, resp->body.len, "<Error>", 7);
    if (resp->status >= 200 && resp->status < 300 && !body_error)
        return 0;
    if (!code[0]) /* HEAD has no body */
        snprintf(code, sizeof(code), "%s",
                 resp->status == 404   ? "NoSuchBucket"
                 : resp->status == 403 ? "AccessDenied"
                                       : "HTTP error");
    snprintf(err, errlen, "S3 %s s3://%s/%s%s%s: HTTP %ld %s: %s", rq->method, h->conf->bucket,
             rq->key ? rq->key : "", rq->query ? "?" : "", rq->query ? rq->query : "", resp->status,
             code, msg[0] ? msg : "(no message)");
    if (resp->status >= 500 || resp->status == 429 || is_throttling(code) ||
        (resp->status >= 200 && resp->status < 300))
        return 1;
    return -1;
}

static void backoff_sleep(s3_http *h, int attempt)
{
    int64_t ms = h->conf->retry_backoff_ms;
    for (int i = 0; i < attempt && ms < 20000; i++)
        ms *= 2;
    if (ms > 20000)
        ms = 20000;
    int64_t half = ms / 2;
    ms = half + (half > 0 ? (int64_t)(rand_r(&h->seed) % (unsigned)(half + 1)) : 0);
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Sends with retries. Returns 0 with resp (caller frees resp->body), 1 or -1. */
static int req_do(s3_http *h, const s3_req *rq, s3_resp *resp, char *err, size_t errlen)
{
    int rc = 1;
    int64_t retries = h->once ? 0 : h->conf->part_retries;
    err[0] = '\0';
    for (int attempt = 0; attempt <= retries && !(attempt > 0 && cancelled(h)); attempt++) {
        if (attempt > 0)
            backoff_sleep(h, attempt - 1);
        s3_buf_free(&resp->body);
        memset(resp, 0, sizeof(*resp));
        int s = req_send(h, rq, resp, err, errlen);
        if (s == -1)
            return -1;
        rc = s == -2 ? 1 : resp_classify(h, rq, resp, err, errlen);
        if (rc <= 0)
            return rc;
    }
    size_t off = strlen(err);
    snprintf(err + off, errlen - off, " (after %lld attempts)", (long long)retries + 1);
    return 1;
}

/* ======================================================================== */
/* The calls                                                                 */
/* ======================================================================== */

/* HEAD answers carry no body: on a fatal answer, GetBucketLocation is asked
 * too, for S3's own Code and Message (InvalidAccessKeyId, NoSuchBucket...). */
int s3_http_head_bucket(s3_http *h, char *err, size_t errlen)
{
    s3_req rq = {"HEAD", NULL, NULL, NULL, 0};
    s3_resp resp = {0};
    int rc = req_do(h, &rq, &resp, err, errlen);
    s3_buf_free(&resp.body);
    if (rc >= 0)
        return rc;
    char why[1024];
    s3_req get = {"GET", NULL, "location=", NULL, 0};
    s3_resp gresp = {0};
    if (req_do(h, &get, &gresp, why, sizeof(why)) < 0 && gresp.body.len)
        snprintf(err, errlen, "%s", why);
    s3_buf_free(&gresp.body);
    return rc;
}

int s3_http_put_object(s3_http *h, const char *key, const void *data, size_t len, char *err,
                       size_t errlen)
{
    s3_req rq = {"PUT", key, NULL, data, len};
    s3_resp resp = {0};
    int rc = req_do(h, &rq, &resp, err, errlen);
    s3_buf_free(&resp.body);
    return rc;
}

int s3_http_mpu_create(s3_http *h, const char *key, char **upload_id, char *err, size_t errlen)
{
    s3_req rq = {"POST", key, "uploads=", NULL, 0};
    s3_resp resp = {0};
    char id[1024];
    int rc = req_do(h, &rq, &resp, err, errlen);
    if (rc == 0) {
        xml_text(&resp.body, "UploadId", id, sizeof(id));
        if (!id[0]) {
            snprintf(err, errlen, "S3 CreateMultipartUpload s3://%s/%s: no UploadId in the answer",
                     h->conf->bucket, key);
            rc = 1;
        } else if (!(*upload_id = strdup(id))) {
            snprintf(err, errlen, "out of memory");
            rc = 1;
        }
    }
    s3_buf_free(&resp.body);
    return rc;
}

int s3_http_mpu_part(s3_http *h, const char *key, const char *upload_id, int part_no,
                     const void *data, size_t len, char **etag, char *err, size_t errlen)
{
    char *eid = uri_encode(upload_id, 0), *q = NULL;
    if (!eid || asprintf(&q, "partNumber=%d&uploadId=%s", part_no, eid) < 0) {
        free(eid);
        snprintf(err, errlen, "out of memory");
        return 1;
    }
    s3_req rq = {"PUT", key, q, data, len};
    s3_resp resp = {0};
    int rc = req_do(h, &rq, &resp, err, errlen);
    if (rc == 0 && !resp.etag[0]) {
        snprintf(err, errlen, "S3 UploadPart %d s3://%s/%s: no ETag in the answer", part_no,
                 h->conf->bucket, key);
        rc = 1;
    }
    if (rc == 0 && !(*etag = strdup(resp.etag)))
        rc = 1;
    s3_buf_free(&resp.body);
    free(eid);
    free(q);
    return rc;
}

int s3_http_mpu_complete(s3_http *h, const char *key, const char *upload_id, char *const *etags,
                         int n_parts, char *err, size_t errlen)
{
    char *eid = uri_encode(upload_id, 0), *q = NULL, *xml = NULL;
    size_t xlen = 0;
    FILE *f = open_memstream(&xml, &xlen);
    int rc = 1;
    if (!eid || !f || asprintf(&q, "uploadId=%s", eid) < 0) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    fputs("<CompleteMultipartUpload>", f);
    for (int i = 0; i < n_parts; i++)
        fprintf(f, "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>", i + 1, etags[i]);
    fputs("</CompleteMultipartUpload>", f);
    fclose(f);
    f = NULL;
    s3_req rq = {"POST", key, q, xml, xlen};
    s3_resp resp = {0};
    rc = req_do(h, &rq, &resp, err, errlen);
    s3_buf_free(&resp.body);
out:
    if (f)
        fclose(f);
    free(xml);
    free(eid);
    free(q);
    return rc;
}

int s3_http_mpu_abort(s3_http *h, const char *key, const char *upload_id, char *err, size_t errlen)
{
    char *eid = uri_encode(upload_id, 0), *q = NULL;
    if (!eid || asprintf(&q, "uploadId=%s", eid) < 0) {
        free(eid);
        snprintf(err, errlen, "out of memory");
        return 1;
    }
    s3_req rq = {"DELETE", key, q, NULL, 0};
    s3_resp resp = {0};
    h->once = 1; /* best effort: a close must not wait out retries */
    int rc = req_do(h, &rq, &resp, err, errlen);
    h->once = 0;
    s3_buf_free(&resp.body);
    free(eid);
    free(q);
    return rc;
}
