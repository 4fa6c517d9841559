
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * The content handlers behind otp_send and otp_verify: read the body,
 * validate it with the pure core, ask the store (and, for a send, the
 * providers), and answer with the JSON of API.md.  The request waits on
 * the store and the providers without blocking the worker: the body's
 * post handler starts an operation and the operation's callback finalizes
 * the request (the shape of proxy_pass).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_otp_module.h"


#define NGX_HTTP_OTP_FIELD_MAX      NGX_OTP_PHONE_INPUT_MAX





static void ngx_http_otp_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_otp_body(ngx_http_request_t *r, ngx_str_t *body,
    size_t limit);
static ngx_int_t ngx_http_otp_body_type(ngx_http_request_t *r);
static ngx_int_t ngx_http_otp_parse(ngx_http_request_t *r,
    ngx_http_otp_ctx_t *ctx, ngx_otp_field_t *fields, ngx_uint_t n,
    ngx_http_otp_err_t **err);
static ngx_int_t ngx_http_otp_send_request(ngx_http_request_t *r,
    ngx_http_otp_ctx_t *ctx);
static ngx_int_t ngx_http_otp_verify_request(ngx_http_request_t *r,
    ngx_http_otp_ctx_t *ctx);
static ngx_int_t ngx_http_otp_start_op(ngx_http_request_t *r,
    ngx_http_otp_ctx_t *ctx, ngx_http_otp_op_type_e type);
static void ngx_http_otp_issue_done(ngx_http_otp_store_op_t *op);
static void ngx_http_otp_verify_done(ngx_http_otp_store_op_t *op);
static ngx_uint_t ngx_http_otp_chain(ngx_http_request_t *r,
    ngx_http_otp_ctx_t *ctx, ngx_uint_t want, ngx_uint_t *blocked);
static ngx_uint_t ngx_http_otp_geo_allowed(ngx_http_otp_loc_conf_t *olcf,
    ngx_uint_t channel, u_char *digits, size_t len);
static void ngx_http_otp_pick_locale(ngx_http_request_t *r,
    ngx_http_otp_ctx_t *ctx, u_char *field, size_t len);
static ngx_str_t *ngx_http_otp_template(ngx_http_otp_loc_conf_t *olcf,
    ngx_uint_t channel, u_char *locale, size_t len);
static ngx_int_t ngx_http_otp_deliver(ngx_http_request_t *r,
    ngx_http_otp_ctx_t *ctx);
static void ngx_http_otp_budget_done(ngx_http_otp_store_op_t *op);
static ngx_int_t ngx_http_otp_send_to(ngx_http_request_t *r,
    ngx_http_otp_ctx_t *ctx, ngx_http_otp_attempt_t *a);
static void ngx_http_otp_delivered(ngx_http_otp_send_t *send);
static ngx_int_t ngx_http_otp_record(ngx_http_request_t *r,
    ngx_http_otp_ctx_t *ctx);
static void ngx_http_otp_recorded(ngx_http_otp_store_op_t *op);
static ngx_int_t ngx_http_otp_accepted(ngx_http_request_t *r,
    ngx_http_otp_ctx_t *ctx);
static ngx_int_t ngx_http_otp_verified(ngx_http_request_t *r,
    ngx_http_otp_ctx_t *ctx);
static ngx_int_t ngx_http_otp_delivery_failed(ngx_http_request_t *r,
    ngx_http_otp_ctx_t *ctx);
static ngx_int_t ngx_http_otp_rate_limited(ngx_http_request_t *r,
    const char *error, const char *message, ngx_msec_t retry_after);
static ngx_int_t ngx_http_otp_error(ngx_http_request_t *r,
    ngx_uint_t status, const char *error, const char *message);
static ngx_int_t ngx_http_otp_json(ngx_http_request_t *r, ngx_uint_t status,
    u_char *body, size_t len);
static ngx_int_t ngx_http_otp_add_header(ngx_http_request_t *r,
    const char *key, ngx_str_t *value);
static void ngx_http_otp_resume(ngx_http_request_t *r, ngx_int_t rc);
static void ngx_http_otp_cleanup(void *data);


#define ngx_http_otp_bad(e, m)  { NGX_HTTP_BAD_REQUEST, e, m }

static ngx_http_otp_err_t  ngx_http_otp_err_type = ngx_http_otp_bad(
    "invalid_request",
    "The body must be application/json or "
    "application/x-www-form-urlencoded.");

static ngx_http_otp_err_t  ngx_http_otp_err_too_large = ngx_http_otp_bad(
    "invalid_request", "The request body is too large.");

