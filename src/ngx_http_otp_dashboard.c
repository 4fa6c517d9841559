
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * otp_dashboard: the analytics page.  The page (src/dashboard/
 * dashboard.html) is compiled in (ngx_http_otp_dashboard_html.h, written
 * by scripts/embed-dashboard), so it needs no files, no root and nothing
 * from outside: its script and style are inline, allowed by a strict
 * Content-Security-Policy that names them by their SHA-256 and lets the
 * page talk to its own origin only, where it fetches the analytics JSON.
 *
 * The only part of the page that varies is the analytics URI, written
 * HTML-escaped into a <meta> between the two halves, outside the script
 * and style whose hashes the policy carries.  The answer is three buffers
 * pointing into the module's read-only memory and the configuration: no
 * copy per request.
 *
 * Like otp_metrics, the page is the operator's to protect (allow, deny,
 * auth_basic): no otp_gate inherited from the server applies to it.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_otp_module.h"
#include "ngx_http_otp_directives.h"
#include "ngx_http_otp_request.h"
#include "ngx_http_otp_dashboard.h"
#include "ngx_http_otp_dashboard_html.h"


struct ngx_http_otp_dashboard_s {
    ngx_str_t                       uri;          /* HTML-escaped */
    ngx_str_t                       etag;
};


typedef struct {
    ngx_str_t                       key;
    ngx_str_t                       value;
} ngx_http_otp_dashboard_header_t;


static ngx_int_t ngx_http_otp_dashboard_handler(ngx_http_request_t *r);


/* besides the Content-Security-Policy */

static ngx_http_otp_dashboard_header_t  ngx_http_otp_dashboard_headers[] = {
    { ngx_string("X-Content-Type-Options"), ngx_string("nosniff") },
    /* frame-ancestors, for browsers that know only this */
    { ngx_string("X-Frame-Options"), ngx_string("DENY") },
    { ngx_string("Referrer-Policy"), ngx_string("no-referrer") },
    /* revalidated each time (the ETag makes that a 304), so that a new
     * module's page is seen at once */
    { ngx_string("Cache-Control"), ngx_string("no-cache") },
    { ngx_null_string, ngx_null_string }
};


/*
 * The default: "analytics", relative to the page, as a link is: a page at
 * /otp/dashboard fetches /otp/analytics, next to it, and a reverse proxy
 * that mounts the whole /otp/ elsewhere keeps the two together.
 */

static ngx_str_t  ngx_http_otp_dashboard_default = ngx_string("analytics");


char *
ngx_http_otp_dashboard_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_otp_loc_conf_t *olcf = conf;

    char                      *rv;
    u_char                    *p;
    size_t                     len;
    uint32_t                   crc;
    ngx_str_t                 *value, uri;
    ngx_uint_t                 i;
    ngx_http_otp_dashboard_t  *d;

    if (olcf->dashboard || olcf->handler || olcf->logout) {
        return "is duplicate";
    }

    value = cf->args->elts;
    uri = (cf->args->nelts > 1) ? value[1] : ngx_http_otp_dashboard_default;

    if (uri.len == 0) {
        return "takes a non-empty URI";
    }

    for (i = 0; i < uri.len; i++) {
        if (uri.data[i] <= 0x20 || uri.data[i] == 0x7f) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid URI \"%V\" in \"otp_dashboard\": "
                               "no space or control character", &uri);
            return NGX_CONF_ERROR;
        }
    }

    d = ngx_pcalloc(cf->pool, sizeof(ngx_http_otp_dashboard_t));
    if (d == NULL) {
        return NGX_CONF_ERROR;
    }

    /* an attribute value in double quotes: <, >, &, " escaped */

    len = uri.len + ngx_escape_html(NULL, uri.data, uri.len);

    d->uri.data = ngx_pnalloc(cf->pool, len);
    if (d->uri.data == NULL) {
        return NGX_CONF_ERROR;
    }

    d->uri.len = (u_char *) ngx_escape_html(d->uri.data, uri.data, uri.len)
                 - d->uri.data;

    /* the page's version and the URI it fetches: another page, another
     * ETag */

    ngx_crc32_init(crc);
    ngx_crc32_update(&crc, uri.data, uri.len);
    ngx_crc32_final(crc);

    d->etag.data = ngx_pnalloc(cf->pool, ngx_http_otp_dashboard_version.len
                                         + sizeof("\"-12345678\""));
    if (d->etag.data == NULL) {
        return NGX_CONF_ERROR;
    }

    p = ngx_sprintf(d->etag.data, "\"%V-%08xD\"",
                    &ngx_http_otp_dashboard_version, crc);
    d->etag.len = p - d->etag.data;

    /* another content handler here (otp_metrics, proxy_pass, ...) */

    rv = ngx_http_otp_content_handler(cf, ngx_http_otp_dashboard_handler);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    olcf->dashboard = d;

    if (olcf->gate == NGX_CONF_UNSET) {
        olcf->gate = 0;
    }

    return NGX_CONF_OK;
}


