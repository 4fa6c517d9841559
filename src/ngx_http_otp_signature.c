
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * The signature check of provider webhooks, in the access phase, so that
 * it can guard any location: an otp_webhook endpoint, or one that
 * proxy_passes to an existing application, which then receives only
 * genuine calls with their body intact.  A refusal is a 403
 * invalid_signature answered before anything of the request is parsed.
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
 *
 * The body is read in the access phase as ngx_http_mirror_module.c reads
 * it in the precontent phase: ngx_http_read_client_request_body(), the
 * request's count given back with ngx_http_finalize_request(r, NGX_DONE),
 * and the phase engine resumed from the body handler with
 * r->write_event_handler = ngx_http_core_run_phases; this handler then
 * runs again and answers what the check decided, as
 * ngx_http_auth_request_module.c answers its subrequest's status.  The
 * body stays in r->request_body for the content handler or upstream.
 *
 * The replay check waits for the store the same way: the body handler
 * starts the SEEN operation and returns, the request held by the count
 * it already has (the one ngx_http_finalize_request() gives back when the
 * phases end; nothing is finalized meanwhile), the handler still answering
 * NGX_DONE if the phase engine runs it; a client that goes away is noticed
 * by ngx_http_test_reading() as ngx_http_otp_request.c does, and the
 * request's pool cleanup cancels the operation.  The store's answer
 * resumes the phase engine or refuses.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_otp_module.h"
#include "ngx_http_otp_request.h"


static ngx_int_t ngx_http_otp_signature_pre(ngx_http_request_t *r,
    ngx_http_otp_sig_t *sig);
static void ngx_http_otp_signature_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_otp_signature_check(ngx_http_request_t *r,
    ngx_http_otp_sig_t *sig, ngx_str_t *body);
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
static ngx_int_t ngx_http_otp_signature_seen(ngx_http_request_t *r,
    ngx_http_otp_ctx_t *ctx, ngx_http_otp_sig_t *sig);
static void ngx_http_otp_signature_seen_handler(ngx_http_otp_store_op_t *op);
static ngx_http_otp_sig_ctx_t *ngx_http_otp_signature_before(
    ngx_http_request_t *r);
static ngx_uint_t ngx_http_otp_signature_same(ngx_http_otp_sig_t *a,
    ngx_http_otp_sig_t *b);
static ngx_http_otp_ctx_t *ngx_http_otp_signature_ctx(ngx_http_request_t *r);
static void ngx_http_otp_signature_cleanup(void *data);


static ngx_str_t  ngx_http_otp_stdwh_name = ngx_string("standard_webhooks");


/* ngx_http_otp_module.c's create and merge */

void
ngx_http_otp_hook_create_conf(ngx_http_otp_hook_conf_t *conf)
{
    /*
     * set by ngx_pcalloc():
     *
     *     conf->webhook = NULL;
     *     conf->public_url = { 0, NULL };
     *     conf->help_text = { 0, NULL };
     *     conf->forward = { 0, NULL };
     */

    conf->signature = NGX_CONF_UNSET_PTR;
    conf->trusted = NGX_CONF_UNSET_PTR;
}


char *
ngx_http_otp_hook_merge_conf(ngx_conf_t *cf, ngx_http_otp_hook_conf_t *prev,
    ngx_http_otp_hook_conf_t *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    /*
     * A signature check guards the locations nested in the one it is
     * given in, as auth_request does; the webhook handler, like the other
     * OTP handlers, only reaches "if" and "limit_except" blocks
     */

    ngx_conf_merge_ptr_value(conf->signature, prev->signature, NULL);

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (conf->webhook == NULL && (clcf->noname || clcf->lmt_excpt)) {
        conf->webhook = prev->webhook;
    }

    ngx_conf_merge_str_value(conf->public_url, prev->public_url, "");
    ngx_conf_merge_ptr_value(conf->trusted, prev->trusted, NULL);
    ngx_conf_merge_str_value(conf->help_text, prev->help_text, "");
    ngx_conf_merge_str_value(conf->forward, prev->forward, "");

    if (conf->signature == NULL) {
        return NGX_CONF_OK;
    }

    if (conf->body_limit > NGX_OTP_HOOK_BODY_MAX_LEN) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"otp_body_limit\" of %uz bytes is more than a "
                      "webhook is read (%d), for the check in %V:%ui",
                      conf->body_limit, NGX_OTP_HOOK_BODY_MAX_LEN,
                      &conf->signature->file, conf->signature->line);
        return NGX_CONF_ERROR;
    }

    /* the scheme is known at postconfiguration, where this is told */

    if (conf->public_url.len == 0) {
        conf->signature->host_url = 1;
    }

    return NGX_CONF_OK;
}


