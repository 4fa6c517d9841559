
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * GET /otp/status/{message_id}[?wait=N]: a message's delivery status
 * (API.md, "Delivery status").  With wait, a status that is not terminal
 * is waited for, up to N seconds, in the worker's waiter registry
 * (ngx_http_otp_wait.c): the request holds no store round trip while it
 * waits, only a timer and a queue link.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_otp_module.h"
#include "ngx_http_otp_app.h"
#include "ngx_http_otp_request.h"
#include "ngx_http_otp_wait.h"


#define NGX_HTTP_OTP_STATUS_WAIT_MAX    30      /* seconds, API.md */

/* the longest error code put as a JSON number: exact in a double */
#define NGX_HTTP_OTP_STATUS_NUMBER_MAX  15


typedef struct {
    ngx_http_request_t             *request;
    ngx_http_otp_store_op_t        *op;           /* a plain read */
    ngx_http_otp_waiter_t           waiter;
    ngx_event_t                     timer;
    ngx_msec_t                      wait;
    u_char                         *id;           /* the provider's */
    size_t                          id_len;
    u_char                          key[NGX_HTTP_OTP_MESSAGE_ID_MAX];
    size_t                          key_len;      /* the store's, the app's
                                                     (ngx_http_otp_app.c) */
    unsigned                        waiting:1;    /* the timer runs */
} ngx_http_otp_status_ctx_t;


static ngx_int_t ngx_http_otp_status_id(ngx_http_request_t *r,
    ngx_str_t *id);
static ngx_int_t ngx_http_otp_status_wait_arg(ngx_http_request_t *r,
    ngx_msec_t *wait);
static ngx_int_t ngx_http_otp_status_read(ngx_http_otp_status_ctx_t *ctx);
static void ngx_http_otp_status_read_done(ngx_http_otp_store_op_t *op);
static ngx_int_t ngx_http_otp_status_wait(ngx_http_otp_status_ctx_t *ctx);
static void ngx_http_otp_status_wake(ngx_http_otp_waiter_t *w, ngx_int_t rc,
    ngx_http_otp_message_t *message);
static void ngx_http_otp_status_timeout(ngx_event_t *ev);
static void ngx_http_otp_status_hold(ngx_http_otp_status_ctx_t *ctx);
static void ngx_http_otp_status_finish(ngx_http_otp_status_ctx_t *ctx,
    ngx_int_t rc);
static ngx_int_t ngx_http_otp_status_answer(ngx_http_otp_status_ctx_t *ctx,
    ngx_http_otp_message_t *m);
static ngx_int_t ngx_http_otp_status_not_found(ngx_http_request_t *r);
static ngx_int_t ngx_http_otp_status_own(ngx_http_request_t *r,
    ngx_http_otp_message_t *m, ngx_str_t *provider);
static void ngx_http_otp_status_cleanup(void *data);


