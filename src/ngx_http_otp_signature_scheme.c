
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * Each scheme's check of a provider webhook, for the access-phase handler
 * of ngx_http_otp_signature.c: what is checked before the body, and the
 * signature over it.
 *
 *   Twilio              X-Twilio-Signature over the public URL and the
 *                       form parameters (ngx_otp_twilio_validate());
 *   Meta                X-Hub-Signature-256 over the raw body, and the
 *                       verify token of the subscription handshake (GET);
 *   Africa's Talking    a shared secret (query argument "secret", header
 *                       X-Webhook-Secret or a Basic auth password) and an
 *                       optional address allow-list: it signs nothing;
 *   standard_webhooks   webhook-id, webhook-timestamp, webhook-signature,
 *                       and (replay=on) a webhook-id accepted before is
 *                       refused: the store's SEEN, one set-if-absent.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_otp_module.h"
#include "ngx_http_otp_request.h"
#include "ngx_http_otp_signature.h"


static ngx_int_t ngx_http_otp_signature_twilio(ngx_http_request_t *r,
    ngx_http_otp_sig_t *sig, ngx_str_t *body);
static ngx_int_t ngx_http_otp_signature_url(ngx_http_request_t *r,
    ngx_str_t *url);
static ngx_int_t ngx_http_otp_signature_at(ngx_http_request_t *r,
    ngx_http_otp_sig_t *sig);
static ngx_int_t ngx_http_otp_signature_arg(ngx_http_request_t *r,
    const char *name, ngx_str_t *value);
static ngx_int_t ngx_http_otp_signature_equal(ngx_str_t *a, ngx_str_t *b);
static ngx_int_t ngx_http_otp_signature_refuse(ngx_http_request_t *r,
    ngx_http_otp_sig_t *sig, const char *why);


ngx_str_t  ngx_http_otp_stdwh_name = ngx_string("standard_webhooks");


/*
 * What is checked before the body: the headers a scheme needs, Africa's
 * Talking's secret and addresses, Meta's handshake.  NGX_OK (passed),
 * NGX_DONE (refused, answered), NGX_AGAIN (the body is needed).
 */

ngx_int_t
ngx_http_otp_signature_pre(ngx_http_request_t *r, ngx_http_otp_sig_t *sig)
{
    ngx_str_t                 token, mode;
    ngx_http_otp_provider_t  *p;

    p = sig->provider;

    switch (sig->scheme) {

    case NGX_HTTP_OTP_HOOK_TWILIO:
        if (ngx_http_otp_hook_header(r, "X-Twilio-Signature") == NULL) {
            return ngx_http_otp_signature_refuse(r, sig,
                                        "no X-Twilio-Signature header");
        }

        return NGX_AGAIN;

    case NGX_HTTP_OTP_HOOK_META:
        if (r->method == NGX_HTTP_GET) {
            /*
             * the subscription handshake, and only it: its verify token is
             * the proof, a weak one (it travels in URLs and logs), so that
             * no other GET passes on it
             */

            if (ngx_http_otp_signature_arg(r, "hub.mode", &mode) != NGX_OK
                || mode.len != 9
                || ngx_strncmp(mode.data, "subscribe", 9) != 0
                || ngx_http_arg(r, (u_char *) "hub.challenge", 13, &token)
                   != NGX_OK
                || token.len == 0)
            {
                return ngx_http_otp_signature_refuse(r, sig,
                                        "a GET that is no subscription "
                                        "handshake (hub.mode=subscribe, "
                                        "hub.challenge)");
            }

            if (ngx_http_otp_signature_arg(r, "hub.verify_token", &token)
                != NGX_OK)
            {
                return ngx_http_otp_signature_refuse(r, sig,
                                        "a GET without hub.verify_token");
            }

            if (p->hook.verify_token.len == 0
                || ngx_http_otp_signature_equal(&token,
                                                &p->hook.verify_token)
                   != NGX_OK)
            {
                return ngx_http_otp_signature_refuse(r, sig,
                                        "a wrong hub.verify_token");
            }

            return NGX_OK;
        }

        if (ngx_http_otp_hook_header(r, "X-Hub-Signature-256") == NULL) {
            return ngx_http_otp_signature_refuse(r, sig,
                                        "no X-Hub-Signature-256 header");
        }

        return NGX_AGAIN;

    case NGX_HTTP_OTP_HOOK_AT:
        return ngx_http_otp_signature_at(r, sig);

    default: /* NGX_HTTP_OTP_SIG_STDWH */
        if (ngx_http_otp_hook_header(r, "webhook-id") == NULL
            || ngx_http_otp_hook_header(r, "webhook-timestamp") == NULL
            || ngx_http_otp_hook_header(r, "webhook-signature") == NULL)
        {
            return ngx_http_otp_signature_refuse(r, sig,
                                        "no webhook-id, webhook-timestamp "
                                        "or webhook-signature header");
        }

        return NGX_AGAIN;
    }
}


