
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * The provider port: the otp_provider directive, channel names, the life
 * cycle of a send, and the development-only "log" provider, which stands
 * in for a phone by printing the code to the error log.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_otp_module.h"


static char *ngx_http_otp_provider_log_conf(ngx_conf_t *cf,
    ngx_http_otp_provider_t *p, ngx_str_t *args, ngx_uint_t nargs);
static void ngx_http_otp_provider_log_send(ngx_http_otp_send_t *send);
static void ngx_http_otp_send_done(ngx_event_t *ev);


ngx_http_otp_provider_type_t  ngx_http_otp_provider_log = {
    "log",
    NGX_HTTP_OTP_ALL_CHANNELS,
    ngx_http_otp_provider_log_conf,
    ngx_http_otp_provider_log_send
};


static ngx_http_otp_provider_type_t  *ngx_http_otp_provider_types[] = {
    &ngx_http_otp_provider_log,
    NULL
};


static ngx_str_t  ngx_http_otp_channel_names[] = {
    ngx_string("sms"),
    ngx_string("whatsapp"),
    ngx_string("voice")
};


const char *
ngx_http_otp_channel_name(ngx_uint_t channel)
{
    switch (channel) {
    case NGX_HTTP_OTP_SMS:
        return "sms";
    case NGX_HTTP_OTP_WHATSAPP:
        return "whatsapp";
    case NGX_HTTP_OTP_VOICE:
        return "voice";
    default:
        return "unknown";
    }
}


/* returns the channel bit, or 0 for an unknown name */

ngx_uint_t
ngx_http_otp_channel_parse(ngx_str_t *name)
{
    ngx_uint_t  i;

    for (i = 0; i < sizeof(ngx_http_otp_channel_names) / sizeof(ngx_str_t);
         i++)
    {
        if (name->len == ngx_http_otp_channel_names[i].len
            && ngx_strncmp(name->data, ngx_http_otp_channel_names[i].data,
                           name->len)
               == 0)
        {
            return (ngx_uint_t) 1 << i;
        }
    }

    return 0;
}


/* otp_provider NAME TYPE [key=value ...] */

char *
ngx_http_otp_provider_conf(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_otp_main_conf_t *omcf = conf;

    u_char                         *c;
    ngx_str_t                      *value;
    ngx_uint_t                      i;
    ngx_http_otp_provider_t        *p;
    ngx_http_otp_provider_type_t  **type;

    value = cf->args->elts;

    if (value[1].len == 0 || value[1].len > 32) {
        goto invalid_name;
    }

    /* the name appears in JSON answers and metrics labels as it is */

    for (c = value[1].data; c < value[1].data + value[1].len; c++) {
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z')
              || (*c >= '0' && *c <= '9') || *c == '_' || *c == '-'))
        {
            goto invalid_name;
        }
    }

    p = omcf->providers.elts;

    for (i = 0; i < omcf->providers.nelts; i++) {
        if (p[i].name.len == value[1].len
            && ngx_strncmp(p[i].name.data, value[1].data, value[1].len) == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate provider \"%V\"", &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    for (type = ngx_http_otp_provider_types; *type; type++) {
        if (ngx_strcmp(value[2].data, (*type)->name) == 0) {
            break;
        }
    }

    if (*type == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "unknown provider type \"%V\"", &value[2]);
        return NGX_CONF_ERROR;
    }

    p = ngx_array_push(&omcf->providers);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    p->name = value[1];
    p->type = *type;
    p->conf = NULL;

    return (*type)->conf(cf, p, &value[3], cf->args->nelts - 3);

invalid_name:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid provider name \"%V\": 1-32 letters, digits, "
                       "'_' or '-'", &value[1]);
    return NGX_CONF_ERROR;
}


ngx_http_otp_send_t *
ngx_http_otp_send_create(ngx_log_t *log)
{
    ngx_http_otp_send_t  *send;

    send = ngx_calloc(sizeof(ngx_http_otp_send_t), log);
    if (send == NULL) {
        return NULL;
    }

    send->log = log;
    send->event.data = send;
    send->event.log = log;
    send->rc = NGX_ERROR;

    return send;
}


void
ngx_http_otp_send_start(ngx_http_otp_send_t *send)
{
    send->provider->type->send(send);
}


void
ngx_http_otp_send_cancel(ngx_http_otp_send_t *send)
{
    send->cancelled = 1;
    send->data = NULL;
    send->log = ngx_cycle->log;
    send->event.log = ngx_cycle->log;
}


void
ngx_http_otp_send_finish(ngx_http_otp_send_t *send)
{
    if (send->event.timer_set) {
        ngx_del_timer(&send->event);
    }

    if (send->event.posted) {
        ngx_delete_posted_event(&send->event);
    }

    if (!send->cancelled && send->handler) {
        send->handler(send);
    }

    /* the code must not outlive the send in freed memory */
    ngx_explicit_memzero(send->code, sizeof(send->code));

    ngx_free(send);
}


static void
ngx_http_otp_send_done(ngx_event_t *ev)
{
    ngx_http_otp_send_finish(ev->data);
}


static char *
ngx_http_otp_provider_log_conf(ngx_conf_t *cf, ngx_http_otp_provider_t *p,
    ngx_str_t *args, ngx_uint_t nargs)
{
    if (nargs) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "the \"log\" provider takes no options, "
                           "found \"%V\"", &args[0]);
        return NGX_CONF_ERROR;
    }

    ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                       "otp provider \"%V\" prints codes to the error log "
                       "at the \"notice\" level: for development only",
                       &p->name);

    return NGX_CONF_OK;
}


static void
ngx_http_otp_provider_log_send(ngx_http_otp_send_t *send)
{
    u_char  masked[NGX_OTP_PHONE_MAX_LEN];
    size_t  masked_len;

    if (ngx_otp_random_id(send->message_id, sizeof(send->message_id),
                          &send->message_id_len, "log_")
        != NGX_OTP_OK)
    {
        ngx_memcpy(send->error, "random id failed", 16);
        send->error_len = 16;
        send->rc = NGX_ERROR;

    } else {
        masked_len = ngx_otp_phone_mask(send->phone, send->phone_len,
                                        masked);

        /* the one place a code is logged: this provider is the phone */

        ngx_log_error(NGX_LOG_NOTICE, send->log, 0,
                      "otp log provider (DEVELOPMENT ONLY): code %*s for "
                      "%*s via %s, message_id %*s",
                      send->code_len, send->code, masked_len, masked,
                      ngx_http_otp_channel_name(send->channel),
                      send->message_id_len, send->message_id);

        send->rc = NGX_OK;
    }

    send->event.handler = ngx_http_otp_send_done;
    ngx_post_event(&send->event, &ngx_posted_events);
}
