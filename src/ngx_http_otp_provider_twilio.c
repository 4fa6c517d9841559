
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * The "twilio" provider type: SMS and WhatsApp through Messages.json, a
 * voice call through Calls.json, with Basic authentication by the
 * account's auth token or an API key.  The bytes are built and read by
 * the pure core (ngx_otp_provider_wire.c); this file only configures and
 * sends them.
 *
 *   otp_provider tw twilio account_sid=AC... auth_token_file=/etc/tw.key
 *                from=+15017122661 whatsapp_from=+14155238886
 *                whatsapp_content_sid=HX... voice_from=+15017122661;
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_otp_provider.h"


#define NGX_HTTP_OTP_TWILIO_BASE_URL   "https://api.twilio.com"
#define NGX_HTTP_OTP_TWILIO_SENDER_LEN 11      /* alphanumeric sender id */


typedef struct {
    ngx_str_t                       account_sid;
    ngx_str_t                       auth_token;
    ngx_str_t                       api_key;
    ngx_str_t                       api_secret;
    ngx_str_t                       from;
    ngx_str_t                       service;
    ngx_str_t                       whatsapp_from;
    ngx_str_t                       content_sid;
    ngx_str_t                       voice_from;
    ngx_str_t                       voice_language;
    ngx_str_t                       status_callback;

    ngx_str_t                       userpwd;        /* sid:secret */
    ngx_str_t                       messages_url;
    ngx_str_t                       calls_url;
} ngx_http_otp_twilio_conf_t;


static char *ngx_http_otp_twilio_conf(ngx_conf_t *cf,
    ngx_http_otp_provider_t *p);
static ngx_int_t ngx_http_otp_twilio_sid(ngx_conf_t *cf,
    ngx_http_otp_provider_t *p, ngx_str_t *value, const char *key,
    const char *prefix);
static ngx_int_t ngx_http_otp_twilio_phone(ngx_conf_t *cf,
    ngx_http_otp_provider_t *p, ngx_str_t *value, const char *key,
    ngx_uint_t sender);
static ngx_int_t ngx_http_otp_twilio_urls(ngx_conf_t *cf,
    ngx_http_otp_provider_t *p, ngx_http_otp_twilio_conf_t *tcf);
static ngx_uint_t ngx_http_otp_twilio_alnum(u_char c);

static void ngx_http_otp_twilio_send(ngx_http_otp_send_t *send);
static int ngx_http_otp_twilio_sms(const void *m, u_char *out, size_t cap,
    size_t *len);
static int ngx_http_otp_twilio_whatsapp(const void *m, u_char *out,
    size_t cap, size_t *len);
static int ngx_http_otp_twilio_voice(const void *m, u_char *out, size_t cap,
    size_t *len);


static ngx_http_otp_provider_option_t  ngx_http_otp_twilio_options[] = {
    { "account_sid", offsetof(ngx_http_otp_twilio_conf_t, account_sid) },
    { "auth_token", offsetof(ngx_http_otp_twilio_conf_t, auth_token) },
    { "api_key", offsetof(ngx_http_otp_twilio_conf_t, api_key) },
    { "api_secret", offsetof(ngx_http_otp_twilio_conf_t, api_secret) },
    { "from", offsetof(ngx_http_otp_twilio_conf_t, from) },
    { "messaging_service_sid",
      offsetof(ngx_http_otp_twilio_conf_t, service) },
    { "whatsapp_from", offsetof(ngx_http_otp_twilio_conf_t, whatsapp_from) },
    { "whatsapp_content_sid",
      offsetof(ngx_http_otp_twilio_conf_t, content_sid) },
    { "voice_from", offsetof(ngx_http_otp_twilio_conf_t, voice_from) },
    { "voice_language",
      offsetof(ngx_http_otp_twilio_conf_t, voice_language) },
    { "status_callback",
      offsetof(ngx_http_otp_twilio_conf_t, status_callback) },
    { NULL, 0 }
};


ngx_http_otp_provider_type_t  ngx_http_otp_provider_twilio = {
    "twilio",
    NGX_OTP_SMS | NGX_OTP_WHATSAPP | NGX_OTP_VOICE,
    0,
    sizeof(ngx_http_otp_twilio_conf_t),
    ngx_http_otp_twilio_options,
    ngx_http_otp_twilio_conf,
    ngx_http_otp_twilio_send
};


