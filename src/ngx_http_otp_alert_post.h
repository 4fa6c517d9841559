
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * The failure alert's webhook (ngx_http_otp_alert_post.c): a POST signed
 * as Standard Webhooks sign, through the module's non-blocking HTTP
 * client, tried again while the receiver cannot take it.
 */


#ifndef _NGX_HTTP_OTP_ALERT_POST_H_INCLUDED_
#define _NGX_HTTP_OTP_ALERT_POST_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/* the longest body */
#define NGX_HTTP_OTP_ALERT_BODY     1024


/*
 * POSTs body (at most NGX_HTTP_OTP_ALERT_BODY bytes, copied) to url,
 * signed with secret ("whsec_..."); url and secret must live as long as
 * the worker's cycle.  Whatever comes of it is logged.
 */
void ngx_http_otp_alert_webhook(ngx_str_t *url, ngx_str_t *secret,
    u_char *body, size_t len);


#endif /* _NGX_HTTP_OTP_ALERT_POST_H_INCLUDED_ */
