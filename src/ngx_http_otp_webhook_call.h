
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * A provider's webhook call, shared by ngx_http_otp_webhook.c (the
 * content handler, status callbacks), ngx_http_otp_webhook_message.c
 * (incoming messages, the forward) and ngx_http_otp_webhook_help.c (HELP
 * replies).
 */


#ifndef _NGX_HTTP_OTP_WEBHOOK_CALL_H_INCLUDED_
#define _NGX_HTTP_OTP_WEBHOOK_CALL_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_otp_module.h"


typedef struct {
    ngx_http_otp_provider_t        *provider;
    ngx_uint_t                      next_status;
    ngx_uint_t                      next_message;
    ngx_otp_hook_message_t         *forward;    /* the text passed on */
    ngx_otp_hook_message_t         *yes;        /* the YES of the pending
                                                   OPTOUT_CLEAR */
    unsigned                        help:1;

    /* last: ~90 KB of entries, not zeroed (the parsers set the counts) */
    ngx_otp_hook_t                  hook;
} ngx_http_otp_webhook_t;


/* ngx_http_otp_webhook.c */
void ngx_http_otp_webhook_continue(ngx_http_request_t *r,
    ngx_http_otp_ctx_t *ctx);

/* ngx_http_otp_webhook_message.c */
ngx_int_t ngx_http_otp_webhook_message(ngx_http_request_t *r,
    ngx_http_otp_ctx_t *ctx, ngx_http_otp_webhook_t *wh,
    ngx_otp_hook_message_t *m);
ngx_int_t ngx_http_otp_webhook_forward(ngx_http_request_t *r,
    ngx_http_otp_webhook_t *wh);
ngx_int_t ngx_http_otp_webhook_strip_handler(ngx_http_request_t *r);

/* ngx_http_otp_webhook_help.c */
void ngx_http_otp_webhook_help(ngx_http_request_t *r,
    ngx_http_otp_webhook_t *wh, ngx_str_t *help);


#endif /* _NGX_HTTP_OTP_WEBHOOK_CALL_H_INCLUDED_ */
