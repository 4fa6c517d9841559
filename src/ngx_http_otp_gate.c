
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * The access gate (otp_gate): a location behind it passes only requests
 * that carry a valid, unexpired token from otp_verify, as
 * "Authorization: Bearer" or in the otp_token_cookie cookie.  The verified
 * phone is then in $otp_phone (the token's jti in $otp_token_id) and in
 * the otp_gate_header request header, whose client copies are removed
 * first, so that an upstream can trust it.  Without a valid token: 401
 * verification_required, or a 302 to otp_gate_login.
 *
 * An access-phase handler like ngx_http_auth_basic_module.c's, installed
 * at postconfiguration as ngx_http_otp_signature_conf.c installs its own.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_otp_module.h"
#include "ngx_http_otp_request.h"
#include "ngx_http_otp_gate.h"
#include "ngx_http_otp_vars.h"


static ngx_int_t ngx_http_otp_gate_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_otp_gate_token(ngx_http_request_t *r,
    ngx_http_otp_loc_conf_t *olcf, ngx_str_t *token);
static ngx_int_t ngx_http_otp_gate_pass(ngx_http_request_t *r,
    ngx_http_otp_loc_conf_t *olcf, ngx_str_t *token, u_char *phone,
    size_t phone_len);
static ngx_int_t ngx_http_otp_gate_deny(ngx_http_request_t *r,
    ngx_http_otp_loc_conf_t *olcf, ngx_uint_t invalid);
static ngx_int_t ngx_http_otp_gate_redirect(ngx_http_request_t *r,
    ngx_http_otp_loc_conf_t *olcf);
static ngx_int_t ngx_http_otp_gate_strip(ngx_http_request_t *r,
    ngx_str_t *name);
static ngx_uint_t ngx_http_otp_gate_header_is(ngx_table_elt_t *h,
    ngx_str_t *name);
static ngx_int_t ngx_http_otp_gate_jti_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_otp_gate_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


static ngx_http_variable_t  ngx_http_otp_gate_vars[] = {

    { ngx_string("otp_phone"), NULL, ngx_http_otp_gate_variable,
      offsetof(ngx_http_otp_ctx_t, gate_phone), NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("otp_token_id"), NULL, ngx_http_otp_gate_jti_variable,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


char *
ngx_http_otp_gate_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char                      *rv;
    ngx_http_otp_loc_conf_t   *olcf = conf;
    ngx_http_otp_main_conf_t  *omcf;

    rv = ngx_conf_set_flag_slot(cf, cmd, conf);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    if (olcf->gate) {
        /* the phase handler; which apps need keys is known at merge */
        omcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_otp_module);
        omcf->gate = 1;
    }

    return NGX_CONF_OK;
}


/*
 * otp_gate_login: a path on this site only.  An absolute URL or "//host"
 * would make the gate an open redirector's first half.
 */

char *
ngx_http_otp_gate_login(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_otp_loc_conf_t *olcf = conf;

    ngx_str_t   *value;
    ngx_uint_t   i;

    if (olcf->gate_login.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        ngx_str_set(&olcf->gate_login, "");
        return NGX_CONF_OK;
    }

    if (!ngx_http_otp_gate_local_path(value[1].data, value[1].len)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"otp_gate_login\" must be a path on this site, "
                           "such as \"/login\", not \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    for (i = 0; i < value[1].len; i++) {
        if (value[1].data[i] == '#') {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"otp_gate_login\" cannot have a fragment");
            return NGX_CONF_ERROR;
        }
    }

    olcf->gate_login = value[1];

    return NGX_CONF_OK;
}


/*
 * A path of this site: "/" and not "//" or "/\" (browsers read both as
 * "another host"), printable ASCII without spaces or backslashes.
 */

ngx_uint_t
ngx_http_otp_gate_local_path(u_char *p, size_t len)
{
    size_t  i;

    if (len == 0 || p[0] != '/') {
        return 0;
    }

    if (len > 1 && (p[1] == '/' || p[1] == '\\')) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (p[i] <= 0x20 || p[i] >= 0x7f || p[i] == '\\') {
            return 0;
        }
    }

    return 1;
}


