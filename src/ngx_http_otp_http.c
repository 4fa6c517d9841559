
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * The HTTPS client of the providers: libcurl's multi-socket API on the
 * worker's nginx event loop.
 *
 * Each worker owns one multi handle, and so one connection cache: a
 * provider's TLS connection is reused by the next request.  curl tells us
 * which sockets to watch (the socket callback) and when to call it back
 * (the timer callback); each curl socket is wrapped in an nginx connection
 * from ngx_get_connection(), registered level-triggered, and every event
 * that fires goes back to curl_multi_socket_action() with the direction
 * that fired.  curl closes its sockets through our callback, so that a
 * socket's events are always removed while its fd is open: curl may close
 * a socket it is still connecting before it says CURL_POLL_REMOVE.
 * Finished transfers are collected with curl_multi_info_read() after
 * socket_action() has returned, so a request's handler, and whatever
 * it starts or cancels, never runs inside a curl callback.
 *
 * A request is made into an easy handle, its host checked against the
 * names pinned when the configuration was read, in
 * ngx_http_otp_http_setup.c; what the two files share is in
 * ngx_http_otp_http_xfer.h.
 *
 * rc is NGX_OK when curl completed an HTTP exchange, whatever the status;
 * a refused connection, a timeout, a TLS failure, a malformed answer or a
 * body cut short is NGX_ERROR, with its category (from the CURLcode) in
 * category, curl's short reason in error for the log (it names addresses
 * and ports: never for a client), and the status kept if one arrived.
 * The body is NUL-terminated for parsers.
 * An answer larger than NGX_HTTP_OTP_HTTP_MAX_RESPONSE is truncated: the
 * excess is read and thrown away, so the status and the connection are
 * kept and the transfer ends normally with truncated set; the transfer
 * timeout still bounds how long that can take.
 *
 * Memory that held a request or an answer is wiped before it is freed: a
 * request body holds a code and the Authorization header a credential,
 * and an answer may quote either.  The body is ours (CURLOPT_POSTFIELDS
 * over a buffer the request owns), the answer too; curl's own copies (its
 * request buffer, to which it appends a small body, its receive buffer)
 * are wiped by the allocator it is given (curl_global_init_mem()), which
 * wipes every block curl frees or moves.
 *
 * The curl timer holds a graceful shutdown while a transfer is in flight
 * (as proxy_read_timeout does), so the waiting client gets its answer
 * before the worker exits; with nothing in flight it never holds it.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <curl/curl.h>

#include "ngx_http_otp_http_xfer.h"


/* the default for a conf left unset */
#define NGX_HTTP_OTP_HTTP_MAX_CONNECTIONS   64


static int ngx_http_otp_http_socket(CURL *easy, curl_socket_t s, int what,
    void *userp, void *socketp);
static int ngx_http_otp_http_timer(CURLM *multi, long ms, void *userp);
static ngx_connection_t *ngx_http_otp_http_sock(ngx_http_otp_http_worker_t *w,
    curl_socket_t s, ngx_connection_t *c);

static void ngx_http_otp_http_event_handler(ngx_event_t *ev);
static void ngx_http_otp_http_timer_handler(ngx_event_t *ev);
static void ngx_http_otp_http_sweep_handler(ngx_event_t *ev);
static void ngx_http_otp_http_failed_handler(ngx_event_t *ev);

static void ngx_http_otp_http_read_info(ngx_http_otp_http_worker_t *w);
static void ngx_http_otp_http_finish(ngx_http_otp_http_xfer_t *x,
    CURLcode code);
static ngx_uint_t ngx_http_otp_http_category(CURLcode code);
static void ngx_http_otp_http_abort_all(ngx_http_otp_http_worker_t *w);
static void ngx_http_otp_http_fail(ngx_http_otp_http_xfer_t *x,
    ngx_uint_t category, const char *err);
static void ngx_http_otp_http_mark_failed(ngx_http_otp_http_worker_t *w,
    CURL *easy, const char *err);
static void ngx_http_otp_http_detach(ngx_http_otp_http_xfer_t *x);
static void ngx_http_otp_http_free(ngx_http_otp_http_xfer_t *x);
static void ngx_http_otp_http_close(ngx_connection_t *c, ngx_uint_t flags);


static ngx_uint_t  ngx_http_otp_http_curl_ready;


