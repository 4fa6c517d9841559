
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
    ngx_http_otp_provider_t *p);
static void ngx_http_otp_provider_log_send(ngx_http_otp_send_t *send);
static void ngx_http_otp_send_done(ngx_event_t *ev);
static ngx_int_t ngx_http_otp_provider_common(ngx_conf_t *cf,
    ngx_http_otp_provider_t *p, ngx_str_t *arg);
static char *ngx_http_otp_provider_options(ngx_conf_t *cf,
    ngx_http_otp_provider_t *p, ngx_str_t *args, ngx_uint_t nargs);


ngx_http_otp_provider_type_t  ngx_http_otp_provider_log = {
    "log",
    NGX_OTP_ALL_CHANNELS,
    0,
    NULL,
    ngx_http_otp_provider_log_conf,
    ngx_http_otp_provider_log_send
};


static ngx_http_otp_provider_type_t  *ngx_http_otp_provider_types[] = {
    &ngx_http_otp_provider_log,
    &ngx_http_otp_provider_twilio,
    &ngx_http_otp_provider_meta_whatsapp,
    &ngx_http_otp_provider_africastalking,
    NULL
};


/* otp_provider NAME TYPE [key=value ...] */

char *
ngx_http_otp_provider_conf(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_otp_main_conf_t *omcf = conf;

    u_char                         *c;
    ngx_str_t                      *value, *a;
    ngx_uint_t                      i;
    ngx_array_t                    *args;
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

    ngx_memzero(p, sizeof(ngx_http_otp_provider_t));

    p->name = value[1];
    p->type = *type;
    p->channels = (*type)->channels;
    p->http = &omcf->http;

    /* the options every type shares go first; the rest are the type's */

    args = ngx_array_create(cf->pool, cf->args->nelts, sizeof(ngx_str_t));
    if (args == NULL) {
        return NGX_CONF_ERROR;
    }

    for (i = 3; i < cf->args->nelts; i++) {

        switch (ngx_http_otp_provider_common(cf, p, &value[i])) {

        case NGX_OK:
            continue;

        case NGX_ERROR:
            return NGX_CONF_ERROR;

        default: /* NGX_DECLINED: the type's */
            break;
        }

        a = ngx_array_push(args);
        if (a == NULL) {
            return NGX_CONF_ERROR;
        }

        *a = value[i];
    }

    if (p->common.base_url.len
        && ngx_http_otp_http_add_host(cf, p->http, &p->common.base_url)
           != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_otp_provider_options(cf, p, args->elts, args->nelts)
        != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    return (*type)->conf(cf, p);

invalid_name:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid provider name \"%V\": 1-32 letters, digits, "
                       "'_' or '-'", &value[1]);
    return NGX_CONF_ERROR;
}


/* base_url=URL budget=N (sends per hour) timeout=TIME */

static ngx_int_t
ngx_http_otp_provider_common(ngx_conf_t *cf, ngx_http_otp_provider_t *p,
    ngx_str_t *arg)
{
    ngx_int_t   n, rc;
    ngx_str_t   v;

    rc = ngx_http_otp_provider_arg(cf, arg, "base_url", &v);

    if (rc == NGX_OK) {

        while (v.len && v.data[v.len - 1] == '/') {
            v.len--;
        }

        if (!(v.len > 7 && ngx_strncmp(v.data, "http://", 7) == 0)
            && !(v.len > 8 && ngx_strncmp(v.data, "https://", 8) == 0))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid base_url \"%V\": expected an "
                               "http:// or https:// URL", &v);
            return NGX_ERROR;
        }

        p->common.base_url = v;
        return NGX_OK;
    }

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (ngx_http_otp_provider_arg(cf, arg, "budget", &v) == NGX_OK) {

        if (v.len > 2 && ngx_strncmp(v.data + v.len - 2, "/h", 2) == 0) {
            v.len -= 2;
        }

        n = ngx_atoi(v.data, v.len);
        if (n == NGX_ERROR || n == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid budget \"%V\": expected sends per "
                               "hour, such as \"budget=500/h\"", arg);
            return NGX_ERROR;
        }

        p->common.budget = n;
        return NGX_OK;
    }

    if (ngx_http_otp_provider_arg(cf, arg, "timeout", &v) == NGX_OK) {
        p->common.timeout = ngx_parse_time(&v, 0);

        if (p->common.timeout == (ngx_msec_t) NGX_ERROR
            || p->common.timeout == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid timeout \"%V\"", arg);
            return NGX_ERROR;
        }

        return NGX_OK;
    }

    return NGX_DECLINED;
}


/*
 * Allocates the type's configuration and fills it from args by the type's
 * options table; an unknown or repeated option is an [emerg] that names
 * the key, never the value, which may be a secret.
 */

