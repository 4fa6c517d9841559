
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * Keeps the API's error shape in OTP locations for the errors nginx
 * answers by itself, before or around the handlers: a body over
 * client_max_body_size (413), a body that stops arriving (408), a broken
 * request (400), an internal failure (500).  nginx would answer those with
 * an HTML page; a client of this API gets {"error", "message"} instead,
 * and a body too large is 400 invalid_request, as the handler answers it.
 *
 * A module of its own, of type HTTP_AUX_FILTER in `config`: statically
 * linked, that places it after the core filters, whose initialisation
 * would otherwise drop it from the chain.  It keeps its state in
 * ngx_http_otp_module's request context and reads that module's
 * configuration.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_otp_module.h"


typedef struct {
    ngx_uint_t                      from;
    ngx_uint_t                      status;
    ngx_str_t                       body;
    const char                     *result;       /* $otp_result */
} ngx_http_otp_filter_error_t;


static ngx_int_t ngx_http_otp_filter_init(ngx_conf_t *cf);
static ngx_int_t ngx_http_otp_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_otp_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);


static ngx_http_otp_filter_error_t  ngx_http_otp_filter_errors[] = {

    { NGX_HTTP_REQUEST_ENTITY_TOO_LARGE, NGX_HTTP_BAD_REQUEST,
      ngx_string("{\"error\":\"invalid_request\",\"message\":"
                 "\"The request body is too large.\"}\n"),
      "invalid_request" },

    { NGX_HTTP_REQUEST_TIME_OUT, NGX_HTTP_REQUEST_TIME_OUT,
      ngx_string("{\"error\":\"invalid_request\",\"message\":"
                 "\"The request did not arrive in time.\"}\n"),
      "invalid_request" },

    { NGX_HTTP_LENGTH_REQUIRED, NGX_HTTP_BAD_REQUEST,
      ngx_string("{\"error\":\"invalid_request\",\"message\":"
                 "\"The request body needs a length.\"}\n"),
      "invalid_request" },

    { NGX_HTTP_NOT_ALLOWED, NGX_HTTP_NOT_ALLOWED,
      ngx_string("{\"error\":\"method_not_allowed\",\"message\":"
                 "\"Use POST for this endpoint.\"}\n"),
      "method_not_allowed" },

    /* what other modules in the location may answer */

    { NGX_HTTP_UNAUTHORIZED, NGX_HTTP_UNAUTHORIZED,
      ngx_string("{\"error\":\"unauthorized\",\"message\":"
                 "\"Authentication is required.\"}\n"),
      "unauthorized" },

    { NGX_HTTP_FORBIDDEN, NGX_HTTP_FORBIDDEN,
      ngx_string("{\"error\":\"forbidden\",\"message\":"
                 "\"This request is not allowed.\"}\n"),
      "forbidden" },

    { NGX_HTTP_NOT_FOUND, NGX_HTTP_NOT_FOUND,
      ngx_string("{\"error\":\"not_found\",\"message\":"
                 "\"Nothing is here.\"}\n"),
      "not_found" },

    { NGX_HTTP_TOO_MANY_REQUESTS, NGX_HTTP_TOO_MANY_REQUESTS,
      ngx_string("{\"error\":\"rate_limited\",\"message\":"
                 "\"Too many requests; try again later.\"}\n"),
      "rate_limited" },

    { NGX_HTTP_SERVICE_UNAVAILABLE, NGX_HTTP_SERVICE_UNAVAILABLE,
      ngx_string("{\"error\":\"unavailable\",\"message\":"
                 "\"The service is unavailable; try again shortly.\"}\n"),
      "unavailable" },

    { 0, 0, ngx_null_string, NULL }
};


static ngx_str_t  ngx_http_otp_filter_bad_request =
    ngx_string("{\"error\":\"invalid_request\",\"message\":"
               "\"The request is malformed.\"}\n");

