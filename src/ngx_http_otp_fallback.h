
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
 * Called by the webhook handler from a STATUS_SET op's handler when the
 * op handed out a fallback blob (op->fallback_len > 0): copies what it
 * needs of op (message_id, fallback, phone_key) and runs detached from
 * any request, logging to log's cycle.  The op is the caller's still.
 */
void ngx_http_otp_fallback_start(ngx_http_otp_store_op_t *op,
    ngx_log_t *log);


#endif /* _NGX_HTTP_OTP_FALLBACK_H_INCLUDED_ */