static char *
ngx_http_otp_provider_options(ngx_conf_t *cf, ngx_http_otp_provider_t *p,
    ngx_str_t *args, ngx_uint_t nargs)
{
    u_char                          *eq;
    ngx_int_t                        rc;
    ngx_str_t                        value, *field;
    ngx_uint_t                       i;
    ngx_http_otp_provider_option_t  *o, none;

    if (p->type->conf_size) {
        p->conf = ngx_pcalloc(cf->pool, p->type->conf_size);
        if (p->conf == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    none.key = NULL;

    for (i = 0; i < nargs; i++) {

        for (o = p->type->options ? p->type->options : &none; o->key; o++) {

            rc = ngx_http_otp_provider_arg(cf, &args[i], o->key, &value);

            if (rc == NGX_DECLINED) {
                continue;
            }

            if (rc != NGX_OK) {
                return NGX_CONF_ERROR;
            }

            field = (ngx_str_t *) ((u_char *) p->conf + o->offset);

            if (field->data) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "%s provider \"%V\": \"%s\" is given "
                                   "twice", p->type->name, &p->name, o->key);
                return NGX_CONF_ERROR;
            }

            *field = value;
            break;
        }

        if (o->key == NULL) {
            /* the key only: the value may be a secret */

            eq = ngx_strlchr(args[i].data, args[i].data + args[i].len, '=');

            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "%s provider \"%V\": unknown option \"%*s\"",
                               p->type->name, &p->name,
                               (eq ? eq : args[i].data + args[i].len)
                               - args[i].data, args[i].data);
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_otp_provider_arg(ngx_conf_t *cf, ngx_str_t *arg, const char *key,
    ngx_str_t *value)
{
    size_t     len;
    ngx_str_t  path;

    len = ngx_strlen(key);

    if (arg->len > len && ngx_strncmp(arg->data, key, len) == 0
        && arg->data[len] == '=')
    {
        value->data = arg->data + len + 1;
        value->len = arg->len - len - 1;
        return NGX_OK;
    }

    if (arg->len > len + 5 && ngx_strncmp(arg->data, key, len) == 0
        && ngx_strncmp(arg->data + len, "_file=", 6) == 0)
    {
        path.data = arg->data + len + 6;
        path.len = arg->len - len - 6;

        if (ngx_http_otp_read_file(cf, &path, 1, value) != NGX_CONF_OK) {
            return NGX_ERROR;
        }

        return NGX_OK;
    }

    return NGX_DECLINED;
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
    if (send->http) {
        /* the transfer is aborted and its handler never runs */
        ngx_http_otp_http_cancel(send->http);
        ngx_explicit_memzero(send->code, sizeof(send->code));
        ngx_free(send);
        return;
    }

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


void
ngx_http_otp_send_fail(ngx_http_otp_send_t *send, const char *err)
{
    send->rc = NGX_ERROR;
    send->error_len = ngx_min(ngx_strlen(err), sizeof(send->error));
    ngx_memcpy(send->error, err, send->error_len);

    send->event.handler = ngx_http_otp_send_done;
    ngx_post_event(&send->event, &ngx_posted_events);
}


void
ngx_http_otp_send_answer(ngx_http_otp_send_t *send,
    ngx_http_otp_http_req_t *req, ngx_http_otp_provider_parse_pt parse,
    const char *label)
{
    ngx_otp_wire_answer_t  a;

    send->http = NULL;

    if (req->rc != NGX_OK) {
        /* curl's reason: "Connection refused", "Timeout was reached" */

        send->rc = NGX_ERROR;
        send->error_len = (req->error_len
                           ? ngx_snprintf(send->error, sizeof(send->error),
                                          "%s: %*s", label, req->error_len,
                                          req->error)
                           : ngx_snprintf(send->error, sizeof(send->error),
                                          "%s: no answer", label))
                          - send->error;

        ngx_http_otp_send_finish(send);
        return;
    }

    if (req->truncated) {
        ngx_log_error(NGX_LOG_INFO, send->log, 0,
                      "otp %s provider \"%V\": answer over %uz bytes, "
                      "HTTP %ui, cut short", send->provider->type->name,
                      &send->provider->name,
                      (size_t) NGX_HTTP_OTP_HTTP_MAX_RESPONSE, req->status);
    }

    if (parse(req->status, req->response, req->response_len, &a)
        == NGX_OTP_OK)
    {
        if (a.id_len > sizeof(send->message_id)) {
            ngx_log_error(NGX_LOG_INFO, send->log, 0,
                          "otp %s provider \"%V\": message id \"%*s\" cut "
                          "to %uz bytes", send->provider->type->name,
                          &send->provider->name, a.id_len, a.id,
                          sizeof(send->message_id));
        }

        send->message_id_len = ngx_min(a.id_len, sizeof(send->message_id));
        ngx_memcpy(send->message_id, a.id, send->message_id_len);
        send->rc = NGX_OK;

    } else {
        send->error_len = ngx_min(a.error_len, sizeof(send->error));
        ngx_memcpy(send->error, a.error, send->error_len);
        send->rc = NGX_ERROR;
    }

    ngx_http_otp_send_finish(send);
}




static char *
ngx_http_otp_provider_log_conf(ngx_conf_t *cf, ngx_http_otp_provider_t *p)
{
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
                      ngx_otp_channel_name(send->channel),
                      send->message_id_len, send->message_id);

        send->rc = NGX_OK;
    }

    send->event.handler = ngx_http_otp_send_done;
    ngx_post_event(&send->event, &ngx_posted_events);
}
