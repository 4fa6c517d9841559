
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * The entry of every OTP endpoint: reads the request body, parses and
 * validates its fields with the pure core, starts store operations on the
 * request's behalf and resumes the request when they answer.  A client that
 * goes away while an operation is pending cancels it.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_otp_module.h"
#include "ngx_http_otp_request.h"


static void ngx_http_otp_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_otp_body_type(ngx_http_request_t *r);


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
    ngx_pool_cleanup_t       *cln;
    ngx_http_otp_ctx_t       *ctx;
    ngx_http_otp_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);

    if (olcf->handler == NGX_HTTP_OTP_HANDLER_STATUS) {
        return ngx_http_otp_status_handler(r);
    }

    if (r->method != NGX_HTTP_POST) {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_http_otp_not_allowed(r, "POST",
                                        "Use POST for this endpoint.");
    }

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
         * pending (a provider call included).  As ngx_http_limit_req_module.c
         * and ngx_http_upstream.c do: an event that is ready already (the
         * client's FIN came with its body, and an edge-triggered epoll
         * reports it no more) is posted so that the test runs now, and
         * otherwise the read event is armed for it.
         */
        r->read_event_handler = ngx_http_test_reading;

        if (r->connection->read->ready) {
            ngx_post_event(r->connection->read, &ngx_posted_events);

        } else if (ngx_handle_read_event(r->connection->read, 0) != NGX_OK) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        }

        return;
    }

    ngx_http_finalize_request(r, rc);
}


/*
 * Reads the body and the wanted fields, and normalises the phone (always
 * the first field).  Returns NGX_OK; NGX_DECLINED with *err describing a
 * bad input; or NGX_ERROR.
 */

ngx_int_t
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

    rc = ngx_http_otp_read_body(r, &body, olcf->body_limit);

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
 * A body nginx wrote to a temporary file (client_body_buffer_size smaller
 * than the body) is read back: it is small, the limit is checked first.
 */

ngx_int_t
ngx_http_otp_read_body(ngx_http_request_t *r, ngx_str_t *body, size_t limit)
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
            /* an HTTP/2 body without a length may end in an empty buffer
             * with no memory at all (pos NULL) */
            if (b->last != b->pos) {
                p = ngx_cpymem(p, b->pos, b->last - b->pos);
            }

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


ngx_http_otp_store_op_t *
ngx_http_otp_op_create(ngx_http_request_t *r, ngx_http_otp_op_type_e type,
    ngx_http_otp_store_handler_pt handler)
{
    ngx_http_otp_store_op_t  *op;

    op = ngx_http_otp_store_op_create(r->connection->log);
    if (op == NULL) {
        return NULL;
    }

    op->type = type;
    op->handler = handler;
    op->data = r;

    return op;
}


/* the phone's key and, with code, the code's (the code sent or a guess) */

ngx_int_t
ngx_http_otp_op_keys(ngx_http_request_t *r, ngx_http_otp_ctx_t *ctx,
    ngx_http_otp_store_op_t *op, ngx_uint_t code)
{
    ngx_http_otp_app_t  *app;

    app = ngx_http_otp_get_app(r);

    if (ngx_otp_key_phone(app->secret.data, app->secret.len, ctx->phone,
                          ctx->phone_len, op->phone_key)
        != NGX_OTP_OK)
    {
        return NGX_ERROR;
    }

    /* $otp_phone_hmac: the number's key, to join its events */
    ngx_memcpy(ctx->phone_key, op->phone_key, NGX_OTP_HASH_LEN);
    ctx->has_phone_key = 1;

    if (!code) {
        return NGX_OK;
    }

    if (ngx_otp_key_code(app->secret.data, app->secret.len, ctx->phone,
                         ctx->phone_len, ctx->code, ctx->code_len,
                         op->code_key)
        != NGX_OTP_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_otp_op_start(ngx_http_request_t *r, ngx_http_otp_ctx_t *ctx,
    ngx_http_otp_store_op_t *op)
{
    ngx_http_otp_main_conf_t  *omcf;

    omcf = ngx_http_get_module_main_conf(r, ngx_http_otp_module);

    ctx->op = op;

    ngx_http_otp_store_start(&omcf->store, op);

    return NGX_DONE;
}


/*
 * The store answers from its own event (the shm completion event, the
 * Redis connection's read event or a timer): the request's log context is
 * set again, as ngx_http_upstream.c does in its handlers, so that what is
 * logged from here on names the client and the request.
 */

ngx_http_otp_ctx_t *
ngx_http_otp_op_done(ngx_http_otp_store_op_t *op)
{
    ngx_http_request_t  *r;
    ngx_http_otp_ctx_t  *ctx;

    r = op->data;

    ngx_http_set_log_request(r->connection->log, r);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "otp store op %d done: %p, status %d",
                   (int) op->type, op, (int) op->status);

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    ctx->op = NULL;

    return ctx;
}


void
ngx_http_otp_resume(ngx_http_request_t *r, ngx_int_t rc)
{
    ngx_connection_t  *c;

    c = r->connection;

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


void
ngx_http_otp_cleanup(void *data)
{
    ngx_http_otp_ctx_t *ctx = data;

    if (ctx->op || ctx->send) {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ctx->request->connection->log, 0,
                       "otp request gone: cancel op %p, send %p",
                       ctx->op, ctx->send);
    }

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