ngx_int_t
ngx_http_otp_status_handler(ngx_http_request_t *r)
{
    ngx_int_t                   rc;
    ngx_str_t                   id;
    ngx_msec_t                  wait;
    ngx_pool_cleanup_t         *cln;
    ngx_http_otp_status_ctx_t  *ctx;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return ngx_http_otp_not_allowed(r, "GET, HEAD",
                                        "Use GET for this endpoint.");
    }

    if (ngx_http_otp_status_wait_arg(r, &wait) != NGX_OK) {
        return ngx_http_otp_error(r, NGX_HTTP_BAD_REQUEST, "invalid_request",
                                  "wait must be a whole number of seconds "
                                  "from 0 to 30.");
    }

    /* no id of ours can look like this one: no need to ask the store */

    if (ngx_http_otp_status_id(r, &id) != NGX_OK) {
        return ngx_http_otp_status_not_found(r);
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_otp_status_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->request = r;
    ctx->id = id.data;
    ctx->id_len = id.len;
    ctx->key_len = ngx_http_otp_app_message_key(ngx_http_otp_get_app(r),
                                                id.data, id.len, ctx->key);
    ctx->wait = wait;

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_otp_status_cleanup;
    cln->data = ctx;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "otp status \"%V\", wait %M ms, ctx %p", &id, wait, ctx);

    rc = wait ? ngx_http_otp_status_wait(ctx) : ngx_http_otp_status_read(ctx);

    if (rc != NGX_DONE) {
        return rc;
    }

    /*
     * The store or a change answers later.  The request is held as
     * ngx_http_upstream_init() holds one (r->main->count++, then NGX_DONE
     * from the content handler), and a client that goes away meanwhile is
     * noticed as ngx_http_limit_req_module.c's delay notices it, so that
     * its waiter is freed at once (by the pool cleanup) and not when the
     * wait ends.  A body still being discarded keeps nginx's own handler,
     * which finalizes the request on a close too.
     */

    r->main->count++;

    if (!r->discard_body) {
        r->read_event_handler = ngx_http_test_reading;

        if (r->connection->read->ready) {
            ngx_post_event(r->connection->read, &ngx_posted_events);

        } else if (ngx_handle_read_event(r->connection->read, 0) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    return NGX_DONE;
}


/*
 * The id: what follows the location's prefix (and one '/'), or, in an
 * exact or regex location, what follows the URI's last '/'.  It must be
 * an id a provider could have given (ngx_otp_wire_answer_t's rule).
 */

static ngx_int_t
ngx_http_otp_status_id(ngx_http_request_t *r, ngx_str_t *id)
{
    u_char                    *p, *last;
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    p = r->uri.data;
    last = r->uri.data + r->uri.len;

    if (!clcf->exact_match
#if (NGX_PCRE)
        && clcf->regex == NULL
#endif
        && clcf->name.len <= r->uri.len
        && ngx_strncmp(r->uri.data, clcf->name.data, clcf->name.len) == 0)
    {
        p += clcf->name.len;

        if (p < last && *p == '/') {
            p++;
        }

    } else {
        while (last > p && last[-1] != '/') {
            last--;
        }

        p = last;
        last = r->uri.data + r->uri.len;
    }

    id->data = p;
    id->len = last - p;

    if (id->len == 0 || id->len > NGX_HTTP_OTP_ID_LEN) {
        return NGX_DECLINED;
    }

    for ( /* void */ ; p < last; p++) {
        if (*p < '!' || *p > '~' || *p == '"' || *p == '\\') {
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


/* ?wait=N: 0..30 whole seconds; absent is 0 */

static ngx_int_t
ngx_http_otp_status_wait_arg(ngx_http_request_t *r, ngx_msec_t *wait)
{
    ngx_int_t  n;
    ngx_str_t  value;

    *wait = 0;

    if (ngx_http_arg(r, (u_char *) "wait", 4, &value) != NGX_OK) {
        return NGX_OK;
    }

    if (value.len == 0 || value.len > 2) {
        return NGX_ERROR;
    }

    n = ngx_atoi(value.data, value.len);

    if (n == NGX_ERROR || n > NGX_HTTP_OTP_STATUS_WAIT_MAX) {
        return NGX_ERROR;
    }

    *wait = (ngx_msec_t) n * 1000;

    return NGX_OK;
}


static ngx_int_t
ngx_http_otp_status_read(ngx_http_otp_status_ctx_t *ctx)
{
    ngx_http_request_t         *r;
    ngx_http_otp_store_op_t    *op;
    ngx_http_otp_main_conf_t   *omcf;

    r = ctx->request;
    omcf = ngx_http_get_module_main_conf(r, ngx_http_otp_module);

    op = ngx_http_otp_op_create(r, NGX_HTTP_OTP_OP_STATUS_GET,
                                ngx_http_otp_status_read_done);
    if (op == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    op->data = ctx;
    op->message_id_len = ctx->key_len;
    ngx_memcpy(op->message_id, ctx->key, ctx->key_len);

    ctx->op = op;

    ngx_http_otp_store_start(&omcf->store, op);

    return NGX_DONE;
}


static void
ngx_http_otp_status_read_done(ngx_http_otp_store_op_t *op)
{
    ngx_int_t                   rc;
    ngx_http_request_t         *r;
    ngx_http_otp_status_ctx_t  *ctx;

    ctx = op->data;
    ctx->op = NULL;
    r = ctx->request;

    /* from the store's event: the request's log context again */
    ngx_http_set_log_request(r->connection->log, r);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "otp status read %p done: status %d",
                   op, (int) op->status);

    switch (op->status) {

    case NGX_HTTP_OTP_STORE_OK:
        rc = ngx_http_otp_status_answer(ctx, &op->message);
        break;

    case NGX_HTTP_OTP_STORE_NOT_FOUND:
        rc = ngx_http_otp_status_not_found(r);
        break;

    default:
        rc = ngx_http_otp_store_unavailable(r);
        break;
    }

    ngx_http_otp_resume(r, rc);
}


/* ?wait=N: join the waiters of the id first, then learn its status */

static ngx_int_t
ngx_http_otp_status_wait(ngx_http_otp_status_ctx_t *ctx)
{
    ngx_int_t                   rc;
    ngx_http_request_t         *r;
    ngx_http_otp_message_t     *m;
    ngx_http_otp_main_conf_t   *omcf;

    r = ctx->request;
    omcf = ngx_http_get_module_main_conf(r, ngx_http_otp_module);

    ctx->waiter.handler = ngx_http_otp_status_wake;
    ctx->waiter.data = ctx;
    ctx->waiter.log = r->connection->log;

    m = NULL;

    rc = ngx_http_otp_wait_add(&omcf->store, &ctx->waiter, ctx->key,
                               ctx->key_len, &m);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_OK) {
        /* known already: a terminal status is final */

        if (ngx_otp_status_terminal(m->status)
            || ngx_http_otp_status_own(r, m, NULL) != NGX_OK)
        {
            rc = ngx_http_otp_status_answer(ctx, m);
            ngx_http_otp_wait_remove(&ctx->waiter);
            return rc;
        }

        ngx_http_otp_status_hold(ctx);
    }

    return NGX_DONE;
}


static void
ngx_http_otp_status_wake(ngx_http_otp_waiter_t *w, ngx_int_t rc,
    ngx_http_otp_message_t *m)
{
    ngx_http_request_t         *r;
    ngx_http_otp_status_ctx_t  *ctx;

    ctx = w->data;
    r = ctx->request;

    ngx_http_set_log_request(r->connection->log, r);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "otp status waiter %p told %i, status %d",
                   w, rc, m ? (int) m->status : -1);

    switch (rc) {

    case NGX_OK:
        if (ngx_otp_status_terminal(m->status)
            || ngx_http_otp_status_own(r, m, NULL) != NGX_OK)
        {
            ngx_http_otp_status_finish(ctx,
                                       ngx_http_otp_status_answer(ctx, m));
            return;
        }

        if (!ctx->waiting) {
            ngx_http_otp_status_hold(ctx);
        }

        return;

    case NGX_DECLINED:
        ngx_http_otp_status_finish(ctx, ngx_http_otp_status_not_found(r));
        return;

    case NGX_ERROR:
        /* a waiter that knows the status waits on with it */
        if (ctx->waiting && m) {
            return;
        }

        ngx_http_otp_status_finish(ctx, ngx_http_otp_store_unavailable(r));
        return;

    default: /* NGX_DONE: the worker is exiting */
        ngx_http_otp_status_finish(ctx,
                                   m ? ngx_http_otp_status_answer(ctx, m)
                                     : ngx_http_otp_store_unavailable(r));
        return;
    }
}


static void
ngx_http_otp_status_hold(ngx_http_otp_status_ctx_t *ctx)
{
    ctx->timer.handler = ngx_http_otp_status_timeout;
    ctx->timer.data = ctx;
    ctx->timer.log = ctx->request->connection->log;

    ngx_add_timer(&ctx->timer, ctx->wait);

    ctx->waiting = 1;
}


/* N seconds passed: the status as it is now (the registry keeps it) */

static void
ngx_http_otp_status_timeout(ngx_event_t *ev)
{
    ngx_http_request_t         *r;
    ngx_http_otp_message_t     *m;
    ngx_http_otp_status_ctx_t  *ctx;

    ctx = ev->data;
    r = ctx->request;

    ngx_http_set_log_request(r->connection->log, r);

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "otp status waiter %p: wait over", &ctx->waiter);

    m = ngx_http_otp_wait_message(&ctx->waiter);

    ngx_http_otp_status_finish(ctx, m ? ngx_http_otp_status_answer(ctx, m)
                                      : ngx_http_otp_store_unavailable(r));
}


/* the answer is sent (rc its result): the waiter goes, the request ends */

static void
ngx_http_otp_status_finish(ngx_http_otp_status_ctx_t *ctx, ngx_int_t rc)
{
    ngx_http_otp_wait_remove(&ctx->waiter);

    if (ctx->timer.timer_set) {
        ngx_del_timer(&ctx->timer);
    }

    ngx_http_otp_resume(ctx->request, rc);
}


static ngx_int_t
ngx_http_otp_status_answer(ngx_http_otp_status_ctx_t *ctx,
    ngx_http_otp_message_t *m)
{
    u_char              *body, *p;
    size_t               len, i;
    ngx_tm_t             tm;
    ngx_str_t            name, next, prev;
    ngx_http_otp_app_t  *app;
    ngx_uint_t           number;
    const char          *status;
    ngx_http_request_t  *r;

    r = ctx->request;

    /* a message of another app on this nginx is not this app's to show */

    if (ngx_http_otp_status_own(r, m, &name) != NGX_OK) {
        return ngx_http_otp_status_not_found(r);
    }

    /* the fallback's links, as the store keeps them: the app's keys */

    app = ngx_http_otp_get_app(r);

    if (ngx_http_otp_app_message_id(app, m->next, m->next_len, &next)
        != NGX_OK)
    {
        ngx_str_null(&next);
    }

    if (ngx_http_otp_app_message_id(app, m->prev, m->prev_len, &prev)
        != NGX_OK)
    {
        ngx_str_null(&prev);
    }

    status = ngx_otp_status_name(m->status);

    if (status == NULL) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "otp: message %*s has an unknown status %ui in the "
                      "store", ctx->id_len, ctx->id, m->status);
        return ngx_http_otp_store_unavailable(r);
    }

    /* a provider's error code: a number when it is one, text otherwise */

    number = m->error_code_len > 0
             && m->error_code_len <= NGX_HTTP_OTP_STATUS_NUMBER_MAX
             && (m->error_code[0] != '0' || m->error_code_len == 1);

    for (i = 0; number && i < m->error_code_len; i++) {
        if (m->error_code[i] < '0' || m->error_code[i] > '9') {
            number = 0;
        }
    }

    /* what the store holds is escaped: only the URI's id was checked */

    len = sizeof("{\"message_id\":\"\",\"status\":\"\",\"channel\":\"\","
                 "\"provider\":\"\",\"error_code\":\"\",\"updated_at\":"
                 "\"1970-01-01T00:00:00Z\",\"next_message_id\":\"\","
                 "\"previous_message_id\":\"\"}") - 1
          + ctx->id_len + sizeof("undelivered") - 1 + sizeof("whatsapp") - 1
          + 2 * name.len
          + 2 * m->error_code_len + 2 * next.len + 2 * prev.len
          + ngx_escape_json(NULL, name.data, name.len)
          + ngx_escape_json(NULL, m->error_code, m->error_code_len)
          + ngx_escape_json(NULL, next.data, next.len)
          + ngx_escape_json(NULL, prev.data, prev.len)
          + NGX_INT64_LEN;

    body = ngx_pnalloc(r->pool, len);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_sprintf(body, "{\"message_id\":\"%*s\",\"status\":\"%s\","
                    "\"channel\":\"%s\",\"provider\":\"",
                    ctx->id_len, ctx->id, status,
                    ngx_otp_channel_name(m->channel));
    p = (u_char *) ngx_escape_json(p, name.data, name.len);

    p = ngx_cpymem(p, "\",\"error_code\":", sizeof("\",\"error_code\":") - 1);

    if (m->error_code_len == 0) {
        p = ngx_cpymem(p, "null", 4);

    } else if (number) {
        p = ngx_cpymem(p, m->error_code, m->error_code_len);

    } else {
        *p++ = '"';
        p = (u_char *) ngx_escape_json(p, m->error_code, m->error_code_len);
        *p++ = '"';
    }

    ngx_gmtime((time_t) (m->updated / 1000), &tm);

    p = ngx_sprintf(p, ",\"updated_at\":\"%4d-%02d-%02dT%02d:%02d:%02dZ\"",
                    tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                    tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec);

    /* the fallback's link: where the code went next, or came from */

    if (next.len) {
        p = ngx_cpymem(p, ",\"next_message_id\":\"",
                       sizeof(",\"next_message_id\":\"") - 1);
        p = (u_char *) ngx_escape_json(p, next.data, next.len);
        *p++ = '"';
    }

    if (prev.len) {
        p = ngx_cpymem(p, ",\"previous_message_id\":\"",
                       sizeof(",\"previous_message_id\":\"") - 1);
        p = (u_char *) ngx_escape_json(p, prev.data, prev.len);
        *p++ = '"';
    }

    *p++ = '}';

    return ngx_http_otp_json(r, NGX_HTTP_OK, body, p - body);
}


