/*
 * restclient.c - see restclient.h.
 *
 * sl_restclient_send does the HTTP part (one curl easy handle, reset before
 * each request, the body gathered in memory); sl_restclient_call adds the
 * JSON part and the error message, so a caller wanting its own messages
 * (`sluice schemas`) still shares the request code.
 *
 * Runs on: the calling thread; one client is never shared between threads.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "restclient.h"

struct sl_restclient {
    CURL *curl;
    char *base, *userpwd;
    struct curl_slist *headers;
};

typedef struct body_buf {
    char *data;
    size_t len;
} body_buf;

sl_restclient *sl_restclient_create(const char *base_url, const char *userpwd,
                                    const char *content_type)
{
    static int curl_ready; /* curl_global_init is done once, before threads start using curl */
    if (!curl_ready && curl_global_init(CURL_GLOBAL_DEFAULT) == 0)
        curl_ready = 1;
    sl_restclient *c = calloc(1, sizeof(*c));
    char ct[256];
    snprintf(ct, sizeof(ct), "Content-Type: %s", content_type ? content_type : "application/json");
    if (!c || !(c->curl = curl_easy_init()) || !(c->base = strdup(base_url)) ||
        (userpwd && !(c->userpwd = strdup(userpwd))) ||
        !(c->headers = curl_slist_append(NULL, ct))) {
        sl_restclient_destroy(c);
        return NULL;
    }
    size_t n = strlen(c->base);
    while (n > 0 && c->base[n - 1] == '/')
        c->base[--n] = 0;
    return c;
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

long sl_restclient_send(sl_restclient *c, const char *method, const char *path, const char *body,
                        char **answer, size_t *len, char *err, size_t errlen)
{
    char url[4096];
    body_buf b = {0};
    long status = -1;
    /* a path that did not fit (sl_restclient_path leaves it empty) or a URL
     * that would be cut short is never sent: it would name something else */
    if (path[0] != '/' || (size_t)snprintf(url, sizeof(url), "%s%s", c->base, path) >= sizeof(url)) {
        snprintf(err, errlen, "%s %s%.60s...: the request path is empty or too long (a name over "
                 "about 1000 bytes?)", method, c->base, path);
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
    CURLcode rc = curl_easy_perform(c->curl);
    if (rc != CURLE_OK) {
        snprintf(err, errlen, "%s %s: %s", method, url, curl_easy_strerror(rc));
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
