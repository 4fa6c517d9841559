
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * The "africastalking" provider type: SMS through Africa's Talking's
 * messaging API, authenticated by the apiKey header.  The sandbox is the
 * same API at another base_url.  The bytes are built and read by the pure
 * core (ngx_otp_provider_wire.c); this file only configures and sends
 * them.
 *
 *   otp_provider at africastalking username=myapp
 *                api_key_file=/etc/at.key from=MYAPP;
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_otp_provider.h"


#define NGX_HTTP_OTP_AT_BASE_URL   "https://api.africastalking.com"


typedef struct {
    ngx_str_t                       username;
    ngx_str_t                       api_key;
    ngx_str_t                       from;
    ngx_str_t                       webhook_secret;
    ngx_str_t                       webhook_allow;  /* CIDR[,CIDR...] */

    ngx_str_t                       url;
    ngx_str_t                       api_key_header;
} ngx_http_otp_at_conf_t;


static char *ngx_http_otp_at_conf(ngx_conf_t *cf,
    ngx_http_otp_provider_t *p);
static ngx_int_t ngx_http_otp_at_printable(ngx_str_t *value);
static char *ngx_http_otp_at_allow(ngx_conf_t *cf,
    ngx_http_otp_provider_t *p, ngx_str_t *value);

static void ngx_http_otp_at_send(ngx_http_otp_send_t *send);
static int ngx_http_otp_at_build(const void *m, u_char *out, size_t cap,
    size_t *len);


static ngx_http_otp_provider_option_t  ngx_http_otp_at_options[] = {
    { "username", offsetof(ngx_http_otp_at_conf_t, username) },
    { "api_key", offsetof(ngx_http_otp_at_conf_t, api_key) },
    { "from", offsetof(ngx_http_otp_at_conf_t, from) },
    { "webhook_secret", offsetof(ngx_http_otp_at_conf_t, webhook_secret) },
    { "webhook_allow", offsetof(ngx_http_otp_at_conf_t, webhook_allow) },
    { NULL, 0 }
};


ngx_http_otp_provider_type_t  ngx_http_otp_provider_africastalking = {
    "africastalking",
    NGX_OTP_SMS,
    0,
    sizeof(ngx_http_otp_at_conf_t),
    ngx_http_otp_at_options,
    ngx_http_otp_at_conf,
    ngx_http_otp_at_send
};


