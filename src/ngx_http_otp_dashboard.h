
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * otp_dashboard (ngx_http_otp_dashboard.c): an HTML page, built into the
 * module, that draws the analytics JSON of an otp_analytics location.
 */


#ifndef _NGX_HTTP_OTP_DASHBOARD_H_INCLUDED_
#define _NGX_HTTP_OTP_DASHBOARD_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_otp_module.h"


/* otp_dashboard [ANALYTICS_URI] */
char *ngx_http_otp_dashboard_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* at merge: an "if" or "limit_except" block in an otp_dashboard location */
void ngx_http_otp_dashboard_merge(ngx_conf_t *cf,
    ngx_http_otp_loc_conf_t *prev, ngx_http_otp_loc_conf_t *conf);


#endif /* _NGX_HTTP_OTP_DASHBOARD_H_INCLUDED_ */
