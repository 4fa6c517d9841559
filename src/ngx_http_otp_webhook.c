
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
 * sender in X-OTP-From.  A YES is a START for a number on the list, and a
 * reply like any other for the rest: "YES" is also what people answer a
 * question with.
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
#include "ngx_http_otp_request.h"
#include "ngx_http_otp_fallback.h"


#define NGX_HTTP_OTP_CHALLENGE_MAX  256


typedef struct {
    ngx_http_otp_provider_t        *provider;
    ngx_uint_t                      next_status;
    ngx_uint_t                      next_message;
    ngx_otp_hook_message_t         *forward;    /* the text passed on */
    ngx_otp_hook_message_t         *yes;        /* the YES of the pending
                                                   OPTOUT_CLEAR */
    unsigned                        help:1;

    /* last: ~90 KB of entries, not zeroed (the parsers set the counts) */
    ngx_otp_hook_t                  hook;
} ngx_http_otp_webhook_t;


/* a HELP reply in flight, detached from the call it answers */
typedef struct {
    ngx_queue_t                     queue;      /* the worker's */
    ngx_log_t                       log;        /* the cycle's, a copy */
    ngx_http_otp_send_t            *send;
} ngx_http_otp_webhook_reply_t;


static void ngx_http_otp_webhook_body(ngx_http_request_t *r);
static ngx_int_t ngx_http_otp_webhook_next(ngx_http_request_t *r,
    ngx_http_otp_ctx_t *ctx, ngx_http_otp_webhook_t *wh);
static ngx_int_t ngx_http_otp_webhook_message(ngx_http_request_t *r,
    ngx_http_otp_ctx_t *ctx, ngx_http_otp_webhook_t *wh,
    ngx_otp_hook_message_t *m);
static void ngx_http_otp_webhook_status_done(ngx_http_otp_store_op_t *op);
static void ngx_http_otp_webhook_optout_done(ngx_http_otp_store_op_t *op);
static void ngx_http_otp_webhook_continue(ngx_http_request_t *r,
    ngx_http_otp_ctx_t *ctx);
static void ngx_http_otp_webhook_wait(ngx_http_request_t *r);
static ngx_int_t ngx_http_otp_webhook_answer(ngx_http_request_t *r,
    ngx_http_otp_webhook_t *wh);
static void ngx_http_otp_webhook_help(ngx_http_request_t *r,
    ngx_http_otp_webhook_t *wh, ngx_str_t *help);
static void ngx_http_otp_webhook_reply(ngx_http_request_t *r,
    ngx_http_otp_provider_t *p, ngx_otp_hook_message_t *m, ngx_str_t *text);
static void ngx_http_otp_webhook_reply_done(ngx_http_otp_send_t *send);
static ngx_int_t ngx_http_otp_webhook_forward(ngx_http_request_t *r,
    ngx_http_otp_webhook_t *wh);
static ngx_int_t ngx_http_otp_webhook_strip_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_otp_webhook_strip(ngx_http_request_t *r);
static ngx_uint_t ngx_http_otp_webhook_ours(ngx_table_elt_t *h);
static ngx_int_t ngx_http_otp_webhook_add_header(ngx_http_request_t *r,
    ngx_str_t *key, ngx_str_t *value);
static ngx_int_t ngx_http_otp_webhook_handshake(ngx_http_request_t *r);
static ngx_int_t ngx_http_otp_webhook_text(ngx_http_request_t *r,
    ngx_uint_t status, const char *type, u_char *text, size_t len);
static ngx_int_t ngx_http_otp_webhook_url(ngx_conf_t *cf,
    ngx_http_otp_webhook_loc_t *w, ngx_str_t *url);


static char *ngx_http_otp_help_text_check(ngx_conf_t *cf, void *post,
    void *data);


ngx_conf_post_t  ngx_http_otp_help_text_post = {
    ngx_http_otp_help_text_check
};


