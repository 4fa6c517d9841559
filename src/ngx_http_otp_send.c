
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * POST /otp/send: the delivery chain (channels, routes, geo permissions,
 * budgets), the message text, the providers, and the 202 or the error
 * of API.md.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_otp_module.h"
#include "ngx_http_otp_app.h"
#include "ngx_http_otp_vars.h"
#include "ngx_http_otp_metrics.h"
#include "ngx_http_otp_request.h"
#include "ngx_http_otp_fallback.h"
#include "ngx_http_otp_analytics.h"
#include "ngx_http_otp_smart.h"


static ngx_uint_t ngx_http_otp_chain(ngx_http_request_t *r,
    ngx_http_otp_ctx_t *ctx, ngx_uint_t want, ngx_uint_t *blocked);
static ngx_uint_t ngx_http_otp_geo_allowed(ngx_http_otp_loc_conf_t *olcf,
    ngx_uint_t channel, u_char *digits, size_t len);
static void ngx_http_otp_pick_locale(ngx_http_request_t *r,
    ngx_http_otp_ctx_t *ctx, u_char *field, size_t len);
static ngx_str_t *ngx_http_otp_template(ngx_http_otp_loc_conf_t *olcf,
    ngx_uint_t channel, u_char *locale, size_t len);
static ngx_int_t ngx_http_otp_issue(ngx_http_request_t *r,
    ngx_http_otp_ctx_t *ctx);
static void ngx_http_otp_client_addr(ngx_http_request_t *r,
    ngx_uint_t prefix, ngx_str_t *addr);
static void ngx_http_otp_issue_done(ngx_http_otp_store_op_t *op);
static ngx_int_t ngx_http_otp_deliver(ngx_http_request_t *r,
    ngx_http_otp_ctx_t *ctx);
static void ngx_http_otp_budget_done(ngx_http_otp_store_op_t *op);
static ngx_int_t ngx_http_otp_revoke(ngx_http_request_t *r,
    ngx_http_otp_ctx_t *ctx);
static void ngx_http_otp_revoked(ngx_http_otp_store_op_t *op);
static ngx_int_t ngx_http_otp_undelivered(ngx_http_request_t *r,
    ngx_http_otp_ctx_t *ctx);
static ngx_int_t ngx_http_otp_send_to(ngx_http_request_t *r,
    ngx_http_otp_ctx_t *ctx, ngx_http_otp_attempt_t *a);
static void ngx_http_otp_delivered(ngx_http_otp_send_t *send);
static ngx_int_t ngx_http_otp_render(ngx_http_request_t *r,
    ngx_http_otp_ctx_t *ctx, ngx_uint_t channel, u_char *text, size_t *len);
static ngx_int_t ngx_http_otp_record(ngx_http_request_t *r,
    ngx_http_otp_ctx_t *ctx);
static void ngx_http_otp_fallback_record(ngx_http_request_t *r,
    ngx_http_otp_ctx_t *ctx, ngx_http_otp_store_op_t *op);
static void ngx_http_otp_recorded(ngx_http_otp_store_op_t *op);
static ngx_int_t ngx_http_otp_accepted(ngx_http_request_t *r,
    ngx_http_otp_ctx_t *ctx);
static ngx_int_t ngx_http_otp_delivery_failed(ngx_http_request_t *r,
    ngx_http_otp_ctx_t *ctx);


ngx_int_t
ngx_http_otp_send_request(ngx_http_request_t *r, ngx_http_otp_ctx_t *ctx)
{
    ngx_int_t                 rc;
    ngx_str_t                 name;
    ngx_uint_t                want, blocked;
    ngx_otp_field_t           fields[3];
    ngx_http_otp_err_t       *err;
    ngx_http_otp_loc_conf_t  *olcf;
    u_char                    phone[NGX_HTTP_OTP_FIELD_MAX];
    u_char                    channel[16];
    u_char                    locale[NGX_HTTP_OTP_FIELD_MAX];

    ngx_memzero(fields, sizeof(fields));

    fields[0].name = "phone";
    fields[0].buf = phone;
    fields[0].cap = sizeof(phone);
    fields[1].name = "channel";
    fields[1].buf = channel;
    fields[1].cap = sizeof(channel);
    fields[2].name = "locale";
    fields[2].buf = locale;
    fields[2].cap = sizeof(locale);

    rc = ngx_http_otp_parse(r, ctx, fields, 3, &err);

    if (rc == NGX_DECLINED) {
        return ngx_http_otp_error(r, err->status, err->error, err->message);
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);

    want = 0;

    if (fields[1].found && fields[1].len > 0
        && !(fields[1].len == 4 && ngx_strncmp(channel, "auto", 4) == 0))
    {
        name.data = channel;
        name.len = fields[1].len;

        want = ngx_otp_channel_parse(name.data, name.len);

        if (want == 0) {
            return ngx_http_otp_error(r, NGX_HTTP_BAD_REQUEST,
                                      "invalid_channel",
                                      "The channel must be sms, whatsapp, "
                                      "voice or auto.");
        }
    }

    ctx->nchain = ngx_http_otp_chain(r, ctx, want, &blocked);

    if (ctx->nchain == 0) {

        if (blocked) {
            /* toll fraud defence: refused before anything is stored */
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "otp send to %*s refused by geo permissions",
                          ctx->masked_len, ctx->masked);

            return ngx_http_otp_error(r, NGX_HTTP_FORBIDDEN,
                                      "destination_blocked",
                                      "Codes cannot be sent to this "
                                      "destination.");
        }

        return ngx_http_otp_error(r, NGX_HTTP_BAD_REQUEST, "invalid_channel",
                                  want ? "This channel is not enabled here."
                                       : "No provider serves the channels "
                                         "enabled here.");
    }

    ngx_http_otp_pick_locale(r, ctx, fields[2].found ? locale : NULL,
                             fields[2].len);

    ctx->code_len = olcf->code_length;

    if (ngx_otp_code_generate(ctx->code, ctx->code_len, NULL) != NGX_OTP_OK) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "otp: code generation failed");
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_otp_issue(r, ctx);
}


