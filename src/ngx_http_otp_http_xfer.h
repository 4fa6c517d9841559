
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * The HTTPS client's worker and transfer, shared by
 * ngx_http_otp_http.c (the multi handle on nginx events, a
 * transfer's life) and ngx_http_otp_http_setup.c (a request made
 * into an easy handle).
 */


#ifndef _NGX_HTTP_OTP_HTTP_XFER_H_INCLUDED_
#define _NGX_HTTP_OTP_HTTP_XFER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <curl/curl.h>

#include "ngx_http_otp_http.h"


/* easy handles kept for reuse by a worker, reset between uses */
#define NGX_HTTP_OTP_HTTP_IDLE              8


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


/* ngx_http_otp_http.c */
size_t ngx_http_otp_http_write(char *ptr, size_t size, size_t nmemb,
    void *userdata);
int ngx_http_otp_http_closesocket(void *clientp, curl_socket_t s);
void ngx_http_otp_http_set_error(ngx_http_otp_http_req_t *req,
    const char *err);

/* ngx_http_otp_http_setup.c */
ngx_int_t ngx_http_otp_http_setup(ngx_http_otp_http_conf_t *hcf,
    ngx_http_otp_http_xfer_t *x);


#endif /* _NGX_HTTP_OTP_HTTP_XFER_H_INCLUDED_ */
