/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * The Redis store's scripts, as its two files share them: the store
 * (ngx_http_otp_store_redis.c) sends them, and the reply reader
 * (ngx_http_otp_store_redis_reply.c) reads their answers.
 */


#ifndef _NGX_HTTP_OTP_STORE_REDIS_REPLY_H_INCLUDED_
#define _NGX_HTTP_OTP_STORE_REDIS_REPLY_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <hiredis/hiredis.h>

#include "ngx_http_otp_store.h"


/* in the order of src/lua/, as ngx_http_otp_redis_scripts[] lists them */
typedef enum {
    NGX_HTTP_OTP_REDIS_ISSUE = 0,
    NGX_HTTP_OTP_REDIS_VERIFY,
    NGX_HTTP_OTP_REDIS_BUDGET,
    NGX_HTTP_OTP_REDIS_MESSAGE_PUT,
    NGX_HTTP_OTP_REDIS_REVOKE,
    NGX_HTTP_OTP_REDIS_MESSAGE_LINK,
    NGX_HTTP_OTP_REDIS_STATUS_SET,
    NGX_HTTP_OTP_REDIS_STATUS_GET,
    NGX_HTTP_OTP_REDIS_OPTOUT,
    NGX_HTTP_OTP_REDIS_CODE_LIVE,
    NGX_HTTP_OTP_REDIS_SEEN,
    NGX_HTTP_OTP_REDIS_CLIENT,          /* Redis Cluster: ISSUE's client */
    NGX_HTTP_OTP_REDIS_ANALYTICS,       /* ANALYTICS_GET */
    NGX_HTTP_OTP_REDIS_ANALYTICS_ADD,   /* Redis Cluster: the counters */
    NGX_HTTP_OTP_REDIS_NSCRIPTS
} ngx_http_otp_redis_script_e;


/*
 * Reads a script's reply into op: NGX_OK, or NGX_ERROR for an unexpected
 * reply (op->status may then be set; the caller answers UNAVAILABLE).
 */
ngx_int_t ngx_http_otp_redis_result(ngx_http_otp_store_op_t *op,
    ngx_uint_t script, redisReply *reply);


#endif /* _NGX_HTTP_OTP_STORE_REDIS_REPLY_H_INCLUDED_ */