char *
ngx_http_otp_gate_merge(ngx_conf_t *cf, ngx_http_otp_loc_conf_t *prev,
    ngx_http_otp_loc_conf_t *conf)
{
    u_char                    c;
    ngx_uint_t                i;
    ngx_http_otp_srv_conf_t  *oscf;

    ngx_conf_merge_value(conf->gate, prev->gate, 0);
    ngx_conf_merge_str_value(conf->gate_header, prev->gate_header,
                             "X-OTP-Phone");
    ngx_conf_merge_str_value(conf->gate_login, prev->gate_login, "");

    for (i = 0; i < conf->gate_header.len; i++) {
        c = conf->gate_header.data[i];

        if (!(c == '-' || c == '_' || (c >= '0' && c <= '9')
              || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid \"otp_gate_header\" name \"%V\"",
                               &conf->gate_header);
            return NGX_CONF_ERROR;
        }
    }

    if (conf->gate_header.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"otp_gate_header\" cannot be empty");
        return NGX_CONF_ERROR;
    }

    /*
     * A location the gate guards: its server's app needs token keys.  At
     * merge time, as the merged value is what a request sees: an "otp_gate
     * on" at http level asks nothing of a server that turns it off.
     * ngx_http_merge_servers() merged the server's srv_conf first, and
     * cf->ctx is the server's.
     */

    if (conf->gate && !conf->handler && !conf->logout) {
        oscf = ngx_http_conf_get_module_srv_conf(cf, ngx_http_otp_module);

        if (oscf->app) {
            oscf->app->gate = 1;
        }
    }

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_otp_gate_add_variables(ngx_conf_t *cf)
{
    return ngx_http_otp_add_variables(cf, ngx_http_otp_gate_vars);
}


ngx_int_t
ngx_http_otp_gate_postconf(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_otp_main_conf_t   *omcf;
    ngx_http_core_main_conf_t  *cmcf;

    omcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_otp_module);

    if (!omcf->gate) {
        return NGX_OK;
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_otp_gate_handler;

    return NGX_OK;
}


static ngx_int_t
ngx_http_otp_gate_handler(ngx_http_request_t *r)
{
    int                        rc;
    size_t                     phone_len;
    ngx_str_t                  token;
    const char                *reason;
    ngx_otp_jwt_key_t         *keys;
    ngx_http_otp_app_t        *app;
    ngx_http_otp_loc_conf_t   *olcf;
    u_char                     phone[NGX_OTP_PHONE_MAX_LEN];

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);

    /*
     * The module's own endpoints are never gated, even under a server-wide
     * "otp_gate on": a gated otp_verify would lock everyone out.
     */

    if (!olcf->gate || olcf->handler || olcf->logout) {
        return NGX_DECLINED;
    }

    /* what the client sent under the module's name is never passed on */

    if (ngx_http_otp_gate_strip(r, &olcf->gate_header) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_otp_gate_token(r, olcf, &token) != NGX_OK) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "otp gate: no token");
        return ngx_http_otp_gate_deny(r, olcf, 0);
    }

    app = ngx_http_otp_get_app(r);
    keys = app->token_keys.elts;

    rc = ngx_otp_jwt_verify(token.data, token.len, keys,
                            app->token_keys.nelts, (int64_t) ngx_time(), 0,
                            olcf->token_issuer.data, olcf->token_issuer.len,
                            olcf->token_audience.data,
                            olcf->token_audience.len, phone, sizeof(phone),
                            &phone_len);

    switch (rc) {

    case NGX_OTP_OK:
        return ngx_http_otp_gate_pass(r, olcf, &token, phone, phone_len);

    case NGX_OTP_ESIG:
        reason = "bad signature";
        break;

    case NGX_OTP_EEXPIRED:
        reason = "expired";
        break;

    case NGX_OTP_ECLAIM:
        reason = "unknown key, or iss, aud or nbf mismatch";
        break;

    case NGX_OTP_ETOOBIG:
        reason = "too long";
        break;

    case NGX_OTP_EINVAL:
        reason = "malformed";
        break;

    default:
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "otp gate: token keys unusable");
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "otp gate: token refused: %s", reason);

    return ngx_http_otp_gate_deny(r, olcf, 1);
}


/*
 * The token: "Authorization: Bearer" (RFC 6750 2.1) first, the cookie when
 * there is no bearer token.  NGX_DECLINED when there is neither.
 */

