
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
 */


#ifndef _NGX_HTTP_OTP_HTTP_H_INCLUDED_
#define _NGX_HTTP_OTP_HTTP_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


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
    /* input: everything is copied by start(), nothing else is kept */
    const char                     *method;           /* "GET", "POST" */
    ngx_str_t                       url;
    ngx_str_t                       headers[NGX_HTTP_OTP_HTTP_MAX_HEADERS];
    ngx_uint_t                      nheaders;         /* "Name: value" */
    ngx_str_t                       body;
    ngx_str_t                       userpwd;          /* basic auth */
    ngx_msec_t                      timeout;          /* 0: conf's */

    /* output */
    ngx_int_t                       rc;       /* NGX_OK: an HTTP answer */
    ngx_uint_t                      status;   /* HTTP status */
    u_char                         *response; /* body, capped */
    size_t                          response_len;
    unsigned                        truncated:1;
    u_char                          error[128]; /* transport error */
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

ngx_int_t ngx_http_otp_http_init_process(ngx_cycle_t *cycle,
    ngx_http_otp_http_conf_t *hcf);
void ngx_http_otp_http_exit_process(ngx_cycle_t *cycle,
    ngx_http_otp_http_conf_t *hcf);

ngx_http_otp_http_req_t *ngx_http_otp_http_create(ngx_log_t *log);
void ngx_http_otp_http_start(ngx_http_otp_http_conf_t *hcf,
    ngx_http_otp_http_req_t *req);
void ngx_http_otp_http_cancel(ngx_http_otp_http_req_t *req);


#endif /* _NGX_HTTP_OTP_HTTP_H_INCLUDED_ */