/*
 * otp_signature NAME
 *             | standard_webhooks secret_file=PATH [tolerance=TIME]
 *                                 [replay=on|off]
 */

char *
ngx_http_otp_signature_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_otp_loc_conf_t *olcf = conf;

    time_t                     t;
    ngx_str_t                 *value, v, file;
    ngx_uint_t                 i;
    ngx_http_otp_sig_t        *sig, **s;
    ngx_http_otp_main_conf_t  *omcf;

    if (olcf->hook.signature != NGX_CONF_UNSET_PTR) {
        return olcf->hook.webhook ? "is implied by \"otp_webhook\""
                                  : "is duplicate";
    }

    value = cf->args->elts;

    sig = ngx_pcalloc(cf->pool, sizeof(ngx_http_otp_sig_t));
    if (sig == NULL) {
        return NGX_CONF_ERROR;
    }

    sig->file = cf->conf_file->file.name;
    sig->line = cf->conf_file->line;

    if (ngx_strcmp(value[1].data, "standard_webhooks") != 0) {

        if (cf->args->nelts != 2) {
            return "takes a provider name alone, or \"standard_webhooks\" "
                   "and its options";
        }

        /* the provider is looked up at postconfiguration: otp_provider
         * may come later in the http block */
        sig->name = value[1];

    } else {
        sig->scheme = NGX_HTTP_OTP_SIG_STDWH;
        sig->tolerance = NGX_HTTP_OTP_SIG_TOLERANCE;
        sig->replay = 1;

        for (i = 2; i < cf->args->nelts; i++) {

            if (ngx_strncmp(value[i].data, "secret_file=", 12) == 0) {
                file.data = value[i].data + 12;
                file.len = value[i].len - 12;

                if (ngx_http_otp_read_file(cf, &file, 1, &sig->secret)
                    != NGX_CONF_OK)
                {
                    return NGX_CONF_ERROR;
                }

                sig->secret_file = file;
                continue;
            }

            if (ngx_strcmp(value[i].data, "replay=on") == 0) {
                sig->replay = 1;
                continue;
            }

            if (ngx_strcmp(value[i].data, "replay=off") == 0) {
                sig->replay = 0;
                continue;
            }

            if (ngx_strncmp(value[i].data, "tolerance=", 10) == 0) {
                v.data = value[i].data + 10;
                v.len = value[i].len - 10;

                t = ngx_parse_time(&v, 1);
                if (t == (time_t) NGX_ERROR || t == 0) {
                    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                       "invalid tolerance \"%V\"",
                                       &value[i]);
                    return NGX_CONF_ERROR;
                }

                sig->tolerance = t;
                continue;
            }

            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\"", &value[i]);
            return NGX_CONF_ERROR;
        }

        if (sig->secret.len == 0) {
            return "needs secret_file= with standard_webhooks (a secret "
                   "is never written in the configuration)";
        }

        /*
         * the secret decoded now, not at each request: with a well-formed
         * id and timestamp, EINVAL can only be the secret's
         */

        if (ngx_otp_stdwh_validate(sig->secret.data, sig->secret.len,
                                   (u_char *) "x", 1, (u_char *) "0", 1,
                                   (u_char *) "", 0, (u_char *) "", 0, 0,
                                   sig->tolerance)
            == NGX_OTP_EINVAL)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "secret_file=%V holds no Standard Webhooks "
                               "secret: expected \"whsec_\" and base64",
                               &file);
            return NGX_CONF_ERROR;
        }
    }

    olcf->hook.signature = sig;

    omcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_otp_module);

    if (sig->scheme == NGX_HTTP_OTP_SIG_STDWH && sig->replay) {
        /* the store, the default zone if none is configured */
        omcf->replay = 1;
    }

    s = ngx_array_push(&omcf->sigs);
    if (s == NULL) {
        return NGX_CONF_ERROR;
    }

    *s = sig;

    return NGX_CONF_OK;
}