ngx_int_t
ngx_http_otp_http_init_process(ngx_cycle_t *cycle,
    ngx_http_otp_http_conf_t *hcf)
{
    u_char                      **resolve;
    ngx_uint_t                    i, max;
    struct curl_slist            *list;
    ngx_http_otp_http_worker_t   *w;

    hcf->worker = NULL;

    /* not in the master, the cache manager or the cache loader */

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    if (!ngx_http_otp_http_curl_ready) {
        if (ngx_http_otp_curl_global_init() != NGX_OK) {
            ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                          "curl_global_init_mem() failed");
            return NGX_ERROR;
        }

        ngx_http_otp_http_curl_ready = 1;
    }

    w = ngx_pcalloc(cycle->pool, sizeof(ngx_http_otp_http_worker_t));
    if (w == NULL) {
        return NGX_ERROR;
    }

    w->log = cycle->log;

    /* the debug log reads a timer's data as a connection */

    w->dummy.fd = (ngx_socket_t) -1;
    w->dummy.data = w;
    w->dummy.log = cycle->log;

    w->timer.handler = ngx_http_otp_http_timer_handler;
    w->timer.data = &w->dummy;
    w->timer.log = cycle->log;
    w->timer.cancelable = 1;

    w->sweep.handler = ngx_http_otp_http_sweep_handler;
    w->sweep.data = &w->dummy;
    w->sweep.log = cycle->log;
    w->sweep.cancelable = 1;

    ngx_queue_init(&w->active);
    ngx_queue_init(&w->failing);

    if (ngx_array_init(&w->socks, cycle->pool, 8, sizeof(ngx_connection_t *))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (hcf->ca_file.len) {
        w->ca_file = ngx_pnalloc(cycle->pool, hcf->ca_file.len + 1);
        if (w->ca_file == NULL) {
            return NGX_ERROR;
        }

        (void) ngx_cpystrn((u_char *) w->ca_file, hcf->ca_file.data,
                           hcf->ca_file.len + 1);
    }

    if (hcf->resolve) {
        resolve = hcf->resolve->elts;

        for (i = 0; i < hcf->resolve->nelts; i++) {
            list = curl_slist_append(w->resolve, (char *) resolve[i]);
            if (list == NULL) {
                curl_slist_free_all(w->resolve);
                return NGX_ERROR;
            }

            w->resolve = list;
        }
    }

    w->multi = curl_multi_init();
    if (w->multi == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "curl_multi_init() failed");
        curl_slist_free_all(w->resolve);
        return NGX_ERROR;
    }

    curl_multi_setopt(w->multi, CURLMOPT_SOCKETFUNCTION,
                      ngx_http_otp_http_socket);
    curl_multi_setopt(w->multi, CURLMOPT_SOCKETDATA, w);
    curl_multi_setopt(w->multi, CURLMOPT_TIMERFUNCTION,
                      ngx_http_otp_http_timer);
    curl_multi_setopt(w->multi, CURLMOPT_TIMERDATA, w);

    /* each curl socket takes one of the worker's connections */

    max = hcf->max_connections;

    if (max == NGX_CONF_UNSET_UINT) {
        max = NGX_HTTP_OTP_HTTP_MAX_CONNECTIONS;
    }

    curl_multi_setopt(w->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long) max);
    curl_multi_setopt(w->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long) max);

    /* the cache would otherwise shrink to 4 per transfer in flight */

    curl_multi_setopt(w->multi, CURLMOPT_MAXCONNECTS, (long) max);

    hcf->worker = w;

    return NGX_OK;
}


