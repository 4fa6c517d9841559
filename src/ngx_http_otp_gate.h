
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * The access gate (ngx_http_otp_gate.c) and the logout endpoint
 * (ngx_http_otp_logout.c).
 */


#ifndef _NGX_HTTP_OTP_GATE_H_INCLUDED_
#define _NGX_HTTP_OTP_GATE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_otp_module.h"


char *ngx_http_otp_gate_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_otp_gate_login(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_otp_logout_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* the gate's part of the location's merge */
char *ngx_http_otp_gate_merge(ngx_conf_t *cf, ngx_http_otp_loc_conf_t *prev,
    ngx_http_otp_loc_conf_t *conf);

/* $otp_phone, $otp_token_id: preconfiguration */
ngx_int_t ngx_http_otp_gate_add_variables(ngx_conf_t *cf);

/* installs the access-phase handler where some location is gated */
ngx_int_t ngx_http_otp_gate_postconf(ngx_conf_t *cf);

/* "/path" of this site: not "//host", "/\host", nor a URL with a scheme */
ngx_uint_t ngx_http_otp_gate_local_path(u_char *p, size_t len);


#endif /* _NGX_HTTP_OTP_GATE_H_INCLUDED_ */
