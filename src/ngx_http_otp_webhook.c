
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * The webhook endpoint of a provider (otp_webhook NAME): its signature is
 * checked in the access phase (ngx_http_otp_signature.c), so this handler
 * only ever reads genuine calls.  It answers Meta's subscription
 * handshake, applies each delivery status of a callback as one STATUS_SET
 * (statuses move forward only: the store decides, atomically), and reads
 * incoming messages: STOP and START keywords change the opt-out list,
 * HELP is answered with otp_help_text (Twilio's in the TwiML answer,
 * Meta's by a WhatsApp text of its own, sent once the call is answered),
 * anything else may be passed on to otp_webhook_forward with the verified
 * sender in X-OTP-From (ngx_http_otp_webhook_message.c; the HELP replies,
 * ngx_http_otp_webhook_help.c).
 *
 * The operations of one call run one after the other: a callback carries
 * few of them, and a store that fails stops them with a 503, so that the
 * provider retries the whole call (a STATUS_SET applied twice is no step
 * the second time).  A valid call about a message the store does not know
 * answers 200: the provider must not retry it forever.
 *
 * Its postconfiguration derives Twilio's StatusCallback from
 * otp_public_url and the webhook location, and prints the URLs to give
 * Meta's and Africa's Talking's consoles.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_otp_module.h"
#include "ngx_http_otp_directives.h"
#include "ngx_http_otp_app.h"
#include "ngx_http_otp_vars.h"
#include "ngx_http_otp_metrics.h"
#include "ngx_http_otp_alert.h"
#include "ngx_http_otp_request.h"
#include "ngx_http_otp_fallback.h"
#include "ngx_http_otp_webhook_call.h"


#define NGX_HTTP_OTP_CHALLENGE_MAX  256


static void ngx_http_otp_webhook_body(ngx_http_request_t *r);
static ngx_int_t ngx_http_otp_webhook_next(ngx_http_request_t *r,
    ngx_http_otp_ctx_t *ctx, ngx_http_otp_webhook_t *wh);
static void ngx_http_otp_webhook_status_done(ngx_http_otp_store_op_t *op);
static void ngx_http_otp_webhook_outcome(ngx_http_request_t *r,
    ngx_http_otp_ctx_t *ctx, ngx_http_otp_store_op_t *op);
static void ngx_http_otp_webhook_wait(ngx_http_request_t *r);
static ngx_int_t ngx_http_otp_webhook_answer(ngx_http_request_t *r,
    ngx_http_otp_webhook_t *wh);
static ngx_int_t ngx_http_otp_webhook_handshake(ngx_http_request_t *r);
static ngx_int_t ngx_http_otp_webhook_text(ngx_http_request_t *r,
    ngx_uint_t status, const char *type, u_char *text, size_t len);
static ngx_int_t ngx_http_otp_webhook_url(ngx_conf_t *cf,
    ngx_http_otp_webhook_loc_t *w, ngx_str_t *url);


/* otp_webhook NAME */

char *
ngx_http_otp_webhook_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_otp_loc_conf_t *olcf = conf;

    char                        *rv;
    ngx_str_t                   *value;
    ngx_http_otp_sig_t          *sig, **s;
    ngx_http_core_loc_conf_t    *clcf;
    ngx_http_otp_main_conf_t    *omcf;
    ngx_http_otp_webhook_loc_t  *w;

    if (olcf->handler) {
        return "is duplicate";
    }

    if (olcf->hook.signature != NGX_CONF_UNSET_PTR) {
        return "checks its provider's signature itself: remove "
               "\"otp_signature\" from this location";
    }

    value = cf->args->elts;

    sig = ngx_pcalloc(cf->pool, sizeof(ngx_http_otp_sig_t));
    if (sig == NULL) {
        return NGX_CONF_ERROR;
    }

    /* resolved with otp_signature's at postconfiguration */
    sig->name = value[1];
    sig->file = cf->conf_file->file.name;
    sig->line = cf->conf_file->line;

    olcf->hook.signature = sig;
    olcf->hook.webhook = sig;
    olcf->handler = cmd->offset;

    rv = ngx_http_otp_content_handler(cf, ngx_http_otp_webhook_handler);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    ngx_http_otp_app_used(cf);

    /* its provider is found in the server's app once that is known */
    sig->srv = ngx_http_conf_get_module_srv_conf(cf, ngx_http_otp_module);

    omcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_otp_module);

    s = ngx_array_push(&omcf->sigs);
    if (s == NULL) {
        return NGX_CONF_ERROR;
    }

    *s = sig;

    w = ngx_array_push(&omcf->webhooks);
    if (w == NULL) {
        return NGX_CONF_ERROR;
    }

    w->conf = &olcf->hook;
    w->clcf = clcf;

    return NGX_CONF_OK;
}