static ngx_queue_t  ngx_http_otp_webhook_replies;
static ngx_uint_t   ngx_http_otp_webhook_replies_init;

static ngx_str_t  ngx_http_otp_header_from = ngx_string("X-OTP-From");
static ngx_str_t  ngx_http_otp_header_channel = ngx_string("X-OTP-Channel");


/* otp_webhook NAME */

char *
ngx_http_otp_webhook_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_otp_loc_conf_t *olcf = conf;

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

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_otp_webhook_handler;

    omcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_otp_module);
    omcf->used = 1;

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


/* otp_help_text TEXT: checked now, not at the first HELP (a 500 then) */

char *
ngx_http_otp_help_text(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_otp_loc_conf_t *olcf = conf;

    char    *rv;
    size_t   len;

    rv = ngx_conf_set_str_slot(cf, cmd, conf);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    if (ngx_otp_twiml_message(olcf->hook.help_text.data,
                              olcf->hook.help_text.len, NULL, 0, &len)
        != NGX_OTP_OK)
    {
        return "takes UTF-8 text without control characters other than "
               "tab and line breaks: a TwiML <Message> cannot carry them";
    }

    return NGX_CONF_OK;
}


/*
 * otp_help_text: sent as it is by any provider's webhook, so it must be
 * what every one takes; refused here rather than failing at each HELP
 */

static char *
ngx_http_otp_help_text_check(ngx_conf_t *cf, void *post, void *data)
{
    ngx_str_t *text = data;

    size_t      i, k;
    uint32_t    cp;
    ngx_uint_t  chars;

    chars = 0;

    for (i = 0; i < text->len; i += k, chars++) {
        k = ngx_otp_utf8_decode(&text->data[i], text->len - i, &cp);

        if (k == 0 || cp == 0) {
            return "is not valid UTF-8 text";
        }
    }

    if (chars > NGX_HTTP_OTP_HELP_TEXT_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"otp_help_text\" has %ui characters; at most "
                           "%d go in a message", chars,
                           NGX_HTTP_OTP_HELP_TEXT_MAX);
        return NGX_CONF_ERROR;
    }

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
    ngx_http_otp_provider_t  *p;
    ngx_http_otp_store_op_t  *op;
    ngx_otp_hook_status_t    *s;

    p = wh->provider;

    while (wh->next_status < wh->hook.nstatuses) {
        s = &wh->hook.statuses[wh->next_status++];

        if (s->status == 0 || s->id.len == 0
            || s->id.len > NGX_HTTP_OTP_MESSAGE_ID_MAX
            || p->name.len > NGX_HTTP_OTP_PROVIDER_NAME_MAX)
        {
            /* none of ours (Twilio's "receiving"...) */
            continue;
        }

        op = ngx_http_otp_op_create(r, NGX_HTTP_OTP_OP_STATUS_SET,
                                    ngx_http_otp_webhook_status_done);
        if (op == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_memcpy(op->message_id, s->id.data, s->id.len);
        op->message_id_len = s->id.len;
        ngx_memcpy(op->provider, p->name.data, p->name.len);
        op->provider_len = p->name.len;
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


/* an incoming message: NGX_DONE (an opt-out change), or NGX_DECLINED */

static ngx_int_t
ngx_http_otp_webhook_message(ngx_http_request_t *r, ngx_http_otp_ctx_t *ctx,
    ngx_http_otp_webhook_t *wh, ngx_otp_hook_message_t *m)
{
    u_char                     masked[NGX_OTP_PHONE_MAX_LEN];
    size_t                     masked_len;
    unsigned                   kw;
    ngx_http_otp_store_op_t   *op;
    ngx_http_otp_main_conf_t  *omcf;

    if (m->from_len == 0) {
        /* a sender that is no number we can read: nothing to key */
        return NGX_DECLINED;
    }

    kw = ngx_otp_keyword(m->text.data, m->text.len);

    /* the number masked, the text never: people write anything */

    masked_len = ngx_otp_phone_mask(m->from, m->from_len, masked);

    switch (kw) {

    case NGX_OTP_KEYWORD_HELP:
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "otp webhook of \"%V\": HELP from %*s",
                      &wh->provider->name, masked_len, masked);
        wh->help = 1;
        return NGX_DECLINED;

    case NGX_OTP_KEYWORD_STOP:
    case NGX_OTP_KEYWORD_START:
        break;

    case NGX_OTP_KEYWORD_YES:
        /* an opt-in if the number is listed: OPTOUT_CLEAR tells */
        wh->yes = m;
        break;

    default:
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "otp webhook: a message from %*s",
                       masked_len, masked);

        if (wh->forward == NULL) {
            wh->forward = m;
        }

        return NGX_DECLINED;
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

    omcf = ngx_http_get_module_main_conf(r, ngx_http_otp_module);

    if (ngx_otp_key_phone(omcf->secret.data, omcf->secret.len, m->from,
                          m->from_len, op->phone_key)
        != NGX_OTP_OK)
    {
        /* never started: no backend holds it */
        ngx_free(op);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_otp_op_start(r, ctx, op);
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

        if (op->fallback_len) {
            /* the code goes out once more by the next channel; the op
             * stays ours, the fallback copies what it needs */
            ngx_http_otp_fallback_start(op, ngx_cycle->log);
        }

        break;

    case NGX_HTTP_OTP_STORE_UNCHANGED:
        ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "otp webhook: message %*s stays %s",
                       op->message_id_len, op->message_id,
                       ngx_otp_status_name(op->message.status));
        break;

    case NGX_HTTP_OTP_STORE_NOT_FOUND:
        /* another instance's, expired, or not ours: the provider must
         * not retry it */
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "otp webhook: no message %*s",
                       op->message_id_len, op->message_id);
        break;

    default:
        ngx_http_otp_resume(r, ngx_http_otp_store_unavailable(r));
        return;
    }

    ngx_http_otp_webhook_continue(r, ctx);
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
        break;

    case NGX_HTTP_OTP_STORE_NOT_FOUND:
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


