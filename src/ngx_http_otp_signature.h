
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * What the signature check's files share: ngx_http_otp_signature.c (the
 * access-phase handler, the body read, the replay check) and
 * ngx_http_otp_signature_scheme.c (each scheme's check).
 */


#ifndef _NGX_HTTP_OTP_SIGNATURE_H_INCLUDED_
#define _NGX_HTTP_OTP_SIGNATURE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_otp_module.h"


/* ngx_http_otp_signature_scheme.c, for the access-phase handler */
/* the pool cleanup that holds the ctx the access phase made */
void ngx_http_otp_signature_cleanup(void *data);

ngx_int_t ngx_http_otp_signature_pre(ngx_http_request_t *r,
    ngx_http_otp_sig_t *sig);
ngx_int_t ngx_http_otp_signature_check(ngx_http_request_t *r,
    ngx_http_otp_sig_t *sig, ngx_str_t *body);

/* in refusals' logs, the sender of a standard_webhooks check */
extern ngx_str_t  ngx_http_otp_stdwh_name;


#endif /* _NGX_HTTP_OTP_SIGNATURE_H_INCLUDED_ */
