/*
 * s3_uploader.c - a task's upload thread: the store's network and disk
 * work (parts, whole objects, completions) runs beside the task's thread,
 * so consuming and encoding records goes on while S3 answers.
 *
 * The task thread submits jobs in order - "these bytes of object X", or
 * "these last bytes, then complete X" - and the uploader runs them one at a
 * time, first in first out, so an object's parts and completion keep their
 * order and objects complete in the order they were sealed. A job keeps its
 * bytes until it succeeded: when one fails the uploader stops, remembers the
 * error (transient 1 or fatal -1), and waits; the task thread sees it at its
 * next submit or status call and answers RETRY / ERROR to the host, and
 * resumes the uploader (s3_uploader_resume) when the host calls again after
 * its backoff: the same job is tried again with the same bytes.
 *
 * Bounded memory: submit waits while more than max_bytes are queued.
 *
 * Recycled buffers: a job's bytes, once sent, are not freed but kept (up to
 * SPARES of them, the largest) and handed back to the task thread by the
 * next submit in place of the buffer it took, or lent to a new object
 * (s3_uploader_lend). An object's bytes therefore go into a buffer already
 * grown to about a part (or to a whole object below the part size, sent in
 * one PUT), so the steady state has no allocation, no realloc copy and no
 * page faults per part (a part is 1 MiB for file://, s3.part.size for S3);
 * the cost is at most SPARES such buffers beside the max_bytes queued.
 *
 * Sharing: the job queue, an object's `done` and the failure are under
 * `lock`; an object's s3_upload belongs to the uploader thread until the
 * uploader is destroyed (joined), after which its owner may abort it. The
 * store (and its curl handle) is used only by the uploader thread while it
 * runs. The uploader never calls into the host (sluice_ctx is not
 * thread-safe): the task thread logs completions when it reaps them.
 *
 * Runs on: the uploader thread (uploader_main) and the task's thread (the
 * rest).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3.h"

#define SPARES 3

typedef struct s3_job {
    struct s3_job *next;
    s3_uobj *obj;
    s3_buf data;
    int finish;
} s3_job;

struct s3_uobj {
    char *key;
    s3_upload *up; /* the uploader thread's, begun at the first job */
    int done;      /* under lock: complete in the lake */
};

struct s3_uploader {
    s3_store *st;
    pthread_t thread;
    int started;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    s3_job *head, *tail;
    size_t queued, max_bytes;
    int stop;
    int failed; /* 0, 1 transient, -1 fatal: the head job waits */
    char err[2048];
    atomic_int cancel;
    s3_buf spare[SPARES]; /* sent jobs' buffers (len 0) for the next submits */
    int n_spare;
};

/* ======================================================================== */
/* The uploader thread                                                       */
/* ======================================================================== */

/* Keeps a sent job's buffer for a later submit, or frees it when the
 * spares are full of larger ones. Call with the lock held. */
static void spare_put(s3_uploader *u, s3_buf *b)
{
    b->len = 0;
    if (u->n_spare < SPARES) {
        u->spare[u->n_spare++] = *b;
        *b = (s3_buf){0};
        return;
    }
    int small = 0;
    for (int i = 1; i < SPARES; i++)
        if (u->spare[i].cap < u->spare[small].cap)
            small = i;
    if (u->spare[small].cap < b->cap) {
        s3_buf freed = u->spare[small];
        u->spare[small] = *b;
        *b = freed;
    }
    s3_buf_free(b);
}

/* The largest spare buffer (empty), or an empty s3_buf when there is
 * none. Call with the lock held. */
static s3_buf spare_take(s3_uploader *u)
{
    if (u->n_spare == 0)
        return (s3_buf){0};
    int big = 0;
    for (int i = 1; i < u->n_spare; i++)
        if (u->spare[i].cap > u->spare[big].cap)
            big = i;
    s3_buf b = u->spare[big];
    u->spare[big] = u->spare[--u->n_spare];
    return b;
}

/* Runs one job without the lock. 0 / 1 / -1 with err. */
static int job_run(s3_uploader *u, s3_job *job, char *err, size_t errlen)
{
    s3_uobj *obj = job->obj;
    if (!obj->up) {
        int rc = s3_upload_begin(u->st, obj->key, &obj->up, err, errlen);
        if (rc != 0)
            return rc;
    }
    if (!job->finish)
        return s3_upload_part(obj->up, job->data.p, job->data.len, err, errlen);
    int rc = s3_upload_finish(obj->up, job->data.p, job->data.len, err, errlen);
    if (rc == 0)
        obj->up = NULL; /* finish freed it */
    return rc;
}

static void *uploader_main(void *arg)
{
    s3_uploader *u = arg;
    char err[2048];
    pthread_mutex_lock(&u->lock);
    while (!u->stop) {
        if (!u->head || u->failed) {
            pthread_cond_wait(&u->cond, &u->lock);
            continue;
        }
        s3_job *job = u->head;
        pthread_mutex_unlock(&u->lock);
        int rc = job_run(u, job, err, sizeof(err));
        pthread_mutex_lock(&u->lock);
        if (rc == 0) {
            u->head = job->next;
            if (!u->head)
                u->tail = NULL;
            u->queued -= job->data.len;
            if (job->finish)
                job->obj->done = 1;
            spare_put(u, &job->data);
            free(job);
        } else {
            u->failed = rc;
            snprintf(u->err, sizeof(u->err), "%s", err);
        }
        pthread_cond_broadcast(&u->cond);
    }
    pthread_mutex_unlock(&u->lock);
    return NULL;
}

