
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * The "log" provider type, for development only: it stands in for a
 * phone by printing the code to the error log at the "notice" level, the
 * one place a code is ever logged.
 *
 *   otp_provider dev log;
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_otp_provider.h"


static char *ngx_http_otp_log_conf(ngx_conf_t *cf,
    ngx_http_otp_provider_t *p);
static void ngx_http_otp_log_send(ngx_http_otp_send_t *send);


ngx_http_otp_provider_type_t  ngx_http_otp_provider_log = {
    "log",
    NGX_OTP_ALL_CHANNELS,
    0,
    0,
    NULL,
    ngx_http_otp_log_conf,
    ngx_http_otp_log_send
};


static char *
ngx_http_otp_log_conf(ngx_conf_t *cf, ngx_http_otp_provider_t *p)
{
    ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                       "otp provider \"%V\" prints codes to the error log "
                       "at the \"notice\" level: for development only",
                       &p->name);

    return NGX_CONF_OK;
}


static void
ngx_http_otp_log_send(ngx_http_otp_send_t *send)
{
    u_char  masked[NGX_OTP_PHONE_MAX_LEN];
    size_t  masked_len;

    if (ngx_otp_random_id(send->message_id, sizeof(send->message_id),
                          &send->message_id_len, "log_")
        != NGX_OTP_OK)
    {
        ngx_http_otp_send_post(send, NGX_ERROR, NGX_OTP_DELIVERY_INTERNAL,
                               "random id failed");
        return;
    }

    masked_len = ngx_otp_phone_mask(send->phone, send->phone_len, masked);

    /* the one place a code is logged: this provider is the phone */

    ngx_log_error(NGX_LOG_NOTICE, send->log, 0,
                  "otp log provider (DEVELOPMENT ONLY): code %*s for "
                  "%*s via %s, message_id %*s",
                  send->code_len, send->code, masked_len, masked,
                  ngx_otp_channel_name(send->channel),
                  send->message_id_len, send->message_id);

    ngx_http_otp_send_post(send, NGX_OK, NGX_OTP_DELIVERY_OK, NULL);
}
