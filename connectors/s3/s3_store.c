/*
 * s3_store.c - the lake behind one small upload interface (s3.h): an S3
 * bucket, or a local directory for store.url=file://DIR.
 *
 * An upload is invisible until finish, and then complete at once:
 *
 *   S3    objects at most s3.part.size go up as one PUT at finish. Larger
 *         ones are a multipart upload, created at the first full part;
 *         every part is uploaded as the object grows, and finish uploads
 *         the last part and completes. Abort deletes the multipart upload
 *         (an upload a crash left behind is invisible; a bucket lifecycle
 *         rule AbortIncompleteMultipartUpload cleans it up).
 *   file  bytes go to a hidden temporary file in the object's directory
 *         (".<name>.tmp"), written at known offsets so a failed write can
 *         be retried; finish = fsync, rename() over the final name (atomic
 *         in one directory), fsync of the directory. Abort unlinks it.
 *
 * Retrying: a call that returns 1 or -1 may be repeated with the same bytes
 * (a part's number is only taken when it succeeded; a finish remembers that
 * its last part is up). Errors name the object and the reason; permission
 * and read-only-file-system errors are fatal, the others transient.
 *
 * Runs on: the task's thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "s3.h"

#define FILE_CHUNK (1024 * 1024)

struct s3_store {
    const s3_conf *conf;
    s3_http *http; /* NULL for file:// */
};

struct s3_upload {
    s3_store *st;
    char *key;
    /* S3 */
    char *upload_id;
    char **etags;
    int n_parts, cap, tail_done;
    /* file */
    int fd;
    off_t written;
    char *tmp_path, *final_path;
};

static int errno_kind(int e)
{
    return e == EACCES || e == EPERM || e == EROFS || e == ENOTDIR || e == EISDIR ||
                   e == ENAMETOOLONG || e == EINVAL
               ? -1
               : 1;
}

s3_store *s3_store_create(const s3_conf *conf, char *err, size_t errlen)
{
    s3_store *st = calloc(1, sizeof(*st));
    if (!st) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    st->conf = conf;
    if (!conf->file_dir && !(st->http = s3_http_create(conf, err, errlen))) {
        free(st);
        return NULL;
    }
    return st;
}

void s3_store_destroy(s3_store *st)
{
    if (!st)
        return;
    s3_http_destroy(st->http);
    free(st);
}

void s3_store_set_cancel(s3_store *st, const atomic_int *flag)
{
    if (st->http)
        s3_http_set_cancel(st->http, flag);
}

size_t s3_store_part_size(const s3_store *st)
{
    return st->http ? (size_t)st->conf->part_size : FILE_CHUNK;
}

const char *s3_upload_key(const s3_upload *up)
{
    return up->key;
}

/* ======================================================================== */
/* file://                                                                   */
/* ======================================================================== */

/* mkdir -p of path's directories (the last component excluded when
 * leaf_is_file). Returns 0 or -1 with errno. */
static int mkdirs(const char *path, int leaf_is_file)
{
    char *p = strdup(path);
    if (!p)
        return -1;
    size_t n = strlen(p);
    if (leaf_is_file) {
        char *slash = strrchr(p, '/');
        n = slash ? (size_t)(slash - p) : 0;
    }
    for (size_t i = 1; i <= n; i++) {
        if (i == n || p[i] == '/') {
            char c = p[i];
            p[i] = '\0';
            if (mkdir(p, 0755) != 0 && errno != EEXIST) {
                int e = errno;
                free(p);
                errno = e;
                return -1;
            }
            p[i] = c;
        }
    }
    free(p);
    return 0;
}

static int file_check(s3_store *st, char *err, size_t errlen)
{
    const char *dir = st->conf->file_dir;
    char probe[4096];
    if (mkdirs(dir, 0) != 0) {
        snprintf(err, errlen, "lake directory %s: cannot create: %s", dir, strerror(errno));
        return errno_kind(errno);
    }
    snprintf(probe, sizeof(probe), "%s/.sluice-probe-%d", dir, (int)getpid());
    int fd = open(probe, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "lake directory %s: not writable: %s", dir, strerror(errno));
        return errno_kind(errno);
    }
    close(fd);
    unlink(probe);
    return 0;
}

