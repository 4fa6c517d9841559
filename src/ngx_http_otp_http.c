
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
 * a socket it is still connecting before it says CURL_POLL_REMOVE.  Finished transfers are collected with curl_multi_info_read()
 * after socket_action() has returned, so a request's handler, and whatever
 * it starts or cancels, never runs inside a curl callback.
 *
 * Names are resolved in the master when the configuration is read and
 * pinned with CURLOPT_RESOLVE; a request for any other name fails before
 * it reaches curl, and a resolver start callback refuses any lookup that
 * slips through, so a worker never resolves and libcurl never starts its
 * resolver thread.
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

#include "ngx_http_otp_http.h"


/* defaults for a conf left unset or 0 */
#define NGX_HTTP_OTP_HTTP_TIMEOUT           10000
#define NGX_HTTP_OTP_HTTP_CONNECT_TIMEOUT   3000
#define NGX_HTTP_OTP_HTTP_MAX_CONNECTIONS   64

/* easy handles kept for reuse by a worker, reset between uses */
#define NGX_HTTP_OTP_HTTP_IDLE              8

#define NGX_HTTP_OTP_HTTP_METHOD_LEN        16
#define NGX_HTTP_OTP_HTTP_AGENT             "ngx_http_otp_module"

typedef struct {
    CURLM                          *multi;
    struct curl_slist              *resolve;
    char                           *ca_file;      /* NULL: system CAs */
    ngx_log_t                      *log;

    ngx_event_t                     timer;        /* curl's deadlines */
    ngx_event_t                     sweep;        /* deferred removals */
    ngx_connection_t                dummy;        /* data of both events */

    ngx_queue_t                     active;       /* in the multi handle */
    ngx_uint_t                      nactive;
    ngx_queue_t                     failing;      /* answers posted */

    CURL                           *idle[NGX_HTTP_OTP_HTTP_IDLE];
    ngx_uint_t                      nidle;

    ngx_array_t                     socks;        /* curl's, wrapped */

    ngx_uint_t                      busy;         /* inside a curl call */
    unsigned                        closing:1;    /* c->close was seen */
} ngx_http_otp_http_worker_t;


typedef struct {
    ngx_http_otp_http_req_t         req;          /* what the caller sees */

    ngx_http_otp_http_worker_t     *worker;
    CURL                           *easy;
    CURLU                          *url;
    struct curl_slist              *headers;
    ngx_queue_t                     queue;
    ngx_event_t                     event;        /* failures before curl */

    u_char                         *buf;
    size_t                          size;

    u_char                         *body;         /* req->body, ours */
    size_t                          body_size;

    ngx_msec_t                      start;
    char                            errbuf[CURL_ERROR_SIZE];

    unsigned                        active:1;     /* in the multi handle */
    unsigned                        failing:1;    /* in worker's failing */
    unsigned                        failed:1;     /* error set by us */
    unsigned                        done:1;       /* handler called */
} ngx_http_otp_http_xfer_t;


static ngx_int_t ngx_http_otp_http_setup(ngx_http_otp_http_conf_t *hcf,
    ngx_http_otp_http_xfer_t *x);
static ngx_int_t ngx_http_otp_http_setup_url(ngx_http_otp_http_conf_t *hcf,
    ngx_http_otp_http_xfer_t *x, u_char *tmp, ngx_uint_t *literal);
static ngx_int_t ngx_http_otp_http_setup_request(ngx_http_otp_http_xfer_t *x,
    u_char *tmp);
static ngx_int_t ngx_http_otp_http_literal(u_char *host, size_t len);
static ngx_int_t ngx_http_otp_http_pinned(ngx_http_otp_http_conf_t *hcf,
    u_char *host, size_t len, u_char *port);

static int ngx_http_otp_http_socket(CURL *easy, curl_socket_t s, int what,
    void *userp, void *socketp);
