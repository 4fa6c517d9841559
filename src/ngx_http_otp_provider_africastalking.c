
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

#include "ngx_http_otp_module.h"


#define NGX_HTTP_OTP_AT_BASE_URL   "https://api.africastalking.com"


typedef struct {
    ngx_str_t                       username;
    ngx_str_t                       api_key;
    ngx_str_t                       from;

    ngx_str_t                       url;
    ngx_str_t                       api_key_header;
} ngx_http_otp_at_conf_t;


static char *ngx_http_otp_at_conf(ngx_conf_t *cf,
    ngx_http_otp_provider_t *p);
static ngx_int_t ngx_http_otp_at_printable(ngx_str_t *value);

static void ngx_http_otp_at_send(ngx_http_otp_send_t *send);
static void ngx_http_otp_at_done(ngx_http_otp_http_req_t *req);


static ngx_http_otp_provider_option_t  ngx_http_otp_at_options[] = {
    { "username", offsetof(ngx_http_otp_at_conf_t, username) },
    { "api_key", offsetof(ngx_http_otp_at_conf_t, api_key) },
    { "from", offsetof(ngx_http_otp_at_conf_t, from) },
    { NULL, 0 }
};


ngx_http_otp_provider_type_t  ngx_http_otp_provider_africastalking = {
    "africastalking",
    NGX_OTP_SMS,
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
    int                           rc;
    u_char                       *body, text[NGX_OTP_MESSAGE_MAX_LEN];
    size_t                        len;
    ngx_otp_message_vars_t        vars;
    ngx_http_otp_at_conf_t       *acf;
    ngx_http_otp_provider_t      *p;
    ngx_http_otp_http_req_t      *req;
    ngx_otp_africastalking_msg_t  m;

    p = send->provider;
    acf = p->conf;

    if (send->channel != NGX_OTP_SMS) {
        ngx_http_otp_send_fail(send, "africastalking: sms only");
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

    if (m.text.len == 0) {
        /* nobody rendered one: the module's default words */

        ngx_memzero(&vars, sizeof(ngx_otp_message_vars_t));
        vars.code = send->code;
        vars.code_len = send->code_len;
        vars.ttl = send->ttl / 1000;

        if (ngx_otp_message_render(NULL, 0, &vars, text, sizeof(text),
                                   &m.text.len)
            != NGX_OTP_OK)
        {
            ngx_http_otp_send_fail(send, "africastalking: cannot render text");
            return;
        }

        m.text.data = text;
    }

    if (ngx_otp_africastalking_body(&m, NULL, 0, &len) != NGX_OTP_OK) {
        ngx_explicit_memzero(text, sizeof(text));
        ngx_http_otp_send_fail(send, "africastalking: invalid message");
        return;
    }

    body = ngx_alloc(len, send->log);
    if (body == NULL) {
        ngx_explicit_memzero(text, sizeof(text));
        ngx_http_otp_send_fail(send, "africastalking: out of memory");
        return;
    }

    rc = ngx_otp_africastalking_body(&m, body, len, &len);

    ngx_explicit_memzero(text, sizeof(text));

    req = (rc == NGX_OTP_OK) ? ngx_http_otp_http_create(send->log) : NULL;

    if (req == NULL) {
        ngx_explicit_memzero(body, len);
        ngx_free(body);
        ngx_http_otp_send_fail(send, "africastalking: cannot build request");
        return;
    }

    /* without Accept the answer is XML */

    req->method = "POST";
    req->url = acf->url;
    req->headers[0] = acf->api_key_header;
    ngx_str_set(&req->headers[1], "Accept: application/json");
    ngx_str_set(&req->headers[2],
                "Content-Type: application/x-www-form-urlencoded");
    req->nheaders = 3;
    req->body.data = body;
    req->body.len = len;
    req->timeout = p->common.timeout;
    req->handler = ngx_http_otp_at_done;
    req->data = send;

    send->http = req;

    ngx_http_otp_http_start(p->http, req);

    /* start() has copied the body, and the body holds the code */

    ngx_explicit_memzero(body, len);
    ngx_free(body);
}


static void
ngx_http_otp_at_done(ngx_http_otp_http_req_t *req)
{
    ngx_http_otp_send_answer(req->data, req, ngx_otp_africastalking_parse,
                             "africastalking");
}
