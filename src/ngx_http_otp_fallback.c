
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * Fallback on failed delivery (otp_fallback).  At send, the message
 * record gets a sealed copy of what the next channel of the chain would
 * need (ngx_http_otp_fallback_seal()); the store hands it out, once, to
 * the report that says the message failed, and this file then resends
 * the same code, detached from any request:
 *
 *   open the blob -> CODE_LIVE (the code is still the one to enter, not
 *   used, not locked, the number not opted out) -> BUDGET (when the
 *   provider has one) -> send by the next channel's provider ->
 *   MESSAGE_PUT (the new message, linked back to the first, with no
 *   blob: a fallback happens once) -> MESSAGE_LINK (the first message
 *   points to the new one).
 *
 * The code and the text that holds it are wiped as soon as the send has
 * them, and everything else when the fallback ends.  Only a masked phone
 * is logged.  A worker that exits cancels what is under way.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_otp_module.h"
#include "ngx_http_otp_app.h"
#include "ngx_http_otp_fallback.h"
#include "ngx_http_otp_analytics.h"
#include "ngx_http_otp_metrics.h"



typedef struct {
    ngx_queue_t                     queue;        /* the worker's, pending */
    ngx_log_t                       log;          /* the cycle's, a copy */

    ngx_http_otp_store_op_t        *op;           /* in flight */
    ngx_http_otp_send_t            *send;         /* in flight */
    ngx_http_otp_provider_t        *provider;
    ngx_http_otp_app_t             *app;          /* the webhook's server's */

    u_char                          id[NGX_HTTP_OTP_MESSAGE_ID_MAX];
    size_t                          id_len;
    u_char                          new_id[NGX_HTTP_OTP_MESSAGE_ID_MAX];
    size_t                          new_id_len;
    u_char                          phone_key[NGX_OTP_HASH_LEN];
    int64_t                         cost;         /* the new message's,
                                                     millionths; -1 */

    /* the blob's content */
    ngx_otp_fallback_record_t       rec;
    u_char                          masked[NGX_OTP_PHONE_MAX_LEN];
    size_t                          masked_len;
} ngx_http_otp_fallback_run_t;


static ngx_int_t ngx_http_otp_fallback_open(ngx_http_otp_fallback_run_t *fb,
    ngx_http_otp_store_op_t *op, ngx_str_t *secret);
static ngx_int_t ngx_http_otp_fallback_op(ngx_http_otp_fallback_run_t *fb,
    ngx_http_otp_op_type_e type, ngx_http_otp_store_handler_pt handler);
static void ngx_http_otp_fallback_live(ngx_http_otp_store_op_t *op);
static void ngx_http_otp_fallback_budget(ngx_http_otp_store_op_t *op);
static void ngx_http_otp_fallback_send(ngx_http_otp_fallback_run_t *fb);
static void ngx_http_otp_fallback_sent(ngx_http_otp_send_t *send);
static void ngx_http_otp_fallback_put(ngx_http_otp_store_op_t *op);
static void ngx_http_otp_fallback_linked(ngx_http_otp_store_op_t *op);
static void ngx_http_otp_fallback_end(ngx_http_otp_fallback_run_t *fb);
static ngx_http_otp_main_conf_t *ngx_http_otp_fallback_conf(void);
static int64_t ngx_http_otp_fallback_now(void);


static ngx_queue_t  ngx_http_otp_fallbacks;
static ngx_uint_t   ngx_http_otp_fallbacks_init;


ngx_int_t
ngx_http_otp_fallback_seal(ngx_str_t *secret, ngx_otp_fallback_record_t *rec,
    ngx_http_otp_store_op_t *op)
{
    int     rc;
    size_t  len;
    u_char  plain[NGX_HTTP_OTP_FALLBACK_MAX];

    rc = ngx_otp_fallback_encode(rec, NULL, 0, &len);

    if (rc == NGX_OTP_OK
        && len + NGX_OTP_SEAL_OVERHEAD > NGX_HTTP_OTP_FALLBACK_MAX)
    {
        rc = NGX_OTP_ETOOBIG;
    }

    if (rc == NGX_OTP_OK) {
        rc = ngx_otp_fallback_encode(rec, plain, sizeof(plain), &len);
    }

    if (rc == NGX_OTP_ETOOBIG) {
        return NGX_DECLINED;
    }

    if (rc == NGX_OTP_OK) {
        rc = ngx_otp_seal(secret->data, secret->len, op->message_id,
                          op->message_id_len, plain, len, op->fallback,
                          sizeof(op->fallback), &op->fallback_len, NULL);
    }

    ngx_explicit_memzero(plain, sizeof(plain));

    if (rc != NGX_OTP_OK) {
        op->fallback_len = 0;
        return NGX_ERROR;
    }

    return NGX_OK;
}