static ngx_int_t
ngx_http_otp_gate_token(ngx_http_request_t *r, ngx_http_otp_loc_conf_t *olcf,
    ngx_str_t *token)
{
    u_char           *p, *last;
    ngx_table_elt_t  *auth;

    auth = r->headers_in.authorization;

    if (auth && auth->value.len > sizeof("Bearer ") - 1
        && ngx_strncasecmp(auth->value.data, (u_char *) "Bearer ",
                           sizeof("Bearer ") - 1)
           == 0)
    {
        p = auth->value.data + sizeof("Bearer ") - 1;
        last = auth->value.data + auth->value.len;

        while (p < last && *p == ' ') {
            p++;
        }

        while (last > p && last[-1] == ' ') {
            last--;
        }

        if (p < last) {
            token->data = p;
            token->len = last - p;
            return NGX_OK;
        }
    }

    if (olcf->token_cookie.len == 0) {
        return NGX_DECLINED;
    }

#if (nginx_version >= 1023000)
    if (ngx_http_parse_multi_header_lines(r, r->headers_in.cookie,
                                          &olcf->token_cookie, token)
        == NULL)
    {
        return NGX_DECLINED;
    }
#else
    if (ngx_http_parse_multi_header_lines(&r->headers_in.cookies,
                                          &olcf->token_cookie, token)
        == NGX_DECLINED)
    {
        return NGX_DECLINED;
    }
#endif

    return token->len ? NGX_OK : NGX_DECLINED;
}


