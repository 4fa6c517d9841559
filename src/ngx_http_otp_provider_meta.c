
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * The "meta_whatsapp" provider type: WhatsApp through Meta's Cloud API,
 * with an approved authentication template whose body and copy-code
 * button both carry the code.  The bytes are built and read by the pure
 * core (ngx_otp_provider_wire.c); this file only configures and sends
 * them.
 *
 *   otp_provider wa meta_whatsapp phone_number_id=106540352242922
 *                token_file=/etc/meta.token template=otp_login
 *                app_secret_file=/etc/meta.secret
 *                verify_token_file=/etc/meta.verify;
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_otp_provider.h"


#define NGX_HTTP_OTP_META_BASE_URL     "https://graph.facebook.com"
#define NGX_HTTP_OTP_META_VERSION      "v21.0"


typedef struct {
    ngx_str_t                       phone_number_id;
    ngx_str_t                       token;
    ngx_str_t                       template;
    ngx_str_t                       language;
    ngx_str_t                       version;
    ngx_str_t                       app_secret;     /* webhooks */
    ngx_str_t                       verify_token;

    ngx_str_t                       url;
    ngx_str_t                       authorization;  /* the header */
} ngx_http_otp_meta_conf_t;


static char *ngx_http_otp_meta_conf(ngx_conf_t *cf,
    ngx_http_otp_provider_t *p);
static ngx_int_t ngx_http_otp_meta_chars(ngx_str_t *value,
    const char *extra);

static void ngx_http_otp_meta_send(ngx_http_otp_send_t *send);
static int ngx_http_otp_meta_build(const void *m, u_char *out, size_t cap,
    size_t *len);
static int ngx_http_otp_meta_text_build(const void *m, u_char *out,
    size_t cap, size_t *len);


static ngx_http_otp_provider_option_t  ngx_http_otp_meta_options[] = {
    { "phone_number_id",
      offsetof(ngx_http_otp_meta_conf_t, phone_number_id) },
    { "token", offsetof(ngx_http_otp_meta_conf_t, token) },
    { "template", offsetof(ngx_http_otp_meta_conf_t, template) },
    { "language", offsetof(ngx_http_otp_meta_conf_t, language) },
    { "version", offsetof(ngx_http_otp_meta_conf_t, version) },
    { "app_secret", offsetof(ngx_http_otp_meta_conf_t, app_secret) },
    { "verify_token", offsetof(ngx_http_otp_meta_conf_t, verify_token) },
    { NULL, 0 }
};


ngx_http_otp_provider_type_t  ngx_http_otp_provider_meta_whatsapp = {
    "meta_whatsapp",
    NGX_OTP_WHATSAPP,
    NGX_OTP_WHATSAPP,
    sizeof(ngx_http_otp_meta_conf_t),
    ngx_http_otp_meta_options,
    ngx_http_otp_meta_conf,
    ngx_http_otp_meta_send
};


