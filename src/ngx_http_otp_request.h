
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * What the endpoint files share: ngx_http_otp_request.c (entry, body,
 * fields, store operations, resumption), ngx_http_otp_answer.c (the JSON
 * answers) and one file per endpoint (ngx_http_otp_send.c,
 * ngx_http_otp_verify.c).
 */


#ifndef _NGX_HTTP_OTP_REQUEST_H_INCLUDED_
#define _NGX_HTTP_OTP_REQUEST_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_otp_module.h"


#define NGX_HTTP_OTP_FIELD_MAX      NGX_OTP_PHONE_INPUT_MAX


/* the endpoints: called with the whole body read; NGX_DONE while waiting */
ngx_int_t ngx_http_otp_send_request(ngx_http_request_t *r,
    ngx_http_otp_ctx_t *ctx);
ngx_int_t ngx_http_otp_verify_request(ngx_http_request_t *r,
    ngx_http_otp_ctx_t *ctx);

/* GET /otp/status/{id} (ngx_http_otp_status.c): its own entry, no body */
ngx_int_t ngx_http_otp_status_handler(ngx_http_request_t *r);

/*
 * Reads the body and the wanted fields, and normalises the phone (always
 * the first field).  Returns NGX_OK; NGX_DECLINED with *err describing a
 * bad input; or NGX_ERROR.
 */
ngx_int_t ngx_http_otp_parse(ngx_http_request_t *r, ngx_http_otp_ctx_t *ctx,
    ngx_otp_field_t *fields, ngx_uint_t n, ngx_http_otp_err_t **err);

/*
 * r->request_body as one contiguous string (a pool copy unless it is one
 * buffer in memory); no body is an empty one with data NULL.  Returns
 * NGX_OK; NGX_DECLINED when it is over limit bytes; or NGX_ERROR.
 */
/* the pool cleanup that holds a request's ctx (and cancels what it
 * waits for) */
void ngx_http_otp_cleanup(void *data);

ngx_int_t ngx_http_otp_read_body(ngx_http_request_t *r, ngx_str_t *body,
    size_t limit);

/*
 * A store operation on the request's behalf: op_create() allocates it with
 * its handler; op_start() starts it and returns NGX_DONE (the request
 * waits, and its cleanup cancels the operation if the client goes away).
 * The handler begins with op_done(), which gives the request back its log
 * context and returns the request's ctx.
 */
ngx_http_otp_store_op_t *ngx_http_otp_op_create(ngx_http_request_t *r,
    ngx_http_otp_op_type_e type, ngx_http_otp_store_handler_pt handler);
ngx_int_t ngx_http_otp_op_keys(ngx_http_request_t *r,
    ngx_http_otp_ctx_t *ctx, ngx_http_otp_store_op_t *op, ngx_uint_t code);
ngx_int_t ngx_http_otp_op_start(ngx_http_request_t *r,
    ngx_http_otp_ctx_t *ctx, ngx_http_otp_store_op_t *op);
ngx_http_otp_ctx_t *ngx_http_otp_op_done(ngx_http_otp_store_op_t *op);

/* finalizes a request that waited, and runs what that posted */
void ngx_http_otp_resume(ngx_http_request_t *r, ngx_int_t rc);


/* ngx_http_otp_answer.c; error and message are constants, not escaped */
ngx_int_t ngx_http_otp_json(ngx_http_request_t *r, ngx_uint_t status,
    u_char *body, size_t len);
ngx_int_t ngx_http_otp_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *error, const char *message);
ngx_int_t ngx_http_otp_rate_limited(ngx_http_request_t *r,
    const char *error, const char *message, ngx_msec_t retry_after);
ngx_int_t ngx_http_otp_not_allowed(ngx_http_request_t *r, const char *allow,
    const char *message);
ngx_int_t ngx_http_otp_store_unavailable(ngx_http_request_t *r);
ngx_int_t ngx_http_otp_add_header(ngx_http_request_t *r, const char *key,
    ngx_str_t *value);


/* the token cookie's Secure attribute (ngx_http_otp_verify.c; logout too) */
ngx_uint_t ngx_http_otp_cookie_secure(ngx_http_request_t *r,
    ngx_http_otp_loc_conf_t *olcf);


#endif /* _NGX_HTTP_OTP_REQUEST_H_INCLUDED_ */
