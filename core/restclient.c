/*
 * restclient.c - see restclient.h.
 *
 * sl_restclient_send does the HTTP part (one curl easy handle, reset before
 * each request, the body gathered in memory); sl_restclient_call adds the
 * JSON part and the error message, so a caller wanting its own messages
 * (`sluice schemas`) still shares the request code.
 *
 * TLS is libcurl's (built on OpenSSL in Debian's libcurl4-openssl-dev):
 * peer and host verification stay on; the CA file is checked readable when
 * the client is made, so a wrong path is named then, not at the first call.
 *
 * Runs on: the calling thread; one client is never shared between threads.
 */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "restclient.h"

struct sl_restclient {
    CURL *curl;
    char *base, *userpwd, *ca_file;
    int ca_from_env; /* ca_file is SSL_CERT_FILE's */
    struct curl_slist *headers;
    char curl_err[CURL_ERROR_SIZE]; /* libcurl's detail of the last failure */
};

typedef struct body_buf {
    char *data;
    size_t len;
} body_buf;

sl_restclient *sl_restclient_open(const char *base_url, const sl_restclient_opts *o, char *err,
                                  size_t errlen)
{
    static int curl_ready; /* curl_global_init is done once, before threads start using curl */
    static const sl_restclient_opts none = {0};
    if (!o)
        o = &none;
    const char *ca = o->ca_file && *o->ca_file ? o->ca_file : getenv("SSL_CERT_FILE");
    FILE *f = o->ca_file && *o->ca_file ? fopen(o->ca_file, "r") : NULL;
    if (o->ca_file && *o->ca_file && !f) {
        snprintf(err, errlen, "CA file '%s': cannot read: %s", o->ca_file, strerror(errno));
        return NULL;
    }
    if (f)
        fclose(f);
    if (!curl_ready && curl_global_init(CURL_GLOBAL_DEFAULT) == 0)
        curl_ready = 1;
    sl_restclient *c = calloc(1, sizeof(*c));
    char ct[256];
    snprintf(ct, sizeof(ct), "Content-Type: %s",
             o->content_type ? o->content_type : "application/json");
    if (!c || !(c->curl = curl_easy_init()) || !(c->base = strdup(base_url)) ||
        (o->userpwd && !(c->userpwd = strdup(o->userpwd))) ||
        (ca && *ca && !(c->ca_file = strdup(ca))) || !(c->headers = curl_slist_append(NULL, ct))) {
        snprintf(err, errlen, "%s: out of memory", base_url);
        sl_restclient_destroy(c);
        return NULL;
    }
    c->ca_from_env = c->ca_file && !(o->ca_file && *o->ca_file);
    size_t n = strlen(c->base);
    while (n > 0 && c->base[n - 1] == '/')
        c->base[--n] = 0;
    return c;
}

sl_restclient *sl_restclient_create(const char *base_url, const char *userpwd,
                                    const char *content_type)
{
    char err[256];
    sl_restclient_opts o = {.userpwd = userpwd, .content_type = content_type};
    return sl_restclient_open(base_url, &o, err, sizeof(err));
}

static const char *conf_get(const json_t *config, const char *prefix, const char *key, char *full,
                            size_t len)
{
    snprintf(full, len, "%s%s", prefix, key);
    return json_string_value(json_object_get(config, full));
}

sl_restclient *sl_restclient_registry(const json_t *config, const char *prefix, char *err,
                                      size_t errlen)
{
    char k_url[160], k_src[160], k_info[160], k_ca[160], first[2048];
    const char *url = conf_get(config, prefix, "schema.registry.url", k_url, sizeof(k_url));
    const char *src =
        conf_get(config, prefix, "basic.auth.credentials.source", k_src, sizeof(k_src));
    const char *info = conf_get(config, prefix, "basic.auth.user.info", k_info, sizeof(k_info));
    const char *ca =
        conf_get(config, prefix, "schema.registry.ssl.ca.location", k_ca, sizeof(k_ca));
    if (!url || !*url) {
        snprintf(err, errlen, "%s: required (the schema registry, e.g. http://localhost:8081)",
                 k_url);
        return NULL;
    }
    if (strncasecmp(url, "http://", 7) && strncasecmp(url, "https://", 8)) {
        snprintf(err, errlen, "%s: '%s' is not an http:// or https:// URL", k_url, url);
        return NULL;
    }
    if (src && *src && strcasecmp(src, "USER_INFO") && strcasecmp(src, "URL")) {
        snprintf(err, errlen, "%s: '%s' is not USER_INFO or URL", k_src, src);
        return NULL;
    }
    int user_info = src && *src ? !strcasecmp(src, "USER_INFO") : info && *info;
    if (user_info && (!info || !strchr(info, ':'))) {
        snprintf(err, errlen, "%s=USER_INFO needs %s ('user:password')", k_src, k_info);
        return NULL;
    }
    snprintf(first, sizeof(first), "%.*s", (int)strcspn(url, ","), url);
    sl_restclient_opts o = {.userpwd = user_info ? info : NULL,
                            .ca_file = ca,
                            .content_type = "application/vnd.schemaregistry.v1+json"};
    char why[512];
    sl_restclient *c = sl_restclient_open(first, &o, why, sizeof(why));
    if (!c)
        snprintf(err, errlen, "%s: %s", ca && *ca && !strncmp(why, "CA file", 7) ? k_ca : k_url,
                 why);
    return c;
}