static char *
ngx_http_otp_meta_conf(ngx_conf_t *cf, ngx_http_otp_provider_t *p)
{
    u_char                    *c;
    ngx_str_t                  base;
    ngx_http_otp_meta_conf_t  *mcf;

    mcf = p->conf;

    for (c = mcf->phone_number_id.data;
         c < mcf->phone_number_id.data + mcf->phone_number_id.len;
         c++)
    {
        if (*c < '0' || *c > '9') {
            break;
        }
    }

    if (mcf->phone_number_id.len == 0
        || c != mcf->phone_number_id.data + mcf->phone_number_id.len)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "meta_whatsapp provider \"%V\" needs "
                           "phone_number_id= (digits: the ID of the sender, "
                           "not its phone number)", &p->name);
        return NGX_CONF_ERROR;
    }

    if (mcf->token.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "meta_whatsapp provider \"%V\" needs token= or "
                           "token_file=", &p->name);
        return NGX_CONF_ERROR;
    }

    for (c = mcf->token.data; c < mcf->token.data + mcf->token.len; c++) {
        if (*c <= ' ' || *c >= 0x7f) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "meta_whatsapp provider \"%V\": the token has "
                               "a character that is not printable ASCII",
                               &p->name);
            return NGX_CONF_ERROR;
        }
    }

    /* Meta's rule for template names: lower-case letters, digits, '_' */

    for (c = mcf->template.data;
         c < mcf->template.data + mcf->template.len;
         c++)
    {
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9')
              || *c == '_'))
        {
            break;
        }
    }

    if (mcf->template.len == 0
        || c != mcf->template.data + mcf->template.len)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "meta_whatsapp provider \"%V\" needs template= "
                           "the name of an approved authentication template "
                           "(lower-case letters, digits and '_')", &p->name);
        return NGX_CONF_ERROR;
    }

    if (mcf->language.data == NULL) {
        ngx_str_set(&mcf->language, NGX_OTP_META_LANGUAGE);
    }

    if (mcf->language.len == 0
        || ngx_http_otp_meta_chars(&mcf->language, "_") != NGX_OK)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "meta_whatsapp provider \"%V\": invalid language "
                           "\"%V\", e.g. \"en_US\"", &p->name,
                           &mcf->language);
        return NGX_CONF_ERROR;
    }

    if (mcf->version.data == NULL) {
        ngx_str_set(&mcf->version, NGX_HTTP_OTP_META_VERSION);
    }

    if (mcf->version.len < 2 || mcf->version.data[0] != 'v'
        || ngx_http_otp_meta_chars(&mcf->version, ".") != NGX_OK)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "meta_whatsapp provider \"%V\": invalid version "
                           "\"%V\", e.g. \"%s\"", &p->name, &mcf->version,
                           NGX_HTTP_OTP_META_VERSION);
        return NGX_CONF_ERROR;
    }

    p->channels = NGX_OTP_WHATSAPP;

    if (p->common.base_url.len) {
        base = p->common.base_url;

    } else {
        ngx_str_set(&base, NGX_HTTP_OTP_META_BASE_URL);

        if (ngx_http_otp_http_add_host(cf, p->http, &base) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    while (base.len && base.data[base.len - 1] == '/') {
        base.len--;
    }

    mcf->url.len = base.len + sizeof("///messages") - 1 + mcf->version.len
                   + mcf->phone_number_id.len;
    mcf->url.data = ngx_pnalloc(cf->pool, mcf->url.len);
    if (mcf->url.data == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_sprintf(mcf->url.data, "%V/%V/%V/messages", &base, &mcf->version,
                &mcf->phone_number_id);

    mcf->authorization.len = sizeof("Authorization: Bearer ") - 1
                             + mcf->token.len;
    mcf->authorization.data = ngx_pnalloc(cf->pool, mcf->authorization.len);
    if (mcf->authorization.data == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_sprintf(mcf->authorization.data, "Authorization: Bearer %V",
                &mcf->token);

    /*
     * Webhooks: Meta signs each POST with the app's secret (the App
     * Dashboard's "App secret"), and the GET that subscribes the callback
     * URL carries the verify token typed in its console.  Without them a
     * location that checks this provider's webhooks is refused at
     * postconfiguration.
     */

    p->hook.scheme = NGX_HTTP_OTP_HOOK_META;
    p->hook.secret = mcf->app_secret;
    p->hook.verify_token = mcf->verify_token;

    return NGX_CONF_OK;
}


/* letters, digits and the characters of extra only */

static ngx_int_t
ngx_http_otp_meta_chars(ngx_str_t *value, const char *extra)
{
    u_char  *c;

    for (c = value->data; c < value->data + value->len; c++) {
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z')
              || (*c >= '0' && *c <= '9')
              || (*c && ngx_strchr(extra, *c) != NULL)))
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * The code goes in the approved template; a free-form text (a reply,
 * which Meta takes within 24 hours of the user's message) as a "text"
 * message, to the same endpoint, answered alike
 */

static void
ngx_http_otp_meta_send(ngx_http_otp_send_t *send)
{
    ngx_otp_meta_msg_t             m;
    ngx_otp_meta_text_msg_t        t;
    ngx_http_otp_meta_conf_t      *mcf;
    ngx_http_otp_provider_call_t   pr;

    mcf = send->provider->conf;

    if (send->channel != NGX_OTP_WHATSAPP) {
        ngx_http_otp_send_post(send, NGX_ERROR, NGX_OTP_DELIVERY_INTERNAL,
                               "whatsapp only");
        return;
    }

    ngx_memzero(&pr, sizeof(ngx_http_otp_provider_call_t));

    if (send->free_form) {
        t.to.data = send->phone;
        t.to.len = send->phone_len;
        t.body.data = send->text.data;
        t.body.len = send->text.len;

        pr.build = ngx_http_otp_meta_text_build;
        pr.msg = &t;

    } else {
        m.to.data = send->phone;
        m.to.len = send->phone_len;
        m.name.data = mcf->template.data;
        m.name.len = mcf->template.len;
        m.language.data = mcf->language.data;
        m.language.len = mcf->language.len;
        m.code.data = send->code;
        m.code.len = send->code_len;

        pr.build = ngx_http_otp_meta_build;
        pr.msg = &m;
    }

    pr.url = mcf->url;
    pr.headers[0] = mcf->authorization;
    ngx_str_set(&pr.headers[1], "Content-Type: application/json");
    pr.nheaders = 2;
    pr.parse = ngx_otp_meta_parse;

    ngx_http_otp_provider_call(send, &pr);
}


static int
ngx_http_otp_meta_build(const void *m, u_char *out, size_t cap, size_t *len)
{
    return ngx_otp_meta_body(m, out, cap, len);
}


static int
ngx_http_otp_meta_text_build(const void *m, u_char *out, size_t cap,
    size_t *len)
{
    return ngx_otp_meta_text_body(m, out, cap, len);
}