static int file_begin(s3_upload *up, char *err, size_t errlen)
{
    const char *dir = up->st->conf->file_dir;
    const char *base = strrchr(up->key, '/');
    base = base ? base + 1 : up->key;
    if (asprintf(&up->final_path, "%s/%s", dir, up->key) < 0 ||
        asprintf(&up->tmp_path, "%s/%.*s.%s.tmp", dir, (int)(base - up->key), up->key, base) < 0) {
        snprintf(err, errlen, "out of memory");
        return 1;
    }
    if (mkdirs(up->final_path, 1) != 0) {
        snprintf(err, errlen, "lake %s: cannot create the directory of %s: %s", dir, up->key,
                 strerror(errno));
        return errno_kind(errno);
    }
    up->fd = open(up->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (up->fd < 0) {
        snprintf(err, errlen, "lake: cannot create %s: %s", up->tmp_path, strerror(errno));
        return errno_kind(errno);
    }
    return 0;
}

static int file_write(s3_upload *up, const void *data, size_t len, char *err, size_t errlen)
{
    size_t done = 0;
    while (done < len) {
        ssize_t w =
            pwrite(up->fd, (const char *)data + done, len - done, up->written + (off_t)done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            snprintf(err, errlen, "lake: writing %s: %s", up->tmp_path, strerror(errno));
            return errno_kind(errno);
        }
        done += (size_t)w;
    }
    up->written += (off_t)len;
    return 0;
}

static int fsync_dir(const char *path)
{
    char *d = strdup(path);
    if (!d)
        return -1;
    char *slash = strrchr(d, '/');
    if (slash)
        *slash = '\0';
    int fd = open(slash ? d : ".", O_RDONLY | O_DIRECTORY);
    free(d);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

static int file_finish(s3_upload *up, const void *data, size_t len, char *err, size_t errlen)
{
    int rc = file_write(up, data, len, err, errlen);
    if (rc != 0)
        return rc;
    if (fsync(up->fd) != 0 || rename(up->tmp_path, up->final_path) != 0 ||
        fsync_dir(up->final_path) != 0) {
        up->written -= (off_t)len; /* a retry writes the tail again */
        snprintf(err, errlen, "lake: completing %s: %s", up->final_path, strerror(errno));
        return errno_kind(errno);
    }
    close(up->fd);
    up->fd = -1;
    return 0;
}

/* ======================================================================== */
/* S3                                                                        */
/* ======================================================================== */

static int s3_part(s3_upload *up, const void *data, size_t len, char *err, size_t errlen)
{
    s3_http *h = up->st->http;
    if (!up->upload_id) {
        int rc = s3_http_mpu_create(h, up->key, &up->upload_id, err, errlen);
        if (rc != 0)
            return rc;
    }
    if (up->n_parts == up->cap) {
        int cap = up->cap ? up->cap * 2 : 16;
        char **e = realloc(up->etags, (size_t)cap * sizeof(*e));
        if (!e) {
            snprintf(err, errlen, "out of memory");
            return 1;
        }
        up->etags = e;
        up->cap = cap;
    }
    char *etag = NULL;
    int rc =
        s3_http_mpu_part(h, up->key, up->upload_id, up->n_parts + 1, data, len, &etag, err, errlen);
    if (rc == 0)
        up->etags[up->n_parts++] = etag;
    return rc;
}

static int s3_finish(s3_upload *up, const void *data, size_t len, char *err, size_t errlen)
{
    s3_http *h = up->st->http;
    if (up->n_parts == 0 && !up->upload_id)
        return s3_http_put_object(h, up->key, data, len, err, errlen);
    if (!up->tail_done && len > 0) {
        int rc = s3_part(up, data, len, err, errlen);
        if (rc != 0)
            return rc;
    }
    up->tail_done = 1;
    return s3_http_mpu_complete(h, up->key, up->upload_id, up->etags, up->n_parts, err, errlen);
}

/* ======================================================================== */
/* The interface                                                             */
/* ======================================================================== */

int s3_store_check(s3_store *st, char *err, size_t errlen)
{
    return st->http ? s3_http_head_bucket(st->http, err, errlen) : file_check(st, err, errlen);
}

static void upload_free(s3_upload *up)
{
    for (int i = 0; i < up->n_parts; i++)
        free(up->etags[i]);
    free(up->etags);
    free(up->upload_id);
    free(up->tmp_path);
    free(up->final_path);
    free(up->key);
    free(up);
}

int s3_upload_begin(s3_store *st, const char *key, s3_upload **out, char *err, size_t errlen)
{
    s3_upload *up = calloc(1, sizeof(*up));
    if (!up || !(up->key = strdup(key))) {
        free(up);
        snprintf(err, errlen, "out of memory");
        return 1;
    }
    up->st = st;
    up->fd = -1;
    int rc = st->http ? 0 : file_begin(up, err, errlen);
    if (rc != 0) {
        s3_upload_abort(up);
        return rc;
    }
    *out = up;
    return 0;
}

int s3_upload_part(s3_upload *up, const void *data, size_t len, char *err, size_t errlen)
{
    return up->st->http ? s3_part(up, data, len, err, errlen)
                        : file_write(up, data, len, err, errlen);
}

int s3_upload_finish(s3_upload *up, const void *data, size_t len, char *err, size_t errlen)
{
    int rc = up->st->http ? s3_finish(up, data, len, err, errlen)
                          : file_finish(up, data, len, err, errlen);
    if (rc == 0)
        upload_free(up);
    return rc;
}

void s3_upload_abort(s3_upload *up)
{
    if (!up)
        return;
    char err[512];
    if (up->upload_id)
        s3_http_mpu_abort(up->st->http, up->key, up->upload_id, err, sizeof(err));
    if (up->fd >= 0) {
        close(up->fd);
        unlink(up->tmp_path);
    }
    upload_free(up);
}