void
ngx_http_otp_http_exit_process(ngx_cycle_t *cycle,
    ngx_http_otp_http_conf_t *hcf)
{
    ngx_queue_t                  *q;
    ngx_connection_t             *c;
    ngx_http_otp_http_xfer_t     *x;
    ngx_http_otp_http_worker_t   *w;

    w = hcf->worker;

    if (w == NULL) {
        return;
    }

    /*
     * Only a fast shutdown gets here with transfers in flight or failures
     * not yet answered; the process is going away with its requests, so
     * their handlers are not called (ngx_http_otp_http.h).
     */

    while (!ngx_queue_empty(&w->active)) {
        q = ngx_queue_head(&w->active);
        x = ngx_queue_data(q, ngx_http_otp_http_xfer_t, queue);

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, cycle->log, 0,
                       "otp http: exit frees %p in flight", &x->req);

        ngx_http_otp_http_free(x);
    }

    while (!ngx_queue_empty(&w->failing)) {
        q = ngx_queue_head(&w->failing);
        x = ngx_queue_data(q, ngx_http_otp_http_xfer_t, queue);

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, cycle->log, 0,
                       "otp http: exit frees %p unanswered", &x->req);

        ngx_http_otp_http_free(x);
    }

    while (w->nidle) {
        curl_easy_cleanup(w->idle[--w->nidle]);
    }

    /* closes the cached connections; the socket callback still runs */

    w->busy++;
    curl_multi_cleanup(w->multi);
    w->busy--;

    w->multi = NULL;

    /*
     * curl closes its sockets through our callback, which releases their
     * connections; should it have closed one otherwise, its slot would be
     * reported as an open socket left: the fd is closed already, so only
     * the slot is given back.
     */

    while (w->socks.nelts) {
        c = ((ngx_connection_t **) w->socks.elts)[0];

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, cycle->log, 0,
                       "otp http: socket %d left by curl", c->fd);

        ngx_http_otp_http_close(c, NGX_CLOSE_EVENT);
    }

    if (w->timer.timer_set) {
        ngx_del_timer(&w->timer);
    }

    if (w->timer.posted) {
        ngx_delete_posted_event(&w->timer);
    }

    if (w->sweep.posted) {
        ngx_delete_posted_event(&w->sweep);
    }

    curl_slist_free_all(w->resolve);
    w->resolve = NULL;

    hcf->worker = NULL;

    if (ngx_http_otp_http_curl_ready) {
        curl_global_cleanup();
        ngx_http_otp_http_curl_ready = 0;
    }
}


ngx_http_otp_http_req_t *
ngx_http_otp_http_create(ngx_log_t *log)
{
    ngx_http_otp_http_xfer_t  *x;

    if (log == NULL) {
        log = ngx_cycle->log;
    }

    x = ngx_calloc(sizeof(ngx_http_otp_http_xfer_t), log);
    if (x == NULL) {
        return NULL;
    }

    x->req.log = log;
    x->req.priv = x;
    x->req.rc = NGX_ERROR;

    return &x->req;
}


u_char *
ngx_http_otp_http_body(ngx_http_otp_http_req_t *req, size_t len)
{
    ngx_http_otp_http_xfer_t  *x;

    x = req->priv;

    if (x->body) {
        ngx_explicit_memzero(x->body, x->body_size);
        ngx_free(x->body);
        x->body = NULL;
    }

    /* one byte at least: an empty POST still has a body pointer */

    x->body = ngx_alloc(len ? len : 1, req->log);
    if (x->body == NULL) {
        return NULL;
    }

    x->body_size = len ? len : 1;

    req->body.data = x->body;
    req->body.len = len;

    return x->body;
}


void
ngx_http_otp_http_start(ngx_http_otp_http_conf_t *hcf,
    ngx_http_otp_http_req_t *req)
{
    CURLMcode                     mrc;
    ngx_http_otp_http_xfer_t     *x;
    ngx_http_otp_http_worker_t   *w;

    x = req->priv;

    x->start = ngx_current_msec;

    w = hcf ? hcf->worker : NULL;

    if (w == NULL) {
        ngx_http_otp_http_fail(x, NGX_OTP_DELIVERY_INTERNAL,
                               "http client not running");
        return;
    }

    x->worker = w;

    /* worker_shutdown_timeout has fired: nothing new starts */

    if (w->closing) {
        ngx_http_otp_http_fail(x, NGX_OTP_DELIVERY_ABORTED,
                               "worker is shutting down");
        return;
    }

    if (ngx_http_otp_http_setup(hcf, x) != NGX_OK) {
        ngx_http_otp_http_fail(x, NGX_OTP_DELIVERY_INTERNAL, NULL);
        return;
    }

    w->busy++;
    mrc = curl_multi_add_handle(w->multi, x->easy);
    w->busy--;

    if (mrc != CURLM_OK) {
        ngx_log_error(NGX_LOG_ERR, req->log, 0,
                      "otp http: curl_multi_add_handle() failed: %s",
                      curl_multi_strerror(mrc));
        ngx_http_otp_http_fail(x, NGX_OTP_DELIVERY_INTERNAL,
                               "cannot start transfer");
        return;
    }

    x->active = 1;
    ngx_queue_insert_tail(&w->active, &x->queue);
    w->nactive++;

    w->timer.cancelable = 0;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, req->log, 0,
                   "otp http: started %p, %ui in flight, body %uz",
                   req, w->nactive, req->body.len);
}


