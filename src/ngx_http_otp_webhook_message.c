
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * Incoming messages of a provider's webhook call: STOP and START change
 * the opt-out list, a YES is a START for a number on the list, and a
 * reply like any other for the rest: "YES" is also what people answer a
 * question with.  Anything else may go on to otp_webhook_forward, with
 * the verified sender in X-OTP-From and X-OTP-Channel, headers that are
 * stripped from every request a client sends.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_otp_module.h"
#include "ngx_http_otp_vars.h"
#include "ngx_http_otp_metrics.h"
#include "ngx_http_otp_request.h"
#include "ngx_http_otp_webhook_call.h"


static void ngx_http_otp_webhook_optout_done(ngx_http_otp_store_op_t *op);
static ngx_int_t ngx_http_otp_webhook_strip(ngx_http_request_t *r);
static ngx_uint_t ngx_http_otp_webhook_ours(ngx_table_elt_t *h);
static ngx_int_t ngx_http_otp_webhook_add_header(ngx_http_request_t *r,
    ngx_str_t *key, ngx_str_t *value);


static ngx_str_t  ngx_http_otp_header_from = ngx_string("X-OTP-From");
static ngx_str_t  ngx_http_otp_header_channel = ngx_string("X-OTP-Channel");


/* an incoming message: NGX_DONE (an opt-out change), or NGX_DECLINED */

ngx_int_t
ngx_http_otp_webhook_message(ngx_http_request_t *r, ngx_http_otp_ctx_t *ctx,
    ngx_http_otp_webhook_t *wh, ngx_otp_hook_message_t *m)
{
    u_char                     masked[NGX_OTP_PHONE_MAX_LEN];
    size_t                     masked_len;
    unsigned                   kw;
    ngx_http_otp_app_t        *app;
    ngx_http_otp_store_op_t   *op;

    if (m->from_len == 0) {
        /* a sender that is no number we can read: nothing to key */
        return NGX_DECLINED;
    }

    kw = ngx_otp_keyword(m->text.data, m->text.len);

    /* the number masked, the text never: people write anything */

    masked_len = ngx_otp_phone_mask(m->from, m->from_len, masked);

    if (kw == NGX_OTP_KEYWORD_NONE) {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "otp webhook: a message from %*s",
                       masked_len, masked);

        if (wh->forward == NULL) {
            wh->forward = m;
        }

        return NGX_DECLINED;
    }

    /* $otp_phone_masked: the sender of the call's last keyword (a message
     * passed on is the app's to log, not an outcome of ours) */
    ctx->masked_len = ngx_cpymem(ctx->masked, masked, masked_len)
                      - ctx->masked;
    ngx_http_otp_outcome_by(ctx, m->channel, &wh->provider->name);

    switch (kw) {

    case NGX_OTP_KEYWORD_HELP:
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "otp webhook of \"%V\": HELP from %*s",
                      &wh->provider->name, masked_len, masked);
        ngx_http_otp_outcome(r, "help");
        wh->help = 1;
        return NGX_DECLINED;

    case NGX_OTP_KEYWORD_STOP:
    case NGX_OTP_KEYWORD_START:
        break;

    default: /* NGX_OTP_KEYWORD_YES */
        /* an opt-in if the number is listed: OPTOUT_CLEAR tells */
        wh->yes = m;
        break;
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "otp webhook of \"%V\": %s from %*s",
                  &wh->provider->name,
                  kw == NGX_OTP_KEYWORD_STOP ? "STOP (opt-out)"
                  : kw == NGX_OTP_KEYWORD_YES ? "YES (opt-in if opted out)"
                                              : "START (opt-in)",
                  masked_len, masked);

    op = ngx_http_otp_op_create(r, kw == NGX_OTP_KEYWORD_STOP
                                   ? NGX_HTTP_OTP_OP_OPTOUT_SET
                                   : NGX_HTTP_OTP_OP_OPTOUT_CLEAR,
                                ngx_http_otp_webhook_optout_done);
    if (op == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the number as its HMAC, the key /otp/send's ISSUE checks */

    app = ngx_http_otp_get_app(r);

    if (ngx_otp_key_phone(app->secret.data, app->secret.len, m->from,
                          m->from_len, op->phone_key)
        != NGX_OTP_OK)
    {
        /* never started: no backend holds it */
        ngx_free(op);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(ctx->phone_key, op->phone_key, NGX_OTP_HASH_LEN);
    ctx->has_phone_key = 1;

    return ngx_http_otp_op_start(r, ctx, op);
}


static void
ngx_http_otp_webhook_optout_done(ngx_http_otp_store_op_t *op)
{
    ngx_http_request_t      *r;
    ngx_http_otp_ctx_t      *ctx;
    ngx_http_otp_webhook_t  *wh;

    ctx = ngx_http_otp_op_done(op);
    r = ctx->request;
    wh = ctx->sig->webhook;

    switch (op->status) {

    case NGX_HTTP_OTP_STORE_OK:
        ngx_http_otp_outcome(r, op->type == NGX_HTTP_OTP_OP_OPTOUT_SET
                                ? "opted_out" : "opted_in");

        /* each message of a call, here: the call's outcome is its last */
        ngx_http_otp_metrics_optout(op->type == NGX_HTTP_OTP_OP_OPTOUT_SET);
        break;

    case NGX_HTTP_OTP_STORE_NOT_FOUND:
        /* a START or YES of a number not listed: in already */
        ngx_http_otp_outcome(r, "opted_in");

        /* a START from a number not listed changes nothing; a YES is a
         * reply to pass on */

        if (wh->yes) {
            ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "otp webhook: YES from a number not opted out, "
                           "a message");

            if (wh->forward == NULL) {
                wh->forward = wh->yes;
            }
        }

        break;

    default:
        ngx_http_otp_resume(r, ngx_http_otp_store_unavailable(r));
        return;
    }

    wh->yes = NULL;

    ngx_http_otp_webhook_continue(r, ctx);
}


