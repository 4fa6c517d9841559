
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * Delivery analytics: the otp_analytics endpoint and the
 * otp_analytics_retention directive (ngx_http_otp_analytics.c); the
 * counting is the store's (ngx_http_otp_store.h, "Analytics").
 */


#ifndef _NGX_HTTP_OTP_ANALYTICS_H_INCLUDED_
#define _NGX_HTTP_OTP_ANALYTICS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/* the default of otp_analytics_retention: 8 days */
#define NGX_HTTP_OTP_ANALYTICS_RETENTION  (8 * 24 * 3600 * 1000)


char *ngx_http_otp_analytics_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_otp_analytics_retention(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_otp_analytics_handler(ngx_http_request_t *r);

/* the country calling code of an E.164 number into cc
 * (NGX_OTP_COUNTRY_MAX bytes): its length, 0 when none */
size_t ngx_http_otp_country(u_char *phone, size_t len, u_char *cc);


#endif /* _NGX_HTTP_OTP_ANALYTICS_H_INCLUDED_ */
