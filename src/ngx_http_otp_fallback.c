
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * PLACEHOLDER until the fallback lands (issue 7, item 6): logs only.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_otp_fallback.h"


void
ngx_http_otp_fallback_start(ngx_http_otp_store_op_t *op, ngx_log_t *log)
{
    ngx_log_error(NGX_LOG_NOTICE, log, 0,
                  "otp: message %*s failed; fallback not built yet",
                  op->message_id_len, op->message_id);
}
