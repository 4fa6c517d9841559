
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * Configuration and per-request state shared by the module's nginx glue.
 */


#ifndef _NGX_HTTP_OTP_MODULE_H_INCLUDED_
#define _NGX_HTTP_OTP_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_otp_core.h"
#include "ngx_http_otp_store.h"
#include "ngx_http_otp_provider.h"


#define NGX_HTTP_OTP_HANDLER_SEND     1
#define NGX_HTTP_OTP_HANDLER_VERIFY   2


typedef struct {
    ngx_uint_t                      count;        /* 0: no limit */
    ngx_msec_t                      window;
} ngx_http_otp_rate_t;


typedef struct {
    ngx_http_otp_store_conf_t       store;
    ngx_flag_t                      store_set;

    ngx_str_t                       secret;       /* otp_secret_file */
    ngx_str_t                       secret_file;

    ngx_array_t                     providers;    /* ngx_http_otp_provider_t */
    ngx_http_otp_http_conf_t        http;         /* the providers' client */
    ngx_array_t                     token_keys;   /* ngx_otp_jwt_key_t */

    ngx_uint_t                      used;         /* any otp handler */
} ngx_http_otp_main_conf_t;


typedef struct {
    ngx_uint_t                      handler;

    ngx_array_t                    *channels;     /* ngx_uint_t, in order */
    ngx_uint_t                      code_length;
    ngx_msec_t                      ttl;
    ngx_uint_t                      max_attempts;
    ngx_msec_t                      lockout;
    ngx_msec_t                      resend_after;
    ngx_http_otp_rate_t             send_limit;
    ngx_http_otp_rate_t             client_limit;
    size_t                          body_limit;
    ngx_str_t                       default_cc;

    time_t                          token_ttl;
    ngx_str_t                       token_issuer;
    ngx_str_t                       token_audience;
    ngx_str_t                       token_cookie;
} ngx_http_otp_loc_conf_t;


extern ngx_module_t  ngx_http_otp_module;


ngx_int_t ngx_http_otp_handler(ngx_http_request_t *r);

/* a secret or credential file, read at configuration time */
char *ngx_http_otp_read_file(ngx_conf_t *cf, ngx_str_t *path, size_t min,
    ngx_str_t *key);


#endif /* _NGX_HTTP_OTP_MODULE_H_INCLUDED_ */
