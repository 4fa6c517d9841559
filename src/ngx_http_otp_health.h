
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * otp_health (ngx_http_otp_health.c): a location that answers 200 or 503
 * with the store's reachability and the providers' recent outcomes.
 */


#ifndef _NGX_HTTP_OTP_HEALTH_H_INCLUDED_
#define _NGX_HTTP_OTP_HEALTH_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


char *ngx_http_otp_health_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


#endif /* _NGX_HTTP_OTP_HEALTH_H_INCLUDED_ */