void
ngx_http_otp_fallback_start(ngx_http_otp_store_op_t *op,
    ngx_http_otp_app_t *app, ngx_log_t *log)
{
    ngx_http_otp_fallback_run_t  *fb;

    if (op->fallback_len == 0) {
        return;
    }

    fb = ngx_calloc(sizeof(ngx_http_otp_fallback_run_t), log);
    if (fb == NULL) {
        return;
    }

    /* a request's log goes with its connection: the cycle's is kept */

    fb->log = *ngx_cycle->log;
    fb->log.action = "resending a code by fallback";
    fb->app = app;

    fb->id_len = ngx_min(op->message_id_len, sizeof(fb->id));
    ngx_memcpy(fb->id, op->message_id, fb->id_len);
    ngx_memcpy(fb->phone_key, op->phone_key, NGX_OTP_HASH_LEN);

    if (!ngx_http_otp_fallbacks_init) {
        ngx_queue_init(&ngx_http_otp_fallbacks);
        ngx_http_otp_fallbacks_init = 1;
    }

    ngx_queue_insert_tail(&ngx_http_otp_fallbacks, &fb->queue);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, &fb->log, 0,
                   "otp fallback %p for message %*s", fb, fb->id_len, fb->id);

    if (ngx_http_otp_fallback_open(fb, op, &app->secret) != NGX_OK) {
        ngx_http_otp_fallback_end(fb);
        return;
    }

    if (ngx_http_otp_fallback_op(fb, NGX_HTTP_OTP_OP_CODE_LIVE,
                                 ngx_http_otp_fallback_live)
        != NGX_OK)
    {
        ngx_http_otp_fallback_end(fb);
    }
}


static ngx_int_t
ngx_http_otp_fallback_open(ngx_http_otp_fallback_run_t *fb,
    ngx_http_otp_store_op_t *op, ngx_str_t *secret)
{
    int     rc;
    size_t  len;
    u_char  plain[NGX_HTTP_OTP_FALLBACK_MAX];

    rc = ngx_otp_open(secret->data, secret->len, fb->id, fb->id_len,
                      op->fallback, op->fallback_len, plain, sizeof(plain),
                      &len);

    if (rc != NGX_OTP_OK) {
        /* another secret (a rotation), or the store was tampered with */
        ngx_log_error(NGX_LOG_WARN, &fb->log, 0,
                      "otp fallback for message %*s: its sealed record "
                      "cannot be opened with this secret",
                      fb->id_len, fb->id);
        return NGX_ERROR;
    }

    rc = ngx_otp_fallback_decode(plain, len, &fb->rec);

    ngx_explicit_memzero(plain, sizeof(plain));

    if (rc != NGX_OTP_OK) {
        ngx_log_error(NGX_LOG_ERR, &fb->log, 0,
                      "otp fallback for message %*s: its sealed record is "
                      "invalid", fb->id_len, fb->id);
        return NGX_ERROR;
    }

    fb->masked_len = ngx_otp_phone_mask(fb->rec.phone, fb->rec.phone_len,
                                        fb->masked);

    return NGX_OK;
}