static char *
ngx_http_otp_at_conf(ngx_conf_t *cf, ngx_http_otp_provider_t *p)
{
    ngx_str_t                base;
    ngx_http_otp_at_conf_t  *acf;

    acf = p->conf;

    if (acf->username.len == 0
        || ngx_http_otp_at_printable(&acf->username) != NGX_OK)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "africastalking provider \"%V\" needs username= "
                           "(\"sandbox\" in the sandbox)", &p->name);
        return NGX_CONF_ERROR;
    }

    if (acf->api_key.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "africastalking provider \"%V\" needs api_key= "
                           "or api_key_file=", &p->name);
        return NGX_CONF_ERROR;
    }

    if (ngx_http_otp_at_printable(&acf->api_key) != NGX_OK
        || ngx_strlchr(acf->api_key.data,
                       acf->api_key.data + acf->api_key.len, ' ')
           != NULL)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "africastalking provider \"%V\": the API key has "
                           "a character that is not printable ASCII",
                           &p->name);
        return NGX_CONF_ERROR;
    }

    if (acf->from.data && (acf->from.len == 0
                           || ngx_http_otp_at_printable(&acf->from)
                              != NGX_OK))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "africastalking provider \"%V\": from= must be a "
                           "sender ID or short code", &p->name);
        return NGX_CONF_ERROR;
    }

    p->channels = NGX_OTP_SMS;

    if (p->common.base_url.len) {
        base = p->common.base_url;

    } else {
        ngx_str_set(&base, NGX_HTTP_OTP_AT_BASE_URL);

        if (ngx_http_otp_http_add_host(cf, p->http, &base) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    while (base.len && base.data[base.len - 1] == '/') {
        base.len--;
    }

    acf->url.len = base.len + sizeof("/version1/messaging") - 1;
    acf->url.data = ngx_pnalloc(cf->pool, acf->url.len);
    if (acf->url.data == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_sprintf(acf->url.data, "%V/version1/messaging", &base);

    acf->api_key_header.len = sizeof("apiKey: ") - 1 + acf->api_key.len;
    acf->api_key_header.data = ngx_pnalloc(cf->pool, acf->api_key_header.len);
    if (acf->api_key_header.data == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_sprintf(acf->api_key_header.data, "apiKey: %V", &acf->api_key);

    /*
     * Webhooks: Africa's Talking signs nothing, so its delivery reports
     * are told from forgeries by a secret put in the callback URL (or a
     * header, or Basic auth) and, optionally, by where they come from
     */

    p->hook.scheme = NGX_HTTP_OTP_HOOK_AT;
    p->hook.secret = acf->webhook_secret;

    if (acf->webhook_allow.data) {
        return ngx_http_otp_at_allow(cf, p, &acf->webhook_allow);
    }

    return NGX_CONF_OK;
}


/* webhook_allow=CIDR[,CIDR...]: the addresses delivery reports come from */

static char *
ngx_http_otp_at_allow(ngx_conf_t *cf, ngx_http_otp_provider_t *p,
    ngx_str_t *value)
{
    u_char      *c, *last, *comma;
    ngx_int_t    rc;
    ngx_str_t    s;
    ngx_cidr_t  *cidr;

    p->hook.allow = ngx_array_create(cf->pool, 4, sizeof(ngx_cidr_t));
    if (p->hook.allow == NULL) {
        return NGX_CONF_ERROR;
    }

    c = value->data;
    last = value->data + value->len;

    while (c < last) {
        comma = ngx_strlchr(c, last, ',');
        if (comma == NULL) {
            comma = last;
        }

        s.data = c;
        s.len = comma - c;

        cidr = ngx_array_push(p->hook.allow);
        if (cidr == NULL) {
            return NGX_CONF_ERROR;
        }

        rc = (s.len == 0) ? NGX_ERROR : ngx_ptocidr(&s, cidr);

        if (rc == NGX_ERROR) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "africastalking provider \"%V\": invalid "
                               "webhook_allow address \"%V\"", &p->name,
                               &s);
            return NGX_CONF_ERROR;
        }

        if (rc == NGX_DONE) {
            ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                               "africastalking provider \"%V\": low "
                               "address bits of \"%V\" are meaningless",
                               &p->name, &s);
        }

        c = comma + 1;
    }

    if (p->hook.allow->nelts == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "africastalking provider \"%V\": empty "
                           "webhook_allow", &p->name);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* printable ASCII, spaces allowed: it goes in a form or a header */

static ngx_int_t
ngx_http_otp_at_printable(ngx_str_t *value)
{
    u_char  *c;

    for (c = value->data; c < value->data + value->len; c++) {
        if (*c < ' ' || *c >= 0x7f) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static void
ngx_http_otp_at_send(ngx_http_otp_send_t *send)
{
    ngx_http_otp_at_conf_t           *acf;
    ngx_otp_africastalking_msg_t      m;
    ngx_http_otp_provider_call_t   pr;

    acf = send->provider->conf;

    if (send->channel != NGX_OTP_SMS) {
        ngx_http_otp_send_post(send, NGX_ERROR, NGX_OTP_DELIVERY_INTERNAL,
                               "sms only");
        return;
    }

    m.username.data = acf->username.data;
    m.username.len = acf->username.len;
    m.to.data = send->phone;
    m.to.len = send->phone_len;
    m.text.data = send->text.data;
    m.text.len = send->text.len;
    m.from.data = acf->from.data;
    m.from.len = acf->from.len;

    ngx_memzero(&pr, sizeof(ngx_http_otp_provider_call_t));

    /* without Accept the answer is XML */

    pr.url = acf->url;
    pr.headers[0] = acf->api_key_header;
    ngx_str_set(&pr.headers[1], "Accept: application/json");
    ngx_str_set(&pr.headers[2],
                "Content-Type: application/x-www-form-urlencoded");
    pr.nheaders = 3;
    pr.build = ngx_http_otp_at_build;
    pr.msg = &m;
    pr.parse = ngx_otp_africastalking_parse;

    ngx_http_otp_provider_call(send, &pr);
}


static int
ngx_http_otp_at_build(const void *m, u_char *out, size_t cap, size_t *len)
{
    return ngx_otp_africastalking_body(m, out, cap, len);
}