static ngx_int_t
ngx_http_otp_issue(ngx_http_request_t *r, ngx_http_otp_ctx_t *ctx)
{
    ngx_str_t                  addr;
    ngx_http_otp_app_t        *app;
    ngx_http_otp_store_op_t   *op;
    ngx_http_otp_loc_conf_t   *olcf;
    u_char                     text[NGX_INET6_ADDRSTRLEN + 4];

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);
    app = ngx_http_otp_get_app(r);

    addr.data = text;

    op = ngx_http_otp_op_create(r, NGX_HTTP_OTP_OP_ISSUE,
                                ngx_http_otp_issue_done);
    if (op == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_otp_client_addr(r, olcf->client_limit.ipv6_prefix, &addr);

    if (ngx_http_otp_op_keys(r, ctx, op, 1) != NGX_OK
        || ngx_otp_key_client(app->secret.data, app->secret.len,
                              addr.data, addr.len, op->client_key)
           != NGX_OTP_OK)
    {
        ngx_free(op);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    op->ttl = olcf->ttl;
    op->resend_after = olcf->resend_after;
    op->lockout = olcf->lockout;
    op->max_attempts = olcf->max_attempts;
    op->send_limit = olcf->send_limit.count;
    op->send_window = olcf->send_limit.window;
    op->client_limit = olcf->client_limit.count;
    op->client_window = olcf->client_limit.window;
    op->max_failures = olcf->max_failures.count;
    op->failure_window = olcf->max_failures.window;

    return ngx_http_otp_op_start(r, ctx, op);
}


/*
 * The delivery chain: each enabled channel in the location's order (or
 * just the one asked for) that geo permissions allow for this number, and
 * for each the providers of the longest matching otp_route, or, with no
 * route for that channel, every provider that carries it, in the order
 * they are declared.
 */

static ngx_uint_t
ngx_http_otp_chain(ngx_http_request_t *r, ngx_http_otp_ctx_t *ctx,
    ngx_uint_t want, ngx_uint_t *blocked)
{
    u_char                    *digits;
    size_t                     len;
    ngx_uint_t                 i, j, k, n, *ch, *idx, routed;
    ngx_uint_t                 order[NGX_HTTP_OTP_MAX_CHAIN];
    ngx_http_otp_app_t        *app;
    ngx_http_otp_route_t      *route, *best;
    ngx_http_otp_provider_t   *p;
    ngx_http_otp_loc_conf_t   *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);
    app = ngx_http_otp_get_app(r);

    digits = ctx->phone + 1;
    len = ctx->phone_len - 1;

    ch = olcf->channels->elts;
    p = app->providers.elts;
    route = app->routes.elts;

    if (want == 0 && olcf->smart_min
        && olcf->channels->nelts <= NGX_HTTP_OTP_MAX_CHAIN)
    {
        /* otp_smart_channels: the best delivered to this country first */
        ngx_memcpy(order, ch, olcf->channels->nelts * sizeof(ngx_uint_t));
        ngx_http_otp_smart_order(r, app, ctx->phone, ctx->phone_len, order,
                                 olcf->channels->nelts);
        ch = order;
    }

    *blocked = 0;
    k = 0;

    for (i = 0; i < olcf->channels->nelts; i++) {

        if (want && ch[i] != want) {
            continue;
        }

        if (!ngx_http_otp_geo_allowed(olcf, ch[i], digits, len)) {
            (*blocked)++;
            continue;
        }

        best = NULL;
        routed = 0;

        for (j = 0; j < app->routes.nelts; j++) {

            if (route[j].channel != ch[i]) {
                continue;
            }

            routed = 1;

            if (route[j].prefix.len <= len
                && ngx_strncmp(route[j].prefix.data, digits,
                               route[j].prefix.len) == 0
                && (best == NULL || route[j].prefix.len > best->prefix.len))
            {
                best = &route[j];
            }
        }

        if (best) {
            idx = best->providers.elts;

            for (n = 0; n < best->providers.nelts; n++) {
                if (k < NGX_HTTP_OTP_MAX_CHAIN) {
                    ctx->chain[k].channel = ch[i];
                    ctx->chain[k].provider = &p[idx[n]];
                    k++;
                }
            }

            continue;
        }

        if (routed) {
            /* routes exist for this channel, none for this number */
            continue;
        }

        for (j = 0; j < app->providers.nelts; j++) {
            if ((p[j].channels & ch[i]) && k < NGX_HTTP_OTP_MAX_CHAIN) {
                ctx->chain[k].channel = ch[i];
                ctx->chain[k].provider = &p[j];
                k++;
            }
        }
    }

    return k;
}