/* otp_trusted_proxies CIDR ...: whose X-Forwarded-Proto is believed */

char *
ngx_http_otp_trusted_proxies(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_otp_loc_conf_t *olcf = conf;

    ngx_int_t    rc;
    ngx_str_t   *value;
    ngx_uint_t   i;
    ngx_cidr_t  *cidr;

    if (olcf->hook.trusted == NGX_CONF_UNSET_PTR) {
        olcf->hook.trusted = ngx_array_create(cf->pool, 4,
                                              sizeof(ngx_cidr_t));
        if (olcf->hook.trusted == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        cidr = ngx_array_push(olcf->hook.trusted);
        if (cidr == NULL) {
            return NGX_CONF_ERROR;
        }

        rc = ngx_ptocidr(&value[i], cidr);

        if (rc == NGX_ERROR) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid address \"%V\"", &value[i]);
            return NGX_CONF_ERROR;
        }

        if (rc == NGX_DONE) {
            ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                               "low address bits of %V are meaningless",
                               &value[i]);
        }
    }

    return NGX_CONF_OK;
}


/* otp_public_url URL: where providers reach this server */

char *
ngx_http_otp_public_url(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_otp_loc_conf_t *olcf = conf;

    u_char     *c;
    size_t      skip;
    ngx_str_t  *value, url;

    if (olcf->hook.public_url.data) {
        return "is duplicate";
    }

    value = cf->args->elts;
    url = value[1];

    while (url.len && url.data[url.len - 1] == '/') {
        url.len--;
    }

    if (url.len > 8 && ngx_strncasecmp(url.data, (u_char *) "https://", 8)
                       == 0)
    {
        skip = 8;

    } else if (url.len > 7
               && ngx_strncasecmp(url.data, (u_char *) "http://", 7) == 0)
    {
        skip = 7;

    } else {
        skip = 0;
    }

    for (c = url.data + skip; skip && c < url.data + url.len; c++) {
        if (*c <= ' ' || *c >= 0x7f || *c == '?' || *c == '#'
            || *c == '"' || *c == '\\')
        {
            skip = 0;
        }
    }

    if (skip == 0 || url.len > NGX_OTP_SIG_URL_MAX / 2) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid public URL \"%V\": expected "
                           "\"https://host[:port][/path]\", without query",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    olcf->hook.public_url = url;

    return NGX_CONF_OK;
}


/* resolves the providers of the checks, installs the phase handler */