static ngx_http_otp_err_t  ngx_http_otp_err_empty = ngx_http_otp_bad(
    "invalid_request", "The request body is empty.");

static ngx_http_otp_err_t  ngx_http_otp_err_json = ngx_http_otp_bad(
    "invalid_request", "The body is not a valid JSON object.");

static ngx_http_otp_err_t  ngx_http_otp_err_form = ngx_http_otp_bad(
    "invalid_request", "The body is not valid form data.");

static ngx_http_otp_err_t  ngx_http_otp_err_dup = ngx_http_otp_bad(
    "invalid_request", "A field is given more than once.");

static ngx_http_otp_err_t  ngx_http_otp_err_string = ngx_http_otp_bad(
    "invalid_request", "Every field must be a string.");

static ngx_http_otp_err_t  ngx_http_otp_err_long = ngx_http_otp_bad(
    "invalid_request", "A field is too long.");

static ngx_http_otp_err_t  ngx_http_otp_err_no_phone = ngx_http_otp_bad(
    "invalid_request", "The phone field is required.");

static ngx_http_otp_err_t  ngx_http_otp_err_phone = ngx_http_otp_bad(
    "invalid_phone",
    "The phone number must be in E.164 format, such as +15551234567.");


ngx_int_t
ngx_http_otp_handler(ngx_http_request_t *r)
{
    ngx_int_t                 rc;
    ngx_str_t                 value;
    ngx_pool_cleanup_t       *cln;
    ngx_http_otp_ctx_t       *ctx;
    ngx_http_otp_loc_conf_t  *olcf;

    if (r->method != NGX_HTTP_POST) {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        ngx_str_set(&value, "POST");

        if (ngx_http_otp_add_header(r, "Allow", &value) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_otp_error(r, NGX_HTTP_NOT_ALLOWED,
                                  "method_not_allowed",
                                  "Use POST for this endpoint.");
    }

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);

    if (r->headers_in.content_length_n > (off_t) olcf->body_limit) {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_http_otp_error(r, ngx_http_otp_err_too_large.status,
                                  ngx_http_otp_err_too_large.error,
                                  ngx_http_otp_err_too_large.message);
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_otp_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->request = r;

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_otp_cleanup;
    cln->data = ctx;

    ngx_http_set_ctx(r, ctx, ngx_http_otp_module);

    r->request_body_in_single_buf = 1;

    rc = ngx_http_read_client_request_body(r, ngx_http_otp_body_handler);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


static void
ngx_http_otp_body_handler(ngx_http_request_t *r)
{
    ngx_int_t                 rc;
    ngx_http_otp_ctx_t       *ctx;
    ngx_http_otp_loc_conf_t  *olcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);

    if (olcf->handler == NGX_HTTP_OTP_HANDLER_SEND) {
        rc = ngx_http_otp_send_request(r, ctx);

    } else {
        rc = ngx_http_otp_verify_request(r, ctx);
    }

    if (rc == NGX_DONE) {
        /*
         * The store or a provider answers later.  Meanwhile a client that
         * goes away is noticed, and its request's cleanup cancels what is
         * pending (a provider call included), as limit_req does.
         */
        r->read_event_handler = ngx_http_test_reading;
        return;
    }

    ngx_http_finalize_request(r, rc);
}


static ngx_int_t
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

    return ngx_http_otp_start_op(r, ctx, NGX_HTTP_OTP_OP_ISSUE);
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
    ngx_http_otp_route_t      *route, *best;
    ngx_http_otp_provider_t   *p;
    ngx_http_otp_loc_conf_t   *olcf;
    ngx_http_otp_main_conf_t  *omcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);
    omcf = ngx_http_get_module_main_conf(r, ngx_http_otp_module);

    digits = ctx->phone + 1;
    len = ctx->phone_len - 1;

    ch = olcf->channels->elts;
    p = omcf->providers.elts;
    route = omcf->routes.elts;

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

        for (j = 0; j < omcf->routes.nelts; j++) {

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

        for (j = 0; j < omcf->providers.nelts; j++) {
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


static ngx_int_t
ngx_http_otp_verify_request(ngx_http_request_t *r, ngx_http_otp_ctx_t *ctx)
{
    ngx_int_t            rc;
    ngx_otp_field_t      fields[2];
    ngx_http_otp_err_t  *err;
    u_char               phone[NGX_HTTP_OTP_FIELD_MAX];
    u_char               code[NGX_HTTP_OTP_FIELD_MAX];

    ngx_memzero(fields, sizeof(fields));

    fields[0].name = "phone";
    fields[0].buf = phone;
    fields[0].cap = sizeof(phone);
    fields[1].name = "code";
    fields[1].buf = code;
    fields[1].cap = sizeof(code);

    rc = ngx_http_otp_parse(r, ctx, fields, 2, &err);

    if (rc == NGX_DECLINED) {
        return ngx_http_otp_error(r, err->status, err->error, err->message);
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (!fields[1].found) {
        return ngx_http_otp_error(r, NGX_HTTP_BAD_REQUEST, "invalid_request",
                                  "The code field is required.");
    }

    /*
     * Something that is not 4-10 digits cannot be any code this module
     * issues, so refusing it without spending an attempt gives a guesser
     * nothing.
     */

    if (fields[1].len < NGX_OTP_CODE_MIN_LEN
        || fields[1].len > NGX_OTP_CODE_MAX_LEN
        || ngx_otp_code_check_format(code, fields[1].len, fields[1].len)
           != NGX_OTP_OK)
    {
        ngx_explicit_memzero(code, sizeof(code));
        return ngx_http_otp_error(r, NGX_HTTP_BAD_REQUEST, "invalid_request",
                                  "The code must be 4 to 10 digits.");
    }

    ngx_memcpy(ctx->code, code, fields[1].len);
    ctx->code_len = fields[1].len;
    ngx_explicit_memzero(code, sizeof(code));

    return ngx_http_otp_start_op(r, ctx, NGX_HTTP_OTP_OP_VERIFY);
}


/*
 * Reads the body and the wanted fields, and normalises the phone (always
 * the first field).  Returns NGX_OK; NGX_DECLINED with *err describing a
 * bad input; or NGX_ERROR.
 */

static ngx_int_t
ngx_http_otp_parse(ngx_http_request_t *r, ngx_http_otp_ctx_t *ctx,
    ngx_otp_field_t *fields, ngx_uint_t n, ngx_http_otp_err_t **err)
{
    int                       rc, type;
    ngx_str_t                 body;
    const char               *bad;
    ngx_http_otp_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);

    type = ngx_http_otp_body_type(r);

    if (type == 0) {
        *err = &ngx_http_otp_err_type;
        return NGX_DECLINED;
    }

    rc = ngx_http_otp_body(r, &body, olcf->body_limit);

    if (rc == NGX_DECLINED) {
        *err = &ngx_http_otp_err_too_large;
        return NGX_DECLINED;
    }

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    if (body.len == 0) {
        *err = &ngx_http_otp_err_empty;
        return NGX_DECLINED;
    }

    bad = NULL;

    rc = ngx_otp_fields_parse(type, body.data, body.len, fields, n, &bad);

    if (rc != NGX_OTP_OK) {

        if (bad && ngx_strcmp(bad, "phone") == 0
            && (rc == NGX_OTP_EINVAL || rc == NGX_OTP_ETOOBIG))
        {
            *err = &ngx_http_otp_err_phone;
            return NGX_DECLINED;
        }

        switch (rc) {

        case NGX_OTP_EDUP:
            *err = &ngx_http_otp_err_dup;
            break;

        case NGX_OTP_ETYPE:
            *err = &ngx_http_otp_err_string;
            break;

        case NGX_OTP_ETOOBIG:
            *err = &ngx_http_otp_err_long;
            break;

        case NGX_OTP_ERROR:
            return NGX_ERROR;

        default:
            *err = (type == NGX_OTP_BODY_JSON) ? &ngx_http_otp_err_json
                                               : &ngx_http_otp_err_form;
            break;
        }

        return NGX_DECLINED;
    }

    if (!fields[0].found) {
        *err = &ngx_http_otp_err_no_phone;
        return NGX_DECLINED;
    }

    if (ngx_otp_phone_normalize(fields[0].buf, fields[0].len,
                                olcf->default_cc.data, olcf->default_cc.len,
                                ctx->phone, &ctx->phone_len)
        != NGX_OTP_OK)
    {
        *err = &ngx_http_otp_err_phone;
        return NGX_DECLINED;
    }

    ctx->masked_len = ngx_otp_phone_mask(ctx->phone, ctx->phone_len,
                                         ctx->masked);

    return NGX_OK;
}


/* NGX_OTP_BODY_JSON, NGX_OTP_BODY_FORM, or 0 for anything else */

static ngx_int_t
ngx_http_otp_body_type(ngx_http_request_t *r)
{
    u_char     *p, *last;
    size_t      len;
    ngx_str_t  *ct;

    if (r->headers_in.content_type == NULL) {
        return 0;
    }

    ct = &r->headers_in.content_type->value;
    p = ct->data;
    last = p + ct->len;

    len = sizeof("application/json") - 1;

    if ((size_t) (last - p) >= len
        && ngx_strncasecmp(p, (u_char *) "application/json", len) == 0
        && (p + len == last || p[len] == ';' || p[len] == ' '))
    {
        return NGX_OTP_BODY_JSON;
    }

    len = sizeof("application/x-www-form-urlencoded") - 1;

    if ((size_t) (last - p) >= len
        && ngx_strncasecmp(p, (u_char *) "application/x-www-form-urlencoded",
                           len)
           == 0
        && (p + len == last || p[len] == ';' || p[len] == ' '))
    {
        return NGX_OTP_BODY_FORM;
    }

    return 0;
}


/*
 * The body as one contiguous string.  NGX_DECLINED when it is over limit;
 * a body nginx wrote to a temporary file is read back (it is small: the
 * limit is checked first).
 */

static ngx_int_t
ngx_http_otp_body(ngx_http_request_t *r, ngx_str_t *body, size_t limit)
{
    u_char       *p;
    off_t         size;
    ssize_t       n;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    ngx_str_null(body);

    if (r->request_body == NULL || r->request_body->bufs == NULL) {
        return NGX_OK;
    }

    size = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;
        size += b->in_file ? b->file_last - b->file_pos : b->last - b->pos;
    }

    if (size > (off_t) limit) {
        return NGX_DECLINED;
    }

    cl = r->request_body->bufs;

    if (cl->next == NULL && !cl->buf->in_file) {
        body->data = cl->buf->pos;
        body->len = cl->buf->last - cl->buf->pos;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, (size_t) size);
    if (p == NULL) {
        return NGX_ERROR;
    }

    body->data = p;

    for ( /* void */ ; cl; cl = cl->next) {
        b = cl->buf;

        if (!b->in_file) {
            p = ngx_cpymem(p, b->pos, b->last - b->pos);
            continue;
        }

        n = ngx_read_file(b->file, p, (size_t) (b->file_last - b->file_pos),
                          b->file_pos);

        if (n != b->file_last - b->file_pos) {
            return NGX_ERROR;
        }

        p += n;
    }

    body->len = p - body->data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_otp_start_op(ngx_http_request_t *r, ngx_http_otp_ctx_t *ctx,
    ngx_http_otp_op_type_e type)
{
    ngx_str_t                 *addr;
    ngx_http_otp_store_op_t   *op;
    ngx_http_otp_loc_conf_t   *olcf;
    ngx_http_otp_main_conf_t  *omcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);
    omcf = ngx_http_get_module_main_conf(r, ngx_http_otp_module);

    op = ngx_http_otp_store_op_create(r->connection->log);
    if (op == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    op->type = type;
    op->data = r;

    if (ngx_otp_key_phone(omcf->secret.data, omcf->secret.len, ctx->phone,
                          ctx->phone_len, op->phone_key)
        != NGX_OTP_OK
        || ngx_otp_key_code(omcf->secret.data, omcf->secret.len, ctx->phone,
                            ctx->phone_len, ctx->code, ctx->code_len,
                            op->code_key)
           != NGX_OTP_OK)
    {
        ngx_free(op);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (type == NGX_HTTP_OTP_OP_ISSUE) {
        addr = &r->connection->addr_text;

        if (ngx_otp_key_client(omcf->secret.data, omcf->secret.len,
                               addr->data, addr->len, op->client_key)
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
        op->handler = ngx_http_otp_issue_done;

    } else {
        /* a guess is not needed once hashed */
        ngx_explicit_memzero(ctx->code, sizeof(ctx->code));
        op->handler = ngx_http_otp_verify_done;
    }

    ctx->op = op;

    ngx_http_otp_store_start(&omcf->store, op);

    return NGX_DONE;
}


static void
ngx_http_otp_issue_done(ngx_http_otp_store_op_t *op)
{
    ngx_int_t            rc;
    ngx_http_request_t  *r;
    ngx_http_otp_ctx_t  *ctx;

    r = op->data;
    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    ctx->op = NULL;

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
        rc = ngx_http_otp_rate_limited(r, "rate_limited",
                                       "Too many wrong codes for this "
                                       "number; try again later.",
                                       op->retry_after);
        break;

    case NGX_HTTP_OTP_STORE_COOLDOWN:
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
        rc = ngx_http_otp_rate_limited(r, "rate_limited",
                                       "Too many codes were sent to this "
                                       "number; try again later.",
                                       op->retry_after);
        break;

    case NGX_HTTP_OTP_STORE_CLIENT_LIMITED:
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "otp send to %*s refused: client limit reached",
                      ctx->masked_len, ctx->masked);
        rc = ngx_http_otp_rate_limited(r, "rate_limited",
                                       "Too many codes were requested from "
                                       "this address; try again later.",
                                       op->retry_after);
        break;

    default:
        rc = ngx_http_otp_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                "store_unavailable",
                                "The verification store is unavailable; "
                                "try again shortly.");
        break;
    }

    ngx_explicit_memzero(ctx->code, sizeof(ctx->code));

    ngx_http_otp_resume(r, rc);
}


/* the next entry of the chain, after its provider's budget allows it */

static ngx_int_t
ngx_http_otp_deliver(ngx_http_request_t *r, ngx_http_otp_ctx_t *ctx)
{
    ngx_http_otp_store_op_t   *op;
    ngx_http_otp_attempt_t    *a;
    ngx_http_otp_main_conf_t  *omcf;

    if (ctx->next == ctx->nchain) {
        ngx_explicit_memzero(ctx->code, sizeof(ctx->code));

        if (ctx->over_budget == ctx->nchain) {
            ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                          "otp send to %*s refused: every provider spent "
                          "its hourly budget",
                          ctx->masked_len, ctx->masked);

            return ngx_http_otp_rate_limited(r, "rate_limited",
                                             "Sending is paused for now; "
                                             "try again later.",
                                             ctx->budget_retry);
        }

        return ngx_http_otp_delivery_failed(r, ctx);
    }

    a = &ctx->chain[ctx->next];

    if (a->provider->common.budget == 0 || a->budget_checked) {
        return ngx_http_otp_send_to(r, ctx, a);
    }

    omcf = ngx_http_get_module_main_conf(r, ngx_http_otp_module);

    op = ngx_http_otp_store_op_create(r->connection->log);
    if (op == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    op->type = NGX_HTTP_OTP_OP_BUDGET;
    op->budget_name = a->provider->name;
    op->budget_limit = a->provider->common.budget;
    op->handler = ngx_http_otp_budget_done;
    op->data = r;

    ctx->op = op;

    ngx_http_otp_store_start(&omcf->store, op);

    return NGX_DONE;
}


static void
ngx_http_otp_budget_done(ngx_http_otp_store_op_t *op)
{
    ngx_int_t                rc;
    ngx_http_request_t      *r;
    ngx_http_otp_ctx_t      *ctx;
    ngx_http_otp_attempt_t  *a;

    r = op->data;
    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    ctx->op = NULL;

    a = &ctx->chain[ctx->next];

    switch (op->status) {

    case NGX_HTTP_OTP_STORE_OK:
        a->budget_checked = 1;
        rc = ngx_http_otp_deliver(r, ctx);
        break;

    case NGX_HTTP_OTP_STORE_LIMITED:
        if (op->first_over) {
            ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                          "otp provider \"%V\" spent its budget of %ui "
                          "sends this hour: sends through it are refused "
                          "until the hour ends",
                          &a->provider->name, a->provider->common.budget);
        }

        a->error_len = ngx_cpymem(a->error, "hourly budget spent",
                                  sizeof("hourly budget spent") - 1)
                       - a->error;

        if (ctx->over_budget == 0 || op->retry_after < ctx->budget_retry) {
            ctx->budget_retry = op->retry_after;
        }

        ctx->over_budget++;
        ctx->next++;
        rc = ngx_http_otp_deliver(r, ctx);
        break;

    default:
        ngx_explicit_memzero(ctx->code, sizeof(ctx->code));
        rc = ngx_http_otp_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                "store_unavailable",
                                "The verification store is unavailable; "
                                "try again shortly.");
        break;
    }

    if (rc != NGX_DONE) {
        ngx_http_otp_resume(r, rc);
    }
}