static int ngx_http_otp_http_timer(CURLM *multi, long ms, void *userp);
static size_t ngx_http_otp_http_write(char *ptr, size_t size, size_t nmemb,
    void *userdata);
static int ngx_http_otp_http_closesocket(void *clientp, curl_socket_t s);
static ngx_connection_t *ngx_http_otp_http_sock(ngx_http_otp_http_worker_t *w,
    curl_socket_t s, ngx_connection_t *c);
static int ngx_http_otp_http_no_resolve(void *resolver, void *reserved,
    void *userdata);

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
static void ngx_http_otp_http_set_error(ngx_http_otp_http_req_t *req,
    const char *err);
static void ngx_http_otp_http_mark_failed(ngx_http_otp_http_worker_t *w,
    CURL *easy, const char *err);
static void ngx_http_otp_http_detach(ngx_http_otp_http_xfer_t *x);
static void ngx_http_otp_http_free(ngx_http_otp_http_xfer_t *x);
static void ngx_http_otp_http_close(ngx_connection_t *c, ngx_uint_t flags);



static ngx_uint_t  ngx_http_otp_http_curl_ready;


ngx_int_t
ngx_http_otp_http_add_host(ngx_conf_t *cf, ngx_http_otp_http_conf_t *hcf,
    ngx_str_t *url)
{
    u_char      *p, *last, *s, *e, *entry;
    size_t       len, n;
    in_port_t    port;
    ngx_url_t    u;
    ngx_uint_t   i;
    u_char     **resolve, **elt;
    u_char       text[NGX_SOCKADDR_STRLEN];

    p = url->data;
    last = p + url->len;

    if (url->len > 7 && ngx_strncasecmp(p, (u_char *) "http://", 7) == 0) {
        p += 7;
        port = 80;

    } else if (url->len > 8
               && ngx_strncasecmp(p, (u_char *) "https://", 8) == 0)
    {
        p += 8;
        port = 443;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid scheme in otp http url \"%V\"", url);
        return NGX_ERROR;
    }

    /* credentials belong in the request, where they are never logged */

    for (s = p; s < last && *s != '/' && *s != '?' && *s != '#'; s++) {
        if (*s == '@') {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "credentials in otp http url \"%V\"", url);
            return NGX_ERROR;
        }
    }

    ngx_memzero(&u, sizeof(ngx_url_t));

    u.url.data = p;
    u.url.len = s - p;
    u.default_port = port;

    /* like proxy_pass: the master resolves while reading the config */

    if (ngx_parse_url(cf->pool, &u) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "%s in otp http url \"%V\"",
                           u.err ? u.err : "invalid host", url);
        return NGX_ERROR;
    }

    if (ngx_http_otp_http_literal(u.host.data, u.host.len) == NGX_OK) {
        return NGX_OK;
    }

    len = u.host.len;

    /* curl drops a trailing dot before it looks the name up */

    if (len > 1 && u.host.data[len - 1] == '.') {
        len--;
    }

    for (i = 0; i < len; i++) {
        if (!((u.host.data[i] >= 'a' && u.host.data[i] <= 'z')
              || (u.host.data[i] >= 'A' && u.host.data[i] <= 'Z')
              || (u.host.data[i] >= '0' && u.host.data[i] <= '9')
              || u.host.data[i] == '.' || u.host.data[i] == '-'
              || u.host.data[i] == '_'))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid host in otp http url \"%V\"", url);
            return NGX_ERROR;
        }
    }

    if (len > 253 || u.naddrs == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid host in otp http url \"%V\"", url);
        return NGX_ERROR;
    }

    /* "host:port:addr,[addr6],...", the host in lower case as curl keys */

    n = len + sizeof(":65535:") + u.naddrs * (NGX_SOCKADDR_STRLEN + 3);

    entry = ngx_pnalloc(cf->pool, n);
    if (entry == NULL) {
        return NGX_ERROR;
    }

    ngx_strlow(entry, u.host.data, len);
    e = ngx_sprintf(entry + len, ":%d:", (int) u.port);

    if (hcf->resolve == NULL) {
        hcf->resolve = ngx_array_create(cf->pool, 4, sizeof(u_char *));
        if (hcf->resolve == NULL) {
            return NGX_ERROR;
        }
    }

    resolve = hcf->resolve->elts;

    for (i = 0; i < hcf->resolve->nelts; i++) {
        if (ngx_strncmp(resolve[i], entry, e - entry) == 0) {
            return NGX_OK;
        }
    }

    for (i = 0; i < u.naddrs; i++) {
        n = ngx_sock_ntop(u.addrs[i].sockaddr, u.addrs[i].socklen, text,
                          NGX_SOCKADDR_STRLEN, 0);

        if (i > 0) {
            *e++ = ',';
        }

        if (u.addrs[i].sockaddr->sa_family == AF_INET6) {
            e = ngx_sprintf(e, "[%*s]", n, text);

        } else {
            e = ngx_cpymem(e, text, n);
        }
    }

    *e = '\0';

    elt = ngx_array_push(hcf->resolve);
    if (elt == NULL) {
        return NGX_ERROR;
    }

    *elt = entry;

    return NGX_OK;
}


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