ngx_int_t
ngx_http_otp_signature_postconf(ngx_conf_t *cf)
{
    ngx_uint_t                  i, j;
    ngx_http_handler_pt        *h;
    ngx_http_otp_sig_t        **sigs, *sig;
    ngx_http_otp_provider_t    *p;
    ngx_http_otp_main_conf_t   *omcf;
    ngx_http_core_main_conf_t  *cmcf;

    omcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_otp_module);

    if (omcf->sigs.nelts == 0) {
        return NGX_OK;
    }

    sigs = omcf->sigs.elts;
    p = omcf->providers.elts;

    for (i = 0; i < omcf->sigs.nelts; i++) {
        sig = sigs[i];

        if (sig->scheme == NGX_HTTP_OTP_SIG_STDWH) {
            continue;
        }

        for (j = 0; j < omcf->providers.nelts; j++) {
            if (p[j].name.len == sig->name.len
                && ngx_strncmp(p[j].name.data, sig->name.data, sig->name.len)
                   == 0)
            {
                break;
            }
        }

        if (j == omcf->providers.nelts) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "unknown provider \"%V\" in %V:%ui",
                          &sig->name, &sig->file, sig->line);
            return NGX_ERROR;
        }

        sig->provider = &p[j];
        sig->scheme = p[j].hook.scheme;

        switch (sig->scheme) {

        case NGX_HTTP_OTP_HOOK_TWILIO:
            if (p[j].hook.secret.len == 0) {
                ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                              "twilio provider \"%V\" needs auth_token= (or "
                              "auth_token_file=) to check the signatures of "
                              "its webhooks, in %V:%ui", &sig->name,
                              &sig->file, sig->line);
                return NGX_ERROR;
            }

            /*
             * Twilio signs the URL it calls, host included: built from
             * the client's Host header, it is whatever the client says,
             * and a callback signed for another host of the same account
             * (another site, a staging server) passes here
             */

            if (sig->host_url) {
                ngx_log_error(NGX_LOG_WARN, cf->log, 0,
                              "the twilio signature check in %V:%ui has a "
                              "location whose server has no "
                              "\"otp_public_url\": the signed URL is then "
                              "built from the client's Host header, and a "
                              "request signed for another host of the same "
                              "Twilio account is accepted; set "
                              "\"otp_public_url\" to the URL Twilio calls",
                              &sig->file, sig->line);
            }
            break;

        case NGX_HTTP_OTP_HOOK_META:
            if (p[j].hook.secret.len == 0) {
                ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                              "meta_whatsapp provider \"%V\" needs "
                              "app_secret= (or app_secret_file=) to check "
                              "the signatures of its webhooks, in %V:%ui",
                              &sig->name, &sig->file, sig->line);
                return NGX_ERROR;
            }

            if (p[j].hook.verify_token.len == 0) {
                ngx_log_error(NGX_LOG_WARN, cf->log, 0,
                              "meta_whatsapp provider \"%V\" has no "
                              "verify_token=: Meta's subscription handshake "
                              "will be refused, in %V:%ui", &sig->name,
                              &sig->file, sig->line);
            }
            break;

        case NGX_HTTP_OTP_HOOK_AT:
            if (p[j].hook.secret.len == 0) {
                ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                              "africastalking provider \"%V\" needs "
                              "webhook_secret= (or webhook_secret_file=): "
                              "Africa's Talking signs nothing, in %V:%ui",
                              &sig->name, &sig->file, sig->line);
                return NGX_ERROR;
            }
            break;

        default:
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "provider \"%V\" (%s) has no webhooks, in %V:%ui",
                          &sig->name, p[j].type->name, &sig->file,
                          sig->line);
            return NGX_ERROR;
        }
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_otp_signature_handler;

    return NGX_OK;
}