/* NGX_OK, or the request refused (NGX_DONE) */

ngx_int_t
ngx_http_otp_signature_check(ngx_http_request_t *r, ngx_http_otp_sig_t *sig,
    ngx_str_t *body)
{
    int               rc;
    ngx_str_t        *secret;
    ngx_table_elt_t  *h, *id, *ts;

    switch (sig->scheme) {

    case NGX_HTTP_OTP_HOOK_TWILIO:
        return ngx_http_otp_signature_twilio(r, sig, body);

    case NGX_HTTP_OTP_HOOK_META:
        secret = &sig->provider->hook.secret;
        h = ngx_http_otp_hook_header(r, "X-Hub-Signature-256");

        if (ngx_otp_hub_validate(secret->data, secret->len, body->data,
                                 body->len, h->value.data, h->value.len)
            != NGX_OTP_OK)
        {
            return ngx_http_otp_signature_refuse(r, sig,
                                        "X-Hub-Signature-256 does not "
                                        "match");
        }

        return NGX_OK;

    default: /* NGX_HTTP_OTP_SIG_STDWH */
        id = ngx_http_otp_hook_header(r, "webhook-id");
        ts = ngx_http_otp_hook_header(r, "webhook-timestamp");
        h = ngx_http_otp_hook_header(r, "webhook-signature");

        rc = ngx_otp_stdwh_validate(sig->secret.data, sig->secret.len,
                                    id->value.data, id->value.len,
                                    ts->value.data, ts->value.len,
                                    h->value.data, h->value.len,
                                    body->data, body->len, ngx_time(),
                                    sig->tolerance);

        if (rc == NGX_OTP_EEXPIRED) {
            return ngx_http_otp_signature_refuse(r, sig,
                                        "webhook-timestamp outside the "
                                        "tolerance");
        }

        if (rc != NGX_OTP_OK) {
            return ngx_http_otp_signature_refuse(r, sig,
                                        "webhook-signature does not match");
        }

        return NGX_OK;
    }
}


static ngx_int_t
ngx_http_otp_signature_twilio(ngx_http_request_t *r, ngx_http_otp_sig_t *sig,
    ngx_str_t *body)
{
    int               rc;
    ngx_str_t         url, *token;
    ngx_table_elt_t  *h;

    if (ngx_http_otp_signature_url(r, &url) != NGX_OK) {
        return ngx_http_otp_signature_refuse(r, sig,
                                    "the request's URL cannot be built");
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "otp signature: twilio url \"%V\"", &url);

    token = &sig->provider->hook.secret;
    h = ngx_http_otp_hook_header(r, "X-Twilio-Signature");

    rc = ngx_otp_twilio_validate(token->data, token->len, url.data, url.len,
                                 body->data, body->len, h->value.data,
                                 h->value.len);

    if (rc != NGX_OTP_OK) {
        return ngx_http_otp_signature_refuse(r, sig,
                                    rc == NGX_OTP_ESIG
                                    ? "X-Twilio-Signature does not match"
                                    : "a body or URL that cannot be read");
    }

    return NGX_OK;
}


/*
 * The URL Twilio called: otp_public_url and the request's URI as it came
 * (arguments included); without it, the scheme, Host and URI received,
 * the scheme taken from X-Forwarded-Proto when the client is one of
 * otp_trusted_proxies.  The port variants are the core's.
 */

static ngx_int_t
ngx_http_otp_signature_url(ngx_http_request_t *r, ngx_str_t *url)
{
    u_char                   *p, *c;
    ngx_str_t                 scheme, host, proto;
    ngx_table_elt_t          *h;
    ngx_http_otp_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);

    if (olcf->hook.public_url.len) {
        ngx_str_set(&scheme, "");
        host = olcf->hook.public_url;

    } else {
        ngx_str_set(&scheme, "http://");

#if (NGX_HTTP_SSL)
        if (r->connection->ssl) {
            ngx_str_set(&scheme, "https://");
        }
#endif

        h = NULL;

        if (olcf->hook.trusted
            && ngx_cidr_match(r->connection->sockaddr, olcf->hook.trusted)
               == NGX_OK)
        {
            h = ngx_http_otp_hook_header(r, "X-Forwarded-Proto");
        }

        if (h) {
            /* the first of a list, as the nearest proxy saw it */
            proto = h->value;
            c = ngx_strlchr(proto.data, proto.data + proto.len, ',');
            if (c) {
                proto.len = c - proto.data;
            }

            while (proto.len && proto.data[proto.len - 1] == ' ') {
                proto.len--;
            }

            if (proto.len == 5
                && ngx_strncasecmp(proto.data, (u_char *) "https", 5) == 0)
            {
                ngx_str_set(&scheme, "https://");

            } else if (proto.len == 4
                       && ngx_strncasecmp(proto.data, (u_char *) "http", 4)
                          == 0)
            {
                ngx_str_set(&scheme, "http://");
            }
        }

        if (r->headers_in.host) {
            host = r->headers_in.host->value;

        } else {
            host = r->headers_in.server;
        }

        if (host.len == 0) {
            return NGX_ERROR;
        }
    }

    url->len = scheme.len + host.len + r->unparsed_uri.len;

    if (url->len > NGX_OTP_SIG_URL_MAX) {
        return NGX_ERROR;
    }

    url->data = ngx_pnalloc(r->pool, url->len);
    if (url->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(url->data, scheme.data, scheme.len);
    p = ngx_cpymem(p, host.data, host.len);
    ngx_memcpy(p, r->unparsed_uri.data, r->unparsed_uri.len);

    return NGX_OK;
}