/* ======================================================================== */
/* The task thread's side                                                    */
/* ======================================================================== */

s3_uploader *s3_uploader_create(s3_store *st, size_t max_bytes, char *err, size_t errlen)
{
    s3_uploader *u = calloc(1, sizeof(*u));
    if (!u) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    u->st = st;
    u->max_bytes = max_bytes;
    atomic_init(&u->cancel, 0);
    pthread_mutex_init(&u->lock, NULL);
    pthread_cond_init(&u->cond, NULL);
    s3_store_set_cancel(st, &u->cancel);
    if (pthread_create(&u->thread, NULL, uploader_main, u) != 0) {
        snprintf(err, errlen, "cannot start the upload thread");
        s3_uploader_destroy(u);
        return NULL;
    }
    u->started = 1;
    return u;
}

void s3_uploader_destroy(s3_uploader *u)
{
    if (!u)
        return;
    pthread_mutex_lock(&u->lock);
    u->stop = 1;
    atomic_store(&u->cancel, 1); /* a transfer under way gives up */
    pthread_cond_broadcast(&u->cond);
    pthread_mutex_unlock(&u->lock);
    if (u->started)
        pthread_join(u->thread, NULL);
    s3_store_set_cancel(u->st, NULL);
    for (s3_job *j = u->head, *n; j; j = n) {
        n = j->next;
        s3_buf_free(&j->data);
        free(j);
    }
    for (int i = 0; i < u->n_spare; i++)
        s3_buf_free(&u->spare[i]);
    pthread_mutex_destroy(&u->lock);
    pthread_cond_destroy(&u->cond);
    free(u);
}

/* The failure, if any, with its message. Call with the lock held. */
static int failure(s3_uploader *u, char *err, size_t errlen)
{
    if (u->failed)
        snprintf(err, errlen, "%s", u->err);
    return u->failed;
}

int s3_uploader_submit(s3_uploader *u, s3_uobj *obj, s3_buf *data, int finish, char *err,
                       size_t errlen)
{
    s3_job *job = calloc(1, sizeof(*job));
    if (!job) {
        snprintf(err, errlen, "out of memory");
        return 1;
    }
    pthread_mutex_lock(&u->lock);
    while (!u->failed && u->head && u->queued + data->len > u->max_bytes)
        pthread_cond_wait(&u->cond, &u->lock);
    int rc = failure(u, err, errlen);
    if (rc == 0) {
        job->obj = obj;
        job->finish = finish;
        job->data = *data;
        if (finish)
            memset(data, 0, sizeof(*data)); /* a finished object writes no more */
        else
            *data = spare_take(u);
        u->queued += job->data.len;
        if (u->tail)
            u->tail->next = job;
        else
            u->head = job;
        u->tail = job;
        pthread_cond_broadcast(&u->cond);
        job = NULL;
    }
    pthread_mutex_unlock(&u->lock);
    free(job);
    return rc;
}

void s3_uploader_lend(s3_uploader *u, s3_buf *b)
{
    pthread_mutex_lock(&u->lock);
    s3_buf spare = spare_take(u);
    if (spare.cap <= b->cap && spare.cap > 0) { /* no better than b: keep it */
        u->spare[u->n_spare++] = spare;
        spare.cap = 0;
    }
    pthread_mutex_unlock(&u->lock);
    if (spare.cap == 0)
        return;
    if (b->len)
        memcpy(spare.p, b->p, b->len);
    spare.len = b->len;
    s3_buf_free(b);
    *b = spare;
}

int s3_uploader_status(s3_uploader *u, char *err, size_t errlen)
{
    pthread_mutex_lock(&u->lock);
    int rc = failure(u, err, errlen);
    pthread_mutex_unlock(&u->lock);
    return rc;
}

void s3_uploader_resume(s3_uploader *u)
{
    pthread_mutex_lock(&u->lock);
    if (u->failed > 0) {
        u->failed = 0;
        pthread_cond_broadcast(&u->cond);
    }
    pthread_mutex_unlock(&u->lock);
}

/* ======================================================================== */
/* Objects                                                                   */
/* ======================================================================== */

s3_uobj *s3_uobj_create(const char *key)
{
    s3_uobj *obj = calloc(1, sizeof(*obj));
    if (obj && !(obj->key = strdup(key))) {
        free(obj);
        obj = NULL;
    }
    return obj;
}

int s3_uobj_done(s3_uploader *u, const s3_uobj *obj)
{
    pthread_mutex_lock(&u->lock);
    int done = obj->done;
    pthread_mutex_unlock(&u->lock);
    return done;
}

void s3_uobj_destroy(s3_uobj *obj)
{
    if (!obj)
        return;
    s3_upload_abort(obj->up);
    free(obj->key);
    free(obj);
}