void
ngx_http_otp_http_cancel(ngx_http_otp_http_req_t *req)
{
    ngx_http_otp_http_xfer_t     *x;
    ngx_http_otp_http_worker_t   *w;

    x = req->priv;

    /* from inside its own handler it is freed on return anyway */

    if (req->cancelled || x->done) {
        return;
    }

    req->cancelled = 1;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, req->log, 0,
                   "otp http: cancel %p", req);

    w = x->worker;

    /* curl cannot take a removal from inside one of its callbacks */

    if (x->active && w->busy) {
        ngx_post_event(&w->sweep, &ngx_posted_events);
        return;
    }

    ngx_http_otp_http_free(x);
}


/*
 * curl's callbacks: they only record what curl wants; apart from
 * curl_multi_assign(), which curl allows here, they never call the multi
 * interface back, which would fail with CURLM_RECURSIVE_API_CALL.
 */

static int
ngx_http_otp_http_socket(CURL *easy, curl_socket_t s, int what, void *userp,
    void *socketp)
{
    ngx_event_t                  *rev, *wev;
    ngx_connection_t             *c, **sock;
    ngx_http_otp_http_worker_t   *w;

    w = userp;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, w->log, 0,
                   "otp http: socket %d what %d conn %p", s, what, socketp);

    /* socketp may be stale: the socket was closed through our callback */

    c = ngx_http_otp_http_sock(w, s, socketp);

    if (what == CURL_POLL_REMOVE) {

        /*
         * curl owns the fd and closes it itself, mostly later or through
         * our close callback; but curl 7.88 closes a socket still
         * connecting when its transfer is removed, and only then says
         * REMOVE.  The kernel dropped a closed fd's epoll registration
         * with it, and epoll_ctl() on it would fail: so the events are
         * only forgotten, as ngx_close_connection() does.
         */

        if (c) {
            if (fcntl(s, F_GETFD) == -1) {
                ngx_log_debug1(NGX_LOG_DEBUG_HTTP, w->log, 0,
                               "otp http: socket %d closed by curl already",
                               s);
                ngx_http_otp_http_close(c, NGX_CLOSE_EVENT);

            } else {
                ngx_http_otp_http_close(c, 0);
            }
        }

        if (socketp) {
            curl_multi_assign(w->multi, s, NULL);
        }

        return 0;
    }

    if (c == NULL) {
        sock = ngx_array_push(&w->socks);
        if (sock == NULL) {
            ngx_http_otp_http_mark_failed(w, easy, "out of memory");
            return 0;
        }

        c = ngx_get_connection(s, w->log);

        /*
         * Returning -1 would fail every transfer of the multi handle, so
         * only the one that asked is failed, from a posted event.
         */

        if (c == NULL) {
            w->socks.nelts--;
            ngx_http_otp_http_mark_failed(w, easy, "no free connection");
            return 0;
        }

        *sock = c;

        c->data = w;
        c->read->handler = ngx_http_otp_http_event_handler;
        c->write->handler = ngx_http_otp_http_event_handler;
        c->read->log = w->log;
        c->write->log = w->log;

        curl_multi_assign(w->multi, s, c);
    }

    rev = c->read;
    wev = c->write;

    /* level-triggered: curl does not always read a socket dry */

    if (what & CURL_POLL_IN) {
        if (!rev->active && ngx_add_event(rev, NGX_READ_EVENT, 0) != NGX_OK) {
            goto failed;
        }

    } else if (rev->active) {
        if (ngx_del_event(rev, NGX_READ_EVENT, 0) != NGX_OK) {
            goto failed;
        }

        if (rev->posted) {
            ngx_delete_posted_event(rev);
        }
    }

    if (what & CURL_POLL_OUT) {
        if (!wev->active && ngx_add_event(wev, NGX_WRITE_EVENT, 0) != NGX_OK) {
            goto failed;
        }

    } else if (wev->active) {
        if (ngx_del_event(wev, NGX_WRITE_EVENT, 0) != NGX_OK) {
            goto failed;
        }

        if (wev->posted) {
            ngx_delete_posted_event(wev);
        }
    }

    return 0;