static ngx_int_t
ngx_http_otp_http_setup(ngx_http_otp_http_conf_t *hcf,
    ngx_http_otp_http_xfer_t *x)
{
    size_t                        len;
    u_char                       *tmp;
    ngx_int_t                     rc;
    ngx_uint_t                    i, literal;
    ngx_msec_t                    timeout, connect_timeout;
    ngx_http_otp_http_req_t      *req;
    ngx_http_otp_http_worker_t   *w;

    req = &x->req;
    w = x->worker;

    if (req->nheaders > NGX_HTTP_OTP_HTTP_MAX_HEADERS) {
        ngx_http_otp_http_set_error(req, "too many headers");
        return NGX_ERROR;
    }

    /* one scratch buffer for the C strings, which curl copies */

    len = ngx_max(req->url.len, req->userpwd.len);

    for (i = 0; i < req->nheaders; i++) {
        len = ngx_max(len, req->headers[i].len);
    }

    tmp = ngx_alloc(len + 1, req->log);
    if (tmp == NULL) {
        ngx_http_otp_http_set_error(req, "out of memory");
        return NGX_ERROR;
    }

    rc = ngx_http_otp_http_setup_url(hcf, x, tmp, &literal);

    if (rc != NGX_OK) {
        goto done;
    }

    rc = NGX_ERROR;

    if (w->nidle) {
        x->easy = w->idle[--w->nidle];

    } else {
        x->easy = curl_easy_init();
        if (x->easy == NULL) {
            ngx_http_otp_http_set_error(req, "out of memory");
            goto done;
        }
    }

    x->errbuf[0] = '\0';

    /*
     * A transfer always has a deadline: the curl timer that carries it is
     * what holds a graceful shutdown until the transfer is answered.
     */

    timeout = req->timeout ? req->timeout : hcf->timeout;

    if (timeout == 0 || timeout == NGX_CONF_UNSET_MSEC) {
        timeout = NGX_HTTP_OTP_HTTP_TIMEOUT;
    }

    connect_timeout = hcf->connect_timeout;

    if (connect_timeout == 0 || connect_timeout == NGX_CONF_UNSET_MSEC) {
        connect_timeout = ngx_min(timeout, NGX_HTTP_OTP_HTTP_CONNECT_TIMEOUT);
    }

    /* no proxy: one from the environment would be a name to resolve */

    if (curl_easy_setopt(x->easy, CURLOPT_CURLU, x->url) != CURLE_OK
        || curl_easy_setopt(x->easy, CURLOPT_PROTOCOLS_STR, "http,https")
           != CURLE_OK
        || curl_easy_setopt(x->easy, CURLOPT_REDIR_PROTOCOLS_STR,
                            "http,https")
           != CURLE_OK
        || curl_easy_setopt(x->easy, CURLOPT_USERAGENT,
                            NGX_HTTP_OTP_HTTP_AGENT)
           != CURLE_OK
        || curl_easy_setopt(x->easy, CURLOPT_PROXY, "") != CURLE_OK)
    {
        ngx_http_otp_http_set_error(req, "out of memory");
        goto done;
    }

    curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
    curl_easy_setopt(x->easy, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(x->easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION,
                     ngx_http_otp_http_write);
    curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, (long) timeout);
    curl_easy_setopt(x->easy, CURLOPT_CONNECTTIMEOUT_MS,
                     (long) connect_timeout);

    if (w->resolve) {
        curl_easy_setopt(x->easy, CURLOPT_RESOLVE, w->resolve);
    }

    if (!literal) {
        curl_easy_setopt(x->easy, CURLOPT_RESOLVER_START_FUNCTION,
                         ngx_http_otp_http_no_resolve);
        curl_easy_setopt(x->easy, CURLOPT_RESOLVER_START_DATA, x);
    }

    curl_easy_setopt(x->easy, CURLOPT_CLOSESOCKETFUNCTION,
                     ngx_http_otp_http_closesocket);
    curl_easy_setopt(x->easy, CURLOPT_CLOSESOCKETDATA, w);

    curl_easy_setopt(x->easy, CURLOPT_SSL_VERIFYPEER, hcf->verify ? 1L : 0L);
    curl_easy_setopt(x->easy, CURLOPT_SSL_VERIFYHOST, hcf->verify ? 2L : 0L);

    if (w->ca_file) {
        /* the file alone is trusted, as proxy_ssl_trusted_certificate */

        if (curl_easy_setopt(x->easy, CURLOPT_CAINFO, w->ca_file)
            != CURLE_OK)
        {
            ngx_http_otp_http_set_error(req, "out of memory");
            goto done;
        }

        curl_easy_setopt(x->easy, CURLOPT_CAPATH, NULL);
    }

    rc = ngx_http_otp_http_setup_request(x, tmp);

done:

    if (req->userpwd.len) {
        ngx_explicit_memzero(tmp, len + 1);
    }

    ngx_free(tmp);

    return rc;
}