/*
 * otp_webhook_forward: the call goes on, internally redirected, with the
 * body read (it stays in r->request_body for proxy_pass) and the sender
 * in X-OTP-From, X-OTP-Channel; copies of those the client sent are
 * removed first, so that what the application reads is ours
 */

ngx_int_t
ngx_http_otp_webhook_forward(ngx_http_request_t *r, ngx_http_otp_webhook_t *wh)
{
    ngx_str_t                 from, channel, uri, args;
    ngx_http_otp_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);

    from.len = wh->forward->from_len;
    from.data = ngx_pnalloc(r->pool, from.len);
    if (from.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(from.data, wh->forward->from, from.len);

    channel.data = (u_char *) ngx_otp_channel_name(wh->forward->channel);
    channel.len = ngx_strlen(channel.data);

    if (ngx_http_otp_webhook_strip(r) != NGX_OK
        || ngx_http_otp_webhook_add_header(r, &ngx_http_otp_header_from,
                                           &from)
           != NGX_OK
        || ngx_http_otp_webhook_add_header(r, &ngx_http_otp_header_channel,
                                           &channel)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "otp webhook: forward to \"%V\"", &olcf->hook.forward);

    if (olcf->hook.forward.data[0] == '@') {
        (void) ngx_http_named_location(r, &olcf->hook.forward);
        return NGX_DONE;
    }

    uri = olcf->hook.forward;
    args = r->args;

    (void) ngx_http_internal_redirect(r, &uri, &args);

    return NGX_DONE;
}


/*
 * X-OTP-From and X-OTP-Channel are the module's word to an application
 * (otp_webhook_forward): a client's copies are removed from every request
 * of every server, before anything else runs, as ngx_http_realip_module.c
 * rewrites the address in the post-read phase.  So no location, proxied
 * or not, passes a forged one on; an internal redirect (the forward's)
 * does not run this phase again, so the module's own stay.
 */

ngx_int_t
ngx_http_otp_webhook_strip_handler(ngx_http_request_t *r)
{
    if (ngx_http_otp_webhook_strip(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DECLINED;
}


/* removes the request headers that are ours to set, if there are any */

static ngx_int_t
ngx_http_otp_webhook_strip(ngx_http_request_t *r)
{
    ngx_uint_t        i, found;
    ngx_list_t        old;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h, *nh;

    found = 0;

    for (part = &r->headers_in.headers.part; part; part = part->next) {
        h = part->elts;

        for (i = 0; i < part->nelts; i++) {
            found |= ngx_http_otp_webhook_ours(&h[i]);
        }
    }

    if (!found) {
        return NGX_OK;
    }

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "otp webhook: a client's X-OTP-* headers removed");

    /*
     * A list cannot lose an element: it is made again without them, in
     * place (its "last" points into it).  The old elements stay in the
     * pool, so pointers such as headers_in.host keep pointing to what
     * they did.
     */

    old = r->headers_in.headers;

    if (ngx_list_init(&r->headers_in.headers, r->pool, 20,
                      sizeof(ngx_table_elt_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (part = &old.part; part; part = part->next) {
        h = part->elts;

        for (i = 0; i < part->nelts; i++) {
            if (ngx_http_otp_webhook_ours(&h[i])) {
                continue;
            }

            nh = ngx_list_push(&r->headers_in.headers);
            if (nh == NULL) {
                return NGX_ERROR;
            }

            *nh = h[i];
        }
    }

    return NGX_OK;
}


/*
 * X-OTP-From or X-OTP-Channel, any case, '_' taken for '-': with
 * underscores_in_headers on, "X_OTP_From" would reach a FastCGI or uwsgi
 * application as the same HTTP_X_OTP_FROM
 */

static ngx_uint_t
ngx_http_otp_webhook_ours(ngx_table_elt_t *h)
{
    u_char       c;
    ngx_str_t   *name;
    ngx_uint_t   i, n;

    static ngx_str_t  *names[] = {
        &ngx_http_otp_header_from,
        &ngx_http_otp_header_channel
    };

    for (n = 0; n < sizeof(names) / sizeof(names[0]); n++) {
        name = names[n];

        if (h->key.len != name->len) {
            continue;
        }

        for (i = 0; i < name->len; i++) {
            c = ngx_tolower(h->key.data[i]);

            if (c != ngx_tolower(name->data[i]) && !(c == '_'
                                                    && name->data[i] == '-'))
            {
                break;
            }
        }

        if (i == name->len) {
            return 1;
        }
    }

    return 0;
}


static ngx_int_t
ngx_http_otp_webhook_add_header(ngx_http_request_t *r, ngx_str_t *key,
    ngx_str_t *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_in.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->key = *key;
    h->value = *value;
    h->hash = 1;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    h->lowcase_key = ngx_pnalloc(r->pool, key->len);
    if (h->lowcase_key == NULL) {
        return NGX_ERROR;
    }

    ngx_strlow(h->lowcase_key, key->data, key->len);

    return NGX_OK;
}