failed:

    ngx_http_otp_http_mark_failed(w, easy, "cannot watch socket");

    return 0;
}


static int
ngx_http_otp_http_timer(CURLM *multi, long ms, void *userp)
{
    ngx_http_otp_http_worker_t  *w = userp;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, w->log, 0,
                   "otp http: curl timer %l", ms);

    /*
     * Deleted first: ngx_add_timer() keeps an old deadline that is less
     * than NGX_TIMER_LAZY_DELAY away, but curl may ask for an earlier one.
     * A 0 is served by the timer too, in this loop iteration, since curl
     * must not be called from here.
     */

    if (w->timer.timer_set) {
        ngx_del_timer(&w->timer);
    }

    if (ms >= 0) {
        ngx_add_timer(&w->timer, (ngx_msec_t) ms);
    }

    return 0;
}


size_t
ngx_http_otp_http_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    ngx_http_otp_http_xfer_t  *x = userdata;

    u_char                   *buf;
    size_t                    n, len, room, cap;
    ngx_http_otp_http_req_t  *req;

    req = &x->req;
    n = size * nmemb;

    if (req->truncated) {
        return n;
    }

    len = n;
    room = NGX_HTTP_OTP_HTTP_MAX_RESPONSE - req->response_len;

    if (len > room) {
        len = room;
        req->truncated = 1;
    }

    if (req->response_len + len > x->size) {

        /* one spare byte keeps the body a C string for the parsers */

        cap = ngx_max(x->size * 2, req->response_len + len);
        cap = ngx_max(cap, 1024);
        cap = ngx_min(cap, NGX_HTTP_OTP_HTTP_MAX_RESPONSE);

        buf = ngx_alloc(cap + 1, req->log);
        if (buf == NULL) {
            x->failed = 1;
            req->category = NGX_OTP_DELIVERY_INTERNAL;
            ngx_http_otp_http_set_error(req, "out of memory");
            return 0;
        }

        if (x->buf) {
            ngx_memcpy(buf, x->buf, req->response_len);
            ngx_free(x->buf);
        }

        x->buf = buf;
        x->size = cap;
    }

    ngx_memcpy(x->buf + req->response_len, ptr, len);
    req->response_len += len;

    return n;
}


/*
 * curl closes a socket: its events go first, while the fd is still open
 * (ngx_del_event() on a closed fd fails), then the fd; a later
 * CURL_POLL_REMOVE finds nothing left to do.
 */

int
ngx_http_otp_http_closesocket(void *clientp, curl_socket_t s)
{
    ngx_connection_t             *c;
    ngx_http_otp_http_worker_t   *w;

    w = clientp;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, w->log, 0,
                   "otp http: close socket %d", s);

    c = ngx_http_otp_http_sock(w, s, NULL);

    if (c) {
        ngx_http_otp_http_close(c, 0);
    }

    if (ngx_close_socket(s) == -1) {
        ngx_log_error(NGX_LOG_ALERT, w->log, ngx_socket_errno,
                      ngx_close_socket_n " %d failed", s);
        return 1;
    }

    return 0;
}


/* the connection that wraps s: c when it still does, or the one found */

static ngx_connection_t *
ngx_http_otp_http_sock(ngx_http_otp_http_worker_t *w, curl_socket_t s,
    ngx_connection_t *c)
{
    ngx_uint_t          i;
    ngx_connection_t  **sock;

    if (c && c->fd == (ngx_socket_t) s
        && c->read->handler == ngx_http_otp_http_event_handler)
    {
        return c;
    }

    sock = w->socks.elts;

    for (i = 0; i < w->socks.nelts; i++) {
        if (sock[i]->fd == (ngx_socket_t) s) {
            return sock[i];
        }
    }

    return NULL;
}