/*
 * After the checks are resolved: each provider's webhook URL, from
 * otp_public_url and its location's name.  Twilio is told it with each
 * message (StatusCallback) unless status_callback= says otherwise; for
 * Meta and Africa's Talking, whose callback URL is set in their consoles,
 * it is printed (NOTICE: nginx -t shows it).
 */

ngx_int_t
ngx_http_otp_hook_postconf(ngx_conf_t *cf)
{
    ngx_str_t                    url;
    ngx_uint_t                   i, j;
    ngx_http_handler_pt         *h;
    ngx_http_otp_provider_t     *p;
    ngx_http_otp_main_conf_t    *omcf;
    ngx_http_otp_webhook_loc_t  *w;
    ngx_http_core_main_conf_t   *cmcf;

    if (ngx_http_otp_signature_postconf(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    omcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_otp_module);

    if (omcf->used || omcf->sigs.nelts) {
        /* as ngx_http_realip_module.c installs its handler */

        cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

        h = ngx_array_push(&cmcf->phases[NGX_HTTP_POST_READ_PHASE].handlers);
        if (h == NULL) {
            return NGX_ERROR;
        }

        *h = ngx_http_otp_webhook_strip_handler;
    }

    w = omcf->webhooks.elts;

    for (i = 0; i < omcf->webhooks.nelts; i++) {
        p = w[i].conf->webhook->provider;

        for (j = 0; j < i; j++) {
            if (w[j].conf->webhook->provider == p) {
                break;
            }
        }

        if (j < i) {
            ngx_log_error(NGX_LOG_WARN, cf->log, 0,
                          "provider \"%V\" has several \"otp_webhook\" "
                          "locations: the first, \"%V\", is the one "
                          "derived callback URLs name", &p->name,
                          &w[j].clcf->name);
            continue;
        }

        if (ngx_http_otp_webhook_url(cf, &w[i], &url) != NGX_OK) {

            if (p->hook.scheme == NGX_HTTP_OTP_HOOK_TWILIO
                && p->hook.status_callback->len == 0)
            {
                ngx_log_error(NGX_LOG_NOTICE, cf->log, 0,
                              "twilio provider \"%V\" sends no "
                              "StatusCallback: give status_callback=, or "
                              "\"otp_public_url\" and a prefix or exact "
                              "\"otp_webhook\" location", &p->name);
            }

            continue;
        }

        switch (p->hook.scheme) {

        case NGX_HTTP_OTP_HOOK_TWILIO:
            if (p->hook.status_callback->len) {
                break;
            }

            *p->hook.status_callback = url;

            ngx_log_error(NGX_LOG_NOTICE, cf->log, 0,
                          "twilio provider \"%V\": StatusCallback %V; for "
                          "incoming messages, set this URL as the "
                          "number's \"A message comes in\" webhook (POST) "
                          "in Twilio's console", &p->name, &url);
            break;

        case NGX_HTTP_OTP_HOOK_META:
            ngx_log_error(NGX_LOG_NOTICE, cf->log, 0,
                          "meta_whatsapp provider \"%V\": in the App "
                          "Dashboard (WhatsApp, Configuration), set the "
                          "callback URL %V with the verify token of "
                          "verify_token=, and subscribe to \"messages\"",
                          &p->name, &url);
            break;

        case NGX_HTTP_OTP_HOOK_AT:
            /* the secret is never logged: its place is named */
            ngx_log_error(NGX_LOG_NOTICE, cf->log, 0,
                          "africastalking provider \"%V\": in the "
                          "dashboard (SMS, Callback URLs), set the delivery "
                          "reports URL %V?secret=<webhook_secret>",
                          &p->name, &url);
            break;
        }
    }

    return NGX_OK;
}


/* otp_public_url and the location's name; NGX_DECLINED when unknown */

static ngx_int_t
ngx_http_otp_webhook_url(ngx_conf_t *cf, ngx_http_otp_webhook_loc_t *w,
    ngx_str_t *url)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = w->clcf;

    if (w->conf->public_url.len == 0 || clcf->named || clcf->noname
#if (NGX_PCRE)
        || clcf->regex
#endif
        || clcf->name.len == 0 || clcf->name.data[0] != '/')
    {
        return NGX_DECLINED;
    }

    url->len = w->conf->public_url.len + clcf->name.len;
    url->data = ngx_pnalloc(cf->pool, url->len);
    if (url->data == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(url->data, "%V%V", &w->conf->public_url, &clcf->name);

    return NGX_OK;
}


ngx_int_t
ngx_http_otp_webhook_handler(ngx_http_request_t *r)
{
    ngx_int_t                 rc;
    const char               *allow;
    ngx_http_otp_ctx_t       *ctx;
    ngx_http_otp_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);

    if (r != r->main) {
        /*
         * a subrequest (mirror, ssi, auth_request) skips the access
         * phase, and with it the signature check
         * (ngx_http_core_access_phase()): nothing of it is believed
         */

        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "otp webhook of \"%V\" refused: a subrequest, whose "
                      "signature is never checked",
                      &olcf->hook.webhook->name);

        return ngx_http_otp_error(r, NGX_HTTP_FORBIDDEN, "invalid_signature",
                                  "The request's signature is missing or "
                                  "invalid.");
    }

    if (r->method == NGX_HTTP_GET
        && olcf->hook.webhook->scheme == NGX_HTTP_OTP_HOOK_META)
    {
        return ngx_http_otp_webhook_handshake(r);
    }

    if (r->method != NGX_HTTP_POST) {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        /* Meta's subscription handshake is a GET */

        allow = (olcf->hook.webhook->scheme == NGX_HTTP_OTP_HOOK_META)
                ? "GET, POST" : "POST";

        return ngx_http_otp_not_allowed(r, allow,
                                        "Use POST for this endpoint.");
    }

    ctx = ngx_http_otp_hook_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* read already by the signature check, but for Africa's Talking's */

    r->request_body_in_single_buf = 1;

    rc = ngx_http_read_client_request_body(r, ngx_http_otp_webhook_body);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