static ngx_int_t
ngx_http_otp_fallback_op(ngx_http_otp_fallback_run_t *fb,
    ngx_http_otp_op_type_e type, ngx_http_otp_store_handler_pt handler)
{
    ngx_http_otp_store_op_t   *op;
    ngx_http_otp_main_conf_t  *omcf;

    omcf = ngx_http_otp_fallback_conf();
    if (omcf == NULL) {
        return NGX_ERROR;
    }

    op = ngx_http_otp_store_op_create(&fb->log);
    if (op == NULL) {
        return NGX_ERROR;
    }

    op->type = type;
    op->handler = handler;
    op->data = fb;

    ngx_memcpy(op->phone_key, fb->phone_key, NGX_OTP_HASH_LEN);

    switch (type) {

    case NGX_HTTP_OTP_OP_CODE_LIVE:
        if (ngx_otp_key_code(fb->app->secret.data, fb->app->secret.len,
                             fb->rec.phone, fb->rec.phone_len, fb->rec.code,
                             fb->rec.code_len, op->code_key)
            != NGX_OTP_OK)
        {
            ngx_free(op);
            return NGX_ERROR;
        }

        break;

    case NGX_HTTP_OTP_OP_BUDGET:
        op->budget_name = fb->provider->store_name;
        op->budget_limit = fb->provider->common.budget;
        break;

    case NGX_HTTP_OTP_OP_MESSAGE_PUT:
        /* the new message, pointing back; no blob: once only */
        ngx_memcpy(op->message_id, fb->new_id, fb->new_id_len);
        op->message_id_len = fb->new_id_len;
        ngx_memcpy(op->link_id, fb->id, fb->id_len);
        op->link_id_len = fb->id_len;
        op->provider_len = fb->provider->store_name.len;
        ngx_memcpy(op->provider, fb->provider->store_name.data,
                   op->provider_len);
        op->channel = fb->rec.channel;
        op->message_ttl = fb->rec.message_ttl;
        op->cost = fb->cost;
        op->country_len = ngx_http_otp_country(fb->rec.phone,
                                               fb->rec.phone_len,
                                               op->country);
        break;

    default: /* NGX_HTTP_OTP_OP_MESSAGE_LINK */
        ngx_memcpy(op->message_id, fb->id, fb->id_len);
        op->message_id_len = fb->id_len;
        ngx_memcpy(op->link_id, fb->new_id, fb->new_id_len);
        op->link_id_len = fb->new_id_len;
        break;
    }

    fb->op = op;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, &fb->log, 0,
                   "otp fallback %p: store op %d, %p", fb, (int) type, op);

    ngx_http_otp_store_start(&omcf->store, op);

    return NGX_OK;
}


static void
ngx_http_otp_fallback_live(ngx_http_otp_store_op_t *op)
{
    ngx_uint_t                    i;
    ngx_http_otp_provider_t      *p;
    ngx_http_otp_fallback_run_t  *fb;

    fb = op->data;
    fb->op = NULL;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, &fb->log, 0,
                   "otp fallback %p: code live: %d", fb, (int) op->status);

    if (op->status == NGX_HTTP_OTP_STORE_EXPIRED) {
        ngx_log_error(NGX_LOG_NOTICE, &fb->log, 0,
                      "otp message %*s to %*s failed; its code is no "
                      "longer live (used, expired, replaced or locked): "
                      "no fallback", fb->id_len, fb->id, fb->masked_len,
                      fb->masked);
        ngx_http_otp_fallback_end(fb);
        return;
    }

    if (op->status == NGX_HTTP_OTP_STORE_OPTED_OUT) {
        /* a STOP since the send: no code by any channel */
        ngx_log_error(NGX_LOG_NOTICE, &fb->log, 0,
                      "otp message %*s to %*s failed; the number has opted "
                      "out since: no fallback", fb->id_len, fb->id,
                      fb->masked_len, fb->masked);
        ngx_http_otp_fallback_end(fb);
        return;
    }

    if (op->status != NGX_HTTP_OTP_STORE_OK) {
        ngx_log_error(NGX_LOG_ERR, &fb->log, 0,
                      "otp message %*s to %*s failed; no fallback: the "
                      "store is unavailable", fb->id_len, fb->id,
                      fb->masked_len, fb->masked);
        ngx_http_otp_fallback_end(fb);
        return;
    }

    /* the next channel's provider, by name, among the app's: those of
     * the webhook's server in this worker's configuration */

    p = fb->app->providers.elts;

    for (i = 0; i < fb->app->providers.nelts; i++) {
        if (p[i].name.len == fb->rec.provider_len
            && ngx_strncmp(p[i].name.data, fb->rec.provider,
                           fb->rec.provider_len)
               == 0
            && (p[i].channels & fb->rec.channel))
        {
            fb->provider = &p[i];
            break;
        }
    }

    if (fb->provider == NULL) {
        ngx_log_error(NGX_LOG_WARN, &fb->log, 0,
                      "otp message %*s to %*s failed; no fallback: "
                      "provider \"%*s\" no longer sends by %s",
                      fb->id_len, fb->id, fb->masked_len, fb->masked,
                      fb->rec.provider_len, fb->rec.provider,
                      ngx_otp_channel_name(fb->rec.channel));
        ngx_http_otp_fallback_end(fb);
        return;
    }

    if (fb->provider->common.budget) {
        if (ngx_http_otp_fallback_op(fb, NGX_HTTP_OTP_OP_BUDGET,
                                     ngx_http_otp_fallback_budget)
            != NGX_OK)
        {
            ngx_http_otp_fallback_end(fb);
        }

        return;
    }

    ngx_http_otp_fallback_send(fb);
}