ngx_int_t
ngx_http_otp_signature_handler(ngx_http_request_t *r)
{
    ngx_int_t                 rc;
    ngx_http_otp_ctx_t       *ctx;
    ngx_http_otp_sig_t       *sig;
    ngx_http_otp_sig_ctx_t   *before;
    ngx_http_otp_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);
    sig = olcf->hook.signature;

    if (sig == NULL || r != r->main) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);

    if (ctx && ctx->sig) {
        /*
         * run again by the phase engine: resumed from the body handler or
         * the store's answer, or by a write event while they are awaited
         */
        return ctx->sig->status;
    }

    if (ctx == NULL) {
        before = ngx_http_otp_signature_before(r);

        if (before && before->passed
            && ngx_http_otp_signature_same(before->passed, sig))
        {
            /*
             * an internal redirect (try_files, a named location) to where
             * the same check applies: it passed, and done again its
             * replay check would refuse the request's own webhook-id
             */
            ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "otp signature check passed before a redirect");
            return NGX_OK;
        }
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "otp signature check, scheme %ui", sig->scheme);

    rc = ngx_http_otp_signature_pre(r, sig);

    if (rc != NGX_AGAIN) {
        /* NGX_OK: passed on what came before the body; NGX_DONE: refused */
        return rc;
    }

    /* the check needs the body: it is read first */

    if (r->headers_in.content_length_n > (off_t) olcf->hook.body_limit) {
        return ngx_http_otp_signature_deny(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                           "invalid_request",
                                           "The request body is too large.");
    }

    ctx = ngx_http_otp_signature_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->sig->status = NGX_DONE;

    r->request_body_in_single_buf = 1;

    rc = ngx_http_read_client_request_body(r,
                                           ngx_http_otp_signature_body_handler);
    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    /* as ngx_http_mirror_module.c: the count the body reading took */
    ngx_http_finalize_request(r, NGX_DONE);
    return NGX_DONE;
}


/*
 * What is checked before the body: the headers a scheme needs, Africa's
 * Talking's secret and addresses, Meta's handshake.  NGX_OK (passed),
 * NGX_DONE (refused, answered), NGX_AGAIN (the body is needed).
 */

static ngx_int_t
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


static void
ngx_http_otp_signature_body_handler(ngx_http_request_t *r)
{
    ngx_int_t                 rc;
    ngx_str_t                 body;
    ngx_http_otp_ctx_t       *ctx;
    ngx_http_otp_sig_t       *sig;
    ngx_http_otp_loc_conf_t  *olcf;

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "otp signature check: body read");

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);
    sig = olcf->hook.signature;

    rc = ngx_http_otp_hook_body(r, &body);

    if (rc == NGX_DECLINED) {
        (void) ngx_http_otp_signature_deny(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                           "invalid_request",
                                           "The request body is too large.");
        return;
    }

    if (rc != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (ngx_http_otp_signature_check(r, sig, &body) != NGX_OK) {
        /* refused and answered */
        return;
    }

    ctx->sig->body = body;
    ctx->sig->checked = 1;

    /* the body is what the next handler or upstream reads */
    r->preserve_body = 1;

    if (sig->scheme == NGX_HTTP_OTP_SIG_STDWH && sig->replay) {
        if (ngx_http_otp_signature_seen(r, ctx, sig) != NGX_OK) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        }

        return;
    }

    ctx->sig->status = NGX_OK;
    ctx->sig->passed = sig;

    r->write_event_handler = ngx_http_core_run_phases;
    ngx_http_core_run_phases(r);
}


/*
 * The replay check: the store remembers the webhook-id for twice the
 * tolerance, as long as a replayed timestamp would still be accepted (it
 * may be up to tolerance in the past or in the future).  The key is an
 * HMAC under the sender's secret of the secret file's name and the id, so
 * that the ids of two senders never meet and no sender's text becomes a
 * store key.  Locations (and instances sharing a Redis) that name the
 * same secret_file share what was seen.
 */