int sl_restclient_secret_key(const char *key)
{
    /* the one list of secret keys: registry clients' and Kafka clients'
     * (kafka_client.h: sasl.jaas.config, sasl.password, as such or as
     * consumer.override.*, producer.override.* ...) */
    static const char *const secrets[] = {"basic.auth.user.info", "bearer.auth.token",
                                          "ssl.key.password",     "ssl.keystore.password",
                                          "ssl.truststore.password", "sasl.jaas.config",
                                          "sasl.password"};
    size_t klen = strlen(key);
    for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++) {
        size_t slen = strlen(secrets[i]);
        if (klen >= slen && !strcmp(key + klen - slen, secrets[i]) &&
            (klen == slen || key[klen - slen - 1] == '.'))
            return 1;
    }
    return 0;
}

void sl_restclient_destroy(sl_restclient *c)
{
    if (!c)
        return;
    if (c->curl)
        curl_easy_cleanup(c->curl);
    curl_slist_free_all(c->headers);
    free(c->base);
    free(c->userpwd);
    free(c->ca_file);
    free(c);
}

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
    body_buf *b = arg;
    char *nd = realloc(b->data, b->len + size * n + 1);
    if (!nd)
        return 0;
    b->data = nd;
    memcpy(b->data + b->len, p, size * n);
    b->len += size * n;
    b->data[b->len] = 0;
    return size * n;
}

/* What to do about a server certificate that did not verify. */
static void untrusted_hint(const sl_restclient *c, char *out, size_t len)
{
    const char *fix = "give the client the PEM file of the server's CA "
                      "(schema.registry.ssl.ca.location for a registry client)";
    if (!c->ca_file)
        snprintf(out, len, "; %s", fix);
    else if (c->ca_from_env)
        snprintf(out, len, "; the server's CA is not in '%s' (SSL_CERT_FILE): %s", c->ca_file, fix);
    else
        snprintf(out, len, "; is the server's CA in '%s'?", c->ca_file);
}

long sl_restclient_send(sl_restclient *c, const char *method, const char *path, const char *body,
                        char **answer, size_t *len, char *err, size_t errlen)
{
    char url[4096];
    body_buf b = {0};
    long status = -1;
    /* a path that did not fit (sl_restclient_path leaves it empty) or a URL
     * that would be cut short is never sent: it would name something else */
    if (path[0] != '/' ||
        (size_t)snprintf(url, sizeof(url), "%s%s", c->base, path) >= sizeof(url)) {
        snprintf(err, errlen,
                 "%s %s%.60s...: the request path is empty or too long (a name over "
                 "about 1000 bytes?)",
                 method, c->base, path);
        return -1;
    }
    curl_easy_reset(c->curl);
    curl_easy_setopt(c->curl, CURLOPT_URL, url);
    curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, c->headers);
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
    if (body)
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
    if (c->userpwd)
        curl_easy_setopt(c->curl, CURLOPT_USERPWD, c->userpwd);
    if (c->ca_file)
        curl_easy_setopt(c->curl, CURLOPT_CAINFO, c->ca_file);
    c->curl_err[0] = 0;
    curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, c->curl_err);
    CURLcode rc = curl_easy_perform(c->curl);
    if (rc != CURLE_OK) {
        char hint[600] = "";
        if (rc == CURLE_PEER_FAILED_VERIFICATION)
            untrusted_hint(c, hint, sizeof(hint));
        snprintf(err, errlen, "%s %s: %s%s%s%s%s", method, url, curl_easy_strerror(rc),
                 c->curl_err[0] ? " (" : "", c->curl_err, c->curl_err[0] ? ")" : "", hint);
        free(b.data);
        b = (body_buf){0};
    } else {
        curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
    }
    *answer = b.data;
    *len = b.len;
    return status;
}

long sl_restclient_call(sl_restclient *c, const char *method, const char *path, const char *body,
                        json_t **answer, char *err, size_t errlen)
{
    char *text;
    size_t len;
    json_error_t je;
    long status = sl_restclient_send(c, method, path, body, &text, &len, err, errlen);
    *answer = NULL;
    if (status < 0)
        return -1;
    if (len > 0 && !(*answer = json_loadb(text, len, JSON_DECODE_ANY, &je))) {
        snprintf(err, errlen, "%s %s%s: HTTP %ld, the answer is not JSON: %.200s", method, c->base,
                 path, status, text);
        status = -1;
    } else if (status >= 300) {
        const char *msg = json_string_value(json_object_get(*answer, "message"));
        snprintf(err, errlen, "%s %s%s: HTTP %ld error_code %lld: %s", method, c->base, path,
                 status, (long long)json_integer_value(json_object_get(*answer, "error_code")),
                 msg ? msg : (text ? text : ""));
    }
    free(text);
    return status;
}

const char *sl_restclient_base_url(const sl_restclient *c)
{
    return c->base;
}

void sl_restclient_path(char *out, size_t len, const char *before, const char *name,
                        const char *after)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t off = (size_t)snprintf(out, len, "%s", before);
    const unsigned char *p = (const unsigned char *)name;
    for (; *p && off + 3 < len; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~", *p)) {
            out[off++] = (char)*p;
        } else {
            out[off++] = '%';
            out[off++] = hex[*p >> 4];
            out[off++] = hex[*p & 15];
        }
    }
    if (*p || off >= len || (size_t)snprintf(out + off, len - off, "%s", after) >= len - off)
        out[0] = 0; /* did not fit: sl_restclient_send refuses an empty path */
}
