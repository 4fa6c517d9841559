/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * The directives' handlers (ngx_http_otp_directives.c), for the command
 * table in ngx_http_otp_module.c.
 */


#ifndef _NGX_HTTP_OTP_DIRECTIVES_H_INCLUDED_
#define _NGX_HTTP_OTP_DIRECTIVES_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_otp_module.h"


char *ngx_http_otp_handler_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
char *ngx_http_otp_content_handler(ngx_conf_t *cf,
    ngx_http_handler_pt handler);
char *ngx_http_otp_store_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
char *ngx_http_otp_provider(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_otp_secret_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_otp_token_key_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_otp_channels(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_otp_rate(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_otp_body_limit(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_otp_default_cc(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_otp_str_or_off(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_otp_token_cookie(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_otp_route(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_otp_geo(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_otp_message(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
/* otp_token_key_file's, and ngx_http_otp_init()'s derived key */
ngx_int_t ngx_http_otp_add_token_key(ngx_conf_t *cf,
    ngx_http_otp_app_t *app, ngx_str_t *key, ngx_str_t *kid);



#endif /* _NGX_HTTP_OTP_DIRECTIVES_H_INCLUDED_ */
