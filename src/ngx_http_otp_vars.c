
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * The outcome variables, in the spirit of $limit_req_status: what a send,
 * a verify, a status callback or an incoming message came to, for
 * access_log (an audit log is $otp_audit in a log_format escape=none, or
 * the others one by one with escape=json) and for map/if.  None of them
 * ever holds a code; the phone only masked, or as its HMAC under the
 * app's secret (the store's key: events of one number can be joined
 * without the number).
 *
 *   $otp_result              an API error code, "sent", "verified",
 *                            "status_delivered" (and the other statuses),
 *                            "opted_out", "opted_in", "help"; "" when no
 *                            OTP handler ran
 *   $otp_channel             sms, whatsapp, voice
 *   $otp_provider            the provider's name
 *   $otp_message_id          the provider's message id
 *   $otp_phone_masked        +1******4567
 *   $otp_phone_hmac          64 hex digits
 *   $otp_attempts_remaining  after a wrong code
 *   $otp_provider_ms         time spent waiting for providers, all
 *                            attempts of a send
 *   $otp_cost                the accepted message's estimated cost, a
 *                            decimal in otp_price_currency's units
 *                            (ngx_http_otp_cost.c); "" with no price
 *
 *   $otp_audit               all of them, the URI and the status, as the
 *                            members of a JSON object, for the audit
 *                            log's "log_format ... escape=none"
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_otp_module.h"
#include "ngx_http_otp_vars.h"
#include "ngx_http_otp_request.h"
#include "ngx_http_otp_signature.h"


typedef enum {
    NGX_HTTP_OTP_VAR_RESULT = 0,
    NGX_HTTP_OTP_VAR_CHANNEL,
    NGX_HTTP_OTP_VAR_PROVIDER,
    NGX_HTTP_OTP_VAR_MESSAGE_ID,
    NGX_HTTP_OTP_VAR_PHONE_MASKED,
    NGX_HTTP_OTP_VAR_PHONE_HMAC,
    NGX_HTTP_OTP_VAR_ATTEMPTS,
    NGX_HTTP_OTP_VAR_PROVIDER_MS,
    NGX_HTTP_OTP_VAR_COST
} ngx_http_otp_var_e;


static ngx_int_t ngx_http_otp_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_otp_audit_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static u_char *ngx_http_otp_audit_uint(u_char *p, ngx_uint_t n);
static ngx_http_otp_ctx_t *ngx_http_otp_outcome_ctx(ngx_http_request_t *r);