static ngx_int_t
ngx_http_otp_signature_seen(ngx_http_request_t *r, ngx_http_otp_ctx_t *ctx,
    ngx_http_otp_sig_t *sig)
{
    ngx_table_elt_t          *id;
    ngx_otp_hmac_part_t       parts[4];
    ngx_http_otp_store_op_t  *op;
    u_char                    key[NGX_OTP_HASH_LEN];

    id = ngx_http_otp_hook_header(r, "webhook-id");

    parts[0].data = (u_char *) "otp-stdwh-seen";
    parts[0].len = sizeof("otp-stdwh-seen");      /* with its NUL */
    parts[1].data = sig->secret_file.data;
    parts[1].len = sig->secret_file.len;
    parts[2].data = (u_char *) "";
    parts[2].len = 1;
    parts[3].data = id->value.data;
    parts[3].len = id->value.len;

    if (ngx_otp_hmac("SHA256", sig->secret.data, sig->secret.len, parts, 4,
                     key, NGX_OTP_HASH_LEN)
        != NGX_OTP_OK)
    {
        return NGX_ERROR;
    }

    op = ngx_http_otp_op_create(r, NGX_HTTP_OTP_OP_SEEN,
                                ngx_http_otp_signature_seen_handler);
    if (op == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(op->seen_key, key, NGX_OTP_HASH_LEN);
    op->ttl = (ngx_msec_t) sig->tolerance * 2 * 1000;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "otp signature: replay check, ttl %M", op->ttl);

    /* ctx->sig->status stays NGX_DONE until the store answers */

    (void) ngx_http_otp_op_start(r, ctx, op);

    r->read_event_handler = ngx_http_test_reading;

    if (r->connection->read->ready) {
        ngx_post_event(r->connection->read, &ngx_posted_events);

    } else if (ngx_handle_read_event(r->connection->read, 0) != NGX_OK) {
        /* ctx->op is cancelled by the pool's cleanup */
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_http_otp_signature_seen_handler(ngx_http_otp_store_op_t *op)
{
    u_char                   *p, prefix[8];
    size_t                    len, i;
    ngx_connection_t         *c;
    ngx_table_elt_t          *id;
    ngx_http_request_t       *r;
    ngx_http_otp_ctx_t       *ctx;
    ngx_http_otp_loc_conf_t  *olcf;

    r = op->data;
    c = r->connection;

    ctx = ngx_http_otp_op_done(op);
    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);

    r->read_event_handler = ngx_http_block_reading;

    switch (op->status) {

    case NGX_HTTP_OTP_STORE_OK:
        ctx->sig->status = NGX_OK;
        ctx->sig->passed = olcf->hook.signature;

        r->write_event_handler = ngx_http_core_run_phases;
        ngx_http_core_run_phases(r);
        break;

    case NGX_HTTP_OTP_STORE_SEEN:
        /*
         * The id is the sender's text: its length and a prefix made
         * printable are enough to find it in the sender's own records.
         */

        id = ngx_http_otp_hook_header(r, "webhook-id");

        len = ngx_min(id->value.len, sizeof(prefix));
        p = id->value.data;

        for (i = 0; i < len; i++) {
            prefix[i] = (p[i] > 0x20 && p[i] < 0x7f && p[i] != '"'
                         && p[i] != '\\') ? p[i] : '?';
        }

        ngx_log_error(NGX_LOG_INFO, c->log, 0,
                      "otp webhook of \"%V\" refused: a replay of a "
                      "webhook-id accepted before (%uz bytes, \"%*s%s\")",
                      &ngx_http_otp_stdwh_name, id->value.len, len, prefix,
                      id->value.len > len ? "..." : "");

        (void) ngx_http_otp_signature_deny(r, NGX_HTTP_FORBIDDEN,
                                           "invalid_signature",
                                           "The request's signature is "
                                           "missing or invalid.");
        break;

    default:
        /* fail closed: the store logged why */
        ngx_http_finalize_request(r, ngx_http_otp_store_unavailable(r));
        break;
    }

    ngx_http_run_posted_requests(c);
}


/* NGX_OK, or the request refused (NGX_DONE) */

static ngx_int_t
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


ngx_int_t
ngx_http_otp_signature_deny(ngx_http_request_t *r, ngx_uint_t status,
    const char *error, const char *message)
{
    ngx_int_t  rc;

    if (r->request_body == NULL) {
        rc = ngx_http_discard_request_body(r);

        if (rc != NGX_OK) {
            ngx_http_finalize_request(r, rc);
            return NGX_DONE;
        }
    }

    rc = ngx_http_otp_error(r, status, error, message);

    ngx_http_finalize_request(r, rc);

    return NGX_DONE;
}


/*
 * The check's state from before an internal redirect, which forgets the
 * modules' contexts: found through the pool cleanup that holds it, as
 * ngx_http_realip_module.c finds its own.
 */

static ngx_http_otp_sig_ctx_t *
ngx_http_otp_signature_before(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t  *cln;
    ngx_http_otp_ctx_t  *ctx;

    for (cln = r->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler == ngx_http_otp_signature_cleanup) {
            ctx = cln->data;
            return ctx->sig;
        }
    }

    return NULL;
}


