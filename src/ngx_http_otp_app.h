
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * Apps (ngx_http_otp_app_t, in ngx_http_otp_module.h): the configuration
 * that keeps one app's users apart from another's on one nginx.
 */


#ifndef _NGX_HTTP_OTP_APP_H_INCLUDED_
#define _NGX_HTTP_OTP_APP_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_otp_module.h"


/* a server's app id: 16 hex digits of an HMAC under its secret */
#define NGX_HTTP_OTP_APP_ID_LEN  16


/*
 * The app that otp_secret_file, otp_provider, otp_route and
 * otp_token_key_file (the directive in cf->args) configure at this
 * level: the http level's, or a server's own, made by the first of them
 * in the server.  NULL: out of memory.
 */
ngx_http_otp_app_t *ngx_http_otp_app_conf(ngx_conf_t *cf,
    ngx_http_otp_srv_conf_t *oscf);

/* an app no directive made: the http level's, for servers without one */
ngx_http_otp_app_t *ngx_http_otp_app_create(ngx_conf_t *cf);

/* an OTP endpoint in this server: its app needs a secret and providers */
void ngx_http_otp_app_used(ngx_conf_t *cf);

/*
 * Postconfiguration: each app in use complete (a secret and providers
 * where an endpoint is, token keys where a gate is), its names in the
 * store made, and apart from every other app (no secret or token key in
 * common, unless both are the same four settings: one app in two
 * servers).
 */
ngx_int_t ngx_http_otp_apps_init(ngx_conf_t *cf);

/*
 * The id a message record has in the store: a server's app's under its
 * id, ":" and the provider's id (of len <= NGX_HTTP_OTP_ID_LEN); the
 * http level's under the provider's id alone, as before there were apps.
 * key has room for NGX_HTTP_OTP_MESSAGE_ID_MAX bytes; returns its length.
 */
size_t ngx_http_otp_app_message_key(ngx_http_otp_app_t *app,
    const u_char *id, size_t len, u_char *key);

/*
 * The provider's id in a message key of app's (a record's link to another
 * message); NGX_DECLINED when the key is no key of app's.
 */
ngx_int_t ngx_http_otp_app_message_id(ngx_http_otp_app_t *app, u_char *key,
    size_t len, ngx_str_t *id);

/*
 * The provider's name in a message record, when the record is app's
 * (NGX_OK); NGX_DECLINED when it is another app's.
 */
ngx_int_t ngx_http_otp_app_provider(ngx_http_otp_app_t *app,
    u_char *stored, size_t len, ngx_str_t *name);


#endif /* _NGX_HTTP_OTP_APP_H_INCLUDED_ */
