
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * The store port: operation life cycle shared by the backends.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_otp_store.h"
#include "ngx_http_otp_metrics.h"


ngx_http_otp_store_op_t *
ngx_http_otp_store_op_create(ngx_log_t *log)
{
    ngx_http_otp_store_op_t  *op;

    op = ngx_calloc(sizeof(ngx_http_otp_store_op_t), log);
    if (op == NULL) {
        return NULL;
    }

    op->log = log;
    op->event.data = op;
    op->event.log = log;
    op->status = NGX_HTTP_OTP_STORE_UNAVAILABLE;

    return op;
}


void
ngx_http_otp_store_start(ngx_http_otp_store_conf_t *scf,
    ngx_http_otp_store_op_t *op)
{
    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, op->log, 0,
                   "otp store: %s op %d start: %p",
                   scf->backend->name, (int) op->type, op);

    op->start = ngx_current_msec;
    op->retention = scf->analytics_retention;

    scf->backend->start(scf, op);
}


void
ngx_http_otp_store_op_cancel(ngx_http_otp_store_op_t *op)
{
    /*
     * The request's log goes with its connection: anything the backend
     * still logs for this operation goes to the cycle's log instead.
     */

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, op->log, 0,
                   "otp store: op %d cancel: %p", (int) op->type, op);

    op->cancelled = 1;
    op->data = NULL;
    op->log = ngx_cycle->log;
    op->event.log = ngx_cycle->log;
}


void
ngx_http_otp_store_op_finish(ngx_http_otp_store_op_t *op)
{
    if (op->event.timer_set) {
        ngx_del_timer(&op->event);
    }

    if (op->event.posted) {
        ngx_delete_posted_event(&op->event);
    }

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, op->log, 0,
                   "otp store: op %d finish: %p, status %d%s",
                   (int) op->type, op, (int) op->status,
                   op->cancelled ? ", cancelled" : "");

    ngx_http_otp_metrics_store(op);

    if (!op->cancelled && op->handler) {
        op->handler(op);
    }

    /* a fallback blob holds a message text: the code, sealed or not */
    ngx_explicit_memzero(op->fallback, NGX_HTTP_OTP_FALLBACK_MAX);

    if (op->rows) {
        ngx_free(op->rows);
    }

    ngx_free(op);
}