static ngx_int_t
ngx_http_otp_gate_pass(ngx_http_request_t *r, ngx_http_otp_loc_conf_t *olcf,
    ngx_str_t *token, u_char *phone, size_t phone_len)
{
    size_t               masked_len;
    ngx_table_elt_t     *h;
    ngx_http_otp_ctx_t  *ctx;
    u_char               masked[NGX_OTP_PHONE_MAX_LEN];

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);

    if (ctx == NULL) {
        ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_otp_ctx_t));
        if (ctx == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ctx->request = r;

        ngx_http_set_ctx(r, ctx, ngx_http_otp_module);
    }

    ctx->gate_phone.data = ngx_pnalloc(r->pool, phone_len);
    if (ctx->gate_phone.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(ctx->gate_phone.data, phone, phone_len);
    ctx->gate_phone.len = phone_len;

    /* the header's or cookie's value, which lives as long as the request:
     * its jti is read only if $otp_token_id is used */
    ctx->gate_token = *token;

    /* as ngx_http_otp_webhook_message.c adds X-OTP-From */

    h = ngx_list_push(&r->headers_in.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->key = olcf->gate_header;
    h->value = ctx->gate_phone;
    h->hash = 1;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    h->lowcase_key = ngx_pnalloc(r->pool, h->key.len);
    if (h->lowcase_key == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_strlow(h->lowcase_key, h->key.data, h->key.len);

    masked_len = ngx_otp_phone_mask(phone, phone_len, masked);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "otp gate: passed %*s", masked_len, masked);

    (void) masked_len;

    return NGX_OK;
}


/*
 * 401, or the login page for what a browser navigates to (GET, HEAD); a
 * POST or an API call is told 401, which a script can act on.  The answer
 * is sent here, as ngx_http_otp_signature_deny() sends its own, so that
 * it is JSON rather than nginx's error page.
 */

static ngx_int_t
ngx_http_otp_gate_deny(ngx_http_request_t *r, ngx_http_otp_loc_conf_t *olcf,
    ngx_uint_t invalid)
{
    ngx_int_t  rc;
    ngx_str_t  value;

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    if (olcf->gate_login.len
        && (r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD)))
    {
        return ngx_http_otp_gate_redirect(r, olcf);
    }

    /* RFC 6750 3: invalid_token when one was given */

    if (invalid) {
        ngx_str_set(&value, "Bearer error=\"invalid_token\"");

    } else {
        ngx_str_set(&value, "Bearer");
    }

    if (ngx_http_otp_add_header(r, "WWW-Authenticate", &value) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_otp_error(r, NGX_HTTP_UNAUTHORIZED,
                            "verification_required",
                            invalid ? "The verification token is invalid or "
                                      "has expired; verify the phone again."
                                    : "Verify a phone number first.");

    ngx_http_finalize_request(r, rc);

    return NGX_DONE;
}


/*
 * 302 to the login path with next= the request's own URI, escaped as one
 * query component: a path of this site by construction, never a host the
 * client named.
 */

static ngx_int_t
ngx_http_otp_gate_redirect(ngx_http_request_t *r,
    ngx_http_otp_loc_conf_t *olcf)
{
    u_char           *p;
    size_t            len;
    ngx_str_t         value;
    ngx_uint_t        n;
    ngx_table_elt_t  *h;

    n = ngx_escape_uri(NULL, r->unparsed_uri.data, r->unparsed_uri.len,
                       NGX_ESCAPE_URI_COMPONENT);

    len = olcf->gate_login.len + sizeof("?next=") - 1
          + r->unparsed_uri.len + 2 * n;

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->value.data = p;

    p = ngx_cpymem(p, olcf->gate_login.data, olcf->gate_login.len);
    *p++ = ngx_strlchr(olcf->gate_login.data,
                       olcf->gate_login.data + olcf->gate_login.len, '?')
           ? '&' : '?';
    p = ngx_cpymem(p, "next=", sizeof("next=") - 1);
    p = (u_char *) ngx_escape_uri(p, r->unparsed_uri.data,
                                  r->unparsed_uri.len,
                                  NGX_ESCAPE_URI_COMPONENT);

    h->value.len = p - h->value.data;
    h->hash = 1;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif
    ngx_str_set(&h->key, "Location");

    ngx_http_clear_location(r);
    r->headers_out.location = h;

    ngx_str_set(&value, "no-store");

    if (ngx_http_otp_add_header(r, "Cache-Control", &value) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_HTTP_MOVED_TEMPORARILY;
}


/* removes every request header of that name (as the webhook strip does) */

static ngx_int_t
ngx_http_otp_gate_strip(ngx_http_request_t *r, ngx_str_t *name)
{
    ngx_uint_t        i, found;
    ngx_list_t        old;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h, *nh;

    found = 0;

    for (part = &r->headers_in.headers.part; part; part = part->next) {
        h = part->elts;

        for (i = 0; i < part->nelts; i++) {
            found |= ngx_http_otp_gate_header_is(&h[i], name);
        }
    }

    if (!found) {
        return NGX_OK;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "otp gate: a client's \"%V\" removed", name);

    /* a list cannot lose an element: it is made again, in place */

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
            if (ngx_http_otp_gate_header_is(&h[i], name)) {
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
 * The name in any case, '_' taken for '-': with underscores_in_headers on,
 * "X_OTP_Phone" reaches a FastCGI application as the same HTTP_X_OTP_PHONE
 */

static ngx_uint_t
ngx_http_otp_gate_header_is(ngx_table_elt_t *h, ngx_str_t *name)
{
    u_char      c, n;
    ngx_uint_t  i;

    if (h->key.len != name->len) {
        return 0;
    }

    for (i = 0; i < name->len; i++) {
        c = ngx_tolower(h->key.data[i]);
        n = ngx_tolower(name->data[i]);

        if (c == '_') {
            c = '-';
        }

        if (n == '_') {
            n = '-';
        }

        if (c != n) {
            return 0;
        }
    }

    return 1;
}


static ngx_int_t
ngx_http_otp_gate_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t           *s;
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);

    if (ctx == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    s = (ngx_str_t *) ((u_char *) ctx + data);

    if (s->len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->len = s->len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->data = s->data;

    return NGX_OK;
}


/*
 * $otp_token_id: the jti of the token the gate accepted, read from it on
 * first use (the claims are not parsed a second time for every gated
 * request); a token without a jti is still valid, and the variable is then
 * not found
 */

static ngx_int_t
ngx_http_otp_gate_jti_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char              *jti;
    size_t               len;
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);

    if (ctx == NULL || ctx->gate_token.len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    jti = ngx_pnalloc(r->pool, NGX_HTTP_OTP_ID_LEN);
    if (jti == NULL) {
        return NGX_ERROR;
    }

    if (ngx_otp_jwt_claim(ctx->gate_token.data, ctx->gate_token.len, "jti",
                          jti, NGX_HTTP_OTP_ID_LEN, &len)
        != NGX_OTP_OK
        || len == 0)
    {
        v->not_found = 1;
        return NGX_OK;
    }

    v->len = len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->data = jti;

    return NGX_OK;
}