/* the same check: the same provider, or the same Standard Webhooks sender
 * (a secret from the same file) with a tolerance no stricter */

static ngx_uint_t
ngx_http_otp_signature_same(ngx_http_otp_sig_t *a, ngx_http_otp_sig_t *b)
{
    if (a == b) {
        return 1;
    }

    if (a->scheme != b->scheme) {
        return 0;
    }

    if (a->scheme != NGX_HTTP_OTP_SIG_STDWH) {
        return a->provider == b->provider;
    }

    return a->tolerance <= b->tolerance
           && a->secret_file.len == b->secret_file.len
           && ngx_strncmp(a->secret_file.data, b->secret_file.data,
                          a->secret_file.len) == 0
           && a->secret.len == b->secret.len
           && ngx_memcmp(a->secret.data, b->secret.data, a->secret.len)
              == 0;
}


/* the request's context, made here when the access phase is first */

static ngx_http_otp_ctx_t *
ngx_http_otp_signature_ctx(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t  *cln;
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);

    if (ctx == NULL) {
        ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_otp_ctx_t));
        if (ctx == NULL) {
            return NULL;
        }

        ctx->request = r;

        /* a store operation of the webhook handler dies with the request */

        cln = ngx_pool_cleanup_add(r->pool, 0);
        if (cln == NULL) {
            return NULL;
        }

        cln->handler = ngx_http_otp_signature_cleanup;
        cln->data = ctx;

        ngx_http_set_ctx(r, ctx, ngx_http_otp_module);
    }

    if (ctx->sig == NULL) {
        ctx->sig = ngx_pcalloc(r->pool, sizeof(ngx_http_otp_sig_ctx_t));
        if (ctx->sig == NULL) {
            return NULL;
        }
    }

    return ctx;
}


ngx_http_otp_ctx_t *
ngx_http_otp_hook_ctx(ngx_http_request_t *r)
{
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_otp_signature_ctx(r);

    return ctx;
}


static void
ngx_http_otp_signature_cleanup(void *data)
{
    ngx_http_otp_ctx_t *ctx = data;

    if (ctx->op) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ctx->request->connection->log, 0,
                       "otp webhook request gone: cancel op %p", ctx->op);

        ngx_http_otp_store_op_cancel(ctx->op);
        ctx->op = NULL;
    }
}


/* the body as one string: the one the check read, or read now */

ngx_int_t
ngx_http_otp_hook_body(ngx_http_request_t *r, ngx_str_t *body)
{
    ngx_int_t                 rc;
    ngx_http_otp_ctx_t       *ctx;
    ngx_http_otp_loc_conf_t  *olcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);

    if (ctx && ctx->sig && ctx->sig->checked) {
        *body = ctx->sig->body;
        return NGX_OK;
    }

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);

    rc = ngx_http_otp_read_body(r, body, olcf->hook.body_limit);

    /* the webhook parsers are handed a pointer even for an empty body */

    if (rc == NGX_OK && body->data == NULL) {
        ngx_str_set(body, "");
    }

    return rc;
}


/* a request header by name, the first of that name; NULL when absent */

ngx_table_elt_t *
ngx_http_otp_hook_header(ngx_http_request_t *r, const char *name)
{
    size_t            len;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    len = ngx_strlen(name);

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NULL;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].hash != 0 && h[i].key.len == len
            && ngx_strncasecmp(h[i].key.data, (u_char *) name, len) == 0)
        {
            return &h[i];
        }
    }
}