/* a deny matching the number wins; an allow list, where given, must match */

static ngx_uint_t
ngx_http_otp_geo_allowed(ngx_http_otp_loc_conf_t *olcf, ngx_uint_t channel,
    u_char *digits, size_t len)
{
    ngx_uint_t           i, listed;
    ngx_http_otp_geo_t  *geo;

    if (olcf->geo_deny) {
        geo = olcf->geo_deny->elts;

        for (i = 0; i < olcf->geo_deny->nelts; i++) {
            if ((geo[i].channels & channel)
                && geo[i].prefix.len <= len
                && ngx_strncmp(geo[i].prefix.data, digits, geo[i].prefix.len)
                   == 0)
            {
                return 0;
            }
        }
    }

    if (olcf->geo_allow == NULL) {
        return 1;
    }

    listed = 0;
    geo = olcf->geo_allow->elts;

    for (i = 0; i < olcf->geo_allow->nelts; i++) {

        if (!(geo[i].channels & channel)) {
            continue;
        }

        listed = 1;

        if (geo[i].prefix.len <= len
            && ngx_strncmp(geo[i].prefix.data, digits, geo[i].prefix.len)
               == 0)
        {
            return 1;
        }
    }

    return !listed;
}


/*
 * The message locale: the request's "locale" field, else the first
 * language of Accept-Language that a template exists for, else
 * otp_default_locale.
 */

static void
ngx_http_otp_pick_locale(ngx_http_request_t *r, ngx_http_otp_ctx_t *ctx,
    u_char *field, size_t len)
{
    u_char                   *p, *last, *start, *end;
    ngx_uint_t                i;
    ngx_table_elt_t          *h;
    ngx_http_otp_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);

    if (field && len > 0 && len <= sizeof(ctx->locale)) {
        for (i = 0; i < len; i++) {
            if (!((field[i] >= 'a' && field[i] <= 'z')
                  || (field[i] >= 'A' && field[i] <= 'Z')
                  || (field[i] >= '0' && field[i] <= '9')
                  || field[i] == '-' || field[i] == '_'))
            {
                break;
            }
        }

        if (i == len) {
            ngx_memcpy(ctx->locale, field, len);
            ctx->locale_len = len;
            return;
        }
    }

    h = NULL;

#if (NGX_HTTP_HEADERS)
    h = r->headers_in.accept_language;
#endif

    if (h && olcf->templates) {
        p = h->value.data;
        last = p + h->value.len;

        while (p < last) {
            while (p < last && (*p == ' ' || *p == ',')) {
                p++;
            }

            start = p;

            while (p < last && *p != ',' && *p != ';' && *p != ' ') {
                p++;
            }

            end = p;

            while (p < last && *p != ',') {
                p++;
            }

            if (end > start && (size_t) (end - start) <= sizeof(ctx->locale)
                && ngx_http_otp_template(olcf, 0, start, end - start))
            {
                ngx_memcpy(ctx->locale, start, end - start);
                ctx->locale_len = end - start;
                return;
            }
        }
    }

    len = ngx_min(olcf->default_locale.len, sizeof(ctx->locale));
    ngx_memcpy(ctx->locale, olcf->default_locale.data, len);
    ctx->locale_len = len;
}


/*
 * The template for a channel (0: any) and a locale: exact match first,
 * then the same language ("pt-BR" takes "pt"), then otp_default_locale.
 */

static ngx_str_t *
ngx_http_otp_template(ngx_http_otp_loc_conf_t *olcf, ngx_uint_t channel,
    u_char *locale, size_t len)
{
    size_t                    lang;
    ngx_uint_t                i, pass;
    ngx_http_otp_template_t  *t;

    if (olcf->templates == NULL) {
        return NULL;
    }

    for (lang = 0; lang < len; lang++) {
        if (locale[lang] == '-' || locale[lang] == '_') {
            break;
        }
    }

    t = olcf->templates->elts;

    for (pass = 0; pass < 3; pass++) {
        for (i = 0; i < olcf->templates->nelts; i++) {

            if (channel && t[i].channel != channel) {
                continue;
            }

            switch (pass) {

            case 0:
                if (t[i].locale.len == len
                    && ngx_strncasecmp(t[i].locale.data, locale, len) == 0)
                {
                    return &t[i].text;
                }
                break;

            case 1:
                if (t[i].locale.len == lang
                    && ngx_strncasecmp(t[i].locale.data, locale, lang) == 0)
                {
                    return &t[i].text;
                }
                break;

            default:
                if (channel
                    && t[i].locale.len == olcf->default_locale.len
                    && ngx_strncasecmp(t[i].locale.data,
                                       olcf->default_locale.data,
                                       olcf->default_locale.len)
                       == 0)
                {
                    return &t[i].text;
                }
                break;
            }
        }
    }

    return NULL;
}