static void
ngx_http_otp_http_event_handler(ngx_event_t *ev)
{
    int                           running;
    CURLMcode                     mrc;
    ngx_socket_t                  fd;
    ngx_connection_t             *c;
    ngx_http_otp_http_worker_t   *w;

    c = ev->data;
    w = c->data;
    fd = c->fd;

    /* worker_shutdown_timeout: whatever is in flight gives up now */

    if (c->close) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ev->log, 0,
                       "otp http: close on %d, aborting all", fd);

        ngx_http_otp_http_abort_all(w);
        return;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ev->log, 0,
                   "otp http: %s event on %d", ev->write ? "write" : "read",
                   fd);

    /* c may be freed and reused once curl returns */

    w->busy++;
    mrc = curl_multi_socket_action(w->multi, fd,
                                   ev->write ? CURL_CSELECT_OUT
                                             : CURL_CSELECT_IN,
                                   &running);
    w->busy--;

    if (mrc != CURLM_OK) {
        ngx_log_error(NGX_LOG_ALERT, w->log, 0,
                      "otp http: curl_multi_socket_action() failed: %s",
                      curl_multi_strerror(mrc));
    }

    ngx_http_otp_http_read_info(w);
}


static void
ngx_http_otp_http_timer_handler(ngx_event_t *ev)
{
    int                           running;
    CURLMcode                     mrc;
    ngx_connection_t             *c;
    ngx_http_otp_http_worker_t   *w;

    c = ev->data;
    w = c->data;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ev->log, 0,
                   "otp http: curl timer fired, %ui in flight", w->nactive);

    w->busy++;
    mrc = curl_multi_socket_action(w->multi, CURL_SOCKET_TIMEOUT, 0,
                                   &running);
    w->busy--;

    if (mrc != CURLM_OK) {
        ngx_log_error(NGX_LOG_ALERT, w->log, 0,
                      "otp http: curl_multi_socket_action() failed: %s",
                      curl_multi_strerror(mrc));
    }

    ngx_http_otp_http_read_info(w);
}


/* transfers cancelled or failed inside a curl call, removed now */

static void
ngx_http_otp_http_sweep_handler(ngx_event_t *ev)
{
    ngx_queue_t                  *q, *next;
    ngx_connection_t             *c;
    ngx_http_otp_http_xfer_t     *x;
    ngx_http_otp_http_worker_t   *w;

    c = ev->data;
    w = c->data;

    for (q = ngx_queue_head(&w->active);
         q != ngx_queue_sentinel(&w->active);
         q = next)
    {
        next = ngx_queue_next(q);
        x = ngx_queue_data(q, ngx_http_otp_http_xfer_t, queue);

        if (x->req.cancelled) {
            ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ev->log, 0,
                           "otp http: sweep frees cancelled %p", &x->req);

            ngx_http_otp_http_free(x);
            continue;
        }

        if (x->failed) {
            ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ev->log, 0,
                           "otp http: sweep answers failed %p", &x->req);

            ngx_http_otp_http_finish(x, CURLE_OK);

            /* the handler may have freed any other transfer */

            next = ngx_queue_head(&w->active);
        }
    }
}


static void
ngx_http_otp_http_failed_handler(ngx_event_t *ev)
{
    ngx_http_otp_http_xfer_t  *x = ev->data;

    if (x->failing) {
        ngx_queue_remove(&x->queue);
        x->failing = 0;
    }

    x->req.rc = NGX_ERROR;
    x->req.elapsed = ngx_current_msec - x->start;
    x->done = 1;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, x->req.log, 0,
                   "otp http: answer failed %p: %s", &x->req, x->req.error);

    x->req.handler(&x->req);

    ngx_http_otp_http_free(x);
}


static void
ngx_http_otp_http_read_info(ngx_http_otp_http_worker_t *w)
{
    int                        left;
    CURL                      *easy;
    CURLMsg                   *msg;
    CURLcode                   code;
    ngx_http_otp_http_xfer_t  *x;

    for ( ;; ) {
        msg = curl_multi_info_read(w->multi, &left);

        if (msg == NULL) {
            break;
        }

        if (msg->msg != CURLMSG_DONE) {
            continue;
        }

        /* msg is gone once the handle is removed */

        easy = msg->easy_handle;
        code = msg->data.result;

        x = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **) &x);

        if (x == NULL) {
            continue;
        }

        ngx_http_otp_http_finish(x, code);
    }
}