static ngx_str_t  ngx_http_otp_filter_internal =
    ngx_string("{\"error\":\"internal_error\",\"message\":"
               "\"The request could not be processed.\"}\n");


static ngx_http_module_t  ngx_http_otp_filter_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_otp_filter_init,              /* postconfiguration */

    NULL,                                  /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    NULL,                                  /* create location configuration */
    NULL                                   /* merge location configuration */
};


ngx_module_t  ngx_http_otp_filter_module = {
    NGX_MODULE_V1,
    &ngx_http_otp_filter_module_ctx,       /* module context */
    NULL,                                  /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


static ngx_int_t
ngx_http_otp_filter_init(ngx_conf_t *cf)
{
    ngx_http_otp_main_conf_t  *omcf;

    omcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_otp_module);

    if (!omcf->used) {
        /* no OTP location: every response passes untouched */
        return NGX_OK;
    }

    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_otp_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_otp_body_filter;

    return NGX_OK;
}


static ngx_int_t
ngx_http_otp_header_filter(ngx_http_request_t *r)
{
    ngx_uint_t                    status;
    ngx_str_t                    *body;
    const char                   *result;
    ngx_http_otp_ctx_t           *ctx;
    ngx_http_otp_loc_conf_t      *olcf;
    ngx_http_otp_filter_error_t  *e;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);

    status = r->headers_out.status;

    if (olcf->handler == 0
        || r != r->main
        || status < NGX_HTTP_BAD_REQUEST
        || (r->headers_out.content_type.len >= sizeof("application/json") - 1
            && ngx_strncmp(r->headers_out.content_type.data,
                           "application/json",
                           sizeof("application/json") - 1) == 0))
    {
        /* not an OTP location, or the handler's own answer */
        return ngx_http_next_header_filter(r);
    }

    if (status >= NGX_HTTP_INTERNAL_SERVER_ERROR) {
        body = &ngx_http_otp_filter_internal;
        result = "internal_error";

    } else {
        body = &ngx_http_otp_filter_bad_request;
        result = "invalid_request";
    }

    for (e = ngx_http_otp_filter_errors; e->from; e++) {
        if (e->from == status) {
            status = e->status;
            body = &e->body;
            result = e->result;
            break;
        }
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);

    if (ctx == NULL) {
        ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_otp_ctx_t));
        if (ctx == NULL) {
            return NGX_ERROR;
        }

        ngx_http_set_ctx(r, ctx, ngx_http_otp_module);
    }

    ctx->error_body = body;

    /* an error nginx answered (a body too large, a timeout, a 500): the
     * outcome of the request, for $otp_result and the metrics */
    ctx->result = result;

    r->headers_out.status = status;
    r->err_status = status;
    r->headers_out.status_line.len = 0;

    ngx_str_set(&r->headers_out.content_type,
                "application/json; charset=utf-8");
    r->headers_out.content_type_len = sizeof("application/json") - 1;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.charset.len = 0;

    ngx_http_clear_content_length(r);
    r->headers_out.content_length_n = body->len;

    return ngx_http_next_header_filter(r);
}


static ngx_int_t
ngx_http_otp_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_buf_t           *b;
    ngx_chain_t         *cl, out;
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);

    if (ctx == NULL || ctx->error_body == NULL) {
        return ngx_http_next_body_filter(r, in);
    }

    /* nginx's own page goes nowhere; ours goes once */

    for (cl = in; cl; cl = cl->next) {
        cl->buf->pos = cl->buf->last;
        cl->buf->file_pos = cl->buf->file_last;
    }

    if (ctx->error_sent) {
        /* the writer resumes a partly sent answer with a NULL chain */
        return ngx_http_next_body_filter(r, NULL);
    }

    ctx->error_sent = 1;

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->pos = ctx->error_body->data;
    b->last = ctx->error_body->data + ctx->error_body->len;
    b->memory = 1;
    b->last_buf = 1;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_next_body_filter(r, &out);
}