/*
 * An "if" block in the location runs its content handler with the block's
 * configuration, which must know the page; a "limit_except" block's
 * configuration replaces the location's for the methods it does not
 * except, and it needs the handler set in it too, or those methods would
 * reach the static module (as ngx_http_proxy_merge_loc_conf() does for
 * proxy_pass).  A real nested location inherits neither.
 */

void
ngx_http_otp_dashboard_merge(ngx_conf_t *cf, ngx_http_otp_loc_conf_t *prev,
    ngx_http_otp_loc_conf_t *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (conf->dashboard || prev->dashboard == NULL
        || !(clcf->noname || clcf->lmt_excpt))
    {
        return;
    }

    conf->dashboard = prev->dashboard;

    if (clcf->lmt_excpt && clcf->handler == NULL) {
        clcf->handler = ngx_http_otp_dashboard_handler;
    }
}


static ngx_int_t
ngx_http_otp_dashboard_handler(ngx_http_request_t *r)
{
    ngx_int_t                         rc;
    ngx_str_t                         value;
    ngx_buf_t                        *b;
    ngx_uint_t                        i;
    ngx_chain_t                       out[3];
    ngx_table_elt_t                  *h;
    ngx_http_otp_dashboard_t         *d;
    ngx_http_otp_loc_conf_t          *olcf;
    ngx_http_otp_dashboard_header_t  *hd;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return ngx_http_otp_not_allowed(r, "GET, HEAD",
                                        "Use GET for this page.");
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);
    d = olcf->dashboard;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "otp dashboard, analytics at \"%V\"", &d->uri);

    /* the page names its one script and style by hash: nothing else
     * runs, and it talks to its own origin only */

    if (ngx_http_otp_add_header(r, "Content-Security-Policy",
                                &ngx_http_otp_dashboard_csp)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    for (hd = ngx_http_otp_dashboard_headers; hd->key.len; hd++) {
        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        h->hash = 1;
#if (nginx_version >= 1023000)
        h->next = NULL;
#endif
        h->key = hd->key;
        h->value = hd->value;
    }

    /* the not-modified filter answers 304 to a matching If-None-Match
     * (ngx_http_not_modified_filter_module.c), as for a static file */

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif
    ngx_str_set(&h->key, "ETag");
    h->value = d->etag;
    r->headers_out.etag = h;

    ngx_str_set(&r->headers_out.content_type, "text/html; charset=utf-8");
    r->headers_out.content_type_len = sizeof("text/html") - 1;
    r->headers_out.content_type_lowcase = NULL;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = ngx_http_otp_dashboard_head.len
                                      + d->uri.len
                                      + ngx_http_otp_dashboard_tail.len;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    for (i = 0; i < 3; i++) {
        b = ngx_calloc_buf(r->pool);
        if (b == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        value = (i == 0) ? ngx_http_otp_dashboard_head
                : (i == 1) ? d->uri : ngx_http_otp_dashboard_tail;

        b->pos = value.data;
        b->last = value.data + value.len;
        b->memory = 1;

        out[i].buf = b;
        out[i].next = (i < 2) ? &out[i + 1] : NULL;
    }

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    return ngx_http_output_filter(r, &out[0]);
}