/* Africa's Talking: the address allow-list, then the shared secret */

static ngx_int_t
ngx_http_otp_signature_at(ngx_http_request_t *r, ngx_http_otp_sig_t *sig)
{
    ngx_str_t                 given;
    ngx_table_elt_t          *h;
    ngx_http_otp_provider_t  *p;

    p = sig->provider;

    if (p->hook.allow
        && ngx_cidr_match(r->connection->sockaddr, p->hook.allow) != NGX_OK)
    {
        return ngx_http_otp_signature_refuse(r, sig,
                                    "the client's address is not in "
                                    "webhook_allow");
    }

    if (ngx_http_otp_signature_arg(r, "secret", &given) == NGX_OK
        && ngx_http_otp_signature_equal(&given, &p->hook.secret) == NGX_OK)
    {
        return NGX_OK;
    }

    h = ngx_http_otp_hook_header(r, "X-Webhook-Secret");

    if (h && ngx_http_otp_signature_equal(&h->value, &p->hook.secret)
             == NGX_OK)
    {
        return NGX_OK;
    }

    if (r->headers_in.authorization
        && ngx_http_auth_basic_user(r) == NGX_OK
        && ngx_http_otp_signature_equal(&r->headers_in.passwd,
                                        &p->hook.secret)
           == NGX_OK)
    {
        return NGX_OK;
    }

    return ngx_http_otp_signature_refuse(r, sig,
                                "no valid webhook secret (argument "
                                "\"secret\", X-Webhook-Secret or Basic "
                                "auth)");
}


/* a query argument, URL-decoded into the request's pool */

static ngx_int_t
ngx_http_otp_signature_arg(ngx_http_request_t *r, const char *name,
    ngx_str_t *value)
{
    u_char     *dst, *src;
    ngx_str_t   raw;

    if (ngx_http_arg(r, (u_char *) name, ngx_strlen(name), &raw) != NGX_OK) {
        return NGX_DECLINED;
    }

    value->data = ngx_pnalloc(r->pool, raw.len + 1);
    if (value->data == NULL) {
        return NGX_ERROR;
    }

    dst = value->data;
    src = raw.data;

    ngx_unescape_uri(&dst, &src, raw.len, NGX_UNESCAPE_URI);

    value->len = dst - value->data;

    return NGX_OK;
}


/* constant time whatever the lengths: the digests are compared */

static ngx_int_t
ngx_http_otp_signature_equal(ngx_str_t *a, ngx_str_t *b)
{
    u_char  da[NGX_OTP_HASH_LEN], db[NGX_OTP_HASH_LEN];

    if (b->len == 0
        || ngx_otp_sha256(a->data, a->len, da) != NGX_OTP_OK
        || ngx_otp_sha256(b->data, b->len, db) != NGX_OTP_OK)
    {
        return NGX_DECLINED;
    }

    return ngx_otp_ct_equal(da, db, NGX_OTP_HASH_LEN) ? NGX_OK
                                                      : NGX_DECLINED;
}


static ngx_int_t
ngx_http_otp_signature_refuse(ngx_http_request_t *r, ngx_http_otp_sig_t *sig,
    const char *why)
{
    /* never the signature or a secret: what was wrong, and whose */

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "otp webhook of \"%V\" refused: %s",
                  sig->scheme == NGX_HTTP_OTP_SIG_STDWH
                  ? &ngx_http_otp_stdwh_name : &sig->name, why);

    return ngx_http_otp_signature_deny(r, NGX_HTTP_FORBIDDEN,
                                       "invalid_signature",
                                       "The request's signature is missing "
                                       "or invalid.");
}