static void
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


/*
 * HELP where the answer cannot carry a reply (Meta's): the help text as a
 * free-form message of its own to each sender who asked (once each, however
 * many times the call holds it), through the provider that received the
 * call, which Meta allows within 24 hours of the user's message.
 */

static void
ngx_http_otp_webhook_help(ngx_http_request_t *r, ngx_http_otp_webhook_t *wh,
    ngx_str_t *help)
{
    ngx_uint_t               i, j;
    ngx_otp_hook_message_t  *m;

    m = wh->hook.messages;

    for (i = 0; i < wh->hook.nmessages; i++) {

        if (m[i].from_len == 0
            || ngx_otp_keyword(m[i].text.data, m[i].text.len)
               != NGX_OTP_KEYWORD_HELP)
        {
            continue;
        }

        for (j = 0; j < i; j++) {
            if (m[j].from_len == m[i].from_len
                && ngx_memcmp(m[j].from, m[i].from, m[i].from_len) == 0
                && ngx_otp_keyword(m[j].text.data, m[j].text.len)
                   == NGX_OTP_KEYWORD_HELP)
            {
                break;
            }
        }

        if (j < i) {
            continue;
        }

        if (!(wh->provider->type->free_form & m[i].channel)) {
            ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                          "otp webhook of \"%V\": HELP is not answered: "
                          "%s sends no free-form %s text",
                          &wh->provider->name, wh->provider->type->name,
                          ngx_otp_channel_name(m[i].channel));
            continue;
        }

        ngx_http_otp_webhook_reply(r, wh->provider, &m[i], help);
    }
}


/*
 * A reply detached from the call: it outlives the request, so it logs to
 * a copy of the cycle's log of its own (the port sets the action of the
 * log it is given until the answer; the cycle's is shared by every
 * reply in flight), its text is the configuration's, which outlives this
 * worker's sends, and a worker that exits cancels it.  A failure is
 * logged by the port, once, scrubbed, with its category; nothing else
 * depends on a reply.
 */

