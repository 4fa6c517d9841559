
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * otp_logout: clears the token cookie that otp_verify set (same name,
 * Path and attributes, Max-Age=0), then answers 200 {"logged_out":true},
 * or 302 to ?next= when that is a path of this site.  A token is
 * stateless: one a client kept elsewhere stays valid until its exp, which
 * otp_token_ttl keeps short.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_otp_module.h"
#include "ngx_http_otp_directives.h"
#include "ngx_http_otp_request.h"
#include "ngx_http_otp_gate.h"


static ngx_int_t ngx_http_otp_logout_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_otp_logout_next(ngx_http_request_t *r,
    ngx_str_t *next);


char *
ngx_http_otp_logout_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_otp_loc_conf_t *olcf = conf;

    char  *rv;

    if (olcf->logout || olcf->handler) {
        return "is duplicate";
    }

    olcf->logout = 1;

    rv = ngx_http_otp_content_handler(cf, ngx_http_otp_logout_handler);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_otp_logout_handler(ngx_http_request_t *r)
{
    u_char                   *cookie, *p;
    ngx_int_t                 rc;
    ngx_str_t                 value, next;
    ngx_table_elt_t          *h;
    ngx_http_otp_loc_conf_t  *olcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD|NGX_HTTP_POST))) {
        return ngx_http_otp_not_allowed(r, "GET, HEAD, POST",
                                        "Use POST or GET for this "
                                        "endpoint.");
    }

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);

    if (olcf->token_cookie.len) {
        cookie = ngx_pnalloc(r->pool, olcf->token_cookie.len
                             + sizeof("=; Path=/; Max-Age=0; HttpOnly; "
                                      "SameSite=Lax; Secure") - 1);
        if (cookie == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        /* the attributes verify gave it: a cookie is replaced by name,
         * path and domain, and a browser wants Secure kept */

        p = ngx_sprintf(cookie, "%V=; Path=/; Max-Age=0; HttpOnly; "
                        "SameSite=Lax", &olcf->token_cookie);

        if (ngx_http_otp_cookie_secure(r, olcf)) {
            p = ngx_cpymem(p, "; Secure", sizeof("; Secure") - 1);
        }

        value.data = cookie;
        value.len = p - cookie;

        if (ngx_http_otp_add_header(r, "Set-Cookie", &value) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "otp logout");

    if (ngx_http_otp_logout_next(r, &next) == NGX_OK) {
        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        h->hash = 1;
#if (nginx_version >= 1023000)
        h->next = NULL;
#endif
        ngx_str_set(&h->key, "Location");
        h->value = next;

        ngx_http_clear_location(r);
        r->headers_out.location = h;

        ngx_str_set(&value, "no-store");

        if (ngx_http_otp_add_header(r, "Cache-Control", &value) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return NGX_HTTP_MOVED_TEMPORARILY;
    }

    return ngx_http_otp_json(r, NGX_HTTP_OK, (u_char *) "{\"logged_out\":true}",
                             sizeof("{\"logged_out\":true}") - 1);
}


/*
 * ?next=, unescaped: only a path of this site, so that a link to logout
 * cannot send a user to another host (no "//host", "/\host", "https:")
 */

static ngx_int_t
ngx_http_otp_logout_next(ngx_http_request_t *r, ngx_str_t *next)
{
    u_char     *dst, *src;
    ngx_str_t   arg;

    if (ngx_http_arg(r, (u_char *) "next", 4, &arg) != NGX_OK
        || arg.len == 0)
    {
        return NGX_DECLINED;
    }

    dst = ngx_pnalloc(r->pool, arg.len);
    if (dst == NULL) {
        return NGX_ERROR;
    }

    next->data = dst;
    src = arg.data;

    ngx_unescape_uri(&dst, &src, arg.len, 0);

    next->len = dst - next->data;

    if (!ngx_http_otp_gate_local_path(next->data, next->len)) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "otp logout: \"next\" is not a path of this site, "
                      "ignored");
        return NGX_DECLINED;
    }

    return NGX_OK;
}
