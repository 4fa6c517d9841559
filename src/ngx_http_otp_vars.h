
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * What a request came to, for the $otp_* outcome variables and an audit
 * log written by nginx's own access_log (ngx_http_otp_vars.c).
 */


#ifndef _NGX_HTTP_OTP_VARS_H_INCLUDED_
#define _NGX_HTTP_OTP_VARS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_otp_module.h"


ngx_int_t ngx_http_otp_vars_add(ngx_conf_t *cf);
ngx_int_t ngx_http_otp_add_variables(ngx_conf_t *cf,
    ngx_http_variable_t *vars);

/*
 * The request's result (a constant: an API error code, "sent",
 * "verified", "opted_out"...), its ctx made when there is none yet.
 */
void ngx_http_otp_outcome(ngx_http_request_t *r, const char *result);

/*
 * The ctx holding the request's outcome (also across an internal
 * redirect), and the outcome in *result; NULL when there is none.
 */
ngx_http_otp_ctx_t *ngx_http_otp_outcome_get(ngx_http_request_t *r,
    const char **result);

/* a status callback applied: "status_delivered" and the like */
void ngx_http_otp_outcome_status(ngx_http_request_t *r, ngx_uint_t status);

/* the channel and provider the outcome is about */
void ngx_http_otp_outcome_by(ngx_http_otp_ctx_t *ctx, ngx_uint_t channel,
    ngx_str_t *provider);


#endif /* _NGX_HTTP_OTP_VARS_H_INCLUDED_ */