static void
ngx_http_otp_fallback_budget(ngx_http_otp_store_op_t *op)
{
    ngx_http_otp_fallback_run_t  *fb;

    fb = op->data;
    fb->op = NULL;

    if (op->status == NGX_HTTP_OTP_STORE_OK
        || op->status == NGX_HTTP_OTP_STORE_LIMITED)
    {
        ngx_http_otp_metrics_budget(fb->provider,
                                    op->status == NGX_HTTP_OTP_STORE_LIMITED);
    }

    if (op->status != NGX_HTTP_OTP_STORE_OK) {
        ngx_log_error(NGX_LOG_WARN, &fb->log, 0,
                      "otp message %*s to %*s failed; no fallback: "
                      "provider \"%V\" %s", fb->id_len, fb->id,
                      fb->masked_len, fb->masked, &fb->provider->name,
                      op->status == NGX_HTTP_OTP_STORE_LIMITED
                      ? "spent its hourly budget"
                      : "cannot be budgeted (store unavailable)");
        ngx_http_otp_fallback_end(fb);
        return;
    }

    ngx_http_otp_fallback_send(fb);
}


static void
ngx_http_otp_fallback_send(ngx_http_otp_fallback_run_t *fb)
{
    int64_t               left;
    ngx_http_otp_send_t  *send;

    send = ngx_http_otp_send_create(&fb->log);
    if (send == NULL) {
        ngx_http_otp_fallback_end(fb);
        return;
    }

    left = fb->rec.expires - ngx_http_otp_fallback_now();

    send->provider = fb->provider;
    send->channel = fb->rec.channel;
    ngx_memcpy(send->phone, fb->rec.phone, fb->rec.phone_len);
    send->phone_len = fb->rec.phone_len;
    ngx_memcpy(send->code, fb->rec.code, fb->rec.code_len);
    send->code_len = fb->rec.code_len;
    send->ttl = left > 1000 ? (ngx_msec_t) left : 1000;
    send->text.data = fb->rec.text;
    send->text.len = fb->rec.text_len;
    send->locale.data = fb->rec.locale;
    send->locale.len = fb->rec.locale_len;
    send->handler = ngx_http_otp_fallback_sent;
    send->data = fb;

    fb->send = send;

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, &fb->log, 0,
                   "otp fallback %p: send %p by \"%V\" via %s",
                   fb, send, &fb->provider->name,
                   ngx_otp_channel_name(fb->rec.channel));

    ngx_http_otp_send_start(send);
}


static void
ngx_http_otp_fallback_sent(ngx_http_otp_send_t *send)
{
    ngx_http_otp_fallback_run_t  *fb;

    fb = send->data;
    fb->send = NULL;

    /* the provider has the code, or failed with it: no copy stays */

    ngx_explicit_memzero(fb->rec.code, sizeof(fb->rec.code));
    ngx_explicit_memzero(fb->rec.text, sizeof(fb->rec.text));

    if (send->rc != NGX_OK) {
        /* the provider port logged why */
        ngx_log_error(NGX_LOG_WARN, &fb->log, 0,
                      "otp message %*s to %*s failed; the fallback by %s "
                      "through \"%V\" failed too: %s", fb->id_len, fb->id,
                      fb->masked_len, fb->masked,
                      ngx_otp_channel_name(fb->rec.channel),
                      &fb->provider->name,
                      ngx_otp_delivery_error_name(send->category));
        ngx_http_otp_fallback_end(fb);
        return;
    }

    fb->cost = send->cost;

    /* the store's key, as fb->id is (the webhook's op had it) */
    fb->new_id_len = ngx_http_otp_app_message_key(fb->app, send->message_id,
                                                  send->message_id_len,
                                                  fb->new_id);

    ngx_log_error(NGX_LOG_NOTICE, &fb->log, 0,
                  "otp message %*s to %*s failed; the code went again by "
                  "%s through \"%V\", message_id %*s",
                  fb->id_len, fb->id, fb->masked_len, fb->masked,
                  ngx_otp_channel_name(fb->rec.channel), &fb->provider->name,
                  fb->new_id_len, fb->new_id);

    if (fb->new_id_len == 0) {
        /* a provider that names no message: nothing to record or link */
        ngx_http_otp_fallback_end(fb);
        return;
    }

    if (ngx_http_otp_fallback_op(fb, NGX_HTTP_OTP_OP_MESSAGE_PUT,
                                 ngx_http_otp_fallback_put)
        != NGX_OK)
    {
        ngx_http_otp_fallback_end(fb);
    }
}