/*
 * What the per-client limit counts by: an IPv4 address (also one mapped
 * into IPv6), or an IPv6 address cut to its first prefix bits and written
 * as "network/prefix"; addr->data holds NGX_INET6_ADDRSTRLEN + 4 bytes.
 * The address is the one realip may have set from a trusted proxy.
 */

static void
ngx_http_otp_client_addr(ngx_http_request_t *r, ngx_uint_t prefix,
    ngx_str_t *addr)
{
#if (NGX_HAVE_INET6)
    u_char                n;
    ngx_uint_t            i;
    struct sockaddr_in6  *sin6;
    u_char                net[16];

    if (r->connection->sockaddr->sa_family == AF_INET6) {
        sin6 = (struct sockaddr_in6 *) r->connection->sockaddr;

        if (!IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr) && prefix < 128) {
            ngx_memcpy(net, sin6->sin6_addr.s6_addr, 16);

            for (i = 0; i < 16; i++) {
                n = (prefix >= 8 * (i + 1)) ? 0xff
                    : (prefix <= 8 * i) ? 0
                    : (u_char) (0xff << (8 - (prefix - 8 * i)));
                net[i] &= n;
            }

            addr->len = ngx_inet6_ntop(net, addr->data, NGX_INET6_ADDRSTRLEN);
            addr->len = ngx_sprintf(addr->data + addr->len, "/%ui", prefix)
                        - addr->data;
            return;
        }
    }
#endif

    addr->len = ngx_min(r->connection->addr_text.len,
                        NGX_INET6_ADDRSTRLEN + 4);
    ngx_memcpy(addr->data, r->connection->addr_text.data, addr->len);
}


static void
ngx_http_otp_issue_done(ngx_http_otp_store_op_t *op)
{
    ngx_int_t            rc;
    ngx_http_request_t  *r;
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_otp_op_done(op);
    r = ctx->request;

    switch (op->status) {

    case NGX_HTTP_OTP_STORE_OK:
        rc = ngx_http_otp_deliver(r, ctx);
        if (rc == NGX_DONE) {
            return;
        }
        break;

    case NGX_HTTP_OTP_STORE_LOCKED:
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "otp send to %*s refused: attempts exhausted",
                      ctx->masked_len, ctx->masked);
        ngx_http_otp_metrics_refused(NGX_HTTP_OTP_METRICS_LOCKED);
        rc = ngx_http_otp_rate_limited(r, "rate_limited",
                                       "Too many wrong codes for this "
                                       "number; try again later.",
                                       op->retry_after);
        break;

    case NGX_HTTP_OTP_STORE_COOLDOWN:
        ngx_http_otp_metrics_refused(NGX_HTTP_OTP_METRICS_COOLDOWN);
        rc = ngx_http_otp_rate_limited(r, "rate_limited",
                                       "A code was sent to this number "
                                       "moments ago; wait before asking "
                                       "for another.",
                                       op->retry_after);
        break;

    case NGX_HTTP_OTP_STORE_LIMITED:
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "otp send to %*s refused: send limit reached",
                      ctx->masked_len, ctx->masked);
        ngx_http_otp_metrics_refused(NGX_HTTP_OTP_METRICS_PHONE_LIMIT);
        rc = ngx_http_otp_rate_limited(r, "rate_limited",
                                       "Too many codes were sent to this "
                                       "number; try again later.",
                                       op->retry_after);
        break;

    case NGX_HTTP_OTP_STORE_CLIENT_LIMITED:
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "otp send to %*s refused: client limit reached",
                      ctx->masked_len, ctx->masked);
        ngx_http_otp_metrics_refused(NGX_HTTP_OTP_METRICS_CLIENT_LIMIT);
        rc = ngx_http_otp_rate_limited(r, "rate_limited",
                                       "Too many codes were requested from "
                                       "this address; try again later.",
                                       op->retry_after);
        break;

    case NGX_HTTP_OTP_STORE_OPTED_OUT:
        /* the number said STOP (ngx_http_otp_webhook.c): no provider is
         * contacted, and the client is told why */
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "otp send to %*s refused: the number opted out",
                      ctx->masked_len, ctx->masked);
        rc = ngx_http_otp_error(r, NGX_HTTP_FORBIDDEN, "opted_out",
                                "This number asked to receive no more "
                                "messages; it can reply START to allow "
                                "them again.");
        break;

    default:
        rc = ngx_http_otp_store_unavailable(r);
        break;
    }

    ngx_explicit_memzero(ctx->code, sizeof(ctx->code));

    ngx_http_otp_resume(r, rc);
}


