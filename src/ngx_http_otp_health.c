
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * otp_health: GET answers whether this nginx can serve OTPs, for load
 * balancers and uptime checks.
 *
 * The store is asked for real: a status read of a message id that is
 * never written (the app's key of "#otp-health-probe"), timed from start
 * to answer.
 * NOT_FOUND (or a record, which cannot be) means the store answered;
 * UNAVAILABLE means it did not, and the answer is 503 "down": without
 * its store this nginx can neither send nor verify, and a load balancer
 * should send the users elsewhere.
 *
 * The providers' figures come from the window of recent outcomes
 * (ngx_http_otp_alert.c).  A provider over the alert's threshold makes
 * the status "degraded" but the answer stays 200: every nginx shares the
 * same providers, so a load balancer that took this one out for it would
 * take them all out, for a fault no instance can fix, and lose the
 * verifications that still work and the fallbacks that route around it.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_otp_module.h"
#include "ngx_http_otp_directives.h"
#include "ngx_http_otp_app.h"
#include "ngx_http_otp_request.h"
#include "ngx_http_otp_alert.h"
#include "ngx_http_otp_health.h"


/* an id never written: the probe only reads */
#define NGX_HTTP_OTP_HEALTH_ID      "#otp-health-probe"

/* a provider's object: names, channels, figures, one time */
#define NGX_HTTP_OTP_HEALTH_ITEM    (256 + 6 * NGX_HTTP_OTP_PROVIDER_NAME_MAX)


typedef struct {
    ngx_http_request_t             *request;
    ngx_http_otp_store_op_t        *op;
    ngx_msec_t                      start;
} ngx_http_otp_health_ctx_t;


static ngx_int_t ngx_http_otp_health_handler(ngx_http_request_t *r);
static void ngx_http_otp_health_done(ngx_http_otp_store_op_t *op);
static ngx_int_t ngx_http_otp_health_answer(ngx_http_request_t *r,
    ngx_uint_t store_ok, ngx_msec_t latency);
static u_char *ngx_http_otp_health_time(u_char *p, time_t t);
static void ngx_http_otp_health_cleanup(void *data);


char *
ngx_http_otp_health_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_otp_loc_conf_t *olcf = conf;

    char  *rv;

    if (olcf->handler || olcf->logout) {
        return "is duplicate";
    }

    if (ngx_http_otp_alert_want(cf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    /* a check is the operator's to protect (allow, deny), as a scrape
     * is: no otp_gate inherited from the server gets in its way */
    if (olcf->gate == NGX_CONF_UNSET) {
        olcf->gate = 0;
    }

    rv = ngx_http_otp_content_handler(cf, ngx_http_otp_health_handler);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    /* the store and the server's app, as any otp handler needs them */
    ngx_http_otp_app_used(cf);

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_otp_health_handler(ngx_http_request_t *r)
{
    ngx_int_t                   rc;
    ngx_pool_cleanup_t         *cln;
    ngx_http_otp_store_op_t    *op;
    ngx_http_otp_health_ctx_t  *ctx;
    ngx_http_otp_main_conf_t   *omcf;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return ngx_http_otp_not_allowed(r, "GET, HEAD",
                                        "Use GET for this endpoint.");
    }

    omcf = ngx_http_get_module_main_conf(r, ngx_http_otp_module);

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_otp_health_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->request = r;

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_otp_health_cleanup;
    cln->data = ctx;

    op = ngx_http_otp_op_create(r, NGX_HTTP_OTP_OP_STATUS_GET,
                                ngx_http_otp_health_done);
    if (op == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    op->data = ctx;
    op->message_id_len = ngx_http_otp_app_message_key(
                             ngx_http_otp_get_app(r),
                             (u_char *) NGX_HTTP_OTP_HEALTH_ID,
                             sizeof(NGX_HTTP_OTP_HEALTH_ID) - 1,
                             op->message_id);

    ctx->op = op;
    ctx->start = ngx_current_msec;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "otp health: store probe %p", op);

    ngx_http_otp_store_start(&omcf->store, op);

    /*
     * Held as ngx_http_otp_status.c holds a read: r->main->count++ and
     * NGX_DONE; a client that goes away is noticed as
     * ngx_http_limit_req_module.c's delay notices it, and the pool
     * cleanup cancels the probe.
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


static void
ngx_http_otp_health_done(ngx_http_otp_store_op_t *op)
{
    ngx_int_t                   rc;
    ngx_uint_t                  ok;
    ngx_http_request_t         *r;
    ngx_http_otp_health_ctx_t  *ctx;

    ctx = op->data;
    ctx->op = NULL;
    r = ctx->request;

    /* from the store's event: the request's log context again */
    ngx_http_set_log_request(r->connection->log, r);

    ok = (op->status == NGX_HTTP_OTP_STORE_NOT_FOUND
          || op->status == NGX_HTTP_OTP_STORE_OK);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "otp health: store probe %p done: status %d, %M ms",
                   op, (int) op->status, ngx_current_msec - ctx->start);

    rc = ngx_http_otp_health_answer(r, ok, ngx_current_msec - ctx->start);

    ngx_http_otp_resume(r, rc);
}


static ngx_int_t
ngx_http_otp_health_answer(ngx_http_request_t *r, ngx_uint_t store_ok,
    ngx_msec_t latency)
{
    u_char                        *p, *body;
    size_t                         len, hlen;
    ngx_uint_t                     i, c, n, rate, degraded, first;
    ngx_http_otp_app_t            *app;
    ngx_http_otp_provider_t       *pr;
    ngx_http_otp_main_conf_t      *omcf;
    ngx_http_otp_alert_figures_t   f;
    u_char                         head[32];

    static const unsigned  channels[] = {
        NGX_OTP_SMS, NGX_OTP_WHATSAPP, NGX_OTP_VOICE
    };

    omcf = ngx_http_get_module_main_conf(r, ngx_http_otp_module);
    app = ngx_http_otp_get_app(r);

    pr = app->providers.elts;
    n = app->providers.nelts;

    len = 256 + n * NGX_HTTP_OTP_HEALTH_ITEM;

    body = ngx_pnalloc(r->pool, len);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the status is known once the providers are read: written last */

    p = ngx_sprintf(body + 32, "\"store\":{\"ok\":%s,",
                    store_ok ? "true" : "false");

    if (store_ok) {
        p = ngx_sprintf(p, "\"latency_ms\":%M,", latency);
    }

    p = ngx_sprintf(p, "\"backend\":\"%s\"},\"window_s\":%ui,"
                    "\"providers\":[",
                    omcf->store.backend == &ngx_http_otp_store_shm_backend
                    ? "shm" : "redis",
                    ngx_http_otp_alert_window());

    degraded = 0;

    for (i = 0; i < n; i++) {
        if (i) {
            *p++ = ',';
        }

        p = ngx_cpymem(p, "{\"name\":\"", 9);
        p = (u_char *) ngx_escape_json(p, pr[i].name.data,
                                ngx_min(pr[i].name.len,
                                        NGX_HTTP_OTP_PROVIDER_NAME_MAX));
        p = ngx_cpymem(p, "\",\"channels\":[", 14);

        first = 1;

        for (c = 0; c < sizeof(channels) / sizeof(channels[0]); c++) {
            if (pr[i].channels & channels[c]) {
                p = ngx_sprintf(p, "%s\"%s\"", first ? "" : ",",
                                ngx_otp_channel_name(channels[c]));
                first = 0;
            }
        }

        *p++ = ']';

        if (ngx_http_otp_alert_provider(&pr[i], &f) != NGX_OK) {
            p = ngx_cpymem(p, ",\"attempts\":0,\"success_rate\":null,"
                           "\"last_error\":null,\"last_error_at\":null}",
                           sizeof(",\"attempts\":0,\"success_rate\":null,"
                           "\"last_error\":null,\"last_error_at\":null}")
                           - 1);
            continue;
        }

        degraded |= f.over;

        p = ngx_sprintf(p, ",\"attempts\":%ui,\"failures\":%ui,",
                        f.attempts, f.failures);

        if (f.attempts) {
            rate = (ngx_uint_t) ((uint64_t) (f.attempts
                                             - ngx_min(f.failures,
                                                       f.attempts))
                                 * 10000 / f.attempts);
            p = ngx_sprintf(p, "\"success_rate\":%ui.%02ui,", rate / 100,
                            rate % 100);

        } else {
            p = ngx_cpymem(p, "\"success_rate\":null,",
                           sizeof("\"success_rate\":null,") - 1);
        }

        if (f.last_error) {
            p = ngx_sprintf(p, "\"last_error\":\"%s\",\"last_error_at\":",
                            f.last_error);
            p = ngx_http_otp_health_time(p, f.last_error_at);

        } else {
            p = ngx_cpymem(p, "\"last_error\":null,\"last_error_at\":null",
                           sizeof("\"last_error\":null,"
                                  "\"last_error_at\":null") - 1);
        }

        p = ngx_sprintf(p, ",\"alert\":%s}", f.firing ? "true" : "false");
    }

    *p++ = ']';
    *p++ = '}';

    /* the head, right before the rest */

    hlen = ngx_sprintf(head, "{\"status\":\"%s\",",
                       !store_ok ? "down" : degraded ? "degraded" : "ok")
           - head;

    ngx_memcpy(body + 32 - hlen, head, hlen);
    body += 32 - hlen;

    /* ngx_http_otp_json() adds Cache-Control: no-store: a check's answer
     * is now's */

    return ngx_http_otp_json(r, store_ok ? NGX_HTTP_OK
                                         : NGX_HTTP_SERVICE_UNAVAILABLE,
                             body, p - body);
}


static u_char *
ngx_http_otp_health_time(u_char *p, time_t t)
{
    ngx_tm_t  tm;

    ngx_gmtime(t, &tm);

    return ngx_sprintf(p, "\"%4d-%02d-%02dT%02d:%02d:%02dZ\"",
                       tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                       tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec);
}


/* the request is gone, answered or not: the probe goes with it */

static void
ngx_http_otp_health_cleanup(void *data)
{
    ngx_http_otp_health_ctx_t *ctx = data;

    if (ctx->op) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ctx->request->connection->log, 0,
                       "otp health request gone: cancel probe %p", ctx->op);

        ngx_http_otp_store_op_cancel(ctx->op);
        ctx->op = NULL;
    }
}