static void
ngx_http_otp_webhook_body(ngx_http_request_t *r)
{
    int                       rc;
    u_char                   *scratch;
    ngx_int_t                 n;
    ngx_str_t                 body;
    ngx_http_otp_ctx_t       *ctx;
    ngx_http_otp_webhook_t   *wh;
    ngx_http_otp_loc_conf_t  *olcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);

    n = ngx_http_otp_hook_body(r, &body);

    if (n == NGX_DECLINED) {
        ngx_http_finalize_request(r,
                        ngx_http_otp_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                           "invalid_request",
                                           "The request body is too "
                                           "large."));
        return;
    }

    if (n != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    wh = ngx_palloc(r->pool, sizeof(ngx_http_otp_webhook_t));
    scratch = ngx_pnalloc(r->pool, body.len + 1);

    if (wh == NULL || scratch == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_memzero(wh, offsetof(ngx_http_otp_webhook_t, hook));
    wh->hook.nstatuses = 0;
    wh->hook.nmessages = 0;
    wh->hook.truncated = 0;

    wh->provider = olcf->hook.webhook->provider;
    ctx->sig->webhook = wh;

    switch (wh->provider->hook.scheme) {

    case NGX_HTTP_OTP_HOOK_TWILIO:
        rc = ngx_otp_hook_twilio(body.data, body.len, scratch, &wh->hook);
        break;

    case NGX_HTTP_OTP_HOOK_META:
        rc = ngx_otp_hook_meta(body.data, body.len, scratch, &wh->hook);
        break;

    default: /* NGX_HTTP_OTP_HOOK_AT */
        rc = ngx_otp_hook_africastalking(body.data, body.len, scratch,
                                         &wh->hook);
        break;
    }

    if (rc != NGX_OTP_OK) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "otp webhook of \"%V\": a body that cannot be read",
                      &wh->provider->name);

        ngx_http_finalize_request(r,
                        ngx_http_otp_error(r, NGX_HTTP_BAD_REQUEST,
                                           "invalid_request",
                                           "The webhook body cannot be "
                                           "read."));
        return;
    }

    if (wh->hook.truncated) {
        /* a 413 would be retried for days, and fail the same way */
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "otp webhook of \"%V\": more than %d statuses or "
                      "messages in one body, the first ones are applied",
                      &wh->provider->name, NGX_OTP_HOOK_MAX);
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "otp webhook of \"%V\": %uz statuses, %uz messages",
                   &wh->provider->name, wh->hook.nstatuses,
                   wh->hook.nmessages);

    n = ngx_http_otp_webhook_next(r, ctx, wh);

    if (n == NGX_DONE && ctx->op) {
        ngx_http_otp_webhook_wait(r);
        return;
    }

    /*
     * an answer, or NGX_DONE after an internal redirect: the count it
     * took is given back, as ngx_http_upstream.c does after an
     * X-Accel-Redirect
     */

    ngx_http_finalize_request(r, n);
}