/* the next entry of the chain, after its provider's budget allows it */

static ngx_int_t
ngx_http_otp_deliver(ngx_http_request_t *r, ngx_http_otp_ctx_t *ctx)
{
    ngx_http_otp_store_op_t  *op;
    ngx_http_otp_attempt_t   *a;

    if (ctx->next == ctx->nchain) {
        return ngx_http_otp_revoke(r, ctx);
    }

    a = &ctx->chain[ctx->next];

    if (a->provider->common.budget == 0 || a->budget_checked) {
        return ngx_http_otp_send_to(r, ctx, a);
    }

    op = ngx_http_otp_op_create(r, NGX_HTTP_OTP_OP_BUDGET,
                                ngx_http_otp_budget_done);
    if (op == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    op->budget_name = a->provider->store_name;
    op->budget_limit = a->provider->common.budget;

    return ngx_http_otp_op_start(r, ctx, op);
}


static void
ngx_http_otp_budget_done(ngx_http_otp_store_op_t *op)
{
    ngx_int_t                rc;
    ngx_http_request_t      *r;
    ngx_http_otp_ctx_t      *ctx;
    ngx_http_otp_attempt_t  *a;

    ctx = ngx_http_otp_op_done(op);
    r = ctx->request;

    a = &ctx->chain[ctx->next];

    switch (op->status) {

    case NGX_HTTP_OTP_STORE_OK:
        ngx_http_otp_metrics_budget(a->provider, 0);
        a->budget_checked = 1;
        rc = ngx_http_otp_deliver(r, ctx);
        break;

    case NGX_HTTP_OTP_STORE_LIMITED:
        ngx_http_otp_metrics_budget(a->provider, 1);

        if (op->first_over) {
            ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                          "otp provider \"%V\" spent its budget of %ui "
                          "sends this hour: sends through it are refused "
                          "until the hour ends",
                          &a->provider->name, a->provider->common.budget);
        }

        a->category = NGX_OTP_DELIVERY_BUDGET_EXHAUSTED;

        if (ctx->over_budget == 0 || op->retry_after < ctx->budget_retry) {
            ctx->budget_retry = op->retry_after;
        }

        ctx->over_budget++;
        ctx->next++;
        rc = ngx_http_otp_deliver(r, ctx);
        break;

    default:
        ngx_explicit_memzero(ctx->code, sizeof(ctx->code));
        rc = ngx_http_otp_store_unavailable(r);
        break;
    }

    if (rc != NGX_DONE) {
        ngx_http_otp_resume(r, rc);
    }
}


/*
 * No provider took the code: it is revoked before the answer, so that a
 * code a provider, proxy or WAF may have quoted back can never verify, and
 * a new send meets no cooldown.  A revoke that fails (store down) is
 * logged and the answer is the same.
 */

static ngx_int_t
ngx_http_otp_revoke(ngx_http_request_t *r, ngx_http_otp_ctx_t *ctx)
{
    ngx_int_t                 rc;
    ngx_http_otp_store_op_t  *op;

    op = ngx_http_otp_op_create(r, NGX_HTTP_OTP_OP_REVOKE,
                                ngx_http_otp_revoked);

    rc = (op == NULL) ? NGX_ERROR : ngx_http_otp_op_keys(r, ctx, op, 1);

    ngx_explicit_memzero(ctx->code, sizeof(ctx->code));

    if (rc != NGX_OK) {
        if (op) {
            ngx_free(op);
        }

        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "otp could not revoke the undelivered code for %*s",
                      ctx->masked_len, ctx->masked);

        return ngx_http_otp_undelivered(r, ctx);
    }

    return ngx_http_otp_op_start(r, ctx, op);
}


static void
ngx_http_otp_revoked(ngx_http_otp_store_op_t *op)
{
    ngx_http_request_t  *r;
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_otp_op_done(op);
    r = ctx->request;

    if (op->status != NGX_HTTP_OTP_STORE_OK
        && op->status != NGX_HTTP_OTP_STORE_EXPIRED)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "otp could not revoke the undelivered code for %*s: "
                      "the store is unavailable",
                      ctx->masked_len, ctx->masked);
    }

    ngx_http_otp_resume(r, ngx_http_otp_undelivered(r, ctx));
}


static ngx_int_t
ngx_http_otp_undelivered(ngx_http_request_t *r, ngx_http_otp_ctx_t *ctx)
{
    if (ctx->over_budget == ctx->nchain) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "otp send to %*s refused: every provider spent "
                      "its hourly budget",
                      ctx->masked_len, ctx->masked);
        ngx_http_otp_metrics_refused(NGX_HTTP_OTP_METRICS_BUDGET);

        return ngx_http_otp_rate_limited(r, "rate_limited",
                                         "Sending is paused for now; "
                                         "try again later.",
                                         ctx->budget_retry);
    }

    return ngx_http_otp_delivery_failed(r, ctx);
}