static void
ngx_http_otp_http_finish(ngx_http_otp_http_xfer_t *x, CURLcode code)
{
    long                      status;
    u_char                   *p;
    size_t                    len;
    ngx_http_otp_http_req_t  *req;

    req = &x->req;

    status = 0;
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);

    /* the error buffer goes back with the easy handle */

    if (x->failed) {
        req->rc = NGX_ERROR;

    } else if (code == CURLE_OK) {
        req->rc = NGX_OK;

    } else {
        req->rc = NGX_ERROR;
        req->category = ngx_http_otp_http_category(code);

        if (x->errbuf[0]) {
            len = ngx_strlen(x->errbuf);

            while (len && (x->errbuf[len - 1] == '\n'
                           || x->errbuf[len - 1] == '\r'
                           || x->errbuf[len - 1] == ' '))
            {
                len--;
            }

            x->errbuf[len] = '\0';
            ngx_http_otp_http_set_error(req, x->errbuf);

        } else {
            ngx_http_otp_http_set_error(req, curl_easy_strerror(code));
        }
    }

    ngx_http_otp_http_detach(x);

    if (req->cancelled) {
        ngx_http_otp_http_free(x);
        return;
    }

    req->status = (status > 0) ? (ngx_uint_t) status : 0;
    req->elapsed = ngx_current_msec - x->start;

    if (x->buf) {
        p = x->buf;
        p[req->response_len] = '\0';
        req->response = p;

    } else {
        req->response = (u_char *) "";
        req->response_len = 0;
    }

    ngx_log_debug7(NGX_LOG_DEBUG_HTTP, req->log, 0,
                   "otp http: done %p rc:%i curl:%d status:%ui len:%uz%s "
                   "%Mms", req, req->rc, (int) code, req->status,
                   req->response_len, req->truncated ? " truncated" : "",
                   req->elapsed);

    x->done = 1;

    req->handler(req);

    ngx_http_otp_http_free(x);
}


/* what a client may be told of a transfer curl failed */

static ngx_uint_t
ngx_http_otp_http_category(CURLcode code)
{
    switch (code) {

    case CURLE_OPERATION_TIMEDOUT:
        return NGX_OTP_DELIVERY_TIMEOUT;

    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return NGX_OTP_DELIVERY_CONNECT_FAILED;

    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_USE_SSL_FAILED:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CLIENTCERT:
        return NGX_OTP_DELIVERY_TLS_FAILED;

    case CURLE_OUT_OF_MEMORY:
    case CURLE_FAILED_INIT:
    case CURLE_BAD_FUNCTION_ARGUMENT:
    case CURLE_UNKNOWN_OPTION:
    case CURLE_URL_MALFORMAT:
    case CURLE_WRITE_ERROR:
    case CURLE_ABORTED_BY_CALLBACK:
    case CURLE_UNRECOVERABLE_POLL:
        return NGX_OTP_DELIVERY_INTERNAL;

    default:
        /* no answer, half an answer, not HTTP: "Empty reply", HTTP/0.9 */
        return NGX_OTP_DELIVERY_BAD_RESPONSE;
    }
}


/*
 * c->close on one of curl's connections (ngx_http_otp_http.h): every
 * transfer is answered as aborted now, and nothing starts again.  A
 * handler may start a request meanwhile; start() fails it, from a posted
 * event, so the loop ends.
 */

static void
ngx_http_otp_http_abort_all(ngx_http_otp_http_worker_t *w)
{
    ngx_queue_t               *q;
    ngx_http_otp_http_xfer_t  *x;

    w->closing = 1;

    while (!ngx_queue_empty(&w->active)) {
        q = ngx_queue_head(&w->active);
        x = ngx_queue_data(q, ngx_http_otp_http_xfer_t, queue);

        if (!x->failed) {
            x->failed = 1;
            x->req.category = NGX_OTP_DELIVERY_ABORTED;
            ngx_http_otp_http_set_error(&x->req, "worker is shutting down");
        }

        ngx_http_otp_http_finish(x, CURLE_OK);
    }
}


/* fails a transfer that curl never saw, from a posted event */

static void
ngx_http_otp_http_fail(ngx_http_otp_http_xfer_t *x, ngx_uint_t category,
    const char *err)
{
    ngx_http_otp_http_worker_t  *w;

    if (err) {
        ngx_http_otp_http_set_error(&x->req, err);
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, x->req.log, 0,
                   "otp http: failed %p: %s", &x->req, x->req.error);

    ngx_http_otp_http_detach(x);

    x->req.rc = NGX_ERROR;
    x->req.category = category;

    /* only ever posted, never a timer: data need not be a connection */

    x->event.handler = ngx_http_otp_http_failed_handler;
    x->event.data = x;
    x->event.log = x->req.log;

    ngx_post_event(&x->event, &ngx_posted_events);

    /* so that exit_process finds it: posted events die with the process */

    w = x->worker;

    if (w) {
        ngx_queue_insert_tail(&w->failing, &x->queue);
        x->failing = 1;
    }
}