static ngx_int_t
ngx_http_otp_send_to(ngx_http_request_t *r, ngx_http_otp_ctx_t *ctx,
    ngx_http_otp_attempt_t *a)
{
    u_char                   *text;
    size_t                    len;
    ngx_str_t                *tpl;
    ngx_http_otp_send_t      *send;
    ngx_otp_message_vars_t    vars;
    ngx_http_otp_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);

    text = ngx_pnalloc(r->pool, NGX_OTP_MESSAGE_MAX_LEN);
    if (text == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    tpl = ngx_http_otp_template(olcf, a->channel, ctx->locale,
                                ctx->locale_len);

    ngx_memzero(&vars, sizeof(ngx_otp_message_vars_t));
    vars.code = ctx->code;
    vars.code_len = ctx->code_len;
    vars.app = olcf->app_name.data;
    vars.app_len = olcf->app_name.len;
    vars.ttl = olcf->ttl / 1000;

    if (ngx_otp_message_render(tpl ? tpl->data : NULL, tpl ? tpl->len : 0,
                               &vars, text, NGX_OTP_MESSAGE_MAX_LEN, &len)
        != NGX_OTP_OK)
    {
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

    ngx_http_otp_send_start(send);

    return NGX_DONE;
}


static void
ngx_http_otp_delivered(ngx_http_otp_send_t *send)
{
    ngx_int_t                rc;
    ngx_http_request_t      *r;
    ngx_http_otp_ctx_t      *ctx;
    ngx_http_otp_attempt_t  *a;

    r = send->data;
    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    ctx->send = NULL;

    if (send->rc == NGX_OK) {
        ngx_explicit_memzero(ctx->code, sizeof(ctx->code));

        ctx->message_id_len = ngx_min(send->message_id_len,
                                      sizeof(ctx->message_id));
        ngx_memcpy(ctx->message_id, send->message_id, ctx->message_id_len);

        if (ngx_http_otp_record(r, ctx) != NGX_DONE) {
            /* the code is on its way: a lost record costs the status only */
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "otp: message %*s could not be recorded",
                          ctx->message_id_len, ctx->message_id);

            ngx_http_otp_resume(r, ngx_http_otp_accepted(r, ctx));
        }

        return;
    }

    a = &ctx->chain[ctx->next++];
    a->error_len = ngx_min(send->error_len, sizeof(a->error));
    ngx_memcpy(a->error, send->error, a->error_len);

    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                  "otp provider \"%V\" failed to deliver to %*s via %s: %*s",
                  &a->provider->name, ctx->masked_len, ctx->masked,
                  ngx_otp_channel_name(a->channel),
                  a->error_len, a->error);

    rc = ngx_http_otp_deliver(r, ctx);

    if (rc != NGX_DONE) {
        ngx_http_otp_resume(r, rc);
    }
}