/*
 * The next store operation of the call, or its answer when none is left.
 * NGX_DONE while an operation is pending (ctx->op set), or after an
 * internal redirect (otp_webhook_forward).
 */

static ngx_int_t
ngx_http_otp_webhook_next(ngx_http_request_t *r, ngx_http_otp_ctx_t *ctx,
    ngx_http_otp_webhook_t *wh)
{
    ngx_int_t                 rc;
    ngx_http_otp_app_t       *app;
    ngx_http_otp_provider_t  *p;
    ngx_http_otp_store_op_t  *op;
    ngx_otp_hook_status_t    *s;

    p = wh->provider;

    while (wh->next_status < wh->hook.nstatuses) {
        s = &wh->hook.statuses[wh->next_status++];

        if (s->status == 0 || s->id.len == 0
            || s->id.len > NGX_HTTP_OTP_ID_LEN
            || p->store_name.len > NGX_HTTP_OTP_PROVIDER_NAME_MAX)
        {
            /* none of ours (Twilio's "receiving"...) */
            continue;
        }

        op = ngx_http_otp_op_create(r, NGX_HTTP_OTP_OP_STATUS_SET,
                                    ngx_http_otp_webhook_status_done);
        if (op == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        /* the app's key of the message: another app's is not found */
        app = ngx_http_otp_get_app(r);
        op->message_id_len = ngx_http_otp_app_message_key(app, s->id.data,
                                                          s->id.len,
                                                          op->message_id);
        /* the store's name: another app's message is no record here */
        ngx_memcpy(op->provider, p->store_name.data, p->store_name.len);
        op->provider_len = p->store_name.len;
        op->msg_status = s->status;

        op->error_code_len = ngx_min(s->error_code.len,
                                     NGX_HTTP_OTP_ERROR_CODE_MAX);
        if (op->error_code_len) {
            ngx_memcpy(op->error_code, s->error_code.data,
                       op->error_code_len);
        }

        ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "otp webhook: status %s for %*s",
                       ngx_otp_status_name(s->status),
                       s->id.len, s->id.data);

        return ngx_http_otp_op_start(r, ctx, op);
    }

    while (wh->next_message < wh->hook.nmessages) {
        rc = ngx_http_otp_webhook_message(r, ctx, wh,
                                 &wh->hook.messages[wh->next_message++]);
        if (rc != NGX_DECLINED) {
            return rc;
        }
    }

    return ngx_http_otp_webhook_answer(r, wh);
}


