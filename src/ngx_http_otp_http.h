
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * The HTTPS client the providers use: libcurl's multi-socket API driven by
 * the worker's nginx event loop, one multi handle per worker, connections
 * reused between requests.  Providers only build a request and read the
 * answer; nothing here blocks the worker.
 *
 * Lifetime: a request is allocated with ngx_http_otp_http_create() outside
 * any request pool.  ngx_http_otp_http_start() always answers exactly once,
 * from the event loop and never from inside start(), by calling
 * req->handler; the request (and its response buffer) is freed after the
 * handler returns.  ngx_http_otp_http_cancel() makes the handler never be
 * called; the transfer is aborted and freed by the client.
 *
 * The body is the request's own: it may hold a code, so it is written
 * into the buffer ngx_http_otp_http_body() gives (or copied there by
 * start()), handed to curl as it is (CURLOPT_POSTFIELDS, no copy of
 * curl's), and wiped when the request is freed, however it ends.
 *
 * A worker that exits.  c->close on a live worker (worker_shutdown_timeout
 * sets it on every connection, curl's sockets among them): the client
 * closes the connection, answers every pending request as failed
 * (NGX_OTP_DELIVERY_ABORTED) from that event, and from then on answers
 * any new request the same way, from a posted event, without starting it;
 * it retries nothing, ever.  exit_process: anything still pending
 * (in curl, or failed and not yet answered) is freed without calling its
 * handler; no handler runs after exit_process starts.  A graceful
 * shutdown alone (ngx_exiting) aborts nothing: the curl timer holds the
 * worker until every transfer in flight is answered.
 */


#ifndef _NGX_HTTP_OTP_HTTP_H_INCLUDED_
#define _NGX_HTTP_OTP_HTTP_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_otp_core.h"


#define NGX_HTTP_OTP_HTTP_MAX_HEADERS    8
#define NGX_HTTP_OTP_HTTP_MAX_RESPONSE   (64 * 1024)


typedef struct ngx_http_otp_http_req_s  ngx_http_otp_http_req_t;

typedef void (*ngx_http_otp_http_handler_pt)(ngx_http_otp_http_req_t *req);


/* per http{} block; directives otp_http_* fill it */
typedef struct {
    ngx_msec_t                      timeout;          /* whole transfer */
    ngx_msec_t                      connect_timeout;
    ngx_str_t                       ca_file;          /* "" = system CAs */
    ngx_flag_t                      verify;           /* TLS peer check */
    ngx_uint_t                      max_connections;  /* per worker */
    ngx_array_t                    *resolve;  /* "host:port:addr", C str */
    void                           *worker;           /* per-worker state */
} ngx_http_otp_http_conf_t;


struct ngx_http_otp_http_req_s {
    /* input: copied by start(), nothing else is kept (the body: above) */
    const char                     *method;           /* "GET", "POST" */
    ngx_str_t                       url;
    ngx_str_t                       headers[NGX_HTTP_OTP_HTTP_MAX_HEADERS];
    ngx_uint_t                      nheaders;         /* "Name: value" */
    ngx_str_t                       body;     /* see ngx_http_otp_http_body */
    ngx_str_t                       userpwd;          /* basic auth */
    ngx_msec_t                      timeout;          /* 0: conf's */

    /* output */
    ngx_int_t                       rc;       /* NGX_OK: an HTTP answer */
    ngx_uint_t                      status;   /* HTTP status */
    u_char                         *response; /* body, capped */
    size_t                          response_len;
    unsigned                        truncated:1;
    ngx_uint_t                      category; /* NGX_OTP_DELIVERY_*, with
                                                 rc NGX_ERROR */
    u_char                          error[128]; /* curl's words: for the
                                                   log, never a client */
    size_t                          error_len;
    ngx_msec_t                      elapsed;

    ngx_http_otp_http_handler_pt    handler;
    void                           *data;
    ngx_log_t                      *log;

    void                           *priv;     /* the client's */
    unsigned                        cancelled:1;
};


/*
 * Names are resolved when the configuration is read, as proxy_pass does
 * for a literal host, and pinned with CURLOPT_RESOLVE: a worker never
 * resolves.  A provider registers each base URL it will use; a request to
 * a host that is neither registered nor an IP literal fails at once.
 */
ngx_int_t ngx_http_otp_http_add_host(ngx_conf_t *cf,
    ngx_http_otp_http_conf_t *hcf, ngx_str_t *url);

/* ngx_http_otp_curl_mem.c: libcurl's global init, with a wiping allocator */
ngx_int_t ngx_http_otp_curl_global_init(void);

ngx_int_t ngx_http_otp_http_init_process(ngx_cycle_t *cycle,
    ngx_http_otp_http_conf_t *hcf);
void ngx_http_otp_http_exit_process(ngx_cycle_t *cycle,
    ngx_http_otp_http_conf_t *hcf);

ngx_http_otp_http_req_t *ngx_http_otp_http_create(ngx_log_t *log);

/*
 * A buffer of len bytes for the body, owned by req: req->body is set to
 * it, and it is wiped and freed with req.  NULL when out of memory.
 */
u_char *ngx_http_otp_http_body(ngx_http_otp_http_req_t *req, size_t len);

void ngx_http_otp_http_start(ngx_http_otp_http_conf_t *hcf,
    ngx_http_otp_http_req_t *req);
void ngx_http_otp_http_cancel(ngx_http_otp_http_req_t *req);


#endif /* _NGX_HTTP_OTP_HTTP_H_INCLUDED_ */