static ngx_int_t
ngx_http_otp_send_to(ngx_http_request_t *r, ngx_http_otp_ctx_t *ctx,
    ngx_http_otp_attempt_t *a)
{
    u_char                   *text;
    size_t                    len;
    ngx_http_otp_send_t      *send;
    ngx_http_otp_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);

    text = ngx_pnalloc(r->pool, NGX_OTP_MESSAGE_MAX_LEN);
    if (text == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_otp_render(r, ctx, a->channel, text, &len) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    send = ngx_http_otp_send_create(r->connection->log);
    if (send == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    send->provider = a->provider;
    send->channel = a->channel;
    ngx_memcpy(send->phone, ctx->phone, ctx->phone_len);
    send->phone_len = ctx->phone_len;
    ngx_memcpy(send->code, ctx->code, ctx->code_len);
    send->code_len = ctx->code_len;
    send->ttl = olcf->ttl;
    send->text.data = text;
    send->text.len = len;

    if (ctx->text) {
        /* the previous attempt's message */
        ngx_explicit_memzero(ctx->text, NGX_OTP_MESSAGE_MAX_LEN);
    }

    ctx->text = text;
    send->locale.data = ctx->locale;
    send->locale.len = ctx->locale_len;
    send->handler = ngx_http_otp_delivered;
    send->data = r;

    ctx->send = send;
    ctx->provider_start = ngx_current_msec;

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "otp send %p start: provider \"%V\" via %s, attempt %ui",
                   send, &a->provider->name, ngx_otp_channel_name(a->channel),
                   ctx->next + 1);

    ngx_http_otp_send_start(send);

    return NGX_DONE;
}


/* the message for a channel, in the request's locale; text holds
 * NGX_OTP_MESSAGE_MAX_LEN bytes */

static ngx_int_t
ngx_http_otp_render(ngx_http_request_t *r, ngx_http_otp_ctx_t *ctx,
    ngx_uint_t channel, u_char *text, size_t *len)
{
    ngx_str_t                *tpl;
    ngx_otp_message_vars_t    vars;
    ngx_http_otp_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);

    tpl = ngx_http_otp_template(olcf, channel, ctx->locale, ctx->locale_len);

    ngx_memzero(&vars, sizeof(ngx_otp_message_vars_t));
    vars.code = ctx->code;
    vars.code_len = ctx->code_len;
    vars.app = olcf->app_name.data;
    vars.app_len = olcf->app_name.len;
    vars.ttl = olcf->ttl / 1000;

    if (ngx_otp_message_render(tpl ? tpl->data : NULL, tpl ? tpl->len : 0,
                               &vars, text, NGX_OTP_MESSAGE_MAX_LEN, len)
        != NGX_OTP_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_http_otp_delivered(ngx_http_otp_send_t *send)
{
    ngx_int_t                rc;
    ngx_http_request_t      *r;
    ngx_http_otp_ctx_t      *ctx;
    ngx_http_otp_attempt_t  *a;

    r = send->data;

    /* from the HTTP client's event: the request's log context again */
    ngx_http_set_log_request(r->connection->log, r);

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "otp send %p done: provider \"%V\" via %s, rc %i",
                   send, &send->provider->name,
                   ngx_otp_channel_name(send->channel), send->rc);

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    ctx->send = NULL;

    ctx->provider_ms += ngx_current_msec - ctx->provider_start;
    ctx->has_provider_ms = 1;

    if (send->rc == NGX_OK) {
        ctx->message_id_len = ngx_min(send->message_id_len,
                                      sizeof(ctx->message_id));
        ngx_memcpy(ctx->message_id, send->message_id, ctx->message_id_len);

        if (send->cost >= 0) {
            ctx->cost = send->cost;
            ctx->has_cost = 1;
        }

        /* the record may seal the code for a fallback: wiped after it */

        rc = ngx_http_otp_record(r, ctx);

        ngx_explicit_memzero(ctx->code, sizeof(ctx->code));

        if (rc != NGX_DONE) {
            /* the code is on its way: a lost record costs the status only */
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "otp: message %*s could not be recorded",
                          ctx->message_id_len, ctx->message_id);

            ngx_http_otp_resume(r, ngx_http_otp_accepted(r, ctx));
        }

        return;
    }

    /* the provider port has logged why, the code scrubbed out */

    a = &ctx->chain[ctx->next++];
    a->category = send->category;
    a->has_provider_code = send->has_provider_code;
    a->provider_code = send->provider_code;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "otp send: \"%V\" via %s failed: %s, next",
                   &a->provider->name, ngx_otp_channel_name(a->channel),
                   ngx_otp_delivery_error_name(a->category));

    rc = ngx_http_otp_deliver(r, ctx);

    if (rc != NGX_DONE) {
        ngx_http_otp_resume(r, rc);
    }
}


