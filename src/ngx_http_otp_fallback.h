
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * Fallback on failed delivery (otp_fallback): a failed or undelivered
 * report for a message that carried a sealed copy of its code sends the
 * same code, once, by the next channel of the chain it was sent from.
 */


#ifndef _NGX_HTTP_OTP_FALLBACK_H_INCLUDED_
#define _NGX_HTTP_OTP_FALLBACK_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_otp_store.h"


/*
 * At send (otp_fallback on): seals rec, what the next channel of the
 * chain needs, into op->fallback (aad: op's message_id, which must be
 * set).  NGX_OK; NGX_DECLINED when it does not fit
 * NGX_HTTP_OTP_FALLBACK_MAX; NGX_ERROR.  The plain copy made here is
 * wiped; rec is the caller's to wipe.
 */
ngx_int_t ngx_http_otp_fallback_seal(ngx_str_t *secret,
    ngx_otp_fallback_record_t *rec, ngx_http_otp_store_op_t *op);

/*
 * Called by the webhook handler from a STATUS_SET op's handler when the
 * op handed out a fallback blob (op->fallback_len > 0): copies what it
 * needs of op (message_id, fallback, phone_key) and runs detached from
 * any request, logging to log's cycle.  The op is the caller's still.
 * app is the webhook's server's: its secret opens the blob, its
 * providers send.
 */
void ngx_http_otp_fallback_start(ngx_http_otp_store_op_t *op,
    ngx_http_otp_app_t *app, ngx_log_t *log);

/* exit_process: fallbacks still under way are cancelled and wiped */
void ngx_http_otp_fallback_exit(ngx_cycle_t *cycle);


#endif /* _NGX_HTTP_OTP_FALLBACK_H_INCLUDED_ */
