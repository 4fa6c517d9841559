
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * POST /otp/verify: the atomic check in the store and, on success, the
 * token (a JWT) and its cookie.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_otp_module.h"
#include "ngx_http_otp_vars.h"
#include "ngx_http_otp_request.h"


static void ngx_http_otp_verify_done(ngx_http_otp_store_op_t *op);
static ngx_int_t ngx_http_otp_verified(ngx_http_request_t *r,
    ngx_http_otp_ctx_t *ctx);


ngx_int_t
ngx_http_otp_verify_request(ngx_http_request_t *r, ngx_http_otp_ctx_t *ctx)
{
    ngx_int_t                 rc;
    ngx_otp_field_t           fields[2];
    ngx_http_otp_err_t       *err;
    ngx_http_otp_store_op_t  *op;
    u_char                    phone[NGX_HTTP_OTP_FIELD_MAX];
    u_char                    code[NGX_HTTP_OTP_FIELD_MAX];

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

    op = ngx_http_otp_op_create(r, NGX_HTTP_OTP_OP_VERIFY,
                                ngx_http_otp_verify_done);
    if (op == NULL) {
        ngx_explicit_memzero(ctx->code, sizeof(ctx->code));
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_otp_op_keys(r, ctx, op, 1);

    /* a guess is not needed once hashed */
    ngx_explicit_memzero(ctx->code, sizeof(ctx->code));

    if (rc != NGX_OK) {
        ngx_free(op);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_otp_op_start(r, ctx, op);
}


static void
ngx_http_otp_verify_done(ngx_http_otp_store_op_t *op)
{
    u_char              *body, *p;
    ngx_int_t            rc;
    ngx_http_request_t  *r;
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_otp_op_done(op);
    r = ctx->request;

    switch (op->status) {

    case NGX_HTTP_OTP_STORE_OK:
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "otp code verified for %*s",
                      ctx->masked_len, ctx->masked);
        ngx_http_otp_outcome(r, "verified");
        rc = ngx_http_otp_verified(r, ctx);
        break;

    case NGX_HTTP_OTP_STORE_INVALID:
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "otp wrong code for %*s, %ui attempts left",
                      ctx->masked_len, ctx->masked, op->attempts_remaining);

        ngx_http_otp_outcome(r, "invalid_code");
        ctx->attempts_remaining = op->attempts_remaining;
        ctx->has_attempts = 1;

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
        ctx->attempts_remaining = 0;
        ctx->has_attempts = 1;
        rc = ngx_http_otp_rate_limited(r, "too_many_attempts",
                                       "Too many wrong codes; this code no "
                                       "longer works.",
                                       op->retry_after);
        break;

    default:
        rc = ngx_http_otp_store_unavailable(r);
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
    ngx_http_otp_app_t        *app;
    ngx_http_otp_loc_conf_t   *olcf;
    u_char                     jti[NGX_HTTP_OTP_ID_LEN];
    u_char                     token[NGX_OTP_JWT_MAX_LEN];

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);
    app = ngx_http_otp_get_app(r);

    if (ngx_otp_random_id(jti, sizeof(jti), &jti_len, "") != NGX_OTP_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    now = ngx_time();
    key = app->token_keys.elts;

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
        if (ngx_http_otp_cookie_secure(r, olcf)) {
            p = ngx_cpymem(p, "; Secure", sizeof("; Secure") - 1);
        }

        value.data = cookie;
        value.len = p - cookie;

        if (ngx_http_otp_add_header(r, "Set-Cookie", &value) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    return ngx_http_otp_json(r, NGX_HTTP_OK, body, end - body);
}


/*
 * Behind a proxy that terminates TLS the connection nginx sees is plain,
 * yet the browser's is not: "secure=on" says so.  "auto" trusts what nginx
 * sees.
 */

ngx_uint_t
ngx_http_otp_cookie_secure(ngx_http_request_t *r,
    ngx_http_otp_loc_conf_t *olcf)
{
    switch (olcf->token_cookie_secure) {

    case NGX_HTTP_OTP_COOKIE_SECURE_ON:
        return 1;

    case NGX_HTTP_OTP_COOKIE_SECURE_OFF:
        return 0;

    default:
#if (NGX_HTTP_SSL)
        return r->connection->ssl ? 1 : 0;
#else
        return 0;
#endif
    }
}
