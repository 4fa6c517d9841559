
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * The configuration of the webhook signature check: otp_signature,
 * otp_trusted_proxies and otp_public_url, the webhooks' part of the
 * location configuration, and the postconfiguration that resolves the
 * providers the checks name and installs the access-phase handler of
 * ngx_http_otp_signature.c.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_otp_module.h"


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

    /* its provider is found in the server's app once that is known */
    sig->srv = ngx_http_conf_get_module_srv_conf(cf, ngx_http_otp_module);

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
    ngx_array_t                *providers;
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

    for (i = 0; i < omcf->sigs.nelts; i++) {
        sig = sigs[i];

        if (sig->scheme == NGX_HTTP_OTP_SIG_STDWH) {
            continue;
        }

        /* the providers of the location's server: its own app's */

        providers = &sig->srv->app->providers;
        p = providers->elts;

        for (j = 0; j < providers->nelts; j++) {
            if (p[j].name.len == sig->name.len
                && ngx_strncmp(p[j].name.data, sig->name.data, sig->name.len)
                   == 0)
            {
                break;
            }
        }

        if (j == providers->nelts) {
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