/*
 * A record is this app's when its provider is (ngx_http_otp_app.c): an id
 * another app's record is under, asked for by its full key, is no
 * message here.
 */

static ngx_int_t
ngx_http_otp_status_own(ngx_http_request_t *r, ngx_http_otp_message_t *m,
    ngx_str_t *provider)
{
    ngx_str_t  name;

    return ngx_http_otp_app_provider(ngx_http_otp_get_app(r), m->provider,
                                     m->provider_len,
                                     provider ? provider : &name);
}


static ngx_int_t
ngx_http_otp_status_not_found(ngx_http_request_t *r)
{
    return ngx_http_otp_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                              "No message with this id is known.");
}


/* the request is gone, answered or not: nothing of it stays behind */

static void
ngx_http_otp_status_cleanup(void *data)
{
    ngx_http_otp_status_ctx_t *ctx = data;

    if (ctx->op || ctx->waiter.node) {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ctx->request->connection->log, 0,
                       "otp status request gone: cancel op %p, waiter %p",
                       ctx->op, ctx->waiter.node ? &ctx->waiter : NULL);
    }

    if (ctx->op) {
        ngx_http_otp_store_op_cancel(ctx->op);
        ctx->op = NULL;
    }

    ngx_http_otp_wait_remove(&ctx->waiter);

    if (ctx->timer.timer_set) {
        ngx_del_timer(&ctx->timer);
    }
}
