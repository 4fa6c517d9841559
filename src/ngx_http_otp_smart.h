
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * Smart channel choice (ngx_http_otp_smart.c): a send that names no
 * channel (or "auto") tries the location's channels in the order of
 * their recent delivery rate to the number's country, read from the
 * delivery analytics, instead of the configured order.
 */


#ifndef _NGX_HTTP_OTP_SMART_H_INCLUDED_
#define _NGX_HTTP_OTP_SMART_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_otp_module.h"


/* otp_smart_channels, otp_smart_window */
char *ngx_http_otp_smart_channels(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_otp_smart_window(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

ngx_int_t ngx_http_otp_smart_init_process(ngx_cycle_t *cycle);
void ngx_http_otp_smart_exit_process(ngx_cycle_t *cycle);

/*
 * The n channels of a send (the location's order) reordered for the
 * number (E.164, "+" and digits) by the app's recent delivery rates, when
 * the location has otp_smart_channels on; left as they are otherwise.
 */
void ngx_http_otp_smart_order(ngx_http_request_t *r, ngx_http_otp_app_t *app,
    u_char *phone, size_t phone_len, ngx_uint_t *channels, ngx_uint_t n);


#endif /* _NGX_HTTP_OTP_SMART_H_INCLUDED_ */