/*
 * $otp_message_id, $otp_channel, $otp_provider of a status applied: the
 * provider's id (the store's key without the app's prefix).  A call with
 * several statuses (Meta's) leaves the last one's.
 */

static void
ngx_http_otp_webhook_outcome(ngx_http_request_t *r, ngx_http_otp_ctx_t *ctx,
    ngx_http_otp_store_op_t *op)
{
    ngx_str_t                id;
    ngx_http_otp_webhook_t  *wh;

    wh = ctx->sig->webhook;

    ngx_http_otp_outcome_by(ctx, op->message.channel, &wh->provider->name);

    if (ngx_http_otp_app_message_id(ngx_http_otp_get_app(r), op->message_id,
                                    op->message_id_len, &id)
        == NGX_OK)
    {
        ctx->message_id_len = ngx_min(id.len, sizeof(ctx->message_id));
        ngx_memcpy(ctx->message_id, id.data, ctx->message_id_len);
    }
}


static void
ngx_http_otp_webhook_status_done(ngx_http_otp_store_op_t *op)
{
    ngx_http_request_t      *r;
    ngx_http_otp_ctx_t      *ctx;
    ngx_http_otp_webhook_t  *wh;

    ctx = ngx_http_otp_op_done(op);
    r = ctx->request;
    wh = ctx->sig->webhook;

    switch (op->status) {

    case NGX_HTTP_OTP_STORE_OK:
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "otp webhook of \"%V\": message %*s is %s",
                      &wh->provider->name, op->message_id_len,
                      op->message_id,
                      ngx_otp_status_name(op->message.status));

        ngx_http_otp_outcome_status(r, op->message.status);
        ngx_http_otp_webhook_outcome(r, ctx, op);
        ngx_http_otp_metrics_status(wh->provider, &op->message);
        ngx_http_otp_alert_status(wh->provider, &op->message);

        if (op->fallback_len) {
            /* the code goes out once more by the next channel; the op
             * stays ours, the fallback copies what it needs */
            ngx_http_otp_fallback_start(op, ngx_http_otp_get_app(r),
                                        ngx_cycle->log);
        }

        break;

    case NGX_HTTP_OTP_STORE_UNCHANGED:
        ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "otp webhook: message %*s stays %s",
                       op->message_id_len, op->message_id,
                       ngx_otp_status_name(op->message.status));

        /* late or repeated: the status does not go back */
        ngx_http_otp_outcome(r, "status_unchanged");
        ngx_http_otp_webhook_outcome(r, ctx, op);
        break;

    case NGX_HTTP_OTP_STORE_NOT_FOUND:
        /* another instance's, expired, or not ours: the provider must
         * not retry it */
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "otp webhook: no message %*s",
                       op->message_id_len, op->message_id);

        ngx_http_otp_outcome(r, "status_unknown");

        /* the unknown id, not the previous status's of this call */
        ngx_http_otp_webhook_outcome(r, ctx, op);
        ctx->out_channel = 0;
        break;

    default:
        ngx_http_otp_resume(r, ngx_http_otp_store_unavailable(r));
        return;
    }

    ngx_http_otp_webhook_continue(r, ctx);
}


void
ngx_http_otp_webhook_continue(ngx_http_request_t *r, ngx_http_otp_ctx_t *ctx)
{
    ngx_int_t  rc;

    rc = ngx_http_otp_webhook_next(r, ctx, ctx->sig->webhook);

    if (rc == NGX_DONE && ctx->op) {
        /* the next operation is pending */
        return;
    }

    ngx_http_otp_resume(r, rc);
}


/*
 * While the store works, a client that goes away is noticed and its
 * request's cleanup cancels the operation (as ngx_http_otp_request.c
 * waits, after ngx_http_limit_req_module.c and ngx_http_upstream.c)
 */

static void
ngx_http_otp_webhook_wait(ngx_http_request_t *r)
{
    r->read_event_handler = ngx_http_test_reading;

    if (r->connection->read->ready) {
        ngx_post_event(r->connection->read, &ngx_posted_events);

    } else if (ngx_handle_read_event(r->connection->read, 0) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
    }
}