static void
ngx_http_otp_webhook_reply(ngx_http_request_t *r, ngx_http_otp_provider_t *p,
    ngx_otp_hook_message_t *m, ngx_str_t *text)
{
    u_char                         masked[NGX_OTP_PHONE_MAX_LEN];
    size_t                         masked_len;
    ngx_http_otp_send_t           *send;
    ngx_http_otp_webhook_reply_t  *rp;

    masked_len = ngx_otp_phone_mask(m->from, m->from_len, masked);

    rp = ngx_alloc(sizeof(ngx_http_otp_webhook_reply_t), r->connection->log);
    if (rp == NULL) {
        return;
    }

    rp->log = *ngx_cycle->log;
    rp->log.action = NULL;

    send = ngx_http_otp_send_create(&rp->log);
    if (send == NULL) {
        ngx_free(rp);
        return;
    }

    send->provider = p;
    send->channel = m->channel;
    ngx_memcpy(send->phone, m->from, m->from_len);
    send->phone_len = m->from_len;
    send->text = *text;
    send->free_form = 1;
    send->handler = ngx_http_otp_webhook_reply_done;
    send->data = rp;

    rp->send = send;

    if (!ngx_http_otp_webhook_replies_init) {
        ngx_queue_init(&ngx_http_otp_webhook_replies);
        ngx_http_otp_webhook_replies_init = 1;
    }

    ngx_queue_insert_tail(&ngx_http_otp_webhook_replies, &rp->queue);

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "otp webhook of \"%V\": HELP from %*s answered by a %s "
                  "text, send %p", &p->name, masked_len, masked,
                  ngx_otp_channel_name(m->channel), send);

    ngx_http_otp_send_start(send);
}


/* the port frees the send once this returns, and reads its log no more */

static void
ngx_http_otp_webhook_reply_done(ngx_http_otp_send_t *send)
{
    u_char                         masked[NGX_OTP_PHONE_MAX_LEN];
    size_t                         masked_len;
    ngx_http_otp_webhook_reply_t  *rp;

    rp = send->data;

    if (send->rc == NGX_OK) {
        masked_len = ngx_otp_phone_mask(send->phone, send->phone_len,
                                        masked);

        ngx_log_error(NGX_LOG_INFO, send->log, 0,
                      "otp provider \"%V\": HELP reply to %*s sent, send "
                      "%p, message %*s", &send->provider->name, masked_len,
                      masked, send, send->message_id_len, send->message_id);
    }

    ngx_queue_remove(&rp->queue);
    ngx_free(rp);
}


void
ngx_http_otp_webhook_exit(ngx_cycle_t *cycle)
{
    ngx_queue_t                   *q;
    ngx_http_otp_webhook_reply_t  *rp;

    if (!ngx_http_otp_webhook_replies_init) {
        return;
    }

    while (!ngx_queue_empty(&ngx_http_otp_webhook_replies)) {
        q = ngx_queue_head(&ngx_http_otp_webhook_replies);
        rp = ngx_queue_data(q, ngx_http_otp_webhook_reply_t, queue);

        ngx_queue_remove(q);

        ngx_log_error(NGX_LOG_INFO, cycle->log, 0,
                      "otp provider \"%V\": HELP reply, send %p, "
                      "cancelled: the worker exits",
                      &rp->send->provider->name, rp->send);

        /* the send lets go of rp's log: freed, or left to the cycle's */
        ngx_http_otp_send_cancel(rp->send);
        ngx_free(rp);
    }
}


/*
 * otp_webhook_forward: the call goes on, internally redirected, with the
 * body read (it stays in r->request_body for proxy_pass) and the sender
 * in X-OTP-From, X-OTP-Channel; copies of those the client sent are
 * removed first, so that what the application reads is ours
 */

static ngx_int_t
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

static ngx_int_t
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
