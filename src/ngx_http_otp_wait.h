
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * The per-worker registry of requests waiting for a message's status to
 * change (GET /otp/status/{id}?wait=N).  Waiters are kept by message id
 * in an rbtree (keyed by a hash of the id, one queue of waiters per id);
 * the store's watch() tells which ids changed, and one STATUS_GET per
 * changed id (never per waiter) tells all of that id's waiters.
 *
 * A waiter joins BEFORE anything of its id is read, so that a change
 * announced between the read and the wait is not missed: the first
 * STATUS_GET of an id is the registry's own, started after the watch.
 */


#ifndef _NGX_HTTP_OTP_WAIT_H_INCLUDED_
#define _NGX_HTTP_OTP_WAIT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_otp_store.h"


typedef struct ngx_http_otp_waiter_s  ngx_http_otp_waiter_t;

/*
 * What the registry learnt of a waiter's message, from the event loop:
 *   NGX_OK        message is the record as it is now
 *   NGX_DECLINED  there is no such record (message NULL)
 *   NGX_ERROR     the store could not be read: message is the last known
 *                 record, or NULL when none was ever read
 *   NGX_DONE      the worker is shutting down: answer now (message as
 *                 with NGX_ERROR)
 * The handler may remove the waiter (and finalize its request); a waiter
 * that stays is told again at the next change.
 */
typedef void (*ngx_http_otp_wait_pt)(ngx_http_otp_waiter_t *w, ngx_int_t rc,
    ngx_http_otp_message_t *message);


struct ngx_http_otp_waiter_s {
    ngx_queue_t                     queue;
    void                           *node;         /* the registry's */
    ngx_http_otp_wait_pt            handler;
    void                           *data;
    ngx_log_t                      *log;
};


/*
 * Adds w (handler, data and log set) as a waiter for id.  NGX_OK: the
 * record is known already, *message is it (the handler is not called for
 * it); NGX_AGAIN: the handler is called once it is read; NGX_ERROR: out
 * of memory (w is not added).
 */
ngx_int_t ngx_http_otp_wait_add(ngx_http_otp_store_conf_t *scf,
    ngx_http_otp_waiter_t *w, u_char *id, size_t len,
    ngx_http_otp_message_t **message);

/* removes w; harmless for a waiter not (or no longer) added */
void ngx_http_otp_wait_remove(ngx_http_otp_waiter_t *w);

/* the last record read for w's id, or NULL */
ngx_http_otp_message_t *ngx_http_otp_wait_message(ngx_http_otp_waiter_t *w);


#endif /* _NGX_HTTP_OTP_WAIT_H_INCLUDED_ */