/* what the provider is answered, once every operation is done */

static ngx_int_t
ngx_http_otp_webhook_answer(ngx_http_request_t *r, ngx_http_otp_webhook_t *wh)
{
    u_char                   *xml;
    size_t                    len;
    ngx_str_t                *help;
    ngx_http_otp_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);

    help = &olcf->hook.help_text;

    if (wh->help && help->len
        && wh->provider->hook.scheme != NGX_HTTP_OTP_HOOK_TWILIO)
    {
        /*
         * Only now that every operation is done: a call the store failed
         * is answered 503 and retried whole, and must not be replied to
         * twice.  The replies go detached; the call's answer waits for
         * none of them.
         */
        ngx_http_otp_webhook_help(r, wh, help);
    }

    if (wh->forward && olcf->hook.forward.len) {
        return ngx_http_otp_webhook_forward(r, wh);
    }

    if (wh->provider->hook.scheme == NGX_HTTP_OTP_HOOK_TWILIO) {

        /* TwiML: the help text as the reply, or nothing to say */

        len = (wh->help && help->len) ? help->len : 0;

        if (ngx_otp_twiml_message(help->data, len, NULL, 0, &len)
            != NGX_OTP_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        xml = ngx_pnalloc(r->pool, len);
        if (xml == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (ngx_otp_twiml_message(help->data,
                                  (wh->help && help->len) ? help->len : 0,
                                  xml, len, &len)
            != NGX_OTP_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_otp_webhook_text(r, NGX_HTTP_OK, "text/xml", xml,
                                         len);
    }

    return ngx_http_otp_json(r, NGX_HTTP_OK, (u_char *) "{\"status\":\"ok\"}",
                             sizeof("{\"status\":\"ok\"}") - 1);
}


/* Meta's GET: its verify token was checked in the access phase */

static ngx_int_t
ngx_http_otp_webhook_handshake(ngx_http_request_t *r)
{
    u_char     *c, *dst, *src;
    ngx_int_t   rc;
    ngx_str_t   mode, raw, challenge;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_http_arg(r, (u_char *) "hub.mode", 8, &mode) != NGX_OK
        || mode.len != 9 || ngx_strncmp(mode.data, "subscribe", 9) != 0
        || ngx_http_arg(r, (u_char *) "hub.challenge", 13, &raw) != NGX_OK
        || raw.len == 0 || raw.len > NGX_HTTP_OTP_CHALLENGE_MAX)
    {
        return ngx_http_otp_error(r, NGX_HTTP_BAD_REQUEST, "invalid_request",
                                  "Expected hub.mode=subscribe and "
                                  "hub.challenge.");
    }

    challenge.data = ngx_pnalloc(r->pool, raw.len);
    if (challenge.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    dst = challenge.data;
    src = raw.data;
    ngx_unescape_uri(&dst, &src, raw.len, NGX_UNESCAPE_URI);
    challenge.len = dst - challenge.data;

    /* echoed as it is: printable ASCII only, never markup */

    for (c = challenge.data; c < challenge.data + challenge.len; c++) {
        if (*c <= ' ' || *c >= 0x7f || *c == '<' || *c == '>' || *c == '&') {
            return ngx_http_otp_error(r, NGX_HTTP_BAD_REQUEST,
                                      "invalid_request",
                                      "The hub.challenge is not printable.");
        }
    }

    ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                  "otp webhook: Meta's subscription handshake answered");

    return ngx_http_otp_webhook_text(r, NGX_HTTP_OK, "text/plain",
                                     challenge.data, challenge.len);
}


static ngx_int_t
ngx_http_otp_webhook_text(ngx_http_request_t *r, ngx_uint_t status,
    const char *type, u_char *text, size_t len)
{
    ngx_int_t    rc;
    ngx_buf_t   *b;
    ngx_chain_t  out;

    r->headers_out.status = status;
    r->headers_out.content_length_n = len;
    r->headers_out.content_type.data = (u_char *) type;
    r->headers_out.content_type.len = ngx_strlen(type);
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->pos = text;
    b->last = text + len;
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}