/* the message record that delivery reports and status lookups update */

static ngx_int_t
ngx_http_otp_record(ngx_http_request_t *r, ngx_http_otp_ctx_t *ctx)
{
    ngx_http_otp_store_op_t   *op;
    ngx_http_otp_attempt_t    *a;
    ngx_http_otp_loc_conf_t   *olcf;
    ngx_http_otp_main_conf_t  *omcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);
    omcf = ngx_http_get_module_main_conf(r, ngx_http_otp_module);

    a = &ctx->chain[ctx->next];

    op = ngx_http_otp_store_op_create(r->connection->log);
    if (op == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    op->type = NGX_HTTP_OTP_OP_MESSAGE_PUT;

    if (ngx_otp_key_phone(omcf->secret.data, omcf->secret.len, ctx->phone,
                          ctx->phone_len, op->phone_key)
        != NGX_OTP_OK)
    {
        ngx_free(op);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    op->message_id_len = ngx_min(ctx->message_id_len,
                                 sizeof(op->message_id));
    ngx_memcpy(op->message_id, ctx->message_id, op->message_id_len);
    op->provider_len = ngx_min(a->provider->name.len, sizeof(op->provider));
    ngx_memcpy(op->provider, a->provider->name.data, op->provider_len);
    op->channel = a->channel;
    op->message_ttl = olcf->message_ttl;
    op->handler = ngx_http_otp_recorded;
    op->data = r;

    ctx->op = op;

    ngx_http_otp_store_start(&omcf->store, op);

    return NGX_DONE;
}


static void
ngx_http_otp_recorded(ngx_http_otp_store_op_t *op)
{
    ngx_http_request_t  *r;
    ngx_http_otp_ctx_t  *ctx;

    r = op->data;
    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    ctx->op = NULL;

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

    len = sizeof("{\"error\":\"delivery_failed\",\"message\":\"No provider "
                 "could deliver the code.\",\"attempts\":[]}") - 1;

    for (i = 0; i < ctx->nchain; i++) {
        a = &ctx->chain[i];
        len += sizeof("{\"channel\":\"\",\"provider\":\"\",\"error\":\"\"},")
               - 1 + sizeof("whatsapp") - 1 + a->provider->name.len
               + a->error_len + ngx_escape_json(NULL, a->error, a->error_len);
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
                        "\"error\":\"", i ? "," : "",
                        ngx_otp_channel_name(a->channel),
                        &a->provider->name);
        p = (u_char *) ngx_escape_json(p, a->error, a->error_len);
        *p++ = '"';
        *p++ = '}';
    }

    *p++ = ']';
    *p++ = '}';

    return ngx_http_otp_json(r, NGX_HTTP_BAD_GATEWAY, body, p - body);
}


