
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * The JSON answers of API.md: the body, the content type, no caching, and
 * the Retry-After of a rate limit.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_otp_module.h"
#include "ngx_http_otp_request.h"
#include "ngx_http_otp_vars.h"


ngx_int_t
ngx_http_otp_rate_limited(ngx_http_request_t *r, const char *error,
    const char *message, ngx_msec_t retry_after)
{
    u_char     *body, *p;
    time_t      sec;
    ngx_str_t   value;

    ngx_http_otp_outcome(r, error);

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


/* a 405 names the methods that would do, in Allow (RFC 9110, 15.5.6) */

ngx_int_t
ngx_http_otp_not_allowed(ngx_http_request_t *r, const char *allow,
    const char *message)
{
    ngx_str_t  value;

    value.data = (u_char *) allow;
    value.len = ngx_strlen(allow);

    if (ngx_http_otp_add_header(r, "Allow", &value) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_otp_error(r, NGX_HTTP_NOT_ALLOWED, "method_not_allowed",
                              message);
}


ngx_int_t
ngx_http_otp_store_unavailable(ngx_http_request_t *r)
{
    return ngx_http_otp_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                              "store_unavailable",
                              "The verification store is unavailable; "
                              "try again shortly.");
}


/* error and message are constants: no escaping needed */

ngx_int_t
ngx_http_otp_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *error, const char *message)
{
    u_char                   *body, *p;
    ngx_http_otp_loc_conf_t  *olcf;

    /* the API's error code is the outcome; a status lookup is a read */

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);

    if (olcf->handler != NGX_HTTP_OTP_HANDLER_STATUS) {
        ngx_http_otp_outcome(r, error);
    }

    body = ngx_pnalloc(r->pool, ngx_strlen(error) + ngx_strlen(message)
                                + sizeof("{\"error\":\"\",\"message\":\"\"}"));
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_sprintf(body, "{\"error\":\"%s\",\"message\":\"%s\"}",
                    error, message);

    return ngx_http_otp_json(r, status, body, p - body);
}


ngx_int_t
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


ngx_int_t
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
#if (nginx_version >= 1023000)
    /* since 1.23.0 headers of one name are linked, and readers of the list
     * (variables, HTTP/2 and HTTP/3 output) follow next */
    h->next = NULL;
#endif

    return NGX_OK;
}