static void
ngx_http_otp_fallback_put(ngx_http_otp_store_op_t *op)
{
    ngx_http_otp_fallback_run_t  *fb;

    fb = op->data;
    fb->op = NULL;

    if (op->status != NGX_HTTP_OTP_STORE_OK) {
        ngx_log_error(NGX_LOG_ERR, &fb->log, 0,
                      "otp: message %*s (fallback of %*s) could not be "
                      "recorded", fb->new_id_len, fb->new_id,
                      fb->id_len, fb->id);
        ngx_http_otp_fallback_end(fb);
        return;
    }

    if (ngx_http_otp_fallback_op(fb, NGX_HTTP_OTP_OP_MESSAGE_LINK,
                                 ngx_http_otp_fallback_linked)
        != NGX_OK)
    {
        ngx_http_otp_fallback_end(fb);
    }
}


static void
ngx_http_otp_fallback_linked(ngx_http_otp_store_op_t *op)
{
    ngx_http_otp_fallback_run_t  *fb;

    fb = op->data;
    fb->op = NULL;

    if (op->status != NGX_HTTP_OTP_STORE_OK) {
        ngx_log_error(NGX_LOG_ERR, &fb->log, 0,
                      "otp: message %*s could not be linked to its "
                      "fallback %*s", fb->id_len, fb->id,
                      fb->new_id_len, fb->new_id);
    }

    ngx_http_otp_fallback_end(fb);
}


static void
ngx_http_otp_fallback_end(ngx_http_otp_fallback_run_t *fb)
{
    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, &fb->log, 0,
                   "otp fallback %p: end", fb);

    if (fb->op) {
        ngx_http_otp_store_op_cancel(fb->op);
    }

    if (fb->send) {
        ngx_http_otp_send_cancel(fb->send);
    }

    ngx_queue_remove(&fb->queue);

    ngx_explicit_memzero(fb, sizeof(ngx_http_otp_fallback_run_t));
    ngx_free(fb);
}


void
ngx_http_otp_fallback_exit(ngx_cycle_t *cycle)
{
    ngx_queue_t                  *q;
    ngx_http_otp_fallback_run_t  *fb;

    if (!ngx_http_otp_fallbacks_init) {
        return;
    }

    while (!ngx_queue_empty(&ngx_http_otp_fallbacks)) {
        q = ngx_queue_head(&ngx_http_otp_fallbacks);
        fb = ngx_queue_data(q, ngx_http_otp_fallback_run_t, queue);

        ngx_log_error(NGX_LOG_INFO, cycle->log, 0,
                      "otp fallback for message %*s cancelled: the worker "
                      "exits", fb->id_len, fb->id);

        ngx_http_otp_fallback_end(fb);
    }
}


static ngx_http_otp_main_conf_t *
ngx_http_otp_fallback_conf(void)
{
    ngx_cycle_t  *cycle;

    cycle = (ngx_cycle_t *) ngx_cycle;

    if (cycle->conf_ctx == NULL
        || cycle->conf_ctx[ngx_http_module.index] == NULL)
    {
        return NULL;
    }

    return ngx_http_cycle_get_module_main_conf(cycle, ngx_http_otp_module);
}


static int64_t
ngx_http_otp_fallback_now(void)
{
    ngx_time_t  *tp;

    tp = ngx_timeofday();

    return (int64_t) tp->sec * 1000 + tp->msec;
}