static ngx_int_t
ngx_http_otp_http_setup_url(ngx_http_otp_http_conf_t *hcf,
    ngx_http_otp_http_xfer_t *x, u_char *tmp, ngx_uint_t *literal)
{
    char                     *scheme, *host, *port, *part;
    size_t                    len;
    ngx_int_t                 rc;
    ngx_http_otp_http_req_t  *req;

    req = &x->req;

    if (req->url.len == 0
        || ngx_strlchr(req->url.data, req->url.data + req->url.len, '\0'))
    {
        ngx_http_otp_http_set_error(req, "invalid url");
        return NGX_ERROR;
    }

    ngx_memcpy(tmp, req->url.data, req->url.len);
    tmp[req->url.len] = '\0';

    x->url = curl_url();
    if (x->url == NULL) {
        ngx_http_otp_http_set_error(req, "out of memory");
        return NGX_ERROR;
    }

    /* curl is handed this very parse, so what is checked is what is used */

    if (curl_url_set(x->url, CURLUPART_URL, (char *) tmp, 0) != CURLUE_OK) {
        ngx_http_otp_http_set_error(req, "invalid url");
        return NGX_ERROR;
    }

    if (curl_url_get(x->url, CURLUPART_USER, &part, 0) == CURLUE_OK) {
        curl_free(part);
        ngx_http_otp_http_set_error(req, "credentials in url");
        return NGX_ERROR;
    }

    if (curl_url_get(x->url, CURLUPART_PASSWORD, &part, 0) == CURLUE_OK) {
        curl_free(part);
        ngx_http_otp_http_set_error(req, "credentials in url");
        return NGX_ERROR;
    }

    scheme = NULL;
    host = NULL;
    port = NULL;

    rc = NGX_ERROR;

    if (curl_url_get(x->url, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK
        || curl_url_get(x->url, CURLUPART_HOST, &host, 0) != CURLUE_OK
        || curl_url_get(x->url, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT)
           != CURLUE_OK)
    {
        ngx_http_otp_http_set_error(req, "invalid url");
        goto done;
    }

    if (ngx_strcmp(scheme, "http") != 0 && ngx_strcmp(scheme, "https") != 0)
    {
        ngx_http_otp_http_set_error(req, "unsupported scheme");
        goto done;
    }

    len = ngx_strlen(host);

    if (ngx_http_otp_http_literal((u_char *) host, len) == NGX_OK) {
        *literal = 1;
        rc = NGX_OK;
        goto done;
    }

    *literal = 0;

    if (len > 1 && host[len - 1] == '.') {
        len--;
    }

    if (ngx_http_otp_http_pinned(hcf, (u_char *) host, len, (u_char *) port)
        != NGX_OK)
    {
        ngx_http_otp_http_set_error(req, "host not configured");
        goto done;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, req->log, 0,
                   "otp http: start %s:%s", host, port);

    rc = NGX_OK;

done:

    curl_free(scheme);
    curl_free(host);
    curl_free(port);

    return rc;
}


static ngx_int_t
ngx_http_otp_http_setup_request(ngx_http_otp_http_xfer_t *x, u_char *tmp)
{
    size_t                    len;
    u_char                   *p;
    const char               *method;
    ngx_uint_t                i;
    ngx_str_t                *h;
    struct curl_slist        *list;
    ngx_http_otp_http_req_t  *req;

    req = &x->req;

    method = req->method;

    if (method == NULL) {
        method = req->body.len ? "POST" : "GET";
    }

    len = ngx_strlen(method);

    if (len == 0 || len > NGX_HTTP_OTP_HTTP_METHOD_LEN) {
        goto bad_method;
    }

    for (i = 0; i < len; i++) {
        if (method[i] < 'A' || method[i] > 'Z') {
            goto bad_method;
        }
    }

    if (ngx_strcmp(method, "GET") == 0 && req->body.len == 0) {
        curl_easy_setopt(x->easy, CURLOPT_HTTPGET, 1L);

    } else if (ngx_strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(x->easy, CURLOPT_NOBODY, 1L);

    } else {
        /*
         * curl reads the body from our buffer, which is wiped when the
         * request is freed: COPYPOSTFIELDS would leave a copy of it, and
         * of the code in it, in memory curl frees as it is
         */

        if (x->body == NULL || req->body.data != x->body) {
            p = req->body.data;

            if (ngx_http_otp_http_body(req, req->body.len) == NULL) {
                ngx_http_otp_http_set_error(req, "out of memory");
                return NGX_ERROR;
            }

            if (req->body.len) {
                ngx_memcpy(x->body, p, req->body.len);
            }
        }

        curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t) req->body.len);
        curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, (char *) x->body);

        if (ngx_strcmp(method, "POST") != 0) {
            curl_easy_setopt(x->easy, CURLOPT_CUSTOMREQUEST, method);
        }
    }

    /* a provider that ignores "Expect" would cost a second per request */

    list = curl_slist_append(NULL, "Expect:");
    if (list == NULL) {
        ngx_http_otp_http_set_error(req, "out of memory");
        return NGX_ERROR;
    }

    x->headers = list;

    for (i = 0; i < req->nheaders; i++) {
        h = &req->headers[i];

        for (p = h->data; p < h->data + h->len; p++) {
            if (*p == CR || *p == LF || *p == '\0') {
                ngx_http_otp_http_set_error(req, "invalid header");
                return NGX_ERROR;
            }
        }

        if (h->len == 0 || ngx_strlchr(h->data, h->data + h->len, ':') == NULL)
        {
            ngx_http_otp_http_set_error(req, "invalid header");
            return NGX_ERROR;
        }

        ngx_memcpy(tmp, h->data, h->len);
        tmp[h->len] = '\0';

        list = curl_slist_append(x->headers, (char *) tmp);
        if (list == NULL) {
            ngx_http_otp_http_set_error(req, "out of memory");
            return NGX_ERROR;
        }

        x->headers = list;
    }

    curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->headers);

    if (req->userpwd.len) {
        if (ngx_strlchr(req->userpwd.data,
                        req->userpwd.data + req->userpwd.len, '\0'))
        {
            ngx_http_otp_http_set_error(req, "invalid credentials");
            return NGX_ERROR;
        }

        ngx_memcpy(tmp, req->userpwd.data, req->userpwd.len);
        tmp[req->userpwd.len] = '\0';

        if (curl_easy_setopt(x->easy, CURLOPT_USERPWD, tmp) != CURLE_OK) {
            ngx_http_otp_http_set_error(req, "out of memory");
            return NGX_ERROR;
        }

        curl_easy_setopt(x->easy, CURLOPT_HTTPAUTH, (long) CURLAUTH_BASIC);
    }

    return NGX_OK;