static char *
ngx_http_otp_twilio_conf(ngx_conf_t *cf, ngx_http_otp_provider_t *p)
{
    u_char                      *c;
    ngx_str_t                   *user, *secret;
    ngx_http_otp_twilio_conf_t  *tcf;

    tcf = p->conf;

    if (tcf->account_sid.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "twilio provider \"%V\" needs account_sid=AC...",
                           &p->name);
        return NGX_CONF_ERROR;
    }

    if (ngx_http_otp_twilio_sid(cf, p, &tcf->account_sid, "account_sid",
                                "AC")
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    /*
     * Basic auth: ApiKeySid:ApiSecret when an API key is given, else
     * AccountSid:AuthToken.  The auth token may come with an API key: it
     * is what Twilio signs its webhooks with (X-Twilio-Signature), which
     * an API key cannot check.
     */

    if ((tcf->api_key.len == 0) != (tcf->api_secret.len == 0)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "twilio provider \"%V\": api_key= and "
                           "api_secret= go together", &p->name);
        return NGX_CONF_ERROR;
    }

    if (tcf->api_key.len) {
        if (ngx_http_otp_twilio_sid(cf, p, &tcf->api_key, "api_key", "SK")
            != NGX_OK)
        {
            return NGX_CONF_ERROR;
        }

        user = &tcf->api_key;
        secret = &tcf->api_secret;

    } else if (tcf->auth_token.len) {
        user = &tcf->account_sid;
        secret = &tcf->auth_token;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "twilio provider \"%V\" needs auth_token= (or "
                           "auth_token_file=), or api_key= with api_secret= "
                           "(or api_secret_file=)", &p->name);
        return NGX_CONF_ERROR;
    }

    for (c = secret->data; c < secret->data + secret->len; c++) {
        if (*c <= ' ' || *c == 0x7f) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "twilio provider \"%V\": the auth token or "
                               "API secret has a space or control "
                               "character", &p->name);
            return NGX_CONF_ERROR;
        }
    }

    tcf->userpwd.len = user->len + 1 + secret->len;
    tcf->userpwd.data = ngx_pnalloc(cf->pool, tcf->userpwd.len);
    if (tcf->userpwd.data == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_sprintf(tcf->userpwd.data, "%V:%V", user, secret);

    /* channels: what the senders given allow */

    p->channels = 0;

    if (tcf->from.len && tcf->service.len) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "twilio provider \"%V\": from= and "
                           "messaging_service_sid= exclude each other",
                           &p->name);
        return NGX_CONF_ERROR;
    }

    if (tcf->from.len) {
        if (ngx_http_otp_twilio_phone(cf, p, &tcf->from, "from", 1)
            != NGX_OK)
        {
            return NGX_CONF_ERROR;
        }

        p->channels |= NGX_OTP_SMS;
    }

    if (tcf->service.len) {
        if (ngx_http_otp_twilio_sid(cf, p, &tcf->service,
                                    "messaging_service_sid", "MG")
            != NGX_OK)
        {
            return NGX_CONF_ERROR;
        }

        p->channels |= NGX_OTP_SMS;
    }

    if ((tcf->whatsapp_from.len == 0) != (tcf->content_sid.len == 0)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "twilio provider \"%V\": whatsapp_from= and "
                           "whatsapp_content_sid= go together", &p->name);
        return NGX_CONF_ERROR;
    }

    if (tcf->whatsapp_from.len) {
        if (ngx_http_otp_twilio_phone(cf, p, &tcf->whatsapp_from,
                                      "whatsapp_from", 0)
            != NGX_OK
            || ngx_http_otp_twilio_sid(cf, p, &tcf->content_sid,
                                       "whatsapp_content_sid", "HX")
               != NGX_OK)
        {
            return NGX_CONF_ERROR;
        }

        p->channels |= NGX_OTP_WHATSAPP;
    }

    if (tcf->voice_from.len) {
        if (ngx_http_otp_twilio_phone(cf, p, &tcf->voice_from, "voice_from",
                                      0)
            != NGX_OK)
        {
            return NGX_CONF_ERROR;
        }

        p->channels |= NGX_OTP_VOICE;
    }

    if (p->channels == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "twilio provider \"%V\" carries no channel: give "
                           "from= or messaging_service_sid= (sms), "
                           "whatsapp_from= with whatsapp_content_sid= "
                           "(whatsapp), or voice_from= (voice)", &p->name);
        return NGX_CONF_ERROR;
    }

    /* a BCP 47 tag: letters, digits and '-' */

    if (tcf->voice_language.data == NULL) {
        ngx_str_set(&tcf->voice_language, NGX_OTP_TWILIO_VOICE_LANGUAGE);
    }

    for (c = tcf->voice_language.data;
         c < tcf->voice_language.data + tcf->voice_language.len;
         c++)
    {
        if (!(ngx_http_otp_twilio_alnum(*c) || *c == '-')) {
            break;
        }
    }

    if (tcf->voice_language.len == 0
        || c != tcf->voice_language.data + tcf->voice_language.len)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "twilio provider \"%V\": invalid voice_language "
                           "\"%V\", e.g. \"en-US\"", &p->name,
                           &tcf->voice_language);
        return NGX_CONF_ERROR;
    }

    if (tcf->status_callback.len
        && ngx_strncmp(tcf->status_callback.data, "https://", 8) != 0
        && ngx_strncmp(tcf->status_callback.data, "http://", 7) != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "twilio provider \"%V\": status_callback must be "
                           "an http:// or https:// URL", &p->name);
        return NGX_CONF_ERROR;
    }

    if (ngx_http_otp_twilio_urls(cf, p, tcf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    /* webhooks: signed with the auth token ("" with an API key only: a
     * location that checks them is refused at postconfiguration); the
     * StatusCallback may be derived from otp_public_url there */

    p->hook.scheme = NGX_HTTP_OTP_HOOK_TWILIO;
    p->hook.secret = tcf->auth_token;
    p->hook.status_callback = &tcf->status_callback;

    return NGX_CONF_OK;
}


/* a Twilio SID: its two-letter prefix, then letters and digits */

static ngx_int_t
ngx_http_otp_twilio_sid(ngx_conf_t *cf, ngx_http_otp_provider_t *p,
    ngx_str_t *value, const char *key, const char *prefix)
{
    u_char  *c;

    if (value->len > 2 && ngx_strncmp(value->data, prefix, 2) == 0) {

        for (c = value->data + 2; c < value->data + value->len; c++) {
            if (!ngx_http_otp_twilio_alnum(*c)) {
                break;
            }
        }

        if (c == value->data + value->len) {
            return NGX_OK;
        }
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "twilio provider \"%V\": %s must be \"%s\" followed "
                       "by letters and digits", &p->name, key, prefix);

    return NGX_ERROR;
}


/*
 * An E.164 number; with sender set, an alphanumeric sender ID (up to 11
 * letters, digits and spaces, one letter at least) too, as Twilio takes
 * for SMS where the country allows it.
 */

static ngx_int_t
ngx_http_otp_twilio_phone(ngx_conf_t *cf, ngx_http_otp_provider_t *p,
    ngx_str_t *value, const char *key, ngx_uint_t sender)
{
    u_char      *c, out[NGX_OTP_PHONE_MAX_LEN];
    size_t       len;
    ngx_uint_t   letters;

    if (value->data[0] == '+') {
        if (ngx_otp_phone_normalize(value->data, value->len, NULL, 0, out,
                                    &len)
            == NGX_OTP_OK
            && len == value->len
            && ngx_memcmp(out, value->data, len) == 0)
        {
            return NGX_OK;
        }

    } else if (sender && value->len <= NGX_HTTP_OTP_TWILIO_SENDER_LEN) {
        letters = 0;

        for (c = value->data; c < value->data + value->len; c++) {
            if (!ngx_http_otp_twilio_alnum(*c) && *c != ' ') {
                break;
            }

            letters += !(*c >= '0' && *c <= '9') && *c != ' ';
        }

        if (c == value->data + value->len && letters) {
            return NGX_OK;
        }
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "twilio provider \"%V\": %s must be an E.164 number "
                       "(\"+\" and 8-15 digits)%s", &p->name, key,
                       sender ? " or an alphanumeric sender ID" : "");

    return NGX_ERROR;
}


static ngx_int_t
ngx_http_otp_twilio_urls(ngx_conf_t *cf, ngx_http_otp_provider_t *p,
    ngx_http_otp_twilio_conf_t *tcf)
{
    ngx_str_t  base;

    if (p->common.base_url.len) {
        base = p->common.base_url;

    } else {
        ngx_str_set(&base, NGX_HTTP_OTP_TWILIO_BASE_URL);

        if (ngx_http_otp_http_add_host(cf, p->http, &base) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    while (base.len && base.data[base.len - 1] == '/') {
        base.len--;
    }

    tcf->messages_url.len = base.len
                            + sizeof("/2010-04-01/Accounts//Messages.json")
                            - 1 + tcf->account_sid.len;
    tcf->messages_url.data = ngx_pnalloc(cf->pool, tcf->messages_url.len);
    if (tcf->messages_url.data == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(tcf->messages_url.data,
                "%V/2010-04-01/Accounts/%V/Messages.json", &base,
                &tcf->account_sid);

    tcf->calls_url.len = base.len
                         + sizeof("/2010-04-01/Accounts//Calls.json") - 1
                         + tcf->account_sid.len;
    tcf->calls_url.data = ngx_pnalloc(cf->pool, tcf->calls_url.len);
    if (tcf->calls_url.data == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(tcf->calls_url.data, "%V/2010-04-01/Accounts/%V/Calls.json",
                &base, &tcf->account_sid);

    return NGX_OK;
}


static ngx_uint_t
ngx_http_otp_twilio_alnum(u_char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')
           || (c >= 'A' && c <= 'Z');
}


static void
ngx_http_otp_twilio_send(ngx_http_otp_send_t *send)
{
    ngx_otp_twilio_msg_t             m;
    ngx_http_otp_provider_t         *p;
    ngx_http_otp_twilio_conf_t      *tcf;
    ngx_http_otp_provider_call_t  pr;

    p = send->provider;
    tcf = p->conf;

    if (!(p->channels & send->channel)) {
        ngx_http_otp_send_post(send, NGX_ERROR, NGX_OTP_DELIVERY_INTERNAL,
                               "channel not configured");
        return;
    }

    ngx_memzero(&m, sizeof(ngx_otp_twilio_msg_t));
    ngx_memzero(&pr, sizeof(ngx_http_otp_provider_call_t));

    m.to.data = send->phone;
    m.to.len = send->phone_len;
    m.code.data = send->code;
    m.code.len = send->code_len;
    m.status_callback.data = tcf->status_callback.data;
    m.status_callback.len = tcf->status_callback.len;

    switch (send->channel) {

    case NGX_OTP_WHATSAPP:
        m.from.data = tcf->whatsapp_from.data;
        m.from.len = tcf->whatsapp_from.len;
        m.content_sid.data = tcf->content_sid.data;
        m.content_sid.len = tcf->content_sid.len;
        pr.build = ngx_http_otp_twilio_whatsapp;
        pr.url = tcf->messages_url;
        break;

    case NGX_OTP_VOICE:
        m.from.data = tcf->voice_from.data;
        m.from.len = tcf->voice_from.len;
        m.language.data = tcf->voice_language.data;
        m.language.len = tcf->voice_language.len;
        pr.build = ngx_http_otp_twilio_voice;
        pr.url = tcf->calls_url;
        break;

    default: /* NGX_OTP_SMS */
        m.from.data = tcf->from.data;
        m.from.len = tcf->from.len;
        m.service.data = tcf->service.data;
        m.service.len = tcf->service.len;
        m.text.data = send->text.data;
        m.text.len = send->text.len;
        pr.build = ngx_http_otp_twilio_sms;
        pr.url = tcf->messages_url;
        break;
    }

    ngx_str_set(&pr.headers[0],
                "Content-Type: application/x-www-form-urlencoded");
    pr.nheaders = 1;
    pr.userpwd = tcf->userpwd;
    pr.msg = &m;
    pr.parse = ngx_otp_twilio_parse;

    ngx_http_otp_provider_call(send, &pr);
}


static int
ngx_http_otp_twilio_sms(const void *m, u_char *out, size_t cap, size_t *len)
{
    return ngx_otp_twilio_sms_body(m, out, cap, len);
}


static int
ngx_http_otp_twilio_whatsapp(const void *m, u_char *out, size_t cap,
    size_t *len)
{
    return ngx_otp_twilio_whatsapp_body(m, out, cap, len);
}


static int
ngx_http_otp_twilio_voice(const void *m, u_char *out, size_t cap,
    size_t *len)
{
    return ngx_otp_twilio_voice_body(m, out, cap, len);
}