/* the message record that delivery reports and status lookups update */

static ngx_int_t
ngx_http_otp_record(ngx_http_request_t *r, ngx_http_otp_ctx_t *ctx)
{
    ngx_http_otp_store_op_t  *op;
    ngx_http_otp_attempt_t   *a;
    ngx_http_otp_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);

    a = &ctx->chain[ctx->next];

    op = ngx_http_otp_op_create(r, NGX_HTTP_OTP_OP_MESSAGE_PUT,
                                ngx_http_otp_recorded);
    if (op == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_otp_op_keys(r, ctx, op, 0) != NGX_OK) {
        ngx_free(op);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* under the app's key: its message, its status, its fallback */
    op->message_id_len = ngx_http_otp_app_message_key(ngx_http_otp_get_app(r),
                                                      ctx->message_id,
                                                      ctx->message_id_len,
                                                      op->message_id);
    op->provider_len = ngx_min(a->provider->store_name.len,
                               sizeof(op->provider));
    ngx_memcpy(op->provider, a->provider->store_name.data, op->provider_len);
    op->channel = a->channel;
    op->message_ttl = olcf->message_ttl;
    op->cost = ctx->has_cost ? ctx->cost : -1;

    /* the analytics' country (ngx_http_otp_store.h, "Analytics") */
    op->country_len = ngx_http_otp_country(ctx->phone, ctx->phone_len,
                                           op->country);

    if (olcf->fallback) {
        ngx_http_otp_fallback_record(r, ctx, op);
    }

    return ngx_http_otp_op_start(r, ctx, op);
}


/*
 * otp_fallback: what the next channel of the chain needs to send this
 * code again, should this message fail, sealed into the record.  Only
 * another channel is a fallback (the chain's other providers of this
 * channel were for a provider that refused the message, not for a phone
 * that cannot get it); the first entry of another channel is taken.
 */

static void
ngx_http_otp_fallback_record(ngx_http_request_t *r, ngx_http_otp_ctx_t *ctx,
    ngx_http_otp_store_op_t *op)
{
    size_t                      len;
    ngx_int_t                   rc;
    ngx_uint_t                  i;
    ngx_time_t                 *tp;
    ngx_http_otp_attempt_t     *a, *b;
    ngx_http_otp_loc_conf_t    *olcf;
    ngx_otp_fallback_record_t   rec;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);

    a = &ctx->chain[ctx->next];

    for (i = ctx->next + 1; i < ctx->nchain; i++) {
        if (ctx->chain[i].channel != a->channel) {
            break;
        }
    }

    if (i == ctx->nchain) {
        return;
    }

    b = &ctx->chain[i];

    ngx_memzero(&rec, sizeof(ngx_otp_fallback_record_t));

    if (ngx_http_otp_render(r, ctx, b->channel, rec.text, &len) != NGX_OK
        || ctx->phone_len > sizeof(rec.phone)
        || ctx->code_len > sizeof(rec.code)
        || b->provider->name.len > sizeof(rec.provider)
        || ctx->locale_len > sizeof(rec.locale))
    {
        ngx_explicit_memzero(&rec, sizeof(ngx_otp_fallback_record_t));
        return;
    }

    tp = ngx_timeofday();

    rec.text_len = len;
    rec.channel = b->channel;
    rec.phone_len = ngx_cpymem(rec.phone, ctx->phone, ctx->phone_len)
                    - rec.phone;
    rec.code_len = ngx_cpymem(rec.code, ctx->code, ctx->code_len) - rec.code;
    rec.provider_len = ngx_cpymem(rec.provider, b->provider->name.data,
                                  b->provider->name.len)
                       - rec.provider;
    rec.locale_len = ngx_cpymem(rec.locale, ctx->locale, ctx->locale_len)
                     - rec.locale;
    rec.expires = (int64_t) tp->sec * 1000 + tp->msec + olcf->ttl;
    rec.message_ttl = olcf->message_ttl;

    rc = ngx_http_otp_fallback_seal(&ngx_http_otp_get_app(r)->secret, &rec,
                                    op);

    ngx_explicit_memzero(&rec, sizeof(ngx_otp_fallback_record_t));

    if (rc == NGX_OK) {
        ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "otp: message %*s: fallback by %s sealed",
                       ctx->message_id_len, ctx->message_id,
                       ngx_otp_channel_name(b->channel));

    } else if (rc == NGX_DECLINED) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "otp: message %*s gets no fallback: its %s text is "
                      "too long to keep", ctx->message_id_len,
                      ctx->message_id, ngx_otp_channel_name(b->channel));

    } else if (rc != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "otp: message %*s gets no fallback: sealing failed",
                      ctx->message_id_len, ctx->message_id);
    }
}