bad_method:

    ngx_http_otp_http_set_error(req, "invalid method");

    return NGX_ERROR;
}


/* an address curl connects to without looking anything up */

static ngx_int_t
ngx_http_otp_http_literal(u_char *host, size_t len)
{
    u_char           *p;
    u_char            buf[NGX_INET6_ADDRSTRLEN + 1];
    struct in_addr    in;
#if (NGX_HAVE_INET6)
    struct in6_addr   in6;
#endif

    if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
        host++;
        len -= 2;

        /* a zone id goes to the socket, not to the lookup */

        p = ngx_strlchr(host, host + len, '%');
        if (p) {
            len = p - host;
        }

        if (len == 0 || len > NGX_INET6_ADDRSTRLEN) {
            return NGX_DECLINED;
        }

        ngx_memcpy(buf, host, len);
        buf[len] = '\0';

#if (NGX_HAVE_INET6)
        if (inet_pton(AF_INET6, (char *) buf, &in6) == 1) {
            return NGX_OK;
        }
#endif

        return NGX_DECLINED;
    }

    if (len == 0 || len > NGX_INET6_ADDRSTRLEN) {
        return NGX_DECLINED;
    }

    ngx_memcpy(buf, host, len);
    buf[len] = '\0';

    if (inet_pton(AF_INET, (char *) buf, &in) == 1) {
        return NGX_OK;
    }

    return NGX_DECLINED;
}


static ngx_int_t
ngx_http_otp_http_pinned(ngx_http_otp_http_conf_t *hcf, u_char *host,
    size_t len, u_char *port)
{
    u_char      **resolve, *e;
    size_t        n;
    ngx_uint_t    i;

    if (hcf->resolve == NULL) {
        return NGX_DECLINED;
    }

    n = ngx_strlen(port);
    resolve = hcf->resolve->elts;

    for (i = 0; i < hcf->resolve->nelts; i++) {
        e = resolve[i];

        if (ngx_strncasecmp(e, host, len) == 0
            && e[len] == ':'
            && ngx_strncmp(e + len + 1, port, n) == 0
            && e[len + 1 + n] == ':')
        {
            return NGX_OK;
        }
    }

    return NGX_DECLINED;
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


static size_t
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

static int
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


static int
ngx_http_otp_http_no_resolve(void *resolver, void *reserved, void *userdata)
{
    ngx_http_otp_http_xfer_t  *x = userdata;

    ngx_log_error(NGX_LOG_ERR, x->req.log, 0,
                  "otp http: refused a name lookup in the worker");

    return 1;
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

static void
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