static void
ngx_http_otp_verify_done(ngx_http_otp_store_op_t *op)
{
    u_char              *body, *p;
    ngx_int_t            rc;
    ngx_http_request_t  *r;
    ngx_http_otp_ctx_t  *ctx;

    r = op->data;
    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    ctx->op = NULL;

    switch (op->status) {

    case NGX_HTTP_OTP_STORE_OK:
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "otp code verified for %*s",
                      ctx->masked_len, ctx->masked);
        rc = ngx_http_otp_verified(r, ctx);
        break;

    case NGX_HTTP_OTP_STORE_INVALID:
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "otp wrong code for %*s, %ui attempts left",
                      ctx->masked_len, ctx->masked, op->attempts_remaining);

        body = ngx_pnalloc(r->pool, 128 + NGX_INT_T_LEN);
        if (body == NULL) {
            rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
            break;
        }

        p = ngx_sprintf(body, "{\"error\":\"invalid_code\",\"message\":"
                        "\"The code is not correct.\","
                        "\"attempts_remaining\":%ui}",
                        op->attempts_remaining);

        rc = ngx_http_otp_json(r, NGX_HTTP_UNAUTHORIZED, body, p - body);
        break;

    case NGX_HTTP_OTP_STORE_EXPIRED:
        rc = ngx_http_otp_error(r, 410, "expired",
                                "No code is pending for this number: it "
                                "expired, was used, or was never sent.");
        break;

    case NGX_HTTP_OTP_STORE_EXHAUSTED:
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "otp attempts exhausted for %*s",
                      ctx->masked_len, ctx->masked);
        rc = ngx_http_otp_rate_limited(r, "too_many_attempts",
                                       "Too many wrong codes; this code no "
                                       "longer works.",
                                       op->retry_after);
        break;

    default:
        rc = ngx_http_otp_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                "store_unavailable",
                                "The verification store is unavailable; "
                                "try again shortly.");
        break;
    }

    ngx_http_otp_resume(r, rc);
}