static void
ngx_http_otp_recorded(ngx_http_otp_store_op_t *op)
{
    ngx_http_request_t  *r;
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_otp_op_done(op);
    r = ctx->request;

    /*
     * The code is on its way whatever happens here: a lost record costs
     * the status lookup, not the user's code.
     */

    if (op->status != NGX_HTTP_OTP_STORE_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "otp: message %*s could not be recorded",
                      ctx->message_id_len, ctx->message_id);
    }

    ngx_http_otp_resume(r, ngx_http_otp_accepted(r, ctx));
}


static ngx_int_t
ngx_http_otp_accepted(ngx_http_request_t *r, ngx_http_otp_ctx_t *ctx)
{
    u_char                   *body, *p;
    size_t                    len;
    ngx_http_otp_attempt_t   *a;
    ngx_http_otp_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);
    a = &ctx->chain[ctx->next];

    ngx_http_otp_outcome(r, "sent");
    ngx_http_otp_outcome_by(ctx, a->channel, &a->provider->name);

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "otp code sent to %*s via %s by \"%V\", message_id %*s",
                  ctx->masked_len, ctx->masked,
                  ngx_otp_channel_name(a->channel), &a->provider->name,
                  ctx->message_id_len, ctx->message_id);

    len = sizeof("{\"status\":\"pending\",\"message_id\":\"\",\"channel\":\"\","
                 "\"provider\":\"\",\"expires_in\":,\"resend_after\":}") - 1
          + ctx->message_id_len
          + ngx_escape_json(NULL, ctx->message_id, ctx->message_id_len)
          + sizeof("whatsapp") - 1 + a->provider->name.len
          + 2 * NGX_TIME_T_LEN;

    body = ngx_pnalloc(r->pool, len);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* a provider's message id is its text: escape it */

    p = ngx_cpymem(body, "{\"status\":\"pending\",\"message_id\":\"",
                   sizeof("{\"status\":\"pending\",\"message_id\":\"") - 1);
    p = (u_char *) ngx_escape_json(p, ctx->message_id, ctx->message_id_len);

    p = ngx_sprintf(p, "\",\"channel\":\"%s\",\"provider\":\"%V\","
                    "\"expires_in\":%T,\"resend_after\":%T}",
                    ngx_otp_channel_name(a->channel),
                    &a->provider->name,
                    (time_t) (olcf->ttl / 1000),
                    (time_t) ((olcf->resend_after + 999) / 1000));

    return ngx_http_otp_json(r, NGX_HTTP_ACCEPTED, body, p - body);
}


static ngx_int_t
ngx_http_otp_delivery_failed(ngx_http_request_t *r, ngx_http_otp_ctx_t *ctx)
{
    u_char                  *body, *p;
    size_t                   len;
    ngx_uint_t               i;
    ngx_http_otp_attempt_t  *a;

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "otp delivery to %*s failed on every provider",
                  ctx->masked_len, ctx->masked);

    ngx_http_otp_outcome(r, "delivery_failed");

    /* the last one asked: one over its budget was skipped, not tried */

    for (i = ctx->nchain; i > 0; i--) {
        a = &ctx->chain[i - 1];

        if (a->category != NGX_OTP_DELIVERY_BUDGET_EXHAUSTED) {
            ngx_http_otp_outcome_by(ctx, a->channel, &a->provider->name);
            break;
        }
    }

    /* a category and a number only: no provider's words reach a client */

    len = sizeof("{\"error\":\"delivery_failed\",\"message\":\"No provider "
                 "could deliver the code.\",\"attempts\":[]}") - 1;

    for (i = 0; i < ctx->nchain; i++) {
        a = &ctx->chain[i];
        len += sizeof("{\"channel\":\"\",\"provider\":\"\",\"error\":\"\","
                      "\"provider_code\":},") - 1
               + sizeof("whatsapp") - 1 + a->provider->name.len
               + ngx_strlen(ngx_otp_delivery_error_name(a->category))
               + NGX_INT64_LEN;
    }

    body = ngx_pnalloc(r->pool, len);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(body, "{\"error\":\"delivery_failed\",\"message\":\"No "
                   "provider could deliver the code.\",\"attempts\":[",
                   sizeof("{\"error\":\"delivery_failed\",\"message\":\"No "
                          "provider could deliver the code.\","
                          "\"attempts\":[") - 1);

    for (i = 0; i < ctx->nchain; i++) {
        a = &ctx->chain[i];

        p = ngx_sprintf(p, "%s{\"channel\":\"%s\",\"provider\":\"%V\","
                        "\"error\":\"%s\"", i ? "," : "",
                        ngx_otp_channel_name(a->channel),
                        &a->provider->name,
                        ngx_otp_delivery_error_name(a->category));

        if (a->has_provider_code) {
            p = ngx_sprintf(p, ",\"provider_code\":%L", a->provider_code);
        }

        *p++ = '}';
    }

    *p++ = ']';
    *p++ = '}';

    return ngx_http_otp_json(r, NGX_HTTP_BAD_GATEWAY, body, p - body);
}