static ngx_http_variable_t  ngx_http_otp_vars[] = {

    { ngx_string("otp_result"), NULL, ngx_http_otp_variable,
      NGX_HTTP_OTP_VAR_RESULT, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("otp_channel"), NULL, ngx_http_otp_variable,
      NGX_HTTP_OTP_VAR_CHANNEL, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("otp_provider"), NULL, ngx_http_otp_variable,
      NGX_HTTP_OTP_VAR_PROVIDER, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("otp_message_id"), NULL, ngx_http_otp_variable,
      NGX_HTTP_OTP_VAR_MESSAGE_ID, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("otp_phone_masked"), NULL, ngx_http_otp_variable,
      NGX_HTTP_OTP_VAR_PHONE_MASKED, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("otp_phone_hmac"), NULL, ngx_http_otp_variable,
      NGX_HTTP_OTP_VAR_PHONE_HMAC, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("otp_attempts_remaining"), NULL, ngx_http_otp_variable,
      NGX_HTTP_OTP_VAR_ATTEMPTS, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("otp_provider_ms"), NULL, ngx_http_otp_variable,
      NGX_HTTP_OTP_VAR_PROVIDER_MS, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("otp_cost"), NULL, ngx_http_otp_variable,
      NGX_HTTP_OTP_VAR_COST, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("otp_audit"), NULL, ngx_http_otp_audit_variable,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


ngx_int_t
ngx_http_otp_vars_add(ngx_conf_t *cf)
{
    return ngx_http_otp_add_variables(cf, ngx_http_otp_vars);
}


/* a table of variables, ended by ngx_http_null_variable (the gate's too) */

ngx_int_t
ngx_http_otp_add_variables(ngx_conf_t *cf, ngx_http_variable_t *vars)
{
    ngx_http_variable_t  *var, *v;

    for (v = vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_otp_variable(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    uintptr_t data)
{
    u_char              *p;
    size_t               len;
    const char          *s;
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_otp_outcome_get(r, &s);

    if (ctx == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    p = NULL;
    len = 0;

    switch (data) {

    case NGX_HTTP_OTP_VAR_RESULT:
        p = (u_char *) s;
        len = ngx_strlen(s);
        break;

    case NGX_HTTP_OTP_VAR_CHANNEL:
        s = ctx->out_channel ? ngx_otp_channel_name(ctx->out_channel) : NULL;

        if (s) {
            p = (u_char *) s;
            len = ngx_strlen(s);
        }

        break;

    case NGX_HTTP_OTP_VAR_PROVIDER:
        p = ctx->out_provider.data;
        len = ctx->out_provider.len;
        break;

    case NGX_HTTP_OTP_VAR_MESSAGE_ID:
        p = ctx->message_id;
        len = ctx->message_id_len;
        break;

    case NGX_HTTP_OTP_VAR_PHONE_MASKED:
        p = ctx->masked;
        len = ctx->masked_len;
        break;

    case NGX_HTTP_OTP_VAR_PHONE_HMAC:
        if (!ctx->has_phone_key) {
            break;
        }

        p = ngx_pnalloc(r->pool, 2 * NGX_OTP_HASH_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }

        ngx_otp_hex_encode(p, ctx->phone_key, NGX_OTP_HASH_LEN);
        len = 2 * NGX_OTP_HASH_LEN;
        break;

    case NGX_HTTP_OTP_VAR_ATTEMPTS:
    case NGX_HTTP_OTP_VAR_PROVIDER_MS:
        if (data == NGX_HTTP_OTP_VAR_ATTEMPTS ? !ctx->has_attempts
                                              : !ctx->has_provider_ms)
        {
            break;
        }

        p = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }

        len = ngx_sprintf(p, "%ui", data == NGX_HTTP_OTP_VAR_ATTEMPTS
                                    ? ctx->attempts_remaining
                                    : (ngx_uint_t) ctx->provider_ms)
              - p;
        break;

    case NGX_HTTP_OTP_VAR_COST:
        if (!ctx->has_cost) {
            break;
        }

        p = ngx_pnalloc(r->pool, NGX_OTP_PRICE_STR_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }

        len = ngx_otp_price_format(ctx->cost, p);
        break;
    }

    if (len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->len = len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->data = p;

    return NGX_OK;
}


/*
 * $otp_audit: the request's URI and status and its outcome as the members
 * of one JSON object, for an audit log in "log_format ... escape=none"
 * (conf-examples/audit-log.conf):
 *
 *     "uri":"/otp/verify","status":401,"result":"invalid_code",
 *     "phone":"+1******0001","phone_hmac":"84aa...","attempts_remaining":4
 *
 * A member whose variable would be empty is left out; the status and the
 * two counts are JSON numbers.  A request no OTP handler answered has the
 * URI and the status alone (a line of it stays JSON without if=).  What a
 * client or a provider chose (the URI, the provider's message id, which
 * ngx_otp_wire_take_id() and ngx_otp_hook_id() already keep to printable
 * ASCII without quotes) is escaped by ngx_otp_json_escape(), in one pass
 * into room for the worst case, invalid UTF-8 included; the rest are the
 * module's own words, provider names of letters, digits, "-" and "_",
 * digits, "+*" and hex.  So the line stays JSON without the log
 * module's escape=json, which looks up each variable of a format, scans
 * it for escapes, and copies it, an op each: eleven of them cost three
 * times what this does (README, "Outcome variables and the audit log").
 */

#define ngx_http_otp_audit_literal(p, s)  ngx_cpymem(p, s, sizeof(s) - 1)

/* no outcome: nothing but the URI and the status */
static ngx_http_otp_ctx_t  ngx_http_otp_audit_none;

static ngx_int_t
ngx_http_otp_audit_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char              *p, *start;
    size_t               len, result_len, channel_len;
    ngx_uint_t           status;
    const char          *result, *channel;
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_otp_outcome_get(r, &result);

    if (ctx == NULL) {
        ctx = &ngx_http_otp_audit_none;
        result = "";
    }

    result_len = ngx_strlen(result);

    channel = ctx->out_channel ? ngx_otp_channel_name(ctx->out_channel)
                               : NULL;
    channel_len = channel ? ngx_strlen(channel) : 0;

    len = sizeof("\"uri\":\"\",\"status\":,\"result\":\"\",\"channel\":\"\","
                 "\"provider\":\"\",\"message_id\":\"\",\"phone\":\"\","
                 "\"phone_hmac\":\"\",\"attempts_remaining\":,"
                 "\"provider_ms\":,\"cost\":\"\"") - 1
          + NGX_OTP_JSON_ESCAPED_MAX * (r->uri.len + ctx->message_id_len)
          + result_len + channel_len + ctx->out_provider.len
          + ctx->masked_len + 2 * NGX_OTP_HASH_LEN + 3 * NGX_INT_T_LEN
          + NGX_OTP_PRICE_STR_LEN;

    start = ngx_pnalloc(r->pool, len);
    if (start == NULL) {
        return NGX_ERROR;
    }

    /* the status as ngx_http_log_module.c's $status has it */

    status = r->err_status ? r->err_status : r->headers_out.status;

    p = ngx_http_otp_audit_literal(start, "\"uri\":\"");
    p = ngx_otp_json_escape(p, r->uri.data, r->uri.len);

    p = ngx_http_otp_audit_literal(p, "\",\"status\":");
    p = ngx_http_otp_audit_uint(p, status);

    if (result_len) {
        p = ngx_http_otp_audit_literal(p, ",\"result\":\"");
        p = ngx_cpymem(p, result, result_len);
        *p++ = '"';
    }

    if (channel_len) {
        p = ngx_http_otp_audit_literal(p, ",\"channel\":\"");
        p = ngx_cpymem(p, channel, channel_len);
        *p++ = '"';
    }

    if (ctx->out_provider.len) {
        p = ngx_http_otp_audit_literal(p, ",\"provider\":\"");
        p = ngx_cpymem(p, ctx->out_provider.data, ctx->out_provider.len);
        *p++ = '"';
    }

    if (ctx->message_id_len) {
        p = ngx_http_otp_audit_literal(p, ",\"message_id\":\"");
        p = ngx_otp_json_escape(p, ctx->message_id, ctx->message_id_len);
        *p++ = '"';
    }

    if (ctx->masked_len) {
        p = ngx_http_otp_audit_literal(p, ",\"phone\":\"");
        p = ngx_cpymem(p, ctx->masked, ctx->masked_len);
        *p++ = '"';
    }

    if (ctx->has_phone_key) {
        p = ngx_http_otp_audit_literal(p, ",\"phone_hmac\":\"");
        p += ngx_otp_hex_encode(p, ctx->phone_key, NGX_OTP_HASH_LEN);
        *p++ = '"';
    }

    if (ctx->has_attempts) {
        p = ngx_http_otp_audit_literal(p, ",\"attempts_remaining\":");
        p = ngx_http_otp_audit_uint(p, ctx->attempts_remaining);
    }

    if (ctx->has_provider_ms) {
        p = ngx_http_otp_audit_literal(p, ",\"provider_ms\":");
        p = ngx_http_otp_audit_uint(p, ctx->provider_ms);
    }

    if (ctx->has_cost && ctx->cost >= 0) {
        p = ngx_http_otp_audit_literal(p, ",\"cost\":\"");
        p += ngx_otp_price_format(ctx->cost, p);
        *p++ = '"';
    }

    v->len = p - start;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->data = start;

    return NGX_OK;
}


/* ngx_sprintf("%ui") without parsing a format */

static u_char *
ngx_http_otp_audit_uint(u_char *p, ngx_uint_t n)
{
    u_char  *q, buf[NGX_INT_T_LEN];

    q = buf + sizeof(buf);

    do {
        *--q = (u_char) ('0' + n % 10);
        n /= 10;
    } while (n);

    return ngx_cpymem(p, q, buf + sizeof(buf) - q);
}


void
ngx_http_otp_outcome(ngx_http_request_t *r, const char *result)
{
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_otp_outcome_ctx(r);

    if (ctx) {
        ctx->result = result;

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "otp outcome: %s", result);
    }
}


void
ngx_http_otp_outcome_status(ngx_http_request_t *r, ngx_uint_t status)
{
    static const char  *results[] = {
        NULL,
        "status_queued",
        "status_sent",
        "status_delivered",
        "status_read",
        "status_undelivered",
        "status_failed"
    };

    if (status < sizeof(results) / sizeof(results[0]) && results[status]) {
        ngx_http_otp_outcome(r, results[status]);
    }
}


void
ngx_http_otp_outcome_by(ngx_http_otp_ctx_t *ctx, ngx_uint_t channel,
    ngx_str_t *provider)
{
    ctx->out_channel = channel;
    ctx->out_provider = *provider;
}


/*
 * The ctx that holds the request's outcome, and the outcome: NULL when no
 * OTP handler ran.  An internal redirect (otp_webhook_forward passing a
 * message on after an opt-out of the same call) forgets the modules'
 * contexts: the ctx is then found through the pool cleanup that holds it,
 * as ngx_http_realip_module.c finds its own.  A request that went away
 * while a provider or the store was working for it has no outcome of its
 * own yet (the cleanup that cancels the work runs after the log phase):
 * "client_closed".
 */

ngx_http_otp_ctx_t *
ngx_http_otp_outcome_get(ngx_http_request_t *r, const char **result)
{
    ngx_pool_cleanup_t  *cln;
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);

    if ((ctx == NULL || ctx->result == NULL) && r->internal) {

        for (cln = r->pool->cleanup; cln; cln = cln->next) {
            if (cln->handler == ngx_http_otp_cleanup
                || cln->handler == ngx_http_otp_signature_cleanup)
            {
                ctx = cln->data;

                if (ctx->result) {
                    break;
                }
            }
        }
    }

    if (ctx == NULL) {
        return NULL;
    }

    if (ctx->result) {
        *result = ctx->result;
        return ctx;
    }

    if ((ctx->op || ctx->send)
        && r->headers_out.status == NGX_HTTP_CLIENT_CLOSED_REQUEST)
    {
        *result = "client_closed";
        return ctx;
    }

    return NULL;
}


/* an error may be answered before the handler made its ctx */

static ngx_http_otp_ctx_t *
ngx_http_otp_outcome_ctx(ngx_http_request_t *r)
{
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);

    if (ctx == NULL) {
        ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_otp_ctx_t));
        if (ctx == NULL) {
            return NULL;
        }

        ctx->request = r;
        ngx_http_set_ctx(r, ctx, ngx_http_otp_module);
    }

    return ctx;
}