/* short and fixed, or curl's own words: no URL, no body, no credentials */

void
ngx_http_otp_http_set_error(ngx_http_otp_http_req_t *req, const char *err)
{
    size_t  len;

    len = ngx_min(ngx_strlen(err), sizeof(req->error) - 1);

    ngx_memcpy(req->error, err, len);
    req->error[len] = '\0';
    req->error_len = len;
}


static void
ngx_http_otp_http_mark_failed(ngx_http_otp_http_worker_t *w, CURL *easy,
    const char *err)
{
    ngx_http_otp_http_xfer_t  *x;

    ngx_log_error(NGX_LOG_ERR, w->log, 0, "otp http: %s", err);

    x = NULL;

    if (easy) {
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **) &x);
    }

    if (x == NULL || x->failed) {
        return;
    }

    x->failed = 1;
    x->req.category = NGX_OTP_DELIVERY_INTERNAL;
    ngx_http_otp_http_set_error(&x->req, err);

    ngx_post_event(&w->sweep, &ngx_posted_events);
}


/* gives the curl side of a transfer back; the request itself stays */

static void
ngx_http_otp_http_detach(ngx_http_otp_http_xfer_t *x)
{
    CURLMcode                     mrc;
    ngx_http_otp_http_worker_t   *w;

    w = x->worker;

    if (x->active) {
        w->busy++;
        mrc = curl_multi_remove_handle(w->multi, x->easy);
        w->busy--;

        if (mrc != CURLM_OK) {
            ngx_log_error(NGX_LOG_ALERT, w->log, 0,
                          "otp http: curl_multi_remove_handle() failed: %s",
                          curl_multi_strerror(mrc));
        }

        x->active = 0;
        ngx_queue_remove(&x->queue);
        w->nactive--;

        /* nothing in flight: nothing to wait for at a graceful exit */

        if (w->nactive == 0) {
            w->timer.cancelable = 1;
        }
    }

    if (x->easy) {
        if (w && w->nidle < NGX_HTTP_OTP_HTTP_IDLE) {
            curl_easy_reset(x->easy);
            w->idle[w->nidle++] = x->easy;

        } else {
            curl_easy_cleanup(x->easy);
        }

        x->easy = NULL;
    }

    if (x->url) {
        curl_url_cleanup(x->url);
        x->url = NULL;
    }

    if (x->headers) {
        curl_slist_free_all(x->headers);
        x->headers = NULL;
    }
}


static void
ngx_http_otp_http_free(ngx_http_otp_http_xfer_t *x)
{
    ngx_http_otp_http_detach(x);

    if (x->event.posted) {
        ngx_delete_posted_event(&x->event);
    }

    if (x->failing) {
        ngx_queue_remove(&x->queue);
        x->failing = 0;
    }

    /* the body holds a code, the answer may quote it; curl is done */

    if (x->body) {
        ngx_explicit_memzero(x->body, x->body_size);
        ngx_free(x->body);
    }

    if (x->buf) {
        ngx_explicit_memzero(x->buf, x->size + 1);
        ngx_free(x->buf);
    }

    ngx_free(x);
}


static void
ngx_http_otp_http_close(ngx_connection_t *c, ngx_uint_t flags)
{
    ngx_uint_t                    i;
    ngx_connection_t            **sock;
    ngx_http_otp_http_worker_t   *w;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "otp http: release socket %d", c->fd);

    w = c->data;
    sock = w->socks.elts;

    for (i = 0; i < w->socks.nelts; i++) {
        if (sock[i] == c) {
            sock[i] = sock[--w->socks.nelts];
            break;
        }
    }

    /* flags 0 while the fd is open; NGX_CLOSE_EVENT once it is closed */

    if (c->read->active) {
        ngx_del_event(c->read, NGX_READ_EVENT, flags);
    }

    if (c->write->active) {
        ngx_del_event(c->write, NGX_WRITE_EVENT, flags);
    }

    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }

    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }

    ngx_free_connection(c);

    /* or the exit would report it as an open socket left */

    c->fd = (ngx_socket_t) -1;
}