static ngx_int_t
ngx_http_otp_verified(ngx_http_request_t *r, ngx_http_otp_ctx_t *ctx)
{
    u_char                    *body, *end, *p, *cookie;
    size_t                     len, jti_len;
    time_t                     now;
    ngx_str_t                  value;
    ngx_otp_jwt_key_t         *key;
    ngx_otp_jwt_claims_t       claims;
    ngx_http_otp_loc_conf_t   *olcf;
    ngx_http_otp_main_conf_t  *omcf;
    u_char                     jti[NGX_HTTP_OTP_ID_LEN];
    u_char                     token[NGX_OTP_JWT_MAX_LEN];

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);
    omcf = ngx_http_get_module_main_conf(r, ngx_http_otp_module);

    if (ngx_otp_random_id(jti, sizeof(jti), &jti_len, "") != NGX_OTP_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    now = ngx_time();
    key = omcf->token_keys.elts;

    ngx_memzero(&claims, sizeof(ngx_otp_jwt_claims_t));

    claims.sub = ctx->phone;
    claims.sub_len = ctx->phone_len;
    claims.jti = jti;
    claims.jti_len = jti_len;
    claims.iss = olcf->token_issuer.data;
    claims.iss_len = olcf->token_issuer.len;
    claims.aud = olcf->token_audience.data;
    claims.aud_len = olcf->token_audience.len;
    claims.kid = key[0].kid;
    claims.kid_len = key[0].kid_len;
    claims.iat = now;
    claims.exp = now + olcf->token_ttl;

    if (ngx_otp_jwt_issue(&claims, key[0].key, key[0].key_len, token,
                          sizeof(token), &len)
        != NGX_OTP_OK)
    {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "otp: token signing failed");
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* everything allocated first: a valid token never rides on a 500 */

    body = ngx_pnalloc(r->pool, sizeof("{\"verified\":true,\"token\":\"\"}")
                                + len);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    end = ngx_sprintf(body, "{\"verified\":true,\"token\":\"%*s\"}",
                      len, token);

    if (olcf->token_cookie.len) {
        cookie = ngx_pnalloc(r->pool, olcf->token_cookie.len + len
                             + sizeof("=; Path=/; Max-Age=; HttpOnly; "
                                      "SameSite=Lax; Secure") - 1
                             + NGX_TIME_T_LEN);
        if (cookie == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        p = ngx_sprintf(cookie, "%V=%*s; Path=/; Max-Age=%T; HttpOnly; "
                        "SameSite=Lax", &olcf->token_cookie, len, token,
                        olcf->token_ttl);
#if (NGX_HTTP_SSL)
        if (r->connection->ssl) {
            p = ngx_cpymem(p, "; Secure", sizeof("; Secure") - 1);
        }
#endif

        value.data = cookie;
        value.len = p - cookie;

        if (ngx_http_otp_add_header(r, "Set-Cookie", &value) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    return ngx_http_otp_json(r, NGX_HTTP_OK, body, end - body);
}


static ngx_int_t
ngx_http_otp_rate_limited(ngx_http_request_t *r, const char *error,
    const char *message, ngx_msec_t retry_after)
{
    u_char     *body, *p;
    time_t      sec;
    ngx_str_t   value;

    /* whole seconds, rounded up: a client that waits that long succeeds */
    sec = (time_t) ((retry_after + 999) / 1000);
    if (sec < 1) {
        sec = 1;
    }

    value.data = ngx_pnalloc(r->pool, NGX_TIME_T_LEN);
    if (value.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    value.len = ngx_sprintf(value.data, "%T", sec) - value.data;

    if (ngx_http_otp_add_header(r, "Retry-After", &value) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    body = ngx_pnalloc(r->pool, ngx_strlen(error) + ngx_strlen(message)
                                + 64 + NGX_TIME_T_LEN);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_sprintf(body, "{\"error\":\"%s\",\"message\":\"%s\","
                    "\"retry_after\":%T}", error, message, sec);

    return ngx_http_otp_json(r, NGX_HTTP_TOO_MANY_REQUESTS, body, p - body);
}


/* error and message are constants of this file: no escaping needed */

static ngx_int_t
ngx_http_otp_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *error, const char *message)
{
    u_char  *body, *p;

    body = ngx_pnalloc(r->pool, ngx_strlen(error) + ngx_strlen(message)
                                + sizeof("{\"error\":\"\",\"message\":\"\"}"));
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_sprintf(body, "{\"error\":\"%s\",\"message\":\"%s\"}",
                    error, message);

    return ngx_http_otp_json(r, status, body, p - body);
}


static ngx_int_t
ngx_http_otp_json(ngx_http_request_t *r, ngx_uint_t status, u_char *body,
    size_t len)
{
    ngx_int_t     rc;
    ngx_str_t     value;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    r->headers_out.status = status;
    r->headers_out.content_length_n = len + 1;
    ngx_str_set(&r->headers_out.content_type,
                "application/json; charset=utf-8");
    r->headers_out.content_type_len = sizeof("application/json") - 1;
    r->headers_out.content_type_lowcase = NULL;

    /* an answer about a code must never be cached by anyone */

    ngx_str_set(&value, "no-store");

    if (ngx_http_otp_add_header(r, "Cache-Control", &value) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->pos = body;
    b->last = body + len;
    b->memory = 1;

    out.buf = b;
    out.next = NULL;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    /* the trailing newline is for people reading curl output */

    b = ngx_create_temp_buf(r->pool, 1);
    if (b == NULL) {
        return NGX_ERROR;
    }

    *b->last++ = '\n';
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.next = ngx_alloc_chain_link(r->pool);
    if (out.next == NULL) {
        return NGX_ERROR;
    }

    out.next->buf = b;
    out.next->next = NULL;

    return ngx_http_output_filter(r, &out);
}


static ngx_int_t
ngx_http_otp_add_header(ngx_http_request_t *r, const char *key,
    ngx_str_t *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) key;
    h->key.len = ngx_strlen(key);
    h->value = *value;

    return NGX_OK;
}


static void
ngx_http_otp_resume(ngx_http_request_t *r, ngx_int_t rc)
{
    ngx_connection_t  *c;

    c = r->connection;

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


static void
ngx_http_otp_cleanup(void *data)
{
    ngx_http_otp_ctx_t *ctx = data;

    if (ctx->op) {
        ngx_http_otp_store_op_cancel(ctx->op);
        ctx->op = NULL;
    }

    if (ctx->send) {
        ngx_http_otp_send_cancel(ctx->send);
        ctx->send = NULL;
    }

    ngx_explicit_memzero(ctx->code, sizeof(ctx->code));

    if (ctx->text) {
        /* the message the code went out in */
        ngx_explicit_memzero(ctx->text, NGX_OTP_MESSAGE_MAX_LEN);
    }
}
